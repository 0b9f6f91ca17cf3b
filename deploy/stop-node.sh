#!/usr/bin/env bash
# Stops the node started by deploy/start-node.sh gracefully: SIGTERM runs Pekko's CoordinatedShutdown
# (stop accepting, drain running requests up to kvasir.gateway.drain-timeout, stop the engine).
# Waits up to KVASIR_STOP_TIMEOUT seconds (default 90), then kills.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN_DIR="${KVASIR_RUN_DIR:-$ROOT/run}"
PID_FILE="$RUN_DIR/kvasir.pid"
[[ -f "$PID_FILE" ]] || { echo "kvasir: no pid file at $PID_FILE" >&2; exit 1; }
PID="$(cat "$PID_FILE")"
if ! kill -0 "$PID" 2>/dev/null; then echo "kvasir: node $PID is not running"; rm -f "$PID_FILE"; exit 0; fi
kill -TERM "$PID"
for ((i = 0; i < ${KVASIR_STOP_TIMEOUT:-90}; i++)); do
  kill -0 "$PID" 2>/dev/null || { rm -f "$PID_FILE"; echo "kvasir: node $PID stopped"; exit 0; }
  sleep 1
done
echo "kvasir: node $PID did not stop in time; killing it" >&2
kill -KILL "$PID"; rm -f "$PID_FILE"
