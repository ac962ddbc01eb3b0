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
# clients; mbsync comes in the isync package; the admin panel is driven in
# headless chromium through chromium-driver).
apt_needed=()
command -v curl >/dev/null 2>&1 || apt_needed+=(curl)
command -v mbsync >/dev/null 2>&1 || apt_needed+=(isync)
command -v chromium >/dev/null 2>&1 || apt_needed+=(chromium)
command -v chromedriver >/dev/null 2>&1 || apt_needed+=(chromium-driver)
if [ "${#apt_needed[@]}" -gt 0 ]; then
    echo "installing: ${apt_needed[*]}"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq
    as_root apt-get install -y -qq --no-install-recommends "${apt_needed[@]}" >/dev/null
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

exec python3 -m pytest tests/integration -q
