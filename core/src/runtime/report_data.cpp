// Builds the `report` params from the projections (see report_data.hpp).
#include "cascade/runtime/report_data.hpp"

#include <algorithm>
#include <map>
#include <stdexcept>

namespace cascade::runtime {

namespace json = boost::json;

namespace {

json::object Text(const model::LocalizedText& text, const std::string& fallback) {
    return {{"zh", text.zh.empty() ? (text.en.empty() ? fallback : text.en) : text.zh},
            {"en", text.en.empty() ? (text.zh.empty() ? fallback : text.zh) : text.en}};
}

}  // namespace

json::object BuildReportParams(Runtime& runtime, const ReportRequest& request) {
    store::Store& store = runtime.Store();
    std::optional<store::CampaignRow> campaign;
    if (request.campaign.empty()) {
        const auto campaigns = store.Campaigns();
        if (!campaigns.empty())
            campaign = campaigns.front();
    } else {
        campaign = store.GetCampaign(request.campaign);
    }
    if (!campaign) {
        throw std::invalid_argument(request.campaign.empty()
                                        ? "the database holds no campaign"
                                        : "no campaign '" + request.campaign + "' in the database");
    }
    const auto progress = runtime.ProgressReport(campaign->id);
    const model::UnitTree& units = runtime.Units();
    const engine::Timestamp now = runtime.Clock().Now();
    const int offset = runtime.UtcOffsetMinutes();
    const std::string today = engine::LocalDate(now, offset).ToString();

    // The campaign's workflow: the definition of its first top-level instance.
    const model::Definition* definition = nullptr;
    for (const auto& row : progress) {
        if (row.instance.parent_instance.empty()) {
            definition = &runtime.DefinitionOf(row.instance.id);
            break;
        }
    }
    if (definition == nullptr && !progress.empty())
        definition = &runtime.DefinitionOf(progress.front().instance.id);

    json::array stages;
    json::array categories;
    if (definition != nullptr) {
        for (const auto& stage : definition->stages)
            stages.push_back({{"id", stage.id}, {"title", Text(stage.title, stage.id)}});
        for (const auto& category : definition->categories)
            categories.push_back({{"id", category.id}, {"title", Text(category.title, category.id)}});
    }
    // Categories met in the units but not declared by the top workflow (subflow units).
    std::map<std::string, bool> known_categories;
    for (const auto& category : categories)
        known_categories[std::string(category.at("id").as_string())] = true;

    // Due dates of overdue steps, from the step projection.
    std::map<std::pair<std::string, std::string>, std::string> due_dates;
    for (const auto& step : store.Steps()) {
        if (step.overdue)
            due_dates[{step.instance, step.step}] = step.due;
    }

    json::array unit_rows;
    std::map<std::pair<std::string, std::string>, StageProgress> by_stage_category;
    json::array overdue_by_unit;
    std::int64_t steps_applicable = 0;
    std::int64_t steps_done = 0;
    std::int64_t overdue_total = 0;
    std::vector<std::pair<int, json::object>> overdue_units;
    for (const auto& row : progress) {
        const model::Unit* unit = units.Find(row.instance.unit);
        const model::Definition& own = runtime.DefinitionOf(row.instance.id);
        json::object stage_counts;
        for (const auto& [stage, counts] : row.stages) {
            stage_counts[stage] = {
                {"applicable", counts.applicable}, {"done", counts.done}, {"overdue", counts.overdue}};
            auto& total = by_stage_category[{stage, row.category}];
            total.applicable += counts.applicable;
            total.done += counts.done;
            total.overdue += counts.overdue;
            steps_applicable += counts.applicable;
            steps_done += counts.done;
        }
        json::array overdue_steps;
        for (const auto& step_id : row.overdue_steps) {
            const model::Step* step = own.FindStep(step_id);
            json::object item{{"step", step_id},
                              {"title", step != nullptr ? Text(step->title, step_id) : Text({}, step_id)}};
            if (const auto found = due_dates.find({row.instance.id, step_id}); found != due_dates.end())
                item["due"] = found->second;
            overdue_steps.push_back(std::move(item));
        }
        overdue_total += static_cast<std::int64_t>(row.overdue_steps.size());
        if (!row.overdue_steps.empty()) {
            overdue_units.emplace_back(
                static_cast<int>(row.overdue_steps.size()),
                json::object{
                    {"unit", row.instance.unit}, {"name", row.unit_name}, {"overdue", row.overdue_steps.size()}});
        }
        if (!known_categories.count(row.category)) {
            known_categories[row.category] = true;
            categories.push_back({{"id", row.category}, {"title", {{"zh", row.category}, {"en", row.category}}}});
        }
        unit_rows.push_back({{"id", row.instance.unit},
                             {"name", row.unit_name},
                             {"category", row.category},
                             {"parent", unit != nullptr ? unit->parent : std::string()},
                             {"instance", row.instance.id},
                             {"status", row.instance.status},
                             {"stages", std::move(stage_counts)},
                             {"open_steps", json::array(row.open_steps.begin(), row.open_steps.end())},
                             {"overdue_steps", std::move(overdue_steps)},
                             {"problems_open", row.problems_open},
                             {"problems_total", row.problems_total}});
    }
    std::stable_sort(overdue_units.begin(), overdue_units.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    for (auto& [count, item] : overdue_units)
        overdue_by_unit.push_back(std::move(item));

    json::array stage_progress;
    for (const auto& [key, counts] : by_stage_category) {
        stage_progress.push_back({{"stage", key.first},
                                  {"category", key.second},
                                  {"applicable", counts.applicable},
                                  {"done", counts.done},
                                  {"overdue", counts.overdue}});
    }

    // Burn-down: per day with a change, the problems listed so far, open and closed.
    std::map<std::string, std::pair<int, int>> changes;  // date -> (opened, closed)
    std::map<std::string, bool> in_campaign;
    for (const auto& row : progress)
        in_campaign[row.instance.id] = true;
    std::int64_t problems_open = 0;
    std::int64_t problems_closed = 0;
    for (const auto& problem : store.Problems()) {
        if (!in_campaign.count(problem.instance))
            continue;
        if (!problem.opened_on.empty())
            ++changes[problem.opened_on].first;
        if (problem.closed && !problem.closed_on.empty())
            ++changes[problem.closed_on].second;
        (problem.closed ? problems_closed : problems_open) += 1;
    }
    json::array burndown;
    int total = 0;
    int closed = 0;
    for (const auto& [date, delta] : changes) {
        total += delta.first;
        closed += delta.second;
        burndown.push_back({{"date", date}, {"total", total}, {"open", total - closed}, {"closed", closed}});
    }

    json::object campaign_json{
        {"id", campaign->id}, {"workflow", campaign->workflow_id}, {"scope_root", campaign->scope_root}};
    if (definition != nullptr) {
        campaign_json["title"] = Text(definition->title, definition->id);
        campaign_json["start"] = definition->start.ToString();
        campaign_json["end"] = definition->end.ToString();
    }
    return {{"out_dir", request.out_dir},
            {"generated_at", engine::FormatTimestamp(now, offset)},
            {"today", today},
            {"locale", request.locale},
            {"campaign", std::move(campaign_json)},
            {"stages", std::move(stages)},
            {"categories", std::move(categories)},
            {"units", std::move(unit_rows)},
            {"stage_progress", std::move(stage_progress)},
            {"overdue_by_unit", std::move(overdue_by_unit)},
            {"problems_burndown", std::move(burndown)},
            {"totals",
             {{"units", progress.size()},
              {"steps_applicable", steps_applicable},
              {"steps_done", steps_done},
              {"overdue", overdue_total},
              {"problems_open", problems_open},
              {"problems_closed", problems_closed}}}};
}

}  // namespace cascade::runtime
