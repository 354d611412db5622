"""Digest benchmarks: HTTP Digest responses against requests' HTTPDigestAuth, SASL layer MB/s.

Run from the repository root::

    python bench/digest.py                 # everything, with ratios
    python bench/digest.py --run http-next 200000   # one workload N times, for profiling:
    python -m cProfile -s tottime bench/digest.py --run http-next 200000

Every input is fixed (RFC 7616 §3.9.1's user, realm, nonce and opaque; a deterministic
Environment), so runs compare like with like. Both sides are timed in the same process,
interleaved, best of several rounds.

What is compared with ``requests.auth.HTTPDigestAuth`` (the named peer):

- ``http-next``: the Authorization value for a request on an established context, nc + 1
  (opensspi ``next_authorization``; requests ``build_digest_header`` with its parsed
  challenge) — the same header, MD5, qop=auth. Both headers are checked against opensspi's
  acceptor before timing.
- ``http-sign``: the same through the Windows function MakeSignature (``opensspi.sspi``, a
  context made with InitializeSecurityContext) with the five HTTP buffers (a fresh PADDING
  output buffer per call); ``http-sign+buffers`` also builds the four input SecBuffers in
  Python for every call, as curl does in C.
- ``http-first``: the first response to the raw challenge text, the same work on both sides:
  parse the challenge, choose the algorithm and qop, make a cnonce, compute H(A1), H(A2) and
  the response, render the Authorization value. opensspi: a new context
  (``client_context``), ``step(StepInput(challenge, params=(b"GET",)))`` (the strict parser:
  every directive checked; the one-challenge choice; the cnonce from the Environment),
  ``.token``. requests: a new ``HTTPDigestAuth`` and ``init_per_thread_state()``,
  ``parse_dict_header(challenge)`` (its lenient parser) and ``build_digest_header`` (its cnonce
  from ``os.urandom`` and SHA-1). The challenge text is the header value without the
  ``Digest`` word on both sides, as curl hands it to the SSP and requests' ``handle_401`` to
  ``parse_dict_header``. Both first headers are checked against opensspi's acceptor too.

Every door for the first response (the same work, the same requests peer): the package call
above (``http-first``); the Pythonic API (``http-first-pythonic``: ``opensspi.client("WDigest",
credential=..., target=URI, flags=USE_HTTP_STYLE).step(challenge, params=(b"GET",))``); the
Windows functions (``http-first-sspi``: InitializeSecurityContext with a SecBufferDesc of the
challenge TOKEN and the method in a SECBUFFER_PKG_PARAMS, a TOKEN output buffer); and the
pywin32 look-alike (``http-first-pywin32``: ``ClientAuth("WDigest", targetspn=URI,
scflags=ISC_REQ_USE_HTTP_STYLE).authorize(desc)`` with a PySecBufferDescType of the challenge
and the method, which acquires credentials per connection as pywin32 does).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

try:
    import opensspi  # noqa: F401
except ImportError:  # running from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from opensspi.buffers import SecBuffer, SecBufferDesc
from opensspi.constants import (
    AscReq,
    CredentialUse,
    IscReq,
    SecBufferType,
    SecStatus,
)
from opensspi.packages.digest import DigestPackage
from opensspi.packages.digest.credentials import (
    DigestAcceptorConfig,
    DigestClientOptions,
    DigestCredential,
)
from opensspi.packages.digest.crypto import Algorithm, Cipher, Qop
from opensspi.packages.digest.machine import ASC_REQ_HTTP, DigestServerContext
from opensspi.packages.digest.security import MAX_MAXBUF
from opensspi.provider import AuthIdentity, Environment, StepInput

try:
    from requests.auth import HTTPDigestAuth
    from requests.utils import parse_dict_header
except ImportError:  # pragma: no cover - the peer is required
    sys.exit("bench/digest.py compares against requests: pip install requests")

USER, PASSWORD, REALM = "Mufasa", "Circle of Life", "http-auth@example.org"
NONCE = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
OPAQUE = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
URI, URL = "/dir/index.html", "http://127.0.0.1/dir/index.html"
CHALLENGE = (
    f'realm="{REALM}", qop="auth", algorithm=MD5, nonce="{NONCE}", opaque="{OPAQUE}"'
)
PKG = DigestPackage()


class _Counter:
    """A deterministic random source."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, size: int) -> bytes:
        self.n += 1
        return (self.n.to_bytes(8, "big") * (size // 8 + 1))[:size]


ENV = Environment(random=_Counter())


def run(fn: Callable[[], object], n: int) -> None:
    """Call ``fn`` ``n`` times: the plain loop to profile."""
    for _ in range(n):
        fn()


def best_rates(
    fns: dict[str, Callable[[], object]], number: int, rounds: int = 5
) -> dict[str, float]:
    """Calls per second of each function: interleaved rounds, best round each."""
    best = dict.fromkeys(fns, 0.0)
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            run(fn, number)
            best[name] = max(best[name], number / (time.perf_counter() - start))
    return best


# -- HTTP ----------------------------------------------------------------------------------------


def http_client() -> object:
    cred = PKG.acquire_credentials(None, CredentialUse.OUTBOUND, AuthIdentity(USER, None, PASSWORD))
    ctx = PKG.client_context(cred, URI, IscReq.USE_HTTP_STYLE, ENV)
    step = ctx.step(StepInput(CHALLENGE.encode(), params=(b"GET",)))
    assert step.status is SecStatus.SEC_E_OK
    return ctx


def _sspi_http_client() -> object:
    """An HTTP Digest client context made through InitializeSecurityContext (a CtxtHandle)."""
    from opensspi import sspi

    handle = sspi.AcquireCredentialsHandle(None, "WDigest", CredentialUse.OUTBOUND, None,
                                           AuthIdentity(USER, None, PASSWORD)).credential
    ctx = sspi.CtxtHandle()
    out = SecBufferDesc([SecBuffer(SecBufferType.TOKEN, 4000)])
    inp = SecBufferDesc([SecBuffer(SecBufferType.TOKEN, CHALLENGE.encode()),
                         SecBuffer(SecBufferType.PKG_PARAMS, b"GET")])
    sspi.InitializeSecurityContext(handle, None, URI, int(IscReq.USE_HTTP_STYLE), 0, 0, inp, 0,
                                   ctx, out, env=ENV)
    return ctx


def requests_auth() -> HTTPDigestAuth:
    auth = HTTPDigestAuth(USER, PASSWORD)
    auth.init_per_thread_state()
    auth._thread_local.chal = parse_dict_header(CHALLENGE)
    return auth


def _text(value: object) -> str:
    """An Authorization value as text (``next_authorization`` returns bytes)."""
    return value.decode() if isinstance(value, bytes) else str(value)


def check_same_header(ours: str, theirs: str) -> None:
    """Both Authorization values must pass opensspi's acceptor for the same request."""
    config = DigestAcceptorConfig(REALM, passwords={USER: PASSWORD}, algorithms=(Algorithm.MD5,))
    for header in (ours, theirs):
        cred = PKG.acquire_credentials(None, CredentialUse.INBOUND, config)
        assert isinstance(cred, DigestCredential)
        server = DigestServerContext(PKG.info, cred, AscReq(ASC_REQ_HTTP), ENV, nonce=NONCE,
                                     opaque=OPAQUE)
        server.step(StepInput())
        token = header.removeprefix("Digest ").encode()
        step = server.step(StepInput(token, params=(b"GET", URI.encode())))
        assert step.status is SecStatus.SEC_E_OK


def http_workloads() -> dict[str, Callable[[], object]]:
    ctx = http_client()
    auth = requests_auth()

    def ours_next() -> object:
        return ctx.next_authorization("GET")  # type: ignore[attr-defined]

    def theirs_next() -> object:
        return auth.build_digest_header("GET", URL)

    inputs = [
        SecBuffer(SecBufferType.TOKEN, b""),
        SecBuffer(SecBufferType.PKG_PARAMS, b"GET"),
        SecBuffer(SecBufferType.PKG_PARAMS, URI.encode()),
        SecBuffer(SecBufferType.PKG_PARAMS, b""),
    ]

    from opensspi import sspi

    handle = _sspi_http_client()

    def ours_sign() -> object:
        desc = SecBufferDesc([*inputs, SecBuffer(SecBufferType.PADDING, 4000)])
        sspi.MakeSignature(handle, 0, desc, 0)
        return desc[4].buffer

    def ours_sign_buffers() -> object:
        desc = SecBufferDesc([
            SecBuffer(SecBufferType.TOKEN, b""),
            SecBuffer(SecBufferType.PKG_PARAMS, b"GET"),
            SecBuffer(SecBufferType.PKG_PARAMS, URI.encode()),
            SecBuffer(SecBufferType.PKG_PARAMS, b""),
            SecBuffer(SecBufferType.PADDING, 4000),
        ])
        sspi.MakeSignature(handle, 0, desc, 0)
        return desc[4].buffer

    cred = PKG.acquire_credentials(None, CredentialUse.OUTBOUND, AuthIdentity(USER, None, PASSWORD))
    challenge = CHALLENGE.encode()

    def ours_first() -> object:
        first = PKG.client_context(cred, URI, IscReq.USE_HTTP_STYLE, ENV)
        return first.step(StepInput(challenge, params=(b"GET",))).token

    def theirs_first() -> object:
        fresh = HTTPDigestAuth(USER, PASSWORD)
        fresh.init_per_thread_state()
        fresh._thread_local.chal = parse_dict_header(CHALLENGE)
        return fresh.build_digest_header("GET", URL)

    server_cred = PKG.acquire_credentials(
        None, CredentialUse.INBOUND,
        DigestAcceptorConfig(REALM, passwords={USER: PASSWORD}, algorithms=(Algorithm.MD5,)),
    )

    def ours_handshake() -> object:
        client = PKG.client_context(cred, URI, IscReq.USE_HTTP_STYLE, ENV)
        server = PKG.server_context(server_cred, AscReq(ASC_REQ_HTTP), ENV)
        token = server.step(StepInput()).token
        token = client.step(StepInput(token, params=(b"GET",))).token
        token = server.step(StepInput(token, params=(b"GET", URI.encode()))).token
        return client.step(StepInput(token))

    check_same_header(_text(ours_next()), str(theirs_next()))
    first = ours_first()
    assert isinstance(first, bytes)
    check_same_header(first.decode(), str(theirs_first()))
    return {
        "http-next": ours_next, "http-next-requests": theirs_next,
        "http-sign": ours_sign, "http-sign+buffers": ours_sign_buffers,
        "http-first": ours_first, "http-first-requests": theirs_first,
        "http-handshake": ours_handshake,
    }


# -- SASL ----------------------------------------------------------------------------------------


def sasl_pair(qop: Qop, cipher: Cipher | None) -> tuple[object, object]:
    ciphers = (cipher,) if cipher is not None else (Cipher.RC4,)
    config = DigestAcceptorConfig(
        "elwood.innosoft.com", passwords={"chris": "secret"}, ciphers=ciphers,
        maxbuf=MAX_MAXBUF,
    )
    server = PKG.server_context(
        PKG.acquire_credentials(None, CredentialUse.INBOUND, config), AscReq(0), ENV
    )
    options = DigestClientOptions(AuthIdentity("chris", None, "secret"), ciphers=ciphers,
                                  maxbuf=MAX_MAXBUF)
    req = {Qop.AUTH: 0, Qop.AUTH_INT: IscReq.INTEGRITY, Qop.AUTH_CONF: IscReq.CONFIDENTIALITY}
    client = PKG.client_context(
        PKG.acquire_credentials(None, CredentialUse.OUTBOUND, options),
        "imap/elwood.innosoft.com", IscReq(req[qop]), ENV,
    )
    client.step(StepInput())
    token = server.step(StepInput()).token
    token = client.step(StepInput(token)).token
    token = server.step(StepInput(token)).token
    assert client.step(StepInput(token)).status is SecStatus.SEC_E_OK
    return client, server


def sasl_workloads() -> dict[str, Callable[[], object]]:
    def handshake() -> object:
        return sasl_pair(Qop.AUTH_CONF, Cipher.RC4)

    loads: dict[str, Callable[[], object]] = {"sasl-handshake": handshake}
    for name, qop, cipher in (
        ("rc4", Qop.AUTH_CONF, Cipher.RC4), ("3des", Qop.AUTH_CONF, Cipher.TRIPLE_DES),
        ("auth-int", Qop.AUTH_INT, None),
    ):
        for size_name, size in (("1k", 1024), ("1m", 1 << 20)):
            client, server = sasl_pair(qop, cipher)
            message = bytes(range(256)) * (size // 256)

            def seal_unseal(c: object = client, s: object = server, m: bytes = message) -> object:
                return s.unwrap(c.wrap(m))  # type: ignore[attr-defined]

            assert seal_unseal() == message
            loads[f"sasl-{name}-{size_name}"] = seal_unseal
    return loads


def door_workloads() -> dict[str, Callable[[], object]]:
    """The first HTTP response through the Pythonic API, the Windows functions and pywin32."""
    import opensspi
    from opensspi import sspi

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from doors import pywin32_sspi

    cred = opensspi.credentials("WDigest", auth_data=AuthIdentity(USER, None, PASSWORD))
    challenge = CHALLENGE.encode()
    flags = IscReq.USE_HTTP_STYLE

    def pythonic() -> object:
        client = opensspi.client("WDigest", credential=cred, target=URI, flags=flags, env=ENV)
        return client.step(challenge, params=(b"GET",))

    handle = sspi.AcquireCredentialsHandle(None, "WDigest", CredentialUse.OUTBOUND, None,
                                           AuthIdentity(USER, None, PASSWORD)).credential

    def windows() -> object:
        out = SecBufferDesc([SecBuffer(SecBufferType.TOKEN, 4000)])
        inp = SecBufferDesc([SecBuffer(SecBufferType.TOKEN, challenge),
                             SecBuffer(SecBufferType.PKG_PARAMS, b"GET")])
        sspi.InitializeSecurityContext(handle, None, URI, int(flags), 0, 0, inp, 0,
                                       sspi.CtxtHandle(), out, env=ENV)
        return out[0].buffer

    module = pywin32_sspi()
    sspicon, win32security = sys.modules["sspicon"], sys.modules["win32security"]

    def pywin32() -> object:
        client = module.ClientAuth("WDigest", auth_info=(USER, None, PASSWORD), targetspn=URI,
                                   scflags=sspicon.ISC_REQ_USE_HTTP_STYLE)
        # authorize() passes a PySecBufferDescType through: the challenge and the method.
        desc = win32security.PySecBufferDescType()
        desc.append(win32security.PySecBufferType(len(challenge), sspicon.SECBUFFER_TOKEN))
        desc.append(win32security.PySecBufferType(3, sspicon.SECBUFFER_PKG_PARAMS))
        desc[0].Buffer = challenge
        desc[1].Buffer = b"GET"
        return client.authorize(desc)[1][0].Buffer

    for fn in (pythonic, windows, pywin32):
        value = fn()
        token = value.token if hasattr(value, "token") else value
        if isinstance(token, bytes) and token:
            check_same_header(token.decode(), token.decode())
    return {"http-first-pythonic": pythonic, "http-first-sspi": windows,
            "http-first-pywin32": pywin32}


def report() -> None:
    http = http_workloads()
    rates = best_rates(http, 20000)
    doors = door_workloads()
    rates.update(best_rates({**doors, "http-first": http["http-first"],
                             "http-first-requests": http["http-first-requests"]}, 5000))
    rates.update(best_rates({"http-handshake": http["http-handshake"]}, 2000))
    print("HTTP Digest (MD5, qop=auth), responses per second, best of 5 interleaved rounds")
    for ours, theirs in (("http-next", "http-next-requests"), ("http-sign", "http-next-requests"),
                         ("http-sign+buffers", "http-next-requests"),
                         ("http-first", "http-first-requests")):
        ratio = rates[ours] / rates[theirs]
        print(f"  {ours:<17} opensspi {rates[ours]:>9,.0f}/s   requests {rates[theirs]:>9,.0f}/s"
              f"   ratio {ratio:4.2f}x")
    print(f"  http-handshake    opensspi {rates['http-handshake']:>9,.0f}/s   (challenge, response,"
          " verify, Authentication-Info check; both sides)")
    print("First HTTP response through every door (requests: "
          f"{rates['http-first-requests']:,.0f}/s in the same rounds)")
    base = rates["http-first-pythonic"]
    for door in ("http-first", "http-first-pythonic", "http-first-sspi", "http-first-pywin32"):
        ratio = rates[door] / rates["http-first-requests"]
        added = (base / rates[door] - 1) * 100
        extra = "" if door == "http-first-pythonic" else f"   adds {added:+5.1f}% over Pythonic"
        print(f"  {door:<20} {rates[door]:>9,.0f}/s   ratio {ratio:4.2f}x{extra}")
    sasl = sasl_workloads()
    hs = best_rates({"sasl-handshake": sasl.pop("sasl-handshake")}, 500)["sasl-handshake"]
    print(f"SASL DIGEST-MD5 handshake (auth-conf rc4, both sides): {hs:,.0f}/s")
    print("SASL security layer, seal + unseal (wrap on one side, unwrap on the other)")
    for name, fn in sasl.items():
        size = 1024 if name.endswith("1k") else 1 << 20
        number = 5000 if size == 1024 else 20
        rate = best_rates({name: fn}, number, rounds=3)[name]
        print(f"  {name:<20} {rate * size / 1e6:8.1f} MB/s   ({rate:,.0f} messages/s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", nargs=2, metavar=("WORKLOAD", "N"),
                        help="run one workload N times (for profiling)")
    args = parser.parse_args()
    if args.run:
        name, n = args.run[0], int(args.run[1])
        loads = {**http_workloads(), **door_workloads(), **sasl_workloads()}
        if name not in loads:
            sys.exit(f"unknown workload {name!r}; choose from: {', '.join(loads)}")
        run(loads[name], n)
        return
    report()


if __name__ == "__main__":
    main()
