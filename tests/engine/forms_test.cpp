// Form payloads: every field type accepted and normalized, every error code
// with its exact message, `--set` text typed by the form, expression values
// of the declared types, and hostile sizes and numbers that must give errors
// rather than crashes.
#include "cascade/engine/forms.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace {

namespace json = boost::json;
using cascade::engine::FieldError;
using cascade::engine::FormCheck;
using cascade::engine::FormLimits;
using cascade::engine::ParseAssignments;
using cascade::engine::ToExpressionValue;
using cascade::engine::ValidateForm;
using cascade::model::Date;
using cascade::model::Duration;
using cascade::model::DurationUnit;
using cascade::model::ExpressionTypeOf;
using cascade::model::FieldType;
using cascade::model::FormField;
using cascade::model::Value;

FormField Field(std::string name, FieldType type) {
    FormField field;
    field.name = std::move(name);
    field.type = type;
    return field;
}

FormField Integer(std::string name, std::optional<double> minimum = std::nullopt,
                  std::optional<double> maximum = std::nullopt) {
    FormField field = Field(std::move(name), FieldType::integer);
    field.minimum = minimum;
    field.maximum = maximum;
    return field;
}

FormField Attachment(std::string name, std::vector<std::string> accept) {
    FormField field = Field(std::move(name), FieldType::attachment);
    field.accept = std::move(accept);
    return field;
}

FormCheck Check(const std::vector<FormField>& form, std::string_view payload, const FormLimits& limits = {}) {
    return ValidateForm(form, json::parse(payload), limits);
}

// The one error a check is expected to report.
FieldError OnlyError(const FormCheck& check) {
    REQUIRE(check.errors.size() == 1);
    return check.errors.front();
}

std::string Describe(const std::vector<FieldError>& errors) {
    std::string text;
    for (const auto& error : errors) {
        text += error.path + " [" + error.code + "] " + error.message + "\n";
    }
    return text;
}

std::vector<FieldError> AssignmentErrors(const std::vector<std::string>& assignments,
                                         const std::vector<FormField>& form) {
    auto result = ParseAssignments(assignments, form);
    REQUIRE(std::holds_alternative<std::vector<FieldError>>(result));
    return std::get<std::vector<FieldError>>(result);
}

json::object Assigned(const std::vector<std::string>& assignments, const std::vector<FormField>& form) {
    auto result = ParseAssignments(assignments, form);
    if (const auto* errors = std::get_if<std::vector<FieldError>>(&result)) {
        FAIL(Describe(*errors));
    }
    return std::get<json::object>(result);
}

// Every field type, with the constraints each type can carry.
std::vector<FormField> EveryTypeForm() {
    FormField topic = Field("topic", FieldType::string);
    topic.min_length = 2;
    topic.max_length = 10;
    topic.pattern = "[^<>]+";
    FormField focus = Field("focus", FieldType::text);
    focus.max_length = 500;
    FormField score = Field("score", FieldType::number);
    score.minimum = 0;
    score.maximum = 1;
    FormField verdict = Field("verdict", FieldType::choice);
    verdict.choices = {"satisfied", "basically_satisfied", "not_satisfied"};
    FormField materials = Field("materials", FieldType::list);
    materials.min_items = 1;
    FormField evidence = Attachment("evidence", {"pdf", ".docx"});
    evidence.min_items = 1;
    evidence.max_items = 3;
    FormField remark = Field("remark", FieldType::text);
    remark.required = false;
    return {topic,
            focus,
            Integer("reading_days", 0),
            score,
            Field("done", FieldType::boolean),
            Field("meeting_date", FieldType::date),
            Field("window", FieldType::duration),
            verdict,
            materials,
            evidence,
            remark};
}

constexpr std::string_view kEveryTypePayload = R"({
    "topic": "读书班学习",
    "focus": "理论学习",
    "reading_days": 7.0,
    "score": 1,
    "done": true,
    "meeting_date": "2023-09-15",
    "window": "3个工作日",
    "verdict": "basically_satisfied",
    "materials": ["Selected Readings", "Excerpts"],
    "evidence": ["Plan.PDF", "https://files.example.org/2023/record.docx?version=2#p1"]
})";

}  // namespace

TEST_CASE("forms: every field type accepted and normalized", "[forms]") {
    const FormCheck check = Check(EveryTypeForm(), kEveryTypePayload);
    INFO(Describe(check.errors));
    REQUIRE(check.Ok());
    const json::object& normalized = check.normalized;
    CHECK(normalized.at("topic") == "读书班学习");
    CHECK(normalized.at("focus") == "理论学习");
    REQUIRE(normalized.at("reading_days").is_int64());  // 7.0 has no fraction: an integer
    CHECK(normalized.at("reading_days").get_int64() == 7);
    REQUIRE(normalized.at("score").is_double());  // 1 is a number field's 1.0
    CHECK(normalized.at("score").get_double() == 1.0);
    CHECK(normalized.at("done") == true);
    CHECK(normalized.at("meeting_date") == "2023-09-15");
    CHECK(normalized.at("window") == "3 working days");  // Duration::ToString
    CHECK(normalized.at("verdict") == "basically_satisfied");
    CHECK(normalized.at("materials") == json::array{"Selected Readings", "Excerpts"});
    CHECK(normalized.at("evidence").as_array().size() == 2);
    CHECK_FALSE(normalized.contains("remark"));  // absent optional fields are left out
    CHECK(normalized.size() == 10);
}

TEST_CASE("forms: blank values of optional fields are left out, of required ones are missing", "[forms]") {
    FormField remark = Field("remark", FieldType::text);
    remark.required = false;
    FormField when = Field("when", FieldType::date);
    when.required = false;
    FormField count = Integer("count");
    count.required = false;
    const FormCheck check = Check({remark, when, count}, R"({"remark": "", "when": "", "count": null})");
    REQUIRE(check.Ok());
    CHECK(check.normalized.empty());

    const FieldError error = OnlyError(Check({Field("topic", FieldType::string)}, R"({"topic": ""})"));
    CHECK(error.code == "missing-field");
    CHECK(error.message == "topic is required but is empty; expected text");
}

TEST_CASE("forms: expression values have the field's expression type", "[forms]") {
    const auto form = EveryTypeForm();
    const FormCheck check = Check(form, kEveryTypePayload);
    REQUIRE(check.Ok());
    for (const auto& field : form) {
        INFO(field.name);
        const Value value = ToExpressionValue(field, check.normalized.if_contains(field.name));
        if (field.name == "remark") {
            CHECK(value.IsNull());
            continue;
        }
        const auto type = ExpressionTypeOf(field.type, field.choices);
        CHECK(value.Kind() == type.kind);
        if (const auto* items = std::get_if<std::vector<Value>>(&value.data)) {
            for (const auto& item : *items) {
                CHECK(item.Kind() == type.element);
            }
        }
    }
    const auto value_of = [&](std::string_view name) {
        const auto found = std::find_if(form.begin(), form.end(), [&](const FormField& f) { return f.name == name; });
        return ToExpressionValue(*found, check.normalized.if_contains(name));
    };
    CHECK(value_of("reading_days").data == Value{std::int64_t{7}}.data);
    CHECK(value_of("score").data == Value{1.0}.data);
    CHECK(value_of("done").data == Value{true}.data);
    CHECK(value_of("meeting_date").data == Value{Date::FromCivil(2023, 9, 15)}.data);
    CHECK(value_of("window").data == Value{Duration{3, DurationUnit::working_days}}.data);
    CHECK(value_of("verdict").data == Value{std::string("basically_satisfied")}.data);
    CHECK(value_of("materials").ToString() == "['Selected Readings', 'Excerpts']");

    // Missing and null fields are null; so is anything not in normalized form.
    const json::value null_value;
    CHECK(ToExpressionValue(form[2], nullptr).IsNull());
    CHECK(ToExpressionValue(form[2], &null_value).IsNull());
    const json::value text("seven");
    CHECK(ToExpressionValue(form[2], &text).IsNull());
}

TEST_CASE("forms: each error code with its message", "[forms]") {
    SECTION("unknown-field, with and without a suggestion") {
        const std::vector<FormField> form{Integer("reading_days"), Integer("sessions")};
        const FormCheck check = Check(form, R"({"reading_day": 7, "sessions": 2, "zzz": 1})");
        REQUIRE(check.errors.size() == 3);
        CHECK(check.errors[0].path == "reading_day");
        CHECK(check.errors[0].code == "unknown-field");
        CHECK(check.errors[0].message == "unknown field 'reading_day'; did you mean 'reading_days'?");
        CHECK(check.errors[1].path == "zzz");
        CHECK(check.errors[1].message == "unknown field 'zzz'; the form's fields are reading_days and sessions");
        // The misspelt field is then missing.
        CHECK(check.errors[2].code == "missing-field");

        CHECK(OnlyError(Check({}, R"({"x": 1})")).message == "unknown field 'x'; this form has no fields");
    }
    SECTION("missing-field") {
        const std::vector<FormField> form{Integer("reading_days", 7)};
        const FieldError absent = OnlyError(Check(form, "{}"));
        CHECK(absent.path == "reading_days");
        CHECK(absent.code == "missing-field");
        CHECK(absent.message == "reading_days is required but was not given; expected a whole number");
        CHECK(OnlyError(Check(form, R"({"reading_days": null})")).message ==
              "reading_days is required but is empty; expected a whole number");
    }
    SECTION("wrong-type") {
        const std::vector<FormField> form{Integer("reading_days"), Field("ok", FieldType::boolean),
                                          Field("topic", FieldType::string), Field("problems", FieldType::list)};
        const FormCheck check =
            Check(form, R"({"reading_days": 7.5, "ok": "yes", "topic": 12, "problems": ["a", "b", 3, {}]})");
        REQUIRE(check.errors.size() == 5);
        for (const auto& error : check.errors) {
            CHECK(error.code == "wrong-type");
        }
        CHECK(check.errors[0].message == "reading_days must be a whole number, got 7.5");
        CHECK(check.errors[1].message == "ok must be true or false, got 'yes'");
        CHECK(check.errors[2].message == "topic must be text, got 12");
        CHECK(check.errors[3].path == "problems[2]");
        CHECK(check.errors[3].message == "problems[2] must be text, got 3");
        CHECK(check.errors[4].message == "problems[3] must be text, got an object");
        CHECK(
            OnlyError(Check(form, R"({"reading_days": "seven", "ok": true, "topic": "t", "problems": []})")).message ==
            "reading_days must be a whole number, got 'seven'");
        CHECK(OnlyError(Check({Field("problems", FieldType::list)}, R"({"problems": "one"})")).message ==
              "problems must be a list of texts, got 'one'");
        CHECK(OnlyError(Check({Attachment("plan", {})}, R"({"plan": [1]})")).message ==
              "plan[0] must be a file name, got 1");
    }
    SECTION("below-minimum and above-maximum") {
        const std::vector<FormField> form{Integer("reading_days", 7), Integer("sessions", 1, 2)};
        const FieldError low = OnlyError(Check(form, R"({"reading_days": 5, "sessions": 2})"));
        CHECK(low.path == "reading_days");
        CHECK(low.code == "below-minimum");
        CHECK(low.message == "reading_days must be at least 7, got 5");
        const FieldError high = OnlyError(Check(form, R"({"reading_days": 7, "sessions": 3})"));
        CHECK(high.code == "above-maximum");
        CHECK(high.message == "sessions must be at most 2, got 3");

        FormField score = Field("score", FieldType::number);
        score.minimum = 0.5;
        score.maximum = 1;
        CHECK(OnlyError(Check({score}, R"({"score": 0.25})")).message == "score must be at least 0.5, got 0.25");
        CHECK(OnlyError(Check({score}, R"({"score": 2})")).message == "score must be at most 1, got 2");
    }
    SECTION("too-short and too-long count characters, not bytes") {
        FormField topic = Field("topic", FieldType::string);
        topic.min_length = 3;
        topic.max_length = 4;
        CHECK(Check({topic}, R"({"topic": "读书班"})").Ok());  // 9 bytes, 3 characters
        const FieldError short_error = OnlyError(Check({topic}, R"({"topic": "读书"})"));
        CHECK(short_error.code == "too-short");
        CHECK(short_error.message == "topic must be at least 3 characters long, got 2");
        const FieldError long_error = OnlyError(Check({topic}, R"({"topic": "主题教育好"})"));
        CHECK(long_error.code == "too-long");
        CHECK(long_error.message == "topic must be at most 4 characters long, got 5");
        topic.min_length = 1;
        CHECK(Check({topic}, R"({"topic": " "})").Ok());
    }
    SECTION("pattern-mismatch, whole-value") {
        FormField code = Field("code", FieldType::string);
        code.pattern = "[A-Z]{3}-[0-9]+";
        CHECK(Check({code}, R"({"code": "ABC-12"})").Ok());
        const FieldError error = OnlyError(Check({code}, R"({"code": "xABC-12"})"));  // a search would match
        CHECK(error.path == "code");
        CHECK(error.code == "pattern-mismatch");
        CHECK(error.message == "code must match the pattern [A-Z]{3}-[0-9]+, got 'xABC-12'");
        CHECK(OnlyError(Check({code}, R"({"code": "ABC-12x"})")).code == "pattern-mismatch");
    }
    SECTION("unknown-choice") {
        FormField verdict = Field("verdict", FieldType::choice);
        verdict.choices = {"satisfied", "basically_satisfied", "not_satisfied"};
        const FieldError error = OnlyError(Check({verdict}, R"({"verdict": "satisfid"})"));
        CHECK(error.code == "unknown-choice");
        CHECK(error.message ==
              "verdict must be one of 'satisfied', 'basically_satisfied' or 'not_satisfied', got 'satisfid'; "
              "did you mean 'satisfied'?");
        CHECK(OnlyError(Check({verdict}, R"({"verdict": "maybe"})")).message ==
              "verdict must be one of 'satisfied', 'basically_satisfied' or 'not_satisfied', got 'maybe'");
    }
    SECTION("too-few-items and too-many-items") {
        FormField photos = Field("photos", FieldType::list);
        photos.min_items = 1;
        photos.max_items = 2;
        const FieldError few = OnlyError(Check({photos}, R"({"photos": []})"));
        CHECK(few.code == "too-few-items");
        CHECK(few.message == "photos needs at least 1 item, got 0");
        const FieldError many = OnlyError(Check({photos}, R"({"photos": ["a", "b", "c"]})"));
        CHECK(many.code == "too-many-items");
        CHECK(many.message == "photos takes at most 2 items, got 3");
    }
    SECTION("bad-extension") {
        const FormCheck check =
            Check({Attachment("photos", {"jpg", "png"})}, R"({"photos": ["a.JPG", "scan.bmp", "noextension"]})");
        REQUIRE(check.errors.size() == 2);
        CHECK(check.errors[0].path == "photos[1]");
        CHECK(check.errors[0].code == "bad-extension");
        CHECK(check.errors[0].message == "'photos' expects files ending in .jpg or .png; 'scan.bmp' is neither");
        CHECK(check.errors[1].message == "'photos' expects files ending in .jpg or .png; 'noextension' is neither");
        CHECK(OnlyError(Check({Attachment("plan", {"pdf"})}, R"({"plan": ["plan.docx"]})")).message ==
              "'plan' expects files ending in .pdf; 'plan.docx' does not");
        CHECK(OnlyError(Check({Attachment("evidence", {"pdf", "docx", "jpg", "png"})}, R"({"evidence": ["a.xls"]})"))
                  .message == "'evidence' expects files ending in .pdf, .docx, .jpg or .png; 'a.xls' is none of them");
        // The extension is the file name's, not the host's or the query's.
        CHECK(OnlyError(Check({Attachment("plan", {"pdf"})}, R"({"plan": ["https://pdf.example.org/plan?x=.pdf"]})"))
                  .code == "bad-extension");
        CHECK(Check({Attachment("any", {})}, R"({"any": ["a.exe"]})").Ok());  // no accept: anything goes
    }
    SECTION("bad-date") {
        const FieldError error =
            OnlyError(Check({Field("mobilization_date", FieldType::date)}, R"({"mobilization_date": "2023/09/01"})"));
        CHECK(error.code == "bad-date");
        CHECK(error.message ==
              "mobilization_date must be a date written YYYY-MM-DD, such as 2023-09-15, got '2023/09/01'");
        CHECK(OnlyError(Check({Field("d", FieldType::date)}, R"({"d": "2023-02-29"})")).code == "bad-date");
        CHECK(OnlyError(Check({Field("d", FieldType::date)}, R"({"d": 20230901})")).code == "wrong-type");
    }
    SECTION("bad-duration") {
        const FieldError error = OnlyError(Check({Field("window", FieldType::duration)}, R"({"window": "soon"})"));
        CHECK(error.code == "bad-duration");
        CHECK(error.message == "window must be a duration such as P7D, 3 days or 10 working days, got 'soon'");
    }
    SECTION("too-large") {
        FormLimits limits;
        limits.max_payload_bytes = 30;
        const FieldError error = OnlyError(Check({}, R"({"unknown": "0123456789012345678901234"})", limits));
        CHECK(error.path.empty());
        CHECK(error.code == "too-large");
        CHECK(error.message == "the form payload is larger than the limit of 30 bytes; nothing in it was checked");
        CHECK(OnlyError(Check({}, R"({"unknown": "012345678901234"})", limits)).code == "unknown-field");  // 29 bytes
    }
    SECTION("not-an-object") {
        const FieldError error = OnlyError(Check({Integer("n")}, "[1, 2]"));
        CHECK(error.path.empty());
        CHECK(error.code == "not-an-object");
        CHECK(error.message == "the form payload must be a JSON object of field values, got a list of 2 items");
        CHECK(OnlyError(Check({}, "null")).code == "not-an-object");
        CHECK(OnlyError(Check({}, R"("text")")).message ==
              "the form payload must be a JSON object of field values, got 'text'");
    }
    SECTION("bad-assignment") {
        const auto errors = AssignmentErrors({"reading_days7", "=7"}, {Integer("reading_days")});
        REQUIRE(errors.size() == 2);
        CHECK(errors[0].path == "reading_days7");
        CHECK(errors[0].code == "bad-assignment");
        CHECK(errors[0].message == "'reading_days7' is not an assignment; write field=value, e.g. reading_days=7");
        CHECK(errors[1].code == "bad-assignment");
        CHECK(errors[1].message == "'=7' names no field; write field=value, e.g. reading_days=7");
    }
}

TEST_CASE("forms: every problem is reported in one pass", "[forms]") {
    const FormCheck check = Check(EveryTypeForm(), R"({
        "topic": "<b>",
        "reading_days": -1,
        "score": 1.5,
        "done": "true",
        "meeting_date": "tomorrow",
        "window": "P1M",
        "verdict": "fine",
        "materials": [],
        "evidence": ["a.pdf", 7, "b.exe", "c.docx", "d.pdf"],
        "extra": 1
    })");
    std::vector<std::string> found;
    for (const auto& error : check.errors) {
        found.push_back(error.path + " " + error.code);
    }
    CHECK(found == std::vector<std::string>{"extra unknown-field", "topic pattern-mismatch", "focus missing-field",
                                            "reading_days below-minimum", "score above-maximum", "done wrong-type",
                                            "meeting_date bad-date", "window bad-duration", "verdict unknown-choice",
                                            "materials too-few-items", "evidence too-many-items",
                                            "evidence[1] wrong-type", "evidence[2] bad-extension"});
    CHECK_FALSE(check.Ok());
}

TEST_CASE("forms: hostile numbers give errors", "[forms]") {
    const std::vector<FormField> form{Integer("reading_days")};
    const auto message_for = [&](const json::value& value) {
        return OnlyError(ValidateForm(form, json::object{{"reading_days", value}})).message;
    };
    CHECK(message_for(json::parse("1e308")) == "reading_days must be at most 9223372036854775807, got 1e+308");
    CHECK(message_for(json::parse("-1e308")) == "reading_days must be at least -9223372036854775808, got -1e+308");
    CHECK(message_for(json::parse("18446744073709551615")) ==
          "reading_days must be at most 9223372036854775807, got 18446744073709551615");
    CHECK(message_for(json::parse("9223372036854775808")) ==
          "reading_days must be at most 9223372036854775807, got 9223372036854775808");
    CHECK(message_for(json::parse("9223372036854775808.0")) ==
          "reading_days must be at most 9223372036854775807, got 9223372036854775808");
    // Boost.JSON reads an overlong exponent as infinity.
    CHECK(message_for(json::parse("1e400")) ==
          "reading_days must be at most 9223372036854775807, got a number too large to store");
    CHECK(message_for(std::numeric_limits<double>::quiet_NaN()) ==
          "reading_days must be a whole number, got a value that is not a number");
    CHECK(message_for(json::parse("0.1")) == "reading_days must be a whole number, got 0.1");

    // The field's own bound is shown when it is the tighter one.
    CHECK(OnlyError(ValidateForm({Integer("n", 0, 100)}, json::parse(R"({"n": 1e308})"))).message ==
          "n must be at most 100, got 1e+308");

    // Extremes that fit are kept exactly.
    const FormCheck extremes = ValidateForm({Integer("a"), Integer("b")},
                                            json::parse(R"({"a": 9223372036854775807, "b": -9223372036854775808})"));
    REQUIRE(extremes.Ok());
    CHECK(extremes.normalized.at("a").get_int64() == std::numeric_limits<std::int64_t>::max());
    CHECK(extremes.normalized.at("b").get_int64() == std::numeric_limits<std::int64_t>::min());
    // Exact comparison at the edge: 2^53 + 1 is above a maximum of 2^53.
    CHECK(OnlyError(
              ValidateForm({Integer("n", std::nullopt, 9007199254740992.0)}, json::parse(R"({"n": 9007199254740993})")))
              .code == "above-maximum");

    // Negative zero is zero.
    FormField score = Field("score", FieldType::number);
    const FormCheck zero = ValidateForm({Integer("n"), score}, json::parse(R"({"n": -0.0, "score": -0.0})"));
    REQUIRE(zero.Ok());
    CHECK(zero.normalized.at("n").get_int64() == 0);
    CHECK_FALSE(std::signbit(zero.normalized.at("score").get_double()));

    CHECK(OnlyError(ValidateForm({score}, json::parse(R"({"score": -1e400})"))).message ==
          "score must be at least -1.7976931348623157e+308, got a negative number too large to store");
    CHECK(OnlyError(ValidateForm({score}, json::object{{"score", std::nan("")}})).code == "wrong-type");
    CHECK(ValidateForm({score}, json::parse(R"({"score": 18446744073709551615})")).Ok());
}

TEST_CASE("forms: hostile sizes give errors", "[forms]") {
    FormLimits limits;
    limits.max_payload_bytes = 1u << 20;
    limits.max_string_bytes = 100;
    limits.max_items = 5;

    SECTION("a string over the byte limit") {
        FormField focus = Field("focus", FieldType::text);
        focus.pattern = ".*";
        const FieldError error =
            OnlyError(ValidateForm({focus}, json::object{{"focus", std::string(101, 'x')}}, limits));
        CHECK(error.code == "too-long");
        CHECK(error.message == "focus is 101 bytes long; at most 100 bytes are accepted");
        CHECK(ValidateForm({focus}, json::object{{"focus", std::string(100, 'x')}}, limits).Ok());
    }
    SECTION("a list over the item limit is not looked into") {
        json::array items;
        for (int i = 0; i < 6; ++i) {
            items.emplace_back(i);  // not strings: no per-item errors either
        }
        const FieldError error = OnlyError(
            ValidateForm({Field("problems", FieldType::list)}, json::object{{"problems", std::move(items)}}, limits));
        CHECK(error.code == "too-many-items");
        CHECK(error.message == "problems has 6 items; at most 5 are accepted");
    }
    SECTION("a list item over the byte limit") {
        const FieldError error = OnlyError(ValidateForm(
            {Field("problems", FieldType::list)}, json::object{{"problems", {"ok", std::string(200, 'y')}}}, limits));
        CHECK(error.path == "problems[1]");
        CHECK(error.message == "problems[1] is 200 bytes long; at most 100 bytes are accepted");
    }
    SECTION("deeply nested arrays inside a list field") {
        json::value nested = json::array{};
        for (int depth = 0; depth < 2000; ++depth) {
            nested = json::array{std::move(nested)};
        }
        const FieldError error = OnlyError(
            ValidateForm({Field("problems", FieldType::list)}, json::object{{"problems", std::move(nested)}}));
        CHECK(error.path == "problems[0]");
        CHECK(error.message == "problems[0] must be text, got a list of 1 item");
    }
    SECTION("a huge payload is refused before anything is checked") {
        json::object payload;
        for (int i = 0; i < 200'000; ++i) {
            payload["unknown_" + std::to_string(i)] = i;
        }
        const FieldError error = OnlyError(ValidateForm({Integer("n")}, payload));
        CHECK(error.code == "too-large");
    }
    SECTION("a huge string in a message is cut short") {
        const FieldError error = OnlyError(ValidateForm({Integer("n")}, json::object{{"n", std::string(10'000, 'z')}}));
        CHECK(error.message == "n must be a whole number, got '" + std::string(40, 'z') + "…'");
        const FieldError unknown =
            OnlyError(ValidateForm({}, json::object{{std::string(100'000, 'k'), 1}}));  // no did-you-mean work
        CHECK(unknown.code == "unknown-field");
        CHECK(unknown.path.size() == 100'000);
    }
    SECTION("control characters and invalid UTF-8 in values") {
        FormField topic = Field("topic", FieldType::string);
        topic.max_length = 3;
        const FieldError error = OnlyError(ValidateForm({topic}, json::object{{"topic", "a\nb\x01\xff\xfe"}}));
        CHECK(error.message == "topic must be at most 3 characters long, got 6");
        const FieldError quoted = OnlyError(ValidateForm({Integer("n")}, json::object{{"n", "1\n2\x7f"}}));
        CHECK(quoted.message == "n must be a whole number, got '1\\n2\\x7F'");
    }
}

TEST_CASE("forms: patterns are safe on long input and never throw", "[forms]") {
    FormField long_text = Field("long_text", FieldType::text);
    long_text.pattern = "([a-z]|[0-9])*";  // recursive matching of this overflows the stack at some 10,000 characters
    CHECK(ValidateForm({long_text}, json::object{{"long_text", std::string(60'000, 'a')}}).Ok());
    CHECK(OnlyError(ValidateForm({long_text}, json::object{{"long_text", std::string(60'000, 'a') + "!"}})).code ==
          "pattern-mismatch");

    FormField catastrophic = Field("catastrophic", FieldType::string);
    catastrophic.pattern = "(a*)*b";  // exponential for a backtracking matcher
    CHECK(OnlyError(ValidateForm({catastrophic}, json::object{{"catastrophic", std::string(5'000, 'a')}})).code ==
          "pattern-mismatch");

    FormField repeated = Field("repeated", FieldType::string);
    repeated.pattern = "(ab)\\1";  // a back-reference needs the backtracking matcher
    CHECK(ValidateForm({repeated}, json::object{{"repeated", "abab"}}).Ok());
    CHECK(OnlyError(ValidateForm({repeated}, json::object{{"repeated", "abba"}})).code == "pattern-mismatch");
    const FieldError too_long =
        OnlyError(ValidateForm({repeated}, json::object{{"repeated", std::string(5'000, 'a')}}));
    CHECK(too_long.code == "pattern-mismatch");
    CHECK(too_long.message == "repeated is too long to check against the pattern (ab)\\1: 5000 bytes, at most 1000");

    FormField broken = Field("broken", FieldType::string);
    broken.pattern = "[unclosed";
    for (int attempt = 0; attempt < 2; ++attempt) {  // the second use comes from the cache
        const FieldError error = OnlyError(ValidateForm({broken}, json::object{{"broken", "x"}}));
        CHECK(error.code == "pattern-mismatch");
        CHECK_THAT(
            error.message,
            Catch::StartsWith("broken cannot be checked: its pattern [unclosed is not a valid regular expression ("));
    }
}

TEST_CASE("forms: --set text is typed by the form", "[forms]") {
    const auto form = EveryTypeForm();
    const json::object payload = Assigned({"topic= 读书班 ", "focus=a=b", "reading_days=+7", "score=0.5", "done=yes",
                                           "meeting_date=2023-09-15", "window=10个工作日", "verdict=satisfied",
                                           "materials=Selected Readings; Excerpts;;", "evidence=plan.pdf;record.docx"},
                                          form);
    CHECK(payload.at("topic") == " 读书班 ");  // strings as written
    CHECK(payload.at("focus") == "a=b");       // split at the first '='
    CHECK(payload.at("reading_days") == 7);
    CHECK(payload.at("score") == 0.5);
    CHECK(payload.at("done") == true);
    CHECK(payload.at("meeting_date") == "2023-09-15");
    CHECK(payload.at("window") == "10 working days");
    CHECK(payload.at("verdict") == "satisfied");
    CHECK(payload.at("materials") == json::array{"Selected Readings", "Excerpts"});
    CHECK(payload.at("evidence") == json::array{"plan.pdf", "record.docx"});
    const FormCheck check = ValidateForm(form, payload);
    INFO(Describe(check.errors));
    CHECK(check.Ok());

    SECTION("integers") {
        const std::vector<FormField> integer_form{Integer("n")};
        CHECK(Assigned({"n=-3"}, integer_form).at("n") == -3);
        CHECK(Assigned({"n= 42 "}, integer_form).at("n") == 42);
        CHECK(Assigned({"n=9223372036854775807"}, integer_form).at("n").get_int64() ==
              std::numeric_limits<std::int64_t>::max());
        CHECK(Assigned({"n=1", "n=2"}, integer_form).at("n") == 2);  // the later one wins
        CHECK(Assigned({"n="}, integer_form).at("n").is_null());     // cleared
        const auto errors = AssignmentErrors(
            {"n=99999999999999999999", "n=-99999999999999999999", "n=7.0", "n=seven", "n=+-7", "n=0x10", "n=+"},
            integer_form);
        REQUIRE(errors.size() == 7);
        CHECK(errors[0].path == "n");
        CHECK(errors[0].code == "above-maximum");
        CHECK(errors[0].message == "n must be at most 9223372036854775807, got 99999999999999999999");
        CHECK(errors[1].code == "below-minimum");
        CHECK(errors[1].message == "n must be at least -9223372036854775808, got -99999999999999999999");
        CHECK(errors[2].code == "wrong-type");
        CHECK(errors[2].message == "n must be a whole number, got '7.0'");
        for (std::size_t i = 3; i < errors.size(); ++i) {
            CHECK(errors[i].code == "wrong-type");
        }
    }
    SECTION("numbers") {
        const std::vector<FormField> number_form{Field("x", FieldType::number)};
        CHECK(Assigned({"x=1e3"}, number_form).at("x") == 1000.0);
        CHECK(Assigned({"x=+2.5"}, number_form).at("x") == 2.5);
        CHECK(Assigned({"x=.5"}, number_form).at("x") == 0.5);
        CHECK_FALSE(std::signbit(Assigned({"x=-0"}, number_form).at("x").get_double()));
        const auto errors = AssignmentErrors(
            {"x=1,5", "x=inf", "x=nan", "x=0x10", "x=1e", "x=1e999", "x=-1e999", "x=1e-999"}, number_form);
        REQUIRE(errors.size() == 8);
        CHECK(errors[0].message == "x must be a number, got '1,5'");
        for (std::size_t i = 0; i < 5; ++i) {
            CHECK(errors[i].code == "wrong-type");
        }
        CHECK(errors[5].code == "above-maximum");
        CHECK(errors[5].message == "x must be at most 1.7976931348623157e+308, got 1e999");
        CHECK(errors[6].code == "below-minimum");
        CHECK(errors[7].code == "wrong-type");
        CHECK(errors[7].message == "x must be a number that can be stored, got '1e-999', too close to zero");
    }
    SECTION("booleans") {
        const std::vector<FormField> boolean_form{Field("ok", FieldType::boolean)};
        for (const char* yes : {"ok=true", "ok=YES", "ok=1", "ok=True"}) {
            CHECK(Assigned({yes}, boolean_form).at("ok") == true);
        }
        for (const char* no : {"ok=false", "ok=no", "ok=0", "ok=No"}) {
            CHECK(Assigned({no}, boolean_form).at("ok") == false);
        }
        const auto errors = AssignmentErrors({"ok=maybe"}, boolean_form);
        REQUIRE(errors.size() == 1);
        CHECK(errors[0].code == "wrong-type");
        CHECK(errors[0].message == "ok must be true or false (or yes/no, 1/0), got 'maybe'");
    }
    SECTION("dates and durations") {
        const std::vector<FormField> time_form{Field("d", FieldType::date), Field("w", FieldType::duration)};
        const json::object parsed = Assigned({"d=2024-02-29", "w=2 weeks"}, time_form);
        CHECK(parsed.at("d") == "2024-02-29");
        CHECK(parsed.at("w") == "P14D");
        const auto errors = AssignmentErrors({"d=2023-02-29", "w=P1M"}, time_form);
        REQUIRE(errors.size() == 2);
        CHECK(errors[0].code == "bad-date");
        CHECK(errors[0].message == "d must be a date written YYYY-MM-DD, such as 2023-09-15, got '2023-02-29'");
        CHECK(errors[1].code == "bad-duration");
        CHECK(errors[1].message == "w must be a duration such as P7D, 3 days or 10 working days, got 'P1M'");
    }
    SECTION("lists and attachments") {
        const std::vector<FormField> list_form{Field("problems", FieldType::list), Attachment("photos", {"jpg"})};
        const json::object parsed = Assigned({"problems=;;", "photos=a.jpg;b.jpg"}, list_form);
        CHECK(parsed.at("problems") == json::array{});
        CHECK(parsed.at("photos") == json::array{"a.jpg", "b.jpg"});
        // Extensions, choices, required fields and bounds are ValidateForm's to check.
        CHECK(Assigned({"photos=scan.bmp"}, list_form).at("photos") == json::array{"scan.bmp"});
    }
    SECTION("unknown fields") {
        const auto errors = AssignmentErrors({"reading_day=7", "nothing_like_it=1"}, form);
        REQUIRE(errors.size() == 2);
        CHECK(errors[0].path == "reading_day");
        CHECK(errors[0].code == "unknown-field");
        CHECK(errors[0].message == "unknown field 'reading_day'; did you mean 'reading_days'?");
        CHECK(errors[1].code == "unknown-field");
    }
}

TEST_CASE("forms: a reading class that fails and then passes", "[forms]") {
    // workflows/theme-education.yaml: two sessions, at least seven days in all.
    FormField topics = Field("seminar_topics", FieldType::list);
    topics.min_items = 1;
    FormField evidence = Attachment("evidence", {"pdf", "docx", "jpg", "png"});
    evidence.min_items = 1;
    const std::vector<FormField> form{Integer("sessions", 2), Integer("total_days", 7), topics, evidence};

    const FormCheck first = Check(form, R"({
        "sessions": 1,
        "total_day": 7,
        "seminar_topics": [],
        "evidence": ["schedule.xls"]
    })");
    std::vector<std::string> messages;
    for (const auto& error : first.errors) {
        messages.push_back(error.message);
    }
    CHECK(messages ==
          std::vector<std::string>{
              "unknown field 'total_day'; did you mean 'total_days'?",
              "sessions must be at least 2, got 1",
              "total_days is required but was not given; expected a whole number",
              "seminar_topics needs at least 1 item, got 0",
              "'evidence' expects files ending in .pdf, .docx, .jpg or .png; 'schedule.xls' is none of them",
          });

    const auto assigned = ParseAssignments(
        {"sessions=2", "total_days=7", "seminar_topics=Party building;Development", "evidence=schedule.pdf;talks.docx"},
        form);
    REQUIRE(std::holds_alternative<json::object>(assigned));
    const FormCheck second = ValidateForm(form, std::get<json::object>(assigned));
    INFO(Describe(second.errors));
    REQUIRE(second.Ok());
    CHECK(ToExpressionValue(form[0], second.normalized.if_contains("sessions")).data == Value{std::int64_t{2}}.data);
    CHECK(ToExpressionValue(form[1], second.normalized.if_contains("total_days")).data == Value{std::int64_t{7}}.data);
}
