#!/usr/bin/env bash
# run-idle.sh — thousands of IDLE connections on one Roost process, side by
# side with the reference Dovecot: memory per idle connection and how long
# it takes every idler to see one new message.
#
# For each round (Roost and Dovecot alternate who goes first), each server
# is started fresh and the shared harness's `idle-scale` opens IDLE_CONNS
# connections (LOGIN, SELECT INBOX, IDLE on bench8's INBOX) from
# IDLE_PROCS client processes, then times IDLE_ROUNDS APPENDs until every
# idler has seen the new EXISTS.  Needs root (for dovecot-ref.sh).
#
#   bench/run-idle.sh [OUTDIR]          default OUTDIR: /tmp/bench-idle
#
# Environment (defaults in brackets):
#   HARNESS [/work/shared/bench]  IDLE_CONNS [5000]  IDLE_PROCS [8]
#   ROUNDS [3]  IDLE_ROUNDS [5]
#   ROOST_DIR [/tmp/bench-idle-roost]  DOVECOT_DIR [/tmp/bench-idle-dovecot]
#   ROOST_PORT [12143]  ROOST_TLS_PORT [12993]  DOVECOT_PORT [10145]
#   MEM_CONNS [1000]  SKIP_BUILD (set to skip cargo build --release)
#   ROOST_BIN [target/release/roost]
#
# Then, on a fresh Roost each time, bench/idle_memory.py measures MEM_CONNS
# idle connections plain (SELECT + IDLE) and compressed (COMPRESS DEFLATE,
# then SELECT + IDLE), 2 s after they are idle; and compressed after 20
# CAPABILITYs (an answer big enough for the server to set up its
# compressor), 2 s after and 20 s after, when each connection has freed its
# compressor (15 s without output).
#
# Roost runs with its defaults (no connection cap; it raises its open-file
# soft limit to the hard one itself).  Dovecot's generated config allows
# 4,096 imap processes, one per connection; this script raises
# `default_process_limit` and `service imap { process_limit }` to
# IDLE_CONNS + 1000 and reloads it (`doveadm reload`).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-/tmp/bench-idle}
harness=${HARNESS:-/work/shared/bench}
conns=${IDLE_CONNS:-5000}
procs=${IDLE_PROCS:-8}
rounds=${ROUNDS:-3}
idle_rounds=${IDLE_ROUNDS:-5}
roost_dir=${ROOST_DIR:-/tmp/bench-idle-roost}
dovecot_dir=${DOVECOT_DIR:-/tmp/bench-idle-dovecot}
roost_port=${ROOST_PORT:-12143}
roost_tls_port=${ROOST_TLS_PORT:-12993}
dovecot_port=${DOVECOT_PORT:-10145}
mem_conns=${MEM_CONNS:-1000}
roost=${ROOST_BIN:-$repo/target/release/roost}
proc_limit=$((conns + 1000))

log() { echo "[run-idle] $*" >&2; }

# One descriptor per connection in the harness's client processes, and in
# Roost (which would raise its own soft limit anyway).
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((conns / procs + 300)) ]; then
    echo "open-file hard limit $(ulimit -Hn) is too low for $conns connections" >&2
    exit 1
fi

mkdir -p "$out"
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "nproc: $(nproc)"
    echo "mem: $(free -m | awk '/^Mem:/ {print $2 " MiB"}')"
    echo "kernel: $(uname -r)"
    echo "roost_rev: $(git -C "$repo" rev-parse HEAD)"
    echo "conns: $conns  procs: $procs  rounds: $rounds  idle_rounds: $idle_rounds"
    echo "nofile: $(ulimit -n)  somaxconn: $(cat /proc/sys/net/core/somaxconn)"
    echo "inotify_max_user_instances: $(cat /proc/sys/fs/inotify/max_user_instances)"
    echo "uptime_before: $(uptime)"
} > "$out/machine.txt"

if [ -z "${SKIP_BUILD:-}" ]; then
    log "cargo build --release"
    (cd "$repo" && nice -n 10 cargo build --release)
fi
"$roost" --version >> "$out/machine.txt"
dovecot --version | sed 's/^/dovecot: /' >> "$out/machine.txt"

roost_pid=
stop_roost() {
    if [ -n "$roost_pid" ] && kill -0 "$roost_pid" 2>/dev/null; then
        kill "$roost_pid"
        wait "$roost_pid" 2>/dev/null || true
    fi
    roost_pid=
}
cleanup() {
    stop_roost
    "$harness/dovecot-ref.sh" stop "$dovecot_dir" >/dev/null 2>&1 || true
}
trap cleanup EXIT

"$harness/dovecot-ref.sh" stop "$dovecot_dir" >/dev/null 2>&1 || true
rm -rf "$roost_dir" "$dovecot_dir"
mkdir -p "$roost_dir"  # user add starts a store only in an existing directory
log "creating users in $roost_dir"
for i in 1 2 3 4 5 6 7 8; do
    echo bench | "$roost" user add "bench$i" --password-stdin --data-dir "$roost_dir" >/dev/null
done

# Thousands of connections from one loopback address: above the default
# per-address, per-user and total connection limits.
printf '[limits]\nmax_connections = 100000\nmax_connections_per_ip = 100000\nmax_connections_per_user = 100000\n' > "$out/roost.toml"

start_roost() {
    "$roost" serve --config "$out/roost.toml" --data-dir "$roost_dir" --imap "127.0.0.1:$roost_port" \
        --imaps "127.0.0.1:$roost_tls_port" >> "$out/roost.log" 2>&1 &
    roost_pid=$!
    for _ in $(seq 50); do
        (exec 3<>"/dev/tcp/127.0.0.1/$roost_port") 2>/dev/null && break
        sleep 0.2
    done
    # Warm the password-hashing pool (both threads allocate their argon2
    # memory once, at their first logins), so that fixed cost is not
    # charged to the idle connections.
    python3 "$repo/bench/idle_memory.py" --port "$roost_port" --user bench1 --pass bench \
        --pid "$roost_pid" --count 16 --concurrency 16 --settle 0 > /dev/null
}

start_dovecot() {
    "$harness/dovecot-ref.sh" start "$dovecot_dir" "$dovecot_port" >> "$out/dovecot-start.txt" 2>&1
    local conf=$dovecot_dir/dovecot.conf
    sed -i -e "s/^default_process_limit = .*/default_process_limit = $proc_limit/" \
        -e "/^service imap {/,/^}/ s/process_limit = .*/process_limit = $proc_limit/" "$conf"
    doveadm -c "$conf" reload
    sleep 1
    doveconf -c "$conf" -n > "$out/doveconf-n.txt"
    grep -q "process_limit = $proc_limit" "$out/doveconf-n.txt" || {
        echo "dovecot did not take process_limit = $proc_limit" >&2
        exit 1
    }
}

stop_dovecot() {
    "$harness/dovecot-ref.sh" stop "$dovecot_dir" >/dev/null 2>&1 || true
}

idle_scale() { # LABEL PORT PID
    log "round $r: $1, $conns IDLE connections"
    set +e
    timeout 1800 python3 "$harness/imapbench.py" --port "$2" --user bench1 --pass bench \
        --server-pid "$3" --label "$1" --idle-conns "$conns" --idle-procs "$procs" \
        --idle-rounds "$idle_rounds" --idle-timeout 60 --json-out "$out/idle.jsonl" \
        idle-scale > /dev/null 2>> "$out/idle-$1.err"
    echo "round $r $1 exit $?" >> "$out/machine.txt"
    set -e
}

run_roost() {
    start_roost
    idle_scale roost "$roost_port" "$roost_pid"
    stop_roost
}

run_dovecot() {
    start_dovecot
    idle_scale dovecot "$dovecot_port" "$("$harness/dovecot-ref.sh" pid "$dovecot_dir")"
    stop_dovecot
}

: > "$out/idle.jsonl"
for r in $(seq 1 "$rounds"); do
    if [ $((r % 2)) = 1 ]; then run_roost; run_dovecot; else run_dovecot; run_roost; fi
done

: > "$out/idle-memory.jsonl"
for mode in "2 --idle" "2 --compress" "2 --compress --chatter 20" "20 --compress --chatter 20"; do
    set -- $mode
    settle=$1
    shift
    log "memory: $mem_conns connections, $*, measured after ${settle}s"
    start_roost
    python3 "$repo/bench/idle_memory.py" --port "$roost_port" --user bench8 --pass bench \
        --pid "$roost_pid" --count "$mem_conns" --concurrency 50 --settle "$settle" "$@" \
        | python3 -c 'import json, sys; d = json.load(sys.stdin); d["settle_s"] = float(sys.argv[1]); print(json.dumps(d))' "$settle" \
        >> "$out/idle-memory.jsonl"
    stop_roost
done

echo "uptime_after: $(uptime)" >> "$out/machine.txt"
python3 "$harness/report.py" "$out/idle.jsonl" --all > "$out/report.md"
log "done: results in $out (report.md, idle.jsonl)"
