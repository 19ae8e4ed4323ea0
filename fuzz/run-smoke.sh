#!/bin/sh
# Builds the libFuzzer targets with clang and fuzzes the interpreter for a while.
#
#   fuzz/run-smoke.sh [SECONDS]        (default 60)
#
# Environment: FUZZER (interpreter_fuzz, the default, jit_fuzz, loader_fuzz, verifier_fuzz or
# classic_branch_free_fuzz), MAX_LEN, BUILD_DIR (default build-fuzz/smoke under the repository), CC/CXX (default
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
if [ "$fuzzer" = classic_branch_free_fuzz ]; then
  cmake --build "$build" --target "$fuzzer"
else
  cmake --build "$build" --target "$fuzzer" fuzz_seeds
fi

seeds="$build/seeds"
corpus="$build/corpus/$fuzzer"
artifacts="$build/artifacts/$fuzzer"
mkdir -p "$corpus" "$artifacts"
rm -rf "$seeds"
max_len=${MAX_LEN:-4096}
if [ "$fuzzer" = loader_fuzz ]; then
  # ELF objects: the ebpf-samples objects up to 64 KiB (when the anchors are present) and the
  # objects built from tests/bpf in a build folder, if any.
  max_len=${MAX_LEN:-65536}
  mkdir -p "$seeds"
  for dir in "$anchors/ebpf-samples" "$root/build/tests/bpf-objects"; do
    [ -d "$dir" ] || continue
    find "$dir" -type f -size -64k ! -name '*.asm' ! -name '*.json' ! -name '*.md' \
      ! -name '*.tsv' ! -name SHA256SUMS | while read -r file; do
      cp "$file" "$seeds/$(echo "$file" | tr / _)"
    done
  done
  # Never an empty seed folder: libFuzzer then starts from nothing.
  printf '\177ELF' > "$seeds/elf-magic"
elif [ "$fuzzer" = classic_branch_free_fuzz ]; then
  # Classic programs are made from any bytes (see the target's header comment): two seeds,
  # one with a dispatch in front and one without, each with a 60-byte packet.
  max_len=${MAX_LEN:-1024}
  mkdir -p "$seeds"
  head -c 400 /dev/zero | tr '\000' '\025' > "$seeds/plain"
  { printf '\020\001'; head -c 300 /dev/zero | tr '\000' '\050'; } > "$seeds/dispatch"
elif [ "$fuzzer" = verifier_fuzz ]; then
  # The verifier cases, each with its context and budget (fuzz/verifier_input.hpp).
  "$build/fuzz_seeds" --verifier "$seeds" "$root/tests/verifier/cases"
else
  "$build/fuzz_seeds" "$seeds" "$anchors/bpf_conformance/programs.tsv" "$root/tests/cases"
fi

export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
parallel=""
if [ "$jobs" -gt 1 ]; then parallel="-jobs=$jobs -workers=$jobs"; fi
# New inputs go to $corpus (kept between runs); the seeds are only read. With JOBS > 1
# libFuzzer writes fuzz-N.log files into the working directory: the build folder.
cd "$build"
# shellcheck disable=SC2086
exec "$build/$fuzzer" "$corpus" "$seeds" \
  -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 $parallel \
  -artifact_prefix="$artifacts/" -print_final_stats=1
