// The Cascade plugin SDK for C++: a header-only layer over the C ABI in
// cascade/plugin.h. A plugin derives from cascade::sdk::Plugin, overrides the
// methods of its kinds, and names its class once with CASCADE_PLUGIN(...).
// The same class then builds as a shared library (loaded into the engine) or,
// with CASCADE_PLUGIN_MAIN(), as an executable speaking JSON-RPC 2.0 over
// stdin/stdout (run in its own process).
//
// Error policy: inside the plugin, C++ as usual (exceptions allowed); at the
// boundary every exception becomes a RETRY with its message, so nothing
// unwinds into the engine.
#pragma once

#include "cascade/plugin.h"

#include <boost/json.hpp>

#include <cstdio>
#include <exception>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace cascade::sdk {

namespace json = boost::json;

enum class Status { ok = CASCADE_OK, retry = CASCADE_RETRY, error = CASCADE_ERROR };

// What a method gives back: a JSON value on success, a message otherwise.
struct Result {
    Status status = Status::ok;
    json::value value;
    std::string message;

    static Result Ok(json::value value = nullptr) { return {Status::ok, std::move(value), {}}; }
    // A transient failure (a server down, a lock held): the engine tries again later.
    static Result Retry(std::string message) { return {Status::retry, nullptr, std::move(message)}; }
    // A permanent failure (bad input, refused by the other side): no retry helps.
    static Result Error(std::string message) { return {Status::error, nullptr, std::move(message)}; }
};

enum class LogLevel {
    trace = CASCADE_LOG_TRACE,
    debug = CASCADE_LOG_DEBUG,
    info = CASCADE_LOG_INFO,
    warn = CASCADE_LOG_WARN,
    error = CASCADE_LOG_ERROR
};

namespace detail {

inline void AppendToString(void* context, const char* data, std::size_t size) {
    static_cast<std::string*>(context)->append(data, size);
}

inline cascade_sink StringSink(std::string& target) {
    return cascade_sink{&target, &AppendToString};
}

inline bool HasSlot(const cascade_host_services* host, std::size_t offset_end) {
    return host != nullptr && host->struct_size >= offset_end;
}

}  // namespace detail

// The engine's services, as the plugin sees them.
class Host {
public:
    explicit Host(const cascade_host_services* services) : services_(services) {}

    void Log(LogLevel level, std::string_view message) const {
        if (detail::HasSlot(services_, offsetof(cascade_host_services, log) + sizeof(services_->log)) &&
            services_->log != nullptr) {
            services_->log(services_->context, static_cast<int>(level), message.data(), message.size());
        }
    }
    // True once the engine stopped waiting for the current call.
    bool Cancelled() const {
        return detail::HasSlot(services_, offsetof(cascade_host_services, cancelled) + sizeof(services_->cancelled)) &&
               services_->cancelled != nullptr && services_->cancelled(services_->context) != 0;
    }
    // Calls `read` on a source plugin the same workflow declares.
    Result ReadSource(std::string_view source, const json::object& params) const {
        if (!detail::HasSlot(services_,
                             offsetof(cascade_host_services, read_source) + sizeof(services_->read_source)) ||
            services_->read_source == nullptr) {
            return Result::Error("this host cannot read sources");
        }
        const std::string request = json::serialize(params);
        std::string answer;
        cascade_sink sink = detail::StringSink(answer);
        const int status = services_->read_source(services_->context, source.data(), source.size(), request.data(),
                                                  request.size(), &sink);
        if (status != CASCADE_OK) {
            return {static_cast<Status>(status), nullptr, answer};
        }
        json::error_code error;
        json::value value = json::parse(answer, error);
        if (error) {
            return Result::Error("source '" + std::string(source) + "' answered malformed JSON");
        }
        return Result::Ok(std::move(value));
    }

private:
    const cascade_host_services* services_;
};

// The base of every C++ plugin. The constructor receives the host and the
// declaration's config (checked against the manifest's schema already);
// throw from it to refuse a config. Override the methods of your kinds.
class Plugin {
public:
    Plugin(Host host, json::object config) : host_(host), config_(std::move(config)) {}
    virtual ~Plugin() = default;
    Plugin(const Plugin&) = delete;
    Plugin& operator=(const Plugin&) = delete;

    // notifier: one notification. params: {key, declaration, payload{...}}.
    virtual Result Notify(const json::object& params) { return Unsupported("notify", params); }
    // reporter: writes a report. params: {out_dir, campaign, stages, units, ...}; returns {files:[...]}.
    virtual Result Report(const json::object& params) { return Unsupported("report", params); }
    // source: reads records. params: {where:{...}, ...}; returns {records:[{...}]}.
    virtual Result Read(const json::object& params) { return Unsupported("read", params); }
    // action: performs a step's action. params: {key, instance, unit, step, action, with, attempt}.
    virtual Result Act(const json::object& params) { return Unsupported("act", params); }
    // Checks the plugin can work here (files readable, libraries usable). Returns {checks:[...]}.
    virtual Result SelfTest() { return Result::Ok(json::object{{"checks", json::array{}}}); }

    // Dispatches a method by name; a plugin may override it to add its own.
    virtual Result Call(std::string_view method, const json::object& params) {
        if (method == "notify")
            return Notify(params);
        if (method == "report")
            return Report(params);
        if (method == "read")
            return Read(params);
        if (method == "act")
            return Act(params);
        if (method == "self_test")
            return SelfTest();
        return Result::Error("unknown method '" + std::string(method) + "'");
    }

protected:
    // Lower-case accessors, as plugin code reads best: host().Log(...), config().at("path").
    const Host& host() const { return host_; }              // NOLINT(readability-identifier-naming)
    const json::object& config() const { return config_; }  // NOLINT(readability-identifier-naming)

private:
    static Result Unsupported(std::string_view method, const json::object&) {
        return Result::Error("this plugin does not implement '" + std::string(method) + "'");
    }

    Host host_;
    json::object config_;
};

namespace detail {

inline void Put(cascade_sink* sink, std::string_view text) {
    if (sink != nullptr && sink->append != nullptr) {
        sink->append(sink->context, text.data(), text.size());
    }
}

template <typename PluginClass>
int Create(const cascade_host_services* host, const char* config, std::size_t config_size, void** instance,
           cascade_sink* error) {
    try {
        json::error_code parse_error;
        json::value parsed = json::parse(std::string_view(config, config_size), parse_error);
        if (parse_error || !parsed.is_object()) {
            Put(error, "config is not a JSON object");
            return CASCADE_ERROR;
        }
        auto plugin = std::make_unique<PluginClass>(Host(host), std::move(parsed.as_object()));
        *instance = static_cast<Plugin*>(plugin.release());  // owned by the host until destroy
        return CASCADE_OK;
    } catch (const std::exception& exception) {
        Put(error, exception.what());
    } catch (...) {
        Put(error, "unknown exception");
    }
    return CASCADE_ERROR;
}

inline int Call(void* instance, const char* method, std::size_t method_size, const char* params,
                std::size_t params_size, cascade_sink* out) {
    try {
        json::error_code parse_error;
        json::value parsed = json::parse(std::string_view(params, params_size), parse_error);
        if (parse_error || !parsed.is_object()) {
            Put(out, "params are not a JSON object");
            return CASCADE_ERROR;
        }
        Result result = static_cast<Plugin*>(instance)->Call(std::string_view(method, method_size), parsed.as_object());
        if (result.status == Status::ok) {
            Put(out, json::serialize(result.value));
        } else {
            Put(out, result.message);
        }
        return static_cast<int>(result.status);
    } catch (const std::exception& exception) {
        Put(out, std::string("unhandled exception: ") + exception.what());
    } catch (...) {
        Put(out, "unhandled exception");
    }
    return CASCADE_RETRY;
}

inline void Destroy(void* instance) {
    std::unique_ptr<Plugin> owned(static_cast<Plugin*>(instance));
}

// ---- JSON-RPC 2.0 over a byte stream, framed as LSP frames it:
//      "Content-Length: N\r\n\r\n" followed by N bytes of JSON.

// Reads one framed message; nullopt at end of input or on a broken frame.
inline std::optional<std::string> ReadFrame(std::istream& in, std::size_t max_size = 64u << 20) {
    std::size_t length = 0;
    bool have_length = false;
    std::string line;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        if (line.empty()) {
            if (!have_length)
                return std::nullopt;
            break;
        }
        constexpr std::string_view kHeader = "Content-Length:";
        if (line.size() > kHeader.size() && line.compare(0, kHeader.size(), kHeader) == 0) {
            try {
                length = std::stoul(line.substr(kHeader.size()));
            } catch (...) {
                return std::nullopt;
            }
            have_length = true;
        }
    }
    if (!have_length || length > max_size || !in)
        return std::nullopt;
    std::string body(length, '\0');
    if (!in.read(body.data(), static_cast<std::streamsize>(length)))
        return std::nullopt;
    return body;
}

inline void WriteFrame(std::ostream& out, std::string_view body) {
    out << "Content-Length: " << body.size() << "\r\n\r\n" << body;
    out.flush();
}

// Serves one plugin table over stdin/stdout until `shutdown` or end of input.
// Host services become messages: `log` notifications and `read_source`
// requests sent back to the engine.
class StdioServer {
public:
    StdioServer(const cascade_plugin_api* api, std::istream& in, std::ostream& out) : api_(api), in_(in), out_(out) {}

    int Run() {
        while (auto frame = ReadFrame(in_)) {
            json::error_code error;
            json::value message = json::parse(*frame, error);
            if (error || !message.is_object()) {
                Reply(nullptr, Failure(-32700, "parse error"));
                continue;
            }
            const json::object& request = message.as_object();
            const json::value id = request.contains("id") ? request.at("id") : json::value(nullptr);
            const auto* method = request.if_contains("method");
            if (method == nullptr || !method->is_string()) {
                Reply(id, Failure(-32600, "invalid request"));
                continue;
            }
            const json::object params = request.contains("params") && request.at("params").is_object()
                                            ? request.at("params").as_object()
                                            : json::object{};
            const std::string_view name = method->get_string();
            if (name == "initialize") {
                Reply(id, Initialize(params));
            } else if (name == "shutdown") {
                Reply(id, json::object{{"result", nullptr}});
                break;
            } else if (instance_ == nullptr) {
                Reply(id, Failure(CASCADE_ERROR, "not initialized"));
            } else {
                Reply(id, Invoke(name, params));
            }
        }
        if (instance_ != nullptr) {
            api_->destroy(instance_);
            instance_ = nullptr;
        }
        return 0;
    }

private:
    static json::object Failure(int code, std::string_view message) {
        return {{"error", json::object{{"code", code}, {"message", message}}}};
    }

    void Reply(const json::value& id, json::object body) {
        body["jsonrpc"] = "2.0";
        body["id"] = id;
        WriteFrame(out_, json::serialize(body));
    }

    json::object Initialize(const json::object& params) {
        if (api_ == nullptr) {
            return Failure(CASCADE_ERROR, "the plugin offers no ABI table for this host version");
        }
        const json::value config = params.contains("config") ? params.at("config") : json::value(json::object{});
        const std::string config_text = json::serialize(config);
        std::string error;
        cascade_sink sink = StringSink(error);
        services_ = cascade_host_services{sizeof(cascade_host_services),
                                          CASCADE_ABI_MAJOR,
                                          CASCADE_ABI_MINOR,
                                          this,
                                          &StdioServer::LogThunk,
                                          &StdioServer::CancelledThunk,
                                          &StdioServer::ReadSourceThunk};
        const int status = api_->create(&services_, config_text.data(), config_text.size(), &instance_, &sink);
        if (status != CASCADE_OK) {
            instance_ = nullptr;
            return Failure(status, error);
        }
        return {
            {"result", json::object{{"name", api_->name},
                                    {"abi", json::object{{"major", api_->abi_major}, {"minor", api_->abi_minor}}}}}};
    }

    json::object Invoke(std::string_view method, const json::object& params) {
        const std::string text = json::serialize(params);
        std::string answer;
        cascade_sink sink = StringSink(answer);
        const int status = api_->call(instance_, method.data(), method.size(), text.data(), text.size(), &sink);
        if (status == CASCADE_OK) {
            json::error_code error;
            json::value value = answer.empty() ? json::value(nullptr) : json::parse(answer, error);
            if (error)
                return Failure(CASCADE_RETRY, "the plugin returned malformed JSON");
            return {{"result", std::move(value)}};
        }
        return Failure(status == CASCADE_RETRY ? CASCADE_RETRY : CASCADE_ERROR, answer);
    }

    static void LogThunk(void* context, int level, const char* message, std::size_t size) {
        auto* self = static_cast<StdioServer*>(context);
        json::object note{{"jsonrpc", "2.0"},
                          {"method", "log"},
                          {"params", json::object{{"level", level}, {"message", std::string_view(message, size)}}}};
        WriteFrame(self->out_, json::serialize(note));
    }
    static int CancelledThunk(void*) { return 0; }  // the engine stops a process plugin by ending it
    static int ReadSourceThunk(void* context, const char* source, std::size_t source_size, const char* params,
                               std::size_t params_size, cascade_sink* out) {
        auto* self = static_cast<StdioServer*>(context);
        json::error_code error;
        json::value parsed = json::parse(std::string_view(params, params_size), error);
        const std::string id = "plugin-" + std::to_string(++self->next_request_);
        json::object request{{"jsonrpc", "2.0"},
                             {"id", id},
                             {"method", "read_source"},
                             {"params", json::object{{"source", std::string_view(source, source_size)},
                                                     {"params", error ? json::value(json::object{}) : parsed}}}};
        WriteFrame(self->out_, json::serialize(request));
        // The engine answers before it sends anything else to this plugin.
        const auto frame = ReadFrame(self->in_);
        if (!frame) {
            Put(out, "the engine closed the connection");
            return CASCADE_RETRY;
        }
        json::value reply = json::parse(*frame, error);
        if (error || !reply.is_object()) {
            Put(out, "malformed answer from the engine");
            return CASCADE_RETRY;
        }
        const json::object& object = reply.as_object();
        if (const auto* result = object.if_contains("result")) {
            Put(out, json::serialize(*result));
            return CASCADE_OK;
        }
        const auto* failure = object.if_contains("error");
        int code = CASCADE_ERROR;
        std::string message = "source failed";
        if (failure != nullptr && failure->is_object()) {
            if (const auto* c = failure->as_object().if_contains("code"); c != nullptr && c->is_int64())
                code = c->as_int64() == CASCADE_RETRY ? CASCADE_RETRY : CASCADE_ERROR;
            if (const auto* m = failure->as_object().if_contains("message"); m != nullptr && m->is_string())
                message = std::string(m->get_string());
        }
        Put(out, message);
        return code;
    }

    const cascade_plugin_api* api_;
    std::istream& in_;
    std::ostream& out_;
    cascade_host_services services_{};
    void* instance_ = nullptr;
    int next_request_ = 0;
};

}  // namespace detail

// Serves `api` over standard input and output (see CASCADE_PLUGIN_MAIN).
inline int ServeStdio(const cascade_plugin_api* api) {
    std::ios::sync_with_stdio(false);
    detail::StdioServer server(api, std::cin, std::cout);
    return server.Run();
}

}  // namespace cascade::sdk

// Names the plugin class and exports the ABI entry point. `name` must equal
// the manifest's name.
#define CASCADE_PLUGIN(PluginClass, plugin_name)                                                      \
    extern "C" __attribute__((visibility("default"))) const cascade_plugin_api* cascade_plugin_entry( \
        uint16_t host_abi_major, uint16_t host_abi_minor) {                                           \
        static const cascade_plugin_api api = {sizeof(cascade_plugin_api),                            \
                                               CASCADE_ABI_MAJOR,                                     \
                                               CASCADE_ABI_MINOR,                                     \
                                               plugin_name,                                           \
                                               &::cascade::sdk::detail::Create<PluginClass>,          \
                                               &::cascade::sdk::detail::Call,                         \
                                               &::cascade::sdk::detail::Destroy};                     \
        if (host_abi_major != CASCADE_ABI_MAJOR || host_abi_minor < CASCADE_ABI_MINOR)                \
            return nullptr;                                                                           \
        return &api;                                                                                  \
    }

// For an out-of-process build of the same plugin: a main() serving JSON-RPC on stdio.
#define CASCADE_PLUGIN_MAIN()                                                                          \
    int main() {                                                                                       \
        return ::cascade::sdk::ServeStdio(cascade_plugin_entry(CASCADE_ABI_MAJOR, CASCADE_ABI_MINOR)); \
    }
