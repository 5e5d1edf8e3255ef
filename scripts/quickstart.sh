#!/usr/bin/env bash
# The README's two commands:
#   scripts/quickstart.sh audit   install what is missing, build, run the default audit (PIE audit on Fashion-MNIST)
#   scripts/quickstart.sh test    install what is missing, build, run the whole test suite with ctest
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-audit}"
build="${COMPAUDIT_BUILD_DIR:-build}"
jobs="$(nproc)"

case "$mode" in
  test) bash scripts/install-deps.sh chromium ;;  # the test suite also renders report.html in headless Chromium
  *) bash scripts/install-deps.sh ;;
esac
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
case "$mode" in
  audit)
    cmake --build "$build" -j"$jobs" --target compaudit compaudit_engine all_plugins
    "$build/bin/compaudit" run examples/pipelines/pie-audit.toml -o "$build/runs/pie-audit"
    echo "Report: $build/runs/pie-audit/report.html"
    ;;
  test)
    cmake --build "$build" -j"$jobs"
    ctest --test-dir "$build" --output-on-failure -j"$jobs"
    ;;
  *)
    echo "usage: scripts/quickstart.sh audit|test" >&2
    exit 2
    ;;
esac
