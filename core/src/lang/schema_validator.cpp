// valijson reports errors as (context path, English description) pairs, many
// of them aggregates of the real cause ("failed to validate against child
// schema"). This file keeps the leaf causes, rewrites them in the author's
// terms using the schema itself (allowed keys, expected types, what a pattern
// means) and places each at the YAML node it concerns.
#include "schema_validator.hpp"

#include "yaml_source.hpp"

#include <boost/json.hpp>
#include <map>
#include <memory>
#include <set>
#include <valijson/adapters/boost_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

namespace cascade::lang::detail {

extern const std::string_view kWorkflowSchemaText;

namespace {

struct PatternMeaning {
    std::string_view pattern;
    std::string_view what;
    std::string_view hint;
};

// What each pattern in the schema means, in the author's words.
constexpr PatternMeaning kPatternMeanings[] = {
    {"^[a-z][a-z0-9_]*$", "a valid name",
     "names use lower-case letters, digits and '_', starting with a letter (e.g. reading_class)"},
    {"^[a-z][a-z0-9-]*$", "a valid workflow id",
     "workflow ids use lower-case letters, digits and '-', starting with a letter"},
    {"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", "a date", "write dates as YYYY-MM-DD, e.g. 2023-12-15"},
    {"^(P[0-9]+[DW]|[0-9]+ ?(days?|weeks?|working days?|workdays?|个工作日|工作日|天|周))$", "a duration",
     "write durations as P7D, P2W, 3 days, 2 weeks or 10 working days"},
    {"^(parent\\.)*[a-z][a-z0-9_]*$", "a role reference",
     "name a role of the unit (leader) or of a unit above it (parent.leader)"},
    {"^[0-9]+(ms|s|m|h)$", "a time span", "write 500ms, 30s, 5m or 1h"},
    {"^[0-9a-f]{64}$", "a SHA-256 digest", "64 lower-case hexadecimal digits, as printed by sha256sum"},
    {"^[0-9]{1,3}%$", "a percentage", "write a share of children as e.g. 80%"},
    {"^[a-z0-9]+$", "a file extension", "lower-case letters and digits without the dot, e.g. pdf"},
};

const PatternMeaning* MeaningOf(std::string_view pattern) {
    for (const auto& meaning : kPatternMeanings) {
        if (meaning.pattern == pattern) {
            return &meaning;
        }
    }
    return nullptr;
}

const boost::json::value* Resolve(const boost::json::value* schema) {
    const boost::json::value& root = WorkflowSchemaJson();
    for (int hops = 0; schema != nullptr && schema->is_object() && hops < 16; ++hops) {
        const auto* ref = schema->as_object().if_contains("$ref");
        if (ref == nullptr || !ref->is_string()) {
            break;
        }
        std::string_view target = ref->as_string();
        if (target.rfind("#/definitions/", 0) != 0) {
            break;
        }
        const auto* definitions = root.as_object().if_contains("definitions");
        schema = definitions != nullptr ? definitions->as_object().if_contains(target.substr(14)) : nullptr;
    }
    return schema;
}

// A schema and all the alternatives it allows (oneOf/anyOf branches), $refs resolved.
void Expand(const boost::json::value* schema, std::vector<const boost::json::value*>& out) {
    schema = Resolve(schema);
    if (schema == nullptr || !schema->is_object()) {
        return;
    }
    out.push_back(schema);
    for (const char* combinator : {"oneOf", "anyOf"}) {
        if (const auto* branches = schema->as_object().if_contains(combinator); branches && branches->is_array()) {
            for (const auto& branch : branches->as_array()) {
                Expand(&branch, out);
            }
        }
    }
}

std::vector<const boost::json::value*> SchemasAt(const std::vector<std::string>& context) {
    std::vector<const boost::json::value*> current;
    Expand(&WorkflowSchemaJson(), current);
    for (std::size_t i = 1; i < context.size(); ++i) {
        const std::string key = context[i].substr(1, context[i].size() - 2);
        std::vector<const boost::json::value*> next;
        for (const auto* schema : current) {
            const auto& object = schema->as_object();
            if (const auto* properties = object.if_contains("properties")) {
                if (const auto* property = properties->as_object().if_contains(key)) {
                    Expand(property, next);
                    continue;
                }
            }
            if (const auto* additional = object.if_contains("additionalProperties");
                additional != nullptr && additional->is_object()) {
                Expand(additional, next);
            }
            if (const auto* items = object.if_contains("items"); items != nullptr && items->is_object()) {
                Expand(items, next);
            }
        }
        current = std::move(next);
    }
    return current;
}

std::string JsonKind(const boost::json::value* value) {
    if (value == nullptr) {
        return "nothing";
    }
    switch (value->kind()) {
    case boost::json::kind::null:
        return "nothing";
    case boost::json::kind::bool_:
        return "true/false";
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
        return "a whole number";
    case boost::json::kind::double_:
        return "a number";
    case boost::json::kind::string:
        return "text";
    case boost::json::kind::array:
        return "a list";
    case boost::json::kind::object:
        return "a mapping";
    }
    return "a value";
}

std::string TypeWord(std::string_view type) {
    if (type == "string")
        return "text";
    if (type == "integer")
        return "a whole number";
    if (type == "number")
        return "a number";
    if (type == "boolean")
        return "true/false";
    if (type == "array")
        return "a list";
    if (type == "object")
        return "a mapping";
    if (type == "null")
        return "nothing";
    return std::string(type);
}

std::string ExpectedTypes(const std::vector<const boost::json::value*>& schemas) {
    std::vector<std::string> words;
    auto add = [&words](std::string word) {
        if (std::find(words.begin(), words.end(), word) == words.end()) {
            words.push_back(std::move(word));
        }
    };
    for (const auto* schema : schemas) {
        const auto& object = schema->as_object();
        if (const auto* type = object.if_contains("type")) {
            if (type->is_string()) {
                add(TypeWord(type->as_string()));
            } else if (type->is_array()) {
                for (const auto& item : type->as_array()) {
                    add(TypeWord(item.as_string()));
                }
            }
        }
        if (object.contains("enum") || object.contains("const")) {
            add("text");
        }
    }
    std::string joined;
    for (std::size_t i = 0; i < words.size(); ++i) {
        joined += (i == 0 ? "" : (i + 1 == words.size() ? " or " : ", ")) + words[i];
    }
    return joined.empty() ? std::string("a different value") : joined;
}

const boost::json::value* JsonAt(const boost::json::value& document, const std::vector<std::string>& context) {
    const boost::json::value* current = &document;
    for (std::size_t i = 1; i < context.size() && current != nullptr; ++i) {
        const std::string key = context[i].substr(1, context[i].size() - 2);
        if (current->is_object()) {
            current = current->as_object().if_contains(key);
        } else if (current->is_array()) {
            char* end = nullptr;
            const unsigned long index = std::strtoul(key.c_str(), &end, 10);
            current =
                (end != key.c_str() && index < current->as_array().size()) ? &current->as_array()[index] : nullptr;
        } else {
            current = nullptr;
        }
    }
    return current;
}

std::string Where(const std::vector<std::string>& context) {
    if (context.size() <= 1) {
        return "the workflow";
    }
    std::string path;
    for (std::size_t i = 1; i < context.size(); ++i) {
        const std::string key = context[i].substr(1, context[i].size() - 2);
        const bool index =
            !key.empty() && std::all_of(key.begin(), key.end(), [](char c) { return c >= '0' && c <= '9'; });
        if (index) {
            path += "[" + key + "]";
        } else {
            path += (path.empty() ? "" : ".") + key;
        }
    }
    return "'" + path + "'";
}

std::string QuoteValue(const boost::json::value* value) {
    if (value == nullptr) {
        return "''";
    }
    if (value->is_string()) {
        return "'" + std::string(value->as_string()) + "'";
    }
    return "'" + boost::json::serialize(*value) + "'";
}

bool StartsWith(std::string_view text, std::string_view prefix) {
    return text.rfind(prefix, 0) == 0;
}

// Aggregate messages that only say "something below failed"; their causes are reported instead.
bool IsAggregate(std::string_view description) {
    return StartsWith(description, "Failed to validate against schema associated with property") ||
           StartsWith(description, "Failed to validate item #") ||
           StartsWith(description, "Failed to validate against child schema") ||
           StartsWith(description, "Failed to validate against any schemas allowed by anyOf") ||
           StartsWith(description, "Failed to validate against exactly one child schema") ||
           StartsWith(description, "Failed to validate against any child schemas allowed by oneOf") ||
           StartsWith(description, "Failed to validate value against any schemas allowed by") ||
           StartsWith(description, "Failed to validate against additional properties schema") ||
           StartsWith(description, "Failed to validate against schema referenced") ||
           StartsWith(description, "Failed to validate against dependent schema") ||
           StartsWith(description, "Failed to validate against a conditional schema");
}

std::string ExtractQuoted(std::string_view description) {
    const std::size_t end = description.rfind('\'');
    const std::size_t start = end == std::string_view::npos ? end : description.rfind('\'', end - 1);
    if (start == std::string_view::npos || end == std::string_view::npos || start == end) {
        return {};
    }
    return std::string(description.substr(start + 1, end - start - 1));
}

struct Translated {
    std::string code;
    SourceLocation location;
    std::string message;
    std::string hint;
};

class Translator {
public:
    Translator(const boost::json::value& document, const YAML::Node& root, const std::string& file)
        : document_(document), root_(root), file_(file) {}

    std::optional<Translated> Translate(const valijson::ValidationResults::Error& error) {
        const auto& context = error.context;
        const std::string& description = error.description;
        const YAML::Node node = FindByContext(root_, context);
        const SourceLocation location = LocationOf(node, file_);
        const boost::json::value* value = JsonAt(document_, context);
        const auto schemas = SchemasAt(context);

        if (StartsWith(description, "Object contains a property that could not be validated")) {
            const std::string key = ExtractQuoted(description);
            std::vector<std::string> allowed;
            for (const auto* schema : schemas) {
                if (const auto* properties = schema->as_object().if_contains("properties")) {
                    for (const auto& property : properties->as_object()) {
                        allowed.emplace_back(property.key());
                    }
                }
            }
            const auto key_node = FindKeyNode(node, key);
            std::string hint = DidYouMean(key, allowed);
            if (hint.empty() && !allowed.empty() && allowed.size() <= 12) {
                std::string list;
                for (const auto& name : allowed) {
                    list += (list.empty() ? "" : ", ") + name;
                }
                hint = "allowed here: " + list;
            }
            return Translated{"unknown-key", key_node ? LocationOf(*key_node, file_) : location,
                              "unknown key '" + key + "' in " + Where(context), hint};
        }
        if (StartsWith(description, "Missing required property")) {
            const std::string key = ExtractQuoted(description);
            return Translated{
                "missing-key", location, Where(context) + " is missing the required key '" + key + "'", {}};
        }
        if (StartsWith(description, "Value type not permitted")) {
            return Translated{"wrong-type",
                              location,
                              Where(context) + " must be " + ExpectedTypes(schemas) + ", not " + JsonKind(value),
                              {}};
        }
        if (StartsWith(description, "Failed to match regex")) {
            std::vector<std::string> patterns;
            for (const auto* schema : schemas) {
                if (const auto* pattern = schema->as_object().if_contains("pattern"); pattern && pattern->is_string()) {
                    patterns.emplace_back(pattern->as_string());
                }
                // Mapping keys are checked through propertyNames.
                if (const auto* names = schema->as_object().if_contains("propertyNames")) {
                    if (const auto* pattern = Resolve(names)->as_object().if_contains("pattern")) {
                        patterns.emplace_back(pattern->as_string());
                    }
                }
            }
            if (node.IsMap() || node.IsSequence()) {
                // A key of this mapping failed its propertyNames pattern: find which.
                return BadKey(node, context, patterns);
            }
            // A value may allow several forms (a date or a duration): name them all.
            std::string what;
            std::string hint;
            for (const auto& pattern : patterns) {
                if (const PatternMeaning* meaning = MeaningOf(pattern)) {
                    what += (what.empty() ? "" : " or ") + std::string(meaning->what);
                    hint += (hint.empty() ? "" : "; ") + std::string(meaning->hint);
                }
            }
            return Translated{"bad-value", location,
                              QuoteValue(value) + " is not " + (what.empty() ? "in the expected form" : what), hint};
        }
        if (StartsWith(description, "Failed to match against any enum values")) {
            std::vector<std::string> choices;
            for (const auto* schema : schemas) {
                if (const auto* values = schema->as_object().if_contains("enum")) {
                    for (const auto& choice : values->as_array()) {
                        if (choice.is_string()) {
                            choices.emplace_back(choice.as_string());
                        }
                    }
                }
            }
            std::string list;
            for (const auto& choice : choices) {
                list += (list.empty() ? "" : ", ") + choice;
            }
            const std::string text = value != nullptr && value->is_string() ? std::string(value->as_string()) : "";
            return Translated{
                "bad-value", location,
                QuoteValue(value) + " is not allowed for " + Where(context) + "; expected one of: " + list,
                DidYouMean(text, choices)};
        }
        if (StartsWith(description, "Failed to match expected value set by 'const'")) {
            std::string expected;
            for (const auto* schema : schemas) {
                if (const auto* constant = schema->as_object().if_contains("const")) {
                    expected = QuoteValue(constant);
                }
            }
            return Translated{
                "bad-value", location, Where(context) + " must be " + expected + ", not " + QuoteValue(value), {}};
        }
        if (StartsWith(description, "Expected number")) {
            std::string bound = description.substr(std::string_view("Expected number ").size());
            // valijson prints bounds with std::to_string ("7.000000"); trim trailing zeros.
            if (const auto dot = bound.find('.'); dot != std::string::npos) {
                while (!bound.empty() && bound.back() == '0')
                    bound.pop_back();
                if (!bound.empty() && bound.back() == '.')
                    bound.pop_back();
            }
            return Translated{
                "out-of-range", location, Where(context) + " must be " + bound + ", not " + QuoteValue(value), {}};
        }
        if (StartsWith(description, "Array should contain no fewer than") ||
            StartsWith(description, "Object should have no fewer than") ||
            StartsWith(description, "String should be no fewer than")) {
            return Translated{"empty", location, Where(context) + " must not be empty", {}};
        }
        std::string message = description;
        if (!message.empty() && message.back() == '.') {
            message.pop_back();
        }
        if (!message.empty()) {
            message[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(message[0])));
        }
        return Translated{"schema", location, Where(context) + ": " + message, {}};
    }

private:
    std::optional<Translated> BadKey(const YAML::Node& node, const std::vector<std::string>& context,
                                     const std::vector<std::string>& patterns) {
        if (!node.IsMap()) {
            return std::nullopt;
        }
        for (const auto& entry : node) {
            const std::string& key = entry.first.Scalar();
            for (const auto& pattern : patterns) {
                const PatternMeaning* meaning = MeaningOf(pattern);
                if (meaning == nullptr || meaning->pattern != "^[a-z][a-z0-9_]*$") {
                    continue;
                }
                const bool valid =
                    !key.empty() && key[0] >= 'a' && key[0] <= 'z' && std::all_of(key.begin(), key.end(), [](char c) {
                        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
                    });
                if (!valid) {
                    return Translated{"bad-name", LocationOf(entry.first, file_),
                                      "'" + key + "' is not a valid name in " + Where(context),
                                      std::string(meaning->hint)};
                }
            }
        }
        return std::nullopt;
    }

    const boost::json::value& document_;
    const YAML::Node& root_;
    const std::string& file_;
};

}  // namespace

const boost::json::value& WorkflowSchemaJson() {
    static const boost::json::value schema = boost::json::parse(kWorkflowSchemaText);
    return schema;
}

namespace {

const valijson::Schema& CompiledSchema() {
    // valijson::Schema is neither copyable nor movable: build it in place once.
    static const std::unique_ptr<valijson::Schema> schema = [] {
        auto compiled = std::make_unique<valijson::Schema>();
        valijson::SchemaParser parser;
        valijson::adapters::BoostJsonAdapter adapter(WorkflowSchemaJson());
        parser.populateSchema(adapter, *compiled);
        return compiled;
    }();
    return *schema;
}

}  // namespace

void ValidateWorkflowShape(const boost::json::value& document, const YAML::Node& root, const std::string& file,
                           Diagnostics& diagnostics) {
    valijson::Validator validator(valijson::Validator::kStrongTypes);
    valijson::ValidationResults results;
    valijson::adapters::BoostJsonAdapter target(document);
    if (validator.validate(CompiledSchema(), target, &results)) {
        return;
    }
    // Keep leaf causes only, and one message per (location, message).
    std::vector<valijson::ValidationResults::Error> errors(results.begin(), results.end());
    Translator translator(document, root, file);
    std::set<std::tuple<int, int, std::string>> seen;
    std::map<std::vector<std::string>, bool> has_specific_error;
    for (const auto& error : errors) {
        if (!IsAggregate(error.description) && !StartsWith(error.description, "Value type not permitted")) {
            has_specific_error[error.context] = true;
        }
    }
    for (const auto& error : errors) {
        if (IsAggregate(error.description)) {
            continue;
        }
        // For oneOf/anyOf values, a type mismatch against one branch is noise
        // when the value matched another branch's type and failed inside it.
        if (StartsWith(error.description, "Value type not permitted")) {
            bool explained_deeper = false;
            for (const auto& [context, specific] : has_specific_error) {
                if (context.size() >= error.context.size() &&
                    std::equal(error.context.begin(), error.context.end(), context.begin())) {
                    explained_deeper = true;
                    break;
                }
            }
            if (explained_deeper) {
                continue;
            }
        }
        auto translated = translator.Translate(error);
        if (!translated) {
            continue;
        }
        if (!seen.emplace(translated->location.line, translated->location.column, translated->message).second) {
            continue;
        }
        diagnostics.Error(std::move(translated->code), std::move(translated->location), std::move(translated->message),
                          std::move(translated->hint));
    }
}

}  // namespace cascade::lang::detail
