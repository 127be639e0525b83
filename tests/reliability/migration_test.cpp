// Schema migration: a database written by a Cascade of schema version 1
// (tests/data/store/schema-v1.sql, a frozen dump) is brought to the current
// version when opened, and the runtime carries its campaign on. Databases
// from a newer Cascade, and files that are not SQLite at all, are refused
// with a message that says which file and why.
#include "../runtime/runtime_fixture.hpp"
#include "cascade/runtime/builtin_plugins.hpp"
#include "cascade/runtime/runtime.hpp"
#include "cascade/store/store.hpp"
#include "process.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <sstream>
#include <string>

using namespace cascade;
using cascade::testing::Local;
using cascade::testing::ReadFile;
using cascade::testing::TempDir;

namespace json = boost::json;

namespace {

std::string Fixture() {
    return ReadFile(std::string(CASCADE_SOURCE_DIR) + "/tests/data/store/schema-v1.sql");
}

// A database file as Cascade 1 left it: the dump, then the header fields a
// dump does not carry (the schema version and Cascade's application id).
std::string BuildVersion1(const TempDir& dir) {
    const std::string path = (dir.Path() / "v1.db").string();
    store::Database db = store::Database::Open(path);
    db.Execute(Fixture());
    db.Execute("PRAGMA user_version = 1; PRAGMA application_id = " + std::to_string(store::kApplicationId) + ";");
    return path;
}

std::int64_t Scalar(store::Store& store, const std::string& sql) {
    auto statement = store.Db().Prepare(sql);
    REQUIRE(statement.Step());
    return statement.Int64(0);
}

runtime::CommandRequest Request(const std::string& instance, const std::string& actor, engine::Command command,
                                const std::string& key = {}) {
    runtime::CommandRequest request;
    request.instance = instance;
    request.actor = *engine::Actor::Parse(actor);
    request.command = std::move(command);
    request.idempotency_key = key;
    return request;
}

std::string Text(const std::string& what, const runtime::CommandOutcome& outcome) {
    return what + ": " + (outcome.error ? outcome.error->message + " [" + outcome.error->code + "]" : "ok");
}

// Runs the `cascade` binary; returns the exit code, with stderr in `err`.
int RunCascade(const TempDir& dir, const std::vector<std::string>& args, std::string& err) {
    std::vector<std::string> argv{CASCADE_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto out_path = (dir.Path() / "cascade.out").string();
    const auto err_path = (dir.Path() / "cascade.err").string();
    const auto status = testing::RunProgram(argv, out_path, err_path);
    err = ReadFile(err_path);
    INFO("stdout: " << ReadFile(out_path) << "stderr: " << err);
    REQUIRE(status.exited);
    return status.code;
}

}  // namespace

TEST_CASE("a schema version 1 database is migrated on open and its campaign carries on", "[migrate]") {
    TempDir dir;
    const std::string path = BuildVersion1(dir);
    store::Store store = store::Store::Open(path);
    REQUIRE(store.SchemaVersionBefore() == 1);
    CHECK(Scalar(store, "PRAGMA user_version") == store::CurrentSchemaVersion());
    CHECK(Scalar(store, "PRAGMA application_id") == store::kApplicationId);
    CHECK(Scalar(store, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'problems'") == 1);
    CHECK(Scalar(store, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'instances_by_campaign'") ==
          1);
    // The rows Cascade 1 wrote are all there, and the log it wrote still verifies.
    const std::int64_t logged = Scalar(store, "SELECT count(*) FROM events");
    REQUIRE(logged > 0);
    CHECK(store.VerifyChain().first_problem == std::nullopt);
    REQUIRE(store.Instances().size() == 2);
    CHECK(store.Campaigns().size() == 1);

    engine::VirtualClock clock(Local("2023-09-14T09:00"));
    runtime::Runtime runtime(store, clock);

    // A command Cascade 1 recorded is still answered from its record.
    const json::object good{{"sessions", 2}, {"days", 7}, {"evidence", json::array{"plan.pdf"}}};
    auto outcome =
        runtime.Execute(Request("drill/tw02", "leader@tw02", engine::Submit{"reading", good}, "tw02-reading-1"));
    INFO(Text("replayed submission", outcome));
    REQUIRE(outcome.Ok());
    CHECK(outcome.replayed);

    // tw01 is at verify with one open problem from before the upgrade: the fix gate sees it.
    outcome = runtime.Execute(Request("drill/tw01", "secretary@tw01", engine::Submit{"verify", {{"satisfied", true}}}));
    INFO(Text("verify", outcome));
    REQUIRE(outcome.Ok());
    outcome = runtime.Execute(Request("drill/tw01", "leader@tw01", engine::Submit{"fix", {}}));
    REQUIRE(outcome.error);
    CHECK(outcome.error->code == "gate-failed");
    outcome = runtime.Execute(Request("drill/tw01", "leader@tw01", engine::CloseProblem{"P1", "补齐台账"}));
    INFO(Text("close P1", outcome));
    REQUIRE(outcome.Ok());
    outcome = runtime.Execute(Request("drill/tw01", "leader@tw01", engine::Submit{"fix", {}}));
    INFO(Text("fix", outcome));
    REQUIRE(outcome.Ok());
    std::ostringstream log;
    runtime::BuiltinDeliverer deliver(runtime, log);
    clock.Set(Local("2023-09-15T09:00"));
    CHECK(runtime.DeliverDueEffects(std::ref(deliver)).delivered >= 1);  // the export action
    CHECK(store.GetInstance("drill/tw01")->status == "completed");

    // tw02 handed in on time and waits for review: the upgrade rebuilt its timers
    // under today's rules, which neither mark nor escalate a unit while the
    // reviewer holds its work, so nothing fires on 09-20.
    clock.Set(Local("2023-09-20T09:00"));
    CHECK(runtime.FireDueTimers() == 0);
    std::map<std::string, int> types;
    for (const auto& event : store.Events("drill/tw02")) {
        ++types[event.type];
    }
    CHECK(types["step_overdue"] == 0);
    CHECK(types["step_escalated"] == 0);
    outcome =
        runtime.Execute(Request("drill/tw02", "office@county", engine::Review{"reading", true, ""}, "tw02-review-1"));
    INFO(Text("review", outcome));
    REQUIRE(outcome.Ok());
    CHECK_FALSE(outcome.replayed);

    const auto report = store.VerifyChain();
    INFO((report.first_problem ? report.first_problem->what : std::string()));
    CHECK_FALSE(report.first_problem.has_value());

    // The projections written since the upgrade equal those rebuilt from the whole log.
    const auto steps = store.Steps();
    const auto timers = store.Timers();
    const auto problems = store.Problems();
    const std::int64_t events = Scalar(store, "SELECT count(*) FROM events");
    CHECK(events > logged);
    CHECK(runtime.Rebuild() == events);
    CHECK(store.Steps() == steps);
    CHECK(store.Timers() == timers);
    CHECK(store.Problems() == problems);
    CHECK(store.VerifyChain().first_problem == std::nullopt);
}

TEST_CASE("the problem lists of a schema version 1 database are visible after the upgrade", "[migrate]") {
    // Version 1 kept no problem-list projection, but its log holds the problems
    // (problem_added events). After the upgrade the projection must show them
    // without waiting for an administrator's rebuild.
    // The store knows no execution rules, so the runtime fills the projection
    // from the log as soon as it opens an upgraded database.
    TempDir dir;
    store::Store store = store::Store::Open(BuildVersion1(dir));
    REQUIRE(store.SchemaVersionBefore() == 1);
    engine::VirtualClock clock(Local("2023-09-14T09:00"));
    runtime::Runtime runtime(store, clock);
    (void)runtime.Units();  // what every command does first
    const auto migrated = store.Problems();
    runtime.Rebuild();
    const auto rebuilt = store.Problems();
    REQUIRE(rebuilt.size() == 1);  // tw01's P1, open
    INFO("problem rows after the upgrade: " << migrated.size() << "; rebuilt from the log: " << rebuilt.size());
    CHECK(migrated == rebuilt);
}

TEST_CASE("a database from a newer Cascade is refused, naming both versions", "[migrate]") {
    TempDir dir;
    const std::string path = (dir.Path() / "future.db").string();
    {
        store::Store store = store::Store::Open(path);
        store.Db().Execute("PRAGMA user_version = 99");
    }
    try {
        store::Store::Open(path);
        FAIL("a schema version 99 database was opened");
    } catch (const store::SchemaTooNewError& error) {
        const std::string message = error.what();
        INFO(message);
        CHECK(message.find("99") != std::string::npos);
        CHECK(message.find("version " + std::to_string(store::CurrentSchemaVersion())) != std::string::npos);
        CHECK(message.find(path) != std::string::npos);
    }
    // Nothing was changed by the refusal.
    {
        store::Database db = store::Database::Open(path);
        auto version = db.Prepare("PRAGMA user_version");
        REQUIRE(version.Step());
        CHECK(version.Int64(0) == 99);
    }
    std::string err;
    CHECK(RunCascade(dir, {"status", "--db", path}, err) == 4);
    CHECK(err.find("99") != std::string::npos);
    CHECK(err.find("version " + std::to_string(store::CurrentSchemaVersion())) != std::string::npos);
}

TEST_CASE("a file that is not SQLite is refused with its path", "[migrate]") {
    TempDir dir;
    const std::string path = (dir.Path() / "notes.db").string();
    std::ofstream(path, std::ios::binary) << "These are meeting notes, not a database.\n" << std::string(4096, 'x');
    const std::string before = ReadFile(path);
    try {
        store::Store::Open(path);
        FAIL("a text file was opened as a database");
    } catch (const store::SqliteError& error) {
        INFO(error.what());
        CHECK(std::string(error.what()).find(path) != std::string::npos);
    }
    std::string err;
    CHECK(RunCascade(dir, {"status", "--db", path}, err) == 4);
    CHECK(err.find(path) != std::string::npos);
    CHECK(ReadFile(path) == before);  // refused, not overwritten
}
