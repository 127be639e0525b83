// `cascade plugins`: what is installed (list), what one plugin is and how it
// is configured (info, rendered from its manifest and config schema), and
// whether one loads and works here (check: manifest, ABI, config, self-test).
#include "plugin_commands.hpp"

#include "campaign_commands.hpp"
#include "cascade/lang/diagnostic.hpp"
#include "cascade/plugin/plugin.hpp"

#include <boost/json.hpp>

#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

namespace cascade::cli {

namespace json = boost::json;
namespace fs = std::filesystem;

std::vector<fs::path> PluginSettings::Folders() const {
    std::vector<fs::path> dirs(plugin_dirs.begin(), plugin_dirs.end());
    return plugin::SearchPath(dirs);
}

struct PluginCommands::Options {
    CLI::App* plugins = nullptr;
    CLI::App* list = nullptr;
    CLI::App* info = nullptr;
    CLI::App* check = nullptr;
    CLI::App* host = nullptr;
    std::string format = "text";
    std::string name;
    std::string config = "{}";
    std::string declaration;
    bool isolate = false;
    int timeout_ms = 10'000;
    std::string library;
};

namespace {

std::string Kinds(const plugin::Manifest& manifest) {
    std::string text;
    for (const auto& kind : manifest.kinds)
        text += (text.empty() ? "" : ",") + kind;
    return text;
}

json::object ManifestJson(const plugin::Manifest& manifest) {
    json::object object = manifest.document;
    object["path"] = manifest.path.string();
    object["transport"] = manifest.transport == plugin::Transport::library ? "library" : "process";
    if (manifest.transport == plugin::Transport::process)
        object["program"] = manifest.executable.string();
    if (const auto digest = plugin::FileSha256(manifest.PinnedFile()))
        object["sha256"] = *digest;
    return object;
}

std::string TypeOf(const json::value& schema) {
    if (!schema.is_object())
        return "any";
    const auto& object = schema.as_object();
    if (const auto* type = object.if_contains("type")) {
        if (type->is_string())
            return std::string(type->get_string());
        if (type->is_array()) {
            std::string text;
            for (const auto& one : type->as_array())
                if (one.is_string())
                    text += (text.empty() ? "" : "|") + std::string(one.get_string());
            return text;
        }
    }
    if (object.contains("enum"))
        return "one of " + json::serialize(object.at("enum"));
    return "any";
}

// One line per config key, nested objects indented: what `plugins info` shows.
void PrintSchema(const json::value& schema, const std::string& indent, std::ostream& out) {
    if (!schema.is_object())
        return;
    const auto& object = schema.as_object();
    const auto* properties = object.if_contains("properties");
    if (properties == nullptr || !properties->is_object())
        return;
    std::vector<std::string> required;
    if (const auto* list = object.if_contains("required"); list != nullptr && list->is_array()) {
        for (const auto& item : list->as_array())
            if (item.is_string())
                required.emplace_back(item.get_string());
    }
    for (const auto& [key, property] : properties->as_object()) {
        const bool is_required = std::find(required.begin(), required.end(), key) != required.end();
        out << indent << std::left << std::setw(18) << std::string(key) << " " << std::setw(10) << TypeOf(property)
            << (is_required ? " required " : " optional ");
        if (property.is_object()) {
            if (const auto* description = property.as_object().if_contains("description");
                description != nullptr && description->is_string()) {
                out << std::string(description->get_string());
            }
            if (const auto* fallback = property.as_object().if_contains("default")) {
                out << " (default " << json::serialize(*fallback) << ")";
            }
        }
        out << "\n";
        PrintSchema(property, indent + "  ", out);
    }
}

std::variant<plugin::Manifest, std::string> FindPlugin(const std::string& name_or_path,
                                                       const std::vector<fs::path>& folders) {
    std::error_code error;
    if (name_or_path.find('/') != std::string::npos || fs::is_regular_file(name_or_path, error)) {
        return plugin::ReadManifest(name_or_path);
    }
    const plugin::Catalog catalog = plugin::Discover(folders);
    if (const auto* found = catalog.Find(name_or_path))
        return *found;
    std::vector<std::string> names;
    for (const auto& manifest : catalog.plugins)
        names.push_back(manifest.name);
    std::string message = "no plugin '" + name_or_path + "' in the plugin path";
    if (const std::string hint = lang::DidYouMean(name_or_path, names); !hint.empty())
        message += " (" + hint + ")";
    message += "; searched:";
    for (const auto& folder : folders)
        message += " " + folder.string();
    return message;
}

int List(const std::vector<fs::path>& folders, const std::string& format, std::ostream& out) {
    const plugin::Catalog catalog = plugin::Discover(folders);
    if (format == "json") {
        json::array plugins;
        for (const auto& manifest : catalog.plugins)
            plugins.push_back(ManifestJson(manifest));
        json::array problems(catalog.problems.begin(), catalog.problems.end());
        json::array searched;
        for (const auto& folder : folders)
            searched.push_back(json::value(folder.string()));
        out << json::serialize(json::object{{"folders", searched}, {"plugins", plugins}, {"problems", problems}})
            << "\n";
        return kExitOk;
    }
    out << "plugin folders (searched in this order):\n";
    for (const auto& folder : folders) {
        std::error_code error;
        out << "  " << folder.string() << (fs::is_directory(folder, error) ? "" : "  (missing)") << "\n";
    }
    out << catalog.plugins.size() << " plugin" << (catalog.plugins.size() == 1 ? "" : "s") << ":\n";
    for (const auto& manifest : catalog.plugins) {
        out << "  " << std::left << std::setw(20) << manifest.name << " " << std::setw(8) << manifest.version << " "
            << std::setw(18) << Kinds(manifest) << " "
            << (manifest.transport == plugin::Transport::library ? "library" : "process") << "  "
            << manifest.description << "\n";
    }
    if (!catalog.problems.empty()) {
        out << "not loadable:\n";
        for (const auto& problem : catalog.problems)
            out << "  " << problem << "\n";
    }
    return kExitOk;
}

int Info(const plugin::Manifest& manifest, const std::string& format, std::ostream& out) {
    if (format == "json") {
        out << json::serialize(ManifestJson(manifest)) << "\n";
        return kExitOk;
    }
    out << manifest.name << " " << manifest.version << "\n";
    if (!manifest.description.empty())
        out << "  " << manifest.description << "\n";
    out << "kinds:     " << Kinds(manifest) << "\n";
    out << "abi:       " << manifest.abi_major << "." << manifest.abi_minor << " (this cascade speaks "
        << plugin::kHostAbiMajor << "." << plugin::kHostAbiMinor << ")\n";
    out << "transport: " << (manifest.transport == plugin::Transport::library ? "library" : "process") << "\n";
    out << "file:      " << manifest.path.string() << "\n";
    if (manifest.transport == plugin::Transport::process)
        out << "program:   " << manifest.executable.string() << "\n";
    if (const auto digest = plugin::FileSha256(manifest.PinnedFile()))
        out << "sha256:    " << *digest << "\n";
    out << "config (the `config:` of a workflow's declaration):\n";
    std::ostringstream keys;
    PrintSchema(manifest.config_schema, "  ", keys);
    out << (keys.str().empty() ? "  (no settings)\n" : keys.str());
    out << "config schema (JSON Schema):\n" << json::serialize(manifest.config_schema) << "\n";
    return kExitOk;
}

int Check(const plugin::Manifest& manifest, const PluginCommands::Options& o, std::ostream& out, std::ostream& err) {
    std::string config_text = o.config;
    if (!config_text.empty() && config_text.front() == '@') {
        std::ifstream file(config_text.substr(1));
        if (!file) {
            err << "cascade plugins check: cannot read --config file '" << config_text.substr(1) << "'\n";
            return kExitInvalid;
        }
        config_text.assign(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
    }
    json::error_code parse_error;
    json::value config = json::parse(config_text, parse_error);
    if (parse_error || !config.is_object()) {
        err << "cascade plugins check: --config must be a JSON object\n";
        return kExitUsage;
    }
    out << "manifest: ok (" << manifest.name << " " << manifest.version << ", abi " << manifest.abi_major << "."
        << manifest.abi_minor << ", " << Kinds(manifest) << ")\n";
    plugin::OpenOptions options;
    options.declaration = o.declaration.empty() ? manifest.name : o.declaration;
    options.config = config.as_object();
    options.isolate = o.isolate;
    options.timeout = std::chrono::milliseconds(o.timeout_ms);
    auto opened = plugin::Open(manifest, options);
    if (auto* failure = std::get_if<std::string>(&opened)) {
        err << "cascade plugins check: " << *failure << "\n";
        return kExitInvalid;
    }
    auto& instance = std::get<std::unique_ptr<plugin::Instance>>(opened);
    out << "load: ok ("
        << (manifest.transport == plugin::Transport::library && !o.isolate ? "in this process" : "in its own process")
        << ")\n";
    const plugin::CallResult result = instance->Call("self_test", json::object{});
    bool all_ok = result.Ok();
    if (result.Ok() && result.value.is_object()) {
        if (const auto* checks = result.value.as_object().if_contains("checks");
            checks != nullptr && checks->is_array()) {
            for (const auto& check : checks->as_array()) {
                if (!check.is_object())
                    continue;
                const auto& item = check.as_object();
                const bool ok = item.contains("ok") && item.at("ok").is_bool() && item.at("ok").as_bool();
                all_ok = all_ok && ok;
                out << "  " << (ok ? "ok   " : "FAIL ")
                    << (item.contains("name") && item.at("name").is_string() ? std::string(item.at("name").get_string())
                                                                             : std::string("check"));
                if (const auto* detail = item.if_contains("detail"); detail != nullptr && detail->is_string())
                    out << ": " << std::string(detail->get_string());
                out << "\n";
            }
        }
    }
    if (!result.Ok()) {
        err << "cascade plugins check: self-test "
            << (result.status == plugin::Status::retry ? "could not run" : "failed") << ": " << result.message << "\n";
        return kExitInvalid;
    }
    out << "self-test: " << (all_ok ? "passed" : "failed") << "\n";
    return all_ok ? kExitOk : kExitInvalid;
}

}  // namespace

lang::PluginChecker MakePluginChecker(const std::shared_ptr<const plugin::Catalog>& catalog) {
    return [catalog](const model::PluginDeclaration& declaration, const json::value& config) {
        std::vector<lang::PluginProblem> problems;
        if (declaration.plugin == "log" || declaration.plugin == "test-action")
            return problems;  // built in
        const plugin::Manifest* manifest = catalog->Find(declaration.plugin);
        if (manifest == nullptr) {
            std::vector<std::string> names{"log", "test-action"};
            for (const auto& installed : catalog->plugins)
                names.push_back(installed.name);
            std::string hint = lang::DidYouMean(declaration.plugin, names);
            if (hint.empty())
                hint = "`cascade plugins list` shows the installed plugins; add a folder with --plugin-dir";
            std::string searched;
            for (const auto& folder : catalog->folders)
                searched += (searched.empty() ? "" : ", ") + folder.string();
            problems.push_back(
                {"", "plugin '" + declaration.plugin + "' is not installed (searched: " + searched + ")", hint, false});
            return problems;
        }
        if (manifest->abi_major != plugin::kHostAbiMajor || manifest->abi_minor > plugin::kHostAbiMinor) {
            problems.push_back({"",
                                "plugin '" + manifest->name + "' was built for plugin ABI " +
                                    std::to_string(manifest->abi_major) + "." + std::to_string(manifest->abi_minor) +
                                    "; this cascade speaks " + std::to_string(plugin::kHostAbiMajor) + "." +
                                    std::to_string(plugin::kHostAbiMinor),
                                "", false});
        }
        if (!declaration.version.empty()) {
            const auto major = [](const std::string& version) { return version.substr(0, version.find('.')); };
            if (major(declaration.version) != major(manifest->version)) {
                problems.push_back({"",
                                    "the workflow was written for " + declaration.plugin + " " + declaration.version +
                                        "; the installed one is " + manifest->version,
                                    "check the plugin's changes, then update `version:`", true});
            }
        }
        if (!declaration.sha256.empty()) {
            const auto digest = plugin::FileSha256(manifest->PinnedFile());
            if (digest && *digest != declaration.sha256) {
                problems.push_back({"",
                                    "the installed " + declaration.plugin + " (" + manifest->PinnedFile().string() +
                                        ") has SHA-256 " + *digest + ", not the pinned " + declaration.sha256,
                                    "a campaign refuses to load it; pin the installed file or install the pinned one",
                                    false});
            }
        }
        for (const auto& line : plugin::CheckConfig(*manifest, config)) {
            const auto colon = line.find(": ");
            std::string path = colon == std::string::npos ? "/" : line.substr(0, colon);
            std::string message = colon == std::string::npos ? line : line.substr(colon + 2);
            if (path == "/")
                path.clear();
            problems.push_back({path.empty() ? "/" : path, message,
                                "`cascade plugins info " + manifest->name + "` lists its settings", false});
        }
        return problems;
    };
}

void CheckPluginUses(const model::Definition& definition, const plugin::Catalog& catalog,
                     lang::Diagnostics& diagnostics) {
    const auto manifest_of = [&](const std::string& name) -> const plugin::Manifest* {
        for (const auto& declaration : definition.plugins) {
            if (declaration.name == name)
                return catalog.Find(declaration.plugin);
        }
        return nullptr;
    };
    const auto check_hooks = [&](const std::map<model::HookEvent, std::vector<model::Hook>>& hooks) {
        for (const auto& [event, list] : hooks) {
            for (const auto& hook : list) {
                const plugin::Manifest* manifest = manifest_of(hook.notify);
                if (manifest != nullptr && !manifest->HasKind("notifier")) {
                    diagnostics.Error("plugin-kind", hook.location,
                                      "'" + hook.notify + "' is plugin '" + manifest->name +
                                          "', which cannot notify (it is a " + manifest->kinds.front() + ")",
                                      "name a notifier declared under `plugins:`");
                }
            }
        }
    };
    check_hooks(definition.hooks);
    for (const auto& step : definition.steps) {
        check_hooks(step.hooks);
        if (step.kind != model::StepKind::action)
            continue;
        const plugin::Manifest* manifest = manifest_of(step.action.plugin);
        if (manifest != nullptr && !manifest->HasKind("action") && !manifest->HasKind("reporter")) {
            diagnostics.Error("plugin-kind", step.location,
                              "step '" + step.id + "' calls '" + step.action.plugin + "', plugin '" + manifest->name +
                                  "', which is neither an action nor a reporter",
                              "action steps need a plugin of kind action (or a reporter, to write a report)");
        }
    }
}

PluginCommands::PluginCommands(CLI::App& app, PluginSettings& settings)
    : options_(std::make_unique<Options>()), settings_(settings) {
    Options& o = *options_;
    const std::string search =
        "Plugins are found only in these folders, in order: each --plugin-dir, the folders in CASCADE_PLUGIN_PATH "
        "(':'-separated), then the install prefix's lib/cascade/plugins. A folder holds plugin libraries (*.so) and "
        "process plugins (*.plugin.json), directly or one folder down.";
    o.plugins = app.add_subcommand("plugins", "List, describe and check plugins");
    o.plugins->require_subcommand(1);

    o.list = o.plugins->add_subcommand("list", "List the plugins found in the plugin path.\n\n" + search);
    o.list->add_option("--format", o.format, "text or json")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();
    o.list->footer(
        "Example:\n  cascade plugins list\n  cascade --plugin-dir ./my-plugins plugins list --format json\n\n"
        "Exit status: 0 listed (files that are not loadable are listed under 'not loadable'), 2 usage error.");

    o.info = o.plugins->add_subcommand(
        "info",
        "Show a plugin's manifest: name, version, kinds, ABI, file and SHA-256 (to pin in a workflow), and "
        "every setting its `config:` accepts, from its config schema.\n\n" +
            search);
    o.info->add_option("plugin", o.name, "Plugin name, or the path of a plugin file")->required();
    o.info->add_option("--format", o.format, "text or json")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();
    o.info->footer(
        "Example:\n  cascade plugins info notify-email\n\n"
        "Exit status: 0 shown, 1 no such plugin or an unreadable manifest, 2 usage error.");

    o.check = o.plugins->add_subcommand(
        "check",
        "Load a plugin the way a campaign would and run its self-test: the manifest is read and checked "
        "before any of its code runs, then the ABI version, the config against its schema, start-up, and "
        "the plugin's own checks.\n\n" +
            search);
    o.check->add_option("plugin", o.name, "Path of a plugin file (*.so, *.plugin.json), or a plugin name")->required();
    o.check->add_option("--config", o.config, "The config to start it with: JSON, or @FILE")->capture_default_str();
    o.check->add_option("--as", o.declaration, "The declaration name to start it under (for its log lines)");
    o.check->add_flag("--isolate", o.isolate, "Run a library plugin in its own process, as `isolation: process` does");
    o.check->add_option("--timeout-ms", o.timeout_ms, "How long start-up and the self-test may take")
        ->check(CLI::Range(1, 3'600'000))
        ->capture_default_str();
    o.check->footer(
        "Example:\n  cascade plugins check build/my-notifier.so --config '{\"path\": \"/tmp/out.log\"}'\n"
        "  cascade plugins check notify-email --config @mail.json\n\n"
        "Exit status: 0 loaded and its self-test passed, 1 refused or failed (the reason is printed), 2 usage error.");

    o.host = app.add_subcommand("plugin-host",
                                "Serve a plugin library over JSON-RPC on stdin/stdout (used by "
                                "`isolation: process`; not for interactive use)");
    o.host->group("");  // hidden from the command list
    o.host->add_option("library", o.library, "Plugin library")->required();
}

PluginCommands::~PluginCommands() = default;

std::vector<CLI::App*> PluginCommands::Commands() const {
    return {options_->plugins, options_->list, options_->info, options_->check, options_->host};
}

std::optional<int> PluginCommands::Run(std::ostream& out, std::ostream& err) {
    const Options& o = *options_;
    if (o.host->parsed())
        return plugin::ServeLibrary(o.library);
    if (!o.plugins->parsed())
        return std::nullopt;
    const auto folders = settings_.Folders();
    if (o.list->parsed())
        return List(folders, o.format, out);
    auto found = FindPlugin(o.name, folders);
    if (auto* failure = std::get_if<std::string>(&found)) {
        err << "cascade plugins " << (o.info->parsed() ? "info" : "check") << ": " << *failure << "\n";
        return kExitInvalid;
    }
    const auto& manifest = std::get<plugin::Manifest>(found);
    if (o.info->parsed())
        return Info(manifest, o.format, out);
    return Check(manifest, o, out, err);
}

}  // namespace cascade::cli
