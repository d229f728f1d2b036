#!/usr/bin/env bash
# Loom's main job, end to end, on one machine:
#   one hypervisor (a network namespace running its own OVS, userspace
#   datapath) with the VM bridge vswitch02 in fail_mode=secure, two VMs
#   (namespaces) on it, and loomd as the bridge's controller. The VMs cannot
#   ping until Loom connects; then they ping through Loom's flows only.
# It creates only its own namespaces and processes and removes them on exit,
# also on failure or Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" = 0 ] || { echo "demo: run as root (it creates network namespaces)" >&2; exit 1; }

tag="ld$$"                       # unique per run, so demos never collide
dir=$(mktemp -d /tmp/loomdemo.XXXXXX)
hv="${tag}-hv1" vm1="${tag}-centos01" vm2="${tag}-centos02"
pids=()   # started directly (ip netns exec execs), so $! is the daemon itself
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

cleanup() {
  set +e
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  sleep 0.3
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  for ns in "$vm1" "$vm2" "$hv"; do ip netns del "$ns" 2>/dev/null; done
  rm -rf "$dir"
}
trap cleanup EXIT

export OVS_RUNDIR="$dir" OVS_LOGDIR="$dir" OVS_DBDIR="$dir" OVS_SYSCONFDIR="$dir"
vsctl() { ovs-vsctl --db="unix:$dir/db.sock" --timeout=10 "$@"; }
in_hv() { ip netns exec "$hv" "$@"; }

say "hypervisor $hv: private OVS (ovsdb-server + ovs-vswitchd, datapath_type=netdev)"
ip netns add "$hv"; in_hv ip link set lo up
ovsdb-tool create "$dir/conf.db" /usr/share/openvswitch/vswitch.ovsschema
ip netns exec "$hv" ovsdb-server "$dir/conf.db" --remote="punix:$dir/db.sock" --pidfile="$dir/ovsdb.pid" \
  --log-file="$dir/ovsdb.log" --unixctl="$dir/ovsdb.ctl" >/dev/null 2>&1 & pids+=($!)
for _ in $(seq 50); do [ -S "$dir/db.sock" ] && break; sleep 0.1; done
vsctl --no-wait init
ip netns exec "$hv" ovs-vswitchd "unix:$dir/db.sock" --pidfile="$dir/vswitchd.pid" --log-file="$dir/vswitchd.log" \
  --unixctl="$dir/vswitchd.ctl" >/dev/null 2>&1 & pids+=($!)
vsctl add-br vswitch02 -- set bridge vswitch02 datapath_type=netdev protocols=OpenFlow13 \
  fail_mode=secure other-config:datapath-id=00000000000000c1

say "VMs centos01 (172.16.123.101) and centos02 (172.16.123.102) on vswitch02"
i=0
for vm in "$vm1" "$vm2"; do
  i=$((i+1)); port="centos0${i}_port1"
  ip netns add "$vm"; ip netns exec "$vm" ip link set lo up
  # IPv4 only, so each VM's first frame is the ARP that tells Loom its IP.
  ip netns exec "$vm" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip link add "$port" netns "$hv" type veth peer name eth1 netns "$vm"
  ip netns exec "$vm" ip link set eth1 address "02:00:ac:10:7b:6$i"
  ip netns exec "$vm" ip addr add "172.16.123.10$i/24" dev eth1
  ip netns exec "$vm" ip link set eth1 up
  in_hv ip link set "$port" up
  ip netns exec "$vm" ethtool -K eth1 tx off >/dev/null; in_hv ethtool -K "$port" tx off >/dev/null
  vsctl add-port vswitch02 "$port"
  # What libvirt records on a VM's interface (<virtualport type='openvswitch'>).
  vsctl set Interface "$port" "external_ids:attached-mac=02:00:ac:10:7b:6$i" \
    "external_ids:iface-id=$(printf '%08d' $i)-port1" "external_ids:vm-uuid=centos0$i" external_ids:iface-status=active
done

say "before Loom: fail_mode=secure and no controller, so no flows and no ping"
if ip netns exec "$vm1" ping -c 2 -W 1 -i 0.2 172.16.123.102 >/dev/null 2>&1; then
  echo "unexpected: ping works without a controller" >&2; exit 1
fi
echo "ping 172.16.123.101 -> .102: no reply (as expected)"

say "start loomd and point the bridge at it"
make -s build
cat >"$dir/loom.yaml" <<YAML
hypervisors:
  - {name: hv1, ovsdb: "unix:$dir/db.sock"}
YAML
echo "+ loomd --config (hypervisor hv1, its OVSDB at unix:$dir/db.sock)"
bin/loomd --openflow-listen "unix:$dir/loom.sock" --db "$dir/loom.db" --config "$dir/loom.yaml" \
  --grpc-listen 127.0.0.1:0 --metrics-listen "" >"$dir/loomd.log" 2>&1 & pids+=($!)
for _ in $(seq 50); do [ -S "$dir/loom.sock" ] && break; sleep 0.1; done
echo "+ ovs-vsctl set-controller vswitch02 unix:$dir/loom.sock"
vsctl set-controller vswitch02 "unix:$dir/loom.sock"
for _ in $(seq 100); do
  [ "$(vsctl get controller vswitch02 is_connected 2>/dev/null)" = true ] && break; sleep 0.1
done

say "with Loom: ping 172.16.123.101 -> 172.16.123.102"
ip netns exec "$vm1" ping -c 3 -i 0.2 -W 2 172.16.123.102

say "what the switch holds (ovs-ofctl dump-flows): only Loom's flows (cookie 0x4c4d...)"
ovs-ofctl -O OpenFlow13 dump-flows "unix:$dir/vswitch02.mgmt" | sed 1d | sed 's/ duration=[^,]*,//; s/ n_bytes=[^,]*,//'

say "what Loom knows, through its API (loomctl)"
api=$(grep 'serving the gRPC API' "$dir/loomd.log" | grep -o 'grpc="\?[0-9.:]*' | tr -d 'grpc="' | head -1)
sleep 1 # the OVSDB view joins the topology within a moment of connecting
bin/loomctl --server "$api" get hypervisors
echo
bin/loomctl --server "$api" get ports --switch 0xc1
echo
bin/loomctl --server "$api" get hosts
echo
bin/loomctl --server "$api" flows --switch 0xc1

say "what Loom logged"
cat "$dir/loomd.log"
say "demo done; cleaning up"
