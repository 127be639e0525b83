// The template context shared by the text reports (HTML page, Markdown
// briefing): every number already formatted for the locale, every list in
// report order. A template override can use anything listed here; the
// reporters' README files document the fields.
#pragma once

#include "cascade/report/model.hpp"
#include "cascade/report/reporter.hpp"
#include "cascade/report/text.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace cascade::report {

// One overdue step of one unit, with how late it is on `today`.
struct LateStep {
    const Unit* unit = nullptr;
    const OverdueStep* step = nullptr;
    std::int64_t days_overdue = 0;
};

// Every overdue step, latest first (then by unit order), for the lists of overdue steps.
inline std::vector<LateStep> LateSteps(const ReportData& data) {
    std::vector<LateStep> steps;
    const auto today = DaysFromDate(data.today);
    for (const auto& unit : data.units) {
        for (const auto& step : unit.overdue_steps) {
            const auto due = DaysFromDate(step.due);
            const std::int64_t days = (today && due) ? std::max<std::int64_t>(0, *today - *due) : 0;
            steps.push_back({&unit, &step, days});
        }
    }
    std::stable_sort(steps.begin(), steps.end(),
                     [](const LateStep& a, const LateStep& b) { return a.days_overdue > b.days_overdue; });
    return steps;
}

inline json::object CountsObject(const Counts& counts, Locale locale) {
    return {{"applicable", FormatCount(counts.applicable, locale)},
            {"done", FormatCount(counts.done, locale)},
            {"overdue", FormatCount(counts.overdue, locale)},
            {"open", FormatCount(counts.OpenOnTime(), locale)},
            {"percent_done", FormatPercent(counts.done, counts.applicable)},
            {"has_overdue", counts.overdue > 0}};
}

// The context of a text report. `top_units` bounds the list of units most behind.
inline json::object BuildContext(const Job& job, std::size_t top_units = 10) {
    const ReportData& data = job.data;
    const Locale locale = job.locale;
    json::object context;
    context["lang"] = locale == Locale::zh ? "zh-CN" : "en";
    context["locale"] = locale == Locale::zh ? "zh" : "en";
    context["title"] = job.title;
    context["subtitle"] = job.subtitle.empty() ? json::value(false) : json::value(job.subtitle);
    context["generated_at"] = FormatTimestamp(data.generated_at);
    context["today"] = data.today;
    const std::string period = FormatPeriod(data.campaign);
    context["period"] = period.empty() ? json::value(false) : json::value(period);
    context["campaign"] = json::object{{"id", data.campaign.id},
                                       {"workflow", data.campaign.workflow},
                                       {"title", data.campaign.title.In(locale)},
                                       {"start", data.campaign.start},
                                       {"end", data.campaign.end}};
    context["label"] = LabelObject(locale);
    context["has_data"] = !data.units.empty();

    const Totals& totals = data.totals;
    const std::int64_t problems_total = totals.problems_open + totals.problems_closed;
    context["totals"] =
        json::object{{"units", FormatCount(totals.units, locale)},
                     {"steps_applicable", FormatCount(totals.steps_applicable, locale)},
                     {"steps_done", FormatCount(totals.steps_done, locale)},
                     {"overdue", FormatCount(totals.overdue, locale)},
                     {"problems_open", FormatCount(totals.problems_open, locale)},
                     {"problems_closed", FormatCount(totals.problems_closed, locale)},
                     {"problems_total", FormatCount(problems_total, locale)},
                     {"percent_done", FormatPercent(totals.steps_done, totals.steps_applicable)},
                     {"percent_closed", FormatPercent(totals.problems_closed, problems_total)},
                     {"has_overdue", totals.overdue > 0},
                     {"overdue_units", FormatCount(static_cast<std::int64_t>(data.overdue_by_unit.size()), locale)}};

    json::array stages;
    for (const Stage& stage : data.stages) {
        const Counts total = data.StageTotal(stage.id);
        json::object entry = CountsObject(total, locale);
        entry["id"] = stage.id;
        entry["title"] = data.StageTitle(stage.id, locale);
        json::array categories;
        for (const StageProgress& row : data.stage_progress) {
            if (row.stage != stage.id || row.counts.applicable == 0)
                continue;
            json::object category = CountsObject(row.counts, locale);
            category["id"] = row.category;
            category["title"] = data.CategoryTitle(row.category, locale);
            category["stage"] = data.StageTitle(stage.id, locale);
            categories.push_back(std::move(category));
        }
        entry["categories"] = std::move(categories);
        json::array units;
        for (const Unit& unit : data.units) {
            const auto found = unit.stages.find(stage.id);
            if (found == unit.stages.end() || found->second.applicable == 0)
                continue;
            json::object row = CountsObject(found->second, locale);
            row["unit_id"] = unit.id;
            row["name"] = unit.name;
            row["category"] = data.CategoryTitle(unit.category, locale);
            row["status"] = StatusText(locale, unit.status);
            units.push_back(std::move(row));
        }
        entry["has_units"] = !units.empty();
        entry["units"] = std::move(units);
        stages.push_back(std::move(entry));
    }
    context["stages"] = std::move(stages);

    json::array overdue_units;
    for (std::size_t i = 0; i < data.overdue_by_unit.size() && i < top_units; ++i) {
        const OverdueUnit& unit = data.overdue_by_unit[i];
        overdue_units.push_back(json::object{{"rank", std::to_string(i + 1)},
                                             {"unit_id", unit.unit},
                                             {"name", unit.name},
                                             {"overdue", FormatCount(unit.overdue, locale)}});
    }
    context["overdue_units"] = std::move(overdue_units);
    if (data.overdue_by_unit.size() > top_units) {
        std::string more = L(locale, "more_units");
        const auto at = more.find("{n}");
        more.replace(at, 3, FormatCount(static_cast<std::int64_t>(data.overdue_by_unit.size() - top_units), locale));
        context["overdue_more"] = more;
    } else {
        context["overdue_more"] = false;
    }

    json::array late_steps;
    for (const LateStep& late : LateSteps(data)) {
        const std::string step_title = late.step->title.In(locale);
        late_steps.push_back(json::object{{"unit_id", late.unit->id},
                                          {"name", late.unit->name},
                                          {"step", late.step->step},
                                          {"title", step_title.empty() ? late.step->step : step_title},
                                          {"due", late.step->due},
                                          {"days_overdue", FormatCount(late.days_overdue, locale)}});
    }
    context["has_overdue_steps"] = !late_steps.empty();
    context["overdue_steps"] = std::move(late_steps);

    json::array problem_units;
    for (const Unit& unit : data.units) {
        if (unit.problems_total == 0)
            continue;
        problem_units.push_back(json::object{
            {"unit_id", unit.id},
            {"name", unit.name},
            {"category", data.CategoryTitle(unit.category, locale)},
            {"total", FormatCount(unit.problems_total, locale)},
            {"open", FormatCount(unit.problems_open, locale)},
            {"closed", FormatCount(unit.problems_total - unit.problems_open, locale)},
            {"percent_closed", FormatPercent(unit.problems_total - unit.problems_open, unit.problems_total)}});
    }
    json::object problems{{"has_data", problems_total > 0 || !data.problems_burndown.empty()},
                          {"units", std::move(problem_units)}};
    if (!data.problems_burndown.empty()) {
        const BurndownPoint& last = data.problems_burndown.back();
        problems["latest"] = json::object{{"date", last.date},
                                          {"total", FormatCount(last.total, locale)},
                                          {"open", FormatCount(last.open, locale)},
                                          {"closed", FormatCount(last.closed, locale)}};
    } else {
        problems["latest"] = false;
    }
    context["problems"] = std::move(problems);
    return context;
}

}  // namespace cascade::report
