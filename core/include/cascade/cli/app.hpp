// The `cascade` command line. Exit codes: 0 success, 1 invalid input, 2 usage error.
#pragma once

#include <iosfwd>

namespace cascade::cli {

int RunCli(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace cascade::cli
