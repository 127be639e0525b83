#!/usr/bin/env bash
# Installs dependencies, then builds and runs every test through ctest:
#   1. the unit, corpus and CLI tests under AddressSanitizer + UndefinedBehaviorSanitizer;
#   2. the out-of-tree plugin example (docs/examples/my-notifier) built against
#      the installed SDK, loaded by the installed `cascade`;
#   3. the libFuzzer targets: regression inputs replayed, then a bounded fuzzing
#      run of each parser (CASCADE_FUZZ_SECONDS, default 60 s per target).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

jobs=$(nproc)
cmake --preset asan
cmake --build --preset asan -j"$jobs"
ctest --preset asan -j"$jobs"

bash scripts/check_sdk_example.sh build/asan

cmake --preset fuzz -DCASCADE_FUZZ_RUNS="${CASCADE_FUZZ_RUNS:-20000}"
cmake --build --preset fuzz -j"$jobs"
ctest --preset fuzz -j"$jobs"
