// The checked, immutable form of a workflow: what the loader builds from YAML
// and what the engine executes. It knows nothing of YAML or storage; source
// locations are kept only so later checks can point at the author's text.
#pragma once

#include "cascade/lang/diagnostic.hpp"
#include "cascade/model/calendar.hpp"
#include "cascade/model/date.hpp"
#include "cascade/model/expression.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace cascade::model {

using lang::SourceLocation;

enum class StepKind { task, action, decision, parallel, join, subflow, end };
std::string_view StepKindName(StepKind kind);
std::optional<StepKind> ParseStepKind(std::string_view text);

// An expression as the author wrote it, with its parsed and type-checked tree
// (null when it did not parse).
struct SourceExpression {
    std::string text;
    SourceLocation location;
    std::shared_ptr<const Expression> tree;
};

enum class FieldType { string, text, integer, number, boolean, date, duration, choice, list, attachment };
std::string_view FieldTypeName(FieldType type);
std::optional<FieldType> ParseFieldType(std::string_view text);
// The expression type a form field or variable of this type has.
Type ExpressionTypeOf(FieldType type, const std::vector<std::string>& choices);

struct FormField {
    std::string name;
    FieldType type = FieldType::string;
    LocalizedText title;
    LocalizedText description;
    bool required = true;
    std::optional<double> minimum;
    std::optional<double> maximum;
    std::optional<std::int64_t> min_length;
    std::optional<std::int64_t> max_length;
    std::string pattern;
    std::vector<std::string> choices;
    std::optional<std::int64_t> min_items;
    std::optional<std::int64_t> max_items;
    std::vector<std::string> accept;  // attachment file extensions
    std::string unit;                 // display unit ("days", "人次")
    SourceLocation location;
};

// A reference to a role: `leader` (the unit's own) or `parent.leader` (up `levels_up` levels).
struct RoleRef {
    int levels_up = 0;
    std::string role;
    SourceLocation location;
    std::string ToString() const;
};

enum class DeadlineKind { none, date, after_activation };
struct Deadline {
    DeadlineKind kind = DeadlineKind::none;
    Date date;          // when kind == date
    Duration duration;  // when kind == after_activation
    SourceLocation location;
    std::string ToString() const;
};

struct Escalation {
    Duration after;  // past the due date
    RoleRef to;
    SourceLocation location;
};

struct Review {
    RoleRef by;
    int max_rounds = 3;
    LocalizedText criteria;
    SourceLocation location;
};

struct Hook {
    std::string notify;  // a declared plugin
    std::optional<RoleRef> to;
    std::string template_name;
    LocalizedText message;
    SourceLocation location;
};

enum class HookEvent { enter, submit, returned, complete, overdue, remind, escalated, fail };
std::string_view HookEventName(HookEvent event);

struct Transition {
    std::string to;
    std::optional<SourceExpression> when;
    std::optional<int> max_rounds;  // set on rework (back) edges
    LocalizedText label;
    SourceLocation location;
};

enum class JoinRule { all, any, at_least };

struct ActionCall {
    std::string plugin;  // a declared plugin
    std::string action;
    std::string with_json;  // parameters, serialized as JSON
    int max_attempts = 3;
    std::int64_t backoff_ms = 30'000;
    std::int64_t timeout_ms = 60'000;
};

enum class ChildRule { all, any, at_least_count, at_least_percent };

struct SubflowCall {
    std::string workflow_path;                  // resolved against the parent file's folder
    std::vector<std::string> child_categories;  // empty: all children
    ChildRule rule = ChildRule::all;
    int threshold = 0;  // count or percent
};

struct Step {
    std::string id;
    StepKind kind = StepKind::task;
    LocalizedText title;
    LocalizedText description;
    std::string stage;
    std::string template_name;
    std::vector<std::string> applies_to;  // unit categories; empty: all
    std::optional<SourceExpression> applies_if;
    std::optional<Date> opens;

    // task
    std::optional<RoleRef> assignee;
    std::vector<FormField> form;
    std::optional<Review> review;
    std::optional<SourceExpression> gate;
    Deadline due;
    std::vector<Duration> remind;
    std::vector<Escalation> escalate;

    // action / join / subflow
    ActionCall action;
    JoinRule join_rule = JoinRule::all;
    int join_count = 0;  // for at_least
    SubflowCall subflow;

    std::map<HookEvent, std::vector<Hook>> hooks;
    std::vector<Transition> next;
    SourceLocation location;

    const FormField* FindField(std::string_view name) const;
};

struct Variable {
    std::string name;
    FieldType type = FieldType::string;
    std::vector<std::string> choices;
    std::string default_json;  // empty: no default
    bool required = false;
    LocalizedText description;
    SourceLocation location;
};

struct NamedText {
    std::string id;
    LocalizedText title;
    LocalizedText description;
    SourceLocation location;
};

struct PluginDeclaration {
    std::string name;
    std::string plugin;
    std::string version;
    std::string sha256;
    std::string config_json;
    std::int64_t timeout_ms = 0;  // 0: the host's default for each call
    bool isolate = false;         // `isolation: process`: a library plugin runs in a child process
    SourceLocation location;
    SourceLocation config_location;  // where `config:` is, for its diagnostics
};

struct Definition {
    std::string source_file;
    std::string api_version;
    std::string id;
    std::string version;
    LocalizedText title;
    LocalizedText description;
    Date start;
    Date end;
    std::string calendar_name;
    std::optional<WorkingCalendar> calendar;

    std::vector<NamedText> categories;
    std::vector<NamedText> member_types;
    std::vector<NamedText> roles;
    std::vector<NamedText> stages;
    std::vector<Variable> inputs;
    std::vector<Variable> variables;
    std::vector<PluginDeclaration> plugins;
    std::map<HookEvent, std::vector<Hook>> hooks;

    std::string start_step;
    std::vector<Step> steps;                                  // in the order the author wrote them
    std::unordered_map<std::string, std::size_t> step_index;  // id -> position in steps
    // Where each parallel's branches meet (parallel id -> join id), filled by
    // the graph checks; the engine counts a join's branches by it.
    std::map<std::string, std::string> join_of_parallel;

    const Step* FindStep(std::string_view id) const;
    std::optional<std::size_t> StepIndex(std::string_view id) const;
    const NamedText* FindStage(std::string_view id) const;
    const NamedText* FindRole(std::string_view id) const;

    // Date arithmetic on the workflow's working calendar (calendar days when it has none).
    Date Add(Date start_date, const Duration& duration) const;
};

}  // namespace cascade::model
