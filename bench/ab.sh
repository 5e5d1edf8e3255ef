#!/bin/sh
# bench/ab.sh OLD_BUILD NEW_BUILD [THREADS] [REPS] [PIPELINE...]: the same pipelines with two builds, alternating
# old / new REPS times (default 5) so that both see the same machine load, at --threads THREADS (default 2). Prints
# every wall time, the medians, and new / old per pipeline (< 1: the new build is faster). The pipelines default to
# bench/audit_vs_pytorch's digits, fashion and fashion_cnn audits. Use it for "no slowdown beyond noise" after an
# engine change: build the old commit in its own tree (git worktree add /tmp/old REV; cmake ...), then
#   sh bench/ab.sh /tmp/old/build build
# The spread of a build's own runs is the noise to compare the ratio against. Note the load average first.
set -eu
OLD=$(cd "${1:?usage: ab.sh OLD_BUILD NEW_BUILD [THREADS] [REPS] [PIPELINE...]}" && pwd)
NEW=$(cd "${2:?usage: ab.sh OLD_BUILD NEW_BUILD [THREADS] [REPS] [PIPELINE...]}" && pwd)
THREADS=${3:-2}
REPS=${4:-5}
HERE=$(cd "$(dirname "$0")" && pwd)
[ $# -gt 4 ] && shift 4 || set -- "$HERE/audit_vs_pytorch/digits.toml" "$HERE/audit_vs_pytorch/fashion.toml" \
                                   "$HERE/audit_vs_pytorch/fashion_cnn.toml"
OUT=$(mktemp -d /tmp/ab.XXXXXX)
echo "load: $(cut -d' ' -f1-3 /proc/loadavg); threads $THREADS; $REPS reps; runs in $OUT"
for p in "$@"; do
  n=$(basename "$p" .toml)
  for r in $(seq "$REPS"); do
    for side in old new; do
      [ "$side" = old ] && build=$OLD || build=$NEW
      s=$(date +%s.%N)
      "$build/bin/compaudit" run "$p" --threads "$THREADS" -q -o "$OUT/$n.$side.$r" > "$OUT/$n.$side.$r.log" 2>&1
      e=$(date +%s.%N)
      echo "$e - $s" | bc >> "$OUT/$n.$side"
      echo "$n $side $r: $(tail -1 "$OUT/$n.$side") s"
      rm -rf "${OUT:?}/$n.$side.$r"
    done
  done
  median() { sort -n "$1" | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
  mo=$(median "$OUT/$n.old"); mn=$(median "$OUT/$n.new")
  echo "$n: median old $mo s, new $mn s, new / old $(echo "scale=3; $mn / $mo" | bc)"
done
