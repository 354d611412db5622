"""Logging: the ``opensspi`` logger hierarchy and the few records the library emits.

Loggers (standard :mod:`logging`; nothing is configured here, and a
:class:`logging.NullHandler` on ``opensspi`` keeps a library silent by default):

- ``opensspi.ntlm``, ``opensspi.kerberos``, ``opensspi.digest``, ``opensspi.negotiate``,
  ``opensspi.schannel``: one DEBUG record per handshake leg — package, client or server, the
  status name, the context's flags by name, and a summary (type and length) of the token that
  came in and the one that went out.
- ``opensspi.kerberos.kdc``: one DEBUG record per KDC exchange — realm, the KDC that answered,
  transport (udp/tcp), elapsed milliseconds, and the KRB-ERROR code name when the reply is one;
  INFO when a KDC fails and the next one is tried.
- ``opensspi.negotiate``: INFO when Negotiate falls back from one mechanism to another
  (:func:`negotiate_fallback`).
- ``opensspi.sspi``: the legs of a package with no logger of its own (one registered at run
  time by a third party).

Rules of this module:

- A record never carries a secret: no password, NT hash, key, session key, derived key, nor the
  content of a token or message (only its kind and length). Names, realms, status names and
  flags are not secrets.
- Each helper asks ``logger.isEnabledFor`` once and returns at once when the level is off, so a
  call site costs a function call and an attribute lookup when logging is quiet.
- Call sites in the rest of the library are one line each; everything that formats lives here.
- Only the standard library and :mod:`opensspi.constants` are imported at module level (this
  module sits beside the foundations). Naming a KRB-ERROR code imports the Kerberos package's
  number table lazily, and only when the DEBUG record is going to be written.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from enum import IntFlag
from typing import TYPE_CHECKING

from .constants import AscRet, IscRet, SecStatus
from .errors import DecodeError, SspiError

if TYPE_CHECKING:
    from .provider import SecurityContext, Step, StepInput
    from .transport import KdcAddress

__all__ = [
    "LOGGER_NAMES",
    "handshake_exception",
    "handshake_failed",
    "handshake_leg",
    "handshake_logged",
    "kdc_exchange",
    "kdc_failover",
    "logger_for_package",
    "negotiate_fallback",
    "token_summary",
]

ROOT = logging.getLogger("opensspi")
ROOT.addHandler(logging.NullHandler())

_PACKAGE_LOGGERS = {
    "ntlm": "opensspi.ntlm",
    "kerberos": "opensspi.kerberos",
    "wdigest": "opensspi.digest",
    "digest": "opensspi.digest",
    "negotiate": "opensspi.negotiate",
    "schannel": "opensspi.schannel",
    "microsoft unified security protocol provider": "opensspi.schannel",
}

LOGGER_NAMES = (
    "opensspi",
    "opensspi.ntlm",
    "opensspi.kerberos",
    "opensspi.kerberos.kdc",
    "opensspi.digest",
    "opensspi.negotiate",
    "opensspi.schannel",
    "opensspi.sspi",
)
"""Every logger the library writes to (a test sets each to DEBUG)."""

KDC_LOG = logging.getLogger("opensspi.kerberos.kdc")
NEGOTIATE_LOG = logging.getLogger("opensspi.negotiate")


_BY_PACKAGE: dict[str, logging.Logger] = {}


def logger_for_package(name: str) -> logging.Logger:
    """The logger of the package called ``name`` (``"NTLM"`` -> ``opensspi.ntlm``).

    Looked up once per package name: ``logging.getLogger`` takes a lock, a dict lookup does not.
    """
    found = _BY_PACKAGE.get(name)
    if found is None:
        found = logging.getLogger(_PACKAGE_LOGGERS.get(name.lower(), "opensspi.sspi"))
        _BY_PACKAGE[name] = found
    return found


# -- token summaries ------------------------------------------------------------------------------

_NTLM_TYPES = {1: "NTLM NEGOTIATE", 2: "NTLM CHALLENGE", 3: "NTLM AUTHENTICATE"}
_KRB_TAGS = {
    0x6A: "Kerberos AS-REQ",
    0x6B: "Kerberos AS-REP",
    0x6C: "Kerberos TGS-REQ",
    0x6D: "Kerberos TGS-REP",
    0x6E: "Kerberos AP-REQ",
    0x6F: "Kerberos AP-REP",
    0x76: "Kerberos KRB-CRED",
    0x7E: "Kerberos KRB-ERROR",
}
_GSS_OIDS = {
    bytes.fromhex("2b0601050502"): "SPNEGO NegTokenInit",
    bytes.fromhex("2a864886f712010202"): "Kerberos",
    bytes.fromhex("2a864882f712010202"): "Kerberos",
    bytes.fromhex("2a864886f71201020203"): "Kerberos user-to-user",
    bytes.fromhex("2b06010401823702020a"): "NTLM",
}
_KRB_TOK_IDS = {
    b"\x01\x00": "AP-REQ",
    b"\x02\x00": "AP-REP",
    b"\x03\x00": "KRB-ERROR",
    b"\x04\x00": "TGT-REQ",
    b"\x04\x01": "TGT-REP",
}
_TLS_TYPES = {20: "ChangeCipherSpec", 21: "Alert", 22: "Handshake", 23: "ApplicationData"}


def token_summary(token: bytes | None) -> str:
    """What a token is and how long, never what it holds: ``"NTLM CHALLENGE, 178 bytes"``.

    Recognition is a look at the first bytes only (the inspector, ``opensspi inspect``, does
    the real parsing); an unknown token is ``"token, N bytes"``.
    """
    if not token:
        return "none"
    return f"{_kind(bytes(token[:64]))}, {len(token)} bytes"


def _kind(head: bytes) -> str:
    if head.startswith(b"NTLMSSP\0") and len(head) >= 12:
        return _NTLM_TYPES.get(int.from_bytes(head[8:12], "little"), "NTLM message")
    first = head[0]
    if first in _KRB_TAGS:
        return _KRB_TAGS[first]
    if first == 0xA0:
        return "SPNEGO NegTokenInit"
    if first == 0xA1:
        return "SPNEGO NegTokenResp"
    if first == 0x60:
        return _gss_kind(head)
    if first in _TLS_TYPES and len(head) >= 3 and head[1] == 3:
        return f"TLS {_TLS_TYPES[first]} record"
    if head[:2] in (b"\x04\x04", b"\x05\x04"):
        return "GSS MIC token" if head[1] == 4 and head[0] == 4 else "GSS Wrap token"
    text = head.lstrip()
    if text[:7].lower() == b"digest " or b"nonce=" in head or b"realm=" in head:
        return "Digest directives"
    if text[:9].lower() in (b"username=", b"rspauth=", b"nextnonce"):
        return "Digest directives"
    return "token"


def _gss_kind(head: bytes) -> str:
    """Name an RFC 2743 §3.1 framed token from its OID (and Kerberos TOK_ID)."""
    pos = 1
    if pos >= len(head):
        return "GSS token"
    length = head[pos]
    pos += 1 + (length & 0x7F if length & 0x80 else 0)
    if pos + 2 > len(head) or head[pos] != 0x06:
        return "GSS token"
    oid_len = head[pos + 1]
    oid = head[pos + 2 : pos + 2 + oid_len]
    name = _GSS_OIDS.get(oid, "GSS token")
    tok_id = head[pos + 2 + oid_len : pos + 4 + oid_len]
    if name.startswith("Kerberos") and tok_id in _KRB_TOK_IDS:
        return f"{name} {_KRB_TOK_IDS[tok_id]}"
    return name


def _flag_names(value: int, kind: type[IntFlag]) -> str:
    names = [m.name for m in kind if m.value and value & m.value == m.value and m.name]
    return "|".join(names) if names else "0"


def _status_name(status: int) -> str:
    try:
        return SecStatus(status).name
    except ValueError:
        return f"0x{status & 0xFFFFFFFF:08X}"


# -- handshake legs -------------------------------------------------------------------------------


def handshake_leg(context: SecurityContext, inp: StepInput, step: Step) -> None:
    """DEBUG: one leg of a handshake finished with ``step.status``."""
    name = context.info.name
    log = _BY_PACKAGE.get(name) or logger_for_package(name)
    if not log.isEnabledFor(logging.DEBUG):
        return
    side = "client" if context.is_client else "server"
    kind: type[IntFlag] = IscRet if context.is_client else AscRet
    log.debug(
        "%s %s leg: %s; flags %s; in %s; out %s",
        context.info.name, side, _status_name(step.status),
        _flag_names(context.flags, kind), token_summary(inp.token), token_summary(step.token),
        extra={"package": context.info.name, "side": side, "status": _status_name(step.status)},
    )


def handshake_logged(
    drive: Callable[[SecurityContext, StepInput], Step],
) -> Callable[[SecurityContext, StepInput], Step]:
    """Decorate a ``drive(context, inp) -> Step`` function so each call (one leg, KDC exchanges
    included) writes :func:`handshake_leg` or, when it raises, :func:`handshake_failed`."""

    @functools.wraps(drive)
    def logged(context: SecurityContext, inp: StepInput) -> Step:
        try:
            step = drive(context, inp)
        except Exception as exc:
            handshake_exception(context, inp, exc)
            raise
        handshake_leg(context, inp, step)
        return step

    return logged


def handshake_exception(context: SecurityContext, inp: StepInput, exc: BaseException) -> None:
    """DEBUG: a leg raised ``exc``; logged with the status the error boundary gives it.

    An :class:`~opensspi.errors.SspiError` keeps its status and message; a parser's
    ``DecodeError`` is ``SEC_E_INVALID_TOKEN``; anything else is ``SEC_E_INTERNAL_ERROR`` and
    only its type is named (its text could quote peer bytes), as
    :func:`opensspi.errors.boundary_error` does.
    """
    if isinstance(exc, SspiError):
        handshake_failed(context, inp, exc.status, str(exc))
    elif isinstance(exc, DecodeError):
        handshake_failed(context, inp, SecStatus.SEC_E_INVALID_TOKEN, f"malformed token: {exc}")
    else:
        handshake_failed(context, inp, SecStatus.SEC_E_INTERNAL_ERROR, type(exc).__name__)


def handshake_failed(context: SecurityContext, inp: StepInput, status: int, reason: str) -> None:
    """DEBUG: a leg of a handshake failed with ``status`` (an SspiError's ``.status``).

    ``reason`` is the exception's message; the library's messages never hold secrets.
    """
    log = logger_for_package(context.info.name)
    if not log.isEnabledFor(logging.DEBUG):
        return
    side = "client" if context.is_client else "server"
    log.debug(
        "%s %s leg failed: %s (%s); in %s",
        context.info.name, side, _status_name(status), reason, token_summary(inp.token),
        extra={"package": context.info.name, "side": side, "status": _status_name(status)},
    )


# -- KDC exchanges --------------------------------------------------------------------------------


def kdc_exchange(realm: str | None, kdc: KdcAddress, started: float, reply: bytes) -> None:
    """DEBUG: a KDC of ``realm`` answered; ``started`` is the ``time.monotonic()`` of the
    exchange's start, so the elapsed time includes attempts at KDCs that failed before (each of
    those has its INFO record). Names the KRB-ERROR code when the reply is a KRB-ERROR.

    Deviation: when a UDP reply was KRB_ERR_RESPONSE_TOO_BIG and the same KDC answered over
    TCP, the record names the KDC entry as listed (udp); the INFO record before it says
    "retried over TCP".
    """
    if not KDC_LOG.isEnabledFor(logging.DEBUG):
        return
    elapsed_ms = (time.monotonic() - started) * 1000.0
    error = _krb_error_name(reply)
    KDC_LOG.debug(
        "KDC exchange: realm %s, KDC %s:%d, transport %s, %.1f ms, %s",
        realm or "?", kdc.host, kdc.port, kdc.transport, elapsed_ms,
        f"KRB-ERROR {error}" if error else f"reply {token_summary(reply)}",
        extra={"realm": realm, "kdc": f"{kdc.host}:{kdc.port}", "transport": kdc.transport,
               "elapsed_ms": elapsed_ms, "error": error},
    )


def kdc_failover(realm: str | None, kdc: str, reason: str) -> None:
    """INFO: a KDC failed (``reason``); the next one (or the next pass) is tried."""
    if not KDC_LOG.isEnabledFor(logging.INFO):
        return
    KDC_LOG.info(
        "KDC %s for realm %s failed: %s; trying the next KDC", kdc, realm or "?", reason,
        extra={"realm": realm, "kdc": kdc},
    )


def _krb_error_name(reply: bytes) -> str | None:
    if not reply or reply[0] != 0x7E:
        return None
    # Lazy: a foundation module must not import a package at import time.
    from .packages.kerberos.asn1 import ErrorCode
    from .transport import krb_error_code

    code = krb_error_code(reply)
    if code is None:
        return None
    try:
        return ErrorCode(code).name
    except ValueError:
        return str(code)


# -- fallbacks ------------------------------------------------------------------------------------


def negotiate_fallback(chosen: str, instead_of: str, reason: str) -> None:
    """INFO: Negotiate chose ``chosen`` (e.g. ``"NTLM"``) instead of ``instead_of`` because
    ``reason`` (e.g. "no Kerberos ticket for HTTP/web: KDC_ERR_S_PRINCIPAL_UNKNOWN")."""
    if not NEGOTIATE_LOG.isEnabledFor(logging.INFO):
        return
    NEGOTIATE_LOG.info(
        "Negotiate chose %s instead of %s: %s", chosen, instead_of, reason,
        extra={"chosen": chosen, "instead_of": instead_of},
    )
