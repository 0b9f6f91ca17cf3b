#!/usr/bin/env bash
# Starts a Kvasir node in the background: pid in $KVASIR_RUN_DIR/kvasir.pid, console output in
# $KVASIR_RUN_DIR/kvasir.out, logs in $KVASIR_RUN_DIR/logs/ (config/logback.xml).
#   deploy/start-node.sh [serve options...]     e.g. deploy/start-node.sh --config config/single-node.conf --port 8080
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN_DIR="${KVASIR_RUN_DIR:-$ROOT/run}"
PID_FILE="$RUN_DIR/kvasir.pid"
mkdir -p "$RUN_DIR/logs"
if [[ -f "$PID_FILE" ]] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
  echo "kvasir: a node is already running (pid $(cat "$PID_FILE"))" >&2; exit 1
fi
"$ROOT/kvasir" build >/dev/null   # build in the foreground, so that failures show here
export KVASIR_LOG_DIR="$RUN_DIR/logs"
export KVASIR_JAVA_OPTS="${KVASIR_JAVA_OPTS:-} -Dlogback.configurationFile=$ROOT/config/logback.xml"
nohup "$ROOT/kvasir" serve "$@" >"$RUN_DIR/kvasir.out" 2>&1 &
echo $! >"$PID_FILE"
echo "kvasir: node started (pid $(cat "$PID_FILE")); logs in $RUN_DIR/logs/kvasir.log"
