"""The DER codec: every primitive round-trips, every strictness rule is enforced, and hostile
input only ever raises ``DecodeError`` (never IndexError, ValueError or RecursionError)."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opensspi import der
from opensspi.errors import DecodeError, InvalidParameter

UTC = timezone.utc
KERBEROS_TIMES = st.datetimes(
    min_value=datetime(1, 1, 1),
    max_value=datetime(9999, 12, 31, 23, 59, 59),
    timezones=st.just(UTC),
).map(lambda value: value.replace(microsecond=0))
OIDS = st.tuples(
    st.integers(0, 2),
    st.integers(0, 39),
    st.lists(st.integers(0, 2**70), max_size=8),
).map(lambda t: ".".join(str(arc) for arc in (t[0], t[1], *t[2])))


def whole(data: bytes, tag: int) -> tuple[int, int]:
    return der.unwrap(data, tag, "test")


# ---------------------------------------------------------------------------------------------
# Headers and lengths
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [0, 1, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF, 0x10000, 0x123456])
def test_length_round_trip(length: int) -> None:
    encoded = der.encode_tlv(der.OCTET_STRING, bytes(length))
    tag, start, end = der.read_header(encoded, 0, len(encoded), "test")
    assert (tag, end - start, end) == (der.OCTET_STRING, length, len(encoded))
    assert start == 2 + (0 if length < 0x80 else (length.bit_length() + 7) // 8)


@pytest.mark.parametrize(
    ("encoding", "message"),
    [
        (b"\x04\x80\x00\x00", "indefinite"),
        (b"\x04\x81\x05" + bytes(5), "minimal"),  # 5 fits the short form
        (b"\x04\x82\x00\x80" + bytes(128), "minimal"),  # leading zero length octet
        (b"\x04\x85\x00\x00\x00\x00\x01\x00", "too long"),
        (b"\x04", "truncated"),
        (b"\x04\x82\x01", "truncated"),
        (b"\x04\x05abc", "declares 5 bytes"),
        (b"\x1f\x22\x01\x00", "tag numbers of 31"),
        (b"\x3f\x81\x01\x00", "tag numbers of 31"),
    ],
)
def test_header_violations(encoding: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        der.read_header(encoding, 0, len(encoding), "Field.name")


def test_error_names_field_and_offset() -> None:
    data = b"\x30\x03\x02\x01"
    with pytest.raises(DecodeError, match=r"Ticket\.sname: .*offset 0"):
        der.read_header(data, 0, len(data), "Ticket.sname")


def test_unwrap_rejects_trailing_bytes_and_wrong_tag() -> None:
    assert whole(b"\x04\x01a", der.OCTET_STRING) == (2, 3)
    with pytest.raises(DecodeError, match="trailing"):
        whole(b"\x04\x01a\x00", der.OCTET_STRING)
    with pytest.raises(DecodeError, match="expected OCTET STRING"):
        whole(b"\x02\x01\x00", der.OCTET_STRING)


def test_child_cannot_run_past_parent() -> None:
    data = b"\x30\x03\x04\x05abcde"
    start, end = der.expect(data, 0, len(data), der.SEQUENCE, "outer")
    with pytest.raises(DecodeError, match="declares 5 bytes"):
        der.read_header(data, start, end, "inner")


def test_tag_names() -> None:
    assert der.tag_name(der.SEQUENCE) == "SEQUENCE"
    assert der.tag_name(0xA3) == "[3] (0xa3)"
    assert der.tag_name(0x6E) == "[APPLICATION 14] (0x6e)"
    assert der.tag_name(0x83) == "[3] primitive (0x83)"


# ---------------------------------------------------------------------------------------------
# INTEGER, ENUMERATED, BOOLEAN, NULL
# ---------------------------------------------------------------------------------------------


@given(st.integers(-(2**200), 2**200))
def test_integer_round_trip(value: int) -> None:
    encoded = der.encode_integer(value)
    start, end = whole(encoded, der.INTEGER)
    assert der.decode_integer(encoded, start, end, "test") == value
    field = (der.INTEGER, 0, start, end)
    assert der.get_integer(encoded, field, "test") == value


@pytest.mark.parametrize(
    ("value", "encoding"),
    [
        (0, "020100"),
        (127, "02017f"),
        (128, "02020080"),
        (-128, "020180"),
        (-129, "0202ff7f"),
        (2**31 - 1, "02047fffffff"),
        (2**32 - 1, "020500ffffffff"),
        (-(2**31), "020480000000"),
    ],
)
def test_integer_known_encodings(value: int, encoding: str) -> None:
    assert der.encode_integer(value).hex() == encoding


@pytest.mark.parametrize("encoding", ["02020005", "0202ff80", "0200", "0203000001"])
def test_integer_strictness(encoding: str) -> None:
    data = bytes.fromhex(encoding)
    with pytest.raises(DecodeError, match="INTEGER"):
        der.get_integer(data, (der.INTEGER, 0, 2, len(data)), "test")


@given(st.integers(-(2**40), 2**40))
def test_enumerated_round_trip(value: int) -> None:
    encoded = der.encode_enumerated(value)
    start, end = whole(encoded, der.ENUMERATED)
    assert der.get_enumerated(encoded, (der.ENUMERATED, 0, start, end), "test") == value


def test_boolean() -> None:
    for value in (True, False):
        encoded = der.encode_boolean(value)
        start, end = whole(encoded, der.BOOLEAN)
        assert der.get_boolean(encoded, (der.BOOLEAN, 0, start, end), "t") is value
    for bad in ("010101", "01020000", "0100"):
        data = bytes.fromhex(bad)
        with pytest.raises(DecodeError, match="BOOLEAN"):
            der.decode_boolean(data, 2, len(data), "t")


def test_null() -> None:
    assert der.encode_null() == b"\x05\x00"
    assert whole(der.encode_null(), der.NULL) == (2, 2)


# ---------------------------------------------------------------------------------------------
# Strings and times
# ---------------------------------------------------------------------------------------------


@given(st.binary(max_size=300))
def test_octet_string_round_trip(value: bytes) -> None:
    encoded = der.encode_octet_string(value)
    start, end = whole(encoded, der.OCTET_STRING)
    assert der.get_octet_string(encoded, (der.OCTET_STRING, 0, start, end), "t") == value


@given(st.text(max_size=100))
def test_kerberos_string_round_trip(value: str) -> None:
    encoded = der.encode_kerberos_string(value)
    start, end = whole(encoded, der.GENERAL_STRING)
    assert encoded[start:end] == value.encode("utf-8")
    assert der.get_kerberos_string(encoded, (der.GENERAL_STRING, 0, start, end), "t") == value


@given(st.binary(max_size=100))
def test_kerberos_string_keeps_any_octets(raw: bytes) -> None:
    # Not UTF-8? Decoding still works and re-encoding gives the same octets.
    encoded = der.encode_tlv(der.GENERAL_STRING, raw)
    text = der.decode_kerberos_string(encoded, *whole(encoded, der.GENERAL_STRING), "t")
    assert der.encode_kerberos_string(text) == encoded


def test_kerberos_string_rejects_unencodable() -> None:
    with pytest.raises(InvalidParameter):
        der.encode_kerberos_string("\ud800")


@given(KERBEROS_TIMES)
def test_kerberos_time_round_trip(value: datetime) -> None:
    encoded = der.encode_kerberos_time(value)
    assert len(encoded) == 17
    start, end = whole(encoded, der.GENERALIZED_TIME)
    decoded = der.get_kerberos_time(encoded, (der.GENERALIZED_TIME, 0, start, end), "t")
    assert decoded == value
    assert decoded.tzinfo is UTC


def test_kerberos_time_encoding_details() -> None:
    value = datetime(2024, 2, 29, 23, 59, 58, 999999, tzinfo=UTC)
    assert der.encode_kerberos_time(value) == b"\x18\x0f20240229235958Z"  # fraction dropped
    plus_two = timezone(timedelta(hours=2))
    local = datetime(2024, 3, 1, 1, 59, 58, tzinfo=plus_two)
    assert der.encode_kerberos_time(local) == b"\x18\x0f20240229235958Z"
    with pytest.raises(InvalidParameter, match="timezone-aware"):
        der.encode_kerberos_time(datetime(2024, 1, 1))


def test_kerberos_times_remembered_stay_exact() -> None:
    # Times are remembered both ways; the same instant in another zone, or with another
    # fraction, still encodes to its one UTC form, and a bad time is still refused.
    for _ in range(2):
        value = datetime(2031, 5, 6, 7, 8, 9, 10, tzinfo=UTC)
        assert der.encode_kerberos_time(value) == b"\x18\x0f20310506070809Z"
        east = value.astimezone(timezone(timedelta(hours=5)))
        assert der.encode_kerberos_time(east) == b"\x18\x0f20310506070809Z"
        encoded = der.encode_kerberos_time(value)
        field = (der.GENERALIZED_TIME, 0, 2, len(encoded))
        assert der.get_kerberos_time(encoded, field, "t") == value.replace(microsecond=0)
        bad = der.encode_tlv(der.GENERALIZED_TIME, b"20310506070860Z")
        with pytest.raises(DecodeError, match="KerberosTime"):
            der.get_kerberos_time(bad, field, "t")


@pytest.mark.parametrize(
    "text",
    [
        b"20240101000000",  # no Z
        b"20240101000000.5Z",  # fraction
        b"202401010000Z",  # no seconds
        b"20240101000000+0000",
        b"2024010100000aZ",
        b"20241301000000Z",  # month 13
        b"20230229000000Z",  # not a leap year
        b"20240101240000Z",
        b"00000101000000Z",  # year 0
        b"2024-1-01000000Z",
        b"\xd9\xa0024010100000Z",  # non-ASCII digit lookalike
    ],
)
def test_kerberos_time_strictness(text: bytes) -> None:
    encoded = der.encode_tlv(der.GENERALIZED_TIME, text)
    with pytest.raises(DecodeError, match="KerberosTime"):
        der.get_kerberos_time(encoded, (der.GENERALIZED_TIME, 0, 2, len(encoded)), "t")


# ---------------------------------------------------------------------------------------------
# BIT STRING: KerberosFlags and named bits
# ---------------------------------------------------------------------------------------------


@given(st.integers(0, 2**32 - 1))
def test_kerberos_flags_round_trip(value: int) -> None:
    encoded = der.encode_kerberos_flags(value)
    assert encoded[:3] == b"\x03\x05\x00"  # always 32 bits, RFC 4120 5.2.8
    start, end = whole(encoded, der.BIT_STRING)
    assert der.get_kerberos_flags(encoded, (der.BIT_STRING, 0, start, end), "t") == value


def test_kerberos_flags_bit_numbering() -> None:
    # RFC bit 1 (forwardable) is the second most significant bit of the first octet.
    assert der.encode_kerberos_flags(0x40000000) == bytes.fromhex("030500 40000000")
    for encoding, value in [
        ("030100", 0),  # empty string: no flags
        ("03020040", 0x40000000),  # 8 bits, short
        ("030206c0", 0xC0000000),  # 2 bits, 6 unused (zero)
        ("0307004000000000ff", 0x40000000),  # 48 bits: bits past 31 ignored
    ]:
        data = bytes.fromhex(encoding)
        assert der.decode_kerberos_flags(data, 2, len(data), "t") == value
    with pytest.raises(InvalidParameter):
        der.encode_kerberos_flags(2**32)
    with pytest.raises(InvalidParameter):
        der.encode_kerberos_flags(-1)


@pytest.mark.parametrize(
    ("encoding", "message"),
    [
        ("0300", "empty BIT STRING"),
        ("030108", "unused bits"),  # 8 unused bits
        ("030101", "unused bits"),  # unused bits without octets
        ("03020101", "non-zero unused"),
    ],
)
def test_bit_string_strictness(encoding: str, message: str) -> None:
    data = bytes.fromhex(encoding)
    with pytest.raises(DecodeError, match=message):
        der.decode_kerberos_flags(data, 2, len(data), "t")


@given(st.integers(0, 2**40))
def test_named_bits_round_trip(value: int) -> None:
    encoded = der.encode_named_bits(value)
    start, end = whole(encoded, der.BIT_STRING)
    assert der.decode_named_bits(encoded, start, end, "t") == value


def test_named_bits_known_and_strict() -> None:
    # SPNEGO ContextFlags mutualFlag(1) | integFlag(6): bits 1 and 6 -> 0b01000010, 1 unused bit
    assert der.encode_named_bits(0x42) == bytes.fromhex("03020142")
    assert der.encode_named_bits(0) == bytes.fromhex("030100")
    data = bytes.fromhex("03020040")  # trailing zero bits not trimmed
    with pytest.raises(DecodeError, match="trailing zero"):
        der.decode_named_bits(data, 2, len(data), "t")
    with pytest.raises(InvalidParameter):
        der.encode_named_bits(-1)


def test_bit_string_raw() -> None:
    encoded = der.encode_bit_string(b"\xa0", 5)
    assert der.decode_bit_string(encoded, 2, len(encoded), "t") == (b"\xa0", 5)
    with pytest.raises(InvalidParameter):
        der.encode_bit_string(b"\xa1", 5)
    with pytest.raises(InvalidParameter):
        der.encode_bit_string(b"", 1)


# ---------------------------------------------------------------------------------------------
# OBJECT IDENTIFIER
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("oid", "encoding"),
    [
        ("1.2.840.113554.1.2.2", "06092a864886f712010202"),
        ("1.2.840.48018.1.2.2", "06092a864882f71201020 2".replace(" ", "")),
        ("1.3.6.1.5.5.2", "06062b0601050502"),
        ("1.3.6.1.4.1.311.2.2.10", "060a2b06010401823702020a"),
        ("2.999.3", "0603883703"),
    ],
)
def test_oid_known(oid: str, encoding: str) -> None:
    assert der.encode_oid(oid).hex() == encoding
    data = bytes.fromhex(encoding)
    assert der.get_oid(data, (der.OBJECT_IDENTIFIER, 0, 2, len(data)), "t") == oid


@given(OIDS)
def test_oid_round_trip(oid: str) -> None:
    encoded = der.encode_oid(oid)
    start, end = whole(encoded, der.OBJECT_IDENTIFIER)
    assert der.decode_oid(encoded, start, end, "t") == oid


@pytest.mark.parametrize(
    ("encoding", "message"),
    [("0600", "empty"), ("06022a86", "mid-arc"), ("06032a8001", "non-minimal")],
)
def test_oid_strictness(encoding: str, message: str) -> None:
    data = bytes.fromhex(encoding)
    with pytest.raises(DecodeError, match=message):
        der.decode_oid(data, 2, len(data), "t")


@pytest.mark.parametrize("bad", ["", "1", "3.1", "1.40", "1.2.a", "1..2", "1.-2", "1.\uff12"])
def test_oid_encode_rejects(bad: str) -> None:
    with pytest.raises(InvalidParameter):
        der.encode_oid(bad)


# ---------------------------------------------------------------------------------------------
# Explicit fields and SEQUENCE OF
# ---------------------------------------------------------------------------------------------


def seq(*fields: tuple[int, bytes | None]) -> bytes:
    return der.encode_fields(fields)


def contents(data: bytes) -> tuple[int, int]:
    return whole(data, der.SEQUENCE)


def test_read_fields() -> None:
    data = seq((0, der.encode_integer(5)), (2, der.encode_octet_string(b"x" * 200)))
    fields = der.read_fields(data, *contents(data), 3, "T")
    assert fields[1] is None
    assert der.get_integer(data, fields[0], "T.a") == 5
    assert der.get_octet_string(data, fields[2], "T.c") == b"x" * 200
    with pytest.raises(DecodeError, match=r"T\.b is missing"):
        der.get_integer(data, fields[1], "T.b")
    with pytest.raises(DecodeError, match="expected INTEGER"):
        der.get_integer(data, fields[2], "T.c")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (seq((1, der.encode_integer(1)), (0, der.encode_integer(1))), "out of order"),
        (seq((1, der.encode_integer(1)), (1, der.encode_integer(1))), "repeated"),
        (seq((3, der.encode_integer(1))), "unknown field"),
        (der.encode_sequence(der.encode_integer(1)), "explicit context tag"),
        (der.encode_sequence(b"\x80\x01\x00"), "explicit context tag"),  # primitive [0]
        (der.encode_sequence(b"\xa0\x06" + der.encode_integer(1) * 2), "more than one"),
        (der.encode_sequence(b"\xa0\x00"), "truncated"),
        (der.encode_sequence(b"\xa0\x03\x02\x05\x00"), "declares 5"),
        (b"\x30\x04\xa0\x02\x04\x81", "truncated"),  # inner length octet at the very end
        (b"\x30\x05\xa0\x03\x04\x82\x01", "truncated"),
        (b"\x30\x05\xa0\x81\x02\x04\x00", "minimal"),
        (b"\x30\x06\xa0\x04\x04\x82\x00\x00", "minimal"),
        (b"\x30\x05\xa0\x82\x00\x01\x00", "minimal"),
    ],
)
def test_read_fields_strictness(data: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        der.read_fields(data, *contents(data), 3, "T")


def test_read_fields_long_forms() -> None:
    # The slow path: long-form lengths on the wrapper and on the element inside.
    big = der.encode_octet_string(bytes(300))
    data = seq((0, big), (1, der.encode_integer(7)))
    fields = der.read_fields(data, *contents(data), 2, "T")
    assert der.get_octet_string(data, fields[0], "T") == bytes(300)
    assert der.get_integer(data, fields[1], "T") == 7
    bad = der.encode_sequence(der.encode_explicit(0, big + b"\x05\x00"))
    with pytest.raises(DecodeError, match="more than one"):
        der.read_fields(bad, *contents(bad), 2, "T")


@settings(max_examples=300)
@given(
    st.dictionaries(st.integers(0, 5), st.binary(max_size=300), max_size=4),
    st.integers(0, 2000),
    st.integers(0, 255),
)
def test_read_fields_agrees_with_read_header(
    values: dict[int, bytes], index: int, value: int
) -> None:
    # Whatever read_fields returns (its fast path included) must be what the careful
    # read_header finds at the same offsets; anything else must be a DecodeError.
    data = bytearray(seq(*((n, der.encode_octet_string(v)) for n, v in sorted(values.items()))))
    data[index % len(data)] = value
    raw = bytes(data)
    try:
        start, end = contents(raw)
        fields = der.read_fields(raw, start, end, 6, "T")
    except DecodeError:
        return
    for found in fields:
        if found is not None:
            tag, head, inner_start, inner_end = found
            assert der.read_header(raw, head, inner_end, "ref") == (tag, inner_start, inner_end)


def test_sequence_of_limit() -> None:
    data = der.encode_sequence_of([der.encode_integer(1)] * 5)
    items = der.read_sequence_of(data, *contents(data), "L")
    assert [der.get_integer(data, item, "L") for item in items] == [1] * 5
    assert items[1][1] == 5  # header offset of the second element
    with pytest.raises(DecodeError, match="more than 4 elements"):
        der.read_sequence_of(data, *contents(data), "L", max_elements=4)


# ---------------------------------------------------------------------------------------------
# The generic tree decoder and hostile input
# ---------------------------------------------------------------------------------------------

SAMPLES = [
    der.encode_integer(-(2**70)),
    der.encode_kerberos_time(datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)),
    der.encode_kerberos_flags(0x40810010),
    der.encode_oid("1.2.840.113554.1.2.2"),
    der.encode_application(
        14,
        seq(
            (0, der.encode_integer(5)),
            (1, der.encode_kerberos_string("TEST.LOCAL")),
            (2, der.encode_octet_string(bytes(200))),
            (3, der.encode_sequence_of([der.encode_kerberos_string("a")] * 3)),
        ),
    ),
]


def test_parse_tree() -> None:
    tree = der.parse_tree(SAMPLES[-1])
    assert tree.tag == 0x6E and tree.raw == SAMPLES[-1]
    assert tree.children is not None
    (sequence,) = tree.children
    assert sequence.children is not None
    assert [child.tag for child in sequence.children] == [0xA0, 0xA1, 0xA2, 0xA3]
    octets = sequence.children[2].children
    assert octets is not None and octets[0].contents == bytes(200)
    assert octets[0].offset == sequence.children[2].offset + 3  # a2 81 cb


def test_deep_nesting_is_a_decode_error() -> None:
    data = b"\x05\x00"
    for _ in range(5000):  # far past Python's recursion limit if we followed it blindly
        data = der.encode_sequence(data)
    with pytest.raises(DecodeError, match="nesting deeper"):
        der.parse_tree(data)
    shallow = der.encode_sequence(der.encode_sequence(b"\x05\x00"))
    assert der.parse_tree(shallow, max_depth=3).tag == der.SEQUENCE
    with pytest.raises(DecodeError, match="nesting deeper than 2"):
        der.parse_tree(shallow, max_depth=2)


def test_parse_tree_depth_argument_is_bounded() -> None:
    for bad in (0, 257, 10**6):
        with pytest.raises(InvalidParameter):
            der.parse_tree(b"\x05\x00", max_depth=bad)


def test_element_count_limit() -> None:
    data = der.encode_sequence_of([b"\x05\x00"] * 20)
    assert der.parse_tree(data, max_elements=20).children is not None
    with pytest.raises(DecodeError, match="more than 19 elements"):
        der.parse_tree(data, max_elements=19)


def test_parse_tree_trailing() -> None:
    with pytest.raises(DecodeError, match="trailing"):
        der.parse_tree(b"\x05\x00\x00")


@pytest.mark.parametrize("sample", SAMPLES)
def test_every_prefix_is_refused(sample: bytes) -> None:
    assert der.parse_tree(sample).raw == sample
    for size in range(len(sample)):
        with pytest.raises(DecodeError):
            der.parse_tree(sample[:size])


@settings(max_examples=500)
@given(st.binary(max_size=200))
def test_random_bytes_only_decode_error(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        der.parse_tree(data)
    with contextlib.suppress(DecodeError):
        der.decode_initial_context_token(data)
    if data:
        end = len(data)
        for decode in (
            der.decode_integer,
            der.decode_boolean,
            der.decode_kerberos_string,
            der.decode_kerberos_time,
            der.decode_bit_string,
            der.decode_kerberos_flags,
            der.decode_named_bits,
            der.decode_oid,
        ):
            with contextlib.suppress(DecodeError):
                decode(data, 0, end, "fuzz")
        with contextlib.suppress(DecodeError):
            der.read_fields(data, 0, end, 4, "fuzz")


@given(st.binary(min_size=1, max_size=60), st.integers(0, 59), st.integers(0, 255))
def test_mutated_samples_only_decode_error(prefix: bytes, index: int, value: int) -> None:
    for sample in SAMPLES:
        mutated = bytearray(sample)
        mutated[index % len(sample)] = value
        for data in (bytes(mutated), prefix + sample):
            with contextlib.suppress(DecodeError):
                der.parse_tree(data)


# ---------------------------------------------------------------------------------------------
# RFC 2743 framing
# ---------------------------------------------------------------------------------------------


def test_initial_context_token() -> None:
    token = der.encode_initial_context_token("1.3.6.1.5.5.2", b"\xa0\x00")
    assert token == bytes.fromhex("600a 06062b0601050502 a000".replace(" ", ""))
    assert der.decode_initial_context_token(token) == ("1.3.6.1.5.5.2", b"\xa0\x00")
    long = der.encode_initial_context_token("1.2.840.113554.1.2.2", bytes(1000))
    assert long[:2] == b"\x60\x82"
    assert der.decode_initial_context_token(bytearray(long))[1] == bytes(1000)  # type: ignore[arg-type]
    for bad in (b"", b"\x61\x00", b"\x60\x02\x04\x00", token + b"\x00", token[:-1]):
        with pytest.raises(DecodeError):
            der.decode_initial_context_token(bad)


def test_encode_length_limits() -> None:
    assert der.encode_length(0x7F) == b"\x7f"
    assert der.encode_length(0x80) == b"\x81\x80"
    assert der.encode_length(0x1_0000_0000 - 1) == b"\x84\xff\xff\xff\xff"
    with pytest.raises(InvalidParameter):
        der.encode_length(0x1_0000_0000)
