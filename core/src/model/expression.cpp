// Types, values and the canonical re-printing of expression trees.
#include "cascade/model/expression.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <system_error>
#include <utility>

namespace cascade::model {

std::string_view TypeKindName(TypeKind kind) {
    switch (kind) {
    case TypeKind::unknown:
        return "unknown";
    case TypeKind::null:
        return "null";
    case TypeKind::boolean:
        return "boolean";
    case TypeKind::integer:
        return "integer";
    case TypeKind::number:
        return "number";
    case TypeKind::string:
        return "string";
    case TypeKind::date:
        return "date";
    case TypeKind::duration:
        return "duration";
    case TypeKind::list:
        return "list";
    }
    return "unknown";
}

Type Type::Of(TypeKind kind) {
    Type type;
    type.kind = kind;
    return type;
}

Type Type::ListOf(TypeKind element) {
    Type type;
    type.kind = TypeKind::list;
    type.element = element;
    return type;
}

Type Type::Choice(std::vector<std::string> choices) {
    Type type;
    type.kind = TypeKind::string;
    type.choices = std::move(choices);
    return type;
}

std::string Type::ToString() const {
    std::string text(TypeKindName(kind));
    if (kind == TypeKind::list && element != TypeKind::unknown) {
        text += '<';
        text += TypeKindName(element);
        text += '>';
    }
    return text;
}

TypeKind Value::Kind() const {
    static constexpr std::array<TypeKind, 8> kKinds{TypeKind::null,     TypeKind::boolean, TypeKind::integer,
                                                    TypeKind::number,   TypeKind::string,  TypeKind::date,
                                                    TypeKind::duration, TypeKind::list};
    return kKinds[data.index()];
}

namespace {

// Shortest digits that read back to the same double, in plain (not
// scientific) notation because the language has no exponent syntax, and
// always with a decimal point so the text reads back as a number.
std::string FormatNumber(double number) {
    std::array<char, 1100> buffer{};
    const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), number, std::chars_format::fixed);
    if (result.ec != std::errc()) {
        return "nan";
    }
    std::string text(buffer.data(), result.ptr);
    if (text.find_first_of(".ni") == std::string::npos) {  // not "inf" / "nan" either
        text += ".0";
    }
    return text;
}

std::string QuoteString(const std::string& text) {
    std::string quoted = "'";
    for (const char c : text) {
        switch (c) {
        case '\\':
            quoted += "\\\\";
            break;
        case '\'':
            quoted += "\\'";
            break;
        case '\n':
            quoted += "\\n";
            break;
        default:
            quoted += c;
        }
    }
    quoted += '\'';
    return quoted;
}

}  // namespace

std::string Value::ToString() const {
    struct Printer {
        std::string operator()(std::monostate) const { return "null"; }
        std::string operator()(bool value) const { return value ? "true" : "false"; }
        std::string operator()(std::int64_t value) const { return std::to_string(value); }
        std::string operator()(double value) const { return FormatNumber(value); }
        std::string operator()(const std::string& value) const { return QuoteString(value); }
        std::string operator()(const Date& value) const { return value.ToString(); }
        std::string operator()(const Duration& value) const { return value.ToString(); }
        std::string operator()(const std::vector<Value>& values) const {
            std::string text = "[";
            for (std::size_t i = 0; i < values.size(); ++i) {
                if (i > 0) {
                    text += ", ";
                }
                text += values[i].ToString();
            }
            return text + "]";
        }
    };
    return std::visit(Printer{}, data);
}

std::string_view OperatorSymbol(UnaryOp op) {
    return op == UnaryOp::negate ? "-" : "not";
}

std::string_view OperatorSymbol(BinaryOp op) {
    switch (op) {
    case BinaryOp::logical_or:
        return "or";
    case BinaryOp::logical_and:
        return "and";
    case BinaryOp::equal:
        return "==";
    case BinaryOp::not_equal:
        return "!=";
    case BinaryOp::less:
        return "<";
    case BinaryOp::less_equal:
        return "<=";
    case BinaryOp::greater:
        return ">";
    case BinaryOp::greater_equal:
        return ">=";
    case BinaryOp::in:
        return "in";
    case BinaryOp::add:
        return "+";
    case BinaryOp::subtract:
        return "-";
    case BinaryOp::multiply:
        return "*";
    case BinaryOp::divide:
        return "/";
    case BinaryOp::modulo:
        return "%";
    }
    return "?";
}

int Precedence(BinaryOp op) {
    switch (op) {
    case BinaryOp::logical_or:
        return 1;
    case BinaryOp::logical_and:
        return 2;
    case BinaryOp::add:
    case BinaryOp::subtract:
        return 5;
    case BinaryOp::multiply:
    case BinaryOp::divide:
    case BinaryOp::modulo:
        return 6;
    default:
        return 4;  // comparisons and 'in'
    }
}

bool IsComparison(BinaryOp op) {
    return Precedence(op) == 4;
}

std::string JoinPath(const std::vector<std::string>& segments) {
    std::string text;
    for (const auto& segment : segments) {
        if (!text.empty()) {
            text += '.';
        }
        text += segment;
    }
    return text;
}

namespace {

int PrecedenceOf(const Expression& expression) {
    if (const auto* unary = std::get_if<UnaryNode>(&expression.node)) {
        return unary->op == UnaryOp::negate ? kNegatePrecedence : kNotPrecedence;
    }
    if (const auto* binary = std::get_if<BinaryNode>(&expression.node)) {
        return Precedence(binary->op);
    }
    if (const auto* literal = std::get_if<LiteralNode>(&expression.node)) {
        // A negative number prints with a leading '-', which reads as a prefix minus.
        const auto* integer = std::get_if<std::int64_t>(&literal->value.data);
        const auto* number = std::get_if<double>(&literal->value.data);
        if ((integer != nullptr && *integer < 0) || (number != nullptr && std::signbit(*number))) {
            return kNegatePrecedence;
        }
    }
    return kPrimaryPrecedence;
}

void Print(const Expression& expression, int min_precedence, std::string& out);

void PrintChild(const ExpressionPtr& child, int min_precedence, std::string& out) {
    if (child) {
        Print(*child, min_precedence, out);
    } else {
        out += "null";
    }
}

void PrintList(const std::vector<ExpressionPtr>& items, std::string& out) {
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i > 0) {
            out += ", ";
        }
        PrintChild(items[i], 0, out);
    }
}

void Print(const Expression& expression, int min_precedence, std::string& out) {
    const int precedence = PrecedenceOf(expression);
    const bool parenthesize = precedence < min_precedence;
    if (parenthesize) {
        out += '(';
    }
    if (const auto* literal = std::get_if<LiteralNode>(&expression.node)) {
        out += literal->value.ToString();
    } else if (const auto* path = std::get_if<PathNode>(&expression.node)) {
        out += JoinPath(path->segments);
    } else if (const auto* unary = std::get_if<UnaryNode>(&expression.node)) {
        if (unary->op == UnaryOp::negate) {
            out += '-';
            PrintChild(unary->operand, kNegatePrecedence, out);
        } else {
            out += "not ";
            PrintChild(unary->operand, kNotPrecedence, out);
        }
    } else if (const auto* binary = std::get_if<BinaryNode>(&expression.node)) {
        // Left-associative, except comparisons which do not chain at all.
        const int op_precedence = Precedence(binary->op);
        PrintChild(binary->left, IsComparison(binary->op) ? op_precedence + 1 : op_precedence, out);
        out += ' ';
        out += OperatorSymbol(binary->op);
        out += ' ';
        PrintChild(binary->right, op_precedence + 1, out);
    } else if (const auto* call = std::get_if<CallNode>(&expression.node)) {
        out += call->function;
        out += '(';
        PrintList(call->arguments, out);
        out += ')';
    } else if (const auto* list = std::get_if<ListNode>(&expression.node)) {
        out += '[';
        PrintList(list->items, out);
        out += ']';
    }
    if (parenthesize) {
        out += ')';
    }
}

}  // namespace

std::string ToSource(const Expression& expression) {
    std::string out;
    Print(expression, 0, out);
    return out;
}

}  // namespace cascade::model
