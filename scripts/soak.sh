#!/usr/bin/env bash
# The long fault and load runs, beside the test command's short ones: 10,000 connect → exec →
# disconnect cycles (BERTH_CYCLES to change it) and the 100,000-frame fuzz, against the real
# binary and engine. Prints their figures, which go to docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh --test-images
export BERTH_CYCLES=${BERTH_CYCLES:-10000}
cargo test --locked --release --test api -- --nocapture --test-threads 1 \
  faults::connect_exec_disconnect_cycles_leave_nothing_behind \
  faults::a_hundred_thousand_hostile_frames_break_nothing 2>&1 |
  grep -E '^(cycles|fuzz):|test result|panicked'
