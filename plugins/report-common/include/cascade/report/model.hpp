// The params of the `report` method as plain structs, read once and checked
// field by field, so each reporter formats data instead of walking JSON.
// Aggregates the engine may leave out (stage_progress, overdue_by_unit,
// totals, even stages and categories) are derived from the units, so every
// reporter sees the same complete picture whichever fields arrived.
#pragma once

#include <boost/json.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cascade::report {

namespace json = boost::json;

// Malformed params: the message names the offending field ("params.units[3].id ...").
class ParamsError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

enum class Locale { zh, en };

// "zh", "zh-CN", "zh_Hans"… → zh; "en", "en-US"… → en; anything else → nullopt.
inline std::optional<Locale> ParseLocale(std::string_view text) {
    auto starts = [&](std::string_view prefix) {
        if (text.size() < prefix.size())
            return false;
        for (std::size_t i = 0; i < prefix.size(); ++i) {
            const char c = text[i];
            const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
            if (lower != prefix[i])
                return false;
        }
        return text.size() == prefix.size() || text[prefix.size()] == '-' || text[prefix.size()] == '_';
    };
    if (starts("zh"))
        return Locale::zh;
    if (starts("en"))
        return Locale::en;
    return std::nullopt;
}

// A text in both languages; either may be empty.
struct Text {
    std::string zh;
    std::string en;

    // The text in `locale`, falling back to the other language.
    const std::string& In(Locale locale) const {
        if (locale == Locale::en)
            return en.empty() ? zh : en;
        return zh.empty() ? en : zh;
    }
    bool Empty() const { return zh.empty() && en.empty(); }
};

struct Counts {
    std::int64_t applicable = 0;
    std::int64_t done = 0;
    std::int64_t overdue = 0;

    // Steps neither done nor overdue; inconsistent input never yields a negative share.
    std::int64_t OpenOnTime() const { return std::max<std::int64_t>(0, applicable - done - overdue); }
    Counts& operator+=(const Counts& other) {
        applicable += other.applicable;
        done += other.done;
        overdue += other.overdue;
        return *this;
    }
};

struct Stage {
    std::string id;
    Text title;
};

struct Category {
    std::string id;
    Text title;
};

struct OverdueStep {
    std::string step;
    Text title;
    std::string due;  // YYYY-MM-DD, may be empty
};

struct Unit {
    std::string id;
    std::string name;
    std::string category;
    std::string parent;
    std::string instance;
    std::string status;  // running | completed | failed (free text kept as given)
    std::map<std::string, Counts> stages;
    std::vector<std::string> open_steps;
    std::vector<OverdueStep> overdue_steps;
    std::int64_t problems_open = 0;
    std::int64_t problems_total = 0;

    // The unit's overdue count: the larger of its listed steps and its per-stage counts.
    std::int64_t Overdue() const {
        std::int64_t sum = 0;
        for (const auto& [stage, counts] : stages)
            sum += counts.overdue;
        return std::max<std::int64_t>(sum, static_cast<std::int64_t>(overdue_steps.size()));
    }
    Counts Sum() const {
        Counts total;
        for (const auto& [stage, counts] : stages)
            total += counts;
        return total;
    }
};

struct StageProgress {
    std::string stage;
    std::string category;
    Counts counts;
};

struct OverdueUnit {
    std::string unit;
    std::string name;
    std::int64_t overdue = 0;
};

struct BurndownPoint {
    std::string date;  // YYYY-MM-DD
    std::int64_t total = 0;
    std::int64_t open = 0;
    std::int64_t closed = 0;
};

struct Totals {
    std::int64_t units = 0;
    std::int64_t steps_applicable = 0;
    std::int64_t steps_done = 0;
    std::int64_t overdue = 0;
    std::int64_t problems_open = 0;
    std::int64_t problems_closed = 0;
};

struct Campaign {
    std::string id;
    std::string workflow;
    Text title;
    std::string start;
    std::string end;
    std::string scope_root;
};

struct ReportData {
    std::optional<std::string> out_dir;
    std::string generated_at;
    std::string today;
    std::optional<Locale> locale;
    Campaign campaign;
    std::vector<Stage> stages;
    std::vector<Category> categories;
    std::vector<Unit> units;
    std::vector<StageProgress> stage_progress;
    std::vector<OverdueUnit> overdue_by_unit;
    std::vector<BurndownPoint> problems_burndown;
    Totals totals;

    const Stage* FindStage(std::string_view id) const {
        for (const auto& stage : stages)
            if (stage.id == id)
                return &stage;
        return nullptr;
    }
    const Category* FindCategory(std::string_view id) const {
        for (const auto& category : categories)
            if (category.id == id)
                return &category;
        return nullptr;
    }
    // The category's title in `in`, or its id when the params gave no title.
    std::string CategoryTitle(std::string_view id, Locale in) const {
        if (id.empty())
            return in == Locale::zh ? "未分类" : "Uncategorized";
        const Category* category = FindCategory(id);
        if (category == nullptr || category->title.Empty())
            return std::string(id);
        return category->title.In(in);
    }
    std::string StageTitle(std::string_view id, Locale in) const {
        const Stage* stage = FindStage(id);
        if (stage == nullptr || stage->title.Empty())
            return std::string(id);
        return stage->title.In(in);
    }
    // Progress of one stage summed over all categories.
    Counts StageTotal(std::string_view stage) const {
        Counts total;
        for (const auto& row : stage_progress)
            if (row.stage == stage)
                total += row.counts;
        return total;
    }
};

// ---- Dates (proleptic Gregorian, days since 1970-01-01) ----

// Days since the epoch for "YYYY-MM-DD" (a longer ISO timestamp is cut to its date); nullopt if malformed.
inline std::optional<std::int64_t> DaysFromDate(std::string_view text) {
    if (text.size() < 10 || text[4] != '-' || text[7] != '-')
        return std::nullopt;
    auto digits = [&](std::size_t from, std::size_t count) -> std::optional<int> {
        int value = 0;
        for (std::size_t i = from; i < from + count; ++i) {
            if (text[i] < '0' || text[i] > '9')
                return std::nullopt;
            value = value * 10 + (text[i] - '0');
        }
        return value;
    };
    const auto year = digits(0, 4);
    const auto month = digits(5, 2);
    const auto day = digits(8, 2);
    if (!year || !month || !day || *month < 1 || *month > 12 || *day < 1 || *day > 31)
        return std::nullopt;
    if (text.size() > 10 && text[10] != 'T' && text[10] != ' ')
        return std::nullopt;
    // Howard Hinnant's days_from_civil.
    const std::int64_t y = *year - (*month <= 2 ? 1 : 0);
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const auto mp = static_cast<unsigned>(*month > 2 ? *month - 3 : *month + 9);
    const unsigned doy = (153 * mp + 2) / 5 + static_cast<unsigned>(*day) - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct CivilDate {
    int year = 1970;
    int month = 1;
    int day = 1;
};

inline CivilDate DateFromDays(std::int64_t days) {
    const std::int64_t z = days + 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned day = doy - (153 * mp + 2) / 5 + 1;
    const unsigned month = mp < 10 ? mp + 3 : mp - 9;
    const std::int64_t year = static_cast<std::int64_t>(yoe) + era * 400 + (month <= 2 ? 1 : 0);
    return {static_cast<int>(year), static_cast<int>(month), static_cast<int>(day)};
}

namespace detail {

// Reads fields of one JSON object and names them by their path in messages.
class Reader {
public:
    Reader(const json::object& object, std::string path) : object_(object), path_(std::move(path)) {}

    std::string Path(std::string_view key) const { return path_ + "." + std::string(key); }
    const json::value* Find(std::string_view key) const {
        const json::value* value = object_.if_contains(key);
        return (value == nullptr || value->is_null()) ? nullptr : value;
    }
    std::string RequireString(std::string_view key) const {
        const json::value* value = Find(key);
        if (value == nullptr)
            throw ParamsError(Path(key) + " is missing");
        return String(*value, Path(key));
    }
    std::string OptString(std::string_view key, std::string_view fallback = {}) const {
        const json::value* value = Find(key);
        return value == nullptr ? std::string(fallback) : String(*value, Path(key));
    }
    std::int64_t OptCount(std::string_view key) const {
        const json::value* value = Find(key);
        return value == nullptr ? 0 : Count(*value, Path(key));
    }
    const json::array* OptArray(std::string_view key) const {
        const json::value* value = Find(key);
        if (value == nullptr)
            return nullptr;
        if (!value->is_array())
            throw ParamsError(Path(key) + " must be an array");
        return &value->get_array();
    }
    const json::object* OptObject(std::string_view key) const {
        const json::value* value = Find(key);
        if (value == nullptr)
            return nullptr;
        if (!value->is_object())
            throw ParamsError(Path(key) + " must be an object");
        return &value->get_object();
    }
    Text OptText(std::string_view key) const {
        const json::value* value = Find(key);
        return value == nullptr ? Text{} : ReadText(*value, Path(key));
    }

    static std::string String(const json::value& value, const std::string& path) {
        if (!value.is_string())
            throw ParamsError(path + " must be a string");
        return std::string(value.get_string());
    }
    // A non-negative whole number (JSON integers, or doubles with no fraction).
    static std::int64_t Count(const json::value& value, const std::string& path) {
        if (value.is_int64() && value.get_int64() >= 0)
            return value.get_int64();
        if (value.is_uint64() && value.get_uint64() <= static_cast<std::uint64_t>(INT64_MAX))
            return static_cast<std::int64_t>(value.get_uint64());
        if (value.is_double()) {
            const double d = value.get_double();
            if (d >= 0 && d <= 9.0e15 && static_cast<double>(static_cast<std::int64_t>(d)) == d)
                return static_cast<std::int64_t>(d);
        }
        throw ParamsError(path + " must be a whole number >= 0");
    }
    // A bilingual text: {"zh": ..., "en": ...}, or a plain string used for both.
    static Text ReadText(const json::value& value, const std::string& path) {
        if (value.is_string()) {
            const std::string text(value.get_string());
            return {text, text};
        }
        if (!value.is_object())
            throw ParamsError(path + " must be a string or an object {zh, en}");
        const Reader reader(value.get_object(), path);
        return {reader.OptString("zh"), reader.OptString("en")};
    }
    static const json::object& Object(const json::value& value, const std::string& path) {
        if (!value.is_object())
            throw ParamsError(path + " must be an object");
        return value.get_object();
    }
    static std::string Date(const json::value& value, const std::string& path) {
        std::string text = String(value, path);
        if (!DaysFromDate(text))
            throw ParamsError(path + " must be a date (YYYY-MM-DD), not '" + text + "'");
        return text.substr(0, 10);
    }

private:
    const json::object& object_;
    std::string path_;
};

inline std::string Indexed(const std::string& path, std::size_t index) {
    return path + "[" + std::to_string(index) + "]";
}

inline Counts ReadCounts(const json::value& value, const std::string& path) {
    const Reader reader(Reader::Object(value, path), path);
    return {reader.OptCount("applicable"), reader.OptCount("done"), reader.OptCount("overdue")};
}

inline Unit ReadUnit(const json::value& value, const std::string& path) {
    const Reader reader(Reader::Object(value, path), path);
    Unit unit;
    unit.id = reader.RequireString("id");
    if (unit.id.empty())
        throw ParamsError(reader.Path("id") + " must not be empty");
    unit.name = reader.OptString("name");
    if (unit.name.empty())
        unit.name = unit.id;
    unit.category = reader.OptString("category");
    unit.parent = reader.OptString("parent");
    unit.instance = reader.OptString("instance");
    unit.status = reader.OptString("status");
    if (const json::object* stages = reader.OptObject("stages")) {
        for (const auto& [stage, counts] : *stages) {
            unit.stages[std::string(stage)] = ReadCounts(counts, reader.Path("stages") + "." + std::string(stage));
        }
    }
    if (const json::array* steps = reader.OptArray("open_steps")) {
        for (std::size_t i = 0; i < steps->size(); ++i) {
            unit.open_steps.push_back(Reader::String((*steps)[i], Indexed(reader.Path("open_steps"), i)));
        }
    }
    if (const json::array* steps = reader.OptArray("overdue_steps")) {
        for (std::size_t i = 0; i < steps->size(); ++i) {
            const std::string step_path = Indexed(reader.Path("overdue_steps"), i);
            const Reader step(Reader::Object((*steps)[i], step_path), step_path);
            OverdueStep overdue{step.RequireString("step"), step.OptText("title"), {}};
            if (const json::value* due = step.Find("due"))
                overdue.due = Reader::Date(*due, step.Path("due"));
            unit.overdue_steps.push_back(std::move(overdue));
        }
    }
    unit.problems_open = reader.OptCount("problems_open");
    unit.problems_total = std::max(reader.OptCount("problems_total"), unit.problems_open);
    return unit;
}

// Fills what the params left out from the units, in the order things first appear.
inline void Derive(ReportData& report, bool has_stage_progress, bool has_overdue, bool has_totals,
                   const json::object* totals) {
    std::set<std::string> known_stages;
    for (const auto& stage : report.stages)
        known_stages.insert(stage.id);
    std::set<std::string> known_categories;
    for (const auto& category : report.categories)
        known_categories.insert(category.id);
    for (const auto& unit : report.units) {
        if (known_categories.insert(unit.category).second)
            report.categories.push_back({unit.category, {}});
        for (const auto& [stage, counts] : unit.stages) {
            if (known_stages.insert(stage).second)
                report.stages.push_back({stage, {}});
        }
    }
    if (!has_stage_progress) {
        for (const auto& stage : report.stages) {
            for (const auto& category : report.categories) {
                StageProgress row{stage.id, category.id, {}};
                bool any = false;
                for (const auto& unit : report.units) {
                    if (unit.category != category.id)
                        continue;
                    if (auto found = unit.stages.find(stage.id); found != unit.stages.end()) {
                        row.counts += found->second;
                        any = true;
                    }
                }
                if (any)
                    report.stage_progress.push_back(std::move(row));
            }
        }
    }
    if (!has_overdue) {
        for (const auto& unit : report.units) {
            if (const std::int64_t overdue = unit.Overdue(); overdue > 0) {
                report.overdue_by_unit.push_back({unit.id, unit.name, overdue});
            }
        }
        std::stable_sort(report.overdue_by_unit.begin(), report.overdue_by_unit.end(),
                         [](const OverdueUnit& a, const OverdueUnit& b) { return a.overdue > b.overdue; });
    }
    Totals derived;
    derived.units = static_cast<std::int64_t>(report.units.size());
    for (const auto& row : report.stage_progress) {
        derived.steps_applicable += row.counts.applicable;
        derived.steps_done += row.counts.done;
        derived.overdue += row.counts.overdue;
    }
    for (const auto& unit : report.units) {
        derived.problems_open += unit.problems_open;
        derived.problems_closed += unit.problems_total - unit.problems_open;
    }
    if (!has_totals) {
        report.totals = derived;
        return;
    }
    // Totals given: take each field given, derive the rest.
    const Reader reader(*totals, "params.totals");
    auto pick = [&](std::string_view key, std::int64_t fallback) {
        return reader.Find(key) != nullptr ? reader.OptCount(key) : fallback;
    };
    report.totals.units = pick("units", derived.units);
    report.totals.steps_applicable = pick("steps_applicable", derived.steps_applicable);
    report.totals.steps_done = pick("steps_done", derived.steps_done);
    report.totals.overdue = pick("overdue", derived.overdue);
    report.totals.problems_open = pick("problems_open", derived.problems_open);
    report.totals.problems_closed = pick("problems_closed", derived.problems_closed);
}

}  // namespace detail

// Reads and checks the params of `report`. Throws ParamsError naming the first bad field.
inline ReportData ParseReport(const json::object& params) {
    using detail::Indexed;
    using detail::Reader;
    const Reader reader(params, "params");
    ReportData report;
    if (const json::value* out_dir = reader.Find("out_dir")) {
        report.out_dir = Reader::String(*out_dir, "params.out_dir");
        if (report.out_dir->empty())
            throw ParamsError("params.out_dir must not be empty");
    }
    report.generated_at = reader.OptString("generated_at");
    if (const json::value* today = reader.Find("today"))
        report.today = Reader::Date(*today, "params.today");
    if (report.today.empty() && DaysFromDate(report.generated_at))
        report.today = report.generated_at.substr(0, 10);
    if (const json::value* locale = reader.Find("locale")) {
        report.locale = ParseLocale(Reader::String(*locale, "params.locale"));
        if (!report.locale)
            throw ParamsError("params.locale must be \"zh\" or \"en\"");
    }
    if (const json::object* campaign = reader.OptObject("campaign")) {
        const Reader c(*campaign, "params.campaign");
        report.campaign = {c.OptString("id"),    c.OptString("workflow"), c.OptText("title"),
                           c.OptString("start"), c.OptString("end"),      c.OptString("scope_root")};
    }
    if (const json::array* stages = reader.OptArray("stages")) {
        for (std::size_t i = 0; i < stages->size(); ++i) {
            const std::string path = Indexed("params.stages", i);
            const Reader stage(Reader::Object((*stages)[i], path), path);
            report.stages.push_back({stage.RequireString("id"), stage.OptText("title")});
        }
    }
    if (const json::array* categories = reader.OptArray("categories")) {
        for (std::size_t i = 0; i < categories->size(); ++i) {
            const std::string path = Indexed("params.categories", i);
            const Reader category(Reader::Object((*categories)[i], path), path);
            report.categories.push_back({category.RequireString("id"), category.OptText("title")});
        }
    }
    const json::value* units = reader.Find("units");
    if (units == nullptr)
        throw ParamsError("params.units is missing");
    if (!units->is_array())
        throw ParamsError("params.units must be an array");
    std::set<std::string> unit_ids;
    for (std::size_t i = 0; i < units->get_array().size(); ++i) {
        Unit unit = detail::ReadUnit(units->get_array()[i], Indexed("params.units", i));
        if (!unit_ids.insert(unit.id).second) {
            throw ParamsError(Indexed("params.units", i) + ".id '" + unit.id + "' appears twice");
        }
        report.units.push_back(std::move(unit));
    }
    const json::array* progress = reader.OptArray("stage_progress");
    if (progress != nullptr) {
        for (std::size_t i = 0; i < progress->size(); ++i) {
            const std::string path = Indexed("params.stage_progress", i);
            const Reader row(Reader::Object((*progress)[i], path), path);
            report.stage_progress.push_back(
                {row.RequireString("stage"), row.OptString("category"), detail::ReadCounts((*progress)[i], path)});
        }
    }
    const json::array* overdue = reader.OptArray("overdue_by_unit");
    if (overdue != nullptr) {
        for (std::size_t i = 0; i < overdue->size(); ++i) {
            const std::string path = Indexed("params.overdue_by_unit", i);
            const Reader row(Reader::Object((*overdue)[i], path), path);
            OverdueUnit entry{row.RequireString("unit"), row.OptString("name"), row.OptCount("overdue")};
            if (entry.name.empty())
                entry.name = entry.unit;
            if (entry.overdue > 0)
                report.overdue_by_unit.push_back(std::move(entry));
        }
        std::stable_sort(report.overdue_by_unit.begin(), report.overdue_by_unit.end(),
                         [](const OverdueUnit& a, const OverdueUnit& b) { return a.overdue > b.overdue; });
    }
    if (const json::array* burndown = reader.OptArray("problems_burndown")) {
        for (std::size_t i = 0; i < burndown->size(); ++i) {
            const std::string path = Indexed("params.problems_burndown", i);
            const Reader point(Reader::Object((*burndown)[i], path), path);
            const json::value* date = point.Find("date");
            if (date == nullptr)
                throw ParamsError(point.Path("date") + " is missing");
            BurndownPoint entry{Reader::Date(*date, point.Path("date")), point.OptCount("total"),
                                point.OptCount("open"), point.OptCount("closed")};
            if (point.Find("total") == nullptr)
                entry.total = entry.open + entry.closed;
            report.problems_burndown.push_back(std::move(entry));
        }
        std::stable_sort(report.problems_burndown.begin(), report.problems_burndown.end(),
                         [](const BurndownPoint& a, const BurndownPoint& b) { return a.date < b.date; });
    }
    const json::object* totals = reader.OptObject("totals");
    detail::Derive(report, progress != nullptr, overdue != nullptr, totals != nullptr, totals);
    return report;
}

}  // namespace cascade::report
