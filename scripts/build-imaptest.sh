#!/usr/bin/env bash
# Builds the vendored imaptest (tests/third_party/imaptest) into DIR:
#   DIR/imaptest   the binary          DIR/tests/   its scripts and mboxes
# Needs Debian's dovecot-dev, dovecot-core (libdovecot at run time),
# autoconf, automake, libtool, make and a C compiler; scripts/test.sh
# installs them. Does nothing if DIR/imaptest is there and runs.
#
#   scripts/build-imaptest.sh [DIR]        default DIR: target/imaptest
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$repo/target/imaptest}
tarball=$repo/tests/third_party/imaptest/imaptest-release-2.3.tar.gz

if [ -x "$dir/imaptest" ] && [ -d "$dir/tests" ] && "$dir/imaptest" --help >/dev/null 2>&1; then
    exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -xzf "$tarball" -C "$work"
src=$work/imaptest-release-2.3
# Debian's Dovecot 2.3.19 has a security fix that added a fourth argument
# (parser parameters) to imap_parser_create(); NULL keeps the defaults.
if grep -q 'imap_parser_params' /usr/include/dovecot/imap-parser.h; then
    sed -i 's/imap_parser_create(\(.*\), (size_t)-1);/imap_parser_create(\1, (size_t)-1, NULL);/' \
        "$src/src/commands.c" "$src/src/imap-client.c" "$src/src/test-parser.c"
fi
(
    cd "$src"
    ./autogen.sh >/dev/null 2>&1
    ./configure -q --with-dovecot=/usr/lib/dovecot LDFLAGS="-Wl,-rpath,/usr/lib/dovecot" >/dev/null
    make -s -j"$(nproc)" >/dev/null 2>&1 || make -j"$(nproc)"
)
mkdir -p "$dir"
install -m755 "$src/src/imaptest" "$dir/imaptest"
rm -rf "$dir/tests"
cp -r "$src/src/tests" "$dir/tests"
echo "imaptest built in $dir"
