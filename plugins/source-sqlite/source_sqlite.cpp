// source-sqlite: records from one SELECT on a SQLite database another system
// keeps (a learning platform's export, an inspection app's file). The file is
// opened read-only for every read, with `PRAGMA query_only`, and a query that
// could change anything is refused, so a workflow can never write to a
// database it only means to consult. Named parameters are bound from the
// read's `where`; `where` keys the query does not use filter the rows by
// column instead.
#include <cascade/sdk.hpp>

#include <sqlite3.h>

#include <charconv>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using cascade::sdk::Host;
using cascade::sdk::Result;
using cascade::sdk::Status;
using Clock = std::chrono::steady_clock;

// "500ms", "5s", "1m", "1h".
std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text) {
    std::int64_t amount = 0;
    const auto parsed = std::from_chars(text.data(), text.data() + text.size(), amount);
    if (parsed.ec != std::errc() || parsed.ptr == text.data() || amount < 0 || amount > 1'000'000'000)
        return std::nullopt;
    const std::string_view unit(parsed.ptr, static_cast<std::size_t>(text.data() + text.size() - parsed.ptr));
    if (unit == "ms")
        return std::chrono::milliseconds(amount);
    if (unit == "s")
        return std::chrono::seconds(amount);
    if (unit == "m")
        return std::chrono::minutes(amount);
    if (unit == "h")
        return std::chrono::hours(amount);
    return std::nullopt;
}

std::string DoubleText(double value) {
    char buffer[64];
    const auto end = std::to_chars(std::begin(buffer), std::end(buffer), value).ptr;
    return std::string(buffer, end);
}

// The text a `where` value is compared as when it filters a column.
std::optional<std::string> ScalarText(const json::value& value) {
    switch (value.kind()) {
    case json::kind::string:
        return std::string(value.get_string());
    case json::kind::int64:
        return std::to_string(value.get_int64());
    case json::kind::uint64:
        return std::to_string(value.get_uint64());
    case json::kind::double_:
        return DoubleText(value.get_double());
    case json::kind::bool_:
        return value.get_bool() ? "1" : "0";  // SQLite stores booleans as integers
    case json::kind::null:
        return std::string();
    default:
        return std::nullopt;
    }
}

std::string Base64(const unsigned char* data, std::size_t size) {
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((size + 2) / 3 * 4);
    for (std::size_t i = 0; i < size; i += 3) {
        const std::uint32_t chunk = (std::uint32_t{data[i]} << 16) |
                                    (i + 1 < size ? std::uint32_t{data[i + 1]} << 8 : 0U) |
                                    (i + 2 < size ? std::uint32_t{data[i + 2]} : 0U);
        out.push_back(kAlphabet[(chunk >> 18) & 63U]);
        out.push_back(kAlphabet[(chunk >> 12) & 63U]);
        out.push_back(i + 1 < size ? kAlphabet[(chunk >> 6) & 63U] : '=');
        out.push_back(i + 2 < size ? kAlphabet[chunk & 63U] : '=');
    }
    return out;
}

struct CloseDatabase {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct FinalizeStatement {
    void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
};
using Database = std::unique_ptr<sqlite3, CloseDatabase>;
using Statement = std::unique_ptr<sqlite3_stmt, FinalizeStatement>;

// A lock held by a writer passes; anything else SQLite reports is permanent.
bool Transient(int code) {
    const int primary = code & 0xFF;
    return primary == SQLITE_BUSY || primary == SQLITE_LOCKED || primary == SQLITE_INTERRUPT;
}

class SourceSqlite final : public cascade::sdk::Plugin {
public:
    SourceSqlite(Host host, json::object config) : Plugin(host, std::move(config)) {
        path_ = RequiredString("path");
        query_ = RequiredString("query");
        if (const auto* timeout = this->config().if_contains("timeout")) {
            const auto parsed = timeout->is_string() ? ParseDuration(timeout->get_string()) : std::nullopt;
            if (!parsed)
                throw std::invalid_argument("config.timeout must be a duration such as \"500ms\" or \"5s\"");
            timeout_ = *parsed;
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

        deadline_ = Clock::now() + timeout_;
        Database db;
        if (Result opened = Open(db); opened.status != Status::ok)
            return opened;
        Statement statement;
        if (Result prepared = Prepare(db.get(), statement); prepared.status != Status::ok)
            return prepared;

        std::set<std::string, std::less<>> bound;
        if (Result result = Bind(statement.get(), *where, bound); result.status != Status::ok)
            return result;

        const int columns = sqlite3_column_count(statement.get());
        std::vector<std::string> names;
        for (int i = 0; i < columns; ++i) {
            std::string name = sqlite3_column_name(statement.get(), i);
            for (const auto& earlier : names) {
                if (earlier == name) {
                    return Result::Error("config.query returns two columns named '" + name +
                                         "'; give one of them another name with AS");
                }
            }
            names.push_back(std::move(name));
        }
        // `where` keys the query does not bind filter by column, when they name one.
        std::vector<std::pair<int, std::string>> filters;
        for (const auto& [key, value] : *where) {
            if (bound.count(std::string_view(key)) != 0)
                continue;
            for (int i = 0; i < columns; ++i) {
                if (names[static_cast<std::size_t>(i)] != key)
                    continue;
                auto text = ScalarText(value);
                if (!text)
                    return Result::Error("params.where." + std::string(key) + " must be a string, number or boolean");
                filters.emplace_back(i, std::move(*text));
            }
        }

        json::array records;
        while (!limit || records.size() < *limit) {
            const int step = sqlite3_step(statement.get());
            if (step == SQLITE_DONE)
                break;
            if (step != SQLITE_ROW)
                return Failure(db.get(), step, "query");
            bool match = true;
            for (const auto& [column, text] : filters) {
                if (ColumnText(statement.get(), column) != text) {
                    match = false;
                    break;
                }
            }
            if (!match)
                continue;
            json::object record;
            for (int i = 0; i < columns; ++i) {
                record[names[static_cast<std::size_t>(i)]] = ColumnValue(statement.get(), i);
            }
            records.emplace_back(std::move(record));
        }
        return Result::Ok(json::object{{"records", std::move(records)}});
    }

    Result SelfTest() override {
        deadline_ = Clock::now() + timeout_;
        json::array checks;
        Database db;
        const Result opened = Open(db);
        checks.push_back(
            json::object{{"name", "database"},
                         {"ok", opened.status == Status::ok},
                         {"detail", opened.status == Status::ok ? path_ + " opens read-only" : opened.message}});
        if (opened.status == Status::ok) {
            Statement statement;
            const Result prepared = Prepare(db.get(), statement);
            checks.push_back(json::object{
                {"name", "query"},
                {"ok", prepared.status == Status::ok},
                {"detail", prepared.status == Status::ok ? "a single read-only statement" : prepared.message}});
        }
        return Result::Ok(json::object{{"checks", std::move(checks)}});
    }

private:
    std::string RequiredString(std::string_view name) const {
        const auto* value = config().if_contains(name);
        if (value == nullptr || !value->is_string() || value->get_string().empty()) {
            throw std::invalid_argument("config." + std::string(name) + " must be a non-empty string");
        }
        return std::string(value->get_string());
    }

    Result Failure(sqlite3* db, int code, std::string_view doing) const {
        if ((code & 0xFF) == SQLITE_INTERRUPT) {
            return Result::Retry("reading " + path_ + " took longer than its timeout of " +
                                 std::to_string(timeout_.count()) + "ms");
        }
        if (Transient(code)) {
            return Result::Retry("reading " + path_ + ": " + sqlite3_errmsg(db) + " (another connection holds a lock)");
        }
        return Result::Error(std::string(doing) + " on " + path_ + ": " + sqlite3_errmsg(db));
    }

    Result Open(Database& db) {
        std::error_code error;
        const auto status = fs::status(path_, error);
        if (status.type() == fs::file_type::not_found)
            return Result::Retry(path_ + " does not exist (yet)");
        if (error)
            return Result::Error("cannot read " + path_ + ": " + error.message());
        if (fs::is_directory(status))
            return Result::Error(path_ + " is a folder, not a SQLite database");

        sqlite3* raw = nullptr;
        const int code = sqlite3_open_v2(path_.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
        db.reset(raw);  // closed even when opening failed
        if (code != SQLITE_OK) {
            return Failure(db.get(), code, "opening");
        }
        sqlite3_extended_result_codes(db.get(), 1);
        sqlite3_busy_timeout(
            db.get(), static_cast<int>(std::min<std::int64_t>(timeout_.count(), std::numeric_limits<int>::max())));
        // No ATTACH: the query sees this one file and nothing else.
        sqlite3_limit(db.get(), SQLITE_LIMIT_ATTACHED, 0);
        // Runs at most every 1000 virtual machine steps: stops a query past its time.
        sqlite3_progress_handler(db.get(), 1000, &SourceSqlite::Progress, this);
        if (const int pragma = sqlite3_exec(db.get(), "PRAGMA query_only=1", nullptr, nullptr, nullptr);
            pragma != SQLITE_OK) {
            return Failure(db.get(), pragma, "opening");
        }
        return Result::Ok();
    }

    Result Prepare(sqlite3* db, Statement& statement) const {
        const char* tail = nullptr;
        sqlite3_stmt* raw = nullptr;
        const int code = sqlite3_prepare_v2(db, query_.c_str(), static_cast<int>(query_.size()), &raw, &tail);
        statement.reset(raw);
        if (code != SQLITE_OK)
            return Failure(db, code, "config.query");
        if (statement == nullptr)
            return Result::Error("config.query holds no statement");

        // Whatever follows the first statement must be blank or comments.
        const char* rest_tail = nullptr;
        sqlite3_stmt* rest_raw = nullptr;
        const int rest_code = sqlite3_prepare_v2(db, tail, -1, &rest_raw, &rest_tail);
        const Statement rest(rest_raw);
        if (rest_code != SQLITE_OK || rest != nullptr) {
            return Result::Error("config.query must be a single statement; it continues after the first ';'");
        }
        // ATTACH and BEGIN count as read-only to SQLite but return no rows: refused too.
        if (sqlite3_stmt_readonly(statement.get()) == 0 || sqlite3_column_count(statement.get()) == 0) {
            return Result::Error("config.query must be a read-only statement that returns rows (a SELECT)");
        }
        return Result::Ok();
    }

    static Result Bind(sqlite3_stmt* statement, const json::object& where, std::set<std::string, std::less<>>& bound) {
        const int count = sqlite3_bind_parameter_count(statement);
        for (int i = 1; i <= count; ++i) {
            const char* raw_name = sqlite3_bind_parameter_name(statement, i);
            if (raw_name == nullptr || raw_name[0] == '?') {
                return Result::Error("config.query uses a nameless parameter (?" + std::to_string(i) +
                                     "); name it, e.g. :unit, so it can take a value from where");
            }
            const std::string name(raw_name + 1);
            const auto* value = where.if_contains(name);
            if (value == nullptr) {
                return Result::Error("config.query parameter " + std::string(raw_name) +
                                     " has no value: params.where has no '" + name + "'");
            }
            int code = SQLITE_OK;
            switch (value->kind()) {
            case json::kind::string:
                code = sqlite3_bind_text64(statement, i, value->get_string().data(), value->get_string().size(),
                                           SQLITE_TRANSIENT, SQLITE_UTF8);
                break;
            case json::kind::int64:
                code = sqlite3_bind_int64(statement, i, value->get_int64());
                break;
            case json::kind::uint64:
                code = value->get_uint64() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())
                           ? sqlite3_bind_int64(statement, i, static_cast<std::int64_t>(value->get_uint64()))
                           : sqlite3_bind_double(statement, i, static_cast<double>(value->get_uint64()));
                break;
            case json::kind::double_:
                code = sqlite3_bind_double(statement, i, value->get_double());
                break;
            case json::kind::bool_:
                code = sqlite3_bind_int(statement, i, value->get_bool() ? 1 : 0);
                break;
            case json::kind::null:
                code = sqlite3_bind_null(statement, i);
                break;
            default:
                return Result::Error("params.where." + name + " must be a string, number, boolean or null");
            }
            if (code != SQLITE_OK) {
                return Result::Error("cannot bind " + std::string(raw_name) + ": " + sqlite3_errstr(code));
            }
            bound.insert(name);
        }
        return Result::Ok();
    }

    static json::value ColumnValue(sqlite3_stmt* statement, int column) {
        switch (sqlite3_column_type(statement, column)) {
        case SQLITE_INTEGER:
            return sqlite3_column_int64(statement, column);
        case SQLITE_FLOAT:
            return sqlite3_column_double(statement, column);
        case SQLITE_TEXT: {
            const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(statement, column));
            return json::string(text, static_cast<std::size_t>(sqlite3_column_bytes(statement, column)));
        }
        case SQLITE_BLOB: {
            const auto* data = static_cast<const unsigned char*>(sqlite3_column_blob(statement, column));
            return json::string(Base64(data, static_cast<std::size_t>(sqlite3_column_bytes(statement, column))));
        }
        default:
            return nullptr;
        }
    }

    static std::string ColumnText(sqlite3_stmt* statement, int column) {
        switch (sqlite3_column_type(statement, column)) {
        case SQLITE_INTEGER:
            return std::to_string(sqlite3_column_int64(statement, column));
        case SQLITE_FLOAT:
            return DoubleText(sqlite3_column_double(statement, column));
        case SQLITE_NULL:
            return std::string();
        default: {
            const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(statement, column));
            return std::string(text, static_cast<std::size_t>(sqlite3_column_bytes(statement, column)));
        }
        }
    }

    // Non-zero interrupts the running statement (it then fails with SQLITE_INTERRUPT).
    static int Progress(void* context) {
        const auto* self = static_cast<const SourceSqlite*>(context);
        return Clock::now() > self->deadline_ || self->host().Cancelled() ? 1 : 0;
    }

    std::string path_;
    std::string query_;
    std::chrono::milliseconds timeout_{5000};
    Clock::time_point deadline_{};
};

}  // namespace

CASCADE_PLUGIN(SourceSqlite, "source-sqlite")
