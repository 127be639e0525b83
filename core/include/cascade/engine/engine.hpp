// Execution semantics: what happens to an instance when a command arrives.
//
// This is the functional core. `Decide` is a pure function of the
// definition, the unit tree, the instance state, the command and the time;
// it returns the events to append and the side effects to queue, or a
// CommandError saying why nothing happens. `Apply` folds one event into the
// state. Storage, delivery and the clock live in the shells (runtime, cli).
//
// Error policy for this layer: a refused command is a value (CommandError);
// exceptions only for broken invariants (an event that does not fit the
// state it is applied to, which means a corrupt log).
#pragma once

#include "cascade/engine/clock.hpp"
#include "cascade/lang/expression.hpp"
#include "cascade/model/definition.hpp"
#include "cascade/model/units.hpp"

#include <boost/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace cascade::engine {

// ---------------------------------------------------------------- events

enum class EventType {
    instance_started,    // data: unit, inputs, vars, parent_instance, parent_step
    step_activated,      // a task, action or subflow step is now open; data: from, activation, due, opens, children
    step_passed,         // a decision, parallel, join, end or skipped step was passed through; data: from, reason, to[]
    join_waiting,        // a branch reached a join that is not yet satisfied; data: from
    step_submitted,      // a reviewed task was handed in; data: form, round
    step_returned,       // the reviewer sent it back; data: reason, round
    step_completed,      // data: form (tasks), output (actions), approved (reviewed tasks)
    step_failed,         // an action failed for good; data: error
    step_retried,        // an administrator retried a failed action; data: reason
    reminder_due,        // data: index, due
    step_overdue,        // data: due
    step_escalated,      // data: to (role path), holders
    child_finished,      // a child instance of a subflow step completed; data: child, unit
    problem_added,       // data: id, title, owner, due, immediate
    problem_closed,      // data: id, note
    instance_completed,  // the end was reached
    instance_reset,      // an administrator moved the instance back; data: to, reason, cancel[] (steps withdrawn;
                         // absent: every open step), joins {join: {expected, arrived}} (branch counts restored)
    branches_withdrawn,  // a join fired before all its branches came (any / N); data: steps[] closed as not needed
    instance_migrated,   // data: from_definition, to_definition, due (open step -> its due date in the new version)
};
std::string_view EventTypeName(EventType type);
std::optional<EventType> ParseEventType(std::string_view name);

struct Event {
    EventType type = EventType::instance_started;
    Timestamp at = 0;
    std::string actor;  // "leader@tw01", "admin@anlan", "system"
    std::string step;   // empty for instance-level events
    boost::json::object data;
};

// ---------------------------------------------------------------- state

enum class StepStatus { active, submitted, waiting, failed, completed, skipped, passed, cancelled };
std::string_view StepStatusName(StepStatus status);

// What an instance knows of one step: its latest activation.
struct StepRecord {
    StepStatus status = StepStatus::active;
    std::int64_t activation = 0;  // unique within the instance; timers carry it so stale ones are ignored
    int visits = 0;               // times the step was entered
    model::Date activated_on;
    std::optional<model::Date> opens_on;  // before this day the step cannot be worked on
    std::optional<model::Date> due;
    int returns = 0;                      // review returns in this activation
    std::uint32_t reminders_fired = 0;    // bit i: reminder i fired
    std::uint32_t escalations_fired = 0;  // bit i: escalation i fired
    bool overdue = false;
    Timestamp changed_at = 0;
    boost::json::object submission;           // handed in and waiting for review
    int children_total = 0;                   // subflow steps
    int children_done = 0;                    // distinct children finished in this activation
    std::set<std::string> children_finished;  // their instance ids: a child finishing twice counts once
    std::string error;                        // failed actions

    bool IsOpen() const {
        return status == StepStatus::active || status == StepStatus::submitted || status == StepStatus::waiting ||
               status == StepStatus::failed;
    }
};

struct Problem {
    std::string id;
    std::string title;
    std::string owner;
    std::optional<model::Date> due;
    bool immediate = false;  // 立行立改: fixed at once rather than by a dated plan
    bool closed = false;
    model::Date opened_on;
    std::optional<model::Date> closed_on;
    std::string note;
};

enum class InstanceStatus { running, completed };

struct InstanceState {
    std::string id;
    std::string unit;
    std::string parent_instance;
    std::string parent_step;
    InstanceStatus status = InstanceStatus::running;
    std::int64_t version = 0;  // number of events applied: the sequence number of the last one
    std::int64_t next_activation = 1;
    std::map<std::string, StepRecord> steps;           // every step entered so far
    std::map<std::string, int> edge_rounds;            // "from>to" -> times a bounded edge was taken
    std::map<std::string, boost::json::object> forms;  // the last accepted form of each task
    std::map<std::string, int> arrivals;               // join -> branches arrived in the current round
    std::map<std::string, int> expected;               // join -> branches its parallel started (when it forked)
    std::set<std::string> joins_fired;                 // joins that fired and still expect late branches
    std::map<std::string, Problem> problems;
    int problems_added = 0;  // for the next problem id
    boost::json::object inputs;
    boost::json::object vars;

    std::vector<std::string> OpenSteps() const;
};

// Folds one event into the state (state.version is incremented). Throws
// std::logic_error when the event does not fit the state.
void Apply(const model::Definition& definition, InstanceState& state, const Event& event);

// ---------------------------------------------------------------- commands

// Who acts: a role of a unit ("leader@tw01"), optionally with the person's name.
// The role "admin" of a unit above the instance's unit may act on anything.
struct Actor {
    std::string role;
    std::string unit;
    std::string person;
    std::string ToString() const;                              // "leader@tw01" or "leader@tw01 (张三)"
    static std::optional<Actor> Parse(std::string_view text);  // "leader@tw01", "leader@tw01:张三"
};

struct Submit {  // complete a task (or hand it in for review)
    std::string step;
    boost::json::object form;
};
struct Review {
    std::string step;
    bool approve = true;
    std::string reason;  // required when returning
};
struct FireTimer {
    std::string step;
    std::int64_t activation = 0;
    std::string kind;  // "remind", "overdue", "escalate"
    int index = 0;
};
struct ActionResult {
    std::string step;
    std::int64_t activation = 0;
    bool ok = true;
    std::string error;
    boost::json::object output;
};
struct ChildFinished {
    std::string step;
    std::string child_instance;
    std::string child_unit;
};
struct AddProblem {
    std::string title;
    std::string owner;
    std::optional<model::Date> due;
    bool immediate = false;
};
struct CloseProblem {
    std::string id;
    std::string note;
};
struct Reset {
    std::string to_step;
    std::string reason;
};
struct Retry {
    std::string step;
    std::string reason;
};

using Command =
    std::variant<Submit, Review, FireTimer, ActionResult, ChildFinished, AddProblem, CloseProblem, Reset, Retry>;
std::string_view CommandName(const Command& command);

// Why a command was refused. `code` is stable: unknown-step, not-active,
// not-open-yet, wrong-role, wrong-kind, invalid-form, gate-failed, not-submitted,
// already-submitted, no-more-returns, missing-reason, not-failed, instance-completed,
// unknown-problem, problem-closed, not-reachable, invalid-command.
struct CommandError {
    std::string code;
    std::string message;
    std::vector<std::string> details;  // one line each: field errors, the values a gate saw
};

// A side effect to perform after commit, through the outbox.
struct Effect {
    std::string kind;             // "notify", "action", "start-children"
    std::string target;           // plugin declaration name; for start-children the step
    std::size_t event_index = 0;  // which of the returned events caused it (part of its dedup key)
    int sequence = 0;             // several effects of one event
    boost::json::object payload;
};

struct Decision {
    std::vector<Event> events;
    std::vector<Effect> effects;
};

struct Context {
    const model::Definition& definition;
    const model::UnitTree& units;
    Timestamp now = 0;
    int utc_offset_minutes = 480;
};

// What a command does to an instance. Pure: the same arguments give the same result.
std::variant<Decision, CommandError> Decide(const Context& context, const InstanceState& state, const Actor& actor,
                                            const Command& command);

// The events that start an instance for `unit` (through to its first open steps).
struct StartRequest {
    std::string instance_id;
    std::string unit;
    std::string parent_instance;
    std::string parent_step;
    boost::json::object inputs;  // already checked against the definition's inputs
};
Decision Start(const Context& context, const StartRequest& request);

// Timers an open step has pending, derived from the state (the timer table
// is a projection of this). `fire_at` is the start of the local day.
struct PendingTimer {
    std::string step;
    std::int64_t activation = 0;
    std::string kind;
    int index = 0;
    Timestamp fire_at = 0;
};
std::vector<PendingTimer> PendingTimers(const Context& context, const InstanceState& state, std::string_view step);

// Who holds a role path for a unit ("parent.leader" of tw01 -> the county's leaders).
struct Holders {
    std::string unit;  // empty when the path climbs above the root
    std::vector<model::Person> people;
};
Holders ResolveRole(const model::UnitTree& units, std::string_view unit_id, const model::RoleRef& role);

// Problem counts as expressions see them.
struct ProblemCounts {
    std::int64_t open = 0, closed = 0, overdue = 0, total = 0;
};
ProblemCounts CountProblems(const InstanceState& state, model::Date today);

// When a step activated on `activated_on` is due (nullopt: no deadline).
std::optional<model::Date> DueDate(const model::Definition& definition, const model::Step& step,
                                   model::Date activated_on);

// Whether a step applies to a unit by its category (`applies_to`); `applies_if` is checked at run time.
bool AppliesToCategory(const model::Step& step, const model::Unit& unit);

// The evaluation context expressions see in an instance: `form.*` from
// `form` (the fields of `form_step`), the rest from the state, the unit and
// the definition. The result refers to its arguments, which must outlive it.
lang::EvaluationContext EvaluationContextFor(const Context& context, const InstanceState& state,
                                             const model::Step* form_step, const boost::json::object* form);

// Event payloads as JSON text and back (for the store).
std::string EventDataJson(const Event& event);

}  // namespace cascade::engine
