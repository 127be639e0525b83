// report-markdown through the host API: the briefing's tables are parsed
// back and compared with the params; Markdown escaping of user text, the
// empty state, template overrides and the error paths.
#include "report_test_support.hpp"

#include <map>
#include <string>
#include <vector>

namespace {

using namespace cascade::test::report;
using cascade::plugin::Status;

std::vector<std::string> Lines(const std::string& text) {
    std::vector<std::string> lines;
    std::stringstream stream(text);
    for (std::string line; std::getline(stream, line);)
        lines.push_back(line);
    return lines;
}

// The cells of a Markdown table row "| a | b |" (escaped pipes stay in their cell).
std::vector<std::string> Cells(const std::string& line) {
    std::vector<std::string> cells;
    std::string cell;
    for (std::size_t i = 1; i < line.size(); ++i) {
        if (line[i] == '\\' && i + 1 < line.size()) {
            cell += line[i + 1];
            ++i;
        } else if (line[i] == '|') {
            const auto first = cell.find_first_not_of(' ');
            const auto last = cell.find_last_not_of(' ');
            cells.push_back(first == std::string::npos ? "" : cell.substr(first, last - first + 1));
            cell.clear();
        } else {
            cell += line[i];
        }
    }
    return cells;
}

// The table rows under the heading `heading` (header and delimiter rows skipped).
std::vector<std::vector<std::string>> Table(const std::string& text, const std::string& heading) {
    const std::vector<std::string> lines = Lines(text);
    std::vector<std::vector<std::string>> rows;
    bool in_section = false;
    int row = 0;
    for (const std::string& line : lines) {
        if (line.rfind("## ", 0) == 0)
            in_section = line == "## " + heading;
        if (!in_section || line.rfind('|', 0) != 0)
            continue;
        if (row++ >= 2)
            rows.push_back(Cells(line));
    }
    return rows;
}

TEST_CASE("report-markdown writes a briefing whose numbers match the params", "[plugins][report]") {
    ScratchDir scratch;
    auto reporter = OpenReporter("report-markdown");
    const json::object params = SampleParams(scratch.Path());
    const fs::path file = ReportFile(*reporter, params);
    CHECK(file == scratch.Path() / "report.md");
    CHECK(FileNames(scratch.Path()) == std::vector<std::string>{"report.md"});
    const std::string text = ReadText(file);
    CHECK(text.rfind("# 学习贯彻习近平新时代中国特色社会主义思想主题教育（第二批）\n", 0) == 0);
    CHECK(text.find("\n\n\n") == std::string::npos);  // never more than one blank line
    CHECK(text.find("- **单位数** 31\n") != std::string::npos);

    // Progress by stage: one row per stage, then the total; sums agree with the params.
    std::map<std::string, std::int64_t> applicable;
    std::map<std::string, std::int64_t> done;
    for (const auto& row : params.at("stage_progress").as_array()) {
        applicable[std::string(row.at("stage").as_string())] += row.at("applicable").as_int64();
        done[std::string(row.at("stage").as_string())] += row.at("done").as_int64();
    }
    const auto stages = Table(text, "各阶段进度");
    REQUIRE(stages.size() == 7);
    const std::vector<std::pair<std::string, std::string>> order = {
        {"study", "理论学习"}, {"research", "调查研究"}, {"development", "推动发展"},
        {"review", "检视"},    {"rectify", "整改"},      {"institutionalize", "建章立制"}};
    for (std::size_t i = 0; i < order.size(); ++i) {
        INFO(order[i].second);
        CHECK(stages[i][0] == order[i].second);
        CHECK(stages[i][1] == std::to_string(applicable[order[i].first]));
        CHECK(stages[i][2] == std::to_string(done[order[i].first]));
    }
    CHECK(stages[6][0] == "**合计**");
    CHECK(stages[6][1] == "420");
    CHECK(stages[6][4] == "71.7%");

    // Progress by stage and category: every stage_progress row.
    const auto categories = Table(text, "各阶段分类进度");
    CHECK(categories.size() == params.at("stage_progress").as_array().size());
    CHECK(categories[0] == std::vector<std::string>{"理论学习", "县处级以上领导班子", "12", "12", "0", "100.0%"});

    // The units most behind, from overdue_by_unit, with the rest counted.
    CHECK(text.find("1. 北店镇 (tw04) — 9\n") != std::string::npos);
    CHECK(text.find("10. ") != std::string::npos);
    CHECK(text.find("11. ") == std::string::npos);
    CHECK(text.find("另有11个单位有逾期事项") != std::string::npos);
    CHECK(text.find("未销号问题 50") != std::string::npos);
}

TEST_CASE("report-markdown escapes Markdown in user text", "[plugins][report]") {
    ScratchDir scratch;
    json::object params = SampleParams(scratch.Path());
    params["overdue_by_unit"].as_array()[0].as_object()["name"] = "北店镇 | *重点* [督办](http://x)\n# 标题";
    auto reporter = OpenReporter("report-markdown");
    const std::string text = ReadText(ReportFile(*reporter, params));
    CHECK(text.find("1. 北店镇 \\| \\*重点\\* \\[督办\\](http://x) \\# 标题 (tw04) — 9\n") != std::string::npos);
}

TEST_CASE("report-markdown says so when there is no data", "[plugins][report]") {
    ScratchDir scratch;
    json::object params = SampleParams(scratch.Path());
    params["units"] = json::array{};
    params.erase("stage_progress");
    params.erase("overdue_by_unit");
    params.erase("totals");
    auto reporter = OpenReporter("report-markdown", {{"locale", "en"}});
    const std::string text = ReadText(ReportFile(*reporter, params));
    CHECK(text.find("> No data yet: no units are in scope of this report.") != std::string::npos);
    CHECK(text.find("## ") == std::string::npos);
}

TEST_CASE("report-markdown uses a template from templates_dir", "[plugins][report]") {
    ScratchDir scratch;
    const fs::path templates = scratch.Path() / "templates";
    fs::create_directories(templates);
    const fs::path out = scratch.Path() / "out";
    fs::create_directories(out);

    SECTION("an override replaces the built-in summary") {
        WriteText(templates / "report.md.mustache",
                  "## {{title}}\n{{#stages}}- {{title}}: {{done}}/{{applicable}}\n{{/stages}}"
                  "{{label.overdue}} {{totals.overdue}}\n");
        auto reporter = OpenReporter("report-markdown",
                                     {{"templates_dir", templates.string()}, {"title", "县委主题教育办公室周报"}});
        const std::string text = ReadText(ReportFile(*reporter, SampleParams(out)));
        CHECK(text ==
              "## 县委主题教育办公室周报\n- 理论学习: 62/76\n- 调查研究: 59/64\n- 推动发展: 44/52\n- 检视: 48/54\n"
              "- 整改: 77/147\n- 建章立制: 11/27\n逾期 50\n");
    }
    SECTION("a broken override is an error naming the file") {
        WriteText(templates / "report.md.mustache", "{{/stages}}\n");
        auto reporter = OpenReporter("report-markdown", {{"templates_dir", templates.string()}});
        const auto result = reporter->Call("report", SampleParams(out));
        CHECK(result.status == Status::error);
        CHECK(result.message.find("report.md.mustache") != std::string::npos);
        CHECK(FileNames(out).empty());
    }
}

TEST_CASE("report-markdown refuses bad params and unwritable folders", "[plugins][report]") {
    ScratchDir scratch;
    auto reporter = OpenReporter("report-markdown");
    SECTION("missing units") {
        json::object params = SampleParams(scratch.Path());
        params.erase("units");
        const auto result = reporter->Call("report", params);
        CHECK(result.status == Status::error);
        CHECK(result.message.find("params.units") != std::string::npos);
    }
    SECTION("a malformed date") {
        json::object params = SampleParams(scratch.Path());
        params["problems_burndown"].as_array()[5].as_object()["date"] = "2023-13-01";
        const auto result = reporter->Call("report", params);
        CHECK(result.status == Status::error);
        CHECK(result.message.find("params.problems_burndown[5].date") != std::string::npos);
    }
    SECTION("an unwritable output folder") {
        const fs::path dir = UnwritableDir(scratch.Path());
        const auto result = reporter->Call("report", SampleParams(dir));
        CHECK(result.status == Status::error);
        CHECK(result.message.find(dir.string()) != std::string::npos);
    }
}

}  // namespace
