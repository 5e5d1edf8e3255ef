#!/usr/bin/env bash
# Installs, with apt-get, the Debian 12 packages compaudit needs to build, test and run — only those missing.
# Needs root (or sudo). Nothing else is downloaded, at build or run time.
set -euo pipefail

packages=(
  # toolchain
  g++ cmake ninja-build pkg-config
  # libraries
  libtorch-dev libopenblas0-pthread libdnnl-dev libtomlplusplus-dev libfmt-dev nlohmann-json3-dev libcli11-dev
  libboost-dev libboost-filesystem-dev libboost-math-dev libsqlite3-dev zlib1g-dev catch2
  # users' data: .npz archives, PNG and JPEG image folders (docs/pipelines.md, "Your own data")
  libzip-dev libspng-dev libjpeg62-turbo-dev
  # data: Fashion-MNIST (IDX) and sklearn's digits / breast-cancer CSV files
  dataset-fashion-mnist python3-sklearn
  # independent oracles for the tests, and TorchScript models
  python3-torch python3-scipy python3-numpy python3-statsmodels
  # `compaudit run --mpi` (docs/scaling.md): Open MPI; without it compaudit builds and runs, minus --mpi
  libopenmpi-dev openmpi-bin
)
# Extra packages named on the command line, e.g. `install-deps.sh chromium` for the report's rendering test.
packages+=("$@")

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
