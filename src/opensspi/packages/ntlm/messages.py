"""NTLM wire structures: MS-NLMP section 2.2, "Message Syntax".

NEGOTIATE_MESSAGE (2.2.1.1), CHALLENGE_MESSAGE (2.2.1.2), AUTHENTICATE_MESSAGE (2.2.1.3), the
AV_PAIR list (2.2.2.1), NTLMv2_CLIENT_CHALLENGE (2.2.2.7), NEGOTIATE flags (2.2.2.5) and VERSION
(2.2.2.10). https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-nlmp/

Rules of this module:

- Every class is a frozen, slotted dataclass with ``pack() -> bytes`` and
  ``classmethod unpack(data) -> instance``; ``unpack(pack(m)) == m``.
- Parsing raises only :class:`~opensspi.errors.DecodeError`, with a message that names the field.
  Building raises :class:`~opensspi.errors.InvalidParameter` when a value cannot be encoded.
- Nothing here computes a key or a hash: that is ``crypto.py``'s work.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum, IntFlag

from ...errors import DecodeError, InvalidParameter

__all__ = [
    "MAX_MESSAGE_SIZE",
    "MIC_OFFSET",
    "OEM_ENCODING",
    "SIGNATURE",
    "AuthenticateMessage",
    "AvFlags",
    "AvId",
    "ChallengeMessage",
    "MessageType",
    "NegotiateFlags",
    "NegotiateMessage",
    "NtlmV2ClientChallenge",
    "TargetInfo",
    "Version",
    "message_type",
    "parse_negotiate",
]

SIGNATURE = b"NTLMSSP\x00"
"""The 8-byte ``Signature`` that starts every NTLM message (2.2.1.1)."""

OEM_ENCODING = "cp437"
"""The OEM code page used when ``NTLMSSP_NEGOTIATE_UNICODE`` is not negotiated.

Deviation: Windows uses the machine's OEM code page; cp437 (the US default) is the common choice
of non-Windows peers, and it maps all 256 byte values, so decoding never fails.
"""

MAX_MESSAGE_SIZE = 0xFFFF
"""Default upper bound for a message handed to ``unpack`` (Windows' NTLM tokens are < 3 KiB)."""

MIC_OFFSET = 72
"""Where the 16-byte MIC sits in an AUTHENTICATE_MESSAGE: after the 64-byte header and VERSION."""


class MessageType(IntEnum):
    """``MessageType`` values of MS-NLMP 2.2.1."""

    NtLmNegotiate = 0x00000001
    NtLmChallenge = 0x00000002
    NtLmAuthenticate = 0x00000003


class NegotiateFlags(IntFlag):
    """NEGOTIATE flags, MS-NLMP 2.2.2.5, named as the spec names them (letter in the comment)."""

    NTLMSSP_NEGOTIATE_56 = 0x80000000  # W
    NTLMSSP_NEGOTIATE_KEY_EXCH = 0x40000000  # V
    NTLMSSP_NEGOTIATE_128 = 0x20000000  # U
    NTLMSSP_RESERVED_R1 = 0x10000000
    NTLMSSP_RESERVED_R2 = 0x08000000
    NTLMSSP_RESERVED_R3 = 0x04000000
    NTLMSSP_NEGOTIATE_VERSION = 0x02000000  # T
    NTLMSSP_RESERVED_R4 = 0x01000000
    NTLMSSP_NEGOTIATE_TARGET_INFO = 0x00800000  # S
    NTLMSSP_REQUEST_NON_NT_SESSION_KEY = 0x00400000  # R
    NTLMSSP_RESERVED_R5 = 0x00200000
    NTLMSSP_NEGOTIATE_IDENTIFY = 0x00100000  # Q
    NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY = 0x00080000  # P
    NTLMSSP_RESERVED_R6 = 0x00040000
    NTLMSSP_TARGET_TYPE_SERVER = 0x00020000  # O
    NTLMSSP_TARGET_TYPE_DOMAIN = 0x00010000  # N
    NTLMSSP_NEGOTIATE_ALWAYS_SIGN = 0x00008000  # M
    NTLMSSP_RESERVED_R7 = 0x00004000
    NTLMSSP_NEGOTIATE_OEM_WORKSTATION_SUPPLIED = 0x00002000  # L
    NTLMSSP_NEGOTIATE_OEM_DOMAIN_SUPPLIED = 0x00001000  # K
    NTLMSSP_ANONYMOUS = 0x00000800  # J (the spec gives the bit no alternate name)
    NTLMSSP_RESERVED_R8 = 0x00000400
    NTLMSSP_NEGOTIATE_NTLM = 0x00000200  # H
    NTLMSSP_RESERVED_R9 = 0x00000100
    NTLMSSP_NEGOTIATE_LM_KEY = 0x00000080  # G
    NTLMSSP_NEGOTIATE_DATAGRAM = 0x00000040  # F
    NTLMSSP_NEGOTIATE_SEAL = 0x00000020  # E
    NTLMSSP_NEGOTIATE_SIGN = 0x00000010  # D
    NTLMSSP_RESERVED_R10 = 0x00000008
    NTLMSSP_REQUEST_TARGET = 0x00000004  # C
    NTLM_NEGOTIATE_OEM = 0x00000002  # B
    NTLMSSP_NEGOTIATE_UNICODE = 0x00000001  # A


class AvId(IntEnum):
    """``AvId`` values of an AV_PAIR, MS-NLMP 2.2.2.1."""

    MsvAvEOL = 0x0000
    MsvAvNbComputerName = 0x0001
    MsvAvNbDomainName = 0x0002
    MsvAvDnsComputerName = 0x0003
    MsvAvDnsDomainName = 0x0004
    MsvAvDnsTreeName = 0x0005
    MsvAvFlags = 0x0006
    MsvAvTimestamp = 0x0007
    MsvAvSingleHost = 0x0008
    MsvAvTargetName = 0x0009
    MsvAvChannelBindings = 0x000A


class AvFlags(IntFlag):
    """Bits of the MsvAvFlags value, MS-NLMP 2.2.2.1."""

    CONSTRAINED_AUTHENTICATION = 0x00000001
    MIC_PROVIDED = 0x00000002
    UNTRUSTED_SPN_SOURCE = 0x00000004


_FIELD = struct.Struct("<HHI")  # Len, MaxLen, BufferOffset: the 8-byte *Fields of 2.2.1
_PREFIX = struct.Struct("<8sI")  # Signature, MessageType
_NEGOTIATE = struct.Struct("<8sII8s8s")  # ..., NegotiateFlags, DomainNameFields, WorkstationFields
_CHALLENGE = struct.Struct("<8sI8sI8s8s8s")  # ..., TargetNameFields, flags, challenge, Reserved, TI
_AUTHENTICATE = struct.Struct("<8sI8s8s8s8s8s8sI")  # ..., Lm, Nt, Domain, User, Wks, Key, flags
_VERSION = struct.Struct("<BBH3sB")
_AV_HEADER = struct.Struct("<HH")
_BLOB_HEADER = struct.Struct("<BBHIQ8sI")  # RespType .. Reserved3 of NTLMv2_CLIENT_CHALLENGE
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_ZERO_FIELD = bytes(8)
_EOL = bytes(4)
_U16_MAX = 0xFFFF
_AVIDS: dict[int, AvId] = {member.value: member for member in AvId}
_TEXT_AVIDS = frozenset(
    (
        AvId.MsvAvNbComputerName,
        AvId.MsvAvNbDomainName,
        AvId.MsvAvDnsComputerName,
        AvId.MsvAvDnsDomainName,
        AvId.MsvAvDnsTreeName,
        AvId.MsvAvTargetName,
    )
)
_FIXED_AV_SIZES: dict[int, int] = {
    AvId.MsvAvFlags: 4,
    AvId.MsvAvTimestamp: 8,
    AvId.MsvAvChannelBindings: 16,
}
_NTLMV1_RESPONSE_SIZE = 24
_NTPROOFSTR_SIZE = 16


def message_type(data: bytes) -> MessageType:
    """Return the type of the NTLM message in ``data`` after checking its signature.

    Raises:
        DecodeError: fewer than 12 bytes, a wrong signature, or an unknown message type.
    """
    return _check_prefix(bytes(data), None, 12)


def _check_prefix(data: bytes, expected: MessageType | None, fixed: int) -> MessageType:
    if len(data) < _PREFIX.size:
        raise DecodeError(
            f"An NTLM message starts with a 12-byte signature and type; got {len(data)} bytes."
        )
    signature, value = _PREFIX.unpack_from(data)
    if signature != SIGNATURE:
        raise DecodeError("Not an NTLM message: the first 8 bytes are not 'NTLMSSP\\0'.")
    if value not in (1, 2, 3):
        raise DecodeError(f"Unknown NTLM MessageType {value:#010x}; expected 1, 2 or 3.")
    kind = _MESSAGE_TYPES[value]
    if expected is not None and kind is not expected:
        raise DecodeError(f"Expected an NTLM {expected.name} message, got {kind.name}.")
    if len(data) < fixed:
        raise DecodeError(
            f"Truncated {kind.name} message: {len(data)} bytes, its header alone needs {fixed}."
        )
    return kind


def _check_size(data: bytes, max_size: int) -> None:
    if len(data) > max_size:
        raise DecodeError(
            f"The NTLM message is {len(data)} bytes, over the {max_size}-byte limit; raise "
            "max_size if such tokens are legitimate."
        )


class _Reader:
    """Reads the ``*Fields`` of one message and remembers where the payload begins and ends.

    Bytes after the last payload field are accepted as padding: MS-NLMP 2.2.1.1-2.2.1.3,
    Payload: "Payload data can be present in any order within the Payload field, with
    variable-length padding before or after the data." gss-ntlmssp sends such padding (its
    AUTHENTICATE is sized from UTF-8 lengths, so a non-ASCII user name leaves spare bytes).
    ``max_size`` still bounds the message.
    """

    __slots__ = ("data", "first", "floor", "kind")

    def __init__(self, data: bytes, kind: str, floor: int) -> None:
        self.data = data
        self.kind = kind
        self.floor = floor
        self.first = len(data)  # lowest offset of a non-empty payload field

    def field(self, raw: bytes, name: str) -> bytes:
        length, _max_length, offset = _FIELD.unpack(raw)  # MaxLen MUST be ignored on receipt.
        if length == 0:
            return b""
        if offset < self.floor:
            raise DecodeError(
                f"{self.kind} {name} points at offset {offset}, inside the {self.floor}-byte "
                "header."
            )
        end = offset + length
        if end > len(self.data):
            raise DecodeError(
                f"{self.kind} {name} ({length} bytes at offset {offset}) runs past the end of the "
                f"{len(self.data)}-byte message."
            )
        self.first = min(self.first, offset)
        return self.data[offset:end]

    def slot(self, start: int, size: int, what: str) -> bytes:
        """Return the fixed-position ``size`` bytes at ``start`` that must precede the payload."""
        if start + size > self.first:
            raise DecodeError(
                f"{self.kind} has {what} but no room for it: the payload starts at offset "
                f"{self.first}, before byte {start + size}."
            )
        return self.data[start : start + size]



class _Writer:
    """Builds the payload of one message and the ``*Fields`` that point into it."""

    __slots__ = ("chunks", "kind", "offset")

    def __init__(self, kind: str, offset: int) -> None:
        self.kind = kind
        self.offset = offset
        self.chunks: list[bytes] = []

    def field(self, value: bytes, name: str, *, zero_if_empty: bool = False) -> bytes:
        size = len(value)
        if size > _U16_MAX:
            raise InvalidParameter(
                f"{self.kind} {name} is {size} bytes; an NTLM field holds at most 65535."
            )
        if size == 0 and zero_if_empty:
            return _ZERO_FIELD
        packed = _FIELD.pack(size, size, self.offset)
        self.chunks.append(value)
        self.offset += size
        return packed


def _decode(raw: bytes, unicode: bool, what: str) -> str:
    if not unicode:
        return raw.decode(OEM_ENCODING)
    if len(raw) % 2:
        raise DecodeError(f"{what} is UTF-16LE but has an odd length ({len(raw)} bytes).")
    try:
        # surrogatepass keeps unpaired surrogates, so decode and encode are exact inverses.
        return raw.decode("utf-16-le", "surrogatepass")
    except UnicodeDecodeError as exc:  # pragma: no cover - even lengths always decode
        raise DecodeError(f"{what} is not valid UTF-16LE.") from exc


def _encode(text: str, unicode: bool, what: str) -> bytes:
    try:
        if unicode:
            return text.encode("utf-16-le", "surrogatepass")
        return text.encode(OEM_ENCODING)
    except UnicodeEncodeError as exc:
        raise InvalidParameter(
            f"{what} cannot be encoded in the OEM code page ({OEM_ENCODING}); negotiate "
            "NTLMSSP_NEGOTIATE_UNICODE or use ASCII."
        ) from exc


# Plain ints: IntFlag arithmetic builds an enum per operation (measured in the handshake).
_UNICODE_BIT = int(NegotiateFlags.NTLMSSP_NEGOTIATE_UNICODE)
_VERSION_BIT = int(NegotiateFlags.NTLMSSP_NEGOTIATE_VERSION)


_MIC_PROVIDED_BIT = 0x00000002  # AvFlags.MIC_PROVIDED
_FLAG_MEMBERS: dict[int, NegotiateFlags] = {}


def negotiate_flags(value: int) -> NegotiateFlags:
    """``NegotiateFlags(value)`` from a memo: a handshake builds and parses six messages, and
    an IntFlag call costs two Python-level calls even for a known value (at most 256 kept)."""
    flags = _FLAG_MEMBERS.get(value)
    if flags is None:
        flags = NegotiateFlags(value)
        if len(_FLAG_MEMBERS) >= 256:
            _FLAG_MEMBERS.clear()
        _FLAG_MEMBERS[int(value)] = flags
    return flags


def _is_unicode(flags: int) -> bool:
    return bool(int(flags) & _UNICODE_BIT)


def _check_version(flags: int, version: Version | None, kind: str,
                   may_omit: bool = False) -> None:
    # MS-NLMP 2.2.1.1-3: the VERSION field is present iff NTLMSSP_NEGOTIATE_VERSION is set
    # (``may_omit``: AUTHENTICATE as curl sends it, see AuthenticateMessage.parse).
    has_flag = bool(int(flags) & _VERSION_BIT)
    if has_flag and version is None and not may_omit:
        raise InvalidParameter(
            f"{kind}: NTLMSSP_NEGOTIATE_VERSION is set, so a Version is required."
        )
    if version is not None and not has_flag:
        raise InvalidParameter(
            f"{kind}: a Version was given but NTLMSSP_NEGOTIATE_VERSION is not set."
        )


@dataclass(frozen=True, slots=True)
class Version:
    """The VERSION structure, MS-NLMP 2.2.2.10 (ProductMajorVersion ... NTLMRevisionCurrent)."""

    major: int
    minor: int
    product_build: int
    revision: int = 0x0F  # NTLMSSP_REVISION_W2K3

    def build(self) -> bytes:
        """Return the 8 bytes: major, minor, build (u16le), 3 reserved zero bytes, revision."""
        try:
            return _VERSION.pack(
                self.major, self.minor, self.product_build, b"\x00\x00\x00", self.revision
            )
        except struct.error as exc:
            raise InvalidParameter(
                f"Version fields out of range: major and minor must fit a byte, build 16 bits "
                f"({self.major}.{self.minor}.{self.product_build} rev {self.revision})."
            ) from exc

    @classmethod
    def parse(cls, data: bytes) -> Version:
        """Parse exactly 8 bytes; the reserved bytes MUST be ignored on receipt.

        Raises:
            DecodeError: ``data`` is not 8 bytes long.
        """
        if len(data) != _VERSION.size:
            raise DecodeError(f"A VERSION field is 8 bytes, not {len(data)}.")
        known = _VERSIONS.get(data)
        if known is not None and type(known) is cls:
            return known  # a peer sends the same VERSION in every message (at most 64 kept)
        major, minor, product_build, _reserved, revision = _VERSION.unpack(data)
        version = cls(major, minor, product_build, revision)
        if len(_VERSIONS) >= 64:
            _VERSIONS.clear()
        _VERSIONS[bytes(data)] = version
        return version


_VERSIONS: dict[bytes, Version] = {}


def _check_pairs(pairs: tuple[tuple[int, bytes], ...], error: type[Exception]) -> None:
    # One cheap pass for the common case (every handshake checks a few lists); anything odd
    # goes to _pair_problem, which names the first rule broken.
    seen = {int(av_id) for av_id, _ in pairs}
    if len(seen) != len(pairs) or 0 in seen:
        _pair_problem(pairs, error)
    fixed = _FIXED_AV_SIZES_INT
    text = _TEXT_AVIDS_INT
    for av_id, value in pairs:
        size = len(value)
        expected = fixed.get(av_id, size)
        if size != expected or size > _U16_MAX or not 0 < av_id <= _U16_MAX or (
                size & 1 and av_id in text):
            _pair_problem(pairs, error)


def _pair_problem(pairs: tuple[tuple[int, bytes], ...], error: type[Exception]) -> None:
    """Raise ``error`` naming the first AV_PAIR rule ``pairs`` breaks (MS-NLMP 2.2.2.1)."""
    seen: set[int] = set()
    for av_id, value in pairs:
        av_id = int(av_id)
        if av_id == 0:  # MsvAvEOL
            raise error("MsvAvEOL may only end an AV_PAIR list; it cannot appear inside it.")
        if not 0 <= av_id <= _U16_MAX:
            raise error(f"AvId {av_id} does not fit 16 bits.")
        if av_id in seen:
            raise error(f"AV_PAIR {_av_name(av_id)} appears twice.")
        seen.add(av_id)
        if len(value) > _U16_MAX:
            raise error(f"AV_PAIR {_av_name(av_id)} is {len(value)} bytes; at most 65535 fit.")
        size = _FIXED_AV_SIZES_INT.get(av_id)
        if size is not None and len(value) != size:
            raise error(f"AV_PAIR {_av_name(av_id)} must be {size} bytes, not {len(value)}.")
        if av_id in _TEXT_AVIDS_INT and len(value) % 2:
            raise error(f"AV_PAIR {_av_name(av_id)} is UTF-16LE but has an odd length.")


_FIXED_AV_SIZES_INT = {int(k): v for k, v in _FIXED_AV_SIZES.items()}
_TEXT_AVIDS_INT = frozenset(int(k) for k in _TEXT_AVIDS)
_MESSAGE_TYPES = {int(m): m for m in MessageType}


def _av_name(av_id: int) -> str:
    member = _AVIDS.get(av_id)
    return member.name if member is not None else f"{av_id:#06x}"


def _parse_av_pairs(
    data: bytes, start: int, *, require_eol: bool
) -> tuple[tuple[tuple[int, bytes], ...], int]:
    """Parse AV_PAIRs from ``start`` up to MsvAvEOL; return the pairs and the offset after EOL.

    With ``require_eol=False`` a list that ends exactly at the end of ``data`` without MsvAvEOL
    is accepted.
    """
    pairs: list[tuple[int, bytes]] = []
    pos = start
    size = len(data)
    unpack = _AV_HEADER.unpack_from
    names = _AVIDS
    fixed = _FIXED_AV_SIZES_INT
    text = _TEXT_AVIDS_INT
    seen: set[int] = set()
    odd = False  # a pair broke a rule: _pair_problem names it once the list is read
    while True:
        if pos == size and not require_eol:
            break
        if pos + 4 > size:
            raise DecodeError(
                "The AV_PAIR list is truncated: it ends without an MsvAvEOL pair "
                f"(at byte {pos} of {size})."
            )
        av_id, length = unpack(data, pos)
        pos += 4
        if av_id == 0:  # MsvAvEOL
            if length:
                raise DecodeError(f"MsvAvEOL must have length 0, not {length}.")
            break
        end = pos + length
        if end > size:
            raise DecodeError(
                f"AV_PAIR {_av_name(av_id)} claims {length} bytes; only {size - pos} remain."
            )
        if av_id in seen or fixed.get(av_id, length) != length or (length & 1 and av_id in text):
            odd = True
        seen.add(av_id)
        pairs.append((names.get(av_id, av_id), data[pos:end]))
        pos = end
    result = tuple(pairs)
    if odd:
        _pair_problem(result, DecodeError)
    return result, pos


def _text(value: str) -> bytes:
    return value.encode("utf-16-le", "surrogatepass")


_NAME_AVIDS = (AvId.MsvAvNbDomainName, AvId.MsvAvNbComputerName, AvId.MsvAvDnsDomainName,
               AvId.MsvAvDnsComputerName, AvId.MsvAvDnsTreeName)
_NAME_PAIRS: dict[tuple[str | None, ...], tuple[tuple[int, bytes], ...]] = {}


@dataclass(frozen=True, slots=True)
class TargetInfo:
    """An ordered AV_PAIR list (MS-NLMP 2.2.2.1) without its closing MsvAvEOL.

    ``pairs`` holds ``(AvId, value)`` in wire order; unknown AvIds are kept as plain ints so a
    list round-trips. ``pack()`` appends MsvAvEOL. Each AvId appears at most once, MsvAvFlags is
    4 bytes, MsvAvTimestamp 8 and MsvAvChannelBindings 16; text values are UTF-16LE.
    """

    pairs: tuple[tuple[int, bytes], ...] = ()

    def __post_init__(self) -> None:
        _check_pairs(self.pairs, InvalidParameter)

    def build(self) -> bytes:
        """Return the AV_PAIR list followed by MsvAvEOL."""
        chunks = []
        for av_id, value in self.pairs:
            chunks.append(_AV_HEADER.pack(av_id, len(value)))
            chunks.append(value)
        chunks.append(_EOL)
        return b"".join(chunks)

    @classmethod
    def parse(cls, data: bytes) -> TargetInfo:
        """Parse an AV_PAIR list that ends with MsvAvEOL and nothing after it.

        Raises:
            DecodeError: a pair is truncated, duplicated or of the wrong size, MsvAvEOL is
                missing, or bytes follow it.
        """
        data = bytes(data)
        pairs, end = _parse_av_pairs(data, 0, require_eol=True)
        if end != len(data):
            raise DecodeError(f"{len(data) - end} bytes follow MsvAvEOL in the AV_PAIR list.")
        return cls.checked(pairs)

    @classmethod
    def checked(cls, pairs: tuple[tuple[int, bytes], ...]) -> TargetInfo:
        """A TargetInfo of ``pairs`` that the caller knows obey the rules the constructor
        checks (parsed by ``_parse_av_pairs``, or built from such pairs): not checked twice."""
        info = object.__new__(cls)
        object.__setattr__(info, "pairs", pairs)
        return info

    @classmethod
    def from_names(
        cls,
        *,
        nb_computer_name: str | None = None,
        nb_domain_name: str | None = None,
        dns_computer_name: str | None = None,
        dns_domain_name: str | None = None,
        dns_tree_name: str | None = None,
        timestamp: int | None = None,
    ) -> TargetInfo:
        """Build a server's CHALLENGE target info, in the order Windows sends the pairs.

        An acceptor sends the same names in every CHALLENGE: their pairs are encoded and
        checked once (at most 64 sets of names are kept); only the timestamp is new."""
        key = (nb_domain_name, nb_computer_name, dns_domain_name, dns_computer_name,
               dns_tree_name)
        named = _NAME_PAIRS.get(key)
        if named is None:
            pairs: list[tuple[int, bytes]] = []
            for av_id, name in zip(_NAME_AVIDS, key, strict=True):
                if name is not None:
                    pairs.append((av_id, _text(name)))
            named = cls(tuple(pairs)).pairs
            if len(_NAME_PAIRS) >= 64:
                _NAME_PAIRS.clear()
            _NAME_PAIRS[key] = named
        if timestamp is None:
            return cls.checked(named)
        return cls.checked((*named, (AvId.MsvAvTimestamp, _U64.pack(timestamp))))

    def get(self, av_id: int) -> bytes | None:
        """Return the value of ``av_id``, or None when the list has no such pair."""
        for key, value in self.pairs:
            if key == av_id:
                return value
        return None

    def __contains__(self, av_id: object) -> bool:
        return any(key == av_id for key, _ in self.pairs)

    def with_pair(self, av_id: int, value: bytes) -> TargetInfo:
        """Return a copy with ``av_id`` set to ``value``: replaced in place, or appended."""
        if av_id in self:
            return TargetInfo(tuple((k, value if k == av_id else v) for k, v in self.pairs))
        return TargetInfo((*self.pairs, (_AVIDS.get(av_id, av_id), value)))

    def without(self, av_id: int) -> TargetInfo:
        """Return a copy without ``av_id``."""
        return TargetInfo(tuple((k, v) for k, v in self.pairs if k != av_id))

    def with_text(self, av_id: int, value: str) -> TargetInfo:
        """Return a copy with the text pair ``av_id`` set to ``value`` (UTF-16LE)."""
        return self.with_pair(av_id, _text(value))

    def with_flags(self, flags: int) -> TargetInfo:
        """Return a copy with MsvAvFlags set to ``flags``."""
        return self.with_pair(AvId.MsvAvFlags, _U32.pack(flags))

    def with_timestamp(self, filetime: int) -> TargetInfo:
        """Return a copy with MsvAvTimestamp set to ``filetime`` (100 ns ticks since 1601)."""
        return self.with_pair(AvId.MsvAvTimestamp, _U64.pack(filetime))

    def _get_text(self, av_id: AvId) -> str | None:
        value = self.get(av_id)
        return None if value is None else value.decode("utf-16-le", "surrogatepass")

    @property
    def nb_computer_name(self) -> str | None:
        """MsvAvNbComputerName: the server's NetBIOS computer name."""
        return self._get_text(AvId.MsvAvNbComputerName)

    @property
    def nb_domain_name(self) -> str | None:
        """MsvAvNbDomainName: the server's NetBIOS domain name."""
        return self._get_text(AvId.MsvAvNbDomainName)

    @property
    def dns_computer_name(self) -> str | None:
        """MsvAvDnsComputerName: the server's FQDN."""
        return self._get_text(AvId.MsvAvDnsComputerName)

    @property
    def dns_domain_name(self) -> str | None:
        """MsvAvDnsDomainName: the FQDN of the server's domain."""
        return self._get_text(AvId.MsvAvDnsDomainName)

    @property
    def dns_tree_name(self) -> str | None:
        """MsvAvDnsTreeName: the FQDN of the server's forest."""
        return self._get_text(AvId.MsvAvDnsTreeName)

    @property
    def target_name(self) -> str | None:
        """MsvAvTargetName: the SPN the client authenticated to."""
        return self._get_text(AvId.MsvAvTargetName)

    @property
    def flags(self) -> AvFlags | None:
        """MsvAvFlags, or None when absent."""
        value = self.get(AvId.MsvAvFlags)
        return None if value is None else AvFlags(_U32.unpack(value)[0])

    @property
    def timestamp(self) -> int | None:
        """MsvAvTimestamp as a FILETIME (100 ns ticks since 1601-01-01 UTC), or None."""
        value = self.get(AvId.MsvAvTimestamp)
        return None if value is None else int(_U64.unpack(value)[0])

    @property
    def channel_bindings(self) -> bytes | None:
        """MsvAvChannelBindings: the MD5 of the channel bindings, or None."""
        return self.get(AvId.MsvAvChannelBindings)

    @property
    def single_host(self) -> bytes | None:
        """MsvAvSingleHost: the raw Single_Host_Data structure (2.2.2.2), or None."""
        return self.get(AvId.MsvAvSingleHost)


@dataclass(frozen=True, slots=True)
class NtlmV2ClientChallenge:
    """NTLMv2_CLIENT_CHALLENGE, MS-NLMP 2.2.2.7: the "blob" after NTProofStr.

    ``pack()`` gives the ``temp`` of MS-NLMP 3.3.2, the AV pairs followed by Z(4).

    Deviation: ``unpack`` accepts a blob whose AV pairs are not followed by the 4 zero bytes of
    ``temp`` (or that lacks a final MsvAvEOL): some clients send it so. An acceptor must
    therefore compute NTProofStr over the bytes as received, never over ``pack()``.
    """

    timestamp: int
    challenge_from_client: bytes
    av_pairs: TargetInfo = field(default_factory=TargetInfo)
    resp_type: int = 1
    hi_resp_type: int = 1

    def __post_init__(self) -> None:
        if len(self.challenge_from_client) != 8:
            raise InvalidParameter(
                f"ChallengeFromClient is 8 bytes, not {len(self.challenge_from_client)}."
            )

    def build(self) -> bytes:
        """Return RespType, HiRespType, Z(6), TimeStamp, ChallengeFromClient, Z(4), AvPairs and
        Z(4): the ``temp`` of MS-NLMP 3.3.2."""
        try:
            header = _BLOB_HEADER.pack(
                self.resp_type,
                self.hi_resp_type,
                0,
                0,
                self.timestamp,
                self.challenge_from_client,
                0,
            )
        except struct.error as exc:
            raise InvalidParameter(
                "NTLMv2_CLIENT_CHALLENGE: RespType and HiRespType must fit a byte and the "
                "timestamp 64 bits."
            ) from exc
        return header + self.av_pairs.build() + _EOL

    @classmethod
    def parse(cls, data: bytes) -> NtlmV2ClientChallenge:
        """Parse a blob; Reserved fields are ignored and trailing zero bytes tolerated.

        Raises:
            DecodeError: shorter than 28 bytes, RespType or HiRespType not 1, malformed AV pairs,
                or non-zero bytes after MsvAvEOL.
        """
        data = bytes(data)
        if len(data) < _BLOB_HEADER.size:
            raise DecodeError(f"An NTLMv2_CLIENT_CHALLENGE is at least 28 bytes; got {len(data)}.")
        resp_type, hi_resp_type, _r1, _r2, timestamp, client_challenge, _r3 = (
            _BLOB_HEADER.unpack_from(data)
        )
        if resp_type != 1 or hi_resp_type != 1:
            raise DecodeError(
                f"NTLMv2_CLIENT_CHALLENGE RespType/HiRespType must be 1/1, not "
                f"{resp_type}/{hi_resp_type}."
            )
        pairs, end = _parse_av_pairs(data, _BLOB_HEADER.size, require_eol=False)
        if data[end:].strip(b"\x00"):
            raise DecodeError("Non-zero bytes follow MsvAvEOL in the NTLMv2_CLIENT_CHALLENGE.")
        return cls(timestamp, client_challenge, TargetInfo.checked(pairs))


@dataclass(frozen=True, slots=True)
class NegotiateMessage:
    """NEGOTIATE_MESSAGE, MS-NLMP 2.2.1.1. ``domain_name`` and ``workstation`` are OEM strings."""

    negotiate_flags: NegotiateFlags
    domain_name: str = ""
    workstation: str = ""
    version: Version | None = None

    def __post_init__(self) -> None:
        _check_version(self.negotiate_flags, self.version, "NEGOTIATE_MESSAGE")

    def build(self) -> bytes:
        """Return the message; empty strings get all-zero fields, as Windows sends them."""
        base = _NEGOTIATE.size + (8 if self.version is not None else 0)
        writer = _Writer("NEGOTIATE_MESSAGE", base)
        domain = writer.field(
            _encode(self.domain_name, False, "DomainName"), "DomainName", zero_if_empty=True
        )
        workstation = writer.field(
            _encode(self.workstation, False, "Workstation"), "Workstation", zero_if_empty=True
        )
        header = _NEGOTIATE.pack(
            SIGNATURE, MessageType.NtLmNegotiate, self.negotiate_flags, domain, workstation
        )
        version = self.version.build() if self.version is not None else b""
        return b"".join((header, version, *writer.chunks))

    @classmethod
    def parse(cls, data: bytes, *, max_size: int = MAX_MESSAGE_SIZE) -> NegotiateMessage:
        """Parse a NEGOTIATE_MESSAGE.

        Raises:
            DecodeError: wrong signature or type, truncated, a field outside the message,
                VERSION flagged but missing, trailing bytes, or larger than ``max_size``.
        """
        data = bytes(data)
        _check_size(data, max_size)
        _check_prefix(data, MessageType.NtLmNegotiate, _NEGOTIATE.size)
        _, _, flags, domain_f, workstation_f = _NEGOTIATE.unpack_from(data)
        reader = _Reader(data, "NEGOTIATE_MESSAGE", _NEGOTIATE.size)
        domain = reader.field(domain_f, "DomainNameFields")
        workstation = reader.field(workstation_f, "WorkstationFields")
        version = None
        if flags & _VERSION_BIT:
            version = Version.parse(reader.slot(_NEGOTIATE.size, 8, "NTLMSSP_NEGOTIATE_VERSION"))
        return cls(
            negotiate_flags(flags),
            _decode(domain, False, "DomainName"),
            _decode(workstation, False, "Workstation"),
            version,
        )


_PARSED_NEGOTIATE: dict[bytes, NegotiateMessage] = {}
_PARSED_NEGOTIATE_MAX = 128
"""NEGOTIATE_MESSAGEs parsed before, by their bytes (at most 64 kept, of at most 128 bytes)."""


def parse_negotiate(data: bytes, max_size: int = MAX_MESSAGE_SIZE) -> NegotiateMessage:
    """``NegotiateMessage.parse(data, max_size=max_size)``, remembered by the bytes.

    A client sends the same NEGOTIATE_MESSAGE on every connection (its flags, its version), so
    an acceptor sees a few distinct ones; the parsed message is immutable, so the one parsed
    before is the answer. Raises what ``parse`` raises (a message that fails is not kept)."""
    if type(data) is bytes and len(data) <= _PARSED_NEGOTIATE_MAX:
        found = _PARSED_NEGOTIATE.get(data)
        if found is not None and len(data) <= max_size:
            return found
        message = NegotiateMessage.parse(data, max_size=max_size)
        if len(_PARSED_NEGOTIATE) >= 64:
            _PARSED_NEGOTIATE.clear()
        _PARSED_NEGOTIATE[data] = message
        return message
    return NegotiateMessage.parse(data, max_size=max_size)


@dataclass(frozen=True, slots=True)
class ChallengeMessage:
    """CHALLENGE_MESSAGE, MS-NLMP 2.2.1.2.

    ``target_info`` None means the TargetInfoFields are all zero (no list at all); an empty
    :class:`TargetInfo` is sent as a lone MsvAvEOL. ``target_name`` is UTF-16LE when
    NTLMSSP_NEGOTIATE_UNICODE is set, else OEM.
    """

    negotiate_flags: NegotiateFlags
    server_challenge: bytes
    target_name: str = ""
    target_info: TargetInfo | None = None
    version: Version | None = None

    def __post_init__(self) -> None:
        if len(self.server_challenge) != 8:
            raise InvalidParameter(f"ServerChallenge is 8 bytes, not {len(self.server_challenge)}.")
        _check_version(self.negotiate_flags, self.version, "CHALLENGE_MESSAGE")

    def build(self) -> bytes:
        """Return the message: header, VERSION if negotiated, TargetName, TargetInfo."""
        base = _CHALLENGE.size + (8 if self.version is not None else 0)
        writer = _Writer("CHALLENGE_MESSAGE", base)
        unicode = _is_unicode(self.negotiate_flags)
        name = writer.field(_encode(self.target_name, unicode, "TargetName"), "TargetName")
        if self.target_info is None:
            info = _ZERO_FIELD
        else:
            info = writer.field(self.target_info.build(), "TargetInfo")
        header = _CHALLENGE.pack(
            SIGNATURE,
            MessageType.NtLmChallenge,
            name,
            self.negotiate_flags,
            self.server_challenge,
            _ZERO_FIELD,
            info,
        )
        version = self.version.build() if self.version is not None else b""
        return b"".join((header, version, *writer.chunks))

    @classmethod
    def parse(cls, data: bytes, *, max_size: int = MAX_MESSAGE_SIZE) -> ChallengeMessage:
        """Parse a CHALLENGE_MESSAGE; Reserved is ignored and MaxLen fields too.

        Raises:
            DecodeError: wrong signature or type, truncated, a field outside the message,
                malformed target info, VERSION flagged but missing, trailing bytes, odd UTF-16
                length, or larger than ``max_size``.
        """
        data = bytes(data)
        _check_size(data, max_size)
        _check_prefix(data, MessageType.NtLmChallenge, _CHALLENGE.size)
        _, _, name_f, flags, challenge, _reserved, info_f = _CHALLENGE.unpack_from(data)
        reader = _Reader(data, "CHALLENGE_MESSAGE", _CHALLENGE.size)
        name = reader.field(name_f, "TargetNameFields")
        info = reader.field(info_f, "TargetInfoFields")
        version = None
        if flags & _VERSION_BIT:
            version = Version.parse(reader.slot(_CHALLENGE.size, 8, "NTLMSSP_NEGOTIATE_VERSION"))
        target_info = TargetInfo.parse(info) if info else None
        return cls(
            negotiate_flags(flags),
            challenge,
            _decode(name, _is_unicode(flags), "TargetName"),
            target_info,
            version,
        )


@dataclass(frozen=True, slots=True)
class AuthenticateMessage:
    """AUTHENTICATE_MESSAGE, MS-NLMP 2.2.1.3.

    Strings are UTF-16LE when NTLMSSP_NEGOTIATE_UNICODE is set, else OEM. ``mic`` is None when
    the message carries no MIC field. ``raw`` is the message exactly as received (``unpack``
    fills it; it is not compared): the MIC is computed over those bytes with the MIC zeroed
    (see :meth:`zeroed_mic`), never over a re-encoding.

    Deviation: the MIC is always placed at offset 72, after an 8-byte VERSION slot, even when
    NTLMSSP_NEGOTIATE_VERSION is not set (the slot is then zero). Windows always sends VERSION
    with a MIC; gss-ntlmssp and pyspnego read the MIC at 72 too.
    """

    negotiate_flags: NegotiateFlags
    lm_challenge_response: bytes = field(default=b"", repr=False)
    nt_challenge_response: bytes = field(default=b"", repr=False)
    domain_name: str = ""
    user_name: str = ""
    workstation: str = ""
    encrypted_random_session_key: bytes = field(default=b"", repr=False)
    version: Version | None = None
    mic: bytes | None = field(default=None, repr=False)
    raw: bytes = field(default=b"", repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_version(self.negotiate_flags, self.version, "AUTHENTICATE_MESSAGE", True)
        if self.mic is not None and len(self.mic) != 16:
            raise InvalidParameter(f"The MIC is 16 bytes, not {len(self.mic)}.")

    @property
    def mic_offset(self) -> int | None:
        """Offset of the MIC field in the packed message, or None without a MIC."""
        return MIC_OFFSET if self.mic is not None else None

    def zeroed_mic(self) -> bytes:
        """Return the message as received (or as packed, if built locally) with the MIC zeroed.

        This is the AUTHENTICATE_MESSAGE input of the MIC computation (MS-NLMP 3.1.5.1.2).

        Raises:
            InvalidParameter: the message has no MIC field.
        """
        if self.mic is None:
            raise InvalidParameter("This AUTHENTICATE_MESSAGE has no MIC field to zero.")
        data = self.raw or self.build()
        return b"".join((data[:MIC_OFFSET], bytes(16), data[MIC_OFFSET + 16 :]))

    def build(self) -> bytes:
        """Return the message with payloads in Windows' order (domain, user, workstation, LM, NT,
        session key), as in the MS-NLMP 4.2 examples."""
        if self.mic is not None:
            base = MIC_OFFSET + 16
        else:
            base = _AUTHENTICATE.size + (8 if self.version is not None else 0)
        writer = _Writer("AUTHENTICATE_MESSAGE", base)
        unicode = _is_unicode(self.negotiate_flags)
        domain = writer.field(_encode(self.domain_name, unicode, "DomainName"), "DomainName")
        user = writer.field(_encode(self.user_name, unicode, "UserName"), "UserName")
        workstation = writer.field(_encode(self.workstation, unicode, "Workstation"), "Workstation")
        lm = writer.field(self.lm_challenge_response, "LmChallengeResponse")
        nt = writer.field(self.nt_challenge_response, "NtChallengeResponse")
        key = writer.field(self.encrypted_random_session_key, "EncryptedRandomSessionKey")
        header = _AUTHENTICATE.pack(
            SIGNATURE,
            MessageType.NtLmAuthenticate,
            lm,
            nt,
            domain,
            user,
            workstation,
            key,
            self.negotiate_flags,
        )
        if self.version is not None:
            version = self.version.build()
        elif self.mic is not None:
            version = _ZERO_FIELD
        else:
            version = b""
        return b"".join((header, version, self.mic or b"", *writer.chunks))

    @classmethod
    def parse(cls, data: bytes, *, max_size: int = MAX_MESSAGE_SIZE) -> AuthenticateMessage:
        """Parse an AUTHENTICATE_MESSAGE and keep the bytes in ``raw``.

        The MIC field is read when the NTLMv2 response's MsvAvFlags has bit 0x2 (MS-NLMP
        2.2.1.3: the MIC is present when that bit is set in the client's NTLMv2 AV pairs).

        Raises:
            DecodeError: wrong signature or type, truncated, a field outside the message,
                VERSION or MIC flagged but missing, a malformed NTLMv2 response, trailing bytes,
                odd UTF-16 length, or larger than ``max_size``.
        """
        data = bytes(data)
        _check_size(data, max_size)
        _check_prefix(data, MessageType.NtLmAuthenticate, _AUTHENTICATE.size)
        _, _, lm_f, nt_f, domain_f, user_f, wks_f, key_f, flags = _AUTHENTICATE.unpack_from(data)
        reader = _Reader(data, "AUTHENTICATE_MESSAGE", _AUTHENTICATE.size)
        lm = reader.field(lm_f, "LmChallengeResponseFields")
        nt = reader.field(nt_f, "NtChallengeResponseFields")
        domain = reader.field(domain_f, "DomainNameFields")
        user = reader.field(user_f, "UserNameFields")
        workstation = reader.field(wks_f, "WorkstationFields")
        key = reader.field(key_f, "EncryptedRandomSessionKeyFields")
        version = None
        # Deviation: curl (lib/vauth/ntlm.c) echoes NTLMSSP_NEGOTIATE_VERSION in AUTHENTICATE
        # but writes no Version field, starting the payload at offset 64; Windows reads the
        # fields by their offsets and accepts it. A payload that leaves no room for the Version
        # therefore means "no Version" here (it is debugging data, MS-NLMP 2.2.2.10), while a
        # payload that overlaps a Version that is there is still refused by the field checks.
        if flags & _VERSION_BIT and not (
            reader.first < len(data) and reader.first < _AUTHENTICATE.size + 8
        ):
            version = Version.parse(
                reader.slot(_AUTHENTICATE.size, 8, "NTLMSSP_NEGOTIATE_VERSION")
            )
        mic = None
        if _has_mic(nt):
            mic = reader.slot(MIC_OFFSET, 16, "a MIC (MsvAvFlags bit 0x2)")
        unicode = _is_unicode(flags)
        return cls(
            negotiate_flags(flags),
            lm,
            nt,
            _decode(domain, unicode, "DomainName"),
            _decode(user, unicode, "UserName"),
            _decode(workstation, unicode, "Workstation"),
            key,
            version,
            mic,
            data,
        )


_last_blob: tuple[bytes, NtlmV2ClientChallenge] = (b"", NtlmV2ClientChallenge(0, bytes(8)))


def client_blob(nt_challenge_response: bytes) -> NtlmV2ClientChallenge:
    """``NtlmV2ClientChallenge.parse`` of an NTLMv2 response's blob (after NTProofStr).

    The acceptor reads the blob twice per AUTHENTICATE (for the MIC bit while parsing, then
    to check the timestamp and bindings); the last one parsed is kept, matched by value.

    Raises:
        DecodeError: as ``NtlmV2ClientChallenge.parse``.
    """
    global _last_blob
    data = nt_challenge_response[_NTPROOFSTR_SIZE:]
    held = _last_blob
    if held[0] == data:
        return held[1]
    blob = NtlmV2ClientChallenge.parse(data)
    _last_blob = (data, blob)
    return blob


def _has_mic(nt_challenge_response: bytes) -> bool:
    if len(nt_challenge_response) <= _NTLMV1_RESPONSE_SIZE:
        return False
    value = client_blob(nt_challenge_response).av_pairs.get(AvId.MsvAvFlags)
    return value is not None and bool(_U32.unpack(value)[0] & _MIC_PROVIDED_BIT)
