#!/usr/bin/env bash
# The test command: prepares the machine (Docker engine, test images), then runs every check.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh --test-images
cargo fmt --all -- --check
(cd static && npm run --silent check && npm run --silent test) # the UI's types (esbuild bundles unchecked) and unit tests
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked
# The integration suite again, each test on a PostgreSQL database of its own instead of SQLite.
BERTH_TEST_DATABASE=postgres cargo test --locked --test api
