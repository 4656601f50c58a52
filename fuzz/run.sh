#!/usr/bin/env bash
# Runs KEZ's fuzz targets (fuzz/README.md). Needs the nightly toolchain; installs cargo-fuzz if
# it is missing.
#
#   fuzz/run.sh short [SECONDS] [TARGET…]  each target SECONDS (default 10) from the committed
#                                          corpus, one per core at a time; new inputs go to a
#                                          temporary directory, the repository is not changed.
#                                          Fails on any crash. (CI)
#   fuzz/run.sh long [RUNS] [TARGET…]      each target in turn, one process at nice 19, for
#                                          RUNS executions (default 10,000,000); new inputs go
#                                          to fuzz/work/<target>, a log to work/<target>.log.
#                                          With MAX_TIME=S in the environment each target also
#                                          stops after S seconds (a sitting shorter than the run;
#                                          the next one continues from the corpus).
#   fuzz/run.sh merge [TARGET…]            adds to fuzz/corpus/<target> the inputs of
#                                          fuzz/work/<target> that add coverage (what to commit).
#   fuzz/run.sh list                       the targets.
#
# No sanitizer: KEZ's crates forbid `unsafe`, so the findings are panics, overflows (debug
# assertions are on) and broken properties, which need no ASan; without it each execution is
# about twice as fast.
set -euo pipefail
cd "$(dirname "$0")"

FUZZ=(cargo +nightly fuzz)
BUILD_FLAGS=(--sanitizer none)

targets() {
    if (($# > 0)); then printf '%s\n' "$@"; else "${FUZZ[@]}" list; fi
}

# The final statistics of a libFuzzer log, on one line.
stats() {
    grep -E '^stat::(number_of_executed_units|new_units_added|peak_rss_mb)' "$1" |
        sed 's/^stat:://' | tr '\n' ' '
}

ensure_cargo_fuzz() {
    if ! cargo fuzz --version >/dev/null 2>&1; then
        cargo install --locked cargo-fuzz
    fi
}

mode=${1:-short}
shift || true
case "$mode" in
short)
    seconds=${1:-10}
    shift || true
    ensure_cargo_fuzz
    "${FUZZ[@]}" build "${BUILD_FLAGS[@]}"
    scratch=$(mktemp -d)
    trap 'rm -rf "$scratch"' EXIT
    # Each libFuzzer process runs on one core: the targets run one per core at a time, and
    # are reported in order once all have finished.
    mapfile -t all < <(targets "$@")
    running=0
    for target in "${all[@]}"; do
        mkdir -p "$scratch/$target"
        # The scratch directory comes first: libFuzzer writes new inputs to the first corpus.
        (
            status=0
            "${FUZZ[@]}" run "${BUILD_FLAGS[@]}" "$target" "$scratch/$target" "corpus/$target" -- \
                -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
                >"$scratch/$target.log" 2>&1 || status=$?
            echo "$status" >"$scratch/$target.status"
        ) &
        running=$((running + 1))
        if ((running >= $(nproc))); then
            wait -n
            running=$((running - 1))
        fi
    done
    wait
    failed=()
    for target in "${all[@]}"; do
        log="$scratch/$target.log"
        status=$(cat "$scratch/$target.status")
        echo "$target: $(stats "$log")"
        if ((status != 0)); then
            tail -n 40 "$log" >&2
            echo "fuzz target $target failed (exit $status); the input is under fuzz/artifacts/$target/" >&2
            failed+=("$target")
        fi
    done
    ((${#failed[@]} == 0)) || exit 1
    ;;
long)
    runs=${1:-10000000}
    shift || true
    ensure_cargo_fuzz
    nice -n 19 "${FUZZ[@]}" build "${BUILD_FLAGS[@]}"
    for target in $(targets "$@"); do
        mkdir -p "work/$target"
        echo "$target: $runs runs, log in fuzz/work/$target.log"
        start=$(date +%s)
        status=0
        nice -n 19 "${FUZZ[@]}" run "${BUILD_FLAGS[@]}" "$target" "work/$target" "corpus/$target" -- \
            -runs="$runs" -max_total_time="${MAX_TIME:-0}" -timeout=10 -print_final_stats=1 \
            >"work/$target.log" 2>&1 || status=$?
        echo "$target: exit $status after $(($(date +%s) - start)) s, $(stats "work/$target.log")"
    done
    ;;
merge)
    ensure_cargo_fuzz
    for target in $(targets "$@"); do
        [[ -d "work/$target" ]] || continue
        "${FUZZ[@]}" run "${BUILD_FLAGS[@]}" "$target" "corpus/$target" "work/$target" -- \
            -merge=1 >"work/$target.merge.log" 2>&1
        echo "$target: $(grep -E '^MERGE-OUTER: [0-9]+ new files' "work/$target.merge.log")"
    done
    ;;
list)
    "${FUZZ[@]}" list
    ;;
*)
    sed -n '2,17p' "$0" >&2
    exit 2
    ;;
esac
