// Entry point of the `cascade` executable.
#include "cascade/cli/app.hpp"

#include <iostream>

int main(int argc, char** argv) {
    return cascade::cli::RunCli(argc, argv, std::cout, std::cerr);
}
