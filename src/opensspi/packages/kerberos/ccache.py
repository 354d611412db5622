"""MIT credential caches: the FILE format (versions 4 and 3), and the FILE:, DIR: and MEMORY: types.

Format: MIT krb5 ``doc/formats/ccache_file_format.rst``, "Credential cache file format"
(https://web.mit.edu/kerberos/krb5-latest/doc/formats/ccache_file_format.html). Big-endian
throughout (versions 3 and 4)::

    file       ::= 05 vv, header (version 4 only), default principal, credential*   (to EOF)
    header     ::= length (16), { tag (16), length (16), value }*      tag 1 = KDC time offset
    principal  ::= name type (32), count (32), realm (data), component (data)*
    data       ::= length (32), bytes
    credential ::= client, server (principal), keyblock, authtime, starttime, endtime,
                   renew_till (32 each), is_skey (8), ticket_flags (32), addresses, authdata,
                   ticket (data), second_ticket (data)
    keyblock   ::= enctype (16) [written twice in version 3], data
    addresses  ::= count (32), { addrtype (16), data }*
    authdata   ::= count (32), { ad_type (16), data }*

Configuration entries (server realm ``X-CACHECONF:``, first component ``krb5_ccache_conf_data``)
are kept in :attr:`Ccache.entries` in file order so a rewrite reproduces them, and left out of
:attr:`Ccache.credentials`. Versions 1 and 2 (native byte order) are refused.

Cache names (``KRB5CCNAME``, else krb5.conf ``default_ccache_name``, else
``FILE:/tmp/krb5cc_%{uid}``): ``FILE:path`` (or a bare path), ``DIR:dir`` (the file named by
``dir/primary``, default ``tkt``), ``DIR::dir/tktXXX`` (that one file), ``MEMORY:name`` (this
process only), ``KCM:`` and ``KCM:<uid>:<name>`` (a KCM server, see ``kcm``), and
``KEYRING:anchor:collection[:name]`` (the Linux kernel keyring, see ``keyring``). ``API:`` (the
macOS ticket store, reachable only through Apple's Kerberos framework) is refused with a message
saying how to get a FILE: cache.

Collections (:func:`collection_caches`): ``DIR:dir``, ``KCM:`` and ``KEYRING:anchor:collection``
name a set of caches; reading the name gives its primary, as MIT does, and a caller looking for
one principal walks the whole set (what ``kswitch`` chooses among).

Writing is opt-in: nothing here writes unless :meth:`Ccache.save` or :func:`store_ccache` is
called. A save replaces the file atomically (a 0600 temporary file in the same directory, then
``rename``). Deviation: MIT appends to the file under an fcntl lock; a concurrent MIT writer's
append can be lost across our replace, never half-read.

String fields are decoded as UTF-8 with ``surrogateescape``, so any bytes survive a rewrite.
"""

from __future__ import annotations

import contextlib
import os
import struct
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import IntFlag
from typing import Literal

from ...errors import DecodeError, InvalidParameter, NoCredentials, UnsupportedFunction
from .config import DEFAULT_CCACHE_NAME, DEFAULT_KCM_SOCKET, Krb5Config, expand_path
from .parsed import load_file

__all__ = [
    "CONFIG_REALM",
    "Ccache",
    "CcacheAddress",
    "CcacheAuthData",
    "CcacheCredential",
    "CcacheHeaderTag",
    "CcacheName",
    "CcachePrincipal",
    "TicketFlags",
    "collection_caches",
    "default_ccache_name",
    "dump_credential",
    "dump_principal",
    "load_ccache",
    "parse_credential",
    "parse_principal",
    "resolve_ccache_name",
    "store_ccache",
]

CONFIG_REALM = "X-CACHECONF:"
CONFIG_COMPONENT = "krb5_ccache_conf_data"
HEADER_KDC_OFFSET = 1
KRB5_NT_PRINCIPAL = 1

_ENCODING = "utf-8"
_ERRORS = "surrogateescape"


class TicketFlags(IntFlag):
    """TicketFlags (RFC 4120 5.3) as MIT stores them: bit 0 of the BIT STRING is 0x80000000."""

    RESERVED = 0x80000000
    FORWARDABLE = 0x40000000
    FORWARDED = 0x20000000
    PROXIABLE = 0x10000000
    PROXY = 0x08000000
    MAY_POSTDATE = 0x04000000
    POSTDATED = 0x02000000
    INVALID = 0x01000000
    RENEWABLE = 0x00800000
    INITIAL = 0x00400000
    PRE_AUTHENT = 0x00200000
    HW_AUTHENT = 0x00100000
    TRANSITED_POLICY_CHECKED = 0x00080000
    OK_AS_DELEGATE = 0x00040000
    ENC_PA_REP = 0x00010000
    ANONYMOUS = 0x00008000


# -- values -------------------------------------------------------------------------------------

_ESCAPES = {"\n": "\\n", "\t": "\\t", "\b": "\\b", "\0": "\\0", "\\": "\\\\"}
_UNESCAPES = {"n": "\n", "t": "\t", "b": "\b", "0": "\0"}


def _escape(text: str, specials: str) -> str:
    return "".join(_ESCAPES.get(c) or (f"\\{c}" if c in specials else c) for c in text)


@dataclass(frozen=True, slots=True)
class CcachePrincipal:
    """A principal name: name type, components, realm (``HTTP/host@REALM``)."""

    name_type: int
    components: tuple[str, ...]
    realm: str

    def __str__(self) -> str:
        """The name as ``krb5_unparse_name`` writes it, with ``\\/``, ``\\@`` escapes."""
        name = "/".join(_escape(c, "/@") for c in self.components)
        return f"{name}@{_escape(self.realm, '@')}"

    @classmethod
    def parse(
        cls, text: str, default_realm: str | None = None, name_type: int = KRB5_NT_PRINCIPAL
    ) -> CcachePrincipal:
        """Parse ``a/b@REALM`` (``krb5_parse_name`` syntax, backslash escapes).

        Raises:
            InvalidParameter: no realm and no ``default_realm``, or an empty name.
        """
        components: list[str] = []
        current: list[str] = []
        realm: list[str] | None = None
        i = 0
        while i < len(text):
            ch = text[i]
            if ch == "\\" and i + 1 < len(text):
                i += 1
                ch = _UNESCAPES.get(text[i], text[i])
                (realm if realm is not None else current).append(ch)
            elif ch == "/" and realm is None:
                components.append("".join(current))
                current = []
            elif ch == "@" and realm is None:
                realm = []
            else:
                (realm if realm is not None else current).append(ch)
            i += 1
        components.append("".join(current))
        if realm is None:
            if default_realm is None:
                raise InvalidParameter(
                    f"The principal name {text!r} has no @REALM and no default realm is set."
                )
            realm = list(default_realm)
        if components == [""]:
            raise InvalidParameter(f"The principal name {text!r} is empty.")
        return cls(name_type, tuple(components), "".join(realm))

    def same_name(self, other: CcachePrincipal) -> bool:
        """True when components and realm match; the name type is ignored, as MIT does."""
        return self.components == other.components and self.realm == other.realm


@dataclass(frozen=True, slots=True)
class CcacheAddress:
    """A HostAddress: ``addrtype`` (2 = IPv4, 24 = IPv6) and the address bytes."""

    addrtype: int
    address: bytes


@dataclass(frozen=True, slots=True)
class CcacheAuthData:
    """One AuthorizationData element: ``ad_type`` and its bytes."""

    ad_type: int
    data: bytes


@dataclass(frozen=True, slots=True)
class CcacheHeaderTag:
    """A version-4 header field; tag 1 is the KDC time offset (seconds, microseconds)."""

    tag: int
    value: bytes


@dataclass(frozen=True, slots=True)
class CcacheCredential:
    """One cached credential. ``key`` is the session key and never appears in ``repr``.

    Times are POSIX seconds (unsigned 32-bit, as stored); ``ticket`` is the DER Ticket.
    """

    client: CcachePrincipal
    server: CcachePrincipal
    enctype: int
    key: bytes = field(repr=False)
    authtime: int = 0
    starttime: int = 0
    endtime: int = 0
    renew_till: int = 0
    is_skey: bool = False
    ticket_flags: int = 0
    addresses: tuple[CcacheAddress, ...] = ()
    authdata: tuple[CcacheAuthData, ...] = ()
    ticket: bytes = field(default=b"", repr=False)
    second_ticket: bytes = field(default=b"", repr=False)

    @property
    def is_config(self) -> bool:
        """True for a cache configuration entry (server realm ``X-CACHECONF:``)."""
        return self.server.realm == CONFIG_REALM

    @property
    def flags(self) -> TicketFlags:
        return TicketFlags(self.ticket_flags)

    @property
    def effective_starttime(self) -> int:
        """``starttime``, or ``authtime`` when the ticket has none (RFC 4120 5.3)."""
        return self.starttime or self.authtime


def _config_entry_key(cred: CcacheCredential) -> tuple[str, str | None] | None:
    comps = cred.server.components
    if not cred.is_config or len(comps) < 2 or comps[0] != CONFIG_COMPONENT:
        return None
    return comps[1], comps[2] if len(comps) > 2 else None


@dataclass(frozen=True, slots=True)
class Ccache:
    """A credential cache.

    Attributes:
        default_principal: the cache's client.
        entries: every credential in file order, configuration entries included.
        header_tags: the version-4 header fields (tag 1: KDC time offset).
        version: 4 (current) or 3.
    """

    default_principal: CcachePrincipal
    entries: tuple[CcacheCredential, ...] = ()
    header_tags: tuple[CcacheHeaderTag, ...] = ()
    version: int = 4

    def __post_init__(self) -> None:
        if self.version not in (3, 4):
            raise InvalidParameter(
                f"Only ccache versions 3 and 4 are supported, not {self.version}."
            )

    @property
    def credentials(self) -> tuple[CcacheCredential, ...]:
        """The real credentials: :attr:`entries` without the ``X-CACHECONF:`` ones."""
        return tuple(c for c in self.entries if not c.is_config)

    @property
    def config_entries(self) -> tuple[CcacheCredential, ...]:
        return tuple(c for c in self.entries if c.is_config)

    def config(self, key: str, principal: CcachePrincipal | None = None) -> bytes | None:
        """The value of configuration entry ``key`` (``pa_type``, ``fast_avail``, ...), or None."""
        wanted = str(principal) if principal is not None else None
        for cred in self.entries:
            found = _config_entry_key(cred)
            if found is not None and found == (key, wanted):
                return cred.ticket
        return None

    @property
    def kdc_offset(self) -> tuple[int, int] | None:
        """The KDC time offset (seconds, microseconds) from header tag 1, if present."""
        for tag in self.header_tags:
            if tag.tag == HEADER_KDC_OFFSET and len(tag.value) == 8:
                sec, usec = struct.unpack(">ii", tag.value)
                return sec, usec
        return None

    def find(
        self,
        server: CcachePrincipal | str,
        *,
        client: CcachePrincipal | None = None,
        now: int | None = None,
    ) -> CcacheCredential | None:
        """The credential for ``server`` that lasts longest, or None.

        Args:
            server: a principal or a name such as ``HTTP/host@REALM`` (realm defaults to the
                cache's).
            client: only credentials of this client (default: any).
            now: when given, credentials whose ``endtime`` has passed are skipped.
        """
        if isinstance(server, str):
            server = CcachePrincipal.parse(server, self.default_principal.realm)
        best: CcacheCredential | None = None
        for cred in self.credentials:
            if not cred.server.same_name(server):
                continue
            if client is not None and not cred.client.same_name(client):
                continue
            if now is not None and cred.endtime <= now:
                continue
            if best is None or cred.endtime >= best.endtime:
                best = cred
        return best

    def with_credential(self, credential: CcacheCredential) -> Ccache:
        """A copy with ``credential`` appended (what ``krb5_cc_store`` does)."""
        return replace(self, entries=(*self.entries, credential))

    # -- wire ----------------------------------------------------------------------------------

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview) -> Ccache:
        """Decode a ccache file's bytes.

        Raises:
            DecodeError: a wrong magic or version, a truncated field, a count larger than what
                is left of the file, or an invalid ``is_skey`` byte.
        """
        r = _Reader(bytes(data))
        if r.u8() != 5:
            raise DecodeError("not a credential cache: the first byte must be 5")
        version = r.u8()
        if version not in (3, 4):
            raise DecodeError(f"ccache version {version} is not supported (only 3 and 4)")
        tags: list[CcacheHeaderTag] = []
        if version == 4:
            header = _Reader(r.take(r.u16(), "header"))
            while header.left():
                tag = header.u16()
                tags.append(CcacheHeaderTag(tag, header.take(header.u16(), "header field")))
        default = r.principal()
        entries = []
        while r.left():
            entries.append(r.credential(version))
        return cls(default, tuple(entries), tuple(tags), version)

    def dump(self) -> bytes:
        """Encode as a ccache file of :attr:`version`.

        Raises:
            InvalidParameter: a value that does not fit its field.
        """
        w = _Writer()
        w.u8(5)
        w.u8(self.version)
        if self.version == 4:
            header = _Writer()
            for tag in self.header_tags:
                header.u16(tag.tag)
                header.u16(len(tag.value))
                header.raw(tag.value)
            w.u16(len(header.buf))
            w.raw(bytes(header.buf))
        w.principal(self.default_principal)
        for cred in self.entries:
            w.credential(cred, self.version)
        return bytes(w.buf)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Ccache:
        """Read and parse the ccache file at ``path``.

        Raises:
            NoCredentials: the file does not exist or cannot be read.
            DecodeError: the file is not a valid ccache.
        """
        name = os.fspath(path)
        return load_file(
            "ccache", name, cls.parse,
            f"No credential cache at {name}: run kinit, or set KRB5CCNAME.",
            "the credential cache",
        )

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the cache to ``path`` atomically, mode 0600 (temporary file, then rename)."""
        _atomic_write(os.fspath(path), self.dump())


def parse_principal(data: bytes) -> CcachePrincipal:
    """One principal in the version-4 encoding, the whole of ``data`` (KCM and KEYRING use it).

    Raises:
        DecodeError: truncated, or bytes left over.
    """
    r = _Reader(bytes(data))
    principal = r.principal()
    r.end("principal")
    return principal


def dump_principal(principal: CcachePrincipal) -> bytes:
    """The version-4 encoding of one principal."""
    w = _Writer()
    w.principal(principal)
    return bytes(w.buf)


def parse_credential(data: bytes) -> CcacheCredential:
    """One credential in the version-4 encoding, the whole of ``data`` (KCM and KEYRING use it).

    Raises:
        DecodeError: truncated, a bad field, or bytes left over.
    """
    r = _Reader(bytes(data))
    cred = r.credential(4)
    r.end("credential")
    return cred


def dump_credential(credential: CcacheCredential) -> bytes:
    """The version-4 encoding of one credential."""
    w = _Writer()
    w.credential(credential, 4)
    return bytes(w.buf)


# -- byte-level reading and writing ---------------------------------------------------------------


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def left(self) -> int:
        return len(self.data) - self.pos

    def end(self, what: str) -> None:
        if self.left():
            raise DecodeError(f"{self.left()} bytes follow the {what}")

    def take(self, n: int, what: str) -> bytes:
        if n > self.left():
            raise DecodeError(f"ccache truncated: {what} needs {n} bytes, {self.left()} left")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1, "a byte")[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2, "a 16-bit field"), "big")

    def i16(self) -> int:
        return int.from_bytes(self.take(2, "a 16-bit field"), "big", signed=True)

    def u32(self) -> int:
        return int.from_bytes(self.take(4, "a 32-bit field"), "big")

    def data32(self, what: str) -> bytes:
        return self.take(self.u32(), what)

    def text(self, what: str) -> str:
        return self.data32(what).decode(_ENCODING, _ERRORS)

    def count(self, what: str, min_size: int) -> int:
        n = self.u32()
        if n * min_size > self.left():
            raise DecodeError(f"ccache {what} count {n} is larger than the rest of the file")
        return n

    def principal(self) -> CcachePrincipal:
        name_type = self.u32()
        n = self.count("principal component", 4)
        realm = self.text("realm")
        return CcachePrincipal(name_type, tuple(self.text("component") for _ in range(n)), realm)

    def credential(self, version: int) -> CcacheCredential:
        client = self.principal()
        server = self.principal()
        enctype = self.i16()
        if version == 3:
            self.i16()  # version 3 writes the enctype twice
        key = self.data32("key")
        authtime, starttime, endtime, renew_till = (self.u32() for _ in range(4))
        is_skey = self.u8()
        if is_skey > 1:
            raise DecodeError(f"ccache is_skey must be 0 or 1, not {is_skey}")
        flags = self.u32()
        addresses = tuple(
            CcacheAddress(self.u16(), self.data32("address"))
            for _ in range(self.count("address", 6))
        )
        authdata = tuple(
            CcacheAuthData(self.u16(), self.data32("authdata"))
            for _ in range(self.count("authdata", 6))
        )
        ticket = self.data32("ticket")
        second = self.data32("second ticket")
        return CcacheCredential(
            client, server, enctype, key, authtime, starttime, endtime, renew_till,
            bool(is_skey), flags, addresses, authdata, ticket, second,
        )


class _Writer:
    __slots__ = ("buf",)

    def __init__(self) -> None:
        self.buf = bytearray()

    def _int(self, value: int, size: int, signed: bool, what: str) -> None:
        try:
            self.buf += value.to_bytes(size, "big", signed=signed)
        except OverflowError:
            raise InvalidParameter(f"{what} {value} does not fit in {size * 8} bits.") from None

    def u8(self, value: int, what: str = "value") -> None:
        self._int(value, 1, False, what)

    def u16(self, value: int, what: str = "value") -> None:
        self._int(value, 2, False, what)

    def u32(self, value: int, what: str = "value") -> None:
        self._int(value, 4, False, what)

    def raw(self, value: bytes) -> None:
        self.buf += value

    def data32(self, value: bytes) -> None:
        self.u32(len(value), "length")
        self.buf += value

    def principal(self, p: CcachePrincipal) -> None:
        self.u32(p.name_type, "name type")
        self.u32(len(p.components), "component count")
        self.data32(p.realm.encode(_ENCODING, _ERRORS))
        for comp in p.components:
            self.data32(comp.encode(_ENCODING, _ERRORS))

    def credential(self, c: CcacheCredential, version: int) -> None:
        self.principal(c.client)
        self.principal(c.server)
        for _ in range(2 if version == 3 else 1):
            self._int(c.enctype, 2, c.enctype < 0, "enctype")
        self.data32(c.key)
        for value in (c.authtime, c.starttime, c.endtime, c.renew_till):
            self.u32(value, "time")
        self.u8(1 if c.is_skey else 0)
        self.u32(c.ticket_flags, "ticket flags")
        self.u32(len(c.addresses))
        for addr in c.addresses:
            self.u16(addr.addrtype, "address type")
            self.data32(addr.address)
        self.u32(len(c.authdata))
        for ad in c.authdata:
            self.u16(ad.ad_type, "authdata type")
            self.data32(ad.data)
        self.data32(c.ticket)
        self.data32(c.second_ticket)


def _atomic_write(path: str, data: bytes) -> None:
    """Replace ``path`` with ``data``: a 0600 temporary file in the same directory, then rename."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".opensspi-", dir=directory)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


# -- cache names ------------------------------------------------------------------------------

CcacheType = Literal["FILE", "DIR", "MEMORY", "KCM", "KEYRING"]

_MEMORY: dict[str, Ccache] = {}
_MEMORY_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class CcacheName:
    """A resolved cache name: its type and residual (``FILE`` + ``/tmp/krb5cc_1000``)."""

    type: CcacheType
    residual: str

    def __str__(self) -> str:
        return f"{self.type}:{self.residual}"

    def file_path(self) -> str:
        """The file holding the cache (reads ``primary`` for a DIR: collection).

        Raises:
            UnsupportedFunction: a MEMORY:, KCM: or KEYRING: cache has no file.
        """
        if self.type == "FILE":
            return self.residual
        if self.type == "DIR":
            if self.residual.startswith(":"):
                return self.residual[1:]
            try:
                with open(os.path.join(self.residual, "primary"), encoding="utf-8") as f:
                    primary = f.readline().strip()
            except FileNotFoundError:
                primary = ""
            if not primary or "/" in primary:
                primary = "tkt"
            return os.path.join(self.residual, primary)
        raise UnsupportedFunction(f"The cache {self} is not a file.")


def default_ccache_name(
    config: Krb5Config | None = None, environ: Mapping[str, str] | None = None
) -> str:
    """``KRB5CCNAME``, else krb5.conf ``default_ccache_name``, else ``FILE:/tmp/krb5cc_%{uid}``.

    The result has its ``%{...}`` parameters expanded.
    """
    env = os.environ if environ is None else environ
    name = env.get("KRB5CCNAME") or (
        config.default_ccache_name if config is not None else DEFAULT_CCACHE_NAME
    )
    return expand_path(name, env)


def resolve_ccache_name(
    name: str | None = None,
    *,
    config: Krb5Config | None = None,
    environ: Mapping[str, str] | None = None,
) -> CcacheName:
    """Split a cache name into type and residual; None means :func:`default_ccache_name`.

    A name without a type prefix (or with a one-letter one, a Windows drive) is a FILE: path.

    Raises:
        UnsupportedFunction: API: (macOS) or another type not implemented here.
    """
    text = default_ccache_name(config, environ) if name is None else name
    colon = text.find(":")
    if colon < 2:
        return CcacheName("FILE", text)
    prefix, residual = text[:colon].upper(), text[colon + 1 :]
    if prefix == "KCM":
        return CcacheName("KCM", residual)  # empty: the collection's primary
    if prefix in ("FILE", "DIR", "MEMORY", "KEYRING"):
        if not residual:
            raise InvalidParameter(f"The cache name {text!r} has no path or name after the type.")
        return CcacheName(prefix, residual)  # type: ignore[arg-type]
    if prefix == "API":
        raise UnsupportedFunction(
            f"The credential cache {text} is a macOS API: cache, which only Apple's Kerberos "
            "framework can read. Get a file cache instead: kinit -c FILE:/tmp/krb5cc_$(id -u), "
            "then set KRB5CCNAME=FILE:/tmp/krb5cc_$(id -u) (or pass it as the ccache)."
        )
    raise UnsupportedFunction(
        f"Credential cache type {prefix}: is not supported (FILE:, DIR:, MEMORY:, KCM: and "
        "KEYRING: are); point KRB5CCNAME at a file, e.g. FILE:/tmp/krb5cc_$(id -u), and run "
        "kinit again."
    )


def _kcm_socket(config: Krb5Config | None) -> str:
    return config.kcm_socket if config is not None else DEFAULT_KCM_SOCKET


def collection_caches(
    name: str | CcacheName | None = None,
    *,
    config: Krb5Config | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[CcacheName, ...]:
    """The caches of the collection ``name`` names, its primary first (MIT's collection cursor).

    ``DIR:dir`` gives ``DIR::dir/<primary>`` then the directory's other ``tkt*`` files, ``KCM:``
    the server's caches, ``KEYRING:anchor:collection`` the collection's cache keyrings. A name
    that is one cache gives just that cache; a collection that cannot be listed gives nothing.

    Raises:
        NoCredentials: the KCM server or the keyring cannot be reached.
        DecodeError: the KCM server or the keyring answers something malformed.
    """
    cc = name if isinstance(name, CcacheName) else resolve_ccache_name(
        name, config=config, environ=environ
    )
    if cc.type == "DIR" and not cc.residual.startswith(":"):
        primary = cc.file_path()
        try:
            files = sorted(f for f in os.listdir(cc.residual) if f.startswith("tkt"))
        except OSError:
            return ()
        others = [os.path.join(cc.residual, f) for f in files]
        paths = [primary, *(p for p in others if p != primary)]
        return tuple(CcacheName("DIR", ":" + p) for p in paths if os.path.exists(p))
    if cc.type == "KCM" and not cc.residual:
        from . import kcm

        names = kcm.run(kcm.list_caches(), _kcm_socket(config), str(cc))
        return tuple(CcacheName("KCM", n) for n in names)
    if cc.type == "KEYRING":
        from . import keyring

        listed = keyring.list_caches(cc.residual)
        return tuple(CcacheName("KEYRING", n.removeprefix("KEYRING:")) for n in listed)
    return (cc,)


def load_ccache(
    name: str | CcacheName | None = None,
    *,
    config: Krb5Config | None = None,
    environ: Mapping[str, str] | None = None,
) -> Ccache:
    """Load the cache named ``name`` (default: ``KRB5CCNAME`` and friends).

    Raises:
        NoCredentials: the cache does not exist (or its KCM server or keyring is unreachable).
        DecodeError: it exists but is not a valid ccache; the message names the cache.
    """
    cc = name if isinstance(name, CcacheName) else resolve_ccache_name(
        name, config=config, environ=environ
    )
    if cc.type == "MEMORY":
        with _MEMORY_LOCK:
            found = _MEMORY.get(cc.residual)
        if found is None:
            raise NoCredentials(f"No credential cache {cc} exists in this process.")
        return found
    if cc.type == "KCM":
        from . import kcm

        return kcm.run(kcm.read_cache(cc.residual), _kcm_socket(config), str(cc))[1]
    if cc.type == "KEYRING":
        from . import keyring

        return keyring.load(cc.residual)[1]
    return Ccache.load(cc.file_path())


def store_ccache(
    ccache: Ccache,
    name: str | CcacheName | None = None,
    *,
    config: Krb5Config | None = None,
    environ: Mapping[str, str] | None = None,
) -> CcacheName:
    """Write ``ccache`` to the cache named ``name`` (opt-in; atomic for files).

    A DIR: collection directory is created (mode 0700) with a ``primary`` file if missing. A KCM:
    or KEYRING: cache is initialized afresh and every entry stored, as ``kinit`` does (not atomic:
    a reader in between sees the cache emptier).

    Returns:
        The resolved name written to.
    """
    cc = name if isinstance(name, CcacheName) else resolve_ccache_name(
        name, config=config, environ=environ
    )
    if cc.type == "MEMORY":
        with _MEMORY_LOCK:
            _MEMORY[cc.residual] = ccache
        return cc
    if cc.type == "KCM":
        from . import kcm

        written = kcm.run(kcm.write_cache(cc.residual, ccache), _kcm_socket(config), str(cc))
        return CcacheName("KCM", written)
    if cc.type == "KEYRING":
        from . import keyring

        return CcacheName("KEYRING", keyring.store(cc.residual, ccache).removeprefix("KEYRING:"))
    if cc.type == "DIR" and not cc.residual.startswith(":"):
        os.makedirs(cc.residual, mode=0o700, exist_ok=True)
        primary = os.path.join(cc.residual, "primary")
        if not os.path.exists(primary):
            _atomic_write(primary, b"tkt\n")
    ccache.save(cc.file_path())
    return cc
