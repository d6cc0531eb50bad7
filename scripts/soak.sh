#!/usr/bin/env bash
# The long fault and load runs, beside the test command's short ones: 10,000 connect → exec →
# disconnect cycles (BERTH_CYCLES to change it) and the 100,000-frame fuzz, against the real
# binary and engine, with `docker exec` timed directly in the same run. Writes the "Soak"
# section of docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh --test-images
export BERTH_CYCLES=${BERTH_CYCLES:-10000}
mkdir -p target
cargo test --locked --release --test api -- --nocapture --test-threads 1 \
  faults::connect_exec_disconnect_cycles_leave_nothing_behind \
  faults::a_hundred_thousand_hostile_frames_break_nothing >target/soak.log 2>&1 || true
out=$(cat target/soak.log)
# A test's own lines follow its name on the same line.
echo "$out" | grep -oE '(cycles|fuzz): .*|test result.*|panicked.*' || true
echo "$out" | grep -q 'test result: ok. 2 passed' || { echo "soak: the runs failed (target/soak.log)" >&2; exit 1; }

# Docker directly: the same exec, started and waited for with the CLI.
direct=300
container=$(docker run -d berth-test/busybox:1 sleep 3600)
trap 'docker rm -f "$container" >/dev/null' EXIT
start=$(date +%s%N)
for _ in $(seq "$direct"); do docker exec "$container" sh -c 'echo ready' >/dev/null; done
per_direct=$(( ($(date +%s%N) - start) / direct / 1000000 ))

cycles=$(echo "$out" | grep -oE 'cycles: .*')
fuzz=$(echo "$out" | grep -oE 'fuzz: .*')
{
  echo
  echo "## Soak"
  echo
  echo "Measured by \`scripts/soak.sh\` on $(date -u +%Y-%m-%dT%H:%MZ), berth release build."
  echo
  echo "- Connect → exec → disconnect, $BERTH_CYCLES cycles (every other client leaves without a"
  echo "  close): ${cycles#cycles: }. No process left in the container."
  echo "- \`docker exec\` of the same command with the CLI, $direct times: ${per_direct} ms each."
  echo "- Fuzz: ${fuzz#fuzz: }; no panic, and a valid request answered after."
} >/tmp/berth-soak-section.md
awk '/^## Soak/{exit} {print}' docs/benchmarks.md | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}' >/tmp/berth-bench-head.md
cat /tmp/berth-bench-head.md /tmp/berth-soak-section.md >docs/benchmarks.md
cat /tmp/berth-soak-section.md
