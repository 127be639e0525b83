// The county campaign at scale: 1,000 / 10,000 / 100,000 units taken
// through every step of workflows/theme-education.yaml (forms, gates, joins,
// the branch subflow, a review return and a rework round for some units, the
// problem list), in two modes:
//
//   batch        many commands per transaction (as simulate and imports run)
//   per-command  one transaction per command, synchronous=NORMAL (as the API will)
//
// In the same run it measures SQLite's raw insert rate of rows shaped like
// event rows into a table with the event log's indexes, one row per
// transaction and batched, so the engine's rate is a ratio to the storage
// limit on this machine. Each (size, mode) runs in its own child process so
// its peak memory (ru_maxrss) is its own. Medians of --runs runs.
//
//   bench_engine --units 1000,10000 --runs 3 [--mode batch|per-command|both]
#include "cascade/lang/roster_loader.hpp"
#include "cascade/runtime/builtin_plugins.hpp"
#include "cascade/runtime/runtime.hpp"
#include "cascade/runtime/simulation.hpp"
#include "cascade/store/sha256.hpp"
#include "cascade/store/store.hpp"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace cascade;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration duration) {
    return std::chrono::duration<double>(duration).count();
}

// ------------------------------------------------------------------ roster

// A county shaped like the sample roster, scaled to `total` units: a third
// are first-level units (leadership teams, townships, departments,
// enterprises, schools, new organizations), the rest their party branches.
std::vector<model::Unit> CountyRoster(std::size_t total) {
    static const char* const kCategories[] = {"township", "department",       "enterprise",
                                              "school",   "new_organization", "county_leadership"};
    const auto person = [](const std::string& id, const std::string& role) {
        return std::vector<model::Person>{{role + "-" + id, id + "." + role + "@example.gov.cn"}};
    };
    const auto make = [&](const std::string& id, const std::string& parent, const std::string& category) {
        model::Unit unit;
        unit.id = id;
        unit.parent = parent;
        unit.name = id;
        unit.category = category;
        for (const char* role : {"leader", "secretary", "leadership_team", "liaison", "office"}) {
            unit.roles[role] = person(id, role);
        }
        unit.members = {{"in_service", 30}, {"mobile", 2}, {"elderly_infirm", 3}, {"new_economy", 1}};
        return unit;
    };
    std::vector<model::Unit> units;
    units.reserve(total);
    units.push_back(make("county", "", "county"));
    const std::size_t first_level = std::max<std::size_t>(1, (total - 1) / 3);
    std::vector<std::string> parents;
    for (std::size_t i = 0; i < first_level && units.size() < total; ++i) {
        const std::string category = kCategories[i % 6];
        units.push_back(make("u" + std::to_string(i), "county", category));
        if (category != "county_leadership")
            parents.push_back(units.back().id);
    }
    for (std::size_t i = 0; units.size() < total; ++i) {
        const std::string& parent = parents[i % parents.size()];
        units.push_back(make(parent + "-b" + std::to_string(i / parents.size()), parent, "party_branch"));
    }
    return units;
}

// ------------------------------------------------------------------ raw SQLite

struct RawRates {
    double per_transaction = 0;  // rows/s, one row per transaction
    double batched = 0;          // rows/s, 1,000 rows per transaction
};

// Rows of the size and shape of event rows (the same columns, the same
// primary key and unique index), with a hash computed per row as the log
// does, spread round-robin over as many instances as the campaign has, as a
// campaign's events are: the (instance, seq) index is written where a real
// log writes it.
RawRates MeasureRaw(const std::string& directory, std::size_t per_transaction_rows, std::size_t batched_rows,
                    std::size_t data_bytes, std::size_t instances) {
    RawRates rates;
    const std::string payload(data_bytes, 'x');
    for (const bool batched : {false, true}) {
        const std::string path = directory + (batched ? "/raw-batched.db" : "/raw-single.db");
        std::filesystem::remove(path);
        auto database = store::Database::Open(path);
        database.Execute(
            "CREATE TABLE events (position INTEGER PRIMARY KEY, instance TEXT NOT NULL, seq INTEGER NOT NULL, "
            "at INTEGER NOT NULL, actor TEXT NOT NULL, type TEXT NOT NULL, step TEXT NOT NULL, data TEXT NOT NULL, "
            "previous_hash BLOB NOT NULL, hash BLOB NOT NULL, UNIQUE (instance, seq))");
        auto& insert = database.Cached(
            "INSERT INTO events (position, instance, seq, at, actor, type, step, data, previous_hash, hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
        const std::size_t rows = batched ? batched_rows : per_transaction_rows;
        store::Digest previous{};
        const auto start = Clock::now();
        std::optional<store::Transaction> transaction;
        for (std::size_t i = 0; i < rows; ++i) {
            if (!transaction)
                transaction.emplace(database);
            const std::string instance = "theme-education-2023/u" + std::to_string(i % instances);
            const store::Digest hash = store::Sha256Of(payload + std::to_string(i));
            insert.Bind(1, static_cast<std::int64_t>(i + 1))
                .Bind(2, instance)
                .Bind(3, static_cast<std::int64_t>(i / instances + 1));
            insert.Bind(4, std::int64_t{1'693'530'000'000}).Bind(5, "leader@u1").Bind(6, "step_completed");
            insert.Bind(7, "reading_class").Bind(8, payload).BindBlob(9, previous).BindBlob(10, hash);
            insert.Run();
            previous = hash;
            if (!batched || (i + 1) % 1000 == 0 || i + 1 == rows) {
                transaction->Commit();
                transaction.reset();
            }
        }
        const double seconds = Seconds(Clock::now() - start);
        (batched ? rates.batched : rates.per_transaction) = static_cast<double>(rows) / seconds;
    }
    return rates;
}

// ------------------------------------------------------------------ the campaign driver

struct RunResult {
    std::int64_t commands = 0;
    std::int64_t events = 0;
    double engine_seconds = 0;  // time inside the runtime (commands, timers, deliveries, commits)
    double total_seconds = 0;   // including generating payloads
    long peak_rss_kib = 0;
    std::int64_t completed = 0;
    std::int64_t instances = 0;
    double avg_event_bytes = 0;
};

class Driver {
public:
    Driver(runtime::Runtime& runtime, engine::VirtualClock& clock, bool batch)
        : runtime_(runtime), clock_(clock), batch_(batch) {}

    RunResult Run(const runtime::Workflow& workflow) {
        RunResult result;
        const auto wall = Clock::now();
        clock_.Set(engine::StartOfDay(workflow.definition->start, 480) + 9 * 3'600'000LL);
        Timed([&] {
            auto started = runtime_.StartCampaign(workflow, {});
            if (started.error) {
                std::fprintf(stderr, "start failed: %s\n", started.error->message.c_str());
                std::exit(1);
            }
        });
        // Rounds until nothing is open: each round acts once on every open
        // step. Commands are planned first (payloads solved, untimed), then
        // run: in batches of 2,000 per transaction, or one transaction each.
        for (int round = 0; round < 400; ++round) {
            clock_.Advance(3'600'000);  // an hour per round: timers stay quiet, deliveries are due
            const auto open = OpenSteps();
            if (open.empty()) {
                break;
            }
            // Planned and run 2,000 open steps at a time, so the driver's own
            // memory stays small next to the engine's.
            std::optional<model::Date> opens;  // the earliest day a step waiting for its `opens` can be done
            const model::Date today = engine::LocalDate(clock_.Now(), 480);
            std::size_t acted = 0;
            for (std::size_t chunk = 0; chunk < open.size(); chunk += 2'000) {
                std::vector<runtime::CommandRequest> planned;
                for (std::size_t i = chunk; i < std::min(open.size(), chunk + 2'000); ++i) {
                    const model::Step* definition = runtime_.DefinitionOf(open[i].instance).FindStep(open[i].step);
                    if (definition->opens && *definition->opens > today) {
                        opens = opens ? std::min(*opens, *definition->opens) : *definition->opens;
                        continue;
                    }
                    Plan(open[i], planned);
                }
                acted += planned.size();
                std::vector<runtime::CommandRequest> refused;
                const auto run = [&](const runtime::CommandRequest& request) {
                    ++commands_;
                    const auto outcome = runtime_.Execute(request);
                    if (outcome.error) {
                        refused.push_back(request);
                    }
                };
                if (batch_) {
                    Timed([&] {
                        runtime_.Batch([&] {
                            for (const auto& request : planned)
                                run(request);
                        });
                    });
                } else {
                    for (const auto& request : planned) {
                        Timed([&] { run(request); });
                    }
                }
                // A payload planned on the state before the round may not fit after
                // another command of the same unit: solve again and retry (rare).
                for (auto& request : refused) {
                    --commands_;
                    Retry(request);
                }
            }
            if (acted == 0 && opens) {
                clock_.Set(engine::StartOfDay(*opens, 480) + 9 * 3'600'000LL);
                continue;
            }
            while (true) {
                runtime::DeliveryCounts counts;
                Timed([&] { counts = runtime_.DeliverDueEffects(deliver_, 10'000); });
                if (counts.delivered + counts.retried + counts.dead == 0)
                    break;
            }
        }
        result.total_seconds = Seconds(Clock::now() - wall);
        result.engine_seconds = engine_seconds_;
        result.commands = commands_;
        auto count = runtime_.Store().Db().Prepare(
            "SELECT count(*), avg(length(data) + length(actor) + length(step) + 90) FROM events");
        count.Step();
        result.events = count.Int64(0);
        result.avg_event_bytes = count.Double(1);
        for (const auto& instance : runtime_.Store().Instances()) {
            ++result.instances;
            result.completed += instance.status == "completed" ? 1 : 0;
        }
        return result;
    }

private:
    struct OpenStep {
        std::string instance;
        std::string step;
        std::string status;
    };

    std::vector<OpenStep> OpenSteps() {
        std::vector<OpenStep> open;
        auto select = runtime_.Store().Db().Prepare(
            "SELECT instance, step, status FROM steps WHERE status IN ('active', 'submitted') ORDER BY instance, step");
        while (select.Step()) {
            open.push_back({std::string(select.Text(0)), std::string(select.Text(1)), std::string(select.Text(2))});
        }
        return open;
    }

    template <typename Body>
    void Timed(Body&& body) {
        const auto start = Clock::now();
        body();
        engine_seconds_ += Seconds(Clock::now() - start);
    }

    std::string UnitOf(const std::string& instance) { return runtime_.Store().GetInstance(instance)->unit; }

    // Who may act on a step: the assignee (or reviewer) of the instance's unit, by role path.
    engine::Actor ActorFor(const std::string& instance, const model::RoleRef& role) {
        const auto holders = engine::ResolveRole(runtime_.Units(), UnitOf(instance), role);
        return engine::Actor{role.role, holders.unit, ""};
    }

    runtime::CommandRequest Request(const std::string& instance, engine::Actor actor, engine::Command command) {
        runtime::CommandRequest request;
        request.instance = instance;
        request.actor = std::move(actor);
        request.command = std::move(command);
        return request;
    }

    void Plan(const OpenStep& open, std::vector<runtime::CommandRequest>& planned) {
        const model::Definition& definition = runtime_.DefinitionOf(open.instance);
        const model::Step* step = definition.FindStep(open.step);
        if (open.status == "submitted") {
            // Every tenth unit's problem list goes back once, as reviewers do.
            const bool give_back = open.step == "problem_list" && std::hash<std::string>{}(open.instance) % 10 == 0 &&
                                   returned_.insert(open.instance).second;
            planned.push_back(Request(open.instance, ActorFor(open.instance, step->review->by),
                                      engine::Review{open.step, !give_back, give_back ? "问题不具体，请补充" : ""}));
            return;
        }
        // The problem list drives the rectification gates: two problems per
        // unit when the plan is drawn up, one fixed at once, one by plan.
        const engine::Actor leader{"leader", UnitOf(open.instance), ""};
        if (open.step == "rectify_plan" && problems_added_.insert(open.instance).second) {
            planned.push_back(
                Request(open.instance, leader,
                        engine::AddProblem{"办事窗口排长队", "leader", model::Date::Parse("2024-01-20"), true}));
            planned.push_back(
                Request(open.instance, leader,
                        engine::AddProblem{"村级道路失修", "leader", model::Date::Parse("2024-01-20"), false}));
            return;  // the plan itself next round, when the list is there
        }
        if (open.step == "immediate_fixes" && closed_first_.insert(open.instance).second) {
            planned.push_back(Request(open.instance, leader, engine::CloseProblem{"P1", "已整改"}));
            return;
        }
        if (open.step == "scheduled_fixes" && closed_second_.insert(open.instance).second) {
            planned.push_back(Request(open.instance, leader, engine::CloseProblem{"P2", "已整改"}));
            return;
        }
        json::object payload = PayloadFor(open.instance, *step);
        // Every tenth unit's public is not satisfied the first time: the rectification goes back (回炉).
        if (step->id == "satisfaction" && std::hash<std::string>{}(open.instance) % 10 == 1 &&
            reworked_.insert(open.instance).second) {
            payload["respondents"] = 100;
            payload["satisfied"] = 50;
        }
        planned.push_back(
            Request(open.instance, ActorFor(open.instance, *step->assignee), engine::Submit{open.step, payload}));
    }

    void Retry(runtime::CommandRequest request) {
        if (auto* submit = std::get_if<engine::Submit>(&request.command)) {
            const model::Step* step = runtime_.DefinitionOf(request.instance).FindStep(submit->step);
            if (auto solved = runtime::SolveForm(runtime_, request.instance, *step, 7)) {
                submit->form = *solved;
            }
        }
        runtime::CommandOutcome outcome;
        ++commands_;
        Timed([&] { outcome = runtime_.Execute(request); });
        if (outcome.error && outcome.error->code != "not-active") {
            std::fprintf(stderr, "%s refused: %s\n", request.instance.c_str(), outcome.error->message.c_str());
            for (const auto& detail : outcome.error->details)
                std::fprintf(stderr, "  %s\n", detail.c_str());
            std::exit(1);
        }
    }

    json::object PayloadFor(const std::string& instance, const model::Step& step) {
        const auto found = payloads_.find(step.id);
        if (found != payloads_.end()) {
            return found->second;
        }
        auto solved = runtime::SolveForm(runtime_, instance, step, 7);
        if (!solved) {
            std::fprintf(stderr, "no payload passes the gate of '%s'\n", step.id.c_str());
            std::exit(1);
        }
        return payloads_.emplace(step.id, *solved).first->second;
    }

    runtime::Runtime& runtime_;
    engine::VirtualClock& clock_;
    bool batch_;
    double engine_seconds_ = 0;
    std::int64_t commands_ = 0;
    std::map<std::string, json::object> payloads_;
    std::set<std::string> returned_;
    std::set<std::string> reworked_;
    std::set<std::string> problems_added_;
    std::set<std::string> closed_first_;
    std::set<std::string> closed_second_;
    runtime::Deliverer deliver_ = [](const store::OutboxRow&) {
        return runtime::Delivery{runtime::Delivery::Status::ok, "", {}};
    };
};

RunResult RunCampaign(const std::string& directory, std::size_t units, bool batch) {
    const std::string path = directory + "/campaign-" + std::to_string(units) + ".db";
    std::filesystem::remove(path);
    std::filesystem::remove(path + "-wal");
    auto store = store::Store::Open(path);
    engine::VirtualClock clock;
    runtime::RuntimeOptions options;
    options.utc_offset_minutes = 480;
    runtime::Runtime runtime(store, clock, options);
    if (auto refused = runtime.ImportUnits(model::UnitTree::Build(CountyRoster(units)))) {
        std::fprintf(stderr, "roster refused: %s\n", refused->c_str());
        std::exit(1);
    }
    auto registered = runtime.Register(std::string(CASCADE_SOURCE_DIR) + "/workflows/theme-education.yaml");
    if (!std::holds_alternative<runtime::Workflow>(registered)) {
        std::fprintf(stderr, "the county workflow does not validate\n");
        std::exit(1);
    }
    Driver driver(runtime, clock, batch);
    RunResult result = driver.Run(std::get<runtime::Workflow>(registered));
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    result.peak_rss_kib = usage.ru_maxrss;
    return result;
}

// Runs `body` in a child process and returns what it printed on a pipe.
template <typename Body>
std::string InChild(Body&& body) {
    std::fflush(stdout);  // or the child's exit flushes a copy of our buffer
    int fds[2];
    if (pipe(fds) != 0)
        std::exit(1);
    const pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        const std::string text = body();
        if (write(fds[1], text.data(), text.size()) < 0)
            _exit(1);
        _exit(0);
    }
    close(fds[1]);
    std::string text;
    char buffer[4096];
    for (ssize_t n; (n = read(fds[0], buffer, sizeof buffer)) > 0;)
        text.append(buffer, static_cast<std::size_t>(n));
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::fprintf(stderr, "benchmark child failed\n");
        std::exit(1);
    }
    return text;
}

double Median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    return values.empty() ? 0 : values[values.size() / 2];
}

std::vector<std::size_t> ParseSizes(const char* text) {
    std::vector<std::size_t> sizes;
    std::stringstream in(text);
    for (std::string item; std::getline(in, item, ',');)
        sizes.push_back(std::stoul(item));
    return sizes;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::size_t> sizes{1'000, 10'000};
    int runs = 3;
    std::string mode = "both";
    std::string directory = std::filesystem::temp_directory_path() / ("cascade-bench-" + std::to_string(getpid()));
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--units" && i + 1 < argc)
            sizes = ParseSizes(argv[++i]);
        else if (arg == "--runs" && i + 1 < argc)
            runs = std::atoi(argv[++i]);
        else if (arg == "--mode" && i + 1 < argc)
            mode = argv[++i];
        else if (arg == "--dir" && i + 1 < argc)
            directory = argv[++i];
        else {
            std::fprintf(stderr,
                         "usage: bench_engine [--units 1000,10000,100000] [--runs 3] [--mode batch|per-command|both] "
                         "[--dir DIR]\n");
            return 2;
        }
    }
    std::filesystem::create_directories(directory);
    std::vector<std::string> modes;
    if (mode == "both" || mode == "batch")
        modes.push_back("batch");
    if (mode == "both" || mode == "per-command")
        modes.push_back("per-command");

    std::printf("%-12s %8s %10s %10s %12s %12s %12s %10s %9s %9s\n", "mode", "units", "commands", "events",
                "commands/s", "events/s", "raw rows/s", "ratio", "peak MiB", "s (wall)");
    for (const std::size_t units : sizes) {
        for (const auto& mode_name : modes) {
            const bool batch = mode_name == "batch";
            std::vector<double> commands_per_second, events_per_second, raw_rate, ratio, peak, wall;
            std::int64_t commands = 0, events = 0;
            for (int run = 0; run < runs; ++run) {
                const std::string text = InChild([&] {
                    const RunResult result = RunCampaign(directory, units, batch);
                    // Raw rows of the same size as this run's events, measured right after it.
                    const RawRates raw =
                        MeasureRaw(directory, 20'000, 200'000,
                                   static_cast<std::size_t>(std::max(0.0, result.avg_event_bytes - 90)),
                                   static_cast<std::size_t>(std::max<std::int64_t>(1, result.instances)));
                    std::ostringstream out;
                    out << result.commands << ' ' << result.events << ' ' << result.engine_seconds << ' '
                        << result.total_seconds << ' ' << result.peak_rss_kib << ' ' << raw.per_transaction << ' '
                        << raw.batched << ' ' << result.completed << ' ' << result.instances;
                    return out.str();
                });
                std::istringstream in(text);
                double engine_seconds = 0, total_seconds = 0, raw_single = 0, raw_batched = 0;
                long rss = 0;
                std::int64_t completed = 0, instances = 0;
                in >> commands >> events >> engine_seconds >> total_seconds >> rss >> raw_single >> raw_batched >>
                    completed >> instances;
                if (completed != instances) {
                    std::fprintf(stderr, "only %lld of %lld instances completed\n", static_cast<long long>(completed),
                                 static_cast<long long>(instances));
                    return 1;
                }
                commands_per_second.push_back(static_cast<double>(commands) / engine_seconds);
                events_per_second.push_back(static_cast<double>(events) / engine_seconds);
                // Batch mode is compared by rows written (events) with batched raw inserts;
                // per-command mode by commands with one-row transactions.
                raw_rate.push_back(batch ? raw_batched : raw_single);
                ratio.push_back(batch ? events_per_second.back() / raw_batched
                                      : commands_per_second.back() / raw_single);
                peak.push_back(static_cast<double>(rss) / 1024.0);
                wall.push_back(total_seconds);
            }
            std::printf("%-12s %8zu %10lld %10lld %12.0f %12.0f %12.0f %9.0f%% %9.0f %9.1f\n", mode_name.c_str(), units,
                        static_cast<long long>(commands), static_cast<long long>(events), Median(commands_per_second),
                        Median(events_per_second), Median(raw_rate), Median(ratio) * 100, Median(peak), Median(wall));
            std::fflush(stdout);
        }
    }
    std::filesystem::remove_all(directory);
    return 0;
}
