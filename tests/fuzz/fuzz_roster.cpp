// Fuzzes the unit roster loader, in both formats: the first byte picks CSV
// or YAML. Whatever loads must be a tree the rest of the engine can walk.
#include "cascade/lang/roster_loader.hpp"

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) {
        return 0;
    }
    const auto format = (data[0] & 1) != 0 ? cascade::lang::RosterFormat::yaml : cascade::lang::RosterFormat::csv;
    const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
    cascade::lang::RosterOptions options;
    options.max_units = 5'000;
    const auto result = cascade::lang::LoadRosterText(text, "fuzz", format, options);
    if (result.units.has_value() == result.diagnostics.HasErrors()) {
        throw std::logic_error("units must be set exactly when there is no error");
    }
    if (result.units && !result.units->Empty()) {
        const auto& tree = *result.units;
        std::size_t seen = tree.Subtree(*tree.Root()).size();
        if (seen != tree.Size()) {
            throw std::logic_error("the tree does not reach every unit from the root");
        }
        for (const auto& unit : tree.Units()) {
            (void)tree.Depth(unit);
            (void)tree.Ancestor(unit, 3);
        }
    }
    return 0;
}
