#!/bin/sh
# Seeds of fuzz_registry_cache: a real registry cache written by `compaudit plugins list` (the test manifests of
# tests/core/data/plugins and the build's built-in plugins), and the bare magic. Run: make_seeds.sh [BUILD_DIR]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../../../build}" && pwd)
plugins="$here/../../../tests/core/data/plugins"
empty=$(mktemp -d)
trap 'rm -rf "$empty"' EXIT
rm -f "$here/plugins.bin"
XDG_DATA_HOME="$empty" COMPAUDIT_REGISTRY_CACHE="$here/plugins.bin" \
  "$build/bin/compaudit" plugins list --plugin-path "$plugins" >/dev/null
chmod 644 "$here/plugins.bin"
printf 'CAUDREG3' >"$here/magic_only.bin"
