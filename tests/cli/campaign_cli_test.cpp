// End-to-end tests of the campaign commands of the `cascade` binary, on
// real database files: every refusal exits non-zero with its reason and
// writes nothing; the happy paths print what a user needs.
#include "../reliability/process.hpp"
#include "cli_support.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <string>
#include <thread>
#include <vector>

namespace {

using cascade::cli_testing::Cascade;
using cascade::cli_testing::ReadFile;
using cascade::cli_testing::Run;
using cascade::cli_testing::TempDir;
namespace fs = std::filesystem;

bool Contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

std::string EngineData(const std::string& name) {
    return (fs::path(CASCADE_SOURCE_DIR) / "tests" / "data" / "engine" / name).string();
}

const std::vector<std::string> kAt{"CASCADE_NOW=2023-09-04T09:00"};

// A started drill campaign in a scratch folder.
struct Started {
    TempDir dir;
    std::string db = (dir.Path() / "campaign.db").string();

    Started() {
        const Run run = Cascade({"start", EngineData("drill.yaml"), "--units", EngineData("roster.yaml"), "--db", db,
                                 "--utc-offset", "+08:00"},
                                kAt);
        INFO(run.err);
        REQUIRE(run.exit_code == 0);
        REQUIRE(Contains(run.out, "started campaign 'drill': 2 instances"));
    }

    Run Do(std::vector<std::string> arguments, const std::vector<std::string>& environment = kAt) const {
        arguments.push_back("--db");
        arguments.push_back(db);
        return Cascade(arguments, environment);
    }

    std::size_t EventCount() const {
        const Run run = Do({"audit", "verify"});
        REQUIRE(run.exit_code == 0);
        const auto at = run.out.find(", ");
        return std::stoul(run.out.substr(at + 2));
    }
};

}  // namespace

TEST_CASE("cli: start reports the campaign and who it reaches", "[cli][campaign]") {
    Started campaign;
    const Run status = campaign.Do({"status"});
    REQUIRE(status.exit_code == 0);
    CHECK(Contains(status.out, "drill/tw01"));
    CHECK(Contains(status.out, "东关镇"));
    CHECK(Contains(status.out, "reading"));

    // A second start of the same campaign id is refused.
    const Run again = Cascade({"start", EngineData("drill.yaml"), "--db", campaign.db}, kAt);
    CHECK(again.exit_code == 1);
    CHECK(Contains(again.err, "campaign-exists"));
}

TEST_CASE("cli: a failing gate is explained, exits 1 and writes nothing", "[cli][campaign]") {
    Started campaign;
    const auto before = campaign.EventCount();
    const Run run = campaign.Do({"advance", "drill/tw01", "reading", "--as", "leader@tw01", "--set", "sessions=1",
                                 "--set", "days=7", "--set", "evidence=plan.pdf"});
    CHECK(run.exit_code == 1);
    CHECK(Contains(run.err, "the gate of step 'reading' does not hold"));
    CHECK(Contains(run.err, "failing: form.sessions >= 2"));
    CHECK(Contains(run.err, "form.sessions = 1"));
    CHECK(Contains(run.err, "nothing was written"));
    CHECK(campaign.EventCount() == before);

    const Run ok = campaign.Do({"advance", "drill/tw01", "reading", "--as", "leader@tw01", "--set", "sessions=2",
                                "--set", "days=7", "--set", "evidence=plan.pdf"});
    INFO(ok.err);
    CHECK(ok.exit_code == 0);
    CHECK(Contains(ok.out, "step_submitted"));
}

TEST_CASE("cli: refusals name the problem and change nothing", "[cli][campaign]") {
    Started campaign;
    const auto before = campaign.EventCount();
    struct Case {
        std::vector<std::string> arguments;
        int exit_code;
        std::string message;
    };
    const std::vector<Case> cases{
        {{"advance", "drill/tw99", "reading", "--as", "leader@tw99"}, 1, "no instance 'drill/tw99'"},
        {{"advance", "drill/tw01", "readng", "--as", "leader@tw01"}, 1, "did you mean 'reading'"},
        {{"advance", "drill/tw01", "verify", "--as", "secretary@tw01"}, 1, "not-active"},
        {{"advance", "drill/tw01", "reading", "--as", "secretary@tw01", "--set", "sessions=2"}, 1, "wrong-role"},
        {{"advance", "drill/tw01", "reading", "--as", "leader"}, 2, "is not ROLE@UNIT"},
        {{"advance", "drill/tw01", "reading", "--as", "leader@tw01", "--set", "sessions=two"}, 1, "sessions"},
        {{"advance", "drill/tw01", "reading", "--as", "leader@tw01", "--set", "pages=3"}, 1, "unknown field 'pages'"},
        {{"advance", "drill/tw01", "reading", "--as", "leader@tw01", "--set", "sessions=2", "--set", "days=7", "--set",
          "evidence=scan.bmp"},
         1,
         "evidence"},
        {{"advance", "drill/tw01", "reading", "--as", "leader@tw01", "--set", "sessions=2", "--set", "days=7", "--set",
          "evidence=a.pdf", "--expect-version", "1"},
         3,
         "changed while this command was prepared"},
        {{"review", "drill/tw01", "reading", "--as", "office@county", "--approve"}, 1, "not-submitted"},
        {{"review", "drill/tw01", "reading", "--as", "office@county"}, 2, "--approve or --return"},
        {{"admin", "reset", "drill/tw01", "--to", "reading", "--reason", "x", "--as", "leader@tw01"}, 1, "wrong-role"},
        {{"admin", "retry", "drill/tw01", "reading", "--as", "admin@county"}, 1, "not-failed"},
        {{"admin", "redeliver", "999"}, 1, "no dead letter #999"},
        {{"problems", "close", "drill/tw01", "P9", "--as", "leader@tw01"}, 1, "unknown-problem"},
        {{"problems", "add", "drill/tw01", "--title", "x", "--as", "leader@tw02"}, 1, "wrong-role"},
        {{"problems", "add", "drill/tw01", "--title", "x", "--due", "2023-13-01", "--as", "leader@tw01"}, 2, "--due"},
        {{"history", "drill/nope"}, 1, "no instance 'drill/nope'"},
        {{"status", "--unit", "tw77"}, 1, "no unit 'tw77'"},
        {{"migrate", "nope", EngineData("drill.yaml"), "--as", "admin@county"}, 1, "unknown-campaign"},
    };
    for (const auto& test : cases) {
        const Run run = campaign.Do(test.arguments);
        INFO(test.arguments.front() << " " << (test.arguments.size() > 1 ? test.arguments[1] : "") << ": " << run.err);
        CHECK(run.exit_code == test.exit_code);
        CHECK(Contains(run.err, test.message));
    }
    CHECK(campaign.EventCount() == before);
}

TEST_CASE("cli: a review returns evidence with a reason and the unit resubmits", "[cli][campaign]") {
    Started campaign;
    const std::vector<std::string> submit{"advance",    "drill/tw01", "reading", "--as",  "leader@tw01",   "--set",
                                          "sessions=2", "--set",      "days=7",  "--set", "evidence=a.pdf"};
    REQUIRE(campaign.Do(submit).exit_code == 0);
    Run run = campaign.Do({"review", "drill/tw01", "reading", "--as", "office@county", "--return", "日程不完整"});
    REQUIRE(run.exit_code == 0);
    CHECK(Contains(run.out, "step_returned"));
    REQUIRE(campaign.Do(submit).exit_code == 0);
    REQUIRE(campaign.Do({"review", "drill/tw01", "reading", "--as", "office@county", "--approve"}).exit_code == 0);
    run = campaign.Do({"history", "drill/tw01"});
    REQUIRE(run.exit_code == 0);
    CHECK(Contains(run.out, "step_returned"));
    CHECK(Contains(run.out, "reason=日程不完整"));
    CHECK(Contains(run.out, "office@county"));
    run = campaign.Do({"history", "drill/tw01", "--format", "json"});
    REQUIRE(run.exit_code == 0);
    CHECK(Contains(run.out, "\"type\":\"step_completed\""));
}

TEST_CASE("cli: an idempotency key makes a retried command a no-op", "[cli][campaign]") {
    Started campaign;
    const std::vector<std::string> add{"problems",    "add",  "drill/tw01",  "--title", "窗口排长队",
                                       "--immediate", "--as", "leader@tw01", "--key",   "tw01-p1"};
    REQUIRE(campaign.Do(add).exit_code == 0);
    const auto events = campaign.EventCount();
    const Run again = campaign.Do(add);
    CHECK(again.exit_code == 0);
    CHECK(Contains(again.out, "already done"));
    CHECK(campaign.EventCount() == events);
    const Run list = campaign.Do({"problems", "list", "drill/tw01"});
    CHECK(Contains(list.out, "窗口排长队"));
    CHECK(Contains(list.out, "立行立改"));
}

TEST_CASE("cli: audit verify passes, then names the row a hand edit changed", "[cli][campaign][audit]") {
    Started campaign;
    Run run = campaign.Do({"audit", "verify"});
    CHECK(run.exit_code == 0);
    CHECK(Contains(run.out, "hash chain intact"));
    const Run edit = Cascade({"sqlite3-edit"});  // no such command: usage error, not a crash
    CHECK(edit.exit_code == 2);
    {
        // Tamper through SQLite directly, as someone with the file would.
        TempDir scratch;
        const fs::path script =
            scratch.Write("tamper.sql", "UPDATE events SET actor = 'admin@county' WHERE position = 2;\n");
        REQUIRE(std::system(("sqlite3 '" + campaign.db + "' < '" + script.string() + "'").c_str()) == 0);
    }
    run = campaign.Do({"audit", "verify"});
    CHECK(run.exit_code == 1);
    CHECK(Contains(run.err, "row 2"));
    CHECK(Contains(run.err, "altered"));
}

TEST_CASE("cli: run --once fires what is due and delivers to the built-in log notifier", "[cli][campaign]") {
    Started campaign;
    const std::string log = (campaign.dir.Path() / "notices.jsonl").string();
    // 2023-09-12: the first reminder (3 working days before the 09-15 deadline) for both townships.
    Run run = campaign.Do({"run", "--once", "--log", log}, {"CASCADE_NOW=2023-09-12T09:00"});
    INFO(run.err);
    REQUIRE(run.exit_code == 0);
    CHECK(Contains(run.err, "timers fired: 2"));
    CHECK(Contains(ReadFile(log), "\"event\":\"remind\""));
    // 2023-09-20: the second reminder (now stale: dropped), the overdue mark and the escalation.
    run = campaign.Do({"run", "--once", "--log", log}, {"CASCADE_NOW=2023-09-20T09:00"});
    INFO(run.err);
    REQUIRE(run.exit_code == 0);
    CHECK(Contains(run.err, "timers fired: 6"));
    const std::string notices = ReadFile(log);
    CHECK(Contains(notices, "\"event\":\"overdue\""));
    CHECK(Contains(notices, "\"event\":\"escalated\""));
    CHECK(Contains(notices, "县委书记"));
    const Run status = campaign.Do({"status", "--overdue"}, {"CASCADE_NOW=2023-09-20T09:00"});
    CHECK(Contains(status.out, "reading(overdue)"));
    const Run again = campaign.Do({"run", "--once", "--log", log}, {"CASCADE_NOW=2023-09-20T09:00"});
    CHECK_FALSE(Contains(again.err, "timers fired"));
}

TEST_CASE("cli: admin rebuild, migrate and database errors", "[cli][campaign]") {
    Started campaign;
    Run run = campaign.Do({"admin", "rebuild"});
    CHECK(run.exit_code == 0);
    CHECK(Contains(run.out, "rebuilt projections of 2 instances"));

    TempDir scratch;
    const fs::path bogus = scratch.Write("bogus.db", "this is not a database, just text that is long enough to matter");
    run = Cascade({"status", "--db", bogus.string()});
    CHECK(run.exit_code == 4);
    CHECK(Contains(run.err, bogus.string()));
    run = Cascade({"status", "--db", (scratch.Path() / "missing.db").string()});
    CHECK(run.exit_code == 1);
    CHECK(Contains(run.err, "no database at"));

    // A new version without the step the instances are at cannot take them over.
    std::string text = ReadFile(EngineData("drill.yaml"));
    for (auto at = text.find("reading"); at != std::string::npos; at = text.find("reading", at + 8)) {
        text.replace(at, 7, "studying");
    }
    const fs::path renamed = scratch.Write("drill.yaml", text);
    run = campaign.Do({"migrate", "drill", renamed.string(), "--as", "admin@county"});
    INFO(run.err);
    CHECK(run.exit_code == 1);
    CHECK(Contains(run.err, "instance 'drill/tw01' is at step 'reading', which the new version does not have"));
}

TEST_CASE("cli: units import reports row and column, and imports nothing on error", "[cli][campaign]") {
    TempDir dir;
    const std::string db = (dir.Path() / "units.db").string();
    const fs::path bad = dir.Write("bad.csv",
                                   "id,parent,name,category\n"
                                   "county,,县,county\n"
                                   "tw01,cuonty,镇,township\n");
    Run run = Cascade({"units", "import", bad.string(), "--db", db});
    CHECK(run.exit_code == 1);
    CHECK(Contains(run.err, "bad.csv:3:6: error: row 3, column 'parent': unknown parent 'cuonty'"));
    CHECK(Contains(run.err, "nothing imported"));
    run = Cascade({"units", "import", bad.string(), "--db", db, "--categories", "county,township"});
    CHECK(run.exit_code == 1);
    run = Cascade({"units", "import", EngineData("roster.yaml"), "--db", db, "--categories", "county,township"});
    CHECK(run.exit_code == 1);
    CHECK(Contains(run.err, "unknown category 'party_branch'"));
    run = Cascade({"units", "import", EngineData("roster.yaml"), "--db", db});
    CHECK(run.exit_code == 0);
    CHECK(Contains(run.out, "imported 6 units"));
}

TEST_CASE("cli: every campaign command has a manual", "[cli][campaign]") {
    for (const std::vector<std::string> command : {std::vector<std::string>{"start"},
                                                   {"advance"},
                                                   {"review"},
                                                   {"status"},
                                                   {"history"},
                                                   {"audit", "verify"},
                                                   {"admin", "rebuild"},
                                                   {"admin", "reset"},
                                                   {"run"},
                                                   {"simulate"},
                                                   {"migrate"},
                                                   {"units", "import"},
                                                   {"problems", "add"}}) {
        std::vector<std::string> arguments = command;
        arguments.push_back("--help");
        const Run run = Cascade(arguments);
        INFO(command.front());
        CHECK(run.exit_code == 0);
        CHECK(Contains(run.out, "Usage:"));
        CHECK(Contains(run.out, "Exit status"));
    }
}

TEST_CASE("cli: run keeps going until SIGTERM or SIGINT and then stops cleanly", "[cli][campaign]") {
    for (const int signal : {SIGTERM, SIGINT}) {
        Started campaign;
        const std::string out = (campaign.dir.Path() / "run.out").string();
        const std::string err = (campaign.dir.Path() / "run.err").string();
        const pid_t pid = cascade::testing::Spawn({CASCADE_BINARY, "run", "--db", campaign.db}, out, err,
                                                  {"CASCADE_NOW=2023-09-20T09:00"});
        // It fires what is due at once, then waits for more work.
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (ReadFile(err).find("timers fired") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        REQUIRE(::kill(pid, signal) == 0);
        const auto status =
            cascade::testing::WaitUntil(pid, std::chrono::steady_clock::now() + std::chrono::seconds(20));
        REQUIRE(status);
        CHECK(status->Ok());
        const std::string log = ReadFile(err);
        CHECK(Contains(log, "timers fired: 8"));  // reminders past the deadline are dropped, but handled
        CHECK(Contains(log, "stopped cleanly"));
        CHECK(campaign.Do({"audit", "verify"}).exit_code == 0);
    }
}

TEST_CASE("cli: refused before anything is written: a bad roster, an unknown scope, a badly formed offset",
          "[cli][campaign]") {
    TempDir dir;
    const std::string db = (dir.Path() / "fresh.db").string();
    const fs::path bad = dir.Write("bad.csv", "id,parent,name,category\ncounty,,县,county\nx,nobody,镇,township\n");
    Run run = Cascade({"units", "import", bad.string(), "--db", db});
    CHECK(run.exit_code == 1);
    CHECK_FALSE(fs::exists(db));  // no file is created for a roster that does not load

    run = Cascade(
        {"start", EngineData("drill.yaml"), "--units", EngineData("roster.yaml"), "--scope", "tw1", "--db", db}, kAt);
    CHECK(run.exit_code == 1);
    CHECK(Contains(run.err, "no unit 'tw1'"));
    CHECK(Contains(run.err, "did you mean"));
    run = Cascade({"status", "--db", db});
    CHECK(Contains(run.out, "no campaign in this database"));

    Started campaign;
    run = Cascade(
        {"start", EngineData("drill.yaml"), "--campaign", "second", "--db", campaign.db, "--utc-offset", "banana"},
        kAt);
    CHECK(run.exit_code == 2);
    CHECK(Contains(run.err, "is not like +08:00"));
    run = Cascade(
        {"start", EngineData("drill.yaml"), "--campaign", "second", "--db", campaign.db, "--utc-offset", "+09:00"},
        kAt);
    CHECK(run.exit_code == 2);
    CHECK(Contains(run.err, "one database keeps one local time"));
}

TEST_CASE("cli: rebuild refuses a log that fails its audit; simulate checks its arguments", "[cli][campaign]") {
    Started campaign;
    {
        TempDir scratch;
        const fs::path script =
            scratch.Write("tamper.sql", "DELETE FROM events WHERE position = (SELECT max(position) FROM events);\n");
        REQUIRE(std::system(("sqlite3 '" + campaign.db + "' < '" + script.string() + "'").c_str()) == 0);
    }
    Run run = campaign.Do({"admin", "rebuild"});
    CHECK(run.exit_code == 1);
    CHECK(Contains(run.err, "fails its audit"));
    CHECK(Contains(run.err, "--force"));
    CHECK(campaign.Do({"audit", "verify"}).exit_code == 1);  // still visible: nothing was rebuilt

    run =
        Cascade({"simulate", EngineData("drill.yaml"), "--units", EngineData("roster.yaml"), "--until", "2023-08-01"});
    CHECK(run.exit_code == 2);
    CHECK(Contains(run.err, "before the campaign starts"));
    run = Cascade({"simulate", EngineData("drill.yaml"), "--units", EngineData("roster.yaml"), "--late", "1.5"});
    CHECK(run.exit_code == 2);
    run =
        Cascade({"simulate", EngineData("drill.yaml"), "--units", EngineData("roster.yaml"), "--until", "2023-10-31"});
    INFO(run.err);
    CHECK(run.exit_code == 0);
    CHECK(Contains(run.out, "Simulated"));
}
