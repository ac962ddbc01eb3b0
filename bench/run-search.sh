#!/usr/bin/env bash
# run-search.sh — SEARCH on a large mailbox: Roost (with its index) against
# Dovecot (plain) and Dovecot with fts-xapian, on the same corpus, plus
# APPEND throughput of Roost with and without the index.  Needs root (for
# dovecot-ref.sh).  Each server is populated once (a populated one is
# reused: populate does nothing when the mailbox already holds the corpus).
#
#   bench/run-search.sh [OUTDIR]        default OUTDIR: /tmp/bench-search
#
# Environment (defaults in brackets):
#   HARNESS [/work/shared/bench]   CORPUS [/tmp/bench-corpus/c100k]  COUNT [100000]
#   ROOST_DIR [/tmp/bench-search-roost]   ROOST_PORT [11143]
#   DOVECOT_DIR [/tmp/bench-dovecot-100k] DOVECOT_PORT [10143]
#   FTS_DIR [/tmp/bench-dovecot-fts-100k] FTS_PORT [10144]
#   SEARCH_RUNS [20]  SEARCH_BUDGET [20]
#   DOVECOT_COUNT [COUNT]  messages for both Dovecot servers (fts-xapian indexes ~5 msg/s here)
#   PLAIN_RUNS [SEARCH_RUNS]  search runs on plain Dovecot (its text searches scan every message)
#   SKIP_ROOST  SKIP_PLAIN (Dovecot without fts)  SKIP_FTS (Dovecot with fts-xapian)
#   SKIP_APPEND (the with/without-index APPEND rounds)
#   APPEND_COUNT [20000]  fresh-server populate size for the with/without-index APPEND comparison
#   SKIP_BUILD (set to skip cargo build)  SKIP_DOVECOT (set to measure Roost only)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-/tmp/bench-search}
harness=${HARNESS:-/work/shared/bench}
corpus=${CORPUS:-/tmp/bench-corpus/c100k}
count=${COUNT:-100000}
roost_dir=${ROOST_DIR:-/tmp/bench-search-roost}
roost_port=${ROOST_PORT:-11143}
dovecot_dir=${DOVECOT_DIR:-/tmp/bench-dovecot-100k}
dovecot_port=${DOVECOT_PORT:-10143}
fts_dir=${FTS_DIR:-/tmp/bench-dovecot-fts-100k}
fts_port=${FTS_PORT:-10144}
runs=${SEARCH_RUNS:-20}
dovecot_count=${DOVECOT_COUNT:-$count}
plain_runs=${PLAIN_RUNS:-$runs}
budget=${SEARCH_BUDGET:-20}
append_count=${APPEND_COUNT:-20000}
roost=$repo/target/release/roost

mkdir -p "$out"
log() { echo "[run-search] $*" >&2; }
bench() { python3 "$harness/imapbench.py" --user bench1 --pass bench --corpus "$corpus" "$@"; }

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "nproc: $(nproc)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
    echo "roost_rev: $(git -C "$repo" rev-parse HEAD)"
    echo "uptime_before: $(uptime)"
} > "$out/machine.txt"

if [ -z "${SKIP_BUILD:-}" ]; then
    (cd "$repo" && nice -n 10 cargo build --release)
fi
if [ ! -f "$corpus/manifest.json" ]; then
    log "making corpus $corpus"
    "$harness/make_corpus.py" --count "$count" --seed 1 --out "$corpus"
fi

pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

# start_roost DIR PORT [index on|off] -> prints the pid
start_roost() {
    local dir=$1 port=$2 index=${3:-on}
    mkdir -p "$dir"
    if [ ! -d "$dir/store" ]; then
        for i in 1 2 3 4 5 6 7 8; do
            echo bench | "$roost" user add "bench$i" --password-stdin --data-dir "$dir" >/dev/null
        done
    fi
    printf '[search]\nindex = %s\n[log]\nlevel = "warn"\n' \
        "$([ "$index" = on ] && echo true || echo false)" > "$dir/roost.toml"
    "$roost" serve --config "$dir/roost.toml" --data-dir "$dir" --imap "127.0.0.1:$port" \
        --imaps "" >> "$dir/roost.log" 2>&1 &
    local pid=$!
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.2
    done
    echo "$pid"
}

# 1. Roost, indexed at delivery.
if [ -z "${SKIP_ROOST:-}" ]; then
    roost_pid=$(start_roost "$roost_dir" "$roost_port" on)
    pids+=("$roost_pid")
    log "roost pid $roost_pid: populate + search"
    bench --port "$roost_port" --count "$count" --server-pid "$roost_pid" --label roost \
        --store-dir "$roost_dir" --json-out "$out/search.jsonl" \
        --search-runs "$runs" --search-budget "$budget" populate search 2> "$out/roost.err" || true
    {
        echo "roost_index_bytes: $(du -sb "$roost_dir/index" | cut -f1)"
        echo "roost_store_bytes: $(du -sb "$roost_dir/store" | cut -f1)"
        echo "messages: $count"
    } >> "$out/disk.txt"
    kill "$roost_pid"; wait "$roost_pid" 2>/dev/null || true
fi

# 2. Dovecot plain and with fts-xapian, the same corpus and queries.
if [ -z "${SKIP_DOVECOT:-}" ]; then
    sides=()
    [ -z "${SKIP_PLAIN:-}" ] && sides+=("dovecot $dovecot_dir $dovecot_port $plain_runs")
    [ -z "${SKIP_FTS:-}" ] && sides+=("dovecot-fts $fts_dir $fts_port $runs --fts")
    for side in "${sides[@]}"; do
        set -- $side
        label=$1 dir=$2 port=$3 side_runs=$4 fts=${5:-}
        "$harness/dovecot-ref.sh" start "$dir" "$port" $fts > "$out/$label-start.txt" 2>&1
        pid=$("$harness/dovecot-ref.sh" pid "$dir")
        log "$label pid $pid: populate + search"
        bench --port "$port" --count "$dovecot_count" --server-pid "$pid" --label "$label" \
            --store-dir "$dir/mail/bench1" --json-out "$out/search.jsonl" \
            --search-runs "$side_runs" --search-budget "$budget" populate search 2> "$out/$label.err" || true
        echo "${label}_du: $("$harness/dovecot-ref.sh" du "$dir" bench1)" >> "$out/disk.txt"
        echo "${label}_messages: $dovecot_count" >> "$out/disk.txt"
    done
fi

# 3. APPEND throughput with and without the index: fresh servers, the
# first APPEND_COUNT messages, index on / off / on / off.
for round in 1 2 3; do
    [ -n "${SKIP_APPEND:-}" ] && break
    for index in on off; do
        dir=$out/append-$index-$round
        rm -rf "$dir"
        pid=$(start_roost "$dir" "$((roost_port + 1))" "$index")
        pids+=("$pid")
        bench --port "$((roost_port + 1))" --count "$append_count" --server-pid "$pid" \
            --label "roost-index-$index" --store-dir "$dir" --json-out "$out/append.jsonl" \
            populate 2> "$out/append-$index-$round.err" || true
        kill "$pid"; wait "$pid" 2>/dev/null || true
        rm -rf "$dir"
    done
done

python3 "$harness/report.py" "$out/search.jsonl" --search > "$out/search.md" || true
[ -f "$out/append.jsonl" ] && { python3 "$harness/report.py" "$out/append.jsonl" > "$out/append.md" || true; }
echo "uptime_after: $(uptime)" >> "$out/machine.txt"
log "done: results in $out"
