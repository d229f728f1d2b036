#!/usr/bin/env bash
# Loom's main job, end to end, on one machine: the seed scenario.
#
#   fabric (ns): a plain OVS switch standing in for the physical network
#     |-- hv1 (ns, own OVS): vswitch01 (uplink eth0, host IP 192.168.50.11)
#     |                      vswitch02 (VM bridge, Loom's): centos01 172.16.123.101
#     |-- hv2 (ns, own OVS): vswitch01 (uplink eth0, host IP 192.168.50.12)
#     |                      vswitch02 (VM bridge, Loom's): centos02 172.16.123.102,
#     |                                                     centos03 172.16.123.103
#     `-- loom (ns): loomd at 192.168.50.2
#
# centos01 and centos02 are in network "blue" (VLAN 10, VNI 5010), centos03
# in "red" (VLAN 20, VNI 5020). Each vswitch02 connects to Loom over TCP;
# Loom finds each host's OVSDB from the connection (discovery is allowed for
# 192.168.50.0/24 in the config below), creates the VXLAN tunnel
# port on each vswitch02, and programs the flows: centos01 and centos02 ping
# across hosts, centos03 reaches neither. vswitch01 forwards the underlay on
# its own (standalone); the userspace datapath encapsulates and routes.
#
# With CLUSTER=1 (make demo-cluster) Loom runs as a cluster: three etcd
# members and three loomd instances (loom1..loom3, OpenFlow ports 6653-6655)
# in the loom namespace; every vswitch02 points at all three, each switch
# has one master, and the demo kills the master of hv1's vswitch02 with
# kill -9 in the middle of a 10 ms ping that does not lose a packet.
#
# It creates only its own namespaces and processes and removes them on exit,
# also on failure or Ctrl-C. Every address lives inside its namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" = 0 ] || { echo "demo: run as root (it creates network namespaces)" >&2; exit 1; }

tag="ld$$"                       # unique per run, so demos never collide
dir=$(mktemp -d /tmp/loomdemo.XXXXXX)
namespaces=() pids=()            # started directly (ip netns exec execs), so $! is the daemon itself
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

cleanup() {
  set +e
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for _ in $(seq 30); do # a cluster instance hands its switches over as it stops
    alive=0; for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break; sleep 0.1
  done
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  for ns in "${namespaces[@]}"; do ip netns del "$ns" 2>/dev/null; done
  rm -rf "$dir"
}
trap cleanup EXIT

newns() { ip netns add "$1"; namespaces+=("$1"); ip netns exec "$1" ip link set lo up; }
vsctl() { local h=$1; shift; ovs-vsctl --db="unix:$dir/$h/db.sock" --timeout=10 "$@"; }
ofctl() { local h=$1; shift; ovs-ofctl -O OpenFlow13 "$1" "unix:$dir/$h/$2.mgmt" "${@:3}"; }

# start_ovs NAME: a namespace running its own ovsdb-server and ovs-vswitchd.
start_ovs() {
  local h=$1 d="$dir/$1"
  mkdir -p "$d"; newns "$tag-$h"
  ovsdb-tool create "$d/conf.db" /usr/share/openvswitch/vswitch.ovsschema
  ip netns exec "$tag-$h" ovsdb-server "$d/conf.db" --remote="punix:$d/db.sock" \
    --remote=db:Open_vSwitch,Open_vSwitch,manager_options --pidfile="$d/ovsdb.pid" \
    --log-file="$d/ovsdb.log" --unixctl="$d/ovsdb.ctl" >/dev/null 2>&1 & pids+=($!)
  for _ in $(seq 50); do [ -S "$d/db.sock" ] && break; sleep 0.1; done
  vsctl "$h" --no-wait init
  OVS_RUNDIR="$d" ip netns exec "$tag-$h" ovs-vswitchd "unix:$d/db.sock" --pidfile="$d/vswitchd.pid" \
    --log-file="$d/vswitchd.log" --unixctl="$d/vswitchd.ctl" >/dev/null 2>&1 & pids+=($!)
}

# plug NS IFACE PEER: a veth from NS (named IFACE) to the fabric (named PEER, a fabric port).
plug() {
  ip link add "$2" netns "$1" mtu 1600 type veth peer name "$3" netns "$tag-fabric" mtu 1600
  ip netns exec "$1" ethtool -K "$2" tx off >/dev/null; ip netns exec "$tag-fabric" ethtool -K "$3" tx off >/dev/null
  ip netns exec "$1" ip link set "$2" up; ip netns exec "$tag-fabric" ip link set "$3" up
  vsctl fabric add-port fabric "$3"
}

say "the physical network: a standalone OVS switch in its own namespace"
start_ovs fabric
vsctl fabric add-br fabric -- set bridge fabric datapath_type=netdev fail_mode=standalone

for i in 1 2; do
  h=hv$i ip=192.168.50.1$i
  say "hypervisor $h: vswitch01 (uplink eth0, host IP $ip) and vswitch02 (VM bridge, fail_mode=secure)"
  start_ovs $h
  vsctl $h add-br vswitch01 -- set bridge vswitch01 datapath_type=netdev fail_mode=standalone \
    other-config:datapath-id=00000000000000a$i
  plug "$tag-$h" eth0 "u-$h"
  vsctl $h add-port vswitch01 eth0
  ip netns exec "$tag-$h" ip addr add "$ip/24" dev vswitch01
  ip netns exec "$tag-$h" ip link set vswitch01 up
  vsctl $h add-br vswitch02 -- set bridge vswitch02 datapath_type=netdev protocols=OpenFlow13 \
    fail_mode=secure other-config:datapath-id=00000000000000c$i
  vsctl $h set-manager "ptcp:6640:$ip"     # how Loom reaches this host's OVSDB
done

# vm NAME HOST N: a VM namespace on HOST's vswitch02 with 172.16.123.10N.
vm() {
  local name=$1 h=$2 n=$3 port="$1_port1" ns="$tag-$1" mac="02:00:ac:10:7b:6$3"
  newns "$ns"
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip link add "$port" netns "$tag-$h" type veth peer name eth1 netns "$ns"
  ip netns exec "$ns" ip link set eth1 address "$mac"
  ip netns exec "$ns" ip addr add "172.16.123.10$n/24" dev eth1
  ip netns exec "$ns" ip link set eth1 up
  ip netns exec "$tag-$h" ip link set "$port" up
  ip netns exec "$ns" ethtool -K eth1 tx off >/dev/null; ip netns exec "$tag-$h" ethtool -K "$port" tx off >/dev/null
  vsctl $h add-port vswitch02 "$port"
  # What libvirt records on a VM's interface (<virtualport type='openvswitch'>).
  vsctl $h set Interface "$port" "external_ids:attached-mac=$mac" "external_ids:iface-id=$name-port1" \
    "external_ids:vm-uuid=$name" external_ids:iface-status=active
  echo "$name on $h: 172.16.123.10$n ($mac)"
}
say "VMs"
vm centos01 hv1 1; vm centos02 hv2 2; vm centos03 hv2 3
in_vm() { local v=$1; shift; ip netns exec "$tag-$v" "$@"; }

say "before Loom: fail_mode=secure and no controller, so no flows and no ping"
if in_vm centos01 ping -c 2 -W 1 -i 0.2 172.16.123.102 >/dev/null 2>&1; then
  echo "unexpected: ping works without a controller" >&2; exit 1
fi
echo "ping centos01 -> centos02: no reply (as expected)"

say "loomd in its own namespace at 192.168.50.2; both vswitch02 point at it"
make -s build
newns "$tag-loom"
plug "$tag-loom" eth0 u-loom
ip netns exec "$tag-loom" ip addr add 192.168.50.2/24 dev eth0
cat >"$dir/loom.yaml" <<YAML
# No hypervisors listed: Loom finds each host's OVSDB at tcp:<its switch's address>:6640
# (only for switches connecting from the networks listed here), and uses that address
# as the host's tunnel endpoint.
hypervisors_discovery: {allow: [192.168.50.0/24]}
tunnels: {type: vxlan}
networks:
  - {name: blue, vlan: 10, vni: 5010, ports: [centos01_port1, centos02_port1]}
  - {name: red,  vlan: 20, vni: 5020, ports: [centos03_port1]}
YAML
sed 's/^/    /' "$dir/loom.yaml"
targets="tcp:192.168.50.2:6653"
if [ "${CLUSTER:-}" = 1 ]; then
  targets="tcp:192.168.50.2:6653 tcp:192.168.50.2:6654 tcp:192.168.50.2:6655"
  say "a cluster: three etcd members and three loomd instances in the loom namespace"
  initial="" etcds=""
  for i in 1 2 3; do initial+="${initial:+,}etcd$i=http://127.0.0.1:238$i"; etcds+="${etcds:+,}http://127.0.0.1:237$i"; done
  for i in 1 2 3; do
    ip netns exec "$tag-loom" etcd --name "etcd$i" --data-dir "$dir/etcd$i" \
      --listen-client-urls "http://127.0.0.1:237$i" --advertise-client-urls "http://127.0.0.1:237$i" \
      --listen-peer-urls "http://127.0.0.1:238$i" --initial-advertise-peer-urls "http://127.0.0.1:238$i" \
      --initial-cluster "$initial" --initial-cluster-token "$tag" >"$dir/etcd$i.log" 2>&1 & pids+=($!); disown $!
  done
  for i in 1 2 3; do
    echo "+ loomd --instance loom$i --etcd $etcds --openflow-listen tcp:192.168.50.2:665$((2 + i))"
    ip netns exec "$tag-loom" bin/loomd --instance "loom$i" --etcd "$etcds" --openflow-listen "tcp:192.168.50.2:665$((2 + i))" \
      --config "$dir/loom.yaml" --grpc-listen "127.0.0.1:96${i}2" --metrics-listen "" >"$dir/loomd$i.log" 2>&1 & pids+=($!)
    eval "loomd${i}_pid=$!"; disown $! # killed on purpose below: no job-control notice
  done
  for i in 1 2 3; do
    for _ in $(seq 150); do grep -q 'accepting OpenFlow' "$dir/loomd$i.log" && break; sleep 0.1; done
  done
  loomctl() { ip netns exec "$tag-loom" bin/loomctl --server 127.0.0.1:9612 "$@"; }
else
  ip netns exec "$tag-loom" bin/loomd --openflow-listen tcp:192.168.50.2:6653 --db "$dir/loom.db" --config "$dir/loom.yaml" \
    --grpc-listen 127.0.0.1:9652 --metrics-listen "" >"$dir/loomd.log" 2>&1 & pids+=($!)
  loomctl() { ip netns exec "$tag-loom" bin/loomctl --server 127.0.0.1:9652 "$@"; }
  for _ in $(seq 50); do grep -q 'accepting OpenFlow' "$dir/loomd.log" && break; sleep 0.1; done
fi
for h in hv1 hv2; do
  echo "+ $h: ovs-vsctl set-controller vswitch02 $targets"
  # shellcheck disable=SC2086 # one argument per target
  vsctl $h set-controller vswitch02 $targets
done
for h in hv1 hv2; do
  for _ in $(seq 150); do
    [ "$(vsctl $h get controller vswitch02 is_connected 2>/dev/null)" = true ] && \
      vsctl $h list-ports vswitch02 | grep -q loom-vxlan && break
    sleep 0.1
  done
  echo "$h: vswitch02 connected; Loom's tunnel port: $(vsctl $h list-ports vswitch02 | grep loom- || echo none)"
done

say "with Loom: centos01 (hv1) -> centos02 (hv2), across the VXLAN tunnel"
in_vm centos01 ping -c 3 -i 0.2 -W 2 172.16.123.102

say "centos03 (red, on hv2) cannot reach centos01 or centos02 (blue)"
for dst in 172.16.123.101 172.16.123.102; do
  if in_vm centos03 ping -c 2 -i 0.2 -W 1 "$dst" >/dev/null 2>&1; then
    echo "unexpected: centos03 reaches $dst" >&2; exit 1
  fi
  echo "ping centos03 -> $dst: no reply (as expected)"
done

sleep 2 # a few probe rounds through the tunnel
say "loomctl get hypervisors"
loomctl get hypervisors
say "loomctl get tunnels"
loomctl get tunnels
say "loomctl net list"
loomctl net list
say "the flows on hv1's vswitch02 (ovs-ofctl dump-flows): only Loom's (cookie 0x4c4d...)"
ofctl hv1 dump-flows vswitch02 | sed 1d | sed 's/ duration=[^,]*,//; s/ n_bytes=[^,]*,//; s/ idle_age=[^,]*,//'

if [ "${CLUSTER:-}" = 1 ]; then
  say "loomctl get instances; loomctl get switches (any instance answers)"
  loomctl get instances
  loomctl get switches
  # The switch's own word on who its master is: OVS's Controller status.
  master_port() { vsctl hv1 --format=csv --data=bare --no-headings --columns=target,role list Controller | awk -F, '$2 == "master" {print $1}' | sed 's/.*://'; }
  for _ in $(seq 100); do [ -n "$(master_port)" ] && break; sleep 0.1; done
  port=$(master_port); victim=$((port - 6652))
  say "kill -9 loom$victim, the master of hv1's vswitch02, during a ping every 10 ms"
  in_vm centos01 ping -q -i 0.01 -c 800 -W 1 172.16.123.102 >"$dir/ping.log" 2>&1 & pinger=$!
  sleep 1
  pid_var="loomd${victim}_pid"; kill -9 "${!pid_var}"
  echo "killed loom$victim (pid ${!pid_var}) at $(date +%T.%N | cut -c1-12)"
  wait "$pinger" || true
  grep -E 'packets transmitted|rtt' "$dir/ping.log"
  grep -q ' 0% packet loss' "$dir/ping.log" || { echo "demo: pings were lost across the failover" >&2; exit 1; }
  sleep 4 # OVS updates its Controller status every few seconds
  echo "hv1 vswitch02's controllers now (OVS's view):"
  vsctl hv1 --format=table --columns=target,role,is_connected list Controller
  other=$((victim % 3 + 1))
  loomctl() { ip netns exec "$tag-loom" bin/loomctl --server "127.0.0.1:96${other}2" "$@"; }
  say "loomctl get instances (asked of loom$other)"
  loomctl get instances
  say "what the new master logged"
  for i in 1 2 3; do [ "$i" = "$victim" ] || grep -h 'master of this switch\|standing by' "$dir/loomd$i.log" | grep -v level=debug | sed "s/^/loom$i: /"; done
else
  say "what Loom logged"
  grep -v 'level=debug' "$dir/loomd.log"
fi
say "demo done; cleaning up"
