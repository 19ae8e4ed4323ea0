#!/bin/sh
# Builds the libFuzzer targets with clang and fuzzes the interpreter for a while.
#
#   fuzz/run-smoke.sh [SECONDS]        (default 60)
#
# Environment: FUZZER (interpreter_fuzz, the default, or jit_fuzz), BUILD_DIR (default build-fuzz/smoke under the repository), CC/CXX (default
# clang/clang++), ANCHORS (default ../shared/anchors), JOBS (parallel fuzzing jobs, default 1).
# Seeds are generated at run time from the bpf_conformance programs.tsv (when the anchors are
# present) and from tests/cases. Crashes are left as crash-* files in $BUILD_DIR/artifacts;
# the script exits non-zero when the fuzzer finds one.
set -eu

seconds=${1:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build-fuzz/smoke}
anchors=${ANCHORS:-$root/../shared/anchors}
jobs=${JOBS:-1}
fuzzer=${FUZZER:-interpreter_fuzz}

cmake -S "$root/fuzz" -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER="${CC:-clang}" -DCMAKE_CXX_COMPILER="${CXX:-clang++}" >/dev/null
cmake --build "$build" --target "$fuzzer" fuzz_seeds

seeds="$build/seeds"
corpus="$build/corpus/$fuzzer"
artifacts="$build/artifacts/$fuzzer"
mkdir -p "$corpus" "$artifacts"
rm -rf "$seeds"
"$build/fuzz_seeds" "$seeds" "$anchors/bpf_conformance/programs.tsv" "$root/tests/cases"

export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
parallel=""
if [ "$jobs" -gt 1 ]; then parallel="-jobs=$jobs -workers=$jobs"; fi
# New inputs go to $corpus (kept between runs); the seeds are only read. With JOBS > 1
# libFuzzer writes fuzz-N.log files into the working directory: the build folder.
cd "$build"
# shellcheck disable=SC2086
exec "$build/$fuzzer" "$corpus" "$seeds" \
  -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 $parallel \
  -artifact_prefix="$artifacts/" -print_final_stats=1
