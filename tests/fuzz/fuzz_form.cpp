// Fuzzes what a unit hands in: a JSON form payload checked against a form
// with every field type, and `--set field=value` assignments.
#include "cascade/engine/forms.hpp"

#include <boost/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace {

std::vector<cascade::model::FormField> Form() {
    using cascade::model::FieldType;
    std::vector<cascade::model::FormField> form;
    const auto add = [&](const char* name, FieldType type) -> cascade::model::FormField& {
        cascade::model::FormField field;
        field.name = name;
        field.type = type;
        field.required = false;
        form.push_back(field);
        return form.back();
    };
    add("title", FieldType::string).max_length = 20;
    add("code", FieldType::string).pattern = "[A-Z]{2}-[0-9]+";
    add("notes", FieldType::text);
    auto& days = add("days", FieldType::integer);
    days.minimum = 0;
    days.maximum = 365;
    add("share", FieldType::number).maximum = 1;
    add("done", FieldType::boolean);
    add("on", FieldType::date);
    add("within", FieldType::duration);
    add("verdict", FieldType::choice).choices = {"satisfied", "not_satisfied"};
    add("problems", FieldType::list).max_items = 50;
    add("evidence", FieldType::attachment).accept = {"pdf", "jpg"};
    return form;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const auto form = Form();
    const std::string text(reinterpret_cast<const char*>(data), size);
    boost::system::error_code error;
    const boost::json::value payload = boost::json::parse(text, error);
    if (!error) {
        const auto check = cascade::engine::ValidateForm(form, payload);
        if (check.Ok()) {
            for (const auto& field : form) {
                (void)cascade::engine::ToExpressionValue(field, check.normalized.if_contains(field.name));
            }
        }
    }
    // The same bytes as assignments, one per line.
    std::vector<std::string> assignments;
    std::size_t start = 0;
    for (std::size_t i = 0; i <= text.size() && assignments.size() < 64; ++i) {
        if (i == text.size() || text[i] == '\n') {
            assignments.push_back(text.substr(start, i - start));
            start = i + 1;
        }
    }
    (void)cascade::engine::ParseAssignments(assignments, form);
    return 0;
}
