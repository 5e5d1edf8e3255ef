# A manifest and its code cannot disagree unnoticed: each kind of mismatch fails
# the plugin's build or `compaudit plugins inspect ID --load`, never a run after training. Builds the project in
# data/manifest_mismatch against the installed SDK (install into a temporary prefix unless PREFIX is given), then
# edits one manifest at a time:
#   renamed parameter  generated Options: build fails (the code names the old member); hand-written get<T>: inspect
#                      --load exits 3 naming the manifest and the parameter
#   changed type       hand-written: inspect --load exits 3 naming the declared type and the C++ type asked for;
#                      generated: the member takes the new type, and inspect --load passes
#   changed id         hand-written: the loader's id check, exit 3; generated: the library takes the new id
#   different needs    generated needs: the metric's static_assert on them fails the build
#   library name       a manifest `library` other than lib<target>.so fails the build
#   cmake -DEXE=<compaudit> -DBUILD_DIR=<build tree> -DSOURCE=<this folder>/data/manifest_mismatch -DWORK=<scratch>
#         [-DPREFIX=<installed prefix>] -P manifest_mismatch.cmake
include("${CMAKE_CURRENT_LIST_DIR}/installed_sdk.cmake")  # WORK emptied; PREFIX: the installed SDK
set(project "${WORK}/project")
file(COPY "${SOURCE}/" DESTINATION "${project}")

function(build expect what)  # expect: pass | fail; leaves the output in `build_output`
  execute_process(COMMAND ${CMAKE_COMMAND} --build "${project}/build" RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE err)
  set(build_output "${out}${err}" PARENT_SCOPE)
  if(expect STREQUAL "pass" AND NOT rc EQUAL 0)
    message(FATAL_ERROR "${what}: the build should pass but failed:\n${out}${err}")
  elseif(expect STREQUAL "fail" AND rc EQUAL 0)
    message(FATAL_ERROR "${what}: the build should fail but passed:\n${out}${err}")
  endif()
  message(STATUS "${what}: build ${expect}ed as expected")
endfunction()

function(inspect id expected_rc what)  # leaves stdout + stderr in `inspect_output`
  execute_process(COMMAND ${CMAKE_COMMAND} -E env "COMPAUDIT_PLUGIN_PATH=${project}/build"
                          COMPAUDIT_REGISTRY_CACHE=off "${EXE}" plugins inspect ${id} --load
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  set(inspect_output "${out}${err}" PARENT_SCOPE)
  if(NOT rc EQUAL expected_rc)
    message(FATAL_ERROR "${what}: inspect ${id} --load exited ${rc}, expected ${expected_rc}:\n${out}${err}")
  endif()
  message(STATUS "${what}: inspect --load exited ${rc} as expected")
endfunction()

function(expect_in text pattern what)
  string(FIND "${text}" "${pattern}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${what}: the output does not contain '${pattern}':\n${text}")
  endif()
endfunction()

# Rewrites one manifest of the project: `edit` replaces `from` with `to` in the original text.
function(edit_manifest name from to)
  file(READ "${SOURCE}/${name}.toml" text)
  string(FIND "${text}" "${from}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "test bug: '${from}' is not in ${name}.toml")
  endif()
  string(REPLACE "${from}" "${to}" text "${text}")
  file(WRITE "${project}/${name}.toml" "${text}")
endfunction()
function(restore_manifest name)
  file(COPY "${SOURCE}/${name}.toml" DESTINATION "${project}")
  file(TOUCH "${project}/${name}.toml")
endfunction()

execute_process(COMMAND ${CMAKE_COMMAND} -S "${project}" -B "${project}/build" "-DCMAKE_PREFIX_PATH=${PREFIX}"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configuring the project failed: ${out}${err}")
endif()

# Agreement: both plugins build, load, create and read exactly what their manifests declare.
build(pass "manifests as written")
inspect(org.example.test.gen_pruner 0 "generated, as written")
expect_in("${inspect_output}" "reads fraction (double), layers (std::vector<std::string>)" "generated, as written")
expect_in("${inspect_output}" "checks: passed" "generated, as written")
inspect(org.example.test.hand_pruner 0 "hand-written, as written")
expect_in("${inspect_output}" "checks: passed" "hand-written, as written")
inspect(org.example.test.gen_metric 0 "metric, as written")

# Renamed parameter.
edit_manifest(gen_pruner "name = \"fraction\"" "name = \"amount\"")
build(fail "generated, fraction renamed amount")
expect_in("${build_output}" "fraction" "generated, fraction renamed amount")
restore_manifest(gen_pruner)
edit_manifest(hand_pruner "name = \"fraction\"" "name = \"amount\"")
build(pass "hand-written, fraction renamed amount")
inspect(org.example.test.hand_pruner 3 "hand-written, fraction renamed amount")
expect_in("${inspect_output}" "hand_pruner.toml: the plugin reads parameter 'fraction' as double, which the manifest does not declare" "hand-written, renamed")

# Changed type.
edit_manifest(hand_pruner "type = \"float\"\nmin = 0.0\nmax = 1.0" "type = \"int\"\nmin = 0\nmax = 1")
build(pass "hand-written, fraction made int")
inspect(org.example.test.hand_pruner 3 "hand-written, fraction made int")
expect_in("${inspect_output}" "hand_pruner.toml: parameter 'fraction' is declared int (read as std::int64_t) but the plugin reads it as double" "hand-written, retyped")
edit_manifest(gen_pruner "type = \"float\"\nmin = 0.0\nmax = 1.0" "type = \"int\"\nmin = 0\nmax = 1")
build(pass "generated, fraction made int")
inspect(org.example.test.gen_pruner 0 "generated, fraction made int")
expect_in("${inspect_output}" "reads fraction (std::int64_t)" "generated, retyped")
restore_manifest(gen_pruner)

# Changed id.
edit_manifest(hand_pruner "id = \"org.example.test.hand_pruner\"" "id = \"org.example.test.renamed\"")
build(pass "hand-written, id changed")
inspect(org.example.test.renamed 3 "hand-written, id changed")
expect_in("${inspect_output}" "org.example.test.hand_pruner" "hand-written, id changed")
restore_manifest(hand_pruner)
edit_manifest(gen_pruner "id = \"org.example.test.gen_pruner\"" "id = \"org.example.test.renamed\"")
build(pass "generated, id changed")
inspect(org.example.test.renamed 0 "generated, id changed")
expect_in("${inspect_output}" "descriptor: id org.example.test.renamed" "generated, id changed")
restore_manifest(gen_pruner)

# Different needs.
edit_manifest(gen_metric "needs = [\"probabilities\"]" "needs = []")
build(fail "metric, needs dropped")
expect_in("${build_output}" "gen_metric.toml must say needs" "metric, needs dropped")
restore_manifest(gen_metric)

# Library name.
edit_manifest(gen_pruner "library = \"libgen_pruner.so\"" "library = \"libother.so\"")
build(fail "generated, library renamed")
expect_in("${build_output}" "library = \"libother.so\" but the build makes libgen_pruner.so" "library renamed")
restore_manifest(gen_pruner)

build(pass "manifests restored")
inspect(org.example.test.gen_pruner 0 "generated, restored")
file(REMOVE_RECURSE "${WORK}")
