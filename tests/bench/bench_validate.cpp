// Load + validate time of generated workflows of growing size.
//
// Each generated workflow repeats a 10-step block: a task with a form and a
// gate, a decision with a bounded rework edge back to it, a three-branch
// parallel and its join, a reviewed task with a working-day deadline, and two
// plain tasks. Prints, per size, the median of several runs and the time per
// step, so growth can be compared with n log n in one run.
#include "cascade/check/checker.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

std::string GenerateWorkflow(std::size_t steps) {
    const std::size_t blocks = std::max<std::size_t>(1, steps / 10);
    std::string text;
    text.reserve(blocks * 1200);
    text +=
        "apiVersion: cascade/v1\nkind: Workflow\nid: bench\ntitle: {zh: 基准, en: Benchmark}\n"
        "calendar: {start: 2023-09-01, end: 2024-01-31}\n"
        "roles: {leader: {title: 第一责任人}, office: {title: 办公室}}\n"
        "scope: {categories: {township: 乡镇, department: 部门}, member_types: {mobile: 流动党员}}\n"
        "stages: {study: {title: 理论学习}, rectify: {title: 整改}}\n"
        "steps:\n";
    for (std::size_t b = 0; b < blocks; ++b) {
        const std::string n = std::to_string(b);
        const std::string next = b + 1 < blocks ? "t" + std::to_string(b + 1) : "done";
        text += "  t" + n +
                ":\n    kind: task\n    stage: study\n    assignee: leader\n"
                "    form:\n      reading_days: {type: integer, minimum: 0}\n      sessions: {type: integer}\n"
                "    gate: form.reading_days >= 7 and form.sessions >= 2\n    next: d" +
                n + "\n";
        text += "  d" + n +
                ":\n    kind: decision\n    next:\n"
                "      - {to: t" +
                n + ", when: steps.t" + n +
                ".form.sessions < 2 and unit.category == 'township', max_rounds: 2}\n"
                "      - {to: p" +
                n + "}\n";
        text += "  p" + n + ": {kind: parallel, next: [a" + n + ", b" + n + ", c" + n + "]}\n";
        for (const char* branch : {"a", "b", "c"}) {
            text += "  " + std::string(branch) + n +
                    ": {kind: task, assignee: leader, applies_if: 'unit.members.mobile > 0', next: j" + n + "}\n";
        }
        text += "  j" + n + ": {kind: join, require: all, next: r" + n + "}\n";
        text += "  r" + n +
                ":\n    kind: task\n    stage: rectify\n    assignee: leader\n"
                "    review: {by: parent.office, max_rounds: 3}\n    due: 10 working days\n    remind: [P7D, P1D]\n"
                "    escalate: {after: P3D, to: parent.leader}\n    next: s" +
                n + "\n";
        text += "  s" + n + ": {kind: task, assignee: leader, next: u" + n + "}\n";
        text += "  u" + n + ": {kind: task, assignee: leader, next: " + next + "}\n";
    }
    text += "  done: {kind: end}\n";
    return text;
}

double Median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    const std::size_t middle = values.size() / 2;
    return values.size() % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::size_t> sizes = {100, 1000, 10000};
    int runs = 7;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--sizes") == 0 && i + 1 < argc) {
            sizes.clear();
            for (char* token = std::strtok(argv[++i], ","); token != nullptr; token = std::strtok(nullptr, ",")) {
                sizes.push_back(std::strtoul(token, nullptr, 10));
            }
        } else if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
            runs = std::max(1, std::atoi(argv[++i]));
        } else {
            std::fprintf(stderr, "usage: bench_validate [--sizes 100,1000,10000] [--runs 7]\n");
            return 2;
        }
    }
    std::printf("%8s %10s %12s %12s %14s\n", "steps", "bytes", "median ms", "us/step", "ns/(n log2 n)");
    double first_per_nlogn = 0;
    for (const std::size_t size : sizes) {
        const std::string text = GenerateWorkflow(size);
        std::vector<double> times;
        std::size_t loaded_steps = 0;
        for (int run = 0; run < runs; ++run) {
            const auto begin = std::chrono::steady_clock::now();
            auto result = cascade::check::ValidateWorkflowText(text, "bench.yaml");
            const auto end = std::chrono::steady_clock::now();
            if (!result.Ok()) {
                for (const auto& diagnostic : result.diagnostics.Items()) {
                    std::fprintf(stderr, "%s\n", cascade::lang::FormatText(diagnostic).c_str());
                }
                std::fprintf(stderr, "generated workflow of %zu steps does not validate\n", size);
                return 1;
            }
            loaded_steps = result.definition->steps.size();
            times.push_back(std::chrono::duration<double, std::milli>(end - begin).count());
        }
        const double median = Median(times);
        const double n = static_cast<double>(loaded_steps);
        const double per_nlogn = median * 1e6 / (n * std::log2(n));
        if (first_per_nlogn == 0) {
            first_per_nlogn = per_nlogn;
        }
        std::printf("%8zu %10zu %12.2f %12.2f %14.1f\n", loaded_steps, text.size(), median, median * 1000 / n,
                    per_nlogn);
    }
    return 0;
}
