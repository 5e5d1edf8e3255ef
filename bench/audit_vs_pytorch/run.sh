#!/bin/sh
# The same audit as a compaudit pipeline and as idiomatic PyTorch (audit.py), side by side (issue 5, item 3).
#
#   bench/audit_vs_pytorch/run.sh BUILD_DIR [THREADS] [TASKS] [--memory]
#
# BUILD_DIR holds bin/compaudit (and its built-in plugins); THREADS (default 1) is given to both: compaudit
# --threads, torch.set_num_threads; TASKS is "digits fashion" by default. Prints each side's wall time (end to end:
# process start, data loading, all cells, metrics; compaudit also writes its store and report.json) and the ratio.
# --memory also runs the Fashion-MNIST audit with K = 10 under /usr/bin/time -v and prints its peak RSS.
# Uses Debian's /usr/bin/python3 (python3-torch, scipy). Note the load average: the machine may be shared.
set -eu
BUILD=$(cd "${1:?usage: run.sh BUILD_DIR [THREADS] [TASKS] [--memory]}" && pwd)
THREADS=${2:-1}
TASKS=${3:-digits fashion}
MEMORY=${4:-}
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$(mktemp -d /tmp/audit_vs_pytorch.XXXXXX)
now() { date +%s.%N; }

echo "threads: $THREADS   load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for task in $TASKS; do
  t0=$(now)
  /usr/bin/time -f "%U %S" -o "$OUT/$task.compaudit.cpu" \
    "$BUILD/bin/compaudit" run "$HERE/$task.toml" --threads "$THREADS" -q -o "$OUT/$task" > "$OUT/$task.compaudit.txt"
  t1=$(now)
  # OpenBLAS (Debian's BLAS for python3-torch too) does not follow torch.set_num_threads: give it the same count,
  # as compaudit does for itself, so PyTorch is not slowed by idle BLAS threads spinning.
  OPENBLAS_NUM_THREADS=$THREADS /usr/bin/time -f "%U %S" -o "$OUT/$task.pytorch.cpu" \
    /usr/bin/python3 -W ignore "$HERE/audit.py" --task "$task" --threads "$THREADS" > "$OUT/$task.pytorch.json"
  t2=$(now)
  # Wall time is what the target is about; CPU time (user + sys) is printed too because on a shared machine the
  # wall time includes waiting for a core.
  awk -v task="$task" -v a="$t0" -v b="$t1" -v c="$t2" \
      -v cc="$(awk '{print $1 + $2}' "$OUT/$task.compaudit.cpu")" -v pc="$(awk '{print $1 + $2}' "$OUT/$task.pytorch.cpu")" 'BEGIN {
    printf "%-8s wall: compaudit %7.2f s  pytorch %7.2f s  ratio %.1fx   cpu: compaudit %7.2f s  pytorch %7.2f s  ratio %.1fx\n",
      task, b - a, c - b, (c - b) / (b - a), cc, pc, pc / cc }'
  echo "         load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
done
if [ "$MEMORY" = "--memory" ]; then
  # K = 10 on all 60,000 / 10,000 images; one epoch each (peak memory does not grow with epochs: the same tensors
  # are reused every step), so the measurement takes minutes, not an hour.
  sed 's/^seeds = 5$/seeds = 10/; s/^name = "bench-fashion"$/name = "bench-fashion-k10"/; /^train_limit/d;
       /^test_limit/d; s/^epochs = 2$/epochs = 1/; s/^finetune_epochs = 5$/finetune_epochs = 1/' \
    "$HERE/fashion.toml" > "$OUT/fashion-k10.toml"
  /usr/bin/time -v "$BUILD/bin/compaudit" run "$OUT/fashion-k10.toml" --threads "$THREADS" -q -o "$OUT/fashion-k10" \
    > /dev/null 2> "$OUT/fashion-k10.time"
  awk '/Maximum resident/ { printf "fashion K=10: peak RSS %.0f MiB\n", $6 / 1024 }
       /Elapsed \(wall/ { print "fashion K=10: wall " $8 }' "$OUT/fashion-k10.time"
fi
echo "outputs in $OUT"
