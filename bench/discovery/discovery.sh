#!/bin/sh
# Discovery benchmark: listing 1,000 plugins from manifests vs opening every library.
#   bench/discovery/discovery.sh [BUILD_DIR] [LIBRARY.so...]
# Default: 1,000 copies of the real manifest manifests/prune_magnitude.toml (ids made distinct),
# each beside a copy of BUILD_DIR's libprune_magnitude.so. With LIBRARY.so arguments, or without that plugin built:
# generated manifests for copies of those libraries (else the core test plugin).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
[ $# -gt 0 ] && shift
build=$(cd "$build" && pwd)
manifest=
if [ $# -eq 0 ] && [ -f "$build/lib/compaudit/plugins/libprune_magnitude.so" ]; then
  set -- "$build/lib/compaudit/plugins/libprune_magnitude.so"
  manifest="--manifest $here/../../manifests/prune_magnitude.toml"
fi
if [ $# -eq 0 ]; then
  set -- $(ls "$build"/lib/compaudit/plugins/*.so 2>/dev/null || true)
  [ $# -eq 0 ] && set -- "$build/tests/core/test-plugins/libtp_good.so"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Copies of built-in plugins find the SDK libraries through the build's lib directory.
LD_LIBRARY_PATH="$build/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
  "$build/bin/discovery_bench" "$build/bin/compaudit" "$work/gen" "$@" --count 1000 --repeat 7 $manifest
