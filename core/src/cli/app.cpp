// The `cascade` command line (CLI11): validate, graph and show workflows; the
// campaign commands live in campaign_commands.cpp.
// Shell only: parsing arguments, choosing outputs and exit codes; all
// decisions are made by the lang and check modules.
#include "cascade/cli/app.hpp"

#include "campaign_commands.hpp"
#include "cascade/check/checker.hpp"
#include "cascade/cli/render.hpp"
#include "plugin_commands.hpp"

#include <sys/wait.h>
#include <unistd.h>
#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

namespace cascade::cli {

namespace {

struct LimitOptions {
    lang::LoadLimits limits;

    void AddTo(CLI::App& command) {
        command.add_option("--max-file-size", limits.max_file_size, "Refuse files larger than this many bytes")
            ->capture_default_str()
            ->group("Limits");
        command.add_option("--max-depth", limits.max_depth, "Refuse YAML nested deeper than this")
            ->capture_default_str()
            ->group("Limits");
        command.add_option("--max-nodes", limits.max_nodes, "Refuse documents with more YAML nodes (aliases expanded)")
            ->capture_default_str()
            ->group("Limits");
        command.add_option("--max-steps", limits.max_steps, "Refuse workflows with more steps")
            ->capture_default_str()
            ->group("Limits");
        command
            .add_option("--max-expression-length", limits.max_expression_length,
                        "Refuse expressions longer than this many characters")
            ->capture_default_str()
            ->group("Limits");
        command
            .add_option("--max-expression-depth", limits.max_expression_depth,
                        "Refuse expressions nested deeper than this")
            ->capture_default_str()
            ->group("Limits");
    }
};

void PrintDiagnostics(const lang::Diagnostics& diagnostics, std::ostream& err) {
    for (const auto& diagnostic : diagnostics.Items()) {
        err << lang::FormatText(diagnostic) << "\n";
    }
}

// Loads and checks one file for graph/show; prints diagnostics on failure.
std::optional<model::Definition> LoadValid(const std::string& file, const LimitOptions& limits, std::ostream& err) {
    lang::LoadOptions options;
    options.limits = limits.limits;
    auto result = check::ValidateWorkflowFile(file, options);
    if (!result.Ok()) {
        PrintDiagnostics(result.diagnostics, err);
        err << file << ": not drawn, the workflow has " << result.diagnostics.ErrorCount() << " error"
            << (result.diagnostics.ErrorCount() == 1 ? "" : "s") << " (run 'cascade validate " << file << "')\n";
        return std::nullopt;
    }
    return std::move(result.definition);
}

int WriteOutput(const std::string& text, const std::string& output, std::ostream& out, std::ostream& err) {
    if (output.empty() || output == "-") {
        out << text;
        return kExitOk;
    }
    std::ofstream file(output, std::ios::binary);
    file << text;
    if (!file) {
        err << output << ": cannot write: " << std::strerror(errno) << "\n";
        return kExitInvalid;
    }
    return kExitOk;
}

// Runs Graphviz `dot -Tsvg` on the DOT text. No shell is involved.
std::optional<std::string> DotToSvg(const std::string& dot_text, std::string& error) {
    int to_child[2];
    int from_child[2];
    if (pipe(to_child) != 0 || pipe(from_child) != 0) {
        error = "cannot create pipes";
        return std::nullopt;
    }
    const pid_t pid = fork();
    if (pid < 0) {
        error = "cannot start Graphviz";
        return std::nullopt;
    }
    if (pid == 0) {
        dup2(to_child[0], STDIN_FILENO);
        dup2(from_child[1], STDOUT_FILENO);
        close(to_child[1]);
        close(from_child[0]);
        execlp("dot", "dot", "-Tsvg", static_cast<char*>(nullptr));
        _exit(127);
    }
    close(to_child[0]);
    close(from_child[1]);
    // The DOT text is small; write it all, then read the SVG.
    std::size_t written = 0;
    while (written < dot_text.size()) {
        const ssize_t n = write(to_child[1], dot_text.data() + written, dot_text.size() - written);
        if (n <= 0) {
            break;
        }
        written += static_cast<std::size_t>(n);
    }
    close(to_child[1]);
    std::string svg;
    char buffer[65536];
    ssize_t n = 0;
    while ((n = read(from_child[0], buffer, sizeof buffer)) > 0) {
        svg.append(buffer, static_cast<std::size_t>(n));
    }
    close(from_child[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        error = WIFEXITED(status) && WEXITSTATUS(status) == 127
                    ? "Graphviz 'dot' is not installed; use --format dot or mermaid, or install graphviz"
                    : "Graphviz 'dot' failed";
        return std::nullopt;
    }
    return svg;
}

}  // namespace

int RunCli(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
    CLI::App app{
        "Cascade runs campaigns: a programme handed down a tree of units and carried out by every unit in "
        "stages, under deadlines.\nThis command validates, draws and outlines workflow files, and starts, advances, "
        "watches, audits and simulates campaigns.",
        "cascade"};
    app.require_subcommand(1);
    app.footer(
        "Exit status: 0 success, 1 invalid input or refused command, 2 usage error, 3 conflict, 4 database error.\n"
        "Reference: docs/workflow-language.md. Run 'cascade COMMAND --help' for a command's manual.");
    app.set_version_flag("--version", "cascade 0.1.0");
    PluginSettings plugin_settings;
    app.add_option("--plugin-dir", plugin_settings.plugin_dirs,
                   "A folder to find plugins in (repeatable; searched before CASCADE_PLUGIN_PATH and the install "
                   "prefix)");
    // `cascade run --plugin-dir X` as well as `cascade --plugin-dir X run`.
    app.fallthrough();

    // validate
    std::vector<std::string> validate_files;
    std::string validate_format = "text";
    bool quiet = false;
    LimitOptions validate_limits;
    auto* validate = app.add_subcommand(
        "validate",
        "Check workflow files and report every problem found.\n\n"
        "Each file is read, checked against the workflow schema, its expressions are type-checked against the forms "
        "and variables in scope, and its step graph is checked: every step reachable, every path reaching an end, "
        "parallels meeting at joins, loops bounded by max_rounds, deadlines inside the campaign. Child workflows named "
        "by subflow steps are checked too. Each `plugins:` declaration is checked against the installed plugin: it "
        "must "
        "be found in the plugin path, speak this cascade's plugin ABI, match a pinned sha256, and its `config:` must "
        "satisfy the plugin's config schema. All problems of a file are reported in one run, each as "
        "FILE:LINE:COLUMN: error: MESSAGE, with a hint where one helps.");
    validate->add_option("files", validate_files, "Workflow files (YAML)")->required()->check(CLI::ExistingPath);
    validate->add_option("--format", validate_format, "Diagnostics as 'text' (stderr) or 'json' (stdout)")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();
    validate->add_flag("-q,--quiet", quiet, "Print only problems, not the per-file summary");
    bool validate_no_plugins = false;
    validate->add_flag("--no-plugins", validate_no_plugins,
                       "Do not check `plugins:` declarations against the installed plugins (shape only)");
    validate_limits.AddTo(*validate);
    validate->footer(
        "Example:\n  cascade validate workflows/theme-education.yaml\n"
        "  cascade validate --format json workflows/*.yaml | jq '.[].message'\n\n"
        "Exit status: 0 all files valid (warnings allowed), 1 any error, 2 usage error.");

    // graph
    std::string graph_file;
    std::string graph_format = "dot";
    std::string graph_language = "zh";
    std::string graph_output;
    LimitOptions graph_limits;
    auto* graph = app.add_subcommand(
        "graph",
        "Draw a workflow's step graph.\n\n"
        "Stages are drawn as clusters, decisions as diamonds, parallels and joins as bars, subflows with a double "
        "border, ends as double circles; rework edges (loops bounded by max_rounds) are dashed and labelled with "
        "their bound. The workflow must validate first.");
    graph->add_option("file", graph_file, "Workflow file")->required()->check(CLI::ExistingFile);
    graph->add_option("--format", graph_format, "dot (Graphviz), mermaid, or svg (needs Graphviz's 'dot' installed)")
        ->check(CLI::IsMember({"dot", "mermaid", "svg"}))
        ->capture_default_str();
    graph->add_option("--lang", graph_language, "Language of titles: zh or en")
        ->check(CLI::IsMember({"zh", "en"}))
        ->capture_default_str();
    graph->add_option("-o,--output", graph_output, "Write to this file instead of standard output");
    graph_limits.AddTo(*graph);
    graph->footer(
        "Example:\n  cascade graph workflows/theme-education.yaml --format svg -o campaign.svg\n"
        "  cascade graph workflows/theme-education.yaml --format mermaid --lang en");

    // show
    std::string show_file;
    std::string show_language = "zh";
    LimitOptions show_limits;
    auto* show = app.add_subcommand(
        "show",
        "Print a readable outline of a workflow: its steps in order, grouped by stage, with who does what by when, "
        "the forms to fill, gates, reviews, reminders, escalation and where the work goes next.");
    show->add_option("file", show_file, "Workflow file")->required()->check(CLI::ExistingFile);
    show->add_option("--lang", show_language, "Language: zh or en")
        ->check(CLI::IsMember({"zh", "en"}))
        ->capture_default_str();
    show_limits.AddTo(*show);
    show->footer("Example:\n  cascade show workflows/theme-education.yaml --lang en");

    CampaignCommands campaign_commands(app, plugin_settings);
    PluginCommands plugin_commands(app, plugin_settings);

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
        out << app.help();
        return kExitOk;
    } catch (const CLI::CallForAllHelp&) {
        out << app.help("", CLI::AppFormatMode::All);
        return kExitOk;
    } catch (const CLI::CallForVersion&) {
        out << "cascade 0.1.0\n";
        return kExitOk;
    } catch (const CLI::ParseError& error) {
        // A subcommand's --help arrives here as a "success" parse error.
        if (error.get_exit_code() == 0) {
            // The innermost parsed command is the one asking for help.
            std::vector<CLI::App*> commands{validate, graph, show};
            for (auto* command : campaign_commands.Commands())
                commands.push_back(command);
            for (auto* command : plugin_commands.Commands())
                commands.push_back(command);
            CLI::App* asking = nullptr;
            for (auto* command : commands) {
                if (command->parsed())
                    asking = command;
            }
            if (asking != nullptr) {
                out << asking->help();
                return kExitOk;
            }
            out << app.help();
            return kExitOk;
        }
        err << "cascade: " << error.what() << "\n";
        err << "Run 'cascade --help' for usage.\n";
        return kExitUsage;
    }

    if (validate->parsed()) {
        lang::LoadOptions options;
        options.limits = validate_limits.limits;
        std::shared_ptr<plugin::Catalog> catalog;
        if (!validate_no_plugins) {
            catalog = std::make_shared<plugin::Catalog>(plugin::Discover(plugin_settings.Folders()));
            options.check_plugin = MakePluginChecker(catalog);
        }
        lang::Diagnostics all;
        bool any_error = false;
        std::set<std::string> seen;  // a child workflow checked through its parent and on its own
        for (const auto& file : validate_files) {
            auto result = check::ValidateWorkflowFile(file, options);
            if (catalog && result.definition) {
                CheckPluginUses(*result.definition, *catalog, result.diagnostics);
            }
            lang::Diagnostics fresh;
            for (const auto& diagnostic : result.diagnostics.Items()) {
                if (seen.insert(lang::FormatText(diagnostic)).second) {
                    fresh.Add(diagnostic);
                }
            }
            any_error = any_error || result.diagnostics.HasErrors();
            if (validate_format == "text") {
                PrintDiagnostics(fresh, err);
                if (!quiet) {
                    if (result.Ok()) {
                        out << file << ": valid (" << result.definition->steps.size() << " steps)\n";
                    } else {
                        const std::size_t errors = result.diagnostics.ErrorCount();
                        out << file << ": " << errors << " error" << (errors == 1 ? "" : "s") << "\n";
                    }
                }
            }
            all.Append(fresh);
        }
        if (validate_format == "json") {
            out << lang::FormatJson(all.Items()) << "\n";
        }
        return any_error ? kExitInvalid : kExitOk;
    }

    if (graph->parsed()) {
        auto definition = LoadValid(graph_file, graph_limits, err);
        if (!definition) {
            return kExitInvalid;
        }
        std::string text;
        if (graph_format == "mermaid") {
            text = RenderMermaid(*definition, graph_language);
        } else {
            text = RenderDot(*definition, graph_language);
            if (graph_format == "svg") {
                std::string error;
                auto svg = DotToSvg(text, error);
                if (!svg) {
                    err << "cascade graph: " << error << "\n";
                    return kExitInvalid;
                }
                text = std::move(*svg);
            }
        }
        return WriteOutput(text, graph_output, out, err);
    }

    if (show->parsed()) {
        auto definition = LoadValid(show_file, show_limits, err);
        if (!definition) {
            return kExitInvalid;
        }
        out << RenderOutline(*definition, show_language);
        return kExitOk;
    }
    if (const auto code = campaign_commands.Run(out, err)) {
        return *code;
    }
    if (const auto code = plugin_commands.Run(out, err)) {
        return *code;
    }
    return kExitUsage;
}

}  // namespace cascade::cli
