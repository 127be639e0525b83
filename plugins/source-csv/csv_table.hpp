// The CSV reader behind source-csv: RFC 4180 records (quoted fields may hold
// delimiters, doubled quotes and line breaks), UTF-8 with or without a byte
// order mark, a header row naming the columns. Problems carry the line and
// column (in characters, 1-based) where they start, so an operator can open
// the export at that spot.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cascade::plugins::csv {

struct Position {
    std::size_t line = 1;
    std::size_t column = 1;
};

struct ParseError {
    Position at;
    std::string message;
};

struct Table {
    std::vector<std::string> columns;
    std::vector<std::vector<std::string>> rows;  // each has columns.size() fields
};

// Parses a whole file's text. Blank lines are skipped; every other row must
// have as many fields as the header.
struct ParseResult {
    Table table;
    std::optional<ParseError> error;
};
ParseResult Parse(std::string_view text, char delimiter);

}  // namespace cascade::plugins::csv
