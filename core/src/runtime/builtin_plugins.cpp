// Built-in effect delivery: the `log` notifier and the `test-action` action.
#include "cascade/runtime/builtin_plugins.hpp"

#include "cascade/runtime/plugin_dispatch.hpp"

#include <boost/json.hpp>

#include <fstream>

namespace cascade::runtime {

namespace json = boost::json;

namespace {

// `test-action` with {action: complete | fail | flaky}; flaky asks for a retry
// until the effect has been attempted `succeed_after` times (default 2).
Delivery RunTestAction(const store::OutboxRow& effect, const json::object& payload) {
    const std::string action(payload.at("action").as_string());
    const json::object* with = payload.if_contains("with") ? payload.at("with").if_object() : nullptr;
    if (action == "complete") {
        return {Delivery::Status::ok, "", {{"completed_by", "test-action"}}};
    }
    if (action == "fail") {
        const auto* message = with != nullptr ? with->if_contains("message") : nullptr;
        return {Delivery::Status::error,
                message != nullptr && message->is_string() ? std::string(message->get_string()) : "the action failed",
                {}};
    }
    if (action == "flaky") {
        std::int64_t succeed_after = 2;
        if (with != nullptr && with->contains("succeed_after") && with->at("succeed_after").is_int64()) {
            succeed_after = with->at("succeed_after").as_int64();
        }
        if (effect.attempts + 1 >= succeed_after) {
            return {Delivery::Status::ok, "", {{"attempts", effect.attempts + 1}}};
        }
        return {Delivery::Status::retry, "not yet (attempt " + std::to_string(effect.attempts + 1) + ")", {}};
    }
    return {Delivery::Status::error, "test-action has no action '" + action + "' (complete, fail, flaky)", {}};
}

}  // namespace

Delivery BuiltinDeliverer::operator()(const store::OutboxRow& effect) {
    const model::Definition& definition = runtime_.DefinitionOf(effect.instance);
    const model::PluginDeclaration* declaration = FindDeclaration(definition, effect.target);
    if (declaration == nullptr) {
        return {
            Delivery::Status::error, "workflow '" + definition.id + "' declares no plugin '" + effect.target + "'", {}};
    }
    const json::object payload = json::parse(effect.payload).as_object();
    if (declaration->plugin == "log" && effect.kind == "notify") {
        json::object line{{"key", effect.key}, {"plugin", declaration->name}};
        for (const auto& [key, value] : payload)
            line[key] = value;
        const json::value config = json::parse(declaration->config_json.empty() ? "{}" : declaration->config_json);
        const auto* path = config.is_object() ? config.as_object().if_contains("path") : nullptr;
        if (path != nullptr && path->is_string()) {
            std::ofstream file(std::string(path->get_string()), std::ios::app);
            if (!(file << json::serialize(line) << '\n')) {
                return {Delivery::Status::retry, "cannot write to " + std::string(path->get_string()), {}};
            }
        } else {
            log_stream_ << json::serialize(line) << '\n';
        }
        return {Delivery::Status::ok, "", {}};
    }
    if (declaration->plugin == "test-action" && effect.kind == "action") {
        return RunTestAction(effect, payload);
    }
    return {Delivery::Status::retry,
            "plugin '" + declaration->plugin + "' (declared as '" + declaration->name +
                "') is not available to this "
                "cascade",
            {}};
}

}  // namespace cascade::runtime
