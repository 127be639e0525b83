#!/usr/bin/env bash
# Installs dependencies, builds Cascade (release) and runs the main job on the
# county campaign: validate it, draw its graph, and play the whole campaign
# (September to the end of January, 364 units) on a virtual clock against the
# embedded SQLite store, printing who would be overdue or escalated, and when;
# then report its progress through the report-html and report-xlsx plugins.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

cmake --preset release
cmake --build --preset release -j"$(nproc)"

cascade=build/release/core/cascade
workflow=workflows/theme-education.yaml

echo "== cascade validate ${workflow} (and the other shipped workflows)"
"$cascade" validate workflows/*.yaml

mkdir -p out
"$cascade" show "$workflow" --lang en > out/theme-education.outline.txt
"$cascade" graph "$workflow" --format mermaid --lang en -o out/theme-education.mmd
"$cascade" graph "$workflow" --format dot -o out/theme-education.dot
"$cascade" graph "$workflow" --format svg -o out/theme-education.svg
echo
echo "== outline in out/theme-education.outline.txt; graph in out/theme-education.svg (also .dot and .mmd)"

echo
echo "== cascade simulate ${workflow} --units workflows/data/county-roster.csv (SQLite: out/simulated-campaign.db)"
rm -f out/simulated-campaign.db out/simulated-campaign.db-wal out/simulated-campaign.db-shm
"$cascade" simulate "$workflow" --units workflows/data/county-roster.csv --seed 2023 --db out/simulated-campaign.db

echo
echo "== cascade audit verify --db out/simulated-campaign.db"
"$cascade" audit verify --db out/simulated-campaign.db

echo
echo "== cascade report --plugin report-html / report-xlsx --out out/report --db out/simulated-campaign.db"
"$cascade" report --plugin report-html --out out/report --db out/simulated-campaign.db
"$cascade" report --plugin report-xlsx --out out/report --db out/simulated-campaign.db
