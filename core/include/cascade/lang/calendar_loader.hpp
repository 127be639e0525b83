// Loads a working calendar file (kind: Calendar) with located diagnostics.
#pragma once

#include "cascade/lang/diagnostic.hpp"
#include "cascade/model/calendar.hpp"

#include <optional>
#include <string>

namespace cascade::lang {

// Reads and checks a calendar file. On any error returns nullopt and every
// problem found is in `diagnostics` with its file:line:column.
std::optional<model::WorkingCalendar> LoadCalendarFile(const std::string& path, Diagnostics& diagnostics);

// Same, from text already in memory (`file_name` is only used in locations).
std::optional<model::WorkingCalendar> LoadCalendarText(const std::string& text, const std::string& file_name,
                                                       Diagnostics& diagnostics);

}  // namespace cascade::lang
