// The SQLite layer against real files in a temporary directory: opening and
// pragmas, binding and reading every type, the statement cache, transactions,
// lock contention between two connections, and schema migrations.
#include "cascade/store/sqlite.hpp"

#include <unistd.h>
#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using cascade::store::ApplyMigrations;
using cascade::store::Database;
using cascade::store::Migration;
using cascade::store::OpenOptions;
using cascade::store::SchemaTooNewError;
using cascade::store::SqliteError;
using cascade::store::Statement;
using cascade::store::Synchronous;
using cascade::store::Transaction;
using cascade::store::TransactionMode;

namespace {

// A fresh directory per test; ctest runs test cases in parallel processes, so
// the name carries the process id and a random part.
class TempDir {
public:
    TempDir() {
        std::random_device random;
        path_ = fs::temp_directory_path() /
                ("cascade-sqlite-test-" + std::to_string(::getpid()) + "-" + std::to_string(random()));
        fs::create_directories(path_);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir() {
        std::error_code ignored;
        fs::remove_all(path_, ignored);
    }
    std::string File(const std::string& name) const { return (path_ / name).string(); }

private:
    fs::path path_;
};

std::string QueryText(Database& database, std::string_view sql) {
    Statement statement = database.Prepare(sql);
    REQUIRE(statement.Step());
    return std::string(statement.Text(0));
}

std::int64_t QueryInt(Database& database, std::string_view sql) {
    Statement statement = database.Prepare(sql);
    REQUIRE(statement.Step());
    return statement.Int64(0);
}

bool TableExists(Database& database, const std::string& name) {
    Statement statement = database.Prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1");
    statement.Bind(1, name);
    REQUIRE(statement.Step());
    return statement.Int64(0) == 1;
}

constexpr std::int32_t kAppId = 0x43534344;  // "CSCD"

const std::array<Migration, 3> kMigrations = {{
    {1, "units", "CREATE TABLE unit (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"},
    {2, "tasks",
     "CREATE TABLE task (id INTEGER PRIMARY KEY, unit_id INTEGER NOT NULL REFERENCES unit(id));\n"
     "CREATE INDEX task_unit ON task(unit_id);"},
    {3, "unit colour", "ALTER TABLE unit ADD COLUMN colour TEXT;"},
}};

}  // namespace

TEST_CASE("sqlite: open creates the file and applies the pragmas", "[sqlite]") {
    TempDir dir;
    const std::string path = dir.File("new.db");
    {
        Database database = Database::Open(path);
        CHECK(database.Path() == path);
        CHECK(database.Handle() != nullptr);
        CHECK(QueryText(database, "PRAGMA journal_mode") == "wal");
        CHECK(QueryInt(database, "PRAGMA foreign_keys") == 1);
        CHECK(QueryInt(database, "PRAGMA synchronous") == 1);  // NORMAL
        CHECK(QueryInt(database, "PRAGMA busy_timeout") == 5000);
        CHECK_FALSE(database.InTransaction());
    }
    CHECK(fs::exists(path));

    // WAL is a property of the file: it is still set for the next connection.
    OpenOptions full;
    full.synchronous = Synchronous::full;
    full.busy_timeout_ms = 1234;
    Database again = Database::Open(path, full);
    CHECK(QueryText(again, "PRAGMA journal_mode") == "wal");
    CHECK(QueryInt(again, "PRAGMA synchronous") == 2);
    CHECK(QueryInt(again, "PRAGMA busy_timeout") == 1234);

    OpenOptions off;
    off.synchronous = Synchronous::off;
    off.wal = false;
    Database rollback = Database::Open(dir.File("rollback.db"), off);
    CHECK(QueryText(rollback, "PRAGMA journal_mode") == "delete");
    CHECK(QueryInt(rollback, "PRAGMA synchronous") == 0);

    Database memory = Database::Open(":memory:");
    CHECK(QueryText(memory, "PRAGMA journal_mode") == "memory");
    CHECK(QueryInt(memory, "PRAGMA foreign_keys") == 1);
}

TEST_CASE("sqlite: open refuses missing files when it may not create them", "[sqlite]") {
    TempDir dir;
    const std::string path = dir.File("missing.db");

    OpenOptions read_only;
    read_only.read_only = true;
    try {
        (void)Database::Open(path, read_only);
        FAIL("opened a missing file read-only");
    } catch (const SqliteError& error) {
        CHECK(error.Code() == 14);  // SQLITE_CANTOPEN
        CHECK_THAT(error.what(), Catch::Contains(path) && Catch::Contains("unable to open"));
    }

    OpenOptions no_create;
    no_create.create = false;
    CHECK_THROWS_AS(Database::Open(path, no_create), SqliteError);
    CHECK_FALSE(fs::exists(path));

    CHECK_THROWS_AS(Database::Open(dir.File("no/such/dir/x.db")), SqliteError);
}

TEST_CASE("sqlite: a read-only connection reads and refuses writes", "[sqlite]") {
    TempDir dir;
    const std::string path = dir.File("ro.db");
    {
        Database database = Database::Open(path);
        database.Execute("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (42);");
    }
    OpenOptions read_only;
    read_only.read_only = true;
    Database database = Database::Open(path, read_only);
    CHECK(QueryInt(database, "SELECT x FROM t") == 42);
    try {
        database.Execute("INSERT INTO t VALUES (1)");
        FAIL("wrote through a read-only connection");
    } catch (const SqliteError& error) {
        CHECK(error.Code() == 8);  // SQLITE_READONLY
        CHECK_THAT(error.what(), Catch::Contains("INSERT INTO t VALUES (1)"));
    }
}

TEST_CASE("sqlite: binds and reads every type", "[sqlite]") {
    TempDir dir;
    Database database = Database::Open(dir.File("types.db"));
    database.Execute("CREATE TABLE v (i INTEGER, r REAL, t TEXT, b BLOB)");

    const std::string embedded_nul("a\0b", 3);
    const std::vector<std::uint8_t> bytes = {0x00, 0xFF, 0x10, 0x00, 0x7F};
    Statement insert = database.Prepare("INSERT INTO v (i, r, t, b) VALUES (?1, ?2, ?3, ?4)");
    insert.Bind(1, std::numeric_limits<std::int64_t>::max()).Bind(2, 0.1).Bind(3, "plain").BindBlob(4, bytes).Run();
    CHECK(database.LastInsertRowid() == 1);
    CHECK(database.Changes() == 1);
    insert.Bind(1, std::numeric_limits<std::int64_t>::min())
        .Bind(2, -1.5e300)
        .Bind(3, std::string("中文 ✓"))
        .BindBlob(4, {})
        .Run();
    insert.Bind(1, 7).Bind(2, 0.0).Bind(3, std::string_view(embedded_nul)).Bind(4, std::string_view()).Run();
    CHECK(database.LastInsertRowid() == 3);

    Statement select = database.Prepare("SELECT i, r, t, b FROM v ORDER BY rowid");
    CHECK(select.ColumnCount() == 4);
    REQUIRE(select.Step());
    CHECK(select.Int64(0) == std::numeric_limits<std::int64_t>::max());
    CHECK(select.Double(1) == 0.1);
    CHECK(select.Text(2) == "plain");
    const auto blob = select.Blob(3);
    CHECK(std::vector<std::uint8_t>(blob.begin(), blob.end()) == bytes);
    CHECK(select.Sql() == "SELECT i, r, t, b FROM v ORDER BY rowid");

    REQUIRE(select.Step());
    CHECK(select.Int64(0) == std::numeric_limits<std::int64_t>::min());
    CHECK(select.Double(1) == -1.5e300);
    CHECK(select.Text(2) == "中文 ✓");
    // A zero-length blob (and below, an empty string) is a value, not NULL.
    CHECK_FALSE(select.IsNull(3));
    CHECK(select.Blob(3).empty());

    REQUIRE(select.Step());
    CHECK(select.Int64(0) == 7);
    CHECK(select.Text(2) == std::string_view(embedded_nul));
    CHECK(select.Text(2).size() == 3);
    CHECK_FALSE(select.IsNull(3));
    CHECK(select.Text(3).empty());
    CHECK_FALSE(select.Step());
}

TEST_CASE("sqlite: NULLs bind and read as NULL", "[sqlite]") {
    TempDir dir;
    Database database = Database::Open(dir.File("nulls.db"));
    database.Execute("CREATE TABLE v (i INTEGER, r REAL, t TEXT, b BLOB)");
    database.Prepare("INSERT INTO v VALUES (?, ?, ?, ?)").Bind(1, nullptr).BindNull(2).Bind(3, nullptr).Run();

    Statement select = database.Prepare("SELECT i, r, t, b FROM v");
    REQUIRE(select.Step());
    for (int column = 0; column < 4; ++column) {
        CHECK(select.IsNull(column));  // parameter 4 was never bound: NULL as well
    }
    CHECK(select.Int64(0) == 0);
    CHECK(select.Double(1) == 0.0);
    CHECK(select.Text(2).empty());
    CHECK(select.Blob(3).empty());
}

TEST_CASE("sqlite: BindAll binds in order", "[sqlite]") {
    Database database = Database::Open(":memory:");
    Statement statement = database.Prepare("SELECT ?1, ?2, ?3, ?4, ?5 IS NULL");
    statement.BindAll(std::int64_t{5}, 2.5, "text", std::string("string"), nullptr);
    REQUIRE(statement.Step());
    CHECK(statement.Int64(0) == 5);
    CHECK(statement.Double(1) == 2.5);
    CHECK(statement.Text(2) == "text");
    CHECK(statement.Text(3) == "string");
    CHECK(statement.Int64(4) == 1);
}

TEST_CASE("sqlite: cached statements are reused, reset and cleared", "[sqlite]") {
    TempDir dir;
    Database database = Database::Open(dir.File("cache.db"));
    database.Execute("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2), (3);");

    Statement& first = database.Cached("SELECT ?1, x FROM t ORDER BY x");
    first.Bind(1, 99);
    REQUIRE(first.Step());
    CHECK(first.Int64(0) == 99);
    CHECK(first.Int64(1) == 1);

    // Same object, back at the start, bindings cleared.
    Statement& second = database.Cached("SELECT ?1, x FROM t ORDER BY x");
    CHECK(&second == &first);
    REQUIRE(second.Step());
    CHECK(second.IsNull(0));
    CHECK(second.Int64(1) == 1);

    Statement& other = database.Cached("SELECT count(*) FROM t");
    CHECK(&other != &first);
    REQUIRE(other.Step());
    CHECK(other.Int64(0) == 3);

    // The connection still writes while cached statements sit mid-iteration.
    database.Execute("DELETE FROM t");

    // The cache (and the references into it) survive moving the connection.
    Database moved = std::move(database);
    Statement& after_move = moved.Cached("SELECT count(*) FROM t");
    CHECK(&after_move == &other);
    REQUIRE(after_move.Step());
    CHECK(after_move.Int64(0) == 0);
    CHECK_THROWS_AS(database.Cached("SELECT 1"), std::logic_error);  // NOLINT(bugprone-use-after-move)

    // A statement moved out of the cache is compiled again rather than handed back dead.
    Statement stolen = std::move(moved.Cached("SELECT 42"));
    Statement& recompiled = moved.Cached("SELECT 42");
    REQUIRE(recompiled.Step());
    CHECK(recompiled.Int64(0) == 42);
    REQUIRE(stolen.Step());
}

TEST_CASE("sqlite: move assignment closes the old connection", "[sqlite]") {
    TempDir dir;
    Database first = Database::Open(dir.File("a.db"));
    first.Execute("CREATE TABLE a (x)");
    (void)first.Cached("SELECT count(*) FROM a");
    Database second = Database::Open(dir.File("b.db"));
    second.Execute("CREATE TABLE b (x)");
    first = std::move(second);
    CHECK(first.Path() == dir.File("b.db"));
    CHECK(QueryInt(first, "SELECT count(*) FROM sqlite_master WHERE name = 'b'") == 1);
    CHECK(first.Cached("SELECT count(*) FROM b").Step());
}

TEST_CASE("sqlite: errors carry the code, the message and the statement", "[sqlite]") {
    TempDir dir;
    const std::string path = dir.File("errors.db");
    Database database = Database::Open(path);
    database.Execute(
        "CREATE TABLE unit (id INTEGER PRIMARY KEY, name TEXT UNIQUE);"
        "CREATE TABLE task (unit_id INTEGER REFERENCES unit(id));");

    try {
        database.Execute("SELEKT 1");
        FAIL("a syntax error went through");
    } catch (const SqliteError& error) {
        CHECK(error.Code() == 1);  // SQLITE_ERROR
        CHECK_THAT(error.what(),
                   Catch::Contains("syntax error") && Catch::Contains("SELEKT 1") && Catch::Contains("errors.db"));
    }
    try {
        database.Prepare("SELECT nope FROM unit");
        FAIL("an unknown column went through");
    } catch (const SqliteError& error) {
        CHECK_THAT(error.what(), Catch::Contains("no such column: nope") && Catch::Contains("SELECT nope FROM unit"));
    }

    database.Execute("INSERT INTO unit (name) VALUES ('a')");
    try {
        database.Prepare("INSERT INTO unit (name) VALUES (?)").Bind(1, "a").Run();
        FAIL("a duplicate went through");
    } catch (const SqliteError& error) {
        CHECK(error.IsConstraint());
        CHECK_FALSE(error.IsBusy());
        CHECK_THAT(error.what(), Catch::Contains("UNIQUE constraint failed: unit.name"));
    }
    // foreign_keys=ON is in force.
    try {
        database.Execute("INSERT INTO task VALUES (99)");
        FAIL("a dangling reference went through");
    } catch (const SqliteError& error) {
        CHECK(error.IsConstraint());
        CHECK_THAT(error.what(), Catch::Contains("FOREIGN KEY constraint failed"));
    }

    // A long statement is cut in the message; newlines are folded.
    std::string long_sql = "SELECT\n    1 FROM no_such_table WHERE x IN (";
    for (int i = 0; i < 200; ++i) {
        long_sql += "'✓✓✓',";
    }
    long_sql += "1)";
    try {
        database.Execute(long_sql);
        FAIL("an unknown table went through");
    } catch (const SqliteError& error) {
        const std::string message = error.what();
        CHECK_THAT(message, Catch::Contains("no such table: no_such_table") &&
                                Catch::Contains("\"SELECT 1 FROM no_such_table") && Catch::Contains("...\""));
        CHECK(message.size() < 400);
    }

    // Binding out of range is SQLite's SQLITE_RANGE.
    Statement statement = database.Prepare("SELECT ?1");
    try {
        statement.Bind(2, 1);
        FAIL("bound a parameter that does not exist");
    } catch (const SqliteError& error) {
        CHECK(error.Code() == 25);  // SQLITE_RANGE
        CHECK_THAT(error.what(), Catch::Contains("SELECT ?1") && Catch::Contains("parameter 2"));
    }

    // A failed Execute in a script names the statement that failed.
    try {
        database.Execute("INSERT INTO unit (name) VALUES ('b'); INSERT INTO missing VALUES (1);");
        FAIL("an unknown table went through");
    } catch (const SqliteError& error) {
        CHECK_THAT(error.what(), Catch::Contains("INSERT INTO missing") && !Catch::Contains("'b'"));
    }
    CHECK(QueryInt(database, "SELECT count(*) FROM unit") == 2);  // statements before the failure ran
}

TEST_CASE("sqlite: misuse is a logic error", "[sqlite]") {
    Database database = Database::Open(":memory:");
    database.Execute("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);");

    CHECK_THROWS_AS(database.Prepare(""), std::logic_error);
    CHECK_THROWS_AS(database.Prepare("  -- only a comment"), std::logic_error);
    CHECK_THROWS_AS(database.Prepare("SELECT 1; SELECT 2"), std::logic_error);
    CHECK_THROWS_AS(database.Prepare("SELECT 1; ; -- then\n SELECT 2"), std::logic_error);
    CHECK_NOTHROW(database.Prepare("SELECT 1; -- trailing comment\n ;"));
    CHECK_NOTHROW(database.Execute(""));

    Statement select = database.Prepare("SELECT x FROM t");
    CHECK_THROWS_AS(select.Int64(0), std::logic_error);  // no row yet
    REQUIRE(select.Step());
    CHECK_THROWS_AS(select.Int64(1), std::logic_error);
    CHECK_THROWS_AS(select.Text(-1), std::logic_error);
    CHECK_FALSE(select.Step());
    CHECK_THROWS_AS(select.IsNull(0), std::logic_error);  // past the last row

    CHECK_THROWS_AS(database.Prepare("SELECT x FROM t").Run(), std::logic_error);

    Statement moved_from = database.Prepare("SELECT 1");
    Statement taken = std::move(moved_from);
    CHECK_THROWS_AS(moved_from.Step(), std::logic_error);  // NOLINT(bugprone-use-after-move)
    CHECK(moved_from.Sql().empty());
    CHECK(taken.Step());

    // Binding while the statement runs is refused by SQLite itself.
    Statement running = database.Prepare("SELECT ?1 FROM t");
    REQUIRE(running.Step());
    try {
        running.Bind(1, 1);
        FAIL("rebound a running statement");
    } catch (const SqliteError& error) {
        CHECK(error.Code() == 21);  // SQLITE_MISUSE
    }
    running.Reset();
    CHECK_NOTHROW(running.Bind(1, 1));
}

TEST_CASE("sqlite: transactions commit, and roll back when abandoned", "[sqlite]") {
    TempDir dir;
    Database database = Database::Open(dir.File("tx.db"));
    database.Execute("CREATE TABLE t (x INTEGER)");

    {
        Transaction transaction(database);
        CHECK(database.InTransaction());
        database.Execute("INSERT INTO t VALUES (1)");
        transaction.Commit();
        CHECK_FALSE(database.InTransaction());
        CHECK_THROWS_AS(transaction.Commit(), std::logic_error);
    }
    CHECK(QueryInt(database, "SELECT count(*) FROM t") == 1);

    const auto failing_work = [&] {
        Transaction transaction(database, TransactionMode::deferred);
        database.Execute("INSERT INTO t VALUES (2)");
        throw std::runtime_error("half-way");
    };
    CHECK_THROWS_AS(failing_work(), std::runtime_error);
    CHECK_FALSE(database.InTransaction());
    CHECK(QueryInt(database, "SELECT count(*) FROM t") == 1);

    {
        Transaction transaction(database);
        database.Execute("INSERT INTO t VALUES (3)");
        // Transactions do not nest.
        CHECK_THROWS_AS(Transaction(database), std::logic_error);
        CHECK(database.InTransaction());
        // Nor does SQLite let BEGIN through by hand.
        CHECK_THROWS_AS(database.Execute("BEGIN"), SqliteError);
    }
    CHECK(QueryInt(database, "SELECT count(*) FROM t") == 1);

    // Ending the transaction behind the object's back does not make its destructor throw.
    {
        Transaction transaction(database);
        database.Execute("INSERT INTO t VALUES (4); COMMIT;");
    }
    CHECK(QueryInt(database, "SELECT count(*) FROM t") == 2);
}

TEST_CASE("sqlite: a second connection waits, then reports busy", "[sqlite]") {
    TempDir dir;
    const std::string path = dir.File("busy.db");
    Database holder = Database::Open(path);
    holder.Execute("CREATE TABLE t (x INTEGER)");

    OpenOptions impatient;
    impatient.busy_timeout_ms = 50;
    Database waiter = Database::Open(path, impatient);

    Transaction writing(holder, TransactionMode::immediate);
    holder.Execute("INSERT INTO t VALUES (1)");

    try {
        Transaction blocked(waiter, TransactionMode::immediate);
        FAIL("two writers at once");
    } catch (const SqliteError& error) {
        CHECK(error.IsBusy());
        CHECK(error.Code() == 5);  // SQLITE_BUSY
        CHECK_THAT(error.what(), Catch::Contains("database is locked") && Catch::Contains("BEGIN IMMEDIATE") &&
                                     Catch::Contains("busy.db"));
    }
    CHECK_FALSE(waiter.InTransaction());
    try {
        waiter.Execute("INSERT INTO t VALUES (2)");
        FAIL("two writers at once");
    } catch (const SqliteError& error) {
        CHECK(error.IsBusy());
        CHECK_THAT(error.what(), Catch::Contains("INSERT INTO t VALUES (2)"));
    }
    // WAL: the reader is not blocked, and sees the last committed state.
    CHECK(QueryInt(waiter, "SELECT count(*) FROM t") == 0);

    writing.Commit();
    CHECK(QueryInt(waiter, "SELECT count(*) FROM t") == 1);
    Transaction now_free(waiter);
    waiter.Execute("INSERT INTO t VALUES (2)");
    now_free.Commit();
}

TEST_CASE("sqlite: a COMMIT refused as busy leaves the transaction open", "[sqlite]") {
    // Rollback-journal mode: a reader's SHARED lock keeps a writer from committing.
    TempDir dir;
    const std::string path = dir.File("commit-busy.db");
    OpenOptions options;
    options.wal = false;
    options.busy_timeout_ms = 50;
    Database writer = Database::Open(path, options);
    writer.Execute("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);");
    Database reader = Database::Open(path, options);

    Transaction transaction(writer);
    writer.Execute("INSERT INTO t VALUES (2)");
    {
        Statement reading = reader.Prepare("SELECT x FROM t");
        REQUIRE(reading.Step());  // holds SHARED until reset
        try {
            transaction.Commit();
            FAIL("committed under a reader in rollback-journal mode");
        } catch (const SqliteError& error) {
            CHECK(error.IsBusy());
            CHECK_THAT(error.what(), Catch::Contains("COMMIT"));
        }
        CHECK(writer.InTransaction());
    }
    transaction.Commit();  // the reader is gone: the retry succeeds
    CHECK_FALSE(writer.InTransaction());
    CHECK(QueryInt(reader, "SELECT count(*) FROM t") == 2);
}

TEST_CASE("sqlite: migrations bring a new file to the last version", "[sqlite][migrations]") {
    TempDir dir;
    const std::string path = dir.File("m.db");
    {
        Database database = Database::Open(path);
        CHECK(ApplyMigrations(database, kMigrations, kAppId) == 0);
        CHECK(QueryInt(database, "PRAGMA user_version") == 3);
        CHECK(QueryInt(database, "PRAGMA application_id") == kAppId);
        CHECK(TableExists(database, "unit"));
        CHECK(TableExists(database, "task"));
        CHECK_NOTHROW(database.Prepare("SELECT colour FROM unit"));
        CHECK_FALSE(database.InTransaction());
    }
    // Re-opening is a no-op that reports the current version.
    Database database = Database::Open(path);
    database.Execute("INSERT INTO unit (name) VALUES ('kept')");
    CHECK(ApplyMigrations(database, kMigrations, kAppId) == 3);
    CHECK(ApplyMigrations(database, kMigrations, kAppId) == 3);
    CHECK(QueryInt(database, "SELECT count(*) FROM unit") == 1);
    CHECK(QueryInt(database, "PRAGMA user_version") == 3);
}

TEST_CASE("sqlite: migrations continue from an intermediate version", "[sqlite][migrations]") {
    TempDir dir;
    const std::string path = dir.File("m.db");
    {
        Database database = Database::Open(path);
        CHECK(ApplyMigrations(database, std::span(kMigrations).first(1), kAppId) == 0);
        CHECK(QueryInt(database, "PRAGMA user_version") == 1);
        CHECK_FALSE(TableExists(database, "task"));
        database.Execute("INSERT INTO unit (name) VALUES ('old')");
    }
    Database database = Database::Open(path);
    CHECK(ApplyMigrations(database, kMigrations, kAppId) == 1);
    CHECK(QueryInt(database, "PRAGMA user_version") == 3);
    CHECK(TableExists(database, "task"));
    CHECK(QueryText(database, "SELECT name FROM unit") == "old");
    CHECK(QueryInt(database, "PRAGMA application_id") == kAppId);
}

TEST_CASE("sqlite: migrations refuse a file from a newer Cascade", "[sqlite][migrations]") {
    TempDir dir;
    const std::string path = dir.File("new.db");
    {
        Database database = Database::Open(path);
        ApplyMigrations(database, kMigrations, kAppId);
        database.Execute("PRAGMA user_version = 7");
    }
    Database database = Database::Open(path);
    try {
        ApplyMigrations(database, kMigrations, kAppId);
        FAIL("migrated a file from the future");
    } catch (const SchemaTooNewError& error) {
        CHECK(std::string(error.what()) == "'" + path +
                                               "' was written by a newer Cascade (schema version 7); this build "
                                               "understands up to version 3");
    }
    CHECK(QueryInt(database, "PRAGMA user_version") == 7);
}

TEST_CASE("sqlite: migrations refuse another application's database", "[sqlite][migrations]") {
    TempDir dir;
    const std::string path = dir.File("foreign.db");
    {
        Database database = Database::Open(path);
        database.Execute("PRAGMA application_id = 251705874; CREATE TABLE theirs (x);  -- 0x0f00ba12");
    }
    Database database = Database::Open(path);
    try {
        ApplyMigrations(database, kMigrations, kAppId);
        FAIL("migrated a foreign database");
    } catch (const SqliteError& error) {
        CHECK(std::string(error.what()) == "'" + path + "' is not a Cascade database (application_id 0x0f00ba12)");
    }
    CHECK_FALSE(TableExists(database, "unit"));
    CHECK(QueryInt(database, "PRAGMA user_version") == 0);
}

TEST_CASE("sqlite: a file that is not SQLite is refused, naming it", "[sqlite][migrations]") {
    TempDir dir;
    for (const std::string& content : {std::string(4096, 'x'), std::string("hello, not a database\n")}) {
        const std::string path = dir.File("text-" + std::to_string(content.size()) + ".db");
        {
            std::ofstream out(path, std::ios::binary);
            out << content;
        }
        try {
            Database database = Database::Open(path);
            ApplyMigrations(database, kMigrations, kAppId);
            FAIL("accepted a text file as a database");
        } catch (const SqliteError& error) {
            CHECK(error.Code() == 26);  // SQLITE_NOTADB
            CHECK_THAT(error.what(), Catch::Contains(path) && Catch::Contains("file is not a database"));
        }
        std::ifstream in(path, std::ios::binary);
        const std::string after((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        CHECK(after == content);  // untouched
    }
}

TEST_CASE("sqlite: a failing migration rolls back entirely", "[sqlite][migrations]") {
    TempDir dir;
    const std::string path = dir.File("fail.db");
    const std::array<Migration, 3> broken = {{
        kMigrations[0],
        {2, "half good",
         "CREATE TABLE task (id INTEGER PRIMARY KEY); CREATE INDEX task_id ON task(id);\n"
         "INSERT INTO nowhere VALUES (1);"},
        {3, "never reached", "CREATE TABLE later (x);"},
    }};
    Database database = Database::Open(path);
    try {
        ApplyMigrations(database, broken, kAppId);
        FAIL("a broken migration went through");
    } catch (const SqliteError& error) {
        CHECK_THAT(error.what(), Catch::Contains("schema migration 2 (half good) failed") &&
                                     Catch::Contains("no such table: nowhere") &&
                                     Catch::Contains("INSERT INTO nowhere"));
    }
    CHECK_FALSE(database.InTransaction());
    CHECK(QueryInt(database, "PRAGMA user_version") == 1);  // migration 1 committed on its own
    CHECK(TableExists(database, "unit"));
    CHECK_FALSE(TableExists(database, "task"));
    CHECK_FALSE(TableExists(database, "later"));
    CHECK(QueryInt(database, "SELECT count(*) FROM sqlite_master WHERE name = 'task_id'") == 0);

    // A failure in migration 1 leaves a new file unstamped.
    Database fresh = Database::Open(dir.File("fresh.db"));
    const std::array<Migration, 1> bad_first = {{{1, "bad", "CREATE TABLE a (x); SELEKT;"}}};
    CHECK_THROWS_AS(ApplyMigrations(fresh, bad_first, kAppId), SqliteError);
    CHECK(QueryInt(fresh, "PRAGMA application_id") == 0);
    CHECK(QueryInt(fresh, "PRAGMA user_version") == 0);
    CHECK_FALSE(TableExists(fresh, "a"));
}

TEST_CASE("sqlite: migration lists must be numbered 1..N", "[sqlite][migrations]") {
    Database database = Database::Open(":memory:");
    const std::array<Migration, 2> gap = {{{1, "a", "CREATE TABLE a (x);"}, {3, "c", "CREATE TABLE c (x);"}}};
    const std::array<Migration, 1> late_start = {{{2, "b", "CREATE TABLE b (x);"}}};
    const std::array<Migration, 2> backwards = {{{2, "b", "CREATE TABLE b (x);"}, {1, "a", "CREATE TABLE a (x);"}}};
    CHECK_THROWS_AS(ApplyMigrations(database, gap, kAppId), std::logic_error);
    CHECK_THROWS_AS(ApplyMigrations(database, late_start, kAppId), std::logic_error);
    CHECK_THROWS_AS(ApplyMigrations(database, backwards, kAppId), std::logic_error);
    CHECK_FALSE(TableExists(database, "a"));

    // A migration may not end its own transaction.
    const std::array<Migration, 1> commits = {{{1, "commits", "CREATE TABLE a (x); COMMIT;"}}};
    CHECK_THROWS_AS(ApplyMigrations(database, commits, kAppId), std::logic_error);
    CHECK(QueryInt(database, "PRAGMA user_version") == 0);
}
