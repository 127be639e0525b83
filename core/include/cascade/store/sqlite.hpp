// A thin RAII layer over the SQLite C API: a connection, prepared
// statements, transactions, numbered schema migrations.
//
// Error policy for the store layer: SQLite failures are exceptions
// (store::SqliteError, carrying the SQLite result code and the statement);
// they are environment failures (disk full, locked, corrupt), not author errors.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace cascade::store {

class SqliteError : public std::runtime_error {
public:
    SqliteError(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
    int Code() const { return code_; }  // the primary SQLite result code (SQLITE_BUSY, ...)
    bool IsBusy() const;                // SQLITE_BUSY or SQLITE_LOCKED
    bool IsConstraint() const;          // SQLITE_CONSTRAINT

private:
    int code_;
};

// Thrown by ApplyMigrations when the file was written by a newer Cascade.
class SchemaTooNewError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

enum class Synchronous { off, normal, full };

struct OpenOptions {
    bool read_only = false;
    bool create = true;  // ignored when read_only
    Synchronous synchronous = Synchronous::normal;
    int busy_timeout_ms = 5000;
    bool wal = true;  // journal_mode=WAL (not for read_only or ":memory:")
    // WAL pages between automatic checkpoints. Larger than SQLite's 1,000 so a
    // page rewritten by many small transactions is copied to the database
    // (and synced) once per checkpoint rather than once per thousand pages.
    int wal_autocheckpoint_pages = 10'000;
};

class Statement;

class Database {
public:
    // Opens (or creates) the file and applies the pragmas: foreign_keys=ON,
    // journal_mode=WAL, synchronous, busy_timeout. Throws SqliteError naming the path.
    static Database Open(const std::string& path, const OpenOptions& options = {});

    Database(Database&&) noexcept;
    Database& operator=(Database&&) noexcept;
    ~Database();

    // Runs one or more statements with no parameters and no results.
    void Execute(std::string_view sql);
    // Compiles exactly one statement (std::logic_error for none or several).
    // Statements must not outlive the database.
    Statement Prepare(std::string_view sql);
    // Returns a statement prepared once for this connection and kept (keyed by
    // the SQL text); it comes back reset with bindings cleared. Not reentrant:
    // asking again for the same SQL resets a statement you may still be stepping.
    // The reference stays valid for the life of the Database, across moves.
    Statement& Cached(std::string_view sql);

    std::int64_t LastInsertRowid() const;
    int Changes() const;  // rows changed by the last statement
    bool InTransaction() const;
    const std::string& Path() const { return path_; }
    sqlite3* Handle() const { return handle_; }

private:
    Database() = default;
    struct StatementCache;
    sqlite3* handle_ = nullptr;
    std::string path_;
    std::unique_ptr<StatementCache> cache_;
};

class Statement {
public:
    Statement(Statement&&) noexcept;
    Statement& operator=(Statement&&) noexcept;
    ~Statement();

    // Parameters are 1-based, as in SQLite. Text and blobs are copied (SQLITE_TRANSIENT).
    Statement& Bind(int index, std::int64_t value);
    Statement& Bind(int index, int value) { return Bind(index, static_cast<std::int64_t>(value)); }
    Statement& Bind(int index, double value);
    Statement& Bind(int index, std::string_view text);
    Statement& Bind(int index, const char* text) { return Bind(index, std::string_view(text)); }
    Statement& Bind(int index, const std::string& text) { return Bind(index, std::string_view(text)); }
    Statement& BindBlob(int index, std::span<const std::uint8_t> bytes);
    Statement& BindNull(int index);
    Statement& Bind(int index, std::nullptr_t) { return BindNull(index); }
    // Binds the arguments to parameters 1, 2, 3 ... in order: BindAll(id, name, nullptr).
    template <typename... Values>
    Statement& BindAll(const Values&... values) {
        int index = 0;
        (Bind(++index, values), ...);
        return *this;
    }

    // Runs to the next row: true while there is a row to read. On failure the
    // statement is reset (releasing its locks) before SqliteError is thrown.
    bool Step();
    // Runs a statement that returns no rows (std::logic_error if it returns one),
    // then resets it.
    void Run();
    // Ready for new bindings and another run. Bindings are kept (as in SQLite)
    // until rebound; Database::Cached() is what clears them.
    void Reset();

    // Reading a column needs a current row (Step() returned true) and an index
    // below ColumnCount(); otherwise std::logic_error. NULL reads as 0, 0.0 or empty.
    int ColumnCount() const;
    bool IsNull(int column) const;  // columns are 0-based, as in SQLite
    std::int64_t Int64(int column) const;
    double Double(int column) const;
    std::string_view Text(int column) const;  // valid until the next Step/Reset
    std::span<const std::uint8_t> Blob(int column) const;
    std::string Sql() const;

private:
    friend class Database;
    Statement(sqlite3* db, sqlite3_stmt* statement) : db_(db), statement_(statement) {}
    sqlite3* db_ = nullptr;
    sqlite3_stmt* statement_ = nullptr;
};

enum class TransactionMode { deferred, immediate };

// BEGIN on construction, ROLLBACK on destruction unless Commit() ran.
// Transactions do not nest: beginning one while the connection is already in a
// transaction is std::logic_error. A COMMIT refused with SQLITE_BUSY throws and
// leaves the transaction open, so Commit() may be retried.
class Transaction {
public:
    explicit Transaction(Database& database, TransactionMode mode = TransactionMode::immediate);
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    ~Transaction();
    void Commit();

private:
    Database& database_;
    bool open_ = true;
};

struct Migration {
    int version;  // 1, 2, 3 ... in order, no gaps
    std::string_view description;
    std::string_view sql;
};

// Brings the schema to the last migration: reads PRAGMA user_version, runs
// each later migration in its own transaction and sets user_version. A
// database whose application_id is set and differs from `application_id`
// is refused (SqliteError); one whose user_version is above the last
// migration throws SchemaTooNewError with a message naming both versions.
// Returns the version the file had before (0 for a new file). A new file gets
// `application_id` in the same transaction as migration 1. Versions that are
// not 1..N in order are std::logic_error. Migrations must not contain BEGIN,
// COMMIT or ROLLBACK, and PRAGMA foreign_keys has no effect inside them.
int ApplyMigrations(Database& database, std::span<const Migration> migrations, std::int32_t application_id);

}  // namespace cascade::store
