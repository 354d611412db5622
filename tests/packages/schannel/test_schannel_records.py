"""The record framer: exact MISSING counts, whole records only, garbage refused at once."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opensspi.errors import DecodeError
from opensspi.packages.schannel import records
from opensspi.packages.schannel.machine import application_protocols, parse_application_protocols


def record(kind: int, body: bytes) -> bytes:
    return bytes((kind, 3, 3)) + len(body).to_bytes(2, "big") + body


def test_counts() -> None:
    data = record(22, b"a" * 10) + record(23, b"b" * 3)
    assert records.frame(b"") == records.Framing((), 5)
    assert records.frame(data[:3]) == records.Framing((), 2)
    assert records.frame(data[:5]) == records.Framing((), 10)
    assert records.frame(data[:17]) == records.Framing((15,), 3)  # still in the header
    assert records.frame(data) == records.Framing((15, 23), 0)
    assert records.frame(data, limit=1) == records.Framing((15,), 0)
    assert records.first_record(data) == (15, 0)
    assert records.first_record(data[:14]) == (0, 1)


@pytest.mark.parametrize("bad", [b"\x00\x03\x03\x00\x01", b"\x16\x02\x00\x00\x01",
                                 b"\x17\x03\x03\xff\xff", b"GET / HTTP/1.1"])
def test_garbage(bad: bytes) -> None:
    with pytest.raises(DecodeError):
        records.frame(bad)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([20, 21, 22, 23]), st.binary(max_size=300)),
                max_size=5),
       st.data())
def test_any_prefix_of_valid_records(recs: list[tuple[int, bytes]], data: st.DataObject) -> None:
    """For every prefix of a record stream, the framer names the whole records and exactly how
    many bytes the next one needs; fed the missing bytes, it advances."""
    wire = b"".join(record(k, b) for k, b in recs)
    ends = []
    at = 0
    for _, body in recs:
        at += 5 + len(body)
        ends.append(at)
    cut = data.draw(st.integers(0, len(wire)))
    framing = records.frame(wire[:cut])
    whole = tuple(e for e in ends if e <= cut)
    assert framing.ends == whole
    if cut in ends:
        assert framing.missing == 0  # ends on a record boundary: nothing partial
    else:
        nxt = framing.whole
        need = (5 - (cut - nxt)) if cut - nxt < 5 else ends[len(whole)] - cut
        assert framing.missing == need
        grown = records.frame(wire[:cut + framing.missing]) if recs else framing
        assert grown.whole >= framing.whole


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=64))
def test_fuzz_never_crashes(blob: bytes) -> None:
    try:
        framing = records.frame(blob)
    except DecodeError:
        return
    assert framing.whole <= len(blob)
    assert framing.missing >= 0


def test_application_protocols_round_trip() -> None:
    blob = application_protocols(["h2", "http/1.1"])
    # u32 list size, u32 ALPN (2), u16 list bytes, then the ALPN wire list
    assert blob.hex() == "12000000" "02000000" "0c00" "026832" "08687474702f312e31"
    assert parse_application_protocols(blob) == (b"h2", b"http/1.1")
    for bad in (b"", b"\xff\x00\x00\x00", blob[:-1]):
        with pytest.raises(DecodeError):
            parse_application_protocols(bad)


@settings(max_examples=150, deadline=None)
@given(st.binary(min_size=1, max_size=600), st.integers(0, 3))
def test_fuzz_acceptor_and_records_only_sspi_errors(blob: bytes, shape: int) -> None:
    """Random bytes (some dressed as handshake or application records) into
    AcceptSecurityContext and DecryptMessage: a status or an SspiError, never anything else."""
    from opensspi import sspi
    from opensspi.constants import CredentialUse, SecStatus
    from opensspi.errors import SspiError
    from opensspi.packages.schannel import SCHANNEL_CRED
    from support.tls import acquire, asc, decrypt

    if shape == 1:
        blob = record(22, blob)
    elif shape == 2:
        blob = record(22, b"\x01" + len(blob).to_bytes(3, "big") + blob)
    elif shape == 3:
        blob = record(23, blob)
    scred = acquire(CredentialUse.INBOUND, SCHANNEL_CRED(paCred=[_server()]))
    try:
        leg = asc(scred, sspi.CtxtHandle(), blob)
        assert leg.status in (SecStatus.SEC_E_INCOMPLETE_MESSAGE,
                              SecStatus.SEC_I_CONTINUE_NEEDED)
    except SspiError as err:
        assert err.status.is_error
    _, server = _pair()
    try:
        opened = decrypt(server, blob)
        assert opened.status == SecStatus.SEC_E_INCOMPLETE_MESSAGE
    except SspiError as err:
        assert err.status.is_error


_CACHE: dict[str, object] = {}


def _server() -> object:
    if "server" not in _CACHE:
        from opensspi.packages.schannel import CertContext
        from opensspi.testing.tls import TestPki

        pki = TestPki()
        issued = pki.server("localhost")
        _CACHE["pki"] = pki
        _CACHE["server"] = CertContext.load(issued.cert_pem, issued.key_pem)
    return _CACHE["server"]


def _pair() -> tuple[object, object]:
    from opensspi.constants import CredentialUse
    from opensspi.packages.schannel import SCHANNEL_CRED, CertContext
    from support.tls import acquire, handshake

    server = _server()
    root = CertContext.load(_CACHE["pki"].ca.cert_pem)  # type: ignore[attr-defined]
    c, s, _ = handshake(acquire(CredentialUse.OUTBOUND, SCHANNEL_CRED(hRootStore=[root])),
                        acquire(CredentialUse.INBOUND, SCHANNEL_CRED(paCred=[server])))
    return c, s
