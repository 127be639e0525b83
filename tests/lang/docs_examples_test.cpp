// Every complete workflow shown in docs/workflow-language.md must validate:
// the reference cannot drift from the tool it documents.
#include "cascade/check/checker.hpp"

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <string>

TEST_CASE("docs: complete workflows in the language reference validate") {
    std::ifstream file(std::string(CASCADE_SOURCE_DIR) + "/docs/workflow-language.md");
    REQUIRE(file);
    std::stringstream buffer;
    buffer << file.rdbuf();
    const std::string text = buffer.str();

    int complete = 0;
    const std::string open = "```yaml\n";
    for (std::size_t start = text.find(open); start != std::string::npos; start = text.find(open, start)) {
        start += open.size();
        const std::size_t end = text.find("```", start);
        REQUIRE(end != std::string::npos);
        const std::string block = text.substr(start, end - start);
        start = end;
        if (block.find("kind: Workflow") == std::string::npos || block.find("\nsteps:") == std::string::npos) {
            continue;  // a fragment, not a whole workflow
        }
        ++complete;
        // Placed beside the shipped workflows so `working: cn-mainland-2023-2024` resolves.
        const std::string name = std::string(CASCADE_SOURCE_DIR) + "/workflows/doc-example.yaml";
        const auto result = cascade::check::ValidateWorkflowText(block, name);
        std::string messages;
        for (const auto& diagnostic : result.diagnostics.Items()) {
            messages += cascade::lang::FormatText(diagnostic) + "\n";
        }
        INFO("example " << complete << ":\n" << block.substr(0, 200) << "\n" << messages);
        CHECK(result.Ok());
        CHECK(result.diagnostics.Empty());
    }
    CHECK(complete >= 3);
}
