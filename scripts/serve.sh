#!/usr/bin/env bash
# The run command: makes sure a Docker engine answers, builds berth and serves on 127.0.0.1:8080
# (extra arguments go to `berth serve`, e.g. --listen 0.0.0.0:8080 --data-dir /var/lib/berth).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cargo build --release --locked
exec target/release/berth serve "$@"
