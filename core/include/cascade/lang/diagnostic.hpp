// Diagnostics: the one way author-facing problems (YAML, expressions, forms)
// are reported. Every problem carries a location, a stable code and, where we
// can offer one, a hint. Loaders collect all problems in one pass rather than
// stopping at the first, so an author fixes a file in one round.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace cascade::lang {

enum class Severity { error, warning, note };

// 1-based line and column; 0 means "unknown" (the problem concerns the whole file).
struct SourceLocation {
    std::string file;
    int line = 0;
    int column = 0;

    SourceLocation Shifted(int columns) const { return {file, line, column + columns}; }
};

struct Diagnostic {
    Severity severity = Severity::error;
    std::string code;  // stable, kebab-case identifier, e.g. "unknown-step"
    SourceLocation location;
    std::string message;  // one sentence, no trailing period
    std::string hint;     // optional advice, e.g. "did you mean 'reading_days'?"
};

// Collects diagnostics. Passed by reference through loaders and checkers.
class Diagnostics {
public:
    Diagnostic& Error(std::string code, SourceLocation location, std::string message, std::string hint = {});
    Diagnostic& Warning(std::string code, SourceLocation location, std::string message, std::string hint = {});
    void Add(Diagnostic diagnostic);
    void Append(const Diagnostics& other);

    bool HasErrors() const { return error_count_ > 0; }
    std::size_t ErrorCount() const { return error_count_; }
    bool Empty() const { return items_.empty(); }
    const std::vector<Diagnostic>& Items() const { return items_; }

    // Orders by file, line, column, so output reads top to bottom.
    void SortByLocation();

private:
    std::vector<Diagnostic> items_;
    std::size_t error_count_ = 0;
};

std::string_view SeverityName(Severity severity);

// "file:line:col: error: message" followed by an indented "hint: ..." line when present.
std::string FormatText(const Diagnostic& diagnostic);

// A JSON array of {file, line, column, severity, code, message, hint}.
std::string FormatJson(const std::vector<Diagnostic>& diagnostics);

// Suggests the closest candidate by edit distance, or "" when none is close
// enough to be a plausible typo. Used for "did you mean" hints everywhere.
std::string ClosestMatch(std::string_view word, const std::vector<std::string>& candidates);

// "did you mean 'x'?" or "" when there is no close candidate.
std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace cascade::lang
