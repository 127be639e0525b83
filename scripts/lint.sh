#!/usr/bin/env bash
# Checks formatting (clang-format 14) and runs clang-tidy over the core sources.
# Needs a configured dev build for compile_commands.json.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f build/dev/compile_commands.json ] || cmake --preset dev >/dev/null
find core tests plugins -name '*.cpp' -o -name '*.hpp' | xargs clang-format --dry-run -Werror
clang-tidy -p build/dev --quiet core/src/*/*.cpp
echo "lint: clean"
