// The imperative shell around the engine: loads and pins workflows, keeps
// the unit roster, starts campaigns, runs commands (one transaction each, or
// many in a batch), fires due timers and drains the outbox. It is what the
// CLI (and later the HTTP server) call.
//
// Error policy: refused commands come back as values (CommandOutcome with an
// error); workflow and roster problems as Diagnostics; storage failures as
// exceptions from the store layer.
#pragma once

#include "cascade/engine/clock.hpp"
#include "cascade/engine/engine.hpp"
#include "cascade/lang/diagnostic.hpp"
#include "cascade/lang/limits.hpp"
#include "cascade/model/definition.hpp"
#include "cascade/model/units.hpp"
#include "cascade/store/store.hpp"

#include <boost/json.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

namespace cascade::runtime {

// A workflow as a campaign runs it: checked, and pinned by the SHA-256 of
// every file it was loaded from (the workflow, its calendar, its subflows).
struct Workflow {
    std::string key;
    std::shared_ptr<const model::Definition> definition;
    std::map<std::string, std::string> subflow_keys;  // subflow step -> the child workflow's key
};

struct RuntimeOptions {
    int utc_offset_minutes = 480;
    lang::LoadLimits limits;
    // Outbox delivery: attempts before an effect is parked as dead, and the
    // first back-off (doubled per attempt, capped at max_backoff_ms).
    int max_attempts = 8;
    std::int64_t backoff_ms = 30'000;
    std::int64_t max_backoff_ms = 3'600'000;
    // Instance states kept in memory between commands (each is rebuilt from
    // the log on a miss, so this only trades memory for speed).
    std::size_t state_cache_limit = 20'000;
};

struct CommandRequest {
    std::string instance;
    engine::Actor actor;
    engine::Command command;
    std::optional<std::int64_t> expected_version;  // optimistic check: refused as a conflict if the instance moved on
    std::string idempotency_key;                   // a retried command with the same key is answered, not re-run
};

struct CommandOutcome {
    std::optional<engine::CommandError> error;  // codes of the engine, plus unknown-instance, conflict, key-reused
    std::int64_t version = 0;                   // the instance's version after the command
    std::vector<std::string> events;            // types of the events appended (for the caller's message)
    bool replayed = false;                      // answered from the idempotency record; nothing written
    bool Ok() const { return !error.has_value(); }
};

struct StartOptions {
    std::string campaign_id;  // default: the workflow id
    std::string scope_root;   // default: the roster's root
    boost::json::object inputs;
};

struct StartOutcome {
    std::optional<engine::CommandError> error;
    std::string campaign_id;
    std::vector<std::string> instances;  // top-level instances, one per unit in scope
    std::int64_t child_instances = 0;    // started by subflow steps on the way
    std::int64_t events = 0;
};

// What delivering one outbox entry gave. The runtime owns retry and back-off.
struct Delivery {
    enum class Status { ok, retry, error };
    Status status = Status::ok;
    std::string message;
    boost::json::object output;  // action results
};
using Deliverer = std::function<Delivery(const store::OutboxRow&)>;

struct DeliveryCounts {
    int delivered = 0;
    int retried = 0;
    int dead = 0;
};

// Per instance and stage: how many of the steps that apply to the unit are done.
struct StageProgress {
    int applicable = 0;
    int done = 0;
    int overdue = 0;
};
struct InstanceProgress {
    store::InstanceRow instance;
    std::string unit_name;
    std::string category;
    std::map<std::string, StageProgress> stages;  // by stage id
    std::vector<std::string> open_steps;
    std::vector<std::string> overdue_steps;
    int problems_open = 0;
    int problems_total = 0;
};

using Progress = std::function<void(std::int64_t done, std::int64_t total)>;

class Runtime {
public:
    Runtime(store::Store& store, const engine::Clock& clock, RuntimeOptions options = {});

    // ---- units
    // Replaces the roster (stored in the database). Refused while a running
    // instance's unit would disappear.
    std::optional<std::string> ImportUnits(const model::UnitTree& units);
    const model::UnitTree& Units();

    // ---- workflows
    // Loads, checks and pins a workflow file (and its subflows).
    std::variant<Workflow, lang::Diagnostics> Register(const std::string& path);
    const Workflow& WorkflowByKey(const std::string& key);

    // ---- campaigns
    StartOutcome StartCampaign(const Workflow& workflow, const StartOptions& options, const Progress& progress = {});
    // Who a campaign reaches under `root`: units that get a top-level
    // instance (a category the workflow runs on, not reached through a subflow
    // of a unit above), units a subflow step of a unit above will reach, and
    // units nothing reaches (a category the workflow does not list).
    struct Coverage {
        std::vector<const model::Unit*> top_level;
        std::vector<const model::Unit*> through_subflows;
        std::vector<const model::Unit*> not_covered;
    };
    Coverage CoverageOf(const model::Definition& definition, const model::Unit& root);

    // ---- commands
    CommandOutcome Execute(const CommandRequest& request);
    // Runs `body` in one transaction: every Execute inside joins it (batch mode).
    void Batch(const std::function<void()>& body);

    // Fires the timers due now (each through the engine, so a timer whose step
    // was completed meanwhile does nothing). Returns the number handled.
    int FireDueTimers(int limit = 10'000);
    // Delivers effects due now; results of actions go back into their instances.
    DeliveryCounts DeliverDueEffects(const Deliverer& deliver, int limit = 10'000);
    // The earliest time a timer or an effect is due, if any.
    std::optional<engine::Timestamp> NextWakeUp();

    // ---- migration and repair
    // Moves running instances of a campaign to another version of its
    // workflow. Refused (nothing changed) when an open step no longer exists.
    std::variant<int, engine::CommandError> Migrate(const std::string& campaign, const Workflow& to,
                                                    const engine::Actor& actor);
    // Rebuilds every projection from the log. Returns the number of events replayed.
    std::int64_t Rebuild(const Progress& progress = {});

    // ---- reading
    engine::InstanceState State(const std::string& instance);
    const model::Definition& DefinitionOf(const std::string& instance);
    std::vector<InstanceProgress> ProgressReport(const std::string& campaign = {});
    engine::Context ContextFor(const model::Definition& definition) const;

    store::Store& Store() { return store_; }
    const engine::Clock& Clock() const { return clock_; }
    int UtcOffsetMinutes() const { return options_.utc_offset_minutes; }

private:
    struct Cached {
        engine::InstanceState state;
        std::string definition_key;
    };

    void EnsureUnits();
    engine::InstanceState Replay(const store::InstanceRow& row);
    engine::InstanceState& StateFor(const store::InstanceRow& row);
    void Commit(store::InstanceRow& row, engine::InstanceState& state, const engine::Decision& decision,
                StartOutcome* started);
    // Writes the step's projection row and its timers. With `timers_before`
    // (the step's pending timers before the command), only the timers that
    // changed are written: most commands leave them as they were.
    void ProjectStep(const model::Definition& definition, const engine::InstanceState& state, const std::string& step,
                     const std::vector<store::TimerRow>* timers_before = nullptr);
    std::vector<store::TimerRow> TimersOf(const model::Definition& definition, const engine::InstanceState& state,
                                          const std::string& step) const;
    std::string StartInstance(const std::string& campaign, const Workflow& workflow, const std::string& unit,
                              const std::string& parent_instance, const std::string& parent_step,
                              const boost::json::object& inputs, StartOutcome* started);
    CommandOutcome ExecuteLocked(const CommandRequest& request);
    // Marks one delivered effect (inside the caller's transaction) and feeds an action's result back.
    void RecordDelivery(const store::OutboxRow& effect, const Delivery& delivery, DeliveryCounts& counts);
    template <typename Body>
    auto InWriteTransaction(Body&& body);

    store::Store& store_;
    const engine::Clock& clock_;
    RuntimeOptions options_;
    std::optional<model::UnitTree> units_;
    std::unordered_map<std::string, Workflow> workflows_;
    std::unordered_map<std::string, Cached> states_;
    std::optional<store::Store::WriteTransaction> batch_;
    bool rebuild_pending_ = false;  // the schema was upgraded past a projection change
};

}  // namespace cascade::runtime
