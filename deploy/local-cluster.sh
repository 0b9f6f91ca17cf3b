#!/usr/bin/env bash
# A Kvasir cluster of N nodes on this machine's loopback, each a JVM started with
# ./kvasir node --config config/local-cluster.conf. Node 1 is gateway + worker and the seed; nodes
# 2..N are workers; every node serves the HTTP/WebSocket gateway.
#   deploy/local-cluster.sh start N [--model PATH]   start nodes 1..N (waits until each is Up: /ready)
#   deploy/local-cluster.sh status                   one line per node: node <i> pid <pid> http <port> roles <r,r>
#   deploy/local-cluster.sh stop                     stop every node (SIGTERM: leave the cluster, drain)
# Node i listens on HTTP $KVASIR_HTTP_BASE+i-1 (8080), remoting $KVASIR_REMOTE_BASE+i-1 (25520) and
# management $KVASIR_MGMT_BASE+i-1 (8558). Per node: $KVASIR_RUN_DIR/node<i>/{node.pid,node.out,node.info,logs/}.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN_DIR="${KVASIR_RUN_DIR:-$ROOT/run/cluster}"
HTTP_BASE="${KVASIR_HTTP_BASE:-8080}"
REMOTE_BASE="${KVASIR_REMOTE_BASE:-25520}"
MGMT_BASE="${KVASIR_MGMT_BASE:-8558}"
READY_TIMEOUT="${KVASIR_READY_TIMEOUT:-120}"

die() { echo "local-cluster: $*" >&2; exit 1; }
alive() { [[ -f "$1/node.pid" ]] && kill -0 "$(cat "$1/node.pid")" 2>/dev/null; }

wait_ready() { # node dir, management port, http port
  local dir="$1" mgmt="$2" http="$3" deadline=$((SECONDS + READY_TIMEOUT))
  while ((SECONDS < deadline)); do
    alive "$dir" || die "node in $dir exited; see $dir/node.out"
    if curl -fsS "http://127.0.0.1:$mgmt/ready" >/dev/null 2>&1 && curl -fsS "http://127.0.0.1:$http/v1/models" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.5
  done
  die "node in $dir not ready after ${READY_TIMEOUT}s; see $dir/node.out"
}

start() {
  local n="${1:-}"; shift || true
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || die "usage: local-cluster.sh start N [--model PATH]"
  local model_args=()
  while (($#)); do
    case "$1" in
      --model) [[ $# -ge 2 ]] || die "--model needs a path"; model_args=(--model "$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"); shift 2 ;;
      *) die "unknown option $1" ;;
    esac
  done
  "$ROOT/kvasir" --version >/dev/null   # builds (once, in the foreground) only when sources changed
  mkdir -p "$RUN_DIR"
  for ((i = 1; i <= n; i++)); do
    local dir="$RUN_DIR/node$i"
    mkdir -p "$dir/logs"
    alive "$dir" && die "node $i is already running (pid $(cat "$dir/node.pid")); stop the cluster first"
    local roles="worker"; ((i == 1)) && roles="gateway,worker"
    local http=$((HTTP_BASE + i - 1)) remote=$((REMOTE_BASE + i - 1)) mgmt=$((MGMT_BASE + i - 1))
    KVASIR_LOG_DIR="$dir/logs" \
    KVASIR_JAVA_OPTS="${KVASIR_JAVA_OPTS:--Xmx512m} -Dlogback.configurationFile=$ROOT/config/logback.xml" \
      nohup "$ROOT/kvasir" node --config "$ROOT/config/local-cluster.conf" --name "node$i" --roles "$roles" \
        --port "$http" --remote-port "$remote" --management-port "$mgmt" \
        --seed-nodes "127.0.0.1:$REMOTE_BASE" ${model_args[@]+"${model_args[@]}"} >"$dir/node.out" 2>&1 &
    echo $! >"$dir/node.pid"
    echo "$i $http $roles $mgmt" >"$dir/node.info"
    # The seed must be up before the others join it; the others may start together.
    ((i == 1)) && wait_ready "$dir" "$mgmt" "$http"
  done
  for ((i = 2; i <= n; i++)); do
    read -r _ http _ mgmt <"$RUN_DIR/node$i/node.info"
    wait_ready "$RUN_DIR/node$i" "$mgmt" "$http"
  done
  echo "local-cluster: $n node(s) up"
  status
}

status() {
  local any=0 dir
  for dir in $(ls -d "$RUN_DIR"/node* 2>/dev/null | sort -V); do
    [[ -f "$dir/node.info" ]] || continue
    any=1
    read -r i http roles _ <"$dir/node.info"
    if alive "$dir"; then
      echo "node $i pid $(cat "$dir/node.pid") http $http roles $roles"
    else
      echo "node $i pid - http $http roles $roles (not running)"
    fi
  done
  ((any)) || echo "local-cluster: no nodes in $RUN_DIR"
}

stop() {
  local dir pids=()
  for dir in $(ls -d "$RUN_DIR"/node* 2>/dev/null | sort -Vr); do
    if alive "$dir"; then
      kill -TERM "$(cat "$dir/node.pid")"; pids+=("$dir")
    fi
  done
  for dir in ${pids[@]+"${pids[@]}"}; do
    local pid; pid="$(cat "$dir/node.pid")"
    for ((t = 0; t < ${KVASIR_STOP_TIMEOUT:-60} * 2; t++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then echo "local-cluster: $pid did not stop in time; killing it" >&2; kill -KILL "$pid"; fi
    echo "local-cluster: stopped $(basename "$dir") (pid $pid)"
  done
  for dir in $(ls -d "$RUN_DIR"/node* 2>/dev/null); do rm -f "$dir/node.pid" "$dir/node.info"; done
}

case "${1:-}" in
  start) shift; start "$@" ;;
  status) status ;;
  stop) stop ;;
  *) die "usage: local-cluster.sh start N [--model PATH] | status | stop" ;;
esac
