// Where time comes from. Nothing in the engine reads the wall clock: the
// system clock runs the long-lived `cascade run`; a virtual clock runs tests
// and `cascade simulate`, where five months pass in seconds.
#pragma once

#include "cascade/model/date.hpp"

#include <cstdint>

namespace cascade::engine {

// Milliseconds since the Unix epoch, UTC.
using Timestamp = std::int64_t;

class Clock {
public:
    virtual ~Clock() = default;
    virtual Timestamp Now() const = 0;
};

class SystemClock final : public Clock {
public:
    Timestamp Now() const override;
};

class VirtualClock final : public Clock {
public:
    explicit VirtualClock(Timestamp start = 0) : now_(start) {}
    Timestamp Now() const override { return now_; }
    void Set(Timestamp now) { now_ = now; }
    void Advance(std::int64_t milliseconds) { now_ += milliseconds; }

private:
    Timestamp now_;
};

// Campaign dates are local dates: the day a timestamp falls on at a fixed
// offset from UTC (minutes east, +480 for China Standard Time).
model::Date LocalDate(Timestamp at, int utc_offset_minutes);
// The first millisecond of a local date.
Timestamp StartOfDay(model::Date date, int utc_offset_minutes);
// "2023-10-09T08:30:00+08:00"
std::string FormatTimestamp(Timestamp at, int utc_offset_minutes);
// The offset of this machine's local time zone now, in minutes east of UTC.
int SystemUtcOffsetMinutes();

}  // namespace cascade::engine
