#!/usr/bin/env bash
# make bench: Loom side by side with its peers and the machine's ceiling, on
# the same load, in one run. Each controller runs alone on core 1, the load
# generator on core 0. Writes bench/results.md (and prints it).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH

need=()
command -v ovs-testcontroller >/dev/null || need+=(openvswitch-testcontroller)
command -v osken-manager >/dev/null || need+=(python3-os-ken)
command -v taskset >/dev/null || need+=(util-linux)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
ulimit -n 65536 || true

go build -o bin/loomd ./cmd/loomd
go build -o bin/loombench ./cmd/loombench
dir=$(mktemp -d /tmp/loombench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$dir"; }
trap cleanup EXIT

SWITCHES=${SWITCHES:-16} MACS=${MACS:-1000} DURATION=${DURATION:-10s} CONNECT=${CONNECT:-2000}
gen() { taskset -c 0 bin/loombench "$@"; }

# start NAME PORT CMD...: run a controller on core 1, wait for its port.
start() {
  local name=$1 port=$2; shift 2
  taskset -c 1 "$@" >"$dir/$name.log" 2>&1 &
  pid=$!; pids+=("$pid")
  for _ in $(seq 100); do
    (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "bench: $name did not listen on $port" >&2; cat "$dir/$name.log" >&2; return 1
}
stop() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }

run() { # NAME PORT CMD...
  local name=$1 port=$2; shift 2
  start "$name" "$port" "$@"
  gen reactive --controller 127.0.0.1:"$port" --switches "$SWITCHES" --macs "$MACS" --duration "$DURATION" --pid "$pid" --label "$name" | tee -a "$dir/out"
  gen reactive --controller 127.0.0.1:"$port" --switches 1 --macs "$MACS" --window 1 --duration 5s --pid "$pid" --label "$name" | tee -a "$dir/out"
  stop
  start "$name" "$port" "$@"
  gen connect --controller 127.0.0.1:"$port" --switches "$CONNECT" --timeout 60s --pid "$pid" --label "$name" | tee -a "$dir/out"
  stop
}

run null 6690 bin/loombench null --listen 127.0.0.1:6690
run loom 6691 bin/loomd --openflow-listen tcp:127.0.0.1:6691 --db "$dir/loom.db" --grpc-listen "" --metrics-listen "" --log-level warn
run ovs-testcontroller 6694 ovs-testcontroller -O OpenFlow13 ptcp:6694:127.0.0.1 --pidfile="$dir/otc.pid" --unixctl="$dir/otc.ctl"
run os-ken 6693 osken-manager --ofp-tcp-listen-port 6693 --ofp-listen-host 127.0.0.1 bench/simple_switch_13.py

go run ./bench/report <"$dir/out" | tee bench/results.md
