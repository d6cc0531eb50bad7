#!/usr/bin/env bash
# The benchmarks: prepares the engine and the test image, then measures berth against Docker
# directly and writes docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh --test-images
ulimit -n "$(ulimit -Hn)"
cargo bench --locked --bench session
