#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ for a short while (FUZZ_SECONDS each,
# default 30) on stable Rust, without sanitizers (`-s none`), seeded with a
# few valid inputs and the IMAP (or LMTP, or MIME) dictionary. Exits non-zero if any target
# crashes; the input that did it is left under fuzz/artifacts/<target>/.
#
# Installs cargo-fuzz 0.13 when it is missing. The first build of the
# targets takes about two minutes on two cores.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds="${FUZZ_SECONDS:-30}"
targets=(parse_command framer auth_line lmtp_session mime_analysis)

if ! cargo fuzz --version 2>/dev/null | grep -q '^cargo-fuzz 0\.13\.'; then
    echo "fuzz-smoke: installing cargo-fuzz 0.13" >&2
    cargo install cargo-fuzz --locked --version '^0.13'
fi

# A seed input per file name, written only when missing: a corpus left by
# an earlier run is kept and grows.
seed() {
    local dir="fuzz/corpus/$1" name="$2"
    mkdir -p "$dir"
    [[ -e "$dir/$name" ]] || printf '%b' "$3" >"$dir/$name"
}

# One piece for the framer target: a length byte, then the bytes (< 128).
piece() {
    printf '\\x%02x%s' "$(printf '%b' "$1" | wc -c)" "$1"
}

seed parse_command login 'a001 LOGIN fred "pass word"\r\n'
seed parse_command login-literal 'A001 LOGIN {11}\r\nFRED FOOBAR {7+}\r\nfat man\r\n'
seed parse_command authenticate 'a AUTHENTICATE PLAIN AGZyZWQAc2VjcmV0\r\n'
seed parse_command select 'a SELECT "~peter/mail/&U,BTFw-/&ZeVnLIqe-"\r\n'
seed parse_command list 'a LIST "" %\r\n'
seed parse_command status 'a STATUS INBOX (MESSAGES UIDNEXT UNSEEN)\r\n'
seed parse_command append 'a APPEND INBOX (\\Seen) " 7-Jul-1996 02:44:25 -0700" {5}\r\nhello\r\n'
seed parse_command search-group 'a SEARCH (SEEN UNDELETED)\r\n'
seed parse_command search 'a UID SEARCH CHARSET UTF-8 OR (UNSEEN FROM a) NOT (1:3 UID 5,7:*) HEADER X-Foo "" SINCE 1-Feb-1994\r\n'
seed parse_command fetch 'a UID FETCH 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Subject Date)]<0.1024> BODY[1.2.MIME])\r\n'
seed parse_command store 'a STORE 2:4 +FLAGS.SILENT (\\Deleted $Junk)\r\n'
seed parse_command copy 'a UID COPY 1,3:* "Sent Items"\r\n'
seed parse_command id 'a ID ("name" "sodr" "version" NIL)\r\n'

limits='\x40\x20\x40\x40'
seed framer pipelined "$limits$(piece 'a1 NOOP\r\na2 LOGIN {3}\r\nabc {2+}\r\nxy\r\n')"
seed framer append "$limits$(piece 'a APPEND INBOX {10}\r\n')$(piece '0123456789\r\n')"
seed framer authenticate "$limits$(piece 'a AUTHENTICATE PLAIN\r\n')$(piece 'AGZyZWQAc2VjcmV0\r\nb NOOP\n')"
seed framer refused "$limits$(piece 'a LOGIN {999+}\r\n')$(piece 'xxxxxxxx\r\nb STARTTLS\r\nc NOOP\r\n')"
seed framer defaults "\xff\x00\x00\x00$(piece 'a SELECT INBOX\r\n')"

# lmtp_session: line limit byte, size byte, then length-prefixed pieces.
seed lmtp_session transaction "\x40\x40$(piece 'LHLO c\r\nMAIL FROM:<a@b.c> SIZE=9\r\n')$(piece 'RCPT TO:<abc@x.y>\r\nDATA\r\n')$(piece '..x\r\ny\n\0\r\n.\r\nQUIT\r\n')"

# mime_analysis: a whole message.
seed mime_analysis multipart 'From: a@b.c\r\nSubject: =?utf-8?q?h=C3=A9?=\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nh=C3=A9llo\r\n--x\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nbody\r\n--x--\r\n'
seed mime_analysis base64 'Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\naGVsbG8gd29ybGQ=\n'

seed auth_line plain 'AGZyZWQAc2VjcmV0'
seed auth_line cancel '*'

cd fuzz
echo "fuzz-smoke: building the targets" >&2
cargo fuzz build -s none

failed=()
for target in "${targets[@]}"; do
    echo "fuzz-smoke: $target for ${seconds}s" >&2
    dict=imap.dict
    [[ "$target" == lmtp_* ]] && dict=lmtp.dict
    [[ "$target" == mime_* ]] && dict=mime.dict
    if ! cargo fuzz run -s none "$target" -- \
        -max_total_time="$seconds" \
        -dict="$dict" \
        -max_len=4096 \
        -timeout=10 \
        -print_final_stats=1; then
        failed+=("$target")
    fi
done

if ((${#failed[@]})); then
    echo "fuzz-smoke: crashed: ${failed[*]} (inputs under fuzz/artifacts/)" >&2
    exit 1
fi
echo "fuzz-smoke: ${#targets[@]} targets ran ${seconds}s each without a crash" >&2
