// report-xlsx: the campaign ledger as an Excel workbook, the form county
// offices exchange: a summary sheet first, then one sheet per stage with a
// row per unit, the problem list, the overdue steps and the problem
// burn-down (with a native line chart). Sheet names are the stage titles in
// the chosen locale, made valid for Excel (≤ 31 characters, none of []:*?/\).
// Headers are frozen, columns sized to their content, counts are numbers and
// shares are percent-formatted numbers, so offices can sort and sum.
#include "cascade/report/context.hpp"
#include "cascade/report/reporter.hpp"
#include "cascade/sdk.hpp"

#include <xlsxwriter.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace cascade::report::xlsx {
namespace {

constexpr std::size_t kMaxSheetName = 31;

// Splits UTF-8 text into code points (as byte strings), for lengths Excel counts in characters.
std::vector<std::string> CodePoints(std::string_view text) {
    std::vector<std::string> points;
    for (std::size_t i = 0; i < text.size();) {
        const auto lead = static_cast<unsigned char>(text[i]);
        std::size_t length = lead < 0x80           ? 1
                             : (lead >> 5) == 0x6  ? 2
                             : (lead >> 4) == 0xe  ? 3
                             : (lead >> 3) == 0x1e ? 4
                                                   : 1;
        length = std::min(length, text.size() - i);
        points.emplace_back(text.substr(i, length));
        i += length;
    }
    return points;
}

// Display width in Excel column units: wide (CJK) characters take two.
double DisplayWidth(std::string_view text) {
    double width = 0;
    for (const auto& point : CodePoints(text))
        width += point.size() >= 3 ? 2.1 : 1.1;
    return width;
}

std::string Lower(std::string text) {
    for (char& c : text) {
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
    }
    return text;
}

// A valid, unique sheet name for `wanted`: the characters Excel forbids
// become their full-width forms (readable to the same users), leading and
// trailing apostrophes go, the name is cut to 31 characters, and a repeat
// (Excel compares case-insensitively) gets " (2)", " (3)" …
std::string SheetName(std::string_view wanted, std::set<std::string>& used) {
    std::vector<std::string> points;
    for (auto& point : CodePoints(wanted)) {
        if (point == "[")
            point = "【";
        else if (point == "]")
            point = "】";
        else if (point == ":")
            point = "：";
        else if (point == "*")
            point = "＊";
        else if (point == "?")
            point = "？";
        else if (point == "/")
            point = "／";
        else if (point == "\\")
            point = "＼";
        else if (point.size() == 1 && static_cast<unsigned char>(point[0]) < 0x20)
            point = " ";
        points.push_back(std::move(point));
    }
    while (!points.empty() && (points.front() == "'" || points.front() == " "))
        points.erase(points.begin());
    while (!points.empty() && (points.back() == "'" || points.back() == " "))
        points.pop_back();
    if (points.empty())
        points = {"S", "h", "e", "e", "t"};
    for (int copy = 1;; ++copy) {
        const std::string suffix = copy == 1 ? "" : " (" + std::to_string(copy) + ")";
        const std::size_t keep = std::min(points.size(), kMaxSheetName - suffix.size());
        std::string name;
        for (std::size_t i = 0; i < keep; ++i)
            name += points[i];
        name += suffix;
        if (Lower(name) != "history" && used.insert(Lower(name)).second)
            return name;
    }
}

std::optional<lxw_datetime> ExcelDate(std::string_view text) {
    const auto days = DaysFromDate(text);
    if (!days)
        return std::nullopt;
    const CivilDate date = DateFromDays(*days);
    return lxw_datetime{date.year, date.month, date.day, 0, 0, 0.0};
}

// The formats of the workbook, made once.
struct Formats {
    lxw_format* title = nullptr;
    lxw_format* subtitle = nullptr;
    lxw_format* header = nullptr;
    lxw_format* text = nullptr;
    lxw_format* integer = nullptr;
    lxw_format* percent = nullptr;
    lxw_format* date = nullptr;
    lxw_format* total_text = nullptr;
    lxw_format* total_integer = nullptr;
    lxw_format* total_percent = nullptr;
    lxw_format* late = nullptr;

    explicit Formats(lxw_workbook* workbook) {
        auto cell = [&](bool bold) {
            lxw_format* format = workbook_add_format(workbook);
            format_set_border(format, LXW_BORDER_THIN);
            format_set_border_color(format, 0xD0D4DA);
            format_set_align(format, LXW_ALIGN_VERTICAL_CENTER);
            if (bold) {
                format_set_bold(format);
                format_set_bg_color(format, 0xF7F8FA);
            }
            return format;
        };
        title = workbook_add_format(workbook);
        format_set_bold(title);
        format_set_font_size(title, 14);
        subtitle = workbook_add_format(workbook);
        format_set_font_color(subtitle, 0x555555);
        header = cell(true);
        format_set_bg_color(header, 0xE8EBF0);
        format_set_align(header, LXW_ALIGN_CENTER);
        format_set_text_wrap(header);
        text = cell(false);
        integer = cell(false);
        format_set_num_format(integer, "0");
        percent = cell(false);
        format_set_num_format(percent, "0.0%");
        date = cell(false);
        format_set_num_format(date, "yyyy-mm-dd");
        total_text = cell(true);
        total_integer = cell(true);
        format_set_num_format(total_integer, "0");
        total_percent = cell(true);
        format_set_num_format(total_percent, "0.0%");
        late = workbook_add_format(workbook);
        format_set_bg_color(late, 0xFDECEA);
        format_set_font_color(late, 0x9C0006);
    }
};

// One worksheet being filled: remembers each column's widest content so the
// columns can be sized at the end.
class Sheet {
public:
    Sheet(lxw_workbook* workbook, const std::string& name, const Formats& formats)
        : sheet_(workbook_add_worksheet(workbook, name.c_str())), formats_(formats) {
        if (sheet_ == nullptr)
            throw std::runtime_error("cannot add the worksheet '" + name + "'");
    }

    lxw_worksheet* Handle() const { return sheet_; }

    void Text(lxw_row_t row, lxw_col_t col, const std::string& value, lxw_format* format, bool measure = true) {
        worksheet_write_string(sheet_, row, col, value.c_str(), format);
        if (measure)
            Measure(col, DisplayWidth(value));
    }
    void Number(lxw_row_t row, lxw_col_t col, double value, lxw_format* format) {
        worksheet_write_number(sheet_, row, col, value, format);
        Measure(col, 8);
    }
    // A share as a percent-formatted number; blank when nothing applies.
    void Share(lxw_row_t row, lxw_col_t col, std::int64_t part, std::int64_t whole, lxw_format* format) {
        if (const auto share = report::Share(part, whole)) {
            Number(row, col, *share, format);
        } else {
            worksheet_write_blank(sheet_, row, col, format);
        }
    }
    void Date(lxw_row_t row, lxw_col_t col, const std::string& value, lxw_format* format) {
        if (auto date = ExcelDate(value)) {
            worksheet_write_datetime(sheet_, row, col, &*date, format);
            Measure(col, 11);
        } else {
            Text(row, col, value, formats_.text);
        }
    }
    // A header row at `row`; frozen, and filterable over `last_row` when given.
    void Header(lxw_row_t row, const std::vector<std::string>& titles) {
        for (std::size_t i = 0; i < titles.size(); ++i)
            Text(row, static_cast<lxw_col_t>(i), titles[i], formats_.header);
        worksheet_set_row(sheet_, row, 20, nullptr);
        columns_ = titles.size();
    }
    void Freeze(lxw_row_t rows, lxw_col_t cols) { worksheet_freeze_panes(sheet_, rows, cols); }
    void Filter(lxw_row_t header_row, lxw_row_t last_row) {
        if (last_row > header_row && columns_ > 0) {
            worksheet_autofilter(sheet_, header_row, 0, last_row, static_cast<lxw_col_t>(columns_ - 1));
        }
    }
    // Marks cells in a column range whose value is above zero (overdue counts).
    void HighlightPositive(lxw_row_t first_row, lxw_row_t last_row, lxw_col_t col) {
        if (last_row < first_row)
            return;
        lxw_conditional_format rule{};
        rule.type = LXW_CONDITIONAL_TYPE_CELL;
        rule.criteria = LXW_CONDITIONAL_CRITERIA_GREATER_THAN;
        rule.value = 0;
        rule.format = formats_.late;
        worksheet_conditional_format_range(sheet_, first_row, col, last_row, col, &rule);
    }
    void SizeColumns() {
        for (std::size_t col = 0; col < widths_.size(); ++col) {
            const double width = std::clamp(widths_[col] + 2, 8.0, 60.0);
            worksheet_set_column(sheet_, static_cast<lxw_col_t>(col), static_cast<lxw_col_t>(col), width, nullptr);
        }
    }

private:
    void Measure(lxw_col_t col, double width) {
        if (widths_.size() <= col)
            widths_.resize(col + 1, 0);
        widths_[col] = std::max(widths_[col], width);
    }

    lxw_worksheet* sheet_;
    const Formats& formats_;
    std::vector<double> widths_;
    std::size_t columns_ = 0;
};

// Closes (and frees) a workbook that is abandoned half-written.
struct WorkbookCloser {
    void operator()(lxw_workbook* workbook) const { workbook_close(workbook); }
};
using WorkbookPtr = std::unique_ptr<lxw_workbook, WorkbookCloser>;

class ReportXlsx final : public Reporter {
public:
    using Reporter::Reporter;

protected:
    std::vector<json::object> ExtraChecks() const override {
        return {json::object{{"name", "libxlsxwriter"}, {"ok", true}, {"detail", LXW_VERSION}}};
    }

    std::vector<std::filesystem::path> Write(const Job& job) override {
        const std::string name = job.FileName(".xlsx");
        TempFile file(job.out_dir, name);
        file.Close();  // libxlsxwriter opens the file by name
        WorkbookPtr workbook(workbook_new(file.Path().c_str()));
        if (!workbook)
            throw OutputError("cannot create a workbook in the output folder '" + job.out_dir.string() + "'", false);
        const Formats formats(workbook.get());
        std::set<std::string> used;
        SetProperties(workbook.get(), job);
        WriteSummary(workbook.get(), formats, job, used);
        for (const Stage& stage : job.data.stages)
            WriteStage(workbook.get(), formats, job, stage, used);
        WriteProblems(workbook.get(), formats, job, used);
        WriteOverdueSteps(workbook.get(), formats, job, used);
        WriteBurndown(workbook.get(), formats, job, used);
        const lxw_error error = workbook_close(workbook.release());
        if (error != LXW_NO_ERROR) {
            throw OutputError(
                "cannot write the workbook in the output folder '" + job.out_dir.string() + "': " + lxw_strerror(error),
                error == LXW_ERROR_CREATING_TMPFILE || error == LXW_ERROR_MEMORY_MALLOC_FAILED);
        }
        return {file.Commit(name)};
    }

private:
    static void SetProperties(lxw_workbook* workbook, const Job& job) {
        const std::string campaign = job.data.campaign.title.In(job.locale);
        lxw_doc_properties properties{};
        properties.title = const_cast<char*>(job.title.c_str());   // NOLINT: the C API takes char* but copies
        properties.subject = const_cast<char*>(campaign.c_str());  // NOLINT
        properties.author = const_cast<char*>("Cascade");          // NOLINT
        workbook_set_properties(workbook, &properties);
    }

    static void WriteSummary(lxw_workbook* workbook, const Formats& f, const Job& job, std::set<std::string>& used) {
        const ReportData& data = job.data;
        const Locale locale = job.locale;
        Sheet sheet(workbook, SheetName(job.Label("summary"), used), f);
        lxw_row_t row = 0;
        sheet.Text(row++, 0, job.title, f.title, false);
        if (!job.subtitle.empty())
            sheet.Text(row++, 0, job.subtitle, f.subtitle, false);
        std::string meta = job.Label("as_of") + " " + data.today + " · " + job.Label("generated_at") + " " +
                           FormatTimestamp(data.generated_at);
        if (const std::string period = FormatPeriod(data.campaign); !period.empty()) {
            meta += " · " + job.Label("period") + " " + period;
        }
        sheet.Text(row++, 0, meta, f.subtitle, false);
        sheet.Freeze(row, 0);
        ++row;

        const Totals& t = data.totals;
        const std::int64_t problems_total = t.problems_open + t.problems_closed;
        sheet.Header(row++, {job.Label("overview"), job.Label("totals")});
        auto count = [&](std::string_view label, std::int64_t value) {
            sheet.Text(row, 0, job.Label(label), f.text);
            sheet.Number(row++, 1, static_cast<double>(value), f.integer);
        };
        auto share = [&](std::string_view label, std::int64_t part, std::int64_t whole) {
            sheet.Text(row, 0, job.Label(label), f.text);
            sheet.Share(row++, 1, part, whole, f.percent);
        };
        count("units", t.units);
        count("steps_applicable", t.steps_applicable);
        count("steps_done", t.steps_done);
        share("percent_done", t.steps_done, t.steps_applicable);
        count("overdue_steps", t.overdue);
        count("overdue_units", static_cast<std::int64_t>(data.overdue_by_unit.size()));
        count("problems_total", problems_total);
        count("problems_open", t.problems_open);
        count("problems_closed", t.problems_closed);
        share("percent_closed", t.problems_closed, problems_total);
        ++row;

        sheet.Header(row++, {job.Label("stage"), job.Label("category"), job.Label("applicable"), job.Label("done"),
                             job.Label("overdue"), job.Label("percent_done")});
        auto counts_row = [&](const Counts& c, bool total) {
            sheet.Number(row, 2, static_cast<double>(c.applicable), total ? f.total_integer : f.integer);
            sheet.Number(row, 3, static_cast<double>(c.done), total ? f.total_integer : f.integer);
            sheet.Number(row, 4, static_cast<double>(c.overdue), total ? f.total_integer : f.integer);
            sheet.Share(row, 5, c.done, c.applicable, total ? f.total_percent : f.percent);
            ++row;
        };
        Counts all;
        for (const Stage& stage : data.stages) {
            const std::string title = data.StageTitle(stage.id, locale);
            for (const StageProgress& progress : data.stage_progress) {
                if (progress.stage != stage.id || progress.counts.applicable == 0)
                    continue;
                sheet.Text(row, 0, title, f.text);
                sheet.Text(row, 1, data.CategoryTitle(progress.category, locale), f.text);
                counts_row(progress.counts, false);
            }
            const Counts total = data.StageTotal(stage.id);
            all += total;
            sheet.Text(row, 0, title, f.total_text);
            sheet.Text(row, 1, job.Label("totals"), f.total_text);
            counts_row(total, true);
        }
        sheet.Text(row, 0, job.Label("totals"), f.total_text);
        sheet.Text(row, 1, "", f.total_text);
        counts_row(all, true);
        sheet.SizeColumns();
    }

    static void WriteStage(lxw_workbook* workbook, const Formats& f, const Job& job, const Stage& stage,
                           std::set<std::string>& used) {
        const ReportData& data = job.data;
        Sheet sheet(workbook, SheetName(data.StageTitle(stage.id, job.locale), used), f);
        sheet.Header(0, {job.Label("unit_id"), job.Label("unit_name"), job.Label("category"), job.Label("applicable"),
                         job.Label("done"), job.Label("overdue"), job.Label("percent_done")});
        sheet.Freeze(1, 2);
        lxw_row_t row = 1;
        Counts total;
        for (const Unit& unit : data.units) {
            const auto found = unit.stages.find(stage.id);
            if (found == unit.stages.end() || found->second.applicable == 0)
                continue;
            const Counts& c = found->second;
            total += c;
            sheet.Text(row, 0, unit.id, f.text);
            sheet.Text(row, 1, unit.name, f.text);
            sheet.Text(row, 2, data.CategoryTitle(unit.category, job.locale), f.text);
            sheet.Number(row, 3, static_cast<double>(c.applicable), f.integer);
            sheet.Number(row, 4, static_cast<double>(c.done), f.integer);
            sheet.Number(row, 5, static_cast<double>(c.overdue), f.integer);
            sheet.Share(row, 6, c.done, c.applicable, f.percent);
            ++row;
        }
        const lxw_row_t last = row - 1;
        sheet.Filter(0, last);
        sheet.HighlightPositive(1, last, 5);
        // The total sits below the filtered range, so sorting leaves it last.
        sheet.Text(row, 0, job.Label("totals"), f.total_text);
        sheet.Text(row, 1, "", f.total_text);
        sheet.Text(row, 2, "", f.total_text);
        sheet.Number(row, 3, static_cast<double>(total.applicable), f.total_integer);
        sheet.Number(row, 4, static_cast<double>(total.done), f.total_integer);
        sheet.Number(row, 5, static_cast<double>(total.overdue), f.total_integer);
        sheet.Share(row, 6, total.done, total.applicable, f.total_percent);
        sheet.SizeColumns();
    }

    static void WriteProblems(lxw_workbook* workbook, const Formats& f, const Job& job, std::set<std::string>& used) {
        const ReportData& data = job.data;
        Sheet sheet(workbook, SheetName(job.Label("problems"), used), f);
        sheet.Header(0,
                     {job.Label("unit_id"), job.Label("unit_name"), job.Label("category"), job.Label("problems_total"),
                      job.Label("problems_open"), job.Label("problems_closed"), job.Label("percent_closed")});
        sheet.Freeze(1, 2);
        lxw_row_t row = 1;
        std::int64_t total = 0;
        std::int64_t open = 0;
        for (const Unit& unit : data.units) {
            if (unit.problems_total == 0)
                continue;
            total += unit.problems_total;
            open += unit.problems_open;
            sheet.Text(row, 0, unit.id, f.text);
            sheet.Text(row, 1, unit.name, f.text);
            sheet.Text(row, 2, data.CategoryTitle(unit.category, job.locale), f.text);
            sheet.Number(row, 3, static_cast<double>(unit.problems_total), f.integer);
            sheet.Number(row, 4, static_cast<double>(unit.problems_open), f.integer);
            sheet.Number(row, 5, static_cast<double>(unit.problems_total - unit.problems_open), f.integer);
            sheet.Share(row, 6, unit.problems_total - unit.problems_open, unit.problems_total, f.percent);
            ++row;
        }
        sheet.Filter(0, row - 1);
        sheet.HighlightPositive(1, row - 1, 4);
        sheet.Text(row, 0, job.Label("totals"), f.total_text);
        sheet.Text(row, 1, "", f.total_text);
        sheet.Text(row, 2, "", f.total_text);
        sheet.Number(row, 3, static_cast<double>(total), f.total_integer);
        sheet.Number(row, 4, static_cast<double>(open), f.total_integer);
        sheet.Number(row, 5, static_cast<double>(total - open), f.total_integer);
        sheet.Share(row, 6, total - open, total, f.total_percent);
        sheet.SizeColumns();
    }

    static void WriteOverdueSteps(lxw_workbook* workbook, const Formats& f, const Job& job,
                                  std::set<std::string>& used) {
        Sheet sheet(workbook, SheetName(job.Label("overdue_steps"), used), f);
        sheet.Header(0, {job.Label("unit_id"), job.Label("unit_name"), job.Label("step"), job.Label("step_id"),
                         job.Label("due"), job.Label("days_overdue")});
        sheet.Freeze(1, 2);
        lxw_row_t row = 1;
        for (const LateStep& late : LateSteps(job.data)) {
            const std::string title = late.step->title.In(job.locale);
            sheet.Text(row, 0, late.unit->id, f.text);
            sheet.Text(row, 1, late.unit->name, f.text);
            sheet.Text(row, 2, title.empty() ? late.step->step : title, f.text);
            sheet.Text(row, 3, late.step->step, f.text);
            sheet.Date(row, 4, late.step->due, f.date);
            sheet.Number(row, 5, static_cast<double>(late.days_overdue), f.integer);
            ++row;
        }
        sheet.Filter(0, row - 1);
        sheet.SizeColumns();
    }

    static void WriteBurndown(lxw_workbook* workbook, const Formats& f, const Job& job, std::set<std::string>& used) {
        const std::string name = SheetName(job.Label("burndown"), used);
        Sheet sheet(workbook, name, f);
        sheet.Header(0, {job.Label("date"), job.Label("problems_total"), job.Label("problems_open"),
                         job.Label("problems_closed")});
        sheet.Freeze(1, 0);
        lxw_row_t row = 1;
        for (const BurndownPoint& point : job.data.problems_burndown) {
            sheet.Date(row, 0, point.date, f.date);
            sheet.Number(row, 1, static_cast<double>(point.total), f.integer);
            sheet.Number(row, 2, static_cast<double>(point.open), f.integer);
            sheet.Number(row, 3, static_cast<double>(point.closed), f.integer);
            ++row;
        }
        sheet.SizeColumns();
        if (row <= 2)
            return;  // a chart needs two points
        const lxw_row_t last = row - 1;
        lxw_chart* chart = workbook_add_chart(workbook, LXW_CHART_LINE);
        chart_title_set_name(chart, job.Label("chart_burndown").c_str());
        const std::array<std::pair<lxw_col_t, lxw_color_t>, 3> series_columns = {
            {{1, 0x8D99AE}, {2, 0x7B2CBF}, {3, 0x0077B6}}};
        for (const auto& [col, color] : series_columns) {
            lxw_chart_series* series = chart_add_series(chart, nullptr, nullptr);
            chart_series_set_categories(series, name.c_str(), 1, 0, last, 0);
            chart_series_set_values(series, name.c_str(), 1, col, last, col);
            chart_series_set_name_range(series, name.c_str(), 0, col);
            lxw_chart_line line{};
            line.color = color;
            line.width = col == 1 ? 1.25F : 2.25F;
            if (col == 1)
                line.dash_type = LXW_CHART_LINE_DASH_DASH;
            chart_series_set_line(series, &line);
        }
        chart_axis_set_num_format(chart->x_axis, "yyyy-mm-dd");
        chart_legend_set_position(chart, LXW_CHART_LEGEND_BOTTOM);
        lxw_chart_options options{};
        options.x_scale = 2.0;
        options.y_scale = 1.5;
        worksheet_insert_chart_opt(sheet.Handle(), 1, 5, chart, &options);
    }
};

}  // namespace
}  // namespace cascade::report::xlsx

CASCADE_PLUGIN(cascade::report::xlsx::ReportXlsx, "report-xlsx")
