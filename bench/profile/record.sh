#!/usr/bin/env bash
# Records where kezd's CPU time goes during one kez-bench scenario: perf samples of every
# running kezd process, a flame graph at docs/flamegraphs/NAME.svg, and the share of samples
# per category (categories.py). Needs perf (linux-perf) and inferno (`cargo install inferno`);
# run from the workspace root after `cargo build --release -p kezd -p kez-bench`.
#
#   bench/profile/record.sh NAME KEZD_COUNT SECONDS -- SCENARIO [FLAGS...]
#
# waits until KEZD_COUNT kezd processes run and the first of them is busy (the load is
# generated and signed after the servers start, before the clock starts), then samples for
# SECONDS. Give the scenario enough messages to outlast the window (e.g. `send --messages
# 200000`). With KEZD_NODE=a.test (a testnet node's name), only that node's kezd is sampled:
# one server of the federation scenario.
set -euo pipefail
name=$1 count=$2 secs=$3
shift 4
out=target/profile
mkdir -p "$out" docs/flamegraphs
target/release/kez-bench "$@" > "$out/$name.txt" 2>&1 &
bench=$!
for _ in $(seq 1 300); do
    [ "$(pgrep -x kezd | wc -l)" -ge "$count" ] && break
    sleep 0.1
done
if [ -n "${KEZD_NODE:-}" ]; then
    pids=$(pgrep -f "/$KEZD_NODE/kezd.toml" | paste -sd, -)
else
    pids=$(pgrep -x kezd | paste -sd, -)
fi
# The load is generated after the servers start, and on a slow machine that takes tens of
# seconds: sampling starts once the first sampled kezd spends more than 40 % of a core.
busy() { awk '{print $14 + $15}' "/proc/${pids%%,*}/stat"; }
for _ in $(seq 1 600); do
    before=$(busy); sleep 0.5; after=$(busy)
    [ $((after - before)) -gt 20 ] && break
done
sleep 1
perf record -F 499 -e cpu-clock -g -p "$pids" -o "$out/$name.data" -- sleep "$secs" > /dev/null 2>&1
wait "$bench" || true
perf script -i "$out/$name.data" 2> /dev/null | inferno-collapse-perf > "$out/$name.folded"
inferno-flamegraph --title "kezd: $name" --width 1400 --minwidth 1.5 \
    < "$out/$name.folded" > "docs/flamegraphs/$name.svg"
grep -E "throughput|server CPU" "$out/$name.txt" || true
python3 "$(dirname "$0")/categories.py" "$out/$name.folded"
