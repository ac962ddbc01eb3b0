#!/usr/bin/env bash
# run-import.sh — `roost import` speed in messages/s from a Maildir.
#
# Makes a corpus of COUNT messages with make_corpus.py (once; kept in
# WORK), turns it into a Maildir++ INBOX as Dovecot would hold it (LF line
# ends, flags from the manifest in the file names, the internal date as
# mtime), then imports it into a fresh store for user `bench`, and again
# (every message already there: the cost of the dedup pass). Prints both
# rates and roost's summary lines. With DOVECOT=1 it then imports the same
# Maildir with `doveadm import` into a private Dovecot's mdbox (started by
# the harness's dovecot-ref.sh, user bench1) and prints that rate too.
#
#   bench/run-import.sh                 # COUNT=100000
#   COUNT=200 SKIP_BUILD=1 ROOST_BIN=target/debug/roost bench/run-import.sh
#
# Environment (defaults in brackets):
#   HARNESS [/work/shared/bench]  COUNT [100000]  SEED [1]
#   WORK [/tmp/bench-import]  ROOST_BIN [target/release/roost]
#   SKIP_BUILD (set to skip cargo build --release)
#   DOVECOT (set to 1 to measure `doveadm import` side by side; needs root)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
harness=${HARNESS:-/work/shared/bench}
count=${COUNT:-100000}
seed=${SEED:-1}
work=${WORK:-/tmp/bench-import}
roost=${ROOST_BIN:-$repo/target/release/roost}
log() { echo "[run-import] $*" >&2; }

if [ -z "${SKIP_BUILD:-}" ]; then
    log "building the release binary"
    (cd "$repo" && cargo build --release --locked)
fi

corpus=$work/corpus-$count-$seed
maildir=$work/maildir-$count-$seed
mkdir -p "$work"
if [ ! -f "$corpus/manifest.json" ]; then
    log "making a corpus of $count messages in $corpus"
    rm -rf "$corpus"
    python3 "$harness/make_corpus.py" --count "$count" --seed "$seed" --out "$corpus" >/dev/null
fi
if [ ! -f "$maildir/.complete" ]; then
    log "writing the Maildir $maildir"
    rm -rf "$maildir"
    python3 - "$corpus" "$maildir" <<'PY'
import datetime, json, os, sys
corpus, maildir = sys.argv[1], sys.argv[2]
m = json.load(open(os.path.join(corpus, "manifest.json")))
for sub in ("cur", "new", "tmp"):
    os.makedirs(os.path.join(maildir, sub))
letters = {1: "S", 2: "R", 4: "F"}
for i in range(m["count"]):
    t = int(datetime.datetime.strptime(m["dates_utc"][i], "%Y-%m-%dT%H:%M:%SZ")
            .replace(tzinfo=datetime.timezone.utc).timestamp())
    info = "".join(sorted(l for bit, l in letters.items() if m["flags"][i] & bit))
    with open(os.path.join(corpus, f"{i + 1:07d}.eml"), "rb") as f:
        data = f.read().replace(b"\r\n", b"\n")
    path = os.path.join(maildir, "cur", f"{t}.M{i}P1.bench,S={len(data)}:2,{info}")
    with open(path, "wb") as f:
        f.write(data)
    os.utime(path, (t, t))
open(os.path.join(maildir, ".complete"), "w").close()
PY
fi

data=$work/data
rm -rf "$data"
mkdir -p "$data"
printf 'benchpw' | "$roost" user add bench --password-stdin --data-dir "$data" >/dev/null

run() {
    local start end out
    start=$(date +%s.%N)
    # Exit 3 (something skipped) still measures; anything else stops here.
    out=$("$roost" import --user bench --maildir "$maildir" --data-dir "$data") || [ $? -eq 3 ]
    end=$(date +%s.%N)
    echo "$out" >&2
    python3 -c "import sys; n, s = int(sys.argv[1]), float(sys.argv[3]) - float(sys.argv[2]); \
print(f'{sys.argv[4]}: {n} messages in {s:.1f} s, {n / s:.0f} messages/s')" \
        "$count" "$start" "$end" "$1"
}

echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  nproc: $(nproc)  roost: $("$roost" --version)"
echo "corpus: $count messages, $(du -sh "$maildir" | cut -f1) Maildir"
run "first import"
run "again (all already there)"

if [ "${DOVECOT:-}" = 1 ]; then
    dov=$work/dovecot
    "$harness/dovecot-ref.sh" stop "$dov" >/dev/null 2>&1 || true
    rm -rf "$dov"
    "$harness/dovecot-ref.sh" start "$dov" 10143 >/dev/null
    # Dovecot writes its uidlist and index into a Maildir it reads, as
    # user vmail: it gets its own copy (not timed; mtimes kept).
    src=$work/maildir-dovecot
    rm -rf "$src"
    cp -a "$maildir" "$src"
    chown -R vmail:vmail "$src"
    dconf=$dov/dovecot.conf
    # `doveadm import` copies the messages with their flags and dates into
    # bench1's INBOX (destination parent ""). It has no dedup (run twice, it
    # copies twice), so only a first import compares.
    start=$(date +%s.%N)
    doveadm -c "$dconf" import -u bench1 "maildir:$src" "" all
    end=$(date +%s.%N)
    python3 -c "import sys; n, s = int(sys.argv[1]), float(sys.argv[3]) - float(sys.argv[2]); \
print(f'dovecot doveadm import: {n} messages in {s:.1f} s, {n / s:.0f} messages/s')" \
        "$count" "$start" "$end"
    doveadm -c "$dconf" mailbox status -u bench1 messages INBOX
    "$harness/dovecot-ref.sh" stop "$dov" >/dev/null
    rm -rf "$src"
fi
