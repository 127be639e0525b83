// The plugin host against the fixture plugins (tests/plugin/fixtures): what
// is refused before any plugin code runs, what is refused after loading,
// and how every failure of a loaded plugin (throws, hangs, crashes, garbage)
// becomes a retry with a message naming it, with the host still usable.
#include "cascade/plugin/framing.hpp"
#include "cascade/plugin/plugin.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace cascade::plugin {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using std::chrono::milliseconds;

fs::path Fixture(const std::string& folder, const std::string& file) {
    return fs::path(CASCADE_FIXTURE_PLUGIN_DIR) / folder / file;
}

Manifest MustRead(const fs::path& file) {
    auto read = ReadManifest(file);
    if (auto* failure = std::get_if<std::string>(&read)) {
        FAIL(*failure);
    }
    return std::get<Manifest>(read);
}

std::string OpenFailure(const Manifest& manifest, OpenOptions options = {}) {
    auto opened = Open(manifest, options);
    if (auto* failure = std::get_if<std::string>(&opened)) {
        return *failure;
    }
    FAIL("expected " << manifest.name << " to be refused");
    return {};
}

std::unique_ptr<Instance> MustOpen(const Manifest& manifest, OpenOptions options = {}) {
    options.plugin_host = CASCADE_BINARY;
    auto opened = Open(manifest, options);
    if (auto* failure = std::get_if<std::string>(&opened)) {
        FAIL(*failure);
    }
    return std::move(std::get<std::unique_ptr<Instance>>(opened));
}

// A scratch folder and the load marker the fixtures write when their code runs.
struct Scratch {
    fs::path path;
    Scratch() {
        std::string pattern = (fs::temp_directory_path() / "cascade-plugin-XXXXXX").string();
        REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        path = pattern;
        ::setenv("CASCADE_FIXTURE_LOAD_MARKER", (path / "loaded").c_str(), 1);
    }
    ~Scratch() {
        ::unsetenv("CASCADE_FIXTURE_LOAD_MARKER");
        std::error_code ignored;
        fs::remove_all(path, ignored);
    }
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;
    bool AnyCodeRan() const { return fs::exists(path / "loaded"); }
};

OpenOptions GoodConfig(const Scratch& scratch) {
    OpenOptions options;
    options.config = json::object{{"path", (scratch.path / "good.log").string()}};
    options.timeout = milliseconds(5'000);
    return options;
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

TEST_CASE("discovery finds every readable fixture and lists the unreadable ones", "[plugin][loader]") {
    const Catalog catalog = Discover({CASCADE_FIXTURE_PLUGIN_DIR});
    for (const char* name :
         {"fixture-good", "fixture-good-stdio", "fixture-older-minor", "fixture-newer-minor", "fixture-wrong-major",
          "fixture-missing-symbol", "fixture-throws", "fixture-hangs", "fixture-hangs-stdio", "fixture-crashes",
          "fixture-garbage", "fixture-garbage-stdio", "fixture-slow-start"}) {
        INFO(name);
        CHECK(catalog.Find(name) != nullptr);
    }
    CHECK(catalog.Find("fixture-no-manifest") == nullptr);
    std::string problems;
    for (const auto& problem : catalog.problems)
        problems += problem + "\n";
    CHECK_THAT(problems, Catch::Contains("no-manifest") && Catch::Contains("no plugin manifest"));
    CHECK_THAT(problems, Catch::Contains("bad-manifest") && Catch::Contains("\"kinds\""));
    CHECK_THAT(problems, Catch::Contains("bad-json") && Catch::Contains("not valid JSON"));
    CHECK(catalog.Find("fixture-good")->transport == Transport::library);
    CHECK(catalog.Find("fixture-good-stdio")->transport == Transport::process);
}

TEST_CASE("the search path puts --plugin-dir first, then CASCADE_PLUGIN_PATH, then the install prefix",
          "[plugin][loader]") {
    ::setenv("CASCADE_PLUGIN_PATH", "/opt/a:/opt/b", 1);
    const auto folders = SearchPath({"/first"});
    ::unsetenv("CASCADE_PLUGIN_PATH");
    REQUIRE(folders.size() >= 4);
    CHECK(folders[0] == "/first");
    CHECK(folders[1] == "/opt/a");
    CHECK(folders[2] == "/opt/b");
    CHECK(folders.back().string().find("cascade/plugins") != std::string::npos);
}

TEST_CASE("manifests that cannot be trusted are refused before any plugin code runs", "[plugin][loader]") {
    Scratch scratch;
    SECTION("no manifest section") {
        auto read = ReadManifest(Fixture("no-manifest", "fixture-no-manifest.so"));
        REQUIRE(std::holds_alternative<std::string>(read));
        CHECK_THAT(std::get<std::string>(read), Catch::Contains("no plugin manifest"));
    }
    SECTION("a manifest without kinds") {
        auto read = ReadManifest(Fixture("bad-manifest", "fixture-bad-manifest.so"));
        REQUIRE(std::holds_alternative<std::string>(read));
        CHECK_THAT(std::get<std::string>(read), Catch::Contains("\"kinds\" is missing"));
    }
    SECTION("a manifest that is not JSON") {
        auto read = ReadManifest(Fixture("bad-json", "fixture-bad-json.so"));
        REQUIRE(std::holds_alternative<std::string>(read));
        CHECK_THAT(std::get<std::string>(read), Catch::Contains("not valid JSON"));
    }
    SECTION("a newer minor ABI") {
        const std::string failure = OpenFailure(MustRead(Fixture("newer-minor", "fixture-newer-minor.so")));
        CHECK_THAT(failure, Catch::Contains("ABI 1.1") && Catch::Contains("speaks 1.0"));
    }
    SECTION("another major ABI") {
        const std::string failure = OpenFailure(MustRead(Fixture("wrong-major", "fixture-wrong-major.so")));
        CHECK_THAT(failure, Catch::Contains("ABI 2.0") && Catch::Contains("speaks 1.0"));
    }
    SECTION("a pinned checksum that does not match") {
        OpenOptions options = GoodConfig(scratch);
        options.sha256 = std::string(64, '0');
        const std::string failure = OpenFailure(MustRead(Fixture("good", "fixture-good.so")), options);
        CHECK_THAT(failure, Catch::Contains("has SHA-256") && Catch::Contains("pins " + std::string(64, '0')));
    }
    SECTION("a config its schema refuses") {
        OpenOptions options;
        options.config = json::object{{"path", 42}, {"colour", "red"}};
        const std::string failure = OpenFailure(MustRead(Fixture("good", "fixture-good.so")), options);
        CHECK_THAT(failure, Catch::Contains("/path") && Catch::Contains("config does not match"));
    }
    CHECK_FALSE(scratch.AnyCodeRan());
}

TEST_CASE("a matching pinned checksum loads", "[plugin][loader]") {
    Scratch scratch;
    const Manifest manifest = MustRead(Fixture("good", "fixture-good.so"));
    OpenOptions options = GoodConfig(scratch);
    options.sha256 = *FileSha256(manifest.path);
    auto instance = MustOpen(manifest, options);
    CHECK(instance->Call("notify", {{"key", "k1"}, {"payload", json::object{}}}).Ok());
}

TEST_CASE("tables that break the ABI are refused after loading, before create", "[plugin][loader]") {
    Scratch scratch;
    struct Case {
        const char* folder;
        const char* file;
        const char* expected;
    };
    const Case broken = GENERATE(Case{"missing-symbol", "fixture-missing-symbol.so", "cascade_plugin_entry"},
                                 Case{"null-entry", "fixture-null-entry.so", "offers no table for plugin ABI 1.0"},
                                 Case{"name-mismatch", "fixture-name-mismatch.so", "fixture-other-name"},
                                 Case{"table-mismatch", "fixture-table-mismatch.so", "ABI 2.0"},
                                 Case{"short-table", "fixture-short-table.so", "incomplete function table"});
    INFO(broken.folder);
    CHECK_THAT(OpenFailure(MustRead(Fixture(broken.folder, broken.file))), Catch::Contains(broken.expected));
}

TEST_CASE("an older minor ABI still loads", "[plugin][loader]") {
    auto instance = MustOpen(MustRead(Fixture("older-minor", "fixture-older-minor.so")));
    const CallResult result = instance->Call("notify", {{"key", "k"}, {"payload", json::object{}}});
    REQUIRE(result.Ok());
    CHECK(result.value.at("older").as_bool());
}

TEST_CASE("a good plugin works the same in-process, isolated and as a program", "[plugin][loader]") {
    Scratch scratch;
    struct Way {
        const char* file;
        bool isolate;
    };
    const Way way = GENERATE(Way{"fixture-good.so", false}, Way{"fixture-good.so", true},
                             Way{"fixture-good-stdio.plugin.json", false});
    INFO(way.file << (way.isolate ? " isolated" : ""));
    OpenOptions options = GoodConfig(scratch);
    options.isolate = way.isolate;
    int source_reads = 0;
    options.read_source = [&](std::string_view source, const json::object& params) {
        ++source_reads;
        CHECK(source == "learning");
        return CallResult{Status::ok, json::object{{"records", json::array{params}}}, {}};
    };
    auto instance = MustOpen(MustRead(Fixture("good", way.file)), options);

    REQUIRE(instance->Call("notify", {{"key", "effect-1"}, {"payload", json::object{}}}).Ok());
    REQUIRE(instance->Call("notify", {{"key", "effect-2"}, {"payload", json::object{}}}).Ok());
    std::ifstream log(scratch.path / "good.log");
    std::stringstream lines;
    lines << log.rdbuf();
    CHECK(lines.str() == "effect-1\neffect-2\n");

    const CallResult act = instance->Call("act", {{"key", "a"}, {"step", "s"}});
    REQUIRE(act.Ok());
    CHECK(act.value.at("output").at("done").as_bool());

    const CallResult read = instance->Call("read", {{"where", json::object{{"unit", "t01"}}}});
    REQUIRE(read.Ok());
    CHECK(read.value.at("records").as_array().size() == 1);
    const CallResult none = instance->Call("read", {{"where", json::object{{"unit", "t02"}}}});
    REQUIRE(none.Ok());
    CHECK(none.value.at("records").as_array().empty());

    const CallResult through = instance->Call("read_source", {{"source", "learning"}, {"params", {{"unit", "t01"}}}});
    REQUIRE(through.Ok());
    CHECK(source_reads == 1);
    CHECK(json::serialize(through.value).find("t01") != std::string::npos);

    const CallResult report = instance->Call("report", json::object{});
    CHECK(report.status == Status::error);
    CHECK_THAT(report.message, Catch::Contains("does not implement 'report'"));

    // Pipelined calls come back in order.
    std::vector<json::object> batch;
    for (int i = 0; i < 50; ++i)
        batch.push_back({{"key", "b" + std::to_string(i)}, {"payload", json::object{}}});
    const auto results = instance->CallBatch("notify", batch);
    REQUIRE(results.size() == 50);
    for (const auto& result : results)
        CHECK(result.Ok());
}

TEST_CASE("exceptions thrown through the C ABI are contained", "[plugin][loader]") {
    const Manifest manifest = MustRead(Fixture("throws", "fixture-throws.so"));
    SECTION("from create") {
        OpenOptions options;
        options.config = json::object{{"throw_in_create", true}};
        CHECK_THAT(OpenFailure(manifest, options), Catch::Contains("create refused by throwing"));
    }
    SECTION("from calls, and the instance stays usable") {
        auto instance = MustOpen(manifest);
        const CallResult first = instance->Call("notify", {{"key", "k"}});
        CHECK(first.status == Status::retry);
        CHECK_THAT(first.message, Catch::Contains("fixture-throws: notify threw"));
        const CallResult second = instance->Call("act", {{"key", "k"}});
        CHECK(second.status == Status::retry);
        CHECK_THAT(second.message, Catch::Contains("exception"));
    }
}

TEST_CASE("a hung call is given up at its timeout", "[plugin][loader]") {
    SECTION("in-process: the call is abandoned, the next one is refused until it returns") {
        OpenOptions options;
        options.timeout = milliseconds(200);
        auto instance = MustOpen(MustRead(Fixture("hangs", "fixture-hangs.so")), options);
        const auto start = std::chrono::steady_clock::now();
        const CallResult first = instance->Call("notify", {{"key", "k"}});
        CHECK(first.status == Status::retry);
        CHECK_THAT(first.message,
                   Catch::Contains("fixture-hangs") && Catch::Contains("notify") && Catch::Contains("within 200 ms"));
        const CallResult second = instance->Call("notify", {{"key", "k"}});
        CHECK(second.status == Status::retry);
        CHECK_THAT(second.message, Catch::Contains("still inside an earlier call"));
        CHECK(SecondsSince(start) < 5.0);
    }
    SECTION("in-process, a plugin that honours cancellation returns and is usable again") {
        OpenOptions options;
        options.timeout = milliseconds(150);
        options.config = json::object{{"honour_cancel", true}};
        auto instance = MustOpen(MustRead(Fixture("hangs", "fixture-hangs.so")), options);
        CHECK(instance->Call("notify", {{"key", "k"}}).status == Status::retry);
        std::this_thread::sleep_for(milliseconds(200));  // it sees the cancellation within 10 ms
        const CallResult again = instance->Call("notify", {{"key", "k"}});
        CHECK(again.status == Status::retry);
        CHECK_THAT(again.message, !Catch::Contains("still inside"));
    }
    SECTION("a process: killed at the timeout and started afresh for the next call") {
        OpenOptions options;
        options.timeout = milliseconds(300);
        auto instance = MustOpen(MustRead(Fixture("hangs", "fixture-hangs-stdio.plugin.json")), options);
        const auto start = std::chrono::steady_clock::now();
        for (int call = 0; call < 2; ++call) {
            const CallResult result = instance->Call("notify", {{"key", "k"}});
            CHECK(result.status == Status::retry);
            CHECK_THAT(result.message, Catch::Contains("within 300 ms"));
        }
        CHECK(SecondsSince(start) < 5.0);
    }
}

TEST_CASE("a plugin that crashes takes only its own process down", "[plugin][loader]") {
    struct Case {
        const char* file;
        bool isolate;
        const char* crash;
        const char* expected;
    };
    const Case crash =
        GENERATE(Case{"fixture-crashes.so", true, "abort", "signal 6"},
                 Case{"fixture-crashes.so", true, "exit", "status 3"}, Case{"fixture-crashes.so", true, "null", ""},
                 Case{"fixture-crashes-stdio.plugin.json", false, "abort", "signal 6"});
    INFO(crash.file << " " << crash.crash);
    OpenOptions options;
    options.isolate = crash.isolate;
    options.timeout = milliseconds(5'000);
    options.config = json::object{{"crash", crash.crash}};
    auto instance = MustOpen(MustRead(Fixture("crashes", crash.file)), options);
    for (int call = 0; call < 2; ++call) {  // the second call starts a fresh process
        const CallResult result = instance->Call("notify", {{"key", "k"}});
        CHECK(result.status == Status::retry);
        CHECK_THAT(result.message, Catch::Contains("fixture-crashes") && Catch::Contains(crash.expected));
    }
}

TEST_CASE("garbage answers are retries, never crashes or endless waits", "[plugin][loader]") {
    SECTION("in-process: malformed JSON") {
        auto instance = MustOpen(MustRead(Fixture("garbage", "fixture-garbage.so")));
        const CallResult result = instance->Call("notify", {{"key", "k"}});
        CHECK(result.status == Status::retry);
        CHECK_THAT(result.message, Catch::Contains("malformed JSON from notify"));
    }
    SECTION("over the wire") {
        const char* mode = GENERATE("not-json", "short-frame", "random-bytes", "bad-header", "huge-length", "wrong-id");
        INFO(mode);
        OpenOptions options;
        options.timeout = milliseconds(400);
        options.config = json::object{{"mode", mode}};
        auto instance = MustOpen(MustRead(Fixture("garbage", "fixture-garbage-stdio.plugin.json")), options);
        const auto start = std::chrono::steady_clock::now();
        for (int call = 0; call < 2; ++call) {
            const CallResult result = instance->Call("notify", {{"key", "k"}});
            CHECK(result.status == Status::retry);
            CHECK_THAT(result.message, Catch::Contains("fixture-garbage-stdio"));
        }
        CHECK(SecondsSince(start) < 5.0);
    }
    SECTION("already at initialize") {
        OpenOptions options;
        options.timeout = milliseconds(400);
        options.config = json::object{{"mode", "random-bytes"}, {"at", "initialize"}};
        CHECK_THAT(OpenFailure(MustRead(Fixture("garbage", "fixture-garbage-stdio.plugin.json")), options),
                   Catch::Contains("initialize"));
    }
}

TEST_CASE("a process that starts too slowly is refused; one within the timeout opens", "[plugin][loader]") {
    const Manifest manifest = MustRead(Fixture("slow-start", "fixture-slow-start.plugin.json"));
    OpenOptions options;
    options.timeout = milliseconds(300);
    const auto start = std::chrono::steady_clock::now();
    CHECK_THAT(OpenFailure(manifest, options), Catch::Contains("fixture-slow-start") && Catch::Contains("initialize"));
    CHECK(SecondsSince(start) < 5.0);

    ::setenv("CASCADE_FIXTURE_START_DELAY_MS", "100", 1);
    options.timeout = milliseconds(3'000);
    auto instance = MustOpen(manifest, options);
    ::unsetenv("CASCADE_FIXTURE_START_DELAY_MS");
    CHECK(instance->Call("notify", {{"key", "k"}}).Ok());
}

TEST_CASE("frames: split anywhere, several at once, and every broken header refused", "[plugin][loader]") {
    const std::string two = Frame(R"({"id":1,"result":{}})") + Frame(R"({"id":2,"result":[1]})");
    for (std::size_t split = 0; split <= two.size(); ++split) {
        std::string buffer = two.substr(0, split);
        int messages = 0;
        auto drain = [&] {
            while (true) {
                auto next = NextMessage(buffer);
                REQUIRE(std::holds_alternative<std::optional<json::object>>(next));
                if (!std::get<0>(next))
                    break;
                ++messages;
            }
        };
        drain();
        buffer += two.substr(split);
        drain();
        CHECK(messages == 2);
        CHECK(buffer.empty());
    }
    for (const char* broken : {"Content-Length: lots\r\n\r\n{}", "X-Other: 1\r\n\r\n{}",
                               "Content-Length: 99999999999999\r\n\r\n", "Content-Length: 2\r\n\r\n[]"}) {
        std::string buffer = broken;
        INFO(broken);
        CHECK(std::holds_alternative<std::string>(NextMessage(buffer)));
    }
    std::string endless(kMaxHeaderBytes + 1, 'x');
    CHECK(std::holds_alternative<std::string>(NextMessage(endless)));
}

}  // namespace cascade::plugin
