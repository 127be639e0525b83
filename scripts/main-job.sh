#!/usr/bin/env bash
# Installs dependencies, builds Cascade (release) and runs the main job on the
# county campaign: validate it, outline it, and draw its graph.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

cmake --preset release
cmake --build --preset release -j"$(nproc)"

cascade=build/release/core/cascade
workflow=workflows/theme-education.yaml

echo "== cascade validate ${workflow} (and the other shipped workflows)"
"$cascade" validate workflows/*.yaml

echo
echo "== cascade show ${workflow} --lang en"
"$cascade" show "$workflow" --lang en

mkdir -p out
"$cascade" graph "$workflow" --format mermaid --lang en -o out/theme-education.mmd
"$cascade" graph "$workflow" --format dot -o out/theme-education.dot
"$cascade" graph "$workflow" --format svg -o out/theme-education.svg
echo
echo "== graph written to out/theme-education.svg (also .dot and .mmd)"
