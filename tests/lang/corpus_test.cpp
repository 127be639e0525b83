// Data-driven validation tests, in the manner of sqllogictest: every file in
// tests/data/invalid breaks one rule and lists, in its leading comments, every
// diagnostic `cascade validate` must print for it, in order:
//
//   # expect: 12:9: error: unknown step 'reveiw'
//   # expect-hint: did you mean 'review'?
//
// A diagnostic located in another file (a working calendar, a child workflow)
// is written with that file's path relative to the corpus folder in front:
// `# expect: calendars/x.yaml:4:7: error: ...`. The corpus folder's own path is
// removed from messages ("looked for calendars/x.yaml"), so expectations do not
// depend on where the repository is checked out.
//
// Also here: every shipped workflow validates cleanly, and hostile input built
// in memory (huge, deep, alias bombs, bad encodings) is refused quickly with a
// located diagnostic.
#include "cascade/check/checker.hpp"
#include "cascade/lang/loader.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

using cascade::lang::Diagnostic;
using cascade::lang::LoadResult;
using cascade::lang::Severity;

namespace {

fs::path SourceDir() {
    return fs::path(CASCADE_SOURCE_DIR).lexically_normal();
}

fs::path CorpusDir() {
    return (SourceDir() / "tests" / "data" / "invalid").lexically_normal();
}

std::string ReadBytes(const fs::path& path) {
    std::ifstream stream(path, std::ios::binary);
    std::ostringstream text;
    text << stream.rdbuf();
    return text.str();
}

void ReplaceAll(std::string& text, const std::string& from, const std::string& to) {
    if (from.empty()) {
        return;
    }
    for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
        text.replace(at, from.size(), to);
    }
}

// The expectation lines at the top of a corpus file: "# expect: X" gives "X",
// "# expect-hint: X" gives "hint: X". They end at the first other line.
std::vector<std::string> ReadExpectations(const fs::path& file) {
    static const std::string kExpect = "# expect: ";
    static const std::string kHint = "# expect-hint: ";
    std::vector<std::string> expected;
    std::istringstream lines(ReadBytes(file));
    std::string line;
    while (std::getline(lines, line)) {
        if (line.rfind(kExpect, 0) == 0) {
            expected.push_back(line.substr(kExpect.size()));
        } else if (line.rfind(kHint, 0) == 0) {
            expected.push_back("hint: " + line.substr(kHint.size()));
        } else {
            break;
        }
    }
    return expected;
}

// Diagnostics in the corpus notation (see the file comment).
std::vector<std::string> Render(const std::vector<Diagnostic>& diagnostics, const fs::path& file) {
    const fs::path folder = file.parent_path();
    std::vector<std::string> lines;
    for (const auto& diagnostic : diagnostics) {
        std::string where;
        const fs::path located(diagnostic.location.file);
        if (located != file) {
            where = located.lexically_relative(folder).generic_string() + ":";
        }
        where += std::to_string(diagnostic.location.line) + ":" + std::to_string(diagnostic.location.column);
        std::string message = diagnostic.message;
        ReplaceAll(message, folder.string() + "/", "");
        lines.push_back(where + ": " + std::string(cascade::lang::SeverityName(diagnostic.severity)) + ": " + message);
        if (!diagnostic.hint.empty()) {
            lines.push_back("hint: " + diagnostic.hint);
        }
    }
    return lines;
}

std::string Join(const std::vector<std::string>& lines) {
    std::string text;
    for (const auto& line : lines) {
        text += line + "\n";
    }
    return text;
}

std::string Describe(const LoadResult& result) {
    std::string text;
    for (const auto& diagnostic : result.diagnostics.Items()) {
        text += cascade::lang::FormatText(diagnostic) + "\n";
    }
    return text.empty() ? std::string("(no diagnostics)\n") : text;
}

std::vector<fs::path> YamlFilesIn(const fs::path& folder) {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(folder)) {
        if (entry.is_regular_file() && entry.path().extension() == ".yaml") {
            files.push_back(entry.path());
        }
    }
    std::sort(files.begin(), files.end());
    return files;
}

// A valid workflow's first lines; hostile tests append to it. Its last line
// is line kValidHeadLines.
const char* const kValidHead =
    "apiVersion: cascade/v1\n"
    "kind: Workflow\n"
    "id: hostile\n"
    "title: Hostile input\n"
    "calendar: {start: 2023-09-01, end: 2024-01-31}\n"
    "roles:\n"
    "  leader: {title: Leader}\n";
constexpr int kValidHeadLines = 7;

const char* const kValidSteps =
    "steps:\n"
    "  study:\n"
    "    kind: task\n"
    "    assignee: leader\n"
    "    next: done\n"
    "  done:\n"
    "    kind: end\n";

// The one diagnostic of a load that must fail with exactly one error.
Diagnostic OnlyError(const LoadResult& result) {
    INFO(Describe(result));
    REQUIRE(result.diagnostics.Items().size() == 1);
    const Diagnostic& diagnostic = result.diagnostics.Items().front();
    CHECK(diagnostic.severity == Severity::error);
    return diagnostic;
}

// What "quickly" means: unoptimised builds run this code about ten times slower.
#ifdef NDEBUG
constexpr double kFastSeconds = 0.5;
#else
constexpr double kFastSeconds = 3.0;
#endif

double SecondsSince(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

TEST_CASE("corpus: invalid workflows") {
    const auto files = YamlFilesIn(CorpusDir());
    // Guards against an empty or misplaced folder making this test vacuous.
    REQUIRE(files.size() >= 40);

    std::set<std::string> numbers;
    for (const auto& file : files) {
        const std::string name = file.filename().string();
        DYNAMIC_SECTION(name) {
            INFO("corpus file: " << file.string());
            // NNN-check-name.yaml, each number used once.
            const bool well_named =
                name.size() > 8 &&
                std::all_of(name.begin(), name.begin() + 3, [](char c) { return c >= '0' && c <= '9'; }) &&
                name[3] == '-';
            CHECK(well_named);
            CHECK(numbers.insert(name.substr(0, 3)).second);

            const auto expected = ReadExpectations(file);
            INFO("expected:\n" << Join(expected));
            // A case without expectations proves nothing.
            REQUIRE_FALSE(expected.empty());

            const LoadResult result = cascade::check::ValidateWorkflowFile(file.string());
            const auto actual = Render(result.diagnostics.Items(), file);
            INFO("actual:\n" << Join(actual));
            REQUIRE_FALSE(actual.empty());
            // Every case is caught: an error, or at least a warning when it expects only warnings.
            const bool expects_error = std::any_of(expected.begin(), expected.end(), [](const std::string& line) {
                return line.find(": error: ") != std::string::npos;
            });
            if (expects_error) {
                CHECK(result.diagnostics.HasErrors());
            } else {
                CHECK(std::any_of(result.diagnostics.Items().begin(), result.diagnostics.Items().end(),
                                  [](const Diagnostic& d) { return d.severity == Severity::warning; }));
            }
            CHECK(Join(actual) == Join(expected));
        }
    }
}

TEST_CASE("corpus: every shipped workflow validates") {
    const auto files = YamlFilesIn(SourceDir() / "workflows");
    REQUIRE_FALSE(files.empty());
    for (const auto& file : files) {
        DYNAMIC_SECTION(file.filename().string()) {
            const LoadResult result = cascade::check::ValidateWorkflowFile(file.string());
            INFO(Describe(result));
            CHECK(result.definition.has_value());
            CHECK(result.diagnostics.Empty());  // no errors and no warnings
        }
    }
}

TEST_CASE("corpus: hostile input") {
    using cascade::check::ValidateWorkflowText;
    using cascade::lang::LoadWorkflowText;

    SECTION("a file over the size limit is refused before parsing") {
        std::string text = std::string(kValidHead) + kValidSteps + "description: |\n";
        const std::string line = "  " + std::string(98, 'x') + "\n";
        while (text.size() < 5 * 1024 * 1024) {
            text += line;
        }
        const auto start = std::chrono::steady_clock::now();
        const Diagnostic error = OnlyError(LoadWorkflowText(text, "big.yaml"));
        CHECK(error.code == "file-too-large");
        CHECK(error.location.file == "big.yaml");
        CHECK(error.location.line == 0);
        CHECK(SecondsSince(start) < kFastSeconds);

        // The same from disk: the reader stops one byte past the limit.
        const fs::path path = fs::temp_directory_path() / "cascade-corpus-big.yaml";
        {
            std::ofstream file(path, std::ios::binary);
            file << text;
        }
        const Diagnostic from_disk = OnlyError(cascade::check::ValidateWorkflowFile(path.string()));
        CHECK(from_disk.code == "file-too-large");
        CHECK(from_disk.message == "file is larger than the limit of 4 MiB");
        fs::remove(path);
    }

    SECTION("200 nested flow sequences stop at the depth limit, where it is crossed") {
        // `description` is a top-level value (depth 1): its k-th '[' is at depth k.
        const std::string prefix = "description: ";
        const std::string text =
            std::string(kValidHead) + prefix + std::string(200, '[') + std::string(200, ']') + "\n" + kValidSteps;
        const Diagnostic error = OnlyError(ValidateWorkflowText(text, "deep.yaml"));
        CHECK(error.code == "too-deep");
        CHECK(error.location.line == kValidHeadLines + 1);
        // The 65th '[' is the first deeper than the default limit of 64.
        CHECK(error.location.column == static_cast<int>(prefix.size()) + 65);
        CHECK(error.message == "nesting is deeper than 64 levels");
    }

    SECTION("a billion-laughs alias bomb hits the node limit quickly") {
        std::string bomb = "laughs:\n  l0: &l0 lol\n";
        for (int level = 1; level <= 9; ++level) {
            bomb += "  l" + std::to_string(level) + ": &l" + std::to_string(level) + " [";
            for (int i = 0; i < 10; ++i) {
                bomb += (i == 0 ? "*l" : ", *l") + std::to_string(level - 1);
            }
            bomb += "]\n";
        }
        const std::string text = std::string(kValidHead) + bomb + kValidSteps;
        const auto start = std::chrono::steady_clock::now();
        const Diagnostic error = OnlyError(ValidateWorkflowText(text, "laughs.yaml"));
        const double seconds = SecondsSince(start);
        CHECK(error.code == "too-many-nodes");
        CHECK(error.location.line > kValidHeadLines);
        INFO("took " << seconds << " s");
        CHECK(seconds < kFastSeconds);
    }

    SECTION("invalid UTF-8 is reported at its line and column") {
        // A GBK-encoded title ("第一", 0xB5 0xDA 0xD2 0xBB) on the line after the head.
        const std::string text = std::string(kValidHead) + "description: \xB5\xDA\xD2\xBB\n" + kValidSteps;
        const Diagnostic error = OnlyError(LoadWorkflowText(text, "gbk.yaml"));
        CHECK(error.code == "invalid-utf8");
        CHECK(error.location.line == kValidHeadLines + 1);
        CHECK(error.location.column == 14);
        CHECK(error.message == "invalid UTF-8 (byte 0xB5)");

        // A sequence cut short after valid multi-byte text: columns count characters, not bytes.
        const std::string cut = std::string(kValidHead) + "description: 主题\xE6\x95\n" + kValidSteps;
        const Diagnostic truncated = OnlyError(LoadWorkflowText(cut, "cut.yaml"));
        CHECK(truncated.code == "invalid-utf8");
        CHECK(truncated.location.line == kValidHeadLines + 1);
        CHECK(truncated.location.column == 16);
    }

    SECTION("100,001 steps exceed the default step limit") {
        std::string text = std::string(kValidHead) + "steps:\n";
        text.reserve(text.size() + 100'001 * 24);
        for (int i = 1; i <= 100'001; ++i) {
            text += "  s" + std::to_string(i) + ": {kind: end}\n";
        }
        const auto start = std::chrono::steady_clock::now();
        const LoadResult result = ValidateWorkflowText(text, "many.yaml");
        const double seconds = SecondsSince(start);
        INFO("took " << seconds << " s");
        const Diagnostic error = OnlyError(result);
        CHECK(error.code == "too-many-steps");
        CHECK(error.location.line == kValidHeadLines + 2);
        CHECK(error.location.column == 3);
        CHECK(error.message == "the workflow has 100001 steps; the limit is 100000");
        CHECK(seconds < 10.0);
    }

    SECTION("an expression of 10,000 nested parentheses") {
        const std::string expression = std::string(10'000, '(') + "true" + std::string(10'000, ')');
        const std::string prefix = "    gate: ";
        const std::string text = std::string(kValidHead) +
                                 "steps:\n"
                                 "  study:\n"
                                 "    kind: task\n"
                                 "    assignee: leader\n" +
                                 prefix + expression +
                                 "\n"
                                 "    next: done\n"
                                 "  done:\n"
                                 "    kind: end\n";
        const int gate_line = kValidHeadLines + 5;

        // With the default limits it is refused for its length before it is parsed.
        const Diagnostic too_long = OnlyError(ValidateWorkflowText(text, "parens.yaml"));
        CHECK(too_long.code == "too-long");
        CHECK(too_long.location.line == gate_line);
        CHECK(too_long.location.column == static_cast<int>(prefix.size()) + 1);

        // Allowed that length, the parser stops at the depth limit without recursing further.
        cascade::lang::LoadOptions options;
        options.limits.max_expression_length = 1'000'000;
        const Diagnostic too_deep = OnlyError(ValidateWorkflowText(text, "parens.yaml", options));
        CHECK(too_deep.code == "too-deep");
        CHECK(too_deep.location.line == gate_line);
        CHECK(too_deep.location.column > static_cast<int>(prefix.size()));
        CHECK(too_deep.location.column <= static_cast<int>(prefix.size()) + 66);
    }
}
