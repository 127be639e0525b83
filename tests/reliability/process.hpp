// Child processes for the reliability tests: start a program with its output
// in files (posix_spawn), wait for it with or without a deadline, kill it.
// The crash test kills the crash driver with SIGKILL; the concurrency test
// races two `cascade` processes against one database.
#pragma once

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace cascade::testing {

struct ExitStatus {
    bool exited = false;  // false: killed by a signal
    int code = -1;        // the exit code, or the signal
    bool Ok() const { return exited && code == 0; }
    std::string Describe() const {
        return exited ? "exit " + std::to_string(code) : "killed by signal " + std::to_string(code);
    }
};

inline ExitStatus Decode(int status) {
    if (WIFEXITED(status)) {
        return {true, WEXITSTATUS(status)};
    }
    if (WIFSIGNALED(status)) {
        return {false, WTERMSIG(status)};
    }
    return {false, -1};
}

// Starts `argv` with stdout and stderr written to the given files (truncated)
// and `env` ("NAME=value") added to this process's environment.
inline pid_t Spawn(const std::vector<std::string>& argv, const std::string& stdout_path, const std::string& stderr_path,
                   const std::vector<std::string>& env = {}) {
    posix_spawn_file_actions_t actions;
    REQUIRE(posix_spawn_file_actions_init(&actions) == 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);

    std::vector<std::string> environment;
    for (char** entry = environ; *entry != nullptr; ++entry) {
        const std::string text(*entry);
        const bool replaced = std::any_of(env.begin(), env.end(), [&](const std::string& added) {
            return text.compare(0, added.find('=') + 1, added, 0, added.find('=') + 1) == 0;
        });
        if (!replaced) {
            environment.push_back(text);
        }
    }
    environment.insert(environment.end(), env.begin(), env.end());

    std::vector<char*> args;
    for (const auto& arg : argv) {
        args.push_back(const_cast<char*>(arg.c_str()));
    }
    args.push_back(nullptr);
    std::vector<char*> envp;
    for (const auto& entry : environment) {
        envp.push_back(const_cast<char*>(entry.c_str()));
    }
    envp.push_back(nullptr);

    pid_t pid = 0;
    const int error = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    INFO("posix_spawn " << argv[0] << ": " << std::strerror(error));
    REQUIRE(error == 0);
    return pid;
}

inline ExitStatus Wait(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            FAIL("waitpid " << pid << ": " << std::strerror(errno));
        }
    }
    return Decode(status);
}

// The exit status if the child ends before `deadline`, else nothing (it still runs).
inline std::optional<ExitStatus> WaitUntil(pid_t pid, std::chrono::steady_clock::time_point deadline) {
    for (;;) {
        int status = 0;
        const pid_t done = ::waitpid(pid, &status, WNOHANG);
        // Not REQUIRE: this is polled thousands of times and would swell the assertion count.
        if (done < 0) {
            FAIL("waitpid " << pid << ": " << std::strerror(errno));
        }
        if (done == pid) {
            return Decode(status);
        }
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline) {
            return std::nullopt;
        }
        std::this_thread::sleep_for(
            std::min<std::chrono::steady_clock::duration>(deadline - now, std::chrono::microseconds(500)));
    }
}

// Runs to the end and returns the exit status.
inline ExitStatus RunProgram(const std::vector<std::string>& argv, const std::string& stdout_path,
                             const std::string& stderr_path, const std::vector<std::string>& env = {}) {
    return Wait(Spawn(argv, stdout_path, stderr_path, env));
}

}  // namespace cascade::testing
