// A campaign on a real SQLite file in a fresh temporary folder, for the
// runtime tests: the test roster, a workflow from tests/data/engine, a
// virtual clock at 2023-09-01 09:00 (+08:00), and a way to "restart" (close
// and reopen everything on the same file, as a new process would).
#pragma once

#include "cascade/lang/roster_loader.hpp"
#include "cascade/runtime/runtime.hpp"

#include "../support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

namespace cascade::testing {

inline constexpr int kOffset = 480;  // +08:00

// "2023-09-12T09:00" in +08:00 as a timestamp.
inline engine::Timestamp Local(const std::string& text) {
    const auto date = model::Date::Parse(text.substr(0, 10));
    REQUIRE(date);
    int hour = 0;
    int minute = 0;
    if (text.size() > 10) {
        REQUIRE(std::sscanf(text.c_str() + 10, "T%d:%d", &hour, &minute) == 2);
    }
    return engine::StartOfDay(*date, kOffset) + (hour * 60 + minute) * 60'000LL;
}

struct Text {
    std::string text;
    Text replace_all(const std::string& from, const std::string& to) const {
        std::string result = text;
        for (std::size_t at = result.find(from); at != std::string::npos; at = result.find(from, at + to.size())) {
            result.replace(at, from.size(), to);
        }
        return {result};
    }
};

inline std::string EngineData(const std::string& name) {
    return std::string(CASCADE_SOURCE_DIR) + "/tests/data/engine/" + name;
}

inline std::string ReadFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

class Campaign {
public:
    explicit Campaign(const std::string& workflow, const std::string& roster = EngineData("roster.yaml"))
        : clock(Local("2023-09-01T09:00")) {
        // The workflows are copied next to each other so that tests can add new versions.
        for (const auto& entry : std::filesystem::directory_iterator(EngineData(""))) {
            if (entry.path().extension() == ".yaml") {
                std::filesystem::copy_file(entry.path(), dir.Path() / entry.path().filename());
            }
        }
        db_path = (dir.Path() / "campaign.db").string();
        Open();
        auto loaded = lang::LoadRosterFile(roster);
        INFO((loaded.diagnostics.Items().empty() ? std::string()
                                                 : lang::FormatText(loaded.diagnostics.Items().front())));
        REQUIRE(loaded.Ok());
        REQUIRE_FALSE(runtime->ImportUnits(*loaded.units));
        auto registered = runtime->Register((dir.Path() / workflow).string());
        if (auto* diagnostics = std::get_if<lang::Diagnostics>(&registered)) {
            FAIL(lang::FormatText(diagnostics->Items().front()));
        }
        started = runtime->StartCampaign(std::get<runtime::Workflow>(registered), {});
        INFO((started.error ? started.error->message : std::string()));
        REQUIRE_FALSE(started.error);
    }

    void Open() {
        store = std::make_unique<store::Store>(store::Store::Open(db_path));
        runtime::RuntimeOptions options;
        options.utc_offset_minutes = kOffset;
        options.backoff_ms = 1000;
        runtime = std::make_unique<runtime::Runtime>(*store, clock, options);
    }

    // Closes everything and opens the same file again, as a new process would.
    void Restart() {
        runtime.reset();
        store.reset();
        Open();
    }

    std::string Write(const std::string& name, const std::string& text) {
        const auto path = dir.Path() / name;
        std::ofstream(path, std::ios::binary) << text;
        return path.string();
    }
    Text Read(const std::string& name) { return {ReadFile((dir.Path() / name).string())}; }

    TempDir dir;
    engine::VirtualClock clock;
    std::string db_path;
    std::unique_ptr<store::Store> store;
    std::unique_ptr<runtime::Runtime> runtime;
    runtime::StartOutcome started;
};

}  // namespace cascade::testing
