#!/usr/bin/env bash
# Installs what Loom's tests and demo need on Debian, only when missing.
# Idempotent: a machine that has everything runs no apt at all.
set -euo pipefail

need=()
command -v ovs-vswitchd >/dev/null || need+=(openvswitch-switch)
command -v ip >/dev/null || need+=(iproute2)
command -v ethtool >/dev/null || need+=(ethtool)
command -v ping >/dev/null || need+=(iputils-ping)
command -v nc >/dev/null || need+=(netcat-openbsd)
command -v prlimit >/dev/null || need+=(util-linux) # the soak caps loomd's file descriptors
command -v etcd >/dev/null || need+=(etcd-server)   # the cluster's tests run real etcd members

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install-deps: need root to install: ${need[*]}" >&2
    exit 1
  fi
  echo "install-deps: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Debian's packages start a system-wide OVS and etcd where an init system
# runs. Loom's tests and demo run private OVS instances in their own network
# namespaces and private etcd members on loopback ports, and never use
# either, so they are left alone.
exit 0
