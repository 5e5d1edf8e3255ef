#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) in their own build directory and runs each for a bounded time
# on its committed seed corpus, then prints executions and crashes per target. On demand only: not part of the
# default build or test suite. See docs/fuzzing.md.
#
#   fuzz/run.sh                     all targets, 60 s each
#   FUZZ_SECONDS=600 fuzz/run.sh csv idx
#   fuzz/run.sh --no-build manifest # reuse the build as it is
#
# Environment: FUZZ_SECONDS (default 60), FUZZ_BUILD_DIR (default <repo>/build-fuzz), FUZZ_JOBS (build jobs,
# default 1), FUZZ_WORK (findings and the grown corpora, default <build dir>/fuzz-work), FUZZ_ARGS (extra libFuzzer
# flags). Exit status: 0 when no target crashed, 1 otherwise, 2 for a usage or build problem.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
build="${FUZZ_BUILD_DIR:-$repo/build-fuzz}"
seconds="${FUZZ_SECONDS:-60}"
jobs="${FUZZ_JOBS:-1}"
do_build=1
all_targets=(manifest pipeline idx cifar10 csv npy registry_cache)
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) do_build=0 ;;
    --build-dir) build="$2"; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) if [[ " ${all_targets[*]} " == *" $1 "* ]]; then targets+=("$1"); else
         echo "run.sh: unknown target '$1' (targets: ${all_targets[*]})" >&2; exit 2; fi ;;
  esac
  shift
done
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
work="${FUZZ_WORK:-$build/fuzz-work}"

# Per-target libFuzzer options. A CIFAR-10 record is 3073 bytes, so that target needs room for a few of them; npy's
# seeds include zip archives and images, which are larger than a CSV too.
max_len() { case "$1" in cifar10|npy) echo 16384 ;; *) echo 4096 ;; esac; }

if [ "$do_build" = 1 ]; then
  if ! command -v clang++ >/dev/null; then
    echo "run.sh: clang++ not found (Debian: apt-get install -y clang libclang-rt-14-dev)" >&2
    exit 2
  fi
  if [ ! -f "$build/CMakeCache.txt" ]; then
    CC=clang CXX=clang++ cmake -S "$repo" -B "$build" -G Ninja -DCOMPAUDIT_BUILD_FUZZ=ON \
      -DCOMPAUDIT_BUILD_TESTS=OFF -DCOMPAUDIT_BUILD_BENCH=OFF >/dev/null || exit 2
  fi
  cmake --build "$build" -j"$jobs" --target $(printf 'fuzz_%s ' "${targets[@]}") || exit 2
fi

status=0
summary=()
for t in "${targets[@]}"; do
  bin="$build/fuzz/fuzz_$t"
  [ -x "$bin" ] || { echo "run.sh: $bin is not built" >&2; exit 2; }
  corpus="$work/$t/corpus"       # what libFuzzer adds (the committed seeds stay untouched)
  artifacts="$work/$t/artifacts" # crash-*, leak-*, timeout-*, oom-* reproducers
  mkdir -p "$corpus" "$artifacts"
  before=$(find "$artifacts" -type f | wc -l)
  log="$work/$t/last-run.log"
  echo "== fuzz_$t: ${seconds}s on $here/corpus/$t (log: $log)"
  set +e
  dict=()
  [ -f "$here/dict/$t.dict" ] && dict=(-dict="$here/dict/$t.dict")
  # -timeout: one input taking this long is a finding (a hang); -rss_limit_mb: so is using this much memory.
  "$bin" "$corpus" "$here/corpus/$t" -max_total_time="$seconds" -max_len="$(max_len "$t")" -timeout=10 \
    -rss_limit_mb=3072 -print_final_stats=1 -artifact_prefix="$artifacts/" "${dict[@]}" ${FUZZ_ARGS:-} >"$log" 2>&1
  rc=$?
  set -e
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1 || true)
  [ -n "$execs" ] || execs=$(grep -o '^Done [0-9]* runs' "$log" | grep -o '[0-9]*' | tail -1 || true)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || true)
  new=$(( $(find "$artifacts" -type f | wc -l) - before ))
  if [ "$rc" -ne 0 ] || [ "$new" -gt 0 ]; then
    status=1
    grep -m1 -E 'ERROR: (Address|UndefinedBehavior|Leak)Sanitizer|ERROR: libFuzzer|runtime error|invariant violated|terminate called' \
      "$log" || true
    echo "   reproduce: $bin $(ls -t "$artifacts" | head -1 | sed "s#^#$artifacts/#")"
  fi
  summary+=("$(printf '%-9s executions %10s   coverage %6s   crashes %d   (exit %d)' \
                      "$t" "${execs:-?}" "${cov:-?}" "$new" "$rc")")
done

echo
echo "fuzz summary (${seconds}s per target; findings in $work/<target>/artifacts):"
printf '  %s\n' "${summary[@]}"
exit $status
