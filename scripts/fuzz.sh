#!/usr/bin/env bash
# The libFuzzer harnesses (tests/fuzz, docs/fuzzing.md): build them with the fuzz preset (clang-14,
# AddressSanitizer + UndefinedBehaviorSanitizer), then
#
#   scripts/fuzz.sh replay                  CI: every harness over its corpus and its regressions, then a
#                                           fixed number of mutations with a fixed seed
#   scripts/fuzz.sh run SECONDS [HARNESS…]  fuzz each harness (default: all) for SECONDS, at most
#                                           FUZZ_PARALLEL (2) at once, one job each; new inputs go to
#                                           build/fuzz/work/HARNESS, crashes to build/fuzz/artifacts/HARNESS
#   scripts/fuzz.sh merge [HARNESS…]        minimise corpus + work into tests/fuzz/corpus/HARNESS (-merge=1)
#   scripts/fuzz.sh list                    the harnesses
#
# A failure prints the input that caused it; reproduce with build/fuzz/bin/HARNESS FILE.
set -euo pipefail
cd "$(dirname "$0")/.."

HARNESSES=(policy_fuzzer config_fuzzer json_fuzzer resolve_fuzzer api_fuzzer http_wire_fuzzer audit_entry_fuzzer audit_verifier_fuzzer)
# Mutations per harness in replay mode, sized so that each takes seconds on a 2-core CI machine
# (the verifier builds and damages a database per input: it runs at ~100 inputs/s, the others at 500-10,000).
declare -A REPLAY_RUNS=(
  [policy_fuzzer]=4000 [config_fuzzer]=4000 [json_fuzzer]=10000 [resolve_fuzzer]=3000 [api_fuzzer]=3000 [http_wire_fuzzer]=10000
  [audit_entry_fuzzer]=20000 [audit_verifier_fuzzer]=500)

BIN=build/fuzz/bin
CORPUS=tests/fuzz/corpus
REGRESSIONS=tests/fuzz/regressions
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

build() {
  scripts/setup.sh
  cmake --preset fuzz
  cmake --build --preset fuzz
}

check_harnesses() {
  for h in "$@"; do
    [[ " ${HARNESSES[*]} " == *" $h "* ]] || { echo "fuzz.sh: no harness '$h' (scripts/fuzz.sh list)" >&2; exit 2; }
  done
}

# replay HARNESS: the corpus and the regressions once each, then REPLAY_RUNS mutations (seed 1). New inputs
# go to a scratch directory, never into the source tree.
replay_one() {
  local h=$1 scratch log
  scratch=$(mktemp -d)
  log="$scratch/log"
  local inputs=("$CORPUS/$h")
  [[ -d "$REGRESSIONS/$h" ]] && inputs+=("$REGRESSIONS/$h")
  local start=$SECONDS
  if "$BIN/$h" -runs="${REPLAY_RUNS[$h]}" -seed=1 -timeout=20 -max_total_time=240 -print_final_stats=1 \
       -artifact_prefix="$scratch/" "$scratch" "${inputs[@]}" >"$log" 2>&1; then
    printf '  %-24s ok    %4ds  %s\n' "$h" $((SECONDS - start)) "$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)"
    rm -rf "$scratch"
  else
    printf '  %-24s FAIL  %4ds\n' "$h" $((SECONDS - start))
    grep -E -A40 'FUZZ_CHECK|ERROR: |runtime error' "$log" | head -80 || tail -40 "$log"
    mkdir -p build/fuzz/artifacts/"$h"
    for f in "$scratch"/crash-* "$scratch"/leak-* "$scratch"/timeout-* "$scratch"/oom-*; do
      [[ -e "$f" ]] || continue
      cp "$f" build/fuzz/artifacts/"$h"/
      echo "  input: build/fuzz/artifacts/$h/$(basename "$f")  (reproduce: $BIN/$h build/fuzz/artifacts/$h/$(basename "$f"))"
    done
    rm -rf "$scratch"
    return 1
  fi
}

run_one() {
  local h=$1 seconds=$2
  mkdir -p build/fuzz/work/"$h" build/fuzz/artifacts/"$h"
  "$BIN/$h" -max_total_time="$seconds" -timeout=20 -print_final_stats=1 -artifact_prefix=build/fuzz/artifacts/"$h"/ \
    build/fuzz/work/"$h" "$CORPUS/$h" >build/fuzz/work/"$h".log 2>&1 && rc=0 || rc=$?
  printf '  %-24s rc=%d  %s  %s\n' "$h" "$rc" "$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' build/fuzz/work/"$h".log | tail -1)" \
    "$(grep -Eo 'average_exec_per_sec: +[0-9]+' build/fuzz/work/"$h".log | tail -1)"
}

mode="${1:-}"
[[ -n "$mode" ]] || usage
shift
case "$mode" in
  list) printf '%s\n' "${HARNESSES[@]}" ;;
  replay)
    build
    echo "fuzz replay: corpus, regressions, then a fixed number of mutations per harness"
    failed=0
    for h in "${HARNESSES[@]}"; do replay_one "$h" || failed=1; done
    exit $failed
    ;;
  run)
    [[ $# -ge 1 && "$1" =~ ^[0-9]+$ ]] || usage
    seconds=$1
    shift
    targets=("$@")
    ((${#targets[@]})) || targets=("${HARNESSES[@]}")
    check_harnesses "${targets[@]}"
    build
    parallel="${FUZZ_PARALLEL:-2}"
    echo "fuzz run: ${seconds}s each, $parallel at once; logs in build/fuzz/work/HARNESS.log"
    for h in "${targets[@]}"; do
      while (($(jobs -rp | wc -l) >= parallel)); do wait -n || true; done
      run_one "$h" "$seconds" &
    done
    wait
    echo "crashes, if any: build/fuzz/artifacts/; keep the new inputs with: scripts/fuzz.sh merge"
    ;;
  merge)
    targets=("$@")
    ((${#targets[@]})) || targets=("${HARNESSES[@]}")
    check_harnesses "${targets[@]}"
    for h in "${targets[@]}"; do
      merged=$(mktemp -d)
      sources=("$CORPUS/$h")
      [[ -d build/fuzz/work/"$h" ]] && sources+=(build/fuzz/work/"$h")
      "$BIN/$h" -merge=1 "$merged" "${sources[@]}" >/dev/null 2>&1
      rm -rf "${CORPUS:?}/$h"
      mkdir -p "$CORPUS/$h"
      cp "$merged"/* "$CORPUS/$h"/ 2>/dev/null || true
      rm -rf "$merged"
      printf '  %-24s %4d inputs, %s\n' "$h" "$(ls "$CORPUS/$h" | wc -l)" "$(du -sh "$CORPUS/$h" | cut -f1)"
    done
    ;;
  *) usage ;;
esac
