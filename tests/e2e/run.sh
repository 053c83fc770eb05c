#!/usr/bin/env bash
# ctest entry for one end-to-end test file: starts `muse serve` on a free port with the tiny
# qwen2 fixture model and Qwen2.5's chat template (tools, <tool_call>), runs the file with
# node's test runner against it, and stops the server.
#
#   tests/e2e/run.sh MUSE_BINARY TEST_FILE [server options...]
#
# Exits 77 (ctest: skipped) when the fixtures, node_modules (npm ci, done by
# scripts/install-deps.sh) or, for the UI test, Chromium are missing.
set -euo pipefail
muse=$1
test_file=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
fixtures=${MUSE_FIXTURES:-$here/../../../shared/fixtures}
model=$fixtures/models/qwen2-gpt2-tiny-q8_0.gguf
template=$fixtures/chat_templates/Qwen-Qwen2.5-7B-Instruct.jinja
skip() { echo "SKIP: $*"; exit 77; }
[ -f "$model" ] || skip "$model not found (../shared/fixtures is absent)"
command -v node >/dev/null || skip "node is not installed (scripts/install-deps.sh installs it)"
[ -d "$here/node_modules/openai" ] || skip "tests/e2e/node_modules missing (scripts/install-deps.sh runs npm ci)"
if [[ $test_file == ui.* ]] && [ ! -x "${MUSE_CHROMIUM:-/usr/bin/chromium}" ]; then
  skip "Chromium is not installed (scripts/install-deps.sh installs Debian's chromium)"
fi

log=$(mktemp)
"$muse" serve -m "$model" --chat-template-file "$template" --port 0 "$@" 2>"$log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log"' EXIT
port=""
for _ in $(seq 1 200); do
  port=$(sed -n 's/.*listening on http:\/\/[^:]*:\([0-9]*\).*/\1/p' "$log")
  [ -n "$port" ] && break
  kill -0 $pid 2>/dev/null || { cat "$log"; echo "muse serve exited"; exit 1; }
  sleep 0.05
done
[ -n "$port" ] || { cat "$log"; echo "muse serve did not start"; exit 1; }
export MUSE_URL=http://127.0.0.1:$port
export MUSE_ARTIFACTS=${MUSE_ARTIFACTS:-$PWD/e2e-artifacts}
cd "$here"
status=0
node --test --test-concurrency=1 "$test_file" || status=$?
if [ $status -ne 0 ]; then echo "--- server log"; cat "$log"; fi
exit $status
