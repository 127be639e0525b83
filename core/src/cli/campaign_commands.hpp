// The commands that run campaigns against a database: units import, start,
// advance, review, problems, status, history, audit verify, admin
// (rebuild, reset, retry, redeliver), migrate, run and simulate.
#pragma once

#include "plugin_commands.hpp"

#include <CLI/CLI.hpp>

#include <iosfwd>
#include <memory>
#include <optional>
#include <vector>

namespace cascade::cli {

// Exit codes shared by every command.
constexpr int kExitOk = 0;
constexpr int kExitInvalid = 1;   // invalid input or a refused command; nothing was written
constexpr int kExitUsage = 2;     // wrong arguments
constexpr int kExitConflict = 3;  // the instance changed meanwhile (stale --expect-version): look again and retry
constexpr int kExitStorage = 4;   // the database cannot be opened, is newer than this build, or failed

class CampaignCommands {
public:
    CampaignCommands(CLI::App& app, PluginSettings& plugin_settings);
    ~CampaignCommands();
    CampaignCommands(const CampaignCommands&) = delete;
    CampaignCommands& operator=(const CampaignCommands&) = delete;

    // Every subcommand (and nested subcommand) this adds, for help handling.
    std::vector<CLI::App*> Commands() const;
    // Runs the parsed command; nullopt when none of these was chosen.
    std::optional<int> Run(std::ostream& out, std::ostream& err);

    struct Options;  // the parsed flags; defined in the .cpp

private:
    std::unique_ptr<Options> options_;
};

}  // namespace cascade::cli
