// What the report plugin tests share: the sample `report` params, opening a
// reporter from the build tree through the host API, scratch folders, and
// running a real child process (unzip, chromium) to read what was written.
#pragma once

#include "cascade/plugin/plugin.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

extern char** environ;  // NOLINT: POSIX

namespace cascade::test::report {

namespace fs = std::filesystem;
namespace json = boost::json;

inline fs::path PluginFile(const std::string& name) {
    return fs::path(CASCADE_PLUGIN_BUILD_DIR) / (name + ".so");
}

// The sample params: 31 units of 安澜县 in five categories, the six stages of
// theme-education.yaml, overdue units and a burn-down from September to January.
inline json::object SampleParams(const fs::path& out_dir) {
    const fs::path file = fs::path(CASCADE_SOURCE_DIR) / "tests/data/plugins/report-params.json";
    std::ifstream in(file, std::ios::binary);
    REQUIRE(in.good());
    std::stringstream text;
    text << in.rdbuf();
    json::object params = json::parse(text.str()).as_object();
    params["out_dir"] = out_dir.string();
    return params;
}

// A fresh folder under the system's temporary folder, removed afterwards.
class ScratchDir {
public:
    ScratchDir() {
        static std::atomic<int> counter{0};
        path_ = fs::temp_directory_path() /
                ("cascade-report-test-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
        fs::remove_all(path_);
        fs::create_directories(path_);
    }
    ~ScratchDir() {
        std::error_code ignored;
        fs::remove_all(path_, ignored);
    }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
    const fs::path& Path() const { return path_; }

private:
    fs::path path_;
};

inline std::variant<std::unique_ptr<cascade::plugin::Instance>, std::string> TryOpen(const std::string& name,
                                                                                     json::object config) {
    auto manifest = cascade::plugin::ReadManifest(PluginFile(name));
    if (const auto* message = std::get_if<std::string>(&manifest)) {
        FAIL(*message);
    }
    cascade::plugin::OpenOptions options;
    options.declaration = "report";
    options.config = std::move(config);
    return cascade::plugin::Open(std::get<cascade::plugin::Manifest>(manifest), options);
}

inline std::unique_ptr<cascade::plugin::Instance> OpenReporter(const std::string& name, json::object config = {}) {
    auto opened = TryOpen(name, std::move(config));
    if (const auto* message = std::get_if<std::string>(&opened)) {
        FAIL(*message);
    }
    return std::get<std::unique_ptr<cascade::plugin::Instance>>(std::move(opened));
}

// Calls `report` and returns the one file it says it wrote (checked to be absolute and present).
inline fs::path ReportFile(cascade::plugin::Instance& instance, const json::object& params) {
    const cascade::plugin::CallResult result = instance.Call("report", params);
    INFO(result.message);
    REQUIRE(result.Ok());
    const json::array& files = result.value.at("files").as_array();
    REQUIRE(files.size() == 1);
    fs::path file(std::string(files[0].as_string()));
    CHECK(file.is_absolute());
    CHECK(fs::is_regular_file(file));
    return file;
}

inline std::string ReadText(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

inline void WriteText(const fs::path& file, const std::string& text) {
    std::ofstream out(file, std::ios::binary);
    out << text;
}

// Files in `dir`: after a report only the report itself, no temporary leftovers.
inline std::vector<std::string> FileNames(const fs::path& dir) {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir))
        names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

// A folder nobody can write to, not even root: its parent is a regular file.
inline fs::path UnwritableDir(const fs::path& scratch) {
    WriteText(scratch / "not-a-folder", "x");
    return scratch / "not-a-folder" / "reports";
}

struct ProcessResult {
    int exit_code = -1;
    std::string output;  // standard output
};

// Runs `argv` as a child process (no shell), standard error discarded, and collects its output.
inline ProcessResult Run(const std::vector<std::string>& argv) {
    std::array<int, 2> pipe_fds{};
    REQUIRE(::pipe(pipe_fds.data()) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
    posix_spawn_file_actions_addclose(&actions, pipe_fds[1]);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    std::vector<char*> args;
    for (const auto& arg : argv)
        args.push_back(const_cast<char*>(arg.c_str()));  // NOLINT: POSIX signature
    args.push_back(nullptr);
    pid_t pid = 0;
    const int spawned = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(pipe_fds[1]);
    ProcessResult result;
    if (spawned != 0) {
        ::close(pipe_fds[0]);
        return result;
    }
    std::array<char, 65536> buffer{};
    for (ssize_t n; (n = ::read(pipe_fds[0], buffer.data(), buffer.size())) > 0;) {
        result.output.append(buffer.data(), static_cast<std::size_t>(n));
    }
    ::close(pipe_fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
}

}  // namespace cascade::test::report
