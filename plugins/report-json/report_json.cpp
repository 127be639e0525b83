// report-json: the report data as one JSON file for other systems (a county
// dashboard, an archive). The form is stable and versioned ("format",
// "format_version"): fields are only ever added within a version; keys come
// in a fixed order and the file is indented, so two reports diff cleanly.
// Unlike the params it is complete: aggregates the engine left out are
// derived, and shares are computed.
#include "cascade/report/reporter.hpp"
#include "cascade/sdk.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

namespace cascade::report::jsonfile {
namespace {

constexpr std::string_view kFormat = "cascade.report";
constexpr int kFormatVersion = 1;

// Writes `value` indented by two spaces per level, keys in insertion order.
void Pretty(std::string& out, const json::value& value, int depth) {
    const std::string indent(static_cast<std::size_t>(depth + 1) * 2, ' ');
    const std::string closing(static_cast<std::size_t>(depth) * 2, ' ');
    if (value.is_object() && !value.get_object().empty()) {
        out += "{\n";
        bool first = true;
        for (const auto& [key, item] : value.get_object()) {
            if (!first)
                out += ",\n";
            first = false;
            out += indent + json::serialize(json::string(key)) + ": ";
            Pretty(out, item, depth + 1);
        }
        out += "\n" + closing + "}";
    } else if (value.is_array() && !value.get_array().empty()) {
        // Arrays of scalars stay on one line; arrays of objects get a line each.
        const bool scalars = std::none_of(value.get_array().begin(), value.get_array().end(),
                                          [](const json::value& v) { return v.is_structured(); });
        if (scalars) {
            out += json::serialize(value);
            return;
        }
        out += "[\n";
        bool first = true;
        for (const auto& item : value.get_array()) {
            if (!first)
                out += ",\n";
            first = false;
            out += indent;
            Pretty(out, item, depth + 1);
        }
        out += "\n" + closing + "]";
    } else if (value.is_double()) {
        // Shortest round-trip form ("81.6", not Boost's "8.16E1").
        std::array<char, 64> buffer{};
        const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value.get_double());
        out.append(buffer.data(), result.ptr);
    } else {
        out += json::serialize(value);
    }
}

json::value TextValue(const Text& text) {
    return json::object{{"zh", text.zh}, {"en", text.en}};
}

// Share in percent with one decimal, or null when nothing applies.
json::value PercentValue(std::int64_t part, std::int64_t whole) {
    const auto share = Share(part, whole);
    if (!share)
        return nullptr;
    return std::round(*share * 1000.0) / 10.0;
}

json::object CountsValue(const Counts& counts) {
    return {{"applicable", counts.applicable},
            {"done", counts.done},
            {"overdue", counts.overdue},
            {"open", counts.OpenOnTime()},
            {"percent_done", PercentValue(counts.done, counts.applicable)}};
}

json::object Document(const Job& job) {
    const ReportData& data = job.data;
    json::object doc;
    doc["format"] = kFormat;
    doc["format_version"] = kFormatVersion;
    doc["generated_at"] = data.generated_at;
    doc["today"] = data.today;
    doc["locale"] = job.locale == Locale::zh ? "zh" : "en";
    doc["title"] = job.title;
    doc["campaign"] = json::object{
        {"id", data.campaign.id},       {"workflow", data.campaign.workflow}, {"title", TextValue(data.campaign.title)},
        {"start", data.campaign.start}, {"end", data.campaign.end},           {"scope_root", data.campaign.scope_root}};
    json::array stages;
    for (const Stage& stage : data.stages) {
        json::object entry{{"id", stage.id}, {"title", TextValue(stage.title)}};
        for (auto& [key, value] : CountsValue(data.StageTotal(stage.id)))
            entry[key] = value;
        stages.push_back(std::move(entry));
    }
    doc["stages"] = std::move(stages);
    json::array categories;
    for (const Category& category : data.categories) {
        categories.push_back(json::object{{"id", category.id}, {"title", TextValue(category.title)}});
    }
    doc["categories"] = std::move(categories);

    json::array units;
    const auto today = DaysFromDate(data.today);
    for (const Unit& unit : data.units) {
        json::object stage_counts;
        for (const Stage& stage : data.stages) {
            if (const auto found = unit.stages.find(stage.id); found != unit.stages.end()) {
                stage_counts[stage.id] = CountsValue(found->second);
            }
        }
        json::array overdue_steps;
        for (const OverdueStep& step : unit.overdue_steps) {
            const auto due = DaysFromDate(step.due);
            overdue_steps.push_back(json::object{
                {"step", step.step},
                {"title", TextValue(step.title)},
                {"due", step.due.empty() ? json::value(nullptr) : json::value(step.due)},
                {"days_overdue", (today && due) ? json::value(std::max<std::int64_t>(0, *today - *due)) : nullptr}});
        }
        json::array open_steps;
        for (const auto& step : unit.open_steps)
            open_steps.emplace_back(step);
        const Counts sum = unit.Sum();
        units.push_back(json::object{{"id", unit.id},
                                     {"name", unit.name},
                                     {"category", unit.category},
                                     {"parent", unit.parent},
                                     {"instance", unit.instance},
                                     {"status", unit.status},
                                     {"stages", std::move(stage_counts)},
                                     {"steps_applicable", sum.applicable},
                                     {"steps_done", sum.done},
                                     {"overdue", unit.Overdue()},
                                     {"percent_done", PercentValue(sum.done, sum.applicable)},
                                     {"open_steps", std::move(open_steps)},
                                     {"overdue_steps", std::move(overdue_steps)},
                                     {"problems_total", unit.problems_total},
                                     {"problems_open", unit.problems_open},
                                     {"problems_closed", unit.problems_total - unit.problems_open}});
    }
    doc["units"] = std::move(units);

    json::array progress;
    for (const StageProgress& row : data.stage_progress) {
        json::object entry{{"stage", row.stage}, {"category", row.category}};
        for (auto& [key, value] : CountsValue(row.counts))
            entry[key] = value;
        progress.push_back(std::move(entry));
    }
    doc["stage_progress"] = std::move(progress);
    json::array overdue;
    for (const OverdueUnit& unit : data.overdue_by_unit) {
        overdue.push_back(json::object{{"unit", unit.unit}, {"name", unit.name}, {"overdue", unit.overdue}});
    }
    doc["overdue_by_unit"] = std::move(overdue);
    json::array burndown;
    for (const BurndownPoint& point : data.problems_burndown) {
        burndown.push_back(
            json::object{{"date", point.date}, {"total", point.total}, {"open", point.open}, {"closed", point.closed}});
    }
    doc["problems_burndown"] = std::move(burndown);
    const Totals& totals = data.totals;
    doc["totals"] = json::object{
        {"units", totals.units},
        {"units_overdue", static_cast<std::int64_t>(data.overdue_by_unit.size())},
        {"steps_applicable", totals.steps_applicable},
        {"steps_done", totals.steps_done},
        {"overdue", totals.overdue},
        {"percent_done", PercentValue(totals.steps_done, totals.steps_applicable)},
        {"problems_total", totals.problems_open + totals.problems_closed},
        {"problems_open", totals.problems_open},
        {"problems_closed", totals.problems_closed},
        {"percent_closed", PercentValue(totals.problems_closed, totals.problems_open + totals.problems_closed)}};
    return doc;
}

class ReportJson final : public Reporter {
public:
    using Reporter::Reporter;

protected:
    std::vector<std::filesystem::path> Write(const Job& job) override {
        std::string text;
        Pretty(text, Document(job), 0);
        text += '\n';
        return {WriteFileAtomically(job.out_dir, job.FileName(".json"), text)};
    }
};

}  // namespace
}  // namespace cascade::report::jsonfile

CASCADE_PLUGIN(cascade::report::jsonfile::ReportJson, "report-json")
