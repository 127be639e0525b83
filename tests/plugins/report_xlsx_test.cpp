// report-xlsx through the host API: the workbook is opened as what it is (a
// zip of XML parts, read with `unzip -p` in a child process) and checked for
// its sheets, their names, frozen headers, column widths and cell values.
#include "report_test_support.hpp"

#include <unistd.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

namespace {

using namespace cascade::test::report;
using cascade::plugin::Status;

std::string Part(const fs::path& workbook, const std::string& part) {
    const ProcessResult result = Run({"unzip", "-p", workbook.string(), part});
    INFO("unzip -p " << workbook << " " << part << " (is unzip installed?)");
    REQUIRE(result.exit_code == 0);
    return result.output;
}

std::string Unescape(std::string text) {
    const std::vector<std::pair<std::string, std::string>> entities = {
        {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&apos;", "'"}, {"&amp;", "&"}};
    for (const auto& [entity, plain] : entities) {
        for (auto at = text.find(entity); at != std::string::npos; at = text.find(entity, at + plain.size())) {
            text.replace(at, entity.size(), plain);
        }
    }
    return text;
}

// The value of attribute `name` in the XML tag text `tag`.
std::string Attribute(const std::string& tag, const std::string& name) {
    const std::string key = " " + name + "=\"";
    const auto at = tag.find(key);
    if (at == std::string::npos)
        return {};
    const auto end = tag.find('"', at + key.size());
    return Unescape(tag.substr(at + key.size(), end - at - key.size()));
}

// Every <tag ...> start tag (with its attributes) in document order.
std::vector<std::string> Tags(const std::string& xml, const std::string& tag) {
    std::vector<std::string> tags;
    const std::string open = "<" + tag + " ";
    for (auto at = xml.find(open); at != std::string::npos; at = xml.find(open, at + 1)) {
        tags.push_back(xml.substr(at, xml.find('>', at) - at + 1));
    }
    return tags;
}

// A workbook read back: sheet names in order, and each sheet's cells by reference ("B2").
class Workbook {
public:
    explicit Workbook(const fs::path& file) : file_(file) {
        for (const std::string& sheet : Tags(Part(file, "xl/workbook.xml"), "sheet")) {
            names_.push_back(Attribute(sheet, "name"));
        }
        const std::string strings = Part(file, "xl/sharedStrings.xml");
        for (auto at = strings.find("<si>"); at != std::string::npos; at = strings.find("<si>", at + 1)) {
            const auto start = strings.find('>', strings.find("<t", at)) + 1;
            const auto end = strings.find("</t>", start);
            shared_.push_back(Unescape(strings.substr(start, end - start)));
        }
    }

    const std::vector<std::string>& Names() const { return names_; }

    std::string SheetXml(const std::string& name) const {
        for (std::size_t i = 0; i < names_.size(); ++i) {
            if (names_[i] == name)
                return Part(file_, "xl/worksheets/sheet" + std::to_string(i + 1) + ".xml");
        }
        FAIL("no sheet named " << name);
        return {};
    }

    // Cell values of a sheet: shared strings resolved, numbers as written.
    std::map<std::string, std::string> Cells(const std::string& name) const {
        const std::string xml = SheetXml(name);
        std::map<std::string, std::string> cells;
        for (auto at = xml.find("<c r=\""); at != std::string::npos; at = xml.find("<c r=\"", at + 1)) {
            const auto tag_end = xml.find('>', at);
            const std::string tag = xml.substr(at, tag_end - at + 1);
            if (tag.size() >= 2 && tag[tag.size() - 2] == '/')
                continue;  // a blank cell
            const auto value_start = xml.find("<v>", tag_end) + 3;
            std::string value = xml.substr(value_start, xml.find("</v>", value_start) - value_start);
            if (Attribute(tag, "t") == "s")
                value = shared_.at(std::stoul(value));
            cells[Attribute(tag, "r")] = value;
        }
        return cells;
    }

    // The row number ("7") whose column A holds `id`.
    static std::string RowOf(const std::map<std::string, std::string>& cells, const std::string& id) {
        for (const auto& [ref, value] : cells) {
            if (ref[0] == 'A' && value == id)
                return ref.substr(1);
        }
        FAIL("no row for " << id);
        return {};
    }

private:
    fs::path file_;
    std::vector<std::string> names_;
    std::vector<std::string> shared_;
};

json::object FindUnit(const json::object& params, const std::string& id) {
    for (const auto& unit : params.at("units").as_array()) {
        if (unit.at("id").as_string() == id)
            return unit.as_object();
    }
    FAIL("no unit " << id);
    return {};
}

// Restores the working directory when a test changed it.
class WorkingDirectory {
public:
    explicit WorkingDirectory(const fs::path& dir) : saved_(fs::current_path()) { fs::current_path(dir); }
    ~WorkingDirectory() { fs::current_path(saved_); }
    WorkingDirectory(const WorkingDirectory&) = delete;
    WorkingDirectory& operator=(const WorkingDirectory&) = delete;

private:
    fs::path saved_;
};

// The config theme-education.yaml declares for its ledger.
json::object LedgerConfig() {
    return {{"output_dir", "reports/theme-education-2023"}, {"locale", "zh-CN"}};
}

TEST_CASE("report-xlsx writes the campaign ledger with Chinese sheet names", "[plugins][report]") {
    ScratchDir scratch;
    auto reporter = OpenReporter("report-xlsx", LedgerConfig());
    const json::object params = SampleParams(scratch.Path());
    const fs::path file = ReportFile(*reporter, params);
    CHECK(file == scratch.Path() / "report.xlsx");
    CHECK(FileNames(scratch.Path()) == std::vector<std::string>{"report.xlsx"});

    const Workbook workbook(file);
    CHECK(workbook.Names() == std::vector<std::string>{"汇总", "理论学习", "调查研究", "推动发展", "检视", "整改",
                                                       "建章立制", "问题清单", "逾期事项", "问题销号趋势"});

    const auto summary = workbook.Cells("汇总");
    CHECK(summary.at("A1") == "学习贯彻习近平新时代中国特色社会主义思想主题教育（第二批）");
    CHECK(summary.at("A5") == "单位数");
    CHECK(summary.at("B5") == "31");
    CHECK(summary.at("A7") == "已完成事项");
    CHECK(summary.at("B7") == "301");

    // The rectification sheet: a frozen header, sized columns, a row per unit with its counts.
    const std::string xml = workbook.SheetXml("整改");
    CHECK(xml.find("state=\"frozen\"") != std::string::npos);
    CHECK(xml.find("ySplit=\"1\"") != std::string::npos);
    CHECK(xml.find("customWidth=\"1\"") != std::string::npos);
    CHECK(xml.find("<autoFilter") != std::string::npos);
    const auto cells = workbook.Cells("整改");
    CHECK(cells.at("A1") == "单位编码");
    CHECK(cells.at("B1") == "单位名称");
    CHECK(cells.at("C1") == "单位类别");
    CHECK(cells.at("D1") == "应办事项");
    CHECK(cells.at("E1") == "已完成");
    CHECK(cells.at("F1") == "逾期");
    CHECK(cells.at("G1") == "完成率");
    const json::object tw04 = FindUnit(params, "tw04");
    const json::object& rectify = tw04.at("stages").at("rectify").as_object();
    const std::string row = Workbook::RowOf(cells, "tw04");
    CHECK(cells.at("B" + row) == "北店镇");
    CHECK(cells.at("C" + row) == "乡镇");
    CHECK(cells.at("D" + row) == std::to_string(rectify.at("applicable").as_int64()));
    CHECK(cells.at("E" + row) == std::to_string(rectify.at("done").as_int64()));
    CHECK(cells.at("F" + row) == std::to_string(rectify.at("overdue").as_int64()));
    const double share =
        static_cast<double>(rectify.at("done").as_int64()) / static_cast<double>(rectify.at("applicable").as_int64());
    CHECK(std::stod(cells.at("G" + row)) == Approx(share));

    // Party branches have no development steps: that sheet lists no branch.
    const auto development = workbook.Cells("推动发展");
    CHECK(
        std::none_of(development.begin(), development.end(), [](const auto& cell) { return cell.second == "党支部"; }));

    const auto problems = workbook.Cells("问题清单");
    CHECK(problems.at("D1") == "问题总数");
    CHECK(problems.at("E1") == "未销号问题");
    const auto overdue = workbook.Cells("逾期事项");
    CHECK(overdue.at("A1") == "单位编码");
    CHECK(overdue.at("E1") == "截止日期");
    // The burn-down sheet carries a native line chart.
    CHECK(workbook.SheetXml("问题销号趋势").find("<drawing") != std::string::npos);
}

TEST_CASE("report-xlsx writes into the declared relative output_dir", "[plugins][report]") {
    ScratchDir scratch;
    const WorkingDirectory cwd(scratch.Path());
    auto reporter = OpenReporter("report-xlsx", LedgerConfig());
    json::object params = SampleParams(scratch.Path());
    params.erase("out_dir");
    const fs::path file = ReportFile(*reporter, params);
    CHECK(file == fs::current_path() / "reports/theme-education-2023/report.xlsx");
}

TEST_CASE("report-xlsx names sheets in English for locale en", "[plugins][report]") {
    ScratchDir scratch;
    auto reporter = OpenReporter("report-xlsx", {{"locale", "en"}, {"file_name", "ledger"}});
    const fs::path file = ReportFile(*reporter, SampleParams(scratch.Path()));
    CHECK(file.filename() == "ledger.xlsx");
    const Workbook workbook(file);
    CHECK(workbook.Names() == std::vector<std::string>{"Summary", "Study", "Research", "Development", "Review",
                                                       "Rectify", "Institutionalize", "Problems", "Overdue steps",
                                                       "Problem burn-down"});
    CHECK(workbook.Cells("Rectify").at("G1") == "% done");
}

TEST_CASE("report-xlsx makes any stage title a valid, unique sheet name", "[plugins][report]") {
    ScratchDir scratch;
    json::object params = SampleParams(scratch.Path());
    json::array& stages = params["stages"].as_array();
    stages[0].as_object()["title"] = json::object{{"zh", "检视/整改[专项]:*?\\"}};
    stages[1].as_object()["title"] = json::object{{"zh", "建章立制"}};  // the same as stage 6
    stages[2].as_object()["title"] = json::object{{"zh", "汇总"}};      // the same as the summary sheet
    stages[3].as_object()["title"] =
        json::object{{"zh", "第一阶段：深入开展理论学习和调查研究并检视整改突出问题推动高质量发展"}};
    stages[4].as_object()["title"] = json::object{{"zh", "'整改'"}};
    auto reporter = OpenReporter("report-xlsx");
    const Workbook workbook(ReportFile(*reporter, params));
    const std::vector<std::string>& names = workbook.Names();
    REQUIRE(names.size() == 10);
    CHECK(names[1] == "检视／整改【专项】：＊？＼");
    CHECK(names[2] == "建章立制");
    CHECK(names[3] == "汇总 (2)");
    CHECK(names[4] == "第一阶段：深入开展理论学习和调查研究并检视整改突出问题推动高质");  // 31 characters
    CHECK(names[5] == "整改");
    CHECK(names[6] == "建章立制 (2)");
    for (const std::string& name : names) {
        CHECK(name.find_first_of("[]:*?/\\") == std::string::npos);
    }
}

TEST_CASE("report-xlsx refuses bad params and unwritable folders", "[plugins][report]") {
    ScratchDir scratch;
    auto reporter = OpenReporter("report-xlsx", LedgerConfig());
    SECTION("missing units") {
        json::object params = SampleParams(scratch.Path());
        params.erase("units");
        const auto result = reporter->Call("report", params);
        CHECK(result.status == Status::error);
        CHECK(result.message.find("params.units") != std::string::npos);
    }
    SECTION("units that are not a list") {
        json::object params = SampleParams(scratch.Path());
        params["units"] = "all";
        const auto result = reporter->Call("report", params);
        CHECK(result.status == Status::error);
        CHECK(result.message.find("params.units must be an array") != std::string::npos);
    }
    SECTION("an unwritable output folder") {
        const fs::path dir = UnwritableDir(scratch.Path());
        const auto result = reporter->Call("report", SampleParams(dir));
        CHECK(result.status == Status::error);
        CHECK(result.message.find(dir.string()) != std::string::npos);
        CHECK(FileNames(scratch.Path()) == std::vector<std::string>{"not-a-folder"});
    }
    SECTION("self_test reports the library") {
        const auto result = reporter->Call("self_test", {});
        REQUIRE(result.Ok());
        CHECK(json::serialize(result.value).find("libxlsxwriter") != std::string::npos);
    }
}

}  // namespace
