#!/usr/bin/env bash
# Instructions and heap allocations per resolve, counted by callgrind: a measure of keyward's own CPU
# work that, unlike requests/s on a shared VM, does not move with the neighbours' load.
#
#   bench/load/run.sh                 # once: builds the release preset and writes bench/load/var
#   bench/load/instructions.sh [BIN]  # BIN: a keyward-server binary (default: the release build's)
#
# Runs BIN under callgrind with the benchmark's configuration (the durable log in bench/load/var),
# drives it with wrk -c16 for 15 s (callgrind runs one thread at a time, so absolute rates mean
# nothing), counting only during that run, and prints user-space instructions per request, the top
# functions, and `operator new` calls per request by caller. Kernel time is not counted: see
# bench/RESULTS.md for strace -c and perf. Needs valgrind.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
bin="${1:-$root/build/release/bin/keyward-server}"
work="$root/bench/load/var"
[ -f "$work/config.json" ] || { echo "run bench/load/run.sh first (it writes $work)" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
cd "$work"
rm -f audit.db audit.db-wal audit.db-shm checkpoints.notes
export BENCH_DB_PASSWORD="load-benchmark-value-0123456789"
minted="$("$bin" mint-token --principal bench-pipeline)"
export KEYWARD_BENCH_TOKEN
KEYWARD_BENCH_TOKEN="$(printf '%s\n' "$minted" | grep -oE 'kw_[A-Za-z0-9_-]+' | head -n1)"
sed -i -E "s/sha256:[0-9a-f]{64}/$(printf '%s\n' "$minted" | grep -oE 'sha256:[0-9a-f]{64}' | head -n1)/" config.json
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out/cg" "$bin" --config config.json 2>"$out/server.log" &
pid=$!
port="$(python3 -c 'import json; print(json.load(open("config.json"))["listen"]["port"])')"
for _ in $(seq 1 400); do (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
url="http://127.0.0.1:$port/v1/resolve"
wrk -t1 -c16 -d3s -s "$root/bench/load/resolve.lua" "$url" >/dev/null  # warm-up, not counted
callgrind_control -i on "$pid" >/dev/null
result="$(wrk -t1 -c16 -d15s -s "$root/bench/load/resolve.lua" "$url" | grep '^RESULT')"
callgrind_control -i off "$pid" >/dev/null
kill "$pid"
wait "$pid" || true
requests="$(sed -E 's/.* requests=([0-9]+).*/\1/' <<<"$result")"
callgrind_annotate "$out/cg" >"$out/flat" 2>/dev/null
callgrind_annotate --tree=caller "$out/cg" >"$out/tree" 2>/dev/null
python3 - "$requests" "$out/flat" "$out/tree" <<'PY'
import re, sys
requests = int(sys.argv[1])
flat = open(sys.argv[2]).read().splitlines()
total = next(int(l.split()[0].replace(",", "")) for l in flat if "PROGRAM TOTALS" in l)
print(f"requests {requests}, user-space instructions per request {total // requests:,}")
rows = [l for l in flat if re.match(r"^\s*[\d,]+ \(\s*[\d.]+%\)\s+\S", l) and "PROGRAM TOTALS" not in l]
for l in rows[:15]:
    n = int(l.split()[0].replace(",", ""))
    name = re.sub(r"^\s*[\d,]+ \(\s*[\d.]+%\)\s+", "", l)
    print(f"  {n // requests:>8,}  {name[:110]}")
tree = open(sys.argv[3]).read().splitlines()
at = next(i for i, l in enumerate(tree) if re.search(r"\*\s+\?\?\?:operator new\(unsigned long\)", l))
start = at
while start > 0 and tree[start - 1].strip():
    start -= 1
callers = []
for l in tree[start:at]:
    m = re.search(r"\(([\d,]+)x\)", l)
    if m:
        callers.append((int(m.group(1).replace(",", "")), re.sub(r"^\s*[\d,]+ \(\s*[\d.]+%\)\s+<\s+", "", l.strip())))
callers.sort(reverse=True)
print(f"operator new per request {sum(c for c, _ in callers) / requests:.1f}, by caller:")
for c, name in callers[:12]:
    print(f"  {c / requests:6.2f}  {name[:110]}")
PY
