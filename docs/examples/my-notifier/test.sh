#!/usr/bin/env bash
# Builds my-notifier against an installed Cascade and tries it for real:
#   docs/examples/my-notifier/test.sh <cascade install prefix>
# 1. configures and builds this folder with CMAKE_PREFIX_PATH=<prefix>
#    (find_package(CascadeSDK) + cascade_add_plugin, as a plugin author does);
# 2. checks the library carries its manifest and exports its entry point;
# 3. runs `cascade plugins check` on it (loads it, runs its self-test);
# 4. starts the demo campaign (workflow.yaml, roster.yaml) and runs it on the
#    day its reminders fall due, then checks the lines the plugin wrote.
# The `cascade` used is <prefix>/bin/cascade, or $CASCADE when set.
# Exits non-zero at the first failure.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 <cascade install prefix>" >&2
  exit 2
fi
prefix="$(cd "$1" && pwd)"
here="$(cd "$(dirname "$0")" && pwd)"
cascade="${CASCADE:-$prefix/bin/cascade}"
[ -x "$cascade" ] || { echo "FAIL: no cascade program at $cascade" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/my-notifier-test.XXXXXX")"
trap 'rm -rf "$work"' EXIT
plugins="$work/plugins"

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

echo "== build my-notifier against $prefix"
cmake -S "$here" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
  -DCASCADE_PLUGIN_OUTPUT_DIR="$plugins" >"$work/configure.log" 2>&1 ||
  { cat "$work/configure.log" >&2; fail "cmake could not configure the example"; }
cmake --build "$work/build" --parallel "${JOBS:-1}" >"$work/build.log" 2>&1 ||
  { cat "$work/build.log" >&2; fail "the example does not build"; }
library="$plugins/my-notifier.so"
[ -f "$library" ] || fail "the build made no $library"

echo "== the library carries its manifest and exports its entry point"
readelf -S "$library" | grep -q '\.cascade_manifest' || fail "$library has no .cascade_manifest section"
nm -D --defined-only "$library" | grep -q ' cascade_plugin_entry$' || fail "$library does not export cascade_plugin_entry"

echo "== cascade plugins check"
"$cascade" --plugin-dir "$plugins" plugins check "$library" --config "{\"path\": \"$work/check.log\"}" ||
  fail "cascade plugins check refused $library"
# A config the manifest's schema refuses must be refused before the plugin starts.
if "$cascade" --plugin-dir "$plugins" plugins check "$library" --config '{"colour": "red"}' >"$work/refused.log" 2>&1; then
  fail "cascade plugins check accepted a config with an unknown key"
fi

echo "== a campaign that notifies through my-notifier"
mkdir "$work/run"
cd "$work/run"  # the workflow's config writes notifications.log here
CASCADE_NOW=2023-09-04T09:00 "$cascade" --plugin-dir "$plugins" start "$here/workflow.yaml" \
  --units "$here/roster.yaml" --db demo.db --utc-offset +08:00 || fail "cascade start failed"
# 2023-09-12: three working days before the 09-15 deadline, both townships are reminded.
CASCADE_NOW=2023-09-12T09:00 "$cascade" --plugin-dir "$plugins" run --once --db demo.db || fail "cascade run failed"
[ -f notifications.log ] || fail "my-notifier wrote no notifications.log"
cat notifications.log
[ "$(wc -l <notifications.log)" -eq 2 ] || fail "expected 2 lines in notifications.log"
tab=$'\t'  # the fields of a line: date, event, instance, step, to, message, key
for unit in t01 t02; do
  grep -q "^2023-09-12${tab}remind${tab}my-notifier-demo/$unit${tab}report${tab}" notifications.log ||
    fail "no reminder line for $unit in notifications.log"
done
# Nothing new is due: a second run on the same day writes nothing.
CASCADE_NOW=2023-09-12T09:00 "$cascade" --plugin-dir "$plugins" run --once --db demo.db || fail "cascade run failed"
[ "$(wc -l <notifications.log)" -eq 2 ] || fail "a second run wrote to notifications.log again"

echo "my-notifier: ok"
