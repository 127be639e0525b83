// Calendar dates and durations as campaign documents state them:
// "2023-12-15", "P7D", "10 working days". Dates are whole days; campaigns
// are planned to the day, never to the hour.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cascade::model {

// A civil date, stored as days since 1970-01-01 (proleptic Gregorian).
class Date {
public:
    constexpr Date() = default;
    constexpr explicit Date(std::int32_t days_since_epoch) : days_(days_since_epoch) {}

    static Date FromCivil(int year, unsigned month, unsigned day);
    // Accepts exactly YYYY-MM-DD with a valid month and day; nullopt otherwise.
    static std::optional<Date> Parse(std::string_view text);

    std::int32_t DaysSinceEpoch() const { return days_; }
    // 1 = Monday ... 7 = Sunday (ISO 8601).
    unsigned IsoWeekday() const;
    int Year() const;
    unsigned Month() const;
    unsigned Day() const;
    std::string ToString() const;  // YYYY-MM-DD

    Date AddDays(std::int32_t days) const { return Date(days_ + days); }
    friend std::int32_t operator-(Date a, Date b) { return a.days_ - b.days_; }
    friend auto operator<=>(Date, Date) = default;  // NOLINT(modernize-use-nullptr): clang-tidy 14 false positive

private:
    std::int32_t days_ = 0;
};

enum class DurationUnit { calendar_days, working_days };

// A length of time counted either in calendar days or in working days of a
// working calendar. Weeks are stored as seven calendar days.
struct Duration {
    std::int32_t amount = 0;
    DurationUnit unit = DurationUnit::calendar_days;

    // Accepts ISO 8601 day/week periods ("P7D", "P2W") and plain English
    // ("3 days", "1 day", "2 weeks", "10 working days", "1 working day",
    // "5 workdays") and Chinese ("10个工作日", "3天", "2周"). nullopt otherwise.
    static std::optional<Duration> Parse(std::string_view text);
    std::string ToString() const;  // "P7D" or "10 working days"

    friend bool operator==(const Duration&, const Duration&) = default;
};

}  // namespace cascade::model
