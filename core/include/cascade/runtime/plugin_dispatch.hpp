// Delivers outbox effects through plugins: each workflow declaration gets
// one live plugin instance (opened on first use with its checked config),
// notifications go to `notify`, action steps to `act`, and a plugin's
// read_source requests are served by the source plugins the same workflow
// declares. The built-in `log` notifier and `test-action` still work
// without any plugin installed.
//
// Every failure to find, open or call a plugin is a retry with a message
// naming the declaration and the plugin: the runtime backs off and, past its
// attempt limit, parks the effect as a dead letter; nothing is lost.
#pragma once

#include "cascade/plugin/plugin.hpp"
#include "cascade/runtime/builtin_plugins.hpp"
#include "cascade/runtime/runtime.hpp"

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <ostream>
#include <string>
#include <unordered_map>
#include <variant>

namespace cascade::runtime {

struct DispatchOptions {
    std::vector<std::filesystem::path> plugin_folders;  // searched in order (see plugin::SearchPath)
    std::filesystem::path plugin_host;                  // runs isolated libraries; default: this program
    std::chrono::milliseconds default_timeout{10'000};  // per call, unless a declaration says otherwise
};

class PluginDispatcher {
public:
    // `builtin_log` receives the built-in `log` notifier's lines.
    PluginDispatcher(Runtime& runtime, DispatchOptions options, std::ostream& builtin_log);
    ~PluginDispatcher();
    PluginDispatcher(const PluginDispatcher&) = delete;
    PluginDispatcher& operator=(const PluginDispatcher&) = delete;

    Delivery operator()(const store::OutboxRow& effect);

    // The live instance for a workflow's declaration (opened on first use).
    std::variant<plugin::Instance*, std::string> InstanceFor(const model::Definition& definition,
                                                             const model::PluginDeclaration& declaration);
    // `read` on the source plugin `source` that `definition` declares.
    plugin::CallResult ReadSource(const model::Definition& definition, std::string_view source,
                                  const boost::json::object& params);
    const plugin::Catalog& Catalog() const { return catalog_; }

private:
    Runtime& runtime_;
    DispatchOptions options_;
    BuiltinDeliverer builtin_;
    plugin::Catalog catalog_;
    // Keyed by (definition, declaration name); the definitions live as long as the runtime.
    std::unordered_map<std::string, const model::Definition*> definitions_;  // by instance
    std::mutex instances_mutex_;
    std::map<std::pair<const model::Definition*, std::string>, std::unique_ptr<plugin::Instance>> instances_;
};

// The declaration `name` of `definition`, if any.
const model::PluginDeclaration* FindDeclaration(const model::Definition& definition, std::string_view name);

}  // namespace cascade::runtime
