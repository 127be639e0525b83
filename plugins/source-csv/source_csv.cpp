// source-csv: records from a CSV file, for data that arrives as an export
// (study hours from a learning platform, a roster, a checklist). `read`
// returns the rows whose columns equal every `where` value that names a
// column; numbers come back as JSON numbers. The file is parsed once and
// parsed again only when it changes; a `key` column gets an index so the
// usual lookup (one unit's rows) does not scan the file.
#include "csv_table.hpp"

#include <cascade/sdk.hpp>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using cascade::sdk::Host;
using cascade::sdk::LogLevel;
using cascade::sdk::Result;

// The text a `where` value is compared as: what the same value looks like in
// a CSV cell. Objects and arrays have no such text.
std::optional<std::string> ScalarText(const json::value& value) {
    switch (value.kind()) {
    case json::kind::string:
        return std::string(value.get_string());
    case json::kind::int64:
        return std::to_string(value.get_int64());
    case json::kind::uint64:
        return std::to_string(value.get_uint64());
    case json::kind::double_: {
        char buffer[64];
        const auto end = std::to_chars(std::begin(buffer), std::end(buffer), value.get_double()).ptr;
        return std::string(buffer, end);
    }
    case json::kind::bool_:
        return value.get_bool() ? "true" : "false";
    case json::kind::null:
        return std::string();
    default:
        return std::nullopt;
    }
}

// JSON's number grammar: "007" and "+1" stay text (they are codes, not quantities).
bool LooksLikeNumber(std::string_view text, bool& integral) {
    std::size_t i = 0;
    const auto digits = [&] {
        const std::size_t start = i;
        while (i < text.size() && text[i] >= '0' && text[i] <= '9')
            ++i;
        return i - start;
    };
    if (i < text.size() && text[i] == '-')
        ++i;
    const std::size_t first = i;
    const std::size_t whole = digits();
    if (whole == 0 || (whole > 1 && text[first] == '0'))
        return false;
    integral = true;
    if (i < text.size() && text[i] == '.') {
        ++i;
        if (digits() == 0)
            return false;
        integral = false;
    }
    if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
        ++i;
        if (i < text.size() && (text[i] == '+' || text[i] == '-'))
            ++i;
        if (digits() == 0)
            return false;
        integral = false;
    }
    return i == text.size();
}

json::value CellValue(const std::string& text) {
    bool integral = false;
    if (LooksLikeNumber(text, integral)) {
        const char* begin = text.data();
        const char* end = begin + text.size();
        if (integral) {
            std::int64_t number = 0;
            if (const auto parsed = std::from_chars(begin, end, number);
                parsed.ec == std::errc() && parsed.ptr == end) {
                return number;
            }
        }
        double number = 0;
        if (const auto parsed = std::from_chars(begin, end, number); parsed.ec == std::errc() && parsed.ptr == end) {
            return number;
        }
    }
    return json::string(text);
}

std::string RequiredString(const json::object& config, std::string_view name) {
    const auto* value = config.if_contains(name);
    if (value == nullptr || !value->is_string() || value->get_string().empty()) {
        throw std::invalid_argument("config." + std::string(name) + " must be a non-empty string");
    }
    return std::string(value->get_string());
}

class SourceCsv final : public cascade::sdk::Plugin {
public:
    SourceCsv(Host host, json::object config) : Plugin(host, std::move(config)) {
        path_ = RequiredString(this->config(), "path");
        if (const auto* delimiter = this->config().if_contains("delimiter")) {
            if (!delimiter->is_string() || delimiter->get_string().size() != 1) {
                throw std::invalid_argument("config.delimiter must be exactly one character");
            }
            delimiter_ = delimiter->get_string().front();
            if (delimiter_ == '"' || delimiter_ == '\r' || delimiter_ == '\n') {
                throw std::invalid_argument("config.delimiter cannot be a quote or a line break");
            }
        }
        if (this->config().contains("key")) {
            key_ = RequiredString(this->config(), "key");
        }
    }

    Result Read(const json::object& params) override {
        std::optional<std::size_t> limit;
        if (const auto* value = params.if_contains("limit")) {
            if (value->is_int64() && value->get_int64() >= 0) {
                limit = static_cast<std::size_t>(value->get_int64());
            } else if (value->is_uint64()) {
                limit = static_cast<std::size_t>(value->get_uint64());
            } else {
                return Result::Error("params.limit must be a non-negative integer");
            }
        }
        static const json::object no_filter;
        const json::object* where = &no_filter;
        if (const auto* value = params.if_contains("where")) {
            if (!value->is_object())
                return Result::Error("params.where must be an object");
            where = &value->get_object();
        }

        if (Result loaded = Load(); loaded.status != cascade::sdk::Status::ok)
            return loaded;

        // Only keys that name a column filter: a workflow may pass keys meant for other sources.
        std::vector<std::pair<std::size_t, std::string>> filters;
        for (const auto& [name, value] : *where) {
            const auto column = ColumnIndex(name);
            if (!column)
                continue;
            auto text = ScalarText(value);
            if (!text)
                return Result::Error("params.where." + std::string(name) + " must be a string, number or boolean");
            filters.emplace_back(*column, std::move(*text));
        }

        json::array records;
        const auto take = [&](const std::vector<std::string>& row) {
            for (const auto& [column, text] : filters) {
                if (row[column] != text)
                    return;
            }
            json::object record;
            for (std::size_t i = 0; i < table_.columns.size(); ++i) {
                record[table_.columns[i]] = CellValue(row[i]);
            }
            records.emplace_back(std::move(record));
        };
        const auto full = [&] { return limit && records.size() >= *limit; };

        const auto indexed = key_column_ ? where->find(key_) : where->end();
        if (indexed != where->end()) {
            // ScalarText succeeded for every filter above, so this has a value.
            const auto found = index_.find(*ScalarText(indexed->value()));
            if (found != index_.end()) {
                for (const std::size_t row : found->second) {
                    if (full())
                        break;
                    take(table_.rows[row]);
                }
            }
        } else {
            for (const auto& row : table_.rows) {
                if (full())
                    break;
                take(row);
            }
        }
        return Result::Ok(json::object{{"records", std::move(records)}});
    }

    Result SelfTest() override {
        const Result loaded = Load();
        json::object check{{"name", "file"}, {"ok", loaded.status == cascade::sdk::Status::ok}};
        if (loaded.status == cascade::sdk::Status::ok) {
            check["detail"] = path_ + ": " + std::to_string(table_.rows.size()) + " rows, " +
                              std::to_string(table_.columns.size()) + " columns";
        } else {
            check["detail"] = loaded.message;
        }
        return Result::Ok(json::object{{"checks", json::array{std::move(check)}}});
    }

private:
    std::optional<std::size_t> ColumnIndex(std::string_view name) const {
        for (std::size_t i = 0; i < table_.columns.size(); ++i) {
            if (table_.columns[i] == name)
                return i;
        }
        return std::nullopt;
    }

    // Parses the file when it is new or changed since the last read.
    Result Load() {
        std::error_code error;
        const auto status = fs::status(path_, error);
        if (status.type() == fs::file_type::not_found) {
            loaded_ = false;
            return Result::Retry(path_ + " does not exist (yet)");
        }
        if (error)
            return Result::Error("cannot read " + path_ + ": " + error.message());
        if (fs::is_directory(status))
            return Result::Error(path_ + " is a folder, not a CSV file");
        const auto modified = fs::last_write_time(path_, error);
        const auto size = error ? 0 : fs::file_size(path_, error);
        if (!error && loaded_ && modified == modified_ && size == size_) {
            return Result::Ok();
        }

        errno = 0;
        std::ifstream in(path_, std::ios::binary);
        if (!in) {
            const int cause = errno;
            loaded_ = false;
            if (cause == ENOENT)
                return Result::Retry(path_ + " does not exist (yet)");
            return Result::Error("cannot open " + path_ + ": " + (cause != 0 ? std::strerror(cause) : "unknown error"));
        }
        const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (in.bad()) {
            loaded_ = false;
            return Result::Error("cannot read " + path_);
        }

        auto parsed = cascade::plugins::csv::Parse(text, delimiter_);
        if (parsed.error) {
            loaded_ = false;
            return Result::Error(path_ + ":" + std::to_string(parsed.error->at.line) + ":" +
                                 std::to_string(parsed.error->at.column) + ": " + parsed.error->message);
        }
        table_ = std::move(parsed.table);
        index_.clear();
        key_column_.reset();
        if (!key_.empty()) {
            key_column_ = ColumnIndex(key_);
            if (!key_column_) {
                loaded_ = false;
                std::string columns;
                for (const auto& name : table_.columns)
                    columns += (columns.empty() ? "" : ", ") + name;
                return Result::Error("config.key names column '" + key_ + "', which " + path_ +
                                     " does not have (columns: " + columns + ")");
            }
            for (std::size_t row = 0; row < table_.rows.size(); ++row) {
                index_[table_.rows[row][*key_column_]].push_back(row);
            }
        }
        loaded_ = !error;
        modified_ = modified;
        size_ = size;
        host().Log(LogLevel::debug, "read " + path_ + ": " + std::to_string(table_.rows.size()) + " rows");
        return Result::Ok();
    }

    std::string path_;
    char delimiter_ = ',';
    std::string key_;

    bool loaded_ = false;
    fs::file_time_type modified_{};
    std::uintmax_t size_ = 0;
    cascade::plugins::csv::Table table_;
    std::optional<std::size_t> key_column_;
    std::unordered_map<std::string, std::vector<std::size_t>> index_;
};

}  // namespace

CASCADE_PLUGIN(SourceCsv, "source-csv")
