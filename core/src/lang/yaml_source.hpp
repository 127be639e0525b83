// Reading YAML safely: size and UTF-8 checks before parsing, then a single
// budgeted walk that bounds depth and node count (aliases counted each time
// they are expanded, so "billion laughs" documents stop early) and converts
// the tree to JSON for schema validation.
#pragma once

#include "cascade/lang/diagnostic.hpp"
#include "cascade/lang/limits.hpp"

#include <yaml-cpp/yaml.h>
#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cascade::lang::detail {

// Reads a whole file, refusing it when larger than the limit.
std::optional<std::string> ReadSourceFile(const std::string& path, const LoadLimits& limits, Diagnostics& diagnostics);

void ReportFileTooLarge(const std::string& file, const LoadLimits& limits, Diagnostics& diagnostics);

// Reports the first invalid UTF-8 sequence with its line and column; true when the text is valid.
bool CheckUtf8(std::string_view text, const std::string& file, Diagnostics& diagnostics);

// Parses one YAML document; syntax errors become located diagnostics.
std::optional<YAML::Node> ParseYaml(const std::string& text, const std::string& file, Diagnostics& diagnostics);

// Walks the document within the limits, reporting duplicate mapping keys,
// non-scalar keys, and limit breaches. Produces the JSON form used for schema
// validation (plain scalars typed as YAML 1.2 core: null, bool, int, float, string).
// `may_have_aliases` false (the source text holds no '*') skips measuring the
// expanded size, which only aliases can make larger than the node count.
std::optional<boost::json::value> ToJson(const YAML::Node& root, const std::string& file, const LoadLimits& limits,
                                         Diagnostics& diagnostics, bool may_have_aliases = true);

SourceLocation LocationOf(const YAML::Node& node, const std::string& file);

// Follows a valijson context path ("<root>", "[steps]", "[study]", "[0]") to the
// deepest node that exists; `complete` tells whether the whole path was found.
YAML::Node FindByContext(const YAML::Node& root, const std::vector<std::string>& context, bool* complete = nullptr);

// For a mapping, the value under `key` (yaml-cpp's operator[] yields a node
// that throws when the key is missing).
std::optional<YAML::Node> FindValue(const YAML::Node& map, std::string_view key);

// For a mapping, the node holding a key itself (for "unknown key" locations).
std::optional<YAML::Node> FindKeyNode(const YAML::Node& map, std::string_view key);

// The location of character `offset` (bytes) inside a scalar, taking the
// scalar's quoting into account so expression errors point at the right column.
SourceLocation LocationInScalar(const YAML::Node& scalar, std::size_t offset, std::string_view source_text,
                                const std::string& file);

bool IsPlainScalar(const YAML::Node& node);

}  // namespace cascade::lang::detail
