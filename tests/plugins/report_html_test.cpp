// report-html through the host API: a self-contained page with the data
// escaped, rendered by a real headless chromium whose screenshot must show
// each chart in its own colour (and an empty-state panel instead when there
// is no data); template overrides, the locale, and every error path.
#include "report_browser.hpp"
#include "report_test_support.hpp"

#include <array>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

namespace {

using namespace cascade::test::report;
using cascade::plugin::Status;

json::object& UnitAt(json::object& params, std::size_t index) {
    return params["units"].as_array()[index].as_object();
}

TEST_CASE("report-html writes one self-contained page with the charts and tables", "[plugins][report]") {
    ScratchDir scratch;
    auto reporter = OpenReporter("report-html");
    const fs::path file = ReportFile(*reporter, SampleParams(scratch.Path()));
    CHECK(file == scratch.Path() / "report.html");
    CHECK(FileNames(scratch.Path()) == std::vector<std::string>{"report.html"});  // no temporary file left

    const std::string page = ReadText(file);
    CHECK(page.rfind("<!DOCTYPE html>", 0) == 0);
    CHECK(page.find("<html lang=\"zh-CN\">") != std::string::npos);
    CHECK(page.find("<meta charset=\"utf-8\">") != std::string::npos);
    CHECK(page.find("\"Noto Sans CJK SC\"") != std::string::npos);
    // Nothing is loaded from elsewhere: no scripts, stylesheets, images or fonts by reference.
    CHECK(page.find("<script") == std::string::npos);
    CHECK(page.find("<link") == std::string::npos);
    CHECK(page.find(" src=") == std::string::npos);
    CHECK(page.find("url(") == std::string::npos);
    CHECK(page.find("https://") == std::string::npos);
    // Three charts, in Chinese by default, with the campaign's words.
    std::size_t charts = 0;
    for (auto at = page.find("<svg"); at != std::string::npos; at = page.find("<svg", at + 1))
        ++charts;
    CHECK(charts == 3);
    for (const char* text : {"学习贯彻习近平新时代中国特色社会主义思想主题教育（第二批）", "各阶段分类进度",
                             "逾期事项最多的单位（前20名）", "问题清单销号进度", "理论学习", "调查研究", "检视", "整改",
                             "建章立制", "县处级以上领导班子", "党支部", "北店镇", "完成率"}) {
        INFO(text);
        CHECK(page.find(text) != std::string::npos);
    }
    // Totals of the sample: 301 of 420 steps done, 50 overdue.
    CHECK(page.find("301/420") != std::string::npos);
    CHECK(page.find("71.7%") != std::string::npos);
    // One table per stage: its heading carries the stage's counts.
    CHECK(page.find("<summary>整改 · 已完成 77/147 · 逾期 28</summary>") != std::string::npos);
}

TEST_CASE("report-html escapes the data it is given", "[plugins][report]") {
    ScratchDir scratch;
    json::object params = SampleParams(scratch.Path());
    UnitAt(params, 4)["name"] = "<script>alert('x')</script> & \"城关镇\"";  // tw01, a township with overdue steps
    params["overdue_by_unit"].as_array()[0].as_object()["name"] = "<img src=x onerror=alert(1)>";
    auto reporter = OpenReporter("report-html");
    const std::string page = ReadText(ReportFile(*reporter, params));
    CHECK(page.find("<script") == std::string::npos);
    CHECK(page.find("<img") == std::string::npos);
    CHECK(page.find("&lt;script&gt;alert(&apos;x&apos;)&lt;/script&gt; &amp; &quot;城关镇&quot;") != std::string::npos);
    CHECK(page.find("&lt;img src=x onerror=alert(1)&gt;") != std::string::npos);
}

TEST_CASE("report-html charts show in a headless browser", "[plugins][report]") {
    ScratchDir scratch;
    auto reporter = OpenReporter("report-html");
    const fs::path page = ReportFile(*reporter, SampleParams(scratch.Path()));
    const Image image = Screenshot(page, scratch.Path() / "report.png");
    CHECK(image.width == 1280);
    CHECK(image.height == 2400);
    // Each chart's fills cover far more than its legend swatch (12 × 12 pixels).
    const std::map<std::string, Rgb> colours = {{"progress: done", kDone},
                                                {"progress: open", kOpen},
                                                {"progress: overdue", kOverdue},
                                                {"overdue by unit", kOverdueBar},
                                                {"burn-down: open problems", kProblemsOpen},
                                                {"burn-down: closed problems", kProblemsClosed}};
    for (const auto& [chart, colour] : colours) {
        INFO(chart << ": " << image.Count(colour) << " pixels");
        CHECK(image.Count(colour) > 1500);
    }
    CHECK(image.Count(kDone) > 100'000);       // most steps are done
    CHECK(image.Count(kOverdueBar) > 20'000);  // twenty bars
    CHECK(image.Count(kEmptyState) == 0);
}

TEST_CASE("report-html shows an empty state when there are no units", "[plugins][report]") {
    ScratchDir scratch;
    json::object params = SampleParams(scratch.Path());
    params["units"] = json::array{};
    params["stage_progress"] = json::array{};
    params["overdue_by_unit"] = json::array{};
    params["problems_burndown"] = json::array{};
    params.erase("totals");
    auto reporter = OpenReporter("report-html");
    const fs::path page = ReportFile(*reporter, params);
    const std::string html = ReadText(page);
    CHECK(html.find("暂无数据") != std::string::npos);
    CHECK(html.find("<svg") == std::string::npos);

    const Image image = Screenshot(page, scratch.Path() / "empty.png");
    CHECK(image.Count(kEmptyState) > 50'000);
    for (const Rgb colour : {kDone, kOpen, kOverdue, kOverdueBar, kProblemsOpen, kProblemsClosed}) {
        CHECK(image.Count(colour) == 0);
    }
}

TEST_CASE("report-html speaks the configured locale and takes a title", "[plugins][report]") {
    ScratchDir scratch;
    auto reporter =
        OpenReporter("report-html", {{"locale", "en-US"}, {"title", "Anlan County weekly"}, {"file_name", "weekly"}});
    const fs::path file = ReportFile(*reporter, SampleParams(scratch.Path()));
    CHECK(file.filename() == "weekly.html");
    const std::string page = ReadText(file);
    CHECK(page.find("<html lang=\"en\">") != std::string::npos);
    CHECK(page.find("<h1>Anlan County weekly</h1>") != std::string::npos);
    CHECK(page.find("Theme education on Xi Jinping Thought") != std::string::npos);  // the subtitle
    for (const char* text : {"Progress of each stage by unit category", "Units with the most overdue steps (top 20)",
                             "Problem list burn-down", "Rectify", "Township", "Overdue"}) {
        INFO(text);
        CHECK(page.find(text) != std::string::npos);
    }
    CHECK(page.find("各阶段分类进度") == std::string::npos);
}

TEST_CASE("report-html uses a template from templates_dir", "[plugins][report]") {
    ScratchDir scratch;
    const fs::path templates = scratch.Path() / "templates";
    fs::create_directories(templates);
    const fs::path out = scratch.Path() / "out";
    fs::create_directories(out);

    SECTION("an override replaces the built-in page") {
        WriteText(templates / "report.html.mustache",
                  "<html><body><h1>{{title}}</h1><p id=\"units\">{{totals.units}}</p>{{{charts.overdue}}}"
                  "{{#stages}}<i>{{title}}</i>{{/stages}}</body></html>\n");
        auto reporter = OpenReporter("report-html", {{"templates_dir", templates.string()}});
        const std::string page = ReadText(ReportFile(*reporter, SampleParams(out)));
        CHECK(page.rfind("<html><body><h1>学习贯彻", 0) == 0);
        CHECK(page.find("<p id=\"units\">31</p>") != std::string::npos);
        CHECK(page.find("<svg") != std::string::npos);
        CHECK(page.find("<i>理论学习</i><i>调查研究</i>") != std::string::npos);
    }
    SECTION("a folder without the file falls back to the built-in template") {
        auto reporter = OpenReporter("report-html", {{"templates_dir", templates.string()}});
        CHECK(ReadText(ReportFile(*reporter, SampleParams(out))).find("各阶段分类进度") != std::string::npos);
    }
    SECTION("a broken override is an error naming the file") {
        WriteText(templates / "report.html.mustache", "<h1>{{#stages}}{{title}}</h1>\n");
        auto reporter = OpenReporter("report-html", {{"templates_dir", templates.string()}});
        const auto result = reporter->Call("report", SampleParams(out));
        CHECK(result.status == Status::error);
        CHECK(result.message.find((templates / "report.html.mustache").string()) != std::string::npos);
        const auto self_test = reporter->Call("self_test", {});
        REQUIRE(self_test.Ok());
        CHECK(self_test.value.at("checks").as_array()[0].at("ok").as_bool() == false);
    }
    SECTION("a templates_dir that is not a folder refuses the config") {
        const auto opened = TryOpen("report-html", {{"templates_dir", (scratch.Path() / "missing").string()}});
        REQUIRE(std::holds_alternative<std::string>(opened));
        INFO(std::get<std::string>(opened));
        CHECK(std::get<std::string>(opened).find("templates_dir") != std::string::npos);
    }
}

TEST_CASE("report-html writes to the config's output_dir when the engine gives none", "[plugins][report]") {
    ScratchDir scratch;
    const fs::path dir = scratch.Path() / "reports" / "theme-education-2023";
    auto reporter = OpenReporter("report-html", {{"output_dir", dir.string()}});
    json::object params = SampleParams(scratch.Path());
    params.erase("out_dir");
    CHECK(ReportFile(*reporter, params) == dir / "report.html");

    SECTION("and the engine's out_dir wins over it") {
        const fs::path other = scratch.Path() / "cli-out";
        fs::create_directories(other);
        CHECK(ReportFile(*reporter, SampleParams(other)) == other / "report.html");
    }
}

TEST_CASE("report-html refuses bad params, configs and folders", "[plugins][report]") {
    ScratchDir scratch;
    auto reporter = OpenReporter("report-html");

    SECTION("missing units") {
        json::object params = SampleParams(scratch.Path());
        params.erase("units");
        const auto result = reporter->Call("report", params);
        CHECK(result.status == Status::error);
        CHECK(result.message.find("params.units") != std::string::npos);
    }
    SECTION("a malformed unit") {
        json::object params = SampleParams(scratch.Path());
        UnitAt(params, 2)["stages"].as_object()["study"].as_object()["done"] = "three";
        const auto result = reporter->Call("report", params);
        CHECK(result.status == Status::error);
        CHECK(result.message.find("params.units[2].stages.study.done") != std::string::npos);
    }
    SECTION("an unwritable output folder") {
        const fs::path dir = UnwritableDir(scratch.Path());
        const auto result = reporter->Call("report", SampleParams(dir));
        CHECK(result.status == Status::error);
        CHECK(result.message.find(dir.string()) != std::string::npos);
    }
    SECTION("no output folder at all") {
        json::object params = SampleParams(scratch.Path());
        params.erase("out_dir");
        const auto result = reporter->Call("report", params);
        CHECK(result.status == Status::error);
        CHECK(result.message.find("out_dir") != std::string::npos);
    }
    SECTION("a locale the schema does not know") {
        const auto opened = TryOpen("report-html", {{"locale", "fr"}});
        REQUIRE(std::holds_alternative<std::string>(opened));
        CHECK(std::get<std::string>(opened).find("schema") != std::string::npos);
    }
    SECTION("a property the schema does not know") {
        const auto opened = TryOpen("report-html", {{"colour", "red"}});
        REQUIRE(std::holds_alternative<std::string>(opened));
    }
    SECTION("a file_name that is a path") {
        const auto opened = TryOpen("report-html", {{"file_name", "../evil"}});
        REQUIRE(std::holds_alternative<std::string>(opened));
        INFO(std::get<std::string>(opened));
        CHECK(std::get<std::string>(opened).find("file_name") != std::string::npos);
    }
}

}  // namespace
