"""KCM credential caches: a client of the Kerberos Cache Manager protocol over its Unix socket.

The protocol is Heimdal's (its ``kcm`` daemon), also spoken by ``sssd-kcm``; MIT describes the
subset its client uses in ``src/include/kcm.h`` and ``src/lib/krb5/ccache/cc_kcm.c``. Facts used
here (MIT ``kcm.h``; the reply framing as Heimdal's ``kcm`` answers it on its socket)::

    request  ::= major (8) = 2, minor (8) = 0, opcode (16), parameters
    frame    ::= length (32), request                        -- client to server
    answer   ::= length (32), transport code (32), reply     -- length counts the reply
    reply    ::= status (32), payload                        -- status 0 = success
    name     ::= bytes, 00                                    -- a cache name, NUL-terminated
    uuids    ::= { uuid (16 bytes) }*                         -- to the end of the payload
    principal, credential ::= the version-4 FILE ccache encodings (see ``ccache``)

All integers are big-endian. Operations used (MIT's names): GET_DEFAULT_CACHE () -> name,
GET_PRINCIPAL (name) -> principal (Heimdal: status 0 and an empty payload when the cache has none),
GET_CRED_UUID_LIST (name) -> uuids, GET_CRED_BY_UUID (name, uuid) -> credential,
GET_KDC_OFFSET (name) -> offset (32), GET_CACHE_UUID_LIST () -> uuids, GET_CACHE_BY_UUID (uuid) ->
name, INITIALIZE (name, principal) -> (), SET_KDC_OFFSET (name, offset) -> (), STORE (name,
credential) -> ().

Cache names (``KCM:`` + residual): ``KCM:`` is the collection, whose primary is what
GET_DEFAULT_CACHE answers; ``KCM:<uid>:<name>`` (or any other residual) is that one cache. The
socket is krb5.conf ``[libdefaults] kcm_socket``, default ``/var/run/.heim_org.h5l.kcm-socket``.

Layout: the message layer (:func:`build_request`, :func:`frame_request`,
:func:`parse_answer_header`, :func:`parse_reply` and the payload parsers) is sans-I/O; each
cache operation is a *procedure*, a generator that yields request bytes and is sent the reply
bytes, so a test can script a whole conversation. :func:`run` drives a procedure over a
:class:`~opensspi.transport.UnixStream` with one deadline. Errors: a server that cannot be
reached, a status other than 0 or a cut-off answer raise :class:`NoCredentials`; a reply that
does not parse raises :class:`DecodeError`. Both name the cache.

Deviation: MIT first tries its own GET_CRED_LIST extension (13001) and falls back to the UUID
calls; we use the UUID calls only, which both servers we test against (Heimdal's kcm and
sssd-kcm) answer.
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Generator
from dataclasses import dataclass
from enum import IntEnum
from typing import TypeVar

from ...errors import DecodeError, NoCredentials
from ...transport import UnixStream
from .ccache import (
    HEADER_KDC_OFFSET,
    Ccache,
    CcacheCredential,
    CcacheHeaderTag,
    CcachePrincipal,
    dump_credential,
    dump_principal,
    parse_credential,
    parse_principal,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "KCM_VERSION",
    "MAX_REPLY_SIZE",
    "KcmOp",
    "KcmReply",
    "Procedure",
    "build_request",
    "default_name",
    "frame_request",
    "list_caches",
    "parse_answer_header",
    "parse_name",
    "parse_reply",
    "parse_uuid_list",
    "principal_of",
    "read_cache",
    "run",
    "status_name",
    "write_cache",
]

KCM_VERSION = (2, 0)
UUID_LEN = 16
MAX_REPLY_SIZE = 10 * 1024 * 1024
"""The largest answer accepted (MIT's limit): 10 MiB."""
DEFAULT_TIMEOUT = 5.0
"""Seconds one whole KCM conversation may take."""

# com_err codes (krb5 error table) a KCM server answers when a cache or credential is absent.
KRB5_CC_NOTFOUND = -1765328243
KRB5_CC_END = -1765328242
KRB5_FCC_NOFILE = -1765328189
_STATUS_NAMES = {
    KRB5_CC_NOTFOUND: "KRB5_CC_NOTFOUND",
    KRB5_CC_END: "KRB5_CC_END",
    KRB5_FCC_NOFILE: "KRB5_FCC_NOFILE",
    -1765328188: "KRB5_FCC_INTERNAL",
    -1765328185: "KRB5_CC_FORMAT",
    -1765328137: "KRB5_CC_NOSUPP",
    13: "EACCES",
    1: "EPERM",
    22: "EINVAL",
}
_ABSENT = (KRB5_CC_NOTFOUND, KRB5_CC_END, KRB5_FCC_NOFILE)

T = TypeVar("T")
Procedure = Generator[bytes, bytes, T]
"""A KCM operation: yields each request (unframed), is sent each reply (status + payload)."""


class KcmOp(IntEnum):
    """KCM opcodes (MIT ``kcm.h``, Heimdal ``kcm_protocol.h``)."""

    NOOP = 0
    GET_NAME = 1
    RESOLVE = 2
    GEN_NEW = 3
    INITIALIZE = 4
    DESTROY = 5
    STORE = 6
    RETRIEVE = 7
    GET_PRINCIPAL = 8
    GET_CRED_UUID_LIST = 9
    GET_CRED_BY_UUID = 10
    REMOVE_CRED = 11
    SET_FLAGS = 12
    CHOWN = 13
    CHMOD = 14
    GET_INITIAL_TICKET = 15
    GET_TICKET = 16
    MOVE_CACHE = 17
    GET_CACHE_UUID_LIST = 18
    GET_CACHE_BY_UUID = 19
    GET_DEFAULT_CACHE = 20
    SET_DEFAULT_CACHE = 21
    GET_KDC_OFFSET = 22
    SET_KDC_OFFSET = 23


@dataclass(frozen=True, slots=True)
class KcmReply:
    """A decoded reply: ``status`` (0 = success, else a com_err code) and the payload."""

    status: int
    payload: bytes


# -- messages --------------------------------------------------------------------------------------


def _cache_name_bytes(name: str) -> bytes:
    raw = name.encode("utf-8", "surrogateescape")
    if b"\0" in raw:
        raise DecodeError(f"the KCM cache name {name!r} contains a NUL byte")
    return raw + b"\0"


def build_request(op: KcmOp, name: str | None = None, payload: bytes = b"") -> bytes:
    """A request: version 2.0, ``op``, the NUL-terminated cache ``name`` if any, ``payload``."""
    head = struct.pack(">BBH", *KCM_VERSION, int(op))
    return head + (_cache_name_bytes(name) if name is not None else b"") + payload


def frame_request(request: bytes) -> bytes:
    """The request as written to the socket: its 32-bit length, then the request."""
    return struct.pack(">I", len(request)) + request


def parse_answer_header(header: bytes, max_size: int = MAX_REPLY_SIZE) -> tuple[int, int]:
    """The 8 bytes before a reply: ``(length, transport code)``.

    Raises:
        DecodeError: not 8 bytes, or a length above ``max_size``.
    """
    if len(header) != 8:
        raise DecodeError(f"a KCM answer header is 8 bytes, not {len(header)}")
    length, code = struct.unpack(">Ii", header)
    if length > max_size:
        raise DecodeError(f"the KCM answer announces {length} bytes (limit {max_size})")
    return length, code


def parse_reply(body: bytes) -> KcmReply:
    """Split a reply into status and payload.

    Raises:
        DecodeError: shorter than the 4-byte status.
    """
    if len(body) < 4:
        raise DecodeError(f"a KCM reply of {len(body)} bytes has no status")
    (status,) = struct.unpack(">i", body[:4])
    return KcmReply(status, bytes(body[4:]))


def parse_name(payload: bytes) -> str:
    """A NUL-terminated cache name that fills the payload.

    Raises:
        DecodeError: no NUL at the end, a NUL inside, or an empty name.
    """
    if not payload.endswith(b"\0") or b"\0" in payload[:-1] or len(payload) < 2:
        raise DecodeError("a KCM cache name must be non-empty and end with its only NUL byte")
    return payload[:-1].decode("utf-8", "surrogateescape")


def parse_uuid_list(payload: bytes) -> tuple[bytes, ...]:
    """A list of 16-byte UUIDs filling the payload.

    Raises:
        DecodeError: a length that is not a multiple of 16.
    """
    if len(payload) % UUID_LEN:
        raise DecodeError(f"a KCM UUID list of {len(payload)} bytes is not a multiple of 16")
    return tuple(payload[i : i + UUID_LEN] for i in range(0, len(payload), UUID_LEN))


def status_name(status: int) -> str:
    """``KRB5_CC_END`` and the like for the codes seen in practice, else the number."""
    return _STATUS_NAMES.get(status, f"unknown status {status}")


class _Absent(Exception):
    """Internal: the server said the cache or credential does not exist."""


def _call(op: KcmOp, name: str | None = None, payload: bytes = b"") -> Procedure[bytes]:
    """One request; returns the payload of a successful reply.

    Raises:
        _Absent: the status says the cache is missing.
        NoCredentials: any other non-zero status.
    """
    reply = parse_reply((yield build_request(op, name, payload)))
    if reply.status in _ABSENT:
        raise _Absent(status_name(reply.status))
    if reply.status != 0:
        raise NoCredentials(
            f"the KCM server answered {op.name} with error {status_name(reply.status)}"
        )
    return reply.payload


# -- procedures ------------------------------------------------------------------------------------


def default_name() -> Procedure[str]:
    """GET_DEFAULT_CACHE: the collection's primary cache."""
    return parse_name((yield from _call(KcmOp.GET_DEFAULT_CACHE)))


def principal_of(name: str) -> Procedure[CcachePrincipal | None]:
    """GET_PRINCIPAL; None when the cache does not exist or is not initialized."""
    try:
        payload = yield from _call(KcmOp.GET_PRINCIPAL, name)
    except _Absent:
        return None
    if not payload:
        return None  # Heimdal: status 0 and no principal for a cache never initialized
    return parse_principal(payload)


def read_cache(name: str | None) -> Procedure[tuple[str, Ccache]]:
    """The whole cache ``name`` (None: the primary), as ``(name, Ccache)``.

    Raises:
        NoCredentials: the cache does not exist (or the server refuses).
        DecodeError: a reply does not parse.
    """
    if not name:
        try:
            name = yield from default_name()
        except _Absent:
            raise NoCredentials("the KCM server has no default cache") from None
    principal = yield from principal_of(name)
    if principal is None:
        raise NoCredentials(f"the KCM server has no cache named {name!r}")
    tags: tuple[CcacheHeaderTag, ...] = ()
    try:
        offset = yield from _call(KcmOp.GET_KDC_OFFSET, name)
    except (_Absent, NoCredentials):
        offset = b""
    if offset:
        if len(offset) != 4:
            raise DecodeError(f"a KCM KDC offset is 4 bytes, not {len(offset)}")
        seconds = struct.unpack(">i", offset)[0]
        if seconds:
            tags = (CcacheHeaderTag(HEADER_KDC_OFFSET, struct.pack(">ii", seconds, 0)),)
    try:
        uuids = parse_uuid_list((yield from _call(KcmOp.GET_CRED_UUID_LIST, name)))
    except _Absent:
        uuids = ()
    creds: list[CcacheCredential] = []
    for uuid in uuids:
        try:
            payload = yield from _call(KcmOp.GET_CRED_BY_UUID, name, uuid)
        except _Absent:
            continue  # removed since the list was made
        creds.append(parse_credential(payload))
    return name, Ccache(principal, tuple(creds), tags)


def write_cache(name: str | None, ccache: Ccache) -> Procedure[str]:
    """Replace the cache ``name`` (None: the primary) with ``ccache``: INITIALIZE, then STORE
    each entry (what ``kinit`` does). Returns the name written."""
    if not name:
        try:
            name = yield from default_name()
        except _Absent:
            raise NoCredentials("the KCM server has no default cache to write to") from None
    try:
        yield from _call(KcmOp.INITIALIZE, name, dump_principal(ccache.default_principal))
        offset = ccache.kdc_offset
        if offset is not None and offset[0]:
            # as MIT: the offset is a hint, and a server that keeps none is no reason to fail
            with contextlib.suppress(NoCredentials, _Absent):
                yield from _call(KcmOp.SET_KDC_OFFSET, name, struct.pack(">i", offset[0]))
        for cred in ccache.entries:
            yield from _call(KcmOp.STORE, name, dump_credential(cred))
    except _Absent as exc:
        raise NoCredentials(f"the KCM server refused to write {name!r} ({exc})") from None
    return name


def list_caches() -> Procedure[tuple[str, ...]]:
    """Every cache of the collection, the primary first (MIT's KCM collection cursor)."""
    try:
        uuids = parse_uuid_list((yield from _call(KcmOp.GET_CACHE_UUID_LIST)))
    except _Absent:
        return ()
    try:
        primary = yield from default_name()
    except _Absent:
        primary = ""
    names: list[str] = [primary] if primary else []
    for uuid in uuids:
        try:
            found = parse_name((yield from _call(KcmOp.GET_CACHE_BY_UUID, None, uuid)))
        except _Absent:
            continue
        if found not in names:
            names.append(found)
    return tuple(names)


# -- the blocking driver ---------------------------------------------------------------------------


def run(procedure: Procedure[T], socket_path: str, cache: str,
        timeout: float | None = None) -> T:
    """Drive ``procedure`` over one connection to the KCM server at ``socket_path``.

    ``cache`` (``KCM:...``) names the cache in error messages. The whole conversation is bounded
    by ``timeout`` seconds (default :data:`DEFAULT_TIMEOUT`).

    Raises:
        NoCredentials: no server, a refused operation, a transport error code, a cut-off answer or
            a timeout; the message names the cache and the socket.
        DecodeError: a reply that does not parse (the message names the cache).
    """
    if socket_path == "-":
        raise NoCredentials(f"KCM is disabled (kcm_socket = -), so {cache} cannot be used.")
    try:
        with UnixStream(socket_path, DEFAULT_TIMEOUT if timeout is None else timeout) as stream:
            request = next(procedure)
            while True:
                stream.send(frame_request(request))
                length, code = parse_answer_header(stream.recv_exactly(8))
                body = stream.recv_exactly(length)
                if code != 0:
                    raise NoCredentials(f"the KCM server failed the request ({status_name(code)})")
                request = procedure.send(body)
    except StopIteration as done:
        result: T = done.value
        return result
    except NoCredentials as exc:
        raise NoCredentials(f"Credential cache {cache} at {socket_path}: {exc.message}.") from None
    except _Absent as exc:
        raise NoCredentials(
            f"Credential cache {cache} at {socket_path}: not found ({exc})."
        ) from None
    except DecodeError as exc:
        raise DecodeError(
            f"the KCM server at {socket_path} sent a malformed answer for {cache} ({exc})"
        ) from None
    except (FileNotFoundError, ConnectionRefusedError):
        raise NoCredentials(
            f"Nothing listens at {socket_path}, so there is no KCM server for {cache} (start "
            "kcm or sssd-kcm, or set kcm_socket in krb5.conf)."
        ) from None
    except (OSError, TimeoutError) as exc:
        reason = "no complete answer in time" if isinstance(exc, TimeoutError) else (
            exc.strerror or str(exc)
        )
        raise NoCredentials(
            f"The KCM server at {socket_path} failed for {cache} ({reason})."
        ) from None
    finally:
        procedure.close()
