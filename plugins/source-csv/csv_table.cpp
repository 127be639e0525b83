// The CSV reader behind source-csv (see csv_table.hpp).
#include "csv_table.hpp"

#include <set>
#include <utility>

namespace cascade::plugins::csv {
namespace {

constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";

// The length of the UTF-8 sequence starting at `at`, or 0 when it is not
// valid UTF-8 (overlong forms, surrogates and values past U+10FFFF included).
std::size_t Utf8SequenceLength(std::string_view text, std::size_t at) {
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
    const unsigned char lead = byte(at);
    if (lead < 0x80)
        return 1;
    std::size_t length = 0;
    unsigned char low = 0x80;
    unsigned char high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3;
        if (lead == 0xE0)
            low = 0xA0;
        if (lead == 0xED)
            high = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4;
        if (lead == 0xF0)
            low = 0x90;
        if (lead == 0xF4)
            high = 0x8F;
    } else {
        return 0;
    }
    if (at + length > text.size())
        return 0;
    if (byte(at + 1) < low || byte(at + 1) > high)
        return 0;
    for (std::size_t i = 2; i < length; ++i) {
        if (byte(at + i) < 0x80 || byte(at + i) > 0xBF)
            return 0;
    }
    return length;
}

class Parser {
public:
    Parser(std::string_view text, char delimiter) : text_(text), delimiter_(delimiter) {}

    ParseResult Run() {
        ParseResult result;
        if (text_.substr(0, kByteOrderMark.size()) == kByteOrderMark) {
            at_ = kByteOrderMark.size();
        }
        if (auto error = CheckEncoding()) {
            result.error = std::move(error);
            return result;
        }
        bool have_header = false;
        while (!AtEnd()) {
            std::vector<std::string> fields;
            std::vector<Position> starts;
            const Position row_start = position_;
            const bool opens_with_quote = Peek() == '"';
            if (auto error = ReadRecord(fields, starts)) {
                result.error = std::move(error);
                return result;
            }
            // A line with nothing on it is not a record ("" on a line of its own is).
            if (fields.size() == 1 && fields.front().empty() && !opens_with_quote) {
                continue;
            }
            if (!have_header) {
                if (auto error = CheckHeader(fields, starts)) {
                    result.error = std::move(error);
                    return result;
                }
                result.table.columns = std::move(fields);
                have_header = true;
                continue;
            }
            const std::size_t expected = result.table.columns.size();
            if (fields.size() != expected) {
                const Position at = fields.size() > expected ? starts[expected] : end_of_record_;
                const auto count = [](std::size_t n) { return std::to_string(n) + (n == 1 ? " field" : " fields"); };
                result.error = ParseError{at, "the row starting at line " + std::to_string(row_start.line) + " has " +
                                                  count(fields.size()) + ", the header has " + count(expected)};
                return result;
            }
            result.table.rows.push_back(std::move(fields));
        }
        if (!have_header) {
            result.error = ParseError{position_, "the file has no header row"};
        }
        return result;
    }

private:
    bool AtEnd() const { return at_ >= text_.size(); }
    char Peek() const { return text_[at_]; }

    // Moves past one byte, keeping line and column (columns count characters,
    // so UTF-8 continuation bytes do not advance them).
    void Advance() {
        const char c = text_[at_++];
        if (c == '\n') {
            ++position_.line;
            position_.column = 1;
        } else if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) {
            ++position_.column;
        }
    }

    std::optional<ParseError> CheckEncoding() const {
        Position position = position_;
        for (std::size_t i = at_; i < text_.size();) {
            const std::size_t length = Utf8SequenceLength(text_, i);
            if (length == 0) {
                return ParseError{position, "the text is not valid UTF-8"};
            }
            if (text_[i] == '\n') {
                ++position.line;
                position.column = 1;
            } else {
                ++position.column;
            }
            i += length;
        }
        return std::nullopt;
    }

    // True at "\n", "\r\n" or a lone "\r".
    bool AtLineEnd() const { return Peek() == '\n' || Peek() == '\r'; }

    void SkipLineEnd() {
        if (Peek() == '\r' && at_ + 1 < text_.size() && text_[at_ + 1] == '\n') {
            ++at_;
        }
        ++at_;
        ++position_.line;
        position_.column = 1;
    }

    std::optional<ParseError> ReadRecord(std::vector<std::string>& fields, std::vector<Position>& starts) {
        for (;;) {
            starts.push_back(position_);
            std::string field;
            if (!AtEnd() && Peek() == '"') {
                if (auto error = ReadQuoted(field))
                    return error;
            } else {
                while (!AtEnd() && Peek() != delimiter_ && !AtLineEnd()) {
                    if (Peek() == '"') {
                        return ParseError{position_, "a quote inside an unquoted field (quote the whole field)"};
                    }
                    field.push_back(Peek());
                    Advance();
                }
            }
            fields.push_back(std::move(field));
            if (AtEnd()) {
                end_of_record_ = position_;
                return std::nullopt;
            }
            if (Peek() == delimiter_) {
                Advance();
                continue;
            }
            end_of_record_ = position_;
            SkipLineEnd();
            return std::nullopt;
        }
    }

    std::optional<ParseError> ReadQuoted(std::string& field) {
        const Position opened = position_;
        Advance();
        for (;;) {
            if (AtEnd()) {
                return ParseError{opened, "a quoted field is never closed"};
            }
            if (Peek() == '"') {
                Advance();
                if (!AtEnd() && Peek() == '"') {
                    field.push_back('"');
                    Advance();
                    continue;
                }
                if (!AtEnd() && Peek() != delimiter_ && !AtLineEnd()) {
                    return ParseError{position_, "unexpected text after a closing quote"};
                }
                return std::nullopt;
            }
            field.push_back(Peek());
            Advance();
        }
    }

    static std::optional<ParseError> CheckHeader(const std::vector<std::string>& names,
                                                 const std::vector<Position>& starts) {
        std::set<std::string_view> seen;
        for (std::size_t i = 0; i < names.size(); ++i) {
            if (names[i].empty()) {
                return ParseError{starts[i], "column " + std::to_string(i + 1) + " of the header has no name"};
            }
            if (!seen.insert(names[i]).second) {
                return ParseError{starts[i], "the header names column '" + names[i] + "' twice"};
            }
        }
        return std::nullopt;
    }

    std::string_view text_;
    char delimiter_;
    std::size_t at_ = 0;
    Position position_;
    Position end_of_record_;
};

}  // namespace

ParseResult Parse(std::string_view text, char delimiter) {
    return Parser(text, delimiter).Run();
}

}  // namespace cascade::plugins::csv
