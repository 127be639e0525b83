// JSON-RPC messages over a byte stream, framed as LSP frames them:
// "Content-Length: N\r\n" (other headers ignored), "\r\n", then N bytes of JSON.
#pragma once

#include <boost/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace cascade::plugin {

inline constexpr std::size_t kMaxFrameBytes = 64u << 20;
inline constexpr std::size_t kMaxHeaderBytes = 8u << 10;

std::string Frame(std::string_view body);

// Takes the next complete message off the front of `buffer`: the message,
// nothing yet (more bytes needed), or why the stream is broken.
std::variant<std::optional<boost::json::object>, std::string> NextMessage(std::string& buffer);

}  // namespace cascade::plugin
