// The campaign commands of `cascade`: argument parsing, output and exit
// codes around runtime::Runtime. Nothing here decides what happens to an
// instance; it turns flags into commands and outcomes into text.
#include "campaign_commands.hpp"

#include "cascade/engine/forms.hpp"
#include "cascade/lang/roster_loader.hpp"
#include "cascade/runtime/builtin_plugins.hpp"
#include "cascade/runtime/plugin_dispatch.hpp"
#include "cascade/runtime/report_data.hpp"
#include "cascade/runtime/runtime.hpp"
#include "cascade/runtime/simulation.hpp"
#include "cascade/store/store.hpp"

#include <unistd.h>
#include <boost/asio.hpp>
#include <boost/json.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

namespace cascade::cli {

namespace json = boost::json;

struct CampaignCommands::Options {
    std::vector<CLI::App*> commands;

    // shared
    std::string db = "cascade.db";
    std::string actor;
    std::string format = "text";
    std::string utc_offset;

    // units import
    CLI::App* units = nullptr;
    CLI::App* units_import = nullptr;
    std::string roster;
    std::vector<std::string> categories;

    // start
    CLI::App* start = nullptr;
    std::string workflow;
    std::string scope;
    std::string campaign;
    std::vector<std::string> inputs;

    // advance / review
    CLI::App* advance = nullptr;
    CLI::App* review = nullptr;
    std::string instance;
    std::string step;
    std::string data_file;
    std::vector<std::string> assignments;
    std::optional<std::int64_t> expect_version;
    std::string key;
    bool approve = false;
    std::string return_reason;

    // problems
    CLI::App* problems = nullptr;
    CLI::App* problems_add = nullptr;
    CLI::App* problems_close = nullptr;
    CLI::App* problems_list = nullptr;
    std::string title;
    std::string owner;
    std::string due;
    bool immediate = false;
    std::string problem_id;
    std::string note;

    // status / history / audit
    CLI::App* status = nullptr;
    std::string unit_filter;
    bool overdue_only = false;
    bool all_instances = false;
    CLI::App* history = nullptr;
    CLI::App* audit = nullptr;
    CLI::App* audit_verify = nullptr;

    // admin
    CLI::App* admin = nullptr;
    CLI::App* admin_rebuild = nullptr;
    CLI::App* admin_reset = nullptr;
    CLI::App* admin_retry = nullptr;
    CLI::App* admin_redeliver = nullptr;
    std::string reset_to;
    std::string reason;
    bool force = false;
    std::int64_t effect_id = 0;

    // migrate
    CLI::App* migrate = nullptr;

    // run
    CLI::App* run = nullptr;
    bool once = false;
    std::string log_file;
    int max_attempts = 8;

    // report
    CLI::App* report = nullptr;
    std::string report_plugin;
    std::string report_out;
    std::string report_locale;
    std::string report_config;
    std::string backoff = "30s";
    PluginSettings* plugin_settings = nullptr;

    // simulate
    CLI::App* simulate = nullptr;
    runtime::SimulationOptions simulation;
    std::string until;
    std::string simulate_db;
    std::size_t list_limit = 30;
};

namespace {

// Terminal progress on stderr: "\r  starting  120/364", only on a terminal.
class ProgressLine {
public:
    ProgressLine(std::ostream& err, std::string label)
        : err_(err), label_(std::move(label)), enabled_(::isatty(STDERR_FILENO) == 1) {}
    ~ProgressLine() {
        if (shown_)
            err_ << "\r\033[K" << std::flush;
    }
    runtime::Progress Callback() {
        return [this](std::int64_t done, std::int64_t total) {
            if (!enabled_)
                return;
            const auto now = std::chrono::steady_clock::now();
            if (done != total && now - last_ < std::chrono::milliseconds(100))
                return;
            last_ = now;
            shown_ = true;
            err_ << "\r  " << label_ << "  " << done << "/" << total << std::flush;
        };
    }

private:
    std::ostream& err_;
    std::string label_;
    bool enabled_;
    bool shown_ = false;
    std::chrono::steady_clock::time_point last_{};
};

// "+08:00", "-05:30", "+8" -> minutes east of UTC.
std::optional<int> ParseUtcOffset(const std::string& text) {
    if (text.empty() || (text[0] != '+' && text[0] != '-'))
        return std::nullopt;
    const int sign = text[0] == '-' ? -1 : 1;
    int hours = 0;
    int minutes = 0;
    char colon = 0;
    std::istringstream in(text.substr(1));
    if (!(in >> hours))
        return std::nullopt;
    if (in >> colon) {
        if (colon != ':' || !(in >> minutes))
            return std::nullopt;
    }
    if (hours > 14 || minutes >= 60)
        return std::nullopt;
    return sign * (hours * 60 + minutes);
}

// CASCADE_NOW ("2023-10-09" or "2023-10-09T08:30[:00]", local time of the
// campaign) fixes the clock: for trying a campaign at a date and for tests.
std::optional<engine::Timestamp> FixedNow(int utc_offset_minutes, std::string& error) {
    const char* text = std::getenv("CASCADE_NOW");
    if (text == nullptr || *text == 0)
        return std::nullopt;
    const std::string value(text);
    const auto date = model::Date::Parse(value.substr(0, 10));
    int hour = 0, minute = 0, second = 0;
    if (date && value.size() > 10) {
        if (std::sscanf(value.c_str() + 10, "T%d:%d:%d", &hour, &minute, &second) < 2 || hour > 23 || minute > 59 ||
            second > 59) {
            error = "CASCADE_NOW='" + value + "' is not a date or a date and time (2023-10-09T08:30)";
            return std::nullopt;
        }
    }
    if (!date) {
        error = "CASCADE_NOW='" + value + "' is not a date or a date and time (2023-10-09T08:30)";
        return std::nullopt;
    }
    return engine::StartOfDay(*date, utc_offset_minutes) + ((hour * 60 + minute) * 60 + second) * 1000LL;
}

// A database, a clock and a runtime, opened together for one command.
struct Session {
    store::Store store;
    engine::SystemClock system_clock;
    engine::VirtualClock fixed_clock;
    bool fixed = false;
    std::unique_ptr<runtime::Runtime> runtime;

    explicit Session(store::Store opened) : store(std::move(opened)) {}
    const engine::Clock& Clock() const {
        if (fixed)
            return fixed_clock;
        return system_clock;
    }
};

class Failure : public std::runtime_error {
public:
    Failure(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
    int Code() const { return code_; }

private:
    int code_;
};

std::unique_ptr<Session> OpenSession(const std::string& path, const std::string& utc_offset, bool must_exist,
                                     const runtime::RuntimeOptions& base = {}) {
    if (must_exist && path != ":memory:" && ::access(path.c_str(), F_OK) != 0) {
        throw Failure(kExitInvalid, "no database at '" + path + "'; start a campaign with `cascade start` first");
    }
    std::unique_ptr<Session> session;
    try {
        session = std::make_unique<Session>(store::Store::Open(path));
    } catch (const store::SchemaTooNewError& error) {
        throw Failure(kExitStorage, error.what());
    } catch (const store::SqliteError& error) {
        throw Failure(kExitStorage, error.what());  // names the path already
    }
    int offset = engine::SystemUtcOffsetMinutes();
    const auto campaigns = session->store.Campaigns();
    if (!campaigns.empty()) {
        offset = campaigns.front().utc_offset_minutes;  // a campaign keeps the offset it started with
        if (!utc_offset.empty() && !ParseUtcOffset(utc_offset)) {
            throw Failure(kExitUsage, "--utc-offset '" + utc_offset + "' is not like +08:00");
        }
        if (!utc_offset.empty() && ParseUtcOffset(utc_offset) != offset) {
            throw Failure(kExitUsage, "--utc-offset " + utc_offset +
                                          " differs from the local time of the campaigns "
                                          "in '" +
                                          path + "' (" + std::to_string(offset) +
                                          " minutes east of UTC); one database keeps one local time");
        }
    } else if (!utc_offset.empty()) {
        const auto parsed = ParseUtcOffset(utc_offset);
        if (!parsed)
            throw Failure(kExitUsage, "--utc-offset '" + utc_offset + "' is not like +08:00");
        offset = *parsed;
    }
    std::string error;
    if (const auto now = FixedNow(offset, error)) {
        session->fixed = true;
        session->fixed_clock.Set(*now);
    } else if (!error.empty()) {
        throw Failure(kExitUsage, error);
    }
    runtime::RuntimeOptions options = base;
    options.utc_offset_minutes = offset;
    session->runtime = std::make_unique<runtime::Runtime>(session->store, session->Clock(), options);
    return session;
}

void PrintDiagnostics(const lang::Diagnostics& diagnostics, std::ostream& err) {
    for (const auto& diagnostic : diagnostics.Items()) {
        err << lang::FormatText(diagnostic) << "\n";
    }
}

int PrintRefusal(const std::string& command, const engine::CommandError& error, std::ostream& err) {
    err << "cascade " << command << ": error: " << error.message << " [" << error.code << "]\n";
    for (const auto& detail : error.details) {
        err << "  - " << detail << "\n";
    }
    if (error.code == "conflict")
        return kExitConflict;
    err << "nothing was written\n";
    return kExitInvalid;
}

engine::Actor ParseActor(const std::string& text) {
    const auto actor = engine::Actor::Parse(text);
    if (!actor) {
        throw Failure(kExitUsage, "--as '" + text +
                                      "' is not ROLE@UNIT (for example leader@tw01, admin@anlan, or "
                                      "leader@tw01:张三 to name the person)");
    }
    return *actor;
}

// Column width on a terminal: CJK characters take two cells.
std::size_t DisplayWidth(std::string_view text) {
    std::size_t width = 0;
    for (std::size_t i = 0; i < text.size();) {
        const auto lead = static_cast<unsigned char>(text[i]);
        const std::size_t length = lead < 0x80 ? 1 : (lead >> 5) == 6 ? 2 : (lead >> 4) == 14 ? 3 : 4;
        width += length >= 3 ? 2 : 1;
        i += length;
    }
    return width;
}

std::string Pad(const std::string& text, std::size_t width) {
    const std::size_t shown = DisplayWidth(text);
    return shown >= width ? text : text + std::string(width - shown, ' ');
}

void PrintTable(const std::vector<std::vector<std::string>>& rows, std::ostream& out) {
    std::vector<std::size_t> widths;
    for (const auto& row : rows) {
        widths.resize(std::max(widths.size(), row.size()));
        for (std::size_t i = 0; i < row.size(); ++i)
            widths[i] = std::max(widths[i], DisplayWidth(row[i]));
    }
    for (const auto& row : rows) {
        std::string line;
        for (std::size_t i = 0; i < row.size(); ++i) {
            line += i + 1 == row.size() ? row[i] : Pad(row[i], widths[i]) + "  ";
        }
        while (!line.empty() && line.back() == ' ')
            line.pop_back();
        out << line << "\n";
    }
}

std::string Percent(int done, int total) {
    if (total == 0)
        return "-";
    return std::to_string(done * 100 / total) + "%";
}

json::object ReadPayload(const std::string& data_file, const std::vector<std::string>& assignments,
                         const model::Step& step) {
    json::object payload;
    if (!data_file.empty()) {
        std::ifstream file(data_file, std::ios::binary);
        if (!file)
            throw Failure(kExitInvalid, "cannot read --data file '" + data_file + "'");
        std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
        if (text.size() > engine::FormLimits{}.max_payload_bytes) {
            throw Failure(kExitInvalid, "--data file '" + data_file + "' is larger than the 1 MiB limit for a form");
        }
        boost::system::error_code error;
        json::value value = json::parse(text, error);
        if (error) {
            throw Failure(kExitInvalid, "--data file '" + data_file + "' is not JSON: " + error.message());
        }
        if (!value.is_object()) {
            throw Failure(kExitInvalid, "--data file '" + data_file + "' must hold a JSON object of field values");
        }
        payload = value.as_object();
    }
    if (!assignments.empty()) {
        auto parsed = engine::ParseAssignments(assignments, step.form);
        if (auto* errors = std::get_if<std::vector<engine::FieldError>>(&parsed)) {
            std::string message = "--set has " + std::to_string(errors->size()) + " error(s):";
            for (const auto& error : *errors)
                message += "\n  - " + error.path + ": " + error.message;
            throw Failure(kExitInvalid, message);
        }
        for (auto& [field, value] : std::get<json::object>(parsed))
            payload[field] = value;
    }
    return payload;
}

int Conclude(const std::string& command, const runtime::CommandOutcome& outcome, std::ostream& out, std::ostream& err) {
    if (outcome.error)
        return PrintRefusal(command, *outcome.error, err);
    if (outcome.replayed) {
        out << "already done (idempotency key seen before); nothing written. version " << outcome.version << "\n";
        return kExitOk;
    }
    std::string events;
    for (const auto& event : outcome.events)
        events += (events.empty() ? "" : ", ") + event;
    out << "ok: " << events << " (version " << outcome.version << ")\n";
    return kExitOk;
}

}  // namespace

CampaignCommands::CampaignCommands(CLI::App& app, PluginSettings& plugin_settings)
    : options_(std::make_unique<Options>()) {
    Options& o = *options_;
    o.plugin_settings = &plugin_settings;
    const auto add_db = [&o](CLI::App* command) {
        command->add_option("--db", o.db, "The campaign database (SQLite)")->capture_default_str();
    };
    const std::string exit_codes =
        "Exit status: 0 success, 1 invalid input or refused (nothing written), 2 usage error, 3 conflict (the "
        "instance changed meanwhile; look again and retry), 4 database error.\n"
        "Time: the system clock; set CASCADE_NOW=2023-10-09T09:00 to act as of another local time.";

    // units import
    o.units = app.add_subcommand("units", "Manage the unit roster of a database");
    o.units->require_subcommand(1);
    o.units_import = o.units->add_subcommand(
        "import",
        "Load a unit roster (CSV or YAML) into the database, replacing the one there.\n\n"
        "Every problem is reported with its row and column: unknown parents, cycles, duplicate ids, unknown "
        "categories (with --categories), bad counts. Nothing is imported when there is an error. Units that take "
        "part in a campaign cannot be removed.");
    o.units_import->add_option("roster", o.roster, "Roster file (.csv, .yaml)")->required();
    o.units_import->add_option("--categories", o.categories, "The categories a unit may have (comma-separated)")
        ->delimiter(',');
    add_db(o.units_import);
    o.units_import->footer("Example:\n  cascade units import workflows/data/county-roster.csv --db county.db\n\n" +
                           exit_codes);

    // start
    o.start = app.add_subcommand(
        "start",
        "Start a campaign: one instance of WORKFLOW for every unit in scope.\n\n"
        "The scope is the subtree under --scope (default: the roster's root), filtered to the categories the "
        "workflow lists under scope.categories. A unit reached through a subflow step of a unit above it is "
        "started by that step, not twice. The workflow and every file it uses are pinned in the database: "
        "editing them later does not change running instances (see `cascade migrate`).");
    o.start->add_option("workflow", o.workflow, "Workflow file")->required();
    o.start->add_option("--units", o.roster, "Roster to import first (CSV or YAML); else the database's roster");
    o.start->add_option("--scope", o.scope, "Id of the unit whose subtree takes part");
    o.start->add_option("--campaign", o.campaign, "Campaign id (default: the workflow id)");
    o.start->add_option("--input", o.inputs, "A workflow input, NAME=VALUE (repeatable)");
    o.start->add_option("--utc-offset", o.utc_offset,
                        "Local time of the campaign, e.g. +08:00 (default: this machine's)");
    add_db(o.start);
    o.start->footer(
        "Example:\n  cascade start workflows/theme-education.yaml --units workflows/data/county-roster.csv "
        "--db county.db\n\n" +
        exit_codes);

    // advance
    o.advance = app.add_subcommand(
        "advance",
        "Complete a task step of an instance (or hand it in, when the step is reviewed).\n\n"
        "The form is checked field by field (every error listed) and the step's gate must hold; when it does not, "
        "the failing part of the gate and the values it saw are shown. Only the assigned role of the unit, or an "
        "administrator of a unit above it (admin@UNIT), may do this.");
    o.advance->add_option("instance", o.instance, "Instance id (campaign/unit, see `cascade status`)")->required();
    o.advance->add_option("step", o.step, "Step id")->required();
    o.advance->add_option("--as", o.actor, "Who acts: ROLE@UNIT, e.g. leader@tw01")->required();
    o.advance->add_option("--data", o.data_file, "JSON file with the form's field values");
    o.advance->add_option("--set", o.assignments, "FIELD=VALUE (repeatable; lists as a;b;c)");
    o.advance->add_option("--expect-version", o.expect_version,
                          "Refuse (exit 3) if the instance is no longer at this version");
    o.advance->add_option("--key", o.key, "Idempotency key: a retry with the same key is not applied twice");
    add_db(o.advance);
    o.advance->footer(
        "Example:\n  cascade advance theme-education-2023/ld01 reading_class --as leader@ld01 --set sessions=2 --set "
        "total_days=7 --set 'seminar_topics=专题一;专题二' --set evidence=日程.pdf --db county.db\n\n" +
        exit_codes);

    // review
    o.review = app.add_subcommand(
        "review",
        "Approve or return a handed-in task. Returning needs a reason; the unit corrects and hands in again. A "
        "review allows at most max_rounds returns; after that the submission can only be approved.");
    o.review->add_option("instance", o.instance, "Instance id")->required();
    o.review->add_option("step", o.step, "Step id")->required();
    o.review->add_option("--as", o.actor, "The reviewer: ROLE@UNIT, e.g. leader@anlan")->required();
    auto* approve = o.review->add_flag("--approve", o.approve, "Approve: the step completes");
    auto* give_back = o.review->add_option("--return", o.return_reason, "Return it with this reason");
    approve->excludes(give_back);
    o.review->add_option("--expect-version", o.expect_version, "Refuse (exit 3) if the instance moved on");
    o.review->add_option("--key", o.key, "Idempotency key");
    add_db(o.review);
    o.review->footer(
        "Example:\n  cascade review theme-education-2023/tw01 problem_list --as office@anlan --return "
        "'问题要具体到事、到人'\n\n" +
        exit_codes);

    // problems
    o.problems = app.add_subcommand("problems", "A unit's problem list (问题清单): add, sign off, list");
    o.problems->require_subcommand(1);
    o.problems_add = o.problems->add_subcommand("add", "Add a problem to the unit's list");
    o.problems_add->add_option("instance", o.instance, "Instance id")->required();
    o.problems_add->add_option("--title", o.title, "What the problem is")->required();
    o.problems_add->add_option("--owner", o.owner, "Who is responsible for fixing it");
    o.problems_add->add_option("--due", o.due, "Fix by this date (YYYY-MM-DD)");
    o.problems_add->add_flag("--immediate", o.immediate, "Fixed at once (立行立改) rather than by a dated plan");
    o.problems_add->add_option("--as", o.actor, "Who acts: a role of the unit, or admin@UNIT above")->required();
    o.problems_add->add_option("--key", o.key, "Idempotency key");
    add_db(o.problems_add);
    o.problems_close = o.problems->add_subcommand("close", "Sign a problem off as fixed (销号)");
    o.problems_close->add_option("instance", o.instance, "Instance id")->required();
    o.problems_close->add_option("id", o.problem_id, "Problem id (P1, P2 ...)")->required();
    o.problems_close->add_option("--note", o.note, "How it was fixed");
    o.problems_close->add_option("--as", o.actor, "Who acts")->required();
    o.problems_close->add_option("--key", o.key, "Idempotency key");
    add_db(o.problems_close);
    o.problems_list = o.problems->add_subcommand("list", "List problems, open ones first");
    o.problems_list->add_option("instance", o.instance, "Instance id (default: all)");
    add_db(o.problems_list);

    // status
    o.status = app.add_subcommand(
        "status",
        "Where the campaign stands: a table of units × stages with the share of each unit's applicable steps done, "
        "open and overdue steps, problem counts, a roll-up per category and for the whole campaign, and effects "
        "that could not be delivered (dead letters).");
    o.status->add_option("--unit", o.unit_filter, "Only this unit and the units below it");
    o.status->add_flag("--overdue", o.overdue_only, "Only units with overdue steps");
    o.status->add_flag("--all", o.all_instances, "Include the instances subflows started (party branches ...)");
    o.status->add_option("--campaign", o.campaign, "Only this campaign");
    o.status->add_option("--format", o.format, "text or json")->check(CLI::IsMember({"text", "json"}));
    add_db(o.status);

    // history
    o.history = app.add_subcommand("history", "Every event of an instance, in order, with who and when");
    o.history->add_option("instance", o.instance, "Instance id")->required();
    o.history->add_option("--format", o.format, "text or json")->check(CLI::IsMember({"text", "json"}));
    add_db(o.history);

    // audit verify
    o.audit = app.add_subcommand("audit", "Check the integrity of the event log");
    o.audit->require_subcommand(1);
    o.audit_verify = o.audit->add_subcommand(
        "verify",
        "Walk the hash chain of the event log and name the first row that was altered, deleted or inserted out of "
        "order. Exit 0 when intact, 1 when not.");
    add_db(o.audit_verify);

    // admin
    o.admin = app.add_subcommand("admin", "Repairs: rebuild projections, move an instance back, retry, redeliver");
    o.admin->require_subcommand(1);
    o.admin_rebuild = o.admin->add_subcommand(
        "rebuild", "Rebuild every projection (steps, timers, problem lists, instance versions) from the event log");
    o.admin_rebuild->add_flag("--force", o.force, "Rebuild even when the log fails its audit");
    add_db(o.admin_rebuild);
    o.admin_reset = o.admin->add_subcommand(
        "reset", "Move an instance back to a step it has been at; recorded in its history with the reason");
    o.admin_reset->add_option("instance", o.instance, "Instance id")->required();
    o.admin_reset->add_option("--to", o.reset_to, "Step to go back to")->required();
    o.admin_reset->add_option("--reason", o.reason, "Why (kept in the history)")->required();
    o.admin_reset->add_option("--as", o.actor, "admin@UNIT of a unit above the instance's unit")->required();
    add_db(o.admin_reset);
    o.admin_retry = o.admin->add_subcommand("retry", "Run a failed action step again");
    o.admin_retry->add_option("instance", o.instance, "Instance id")->required();
    o.admin_retry->add_option("step", o.step, "The failed action step")->required();
    o.admin_retry->add_option("--reason", o.reason, "Why (kept in the history)");
    o.admin_retry->add_option("--as", o.actor, "admin@UNIT")->required();
    add_db(o.admin_retry);
    o.admin_redeliver = o.admin->add_subcommand("redeliver", "Put a dead-letter effect back in the outbox");
    o.admin_redeliver->add_option("id", o.effect_id, "Outbox id (see `cascade status`)")->required();
    add_db(o.admin_redeliver);

    // migrate
    o.migrate = app.add_subcommand(
        "migrate",
        "Move the running instances of a campaign to a new version of its workflow. Checked first: when an open "
        "step does not exist in the new version, nothing is migrated and every such instance is listed.");
    o.migrate->add_option("campaign", o.campaign, "Campaign id")->required();
    o.migrate->add_option("workflow", o.workflow, "The new version of the workflow file")->required();
    o.migrate->add_option("--as", o.actor, "admin@UNIT (recorded in each instance's history)")->required();
    add_db(o.migrate);

    // run
    o.run = app.add_subcommand(
        "run",
        "Keep the campaign going: fire reminders, overdue marks and escalations when they fall due, and deliver "
        "queued effects (retried with back-off; parked as dead letters after too many attempts). Stops cleanly "
        "on SIGINT or SIGTERM.");
    o.run->add_flag("--once", o.once, "Do what is due now and exit");
    o.run->add_option("--log", o.log_file, "Write the built-in log notifier's lines here (default: stdout)");
    o.run
        ->add_option("--max-attempts", o.max_attempts,
                     "Deliveries of an effect before it is parked as a dead letter (action steps use their own "
                     "retry policy)")
        ->check(CLI::Range(1, 1000))
        ->capture_default_str();
    o.run
        ->add_option("--backoff", o.backoff,
                     "Wait before the second attempt, doubled for each further one (500ms, 30s, 5m)")
        ->capture_default_str();
    add_db(o.run);

    // report
    o.report = app.add_subcommand(
        "report",
        "Write a report of a campaign's progress through a reporter plugin: progress of each stage by unit "
        "category, overdue steps by unit, and the problem-list burn-down.\n\n"
        "When the campaign's workflow declares the plugin under `plugins:`, that declaration's config is used "
        "(templates_dir, title, locale...); --config replaces it.");
    o.report
        ->add_option("--plugin", o.report_plugin,
                     "Reporter plugin: report-html, report-xlsx, report-csv, "
                     "report-markdown, report-json, or one of your own")
        ->required();
    o.report->add_option("--out", o.report_out, "Folder to write the report into (created if missing)")->required();
    o.report->add_option("--campaign", o.campaign, "Campaign id (default: the database's first campaign)");
    o.report->add_option("--locale", o.report_locale, "zh or en (default: the declaration's locale, else zh)")
        ->check(CLI::IsMember({"zh", "en"}));
    o.report->add_option("--config", o.report_config, "The plugin's config as JSON, or @FILE");
    add_db(o.report);
    o.report->footer(
        "Example:\n  cascade report --plugin report-html --out reports/ --db county.db\n"
        "  cascade report --plugin report-xlsx --out reports/ --locale zh\n\n"
        "Exit status: 0 written (the files are listed), 1 the plugin refused or failed, 2 usage error, 4 database "
        "error.");

    // simulate
    o.simulate = app.add_subcommand(
        "simulate",
        "Play a whole campaign on a virtual clock before launching it.\n\n"
        "Units complete their steps following a seeded model: most on time, some late, some hand in work that fails "
        "its gate or is returned by the reviewer. The report names the units that would be overdue or escalated, and "
        "when. Nothing touches a real database unless --db is given.");
    o.simulate->add_option("workflow", o.workflow, "Workflow file")->required();
    o.simulate->add_option("--units", o.roster, "Roster (CSV or YAML)")->required();
    o.simulate->add_option("--seed", o.simulation.seed, "Random seed")->capture_default_str();
    o.simulate->add_option("--until", o.until, "Last simulated day (default: the campaign's end)");
    o.simulate->add_option("--late", o.simulation.late_share, "Share of steps finished late (0 to 1)")
        ->check(CLI::Range(0.0, 1.0))
        ->capture_default_str();
    o.simulate
        ->add_option("--gate-miss", o.simulation.gate_miss_share, "Share of first submissions failing a gate (0 to 1)")
        ->check(CLI::Range(0.0, 1.0))
        ->capture_default_str();
    o.simulate->add_option("--return", o.simulation.return_share, "Share of reviewed submissions returned (0 to 1)")
        ->check(CLI::Range(0.0, 1.0))
        ->capture_default_str();
    o.simulate->add_option("--limit", o.list_limit, "Incidents listed (all are counted)")->capture_default_str();
    o.simulate->add_option("--utc-offset", o.utc_offset, "Local time, e.g. +08:00")->default_str("+08:00");
    o.simulate->add_option("--db", o.simulate_db, "Keep the simulated campaign in this database file");
    o.simulate->footer(
        "Example:\n  cascade simulate workflows/theme-education.yaml --units workflows/data/county-roster.csv "
        "--seed 7\n\n"
        "Exit status: 0 success, 1 invalid workflow or roster, 2 usage error, 4 database error. The simulation runs "
        "on its own virtual clock from the campaign's start; CASCADE_NOW does not apply.");

    o.commands = {o.units,       o.units_import, o.start,           o.advance,       o.review,
                  o.problems,    o.problems_add, o.problems_close,  o.problems_list, o.status,
                  o.history,     o.audit,        o.audit_verify,    o.admin,         o.admin_rebuild,
                  o.admin_reset, o.admin_retry,  o.admin_redeliver, o.migrate,       o.run,
                  o.simulate,    o.report};
    for (auto* command : o.commands) {
        if (command->get_footer().empty())
            command->footer(exit_codes);
    }
}

CampaignCommands::~CampaignCommands() = default;

std::vector<CLI::App*> CampaignCommands::Commands() const {
    return options_->commands;
}

namespace {

lang::RosterLoadResult LoadRoster(const std::string& path, const std::vector<std::string>& categories = {}) {
    lang::RosterOptions options;
    options.known_categories = categories;
    return lang::LoadRosterFile(path, options);
}

// Who the campaign reaches: "no unit left out" made visible. Units nothing
// reaches are listed by category (the county itself, or a typo in the roster).
void ReportCoverage(runtime::Runtime& runtime, const model::Definition& definition, const std::string& scope,
                    std::ostream& out) {
    const auto& units = runtime.Units();
    const model::Unit* root = scope.empty() ? units.Root() : units.Find(scope);
    if (root == nullptr)
        return;
    const auto coverage = runtime.CoverageOf(definition, *root);
    out << "coverage: " << coverage.top_level.size() << " units start now, " << coverage.through_subflows.size()
        << " will be reached through subflows, " << coverage.not_covered.size() << " not covered\n";
    std::vector<std::string> known;
    for (const auto& category : definition.categories)
        known.push_back(category.id);
    std::map<std::string, std::vector<std::string>> missed;
    for (const model::Unit* unit : coverage.not_covered)
        missed[unit->category].push_back(unit->id);
    for (const auto& [category, ids] : missed) {
        out << "  not covered: " << ids.size() << " unit(s) of category '" << category << "'";
        if (const std::string hint = lang::DidYouMean(category, known); !hint.empty())
            out << " (" << hint << ")";
        out << ": ";
        for (std::size_t i = 0; i < ids.size() && i < 8; ++i)
            out << (i ? ", " : "") << ids[i];
        if (ids.size() > 8)
            out << " ...";
        out << "\n";
    }
}

std::string StageTitle(const model::Definition& definition, const std::string& stage) {
    const auto* found = definition.FindStage(stage);
    return found != nullptr && !found->title.Empty() ? found->title.In("zh") : stage;
}

using Options = CampaignCommands::Options;

// "500ms", "30s", "5m", "1h" in milliseconds.
std::optional<std::int64_t> ParseSpan(const std::string& text) {
    std::size_t digits = 0;
    while (digits < text.size() && digits < 9 && std::isdigit(static_cast<unsigned char>(text[digits])) != 0)
        ++digits;
    if (digits == 0)
        return std::nullopt;
    const std::int64_t count = std::stoll(text.substr(0, digits));
    const std::string unit = text.substr(digits);
    if (unit == "ms")
        return count;
    if (unit == "s")
        return count * 1'000;
    if (unit == "m")
        return count * 60'000;
    if (unit == "h")
        return count * 3'600'000;
    return std::nullopt;
}

int Status(runtime::Runtime& runtime, const Options& o, std::ostream& out) {
    const auto report = runtime.ProgressReport(o.campaign);
    const auto& units = runtime.Units();
    const model::Unit* under = nullptr;
    if (!o.unit_filter.empty()) {
        under = units.Find(o.unit_filter);
        if (under == nullptr)
            throw Failure(kExitInvalid, "no unit '" + o.unit_filter + "' in the roster");
    }
    // Children done per parent instance: the roll-up a subflow step sees.
    std::map<std::string, std::pair<int, int>> children;
    for (const auto& progress : report) {
        if (progress.instance.parent_instance.empty())
            continue;
        auto& counts = children[progress.instance.parent_instance];
        counts.first += progress.instance.status == "completed" ? 1 : 0;
        ++counts.second;
    }
    std::vector<const runtime::InstanceProgress*> shown;
    for (const auto& progress : report) {
        if (!o.all_instances && !progress.instance.parent_instance.empty())
            continue;
        if (under != nullptr && progress.instance.unit != under->id &&
            !units.IsAncestor(under->id, progress.instance.unit)) {
            continue;
        }
        if (o.overdue_only && progress.overdue_steps.empty())
            continue;
        shown.push_back(&progress);
    }
    // Stages in the order the (first) workflow declares them.
    std::vector<std::string> stages;
    const model::Definition* definition = nullptr;
    if (!report.empty()) {
        definition = &runtime.DefinitionOf(report.front().instance.id);
        for (const auto& stage : definition->stages)
            stages.push_back(stage.id);
    }
    const auto dead = runtime.Store().Outbox("dead");
    const auto pending = runtime.Store().Outbox("pending");

    if (o.format == "json") {
        json::array rows;
        for (const auto* progress : shown) {
            json::object stage_json;
            for (const auto& [stage, counts] : progress->stages) {
                stage_json[stage] = {
                    {"done", counts.done}, {"applicable", counts.applicable}, {"overdue", counts.overdue}};
            }
            json::array open(progress->open_steps.begin(), progress->open_steps.end());
            json::array overdue(progress->overdue_steps.begin(), progress->overdue_steps.end());
            json::object row{{"instance", progress->instance.id},
                             {"unit", progress->instance.unit},
                             {"name", progress->unit_name},
                             {"category", progress->category},
                             {"status", progress->instance.status},
                             {"version", progress->instance.version},
                             {"stages", std::move(stage_json)},
                             {"open", std::move(open)},
                             {"overdue", std::move(overdue)},
                             {"problems_open", progress->problems_open},
                             {"problems_total", progress->problems_total}};
            if (const auto found = children.find(progress->instance.id); found != children.end()) {
                row["children"] = {{"done", found->second.first}, {"total", found->second.second}};
            }
            rows.push_back(std::move(row));
        }
        json::array dead_json;
        for (const auto& effect : dead) {
            dead_json.push_back({{"id", effect.id},
                                 {"instance", effect.instance},
                                 {"kind", effect.kind},
                                 {"target", effect.target},
                                 {"attempts", effect.attempts},
                                 {"error", effect.last_error}});
        }
        out << json::serialize(json::object{{"instances", std::move(rows)},
                                            {"pending_effects", pending.size()},
                                            {"dead_letters", std::move(dead_json)}})
            << "\n";
        return kExitOk;
    }

    if (shown.empty()) {
        out << (report.empty() ? "no campaign in this database\n" : "no instance matches\n");
        return kExitOk;
    }
    std::vector<std::vector<std::string>> table;
    std::vector<std::string> header{"instance", "unit", "category"};
    for (const auto& stage : stages)
        header.push_back(definition != nullptr ? StageTitle(*definition, stage) : stage);
    header.insert(header.end(), {"branches", "problems", "open steps"});
    table.push_back(header);
    std::map<std::string, std::map<std::string, std::pair<int, int>>> by_category;  // category -> stage -> sums
    std::map<std::string, std::pair<int, int>> overall;
    for (const auto* progress : shown) {
        std::vector<std::string> row{progress->instance.id, progress->unit_name, progress->category};
        for (const auto& stage : stages) {
            const auto found = progress->stages.find(stage);
            if (found == progress->stages.end()) {
                row.push_back("-");
                continue;
            }
            row.push_back(Percent(found->second.done, found->second.applicable) +
                          (found->second.overdue > 0 ? "!" : ""));
            auto& sums = by_category[progress->category][stage];
            sums.first += found->second.done;
            sums.second += found->second.applicable;
            overall[stage].first += found->second.done;
            overall[stage].second += found->second.applicable;
        }
        const auto found = children.find(progress->instance.id);
        row.push_back(found == children.end()
                          ? "-"
                          : std::to_string(found->second.first) + "/" + std::to_string(found->second.second));
        row.push_back(progress->problems_total == 0 ? "-"
                                                    : std::to_string(progress->problems_open) + " open/" +
                                                          std::to_string(progress->problems_total));
        std::string open;
        for (const auto& step : progress->open_steps) {
            const bool late = std::find(progress->overdue_steps.begin(), progress->overdue_steps.end(), step) !=
                              progress->overdue_steps.end();
            open += (open.empty() ? "" : " ") + step + (late ? "(overdue)" : "");
        }
        row.push_back(progress->instance.status == "completed" ? "(complete)" : open);
        table.push_back(std::move(row));
    }
    table.push_back({});
    for (const auto& [category, sums] : by_category) {
        std::vector<std::string> row{"all " + category, "", ""};
        for (const auto& stage : stages) {
            const auto found = sums.find(stage);
            row.push_back(found == sums.end() ? "-" : Percent(found->second.first, found->second.second));
        }
        table.push_back(std::move(row));
    }
    std::vector<std::string> total{"all units", std::to_string(shown.size()) + " instances", ""};
    for (const auto& stage : stages) {
        const auto found = overall.find(stage);
        total.push_back(found == overall.end() ? "-" : Percent(found->second.first, found->second.second));
    }
    table.push_back(std::move(total));
    PrintTable(table, out);
    out << "\n'!' marks a stage with an overdue step. Pending effects: " << pending.size()
        << "; dead letters: " << dead.size() << "\n";
    for (const auto& effect : dead) {
        out << "  dead #" << effect.id << " " << effect.kind << " to '" << effect.target << "' for " << effect.instance
            << " after " << effect.attempts << " attempts: " << effect.last_error << "\n";
    }
    if (!dead.empty()) {
        out << "  (a notification: `cascade admin redeliver ID`; a failed action step: `cascade admin retry INSTANCE "
               "STEP --as admin@UNIT`)\n";
    }
    // Effects being retried, grouped by target and reason: a misconfigured
    // plugin shows here long before its effects become dead letters.
    std::map<std::pair<std::string, std::string>, std::pair<int, std::int64_t>> retrying;
    for (const auto& effect : pending) {
        if (effect.attempts == 0)
            continue;
        auto& entry = retrying[{effect.target, effect.last_error}];
        entry.second = entry.first == 0 ? effect.next_attempt_at : std::min(entry.second, effect.next_attempt_at);
        ++entry.first;
    }
    for (const auto& [key, entry] : retrying) {
        out << "  retrying " << entry.first << " effect(s) to '" << key.first << "' (next attempt "
            << engine::FormatTimestamp(entry.second, runtime.UtcOffsetMinutes()) << "): " << key.second << "\n";
    }
    return kExitOk;
}

int History(runtime::Runtime& runtime, const Options& o, std::ostream& out) {
    const auto instance = runtime.Store().GetInstance(o.instance);
    if (!instance)
        throw Failure(kExitInvalid, "no instance '" + o.instance + "' in this database");
    const auto events = runtime.Store().Events(o.instance);
    if (o.format == "json") {
        json::array rows;
        for (const auto& event : events) {
            rows.push_back({{"seq", event.seq},
                            {"at", engine::FormatTimestamp(event.at, runtime.UtcOffsetMinutes())},
                            {"actor", event.actor},
                            {"type", event.type},
                            {"step", event.step},
                            {"data", json::parse(event.data)},
                            {"hash", store::ToHex(event.hash)}});
        }
        out << json::serialize(rows) << "\n";
        return kExitOk;
    }
    out << "instance " << instance->id << " (unit " << instance->unit << ", " << instance->status << ", version "
        << instance->version << ")\n";
    for (const auto& event : events) {
        out << std::setw(4) << event.seq << "  " << engine::FormatTimestamp(event.at, runtime.UtcOffsetMinutes())
            << "  " << Pad(event.type, 18) << " " << Pad(event.step, 22) << " " << event.actor;
        const json::object data = json::parse(event.data).as_object();
        for (const char* key :
             {"reason", "to", "error", "id", "title", "due", "note", "round", "from", "cancel", "steps"}) {
            if (const auto* value = data.if_contains(key)) {
                if (value->is_string() && value->get_string().empty())
                    continue;
                out << "  " << key << "="
                    << (value->is_string() ? std::string(value->get_string()) : json::serialize(*value));
            }
        }
        out << "\n";
    }
    return kExitOk;
}

int RunLoop(runtime::Runtime& runtime, const Options& o, std::ostream& out, std::ostream& err) {
    std::ofstream log_file;
    if (!o.log_file.empty()) {
        log_file.open(o.log_file, std::ios::app);
        if (!log_file)
            throw Failure(kExitInvalid, "cannot write --log file '" + o.log_file + "'");
    }
    runtime::DispatchOptions dispatch;
    dispatch.plugin_folders = o.plugin_settings->Folders();
    runtime::PluginDispatcher deliver(runtime, dispatch,
                                      o.log_file.empty() ? out : static_cast<std::ostream&>(log_file));
    for (const auto& problem : deliver.Catalog().problems)
        err << "cascade run: warning: not loadable: " << problem << "\n";
    const auto tick = [&] {
        const int fired = runtime.FireDueTimers();
        const auto counts = runtime.DeliverDueEffects(std::ref(deliver));
        if (fired + counts.delivered + counts.retried + counts.dead > 0) {
            err << "timers fired: " << fired << "; effects delivered: " << counts.delivered
                << ", to retry: " << counts.retried << ", dead: " << counts.dead << "\n";
        }
        out.flush();
    };
    if (o.once) {
        tick();
        return kExitOk;
    }
    // Wakes for the next due timer or effect, at least once a minute (another
    // process may add work), and stops between ticks on SIGINT/SIGTERM.
    boost::asio::io_context io;
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    boost::asio::steady_timer timer(io);
    bool stopping = false;
    signals.async_wait([&](const boost::system::error_code& error, int signal) {
        if (error)
            return;
        err << "received " << (signal == SIGINT ? "SIGINT" : "SIGTERM") << "; stopping\n";
        stopping = true;
        timer.cancel();
    });
    std::function<void()> schedule;
    schedule = [&] {
        if (stopping)
            return;
        tick();
        std::int64_t wait_ms = 60'000;
        if (const auto next = runtime.NextWakeUp()) {
            wait_ms = std::clamp<std::int64_t>(*next - runtime.Clock().Now(), 0, 60'000);
        }
        timer.expires_after(std::chrono::milliseconds(std::max<std::int64_t>(wait_ms, 10)));
        timer.async_wait([&](const boost::system::error_code& error) {
            if (!error && !stopping)
                schedule();
        });
    };
    err << "cascade run: firing timers and delivering effects from " << runtime.Store().Db().Path()
        << " (Ctrl-C to stop)\n";
    boost::asio::post(io, schedule);
    while (!stopping) {
        io.run_one();
    }
    signals.cancel();
    timer.cancel();
    err << "stopped cleanly\n";
    return kExitOk;
}

// A campaign may start before its plugins are installed (its effects wait in
// the outbox), but the administrator should hear of it now, not in January.
void WarnMissingPlugins(const model::Definition& definition, const PluginSettings& settings, std::ostream& err) {
    const plugin::Catalog catalog = plugin::Discover(settings.Folders());
    for (const auto& declaration : definition.plugins) {
        if (declaration.plugin == "log" || declaration.plugin == "test-action" || catalog.Find(declaration.plugin))
            continue;
        err << "cascade start: warning: plugin '" << declaration.plugin << "' (declared as '" << declaration.name
            << "') is not installed; its effects wait in the outbox until it is (`cascade plugins list`)\n";
    }
}

int Report(runtime::Runtime& runtime, const Options& o, std::ostream& out) {
    const auto folders = o.plugin_settings->Folders();
    runtime::DispatchOptions dispatch;
    dispatch.plugin_folders = folders;
    std::ostringstream unused_log;
    runtime::PluginDispatcher dispatcher(runtime, dispatch, unused_log);
    const plugin::Manifest* manifest = dispatcher.Catalog().Find(o.report_plugin);
    if (manifest == nullptr) {
        std::vector<std::string> names;
        for (const auto& found : dispatcher.Catalog().plugins)
            names.push_back(found.name);
        const std::string hint = lang::DidYouMean(o.report_plugin, names);
        throw Failure(kExitInvalid, "no plugin '" + o.report_plugin + "' in the plugin path" +
                                        (hint.empty() ? std::string() : " (" + hint + ")") +
                                        "; `cascade plugins list` shows what is installed");
    }
    if (!manifest->HasKind("reporter"))
        throw Failure(kExitInvalid, "plugin '" + o.report_plugin + "' is not a reporter");
    std::error_code io_error;
    std::filesystem::create_directories(o.report_out, io_error);
    if (io_error || !std::filesystem::is_directory(o.report_out))
        throw Failure(kExitInvalid, "cannot create --out folder '" + o.report_out + "'");

    runtime::ReportRequest request;
    request.campaign = o.campaign;
    request.out_dir = std::filesystem::absolute(o.report_out).lexically_normal().string();
    json::object params;
    try {
        params = runtime::BuildReportParams(runtime, request);
    } catch (const std::invalid_argument& error) {
        throw Failure(kExitInvalid, error.what());
    }
    // The declaration of this plugin in the campaign's workflow, if any, gives the config.
    const model::PluginDeclaration* declared = nullptr;
    const std::size_t unit_count = params.at("units").as_array().size();
    const std::string campaign_id(params.at("campaign").at("id").as_string());
    if (unit_count > 0) {
        const auto& first = params.at("units").as_array().front();
        const auto& definition = runtime.DefinitionOf(std::string(first.at("instance").as_string()));
        for (const auto& declaration : definition.plugins) {
            if (declaration.plugin == o.report_plugin && declared == nullptr)
                declared = &declaration;
        }
    }
    json::object config;
    if (!o.report_config.empty()) {
        std::string text = o.report_config;
        if (text.front() == '@') {
            std::ifstream file(text.substr(1));
            if (!file)
                throw Failure(kExitInvalid, "cannot read --config file '" + text.substr(1) + "'");
            text.assign(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
        }
        boost::system::error_code error;
        json::value value = json::parse(text, error);
        if (error || !value.is_object())
            throw Failure(kExitUsage, "--config must be a JSON object");
        config = value.as_object();
    } else if (declared != nullptr && !declared->config_json.empty()) {
        config = json::parse(declared->config_json).as_object();
    }
    std::string locale = o.report_locale;
    if (locale.empty()) {
        const auto* value = config.if_contains("locale");
        locale = value != nullptr && value->is_string() ? std::string(value->get_string()).substr(0, 2) : "zh";
    }
    params["locale"] = locale;
    plugin::OpenOptions options;
    options.declaration = declared != nullptr ? declared->name : o.report_plugin;
    options.config = config;
    options.sha256 = declared != nullptr ? declared->sha256 : std::string();
    options.isolate = declared != nullptr && declared->isolate;
    options.timeout =
        std::chrono::milliseconds(declared != nullptr && declared->timeout_ms > 0 ? declared->timeout_ms : 120'000);
    auto opened = plugin::Open(*manifest, options);
    if (auto* failure = std::get_if<std::string>(&opened))
        throw Failure(kExitInvalid, *failure);
    auto& instance = std::get<std::unique_ptr<plugin::Instance>>(opened);
    const plugin::CallResult result = instance->Call("report", params);
    if (!result.Ok())
        throw Failure(kExitInvalid, "the report was not written: " + result.message);
    out << "report of campaign " << campaign_id << " (" << unit_count << " units) by " << o.report_plugin << ":\n";
    if (result.value.is_object()) {
        if (const auto* files = result.value.as_object().if_contains("files"); files != nullptr && files->is_array()) {
            for (const auto& file : files->as_array())
                if (file.is_string())
                    out << "  " << file.get_string().c_str() << "\n";
        }
    }
    return kExitOk;
}

int Simulate(const Options& o, std::ostream& out, std::ostream& err) {
    const auto offset = ParseUtcOffset(o.utc_offset.empty() ? "+08:00" : o.utc_offset);
    if (!offset)
        throw Failure(kExitUsage, "--utc-offset '" + o.utc_offset + "' is not like +08:00");
    if (!o.simulate_db.empty() && ::access(o.simulate_db.c_str(), F_OK) == 0) {
        throw Failure(kExitInvalid, "--db '" + o.simulate_db + "' exists; simulate writes a new database");
    }
    store::OpenOptions open;
    open.synchronous = store::Synchronous::off;  // a scratch database: speed over durability
    store::Store store = store::Store::Open(o.simulate_db.empty() ? ":memory:" : o.simulate_db, open);
    engine::VirtualClock clock;
    runtime::RuntimeOptions options;
    options.utc_offset_minutes = *offset;
    runtime::Runtime runtime(store, clock, options);
    auto registered = runtime.Register(o.workflow);
    if (auto* diagnostics = std::get_if<lang::Diagnostics>(&registered)) {
        PrintDiagnostics(*diagnostics, err);
        err << o.workflow << ": does not validate; nothing simulated\n";
        return kExitInvalid;
    }
    const auto& workflow = std::get<runtime::Workflow>(registered);
    auto roster = LoadRoster(o.roster);
    PrintDiagnostics(roster.diagnostics, err);
    if (!roster.Ok()) {
        err << o.roster << ": " << roster.diagnostics.ErrorCount() << " error(s); nothing simulated\n";
        return kExitInvalid;
    }
    if (const auto refused = runtime.ImportUnits(*roster.units))
        throw Failure(kExitInvalid, *refused);
    runtime::SimulationOptions simulation = o.simulation;
    if (!o.until.empty()) {
        simulation.until = model::Date::Parse(o.until);
        if (!simulation.until)
            throw Failure(kExitUsage, "--until '" + o.until + "' is not a date (YYYY-MM-DD)");
        if (*simulation.until < workflow.definition->start) {
            throw Failure(kExitUsage, "--until " + o.until + " is before the campaign starts (" +
                                          workflow.definition->start.ToString() + ")");
        }
    }
    runtime::SimulationReport report;
    {
        ProgressLine progress(err, "simulating day");
        report = runtime::Simulate(runtime, clock, workflow, simulation, progress.Callback());
    }
    const model::Definition& definition = *workflow.definition;
    out << "Simulated " << definition.title.In("zh") << " (" << definition.id << ") from " << report.from.ToString()
        << " to " << report.until.ToString() << ", seed " << simulation.seed << "\n";
    out << "  instances: " << report.instances << " units in scope, " << report.child_instances
        << " started through subflows; " << report.completed_instances << " complete at the end\n";
    out << "  commands: " << report.commands << " (" << report.refused << " refused by a gate and redone, "
        << report.returned << " returned by reviewers); events: " << report.events
        << "; reminders: " << report.reminders << "; notifications: " << report.notifications << "\n";
    out << "  ran in " << std::fixed << std::setprecision(2) << report.seconds << " s\n\n";
    out << "Stage completion at the end:\n";
    for (const auto& stage : definition.stages) {
        const auto found = report.stage_done.find(stage.id);
        if (found == report.stage_done.end())
            continue;
        out << "  " << Pad(StageTitle(definition, stage.id), 12) << " "
            << Percent(static_cast<int>(found->second.first), static_cast<int>(found->second.second)) << " ("
            << found->second.first << "/" << found->second.second << " steps)\n";
    }
    std::map<std::string, int> by_kind;
    std::set<std::string> overdue_units;
    for (const auto& incident : report.incidents) {
        ++by_kind[incident.kind];
        if (incident.kind == "overdue")
            overdue_units.insert(incident.unit);
    }
    out << "\nOverdue: " << by_kind["overdue"] << " steps in " << overdue_units.size()
        << " units; escalated: " << by_kind["escalated"] << "; stuck: " << by_kind["stuck"] << "\n";
    // The units to talk to first: most overdue steps, then most escalations.
    std::map<std::string, std::pair<int, int>> per_unit;  // unit -> overdue, escalated
    std::map<std::string, std::string> unit_names;
    for (const auto& incident : report.incidents) {
        auto& counts = per_unit[incident.unit];
        counts.first += incident.kind == "overdue" ? 1 : 0;
        counts.second += incident.kind == "escalated" ? 1 : 0;
        unit_names[incident.unit] = incident.unit_name;
    }
    std::vector<std::pair<std::string, std::pair<int, int>>> ranked(per_unit.begin(), per_unit.end());
    std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    if (!ranked.empty()) {
        out << "\nUnits with the most overdue steps:\n";
        for (std::size_t i = 0; i < ranked.size() && i < 10; ++i) {
            out << "  " << Pad(ranked[i].first, 10) << " " << Pad(unit_names[ranked[i].first], 28) << " "
                << ranked[i].second.first << " overdue, " << ranked[i].second.second << " escalated\n";
        }
        out << "\nTimeline:\n";
    }
    std::size_t listed = 0;
    for (const auto& incident : report.incidents) {
        if (listed++ >= o.list_limit) {
            out << "  ... " << report.incidents.size() - o.list_limit << " more (raise --limit)\n";
            break;
        }
        out << "  " << incident.on.ToString() << "  " << Pad(incident.kind, 9) << " " << Pad(incident.unit_name, 24)
            << " " << Pad(incident.step, 22) << " due " << incident.due.ToString();
        if (!incident.escalated_to.empty())
            out << " -> " << incident.escalated_to;
        if (!incident.detail.empty())
            out << "  " << incident.detail;
        out << "\n";
    }
    return kExitOk;
}

}  // namespace

std::optional<int> CampaignCommands::Run(std::ostream& out, std::ostream& err) {
    const Options& o = *options_;
    const auto chosen = [&](CLI::App* command) { return command->parsed(); };
    if (std::none_of(o.commands.begin(), o.commands.end(), chosen)) {
        return std::nullopt;
    }
    try {
        if (chosen(o.simulate)) {
            return Simulate(o, out, err);
        }
        if (chosen(o.units_import)) {
            // Checked before the database is opened, so a bad roster creates no file.
            auto loaded = LoadRoster(o.roster, o.categories);
            PrintDiagnostics(loaded.diagnostics, err);
            if (!loaded.Ok()) {
                err << o.roster << ": " << loaded.diagnostics.ErrorCount() << " error(s); nothing imported\n";
                return kExitInvalid;
            }
            auto session = OpenSession(o.db, o.utc_offset, false);
            if (const auto refused = session->runtime->ImportUnits(*loaded.units)) {
                err << "cascade units import: error: " << *refused << "\nnothing was written\n";
                return kExitInvalid;
            }
            out << "imported " << loaded.units->Size() << " units from " << o.roster << "\n";
            return kExitOk;
        }
        runtime::RuntimeOptions runtime_options;
        if (chosen(o.run)) {
            runtime_options.max_attempts = o.max_attempts;
            const auto backoff = ParseSpan(o.backoff);
            if (!backoff)
                throw Failure(kExitUsage, "--backoff '" + o.backoff + "' is not like 500ms, 30s, 5m or 1h");
            runtime_options.backoff_ms = *backoff;
        }
        auto session = OpenSession(o.db, o.utc_offset, !chosen(o.start), runtime_options);
        runtime::Runtime& runtime = *session->runtime;
        if (chosen(o.start)) {
            auto registered = runtime.Register(o.workflow);
            if (auto* diagnostics = std::get_if<lang::Diagnostics>(&registered)) {
                PrintDiagnostics(*diagnostics, err);
                err << o.workflow << ": does not validate; no campaign started\n";
                return kExitInvalid;
            }
            const auto& workflow = std::get<runtime::Workflow>(registered);
            WarnMissingPlugins(*workflow.definition, *o.plugin_settings, err);
            const std::string campaign_id = o.campaign.empty() ? workflow.definition->id : o.campaign;
            if (runtime.Store().GetCampaign(campaign_id)) {
                // Checked before the roster is touched: a refused start changes nothing.
                return PrintRefusal("start",
                                    {"campaign-exists",
                                     "campaign '" + campaign_id +
                                         "' was already started in this database; choose another --campaign id",
                                     {}},
                                    err);
            }
            if (!o.roster.empty()) {
                auto roster = LoadRoster(o.roster);
                PrintDiagnostics(roster.diagnostics, err);
                if (!roster.Ok()) {
                    err << o.roster << ": " << roster.diagnostics.ErrorCount() << " error(s); no campaign started\n";
                    return kExitInvalid;
                }
                if (!o.scope.empty() && roster.units->Find(o.scope) == nullptr) {
                    std::vector<std::string> ids;
                    for (const auto& unit : roster.units->Units())
                        ids.push_back(unit.id);
                    const std::string hint = lang::DidYouMean(o.scope, ids);
                    return PrintRefusal("start",
                                        {"unknown-unit",
                                         "no unit '" + o.scope + "' in " + o.roster + (hint.empty() ? "" : "; " + hint),
                                         {}},
                                        err);
                }
                if (const auto refused = runtime.ImportUnits(*roster.units)) {
                    err << "cascade start: error: " << *refused << "\n";
                    return kExitInvalid;
                }
            }
            runtime::StartOptions start;
            start.campaign_id = o.campaign;
            start.scope_root = o.scope;
            if (!o.inputs.empty()) {
                std::vector<model::FormField> fields;
                for (const auto& input : workflow.definition->inputs) {
                    model::FormField field;
                    field.name = input.name;
                    field.type = input.type;
                    field.choices = input.choices;
                    fields.push_back(field);
                }
                auto parsed = engine::ParseAssignments(o.inputs, fields);
                if (auto* errors = std::get_if<std::vector<engine::FieldError>>(&parsed)) {
                    for (const auto& error : *errors)
                        err << "--input " << error.path << ": " << error.message << "\n";
                    return kExitInvalid;
                }
                start.inputs = std::get<json::object>(parsed);
            }
            runtime::StartOutcome started;
            {
                ProgressLine progress(err, "starting instances");
                started = runtime.StartCampaign(workflow, start, progress.Callback());
            }
            if (started.error)
                return PrintRefusal("start", *started.error, err);
            out << "started campaign '" << started.campaign_id << "': " << started.instances.size() << " instances, "
                << started.child_instances << " more through subflows, " << started.events << " events\n";
            ReportCoverage(runtime, *workflow.definition, o.scope, out);
            out << "first instance: " << started.instances.front() << " (see `cascade status --db " << o.db << "`)\n";
            return kExitOk;
        }
        if (chosen(o.advance) || chosen(o.review)) {
            const bool advancing = chosen(o.advance);
            runtime::CommandRequest request;
            request.instance = o.instance;
            request.actor = ParseActor(o.actor);
            request.idempotency_key = o.key;
            request.expected_version = o.expect_version;
            const auto row = runtime.Store().GetInstance(o.instance);
            if (!row) {
                err << "cascade " << (advancing ? "advance" : "review") << ": error: no instance '" << o.instance
                    << "' in this database [unknown-instance]\nnothing was written\n";
                return kExitInvalid;
            }
            if (advancing) {
                const model::Step* step = runtime.DefinitionOf(o.instance).FindStep(o.step);
                json::object payload;
                if (step != nullptr)
                    payload = ReadPayload(o.data_file, o.assignments, *step);
                request.command = engine::Submit{o.step, std::move(payload)};
            } else {
                if (!o.approve && o.return_reason.empty()) {
                    throw Failure(kExitUsage, "say --approve or --return REASON");
                }
                request.command = engine::Review{o.step, o.approve, o.return_reason};
            }
            return Conclude(advancing ? "advance" : "review", runtime.Execute(request), out, err);
        }
        if (chosen(o.problems_add) || chosen(o.problems_close)) {
            runtime::CommandRequest request;
            request.instance = o.instance;
            request.actor = ParseActor(o.actor);
            request.idempotency_key = o.key;
            if (chosen(o.problems_add)) {
                engine::AddProblem add{o.title, o.owner, std::nullopt, o.immediate};
                if (!o.due.empty()) {
                    add.due = model::Date::Parse(o.due);
                    if (!add.due)
                        throw Failure(kExitUsage, "--due '" + o.due + "' is not a date (YYYY-MM-DD)");
                }
                request.command = std::move(add);
            } else {
                request.command = engine::CloseProblem{o.problem_id, o.note};
            }
            return Conclude(chosen(o.problems_add) ? "problems add" : "problems close", runtime.Execute(request), out,
                            err);
        }
        if (chosen(o.problems_list)) {
            std::vector<std::vector<std::string>> table{{"instance", "id", "state", "kind", "due", "owner", "title"}};
            auto problems = runtime.Store().Problems(o.instance);
            std::stable_sort(problems.begin(), problems.end(),
                             [](const auto& a, const auto& b) { return !a.closed && b.closed; });
            for (const auto& problem : problems) {
                table.push_back({problem.instance, problem.id, problem.closed ? "closed " + problem.closed_on : "open",
                                 problem.immediate ? "立行立改" : "scheduled", problem.due, problem.owner,
                                 problem.title});
            }
            PrintTable(table, out);
            return kExitOk;
        }
        if (chosen(o.status))
            return Status(runtime, o, out);
        if (chosen(o.history))
            return History(runtime, o, out);
        if (chosen(o.audit_verify)) {
            const auto report = runtime.Store().VerifyChain();
            if (report.first_problem) {
                const auto& problem = *report.first_problem;
                err << "audit: FAILED at ";
                if (problem.position > 0) {
                    err << "row " << problem.position << " (instance '" << problem.instance << "', event "
                        << problem.seq << "): ";
                } else {
                    err << "instance '" << problem.instance << "': ";
                }
                err << problem.what << "\n";
                return kExitInvalid;
            }
            out << "audit: ok, " << report.events << " events, hash chain intact\n";
            if (report.events > 0) {
                out << "head: row " << report.events << ", hash " << store::ToHex(report.head_hash)
                    << "\n(keep this line elsewhere: a later audit whose chain does not contain it shows the log was "
                       "rewritten)\n";
            }
            return kExitOk;
        }
        if (chosen(o.admin_rebuild)) {
            // Rebuilding from a damaged log would make the damage look consistent.
            if (const auto audit = runtime.Store().VerifyChain(); audit.first_problem && !o.force) {
                err << "cascade admin rebuild: error: the event log fails its audit: " << audit.first_problem->what
                    << "\nrebuilding from it would hide that; investigate with `cascade audit verify`, or pass "
                       "--force to rebuild anyway\nnothing was written\n";
                return kExitInvalid;
            }
            std::int64_t events = 0;
            {
                ProgressLine progress(err, "rebuilding instances");
                events = runtime.Rebuild(progress.Callback());
            }
            out << "rebuilt projections of " << runtime.Store().Instances().size() << " instances from " << events
                << " events\n";
            return kExitOk;
        }
        if (chosen(o.admin_reset) || chosen(o.admin_retry)) {
            runtime::CommandRequest request;
            request.instance = o.instance;
            request.actor = ParseActor(o.actor);
            if (chosen(o.admin_reset)) {
                request.command = engine::Reset{o.reset_to, o.reason};
            } else {
                request.command = engine::Retry{o.step, o.reason};
            }
            return Conclude(chosen(o.admin_reset) ? "admin reset" : "admin retry", runtime.Execute(request), out, err);
        }
        if (chosen(o.admin_redeliver)) {
            bool revived = false;
            {
                store::Store::WriteTransaction transaction(runtime.Store());
                revived = runtime.Store().Revive(o.effect_id, runtime.Clock().Now());
                transaction.Commit();
            }
            if (!revived) {
                err << "cascade admin redeliver: error: no dead letter #" << o.effect_id << "\n";
                return kExitInvalid;
            }
            out << "effect #" << o.effect_id << " is back in the outbox; `cascade run` delivers it\n";
            return kExitOk;
        }
        if (chosen(o.migrate)) {
            const engine::Actor actor = ParseActor(o.actor);
            auto registered = runtime.Register(o.workflow);
            if (auto* diagnostics = std::get_if<lang::Diagnostics>(&registered)) {
                PrintDiagnostics(*diagnostics, err);
                err << o.workflow << ": does not validate; nothing migrated\n";
                return kExitInvalid;
            }
            auto migrated = runtime.Migrate(o.campaign, std::get<runtime::Workflow>(registered), actor);
            if (auto* error = std::get_if<engine::CommandError>(&migrated))
                return PrintRefusal("migrate", *error, err);
            out << "migrated " << std::get<int>(migrated) << " running instances of '" << o.campaign << "'\n";
            return kExitOk;
        }
        if (chosen(o.run))
            return RunLoop(runtime, o, out, err);
        if (chosen(o.report))
            return Report(runtime, o, out);
        return kExitUsage;
    } catch (const Failure& failure) {
        err << "cascade: error: " << failure.what() << "\n";
        return failure.Code();
    } catch (const store::SqliteError& error) {
        err << "cascade: database error: " << error.what() << "\n";
        return kExitStorage;
    } catch (const store::SchemaTooNewError& error) {
        err << "cascade: " << error.what() << "\n";
        return kExitStorage;
    }
}

}  // namespace cascade::cli
