"""The ``opensspi`` logger hierarchy: one DEBUG record per leg and per KDC exchange, INFO for
fallbacks, and never a secret in any record.

Every opensspi logger is set to DEBUG; NTLM, Kerberos (through MiniKdc over UDP and TCP), Digest
HTTP and Digest SASL run full handshakes and protect messages both ways (through the Pythonic
API and through the Windows functions, via the demonstration). Then every record's message, its
arguments and its extra fields are searched for every password, NT hash, long-term key, session
key and derived key, as raw bytes, hex (both cases) and base64.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

import opensspi
from opensspi import AuthIdentity, IscReq, demo, logs
from opensspi.packages.digest import crypto as dcrypto
from opensspi.packages.digest.credentials import DigestAcceptorConfig
from opensspi.packages.kerberos import KerberosAuthData
from opensspi.packages.kerberos.acceptor import ReplayCache
from opensspi.packages.kerberos.crypto import Key, derive_key
from opensspi.packages.kerberos.tickets import TicketCache
from opensspi.packages.ntlm.crypto import Mode, ntowfv1, ntowfv2, sealkey, signkey
from opensspi.testing.kdc import MiniKdc
from opensspi.transport import KdcAddress, send_to_kdc

PASSWORD = "Sekr1t-Pa55word!"
DEMO_PASSWORD = "Passw0rd!"
REALM = "EXAMPLE.TEST"
FLAGS = (IscReq.INTEGRITY | IscReq.CONFIDENTIALITY | IscReq.REPLAY_DETECT
         | IscReq.SEQUENCE_DETECT | IscReq.MUTUAL_AUTH)


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def records() -> Iterator[list[logging.LogRecord]]:
    handler = Collect()
    saved = {name: logging.getLogger(name).level for name in logs.LOGGER_NAMES}
    for name in logs.LOGGER_NAMES:
        logging.getLogger(name).setLevel(logging.DEBUG)
    logging.getLogger("opensspi").addHandler(handler)
    TicketCache.forget_all()
    ReplayCache.shared().clear()
    try:
        yield handler.records
    finally:
        logging.getLogger("opensspi").removeHandler(handler)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)
        TicketCache.forget_all()
        ReplayCache.shared().clear()


def _forms(secret: bytes | str) -> list[str]:
    raw = secret.encode("utf-8") if isinstance(secret, str) else secret
    forms = [raw.hex(), raw.hex().upper(), base64.b64encode(raw).decode()]
    if isinstance(secret, str):
        forms.append(secret)
    else:
        forms.append(raw.decode("latin-1"))
    return [f for f in forms if len(f) >= 6]


def _texts(record: logging.LogRecord) -> list[str]:
    texts = [record.getMessage(), repr(record.args)]
    texts += [repr(v) for k, v in vars(record).items() if k not in ("msg", "args")]
    return texts


def assert_no_secret(records: list[logging.LogRecord], secrets: list[bytes | str]) -> None:
    assert records, "no record was written"
    for record in records:
        for text in _texts(record):
            for secret in secrets:
                for form in _forms(secret):
                    assert form not in text, f"a secret appears in {record.name}: {text!r}"


def pump(client: opensspi.Context, server: opensspi.Context) -> None:
    token = client.step()
    while token is not None:
        reply = server.step(token)
        token = client.step(reply) if reply is not None else None
    assert client.complete and server.complete


def protect(client: opensspi.Context, server: opensspi.Context) -> None:
    for i in range(3):
        assert server.unwrap(client.wrap(b"up %d" % i)) == b"up %d" % i
        assert client.unwrap(server.wrap(b"down %d" % i)) == b"down %d" % i
    server.verify(b"signed", client.sign(b"signed"))


def ntlm_secrets(session_key: bytes) -> list[bytes | str]:
    found: list[bytes | str] = [PASSWORD, ntowfv1(PASSWORD), ntowfv2(PASSWORD, "alice", "CORP"),
                                session_key]
    for mode in Mode:
        found.append(sealkey(0xE2088297, session_key, mode))
        sign = signkey(0xE2088297, session_key, mode)
        if sign is not None:
            found.append(sign)
    return found


def test_ntlm_legs_are_logged_without_secrets(records: list[logging.LogRecord]) -> None:
    client = opensspi.client("NTLM", user="CORP\\alice", password=PASSWORD,
                             target="HTTP/web.corp.example")
    server = opensspi.server("NTLM", users={"CORP\\alice": PASSWORD})
    pump(client, server)
    protect(client, server)
    assert client.session_key is not None
    legs = [r for r in records if r.name == "opensspi.ntlm"]
    assert [r.getMessage().split(";")[0] for r in legs] == [
        "NTLM client leg: SEC_I_CONTINUE_NEEDED",
        "NTLM server leg: SEC_I_CONTINUE_NEEDED",
        "NTLM client leg: SEC_E_OK",
        "NTLM server leg: SEC_E_OK",
    ]
    assert "out NTLM NEGOTIATE, " in legs[0].getMessage()
    assert "in NTLM CHALLENGE, " in legs[2].getMessage()
    assert "out NTLM AUTHENTICATE, " in legs[2].getMessage()
    assert "CONFIDENTIALITY" in legs[3].getMessage() and legs[3].levelno == logging.DEBUG
    assert_no_secret(records, ntlm_secrets(client.session_key))


def test_a_failed_leg_is_logged_with_its_status(records: list[logging.LogRecord]) -> None:
    client = opensspi.client("NTLM", user="CORP\\alice", password="wrong password",
                             target="HTTP/web.corp.example")
    server = opensspi.server("NTLM", users={"CORP\\alice": PASSWORD})
    token = client.step()
    assert token is not None
    reply = server.step(token)
    assert reply is not None
    token = client.step(reply)
    assert token is not None
    with pytest.raises(opensspi.SspiError):
        server.step(token)
    failed = [r for r in records if "failed" in r.getMessage()]
    assert len(failed) == 1 and "SEC_E_LOGON_DENIED" in failed[0].getMessage()
    assert_no_secret(records, [PASSWORD, "wrong password", ntowfv1(PASSWORD)])


def test_kerberos_legs_and_kdc_exchanges(records: list[logging.LogRecord], tmp_path: Path) -> None:
    kdc = MiniKdc(REALM)
    kdc.add_user("alice", PASSWORD)
    service = kdc.add_service("HTTP/web.example.test")
    with kdc.serve() as served:
        keytab = kdc.write_keytab(tmp_path / "web.keytab", service)
        config = kdc.krb5_config(libdefaults={"udp_preference_limit": 1})
        client = opensspi.client(
            "Kerberos", target="HTTP/web.example.test", flags=FLAGS,
            auth_data=KerberosAuthData(identity=AuthIdentity("alice", REALM, PASSWORD),
                                       config=config))
        server = opensspi.server(
            "Kerberos", auth_data=KerberosAuthData(acceptor_keytab=str(keytab), config=config))
        pump(client, server)
        protect(client, server)
        port = served.port
    kdc_records = [r for r in records if r.name == "opensspi.kerberos.kdc"]
    exchanges = [r.getMessage() for r in kdc_records if r.levelno == logging.DEBUG]
    # AS-REQ without preauth (KDC_ERR_PREAUTH_REQUIRED), AS-REQ with it, TGS-REQ.
    assert len(exchanges) == 3, exchanges
    assert f"realm {REALM}, KDC 127.0.0.1:{port}, transport tcp" in exchanges[0]
    assert "KRB-ERROR KDC_ERR_PREAUTH_REQUIRED" in exchanges[0]
    assert "reply Kerberos AS-REP" in exchanges[1]
    assert "reply Kerberos TGS-REP" in exchanges[2]
    assert all(" ms, " in text for text in exchanges)
    legs = [r.getMessage() for r in records if r.name == "opensspi.kerberos"]
    assert legs[0].startswith("Kerberos client leg: SEC_I_CONTINUE_NEEDED")
    assert "out Kerberos AP-REQ" in legs[0]
    assert legs[1].startswith("Kerberos server leg: SEC_E_OK") and "out Kerberos AP-REP" in legs[1]
    assert "MUTUAL_AUTH" in legs[2]

    secrets: list[bytes | str] = [PASSWORD]
    session = client.context.session_key
    assert session is not None
    keys = [Key(18, session)]
    for principal in ("alice", "HTTP/web.example.test", f"krbtgt/{REALM}"):
        keys += kdc.entry(principal).keys
    for key in keys:
        secrets.append(key.contents)
    for usage in (22, 23, 24, 25):
        for kind in (0x99, 0xAA, 0x55):
            secrets.append(derive_key(Key(18, session), usage, kind))
    assert_no_secret(records, secrets)


def test_asyncio_legs_and_kdc_exchanges(records: list[logging.LogRecord], tmp_path: Path) -> None:
    """``step_async`` logs its leg, and the asyncio transport its KDC exchanges (over UDP)."""
    kdc = MiniKdc(REALM)
    kdc.add_user("alice", PASSWORD)
    kdc.add_service("HTTP/web.example.test")
    with kdc.serve():
        client = opensspi.client(
            "Kerberos", target="HTTP/web.example.test", flags=FLAGS,
            auth_data=KerberosAuthData(identity=AuthIdentity("alice", REALM, PASSWORD),
                                       config=kdc.krb5_config()))
        token = asyncio.run(client.step_async())
    assert token is not None
    exchanges = [r for r in records if r.name == "opensspi.kerberos.kdc"]
    assert [getattr(r, "transport", None) for r in exchanges] == ["udp", "udp", "udp"]
    assert [getattr(r, "error", None) for r in exchanges] == [
        "KDC_ERR_PREAUTH_REQUIRED", None, None]
    (leg,) = [r for r in records if r.name == "opensspi.kerberos"]
    assert leg.getMessage().startswith("Kerberos client leg: SEC_I_CONTINUE_NEEDED")
    assert_no_secret(records, [PASSWORD] + [k.contents for k in kdc.entry("alice").keys])


def test_kdc_failover_is_info(records: list[logging.LogRecord]) -> None:
    kdc = MiniKdc(REALM)
    kdc.add_user("alice", PASSWORD)
    with kdc.serve() as served:
        dead = KdcAddress("127.0.0.1", _closed_port(), "tcp")
        live = KdcAddress("127.0.0.1", served.port, "tcp")
        reply = send_to_kdc(b"\x6a\x03\x30\x01\x00", [dead, live], timeout=2.0, realm=REALM)
    assert reply
    infos = [r.getMessage() for r in records if r.levelno == logging.INFO]
    assert len(infos) == 1 and f"127.0.0.1:{dead.port}" in infos[0] and REALM in infos[0]
    assert "trying the next KDC" in infos[0]


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_digest_http_and_sasl_without_secrets(records: list[logging.LogRecord]) -> None:
    server = opensspi.server("WDigest", flags=0x10000000,  # type: ignore[arg-type]
                             auth_data=DigestAcceptorConfig(realm="r", passwords={"bob": PASSWORD}))
    client = opensspi.client("WDigest", user="bob", password=PASSWORD, target="/x",
                             flags=IscReq.USE_HTTP_STYLE | IscReq.MUTUAL_AUTH)
    challenge = server.step()
    assert challenge is not None
    authorization = client.step(challenge, params=[b"GET"])
    assert authorization is not None
    server.step(authorization, params=[b"GET", b"/x"])
    assert server.complete

    sasl_client = opensspi.client("WDigest", user="bob", password=PASSWORD,
                                  target="imap/mail.example.com", flags=FLAGS)
    sasl_server = opensspi.server("WDigest", auth_data=DigestAcceptorConfig(
        realm="example.com", passwords={"bob": PASSWORD}))
    token = sasl_server.step()
    while token is not None:
        reply = sasl_client.step(token)
        token = sasl_server.step(reply) if reply is not None else None
    assert sasl_client.complete and sasl_server.complete
    protect(sasl_client, sasl_server)

    digest_legs = [r.getMessage() for r in records if r.name == "opensspi.digest"]
    assert any("Digest directives" in text for text in digest_legs)
    ha1 = sasl_client.session_key
    assert ha1 is not None
    secrets: list[bytes | str] = [PASSWORD, ha1, dcrypto.kic(ha1), dcrypto.kis(ha1),
                                  dcrypto.sasl_secret(b"bob", b"example.com", PASSWORD.encode())]
    for n in (5, 7, 16):
        secrets += [dcrypto.kcc(ha1, n), dcrypto.kcs(ha1, n)]
    assert_no_secret(records, secrets)


def test_every_package_through_the_windows_functions(
    records: list[logging.LogRecord], capsys: pytest.CaptureFixture[str]
) -> None:
    """The demonstration: every package through AcquireCredentialsHandle ... DecryptMessage."""
    assert demo.main([]) == 0
    names = {r.name for r in records}
    assert {"opensspi.ntlm", "opensspi.kerberos", "opensspi.kerberos.kdc",
            "opensspi.digest"} <= names
    assert_no_secret(records, [DEMO_PASSWORD, ntowfv1(DEMO_PASSWORD)])
    capsys.readouterr()


def test_quiet_loggers_format_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """With DEBUG off, a leg is one isEnabledFor call: the summary is never computed."""
    saved = {name: logging.getLogger(name).level for name in logs.LOGGER_NAMES}
    for name in logs.LOGGER_NAMES:
        logging.getLogger(name).setLevel(logging.WARNING)
    calls: list[object] = []
    monkeypatch.setattr(logs, "token_summary", lambda token: calls.append(token) or "")
    try:
        client = opensspi.client("NTLM", user="CORP\\alice", password=PASSWORD, target="HTTP/x")
        server = opensspi.server("NTLM", users={"CORP\\alice": PASSWORD})
        pump(client, server)
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)
    assert calls == []


def test_negotiate_fallback_helper(records: list[logging.LogRecord]) -> None:
    logs.negotiate_fallback("NTLM", "Kerberos",
                            "no ticket for HTTP/web: KDC_ERR_S_PRINCIPAL_UNKNOWN")
    (record,) = records
    assert record.name == "opensspi.negotiate" and record.levelno == logging.INFO
    assert record.getMessage() == (
        "Negotiate chose NTLM instead of Kerberos: no ticket for HTTP/web: "
        "KDC_ERR_S_PRINCIPAL_UNKNOWN")


def test_token_summary_names_kinds_not_content() -> None:
    assert logs.token_summary(b"NTLMSSP\0\x01\0\0\0" + bytes(30)) == "NTLM NEGOTIATE, 42 bytes"
    assert logs.token_summary(None) == "none"
    assert logs.token_summary(b"\x7e\x03\x30\x01\x00") == "Kerberos KRB-ERROR, 5 bytes"
    assert logs.token_summary(b"\xa1\x03\x30\x01\x00") == "SPNEGO NegTokenResp, 5 bytes"
    assert logs.token_summary(b"\x16\x03\x01\x00\x05hello") == "TLS Handshake record, 10 bytes"
    assert logs.token_summary(b"\x99secret") == "token, 7 bytes"
