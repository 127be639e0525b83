// LSP-style framing of JSON-RPC messages (see framing.hpp).
#include "cascade/plugin/framing.hpp"

namespace cascade::plugin {

namespace json = boost::json;

std::string Frame(std::string_view body) {
    return "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

// The next complete message in the input buffer, nothing yet, or why the stream is broken.
std::variant<std::optional<json::object>, std::string> NextMessage(std::string& buffer) {
    const auto header_end = buffer.find("\r\n\r\n");
    if (header_end == std::string::npos) {
        if (buffer.size() > kMaxHeaderBytes)
            return std::string("sent a malformed frame (no header end)");
        return std::optional<json::object>();
    }
    std::size_t length = 0;
    bool have_length = false;
    std::size_t line_start = 0;
    while (line_start < header_end) {
        std::size_t line_end = buffer.find("\r\n", line_start);
        if (line_end == std::string::npos || line_end > header_end)
            line_end = header_end;
        const std::string_view line(buffer.data() + line_start, line_end - line_start);
        constexpr std::string_view kLength = "Content-Length:";
        if (line.size() > kLength.size() && line.substr(0, kLength.size()) == kLength) {
            std::string digits(line.substr(kLength.size()));
            digits.erase(0, digits.find_first_not_of(' '));
            if (digits.empty() || digits.size() > 12 || digits.find_first_not_of("0123456789") != std::string::npos) {
                return std::string("sent a malformed Content-Length");
            }
            length = std::stoull(digits);
            have_length = true;
        }
        line_start = line_end + 2;
    }
    if (!have_length)
        return std::string("sent a frame without Content-Length");
    if (length > kMaxFrameBytes)
        return std::string("sent a frame larger than 64 MiB");
    const std::size_t body_start = header_end + 4;
    if (buffer.size() - body_start < length)
        return std::optional<json::object>();
    json::error_code error;
    json::value value = json::parse(std::string_view(buffer.data() + body_start, length), error);
    buffer.erase(0, body_start + length);
    if (error || !value.is_object())
        return std::string("sent malformed JSON");
    return std::optional<json::object>(std::move(value.as_object()));
}

}  // namespace cascade::plugin
