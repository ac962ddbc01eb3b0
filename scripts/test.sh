#!/usr/bin/env bash
# Builds Roost, runs its unit tests, then the integration suite against the
# real binary. Installs what the tests need first (idempotent, quiet).
# Works on a fresh Debian 12 machine with the Rust toolchain, Python 3 + pip,
# gcc and root.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Debian packages the integration tests run (curl and mbsync are real IMAP
# clients; mbsync comes in the isync package; openssl makes certificates
# for the reload tests; the admin panel is driven in headless chromium
# through chromium-driver).
apt_needed=()
command -v curl >/dev/null 2>&1 || apt_needed+=(curl)
command -v mbsync >/dev/null 2>&1 || apt_needed+=(isync)
# Postfix delivers to Roost over LMTP in tests/integration/test_postfix.py,
# as its own throw-away instance; the system's is installed unconfigured.
postfix_new=0
if [ ! -x /usr/sbin/postfix ]; then
    apt_needed+=(postfix)
    postfix_new=1
    echo "postfix postfix/main_mailer_type select No configuration" | as_root debconf-set-selections
fi
command -v openssl >/dev/null 2>&1 || apt_needed+=(openssl)
# promtool (Debian's prometheus package) checks what /metrics serves in
# tests/integration/test_metrics.py; the Prometheus server it brings along
# must not keep running (it would hold port 9090).
prometheus_new=0
if ! command -v promtool >/dev/null 2>&1; then
    apt_needed+=(prometheus)
    prometheus_new=1
fi
# systemd-socket-activate and systemd-analyze (socket activation and unit
# checks), readelf (the packaged binary is stripped), adduser (the package's
# maintainer scripts): on Debian's images, but not on every minimal one.
command -v systemd-analyze >/dev/null 2>&1 || apt_needed+=(systemd)
command -v readelf >/dev/null 2>&1 || apt_needed+=(binutils)
command -v adduser >/dev/null 2>&1 || apt_needed+=(adduser)
command -v chromium >/dev/null 2>&1 || apt_needed+=(chromium)
command -v chromedriver >/dev/null 2>&1 || apt_needed+=(chromium-driver)
# Dovecot's imaptest (vendored in tests/third_party/imaptest) is built
# against Dovecot's headers and library; nothing of Dovecot is started.
dovecot_new=0
if [ ! -f /usr/include/dovecot/imap-parser.h ] || [ ! -d /usr/lib/dovecot ]; then
    apt_needed+=(dovecot-dev dovecot-core)
    dovecot_new=1
fi
command -v autoreconf >/dev/null 2>&1 || apt_needed+=(autoconf)
command -v automake >/dev/null 2>&1 || apt_needed+=(automake)
command -v libtoolize >/dev/null 2>&1 || apt_needed+=(libtool)
command -v make >/dev/null 2>&1 || apt_needed+=(make)
if [ "${#apt_needed[@]}" -gt 0 ]; then
    echo "installing: ${apt_needed[*]}"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq
    as_root apt-get install -y -qq --no-install-recommends "${apt_needed[@]}" >/dev/null
fi
# Never leave the system's Postfix running: the tests start their own.
if [ "$postfix_new" -eq 1 ] && as_root /usr/sbin/postfix status >/dev/null 2>&1; then
    as_root /usr/sbin/postfix stop >/dev/null 2>&1 || true
fi
# Nor a Dovecot the dovecot-core package may have started: only its
# library is wanted.
if [ "$dovecot_new" -eq 1 ]; then
    if [ -d /run/systemd/system ]; then
        as_root systemctl disable --now dovecot.service dovecot.socket >/dev/null 2>&1 || true
    elif [ -x /etc/init.d/dovecot ]; then
        as_root /etc/init.d/dovecot stop >/dev/null 2>&1 || true
    fi
fi
# Nor the Prometheus server the package starts and enables: only promtool
# is wanted.
if [ "$prometheus_new" -eq 1 ]; then
    if [ -d /run/systemd/system ]; then
        as_root systemctl disable --now prometheus.service >/dev/null 2>&1 || true
    elif [ -x /etc/init.d/prometheus ]; then
        as_root /etc/init.d/prometheus stop >/dev/null 2>&1 || true
    fi
fi

# Python packages, pinned. Skipped when the pinned versions are there; the
# environment variables let pip install into a Debian-managed Python as root
# (older pips ignore them).
req=tests/integration/requirements.txt
if ! python3 - "$req" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if line:
        name, want = line.split("==")
        if version(name) != want:
            sys.exit(1)
PY
then
    PIP_ROOT_USER_ACTION=ignore PIP_BREAK_SYSTEM_PACKAGES=1 \
        python3 -m pip install -q --disable-pip-version-check -r "$req"
fi

cargo build --locked
cargo test --locked

# The protocol core's fuzz targets, briefly (the first build takes ~2 min).
FUZZ_SECONDS="${FUZZ_SECONDS:-20}" scripts/fuzz-smoke.sh

target_dir="${CARGO_TARGET_DIR:-target}"
case "$target_dir" in /*) ;; *) target_dir="$PWD/$target_dir" ;; esac
export ROOST_BIN="${ROOST_BIN:-$target_dir/debug/roost}"
export IMAPTEST_DIR="${IMAPTEST_DIR:-$target_dir/imaptest}"
scripts/build-imaptest.sh "$IMAPTEST_DIR"

python3 -m pytest tests/integration -q

# The package: built from the release build, linted, installed on this
# machine, checked, upgraded over and purged. It changes the machine (CI's
# is a throw-away); SKIP_DEB_CHECK=1 leaves it out on a workstation.
if [ "${SKIP_DEB_CHECK:-}" != 1 ]; then
    scripts/deb-check.sh
fi
