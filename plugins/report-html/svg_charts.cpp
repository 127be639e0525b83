// Inline SVG charts of the HTML report (see svg_charts.hpp). Geometry is in
// SVG user units; the page scales the charts to its width. Bars and lines use
// crisp edges so their fills stay exact colours in print and on screen.
#include "svg_charts.hpp"

#include "cascade/report/text.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace cascade::report::html {

namespace {

constexpr double kWidth = 1160;
constexpr std::string_view kTextColor = "#333333";
constexpr std::string_view kMutedColor = "#6b7280";
constexpr std::string_view kGridColor = "#e3e6ea";

// A number for SVG attributes: at most one decimal, no trailing zeros.
std::string Num(double value) {
    std::array<char, 32> buffer{};
    std::snprintf(buffer.data(), buffer.size(), "%.1f", value);
    std::string text(buffer.data());
    if (text.size() > 2 && text.compare(text.size() - 2, 2, ".0") == 0)
        text.resize(text.size() - 2);
    return text == "-0" ? "0" : text;
}

// Width of a UTF-8 string in half-width units: wide (CJK) characters count 2.
// Used to fit labels in their column, where SVG cannot wrap or measure.
std::size_t CodepointWidth(std::uint32_t codepoint) {
    return (codepoint >= 0x1100 &&
            (codepoint <= 0x115f || (codepoint >= 0x2e80 && codepoint <= 0xa4cf) ||
             (codepoint >= 0xac00 && codepoint <= 0xd7a3) || (codepoint >= 0xf900 && codepoint <= 0xfaff) ||
             (codepoint >= 0xfe30 && codepoint <= 0xfe4f) || (codepoint >= 0xff00 && codepoint <= 0xff60) ||
             (codepoint >= 0xffe0 && codepoint <= 0xffe6) || codepoint >= 0x20000))
               ? 2
               : 1;
}

std::size_t DisplayWidth(std::string_view text);

// Cuts `text` to at most `max_width` half-width units, ending in "…" when cut.
std::string Fit(std::string_view text, std::size_t max_width) {
    std::size_t width = 0;
    std::size_t i = 0;
    std::size_t cut = std::string_view::npos;
    while (i < text.size()) {
        const auto lead = static_cast<unsigned char>(text[i]);
        const std::size_t length = lead < 0x80           ? 1
                                   : (lead >> 5) == 0x6  ? 2
                                   : (lead >> 4) == 0xe  ? 3
                                   : (lead >> 3) == 0x1e ? 4
                                                         : 1;
        std::uint32_t codepoint = length == 1 ? lead : (lead & (0xff >> (length + 1)));
        for (std::size_t k = 1; k < length && i + k < text.size(); ++k) {
            codepoint = (codepoint << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3f);
        }
        const std::size_t next_width = width + CodepointWidth(codepoint);
        if (next_width + 2 > max_width && cut == std::string_view::npos)
            cut = i;
        if (next_width > max_width)
            return std::string(text.substr(0, cut)) + "…";
        width = next_width;
        i += length;
    }
    return std::string(text);
}

std::size_t DisplayWidth(std::string_view text) {
    std::size_t width = 0;
    for (std::size_t i = 0; i < text.size();) {
        const auto lead = static_cast<unsigned char>(text[i]);
        const std::size_t length = lead < 0x80           ? 1
                                   : (lead >> 5) == 0x6  ? 2
                                   : (lead >> 4) == 0xe  ? 3
                                   : (lead >> 3) == 0x1e ? 4
                                                         : 1;
        width += length >= 3 ? 2 : 1;
        i += length;
    }
    return width;
}

// A rounded-up axis maximum with 2..6 ticks of 1, 2 or 5 × 10^k.
struct Axis {
    double max = 1;
    double step = 1;

    // The value of tick `i`, for i in 0..Ticks().
    int Ticks() const { return static_cast<int>(std::lround(max / step)); }
    double Tick(int i) const { return step * i; }
};

Axis NiceAxis(double value) {
    if (value <= 0)
        return {1, 1};
    const double magnitude = std::pow(10.0, std::floor(std::log10(value)));
    for (const double factor : {0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0}) {
        const double step = std::max(1.0, factor * magnitude);
        if (value / step <= 5)
            return {std::ceil(value / step) * step, step};
    }
    return {value, value};
}

std::string OpenSvg(double height, std::string_view label) {
    std::ostringstream out;
    out << "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 " << Num(kWidth) << ' '
        << Num(height) << "\" width=\"100%\" role=\"img\" aria-label=\"" << XmlEscape(label)
        << "\" font-size=\"13\" fill=\"" << kTextColor << "\">";
    return out.str();
}

void Legend(std::ostringstream& out, double x, double y,
            const std::vector<std::pair<std::string_view, std::string>>& items) {
    for (const auto& [color, text] : items) {
        out << "<rect x=\"" << Num(x) << "\" y=\"" << Num(y) << "\" width=\"12\" height=\"12\" fill=\"" << color
            << "\" shape-rendering=\"crispEdges\"/>";
        out << "<text x=\"" << Num(x + 18) << "\" y=\"" << Num(y + 11) << "\">" << XmlEscape(text) << "</text>";
        x += 36 + static_cast<double>(DisplayWidth(text)) * 7;
    }
}

void Rect(std::ostringstream& out, double x, double y, double width, double height, std::string_view color,
          const std::string& tooltip) {
    if (width <= 0)
        return;
    out << "<rect x=\"" << Num(x) << "\" y=\"" << Num(y) << "\" width=\"" << Num(width) << "\" height=\"" << Num(height)
        << "\" fill=\"" << color << "\" shape-rendering=\"crispEdges\"><title>" << XmlEscape(tooltip)
        << "</title></rect>";
}

}  // namespace

std::string XmlEscape(std::string_view text) {
    std::string out;
    out.reserve(text.size() + 16);
    for (const char c : text) {
        switch (c) {
        case '&':
            out += "&amp;";
            break;
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        case '"':
            out += "&quot;";
            break;
        case '\'':
            out += "&#39;";
            break;
        default:
            // Control characters are not allowed in XML 1.0 text.
            if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') {
                out += ' ';
            } else {
                out += c;
            }
        }
    }
    return out;
}

std::string ProgressChart(const ReportData& data, Locale locale) {
    struct Row {
        std::string label;
        Counts counts;
    };
    struct Group {
        std::string title;
        std::vector<Row> rows;
    };
    std::vector<Group> groups;
    for (const Stage& stage : data.stages) {
        Group group{data.StageTitle(stage.id, locale), {}};
        // Rows in the order of the categories, whatever order stage_progress came in.
        for (const Category& category : data.categories) {
            Counts counts;
            bool found = false;
            for (const StageProgress& row : data.stage_progress) {
                if (row.stage == stage.id && row.category == category.id) {
                    counts += row.counts;
                    found = true;
                }
            }
            if (found && counts.applicable > 0) {
                group.rows.push_back({data.CategoryTitle(category.id, locale), counts});
            }
        }
        groups.push_back(std::move(group));
    }
    const bool any = std::any_of(groups.begin(), groups.end(), [](const Group& g) { return !g.rows.empty(); });
    if (!any)
        return {};

    constexpr double kLabelX = 16;
    constexpr double kBarX = 250;
    constexpr double kBarWidth = kWidth - kBarX - 190;
    constexpr double kRowHeight = 18;
    constexpr double kRowGap = 6;
    constexpr double kHeaderHeight = 24;
    constexpr double kTop = 56;
    double height = kTop;
    for (const Group& group : groups) {
        height +=
            kHeaderHeight + std::max<double>(1, static_cast<double>(group.rows.size())) * (kRowHeight + kRowGap) + 6;
    }
    height += 8;

    std::ostringstream out;
    out << OpenSvg(height, L(locale, "chart_progress"));
    Legend(out, 0, 4,
           {{kColorDone, L(locale, "done")}, {kColorOverdue, L(locale, "overdue")}, {kColorOpen, L(locale, "open")}});
    // Percent grid.
    for (int tick = 0; tick <= 100; tick += 25) {
        const double x = kBarX + kBarWidth * tick / 100.0;
        out << "<line x1=\"" << Num(x) << "\" y1=\"" << Num(kTop - 10) << "\" x2=\"" << Num(x) << "\" y2=\""
            << Num(height - 8) << "\" stroke=\"" << kGridColor << "\" stroke-width=\"1\"/>";
        out << "<text x=\"" << Num(x) << "\" y=\"" << Num(kTop - 16) << "\" text-anchor=\"middle\" fill=\""
            << kMutedColor << "\" font-size=\"12\">" << tick << "%</text>";
    }
    double y = kTop;
    for (const Group& group : groups) {
        out << "<text x=\"0\" y=\"" << Num(y + 16) << "\" font-weight=\"bold\">" << XmlEscape(Fit(group.title, 34))
            << "</text>";
        y += kHeaderHeight;
        if (group.rows.empty()) {
            out << "<text x=\"" << Num(kLabelX) << "\" y=\"" << Num(y + 13) << "\" fill=\"" << kMutedColor << "\">"
                << XmlEscape(L(locale, "no_stage_units")) << "</text>";
            y += kRowHeight + kRowGap + 6;
            continue;
        }
        for (const Row& row : group.rows) {
            const Counts& c = row.counts;
            const double scale = kBarWidth / static_cast<double>(c.applicable);
            const double done = std::min<double>(static_cast<double>(c.done), static_cast<double>(c.applicable));
            const double overdue =
                std::min<double>(static_cast<double>(c.overdue), static_cast<double>(c.applicable) - done);
            const double open = static_cast<double>(c.applicable) - done - overdue;
            out << "<text x=\"" << Num(kLabelX) << "\" y=\"" << Num(y + 13) << "\">" << XmlEscape(Fit(row.label, 30))
                << "</text>";
            const std::string prefix = group.title + " · " + row.label + ": ";
            double x = kBarX;
            Rect(out, x, y, done * scale, kRowHeight, kColorDone,
                 prefix + L(locale, "done") + " " + FormatCount(c.done, locale) + "/" +
                     FormatCount(c.applicable, locale));
            x += done * scale;
            Rect(out, x, y, overdue * scale, kRowHeight, kColorOverdue,
                 prefix + L(locale, "overdue") + " " + FormatCount(c.overdue, locale));
            x += overdue * scale;
            Rect(out, x, y, open * scale, kRowHeight, kColorOpen,
                 prefix + L(locale, "open") + " " + FormatCount(c.OpenOnTime(), locale));
            std::string value = FormatPercent(c.done, c.applicable) + "  (" + FormatCount(c.done, locale) + "/" +
                                FormatCount(c.applicable, locale) + ")";
            if (c.overdue > 0)
                value += "  " + L(locale, "overdue") + " " + FormatCount(c.overdue, locale);
            out << "<text x=\"" << Num(kBarX + kBarWidth + 8) << "\" y=\"" << Num(y + 13) << "\">" << XmlEscape(value)
                << "</text>";
            y += kRowHeight + kRowGap;
        }
        y += 6;
    }
    out << "</svg>";
    return out.str();
}

std::string OverdueChart(const ReportData& data, Locale locale, std::size_t top) {
    if (data.overdue_by_unit.empty() || top == 0)
        return {};
    const std::size_t count = std::min(top, data.overdue_by_unit.size());
    constexpr double kBarX = 320;
    constexpr double kBarWidth = kWidth - kBarX - 60;
    constexpr double kRowHeight = 20;
    constexpr double kRowGap = 6;
    constexpr double kTop = 30;
    const double height = kTop + static_cast<double>(count) * (kRowHeight + kRowGap) + 10;
    const Axis axis = NiceAxis(static_cast<double>(data.overdue_by_unit.front().overdue));

    std::ostringstream out;
    out << OpenSvg(height, L(locale, "chart_overdue"));
    for (int i = 0; i <= axis.Ticks(); ++i) {
        const double tick = axis.Tick(i);
        const double x = kBarX + kBarWidth * tick / axis.max;
        out << "<line x1=\"" << Num(x) << "\" y1=\"" << Num(kTop - 6) << "\" x2=\"" << Num(x) << "\" y2=\""
            << Num(height - 6) << "\" stroke=\"" << kGridColor << "\" stroke-width=\"1\"/>";
        out << "<text x=\"" << Num(x) << "\" y=\"" << Num(kTop - 12) << "\" text-anchor=\"middle\" fill=\""
            << kMutedColor << "\" font-size=\"12\">" << FormatCount(static_cast<std::int64_t>(tick), locale)
            << "</text>";
    }
    double y = kTop;
    for (std::size_t i = 0; i < count; ++i) {
        const OverdueUnit& unit = data.overdue_by_unit[i];
        out << "<text x=\"" << Num(kBarX - 10) << "\" y=\"" << Num(y + 14) << "\" text-anchor=\"end\"><title>"
            << XmlEscape(unit.name) << "</title>" << XmlEscape(Fit(unit.name, 44)) << "</text>";
        const double width = kBarWidth * static_cast<double>(unit.overdue) / axis.max;
        Rect(out, kBarX, y, width, kRowHeight, kColorOverdueBar,
             unit.name + ": " + L(locale, "overdue_steps") + " " + FormatCount(unit.overdue, locale));
        out << "<text x=\"" << Num(kBarX + width + 6) << "\" y=\"" << Num(y + 14) << "\">"
            << FormatCount(unit.overdue, locale) << "</text>";
        y += kRowHeight + kRowGap;
    }
    out << "</svg>";
    return out.str();
}

std::string BurndownChart(const ReportData& data, Locale locale) {
    struct Point {
        std::int64_t day;
        const BurndownPoint* values;
    };
    std::vector<Point> points;
    for (const BurndownPoint& point : data.problems_burndown) {
        if (const auto day = DaysFromDate(point.date))
            points.push_back({*day, &point});
    }
    if (points.empty())
        return {};

    // The time axis spans the campaign (when known) and reaches today: the
    // last values hold until something changes.
    std::int64_t first = points.front().day;
    std::int64_t last = points.back().day;
    if (const auto start = DaysFromDate(data.campaign.start); start && *start < first)
        first = *start;
    if (const auto today = DaysFromDate(data.today); today && *today > last)
        last = *today;
    if (last <= first)
        last = first + 1;
    std::int64_t max_value = 0;
    for (const Point& point : points) {
        max_value = std::max({max_value, point.values->total, point.values->open, point.values->closed});
    }
    const Axis axis = NiceAxis(static_cast<double>(max_value));

    constexpr double kHeight = 340;
    constexpr double kLeft = 64;
    constexpr double kRight = kWidth - 24;
    constexpr double kTop = 40;
    constexpr double kBottom = kHeight - 40;
    auto x_of = [&](std::int64_t day) {
        return kLeft + (kRight - kLeft) * static_cast<double>(day - first) / static_cast<double>(last - first);
    };
    auto y_of = [&](double value) { return kBottom - (kBottom - kTop) * value / axis.max; };

    std::ostringstream out;
    out << OpenSvg(kHeight, L(locale, "chart_burndown"));
    Legend(out, 0, 4,
           {{kColorProblemsOpen, L(locale, "problems_open")},
            {kColorProblemsClosed, L(locale, "problems_closed")},
            {kColorProblemsTotal, L(locale, "problems_total")}});
    for (int i = 0; i <= axis.Ticks(); ++i) {
        const double tick = axis.Tick(i);
        const double y = y_of(tick);
        out << "<line x1=\"" << Num(kLeft) << "\" y1=\"" << Num(y) << "\" x2=\"" << Num(kRight) << "\" y2=\"" << Num(y)
            << "\" stroke=\"" << kGridColor << "\" stroke-width=\"1\"/>";
        out << "<text x=\"" << Num(kLeft - 8) << "\" y=\"" << Num(y + 4) << "\" text-anchor=\"end\" fill=\""
            << kMutedColor << "\" font-size=\"12\">" << FormatCount(static_cast<std::int64_t>(tick), locale)
            << "</text>";
    }
    // Month ticks on the first of each month within the span.
    CivilDate month = DateFromDays(first);
    month.day = 1;
    bool first_tick = true;
    for (int guard = 0; guard < 240; ++guard) {
        const std::string text =
            std::to_string(month.year) + (month.month < 10 ? "-0" : "-") + std::to_string(month.month) + "-01";
        const auto day = DaysFromDate(text);
        if (!day || *day > last)
            break;
        if (*day >= first) {
            const double x = x_of(*day);
            out << "<line x1=\"" << Num(x) << "\" y1=\"" << Num(kTop) << "\" x2=\"" << Num(x) << "\" y2=\""
                << Num(kBottom + 4) << "\" stroke=\"" << kGridColor << "\" stroke-width=\"1\"/>";
            out << "<text x=\"" << Num(x) << "\" y=\"" << Num(kBottom + 20) << "\" text-anchor=\"middle\" fill=\""
                << kMutedColor << "\" font-size=\"12\">"
                << XmlEscape(MonthTick(month, locale, first_tick || month.month == 1)) << "</text>";
            first_tick = false;
        }
        month.month = month.month == 12 ? 1 : month.month + 1;
        if (month.month == 1)
            ++month.year;
    }
    out << "<line x1=\"" << Num(kLeft) << "\" y1=\"" << Num(kBottom) << "\" x2=\"" << Num(kRight) << "\" y2=\""
        << Num(kBottom) << "\" stroke=\"" << kMutedColor << "\" stroke-width=\"1\"/>";

    // Values hold between changes, so each series is a step line.
    auto series = [&](auto value_of, std::string_view color, double width, std::string_view dash) {
        std::ostringstream path;
        double y = y_of(0);
        path << "M" << Num(x_of(first)) << ' ' << Num(y);
        for (const Point& point : points) {
            path << " H" << Num(x_of(point.day));
            y = y_of(static_cast<double>(value_of(*point.values)));
            path << " V" << Num(y);
        }
        path << " H" << Num(x_of(last));
        out << "<path d=\"" << path.str() << "\" fill=\"none\" stroke=\"" << color << "\" stroke-width=\"" << Num(width)
            << "\" stroke-linejoin=\"miter\" shape-rendering=\"crispEdges\"";
        if (!dash.empty())
            out << " stroke-dasharray=\"" << dash << "\"";
        out << "/>";
    };
    series([](const BurndownPoint& p) { return p.total; }, kColorProblemsTotal, 1.5, "6 4");
    series([](const BurndownPoint& p) { return p.closed; }, kColorProblemsClosed, 3, "");
    series([](const BurndownPoint& p) { return p.open; }, kColorProblemsOpen, 3, "");
    const BurndownPoint& latest = *points.back().values;
    out << "<text x=\"" << Num(kRight) << "\" y=\"" << Num(kTop - 10) << "\" text-anchor=\"end\" fill=\"" << kMutedColor
        << "\" font-size=\"12\">"
        << XmlEscape(latest.date + "  " + L(locale, "problems_open") + " " + FormatCount(latest.open, locale) + " · " +
                     L(locale, "problems_closed") + " " + FormatCount(latest.closed, locale))
        << "</text>";
    out << "</svg>";
    return out.str();
}

}  // namespace cascade::report::html
