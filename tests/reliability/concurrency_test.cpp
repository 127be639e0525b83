// Concurrency across processes: two real `cascade advance` processes racing
// for the same step of the same instance on one SQLite database. Exactly one
// may win. With --expect-version the loser is refused as a conflict (exit 3);
// without it, the loser finds the step already handed in or done (exit 1).
// Never both. The log grows by exactly the winner's events and stays a valid
// hash chain.
#include "../runtime/runtime_fixture.hpp"
#include "cascade/runtime/runtime.hpp"
#include "cascade/store/store.hpp"
#include "process.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

using namespace cascade;
using cascade::testing::EngineData;
using cascade::testing::ExitStatus;
using cascade::testing::Local;
using cascade::testing::ReadFile;
using cascade::testing::TempDir;

namespace {

const std::string kNow = "2023-09-04T09:00";

std::int64_t EventCount(const std::string& db) {
    store::Store store = store::Store::Open(db);
    auto count = store.Db().Prepare("SELECT count(*) FROM events");
    count.Step();
    return count.Int64(0);
}

std::int64_t VersionOf(const std::string& db, const std::string& instance) {
    store::Store store = store::Store::Open(db);
    const auto version = store.InstanceVersion(instance);
    REQUIRE(version);
    return *version;
}

// The reviewer's approval, in this process (the races are about `advance`).
void Approve(const std::string& db, const std::string& instance) {
    store::Store store = store::Store::Open(db);
    engine::VirtualClock clock(Local(kNow));
    runtime::Runtime runtime(store, clock);
    runtime::CommandRequest request;
    request.instance = instance;
    request.actor = *engine::Actor::Parse("office@county");
    request.command = engine::Review{"reading", true, ""};
    const auto outcome = runtime.Execute(request);
    INFO((outcome.error ? outcome.error->message : std::string()));
    REQUIRE(outcome.Ok());
}

// "ok: step_completed, step_activated (version 9)" -> the number of events.
int EventsReported(const std::string& out) {
    const auto colon = out.find("ok: ");
    const auto paren = out.find(" (version ");
    REQUIRE(colon != std::string::npos);
    REQUIRE(paren != std::string::npos);
    const std::string list = out.substr(colon + 4, paren - colon - 4);
    return static_cast<int>(std::count(list.begin(), list.end(), ',')) + 1;
}

class Database {
public:
    Database() {
        std::filesystem::copy_file(EngineData("drill.yaml"), dir_.Path() / "drill.yaml");
        std::filesystem::copy_file(EngineData("roster.yaml"), dir_.Path() / "roster.yaml");
        db_ = (dir_.Path() / "campaign.db").string();
        const ExitStatus started =
            Cascade({"start", (dir_.Path() / "drill.yaml").string(), "--units", (dir_.Path() / "roster.yaml").string(),
                     "--utc-offset", "+08:00", "--db", db_},
                    "start");
        INFO(ReadFile(Out("start")) << ReadFile(Err("start")));
        REQUIRE(started.Ok());
    }

    const std::string& Path() const { return db_; }
    std::string Out(const std::string& name) const { return (dir_.Path() / (name + ".out")).string(); }
    std::string Err(const std::string& name) const { return (dir_.Path() / (name + ".err")).string(); }

    ExitStatus Cascade(const std::vector<std::string>& args, const std::string& name) const {
        return testing::Wait(Spawn(args, name));
    }
    pid_t Spawn(const std::vector<std::string>& args, const std::string& name) const {
        std::vector<std::string> argv{CASCADE_BINARY};
        argv.insert(argv.end(), args.begin(), args.end());
        return testing::Spawn(argv, Out(name), Err(name), {"CASCADE_NOW=" + kNow});
    }

private:
    TempDir dir_;
    std::string db_;
};

struct Race {
    std::string instance;
    std::string step;
    std::vector<std::string> form;  // --set arguments
    std::string actor;
};

// Two processes with the same command line, started back to back so that
// their start-up (the slow part) overlaps and both reach their write at once.
void RunRace(const Database& db, const Race& race, bool expect_version, int round) {
    const std::int64_t version = VersionOf(db.Path(), race.instance);
    const std::int64_t events_before = EventCount(db.Path());
    std::vector<std::string> args{"advance", race.instance, race.step, "--as", race.actor, "--db", db.Path()};
    for (const auto& field : race.form) {
        args.insert(args.end(), {"--set", field});
    }
    if (expect_version) {
        args.insert(args.end(), {"--expect-version", std::to_string(version)});
    }

    const std::string names[2] = {"race" + std::to_string(round) + "a", "race" + std::to_string(round) + "b"};
    const pid_t first = db.Spawn(args, names[0]);
    const pid_t second = db.Spawn(args, names[1]);
    const ExitStatus statuses[2] = {testing::Wait(first), testing::Wait(second)};

    std::ostringstream report;
    for (int i = 0; i < 2; ++i) {
        report << names[i] << ": " << statuses[i].Describe() << "\n  stdout: " << ReadFile(db.Out(names[i]))
               << "  stderr: " << ReadFile(db.Err(names[i]));
    }
    INFO("round " << round << ": " << race.step << " of " << race.instance << " at version " << version
                  << (expect_version ? " with" : " without") << " --expect-version\n"
                  << report.str());
    REQUIRE(statuses[0].exited);
    REQUIRE(statuses[1].exited);
    REQUIRE_FALSE((statuses[0].code == 0 && statuses[1].code == 0));  // never both
    const int winner = statuses[0].code == 0 ? 0 : statuses[1].code == 0 ? 1 : -1;
    REQUIRE(winner >= 0);  // and never neither
    const int loser = 1 - winner;
    const std::string loser_err = ReadFile(db.Err(names[loser]));
    if (statuses[loser].code == 3) {
        CHECK(loser_err.find("[conflict]") != std::string::npos);
        CHECK(expect_version);
    } else {
        // It ran entirely after the winner: refused with the reason, nothing written.
        REQUIRE(statuses[loser].code == 1);
        const bool explained = loser_err.find("[already-submitted]") != std::string::npos ||
                               loser_err.find("[not-active]") != std::string::npos;
        CHECK(explained);
        CHECK(loser_err.find("nothing was written") != std::string::npos);
    }
    const int won_events = EventsReported(ReadFile(db.Out(names[winner])));
    CHECK(EventCount(db.Path()) == events_before + won_events);
    CHECK(VersionOf(db.Path(), race.instance) == version + won_events);
}

// Every step an instance of drill passes by `advance`, each raced: reading,
// verify (not satisfied: back to reading), reading, verify (the rework edge
// is used up: on to fix), fix. The reviews between are approvals.
int RaceThroughDrill(const Database& db, const std::string& unit, bool expect_version, int round) {
    const std::string instance = "drill/" + unit;
    const Race reading{instance, "reading", {"sessions=2", "days=7", "evidence=a.pdf"}, "leader@" + unit};
    const Race verify{instance, "verify", {"satisfied=false"}, "secretary@" + unit};
    const Race fix{instance, "fix", {"note=done"}, "leader@" + unit};
    for (int pass = 0; pass < 2; ++pass) {
        RunRace(db, reading, expect_version, round++);
        Approve(db.Path(), instance);
        RunRace(db, verify, expect_version, round++);
    }
    RunRace(db, fix, expect_version, round++);
    return round;
}

void RequireAuditPasses(const Database& db) {
    const ExitStatus audit = db.Cascade({"audit", "verify", "--db", db.Path()}, "audit");
    INFO(ReadFile(db.Out("audit")) << ReadFile(db.Err("audit")));
    CHECK(audit.Ok());
    CHECK(ReadFile(db.Out("audit")).find("hash chain intact") != std::string::npos);
}

}  // namespace

TEST_CASE("two processes advancing the same step at once: exactly one wins", "[concurrency]") {
    SECTION("with --expect-version the loser is a conflict") {
        Database db;
        int round = 0;
        for (const std::string unit : {"tw01", "tw02"}) {
            round = RaceThroughDrill(db, unit, true, round);
        }
        RequireAuditPasses(db);
    }
    SECTION("without it the loser finds the step already done") {
        Database db;
        int round = 0;
        for (const std::string unit : {"tw01", "tw02"}) {
            round = RaceThroughDrill(db, unit, false, round);
        }
        RequireAuditPasses(db);
    }
}
