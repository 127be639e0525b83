// Checking what a unit hands in for a task: the form payload (JSON) against
// the step's declared fields, and `--set field=value` text into a payload.
//
// Error policy: problems in the payload are values (FieldError, one per
// problem, all found in one pass); nothing here throws for user input.
#pragma once

#include "cascade/model/definition.hpp"
#include "cascade/model/expression.hpp"

#include <boost/json.hpp>

#include <cstddef>
#include <string>
#include <variant>
#include <vector>

namespace cascade::engine {

struct FormLimits {
    std::size_t max_payload_bytes = 1u << 20;  // serialized size of the whole payload
    std::size_t max_string_bytes = 64u << 10;  // one string or text value
    std::size_t max_items = 10'000;            // one list or attachment field
};

// `path` is the field path as the user wrote it: "reading_days", "problems[3]"
// (list items counted from 0); empty for not-an-object and too-large, which
// concern the whole payload. ParseAssignments also uses bad-assignment, with
// the assignment text as the path.
// `code`: unknown-field, missing-field, wrong-type, below-minimum, above-maximum,
// too-short, too-long, pattern-mismatch, unknown-choice, too-few-items,
// too-many-items, bad-extension, bad-date, bad-duration, too-large, not-an-object.
struct FieldError {
    std::string path;
    std::string code;
    std::string message;  // one sentence naming the field and what was expected, e.g.
                          // "reading_days must be at least 0, got -3"
};

struct FormCheck {
    // The payload with every value in canonical form (integers as int64,
    // dates as "YYYY-MM-DD", durations as Duration::ToString, choices as
    // given); absent optional fields are left out. Only meaningful when ok.
    boost::json::object normalized;
    std::vector<FieldError> errors;
    bool Ok() const { return errors.empty(); }
};

// Field types and their JSON:
//   string, text, choice      -> JSON string (choice: one of `choices`)
//   integer                   -> JSON integer (a number with no fraction, e.g. 7 or 7.0, is accepted)
//   number                    -> JSON number
//   boolean                   -> JSON bool
//   date                      -> "YYYY-MM-DD"
//   duration                  -> a string Duration::Parse accepts ("P7D", "3个工作日")
//   list                      -> JSON array of strings
//   attachment                -> JSON array of strings (file names or URIs; extension checked against `accept`)
// Every declared constraint (required, minimum, maximum, min/max_length in
// characters — UTF-8 code points, not bytes — pattern (ECMAScript, whole
// value), min/max_items) is checked.
//
// Details of the checking:
// - Unknown payload keys are reported first (payload order), then each
//   declared field in form order; a misspelt field thus reads "unknown field
//   'reading_day'; did you mean 'reading_days'?" before its "missing" error.
// - null, and "" for string, text, choice, date and duration fields, count as
//   not filled in: missing-field when required, left out otherwise.
// - too-large (the payload's serialized size, measured without serializing
//   more than the limit) stops all other checks; a list over
//   FormLimits::max_items is not looked into item by item.
// - Integers must fit in int64 (18446744073709551615 and 1e308 are
//   above-maximum); -0.0 becomes 0. Boost.JSON reads 1e400 as infinity, which
//   is refused as above-maximum for both integer and number fields.
// - Patterns match bytes (a '.' is one byte of UTF-8). Compiled patterns are
//   cached per pattern text in a process-wide cache that is NOT thread-safe:
//   call ValidateForm from one thread at a time. With libstdc++ matching uses
//   its non-backtracking executor (linear time, no recursion per character);
//   a pattern with back-references needs the backtracking one, and values
//   longer than 1000 bytes are then refused unmatched (pattern-mismatch)
//   instead of risking a stack overflow.
// - Attachment extensions compare case-insensitively; `accept` entries may be
//   written "pdf" or ".pdf"; a URI's query and fragment are ignored.
FormCheck ValidateForm(const std::vector<model::FormField>& form, const boost::json::value& payload,
                       const FormLimits& limits = {});

// `field=value` assignments (from `cascade advance --set`) to a JSON payload,
// typed by the form: "reading_days=7" gives an integer, "photos=a.jpg;b.jpg"
// a two-item list, "ok=true" a boolean. A later assignment to the same field
// replaces an earlier one. Errors: unknown-field (with a did-you-mean in the
// message), bad-assignment (no '=', or no name before it), and the value
// errors above.
//
// The name is trimmed of spaces. string, text and choice values are kept
// exactly as written; other values are trimmed first, and an empty one gives
// null (the field is cleared). Integers: decimal with an optional sign;
// numbers: decimal or exponent notation (no inf, nan or hex); booleans:
// true/false/yes/no/1/0 in any case; list and attachment values are split on
// ';' with items trimmed and empty items dropped. Constraints (required,
// bounds, lengths, patterns, choices, extensions, item counts) are left to
// ValidateForm, which the returned payload is meant for.
std::variant<boost::json::object, std::vector<FieldError>> ParseAssignments(const std::vector<std::string>& assignments,
                                                                            const std::vector<model::FormField>& form);

// The expression value of one normalized field value (null for a missing
// field); lists become lists of strings, attachments lists of strings.
model::Value ToExpressionValue(const model::FormField& field, const boost::json::value* normalized_value);

}  // namespace cascade::engine
