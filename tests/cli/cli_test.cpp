// End-to-end tests of the `cascade` binary: exit codes, where output goes
// (diagnostics on stderr, results on stdout), the JSON diagnostics format,
// the graph renderers and the outline, run as a user would run them.
#include "cli_support.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

using cascade::cli_testing::Cascade;
using cascade::cli_testing::ReadFile;
using cascade::cli_testing::Run;
using cascade::cli_testing::TempDir;

bool Contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

std::string Minimal() {
    return (fs::path(CASCADE_SOURCE_DIR) / "tests" / "data" / "valid" / "minimal.yaml").string();
}

// An invalid workflow whose one mistake is at a known place: line 12, column 11.
const char* const kInvalidWorkflow =
    "apiVersion: cascade/v1\n"
    "kind: Workflow\n"
    "id: broken\n"
    "title: Broken\n"
    "calendar: {start: 2023-09-01, end: 2024-01-31}\n"
    "roles:\n"
    "  leader: {title: Leader}\n"
    "steps:\n"
    "  study:\n"
    "    kind: task\n"
    "    assignee: leader\n"
    "    next: reveiw\n"
    "  review:\n"
    "    kind: task\n"
    "    assignee: leader\n"
    "    next: done\n"
    "  done:\n"
    "    kind: end\n";

std::string Describe(const Run& run) {
    return "exit " + std::to_string(run.exit_code) + "\n--- stdout\n" + run.out + "--- stderr\n" + run.err;
}

}  // namespace

TEST_CASE("cli: validate accepts a valid workflow") {
    const Run run = Cascade({"validate", Minimal()});
    INFO(Describe(run));
    CHECK(run.exit_code == 0);
    CHECK(Contains(run.out, "minimal.yaml: valid (7 steps)"));
    CHECK(run.err.empty());

    const Run quiet = Cascade({"validate", "--quiet", Minimal()});
    INFO(Describe(quiet));
    CHECK(quiet.exit_code == 0);
    CHECK(quiet.out.empty());
    CHECK(quiet.err.empty());
}

TEST_CASE("cli: validate reports file:line:col and exits 1") {
    TempDir dir;
    const fs::path file = dir.Write("broken.yaml", kInvalidWorkflow);
    const Run run = Cascade({"validate", file.string()});
    INFO(Describe(run));
    CHECK(run.exit_code == 1);
    CHECK(
        Contains(run.err, file.string() + ":12:11: error: unknown step 'reveiw'\n    hint: did you mean 'review'?\n"));
    CHECK(Contains(run.out, file.string() + ": 1 error"));

    // One invalid file among valid ones still fails the run, and each file is reported.
    const Run mixed = Cascade({"validate", Minimal(), file.string()});
    INFO(Describe(mixed));
    CHECK(mixed.exit_code == 1);
    CHECK(Contains(mixed.out, "minimal.yaml: valid"));
    CHECK(Contains(mixed.err, file.string() + ":12:11: error:"));
}

TEST_CASE("cli: usage errors exit 2") {
    TempDir dir;
    // Labelled by a fixed description: section names must be the same on every
    // pass through the test case, and the scratch folder's name is not.
    const std::vector<std::pair<std::string, std::vector<std::string>>> usage_errors = {
        {"no command", {}},
        {"unknown command", {"frobnicate"}},
        {"validate without a file", {"validate"}},
        {"validate with an unknown option", {"validate", "--frobnicate", Minimal()}},
        {"validate a file that does not exist", {"validate", (dir.Path() / "missing.yaml").string()}},
        {"validate --format xml", {"validate", "--format", "xml", Minimal()}},
        {"graph --format png", {"graph", Minimal(), "--format", "png"}},
        {"show --lang fr", {"show", Minimal(), "--lang", "fr"}},
        {"graph without a file", {"graph"}},
    };
    for (const auto& [label, arguments] : usage_errors) {
        DYNAMIC_SECTION(label) {
            const Run run = Cascade(arguments);
            INFO(Describe(run));
            CHECK(run.exit_code == 2);
            CHECK(Contains(run.err, "cascade: "));
            CHECK(Contains(run.err, "--help"));
        }
    }
}

TEST_CASE("cli: validate --format json") {
    TempDir dir;
    const fs::path file = dir.Write("broken.yaml", kInvalidWorkflow);

    const Run run = Cascade({"validate", "--format", "json", Minimal(), file.string()});
    INFO(Describe(run));
    CHECK(run.exit_code == 1);
    CHECK(run.err.empty());
    boost::json::value parsed;
    REQUIRE_NOTHROW(parsed = boost::json::parse(run.out));
    REQUIRE(parsed.is_array());
    const auto& diagnostics = parsed.as_array();
    REQUIRE(diagnostics.size() == 1);
    REQUIRE(diagnostics[0].is_object());
    const auto& diagnostic = diagnostics[0].as_object();
    for (const char* key : {"file", "line", "column", "severity", "code", "message"}) {
        INFO("key " << key);
        CHECK(diagnostic.contains(key));
    }
    CHECK(diagnostic.at("file").as_string() == file.string());
    CHECK(diagnostic.at("line").to_number<int>() == 12);
    CHECK(diagnostic.at("column").to_number<int>() == 11);
    CHECK(diagnostic.at("severity").as_string() == "error");
    CHECK(diagnostic.at("code").as_string() == "unknown-step");
    CHECK(diagnostic.at("message").as_string() == "unknown step 'reveiw'");
    CHECK(diagnostic.at("hint").as_string() == "did you mean 'review'?");

    // A valid file gives an empty array, and exit 0.
    const Run valid = Cascade({"validate", "--format", "json", Minimal()});
    INFO(Describe(valid));
    CHECK(valid.exit_code == 0);
    const auto empty = boost::json::parse(valid.out);
    REQUIRE(empty.is_array());
    CHECK(empty.as_array().empty());
}

TEST_CASE("cli: graph --format dot and mermaid") {
    const Run dot = Cascade({"graph", Minimal(), "--format", "dot"});
    INFO(Describe(dot));
    CHECK(dot.exit_code == 0);
    CHECK(Contains(dot.out, "digraph"));
    for (const char* step : {"study", "check", "split", "report", "survey", "joined", "done"}) {
        INFO("step " << step);
        CHECK(Contains(dot.out, std::string("\"") + step + "\""));
    }
    // The rework edge is dashed; the forward edges are not.
    std::istringstream lines(dot.out);
    std::string line;
    bool rework_dashed = false;
    bool forward_dashed = false;
    while (std::getline(lines, line)) {
        if (Contains(line, "\"check\" -> \"study\"")) {
            rework_dashed = Contains(line, "style=dashed");
        }
        if (Contains(line, "\"study\" -> \"check\"") || Contains(line, "\"check\" -> \"split\"")) {
            forward_dashed = forward_dashed || Contains(line, "dashed");
        }
    }
    CHECK(rework_dashed);
    CHECK_FALSE(forward_dashed);

    const Run mermaid = Cascade({"graph", Minimal(), "--format", "mermaid", "--lang", "en"});
    INFO(Describe(mermaid));
    CHECK(mermaid.exit_code == 0);
    CHECK(Contains(mermaid.out, "flowchart"));
    for (const char* step : {"study", "check", "split", "report", "survey", "joined", "done"}) {
        INFO("step " << step);
        CHECK(Contains(mermaid.out, step));
    }
    CHECK(Contains(mermaid.out, "check -.->"));  // dashed rework edge
    CHECK(Contains(mermaid.out, "study --> check"));

    // -o writes the graph to a file instead of stdout.
    TempDir dir;
    const fs::path output = dir.Path() / "graph.dot";
    const Run to_file = Cascade({"graph", Minimal(), "-o", output.string()});
    INFO(Describe(to_file));
    CHECK(to_file.exit_code == 0);
    CHECK(to_file.out.empty());
    CHECK(Contains(ReadFile(output), "digraph"));
}

TEST_CASE("cli: graph and show refuse an invalid workflow") {
    TempDir dir;
    const fs::path file = dir.Write("broken.yaml", kInvalidWorkflow);
    for (const char* command : {"graph", "show"}) {
        DYNAMIC_SECTION(command) {
            const Run run = Cascade({command, file.string()});
            INFO(Describe(run));
            CHECK(run.exit_code == 1);
            CHECK(run.out.empty());
            CHECK(Contains(run.err, file.string() + ":12:11: error: unknown step 'reveiw'"));
        }
    }
}

TEST_CASE("cli: show prints step titles in the chosen language") {
    const Run english = Cascade({"show", Minimal(), "--lang", "en"});
    INFO(Describe(english));
    CHECK(english.exit_code == 0);
    CHECK(Contains(english.out, "Minimal workflow"));
    CHECK(Contains(english.out, "Group study"));
    CHECK(Contains(english.out, "Check the study"));
    CHECK_FALSE(Contains(english.out, "集中学习"));

    const Run chinese = Cascade({"show", Minimal(), "--lang", "zh"});
    INFO(Describe(chinese));
    CHECK(chinese.exit_code == 0);
    CHECK(Contains(chinese.out, "最小流程"));
    CHECK(Contains(chinese.out, "集中学习"));
    CHECK(Contains(chinese.out, "检查学习成效"));
    CHECK_FALSE(Contains(chinese.out, "Group study"));

    // Chinese is the default.
    const Run default_language = Cascade({"show", Minimal()});
    CHECK(default_language.out == chinese.out);
}

TEST_CASE("cli: --help of each command exits 0 and lists its options") {
    const std::vector<std::pair<std::string, std::vector<std::string>>> commands = {
        {"", {"validate", "graph", "show", "Exit status"}},
        {"validate", {"--format", "--quiet", "--max-file-size", "--max-depth", "--max-nodes", "--max-steps"}},
        {"graph", {"--format", "--lang", "--output", "mermaid", "--max-nodes"}},
        {"show", {"--lang", "--max-nodes"}},
    };
    for (const auto& [command, options] : commands) {
        DYNAMIC_SECTION("cascade " << command << " --help") {
            std::vector<std::string> arguments;
            if (!command.empty()) {
                arguments.push_back(command);
            }
            arguments.push_back("--help");
            const Run run = Cascade(arguments);
            INFO(Describe(run));
            CHECK(run.exit_code == 0);
            CHECK(run.err.empty());
            for (const auto& option : options) {
                INFO("mentions " << option);
                CHECK(Contains(run.out, option));
            }
        }
    }

    const Run version = Cascade({"--version"});
    CHECK(version.exit_code == 0);
    CHECK(Contains(version.out, "cascade "));
}

TEST_CASE("cli: graph --format svg writes a drawing through Graphviz") {
    const TempDir dir;
    const fs::path output = dir.Path() / "minimal.svg";
    const Run run = Cascade({"graph", Minimal(), "--format", "svg", "-o", output.string()});
    INFO(Describe(run));
    REQUIRE(run.exit_code == 0);
    const std::string svg = ReadFile(output);
    CHECK(Contains(svg, "<svg"));
    CHECK(Contains(svg, "集中学习"));          // titles in the default language
    CHECK(Contains(svg, "stroke-dasharray"));  // the rework edge is dashed

    // An unwritable output is an error that names the file, not a crash.
    const Run unwritable = Cascade({"graph", Minimal(), "-o", (dir.Path() / "missing" / "out.dot").string()});
    CHECK(unwritable.exit_code == 1);
    CHECK(Contains(unwritable.err, "cannot write"));
}
