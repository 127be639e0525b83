// The SQLite layer: connections, prepared statements, the per-connection
// statement cache, transactions and numbered schema migrations.
//
// Two kinds of failure leave this file. SQLite's own failures (locked, full,
// corrupt, constraint, syntax) are SqliteError carrying the primary result
// code, sqlite3_errmsg, the statement text and the file, so "database is
// locked" says which statement on which database. Misuse of this wrapper that
// SQLite cannot see (a moved-from object, reading a column with no current
// row, committing twice, nesting transactions) is std::logic_error: a bug in
// the caller, not a condition of the environment.
#include "cascade/store/sqlite.hpp"

#include "cascade/model/text.hpp"

#include <sqlite3.h>

#include <cstdio>
#include <functional>
#include <limits>
#include <unordered_map>
#include <utility>

namespace cascade::store {

namespace {

// Enough to recognise a statement in an error message without quoting a whole migration.
constexpr std::size_t kMaxSqlInMessage = 200;

bool IsSqlSpace(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// The SQL for an error message: whitespace runs (a migration's newlines and
// indentation) folded into single spaces, cut at about kMaxSqlInMessage bytes
// on a UTF-8 character boundary.
std::string AbbreviateSql(std::string_view sql) {
    std::string out;
    bool pending_space = false;
    bool truncated = false;
    for (const char c : sql) {
        if (IsSqlSpace(c)) {
            pending_space = !out.empty();
            continue;
        }
        if (out.size() >= kMaxSqlInMessage) {
            truncated = true;
            break;
        }
        if (pending_space) {
            out += ' ';
            pending_space = false;
        }
        out += c;
    }
    if (truncated) {
        // Drop a multi-byte character the cut went through: find its lead byte
        // and keep it only if all its continuation bytes made it in.
        std::size_t lead = out.size();
        while (lead > 0 && (static_cast<unsigned char>(out[lead - 1]) & 0xC0U) == 0x80U) {
            --lead;
        }
        if (lead > 0) {
            const auto byte = static_cast<unsigned char>(out[lead - 1]);
            const std::size_t length = byte >= 0xF0U ? 4 : byte >= 0xE0U ? 3 : byte >= 0xC0U ? 2 : 1;
            if (lead - 1 + length > out.size()) {
                out.resize(lead - 1);
            }
        }
        out += "...";
    }
    return out;
}

std::string_view SqlOf(sqlite3_stmt* statement) {
    const char* sql = statement != nullptr ? sqlite3_sql(statement) : nullptr;
    return sql != nullptr ? std::string_view(sql) : std::string_view();
}

// "<sqlite3_errmsg>, in "<sql>" on '<file>'". The connection's message is used
// only when it belongs to `code`: some calls (binds on a running statement)
// return a code without recording a message, and a stale one would mislead.
std::string DescribeError(sqlite3* db, int code, std::string_view sql) {
    const bool own_message = db != nullptr && sqlite3_errcode(db) == (code & 0xFF);
    std::string message = own_message ? sqlite3_errmsg(db) : sqlite3_errstr(code);
    if (!sql.empty()) {
        message += ", in \"" + AbbreviateSql(sql) + "\"";
    }
    const char* file = db != nullptr ? sqlite3_db_filename(db, "main") : nullptr;
    if (file != nullptr && *file != '\0') {
        message += " on '";
        message += file;
        message += "'";
    }
    return message;
}

[[noreturn]] void ThrowSqlite(sqlite3* db, int code, std::string_view sql) {
    // Extended codes are off, but mask anyway: Code() promises the primary code.
    throw SqliteError(code & 0xFF, DescribeError(db, code, sql));
}

sqlite3* LiveHandle(sqlite3* handle) {
    if (handle == nullptr) {
        throw std::logic_error("use of a moved-from store::Database");
    }
    return handle;
}

sqlite3_stmt* LiveStatement(sqlite3_stmt* statement) {
    if (statement == nullptr) {
        throw std::logic_error("use of a moved-from store::Statement");
    }
    return statement;
}

// Checks that `column` can be read now, so a caller bug does not silently read as NULL.
sqlite3_stmt* ReadableColumn(sqlite3_stmt* statement, int column) {
    LiveStatement(statement);
    const int count = sqlite3_data_count(statement);
    if (count == 0) {
        throw std::logic_error("reading column " + std::to_string(column) +
                               " with no current row (Step() did not return true), in \"" +
                               AbbreviateSql(SqlOf(statement)) + "\"");
    }
    if (column < 0 || column >= count) {
        throw std::logic_error("column " + std::to_string(column) + " out of range (the statement has " +
                               std::to_string(count) + "), in \"" + AbbreviateSql(SqlOf(statement)) + "\"");
    }
    return statement;
}

void CheckBind(sqlite3* db, sqlite3_stmt* statement, int index, int code) {
    if (code != SQLITE_OK) {
        throw SqliteError(code & 0xFF, DescribeError(db, code, SqlOf(statement)) + " (binding parameter " +
                                           std::to_string(index) + ")");
    }
}

int SqlLength(sqlite3* db, std::string_view sql) {
    if (sql.size() >= static_cast<std::size_t>(std::numeric_limits<int>::max())) {
        ThrowSqlite(db, SQLITE_TOOBIG, sql);
    }
    return static_cast<int>(sql.size());
}

// True when `rest` (what follows a prepared statement) holds another statement
// rather than only separators and comments: SQLite compiles the first
// statement and would silently ignore the others.
bool HasMoreStatements(sqlite3* db, std::string_view rest) {
    if (rest.find_first_not_of(" \t\n\r\f\v;") == std::string_view::npos) {
        return false;
    }
    sqlite3_stmt* next = nullptr;
    const int code = sqlite3_prepare_v2(db, rest.data(), SqlLength(db, rest), &next, nullptr);
    sqlite3_finalize(next);
    // A tail that does not even compile is still a second statement.
    return code != SQLITE_OK || next != nullptr;
}

std::int32_t ReadPragmaInt(Database& database, std::string_view pragma) {
    Statement statement = database.Prepare(pragma);
    if (!statement.Step()) {
        throw SqliteError(SQLITE_ERROR, "no result from \"" + std::string(pragma) + "\" on '" + database.Path() + "'");
    }
    return static_cast<std::int32_t>(statement.Int64(0));
}

const char* SynchronousPragma(Synchronous synchronous) {
    switch (synchronous) {
    case Synchronous::off:
        return "PRAGMA synchronous = OFF";
    case Synchronous::normal:
        return "PRAGMA synchronous = NORMAL";
    case Synchronous::full:
        return "PRAGMA synchronous = FULL";
    }
    throw std::logic_error("unknown store::Synchronous value");
}

}  // namespace

// ---------------------------------------------------------------- SqliteError

bool SqliteError::IsBusy() const {
    const int primary = code_ & 0xFF;
    return primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
}

bool SqliteError::IsConstraint() const {
    return (code_ & 0xFF) == SQLITE_CONSTRAINT;
}

// ------------------------------------------------------------------ Database

struct Database::StatementCache {
    // Transparent hashing, so that a lookup by string_view allocates nothing.
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view text) const noexcept { return std::hash<std::string_view>{}(text); }
    };
    std::unordered_map<std::string, Statement, Hash, std::equal_to<>> statements;
};

Database Database::Open(const std::string& path, const OpenOptions& options) {
    // NOMUTEX: a connection is used by one thread at a time, so SQLite's own
    // per-connection mutex would be wasted work.
    int flags = SQLITE_OPEN_NOMUTEX;
    if (options.read_only) {
        flags |= SQLITE_OPEN_READONLY;
    } else {
        flags |= SQLITE_OPEN_READWRITE | (options.create ? SQLITE_OPEN_CREATE : 0);
    }
    sqlite3* handle = nullptr;
    const int code = sqlite3_open_v2(path.c_str(), &handle, flags, nullptr);

    // From here on the destructor closes the handle on every path, including
    // a failed open (SQLite allocates a handle even then, to carry the message).
    Database database;
    database.handle_ = handle;
    database.path_ = path;
    if (code != SQLITE_OK) {
        const char* message = handle != nullptr ? sqlite3_errmsg(handle) : sqlite3_errstr(code);
        throw SqliteError(code & 0xFF, "cannot open '" + path + "': " + message);
    }
    database.cache_ = std::make_unique<StatementCache>();

    try {
        // First, so that every later step may wait for a lock held by another process.
        sqlite3_busy_timeout(handle, options.busy_timeout_ms);
        // SQLite opens files lazily; reading the schema now makes a file that is
        // not a database fail here, naming its path, rather than at first use.
        database.Execute("SELECT count(*) FROM sqlite_master");
        database.Execute("PRAGMA foreign_keys = ON");
        const bool in_memory = path.empty() || path == ":memory:";
        if (options.wal && !options.read_only && !in_memory) {
            // The pragma answers with the mode in force, which stays the old one
            // when WAL is impossible (e.g. a file system without shared memory).
            Statement pragma = database.Prepare("PRAGMA journal_mode = WAL");
            std::string mode = pragma.Step() ? std::string(pragma.Text(0)) : std::string();
            mode = model::AsciiLower(mode);
            if (mode != "wal") {
                throw SqliteError(SQLITE_ERROR, "could not switch to WAL journal mode (SQLite kept journal_mode '" +
                                                    mode + "'); the file system may not support it");
            }
        }
        database.Execute(SynchronousPragma(options.synchronous));
        database.Execute("PRAGMA wal_autocheckpoint = " + std::to_string(options.wal_autocheckpoint_pages));
    } catch (const SqliteError& error) {
        // The message names the file already (as SQLite resolved it); say it once, as the caller wrote it.
        std::string message = error.what();
        const char* file = sqlite3_db_filename(handle, "main");
        const std::string suffix = std::string(" on '") + (file != nullptr ? file : "") + "'";
        if (message.ends_with(suffix)) {
            message.resize(message.size() - suffix.size());
        }
        throw SqliteError(error.Code(), "cannot open '" + path + "': " + message);
    }
    return database;
}

Database::Database(Database&& other) noexcept
    : handle_(std::exchange(other.handle_, nullptr)), path_(std::move(other.path_)), cache_(std::move(other.cache_)) {}

Database& Database::operator=(Database&& other) noexcept {
    if (this != &other) {
        cache_.reset();
        sqlite3_close_v2(handle_);
        handle_ = std::exchange(other.handle_, nullptr);
        path_ = std::move(other.path_);
        cache_ = std::move(other.cache_);
    }
    return *this;
}

Database::~Database() {
    // The cached statements first: they belong to this connection. close_v2
    // rather than close so that a Statement the caller still holds (against
    // the rules) leaves a zombie connection instead of a dangling one.
    cache_.reset();
    sqlite3_close_v2(handle_);
}

void Database::Execute(std::string_view sql) {
    sqlite3* handle = LiveHandle(handle_);
    // One statement at a time rather than sqlite3_exec, so an error names the
    // statement that failed rather than the whole script.
    while (!sql.empty()) {
        sqlite3_stmt* raw = nullptr;
        const char* tail = nullptr;
        const int code = sqlite3_prepare_v2(handle, sql.data(), SqlLength(handle, sql), &raw, &tail);
        if (code != SQLITE_OK) {
            ThrowSqlite(handle, code, sql);
        }
        if (raw == nullptr) {
            break;  // only whitespace and comments were left
        }
        Statement statement(handle, raw);
        sql.remove_prefix(static_cast<std::size_t>(tail - sql.data()));
        while (statement.Step()) {
            // Rows (a PRAGMA's answer, say) are not wanted here.
        }
    }
}

Statement Database::Prepare(std::string_view sql) {
    sqlite3* handle = LiveHandle(handle_);
    sqlite3_stmt* raw = nullptr;
    const char* tail = nullptr;
    const int code = sqlite3_prepare_v2(handle, sql.empty() ? "" : sql.data(), SqlLength(handle, sql), &raw, &tail);
    if (code != SQLITE_OK) {
        ThrowSqlite(handle, code, sql);
    }
    if (raw == nullptr) {
        throw std::logic_error("Prepare() was given no SQL statement: \"" + AbbreviateSql(sql) + "\"");
    }
    Statement statement(handle, raw);
    if (HasMoreStatements(handle, sql.substr(static_cast<std::size_t>(tail - sql.data())))) {
        throw std::logic_error("Prepare() takes one SQL statement (use Execute() for a script): \"" +
                               AbbreviateSql(sql) + "\"");
    }
    return statement;
}

Statement& Database::Cached(std::string_view sql) {
    LiveHandle(handle_);
    auto& statements = cache_->statements;
    if (const auto found = statements.find(sql); found != statements.end() && found->second.statement_ != nullptr) {
        // The reset's result is the last run's error, already reported by Step().
        sqlite3_reset(found->second.statement_);
        sqlite3_clear_bindings(found->second.statement_);
        return found->second;
    }
    // Absent, or moved out of the cache by the caller: compile it (again).
    auto [position, inserted] = statements.insert_or_assign(std::string(sql), Prepare(sql));
    return position->second;
}

std::int64_t Database::LastInsertRowid() const {
    return sqlite3_last_insert_rowid(LiveHandle(handle_));
}

int Database::Changes() const {
    return sqlite3_changes(LiveHandle(handle_));
}

bool Database::InTransaction() const {
    return sqlite3_get_autocommit(LiveHandle(handle_)) == 0;
}

// ----------------------------------------------------------------- Statement

Statement::Statement(Statement&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), statement_(std::exchange(other.statement_, nullptr)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
    if (this != &other) {
        sqlite3_finalize(statement_);
        db_ = std::exchange(other.db_, nullptr);
        statement_ = std::exchange(other.statement_, nullptr);
    }
    return *this;
}

Statement::~Statement() {
    sqlite3_finalize(statement_);  // a no-op for nullptr (moved-from)
}

Statement& Statement::Bind(int index, std::int64_t value) {
    CheckBind(db_, statement_, index, sqlite3_bind_int64(LiveStatement(statement_), index, value));
    return *this;
}

Statement& Statement::Bind(int index, double value) {
    CheckBind(db_, statement_, index, sqlite3_bind_double(LiveStatement(statement_), index, value));
    return *this;
}

Statement& Statement::Bind(int index, std::string_view text) {
    // A null pointer would bind NULL, and an empty string_view may carry one: '' is not NULL.
    const char* data = text.data() != nullptr ? text.data() : "";
    CheckBind(db_, statement_, index,
              sqlite3_bind_text64(LiveStatement(statement_), index, data, text.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
    return *this;
}

Statement& Statement::BindBlob(int index, std::span<const std::uint8_t> bytes) {
    // As for text: a zero-length blob must not turn into NULL.
    static constexpr std::uint8_t kEmpty = 0;
    const std::uint8_t* data = bytes.data() != nullptr ? bytes.data() : &kEmpty;
    CheckBind(db_, statement_, index,
              sqlite3_bind_blob64(LiveStatement(statement_), index, data, bytes.size(), SQLITE_TRANSIENT));
    return *this;
}

Statement& Statement::BindNull(int index) {
    CheckBind(db_, statement_, index, sqlite3_bind_null(LiveStatement(statement_), index));
    return *this;
}

bool Statement::Step() {
    sqlite3_stmt* statement = LiveStatement(statement_);
    const int code = sqlite3_step(statement);
    if (code == SQLITE_ROW) {
        return true;
    }
    if (code == SQLITE_DONE) {
        return false;
    }
    // Describe before resetting, which may rewrite the connection's message;
    // reset so the failed statement does not keep its locks and read snapshot.
    std::string message = DescribeError(db_, code, SqlOf(statement));
    sqlite3_reset(statement);
    throw SqliteError(code & 0xFF, message);
}

void Statement::Run() {
    if (Step()) {
        Reset();
        throw std::logic_error("Run() on a statement that returns rows: \"" + AbbreviateSql(SqlOf(statement_)) + "\"");
    }
    Reset();
}

void Statement::Reset() {
    // The result is the last Step()'s error, which Step() has already thrown.
    sqlite3_reset(LiveStatement(statement_));
}

int Statement::ColumnCount() const {
    return sqlite3_column_count(LiveStatement(statement_));
}

bool Statement::IsNull(int column) const {
    return sqlite3_column_type(ReadableColumn(statement_, column), column) == SQLITE_NULL;
}

std::int64_t Statement::Int64(int column) const {
    return sqlite3_column_int64(ReadableColumn(statement_, column), column);
}

double Statement::Double(int column) const {
    return sqlite3_column_double(ReadableColumn(statement_, column), column);
}

std::string_view Statement::Text(int column) const {
    sqlite3_stmt* statement = ReadableColumn(statement_, column);
    // The type before the text conversion: afterwards it is unspecified.
    const bool is_null = sqlite3_column_type(statement, column) == SQLITE_NULL;
    const unsigned char* text = sqlite3_column_text(statement, column);
    const int size = sqlite3_column_bytes(statement, column);  // after column_text: the UTF-8 size
    if (text == nullptr) {
        if (!is_null) {
            ThrowSqlite(db_, SQLITE_NOMEM, SqlOf(statement));  // the conversion to text ran out of memory
        }
        return {};
    }
    return {reinterpret_cast<const char*>(text), static_cast<std::size_t>(size)};
}

std::span<const std::uint8_t> Statement::Blob(int column) const {
    sqlite3_stmt* statement = ReadableColumn(statement_, column);
    const void* data = sqlite3_column_blob(statement, column);
    const int size = sqlite3_column_bytes(statement, column);
    if (data == nullptr || size <= 0) {
        return {};  // NULL or a zero-length blob
    }
    return {static_cast<const std::uint8_t*>(data), static_cast<std::size_t>(size)};
}

std::string Statement::Sql() const {
    return std::string(SqlOf(statement_));
}

// --------------------------------------------------------------- Transaction

Transaction::Transaction(Database& database, TransactionMode mode) : database_(database) {
    if (database_.InTransaction()) {
        throw std::logic_error("a transaction is already open on '" + database_.Path() +
                               "'; store::Transaction does not nest");
    }
    database_.Execute(mode == TransactionMode::immediate ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED");
}

Transaction::~Transaction() {
    // SQLite may already have rolled back by itself (after an I/O error, say):
    // then there is nothing left to end. Errors are swallowed, as a destructor must.
    if (open_ && database_.Handle() != nullptr && sqlite3_get_autocommit(database_.Handle()) == 0) {
        sqlite3_exec(database_.Handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    }
}

void Transaction::Commit() {
    if (!open_) {
        throw std::logic_error("Commit() on a transaction that was already committed, on '" + database_.Path() + "'");
    }
    try {
        database_.Execute("COMMIT");
    } catch (...) {
        // A COMMIT refused with SQLITE_BUSY (a reader in rollback-journal mode)
        // or by a deferred constraint leaves the transaction open: Commit() may
        // be retried, and the destructor rolls back. Other failures end it.
        open_ = database_.InTransaction();
        throw;
    }
    open_ = false;
}

// ---------------------------------------------------------------- Migrations

int ApplyMigrations(Database& database, std::span<const Migration> migrations, std::int32_t application_id) {
    for (std::size_t i = 0; i < migrations.size(); ++i) {
        if (migrations[i].version != static_cast<int>(i) + 1) {
            throw std::logic_error("schema migrations must be numbered 1, 2, 3 ... in order with no gaps; entry " +
                                   std::to_string(i + 1) + " has version " + std::to_string(migrations[i].version));
        }
    }
    const int latest = static_cast<int>(migrations.size());
    const std::string& path = database.Path();

    // Identity first: a foreign file is refused before its version means anything.
    const std::int32_t found_id = ReadPragmaInt(database, "PRAGMA application_id");
    if (found_id != 0 && found_id != application_id) {
        char hex[16];
        std::snprintf(hex, sizeof hex, "0x%08x", static_cast<unsigned>(static_cast<std::uint32_t>(found_id)));
        throw SqliteError(SQLITE_NOTADB, "'" + path + "' is not a Cascade database (application_id " + hex + ")");
    }
    const int before = ReadPragmaInt(database, "PRAGMA user_version");
    if (before < 0) {
        throw SqliteError(SQLITE_NOTADB,
                          "'" + path + "' has an invalid schema version (user_version " + std::to_string(before) + ")");
    }
    if (before > latest) {
        throw SchemaTooNewError("'" + path + "' was written by a newer Cascade (schema version " +
                                std::to_string(before) + "); this build understands up to version " +
                                std::to_string(latest));
    }

    for (const Migration& migration : migrations) {
        if (migration.version <= before) {
            continue;
        }
        // user_version and application_id live in the file header and are
        // written through the pager, so they commit or roll back with the DDL.
        Transaction transaction(database, TransactionMode::immediate);
        // Read again under the write lock: another process may have migrated the file since.
        const int current = ReadPragmaInt(database, "PRAGMA user_version");
        if (current >= migration.version) {
            continue;  // nothing written; the destructor ends the transaction
        }
        try {
            if (current == 0 && ReadPragmaInt(database, "PRAGMA application_id") == 0) {
                database.Execute("PRAGMA application_id = " + std::to_string(application_id));
            }
            database.Execute(migration.sql);
            if (!database.InTransaction()) {
                throw std::logic_error("schema migration " + std::to_string(migration.version) + " (" +
                                       std::string(migration.description) +
                                       ") ended the transaction it runs in; migrations must not contain BEGIN, "
                                       "COMMIT or ROLLBACK");
            }
            database.Execute("PRAGMA user_version = " + std::to_string(migration.version));
        } catch (const SqliteError& error) {
            throw SqliteError(error.Code(), "schema migration " + std::to_string(migration.version) + " (" +
                                                std::string(migration.description) + ") failed: " + error.what());
        }
        transaction.Commit();
    }
    return before;
}

}  // namespace cascade::store
