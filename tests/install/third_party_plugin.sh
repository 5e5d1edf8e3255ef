#!/usr/bin/env bash
# Installs compaudit into a temporary prefix, builds examples/third-party-plugin against the installed SDK, and shows that the installed host finds, validates and runs them through
# COMPAUDIT_PLUGIN_PATH — swapping one compressor for another by editing only the pipeline file.
set -euo pipefail
build="$1"
source="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$prefix" > "$work/install.log"
compaudit="$prefix/bin/compaudit"
[ -x "$compaudit" ] || fail "cmake --install did not install bin/compaudit"
[ -f "$prefix/lib/cmake/compaudit/compauditConfig.cmake" ] || fail "no CMake package config installed"

# 1. The third-party example, built out of tree against the installed package.
cmake -S "$source/examples/third-party-plugin" -B "$work/example" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" \
  > "$work/example-configure.log" || { cat "$work/example-configure.log"; fail "example does not configure"; }
cmake --build "$work/example" > "$work/example-build.log" || { cat "$work/example-build.log"; fail "example does not build"; }
exported=$(nm -D --defined-only "$work/example/librandom_pruning.so" | awk '{print $3}')
[ "$exported" = "compaudit_plugin_entry" ] || fail "plugin exports more than its entry point: $exported"

export COMPAUDIT_PLUGIN_PATH="$work/example"
"$compaudit" plugins list > "$work/list.txt"
grep -q "org.example.prune.random" "$work/list.txt" || { cat "$work/list.txt"; fail "plugins list does not show the example"; }
grep -q "org.compaudit.prune.magnitude" "$work/list.txt" || fail "installed built-in plugins are not listed"
"$compaudit" plugins inspect org.example.prune.random --load > "$work/inspect.txt" \
  || { cat "$work/inspect.txt"; fail "inspect --load refused the example"; }

# 2. One scheme swapped for another by editing only the pipeline file: magnitude pruning, then the example's.
cp "$source/tests/install/tiny-digits.toml" "$work/magnitude.toml"
sed 's/org.compaudit.prune.magnitude/org.example.prune.random/' "$work/magnitude.toml" > "$work/random.toml"
"$compaudit" validate "$work/random.toml" > /dev/null || fail "validate refused the pipeline using the example"
"$compaudit" run "$work/magnitude.toml" -o "$work/run-magnitude" > "$work/run-magnitude.log" 2>&1 \
  || { cat "$work/run-magnitude.log"; fail "run with magnitude pruning failed"; }
"$compaudit" run "$work/random.toml" -o "$work/run-random" > "$work/run-random.log" 2>&1 \
  || { cat "$work/run-random.log"; fail "run with the third-party plugin failed"; }
/usr/bin/python3 - "$work/run-magnitude/results.sqlite" "$work/run-random/results.sqlite" <<'PY'
# The compression records each step wrote are kept in the results store: the swapped run must hold the example
# plugin's record ("random pruning: ..."), the original run must not.
import sqlite3, sys
def text_of(path):
    db = sqlite3.connect(path)
    out = []
    for (table,) in db.execute("select name from sqlite_master where type = 'table'"):
        for row in db.execute(f'select * from "{table}"'):
            out += [v for v in row if isinstance(v, str)]
    return "\n".join(out)
a, b = text_of(sys.argv[1]), text_of(sys.argv[2])
assert "random pruning" in b, "the swapped run's store does not record the example plugin's work"
assert "random pruning" not in a, "the magnitude run should not mention random pruning"
assert "org.compaudit.prune.magnitude" in a
print("swap ok")
PY

# (Scaffolds of every kind are built and loaded from the installed SDK by tests/core's new-plugin test.)
echo "install test: all checks passed"
