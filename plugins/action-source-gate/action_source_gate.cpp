// action-source-gate: how a unit advances a step through data kept elsewhere.
// The step's `with` names a source plugin of the same workflow, a field and a
// condition ("hours at least 7"); each attempt reads the unit's records from
// that source, aggregates the field and compares. Met: the step completes with
// what was seen. Not met yet: RETRY with a message saying how far off the unit
// is, and the engine asks again after the step's back-off until its attempts
// run out. A `with` that cannot work fails the step at once, naming the field.
#include <cascade/sdk.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace {

namespace json = boost::json;
using cascade::sdk::Host;
using cascade::sdk::LogLevel;
using cascade::sdk::Result;
using cascade::sdk::Status;

enum class Aggregate { first, sum, min, max, count };

constexpr std::array<std::string_view, 7> kSettings = {"source", "field", "at_least", "at_most",
                                                       "equals", "where", "aggregate"};

std::optional<Aggregate> ParseAggregate(std::string_view name) {
    if (name == "first")
        return Aggregate::first;
    if (name == "sum")
        return Aggregate::sum;
    if (name == "min")
        return Aggregate::min;
    if (name == "max")
        return Aggregate::max;
    if (name == "count")
        return Aggregate::count;
    return std::nullopt;
}

std::string_view AggregateName(Aggregate aggregate) {
    switch (aggregate) {
    case Aggregate::sum:
        return "sum";
    case Aggregate::min:
        return "min";
    case Aggregate::max:
        return "max";
    case Aggregate::count:
        return "count";
    case Aggregate::first:
        break;
    }
    return "first";
}

// 7 rather than 7.0 or 7E0, 5.5 rather than 5.5E0: numbers as people write them.
std::string NumberText(double number) {
    if (std::trunc(number) == number && std::fabs(number) < 1e15) {
        return std::to_string(static_cast<std::int64_t>(number));
    }
    char buffer[64];
    const auto end = std::to_chars(std::begin(buffer), std::end(buffer), number).ptr;
    return std::string(buffer, end);
}

// A number, or text that is one (some APIs send "3.5"). Booleans are not numbers.
std::optional<double> AsNumber(const json::value& value) {
    if (value.is_number())
        return value.to_number<double>();
    if (!value.is_string())
        return std::nullopt;
    const json::string& text = value.get_string();
    double number = 0;
    const auto parsed = std::from_chars(text.data(), text.data() + text.size(), number);
    // "nan" and "inf" parse too, but are no amount of anything.
    if (text.empty() || parsed.ec != std::errc() || parsed.ptr != text.data() + text.size() || !std::isfinite(number))
        return std::nullopt;
    return number;
}

std::string Show(const json::value& value) {
    if (value.is_number())
        return NumberText(value.to_number<double>());
    if (value.is_string())
        return "'" + std::string(value.get_string()) + "'";
    return json::serialize(value);
}

// A number whose value is whole comes out as an integer.
json::value NumberValue(double number) {
    if (std::trunc(number) == number && std::fabs(number) < 9e15)
        return static_cast<std::int64_t>(number);
    return number;
}

struct Gate {
    std::string source;
    std::string field;  // may be empty for count
    Aggregate aggregate = Aggregate::first;
    std::optional<double> at_least;
    std::optional<double> at_most;
    std::optional<json::value> equals;
    json::object where;
};

// Reads the step's `with`; a message naming the offending setting otherwise.
std::variant<Gate, std::string> ParseWith(const json::object& with) {
    Gate gate;
    for (const auto& [key, value] : with) {
        if (std::find(kSettings.begin(), kSettings.end(), std::string_view(key)) == kSettings.end()) {
            return "with." + std::string(key) + " is not a setting of action-source-gate (it knows source, field, " +
                   "at_least, at_most, equals, where, aggregate)";
        }
    }
    const auto* source = with.if_contains("source");
    if (source == nullptr || !source->is_string() || source->get_string().empty()) {
        return std::string("with.source must name a source plugin declared by the workflow");
    }
    gate.source = std::string(source->get_string());
    if (const auto* aggregate = with.if_contains("aggregate")) {
        const auto parsed = aggregate->is_string() ? ParseAggregate(aggregate->get_string()) : std::nullopt;
        if (!parsed)
            return std::string("with.aggregate must be one of first, sum, min, max, count");
        gate.aggregate = *parsed;
    }
    if (const auto* field = with.if_contains("field")) {
        if (!field->is_string() || field->get_string().empty()) {
            return std::string("with.field must name a field of the source's records");
        }
        gate.field = std::string(field->get_string());
    } else if (gate.aggregate != Aggregate::count) {
        return std::string("with.field is missing: name the field of the source's records to compare");
    }
    for (const std::string_view bound : {"at_least", "at_most"}) {
        const auto* value = with.if_contains(bound);
        if (value == nullptr)
            continue;
        if (!value->is_number())
            return "with." + std::string(bound) + " must be a number";
        (bound == "at_least" ? gate.at_least : gate.at_most) = value->to_number<double>();
    }
    if (const auto* equals = with.if_contains("equals")) {
        if (!equals->is_number() && !equals->is_string() && !equals->is_bool()) {
            return std::string("with.equals must be a string, number or boolean");
        }
        gate.equals = *equals;
    }
    if (!gate.at_least && !gate.at_most && !gate.equals) {
        return std::string("with needs a condition: at_least, at_most or equals");
    }
    if (const auto* where = with.if_contains("where")) {
        if (!where->is_object())
            return std::string("with.where must be a mapping of field: value");
        for (const auto& [key, value] : where->get_object()) {
            if (value.is_object() || value.is_array()) {
                return "with.where." + std::string(key) + " must be a string, number or boolean";
            }
        }
        gate.where = where->get_object();
    }
    return gate;
}

class ActionSourceGate final : public cascade::sdk::Plugin {
public:
    ActionSourceGate(Host host, json::object config) : Plugin(host, std::move(config)) {
        if (!this->config().empty()) {
            throw std::invalid_argument("action-source-gate takes no config; put its settings in the step's with");
        }
    }

    Result Act(const json::object& params) override {
        const auto* with = params.if_contains("with");
        if (with == nullptr || !with->is_object()) {
            return Result::Error("the step has no `with` for action-source-gate (source, field and a condition)");
        }
        const auto* unit = params.if_contains("unit");
        if (unit == nullptr || !unit->is_string() || unit->get_string().empty()) {
            return Result::Error("params.unit is missing: action-source-gate reads the unit's records");
        }
        auto parsed = ParseWith(with->get_object());
        if (auto* problem = std::get_if<std::string>(&parsed))
            return Result::Error(std::move(*problem));
        const Gate& gate = std::get<Gate>(parsed);

        json::object where{{"unit", unit->get_string()}};
        for (const auto& [key, value] : gate.where)
            where[key] = value;
        const std::string context = "(source " + gate.source + ", unit " + std::string(unit->get_string()) + ")";

        Result read = host().ReadSource(gate.source, json::object{{"where", std::move(where)}});
        if (read.status == Status::retry)
            return Result::Retry("source " + gate.source + ": " + read.message);
        if (read.status == Status::error)
            return Result::Error("source " + gate.source + ": " + read.message);
        const json::array* records = nullptr;
        if (read.value.is_object()) {
            if (const auto* found = read.value.get_object().if_contains("records"); found && found->is_array()) {
                records = &found->get_array();
            }
        }
        if (records == nullptr) {
            return Result::Error("source " + gate.source + " answered without a records array " + context);
        }
        if (records->empty())
            return Result::Retry("no record yet " + context);

        // The values of the field, in record order; records without it (or with null) do not count.
        std::vector<std::pair<std::size_t, const json::value*>> values;  // record number (from 1), value
        bool field_seen = false;
        for (std::size_t i = 0; i < records->size(); ++i) {
            const json::value& record = (*records)[i];
            if (!record.is_object()) {
                return Result::Error("source " + gate.source + " answered a record that is not an object " + context);
            }
            if (gate.field.empty())
                continue;
            const auto* value = record.get_object().if_contains(gate.field);
            if (value == nullptr)
                continue;
            field_seen = true;
            if (!value->is_null())
                values.emplace_back(i + 1, value);
        }
        if (!gate.field.empty() && !field_seen) {
            std::string fields;
            for (const auto& [key, ignored] : records->front().get_object()) {
                fields += (fields.empty() ? "" : ", ") + std::string(key);
            }
            return Result::Error("with.field: the records of source " + gate.source + " have no field '" + gate.field +
                                 "' (they have " + fields + ")");
        }
        if (!gate.field.empty() && values.empty())
            return Result::Retry(gate.field + " has no value yet " + context);

        json::value value;
        std::string label = gate.field;
        if (gate.aggregate == Aggregate::first) {
            value = *values.front().second;
        } else if (gate.aggregate == Aggregate::count) {
            const std::size_t count = gate.field.empty() ? records->size() : values.size();
            value = static_cast<std::int64_t>(count);
            label = gate.field.empty() ? "the number of records" : "the number of records with " + gate.field;
        } else {
            std::optional<double> total;
            for (const auto& [record, item] : values) {
                const auto number = AsNumber(*item);
                if (!number) {
                    return Result::Error("with.field: " + gate.field + " is " + Show(*item) +
                                         ", not a number, in record " + std::to_string(record) + " " + context);
                }
                if (!total) {
                    total = *number;
                } else if (gate.aggregate == Aggregate::sum) {
                    *total += *number;
                } else if (gate.aggregate == Aggregate::min) {
                    total = std::min(*total, *number);
                } else {
                    total = std::max(*total, *number);
                }
            }
            value = NumberValue(*total);
            label = gate.field + " (" + std::string(AggregateName(gate.aggregate)) + " of " +
                    std::to_string(values.size()) + (values.size() == 1 ? " record)" : " records)");
        }

        const auto number = AsNumber(value);
        const auto needs_number = [&](std::string_view bound) {
            return Result::Error("with." + std::string(bound) + ": " + label + " is " + Show(value) +
                                 ", not a number " + context);
        };
        if (gate.at_least) {
            if (!number)
                return needs_number("at_least");
            if (*number < *gate.at_least) {
                return Result::Retry(label + " is " + NumberText(*number) + ", needs at least " +
                                     NumberText(*gate.at_least) + " " + context);
            }
        }
        if (gate.at_most) {
            if (!number)
                return needs_number("at_most");
            if (*number > *gate.at_most) {
                return Result::Retry(label + " is " + NumberText(*number) + ", needs at most " +
                                     NumberText(*gate.at_most) + " " + context);
            }
        }
        if (gate.equals) {
            const auto wanted = AsNumber(*gate.equals);
            const bool equal =
                number && wanted && gate.equals->is_number()
                    ? *number == *wanted
                    : (value.is_string() && gate.equals->is_string() ? value.get_string() == gate.equals->get_string()
                                                                     : Show(value) == Show(*gate.equals));
            if (!equal) {
                return Result::Retry(label + " is " + Show(value) + ", needs to equal " + Show(*gate.equals) + " " +
                                     context);
            }
        }

        host().Log(LogLevel::info, label + " is " + Show(value) + ": condition met " + context);
        json::object output{{"value", value},
                            {"records", static_cast<std::int64_t>(records->size())},
                            {"source", gate.source},
                            {"aggregate", AggregateName(gate.aggregate)}};
        if (!gate.field.empty())
            output["field"] = gate.field;
        return Result::Ok(json::object{{"output", std::move(output)}});
    }
};

}  // namespace

CASCADE_PLUGIN(ActionSourceGate, "action-source-gate")
