#!/bin/sh
# bench/ab.sh OLD_BUILD NEW_BUILD [THREADS] [REPS] [PIPELINE...]: the same pipelines with two builds, alternating
# old / new REPS times (default 5) so that both see the same machine load, at --threads THREADS (default 2). Prints
# every wall time, then per pipeline the medians, new / old (< 1: the new build is faster) with a 95 % bootstrap
# interval, and a Mann-Whitney p against the null that both builds' times come from one distribution (ab_stats.py). The pipelines default to
# bench/audit_vs_pytorch's digits, fashion and fashion_cnn audits. Use it for "no slowdown beyond noise" after an
# engine change: build the old commit in its own tree (git worktree add /tmp/old REV; cmake ...), then
#   sh bench/ab.sh /tmp/old/build build
# "No slowdown beyond noise" means the interval holds 1 (or lies below it). Note the load average first.
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
  /usr/bin/python3 "$HERE/ab_stats.py" "$n" "$OUT/$n.old" "$OUT/$n.new"
done
