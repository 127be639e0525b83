// Shared between the plugin module's files: the two transports' constructors.
#pragma once

#include "cascade/plugin/plugin.hpp"

#include <memory>
#include <string>
#include <variant>

namespace cascade::plugin {

// Loads a library plugin into this process (manifest and ABI already checked).
std::variant<std::unique_ptr<Instance>, std::string> OpenLibrary(const Manifest& manifest, const OpenOptions& options);

// Starts a process plugin (or an isolated library under `cascade plugin-host`).
std::variant<std::unique_ptr<Instance>, std::string> OpenProcess(const Manifest& manifest, const OpenOptions& options);

// dlopens a library and returns its table (for `cascade plugin-host`);
// `keep_alive` holds the library open.
const cascade_plugin_api* LoadLibraryTable(const std::filesystem::path& library, std::string& error,
                                           std::shared_ptr<void>& keep_alive);

}  // namespace cascade::plugin
