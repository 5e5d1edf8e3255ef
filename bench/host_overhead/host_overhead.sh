#!/bin/sh
# Host overhead: `compaudit validate` of a 50-arm pipeline, and loading a plugin after the first.
#   bench/host_overhead/host_overhead.sh [BUILD_DIR] [REPEAT]
# Needs the targets host_overhead, compaudit and the built-in plugins (prune_magnitude, quantize_ptq, metric_*).
set -eu
build=$(cd "${1:-build}" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
"$build/bin/host_overhead" "$build/bin/compaudit" "$build/lib/compaudit/plugins" "$work" --repeat "${2:-15}"
