#!/usr/bin/env bash
# Loom's soak and chaos suite (integration/soak, TestSoak): a real loomd
# under every load and fault at once for SOAK_DURATION (default 3m), with
# real OVS in network namespaces it creates and removes. Bounded: go test
# gets the duration plus 20 minutes (SOAK_TIMEOUT overrides, e.g. 45m).
#
#   SOAK_DURATION=30m scripts/soak.sh      # a longer run
#   SOAK_SEED=123 scripts/soak.sh          # replay a run's fault schedule
#   SOAK_RACE=1 scripts/soak.sh            # loomd built with -race
#   SOAK_REPORT=/tmp/soak.txt scripts/soak.sh   # also write the summary there
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "soak: run as root (it creates network namespaces and private OVS instances)" >&2; exit 1; }
export PATH=/usr/local/go/bin:$PATH
export SOAK_DURATION=${SOAK_DURATION:-3m}

# seconds DURATION: a Go duration made of h, m and s parts (3m, 1h30m, 90s).
seconds() {
  local d=$1 t=0
  while [[ $d =~ ^([0-9]+)(h|m|s)(.*)$ ]]; do
    case ${BASH_REMATCH[2]} in
      h) t=$((t + BASH_REMATCH[1] * 3600)) ;;
      m) t=$((t + BASH_REMATCH[1] * 60)) ;;
      s) t=$((t + BASH_REMATCH[1])) ;;
    esac
    d=${BASH_REMATCH[3]}
  done
  [ -z "$d" ] || { echo "soak: SOAK_DURATION=$1: use whole h, m and s, e.g. 3m, 1h30m, 90s" >&2; exit 2; }
  echo "$t"
}
timeout=${SOAK_TIMEOUT:-$(( $(seconds "$SOAK_DURATION") + 1200 ))s}
exec go test -count=1 -v -run '^TestSoak$' -timeout "$timeout" ./integration/soak
