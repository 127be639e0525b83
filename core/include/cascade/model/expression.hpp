// The workflow expression language as data: static types, runtime values and
// the syntax tree of `when`, `gate` and `applies_if` expressions. Parsing,
// type checking and evaluation live in cascade/lang/expression.hpp; this
// header only describes what they produce and consume.
#pragma once

#include "cascade/model/date.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace cascade::model {

enum class TypeKind { unknown, null, boolean, integer, number, string, date, duration, list };

// "integer", "list", ... as used in messages.
std::string_view TypeKindName(TypeKind kind);

// A static type. `unknown` is the type of anything that could not be typed
// (an unknown field, an ill-typed operation); it is compatible with every
// other type, so a single mistake does not cause a cascade of errors.
struct Type {
    TypeKind kind = TypeKind::unknown;
    TypeKind element = TypeKind::unknown;  // element kind for lists
    // Closed set of allowed string values (enums, unit categories); empty = any.
    // For a list type the choices constrain its elements (a multi-select field).
    std::vector<std::string> choices;

    static Type Of(TypeKind kind);
    static Type ListOf(TypeKind element);
    static Type Choice(std::vector<std::string> choices);  // a string with choices

    bool IsNumeric() const { return kind == TypeKind::integer || kind == TypeKind::number; }
    std::string ToString() const;  // "integer", "list<string>", "string" ...

    friend bool operator==(const Type&, const Type&) = default;
};

// A runtime value. The empty alternative is null (a missing optional field).
struct Value {
    std::variant<std::monostate, bool, std::int64_t, double, std::string, Date, Duration, std::vector<Value>> data;

    TypeKind Kind() const;
    bool IsNull() const { return std::holds_alternative<std::monostate>(data); }
    // For messages: strings quoted ('text'), dates ISO (2023-12-31), durations
    // as "P7D", lists as [1, 2], numbers always with a decimal point (0.8).
    std::string ToString() const;

    // Structural equality: the integer 1 and the number 1.0 differ here (the
    // language's '==' treats them as equal; see lang::Evaluate).
    friend bool operator==(const Value&, const Value&) = default;
};

enum class UnaryOp { negate, logical_not };
enum class BinaryOp {
    logical_or,
    logical_and,
    equal,
    not_equal,
    less,
    less_equal,
    greater,
    greater_equal,
    in,
    add,
    subtract,
    multiply,
    divide,
    modulo
};

// The operator as written in source: "and", "==", "-", "not" ...
std::string_view OperatorSymbol(UnaryOp op);
std::string_view OperatorSymbol(BinaryOp op);

// Binding strength shared by the parser and ToSource, loosest first:
// or 1, and 2, (prefix not 3), comparisons and 'in' 4, + - 5, * / % 6,
// (prefix - 7), primaries 8.
int Precedence(BinaryOp op);
inline constexpr int kNotPrecedence = 3;
inline constexpr int kNegatePrecedence = 7;
inline constexpr int kPrimaryPrecedence = 8;

bool IsComparison(BinaryOp op);  // == != < <= > >= in

struct Expression;
using ExpressionPtr = std::unique_ptr<Expression>;

struct LiteralNode {
    Value value;
};

// form.reading_days: one entry per segment, with the byte offset of each.
struct PathNode {
    std::vector<std::string> segments;
    std::vector<std::size_t> segment_offsets;
};

struct UnaryNode {
    UnaryOp op;
    ExpressionPtr operand;
};

struct BinaryNode {
    BinaryOp op;
    ExpressionPtr left;
    ExpressionPtr right;
    std::size_t operator_offset = 0;  // byte offset of the operator, where type errors point
};

struct CallNode {
    std::string function;
    std::vector<ExpressionPtr> arguments;
};

struct ListNode {
    std::vector<ExpressionPtr> items;
};

struct Expression {
    std::variant<LiteralNode, PathNode, UnaryNode, BinaryNode, CallNode, ListNode> node;
    std::size_t offset = 0;  // byte offset of the first character in the source text
    std::size_t length = 0;
    Type type;  // filled by lang::CheckExpression
};

// The dotted name of a path: "form.reading_days".
std::string JoinPath(const std::vector<std::string>& segments);

// Canonical re-print with single spaces around binary operators and only the
// parentheses precedence needs ("form.reading_days >= 7"). Parsing the result
// yields the same tree.
std::string ToSource(const Expression& expression);

}  // namespace cascade::model
