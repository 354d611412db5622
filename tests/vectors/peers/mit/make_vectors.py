"""Capture real Kerberos and SPNEGO tokens from MIT krb5 as JSON vectors.

What it does, all on 127.0.0.1 and in a temporary directory that is removed at exit:

1. creates a throwaway realm ``TEST.LOCAL`` (``kdb5_util``, ``kadmin.local``): user ``alice``
   (password ``alicepw``), services ``host/server.test.local`` and ``HTTP/server.test.local``
   (random keys, ``+ok_as_delegate``), AES-SHA1 keys only (etypes 18 and 17);
2. starts ``krb5kdc`` on a free high port and, in front of it, a small TCP proxy in this process
   (the client's ``krb5.conf`` points at the proxy and forces TCP), which records every request
   and reply byte for byte;
3. runs ``kinit`` (AS-REQ, KRB-ERROR PREAUTH_REQUIRED with ETYPE-INFO2, AS-REQ with
   PA-ENC-TIMESTAMP, AS-REP), a wrong password and an unknown client (more KRB-ERRORs), then
   python-gssapi initiator/acceptor pairs in child processes: plain krb5 with mutual auth,
   krb5 with delegation (TGS-REQ for a forwarded TGT; KRB-CRED in the authenticator),
   DCE style (unframed AP-REQ, AP-REP, AP-REP), SPNEGO, MIT's SPNEGO acceptor answering a
   Windows-style NegTokenInit, and an unknown service (TGS KRB-ERROR);
4. exports every key with ``kadmin.local ktadd -norandkey`` and decrypts every encrypted part
   it can (RFC 3962 AES-CTS-HMAC-SHA1, implemented below with ``cryptography`` as test
   scaffolding), so the plaintexts (EncTicketPart, Authenticator, EncASRepPart, ...) become
   vectors too; a plaintext is only kept when its HMAC verified;
5. writes ``realm.json`` (passwords and keys), ``kdc.json``, ``ap.json`` and ``spnego.json``
   beside this script. Each entry has ``name``, ``source``, ``type`` and ``hex``; decrypted
   entries add ``decrypted_from``, ``key_usage`` and ``key``.

Run it from the repository root with the project venv (python-gssapi must be installed)::

    .venv/bin/python tests/vectors/peers/mit/make_vectors.py [--out DIR] [--keep]

It needs ``krb5kdc``, ``kdb5_util``, ``kadmin.local``, ``kinit`` and ``klist`` (Debian:
``krb5-kdc krb5-admin-server krb5-user``). Every run makes new keys, nonces and timestamps, so the
committed JSON files are one capture; re-running replaces them.

The realm, passwords and keys are throwaway test values, published on purpose so that the
encrypted parts can be checked later.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from math import lcm
from pathlib import Path
from typing import Any

REALM = "TEST.LOCAL"
PASSWORD = "alicepw"
SERVICES = ("host/server.test.local", "HTTP/server.test.local")
HERE = Path(__file__).resolve().parent
KRB5_OID = "1.2.840.113554.1.2.2"
MS_KRB5_OID = "1.2.840.48018.1.2.2"
NTLM_OID = "1.3.6.1.4.1.311.2.2.10"
ETYPE_NAMES = {"aes256-cts-hmac-sha1-96": 18, "aes128-cts-hmac-sha1-96": 17}


# ---------------------------------------------------------------------------------------------
# RFC 3961 / RFC 3962 decryption (test scaffolding only: the product has its own crypto)
# ---------------------------------------------------------------------------------------------


def _aes_ecb(key: bytes, block: bytes, decrypt: bool = False) -> bytes:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    cipher = Cipher(algorithms.AES(key), modes.ECB())
    ctx = cipher.decryptor() if decrypt else cipher.encryptor()
    return ctx.update(block) + ctx.finalize()


def nfold(data: bytes, size: int) -> bytes:
    """RFC 3961 §5.1 n-fold: replicate with 13-bit right rotations, add in one's complement."""
    bits = len(data) * 8
    value = int.from_bytes(data, "big")
    mask = (1 << bits) - 1
    total = lcm(len(data), size)
    stream = b""
    for i in range(total // len(data)):
        shift = (13 * i) % bits
        rotated = ((value >> shift) | (value << (bits - shift))) & mask
        stream += rotated.to_bytes(len(data), "big")
    acc = 0
    for i in range(0, total, size):
        acc += int.from_bytes(stream[i : i + size], "big")
    width = size * 8
    while acc >> width:
        acc = (acc & ((1 << width) - 1)) + (acc >> width)
    return acc.to_bytes(size, "big")


def derive(key: bytes, constant: bytes) -> bytes:
    """RFC 3961 §5.1 DK for AES (random-to-key is the identity)."""
    block = constant if len(constant) == 16 else nfold(constant, 16)
    out = b""
    while len(out) < len(key):
        block = _aes_ecb(key, block)
        out += block
    return out[: len(key)]


def string_to_key(password: str, salt: bytes, iterations: int, size: int) -> bytes:
    """RFC 3962 §4: DK(PBKDF2-HMAC-SHA1(password, salt, iterations), "kerberos")."""
    seed = hashlib.pbkdf2_hmac("sha1", password.encode(), salt, iterations, size)
    return derive(seed, b"kerberos")


def _cts_decrypt(key: bytes, data: bytes) -> bytes:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    if len(data) == 16:
        return _aes_ecb(key, data, decrypt=True)
    blocks = (len(data) + 15) // 16
    head = data[: 16 * (blocks - 2)]
    last_full = data[16 * (blocks - 2) : 16 * (blocks - 1)]
    tail = data[16 * (blocks - 1) :]
    previous = head[-16:] if head else bytes(16)
    plain_head = b""
    if head:
        ctx = Cipher(algorithms.AES(key), modes.CBC(bytes(16))).decryptor()
        plain_head = ctx.update(head) + ctx.finalize()
    decrypted = _aes_ecb(key, last_full, decrypt=True)
    plain_last = bytes(a ^ b for a, b in zip(decrypted[: len(tail)], tail, strict=True))
    second = _aes_ecb(key, tail + decrypted[len(tail) :], decrypt=True)
    plain_second = bytes(a ^ b for a, b in zip(second, previous, strict=True))
    return plain_head + plain_second + plain_last


def decrypt(key: bytes, usage: int, cipher: bytes) -> bytes | None:
    """RFC 3962 decryption of an AES-SHA1 EncryptedData cipher; ``None`` if the HMAC fails."""
    ke = derive(key, struct.pack(">I", usage) + b"\xaa")
    ki = derive(key, struct.pack(">I", usage) + b"\x55")
    body, mac = cipher[:-12], cipher[-12:]
    if len(body) < 16:
        return None
    plain = _cts_decrypt(ke, body)
    if not hmac.compare_digest(hmac.new(ki, plain, hashlib.sha1).digest()[:12], mac):
        return None
    return plain[16:]


def self_test() -> None:
    """RFC 3961 A.1 n-fold and RFC 3962 App. B string-to-key (before trusting the code)."""
    assert nfold(b"012345", 8).hex() == "be072631276b1955"
    assert nfold(b"password", 21).hex() == "59e4a8ca7c0385c3c37b3f6d2000247cb6e6bd5b3e"
    key = string_to_key("password", b"ATHENA.MIT.EDUraeburn", 1, 16)
    assert key.hex() == "42263c6e89f4fc28b8df68ee09799f15", key.hex()


# ---------------------------------------------------------------------------------------------
# The capturing TCP proxy (RFC 4120 §7.2.2: 4-byte big-endian length, then the message)
# ---------------------------------------------------------------------------------------------


class Proxy:
    """Relays KDC traffic over TCP and records each (request, reply) under the current label."""

    def __init__(self, kdc_port: int) -> None:
        self.kdc_port = kdc_port
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.label = "start"
        self.records: list[tuple[str, bytes, bytes]] = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    @staticmethod
    def _read(sock: socket.socket) -> bytes | None:
        head = b""
        while len(head) < 4:
            chunk = sock.recv(4 - len(head))
            if not chunk:
                return None
            head += chunk
        (length,) = struct.unpack(">I", head)
        body = b""
        while len(body) < length:
            chunk = sock.recv(length - len(body))
            if not chunk:
                return None
            body += chunk
        return body

    def _relay(self, client: socket.socket) -> None:
        with client:
            while True:
                request = self._read(client)
                if request is None:
                    return
                with socket.create_connection(("127.0.0.1", self.kdc_port), timeout=10) as kdc:
                    kdc.sendall(struct.pack(">I", len(request)) + request)
                    reply = self._read(kdc)
                if reply is None:
                    return
                with self.lock:
                    self.records.append((self.label, request, reply))
                client.sendall(struct.pack(">I", len(reply)) + reply)

    def close(self) -> None:
        self.sock.close()


# ---------------------------------------------------------------------------------------------
# The realm
# ---------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def run(cmd: list[str], env: dict[str, str], stdin: str | None = None, check: bool = True) -> str:
    result = subprocess.run(
        cmd, env=env, input=stdin, capture_output=True, text=True, timeout=60, check=False
    )
    if check and result.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {result.stderr.strip()}")
    return result.stdout + result.stderr


@contextmanager
def realm(tmp: Path) -> Iterator[tuple[dict[str, str], Proxy]]:
    """A running KDC and proxy; yields the client environment and the proxy."""
    kdc_port = free_port()
    (tmp / "kdc.conf").write_text(
        f"""[kdcdefaults]
    kdc_listen = 127.0.0.1:{kdc_port}
    kdc_tcp_listen = 127.0.0.1:{kdc_port}
[realms]
    {REALM} = {{
        database_name = {tmp}/principal
        key_stash_file = {tmp}/stash
        acl_file = {tmp}/kadm5.acl
        max_life = 10h
        max_renewable_life = 7d
        master_key_type = aes256-cts-hmac-sha1-96
        default_principal_flags = +preauth +forwardable
        supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
    }}
[logging]
    kdc = FILE:{tmp}/kdc.log
"""
    )
    (tmp / "kadm5.acl").write_text("")
    proxy = Proxy(kdc_port)
    (tmp / "krb5.conf").write_text(
        f"""[libdefaults]
    default_realm = {REALM}
    dns_lookup_kdc = false
    dns_lookup_realm = false
    dns_canonicalize_hostname = false
    rdns = false
    forwardable = true
    udp_preference_limit = 1
    ticket_lifetime = 10h
[realms]
    {REALM} = {{
        kdc = 127.0.0.1:{proxy.port}
    }}
[domain_realm]
    .test.local = {REALM}
    test.local = {REALM}
"""
    )
    env = dict(os.environ)
    env.update(
        KRB5_CONFIG=str(tmp / "krb5.conf"),
        KRB5_KDC_PROFILE=str(tmp / "kdc.conf"),
        KRB5CCNAME=f"FILE:{tmp}/ccache",
        KRB5_KTNAME=f"FILE:{tmp}/service.keytab",
    )
    run(["kdb5_util", "create", "-s", "-r", REALM, "-P", "masterpw"], env)
    run(["kadmin.local", "-q", f"addprinc -pw {PASSWORD} alice"], env)
    for service in SERVICES:
        run(["kadmin.local", "-q", f"addprinc -randkey +ok_as_delegate {service}"], env)
    kdc = subprocess.Popen(
        ["krb5kdc", "-n", "-P", str(tmp / "kdc.pid")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", kdc_port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or kdc.poll() is not None:
                    raise SystemExit("krb5kdc did not start; see kdc.log") from None
                time.sleep(0.05)
        yield env, proxy
    finally:
        proxy.close()
        kdc.terminate()
        kdc.wait(timeout=10)


def export_keys(tmp: Path, env: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    """Every principal's keys, read back with ``klist -kKe`` from a ``-norandkey`` keytab."""
    keytab = tmp / "all.keytab"
    principals = ["alice", f"krbtgt/{REALM}", *SERVICES]
    for principal in principals:
        run(["kadmin.local", "-q", f"ktadd -norandkey -k {keytab} {principal}"], env)
    shutil.copy(keytab, tmp / "service.keytab")
    listing = run(["klist", "-k", "-K", "-e", str(keytab)], env)
    keys: dict[str, list[dict[str, Any]]] = {}
    pattern = re.compile(r"^\s*(\d+)\s+(\S+)@\S+\s+\((\S+)\)\s+\(0x([0-9a-f]+)\)", re.M)
    for kvno, name, etype, key in pattern.findall(listing):
        keys.setdefault(name, []).append(
            {"kvno": int(kvno), "etype": ETYPE_NAMES[etype], "hex": key}
        )
    return keys


# ---------------------------------------------------------------------------------------------
# GSS phases (run as child processes: python-gssapi reads KRB5_CONFIG from the environment)
# ---------------------------------------------------------------------------------------------


def gss_child(phase: str, out: str) -> None:
    import gssapi
    from gssapi.raw.misc import GSSError

    krb5 = gssapi.OID.from_int_seq(KRB5_OID)
    spnego = gssapi.OID.from_int_seq("1.3.6.1.5.5.2")
    rf = gssapi.RequirementFlag
    flags = int(
        rf.mutual_authentication
        | rf.replay_detection
        | rf.out_of_sequence_detection
        | rf.confidentiality
        | rf.integrity
    )
    service = "nosuch@server.test.local" if phase == "unknown-service" else "host@server.test.local"
    target = gssapi.Name(service, gssapi.NameType.hostbased_service)
    tokens: list[tuple[str, str]] = []

    def pump(initiator: Any, acceptor: Any) -> None:
        token = None
        while not (initiator.complete and acceptor.complete):
            token = initiator.step(token)
            if not token:
                break
            tokens.append(("initiator", bytes(bytearray(token)).hex()))
            token = acceptor.step(bytes(bytearray(token)))
            if token:
                tokens.append(("acceptor", bytes(bytearray(token)).hex()))
            elif acceptor.complete:
                break

    if phase in ("krb5", "delegate", "dce", "unknown-service"):
        extra = {"delegate": int(rf.delegate_to_peer), "dce": int(rf.dce_style)}.get(phase, 0)
        initiator = gssapi.SecurityContext(
            name=target, mech=krb5, flags=flags | extra, usage="initiate"
        )
        acceptor = gssapi.SecurityContext(usage="accept")
        try:
            pump(initiator, acceptor)
        except GSSError as exc:
            tokens.append(("error", str(exc.min_code)))
    elif phase == "spnego":
        initiator = gssapi.SecurityContext(name=target, mech=spnego, flags=flags, usage="initiate")
        acceptor = gssapi.SecurityContext(
            creds=gssapi.Credentials(usage="accept", mechs=[spnego]), usage="accept"
        )
        pump(initiator, acceptor)
    elif phase == "spnego-windows-init":
        from opensspi.packages.negotiate.asn1 import NegTokenInit

        inner = gssapi.SecurityContext(name=target, mech=krb5, flags=flags, usage="initiate")
        optimistic = bytes(bytearray(inner.step()))
        init = NegTokenInit(
            mech_types=(MS_KRB5_OID, KRB5_OID, NTLM_OID), mech_token=optimistic
        ).to_token()
        acceptor = gssapi.SecurityContext(
            creds=gssapi.Credentials(usage="accept", mechs=[spnego]), usage="accept"
        )
        tokens.append(("initiator-opensspi", init.hex()))
        tokens.append(("acceptor", bytes(bytearray(acceptor.step(init))).hex()))
    else:
        raise SystemExit(f"unknown phase {phase}")
    Path(out).write_text(json.dumps(tokens))


def run_phase(phase: str, env: dict[str, str], proxy: Proxy, tmp: Path) -> list[tuple[str, bytes]]:
    proxy.label = phase
    out = tmp / f"phase-{phase}.json"
    cmd = [sys.executable, __file__, "--gss-child", phase, str(out)]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, check=False)
    if result.returncode != 0:
        raise SystemExit(f"GSS phase {phase} failed: {result.stderr.strip()}")
    return [
        (who, bytes.fromhex(value) if who != "error" else value.encode())
        for who, value in json.loads(out.read_text())
    ]


# ---------------------------------------------------------------------------------------------
# Building the vector files
# ---------------------------------------------------------------------------------------------

DESCRIPTIONS = {
    "kdc": (
        "KDC exchanges of MIT krb5 over TCP, recorded by a proxy (see make_vectors.py): kinit "
        "(AS-REQ, KRB-ERROR PREAUTH_REQUIRED with ETYPE-INFO2, AS-REQ with PA-ENC-TIMESTAMP, "
        "AS-REP), a wrong password (PREAUTH_FAILED), an unknown client (C_PRINCIPAL_UNKNOWN), "
        "TGS exchanges for a service ticket and a forwarded TGT, and an unknown service "
        "(S_PRINCIPAL_UNKNOWN). Entries with decrypted_from are plaintexts opened with the "
        "keys in realm.json. MIT 1.20 armors its TGS-REQs with FAST (PA-FX-FAST, RFC 6113), "
        "so the TGS-REP enc-parts use the FAST reply key and are not opened here. MIT encodes "
        "the AS-REP enc-part as EncTGSRepPart [APPLICATION 26] (RFC 4120 5.4.2 allows it)."
    ),
    "ap": (
        "python-gssapi (MIT krb5) initiator and acceptor: krb5 mech with mutual auth, with "
        "delegation (KRB-CRED in the authenticator checksum, RFC 4121 4.1.1), and DCE style "
        "(unframed AP-REQ, AP-REP, initiator AP-REP). GSS-token entries are the RFC 2743 "
        "framed tokens, AP-REQ/AP-REP entries their bodies."
    ),
    "spnego": (
        "MIT SPNEGO: the initiator's framed NegTokenInit and the acceptor's NegTokenResp, and "
        "MIT's NegTokenResp to a Windows-style NegTokenInit [MS-KRB5, KRB5, NTLM] with a krb5 "
        "optimistic token (built by opensspi, so not recorded itself)."
    ),
}

KDC_TYPES = {10: "AS-REQ", 11: "AS-REP", 12: "TGS-REQ", 13: "TGS-REP", 30: "KRB-ERROR"}


class Vectors:
    """Collects entries and decrypts what the known keys open."""

    def __init__(self, keys: dict[str, list[dict[str, Any]]], source: str) -> None:
        self.keys = keys
        self.source = source
        self.files: dict[str, list[dict[str, Any]]] = {"kdc": [], "ap": [], "spnego": []}
        self.names: set[str] = set()

    def add(self, file: str, name: str, kind: str, data: bytes, **extra: Any) -> None:
        base, count = name, 2
        while name in self.names:
            name = f"{base}-{count}"
            count += 1
        self.names.add(name)
        entry = {"name": name, "source": self.source, "type": kind, "hex": data.hex()}
        entry.update(extra)
        self.files[file].append(entry)

    def service_key(self, principal: str, etype: int) -> bytes:
        for key in self.keys[principal]:
            if key["etype"] == etype:
                return bytes.fromhex(key["hex"])
        raise KeyError(f"no etype {etype} key for {principal}")

    def open(
        self,
        file: str,
        parent: str,
        kind: str,
        key: bytes,
        etype: int,
        usage: int,
        cipher: bytes,
    ) -> bytes | None:
        """Decrypt ``cipher`` and record the plaintext as an entry of ``kind`` (or return None)."""
        plain = decrypt(key, usage, cipher)
        if plain is None:
            return None
        self.add(
            file,
            f"{parent} {kind}",
            kind,
            plain,
            decrypted_from=parent,
            key_usage=usage,
            key={"etype": etype, "hex": key.hex()},
        )
        return plain

    def ticket(self, file: str, parent: str, ticket: Any) -> Any:
        """Decrypt a Ticket with its service's key; return the EncTicketPart or None."""
        from opensspi.packages.kerberos.asn1 import EncTicketPart

        principal = "/".join(ticket.sname.name_string)
        etype = ticket.enc_part.etype
        plain = self.open(
            file,
            f"{parent} ticket",
            "EncTicketPart",
            self.service_key(principal, etype),
            etype,
            2,
            ticket.enc_part.cipher,
        )
        return None if plain is None else EncTicketPart.parse(plain)


def build(
    tmp: Path,
    env: dict[str, str],
    proxy: Proxy,
) -> tuple[Vectors, dict[str, Any]]:
    from opensspi.packages.kerberos import asn1 as k

    version = run(["krb5-config", "--version"], env, check=False).strip() or "MIT krb5"
    keys = export_keys(tmp, env)
    proxy.label = "kinit"
    run(["kinit", "alice"], env, stdin=PASSWORD + "\n")
    proxy.label = "kinit-wrong-password"
    run(["kinit", "-c", f"FILE:{tmp}/cc-bad", "alice"], env, stdin="wrong\n", check=False)
    proxy.label = "kinit-unknown-client"
    run(["kinit", "-c", f"FILE:{tmp}/cc-bad", "nosuchuser"], env, stdin="x\n", check=False)
    phases = {
        phase: run_phase(phase, env, proxy, tmp)
        for phase in (
            "krb5",
            "delegate",
            "dce",
            "spnego",
            "spnego-windows-init",
            "unknown-service",
        )
    }
    vectors = Vectors(keys, f"{version} ({sys.platform}), captured by make_vectors.py")

    # -- KDC exchanges: the proxy's records --------------------------------------------------
    client_key: dict[int, bytes] = {}
    for index, (label, request, reply) in enumerate(proxy.records):
        req_name = f"{label} #{index} {KDC_TYPES[request[0] & 0x1F]}"
        rep_name = f"{label} #{index} {KDC_TYPES[reply[0] & 0x1F]}"
        vectors.add("kdc", req_name, KDC_TYPES[request[0] & 0x1F], request)
        vectors.add("kdc", rep_name, KDC_TYPES[reply[0] & 0x1F], reply)
        req = k.KdcReq.parse(request)
        subkey: k.EncryptionKey | None = None
        tgt_session: k.EncryptionKey | None = None
        for padata in req.padata or ():
            if padata.padata_type == k.PaDataType.PA_TGS_REQ:
                ap_req = k.ApReq.parse(padata.padata_value)
                vectors.add("kdc", f"{req_name} PA-TGS-REQ", "AP-REQ", padata.padata_value)
                part = vectors.ticket("kdc", f"{req_name} PA-TGS-REQ", ap_req.ticket)
                if part is not None:
                    tgt_session = part.key
                    plain = vectors.open(
                        "kdc",
                        f"{req_name} PA-TGS-REQ",
                        "Authenticator",
                        part.key.keyvalue,
                        part.key.keytype,
                        7,
                        ap_req.authenticator.cipher,
                    )
                    if plain is not None:
                        subkey = k.Authenticator.parse(plain).subkey
            elif padata.padata_type == k.PaDataType.PA_ENC_TIMESTAMP and label == "kinit":
                enc = k.EncryptedData.parse(padata.padata_value)
                vectors.add(
                    "kdc", f"{req_name} PA-ENC-TIMESTAMP", "EncryptedData", padata.padata_value
                )
                if enc.etype in client_key:
                    vectors.open(
                        "kdc",
                        f"{req_name} PA-ENC-TIMESTAMP",
                        "PA-ENC-TS-ENC",
                        client_key[enc.etype],
                        enc.etype,
                        1,
                        enc.cipher,
                    )
            elif padata.padata_type == k.PaDataType.PA_PAC_REQUEST:
                vectors.add(
                    "kdc", f"{req_name} PA-PAC-REQUEST", "KERB-PA-PAC-REQUEST", padata.padata_value
                )
        if reply[0] & 0x1F == 30:
            error = k.KrbError.parse(reply)
            if error.e_data is not None:
                vectors.add("kdc", f"{rep_name} e-data", "METHOD-DATA", error.e_data)
            for info in error.etype_info2() or ():
                if info.salt is not None and label == "kinit":
                    iterations = 4096
                    if info.s2kparams is not None:
                        (iterations,) = struct.unpack(">I", info.s2kparams)
                    size = 32 if info.etype == 18 else 16
                    client_key[info.etype] = string_to_key(PASSWORD, info.salt, iterations, size)
            for padata in error.method_data() or ():
                if padata.padata_type == k.PaDataType.PA_ETYPE_INFO2:
                    vectors.add(
                        "kdc", f"{rep_name} ETYPE-INFO2", "ETYPE-INFO2", padata.padata_value
                    )
            continue
        rep = k.KdcRep.parse(reply)
        vectors.ticket("kdc", rep_name, rep.ticket)
        etype = rep.enc_part.etype
        if rep.msg_type == k.MessageType.KRB_AS_REP and etype in client_key:
            vectors.open(
                "kdc", rep_name, "EncKDCRepPart", client_key[etype], etype, 3, rep.enc_part.cipher
            )
        elif rep.msg_type == k.MessageType.KRB_TGS_REP:
            opened = None
            if subkey is not None:
                opened = vectors.open(
                    "kdc",
                    rep_name,
                    "EncKDCRepPart",
                    subkey.keyvalue,
                    subkey.keytype,
                    9,
                    rep.enc_part.cipher,
                )
            if opened is None and tgt_session is not None:
                vectors.open(
                    "kdc",
                    rep_name,
                    "EncKDCRepPart",
                    tgt_session.keyvalue,
                    tgt_session.keytype,
                    8,
                    rep.enc_part.cipher,
                )

    # -- GSS tokens ---------------------------------------------------------------------------
    for phase in ("krb5", "delegate", "dce", "unknown-service"):
        session: k.EncryptionKey | None = None
        subkey = None
        for step, (who, token) in enumerate(phases[phase]):
            name = f"gss {phase} {who} #{step}"
            if who == "error":
                continue  # the KDC's KRB-ERROR is in kdc.json; the GSS status is not a token
            if token[0] == 0x60:
                oid, tok_id, body = k.gss_unwrap_token(token)
                vectors.add("ap", name, "GSS-token", token, oid=oid, tok_id=tok_id.hex())
            else:
                body = token
            name = f"{name} {'AP-REQ' if body[0] == 0x6E else 'AP-REP'}"
            vectors.add("ap", name, "AP-REQ" if body[0] == 0x6E else "AP-REP", body)
            if body[0] == 0x6E:
                ap_req = k.ApReq.parse(body)
                part = vectors.ticket("ap", name, ap_req.ticket)
                if part is None:
                    continue
                session = part.key
                plain = vectors.open(
                    "ap",
                    name,
                    "Authenticator",
                    session.keyvalue,
                    session.keytype,
                    11,
                    ap_req.authenticator.cipher,
                )
                if plain is None:
                    continue
                authenticator = k.Authenticator.parse(plain)
                subkey = authenticator.subkey
                cksum = authenticator.cksum
                if cksum is not None and cksum.cksumtype == 0x8003 and len(cksum.checksum) > 28:
                    # RFC 4121 §4.1.1: Lgth, Bnd, Flags, DlgOpt, Dlgth, Deleg (KRB-CRED)
                    (dlgth,) = struct.unpack_from("<H", cksum.checksum, 26)
                    cred = cksum.checksum[28 : 28 + dlgth]
                    vectors.add("ap", f"{name} delegated", "KRB-CRED", cred)
                    krb_cred = k.KrbCred.parse(cred)
                    vectors.open(
                        "ap",
                        f"{name} delegated",
                        "EncKrbCredPart",
                        session.keyvalue,
                        session.keytype,
                        14,
                        krb_cred.enc_part.cipher,
                    )
            elif session is not None:
                ap_rep = k.ApRep.parse(body)
                for key in (session, subkey):
                    if key is not None and vectors.open(
                        "ap",
                        name,
                        "EncAPRepPart",
                        key.keyvalue,
                        key.keytype,
                        12,
                        ap_rep.enc_part.cipher,
                    ):
                        break
    for phase in ("spnego", "spnego-windows-init"):
        for step, (who, token) in enumerate(phases[phase]):
            if who == "initiator-opensspi":
                continue  # ours, not MIT's
            kind = "SPNEGO-init" if token[0] == 0x60 else "NegTokenResp"
            vectors.add("spnego", f"{phase} {who} #{step}", kind, token)

    realm_info = {
        "source": vectors.source,
        "realm": REALM,
        "note": "Throwaway test realm; these passwords and keys are published on purpose.",
        "passwords": {"alice": PASSWORD},
        "keys": keys,
    }
    return vectors, realm_info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--gss-child", nargs=2, metavar=("PHASE", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.gss_child:
        gss_child(*args.gss_child)
        return
    for tool in ("krb5kdc", "kdb5_util", "kadmin.local", "kinit", "klist"):
        if shutil.which(tool) is None:
            raise SystemExit(
                f"{tool} not found: apt-get install krb5-kdc krb5-admin-server krb5-user"
            )
    self_test()
    tmp = Path(tempfile.mkdtemp(prefix="opensspi-mit-vectors."))
    try:
        with realm(tmp) as (env, proxy):
            vectors, realm_info = build(tmp, env, proxy)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "realm.json").write_text(json.dumps(realm_info, indent=1) + "\n")
        for file, entries in vectors.files.items():
            body = {"description": DESCRIPTIONS[file], "entries": entries}
            (args.out / f"{file}.json").write_text(json.dumps(body, indent=1) + "\n")
            print(f"{file}.json: {len(entries)} entries")
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
