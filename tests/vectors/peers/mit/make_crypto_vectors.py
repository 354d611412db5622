#!/usr/bin/env python3
"""Capture MIT krb5 GSS-API per-message tokens with their session keys, one file per enctype.

For each of the enctypes 17, 18, 19, 20 and 23 this writes ``gss-<etype>.json`` beside itself:
the key the per-message tokens are made with (read with the MIT extension
``GSS_C_INQ_SSPI_SESSION_KEY``, OID 1.2.840.113554.1.2.2.5.5, which returns the acceptor subkey
when there is one), and for several plaintexts a sealed Wrap, an integrity-only Wrap and a MIC in
each direction, plus (AES only) ``gss_wrap_iov`` tokens in the SSPI TOKEN|DATA|PADDING layout.
``tests/packages/kerberos/test_crypto.py`` decrypts and verifies every one of them.

How: a throwaway realm in a temp dir (own krb5.conf and kdc.conf, ``allow_rc4 = true``), a KDC
on 127.0.0.1 at a free high port, a user ``alice`` and one service principal per enctype whose
only key and ``session_enctypes`` have that enctype (so the KDC must pick it for the session
key), ``kinit``, then a python-gssapi initiator (its credential limited to the enctype with
``gss_krb5_set_allowable_enctypes``) and acceptor in this process. Every token is also
unwrapped or verified by the MIT peer, in order, so that each is known good. The KDC is
stopped and the temp dir removed on exit (``--keep`` keeps the dir).

Needs (Debian 12): krb5-kdc krb5-admin-server krb5-user, and python-gssapi (``pip install
gssapi``). Run from the repository root::

    .venv/bin/python tests/vectors/peers/mit/make_crypto_vectors.py [--out DIR] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REALM = "OPENSSPI.TEST"
ENCTYPES = {
    17: "aes128-cts-hmac-sha1-96",
    18: "aes256-cts-hmac-sha1-96",
    19: "aes128-cts-hmac-sha256-128",
    20: "aes256-cts-hmac-sha384-192",
    23: "arcfour-hmac",
}
PLAINTEXTS = [
    b"",
    b"x",
    b"fifteen bytes!!",
    b"sixteen bytes!!!",
    b"seventeen bytes!!",
    b"hello kerberos" * 3,
    bytes(range(100)),
]
USER, USER_PASSWORD = "alice", "alice-Passw0rd"
KRB5_MECH = "1.2.840.113554.1.2.2"
INQ_SSPI_SESSION_KEY = "1.2.840.113554.1.2.2.5.5"
ENCTYPE_OID_PREFIX = bytes.fromhex("2a864886f71201020204")  # 1.2.840.113554.1.2.2.4.<etype>


def free_port() -> int:
    """A port free on 127.0.0.1 for both TCP and UDP (racy, but the KDC starts right after)."""
    for _ in range(100):
        port = 20000 + secrets.randbelow(40000)
        try:
            with (
                socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp,
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp,
            ):
                tcp.bind(("127.0.0.1", port))
                udp.bind(("127.0.0.1", port))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port found on 127.0.0.1")


def write_config(tmp: Path, port: int) -> dict[str, str]:
    (tmp / "krb5.conf").write_text(
        f"""[libdefaults]
    default_realm = {REALM}
    dns_lookup_kdc = false
    dns_lookup_realm = false
    dns_canonicalize_hostname = false
    rdns = false
    default_ccache_name = FILE:{tmp}/ccache
    default_keytab_name = FILE:{tmp}/service.keytab
    # MIT >= 1.20 refuses rc4-hmac session keys unless this is set; the KDC reads it too.
    allow_rc4 = true
[realms]
    {REALM} = {{
        kdc = 127.0.0.1:{port}
    }}
[domain_realm]
    .test.local = {REALM}
    test.local = {REALM}
""",
        encoding="utf-8",
    )
    supported = " ".join(f"{name}:normal" for name in ENCTYPES.values())
    (tmp / "kdc.conf").write_text(
        f"""[kdcdefaults]
    kdc_listen = 127.0.0.1:{port}
    kdc_tcp_listen = 127.0.0.1:{port}
[realms]
    {REALM} = {{
        database_name = {tmp}/principal
        key_stash_file = {tmp}/stash
        acl_file = {tmp}/kadm5.acl
        max_life = 10h
        default_principal_flags = +preauth
        supported_enctypes = {supported}
    }}
[logging]
    kdc = FILE:{tmp}/kdc.log
""",
        encoding="utf-8",
    )
    (tmp / "kadm5.acl").write_text("", encoding="utf-8")
    return {
        "KRB5_CONFIG": str(tmp / "krb5.conf"),
        "KRB5_KDC_PROFILE": str(tmp / "kdc.conf"),
        "KRB5CCNAME": f"FILE:{tmp}/ccache",
        "KRB5_KTNAME": f"FILE:{tmp}/service.keytab",
    }


def run(args: list[str], env: dict[str, str], stdin: str | None = None) -> str:
    result = subprocess.run(
        args, input=stdin, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def kadmin(query: str, env: dict[str, str]) -> None:
    run(["kadmin.local", "-r", REALM, "-q", query], env)


def create_realm(tmp: Path, env: dict[str, str]) -> None:
    run(["kdb5_util", "create", "-s", "-r", REALM, "-P", secrets.token_hex(16)], env)
    kadmin(f"addprinc -pw {USER_PASSWORD} {USER}", env)
    for etype, name in ENCTYPES.items():
        principal = f"host/e{etype}.test.local"
        kadmin(f"addprinc -randkey -e {name}:normal {principal}", env)
        # Without this the KDC assumes every service can do aes-sha1 and picks 18 anyway.
        kadmin(f"setstr {principal} session_enctypes {name}", env)
        kadmin(f"ktadd -k {tmp}/service.keytab -e {name}:normal {principal}", env)


def start_kdc(tmp: Path, env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    log = (tmp / "kdc.stdout").open("wb")
    kdc = subprocess.Popen(["krb5kdc", "-n"], env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if kdc.poll() is not None:
            raise RuntimeError(f"krb5kdc exited: {(tmp / 'kdc.stdout').read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return kdc
        except OSError:
            time.sleep(0.05)
    kdc.terminate()
    raise RuntimeError("krb5kdc did not start listening")


def mit_version() -> str:
    try:
        out = subprocess.run(
            ["krb5-config", "--version"], capture_output=True, text=True, check=False
        ).stdout
    except OSError:
        out = ""
    return out.strip().replace("Kerberos 5 release", "MIT krb5") or "MIT krb5"


def capture(etype: int, peer: str) -> dict[str, Any]:
    import gssapi
    import gssapi.raw as graw

    rf = gssapi.RequirementFlag
    flags = (
        rf.mutual_authentication
        | rf.replay_detection
        | rf.out_of_sequence_detection
        | rf.confidentiality
        | rf.integrity
    )
    krb5 = gssapi.OID.from_int_seq(KRB5_MECH)
    target = gssapi.Name(f"host@e{etype}.test.local", gssapi.NameType.hostbased_service)
    # The acceptor picks its subkey's enctype from the initiator's RFC 4537 list: restrict the
    # initiator's credential to the one enctype, or every context ends up with 18.
    credential = gssapi.Credentials(usage="initiate", mechs=[krb5])
    graw.krb5_set_allowable_enctypes(credential, [etype])
    initiator = gssapi.SecurityContext(
        name=target, creds=credential, mech=krb5, flags=flags, usage="initiate"
    )
    acceptor = gssapi.SecurityContext(creds=gssapi.Credentials(usage="accept"), usage="accept")
    token = initiator.step()
    while not (initiator.complete and acceptor.complete):
        reply = acceptor.step(token)
        if initiator.complete:
            break
        token = initiator.step(reply)

    key, key_oid = graw.inquire_sec_context_by_oid(
        initiator, gssapi.OID.from_int_seq(INQ_SSPI_SESSION_KEY)
    )
    if key_oid[:-1] != ENCTYPE_OID_PREFIX or key_oid[-1] != etype:
        raise RuntimeError(f"session key enctype OID {key_oid.hex()} is not enctype {etype}")

    # MIT's gss_unwrap can decrypt its input in place, and python-gssapi hands it the bytes
    # object's own memory: every token is copied before a peer sees it.
    def fresh(data: bytes) -> bytes:
        return bytes(bytearray(data))

    entries: list[dict[str, Any]] = []
    sides = (("initiator", initiator, acceptor), ("acceptor", acceptor, initiator))
    for index, plaintext in enumerate(PLAINTEXTS):
        for sender, ours, theirs in sides:
            for conf in (True, False):
                wrapped = fresh(ours.wrap(plaintext, conf).message)
                unwrapped = theirs.unwrap(fresh(wrapped))
                assert unwrapped.message == plaintext and unwrapped.encrypted == conf
                entries.append(
                    {
                        "source": f"{peer} gss_wrap",
                        "name": f"wrap-{'conf' if conf else 'integ'}-{sender}-{index}",
                        "operation": "wrap",
                        "sender": sender,
                        "conf": conf,
                        "plaintext": plaintext.hex(),
                        "token": wrapped.hex(),
                    }
                )
            mic = fresh(ours.get_signature(plaintext))
            theirs.verify_signature(plaintext, fresh(mic))
            entries.append(
                {
                    "source": f"{peer} gss_get_mic",
                    "name": f"mic-{sender}-{index}",
                    "operation": "mic",
                    "sender": sender,
                    "plaintext": plaintext.hex(),
                    "token": mic.hex(),
                }
            )
    if etype != 23:
        # gss_wrap_iov with HEADER | DATA | PADDING: the SSPI EncryptMessage buffer layout.
        plaintext = b"sspi data 123"
        for conf in (True, False):
            iov = graw.IOV(
                graw.IOVBufferType.header, plaintext, graw.IOVBufferType.padding, std_layout=False
            )
            graw.wrap_iov(initiator, iov, confidential=conf)
            header = fresh(iov[0].value or b"")
            data = fresh(iov[1].value or b"")
            padding = fresh(iov[2].value or b"")
            check = graw.IOV(
                (graw.IOVBufferType.header, False, fresh(header)),
                (graw.IOVBufferType.data, False, fresh(data)),
                (graw.IOVBufferType.padding, False, fresh(padding)),
                std_layout=False,
            )
            graw.unwrap_iov(acceptor, check)
            assert bytes(check[1].value or b"") == plaintext
            entries.append(
                {
                    "source": f"{peer} gss_wrap_iov",
                    "name": f"wrap-iov-{'conf' if conf else 'integ'}-initiator",
                    "operation": "wrap_iov",
                    "sender": "initiator",
                    "conf": conf,
                    "plaintext": plaintext.hex(),
                    "header": header.hex(),
                    "data": data.hex(),
                    "padding": padding.hex(),
                }
            )
    return {
        "description": (
            f"GSS-API per-message tokens from {peer} for enctype {etype} ({ENCTYPES[etype]}), "
            "krb5 mechanism, each checked by the MIT peer when captured. session_key is the "
            "key the tokens use (GSS_C_INQ_SSPI_SESSION_KEY: the acceptor subkey if any). "
            "Tokens of one sender are in sending order; sequence numbers start at the "
            "context's initial number."
        ),
        "provenance": "tests/vectors/peers/mit/make_crypto_vectors.py",
        "peer": peer,
        "enctype": etype,
        "session_key": bytes(key).hex(),
        "session_key_oid": bytes(key_oid).hex(),
        "initiator_flags": int(initiator.actual_flags),
        "acceptor_flags": int(acceptor.actual_flags),
        "entries": entries,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    parser.add_argument("--keep", action="store_true", help="keep the temporary realm")
    args = parser.parse_args(argv)
    for tool in ("krb5kdc", "kdb5_util", "kadmin.local", "kinit"):
        if shutil.which(tool) is None and not Path("/usr/sbin", tool).exists():
            print(f"{tool} not found: apt-get install krb5-kdc krb5-admin-server krb5-user")
            return 2
    os.environ["PATH"] = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    tmp = Path(tempfile.mkdtemp(prefix="opensspi-mit-"))
    kdc: subprocess.Popen[bytes] | None = None
    try:
        port = free_port()
        files = write_config(tmp, port)
        env = dict(os.environ) | files
        create_realm(tmp, env)
        kdc = start_kdc(tmp, env, port)
        run(["kinit", USER], env, stdin=USER_PASSWORD + "\n")
        # python-gssapi reads the same files, through this process's environment.
        os.environ.update(files)
        peer = mit_version()
        args.out.mkdir(parents=True, exist_ok=True)
        for etype in ENCTYPES:
            document = capture(etype, peer)
            path = args.out / f"gss-{etype}.json"
            path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
            print(f"wrote {path} ({len(document['entries'])} tokens)")
    finally:
        if kdc is not None:
            kdc.terminate()
            try:
                kdc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                kdc.kill()
                kdc.wait()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
