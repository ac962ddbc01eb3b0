#!/usr/bin/env bash
# Builds the .deb from the release build, checks it with lintian, installs it
# on this machine, checks what it installed and that the installed commands
# work, upgrades over it, then purges it again.
#
# It changes the machine (a system user, /etc/roost, /var/lib/roost, the
# unit): run it on a throw-away machine such as CI's. It refuses to run
# where a roost package is already installed, and removes what it created.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# dpkg -i and friends: root only.
if [ "$(id -u)" -ne 0 ]; then
    exec sudo "$0" "$@"
fi
fail() {
    echo "deb-check: FAILED: $*" >&2
    exit 1
}
step() { echo "deb-check: $*"; }

if dpkg-query -W -f='${Status}' roost 2>/dev/null | grep -q "installed"; then
    fail "a roost package is installed on this machine; not touching it"
fi

# Tools: lintian from Debian, cargo-deb 3.x from crates.io (a few minutes,
# once per machine).
if ! command -v lintian >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends lintian >/dev/null
fi
if ! cargo deb --version >/dev/null 2>&1; then
    step "installing cargo-deb"
    cargo install cargo-deb --locked --version '^3.8' --quiet
fi

target_dir="${CARGO_TARGET_DIR:-target}"
rm -f "$target_dir"/debian/roost_*.deb "$target_dir"/debian/roost-dbgsym_*.ddeb
step "building the package (release build)"
cargo deb --locked --quiet >/dev/null
deb=$(ls "$target_dir"/debian/roost_*.deb)
step "built $deb ($(du -h "$deb" | cut -f1))"

# Lintian: errors fail the stage; warnings are shown.
lintian --fail-on error --tag-display-limit 0 "$deb" || fail "lintian reports errors"

# The binary in the package is stripped: no DWARF left.
unpacked=$(mktemp -d)
trap 'rm -rf "$unpacked"' EXIT
dpkg-deb -x "$deb" "$unpacked"
if readelf -S "$unpacked/usr/bin/roost" | grep -q '\.debug_info'; then
    fail "usr/bin/roost still carries debug information"
fi
size=$(stat -c %s "$unpacked/usr/bin/roost")
step "usr/bin/roost is stripped ($((size / 1024 / 1024)) MiB)"
help=$("$unpacked/usr/bin/roost" --help)
for cmd in serve user index deliver backup restore admin; do
    grep -qE "^  $cmd( |$)" <<<"$help" || fail "roost --help does not list '$cmd'"
done

had_user=no
getent passwd roost >/dev/null && had_user=yes
had_data=no
[ -e /var/lib/roost ] && had_data=yes

serve_pid=
cleanup() {
    if [ -n "$serve_pid" ]; then kill "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; fi
    dpkg --purge roost >/dev/null 2>&1 || true
    [ "$had_data" = no ] && rm -rf /var/lib/roost
    if [ "$had_user" = no ] && getent passwd roost >/dev/null; then
        deluser --system --quiet roost >/dev/null 2>&1 || true
        delgroup --system --quiet roost >/dev/null 2>&1 || true
    fi
    rm -rf "$unpacked"
}
trap cleanup EXIT

# Install. This machine may have no running systemd (CI, containers): the
# maintainer scripts must not fail then.
step "dpkg -i"
dpkg -i "$deb" >/dev/null

getent passwd roost | grep -q ':/var/lib/roost:/usr/sbin/nologin$' || fail "the roost user: $(getent passwd roost)"
[ "$(stat -c '%U:%G %a' /var/lib/roost)" = "roost:roost 700" ] || fail "/var/lib/roost: $(stat -c '%U:%G %a' /var/lib/roost)"
[ "$(stat -c '%U:%G %a' /etc/roost/roost.toml)" = "root:roost 640" ] || fail "/etc/roost/roost.toml: $(stat -c '%U:%G %a' /etc/roost/roost.toml)"
dpkg-query -W -f='${Conffiles}\n' roost | grep -q '/etc/roost/roost.toml' || fail "/etc/roost/roost.toml is not a conffile"
unit=$(dpkg -L roost | grep '/systemd/system/roost.service$') || fail "no unit installed"
sockets="$(dirname "$unit")/roost-imap.socket $(dirname "$unit")/roost-imaps.socket"
# shellcheck disable=SC2086
systemd-analyze verify "$unit" $sockets || fail "systemd-analyze verify $unit $sockets"
exposure=$(systemd-analyze security --offline=true "$unit" 2>/dev/null | sed -n 's/.*exposure level for roost.service: \([0-9.]*\).*/\1/p')
step "unit $unit verified; exposure $exposure"
if [ "$(systemctl is-enabled roost 2>/dev/null || true)" = enabled ]; then
    fail "the package enabled the service by itself"
fi

# The installed commands find the installed configuration and, run as
# root, leave the store to the roost user.
step "roost user add as root, without --config"
printf 'pw-alice\n' | /usr/bin/roost user add alice --password-stdin >/dev/null
/usr/bin/roost user list | grep -qx alice || fail "user list does not show alice"
if [ -n "$(find /var/lib/roost ! -user roost)" ]; then
    fail "root-owned files in /var/lib/roost: $(find /var/lib/roost ! -user roost)"
fi

# The server as the unit runs it (user roost, the packaged config), on
# loopback ports of its own.
step "roost serve as the roost user"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port)
admin_port=$(free_port)
lmtp_sock=/var/lib/roost/lmtp.sock
setpriv --reuid=roost --regid=roost --init-groups -- \
    /usr/bin/roost serve --config /etc/roost/roost.toml --imap "127.0.0.1:$port" --imaps "" \
    --lmtp "unix:$lmtp_sock" --admin "127.0.0.1:$admin_port" \
    >/dev/null 2>"$unpacked/serve.log" &
serve_pid=$!
# A delivery over the LMTP socket, read back over IMAP; the panel answers.
python3 - "$port" "$lmtp_sock" "$admin_port" <<'PY' || { cat "$unpacked/serve.log" >&2; fail "the installed server: IMAP, LMTP or the panel"; }
import imaplib, smtplib, sys, time, urllib.request
port, sock, admin = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
deadline = time.monotonic() + 20
while True:
    try:
        c = imaplib.IMAP4("127.0.0.1", port)
        lmtp = smtplib.LMTP(sock)
        break
    except OSError:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.1)
lmtp.sendmail("sender@example.org", ["alice@example.org"], b"Subject: packaged\r\n\r\nhello\r\n")
lmtp.quit()
c.login("alice", "pw-alice")
c.select("INBOX")
typ, data = c.search(None, "SUBJECT", "packaged")
assert typ == "OK" and data[0].split(), data
c.logout()
with urllib.request.urlopen(f"http://127.0.0.1:{admin}/login", timeout=10) as r:
    assert r.status == 200, r.status
PY
kill -TERM "$serve_pid"
rc=0
wait "$serve_pid" || rc=$?
serve_pid=
[ "$rc" -eq 0 ] || { cat "$unpacked/serve.log" >&2; fail "roost serve exited $rc on SIGTERM"; }

# Upgrade over the installed package: data and a changed config stay.
step "upgrade (dpkg -i again) keeps data and config"
echo "# changed by the admin" | tee -a /etc/roost/roost.toml >/dev/null
dpkg -i --force-confold "$deb" >/dev/null
grep -q '^# changed by the admin$' /etc/roost/roost.toml || fail "the upgrade replaced the changed config"
/usr/bin/roost user list | grep -qx alice || fail "the upgrade lost the store"

# Purge: config goes, the mail store stays (see postrm).
step "dpkg --purge"
dpkg --purge roost >/dev/null 2>&1
[ ! -e /etc/roost/roost.toml ] || fail "purge left /etc/roost/roost.toml"
[ ! -e /usr/bin/roost ] || fail "purge left /usr/bin/roost"
[ -f /var/lib/roost/store/data.mdb ] || fail "purge deleted the mail store"
step "passed"
