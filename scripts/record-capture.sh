#!/usr/bin/env bash
# Records OpenFlow 1.3 traffic between a real Open vSwitch and loomd, the kind
# of capture internal/ofpcap/testdata/ovs-3.1-of13.pcap.gz is (see the README
# there), and writes it gzipped.
#
#   scripts/record-capture.sh [OUT.pcap.gz]     (default /tmp/loom-of13.pcap.gz)
#
# Everything runs in network namespaces this script creates and removes:
#   sw (ns):  a private ovsdb-server + ovs-vswitchd (userspace datapath, own
#             run directory, database and sockets), bridge br0 (datapath id
#             0xc1, OpenFlow 1.3 only, fail_mode=secure); loomd listening on
#             the namespace's own 127.0.0.1:6653; the bridge's passive
#             listener on 127.0.0.1:6654; tcpdump on the namespace's lo.
#   vm1, vm2 (ns): 02:00:00:00:00:01 10.73.0.1 and 02:00:00:00:00:02
#             10.73.0.2, each a veth into br0; their pings are the packet-ins.
# Then ovs-ofctl talks to the passive listener: dump-flows, dump-ports-desc,
# dump-ports, dump-tables (TABLE_FEATURES), dump-desc, add-group, a bundled
# add-flows, dump-groups, two flow-mods the switch rejects (one inside a
# bundle) and del-flows. Nothing touches the root namespace or the system OVS.
# It needs root (namespaces) and installs what is missing (tcpdump, OVS).
#
# The tests pin the committed capture's record and message counts, so a new
# capture replaces it only together with new counts there.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH

[ "$(id -u)" = 0 ] || { echo "record-capture: run as root (it creates network namespaces)" >&2; exit 1; }
out=$(realpath -m "${1:-/tmp/loom-of13.pcap.gz}")

scripts/install-deps.sh
command -v tcpdump >/dev/null || {
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends tcpdump >/dev/null
}
make -s build

tag="lc$$"                       # unique per run
dir=$(mktemp -d /tmp/loomcap.XXXXXX)
namespaces=() pids=()            # ip netns exec execs, so $! is the program itself
cleanup() {
  set +e
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  sleep 0.3
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  for ns in "${namespaces[@]}"; do ip netns del "$ns" 2>/dev/null; done
  rm -rf "$dir"
}
trap cleanup EXIT

sw="$tag-sw"
newns() { ip netns add "$1"; namespaces+=("$1"); ip netns exec "$1" ip link set lo up; }
# in_sw CMD...: CMD in the switch's namespace, pointed at the private OVS (not
# a function when backgrounded, so that $! is the daemon and cleanup kills it).
ovsenv=(env OVS_RUNDIR="$dir" OVS_DBDIR="$dir" OVS_LOGDIR="$dir" OVS_SYSCONFDIR="$dir")
in_sw() { ip netns exec "$sw" "${ovsenv[@]}" "$@"; }
vsctl() { in_sw ovs-vsctl --db="unix:$dir/db.sock" --timeout=10 "$@"; }
ofctl() { # ofctl [--OPTION...] COMMAND ARG...: ovs-ofctl against br0's passive listener
  local opts=()
  while [[ $1 == --* ]]; do opts+=("$1"); shift; done
  in_sw ovs-ofctl -O OpenFlow13 "${opts[@]}" "$1" tcp:127.0.0.1:6654 "${@:2}"
}
connected() { [ -n "$(vsctl --bare --columns=_uuid find controller target='"tcp:127.0.0.1:6653"' is_connected=true)" ]; }
wait_for() { # wait_for TRIES CMD...: CMD until it succeeds, 0.1 s apart
  local n=$1; shift
  for _ in $(seq "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  "$@"
}

echo "record-capture: private OVS in namespace $sw ($dir)"
newns "$sw"
ovsdb-tool create "$dir/conf.db" /usr/share/openvswitch/vswitch.ovsschema
ip netns exec "$sw" "${ovsenv[@]}" ovsdb-server "$dir/conf.db" --remote="punix:$dir/db.sock" --unixctl="$dir/ovsdb-server.ctl" \
  --pidfile="$dir/ovsdb-server.pid" --log-file="$dir/ovsdb-server.log" --no-chdir -vconsole:err \
  >"$dir/ovsdb-server.out" 2>&1 & pids+=($!)
wait_for 50 vsctl --no-wait init
ip netns exec "$sw" "${ovsenv[@]}" ovs-vswitchd "unix:$dir/db.sock" --disable-system --unixctl="$dir/ovs-vswitchd.ctl" \
  --pidfile="$dir/ovs-vswitchd.pid" --log-file="$dir/ovs-vswitchd.log" --no-chdir -vconsole:err \
  >"$dir/ovs-vswitchd.out" 2>&1 & pids+=($!)
vsctl add-br br0 -- set bridge br0 datapath_type=netdev other-config:datapath-id=00000000000000c1 \
  fail_mode=secure protocols=OpenFlow13

# vm N: namespace vmN, eth1 02:00:00:00:00:0N 10.73.0.N/24, veth into br0.
vm() {
  local ns="$tag-vm$1" port="p-vm$1"
  newns "$ns"
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip link add "$port" netns "$sw" type veth peer name eth1 netns "$ns"
  ip netns exec "$ns" ip link set eth1 address "02:00:00:00:00:0$1"
  ip netns exec "$ns" ip addr add "10.73.0.$1/24" dev eth1
  ip netns exec "$ns" ethtool -K eth1 tx off >/dev/null; ip netns exec "$sw" ethtool -K "$port" tx off >/dev/null
  ip netns exec "$ns" ip link set eth1 up; ip netns exec "$sw" ip link set "$port" up
  vsctl add-port br0 "$port"
}
vm 1; vm 2

echo "record-capture: tcpdump on $sw's lo, ports 6653 and 6654"
ip netns exec "$sw" tcpdump -i lo -s 0 -B 65536 -U -w "$dir/of.pcap" 'tcp port 6653 or tcp port 6654' \
  2>"$dir/tcpdump.err" & tcpdump=$!; pids+=($tcpdump)
wait_for 50 grep -q 'listening on' "$dir/tcpdump.err"

echo "record-capture: loomd on 127.0.0.1:6653; br0 connects, handshake and table programming"
ip netns exec "$sw" bin/loomd --openflow-listen tcp:127.0.0.1:6653 --db "$dir/loom.db" \
  --grpc-listen 127.0.0.1:9652 --metrics-listen "" >"$dir/loomd.log" 2>&1 & pids+=($!)
wait_for 50 grep -q 'accepting OpenFlow' "$dir/loomd.log"
vsctl set-controller br0 tcp:127.0.0.1:6653 ptcp:6654:127.0.0.1
wait_for 150 connected

echo "record-capture: pings between vm1 and vm2 (packet-ins, packet-outs, learned flows)"
ip netns exec "$tag-vm1" ping -n -q -c 5 -i 0.2 -W 1 10.73.0.2 || true
ip netns exec "$tag-vm2" ping -n -q -c 5 -i 0.2 -W 1 10.73.0.1 || true

echo "record-capture: ovs-ofctl against the passive listener"
ofctl dump-flows >/dev/null
ofctl dump-ports-desc >/dev/null
ofctl dump-ports >/dev/null
ofctl dump-tables >/dev/null
ofctl dump-desc >/dev/null
ofctl add-group 'group_id=1,type=all,bucket=output:1,bucket=output:2'
for i in $(seq 1 53); do
  printf 'table=10,priority=%d,cookie=0x5ca9,ip,nw_dst=10.99.%d.0/24,actions=output:1\n' "$((100 + i))" "$i"
done >"$dir/flows.txt"
ofctl --bundle add-flows "$dir/flows.txt"
ofctl dump-groups >/dev/null
ofctl add-flow 'table=10,priority=5,ip,actions=group:4242' 2>/dev/null && { echo "record-capture: a flow-mod naming a missing group was accepted" >&2; exit 1; }
ofctl --bundle add-flow 'table=10,priority=6,ip,actions=group:4243' 2>/dev/null && { echo "record-capture: a bundled flow-mod naming a missing group was accepted" >&2; exit 1; }
ofctl del-flows 'table=10,cookie=0x5ca9/-1'
sleep 1 # loomd's echo and verify traffic, and the last replies

kill -INT "$tcpdump"; wait "$tcpdump" 2>/dev/null || true
grep -E 'packets (captured|dropped by kernel)' "$dir/tcpdump.err" || true
gzip -9 <"$dir/of.pcap" >"$out"
echo "record-capture: wrote $out ($(stat -c %s "$out") bytes; $(stat -c %s "$dir/of.pcap") uncompressed)"
