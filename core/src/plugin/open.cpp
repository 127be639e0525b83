// Opening a plugin: the checks every transport shares (ABI from the
// manifest, the pinned checksum, the config against the manifest's schema),
// then the transport; and `cascade plugin-host`, which serves a library
// over JSON-RPC so a crash in it stays in its own process.
#include "instance_internal.hpp"

#include <cascade/sdk.hpp>

#include <iostream>

namespace cascade::plugin {

namespace json = boost::json;

std::vector<CallResult> Instance::CallBatch(std::string_view method, const std::vector<json::object>& params,
                                            std::chrono::milliseconds timeout) {
    std::vector<CallResult> results;
    results.reserve(params.size());
    for (const auto& one : params)
        results.push_back(Call(method, one, timeout));
    return results;
}

std::variant<std::unique_ptr<Instance>, std::string> Open(const Manifest& manifest, const OpenOptions& options) {
    const std::string who = "plugin '" + manifest.name + "'";
    if (manifest.abi_major != kHostAbiMajor || manifest.abi_minor > kHostAbiMinor) {
        return who + " was built for plugin ABI " + std::to_string(manifest.abi_major) + "." +
               std::to_string(manifest.abi_minor) + "; this cascade speaks " + std::to_string(kHostAbiMajor) + "." +
               std::to_string(kHostAbiMinor) + " (it loads plugins of ABI " + std::to_string(kHostAbiMajor) + ".0 to " +
               std::to_string(kHostAbiMajor) + "." + std::to_string(kHostAbiMinor) + ")";
    }
    if (!options.sha256.empty()) {
        const auto digest = FileSha256(manifest.PinnedFile());
        if (!digest) {
            return who + ": cannot read " + manifest.PinnedFile().string() + " to check its SHA-256";
        }
        if (*digest != options.sha256) {
            return who + ": " + manifest.PinnedFile().string() + " has SHA-256 " + *digest +
                   ", but the workflow pins " + options.sha256 + "; not loaded";
        }
    }
    const auto problems = CheckConfig(manifest, options.config);
    if (!problems.empty()) {
        std::string message = who + ": its config does not match the plugin's schema: ";
        for (std::size_t i = 0; i < problems.size(); ++i)
            message += (i == 0 ? "" : "; ") + problems[i];
        return message;
    }
    if (manifest.transport == Transport::process || options.isolate) {
        return OpenProcess(manifest, options);
    }
    return OpenLibrary(manifest, options);
}

int ServeLibrary(const std::filesystem::path& library) {
    // The manifest is checked before the library's code runs, here too.
    auto manifest = ReadManifest(library);
    if (auto* message = std::get_if<std::string>(&manifest)) {
        std::cerr << "cascade plugin-host: " << *message << '\n';
        return 1;
    }
    std::string error;
    std::shared_ptr<void> keep_alive;
    const cascade_plugin_api* api = LoadLibraryTable(library, error, keep_alive);
    if (api == nullptr) {
        std::cerr << "cascade plugin-host: " << error << '\n';
        return 1;
    }
    return sdk::ServeStdio(api);
}

}  // namespace cascade::plugin
