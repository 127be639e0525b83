// Working-day arithmetic on a working calendar.
//
// A calendar is a weekly pattern (which ISO weekdays are rest days) plus a
// short list of exceptions: holidays that fall on pattern working days and
// make-up working days that fall on pattern rest days. Counting therefore
// works in whole weeks between exceptions, and walks only the exceptions one
// by one: O(count / 7 + exceptions in range) for AddWorkingDays and
// O(log n + exceptions in range) for WorkingDaysBetween.
//
// Outside [covers_from, covers_to] the official schedule is unknown and only
// the weekly pattern applies; callers that care warn about such dates.
#include "cascade/model/calendar.hpp"

#include <cstdint>
#include <iterator>
#include <optional>
#include <stdexcept>

namespace cascade::model {

const std::string& LocalizedText::In(std::string_view language) const {
    if (language == "en") {
        return en.empty() ? zh : en;
    }
    return zh.empty() ? en : zh;
}

namespace {

// The weekly pattern alone, with exceptions ignored.
class WeekPattern {
public:
    explicit WeekPattern(const std::set<unsigned>& weekend_days) {
        for (unsigned weekday = 1; weekday <= 7; ++weekday) {
            working_[weekday - 1] = !weekend_days.contains(weekday);
            if (working_[weekday - 1]) {
                ++per_week_;
            }
        }
    }

    bool IsWorking(Date date) const { return working_[date.IsoWeekday() - 1]; }
    std::int64_t PerWeek() const { return per_week_; }

    // Pattern working days in the half-open range [from, to).
    std::int64_t Count(Date from, Date to) const {
        if (to <= from) {
            return 0;
        }
        const std::int64_t span = to - from;
        std::int64_t count = span / 7 * per_week_;
        for (Date day = from.AddDays(static_cast<std::int32_t>(span / 7 * 7)); day < to; day = day.AddDays(1)) {
            count += IsWorking(day) ? 1 : 0;
        }
        return count;
    }

    // The `count`-th pattern working day after `start` (count >= 1), or before
    // it when `step` is -1. Whole weeks are skipped at once; the rest takes at
    // most seven single steps.
    Date Advance(Date start, std::int64_t count, int step) const {
        if (per_week_ == 0) {
            throw std::domain_error("working calendar has no working days to count");
        }
        const std::int64_t weeks = (count - 1) / per_week_;
        std::int64_t remaining = count - weeks * per_week_;
        Date day = start.AddDays(static_cast<std::int32_t>(weeks * 7 * step));
        while (remaining > 0) {
            day = day.AddDays(step);
            remaining -= IsWorking(day) ? 1 : 0;
        }
        return day;
    }

private:
    bool working_[7] = {};
    std::int64_t per_week_ = 0;
};

// Walks the dates where the calendar departs from its weekly pattern, in
// date order (forward or backward), each date once even if it is listed both
// as a holiday and as a make-up day.
template <typename Iterator>
class ExceptionWalk {
public:
    ExceptionWalk(const WorkingCalendar& calendar, const WeekPattern& pattern, Iterator holiday, Iterator holiday_end,
                  Iterator makeup, Iterator makeup_end, bool forward)
        : calendar_(calendar),
          pattern_(pattern),
          holiday_(holiday),
          holiday_end_(holiday_end),
          makeup_(makeup),
          makeup_end_(makeup_end),
          forward_(forward) {}

    // The next exception date, or nullopt when there are no more.
    std::optional<Date> Next() {
        while (holiday_ != holiday_end_ || makeup_ != makeup_end_) {
            Date date;
            if (makeup_ == makeup_end_ || (holiday_ != holiday_end_ && Before(*holiday_, *makeup_))) {
                date = *holiday_++;
            } else if (holiday_ == holiday_end_ || Before(*makeup_, *holiday_)) {
                date = *makeup_++;
            } else {
                date = *holiday_++;
                ++makeup_;
            }
            if (calendar_.IsWorkingDay(date) != pattern_.IsWorking(date)) {
                return date;
            }
        }
        return std::nullopt;
    }

private:
    bool Before(Date a, Date b) const { return forward_ ? a < b : b < a; }

    const WorkingCalendar& calendar_;
    const WeekPattern& pattern_;
    Iterator holiday_;
    Iterator holiday_end_;
    Iterator makeup_;
    Iterator makeup_end_;
    bool forward_;
};

template <typename Iterator>
ExceptionWalk(const WorkingCalendar&, const WeekPattern&, Iterator, Iterator, Iterator, Iterator, bool)
    -> ExceptionWalk<Iterator>;

}  // namespace

bool WorkingCalendar::IsWorkingDay(Date date) const {
    if (makeup_working_days.contains(date)) {
        return true;
    }
    if (holidays.contains(date)) {
        return false;
    }
    return !weekend_days.contains(date.IsoWeekday());
}

std::int32_t WorkingCalendar::WorkingDaysBetween(Date from, Date to) const {
    if (to <= from) {
        return 0;
    }
    const WeekPattern pattern(weekend_days);
    std::int64_t count = pattern.Count(from, to);
    ExceptionWalk walk(*this, pattern, holidays.lower_bound(from), holidays.lower_bound(to),
                       makeup_working_days.lower_bound(from), makeup_working_days.lower_bound(to), true);
    while (const auto date = walk.Next()) {
        count += IsWorkingDay(*date) ? 1 : -1;
    }
    return static_cast<std::int32_t>(count);
}

// Counting backwards (count < 0) mirrors counting forwards: AddWorkingDays(d, -1)
// is the last working day before d. Both walk the exceptions between `start`
// and the target, and skip whole weeks of the pattern in between.
Date WorkingCalendar::AddWorkingDays(Date start, std::int32_t count) const {
    if (count == 0) {
        return start;
    }
    const WeekPattern pattern(weekend_days);
    const int step = count > 0 ? 1 : -1;
    std::int64_t remaining = count > 0 ? std::int64_t{count} : -std::int64_t{count};

    // Counts through the exceptions in order: before each one, either the
    // target lies in the plain stretch of pattern days, or that whole stretch
    // is used up and the exception itself is counted if it is worked.
    const auto count_through = [&](auto walk) {
        Date position = start;
        while (const auto exception = walk.Next()) {
            const std::int64_t plain = step > 0 ? pattern.Count(position.AddDays(1), *exception)
                                                : pattern.Count(exception->AddDays(1), position);
            if (plain >= remaining) {
                break;
            }
            remaining -= plain;
            if (IsWorkingDay(*exception) && --remaining == 0) {
                return *exception;
            }
            position = *exception;
        }
        return pattern.Advance(position, remaining, step);
    };

    if (step > 0) {
        return count_through(ExceptionWalk(*this, pattern, holidays.upper_bound(start), holidays.end(),
                                           makeup_working_days.upper_bound(start), makeup_working_days.end(), true));
    }
    return count_through(ExceptionWalk(
        *this, pattern, std::make_reverse_iterator(holidays.lower_bound(start)), holidays.rend(),
        std::make_reverse_iterator(makeup_working_days.lower_bound(start)), makeup_working_days.rend(), false));
}

Date WorkingCalendar::Add(Date start, const Duration& duration) const {
    if (duration.unit == DurationUnit::working_days) {
        return AddWorkingDays(start, duration.amount);
    }
    return start.AddDays(duration.amount);
}

}  // namespace cascade::model
