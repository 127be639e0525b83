// Loads working calendar files (kind: Calendar) into model::WorkingCalendar,
// reporting every problem in one pass with its file:line:column.
//
// The format (schemas/calendar.schema.json, docs/calendars.md):
//
//   apiVersion: cascade/v1
//   kind: Calendar
//   id: cn-mainland-2023-2024                 # kebab-case
//   title: {zh: ..., en: ...}                 # at least one language
//   source: {zh: ..., en: ...}                # optional: the official notice
//   covers: {from: 2023-01-01, to: 2024-12-31}
//   weekend: [saturday, sunday]               # optional, this is the default
//   holidays:                                 # rest days: one date or a range
//     - {name: {zh: 元旦, en: New Year's Day}, from: 2023-01-01, to: 2023-01-02}
//     - {name: {zh: 清明节, en: Qingming Festival}, date: 2023-04-05}
//   makeup_working_days:                      # 调休上班: weekend days worked
//     - {date: 2023-01-28, for: {zh: 春节, en: Spring Festival}}
//
// Dates are YYYY-MM-DD. Every holiday and make-up day lies within `covers`;
// a make-up day falls on a weekend day; no date is listed twice, nor as both
// a holiday and a make-up day. Holiday ranges may include weekend days.
//
// Holiday names, make-up reasons and `source` are checked but not kept: the
// model needs only the dates.
#include "cascade/lang/calendar_loader.hpp"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>
#include <algorithm>
#include <array>
#include <cerrno>
#include <fstream>
#include <map>
#include <span>
#include <string_view>
#include <system_error>
#include <vector>

namespace cascade::lang {

namespace {

using model::Date;

// Calendar files list a few dozen dates; anything near this size is a mistake
// or hostile input.
constexpr std::size_t kMaxCalendarFileBytes = std::size_t{1024} * 1024;
// A calendar covers a few years. The cap bounds the work of expanding ranges.
constexpr std::int32_t kMaxCoverYears = 100;
constexpr std::int32_t kMaxCoverDays = kMaxCoverYears * 366;

constexpr std::array<std::string_view, 7> kWeekdayNames = {"monday", "tuesday",  "wednesday", "thursday",
                                                           "friday", "saturday", "sunday"};

constexpr std::array<std::string_view, 9> kTopLevelKeys = {
    "apiVersion", "kind", "id", "title", "source", "covers", "weekend", "holidays", "makeup_working_days"};
constexpr std::array<std::string_view, 2> kTextKeys = {"zh", "en"};
constexpr std::array<std::string_view, 2> kCoversKeys = {"from", "to"};
constexpr std::array<std::string_view, 4> kHolidayKeys = {"name", "date", "from", "to"};
constexpr std::array<std::string_view, 2> kMakeupKeys = {"date", "for"};

using Names = std::span<const std::string_view>;

std::vector<std::string> ToStrings(Names names) {
    return {names.begin(), names.end()};
}

std::string Quoted(std::string_view text) {
    return "'" + std::string(text) + "'";
}

std::string JoinKeys(Names keys) {
    std::string joined;
    for (const auto& key : keys) {
        joined += joined.empty() ? "" : ", ";
        joined += key;
    }
    return joined;
}

bool IsKebabCase(std::string_view text) {
    if (text.empty() || text.front() == '-' || text.back() == '-') {
        return false;
    }
    char previous = 0;
    for (char c : text) {
        const bool allowed = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
        if (!allowed || (c == '-' && previous == '-')) {
            return false;
        }
        previous = c;
    }
    return true;
}

// Why a YYYY-MM-DD string is not a date, as a hint.
std::string InvalidDateHint(std::string_view text) {
    static constexpr std::array<std::string_view, 12> kMonthNames = {"January",   "February", "March",    "April",
                                                                     "May",       "June",     "July",     "August",
                                                                     "September", "October",  "November", "December"};
    const bool shaped =
        text.size() == 10 && text[4] == '-' && text[7] == '-' &&
        std::all_of(text.begin(), text.end(), [](char c) { return (c >= '0' && c <= '9') || c == '-'; });
    if (!shaped) {
        return "write dates as YYYY-MM-DD, e.g. 2023-10-01";
    }
    const int year = std::stoi(std::string(text.substr(0, 4)));
    const int month = std::stoi(std::string(text.substr(5, 2)));
    if (month < 1 || month > 12) {
        return "the month must be 01 to 12";
    }
    // The last day of the month: the day before the first of the next month.
    const Date next_month =
        month == 12 ? Date::FromCivil(year + 1, 1, 1) : Date::FromCivil(year, static_cast<unsigned>(month + 1), 1);
    return std::string(kMonthNames[static_cast<std::size_t>(month - 1)]) + " " + std::to_string(year) + " has " +
           std::to_string(next_month.AddDays(-1).Day()) + " days";
}

std::string WeekdayName(unsigned iso_weekday) {
    std::string name(kWeekdayNames[iso_weekday - 1]);
    name.front() = static_cast<char>(name.front() - 'a' + 'A');
    return name;
}

// One mapping's entries by key, after unknown and duplicate keys were reported.
struct Fields {
    struct Field {
        YAML::Node key;
        YAML::Node value;
    };
    YAML::Node map;
    std::map<std::string, Field, std::less<>> items;

    const Field* Find(std::string_view name) const {
        const auto found = items.find(name);
        return found == items.end() ? nullptr : &found->second;
    }
};

class CalendarReader {
public:
    CalendarReader(std::string file, Diagnostics& diagnostics) : file_(std::move(file)), diagnostics_(diagnostics) {}

    std::optional<model::WorkingCalendar> Read(const std::string& text) {
        if (text.size() > kMaxCalendarFileBytes) {
            diagnostics_.Error("file-too-large", {file_, 0, 0},
                               "calendar file is " + std::to_string(text.size()) + " bytes, more than the 1 MiB limit",
                               "a calendar lists a few dozen dates; check that this is the right file");
            return std::nullopt;
        }
        YAML::Node root;
        try {
            root = YAML::Load(text);
        } catch (const YAML::DeepRecursion& error) {
            diagnostics_.Error("yaml-too-deep", LocationOfMark(error.mark), "YAML nesting is too deep",
                               "a calendar nests only a few levels");
            return std::nullopt;
        } catch (const YAML::Exception& error) {
            diagnostics_.Error("yaml-syntax", LocationOfMark(error.mark), "invalid YAML: " + error.msg);
            return std::nullopt;
        }
        if (root.IsNull() || !root.IsDefined()) {
            diagnostics_.Error("empty-file", {file_, 0, 0}, "calendar file is empty",
                               "a calendar starts with 'apiVersion: cascade/v1' and 'kind: Calendar'");
            return std::nullopt;
        }
        if (!root.IsMap()) {
            diagnostics_.Error("wrong-type", At(root), "a calendar file must be a mapping of keys",
                               "a calendar starts with 'apiVersion: cascade/v1' and 'kind: Calendar'");
            return std::nullopt;
        }

        model::WorkingCalendar calendar;
        ReadDocument(root, calendar);
        if (diagnostics_.HasErrors()) {
            return std::nullopt;
        }
        return calendar;
    }

private:
    SourceLocation LocationOfMark(const YAML::Mark& mark) const {
        if (mark.is_null()) {
            return {file_, 0, 0};
        }
        return {file_, mark.line + 1, mark.column + 1};
    }

    SourceLocation At(const YAML::Node& node) const { return LocationOfMark(node.Mark()); }

    void ReadDocument(const YAML::Node& root, model::WorkingCalendar& calendar) {
        // A file of another kind (a workflow, say) would only produce noise:
        // say what it is and stop.
        if (!CheckKind(root)) {
            return;
        }
        const Fields fields = ReadFields(root, kTopLevelKeys, "calendar");
        for (const char* required : {"apiVersion", "kind", "id", "title", "covers"}) {
            if (fields.Find(required) == nullptr) {
                diagnostics_.Error("missing-key", At(root), "calendar is missing required key " + Quoted(required));
            }
        }
        if (const auto* api_version = fields.Find("apiVersion")) {
            if (const auto text = ReadScalar(api_version->value, "apiVersion"); text && *text != "cascade/v1") {
                diagnostics_.Error("unsupported-api-version", At(api_version->value),
                                   "unsupported apiVersion " + Quoted(*text),
                                   "this version of Cascade reads cascade/v1");
            }
        }
        if (const auto* kind = fields.Find("kind")) {
            ReadScalar(kind->value, "kind");
        }
        if (const auto* id = fields.Find("id")) {
            if (const auto text = ReadScalar(id->value, "id")) {
                if (IsKebabCase(*text)) {
                    calendar.id = *text;
                } else {
                    diagnostics_.Error("invalid-id", At(id->value), "id " + Quoted(*text) + " is not kebab-case",
                                       "use lower-case letters, digits and single hyphens, e.g. cn-mainland-2023-2024");
                }
            }
        }
        if (const auto* title = fields.Find("title")) {
            if (auto text = ReadText(title->value, "title")) {
                calendar.title = std::move(*text);
            }
        }
        if (const auto* source = fields.Find("source")) {
            ReadText(source->value, "source");
        }
        bool covers_known = false;
        if (const auto* covers = fields.Find("covers")) {
            covers_known = ReadCovers(covers->value, calendar);
        }
        if (const auto* weekend = fields.Find("weekend")) {
            ReadWeekend(weekend->value, calendar);
        }

        std::map<Date, int> holiday_lines;
        if (const auto* holidays = fields.Find("holidays")) {
            ReadHolidays(holidays->value, covers_known, calendar, holiday_lines);
        }
        if (const auto* makeups = fields.Find("makeup_working_days")) {
            ReadMakeupDays(makeups->value, covers_known, calendar, holiday_lines);
        }
    }

    // Reports unknown, duplicate and non-scalar keys; returns the rest by name.
    Fields ReadFields(const YAML::Node& map, Names allowed, std::string_view context) {
        Fields fields;
        fields.map = map;
        for (const auto& entry : map) {
            if (!entry.first.IsScalar()) {
                diagnostics_.Error("wrong-type", At(entry.first), "keys must be plain names");
                continue;
            }
            const std::string& key = entry.first.Scalar();
            if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
                std::string hint = DidYouMean(key, ToStrings(allowed));
                if (hint.empty()) {
                    hint = "expected one of: " + JoinKeys(allowed);
                }
                diagnostics_.Error("unknown-key", At(entry.first),
                                   "unknown key " + Quoted(key) + " in " + std::string(context), std::move(hint));
                continue;
            }
            if (const auto* first = fields.Find(key)) {
                diagnostics_.Error("duplicate-key", At(entry.first), "duplicate key " + Quoted(key),
                                   "first given at line " + std::to_string(At(first->key).line));
                continue;
            }
            fields.items.emplace(key, Fields::Field{entry.first, entry.second});
        }
        return fields;
    }

    // False when the document says it is of another kind than Calendar.
    bool CheckKind(const YAML::Node& root) {
        for (const auto& entry : root) {
            if (entry.first.IsScalar() && entry.first.Scalar() == "kind" && entry.second.IsScalar() &&
                entry.second.Scalar() != "Calendar") {
                diagnostics_.Error("wrong-kind", At(entry.second),
                                   "expected kind 'Calendar', found " + Quoted(entry.second.Scalar()),
                                   DidYouMean(entry.second.Scalar(), {"Calendar"}));
                return false;
            }
        }
        return true;
    }

    std::optional<std::string> ReadScalar(const YAML::Node& node, std::string_view what) {
        if (!node.IsScalar()) {
            diagnostics_.Error("wrong-type", At(node), std::string(what) + " must be a single value");
            return std::nullopt;
        }
        return node.Scalar();
    }

    std::optional<Date> ReadDate(const YAML::Node& node, std::string_view what) {
        const auto text = ReadScalar(node, what);
        if (!text) {
            return std::nullopt;
        }
        auto date = Date::Parse(*text);
        if (!date) {
            diagnostics_.Error("invalid-date", At(node), *text + " is not a date", InvalidDateHint(*text));
        }
        return date;
    }

    std::optional<model::LocalizedText> ReadText(const YAML::Node& node, std::string_view what) {
        if (!node.IsMap()) {
            diagnostics_.Error("wrong-type", At(node), std::string(what) + " must be a mapping of languages",
                               "write {zh: ..., en: ...}");
            return std::nullopt;
        }
        const Fields fields = ReadFields(node, kTextKeys, what);
        model::LocalizedText text;
        bool ok = true;
        for (const auto& [language, target] : {std::pair{"zh", &text.zh}, std::pair{"en", &text.en}}) {
            if (const auto* field = fields.Find(language)) {
                const std::string path = std::string(what) + "." + language;
                if (auto value = ReadScalar(field->value, path); value && value->empty()) {
                    diagnostics_.Error("missing-text", At(field->value), path + " is empty",
                                       "leave the language out rather than give it empty");
                    ok = false;
                } else if (value) {
                    *target = std::move(*value);
                } else {
                    ok = false;
                }
            }
        }
        if (ok && text.Empty()) {
            diagnostics_.Error("missing-text", At(node), std::string(what) + " has no text",
                               "give at least one of zh and en");
            return std::nullopt;
        }
        return ok ? std::optional(text) : std::nullopt;
    }

    bool ReadCovers(const YAML::Node& node, model::WorkingCalendar& calendar) {
        if (!node.IsMap()) {
            diagnostics_.Error("wrong-type", At(node), "covers must be a mapping",
                               "write {from: YYYY-MM-DD, to: YYYY-MM-DD}");
            return false;
        }
        const Fields fields = ReadFields(node, kCoversKeys, "covers");
        const auto from = ReadRequiredDate(fields, "from", "covers");
        const auto to = ReadRequiredDate(fields, "to", "covers");
        if (!from || !to) {
            return false;
        }
        if (*to < *from) {
            ReportInvertedRange(fields, *from, *to);
            return false;
        }
        if (*to - *from >= kMaxCoverDays) {
            diagnostics_.Error("covers-too-long", At(node),
                               "covers spans " + std::to_string((*to - *from) / 365) + " years, more than " +
                                   std::to_string(kMaxCoverYears),
                               "split the calendar into several files");
            return false;
        }
        calendar.covers_from = *from;
        calendar.covers_to = *to;
        return true;
    }

    std::optional<Date> ReadRequiredDate(const Fields& fields, const char* key, std::string_view what) {
        const auto* field = fields.Find(key);
        if (field == nullptr) {
            diagnostics_.Error("missing-key", At(fields.map), std::string(what) + " is missing " + Quoted(key));
            return std::nullopt;
        }
        return ReadDate(field->value, key);
    }

    void ReportInvertedRange(const Fields& fields, Date from, Date to) {
        diagnostics_.Error("inverted-range", At(fields.Find("from")->value),
                           "from " + from.ToString() + " is after to " + to.ToString(),
                           "a range runs from its first day to its last, both included");
    }

    void ReadWeekend(const YAML::Node& node, model::WorkingCalendar& calendar) {
        if (!node.IsSequence()) {
            diagnostics_.Error("wrong-type", At(node), "weekend must be a list of weekday names",
                               "write [saturday, sunday]");
            return;
        }
        std::set<unsigned> days;
        for (const auto& item : node) {
            const auto name = ReadScalar(item, "a weekend day");
            if (!name) {
                continue;
            }
            const auto found = std::find(kWeekdayNames.begin(), kWeekdayNames.end(), *name);
            if (found == kWeekdayNames.end()) {
                std::string hint = DidYouMean(*name, ToStrings(kWeekdayNames));
                diagnostics_.Error("unknown-weekday", At(item), "unknown weekday " + Quoted(*name),
                                   hint.empty() ? "weekdays are written monday ... sunday" : hint);
                continue;
            }
            if (!days.insert(static_cast<unsigned>(found - kWeekdayNames.begin()) + 1).second) {
                diagnostics_.Error("duplicate-weekday", At(item), "weekday " + Quoted(*name) + " is listed twice");
            }
        }
        if (days.size() == 7) {
            diagnostics_.Error("no-working-days", At(node), "weekend covers all seven days, leaving no working days");
            return;
        }
        calendar.weekend_days = std::move(days);
    }

    bool CheckCovered(const model::WorkingCalendar& calendar, Date from, Date to, const YAML::Node& node,
                      std::string_view what) {
        if (calendar.Covers(from) && calendar.Covers(to)) {
            return true;
        }
        const std::string dates = from == to ? from.ToString() : from.ToString() + " to " + to.ToString();
        diagnostics_.Error("outside-covers", At(node),
                           std::string(what) + " " + dates + " is outside covers (" + calendar.covers_from.ToString() +
                               " to " + calendar.covers_to.ToString() + ")",
                           "extend covers, or move the date to the calendar of its year");
        return false;
    }

    void ReadHolidays(const YAML::Node& node, bool covers_known, model::WorkingCalendar& calendar,
                      std::map<Date, int>& holiday_lines) {
        if (node.IsNull()) {
            return;
        }
        if (!node.IsSequence()) {
            diagnostics_.Error("wrong-type", At(node), "holidays must be a list");
            return;
        }
        for (const auto& item : node) {
            if (!item.IsMap()) {
                diagnostics_.Error("wrong-type", At(item), "a holiday must be a mapping",
                                   "write {name: {zh: ..., en: ...}, date: YYYY-MM-DD} or use from/to for a range");
                continue;
            }
            const Fields fields = ReadFields(item, kHolidayKeys, "holiday");
            if (const auto* name = fields.Find("name")) {
                ReadText(name->value, "name");
            } else {
                diagnostics_.Error("missing-key", At(item), "holiday is missing 'name'");
            }
            const auto range = ReadHolidayRange(fields);
            if (!range || !covers_known) {
                continue;
            }
            const auto& [from, to, located] = *range;
            if (!CheckCovered(calendar, from, to, located, "holiday")) {
                continue;
            }
            // Expanding stays cheap: the range lies within covers, and an entry
            // stops at its first duplicate, so each covered day is inserted once.
            for (Date day = from; day <= to; day = day.AddDays(1)) {
                const int line = At(located).line;
                const auto [existing, inserted] = holiday_lines.emplace(day, line);
                if (!inserted) {
                    diagnostics_.Error(
                        "duplicate-date", At(located),
                        "holiday " + day.ToString() + " is already listed at line " + std::to_string(existing->second));
                    break;
                }
                calendar.holidays.insert(day);
            }
        }
    }

    struct HolidayRange {
        Date from;
        Date to;
        YAML::Node located;  // where to point at the range's dates
    };

    std::optional<HolidayRange> ReadHolidayRange(const Fields& fields) {
        const auto* date = fields.Find("date");
        const auto* from = fields.Find("from");
        const auto* to = fields.Find("to");
        if (date != nullptr && (from != nullptr || to != nullptr)) {
            diagnostics_.Error("conflicting-keys", At((from != nullptr ? from : to)->key),
                               "a holiday has either 'date' or 'from' and 'to', not both");
            return std::nullopt;
        }
        if (date != nullptr) {
            const auto day = ReadDate(date->value, "date");
            return day ? std::optional(HolidayRange{*day, *day, date->value}) : std::nullopt;
        }
        if (from == nullptr && to == nullptr) {
            diagnostics_.Error("missing-key", At(fields.map), "holiday is missing 'date' (or 'from' and 'to')");
            return std::nullopt;
        }
        const auto first = ReadRequiredDate(fields, "from", "holiday");
        const auto last = ReadRequiredDate(fields, "to", "holiday");
        if (!first || !last) {
            return std::nullopt;
        }
        if (*last < *first) {
            ReportInvertedRange(fields, *first, *last);
            return std::nullopt;
        }
        return HolidayRange{*first, *last, from->value};
    }

    void ReadMakeupDays(const YAML::Node& node, bool covers_known, model::WorkingCalendar& calendar,
                        const std::map<Date, int>& holiday_lines) {
        if (node.IsNull()) {
            return;
        }
        if (!node.IsSequence()) {
            diagnostics_.Error("wrong-type", At(node), "makeup_working_days must be a list");
            return;
        }
        std::map<Date, int> makeup_lines;
        for (const auto& item : node) {
            if (!item.IsMap()) {
                diagnostics_.Error("wrong-type", At(item), "a make-up working day must be a mapping",
                                   "write {date: YYYY-MM-DD, for: {zh: ..., en: ...}}");
                continue;
            }
            const Fields fields = ReadFields(item, kMakeupKeys, "make-up working day");
            if (const auto* reason = fields.Find("for")) {
                ReadText(reason->value, "for");
            }
            const auto day = ReadRequiredDate(fields, "date", "make-up working day");
            if (!day || !covers_known) {
                continue;
            }
            const YAML::Node& located = fields.Find("date")->value;
            if (!CheckCovered(calendar, *day, *day, located, "make-up working day")) {
                continue;
            }
            if (!calendar.weekend_days.contains(day->IsoWeekday())) {
                diagnostics_.Error("makeup-not-on-weekend", At(located),
                                   "make-up working day " + day->ToString() + " is a " +
                                       WeekdayName(day->IsoWeekday()) + ", not a weekend day",
                                   "a make-up working day is a weekend day worked in exchange for a holiday");
                continue;
            }
            if (const auto holiday = holiday_lines.find(*day); holiday != holiday_lines.end()) {
                diagnostics_.Error("holiday-and-makeup", At(located),
                                   day->ToString() + " is both a make-up working day and a holiday (line " +
                                       std::to_string(holiday->second) + ")");
                continue;
            }
            const auto [existing, inserted] = makeup_lines.emplace(*day, At(located).line);
            if (!inserted) {
                diagnostics_.Error("duplicate-date", At(located),
                                   "make-up working day " + day->ToString() + " is already listed at line " +
                                       std::to_string(existing->second));
                continue;
            }
            calendar.makeup_working_days.insert(*day);
        }
    }

    std::string file_;
    Diagnostics& diagnostics_;
};

}  // namespace

std::optional<model::WorkingCalendar> LoadCalendarText(const std::string& text, const std::string& file_name,
                                                       Diagnostics& diagnostics) {
    // Collected apart and sorted, so the file's problems read top to bottom
    // without reordering what the caller had already.
    Diagnostics found;
    auto calendar = CalendarReader(file_name, found).Read(text);
    found.SortByLocation();
    diagnostics.Append(found);
    return calendar;
}

std::optional<model::WorkingCalendar> LoadCalendarFile(const std::string& path, Diagnostics& diagnostics) {
    errno = 0;
    std::ifstream stream(path, std::ios::binary);
    if (!stream) {
        const int error = errno;
        diagnostics.Error(
            "file-unreadable", {path, 0, 0},
            "cannot open calendar file" + (error != 0 ? ": " + std::generic_category().message(error) : std::string()));
        return std::nullopt;
    }
    // Read one byte past the limit, never the whole of an oversized file.
    std::string text(kMaxCalendarFileBytes + 1, '\0');
    stream.read(text.data(), static_cast<std::streamsize>(text.size()));
    if (stream.bad()) {
        diagnostics.Error("file-unreadable", {path, 0, 0}, "cannot read calendar file");
        return std::nullopt;
    }
    text.resize(static_cast<std::size_t>(stream.gcount()));
    if (text.size() > kMaxCalendarFileBytes) {
        diagnostics.Error("file-too-large", {path, 0, 0}, "calendar file is larger than the 1 MiB limit",
                          "a calendar lists a few dozen dates; check that this is the right file");
        return std::nullopt;
    }
    return LoadCalendarText(text, path, diagnostics);
}

}  // namespace cascade::lang
