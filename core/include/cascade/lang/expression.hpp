// Parsing, type checking and evaluation of workflow expressions (`when`,
// `gate`, `applies_if`). The grammar is documented in expression_parser.cpp.
//
// Nothing here throws for author input: problems are returned as values
// (ExpressionError at validate time, EvaluationError at run time) so callers
// can turn them into located diagnostics.
#pragma once

#include "cascade/model/calendar.hpp"
#include "cascade/model/expression.hpp"

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace cascade::lang {

struct ExpressionLimits {
    std::size_t max_length = 4096;  // bytes of source text
    std::size_t max_depth = 64;     // nesting of parentheses, lists, calls and operators
};

// `offset` is a byte offset into the expression text; `code` is one of
// syntax, bad-literal, too-long, too-deep, unknown-name, unknown-field,
// unknown-function, wrong-arity, type-mismatch, unknown-choice, not-boolean.
struct ExpressionError {
    std::size_t offset = 0;
    std::string code;
    std::string message;
    std::string hint;
};

struct ParseResult {
    model::ExpressionPtr expression;  // null iff errors is non-empty
    std::vector<ExpressionError> errors;
};

ParseResult ParseExpression(std::string_view text, const ExpressionLimits& limits = {});

// What names an expression may refer to, as dotted paths ("form.reading_days",
// "unit.category", "problems.open", "vars.target"). Every proper prefix of a
// defined path is an implicit namespace ("form", "unit").
class TypeScope {
public:
    TypeScope() = default;
    // A scope layered over `enclosing`, which must outlive it: names defined
    // here are added to (or shadow) the enclosing ones without copying them,
    // so each step's form scope costs only its own fields.
    explicit TypeScope(const TypeScope* enclosing) : enclosing_(enclosing) {}

    void Define(std::string dotted_path, model::Type type);
    const model::Type* Find(std::string_view dotted_path) const;  // nullptr if not a leaf
    bool IsNamespace(std::string_view dotted_prefix) const;
    // Names directly below a prefix ("" for the top level), sorted; for "did you mean".
    std::vector<std::string> Children(std::string_view dotted_prefix) const;
    // Every defined path, sorted.
    std::vector<std::string> Paths() const;

private:
    const TypeScope* enclosing_ = nullptr;
    std::map<std::string, model::Type, std::less<>> leaves_;
    std::map<std::string, std::set<std::string>, std::less<>> children_;
};

// The built-in functions, sorted by name.
const std::vector<std::string>& FunctionNames();

// Type-checks in place (fills every Expression::type) and returns every
// problem found, ordered by offset. `expected` is TypeKind::boolean for
// when/gate, TypeKind::unknown for "any".
std::vector<ExpressionError> CheckExpression(model::Expression& expression, const TypeScope& scope,
                                             model::TypeKind expected);

struct EvaluationContext {
    // The value of a path; nullopt when it is unknown at run time (an
    // evaluation error). A missing optional field is a null Value instead.
    std::function<std::optional<model::Value>(const std::vector<std::string>& path)> lookup;
    model::Date today;                                 // what now() returns
    const model::WorkingCalendar* calendar = nullptr;  // working days count as calendar days if null
};

struct EvaluationError {
    std::size_t offset = 0;
    std::string message;
};

// Evaluates a (normally type-checked) expression. 'and'/'or' short-circuit;
// null counts as false where a boolean is needed; arithmetic and function
// calls on null give null; '<' '<=' '>' '>=' with null are false; '==' treats
// null as equal only to null. Division by zero, integer overflow and dates
// outside the years 0-9999 are evaluation errors.
std::variant<model::Value, EvaluationError> Evaluate(const model::Expression& expression,
                                                     const EvaluationContext& context);

// Why a boolean expression is false: the smallest false sub-expression
// (descending through 'and' and 'not(or)'), re-printed, plus the value every
// path in it had, e.g. {"form.reading_days >= 7", {{"form.reading_days", "5"}}}.
// Values are printed as by Value::ToString; "(unknown)" when lookup has none.
struct FailureExplanation {
    std::string failing_expression;
    std::vector<std::pair<std::string, std::string>> values;
};

FailureExplanation ExplainFailure(const model::Expression& expression, const EvaluationContext& context);

}  // namespace cascade::lang
