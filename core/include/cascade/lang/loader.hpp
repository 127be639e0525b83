// Loads workflow files: YAML -> checked shape -> model::Definition, with all
// author errors reported as located diagnostics in one pass.
//
// Error policy for this layer: problems in the author's input are values
// (Diagnostics); exceptions are reserved for programming and environment
// failures (out of memory) and never carry author errors.
#pragma once

#include "cascade/lang/diagnostic.hpp"
#include "cascade/lang/limits.hpp"
#include "cascade/model/definition.hpp"

#include <boost/json/value.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cascade::lang {

// Where the loader reads files (the workflow, its calendar, its subflows).
// By default, the file system. A running campaign hands in the texts it was
// started with (`pinned`), so its instances keep the workflow they started
// on even after the files are edited. Keys are lexically normal paths.
struct SourceFiles {
    std::shared_ptr<const std::map<std::string, std::string>> pinned;
    // When set, every file read is recorded here: the bundle to pin.
    std::map<std::string, std::string>* read = nullptr;
};

// A problem a plugin check found in one `plugins:` declaration. `path` is a
// JSON pointer into its `config` ("/smtp/port"); empty means the declaration
// itself (reported at its `plugin:` value).
struct PluginProblem {
    std::string path;
    std::string message;
    std::string hint;
    bool warning = false;
};
// Checks a declaration against the installed plugin (its manifest and config
// schema). The lang module does not load plugins itself: the caller passes this.
using PluginChecker =
    std::function<std::vector<PluginProblem>(const model::PluginDeclaration&, const boost::json::value& config)>;

struct LoadOptions {
    LoadLimits limits;
    // Also load and check the child workflows that `subflow` steps name.
    bool load_subflows = true;
    SourceFiles files;
    PluginChecker check_plugin;  // unset: plugin configs are checked for shape only
};

// Reads one file the way the loader does (pinned text first, then the file
// system, recording it when asked). Errors are reported as cannot-read / file-too-large.
std::optional<std::string> ReadWorkflowSource(const std::string& path, const LoadOptions& options,
                                              Diagnostics& diagnostics);
bool WorkflowSourceExists(const std::string& path, const LoadOptions& options);

struct LoadResult {
    // Present whenever the document could be read and had the shape of a
    // workflow; it may still carry errors (see `diagnostics`).
    std::optional<model::Definition> definition;
    // Whether the step graph is trustworthy enough for graph checks
    // (every step has a kind and every transition a known target).
    bool graph_complete = false;
    Diagnostics diagnostics;

    bool Ok() const { return definition.has_value() && !diagnostics.HasErrors(); }
};

LoadResult LoadWorkflowFile(const std::string& path, const LoadOptions& options = {});

// `file_name` is used in locations and to resolve calendars and subflows relative to it.
LoadResult LoadWorkflowText(const std::string& text, const std::string& file_name, const LoadOptions& options = {});

}  // namespace cascade::lang
