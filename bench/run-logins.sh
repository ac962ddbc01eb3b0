#!/usr/bin/env bash
# run-logins.sh — logins per second, Roost against the reference Dovecot,
# in interleaved rounds: one user logging in again and again (a client that
# reconnects), sequentially and 8 at a time. Needs root (dovecot-ref.sh).
#
#   bench/run-logins.sh [OUTDIR]       default OUTDIR: /tmp/bench-logins
#
# Environment: HARNESS [/work/shared/bench]  COUNT [5000]  ROUNDS [3]
#   ROOST_PORT [12143]  DOVECOT_PORT [12144]  SKIP_BUILD (skip cargo build)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-/tmp/bench-logins}
harness=${HARNESS:-/work/shared/bench}
count=${COUNT:-5000}
rounds=${ROUNDS:-3}
roost_port=${ROOST_PORT:-12143}
dovecot_port=${DOVECOT_PORT:-12144}
roost=$repo/target/release/roost
roost_dir=$out/roost-data
dovecot_dir=$out/dovecot
mkdir -p "$out"
log() { echo "[run-logins] $*" >&2; }

if [ -z "${SKIP_BUILD:-}" ]; then
    (cd "$repo" && cargo build --release)
fi
roost_pid=
cleanup() {
    [ -n "$roost_pid" ] && kill "$roost_pid" 2>/dev/null && wait "$roost_pid" 2>/dev/null
    "$harness/dovecot-ref.sh" stop "$dovecot_dir" >/dev/null 2>&1 || true
}
trap cleanup EXIT

rm -rf "$roost_dir"
mkdir -p "$roost_dir"  # user add starts a store only in an existing directory
echo bench | "$roost" user add bench1 --password-stdin --data-dir "$roost_dir" >/dev/null
# One address makes every connection: above the default per-address limit.
printf '[limits]\nmax_connections_per_ip = 100000\n' > "$out/roost.toml"
"$roost" serve --config "$out/roost.toml" --data-dir "$roost_dir" --imap "127.0.0.1:$roost_port" \
    --imaps "" > "$out/roost.log" 2>&1 &
roost_pid=$!
"$harness/dovecot-ref.sh" start "$dovecot_dir" "$dovecot_port" >/dev/null
for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$roost_port") 2>/dev/null && break
    sleep 0.2
done
: > "$out/results.jsonl"
for r in $(seq "$rounds"); do
    for w in 1 8; do
        for s in roost dovecot; do
            port=$roost_port; [ "$s" = dovecot ] && port=$dovecot_port
            log "round $r: $s, $count logins, $w at a time"
            "$repo/bench/logins.py" --port "$port" --count "$count" --workers "$w" --label "$s" \
                | tee -a "$out/results.jsonl"
        done
    done
done
python3 - "$out/results.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for w in sorted({r["workers"] for r in rows}):
    med = {s: statistics.median(r["total_s"] for r in rows if r["label"] == s and r["workers"] == w)
           for s in ("roost", "dovecot")}
    p99 = {s: statistics.median(r["p99_ms"] for r in rows if r["label"] == s and r["workers"] == w)
           for s in ("roost", "dovecot")}
    print(f"workers={w}: roost {med['roost']:.2f} s (p99 {p99['roost']:.1f} ms), "
          f"dovecot {med['dovecot']:.2f} s (p99 {p99['dovecot']:.1f} ms), "
          f"ratio {med['roost'] / med['dovecot']:.2f}")
PY
