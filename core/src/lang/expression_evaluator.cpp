// Evaluation of expressions against an instance's values, and the
// explanation shown when a gate does not hold ("form.reading_days >= 7:
// form.reading_days is 5").
//
// The evaluator re-checks every runtime type instead of trusting the checker:
// values come from forms and plugins, and a stored instance may predate a
// change to its workflow. Anything unexpected becomes an EvaluationError.
#include "cascade/lang/expression.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace cascade::lang {

namespace {

using model::BinaryNode;
using model::BinaryOp;
using model::CallNode;
using model::Date;
using model::Duration;
using model::DurationUnit;
using model::Expression;
using model::ListNode;
using model::LiteralNode;
using model::PathNode;
using model::TypeKind;
using model::UnaryNode;
using model::UnaryOp;
using model::Value;
using List = std::vector<Value>;

// Dates are kept to the years 0000-9999, far from any overflow in day arithmetic.
constexpr std::int64_t kFirstDay = -719528;  // 0000-01-01
constexpr std::int64_t kLastDay = 2932896;   // 9999-12-31

std::string KindName(const Value& value) {
    return std::string(model::TypeKindName(value.Kind()));
}

bool IsNumeric(const Value& value) {
    return std::holds_alternative<std::int64_t>(value.data) || std::holds_alternative<double>(value.data);
}

double AsDouble(const Value& value) {
    if (const auto* integer = std::get_if<std::int64_t>(&value.data)) {
        return static_cast<double>(*integer);
    }
    return std::get<double>(value.data);
}

// -1, 0 or 1 as a is before, equal to or after b.
template <typename T>
int Order(const T& a, const T& b) {
    return a < b ? -1 : (b < a ? 1 : 0);
}

// Exact comparison of an integer with a double (converting the integer to
// double would round above 2^53).
int CompareMixed(std::int64_t integer, double number) {
    if (std::isnan(number)) {
        return -1;
    }
    if (number >= 9223372036854775808.0) {
        return -1;
    }
    if (number < -9223372036854775808.0) {
        return 1;
    }
    const double whole = std::trunc(number);
    const auto truncated = static_cast<std::int64_t>(whole);
    if (integer != truncated) {
        return Order(integer, truncated);
    }
    const double fraction = number - whole;
    return Order(0.0, fraction);
}

int CompareNumbers(const Value& a, const Value& b) {
    const auto* ai = std::get_if<std::int64_t>(&a.data);
    const auto* bi = std::get_if<std::int64_t>(&b.data);
    if (ai != nullptr && bi != nullptr) {
        return Order(*ai, *bi);
    }
    if (ai != nullptr) {
        return CompareMixed(*ai, std::get<double>(b.data));
    }
    if (bi != nullptr) {
        return -CompareMixed(*bi, std::get<double>(a.data));
    }
    const double x = std::get<double>(a.data);
    const double y = std::get<double>(b.data);
    return Order(x, y);
}

// The language's '==': numbers compare by value across integer and number,
// lists item by item, null equals only null.
bool Equal(const Value& a, const Value& b) {
    if (IsNumeric(a) && IsNumeric(b)) {
        return CompareNumbers(a, b) == 0;
    }
    if (a.data.index() != b.data.index()) {
        return false;
    }
    if (const auto* left = std::get_if<List>(&a.data)) {
        const auto& right = std::get<List>(b.data);
        return left->size() == right.size() && std::equal(left->begin(), left->end(), right.begin(), Equal);
    }
    return a == b;
}

bool InDateRange(Date date) {
    return date.DaysSinceEpoch() >= kFirstDay && date.DaysSinceEpoch() <= kLastDay;
}

std::int64_t CountCodePoints(const std::string& text) {
    return static_cast<std::int64_t>(std::count_if(
        text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0U) != 0x80U; }));
}

class Evaluator {
public:
    explicit Evaluator(const EvaluationContext& context) : context_(context) {}

    Value Eval(const Expression& expression) {
        if (error_) {
            return {};
        }
        if (const auto* literal = std::get_if<LiteralNode>(&expression.node)) {
            return literal->value;
        }
        if (const auto* path = std::get_if<PathNode>(&expression.node)) {
            return Lookup(*path, expression.offset);
        }
        if (const auto* unary = std::get_if<UnaryNode>(&expression.node)) {
            return EvalUnary(*unary, expression.offset);
        }
        if (const auto* binary = std::get_if<BinaryNode>(&expression.node)) {
            return EvalBinary(*binary);
        }
        if (const auto* call = std::get_if<CallNode>(&expression.node)) {
            return EvalCall(*call, expression.offset);
        }
        if (const auto* list = std::get_if<ListNode>(&expression.node)) {
            List values;
            values.reserve(list->items.size());
            for (const auto& item : list->items) {
                values.push_back(EvalChild(item, expression.offset));
            }
            return {std::move(values)};
        }
        return {};
    }

    const std::optional<EvaluationError>& Error() const { return error_; }

private:
    Value Fail(std::size_t offset, std::string message) {
        if (!error_) {
            error_ = EvaluationError{offset, std::move(message)};
        }
        return {};
    }

    Value EvalChild(const model::ExpressionPtr& child, std::size_t offset) {
        return child ? Eval(*child) : Fail(offset, "incomplete expression");
    }

    Value Lookup(const PathNode& path, std::size_t offset) {
        std::optional<Value> value;
        if (context_.lookup) {
            value = context_.lookup(path.segments);
        }
        if (!value) {
            return Fail(offset, "no value is known for '" + model::JoinPath(path.segments) + "'");
        }
        return std::move(*value);
    }

    // A value where a boolean is needed: null counts as false.
    std::optional<bool> Truth(const Value& value, std::size_t offset, std::string_view what) {
        if (const auto* boolean = std::get_if<bool>(&value.data)) {
            return *boolean;
        }
        if (value.IsNull()) {
            return false;
        }
        Fail(offset, std::string(what) + " needs a boolean, but this is " + KindName(value));
        return std::nullopt;
    }

    Value EvalUnary(const UnaryNode& unary, std::size_t offset) {
        const Value operand = EvalChild(unary.operand, offset);
        if (error_) {
            return {};
        }
        if (unary.op == UnaryOp::logical_not) {
            const auto truth = Truth(operand, offset, "'not'");
            return truth ? Value{!*truth} : Value{};
        }
        if (operand.IsNull()) {
            return {};
        }
        if (const auto* integer = std::get_if<std::int64_t>(&operand.data)) {
            if (*integer == std::numeric_limits<std::int64_t>::min()) {
                return Fail(offset, "integer overflow");
            }
            return {-*integer};
        }
        if (const auto* number = std::get_if<double>(&operand.data)) {
            return {-*number};
        }
        return Fail(offset, "cannot negate " + KindName(operand));
    }

    Value EvalBinary(const BinaryNode& binary) {
        const std::size_t offset = binary.operator_offset;
        const Value left = EvalChild(binary.left, offset);
        if (error_) {
            return {};
        }
        if (binary.op == BinaryOp::logical_and || binary.op == BinaryOp::logical_or) {
            const std::string what = "'" + std::string(model::OperatorSymbol(binary.op)) + "'";
            const auto left_truth = Truth(left, offset, what);
            if (!left_truth) {
                return {};
            }
            // Short circuit: the right side is not evaluated once the result is known.
            if (*left_truth == (binary.op == BinaryOp::logical_or)) {
                return {*left_truth};
            }
            const auto right_truth = Truth(EvalChild(binary.right, offset), offset, what);
            return right_truth && !error_ ? Value{*right_truth} : Value{};
        }
        const Value right = EvalChild(binary.right, offset);
        if (error_) {
            return {};
        }
        switch (binary.op) {
        case BinaryOp::equal:
            return {Equal(left, right)};
        case BinaryOp::not_equal:
            return {!Equal(left, right)};
        case BinaryOp::less:
        case BinaryOp::less_equal:
        case BinaryOp::greater:
        case BinaryOp::greater_equal:
            return Ordering(binary.op, left, right, offset);
        case BinaryOp::in:
            return Contains(left, right, offset);
        default:
            return Arithmetic(binary.op, left, right, offset);
        }
    }

    Value Ordering(BinaryOp op, const Value& left, const Value& right, std::size_t offset) {
        if (left.IsNull() || right.IsNull()) {
            return {false};  // a missing value is neither smaller nor larger than anything
        }
        int order = 0;
        if (IsNumeric(left) && IsNumeric(right)) {
            order = CompareNumbers(left, right);
        } else if (left.data.index() != right.data.index()) {
            return Fail(offset, "cannot compare " + KindName(left) + " with " + KindName(right));
        } else if (const auto* text = std::get_if<std::string>(&left.data)) {
            order = Order(*text, std::get<std::string>(right.data));
        } else if (const auto* date = std::get_if<Date>(&left.data)) {
            const Date other = std::get<Date>(right.data);
            order = Order(*date, other);
        } else if (const auto* duration = std::get_if<Duration>(&left.data)) {
            const Duration& other = std::get<Duration>(right.data);
            if (duration->unit != other.unit) {
                return Fail(offset, "cannot compare a duration in calendar days with one in working days");
            }
            order = Order(duration->amount, other.amount);
        } else {
            return Fail(offset, KindName(left) + " values have no order");
        }
        switch (op) {
        case BinaryOp::less:
            return {order < 0};
        case BinaryOp::less_equal:
            return {order <= 0};
        case BinaryOp::greater:
            return {order > 0};
        default:
            return {order >= 0};
        }
    }

    Value Contains(const Value& needle, const Value& haystack, std::size_t offset) {
        if (haystack.IsNull()) {
            return {false};
        }
        if (const auto* items = std::get_if<List>(&haystack.data)) {
            return {std::any_of(items->begin(), items->end(), [&](const Value& item) { return Equal(needle, item); })};
        }
        if (const auto* text = std::get_if<std::string>(&haystack.data)) {
            if (needle.IsNull()) {
                return {false};
            }
            if (const auto* part = std::get_if<std::string>(&needle.data)) {
                return {text->find(*part) != std::string::npos};
            }
            return Fail(offset,
                        "'in' with a string on its right looks for text, but the left side is " + KindName(needle));
        }
        return Fail(offset, "'in' needs a list or a string on its right, but this is " + KindName(haystack));
    }

    Value Arithmetic(BinaryOp op, const Value& left, const Value& right, std::size_t offset) {
        if (left.IsNull() || right.IsNull()) {
            return {};
        }
        const auto* a = std::get_if<std::int64_t>(&left.data);
        const auto* b = std::get_if<std::int64_t>(&right.data);
        if (a != nullptr && b != nullptr) {
            return IntegerArithmetic(op, *a, *b, offset);
        }
        if (IsNumeric(left) && IsNumeric(right)) {
            return NumberArithmetic(op, AsDouble(left), AsDouble(right), offset);
        }
        const auto* date = std::get_if<Date>(&left.data);
        const auto* duration = std::get_if<Duration>(&right.data);
        if (date != nullptr && duration != nullptr && (op == BinaryOp::add || op == BinaryOp::subtract)) {
            return AddDuration(*date, *duration, op == BinaryOp::subtract, offset);
        }
        if (op == BinaryOp::add && std::holds_alternative<Duration>(left.data) &&
            std::holds_alternative<Date>(right.data)) {
            return AddDuration(std::get<Date>(right.data), std::get<Duration>(left.data), false, offset);
        }
        return Fail(offset, "cannot apply '" + std::string(model::OperatorSymbol(op)) + "' to " + KindName(left) +
                                " and " + KindName(right));
    }

    Value IntegerArithmetic(BinaryOp op, std::int64_t a, std::int64_t b, std::size_t offset) {
        std::int64_t result = 0;
        bool overflow = false;
        switch (op) {
        case BinaryOp::add:
            overflow = __builtin_add_overflow(a, b, &result);
            break;
        case BinaryOp::subtract:
            overflow = __builtin_sub_overflow(a, b, &result);
            break;
        case BinaryOp::multiply:
            overflow = __builtin_mul_overflow(a, b, &result);
            break;
        case BinaryOp::divide:
            if (b == 0) {
                return Fail(offset, "division by zero");
            }
            return {static_cast<double>(a) / static_cast<double>(b)};
        default:  // modulo; the result takes the sign of the dividend
            if (b == 0) {
                return Fail(offset, "division by zero");
            }
            result = b == -1 ? 0 : a % b;  // INT64_MIN % -1 would overflow
            break;
        }
        if (overflow) {
            return Fail(offset, "integer overflow");
        }
        return {result};
    }

    Value NumberArithmetic(BinaryOp op, double a, double b, std::size_t offset) {
        double result = 0;
        switch (op) {
        case BinaryOp::add:
            result = a + b;
            break;
        case BinaryOp::subtract:
            result = a - b;
            break;
        case BinaryOp::multiply:
            result = a * b;
            break;
        case BinaryOp::divide:
            if (b == 0) {
                return Fail(offset, "division by zero");
            }
            result = a / b;
            break;
        default:
            if (b == 0) {
                return Fail(offset, "division by zero");
            }
            result = std::fmod(a, b);
            break;
        }
        if (!std::isfinite(result)) {
            return Fail(offset, "number overflow");
        }
        return {result};
    }

    Value AddDuration(Date date, const Duration& duration, bool subtract, std::size_t offset) {
        if (!InDateRange(date)) {
            return Fail(offset, "date " + date.ToString() + " is out of range");
        }
        const std::int64_t amount = subtract ? -std::int64_t{duration.amount} : std::int64_t{duration.amount};
        if (amount < -(kLastDay - kFirstDay) || amount > kLastDay - kFirstDay) {
            return Fail(offset, "date is out of range (years 0 to 9999)");
        }
        Date result;
        if (duration.unit == DurationUnit::working_days) {
            try {
                result = Calendar().AddWorkingDays(date, static_cast<std::int32_t>(amount));
            } catch (const std::domain_error& error) {
                return Fail(offset, error.what());
            }
        } else {
            result = Date(static_cast<std::int32_t>(date.DaysSinceEpoch() + amount));
        }
        if (!InDateRange(result)) {
            return Fail(offset, "date is out of range (years 0 to 9999)");
        }
        return {result};
    }

    // ---- functions --------------------------------------------------------

    bool Arity(const CallNode& call, std::size_t arity, std::size_t offset) {
        if (call.arguments.size() != arity) {
            Fail(offset, call.function + "() takes " + std::to_string(arity) + " argument(s), but " +
                             std::to_string(call.arguments.size()) + " were given");
            return false;
        }
        return true;
    }

    Value EvalCall(const CallNode& call, std::size_t offset) {
        const std::string& name = call.function;
        if (name == "now") {
            return Arity(call, 0, offset) ? Value{context_.today} : Value{};
        }
        if (name == "date" || name == "duration") {
            return Arity(call, 1, offset) ? FixedValue(name == "date", call, offset) : Value{};
        }
        const bool unary = name == "len" || name == "round";
        const bool binary = name == "days_between" || name == "working_days_between" || name == "min" || name == "max";
        if (!unary && !binary) {
            return Fail(offset, "unknown function '" + name + "'");
        }
        if (!Arity(call, unary ? 1 : 2, offset)) {
            return {};
        }
        List arguments;
        for (const auto& argument : call.arguments) {
            arguments.push_back(EvalChild(argument, offset));
            if (error_) {
                return {};
            }
        }
        if (std::any_of(arguments.begin(), arguments.end(), [](const Value& value) { return value.IsNull(); })) {
            return {};  // a function of a missing value is missing
        }
        if (name == "len") {
            if (const auto* text = std::get_if<std::string>(&arguments[0].data)) {
                return {CountCodePoints(*text)};  // characters, not bytes: Chinese text counts as written
            }
            if (const auto* items = std::get_if<List>(&arguments[0].data)) {
                return {static_cast<std::int64_t>(items->size())};
            }
            return Fail(offset, "len() needs a string or a list, but this is " + KindName(arguments[0]));
        }
        if (name == "round") {
            return Round(arguments[0], offset);
        }
        if (name == "min" || name == "max") {
            return MinMax(name == "min", arguments[0], arguments[1], offset);
        }
        return DaysBetween(name == "working_days_between", arguments[0], arguments[1], offset);
    }

    Value FixedValue(bool is_date, const CallNode& call, std::size_t offset) {
        Value argument = EvalChild(call.arguments[0], offset);
        if (error_ || argument.IsNull()) {
            return {};
        }
        if (argument.Kind() == (is_date ? TypeKind::date : TypeKind::duration)) {
            return argument;
        }
        const auto* text = std::get_if<std::string>(&argument.data);
        if (text == nullptr) {
            return Fail(offset, call.function + "() needs a string, but this is " + KindName(argument));
        }
        if (is_date) {
            if (const auto date = Date::Parse(*text)) {
                return {*date};
            }
            return Fail(offset, argument.ToString() + " is not a valid date");
        }
        if (const auto duration = Duration::Parse(*text)) {
            return {*duration};
        }
        return Fail(offset, argument.ToString() + " is not a valid duration");
    }

    Value Round(const Value& argument, std::size_t offset) {
        if (std::holds_alternative<std::int64_t>(argument.data)) {
            return argument;
        }
        const auto* number = std::get_if<double>(&argument.data);
        if (number == nullptr) {
            return Fail(offset, "round() needs a number, but this is " + KindName(argument));
        }
        const double rounded = std::round(*number);  // halves away from zero
        if (!(rounded >= -9223372036854775808.0 && rounded < 9223372036854775808.0)) {
            return Fail(offset, "integer overflow");
        }
        return {static_cast<std::int64_t>(rounded)};
    }

    Value MinMax(bool minimum, const Value& a, const Value& b, std::size_t offset) {
        if (IsNumeric(a) && IsNumeric(b)) {
            const int order = CompareNumbers(a, b);
            const Value& chosen = (minimum ? order <= 0 : order >= 0) ? a : b;
            if (std::holds_alternative<std::int64_t>(a.data) && std::holds_alternative<std::int64_t>(b.data)) {
                return chosen;
            }
            return {AsDouble(chosen)};  // mixed arguments give a number, as the checker says
        }
        const auto* x = std::get_if<Date>(&a.data);
        const auto* y = std::get_if<Date>(&b.data);
        if (x != nullptr && y != nullptr) {
            return {minimum ? std::min(*x, *y) : std::max(*x, *y)};
        }
        return Fail(offset,
                    std::string(minimum ? "min" : "max") + "() cannot compare " + KindName(a) + " with " + KindName(b));
    }

    Value DaysBetween(bool working, const Value& a, const Value& b, std::size_t offset) {
        const auto* from = std::get_if<Date>(&a.data);
        const auto* to = std::get_if<Date>(&b.data);
        if (from == nullptr || to == nullptr) {
            return Fail(offset, std::string(working ? "working_days_between" : "days_between") +
                                    "() needs two dates, but these are " + KindName(a) + " and " + KindName(b));
        }
        if (!working) {
            return {std::int64_t{to->DaysSinceEpoch()} - std::int64_t{from->DaysSinceEpoch()}};
        }
        if (!InDateRange(*from) || !InDateRange(*to)) {
            return Fail(offset, "date is out of range (years 0 to 9999)");
        }
        // Counted like days_between: negative when `to` comes first.
        if (*from <= *to) {
            return {std::int64_t{Calendar().WorkingDaysBetween(*from, *to)}};
        }
        return {-std::int64_t{Calendar().WorkingDaysBetween(*to, *from)}};
    }

    // Without a workflow calendar, working days are Monday to Friday (as in model::Definition::Add).
    const model::WorkingCalendar& Calendar() const {
        static const model::WorkingCalendar weekdays = [] {
            model::WorkingCalendar calendar;
            calendar.covers_from = model::Date(static_cast<std::int32_t>(kFirstDay));
            calendar.covers_to = model::Date(static_cast<std::int32_t>(kLastDay));
            return calendar;
        }();
        return context_.calendar != nullptr ? *context_.calendar : weekdays;
    }

    const EvaluationContext& context_;
    std::optional<EvaluationError> error_;
};

// Whether `expression` evaluates to exactly `expected` (errors never do; null counts as false).
bool EvaluatesTo(const Expression& expression, const EvaluationContext& context, bool expected) {
    Evaluator evaluator(context);
    const Value value = evaluator.Eval(expression);
    if (evaluator.Error()) {
        return false;
    }
    const auto* boolean = std::get_if<bool>(&value.data);
    return (boolean != nullptr && *boolean) == expected && (boolean != nullptr || value.IsNull());
}

void CollectPaths(const Expression& expression, std::vector<const PathNode*>& paths) {
    if (const auto* path = std::get_if<PathNode>(&expression.node)) {
        paths.push_back(path);
    }
    const auto visit = [&](const model::ExpressionPtr& child) {
        if (child) {
            CollectPaths(*child, paths);
        }
    };
    if (const auto* unary = std::get_if<UnaryNode>(&expression.node)) {
        visit(unary->operand);
    } else if (const auto* binary = std::get_if<BinaryNode>(&expression.node)) {
        visit(binary->left);
        visit(binary->right);
    } else if (const auto* call = std::get_if<CallNode>(&expression.node)) {
        std::for_each(call->arguments.begin(), call->arguments.end(), visit);
    } else if (const auto* list = std::get_if<ListNode>(&expression.node)) {
        std::for_each(list->items.begin(), list->items.end(), visit);
    }
}

}  // namespace

std::variant<model::Value, EvaluationError> Evaluate(const model::Expression& expression,
                                                     const EvaluationContext& context) {
    Evaluator evaluator(context);
    Value value = evaluator.Eval(expression);
    if (evaluator.Error()) {
        return *evaluator.Error();
    }
    return value;
}

FailureExplanation ExplainFailure(const model::Expression& expression, const EvaluationContext& context) {
    // Walk down while the reason can be narrowed: `want` is the value the
    // current node should have had. A false 'and' is explained by its first
    // operand that is not true; 'not' flips what we look for, so a true 'or'
    // under a 'not' is explained by its first operand that is not false.
    const Expression* node = &expression;
    bool want = true;
    while (true) {
        if (const auto* unary = std::get_if<UnaryNode>(&node->node)) {
            if (unary->op == UnaryOp::logical_not && unary->operand) {
                node = unary->operand.get();
                want = !want;
                continue;
            }
            break;
        }
        const auto* binary = std::get_if<BinaryNode>(&node->node);
        if (binary == nullptr || !binary->left || !binary->right ||
            binary->op != (want ? BinaryOp::logical_and : BinaryOp::logical_or)) {
            break;
        }
        if (!EvaluatesTo(*binary->left, context, want)) {
            node = binary->left.get();
        } else if (!EvaluatesTo(*binary->right, context, want)) {
            node = binary->right.get();
        } else {
            break;  // both operands hold: nothing narrower to show
        }
    }

    FailureExplanation explanation;
    explanation.failing_expression = model::ToSource(*node);
    if (!want) {
        const auto* binary = std::get_if<BinaryNode>(&node->node);
        const bool loose = binary != nullptr && model::Precedence(binary->op) < model::kNotPrecedence;
        explanation.failing_expression =
            loose ? "not (" + explanation.failing_expression + ")" : "not " + explanation.failing_expression;
    }
    std::vector<const PathNode*> paths;
    CollectPaths(*node, paths);
    for (const PathNode* path : paths) {
        std::string name = model::JoinPath(path->segments);
        const bool seen = std::any_of(explanation.values.begin(), explanation.values.end(),
                                      [&](const auto& entry) { return entry.first == name; });
        if (seen) {
            continue;
        }
        std::optional<Value> value;
        if (context.lookup) {
            value = context.lookup(path->segments);
        }
        explanation.values.emplace_back(std::move(name), value ? value->ToString() : "(unknown)");
    }
    return explanation;
}

}  // namespace cascade::lang
