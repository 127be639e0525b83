// `cascade plugins list|info|check` and the hidden `cascade plugin-host`,
// plus the plugin search folders every command that loads plugins shares.
#pragma once

#include "cascade/lang/loader.hpp"
#include "cascade/plugin/plugin.hpp"

#include <CLI/CLI.hpp>

#include <filesystem>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cascade::cli {

// The folders given with --plugin-dir (before or after the command name).
struct PluginSettings {
    std::vector<std::string> plugin_dirs;
    std::vector<std::filesystem::path> Folders() const;
};

// Checks workflow `plugins:` declarations against the installed plugins
// (for `cascade validate`): installed, ABI, version, config against the schema.
lang::PluginChecker MakePluginChecker(const std::shared_ptr<const plugin::Catalog>& catalog);

// Checks that hooks name notifiers and action steps name actions (or reporters).
void CheckPluginUses(const model::Definition& definition, const plugin::Catalog& catalog,
                     lang::Diagnostics& diagnostics);

class PluginCommands {
public:
    PluginCommands(CLI::App& app, PluginSettings& settings);
    ~PluginCommands();
    PluginCommands(const PluginCommands&) = delete;
    PluginCommands& operator=(const PluginCommands&) = delete;

    std::vector<CLI::App*> Commands() const;
    std::optional<int> Run(std::ostream& out, std::ostream& err);

    struct Options;

private:
    std::unique_ptr<Options> options_;
    PluginSettings& settings_;
};

}  // namespace cascade::cli
