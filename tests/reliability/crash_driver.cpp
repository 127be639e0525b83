// A long, deterministic, scripted campaign of the drill workflow that can be
// killed at any instant and started again: the subject of the crash test.
//
//   cascade_crash_driver DB_PATH ACK_PATH WORK_DIR [--units N]
//
// Every run opens the same database, imports the same generated roster,
// registers the same workflow and walks the days 2023-09-01 .. 2023-11-30 at
// 09:00 local time: fire due timers, deliver due effects, then issue that
// day's scripted commands for each township. A restarted run resumes where
// the last committed transaction left the database (see ResumePoint), so an
// interrupted campaign ends in exactly the state of an uninterrupted one.
//
// Every command carries an idempotency key unique to (township, command
// number): a command that committed before the kill is answered from its
// record when re-issued, not applied twice. After each command that was
// really applied, its key is appended to ACK_PATH, so the test knows which
// commits the driver saw. Deliveries are appended to WORK_DIR/deliveries.log
// (one JSON line each, flushed before the delivery is marked: at least once).
//
// Exit status: 0 done; 1 usage or setup error; 2 the script diverged (a
// command meant to succeed was refused, or one meant to fail succeeded).
#include "cascade/engine/clock.hpp"
#include "cascade/lang/roster_loader.hpp"
#include "cascade/runtime/builtin_plugins.hpp"
#include "cascade/runtime/runtime.hpp"
#include "cascade/store/store.hpp"

#include <boost/json.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace cascade;
namespace fs = std::filesystem;
namespace json = boost::json;

constexpr int kOffset = 480;  // +08:00
const model::Date kFirstDay = model::Date::FromCivil(2023, 9, 1);
const model::Date kLastDay = model::Date::FromCivil(2023, 11, 30);

std::string TownshipId(int index) {
    char id[16];
    std::snprintf(id, sizeof id, "tw%02d", index + 1);
    return id;
}

// The county holds `office` (the reviewer) and `leader` (escalations go there).
std::string RosterYaml(int townships) {
    std::ostringstream out;
    out << "kind: Roster\nid: crash-county\nunits:\n"
        << "  - id: county\n    name: 演练县\n    category: county\n"
        << "    leader: {name: 县委书记, contact: county@example.gov.cn}\n"
        << "    office: {name: 县主题教育办, contact: office@example.gov.cn}\n";
    for (int i = 0; i < townships; ++i) {
        const std::string id = TownshipId(i);
        out << "  - id: " << id << "\n    parent: county\n    name: 第" << i + 1 << "镇\n    category: township\n"
            << "    leader: {name: " << id << "镇长, contact: " << id << "@example.gov.cn}\n"
            << "    secretary: " << id << "书记\n"
            << "    office: " << id << "干事\n";
    }
    return out.str();
}

// ---------------------------------------------------------------- the script

struct Planned {
    int day = 0;  // days after 2023-09-01
    runtime::CommandRequest request;
    bool must_fail = false;  // refused in every state the instance can be in (a gate that never holds)
};

engine::Actor As(const std::string& text) {
    return *engine::Actor::Parse(text);
}

const json::object kGoodReading{{"sessions", 2}, {"days", 7}, {"evidence", json::array{"plan.pdf"}}};
const json::object kBadReading{{"sessions", 1}, {"days", 7}, {"evidence", json::array{"plan.pdf"}}};

// One township's commands, in order, each on its day. The plan follows the
// instance exactly (it knows where the workflow will be), so every command
// meant to succeed does, whatever happened before a crash. The only refusals
// are submissions whose gate can never hold: refused in any state, they leave
// no trace and re-issuing them after a restart changes nothing. A command that
// is refused only because the instance is not there yet would be a trap: after
// a restart it could run against a later state and succeed.
std::vector<Planned> PlanFor(int index) {
    const std::string unit = TownshipId(index);
    const std::string instance = "drill/" + unit;
    const std::string leader = "leader@" + unit;
    std::vector<Planned> plan;
    const auto add = [&](int day, const std::string& actor, engine::Command command, bool must_fail = false) {
        Planned planned;
        planned.day = day;
        planned.request.instance = instance;
        planned.request.actor = As(actor);
        planned.request.command = std::move(command);
        planned.request.idempotency_key = unit + "/" + std::to_string(plan.size() + 1);
        planned.must_fail = must_fail;
        plan.push_back(std::move(planned));
    };
    const auto day_of = [](int offset) { return kFirstDay.AddDays(offset); };

    // Some townships hand in after the due date (2023-09-15): reminders, the
    // overdue mark and the escalation to the county's leader fire for them.
    const bool late_reading = index % 7 == 6;
    const bool late_fix = index % 8 == 3;
    int day = 2 + index % 12 + (late_reading ? 18 : 0);
    if (index % 5 == 0) {
        add(day, leader, engine::Submit{"reading", kBadReading}, true);
    }
    add(day, leader, engine::Submit{"reading", kGoodReading});
    ++day;
    if (index % 3 == 0) {
        add(day, "office@county", engine::Review{"reading", false, "佐证材料不完整"});
        ++day;
        add(day, leader, engine::Submit{"reading", kGoodReading});
        ++day;
    }
    add(day, "office@county", engine::Review{"reading", true, ""});
    ++day;
    if (index % 2 == 0) {
        add(day, leader, engine::AddProblem{"台账不全", unit + "镇长", day_of(day + 20), false});
    }
    if (index % 4 == 0) {
        // Not satisfied: back to reading once (回炉). Its due date is the fixed 2023-09-15, so a late
        // township comes back to a step overdue already: the command sets timers due at once, which
        // fire the next morning (the case a restart must not fire early, see FindResumePoint).
        add(day, "secretary@" + unit, engine::Submit{"verify", {{"satisfied", false}}});
        ++day;
        add(day, leader, engine::Submit{"reading", kGoodReading});
        ++day;
        add(day, "office@county", engine::Review{"reading", true, ""});
        ++day;
    }
    add(day, "secretary@" + unit, engine::Submit{"verify", {{"satisfied", true}}});
    ++day;
    // fix and export are open now; export is delivered with the next day's effects.
    if (index % 2 == 0) {
        add(day, leader, engine::CloseProblem{"P1", "补齐台账"});
    }
    if (index % 6 == 0) {
        add(day, leader, engine::AddProblem{"窗口排长队", unit + "镇长", std::nullopt, true});
        add(day, leader, engine::CloseProblem{"P2", "增设窗口"});
    }
    day += late_fix ? 10 : index % 3;  // fix is due 5 working days after it opens
    add(day, leader, engine::Submit{"fix", {{"note", "已整改"}}});
    return plan;
}

// ---------------------------------------------------------------- running

struct Arguments {
    std::string db;
    std::string ack;
    fs::path work;
    int townships = 40;
};

std::optional<Arguments> Parse(int argc, char** argv) {
    std::vector<std::string> positional;
    Arguments arguments;
    for (int i = 1; i < argc; ++i) {
        const std::string argument = argv[i];
        if (argument == "--units" && i + 1 < argc) {
            arguments.townships = std::atoi(argv[++i]);
        } else {
            positional.push_back(argument);
        }
    }
    if (positional.size() != 3 || arguments.townships < 1 || arguments.townships > 99) {
        return std::nullopt;
    }
    // Absolute: the driver works inside WORK_DIR so that the workflow's path, and with it the pinned
    // bundle key, is the same for every run and every folder.
    arguments.db = fs::absolute(positional[0]).string();
    arguments.ack = fs::absolute(positional[1]).string();
    arguments.work = fs::absolute(positional[2]);
    return arguments;
}

engine::Timestamp NineOClock(int day) {
    return engine::StartOfDay(kFirstDay.AddDays(day), kOffset) + 9 * 3'600'000LL;
}

// Where to pick up after a crash: the day of the newest event (the clock never
// goes back past it), and whether that day's commands had begun. Days between
// the newest event and the crash wrote nothing that running them again would
// repeat: fired timers are gone from the timer table, delivered effects are no
// longer pending, and commands with a record are answered from it. Once a
// day's commands have begun, its timers must not be fired again: a command
// can open a step whose deadline has passed, and that timer belongs to the
// next morning.
struct ResumePoint {
    int day = 0;
    bool commands_begun = false;
};

ResumePoint FindResumePoint(store::Store& store, const std::vector<std::vector<Planned>>& plans) {
    ResumePoint point;
    auto newest = store.Db().Prepare("SELECT max(at) FROM events");
    if (!newest.Step() || newest.IsNull(0)) {
        return point;
    }
    point.day = engine::LocalDate(newest.Int64(0), kOffset) - kFirstDay;
    for (const auto& plan : plans) {
        for (const auto& planned : plan) {
            if (planned.day == point.day && store.FindCommand(planned.request.idempotency_key)) {
                point.commands_begun = true;
            }
        }
    }
    return point;
}

int Run(const Arguments& arguments) {
    const auto began = std::chrono::steady_clock::now();
    fs::create_directories(arguments.work);
    fs::current_path(arguments.work);
    // Written on every run, with the same bytes: a restart must find what the first run pinned.
    std::ofstream("roster.yaml", std::ios::binary) << RosterYaml(arguments.townships);
    fs::copy_file(fs::path(CASCADE_SOURCE_DIR) / "tests/data/engine/drill.yaml", "drill.yaml",
                  fs::copy_options::overwrite_existing);

    store::Store store = store::Store::Open(arguments.db);
    engine::VirtualClock clock(NineOClock(0));
    runtime::RuntimeOptions options;
    options.utc_offset_minutes = kOffset;
    runtime::Runtime runtime(store, clock, options);

    auto roster = lang::LoadRosterFile("roster.yaml");
    if (!roster.Ok()) {
        std::cerr << "crash_driver: the generated roster does not load: "
                  << lang::FormatText(roster.diagnostics.Items().front()) << "\n";
        return 1;
    }
    if (const auto refused = runtime.ImportUnits(*roster.units)) {
        std::cerr << "crash_driver: " << *refused << "\n";
        return 1;
    }
    auto registered = runtime.Register("drill.yaml");
    if (auto* diagnostics = std::get_if<lang::Diagnostics>(&registered)) {
        std::cerr << "crash_driver: drill.yaml: " << lang::FormatText(diagnostics->Items().front()) << "\n";
        return 1;
    }
    if (store.Campaigns().empty()) {
        const auto started = runtime.StartCampaign(std::get<runtime::Workflow>(registered), {});
        if (started.error) {
            std::cerr << "crash_driver: start: " << started.error->message << "\n";
            return 1;
        }
    }

    std::vector<std::vector<Planned>> plans;
    for (int i = 0; i < arguments.townships; ++i) {
        plans.push_back(PlanFor(i));
    }
    const ResumePoint resume = FindResumePoint(store, plans);

    std::ofstream acks(arguments.ack, std::ios::app);
    std::ofstream log("deliveries.log", std::ios::app);
    runtime::BuiltinDeliverer builtin(runtime, log);
    // Each line reaches the file before the effect is marked delivered, so a
    // kill between the two leaves a duplicate line, never a missing one.
    const runtime::Deliverer deliver = [&](const store::OutboxRow& effect) {
        runtime::Delivery delivery = builtin(effect);
        if (effect.kind == "action" && delivery.status == runtime::Delivery::Status::ok) {
            log << json::serialize(json::object{{"key", effect.key}, {"kind", "action"}}) << '\n';
        }
        log.flush();
        return delivery;
    };

    const auto ready_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - began).count();
    std::cout << "ready " << ready_ms << " ms, resuming on day " << resume.day
              << (resume.commands_begun ? " (its commands had begun)" : "") << std::endl;

    const int last_day = kLastDay - kFirstDay;
    for (int day = resume.day; day <= last_day; ++day) {
        clock.Set(NineOClock(day));
        if (day != resume.day || !resume.commands_begun) {
            runtime.FireDueTimers();
            runtime.DeliverDueEffects(deliver);
        }
        for (const auto& plan : plans) {
            for (const auto& planned : plan) {
                if (planned.day != day) {
                    continue;
                }
                const runtime::CommandOutcome outcome = runtime.Execute(planned.request);
                if (outcome.Ok() && planned.must_fail) {
                    std::cerr << "crash_driver: " << planned.request.idempotency_key
                              << " was meant to be refused but was applied\n";
                    return 2;
                }
                if (!outcome.Ok() && !planned.must_fail) {
                    std::cerr << "crash_driver: " << planned.request.idempotency_key << " ("
                              << engine::CommandName(planned.request.command) << " on "
                              << kFirstDay.AddDays(day).ToString() << ") was refused: " << outcome.error->message
                              << " [" << outcome.error->code << "]\n";
                    return 2;
                }
                if (outcome.Ok() && !outcome.replayed) {
                    acks << planned.request.idempotency_key << '\n' << std::flush;
                }
            }
        }
    }
    std::cout << "done" << std::endl;
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const auto arguments = Parse(argc, argv);
    if (!arguments) {
        std::cerr << "usage: cascade_crash_driver DB_PATH ACK_PATH WORK_DIR [--units N (1-99, default 40)]\n";
        return 1;
    }
    try {
        return Run(*arguments);
    } catch (const std::exception& failure) {
        std::cerr << "crash_driver: " << failure.what() << "\n";
        return 1;
    }
}
