// The words and number formats of the reports in each locale. One table for
// every reporter, so an HTML page, a workbook and a briefing call the same
// thing by the same name (逾期, 问题清单 …). Templates receive the whole table
// as `label.<key>`.
#pragma once

#include "cascade/report/model.hpp"

#include <boost/json.hpp>

#include <array>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

namespace cascade::report {

struct Label {
    std::string_view key;
    std::string_view zh;
    std::string_view en;
};

// Keys are snake_case; templates use them as {{label.key}}.
inline constexpr std::array kLabels = {
    Label{"report_title", "主题教育进度报告", "Campaign progress report"},
    Label{"progress", "进度", "Progress"},
    Label{"overview", "总体情况", "Overview"},
    Label{"generated_at", "生成时间", "Generated"},
    Label{"as_of", "统计截至", "As of"},
    Label{"period", "起止时间", "Period"},
    Label{"units", "单位数", "Units"},
    Label{"unit", "单位", "Unit"},
    Label{"unit_id", "单位编码", "Unit ID"},
    Label{"unit_name", "单位名称", "Unit name"},
    Label{"category", "单位类别", "Category"},
    Label{"stage", "阶段", "Stage"},
    Label{"status", "状态", "Status"},
    Label{"applicable", "应办事项", "Applicable steps"},
    Label{"done", "已完成", "Done"},
    Label{"open", "未完成（未逾期）", "Open (on time)"},
    Label{"overdue", "逾期", "Overdue"},
    Label{"percent_done", "完成率", "% done"},
    Label{"steps_applicable", "应办事项总数", "Steps applicable"},
    Label{"steps_done", "已完成事项", "Steps done"},
    Label{"overdue_steps", "逾期事项", "Overdue steps"},
    Label{"overdue_units", "有逾期事项的单位", "Units with overdue steps"},
    Label{"problems", "问题清单", "Problems"},
    Label{"problems_total", "问题总数", "Problems in total"},
    Label{"problems_open", "未销号问题", "Open problems"},
    Label{"problems_closed", "已销号问题", "Closed problems"},
    Label{"percent_closed", "销号率", "% closed"},
    Label{"summary", "汇总", "Summary"},
    Label{"burndown", "问题销号趋势", "Problem burn-down"},
    Label{"date", "日期", "Date"},
    Label{"step", "事项", "Step"},
    Label{"step_id", "事项编码", "Step ID"},
    Label{"due", "截止日期", "Due"},
    Label{"days_overdue", "逾期天数", "Days overdue"},
    Label{"chart_progress", "各阶段分类进度", "Progress of each stage by unit category"},
    Label{"chart_overdue", "逾期事项最多的单位（前20名）", "Units with the most overdue steps (top 20)"},
    Label{"chart_burndown", "问题清单销号进度", "Problem list burn-down"},
    Label{"stage_tables", "各阶段单位进度", "Progress of each unit by stage"},
    Label{"stage_summary", "各阶段进度", "Progress by stage"},
    Label{"totals", "合计", "Total"},
    Label{"top_overdue", "逾期较多的单位", "Units most behind"},
    Label{"not_applicable", "不适用", "n/a"},
    Label{"empty", "暂无数据：尚无单位纳入本次统计。", "No data yet: no units are in scope of this report."},
    Label{"no_overdue", "暂无逾期事项。", "No overdue steps."},
    Label{"no_problems", "暂无问题清单数据。", "No problem list data yet."},
    Label{"no_stage_units", "本阶段暂无适用单位。", "No unit has steps in this stage."},
    Label{"status_running", "进行中", "running"},
    Label{"status_completed", "已完成", "completed"},
    Label{"status_failed", "已终止", "failed"},
    Label{"more_units", "另有{n}个单位有逾期事项", "{n} more units have overdue steps"},
};

// The label `key` in `locale`; the key itself when unknown, so a typo shows instead of vanishing.
inline std::string L(Locale locale, std::string_view key) {
    for (const Label& label : kLabels) {
        if (label.key == key)
            return std::string(locale == Locale::zh ? label.zh : label.en);
    }
    return std::string(key);
}

// Every label as a JSON object, for template contexts.
inline boost::json::object LabelObject(Locale locale) {
    boost::json::object labels;
    for (const Label& label : kLabels)
        labels[label.key] = locale == Locale::zh ? label.zh : label.en;
    return labels;
}

inline std::string StatusText(Locale locale, std::string_view status) {
    if (status == "running" || status == "completed" || status == "failed") {
        return L(locale, "status_" + std::string(status));
    }
    return std::string(status);
}

// 12345 → "12345" (zh: no grouping, as county documents write counts) or "12,345" (en).
inline std::string FormatCount(std::int64_t value, Locale locale) {
    std::string digits = std::to_string(value < 0 ? -value : value);
    if (locale == Locale::en) {
        for (auto i = static_cast<std::ptrdiff_t>(digits.size()) - 3; i > 0; i -= 3) {
            digits.insert(static_cast<std::size_t>(i), ",");
        }
    }
    return value < 0 ? "-" + digits : digits;
}

// done / applicable in [0, 1]; nullopt when nothing applies.
inline std::optional<double> Share(std::int64_t part, std::int64_t whole) {
    if (whole <= 0)
        return std::nullopt;
    const double share = static_cast<double>(part) / static_cast<double>(whole);
    return share < 0 ? 0.0 : (share > 1 ? 1.0 : share);
}

// "66.7%", or "—" when nothing applies. Rounded half away from zero to one decimal.
inline std::string FormatPercent(std::int64_t part, std::int64_t whole) {
    const auto share = Share(part, whole);
    if (!share)
        return "—";
    std::array<char, 32> buffer{};
    std::snprintf(buffer.data(), buffer.size(), "%.1f%%", *share * 100.0 + 1e-9);
    return buffer.data();
}

// "2023-11-20T10:00:00+08:00" → "2023-11-20 10:00"; a bare date stays as it is.
inline std::string FormatTimestamp(std::string_view text) {
    if (text.size() >= 16 && text[10] == 'T')
        return std::string(text.substr(0, 10)) + " " + std::string(text.substr(11, 5));
    return std::string(text);
}

// "2023-09-01" and "2024-01-31" → "2023-09-01 — 2024-01-31" (either may be missing).
inline std::string FormatPeriod(const Campaign& campaign) {
    if (campaign.start.empty() && campaign.end.empty())
        return {};
    return campaign.start + " — " + campaign.end;
}

// Month names for chart axes: "9月"/"Sep", with the year at January and at the first tick.
inline std::string MonthTick(const CivilDate& date, Locale locale, bool with_year) {
    static constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    if (locale == Locale::zh) {
        return (with_year ? std::to_string(date.year) + "年" : std::string()) + std::to_string(date.month) + "月";
    }
    std::string text(kMonths[static_cast<std::size_t>(date.month - 1)]);
    return with_year ? text + " " + std::to_string(date.year) : text;
}

}  // namespace cascade::report
