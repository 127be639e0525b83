// Fuzzes what the host reads from a plugin before running any of its code:
// the first byte picks the ELF reader (the bytes as a library file) or the
// manifest JSON checker (the bytes as a manifest). Neither may crash, hang or
// accept a manifest without the fields every plugin must have.
#include "cascade/plugin/plugin.hpp"

#include <cstddef>
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) {
        return 0;
    }
    const std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
    std::string text = bytes;
    if ((data[0] & 1) != 0) {
        std::istringstream file(bytes);
        auto embedded = cascade::plugin::ReadEmbeddedManifest(file);
        if (embedded.index() == 1) {
            return 0;
        }
        text = std::get<0>(embedded);
    }
    const auto transport =
        (data[0] & 2) != 0 ? cascade::plugin::Transport::process : cascade::plugin::Transport::library;
    auto parsed = cascade::plugin::ParseManifest(text, "/fuzz/plugin.plugin.json", transport);
    if (const auto* manifest = std::get_if<cascade::plugin::Manifest>(&parsed)) {
        if (manifest->name.empty() || manifest->version.empty() || manifest->kinds.empty()) {
            throw std::logic_error("a manifest without name, version or kinds was accepted");
        }
        // Whatever schema was accepted must be usable to check a config.
        (void)cascade::plugin::CheckConfig(*manifest, boost::json::object{{"path", "x"}});
    }
    return 0;
}
