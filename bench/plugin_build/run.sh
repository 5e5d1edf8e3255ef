#!/bin/bash
# Plugin build benchmark: configure + build of the `compaudit new-plugin` compressor scaffold
# against an *installed* SDK, as a third party builds it — the default build, and the old default for comparison.
#
#   bench/plugin_build/run.sh BUILD_DIR|PREFIX [WORK_DIR]
#
# BUILD_DIR (a compaudit build tree) is installed into WORK_DIR/prefix first; a PREFIX (holding
# lib/cmake/compaudit) is used as is. WORK_DIR defaults to a temporary directory, removed at the end.
# Rows (each a fresh configure + build of the same scaffold, one after the other):
#   default        what `cmake -S . -B build && cmake --build build` gives today (the SDK's build type and header
#                  choices)
#   default, RelWithDebInfo   the same with -DCMAKE_BUILD_TYPE=RelWithDebInfo
#   old default    the SDK before 1.1: all of <torch/torch.h> precompiled, no build type (no -O flag);
#                  reproduced by adding that precompiled header to a copy of the scaffold and building it as
#                  CMAKE_BUILD_TYPE=None (no flags, as an unset build type was)
#   old, RelWithDebInfo       the same with -DCMAKE_BUILD_TYPE=RelWithDebInfo (the issue's 98 s / 2.0 GB / 761 MB case)
# Columns: wall seconds of configure + build; peak memory = the largest resident set of any one process of the build
# (the compiler; /usr/bin/time %M); the build folder's size afterwards. Run it alone on the machine: in the shared
# checkout, hold the build lock (flock /tmp/compaudit-build.lock bench/plugin_build/run.sh build).
set -euo pipefail
target=${1:?usage: run.sh BUILD_DIR|PREFIX [WORK_DIR]}
target=$(cd "$target" && pwd)
if [ -n "${2:-}" ]; then
  mkdir -p "$2"; work=$(cd "$2" && pwd)
else
  work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
fi
if [ -f "$target/CMakeCache.txt" ]; then
  prefix="$work/prefix"
  cmake --install "$target" --prefix "$prefix" > "$work/install.log"
elif [ -f "$target/lib/cmake/compaudit/compauditConfig.cmake" ]; then
  prefix="$target"
else
  echo "run.sh: $target is neither a compaudit build tree nor an installed prefix" >&2; exit 2
fi

name=bench_plugin
rm -rf "$work/scaffold" "$work/scaffold-old"
"$prefix/bin/compaudit" new-plugin --kind compressor "$name" -o "$work/scaffold" > /dev/null
cp -r "$work/scaffold" "$work/scaffold-old"
echo "target_precompile_headers($name PRIVATE <torch/torch.h> <compaudit/compaudit.h>)" >> "$work/scaffold-old/CMakeLists.txt"

now() { date +%s.%N; }
# measure LABEL SOURCE [cmake configure args...]: one fresh configure + build; prints a row, keeps seconds in $seconds.
measure() {
  local label=$1 source=$2; shift 2
  local build="$work/build" start end conf_kb build_kb
  rm -rf "$build"
  start=$(now)
  /usr/bin/time -f %M -o "$work/configure.rss" cmake -S "$source" -B "$build" -G Ninja \
    "-DCMAKE_PREFIX_PATH=$prefix" "$@" > "$work/configure.log" 2>&1 \
    || { cat "$work/configure.log"; echo "run.sh: $label: configure failed" >&2; exit 1; }
  /usr/bin/time -f %M -o "$work/build.rss" cmake --build "$build" > "$work/build.log" 2>&1 \
    || { cat "$work/build.log"; echo "run.sh: $label: build failed" >&2; exit 1; }
  end=$(now)
  conf_kb=$(tail -1 "$work/configure.rss"); build_kb=$(tail -1 "$work/build.rss")
  [ "$conf_kb" -gt "$build_kb" ] && build_kb=$conf_kb
  seconds=$(echo "$end - $start" | bc)
  printf '%-32s %8.1f s %8.2f GB %8.1f MB   %s\n' "$label" "$seconds" \
    "$(echo "scale=3; $build_kb / 1048576" | bc)" \
    "$(echo "scale=1; $(du -sk "$build" | cut -f1) / 1024" | bc)" \
    "$(grep -o 'CMAKE_BUILD_TYPE:STRING=.*' "$build/CMakeCache.txt" | cut -d= -f2 | sed 's/^$/(none)/')"
}

echo "compaudit plugin build: '$name' compressor scaffold against $prefix"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(c++ --version | head -1)"
printf '%-32s %10s %11s %11s   %s\n' "" "time" "peak mem" "build dir" "build type"
measure "default" "$work/scaffold";                                           new=$seconds
measure "default, RelWithDebInfo" "$work/scaffold" -DCMAKE_BUILD_TYPE=RelWithDebInfo
measure "old default (torch.h PCH)" "$work/scaffold-old" -DCMAKE_BUILD_TYPE=None;                     old=$seconds
measure "old, RelWithDebInfo" "$work/scaffold-old" -DCMAKE_BUILD_TYPE=RelWithDebInfo
printf 'old default / default: %.1fx\n' "$(echo "scale=3; $old / $new" | bc)"
