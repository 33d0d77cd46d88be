#!/usr/bin/env bash
# Syscalls per echoed message for each example echo server, counted by perf on the server process
# (perf's raw_syscalls tracepoint; needs `perf`, from Debian's linux-perf) while the project's load
# generator sends a fixed number of messages. Loopback only.
#
#   cargo build --release --workspace --examples && scripts/syscalls.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/release/examples
ulimit -n 20000 2>/dev/null || true
scenarios=("64 1 64 200000" "256 4 64 400000" "16 1 4096 100000" "1000 1 64 200000")
servers=(echo echo_callbacks echo_tokio echo_mio)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

count() { # server conns inflight size messages
  local srv=$1 conns=$2 infl=$3 size=$4 msgs=$5
  taskset -c 0 "$bin/$srv" --addr 127.0.0.1:0 >"$tmp/out" 2>/dev/null &
  local spid=$!
  for _ in $(seq 100); do grep -q listening "$tmp/out" 2>/dev/null && break; sleep 0.1; done
  local addr; addr=$(sed 's/listening on //' "$tmp/out")
  perf stat -e raw_syscalls:sys_enter -p "$spid" -o "$tmp/perf" &
  local ppid=$!
  sleep 0.3
  taskset -c 1 "$bin/echo_load" --addr "$addr" --conns "$conns" --inflight "$infl" --size "$size" \
    --messages "$msgs" --quiet >/dev/null
  sleep 0.2
  kill -INT "$ppid"; wait "$ppid" 2>/dev/null || true
  kill "$spid"; wait "$spid" 2>/dev/null || true
  awk -v m="$msgs" '/raw_syscalls/ {gsub(",", "", $1); printf "%.2f", $1 / m}' "$tmp/perf"
}

printf '| scenario (conns, in flight, bytes) | %s |\n|---|%s\n' "$(IFS='|'; echo "${servers[*]}" | sed 's/|/ | /g')" \
  "$(printf -- '---:|%.0s' "${servers[@]}")"
for sc in "${scenarios[@]}"; do
  row="| $(echo "$sc" | awk '{print $1", "$2", "$3}') |"
  for s in "${servers[@]}"; do row+=" $(count "$s" $sc) |"; done
  echo "$row"
done
