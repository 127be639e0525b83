// The system clock and local-date arithmetic for campaign timers.
#include "cascade/engine/clock.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

namespace cascade::engine {

namespace {
constexpr std::int64_t kMillisecondsPerDay = 86'400'000;
constexpr std::int64_t kMillisecondsPerMinute = 60'000;

// Floor division, so instants before 1970 land on the right day.
std::int64_t FloorDivide(std::int64_t a, std::int64_t b) {
    const std::int64_t quotient = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? quotient - 1 : quotient;
}
}  // namespace

Timestamp SystemClock::Now() const {
    const auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
    return std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch).count();
}

model::Date LocalDate(Timestamp at, int utc_offset_minutes) {
    const std::int64_t local = at + std::int64_t{utc_offset_minutes} * kMillisecondsPerMinute;
    return model::Date(static_cast<std::int32_t>(FloorDivide(local, kMillisecondsPerDay)));
}

Timestamp StartOfDay(model::Date date, int utc_offset_minutes) {
    return std::int64_t{date.DaysSinceEpoch()} * kMillisecondsPerDay -
           std::int64_t{utc_offset_minutes} * kMillisecondsPerMinute;
}

std::string FormatTimestamp(Timestamp at, int utc_offset_minutes) {
    const std::int64_t local = at + std::int64_t{utc_offset_minutes} * kMillisecondsPerMinute;
    const model::Date date(static_cast<std::int32_t>(FloorDivide(local, kMillisecondsPerDay)));
    const std::int64_t in_day = local - std::int64_t{date.DaysSinceEpoch()} * kMillisecondsPerDay;
    const int seconds = static_cast<int>(in_day / 1000);
    const int offset = utc_offset_minutes < 0 ? -utc_offset_minutes : utc_offset_minutes;
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%sT%02d:%02d:%02d%c%02d:%02d", date.ToString().c_str(), seconds / 3600,
                  seconds / 60 % 60, seconds % 60, utc_offset_minutes < 0 ? '-' : '+', offset / 60, offset % 60);
    return buffer;
}

int SystemUtcOffsetMinutes() {
    const std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    return static_cast<int>(local.tm_gmtoff / 60);
}

}  // namespace cascade::engine
