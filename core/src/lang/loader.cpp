// Builds a model::Definition from a workflow YAML file.
//
// Order of work: read (size, UTF-8) -> parse (yaml-cpp) -> bounded walk to
// JSON -> schema validation (valijson) -> model building with reference,
// kind and expression checks. Model building is lenient about shape errors the
// schema already reported: it skips what it cannot read instead of reporting
// the same mistake twice. Graph checks live in the `check` module.
#include "cascade/lang/loader.hpp"

#include "cascade/lang/calendar_loader.hpp"
#include "cascade/lang/expression.hpp"
#include "schema_validator.hpp"
#include "yaml_source.hpp"

#include <boost/json.hpp>
#include <cmath>
#include <filesystem>
#include <functional>
#include <regex>
#include <set>
#include <unordered_set>
#include <utility>

namespace cascade::lang {

using model::Definition;
using model::LocalizedText;
using model::Step;
using model::StepKind;

namespace {

namespace fs = std::filesystem;

// Keys each step kind accepts beyond the common ones.
const std::map<StepKind, std::set<std::string>>& KindKeys() {
    static const std::map<StepKind, std::set<std::string>> keys = {
        {StepKind::task, {"assignee", "form", "review", "gate", "due", "remind", "escalate"}},
        {StepKind::action, {"plugin", "action", "with", "retry", "timeout", "due", "remind", "escalate"}},
        {StepKind::decision, {}},
        {StepKind::parallel, {}},
        {StepKind::join, {"require"}},
        {StepKind::subflow, {"workflow", "children", "complete_when", "due", "remind", "escalate"}},
        {StepKind::end, {}},
    };
    return keys;
}

const std::set<std::string>& CommonKeys() {
    static const std::set<std::string> keys = {"kind",       "extends",    "title", "description", "stage",
                                               "applies_to", "applies_if", "opens", "on",          "next"};
    return keys;
}

std::optional<std::int64_t> ParseMilliseconds(std::string_view text) {
    std::int64_t value = 0;
    std::size_t i = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
        value = value * 10 + (text[i] - '0');
        if (value > 1'000'000'000) {
            return std::nullopt;
        }
        ++i;
    }
    const std::string_view unit = text.substr(i);
    if (i == 0) {
        return std::nullopt;
    }
    if (unit == "ms")
        return value;
    if (unit == "s")
        return value * 1000;
    if (unit == "m")
        return value * 60'000;
    if (unit == "h")
        return value * 3'600'000;
    return std::nullopt;
}

// The chain of YAML nodes that together describe one step: the step itself,
// then the template it extends, then that template's own template, ...
struct StepSource {
    std::string id;
    YAML::Node key;  // the step id as written, for locations
    std::vector<YAML::Node> chain;
    // Each chain node's entries, read once: iterating a yaml-cpp map builds
    // node handles, too slow to repeat for every key of every step.
    std::vector<std::vector<std::pair<std::string, YAML::Node>>> entries;

    void Append(const YAML::Node& node) {
        chain.push_back(node);
        auto& flat = entries.emplace_back();
        if (node.IsMap()) {
            flat.reserve(node.size());
            for (const auto& entry : node) {
                if (entry.first.IsScalar()) {
                    flat.emplace_back(entry.first.Scalar(), entry.second);
                }
            }
        }
    }

    // The first node in the chain that sets `name`.
    std::optional<YAML::Node> Find(std::string_view name) const {
        for (const auto& flat : entries) {
            for (const auto& [entry_key, value] : flat) {
                if (entry_key == name) {
                    return value;
                }
            }
        }
        return std::nullopt;
    }
};

// "did you mean 'x'?" when a name is close, else the names there are to choose from.
std::string SuggestOrList(const std::string& name, const std::vector<std::string>& known) {
    std::string hint = DidYouMean(name, known);
    if (!hint.empty()) {
        return hint;
    }
    for (const auto& candidate : known) {
        hint += (hint.empty() ? "declared: " : ", ") + candidate;
    }
    return hint;
}

// Whether text is a role reference: (parent.)*name. The schema reports malformed ones.
bool IsRolePath(std::string_view text) {
    while (text.rfind("parent.", 0) == 0) {
        text.remove_prefix(7);
    }
    return !text.empty() && text[0] >= 'a' && text[0] <= 'z' && std::all_of(text.begin(), text.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    });
}

class WorkflowBuilder {
public:
    WorkflowBuilder(const std::string& file, const std::string& text, const LoadOptions& options, LoadResult& result,
                    std::set<std::string>& loading)
        : file_(file),
          text_(text),
          options_(options),
          result_(result),
          diagnostics_(result.diagnostics),
          loading_(loading) {}

    void Build(const YAML::Node& root) {
        Definition definition;
        definition.source_file = file_;
        ReadMetadata(root, definition);
        ReadScope(root, definition);
        ReadNamedTexts(root, "roles", definition.roles);
        ReadNamedTexts(root, "stages", definition.stages);
        ReadVariables(root, "inputs", definition.inputs);
        ReadVariables(root, "variables", definition.variables);
        ReadPlugins(root, definition);
        ReadTemplates(root);
        definition.hooks = ReadHooks(Child(root, "on"), definition);
        ReadSteps(root, definition);
        ReadCalendar(root, definition);
        BuildScopeAndCheckExpressions(definition);
        CheckDeadlines(definition);
        LoadSubflows();
        result_.graph_complete = graph_complete_ && !definition.steps.empty();
        result_.definition = std::move(definition);
    }

private:
    // --- small readers -------------------------------------------------------

    SourceLocation Where(const YAML::Node& node) const { return detail::LocationOf(node, file_); }

    static std::optional<YAML::Node> Child(const YAML::Node& map, std::string_view key) {
        return detail::FindValue(map, key);
    }

    static std::optional<YAML::Node> Child(const std::optional<YAML::Node>& map, std::string_view key) {
        return map ? Child(*map, key) : std::nullopt;
    }

    static std::string Scalar(const std::optional<YAML::Node>& node) {
        return node && node->IsScalar() ? node->Scalar() : std::string();
    }

    static LocalizedText Text(const std::optional<YAML::Node>& node) {
        LocalizedText text;
        if (!node) {
            return text;
        }
        if (node->IsScalar()) {
            text.zh = node->Scalar();
            text.en = node->Scalar();
        } else if (node->IsMap()) {
            text.zh = Scalar(Child(*node, "zh"));
            text.en = Scalar(Child(*node, "en"));
        }
        return text;
    }

    std::optional<model::Date> DateOf(const std::optional<YAML::Node>& node, std::string_view what) {
        if (!node || !node->IsScalar()) {
            return std::nullopt;
        }
        auto date = model::Date::Parse(node->Scalar());
        if (!date) {
            // The schema checked the YYYY-MM-DD shape; what is left is an impossible day.
            if (node->Scalar().size() == 10) {
                diagnostics_.Error("bad-date", Where(*node), "'" + node->Scalar() + "' is not a real date",
                                   std::string(what) + " must be a calendar date, e.g. 2023-12-15");
            }
        }
        return date;
    }

    std::optional<model::Duration> DurationOf(const YAML::Node& node) {
        if (!node.IsScalar()) {
            return std::nullopt;
        }
        auto duration = model::Duration::Parse(node.Scalar());
        // Text the schema's duration pattern refuses was reported there already.
        static const std::regex duration_shape(
            "^(P[0-9]+[DW]|[0-9]+ ?(days?|weeks?|working days?|workdays?|个工作日|工作日|天|周))$");
        if (!duration && std::regex_match(node.Scalar(), duration_shape)) {
            diagnostics_.Error("bad-duration", Where(node), "'" + node.Scalar() + "' is not a duration",
                               "write P7D, P2W, 3 days, 2 weeks or 10 working days");
        }
        return duration;
    }

    std::optional<model::RoleRef> RoleOf(const std::optional<YAML::Node>& node) {
        if (!node || !node->IsScalar()) {
            return std::nullopt;
        }
        // A malformed reference was reported by the schema; do not also call it unknown.
        if (!IsRolePath(node->Scalar())) {
            return std::nullopt;
        }
        model::RoleRef role;
        std::string_view text = node->Scalar();
        while (text.rfind("parent.", 0) == 0) {
            ++role.levels_up;
            text.remove_prefix(7);
        }
        role.role = std::string(text);
        role.location = Where(*node);
        role_references_.push_back(role);
        return role;
    }

    // --- top level -----------------------------------------------------------

    void ReadMetadata(const YAML::Node& root, Definition& definition) {
        definition.api_version = Scalar(Child(root, "apiVersion"));
        definition.id = Scalar(Child(root, "id"));
        definition.version = Scalar(Child(root, "version"));
        definition.title = Text(Child(root, "title"));
        definition.description = Text(Child(root, "description"));
        const auto calendar = Child(root, "calendar");
        const auto start = Child(calendar, "start");
        const auto end = Child(calendar, "end");
        if (auto date = DateOf(start, "calendar.start")) {
            definition.start = *date;
            have_window_ = true;
        }
        if (auto date = DateOf(end, "calendar.end")) {
            definition.end = *date;
        } else {
            have_window_ = false;
        }
        if (have_window_ && definition.end < definition.start) {
            diagnostics_.Error("bad-window", Where(*end),
                               "the campaign ends (" + definition.end.ToString() + ") before it starts (" +
                                   definition.start.ToString() + ")");
            have_window_ = false;
        }
        definition.calendar_name = Scalar(Child(calendar, "working"));
    }

    void ReadNamedTexts(const std::optional<YAML::Node>& map, std::vector<model::NamedText>& out) {
        if (!map || !map->IsMap()) {
            return;
        }
        for (const auto& entry : *map) {
            model::NamedText named;
            named.id = entry.first.Scalar();
            named.location = Where(entry.first);
            if (entry.second.IsMap() && (Child(entry.second, "title") || Child(entry.second, "description"))) {
                named.title = Text(Child(entry.second, "title"));
                named.description = Text(Child(entry.second, "description"));
            } else {
                named.title = Text(entry.second);
            }
            out.push_back(std::move(named));
        }
    }

    void ReadNamedTexts(const YAML::Node& root, std::string_view key, std::vector<model::NamedText>& out) {
        ReadNamedTexts(Child(root, key), out);
    }

    void ReadScope(const YAML::Node& root, Definition& definition) {
        const auto scope = Child(root, "scope");
        ReadNamedTexts(Child(scope, "categories"), definition.categories);
        ReadNamedTexts(Child(scope, "member_types"), definition.member_types);
    }

    void ReadVariables(const YAML::Node& root, std::string_view key, std::vector<model::Variable>& out) {
        const auto map = Child(root, key);
        if (!map || !map->IsMap()) {
            return;
        }
        for (const auto& entry : *map) {
            model::Variable variable;
            variable.name = entry.first.Scalar();
            variable.location = Where(entry.first);
            const auto type_node = Child(entry.second, "type");
            const auto type = model::ParseFieldType(Scalar(type_node));
            if (!type) {
                continue;  // reported by the schema
            }
            variable.type = *type;
            variable.description = Text(Child(entry.second, "description"));
            if (const auto required = Child(entry.second, "required"); required && required->IsScalar()) {
                variable.required = required->Scalar() == "true";
            }
            if (const auto choices = Child(entry.second, "choices"); choices && choices->IsSequence()) {
                for (const auto& choice : *choices) {
                    variable.choices.push_back(Scalar(choice));
                }
            }
            if (const auto default_value = Child(entry.second, "default")) {
                Diagnostics ignored;
                auto json = detail::ToJson(*default_value, file_, options_.limits, ignored);
                if (json) {
                    variable.default_json = boost::json::serialize(*json);
                    CheckValueType(*json, variable.type, variable.choices, *default_value,
                                   std::string(key) + "." + variable.name + ".default");
                }
            }
            out.push_back(std::move(variable));
        }
    }

    void CheckValueType(const boost::json::value& value, model::FieldType type, const std::vector<std::string>& choices,
                        const YAML::Node& node, const std::string& what) {
        using model::FieldType;
        bool ok = true;
        switch (type) {
        case FieldType::integer:
            ok = value.is_int64() || value.is_uint64();
            break;
        case FieldType::number:
            ok = value.is_number();
            break;
        case FieldType::boolean:
            ok = value.is_bool();
            break;
        case FieldType::date:
            ok = value.is_string() && model::Date::Parse(value.as_string()).has_value();
            break;
        case FieldType::duration:
            ok = value.is_string() && model::Duration::Parse(value.as_string()).has_value();
            break;
        case FieldType::choice:
            ok = value.is_string() &&
                 std::find(choices.begin(), choices.end(), std::string(value.as_string())) != choices.end();
            break;
        case FieldType::list:
        case FieldType::attachment:
            ok = value.is_array();
            break;
        case FieldType::string:
        case FieldType::text:
            ok = value.is_string();
            break;
        }
        if (!ok) {
            diagnostics_.Error("bad-default", Where(node),
                               what + " does not match its type " + std::string(model::FieldTypeName(type)));
        }
    }

    void ReadPlugins(const YAML::Node& root, Definition& definition) {
        const auto map = Child(root, "plugins");
        if (!map || !map->IsMap()) {
            return;
        }
        for (const auto& entry : *map) {
            model::PluginDeclaration plugin;
            plugin.name = entry.first.Scalar();
            plugin.location = Where(entry.first);
            plugin.plugin = Scalar(Child(entry.second, "plugin"));
            plugin.version = Scalar(Child(entry.second, "version"));
            plugin.sha256 = Scalar(Child(entry.second, "sha256"));
            if (auto timeout = ParseMilliseconds(Scalar(Child(entry.second, "timeout")))) {
                plugin.timeout_ms = *timeout;
            }
            plugin.isolate = Scalar(Child(entry.second, "isolation")) == "process";
            std::optional<YAML::Node> config_node = Child(entry.second, "config");
            boost::json::value config_json = boost::json::object{};
            if (config_node) {
                plugin.config_location = Where(*config_node);
                Diagnostics ignored;
                if (auto json = detail::ToJson(*config_node, file_, options_.limits, ignored)) {
                    plugin.config_json = boost::json::serialize(*json);
                    config_json = std::move(*json);
                }
            }
            if (options_.check_plugin) {
                const auto plugin_node = Child(entry.second, "plugin");
                const SourceLocation at_plugin = plugin_node ? Where(*plugin_node) : plugin.location;
                for (const auto& problem : options_.check_plugin(plugin, config_json)) {
                    const SourceLocation where =
                        problem.path.empty() ? at_plugin : LocateInConfig(config_node, problem.path, plugin);
                    const std::string message =
                        problem.path.empty()
                            ? problem.message
                            : "config" + (problem.path == "/" ? std::string() : problem.path) + ": " + problem.message;
                    if (problem.warning) {
                        diagnostics_.Warning("plugin-config", where, message, problem.hint);
                    } else {
                        diagnostics_.Error(problem.path.empty() ? "plugin" : "plugin-config", where, message,
                                           problem.hint);
                    }
                }
            }
            definition.plugins.push_back(std::move(plugin));
        }
    }

    // The YAML node a JSON pointer into a declaration's config names: the
    // deepest key that exists (a missing key is reported at its parent).
    SourceLocation LocateInConfig(const std::optional<YAML::Node>& config, const std::string& pointer,
                                  const model::PluginDeclaration& plugin) const {
        if (!config) {
            return plugin.location;
        }
        YAML::Node node;
        node.reset(*config);
        SourceLocation where = Where(node);
        std::size_t start = 1;
        while (start <= pointer.size()) {
            std::size_t end = pointer.find('/', start);
            if (end == std::string::npos) {
                end = pointer.size();
            }
            const std::string key = pointer.substr(start, end - start);
            start = end + 1;
            if (key.empty()) {
                break;
            }
            YAML::Node next;
            if (node.IsMap()) {
                bool found = false;
                for (const auto& item : node) {
                    if (item.first.Scalar() == key) {
                        where = Where(item.first);
                        next = item.second;
                        found = true;
                        break;
                    }
                }
                if (!found) {
                    break;
                }
            } else if (node.IsSequence() && !key.empty() && key.find_first_not_of("0123456789") == std::string::npos &&
                       std::stoul(key) < node.size()) {
                next = node[std::stoul(key)];
                where = Where(next);
            } else {
                break;
            }
            node.reset(next);  // rebinds; `node = next` would overwrite the document's node
        }
        return where;
    }

    void ReadTemplates(const YAML::Node& root) {
        const auto map = Child(root, "templates");
        if (!map || !map->IsMap()) {
            return;
        }
        for (const auto& entry : *map) {
            templates_.emplace(entry.first.Scalar(), entry);
        }
    }

    std::map<model::HookEvent, std::vector<model::Hook>> ReadHooks(const std::optional<YAML::Node>& node,
                                                                   const Definition& definition) {
        std::map<model::HookEvent, std::vector<model::Hook>> hooks;
        if (!node || !node->IsMap()) {
            return hooks;
        }
        static const std::pair<std::string_view, model::HookEvent> events[] = {
            {"enter", model::HookEvent::enter},         {"submit", model::HookEvent::submit},
            {"return", model::HookEvent::returned},     {"complete", model::HookEvent::complete},
            {"overdue", model::HookEvent::overdue},     {"remind", model::HookEvent::remind},
            {"escalated", model::HookEvent::escalated}, {"fail", model::HookEvent::fail},
        };
        for (const auto& entry : *node) {
            const std::string event_name = entry.first.Scalar();
            const auto event = std::find_if(std::begin(events), std::end(events),
                                            [&](const auto& known) { return known.first == event_name; });
            if (event == std::end(events) || !entry.second.IsSequence()) {
                continue;  // reported by the schema
            }
            for (const auto& item : entry.second) {
                model::Hook hook;
                hook.location = Where(item);
                const auto notify = Child(item, "notify");
                hook.notify = Scalar(notify);
                if (notify) {
                    CheckPluginReference(definition, hook.notify, *notify);
                }
                if (const auto to = Child(item, "to")) {
                    hook.to = RoleOf(to);
                }
                hook.template_name = Scalar(Child(item, "template"));
                hook.message = Text(Child(item, "message"));
                hooks[event->second].push_back(std::move(hook));
            }
        }
        return hooks;
    }

    void CheckPluginReference(const Definition& definition, const std::string& name, const YAML::Node& node) {
        if (name.empty()) {
            return;
        }
        std::vector<std::string> declared;
        for (const auto& plugin : definition.plugins) {
            if (plugin.name == name) {
                return;
            }
            declared.push_back(plugin.name);
        }
        diagnostics_.Error("unknown-plugin", Where(node), "unknown plugin '" + name + "'",
                           declared.empty() ? "declare it under 'plugins:' first" : SuggestOrList(name, declared));
    }

    // --- steps ---------------------------------------------------------------

    // Resolves the template chain of a step or template; reports unknown templates and cycles.
    void ResolveChain(const YAML::Node& node, StepSource& source) {
        source.Append(node);
        std::set<std::string> seen;
        YAML::Node current = node;
        for (;;) {
            const auto extends = Child(current, "extends");
            if (!extends || !extends->IsScalar()) {
                return;
            }
            const std::string name = extends->Scalar();
            const auto found = templates_.find(name);
            if (found == templates_.end()) {
                std::vector<std::string> known;
                for (const auto& [template_name, entry] : templates_) {
                    known.push_back(template_name);
                }
                diagnostics_.Error("unknown-template", Where(*extends), "unknown template '" + name + "'",
                                   known.empty() ? "declare it under 'templates:'" : DidYouMean(name, known));
                return;
            }
            if (!seen.insert(name).second || source.chain.size() > 32) {
                diagnostics_.Error("template-cycle", Where(*extends),
                                   "template '" + name + "' extends itself through a chain of templates");
                return;
            }
            source.Append(found->second.second);
            current.reset(found->second.second);  // rebind; operator= would write through to the step
        }
    }

    void ReadSteps(const YAML::Node& root, Definition& definition) {
        const auto map = Child(root, "steps");
        if (!map || !map->IsMap()) {
            graph_complete_ = false;
            return;
        }
        if (map->size() > options_.limits.max_steps) {
            diagnostics_.Error("too-many-steps", Where(*map),
                               "the workflow has " + std::to_string(map->size()) + " steps; the limit is " +
                                   std::to_string(options_.limits.max_steps),
                               "raise --max-steps if this is intended");
            graph_complete_ = false;
            return;
        }
        std::vector<StepSource> sources;
        sources.reserve(map->size());
        for (const auto& entry : *map) {
            if (!entry.first.IsScalar()) {
                continue;  // reported while reading
            }
            StepSource source;
            source.id = entry.first.Scalar();
            source.key = entry.first;
            if (definition.step_index.count(source.id) != 0) {
                continue;  // duplicate key, reported while reading
            }
            ResolveChain(entry.second, source);
            definition.step_index.emplace(source.id, definition.steps.size());
            Step step;
            step.id = source.id;
            step.location = Where(entry.first);
            definition.steps.push_back(std::move(step));
            sources.push_back(std::move(source));
        }
        for (std::size_t i = 0; i < sources.size(); ++i) {
            ReadStep(sources[i], definition, definition.steps[i]);
        }
        // The start step.
        if (const auto start = Child(root, "start"); start && start->IsScalar()) {
            definition.start_step = start->Scalar();
            CheckStepReference(definition, definition.start_step, *start);
        } else if (!definition.steps.empty()) {
            definition.start_step = definition.steps.front().id;
        }
    }

    void CheckStepReference(const Definition& definition, const std::string& id, const YAML::Node& node) {
        if (definition.step_index.count(id) != 0) {
            return;
        }
        std::vector<std::string> known;
        known.reserve(definition.steps.size());
        for (const auto& step : definition.steps) {
            known.push_back(step.id);
        }
        diagnostics_.Error("unknown-step", Where(node), "unknown step '" + id + "'", DidYouMean(id, known));
        graph_complete_ = false;
    }

    void CheckKnownId(const std::vector<model::NamedText>& declared, const std::string& id, const YAML::Node& node,
                      std::string_view what, std::string_view section) {
        std::vector<std::string> known;
        for (const auto& item : declared) {
            if (item.id == id) {
                return;
            }
            known.push_back(item.id);
        }
        diagnostics_.Error("unknown-" + std::string(what == "unit category" ? "category" : what), Where(node),
                           "unknown " + std::string(what) + " '" + id + "'",
                           known.empty() ? "declare it under '" + std::string(section) + "'" : DidYouMean(id, known));
    }

    void ReadStep(const StepSource& source, Definition& definition, Step& step) {
        // Kind: from the step or its templates.
        const auto kind_node = source.Find("kind");
        const auto kind = model::ParseStepKind(Scalar(kind_node));
        if (!kind) {
            if (!kind_node) {
                diagnostics_.Error("missing-kind", Where(source.key), "step '" + source.id + "' has no kind",
                                   "add 'kind: task' (or action, decision, parallel, join, subflow, end), "
                                   "or extend a template that sets it");
            }
            graph_complete_ = false;
            return;
        }
        step.kind = *kind;
        if (source.chain.size() > 1) {
            step.template_name = Scalar(Child(source.chain.front(), "extends"));
        }
        CheckKeysApply(source, step.kind);

        step.title = Text(source.Find("title"));
        step.description = Text(source.Find("description"));
        if (const auto stage = source.Find("stage"); stage && stage->IsScalar()) {
            step.stage = stage->Scalar();
            CheckKnownId(definition.stages, step.stage, *stage, "stage", "stages:");
        }
        if (const auto applies = source.Find("applies_to"); applies && applies->IsSequence()) {
            for (const auto& category : *applies) {
                step.applies_to.push_back(Scalar(category));
                CheckKnownId(definition.categories, step.applies_to.back(), category, "unit category",
                             "scope.categories:");
            }
        }
        if (const auto applies_if = source.Find("applies_if")) {
            step.applies_if = SourceExpressionOf(*applies_if);
            pending_.push_back({&step, &*step.applies_if, PendingKind::applies_if, *applies_if});
        }
        if (const auto opens = source.Find("opens")) {
            step.opens = DateOf(opens, "opens");
            opens_nodes_[step.id] = *opens;
        }
        step.hooks = ReadHooks(source.Find("on"), definition);
        // Hooks from templates add to the step's own.
        for (std::size_t i = 1; i < source.chain.size(); ++i) {
            if (Child(source.chain.front(), "on") && Child(source.chain[i], "on")) {
                for (auto& [event, hooks] : ReadHooks(Child(source.chain[i], "on"), definition)) {
                    auto& target = step.hooks[event];
                    target.insert(target.end(), hooks.begin(), hooks.end());
                }
            }
        }

        switch (step.kind) {
        case StepKind::task:
            ReadTask(source, step);
            break;
        case StepKind::action:
            ReadAction(source, definition, step);
            break;
        case StepKind::join:
            ReadJoin(source, step);
            break;
        case StepKind::subflow:
            ReadSubflow(source, definition, step);
            break;
        default:
            break;
        }
        if (step.kind == StepKind::task || step.kind == StepKind::action || step.kind == StepKind::subflow) {
            ReadDeadlines(source, step);
        }
        ReadNext(source, definition, step);
    }

    void CheckKeysApply(const StepSource& source, StepKind kind) {
        const auto& allowed = KindKeys().at(kind);
        for (const auto& node : source.chain) {
            if (!node.IsMap()) {
                continue;
            }
            const bool is_template = &node != &source.chain.front();
            for (const auto& entry : node) {
                const std::string& key = entry.first.Scalar();
                if (CommonKeys().count(key) != 0 || allowed.count(key) != 0) {
                    continue;
                }
                // Keys of other kinds (the schema knows them all): say they do not apply.
                bool known_elsewhere = false;
                for (const auto& [other_kind, keys] : KindKeys()) {
                    known_elsewhere = known_elsewhere || keys.count(key) != 0;
                }
                if (!known_elsewhere) {
                    continue;  // unknown key, reported by the schema
                }
                std::string where;
                std::string used_by;
                for (const auto& [other_kind, keys] : KindKeys()) {
                    if (keys.count(key) != 0) {
                        used_by += (used_by.empty() ? "" : ", ") + std::string(model::StepKindName(other_kind));
                    }
                }
                diagnostics_.Error("key-not-for-kind", Where(entry.first),
                                   "'" + key + "' does not apply to " +
                                       (kind == StepKind::action || kind == StepKind::end ? "an " : "a ") +
                                       std::string(model::StepKindName(kind)) + " step" +
                                       (is_template ? " (it comes from a template)" : ""),
                                   "'" + key + "' is used by " + used_by.append(" steps"));
            }
        }
    }

    model::SourceExpression SourceExpressionOf(const YAML::Node& node) {
        model::SourceExpression expression;
        expression.text = node.IsScalar() ? node.Scalar() : std::string();
        expression.location = Where(node);
        return expression;
    }

    void ReadTask(const StepSource& source, Step& step) {
        const auto assignee = source.Find("assignee");
        step.assignee = RoleOf(assignee);
        if (!assignee) {
            diagnostics_.Error("missing-assignee", Where(source.key), "task '" + step.id + "' has no assignee",
                               "add 'assignee: <role>', e.g. assignee: leader");
        }
        // Form fields: templates first, then the step's own override same-named fields.
        for (auto node = source.chain.rbegin(); node != source.chain.rend(); ++node) {
            const auto form = Child(*node, "form");
            if (!form || !form->IsMap()) {
                continue;
            }
            for (const auto& entry : *form) {
                model::FormField field = ReadField(entry.first, entry.second);
                auto existing = std::find_if(step.form.begin(), step.form.end(),
                                             [&](const model::FormField& f) { return f.name == field.name; });
                if (existing != step.form.end()) {
                    *existing = std::move(field);
                } else {
                    step.form.push_back(std::move(field));
                }
            }
        }
        if (const auto review = source.Find("review"); review && review->IsMap()) {
            model::Review parsed;
            parsed.location = Where(*review);
            if (auto by = RoleOf(Child(*review, "by"))) {
                parsed.by = *by;
            }
            if (const auto rounds = Child(*review, "max_rounds"); rounds && rounds->IsScalar()) {
                parsed.max_rounds = std::atoi(rounds->Scalar().c_str());
            }
            parsed.criteria = Text(Child(*review, "criteria"));
            step.review = parsed;
        }
        if (const auto gate = source.Find("gate")) {
            step.gate = SourceExpressionOf(*gate);
            pending_.push_back({&step, &*step.gate, PendingKind::gate, *gate});
        }
    }

    model::FormField ReadField(const YAML::Node& key, const YAML::Node& node) {
        using model::FieldType;
        model::FormField field;
        field.name = key.Scalar();
        field.location = Where(key);
        const auto type = model::ParseFieldType(Scalar(Child(node, "type")));
        if (!type) {
            return field;  // reported by the schema
        }
        field.type = *type;
        field.title = Text(Child(node, "title"));
        field.description = Text(Child(node, "description"));
        if (const auto required = Child(node, "required"); required && required->IsScalar()) {
            field.required = required->Scalar() != "false";
        }
        auto number = [&](std::string_view name) -> std::optional<double> {
            const auto value = Child(node, name);
            if (!value || !value->IsScalar()) {
                return std::nullopt;
            }
            try {
                const double parsed = std::stod(value->Scalar());
                // NaN or infinity as a bound means nothing; the schema check reports the value.
                return std::isfinite(parsed) ? std::optional<double>(parsed) : std::nullopt;
            } catch (const std::exception&) {
                return std::nullopt;
            }
        };
        auto integer = [&](std::string_view name) -> std::optional<std::int64_t> {
            const auto value = number(name);
            // Out of int64 range the cast would be undefined; such a length is meaningless anyway.
            if (!value || *value < -9.2e18 || *value > 9.2e18) {
                return std::nullopt;
            }
            return static_cast<std::int64_t>(*value);
        };
        field.minimum = number("minimum");
        field.maximum = number("maximum");
        field.min_length = integer("min_length");
        field.max_length = integer("max_length");
        field.min_items = integer("min_items");
        field.max_items = integer("max_items");
        field.pattern = Scalar(Child(node, "pattern"));
        field.unit = Scalar(Child(node, "unit"));
        if (const auto choices = Child(node, "choices"); choices && choices->IsSequence()) {
            for (const auto& choice : *choices) {
                field.choices.push_back(Scalar(choice));
            }
        }
        if (const auto accept = Child(node, "accept"); accept && accept->IsSequence()) {
            for (const auto& extension : *accept) {
                field.accept.push_back(Scalar(extension));
            }
        }
        // Constraints must fit the field's type.
        const bool numeric = field.type == FieldType::integer || field.type == FieldType::number;
        const bool textual = field.type == FieldType::string || field.type == FieldType::text;
        const bool listy = field.type == FieldType::list || field.type == FieldType::attachment;
        auto misplaced = [&](std::string_view name, bool fits, std::string_view fits_what) {
            if (const auto value = Child(node, name); value && !fits) {
                diagnostics_.Error("constraint-not-for-type", Where(*detail::FindKeyNode(node, name)),
                                   "'" + std::string(name) + "' does not apply to a field of type " +
                                       std::string(model::FieldTypeName(field.type)),
                                   "'" + std::string(name) + "' applies to " + std::string(fits_what) + " fields");
            }
        };
        misplaced("minimum", numeric, "integer and number");
        misplaced("maximum", numeric, "integer and number");
        misplaced("min_length", textual, "string and text");
        misplaced("max_length", textual, "string and text");
        misplaced("pattern", textual, "string and text");
        misplaced("choices", field.type == FieldType::choice, "choice");
        misplaced("min_items", listy, "list and attachment");
        misplaced("max_items", listy, "list and attachment");
        misplaced("accept", field.type == FieldType::attachment, "attachment");
        if (field.type == FieldType::choice && field.choices.empty()) {
            diagnostics_.Error("missing-choices", field.location, "choice field '" + field.name + "' lists no choices",
                               "add 'choices: [a, b, c]'");
        }
        if (field.minimum && field.maximum && *field.minimum > *field.maximum) {
            diagnostics_.Error("empty-range", Where(*Child(node, "maximum")),
                               "maximum is smaller than minimum, so no value is valid");
        }
        if (field.min_items && field.max_items && *field.min_items > *field.max_items) {
            diagnostics_.Error("empty-range", Where(*Child(node, "max_items")),
                               "max_items is smaller than min_items, so no value is valid");
        }
        if (!field.pattern.empty()) {
            try {
                std::regex compiled(field.pattern, std::regex::ECMAScript);
            } catch (const std::regex_error& error) {
                diagnostics_.Error("bad-pattern", Where(*Child(node, "pattern")),
                                   "pattern is not a valid regular expression: " + std::string(error.what()));
            }
        }
        return field;
    }

    void ReadAction(const StepSource& source, Definition& definition, Step& step) {
        const auto plugin = source.Find("plugin");
        if (!plugin) {
            diagnostics_.Error("missing-plugin", Where(source.key), "action '" + step.id + "' names no plugin",
                               "add 'plugin: <name declared under plugins:>'");
        } else {
            step.action.plugin = Scalar(plugin);
            CheckPluginReference(definition, step.action.plugin, *plugin);
        }
        step.action.action = Scalar(source.Find("action"));
        if (const auto with = source.Find("with")) {
            Diagnostics ignored;
            if (auto json = detail::ToJson(*with, file_, options_.limits, ignored)) {
                step.action.with_json = boost::json::serialize(*json);
            }
        }
        if (const auto retry = source.Find("retry"); retry && retry->IsMap()) {
            if (const auto attempts = Child(*retry, "max_attempts"); attempts && attempts->IsScalar()) {
                step.action.max_attempts = std::atoi(attempts->Scalar().c_str());
            }
            if (auto backoff = ParseMilliseconds(Scalar(Child(*retry, "backoff")))) {
                step.action.backoff_ms = *backoff;
            }
        }
        if (auto timeout = ParseMilliseconds(Scalar(source.Find("timeout")))) {
            step.action.timeout_ms = *timeout;
        }
    }

    void ReadJoin(const StepSource& source, Step& step) {
        const auto require = source.Find("require");
        const std::string text = Scalar(require);
        if (text.empty() || text == "all") {
            step.join_rule = model::JoinRule::all;
        } else if (text == "any") {
            step.join_rule = model::JoinRule::any;
        } else {
            step.join_rule = model::JoinRule::at_least;
            step.join_count = std::atoi(text.c_str());
        }
    }

    void ReadSubflow(const StepSource& source, Definition& definition, Step& step) {
        const auto workflow = source.Find("workflow");
        if (!workflow) {
            diagnostics_.Error("missing-workflow", Where(source.key), "subflow '" + step.id + "' names no workflow",
                               "add 'workflow: <file>.yaml' (relative to this file)");
        } else {
            step.subflow.workflow_path = Scalar(workflow);
            subflow_nodes_.emplace_back(step.id, *workflow);
        }
        if (const auto children = source.Find("children")) {
            if (const auto categories = Child(*children, "categories"); categories && categories->IsSequence()) {
                for (const auto& category : *categories) {
                    step.subflow.child_categories.push_back(Scalar(category));
                    CheckKnownId(definition.categories, step.subflow.child_categories.back(), category, "unit category",
                                 "scope.categories:");
                }
            }
        }
        const std::string rule = Scalar(source.Find("complete_when"));
        if (rule.empty() || rule == "all") {
            step.subflow.rule = model::ChildRule::all;
        } else if (rule == "any") {
            step.subflow.rule = model::ChildRule::any;
        } else if (rule.back() == '%') {
            step.subflow.rule = model::ChildRule::at_least_percent;
            step.subflow.threshold = std::atoi(rule.c_str());
            if (step.subflow.threshold < 1 || step.subflow.threshold > 100) {
                diagnostics_.Error("bad-share", Where(*source.Find("complete_when")),
                                   "'" + rule + "' is not a share between 1% and 100%");
            }
        } else {
            step.subflow.rule = model::ChildRule::at_least_count;
            step.subflow.threshold = std::atoi(rule.c_str());
        }
    }

    void ReadDeadlines(const StepSource& source, Step& step) {
        if (const auto due = source.Find("due"); due && due->IsScalar()) {
            step.due.location = Where(*due);
            if (auto date = model::Date::Parse(due->Scalar())) {
                step.due.kind = model::DeadlineKind::date;
                step.due.date = *date;
            } else if (auto duration = model::Duration::Parse(due->Scalar())) {
                step.due.kind = model::DeadlineKind::after_activation;
                step.due.duration = *duration;
            } else if (due->Scalar().size() == 10 && due->Scalar()[4] == '-') {
                diagnostics_.Error("bad-date", Where(*due), "'" + due->Scalar() + "' is not a real date");
            }
        }
        if (const auto remind = source.Find("remind"); remind && remind->IsSequence()) {
            if (step.due.kind == model::DeadlineKind::none) {
                diagnostics_.Error(
                    "remind-without-due", Where(*remind),
                    "reminders are counted back from the due date, but step '" + step.id + "' has no 'due'");
            }
            for (const auto& item : *remind) {
                if (auto duration = DurationOf(item)) {
                    step.remind.push_back(*duration);
                    const auto& due = step.due;
                    if (due.kind == model::DeadlineKind::after_activation && due.duration.unit == duration->unit &&
                        duration->amount >= due.duration.amount) {
                        diagnostics_.Error("remind-before-start", Where(item),
                                           "a reminder " + duration->ToString() + " before a due date " +
                                               due.duration.ToString() +
                                               " after activation would fire before the "
                                               "step is active");
                    }
                }
            }
        }
        if (const auto escalate = source.Find("escalate"); escalate && escalate->IsMap()) {
            model::Escalation escalation;
            escalation.location = Where(*escalate);
            if (const auto after = Child(*escalate, "after")) {
                if (auto duration = DurationOf(*after)) {
                    escalation.after = *duration;
                }
            }
            if (auto to = RoleOf(Child(*escalate, "to"))) {
                escalation.to = *to;
                if (to->levels_up == 0) {
                    diagnostics_.Error(
                        "escalate-to-self", to->location,
                        "escalation goes to the unit above, but '" + to->role + "' is a role of the unit itself",
                        "write 'parent." + to->role + "'");
                }
            }
            if (step.due.kind == model::DeadlineKind::none) {
                diagnostics_.Error("escalate-without-due", escalation.location,
                                   "escalation is counted from the due date, but step '" + step.id + "' has no 'due'");
            }
            step.escalate.push_back(escalation);
        }
    }

    void ReadNext(const StepSource& source, Definition& definition, Step& step) {
        const auto next = source.Find("next");
        if (step.kind == StepKind::end) {
            if (next) {
                diagnostics_.Error("end-has-next", Where(*next), "an end step has no 'next'",
                                   "remove 'next', or use another kind of step");
            }
            return;
        }
        if (!next) {
            diagnostics_.Error("missing-next", Where(source.key), "step '" + step.id + "' has no 'next'",
                               "every step except an end says where the work goes next");
            graph_complete_ = false;
            return;
        }
        auto add = [&](const YAML::Node& to_node, const YAML::Node& item) {
            model::Transition transition;
            transition.to = Scalar(to_node);
            transition.location = Where(item);
            CheckStepReference(definition, transition.to, to_node);
            if (item.IsMap()) {
                if (const auto when = Child(item, "when")) {
                    transition.when = SourceExpressionOf(*when);
                    when_nodes_.push_back({step.id, step.next.size(), *when});
                }
                if (const auto rounds = Child(item, "max_rounds"); rounds && rounds->IsScalar()) {
                    transition.max_rounds = std::atoi(rounds->Scalar().c_str());
                }
                transition.label = Text(Child(item, "label"));
            }
            step.next.push_back(std::move(transition));
        };
        if (next->IsScalar()) {
            add(*next, *next);
        } else if (next->IsSequence()) {
            for (const auto& item : *next) {
                if (item.IsScalar()) {
                    add(item, item);
                } else if (const auto to = Child(item, "to")) {
                    add(*to, item);
                }
            }
        } else {
            graph_complete_ = false;
            return;
        }
        CheckRouting(step, *next);
    }

    void CheckRouting(const Step& step, const YAML::Node& next) {
        const auto& edges = step.next;
        if (step.kind == StepKind::parallel) {
            if (edges.size() < 2) {
                diagnostics_.Error("parallel-one-branch", Where(next),
                                   "parallel '" + step.id + "' has " + std::to_string(edges.size()) +
                                       " branch; a parallel needs at least two",
                                   "use a plain 'next' for a single path");
            }
            std::set<std::string> targets;
            for (const auto& edge : edges) {
                if (!targets.insert(edge.to).second) {
                    diagnostics_.Error("duplicate-branch", edge.location,
                                       "parallel '" + step.id + "' lists branch '" + edge.to + "' twice");
                }
            }
            return;
        }
        if (edges.size() == 1 && !edges.front().when) {
            if (step.kind == StepKind::decision) {
                diagnostics_.Error("decision-one-route", Where(next),
                                   "decision '" + step.id + "' has a single route, so it decides nothing",
                                   "list the routes with 'when', ending with a default route without 'when'");
            }
            return;
        }
        // Routes are tried in order; the last must be the unconditional default.
        bool early_default = false;
        for (std::size_t i = 0; i < edges.size(); ++i) {
            const bool last = i + 1 == edges.size();
            if (!edges[i].when && !last) {
                early_default = true;
                diagnostics_.Error(
                    "default-not-last", edges[i].location,
                    "route to '" + edges[i].to + "' has no 'when', so the routes after it are never taken",
                    "put the default route (the one without 'when') last");
            }
            if (edges[i].when && last && !early_default) {
                diagnostics_.Error(
                    "no-default-route", edges[i].location,
                    "step '" + step.id + "' has no default route: when no 'when' holds, the work stops here",
                    "add a last route without 'when'");
            }
        }
    }

    // --- calendar --------------------------------------------------------------

    void ReadCalendar(const YAML::Node& root, Definition& definition) {
        if (definition.calendar_name.empty()) {
            return;
        }
        const auto node = *Child(Child(root, "calendar"), "working");
        const fs::path base = fs::path(file_).parent_path();
        const std::string& name = definition.calendar_name;
        const bool is_path = name.find('/') != std::string::npos || name.ends_with(".yaml") || name.ends_with(".yml");
        const fs::path path = is_path ? base / name : base / "calendars" / (name + ".yaml");
        if (!WorkflowSourceExists(path.string(), options_)) {
            diagnostics_.Error(
                "unknown-calendar", Where(node),
                "calendar '" + name + "' not found (looked for " + path.lexically_normal().string() + ")",
                "name a file in calendars/ next to the workflow, or give a path");
            return;
        }
        Diagnostics calendar_diagnostics;
        std::optional<model::WorkingCalendar> calendar;
        if (auto text = ReadWorkflowSource(path.string(), options_, calendar_diagnostics)) {
            calendar = LoadCalendarText(*text, path.lexically_normal().string(), calendar_diagnostics);
        }
        diagnostics_.Append(calendar_diagnostics);
        if (!calendar) {
            diagnostics_.Error("bad-calendar", Where(node),
                               "calendar '" + name + "' has errors; they are listed under its own file");
            return;
        }
        if (!is_path && calendar->id != name) {
            diagnostics_.Error("calendar-id-mismatch", Where(node),
                               "calendar file " + path.filename().string() + " declares id '" + calendar->id +
                                   "', not '" + name + "'");
        }
        if (have_window_ && (!calendar->Covers(definition.start) || !calendar->Covers(definition.end))) {
            diagnostics_.Error("calendar-too-short", Where(node),
                               "calendar '" + name + "' covers " + calendar->covers_from.ToString() + " to " +
                                   calendar->covers_to.ToString() + ", not the whole campaign (" +
                                   definition.start.ToString() + " to " + definition.end.ToString() + ")",
                               "working days outside a calendar's coverage cannot be counted");
        }
        definition.calendar = std::move(*calendar);
    }

    // --- expressions -----------------------------------------------------------

    enum class PendingKind { gate, applies_if };
    struct PendingExpression {
        Step* step;
        model::SourceExpression* expression;
        PendingKind kind;
        YAML::Node node;
    };
    struct WhenNode {
        std::string step;
        std::size_t edge;
        YAML::Node node;
    };

    TypeScope BaseScope(const Definition& definition) const {
        TypeScope scope;
        using model::Type;
        using model::TypeKind;
        for (const auto& variable : definition.variables) {
            scope.Define("vars." + variable.name, model::ExpressionTypeOf(variable.type, variable.choices));
        }
        for (const auto& input : definition.inputs) {
            scope.Define("inputs." + input.name, model::ExpressionTypeOf(input.type, input.choices));
        }
        scope.Define("unit.id", Type::Of(TypeKind::string));
        scope.Define("unit.name", Type::Of(TypeKind::string));
        std::vector<std::string> categories;
        for (const auto& category : definition.categories) {
            categories.push_back(category.id);
        }
        scope.Define("unit.category", categories.empty() ? Type::Of(TypeKind::string) : Type::Choice(categories));
        scope.Define("unit.level", Type::Of(TypeKind::integer));
        scope.Define("unit.children", Type::Of(TypeKind::integer));
        for (const auto& member_type : definition.member_types) {
            scope.Define("unit.members." + member_type.id, Type::Of(TypeKind::integer));
        }
        for (const char* counter : {"open", "closed", "overdue", "total"}) {
            scope.Define(std::string("problems.") + counter, Type::Of(TypeKind::integer));
        }
        for (const auto& step : definition.steps) {
            scope.Define("steps." + step.id + ".rounds", Type::Of(TypeKind::integer));
            for (const auto& field : step.form) {
                scope.Define("steps." + step.id + ".form." + field.name,
                             model::ExpressionTypeOf(field.type, field.choices));
            }
        }
        return scope;
    }

    void CheckOne(model::SourceExpression& expression, const YAML::Node& node, const TypeScope& scope,
                  model::TypeKind expected) {
        if (!node.IsScalar()) {
            return;  // reported by the schema
        }
        ExpressionLimits limits;
        limits.max_length = options_.limits.max_expression_length;
        limits.max_depth = options_.limits.max_expression_depth;
        ParseResult parsed = ParseExpression(expression.text, limits);
        auto report = [&](const ExpressionError& error) {
            diagnostics_.Error(error.code.empty() ? "expression" : error.code,
                               detail::LocationInScalar(node, error.offset, text_, file_), error.message, error.hint);
        };
        for (const auto& error : parsed.errors) {
            report(error);
        }
        if (!parsed.expression) {
            return;
        }
        for (const auto& error : CheckExpression(*parsed.expression, scope, expected)) {
            report(error);
        }
        expression.tree = std::shared_ptr<const model::Expression>(std::move(parsed.expression));
    }

    void BuildScopeAndCheckExpressions(Definition& definition) {
        const TypeScope base = BaseScope(definition);
        // Each step's own form is in scope for its gate and its outgoing routes.
        auto scope_for = [&](const Step& step) {
            TypeScope scope(&base);
            for (const auto& field : step.form) {
                scope.Define("form." + field.name, model::ExpressionTypeOf(field.type, field.choices));
            }
            return scope;
        };
        for (auto& pending : pending_) {
            if (pending.kind == PendingKind::applies_if) {
                CheckOne(*pending.expression, pending.node, base, model::TypeKind::boolean);
            } else {
                CheckOne(*pending.expression, pending.node, scope_for(*pending.step), model::TypeKind::boolean);
            }
        }
        for (auto& when : when_nodes_) {
            auto& step = definition.steps[definition.step_index.at(when.step)];
            auto& transition = step.next[when.edge];
            if (transition.when) {
                // Only steps with a form need a scope of their own; never copy the base scope.
                if (step.form.empty()) {
                    CheckOne(*transition.when, when.node, base, model::TypeKind::boolean);
                } else {
                    CheckOne(*transition.when, when.node, scope_for(step), model::TypeKind::boolean);
                }
            }
        }
    }

    // --- deadlines and roles -----------------------------------------------------

    void CheckDeadlines(const Definition& definition) {
        for (const auto& role : role_references_) {
            if (definition.FindRole(role.role) != nullptr) {
                continue;
            }
            std::vector<std::string> known;
            for (const auto& declared : definition.roles) {
                known.push_back(declared.id);
            }
            diagnostics_.Error("unknown-role", role.location, "unknown role '" + role.role + "'",
                               known.empty() ? "declare it under 'roles:'" : DidYouMean(role.role, known));
        }
        if (!have_window_) {
            return;
        }
        const std::string window = definition.start.ToString() + " to " + definition.end.ToString();
        for (const auto& step : definition.steps) {
            if (step.due.kind == model::DeadlineKind::date &&
                (step.due.date < definition.start || definition.end < step.due.date)) {
                diagnostics_.Error("due-outside-calendar", step.due.location,
                                   "due date " + step.due.date.ToString() + " of step '" + step.id +
                                       "' is outside the campaign (" + window + ")");
            }
            if (step.opens && (*step.opens < definition.start || definition.end < *step.opens)) {
                diagnostics_.Error("opens-outside-calendar", Where(opens_nodes_.at(step.id)),
                                   "opening date " + step.opens->ToString() + " of step '" + step.id +
                                       "' is outside the campaign (" + window + ")");
            }
            if (step.opens && step.due.kind == model::DeadlineKind::date && step.due.date < *step.opens) {
                diagnostics_.Error("due-before-start", step.due.location,
                                   "step '" + step.id + "' is due " + step.due.date.ToString() +
                                       ", before it opens on " + step.opens->ToString());
            }
        }
    }

    // --- subflows ---------------------------------------------------------------

    void LoadSubflows() {
        const fs::path base = fs::path(file_).parent_path();
        for (const auto& [step_id, node] : subflow_nodes_) {
            const fs::path path = (base / node.Scalar()).lexically_normal();
            std::error_code error;
            if (!WorkflowSourceExists(path.string(), options_)) {
                diagnostics_.Error(
                    "unknown-workflow", Where(node),
                    "subflow workflow '" + node.Scalar() + "' not found (looked for " + path.string() + ")");
                continue;
            }
            if (!options_.load_subflows) {
                continue;
            }
            const std::string key = fs::weakly_canonical(path, error).string();
            if (loading_.count(key) != 0) {
                diagnostics_.Error("subflow-cycle", Where(node),
                                   "subflow '" + node.Scalar() + "' runs a workflow that is already running above it",
                                   "a workflow cannot cascade into itself");
                continue;
            }
            LoadResult child = LoadNested(path.string());
            diagnostics_.Append(child.diagnostics);
        }
    }

    LoadResult LoadNested(const std::string& path);

    const std::string& file_;
    const std::string& text_;
    const LoadOptions& options_;
    LoadResult& result_;
    Diagnostics& diagnostics_;
    std::set<std::string>& loading_;
    bool have_window_ = false;
    bool graph_complete_ = true;
    std::map<std::string, std::pair<YAML::Node, YAML::Node>> templates_;
    std::vector<PendingExpression> pending_;
    std::vector<WhenNode> when_nodes_;
    std::vector<model::RoleRef> role_references_;
    std::map<std::string, YAML::Node> opens_nodes_;
    std::vector<std::pair<std::string, YAML::Node>> subflow_nodes_;
};

bool IsName(const std::string& key) {
    return !key.empty() && key[0] >= 'a' && key[0] <= 'z' && std::all_of(key.begin(), key.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    });
}

// Keys that become names (steps, roles, fields...) must be usable in
// expressions. valijson checks propertyNames without reporting which key
// failed, so this is checked here, with the key's location.
void CheckNames(const YAML::Node& root, const std::string& file, Diagnostics& diagnostics) {
    auto child = [](const YAML::Node& map, std::string_view key) {
        return detail::FindValue(map, key).value_or(YAML::Node(YAML::NodeType::Null));
    };
    auto check_map = [&](const YAML::Node& map, const std::string& where) {
        if (!map.IsMap()) {
            return;
        }
        for (const auto& entry : map) {
            if (entry.first.IsScalar() && !IsName(entry.first.Scalar())) {
                diagnostics.Error("bad-name", detail::LocationOf(entry.first, file),
                                  "'" + entry.first.Scalar() + "' is not a valid name in '" + where + "'",
                                  "names use lower-case letters, digits and '_', starting with a letter "
                                  "(e.g. reading_class)");
            }
        }
    };
    for (const char* section : {"steps", "templates", "roles", "stages", "inputs", "variables", "plugins"}) {
        const YAML::Node map = child(root, section);
        check_map(map, section);
        if ((std::string_view(section) == "steps" || std::string_view(section) == "templates") && map.IsMap()) {
            for (const auto& entry : map) {
                if (entry.first.IsScalar()) {
                    check_map(child(entry.second, "form"), std::string(section) + "." + entry.first.Scalar() + ".form");
                }
            }
        }
    }
    const YAML::Node scope = child(root, "scope");
    check_map(child(scope, "categories"), "scope.categories");
    check_map(child(scope, "member_types"), "scope.member_types");
}

LoadResult LoadText(const std::string& text, const std::string& file, const LoadOptions& options,
                    std::set<std::string>& loading) {
    LoadResult result;
    Diagnostics& diagnostics = result.diagnostics;
    if (text.size() > options.limits.max_file_size) {
        detail::ReportFileTooLarge(file, options.limits, diagnostics);
        return result;
    }
    if (!detail::CheckUtf8(text, file, diagnostics)) {
        return result;
    }
    auto root = detail::ParseYaml(text, file, diagnostics);
    if (!root) {
        return result;
    }
    auto json = detail::ToJson(*root, file, options.limits, diagnostics, text.find('*') != std::string::npos);
    if (!json) {
        return result;
    }
    if (!root->IsMap()) {
        diagnostics.Error("not-a-workflow", detail::LocationOf(*root, file),
                          "a workflow file is a mapping with apiVersion, kind, id, title, calendar and steps");
        return result;
    }
    // Refuse oversized workflows before the (costlier) schema validation.
    if (const auto steps = detail::FindValue(*root, "steps");
        steps && steps->IsMap() && steps->size() > options.limits.max_steps) {
        diagnostics.Error("too-many-steps", detail::LocationOf(*steps, file),
                          "the workflow has " + std::to_string(steps->size()) + " steps; the limit is " +
                              std::to_string(options.limits.max_steps),
                          "raise --max-steps if this is intended");
        return result;
    }
    detail::ValidateWorkflowShape(*json, *root, file, diagnostics);
    CheckNames(*root, file, diagnostics);
    std::error_code error;
    const std::string key = fs::weakly_canonical(file, error).string();
    loading.insert(key);
    WorkflowBuilder builder(file, text, options, result, loading);
    builder.Build(*root);
    loading.erase(key);
    return result;
}

LoadResult WorkflowBuilder::LoadNested(const std::string& path) {
    LoadResult result;
    auto text = ReadWorkflowSource(path, options_, result.diagnostics);
    if (!text) {
        return result;
    }
    return LoadText(*text, path, options_, loading_);
}

}  // namespace

LoadResult LoadWorkflowText(const std::string& text, const std::string& file_name, const LoadOptions& options) {
    std::set<std::string> loading;
    LoadResult result = LoadText(text, file_name, options, loading);
    result.diagnostics.SortByLocation();
    return result;
}

std::optional<std::string> ReadWorkflowSource(const std::string& path, const LoadOptions& options,
                                              Diagnostics& diagnostics) {
    const std::string key = fs::path(path).lexically_normal().string();
    std::optional<std::string> text;
    if (options.files.pinned) {
        if (const auto found = options.files.pinned->find(key); found != options.files.pinned->end()) {
            text = found->second;
        }
    }
    if (!text) {
        text = detail::ReadSourceFile(path, options.limits, diagnostics);
    }
    if (text && options.files.read != nullptr) {
        (*options.files.read)[key] = *text;
    }
    return text;
}

bool WorkflowSourceExists(const std::string& path, const LoadOptions& options) {
    if (options.files.pinned && options.files.pinned->count(fs::path(path).lexically_normal().string()) != 0) {
        return true;
    }
    std::error_code error;
    return fs::is_regular_file(path, error);
}

LoadResult LoadWorkflowFile(const std::string& path, const LoadOptions& options) {
    LoadResult result;
    auto text = ReadWorkflowSource(path, options, result.diagnostics);
    if (!text) {
        return result;
    }
    return LoadWorkflowText(*text, path, options);
}

}  // namespace cascade::lang
