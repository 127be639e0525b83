// The campaign database on SQLite: schema migrations, the hash-chained event
// log and the projection, timer, outbox and idempotency tables.
//
// The hash chain runs over the whole log in `position` order: each row's
// hash covers the previous row's hash and the row's own fields, encoded
// unambiguously (length-prefixed). Editing a row breaks its own hash;
// deleting or reordering rows breaks the link of the row after; a row
// inserted with a forged hash breaks the link of its successor.
#include "cascade/store/store.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <string_view>

namespace cascade::store {

namespace {

// Version 1: the event log and everything derived from it.
constexpr std::string_view kSchemaV1 = R"sql(
CREATE TABLE definitions (
    key TEXT PRIMARY KEY,
    workflow_id TEXT NOT NULL,
    version TEXT NOT NULL,
    main_file TEXT NOT NULL,
    bundle TEXT NOT NULL
);
CREATE TABLE units (
    id TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    parent TEXT NOT NULL,
    name TEXT NOT NULL,
    category TEXT NOT NULL,
    roles TEXT NOT NULL,
    members TEXT NOT NULL
);
CREATE TABLE campaigns (
    id TEXT PRIMARY KEY,
    definition_key TEXT NOT NULL REFERENCES definitions(key),
    workflow_id TEXT NOT NULL,
    scope_root TEXT NOT NULL,
    utc_offset_minutes INTEGER NOT NULL,
    started_at INTEGER NOT NULL
);
CREATE TABLE instances (
    id TEXT PRIMARY KEY,
    campaign TEXT NOT NULL,
    unit TEXT NOT NULL,
    definition_key TEXT NOT NULL,
    parent_instance TEXT NOT NULL,
    parent_step TEXT NOT NULL,
    status TEXT NOT NULL,
    version INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE events (
    position INTEGER PRIMARY KEY,
    instance TEXT NOT NULL,
    seq INTEGER NOT NULL,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    type TEXT NOT NULL,
    step TEXT NOT NULL,
    data TEXT NOT NULL,
    previous_hash BLOB NOT NULL,
    hash BLOB NOT NULL,
    UNIQUE (instance, seq)
);
CREATE TABLE steps (
    instance TEXT NOT NULL,
    step TEXT NOT NULL,
    stage TEXT NOT NULL,
    status TEXT NOT NULL,
    activation INTEGER NOT NULL,
    visits INTEGER NOT NULL,
    activated_on TEXT NOT NULL,
    due TEXT NOT NULL,
    overdue INTEGER NOT NULL,
    escalated INTEGER NOT NULL,
    returns INTEGER NOT NULL,
    changed_at INTEGER NOT NULL,
    PRIMARY KEY (instance, step)
) WITHOUT ROWID;
CREATE TABLE timers (
    instance TEXT NOT NULL,
    step TEXT NOT NULL,
    activation INTEGER NOT NULL,
    kind TEXT NOT NULL,
    idx INTEGER NOT NULL,
    fire_at INTEGER NOT NULL,
    PRIMARY KEY (instance, step, activation, kind, idx)
) WITHOUT ROWID;
CREATE INDEX timers_by_time ON timers (fire_at);
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    instance TEXT NOT NULL,
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE TABLE commands (
    key TEXT PRIMARY KEY,
    request_hash TEXT NOT NULL,
    result TEXT NOT NULL,
    at INTEGER NOT NULL
);
)sql";

// Version 2: the problem lists (问题清单) as a projection, and finding a
// campaign's instances without a scan.
constexpr std::string_view kSchemaV2 = R"sql(
CREATE TABLE problems (
    instance TEXT NOT NULL,
    id TEXT NOT NULL,
    title TEXT NOT NULL,
    owner TEXT NOT NULL,
    due TEXT NOT NULL,
    immediate INTEGER NOT NULL,
    closed INTEGER NOT NULL,
    opened_on TEXT NOT NULL,
    closed_on TEXT NOT NULL,
    PRIMARY KEY (instance, id)
) WITHOUT ROWID;
CREATE INDEX instances_by_campaign ON instances (campaign, unit);
)sql";

constexpr std::array kMigrations = {
    Migration{1, "event log, projections, timers, outbox, idempotency", kSchemaV1},
    Migration{2, "problem lists; instances by campaign", kSchemaV2},
};

void HashField(Sha256& hasher, std::string_view bytes) {
    const std::string length = std::to_string(bytes.size()) + ":";
    hasher.Update(length);
    hasher.Update(bytes);
}

Digest DigestColumn(const Statement& statement, int column) {
    Digest digest{};
    const auto blob = statement.Blob(column);
    if (blob.size() == digest.size()) {
        std::copy(blob.begin(), blob.end(), digest.begin());
    }
    return digest;
}

EventRow ReadEvent(const Statement& statement) {
    EventRow row;
    row.position = statement.Int64(0);
    row.instance = std::string(statement.Text(1));
    row.seq = statement.Int64(2);
    row.at = statement.Int64(3);
    row.actor = std::string(statement.Text(4));
    row.type = std::string(statement.Text(5));
    row.step = std::string(statement.Text(6));
    row.data = std::string(statement.Text(7));
    row.previous_hash = DigestColumn(statement, 8);
    row.hash = DigestColumn(statement, 9);
    return row;
}

constexpr std::string_view kEventColumns = "position, instance, seq, at, actor, type, step, data, previous_hash, hash";

InstanceRow ReadInstance(const Statement& statement) {
    InstanceRow row;
    row.id = std::string(statement.Text(0));
    row.campaign = std::string(statement.Text(1));
    row.unit = std::string(statement.Text(2));
    row.definition_key = std::string(statement.Text(3));
    row.parent_instance = std::string(statement.Text(4));
    row.parent_step = std::string(statement.Text(5));
    row.status = std::string(statement.Text(6));
    row.version = statement.Int64(7);
    row.updated_at = statement.Int64(8);
    return row;
}

constexpr std::string_view kInstanceColumns =
    "id, campaign, unit, definition_key, parent_instance, parent_step, status, version, updated_at";

OutboxRow ReadOutbox(const Statement& statement) {
    OutboxRow row;
    row.id = statement.Int64(0);
    row.key = std::string(statement.Text(1));
    row.instance = std::string(statement.Text(2));
    row.kind = std::string(statement.Text(3));
    row.target = std::string(statement.Text(4));
    row.payload = std::string(statement.Text(5));
    row.status = std::string(statement.Text(6));
    row.attempts = static_cast<int>(statement.Int64(7));
    row.next_attempt_at = statement.Int64(8);
    row.last_error = std::string(statement.Text(9));
    row.created_at = statement.Int64(10);
    return row;
}

constexpr std::string_view kOutboxColumns =
    "id, key, instance, kind, target, payload, status, attempts, next_attempt_at, last_error, created_at";

TimerRow ReadTimer(const Statement& statement) {
    return TimerRow{std::string(statement.Text(0)), std::string(statement.Text(1)),       statement.Int64(2),
                    std::string(statement.Text(3)), static_cast<int>(statement.Int64(4)), statement.Int64(5)};
}

std::string Sql(std::string_view head, std::string_view columns, std::string_view tail) {
    std::string sql(head);
    sql += columns;
    sql += tail;
    return sql;
}

}  // namespace

int CurrentSchemaVersion() {
    return kMigrations.back().version;
}

Store Store::Open(const std::string& path, const OpenOptions& options) {
    Store store(Database::Open(path, options));
    if (!options.read_only) {
        store.schema_before_ = ApplyMigrations(store.database_, kMigrations, kApplicationId);
    } else {
        auto& version = store.database_.Cached("PRAGMA user_version");
        version.Step();
        store.schema_before_ = static_cast<int>(version.Int64(0));
        version.Reset();
        if (store.schema_before_ > CurrentSchemaVersion()) {
            throw SchemaTooNewError("'" + path + "' was written by a newer Cascade (schema version " +
                                    std::to_string(store.schema_before_) + "); this build understands up to version " +
                                    std::to_string(CurrentSchemaVersion()));
        }
    }
    return store;
}

Store::WriteTransaction::WriteTransaction(Store& store)
    : store_(store), transaction_(store.database_, TransactionMode::immediate) {
    store_.ReadChainHead();
}

void Store::WriteTransaction::Commit() {
    transaction_.Commit();
}

void Store::ReadChainHead() {
    auto& statement = database_.Cached("SELECT position, hash FROM events ORDER BY position DESC LIMIT 1");
    if (statement.Step()) {
        head_position_ = statement.Int64(0);
        head_hash_ = DigestColumn(statement, 1);
    } else {
        head_position_ = 0;
        head_hash_ = Digest{};
    }
    statement.Reset();
}

Digest Store::HashOf(const Digest& previous, const EventRow& row) {
    Sha256 hasher;
    hasher.Update(previous);
    HashField(hasher, std::to_string(row.position));
    HashField(hasher, row.instance);
    HashField(hasher, std::to_string(row.seq));
    HashField(hasher, std::to_string(row.at));
    HashField(hasher, row.actor);
    HashField(hasher, row.type);
    HashField(hasher, row.step);
    HashField(hasher, row.data);
    return hasher.Finish();
}

EventRow Store::Append(const std::string& instance, std::int64_t seq, std::int64_t at, const std::string& actor,
                       const std::string& type, const std::string& step, const std::string& data) {
    EventRow row{head_position_ + 1, instance, seq, at, actor, type, step, data, head_hash_, {}};
    row.hash = HashOf(head_hash_, row);
    auto& insert = database_.Cached(
        "INSERT INTO events (position, instance, seq, at, actor, type, step, data, previous_hash, hash) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    insert.Bind(1, row.position).Bind(2, row.instance).Bind(3, row.seq).Bind(4, row.at).Bind(5, row.actor);
    insert.Bind(6, row.type).Bind(7, row.step).Bind(8, row.data);
    insert.BindBlob(9, row.previous_hash).BindBlob(10, row.hash);
    insert.Run();
    head_position_ = row.position;
    head_hash_ = row.hash;
    return row;
}

std::vector<EventRow> Store::Events(const std::string& instance) {
    // Built once: this runs for every state rebuilt from the log.
    static const std::string sql = Sql("SELECT ", kEventColumns, " FROM events WHERE instance = ? ORDER BY seq");
    auto& select = database_.Cached(sql);
    select.Bind(1, instance);
    std::vector<EventRow> rows;
    while (select.Step()) {
        rows.push_back(ReadEvent(select));
    }
    select.Reset();
    return rows;
}

void Store::ForEachEvent(const std::function<void(const EventRow&)>& visit) {
    Statement select = database_.Prepare(Sql("SELECT ", kEventColumns, " FROM events ORDER BY position"));
    while (select.Step()) {
        visit(ReadEvent(select));
    }
}

ChainReport Store::VerifyChain() {
    ChainReport report;
    Digest previous{};
    std::int64_t expected_position = 1;
    std::map<std::string, std::int64_t> last_seq;
    Statement select = database_.Prepare(Sql("SELECT ", kEventColumns, " FROM events ORDER BY position"));
    while (select.Step()) {
        const EventRow row = ReadEvent(select);
        ++report.events;
        const auto fail = [&](std::string what) {
            report.first_problem = ChainProblem{row.position, row.instance, row.seq, std::move(what)};
        };
        if (row.position != expected_position) {
            fail(row.position - 1 == expected_position
                     ? "the row before it is missing: row " + std::to_string(expected_position) + " was deleted"
                     : "the rows before it are missing: rows " + std::to_string(expected_position) + " to " +
                           std::to_string(row.position - 1) + " were deleted");
        } else if (row.previous_hash != previous) {
            fail("its link to the previous row is broken: a row before it was deleted, replaced or inserted");
        } else if (HashOf(previous, row) != row.hash) {
            fail("its content was altered after it was written (the hash does not match)");
        } else if (row.seq != last_seq[row.instance] + 1) {
            fail("it is out of order in instance '" + row.instance + "' (sequence " + std::to_string(row.seq) +
                 " after " + std::to_string(last_seq[row.instance]) + ")");
        }
        if (report.first_problem) {
            return report;
        }
        last_seq[row.instance] = row.seq;
        previous = row.hash;
        report.head_hash = row.hash;
        ++expected_position;
    }
    // A tail deletion leaves a consistent shorter chain; instances remember their last sequence number.
    Statement versions = database_.Prepare("SELECT id, version FROM instances ORDER BY id");
    while (versions.Step()) {
        const std::string id(versions.Text(0));
        const std::int64_t version = versions.Int64(1);
        const auto found = last_seq.find(id);
        const std::int64_t logged = found == last_seq.end() ? 0 : found->second;
        if (logged != version) {
            report.first_problem = ChainProblem{0, id, logged + 1,
                                                "instance '" + id + "' has " + std::to_string(version) +
                                                    " events recorded but the log holds " + std::to_string(logged) +
                                                    ": events at its end were deleted"};
            return report;
        }
    }
    return report;
}

void Store::PutDefinition(const DefinitionRow& row) {
    auto& insert = database_.Cached(
        "INSERT OR IGNORE INTO definitions (key, workflow_id, version, main_file, bundle) VALUES (?, ?, ?, ?, ?)");
    insert.Bind(1, row.key).Bind(2, row.workflow_id).Bind(3, row.version).Bind(4, row.main_file).Bind(5, row.bundle);
    insert.Run();
}

std::optional<DefinitionRow> Store::GetDefinition(const std::string& key) {
    auto& select =
        database_.Cached("SELECT key, workflow_id, version, main_file, bundle FROM definitions WHERE key = ?");
    select.Bind(1, key);
    std::optional<DefinitionRow> row;
    if (select.Step()) {
        row = DefinitionRow{std::string(select.Text(0)), std::string(select.Text(1)), std::string(select.Text(2)),
                            std::string(select.Text(3)), std::string(select.Text(4))};
    }
    select.Reset();
    return row;
}

void Store::ReplaceUnits(const std::vector<UnitRow>& rows) {
    database_.Execute("DELETE FROM units");
    auto& insert = database_.Cached(
        "INSERT INTO units (id, position, parent, name, category, roles, members) VALUES (?, ?, ?, ?, ?, ?, ?)");
    std::int64_t position = 0;
    for (const auto& row : rows) {
        insert.Bind(1, row.id).Bind(2, position++).Bind(3, row.parent).Bind(4, row.name).Bind(5, row.category);
        insert.Bind(6, row.roles).Bind(7, row.members);
        insert.Run();
    }
}

std::vector<UnitRow> Store::Units() {
    Statement select =
        database_.Prepare("SELECT id, parent, name, category, roles, members FROM units ORDER BY position");
    std::vector<UnitRow> rows;
    while (select.Step()) {
        rows.push_back(UnitRow{std::string(select.Text(0)), std::string(select.Text(1)), std::string(select.Text(2)),
                               std::string(select.Text(3)), std::string(select.Text(4)), std::string(select.Text(5))});
    }
    return rows;
}

void Store::PutCampaign(const CampaignRow& row) {
    auto& insert = database_.Cached(
        "INSERT INTO campaigns (id, definition_key, workflow_id, scope_root, utc_offset_minutes, started_at) "
        "VALUES (?, ?, ?, ?, ?, ?)");
    insert.Bind(1, row.id).Bind(2, row.definition_key).Bind(3, row.workflow_id).Bind(4, row.scope_root);
    insert.Bind(5, row.utc_offset_minutes).Bind(6, row.started_at);
    insert.Run();
}

std::vector<CampaignRow> Store::Campaigns() {
    Statement select = database_.Prepare(
        "SELECT id, definition_key, workflow_id, scope_root, utc_offset_minutes, started_at FROM campaigns "
        "ORDER BY started_at, id");
    std::vector<CampaignRow> rows;
    while (select.Step()) {
        rows.push_back(CampaignRow{std::string(select.Text(0)), std::string(select.Text(1)),
                                   std::string(select.Text(2)), std::string(select.Text(3)),
                                   static_cast<int>(select.Int64(4)), select.Int64(5)});
    }
    return rows;
}

std::optional<CampaignRow> Store::GetCampaign(const std::string& id) {
    for (auto& row : Campaigns()) {
        if (row.id == id) {
            return row;
        }
    }
    return std::nullopt;
}

void Store::PutInstance(const InstanceRow& row) {
    auto& insert = database_.Cached(
        Sql("INSERT OR REPLACE INTO instances (", kInstanceColumns, ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    insert.Bind(1, row.id).Bind(2, row.campaign).Bind(3, row.unit).Bind(4, row.definition_key);
    insert.Bind(5, row.parent_instance).Bind(6, row.parent_step).Bind(7, row.status).Bind(8, row.version);
    insert.Bind(9, row.updated_at);
    insert.Run();
}

void Store::UpdateInstance(const std::string& id, const std::string& definition_key, const std::string& status,
                           std::int64_t version, std::int64_t updated_at) {
    auto& update = database_.Cached(
        "UPDATE instances SET definition_key = ?, status = ?, version = ?, updated_at = ? WHERE id = ?");
    update.Bind(1, definition_key).Bind(2, status).Bind(3, version).Bind(4, updated_at).Bind(5, id);
    update.Run();
}

std::optional<InstanceRow> Store::GetInstance(const std::string& id) {
    // Built once: this runs for every command.
    static const std::string sql = Sql("SELECT ", kInstanceColumns, " FROM instances WHERE id = ?");
    auto& select = database_.Cached(sql);
    select.Bind(1, id);
    std::optional<InstanceRow> row;
    if (select.Step()) {
        row = ReadInstance(select);
    }
    select.Reset();
    return row;
}

std::vector<InstanceRow> Store::Instances(const std::string& campaign) {
    Statement select =
        campaign.empty()
            ? database_.Prepare(Sql("SELECT ", kInstanceColumns, " FROM instances ORDER BY rowid"))
            : database_.Prepare(Sql("SELECT ", kInstanceColumns, " FROM instances WHERE campaign = ? ORDER BY rowid"));
    if (!campaign.empty()) {
        select.Bind(1, campaign);
    }
    std::vector<InstanceRow> rows;
    while (select.Step()) {
        rows.push_back(ReadInstance(select));
    }
    return rows;
}

std::optional<InstanceRow> Store::FindChild(const std::string& parent, const std::string& step,
                                            const std::string& unit) {
    auto& select = database_.Cached(
        Sql("SELECT ", kInstanceColumns, " FROM instances WHERE parent_instance = ? AND parent_step = ? AND unit = ?"));
    select.Bind(1, parent).Bind(2, step).Bind(3, unit);
    std::optional<InstanceRow> row;
    if (select.Step()) {
        row = ReadInstance(select);
    }
    select.Reset();
    return row;
}

std::optional<std::int64_t> Store::InstanceVersion(const std::string& id) {
    auto& select = database_.Cached("SELECT version FROM instances WHERE id = ?");
    select.Bind(1, id);
    std::optional<std::int64_t> version;
    if (select.Step()) {
        version = select.Int64(0);
    }
    select.Reset();
    return version;
}

void Store::PutStep(const StepRow& row) {
    auto& insert = database_.Cached(
        "INSERT OR REPLACE INTO steps (instance, step, stage, status, activation, visits, activated_on, due, overdue, "
        "escalated, returns, changed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    insert.Bind(1, row.instance).Bind(2, row.step).Bind(3, row.stage).Bind(4, row.status).Bind(5, row.activation);
    insert.Bind(6, row.visits).Bind(7, row.activated_on).Bind(8, row.due).Bind(9, row.overdue ? 1 : 0);
    insert.Bind(10, row.escalated ? 1 : 0).Bind(11, row.returns).Bind(12, row.changed_at);
    insert.Run();
}

std::vector<StepRow> Store::Steps(const std::string& instance) {
    const std::string columns =
        "SELECT instance, step, stage, status, activation, visits, activated_on, due, overdue, escalated, returns, "
        "changed_at FROM steps";
    Statement select = instance.empty() ? database_.Prepare(columns + " ORDER BY instance, step")
                                        : database_.Prepare(columns + " WHERE instance = ? ORDER BY step");
    if (!instance.empty()) {
        select.Bind(1, instance);
    }
    std::vector<StepRow> rows;
    while (select.Step()) {
        StepRow row;
        row.instance = std::string(select.Text(0));
        row.step = std::string(select.Text(1));
        row.stage = std::string(select.Text(2));
        row.status = std::string(select.Text(3));
        row.activation = select.Int64(4);
        row.visits = static_cast<int>(select.Int64(5));
        row.activated_on = std::string(select.Text(6));
        row.due = std::string(select.Text(7));
        row.overdue = select.Int64(8) != 0;
        row.escalated = select.Int64(9) != 0;
        row.returns = static_cast<int>(select.Int64(10));
        row.changed_at = select.Int64(11);
        rows.push_back(std::move(row));
    }
    return rows;
}

void Store::ReplaceTimers(const std::string& instance, const std::string& step, const std::vector<TimerRow>& timers) {
    auto& remove = database_.Cached("DELETE FROM timers WHERE instance = ? AND step = ?");
    remove.Bind(1, instance).Bind(2, step);
    remove.Run();
    for (const auto& timer : timers) {
        InsertTimer(timer);
    }
}

void Store::InsertTimer(const TimerRow& timer) {
    auto& insert = database_.Cached(
        "INSERT INTO timers (instance, step, activation, kind, idx, fire_at) VALUES (?, ?, ?, ?, ?, ?)");
    insert.Bind(1, timer.instance).Bind(2, timer.step).Bind(3, timer.activation).Bind(4, timer.kind);
    insert.Bind(5, timer.index).Bind(6, timer.fire_at);
    insert.Run();
}

void Store::DeleteTimer(const TimerRow& timer) {
    auto& remove = database_.Cached(
        "DELETE FROM timers WHERE instance = ? AND step = ? AND activation = ? AND kind = ? AND idx = ?");
    remove.Bind(1, timer.instance).Bind(2, timer.step).Bind(3, timer.activation).Bind(4, timer.kind);
    remove.Bind(5, timer.index);
    remove.Run();
}

std::vector<TimerRow> Store::DueTimers(std::int64_t now, int limit) {
    auto& select = database_.Cached(
        "SELECT instance, step, activation, kind, idx, fire_at FROM timers WHERE fire_at <= ? "
        "ORDER BY fire_at, instance, step, kind, idx LIMIT ?");
    select.Bind(1, now).Bind(2, limit);
    std::vector<TimerRow> rows;
    while (select.Step()) {
        rows.push_back(ReadTimer(select));
    }
    select.Reset();
    return rows;
}

std::vector<TimerRow> Store::Timers() {
    Statement select = database_.Prepare(
        "SELECT instance, step, activation, kind, idx, fire_at FROM timers ORDER BY instance, step, activation, kind, "
        "idx");
    std::vector<TimerRow> rows;
    while (select.Step()) {
        rows.push_back(ReadTimer(select));
    }
    return rows;
}

std::optional<std::int64_t> Store::NextTimerAt() {
    auto& select = database_.Cached("SELECT min(fire_at) FROM timers");
    std::optional<std::int64_t> at;
    if (select.Step() && !select.IsNull(0)) {
        at = select.Int64(0);
    }
    select.Reset();
    return at;
}

void Store::PutProblem(const ProblemRow& row) {
    auto& insert = database_.Cached(
        "INSERT OR REPLACE INTO problems (instance, id, title, owner, due, immediate, closed, opened_on, closed_on) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    insert.Bind(1, row.instance).Bind(2, row.id).Bind(3, row.title).Bind(4, row.owner).Bind(5, row.due);
    insert.Bind(6, row.immediate ? 1 : 0).Bind(7, row.closed ? 1 : 0).Bind(8, row.opened_on).Bind(9, row.closed_on);
    insert.Run();
}

std::vector<ProblemRow> Store::Problems(const std::string& instance) {
    const std::string columns =
        "SELECT instance, id, title, owner, due, immediate, closed, opened_on, closed_on FROM problems";
    Statement select = instance.empty() ? database_.Prepare(columns + " ORDER BY instance, id")
                                        : database_.Prepare(columns + " WHERE instance = ? ORDER BY id");
    if (!instance.empty()) {
        select.Bind(1, instance);
    }
    std::vector<ProblemRow> rows;
    while (select.Step()) {
        rows.push_back(ProblemRow{std::string(select.Text(0)), std::string(select.Text(1)), std::string(select.Text(2)),
                                  std::string(select.Text(3)), std::string(select.Text(4)), select.Int64(5) != 0,
                                  select.Int64(6) != 0, std::string(select.Text(7)), std::string(select.Text(8))});
    }
    return rows;
}

void Store::ClearProjections() {
    database_.Execute("DELETE FROM steps; DELETE FROM timers; DELETE FROM problems;");
}

bool Store::Enqueue(const OutboxRow& row) {
    auto& insert = database_.Cached(
        "INSERT OR IGNORE INTO outbox (key, instance, kind, target, payload, status, attempts, next_attempt_at, "
        "last_error, created_at) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, '', ?)");
    insert.Bind(1, row.key).Bind(2, row.instance).Bind(3, row.kind).Bind(4, row.target).Bind(5, row.payload);
    insert.Bind(6, row.next_attempt_at).Bind(7, row.created_at);
    insert.Run();
    return database_.Changes() > 0;
}

std::vector<OutboxRow> Store::DueEffects(std::int64_t now, int limit) {
    auto& select = database_.Cached(Sql("SELECT ", kOutboxColumns,
                                        " FROM outbox WHERE status = 'pending' AND next_attempt_at <= ? "
                                        "ORDER BY next_attempt_at, id LIMIT ?"));
    select.Bind(1, now).Bind(2, limit);
    std::vector<OutboxRow> rows;
    while (select.Step()) {
        rows.push_back(ReadOutbox(select));
    }
    select.Reset();
    return rows;
}

void Store::MarkDelivered(std::int64_t id, std::int64_t at) {
    auto& update = database_.Cached(
        "UPDATE outbox SET status = 'delivered', attempts = attempts + 1, next_attempt_at = ?, "
        "last_error = '' WHERE id = ?");
    update.Bind(1, at).Bind(2, id);
    update.Run();
}

void Store::MarkRetry(std::int64_t id, int attempts, std::int64_t next_attempt_at, const std::string& error) {
    auto& update = database_.Cached("UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE id = ?");
    update.Bind(1, attempts).Bind(2, next_attempt_at).Bind(3, error).Bind(4, id);
    update.Run();
}

void Store::MarkDead(std::int64_t id, int attempts, const std::string& error) {
    auto& update = database_.Cached("UPDATE outbox SET status = 'dead', attempts = ?, last_error = ? WHERE id = ?");
    update.Bind(1, attempts).Bind(2, error).Bind(3, id);
    update.Run();
}

bool Store::Revive(std::int64_t id, std::int64_t at) {
    auto& update = database_.Cached(
        "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ? WHERE id = ? AND status = 'dead'");
    update.Bind(1, at).Bind(2, id);
    update.Run();
    return database_.Changes() > 0;
}

std::vector<OutboxRow> Store::Outbox(const std::string& status) {
    Statement select =
        status.empty() ? database_.Prepare(Sql("SELECT ", kOutboxColumns, " FROM outbox ORDER BY id"))
                       : database_.Prepare(Sql("SELECT ", kOutboxColumns, " FROM outbox WHERE status = ? ORDER BY id"));
    if (!status.empty()) {
        select.Bind(1, status);
    }
    std::vector<OutboxRow> rows;
    while (select.Step()) {
        rows.push_back(ReadOutbox(select));
    }
    return rows;
}

std::optional<std::int64_t> Store::NextEffectAt() {
    auto& select = database_.Cached("SELECT min(next_attempt_at) FROM outbox WHERE status = 'pending'");
    std::optional<std::int64_t> at;
    if (select.Step() && !select.IsNull(0)) {
        at = select.Int64(0);
    }
    select.Reset();
    return at;
}

std::optional<Store::CommandRecord> Store::FindCommand(const std::string& key) {
    auto& select = database_.Cached("SELECT request_hash, result FROM commands WHERE key = ?");
    select.Bind(1, key);
    std::optional<CommandRecord> record;
    if (select.Step()) {
        record = CommandRecord{std::string(select.Text(0)), std::string(select.Text(1))};
    }
    select.Reset();
    return record;
}

void Store::SaveCommand(const std::string& key, const std::string& request_hash, const std::string& result,
                        std::int64_t at) {
    auto& insert = database_.Cached("INSERT INTO commands (key, request_hash, result, at) VALUES (?, ?, ?, ?)");
    insert.Bind(1, key).Bind(2, request_hash).Bind(3, result).Bind(4, at);
    insert.Run();
}

}  // namespace cascade::store
