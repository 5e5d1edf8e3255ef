#!/bin/sh
# Runs both sides of the global-magnitude-pruning benchmark on the same weights and thread count:
#   bench/compress_global_magnitude.sh [BUILD_DIR] [THREADS] [REPEATS]
# e.g. bench/compress_global_magnitude.sh build-compress 1 5
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
threads=${2:-1}
repeats=${3:-5}
weights=$(mktemp /tmp/compaudit-resnet50-XXXXXX.pt)
trap 'rm -f "$weights"' EXIT
export OMP_NUM_THREADS="$threads"
pytorch=$(/usr/bin/python3 "$here/compress_global_magnitude.py" "$weights" "$threads" "$repeats" | awk '/pytorch_seconds/ {print $2}')
"$build/bin/compress_global_magnitude" "$weights" "$threads" "$repeats" "$pytorch"
