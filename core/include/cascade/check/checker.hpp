// Semantic checks on a workflow's step graph (Boost.Graph): reachability,
// termination, split/join matching, bounded loops and reachable deadlines.
#pragma once

#include "cascade/lang/diagnostic.hpp"
#include "cascade/lang/loader.hpp"
#include "cascade/model/definition.hpp"

#include <map>
#include <set>
#include <string>
#include <utility>

namespace cascade::check {

// Reports graph problems of a loaded definition. Call only when the loader
// said the graph is complete (every transition names a known step).
void CheckGraph(const model::Definition& definition, lang::Diagnostics& diagnostics);

// Load + graph checks: everything `cascade validate` reports for one file.
lang::LoadResult ValidateWorkflowFile(const std::string& path, const lang::LoadOptions& options = {});
lang::LoadResult ValidateWorkflowText(const std::string& text, const std::string& file_name,
                                      const lang::LoadOptions& options = {});

// Transitions that close a loop (rework edges), as (from step index, position
// in its `next`). Renderers draw these differently.
std::set<std::pair<std::size_t, std::size_t>> ReworkEdges(const model::Definition& definition);

// Where the branches of each parallel meet: parallel id -> join id (its
// immediate post-dominator). Validate* fill Definition::join_of_parallel with it.
std::map<std::string, std::string> ParallelJoins(const model::Definition& definition);

}  // namespace cascade::check
