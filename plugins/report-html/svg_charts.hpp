// Inline SVG charts for the HTML report, drawn by the plugin itself so the
// page needs no script and no network: stage progress by unit category,
// the units with the most overdue steps, and the problem-list burn-down.
#pragma once

#include "cascade/report/model.hpp"

#include <cstddef>
#include <string>
#include <string_view>

namespace cascade::report::html {

// Chart colours. Each is used by one chart only (and its legend), so a
// rendered page can be checked chart by chart; keep them distinct.
inline constexpr std::string_view kColorDone = "#2a9d8f";
inline constexpr std::string_view kColorOpen = "#e9c46a";
inline constexpr std::string_view kColorOverdue = "#e76f51";
inline constexpr std::string_view kColorOverdueBar = "#9d0208";
inline constexpr std::string_view kColorProblemsOpen = "#7b2cbf";
inline constexpr std::string_view kColorProblemsClosed = "#0077b6";
inline constexpr std::string_view kColorProblemsTotal = "#8d99ae";

// Escapes text for XML character data and attribute values.
std::string XmlEscape(std::string_view text);

// (1) Done / overdue / open share of each stage, one bar per unit category.
// Empty when no stage has applicable steps.
std::string ProgressChart(const ReportData& data, Locale locale);

// (2) The `top` units with the most overdue steps, as horizontal bars. Empty when none is overdue.
std::string OverdueChart(const ReportData& data, Locale locale, std::size_t top = 20);

// (3) Open and closed problems over the campaign, as step lines. Empty without burn-down points.
std::string BurndownChart(const ReportData& data, Locale locale);

}  // namespace cascade::report::html
