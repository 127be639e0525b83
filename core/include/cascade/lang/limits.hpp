// Limits that keep hostile input (huge files, alias bombs, deep nesting)
// from exhausting memory or time. Every limit is configurable from the CLI.
#pragma once

#include <cstddef>

namespace cascade::lang {

struct LoadLimits {
    std::size_t max_file_size = std::size_t{4} * 1024 * 1024;  // bytes
    std::size_t max_depth = 64;                                // nesting of mappings and sequences
    std::size_t max_nodes = 1'000'000;                         // YAML nodes visited, aliases expanded
    std::size_t max_steps = 100'000;                           // steps in one workflow
    std::size_t max_expression_length = 4096;                  // characters in one expression
    std::size_t max_expression_depth = 64;                     // nesting inside one expression
};

}  // namespace cascade::lang
