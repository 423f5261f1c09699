#!/usr/bin/env bash
# End-to-end load benchmark (issue 6): keyward-server against nginx on the same machine, in the same run,
# driven by wrk with identical settings, then the same with 1,000 idle keep-alive connections open.
#
#   bench/load/run.sh            # 30 s per measurement, 64 connections
#   DURATION=10 bench/load/run.sh
#
# keyward: the release build, the environment provider, the durable audit log on local disk
# (KEYWARD_BENCH_DIR, default bench/load/var — it must be a real disk: fsync is the point), a policy of
# 1,000 rules (make_policy.py), its default I/O threads (CPUs - 1, at least 1: one CPU is left to the
# audit writer). nginx: a static 200 with a small JSON body, one worker per CPU. wrk: keep-alive, 64
# connections, one thread (the machine has few cores, and wrk's thread competes with the servers),
# POSTing one resolve of one secret (resolve.lua) — nginx gets the same request and ignores the body.
#
# Prints, for each: requests/s, p50/p99/p99.9 latency, the ratio keyward/nginx; the 200 responses keyward
# counted (its own metric) against the audit entries written (they must be equal), wrk's count beside
# them; keyward's peak RSS; with 1,000 idle connections, the RSS they cost.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"

DURATION="${DURATION:-30}"
CONNECTIONS="${CONNECTIONS:-64}"
IDLE="${IDLE:-1000}"
KPORT="${KPORT:-18700}"
NPORT="${NPORT:-18701}"
work="${KEYWARD_BENCH_DIR:-$root/bench/load/var}"

scripts/setup.sh >/dev/null
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || need+=(nginx-light)
if ((${#need[@]})); then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get install -y --no-install-recommends "${need[@]}" >/dev/null
fi
cmake --preset release >/dev/null
cmake --build --preset release --target keyward-server keyward-audit keyward-policy >/dev/null
bin="$root/build/release/bin"

rm -rf "$work"
mkdir -p "$work"
chmod 700 "$work"
python3 bench/load/make_policy.py >"$work/policy.json"
"$bin/keyward-policy" check "$work/policy.json" >/dev/null
"$bin/keyward-audit" keygen --out "$work/audit" --name keyward.bench/load >/dev/null
minted="$("$bin/keyward-server" mint-token --principal bench-pipeline)"
export KEYWARD_BENCH_TOKEN
KEYWARD_BENCH_TOKEN="$(printf '%s\n' "$minted" | grep -oE 'kw_[A-Za-z0-9_-]+' | head -n1)"
hash="$(printf '%s\n' "$minted" | grep -oE 'sha256:[0-9a-f]{64}' | head -n1)"
# The policy names Vault and Databricks too (a realistic index); the benchmark never reaches them.
(umask 077 && echo "not-used-by-the-benchmark" >"$work/unused-token")
cat >"$work/config.json" <<EOF
{
  "listen": {"address": "127.0.0.1", "port": $KPORT},
  "insecure_plaintext": true,
  "limits": {"max_connections": 4096},
  "audit": {"database": "audit.db", "origin": "keyward.bench/load", "signing_key": "audit.key",
            "checkpoint_interval_ms": 10000, "checkpoint_export": "checkpoints.notes"},
  "policy": "policy.json",
  "providers": [
    {"id": "env", "type": "environment", "prefix": "BENCH_"},
    {"id": "vault", "type": "vault", "address": "http://127.0.0.1:9", "allow_plain_http": true,
     "auth": {"method": "token", "token": {"file": "unused-token"}}},
    {"id": "dbx", "type": "databricks", "workspace_url": "http://127.0.0.1:9", "allow_plain_http": true,
     "token": {"file": "unused-token"}}
  ],
  "principals": [{"id": "bench-pipeline", "tokens": ["$hash"]}]
}
EOF
export BENCH_DB_PASSWORD="load-benchmark-value-0123456789"

mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes $(nproc);
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000000;
  client_body_temp_path $work/nginx/body;
  server {
    listen 127.0.0.1:$NPORT;
    location / { default_type application/json; return 200 '{"ok":true}'; }
  }
}
EOF

server_pid=""
nginx_started=""
idle_pid=""
cleanup() {
  [ -n "$idle_pid" ] && kill "$idle_pid" 2>/dev/null || true
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  [ -n "$nginx_started" ] && nginx -c "$work/nginx/nginx.conf" -s stop 2>/dev/null || true
}
trap cleanup EXIT

start_server() {
  "$bin/keyward-server" --config "$work/config.json" 2>>"$work/server.log" &
  server_pid=$!
  for _ in $(seq 1 200); do
    if python3 - "$KPORT" <<'PY' 2>/dev/null; then return 0; fi
import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.2).close()
PY
    sleep 0.05
  done
  echo "keyward-server did not start; see $work/server.log" >&2
  exit 1
}
stop_server() {
  kill -TERM "$server_pid"
  wait "$server_pid" || { echo "keyward-server exited with $?" >&2; exit 1; }
  server_pid=""
}
rss_kb() { awk -v f="$2" '$1 == f":" {print $2}' "/proc/$1/status"; }
metric() {  # the value of one /metrics sample
  python3 - "$KPORT" "$1" <<'PY'
import sys, urllib.request
body = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics").read().decode()
for line in body.splitlines():
    if line.startswith(sys.argv[2] + " "):
        print(int(float(line.split()[-1]))); break
else:
    print(0)
PY
}
audit_resolves() {  # resolve entries in the log, allowed ones
  python3 - "$work/audit.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
print(db.execute("""SELECT count(*) FROM entries WHERE json_extract(CAST(entry AS TEXT), '$.action') = 'resolve'
                    AND json_extract(CAST(entry AS TEXT), '$.decision') = 'allow'""").fetchone()[0])
PY
}
run_wrk() {  # port duration -> the RESULT line
  wrk -t1 -c"$CONNECTIONS" -d"$2"s --latency -s bench/load/resolve.lua "http://127.0.0.1:$1/v1/resolve" |
    grep '^RESULT'
}
field() { sed -E "s/.* $2=([0-9]+).*/\1/" <<<"$1"; }
rps() { python3 -c "print(round($(field "$1" requests) / ($(field "$1" duration_us) / 1e6)))"; }
ms() { python3 -c "print(f'{$(field "$1" "$2") / 1000:.2f}')"; }

nginx -c "$work/nginx/nginx.conf"
nginx_started=1
start_server
k200='keyward_http_requests_total{route="resolve",status="200"}'

measure() {  # label -> prints one table row per server; sets k_line, n_line
  run_wrk "$NPORT" 3 >/dev/null  # warm-up
  run_wrk "$KPORT" 3 >/dev/null
  local served_before entries_before
  served_before="$(metric "$k200")"
  entries_before="$(audit_resolves)"
  n_line="$(run_wrk "$NPORT" "$DURATION")"
  k_line="$(run_wrk "$KPORT" "$DURATION")"
  served=$(($(metric "$k200") - served_before))
  entries=$(($(audit_resolves) - entries_before))
  wrk_200=$(($(field "$k_line" requests) - $(field "$k_line" non2xx)))
  ratio="$(python3 -c "print(f'{$(rps "$k_line") / $(rps "$n_line"):.2f}')")"
  printf '| %s | nginx | %s | %s | %s | %s | %s | |\n' "$1" "$(rps "$n_line")" "$(ms "$n_line" p50_us)" \
    "$(ms "$n_line" p99_us)" "$(ms "$n_line" p999_us)" "$(field "$n_line" errors)"
  printf '| %s | keyward | %s | %s | %s | %s | %s | **%s** |\n' "$1" "$(rps "$k_line")" "$(ms "$k_line" p50_us)" \
    "$(ms "$k_line" p99_us)" "$(ms "$k_line" p999_us)" "$(field "$k_line" errors)" "$ratio"
  printf 'audit (%s): keyward answered 200 to %d resolves and wrote %d allow entries for them (%s); wrk counted %d 200s (the rest were in flight when wrk stopped) and %d non-2xx\n' \
    "$1" "$served" "$entries" "$([ "$served" -eq "$entries" ] && echo equal || echo 'NOT EQUAL')" "$wrk_200" \
    "$(field "$k_line" non2xx)"
  [ "$served" -eq "$entries" ] || { echo "the audit log does not match the 200s" >&2; exit 1; }
}

echo "machine: $(nproc) vCPU $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(uname -r); disk for the log: $(df -T "$work" | awk 'NR==2 {print $2}')"
echo "wrk -t1 -c$CONNECTIONS -d${DURATION}s --latency -s bench/load/resolve.lua; keyward $(grep -oE 'with [0-9]+ I/O threads?' "$work/server.log" | head -n1) (its default), nginx worker_processes=$(nproc) (auto)"
echo
echo '| load | server | req/s | p50 ms | p99 ms | p99.9 ms | socket errors | keyward/nginx |'
echo '|---|---|---|---|---|---|---|---|'
measure "$CONNECTIONS conns"
peak_busy=$(rss_kb "$server_pid" VmHWM)
stop_server

start_server  # a fresh process (the same log, continued), so that its peak RSS is this phase's own
base_rss=$(rss_kb "$server_pid" VmRSS)
coproc IDLER { python3 bench/load/idle_connections.py 127.0.0.1 "$KPORT" "$IDLE"; }
idle_pid=$IDLER_PID
read -r ready count <&"${IDLER[0]}"
[ "$ready" = ready ] || { echo "could not open $IDLE idle connections" >&2; exit 1; }
idle_rss=$(rss_kb "$server_pid" VmRSS)
measure "$CONNECTIONS conns + $count idle"
peak_idle=$(rss_kb "$server_pid" VmHWM)
exec {IDLER[1]}>&-
wait "$idle_pid" 2>/dev/null || true
idle_pid=""
stop_server

echo
echo "keyward RSS: peak $((peak_busy / 1024)) MB under load; started $((base_rss / 1024)) MB, $((idle_rss / 1024)) MB with $count idle connections ($(((idle_rss - base_rss) / count)) KB each), peak $((peak_idle / 1024)) MB with them under load"
"$bin/keyward-audit" verify "$work/audit.db" --key "$work/audit.pub" --checkpoint "$work/checkpoints.notes" | tail -n 1
