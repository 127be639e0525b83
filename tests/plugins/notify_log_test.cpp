// notify-log, loaded from the build tree through the host API: one valid JSON
// line per notification, whole lines under concurrent writers, the host log
// when no file is configured, and the config schema's refusals.
#include "cascade/plugin/plugin.hpp"

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <variant>
#include <vector>

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using cascade::plugin::Status;

fs::path LibraryPath() {
    return fs::path(CASCADE_PLUGIN_BUILD_DIR) / "notify-log.so";
}

cascade::plugin::Manifest LoadManifest(const fs::path& file = LibraryPath()) {
    auto manifest = cascade::plugin::ReadManifest(file);
    if (const auto* message = std::get_if<std::string>(&manifest)) {
        FAIL(*message);
    }
    return std::get<cascade::plugin::Manifest>(std::move(manifest));
}

std::variant<std::unique_ptr<cascade::plugin::Instance>, std::string> TryOpen(json::object config,
                                                                              const fs::path& file = LibraryPath()) {
    cascade::plugin::OpenOptions options;
    options.declaration = "log";
    options.config = std::move(config);
    return cascade::plugin::Open(LoadManifest(file), options);
}

std::unique_ptr<cascade::plugin::Instance> OpenLog(json::object config, const fs::path& file = LibraryPath()) {
    auto opened = TryOpen(std::move(config), file);
    if (const auto* message = std::get_if<std::string>(&opened)) {
        FAIL(*message);
    }
    return std::get<std::unique_ptr<cascade::plugin::Instance>>(std::move(opened));
}

json::object Notification(const std::string& key, int attempt = 1) {
    return json::object{
        {"key", key},
        {"declaration", "log"},
        {"attempt", attempt},
        {"payload",
         json::object{{"event", "remind"},
                      {"workflow", "theme-education-2023"},
                      {"instance", "theme-education-2023/t01"},
                      {"unit", "t01"},
                      {"unit_name", "城关镇党委"},
                      {"on", "2023-11-20"},
                      {"step", "study_plan"},
                      {"step_title", json::object{{"zh", "制定学习计划"}, {"en", "Study plan"}}},
                      {"due", "2023-11-30"},
                      {"to", json::object{{"role", "leader"},
                                          {"unit", "t01"},
                                          {"people", json::array{json::object{{"name", "张三"},
                                                                              {"contact", "t01@example.gov.cn"}}}}}}}}};
}

std::vector<std::string> ReadLines(const fs::path& file) {
    std::ifstream stream(file, std::ios::binary);
    std::vector<std::string> lines;
    for (std::string line; std::getline(stream, line);) {
        lines.push_back(line);
    }
    return lines;
}

// A scratch folder for one test, removed when the test ends.
class ScratchDir {
public:
    ScratchDir() {
        std::string pattern = (fs::temp_directory_path() / "cascade-notify-log-XXXXXX").string();
        REQUIRE(mkdtemp(pattern.data()) != nullptr);
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

}  // namespace

TEST_CASE("notify-log appends one JSON line per notification", "[plugins][notify-log]") {
    ScratchDir dir;
    const fs::path file = dir.Path() / "notifications.jsonl";
    auto log = OpenLog(json::object{{"path", file.string()}});

    for (int i = 1; i <= 3; ++i) {
        const auto result = log->Call("notify", Notification("key-" + std::to_string(i), i));
        INFO(result.message);
        REQUIRE(result.status == Status::ok);
    }
    const auto lines = ReadLines(file);
    REQUIRE(lines.size() == 3);
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const json::value line = json::parse(lines[i]);
        REQUIRE(line.is_object());
        const auto& fields = line.as_object();
        CHECK(fields.at("key") == json::value("key-" + std::to_string(i + 1)));
        CHECK(fields.at("declaration") == "log");
        CHECK(fields.at("attempt") == static_cast<std::int64_t>(i + 1));
        CHECK(fields.at("event") == "remind");
        CHECK(fields.at("unit") == "t01");
        CHECK(fields.at("unit_name") == "城关镇党委");
        CHECK(fields.at("step") == "study_plan");
        CHECK(fields.at("due") == "2023-11-30");
        CHECK(fields.at("to").at("people").at(0).at("contact") == "t01@example.gov.cn");
    }

    // A second instance on the same file appends after the first one's lines.
    log.reset();
    auto again = OpenLog(json::object{{"path", file.string()}});
    REQUIRE(again->Call("notify", Notification("key-4")).status == Status::ok);
    CHECK(ReadLines(file).size() == 4);
}

TEST_CASE("notify-log keeps only the configured payload fields", "[plugins][notify-log]") {
    ScratchDir dir;
    const fs::path file = dir.Path() / "few.jsonl";
    auto log = OpenLog(json::object{{"path", file.string()}, {"fields", json::array{"event", "unit", "missing"}}});
    auto params = Notification("k");
    // A payload field never replaces the notification's own key.
    params["payload"].as_object()["key"] = "from-the-payload";
    REQUIRE(log->Call("notify", params).status == Status::ok);

    const auto lines = ReadLines(file);
    REQUIRE(lines.size() == 1);
    const json::object line = json::parse(lines[0]).as_object();
    CHECK(line ==
          json::object{{"key", "k"}, {"declaration", "log"}, {"attempt", 1}, {"event", "remind"}, {"unit", "t01"}});

    params["payload"].as_object()["key"] = "ignored";
    auto all = OpenLog(json::object{{"path", file.string()}});
    REQUIRE(all->Call("notify", params).status == Status::ok);
    CHECK(json::parse(ReadLines(file).at(1)).at("key") == "k");
}

TEST_CASE("notify-log lines from concurrent writers never interleave", "[plugins][notify-log]") {
    ScratchDir dir;
    const fs::path file = dir.Path() / "shared.jsonl";
    constexpr std::size_t kWriters = 3;
    constexpr std::size_t kLinesEach = 150;
    std::vector<std::unique_ptr<cascade::plugin::Instance>> writers;
    writers.reserve(kWriters);
    for (std::size_t i = 0; i < kWriters; ++i) {
        writers.push_back(OpenLog(json::object{{"path", file.string()}}));
    }
    // A long message makes each line several kilobytes, so a torn write would show.
    const std::string long_text(3000, 'x');
    std::vector<std::thread> threads;
    std::vector<int> failures(kWriters, 0);
    threads.reserve(kWriters);
    for (std::size_t w = 0; w < kWriters; ++w) {
        threads.emplace_back([&, w] {
            for (std::size_t n = 0; n < kLinesEach; ++n) {
                auto params = Notification("w" + std::to_string(w) + "-" + std::to_string(n));
                params["payload"].as_object()["message"] = json::object{{"zh", long_text}, {"en", long_text}};
                if (writers[w]->Call("notify", params).status != Status::ok) {
                    ++failures[w];
                }
            }
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    CHECK(failures == std::vector<int>(kWriters, 0));

    const auto lines = ReadLines(file);
    REQUIRE(lines.size() == kWriters * kLinesEach);
    std::set<std::string> keys;
    for (const auto& line : lines) {
        json::error_code error;
        const json::value parsed = json::parse(line, error);
        REQUIRE_FALSE(error);
        keys.insert(std::string(parsed.at("key").as_string()));
    }
    CHECK(keys.size() == kWriters * kLinesEach);
}

TEST_CASE("notify-log writes to the engine's log when no file is configured", "[plugins][notify-log]") {
    std::ostringstream captured;
    auto previous = spdlog::default_logger();
    auto capture =
        std::make_shared<spdlog::logger>("capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(captured));
    capture->set_level(spdlog::level::trace);
    spdlog::set_default_logger(capture);

    auto log = OpenLog(json::object{});
    const auto result = log->Call("notify", Notification("host-log-key"));
    log.reset();
    spdlog::set_default_logger(previous);

    REQUIRE(result.status == Status::ok);
    const std::string text = captured.str();
    CHECK(text.find("\"key\":\"host-log-key\"") != std::string::npos);
    CHECK(text.find("\"event\":\"remind\"") != std::string::npos);
}

TEST_CASE("notify-log retries while its file cannot be opened", "[plugins][notify-log]") {
    ScratchDir dir;
    const fs::path file = dir.Path() / "not-yet" / "lines.jsonl";
    auto log = OpenLog(json::object{{"path", file.string()}});

    auto result = log->Call("notify", Notification("k1"));
    CHECK(result.status == Status::retry);
    CHECK_THAT(result.message, Catch::Contains(file.string()));
    const auto test = log->Call("self_test", json::object{});
    CHECK(test.status == Status::error);
    CHECK_THAT(test.message, Catch::Contains(file.string()));

    // The folder appears (a volume mounted late): the next attempt succeeds.
    fs::create_directories(file.parent_path());
    result = log->Call("notify", Notification("k1", 2));
    INFO(result.message);
    CHECK(result.status == Status::ok);
    CHECK(ReadLines(file).size() == 1);
}

TEST_CASE("notify-log refuses malformed notifications", "[plugins][notify-log]") {
    ScratchDir dir;
    auto log = OpenLog(json::object{{"path", (dir.Path() / "x.jsonl").string()}});
    auto no_key = Notification("k");
    no_key.erase("key");
    CHECK(log->Call("notify", no_key).status == Status::error);
    auto bad_payload = Notification("k");
    bad_payload["payload"] = "not an object";
    CHECK(log->Call("notify", bad_payload).status == Status::error);
    CHECK(log->Call("report", json::object{}).status == Status::error);
    const bool written = fs::exists(dir.Path() / "x.jsonl") && fs::file_size(dir.Path() / "x.jsonl") > 0;
    CHECK_FALSE(written);
}

TEST_CASE("notify-log self_test reports its destination", "[plugins][notify-log]") {
    ScratchDir dir;
    auto log = OpenLog(json::object{{"path", (dir.Path() / "ok.jsonl").string()}});
    const auto result = log->Call("self_test", json::object{});
    INFO(result.message);
    REQUIRE(result.status == Status::ok);
    for (const auto& check : result.value.at("checks").as_array()) {
        CHECK(check.at("ok") == true);
    }
}

TEST_CASE("notify-log's schema refuses a bad config, naming the field", "[plugins][notify-log]") {
    const auto manifest = LoadManifest();
    CHECK(manifest.name == "notify-log");
    CHECK(manifest.HasKind("notifier"));
    CHECK(cascade::plugin::CheckConfig(manifest, json::object{}).empty());
    CHECK(cascade::plugin::CheckConfig(manifest, json::object{{"path", "/tmp/x"}, {"fields", json::array{"event"}}})
              .empty());

    auto problems = cascade::plugin::CheckConfig(manifest, json::object{{"path", 42}});
    REQUIRE_FALSE(problems.empty());
    CHECK_THAT(problems.front(), Catch::Contains("/path"));

    problems = cascade::plugin::CheckConfig(manifest, json::object{{"fields", json::array{"event", 3}}});
    REQUIRE_FALSE(problems.empty());
    CHECK_THAT(problems.front(), Catch::Contains("/fields"));

    problems = cascade::plugin::CheckConfig(manifest, json::object{{"file", "/tmp/x"}});
    REQUIRE_FALSE(problems.empty());
    std::string all;
    for (const auto& problem : problems) {
        all += problem + "\n";
    }
    CHECK_THAT(all, Catch::Contains("file"));

    const auto opened = TryOpen(json::object{{"path", 42}});
    REQUIRE(std::holds_alternative<std::string>(opened));
    CHECK_THAT(std::get<std::string>(opened), Catch::Contains("/path"));
}

TEST_CASE("notify-log runs in its own process too", "[plugins][notify-log]") {
    const fs::path process_manifest = fs::path(CASCADE_PLUGIN_BUILD_DIR) / "notify-log-stdio.plugin.json";
    ScratchDir dir;
    const fs::path file = dir.Path() / "process.jsonl";
    auto log = OpenLog(json::object{{"path", file.string()}}, process_manifest);
    std::vector<json::object> batch;
    batch.reserve(20);
    for (int i = 0; i < 20; ++i) {
        batch.push_back(Notification("p-" + std::to_string(i)));
    }
    const auto results = log->CallBatch("notify", batch);
    REQUIRE(results.size() == batch.size());
    for (const auto& result : results) {
        INFO(result.message);
        CHECK(result.status == Status::ok);
    }
    log.reset();
    const auto lines = ReadLines(file);
    REQUIRE(lines.size() == batch.size());
    CHECK(json::parse(lines.back()).at("key") == "p-19");
}
