// report-json through the host API: the file parses, carries its format and
// version, agrees with the params unit by unit, derives what the params left
// out exactly as the engine would have sent it, and the error paths.
#include "report_test_support.hpp"

#include <string>
#include <vector>

namespace {

using namespace cascade::test::report;
using cascade::plugin::Status;

json::object ReportDocument(cascade::plugin::Instance& reporter, const json::object& params) {
    const std::string text = ReadText(ReportFile(reporter, params));
    CHECK(text.back() == '\n');
    CHECK(text.find("E1") == std::string::npos);  // shares are plain decimals, not 8.16E1
    json::error_code error;
    json::value value = json::parse(text, error);
    REQUIRE_FALSE(error);
    REQUIRE(value.is_object());
    return value.as_object();
}

TEST_CASE("report-json writes the report data in its stable form", "[plugins][report]") {
    ScratchDir scratch;
    auto reporter = OpenReporter("report-json");
    const json::object params = SampleParams(scratch.Path());
    const json::object doc = ReportDocument(*reporter, params);
    CHECK(FileNames(scratch.Path()) == std::vector<std::string>{"report.json"});

    CHECK(doc.at("format") == "cascade.report");
    CHECK(doc.at("format_version") == 1);
    CHECK(doc.at("today") == "2024-01-10");
    CHECK(doc.at("locale") == "zh");
    CHECK(doc.at("title") == "学习贯彻习近平新时代中国特色社会主义思想主题教育（第二批）");
    CHECK(doc.at("campaign").at("id") == "theme-education-2023");

    // Keys come in a fixed order, so files diff cleanly.
    std::vector<std::string> keys;
    for (const auto& [key, value] : doc)
        keys.emplace_back(key);
    CHECK(keys == std::vector<std::string>{"format", "format_version", "generated_at", "today", "locale", "title",
                                           "campaign", "stages", "categories", "units", "stage_progress",
                                           "overdue_by_unit", "problems_burndown", "totals"});

    const json::array& stages = doc.at("stages").as_array();
    REQUIRE(stages.size() == 6);
    CHECK(stages[4].at("id") == "rectify");
    CHECK(stages[4].at("title").at("zh") == "整改");
    CHECK(stages[4].at("applicable") == 147);
    CHECK(stages[4].at("done") == 77);
    CHECK(stages[4].at("percent_done").as_double() == Approx(52.4));

    const json::array& units = doc.at("units").as_array();
    const json::array& given = params.at("units").as_array();
    REQUIRE(units.size() == given.size());
    for (std::size_t i = 0; i < units.size(); ++i) {
        const json::object& unit = units[i].as_object();
        const json::object& source = given[i].as_object();
        INFO(source.at("id").as_string());
        CHECK(unit.at("id") == source.at("id"));
        CHECK(unit.at("name") == source.at("name"));
        CHECK(unit.at("category") == source.at("category"));
        CHECK(unit.at("problems_open") == source.at("problems_open"));
        CHECK(unit.at("overdue_steps").as_array().size() == source.at("overdue_steps").as_array().size());
        for (const auto& [stage, counts] : source.at("stages").as_object()) {
            const json::object& written = unit.at("stages").at(stage).as_object();
            CHECK(written.at("applicable") == counts.at("applicable"));
            CHECK(written.at("done") == counts.at("done"));
            CHECK(written.at("overdue") == counts.at("overdue"));
        }
    }
    // One of tw04's overdue steps: the four visits, due 2023-11-10, 61 days before 2024-01-10.
    const json::object& tw04 = units[7].as_object();
    REQUIRE(tw04.at("id") == "tw04");
    bool found = false;
    for (const auto& step : tw04.at("overdue_steps").as_array()) {
        if (step.at("step") == "four_visits") {
            CHECK(step.at("due") == "2023-11-10");
            CHECK(step.at("days_overdue") == 61);
            found = true;
        }
    }
    CHECK(found);

    const json::object& totals = doc.at("totals").as_object();
    for (const char* key : {"units", "steps_applicable", "steps_done", "overdue", "problems_open", "problems_closed"}) {
        INFO(key);
        CHECK(totals.at(key) == params.at("totals").at(key));
    }
    CHECK(totals.at("units_overdue") == 21);
    CHECK(totals.at("percent_done").as_double() == Approx(71.7));
    CHECK(doc.at("problems_burndown").as_array().size() == params.at("problems_burndown").as_array().size());
    CHECK(doc.at("overdue_by_unit").as_array()[0].at("unit") == "tw04");
}

TEST_CASE("report-json derives the aggregates the params leave out", "[plugins][report]") {
    ScratchDir scratch;
    const fs::path full_dir = scratch.Path() / "full";
    const fs::path bare_dir = scratch.Path() / "bare";
    fs::create_directories(full_dir);
    fs::create_directories(bare_dir);
    auto reporter = OpenReporter("report-json");
    const json::object full = ReportDocument(*reporter, SampleParams(full_dir));
    json::object bare_params = SampleParams(bare_dir);
    for (const char* key : {"stage_progress", "overdue_by_unit", "totals", "categories"})
        bare_params.erase(key);
    const json::object bare = ReportDocument(*reporter, bare_params);
    CHECK(bare.at("stage_progress") == full.at("stage_progress"));
    CHECK(bare.at("overdue_by_unit") == full.at("overdue_by_unit"));
    CHECK(bare.at("totals") == full.at("totals"));
    CHECK(bare.at("stages") == full.at("stages"));
}

TEST_CASE("report-json refuses bad params and unwritable folders", "[plugins][report]") {
    ScratchDir scratch;
    auto reporter = OpenReporter("report-json", {{"templates_dir", scratch.Path().string()}});
    SECTION("missing units") {
        json::object params = SampleParams(scratch.Path());
        params.erase("units");
        const auto result = reporter->Call("report", params);
        CHECK(result.status == Status::error);
        CHECK(result.message == "params.units is missing");
    }
    SECTION("a stage title of the wrong type") {
        json::object params = SampleParams(scratch.Path());
        params["stages"].as_array()[1].as_object()["title"] = 7;
        const auto result = reporter->Call("report", params);
        CHECK(result.status == Status::error);
        CHECK(result.message.find("params.stages[1].title") != std::string::npos);
    }
    SECTION("an overdue step without its step") {
        json::object params = SampleParams(scratch.Path());
        params["units"].as_array()[7].as_object()["overdue_steps"].as_array()[0].as_object().erase("step");
        const auto result = reporter->Call("report", params);
        CHECK(result.status == Status::error);
        CHECK(result.message == "params.units[7].overdue_steps[0].step is missing");
    }
    SECTION("an unwritable output folder") {
        const fs::path dir = UnwritableDir(scratch.Path());
        const auto result = reporter->Call("report", SampleParams(dir));
        CHECK(result.status == Status::error);
        CHECK(result.message.find(dir.string()) != std::string::npos);
    }
    SECTION("an empty out_dir") {
        json::object params = SampleParams(scratch.Path());
        params["out_dir"] = "";
        const auto result = reporter->Call("report", params);
        CHECK(result.status == Status::error);
        CHECK(result.message == "params.out_dir must not be empty");
    }
}

}  // namespace
