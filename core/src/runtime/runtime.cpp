// The runtime: engine decisions made durable. Each command runs in one
// SQLite transaction that appends its events (hash-chained), updates the
// projections and timers of the steps it touched, queues its side effects in
// the outbox, starts the child instances a subflow asks for and reports a
// finished child to its parent — all or nothing.
#include "cascade/runtime/runtime.hpp"

#include "cascade/check/checker.hpp"
#include "cascade/engine/forms.hpp"
#include "cascade/store/sha256.hpp"

#include <algorithm>
#include <filesystem>
#include <set>
#include <stdexcept>
#include <utility>

namespace cascade::runtime {

namespace json = boost::json;
namespace fs = std::filesystem;
using engine::CommandError;

namespace {

std::string StatusName(engine::InstanceStatus status) {
    return status == engine::InstanceStatus::completed ? "completed" : "running";
}

store::UnitRow ToRow(const model::Unit& unit) {
    json::object roles;
    for (const auto& [role, people] : unit.roles) {
        json::array holders;
        for (const auto& person : people) {
            holders.push_back(json::object{{"name", person.name}, {"contact", person.contact}});
        }
        roles[role] = std::move(holders);
    }
    json::object members;
    for (const auto& [type, count] : unit.members) {
        members[type] = count;
    }
    return {unit.id, unit.parent, unit.name, unit.category, json::serialize(roles), json::serialize(members)};
}

model::Unit FromRow(const store::UnitRow& row) {
    model::Unit unit{row.id, row.parent, row.name, row.category, {}, {}};
    const json::value roles = json::parse(row.roles);
    for (const auto& [role, holders] : roles.as_object()) {
        auto& people = unit.roles[std::string(role)];
        for (const auto& holder : holders.as_array()) {
            const auto& object = holder.as_object();
            people.push_back(
                {std::string(object.at("name").as_string()), std::string(object.at("contact").as_string())});
        }
    }
    const json::value members = json::parse(row.members);
    for (const auto& [type, count] : members.as_object()) {
        unit.members[std::string(type)] = count.as_int64();
    }
    return unit;
}

engine::Event ToEvent(const store::EventRow& row) {
    const auto type = engine::ParseEventType(row.type);
    if (!type) {
        throw std::runtime_error("event " + std::to_string(row.position) + " has an unknown type '" + row.type + "'");
    }
    return engine::Event{*type, row.at, row.actor, row.step, json::parse(row.data).as_object()};
}

std::string CanonicalBundle(const std::map<std::string, std::string>& files) {
    json::object bundle;
    for (const auto& [path, text] : files) {
        bundle[path] = text;
    }
    return json::serialize(bundle);  // std::map order: canonical
}

CommandError Error(std::string code, std::string message) {
    return CommandError{std::move(code), std::move(message), {}};
}

}  // namespace

Runtime::Runtime(store::Store& store, const engine::Clock& clock, RuntimeOptions options)
    : store_(store),
      clock_(clock),
      options_(options),
      rebuild_pending_(store.SchemaVersionBefore() > 0 && store.SchemaVersionBefore() < store::kProjectionsChangedIn) {}

template <typename Body>
auto Runtime::InWriteTransaction(Body&& body) {
    if (batch_) {
        return body();
    }
    store::Store::WriteTransaction transaction(store_);
    try {
        auto result = body();
        transaction.Commit();
        return result;
    } catch (...) {
        // The transaction rolled back: cached states may hold uncommitted events.
        states_.clear();
        throw;
    }
}

void Runtime::Batch(const std::function<void()>& body) {
    if (batch_) {
        body();
        return;
    }
    batch_.emplace(store_);
    try {
        body();
        batch_->Commit();
        batch_.reset();
    } catch (...) {
        batch_.reset();
        states_.clear();
        throw;
    }
}

// ---------------------------------------------------------------- units

void Runtime::EnsureUnits() {
    if (units_) {
        return;
    }
    std::vector<model::Unit> units;
    for (const auto& row : store_.Units()) {
        units.push_back(FromRow(row));
    }
    units_ = model::UnitTree::Build(std::move(units));
    if (rebuild_pending_) {
        // Projections added by a schema upgrade start empty: fill them from the log.
        rebuild_pending_ = false;
        Rebuild();
    }
}

const model::UnitTree& Runtime::Units() {
    EnsureUnits();
    return *units_;
}

std::optional<std::string> Runtime::ImportUnits(const model::UnitTree& units) {
    return InWriteTransaction([&]() -> std::optional<std::string> {
        for (const auto& instance : store_.Instances()) {
            if (units.Find(instance.unit) == nullptr) {
                return "unit '" + instance.unit + "' has instance '" + instance.id +
                       "' but is missing from the new roster; units that take part in a campaign cannot be removed";
            }
        }
        std::vector<store::UnitRow> rows;
        rows.reserve(units.Size());
        for (const auto& unit : units.Units()) {
            rows.push_back(ToRow(unit));
        }
        store_.ReplaceUnits(rows);
        units_ = units;
        return std::nullopt;
    });
}

// ---------------------------------------------------------------- workflows

std::variant<Workflow, lang::Diagnostics> Runtime::Register(const std::string& path) {
    std::map<std::string, std::string> files;
    lang::LoadOptions load;
    load.limits = options_.limits;
    load.files.read = &files;
    lang::LoadResult loaded = check::ValidateWorkflowFile(path, load);
    if (!loaded.Ok()) {
        return loaded.diagnostics;
    }
    const std::string bundle = CanonicalBundle(files);
    const std::string key = store::ToHex(store::Sha256Of(bundle));
    const std::string main_file = fs::path(path).lexically_normal().string();
    InWriteTransaction([&] {
        store_.PutDefinition({key, loaded.definition->id, loaded.definition->version, main_file, bundle});
        return 0;
    });
    workflows_.erase(key);
    return WorkflowByKey(key);
}

const Workflow& Runtime::WorkflowByKey(const std::string& key) {
    if (const auto found = workflows_.find(key); found != workflows_.end()) {
        return found->second;
    }
    // "<bundle key>#<path>" names a subflow's workflow inside the bundle of its parent.
    const auto hash = key.find('#');
    const std::string bundle_key = key.substr(0, hash);
    const auto row = store_.GetDefinition(bundle_key);
    if (!row) {
        throw std::runtime_error("workflow version " + bundle_key + " is not in the database");
    }
    auto pinned = std::make_shared<std::map<std::string, std::string>>();
    const json::value bundle = json::parse(row->bundle);
    for (const auto& [path, text] : bundle.as_object()) {
        (*pinned)[std::string(path)] = std::string(text.as_string());
    }
    const std::string main_file = hash == std::string::npos ? row->main_file : key.substr(hash + 1);
    lang::LoadOptions load;
    load.limits = options_.limits;
    load.files.pinned = pinned;
    lang::LoadResult loaded = check::ValidateWorkflowFile(main_file, load);
    if (!loaded.Ok()) {
        std::string first = loaded.diagnostics.Items().empty() ? "" : lang::FormatText(loaded.diagnostics.Items()[0]);
        throw std::runtime_error("the pinned workflow " + key + " no longer loads: " + first);
    }
    Workflow workflow;
    workflow.key = key;
    workflow.definition = std::make_shared<const model::Definition>(std::move(*loaded.definition));
    for (const auto& step : workflow.definition->steps) {
        if (step.kind == model::StepKind::subflow) {
            const fs::path child = (fs::path(main_file).parent_path() / step.subflow.workflow_path).lexically_normal();
            workflow.subflow_keys[step.id] = bundle_key + "#" + child.string();
        }
    }
    return workflows_.emplace(key, std::move(workflow)).first->second;
}

// ---------------------------------------------------------------- state

engine::Context Runtime::ContextFor(const model::Definition& definition) const {
    return engine::Context{definition, *units_, clock_.Now(), options_.utc_offset_minutes};
}

engine::InstanceState Runtime::Replay(const store::InstanceRow& row) {
    std::vector<engine::Event> events;
    for (const auto& event : store_.Events(row.id)) {
        events.push_back(ToEvent(event));
    }
    // Events before a migration were made under the version the instance started on.
    std::string key = row.definition_key;
    for (const auto& event : events) {
        if (event.type == engine::EventType::instance_migrated) {
            key = std::string(event.data.at("from_definition").as_string());
            break;
        }
    }
    engine::InstanceState state;
    state.id = row.id;
    for (const auto& event : events) {
        if (event.type == engine::EventType::instance_migrated) {
            key = std::string(event.data.at("to_definition").as_string());
        }
        engine::Apply(*WorkflowByKey(key).definition, state, event);
    }
    return state;
}

engine::InstanceState& Runtime::StateFor(const store::InstanceRow& row) {
    auto found = states_.find(row.id);
    if (found == states_.end() || found->second.state.version != row.version ||
        found->second.definition_key != row.definition_key) {
        if (states_.size() >= options_.state_cache_limit) {
            states_.clear();  // cheap and rare: every state can be rebuilt from the log
        }
        found = states_.insert_or_assign(row.id, Cached{Replay(row), row.definition_key}).first;
    }
    return found->second.state;
}

engine::InstanceState Runtime::State(const std::string& instance) {
    EnsureUnits();
    const auto row = store_.GetInstance(instance);
    if (!row) {
        throw std::invalid_argument("no instance '" + instance + "'");
    }
    return Replay(*row);
}

const model::Definition& Runtime::DefinitionOf(const std::string& instance) {
    const auto row = store_.GetInstance(instance);
    if (!row) {
        throw std::invalid_argument("no instance '" + instance + "'");
    }
    return *WorkflowByKey(row->definition_key).definition;
}

// ---------------------------------------------------------------- committing

std::vector<store::TimerRow> Runtime::TimersOf(const model::Definition& definition, const engine::InstanceState& state,
                                               const std::string& step) const {
    std::vector<store::TimerRow> timers;
    for (const auto& timer : engine::PendingTimers(ContextFor(definition), state, step)) {
        timers.push_back({state.id, timer.step, timer.activation, timer.kind, timer.index, timer.fire_at});
    }
    return timers;
}

void Runtime::ProjectStep(const model::Definition& definition, const engine::InstanceState& state,
                          const std::string& step_id, const std::vector<store::TimerRow>* timers_before) {
    const auto found = state.steps.find(step_id);
    const model::Step* step = definition.FindStep(step_id);
    if (found == state.steps.end() || step == nullptr) {
        return;
    }
    const engine::StepRecord& record = found->second;
    store::StepRow row;
    row.instance = state.id;
    row.step = step_id;
    row.stage = step->stage;
    row.status = std::string(engine::StepStatusName(record.status));
    row.activation = record.activation;
    row.visits = record.visits;
    row.activated_on = record.activated_on == model::Date() ? "" : record.activated_on.ToString();
    row.due = record.due ? record.due->ToString() : "";
    row.overdue = record.overdue && record.IsOpen();
    row.escalated = record.escalations_fired != 0 && record.IsOpen();
    row.returns = record.returns;
    row.changed_at = record.changed_at;
    store_.PutStep(row);

    const std::vector<store::TimerRow> timers = TimersOf(definition, state, step_id);
    if (timers_before == nullptr) {
        store_.ReplaceTimers(state.id, step_id, timers);
        return;
    }
    for (const auto& timer : *timers_before) {
        if (std::find(timers.begin(), timers.end(), timer) == timers.end())
            store_.DeleteTimer(timer);
    }
    for (const auto& timer : timers) {
        if (std::find(timers_before->begin(), timers_before->end(), timer) == timers_before->end()) {
            store_.InsertTimer(timer);
        }
    }
}

void Runtime::Commit(store::InstanceRow& row, engine::InstanceState& state, const engine::Decision& decision,
                     StartOutcome* started) {
    if (decision.events.empty()) {
        return;
    }
    const Workflow& workflow = WorkflowByKey(row.definition_key);
    const model::Definition& definition = *workflow.definition;
    const engine::Timestamp now = clock_.Now();
    std::vector<std::int64_t> sequence_of;
    std::set<std::string> touched;
    bool all_steps = false;
    bool problems = false;
    // The timers of the steps this command touches, as they stand before it.
    std::map<std::string, std::vector<store::TimerRow>> timers_before;
    for (const auto& event : decision.events) {
        if (event.type == engine::EventType::instance_completed || event.type == engine::EventType::instance_reset ||
            event.type == engine::EventType::branches_withdrawn) {
            for (const auto& [id, record] : state.steps)
                timers_before.try_emplace(id, TimersOf(definition, state, id));
        } else if (!event.step.empty()) {
            timers_before.try_emplace(event.step, TimersOf(definition, state, event.step));
        }
    }
    for (const auto& event : decision.events) {
        engine::Apply(definition, state, event);
        store_.Append(row.id, state.version, event.at, event.actor, std::string(engine::EventTypeName(event.type)),
                      event.step, engine::EventDataJson(event));
        sequence_of.push_back(state.version);
        if (!event.step.empty()) {
            touched.insert(event.step);
        }
        all_steps |= event.type == engine::EventType::instance_completed ||
                     event.type == engine::EventType::instance_reset ||
                     event.type == engine::EventType::branches_withdrawn;
        problems |= event.type == engine::EventType::problem_added || event.type == engine::EventType::problem_closed;
    }
    if (all_steps) {
        for (const auto& [id, record] : state.steps)
            touched.insert(id);
    }
    for (const auto& step : touched) {
        const auto before = timers_before.find(step);
        ProjectStep(definition, state, step, before == timers_before.end() ? nullptr : &before->second);
    }
    if (problems) {
        for (const auto& [id, problem] : state.problems) {
            store_.PutProblem({state.id, id, problem.title, problem.owner, problem.due ? problem.due->ToString() : "",
                               problem.immediate, problem.closed, problem.opened_on.ToString(),
                               problem.closed_on ? problem.closed_on->ToString() : ""});
        }
    }
    row.version = state.version;
    row.status = StatusName(state.status);
    row.updated_at = now;
    store_.UpdateInstance(row.id, row.definition_key, row.status, row.version, row.updated_at);
    if (started != nullptr) {
        started->events += static_cast<std::int64_t>(decision.events.size());
    }

    for (const auto& effect : decision.effects) {
        const std::int64_t seq = sequence_of.at(effect.event_index);
        if (effect.kind == "start-children") {
            const std::string step = std::string(effect.payload.at("step").as_string());
            const auto child_key = workflow.subflow_keys.find(step);
            if (child_key == workflow.subflow_keys.end()) {
                throw std::logic_error("subflow step '" + step + "' has no pinned workflow");
            }
            const Workflow& child = WorkflowByKey(child_key->second);
            for (const auto& unit_value : effect.payload.at("children").as_array()) {
                const std::string unit(unit_value.as_string());
                // Entered again (a rework loop or an administrator's reset): the
                // children it started before carry on; those already finished count.
                if (const auto existing = store_.FindChild(row.id, step, unit)) {
                    if (existing->status == "completed") {
                        CommandRequest report;
                        report.instance = row.id;
                        report.command = engine::ChildFinished{step, existing->id, unit};
                        if (const auto outcome = ExecuteLocked(report); outcome.error) {
                            throw std::logic_error("instance '" + row.id +
                                                   "' refused a finished child: " + outcome.error->message);
                        }
                    }
                    continue;
                }
                StartInstance(row.campaign, child, unit, row.id, step, {}, started);
            }
            continue;
        }
        store::OutboxRow outbox;
        outbox.key = row.id + "/" + std::to_string(seq) + "/" + effect.kind + "/" + std::to_string(effect.sequence);
        outbox.instance = row.id;
        outbox.kind = effect.kind;
        outbox.target = effect.target;
        outbox.payload = json::serialize(effect.payload);
        outbox.next_attempt_at = now;
        outbox.created_at = now;
        store_.Enqueue(outbox);
    }

    // A finished child tells its parent, in the same transaction.
    if (state.status == engine::InstanceStatus::completed && !row.parent_instance.empty() &&
        decision.events.back().type == engine::EventType::instance_completed) {
        CommandRequest report;
        report.instance = row.parent_instance;
        report.command = engine::ChildFinished{row.parent_step, row.id, row.unit};
        const CommandOutcome outcome = ExecuteLocked(report);
        if (outcome.error) {
            throw std::logic_error("parent instance '" + row.parent_instance +
                                   "' refused a finished child: " + outcome.error->message);
        }
    }
}

std::string Runtime::StartInstance(const std::string& campaign, const Workflow& workflow, const std::string& unit,
                                   const std::string& parent_instance, const std::string& parent_step,
                                   const json::object& inputs, StartOutcome* started) {
    std::string id = campaign + "/" + unit;
    if (store_.GetInstance(id)) {
        id += "~" + parent_step;  // the unit is reached twice (two subflow steps): keep both
    }
    if (store_.GetInstance(id)) {
        throw std::logic_error("instance '" + id + "' exists already; a unit is started once per subflow step");
    }
    store::InstanceRow row{id, campaign, unit, workflow.key, parent_instance, parent_step, "running", 0, clock_.Now()};
    store_.PutInstance(row);
    engine::InstanceState state;
    state.id = id;
    const engine::Decision decision =
        engine::Start(ContextFor(*workflow.definition), {id, unit, parent_instance, parent_step, inputs});
    Commit(row, state, decision, started);
    if (started != nullptr && parent_instance.empty()) {
        started->instances.push_back(id);
    } else if (started != nullptr) {
        ++started->child_instances;
    }
    states_.insert_or_assign(id, Cached{std::move(state), workflow.key});
    return id;
}

// ---------------------------------------------------------------- campaigns

Runtime::Coverage Runtime::CoverageOf(const model::Definition& definition, const model::Unit& root) {
    EnsureUnits();
    const auto in_categories = [&](const model::Unit& unit) {
        if (definition.categories.empty()) {
            return true;
        }
        return std::any_of(definition.categories.begin(), definition.categories.end(),
                           [&](const model::NamedText& category) { return category.id == unit.category; });
    };
    // A unit is reached through a subflow when its parent is reached and has
    // a subflow step for the unit's category: starting it on its own too
    // would count it twice. (Whether `applies_if` lets the step run is known
    // only at run time; the category decides here.)
    const auto cascades_to = [&](const model::Unit& parent, const model::Unit& child) {
        return std::any_of(definition.steps.begin(), definition.steps.end(), [&](const model::Step& step) {
            if (step.kind != model::StepKind::subflow || !engine::AppliesToCategory(step, parent)) {
                return false;
            }
            const auto& wanted = step.subflow.child_categories;
            return wanted.empty() || std::find(wanted.begin(), wanted.end(), child.category) != wanted.end();
        });
    };
    Coverage coverage;
    std::set<std::string> reached;
    for (const model::Unit* unit : units_->Subtree(root)) {
        const model::Unit* parent = units_->Parent(*unit);
        if (parent != nullptr && reached.count(parent->id) != 0 && cascades_to(*parent, *unit)) {
            coverage.through_subflows.push_back(unit);
            reached.insert(unit->id);
        } else if (in_categories(*unit)) {
            coverage.top_level.push_back(unit);
            reached.insert(unit->id);
        } else {
            coverage.not_covered.push_back(unit);
        }
    }
    return coverage;
}

StartOutcome Runtime::StartCampaign(const Workflow& workflow, const StartOptions& options, const Progress& progress) {
    EnsureUnits();
    StartOutcome outcome;
    const model::Definition& definition = *workflow.definition;
    outcome.campaign_id = options.campaign_id.empty() ? definition.id : options.campaign_id;
    if (units_->Empty()) {
        outcome.error = Error("no-units", "the database has no unit roster; import one with `cascade units import`");
        return outcome;
    }
    const model::Unit* root = options.scope_root.empty() ? units_->Root() : units_->Find(options.scope_root);
    if (root == nullptr) {
        std::vector<std::string> ids;
        for (const auto& unit : units_->Units())
            ids.push_back(unit.id);
        outcome.error = Error("unknown-unit", "no unit '" + options.scope_root + "' in the roster" +
                                                  (lang::DidYouMean(options.scope_root, ids).empty()
                                                       ? std::string()
                                                       : "; " + lang::DidYouMean(options.scope_root, ids)));
        return outcome;
    }
    if (store_.GetCampaign(outcome.campaign_id)) {
        outcome.error =
            Error("campaign-exists", "campaign '" + outcome.campaign_id +
                                         "' was already started in this database; choose another --campaign id");
        return outcome;
    }
    // Inputs are checked like a form against the workflow's declared inputs.
    std::vector<model::FormField> input_fields;
    for (const auto& input : definition.inputs) {
        model::FormField field;
        field.name = input.name;
        field.type = input.type;
        field.choices = input.choices;
        field.required = input.required && input.default_json.empty();
        input_fields.push_back(field);
    }
    const engine::FormCheck inputs = engine::ValidateForm(input_fields, json::value(options.inputs));
    if (!inputs.Ok()) {
        CommandError error = Error("invalid-inputs", "the campaign inputs have errors");
        for (const auto& field_error : inputs.errors)
            error.details.push_back(field_error.path + ": " + field_error.message);
        outcome.error = std::move(error);
        return outcome;
    }
    const auto units = CoverageOf(definition, *root).top_level;
    if (units.empty()) {
        outcome.error = Error(
            "empty-scope", "no unit under '" + root->id + "' has a category workflow '" + definition.id + "' runs on");
        return outcome;
    }
    const auto total = static_cast<std::int64_t>(units.size());
    InWriteTransaction([&] {
        store_.PutCampaign(
            {outcome.campaign_id, workflow.key, definition.id, root->id, options_.utc_offset_minutes, clock_.Now()});
        std::int64_t done = 0;
        for (const model::Unit* unit : units) {
            StartInstance(outcome.campaign_id, workflow, unit->id, "", "", inputs.normalized, &outcome);
            if (progress)
                progress(++done, total);
        }
        return 0;
    });
    return outcome;
}

// ---------------------------------------------------------------- commands

namespace {

std::string RequestHash(const CommandRequest& request) {
    json::object body{{"instance", request.instance},
                      {"actor", request.actor.ToString()},
                      {"command", engine::CommandName(request.command)}};
    std::visit(
        [&](const auto& command) {
            using T = std::decay_t<decltype(command)>;
            if constexpr (std::is_same_v<T, engine::Submit>) {
                body["step"] = command.step;
                body["form"] = command.form;
            } else if constexpr (std::is_same_v<T, engine::Review>) {
                body["step"] = command.step;
                body["approve"] = command.approve;
                body["reason"] = command.reason;
            } else if constexpr (std::is_same_v<T, engine::AddProblem>) {
                body["title"] = command.title;
                body["owner"] = command.owner;
                body["due"] = command.due ? command.due->ToString() : "";
                body["immediate"] = command.immediate;
            } else if constexpr (std::is_same_v<T, engine::CloseProblem>) {
                body["id"] = command.id;
                body["note"] = command.note;
            } else if constexpr (std::is_same_v<T, engine::Reset>) {
                body["to"] = command.to_step;
                body["reason"] = command.reason;
            } else if constexpr (std::is_same_v<T, engine::Retry>) {
                body["step"] = command.step;
                body["reason"] = command.reason;
            }
        },
        request.command);
    return store::ToHex(store::Sha256Of(json::serialize(body)));
}

}  // namespace

CommandOutcome Runtime::Execute(const CommandRequest& request) {
    EnsureUnits();
    // A refused command is refused before anything is written, so committing
    // its (empty) transaction writes nothing.
    return InWriteTransaction([&] { return ExecuteLocked(request); });
}

CommandOutcome Runtime::ExecuteLocked(const CommandRequest& request) {
    CommandOutcome outcome;
    std::string request_hash;
    if (!request.idempotency_key.empty()) {
        request_hash = RequestHash(request);
        if (const auto record = store_.FindCommand(request.idempotency_key)) {
            if (record->request_hash != request_hash) {
                outcome.error = Error("key-reused", "idempotency key '" + request.idempotency_key +
                                                        "' was used before for a different command");
                return outcome;
            }
            const json::object stored = json::parse(record->result).as_object();
            outcome.version = stored.at("version").as_int64();
            for (const auto& type : stored.at("events").as_array())
                outcome.events.emplace_back(type.as_string());
            outcome.replayed = true;
            return outcome;
        }
    }
    auto row = store_.GetInstance(request.instance);
    if (!row) {
        outcome.error = Error("unknown-instance", "no instance '" + request.instance + "' in this database");
        return outcome;
    }
    if (request.expected_version && *request.expected_version != row->version) {
        outcome.error =
            Error("conflict", "instance '" + row->id + "' changed while this command was prepared (version " +
                                  std::to_string(*request.expected_version) + " expected, now " +
                                  std::to_string(row->version) + "); look again and retry");
        return outcome;
    }
    const Workflow& workflow = WorkflowByKey(row->definition_key);
    engine::InstanceState& state = StateFor(*row);
    auto decided = engine::Decide(ContextFor(*workflow.definition), state, request.actor, request.command);
    if (auto* error = std::get_if<CommandError>(&decided)) {
        outcome.error = std::move(*error);
        outcome.version = row->version;
        return outcome;
    }
    const auto& decision = std::get<engine::Decision>(decided);
    Commit(*row, state, decision, nullptr);
    outcome.version = row->version;
    for (const auto& event : decision.events)
        outcome.events.emplace_back(engine::EventTypeName(event.type));
    if (!request.idempotency_key.empty()) {
        json::array events;
        for (const auto& type : outcome.events)
            events.emplace_back(type);
        store_.SaveCommand(request.idempotency_key, request_hash,
                           json::serialize(json::object{{"version", outcome.version}, {"events", std::move(events)}}),
                           clock_.Now());
    }
    return outcome;
}

int Runtime::FireDueTimers(int limit) {
    EnsureUnits();
    int handled = 0;
    for (;;) {
        const auto due = store_.DueTimers(clock_.Now(), std::min(limit - handled, 500));
        if (due.empty()) {
            break;
        }
        for (const auto& timer : due) {
            InWriteTransaction([&] {
                // Re-check inside the transaction: another process may have fired it.
                store_.DeleteTimer(timer);
                if (store_.Db().Changes() == 0) {
                    return 0;
                }
                CommandRequest request;
                request.instance = timer.instance;
                request.command = engine::FireTimer{timer.step, timer.activation, timer.kind, timer.index};
                const CommandOutcome outcome = ExecuteLocked(request);
                if (outcome.error) {
                    throw std::logic_error("timer for '" + timer.instance + "' step '" + timer.step +
                                           "' was refused: " + outcome.error->message);
                }
                return 0;
            });
            ++handled;
        }
        if (handled >= limit) {
            break;
        }
    }
    return handled;
}

DeliveryCounts Runtime::DeliverDueEffects(const Deliverer& deliver, int limit) {
    EnsureUnits();
    DeliveryCounts counts;
    const auto due = store_.DueEffects(clock_.Now(), limit);
    // Effects are delivered outside any transaction (a slow notifier must not
    // hold the write lock), and their outcomes recorded a chunk at a time: one
    // commit per chunk instead of one per effect. A crash after delivery and
    // before the chunk's commit delivers those effects again (at least once);
    // receivers deduplicate by the key.
    constexpr std::size_t kChunk = 256;
    struct Outcome {
        const store::OutboxRow* effect;
        Delivery delivery;
    };
    std::vector<Outcome> chunk;
    chunk.reserve(kChunk);
    const auto record = [&] {
        InWriteTransaction([&] {
            for (auto& [effect, delivery] : chunk) {
                RecordDelivery(*effect, delivery, counts);
            }
            return 0;
        });
        chunk.clear();
    };
    for (const auto& effect : due) {
        Delivery delivery;
        try {
            delivery = deliver(effect);
        } catch (const std::exception& failure) {
            delivery = {Delivery::Status::retry, failure.what(), {}};
        }
        chunk.push_back({&effect, std::move(delivery)});
        if (chunk.size() == kChunk) {
            record();
        }
    }
    if (!chunk.empty()) {
        record();
    }
    return counts;
}

void Runtime::RecordDelivery(const store::OutboxRow& effect, const Delivery& delivery, DeliveryCounts& counts) {
    const int attempts = effect.attempts + 1;
    // An action step declares its own retry policy; notifications use the runtime's.
    int max_attempts = options_.max_attempts;
    std::int64_t first_backoff = options_.backoff_ms;
    // Parsed once: the action's retry policy and, after delivery, the step it reports to.
    const json::value payload = effect.kind == "action" ? json::parse(effect.payload) : json::value();
    if (effect.kind == "action") {
        if (const auto* value = payload.as_object().if_contains("max_attempts"); value && value->is_int64()) {
            max_attempts = static_cast<int>(value->as_int64());
        }
        if (const auto* value = payload.as_object().if_contains("backoff_ms"); value && value->is_int64()) {
            first_backoff = value->as_int64();
        }
    }
    const bool give_up = delivery.status == Delivery::Status::error ||
                         (delivery.status == Delivery::Status::retry && attempts >= max_attempts);
    if (delivery.status == Delivery::Status::ok) {
        store_.MarkDelivered(effect.id, clock_.Now());
        ++counts.delivered;
    } else if (!give_up) {
        std::int64_t backoff = first_backoff;
        for (int i = 1; i < attempts && backoff < options_.max_backoff_ms; ++i)
            backoff *= 2;
        store_.MarkRetry(effect.id, attempts, clock_.Now() + std::min(backoff, options_.max_backoff_ms),
                         delivery.message);
        ++counts.retried;
        return;
    } else {
        store_.MarkDead(effect.id, attempts, delivery.message);
        ++counts.dead;
    }
    if (effect.kind == "action") {
        CommandRequest request;
        request.instance = effect.instance;
        engine::ActionResult result;
        result.step = std::string(payload.at("step").as_string());
        result.activation = payload.at("activation").as_int64();
        result.ok = delivery.status == Delivery::Status::ok;
        result.error = delivery.message;
        result.output = delivery.output;
        request.command = std::move(result);
        const CommandOutcome outcome = ExecuteLocked(request);
        if (outcome.error) {
            throw std::logic_error("action result for '" + effect.instance +
                                   "' was refused: " + outcome.error->message);
        }
    }
}

std::optional<engine::Timestamp> Runtime::NextWakeUp() {
    const auto timer = store_.NextTimerAt();
    const auto effect = store_.NextEffectAt();
    if (timer && effect)
        return std::min(*timer, *effect);
    return timer ? timer : effect;
}

// ---------------------------------------------------------------- migration, rebuild

std::variant<int, CommandError> Runtime::Migrate(const std::string& campaign, const Workflow& to,
                                                 const engine::Actor& actor) {
    EnsureUnits();
    const auto row = store_.GetCampaign(campaign);
    if (!row) {
        return Error("unknown-campaign", "no campaign '" + campaign + "' in this database");
    }
    if (actor.role != "admin" || (actor.unit != row->scope_root && !units_->IsAncestor(actor.unit, row->scope_root))) {
        return Error("wrong-role", "moving campaign '" + campaign +
                                       "' to another version is for an administrator of '" + row->scope_root +
                                       "' or a unit above it (admin@" + row->scope_root + "), not " + actor.ToString());
    }
    if (to.definition->id != WorkflowByKey(row->definition_key).definition->id) {
        return Error("wrong-workflow", "campaign '" + campaign + "' runs workflow '" +
                                           WorkflowByKey(row->definition_key).definition->id + "', not '" +
                                           to.definition->id + "'");
    }
    auto instances = store_.Instances(campaign);
    // Check everything first: a migration is all or nothing.
    CommandError refused = Error("cannot-migrate", "");
    for (const auto& instance : instances) {
        if (instance.status != "running" || !instance.parent_instance.empty()) {
            continue;
        }
        const engine::InstanceState state = Replay(instance);
        for (const auto& step : state.OpenSteps()) {
            if (to.definition->FindStep(step) == nullptr) {
                refused.details.push_back("instance '" + instance.id + "' is at step '" + step +
                                          "', which the new version does not have");
            }
        }
    }
    if (!refused.details.empty()) {
        refused.message = std::to_string(refused.details.size()) +
                          " open step(s) do not exist in the new version; nothing was migrated";
        return refused;
    }
    return InWriteTransaction([&]() -> std::variant<int, CommandError> {
        int moved = 0;
        for (auto& instance : instances) {
            if (instance.status != "running" || !instance.parent_instance.empty() ||
                instance.definition_key == to.key) {
                continue;
            }
            engine::InstanceState state = Replay(instance);
            json::object due;
            for (const auto& step_id : state.OpenSteps()) {
                const auto& record = state.steps.at(step_id);
                const auto date =
                    engine::DueDate(*to.definition, *to.definition->FindStep(step_id), record.activated_on);
                due[step_id] = date ? json::value(date->ToString()) : json::value(nullptr);
            }
            engine::Decision decision;
            decision.events.push_back(engine::Event{
                engine::EventType::instance_migrated,
                clock_.Now(),
                actor.ToString(),
                "",
                {{"from_definition", instance.definition_key}, {"to_definition", to.key}, {"due", std::move(due)}}});
            instance.definition_key = to.key;
            Commit(instance, state, decision, nullptr);
            // Timers follow the new version's deadlines.
            for (const auto& step : state.OpenSteps())
                ProjectStep(*to.definition, state, step);
            states_.erase(instance.id);
            ++moved;
        }
        return moved;
    });
}

std::int64_t Runtime::Rebuild(const Progress& progress) {
    EnsureUnits();
    return InWriteTransaction([&] {
        store_.ClearProjections();
        states_.clear();
        auto instances = store_.Instances();
        std::int64_t events = 0;
        std::int64_t done = 0;
        for (auto& row : instances) {
            const engine::InstanceState state = Replay(row);
            events += state.version;
            const model::Definition& definition = *WorkflowByKey(row.definition_key).definition;
            for (const auto& [step, record] : state.steps)
                ProjectStep(definition, state, step);
            for (const auto& [id, problem] : state.problems) {
                store_.PutProblem({state.id, id, problem.title, problem.owner,
                                   problem.due ? problem.due->ToString() : "", problem.immediate, problem.closed,
                                   problem.opened_on.ToString(),
                                   problem.closed_on ? problem.closed_on->ToString() : ""});
            }
            row.version = state.version;
            row.status = StatusName(state.status);
            store_.UpdateInstance(row.id, row.definition_key, row.status, row.version, row.updated_at);
            if (progress)
                progress(++done, static_cast<std::int64_t>(instances.size()));
        }
        return events;
    });
}

// ---------------------------------------------------------------- reading

std::vector<InstanceProgress> Runtime::ProgressReport(const std::string& campaign) {
    EnsureUnits();
    std::vector<InstanceProgress> report;
    std::map<std::string, std::vector<store::StepRow>> steps_by_instance;
    for (auto& step : store_.Steps()) {
        steps_by_instance[step.instance].push_back(std::move(step));
    }
    std::map<std::string, std::pair<int, int>> problems;  // instance -> open, total
    for (const auto& problem : store_.Problems()) {
        auto& counts = problems[problem.instance];
        counts.first += problem.closed ? 0 : 1;
        ++counts.second;
    }
    for (const auto& instance : store_.Instances(campaign)) {
        InstanceProgress progress;
        progress.instance = instance;
        const model::Unit* unit = units_->Find(instance.unit);
        progress.unit_name = unit != nullptr ? unit->name : instance.unit;
        progress.category = unit != nullptr ? unit->category : "";
        const model::Definition& definition = *WorkflowByKey(instance.definition_key).definition;
        std::map<std::string, const store::StepRow*> rows;
        for (const auto& step : steps_by_instance[instance.id])
            rows[step.step] = &step;
        for (const auto& step : definition.steps) {
            const bool counts = step.kind == model::StepKind::task || step.kind == model::StepKind::action ||
                                step.kind == model::StepKind::subflow;
            if (!counts || (unit != nullptr && !engine::AppliesToCategory(step, *unit))) {
                continue;
            }
            const auto found = rows.find(step.id);
            const store::StepRow* row = found == rows.end() ? nullptr : found->second;
            const bool open = row != nullptr && (row->status == "active" || row->status == "submitted" ||
                                                 row->status == "waiting" || row->status == "failed");
            // Open and overdue steps are listed whether or not they belong to a stage.
            if (open) {
                progress.open_steps.push_back(step.id);
                if (row->overdue)
                    progress.overdue_steps.push_back(step.id);
            }
            if (step.stage.empty() || (row != nullptr && row->status == "skipped")) {
                continue;  // no stage to count in, or applies_if said it is not this unit's work
            }
            if (row == nullptr && instance.status == "completed") {
                continue;  // a route the instance did not take (a decision chose another edge)
            }
            auto& stage = progress.stages[step.stage];
            ++stage.applicable;
            stage.done += row != nullptr && row->status == "completed" ? 1 : 0;
            stage.overdue += open && row->overdue ? 1 : 0;
        }
        progress.problems_open = problems[instance.id].first;
        progress.problems_total = problems[instance.id].second;
        report.push_back(std::move(progress));
    }
    return report;
}

}  // namespace cascade::runtime
