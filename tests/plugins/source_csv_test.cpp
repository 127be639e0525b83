// source-csv, loaded from the build tree through the host API: study hours
// exported by a learning platform (UTF-8 with a byte order mark, CRLF), RFC
// 4180 quoting, numbers as JSON numbers, `where` and `limit`, the key index,
// an export that arrives or changes after the first read, and every refusal:
// a missing file (RETRY), a malformed one (ERROR naming line:column), bad
// params and configs.
#include "../support/temp_dir.hpp"
#include "cascade/plugin/plugin.hpp"

#include <unistd.h>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using cascade::plugin::CallResult;
using cascade::plugin::Status;

fs::path Library() {
    return fs::path(CASCADE_PLUGIN_BUILD_DIR) / "source-csv.so";
}
fs::path Data() {
    return fs::path(CASCADE_SOURCE_DIR) / "tests/data/plugins";
}

using cascade::testing::TempDir;

void WriteFile(const fs::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    REQUIRE(out.good());
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

std::unique_ptr<cascade::plugin::Instance> OpenCsv(json::object config) {
    auto opened = TryOpen(std::move(config));
    if (const auto* message = std::get_if<std::string>(&opened))
        FAIL(*message);
    return std::get<std::unique_ptr<cascade::plugin::Instance>>(std::move(opened));
}

// The records of a successful read.
json::array Records(const CallResult& result) {
    INFO(result.message);
    REQUIRE(result.status == Status::ok);
    REQUIRE(result.value.is_object());
    return result.value.at("records").as_array();
}

json::object Where(json::object where, std::optional<std::int64_t> limit = std::nullopt) {
    json::object params{{"where", std::move(where)}};
    if (limit)
        params["limit"] = *limit;
    return params;
}

}  // namespace

TEST_CASE("source-csv describes itself and its config", "[plugins][source-csv]") {
    auto manifest = cascade::plugin::ReadManifest(Library());
    REQUIRE(std::holds_alternative<cascade::plugin::Manifest>(manifest));
    const auto& read = std::get<cascade::plugin::Manifest>(manifest);
    CHECK(read.name == "source-csv");
    CHECK(read.HasKind("source"));
    const auto& schema = read.config_schema.as_object();
    CHECK(schema.at("additionalProperties") == false);
    for (const auto& [name, property] : schema.at("properties").as_object()) {
        INFO(name);
        CHECK(property.as_object().contains("description"));
    }
}

TEST_CASE("source-csv reads study hours exported by a learning platform", "[plugins][source-csv]") {
    // UTF-8 with a byte order mark and CRLF line ends, as spreadsheet exports come.
    const std::string path = (Data() / "source-study-hours.csv").string();
    auto csv = OpenCsv({{"path", path}, {"key", "unit"}});

    SECTION("one unit's rows, numbers as numbers, the header's first name free of the BOM") {
        const auto records = Records(csv->Call("read", Where({{"unit", "tw01"}})));
        REQUIRE(records.size() == 3);
        const auto& first = records[0].as_object();
        CHECK(first.at("unit") == "tw01");
        CHECK(first.at("member") == "张海燕");
        CHECK(first.at("hours").is_double());
        CHECK(first.at("hours").as_double() == 3.5);
        CHECK(records[1].at("hours").is_int64());
        CHECK(records[1].at("hours").as_int64() == 2);
        CHECK(records[2].at("member") == "常跃进");
    }
    SECTION("every `where` key that names a column must match; numbers compare as text") {
        auto records = Records(csv->Call("read", Where({{"unit", "tw01"}, {"hours", 2}})));
        REQUIRE(records.size() == 1);
        CHECK(records[0].at("member") == "任振华");
        records = Records(csv->Call("read", Where({{"unit", "tw01"}, {"hours", 3.5}})));
        REQUIRE(records.size() == 1);
        CHECK(records[0].at("member") == "张海燕");
        records = Records(csv->Call("read", Where({{"member", "王辉"}})));  // not the key column: a scan
        REQUIRE(records.size() == 1);
        CHECK(records[0].at("unit") == "dp01");
    }
    SECTION("keys that name no column are left to other sources") {
        const auto records = Records(csv->Call("read", Where({{"unit", "dp01"}, {"step", "study_hours"}})));
        CHECK(records.size() == 2);
    }
    SECTION("a unit without rows yet has no records") {
        CHECK(Records(csv->Call("read", Where({{"unit", "tw03"}}))).empty());
    }
    SECTION("no where: every row; limit: the first n") {
        CHECK(Records(csv->Call("read", json::object{})).size() == 7);
        CHECK(Records(csv->Call("read", Where({}, 2))).size() == 2);
        CHECK(Records(csv->Call("read", Where({{"unit", "tw01"}}, 1))).size() == 1);
        CHECK(Records(csv->Call("read", Where({{"unit", "tw01"}}, 0))).empty());
    }
    SECTION("self_test reports the file it reads") {
        const auto result = csv->Call("self_test", json::object{});
        REQUIRE(result.Ok());
        const auto& check = result.value.at("checks").as_array().at(0);
        CHECK(check.at("ok") == true);
        CHECK(std::string(check.at("detail").as_string()).find("7 rows") != std::string::npos);
    }
}

TEST_CASE("source-csv follows RFC 4180 quoting", "[plugins][source-csv]") {
    auto csv = OpenCsv({{"path", (Data() / "source-quoted.csv").string()}});
    const auto records = Records(csv->Call("read", json::object{}));
    REQUIRE(records.size() == 3);
    // Delimiters, doubled quotes and line breaks inside quotes.
    CHECK(records[0].at("title") == "Study, session 1");
    CHECK(records[0].at("note") == "He said \"done\"");
    CHECK(records[1].at("title") == "Two\nlines");
    CHECK(records[1].at("note") == "");
    CHECK(records[2].at("title") == "");
    // JSON's number grammar decides: codes with leading zeros and "+5" stay text.
    CHECK(records[0].at("code") == "007");
    CHECK(records[0].at("score").as_double() == -1500.0);
    CHECK(records[1].at("code").as_int64() == 0);
    CHECK(records[2].at("code").as_double() == 100.0);
    CHECK(records[2].at("score") == "+5");
}

TEST_CASE("source-csv reads other delimiters", "[plugins][source-csv]") {
    auto csv = OpenCsv({{"path", (Data() / "source-semicolon.csv").string()}, {"delimiter", ";"}});
    const auto records = Records(csv->Call("read", Where({{"unit", "tw01"}})));
    REQUIRE(records.size() == 1);
    CHECK(records[0].at("hours") == "3,5");  // a decimal comma is not a JSON number
    CHECK(Records(csv->Call("read", Where({{"unit", "tw02"}})))[0].at("hours").as_int64() == 4);  // no final newline
}

TEST_CASE("source-csv retries until the export arrives and rereads it when it changes", "[plugins][source-csv]") {
    TempDir dir;
    const fs::path path = dir.Path() / "hours.csv";
    auto csv = OpenCsv({{"path", path.string()}, {"key", "unit"}});

    const auto missing = csv->Call("read", Where({{"unit", "tw01"}}));
    CHECK(missing.status == Status::retry);
    CHECK(missing.message.find(path.string()) != std::string::npos);
    const auto check = csv->Call("self_test", json::object{});
    REQUIRE(check.Ok());
    CHECK(check.value.at("checks").as_array().at(0).at("ok") == false);

    WriteFile(path, "unit,member,hours\ntw01,张海燕,3.5\n");
    CHECK(Records(csv->Call("read", Where({{"unit", "tw01"}}))).size() == 1);

    // A new export with more rows (and another size) replaces the old one.
    WriteFile(path, "unit,member,hours\ntw01,张海燕,3.5\ntw01,任振华,4\ntw02,程永红,1\n");
    CHECK(Records(csv->Call("read", Where({{"unit", "tw01"}}))).size() == 2);
    CHECK(Records(csv->Call("read", Where({{"unit", "tw02"}}))).size() == 1);

    // The export taken away again: RETRY, not stale rows.
    fs::remove(path);
    CHECK(csv->Call("read", Where({{"unit", "tw01"}})).status == Status::retry);
}

TEST_CASE("source-csv names the line and column of a malformed file", "[plugins][source-csv]") {
    SECTION("the sample: text after a closing quote, columns counted in characters") {
        const std::string path = (Data() / "source-malformed.csv").string();
        auto csv = OpenCsv({{"path", path}});
        const auto result = csv->Call("read", json::object{});
        CHECK(result.status == Status::error);
        CHECK(result.message == path + ":3:11: unexpected text after a closing quote");
    }

    SECTION("each kind of damage") {
        struct Case {
            std::string text;
            std::string at;
            std::string says;
        };
        const std::vector<Case> cases = {
            {"unit,hours\ntw01,\"3.5\n", ":2:6:", "never closed"},
            {"unit,hours\ntw01,3\"5\n", ":2:7:", "quote inside an unquoted field"},
            {"unit,hours\ntw01,3,extra\n", ":2:8:", "has 3 fields, the header has 2"},
            {"unit,hours\r\ntw01\r\n", ":2:5:", "has 1 field, the header has 2"},
            {"unit,hours\ntw01,\xff\n", ":2:6:", "not valid UTF-8"},
            {"unit,hours,unit\n", ":1:12:", "names column 'unit' twice"},
            {"unit,,hours\n", ":1:6:", "column 2 of the header has no name"},
            {"", ":1:1:", "no header row"},
        };
        TempDir dir;
        int number = 0;
        for (const auto& one : cases) {
            const fs::path path = dir.Path() / ("bad-" + std::to_string(number++) + ".csv");
            WriteFile(path, one.text);
            auto csv = OpenCsv({{"path", path.string()}});
            const auto result = csv->Call("read", json::object{});
            INFO(one.text << " -> " << result.message);
            CHECK(result.status == Status::error);
            CHECK(result.message.find(path.string() + one.at) == 0);
            CHECK(result.message.find(one.says) != std::string::npos);
        }
    }
    SECTION("a fixed file reads again") {
        TempDir dir;
        const fs::path path = dir.Path() / "fixed.csv";
        WriteFile(path, "unit,hours\ntw01,\"3.5\n");
        auto csv = OpenCsv({{"path", path.string()}});
        CHECK(csv->Call("read", json::object{}).status == Status::error);
        WriteFile(path, "unit,hours\ntw01,\"3.5\"\n");
        CHECK(Records(csv->Call("read", json::object{}))[0].at("hours").as_double() == 3.5);
    }
}

TEST_CASE("source-csv refuses what it cannot use", "[plugins][source-csv]") {
    const std::string sample = (Data() / "source-study-hours.csv").string();

    SECTION("a folder instead of a file") {
        TempDir dir;
        auto csv = OpenCsv({{"path", dir.Path().string()}});
        const auto result = csv->Call("read", json::object{});
        CHECK(result.status == Status::error);
        CHECK(result.message.find("folder") != std::string::npos);
    }
    SECTION("a key column the file does not have") {
        auto csv = OpenCsv({{"path", sample}, {"key", "unit_id"}});
        const auto result = csv->Call("read", Where({{"unit", "tw01"}}));
        CHECK(result.status == Status::error);
        CHECK(result.message.find("'unit_id'") != std::string::npos);
        CHECK(result.message.find("unit, member, hours") != std::string::npos);
    }
    SECTION("malformed params") {
        auto csv = OpenCsv({{"path", sample}});
        auto result = csv->Call("read", json::object{{"where", "tw01"}});
        CHECK(result.status == Status::error);
        CHECK(result.message.find("params.where") != std::string::npos);
        result = csv->Call("read", json::object{{"limit", -1}});
        CHECK(result.status == Status::error);
        CHECK(result.message.find("params.limit") != std::string::npos);
        result = csv->Call("read", json::object{{"limit", "ten"}});
        CHECK(result.status == Status::error);
        result = csv->Call("read", Where({{"unit", json::array{"tw01", "tw02"}}}));
        CHECK(result.status == Status::error);
        CHECK(result.message.find("params.where.unit") != std::string::npos);
    }
    SECTION("a method it does not offer") {
        auto csv = OpenCsv({{"path", sample}});
        CHECK(csv->Call("notify", json::object{}).status == Status::error);
    }
    SECTION("configs the schema refuses") {
        const std::vector<json::object> refused = {
            json::object{},
            json::object{{"path", ""}},
            json::object{{"path", sample}, {"delimiter", ";;"}},
            json::object{{"path", sample}, {"separator", ";"}},
            json::object{{"path", 42}},
        };
        for (const auto& config : refused) {
            INFO(json::serialize(config));
            CHECK(std::holds_alternative<std::string>(TryOpen(config)));
        }
    }
    SECTION("a delimiter that would break quoting") {
        const auto opened = TryOpen({{"path", sample}, {"delimiter", "\""}});
        REQUIRE(std::holds_alternative<std::string>(opened));
        CHECK(std::get<std::string>(opened).find("delimiter") != std::string::npos);
    }
}
