// Fuzzes the calendar loader and the date and duration parsers.
#include "cascade/lang/calendar_loader.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    cascade::lang::Diagnostics diagnostics;
    auto calendar = cascade::lang::LoadCalendarText(text, "fuzz.yaml", diagnostics);
    if (calendar) {
        // Arithmetic on whatever calendar came out must terminate.
        const auto from = calendar->covers_from;
        (void)calendar->WorkingDaysBetween(from, from.AddDays(400));
        (void)calendar->AddWorkingDays(from, 250);
    }
    (void)cascade::model::Date::Parse(text);
    (void)cascade::model::Duration::Parse(text);
    return 0;
}
