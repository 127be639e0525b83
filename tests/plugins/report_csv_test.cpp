// report-csv through the host API: the long-format file is parsed back with an
// RFC 4180 reader and compared with the params; quoting, the byte order mark,
// formula neutralisation, the locale, and the error paths.
#include "report_test_support.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

namespace {

using namespace cascade::test::report;
using cascade::plugin::Status;

using Row = std::vector<std::string>;

// RFC 4180: fields separated by commas, records by CRLF, quoted fields may
// hold commas, CRLF and doubled quotes. Fails the test on a malformed file.
std::vector<Row> ParseCsv(const std::string& text) {
    std::vector<Row> rows;
    Row row;
    std::string field;
    std::string problem;
    bool quoted = false;
    bool was_quoted = false;
    for (std::size_t i = 0; i < text.size() && problem.empty(); ++i) {
        const char c = text[i];
        if (quoted) {
            if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
                field += '"';
                ++i;
            } else if (c == '"') {
                quoted = false;
            } else {
                field += c;
            }
        } else if (c == '"') {
            if (!field.empty())
                problem = "a quote inside an unquoted field at byte " + std::to_string(i);
            quoted = was_quoted = true;
        } else if (c == ',') {
            row.push_back(std::move(field));
            field.clear();
            was_quoted = false;
        } else if (c == '\r') {
            if (i + 1 >= text.size() || text[i + 1] != '\n')
                problem = "a CR without LF at byte " + std::to_string(i);
            row.push_back(std::move(field));
            field.clear();
            rows.push_back(std::move(row));
            row.clear();
            was_quoted = false;
            ++i;
        } else if (c == '\n') {
            problem = "a bare LF outside quotes at byte " + std::to_string(i);
        } else if (was_quoted) {
            problem = "text after a closing quote at byte " + std::to_string(i);
        } else {
            field += c;
        }
    }
    if (problem.empty() && quoted)
        problem = "an unterminated quoted field";
    if (problem.empty() && (!field.empty() || !row.empty()))
        problem = "the last record does not end in CRLF";
    INFO(problem);
    REQUIRE(problem.empty());
    return rows;
}

constexpr std::string_view kBom = "\xEF\xBB\xBF";

std::vector<Row> ReadCsv(const fs::path& file) {
    const std::string text = ReadText(file);
    REQUIRE(std::string_view(text).substr(0, kBom.size()) == kBom);
    return ParseCsv(text.substr(kBom.size()));
}

TEST_CASE("report-csv writes one long-format row per unit and stage", "[plugins][report]") {
    ScratchDir scratch;
    auto reporter = OpenReporter("report-csv");
    const json::object params = SampleParams(scratch.Path());
    const fs::path file = ReportFile(*reporter, params);
    CHECK(file == scratch.Path() / "report.csv");
    CHECK(FileNames(scratch.Path()) == std::vector<std::string>{"report.csv"});

    const std::vector<Row> rows = ReadCsv(file);
    REQUIRE(!rows.empty());
    CHECK(rows[0] == Row{"单位编码", "单位名称", "单位类别", "阶段", "应办事项", "已完成", "逾期", "完成率 (%)"});

    // Every (unit, stage) with applicable steps, in unit order and workflow stage order.
    const std::map<std::string, std::string> stage_titles = {
        {"study", "理论学习"}, {"research", "调查研究"}, {"development", "推动发展"},
        {"review", "检视"},    {"rectify", "整改"},      {"institutionalize", "建章立制"}};
    std::vector<Row> expected;
    std::int64_t applicable = 0;
    for (const auto& unit_value : params.at("units").as_array()) {
        const json::object& unit = unit_value.as_object();
        for (const char* stage : {"study", "research", "development", "review", "rectify", "institutionalize"}) {
            const auto* counts = unit.at("stages").as_object().if_contains(stage);
            if (counts == nullptr || counts->at("applicable").as_int64() == 0)
                continue;
            applicable += counts->at("applicable").as_int64();
            expected.push_back({std::string(unit.at("id").as_string()), std::string(unit.at("name").as_string()), "",
                                stage_titles.at(stage), std::to_string(counts->at("applicable").as_int64()),
                                std::to_string(counts->at("done").as_int64()),
                                std::to_string(counts->at("overdue").as_int64()), ""});
        }
    }
    REQUIRE(rows.size() == expected.size() + 1);
    std::int64_t sum = 0;
    for (std::size_t i = 0; i < expected.size(); ++i) {
        const Row& row = rows[i + 1];
        REQUIRE(row.size() == 8);
        INFO(row[0] << " " << row[3]);
        CHECK(row[0] == expected[i][0]);
        CHECK(row[1] == expected[i][1]);
        CHECK(row[3] == expected[i][3]);
        CHECK(row[4] == expected[i][4]);
        CHECK(row[5] == expected[i][5]);
        CHECK(row[6] == expected[i][6]);
        CHECK(std::stod(row[7]) == Approx(100.0 * std::stod(row[5]) / std::stod(row[4])).epsilon(0.002));
        sum += std::stoll(row[4]);
    }
    CHECK(sum == applicable);
    CHECK(sum == params.at("totals").at("steps_applicable").as_int64());
    // Category titles come from the params' categories.
    CHECK(rows[1][2] == "县处级以上领导班子");
    const auto branch = std::find_if(rows.begin(), rows.end(), [](const Row& r) { return r[0] == "tw01-b01"; });
    REQUIRE(branch != rows.end());
    CHECK((*branch)[2] == "党支部");
}

TEST_CASE("report-csv quotes and neutralises what units are called", "[plugins][report]") {
    ScratchDir scratch;
    json::object params = SampleParams(scratch.Path());
    json::array& units = params["units"].as_array();
    units[0].as_object()["name"] = "城关镇, \"东街\"\r\n社区";
    units[1].as_object()["name"] = "=HYPERLINK(\"http://example.com\")";
    units[2].as_object()["name"] = "-1+1";
    auto reporter = OpenReporter("report-csv");
    const std::vector<Row> rows = ReadCsv(ReportFile(*reporter, params));
    auto name_of = [&](const std::string& id) {
        for (const Row& row : rows) {
            if (row[0] == id)
                return row[1];
        }
        FAIL("no row for " << id);
        return std::string();
    };
    CHECK(name_of("ld01") == "城关镇, \"东街\"\r\n社区");
    CHECK(name_of("ld02") == "'=HYPERLINK(\"http://example.com\")");
    CHECK(name_of("ld03") == "'-1+1");
}

TEST_CASE("report-csv takes the locale and file name from its config", "[plugins][report]") {
    ScratchDir scratch;
    auto reporter = OpenReporter("report-csv", {{"locale", "en"}, {"file_name", "progress-2024-01-10.csv"}});
    const fs::path file = ReportFile(*reporter, SampleParams(scratch.Path()));
    CHECK(file.filename() == "progress-2024-01-10.csv");
    const std::vector<Row> rows = ReadCsv(file);
    CHECK(rows[0] ==
          Row{"Unit ID", "Unit name", "Category", "Stage", "Applicable steps", "Done", "Overdue", "% done (%)"});
    CHECK(rows[1][2] == "County-level leadership team");
    CHECK(rows[1][3] == "Study");
}

TEST_CASE("report-csv writes only the header when there are no units", "[plugins][report]") {
    ScratchDir scratch;
    json::object params = SampleParams(scratch.Path());
    params["units"] = json::array{};
    auto reporter = OpenReporter("report-csv");
    CHECK(ReadCsv(ReportFile(*reporter, params)).size() == 1);
}

TEST_CASE("report-csv refuses bad params and unwritable folders", "[plugins][report]") {
    ScratchDir scratch;
    auto reporter = OpenReporter("report-csv");
    SECTION("missing units") {
        json::object params = SampleParams(scratch.Path());
        params.erase("units");
        const auto result = reporter->Call("report", params);
        CHECK(result.status == Status::error);
        CHECK(result.message.find("params.units") != std::string::npos);
    }
    SECTION("a unit without an id") {
        json::object params = SampleParams(scratch.Path());
        params["units"].as_array()[3].as_object().erase("id");
        const auto result = reporter->Call("report", params);
        CHECK(result.status == Status::error);
        CHECK(result.message == "params.units[3].id is missing");
    }
    SECTION("the same unit twice") {
        json::object params = SampleParams(scratch.Path());
        params["units"].as_array().push_back(params["units"].as_array()[0]);
        const auto result = reporter->Call("report", params);
        CHECK(result.status == Status::error);
        CHECK(result.message.find("'ld01' appears twice") != std::string::npos);
    }
    SECTION("a negative count") {
        json::object params = SampleParams(scratch.Path());
        params["units"].as_array()[0].as_object()["problems_open"] = -1;
        const auto result = reporter->Call("report", params);
        CHECK(result.status == Status::error);
        CHECK(result.message.find("params.units[0].problems_open") != std::string::npos);
    }
    SECTION("an unwritable output folder") {
        const fs::path dir = UnwritableDir(scratch.Path());
        const auto result = reporter->Call("report", SampleParams(dir));
        CHECK(result.status == Status::error);
        CHECK(result.message.find(dir.string()) != std::string::npos);
    }
    SECTION("a read-only output folder") {
        if (::geteuid() == 0) {
            SUCCEED("root writes into read-only folders; the folder-under-a-file case covers this path");
            return;
        }
        const fs::path dir = scratch.Path() / "read-only";
        fs::create_directories(dir);
        fs::permissions(dir, fs::perms::owner_read | fs::perms::owner_exec);
        const auto result = reporter->Call("report", SampleParams(dir));
        fs::permissions(dir, fs::perms::owner_all);
        CHECK(result.status == Status::error);
        CHECK(result.message.find(dir.string()) != std::string::npos);
    }
    SECTION("a folder that is a file") {
        const fs::path file = scratch.Path() / "a-file";
        WriteText(file, "x");
        const auto result = reporter->Call("report", SampleParams(file));
        CHECK(result.status == Status::error);
        CHECK(result.message.find(file.string()) != std::string::npos);
    }
}

}  // namespace
