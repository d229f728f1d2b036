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

# Debian's package starts a system-wide OVS where an init system runs.
# Loom's tests and demo run private OVS instances in their own network
# namespaces and never use it, so it is left alone either way.
exit 0
