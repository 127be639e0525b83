// A working calendar as Chinese offices keep it: weekends, public holidays
// and the make-up working days (调休) that are worked on a weekend in exchange.
// Calendars are data (workflows/calendars/*.yaml), never code.
#pragma once

#include "cascade/model/date.hpp"

#include <set>
#include <string>

namespace cascade::model {

struct LocalizedText {
    std::string zh;
    std::string en;
    // The text in the requested language ("zh" or "en"), falling back to the other.
    const std::string& In(std::string_view language) const;
    bool Empty() const { return zh.empty() && en.empty(); }
};

class WorkingCalendar {
public:
    std::string id;
    LocalizedText title;
    std::set<unsigned> weekend_days = {6, 7};  // ISO weekdays that are rest days
    std::set<Date> holidays;                   // rest days that would otherwise be worked
    std::set<Date> makeup_working_days;        // weekend days that are worked
    Date covers_from;                          // the official schedule is known for
    Date covers_to;                            // [covers_from, covers_to], inclusive

    bool IsWorkingDay(Date date) const;
    bool Covers(Date date) const { return covers_from <= date && date <= covers_to; }

    // Number of working days in the half-open range [from, to); 0 when to <= from.
    std::int32_t WorkingDaysBetween(Date from, Date to) const;

    // The date reached by counting `count` working days after `start`
    // (start itself is not counted): AddWorkingDays(Fri, 1) is the next working day.
    Date AddWorkingDays(Date start, std::int32_t count) const;

    // start + duration, counting working days on this calendar when the unit asks for it.
    Date Add(Date start, const Duration& duration) const;
};

}  // namespace cascade::model
