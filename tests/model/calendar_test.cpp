// Working-day arithmetic, checked on the shipped mainland China calendar and
// against a day-by-day reference on synthetic calendars.
#include "cascade/model/calendar.hpp"
#include "cascade/lang/calendar_loader.hpp"

#include <catch2/catch.hpp>
#include <cstdint>
#include <random>
#include <stdexcept>

using cascade::model::Date;
using cascade::model::Duration;
using cascade::model::DurationUnit;
using cascade::model::WorkingCalendar;

namespace {

Date D(const char* text) {
    const auto date = Date::Parse(text);
    REQUIRE(date.has_value());
    return *date;
}

const WorkingCalendar& ShippedCalendar() {
    static const WorkingCalendar calendar = [] {
        cascade::lang::Diagnostics diagnostics;
        auto loaded = cascade::lang::LoadCalendarFile(
            std::string(CASCADE_SOURCE_DIR) + "/workflows/calendars/cn-mainland-2023-2024.yaml", diagnostics);
        for (const auto& diagnostic : diagnostics.Items()) {
            UNSCOPED_INFO(cascade::lang::FormatText(diagnostic));
        }
        REQUIRE(loaded.has_value());
        return *loaded;
    }();
    return calendar;
}

// The obvious day-by-day definitions the fast versions must agree with.
std::int32_t ReferenceBetween(const WorkingCalendar& calendar, Date from, Date to) {
    std::int32_t count = 0;
    for (Date day = from; day < to; day = day.AddDays(1)) {
        count += calendar.IsWorkingDay(day) ? 1 : 0;
    }
    return count;
}

Date ReferenceAdd(const WorkingCalendar& calendar, Date start, std::int32_t count) {
    const std::int32_t step = count >= 0 ? 1 : -1;
    Date day = start;
    for (std::int32_t remaining = count * step; remaining > 0;) {
        day = day.AddDays(step);
        remaining -= calendar.IsWorkingDay(day) ? 1 : 0;
    }
    return day;
}

}  // namespace

TEST_CASE("calendar: shipped file loads with the official counts", "[calendar]") {
    const auto& calendar = ShippedCalendar();
    CHECK(calendar.id == "cn-mainland-2023-2024");
    CHECK(calendar.title.In("en") == "Mainland China official working calendar 2023–2024");
    CHECK(calendar.covers_from == D("2023-01-01"));
    CHECK(calendar.covers_to == D("2024-12-31"));
    CHECK(calendar.makeup_working_days.size() == 15u);
    // The widely published totals: 249 working days in 2023, 251 in 2024.
    CHECK(calendar.WorkingDaysBetween(D("2023-01-01"), D("2024-01-01")) == 249);
    CHECK(calendar.WorkingDaysBetween(D("2024-01-01"), D("2025-01-01")) == 251);
}

TEST_CASE("calendar: the National Day break of 2023", "[calendar]") {
    const auto& calendar = ShippedCalendar();
    for (Date day = D("2023-09-29"); day <= D("2023-10-06"); day = day.AddDays(1)) {
        INFO(day.ToString());
        CHECK_FALSE(calendar.IsWorkingDay(day));
    }
    CHECK(calendar.IsWorkingDay(D("2023-09-28")));        // Thursday before the break
    CHECK(calendar.IsWorkingDay(D("2023-10-07")));        // Saturday, make-up day
    CHECK(calendar.IsWorkingDay(D("2023-10-08")));        // Sunday, make-up day
    CHECK(calendar.IsWorkingDay(D("2023-10-09")));        // Monday
    CHECK_FALSE(calendar.IsWorkingDay(D("2023-10-14")));  // an ordinary Saturday
    CHECK_FALSE(calendar.IsWorkingDay(D("2023-12-30")));  // ordinary weekend before New Year 2024
    CHECK_FALSE(calendar.IsWorkingDay(D("2024-01-01")));
    CHECK(calendar.IsWorkingDay(D("2024-02-18")));        // Sunday, make-up day after Spring Festival
    CHECK_FALSE(calendar.IsWorkingDay(D("2024-06-10")));  // Dragon Boat Festival, a Monday
}

TEST_CASE("calendar: working days from September 2023 to January 2024", "[calendar]") {
    // [2023-09-01, 2024-02-01), counted month by month: weekdays, minus the
    // holidays that fall on weekdays, plus the make-up weekend days.
    //   Sep 2023: Fri 1 + four full weeks (4-8, 11-15, 18-22, 25-29) = 21
    //             weekdays; Fri 29 is a holiday                         -> 20
    //   Oct 2023: 2-6, 9-13, 16-20, 23-27, 30-31 = 22 weekdays; Mon 2 to
    //             Fri 6 are holidays (-5); Sat 7, Sun 8 are worked (+2) -> 19
    //   Nov 2023: 1-3, 6-10, 13-17, 20-24, 27-30 = 3+5+5+5+4            -> 22
    //   Dec 2023: Fri 1, then 4-8, 11-15, 18-22, 25-29 = 1+20; 30/31 are
    //             an ordinary weekend                                   -> 21
    //   Jan 2024: 1-5, 8-12, 15-19, 22-26, 29-31 = 23 weekdays; Mon 1 is
    //             New Year's Day                                        -> 22
    //   20 + 19 + 22 + 21 + 22 = 104
    const auto& calendar = ShippedCalendar();
    CHECK(calendar.WorkingDaysBetween(D("2023-09-01"), D("2024-02-01")) == 104);
    CHECK(calendar.WorkingDaysBetween(D("2023-09-01"), D("2023-10-01")) == 20);
    CHECK(calendar.WorkingDaysBetween(D("2023-10-01"), D("2023-11-01")) == 19);
    CHECK(calendar.WorkingDaysBetween(D("2024-01-01"), D("2024-02-01")) == 22);
    CHECK(calendar.WorkingDaysBetween(D("2024-02-01"), D("2023-09-01")) == 0);
    CHECK(calendar.WorkingDaysBetween(D("2023-10-07"), D("2023-10-07")) == 0);
    CHECK(calendar.WorkingDaysBetween(D("2023-10-07"), D("2023-10-08")) == 1);
}

TEST_CASE("calendar: AddWorkingDays across holidays and make-up days", "[calendar]") {
    const auto& calendar = ShippedCalendar();
    // Thursday 28 September plus one working day skips the whole break.
    CHECK(calendar.AddWorkingDays(D("2023-09-28"), 1) == D("2023-10-07"));
    CHECK(calendar.AddWorkingDays(D("2023-09-28"), 2) == D("2023-10-08"));
    CHECK(calendar.AddWorkingDays(D("2023-09-28"), 3) == D("2023-10-09"));
    // Starting inside the break: the start is not counted either way.
    CHECK(calendar.AddWorkingDays(D("2023-10-01"), 1) == D("2023-10-07"));
    CHECK(calendar.AddWorkingDays(D("2023-10-01"), 0) == D("2023-10-01"));
    // Backwards: the working day before Saturday 7 October is Thursday 28 September.
    CHECK(calendar.AddWorkingDays(D("2023-10-07"), -1) == D("2023-09-28"));
    CHECK(calendar.AddWorkingDays(D("2023-10-09"), -2) == D("2023-10-07"));
    // The inverse of the count above.
    CHECK(calendar.AddWorkingDays(D("2023-08-31"), 104) == D("2024-01-31"));
    CHECK(calendar.AddWorkingDays(D("2024-02-01"), -104) == D("2023-09-01"));
    // Friday 9 February 2024 + 1: Spring Festival runs 10 to 17 February,
    // Sunday 18 is worked.
    CHECK(calendar.AddWorkingDays(D("2024-02-09"), 1) == D("2024-02-18"));
    // Beyond covers only the weekly pattern applies.
    CHECK(calendar.AddWorkingDays(D("2024-12-31"), 1) == D("2025-01-01"));
    CHECK(calendar.AddWorkingDays(D("2025-01-03"), 1) == D("2025-01-06"));
}

TEST_CASE("calendar: Add with calendar-day and working-day durations", "[calendar]") {
    const auto& calendar = ShippedCalendar();
    CHECK(calendar.Add(D("2023-09-28"), Duration{7, DurationUnit::calendar_days}) == D("2023-10-05"));
    CHECK(calendar.Add(D("2023-09-28"), *Duration::Parse("P2W")) == D("2023-10-12"));
    CHECK(calendar.Add(D("2023-09-28"), *Duration::Parse("1 working day")) == D("2023-10-07"));
    // 10 working days from Thursday 28 September: Oct 7, 8, 9, 10, 11, 12, 13, 16, 17, 18.
    CHECK(calendar.Add(D("2023-09-28"), *Duration::Parse("10个工作日")) == D("2023-10-18"));
    CHECK(calendar.Add(D("2023-09-28"), Duration{0, DurationUnit::working_days}) == D("2023-09-28"));
}

TEST_CASE("calendar: fast counting agrees with day-by-day counting", "[calendar]") {
    const auto& shipped = ShippedCalendar();

    WorkingCalendar six_day_week;  // Sunday only, with a holiday on a Sunday and a make-up Sunday
    six_day_week.weekend_days = {7};
    six_day_week.holidays = {D("2023-05-01"), D("2023-05-07"), D("2023-05-08")};
    six_day_week.makeup_working_days = {D("2023-05-14"), D("2023-05-10")};  // the second is no exception

    WorkingCalendar no_weekend;
    no_weekend.weekend_days = {};
    no_weekend.holidays = {D("2023-06-01")};

    WorkingCalendar odd_weekend;  // Friday and Saturday; a date listed as both holiday and make-up day
    odd_weekend.weekend_days = {5, 6};
    odd_weekend.holidays = {D("2023-03-01"), D("2023-03-03"), D("2023-03-05")};
    odd_weekend.makeup_working_days = {D("2023-03-03"), D("2023-03-04")};

    std::mt19937 random(20230929);
    std::uniform_int_distribution<std::int32_t> offsets(-60, 800);
    std::uniform_int_distribution<std::int32_t> counts(-300, 300);
    const Date base = D("2022-12-01");
    for (const WorkingCalendar* calendar :
         std::initializer_list<const WorkingCalendar*>{&shipped, &six_day_week, &no_weekend, &odd_weekend}) {
        for (int round = 0; round < 400; ++round) {
            const Date from = base.AddDays(offsets(random));
            const Date to = base.AddDays(offsets(random));
            const std::int32_t count = counts(random);
            INFO(from.ToString() << " " << to.ToString() << " " << count);
            CHECK(calendar->WorkingDaysBetween(from, to) == ReferenceBetween(*calendar, from, to));
            CHECK(calendar->AddWorkingDays(from, count) == ReferenceAdd(*calendar, from, count));
        }
    }
}

TEST_CASE("calendar: large counts are fast and exact", "[calendar]") {
    const auto& calendar = ShippedCalendar();
    const Date start = D("2023-01-01");
    // 100000 working days is about 383 years; the weekly pattern applies after 2024.
    const Date far = calendar.AddWorkingDays(start, 100000);
    CHECK(calendar.WorkingDaysBetween(start.AddDays(1), far.AddDays(1)) == 100000);
    CHECK(calendar.IsWorkingDay(far));
    // Back again: the first working day of 2023 is Tuesday 3 January (the 2nd is
    // a holiday); one further is the last working day of 2022, Friday 30 December.
    CHECK(calendar.AddWorkingDays(far, -99999) == D("2023-01-03"));
    CHECK(calendar.AddWorkingDays(far, -100000) == D("2022-12-30"));
}

TEST_CASE("calendar: a week without working days cannot be counted", "[calendar]") {
    WorkingCalendar calendar;
    calendar.weekend_days = {1, 2, 3, 4, 5, 6, 7};
    calendar.makeup_working_days = {D("2023-01-07")};
    CHECK(calendar.AddWorkingDays(D("2023-01-01"), 1) == D("2023-01-07"));
    CHECK_THROWS_AS(calendar.AddWorkingDays(D("2023-01-01"), 2), std::domain_error);
    CHECK(calendar.WorkingDaysBetween(D("2023-01-01"), D("2024-01-01")) == 1);
}

TEST_CASE("calendar: localized text falls back to the other language", "[calendar]") {
    cascade::model::LocalizedText text{"春节", ""};
    CHECK(text.In("zh") == "春节");
    CHECK(text.In("en") == "春节");
    text.en = "Spring Festival";
    CHECK(text.In("en") == "Spring Festival");
    CHECK(text.In("fr") == "春节");
    CHECK_FALSE(text.Empty());
    CHECK(cascade::model::LocalizedText{}.Empty());
}
