// notify-python, the out-of-process notifier written in Python, as the build
// tree holds it: first spoken to directly as a child process over its
// stdin/stdout (the framing, the log notifications, the JSON-RPC error codes),
// then opened through the host API's process transport like any plugin.
#include "../support/temp_dir.hpp"
#include "cascade/plugin/plugin.hpp"

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

extern char** environ;  // NOLINT(readability-identifier-naming): POSIX name

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using cascade::plugin::Status;

fs::path Script() {
    return fs::path(CASCADE_PLUGIN_BUILD_DIR) / "notify_python.py";
}
fs::path ManifestFile() {
    return fs::path(CASCADE_PLUGIN_BUILD_DIR) / "notify-python.plugin.json";
}

using cascade::testing::TempDir;

std::vector<std::string> Lines(const fs::path& file) {
    std::ifstream in(file);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);)
        lines.push_back(line);
    return lines;
}

// The script as a child process whose stdin and stdout are one socket, as
// the engine runs process plugins; frames go both ways by hand.
class Child {
public:
    explicit Child(const fs::path& program) {
        int fds[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
        posix_spawn_file_actions_t actions;
        ::posix_spawn_file_actions_init(&actions);
        ::posix_spawn_file_actions_adddup2(&actions, fds[1], STDIN_FILENO);
        ::posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
        std::string path = program.string();
        char* argv[] = {path.data(), nullptr};
        const int spawned = ::posix_spawn(&pid_, path.c_str(), &actions, nullptr, argv, environ);
        ::posix_spawn_file_actions_destroy(&actions);
        ::close(fds[1]);
        fd_ = fds[0];
        INFO("posix_spawn " << path << ": " << std::strerror(spawned));
        REQUIRE(spawned == 0);
    }
    ~Child() {
        if (fd_ >= 0)
            ::close(fd_);
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;

    void SendRaw(const std::string& bytes) {
        std::size_t sent = 0;
        while (sent < bytes.size()) {
            const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                FAIL("cannot write to the plugin: " << std::strerror(errno));
            sent += static_cast<std::size_t>(n);
        }
    }
    void Send(const std::string& body) {
        SendRaw("Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
    }
    void Send(const json::object& message) { Send(json::serialize(message)); }
    void Request(int id, const std::string& method, json::object params = {}) {
        Send(json::object{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}});
    }

    // The next message, or nothing once the child closed its end. (Failures
    // are FAIL, not REQUIRE: this loops, and would swell the assertion count.)
    std::optional<json::object> Receive() {
        for (;;) {
            if (const auto header_end = inbox_.find("\r\n\r\n"); header_end != std::string::npos) {
                const auto at = inbox_.find("Content-Length:");
                if (at > header_end)
                    FAIL("a frame without Content-Length: " << inbox_.substr(0, header_end));
                const std::size_t length = std::stoul(inbox_.substr(at + 15, header_end - at - 15));
                if (inbox_.size() >= header_end + 4 + length) {
                    const json::value message = json::parse(inbox_.substr(header_end + 4, length));
                    inbox_.erase(0, header_end + 4 + length);
                    return message.as_object();
                }
            }
            pollfd ready{fd_, POLLIN, 0};
            if (::poll(&ready, 1, 5000) != 1)
                FAIL("nothing from the plugin for 5 s");
            char buffer[4096];
            const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                FAIL("cannot read from the plugin: " << std::strerror(errno));
            if (n == 0)
                return std::nullopt;
            inbox_.append(buffer, static_cast<std::size_t>(n));
        }
    }

    // The answer to request `id`; notifications sent before it go to `notes`.
    json::object Answer(int id, std::vector<json::object>* notes = nullptr) {
        for (;;) {
            auto message = Receive();
            REQUIRE(message);
            if (!message->contains("id")) {
                if (notes != nullptr)
                    notes->push_back(*message);
                continue;
            }
            CHECK(message->at("jsonrpc") == "2.0");
            CHECK(message->at("id") == json::value(id));
            return *message;
        }
    }

    // Closes our end (end of input for the child) and waits for its exit code.
    int Exit() {
        ::shutdown(fd_, SHUT_WR);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        int status = 0;
        while (::waitpid(pid_, &status, WNOHANG) == 0) {
            // Not REQUIRE: polled, it would swell the assertion count.
            if (std::chrono::steady_clock::now() >= deadline)
                FAIL("the plugin did not exit within 5 s");
            ::usleep(5'000);
        }
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }

private:
    pid_t pid_ = -1;
    int fd_ = -1;
    std::string inbox_;
};

json::object Initialize(const fs::path& file) {
    return json::object{{"abi", json::object{{"major", 1}, {"minor", 0}}},
                        {"declaration", "journal"},
                        {"config", json::object{{"path", file.string()}}}};
}

json::object Notification(const std::string& key, const std::string& unit = "tw01") {
    return json::object{{"key", key},
                        {"declaration", "journal"},
                        {"attempt", 1},
                        {"payload", json::object{{"event", "remind"},
                                                 {"workflow", "theme-education-2023"},
                                                 {"instance", "theme-education-2023/" + unit},
                                                 {"unit", unit},
                                                 {"unit_name", "城关镇"},
                                                 {"on", "2023-11-20"},
                                                 {"step", "study_plan"},
                                                 {"due", "2023-11-30"}}}};
}

int ErrorCode(const json::object& answer) {
    INFO(json::serialize(answer));
    REQUIRE(answer.contains("error"));
    return static_cast<int>(answer.at("error").at("code").as_int64());
}

std::variant<std::unique_ptr<cascade::plugin::Instance>, std::string> TryOpen(json::object config) {
    auto manifest = cascade::plugin::ReadManifest(ManifestFile());
    if (const auto* message = std::get_if<std::string>(&manifest))
        FAIL(*message);
    cascade::plugin::OpenOptions options;
    options.declaration = "journal";
    options.config = std::move(config);
    options.timeout = std::chrono::seconds(5);
    return cascade::plugin::Open(std::get<cascade::plugin::Manifest>(manifest), options);
}

std::unique_ptr<cascade::plugin::Instance> OpenJournal(const fs::path& file) {
    auto opened = TryOpen({{"path", file.string()}});
    if (const auto* message = std::get_if<std::string>(&opened))
        FAIL(*message);
    return std::get<std::unique_ptr<cascade::plugin::Instance>>(std::move(opened));
}

}  // namespace

TEST_CASE("notify-python speaks JSON-RPC with LSP framing on stdio", "[plugins][notify-python]") {
    TempDir dir;
    const fs::path journal = dir.Path() / "notifications.jsonl";
    Child child(Script());

    // Nothing works before initialize, and a config without a path is refused.
    child.Request(1, "notify", Notification("k1"));
    CHECK(ErrorCode(child.Answer(1)) == 2);
    child.Request(2, "initialize", {{"abi", json::object{{"major", 1}, {"minor", 0}}}, {"config", json::object{}}});
    auto answer = child.Answer(2);
    CHECK(ErrorCode(answer) == 2);
    CHECK(std::string(answer.at("error").at("message").as_string()).find("config.path") != std::string::npos);

    std::vector<json::object> notes;
    child.Request(3, "initialize", Initialize(journal));
    answer = child.Answer(3, &notes);
    REQUIRE(answer.contains("result"));
    CHECK(answer.at("result").at("name") == "notify-python");
    CHECK(answer.at("result").at("abi") == json::object{{"major", 1}, {"minor", 0}});

    notes.clear();
    child.Request(4, "notify", Notification("theme-education-2023/tw01/remind/study_plan/P7D"));
    answer = child.Answer(4, &notes);
    CHECK(answer.at("result").at("id") == "theme-education-2023/tw01/remind/study_plan/P7D");
    // The host hears of it through a "log" notification.
    REQUIRE(notes.size() == 1);
    CHECK(notes[0].at("method") == "log");
    CHECK(notes[0].at("params").at("level").as_int64() == 2);
    CHECK(std::string(notes[0].at("params").at("message").as_string()).find("tw01") != std::string::npos);

    auto lines = Lines(journal);
    REQUIRE(lines.size() == 1);
    const json::value line = json::parse(lines[0]);
    CHECK(line.at("key") == "theme-education-2023/tw01/remind/study_plan/P7D");
    CHECK(line.at("declaration") == "journal");
    CHECK(line.at("payload").at("unit_name") == "城关镇");

    // A retry of the same effect (same key) is not written twice.
    child.Request(5, "notify", Notification("theme-education-2023/tw01/remind/study_plan/P7D"));
    CHECK(child.Answer(5).at("result").at("duplicate") == true);
    CHECK(Lines(journal).size() == 1);

    // Unknown methods, malformed JSON, bad params, notifications without an id.
    child.Request(6, "report", {{"out_dir", dir.Path().string()}});
    CHECK(ErrorCode(child.Answer(6)) == -32601);
    child.Send("{\"jsonrpc\": \"2.0\", \"id\": 7, \"method\": ");
    const auto unreadable = child.Receive();  // no id could be read: the answer's id is null
    REQUIRE(unreadable);
    CHECK(unreadable->at("id").is_null());
    CHECK(ErrorCode(*unreadable) == -32700);
    child.Request(8, "notify", {{"key", "k2"}});
    CHECK(ErrorCode(child.Answer(8)) == 2);
    child.Send(json::object{{"jsonrpc", "2.0"}, {"method", "cancelled"}, {"params", json::object{}}});
    child.Request(9, "self_test");
    answer = child.Answer(9);
    const auto& checks = answer.at("result").at("checks").as_array();
    REQUIRE(checks.size() == 2);
    for (const auto& check : checks)
        CHECK(check.at("ok") == true);

    child.Request(10, "shutdown");
    answer = child.Answer(10);
    CHECK(answer.at("result").is_null());
    CHECK(child.Exit() == 0);
}

TEST_CASE("notify-python ends cleanly at the end of its input and on broken framing", "[plugins][notify-python]") {
    SECTION("end of input") {
        Child child(Script());
        CHECK(child.Exit() == 0);
    }
    SECTION("a Content-Length that is not a number") {
        Child child(Script());
        child.SendRaw("Content-Length: many\r\n\r\n{}");
        CHECK_FALSE(child.Receive());
        CHECK(child.Exit() == 1);
    }
    SECTION("an engine of another ABI") {
        TempDir dir;
        Child child(Script());
        json::object params = Initialize(dir.Path() / "n.jsonl");
        params["abi"] = json::object{{"major", 2}, {"minor", 0}};
        child.Request(1, "initialize", params);
        CHECK(ErrorCode(child.Answer(1)) == 2);
    }
}

TEST_CASE("notify-python through the host API", "[plugins][notify-python]") {
    const auto manifest = cascade::plugin::ReadManifest(ManifestFile());
    REQUIRE(std::holds_alternative<cascade::plugin::Manifest>(manifest));
    const auto& read = std::get<cascade::plugin::Manifest>(manifest);
    CHECK(read.name == "notify-python");
    CHECK(read.transport == cascade::plugin::Transport::process);
    CHECK(read.executable == Script());
    CHECK(read.HasKind("notifier"));
    CHECK(read.config_schema.at("additionalProperties") == false);
    CHECK(read.config_schema.at("properties").at("path").as_object().contains("description"));

    TempDir dir;
    const fs::path journal = dir.Path() / "notifications.jsonl";

    SECTION("notifications become lines, once per key") {
        auto plugin = OpenJournal(journal);
        auto result = plugin->Call("notify", Notification("k-tw01", "tw01"));
        INFO(result.message);
        REQUIRE(result.Ok());
        CHECK(result.value.at("id") == "k-tw01");
        CHECK(plugin->Call("notify", Notification("k-tw01", "tw01")).Ok());
        CHECK(plugin->Call("notify", Notification("k-tw02", "tw02")).Ok());
        const auto lines = Lines(journal);
        REQUIRE(lines.size() == 2);
        CHECK(json::parse(lines[1]).at("payload").at("unit") == "tw02");

        const auto check = plugin->Call("self_test", json::object{});
        REQUIRE(check.Ok());
        CHECK(check.value.at("checks").as_array().size() == 2);
    }
    SECTION("a key already in the file survives a restart of the plugin") {
        REQUIRE(OpenJournal(journal)->Call("notify", Notification("k-once")).Ok());
        REQUIRE(OpenJournal(journal)->Call("notify", Notification("k-once")).Ok());
        CHECK(Lines(journal).size() == 1);
    }
    SECTION("a method it does not offer is an error, not a retry") {
        auto plugin = OpenJournal(journal);
        const auto result = plugin->Call("report", json::object{});
        CHECK(result.status == Status::error);
    }
    SECTION("a folder that does not exist is an error naming the file") {
        const fs::path nowhere = dir.Path() / "missing" / "notifications.jsonl";
        auto plugin = OpenJournal(nowhere);
        const auto result = plugin->Call("notify", Notification("k1"));
        CHECK(result.status == Status::error);
        CHECK(result.message.find(nowhere.string()) != std::string::npos);
        const auto check = plugin->Call("self_test", json::object{});
        REQUIRE(check.Ok());
        CHECK(check.value.at("checks").as_array().at(1).at("ok") == false);
    }
    SECTION("configs the schema refuses") {
        CHECK(std::holds_alternative<std::string>(TryOpen(json::object{})));
        CHECK(std::holds_alternative<std::string>(TryOpen({{"path", journal.string()}, {"format", "csv"}})));
    }
}
