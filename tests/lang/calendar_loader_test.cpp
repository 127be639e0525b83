// The calendar loader: what it accepts, and the exact diagnostic (code,
// line:column, message, hint) for each kind of mistake.
#include "cascade/lang/calendar_loader.hpp"

#include <catch2/catch.hpp>
#include <string>

using cascade::lang::Diagnostic;
using cascade::lang::Diagnostics;
using cascade::lang::LoadCalendarFile;
using cascade::lang::LoadCalendarText;
using cascade::model::Date;

namespace {

// The first five lines of a valid calendar; tests append to it, so the lines
// they add start at line 6.
std::string Header() {
    return "apiVersion: cascade/v1\n"
           "kind: Calendar\n"
           "id: test-2023\n"
           "title: {zh: 测试, en: Test}\n"
           "covers: {from: 2023-01-01, to: 2023-12-31}\n";
}

Date D(const char* text) {
    return *Date::Parse(text);
}

std::string Describe(const Diagnostics& diagnostics) {
    std::string text;
    for (const auto& diagnostic : diagnostics.Items()) {
        text += cascade::lang::FormatText(diagnostic) + "\n";
    }
    return text;
}

// Loads `text` expecting it to fail with exactly one error, and returns it.
Diagnostic OnlyError(const std::string& text) {
    Diagnostics diagnostics;
    const auto calendar = LoadCalendarText(text, "cal.yaml", diagnostics);
    INFO(Describe(diagnostics));
    CHECK_FALSE(calendar.has_value());
    REQUIRE(diagnostics.Items().size() == 1);
    return diagnostics.Items().front();
}

void CheckError(const Diagnostic& diagnostic, const std::string& code, int line, int column, const std::string& message,
                const std::string& hint = {}) {
    CHECK(diagnostic.severity == cascade::lang::Severity::error);
    CHECK(diagnostic.code == code);
    CHECK(diagnostic.location.file == "cal.yaml");
    CHECK(diagnostic.location.line == line);
    CHECK(diagnostic.location.column == column);
    CHECK(diagnostic.message == message);
    CHECK(diagnostic.hint == hint);
}

}  // namespace

TEST_CASE("calendar loader: a valid calendar", "[calendar]") {
    const std::string text = Header() +
                             "source: {en: A notice}\n"
                             "weekend: [sunday]\n"
                             "holidays:\n"
                             "  - {name: {en: Long}, from: 2023-05-01, to: 2023-05-03}\n"
                             "  - name: {zh: 国庆}\n"
                             "    date: 2023-10-02\n"
                             "makeup_working_days:\n"
                             "  - {date: 2023-04-30, for: {en: Long}}\n"
                             "  - date: '2023-10-08'\n";
    Diagnostics diagnostics;
    const auto calendar = LoadCalendarText(text, "cal.yaml", diagnostics);
    INFO(Describe(diagnostics));
    REQUIRE(calendar.has_value());
    CHECK(diagnostics.Empty());
    CHECK(calendar->id == "test-2023");
    CHECK(calendar->title.zh == "测试");
    CHECK(calendar->title.en == "Test");
    CHECK(calendar->covers_from == D("2023-01-01"));
    CHECK(calendar->covers_to == D("2023-12-31"));
    CHECK(calendar->weekend_days == std::set<unsigned>{7});
    CHECK(calendar->holidays == std::set<Date>{D("2023-05-01"), D("2023-05-02"), D("2023-05-03"), D("2023-10-02")});
    CHECK(calendar->makeup_working_days == std::set<Date>{D("2023-04-30"), D("2023-10-08")});
}

TEST_CASE("calendar loader: defaults and empty lists", "[calendar]") {
    Diagnostics diagnostics;
    const auto calendar = LoadCalendarText(Header() + "holidays:\nmakeup_working_days: []\n", "cal.yaml", diagnostics);
    INFO(Describe(diagnostics));
    REQUIRE(calendar.has_value());
    CHECK(calendar->weekend_days == std::set<unsigned>{6, 7});
    CHECK(calendar->holidays.empty());
    CHECK(calendar->makeup_working_days.empty());
}

TEST_CASE("calendar loader: the shipped calendar loads cleanly", "[calendar]") {
    Diagnostics diagnostics;
    const auto calendar = LoadCalendarFile(
        std::string(CASCADE_SOURCE_DIR) + "/workflows/calendars/cn-mainland-2023-2024.yaml", diagnostics);
    INFO(Describe(diagnostics));
    REQUIRE(calendar.has_value());
    CHECK(diagnostics.Empty());
    // 2 + 7 + 1 + 5 + 3 + 8 rest days in 2023, 1 + 8 + 3 + 5 + 1 + 3 + 7 in 2024.
    CHECK(calendar->holidays.size() == 26u + 28u);
}

TEST_CASE("calendar loader: YAML syntax errors", "[calendar]") {
    CheckError(OnlyError(Header() + "holidays:\n  - {name: {en: A}, date: 2023-05-01\n"), "yaml-syntax", 8, 1,
               "invalid YAML: end of map flow not found");
    CheckError(OnlyError("apiVersion: cascade/v1\n  kind: Calendar\n"), "yaml-syntax", 2, 7,
               "invalid YAML: illegal map value");
}

TEST_CASE("calendar loader: deeply nested YAML is refused", "[calendar]") {
    const std::string text = "id: " + std::string(10000, '[') + std::string(10000, ']') + "\n";
    const auto error = OnlyError(text);
    CHECK(error.code == "yaml-too-deep");
    CHECK(error.message == "YAML nesting is too deep");
}

TEST_CASE("calendar loader: empty and non-mapping documents", "[calendar]") {
    CheckError(OnlyError("# nothing here\n"), "empty-file", 0, 0, "calendar file is empty",
               "a calendar starts with 'apiVersion: cascade/v1' and 'kind: Calendar'");
    CheckError(OnlyError("- 2023-01-01\n"), "wrong-type", 1, 1, "a calendar file must be a mapping of keys",
               "a calendar starts with 'apiVersion: cascade/v1' and 'kind: Calendar'");
}

TEST_CASE("calendar loader: files over 1 MiB are refused", "[calendar]") {
    const std::string text = Header() + "# " + std::string(std::size_t{1024} * 1024, 'x') + "\n";
    CheckError(OnlyError(text), "file-too-large", 0, 0,
               "calendar file is " + std::to_string(text.size()) + " bytes, more than the 1 MiB limit",
               "a calendar lists a few dozen dates; check that this is the right file");
}

TEST_CASE("calendar loader: a missing file", "[calendar]") {
    Diagnostics diagnostics;
    CHECK_FALSE(LoadCalendarFile("/nonexistent/calendar.yaml", diagnostics).has_value());
    REQUIRE(diagnostics.Items().size() == 1);
    CHECK(diagnostics.Items()[0].code == "file-unreadable");
    CHECK(diagnostics.Items()[0].location.file == "/nonexistent/calendar.yaml");
    CHECK(diagnostics.Items()[0].message == "cannot open calendar file: No such file or directory");
}

TEST_CASE("calendar loader: wrong kind stops early, wrong apiVersion does not", "[calendar]") {
    CheckError(OnlyError("apiVersion: cascade/v1\nkind: Workflow\nsteps: {}\n"), "wrong-kind", 2, 7,
               "expected kind 'Calendar', found 'Workflow'");
    CheckError(OnlyError("apiVersion: cascade/v1\nkind: calendar\nid: x\n"), "wrong-kind", 2, 7,
               "expected kind 'Calendar', found 'calendar'", "did you mean 'Calendar'?");

    std::string text = Header();
    text.replace(text.find("cascade/v1"), 10, "cascade/v9");
    CheckError(OnlyError(text), "unsupported-api-version", 1, 13, "unsupported apiVersion 'cascade/v9'",
               "this version of Cascade reads cascade/v1");
}

TEST_CASE("calendar loader: unknown, duplicate and missing keys", "[calendar]") {
    CheckError(OnlyError(Header() + "holiday: []\n"), "unknown-key", 6, 1, "unknown key 'holiday' in calendar",
               "did you mean 'holidays'?");
    CheckError(OnlyError(Header() + "region: cn\n"), "unknown-key", 6, 1, "unknown key 'region' in calendar",
               "expected one of: apiVersion, kind, id, title, source, covers, weekend, holidays, makeup_working_days");
    CheckError(OnlyError(Header() + "holidays:\n  - {name: {en: A}, date: 2023-05-01, too: 2023-05-02}\n"),
               "unknown-key", 7, 39, "unknown key 'too' in holiday", "did you mean 'to'?");
    CheckError(OnlyError(Header() + "makeup_working_days:\n  - {date: 2023-01-07, fro: {en: A}}\n"), "unknown-key", 7,
               24, "unknown key 'fro' in make-up working day", "did you mean 'for'?");
    CheckError(OnlyError(Header() + "source: {en: A, de: B}\n"), "unknown-key", 6, 17, "unknown key 'de' in source",
               "expected one of: zh, en");
    CheckError(OnlyError(Header() + "id: again\n"), "duplicate-key", 6, 1, "duplicate key 'id'",
               "first given at line 3");
    CheckError(OnlyError("apiVersion: cascade/v1\nkind: Calendar\nid: x\ntitle: {en: X}\n"), "missing-key", 1, 1,
               "calendar is missing required key 'covers'");
    CheckError(OnlyError(Header() + "holidays:\n  - {date: 2023-05-01}\n"), "missing-key", 7, 5,
               "holiday is missing 'name'");
    CheckError(OnlyError(Header() + "holidays:\n  - {name: {en: A}}\n"), "missing-key", 7, 5,
               "holiday is missing 'date' (or 'from' and 'to')");
    CheckError(OnlyError(Header() + "holidays:\n  - {name: {en: A}, from: 2023-05-01}\n"), "missing-key", 7, 5,
               "holiday is missing 'to'");
    CheckError(OnlyError(Header() + "makeup_working_days:\n  - {for: {en: A}}\n"), "missing-key", 7, 5,
               "make-up working day is missing 'date'");
    CheckError(OnlyError("apiVersion: cascade/v1\nkind: Calendar\nid: x\ntitle: {en: X}\ncovers: {to: 2023-12-31}\n"),
               "missing-key", 5, 9, "covers is missing 'from'");
    CheckError(OnlyError(Header() + "holidays:\n  - {name: {en: A}, date: 2023-05-01, to: 2023-05-02}\n"),
               "conflicting-keys", 7, 39, "a holiday has either 'date' or 'from' and 'to', not both");
}

TEST_CASE("calendar loader: values of the wrong shape", "[calendar]") {
    CheckError(OnlyError(Header() + "holidays: 2023-05-01\n"), "wrong-type", 6, 11, "holidays must be a list");
    CheckError(OnlyError(Header() + "holidays:\n  - 2023-05-01\n"), "wrong-type", 7, 5, "a holiday must be a mapping",
               "write {name: {zh: ..., en: ...}, date: YYYY-MM-DD} or use from/to for a range");
    CheckError(OnlyError(Header() + "source: A notice\n"), "wrong-type", 6, 9, "source must be a mapping of languages",
               "write {zh: ..., en: ...}");
    CheckError(OnlyError(Header() + "source: {en: [A]}\n"), "wrong-type", 6, 14, "source.en must be a single value");
    CheckError(OnlyError(Header() + "source: {en: ''}\n"), "missing-text", 6, 14, "source.en is empty",
               "leave the language out rather than give it empty");
    CheckError(OnlyError(Header() + "source: {}\n"), "missing-text", 6, 9, "source has no text",
               "give at least one of zh and en");
    CheckError(OnlyError(Header() + "weekend: sunday\n"), "wrong-type", 6, 10,
               "weekend must be a list of weekday names", "write [saturday, sunday]");
    CheckError(OnlyError(Header() + "makeup_working_days:\n  - {date: [2023-01-07]}\n"), "wrong-type", 7, 12,
               "date must be a single value");
}

TEST_CASE("calendar loader: ids are kebab-case", "[calendar]") {
    std::string text = Header();
    text.replace(text.find("test-2023"), 9, "Test_2023");
    CheckError(OnlyError(text), "invalid-id", 3, 5, "id 'Test_2023' is not kebab-case",
               "use lower-case letters, digits and single hyphens, e.g. cn-mainland-2023-2024");
}

TEST_CASE("calendar loader: invalid dates", "[calendar]") {
    CheckError(OnlyError(Header() + "holidays:\n  - {name: {en: A}, date: 2023-02-30}\n"), "invalid-date", 7, 27,
               "2023-02-30 is not a date", "February 2023 has 28 days");
    CheckError(OnlyError(Header() + "holidays:\n  - {name: {en: A}, date: 2024-02-30}\n"), "invalid-date", 7, 27,
               "2024-02-30 is not a date", "February 2024 has 29 days");
    CheckError(OnlyError(Header() + "makeup_working_days:\n  - {date: 2023-13-01}\n"), "invalid-date", 7, 12,
               "2023-13-01 is not a date", "the month must be 01 to 12");
    CheckError(OnlyError(Header() + "makeup_working_days:\n  - {date: 2023/01/07}\n"), "invalid-date", 7, 12,
               "2023/01/07 is not a date", "write dates as YYYY-MM-DD, e.g. 2023-10-01");
    CheckError(OnlyError("apiVersion: cascade/v1\nkind: Calendar\nid: x\ntitle: {en: X}\n"
                         "covers: {from: 2023-01-01, to: 2023-04-31}\n"),
               "invalid-date", 5, 32, "2023-04-31 is not a date", "April 2023 has 30 days");
}

TEST_CASE("calendar loader: ranges that run backwards", "[calendar]") {
    CheckError(OnlyError(Header() + "holidays:\n  - {name: {en: A}, from: 2023-05-03, to: 2023-05-01}\n"),
               "inverted-range", 7, 27, "from 2023-05-03 is after to 2023-05-01",
               "a range runs from its first day to its last, both included");
    CheckError(OnlyError("apiVersion: cascade/v1\nkind: Calendar\nid: x\ntitle: {en: X}\n"
                         "covers: {from: 2024-01-01, to: 2023-01-01}\n"),
               "inverted-range", 5, 16, "from 2024-01-01 is after to 2023-01-01",
               "a range runs from its first day to its last, both included");
}

TEST_CASE("calendar loader: covers is at most a century", "[calendar]") {
    CheckError(OnlyError("apiVersion: cascade/v1\nkind: Calendar\nid: x\ntitle: {en: X}\n"
                         "covers: {from: 1900-01-01, to: 2099-12-31}\n"),
               "covers-too-long", 5, 9, "covers spans 200 years, more than 100",
               "split the calendar into several files");
}

TEST_CASE("calendar loader: dates outside covers", "[calendar]") {
    CheckError(OnlyError(Header() + "holidays:\n  - {name: {en: A}, from: 2022-12-31, to: 2023-01-02}\n"),
               "outside-covers", 7, 27, "holiday 2022-12-31 to 2023-01-02 is outside covers (2023-01-01 to 2023-12-31)",
               "extend covers, or move the date to the calendar of its year");
    CheckError(OnlyError(Header() + "holidays:\n  - {name: {en: A}, date: 2024-01-01}\n"), "outside-covers", 7, 27,
               "holiday 2024-01-01 is outside covers (2023-01-01 to 2023-12-31)",
               "extend covers, or move the date to the calendar of its year");
    CheckError(OnlyError(Header() + "makeup_working_days:\n  - {date: 2024-01-06}\n"), "outside-covers", 7, 12,
               "make-up working day 2024-01-06 is outside covers (2023-01-01 to 2023-12-31)",
               "extend covers, or move the date to the calendar of its year");
}

TEST_CASE("calendar loader: make-up working days fall on weekends", "[calendar]") {
    CheckError(OnlyError(Header() + "makeup_working_days:\n  - {date: 2023-10-09}\n"), "makeup-not-on-weekend", 7, 12,
               "make-up working day 2023-10-09 is a Monday, not a weekend day",
               "a make-up working day is a weekend day worked in exchange for a holiday");
    // With a Sunday-only weekend, a Saturday is already a working day.
    CheckError(OnlyError(Header() + "weekend: [sunday]\nmakeup_working_days:\n  - {date: 2023-10-07}\n"),
               "makeup-not-on-weekend", 8, 12, "make-up working day 2023-10-07 is a Saturday, not a weekend day",
               "a make-up working day is a weekend day worked in exchange for a holiday");
}

TEST_CASE("calendar loader: a date both holiday and make-up day", "[calendar]") {
    CheckError(OnlyError(Header() + "holidays:\n"
                                    "  - {name: {en: A}, from: 2023-09-29, to: 2023-10-08}\n"
                                    "makeup_working_days:\n"
                                    "  - {date: 2023-10-08}\n"),
               "holiday-and-makeup", 9, 12, "2023-10-08 is both a make-up working day and a holiday (line 7)");
}

TEST_CASE("calendar loader: duplicate dates", "[calendar]") {
    CheckError(OnlyError(Header() + "holidays:\n"
                                    "  - {name: {en: A}, from: 2023-05-01, to: 2023-05-03}\n"
                                    "  - {name: {en: B}, date: 2023-05-02}\n"),
               "duplicate-date", 8, 27, "holiday 2023-05-02 is already listed at line 7");
    // Overlapping ranges are reported once, at the first shared day.
    CheckError(OnlyError(Header() + "holidays:\n"
                                    "  - {name: {en: A}, from: 2023-05-01, to: 2023-05-03}\n"
                                    "  - {name: {en: B}, from: 2023-04-29, to: 2023-05-05}\n"),
               "duplicate-date", 8, 27, "holiday 2023-05-01 is already listed at line 7");
    CheckError(OnlyError(Header() + "makeup_working_days:\n"
                                    "  - {date: 2023-10-07}\n"
                                    "  - {date: 2023-10-07}\n"),
               "duplicate-date", 8, 12, "make-up working day 2023-10-07 is already listed at line 7");
}

TEST_CASE("calendar loader: weekend names", "[calendar]") {
    CheckError(OnlyError(Header() + "weekend: [saturday, sundy]\n"), "unknown-weekday", 6, 21,
               "unknown weekday 'sundy'", "did you mean 'sunday'?");
    CheckError(OnlyError(Header() + "weekend: [saturday, Sunday]\n"), "unknown-weekday", 6, 21,
               "unknown weekday 'Sunday'", "did you mean 'sunday'?");
    CheckError(OnlyError(Header() + "weekend: [saturday, sabbath]\n"), "unknown-weekday", 6, 21,
               "unknown weekday 'sabbath'", "weekdays are written monday ... sunday");
    CheckError(OnlyError(Header() + "weekend: [sunday, sunday]\n"), "duplicate-weekday", 6, 19,
               "weekday 'sunday' is listed twice");
    CheckError(OnlyError(Header() + "weekend: [monday, tuesday, wednesday, thursday, friday, saturday, sunday]\n"),
               "no-working-days", 6, 10, "weekend covers all seven days, leaving no working days");
}

TEST_CASE("calendar loader: every problem is reported in one pass, in file order", "[calendar]") {
    const std::string text =
        "apiVersion: cascade/v1\n"
        "kind: Calendar\n"
        "id: cn-test\n"
        "title: {en: Test}\n"
        "covers: {from: 2023-01-01, to: 2023-12-31}\n"
        "makeup_working_days:\n"
        "  - {date: 2023-10-09}\n"  // line 7: a Monday
        "  - {date: 2023-10-07}\n"  // line 8: also a holiday
        "holidays:\n"
        "  - {name: {en: A}, from: 2023-09-29, to: 2023-10-07}\n"
        "  - {name: {en: B}, date: 2023-02-29}\n"  // line 11: not a date
        "  - {nam: {en: C}, date: 2023-03-01}\n";  // line 12: typo, so also missing 'name'
    Diagnostics diagnostics;
    CHECK_FALSE(LoadCalendarText(text, "cal.yaml", diagnostics).has_value());
    INFO(Describe(diagnostics));
    REQUIRE(diagnostics.Items().size() == 5);
    const auto& items = diagnostics.Items();
    CHECK(items[0].code == "makeup-not-on-weekend");
    CHECK(items[0].location.line == 7);
    CHECK(items[1].code == "holiday-and-makeup");
    CHECK(items[1].message == "2023-10-07 is both a make-up working day and a holiday (line 10)");
    CHECK(items[2].code == "invalid-date");
    CHECK(items[2].location.line == 11);
    CHECK(items[3].code == "missing-key");
    CHECK(items[3].location.line == 12);
    CHECK(items[3].location.column == 5);
    CHECK(items[4].code == "unknown-key");
    CHECK(items[4].location.column == 6);
    CHECK(items[4].hint == "did you mean 'name'?");
    CHECK(cascade::lang::FormatText(items[0]) ==
          "cal.yaml:7:12: error: make-up working day 2023-10-09 is a Monday, not a weekend day\n"
          "    hint: a make-up working day is a weekend day worked in exchange for a holiday");
}
