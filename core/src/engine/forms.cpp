// Checking form payloads: a unit's submission (JSON) against the step's
// declared fields, `--set field=value` text into a payload, and normalized
// field values into expression values for gates and conditions.
//
// The payload comes from outside (a web form, a script, a clerk's command
// line), so every value is treated as hostile: nothing here throws, recurses
// on the payload's depth, or converts a number without checking its range.
#include "cascade/engine/forms.hpp"
#include "cascade/model/text.hpp"

#include "cascade/lang/diagnostic.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <regex>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>

namespace cascade::engine {

namespace {

using model::AsciiLower;

namespace json = boost::json;
using model::FieldType;
using model::FormField;

// User text quoted in a message is cut to this many code points, so a 64 KiB
// value does not produce a 64 KiB message.
constexpr std::size_t kQuoteLimit = 40;
// Words longer than this get no "did you mean": edit distance is quadratic.
constexpr std::size_t kSuggestLimit = 256;
// libstdc++'s backtracking regex executor recurses once per input character
// and overflows the stack on a few tens of thousands; only a pattern that
// needs it (one with back-references) is limited to inputs this long.
constexpr std::size_t kBacktrackingInputLimit = 1000;
// 2^63: the first double that does not fit in an int64.
constexpr double kTwo63 = 9223372036854775808.0;

void AddError(std::vector<FieldError>& errors, std::string path, std::string code, std::string message) {
    errors.push_back({std::move(path), std::move(code), std::move(message)});
}

bool IsContinuationByte(char c) {
    return (static_cast<unsigned char>(c) & 0xC0U) == 0x80U;
}

// Code points of UTF-8 text; a stray byte of invalid UTF-8 counts as one.
std::size_t CodePoints(std::string_view text) {
    std::size_t count = 0;
    for (const char c : text) {
        count += IsContinuationByte(c) ? 0 : 1;
    }
    return count;
}

std::string_view Trim(std::string_view text) {
    constexpr std::string_view kSpace = " \t\r\n";
    const auto first = text.find_first_not_of(kSpace);
    if (first == std::string_view::npos) {
        return {};
    }
    return text.substr(first, text.find_last_not_of(kSpace) - first + 1);
}

// 'text' for a message: at most kQuoteLimit code points, control characters
// escaped so the message stays on one line.
std::string Quote(std::string_view text) {
    std::string quoted = "'";
    std::size_t points = 0;
    for (const char c : text) {
        if (!IsContinuationByte(c) && points++ == kQuoteLimit) {
            quoted += "…";
            break;
        }
        const auto byte = static_cast<unsigned char>(c);
        if (c == '\n') {
            quoted += "\\n";
        } else if (c == '\t') {
            quoted += "\\t";
        } else if (c == '\r') {
            quoted += "\\r";
        } else if (byte < 0x20 || byte == 0x7F) {
            constexpr std::string_view kHex = "0123456789ABCDEF";
            quoted += "\\x";
            quoted += kHex[byte >> 4U];
            quoted += kHex[byte & 0xFU];
        } else {
            quoted += c;
        }
    }
    return quoted + "'";
}

// Shortest text that reads back to the same double: 7, 0.5, 1e+308. Boost.JSON
// reads 1e400 as infinity, so non-finite values do reach messages.
std::string FormatNumber(double number) {
    if (std::isnan(number)) {
        return "a value that is not a number";
    }
    if (std::isinf(number)) {
        return number > 0 ? "a number too large to store" : "a negative number too large to store";
    }
    std::array<char, 64> buffer{};
    const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), number);
    return result.ec == std::errc() ? std::string(buffer.data(), result.ptr) : std::string("?");
}

std::string Plural(std::int64_t count, std::string_view noun) {
    return std::to_string(count) + " " + std::string(noun) + (count == 1 ? "" : "s");
}

// "a", "a or b", "a, b or c".
std::string JoinOr(const std::vector<std::string>& items) {
    std::string joined;
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i > 0) {
            joined += i + 1 == items.size() ? " or " : ", ";
        }
        joined += items[i];
    }
    return joined;
}

std::string JoinAnd(const std::vector<std::string>& items) {
    std::string joined;
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i > 0) {
            joined += i + 1 == items.size() ? " and " : ", ";
        }
        joined += items[i];
    }
    return joined;
}

std::string Suggestion(std::string_view word, const std::vector<std::string>& candidates) {
    return word.size() > kSuggestLimit ? std::string() : lang::DidYouMean(word, candidates);
}

// What was given, for "got ...": 5, 7.5, true, 'text', a list of 3 items.
std::string Describe(const json::value& value) {
    switch (value.kind()) {
    case json::kind::null:
        return "nothing (null)";
    case json::kind::bool_:
        return value.get_bool() ? "true" : "false";
    case json::kind::int64:
        return std::to_string(value.get_int64());
    case json::kind::uint64:
        return std::to_string(value.get_uint64());
    case json::kind::double_:
        return FormatNumber(value.get_double());
    case json::kind::string:
        return Quote(value.get_string());
    case json::kind::array: {
        const auto size = static_cast<std::int64_t>(value.get_array().size());
        return size == 0 ? std::string("an empty list") : "a list of " + Plural(size, "item");
    }
    case json::kind::object:
        return "an object";
    }
    return "?";
}

std::vector<std::string> QuotedAll(const std::vector<std::string>& items) {
    std::vector<std::string> quoted;
    quoted.reserve(items.size());
    for (const auto& item : items) {
        quoted.push_back(Quote(item));
    }
    return quoted;
}

// What a field expects, for "must be ...".
std::string Expected(const FormField& field) {
    switch (field.type) {
    case FieldType::string:
    case FieldType::text:
        return "text";
    case FieldType::integer:
        return "a whole number";
    case FieldType::number:
        return "a number";
    case FieldType::boolean:
        return "true or false";
    case FieldType::date:
        return "a date written YYYY-MM-DD";
    case FieldType::duration:
        return "a duration such as P7D, 3 days or 10 working days";
    case FieldType::choice:
        return "one of " + JoinOr(QuotedAll(field.choices));
    case FieldType::list:
        return "a list of texts";
    case FieldType::attachment:
        return "a list of file names";
    }
    return "a value";
}

std::string WrongType(std::string_view path, std::string_view expected, std::string_view given) {
    return std::string(path) + " must be " + std::string(expected) + ", got " + std::string(given);
}

std::vector<std::string> FieldNames(const std::vector<FormField>& form) {
    std::vector<std::string> names;
    names.reserve(form.size());
    for (const auto& field : form) {
        names.push_back(field.name);
    }
    return names;
}

const FormField* FindField(const std::vector<FormField>& form, std::string_view name) {
    for (const auto& field : form) {
        if (field.name == name) {
            return &field;
        }
    }
    return nullptr;
}

void AddUnknownField(std::vector<FieldError>& errors, std::string_view name, const std::vector<std::string>& names) {
    std::string message = "unknown field " + Quote(name) + "; ";
    if (const std::string hint = Suggestion(name, names); !hint.empty()) {
        message += hint;
    } else if (names.empty()) {
        message += "this form has no fields";
    } else {
        message += "the form's fields are " + JoinAnd(names);
    }
    AddError(errors, std::string(name), "unknown-field", std::move(message));
}

// True when the payload serializes to more than `limit` bytes. Boost.JSON's
// serializer keeps its own stack (no recursion on depth) and is read in
// chunks, so the work stops soon after the limit however large the payload.
bool SerializedSizeExceeds(const json::value& payload, std::size_t limit) {
    json::serializer serializer;
    serializer.reset(&payload);
    std::array<char, 4096> buffer{};
    std::size_t total = 0;
    while (!serializer.done()) {
        total += serializer.read(buffer.data(), buffer.size()).size();
        if (total > limit) {
            return true;
        }
    }
    return false;
}

// ── Patterns ─────────────────────────────────────────────────────────────────

struct CompiledPattern {
    std::optional<std::regex> regex;
    bool backtracking = true;  // matched by the recursive executor: input length is limited
    std::string error;         // why the pattern did not compile
};

// Compiled once per pattern text. The loader already refused patterns that do
// not compile, so a failure here is remembered and reported, never thrown.
const CompiledPattern& PatternFor(const std::string& pattern) {
    static std::unordered_map<std::string, CompiledPattern> cache;  // not thread-safe; see forms.hpp
    auto [entry, inserted] = cache.try_emplace(pattern);
    CompiledPattern& compiled = entry->second;
    if (!inserted) {
        return compiled;
    }
#if defined(__GLIBCXX__)
    // libstdc++'s breadth-first executor runs in time linear in the input with
    // no recursion per character (no stack overflow, no catastrophic
    // backtracking); it refuses only back-references.
    try {
        compiled.regex.emplace(pattern, std::regex::ECMAScript | std::regex_constants::__polynomial);
        compiled.backtracking = false;
        return compiled;
    } catch (const std::regex_error&) {
        compiled.regex.reset();
    }
#endif
    try {
        compiled.regex.emplace(pattern, std::regex::ECMAScript);
    } catch (const std::regex_error& error) {
        compiled.regex.reset();
        compiled.error = error.what();
    }
    return compiled;
}

void CheckPattern(const FormField& field, const std::string& path, const std::string& text,
                  std::vector<FieldError>& errors) {
    const CompiledPattern& compiled = PatternFor(field.pattern);
    if (!compiled.regex) {
        AddError(errors, path, "pattern-mismatch",
                 path + " cannot be checked: its pattern " + field.pattern + " is not a valid regular expression (" +
                     compiled.error + ")");
        return;
    }
    if (compiled.backtracking && text.size() > kBacktrackingInputLimit) {
        AddError(errors, path, "pattern-mismatch",
                 path + " is too long to check against the pattern " + field.pattern + ": " +
                     std::to_string(text.size()) + " bytes, at most " + std::to_string(kBacktrackingInputLimit));
        return;
    }
    bool matched = false;
    try {
        matched = std::regex_match(text, *compiled.regex);
    } catch (const std::regex_error& error) {  // error_complexity / error_stack
        AddError(errors, path, "pattern-mismatch",
                 path + " could not be checked against the pattern " + field.pattern + " (" + error.what() + ")");
        return;
    }
    if (!matched) {
        AddError(errors, path, "pattern-mismatch",
                 path + " must match the pattern " + field.pattern + ", got " + Quote(text));
    }
}

// ── Field values ─────────────────────────────────────────────────────────────

// Exact comparisons of an integer with a double bound (a cast of either side
// to the other's type could round or overflow).
bool IntegerBelow(std::int64_t value, double bound) {
    if (std::isnan(bound) || bound < -kTwo63) {
        return false;
    }
    if (bound >= kTwo63) {
        return true;
    }
    return value < static_cast<std::int64_t>(std::ceil(bound));
}

bool IntegerAbove(std::int64_t value, double bound) {
    if (std::isnan(bound) || bound >= kTwo63) {
        return false;
    }
    if (bound < -kTwo63) {
        return true;
    }
    return value > static_cast<std::int64_t>(std::floor(bound));
}

// The bound shown when an integer does not fit in int64: the field's own
// bound when it is tighter.
std::string UpperBoundText(const FormField& field) {
    if (field.maximum && *field.maximum < kTwo63) {
        return FormatNumber(*field.maximum);
    }
    return std::to_string(std::numeric_limits<std::int64_t>::max());
}

std::string LowerBoundText(const FormField& field) {
    if (field.minimum && *field.minimum >= -kTwo63) {
        return FormatNumber(*field.minimum);
    }
    return std::to_string(std::numeric_limits<std::int64_t>::min());
}

void AddAboveMaximum(std::vector<FieldError>& errors, const std::string& path, const std::string& bound,
                     const std::string& given) {
    AddError(errors, path, "above-maximum", path + " must be at most " + bound + ", got " + given);
}

void AddBelowMinimum(std::vector<FieldError>& errors, const std::string& path, const std::string& bound,
                     const std::string& given) {
    AddError(errors, path, "below-minimum", path + " must be at least " + bound + ", got " + given);
}

std::optional<json::value> CheckInteger(const FormField& field, const json::value& value,
                                        std::vector<FieldError>& errors) {
    const std::string& path = field.name;
    std::int64_t integer = 0;
    if (value.is_int64()) {
        integer = value.get_int64();
    } else if (value.is_uint64()) {  // Boost.JSON's type for integers above INT64_MAX
        AddAboveMaximum(errors, path, UpperBoundText(field), Describe(value));
        return std::nullopt;
    } else if (value.is_double()) {
        const double number = value.get_double();
        if (std::isnan(number) || (std::isfinite(number) && std::trunc(number) != number)) {
            AddError(errors, path, "wrong-type", WrongType(path, Expected(field), Describe(value)));
            return std::nullopt;
        }
        if (number >= kTwo63) {  // infinity too
            AddAboveMaximum(errors, path, UpperBoundText(field), Describe(value));
            return std::nullopt;
        }
        if (number < -kTwo63) {
            AddBelowMinimum(errors, path, LowerBoundText(field), Describe(value));
            return std::nullopt;
        }
        integer = static_cast<std::int64_t>(number);  // in range and whole: exact; -0.0 becomes 0
    } else {
        AddError(errors, path, "wrong-type", WrongType(path, Expected(field), Describe(value)));
        return std::nullopt;
    }
    bool in_range = true;
    if (field.minimum && IntegerBelow(integer, *field.minimum)) {
        AddBelowMinimum(errors, path, FormatNumber(*field.minimum), std::to_string(integer));
        in_range = false;
    }
    if (field.maximum && IntegerAbove(integer, *field.maximum)) {
        AddAboveMaximum(errors, path, FormatNumber(*field.maximum), std::to_string(integer));
        in_range = false;
    }
    return in_range ? std::optional<json::value>(integer) : std::nullopt;
}

std::optional<json::value> CheckNumber(const FormField& field, const json::value& value,
                                       std::vector<FieldError>& errors) {
    const std::string& path = field.name;
    double number = 0;
    if (value.is_int64()) {
        number = static_cast<double>(value.get_int64());
    } else if (value.is_uint64()) {
        number = static_cast<double>(value.get_uint64());
    } else if (value.is_double() && !std::isnan(value.get_double())) {
        number = value.get_double() + 0.0;  // + 0.0 turns -0.0 into 0.0
        if (std::isinf(number)) {
            // Not stored: an infinity would poison every sum a gate computes.
            const bool positive = number > 0;
            const double limit = positive ? std::numeric_limits<double>::max() : std::numeric_limits<double>::lowest();
            const auto& bound = positive ? field.maximum : field.minimum;
            const std::string bound_text = FormatNumber(bound && std::isfinite(*bound) ? *bound : limit);
            if (positive) {
                AddAboveMaximum(errors, path, bound_text, FormatNumber(number));
            } else {
                AddBelowMinimum(errors, path, bound_text, FormatNumber(number));
            }
            return std::nullopt;
        }
    } else {
        AddError(errors, path, "wrong-type", WrongType(path, Expected(field), Describe(value)));
        return std::nullopt;
    }
    bool in_range = true;
    if (field.minimum && number < *field.minimum) {
        AddBelowMinimum(errors, path, FormatNumber(*field.minimum), FormatNumber(number));
        in_range = false;
    }
    if (field.maximum && number > *field.maximum) {
        AddAboveMaximum(errors, path, FormatNumber(*field.maximum), FormatNumber(number));
        in_range = false;
    }
    return in_range ? std::optional<json::value>(number) : std::nullopt;
}

// The size limit every string value shares. False (and an error) when over it.
bool WithinStringLimit(const std::string& path, std::string_view text, const FormLimits& limits,
                       std::vector<FieldError>& errors) {
    if (text.size() <= limits.max_string_bytes) {
        return true;
    }
    AddError(errors, path, "too-long",
             path + " is " + std::to_string(text.size()) + " bytes long; at most " +
                 std::to_string(limits.max_string_bytes) + " bytes are accepted");
    return false;
}

std::optional<json::value> CheckText(const FormField& field, const json::string& text, const FormLimits& limits,
                                     std::vector<FieldError>& errors) {
    const std::string& path = field.name;
    if (!WithinStringLimit(path, text, limits, errors)) {
        return std::nullopt;
    }
    const std::size_t error_count = errors.size();
    const auto length = static_cast<std::int64_t>(CodePoints(text));
    if (field.min_length && length < *field.min_length) {
        AddError(errors, path, "too-short",
                 path + " must be at least " + Plural(*field.min_length, "character") + " long, got " +
                     std::to_string(length));
    }
    if (field.max_length && length > *field.max_length) {
        AddError(errors, path, "too-long",
                 path + " must be at most " + Plural(*field.max_length, "character") + " long, got " +
                     std::to_string(length));
    }
    if (!field.pattern.empty()) {
        CheckPattern(field, path, std::string(text), errors);
    }
    return errors.size() == error_count ? std::optional<json::value>(text) : std::nullopt;
}

std::optional<json::value> CheckChoice(const FormField& field, const json::string& text, const FormLimits& limits,
                                       std::vector<FieldError>& errors) {
    const std::string& path = field.name;
    if (!WithinStringLimit(path, text, limits, errors)) {
        return std::nullopt;
    }
    for (const auto& choice : field.choices) {
        if (choice == text) {
            return json::value(text);
        }
    }
    std::string message = path + " must be " + Expected(field) + ", got " + Quote(text);
    if (const std::string hint = Suggestion(text, field.choices); !hint.empty()) {
        message += "; " + hint;
    }
    AddError(errors, path, "unknown-choice", std::move(message));
    return std::nullopt;
}

// The extension of a file name or URI, lower case, without the dot ("" when
// it has none). A URI's query and fragment are not part of its name.
std::string ExtensionOf(std::string_view name) {
    if (name.find("://") != std::string_view::npos) {
        name = name.substr(0, name.find_first_of("?#"));
    }
    if (const auto slash = name.find_last_of("/\\"); slash != std::string_view::npos) {
        name.remove_prefix(slash + 1);
    }
    const auto dot = name.rfind('.');
    return dot == std::string_view::npos ? std::string() : AsciiLower(name.substr(dot + 1));
}

// `accept` as authors write it: "pdf", ".PDF" — compared without dot, in lower case.
std::string NormalizedExtension(std::string_view extension) {
    if (!extension.empty() && extension.front() == '.') {
        extension.remove_prefix(1);
    }
    return AsciiLower(extension);
}

void CheckExtension(const FormField& field, const std::string& path, std::string_view file_name,
                    std::vector<FieldError>& errors) {
    const std::string extension = ExtensionOf(file_name);
    std::vector<std::string> shown;
    for (const auto& accepted : field.accept) {
        const std::string normalized = NormalizedExtension(accepted);
        if (!extension.empty() && normalized == extension) {
            return;
        }
        shown.push_back("." + normalized);
    }
    const char* verdict = shown.size() == 1 ? " does not" : shown.size() == 2 ? " is neither" : " is none of them";
    AddError(errors, path, "bad-extension",
             Quote(field.name) + " expects files ending in " + JoinOr(shown) + "; " + Quote(file_name) + verdict);
}

std::optional<json::value> CheckList(const FormField& field, const json::value& value, const FormLimits& limits,
                                     std::vector<FieldError>& errors) {
    const std::string& path = field.name;
    if (!value.is_array()) {
        AddError(errors, path, "wrong-type", WrongType(path, Expected(field), Describe(value)));
        return std::nullopt;
    }
    const json::array& items = value.get_array();
    if (items.size() > limits.max_items) {
        // Not looked into: checking every item of a huge list is the work the limit prevents.
        AddError(errors, path, "too-many-items",
                 path + " has " + std::to_string(items.size()) + " items; at most " + std::to_string(limits.max_items) +
                     " are accepted");
        return std::nullopt;
    }
    const std::size_t error_count = errors.size();
    const auto count = static_cast<std::int64_t>(items.size());
    if (field.min_items && count < *field.min_items) {
        AddError(errors, path, "too-few-items",
                 path + " needs at least " + Plural(*field.min_items, "item") + ", got " + std::to_string(count));
    }
    if (field.max_items && count > *field.max_items) {
        AddError(errors, path, "too-many-items",
                 path + " takes at most " + Plural(*field.max_items, "item") + ", got " + std::to_string(count));
    }
    const bool attachment = field.type == FieldType::attachment;
    json::array normalized;
    normalized.reserve(items.size());
    for (std::size_t index = 0; index < items.size(); ++index) {
        const json::value& item = items[index];
        const std::string item_path = path + "[" + std::to_string(index) + "]";
        if (!item.is_string()) {
            AddError(errors, item_path, "wrong-type",
                     WrongType(item_path, attachment ? "a file name" : "text", Describe(item)));
            continue;
        }
        if (!WithinStringLimit(item_path, item.get_string(), limits, errors)) {
            continue;
        }
        if (attachment && !field.accept.empty()) {
            CheckExtension(field, item_path, item.get_string(), errors);
        }
        normalized.push_back(item);
    }
    return errors.size() == error_count ? std::optional<json::value>(std::move(normalized)) : std::nullopt;
}

// A value that stands for "not filled in": null, or an empty string where the
// field's value is written as a string (a blank box in a web form).
bool IsBlank(const FormField& field, const json::value& value) {
    if (value.is_null()) {
        return true;
    }
    switch (field.type) {
    case FieldType::string:
    case FieldType::text:
    case FieldType::choice:
    case FieldType::date:
    case FieldType::duration:
        return value.is_string() && value.get_string().empty();
    default:
        return false;
    }
}

// The normalized value, or nullopt after adding the errors found.
std::optional<json::value> CheckValue(const FormField& field, const json::value& value, const FormLimits& limits,
                                      std::vector<FieldError>& errors) {
    const std::string& path = field.name;
    switch (field.type) {
    case FieldType::integer:
        return CheckInteger(field, value, errors);
    case FieldType::number:
        return CheckNumber(field, value, errors);
    case FieldType::boolean:
        if (!value.is_bool()) {
            break;
        }
        return value;
    case FieldType::list:
    case FieldType::attachment:
        return CheckList(field, value, limits, errors);
    case FieldType::string:
    case FieldType::text:
        if (!value.is_string()) {
            break;
        }
        return CheckText(field, value.get_string(), limits, errors);
    case FieldType::choice:
        if (!value.is_string()) {
            break;
        }
        return CheckChoice(field, value.get_string(), limits, errors);
    case FieldType::date:
        if (!value.is_string()) {
            break;
        }
        if (const auto date = model::Date::Parse(value.get_string())) {
            return json::value(date->ToString());
        }
        AddError(errors, path, "bad-date",
                 path + " must be a date written YYYY-MM-DD, such as 2023-09-15, got " + Describe(value));
        return std::nullopt;
    case FieldType::duration:
        if (!value.is_string()) {
            break;
        }
        if (!WithinStringLimit(path, value.get_string(), limits, errors)) {
            return std::nullopt;
        }
        if (const auto duration = model::Duration::Parse(value.get_string())) {
            return json::value(duration->ToString());
        }
        AddError(errors, path, "bad-duration", WrongType(path, Expected(field), Describe(value)));
        return std::nullopt;
    }
    AddError(errors, path, "wrong-type", WrongType(path, Expected(field), Describe(value)));
    return std::nullopt;
}

// ── Assignment text ──────────────────────────────────────────────────────────

// A value that shows the syntax, for "e.g. reading_days=7".
std::string ExampleValue(const FormField& field) {
    switch (field.type) {
    case FieldType::integer:
        return "7";
    case FieldType::number:
        return "0.5";
    case FieldType::boolean:
        return "true";
    case FieldType::date:
        return "2023-09-15";
    case FieldType::duration:
        return "P7D";
    case FieldType::choice:
        return field.choices.empty() ? "x" : field.choices.front();
    case FieldType::list:
        return "first;second";
    case FieldType::attachment:
        return field.accept.empty() ? "plan.pdf" : "file." + NormalizedExtension(field.accept.front());
    case FieldType::string:
    case FieldType::text:
        break;
    }
    return "some text";
}

// Decimal orders of magnitude of a number text strtod-like syntax accepts
// (from_chars has matched it): >= 0 means at least 1 in size. Used only to
// tell overflow from underflow.
std::int64_t DecimalMagnitude(std::string_view text) {
    if (!text.empty() && (text.front() == '-' || text.front() == '+')) {
        text.remove_prefix(1);
    }
    const auto exponent_at = text.find_first_of("eE");
    const std::string_view mantissa = text.substr(0, exponent_at);
    const auto point = std::min(mantissa.find('.'), mantissa.size());
    const auto first_nonzero = mantissa.find_first_of("123456789");
    if (first_nonzero == std::string_view::npos) {
        return std::numeric_limits<std::int64_t>::min() / 2;  // zero
    }
    std::int64_t magnitude = first_nonzero < point ? static_cast<std::int64_t>(point - first_nonzero) - 1
                                                   : -static_cast<std::int64_t>(first_nonzero - point);
    if (exponent_at != std::string_view::npos) {
        std::string_view exponent = text.substr(exponent_at + 1);
        const bool negative = !exponent.empty() && exponent.front() == '-';
        if (!exponent.empty() && (exponent.front() == '-' || exponent.front() == '+')) {
            exponent.remove_prefix(1);
        }
        std::int64_t value = 0;
        for (const char c : exponent) {
            value = std::min<std::int64_t>(value * 10 + (c - '0'), 1'000'000'000);  // saturate, never overflow
        }
        magnitude += negative ? -value : value;
    }
    return magnitude;
}

// One `--set` value typed by its field. nullopt after adding an error.
std::optional<json::value> ParseValueText(const FormField& field, std::string_view raw,
                                          std::vector<FieldError>& errors) {
    const std::string& path = field.name;
    const std::string_view text = Trim(raw);
    const auto wrong_type = [&] {
        AddError(errors, path, "wrong-type", WrongType(path, Expected(field), Quote(text)));
        return std::nullopt;
    };
    switch (field.type) {
    case FieldType::string:
    case FieldType::text:
    case FieldType::choice:
        return json::value(json::string_view(raw.data(), raw.size()));  // as written, spaces and all
    case FieldType::list:
    case FieldType::attachment: {
        json::array items;
        std::string_view rest = raw;
        while (true) {
            const auto separator = rest.find(';');
            const std::string_view item = Trim(rest.substr(0, separator));
            if (!item.empty()) {
                items.emplace_back(json::string_view(item.data(), item.size()));
            }
            if (separator == std::string_view::npos) {
                break;
            }
            rest.remove_prefix(separator + 1);
        }
        return json::value(std::move(items));
    }
    default:
        break;
    }
    if (text.empty()) {
        return json::value(nullptr);  // "field=" clears the field
    }
    switch (field.type) {
    case FieldType::integer: {
        // from_chars takes no '+', so it is skipped here; "+-7" is refused below.
        const std::string_view digits = text.front() == '+' ? text.substr(1) : text;
        std::int64_t integer = 0;
        const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), integer);
        if (end != digits.data() + digits.size() || (!digits.empty() && digits.front() == '-' && text.front() == '+')) {
            return wrong_type();
        }
        if (error == std::errc::result_out_of_range) {
            if (digits.front() == '-') {
                AddBelowMinimum(errors, path, LowerBoundText(field), std::string(text));
            } else {
                AddAboveMaximum(errors, path, UpperBoundText(field), std::string(text));
            }
            return std::nullopt;
        }
        if (error != std::errc()) {
            return wrong_type();
        }
        return json::value(integer);
    }
    case FieldType::number: {
        const std::string_view digits = text.front() == '+' ? text.substr(1) : text;
        double number = 0;
        const auto [end, error] =
            std::from_chars(digits.data(), digits.data() + digits.size(), number, std::chars_format::general);
        if (end != digits.data() + digits.size() || (!digits.empty() && digits.front() == '-' && text.front() == '+')) {
            return wrong_type();
        }
        if (error == std::errc::result_out_of_range) {
            if (DecimalMagnitude(digits) < 0) {
                AddError(errors, path, "wrong-type",
                         path + " must be a number that can be stored, got " + Quote(text) + ", too close to zero");
            } else if (digits.front() == '-') {
                AddBelowMinimum(errors, path, FormatNumber(std::numeric_limits<double>::lowest()), std::string(text));
            } else {
                AddAboveMaximum(errors, path, FormatNumber(std::numeric_limits<double>::max()), std::string(text));
            }
            return std::nullopt;
        }
        if (error != std::errc() || !std::isfinite(number)) {  // from_chars reads "inf" and "nan"
            return wrong_type();
        }
        return json::value(number + 0.0);
    }
    case FieldType::boolean: {
        const std::string lowered = AsciiLower(text);
        if (lowered == "true" || lowered == "yes" || lowered == "1") {
            return json::value(true);
        }
        if (lowered == "false" || lowered == "no" || lowered == "0") {
            return json::value(false);
        }
        AddError(errors, path, "wrong-type", WrongType(path, "true or false (or yes/no, 1/0)", Quote(text)));
        return std::nullopt;
    }
    case FieldType::date:
        if (const auto date = model::Date::Parse(text)) {
            return json::value(date->ToString());
        }
        AddError(errors, path, "bad-date",
                 path + " must be a date written YYYY-MM-DD, such as 2023-09-15, got " + Quote(text));
        return std::nullopt;
    case FieldType::duration:
        if (const auto duration = model::Duration::Parse(text)) {
            return json::value(duration->ToString());
        }
        AddError(errors, path, "bad-duration", WrongType(path, Expected(field), Quote(text)));
        return std::nullopt;
    default:
        break;
    }
    return wrong_type();
}

std::optional<std::int64_t> AsInt64(const json::value& value) {
    if (value.is_int64()) {
        return value.get_int64();
    }
    if (value.is_uint64() &&
        value.get_uint64() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return static_cast<std::int64_t>(value.get_uint64());
    }
    if (value.is_double()) {
        const double number = value.get_double();
        if (std::isfinite(number) && std::trunc(number) == number && number >= -kTwo63 && number < kTwo63) {
            return static_cast<std::int64_t>(number);
        }
    }
    return std::nullopt;
}

}  // namespace

FormCheck ValidateForm(const std::vector<model::FormField>& form, const boost::json::value& payload,
                       const FormLimits& limits) {
    FormCheck check;
    if (!payload.is_object()) {
        AddError(check.errors, "", "not-an-object",
                 "the form payload must be a JSON object of field values, got " + Describe(payload));
        return check;
    }
    if (SerializedSizeExceeds(payload, limits.max_payload_bytes)) {
        AddError(check.errors, "", "too-large",
                 "the form payload is larger than the limit of " + std::to_string(limits.max_payload_bytes) +
                     " bytes; nothing in it was checked");
        return check;
    }
    const json::object& object = payload.get_object();
    // Unknown names first: a misspelt field also shows up as a missing one below,
    // and the misspelling explains it.
    const std::vector<std::string> names = FieldNames(form);
    for (const auto& member : object) {
        if (FindField(form, member.key()) == nullptr) {
            AddUnknownField(check.errors, member.key(), names);
        }
    }
    for (const auto& field : form) {
        const json::value* value = object.if_contains(field.name);
        if (value == nullptr || IsBlank(field, *value)) {
            if (field.required) {
                AddError(check.errors, field.name, "missing-field",
                         field.name + " is required but " + (value == nullptr ? "was not given" : "is empty") +
                             "; expected " + Expected(field));
            }
            continue;
        }
        if (auto normalized = CheckValue(field, *value, limits, check.errors)) {
            check.normalized.emplace(field.name, std::move(*normalized));
        }
    }
    return check;
}

std::variant<boost::json::object, std::vector<FieldError>> ParseAssignments(const std::vector<std::string>& assignments,
                                                                            const std::vector<model::FormField>& form) {
    json::object payload;
    std::vector<FieldError> errors;
    const std::vector<std::string> names = FieldNames(form);
    const std::string example =
        form.empty() ? std::string("field=value") : form.front().name + "=" + ExampleValue(form.front());
    for (const auto& assignment : assignments) {
        const auto equals = assignment.find('=');
        if (equals == std::string::npos) {
            AddError(errors, assignment, "bad-assignment",
                     Quote(assignment) + " is not an assignment; write field=value, e.g. " + example);
            continue;
        }
        const std::string name(Trim(std::string_view(assignment).substr(0, equals)));
        if (name.empty()) {
            AddError(errors, assignment, "bad-assignment",
                     Quote(assignment) + " names no field; write field=value, e.g. " + example);
            continue;
        }
        const FormField* field = FindField(form, name);
        if (field == nullptr) {
            AddUnknownField(errors, name, names);
            continue;
        }
        if (auto value = ParseValueText(*field, std::string_view(assignment).substr(equals + 1), errors)) {
            payload[name] = std::move(*value);  // a later assignment replaces an earlier one
        }
    }
    if (!errors.empty()) {
        return errors;
    }
    return payload;
}

model::Value ToExpressionValue(const model::FormField& field, const boost::json::value* normalized_value) {
    model::Value result;
    if (normalized_value == nullptr || normalized_value->is_null()) {
        return result;
    }
    const json::value& value = *normalized_value;
    // Anything not in normalized form gives null rather than a value of the wrong type.
    switch (field.type) {
    case FieldType::string:
    case FieldType::text:
    case FieldType::choice:
        if (value.is_string()) {
            result.data = std::string(value.get_string());
        }
        break;
    case FieldType::integer:
        if (const auto integer = AsInt64(value)) {
            result.data = *integer;
        }
        break;
    case FieldType::number:
        if (value.is_double()) {
            result.data = value.get_double();
        } else if (value.is_int64()) {
            result.data = static_cast<double>(value.get_int64());
        } else if (value.is_uint64()) {
            result.data = static_cast<double>(value.get_uint64());
        }
        break;
    case FieldType::boolean:
        if (value.is_bool()) {
            result.data = value.get_bool();
        }
        break;
    case FieldType::date:
        if (value.is_string()) {
            if (const auto date = model::Date::Parse(value.get_string())) {
                result.data = *date;
            }
        }
        break;
    case FieldType::duration:
        if (value.is_string()) {
            if (const auto duration = model::Duration::Parse(value.get_string())) {
                result.data = *duration;
            }
        }
        break;
    case FieldType::list:
    case FieldType::attachment:
        if (value.is_array()) {
            std::vector<model::Value> items;
            items.reserve(value.get_array().size());
            for (const auto& item : value.get_array()) {
                if (item.is_string()) {
                    items.push_back(model::Value{std::string(item.get_string())});
                }
            }
            result.data = std::move(items);
        }
        break;
    }
    return result;
}

}  // namespace cascade::engine
