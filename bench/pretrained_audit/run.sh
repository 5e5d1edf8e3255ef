#!/bin/sh
# The same pretrained audit in compaudit (pretrained_audit.toml) and as plain PyTorch + NumPy/SciPy (audit.py), side by
# side, at K = 1 and K = 5 checkpoints.
#
#   bench/pretrained_audit/run.sh BUILD_DIR [THREADS] [WORK_DIR] [KS]
#
# BUILD_DIR holds bin/compaudit and its built-in plugins. THREADS (default 1) is given to both sides deliberately:
# compaudit --threads THREADS (which sets its OpenBLAS threads too); PyTorch torch.set_num_threads(THREADS) and
# OPENBLAS_NUM_THREADS=THREADS (OpenBLAS does not follow torch.set_num_threads). WORK_DIR (default
# /tmp/compaudit-pretrained-audit) caches the models: the first run trains 5 small CNNs with
# examples/from-pytorch/train_and_export.py (--seeds 5 --epochs 1 --train-limit 20000; a few minutes, not timed) and
# later runs reuse them. KS is "1 5" by default.
#
# The audit: 10,000 Fashion-MNIST test images; 6 arms (dense + int8, int4 per-channel symmetric weight quantization,
# global magnitude pruning 50 / 70 / 90 %, no fine-tuning); metrics flips, exact McNemar per class with Holm, stratified
# paired bootstrap B = 2000 (critical class 6), KL shift.
#
# Times (wall clock, `date` before and after the process; CPU = user + sys from /usr/bin/time):
#   end to end   process start to exit. compaudit: data and checkpoint loading, every cell (compression +
#                inference), metrics, store, report.json and report.html. PyTorch: imports, loading, compression +
#                inference, statistics, JSON on stdout.
#   statistics   compaudit: its metrics phase, from the real run: the run is traced with
#                `strace -f --seccomp-bpf -e trace=openat` (only openat stops the process; negligible cost) and the
#                phase is the time from the dlopen of the first metric plugin (after the last cell) to the report's
#                read-only open of the store. It includes reading the predictions from the store, instantiating the
#                4 metric plugins, every computation and storing the results. PyTorch: audit.py's own perf_counter
#                around its statistics (predictions already in memory).
# PyTorch runs twice, with glibc malloc's defaults and with the malloc settings compaudit gives itself
# (batched/threads.h keep_freed_memory, as bench/audit_vs_pytorch), and is compared at its best.
# Ratios are PyTorch / compaudit: above 1, compaudit is faster. The machine may be shared: the load average is printed.
set -eu
BUILD=$(cd "${1:?usage: run.sh BUILD_DIR [THREADS] [WORK_DIR] [KS]}" && pwd)
THREADS=${2:-1}
WORK=${3:-/tmp/compaudit-pretrained-audit}
KS=${4:-1 5}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
now() { date +%s.%N; }
mkdir -p "$WORK/models"
WORK=$(cd "$WORK" && pwd)

if [ ! -f "$WORK/models/model_seed4.pt" ] || [ ! -f "$WORK/models/fashion_test.npz" ]; then
  echo "training 5 checkpoints into $WORK/models (once; not timed)"
  /usr/bin/python3 "$REPO/examples/from-pytorch/train_and_export.py" --out "$WORK/models" --seeds 5 --epochs 1 \
    --train-limit 20000 --threads "$THREADS"
fi

# pipeline K: pretrained_audit.toml with K checkpoints, beside models/ (its paths are relative to the file).
pipeline() {
  awk -v k="$1" '
    /^checkpoints = / { s = "checkpoints = ["; for (i = 0; i < k; ++i) s = s (i ? ", " : "") "\"models/model_seed" i ".pt\"";
                        print s "]"; skip = 1; next }
    skip && /^ +"models\// { next }
    { skip = 0; print }' "$HERE/pretrained_audit.toml" > "$WORK/pretrained_k$1.toml"
}

echo "threads: $THREADS   load average: $(cut -d' ' -f1-3 /proc/loadavg)   work: $WORK"
for k in $KS; do
  pipeline "$k"
  run="$WORK/runs/k$k"
  rm -rf "$run"
  t0=$(now)
  strace -f --seccomp-bpf -qq -tt -e trace=openat -o "$WORK/k$k.strace" \
    /usr/bin/time -f "%U %S" -o "$WORK/k$k.compaudit.cpu" \
    "$BUILD/bin/compaudit" run "$WORK/pretrained_k$k.toml" --threads "$THREADS" -q -o "$run" \
    > "$WORK/k$k.compaudit.txt" 2>&1 || { cat "$WORK/k$k.compaudit.txt" >&2; exit 1; }
  t1=$(now)
  # The metrics phase: first metric dlopen (O_CLOEXEC; the earlier plain O_RDONLY opens hash the libraries for the
  # run's input digests) to the report's read-only open of results.sqlite.
  ca_stats=$(awk '
    function secs(t,  a) { split(t, a, ":"); return a[1] * 3600 + a[2] * 60 + a[3] }
    start == "" && /libmetric_.*O_CLOEXEC/ { start = secs($2) }
    start != "" && /results\.sqlite", O_RDONLY/ { print secs($2) - start; exit }' "$WORK/k$k.strace")
  ca_wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
  ca_cpu=$(awk '{ print $1 + $2 }' "$WORK/k$k.compaudit.cpu")
  printf "K=%d  compaudit  %d thread(s)               wall %7.2f s   cpu %7.2f s   statistics %6.3f s\n" \
    "$k" "$THREADS" "$ca_wall" "$ca_cpu" "${ca_stats:-nan}"

  best_wall="" best_cpu="" best_stats="" best_alloc=""
  for alloc in glibc kept; do
    malloc_env=""
    if [ "$alloc" = kept ]; then
      malloc_env="MALLOC_MMAP_THRESHOLD_=268435456 MALLOC_TRIM_THRESHOLD_=536870912 MALLOC_TOP_PAD_=67108864"
    fi
    out="$WORK/k$k.pytorch.$alloc"
    t0=$(now)
    env $malloc_env OPENBLAS_NUM_THREADS="$THREADS" /usr/bin/time -f "%U %S" -o "$out.cpu" \
      /usr/bin/python3 -W ignore "$HERE/audit.py" --models "$WORK/models" --seeds "$k" --threads "$THREADS" \
      > "$out.json" 2> "$out.err" || { cat "$out.err" >&2; exit 1; }
    t1=$(now)
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
    py=$(/usr/bin/python3 -c 'import json, sys
s = json.load(open(sys.argv[1]))["seconds"]
print(s["statistics"], s["inference"], s["import"])' "$out.json")
    set -- $py
    cpu=$(awk '{ print $1 + $2 }' "$out.cpu")
    printf "K=%d  pytorch    %d thread(s) malloc %-5s  wall %7.2f s   cpu %7.2f s   statistics %6.3f s" \
      "$k" "$THREADS" "$alloc" "$wall" "$cpu" "$1"
    printf "   (inference %.2f s, imports %.2f s)\n" "$2" "$3"
    if [ -z "$best_wall" ] || awk -v a="$wall" -v b="$best_wall" 'BEGIN { exit !(a < b) }'; then
      best_wall=$wall best_cpu=$cpu best_stats=$1 best_alloc=$alloc
    fi
  done
  # CPU time too: on a shared machine the wall time includes waiting for a core.
  awk -v k="$k" -v pw="$best_wall" -v cw="$ca_wall" -v pc="$best_cpu" -v cc="$ca_cpu" -v ps="$best_stats" \
      -v cs="${ca_stats:-0}" -v al="$best_alloc" \
    'BEGIN { printf("K=%d  ratio pytorch/compaudit: end to end %.2fx (cpu %.2fx), statistics %.2fx (PyTorch at its best: malloc %s)\n",
                    k, pw / cw, pc / cc, cs > 0 ? ps / cs : 0, al) }'
  # Same answers? The per-arm summaries of both, side by side (bootstrap intervals differ within Monte Carlo error:
  # other random draws).
  /usr/bin/python3 - "$run/report.json" "$WORK/k$k.pytorch.$best_alloc.json" "$k" <<'EOF'
import json, sys
report, ours, k = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))["arms"], sys.argv[3]
keys = [("flips", "negative_flip_rate"), ("mcnemar", "b"), ("mcnemar", "c"), ("mcnemar", "impacted_classes"),
        ("paired_bootstrap", "max_recall_drop_upper"), ("kl_shift", "kl_p99")]
worst = {key: 0.0 for key in keys}
for arm in report["arms"]:
    theirs = {m["id"].rsplit(".", 1)[1]: m["result"]["summary"] for m in arm["metrics"]}
    for metric, stat in keys:
        worst[(metric, stat)] = max(worst[(metric, stat)], abs(theirs[metric][stat] - ours[arm["name"]][metric][stat]))
print(f"K={k}  largest |compaudit - pytorch| over arms: "
      + ", ".join(f"{stat} {v:.3g}" for (metric, stat), v in worst.items()))
EOF
  echo "      load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
done
echo "outputs in $WORK"
