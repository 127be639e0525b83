#!/usr/bin/env bash
# Installs every build, test and tooling dependency of Cascade from Debian 12
# packages. Idempotent: packages already present are left alone, and the
# package lists are refreshed at most once per run.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  clang clang-format clang-tidy libclang-rt-14-dev
  libboost1.81-dev libboost-json1.81-dev libboost-graph1.81-dev
  libboost-system1.81-dev
  libyaml-cpp-dev libspdlog-dev libfmt-dev libsqlite3-dev sqlite3
  catch2 libcli11-dev libvalijson-dev nlohmann-json3-dev
  libssl-dev libcurl4-openssl-dev libkainjow-mustache-dev libxlsxwriter-dev
  graphviz fonts-noto-cjk python3 chromium libpng-dev
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages already installed"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: ${#missing[@]} packages missing (${missing[*]}); run as root" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "setup: installed ${#missing[@]} packages"
