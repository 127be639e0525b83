// Loads a unit roster (CSV or YAML) into a checked model::UnitTree. Every
// problem is a located diagnostic (file:line:column, the CSV column or YAML
// field named in the message); nothing is built when there is an error.
#pragma once

#include "cascade/lang/diagnostic.hpp"
#include "cascade/model/units.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace cascade::lang {

enum class RosterFormat { csv, yaml };

struct RosterOptions {
    // When non-empty, a unit whose category is not listed is an error (unknown-category).
    std::vector<std::string> known_categories;
    // When non-empty, a member type not listed is an error (unknown-member-type).
    std::vector<std::string> known_member_types;
    std::size_t max_bytes = 64u << 20;
    std::size_t max_units = 1'000'000;
};

struct RosterLoadResult {
    std::optional<model::UnitTree> units;  // set iff there is no error
    Diagnostics diagnostics;
    bool Ok() const { return units.has_value() && !diagnostics.HasErrors(); }
};

// The format follows the extension: .csv, or .yaml / .yml.
RosterLoadResult LoadRosterFile(const std::string& path, const RosterOptions& options = {});
RosterLoadResult LoadRosterText(const std::string& text, const std::string& file_name, RosterFormat format,
                                const RosterOptions& options = {});

}  // namespace cascade::lang
