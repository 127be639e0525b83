#!/usr/bin/env bash
# Installs a built Cascade into a temporary prefix and builds and runs the
# out-of-tree plugin example (docs/examples/my-notifier) against it, the way a
# plugin author would. Exits non-zero on any failure.
#   scripts/check_sdk_example.sh [build dir]     (default: build/release)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build/release}"
[ -f "$build/CMakeCache.txt" ] || { echo "check_sdk_example: $build is not a configured build folder" >&2; exit 2; }

work="$(mktemp -d "${TMPDIR:-/tmp}/cascade-sdk-check.XXXXXX")"
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"

echo "== cmake --install $build --prefix $prefix"
cmake --install "$build" --prefix "$prefix" >"$work/install.log" 2>&1 ||
  { cat "$work/install.log" >&2; echo "check_sdk_example: install failed" >&2; exit 1; }
[ -f "$prefix/lib/cmake/CascadeSDK/CascadeSDKConfig.cmake" ] ||
  { echo "check_sdk_example: the install has no CascadeSDKConfig.cmake" >&2; exit 1; }

bash "$root/docs/examples/my-notifier/test.sh" "$prefix"
