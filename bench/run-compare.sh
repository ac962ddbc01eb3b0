#!/usr/bin/env bash
# run-compare.sh — Roost against the reference Dovecot, end to end.
#
# Builds the release binary, creates users bench1..bench8 (password "bench")
# in a fresh data directory, starts Roost and a private Dovecot on loopback,
# runs the shared harness (compare.py) with interleaved A/B rounds, measures
# the memory of 1,000 idle logged-in Roost connections, records disk use,
# then stops both servers.  Needs root (for dovecot-ref.sh).
#
#   bench/run-compare.sh [OUTDIR]        default OUTDIR: /tmp/bench-results
#
# Environment (defaults in brackets):
#   HARNESS [/work/shared/bench]   the benchmark harness
#   CORPUS  [/tmp/bench-corpus/c20k]  made with make_corpus.py if missing
#   COUNT   [20000]  ROUNDS [3]  APPEND_COUNT [5000]
#   ROOST_DIR [/tmp/bench-roost]  DOVECOT_DIR [/tmp/bench-dovecot]
#   ROOST_PORT [11143]  ROOST_TLS_PORT [11993]  DOVECOT_PORT [10143]
#   WORKLOADS ["append header-sync body-fetch flags search"]
#   IDLE_CONNS [1000]  SKIP_BUILD (set to skip cargo build)
#   ROOST_BIN [target/release/roost]
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-/tmp/bench-results}
harness=${HARNESS:-/work/shared/bench}
corpus=${CORPUS:-/tmp/bench-corpus/c20k}
count=${COUNT:-20000}
rounds=${ROUNDS:-3}
append_count=${APPEND_COUNT:-5000}
roost_dir=${ROOST_DIR:-/tmp/bench-roost}
dovecot_dir=${DOVECOT_DIR:-/tmp/bench-dovecot}
roost_port=${ROOST_PORT:-11143}
roost_tls_port=${ROOST_TLS_PORT:-11993}
dovecot_port=${DOVECOT_PORT:-10143}
workloads=${WORKLOADS:-append header-sync body-fetch flags search}
idle_conns=${IDLE_CONNS:-1000}
roost=${ROOST_BIN:-$repo/target/release/roost}

mkdir -p "$out"
log() { echo "[run-compare] $*" >&2; }

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "nproc: $(nproc)"
    echo "mem: $(free -m | awk '/^Mem:/ {print $2 " MiB"}')"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
    echo "kernel: $(uname -r)"
    echo "roost_rev: $(git -C "$repo" rev-parse HEAD)"
    echo "uptime_before: $(uptime)"
} > "$out/machine.txt"

if [ -z "${SKIP_BUILD:-}" ]; then
    log "cargo build --release"
    (cd "$repo" && nice -n 10 cargo build --release)
fi
"$roost" --version >> "$out/machine.txt"

if [ ! -f "$corpus/manifest.json" ]; then
    log "making corpus $corpus"
    "$harness/make_corpus.py" --count "$count" --seed 1 --out "$corpus"
fi

roost_pid=
cleanup() {
    if [ -n "$roost_pid" ] && kill -0 "$roost_pid" 2>/dev/null; then
        kill "$roost_pid"
        wait "$roost_pid" 2>/dev/null || true
    fi
    "$harness/dovecot-ref.sh" stop "$dovecot_dir" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# Fresh data directories on both sides, so disk use is comparable.
"$harness/dovecot-ref.sh" stop "$dovecot_dir" >/dev/null 2>&1 || true
rm -rf "$roost_dir" "$dovecot_dir"
mkdir -p "$roost_dir"  # user add starts a store only in an existing directory

log "creating users in $roost_dir"
for i in 1 2 3 4 5 6 7 8; do
    echo bench | "$roost" user add "bench$i" --password-stdin --data-dir "$roost_dir" >/dev/null
done

# A thousand idlers from one loopback address, as one user: above the
# default per-address and per-user connection limits.
printf '[limits]\nmax_connections_per_ip = 100000\nmax_connections_per_user = 100000\n' > "$out/roost.toml"

log "starting roost on 127.0.0.1:$roost_port"
"$roost" serve --config "$out/roost.toml" --data-dir "$roost_dir" --imap "127.0.0.1:$roost_port" \
    --imaps "127.0.0.1:$roost_tls_port" --admin "" > "$out/roost.log" 2>&1 &
roost_pid=$!
for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$roost_port") 2>/dev/null && break
    sleep 0.2
done

log "starting dovecot on 127.0.0.1:$dovecot_port"
# The daemon keeps inherited descriptors open: send its output to a file.
"$harness/dovecot-ref.sh" start "$dovecot_dir" "$dovecot_port" > "$out/dovecot-start.txt" 2>&1
dovecot_pid=$("$harness/dovecot-ref.sh" pid "$dovecot_dir")
dovecot --version | sed 's/^/dovecot: /' >> "$out/machine.txt"

log "compare: roost pid $roost_pid, dovecot pid $dovecot_pid"
# Exit status 2 means a correctness failure: keep going and report it.
set +e
timeout 3600 python3 "$harness/compare.py" \
    --a "127.0.0.1:$roost_port" --a-name roost --a-pid "$roost_pid" --a-store "$roost_dir/store" \
    --b "127.0.0.1:$dovecot_port" --b-name dovecot --b-pid "$dovecot_pid" \
    --b-store "$dovecot_dir/mail/bench1" \
    --user bench1 --pass bench --corpus "$corpus" --rounds "$rounds" --all-metrics \
    --out "$out/compare.jsonl" --summary-out "$out/summary.json" \
    $workloads \
    -- --count "$count" --append-count "$append_count" --append-conns 1,8 \
       --search-runs 3 --search-budget 10 \
    > "$out/compare.txt" 2> "$out/compare.err"
echo "compare_exit: $?" >> "$out/machine.txt"
set -e

log "disk use"
{
    echo "roost_store_bytes: $(find "$roost_dir/store" -type f -printf '%b\n' | awk '{s+=$1*512} END{printf "%.0f\n", s}')"
    echo "dovecot_du: $("$harness/dovecot-ref.sh" du "$dovecot_dir" bench1)"
} > "$out/disk.txt"

log "idle memory: $idle_conns logged-in connections to roost"
set +e
timeout 600 python3 "$repo/bench/idle_memory.py" --port "$roost_port" --user bench8 --pass bench \
    --pid "$roost_pid" --count "$idle_conns" --settle 2 > "$out/idle-roost.json"
set -e
# The harness's idle-scale on both: LOGIN + SELECT + IDLE per connection,
# memory summed over each server's process tree, then the time for every
# idler to see one APPEND.
log "idle-scale: $idle_conns IDLE connections to roost"
set +e
timeout 900 python3 "$harness/imapbench.py" --port "$roost_port" --user bench1 --pass bench \
    --corpus "$corpus" --count "$count" --server-pid "$roost_pid" --label roost \
    --idle-conns "$idle_conns" --idle-rounds 5 idle-scale \
    > "$out/idle-roost.jsonl" 2> "$out/idle-roost.err"
set -e
log "idle-scale: $idle_conns IDLE connections to dovecot"
set +e
timeout 900 python3 "$harness/imapbench.py" --port "$dovecot_port" --user bench1 --pass bench \
    --corpus "$corpus" --count "$count" --server-pid "$dovecot_pid" --label dovecot \
    --idle-conns "$idle_conns" --idle-rounds 5 idle-scale \
    > "$out/idle-dovecot.jsonl" 2> "$out/idle-dovecot.err"
set -e
echo "uptime_after: $(uptime)" >> "$out/machine.txt"
log "done: results in $out"
