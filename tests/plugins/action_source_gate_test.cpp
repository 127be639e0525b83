// action-source-gate, loaded from the build tree through the host API, with
// its sources served by the real source-csv plugin over the study hours a
// learning platform exported: a condition met completes the step, one not
// met yet (or no record yet) is a RETRY saying how far off the unit is, a
// unit that catches up passes on a later attempt, and a source's failure or a
// `with` that cannot work is reported as such.
#include "../support/temp_dir.hpp"
#include "cascade/plugin/plugin.hpp"

#include <unistd.h>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using cascade::plugin::CallResult;
using cascade::plugin::Status;

fs::path Plugins() {
    return fs::path(CASCADE_PLUGIN_BUILD_DIR);
}
fs::path StudyHours() {
    return fs::path(CASCADE_SOURCE_DIR) / "tests/data/plugins/source-study-hours.csv";
}

using cascade::testing::TempDir;

cascade::plugin::Manifest LoadManifest(const fs::path& file) {
    auto manifest = cascade::plugin::ReadManifest(file);
    if (const auto* message = std::get_if<std::string>(&manifest))
        FAIL(*message);
    return std::get<cascade::plugin::Manifest>(std::move(manifest));
}

// The workflow's source declarations: each a real source-csv instance, read
// the way the engine reads them for an action. Remembers every read.
class Sources {
public:
    void DeclareCsv(const std::string& name, const fs::path& file) {
        cascade::plugin::OpenOptions options;
        options.declaration = name;
        options.config = json::object{{"path", file.string()}, {"key", "unit"}};
        auto opened = cascade::plugin::Open(LoadManifest(Plugins() / "source-csv.so"), options);
        if (const auto* message = std::get_if<std::string>(&opened))
            FAIL(*message);
        declared_[name] = std::get<std::unique_ptr<cascade::plugin::Instance>>(std::move(opened));
    }

    CallResult Read(std::string_view source, const json::object& params) {
        reads_.emplace_back(std::string(source), params);
        const auto found = declared_.find(std::string(source));
        if (found == declared_.end()) {
            return {Status::error, nullptr, "the workflow declares no source '" + std::string(source) + "'"};
        }
        return found->second->Call("read", params);
    }

    const std::vector<std::pair<std::string, json::object>>& Reads() const { return reads_; }

private:
    std::map<std::string, std::unique_ptr<cascade::plugin::Instance>> declared_;
    std::vector<std::pair<std::string, json::object>> reads_;
};

std::variant<std::unique_ptr<cascade::plugin::Instance>, std::string> TryOpenGate(Sources& sources,
                                                                                  json::object config = {}) {
    cascade::plugin::OpenOptions options;
    options.declaration = "gate";
    options.config = std::move(config);
    options.read_source = [&sources](std::string_view source, const json::object& params) {
        return sources.Read(source, params);
    };
    return cascade::plugin::Open(LoadManifest(Plugins() / "action-source-gate.so"), options);
}

std::unique_ptr<cascade::plugin::Instance> OpenGate(Sources& sources) {
    auto opened = TryOpenGate(sources);
    if (const auto* message = std::get_if<std::string>(&opened))
        FAIL(*message);
    return std::get<std::unique_ptr<cascade::plugin::Instance>>(std::move(opened));
}

// The params the engine passes for one attempt of a step's action.
json::object Act(const std::string& unit, json::object with, int attempt = 1) {
    return json::object{{"key", "theme-education-2023/" + unit + "/study_hours/1"},
                        {"declaration", "gate"},
                        {"attempt", attempt},
                        {"instance", "theme-education-2023/" + unit},
                        {"unit", unit},
                        {"step", "study_hours"},
                        {"activation", 1},
                        {"action", "complete_when"},
                        {"with", std::move(with)}};
}

json::object Hours(const json::object& condition, const std::string& aggregate = "") {
    json::object with{{"source", "learning"}, {"field", "hours"}};
    for (const auto& [key, value] : condition)
        with[key] = value;
    if (!aggregate.empty())
        with["aggregate"] = aggregate;
    return with;
}

json::object Output(const CallResult& result) {
    INFO(result.message);
    REQUIRE(result.status == Status::ok);
    return result.value.at("output").as_object();
}

}  // namespace

TEST_CASE("action-source-gate describes itself", "[plugins][action-source-gate]") {
    const auto manifest = LoadManifest(Plugins() / "action-source-gate.so");
    CHECK(manifest.name == "action-source-gate");
    CHECK(manifest.HasKind("action"));
    CHECK(manifest.config_schema.at("additionalProperties") == false);

    Sources sources;
    CHECK(std::holds_alternative<std::string>(TryOpenGate(sources, {{"source", "learning"}})));
}

TEST_CASE("action-source-gate completes a step when the source reports the condition met",
          "[plugins][action-source-gate]") {
    Sources sources;
    sources.DeclareCsv("learning", StudyHours());
    auto gate = OpenGate(sources);

    SECTION("the sum of a unit's study hours reaches the bar") {
        const auto& output = Output(gate->Call("act", Act("tw01", Hours({{"at_least", 7}}, "sum"))));
        CHECK(output.at("field") == "hours");
        CHECK(output.at("value").as_double() == 9.5);
        CHECK(output.at("records").as_int64() == 3);
        CHECK(output.at("source") == "learning");
        CHECK(output.at("aggregate") == "sum");
        // The source was asked for this unit's records.
        REQUIRE(sources.Reads().size() == 1);
        CHECK(sources.Reads()[0].first == "learning");
        CHECK(sources.Reads()[0].second == json::object{{"where", json::object{{"unit", "tw01"}}}});
    }
    SECTION("the first record by default; whole numbers come out whole") {
        const auto& output = Output(gate->Call("act", Act("dp01", Hours({{"at_least", 7}}))));
        CHECK(output.at("value").as_int64() == 8);
        CHECK(output.at("aggregate") == "first");
    }
    SECTION("at_most, min and max") {
        CHECK(Output(gate->Call("act", Act("dp01", Hours({{"at_most", 8}}, "max")))).at("value").as_int64() == 8);
        CHECK(Output(gate->Call("act", Act("tw01", Hours({{"at_least", 2}, {"at_most", 4}}, "min"))))
                  .at("value")
                  .as_int64() == 2);
    }
    SECTION("equals, on numbers and on text") {
        CHECK(Output(gate->Call("act", Act("dp01", Hours({{"equals", 14.5}}, "sum")))).at("value").as_double() == 14.5);
        json::object with{{"source", "learning"}, {"field", "member"}, {"equals", "唐晓明"}};
        CHECK(Output(gate->Call("act", Act("dp01", with))).at("value") == "唐晓明");
    }
    SECTION("count needs no field") {
        json::object with{{"source", "learning"}, {"aggregate", "count"}, {"at_least", 3}};
        const auto& output = Output(gate->Call("act", Act("tw01", with)));
        CHECK(output.at("value").as_int64() == 3);
        CHECK_FALSE(output.contains("field"));
    }
    SECTION("extra filters from with.where reach the source") {
        json::object with = Hours({{"at_least", 6}});
        with["where"] = json::object{{"member", "王辉"}};
        CHECK(Output(gate->Call("act", Act("dp01", with))).at("value").as_double() == 6.5);
        CHECK(sources.Reads().back().second ==
              json::object{{"where", json::object{{"unit", "dp01"}, {"member", "王辉"}}}});
    }
}

TEST_CASE("action-source-gate retries while the condition is not met", "[plugins][action-source-gate]") {
    Sources sources;
    sources.DeclareCsv("learning", StudyHours());
    auto gate = OpenGate(sources);

    SECTION("short of at_least, saying by how much") {
        const auto result = gate->Call("act", Act("tw02", Hours({{"at_least", 7}})));
        CHECK(result.status == Status::retry);
        CHECK(result.message == "hours is 2.5, needs at least 7 (source learning, unit tw02)");
    }
    SECTION("an aggregate says what it added up") {
        const auto result = gate->Call("act", Act("tw02", Hours({{"at_least", 7}}, "sum")));
        CHECK(result.status == Status::retry);
        CHECK(result.message == "hours (sum of 2 records) is 5.5, needs at least 7 (source learning, unit tw02)");
    }
    SECTION("over at_most") {
        const auto result = gate->Call("act", Act("dp01", Hours({{"at_most", 7}}, "max")));
        CHECK(result.status == Status::retry);
        CHECK(result.message == "hours (max of 2 records) is 8, needs at most 7 (source learning, unit dp01)");
    }
    SECTION("not equal") {
        json::object with{{"source", "learning"}, {"field", "member"}, {"equals", "王辉"}};
        const auto result = gate->Call("act", Act("dp01", with));
        CHECK(result.status == Status::retry);
        CHECK(result.message == "member is '唐晓明', needs to equal '王辉' (source learning, unit dp01)");
    }
    SECTION("no record yet") {
        const auto result = gate->Call("act", Act("tw03", Hours({{"at_least", 7}})));
        CHECK(result.status == Status::retry);
        CHECK(result.message == "no record yet (source learning, unit tw03)");
    }
}

TEST_CASE("action-source-gate passes on a later attempt once the unit catches up", "[plugins][action-source-gate]") {
    TempDir dir;
    const fs::path export_file = dir.Path() / "study-hours.csv";
    fs::copy_file(StudyHours(), export_file);
    Sources sources;
    sources.DeclareCsv("learning", export_file);
    auto gate = OpenGate(sources);
    const json::object with = Hours({{"at_least", 7}}, "sum");

    CHECK(gate->Call("act", Act("tw02", with, 1)).status == Status::retry);
    // The next day's export has another member's hours.
    std::ofstream(export_file, std::ios::app) << "tw02,卢平,2\r\n";
    const auto& output = Output(gate->Call("act", Act("tw02", with, 2)));
    CHECK(output.at("value").as_double() == 7.5);
    CHECK(output.at("records").as_int64() == 3);
}

TEST_CASE("action-source-gate passes on a source's failure", "[plugins][action-source-gate]") {
    TempDir dir;
    const fs::path broken = dir.Path() / "broken.csv";
    std::ofstream(broken) << "unit,hours\ntw01,\"3\n";
    Sources sources;
    sources.DeclareCsv("pending", dir.Path() / "not-delivered-yet.csv");
    sources.DeclareCsv("broken", broken);
    auto gate = OpenGate(sources);
    const auto act = [&](const std::string& source) {
        json::object with{{"source", source}, {"field", "hours"}, {"at_least", 7}};
        return gate->Call("act", Act("tw01", with));
    };

    const auto pending = act("pending");
    CHECK(pending.status == Status::retry);
    CHECK(pending.message.find("source pending") == 0);
    CHECK(pending.message.find("not-delivered-yet.csv") != std::string::npos);

    const auto failed = act("broken");
    CHECK(failed.status == Status::error);
    CHECK(failed.message.find("source broken") == 0);
    CHECK(failed.message.find(":2:6:") != std::string::npos);

    const auto undeclared = act("lerning");
    CHECK(undeclared.status == Status::error);
    CHECK(undeclared.message.find("lerning") != std::string::npos);
}

TEST_CASE("action-source-gate fails a step whose `with` cannot work, naming the field",
          "[plugins][action-source-gate]") {
    Sources sources;
    sources.DeclareCsv("learning", StudyHours());
    auto gate = OpenGate(sources);

    SECTION("settings that cannot work, before anything is read") {
        struct Case {
            json::value with;
            std::string says;
        };
        const std::vector<Case> cases = {
            {json::object{{"field", "hours"}, {"at_least", 7}}, "with.source"},
            {json::object{{"source", 3}, {"field", "hours"}, {"at_least", 7}}, "with.source"},
            {json::object{{"source", "learning"}, {"at_least", 7}}, "with.field"},
            {json::object{{"source", "learning"}, {"field", ""}, {"at_least", 7}}, "with.field"},
            {json::object{{"source", "learning"}, {"field", "hours"}, {"atleast", 7}}, "with.atleast"},
            {json::object{{"source", "learning"}, {"field", "hours"}}, "at_least, at_most or equals"},
            {json::object{{"source", "learning"}, {"field", "hours"}, {"at_least", "7"}}, "with.at_least"},
            {json::object{{"source", "learning"}, {"field", "hours"}, {"at_most", nullptr}}, "with.at_most"},
            {json::object{{"source", "learning"}, {"field", "hours"}, {"equals", json::array{7}}}, "with.equals"},
            {json::object{{"source", "learning"}, {"field", "hours"}, {"at_least", 7}, {"aggregate", "avg"}},
             "with.aggregate"},
            {json::object{{"source", "learning"}, {"field", "hours"}, {"at_least", 7}, {"where", "tw01"}},
             "with.where"},
            {json::object{{"source", "learning"},
                          {"field", "hours"},
                          {"at_least", 7},
                          {"where", json::object{{"m", json::array{}}}}},
             "with.where.m"},
            {json::string("hours >= 7"), "with"},
        };
        for (const auto& one : cases) {
            json::object params = Act("tw01", {});
            params["with"] = one.with;
            const auto result = gate->Call("act", params);
            INFO(json::serialize(one.with) << " -> " << result.message);
            CHECK(result.status == Status::error);
            CHECK(result.message.find(one.says) != std::string::npos);
        }
        CHECK(sources.Reads().empty());  // nothing was read for a `with` that cannot work
    }
    SECTION("a field the records do not have") {
        json::object with{{"source", "learning"}, {"field", "hourz"}, {"at_least", 7}};
        const auto result = gate->Call("act", Act("tw01", with));
        CHECK(result.status == Status::error);
        CHECK(result.message.find("with.field") != std::string::npos);
        CHECK(result.message.find("'hourz'") != std::string::npos);
        CHECK(result.message.find("unit, member, hours") != std::string::npos);
    }
    SECTION("a field that is not a number, for a comparison or a sum") {
        json::object with{{"source", "learning"}, {"field", "member"}, {"at_least", 1}};
        auto result = gate->Call("act", Act("tw01", with));
        CHECK(result.status == Status::error);
        CHECK(result.message.find("with.at_least") != std::string::npos);
        with["aggregate"] = "sum";
        result = gate->Call("act", Act("tw01", with));
        CHECK(result.status == Status::error);
        CHECK(result.message.find("not a number") != std::string::npos);
    }
    SECTION("no unit") {
        json::object params = Act("tw01", Hours({{"at_least", 7}}));
        params.erase("unit");
        const auto result = gate->Call("act", params);
        CHECK(result.status == Status::error);
        CHECK(result.message.find("params.unit") != std::string::npos);
    }
}
