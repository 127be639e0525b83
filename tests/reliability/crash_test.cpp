// Crash consistency: the scripted campaign of cascade_crash_driver, killed
// with SIGKILL at random instants and restarted each time, must end in
// exactly the state of an uninterrupted run. Nothing the driver saw commit is
// lost, nothing is applied twice, the hash chain holds, every timer fires
// once, and every effect marked delivered reached the delivery log.
//
// Knobs (environment): CASCADE_CRASH_KILLS (default 25), CASCADE_CRASH_UNITS
// (townships, default 40), CASCADE_CRASH_SEED (default 20230901).
#include "../runtime/runtime_fixture.hpp"
#include "cascade/store/store.hpp"
#include "process.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

using namespace cascade;
using cascade::testing::ExitStatus;
using cascade::testing::ReadFile;
using cascade::testing::TempDir;

namespace json = boost::json;

namespace {

int EnvInt(const char* name, int fallback) {
    const char* text = std::getenv(name);
    return text != nullptr && *text != 0 ? std::atoi(text) : fallback;
}

std::vector<std::string> Lines(const std::string& path) {
    std::vector<std::string> lines;
    std::istringstream in(ReadFile(path));
    for (std::string line; std::getline(in, line);) {
        if (!line.empty()) {
            lines.push_back(line);
        }
    }
    return lines;
}

// One driver "process life" in `dir`: the database, acknowledgements and work
// folder always at the same paths, so every restart continues the same campaign.
struct DriverRun {
    const TempDir& dir;
    int units;

    std::string Db() const { return (dir.Path() / "campaign.db").string(); }
    std::string Acks() const { return (dir.Path() / "acks.txt").string(); }
    std::string Work() const { return (dir.Path() / "work").string(); }
    std::string Out() const { return (dir.Path() / "driver.out").string(); }
    std::string Err() const { return (dir.Path() / "driver.err").string(); }

    pid_t Start() const {
        return testing::Spawn({CASCADE_CRASH_DRIVER, Db(), Acks(), Work(), "--units", std::to_string(units)}, Out(),
                              Err());
    }
    // Fails the test unless the run reached the end.
    void RequireDone(const ExitStatus& status) const {
        INFO("driver " << status.Describe() << "\nstdout:\n" << ReadFile(Out()) << "stderr:\n" << ReadFile(Err()));
        REQUIRE(status.Ok());
        REQUIRE(ReadFile(Out()).find("done") != std::string::npos);
    }
};

// Waits until the driver has printed its "ready" line (its first output).
// Returns nothing then, or the exit status if it ended first.
std::optional<ExitStatus> WaitForReady(const DriverRun& run, pid_t pid) {
    for (;;) {
        std::error_code ignored;
        if (std::filesystem::file_size(run.Out(), ignored) > 0 && ReadFile(run.Out()).find('\n') != std::string::npos) {
            return std::nullopt;
        }
        if (auto status = testing::WaitUntil(pid, std::chrono::steady_clock::now() + std::chrono::microseconds(200))) {
            return status;
        }
    }
}

using EventTuple = std::tuple<std::int64_t, std::string, std::string, std::string, std::string, std::int64_t>;

std::vector<EventTuple> EventsOf(store::Store& store, const std::string& instance) {
    std::vector<EventTuple> events;
    for (const auto& event : store.Events(instance)) {
        events.emplace_back(event.seq, event.type, event.step, event.data, event.actor, event.at);
    }
    return events;
}

std::map<std::string, std::string> Commands(store::Store& store) {
    std::map<std::string, std::string> commands;
    auto select = store.Db().Prepare("SELECT key, result FROM commands");
    while (select.Step()) {
        commands[std::string(select.Text(0))] = std::string(select.Text(1));
    }
    return commands;
}

// The whole log in order, with each row's hash: equal logs are equal byte for byte.
std::vector<std::string> LogDigest(store::Store& store) {
    std::vector<std::string> rows;
    store.ForEachEvent([&](const store::EventRow& row) {
        rows.push_back(std::to_string(row.position) + " " + row.instance + " " + std::to_string(row.seq) + " " +
                       store::ToHex(row.hash));
    });
    return rows;
}

}  // namespace

TEST_CASE("a campaign killed at random instants ends exactly as an uninterrupted run", "[crash]") {
    const int kills = EnvInt("CASCADE_CRASH_KILLS", 25);
    const int units = EnvInt("CASCADE_CRASH_UNITS", 40);
    const auto seed = static_cast<std::uint32_t>(EnvInt("CASCADE_CRASH_SEED", 20230901));
    INFO("CASCADE_CRASH_SEED=" << seed << " CASCADE_CRASH_KILLS=" << kills << " CASCADE_CRASH_UNITS=" << units);

    // ---- the reference: one uninterrupted run
    // Timed in two parts: start-up (opening, importing the roster, registering
    // the workflow: until the driver prints "ready") and the campaign's work.
    TempDir reference_dir;
    const DriverRun reference{reference_dir, units};
    using Clock = std::chrono::steady_clock;
    const auto began = Clock::now();
    const pid_t reference_pid = reference.Start();
    auto reference_status = WaitForReady(reference, reference_pid);
    const auto ready_at = Clock::now();
    if (!reference_status) {
        reference_status = testing::Wait(reference_pid);
    }
    reference.RequireDone(*reference_status);
    const auto ended_at = Clock::now();
    const auto reference_acks = static_cast<double>(Lines(reference.Acks()).size());
    const double startup_ms = std::chrono::duration<double, std::milli>(ready_at - began).count();
    const double work_ms = std::max(std::chrono::duration<double, std::milli>(ended_at - ready_at).count(), 1.0);

    // ---- the same campaign, killed and restarted
    // Most lives are killed a random time after they report ready, so that the
    // kills left spread over the work left: the time is a random multiple (0 to
    // 2.5) of the work left per kill left, the work left being estimated from
    // the commands not yet acknowledged. (More than 1 on average because a
    // restarted life first catches up: it re-reads states and re-asks the
    // commands of the day it resumes on.) One in five lives is killed at a
    // random instant of its start-up instead.
    TempDir crashed_dir;
    const DriverRun crashed{crashed_dir, units};
    std::mt19937 random(seed);
    std::uniform_real_distribution<double> share(0.0, 2.5);
    std::uniform_real_distribution<double> startup(0.0, startup_ms);
    std::bernoulli_distribution during_startup(0.2);
    const auto after = [](double ms) { return Clock::now() + std::chrono::microseconds(std::llround(ms * 1000.0)); };
    int killed = 0;
    int lives = 0;
    std::string resume_days;
    bool finished = false;
    while (killed < kills && !finished) {
        const bool in_startup = during_startup(random);
        const double left = std::max(1.0 - static_cast<double>(Lines(crashed.Acks()).size()) / reference_acks, 0.05);
        const double delay_ms = in_startup ? startup(random) : share(random) * left * work_ms / (kills - killed);
        const pid_t pid = crashed.Start();
        ++lives;
        std::optional<ExitStatus> status;
        if (in_startup) {
            status = testing::WaitUntil(pid, after(delay_ms));
        } else if (!(status = WaitForReady(crashed, pid))) {
            status = testing::WaitUntil(pid, after(delay_ms));
        }
        if (status) {
            crashed.RequireDone(*status);  // it ended before its kill: the campaign is complete
            finished = true;
            break;
        }
        REQUIRE(::kill(pid, SIGKILL) == 0);
        status = testing::Wait(pid);
        if (status->exited) {
            crashed.RequireDone(*status);  // it exited just before the signal
            finished = true;
            break;
        }
        ++killed;
        // Where each life had picked up: evidence that the kills spread over the campaign.
        int resumed_on = -1;
        if (std::sscanf(ReadFile(crashed.Out()).c_str(), "ready %*d ms, resuming on day %d", &resumed_on) == 1) {
            resume_days += " " + std::to_string(resumed_on);
        } else {
            resume_days += " -";  // killed during start-up
        }
    }
    if (!finished) {
        crashed.RequireDone(testing::Wait(crashed.Start()));
    }
    const auto total_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - began).count();
    WARN("crash test: reference run " << std::llround(startup_ms + work_ms) << " ms (start-up "
                                      << std::llround(startup_ms) << " ms), " << killed << " kills over " << lives
                                      << " lives, " << total_ms << " ms in all; the killed lives resumed on days"
                                      << resume_days);
    CHECK(killed >= kills * 3 / 4);  // the kills really happened during the campaign

    store::Store expected = store::Store::Open(reference.Db());
    store::Store actual = store::Store::Open(crashed.Db());

    // The script reaches its end: every township's instance is complete.
    // By id: Instances() follows rowid, which INSERT OR REPLACE renews on every update.
    const auto by_id = [](std::vector<store::InstanceRow> rows) {
        std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
        return rows;
    };
    const auto instances = by_id(expected.Instances());
    REQUIRE(instances.size() == static_cast<std::size_t>(units));
    for (const auto& instance : instances) {
        INFO(instance.id);
        CHECK(instance.status == "completed");
    }

    // Plain blocks, not SECTIONs: Catch2 would run the whole crash scenario again for each section.
    {  // nothing the driver saw commit is lost, and nothing was applied twice
        const auto acks = Lines(crashed.Acks());
        std::set<std::string> distinct;
        for (const auto& key : acks) {
            INFO("acknowledged key " << key);
            CHECK(distinct.insert(key).second);  // applied (not answered from its record) once only
            CHECK(actual.FindCommand(key).has_value());
        }
        // Every command was applied exactly once, with the result of the uninterrupted run.
        CHECK(Commands(actual) == Commands(expected));
        CHECK(acks.size() <= Commands(actual).size());
    }

    {  // the hash chain holds and the log equals the uninterrupted run's
        const auto report = actual.VerifyChain();
        INFO((report.first_problem ? report.first_problem->what : std::string()));
        CHECK_FALSE(report.first_problem.has_value());
        CHECK(expected.VerifyChain().first_problem == std::nullopt);

        const auto actual_instances = by_id(actual.Instances());
        REQUIRE(actual_instances.size() == instances.size());
        for (std::size_t i = 0; i < instances.size(); ++i) {
            const auto& instance = instances[i];
            INFO("instance " << instance.id);
            CHECK(actual_instances[i].id == instance.id);
            CHECK(actual_instances[i].status == instance.status);
            CHECK(actual_instances[i].version == instance.version);
            CHECK(actual_instances[i].definition_key == instance.definition_key);
            const auto events = EventsOf(actual, instance.id);
            for (std::size_t seq = 0; seq < events.size(); ++seq) {
                REQUIRE(std::get<0>(events[seq]) == static_cast<std::int64_t>(seq + 1));  // 1..n, no gap, no twin
            }
            CHECK(events == EventsOf(expected, instance.id));
        }
        // Stronger than per instance: the same rows in the same global order, so the same hashes.
        CHECK(LogDigest(actual) == LogDigest(expected));
    }

    {  // the projections equal the uninterrupted run's
        CHECK(actual.Steps() == expected.Steps());
        CHECK(actual.Timers() == expected.Timers());
        CHECK(actual.Problems() == expected.Problems());
        // Timers fired once each: the reminders, overdue marks and escalations are the reference's.
        std::map<std::string, int> expected_counts;
        std::map<std::string, int> actual_counts;
        expected.ForEachEvent([&](const store::EventRow& row) { ++expected_counts[row.type]; });
        actual.ForEachEvent([&](const store::EventRow& row) { ++actual_counts[row.type]; });
        CHECK(actual_counts == expected_counts);
        CHECK(expected_counts["reminder_due"] > 0);
        CHECK(expected_counts["step_overdue"] > 0);
        CHECK(expected_counts["step_escalated"] > 0);
        CHECK(expected_counts["step_returned"] > 0);
        CHECK(expected_counts["problem_closed"] > 0);
    }

    {  // every effect marked delivered reached the delivery log at least once
        std::map<std::string, int> logged;
        for (const auto& line : Lines(crashed.Work() + "/deliveries.log")) {
            // A line cut short by a kill would belong to an effect not yet marked delivered (the
            // line is flushed first), which is delivered again: skip it rather than fail on it.
            boost::system::error_code error;
            const json::value value = json::parse(line, error);
            if (error || !value.is_object() || !value.as_object().contains("key")) {
                WARN("a torn line in the delivery log: " << line);
                continue;
            }
            ++logged[std::string(value.at("key").as_string())];
        }
        std::set<std::string> expected_keys;
        for (const auto& effect : expected.Outbox()) {
            expected_keys.insert(effect.key);
        }
        std::set<std::string> actual_keys;
        int duplicates = 0;
        for (const auto& effect : actual.Outbox()) {
            INFO("effect " << effect.key << " is " << effect.status);
            actual_keys.insert(effect.key);
            CHECK(effect.status == "delivered");
            if (effect.status == "delivered") {
                CHECK(logged.count(effect.key) == 1);
                duplicates += std::max(logged[effect.key] - 1, 0);
            }
        }
        CHECK(actual_keys == expected_keys);  // the same effects were queued, each once
        CHECK(logged.size() == actual_keys.size());
        WARN("crash test: " << actual_keys.size() << " effects, " << duplicates
                            << " delivered again after a kill (at least once)");
    }
}
