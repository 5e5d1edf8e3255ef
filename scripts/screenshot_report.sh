#!/bin/sh
# screenshot_report.sh — render a report.html to a PNG with headless Chromium, to look at the page as a user would.
#
#   scripts/screenshot_report.sh [REPORT_HTML] [OUT_PNG]
#
# REPORT_HTML defaults to a synthetic run's report (built with report_synthetic_run from $BUILD_DIR, default
# build/, into a temporary run directory); OUT_PNG defaults to report.png beside it. Installs Debian's chromium when
# missing (needs root; NO_INSTALL=1 exits 77 instead). The flags keep Chromium off the network: the page must render
# offline. WINDOW_SIZE=1280,6000 takes a taller shot.
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$here/build}
html=${1:-}
made_run=
if [ -z "$html" ]; then
  tool="$build/bin/report_synthetic_run"
  if [ ! -x "$tool" ]; then
    echo "screenshot_report.sh: $tool not built (cmake --build $build --target report_synthetic_run)" >&2
    exit 2
  fi
  made_run=$(mktemp -d)
  run=$made_run/synthetic-run
  "$tool" "$run" >/dev/null
  html=$run/report.html
fi
[ -f "$html" ] || { echo "screenshot_report.sh: no such file: $html" >&2; exit 2; }
out=${2:-$(dirname "$html")/report.png}

if ! command -v chromium >/dev/null 2>&1; then
  # Tests set NO_INSTALL=1: a missing browser skips (exit 77, ctest's SKIP_RETURN_CODE) instead of installing.
  if [ -n "${NO_INSTALL:-}" ]; then echo "screenshot_report.sh: chromium not installed" >&2; exit 77; fi
  apt-get install -y chromium >/dev/null
fi

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
abs_html=$(cd "$(dirname "$html")" && pwd)/$(basename "$html")
case "$out" in /*) abs_out=$out ;; *) abs_out=$(pwd)/$out ;; esac
chromium --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
  --disable-sync --no-first-run --disable-quic --user-data-dir="$profile" --hide-scrollbars \
  --screenshot="$abs_out" --window-size="${WINDOW_SIZE:-1280,2400}" "file://$abs_html" >/dev/null 2>&1
[ -s "$abs_out" ] || { echo "screenshot_report.sh: chromium wrote no screenshot" >&2; exit 1; }
echo "$abs_out"
