#!/usr/bin/env bash
# run-lmtp.sh — LMTP deliveries per second, Roost against Dovecot's LMTP.
#
# Builds the release binary, makes a corpus with make_corpus.py (if
# missing), starts Roost (users bench1..bench8, LMTP on TCP loopback) and a
# private Dovecot (the reference instance of dovecot-ref.sh, with its LMTP
# service, dovecot-lmtpd, added on loopback), then runs bench/lmtpbench.py
# against each in turn, alternating, for 1 and 8 connections and 1 and 5
# recipients per message. Prints a markdown table; JSON lines go to
# OUTDIR/lmtp.jsonl. Needs root (for dovecot-ref.sh). Stops both servers.
#
#   bench/run-lmtp.sh [OUTDIR]        default OUTDIR: /tmp/bench-results
#
# Environment (defaults in brackets):
#   HARNESS [/work/shared/bench]  CORPUS [/tmp/bench-corpus/c2k]  COUNT [2000]
#   SECONDS_EACH [15]  ROUNDS [2]  ROOST_DIR [/tmp/bench-lmtp-roost]
#   DOVECOT_DIR [/tmp/bench-lmtp-dovecot]  ROOST_LMTP_PORT [11024]
#   DOVECOT_LMTP_PORT [10024]  SKIP_BUILD (set to skip cargo build)
#   ROOST_BIN [target/release/roost]
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-/tmp/bench-results}
harness=${HARNESS:-/work/shared/bench}
corpus=${CORPUS:-/tmp/bench-corpus/c2k}
count=${COUNT:-2000}
seconds=${SECONDS_EACH:-15}
rounds=${ROUNDS:-2}
roost_dir=${ROOST_DIR:-/tmp/bench-lmtp-roost}
dovecot_dir=${DOVECOT_DIR:-/tmp/bench-lmtp-dovecot}
roost_lmtp=${ROOST_LMTP_PORT:-11024}
dovecot_lmtp=${DOVECOT_LMTP_PORT:-10024}
roost=${ROOST_BIN:-$repo/target/release/roost}
mkdir -p "$out"
log() { echo "[run-lmtp] $*" >&2; }

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "nproc: $(nproc)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
    echo "roost_rev: $(git -C "$repo" rev-parse HEAD)"
    echo "uptime_before: $(uptime)"
} > "$out/lmtp-machine.txt"

if [ -z "${SKIP_BUILD:-}" ]; then
    log "cargo build --release"
    (cd "$repo" && nice -n 10 cargo build --release)
fi
if [ ! -f "$corpus/manifest.json" ]; then
    log "making corpus $corpus"
    "$harness/make_corpus.py" --count "$count" --seed 1 --out "$corpus"
fi
if [ ! -x /usr/lib/dovecot/lmtp ]; then
    log "installing dovecot-lmtpd"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dovecot-imapd dovecot-lmtpd >&2
fi

roost_pid=
cleanup() {
    [ -n "$roost_pid" ] && kill "$roost_pid" 2>/dev/null && wait "$roost_pid" 2>/dev/null || true
    "$harness/dovecot-ref.sh" stop "$dovecot_dir" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# Roost: a fresh data directory, eight users, LMTP on loopback TCP.
rm -rf "$roost_dir"
mkdir -p "$roost_dir/data"  # user add starts a store only in an existing directory
for i in 1 2 3 4 5 6 7 8; do
    printf bench | "$roost" user add "bench$i" --password-stdin --data-dir "$roost_dir/data" >/dev/null
done
"$roost" serve --data-dir "$roost_dir/data" --imap 127.0.0.1:0 --imaps "" \
    --lmtp "127.0.0.1:$roost_lmtp" 2>"$roost_dir/serve.log" &
roost_pid=$!

# Dovecot: the reference instance, then its LMTP service added to it.
rm -rf "$dovecot_dir"
"$harness/dovecot-ref.sh" start "$dovecot_dir" 10143 >/dev/null
"$harness/dovecot-ref.sh" stop "$dovecot_dir" >/dev/null
conf=$dovecot_dir/dovecot.conf
sed -i 's/^protocols = imap$/protocols = imap lmtp/' "$conf"
cat >> "$conf" <<EOF

# Added by run-lmtp.sh: LMTP delivery on loopback. The user is the
# recipient's local part (bench1@bench.test -> bench1).
auth_username_format = %Ln
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $dovecot_lmtp
  }
  unix_listener lmtp {
    mode = 0600
  }
}
EOF
dovecot -c "$conf"

wait_port() {
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    log "nothing listens on $1"
    return 1
}
wait_port "$roost_lmtp"
wait_port "$dovecot_lmtp"

results=$out/lmtp.jsonl
: > "$results"
for conns in 1 8; do
    for rcpts in 1 5; do
        for round in $(seq "$rounds"); do
            for server in roost dovecot; do
                port=$roost_lmtp
                [ "$server" = dovecot ] && port=$dovecot_lmtp
                log "$server conns=$conns rcpts=$rcpts round $round"
                "$repo/bench/lmtpbench.py" --target "127.0.0.1:$port" --corpus "$corpus" \
                    --conns "$conns" --rcpts "$rcpts" --seconds "$seconds" \
                    --label "$server" >> "$results"
            done
        done
    done
done
echo "uptime_after: $(uptime)" >> "$out/lmtp-machine.txt"

python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("| connections | recipients | Roost msg/s | Roost deliveries/s | Roost p50 ms | Dovecot msg/s | Dovecot deliveries/s | Dovecot p50 ms |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for conns in (1, 8):
    for rcpts in (1, 5):
        cell = []
        for label in ("roost", "dovecot"):
            rs = [r for r in rows if r["label"] == label and r["conns"] == conns and r["rcpts"] == rcpts]
            med = lambda k: statistics.median(r[k] for r in rs)
            cell += [f"{med('messages_per_s'):.0f}", f"{med('deliveries_per_s'):.0f}", f"{med('p50_ms'):.1f}"]
        print(f"| {conns} | {rcpts} | " + " | ".join(cell) + " |")
PY
