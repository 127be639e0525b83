// The host side of the plugin contract: manifests, discovery in configured
// folders, and live plugin instances behind one interface whichever the
// transport (a shared library in this process, or an executable spoken to in
// JSON-RPC over stdio).
//
// Error policy: loading problems (no such plugin, bad manifest, wrong ABI,
// checksum mismatch, a config the schema refuses) are values (OpenError,
// strings); a call's failure is a CallResult with status retry or error. No
// plugin failure escapes as an exception: a plugin that throws, hangs,
// crashes or answers garbage becomes a retry with a message naming it.
#pragma once

#include "cascade/plugin.h"

#include <boost/json.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace cascade::plugin {

inline constexpr int kHostAbiMajor = CASCADE_ABI_MAJOR;
inline constexpr int kHostAbiMinor = CASCADE_ABI_MINOR;

enum class Transport { library, process };

// What a plugin says of itself, checked before any of its code runs.
struct Manifest {
    std::string name;
    std::string version;
    std::string description;
    int abi_major = 0;
    int abi_minor = 0;
    std::vector<std::string> kinds;                            // notifier, reporter, source, action
    boost::json::value config_schema = boost::json::object{};  // a JSON Schema (draft 7) object
    Transport transport = Transport::library;
    std::filesystem::path path;        // the library, or the process plugin's manifest file
    std::filesystem::path executable;  // process plugins: the program to run
    std::vector<std::string> args;     // process plugins: its arguments
    boost::json::object document;      // the manifest as written

    bool HasKind(std::string_view kind) const;
    // The file the checksum pins: the library, or the process plugin's program.
    const std::filesystem::path& PinnedFile() const { return transport == Transport::library ? path : executable; }
};

// Parses and checks a manifest's JSON text (every problem names its field).
// `origin` is where it came from, for messages and to resolve `exec`.
std::variant<Manifest, std::string> ParseManifest(std::string_view text, const std::filesystem::path& origin,
                                                  Transport transport);

// Reads the manifest embedded in a plugin library's ".cascade_manifest" ELF
// section, without loading the library.
std::variant<std::string, std::string> ReadEmbeddedManifest(const std::filesystem::path& library);
// The same from an open stream of the file's bytes (index 0: the text, 1: why not).
std::variant<std::string, std::string> ReadEmbeddedManifest(std::istream& file);

// Reads the manifest of any plugin file: a library (*.so) or a process plugin (*.plugin.json).
std::variant<Manifest, std::string> ReadManifest(const std::filesystem::path& file);

// The folders plugins are found in, in order: --plugin-dir values, then
// CASCADE_PLUGIN_PATH (':'-separated), then the install prefix (and the
// build tree's plugin folder when `cascade` runs from its build tree).
std::vector<std::filesystem::path> SearchPath(const std::vector<std::filesystem::path>& plugin_dirs);

// Every plugin found in `folders` (and their direct subfolders). The first
// of a name wins; later ones and unreadable files are listed as problems.
struct Catalog {
    std::vector<Manifest> plugins;
    std::vector<std::string> problems;  // "path: message"
    std::vector<std::filesystem::path> folders;

    const Manifest* Find(std::string_view name) const;
};
Catalog Discover(const std::vector<std::filesystem::path>& folders);

// Checks `config` against the manifest's schema; one line per problem, each
// starting with the JSON path of the offending value (e.g. "/smtp/port: ...").
std::vector<std::string> CheckConfig(const Manifest& manifest, const boost::json::value& config);

// Lowercase hexadecimal SHA-256 of a file.
std::optional<std::string> FileSha256(const std::filesystem::path& file);

enum class Status { ok = CASCADE_OK, retry = CASCADE_RETRY, error = CASCADE_ERROR };

struct CallResult {
    Status status = Status::ok;
    boost::json::value value;  // the result, when ok
    std::string message;       // why not, otherwise
    bool Ok() const { return status == Status::ok; }
};

// How a plugin instance reads a source the same workflow declares
// (host service read_source). Returns the source's CallResult.
using SourceReader = std::function<CallResult(std::string_view source, const boost::json::object& params)>;

struct OpenOptions {
    std::string declaration;  // the workflow's name for it, for logs ("mail")
    boost::json::object config;
    std::string sha256;  // when set, the pinned file must have this digest
    std::chrono::milliseconds timeout{10'000};
    // Run a library plugin in a child process (`cascade plugin-host`), so a
    // crash in it cannot take the engine down.
    bool isolate = false;
    // The program that hosts an isolated library (default: this executable).
    std::filesystem::path plugin_host;
    SourceReader read_source;
};

// A live plugin for one declaration. Calls on one instance are serialized.
class Instance {
public:
    virtual ~Instance() = default;
    // Runs one method. `timeout` <= 0 means the instance's default.
    virtual CallResult Call(std::string_view method, const boost::json::object& params,
                            std::chrono::milliseconds timeout = std::chrono::milliseconds{0}) = 0;
    // Runs several calls of one method; process plugins pipeline them (all
    // requests written before the answers are read). Results in order.
    virtual std::vector<CallResult> CallBatch(std::string_view method, const std::vector<boost::json::object>& params,
                                              std::chrono::milliseconds timeout = std::chrono::milliseconds{0});
    // Named like the members they expose: `Manifest` is the type.
    const Manifest& manifest() const { return manifest_; }           // NOLINT(readability-identifier-naming)
    const std::string& declaration() const { return declaration_; }  // NOLINT(readability-identifier-naming)

protected:
    Instance(Manifest manifest, std::string declaration)
        : manifest_(std::move(manifest)), declaration_(std::move(declaration)) {}

private:
    Manifest manifest_;
    std::string declaration_;
};

// Opens a plugin: checksum, config against the schema, ABI, then create.
std::variant<std::unique_ptr<Instance>, std::string> Open(const Manifest& manifest, const OpenOptions& options);

// Serves a library plugin over JSON-RPC on stdin/stdout (`cascade plugin-host`).
int ServeLibrary(const std::filesystem::path& library);

}  // namespace cascade::plugin
