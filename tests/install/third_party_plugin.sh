#!/usr/bin/env bash
# Installs compaudit into a temporary prefix, builds the installed examples/third-party-plugin against the installed
# SDK and runs its unit test, installs it into a user plugin directory (compaudit_install_plugin), and shows that the
# installed host finds, validates and runs it through COMPAUDIT_PLUGIN_PATH — swapping one compressor for another by
# editing only the pipeline file.
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

# 1. The third-party example as installed with the SDK, built out of tree against the installed package with no
#    build type given (the SDK makes it Release), and its own unit test (compaudit/testing.h) run by ctest.
example_source="$prefix/share/compaudit/examples/third-party-plugin"
[ -f "$example_source/random_pruning_test.cpp" ] || fail "the example (with its unit test) is not installed in $example_source"
[ -f "$example_source/README.md" ] || fail "the example's README is not installed"
cmake -S "$example_source" -B "$work/example" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" \
  > "$work/example-configure.log" || { cat "$work/example-configure.log"; fail "example does not configure"; }
grep -qx "CMAKE_BUILD_TYPE:STRING=Release" "$work/example/CMakeCache.txt" \
  || fail "a plugin configured without CMAKE_BUILD_TYPE is not built as Release"
cmake --build "$work/example" > "$work/example-build.log" || { cat "$work/example-build.log"; fail "example does not build"; }
exported=$(nm -D --defined-only "$work/example/librandom_pruning.so" | awk '{print $3}')
[ "$exported" = "compaudit_plugin_entry" ] || fail "plugin exports more than its entry point: $exported"
ctest --test-dir "$work/example" --output-on-failure > "$work/example-test.log" 2>&1 \
  || { cat "$work/example-test.log"; fail "the example's unit test fails"; }
grep -q "100% tests passed, 0 tests failed out of 1" "$work/example-test.log" && ! grep -qi "skipped" "$work/example-test.log" \
  || { cat "$work/example-test.log"; fail "the example's unit test did not run and pass"; }
# docs/plugin-authoring.md quotes the example: every block it marks "verbatim" must still be in the installed file.
/usr/bin/python3 "$source/tests/install/check_doc_quotes.py" "$source/docs/plugin-authoring.md" \
  examples/third-party-plugin "$example_source" || fail "docs/plugin-authoring.md no longer quotes the example"

# compaudit_install_plugin(): install_random_pruning copies library and manifest into the user plugin directory,
# where the host finds them with no COMPAUDIT_PLUGIN_PATH ($XDG_DATA_HOME first, else ~/.local/share).
XDG_DATA_HOME="$work/xdg" cmake --build "$work/example" --target install_random_pruning > "$work/user-install.log" \
  || { cat "$work/user-install.log"; fail "install_random_pruning failed"; }
[ -f "$work/xdg/compaudit/plugins/random_pruning/librandom_pruning.so" ] \
  && [ -f "$work/xdg/compaudit/plugins/random_pruning/random_pruning.toml" ] \
  || fail "install_random_pruning did not put the library and manifest into \$XDG_DATA_HOME/compaudit/plugins"
env -u COMPAUDIT_PLUGIN_PATH XDG_DATA_HOME="$work/xdg" COMPAUDIT_REGISTRY_CACHE=off "$compaudit" plugins list \
  > "$work/user-list.txt"
grep -Eq "^org\.example\.prune\.random +1\.0\.0 +compressor +user " "$work/user-list.txt" \
  || { cat "$work/user-list.txt"; fail "plugins list does not find the plugin in the user plugin directory"; }
env -u COMPAUDIT_PLUGIN_PATH XDG_DATA_HOME="$work/xdg" COMPAUDIT_REGISTRY_CACHE=off "$compaudit" plugins inspect \
  org.example.prune.random --load > "$work/user-inspect.txt" \
  || { cat "$work/user-inspect.txt"; fail "inspect --load refused the plugin installed into the user directory"; }
env -u XDG_DATA_HOME HOME="$work/home" cmake --build "$work/example" --target install_random_pruning \
  > "$work/home-install.log" || { cat "$work/home-install.log"; fail "install_random_pruning without XDG_DATA_HOME failed"; }
[ -f "$work/home/.local/share/compaudit/plugins/random_pruning/librandom_pruning.so" ] \
  || fail "without XDG_DATA_HOME, install_random_pruning did not install into ~/.local/share/compaudit/plugins"

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
