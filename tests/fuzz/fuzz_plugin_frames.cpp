// Fuzzes the JSON-RPC framing both sides of the process transport read: the
// engine's NextMessage over a growing buffer (fed in two pieces, as a socket
// delivers them) and the SDK's stream reader that plugins use.
#include "cascade/plugin/framing.hpp"

#include <cascade/sdk.hpp>

#include <cstddef>
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string bytes(reinterpret_cast<const char*>(data), size);
    const std::size_t split = size == 0 ? 0 : data[0] % (size + 1);
    std::string buffer = bytes.substr(0, split);
    std::size_t messages = 0;
    for (int piece = 0; piece < 2; ++piece) {
        if (piece == 1)
            buffer += bytes.substr(split);
        while (true) {
            const std::size_t before = buffer.size();
            auto next = cascade::plugin::NextMessage(buffer);
            if (std::holds_alternative<std::string>(next)) {
                return 0;  // a broken stream: the host kills and restarts the plugin
            }
            if (!std::get<0>(next))
                break;
            if (buffer.size() >= before)
                throw std::logic_error("a message was taken without consuming bytes");
            ++messages;
        }
    }
    std::istringstream stream(bytes);
    int frames = 0;
    while (cascade::sdk::detail::ReadFrame(stream, 1u << 20) && ++frames < 1000) {
    }
    (void)messages;
    return 0;
}
