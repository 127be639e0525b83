// Text renderings of a checked workflow: Graphviz DOT, Mermaid, and a
// readable outline of who does what by when.
#pragma once

#include "cascade/model/definition.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace cascade::cli {

std::string RenderDot(const model::Definition& definition, std::string_view language);
std::string RenderMermaid(const model::Definition& definition, std::string_view language);
std::string RenderOutline(const model::Definition& definition, std::string_view language);

// Steps in reading order: a topological order of the graph without rework
// edges, ties broken by the order the author wrote them.
std::vector<std::size_t> ReadingOrder(const model::Definition& definition);

}  // namespace cascade::cli
