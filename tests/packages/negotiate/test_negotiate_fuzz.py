"""Hostile input to the Negotiate step: whatever arrives, the result is a Step or an SspiError
(never another exception, never a hang), and a failed context stays failed."""

from __future__ import annotations

import tempfile
from functools import lru_cache
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opensspi.errors import SspiError
from opensspi.packages.kerberos.tickets import TicketCache
from opensspi.packages.negotiate import asn1 as n
from opensspi.provider import SecurityContext, StepInput
from support.negotiate import Realm, make_realm


@lru_cache(maxsize=1)
def _realm() -> Realm:
    return make_realm(Path(tempfile.mkdtemp(prefix="opensspi-nego-fuzz-")))


@lru_cache(maxsize=1)
def _transcripts() -> tuple[tuple[bytes, ...], tuple[bytes, ...]]:
    """Real tokens of a Kerberos and of an NTLM (switched) negotiation."""
    realm = _realm()
    krb = realm.handshake(realm.client(), realm.server())
    ntlm = realm.handshake(realm.client(), realm.server(keytab=False))
    TicketCache.forget_all()
    return tuple(krb), tuple(ntlm)


def _mutate(token: bytes, data: st.DataObject) -> bytes:
    # Everything is drawn first, independent of the token (whose bytes are random each run),
    # so that hypothesis sees the same draws when it replays an example.
    kind = data.draw(st.sampled_from(["flip", "cut", "extend", "splice"]))
    where = data.draw(st.integers(0, 1 << 16))
    xor = data.draw(st.integers(1, 255))
    extra = data.draw(st.binary(min_size=1, max_size=16))
    if not token:
        return extra
    pos = where % len(token)
    if kind == "flip":
        return token[:pos] + bytes([token[pos] ^ xor]) + token[pos + 1:]
    if kind == "cut":
        return token[:pos]
    if kind == "extend":
        return token + extra
    return token[:pos] + extra + token[pos:]


def _feed(ctx: SecurityContext, token: bytes) -> None:
    try:
        ctx.step(StepInput(token=token))
    except SspiError:
        try:
            ctx.step(StepInput(token=b"\xa1\x03\x30\x01\x00"))
        except SspiError:
            return
        raise AssertionError("a failed context accepted another token") from None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_random_bytes_to_a_fresh_acceptor(blob: bytes) -> None:
    _feed(_realm().server(), blob)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_initiator_tokens_to_the_acceptor(data: st.DataObject) -> None:
    krb, ntlm = _transcripts()
    realm = _realm()
    server = realm.server(keytab=data.draw(st.booleans()))
    tokens = data.draw(st.sampled_from([krb, ntlm]))
    sent = list(tokens[0::2])
    index = data.draw(st.integers(0, 1 << 8)) % len(sent)
    mutated = _mutate(sent[index], data)
    for token in sent[:index]:
        try:
            server.step(StepInput(token=token))
        except SspiError:
            return
    _feed(server, mutated)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_acceptor_replies_to_the_initiator(data: st.DataObject) -> None:
    realm = _realm()
    packages = data.draw(st.sampled_from([None, "ntlm"]))
    keytab = data.draw(st.booleans())
    client = realm.client(package_list=packages)
    first = realm.drive(client, None).token
    server = realm.server(keytab=keytab)
    reply = server.step(StepInput(token=first)).token
    _feed(client, _mutate(reply, data))


@settings(max_examples=100, deadline=None)
@given(st.builds(
    n.NegTokenResp, neg_state=st.none() | st.sampled_from(list(n.NegState)),
    supported_mech=st.none() | st.sampled_from(
        [n.KRB5_OID, n.MS_KRB5_OID, n.NTLMSSP_OID, n.NEGOEX_OID, "1.2.3"]),
    response_token=st.none() | st.binary(max_size=40),
    mech_list_mic=st.none() | st.binary(max_size=20)))
def test_well_formed_but_arbitrary_replies(resp: n.NegTokenResp) -> None:
    realm = _realm()
    client = realm.client(package_list="ntlm")
    realm.drive(client, None)
    _feed(client, resp.to_der())
