// Fuzzes the whole workflow front end: UTF-8 check, YAML parsing, the bounded
// walk, schema validation, model building, expressions and graph checks.
#include "cascade/check/checker.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    cascade::lang::LoadOptions options;
    // Subflows and calendars resolve against this folder; nothing is there, so they report "not found".
    options.load_subflows = false;
    options.limits.max_nodes = 100'000;
    auto result = cascade::check::ValidateWorkflowText(text, "/nonexistent/fuzz.yaml", options);
    for (const auto& diagnostic : result.diagnostics.Items()) {
        // Every diagnostic must be printable.
        (void)cascade::lang::FormatText(diagnostic);
    }
    return 0;
}
