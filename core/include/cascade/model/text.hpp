// Small ASCII text helpers shared by the parsers (durations, form values).
// Ids, keys and English words are ASCII; Chinese text is never case-folded.
#pragma once

#include <string>
#include <string_view>

namespace cascade::model {

inline char AsciiLower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

inline std::string AsciiLower(std::string_view text) {
    std::string lowered(text);
    for (char& c : lowered) {
        c = AsciiLower(c);
    }
    return lowered;
}

}  // namespace cascade::model
