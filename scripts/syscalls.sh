#!/usr/bin/env bash
# Syscalls per echoed message for each echo server of the benchmark, counted by perf on the server
# process (perf's raw_syscalls tracepoint; needs `perf`, from Debian's linux-perf) while the
# project's load generator sends a fixed number of messages, for each cargo profile given (default:
# release and release-lto, the echo bench's two). Loopback only. With --by-call, a second table per
# profile splits each server's count by syscall (epoll_wait, recvfrom, sendto, ...), from perf's
# syscalls:sys_enter_* tracepoints.
#
#   for p in release release-lto; do cargo build --profile $p --workspace --examples; done
#   scripts/syscalls.sh                     # both profiles, every server
#   scripts/syscalls.sh --by-call release-lto
#   SERVERS="echo echo_tokio" scripts/syscalls.sh release
set -euo pipefail
cd "$(dirname "$0")/.."
by_call=0
if [ "${1:-}" = "--by-call" ]; then by_call=1; shift; fi
profiles=("$@")
[ ${#profiles[@]} -gt 0 ] || profiles=(release release-lto)
target=${CARGO_TARGET_DIR:-target}
ulimit -n 20000 2>/dev/null || true
scenarios=("64 1 64 200000" "256 4 64 400000" "16 1 4096 100000" "1000 1 64 200000")
# id=example[,flag,value...]: the servers, as the echo bench names them.
declare -A spec=(
  [echo]=echo [echo_callbacks]=echo_callbacks [echo_tokio]=echo_tokio
  [echo_tokio_local]=echo_tokio,--form,local-set [echo_monoio]=echo_monoio
  [echo_monoio_uring]=echo_monoio,--driver,uring [echo_smol]=echo_smol [echo_mio]=echo_mio
)
read -r -a servers <<<"${SERVERS:-echo echo_callbacks echo_tokio echo_tokio_local echo_monoio echo_monoio_uring echo_smol echo_mio}"
calls=(epoll_wait epoll_pwait epoll_ctl recvfrom sendto read write io_uring_enter futex)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

count() { # bin server conns inflight size messages: prints the total, or "skip: why"
  local bin=$1 srv=$2 conns=$3 infl=$4 size=$5 msgs=$6
  local words; IFS=, read -r -a words <<<"${spec[$srv]}"
  local exe=$bin/${words[0]}
  [ -x "$exe" ] || { echo "skip: $exe not built"; return; }
  : >"$tmp/out"
  taskset -c 0 "$exe" --addr 127.0.0.1:0 "${words[@]:1}" >"$tmp/out" 2>"$tmp/err" &
  local spid=$!
  for _ in $(seq 100); do
    grep -q listening "$tmp/out" 2>/dev/null && break
    kill -0 "$spid" 2>/dev/null || break
    sleep 0.1
  done
  if ! grep -q listening "$tmp/out"; then
    kill "$spid" 2>/dev/null || true; wait "$spid" 2>/dev/null || true
    echo "skip: $(head -c 200 "$tmp/err" | tr '\n' ' ')"; return
  fi
  local addr; addr=$(sed 's/listening on //' "$tmp/out")
  local events=raw_syscalls:sys_enter
  if [ "$by_call" = 1 ]; then
    for c in "${calls[@]}"; do events+=",syscalls:sys_enter_$c"; done
  fi
  perf stat -e "$events" -p "$spid" -o "$tmp/perf" &
  local ppid=$!
  sleep 0.3
  taskset -c 1 "$bin/echo_load" --addr "$addr" --conns "$conns" --inflight "$infl" --size "$size" \
    --messages "$msgs" --quiet >/dev/null
  sleep 0.2
  kill -INT "$ppid"; wait "$ppid" 2>/dev/null || true
  kill "$spid"; wait "$spid" 2>/dev/null || true
  awk -v m="$msgs" '
    /raw_syscalls:sys_enter/ {gsub(",", "", $1); total = $1 / m}
    /syscalls:sys_enter_/ {gsub(",", "", $1); n = $2; sub(/.*sys_enter_/, "", n); if ($1 > 0) by = by sprintf(" %s %.2f", n, $1 / m)}
    END {printf "%.2f%s", total, by}' "$tmp/perf"
}

for p in "${profiles[@]}"; do
  case $p in dev|test) dir=debug ;; bench) dir=release ;; *) dir=$p ;; esac
  bin=$target/$dir/examples
  echo
  echo "profile $p ($bin)"
  echo
  printf '| scenario (conns, in flight, bytes) | %s |\n|---|%s\n' "$(IFS='|'; echo "${servers[*]}" | sed 's/|/ | /g')" \
    "$(printf -- '---:|%.0s' "${servers[@]}")"
  details=()
  for sc in "${scenarios[@]}"; do
    row="| $(echo "$sc" | awk '{print $1", "$2", "$3}') |"
    for s in "${servers[@]}"; do
      r=$(count "$bin" "$s" $sc)
      case $r in
        skip:*) row+=" – |"; details+=("$s: $r") ;;
        *) row+=" ${r%% *} |"; [ "$by_call" = 1 ] && details+=("$(echo "$sc" | awk '{print $1", "$2", "$3}') $s:${r#* }") ;;
      esac
    done
    echo "$row"
  done
  if [ ${#details[@]} -gt 0 ]; then
    echo
    printf '%s\n' "${details[@]}" | sort -u
  fi
done
