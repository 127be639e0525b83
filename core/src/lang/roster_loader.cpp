// Loads unit rosters (CSV or YAML) into a checked model::UnitTree, reporting
// every problem in one pass at its file:line:column. workflows/data/README.md
// describes the columns with the sample roster.
//
// CSV (RFC 4180): fields separated by ',', records by LF or CRLF; a field may
// be quoted ("a, b"), a quote inside a quoted field is doubled (""), and a
// quoted field may span lines. UTF-8, with an optional byte order mark (not
// counted in columns). The first record is the header:
//
//   id,parent,name,category,leader,leader_contact,secretary,members_in_service,members_mobile
//   anlan,,安澜县,county,于欣怡,anlan@example.gov.cn,翟文静,7344,554
//   tw01,anlan,城关镇,township,张三;李四,a@example.gov.cn;b@example.gov.cn,王五,310,12
//
//   - `id`, `name`, `category` are required columns, `parent` is optional
//     (without it every unit is a root). An empty parent marks the root.
//   - `members_<type>` holds the count of members of that type: a whole
//     number, 0 or more. An empty cell gives no count for the type (as
//     leaving the type out in YAML does).
//   - Every other column `X` is a role and holds the names of its holders;
//     a column `X_contact` next to it (anywhere in the header) holds their
//     contacts. Several holders are separated by ';' in both cells and paired
//     by position; spaces around ';' are dropped. An empty cell means no
//     holder. `X_contact` without a column `X` is an error, and so is a
//     column named `members` (it needs a type).
//   - A row whose cells are all empty is skipped (spreadsheets export blank
//     rows that way), and so is an empty line.
//   - Rows are numbered as a spreadsheet does: the header is row 1. The
//     column of a diagnostic is the 1-based byte column where the field
//     starts (its opening quote, if quoted).
//
// YAML:
//
//   kind: Roster
//   id: anlan-county                    # optional
//   title: {zh: ..., en: ...}           # optional: text, or text by language
//   units:
//     - id: anlan
//       name: 安澜县
//       category: county
//       members: {in_service: 7344, mobile: 554}
//       leader: {name: 于欣怡, contact: anlan@example.gov.cn}
//       secretary: 翟文静
//     - id: tw01
//       parent: anlan                   # absent (or empty) for the root
//       ...
//       leader: [张三, {name: 李四, contact: b@example.gov.cn}]
//
//   `apiVersion` is also accepted at the top. Every key of a unit other than
//   id, parent, name, category and members is a role: a name, a mapping
//   {name, contact} or a list of those (null or [] for no holder).
//
// Checks, each an error with a stable code: empty-document, missing-column,
// duplicate-column, bad-column, contact-without-role, bad-role-name (CSV header);
// wrong-field-count, unterminated-quote, bad-quote (CSV records); yaml-syntax and
// the other codes of detail::ParseYaml and detail::ToJson (duplicate-key, ...),
// wrong-type, missing-key, unknown-key, wrong-kind (YAML shape); bad-id,
// duplicate-id, empty-name, empty-category, unknown-category (only with
// RosterOptions::known_categories), unknown-member-type (only with
// known_member_types), bad-count, empty-holder, contact-count (fields);
// unknown-parent, no-root, several-roots, cycle (the tree); too-many-units,
// file-too-large, invalid-utf8, invalid-character, cannot-read, unknown-format
// (the file). All are reported in one pass, sorted by location; reading stops
// early only where going on would report noise: a problem with the whole file,
// an unterminated quote (the rest of the file is inside it), a header without
// a required column, a YAML file of another kind, or too many units.
#include "cascade/lang/roster_loader.hpp"

#include "yaml_source.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace cascade::lang {

namespace {

using model::Person;
using model::Unit;

constexpr std::size_t kNone = std::numeric_limits<std::size_t>::max();
constexpr std::string_view kContactSuffix = "_contact";
constexpr std::string_view kMembersPrefix = "members_";
// "Did you mean" compares a word with every id; past this many suggestions a
// roster full of bad parents would make the check quadratic.
constexpr std::size_t kMaxIdSuggestions = 10;
// A cycle through thousands of units is named by its first few.
constexpr std::size_t kMaxCycleIdsShown = 8;

// Built on first use, inside a function, so a failed allocation is an ordinary exception.
const std::vector<std::string>& TopLevelKeys() {
    static const std::vector<std::string> keys = {"apiVersion", "kind", "id", "title", "units"};
    return keys;
}

const std::vector<std::string>& PersonKeys() {
    static const std::vector<std::string> keys = {"name", "contact"};
    return keys;
}

// A 1-based line and column; the file name is added only when a diagnostic is made.
struct Pos {
    int line = 0;
    int column = 0;
};

// A unit as read, with where each field was, before the tree checks.
struct RawUnit {
    Unit unit;
    std::size_t number = 0;  // CSV: row (the header is row 1); YAML: position in `units`, from 1
    Pos at;                  // the record or the mapping
    Pos id_at;
    Pos parent_at;
    Pos name_at;
    Pos category_at;
    // The record could not be read as a whole (wrong field count, id not a
    // value): its id still counts as known so its children raise no errors,
    // but nothing else about it is checked.
    bool broken = false;
    bool parent_given = true;  // false when YAML has no `parent` key, or CSV no parent column
    // The field was already reported (missing or of the wrong type).
    bool parent_bad = false;
    bool name_bad = false;
    bool category_bad = false;
};

std::string Quoted(std::string_view text) {
    return "'" + std::string(text) + "'";
}

bool IsIdCharacter(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.';
}

bool IsValidId(std::string_view id) {
    return !id.empty() && std::all_of(id.begin(), id.end(), IsIdCharacter);
}

std::string_view Trim(std::string_view text) {
    const std::size_t first = text.find_first_not_of(" \t");
    if (first == std::string_view::npos) {
        return {};
    }
    return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

std::vector<std::string_view> SplitHolders(std::string_view text) {
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    while (true) {
        const std::size_t end = text.find(';', start);
        parts.push_back(Trim(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start)));
        if (end == std::string_view::npos) {
            return parts;
        }
        start = end + 1;
    }
}

// A whole number, 0 or more, written with digits only.
std::optional<std::int64_t> ParseCount(std::string_view text) {
    if (text.empty() || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return std::nullopt;
    }
    std::int64_t value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size()) {
        return std::nullopt;
    }
    return value;
}

bool Contains(const std::vector<std::string>& list, std::string_view word) {
    return std::find(list.begin(), list.end(), word) != list.end();
}

constexpr std::string_view kCountHint = "write a whole number, 0 or more, with digits only";
constexpr std::string_view kIdHint = "ids use ASCII letters, digits, '-', '_' and '.', e.g. 'tw01-b02'";

// What both formats share: where problems are reported, and the checks on
// the units once read.
class RosterReader {
public:
    RosterReader(const std::string& file, const RosterOptions& options, Diagnostics& diagnostics, bool csv)
        : file_(file), options_(options), diagnostics_(diagnostics), csv_(csv) {}

    std::vector<RawUnit>& Units() { return units_; }

    // Checks ids, names, categories and the tree; `empty_at` is where "no units" is reported.
    void CheckUnits(Pos empty_at) {
        if (aborted_) {
            return;  // the roster was not read to the end: its tree would raise false errors
        }
        const std::size_t count = units_.size();
        std::unordered_map<std::string_view, std::size_t> first;
        first.reserve(count);
        bool any_broken = false;
        for (std::size_t i = 0; i < count; ++i) {
            const RawUnit& raw = units_[i];
            const std::string& id = raw.unit.id;
            any_broken = any_broken || raw.broken || raw.parent_bad;
            if (!raw.broken && !IsValidId(id)) {
                Error("bad-id", raw.id_at,
                      Subject(raw, "id") + (id.empty() ? ": the unit id is empty" : ": bad unit id " + Quoted(id)),
                      std::string(kIdHint));
            }
            if (id.empty()) {
                continue;
            }
            const auto [known, inserted] = first.emplace(id, i);
            if (!inserted && !raw.broken) {
                Error("duplicate-id", raw.id_at,
                      Subject(raw, "id") + ": duplicate unit id " + Quoted(id) + " (first " +
                          Where(units_[known->second]) + ")",
                      "unit ids must be unique");
            }
        }

        std::vector<std::size_t> parents(count, kNone);
        std::size_t root = kNone;
        std::size_t suggestions = 0;
        std::vector<std::string> ids;  // for "did you mean", filled when first needed
        for (std::size_t i = 0; i < count; ++i) {
            const RawUnit& raw = units_[i];
            if (raw.broken) {
                continue;
            }
            CheckNameAndCategory(raw);
            if (raw.parent_bad) {
                continue;
            }
            const std::string& parent = raw.unit.parent;
            if (parent.empty()) {
                if (root == kNone) {
                    root = i;
                } else {
                    Error("several-roots", raw.parent_at,
                          Subject(raw, raw.parent_given ? "parent" : "") + ": " + Quoted(raw.unit.id) +
                              " is a second unit without a parent (the root is " + Quoted(units_[root].unit.id) + ", " +
                              Where(units_[root]) + ")",
                          "exactly one unit, the top one, has no parent");
                }
                continue;
            }
            const auto found = first.find(parent);
            if (found != first.end()) {
                if (!units_[found->second].broken) {
                    parents[i] = found->second;
                }
                continue;
            }
            std::string hint;
            if (suggestions++ < kMaxIdSuggestions) {
                if (ids.empty()) {
                    ids.reserve(count);
                    for (const auto& other : units_) {
                        ids.push_back(other.unit.id);
                    }
                }
                hint = DidYouMean(parent, ids);
            }
            Error("unknown-parent", raw.parent_at, Subject(raw, "parent") + ": unknown parent " + Quoted(parent),
                  std::move(hint));
        }
        if (count == 0) {
            Error("no-root", empty_at, "the roster has no units");
        } else if (root == kNone && !any_broken) {
            // A broken record (or one whose parent is unreadable) may be the root; otherwise there is none.
            const auto first_unit =
                std::find_if(units_.begin(), units_.end(), [](const RawUnit& raw) { return !raw.parent_bad; });
            const RawUnit& where = first_unit == units_.end() ? units_.front() : *first_unit;
            Error("no-root", where.parent_at, "no unit is the root: every unit has a parent",
                  "exactly one unit, the top one, has no parent");
        }
        CheckCycles(parents);
    }

protected:
    void Error(std::string code, Pos at, std::string message, std::string hint = {}) {
        diagnostics_.Error(std::move(code), At(at), std::move(message), std::move(hint));
    }

    SourceLocation At(Pos at) const { return {file_, at.line, at.column}; }

    // "row 12, column 'parent'" or "unit 'tw12', field 'parent'" (just the unit when `field` is empty).
    std::string Subject(const RawUnit& raw, std::string_view field) const {
        std::string subject;
        if (csv_) {
            subject = "row " + std::to_string(raw.number);
            if (!field.empty()) {
                subject += ", column " + Quoted(field);
            }
            return subject;
        }
        subject = raw.unit.id.empty() ? "unit " + std::to_string(raw.number) : "unit " + Quoted(raw.unit.id);
        if (!field.empty()) {
            subject += ", field " + Quoted(field);
        }
        return subject;
    }

    // "in row 5" or "at line 12", to point at another unit.
    std::string Where(const RawUnit& raw) const {
        return csv_ ? "in row " + std::to_string(raw.number) : "at line " + std::to_string(raw.at.line);
    }

    // Stops reading once the roster holds the most units allowed; true when `at` is one too many.
    bool TooManyUnits(Pos at) {
        if (units_.size() < options_.max_units) {
            return false;
        }
        Error("too-many-units", at, "the roster has more than " + std::to_string(options_.max_units) + " units",
              "raise the unit limit if this roster is meant to be that large");
        aborted_ = true;
        return true;
    }

    void CheckMemberType(std::string_view type, Pos at, const std::string& subject) {
        if (!options_.known_member_types.empty() && !Contains(options_.known_member_types, type)) {
            Error("unknown-member-type", at, subject + ": unknown member type " + Quoted(type),
                  DidYouMean(type, options_.known_member_types));
        }
    }

    void ReadCount(std::string_view text, Pos at, const std::string& subject, const std::string& type, Unit& unit) {
        if (const auto count = ParseCount(text)) {
            unit.members[type] = *count;
        } else {
            Error("bad-count", at, subject + ": " + Quoted(text) + " is not a count", std::string(kCountHint));
        }
    }

    const std::string& File() const { return file_; }
    const RosterOptions& Options() const { return options_; }
    Diagnostics& Diags() { return diagnostics_; }

private:
    void CheckNameAndCategory(const RawUnit& raw) {
        if (!raw.name_bad && Trim(raw.unit.name).empty()) {
            Error("empty-name", raw.name_at, Subject(raw, "name") + ": the unit has no name");
        }
        if (raw.category_bad) {
            return;
        }
        const std::string& category = raw.unit.category;
        if (category.empty()) {
            Error("empty-category", raw.category_at, Subject(raw, "category") + ": the unit has no category");
        } else if (!options_.known_categories.empty() && !Contains(options_.known_categories, category)) {
            Error("unknown-category", raw.category_at,
                  Subject(raw, "category") + ": unknown category " + Quoted(category),
                  DidYouMean(category, options_.known_categories));
        }
    }

    // Each unit's parent chain either ends (root, unknown or broken parent)
    // or runs into a cycle. Walking every chain once, marking the units on
    // the current walk, finds each cycle once, in linear time.
    void CheckCycles(const std::vector<std::size_t>& parents) {
        enum : unsigned char { unseen, on_walk, done };
        std::vector<unsigned char> state(parents.size(), unseen);
        std::vector<std::size_t> walk;
        for (std::size_t start = 0; start < parents.size(); ++start) {
            walk.clear();
            std::size_t current = start;
            while (current != kNone && state[current] == unseen) {
                state[current] = on_walk;
                walk.push_back(current);
                current = parents[current];
            }
            if (current != kNone && state[current] == on_walk) {
                const auto cycle_start = std::find(walk.begin(), walk.end(), current);
                ReportCycle({cycle_start, walk.end()}, parents);
            }
            for (const std::size_t unit : walk) {
                state[unit] = done;
            }
        }
    }

    void ReportCycle(const std::vector<std::size_t>& cycle, const std::vector<std::size_t>& parents) {
        // Reported at the unit of the cycle that comes first in the roster.
        const std::size_t first = *std::min_element(cycle.begin(), cycle.end());
        const RawUnit& raw = units_[first];
        std::string message = Subject(raw, "parent") + ": ";
        if (cycle.size() == 1) {
            message += Quoted(raw.unit.id) + " is its own parent";
        } else {
            message += "the parents form a cycle: " + raw.unit.id;
            std::size_t current = parents[first];
            for (std::size_t shown = 1; shown < std::min(cycle.size(), kMaxCycleIdsShown); ++shown) {
                message += " -> " + units_[current].unit.id;
                current = parents[current];
            }
            if (cycle.size() > kMaxCycleIdsShown) {
                message += " -> ...";
            }
            message += " -> " + raw.unit.id;
            if (cycle.size() > kMaxCycleIdsShown) {
                message += " (" + std::to_string(cycle.size()) + " units)";
            }
        }
        Error("cycle", raw.parent_at, std::move(message),
              "each unit's parent is the unit above it; the chain must end at the root");
    }

    const std::string& file_;
    const RosterOptions& options_;
    Diagnostics& diagnostics_;
    std::vector<RawUnit> units_;
    bool csv_;
    bool aborted_ = false;
};

// ---------------------------------------------------------------------------
// CSV

struct CsvField {
    std::string text;
    Pos at;
};

// An RFC 4180 reader, written here because the C++ libraries we take from
// Debian include no CSV parser. Reports quoting problems as it goes.
class CsvReader {
public:
    CsvReader(std::string_view text, const std::string& file, Diagnostics& diagnostics)
        : text_(text), file_(file), diagnostics_(diagnostics) {}

    // Reads the next record, reusing the field storage; false at the end of
    // the text, or at an unterminated quote (the rest of the text is inside it).
    bool Next() {
        // Empty lines are rows of a spreadsheet but hold no record.
        while (i_ < text_.size() && LineEndLength(i_) > 0) {
            i_ += LineEndLength(i_);
            StartLine(i_);
            ++row_;
        }
        if (i_ >= text_.size()) {
            return false;
        }
        ++row_;
        count_ = 0;
        start_ = Here();
        while (true) {
            if (count_ == fields_.size()) {
                fields_.emplace_back();
            }
            CsvField& field = fields_[count_++];
            field.text.clear();
            field.at = Here();
            if (i_ < text_.size() && text_[i_] == '"') {
                if (!ReadQuoted(field)) {
                    return false;
                }
            } else {
                ReadUnquoted(field, true);
            }
            if (i_ < text_.size() && text_[i_] == ',') {
                ++i_;
                continue;
            }
            end_ = Here();
            if (i_ < text_.size()) {
                // LF, CRLF, or a CR that ends the text.
                i_ += std::max<std::size_t>(LineEndLength(i_), 1);
                StartLine(i_);
            }
            return true;
        }
    }

    std::size_t Size() const { return count_; }
    CsvField& Field(std::size_t index) { return fields_[index]; }
    std::size_t Row() const { return row_; }
    Pos Start() const { return start_; }
    Pos End() const { return end_; }  // where the record's line end (or the end of the text) is

private:
    Pos Here() const { return {line_, static_cast<int>(i_ - line_start_) + 1}; }

    void StartLine(std::size_t offset) {
        ++line_;
        line_start_ = offset;
    }

    // 2 for CRLF, 1 for LF, 0 when `offset` is not at a line end.
    std::size_t LineEndLength(std::size_t offset) const {
        if (text_[offset] == '\n') {
            return 1;
        }
        if (text_[offset] == '\r' && offset + 1 < text_.size() && text_[offset + 1] == '\n') {
            return 2;
        }
        return 0;
    }

    void BadQuote(Pos at, std::string message) {
        diagnostics_.Error("bad-quote", {file_, at.line, at.column}, std::move(message),
                           "quote the whole field and double each quote inside it: \"a \"\"b\"\" c\"");
    }

    bool ReadQuoted(CsvField& field) {
        ++i_;  // the opening quote
        while (true) {
            const std::size_t quote = text_.find('"', i_);
            if (quote == std::string_view::npos) {
                diagnostics_.Error("unterminated-quote", {file_, field.at.line, field.at.column},
                                   "row " + std::to_string(row_) + ": the quoted field starting here never ends",
                                   "add the closing quote; a quote inside a quoted field is written twice (\"\")");
                i_ = text_.size();
                return false;
            }
            // Quoted fields may hold line ends: keep counting lines.
            for (std::size_t newline = text_.find('\n', i_); newline < quote; newline = text_.find('\n', newline + 1)) {
                StartLine(newline + 1);
            }
            field.text.append(text_.substr(i_, quote - i_));
            i_ = quote + 1;
            if (i_ < text_.size() && text_[i_] == '"') {
                field.text += '"';
                ++i_;
                continue;
            }
            break;
        }
        const bool final_cr = i_ + 1 == text_.size() && text_[i_] == '\r';
        if (i_ < text_.size() && text_[i_] != ',' && LineEndLength(i_) == 0 && !final_cr) {
            BadQuote(Here(), "row " + std::to_string(row_) + ": text after the closing quote of a quoted field");
            ReadUnquoted(field, false);  // keep the rest as it is written
        }
        return true;
    }

    void ReadUnquoted(CsvField& field, bool report_quotes) {
        std::size_t end = i_;
        while (true) {
            end = text_.find_first_of(",\n\"", end);
            if (end == std::string_view::npos || text_[end] != '"') {
                break;
            }
            if (report_quotes) {
                BadQuote({line_, static_cast<int>(end - line_start_) + 1},
                         "row " + std::to_string(row_) + ": a quote inside a field that does not start with one");
                report_quotes = false;
            }
            ++end;
        }
        if (end == std::string_view::npos) {
            end = text_.size();
        }
        std::size_t value_end = end;
        if (value_end > i_ && text_[value_end - 1] == '\r' && (value_end == text_.size() || text_[value_end] == '\n')) {
            --value_end;  // CRLF, or a CR ending the text
        }
        field.text.append(text_.substr(i_, value_end - i_));
        i_ = value_end;
    }

    std::string_view text_;
    const std::string& file_;
    Diagnostics& diagnostics_;
    std::size_t i_ = 0;
    int line_ = 1;
    std::size_t line_start_ = 0;
    std::size_t row_ = 0;
    std::vector<CsvField> fields_;
    std::size_t count_ = 0;
    Pos start_;
    Pos end_;
};

class CsvRosterReader : public RosterReader {
public:
    CsvRosterReader(const std::string& file, const RosterOptions& options, Diagnostics& diagnostics)
        : RosterReader(file, options, diagnostics, true) {}

    void Read(std::string_view text) {
        constexpr std::string_view kBom = "\xEF\xBB\xBF";
        if (text.substr(0, kBom.size()) == kBom) {
            text.remove_prefix(kBom.size());
        }
        CsvReader reader(text, File(), Diags());
        if (!reader.Next()) {
            if (!Diags().HasErrors()) {
                Error("empty-document", {1, 1}, "the file is empty",
                      "a roster starts with a header row: id,parent,name,category,...");
            }
            return;
        }
        if (!ReadHeader(reader)) {
            return;
        }
        while (reader.Next()) {
            if (IsBlank(reader)) {
                continue;
            }
            if (TooManyUnits(reader.Start())) {
                return;
            }
            ReadRecord(reader);
        }
        CheckUnits({1, 1});
    }

private:
    enum class Kind { id, parent, name, category, members, role, contact, ignored };

    struct Column {
        std::string name;
        Pos at;
        Kind kind = Kind::ignored;
        std::string key;              // the member type or the role name
        std::size_t contact = kNone;  // for a role: its contact column
    };

    static bool IsBlank(CsvReader& reader) {
        for (std::size_t i = 0; i < reader.Size(); ++i) {
            if (!reader.Field(i).text.empty()) {
                return false;
            }
        }
        return true;
    }

    std::string ColumnSubject(std::size_t row, const Column& column) const {
        return "row " + std::to_string(row) + ", column " + Quoted(column.name);
    }

    // Classifies the header's columns; false when a required one is missing
    // (reading rows would then only produce noise).
    bool ReadHeader(CsvReader& reader) {
        std::unordered_set<std::string> seen;
        std::unordered_map<std::string, std::size_t> roles;  // candidate role name -> column
        for (std::size_t i = 0; i < reader.Size(); ++i) {
            const CsvField& field = reader.Field(i);
            Column column;
            column.name = field.text;
            column.at = field.at;
            const std::string& name = column.name;
            const std::string subject = "row 1, column " + std::to_string(i + 1);
            if (name.empty()) {
                Error("bad-column", column.at, subject + ": the column has no name",
                      "name every column in the header, or remove the empty column");
            } else if (!seen.insert(name).second) {
                Error("duplicate-column", column.at, subject + ": duplicate column " + Quoted(name),
                      "each column may appear once in the header");
            } else if (name == "id") {
                column.kind = Kind::id;
            } else if (name == "parent") {
                column.kind = Kind::parent;
            } else if (name == "name") {
                column.kind = Kind::name;
            } else if (name == "category") {
                column.kind = Kind::category;
            } else if (name == "members" || name == kMembersPrefix) {
                Error("bad-column", column.at, subject + ": column " + Quoted(name) + " names no member type",
                      "member counts go in columns named members_<type>, e.g. members_in_service");
            } else if (name.starts_with(kMembersPrefix)) {
                column.kind = Kind::members;
                column.key = name.substr(kMembersPrefix.size());
                CheckMemberType(column.key, column.at, "row 1, column " + Quoted(name));
            } else {
                column.kind = Kind::role;
                column.key = name;
                roles.emplace(name, columns_.size());
            }
            columns_.push_back(std::move(column));
        }

        // `X_contact` is a contact column when there is a column `X`; decided
        // once all names are known, since the two may come in any order.
        std::vector<std::string> role_names;
        for (auto& column : columns_) {
            if (column.kind != Kind::role || !column.name.ends_with(kContactSuffix)) {
                continue;
            }
            const std::string base = column.name.substr(0, column.name.size() - kContactSuffix.size());
            const auto role = roles.find(base);
            if (role != roles.end() && !columns_[role->second].name.ends_with(kContactSuffix)) {
                column.kind = Kind::contact;
                columns_[role->second].contact = static_cast<std::size_t>(&column - columns_.data());
            }
        }
        for (const auto& column : columns_) {
            if (column.kind == Kind::role && !column.name.ends_with(kContactSuffix)) {
                role_names.push_back(column.name + std::string(kContactSuffix));
            }
        }
        for (auto& column : columns_) {
            if (column.kind != Kind::role) {
                continue;
            }
            if (column.name.ends_with(kContactSuffix)) {
                const std::string base = column.name.substr(0, column.name.size() - kContactSuffix.size());
                std::string hint = DidYouMean(column.name, role_names);
                Error("contact-without-role", column.at,
                      "row 1, column " + Quoted(column.name) + ": contacts with no role column " + Quoted(base),
                      hint.empty() ? "a column X_contact holds the contacts of the holders named in column X"
                                   : std::move(hint));
                column.kind = Kind::ignored;
            } else if (!IsValidId(column.name)) {
                Error("bad-role-name", column.at, "row 1, column " + Quoted(column.name) + ": bad role name",
                      "role names use ASCII letters, digits, '-', '_' and '.'; other columns are roles");
                column.kind = Kind::ignored;
            }
        }

        bool complete = true;
        std::vector<std::string> header_names;
        for (const auto& column : columns_) {
            header_names.push_back(column.name);
        }
        for (const auto& [required, wanted] :
             {std::pair{"id", Kind::id}, std::pair{"name", Kind::name}, std::pair{"category", Kind::category}}) {
            const Kind kind = wanted;  // clang 14 cannot capture a structured binding in a lambda
            const auto found =
                std::find_if(columns_.begin(), columns_.end(), [&](const Column& c) { return c.kind == kind; });
            if (found != columns_.end()) {
                column_of_[static_cast<int>(kind)] = static_cast<std::size_t>(found - columns_.begin());
                continue;
            }
            const std::string close = ClosestMatch(required, header_names);
            Error("missing-column", {1, 1}, "the header has no " + Quoted(required) + " column",
                  close.empty() ? "the header names the columns: id, parent, name, category, then roles and "
                                  "members_<type>"
                                : "rename column " + Quoted(close) + " to " + Quoted(required));
            complete = false;
        }
        const auto parent =
            std::find_if(columns_.begin(), columns_.end(), [](const Column& c) { return c.kind == Kind::parent; });
        if (parent != columns_.end()) {
            column_of_[static_cast<int>(Kind::parent)] = static_cast<std::size_t>(parent - columns_.begin());
        }
        return complete;
    }

    void ReadRecord(CsvReader& reader) {
        RawUnit raw;
        raw.number = reader.Row();
        raw.at = reader.Start();
        const std::size_t id_column = column_of_[static_cast<int>(Kind::id)];
        if (reader.Size() != columns_.size()) {
            const bool more = reader.Size() > columns_.size();
            Error("wrong-field-count", more ? reader.Field(columns_.size()).at : reader.End(),
                  "row " + std::to_string(raw.number) + " has " + std::to_string(reader.Size()) +
                      " fields; the header has " + std::to_string(columns_.size()),
                  more ? "quote a field that holds a comma: \"a, b\""
                       : "every row has a field for each column; an empty field is written as nothing between "
                         "two commas");
            raw.broken = true;
            if (id_column < reader.Size()) {
                raw.unit.id = std::move(reader.Field(id_column).text);
                raw.id_at = reader.Field(id_column).at;
            }
            Units().push_back(std::move(raw));
            return;
        }
        const auto take = [&](Kind kind, std::string& value, Pos& at) {
            const std::size_t column = column_of_[static_cast<int>(kind)];
            if (column == kNone) {
                at = raw.id_at;  // no parent column: point at the unit's id
                raw.parent_given = false;
                return;
            }
            value = std::move(reader.Field(column).text);
            at = reader.Field(column).at;
        };
        take(Kind::id, raw.unit.id, raw.id_at);
        take(Kind::parent, raw.unit.parent, raw.parent_at);
        take(Kind::name, raw.unit.name, raw.name_at);
        take(Kind::category, raw.unit.category, raw.category_at);
        for (std::size_t i = 0; i < columns_.size(); ++i) {
            const Column& column = columns_[i];
            const CsvField& field = reader.Field(i);
            if (column.kind == Kind::members && !field.text.empty()) {
                ReadCount(field.text, field.at, ColumnSubject(raw.number, column), column.key, raw.unit);
            } else if (column.kind == Kind::role) {
                ReadHolders(reader, raw, column);
            }
        }
        Units().push_back(std::move(raw));
    }

    void ReadHolders(CsvReader& reader, RawUnit& raw, const Column& column) {
        const std::size_t index = static_cast<std::size_t>(&column - columns_.data());
        const CsvField& names_field = reader.Field(index);
        const CsvField* contacts_field = column.contact == kNone ? nullptr : &reader.Field(column.contact);
        const std::string_view contacts_text = contacts_field == nullptr ? "" : Trim(contacts_field->text);
        if (Trim(names_field.text).empty()) {
            if (!contacts_text.empty()) {
                Error("contact-count", contacts_field->at,
                      ColumnSubject(raw.number, columns_[column.contact]) + ": a contact for no holder (column " +
                          Quoted(column.name) + " is empty)",
                      "name the holder in column " + Quoted(column.name) + ", or remove the contact");
            }
            return;
        }
        const std::vector<std::string_view> names = SplitHolders(names_field.text);
        std::vector<std::string_view> contacts;
        if (!contacts_text.empty()) {
            contacts = SplitHolders(contacts_text);
            if (contacts.size() != names.size()) {
                Error("contact-count", contacts_field->at,
                      ColumnSubject(raw.number, columns_[column.contact]) + ": " + std::to_string(contacts.size()) +
                          (contacts.size() == 1 ? " contact" : " contacts") + " for " + std::to_string(names.size()) +
                          (names.size() == 1 ? " holder" : " holders"),
                      "give one contact per holder, in the same order, separated by ';' (an empty entry for a "
                      "holder without one)");
                contacts.clear();
            }
        }
        std::vector<Person> holders;
        holders.reserve(names.size());
        for (std::size_t i = 0; i < names.size(); ++i) {
            if (names[i].empty()) {
                Error("empty-holder", names_field.at,
                      ColumnSubject(raw.number, column) + ": holder " + std::to_string(i + 1) + " of " +
                          std::to_string(names.size()) + " has no name",
                      "separate several holders with ';', with no empty entries");
                continue;
            }
            holders.push_back({std::string(names[i]), contacts.empty() ? std::string() : std::string(contacts[i])});
        }
        if (!holders.empty()) {
            raw.unit.roles[column.key] = std::move(holders);
        }
    }

    std::vector<Column> columns_;
    std::size_t column_of_[4] = {kNone, kNone, kNone, kNone};  // by Kind::id .. Kind::category
};

// ---------------------------------------------------------------------------
// YAML

class YamlRosterReader : public RosterReader {
public:
    YamlRosterReader(const std::string& file, const RosterOptions& options, Diagnostics& diagnostics)
        : RosterReader(file, options, diagnostics, false) {}

    void Read(const std::string& text) {
        const auto root = detail::ParseYaml(text, File(), Diags());
        if (!root) {
            return;
        }
        if (!CheckStructure(*root, text)) {
            return;
        }
        if (!root->IsMap()) {
            Error("wrong-type", PosOf(*root), "a roster file is a mapping with 'kind: Roster' and 'units'");
            return;
        }
        std::optional<YAML::Node> units;
        bool has_kind = false;
        std::unordered_set<std::string> seen;
        for (const auto& entry : *root) {
            if (!entry.first.IsScalar() || !seen.insert(entry.first.Scalar()).second) {
                continue;  // reported by the structure check
            }
            const std::string& key = entry.first.Scalar();
            const YAML::Node& value = entry.second;
            if (key == "kind") {
                has_kind = true;
                if (!value.IsScalar() || value.Scalar() != "Roster") {
                    // Another kind of file (a workflow, a calendar): say so and stop.
                    Error("wrong-kind", PosOf(value),
                          "kind is " + (value.IsScalar() ? Quoted(value.Scalar()) : std::string("not a name")) +
                              "; a roster has 'kind: Roster'");
                    return;
                }
            } else if (key == "apiVersion") {
                ExpectText(value, "'apiVersion' is a name, e.g. cascade/v1");
            } else if (key == "id") {
                if (ExpectText(value, "the roster 'id' is a name") && !IsValidId(value.Scalar())) {
                    Error("bad-id", PosOf(value), "bad roster id " + Quoted(value.Scalar()), std::string(kIdHint));
                }
            } else if (key == "title") {
                CheckTitle(value);
            } else if (key == "units") {
                units = value;
            } else {
                Error("unknown-key", PosOf(entry.first), "unknown key " + Quoted(key) + " in the roster",
                      DidYouMean(key, TopLevelKeys()));
            }
        }
        if (!has_kind) {
            Error("missing-key", PosOf(*root), "the roster has no 'kind'", "a roster file starts with 'kind: Roster'");
        }
        if (!units) {
            Error("missing-key", PosOf(*root), "the roster has no 'units'",
                  "list the units under 'units:', the root first");
            return;
        }
        if (!units->IsSequence()) {
            Error("wrong-type", PosOf(*units), "'units' must be a list of units",
                  "write each unit as a list item: '- id: ...'");
            return;
        }
        std::size_t number = 0;
        for (const auto& item : *units) {
            ++number;
            if (TooManyUnits(PosOf(item))) {
                return;
            }
            if (!item.IsMap()) {
                Error("wrong-type", PosOf(item),
                      "unit " + std::to_string(number) + " must be a mapping with id, name and category");
                // Kept as an unreadable unit: it may be the root, so "no root" would be a guess.
                RawUnit unreadable;
                unreadable.number = number;
                unreadable.at = unreadable.id_at = unreadable.parent_at = PosOf(item);
                unreadable.broken = true;
                Units().push_back(std::move(unreadable));
                continue;
            }
            ReadUnit(item, number);
        }
        CheckUnits(PosOf(*units));
    }

private:
    Pos PosOf(const YAML::Node& node) const {
        const SourceLocation location = detail::LocationOf(node, File());
        return {location.line, location.column};
    }

    // Duplicate keys, depth and the alias budget, through the shared walk.
    bool CheckStructure(const YAML::Node& root, const std::string& text) {
        LoadLimits limits;
        limits.max_file_size = Options().max_bytes;
        // Without aliases a document has fewer nodes than bytes, so this
        // refuses only alias expansion beyond the file's own size.
        limits.max_nodes = std::max(limits.max_nodes, text.size());
        Diagnostics found;
        const auto json = detail::ToJson(root, File(), limits, found, text.find('*') != std::string::npos);
        for (Diagnostic diagnostic : found.Items()) {
            // The shared hints speak of workflows.
            if (diagnostic.code == "duplicate-key") {
                diagnostic.hint = "each key may appear once in a mapping";
            } else if (diagnostic.code == "too-many-nodes") {
                diagnostic.hint = "aliases (*name) count each time they are used";
            } else if (diagnostic.code == "too-deep") {
                diagnostic.hint = "a roster nests only a few levels";
            }
            Diags().Add(std::move(diagnostic));
        }
        return json.has_value();
    }

    // True when `value` is a scalar; reports wrong-type otherwise.
    bool ExpectText(const YAML::Node& value, const std::string& message) {
        if (value.IsScalar()) {
            return true;
        }
        Error("wrong-type", PosOf(value), message);
        return false;
    }

    void CheckTitle(const YAML::Node& value) {
        if (value.IsScalar()) {
            return;
        }
        if (value.IsMap()) {
            for (const auto& entry : value) {
                if (!entry.second.IsScalar()) {
                    Error("wrong-type", PosOf(entry.second),
                          "a title is text, or text by language: {zh: ..., en: ...}");
                }
            }
            return;
        }
        Error("wrong-type", PosOf(value), "a title is text, or text by language: {zh: ..., en: ...}");
    }

    // The text of a field that holds one value (null reads as empty); nullopt after reporting wrong-type.
    std::optional<std::string> FieldText(const YAML::Node& value, const RawUnit& raw, std::string_view field) {
        if (value.IsNull()) {
            return std::string();
        }
        if (value.IsScalar()) {
            return value.Scalar();
        }
        Error("wrong-type", PosOf(value), Subject(raw, field) + ": must be a single value, not a list or mapping");
        return std::nullopt;
    }

    void ReadUnit(const YAML::Node& item, std::size_t number) {
        RawUnit raw;
        raw.number = number;
        raw.at = PosOf(item);
        raw.id_at = raw.parent_at = raw.name_at = raw.category_at = raw.at;
        raw.parent_given = false;
        // The id first, so that messages about the other fields can name the unit.
        const auto id = detail::FindValue(item, "id");
        if (id && id->IsScalar()) {
            raw.unit.id = id->Scalar();
        }
        bool has_name = false;
        bool has_category = false;
        std::unordered_set<std::string> seen;
        for (const auto& entry : item) {
            if (!entry.first.IsScalar() || !seen.insert(entry.first.Scalar()).second) {
                continue;  // reported by the structure check
            }
            const std::string& key = entry.first.Scalar();
            const YAML::Node& value = entry.second;
            if (key == "id") {
                raw.id_at = PosOf(value);
                if (!FieldText(value, raw, key)) {
                    raw.broken = true;
                }
            } else if (key == "parent") {
                raw.parent_given = true;
                raw.parent_at = PosOf(value);
                if (auto text = FieldText(value, raw, key)) {
                    raw.unit.parent = std::move(*text);
                } else {
                    raw.parent_bad = true;
                }
            } else if (key == "name") {
                has_name = true;
                raw.name_at = PosOf(value);
                if (auto text = FieldText(value, raw, key)) {
                    raw.unit.name = std::move(*text);
                } else {
                    raw.name_bad = true;
                }
            } else if (key == "category") {
                has_category = true;
                raw.category_at = PosOf(value);
                if (auto text = FieldText(value, raw, key)) {
                    raw.unit.category = std::move(*text);
                } else {
                    raw.category_bad = true;
                }
            } else if (key == "members") {
                ReadMembers(value, raw);
            } else {
                ReadRole(entry.first, value, raw);
            }
        }
        if (!id) {
            Error("missing-key", raw.at, Subject(raw, "") + " has no 'id'");
            raw.broken = true;
        }
        if (!has_name) {
            Error("missing-key", raw.at, Subject(raw, "") + " has no 'name'");
            raw.name_bad = true;
        }
        if (!has_category) {
            Error("missing-key", raw.at, Subject(raw, "") + " has no 'category'");
            raw.category_bad = true;
        }
        Units().push_back(std::move(raw));
    }

    void ReadMembers(const YAML::Node& value, RawUnit& raw) {
        if (value.IsNull()) {
            return;
        }
        if (!value.IsMap()) {
            Error("wrong-type", PosOf(value),
                  Subject(raw, "members") + ": must be a mapping of member type to count, e.g. {in_service: 12}");
            return;
        }
        std::unordered_set<std::string> seen;
        for (const auto& entry : value) {
            if (!entry.first.IsScalar() || !seen.insert(entry.first.Scalar()).second) {
                continue;
            }
            const std::string& type = entry.first.Scalar();
            CheckMemberType(type, PosOf(entry.first), Subject(raw, "members"));
            const std::string subject = Subject(raw, "members." + type);
            if (entry.second.IsScalar()) {
                ReadCount(entry.second.Scalar(), PosOf(entry.second), subject, type, raw.unit);
            } else {
                Error("bad-count", PosOf(entry.second), subject + ": the count is not a number",
                      std::string(kCountHint));
            }
        }
    }

    void ReadRole(const YAML::Node& key, const YAML::Node& value, RawUnit& raw) {
        const std::string& role = key.Scalar();
        if (!IsValidId(role)) {
            Error("bad-role-name", PosOf(key), Subject(raw, role) + ": bad role name",
                  "role names use ASCII letters, digits, '-', '_' and '.'; other keys are roles");
            return;
        }
        std::vector<Person> holders;
        if (value.IsSequence()) {
            for (const auto& item : value) {
                ReadHolder(item, raw, role, holders);
            }
        } else if (!value.IsNull()) {
            ReadHolder(value, raw, role, holders);
        }
        if (!holders.empty()) {
            raw.unit.roles[role] = std::move(holders);
        }
    }

    void ReadHolder(const YAML::Node& value, const RawUnit& raw, const std::string& role,
                    std::vector<Person>& holders) {
        const std::string subject = Subject(raw, role);
        Person person;
        if (value.IsScalar()) {
            person.name = value.Scalar();
        } else if (value.IsMap()) {
            bool has_name = false;
            std::unordered_set<std::string> seen;
            for (const auto& entry : value) {
                if (!entry.first.IsScalar() || !seen.insert(entry.first.Scalar()).second) {
                    continue;
                }
                const std::string& key = entry.first.Scalar();
                if (key == "name" || key == "contact") {
                    if (!entry.second.IsNull() && !entry.second.IsScalar()) {
                        std::string message = subject;
                        message.append(": the ").append(key).append(" is a single value");
                        Error("wrong-type", PosOf(entry.second), std::move(message));
                        return;
                    }
                    (key == "name" ? person.name : person.contact) =
                        entry.second.IsNull() ? std::string() : entry.second.Scalar();
                    has_name = has_name || key == "name";
                } else {
                    Error("unknown-key", PosOf(entry.first), subject + ": unknown key " + Quoted(key) + " for a holder",
                          DidYouMean(key, PersonKeys()));
                }
            }
            if (!has_name) {
                Error("missing-key", PosOf(value), subject + ": the holder has no 'name'");
                return;
            }
        } else {
            Error("wrong-type", PosOf(value),
                  subject + ": a holder is a name or {name: ..., contact: ...}; several holders are a list of those");
            return;
        }
        if (Trim(person.name).empty()) {
            Error("empty-holder", PosOf(value), subject + ": a holder has no name");
            return;
        }
        holders.push_back(std::move(person));
    }
};

void Finish(RosterReader& reader, RosterLoadResult& result) {
    result.diagnostics.SortByLocation();
    if (result.diagnostics.HasErrors()) {
        return;
    }
    std::vector<Unit> units;
    units.reserve(reader.Units().size());
    for (auto& raw : reader.Units()) {
        units.push_back(std::move(raw.unit));
    }
    // The checks above cover everything Build checks; it throwing is a bug here.
    result.units = model::UnitTree::Build(std::move(units));
}

std::string LowerExtension(const std::string& path) {
    const std::size_t slash = path.find_last_of("/\\");
    const std::size_t dot = path.rfind('.');
    if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) {
        return {};
    }
    std::string extension = path.substr(dot);
    std::transform(extension.begin(), extension.end(), extension.begin(),
                   [](unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c); });
    return extension;
}

}  // namespace

RosterLoadResult LoadRosterText(const std::string& text, const std::string& file_name, RosterFormat format,
                                const RosterOptions& options) {
    RosterLoadResult result;
    LoadLimits limits;
    limits.max_file_size = options.max_bytes;
    if (text.size() > options.max_bytes) {
        detail::ReportFileTooLarge(file_name, limits, result.diagnostics);
        return result;
    }
    if (!detail::CheckUtf8(text, file_name, result.diagnostics)) {
        return result;
    }
    if (format == RosterFormat::csv) {
        CsvRosterReader reader(file_name, options, result.diagnostics);
        reader.Read(text);
        Finish(reader, result);
        return result;
    }
    YamlRosterReader reader(file_name, options, result.diagnostics);
    try {
        reader.Read(text);
    } catch (const YAML::Exception& error) {
        // Parsing happened already; this guards node access against yaml-cpp surprises.
        result.diagnostics.Error("yaml-syntax", {file_name, error.mark.line + 1, error.mark.column + 1},
                                 "YAML: " + error.msg);
    }
    Finish(reader, result);
    return result;
}

RosterLoadResult LoadRosterFile(const std::string& path, const RosterOptions& options) {
    RosterLoadResult result;
    const std::string extension = LowerExtension(path);
    RosterFormat format = RosterFormat::csv;
    if (extension == ".yaml" || extension == ".yml") {
        format = RosterFormat::yaml;
    } else if (extension != ".csv") {
        result.diagnostics.Error("unknown-format", {path, 0, 0}, "cannot tell the roster format from the file name",
                                 "name a roster file .csv, .yaml or .yml");
        return result;
    }
    LoadLimits limits;
    limits.max_file_size = options.max_bytes;
    const auto text = detail::ReadSourceFile(path, limits, result.diagnostics);
    if (!text) {
        return result;
    }
    return LoadRosterText(*text, path, format, options);
}

}  // namespace cascade::lang
