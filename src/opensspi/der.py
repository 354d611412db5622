"""A strict, fast DER codec for the ASN.1 subset Kerberos and SPNEGO use.

ITU-T X.690 (08/2015) §8 (BER) and §10-§11 (the DER restrictions), with the Kerberos rules of
RFC 4120 §5.1-§5.2 (https://www.rfc-editor.org/rfc/rfc4120#section-5) and the GSS-API token
framing of RFC 2743 §3.1 (https://www.rfc-editor.org/rfc/rfc2743#section-3.1).

Types covered: SEQUENCE / SEQUENCE OF, explicit context tags ``[n]``, APPLICATION tags, INTEGER
(any size, negative included), ENUMERATED, BOOLEAN, OCTET STRING, GeneralString (KerberosString),
GeneralizedTime (KerberosTime), BIT STRING (KerberosFlags and named-bit lists), OBJECT IDENTIFIER
and NULL.

How decoding works. A decoder never copies or recurses through a whole message: it walks one
``bytes`` object with absolute offsets. :func:`read_header` returns ``(tag, start, end)`` for the
element at an offset; :func:`read_fields` reads the ``[0] .. [n]`` explicit fields of a Kerberos
SEQUENCE into a list of :data:`Field` tuples ``(inner_tag, header_start, start, end)``; the typed
``get_*`` helpers turn one field into a Python value. Typed message decoders (the
``packages/*/asn1.py`` modules) are written against these and are bounded by their schema, so they
cannot recurse; :func:`parse_tree`, the generic decoder, enforces :data:`MAX_DEPTH`. Slices of the
input (``data[header_start:end]``) give the exact bytes of any element, which callers keep where a
checksum covers them.

Strictness (every rule raises :class:`~opensspi.errors.DecodeError` naming the field and the
offset; no ``IndexError``, ``ValueError`` or ``RecursionError`` escapes):

- definite lengths only, in the minimal form (X.690 §10.1), at most 4 length octets;
- low tag numbers only (< 31): Kerberos and SPNEGO use no others;
- an element never runs past its parent, and an explicit tag holds exactly one element;
- explicit fields appear in increasing tag order, each at most once, and none unknown;
- INTEGER and ENUMERATED in the minimal two's-complement form (X.690 §8.3.2);
- BOOLEAN is ``00`` or ``FF`` (X.690 §11.1); unused BIT STRING bits are zero (§11.2.1);
- OBJECT IDENTIFIER sub-identifiers are minimal (§8.19.2);
- KerberosTime is exactly ``YYYYMMDDHHMMSSZ`` (RFC 4120 §5.2.3) and a real date;
- a SEQUENCE OF holds at most :data:`MAX_ELEMENTS` elements; a top-level element is followed by
  nothing.

Deviation (KerberosFlags): DER's rule that a named-bit list drops its trailing zero bits
(X.690 §11.2.2) does not apply: RFC 4120 §5.2.8 says a KerberosFlags value is sent with at least
32 bits, and :func:`encode_kerberos_flags` always writes exactly 32. :func:`encode_named_bits`
(SPNEGO ContextFlags, RFC 4178 §4.2.1) follows DER and trims them.

Encoding raises :class:`~opensspi.errors.InvalidParameter` for a value that cannot be encoded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

from .errors import DecodeError, InvalidParameter

__all__ = [
    "BIT_STRING",
    "BOOLEAN",
    "ENUMERATED",
    "GENERALIZED_TIME",
    "GENERAL_STRING",
    "IA5_STRING",
    "INTEGER",
    "MAX_DEPTH",
    "MAX_ELEMENTS",
    "NULL",
    "OBJECT_IDENTIFIER",
    "OCTET_STRING",
    "SEQUENCE",
    "UTF8_STRING",
    "Element",
    "Field",
    "application",
    "context",
    "decode_bit_string",
    "decode_boolean",
    "decode_initial_context_token",
    "decode_integer",
    "decode_kerberos_flags",
    "decode_kerberos_string",
    "decode_kerberos_time",
    "decode_named_bits",
    "decode_oid",
    "encode_application",
    "encode_bit_string",
    "encode_boolean",
    "encode_enumerated",
    "encode_explicit",
    "encode_fields",
    "encode_initial_context_token",
    "encode_integer",
    "encode_kerberos_flags",
    "encode_kerberos_string",
    "encode_kerberos_time",
    "encode_length",
    "encode_named_bits",
    "encode_null",
    "encode_octet_string",
    "encode_oid",
    "encode_sequence",
    "encode_sequence_of",
    "encode_tlv",
    "expect",
    "get_boolean",
    "get_enumerated",
    "get_integer",
    "get_kerberos_flags",
    "get_kerberos_string",
    "get_kerberos_time",
    "get_octet_string",
    "get_oid",
    "parse_tree",
    "read_fields",
    "read_header",
    "read_sequence_of",
    "tag_name",
    "unwrap",
]

BOOLEAN = 0x01
INTEGER = 0x02
BIT_STRING = 0x03
OCTET_STRING = 0x04
NULL = 0x05
OBJECT_IDENTIFIER = 0x06
ENUMERATED = 0x0A
UTF8_STRING = 0x0C
IA5_STRING = 0x16
GENERALIZED_TIME = 0x18
GENERAL_STRING = 0x1B
SEQUENCE = 0x30
"""Identifier octets (tag class, constructed bit and number in one byte) of the universal types."""

MAX_DEPTH = 32
"""How deep :func:`parse_tree` follows constructed elements (Kerberos needs about 10)."""

MAX_ELEMENTS = 1024
"""The most elements a SEQUENCE OF (or one constructed element in :func:`parse_tree`) may hold."""

_MAX_LENGTH_OCTETS = 4  # 4 GiB: far beyond any token; a longer length field is an attack
_MAX_TREE_DEPTH = 256  # parse_tree recurses; this keeps it far from Python's recursion limit
_UTC = timezone.utc

Field = tuple[int, int, int, int]
"""One explicit field read by :func:`read_fields`: ``(inner_tag, header_start, start, end)``.

``inner_tag`` is the identifier octet of the element inside ``[n]``; ``data[header_start:end]``
is that whole element and ``data[start:end]`` its contents.
"""

_UNIVERSAL_NAMES = {
    BOOLEAN: "BOOLEAN",
    INTEGER: "INTEGER",
    BIT_STRING: "BIT STRING",
    OCTET_STRING: "OCTET STRING",
    NULL: "NULL",
    OBJECT_IDENTIFIER: "OBJECT IDENTIFIER",
    ENUMERATED: "ENUMERATED",
    UTF8_STRING: "UTF8String",
    IA5_STRING: "IA5String",
    GENERALIZED_TIME: "GeneralizedTime",
    GENERAL_STRING: "GeneralString",
    SEQUENCE: "SEQUENCE",
    0x31: "SET",
}
_CLASS_NAMES = ("UNIVERSAL", "APPLICATION", "", "PRIVATE")


def context(number: int) -> int:
    """The identifier octet of a constructed (explicit) context tag ``[number]``."""
    return 0xA0 | number


def application(number: int) -> int:
    """The identifier octet of a constructed ``[APPLICATION number]`` tag."""
    return 0x60 | number


def tag_name(tag: int) -> str:
    """A readable name for an identifier octet: ``INTEGER``, ``[3]``, ``[APPLICATION 14]``."""
    known = _UNIVERSAL_NAMES.get(tag)
    if known is not None:
        return known
    cls = _CLASS_NAMES[tag >> 6]
    number = tag & 0x1F
    inner = f"{cls} {number}" if cls else str(number)
    form = "" if tag & 0x20 else " primitive"
    return f"[{inner}]{form} (0x{tag:02x})"


# ---------------------------------------------------------------------------------------------
# Decoding: headers and structure
# ---------------------------------------------------------------------------------------------


def read_header(data: bytes, pos: int, end: int, what: str) -> tuple[int, int, int]:
    """Read the identifier and length octets at ``pos``; return ``(tag, start, end)``.

    X.690 §8.1.2-§8.1.3 with the DER rules of §10.1: definite, minimal lengths. ``end`` bounds
    the element (its parent's end).

    Raises:
        DecodeError: truncated header or contents, a high tag number, an indefinite or
            non-minimal length, or contents that run past ``end``.
    """
    if pos + 2 > end:
        raise DecodeError(f"{what}: truncated element header at offset {pos}.")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise DecodeError(
            f"{what}: tag numbers of 31 and above (identifier 0x{tag:02x} at offset {pos}) are "
            "not used by Kerberos or SPNEGO."
        )
    length = data[pos + 1]
    start = pos + 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0:
            raise DecodeError(
                f"{what}: indefinite length at offset {pos}; DER allows definite lengths only."
            )
        if count > _MAX_LENGTH_OCTETS:
            raise DecodeError(f"{what}: {count}-octet length field at offset {pos} is too long.")
        if start + count > end:
            raise DecodeError(f"{what}: truncated length field at offset {pos}.")
        length = int.from_bytes(data[start : start + count], "big")
        if data[start] == 0 or length < 0x80:
            raise DecodeError(f"{what}: the length at offset {pos} is not in the minimal DER form.")
        start += count
    stop = start + length
    if stop > end:
        raise DecodeError(
            f"{what}: {tag_name(tag)} at offset {pos} declares {length} bytes but only "
            f"{end - start} remain."
        )
    return tag, start, stop


def expect(data: bytes, pos: int, end: int, tag: int, what: str) -> tuple[int, int]:
    """Read the element at ``pos``, check its tag, and return its contents' ``(start, end)``."""
    found, start, stop = read_header(data, pos, end, what)
    if found != tag:
        raise DecodeError(
            f"{what}: expected {tag_name(tag)} at offset {pos}, found {tag_name(found)}."
        )
    return start, stop


def unwrap(data: bytes, tag: int, what: str) -> tuple[int, int]:
    """Check that ``data`` is exactly one element with ``tag``; return its contents' range.

    Raises:
        DecodeError: wrong tag, a malformed header, or bytes after the element.
    """
    start, stop = expect(data, 0, len(data), tag, what)
    if stop != len(data):
        raise DecodeError(
            f"{what}: {len(data) - stop} trailing bytes after the element (offset {stop})."
        )
    return start, stop


def read_fields(data: bytes, start: int, end: int, count: int, what: str) -> list[Field | None]:
    """Read the explicitly tagged fields ``[0]`` .. ``[count - 1]`` of a SEQUENCE's contents.

    RFC 4120 §5.2 style: every component is ``[n] EXPLICIT``. Returns a list indexed by tag
    number, ``None`` where a field is absent; presence of required fields is the caller's check.

    Raises:
        DecodeError: an element that is not a constructed context tag, a tag out of order,
            repeated or unknown, or an explicit tag that does not hold exactly one element.
    """
    fields: list[Field | None] = [None] * count
    last = -1
    pos = start
    while pos < end:
        tag = data[pos]
        number = tag - 0xA0
        # Fast path, the hot loop of every decoder: a valid [n] holding one element, both with
        # short, 1- or 2-octet lengths. Anything else (including every error) takes the slow
        # path below, which checks each rule and names it.
        if last < number < count and pos + 4 <= end:
            length = data[pos + 1]
            inner = pos + 2
            if length >= 0x80:
                if length == 0x81:
                    length = data[inner]
                    inner += 1
                    if length < 0x80:
                        inner = -1
                elif length == 0x82 and inner + 2 < end:
                    length = data[inner] << 8 | data[inner + 1]
                    inner += 2
                    if length < 0x100:
                        inner = -1
                else:
                    inner = -1
            stop = inner + length
            if inner >= 0 and stop <= end and inner + 2 <= stop:
                inner_tag = data[inner]
                length = data[inner + 1]
                inner_start = inner + 2
                if length >= 0x80:
                    if length == 0x81 and inner_start < stop:
                        length = data[inner_start]
                        inner_start += 1
                        if length < 0x80:
                            inner_start = -1
                    elif length == 0x82 and inner_start + 2 <= stop:
                        length = data[inner_start] << 8 | data[inner_start + 1]
                        inner_start += 2
                        if length < 0x100:
                            inner_start = -1
                    else:
                        inner_start = -1
                if inner_start >= 0 and inner_start + length == stop and inner_tag & 0x1F != 0x1F:
                    fields[number] = (inner_tag, inner, inner_start, stop)
                    last = number
                    pos = stop
                    continue
        tag, inner, stop = read_header(data, pos, end, what)
        if number <= last or number >= count:
            if not 0 <= number < 32:
                raise DecodeError(
                    f"{what}: expected an explicit context tag at offset {pos}, found "
                    f"{tag_name(tag)}."
                )
            if number >= count:
                raise DecodeError(
                    f"{what}: unknown field [{number}] at offset {pos} (fields [0]..[{count - 1}])."
                )
            raise DecodeError(
                f"{what}: field [{number}] at offset {pos} is repeated or out of order."
            )
        inner_tag, inner_start, inner_stop = read_header(data, inner, stop, what)
        if inner_stop != stop:
            raise DecodeError(
                f"{what}: explicit tag [{number}] at offset {pos} holds more than one element."
            )
        fields[number] = (inner_tag, inner, inner_start, inner_stop)
        last = number
        pos = stop
    return fields


def read_sequence_of(
    data: bytes,
    start: int,
    end: int,
    what: str,
    max_elements: int = MAX_ELEMENTS,
) -> list[Field]:
    """Read the elements of a SEQUENCE OF's contents as ``(tag, header_start, start, end)``.

    Raises:
        DecodeError: a malformed element or more than ``max_elements`` of them.
    """
    items: list[Field] = []
    pos = start
    while pos < end:
        if len(items) >= max_elements:
            raise DecodeError(f"{what}: more than {max_elements} elements (offset {pos}).")
        tag, inner, stop = read_header(data, pos, end, what)
        items.append((tag, pos, inner, stop))
        pos = stop
    return items


# ---------------------------------------------------------------------------------------------
# Decoding: primitive contents
# ---------------------------------------------------------------------------------------------


def decode_integer(data: bytes, start: int, end: int, what: str) -> int:
    """INTEGER (and ENUMERATED) contents, X.690 §8.3: two's complement, minimal, any size."""
    if end - start > 1:
        first = data[start]
        second = data[start + 1]
        if (first == 0 and second < 0x80) or (first == 0xFF and second >= 0x80):
            raise DecodeError(f"{what}: INTEGER at offset {start} is not in the minimal DER form.")
    elif end == start:
        raise DecodeError(f"{what}: empty INTEGER at offset {start}.")
    return int.from_bytes(data[start:end], "big", signed=True)


def decode_boolean(data: bytes, start: int, end: int, what: str) -> bool:
    """BOOLEAN contents, X.690 §11.1: one octet, ``00`` (FALSE) or ``FF`` (TRUE)."""
    if end - start != 1:
        raise DecodeError(f"{what}: BOOLEAN at offset {start} is {end - start} bytes, not 1.")
    value = data[start]
    if value == 0xFF:
        return True
    if value == 0:
        return False
    raise DecodeError(f"{what}: BOOLEAN 0x{value:02x} at offset {start}; DER allows 00 or FF.")


def decode_kerberos_string(data: bytes, start: int, end: int, what: str) -> str:
    """KerberosString contents (RFC 4120 §5.2.1) as text.

    The ASN.1 says IA5; MIT, Heimdal and Active Directory send UTF-8 in practice, so the
    octets are read as UTF-8. Deviation: octets that are not UTF-8 are kept as lone surrogates
    (``surrogateescape``), so any received name decodes and re-encodes to the same bytes
    instead of failing the whole message.
    """
    del what  # nothing to reject: every octet string has a text form
    return data[start:end].decode("utf-8", "surrogateescape")


def decode_kerberos_time(data: bytes, start: int, end: int, what: str) -> datetime:
    """KerberosTime contents (RFC 4120 §5.2.3): ``YYYYMMDDHHMMSSZ``, no fraction, UTC.

    Returns an aware :class:`datetime` in UTC.
    """
    raw = data[start:end]
    found = _TIMES_DECODED.get(raw)
    if found is not None:
        return found
    if len(raw) != 15 or raw[14] != 0x5A or not raw[:14].isdigit():
        raise DecodeError(
            f"{what}: KerberosTime at offset {start} is not YYYYMMDDHHMMSSZ: {raw[:20]!r}."
        )
    try:
        value = datetime(
            int(raw[0:4]),
            int(raw[4:6]),
            int(raw[6:8]),
            int(raw[8:10]),
            int(raw[10:12]),
            int(raw[12:14]),
            tzinfo=_UTC,
        )
    except ValueError as exc:
        raise DecodeError(
            f"{what}: KerberosTime at offset {start} is not a real date: {raw.decode()}."
        ) from exc
    if len(_TIMES_DECODED) >= _TIME_MEMO_SIZE:
        _TIMES_DECODED.clear()
    _TIMES_DECODED[raw] = value
    return value


# KerberosTime both ways, remembered: the times of one second recur in every message of it
# (authenticator and AP-REP ctime, ticket times). Bounded; datetimes are immutable.
_TIME_MEMO_SIZE = 256
_TIMES_DECODED: dict[bytes, datetime] = {}
_TIMES_ENCODED: dict[datetime, bytes] = {}


def decode_bit_string(data: bytes, start: int, end: int, what: str) -> tuple[bytes, int]:
    """BIT STRING contents, X.690 §8.6 / §11.2: return ``(octets, unused_bits)``.

    The unused bits of the last octet must be zero (§11.2.1).
    """
    if end == start:
        raise DecodeError(f"{what}: empty BIT STRING at offset {start}.")
    unused = data[start]
    if unused > 7 or (unused and end - start == 1):
        raise DecodeError(f"{what}: BIT STRING at offset {start} has {unused} unused bits.")
    if unused and data[end - 1] & ((1 << unused) - 1):
        raise DecodeError(f"{what}: BIT STRING at offset {start} has non-zero unused bits.")
    return data[start + 1 : end], unused


def decode_kerberos_flags(data: bytes, start: int, end: int, what: str) -> int:
    """KerberosFlags contents (RFC 4120 §5.2.8) as an int.

    Convention: RFC bit ``n`` (bit 0 is the most significant bit of the first octet) is the
    integer bit ``1 << (31 - n)``; that is the first four octets read big-endian, so
    ``forwardable(1)`` is ``0x40000000``. Any length is accepted (§5.2.8: "MUST accept"):
    a shorter string reads as if padded with zero bits; bits past 31 carry no defined flag and
    are ignored.
    """
    octets, _unused = decode_bit_string(data, start, end, what)
    if len(octets) >= 4:
        return int.from_bytes(octets[:4], "big")
    return int.from_bytes(octets, "big") << (8 * (4 - len(octets)))


def decode_named_bits(data: bytes, start: int, end: int, what: str) -> int:
    """A named-bit list BIT STRING (SPNEGO ContextFlags) as an int, bit ``n`` at ``1 << n``.

    X.690 §11.2.2: the encoding has no trailing zero bits; a string that ends in a zero bit
    is rejected, so the value re-encodes to the same bytes.
    """
    octets, unused = decode_bit_string(data, start, end, what)
    if octets and not octets[-1] >> unused & 1:
        raise DecodeError(
            f"{what}: named-bit BIT STRING at offset {start} has trailing zero bits (X.690 11.2.2)."
        )
    value = 0
    for index, octet in enumerate(octets):
        if octet:
            for bit in range(8):
                if octet & (0x80 >> bit):
                    value |= 1 << (index * 8 + bit)
    return value


_OID_CACHE: dict[bytes, str] = {}


def decode_oid(data: bytes, start: int, end: int, what: str) -> str:
    """OBJECT IDENTIFIER contents (X.690 §8.19) as a dotted string, ``1.2.840.113554.1.2.2``."""
    raw = data[start:end]
    cached = _OID_CACHE.get(raw)
    if cached is not None:
        return cached
    if not raw:
        raise DecodeError(f"{what}: empty OBJECT IDENTIFIER at offset {start}.")
    if raw[-1] & 0x80:
        raise DecodeError(f"{what}: OBJECT IDENTIFIER at offset {start} ends mid-arc.")
    arcs: list[int] = []
    value = 0
    fresh = True
    for octet in raw:
        if fresh and octet == 0x80:
            raise DecodeError(f"{what}: OBJECT IDENTIFIER at offset {start} has a non-minimal arc.")
        value = (value << 7) | (octet & 0x7F)
        fresh = not octet & 0x80
        if fresh:
            arcs.append(value)
            value = 0
    first = arcs[0]
    head = [first // 40, first % 40] if first < 80 else [2, first - 80]
    text = ".".join(str(arc) for arc in head + arcs[1:])
    if len(_OID_CACHE) < 256:
        _OID_CACHE[raw] = text
    return text


# ---------------------------------------------------------------------------------------------
# Decoding: one explicit field (a Field from read_fields) to a value
# ---------------------------------------------------------------------------------------------


def _check(field: Field | None, tag: int, what: str) -> Field:
    if field is None:
        raise DecodeError(f"{what} is missing.")
    if field[0] != tag:
        raise DecodeError(
            f"{what}: expected {tag_name(tag)} at offset {field[1]}, found {tag_name(field[0])}."
        )
    return field


def get_integer(data: bytes, field: Field | None, what: str) -> int:
    """The INTEGER in a required field."""
    if field is not None and field[0] == INTEGER:
        start = field[2]
        size = field[3] - start
        if size == 1:
            value = data[start]  # the common one-octet case, always minimal
            return value - 256 if value & 0x80 else value
        if 1 < size <= 8:  # microseconds, sequence numbers, nonces: checked as decode_integer
            first, second = data[start], data[start + 1]
            if not ((first == 0 and second < 0x80) or (first == 0xFF and second >= 0x80)):
                return int.from_bytes(data[start : field[3]], "big", signed=True)
    _tag, _head, start, end = _check(field, INTEGER, what)
    return decode_integer(data, start, end, what)


def get_enumerated(data: bytes, field: Field | None, what: str) -> int:
    """The ENUMERATED in a required field."""
    _tag, _head, start, end = _check(field, ENUMERATED, what)
    return decode_integer(data, start, end, what)


def get_boolean(data: bytes, field: Field | None, what: str) -> bool:
    """The BOOLEAN in a required field."""
    _tag, _head, start, end = _check(field, BOOLEAN, what)
    return decode_boolean(data, start, end, what)


def get_octet_string(data: bytes, field: Field | None, what: str) -> bytes:
    """The OCTET STRING in a required field."""
    _tag, _head, start, end = _check(field, OCTET_STRING, what)
    return data[start:end]


def get_kerberos_string(data: bytes, field: Field | None, what: str) -> str:
    """The KerberosString (GeneralString) in a required field."""
    _tag, _head, start, end = _check(field, GENERAL_STRING, what)
    return data[start:end].decode("utf-8", "surrogateescape")


def get_kerberos_time(data: bytes, field: Field | None, what: str) -> datetime:
    """The KerberosTime (GeneralizedTime) in a required field."""
    _tag, _head, start, end = _check(field, GENERALIZED_TIME, what)
    return decode_kerberos_time(data, start, end, what)


def get_kerberos_flags(data: bytes, field: Field | None, what: str) -> int:
    """The KerberosFlags (BIT STRING) in a required field; see :func:`decode_kerberos_flags`."""
    _tag, _head, start, end = _check(field, BIT_STRING, what)
    return decode_kerberos_flags(data, start, end, what)


def get_oid(data: bytes, field: Field | None, what: str) -> str:
    """The OBJECT IDENTIFIER in a required field, as a dotted string."""
    _tag, _head, start, end = _check(field, OBJECT_IDENTIFIER, what)
    return decode_oid(data, start, end, what)


# ---------------------------------------------------------------------------------------------
# Generic tree decoder (debugging, fuzzing, unknown structures)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Element:
    """One decoded TLV: identifier octet, exact encoding, offset, children (if constructed)."""

    tag: int
    raw: bytes
    offset: int
    children: tuple[Element, ...] | None

    @property
    def contents(self) -> bytes:
        """The contents octets (the element without its header)."""
        _tag, start, end = read_header(self.raw, 0, len(self.raw), "Element")
        return self.raw[start:end]


def parse_tree(
    data: bytes,
    max_depth: int = MAX_DEPTH,
    max_elements: int = MAX_ELEMENTS,
) -> Element:
    """Decode ``data`` as one DER element, following every constructed element.

    Raises:
        DecodeError: any header or length violation, trailing bytes, nesting deeper than
            ``max_depth``, or a constructed element with more than ``max_elements`` children.
    """
    if not 0 < max_depth <= _MAX_TREE_DEPTH:
        raise InvalidParameter(f"parse_tree max_depth must be 1..{_MAX_TREE_DEPTH}.")
    data = bytes(data)
    element, stop = _tree(data, 0, len(data), 1, max_depth, max_elements)
    if stop != len(data):
        raise DecodeError(f"DER: {len(data) - stop} trailing bytes after the element.")
    return element


def _tree(
    data: bytes, pos: int, end: int, depth: int, max_depth: int, max_elements: int
) -> tuple[Element, int]:
    if depth > max_depth:
        raise DecodeError(f"DER: nesting deeper than {max_depth} levels at offset {pos}.")
    tag, start, stop = read_header(data, pos, end, "DER")
    children: tuple[Element, ...] | None = None
    if tag & 0x20:
        items: list[Element] = []
        inner = start
        while inner < stop:
            if len(items) >= max_elements:
                raise DecodeError(f"DER: more than {max_elements} elements at offset {pos}.")
            child, inner = _tree(data, inner, stop, depth + 1, max_depth, max_elements)
            items.append(child)
        children = tuple(items)
    return Element(tag, data[pos:stop], pos, children), stop


# ---------------------------------------------------------------------------------------------
# Encoding
# ---------------------------------------------------------------------------------------------

_SHORT_LENGTHS = tuple(bytes((n,)) for n in range(0x80))


def encode_length(length: int) -> bytes:
    """The DER length octets for ``length`` (X.690 §10.1: minimal definite form)."""
    if length < 0x80:
        return _SHORT_LENGTHS[length]
    if length < 0x100:
        return bytes((0x81, length))
    if length < 0x10000:
        return bytes((0x82, length >> 8, length & 0xFF))
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    if len(body) > _MAX_LENGTH_OCTETS:
        raise InvalidParameter(f"DER: an element of {length} bytes is too long to encode.")
    return bytes((0x80 | len(body),)) + body


def encode_tlv(tag: int, contents: bytes) -> bytes:
    """One element: identifier octet ``tag``, length, ``contents``."""
    length = len(contents)
    if length < 0x80:
        return bytes((tag, length)) + contents
    return bytes((tag,)) + encode_length(length) + contents


_SMALL_INTEGERS = tuple(bytes((0x02, 1, value)) for value in range(0x80))


def encode_integer(value: int) -> bytes:
    """An INTEGER in minimal two's complement (X.690 §8.3); any size, negative allowed."""
    if 0 <= value < 0x80:
        return _SMALL_INTEGERS[value]
    size = (value + (value < 0)).bit_length() // 8 + 1
    return encode_tlv(INTEGER, value.to_bytes(size, "big", signed=True))


def encode_enumerated(value: int) -> bytes:
    """An ENUMERATED (encoded as INTEGER, X.690 §8.4)."""
    size = (value + (value < 0)).bit_length() // 8 + 1
    return encode_tlv(ENUMERATED, value.to_bytes(size, "big", signed=True))


def encode_boolean(value: bool) -> bytes:
    """A BOOLEAN, ``FF`` for TRUE (X.690 §11.1)."""
    return b"\x01\x01\xff" if value else b"\x01\x01\x00"


def encode_null() -> bytes:
    """NULL."""
    return b"\x05\x00"


def encode_octet_string(value: bytes) -> bytes:
    """An OCTET STRING."""
    return encode_tlv(OCTET_STRING, value)


def encode_kerberos_string(value: str) -> bytes:
    """A KerberosString (GeneralString, RFC 4120 §5.2.1) holding ``value`` as UTF-8.

    Lone surrogates from :func:`decode_kerberos_string` turn back into their original octets.
    """
    try:
        raw = value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError as exc:
        raise InvalidParameter(
            f"KerberosString {value!r} holds a character that has no UTF-8 encoding."
        ) from exc
    return encode_tlv(GENERAL_STRING, raw)


def encode_kerberos_time(value: datetime) -> bytes:
    """A KerberosTime (RFC 4120 §5.2.3): ``YYYYMMDDHHMMSSZ`` in UTC, no fraction.

    ``value`` must be timezone-aware. Microseconds are dropped: the protocol carries them in
    separate ``cusec``/``susec`` fields.
    """
    offset = value.utcoffset()
    if offset is None:
        raise InvalidParameter(
            "KerberosTime needs a timezone-aware datetime; use datetime.now(timezone.utc)."
        )
    # Aware datetimes are equal (and hash alike) when they name the same instant, which has
    # one encoding; microseconds are dropped below, so they must be part of the key.
    found = _TIMES_ENCODED.get(value)
    if found is not None:
        return found
    key = value
    if offset:
        value = value.astimezone(_UTC)
    if value.year < 1:  # pragma: no cover - datetime cannot hold such a year
        raise InvalidParameter("KerberosTime year out of range.")
    text = (
        f"{value.year:04d}{value.month:02d}{value.day:02d}"
        f"{value.hour:02d}{value.minute:02d}{value.second:02d}Z"
    )
    encoded = b"\x18\x0f" + text.encode("ascii")
    if len(_TIMES_ENCODED) >= _TIME_MEMO_SIZE:
        _TIMES_ENCODED.clear()
    _TIMES_ENCODED[key] = encoded
    return encoded


def encode_bit_string(octets: bytes, unused: int = 0) -> bytes:
    """A BIT STRING of ``octets`` whose last ``unused`` bits are padding (X.690 §8.6)."""
    if not 0 <= unused <= 7 or (unused and not octets):
        raise InvalidParameter(f"BIT STRING: {unused} unused bits is not possible here.")
    if unused and octets[-1] & ((1 << unused) - 1):
        raise InvalidParameter("BIT STRING: the unused bits must be zero.")
    return encode_tlv(BIT_STRING, bytes((unused,)) + octets)


def encode_kerberos_flags(value: int) -> bytes:
    """KerberosFlags (RFC 4120 §5.2.8): exactly 32 bits, ``value`` read as in
    :func:`decode_kerberos_flags` (RFC bit ``n`` is ``1 << (31 - n)``)."""
    if not 0 <= value <= 0xFFFFFFFF:
        raise InvalidParameter(f"KerberosFlags value {value:#x} does not fit 32 bits.")
    return b"\x03\x05\x00" + value.to_bytes(4, "big")


def encode_named_bits(value: int) -> bytes:
    """A named-bit list BIT STRING, bit ``n`` taken from ``1 << n``; DER trims trailing zeros."""
    if value < 0:
        raise InvalidParameter("A named-bit list cannot be negative.")
    if value == 0:
        return b"\x03\x01\x00"
    nbits = value.bit_length()
    octets = bytearray((nbits + 7) // 8)
    for bit in range(nbits):
        if value >> bit & 1:
            octets[bit // 8] |= 0x80 >> (bit % 8)
    return encode_tlv(BIT_STRING, bytes(((-nbits) % 8,)) + bytes(octets))


_OID_ENCODE_CACHE: dict[str, bytes] = {}


def encode_oid(dotted: str) -> bytes:
    """An OBJECT IDENTIFIER from its dotted form (X.690 §8.19)."""
    cached = _OID_ENCODE_CACHE.get(dotted)
    if cached is not None:
        return cached
    parts = dotted.split(".")
    if not all(part.isascii() and part.isdigit() for part in parts):
        raise InvalidParameter(f"{dotted!r} is not a dotted OBJECT IDENTIFIER.")
    arcs = [int(part) for part in parts]
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] >= 40):
        raise InvalidParameter(f"{dotted!r} is not a valid OBJECT IDENTIFIER.")
    body = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    encoded = encode_tlv(OBJECT_IDENTIFIER, bytes(body))
    if len(_OID_ENCODE_CACHE) < 256:
        _OID_ENCODE_CACHE[dotted] = encoded
    return encoded


def encode_explicit(number: int, inner: bytes) -> bytes:
    """``[number] EXPLICIT`` around one encoded element."""
    return encode_tlv(0xA0 | number, inner)


def encode_application(number: int, inner: bytes) -> bytes:
    """``[APPLICATION number]`` (constructed) around one encoded element."""
    return encode_tlv(0x60 | number, inner)


def encode_sequence(*parts: bytes) -> bytes:
    """A SEQUENCE of already-encoded components."""
    return encode_tlv(SEQUENCE, b"".join(parts))


def encode_sequence_of(items: Iterable[bytes]) -> bytes:
    """A SEQUENCE OF already-encoded elements."""
    return encode_tlv(SEQUENCE, b"".join(items))


def encode_fields(fields: Iterable[tuple[int, bytes | None]]) -> bytes:
    """A SEQUENCE of ``[n] EXPLICIT`` components from ``(n, encoded)`` pairs; ``None`` is absent.

    The pairs must come in increasing tag order (RFC 4120 types list them that way).
    """
    parts: list[bytes] = [b""]  # the SEQUENCE header, once the length is known
    total = 0
    for number, encoded in fields:
        if encoded is not None:
            # encode_tlv inlined: every field's bytes and the whole are joined once
            length = len(encoded)
            if length < 0x80 and number < 16:
                head = _FIELD_HEADS[number][length]
            else:
                head = bytes((0xA0 | number,)) + encode_length(length)
            parts.append(head)
            parts.append(encoded)
            total += len(head) + length
    parts[0] = _SEQUENCE_HEADS[total] if total < 0x80 else b"\x30" + encode_length(total)
    return b"".join(parts)


# Headers of short elements, made once: ``[n]`` for the fields of encode_fields, SEQUENCE.
_FIELD_HEADS = tuple(tuple(bytes((0xA0 | n, length)) for length in range(0x80)) for n in range(16))
_SEQUENCE_HEADS = tuple(bytes((0x30, length)) for length in range(0x80))


# ---------------------------------------------------------------------------------------------
# RFC 2743 §3.1 InitialContextToken framing
# ---------------------------------------------------------------------------------------------


def encode_initial_context_token(oid: str, inner: bytes) -> bytes:
    """RFC 2743 §3.1 ``InitialContextToken``: the mechanism OID, then the inner token.

    ::

        0x60 | length | 0x06 | oid-length | oid | innerContextToken
    """
    return encode_tlv(0x60, encode_oid(oid) + inner)


def decode_initial_context_token(data: bytes) -> tuple[str, bytes]:
    """Split an RFC 2743 §3.1 initial context token into ``(mech_oid, innerContextToken)``.

    Raises:
        DecodeError: not ``0x60``-framed, a bad length or OID, or trailing bytes.
    """
    data = bytes(data)
    start, end = unwrap(data, 0x60, "InitialContextToken")
    oid_start, oid_end = expect(data, start, end, OBJECT_IDENTIFIER, "InitialContextToken.thisMech")
    return decode_oid(data, oid_start, oid_end, "InitialContextToken.thisMech"), data[oid_end:end]
