// What the plugin host costs, measured against the goals it was built to:
//
//   inproc   Instance::Call of a trivial method (fixture-good's `read`, which
//            answers one tiny record) on an in-process plugin, next to calling
//            the same library's C table directly: dlopen, cascade_plugin_entry,
//            create, call, with the same params text and no worker thread or
//            timeout. The difference is the host's own cost per call (the
//            hand-off to the worker, JSON serialize and parse, result checks).
//                                                      goal: < 5 us per call
//   process  fixture-good-stdio (JSON-RPC over a socketpair): one call at a
//            time, and pipelined in batches of 1,000 with CallBatch.
//                                                      goal: >= 20,000 calls/s batched
//   outbox   notifications queued in a fresh SQLite file for a started
//            one-unit campaign, drained by Runtime::DeliverDueEffects through
//            a PluginDispatcher into notify-log, then counted in its file.
//            The same drain calling notify-log's C table on the draining
//            thread, and with a deliverer that does nothing, tell the host's
//            share from the plugin's and from the runtime's and the store's.
//                                                      goal: 100,000 in < 10 s
//
// Medians of --runs runs. A failed check (an error result, a wrong line
// count, an effect left pending) exits non-zero; a missed goal does not, it
// is printed as such.
//
//   bench_plugins [--runs 5] [--calls 200000] [--process-calls 50000]
//                 [--notifications 100000] [--only inproc|process|outbox]
#include "cascade/engine/clock.hpp"
#include "cascade/plugin.h"
#include "cascade/plugin/plugin.hpp"
#include "cascade/runtime/plugin_dispatch.hpp"
#include "cascade/runtime/runtime.hpp"
#include "cascade/store/store.hpp"

#include <dlfcn.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

namespace {

using namespace cascade;
namespace fs = std::filesystem;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kBatchSize = 1'000;
constexpr int kUtcOffset = 480;  // +08:00

int check_failures = 0;

void Fail(const std::string& message) {
    std::fprintf(stderr, "check failed: %s\n", message.c_str());
    ++check_failures;
}

double Seconds(Clock::duration duration) {
    return std::chrono::duration<double>(duration).count();
}

// CPU time of every thread of this process (a spinning thread counts too).
double CpuSeconds() {
    timespec now{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
    return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

// The 1-minute load average: other work on the machine skews every figure.
std::string LoadAverage() {
    std::ifstream in("/proc/loadavg");
    std::string first;
    in >> first;
    return first.empty() ? "?" : first;
}

double Median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    return values.empty() ? 0 : values[values.size() / 2];
}

// ------------------------------------------------------------------ results table

struct Row {
    std::string measure;
    std::vector<double> samples;
    std::string unit;
    int decimals = 0;
    std::string goal;                 // empty: no goal on this row
    std::function<bool(double)> met;  // judged on the median
};

void PrintHeader() {
    std::printf("%-44s %12s %-9s %12s %12s  %-22s %s\n", "measure", "median", "unit", "min", "max", "goal", "");
}

void PrintRow(const Row& row) {
    if (row.samples.empty()) {
        return;
    }
    const double median = Median(row.samples);
    const auto [low, high] = std::minmax_element(row.samples.begin(), row.samples.end());
    std::string verdict;
    if (row.met) {
        verdict = row.met(median) ? "goal met" : "goal missed";
    }
    std::printf("%-44s %12.*f %-9s %12.*f %12.*f  %-22s %s\n", row.measure.c_str(), row.decimals, median,
                row.unit.c_str(), row.decimals, *low, row.decimals, *high, row.goal.c_str(), verdict.c_str());
    std::fflush(stdout);
}

// ------------------------------------------------------------------ scratch folder

// A fresh folder under the system's temporary folder, removed with the object.
class ScratchDir {
public:
    ScratchDir() {
        std::string pattern = (fs::temp_directory_path() / "cascade-bench-plugins-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) {
            std::perror("mkdtemp");
            std::exit(1);
        }
        path_ = pattern;
    }
    ~ScratchDir() {
        std::error_code ignored;
        fs::remove_all(path_, ignored);
    }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
    const fs::path& Path() const { return path_; }

private:
    fs::path path_;
};

// ------------------------------------------------------------------ plugins under test

// A plugin, the method called on it and what it must answer.
struct Subject {
    fs::path file;  // a library (*.so) or a process plugin's manifest (*.plugin.json)
    std::string method;
    json::object params;
    json::object config;
    std::optional<json::value> expected;  // the exact result, when known
};

// fixture-good's `read` (one tiny record); notify-log's `self_test` where the
// fixtures are not built (a build without tests).
Subject InProcessSubject(const fs::path& scratch) {
    const fs::path fixture = fs::path(CASCADE_FIXTURE_PLUGIN_DIR) / "good" / "fixture-good.so";
    if (fs::exists(fixture)) {
        return {fixture, "read", json::object{{"where", json::object{{"unit", "t01"}}}},
                json::object{{"path", (scratch / "fixture-good.log").string()}},
                json::value(json::object{{"records", json::array{json::object{{"unit", "t01"}, {"hours", 8}}}}})};
    }
    return {fs::path(CASCADE_PLUGIN_BUILD_DIR) / "notify-log.so", "self_test", {}, {}, std::nullopt};
}

Subject ProcessSubject(const fs::path& scratch) {
    Subject subject = InProcessSubject(scratch);
    const fs::path fixture = fs::path(CASCADE_FIXTURE_PLUGIN_DIR) / "good" / "fixture-good-stdio.plugin.json";
    subject.file = fs::exists(fixture) ? fixture : fs::path(CASCADE_PLUGIN_BUILD_DIR) / "notify-log-stdio.plugin.json";
    return subject;
}

std::unique_ptr<plugin::Instance> OpenThroughHost(const Subject& subject) {
    auto manifest = plugin::ReadManifest(subject.file);
    if (const auto* message = std::get_if<std::string>(&manifest)) {
        Fail(*message);
        return nullptr;
    }
    plugin::OpenOptions options;
    options.declaration = "bench";
    options.config = subject.config;
    auto opened = plugin::Open(std::get<plugin::Manifest>(manifest), options);
    if (const auto* message = std::get_if<std::string>(&opened)) {
        Fail(*message);
        return nullptr;
    }
    return std::get<std::unique_ptr<plugin::Instance>>(std::move(opened));
}

// One result of the host: ok, and the expected value when there is one.
bool CheckResult(const plugin::CallResult& result, const Subject& subject, const char* how) {
    if (!result.Ok()) {
        Fail(std::string(how) + " " + subject.method + ": " + result.message);
        return false;
    }
    if (subject.expected && result.value != *subject.expected) {
        Fail(std::string(how) + " " + subject.method + " answered " + json::serialize(result.value) + ", not " +
             json::serialize(*subject.expected));
        return false;
    }
    return true;
}

// The same library called through its C table, as directly as the ABI allows:
// the caller's thread, a string sink, no timeout and no JSON on this side.
class DirectTable {
public:
    explicit DirectTable(const fs::path& library, const json::object& config)
        : handle_(::dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL), &::dlclose) {
        if (!handle_) {
            const char* reason = ::dlerror();
            error_ = "cannot load " + library.string() + ": " + (reason != nullptr ? reason : "unknown reason");
            return;
        }
        auto* entry = reinterpret_cast<cascade_plugin_entry_fn>(::dlsym(handle_.get(), CASCADE_PLUGIN_ENTRY_SYMBOL));
        api_ = entry != nullptr ? entry(CASCADE_ABI_MAJOR, CASCADE_ABI_MINOR) : nullptr;
        if (api_ == nullptr) {
            error_ = library.string() + " offers no plugin table";
            return;
        }
        services_ = cascade_host_services{
            sizeof(cascade_host_services), CASCADE_ABI_MAJOR,       CASCADE_ABI_MINOR, nullptr, &DirectTable::Log,
            &DirectTable::Cancelled,       &DirectTable::ReadSource};
        const std::string config_text = json::serialize(config);
        std::string message;
        cascade_sink sink{&message, &DirectTable::Append};
        if (api_->create(&services_, config_text.data(), config_text.size(), &instance_, &sink) != CASCADE_OK) {
            error_ = "create refused: " + message;
            instance_ = nullptr;
        }
    }
    ~DirectTable() {
        if (instance_ != nullptr) {
            api_->destroy(instance_);
        }
    }
    DirectTable(const DirectTable&) = delete;
    DirectTable& operator=(const DirectTable&) = delete;

    const std::string& Error() const { return error_; }

    // `out` is cleared and receives the answer; returns the status.
    int Call(std::string_view method, std::string_view params, std::string& out) {
        out.clear();
        cascade_sink sink{&out, &DirectTable::Append};
        return api_->call(instance_, method.data(), method.size(), params.data(), params.size(), &sink);
    }

private:
    static void Append(void* context, const char* data, std::size_t size) {
        static_cast<std::string*>(context)->append(data, size);
    }
    static void Log(void*, int, const char*, std::size_t) {}
    static int Cancelled(void*) { return 0; }
    static int ReadSource(void*, const char*, std::size_t, const char*, std::size_t, cascade_sink*) {
        return CASCADE_ERROR;
    }

    std::unique_ptr<void, int (*)(void*)> handle_;
    const cascade_plugin_api* api_ = nullptr;
    cascade_host_services services_{};
    void* instance_ = nullptr;
    std::string error_;
};

// ------------------------------------------------------------------ 1. in-process calls

void RunInProcess(int runs, std::size_t calls, const fs::path& scratch) {
    const Subject subject = InProcessSubject(scratch);
    std::printf("\nin-process: %s `%s`, %zu calls per run (load average %s)\n", subject.file.filename().c_str(),
                subject.method.c_str(), calls, LoadAverage().c_str());
    auto instance = OpenThroughHost(subject);
    DirectTable direct(subject.file, subject.config);
    if (!instance || !direct.Error().empty()) {
        if (!direct.Error().empty()) {
            Fail(direct.Error());
        }
        return;
    }
    const std::string params_text = json::serialize(subject.params);
    std::string answer;

    // Warm both paths (page faults, the worker's first wake-up, allocator
    // pools) and check what each answers.
    for (std::size_t i = 0; i < std::min<std::size_t>(calls, 1'000); ++i) {
        if (!CheckResult(instance->Call(subject.method, subject.params), subject, "Instance::Call")) {
            return;
        }
        if (direct.Call(subject.method, params_text, answer) != CASCADE_OK) {
            Fail("direct " + subject.method + ": " + answer);
            return;
        }
    }
    json::error_code parse_error;
    const json::value direct_value = json::parse(answer, parse_error);
    if (parse_error || (subject.expected && direct_value != *subject.expected)) {
        Fail("direct " + subject.method + " answered " + answer);
        return;
    }
    const std::string answer_text = answer;

    Row host_row{"Instance::Call (host, worker thread)", {}, "ns/call", 0, {}, {}};
    Row host_cpu_row{"  CPU per call, both threads", {}, "ns/call", 0, {}, {}};
    Row direct_row{"C table called directly", {}, "ns/call", 0, {}, {}};
    Row overhead_row{"host overhead (difference)", {}, "ns/call", 0, "< 5,000 ns/call", {}};
    overhead_row.met = [](double ns) { return ns < 5'000; };
    Row json_row{"  of which JSON serialize + parse", {}, "ns/call", 0, {}, {}};
    const auto per_call = [calls](Clock::duration duration) {
        return Seconds(duration) * 1e9 / static_cast<double>(calls);
    };
    std::size_t sink_bytes = 0;  // keeps the JSON loop's work observable
    for (int run = 0; run < runs; ++run) {
        const auto time_host = [&] {
            const double cpu_start = CpuSeconds();
            const auto start = Clock::now();
            for (std::size_t i = 0; i < calls; ++i) {
                const plugin::CallResult result = instance->Call(subject.method, subject.params);
                if (!result.Ok()) {
                    Fail("Instance::Call " + subject.method + ": " + result.message);
                    return false;
                }
            }
            host_row.samples.push_back(per_call(Clock::now() - start));
            host_cpu_row.samples.push_back((CpuSeconds() - cpu_start) * 1e9 / static_cast<double>(calls));
            return true;
        };
        const auto time_direct = [&] {
            const auto start = Clock::now();
            for (std::size_t i = 0; i < calls; ++i) {
                if (direct.Call(subject.method, params_text, answer) != CASCADE_OK) {
                    Fail("direct " + subject.method + ": " + answer);
                    return false;
                }
            }
            direct_row.samples.push_back(per_call(Clock::now() - start));
            return true;
        };
        // Alternate which goes first, so neither always runs on a cooler cache.
        const bool ok = run % 2 == 0 ? time_host() && time_direct() : time_direct() && time_host();
        if (!ok) {
            return;
        }
        overhead_row.samples.push_back(host_row.samples.back() - direct_row.samples.back());

        // The share of the overhead that is JSON on the host's side: params
        // serialized, the answer parsed (what Call does besides the hand-off).
        const auto start = Clock::now();
        for (std::size_t i = 0; i < calls; ++i) {
            const std::string text = json::serialize(subject.params);
            const json::value value = json::parse(answer_text);
            sink_bytes += text.size() + (value.is_object() ? value.as_object().size() : 0);
        }
        json_row.samples.push_back(per_call(Clock::now() - start));
    }
    if (sink_bytes == 0) {
        Fail("the JSON loop did nothing");
    }
    PrintHeader();
    for (const Row* row : {&host_row, &host_cpu_row, &direct_row, &overhead_row, &json_row}) {
        PrintRow(*row);
    }
}

// ------------------------------------------------------------------ 2. process round trips

void RunProcess(int runs, std::size_t calls, const fs::path& scratch) {
    const Subject subject = ProcessSubject(scratch);
    std::printf("\nout-of-process: %s `%s`, %zu calls per run and mode (load average %s)\n",
                subject.file.filename().c_str(), subject.method.c_str(), calls, LoadAverage().c_str());
    auto instance = OpenThroughHost(subject);
    if (!instance) {
        return;
    }
    for (int i = 0; i < 100; ++i) {
        if (!CheckResult(instance->Call(subject.method, subject.params), subject, "Call")) {
            return;
        }
    }
    Row single_row{"Call, one at a time", {}, "calls/s", 0, {}, {}};
    Row single_latency_row{"  round trip", {}, "us/call", 1, {}, {}};
    const std::vector<json::object> batch(std::min(kBatchSize, calls), subject.params);
    const std::string batch_label = "CallBatch, " + std::to_string(batch.size()) + " per batch (pipelined)";
    Row batch_row{batch_label, {}, "calls/s", 0, ">= 20,000 calls/s", {}};
    batch_row.met = [](double rate) { return rate >= 20'000; };
    for (int run = 0; run < runs; ++run) {
        auto start = Clock::now();
        for (std::size_t i = 0; i < calls; ++i) {
            const plugin::CallResult result = instance->Call(subject.method, subject.params);
            if (!result.Ok()) {
                Fail("Call " + subject.method + ": " + result.message);
                return;
            }
        }
        double seconds = Seconds(Clock::now() - start);
        single_row.samples.push_back(static_cast<double>(calls) / seconds);
        single_latency_row.samples.push_back(seconds * 1e6 / static_cast<double>(calls));

        start = Clock::now();
        std::size_t done = 0;
        while (done < calls) {
            const auto results = instance->CallBatch(subject.method, batch);
            if (results.size() != batch.size()) {
                Fail("CallBatch answered " + std::to_string(results.size()) + " of " + std::to_string(batch.size()));
                return;
            }
            for (const auto& result : results) {
                if (!result.Ok()) {
                    Fail("CallBatch " + subject.method + ": " + result.message);
                    return;
                }
            }
            done += results.size();
        }
        seconds = Seconds(Clock::now() - start);
        batch_row.samples.push_back(static_cast<double>(done) / seconds);
    }
    // The last answers must still be the right ones, not only "ok".
    CheckResult(instance->CallBatch(subject.method, batch).back(), subject, "CallBatch");
    PrintHeader();
    for (const Row* row : {&single_row, &single_latency_row, &batch_row}) {
        PrintRow(*row);
    }
}

// ------------------------------------------------------------------ 3. outbox delivery

std::string WorkflowText(const fs::path& log_file) {
    // The path as a JSON string is a valid YAML double-quoted scalar.
    return R"(# One township, one task, and the notifier the delivery benchmark drains into.
apiVersion: cascade/v1
kind: Workflow
id: bench-notify
version: 1
title: {zh: 通知基准, en: Notification benchmark}
calendar: {start: 2023-09-01, end: 2024-01-31}

scope:
  categories:
    township: {zh: 乡镇, en: Township}

roles:
  leader: {title: {zh: 第一责任人, en: First responsible person}}

stages:
  study: {title: {zh: 理论学习, en: Study}}

plugins:
  log:
    plugin: notify-log
    config: {path: )" +
           json::serialize(json::string(log_file.string())) + R"(}

steps:
  study_plan:
    kind: task
    stage: study
    title: {zh: 制定学习计划, en: Study plan}
    assignee: leader
    due: 2023-11-30
    next: done

  done:
    kind: end
    title: {zh: 完成, en: Done}
)";
}

// Steps the reminders are about: id, Chinese title, English title.
constexpr const char* kSteps[][3] = {{"study_plan", "制定学习计划", "Study plan"},
                                     {"reading_class", "读书班", "Reading class"},
                                     {"survey", "调查研究", "Survey"},
                                     {"problem_list", "检视问题清单", "Problem list"}};

// A notification as the runtime queues one: a reminder to a unit's leader.
std::string ReminderPayload(const std::string& instance, std::size_t index) {
    const auto& step = kSteps[index % 4];
    const int day = static_cast<int>(index % 28) + 1;
    char on[11];
    std::snprintf(on, sizeof on, "2023-11-%02d", day);
    return json::serialize(json::object{
        {"event", "remind"},
        {"workflow", "bench-notify"},
        {"instance", instance},
        {"unit", "t01"},
        {"unit_name", "城关镇党委"},
        {"on", on},
        {"step", step[0]},
        {"step_title", json::object{{"zh", step[1]}, {"en", step[2]}}},
        {"due", "2023-11-30"},
        {"to",
         json::object{{"role", "leader"},
                      {"unit", "t01"},
                      {"people", json::array{json::object{{"name", "张三"}, {"contact", "t01@example.gov.cn"}}}}}},
        {"template", "due-reminder"}});
}

struct OutboxRun {
    double enqueue_seconds = 0;
    double deliver_seconds = 0;
    double deliver_cpu_seconds = 0;
    bool ok = false;
};

// How the drain delivers:
//   plugin   through a PluginDispatcher (the engine's way)
//   direct   notify-log's C table called on the draining thread, params built
//            as the dispatcher builds them: the drain without the host
//   nothing  a deliverer that does nothing: the runtime and the store alone
enum class Delivering { plugin, direct, nothing };

// The deliverer of Delivering::direct.
runtime::Deliverer DirectDeliverer(DirectTable& table, std::string& answer) {
    return [&table, &answer](const store::OutboxRow& effect) {
        json::object params{{"key", effect.key}, {"declaration", effect.target}, {"attempt", effect.attempts + 1}};
        params["payload"] = json::parse(effect.payload);
        if (table.Call("notify", json::serialize(params), answer) != CASCADE_OK) {
            return runtime::Delivery{runtime::Delivery::Status::retry, answer, {}};
        }
        return runtime::Delivery{};
    };
}

std::int64_t CountPending(store::Store& store) {
    auto count = store.Db().Prepare("SELECT count(*) FROM outbox WHERE status = 'pending'");
    count.Step();
    return count.Int64(0);
}

std::size_t CountLines(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::size_t lines = 0;
    std::vector<char> buffer(1 << 16);
    while (in.read(buffer.data(), static_cast<std::streamsize>(buffer.size())) || in.gcount() > 0) {
        lines += static_cast<std::size_t>(std::count(buffer.data(), buffer.data() + in.gcount(), '\n'));
    }
    return lines;
}

OutboxRun RunOutboxOnce(const fs::path& folder, std::size_t notifications, Delivering delivering) {
    OutboxRun outcome;
    fs::create_directories(folder);
    const fs::path log_file = folder / "notify.log";
    const fs::path workflow_file = folder / "bench-notify.yaml";
    std::ofstream(workflow_file, std::ios::binary) << WorkflowText(log_file);

    auto store = store::Store::Open((folder / "campaign.db").string());
    const auto start_day = model::Date::Parse("2023-11-20");
    engine::VirtualClock clock(engine::StartOfDay(*start_day, kUtcOffset) + 9 * 3'600'000LL);
    runtime::RuntimeOptions options;
    options.utc_offset_minutes = kUtcOffset;
    runtime::Runtime runtime(store, clock, options);

    model::Unit unit;
    unit.id = "t01";
    unit.name = "城关镇党委";
    unit.category = "township";
    unit.roles["leader"] = {{"张三", "t01@example.gov.cn"}};
    if (auto refused = runtime.ImportUnits(model::UnitTree::Build({unit}))) {
        Fail("roster refused: " + *refused);
        return outcome;
    }
    auto registered = runtime.Register(workflow_file.string());
    if (auto* diagnostics = std::get_if<lang::Diagnostics>(&registered)) {
        Fail("the benchmark workflow does not load: " +
             (diagnostics->Items().empty() ? std::string("?") : lang::FormatText(diagnostics->Items().front())));
        return outcome;
    }
    const auto started = runtime.StartCampaign(std::get<runtime::Workflow>(registered), {});
    if (started.error || started.instances.size() != 1) {
        Fail("the campaign did not start: " + (started.error ? started.error->message : std::string("no instance")));
        return outcome;
    }
    const std::string& instance = started.instances.front();
    const std::int64_t pending_before = CountPending(store);

    // Payloads are built before the clock starts: only the store is timed here.
    std::vector<store::OutboxRow> rows(notifications);
    for (std::size_t i = 0; i < notifications; ++i) {
        store::OutboxRow& row = rows[i];
        row.key = instance + "/remind/" + std::to_string(i);
        row.instance = instance;
        row.kind = "notify";
        row.target = "log";
        row.payload = ReminderPayload(instance, i);
        row.next_attempt_at = clock.Now();
        row.created_at = clock.Now();
    }
    auto start = Clock::now();
    {
        store::Store::WriteTransaction transaction(store);
        for (const auto& row : rows) {
            if (!store.Enqueue(row)) {
                Fail("effect " + row.key + " was not queued");
                return outcome;
            }
        }
        transaction.Commit();
    }
    outcome.enqueue_seconds = Seconds(Clock::now() - start);
    rows.clear();
    rows.shrink_to_fit();

    runtime::DispatchOptions dispatch;
    dispatch.plugin_folders = {fs::path(CASCADE_PLUGIN_BUILD_DIR)};
    std::ostringstream builtin_log;
    runtime::DeliveryCounts counts;
    {
        runtime::PluginDispatcher dispatcher(runtime, dispatch, builtin_log);
        std::optional<DirectTable> table;
        std::string answer;
        runtime::Deliverer deliver = [](const store::OutboxRow&) { return runtime::Delivery{}; };
        if (delivering == Delivering::plugin) {
            deliver = [&dispatcher](const store::OutboxRow& effect) { return dispatcher(effect); };
        } else if (delivering == Delivering::direct) {
            table.emplace(fs::path(CASCADE_PLUGIN_BUILD_DIR) / "notify-log.so",
                          json::object{{"path", log_file.string()}});
            if (!table->Error().empty()) {
                Fail(table->Error());
                return outcome;
            }
            deliver = DirectDeliverer(*table, answer);
        }
        const int limit = static_cast<int>(notifications + static_cast<std::size_t>(pending_before));
        const double cpu_start = CpuSeconds();
        start = Clock::now();
        counts = runtime.DeliverDueEffects(deliver, limit);
        outcome.deliver_seconds = Seconds(Clock::now() - start);
        outcome.deliver_cpu_seconds = CpuSeconds() - cpu_start;
    }  // the plugin instance closes its file here

    outcome.ok = true;
    const auto expected = static_cast<int>(notifications);
    if (counts.delivered != expected + pending_before || counts.retried != 0 || counts.dead != 0) {
        std::string reason;
        for (const auto& row : store.Outbox()) {
            if (!row.last_error.empty()) {
                reason = ": " + row.last_error;
                break;
            }
        }
        Fail("delivered " + std::to_string(counts.delivered) + ", retried " + std::to_string(counts.retried) +
             ", dead " + std::to_string(counts.dead) + " of " + std::to_string(notifications) + reason);
        outcome.ok = false;
    }
    if (delivering == Delivering::nothing) {
        // Nothing to count in a file.
    } else if (const std::size_t lines = CountLines(log_file); lines != notifications) {
        Fail(log_file.string() + " has " + std::to_string(lines) + " lines, not " + std::to_string(notifications));
        outcome.ok = false;
    } else if (notifications > 0) {
        std::ifstream in(log_file, std::ios::binary);
        std::string first;
        std::getline(in, first);
        json::error_code error;
        const json::value line = json::parse(first, error);
        if (error || !line.is_object() || line.as_object().if_contains("key") == nullptr ||
            line.as_object().at("key") != json::value(instance + "/remind/0") ||
            line.as_object().if_contains("to") == nullptr) {
            Fail("the first line of " + log_file.string() + " is not the first notification: " + first);
            outcome.ok = false;
        }
    }
    if (const std::int64_t pending = CountPending(store); pending != 0) {
        Fail(std::to_string(pending) + " effects are still pending");
        outcome.ok = false;
    }
    return outcome;
}

void RunOutbox(int runs, std::size_t notifications, const fs::path& scratch) {
    std::printf("\noutbox: %zu notifications to notify-log (%s), a fresh database per run (load average %s)\n",
                notifications, CASCADE_PLUGIN_BUILD_DIR, LoadAverage().c_str());
    const double budget = 10.0 * static_cast<double>(notifications) / 100'000.0;  // 100,000 in 10 s
    char goal[64];
    std::snprintf(goal, sizeof goal, "< %.3g s (100,000/10 s)", budget);
    Row enqueue_row{"Store::Enqueue, one transaction", {}, "s", 3, {}, {}};
    Row deliver_row{"DeliverDueEffects, PluginDispatcher", {}, "s", 3, goal, {}};
    deliver_row.met = [budget](double seconds) { return seconds < budget; };
    Row rate_row{"  notifications delivered", {}, "per s", 0, {}, {}};
    Row per_effect_row{"  per notification", {}, "us", 1, {}, {}};
    Row cpu_row{"  CPU time, all threads", {}, "s", 3, {}, {}};
    Row direct_row{"DeliverDueEffects, notify-log's C table", {}, "s", 3, {}, {}};
    Row direct_cpu_row{"  CPU time", {}, "s", 3, {}, {}};
    Row nothing_row{"DeliverDueEffects, a no-op deliverer", {}, "s", 3, {}, {}};
    Row nothing_cpu_row{"  CPU time", {}, "s", 3, {}, {}};
    for (int run = 0; run < runs; ++run) {
        for (const Delivering delivering : {Delivering::plugin, Delivering::direct, Delivering::nothing}) {
            const fs::path folder = scratch / ("outbox-" + std::to_string(run));
            const OutboxRun outcome = RunOutboxOnce(folder, notifications, delivering);
            std::error_code ignored;
            fs::remove_all(folder, ignored);
            if (!outcome.ok) {
                return;
            }
            switch (delivering) {
            case Delivering::plugin:
                enqueue_row.samples.push_back(outcome.enqueue_seconds);
                deliver_row.samples.push_back(outcome.deliver_seconds);
                cpu_row.samples.push_back(outcome.deliver_cpu_seconds);
                rate_row.samples.push_back(static_cast<double>(notifications) / outcome.deliver_seconds);
                per_effect_row.samples.push_back(outcome.deliver_seconds * 1e6 / static_cast<double>(notifications));
                break;
            case Delivering::direct:
                direct_row.samples.push_back(outcome.deliver_seconds);
                direct_cpu_row.samples.push_back(outcome.deliver_cpu_seconds);
                break;
            case Delivering::nothing:
                nothing_row.samples.push_back(outcome.deliver_seconds);
                nothing_cpu_row.samples.push_back(outcome.deliver_cpu_seconds);
                break;
            }
        }
    }
    PrintHeader();
    for (const Row* row : {&enqueue_row, &deliver_row, &rate_row, &per_effect_row, &cpu_row, &direct_row,
                           &direct_cpu_row, &nothing_row, &nothing_cpu_row}) {
        PrintRow(*row);
    }
}

std::optional<std::size_t> ParseCount(const char* text) {
    char* end = nullptr;
    const unsigned long long value = std::strtoull(text, &end, 10);
    if (end == text || *end != '\0' || value == 0) {
        return std::nullopt;
    }
    return static_cast<std::size_t>(value);
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t runs = 5;
    std::size_t calls = 200'000;
    std::size_t process_calls = 50'000;
    std::size_t notifications = 100'000;
    std::string only;
    const auto usage = [] {
        std::fprintf(stderr,
                     "usage: bench_plugins [--runs 5] [--calls 200000] [--process-calls 50000] "
                     "[--notifications 100000] [--only inproc|process|outbox]\n");
        return 2;
    };
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (i + 1 >= argc) {
            return usage();
        }
        const char* value = argv[++i];
        if (arg == "--only") {
            only = value;
            if (only != "inproc" && only != "process" && only != "outbox") {
                return usage();
            }
            continue;
        }
        std::size_t* target = arg == "--runs"            ? &runs
                              : arg == "--calls"         ? &calls
                              : arg == "--process-calls" ? &process_calls
                              : arg == "--notifications" ? &notifications
                                                         : nullptr;
        const auto count = ParseCount(value);
        if (target == nullptr || !count) {
            return usage();
        }
        *target = *count;
    }
    const int run_count = static_cast<int>(std::min<std::size_t>(runs, 1'000));
    std::printf("bench_plugins: medians of %d runs; %ld online CPUs\n", run_count, ::sysconf(_SC_NPROCESSORS_ONLN));
    ScratchDir scratch;
    if (only.empty() || only == "inproc") {
        RunInProcess(run_count, calls, scratch.Path());
    }
    if (only.empty() || only == "process") {
        RunProcess(run_count, process_calls, scratch.Path());
    }
    if (only.empty() || only == "outbox") {
        RunOutbox(run_count, notifications, scratch.Path());
    }
    if (check_failures != 0) {
        std::fprintf(stderr, "%d check(s) failed\n", check_failures);
        return 1;
    }
    return 0;
}
