// Outbox effects to plugin calls (see plugin_dispatch.hpp).
#include "cascade/runtime/plugin_dispatch.hpp"

#include "cascade/runtime/report_data.hpp"

#include <boost/json.hpp>

#include <filesystem>

namespace cascade::runtime {

namespace json = boost::json;

const model::PluginDeclaration* FindDeclaration(const model::Definition& definition, std::string_view name) {
    for (const auto& declaration : definition.plugins) {
        if (declaration.name == name)
            return &declaration;
    }
    return nullptr;
}

namespace {

bool IsBuiltin(const model::PluginDeclaration& declaration) {
    return declaration.plugin == "log" || declaration.plugin == "test-action";
}

}  // namespace

PluginDispatcher::PluginDispatcher(Runtime& runtime, DispatchOptions options, std::ostream& builtin_log)
    : runtime_(runtime),
      options_(std::move(options)),
      builtin_(runtime, builtin_log),
      catalog_(plugin::Discover(options_.plugin_folders)) {}

PluginDispatcher::~PluginDispatcher() = default;

std::variant<plugin::Instance*, std::string> PluginDispatcher::InstanceFor(
    const model::Definition& definition, const model::PluginDeclaration& declaration) {
    // Also reached from a plugin's worker thread (read_source): the map is shared.
    std::lock_guard lock(instances_mutex_);
    const auto key = std::make_pair(&definition, declaration.name);
    if (const auto found = instances_.find(key); found != instances_.end())
        return found->second.get();
    const plugin::Manifest* manifest = catalog_.Find(declaration.plugin);
    if (manifest == nullptr) {
        std::string message = "plugin '" + declaration.plugin + "' (declared as '" + declaration.name +
                              "' by workflow '" + definition.id + "') is not installed; searched:";
        for (const auto& folder : catalog_.folders)
            message += " " + folder.string();
        return message;
    }
    plugin::OpenOptions options;
    options.declaration = declaration.name;
    json::error_code error;
    const json::value config = json::parse(declaration.config_json.empty() ? "{}" : declaration.config_json, error);
    options.config = !error && config.is_object() ? config.as_object() : json::object{};
    options.sha256 = declaration.sha256;
    options.timeout =
        declaration.timeout_ms > 0 ? std::chrono::milliseconds(declaration.timeout_ms) : options_.default_timeout;
    options.isolate = declaration.isolate;
    options.plugin_host = options_.plugin_host;
    const model::Definition* owner = &definition;
    options.read_source = [this, owner](std::string_view source, const json::object& params) {
        return ReadSource(*owner, source, params);
    };
    auto opened = plugin::Open(*manifest, options);
    if (auto* failure = std::get_if<std::string>(&opened))
        return *failure;
    auto& instance = std::get<std::unique_ptr<plugin::Instance>>(opened);
    plugin::Instance* raw = instance.get();
    instances_.emplace(key, std::move(instance));
    return raw;
}

plugin::CallResult PluginDispatcher::ReadSource(const model::Definition& definition, std::string_view source,
                                                const json::object& params) {
    const model::PluginDeclaration* declaration = FindDeclaration(definition, source);
    if (declaration == nullptr) {
        return {plugin::Status::error, nullptr,
                "workflow '" + definition.id + "' declares no source '" + std::string(source) + "'"};
    }
    auto instance = InstanceFor(definition, *declaration);
    if (auto* failure = std::get_if<std::string>(&instance))
        return {plugin::Status::retry, nullptr, *failure};
    plugin::Instance* source_plugin = std::get<plugin::Instance*>(instance);
    if (!source_plugin->manifest().HasKind("source")) {
        return {plugin::Status::error, nullptr,
                "'" + std::string(source) + "' is plugin '" + declaration->plugin + "', which is not a source"};
    }
    return source_plugin->Call("read", params);
}

Delivery PluginDispatcher::operator()(const store::OutboxRow& effect) {
    // An instance keeps its workflow while this runs (migration is its own
    // command), so it is looked up once per instance, not once per effect.
    auto cached = definitions_.find(effect.instance);
    if (cached == definitions_.end()) {
        cached = definitions_.emplace(effect.instance, &runtime_.DefinitionOf(effect.instance)).first;
    }
    const model::Definition& definition = *cached->second;
    const model::PluginDeclaration* declaration = FindDeclaration(definition, effect.target);
    if (declaration == nullptr) {
        return {
            Delivery::Status::error, "workflow '" + definition.id + "' declares no plugin '" + effect.target + "'", {}};
    }
    if (IsBuiltin(*declaration))
        return builtin_(effect);

    auto instance = InstanceFor(definition, *declaration);
    if (auto* failure = std::get_if<std::string>(&instance))
        return {Delivery::Status::retry, *failure, {}};
    plugin::Instance& target = *std::get<plugin::Instance*>(instance);

    json::error_code error;
    json::value payload = json::parse(effect.payload, error);
    if (error || !payload.is_object()) {
        return {Delivery::Status::error, "effect " + effect.key + " has a malformed payload", {}};
    }
    json::object params{{"key", effect.key}, {"declaration", declaration->name}, {"attempt", effect.attempts + 1}};
    std::string method;
    std::chrono::milliseconds timeout{0};
    if (effect.kind == "notify") {
        if (!target.manifest().HasKind("notifier")) {
            return {Delivery::Status::error,
                    "'" + declaration->name + "' is plugin '" + declaration->plugin + "', which is not a notifier",
                    {}};
        }
        method = "notify";
        params["payload"] = std::move(payload);
    } else if (effect.kind == "action" && !target.manifest().HasKind("action") &&
               target.manifest().HasKind("reporter")) {
        // A reporter as an action step: writes the campaign's report where its config says.
        method = "report";
        std::string out_dir = "reports";
        json::error_code config_error;
        const json::value config =
            json::parse(declaration->config_json.empty() ? "{}" : declaration->config_json, config_error);
        std::string locale = "zh";
        if (!config_error && config.is_object()) {
            if (const auto* dir = config.as_object().if_contains("output_dir"); dir != nullptr && dir->is_string())
                out_dir = std::string(dir->get_string());
            if (const auto* value = config.as_object().if_contains("locale"); value != nullptr && value->is_string())
                locale = std::string(value->get_string()).substr(0, 2);
        }
        std::error_code io_error;
        std::filesystem::create_directories(out_dir, io_error);
        if (io_error) {
            return {
                Delivery::Status::retry, "cannot create the report folder " + out_dir + ": " + io_error.message(), {}};
        }
        ReportRequest request;
        const auto instance_row = runtime_.Store().GetInstance(effect.instance);
        request.campaign = instance_row ? instance_row->campaign : std::string();
        request.locale = locale;
        request.out_dir = std::filesystem::absolute(out_dir).string();
        json::object report = BuildReportParams(runtime_, request);
        report["key"] = effect.key;
        report["declaration"] = declaration->name;
        if (const auto* with = payload.as_object().if_contains("with"))
            report["with"] = *with;
        params = std::move(report);
        if (const auto* value = payload.as_object().if_contains("timeout_ms"); value != nullptr && value->is_int64()) {
            timeout = std::chrono::milliseconds(value->as_int64());
        }
        const plugin::CallResult result = target.Call(method, params, timeout);
        if (result.Ok()) {
            json::object output;
            if (result.value.is_object())
                output = result.value.as_object();
            return {Delivery::Status::ok, "", std::move(output)};
        }
        return {result.status == plugin::Status::retry ? Delivery::Status::retry : Delivery::Status::error,
                result.message,
                {}};
    } else if (effect.kind == "action") {
        if (!target.manifest().HasKind("action")) {
            return {Delivery::Status::error,
                    "'" + declaration->name + "' is plugin '" + declaration->plugin + "', which is not an action",
                    {}};
        }
        method = "act";
        for (const char* field : {"instance", "unit", "step", "activation", "action", "with"}) {
            if (const auto* value = payload.as_object().if_contains(field))
                params[field] = *value;
        }
        if (const auto* value = payload.as_object().if_contains("timeout_ms"); value != nullptr && value->is_int64()) {
            timeout = std::chrono::milliseconds(value->as_int64());
        }
    } else {
        return {Delivery::Status::error, "no plugin delivers effects of kind '" + effect.kind + "'", {}};
    }
    const plugin::CallResult result = target.Call(method, params, timeout);
    switch (result.status) {
    case plugin::Status::ok: {
        json::object output;
        if (result.value.is_object()) {
            if (const auto* inner = result.value.as_object().if_contains("output");
                inner != nullptr && inner->is_object()) {
                output = inner->as_object();
            }
        }
        return {Delivery::Status::ok, "", std::move(output)};
    }
    case plugin::Status::retry:
        return {Delivery::Status::retry, result.message, {}};
    case plugin::Status::error:
        break;
    }
    return {Delivery::Status::error, result.message, {}};
}

}  // namespace cascade::runtime
