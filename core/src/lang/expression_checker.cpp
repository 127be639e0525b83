// Type checking of expressions against the names a workflow defines, so an
// author learns of a typo or a date compared with a number when the workflow
// is validated, not when the campaign reaches that step.
//
// Every node gets a type. A node that cannot be typed gets `unknown`, which
// is compatible with everything: one mistake yields one error, not a cascade.
// Comparisons and boolean operators are boolean even when their operands are
// wrong, for the same reason.
#include "cascade/lang/diagnostic.hpp"
#include "cascade/lang/expression.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <optional>
#include <string>
#include <utility>

namespace cascade::lang {

using model::BinaryNode;
using model::BinaryOp;
using model::CallNode;
using model::Expression;
using model::ListNode;
using model::LiteralNode;
using model::PathNode;
using model::Type;
using model::TypeKind;
using model::UnaryNode;
using model::UnaryOp;

void TypeScope::Define(std::string dotted_path, model::Type type) {
    std::string parent;
    std::size_t start = 0;
    while (true) {
        const std::size_t dot = dotted_path.find('.', start);
        children_[parent].insert(dotted_path.substr(start, dot == std::string::npos ? dot : dot - start));
        if (dot == std::string::npos) {
            break;
        }
        parent = dotted_path.substr(0, dot);
        start = dot + 1;
    }
    leaves_.insert_or_assign(std::move(dotted_path), std::move(type));
}

const model::Type* TypeScope::Find(std::string_view dotted_path) const {
    const auto found = leaves_.find(dotted_path);
    if (found != leaves_.end()) {
        return &found->second;
    }
    return enclosing_ != nullptr ? enclosing_->Find(dotted_path) : nullptr;
}

bool TypeScope::IsNamespace(std::string_view dotted_prefix) const {
    return !dotted_prefix.empty() && (children_.find(dotted_prefix) != children_.end() ||
                                      (enclosing_ != nullptr && enclosing_->IsNamespace(dotted_prefix)));
}

std::vector<std::string> TypeScope::Children(std::string_view dotted_prefix) const {
    std::set<std::string> names;
    if (const auto found = children_.find(dotted_prefix); found != children_.end()) {
        names.insert(found->second.begin(), found->second.end());
    }
    if (enclosing_ != nullptr) {
        for (auto& name : enclosing_->Children(dotted_prefix)) {
            names.insert(std::move(name));
        }
    }
    return {names.begin(), names.end()};
}

std::vector<std::string> TypeScope::Paths() const {
    std::set<std::string> paths;
    for (const auto& [path, type] : leaves_) {
        paths.insert(path);
    }
    if (enclosing_ != nullptr) {
        for (auto& path : enclosing_->Paths()) {
            paths.insert(std::move(path));
        }
    }
    return {paths.begin(), paths.end()};
}

namespace {

struct Signature {
    std::string_view name;
    std::size_t arity;
    TypeKind result;  // unknown: depends on the arguments
    std::string_view usage;
};

constexpr std::array<Signature, 9> kFunctions{{
    {"date", 1, TypeKind::date, "date('2023-12-31')"},
    {"days_between", 2, TypeKind::integer, "days_between(from, to)"},
    {"duration", 1, TypeKind::duration, "duration('P7D') or duration('10 working days')"},
    {"len", 1, TypeKind::integer, "len(text or list)"},
    {"max", 2, TypeKind::unknown, "max(a, b)"},
    {"min", 2, TypeKind::unknown, "min(a, b)"},
    {"now", 0, TypeKind::date, "now()"},
    {"round", 1, TypeKind::integer, "round(number)"},
    {"working_days_between", 2, TypeKind::integer, "working_days_between(from, to)"},
}};

const Signature* FindFunction(std::string_view name) {
    for (const auto& signature : kFunctions) {
        if (signature.name == name) {
            return &signature;
        }
    }
    return nullptr;
}

bool IsNumeric(TypeKind kind) {
    return kind == TypeKind::integer || kind == TypeKind::number;
}

TypeKind NumericResult(TypeKind a, TypeKind b) {
    return a == TypeKind::integer && b == TypeKind::integer ? TypeKind::integer : TypeKind::number;
}

bool EqualityCompatible(TypeKind a, TypeKind b) {
    return a == TypeKind::unknown || b == TypeKind::unknown || a == TypeKind::null || b == TypeKind::null ||
           (IsNumeric(a) && IsNumeric(b)) || a == b;
}

bool EqualityCompatible(const Type& a, const Type& b) {
    if (!EqualityCompatible(a.kind, b.kind)) {
        return false;
    }
    return a.kind != TypeKind::list || b.kind != TypeKind::list || EqualityCompatible(a.element, b.element);
}

bool Ordered(const Type& a, const Type& b) {
    if (IsNumeric(a.kind) && IsNumeric(b.kind)) {
        return true;
    }
    return a.kind == b.kind && (a.kind == TypeKind::date || a.kind == TypeKind::duration || a.kind == TypeKind::string);
}

const std::string* StringLiteral(const Expression& expression) {
    const auto* literal = std::get_if<LiteralNode>(&expression.node);
    return literal == nullptr ? nullptr : std::get_if<std::string>(&literal->value.data);
}

std::string Quoted(const std::string& text) {
    return model::Value{text}.ToString();
}

std::string JoinWords(const std::vector<std::string>& words) {
    std::string text;
    for (const auto& word : words) {
        text += text.empty() ? "" : ", ";
        text += word;
    }
    return text;
}

// The source of a sub-expression for use inside a hint, or "" when it is too
// long to help.
std::string Shown(const Expression& expression) {
    std::string text = model::ToSource(expression);
    return text.size() <= 60 ? text : std::string();
}

// "an integer", "a date".
std::string WithArticle(const std::string& type_name) {
    const bool vowel =
        !type_name.empty() && std::string_view("aeiou").find(type_name.front()) != std::string_view::npos;
    return (vowel ? "an " : "a ") + type_name;
}

std::string Plural(std::size_t count, std::string_view word) {
    return std::to_string(count) + " " + std::string(word) + (count == 1 ? "" : "s");
}

class Checker {
public:
    Checker(const TypeScope& scope, std::vector<ExpressionError>& errors) : scope_(scope), errors_(errors) {}

    Type Check(Expression& expression) {
        Type type;
        if (auto* literal = std::get_if<LiteralNode>(&expression.node)) {
            type = LiteralType(*literal);
        } else if (auto* path = std::get_if<PathNode>(&expression.node)) {
            type = CheckPath(*path, expression);
        } else if (auto* unary = std::get_if<UnaryNode>(&expression.node)) {
            type = CheckUnary(*unary, expression);
        } else if (auto* binary = std::get_if<BinaryNode>(&expression.node)) {
            type = CheckBinary(*binary);
        } else if (auto* call = std::get_if<CallNode>(&expression.node)) {
            type = CheckCall(*call, expression);
        } else if (auto* list = std::get_if<ListNode>(&expression.node)) {
            type = CheckList(*list);
        }
        expression.type = type;
        return type;
    }

private:
    void Error(std::size_t offset, std::string code, std::string message, std::string hint = {}) {
        errors_.push_back({offset, std::move(code), std::move(message), std::move(hint)});
    }

    Type CheckChild(const model::ExpressionPtr& child) { return child ? Check(*child) : Type{}; }

    static Type LiteralType(const LiteralNode& literal) {
        const TypeKind kind = literal.value.Kind();
        if (kind != TypeKind::list) {
            return Type::Of(kind);
        }
        const auto& items = std::get<std::vector<model::Value>>(literal.value.data);
        return Type::ListOf(items.empty() ? TypeKind::unknown : items.front().Kind());
    }

    // ---- paths ------------------------------------------------------------

    Type CheckPath(const PathNode& path, const Expression& expression) {
        const auto segment_offset = [&](std::size_t i) {
            return i < path.segment_offsets.size() ? path.segment_offsets[i] : expression.offset;
        };
        std::string prefix;
        for (std::size_t i = 0; i < path.segments.size(); ++i) {
            const std::string name = prefix.empty() ? path.segments[i] : prefix + "." + path.segments[i];
            const bool last = i + 1 == path.segments.size();
            const Type* leaf = scope_.Find(name);
            if (last && leaf != nullptr) {
                return *leaf;
            }
            if (scope_.IsNamespace(name)) {
                if (!last) {
                    prefix = name;
                    continue;
                }
                const auto children = scope_.Children(name);
                Error(expression.offset, path.segments.size() == 1 ? "unknown-name" : "unknown-field",
                      "'" + name + "' is a group of fields, not a value",
                      children.empty() ? "" : "use one of its fields, e.g. '" + name + "." + children.front() + "'");
                return {};
            }
            if (leaf != nullptr) {
                Error(segment_offset(i + 1), "unknown-field",
                      "'" + name + "' is " + WithArticle(leaf->ToString()) + " and has no field '" +
                          path.segments[i + 1] + "'");
                return {};
            }
            UnknownSegment(path, i, prefix, segment_offset(i));
            return {};
        }
        return {};
    }

    // Suggests a correction for segment `i`: the whole corrected path when it exists.
    std::string Suggestion(const PathNode& path, std::size_t i, const std::string& candidate) const {
        std::vector<std::string> corrected = path.segments;
        corrected[i] = candidate;
        const std::string full = model::JoinPath(corrected);
        return scope_.Find(full) != nullptr ? "did you mean '" + full + "'?" : "did you mean '" + candidate + "'?";
    }

    void UnknownSegment(const PathNode& path, std::size_t i, const std::string& prefix, std::size_t offset) {
        const std::string& segment = path.segments[i];
        const auto siblings = scope_.Children(prefix);
        const std::string closest = ClosestMatch(segment, siblings);
        if (i > 0) {
            std::string hint;
            if (!closest.empty()) {
                hint = Suggestion(path, i, closest);
            } else if (!siblings.empty() && siblings.size() <= 12) {
                hint = "'" + prefix + "' has: " + JoinWords(siblings);
            }
            Error(offset, "unknown-field", "unknown field '" + segment + "' in '" + prefix + "'", hint);
            return;
        }
        Error(offset, "unknown-name", "unknown name '" + segment + "'", UnknownNameHint(path, closest, siblings));
    }

    std::string UnknownNameHint(const PathNode& path, const std::string& closest,
                                const std::vector<std::string>& roots) const {
        const std::string& name = path.segments.front();
        if (path.segments.size() == 1) {
            std::string lower = name;
            std::transform(lower.begin(), lower.end(), lower.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
            for (const std::string_view keyword : {"true", "false", "null", "and", "or", "not", "in"}) {
                if (lower == keyword) {
                    return "write '" + lower + "' in lower case";
                }
            }
            if (FindFunction(name) != nullptr) {
                return "did you mean '" + name + "()'? functions need parentheses";
            }
        }
        // A field written without its namespace: "reading_days" for "form.reading_days".
        const std::string suffix = "." + model::JoinPath(path.segments);
        for (const auto& candidate : scope_.Paths()) {
            if (candidate.size() > suffix.size() &&
                candidate.compare(candidate.size() - suffix.size(), suffix.size(), suffix) == 0) {
                return "did you mean '" + candidate + "'?";
            }
        }
        if (!closest.empty()) {
            return Suggestion(path, 0, closest);
        }
        return roots.empty() ? "" : "names start with one of: " + JoinWords(roots);
    }

    // ---- operators --------------------------------------------------------

    Type CheckUnary(const UnaryNode& unary, const Expression& expression) {
        const Type operand = CheckChild(unary.operand);
        if (unary.op == UnaryOp::logical_not) {
            if (operand.kind != TypeKind::unknown && operand.kind != TypeKind::boolean) {
                Error(expression.offset, "type-mismatch", "'not' needs a boolean, but this is " + operand.ToString());
            }
            return Type::Of(TypeKind::boolean);
        }
        if (operand.kind == TypeKind::unknown) {
            return {};
        }
        if (!IsNumeric(operand.kind)) {
            Error(expression.offset, "type-mismatch", "cannot negate " + operand.ToString());
            return {};
        }
        return Type::Of(operand.kind);
    }

    Type CheckBinary(const BinaryNode& binary) {
        const Type left = CheckChild(binary.left);
        const Type right = CheckChild(binary.right);
        if (!binary.left || !binary.right) {
            return {};
        }
        switch (binary.op) {
        case BinaryOp::logical_or:
        case BinaryOp::logical_and:
            return CheckLogical(binary, left, right);
        case BinaryOp::equal:
        case BinaryOp::not_equal:
            return CheckEquality(binary, left, right);
        case BinaryOp::less:
        case BinaryOp::less_equal:
        case BinaryOp::greater:
        case BinaryOp::greater_equal:
            return CheckOrdering(binary, left, right);
        case BinaryOp::in:
            return CheckIn(binary, left, right);
        default:
            return CheckArithmetic(binary, left, right);
        }
    }

    Type CheckLogical(const BinaryNode& binary, const Type& left, const Type& right) {
        const std::string op(model::OperatorSymbol(binary.op));
        for (const auto& [side, type] : {std::pair{"left", &left}, std::pair{"right", &right}}) {
            if (type->kind != TypeKind::unknown && type->kind != TypeKind::boolean) {
                Error(binary.operator_offset, "type-mismatch",
                      "'" + op + "' needs a boolean on its " + side + ", but this is " + type->ToString(),
                      type->IsNumeric() || type->kind == TypeKind::string ? "compare it with a value first" : "");
            }
        }
        return Type::Of(TypeKind::boolean);
    }

    void CompareError(const BinaryNode& binary, const Type& left, const Type& right) {
        Error(binary.operator_offset, "type-mismatch",
              "cannot compare " + left.ToString() + " with " + right.ToString(), ComparisonHint(binary, left, right));
    }

    static std::string ComparisonHint(const BinaryNode& binary, const Type& left, const Type& right) {
        for (int side = 0; side < 2; ++side) {
            const Type& typed = side == 0 ? left : right;
            const Expression& other = side == 0 ? *binary.right : *binary.left;
            const Type& other_type = side == 0 ? right : left;
            const std::string* text = StringLiteral(other);
            if (typed.kind == TypeKind::date && text != nullptr) {
                return "write date(" + Quoted(*text) + ") for a fixed date";
            }
            if (typed.kind == TypeKind::duration && text != nullptr) {
                return "write duration(" + Quoted(*text) + ") for a fixed duration";
            }
            if (typed.kind == TypeKind::duration && other_type.IsNumeric()) {
                return "write a duration as duration('P7D') or duration('10 working days')";
            }
            if (typed.kind == TypeKind::date && other_type.IsNumeric()) {
                return "to count days between dates, use days_between(from, to)";
            }
            if (typed.kind == TypeKind::boolean && text != nullptr && (*text == "true" || *text == "false")) {
                return "write " + *text + " without quotes";
            }
            if (typed.IsNumeric() && text != nullptr && !text->empty() &&
                std::all_of(text->begin(), text->end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; })) {
                return "write numbers without quotes";
            }
            if (other_type.kind == TypeKind::null) {
                return "only '==' and '!=' can compare with null";
            }
        }
        return {};
    }

    // A string literal compared with a field that has a closed set of values must be one of them.
    void CheckChoice(const Type& typed, const Expression& other) {
        if (typed.choices.empty() || (typed.kind != TypeKind::string && typed.kind != TypeKind::list)) {
            return;
        }
        const std::string* text = StringLiteral(other);
        if (text == nullptr || std::find(typed.choices.begin(), typed.choices.end(), *text) != typed.choices.end()) {
            return;
        }
        Error(other.offset, "unknown-choice", Quoted(*text) + " is not one of: " + JoinWords(typed.choices),
              DidYouMean(*text, typed.choices));
    }

    Type CheckEquality(const BinaryNode& binary, const Type& left, const Type& right) {
        if (!EqualityCompatible(left, right)) {
            CompareError(binary, left, right);
        } else {
            if (left.kind == TypeKind::string) {
                CheckChoice(left, *binary.right);
            }
            if (right.kind == TypeKind::string) {
                CheckChoice(right, *binary.left);
            }
        }
        return Type::Of(TypeKind::boolean);
    }

    Type CheckOrdering(const BinaryNode& binary, const Type& left, const Type& right) {
        if (left.kind != TypeKind::unknown && right.kind != TypeKind::unknown && !Ordered(left, right)) {
            CompareError(binary, left, right);
        }
        return Type::Of(TypeKind::boolean);
    }

    Type CheckIn(const BinaryNode& binary, const Type& left, const Type& right) {
        auto boolean = Type::Of(TypeKind::boolean);
        if (left.kind == TypeKind::unknown || right.kind == TypeKind::unknown) {
            return boolean;
        }
        if (right.kind == TypeKind::string) {
            if (left.kind != TypeKind::string) {
                Error(binary.operator_offset, "type-mismatch",
                      "'in' with a string on its right looks for text, but the left side is " + left.ToString());
            }
            return boolean;
        }
        if (right.kind != TypeKind::list) {
            Error(binary.operator_offset, "type-mismatch",
                  "'in' needs a list or a string on its right, but this is " + right.ToString(),
                  right.kind == TypeKind::null ? "" : "to test for equality, use '=='");
            return boolean;
        }
        if (!EqualityCompatible(left.kind, right.element)) {
            Error(binary.operator_offset, "type-mismatch",
                  "cannot look for " + left.ToString() + " in " + right.ToString());
            return boolean;
        }
        if (left.kind == TypeKind::string && !left.choices.empty()) {
            if (const auto* list = std::get_if<ListNode>(&binary.right->node)) {
                for (const auto& item : list->items) {
                    if (item) {
                        CheckChoice(left, *item);
                    }
                }
            }
        }
        CheckChoice(right, *binary.left);
        return boolean;
    }

    Type CheckArithmetic(const BinaryNode& binary, const Type& left, const Type& right) {
        if (left.kind == TypeKind::unknown || right.kind == TypeKind::unknown) {
            return {};
        }
        if (IsNumeric(left.kind) && IsNumeric(right.kind)) {
            return Type::Of(binary.op == BinaryOp::divide ? TypeKind::number : NumericResult(left.kind, right.kind));
        }
        const bool date_and_duration = left.kind == TypeKind::date && right.kind == TypeKind::duration;
        if (binary.op == BinaryOp::add &&
            (date_and_duration || (left.kind == TypeKind::duration && right.kind == TypeKind::date))) {
            return Type::Of(TypeKind::date);
        }
        if (binary.op == BinaryOp::subtract && date_and_duration) {
            return Type::Of(TypeKind::date);
        }
        const std::string l = left.ToString();
        const std::string r = right.ToString();
        std::string message;
        switch (binary.op) {
        case BinaryOp::add:
            message = "cannot add " + l + " and " + r;
            break;
        case BinaryOp::subtract:
            message = "cannot subtract " + r + " from " + l;
            break;
        case BinaryOp::multiply:
            message = "cannot multiply " + l + " by " + r;
            break;
        case BinaryOp::divide:
            message = "cannot divide " + l + " by " + r;
            break;
        default:
            message = "cannot take the remainder of " + l + " divided by " + r;
            break;
        }
        std::string hint;
        const bool adds_or_subtracts = binary.op == BinaryOp::add || binary.op == BinaryOp::subtract;
        if (adds_or_subtracts && left.kind == TypeKind::date && right.kind == TypeKind::date) {
            const std::string from = Shown(*binary.right);
            const std::string to = Shown(*binary.left);
            hint = binary.op == BinaryOp::add || from.empty() || to.empty()
                       ? "use days_between(from, to) for the number of days between two dates"
                       : "use days_between(" + from + ", " + to + ") for the number of days between two dates";
        } else if (adds_or_subtracts && (left.kind == TypeKind::date || right.kind == TypeKind::date)) {
            hint = "to move a date, add or subtract a duration, e.g. duration('P7D')";
        }
        Error(binary.operator_offset, "type-mismatch", message, hint);
        return {};
    }

    // ---- calls and lists --------------------------------------------------

    Type CheckCall(const CallNode& call, const Expression& expression) {
        std::vector<Type> arguments;
        for (const auto& argument : call.arguments) {
            arguments.push_back(CheckChild(argument));
        }
        const Signature* signature = FindFunction(call.function);
        if (signature == nullptr) {
            std::string hint = DidYouMean(call.function, FunctionNames());
            if (hint.empty()) {
                hint = "the functions are: " + JoinWords(FunctionNames());
            }
            Error(expression.offset, "unknown-function", "unknown function '" + call.function + "'", hint);
            return {};
        }
        if (arguments.size() != signature->arity) {
            const std::size_t given = arguments.size();
            Error(expression.offset, "wrong-arity",
                  call.function + "() takes " +
                      (signature->arity == 0 ? std::string("no arguments") : Plural(signature->arity, "argument")) +
                      ", but " + std::to_string(given) + (given == 1 ? " was" : " were") + " given",
                  "usage: " + std::string(signature->usage));
            return Type::Of(signature->result);
        }
        for (const auto& argument : call.arguments) {
            if (!argument) {
                return Type::Of(signature->result);
            }
        }
        const std::string_view name = signature->name;
        if (name == "date" || name == "duration") {
            CheckFixedValue(name, *call.arguments[0], arguments[0]);
        } else if (name == "len") {
            const TypeKind kind = arguments[0].kind;
            if (kind != TypeKind::unknown && kind != TypeKind::string && kind != TypeKind::list) {
                Error(call.arguments[0]->offset, "type-mismatch",
                      "len() needs a string or a list, but this is " + arguments[0].ToString());
            }
        } else if (name == "days_between" || name == "working_days_between") {
            for (std::size_t i = 0; i < 2; ++i) {
                const TypeKind kind = arguments[i].kind;
                if (kind != TypeKind::unknown && kind != TypeKind::date) {
                    const std::string* text = StringLiteral(*call.arguments[i]);
                    Error(call.arguments[i]->offset, "type-mismatch",
                          std::string(name) + "() needs a date as argument " + std::to_string(i + 1) +
                              ", but this is " + arguments[i].ToString(),
                          text != nullptr ? "write date(" + Quoted(*text) + ") for a fixed date" : "");
                }
            }
        } else if (name == "round") {
            const TypeKind kind = arguments[0].kind;
            if (kind != TypeKind::unknown && !IsNumeric(kind)) {
                Error(call.arguments[0]->offset, "type-mismatch",
                      "round() needs a number, but this is " + arguments[0].ToString());
            }
        } else if (name == "min" || name == "max") {
            return CheckMinMax(name, call, arguments);
        }
        return Type::Of(signature->result);
    }

    // date('...') and duration('...') take a literal, checked here so a bad
    // date is found at validate time.
    void CheckFixedValue(std::string_view name, const Expression& argument, const Type& type) {
        const bool is_date = name == "date";
        const std::string* text = StringLiteral(argument);
        if (text == nullptr) {
            if (type.kind == TypeKind::unknown) {
                return;
            }
            const std::string shown = Shown(argument);
            const bool already = type.kind == (is_date ? TypeKind::date : TypeKind::duration);
            Error(argument.offset, "bad-literal",
                  std::string(name) + "() needs a quoted " +
                      (is_date ? "date such as '2023-12-31'" : "duration such as 'P7D'") + ", not an expression",
                  already && !shown.empty() ? "'" + shown + "' is already a " + std::string(name) +
                                                  "; write it without " + std::string(name) + "()"
                                            : "");
            return;
        }
        if (is_date && !model::Date::Parse(*text)) {
            Error(argument.offset, "bad-literal", Quoted(*text) + " is not a valid date",
                  "write dates as YYYY-MM-DD, e.g. '2023-12-31'");
        } else if (!is_date && !model::Duration::Parse(*text)) {
            Error(argument.offset, "bad-literal", Quoted(*text) + " is not a valid duration",
                  "write durations like 'P7D', '3 days', '2 weeks' or '10 working days'");
        }
    }

    Type CheckMinMax(std::string_view name, const CallNode& call, const std::vector<Type>& arguments) {
        bool valid = true;
        for (std::size_t i = 0; i < 2; ++i) {
            const TypeKind kind = arguments[i].kind;
            if (kind == TypeKind::unknown) {
                valid = false;
            } else if (!IsNumeric(kind) && kind != TypeKind::date) {
                Error(call.arguments[i]->offset, "type-mismatch",
                      std::string(name) + "() needs numbers or dates, but this is " + arguments[i].ToString());
                valid = false;
            }
        }
        if (!valid) {
            return {};
        }
        const TypeKind a = arguments[0].kind;
        const TypeKind b = arguments[1].kind;
        if (IsNumeric(a) && IsNumeric(b)) {
            return Type::Of(NumericResult(a, b));
        }
        if (a == b) {
            return Type::Of(a);
        }
        Error(call.arguments[1]->offset, "type-mismatch",
              std::string(name) + "() cannot compare " + arguments[0].ToString() + " with " + arguments[1].ToString());
        return {};
    }

    Type CheckList(const ListNode& list) {
        std::optional<TypeKind> element;
        bool poisoned = false;
        bool has_null = false;
        for (const auto& item : list.items) {
            const Type type = CheckChild(item);
            if (type.kind == TypeKind::unknown) {
                poisoned = true;
            } else if (type.kind == TypeKind::null) {
                has_null = true;
            } else if (!element) {
                element = type.kind;
            } else if (IsNumeric(*element) && IsNumeric(type.kind)) {
                element = NumericResult(*element, type.kind);
            } else if (*element != type.kind) {
                Error(item->offset, "type-mismatch",
                      "list items must all have the same type, but this is " + type.ToString() + " and the first is " +
                          std::string(model::TypeKindName(*element)));
                poisoned = true;
            }
        }
        if (poisoned) {
            return Type::ListOf(TypeKind::unknown);
        }
        return Type::ListOf(element.value_or(has_null ? TypeKind::null : TypeKind::unknown));
    }

    const TypeScope& scope_;
    std::vector<ExpressionError>& errors_;
};

std::string NotBooleanHint(const Expression& expression, TypeKind kind) {
    const std::string shown = Shown(expression);
    const std::string source = shown.empty() ? "..." : shown;
    switch (kind) {
    case TypeKind::integer:
    case TypeKind::number:
        return "compare it with a value, e.g. '" + source + " > 0'";
    case TypeKind::string:
        return "compare it with a value, e.g. '" + source + " == ...'";
    case TypeKind::date:
        return "compare it with another date, e.g. '" + source + " <= now()'";
    case TypeKind::list:
        return "to test for items, write 'len(" + source + ") > 0'";
    default:
        return {};
    }
}

}  // namespace

const std::vector<std::string>& FunctionNames() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> list;
        list.reserve(kFunctions.size());
        for (const auto& signature : kFunctions) {
            list.emplace_back(signature.name);
        }
        return list;
    }();
    return names;
}

std::vector<ExpressionError> CheckExpression(model::Expression& expression, const TypeScope& scope,
                                             model::TypeKind expected) {
    std::vector<ExpressionError> errors;
    Checker checker(scope, errors);
    const Type type = checker.Check(expression);
    if (expected != TypeKind::unknown && type.kind != TypeKind::unknown && type.kind != expected &&
        !(expected == TypeKind::number && type.kind == TypeKind::integer)) {
        if (expected == TypeKind::boolean) {
            errors.push_back({expression.offset, "not-boolean",
                              "expression must be a boolean (true/false), but this is " + type.ToString(),
                              NotBooleanHint(expression, type.kind)});
        } else {
            errors.push_back({expression.offset, "type-mismatch",
                              "expression must be " + WithArticle(std::string(model::TypeKindName(expected))) +
                                  ", but this is " + type.ToString(),
                              ""});
        }
    }
    std::stable_sort(errors.begin(), errors.end(),
                     [](const ExpressionError& a, const ExpressionError& b) { return a.offset < b.offset; });
    return errors;
}

}  // namespace cascade::lang
