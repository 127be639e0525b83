// Reading mail the way a mail client would, for tests against the SMTP
// sink: headers unfolded, RFC 2047 words and base64 bodies decoded.
#pragma once

#include "smtp_sink.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <map>
#include <string>
#include <string_view>

namespace cascade::testing {

inline std::string Base64Decode(std::string_view text) {
    static constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    unsigned int buffer = 0;
    int bits = 0;
    for (const char c : text) {
        const auto index = kAlphabet.find(c);
        if (index == std::string_view::npos) {
            continue;  // line breaks and padding
        }
        buffer = (buffer << 6) | static_cast<unsigned int>(index);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((buffer >> bits) & 0xff);
        }
    }
    return out;
}

// RFC 2047: "=?UTF-8?B?...?=" words decoded; white space between two encoded words dropped.
inline std::string DecodeHeader(std::string_view value) {
    std::string out;
    std::string pending_space;
    bool after_word = false;
    std::size_t i = 0;
    while (i < value.size()) {
        if (value.substr(i, 10) == "=?UTF-8?B?") {
            const auto end = value.find("?=", i + 10);
            REQUIRE(end != std::string_view::npos);
            if (!after_word) {
                out += pending_space;
            }
            pending_space.clear();
            out += Base64Decode(value.substr(i + 10, end - i - 10));
            i = end + 2;
            after_word = true;
        } else if (value[i] == ' ' || value[i] == '\t' || value[i] == '\r' || value[i] == '\n') {
            if (value[i] == ' ' || value[i] == '\t') {
                pending_space += value[i];
            }
            ++i;
        } else {
            out += pending_space;
            pending_space.clear();
            out += value[i++];
            after_word = false;
        }
    }
    return out;
}

struct Mail {
    std::map<std::string, std::string> headers;  // lower-case names, unfolded values
    std::string body;                            // decoded
};

inline Mail ReadMail(const SmtpMessage& message) {
    const auto split = message.data.find("\r\n\r\n");
    REQUIRE(split != std::string::npos);
    const std::string head = message.data.substr(0, split + 2);
    Mail mail;
    std::string name;
    std::size_t start = 0;
    while (start < head.size()) {
        const auto end = head.find("\r\n", start);
        const std::string line = head.substr(start, end - start);
        start = end + 2;
        if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) {
            mail.headers[name] += line;  // a folded continuation
            continue;
        }
        const auto colon = line.find(':');
        REQUIRE(colon != std::string::npos);
        name = line.substr(0, colon);
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        mail.headers[name] = line.substr(colon + 1 + (line.size() > colon + 1 && line[colon + 1] == ' ' ? 1 : 0));
    }
    const std::string raw_body = message.data.substr(split + 4);
    mail.body = mail.headers["content-transfer-encoding"] == "base64" ? Base64Decode(raw_body) : raw_body;
    return mail;
}

}  // namespace cascade::testing
