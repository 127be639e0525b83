// Running the `cascade` binary from tests as a user would: no shell, stdout
// and stderr captured separately, a scratch folder per test.
#pragma once

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace cascade::cli_testing {

namespace fs = std::filesystem;

struct Run {
    int exit_code = -1;
    std::string out;
    std::string err;
};

inline std::string ReadFile(const fs::path& path) {
    std::ifstream stream(path, std::ios::binary);
    std::ostringstream text;
    text << stream.rdbuf();
    return text.str();
}

// A scratch folder for one test, removed when the test ends.
class TempDir {
public:
    TempDir() {
        std::string pattern = (fs::temp_directory_path() / "cascade-cli-XXXXXX").string();
        REQUIRE(mkdtemp(pattern.data()) != nullptr);
        path_ = pattern;
    }
    ~TempDir() {
        std::error_code ignored;
        fs::remove_all(path_, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const fs::path& Path() const { return path_; }

    fs::path Write(const std::string& name, const std::string& text) const {
        const fs::path file = path_ / name;
        std::ofstream stream(file, std::ios::binary);
        stream << text;
        return file;
    }

private:
    fs::path path_;
};

// Runs the cascade binary with `arguments`, no shell involved; stdout and
// stderr go to separate files so each can be checked on its own.
// `environment` adds NAME=VALUE entries (CASCADE_NOW ...) to the child's environment.
inline Run Cascade(const std::vector<std::string>& arguments, const std::vector<std::string>& environment = {}) {
    TempDir scratch;
    const fs::path out_path = scratch.Path() / "stdout";
    const fs::path err_path = scratch.Path() / "stderr";
    std::vector<std::string> argv_storage{CASCADE_BINARY};
    argv_storage.insert(argv_storage.end(), arguments.begin(), arguments.end());
    std::vector<char*> argv;
    for (auto& argument : argv_storage) {
        argv.push_back(argument.data());
    }
    argv.push_back(nullptr);

    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        const int null = open("/dev/null", O_RDONLY);
        if (out < 0 || err < 0 || null < 0) {
            _exit(126);
        }
        dup2(null, STDIN_FILENO);
        dup2(out, STDOUT_FILENO);
        dup2(err, STDERR_FILENO);
        for (const auto& entry : environment) {
            putenv(const_cast<char*>(entry.c_str()));  // the child's copy; it execs at once
        }
        execv(argv[0], argv.data());
        _exit(127);
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    Run run;
    REQUIRE(WIFEXITED(status));
    run.exit_code = WEXITSTATUS(status);
    run.out = ReadFile(out_path);
    run.err = ReadFile(err_path);
    return run;
}

}  // namespace cascade::cli_testing
