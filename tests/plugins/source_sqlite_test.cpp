// source-sqlite, loaded from the build tree through the host API, against
// real database files in a temporary folder: named parameters bound from
// `where`, every column type, extra `where` keys as filters; read-only in
// every way (statements that write, a second statement, ATTACH are refused
// and the file is left as it was); a writer's lock and a slow query (RETRY),
// a missing file (RETRY), SQL errors (ERROR with SQLite's message).
#include "../support/temp_dir.hpp"
#include "cascade/plugin/plugin.hpp"

#include <sqlite3.h>
#include <unistd.h>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using cascade::plugin::CallResult;
using cascade::plugin::Status;

fs::path Library() {
    return fs::path(CASCADE_PLUGIN_BUILD_DIR) / "source-sqlite.so";
}

using cascade::testing::TempDir;

// A connection of the test's own, as another program writing the database would hold.
class Writer {
public:
    explicit Writer(const fs::path& path) {
        sqlite3* raw = nullptr;
        const int code = sqlite3_open(path.c_str(), &raw);
        db_.reset(raw);
        REQUIRE(code == SQLITE_OK);
    }
    void Exec(const std::string& sql) {
        char* error = nullptr;
        const int code = sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, &error);
        const std::string message = error != nullptr ? error : "";
        sqlite3_free(error);
        INFO(sql << ": " << message);
        REQUIRE(code == SQLITE_OK);
    }

private:
    struct Close {
        void operator()(sqlite3* db) const { sqlite3_close(db); }
    };
    std::unique_ptr<sqlite3, Close> db_;
};

// Study hours as a learning platform's database keeps them.
fs::path MakeStudyDatabase(const TempDir& dir) {
    fs::path path = dir.Path() / "learning.db";
    Writer writer(path);
    writer.Exec(
        "CREATE TABLE study (unit TEXT, member TEXT, hours REAL, sessions INTEGER, note TEXT, badge BLOB);"
        "INSERT INTO study VALUES ('tw01', '张海燕', 3.5, 2, 'online', x'00ff10'),"
        "                         ('tw01', '任振华', 2, 1, NULL, NULL),"
        "                         ('tw01', '常跃进', 4, 3, NULL, NULL),"
        "                         ('tw02', '程永红', 2.5, 1, NULL, NULL);");
    return path;
}

std::string ReadBytes(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::variant<std::unique_ptr<cascade::plugin::Instance>, std::string> TryOpen(json::object config) {
    auto manifest = cascade::plugin::ReadManifest(Library());
    if (const auto* message = std::get_if<std::string>(&manifest))
        FAIL(*message);
    cascade::plugin::OpenOptions options;
    options.declaration = "learning";
    options.config = std::move(config);
    return cascade::plugin::Open(std::get<cascade::plugin::Manifest>(manifest), options);
}

std::unique_ptr<cascade::plugin::Instance> OpenSqlite(const fs::path& path, const std::string& query,
                                                      const std::string& timeout = "2s") {
    auto opened = TryOpen({{"path", path.string()}, {"query", query}, {"timeout", timeout}});
    if (const auto* message = std::get_if<std::string>(&opened))
        FAIL(*message);
    return std::get<std::unique_ptr<cascade::plugin::Instance>>(std::move(opened));
}

json::array Records(const CallResult& result) {
    INFO(result.message);
    REQUIRE(result.status == Status::ok);
    return result.value.at("records").as_array();
}

json::object Where(json::object where) {
    return json::object{{"where", std::move(where)}};
}

}  // namespace

TEST_CASE("source-sqlite describes itself and its config", "[plugins][source-sqlite]") {
    auto manifest = cascade::plugin::ReadManifest(Library());
    REQUIRE(std::holds_alternative<cascade::plugin::Manifest>(manifest));
    const auto& read = std::get<cascade::plugin::Manifest>(manifest);
    CHECK(read.name == "source-sqlite");
    CHECK(read.HasKind("source"));
    const auto& schema = read.config_schema.as_object();
    CHECK(schema.at("additionalProperties") == false);
    for (const auto& [name, property] : schema.at("properties").as_object()) {
        INFO(name);
        CHECK(property.as_object().contains("description"));
    }
}

TEST_CASE("source-sqlite binds named parameters from where", "[plugins][source-sqlite]") {
    TempDir dir;
    const fs::path db = MakeStudyDatabase(dir);

    SECTION("rows as records, each column type as its JSON counterpart") {
        auto sqlite = OpenSqlite(db, "SELECT * FROM study WHERE unit = :unit ORDER BY rowid");
        const auto records = Records(sqlite->Call("read", Where({{"unit", "tw01"}})));
        REQUIRE(records.size() == 3);
        const auto& first = records[0].as_object();
        CHECK(first.at("unit") == "tw01");
        CHECK(first.at("member") == "张海燕");
        CHECK(first.at("hours").as_double() == 3.5);
        CHECK(first.at("sessions").as_int64() == 2);
        CHECK(first.at("note") == "online");
        CHECK(first.at("badge") == "AP8Q");  // BLOBs as base64
        CHECK(records[1].at("note").is_null());
        CHECK(Records(sqlite->Call("read", Where({{"unit", "tw09"}}))).empty());
    }
    SECTION("an aggregate query, with @ and $ parameters and numbers bound as numbers") {
        auto sqlite = OpenSqlite(db,
                                 "SELECT unit, SUM(hours) AS hours, COUNT(*) AS members FROM study "
                                 "WHERE unit = @unit AND sessions >= $sessions GROUP BY unit");
        const auto records = Records(sqlite->Call("read", Where({{"unit", "tw01"}, {"sessions", 2}})));
        REQUIRE(records.size() == 1);
        CHECK(records[0].at("hours").as_double() == 7.5);
        CHECK(records[0].at("members").as_int64() == 2);
    }
    SECTION("where keys the query does not bind filter by column; others are ignored") {
        auto sqlite = OpenSqlite(db, "SELECT unit, member, hours FROM study WHERE unit = :unit");
        auto records = Records(sqlite->Call("read", Where({{"unit", "tw01"}, {"member", "任振华"}, {"step", "x"}})));
        REQUIRE(records.size() == 1);
        CHECK(records[0].at("hours").as_double() == 2.0);
        records = Records(sqlite->Call("read", Where({{"unit", "tw01"}, {"hours", 4}})));
        REQUIRE(records.size() == 1);
        CHECK(records[0].at("member") == "常跃进");
    }
    SECTION("limit") {
        auto sqlite = OpenSqlite(db, "SELECT * FROM study");
        CHECK(Records(sqlite->Call("read", json::object{{"limit", 2}})).size() == 2);
        CHECK(Records(sqlite->Call("read", json::object{})).size() == 4);
    }
    SECTION("self_test opens the file and prepares the query") {
        auto sqlite = OpenSqlite(db, "SELECT * FROM study WHERE unit = :unit");
        const auto result = sqlite->Call("self_test", json::object{});
        REQUIRE(result.Ok());
        const auto& checks = result.value.at("checks").as_array();
        REQUIRE(checks.size() == 2);
        CHECK(checks[0].at("ok") == true);
        CHECK(checks[1].at("ok") == true);
    }
}

TEST_CASE("source-sqlite refuses parameters it cannot bind", "[plugins][source-sqlite]") {
    TempDir dir;
    const fs::path db = MakeStudyDatabase(dir);

    SECTION("a parameter with no value in where, named in the message") {
        auto sqlite = OpenSqlite(db, "SELECT * FROM study WHERE unit = :unit AND sessions > :least");
        const auto result = sqlite->Call("read", Where({{"unit", "tw01"}}));
        CHECK(result.status == Status::error);
        CHECK(result.message.find(":least") != std::string::npos);
    }
    SECTION("a nameless parameter") {
        auto sqlite = OpenSqlite(db, "SELECT * FROM study WHERE unit = ?");
        const auto result = sqlite->Call("read", Where({{"unit", "tw01"}}));
        CHECK(result.status == Status::error);
        CHECK(result.message.find("nameless") != std::string::npos);
    }
    SECTION("a value that is not a scalar") {
        auto sqlite = OpenSqlite(db, "SELECT * FROM study WHERE unit = :unit");
        const auto result = sqlite->Call("read", Where({{"unit", json::array{"tw01"}}}));
        CHECK(result.status == Status::error);
        CHECK(result.message.find("params.where.unit") != std::string::npos);
    }
    SECTION("malformed params") {
        auto sqlite = OpenSqlite(db, "SELECT * FROM study");
        CHECK(sqlite->Call("read", json::object{{"where", 1}}).status == Status::error);
        CHECK(sqlite->Call("read", json::object{{"limit", -3}}).status == Status::error);
    }
}

TEST_CASE("source-sqlite never writes", "[plugins][source-sqlite]") {
    TempDir dir;
    const fs::path db = MakeStudyDatabase(dir);
    const std::string before = ReadBytes(db);

    const std::vector<std::string> refused = {
        "DELETE FROM study",
        "UPDATE study SET hours = 99",
        "INSERT INTO study (unit) VALUES ('tw09') RETURNING unit",
        "DROP TABLE study",
        "CREATE TABLE more (x)",
        "PRAGMA journal_mode=WAL",
        "ATTACH DATABASE '" + (dir.Path() / "other.db").string() + "' AS other",
        "BEGIN IMMEDIATE",
        "SELECT * FROM study; DELETE FROM study",
        "SELECT 1; SELECT 2",
        "-- nothing but a comment",
    };
    for (const auto& query : refused) {
        auto sqlite = OpenSqlite(db, query);
        const auto result = sqlite->Call("read", json::object{});
        INFO(query << " -> " << result.message);
        CHECK(result.status == Status::error);
        CHECK(result.message.find("config.query") != std::string::npos);
    }
    CHECK(ReadBytes(db) == before);
    CHECK_FALSE(fs::exists(dir.Path() / "other.db"));

    // A trailing semicolon or comment is not a second statement.
    auto sqlite = OpenSqlite(db, "SELECT COUNT(*) AS n FROM study; -- all of them\n");
    const auto records = Records(sqlite->Call("read", json::object{}));
    CHECK(records.at(0).at("n").as_int64() == 4);
    CHECK(ReadBytes(db) == before);
}

TEST_CASE("source-sqlite retries while a writer holds the lock", "[plugins][source-sqlite]") {
    TempDir dir;
    const fs::path db = MakeStudyDatabase(dir);
    auto sqlite = OpenSqlite(db, "SELECT * FROM study WHERE unit = :unit", "50ms");

    Writer writer(db);
    writer.Exec("BEGIN EXCLUSIVE");  // rollback journal: no reader gets in
    const auto locked = sqlite->Call("read", Where({{"unit", "tw01"}}));
    CHECK(locked.status == Status::retry);
    CHECK(locked.message.find("locked") != std::string::npos);
    writer.Exec("UPDATE study SET hours = 5 WHERE member = '任振华'; COMMIT");

    const auto records = Records(sqlite->Call("read", Where({{"unit", "tw01"}})));
    CHECK(records.at(1).at("hours").as_double() == 5.0);
}

TEST_CASE("source-sqlite retries a query that runs past its timeout", "[plugins][source-sqlite]") {
    TempDir dir;
    const fs::path db = MakeStudyDatabase(dir);
    auto sqlite = OpenSqlite(
        db, "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT COUNT(*) AS c FROM n", "100ms");
    const auto result = sqlite->Call("read", json::object{});
    CHECK(result.status == Status::retry);
    CHECK(result.message.find("timeout") != std::string::npos);
}

TEST_CASE("source-sqlite retries until the database file exists", "[plugins][source-sqlite]") {
    TempDir dir;
    const fs::path db = dir.Path() / "learning.db";
    auto sqlite = OpenSqlite(db, "SELECT * FROM study WHERE unit = :unit");
    const auto missing = sqlite->Call("read", Where({{"unit", "tw01"}}));
    CHECK(missing.status == Status::retry);
    CHECK(missing.message.find(db.string()) != std::string::npos);
    CHECK_FALSE(fs::exists(db));  // opened read-only: never created

    const auto check = sqlite->Call("self_test", json::object{});
    REQUIRE(check.Ok());
    CHECK(check.value.at("checks").as_array().at(0).at("ok") == false);

    MakeStudyDatabase(dir);
    CHECK(Records(sqlite->Call("read", Where({{"unit", "tw01"}}))).size() == 3);
}

TEST_CASE("source-sqlite reports SQL errors with SQLite's message", "[plugins][source-sqlite]") {
    TempDir dir;
    const fs::path db = MakeStudyDatabase(dir);

    SECTION("no such table") {
        auto sqlite = OpenSqlite(db, "SELECT * FROM lessons");
        const auto result = sqlite->Call("read", json::object{});
        CHECK(result.status == Status::error);
        CHECK(result.message.find("no such table: lessons") != std::string::npos);
    }
    SECTION("a syntax error") {
        auto sqlite = OpenSqlite(db, "SELEC * FROM study");
        const auto result = sqlite->Call("read", json::object{});
        CHECK(result.status == Status::error);
        CHECK(result.message.find("syntax error") != std::string::npos);
    }
    SECTION("two columns of one name") {
        auto sqlite = OpenSqlite(db, "SELECT unit, member AS unit FROM study");
        const auto result = sqlite->Call("read", json::object{});
        CHECK(result.status == Status::error);
        CHECK(result.message.find("'unit'") != std::string::npos);
    }
    SECTION("a file that is not a database") {
        const fs::path text = dir.Path() / "notes.txt";
        std::ofstream(text) << "these are not the pages you are looking for\n";
        auto sqlite = OpenSqlite(text, "SELECT name FROM sqlite_master");
        const auto result = sqlite->Call("read", json::object{});
        CHECK(result.status == Status::error);
        CHECK(result.message.find("not a database") != std::string::npos);
    }
    SECTION("a folder") {
        auto sqlite = OpenSqlite(dir.Path(), "SELECT 1");
        CHECK(sqlite->Call("read", json::object{}).status == Status::error);
    }
    SECTION("self_test names a bad query") {
        auto sqlite = OpenSqlite(db, "DELETE FROM study");
        const auto result = sqlite->Call("self_test", json::object{});
        REQUIRE(result.Ok());
        CHECK(result.value.at("checks").as_array().at(1).at("ok") == false);
    }
}

TEST_CASE("source-sqlite configs the schema refuses", "[plugins][source-sqlite]") {
    const std::vector<json::object> refused = {
        json::object{{"path", "/tmp/x.db"}},
        json::object{{"query", "SELECT 1"}},
        json::object{{"path", "/tmp/x.db"}, {"query", "SELECT 1"}, {"timeout", "soon"}},
        json::object{{"path", "/tmp/x.db"}, {"query", "SELECT 1"}, {"mode", "rw"}},
    };
    for (const auto& config : refused) {
        INFO(json::serialize(config));
        CHECK(std::holds_alternative<std::string>(TryOpen(config)));
    }
}
