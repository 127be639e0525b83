// Civil dates (via std::chrono's calendar types) and the duration forms
// campaign documents use: ISO 8601 periods, plain English and Chinese.
#include "cascade/model/date.hpp"
#include "cascade/model/text.hpp"

#include <array>
#include <chrono>
#include <stdexcept>

namespace cascade::model {

namespace {

namespace chr = std::chrono;

// Larger amounts are refused: no campaign lasts three centuries, and the cap
// keeps every later date computation far away from integer overflow.
constexpr std::int32_t kMaxDurationAmount = 100000;

chr::year_month_day ToCivil(std::int32_t days_since_epoch) {
    return chr::year_month_day{chr::sys_days{chr::days{days_since_epoch}}};
}

bool IsDigit(char c) {
    return c >= '0' && c <= '9';
}

bool IsSpace(char c) {
    return c == ' ' || c == '\t';
}

std::string_view TrimSpaces(std::string_view text) {
    while (!text.empty() && IsSpace(text.front())) {
        text.remove_prefix(1);
    }
    while (!text.empty() && IsSpace(text.back())) {
        text.remove_suffix(1);
    }
    return text;
}

// Consumes a run of ASCII digits at the front of `text`. nullopt when there is
// none or the value exceeds kMaxDurationAmount (checked digit by digit, so a
// thousand-digit number cannot overflow).
std::optional<std::int32_t> ConsumeAmount(std::string_view& text) {
    std::size_t length = 0;
    std::int32_t value = 0;
    while (length < text.size() && IsDigit(text[length])) {
        value = value * 10 + (text[length] - '0');
        if (value > kMaxDurationAmount) {
            return std::nullopt;
        }
        ++length;
    }
    if (length == 0) {
        return std::nullopt;
    }
    text.remove_prefix(length);
    return value;
}

struct UnitWord {
    std::string_view word;
    DurationUnit unit;
    std::int32_t days_per_unit;
};

// English unit words (compared in lower case, after a number and whitespace).
constexpr std::array<UnitWord, 8> kEnglishUnits{{
    {"day", DurationUnit::calendar_days, 1},
    {"days", DurationUnit::calendar_days, 1},
    {"week", DurationUnit::calendar_days, 7},
    {"weeks", DurationUnit::calendar_days, 7},
    {"working day", DurationUnit::working_days, 1},
    {"working days", DurationUnit::working_days, 1},
    {"workday", DurationUnit::working_days, 1},
    {"workdays", DurationUnit::working_days, 1},
}};

// Chinese unit words (UTF-8), directly after the number or after whitespace.
constexpr std::array<UnitWord, 3> kChineseUnits{{
    {"个工作日", DurationUnit::working_days, 1},
    {"天", DurationUnit::calendar_days, 1},
    {"周", DurationUnit::calendar_days, 7},
}};

// Collapses runs of whitespace inside the English unit ("working   days").
std::string NormalizeInnerSpaces(std::string_view text) {
    std::string normalized;
    bool in_space = false;
    for (char c : text) {
        if (IsSpace(c)) {
            in_space = true;
            continue;
        }
        if (in_space && !normalized.empty()) {
            normalized += ' ';
        }
        in_space = false;
        normalized += c;
    }
    return normalized;
}

std::optional<Duration> ParseIsoPeriod(std::string_view text) {
    // "P7D" / "P2W": one component only; ISO's other designators (Y, M, T...)
    // have no fixed length in days, so they are not accepted.
    text.remove_prefix(1);  // the 'P'
    const auto amount = ConsumeAmount(text);
    if (!amount || text.size() != 1) {
        return std::nullopt;
    }
    const char designator = AsciiLower(text.front());
    if (designator == 'd') {
        return Duration{*amount, DurationUnit::calendar_days};
    }
    if (designator == 'w') {
        return Duration{*amount * 7, DurationUnit::calendar_days};
    }
    return std::nullopt;
}

}  // namespace

Date Date::FromCivil(int year, unsigned month, unsigned day) {
    const bool year_in_range = year >= static_cast<int>(chr::year::min()) && year <= static_cast<int>(chr::year::max());
    const chr::year_month_day civil{chr::year{year_in_range ? year : 0}, chr::month{month}, chr::day{day}};
    if (!year_in_range || !civil.ok()) {
        throw std::invalid_argument(std::to_string(year) + "-" + std::to_string(month) + "-" + std::to_string(day) +
                                    " is not a date");
    }
    return Date(static_cast<std::int32_t>(chr::sys_days{civil}.time_since_epoch().count()));
}

std::optional<Date> Date::Parse(std::string_view text) {
    if (text.size() != 10 || text[4] != '-' || text[7] != '-') {
        return std::nullopt;
    }
    for (std::size_t i : {0U, 1U, 2U, 3U, 5U, 6U, 8U, 9U}) {
        if (!IsDigit(text[i])) {
            return std::nullopt;
        }
    }
    const auto number = [&](std::size_t from, std::size_t length) {
        int value = 0;
        for (std::size_t i = from; i < from + length; ++i) {
            value = value * 10 + (text[i] - '0');
        }
        return value;
    };
    const chr::year_month_day civil{chr::year{number(0, 4)}, chr::month{static_cast<unsigned>(number(5, 2))},
                                    chr::day{static_cast<unsigned>(number(8, 2))}};
    if (!civil.ok()) {
        return std::nullopt;
    }
    return Date(static_cast<std::int32_t>(chr::sys_days{civil}.time_since_epoch().count()));
}

unsigned Date::IsoWeekday() const {
    return chr::weekday{chr::sys_days{chr::days{days_}}}.iso_encoding();
}

int Date::Year() const {
    return static_cast<int>(ToCivil(days_).year());
}

unsigned Date::Month() const {
    return static_cast<unsigned>(ToCivil(days_).month());
}

unsigned Date::Day() const {
    return static_cast<unsigned>(ToCivil(days_).day());
}

std::string Date::ToString() const {
    const auto civil = ToCivil(days_);
    const int year = static_cast<int>(civil.year());
    const auto month = static_cast<unsigned>(civil.month());
    const auto day = static_cast<unsigned>(civil.day());

    const auto padded = [](unsigned value, std::size_t width) {
        std::string digits = std::to_string(value);
        if (digits.size() < width) {
            digits.insert(0, width - digits.size(), '0');
        }
        return digits;
    };
    std::string text = year < 0 ? "-" : "";
    text += padded(static_cast<unsigned>(year < 0 ? -year : year), 4);
    text += '-';
    text += padded(month, 2);
    text += '-';
    text += padded(day, 2);
    return text;
}

std::optional<Duration> Duration::Parse(std::string_view text) {
    text = TrimSpaces(text);
    if (text.empty()) {
        return std::nullopt;
    }
    if (text.front() == 'P' || text.front() == 'p') {
        return ParseIsoPeriod(text);
    }

    const auto amount = ConsumeAmount(text);
    if (!amount) {
        return std::nullopt;
    }
    const bool spaced = !text.empty() && IsSpace(text.front());
    text = TrimSpaces(text);

    for (const auto& unit : kChineseUnits) {
        if (text == unit.word) {
            return Duration{*amount * unit.days_per_unit, unit.unit};
        }
    }
    if (!spaced) {
        return std::nullopt;  // "3days": English needs a space after the number
    }
    const std::string word = AsciiLower(NormalizeInnerSpaces(text));
    for (const auto& unit : kEnglishUnits) {
        if (word == unit.word) {
            return Duration{*amount * unit.days_per_unit, unit.unit};
        }
    }
    return std::nullopt;
}

std::string Duration::ToString() const {
    if (unit == DurationUnit::working_days) {
        return std::to_string(amount) + (amount == 1 ? " working day" : " working days");
    }
    return "P" + std::to_string(amount) + "D";
}

}  // namespace cascade::model
