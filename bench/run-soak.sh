#!/usr/bin/env bash
# run-soak.sh — Roost under 200 ordinary and hostile clients at once for
# SECONDS (default 600), on loopback, with its memory sampled; see
# bench/soak_hostile.py for the mix. Prints and keeps the JSON result.
#
#   bench/run-soak.sh [OUTDIR]       default OUTDIR: /tmp/bench-soak
#
# Environment: SECONDS_TOTAL [600]  PORT [12243]  ROOST_BIN (default: the
#   release build, built first unless SKIP_BUILD)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-/tmp/bench-soak}
seconds=${SECONDS_TOTAL:-600}
port=${PORT:-12243}
roost=${ROOST_BIN:-$repo/target/release/roost}
data=$out/data
log() { echo "[run-soak] $*" >&2; }

if [ -z "${ROOST_BIN:-}" ] && [ -z "${SKIP_BUILD:-}" ]; then
    (cd "$repo" && cargo build --release)
fi
rm -rf "$out" && mkdir -p "$data"
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; true; }
trap cleanup EXIT

log "users and a 40 MB message"
for u in soak soak0 soak1 soak2 soak3 soak4 soak5 soak6 soak7 soak8 soak9 victim big \
    bomber0 bomber1 bomber2 bomber3 bomber4 bomber5 bomber6 bomber7 bomber8 bomber9; do
    echo soak-pw | "$roost" user add "$u" --password-stdin --data-dir "$data" >/dev/null
done
python3 - <<'PY' | "$roost" deliver --user big --data-dir "$data"
import sys
sys.stdout.write("From: big@example.org\nSubject: forty megabytes\n\n")
line = "0123456789abcdef" * 6 + "\n"
for _ in range(40 * 1024 * 1024 // len(line)):
    sys.stdout.write(line)
PY
for i in $(seq 1 50); do
    printf 'From: soak@example.org\nSubject: seed %s\n\nhello\n' "$i" | "$roost" deliver --user soak --data-dir "$data"
done

cat > "$out/roost.toml" <<TOML
[imap]
listen = "127.0.0.1:$port"
listen_tls = ""
[lmtp]
listen = []
[admin]
listen = "off"
TOML
"$roost" serve --config "$out/roost.toml" --data-dir "$data" > "$out/roost.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null && break
    sleep 0.1
done
log "soaking for ${seconds}s (server pid $pid)"
python3 "$repo/bench/soak_hostile.py" --port "$port" --pid "$pid" --seconds "$seconds" | tee "$out/result.json"
kill -0 "$pid" || { log "the server died"; exit 1; }
log "server log: $out/roost.log; result: $out/result.json"
