// Names and lookups of the workflow model.
#include "cascade/model/definition.hpp"

#include <algorithm>
#include <array>

namespace cascade::model {

namespace {

constexpr std::array<std::pair<StepKind, std::string_view>, 7> kStepKinds = {{
    {StepKind::task, "task"},
    {StepKind::action, "action"},
    {StepKind::decision, "decision"},
    {StepKind::parallel, "parallel"},
    {StepKind::join, "join"},
    {StepKind::subflow, "subflow"},
    {StepKind::end, "end"},
}};

constexpr std::array<std::pair<FieldType, std::string_view>, 10> kFieldTypes = {{
    {FieldType::string, "string"},
    {FieldType::text, "text"},
    {FieldType::integer, "integer"},
    {FieldType::number, "number"},
    {FieldType::boolean, "boolean"},
    {FieldType::date, "date"},
    {FieldType::duration, "duration"},
    {FieldType::choice, "choice"},
    {FieldType::list, "list"},
    {FieldType::attachment, "attachment"},
}};

template <typename Enum, std::size_t N>
std::string_view NameIn(const std::array<std::pair<Enum, std::string_view>, N>& table, Enum value) {
    for (const auto& [candidate, name] : table) {
        if (candidate == value) {
            return name;
        }
    }
    return "?";
}

template <typename Enum, std::size_t N>
std::optional<Enum> ValueIn(const std::array<std::pair<Enum, std::string_view>, N>& table, std::string_view text) {
    for (const auto& [candidate, name] : table) {
        if (name == text) {
            return candidate;
        }
    }
    return std::nullopt;
}

}  // namespace

std::string_view StepKindName(StepKind kind) {
    return NameIn(kStepKinds, kind);
}
std::optional<StepKind> ParseStepKind(std::string_view text) {
    return ValueIn(kStepKinds, text);
}
std::string_view FieldTypeName(FieldType type) {
    return NameIn(kFieldTypes, type);
}
std::optional<FieldType> ParseFieldType(std::string_view text) {
    return ValueIn(kFieldTypes, text);
}

Type ExpressionTypeOf(FieldType type, const std::vector<std::string>& choices) {
    switch (type) {
    case FieldType::string:
    case FieldType::text:
        return Type::Of(TypeKind::string);
    case FieldType::integer:
        return Type::Of(TypeKind::integer);
    case FieldType::number:
        return Type::Of(TypeKind::number);
    case FieldType::boolean:
        return Type::Of(TypeKind::boolean);
    case FieldType::date:
        return Type::Of(TypeKind::date);
    case FieldType::duration:
        return Type::Of(TypeKind::duration);
    case FieldType::choice:
        return Type::Choice(choices);
    case FieldType::list:
    case FieldType::attachment:
        return Type::ListOf(TypeKind::string);
    }
    return Type::Of(TypeKind::unknown);
}

std::string_view HookEventName(HookEvent event) {
    switch (event) {
    case HookEvent::enter:
        return "enter";
    case HookEvent::submit:
        return "submit";
    case HookEvent::returned:
        return "return";
    case HookEvent::complete:
        return "complete";
    case HookEvent::overdue:
        return "overdue";
    case HookEvent::remind:
        return "remind";
    case HookEvent::escalated:
        return "escalated";
    case HookEvent::fail:
        return "fail";
    }
    return "?";
}

std::string RoleRef::ToString() const {
    std::string text;
    for (int level = 0; level < levels_up; ++level) {
        text += "parent.";
    }
    return text + role;
}

std::string Deadline::ToString() const {
    switch (kind) {
    case DeadlineKind::none:
        return {};
    case DeadlineKind::date:
        return date.ToString();
    case DeadlineKind::after_activation:
        return duration.ToString();
    }
    return {};
}

const FormField* Step::FindField(std::string_view name) const {
    const auto found =
        std::find_if(form.begin(), form.end(), [&](const FormField& field) { return field.name == name; });
    return found == form.end() ? nullptr : &*found;
}

const Step* Definition::FindStep(std::string_view step_id) const {
    const auto index = StepIndex(step_id);
    return index ? &steps[*index] : nullptr;
}

std::optional<std::size_t> Definition::StepIndex(std::string_view step_id) const {
    const auto found = step_index.find(std::string(step_id));
    if (found == step_index.end()) {
        return std::nullopt;
    }
    return found->second;
}

const NamedText* Definition::FindStage(std::string_view stage_id) const {
    const auto found = std::find_if(stages.begin(), stages.end(), [&](const NamedText& s) { return s.id == stage_id; });
    return found == stages.end() ? nullptr : &*found;
}

const NamedText* Definition::FindRole(std::string_view role_id) const {
    const auto found = std::find_if(roles.begin(), roles.end(), [&](const NamedText& r) { return r.id == role_id; });
    return found == roles.end() ? nullptr : &*found;
}

Date Definition::Add(Date start_date, const Duration& duration) const {
    if (calendar) {
        return calendar->Add(start_date, duration);
    }
    // Without a calendar, working days are Monday to Friday.
    WorkingCalendar weekdays;
    weekdays.covers_from = start_date;
    weekdays.covers_to = start_date.AddDays(400 * 366);
    return weekdays.Add(start_date, duration);
}

}  // namespace cascade::model
