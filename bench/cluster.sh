#!/usr/bin/env bash
# make bench-cluster: Loom's cluster mode under load, on loopback only.
#
# Three etcd members and three loomd instances (--etcd, --instance) on
# 127.0.0.1; loombench cluster connects SWITCHES emulated switches to all
# three (OVS's role arbitration in every switch), waits until each has one
# MASTER and the masters have settled, holds a steady window, then SIGKILLs
# one instance and times the takeover of its switches. Meanwhile etcd's
# write rate is sampled from every member's /metrics:
#   etcd_server_proposals_committed_total   raft proposals (one per txn,
#                                           lease grant or revocation)
#   etcd_mvcc_put_total + etcd_mvcc_delete_total   keys written or deleted
#                                           (a lease's expiry deletes its keys)
# Both are per member (each applies every write); the summary reads the
# etcd leader's at the start.
#
# Every process it starts is killed by PID on exit, and its temp dir removed.
# Knobs: SWITCHES (1000), PORTS (4), STEADY (10s), LOG_LEVEL (loomd's, warn),
# KEEP=DIR (copy the logs and samples there), BENCH_ARGS (more loombench
# cluster flags). loomd runs with its defaults: a 3 s lease, rebalancing
# after 5 s. Faults (off by default), to reproduce what happens under them:
#   STARVE=S  HOGS (8) busy loops at nice HOGS_NICE (-15) for the first S
#             seconds of the run (CPU starvation of loomd and etcd)
#   PAUSE=S   SIGSTOP loom1 for S seconds, 3 s into the steady window (a
#             process pause; keep 3+S below STEADY)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
SWITCHES=${SWITCHES:-1000} PORTS=${PORTS:-4} STEADY=${STEADY:-10s}
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

command -v etcd >/dev/null || { echo "bench-cluster: etcd is not installed (scripts/install-deps.sh installs etcd-server)" >&2; exit 1; }
[ -x bin/loomd ] || make build
go build -o bin/loombench ./cmd/loombench

dir=$(mktemp -d /tmp/loom-cluster.XXXXXX)
pids=()
sampler=""
cleanup() {
  set +e
  if [ -n "$sampler" ]; then # it ends within a round once its flag is gone
    rm -f "$dir/sampling"
    wait "$sampler" 2>/dev/null
  fi
  running=" $(jobs -pr | tr '\n' ' ') " # only this shell's children still running: no PID reused meanwhile
  for p in "${pids[@]}"; do
    if [[ $running == *" $p "* ]]; then kill -9 "$p" 2>/dev/null; fi
  done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# port: a free loopback port in $REPLY: below Linux's ephemeral range (so
# no outgoing connection takes it meanwhile), no socket on it now (ss), none
# handed out twice. Not in a subshell: it keeps what it handed out.
used=" "
port() {
  while :; do
    REPLY=$((20000 + RANDOM % 12000))
    [[ $used == *" $REPLY "* ]] && continue
    [ -n "$(ss -Htan "sport = :$REPLY" 2>/dev/null)" ] && continue
    used+="$REPLY "
    return 0
  done
}
wait_port() { # NAME PORT PID
  for _ in $(seq 150); do
    (exec 3<>/dev/tcp/127.0.0.1/"$2") 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || break
    sleep 0.1
  done
  echo "bench-cluster: $1 did not listen on 127.0.0.1:$2" >&2; tail -20 "$dir/$1.log" >&2; exit 1
}
# get PORT PATH: an HTTP GET on loopback with bash alone.
get() {
  exec 3<>/dev/tcp/127.0.0.1/"$1" || return 1
  printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&3
  cat <&3
  exec 3<&-
}
metric() { # PORT NAME: a metric's value (sum over its labels)
  get "$1" /metrics 2>/dev/null | awk -v m="$2" '$1 == m || index($1, m "{") == 1 { s += $2 } END { printf "%.0f\n", s }'
}

# --- etcd: three members on loopback
token="loom-bench-$$-$RANDOM"
cports=() pport=() initial=""
for i in 0 1 2; do
  port; cports+=("$REPLY")
  port; pport+=("$REPLY")
  initial+="${initial:+,}etcd$i=http://127.0.0.1:${pport[$i]}"
done
for i in 0 1 2; do
  c="http://127.0.0.1:${cports[$i]}" p="http://127.0.0.1:${pport[$i]}"
  etcd --name "etcd$i" --data-dir "$dir/etcd$i" \
    --listen-client-urls "$c" --advertise-client-urls "$c" \
    --listen-peer-urls "$p" --initial-advertise-peer-urls "$p" \
    --initial-cluster "$initial" --initial-cluster-state new --initial-cluster-token "$token" \
    --heartbeat-interval 50 --election-timeout 500 >"$dir/etcd$i.log" 2>&1 &
  pids+=($!)
  epid[$i]=$!
done
for i in 0 1 2; do wait_port "etcd$i" "${cports[$i]}" "${epid[$i]}"; done
endpoints=$(printf 'http://127.0.0.1:%s,' "${cports[@]}"); endpoints=${endpoints%,}
for _ in $(seq 100); do # healthy: every member has a leader (etcd's /health)
  ok=0
  for i in 0 1 2; do
    if get "${cports[$i]}" /health 2>/dev/null | grep -q '"health":"true"'; then ok=$((ok + 1)); fi
  done
  if [ "$ok" = 3 ]; then break; fi
  sleep 0.1
done
leader=0
for i in 0 1 2; do
  if [ "$(metric "${cports[$i]}" etcd_server_is_leader)" = 1 ]; then leader=$i; fi
done

# --- loomd: three instances
names=(loom1 loom2 loom3)
ofs=() lpids=() mports=()
for i in 0 1 2; do
  port; of=$REPLY
  port; api=$REPLY
  port; mp=$REPLY
  ofs+=("127.0.0.1:$of") mports+=("$mp")
  bin/loomd --openflow-listen "tcp:127.0.0.1:$of" --etcd "$endpoints" --instance "${names[$i]}" \
    --db "$dir/${names[$i]}.db" --grpc-listen "127.0.0.1:$api" --metrics-listen "127.0.0.1:$mp" \
    --log-level "${LOG_LEVEL:-warn}" >"$dir/${names[$i]}.log" 2>&1 &
  pids+=($!) lpids+=($!)
done
for i in 0 1 2; do wait_port "${names[$i]}" "${ofs[$i]##*:}" "${lpids[$i]}"; done
for i in 0 1 2; do # joined: healthy, which in a cluster means its lease is live and its watch read the cluster
  for _ in $(seq 100); do
    if get "${mports[$i]}" /healthz 2>/dev/null | grep -qx ok; then break; fi
    sleep 0.1
  done
done

# Sample twice a second, into $dir/samples, one line per source:
#   etcd member i:  i MS proposals puts deletes txns
#   loomd i:        Li MS takeovers takeover_flow_mods
touch "$dir/sampling"
(
  while [ -e "$dir/sampling" ]; do
    for i in 0 1 2; do
      get "${cports[$i]}" /metrics 2>/dev/null | awk -v t="$(date +%s%3N)" -v m="$i" '
        $1 == "etcd_server_proposals_committed_total" { p = $2 }
        $1 == "etcd_mvcc_put_total" { u = $2 }
        $1 == "etcd_mvcc_delete_total" { d = $2 }
        $1 == "etcd_mvcc_txn_total" { x = $2 }
        END { if (p != "") printf "%s %s %.0f %.0f %.0f %.0f\n", m, t, p, u, d, x }' >>"$dir/samples" || true
      get "${mports[$i]}" /metrics 2>/dev/null | awk -v t="$(date +%s%3N)" -v m="L$i" '
        $1 == "loom_cluster_takeovers_total" { a = $2 }
        $1 == "loom_cluster_takeover_flow_mods_total" { b = $2 }
        END { if (a != "") printf "%s %s %.0f %.0f\n", m, t, a, b }' >>"$dir/samples" || true
    done
    sleep 0.5
  done
) &
sampler=$!
for _ in $(seq 50); do # a first sample of each source before loombench starts
  if [ "$(cut -d' ' -f1 "$dir/samples" 2>/dev/null | sort -u | wc -l)" -ge 6 ]; then break; fi
  sleep 0.1
done

victim=1 # loom2
ctls=$(IFS=,; echo "${ofs[*]}") lpidlist=$(IFS=,; echo "${lpids[*]}") namelist=$(IFS=,; echo "${names[*]}")
cmd=(bin/loombench cluster --controllers "$ctls" --switches "$SWITCHES" --ports "$PORTS" --timeout 60s
  --pids "$lpidlist" --names "$namelist" --steady "$STEADY" --kill "${names[$victim]}" --kill-pid "${lpids[$victim]}" --hold 2s --label loom
  ${BENCH_ARGS:-})
echo "bench-cluster: ${cmd[*]}"
: >"$dir/out"
if [ "${STARVE:-0}" != 0 ]; then # CPU starvation: busy loops above loomd's priority, for the first STARVE s
  hogs=()
  for _ in $(seq "${HOGS:-8}"); do
    nice -n "${HOGS_NICE:--15}" bash -c 'while :; do :; done' &
    pids+=($!) hogs+=($!)
  done
  (sleep "$STARVE"; kill "${hogs[@]}" 2>/dev/null) &
  pids+=($!)
  echo "bench-cluster: starving the machine for ${STARVE}s (${#hogs[@]} busy loops at nice ${HOGS_NICE:--15})"
fi
if [ "${PAUSE:-0}" != 0 ]; then # a process pause (GC stall, VM freeze): SIGSTOP loom1, 3 s into the steady window
  (
    until grep -q '^cluster loom rss' "$dir/out"; do sleep 0.1; done
    sleep 3
    echo "bench-cluster: pausing ${names[0]} (SIGSTOP) for ${PAUSE}s" >&2
    kill -STOP "${lpids[0]}"
    sleep "$PAUSE"
    kill -CONT "${lpids[0]}"
  ) &
  pids+=($!)
fi
"${cmd[@]}" | tee -a "$dir/out"

# --- rates over loombench's windows
window() { # NAME: "from to" in unix ms
  sed -n "s/^cluster loom window $1 from=\([0-9]*\) to=\([0-9]*\)$/\1 \2/p" "$dir/out"
}
# span SOURCE FROM TO inner|outer: seconds and the deltas of the sampled
# values between the samples just inside the window (inner) or just
# outside it (outer: the whole window and a little more).
span() {
  awk -v m="$1" -v a="$2" -v b="$3" -v how="$4" '
    $1 != m { next }
    { n = NF - 2 }
    how == "inner" && $2 >= a && t0 == "" { t0 = $2; for (i = 3; i <= NF; i++) v0[i] = $i }
    how == "inner" && $2 <= b { t1 = $2; for (i = 3; i <= NF; i++) v1[i] = $i }
    how == "outer" && $2 <= a { t0 = $2; for (i = 3; i <= NF; i++) v0[i] = $i }
    how == "outer" && $2 >= b && t1 == "" { t1 = $2; for (i = 3; i <= NF; i++) v1[i] = $i }
    END {
      if (t0 == "" || t1 == "" || t1 <= t0) { print "none"; exit }
      printf "%.1f", (t1 - t0) / 1000
      for (i = 3; i < 3 + n; i++) printf " %d", v1[i] - v0[i]
      printf "\n"
    }' "$dir/samples"
}
etcd_rates() { # FROM TO inner|outer
  read -r s p u d x <<<"$(span "$leader" "$@")"
  if [ "$s" = none ]; then echo "no samples"; return; fi
  awk -v s="$s" -v p="$p" -v k="$((u + d))" -v x="$x" 'BEGIN {
    printf "%.1f proposals/s, %.1f keys written/s (puts+deletes), %.1f txns/s over %.1fs (%d proposals, %d keys)\n", p / s, k / s, x / s, s, p, k }'
}
echo
echo "== summary ($SWITCHES switches x 3 instances, 3 etcd members; etcd figures from the leader, etcd$leader)"
grep -E '^cluster loom (switches|masters|roles|rss|steady|failover killed|failover roles)' "$dir/out" | sed 's/^cluster loom /  /'
w=$(window election)
if [ -n "$w" ]; then
  echo "  etcd election (first dial to settled): $(etcd_rates $w outer)"
fi
w=$(window steady)
if [ -n "$w" ]; then
  echo "  etcd steady ($STEADY): $(etcd_rates $w inner)"
fi
w=$(window failover)
if [ -n "$w" ]; then
  echo "  etcd failover: $(etcd_rates $w outer)"
  for i in 0 1 2; do
    if [ "$i" = "$victim" ]; then continue; fi
    read -r s a b <<<"$(span "L$i" $w outer)"
    echo "  ${names[$i]} during the failover (its /metrics): takeovers=${a:-?} takeover_flow_mods=${b:-?}"
  done
fi
for i in 0 1 2; do # warnings and errors, by message
  echo "  ${names[$i]} log, warnings and errors:"
  grep -oE 'level=(warning|error|fatal) msg="[^"]*"' "$dir/${names[$i]}.log" | sort | uniq -c | sort -rn | head -5 | sed 's/^/   /' || true
done
if [ -n "${KEEP:-}" ]; then
  cp -r "$dir" "$KEEP" && echo "  logs and samples kept in $KEEP"
fi
