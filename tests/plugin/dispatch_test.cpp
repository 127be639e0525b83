// The engine with real plugins behind its outbox: a working fixture plugin
// beside each deliberately broken one (missing symbol, wrong ABI, throws,
// hangs, crashes, garbage output, slow start...). Whatever the broken plugin
// does, the working one's notifications arrive, the broken one's are retried
// with back-off and then parked as dead letters, the engine goes on taking
// commands, and nothing is lost: every queued effect is delivered or dead.
#include "../runtime/runtime_fixture.hpp"

#include "cascade/runtime/plugin_dispatch.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

namespace cascade::testing {
namespace {

namespace json = boost::json;

struct PluginCampaign {
    TempDir dir;
    engine::VirtualClock clock{Local("2023-09-01T09:00")};
    std::unique_ptr<store::Store> store;
    std::unique_ptr<runtime::Runtime> runtime;
    std::string good_log;
    std::ostringstream builtin_log;

    PluginCampaign(const std::string& bad_plugin, const std::string& isolation, const std::string& bad_config = "{}") {
        good_log = (dir.Path() / "good.log").string();
        const std::string workflow = (dir.Path() / "plugin-drill.yaml").string();
        std::ofstream(workflow) << Text{ReadFile(std::string(CASCADE_SOURCE_DIR) +
                                                 "/tests/data/plugin/plugin-drill.yaml")}
                                       .replace_all("@BAD_CONFIG@", bad_config)
                                       .replace_all("@DIR@", dir.Path().string())
                                       .replace_all("@GOOD_LOG@", good_log)
                                       .replace_all("@BAD_PLUGIN@", bad_plugin)
                                       .replace_all("@ISOLATION@", isolation)
                                       .text;
        store = std::make_unique<store::Store>(store::Store::Open((dir.Path() / "campaign.db").string()));
        runtime::RuntimeOptions options;
        options.utc_offset_minutes = kOffset;
        options.backoff_ms = 1'000;
        options.max_attempts = 3;
        runtime = std::make_unique<runtime::Runtime>(*store, clock, options);
        auto roster = lang::LoadRosterFile(EngineData("roster.yaml"));
        REQUIRE(roster.Ok());
        REQUIRE_FALSE(runtime->ImportUnits(*roster.units));
        auto registered = runtime->Register(workflow);
        if (auto* diagnostics = std::get_if<lang::Diagnostics>(&registered)) {
            FAIL(lang::FormatText(diagnostics->Items().front()));
        }
        const auto started = runtime->StartCampaign(std::get<runtime::Workflow>(registered), {});
        REQUIRE_FALSE(started.error);
        REQUIRE(started.instances.size() >= 2);
    }

    runtime::DispatchOptions Dispatch() const {
        runtime::DispatchOptions options;
        options.plugin_folders = {CASCADE_FIXTURE_PLUGIN_DIR};
        options.plugin_host = CASCADE_BINARY;
        options.default_timeout = std::chrono::milliseconds(2'000);
        return options;
    }

    std::size_t Count(const std::string& status, const std::string& target) {
        std::size_t count = 0;
        for (const auto& row : store->Outbox(status))
            count += row.target == target ? 1 : 0;
        return count;
    }

    std::size_t GoodLines() const {
        std::ifstream in(good_log);
        std::size_t lines = 0;
        for (std::string line; std::getline(in, line);)
            lines += line.empty() ? 0 : 1;
        return lines;
    }
};

struct BrokenCase {
    const char* plugin;
    const char* isolation;
    const char* config;
    const char* expected;  // a part of the message the dead letter keeps
};

}  // namespace

TEST_CASE("a broken plugin of every kind leaves the engine running with nothing lost", "[plugin][dispatch]") {
    const BrokenCase broken =
        GENERATE(BrokenCase{"fixture-missing-symbol", "in-process", "{}", "cascade_plugin_entry"},
                 BrokenCase{"fixture-wrong-major", "in-process", "{}", "ABI 2.0"},
                 BrokenCase{"fixture-newer-minor", "in-process", "{}", "ABI 1.1"},
                 BrokenCase{"fixture-no-manifest", "in-process", "{}", "not installed"},
                 BrokenCase{"fixture-throws", "in-process", "{}", "exception"},
                 BrokenCase{"fixture-throws", "in-process", R"({"throw_in_create": true})", "threw"},
                 BrokenCase{"fixture-hangs", "in-process", "{}", "(fixture-hangs)"},
                 BrokenCase{"fixture-hangs-stdio", "in-process", "{}", "within"},
                 BrokenCase{"fixture-crashes", "process", "{}", "signal"},
                 BrokenCase{"fixture-crashes-stdio", "in-process", "{}", ""},
                 BrokenCase{"fixture-garbage", "in-process", "{}", "malformed JSON"},
                 BrokenCase{"fixture-garbage-stdio", "in-process", "{}", ""},
                 BrokenCase{"fixture-slow-start", "in-process", "{}", "within"});
    INFO(broken.plugin << " (isolation " << broken.isolation << ", config " << broken.config << ")");
    PluginCampaign campaign(broken.plugin, broken.isolation, broken.config);
    const std::size_t good_queued = campaign.Count("pending", "good");
    const std::size_t bad_queued = campaign.Count("pending", "bad");
    REQUIRE(good_queued > 0);
    REQUIRE(bad_queued == good_queued);

    runtime::PluginDispatcher dispatcher(*campaign.runtime, campaign.Dispatch(), campaign.builtin_log);
    // Three attempts each, with back-off in between: the broken plugin's effects die, nothing else does.
    for (int round = 0; round < 6; ++round) {
        campaign.runtime->DeliverDueEffects(std::ref(dispatcher));
        campaign.clock.Advance(60'000);
    }
    CHECK(campaign.Count("delivered", "good") == good_queued);
    CHECK(campaign.GoodLines() == good_queued);
    CHECK(campaign.Count("dead", "bad") == bad_queued);
    CHECK(campaign.Count("pending", "bad") == 0);
    for (const auto& row : campaign.store->Outbox("dead")) {
        CHECK(row.attempts >= 1);
        CHECK_THAT(row.last_error, Catch::Contains(broken.expected));
    }

    // The engine still takes commands, and their effects are still delivered.
    const auto instances = campaign.store->Instances();
    REQUIRE_FALSE(instances.empty());
    runtime::CommandRequest request;
    request.instance = instances.front().id;
    request.actor = {"leader", instances.front().unit, ""};
    request.command = engine::Submit{"study_plan", json::object{{"sessions", 2}}};
    const auto outcome = campaign.runtime->Execute(request);
    INFO((outcome.error ? outcome.error->message : std::string()));
    CHECK(outcome.Ok());
}

TEST_CASE("a dead letter is delivered again once an administrator redelivers it", "[plugin][dispatch]") {
    // `bad` writes into a folder that does not exist yet: its deliveries fail until it does.
    PluginCampaign campaign("fixture-good", "in-process", R"({"path": "@DIR@/later/bad.log"})");
    {
        runtime::PluginDispatcher dispatcher(*campaign.runtime, campaign.Dispatch(), campaign.builtin_log);
        for (int round = 0; round < 6; ++round) {
            campaign.runtime->DeliverDueEffects(std::ref(dispatcher));
            campaign.clock.Advance(60'000);
        }
    }
    const auto dead = campaign.store->Outbox("dead");
    REQUIRE_FALSE(dead.empty());
    CHECK(campaign.Count("delivered", "good") == campaign.Count("dead", "bad"));

    std::filesystem::create_directories(campaign.dir.Path() / "later");
    for (const auto& row : dead)
        REQUIRE(campaign.store->Revive(row.id, campaign.clock.Now()));
    runtime::PluginDispatcher dispatcher(*campaign.runtime, campaign.Dispatch(), campaign.builtin_log);
    const auto counts = campaign.runtime->DeliverDueEffects(std::ref(dispatcher));
    CHECK(counts.delivered == static_cast<int>(dead.size()));
    CHECK(campaign.store->Outbox("dead").empty());
    CHECK(campaign.store->Outbox("pending").empty());
}

TEST_CASE("the same effect delivered twice carries the same idempotency key", "[plugin][dispatch]") {
    PluginCampaign campaign("fixture-good", "in-process", R"({"path": "@DIR@/bad.log"})");
    {
        runtime::PluginDispatcher dispatcher(*campaign.runtime, campaign.Dispatch(), campaign.builtin_log);
        std::vector<store::OutboxRow> rows;
        for (const auto& row : campaign.store->Outbox("pending")) {
            if (row.target == "bad")
                rows.push_back(row);
        }
        REQUIRE_FALSE(rows.empty());
        // Delivered, then (as after a crash before the outcome was recorded) delivered again.
        REQUIRE(dispatcher(rows.front()).status == runtime::Delivery::Status::ok);
        REQUIRE(dispatcher(rows.front()).status == runtime::Delivery::Status::ok);
    }
    std::ifstream in(campaign.dir.Path() / "bad.log");
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);)
        lines.push_back(line);
    REQUIRE(lines.size() == 2);
    CHECK(lines[0] == lines[1]);
}

}  // namespace cascade::testing
