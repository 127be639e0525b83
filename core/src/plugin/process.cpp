// Out-of-process plugins: any program speaking JSON-RPC 2.0 on its stdin and
// stdout, framed as LSP frames it (Content-Length headers). The engine talks
// to it over one socketpair (sends use MSG_NOSIGNAL, so a plugin that dies
// mid-call cannot raise SIGPIPE in the engine), waits with poll() against a
// deadline, and kills and restarts a plugin that hangs, crashes or sends
// garbage. Written on POSIX calls directly: Boost.Process is not in the
// Debian Boost packages we build against, and this needs only spawn, poll and kill.
#include "instance_internal.hpp"

#include "cascade/plugin/framing.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>

extern char** environ;  // NOLINT(readability-identifier-naming): POSIX name

namespace cascade::plugin {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

namespace {

std::string DescribeExit(int status) {
    if (WIFEXITED(status))
        return "exited with status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) {
        const char* name = ::strsignal(WTERMSIG(status));
        return "was killed by signal " + std::to_string(WTERMSIG(status)) +
               (name != nullptr ? " (" + std::string(name) + ")" : "");
    }
    return "stopped";
}

class ProcessInstance final : public Instance {
public:
    ProcessInstance(Manifest manifest, const OpenOptions& options, std::filesystem::path program,
                    std::vector<std::string> args)
        : Instance(std::move(manifest), options.declaration.empty() ? std::string() : options.declaration),
          options_(options),
          program_(std::move(program)),
          args_(std::move(args)) {}

    ProcessInstance(const ProcessInstance&) = delete;
    ProcessInstance& operator=(const ProcessInstance&) = delete;
    ~ProcessInstance() override { Stop(true); }

    // Starts the program and runs `initialize`; empty on success.
    std::string Start() {
        int fds[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
            return std::string("cannot create a socket pair: ") + std::strerror(errno);
        }
        posix_spawn_file_actions_t actions;
        ::posix_spawn_file_actions_init(&actions);
        ::posix_spawn_file_actions_adddup2(&actions, fds[1], STDIN_FILENO);
        ::posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
        std::vector<std::string> argv_text{program_.string()};
        argv_text.insert(argv_text.end(), args_.begin(), args_.end());
        std::vector<char*> argv;
        argv.reserve(argv_text.size() + 1);
        for (auto& arg : argv_text)
            argv.push_back(arg.data());
        argv.push_back(nullptr);
        pid_t pid = -1;
        const int spawned = ::posix_spawn(&pid, program_.c_str(), &actions, nullptr, argv.data(), environ);
        ::posix_spawn_file_actions_destroy(&actions);
        ::close(fds[1]);
        if (spawned != 0) {
            ::close(fds[0]);
            return "cannot start " + program_.string() + ": " + std::strerror(spawned);
        }
        pid_ = pid;
        fd_ = fds[0];
        ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
        inbox_.clear();
        json::object params{{"abi", json::object{{"major", kHostAbiMajor}, {"minor", kHostAbiMinor}}},
                            {"declaration", declaration()},
                            {"config", options_.config}};
        auto answers = Exchange("initialize", {std::move(params)}, options_.timeout);
        if (auto* failure = std::get_if<std::string>(&answers)) {
            std::string message = "initialize: it " + *failure;
            Stop(false);
            return message;
        }
        const json::object& reply = std::get<std::vector<json::object>>(answers).front();
        if (const auto* error = reply.if_contains("error")) {
            const std::string message = ErrorMessage(*error);
            Stop(false);
            return "it refused to start: " + message;
        }
        const auto* result = reply.if_contains("result");
        const auto* abi = result != nullptr && result->is_object() ? result->as_object().if_contains("abi") : nullptr;
        if (abi != nullptr && abi->is_object()) {
            const auto* major = abi->as_object().if_contains("major");
            const auto* minor = abi->as_object().if_contains("minor");
            const std::int64_t plugin_major = major != nullptr && major->is_int64() ? major->as_int64() : -1;
            const std::int64_t plugin_minor = minor != nullptr && minor->is_int64() ? minor->as_int64() : -1;
            if (plugin_major != kHostAbiMajor || plugin_minor > kHostAbiMinor || plugin_minor < 0) {
                Stop(false);
                return "it speaks plugin ABI " + std::to_string(plugin_major) + "." + std::to_string(plugin_minor) +
                       "; this cascade speaks " + std::to_string(kHostAbiMajor) + "." + std::to_string(kHostAbiMinor);
            }
        }
        return {};
    }

    CallResult Call(std::string_view method, const json::object& params, std::chrono::milliseconds timeout) override {
        return CallBatch(method, {params}, timeout).front();
    }

    std::vector<CallResult> CallBatch(std::string_view method, const std::vector<json::object>& params,
                                      std::chrono::milliseconds timeout) override {
        std::lock_guard call_lock(call_mutex_);  // one exchange at a time on the socket
        const std::string who = Who();
        auto all = [&](Status status, const std::string& message) {
            return std::vector<CallResult>(params.size(), CallResult{status, nullptr, message});
        };
        if (params.empty())
            return {};
        if (pid_ < 0) {
            if (std::string failure = Start(); !failure.empty()) {
                spdlog::warn("{}: cannot start: {}", who, failure);
                return all(Status::retry, who + " cannot start: " + failure);
            }
        }
        auto answers = Exchange(method, params, timeout.count() > 0 ? timeout : options_.timeout);
        if (auto* failure = std::get_if<std::string>(&answers)) {
            spdlog::warn("{}: {}; it will be restarted", who, *failure);
            Stop(false);
            return all(Status::retry,
                       who + " " + *failure + " (" + std::string(method) + "); restarted on the next call");
        }
        std::vector<CallResult> results;
        for (const json::object& reply : std::get<std::vector<json::object>>(answers)) {
            if (const auto* result = reply.if_contains("result")) {
                results.push_back({Status::ok, *result, {}});
            } else if (const auto* error = reply.if_contains("error")) {
                const auto* code = error->is_object() ? error->as_object().if_contains("code") : nullptr;
                const bool retry = code != nullptr && code->is_int64() && code->as_int64() == CASCADE_RETRY;
                results.push_back({retry ? Status::retry : Status::error, nullptr, ErrorMessage(*error)});
            } else {
                results.push_back({Status::retry, nullptr, who + " sent a response with neither result nor error"});
            }
        }
        return results;
    }

private:
    std::string Who() const { return "plugin '" + declaration() + "' (" + manifest().name + ")"; }

    static std::string ErrorMessage(const json::value& error) {
        if (error.is_object()) {
            if (const auto* message = error.as_object().if_contains("message");
                message != nullptr && message->is_string()) {
                return std::string(message->get_string());
            }
        }
        return "error " + json::serialize(error);
    }

    // Ends the process: politely (shutdown, a moment to exit) or at once.
    void Stop(bool polite) {
        if (pid_ < 0)
            return;
        if (polite && fd_ >= 0) {
            (void)Exchange("shutdown", {json::object{}}, std::chrono::milliseconds(500));
            if (pid_ < 0)
                return;  // it exited and was reaped meanwhile
        }
        if (fd_ >= 0) {
            ::close(fd_);
            fd_ = -1;
        }
        int status = 0;
        const auto deadline = Clock::now() + std::chrono::milliseconds(polite ? 500 : 0);
        while (::waitpid(pid_, &status, WNOHANG) == 0) {
            if (Clock::now() >= deadline) {
                ::kill(pid_, SIGKILL);
                ::waitpid(pid_, &status, 0);
                break;
            }
            ::usleep(2'000);
        }
        pid_ = -1;
    }

    std::string Exited() {
        int status = 0;
        // The socket closed: the process is gone or about to be.
        for (int round = 0; round < 100; ++round) {
            const pid_t done = ::waitpid(pid_, &status, WNOHANG);
            if (done == pid_) {
                pid_ = -1;
                ::close(fd_);
                fd_ = -1;
                return DescribeExit(status);
            }
            ::usleep(1'000);
        }
        return "closed its output";
    }

    // Writes one request per params (ids 1..n of this exchange) and reads
    // until each has its answer, serving the plugin's own messages meanwhile.
    // A deadline of `timeout` is restarted by every answer.
    std::variant<std::vector<json::object>, std::string> Exchange(std::string_view method,
                                                                  const std::vector<json::object>& params,
                                                                  std::chrono::milliseconds timeout) {
        std::string outbox;
        std::map<std::int64_t, std::size_t> waiting;
        for (std::size_t i = 0; i < params.size(); ++i) {
            const std::int64_t id = ++next_id_;
            waiting.emplace(id, i);
            outbox += Frame(json::serialize(
                json::object{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params[i]}}));
        }
        std::vector<json::object> replies(params.size());
        std::size_t sent = 0;
        auto deadline = Clock::now() + timeout;
        while (!waiting.empty()) {
            const auto now = Clock::now();
            if (now >= deadline) {
                return "did not answer within " + std::to_string(timeout.count()) + " ms";
            }
            pollfd poll_fd{fd_, static_cast<short>(POLLIN | (sent < outbox.size() ? POLLOUT : 0)), 0};
            const auto wait_ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1;
            const int ready = ::poll(&poll_fd, 1, static_cast<int>(std::min<std::int64_t>(wait_ms, 60'000)));
            if (ready < 0) {
                if (errno == EINTR)
                    continue;
                return std::string("poll failed: ") + std::strerror(errno);
            }
            if (ready == 0)
                continue;
            if ((poll_fd.revents & POLLOUT) != 0 && sent < outbox.size()) {
                const ssize_t wrote =
                    ::send(fd_, outbox.data() + sent, outbox.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (wrote < 0 && errno != EAGAIN && errno != EINTR) {
                    return Exited();
                }
                if (wrote > 0)
                    sent += static_cast<std::size_t>(wrote);
            }
            if ((poll_fd.revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
                char buffer[1 << 16];
                const ssize_t got = ::recv(fd_, buffer, sizeof buffer, MSG_DONTWAIT);
                if (got == 0)
                    return Exited();
                if (got < 0) {
                    if (errno == EAGAIN || errno == EINTR)
                        continue;
                    return Exited();
                }
                inbox_.append(buffer, static_cast<std::size_t>(got));
                while (true) {
                    auto message = NextMessage(inbox_);
                    if (auto* failure = std::get_if<std::string>(&message))
                        return *failure;
                    auto& parsed = std::get<std::optional<json::object>>(message);
                    if (!parsed)
                        break;
                    if (parsed->contains("method")) {
                        outbox += ServePluginMessage(*parsed);
                        continue;
                    }
                    const auto* id = parsed->if_contains("id");
                    if (id == nullptr || !id->is_int64()) {
                        return "sent a response with an unknown id";
                    }
                    const auto found = waiting.find(id->as_int64());
                    if (found == waiting.end())
                        continue;  // a late answer to an abandoned call
                    replies[found->second] = std::move(*parsed);
                    waiting.erase(found);
                    deadline = Clock::now() + timeout;
                }
            }
        }
        return replies;
    }

    // A message the plugin sent us: a log line, or a read_source request to answer.
    std::string ServePluginMessage(const json::object& message) {
        const auto& method = message.at("method");
        const std::string_view name = method.is_string() ? std::string_view(method.get_string()) : std::string_view();
        const auto* params = message.if_contains("params");
        const json::object empty;
        const json::object& arguments = params != nullptr && params->is_object() ? params->as_object() : empty;
        if (name == "log") {
            const auto* text = arguments.if_contains("message");
            const auto* level = arguments.if_contains("level");
            const std::string line = text != nullptr && text->is_string() ? std::string(text->get_string()) : "";
            const std::int64_t severity =
                level != nullptr && level->is_int64() ? level->as_int64() : std::int64_t{CASCADE_LOG_INFO};
            if (severity >= CASCADE_LOG_ERROR) {
                spdlog::error("plugin '{}': {}", declaration(), line);
            } else if (severity == CASCADE_LOG_WARN) {
                spdlog::warn("plugin '{}': {}", declaration(), line);
            } else if (severity == CASCADE_LOG_INFO) {
                spdlog::info("plugin '{}': {}", declaration(), line);
            } else {
                spdlog::debug("plugin '{}': {}", declaration(), line);
            }
            return {};
        }
        if (!message.contains("id"))
            return {};  // other notifications are ignored
        json::object reply{{"jsonrpc", "2.0"}, {"id", message.at("id")}};
        if (name == "read_source") {
            const auto* source = arguments.if_contains("source");
            const auto* query = arguments.if_contains("params");
            if (!options_.read_source) {
                reply["error"] = json::object{{"code", CASCADE_ERROR}, {"message", "no sources are available"}};
            } else if (source == nullptr || !source->is_string()) {
                reply["error"] = json::object{{"code", CASCADE_ERROR}, {"message", "read_source needs \"source\""}};
            } else {
                const CallResult result = options_.read_source(
                    source->get_string(), query != nullptr && query->is_object() ? query->as_object() : empty);
                if (result.Ok()) {
                    reply["result"] = result.value;
                } else {
                    reply["error"] =
                        json::object{{"code", static_cast<int>(result.status)}, {"message", result.message}};
                }
            }
        } else {
            reply["error"] =
                json::object{{"code", -32601}, {"message", "the engine has no method '" + std::string(name) + "'"}};
        }
        return Frame(json::serialize(reply));
    }

    OpenOptions options_;
    std::mutex call_mutex_;
    std::filesystem::path program_;
    std::vector<std::string> args_;
    pid_t pid_ = -1;
    int fd_ = -1;
    std::string inbox_;
    std::int64_t next_id_ = 0;
};

std::filesystem::path SelfProgram() {
    std::error_code error;
    return std::filesystem::read_symlink("/proc/self/exe", error);
}

}  // namespace

std::variant<std::unique_ptr<Instance>, std::string> OpenProcess(const Manifest& manifest, const OpenOptions& options) {
    std::filesystem::path program = manifest.executable;
    std::vector<std::string> args = manifest.args;
    if (manifest.transport == Transport::library) {
        program = options.plugin_host.empty() ? SelfProgram() : options.plugin_host;
        args = {"plugin-host", manifest.path.string()};
    }
    OpenOptions effective = options;
    if (effective.declaration.empty())
        effective.declaration = manifest.name;
    auto instance = std::make_unique<ProcessInstance>(manifest, effective, program, std::move(args));
    if (std::string failure = instance->Start(); !failure.empty()) {
        return "plugin '" + manifest.name + "' (" + program.string() + "): " + failure;
    }
    return std::unique_ptr<Instance>(std::move(instance));
}

}  // namespace cascade::plugin
