#!/bin/sh
# The same audit as a compaudit pipeline and as idiomatic PyTorch (audit.py), side by side.
#
#   bench/audit_vs_pytorch/run.sh BUILD_DIR [THREADS] [TASKS] [--memory]
#
# BUILD_DIR holds bin/compaudit (and its built-in plugins); TASKS is "digits fashion" by default ("fashion-cnn": the
# built-in CNN, fashion_cnn.toml). compaudit runs with
# --threads THREADS (default 1). PyTorch is compared at its best, not only at the same setting: it runs at 1 thread
# and (when THREADS > 1) at THREADS threads (torch.set_num_threads). Both sides use the same OpenBLAS kernels —
# OpenBLAS's own choice, or OPENBLAS_CORETYPE as the caller's environment sets it (this script does not change it;
# the line of each run names the core it loaded, docs/engine.md "BLAS kernel"). Prints every wall time (end to end:
# process start, data loading, all cells, metrics; compaudit also writes its store and report.json) with its
# setting and CPU time, then the ratio PyTorch / compaudit against PyTorch's best run. Each PyTorch setting runs with
# glibc malloc's defaults and with the malloc settings compaudit gives itself (see pytorch() below).
# Measure OpenBLAS's own choice with `env -u OPENBLAS_CORETYPE sh run.sh ...`.
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

# pytorch TASK THREADS ALLOC: one audit.py run. Prints its line and appends "wall core threads alloc" to
# $OUT/TASK.walls. OpenBLAS (Debian's BLAS for python3-torch too) does not follow torch.set_num_threads:
# OPENBLAS_NUM_THREADS gets the same count, as compaudit does for itself, so PyTorch is not slowed by idle BLAS
# threads spinning. OPENBLAS_VERBOSE=2 makes OpenBLAS name the core it loaded ("Core: NAME").
# ALLOC "glibc" runs with glibc malloc's defaults; "kept" with the settings compaudit gives itself
# (batched/threads.h keep_freed_memory: M_MMAP_THRESHOLD 256 MiB, M_TRIM_THRESHOLD 512 MiB, M_TOP_PAD 64 MiB), as
# glibc's MALLOC_*_ variables: with the defaults every large activation of a step is a fresh mmap, page-faulted in
# and zeroed, which on this VM makes e.g. a CNN step at batch 128 three times slower.
pytorch() {
  tag="$1.pytorch.$2.$3"
  malloc_env=""
  if [ "$3" = kept ]; then
    malloc_env="MALLOC_MMAP_THRESHOLD_=268435456 MALLOC_TRIM_THRESHOLD_=536870912 MALLOC_TOP_PAD_=67108864"
  fi
  t0=$(now)
  if ! (
    env $malloc_env OPENBLAS_NUM_THREADS=$2 OPENBLAS_VERBOSE=2 /usr/bin/time -f "%U %S" -o "$OUT/$tag.cpu" \
      /usr/bin/python3 -W ignore "$HERE/audit.py" --task "$1" --threads "$2" > "$OUT/$tag.json" 2> "$OUT/$tag.err"
  ); then
    cat "$OUT/$tag.err" >&2
    exit 1
  fi
  t1=$(now)
  core=$(sed -n 's/^Core: //p' "$OUT/$tag.err" | head -n 1)
  awk -v task="$1" -v n="$2" -v alloc="$3" -v core="OpenBLAS ${core:-?}" -v a="$t0" -v b="$t1" \
      -v cpu="$(awk '{print $1 + $2}' "$OUT/$tag.cpu")" 'BEGIN {
    printf "%-11s pytorch    %d thread%s %-5s %-30s wall %7.2f s   cpu %7.2f s\n", task, n, n == 1 ? " " : "s",
      alloc, core, b - a, cpu }'
  echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') ${core:-?} $2 $3" >> "$OUT/$1.walls"
}

echo "threads: $THREADS   load average: $(cut -d' ' -f1-3 /proc/loadavg)" \
     "  OPENBLAS_CORETYPE: ${OPENBLAS_CORETYPE-unset}"
for task in $TASKS; do
  t0=$(now)
  /usr/bin/time -f "%U %S" -o "$OUT/$task.compaudit.cpu" \
    "$BUILD/bin/compaudit" run "$HERE/$(echo "$task" | tr - _).toml" --threads "$THREADS" -q -o "$OUT/$task" > "$OUT/$task.compaudit.txt"
  t1=$(now)
  # The BLAS compaudit recorded for the run (settings "blas", e.g. "OpenBLAS 0.3.21 Haswell"): its last word is
  # the core.
  blas=$(/usr/bin/python3 -c 'import json, sys
print(json.load(open(sys.argv[1]))["run"]["settings"].get("blas", "unknown"))' "$OUT/$task/report.json")
  ours=${blas##* }
  # Wall time is what the target is about; CPU time (user + sys) is printed too because on a shared machine the
  # wall time includes waiting for a core.
  ca_wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
  awk -v task="$task" -v n="$THREADS" -v blas="$blas" -v w="$ca_wall" \
      -v cpu="$(awk '{print $1 + $2}' "$OUT/$task.compaudit.cpu")" 'BEGIN {
    printf "%-11s compaudit  %d thread%s %-5s %-30s wall %7.2f s   cpu %7.2f s\n", task, n, n == 1 ? " " : "s",
      "", blas, w, cpu }'
  : > "$OUT/$task.walls"
  thread_counts=1
  if [ "$THREADS" -gt 1 ]; then thread_counts="1 $THREADS"; fi
  for n in $thread_counts; do
    for alloc in glibc kept; do
      pytorch "$task" "$n" "$alloc"
      theirs=$(tail -n 1 "$OUT/$task.walls" | cut -d' ' -f2)
      if [ "$ours" != "$theirs" ]; then echo "            warning: not the same kernels (compaudit $ours, PyTorch $theirs)"; fi
    done
  done
  # PyTorch wall / compaudit wall (above 1: compaudit is faster), against the fastest PyTorch run.
  awk -v task="$task" -v ca="$ca_wall" '
    { wall = $1; setting = $3 " thread" ($3 == 1 ? "" : "s") ", malloc " $4 }
    best == "" || wall < best { best = wall; bs = setting }
    END { printf "%-11s ratio pytorch/compaudit wall: %.1fx (against PyTorch at its best: %s)\n", task, best / ca, bs }' \
    "$OUT/$task.walls"
  echo "            load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
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
