// Diagnostic collection, formatting and "did you mean" suggestions.
#include "cascade/lang/diagnostic.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <tuple>

namespace cascade::lang {

Diagnostic& Diagnostics::Error(std::string code, SourceLocation location, std::string message, std::string hint) {
    Add({Severity::error, std::move(code), std::move(location), std::move(message), std::move(hint)});
    return items_.back();
}

Diagnostic& Diagnostics::Warning(std::string code, SourceLocation location, std::string message, std::string hint) {
    Add({Severity::warning, std::move(code), std::move(location), std::move(message), std::move(hint)});
    return items_.back();
}

void Diagnostics::Add(Diagnostic diagnostic) {
    if (diagnostic.severity == Severity::error) {
        ++error_count_;
    }
    items_.push_back(std::move(diagnostic));
}

void Diagnostics::Append(const Diagnostics& other) {
    for (const auto& item : other.items_) {
        Add(item);
    }
}

void Diagnostics::SortByLocation() {
    std::stable_sort(items_.begin(), items_.end(), [](const Diagnostic& a, const Diagnostic& b) {
        return std::tie(a.location.file, a.location.line, a.location.column) <
               std::tie(b.location.file, b.location.line, b.location.column);
    });
}

std::string_view SeverityName(Severity severity) {
    switch (severity) {
    case Severity::error:
        return "error";
    case Severity::warning:
        return "warning";
    case Severity::note:
        return "note";
    }
    return "error";
}

std::string FormatText(const Diagnostic& diagnostic) {
    std::string text;
    const auto& location = diagnostic.location;
    text += location.file.empty() ? std::string("<input>") : location.file;
    if (location.line > 0) {
        text += ':' + std::to_string(location.line);
        if (location.column > 0) {
            text += ':' + std::to_string(location.column);
        }
    }
    text += ": ";
    text += SeverityName(diagnostic.severity);
    text += ": ";
    text += diagnostic.message;
    if (!diagnostic.hint.empty()) {
        text += "\n    hint: ";
        text += diagnostic.hint;
    }
    return text;
}

std::string FormatJson(const std::vector<Diagnostic>& diagnostics) {
    boost::json::array array;
    for (const auto& diagnostic : diagnostics) {
        boost::json::object object;
        object["file"] = diagnostic.location.file;
        object["line"] = diagnostic.location.line;
        object["column"] = diagnostic.location.column;
        object["severity"] = SeverityName(diagnostic.severity);
        object["code"] = diagnostic.code;
        object["message"] = diagnostic.message;
        if (!diagnostic.hint.empty()) {
            object["hint"] = diagnostic.hint;
        }
        array.push_back(std::move(object));
    }
    return boost::json::serialize(array);
}

namespace {

// Optimal string alignment distance: Levenshtein plus swapping two adjacent
// letters as one edit, the commonest typo ("tsak" for "task").
std::size_t EditDistance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> before_previous(b.size() + 1);
    std::vector<std::size_t> previous(b.size() + 1);
    std::vector<std::size_t> current(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) {
        previous[j] = j;
    }
    for (std::size_t i = 1; i <= a.size(); ++i) {
        current[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
            current[j] = std::min({previous[j] + 1, current[j - 1] + 1, substitution});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
                current[j] = std::min(current[j], before_previous[j - 2] + 1);
            }
        }
        std::swap(before_previous, previous);
        std::swap(previous, current);
    }
    return previous[b.size()];
}

}  // namespace

std::string ClosestMatch(std::string_view word, const std::vector<std::string>& candidates) {
    // A typo is at most a third of the word's letters (and at least one).
    const std::size_t budget = std::max<std::size_t>(1, word.size() / 3);
    std::string best;
    std::size_t best_distance = budget + 1;
    for (const auto& candidate : candidates) {
        const std::size_t distance = EditDistance(word, candidate);
        if (distance < best_distance) {
            best_distance = distance;
            best = candidate;
        }
    }
    return best;
}

std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates) {
    const std::string match = ClosestMatch(word, candidates);
    return match.empty() ? std::string() : "did you mean '" + match + "'?";
}

}  // namespace cascade::lang
