#!/bin/sh
# bench/fingerprint/run.sh OUTROOT [BIN [PIPELINE...]]: runs every reference pipeline here (or the PIPELINEs given,
# e.g. examples/pipelines/*.toml at full size, ~30 minutes) with compaudit --threads 2 into OUTROOT/<name> and prints
# each run's fingerprint (scripts/fingerprint.py --extended) and wall time. Run it with the build before a change
# and after it: equal fingerprints mean the change computed the same bits (docs/engine.md, "Determinism and resume").
# The seven here cover the stacked MLP and CNN, SGD with momentum and weight decay, Adam, the schedules,
# memorization, pruning, quantization and the controls; about 5 minutes on 2 cores.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=$1
BIN=${2:-$ROOT/build/bin/compaudit}
[ $# -gt 2 ] && shift 2 || set -- "$HERE"/*.toml
mkdir -p "$OUT"
: > "$OUT/times.txt"
for p in "$@"; do
  n=$(basename "$p" .toml)
  rm -rf "${OUT:?}/$n"
  s=$(date +%s.%N)
  "$BIN" run "$p" --threads 2 -q -o "$OUT/$n" > "$OUT/$n.log" 2>&1
  rc=$?
  e=$(date +%s.%N)
  echo "$n rc=$rc $(echo "$e - $s" | bc) s" >> "$OUT/times.txt"
done
/usr/bin/python3 "$ROOT/scripts/fingerprint.py" --extended "$OUT"/*/ > "$OUT/fingerprints.txt"
cat "$OUT/times.txt" "$OUT/fingerprints.txt"
