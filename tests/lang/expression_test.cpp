// The expression language: lexing and parsing, limits, type checking with
// its messages and offsets, evaluation (null semantics, errors, functions)
// and the explanation of a false gate.
#include "cascade/lang/expression.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace Catch {
template <>
struct StringMaker<cascade::model::Value> {
    static std::string convert(const cascade::model::Value& value) {  // NOLINT(readability-identifier-naming)
        return value.ToString();
    }
};
}  // namespace Catch

namespace {

using cascade::lang::CheckExpression;
using cascade::lang::EvaluationContext;
using cascade::lang::EvaluationError;
using cascade::lang::ExpressionError;
using cascade::lang::ExpressionLimits;
using cascade::lang::ParseExpression;
using cascade::lang::TypeScope;
using cascade::model::BinaryNode;
using cascade::model::CallNode;
using cascade::model::Date;
using cascade::model::Duration;
using cascade::model::DurationUnit;
using cascade::model::Expression;
using cascade::model::ExpressionPtr;
using cascade::model::ListNode;
using cascade::model::LiteralNode;
using cascade::model::PathNode;
using cascade::model::Type;
using cascade::model::TypeKind;
using cascade::model::UnaryNode;
using cascade::model::Value;
using List = std::vector<Value>;

Value Int(std::int64_t value) {
    return Value{value};
}
Value Num(double value) {
    return Value{value};
}
Value Str(std::string value) {
    return Value{std::move(value)};
}
Value Bool(bool value) {
    return Value{value};
}
Value DateValue(std::string_view text) {
    return Value{*Date::Parse(text)};
}

std::string Show(const ExpressionError& error) {
    std::string text = std::to_string(error.offset) + " " + error.code + ": " + error.message;
    if (!error.hint.empty()) {
        text += " [" + error.hint + "]";
    }
    return text;
}

std::vector<std::string> Show(const std::vector<ExpressionError>& errors) {
    std::vector<std::string> shown;
    shown.reserve(errors.size());
    for (const auto& error : errors) {
        shown.push_back(Show(error));
    }
    return shown;
}

using Problems = std::vector<std::string>;

ExpressionPtr Parse(std::string_view text) {
    auto result = ParseExpression(text);
    INFO("parsing: " << text);
    REQUIRE(Show(result.errors) == Problems{});
    REQUIRE(result.expression != nullptr);
    return std::move(result.expression);
}

Problems ParseProblems(std::string_view text, const ExpressionLimits& limits = {}) {
    auto result = ParseExpression(text, limits);
    CHECK((result.expression == nullptr) == !result.errors.empty());
    return Show(result.errors);
}

// Fully parenthesized structure: (op left right), (not x), (- x), len(x), [a b].
std::string Tree(const Expression& expression) {
    if (const auto* literal = std::get_if<LiteralNode>(&expression.node)) {
        return literal->value.ToString();
    }
    if (const auto* path = std::get_if<PathNode>(&expression.node)) {
        return cascade::model::JoinPath(path->segments);
    }
    if (const auto* unary = std::get_if<UnaryNode>(&expression.node)) {
        return "(" + std::string(OperatorSymbol(unary->op)) + " " + Tree(*unary->operand) + ")";
    }
    if (const auto* binary = std::get_if<BinaryNode>(&expression.node)) {
        return "(" + std::string(OperatorSymbol(binary->op)) + " " + Tree(*binary->left) + " " + Tree(*binary->right) +
               ")";
    }
    if (const auto* call = std::get_if<CallNode>(&expression.node)) {
        std::string text = call->function + "(";
        for (std::size_t i = 0; i < call->arguments.size(); ++i) {
            text += (i > 0 ? " " : "") + Tree(*call->arguments[i]);
        }
        return text + ")";
    }
    const auto& list = std::get<ListNode>(expression.node);
    std::string text = "[";
    for (std::size_t i = 0; i < list.items.size(); ++i) {
        text += (i > 0 ? " " : "") + Tree(*list.items[i]);
    }
    return text + "]";
}

std::string TreeOf(std::string_view text) {
    return Tree(*Parse(text));
}

Value LiteralOf(std::string_view text) {
    const auto expression = Parse(text);
    const auto* literal = std::get_if<LiteralNode>(&expression->node);
    REQUIRE(literal != nullptr);
    return literal->value;
}

std::vector<std::string> Categories() {
    return {"county", "township", "department", "enterprise"};
}

TypeScope SampleScope() {
    TypeScope scope;
    scope.Define("form.reading_days", Type::Of(TypeKind::integer));
    scope.Define("form.sessions", Type::Of(TypeKind::integer));
    scope.Define("form.score", Type::Of(TypeKind::number));
    scope.Define("form.note", Type::Of(TypeKind::string));
    scope.Define("form.agreed", Type::Of(TypeKind::boolean));
    scope.Define("form.start", Type::Of(TypeKind::date));
    scope.Define("form.finished", Type::Of(TypeKind::date));
    scope.Define("form.tags", Type::ListOf(TypeKind::string));
    Type topics = Type::ListOf(TypeKind::string);
    topics.choices = {"party", "economy"};
    scope.Define("form.topics", topics);
    scope.Define("form.missing", Type::Of(TypeKind::integer));
    scope.Define("form.missing_flag", Type::Of(TypeKind::boolean));
    scope.Define("form.missing_note", Type::Of(TypeKind::string));
    scope.Define("form.missing_list", Type::ListOf(TypeKind::integer));
    scope.Define("unit.category", Type::Choice(Categories()));
    scope.Define("unit.name", Type::Of(TypeKind::string));
    scope.Define("problems.open", Type::Of(TypeKind::integer));
    scope.Define("vars.deadline", Type::Of(TypeKind::date));
    scope.Define("vars.period", Type::Of(TypeKind::duration));
    scope.Define("vars.target", Type::Of(TypeKind::number));
    scope.Define("vars.unknown", Type::Of(TypeKind::integer));
    return scope;
}

const std::map<std::string, Value>& SampleValues() {
    static const std::map<std::string, Value> values{
        {"form.reading_days", Int(5)},
        {"form.sessions", Int(2)},
        {"form.score", Num(2.5)},
        {"form.note", Str("学习笔记")},
        {"form.agreed", Bool(true)},
        {"form.start", DateValue("2023-09-01")},
        {"form.finished", DateValue("2023-12-20")},
        {"form.tags", Value{List{Str("a"), Str("b")}}},
        {"form.topics", Value{List{Str("party")}}},
        {"form.missing", Value{}},
        {"form.missing_flag", Value{}},
        {"form.missing_note", Value{}},
        {"form.missing_list", Value{}},
        {"unit.category", Str("township")},
        {"unit.name", Str("城关镇")},
        {"problems.open", Int(3)},
        {"vars.deadline", DateValue("2023-12-31")},
        {"vars.period", Value{Duration{7, DurationUnit::calendar_days}}},
        {"vars.target", Num(0.8)},
        // vars.unknown is in the scope but has no value at run time.
    };
    return values;
}

EvaluationContext SampleContext(const cascade::model::WorkingCalendar* calendar = nullptr) {
    EvaluationContext context;
    context.lookup = [](const std::vector<std::string>& path) -> std::optional<Value> {
        const auto found = SampleValues().find(cascade::model::JoinPath(path));
        if (found == SampleValues().end()) {
            return std::nullopt;
        }
        return found->second;
    };
    context.today = *Date::Parse("2023-12-01");
    context.calendar = calendar;
    return context;
}

Problems CheckProblems(std::string_view text, TypeKind expected = TypeKind::boolean) {
    auto expression = Parse(text);
    return Show(CheckExpression(*expression, SampleScope(), expected));
}

std::string TypeOf(std::string_view text) {
    auto expression = Parse(text);
    INFO("checking: " << text);
    REQUIRE(Show(CheckExpression(*expression, SampleScope(), TypeKind::unknown)) == Problems{});
    return expression->type.ToString();
}

// Parses, type-checks (must be clean) and evaluates.
std::variant<Value, EvaluationError> Run(std::string_view text,
                                         const cascade::model::WorkingCalendar* calendar = nullptr) {
    auto expression = Parse(text);
    INFO("evaluating: " << text);
    REQUIRE(Show(CheckExpression(*expression, SampleScope(), TypeKind::unknown)) == Problems{});
    return cascade::lang::Evaluate(*expression, SampleContext(calendar));
}

Value Eval(std::string_view text, const cascade::model::WorkingCalendar* calendar = nullptr) {
    auto result = Run(text, calendar);
    if (const auto* error = std::get_if<EvaluationError>(&result)) {
        FAIL("evaluating '" << text << "' failed at " << error->offset << ": " << error->message);
    }
    return std::get<Value>(result);
}

std::string EvalError(std::string_view text) {
    auto result = Run(text);
    const auto* error = std::get_if<EvaluationError>(&result);
    if (error == nullptr) {
        FAIL("evaluating '" << text << "' gave " << std::get<Value>(result).ToString());
    }
    return std::to_string(error->offset) + ": " + error->message;
}

}  // namespace

// ---- literals and structure -------------------------------------------------

TEST_CASE("expression: literals") {
    CHECK(LiteralOf("0") == Int(0));
    CHECK(LiteralOf("42") == Int(42));
    CHECK(LiteralOf("007") == Int(7));
    CHECK(LiteralOf("9223372036854775807") == Int(INT64_MAX));
    CHECK(LiteralOf("-9223372036854775808") == Int(INT64_MIN));
    CHECK(LiteralOf("-5") == Int(-5));
    CHECK(LiteralOf("1.5") == Num(1.5));
    CHECK(LiteralOf("-0.25") == Num(-0.25));
    CHECK(LiteralOf("80%") == Num(0.8));
    CHECK(LiteralOf("12.5%") == Num(0.125));
    CHECK(LiteralOf("100%") == Num(1.0));
    CHECK(LiteralOf("'text'") == Str("text"));
    CHECK(LiteralOf("\"text\"") == Str("text"));
    CHECK(LiteralOf(R"('it\'s \"x\" \\ \n')") == Str("it's \"x\" \\ \n"));
    CHECK(LiteralOf(R"("it's")") == Str("it's"));
    CHECK(LiteralOf("'主题教育（第二批）'") == Str("主题教育（第二批）"));
    CHECK(LiteralOf("''") == Str(""));
    CHECK(LiteralOf("true") == Bool(true));
    CHECK(LiteralOf("false") == Bool(false));
    CHECK(LiteralOf("null") == Value{});
    CHECK(TreeOf("[1, 'a', null, [true]]") == "[1 'a' null [true]]");
    CHECK(TreeOf("[]") == "[]");
    CHECK(TreeOf("[1, 2,]") == "[1 2]");
}

TEST_CASE("expression: percent sign versus remainder") {
    CHECK(TreeOf("80% > form.x") == "(> 0.8 form.x)");
    CHECK(TreeOf("form.x >= 80%") == "(>= form.x 0.8)");
    CHECK(TreeOf("(80%)") == "0.8");
    CHECK(TreeOf("7%2") == "(% 7 2)");
    CHECK(TreeOf("7 % 2") == "(% 7 2)");
    CHECK(TreeOf("7 %x") == "(% 7 x)");
    CHECK(TreeOf("7%(2)") == "(% 7 2)");
}

TEST_CASE("expression: paths, calls and offsets") {
    const auto path_expression = Parse("  form.reading_days");
    const auto& path = std::get<PathNode>(path_expression->node);
    CHECK(path.segments == std::vector<std::string>{"form", "reading_days"});
    CHECK(path.segment_offsets == std::vector<std::size_t>{2, 7});
    CHECK(path_expression->offset == 2);
    CHECK(path_expression->length == 17);

    // Keywords are ordinary field names after a dot.
    CHECK(TreeOf("form.in == form.not") == "(== form.in form.not)");
    CHECK(TreeOf("len(form.tags)") == "len(form.tags)");
    CHECK(TreeOf("now()") == "now()");
    CHECK(TreeOf("days_between( form.start , now() )") == "days_between(form.start now())");

    const auto binary_expression = Parse("(a + b) * c");
    const auto& binary = std::get<BinaryNode>(binary_expression->node);
    CHECK(binary_expression->offset == 0);
    CHECK(binary_expression->length == 11);
    CHECK(binary.operator_offset == 8);
    CHECK(binary.left->offset == 0);  // a parenthesized operand spans its parentheses
    CHECK(binary.left->length == 7);
    CHECK(std::get<BinaryNode>(binary.left->node).operator_offset == 3);
    CHECK(binary.right->offset == 10);

    const auto not_in = Parse("x not in [1]");
    CHECK(Tree(*not_in) == "(not (in x [1]))");
    CHECK(std::get<BinaryNode>(std::get<UnaryNode>(not_in->node).operand->node).operator_offset == 2);
}

TEST_CASE("expression: precedence and associativity") {
    CHECK(TreeOf("a or b and c") == "(or a (and b c))");
    CHECK(TreeOf("a and b or c") == "(or (and a b) c)");
    CHECK(TreeOf("a or b or c") == "(or (or a b) c)");
    CHECK(TreeOf("not a and b") == "(and (not a) b)");
    CHECK(TreeOf("not a == b") == "(not (== a b))");
    CHECK(TreeOf("not not a") == "(not (not a))");
    CHECK(TreeOf("a and not b") == "(and a (not b))");
    CHECK(TreeOf("a == b and c != d") == "(and (== a b) (!= c d))");
    CHECK(TreeOf("a + b < c * d") == "(< (+ a b) (* c d))");
    CHECK(TreeOf("a - b - c") == "(- (- a b) c)");
    CHECK(TreeOf("a / b * c % d") == "(% (* (/ a b) c) d)");
    CHECK(TreeOf("a + b * c") == "(+ a (* b c))");
    CHECK(TreeOf("(a + b) * c") == "(* (+ a b) c)");
    CHECK(TreeOf("-a * b") == "(* (- a) b)");
    CHECK(TreeOf("- -a") == "(- (- a))");
    CHECK(TreeOf("--5") == "(- -5)");
    CHECK(TreeOf("a - -5") == "(- a -5)");
    CHECK(TreeOf("-(a + b)") == "(- (+ a b))");
    CHECK(TreeOf("a in [1, 2] or b") == "(or (in a [1 2]) b)");
    CHECK(TreeOf("a + 1 in b") == "(in (+ a 1) b)");
    CHECK(TreeOf("(a < b) == c") == "(== (< a b) c)");
    CHECK(TreeOf("a == (not b)") == "(== a (not b))");
    CHECK(TreeOf("x not in y or z") == "(or (not (in x y)) z)");
}

TEST_CASE("expression: canonical re-print") {
    const std::vector<std::pair<std::string, std::string>> cases{
        {"form.reading_days>=7", "form.reading_days >= 7"},
        {"a  or(b and c)", "a or b and c"},
        {"(a or b) and c", "(a or b) and c"},
        {"not(a or b)", "not (a or b)"},
        {"not (a == b)", "not a == b"},
        {"a - (b - c)", "a - (b - c)"},
        {"(a - b) - c", "a - b - c"},
        {"-(-5)", "--5"},
        {"-0", "-0"},  // an integer zero has no sign of its own, so it is not folded
        {"--0", "--0"},
        {"-0.0", "-0.0"},
        {"-(a)", "-a"},
        {"(-a) * b", "-a * b"},
        {"-(a * b)", "-(a * b)"},
        {"a == (b == c)", "a == (b == c)"},
        {"(a == b) == c", "(a == b) == c"},
        {"a == (not b)", "a == (not b)"},
        {"x not in [1,2]", "not x in [1, 2]"},
        {"80%", "0.8"},
        {"2.50", "2.5"},
        {"1.0", "1.0"},
        {"\"it's\"", R"('it\'s')"},
        {"'a\\nb'", R"('a\nb')"},
        {"len( [ 1 , 2 , ] )", "len([1, 2])"},
        {"unit.category in ['乡镇', \"部门\"]", "unit.category in ['乡镇', '部门']"},
        {"days_between(form.start,now())>=30", "days_between(form.start, now()) >= 30"},
    };
    for (const auto& [text, canonical] : cases) {
        INFO(text);
        const auto expression = Parse(text);
        const std::string printed = ToSource(*expression);
        CHECK(printed == canonical);
        CHECK(Tree(*Parse(printed)) == Tree(*expression));  // the re-print means the same
    }
}

// ---- syntax errors ----------------------------------------------------------

TEST_CASE("expression: syntax errors") {
    CHECK(ParseProblems("") == Problems{"0 syntax: expression is empty"});
    CHECK(ParseProblems("   ") == Problems{"0 syntax: expression is empty"});
    CHECK(ParseProblems("a +") == Problems{"3 syntax: expected a value after '+'"});
    CHECK(ParseProblems("a + )") == Problems{"4 syntax: expected a value but found ')'"});
    CHECK(ParseProblems("a b") ==
          Problems{"2 syntax: expected an operator but found 'b' [is an operator missing? combine conditions with "
                   "'and' or 'or']"});
    CHECK(ParseProblems("a)") == Problems{"1 syntax: unmatched ')'"});
    CHECK(ParseProblems("(a") == Problems{"0 syntax: missing ')' to close this '('"});
    CHECK(ParseProblems("(a b)") ==
          Problems{"3 syntax: expected ')' but found 'b' [is an operator missing? combine conditions with 'and' or "
                   "'or']"});
    CHECK(ParseProblems("[1, 2") == Problems{"0 syntax: missing ']' to close this '['"});
    CHECK(ParseProblems("len(1 2)") ==
          Problems{"6 syntax: expected ',' or ')' but found '2' [is an operator missing? combine conditions with "
                   "'and' or 'or']"});
    CHECK(ParseProblems("len(1,)") == Problems{"6 syntax: expected a value but found ')'"});
    CHECK(ParseProblems("form.") == Problems{"5 syntax: expected a field name after '.' but found the end of the "
                                             "expression"});
    CHECK(ParseProblems("form.len(x)") ==
          Problems{"0 syntax: 'form.len' is not a function [functions are called by name alone, e.g. "
                   "len(form.items)]"});
    CHECK(ParseProblems("a < b < c") ==
          Problems{"6 syntax: comparisons cannot be chained [combine them with 'and', e.g. 'a < b and b < c']"});
    CHECK(ParseProblems("a == b in c") ==
          Problems{"7 syntax: comparisons cannot be chained [combine them with 'and', e.g. 'a < b and b < c']"});
    CHECK(ParseProblems("a == not b") == Problems{"5 syntax: 'not' must be inside parentheses here [write '(not "
                                                  "...)']"});
    CHECK(ParseProblems("- not a") == Problems{"2 syntax: 'not' must be inside parentheses here [write '(not "
                                               "...)']"});
    CHECK(ParseProblems("a not b") == Problems{"2 syntax: expected an operator but found 'not'"});
    CHECK(ParseProblems("and") == Problems{"0 syntax: expected a value but found 'and'"});
    CHECK(ParseProblems("'abc") == Problems{"0 syntax: unterminated string [add a closing ' at the end of the text]"});
    CHECK(ParseProblems("\"abc'") ==
          Problems{"0 syntax: unterminated string [add a closing \" at the end of the text]"});
    CHECK(ParseProblems("a # b") == Problems{"2 syntax: unexpected character '#'"});
    CHECK(ParseProblems("a\x01") == Problems{"1 syntax: unexpected control character U+0001"});
    CHECK(ParseProblems("a == \xff") == Problems{"5 syntax: text is not valid UTF-8 [save the workflow file as "
                                                 "UTF-8]"});
    CHECK(ParseProblems("'\xc3\x28'") ==
          Problems{"1 bad-literal: string is not valid UTF-8 [save the workflow file as UTF-8]"});
    CHECK(ParseProblems("'\xed\xa0\x80'") ==  // an encoded surrogate
          Problems{"1 bad-literal: string is not valid UTF-8 [save the workflow file as UTF-8]"});
}

TEST_CASE("expression: operators from other languages get a hint") {
    CHECK(ParseProblems("a && b") == Problems{"2 syntax: '&&' is not an operator [use 'and']"});
    CHECK(ParseProblems("a & b") == Problems{"2 syntax: '&' is not an operator [use 'and']"});
    CHECK(ParseProblems("a || b") == Problems{"2 syntax: '||' is not an operator [use 'or']"});
    CHECK(ParseProblems("!a") == Problems{"0 syntax: '!' is not an operator [use 'not']"});
    CHECK(ParseProblems("a = 1") == Problems{"2 syntax: '=' is not an operator [use '==' to compare]"});
    CHECK(ParseProblems("a <> 1") == Problems{"2 syntax: '<>' is not an operator [use '!=']"});
    CHECK(ParseProblems("a => 1") == Problems{"2 syntax: '=>' is not an operator [use '>=']"});
    CHECK(ParseProblems("a =< 1") == Problems{"2 syntax: '=<' is not an operator [use '<=']"});
    // Parsing continues after each, so all are reported in one pass.
    CHECK(ParseProblems("a = 1 && !b || c = 2") == Problems{
                                                       "2 syntax: '=' is not an operator [use '==' to compare]",
                                                       "6 syntax: '&&' is not an operator [use 'and']",
                                                       "9 syntax: '!' is not an operator [use 'not']",
                                                       "12 syntax: '||' is not an operator [use 'or']",
                                                       "17 syntax: '=' is not an operator [use '==' to compare]",
                                                   });
    CHECK(ParseProblems("a = 1 +") ==
          Problems{"2 syntax: '=' is not an operator [use '==' to compare]", "7 syntax: expected a value after '+'"});
}

TEST_CASE("expression: full-width characters and unquoted text") {
    CHECK(ParseProblems("form.reading_days ＞= 7") ==
          Problems{"18 syntax: unexpected character '＞' [use '>' instead of '＞']"});
    CHECK(ParseProblems("（a）") == Problems{"0 syntax: unexpected character '（' [use '(' instead of '（']"});
    CHECK(ParseProblems("a ≥ 1") == Problems{"2 syntax: unexpected character '≥' [use '>=' instead of '≥']"});
    CHECK(ParseProblems("a\u3000== 1") ==
          Problems{"1 syntax: unexpected character '\u3000' [this is a full-width space; use an ordinary space]"});
    CHECK(ParseProblems("unit.category == 乡镇") ==
          Problems{"17 syntax: unexpected character '乡' [names use ASCII letters, digits and '_'; write text in "
                   "quotes: '乡镇']"});
}

TEST_CASE("expression: bad literals") {
    CHECK(ParseProblems("9223372036854775808") ==
          Problems{"0 bad-literal: integer '9223372036854775808' is too large [integers range from "
                   "-9223372036854775808 to 9223372036854775807]"});
    CHECK(ParseProblems("1 + 99999999999999999999999") ==
          Problems{"4 bad-literal: integer '99999999999999999999999' is too large [integers range from "
                   "-9223372036854775808 to 9223372036854775807]"});
    CHECK(ParseProblems("-9223372036854775809") ==
          Problems{"1 bad-literal: integer '9223372036854775809' is too large [integers range from "
                   "-9223372036854775808 to 9223372036854775807]"});
    CHECK(ParseProblems("7days") == Problems{"0 bad-literal: '7days' is not a number [write numbers like 7, 2.5 or "
                                             "80%, and durations like duration('7 days')]"});
    CHECK(ParseProblems("a > 1e5") == Problems{"4 bad-literal: '1e5' is not a number [write numbers like 7, 2.5 or "
                                               "80%, and durations like duration('7 days')]"});
    CHECK(ParseProblems(R"('a\qb')") ==
          Problems{R"(2 bad-literal: unknown escape '\q' in string [the escapes are \\, \', \" and \n; write \\ for )"
                   R"(a backslash])"});
    const std::string huge = "1" + std::string(400, '0') + ".5";
    CHECK(ParseProblems(huge) == Problems{"0 bad-literal: number '10000000000000000000...' is out of range"});
}

// ---- limits -----------------------------------------------------------------

TEST_CASE("expression: too long") {
    const std::string long_text = "a" + std::string(4095, ' ') + "+";  // 4097 bytes
    CHECK(ParseProblems(long_text) ==
          Problems{"0 too-long: expression is too long (4097 bytes; the limit is 4096) [split it into simpler "
                   "conditions]"});
    CHECK(ParseProblems("a + b", ExpressionLimits{4, 64}) ==
          Problems{"0 too-long: expression is too long (5 bytes; the limit is 4) [split it into simpler "
                   "conditions]"});
    CHECK(ParseProblems(std::string(4096, '1')) ==
          Problems{"0 bad-literal: integer '11111111111111111111...' is too large [integers range from "
                   "-9223372036854775808 to 9223372036854775807]"});
}

TEST_CASE("expression: deep nesting is refused without exhausting the stack") {
    const ExpressionLimits roomy{1000000, 64};
    const std::string too_deep =
        "too-deep: expression is nested too deeply (more than 64 levels) [split it into "
        "simpler conditions]";
    const auto only_too_deep = [&](const std::string& text) {
        const auto problems = ParseProblems(text, roomy);
        REQUIRE(problems.size() == 1);
        CHECK(problems.front().find(too_deep) != std::string::npos);
    };
    only_too_deep(std::string(100000, '('));
    only_too_deep(std::string(100000, '(') + "1" + std::string(100000, ')'));
    only_too_deep(std::string(100000, '[') + "1");
    only_too_deep(std::string(100000, '-') + "a");
    // Each '!' is a recoverable mistake; reporting stops after twenty.
    CHECK(ParseProblems(std::string(50000, '!') + "a", roomy).size() == 20);
    std::string nots;
    std::string calls;
    std::string chain = "1";
    for (int i = 0; i < 30000; ++i) {
        nots += "not ";
        calls += "len(";
        chain += "+1";
    }
    only_too_deep(nots + "a");
    only_too_deep(calls + "x");
    only_too_deep(chain);  // a long operator chain is a deep tree

    // The error points at what would be the 65th level (the whole expression is the first).
    CHECK(ParseProblems(std::string(100, '(') + "1" + std::string(100, ')'), roomy) == Problems{"64 " + too_deep});

    // Reasonable nesting is fine, and the limit is configurable.
    Parse(std::string(40, '(') + "a" + std::string(40, ')'));
    Parse("a or b or c or d or e or f or g or h or i or j or k or l or m or n or o or p");
    const std::string hundred = std::string(100, '(') + "1" + std::string(100, ')');
    CHECK(ParseProblems(hundred, ExpressionLimits{4096, 128}).empty());
}

TEST_CASE("expression: parsing time is linear") {
    // 4096 bytes of the most branching valid input parse quickly.
    std::string text = "a";
    while (text.size() + 6 < 4096) {
        text += " or (b)";
    }
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 20; ++i) {
        ParseExpression(text, ExpressionLimits{4096, 4096});
    }
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
}

// ---- type checking ----------------------------------------------------------

TEST_CASE("expression: TypeScope") {
    TypeScope scope;
    scope.Define("form.reading_days", Type::Of(TypeKind::integer));
    scope.Define("form.address.city", Type::Of(TypeKind::string));
    scope.Define("unit.category", Type::Choice({"a", "b"}));
    REQUIRE(scope.Find("form.reading_days") != nullptr);
    CHECK(*scope.Find("form.reading_days") == Type::Of(TypeKind::integer));
    CHECK(scope.Find("unit.category")->choices == std::vector<std::string>{"a", "b"});
    CHECK(scope.Find("form") == nullptr);
    CHECK(scope.Find("form.address") == nullptr);
    CHECK(scope.Find("nothing") == nullptr);
    CHECK(scope.IsNamespace("form"));
    CHECK(scope.IsNamespace("form.address"));
    CHECK_FALSE(scope.IsNamespace("form.reading_days"));
    CHECK_FALSE(scope.IsNamespace(""));
    CHECK_FALSE(scope.IsNamespace("for"));
    CHECK(scope.Children("") == std::vector<std::string>{"form", "unit"});
    CHECK(scope.Children("form") == std::vector<std::string>{"address", "reading_days"});
    CHECK(scope.Children("form.address") == std::vector<std::string>{"city"});
    CHECK(scope.Children("nothing").empty());
    CHECK(scope.Paths() == std::vector<std::string>{"form.address.city", "form.reading_days", "unit.category"});
    scope.Define("form.reading_days", Type::Of(TypeKind::number));  // redefining replaces
    CHECK(*scope.Find("form.reading_days") == Type::Of(TypeKind::number));
}

TEST_CASE("expression: types of well-typed expressions") {
    const std::vector<std::pair<std::string, std::string>> cases{
        {"1 + 2", "integer"},
        {"1 + 2.5", "number"},
        {"7 / 2", "number"},
        {"7 % 2", "integer"},
        {"7.5 % 2", "number"},
        {"2 * 3", "integer"},
        {"-form.reading_days", "integer"},
        {"-form.score", "number"},
        {"form.score * form.reading_days", "number"},
        {"form.start + vars.period", "date"},
        {"vars.period + form.start", "date"},
        {"form.start - duration('P7D')", "date"},
        {"len(form.note)", "integer"},
        {"len(form.tags)", "integer"},
        {"days_between(form.start, now())", "integer"},
        {"working_days_between(form.start, vars.deadline)", "integer"},
        {"min(1, 2)", "integer"},
        {"max(1, 2.5)", "number"},
        {"min(form.start, vars.deadline)", "date"},
        {"round(form.score)", "integer"},
        {"date('2023-12-31')", "date"},
        {"duration('10 working days')", "duration"},
        {"duration('10个工作日')", "duration"},
        {"now()", "date"},
        {"[1, 2.5]", "list<number>"},
        {"['a', null]", "list<string>"},
        {"[null]", "list<null>"},
        {"[]", "list"},
        {"[[1], [2]]", "list<list>"},
        {"form.tags", "list<string>"},
        {"unit.category", "string"},
        {"null", "null"},
        {"'x' in form.note", "boolean"},
        {"'a' in form.tags", "boolean"},
        {"not form.agreed", "boolean"},
        {"form.reading_days == 1.5", "boolean"},
        {"form.missing == null", "boolean"},
        {"null != form.start", "boolean"},
        {"form.start < vars.deadline", "boolean"},
        {"vars.period >= duration('P3D')", "boolean"},
        {"form.note < 'b'", "boolean"},
        {"[1, 2] == [1.0, 2.0]", "boolean"},
        {"form.agreed and (problems.open > 0 or not form.agreed)", "boolean"},
    };
    for (const auto& [text, type] : cases) {
        INFO(text);
        CHECK(TypeOf(text) == type);
    }
}

TEST_CASE("expression: every node gets a type") {
    auto expression = Parse("len(form.tags) + 1 > form.score and form.agreed");
    REQUIRE(CheckExpression(*expression, SampleScope(), TypeKind::boolean).empty());
    const auto& top = std::get<BinaryNode>(expression->node);
    CHECK(expression->type == Type::Of(TypeKind::boolean));
    const auto& comparison = std::get<BinaryNode>(top.left->node);
    CHECK(top.left->type == Type::Of(TypeKind::boolean));
    CHECK(top.right->type == Type::Of(TypeKind::boolean));
    const auto& sum = std::get<BinaryNode>(comparison.left->node);
    CHECK(comparison.left->type == Type::Of(TypeKind::integer));
    CHECK(comparison.right->type == Type::Of(TypeKind::number));
    CHECK(sum.left->type == Type::Of(TypeKind::integer));
    CHECK(std::get<CallNode>(sum.left->node).arguments[0]->type == Type::ListOf(TypeKind::string));

    auto choice = Parse("unit.category");
    CheckExpression(*choice, SampleScope(), TypeKind::unknown);
    CHECK(choice->type == Type::Choice(Categories()));
}

TEST_CASE("expression: type mismatches name both types and point at the operator") {
    CHECK(CheckProblems("form.start < 7") ==
          Problems{"11 type-mismatch: cannot compare date with integer [to count days between dates, use "
                   "days_between(from, to)]"});
    CHECK(CheckProblems("form.start < '2023-12-31'") ==
          Problems{"11 type-mismatch: cannot compare date with string [write date('2023-12-31') for a fixed date]"});
    CHECK(CheckProblems("vars.period == 'P7D'") ==
          Problems{"12 type-mismatch: cannot compare duration with string [write duration('P7D') for a fixed "
                   "duration]"});
    CHECK(CheckProblems("vars.period > 7") ==
          Problems{"12 type-mismatch: cannot compare duration with integer [write a duration as duration('P7D') or "
                   "duration('10 working days')]"});
    CHECK(CheckProblems("form.agreed == 'true'") ==
          Problems{"12 type-mismatch: cannot compare boolean with string [write true without quotes]"});
    CHECK(CheckProblems("form.reading_days > '7'") ==
          Problems{"18 type-mismatch: cannot compare integer with string [write numbers without quotes]"});
    CHECK(CheckProblems("form.reading_days < null") ==
          Problems{"18 type-mismatch: cannot compare integer with null [only '==' and '!=' can compare with null]"});
    CHECK(CheckProblems("form.agreed < true") == Problems{"12 type-mismatch: cannot compare boolean with boolean"});
    CHECK(CheckProblems("form.tags == [1]") ==
          Problems{"10 type-mismatch: cannot compare list<string> with list<integer>"});
    CHECK(CheckProblems("form.reading_days and form.agreed") ==
          Problems{"18 type-mismatch: 'and' needs a boolean on its left, but this is integer [compare it with a "
                   "value first]"});
    CHECK(CheckProblems("form.agreed or form.start") ==
          Problems{"12 type-mismatch: 'or' needs a boolean on its right, but this is date"});
    CHECK(CheckProblems("not form.note") == Problems{"0 type-mismatch: 'not' needs a boolean, but this is string"});
    CHECK(CheckProblems("-form.note == 1") == Problems{"0 type-mismatch: cannot negate string"});
    CHECK(CheckProblems("form.start - form.finished > 0") ==
          Problems{"11 type-mismatch: cannot subtract date from date [use days_between(form.finished, form.start) "
                   "for the number of days between two dates]"});
    CHECK(CheckProblems("form.start + 7 > now()") ==
          Problems{"11 type-mismatch: cannot add date and integer [to move a date, add or subtract a duration, e.g. "
                   "duration('P7D')]"});
    CHECK(CheckProblems("vars.period - form.start == now()") ==
          Problems{"12 type-mismatch: cannot subtract date from duration [to move a date, add or subtract a "
                   "duration, e.g. duration('P7D')]"});
    CHECK(CheckProblems("'a' * 2 == 1") == Problems{"4 type-mismatch: cannot multiply string by integer"});
    CHECK(CheckProblems("form.note / 2 == 1") == Problems{"10 type-mismatch: cannot divide string by integer"});
    CHECK(CheckProblems("form.note % 2 == 1") ==
          Problems{"10 type-mismatch: cannot take the remainder of string divided by integer"});
    CHECK(CheckProblems("form.note + 'x' == 'y'") == Problems{"10 type-mismatch: cannot add string and string"});
    CHECK(CheckProblems("form.reading_days in form.note") ==
          Problems{"18 type-mismatch: 'in' with a string on its right looks for text, but the left side is integer"});
    CHECK(CheckProblems("1 in 2") ==
          Problems{"2 type-mismatch: 'in' needs a list or a string on its right, but this is integer [to test for "
                   "equality, use '==']"});
    CHECK(CheckProblems("form.reading_days in form.tags") ==
          Problems{"18 type-mismatch: cannot look for integer in list<string>"});
    CHECK(CheckProblems("form.note in [1, 2]") == Problems{"10 type-mismatch: cannot look for string in "
                                                           "list<integer>"});
    CHECK(CheckProblems("1 in [1, 'a']") ==
          Problems{"9 type-mismatch: list items must all have the same type, but this is string and the first is "
                   "integer"});
}

TEST_CASE("expression: function argument errors") {
    CHECK(CheckProblems("len(5) > 1") == Problems{"4 type-mismatch: len() needs a string or a list, but this is "
                                                  "integer"});
    CHECK(CheckProblems("len(null) > 1") == Problems{"4 type-mismatch: len() needs a string or a list, but this is "
                                                     "null"});
    CHECK(CheckProblems("days_between('2023-01-01', now()) > 1") ==
          Problems{"13 type-mismatch: days_between() needs a date as argument 1, but this is string [write "
                   "date('2023-01-01') for a fixed date]"});
    CHECK(CheckProblems("working_days_between(now(), 3) > 1") ==
          Problems{"28 type-mismatch: working_days_between() needs a date as argument 2, but this is integer"});
    CHECK(CheckProblems("round('x') > 1") == Problems{"6 type-mismatch: round() needs a number, but this is string"});
    CHECK(CheckProblems("min(1, form.start) > 1") ==
          Problems{"7 type-mismatch: min() cannot compare integer with date"});
    CHECK(CheckProblems("max('a', 1) > 1") ==
          Problems{"4 type-mismatch: max() needs numbers or dates, but this is string"});
}

TEST_CASE("expression: unknown names and fields") {
    CHECK(CheckProblems("form.readng_days >= 7") ==
          Problems{"5 unknown-field: unknown field 'readng_days' in 'form' [did you mean 'form.reading_days'?]"});
    CHECK(CheckProblems("reading_days >= 7") ==
          Problems{"0 unknown-name: unknown name 'reading_days' [did you mean 'form.reading_days'?]"});
    CHECK(CheckProblems("frm.reading_days >= 7") ==
          Problems{"0 unknown-name: unknown name 'frm' [did you mean 'form.reading_days'?]"});
    CHECK(CheckProblems("frm.xyz >= 7") == Problems{"0 unknown-name: unknown name 'frm' [did you mean 'form'?]"});
    CHECK(CheckProblems("xyz > 1") ==
          Problems{"0 unknown-name: unknown name 'xyz' [names start with one of: form, problems, unit, vars]"});
    CHECK(CheckProblems("True") == Problems{"0 unknown-name: unknown name 'True' [write 'true' in lower case]"});
    CHECK(CheckProblems("now > form.start") ==
          Problems{"0 unknown-name: unknown name 'now' [did you mean 'now()'? functions need parentheses]"});
    CHECK(CheckProblems("form > 1") ==
          Problems{"0 unknown-name: 'form' is a group of fields, not a value [use one of its fields, e.g. "
                   "'form.agreed']"});
    CHECK(CheckProblems("form.reading_days.x > 1") ==
          Problems{"18 unknown-field: 'form.reading_days' is an integer and has no field 'x'"});
    CHECK(CheckProblems("problems.zzz > 1") ==
          Problems{"9 unknown-field: unknown field 'zzz' in 'problems' ['problems' has: open]"});

    TypeScope nested;
    nested.Define("form.address.city", Type::Of(TypeKind::string));
    auto expression = Parse("form.address == 'x'");
    CHECK(Show(CheckExpression(*expression, nested, TypeKind::boolean)) ==
          Problems{"0 unknown-field: 'form.address' is a group of fields, not a value [use one of its fields, e.g. "
                   "'form.address.city']"});
    expression = Parse("form.adress.city == 'x'");
    CHECK(Show(CheckExpression(*expression, nested, TypeKind::boolean)) ==
          Problems{"5 unknown-field: unknown field 'adress' in 'form' [did you mean 'form.address.city'?]"});
}

TEST_CASE("expression: all errors are reported, without cascades") {
    // An unknown operand makes its parent unknown, which is compatible with anything.
    const auto single = CheckProblems("form.nope + 1 > form.start");
    REQUIRE(single.size() == 1);
    CHECK(single[0].rfind("5 unknown-field: unknown field 'nope' in 'form'", 0) == 0);
    const auto problems = CheckProblems("form.a > 1 and lenn(form.tags) > 0 and form.start < 3 and not 5");
    REQUIRE(problems.size() == 4);
    CHECK(problems[0].rfind("5 unknown-field: unknown field 'a' in 'form'", 0) == 0);
    CHECK(problems[1] == "15 unknown-function: unknown function 'lenn' [did you mean 'len'?]");
    CHECK(problems[2] ==
          "50 type-mismatch: cannot compare date with integer [to count days between dates, use "
          "days_between(from, to)]");
    CHECK(problems[3] == "58 type-mismatch: 'not' needs a boolean, but this is integer");
    // A failed comparison is still boolean, so 'and' does not complain again.
    CHECK(CheckProblems("(form.start < 7) and true") ==
          Problems{"12 type-mismatch: cannot compare date with integer [to count days between dates, use "
                   "days_between(from, to)]"});
}

TEST_CASE("expression: unknown functions and wrong arity") {
    CHECK(CheckProblems("lens(form.note) > 1") ==
          Problems{"0 unknown-function: unknown function 'lens' [did you mean 'len'?]"});
    CHECK(CheckProblems("foo()") ==
          Problems{"0 unknown-function: unknown function 'foo' [the functions are: date, days_between, duration, "
                   "len, max, min, now, round, working_days_between]"});
    CHECK(CheckProblems("len() > 1") ==
          Problems{"0 wrong-arity: len() takes 1 argument, but 0 were given [usage: len(text or list)]"});
    CHECK(CheckProblems("now(1) > form.start") ==
          Problems{"0 wrong-arity: now() takes no arguments, but 1 was given [usage: now()]"});
    CHECK(CheckProblems("days_between(now()) > 1") ==
          Problems{"0 wrong-arity: days_between() takes 2 arguments, but 1 was given [usage: days_between(from, "
                   "to)]"});
    CHECK(CheckProblems("min(1, 2, 3) > 1") ==
          Problems{"0 wrong-arity: min() takes 2 arguments, but 3 were given [usage: min(a, b)]"});
    CHECK(cascade::lang::FunctionNames() == std::vector<std::string>{"date", "days_between", "duration", "len", "max",
                                                                     "min", "now", "round", "working_days_between"});
}

TEST_CASE("expression: date and duration literals are checked at validate time") {
    CHECK(CheckProblems("date('2023-02-30') < now()") ==
          Problems{"5 bad-literal: '2023-02-30' is not a valid date [write dates as YYYY-MM-DD, e.g. '2023-12-31']"});
    CHECK(CheckProblems("date('2023/12/31') < now()") ==
          Problems{"5 bad-literal: '2023/12/31' is not a valid date [write dates as YYYY-MM-DD, e.g. '2023-12-31']"});
    CHECK(CheckProblems("date(form.note) < now()") ==
          Problems{"5 bad-literal: date() needs a quoted date such as '2023-12-31', not an expression"});
    CHECK(CheckProblems("date(form.start) < now()") ==
          Problems{"5 bad-literal: date() needs a quoted date such as '2023-12-31', not an expression ['form.start' "
                   "is already a date; write it without date()]"});
    CHECK(CheckProblems("duration('7 dayz') > vars.period") ==
          Problems{"9 bad-literal: '7 dayz' is not a valid duration [write durations like 'P7D', '3 days', '2 "
                   "weeks' or '10 working days']"});
    CHECK(CheckProblems("duration(7) > vars.period") ==
          Problems{"9 bad-literal: duration() needs a quoted duration such as 'P7D', not an expression"});
    CHECK(CheckProblems("date('2023-12-31') > now() and duration('P2W') > vars.period").empty());
}

TEST_CASE("expression: values are checked against closed choices") {
    CHECK(CheckProblems("unit.category == 'enterprize'") ==
          Problems{"17 unknown-choice: 'enterprize' is not one of: county, township, department, enterprise [did "
                   "you mean 'enterprise'?]"});
    CHECK(CheckProblems("'enterprize' != unit.category") ==
          Problems{"0 unknown-choice: 'enterprize' is not one of: county, township, department, enterprise [did you "
                   "mean 'enterprise'?]"});
    CHECK(CheckProblems("unit.category in ['township', 'departmnt', 'school']") ==
          Problems{"30 unknown-choice: 'departmnt' is not one of: county, township, department, enterprise [did you "
                   "mean 'department'?]",
                   "43 unknown-choice: 'school' is not one of: county, township, department, enterprise"});
    CHECK(CheckProblems("'partty' in form.topics") ==
          Problems{"0 unknown-choice: 'partty' is not one of: party, economy [did you mean 'party'?]"});
    CHECK(CheckProblems("unit.category == 'township' or unit.category in ['county', 'department']").empty());
    CHECK(CheckProblems("'party' in form.topics").empty());
    CHECK(CheckProblems("unit.category < 'zzz'").empty());  // ordering is not a membership test
    CHECK(CheckProblems("unit.category == unit.name").empty());
}

TEST_CASE("expression: the result must have the expected type") {
    CHECK(CheckProblems("form.reading_days") ==
          Problems{"0 not-boolean: expression must be a boolean (true/false), but this is integer [compare it with a "
                   "value, e.g. 'form.reading_days > 0']"});
    CHECK(CheckProblems("unit.category") ==
          Problems{"0 not-boolean: expression must be a boolean (true/false), but this is string [compare it with a "
                   "value, e.g. 'unit.category == ...']"});
    CHECK(CheckProblems("form.tags") ==
          Problems{"0 not-boolean: expression must be a boolean (true/false), but this is list<string> [to test for "
                   "items, write 'len(form.tags) > 0']"});
    CHECK(CheckProblems("form.start") ==
          Problems{"0 not-boolean: expression must be a boolean (true/false), but this is date [compare it with "
                   "another date, e.g. 'form.start <= now()']"});
    CHECK(CheckProblems("null") == Problems{"0 not-boolean: expression must be a boolean (true/false), but this is "
                                            "null"});
    CHECK(CheckProblems("form.reading_days", TypeKind::unknown).empty());
    CHECK(CheckProblems("form.reading_days", TypeKind::number).empty());
    CHECK(CheckProblems("form.reading_days", TypeKind::integer).empty());
    CHECK(CheckProblems("form.reading_days", TypeKind::date) ==
          Problems{"0 type-mismatch: expression must be a date, but this is integer"});
    CHECK(CheckProblems("form.nope").size() == 1);  // no second error for an unknown result
}

// ---- evaluation -------------------------------------------------------------

TEST_CASE("expression: arithmetic") {
    CHECK(Eval("1 + 2") == Int(3));
    CHECK(Eval("1 + 2 * 3") == Int(7));
    CHECK(Eval("(1 + 2) * 3") == Int(9));
    CHECK(Eval("10 - 2 - 3") == Int(5));
    CHECK(Eval("7 / 2") == Num(3.5));
    CHECK(Eval("6 / 3") == Num(2.0));
    CHECK(Eval("7 % 3") == Int(1));
    CHECK(Eval("-7 % 3") == Int(-1));
    CHECK(Eval("7 % -3") == Int(1));
    CHECK(Eval("-9223372036854775808 % -1") == Int(0));
    CHECK(Eval("7.5 % 2") == Num(1.5));
    CHECK(Eval("2.5 * 2") == Num(5.0));
    CHECK(Eval("1 + 0.5") == Num(1.5));
    CHECK(Eval("-form.reading_days") == Int(-5));
    CHECK(Eval("-form.score") == Num(-2.5));
    CHECK(Eval("--5") == Int(5));
    CHECK(Eval("form.reading_days * 2 + problems.open") == Int(13));
    CHECK(Eval("form.score * 2") == Num(5.0));
    CHECK(Eval("form.start + vars.period") == DateValue("2023-09-08"));
    CHECK(Eval("vars.period + form.start") == DateValue("2023-09-08"));
    CHECK(Eval("form.start - duration('2 weeks')") == DateValue("2023-08-18"));
}

TEST_CASE("expression: evaluation errors") {
    CHECK(EvalError("1 / 0") == "2: division by zero");
    CHECK(EvalError("1 % 0") == "2: division by zero");
    CHECK(EvalError("1.5 / 0") == "4: division by zero");
    CHECK(EvalError("1.5 % 0.0") == "4: division by zero");
    CHECK(EvalError("problems.open / (problems.open - 3)") == "14: division by zero");
    CHECK(EvalError("9223372036854775807 + 1") == "20: integer overflow");
    CHECK(EvalError("-9223372036854775808 - 1") == "21: integer overflow");
    CHECK(EvalError("9223372036854775807 * 2") == "20: integer overflow");
    CHECK(EvalError("-(-9223372036854775808)") == "0: integer overflow");
    CHECK(EvalError("vars.unknown > 1") == "0: no value is known for 'vars.unknown'");
    CHECK(EvalError("date('9999-12-31') + duration('P1D') > now()") == "19: date is out of range (years 0 to 9999)");
    CHECK(EvalError("date('0000-01-01') - vars.period > now()") == "19: date is out of range (years 0 to 9999)");
    CHECK(EvalError("vars.period > duration('3 working days')") ==
          "12: cannot compare a duration in calendar days with one in working days");
}

TEST_CASE("expression: comparisons and membership") {
    CHECK(Eval("1 == 1.0") == Bool(true));
    CHECK(Eval("1 != 1.5") == Bool(true));
    CHECK(Eval("9007199254740993 == 9007199254740992.0") == Bool(false));  // exact, not via double
    CHECK(Eval("9007199254740993 > 9007199254740992.0") == Bool(true));
    CHECK(Eval("-1 < -0.5") == Bool(true));
    CHECK(Eval("2 <= 2") == Bool(true));
    CHECK(Eval("2 >= 2.5") == Bool(false));
    CHECK(Eval("3 > 2") == Bool(true));
    CHECK(Eval("'abc' < 'abd'") == Bool(true));
    CHECK(Eval("'b' > 'abc'") == Bool(true));
    CHECK(Eval("form.start < vars.deadline") == Bool(true));
    CHECK(Eval("form.start >= vars.deadline") == Bool(false));
    CHECK(Eval("vars.period == duration('P7D')") == Bool(true));
    CHECK(Eval("vars.period == duration('1 week')") == Bool(true));
    CHECK(Eval("vars.period == duration('7 working days')") == Bool(false));
    CHECK(Eval("vars.period < duration('P8D')") == Bool(true));
    CHECK(Eval("[1, 2] == [1, 2.0]") == Bool(true));
    CHECK(Eval("[1, 2] == [2, 1]") == Bool(false));
    CHECK(Eval("form.agreed == true") == Bool(true));
    CHECK(Eval("unit.category == 'township'") == Bool(true));
    CHECK(Eval("unit.category in ['county', 'township']") == Bool(true));
    CHECK(Eval("unit.category not in ['county', 'township']") == Bool(false));
    CHECK(Eval("2 in [1, 2.0]") == Bool(true));
    CHECK(Eval("3 in [1, 2]") == Bool(false));
    CHECK(Eval("'a' in form.tags") == Bool(true));
    CHECK(Eval("'笔记' in form.note") == Bool(true));
    CHECK(Eval("'' in form.note") == Bool(true));
    CHECK(Eval("'x' in form.note") == Bool(false));
    CHECK(Eval("0.1 + 0.2 == 0.3") == Bool(false));
    CHECK(Eval("form.score == 250%") == Bool(true));
    CHECK(Eval("vars.target == 80%") == Bool(true));
}

TEST_CASE("expression: logic and short-circuit evaluation") {
    CHECK(Eval("true and false") == Bool(false));
    CHECK(Eval("true or false") == Bool(true));
    CHECK(Eval("not true") == Bool(false));
    CHECK(Eval("not false and true") == Bool(true));
    // The right side is never evaluated, so its missing value does no harm.
    CHECK(Eval("false and vars.unknown > 1") == Bool(false));
    CHECK(Eval("true or vars.unknown > 1") == Bool(true));
    CHECK(Eval("false and 1 / 0 > 1") == Bool(false));
    CHECK(EvalError("true and vars.unknown > 1") == "9: no value is known for 'vars.unknown'");
}

TEST_CASE("expression: null semantics") {
    // A missing optional field compares false and never fails...
    CHECK(Eval("form.missing >= 7") == Bool(false));
    CHECK(Eval("form.missing < 7") == Bool(false));
    CHECK(Eval("form.missing == 1") == Bool(false));
    CHECK(Eval("not (form.missing >= 7)") == Bool(true));
    // ...while '==' and '!=' can test for it.
    CHECK(Eval("form.missing == null") == Bool(true));
    CHECK(Eval("form.missing != null") == Bool(false));
    CHECK(Eval("form.reading_days != null") == Bool(true));
    CHECK(Eval("form.missing != 1") == Bool(true));
    CHECK(Eval("null == null") == Bool(true));
    // Arithmetic and functions of null are null.
    CHECK(Eval("form.missing + 1") == Value{});
    CHECK(Eval("-form.missing") == Value{});
    CHECK(Eval("form.missing * 2 > 1") == Bool(false));
    CHECK(Eval("len(form.missing_note)") == Value{});
    CHECK(Eval("len(form.missing_list) == null") == Bool(true));
    CHECK(Eval("min(form.missing, 1)") == Value{});
    // In a boolean position null counts as false.
    CHECK(Eval("form.missing_flag") == Value{});
    CHECK(Eval("not form.missing_flag") == Bool(true));
    CHECK(Eval("form.missing_flag and true") == Bool(false));
    CHECK(Eval("form.missing_flag or true") == Bool(true));
    CHECK(Eval("form.missing in [1, 2]") == Bool(false));
    CHECK(Eval("form.missing in [1, null]") == Bool(true));
    CHECK(Eval("1 in form.missing_list") == Bool(false));
    CHECK(Eval("form.missing_note in 'abc'") == Bool(false));
    CHECK(Eval("'a' in form.missing_note") == Bool(false));
}

TEST_CASE("expression: functions") {
    CHECK(Eval("len('主题教育')") == Int(4));  // characters, not bytes
    CHECK(Eval("len('')") == Int(0));
    CHECK(Eval("len(form.tags)") == Int(2));
    CHECK(Eval("len([])") == Int(0));
    CHECK(Eval("now()") == DateValue("2023-12-01"));
    CHECK(Eval("date('2023-12-31')") == DateValue("2023-12-31"));
    CHECK(Eval("duration('10 working days')") == Value{Duration{10, DurationUnit::working_days}});
    CHECK(Eval("days_between(date('2023-12-01'), date('2023-12-31'))") == Int(30));
    CHECK(Eval("days_between(date('2023-12-31'), date('2023-12-01'))") == Int(-30));
    CHECK(Eval("days_between(form.start, now()) >= 30") == Bool(true));
    CHECK(Eval("min(3, 2)") == Int(2));
    CHECK(Eval("max(3, 2)") == Int(3));
    CHECK(Eval("min(3, 2.5)") == Num(2.5));
    CHECK(Eval("max(3, 2.5)") == Num(3.0));  // mixed arguments give a number
    CHECK(Eval("min(form.start, vars.deadline)") == DateValue("2023-09-01"));
    CHECK(Eval("max(form.start, vars.deadline)") == DateValue("2023-12-31"));
    CHECK(Eval("round(2.5)") == Int(3));
    CHECK(Eval("round(-2.5)") == Int(-3));
    CHECK(Eval("round(2.4)") == Int(2));
    CHECK(Eval("round(7)") == Int(7));
    CHECK(Eval("round(form.reading_days / 2)") == Int(3));
}

TEST_CASE("expression: working days") {
    // Without a calendar, working days are Monday to Friday: Fri 1 Dec to Fri 8 Dec is 5.
    CHECK(Eval("working_days_between(date('2023-12-01'), date('2023-12-08'))") == Int(5));
    CHECK(Eval("date('2023-12-01') + duration('10 working days')") == DateValue("2023-12-15"));

    cascade::model::WorkingCalendar calendar;
    calendar.holidays.insert(*Date::Parse("2023-12-04"));             // a Monday
    calendar.makeup_working_days.insert(*Date::Parse("2023-12-09"));  // a Saturday
    // From Friday 2023-12-01 up to (not including) Friday 2023-12-08: Fri, Tue, Wed, Thu.
    CHECK(Eval("working_days_between(date('2023-12-01'), date('2023-12-08'))", &calendar) == Int(4));
    CHECK(Eval("working_days_between(date('2023-12-08'), date('2023-12-01'))", &calendar) == Int(-4));
    CHECK(Eval("working_days_between(now(), now())", &calendar) == Int(0));
    CHECK(Eval("days_between(date('2023-12-01'), date('2023-12-08'))", &calendar) == Int(7));
    CHECK(Eval("date('2023-12-01') + duration('1 working day')", &calendar) == DateValue("2023-12-05"));
    CHECK(Eval("date('2023-12-08') + duration('1 working day')", &calendar) == DateValue("2023-12-09"));
    CHECK(Eval("date('2023-12-05') - duration('1 working day')", &calendar) == DateValue("2023-12-01"));
    CHECK(Eval("date('2023-12-01') + duration('P7D')", &calendar) == DateValue("2023-12-08"));
}

TEST_CASE("expression: the evaluator re-checks runtime types") {
    // Values come from outside; a wrong one is an error, never undefined behaviour.
    EvaluationContext context = SampleContext();
    context.lookup = [](const std::vector<std::string>&) -> std::optional<Value> { return Str("oops"); };
    const auto evaluate = [&](std::string_view text) {
        auto result = cascade::lang::Evaluate(*Parse(text), context);
        const auto* error = std::get_if<EvaluationError>(&result);
        return error == nullptr ? std::string("ok") : std::to_string(error->offset) + ": " + error->message;
    };
    CHECK(evaluate("form.reading_days + 1") == "18: cannot apply '+' to string and integer");
    CHECK(evaluate("form.reading_days > 1") == "18: cannot compare string with integer");
    CHECK(evaluate("form.agreed and true") == "12: 'and' needs a boolean, but this is string");
    CHECK(evaluate("not form.agreed") == "0: 'not' needs a boolean, but this is string");
    CHECK(evaluate("len(form.x)") == "ok");
    CHECK(evaluate("days_between(form.x, now())") ==
          "0: days_between() needs two dates, but these are string and "
          "date");
    CHECK(evaluate("form.x == 1") == "ok");
    CHECK(evaluate("foo(1)") == "0: unknown function 'foo'");
    CHECK(evaluate("len(1, 2)") == "0: len() takes 1 argument(s), but 2 were given");

    EvaluationContext no_lookup;
    auto result = cascade::lang::Evaluate(*Parse("form.x"), no_lookup);
    REQUIRE(std::holds_alternative<EvaluationError>(result));
    CHECK(std::get<EvaluationError>(result).message == "no value is known for 'form.x'");
}

// ---- explaining a false gate ------------------------------------------------

TEST_CASE("expression: ExplainFailure finds the smallest false part") {
    const auto explain = [](std::string_view text) {
        auto expression = Parse(text);
        REQUIRE(CheckExpression(*expression, SampleScope(), TypeKind::boolean).empty());
        return cascade::lang::ExplainFailure(*expression, SampleContext());
    };
    using Values = std::vector<std::pair<std::string, std::string>>;

    auto explanation = explain("form.reading_days >= 7 and form.sessions >= 2");
    CHECK(explanation.failing_expression == "form.reading_days >= 7");
    CHECK(explanation.values == Values{{"form.reading_days", "5"}});

    explanation = explain("form.sessions >= 2 and (form.agreed and len(form.note) > 10)");
    CHECK(explanation.failing_expression == "len(form.note) > 10");
    CHECK(explanation.values == Values{{"form.note", "'学习笔记'"}});

    // An 'or' is false only as a whole.
    explanation = explain("form.sessions > 2 or form.reading_days > form.sessions * 3");
    CHECK(explanation.failing_expression == "form.sessions > 2 or form.reading_days > form.sessions * 3");
    CHECK(explanation.values == Values{{"form.sessions", "2"}, {"form.reading_days", "5"}});

    // not(a or b) is false because one of them is true.
    explanation = explain("not (form.sessions > 5 or unit.category == 'township')");
    CHECK(explanation.failing_expression == "not unit.category == 'township'");
    CHECK(explanation.values == Values{{"unit.category", "'township'"}});

    explanation = explain("not (form.agreed and form.sessions == 2)");
    CHECK(explanation.failing_expression == "not (form.agreed and form.sessions == 2)");

    explanation = explain("form.missing >= 1 and true");
    CHECK(explanation.failing_expression == "form.missing >= 1");
    CHECK(explanation.values == Values{{"form.missing", "null"}});

    explanation = explain("true and form.start > vars.deadline - vars.period");
    CHECK(explanation.failing_expression == "form.start > vars.deadline - vars.period");
    CHECK(explanation.values ==
          Values{{"form.start", "2023-09-01"}, {"vars.deadline", "2023-12-31"}, {"vars.period", "P7D"}});

    // A part that cannot be evaluated is the reason, with its value shown as unknown.
    explanation = explain("form.sessions == 2 and vars.unknown > 1");
    CHECK(explanation.failing_expression == "vars.unknown > 1");
    CHECK(explanation.values == Values{{"vars.unknown", "(unknown)"}});

    explanation = explain("form.missing_flag");
    CHECK(explanation.failing_expression == "form.missing_flag");
    CHECK(explanation.values == Values{{"form.missing_flag", "null"}});
}

// ---- printing -----------------------------------------------------------------

TEST_CASE("expression: printing of types and values") {
    CHECK(Type::Of(TypeKind::integer).ToString() == "integer");
    CHECK(Type::ListOf(TypeKind::string).ToString() == "list<string>");
    CHECK(Type::ListOf(TypeKind::unknown).ToString() == "list");
    CHECK(Type::Choice({"a"}).ToString() == "string");
    CHECK(Type::Choice({"a"}).kind == TypeKind::string);
    CHECK(Type{}.ToString() == "unknown");

    CHECK(Value{}.ToString() == "null");
    CHECK(Bool(true).ToString() == "true");
    CHECK(Int(-12).ToString() == "-12");
    CHECK(Num(0.8).ToString() == "0.8");
    CHECK(Num(2).ToString() == "2.0");
    CHECK(Num(1e20).ToString() == "100000000000000000000.0");
    CHECK(Num(0.1 + 0.2).ToString() == "0.30000000000000004");
    CHECK(Str("it's").ToString() == R"('it\'s')");
    CHECK(Str("主题").ToString() == "'主题'");
    CHECK(DateValue("2023-12-31").ToString() == "2023-12-31");
    CHECK(Value{Duration{10, DurationUnit::working_days}}.ToString() == "10 working days");
    CHECK(Value{List{Int(1), Str("a"), Value{}}}.ToString() == "[1, 'a', null]");

    CHECK(Int(1).Kind() == TypeKind::integer);
    CHECK(Num(1).Kind() == TypeKind::number);
    CHECK(Value{}.Kind() == TypeKind::null);
    CHECK(Value{List{}}.Kind() == TypeKind::list);
    CHECK(Int(1) != Num(1.0));  // structural equality
}
