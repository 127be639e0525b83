// Fuzzes the expression language end to end: parse, re-print, type-check,
// evaluate and explain. Besides "no crash, no hang", it checks invariants:
// - a parse fails exactly when it reports errors, and every offset lies in the text;
// - the canonical re-print parses back to the same re-print;
// - a value's runtime kind matches the type the checker gave it (or is null).
#include "cascade/lang/expression.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace {

using cascade::model::Date;
using cascade::model::Duration;
using cascade::model::DurationUnit;
using cascade::model::Type;
using cascade::model::TypeKind;
using cascade::model::Value;

void Require(bool condition) {
    if (!condition) {
        std::abort();
    }
}

struct Fixture {
    cascade::lang::TypeScope scope;
    std::map<std::string, Value> values;  // a path without an entry is unknown at run time
    cascade::model::WorkingCalendar calendar;

    Fixture() {
        const auto define = [&](const std::string& path, Type type, Value value) {
            scope.Define(path, std::move(type));
            values.emplace(path, std::move(value));
        };
        define("form.reading_days", Type::Of(TypeKind::integer), Value{std::int64_t{5}});
        define("form.score", Type::Of(TypeKind::number), Value{2.5});
        define("form.note", Type::Of(TypeKind::string), Value{std::string("学习笔记")});
        define("form.agreed", Type::Of(TypeKind::boolean), Value{true});
        define("form.start", Type::Of(TypeKind::date), Value{*Date::Parse("2023-09-01")});
        define("form.tags", Type::ListOf(TypeKind::string),
               Value{std::vector<Value>{Value{std::string("a")}, Value{std::string("b")}}});
        define("form.missing", Type::Of(TypeKind::integer), Value{});
        define("unit.category", Type::Choice({"county", "township", "department", "enterprise"}),
               Value{std::string("township")});
        define("problems.open", Type::Of(TypeKind::integer), Value{std::int64_t{3}});
        define("vars.deadline", Type::Of(TypeKind::date), Value{*Date::Parse("2023-12-31")});
        define("vars.period", Type::Of(TypeKind::duration), Value{Duration{7, DurationUnit::calendar_days}});
        define("vars.big", Type::Of(TypeKind::integer), Value{std::int64_t{9223372036854775807}});
        scope.Define("vars.unset", Type::Of(TypeKind::integer));  // no value at run time
        calendar.holidays.insert(*Date::Parse("2023-10-02"));
        calendar.makeup_working_days.insert(*Date::Parse("2023-10-07"));
    }
};

bool KindFits(const Value& value, const Type& type) {
    if (value.IsNull() || type.kind == TypeKind::unknown) {
        return true;
    }
    return value.Kind() == type.kind;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const Fixture fixture;
    const std::string_view text(reinterpret_cast<const char*>(data), size);

    auto parsed = cascade::lang::ParseExpression(text);
    Require((parsed.expression == nullptr) == !parsed.errors.empty());
    for (const auto& error : parsed.errors) {
        Require(error.offset <= text.size() && !error.code.empty() && !error.message.empty());
    }
    if (!parsed.expression) {
        return 0;
    }
    auto& expression = *parsed.expression;

    // The re-print may be longer (escapes) and nest differently (no redundant
    // parentheses, "not a in b"), so it is read back with roomier limits.
    const std::string printed = cascade::model::ToSource(expression);
    const auto reparsed = cascade::lang::ParseExpression(printed, {size * 2 + 64, 256});
    Require(reparsed.expression != nullptr);
    Require(cascade::model::ToSource(*reparsed.expression) == printed);

    const auto boolean_errors = cascade::lang::CheckExpression(expression, fixture.scope, TypeKind::boolean);
    const auto errors = cascade::lang::CheckExpression(expression, fixture.scope, TypeKind::unknown);
    for (const auto& error : errors) {
        Require(error.offset <= text.size() && !error.code.empty());
    }
    Require(boolean_errors.size() >= errors.size());
    if (!errors.empty()) {
        return 0;
    }

    for (const cascade::model::WorkingCalendar* calendar :
         {static_cast<const cascade::model::WorkingCalendar*>(nullptr), &fixture.calendar}) {
        cascade::lang::EvaluationContext context;
        context.lookup = [](const std::vector<std::string>& path) -> std::optional<Value> {
            const auto found = fixture.values.find(cascade::model::JoinPath(path));
            if (found == fixture.values.end()) {
                return std::nullopt;
            }
            return found->second;
        };
        context.today = *Date::Parse("2023-12-01");
        context.calendar = calendar;
        const auto result = cascade::lang::Evaluate(expression, context);
        if (const auto* value = std::get_if<Value>(&result)) {
            Require(KindFits(*value, expression.type));
            const auto* boolean = std::get_if<bool>(&value->data);
            if (boolean != nullptr && !*boolean) {
                const auto explanation = cascade::lang::ExplainFailure(expression, context);
                Require(!explanation.failing_expression.empty());
            }
        } else {
            Require(std::get<cascade::lang::EvaluationError>(result).offset <= text.size());
        }
    }
    return 0;
}
