#!/usr/bin/env bash
# Prepare a development environment for opensspi. Safe to run again: a warm run does no work.
#
#   scripts/setup.sh            .venv with the project (editable) and its test extra
#   scripts/setup.sh --peers    first install the Debian packages the real-peer tests need
#                               (and unpack the Heimdal KDC and kcm into .peers/heimdal/)
#
# Output is quiet; a failing step prints its full log and the command that failed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

PEERS=0
for arg in "$@"; do
    case "$arg" in
        --peers) PEERS=1 ;;
        -h | --help)
            sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "setup.sh: unknown argument '$arg' (try --help)" >&2
            exit 2
            ;;
    esac
done

# Debian packages behind the real peers (tests/interop): gss-ntlmssp, MIT krb5 (KDC and the
# headers python-gssapi builds against), Apache (with mod_auth_gssapi), Cyrus SASL, lighttpd,
# curl and a C toolchain.
PEER_PACKAGES=(
    gss-ntlmssp libkrb5-dev krb5-user krb5-kdc krb5-admin-server
    apache2 apache2-utils libapache2-mod-auth-gssapi sasl2-bin libsasl2-modules lighttpd curl
    build-essential
    # the Samba AD DC the tests provision (tests/interop/peers/samba_dc.py); ldb-tools for
    # ldbmodify, ldap-utils for ldapsearch when debugging it by hand
    samba-ad-dc samba-dsdb-modules winbind ldb-tools ldap-utils
    # openssl s_server / s_client: the Schannel package's real TLS peers
    openssl
    # the non-Heimdal libraries the unpacked Heimdal KDC links against (see fetch_heimdal)
    libcap-ng0 libcom-err2 libcrypt1 libdb5.3 libedit2 libldap-2.5-0 libsqlite3-0
)
# Heimdal, the second KDC (tests/interop/peers/heimdal_kdc.py), and its kcm credential cache
# daemon (tests/interop/peers/heimdal_kcm.py). heimdal-kdc conflicts with krb5-kdc and
# heimdal-clients with krb5-user, so these .debs are unpacked (dpkg-deb -x) into .peers/heimdal/
# instead of installed; the tests run them with LD_LIBRARY_PATH.
HEIMDAL_DEBS=(
    heimdal-kdc heimdal-clients heimdal-kcm
    libkdc2-heimdal libhdb9-heimdal libkadm5srv8-heimdal libkadm5clnt7-heimdal libsl0-heimdal
    libkafs0-heimdal libotp0-heimdal libroken19-heimdal libasn1-8-heimdal libheimbase1-heimdal
    libhcrypto5-heimdal libwind0-heimdal libhx509-5-heimdal libkrb5-26-heimdal
    libheimntlm0-heimdal libgssapi3-heimdal
)
# Installed without their Recommends: SSSD's KCM server alone (tests/interop/peers/kcm_servers.py
# runs it without systemd; the packaged service is kept from starting), not all of sssd.
PEER_PACKAGES_LEAN=(sssd-kcm)
HEIMDAL_DIR="$ROOT/.peers/heimdal"
VENV="$ROOT/.venv"
STAMP="$VENV/.opensspi-setup"
LOG=$(mktemp "${TMPDIR:-/tmp}/opensspi-setup.XXXXXX")
POLICY_RC=/usr/sbin/policy-rc.d
POLICY_RC_OURS=0

cleanup() {
    rm -f "$LOG"
    if [ "$POLICY_RC_OURS" = 1 ]; then rm -f "$POLICY_RC"; fi
}
trap cleanup EXIT

say() { echo "setup: $*"; }

# Run a command with its output in $LOG; on failure show that output and stop.
quiet() {
    local rc=0
    "$@" >"$LOG" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ]; then
        cat "$LOG" >&2
        echo "setup: FAILED (exit $rc): $*" >&2
        exit "$rc"
    fi
}

missing_packages() {
    local pkg
    for pkg in "${PEER_PACKAGES[@]}" "${PEER_PACKAGES_LEAN[@]}"; do
        if ! dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q '^install ok installed$'; then
            echo "$pkg"
        fi
    done
}

install_peers() {
    if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
        say "no apt-get here: install the equivalents of" \
            "${PEER_PACKAGES[*]} ${PEER_PACKAGES_LEAN[*]} yourself"
        return 0
    fi
    local missing
    mapfile -t missing < <(missing_packages)
    if [ "${#missing[@]}" -eq 0 ]; then
        return 0
    fi
    if [ "$(id -u)" -ne 0 ]; then
        say "not root, cannot install: ${missing[*]}"
        say "run: sudo apt-get install ${missing[*]}   (real-peer tests fail under CI=true without them)"
        return 0
    fi
    say "installing Debian packages: ${missing[*]}"
    # The peers are started by the tests on 127.0.0.1; the system daemons must not start.
    if [ ! -e "$POLICY_RC" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$POLICY_RC"
        chmod 755 "$POLICY_RC"
        POLICY_RC_OURS=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    local apt=(apt-get -q -y -o DPkg::Lock::Timeout=600)
    quiet "${apt[@]}" update
    local pkg lean=() full=()
    for pkg in "${missing[@]}"; do
        if [[ " ${PEER_PACKAGES_LEAN[*]} " == *" $pkg "* ]]; then
            lean+=("$pkg")
        else
            full+=("$pkg")
        fi
    done
    if [ "${#full[@]}" -gt 0 ]; then quiet "${apt[@]}" install "${full[@]}"; fi
    if [ "${#lean[@]}" -gt 0 ]; then
        quiet "${apt[@]}" install --no-install-recommends "${lean[@]}"
    fi
}

# Unpack the Heimdal .debs into $HEIMDAL_DIR once; a warm run only looks at the stamp file.
fetch_heimdal() {
    local stamp="$HEIMDAL_DIR/.opensspi-heimdal"
    if [ -f "$stamp" ] && [ -x "$HEIMDAL_DIR/usr/lib/heimdal-servers/kdc" ] &&
        [ -x "$HEIMDAL_DIR/usr/sbin/kcm" ]; then
        return 0
    fi
    if ! command -v apt-get >/dev/null || ! command -v dpkg-deb >/dev/null; then
        say "no apt-get/dpkg-deb here: the Heimdal KDC tests will not run"
        return 0
    fi
    say "unpacking Heimdal (${#HEIMDAL_DEBS[@]} .debs) into .peers/heimdal/"
    mkdir -p "$ROOT/.peers"
    rm -rf "$ROOT/.peers"/.heimdal.* # left by an interrupted run
    local work
    work=$(mktemp -d "$ROOT/.peers/.heimdal.XXXXXX")
    # apt-get download warns (not fails) that _apt cannot write to a root-owned directory.
    if ! (cd "$work" && apt-get -q download "${HEIMDAL_DEBS[@]}") >"$LOG" 2>&1; then
        if [ "$(id -u)" -eq 0 ]; then
            quiet apt-get -q -y -o DPkg::Lock::Timeout=600 update
            if ! (cd "$work" && apt-get -q download "${HEIMDAL_DEBS[@]}") >"$LOG" 2>&1; then
                cat "$LOG" >&2
                rm -rf "$work"
                echo "setup: FAILED: apt-get download ${HEIMDAL_DEBS[*]}" >&2
                exit 1
            fi
        else
            cat "$LOG" >&2
            rm -rf "$work"
            say "could not download the Heimdal .debs (not root, so no apt-get update)"
            return 0
        fi
    fi
    local deb
    for deb in "$work"/*.deb; do
        quiet dpkg-deb -x "$deb" "$work/root"
    done
    local libdir
    libdir=$(dirname "$(find "$work/root/usr/lib" -name 'libkdc.so.*' -print -quit)")
    quiet env LD_LIBRARY_PATH="$libdir" "$work/root/usr/lib/heimdal-servers/kdc" --version
    quiet env LD_LIBRARY_PATH="$libdir" "$work/root/usr/sbin/kcm" --version
    (cd "$work" && ls -1 -- *.deb) >"$work/root/.opensspi-heimdal"
    rm -rf "$HEIMDAL_DIR"
    mv "$work/root" "$HEIMDAL_DIR"
    rm -rf "$work"
}

# The fingerprint of what the venv was built from; a change re-runs pip.
fingerprint() {
    {
        cat pyproject.toml
        "$VENV/bin/python" -VV
        command -v krb5-config || echo "no krb5-config"
    } | sha256sum | cut -d' ' -f1
}

install_venv() {
    if [ ! -x "$VENV/bin/python" ]; then
        say "creating $VENV"
        quiet python3 -m venv "$VENV"
    fi
    local want
    want=$(fingerprint)
    local modules="opensspi pytest hypothesis mypy ruff spnego requests"
    if command -v krb5-config >/dev/null; then modules="$modules gssapi"; fi
    # find_spec, not import: a half-written opensspi must not force a reinstall.
    if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] &&
        "$VENV/bin/python" -c 'import sys, importlib.util as u
sys.exit(any(u.find_spec(m) is None for m in sys.argv[1:]))' $modules 2>/dev/null; then
        return 0
    fi
    rm -f "$STAMP"
    local pip=("$VENV/bin/python" -m pip --disable-pip-version-check)
    say "installing opensspi (editable) with the test extra into .venv"
    quiet "${pip[@]}" install --upgrade pip setuptools wheel
    if command -v krb5-config >/dev/null; then
        quiet "${pip[@]}" install -e ".[test]"
    else
        # python-gssapi ships no Linux wheel; it compiles against the MIT krb5 headers.
        say "krb5-config not found: skipping gssapi (install libkrb5-dev, or run with --peers)"
        quiet "${pip[@]}" install -e .
        local extras
        extras=$("$VENV/bin/python" - <<'PY'
import re
from importlib.metadata import requires

for req in requires("opensspi") or []:
    name, _, marker = req.partition(";")
    if re.search(r"""extra\s*==\s*["']test["']""", marker) and not name.strip().startswith("gssapi"):
        print(name.replace(" ", ""))
PY
        )
        # shellcheck disable=SC2086  # one requirement per word
        quiet "${pip[@]}" install $extras
    fi
    echo "$want" >"$STAMP"
}

if [ "$PEERS" = 1 ]; then
    install_peers
    fetch_heimdal
fi
install_venv
