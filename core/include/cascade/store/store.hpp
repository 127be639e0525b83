// The campaign database: the hash-chained event log, the projections that
// answer "where do things stand" quickly, the timer table, the outbox of side
// effects, idempotency records, the unit roster and the pinned workflow texts.
//
// The store knows rows, not execution rules: callers (the runtime) decide what
// to write; the store writes it and keeps the hash chain. Every method runs
// inside the caller's transaction (see WriteTransaction); none commits on its own.
//
// Error policy: SQLite failures are exceptions (SqliteError); a database
// from a newer Cascade is SchemaTooNewError.
#pragma once

#include "cascade/store/sha256.hpp"
#include "cascade/store/sqlite.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace cascade::store {

// The newest schema version this build writes.
int CurrentSchemaVersion();
// The last schema version that added or changed a projection: a database
// upgraded from an older version must have its projections rebuilt from the
// log (the runtime does so when it opens it).
constexpr int kProjectionsChangedIn = 2;
// "CSCD": marks the file as a Cascade database.
constexpr std::int32_t kApplicationId = 0x43534344;

struct EventRow {
    std::int64_t position = 0;  // global order of the log, 1, 2, 3 ...
    std::string instance;
    std::int64_t seq = 0;  // 1, 2, 3 ... within the instance
    std::int64_t at = 0;
    std::string actor;
    std::string type;
    std::string step;
    std::string data;  // JSON object
    Digest previous_hash{};
    Digest hash{};
};

struct InstanceRow {
    std::string id;
    std::string campaign;
    std::string unit;
    std::string definition_key;
    std::string parent_instance;
    std::string parent_step;
    std::string status;  // running, completed
    std::int64_t version = 0;
    std::int64_t updated_at = 0;
};

struct StepRow {
    std::string instance;
    std::string step;
    std::string stage;
    std::string status;
    std::int64_t activation = 0;
    int visits = 0;
    std::string activated_on;  // YYYY-MM-DD or empty
    std::string due;           // YYYY-MM-DD or empty
    bool overdue = false;
    bool escalated = false;
    int returns = 0;
    std::int64_t changed_at = 0;
    friend bool operator==(const StepRow&, const StepRow&) = default;
};

struct TimerRow {
    std::string instance;
    std::string step;
    std::int64_t activation = 0;
    std::string kind;
    int index = 0;
    std::int64_t fire_at = 0;
    friend bool operator==(const TimerRow&, const TimerRow&) = default;
};

struct ProblemRow {
    std::string instance;
    std::string id;
    std::string title;
    std::string owner;
    std::string due;
    bool immediate = false;
    bool closed = false;
    std::string opened_on;
    std::string closed_on;
    friend bool operator==(const ProblemRow&, const ProblemRow&) = default;
};

struct OutboxRow {
    std::int64_t id = 0;
    std::string key;  // deduplication key: the same effect is queued once
    std::string instance;
    std::string kind;
    std::string target;
    std::string payload;  // JSON
    std::string status;   // pending, delivered, dead
    int attempts = 0;
    std::int64_t next_attempt_at = 0;
    std::string last_error;
    std::int64_t created_at = 0;
};

struct CampaignRow {
    std::string id;
    std::string definition_key;
    std::string workflow_id;
    std::string scope_root;
    int utc_offset_minutes = 0;
    std::int64_t started_at = 0;
};

struct DefinitionRow {
    std::string key;  // SHA-256 of the bundle
    std::string workflow_id;
    std::string version;
    std::string main_file;
    std::string bundle;  // JSON object: path -> text
};

struct UnitRow {
    std::string id;
    std::string parent;
    std::string name;
    std::string category;
    std::string roles;    // JSON
    std::string members;  // JSON
};

struct ChainProblem {
    std::int64_t position = 0;
    std::string instance;
    std::int64_t seq = 0;
    std::string what;  // "altered", "deleted or reordered", ...
};

struct ChainReport {
    std::int64_t events = 0;
    Digest head_hash{};  // the hash of the last row: keep it elsewhere to detect a rewritten chain
    std::optional<ChainProblem> first_problem;
};

class Store {
public:
    // Opens or creates the file and brings its schema up to date.
    static Store Open(const std::string& path, const OpenOptions& options = {});

    Database& Db() { return database_; }
    int SchemaVersionBefore() const { return schema_before_; }

    // Starts a write transaction and re-reads the head of the hash chain
    // (another process may have appended since).
    class WriteTransaction {
    public:
        explicit WriteTransaction(Store& store);
        void Commit();

    private:
        Store& store_;
        Transaction transaction_;
    };

    // ---- log
    // Appends one event, chaining its hash to the previous row. Needs a WriteTransaction.
    EventRow Append(const std::string& instance, std::int64_t seq, std::int64_t at, const std::string& actor,
                    const std::string& type, const std::string& step, const std::string& data);
    std::vector<EventRow> Events(const std::string& instance);
    // Every event in log order, one at a time (for rebuilds of large logs).
    void ForEachEvent(const std::function<void(const EventRow&)>& visit);
    ChainReport VerifyChain();
    // The canonical bytes a row's hash covers (after the previous hash).
    static Digest HashOf(const Digest& previous, const EventRow& row);

    // ---- definitions, units, campaigns
    void PutDefinition(const DefinitionRow& row);
    std::optional<DefinitionRow> GetDefinition(const std::string& key);
    void ReplaceUnits(const std::vector<UnitRow>& rows);
    std::vector<UnitRow> Units();
    void PutCampaign(const CampaignRow& row);
    std::optional<CampaignRow> GetCampaign(const std::string& id);
    std::vector<CampaignRow> Campaigns();

    // ---- instances and projections
    void PutInstance(const InstanceRow& row);  // insert or replace
    // The columns a command changes; cheaper than PutInstance (no index is touched).
    void UpdateInstance(const std::string& id, const std::string& definition_key, const std::string& status,
                        std::int64_t version, std::int64_t updated_at);
    std::optional<InstanceRow> GetInstance(const std::string& id);
    std::vector<InstanceRow> Instances(const std::string& campaign = {});
    std::optional<std::int64_t> InstanceVersion(const std::string& id);
    // The child instance a subflow step of `parent` started for `unit`, if any.
    std::optional<InstanceRow> FindChild(const std::string& parent, const std::string& step, const std::string& unit);
    void PutStep(const StepRow& row);
    std::vector<StepRow> Steps(const std::string& instance = {});
    void ReplaceTimers(const std::string& instance, const std::string& step, const std::vector<TimerRow>& timers);
    void DeleteTimer(const TimerRow& timer);
    void InsertTimer(const TimerRow& timer);
    std::vector<TimerRow> DueTimers(std::int64_t now, int limit);
    std::vector<TimerRow> Timers();
    std::optional<std::int64_t> NextTimerAt();
    void PutProblem(const ProblemRow& row);
    std::vector<ProblemRow> Problems(const std::string& instance = {});
    // Empties every projection (instances keep their identity rows); for rebuilds.
    void ClearProjections();

    // ---- outbox
    // False when an effect with this key is already queued (deduplicated).
    bool Enqueue(const OutboxRow& row);
    std::vector<OutboxRow> DueEffects(std::int64_t now, int limit);
    void MarkDelivered(std::int64_t id, std::int64_t at);
    void MarkRetry(std::int64_t id, int attempts, std::int64_t next_attempt_at, const std::string& error);
    void MarkDead(std::int64_t id, int attempts, const std::string& error);
    bool Revive(std::int64_t id, std::int64_t at);  // a dead effect back to pending
    std::vector<OutboxRow> Outbox(const std::string& status = {});
    std::optional<std::int64_t> NextEffectAt();

    // ---- idempotency
    struct CommandRecord {
        std::string request_hash;
        std::string result;
    };
    std::optional<CommandRecord> FindCommand(const std::string& key);
    void SaveCommand(const std::string& key, const std::string& request_hash, const std::string& result,
                     std::int64_t at);

private:
    explicit Store(Database database) : database_(std::move(database)) {}
    void ReadChainHead();

    Database database_;
    int schema_before_ = 0;
    std::int64_t head_position_ = 0;
    Digest head_hash_{};
};

}  // namespace cascade::store
