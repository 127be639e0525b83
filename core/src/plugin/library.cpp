// In-process plugins: a shared library opened with RTLD_NOW | RTLD_LOCAL
// after its manifest was checked, called through its C table on a worker
// thread of its own so a call that hangs can be abandoned at its timeout
// while the engine carries on.
//
// The hand-off to the worker spins briefly before it sleeps: back-to-back
// calls (an outbox drain) then cost a few hundred nanoseconds each instead
// of two futex wake-ups.
#include "instance_internal.hpp"

#include <dlfcn.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CASCADE_CPU_RELAX() _mm_pause()
#else
#define CASCADE_CPU_RELAX() ((void)0)
#endif

namespace cascade::plugin {

namespace json = boost::json;

namespace {

constexpr std::size_t kMaxAnswerBytes = 64u << 20;
// How long either side spins before it sleeps. Long enough to catch the
// next call of an outbox drain, short enough that a machine without a
// second free core loses little to it. Measured by the clock, not by rounds:
// a pause instruction costs anything from 1 to 150 cycles across CPUs.
constexpr std::chrono::nanoseconds kSpinFor{20'000};

// Spinning only pays when the other thread can run meanwhile.
bool SpinningHelps() {
    static const bool helps = std::thread::hardware_concurrency() > 1;
    return helps;
}

// Spins until `done()` or kSpinFor has passed; true when done.
template <typename Done>
bool SpinUntil(const Done& done) {
    if (!SpinningHelps())
        return done();
    const auto until = std::chrono::steady_clock::now() + kSpinFor;
    while (true) {
        for (int round = 0; round < 64; ++round) {
            if (done())
                return true;
            CASCADE_CPU_RELAX();
        }
        if (std::chrono::steady_clock::now() >= until)
            return done();
    }
}

// Owns a dlopen handle. Shared by the instance and its worker thread: a
// worker abandoned in a hung call must keep the code it runs mapped.
class Library {
public:
    explicit Library(void* handle) : handle_(handle) {}
    Library(const Library&) = delete;
    Library& operator=(const Library&) = delete;
    ~Library() {
        if (handle_ != nullptr)
            ::dlclose(handle_);
    }
    void* Symbol(const char* name) const { return ::dlsym(handle_, name); }

private:
    void* handle_;
};

// A byte sink with a size cap (a hostile plugin cannot exhaust memory).
struct CappedSink {
    std::string bytes;
    bool overflow = false;
    static void Append(void* context, const char* data, std::size_t size) {
        auto* self = static_cast<CappedSink*>(context);
        if (self->overflow || self->bytes.size() + size > kMaxAnswerBytes) {
            self->overflow = true;
            return;
        }
        self->bytes.append(data, size);
    }
    cascade_sink Sink() { return cascade_sink{this, &CappedSink::Append}; }
};

// Everything the worker thread touches; outlives the instance while a hung call runs.
struct Shared {
    std::shared_ptr<Library> library;
    const cascade_plugin_api* api = nullptr;
    std::string declaration;
    std::string plugin_name;
    SourceReader read_source;
    cascade_host_services services{};
    void* instance = nullptr;
    std::atomic<bool> cancelled{false};

    // The current job and the hand-off between caller and worker.
    std::mutex mutex;
    std::condition_variable wake_worker;
    std::condition_variable wake_caller;
    std::atomic<std::uint64_t> posted{0};
    std::atomic<std::uint64_t> finished{0};
    std::atomic<bool> worker_sleeping{false};
    std::atomic<bool> caller_sleeping{false};
    std::atomic<bool> stop{false};
    std::string method;
    std::string params;
    int status = CASCADE_OK;
    CappedSink answer;
    std::string crash;  // an exception that crossed the boundary

    ~Shared() {
        if (instance != nullptr && api != nullptr) {
            try {
                api->destroy(instance);
            } catch (...) {  // a destroy that throws is contained like a call that throws
                spdlog::warn("plugin '{}' ({}): destroy threw an exception", declaration, plugin_name);
            }
        }
    }

    static void Log(void* context, int level, const char* message, std::size_t size) {
        auto* self = static_cast<Shared*>(context);
        const std::string_view text(message, size);
        switch (level) {
        case CASCADE_LOG_TRACE:
            spdlog::trace("plugin '{}': {}", self->declaration, text);
            break;
        case CASCADE_LOG_DEBUG:
            spdlog::debug("plugin '{}': {}", self->declaration, text);
            break;
        case CASCADE_LOG_INFO:
            spdlog::info("plugin '{}': {}", self->declaration, text);
            break;
        case CASCADE_LOG_WARN:
            spdlog::warn("plugin '{}': {}", self->declaration, text);
            break;
        default:
            spdlog::error("plugin '{}': {}", self->declaration, text);
            break;
        }
    }
    static int Cancelled(void* context) { return static_cast<Shared*>(context)->cancelled.load() ? 1 : 0; }
    static int ReadSource(void* context, const char* source, std::size_t source_size, const char* params,
                          std::size_t params_size, cascade_sink* out) {
        auto* self = static_cast<Shared*>(context);
        auto put = [out](std::string_view text) {
            if (out != nullptr && out->append != nullptr)
                out->append(out->context, text.data(), text.size());
        };
        if (!self->read_source) {
            put("no sources are available to this plugin");
            return CASCADE_ERROR;
        }
        json::error_code error;
        json::value parsed = json::parse(std::string_view(params, params_size), error);
        if (error || !parsed.is_object()) {
            put("read_source params are not a JSON object");
            return CASCADE_ERROR;
        }
        try {
            const CallResult result = self->read_source(std::string_view(source, source_size), parsed.as_object());
            put(result.Ok() ? json::serialize(result.value) : result.message);
            return static_cast<int>(result.status);
        } catch (const std::exception& exception) {
            put(std::string("reading the source failed: ") + exception.what());
            return CASCADE_RETRY;
        }
    }

    // Runs the posted job on the worker thread.
    void RunJob() {
        answer = CappedSink{};
        crash.clear();
        cascade_sink sink = answer.Sink();
        try {
            status = api->call(instance, method.data(), method.size(), params.data(), params.size(), &sink);
        } catch (const std::exception& exception) {
            crash = exception.what();
            status = CASCADE_RETRY;
        } catch (...) {
            crash = "an unknown exception";
            status = CASCADE_RETRY;
        }
    }

    void WorkerLoop() {
        std::uint64_t seen = 0;
        while (true) {
            const bool have_job = SpinUntil(
                [&] { return posted.load(std::memory_order_acquire) != seen || stop.load(std::memory_order_relaxed); });
            if (!have_job) {
                std::unique_lock lock(mutex);
                worker_sleeping.store(true);
                wake_worker.wait(lock, [&] { return posted.load() != seen || stop.load(); });
                worker_sleeping.store(false);
            }
            if (stop.load())
                return;
            seen = posted.load(std::memory_order_acquire);
            RunJob();
            finished.store(seen);
            if (caller_sleeping.load()) {
                std::lock_guard lock(mutex);
                wake_caller.notify_one();
            }
        }
    }
};

class LibraryInstance final : public Instance {
public:
    LibraryInstance(Manifest manifest, std::string declaration, std::shared_ptr<Shared> shared,
                    std::chrono::milliseconds timeout)
        : Instance(std::move(manifest), std::move(declaration)), shared_(std::move(shared)), timeout_(timeout) {
        worker_ = std::thread([shared = shared_] { shared->WorkerLoop(); });
    }

    LibraryInstance(const LibraryInstance&) = delete;
    LibraryInstance& operator=(const LibraryInstance&) = delete;

    ~LibraryInstance() override {
        shared_->stop.store(true);
        {
            std::lock_guard lock(shared_->mutex);
            shared_->wake_worker.notify_one();
        }
        if (Busy()) {
            // Still inside a call that hung: it cannot be interrupted. The thread
            // keeps its own reference to the library and the instance.
            worker_.detach();
        } else {
            worker_.join();
        }
    }

    CallResult Call(std::string_view method, const json::object& params, std::chrono::milliseconds timeout) override {
        // One call at a time: a source may be read from another plugin's worker thread.
        std::lock_guard call_lock(call_mutex_);
        if (Busy()) {
            return {Status::retry, nullptr,
                    "plugin '" + declaration() + "' (" + manifest().name +
                        ") is still inside an earlier call that passed its timeout"};
        }
        Shared& shared = *shared_;
        shared.method.assign(method);
        shared.params = json::serialize(params);
        shared.cancelled.store(false);
        const std::uint64_t job = shared.posted.load() + 1;
        shared.posted.store(job);
        if (shared.worker_sleeping.load()) {
            std::lock_guard lock(shared.mutex);
            shared.wake_worker.notify_one();
        }
        const auto limit = timeout.count() > 0 ? timeout : timeout_;
        if (!WaitFor(job, limit)) {
            shared.cancelled.store(true);
            spdlog::warn("plugin '{}' ({}): {} did not return within {} ms; abandoned", declaration(), manifest().name,
                         method, limit.count());
            return {Status::retry, nullptr,
                    "plugin '" + declaration() + "' (" + manifest().name + ") did not answer " + std::string(method) +
                        " within " + std::to_string(limit.count()) + " ms"};
        }
        return Collect(method);
    }

private:
    bool Busy() const { return shared_->finished.load() != shared_->posted.load(); }

    bool WaitFor(std::uint64_t job, std::chrono::milliseconds limit) {
        Shared& shared = *shared_;
        if (SpinUntil([&] { return shared.finished.load(std::memory_order_acquire) == job; }))
            return true;
        const auto deadline = std::chrono::steady_clock::now() + limit;
        std::unique_lock lock(shared.mutex);
        shared.caller_sleeping.store(true);
        const bool done = shared.wake_caller.wait_until(lock, deadline, [&] { return shared.finished.load() == job; });
        shared.caller_sleeping.store(false);
        return done;
    }

    CallResult Collect(std::string_view method) {
        Shared& shared = *shared_;
        const std::string who = "plugin '" + declaration() + "' (" + manifest().name + ")";
        if (!shared.crash.empty()) {
            spdlog::warn("{}: {} threw {}", who, method, shared.crash);
            return {Status::retry, nullptr,
                    who + " threw an exception in " + std::string(method) + ": " + shared.crash};
        }
        if (shared.answer.overflow) {
            return {Status::retry, nullptr, who + " answered more than 64 MiB"};
        }
        if (shared.status == CASCADE_OK) {
            if (shared.answer.bytes.empty())
                return {Status::ok, nullptr, {}};
            json::error_code error;
            json::value value = json::parse(shared.answer.bytes, error);
            if (error) {
                spdlog::warn("{}: {} returned malformed JSON", who, method);
                return {Status::retry, nullptr, who + " returned malformed JSON from " + std::string(method)};
            }
            return {Status::ok, std::move(value), {}};
        }
        if (shared.status == CASCADE_RETRY || shared.status == CASCADE_ERROR) {
            return {static_cast<Status>(shared.status), nullptr,
                    shared.answer.bytes.empty() ? who + " gave no reason" : shared.answer.bytes};
        }
        return {Status::retry, nullptr, who + " returned an unknown status " + std::to_string(shared.status)};
    }

    std::shared_ptr<Shared> shared_;
    std::chrono::milliseconds timeout_;
    std::mutex call_mutex_;
    std::thread worker_;
};

}  // namespace

std::variant<std::unique_ptr<Instance>, std::string> OpenLibrary(const Manifest& manifest, const OpenOptions& options) {
    // Metadata first: the manifest's ABI was checked by the caller; only now
    // does any of the library's code run (its constructors, at dlopen).
    ::dlerror();
    void* handle = ::dlopen(manifest.path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
        const char* reason = ::dlerror();
        return "cannot load " + manifest.path.string() + ": " + (reason != nullptr ? reason : "unknown reason");
    }
    auto shared = std::make_shared<Shared>();
    shared->library = std::make_shared<Library>(handle);
    shared->declaration = options.declaration.empty() ? manifest.name : options.declaration;
    shared->plugin_name = manifest.name;
    shared->read_source = options.read_source;
    auto* entry = reinterpret_cast<cascade_plugin_entry_fn>(shared->library->Symbol(CASCADE_PLUGIN_ENTRY_SYMBOL));
    if (entry == nullptr) {
        return manifest.path.string() + " does not export " + CASCADE_PLUGIN_ENTRY_SYMBOL +
               " (declare the plugin with CASCADE_PLUGIN(...))";
    }
    const cascade_plugin_api* api = nullptr;
    try {
        api = entry(CASCADE_ABI_MAJOR, CASCADE_ABI_MINOR);
    } catch (...) {
        return "plugin '" + manifest.name + "' threw from " + CASCADE_PLUGIN_ENTRY_SYMBOL;
    }
    if (api == nullptr) {
        return "plugin '" + manifest.name + "' offers no table for plugin ABI " + std::to_string(kHostAbiMajor) + "." +
               std::to_string(kHostAbiMinor);
    }
    if (api->abi_major != kHostAbiMajor || api->abi_minor > kHostAbiMinor) {
        return "plugin '" + manifest.name + "' was built for plugin ABI " + std::to_string(api->abi_major) + "." +
               std::to_string(api->abi_minor) + "; this cascade speaks " + std::to_string(kHostAbiMajor) + "." +
               std::to_string(kHostAbiMinor);
    }
    constexpr std::size_t kTableSize10 = offsetof(cascade_plugin_api, destroy) + sizeof(api->destroy);
    if (api->struct_size < kTableSize10 || api->create == nullptr || api->call == nullptr || api->destroy == nullptr) {
        return "plugin '" + manifest.name + "' returned an incomplete function table";
    }
    if (api->name == nullptr || manifest.name != api->name) {
        return "plugin '" + manifest.name + "': its table names it '" + (api->name != nullptr ? api->name : "") +
               "', not as its manifest does";
    }
    shared->api = api;
    shared->services = cascade_host_services{sizeof(cascade_host_services),
                                             static_cast<std::uint16_t>(kHostAbiMajor),
                                             static_cast<std::uint16_t>(kHostAbiMinor),
                                             shared.get(),
                                             &Shared::Log,
                                             &Shared::Cancelled,
                                             &Shared::ReadSource};
    const std::string config = json::serialize(options.config);
    CappedSink error;
    cascade_sink error_sink = error.Sink();
    void* instance = nullptr;
    int status = CASCADE_ERROR;
    try {
        status = api->create(&shared->services, config.data(), config.size(), &instance, &error_sink);
    } catch (const std::exception& exception) {
        return "plugin '" + manifest.name + "' threw while starting: " + exception.what();
    } catch (...) {
        return "plugin '" + manifest.name + "' threw while starting";
    }
    if (status != CASCADE_OK) {
        return "plugin '" + manifest.name +
               "' refused to start: " + (error.bytes.empty() ? std::string("no reason given") : error.bytes);
    }
    shared->instance = instance;
    return std::unique_ptr<Instance>(
        std::make_unique<LibraryInstance>(manifest, shared->declaration, std::move(shared), options.timeout));
}

const cascade_plugin_api* LoadLibraryTable(const std::filesystem::path& library, std::string& error,
                                           std::shared_ptr<void>& keep_alive) {
    ::dlerror();
    void* handle = ::dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
        const char* reason = ::dlerror();
        error = "cannot load " + library.string() + ": " + (reason != nullptr ? reason : "unknown reason");
        return nullptr;
    }
    auto owned = std::make_shared<Library>(handle);
    auto* entry = reinterpret_cast<cascade_plugin_entry_fn>(owned->Symbol(CASCADE_PLUGIN_ENTRY_SYMBOL));
    if (entry == nullptr) {
        error = library.string() + " does not export " + CASCADE_PLUGIN_ENTRY_SYMBOL;
        return nullptr;
    }
    const cascade_plugin_api* api = entry(CASCADE_ABI_MAJOR, CASCADE_ABI_MINOR);
    if (api == nullptr || api->abi_major != kHostAbiMajor || api->abi_minor > kHostAbiMinor) {
        error = library.string() + " offers no table for plugin ABI " + std::to_string(kHostAbiMajor) + "." +
                std::to_string(kHostAbiMinor);
        return nullptr;
    }
    keep_alive = std::move(owned);
    return api;
}

}  // namespace cascade::plugin
