"""Fuzz targets: every parser and every entry point that takes a peer's bytes.

Each :class:`Target` has a ``setup()`` that builds what the entry point needs once (credentials,
an established context, a KDC exchange at the right step) and returns the one-argument function
the fuzzer calls with each input, and a ``seeds()`` list: the recorded peer tokens of
``tests/vectors/peers/`` that fit it, plus tokens our own peers produce in the same role.

The contract checked (DESIGN.md "How we know it works", 4): a parser returns a value or raises
``DecodeError``; an entry point returns or raises an ``SspiError`` subclass. Anything else —
another exception, or a hang (libFuzzer's ``-timeout``) — is a finding. A finding is saved under
``tests/fuzz/findings/<target>/`` and replayed by ``test_findings.py`` from then on.

The same functions are driven by ``run.py`` under atheris (coverage-guided, ``scripts/fuzz.sh``)
and by ``test_fuzz_slice.py`` in CI.
"""

from __future__ import annotations

import contextlib
import functools
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from opensspi.errors import DecodeError, SspiError

ROOT = Path(__file__).resolve().parents[1]
PEERS = ROOT / "vectors" / "peers"
VECTORS = ROOT / "vectors"

Fuzz = Callable[[bytes], None]


class Finding(AssertionError):
    """An input broke the contract (the original exception is chained)."""


@dataclass(frozen=True)
class Target:
    name: str
    what: str
    setup: Callable[[], Fuzz]
    seeds: Callable[[], list[bytes]]


def _hex_entries(path: Path) -> Iterator[tuple[str, bytes]]:
    """Every ``{"name", "hex"}`` entry of a vector file (recursively through lists/dicts)."""
    def walk(node: Any, name: str) -> Iterator[tuple[str, bytes]]:
        if isinstance(node, dict):
            here = str(node.get("name", name))
            for key, value in node.items():
                if isinstance(value, str) and key in ("hex", "token", "data") and value:
                    with contextlib.suppress(ValueError):
                        yield here, bytes.fromhex(value)
                else:
                    yield from walk(value, here)
        elif isinstance(node, list):
            for item in node:
                yield from walk(item, name)

    yield from walk(json.loads(path.read_text(encoding="utf-8")), path.stem)


def peer_tokens() -> list[bytes]:
    """All recorded peer tokens (tests/vectors/peers/<peer>/*.json)."""
    out: list[bytes] = []
    for path in sorted(PEERS.rglob("*.json")):
        out += [data for _, data in _hex_entries(path)]
    return out


def _peer_tokens_named(*words: str) -> list[bytes]:
    out = []
    for path in sorted(PEERS.rglob("*.json")):
        for name, data in _hex_entries(path):
            if any(w in name for w in words):
                out.append(data)
    return out


def _guard(call: Fuzz, allowed: tuple[type[BaseException], ...]) -> Fuzz:
    def run(data: bytes) -> None:
        try:
            call(data)
        except allowed:
            pass
        except Exception as exc:
            raise Finding(f"{type(exc).__name__}: {exc}") from exc

    return run


PARSER = (DecodeError, SspiError)
ENTRY = (SspiError,)

# -- NTLM ---------------------------------------------------------------------------------------


def _ntlm_tokens() -> list[bytes]:
    import opensspi

    client = opensspi.client("NTLM", user="CORP\\alice", password="Passw0rd!", target="HTTP/web")
    server = opensspi.server("NTLM", users={"CORP\\alice": "Passw0rd!"})
    negotiate = client.step()
    assert negotiate is not None
    challenge = server.step(negotiate)
    assert challenge is not None
    authenticate = client.step(challenge)
    assert authenticate is not None
    return [negotiate, challenge, authenticate]


def _ntlm_seeds() -> list[bytes]:
    seeds = _ntlm_tokens()
    path = VECTORS / "ms-nlmp"
    for file in sorted(path.glob("*.json")):
        seeds += [d for _, d in _hex_entries(file) if d[:8] == b"NTLMSSP\x00"]
    return seeds


def _ntlm_messages() -> Fuzz:
    from opensspi.packages.ntlm import messages as m

    def call(data: bytes) -> None:
        for parse in (m.message_type, m.NegotiateMessage.unpack, m.ChallengeMessage.unpack,
                      m.AuthenticateMessage.unpack, m.TargetInfo.unpack,
                      m.NtlmV2ClientChallenge.unpack):
            with contextlib.suppress(PARSER):
                parse(data)

    return _guard(call, PARSER)


def _ntlm_acceptor() -> Fuzz:
    import opensspi

    negotiate = _ntlm_tokens()[0]

    def call(data: bytes) -> None:
        server = opensspi.server("NTLM", users={"CORP\\alice": "Passw0rd!"})
        with contextlib.suppress(SspiError):
            server.step(data)  # as the first message
        server = opensspi.server("NTLM", users={"CORP\\alice": "Passw0rd!"})
        server.step(negotiate)
        server.step(data)  # as the AUTHENTICATE

    return _guard(call, ENTRY)


def _ntlm_initiator() -> Fuzz:
    import opensspi

    def call(data: bytes) -> None:
        client = opensspi.client("NTLM", user="CORP\\alice", password="Passw0rd!",
                                 target="HTTP/web")
        client.step()
        client.step(data)  # as the CHALLENGE

    return _guard(call, ENTRY)


def _ntlm_pair() -> tuple[Any, Any]:
    import opensspi
    from support.pair import ContextPair

    client = opensspi.client("NTLM", user="CORP\\alice", password="Passw0rd!", target="HTTP/web")
    server = opensspi.server("NTLM", users={"CORP\\alice": "Passw0rd!"})
    ContextPair(client, server).run()
    return client, server


def _ntlm_message_functions() -> Fuzz:
    _, server = _ntlm_pair()

    def call(data: bytes) -> None:
        for fn in (lambda: server.unwrap(data), lambda: server.verify(data[16:], data[:16])):
            with contextlib.suppress(SspiError):
                fn()

    return _guard(call, ENTRY)


def _ntlm_message_seeds() -> list[bytes]:
    client, _ = _ntlm_pair()
    return [client.wrap(b"hello"), client.sign(b"hello") + b"hello", client.wrap(b"x" * 100)]


# -- DER, Kerberos, GSS, SPNEGO ----------------------------------------------------------------


def _der() -> Fuzz:
    from opensspi import der

    def call(data: bytes) -> None:
        der.parse_tree(data)

    return _guard(call, PARSER)


def _kerberos_asn1() -> Fuzz:
    from opensspi.packages.kerberos import asn1 as k

    parsers = [getattr(k, name).from_der for name in (
        "ApReq", "ApRep", "KrbError", "AsRep", "TgsRep", "EncTicketPart", "Authenticator",
        "EncApRepPart", "KrbCred", "EncKrbCredPart", "EncAsRepPart", "EncTgsRepPart", "Ticket",
        "AsReq", "TgsReq", "EncryptedData", "PAData", "EtypeInfo2", "KerbTgtReply",
        "KerbTgtRequest",
    ) if hasattr(getattr(k, name, None), "from_der")]
    parsers.append(k.gss_unwrap_token)

    def call(data: bytes) -> None:
        for parse in parsers:
            with contextlib.suppress(PARSER):
                parse(data)

    return _guard(call, PARSER)


_MIT = PEERS / "mit"


def _kerberos_acceptor_parts() -> tuple[Any, datetime, bytes]:
    """A keytab of the recorded realm, the capture time and the recorded AP-REQ."""
    import tempfile

    from opensspi.packages.kerberos.asn1 import Authenticator
    from opensspi.packages.kerberos.ccache import CcachePrincipal
    from opensspi.packages.kerberos.keytab import Keytab, KeytabEntry

    ap = {e["name"]: e for e in json.loads((_MIT / "ap.json").read_text())["entries"]}
    realm = json.loads((_MIT / "realm.json").read_text())
    entries = [KeytabEntry(CcachePrincipal(1, ("host", "server.test.local"), "TEST.LOCAL"), 0,
                           key["kvno"], key["etype"], bytes.fromhex(key["hex"]))
               for key in realm["keys"]["host/server.test.local"]]
    path = Path(tempfile.mkdtemp(prefix="opensspi-fuzz-")) / "host.keytab"
    Keytab(tuple(entries)).save(path)
    at = Authenticator.from_der(
        bytes.fromhex(ap["gss krb5 initiator #0 AP-REQ Authenticator"]["hex"])).ctime
    return str(path), at, bytes.fromhex(ap["gss krb5 initiator #0"]["hex"])


def _kerberos_server(keytab: str, at: datetime, flags: int = 0) -> Any:
    import opensspi
    from opensspi import Environment
    from opensspi.packages.kerberos import KerberosAuthData
    from opensspi.packages.kerberos.config import Krb5Config

    config = Krb5Config.from_string(
        "[libdefaults]\n default_realm = TEST.LOCAL\n dns_lookup_kdc = false\n")
    return opensspi.server("Kerberos", flags=flags, auth_data=KerberosAuthData(
        acceptor_keytab=keytab, config=config),
        env=Environment(now=lambda: at + timedelta(seconds=1)))


def _kerberos_acceptor() -> Fuzz:
    keytab, at, _ = _kerberos_acceptor_parts()

    def call(data: bytes) -> None:
        _kerberos_server(keytab, at).step(data)

    return _guard(call, ENTRY)


def _kerberos_message_functions() -> Fuzz:
    from opensspi.packages.kerberos.acceptor import ReplayCache

    keytab, at, token = _kerberos_acceptor_parts()
    ReplayCache.shared().clear()
    server = _kerberos_server(keytab, at)
    server.step(token)

    def call(data: bytes) -> None:
        for fn in (lambda: server.unwrap(data), lambda: server.verify(b"message", data)):
            with contextlib.suppress(SspiError):
                fn()

    return _guard(call, ENTRY)


@functools.cache
def _kerberos_initiator_parts() -> tuple[Callable[[], Any], bytes]:
    """A client factory whose tickets are cached (a MiniKdc served on 127.0.0.1 for the first
    one), and the AP-REP our acceptor answers with."""
    import tempfile

    import opensspi
    from opensspi.constants import IscReq
    from opensspi.packages.kerberos import KerberosAuthData
    from opensspi.provider import AuthIdentity
    from opensspi.testing.kdc import MiniKdc

    kdc = MiniKdc("EXAMPLE.TEST")
    kdc.add_user("alice", "Al1ce-Passw0rd!")
    kdc.add_service("HTTP/web.example.test")
    serving = kdc.serve()
    serving.__enter__()  # lives as long as the fuzzing process
    config = kdc.krb5_config()
    data = KerberosAuthData(identity=AuthIdentity("alice", "EXAMPLE.TEST", "Al1ce-Passw0rd!"),
                            config=config)
    keytab = kdc.write_keytab(Path(tempfile.mkdtemp(prefix="opensspi-fuzz-")) / "web.keytab",
                              "HTTP/web.example.test")
    flags = IscReq.MUTUAL_AUTH | IscReq.INTEGRITY | IscReq.CONFIDENTIALITY

    def client() -> Any:
        return opensspi.client("Kerberos", target="HTTP/web.example.test", flags=flags,
                               auth_data=data)

    first = client()
    server = opensspi.server("Kerberos", auth_data=KerberosAuthData(
        acceptor_keytab=str(keytab), config=config))
    ap_rep = server.step(first.step())
    assert ap_rep is not None
    return client, ap_rep


def _kerberos_initiator() -> Fuzz:
    make, _ = _kerberos_initiator_parts()

    def call(data: bytes) -> None:
        client = make()
        client.step()  # the AP-REQ, from the cached ticket
        client.step(data)  # as the AP-REP (or a KRB-ERROR)

    return _guard(call, ENTRY)


def _ap_rep_seeds() -> list[bytes]:
    return [_kerberos_initiator_parts()[1], *_peer_tokens_named("AP-REP", "acceptor")]


def _gss_token_seeds() -> list[bytes]:
    seeds = []
    for path in sorted(_MIT.glob("gss-*.json")):
        seeds += [d for _, d in _hex_entries(path) if d[:2] in (b"\x05\x04", b"\x04\x04",
                                                                 b"\x02\x01", b"\x01\x01")]
    return seeds[:200] or [b"\x05\x04" + bytes(14)]


def _kdc_genesis() -> tuple[Callable[[int], Any], list[bytes]]:
    """Start AS and TGS exchanges against an in-process MiniKdc; return the starter and the
    real replies it gave (seeds)."""
    from opensspi import Environment
    from opensspi.constants import CredentialUse
    from opensspi.packages.kerberos import KerberosAuthData
    from opensspi.packages.kerberos.config import Krb5Config
    from opensspi.packages.kerberos.credentials import acquire_credentials
    from opensspi.packages.kerberos.kdc import as_exchange, run_exchange, tgs_exchange
    from opensspi.packages.kerberos.names import Principal
    from opensspi.packages.kerberos.tickets import TicketCache
    from opensspi.provider import AuthIdentity
    from opensspi.testing.kdc import MiniKdc
    from opensspi.transport import KdcAddress

    now = datetime(2031, 3, 4, 5, 6, 7, tzinfo=timezone.utc)
    rng = random.Random(7)
    env = Environment(now=lambda: now, random=rng.randbytes)
    kdc = MiniKdc("EXAMPLE.TEST", env=env)
    kdc.add_user("alice", "Al1ce-Passw0rd!")
    kdc.add_service("HTTP/web.example.test")
    config = Krb5Config.from_string(
        "[libdefaults]\n default_realm = EXAMPLE.TEST\n dns_lookup_kdc = false\n")
    data = KerberosAuthData(identity=AuthIdentity("alice", "EXAMPLE.TEST", "Al1ce-Passw0rd!"),
                            config=config,
                            kdc_locator=lambda realm: (KdcAddress("127.0.0.1", 88, "tcp"),))
    web = Principal.parse("HTTP/web.example.test@EXAMPLE.TEST")
    replies: list[bytes] = []

    def cred() -> Any:
        return acquire_credentials(None, CredentialUse.OUTBOUND, data, env)

    def send(request: Any) -> bytes:
        reply = kdc.handle(request.data)
        replies.append(reply)
        return reply

    TicketCache.forget_all()
    tgt = run_exchange(as_exchange(cred(), env), send)

    def start(which: int) -> Any:
        TicketCache.forget_all()
        if which == 2:
            return tgs_exchange(cred(), web, env, tgt=tgt, store=False)
        return as_exchange(cred(), env)

    run_exchange(start(2), send)
    return start, replies


def _kdc_replies() -> Fuzz:
    start, replies = _kdc_genesis()
    from opensspi.testing.kdc import MiniKdc  # noqa: F401  (keeps the import cost in setup)

    first_as = replies[0]

    def call(data: bytes) -> None:
        for which, step in ((0, 0), (1, 1), (2, 0)):
            gen = start(which)
            try:
                next(gen)
                if step:
                    gen.send(first_as)  # PREAUTH_REQUIRED, then the fuzzed reply
                gen.send(data)
            except StopIteration:
                pass
            except SspiError:
                pass
            finally:
                gen.close()

    return _guard(call, ENTRY)


def _kdc_seeds() -> list[bytes]:
    return _kdc_genesis()[1] + _peer_tokens_named("AS-REP", "TGS-REP", "KRB-ERROR")


def _transport() -> Fuzz:
    from opensspi import transport

    def call(data: bytes) -> None:
        code = transport.krb_error_code(data)
        assert code is None or isinstance(code, int)
        with contextlib.suppress(transport._FrameError):
            transport._reply_length(data[:4].ljust(4, b"\0"), 1 << 20)

    return _guard(call, ())


def _spnego() -> Fuzz:
    from opensspi.packages.negotiate.asn1 import decode_token

    def call(data: bytes) -> None:
        decode_token(data)

    return _guard(call, PARSER)


def _spnego_seeds() -> list[bytes]:
    return [d for _, d in _hex_entries(_MIT / "spnego.json")] + _peer_tokens_named("spnego")


# -- Digest -------------------------------------------------------------------------------------


def _digest_env() -> Any:
    from opensspi import Environment

    now = datetime(2026, 1, 1, 12, tzinfo=timezone.utc)
    return Environment(now=lambda: now)  # the system random source: every nonce differs


@functools.cache
def _digest_package() -> tuple[Any, Any, Any]:
    from opensspi.constants import CredentialUse
    from opensspi.packages.digest import DigestPackage
    from opensspi.packages.digest.credentials import DigestAcceptorConfig
    from opensspi.provider import AuthIdentity

    package = DigestPackage()
    client_cred = package.acquire_credentials(
        None, CredentialUse.OUTBOUND, AuthIdentity("Mufasa", None, "Circle of Life"))
    server_cred = package.acquire_credentials(
        None, CredentialUse.INBOUND, DigestAcceptorConfig(
            realm="http-auth@example.org", passwords={"Mufasa": "Circle of Life"}))
    return package, client_cred, server_cred


def _digest_contexts(http: bool) -> tuple[Any, Any]:
    from opensspi.constants import AscReq, IscReq
    from opensspi.packages.digest.machine import ASC_REQ_HTTP

    package, client_cred, server_cred = _digest_package()
    env = _digest_env()
    if http:
        return (package.client_context(client_cred, "/dir/index.html", IscReq.USE_HTTP_STYLE,
                                       env),
                package.server_context(server_cred, AscReq(ASC_REQ_HTTP), env))
    flags = IscReq.CONFIDENTIALITY | IscReq.INTEGRITY | IscReq.MUTUAL_AUTH
    return (package.client_context(client_cred, "imap/elwood.innosoft.com", flags, env),
            package.server_context(server_cred, AscReq.CONFIDENTIALITY | AscReq.INTEGRITY, env))


def _digest_tokens(http: bool) -> list[bytes]:
    from opensspi.provider import StepInput

    client, server = _digest_contexts(http)
    if http:
        challenge = server.step(StepInput()).token
        auth = client.step(StepInput(challenge, params=(b"GET", b""))).token
        info = server.step(StepInput(auth, params=(b"GET", b"/dir/index.html", b""))).token
        return [challenge, auth, info]
    client.step(StepInput())
    challenge = server.step(StepInput()).token
    response = client.step(StepInput(challenge)).token
    rspauth = server.step(StepInput(response)).token
    client.step(StepInput(rspauth))
    return [challenge, response, rspauth, client.wrap(b"hello")]


def _digest_seeds() -> list[bytes]:
    seeds = _digest_tokens(True) + _digest_tokens(False)
    for file in sorted((VECTORS / "digest").glob("*.json")):
        text = file.read_text(encoding="utf-8")
        for node in json.loads(text).get("cases", []) if text.startswith("{") else []:
            for value in node.values() if isinstance(node, dict) else ():
                if isinstance(value, str) and "=" in value and len(value) < 2000:
                    seeds.append(value.encode("utf-8"))
    return seeds


def _digest_http_client() -> Fuzz:
    from opensspi.provider import StepInput

    def call(data: bytes) -> None:
        client, _ = _digest_contexts(True)
        try:
            client.step(StepInput(data, params=(b"GET", b"")))  # as a challenge
        except SspiError:
            return
        client.step(StepInput(data))  # as Authentication-Info after answering it

    return _guard(call, ENTRY)


def _digest_http_server() -> Fuzz:
    from opensspi.provider import StepInput

    def call(data: bytes) -> None:
        _, server = _digest_contexts(True)
        server.step(StepInput())
        server.step(StepInput(data, params=(b"GET", b"/dir/index.html", b"")))

    return _guard(call, ENTRY)


def _digest_sasl_client() -> Fuzz:
    from opensspi.provider import StepInput

    def call(data: bytes) -> None:
        client, _ = _digest_contexts(False)
        client.step(StepInput())
        client.step(StepInput(data))  # as the digest-challenge

    return _guard(call, ENTRY)


def _digest_sasl_server() -> Fuzz:
    from opensspi.provider import StepInput

    def call(data: bytes) -> None:
        _, server = _digest_contexts(False)
        server.step(StepInput())
        server.step(StepInput(data))  # as the digest-response

    return _guard(call, ENTRY)


def _digest_parsers() -> Fuzz:
    from opensspi.packages.digest import messages as m

    parsers = (m.parse_http_challenges, m.HttpResponse.parse, m.SaslChallenge.parse,
               m.SaslResponse.parse, m.ResponseAuth.parse, m.parse_http_server_token)

    def call(data: bytes) -> None:
        for parse in parsers:
            with contextlib.suppress(PARSER):
                parse(data)

    return _guard(call, PARSER)


def _sasl_pair() -> tuple[Any, Any]:
    from opensspi.provider import StepInput

    client, server = _digest_contexts(False)
    client.step(StepInput())
    response = client.step(StepInput(server.step(StepInput()).token)).token
    client.step(StepInput(server.step(StepInput(response)).token))
    return client, server


def _sasl_frames() -> Fuzz:
    _, server = _sasl_pair()

    def call(data: bytes) -> None:
        server.unwrap(data)

    return _guard(call, ENTRY)


def _sasl_frame_seeds() -> list[bytes]:
    client, _ = _sasl_pair()
    return [client.wrap(b"m" * size) for size in (1, 16, 100)]


TARGETS: dict[str, Target] = {t.name: t for t in (
    Target("ntlm_messages", "NTLM message and AV-pair parsers", _ntlm_messages, _ntlm_seeds),
    Target("ntlm_acceptor", "NTLM AcceptSecurityContext (NEGOTIATE, AUTHENTICATE)",
           _ntlm_acceptor, _ntlm_seeds),
    Target("ntlm_initiator", "NTLM InitializeSecurityContext (CHALLENGE)", _ntlm_initiator,
           _ntlm_seeds),
    Target("ntlm_message_functions", "NTLM unwrap/verify of an established acceptor",
           _ntlm_message_functions, _ntlm_message_seeds),
    Target("der", "DER element tree", _der, peer_tokens),
    Target("kerberos_asn1", "Kerberos messages and GSS framing (RFC 4120, RFC 4121)",
           _kerberos_asn1, peer_tokens),
    Target("kerberos_acceptor", "Kerberos AcceptSecurityContext (AP-REQ)", _kerberos_acceptor,
           lambda: _peer_tokens_named("AP-REQ", "initiator")),
    Target("kerberos_initiator", "Kerberos InitializeSecurityContext (AP-REP, KRB-ERROR)",
           _kerberos_initiator, _ap_rep_seeds),
    Target("kerberos_message_functions", "Kerberos unwrap/verify of an established acceptor",
           _kerberos_message_functions, _gss_token_seeds),
    Target("kdc_replies", "AS and TGS exchanges fed KDC replies", _kdc_replies, _kdc_seeds),
    Target("transport", "KDC transport: KRB-ERROR sniffing and TCP length prefixes",
           _transport, _kdc_seeds),
    Target("spnego", "SPNEGO NegTokenInit/NegTokenResp decoder", _spnego, _spnego_seeds),
    Target("digest_parsers", "Digest HTTP and SASL message parsers", _digest_parsers,
           _digest_seeds),
    Target("digest_http_client", "Digest HTTP initiator (challenge, Authentication-Info)",
           _digest_http_client, _digest_seeds),
    Target("digest_http_server", "Digest HTTP acceptor (Authorization)", _digest_http_server,
           _digest_seeds),
    Target("digest_sasl_client", "DIGEST-MD5 initiator (digest-challenge)", _digest_sasl_client,
           _digest_seeds),
    Target("digest_sasl_server", "DIGEST-MD5 acceptor (digest-response)", _digest_sasl_server,
           _digest_seeds),
    Target("sasl_frames", "DIGEST-MD5 security layer frames (unseal/verify)", _sasl_frames,
           _sasl_frame_seeds),
)}
