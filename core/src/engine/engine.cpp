// Execution semantics: Decide (command -> events and effects) and Apply
// (event -> state). Decide works on a copy of the state and applies each
// event as soon as it emits it, so every later choice in the same command
// (a decision after a completed task, a join after a parallel) sees the
// state as it will be stored: Decide and Apply cannot disagree.
#include "cascade/engine/engine.hpp"

#include "cascade/engine/forms.hpp"
#include "cascade/lang/expression.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>
#include <utility>

namespace cascade::engine {

namespace json = boost::json;
using model::Date;
using model::Step;
using model::StepKind;

// ---------------------------------------------------------------- names

namespace {

constexpr std::array kEventNames = {
    std::pair{EventType::instance_started, std::string_view("instance_started")},
    std::pair{EventType::step_activated, std::string_view("step_activated")},
    std::pair{EventType::step_passed, std::string_view("step_passed")},
    std::pair{EventType::join_waiting, std::string_view("join_waiting")},
    std::pair{EventType::step_submitted, std::string_view("step_submitted")},
    std::pair{EventType::step_returned, std::string_view("step_returned")},
    std::pair{EventType::step_completed, std::string_view("step_completed")},
    std::pair{EventType::step_failed, std::string_view("step_failed")},
    std::pair{EventType::step_retried, std::string_view("step_retried")},
    std::pair{EventType::reminder_due, std::string_view("reminder_due")},
    std::pair{EventType::step_overdue, std::string_view("step_overdue")},
    std::pair{EventType::step_escalated, std::string_view("step_escalated")},
    std::pair{EventType::child_finished, std::string_view("child_finished")},
    std::pair{EventType::problem_added, std::string_view("problem_added")},
    std::pair{EventType::problem_closed, std::string_view("problem_closed")},
    std::pair{EventType::instance_completed, std::string_view("instance_completed")},
    std::pair{EventType::instance_reset, std::string_view("instance_reset")},
    std::pair{EventType::instance_migrated, std::string_view("instance_migrated")},
    std::pair{EventType::branches_withdrawn, std::string_view("branches_withdrawn")},
};

// Upper bound on steps entered by one command. A checked graph settles long
// before; this only turns an engine bug into an error instead of a hang.
constexpr int kMaxEntriesPerCommand = 10'000;
// Reminder and escalation bits are kept in 32-bit masks.
constexpr std::size_t kMaxTimersPerKind = 32;

std::string EdgeKey(std::string_view from, std::string_view to) {
    std::string key(from);
    key += '>';
    key += to;
    return key;
}

const model::Transition* FindEdge(const model::Definition& definition, std::string_view from, std::string_view to) {
    const Step* source = definition.FindStep(from);
    if (source == nullptr) {
        return nullptr;
    }
    for (const auto& edge : source->next) {
        if (edge.to == to) {
            return &edge;
        }
    }
    return nullptr;
}

// The distinct steps with an edge into `join`: a join waits for one branch from each.
std::set<std::string> IncomingSources(const model::Definition& definition, std::string_view join) {
    std::set<std::string> sources;
    for (const auto& step : definition.steps) {
        for (const auto& edge : step.next) {
            if (edge.to == join) {
                sources.insert(step.id);
            }
        }
    }
    return sources;
}

// The steps between a parallel and its join: reachable from the parallel
// without passing through the join (or back through the parallel). The
// checks guarantee that no edge leaves this region except into the join.
std::set<std::string> Region(const model::Definition& definition, const std::string& parallel,
                             const std::string& join) {
    std::set<std::string> region;
    std::vector<std::string> queue{parallel};
    while (!queue.empty()) {
        const std::string id = std::move(queue.back());
        queue.pop_back();
        const Step* step = definition.FindStep(id);
        if (step == nullptr)
            continue;
        for (const auto& edge : step->next) {
            if (edge.to != join && edge.to != parallel && region.insert(edge.to).second) {
                queue.push_back(edge.to);
            }
        }
    }
    return region;
}

// Steps reachable from `from` without leaving `within` (all steps when `within` is null).
std::set<std::string> Downstream(const model::Definition& definition, const std::string& from,
                                 const std::set<std::string>* within) {
    std::set<std::string> reached{from};
    std::vector<std::string> queue{from};
    while (!queue.empty()) {
        const std::string id = std::move(queue.back());
        queue.pop_back();
        const Step* step = definition.FindStep(id);
        if (step == nullptr)
            continue;
        for (const auto& edge : step->next) {
            if ((within == nullptr || within->count(edge.to) != 0) && reached.insert(edge.to).second) {
                queue.push_back(edge.to);
            }
        }
    }
    return reached;
}

std::string StringField(const json::object& data, std::string_view key) {
    const auto* value = data.if_contains(key);
    return value != nullptr && value->is_string() ? std::string(value->get_string()) : std::string();
}

std::optional<Date> DateField(const json::object& data, std::string_view key) {
    const auto* value = data.if_contains(key);
    if (value == nullptr || !value->is_string()) {
        return std::nullopt;
    }
    return Date::Parse(value->get_string());
}

std::int64_t IntField(const json::object& data, std::string_view key) {
    const auto* value = data.if_contains(key);
    return value != nullptr && value->is_int64() ? value->get_int64() : 0;
}

json::object ObjectField(const json::object& data, std::string_view key) {
    const auto* value = data.if_contains(key);
    return value != nullptr && value->is_object() ? value->get_object() : json::object();
}

json::object PersonJson(const model::Person& person) {
    return {{"name", person.name}, {"contact", person.contact}};
}

json::object TextJson(const model::LocalizedText& text) {
    return {{"zh", text.zh}, {"en", text.en}};
}

}  // namespace

std::string_view EventTypeName(EventType type) {
    for (const auto& [value, name] : kEventNames) {
        if (value == type) {
            return name;
        }
    }
    return "unknown";
}

std::optional<EventType> ParseEventType(std::string_view name) {
    for (const auto& [value, text] : kEventNames) {
        if (text == name) {
            return value;
        }
    }
    return std::nullopt;
}

std::string_view StepStatusName(StepStatus status) {
    switch (status) {
    case StepStatus::active:
        return "active";
    case StepStatus::submitted:
        return "submitted";
    case StepStatus::waiting:
        return "waiting";
    case StepStatus::failed:
        return "failed";
    case StepStatus::completed:
        return "completed";
    case StepStatus::skipped:
        return "skipped";
    case StepStatus::passed:
        return "passed";
    case StepStatus::cancelled:
        return "cancelled";
    }
    return "unknown";
}

std::vector<std::string> InstanceState::OpenSteps() const {
    std::vector<std::string> open;
    for (const auto& [id, record] : steps) {
        if (record.IsOpen()) {
            open.push_back(id);
        }
    }
    return open;
}

std::string Actor::ToString() const {
    std::string text = role + "@" + unit;
    if (!person.empty()) {
        text += " (" + person + ")";
    }
    return text;
}

std::optional<Actor> Actor::Parse(std::string_view text) {
    const auto at = text.find('@');
    if (at == std::string_view::npos || at == 0 || at + 1 >= text.size()) {
        return std::nullopt;
    }
    Actor actor;
    actor.role = std::string(text.substr(0, at));
    std::string_view rest = text.substr(at + 1);
    if (const auto colon = rest.find(':'); colon != std::string_view::npos) {
        actor.person = std::string(rest.substr(colon + 1));
        rest = rest.substr(0, colon);
    }
    actor.unit = std::string(rest);
    if (actor.unit.empty()) {
        return std::nullopt;
    }
    return actor;
}

std::string_view CommandName(const Command& command) {
    constexpr std::array kNames = {"submit",      "review",        "fire-timer", "action-result", "child-finished",
                                   "add-problem", "close-problem", "reset",      "retry"};
    return kNames[command.index()];
}

std::string EventDataJson(const Event& event) {
    return json::serialize(event.data);
}

std::optional<Date> DueDate(const model::Definition& definition, const Step& step, Date activated_on) {
    switch (step.due.kind) {
    case model::DeadlineKind::none:
        return std::nullopt;
    case model::DeadlineKind::date:
        return step.due.date;
    case model::DeadlineKind::after_activation:
        return definition.Add(activated_on, step.due.duration);
    }
    return std::nullopt;
}

bool AppliesToCategory(const Step& step, const model::Unit& unit) {
    return step.applies_to.empty() ||
           std::find(step.applies_to.begin(), step.applies_to.end(), unit.category) != step.applies_to.end();
}

Holders ResolveRole(const model::UnitTree& units, std::string_view unit_id, const model::RoleRef& role) {
    Holders holders;
    const model::Unit* unit = units.Find(unit_id);
    if (unit == nullptr) {
        return holders;
    }
    const model::Unit* target = units.Ancestor(*unit, role.levels_up);
    if (target == nullptr) {
        return holders;
    }
    holders.unit = target->id;
    if (const auto found = target->roles.find(role.role); found != target->roles.end()) {
        holders.people = found->second;
    }
    return holders;
}

ProblemCounts CountProblems(const InstanceState& state, Date today) {
    ProblemCounts counts;
    for (const auto& [id, problem] : state.problems) {
        ++counts.total;
        if (problem.closed) {
            ++counts.closed;
        } else {
            ++counts.open;
            if (problem.due && *problem.due < today) {
                ++counts.overdue;
            }
        }
    }
    return counts;
}

// ---------------------------------------------------------------- fold

namespace {

void CountEdge(const model::Definition& definition, InstanceState& state, const std::string& from,
               const std::string& to) {
    if (from.empty()) {
        return;
    }
    const auto* edge = FindEdge(definition, from, to);
    if (edge != nullptr && edge->max_rounds) {
        ++state.edge_rounds[EdgeKey(from, to)];
    }
}

// How many branches a join waits for in the current round: as many as its
// parallel started (a parallel's edges may be guarded). A join whose parallel
// has not forked in this round (not expected in a checked graph) falls back
// to its distinct incoming steps.
int ExpectedBranches(const model::Definition& definition, const InstanceState& state, const std::string& join) {
    if (const auto found = state.expected.find(join); found != state.expected.end()) {
        return found->second;
    }
    return static_cast<int>(IncomingSources(definition, join).size());
}

// A branch reached a join. Once every branch of the round has arrived the
// join starts afresh, so a join inside a rework loop works again next round;
// branches arriving after an `any` or `at_least` join fired are absorbed.
void ArriveAtJoin(const model::Definition& definition, InstanceState& state, const std::string& join, bool fired) {
    const int arrived = ++state.arrivals[join];
    if (fired) {
        state.joins_fired.insert(join);
    }
    if (arrived >= ExpectedBranches(definition, state, join)) {
        state.arrivals.erase(join);
        state.expected.erase(join);
        state.joins_fired.erase(join);
    }
}

// Closes the open steps named in a JSON array (withdrawn branches, a reset's branch).
void CancelListed(InstanceState& state, const json::value* ids, Timestamp at) {
    if (ids == nullptr || !ids->is_array()) {
        return;
    }
    for (const auto& id : ids->get_array()) {
        auto found = state.steps.find(std::string(id.as_string()));
        if (found != state.steps.end() && found->second.IsOpen()) {
            found->second.status = StepStatus::cancelled;
            found->second.changed_at = at;
        }
    }
}

StepRecord& RecordOf(InstanceState& state, const Event& event) {
    const auto found = state.steps.find(event.step);
    if (found == state.steps.end()) {
        throw std::logic_error("event " + std::string(EventTypeName(event.type)) + " for step '" + event.step +
                               "', which instance '" + state.id + "' never entered");
    }
    return found->second;
}

}  // namespace

void Apply(const model::Definition& definition, InstanceState& state, const Event& event) {
    const auto& data = event.data;
    switch (event.type) {
    case EventType::instance_started:
        state.unit = StringField(data, "unit");
        state.parent_instance = StringField(data, "parent_instance");
        state.parent_step = StringField(data, "parent_step");
        state.inputs = ObjectField(data, "inputs");
        state.vars = ObjectField(data, "vars");
        state.status = InstanceStatus::running;
        break;
    case EventType::step_activated: {
        const Step* step = definition.FindStep(event.step);
        if (step == nullptr) {
            throw std::logic_error("event step_activated for unknown step '" + event.step + "'");
        }
        const std::string from = StringField(data, "from");
        CountEdge(definition, state, from, event.step);
        StepRecord& record = state.steps[event.step];
        const int visits = record.visits + 1;
        record = StepRecord{};
        record.visits = visits;
        record.status = step->kind == StepKind::task ? StepStatus::active : StepStatus::waiting;
        record.activation = state.next_activation++;
        record.activated_on = DateField(data, "activated_on").value_or(Date());
        record.opens_on = DateField(data, "opens");
        record.due = DateField(data, "due");
        if (const auto* children = data.if_contains("children"); children != nullptr && children->is_array()) {
            record.children_total = static_cast<int>(children->get_array().size());
        }
        record.changed_at = event.at;
        break;
    }
    case EventType::step_passed: {
        const std::string from = StringField(data, "from");
        CountEdge(definition, state, from, event.step);
        StepRecord& record = state.steps[event.step];
        const int visits = record.visits + 1;
        record = StepRecord{};
        record.visits = visits;
        record.activation = state.next_activation++;
        record.status = StringField(data, "reason") == "skipped" ? StepStatus::skipped : StepStatus::passed;
        record.changed_at = event.at;
        const std::string reason = StringField(data, "reason");
        if (reason == "join") {
            ArriveAtJoin(definition, state, event.step, true);
        } else if (reason == "parallel") {
            if (const auto join = definition.join_of_parallel.find(event.step);
                join != definition.join_of_parallel.end()) {
                const auto* to = data.if_contains("to");
                state.expected[join->second] =
                    to != nullptr && to->is_array() ? static_cast<int>(to->get_array().size()) : 0;
                state.arrivals.erase(join->second);
                state.joins_fired.erase(join->second);
            }
        }
        break;
    }
    case EventType::join_waiting: {
        const std::string from = StringField(data, "from");
        CountEdge(definition, state, from, event.step);
        ArriveAtJoin(definition, state, event.step, false);
        break;
    }
    case EventType::step_submitted: {
        StepRecord& record = RecordOf(state, event);
        record.status = StepStatus::submitted;
        record.submission = ObjectField(data, "form");
        record.changed_at = event.at;
        break;
    }
    case EventType::step_returned: {
        StepRecord& record = RecordOf(state, event);
        record.status = StepStatus::active;
        ++record.returns;
        record.submission.clear();
        record.changed_at = event.at;
        break;
    }
    case EventType::step_completed: {
        StepRecord& record = RecordOf(state, event);
        record.status = StepStatus::completed;
        record.submission.clear();
        record.changed_at = event.at;
        if (const auto* form = data.if_contains("form"); form != nullptr && form->is_object()) {
            state.forms[event.step] = form->get_object();
        }
        break;
    }
    case EventType::step_failed: {
        StepRecord& record = RecordOf(state, event);
        record.status = StepStatus::failed;
        record.error = StringField(data, "error");
        record.changed_at = event.at;
        break;
    }
    case EventType::step_retried: {
        StepRecord& record = RecordOf(state, event);
        record.status = StepStatus::waiting;
        record.error.clear();
        record.changed_at = event.at;
        break;
    }
    case EventType::reminder_due:
        RecordOf(state, event).reminders_fired |= 1u << (IntField(data, "index") & 31);
        break;
    case EventType::step_overdue:
        RecordOf(state, event).overdue = true;
        break;
    case EventType::step_escalated:
        RecordOf(state, event).escalations_fired |= 1u << (IntField(data, "index") & 31);
        break;
    case EventType::child_finished: {
        StepRecord& record = RecordOf(state, event);
        if (record.children_finished.insert(StringField(data, "child")).second) {
            ++record.children_done;
        }
    } break;
    case EventType::problem_added: {
        Problem problem;
        problem.id = StringField(data, "id");
        problem.title = StringField(data, "title");
        problem.owner = StringField(data, "owner");
        problem.due = DateField(data, "due");
        problem.immediate =
            data.contains("immediate") && data.at("immediate").is_bool() && data.at("immediate").get_bool();
        problem.opened_on = DateField(data, "on").value_or(Date());
        state.problems[problem.id] = std::move(problem);
        ++state.problems_added;
        break;
    }
    case EventType::problem_closed: {
        const auto found = state.problems.find(StringField(data, "id"));
        if (found == state.problems.end()) {
            throw std::logic_error("problem_closed for unknown problem '" + StringField(data, "id") + "'");
        }
        found->second.closed = true;
        found->second.closed_on = DateField(data, "on");
        found->second.note = StringField(data, "note");
        break;
    }
    case EventType::branches_withdrawn:
        // Later arrivals cannot come: the join starts afresh.
        state.arrivals.erase(event.step);
        state.expected.erase(event.step);
        state.joins_fired.erase(event.step);
        CancelListed(state, data.if_contains("steps"), event.at);
        break;
    case EventType::instance_reset:
        if (const auto* cancel = data.if_contains("cancel"); cancel != nullptr && cancel->is_array()) {
            // Only the moved branch goes back; the other branches keep their place.
            CancelListed(state, cancel, event.at);
            if (const auto* joins = data.if_contains("joins"); joins != nullptr && joins->is_object()) {
                for (const auto& [join, counts] : joins->get_object()) {
                    const auto& object = counts.as_object();
                    state.expected[std::string(join)] = static_cast<int>(object.at("expected").as_int64());
                    state.arrivals[std::string(join)] = static_cast<int>(object.at("arrived").as_int64());
                    state.joins_fired.erase(std::string(join));
                }
            }
            state.status = InstanceStatus::running;
            break;
        }
        [[fallthrough]];
    case EventType::instance_completed:
        for (auto& [id, record] : state.steps) {
            if (record.IsOpen()) {
                record.status = StepStatus::cancelled;
                record.changed_at = event.at;
            }
        }
        state.arrivals.clear();
        state.expected.clear();
        state.joins_fired.clear();
        state.status =
            event.type == EventType::instance_completed ? InstanceStatus::completed : InstanceStatus::running;
        break;
    case EventType::instance_migrated:
        // Open steps take the deadlines of the new version.
        if (const auto* due = data.if_contains("due"); due != nullptr && due->is_object()) {
            for (const auto& [step, date] : due->get_object()) {
                auto found = state.steps.find(std::string(step));
                if (found == state.steps.end())
                    continue;
                const auto parsed = date.is_string() ? Date::Parse(date.get_string()) : std::nullopt;
                if (parsed != found->second.due) {
                    found->second.due = parsed;
                    found->second.overdue = false;
                }
            }
        }
        break;
    }
    ++state.version;
}

// ---------------------------------------------------------------- decide

namespace {

model::FormField FieldForVariable(const model::Variable& variable) {
    model::FormField field;
    field.name = variable.name;
    field.type = variable.type;
    field.choices = variable.choices;
    return field;
}

std::optional<model::Value> LookupPath(const Context& context, const InstanceState& state, Date today,
                                       const std::vector<std::string>& path, const Step* form_step,
                                       const json::object* form) {
    const model::Definition& definition = context.definition;
    if (path.size() == 2 && path[0] == "form" && form_step != nullptr) {
        const auto* field = form_step->FindField(path[1]);
        if (field == nullptr) {
            return std::nullopt;
        }
        return ToExpressionValue(*field, form != nullptr ? form->if_contains(path[1]) : nullptr);
    }
    if (path.size() >= 3 && path[0] == "steps") {
        const Step* step = definition.FindStep(path[1]);
        if (step == nullptr) {
            return std::nullopt;
        }
        if (path.size() == 3 && path[2] == "rounds") {
            const auto found = state.steps.find(path[1]);
            return model::Value{std::int64_t{found == state.steps.end() ? 0 : found->second.visits}};
        }
        if (path.size() == 4 && path[2] == "form") {
            const auto* field = step->FindField(path[3]);
            if (field == nullptr) {
                return std::nullopt;
            }
            const auto found = state.forms.find(path[1]);
            return ToExpressionValue(*field, found == state.forms.end() ? nullptr : found->second.if_contains(path[3]));
        }
        return std::nullopt;
    }
    if (path.size() == 2 && (path[0] == "vars" || path[0] == "inputs")) {
        const auto& declared = path[0] == "vars" ? definition.variables : definition.inputs;
        const auto& values = path[0] == "vars" ? state.vars : state.inputs;
        for (const auto& variable : declared) {
            if (variable.name == path[1]) {
                return ToExpressionValue(FieldForVariable(variable), values.if_contains(path[1]));
            }
        }
        return std::nullopt;
    }
    if (path.size() >= 2 && path[0] == "unit") {
        const model::Unit* unit_pointer = context.units.Find(state.unit);
        if (unit_pointer == nullptr)
            return std::nullopt;
        const model::Unit& unit = *unit_pointer;
        if (path.size() == 2) {
            if (path[1] == "id")
                return model::Value{unit.id};
            if (path[1] == "name")
                return model::Value{unit.name};
            if (path[1] == "category")
                return model::Value{unit.category};
            if (path[1] == "level")
                return model::Value{std::int64_t{context.units.Depth(unit)}};
            if (path[1] == "children") {
                return model::Value{static_cast<std::int64_t>(context.units.Children(unit).size())};
            }
        }
        if (path.size() == 3 && path[1] == "members") {
            const auto found = unit.members.find(path[2]);
            return model::Value{found == unit.members.end() ? std::int64_t{0} : found->second};
        }
        return std::nullopt;
    }
    if (path.size() == 2 && path[0] == "problems") {
        const ProblemCounts counts = CountProblems(state, today);
        if (path[1] == "open")
            return model::Value{counts.open};
        if (path[1] == "closed")
            return model::Value{counts.closed};
        if (path[1] == "overdue")
            return model::Value{counts.overdue};
        if (path[1] == "total")
            return model::Value{counts.total};
    }
    return std::nullopt;
}

}  // namespace

lang::EvaluationContext EvaluationContextFor(const Context& context, const InstanceState& state, const Step* form_step,
                                             const json::object* form) {
    lang::EvaluationContext evaluation;
    const Date today = LocalDate(context.now, context.utc_offset_minutes);
    evaluation.lookup = [&context, &state, today, form_step, form](const std::vector<std::string>& path) {
        return LookupPath(context, state, today, path, form_step, form);
    };
    evaluation.today = today;
    evaluation.calendar = context.definition.calendar ? &*context.definition.calendar : nullptr;
    return evaluation;
}

namespace {

// Builds the outcome of one command: emits events (applying each to the
// working state at once), queues effects, and walks the graph.
class Run {
public:
    Run(const Context& context, InstanceState state, const Actor& actor)
        : context_(context),
          definition_(context.definition),
          state_(std::move(state)),
          actor_(actor.role.empty() ? std::string("system") : actor.ToString()),
          today_(LocalDate(context.now, context.utc_offset_minutes)) {}

    const InstanceState& State() const { return state_; }
    Decision Finish() && { return std::move(decision_); }

    const model::Unit& Unit() const {
        const model::Unit* unit = context_.units.Find(state_.unit);
        if (unit == nullptr) {
            throw std::logic_error("instance '" + state_.id + "' runs for unit '" + state_.unit +
                                   "', which is not in the roster");
        }
        return *unit;
    }

    Event& Emit(EventType type, const std::string& step, json::object data) {
        Event event{type, context_.now, actor_, step, std::move(data)};
        Apply(definition_, state_, event);
        decision_.events.push_back(std::move(event));
        return decision_.events.back();
    }

    // ------------------------------------------------ expressions

    lang::EvaluationContext EvaluationContextFor(const Step* form_step, const json::object* form) const {
        return engine::EvaluationContextFor(context_, state_, form_step, form);
    }

    // A guard that cannot be evaluated (a division by zero at run time) does not hold.
    bool Holds(const model::SourceExpression& expression, const Step* form_step, const json::object* form) const {
        if (!expression.tree) {
            return false;
        }
        const auto result = lang::Evaluate(*expression.tree, EvaluationContextFor(form_step, form));
        const auto* value = std::get_if<model::Value>(&result);
        return value != nullptr && std::holds_alternative<bool>(value->data) && std::get<bool>(value->data);
    }

    // ------------------------------------------------ notifications

    json::object Recipients(const model::RoleRef& role) const {
        const Holders holders = ResolveRole(context_.units, state_.unit, role);
        json::array people;
        for (const auto& person : holders.people) {
            people.push_back(PersonJson(person));
        }
        return {{"role", role.ToString()}, {"unit", holders.unit}, {"people", std::move(people)}};
    }

    // Queues a notification for every hook on `hook_event`: the step's own and the workflow's.
    void Notify(model::HookEvent hook_event, const Step* step, const std::optional<model::RoleRef>& default_to,
                const json::object& details = {}) {
        std::vector<const model::Hook*> hooks;
        if (step != nullptr) {
            if (const auto found = step->hooks.find(hook_event); found != step->hooks.end()) {
                for (const auto& hook : found->second)
                    hooks.push_back(&hook);
            }
        }
        if (const auto found = definition_.hooks.find(hook_event); found != definition_.hooks.end()) {
            for (const auto& hook : found->second)
                hooks.push_back(&hook);
        }
        int sequence = 0;
        for (const model::Hook* hook : hooks) {
            Effect effect;
            effect.kind = "notify";
            effect.target = hook->notify;
            effect.event_index = decision_.events.size() - 1;
            effect.sequence = sequence++;
            json::object payload{{"event", model::HookEventName(hook_event)},
                                 {"workflow", definition_.id},
                                 {"instance", state_.id},
                                 {"unit", state_.unit},
                                 {"unit_name", Unit().name},
                                 {"on", today_.ToString()}};
            if (step != nullptr) {
                payload["step"] = step->id;
                payload["step_title"] = TextJson(step->title);
                if (const auto found = state_.steps.find(step->id); found != state_.steps.end() && found->second.due) {
                    payload["due"] = found->second.due->ToString();
                }
            }
            const auto to = hook->to ? hook->to : default_to;
            if (to) {
                payload["to"] = Recipients(*to);
            }
            if (!hook->message.Empty()) {
                payload["message"] = TextJson(hook->message);
            }
            if (!hook->template_name.empty()) {
                payload["template"] = hook->template_name;
            }
            for (const auto& [key, value] : details) {
                payload[key] = value;
            }
            effect.payload = std::move(payload);
            decision_.effects.push_back(std::move(effect));
        }
    }

    // ------------------------------------------------ walking the graph

    std::optional<Date> DueFor(const Step& step, Date activated_on) const {
        return DueDate(definition_, step, activated_on);
    }

    void Enter(const std::string& target, const std::string& from) {
        if (++entries_ > kMaxEntriesPerCommand) {
            throw std::logic_error("instance '" + state_.id + "' did not settle after " +
                                   std::to_string(kMaxEntriesPerCommand) + " steps in one command");
        }
        const Step* step = definition_.FindStep(target);
        if (step == nullptr) {
            throw std::logic_error("edge to unknown step '" + target + "'");
        }
        if (!AppliesToCategory(*step, Unit()) || (step->applies_if && !Holds(*step->applies_if, nullptr, nullptr))) {
            Emit(EventType::step_passed, target, {{"from", from}, {"reason", "skipped"}});
            Leave(*step, nullptr);
            return;
        }
        switch (step->kind) {
        case StepKind::task:
        case StepKind::action:
        case StepKind::subflow:
            Activate(*step, from);
            return;
        case StepKind::decision:
        case StepKind::parallel: {
            // The route is chosen first so the event says where the work went.
            const auto targets = Targets(*step, nullptr);
            if (targets.empty()) {
                Emit(EventType::step_passed, target,
                     {{"from", from}, {"reason", model::StepKindName(step->kind)}, {"to", json::array()}});
                const auto join = definition_.join_of_parallel.find(target);
                if (step->kind == StepKind::parallel && join != definition_.join_of_parallel.end()) {
                    Enter(join->second, target);  // no branch started: the join is passed at once
                } else {
                    FailNoRoute(*step);
                }
                return;
            }
            json::array to;
            for (const auto& next : targets)
                to.push_back(json::value(next));
            Emit(EventType::step_passed, target,
                 {{"from", from}, {"reason", model::StepKindName(step->kind)}, {"to", std::move(to)}});
            for (const auto& next : targets)
                Enter(next, target);
            return;
        }
        case StepKind::join: {
            const bool fired = state_.joins_fired.count(target) > 0;
            const auto found = state_.arrivals.find(target);
            const int count = (found == state_.arrivals.end() ? 0 : found->second) + 1;
            const int expected = ExpectedBranches(definition_, state_, target);
            const bool satisfied =
                step->join_rule == model::JoinRule::any ||
                (step->join_rule == model::JoinRule::at_least && count >= std::min(step->join_count, expected)) ||
                (step->join_rule == model::JoinRule::all && count >= expected);
            if (fired || !satisfied) {
                Emit(EventType::join_waiting, target, {{"from", from}});
                return;
            }
            Emit(EventType::step_passed, target, {{"from", from}, {"reason", "join"}});
            WithdrawBranches(target);
            Leave(*step, nullptr);
            return;
        }
        case StepKind::end:
            Emit(EventType::step_passed, target, {{"from", from}, {"reason", "end"}});
            Emit(EventType::instance_completed, "", {});
            return;
        }
    }

    void Activate(const Step& step, const std::string& from) {
        const Date activated_on = step.opens && *step.opens > today_ ? *step.opens : today_;
        json::object data{{"from", from}, {"activated_on", activated_on.ToString()}};
        if (step.opens && *step.opens > today_) {
            data["opens"] = step.opens->ToString();
        }
        if (const auto due = DueFor(step, activated_on)) {
            data["due"] = due->ToString();
        }
        std::vector<std::string> children;
        if (step.kind == StepKind::subflow) {
            json::array ids;
            for (const model::Unit* child : context_.units.Children(Unit())) {
                const auto& wanted = step.subflow.child_categories;
                if (wanted.empty() || std::find(wanted.begin(), wanted.end(), child->category) != wanted.end()) {
                    ids.push_back(json::value(child->id));
                    children.push_back(child->id);
                }
            }
            data["children"] = std::move(ids);
        }
        Emit(EventType::step_activated, step.id, std::move(data));
        Notify(model::HookEvent::enter, &step, step.assignee);

        if (step.kind == StepKind::action) {
            QueueAction(step);
        } else if (step.kind == StepKind::subflow) {
            if (children.empty()) {
                // Nobody below to cascade to: the roll-up is complete at once.
                Emit(EventType::step_completed, step.id, {{"children", 0}});
                Leave(step, nullptr);
                return;
            }
            Effect effect;
            effect.kind = "start-children";
            effect.target = step.id;
            effect.event_index = decision_.events.size() - 1;
            json::array ids;
            for (const auto& id : children)
                ids.push_back(json::value(id));
            effect.payload = {{"instance", state_.id},
                              {"step", step.id},
                              {"workflow", step.subflow.workflow_path},
                              {"children", std::move(ids)}};
            decision_.effects.push_back(std::move(effect));
        }
    }

    void QueueAction(const Step& step) {
        Effect effect;
        effect.kind = "action";
        effect.target = step.action.plugin;
        effect.event_index = decision_.events.size() - 1;
        json::value with = json::parse(step.action.with_json.empty() ? "{}" : step.action.with_json);
        effect.payload = {{"instance", state_.id},
                          {"unit", state_.unit},
                          {"step", step.id},
                          {"activation", state_.steps.at(step.id).activation},
                          {"action", step.action.action},
                          {"with", std::move(with)},
                          {"max_attempts", step.action.max_attempts},
                          {"backoff_ms", step.action.backoff_ms},
                          {"timeout_ms", step.action.timeout_ms}};
        decision_.effects.push_back(std::move(effect));
    }

    // Where the edges out of a step lead now: the first edge that holds (all
    // that hold for a parallel), passing over used-up rework edges.
    std::vector<std::string> Targets(const Step& step, const json::object* form) const {
        const Step* form_step = form != nullptr ? &step : nullptr;
        std::vector<std::string> targets;
        for (const auto& edge : step.next) {
            if (edge.max_rounds) {
                const auto taken = state_.edge_rounds.find(EdgeKey(step.id, edge.to));
                if (taken != state_.edge_rounds.end() && taken->second >= *edge.max_rounds) {
                    continue;  // this rework edge is used up: pass over it
                }
            }
            if (edge.when && !Holds(*edge.when, form_step, form)) {
                continue;
            }
            targets.push_back(edge.to);
            if (step.kind != StepKind::parallel) {
                break;
            }
        }
        return targets;
    }

    // The parallel whose branches meet at `join`, if the checks recorded one.
    std::string ParallelOf(const std::string& join) const {
        for (const auto& [parallel, meet] : definition_.join_of_parallel) {
            if (meet == join)
                return parallel;
        }
        return {};
    }

    // A join that fired before all its branches came (any / N): the branches
    // still under way are no longer needed.
    void WithdrawBranches(const std::string& join) {
        const std::string parallel = ParallelOf(join);
        if (parallel.empty())
            return;
        const auto region = Region(definition_, parallel, join);
        json::array withdrawn;
        for (const auto& [id, record] : state_.steps) {
            if (record.IsOpen() && region.count(id) != 0)
                withdrawn.push_back(json::value(id));
        }
        // Nothing under way and every branch counted: the join has already started afresh.
        if (withdrawn.empty() && state_.expected.count(join) == 0 && state_.arrivals.count(join) == 0)
            return;
        Emit(EventType::branches_withdrawn, join, {{"steps", std::move(withdrawn)}});
    }

    // Moving an instance back to `target`: only the branch that holds it goes
    // back. Walking out from the innermost parallel around the target: if the
    // branch's work is still open downstream of it, that is withdrawn; if the
    // branch had reached its join, the join expects it once more; if the join
    // had already fired, the branch runs again alone and the same question is
    // asked one level out. Outside every parallel, all open work downstream
    // goes. Returns the instance_reset data.
    json::object PlanReset(const std::string& target) const {
        // Parallels whose region holds the target, innermost (smallest) first.
        std::vector<std::pair<std::set<std::string>, std::pair<std::string, std::string>>> around;
        for (const auto& [parallel, join] : definition_.join_of_parallel) {
            auto region = Region(definition_, parallel, join);
            if (region.count(target) != 0)
                around.emplace_back(std::move(region), std::pair{parallel, join});
        }
        std::sort(around.begin(), around.end(),
                  [](const auto& a, const auto& b) { return a.first.size() < b.first.size(); });
        std::set<std::string> cancel;
        json::object joins;
        std::string from = target;
        bool settled = false;
        for (const auto& [region, ends] : around) {
            const std::string& join = ends.second;
            for (const auto& id : Downstream(definition_, from, &region)) {
                const auto found = state_.steps.find(id);
                if (found != state_.steps.end() && found->second.IsOpen())
                    cancel.insert(id);
            }
            if (!cancel.empty()) {
                settled = true;
                break;
            }
            const auto expected = state_.expected.find(join);
            if (expected != state_.expected.end()) {  // not fired: the branch is waiting at the join
                const auto arrived = state_.arrivals.find(join);
                const int count = arrived == state_.arrivals.end() ? 0 : arrived->second;
                joins[join] = {{"expected", expected->second}, {"arrived", std::max(0, count - 1)}};
                settled = true;
                break;
            }
            joins[join] = {{"expected", 1}, {"arrived", 0}};  // fired: this branch runs again alone
            from = join;
        }
        if (!settled) {
            for (const auto& id : Downstream(definition_, from, nullptr)) {
                const auto found = state_.steps.find(id);
                if (found != state_.steps.end() && found->second.IsOpen())
                    cancel.insert(id);
            }
        }
        json::array cancelled;
        for (const auto& id : cancel)
            cancelled.push_back(json::value(id));
        return {{"cancel", std::move(cancelled)}, {"joins", std::move(joins)}};
    }

    void FailNoRoute(const Step& step) {
        Emit(EventType::step_failed, step.id,
             {{"error", "no edge out of '" + step.id + "' holds, so the instance cannot go on"}});
        Notify(model::HookEvent::fail, &step, step.assignee);
    }

    // Follows the edges out of a completed or passed step.
    void Leave(const Step& step, const json::object* form) {
        if (step.kind == StepKind::end) {
            return;
        }
        const auto targets = Targets(step, form);
        if (targets.empty()) {
            FailNoRoute(step);
            return;
        }
        for (const auto& target : targets) {
            Enter(target, step.id);
        }
    }

    void Complete(const Step& step, json::object data) {
        const json::object* form = nullptr;
        Emit(EventType::step_completed, step.id, std::move(data));
        if (const auto found = state_.forms.find(step.id); found != state_.forms.end() && step.kind == StepKind::task) {
            form = &found->second;
        }
        Notify(model::HookEvent::complete, &step, step.assignee);
        // Copy: Leave emits events, which may rewrite forms of this step in a loop.
        const json::object form_copy = form != nullptr ? *form : json::object();
        Leave(step, form != nullptr ? &form_copy : nullptr);
    }

    // ------------------------------------------------ authorization

    // The assigned role of that unit, or an administrator of a unit above the instance's unit.
    std::optional<CommandError> Authorize(const model::RoleRef& role, const Step& step, std::string_view doing) const {
        if (actor_role_ == "admin" && context_.units.IsAncestor(actor_unit_, state_.unit)) {
            return std::nullopt;
        }
        const Holders holders = ResolveRole(context_.units, state_.unit, role);
        const bool person_holds = actor_person_.empty() || std::any_of(holders.people.begin(), holders.people.end(),
                                                                       [&](const model::Person& person) {
                                                                           return person.name == actor_person_;
                                                                       });
        if (actor_role_ == role.role && actor_unit_ == holders.unit && !holders.unit.empty() && person_holds) {
            return std::nullopt;
        }
        std::string held_by;
        for (const auto& person : holders.people) {
            held_by += (held_by.empty() ? "" : ", ") + person.name;
        }
        CommandError error{"wrong-role",
                           "step '" + step.id + "' is " + std::string(doing) + " by " + role.role + "@" +
                               (holders.unit.empty() ? "(nobody: above the root)" : holders.unit) +
                               (held_by.empty() ? "" : " (" + held_by + ")") + "; " + actor_ + " may not",
                           {}};
        error.details.push_back("an administrator of a unit above '" + state_.unit + "' (admin@<unit>) may also act");
        return error;
    }

    void SetActor(const Actor& actor) {
        actor_role_ = actor.role;
        actor_unit_ = actor.unit;
        actor_person_ = actor.person;
    }

    Date Today() const { return today_; }
    const Context& Ctx() const { return context_; }

private:
    const Context& context_;
    const model::Definition& definition_;
    InstanceState state_;
    Decision decision_;
    std::string actor_;
    std::string actor_role_;
    std::string actor_unit_;
    std::string actor_person_;  // when named, must be one of the role's holders
    Date today_;
    int entries_ = 0;
};

CommandError Refuse(std::string code, std::string message, std::vector<std::string> details = {}) {
    return CommandError{std::move(code), std::move(message), std::move(details)};
}

// Finds the step and its record, refusing unknown steps and steps not open.
std::variant<std::pair<const Step*, const StepRecord*>, CommandError> OpenStep(const model::Definition& definition,
                                                                               const InstanceState& state,
                                                                               const std::string& id) {
    const Step* step = definition.FindStep(id);
    if (step == nullptr) {
        std::vector<std::string> ids;
        for (const auto& candidate : definition.steps)
            ids.push_back(candidate.id);
        std::string message = "workflow '" + definition.id + "' has no step '" + id + "'";
        if (const auto hint = lang::DidYouMean(id, ids); !hint.empty()) {
            message += "; " + hint;
        }
        return Refuse("unknown-step", message);
    }
    const auto found = state.steps.find(id);
    if (state.status == InstanceStatus::completed) {
        return Refuse("instance-completed", "instance '" + state.id + "' is complete; nothing in it can change");
    }
    if (found == state.steps.end() || !found->second.IsOpen()) {
        auto open = state.OpenSteps();
        std::string list;
        for (const auto& name : open)
            list += (list.empty() ? "" : ", ") + name;
        return Refuse(
            "not-active",
            "step '" + id + "' is not active in instance '" + state.id + "'" +
                (found == state.steps.end() ? std::string(" (not reached yet)")
                                            : " (it is " + std::string(StepStatusName(found->second.status)) + ")"),
            {"active steps: " + (list.empty() ? std::string("none") : list)});
    }
    return std::pair{step, &found->second};
}

std::variant<Decision, CommandError> DecideSubmit(Run& run, const Submit& command) {
    const auto& definition = run.Ctx().definition;
    auto opened = OpenStep(definition, run.State(), command.step);
    if (auto* error = std::get_if<CommandError>(&opened))
        return std::move(*error);
    const auto [step, record] = std::get<std::pair<const Step*, const StepRecord*>>(opened);
    if (step->kind != StepKind::task) {
        return Refuse("wrong-kind", "step '" + step->id + "' is a " + std::string(model::StepKindName(step->kind)) +
                                        " step; only tasks are completed by hand");
    }
    if (record->status == StepStatus::submitted) {
        return Refuse("already-submitted",
                      "step '" + step->id + "' was handed in and waits for review by " + step->review->by.ToString());
    }
    if (record->opens_on && *record->opens_on > run.Today()) {
        return Refuse("not-open-yet", "step '" + step->id + "' opens on " + record->opens_on->ToString());
    }
    if (step->assignee) {
        if (auto error = run.Authorize(*step->assignee, *step, "done"))
            return std::move(*error);
    }
    const FormCheck check = ValidateForm(step->form, json::value(command.form));
    if (!check.Ok()) {
        std::vector<std::string> details;
        for (const auto& field_error : check.errors)
            details.push_back(field_error.path + ": " + field_error.message);
        return Refuse("invalid-form",
                      "the form for step '" + step->id + "' has " + std::to_string(check.errors.size()) +
                          (check.errors.size() == 1 ? " error" : " errors"),
                      std::move(details));
    }
    if (step->gate && step->gate->tree) {
        if (!run.Holds(*step->gate, step, &check.normalized)) {
            // Every part of an 'and' that fails is explained, so the unit fixes them all at once.
            std::vector<const model::Expression*> parts;
            std::vector<const model::Expression*> pending{step->gate->tree.get()};
            while (!pending.empty()) {
                const model::Expression* part = pending.back();
                pending.pop_back();
                const auto* binary = std::get_if<model::BinaryNode>(&part->node);
                if (binary != nullptr && binary->op == model::BinaryOp::logical_and) {
                    pending.push_back(binary->right.get());
                    pending.push_back(binary->left.get());
                } else {
                    parts.push_back(part);
                }
            }
            const auto evaluation = run.EvaluationContextFor(step, &check.normalized);
            std::vector<std::string> details;
            for (const model::Expression* part : parts) {
                const auto value = lang::Evaluate(*part, evaluation);
                const auto* result = std::get_if<model::Value>(&value);
                if (result != nullptr && std::holds_alternative<bool>(result->data) && std::get<bool>(result->data)) {
                    continue;
                }
                const auto explanation = lang::ExplainFailure(*part, evaluation);
                details.push_back("failing: " + explanation.failing_expression);
                for (const auto& [path, seen] : explanation.values) {
                    std::string line = path;
                    line += " = ";
                    line += seen;
                    details.push_back(std::move(line));
                }
            }
            return Refuse("gate-failed", "the gate of step '" + step->id + "' does not hold: " + step->gate->text,
                          std::move(details));
        }
    }
    if (step->review) {
        run.Emit(EventType::step_submitted, step->id, {{"form", check.normalized}, {"round", record->returns + 1}});
        run.Notify(model::HookEvent::submit, step, step->review->by);
    } else {
        run.Complete(*step, {{"form", check.normalized}});
    }
    return std::move(run).Finish();
}

std::variant<Decision, CommandError> DecideReview(Run& run, const Review& command) {
    const auto& definition = run.Ctx().definition;
    auto opened = OpenStep(definition, run.State(), command.step);
    if (auto* error = std::get_if<CommandError>(&opened))
        return std::move(*error);
    const auto [step, record] = std::get<std::pair<const Step*, const StepRecord*>>(opened);
    if (!step->review) {
        return Refuse("wrong-kind", "step '" + step->id + "' has no review");
    }
    if (record->status != StepStatus::submitted) {
        return Refuse("not-submitted", "step '" + step->id + "' has nothing handed in to review");
    }
    if (auto error = run.Authorize(step->review->by, *step, "reviewed"))
        return std::move(*error);
    if (command.approve) {
        json::object form = record->submission;
        run.Complete(*step, {{"form", std::move(form)}, {"approved", true}, {"round", record->returns + 1}});
        return std::move(run).Finish();
    }
    if (command.reason.find_first_not_of(" \t\r\n") == std::string::npos) {
        return Refuse("missing-reason", "returning a submission needs a reason the unit can act on");
    }
    if (record->returns >= step->review->max_rounds) {
        return Refuse("no-more-returns", "the submission for step '" + step->id + "' has been returned " +
                                             std::to_string(record->returns) +
                                             " times, the most its review allows; it can only be approved");
    }
    run.Emit(EventType::step_returned, step->id, {{"reason", command.reason}, {"round", record->returns + 1}});
    run.Notify(model::HookEvent::returned, step, step->assignee, {{"reason", command.reason}});
    return std::move(run).Finish();
}

std::variant<Decision, CommandError> DecideTimer(Run& run, const FireTimer& command) {
    const auto& state = run.State();
    const auto found = state.steps.find(command.step);
    const Step* step = run.Ctx().definition.FindStep(command.step);
    // A timer for an activation that has ended (the step was completed, returned
    // to, or reset) does nothing: completion always wins over its own timer.
    if (step == nullptr || found == state.steps.end() || found->second.activation != command.activation ||
        !found->second.IsOpen() || state.status != InstanceStatus::running || command.index < 0 ||
        static_cast<std::size_t>(command.index) >= kMaxTimersPerKind) {
        return std::move(run).Finish();
    }
    const StepRecord& record = found->second;
    // Handed in and waiting for review: the unit has done its part, so it is
    // neither reminded, nor overdue, nor escalated while the reviewer holds it.
    if (record.status == StepStatus::submitted) {
        return std::move(run).Finish();
    }
    const std::string due = record.due ? record.due->ToString() : std::string();
    const auto bit = 1u << command.index;
    if (command.kind == "remind") {
        // A reminder that comes due only after the deadline (the runner was
        // stopped) says nothing the overdue notice does not: dropped.
        const bool stale = record.due && run.Today() > *record.due;
        if ((record.reminders_fired & bit) == 0 && !stale) {
            run.Emit(EventType::reminder_due, step->id, {{"index", command.index}, {"due", due}});
            run.Notify(model::HookEvent::remind, step, step->assignee);
        }
    } else if (command.kind == "overdue") {
        if (!record.overdue) {
            run.Emit(EventType::step_overdue, step->id, {{"due", due}});
            run.Notify(model::HookEvent::overdue, step, step->assignee);
        }
    } else if (command.kind == "escalate") {
        if ((record.escalations_fired & bit) == 0 && static_cast<std::size_t>(command.index) < step->escalate.size()) {
            const auto& escalation = step->escalate[static_cast<std::size_t>(command.index)];
            json::object to = run.Recipients(escalation.to);
            run.Emit(EventType::step_escalated, step->id, {{"index", command.index}, {"due", due}, {"to", to}});
            run.Notify(model::HookEvent::escalated, step, escalation.to);
        }
    }
    return std::move(run).Finish();
}

std::variant<Decision, CommandError> DecideActionResult(Run& run, const ActionResult& command) {
    const auto& state = run.State();
    const auto found = state.steps.find(command.step);
    const Step* step = run.Ctx().definition.FindStep(command.step);
    if (step == nullptr || step->kind != StepKind::action) {
        return Refuse("wrong-kind", "'" + command.step + "' is not an action step");
    }
    // A late result for an activation that no longer runs is dropped, like a stale timer.
    if (found == state.steps.end() || found->second.activation != command.activation ||
        found->second.status != StepStatus::waiting || state.status != InstanceStatus::running) {
        return std::move(run).Finish();
    }
    if (command.ok) {
        run.Complete(*step, {{"output", command.output}});
    } else {
        run.Emit(EventType::step_failed, step->id, {{"error", command.error}});
        run.Notify(model::HookEvent::fail, step, std::nullopt, {{"error", command.error}});
    }
    return std::move(run).Finish();
}

std::variant<Decision, CommandError> DecideChild(Run& run, const ChildFinished& command) {
    const auto& state = run.State();
    const auto found = state.steps.find(command.step);
    const Step* step = run.Ctx().definition.FindStep(command.step);
    if (step == nullptr || step->kind != StepKind::subflow || found == state.steps.end()) {
        return Refuse("wrong-kind", "'" + command.step + "' is not a subflow step of instance '" + state.id + "'");
    }
    if (found->second.children_finished.count(command.child_instance) != 0) {
        return std::move(run).Finish();  // this child was counted already (it was moved back and finished again)
    }
    run.Emit(EventType::child_finished, step->id, {{"child", command.child_instance}, {"unit", command.child_unit}});
    const StepRecord& record = run.State().steps.at(step->id);
    if (record.status != StepStatus::waiting || run.State().status != InstanceStatus::running) {
        return std::move(run).Finish();  // counted in the roll-up; the step is already past
    }
    const int done = record.children_done;
    const int total = record.children_total;
    bool satisfied = false;
    switch (step->subflow.rule) {
    case model::ChildRule::all:
        satisfied = done >= total;
        break;
    case model::ChildRule::any:
        satisfied = done >= 1;
        break;
    case model::ChildRule::at_least_count:
        satisfied = done >= std::min(step->subflow.threshold, total);
        break;
    case model::ChildRule::at_least_percent:
        satisfied = std::int64_t{done} * 100 >= std::int64_t{step->subflow.threshold} * total;
        break;
    }
    if (satisfied) {
        run.Complete(*step, {{"children", total}, {"done", done}});
    }
    return std::move(run).Finish();
}

bool ActsForUnit(const model::UnitTree& units, const Actor& actor, const InstanceState& state) {
    if (actor.role == "admin") {
        return units.IsAncestor(actor.unit, state.unit);
    }
    if (actor.unit != state.unit) {
        return false;
    }
    const model::Unit* unit = units.Find(state.unit);
    if (unit == nullptr) {
        return false;
    }
    const auto role = unit->roles.find(actor.role);
    if (role == unit->roles.end()) {
        return false;
    }
    // A named person must hold the role.
    return actor.person.empty() ||
           std::any_of(role->second.begin(), role->second.end(),
                       [&](const model::Person& person) { return person.name == actor.person; });
}

}  // namespace

std::variant<Decision, CommandError> Decide(const Context& context, const InstanceState& state, const Actor& actor,
                                            const Command& command) {
    Run run(context, state, actor);
    run.SetActor(actor);
    if (state.status == InstanceStatus::completed && !std::holds_alternative<FireTimer>(command) &&
        !std::holds_alternative<ActionResult>(command) && !std::holds_alternative<ChildFinished>(command) &&
        !std::holds_alternative<Reset>(command)) {
        return Refuse("instance-completed", "instance '" + state.id + "' is complete; nothing in it can change");
    }
    if (const auto* submit = std::get_if<Submit>(&command))
        return DecideSubmit(run, *submit);
    if (const auto* review = std::get_if<Review>(&command))
        return DecideReview(run, *review);
    if (const auto* timer = std::get_if<FireTimer>(&command))
        return DecideTimer(run, *timer);
    if (const auto* result = std::get_if<ActionResult>(&command))
        return DecideActionResult(run, *result);
    if (const auto* child = std::get_if<ChildFinished>(&command))
        return DecideChild(run, *child);

    const Date today = LocalDate(context.now, context.utc_offset_minutes);
    if (const auto* add = std::get_if<AddProblem>(&command)) {
        if (!ActsForUnit(context.units, actor, state)) {
            return Refuse("wrong-role", "only a role of unit '" + state.unit +
                                            "' or an administrator above it may add to its problem list");
        }
        if (add->title.empty()) {
            return Refuse("invalid-command", "a problem needs a title");
        }
        json::object data{{"id", "P" + std::to_string(state.problems_added + 1)},
                          {"title", add->title},
                          {"owner", add->owner},
                          {"immediate", add->immediate},
                          {"on", today.ToString()}};
        if (add->due)
            data["due"] = add->due->ToString();
        run.Emit(EventType::problem_added, "", std::move(data));
        return std::move(run).Finish();
    }
    if (const auto* close = std::get_if<CloseProblem>(&command)) {
        if (!ActsForUnit(context.units, actor, state)) {
            return Refuse("wrong-role", "only a role of unit '" + state.unit +
                                            "' or an administrator above it may sign off its problems");
        }
        const auto found = state.problems.find(close->id);
        if (found == state.problems.end()) {
            return Refuse("unknown-problem", "unit '" + state.unit + "' has no problem '" + close->id + "'");
        }
        if (found->second.closed) {
            return Refuse("problem-closed", "problem '" + close->id + "' was signed off on " +
                                                (found->second.closed_on ? found->second.closed_on->ToString() : "?"));
        }
        run.Emit(EventType::problem_closed, "", {{"id", close->id}, {"note", close->note}, {"on", today.ToString()}});
        return std::move(run).Finish();
    }

    // Repairs are for administrators of a unit above this one.
    if (actor.role != "admin" || !context.units.IsAncestor(actor.unit, state.unit)) {
        return Refuse("wrong-role", std::string(CommandName(command)) + " is for an administrator of a unit above '" +
                                        state.unit + "' (admin@<unit>), not " + actor.ToString());
    }
    if (const auto* reset = std::get_if<Reset>(&command)) {
        const Step* target = context.definition.FindStep(reset->to_step);
        if (target == nullptr) {
            return Refuse("unknown-step",
                          "workflow '" + context.definition.id + "' has no step '" + reset->to_step + "'");
        }
        const auto found = state.steps.find(reset->to_step);
        if (found == state.steps.end()) {
            return Refuse("not-reachable", "instance '" + state.id + "' has not reached step '" + reset->to_step +
                                               "'; it can only be moved back to a step it has been at");
        }
        if (target->kind != StepKind::task && target->kind != StepKind::action && target->kind != StepKind::subflow) {
            return Refuse("wrong-kind", "an instance can be moved back to a task, action or subflow step, not to a " +
                                            std::string(model::StepKindName(target->kind)));
        }
        if (reset->reason.find_first_not_of(" \t\r\n") == std::string::npos) {
            return Refuse("missing-reason", "moving an instance back needs a reason for the history");
        }
        json::object data = run.PlanReset(reset->to_step);
        data["to"] = reset->to_step;
        data["reason"] = reset->reason;
        run.Emit(EventType::instance_reset, "", std::move(data));
        run.Enter(reset->to_step, "");
        return std::move(run).Finish();
    }
    const auto& retry = std::get<Retry>(command);
    auto opened = OpenStep(context.definition, state, retry.step);
    if (auto* error = std::get_if<CommandError>(&opened))
        return std::move(*error);
    const auto [step, record] = std::get<std::pair<const Step*, const StepRecord*>>(opened);
    if (record->status != StepStatus::failed || step->kind != StepKind::action) {
        return Refuse("not-failed", "only a failed action step can be retried; '" + step->id + "' is " +
                                        std::string(StepStatusName(record->status)));
    }
    run.Emit(EventType::step_retried, step->id, {{"reason", retry.reason}});
    run.QueueAction(*step);
    return std::move(run).Finish();
}

Decision Start(const Context& context, const StartRequest& request) {
    InstanceState empty;
    empty.id = request.instance_id;
    empty.unit = request.unit;
    Run run(context, std::move(empty), Actor{});
    json::object inputs = request.inputs;
    for (const auto& input : context.definition.inputs) {
        if (!inputs.contains(input.name) && !input.default_json.empty()) {
            inputs[input.name] = json::parse(input.default_json);
        }
    }
    json::object vars;
    for (const auto& variable : context.definition.variables) {
        if (!variable.default_json.empty()) {
            vars[variable.name] = json::parse(variable.default_json);
        }
    }
    json::object data{{"unit", request.unit}, {"inputs", std::move(inputs)}, {"vars", std::move(vars)}};
    if (!request.parent_instance.empty()) {
        data["parent_instance"] = request.parent_instance;
        data["parent_step"] = request.parent_step;
    }
    run.Emit(EventType::instance_started, "", std::move(data));
    run.Enter(context.definition.start_step, "");
    return std::move(run).Finish();
}

std::vector<PendingTimer> PendingTimers(const Context& context, const InstanceState& state, std::string_view step_id) {
    std::vector<PendingTimer> timers;
    const auto found = state.steps.find(std::string(step_id));
    const Step* step = context.definition.FindStep(step_id);
    if (found == state.steps.end() || step == nullptr || !found->second.IsOpen() || !found->second.due ||
        state.status != InstanceStatus::running) {
        return timers;
    }
    const StepRecord& record = found->second;
    if (record.status == StepStatus::submitted) {
        return timers;  // the reviewer holds it: no reminder, overdue mark or escalation for the unit
    }
    const Date due = *record.due;
    const auto add = [&](std::string kind, int index, Date on) {
        timers.push_back({std::string(step_id), record.activation, std::move(kind), index,
                          StartOfDay(on, context.utc_offset_minutes)});
    };
    {
        for (std::size_t i = 0; i < step->remind.size() && i < kMaxTimersPerKind; ++i) {
            const auto& before = step->remind[i];
            const Date on = context.definition.Add(due, model::Duration{-before.amount, before.unit});
            // A reminder whose day lies before the step became active is skipped.
            if (on >= record.activated_on && (record.reminders_fired & (1u << i)) == 0) {
                add("remind", static_cast<int>(i), on);
            }
        }
    }
    if (!record.overdue) {
        add("overdue", 0, due.AddDays(1));
    }
    for (std::size_t i = 0; i < step->escalate.size() && i < kMaxTimersPerKind; ++i) {
        if ((record.escalations_fired & (1u << i)) == 0) {
            add("escalate", static_cast<int>(i), context.definition.Add(due, step->escalate[i].after));
        }
    }
    return timers;
}

}  // namespace cascade::engine
