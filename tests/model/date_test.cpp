// Dates and durations: parsing, formatting, weekdays, and the hostile edges.
#include "cascade/model/date.hpp"

#include <catch2/catch.hpp>
#include <stdexcept>
#include <string>

using cascade::model::Date;
using cascade::model::Duration;
using cascade::model::DurationUnit;

TEST_CASE("date: epoch and civil conversion", "[date]") {
    CHECK(Date::FromCivil(1970, 1, 1).DaysSinceEpoch() == 0);
    CHECK(Date::FromCivil(1969, 12, 31).DaysSinceEpoch() == -1);
    CHECK(Date::FromCivil(2000, 3, 1).DaysSinceEpoch() == 11017);
    CHECK(Date::FromCivil(2023, 10, 1).DaysSinceEpoch() == 19631);

    const Date date = Date::FromCivil(2024, 2, 29);
    CHECK(date.Year() == 2024);
    CHECK(date.Month() == 2u);
    CHECK(date.Day() == 29u);
    CHECK(date.AddDays(1) == Date::FromCivil(2024, 3, 1));
    CHECK(Date::FromCivil(2024, 1, 1) - Date::FromCivil(2023, 1, 1) == 365);
    CHECK(Date::FromCivil(2025, 1, 1) - Date::FromCivil(2024, 1, 1) == 366);
    CHECK(Date() == Date::FromCivil(1970, 1, 1));
}

TEST_CASE("date: FromCivil refuses dates that do not exist", "[date]") {
    CHECK_THROWS_AS(Date::FromCivil(2023, 2, 29), std::invalid_argument);
    CHECK_THROWS_AS(Date::FromCivil(2023, 13, 1), std::invalid_argument);
    CHECK_THROWS_AS(Date::FromCivil(2023, 4, 31), std::invalid_argument);
    CHECK_THROWS_AS(Date::FromCivil(2023, 1, 0), std::invalid_argument);
    CHECK_THROWS_AS(Date::FromCivil(100000, 1, 1), std::invalid_argument);
}

TEST_CASE("date: parse and format round trip", "[date]") {
    for (const char* text : {"2023-01-01", "2023-12-31", "2024-02-29", "2000-02-29", "1970-01-01", "1900-03-01",
                             "0001-01-01", "9999-12-31"}) {
        const auto date = Date::Parse(text);
        REQUIRE(date.has_value());
        CHECK(date->ToString() == text);
    }
    CHECK(Date::Parse("2023-09-01") == Date::FromCivil(2023, 9, 1));
    CHECK(Date::FromCivil(5, 6, 7).ToString() == "0005-06-07");
}

TEST_CASE("date: leap years follow the Gregorian rule", "[date]") {
    CHECK(Date::Parse("2024-02-29").has_value());  // divisible by 4
    CHECK(Date::Parse("2000-02-29").has_value());  // divisible by 400
    CHECK_FALSE(Date::Parse("2023-02-29").has_value());
    CHECK_FALSE(Date::Parse("1900-02-29").has_value());  // divisible by 100, not by 400
    CHECK_FALSE(Date::Parse("2100-02-29").has_value());
}

TEST_CASE("date: parse rejects anything but YYYY-MM-DD", "[date]") {
    for (const char* text :
         {"",          "2023-02-30",  "2023-04-31", "2023-13-01",     "2023-00-10",  "2023-01-00",  "2023-01-32",
          "2023-1-01", "2023-01-1",   "23-01-01",   "2023/01/01",     "2023-01-01 ", " 2023-01-01", "2023-01-01T00:00",
          "20230101",  "+2023-01-01", "2023-0a-01", "２０２３-01-01", "2023-01-01x", "-023-01-01"}) {
        INFO(text);
        CHECK_FALSE(Date::Parse(text).has_value());
    }
}

TEST_CASE("date: ISO weekday", "[date]") {
    CHECK(Date::FromCivil(1970, 1, 1).IsoWeekday() == 4u);    // Thursday
    CHECK(Date::FromCivil(2023, 10, 1).IsoWeekday() == 7u);   // Sunday
    CHECK(Date::FromCivil(2023, 10, 2).IsoWeekday() == 1u);   // Monday
    CHECK(Date::FromCivil(2023, 10, 7).IsoWeekday() == 6u);   // Saturday
    CHECK(Date::FromCivil(2024, 2, 29).IsoWeekday() == 4u);   // Thursday
    CHECK(Date::FromCivil(1969, 12, 28).IsoWeekday() == 7u);  // before the epoch: Sunday
    CHECK(Date::FromCivil(2000, 1, 1).IsoWeekday() == 6u);    // Saturday
}

TEST_CASE("date: duration parses every accepted form", "[date]") {
    const auto calendar = [](std::int32_t days) { return Duration{days, DurationUnit::calendar_days}; };
    const auto working = [](std::int32_t days) { return Duration{days, DurationUnit::working_days}; };
    const std::pair<const char*, Duration> cases[] = {
        {"P7D", calendar(7)},
        {"p7d", calendar(7)},
        {"P0D", calendar(0)},
        {"P2W", calendar(14)},
        {"P1w", calendar(7)},
        {"P100000D", calendar(100000)},
        {"3 days", calendar(3)},
        {"1 day", calendar(1)},
        {"3 Days", calendar(3)},
        {"2 weeks", calendar(14)},
        {"1 week", calendar(7)},
        {"2 WEEKS", calendar(14)},
        {"10 working days", working(10)},
        {"1 working day", working(1)},
        {"10 Working Days", working(10)},
        {"10  working   days", working(10)},
        {"5 workdays", working(5)},
        {"1 workday", working(1)},
        {"10个工作日", working(10)},
        {"10 个工作日", working(10)},
        {"3天", calendar(3)},
        {"3 天", calendar(3)},
        {"2周", calendar(14)},
        {"2 周", calendar(14)},
        {"0 days", calendar(0)},
        {"007 days", calendar(7)},
        {"100000 working days", working(100000)},
        {"  3 days  ", calendar(3)},
    };
    for (const auto& [text, expected] : cases) {
        INFO(text);
        const auto parsed = Duration::Parse(text);
        REQUIRE(parsed.has_value());
        CHECK(*parsed == expected);
    }
}

TEST_CASE("date: duration rejects everything else", "[date]") {
    for (const char* text : {"",
                             " ",
                             "P",
                             "PD",
                             "P7",
                             "7D",
                             "P-7D",
                             "P7D7D",
                             "P1W2D",
                             "P1M",
                             "P1Y",
                             "PT24H",
                             "P7DX",
                             "P7D days",
                             "P100001D",
                             "3",
                             "days",
                             "-3 days",
                             "+3 days",
                             "3.5 days",
                             "3days",
                             "3 dayz",
                             "3 days ago",
                             "3 days.",
                             "three days",
                             "10 working",
                             "10 work days",
                             "10 workingdays",
                             "10 business days",
                             "100001 days",
                             "99999999999999999999 days",
                             "10工作日",
                             "10个工作",
                             "3日",
                             "2個周",
                             "3天后",
                             "3 天天",
                             "３天",
                             "P７D",
                             "10 个 工作日",
                             "3 days 3 days"}) {
        INFO(text);
        CHECK_FALSE(Duration::Parse(text).has_value());
    }
}

TEST_CASE("date: duration formatting", "[date]") {
    CHECK(Duration{7, DurationUnit::calendar_days}.ToString() == "P7D");
    CHECK(Duration{14, DurationUnit::calendar_days}.ToString() == "P14D");
    CHECK(Duration{10, DurationUnit::working_days}.ToString() == "10 working days");
    CHECK(Duration{1, DurationUnit::working_days}.ToString() == "1 working day");
    // What ToString writes, Parse reads back.
    for (const Duration duration : {Duration{0, DurationUnit::calendar_days}, Duration{1, DurationUnit::working_days},
                                    Duration{42, DurationUnit::working_days}}) {
        CHECK(Duration::Parse(duration.ToString()) == duration);
    }
}
