"""Sign-only buffers (SECBUFFER_READONLY_WITH_CHECKSUM) in Kerberos EncryptMessage/DecryptMessage
against MIT krb5's ``gss_wrap_iov``/``gss_unwrap_iov`` with GSS_IOV_BUFFER_TYPE_SIGN_ONLY.

MS-KILE 3.4.5.4.1 (and DCE RPC header signing, MS-RPCE 2.2.2.11): a READONLY_WITH_CHECKSUM
buffer is covered by the Wrap token's integrity check where it stands among the DATA buffers,
but not encrypted and not sent in the token; a plain READONLY buffer is neither. MIT builds the
same thing from an iov list (``kg_translate_iov_v3``, ``krb5int_dk_encrypt`` /
``krb5int_etm_encrypt``), so each direction is checked byte-compatible: what we seal MIT opens,
what MIT seals we open, and a changed sign-only buffer fails on both sides.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import opensspi
from interop.peers.gss import GssKrb5Factory, GssPeerError
from interop.peers.mit_kdc import MitRealm
from opensspi import IscReq
from opensspi.constants import SECQOP_WRAP_NO_ENCRYPT, SecBufferAttr
from opensspi.errors import MessageAltered
from opensspi.packages.kerberos import KerberosAuthData
from opensspi.packages.kerberos.config import Krb5Config
from opensspi.packages.kerberos.tickets import TicketCache
from opensspi.provider import AuthIdentity, MessagePart

pytestmark = pytest.mark.interop

FLAGS = (IscReq.MUTUAL_AUTH | IscReq.CONFIDENTIALITY | IscReq.INTEGRITY | IscReq.REPLAY_DETECT
         | IscReq.SEQUENCE_DETECT)
RWC = SecBufferAttr.READONLY_WITH_CHECKSUM
FIRST, SIGNED, SECOND = b"first DATA buffer, sealed", b"RPC header: signed only", b"2nd DATA"
AES = [17, 18, 19, 20]
RC4 = 23


@pytest.fixture
def config(mit_realm: MitRealm) -> Krb5Config:
    return Krb5Config.load([str(mit_realm.krb5_conf)])


@pytest.fixture(autouse=True)
def _fresh_ticket_caches() -> Iterator[None]:
    TicketCache.forget_all()
    yield
    TicketCache.forget_all()


def _alice(mit_realm: MitRealm, config: Krb5Config, enctype: int) -> KerberosAuthData:
    identity = AuthIdentity("alice", mit_realm.realm, mit_realm.passwords["alice"])
    return KerberosAuthData(identity=identity, config=config, allow_rc4=enctype == RC4)


def _our_client_and_mit_acceptor(
    mit_realm: MitRealm, config: Krb5Config, gss_krb5: GssKrb5Factory, enctype: int,
    dce: bool = False,
) -> tuple[opensspi.Context, Any]:
    acceptor = gss_krb5("accept", flags=("integ", "conf", "mutual", *(("dce",) if dce else ())))
    client = opensspi.client(
        "Kerberos", target=f"HTTP/e{enctype}.test.local",
        flags=FLAGS | (IscReq.USE_DCE_STYLE if dce else IscReq(0)),
        auth_data=_alice(mit_realm, config, enctype))
    token = client.step()
    while token is not None:
        reply = acceptor.step(token)
        token = client.step(reply) if reply is not None else None
    assert client.complete and acceptor.info()["complete"]
    assert acceptor.info()["session_key_enctype"] == enctype
    return client, acceptor


def _mit_initiator_and_our_acceptor(
    mit_realm: MitRealm, config: Krb5Config, gss_krb5: GssKrb5Factory, enctype: int
) -> tuple[Any, opensspi.Context]:
    conf = mit_realm.krb5_conf_for_enctype(enctype)
    initiator = gss_krb5("initiate", target=f"HTTP@e{enctype}.test.local", krb5_conf=conf,
                         flags=("integ", "conf", "mutual", "replay", "sequence"))
    server = opensspi.server("Kerberos", auth_data=KerberosAuthData(
        acceptor_keytab=str(mit_realm.keytab), config=config, allow_rc4=enctype == RC4))
    token = initiator.step(None)
    while token is not None:
        reply = server.step(token)
        token = initiator.step(reply) if reply is not None else None
    assert server.complete and initiator.info()["session_key_enctype"] == enctype
    return initiator, server


def _parts() -> tuple[MessagePart, ...]:
    """TOKEN | DATA | READONLY_WITH_CHECKSUM | READONLY | DATA, as protection.py hands them."""
    return (
        MessagePart(FIRST),
        MessagePart(SIGNED, sealed=False, attrs=RWC),
        MessagePart(b"READONLY: neither sealed nor signed", sealed=False,
                    attrs=SecBufferAttr.READONLY),
        MessagePart(SECOND),
    )


def _ours_to_mit(ours: opensspi.Context, peer: Any, seal: bool) -> None:
    sealed = ours.context.encrypt(_parts(), 0 if seal else SECQOP_WRAP_NO_ENCRYPT, None)
    first, signed, readonly, second = sealed.parts
    assert signed == SIGNED and readonly.startswith(b"READONLY")  # never touched
    assert (first != FIRST and second != SECOND) if seal else (first, second) == (FIRST, SECOND)
    # MIT sees no READONLY buffer at all: it is not covered, so leaving it out must verify.
    layout = [("header", sealed.token), ("data", first), ("sign_only", signed),
              ("data", second), ("padding", sealed.padding)]
    out, encrypted = peer.unwrap_iov_buffers(layout)
    assert encrypted == seal
    assert [value for kind, value in out if kind == "data"] == [FIRST, SECOND]
    # The same token with the sign-only bytes changed: MIT's checksum fails (GSS_S_BAD_SIG).
    again = ours.context.encrypt(_parts(), 0 if seal else SECQOP_WRAP_NO_ENCRYPT, None)
    tampered = [("header", again.token), ("data", again.parts[0]),
                ("sign_only", SIGNED.replace(b"RPC", b"rpc")), ("data", again.parts[3]),
                ("padding", again.padding)]
    with pytest.raises(GssPeerError) as info:
        peer.unwrap_iov_buffers(tampered)
    assert info.value.major == 0x60000  # GSS_S_BAD_SIG
    # ... and it did not move MIT's sequence window: the untampered token still opens.
    good = [("header", again.token), ("data", again.parts[0]), ("sign_only", SIGNED),
            ("data", again.parts[3]), ("padding", again.padding)]
    assert [v for k, v in peer.unwrap_iov_buffers(good)[0] if k == "data"] == [FIRST, SECOND]


def _mit_to_ours(peer: Any, ours: opensspi.Context, seal: bool) -> None:
    layout: list[tuple[str, bytes | None]] = [
        ("header", None), ("data", FIRST), ("sign_only", SIGNED), ("data", SECOND),
        ("padding", None)]
    out, encrypted = peer.wrap_iov_buffers(layout, seal)
    assert encrypted == seal
    header, first, signed, second, padding = (value for _, value in out)
    assert signed == SIGNED and (first != FIRST) == seal
    # rc4 (RFC 4757) pads with one byte, which travels at the end of the last DATA buffer
    # (MIT's kg_fixup_padding_iov); AES (CTS) has no padding.
    second += padding
    readonly = MessagePart(b"ours only, READONLY", sealed=False, attrs=SecBufferAttr.READONLY)
    parts = (MessagePart(first), MessagePart(SIGNED, sealed=False, attrs=RWC), readonly,
             MessagePart(second))
    opened = ours.context.decrypt(header, parts, None)
    assert opened.parts == (FIRST, SIGNED, readonly.data, SECOND)
    assert opened.qop == (0 if seal else SECQOP_WRAP_NO_ENCRYPT)
    out, _ = peer.wrap_iov_buffers(layout, seal)
    header, first, _, second, padding = (value for _, value in out)
    second += padding
    bad = (MessagePart(first), MessagePart(b"RPC header: SIGNED only", sealed=False, attrs=RWC),
           MessagePart(second))
    with pytest.raises(MessageAltered):
        ours.context.decrypt(header, bad, None)
    good = (MessagePart(first), MessagePart(SIGNED, sealed=False, attrs=RWC), MessagePart(second))
    assert ours.context.decrypt(header, good, None).parts == (FIRST, SIGNED, SECOND)


@pytest.mark.parametrize("seal", [True, False], ids=["sealed", "integrity"])
@pytest.mark.parametrize("enctype", [*AES, RC4])
def test_our_initiator_and_mit_acceptor(mit_realm: MitRealm, config: Krb5Config,
                                        gss_krb5: GssKrb5Factory, enctype: int,
                                        seal: bool) -> None:
    client, acceptor = _our_client_and_mit_acceptor(mit_realm, config, gss_krb5, enctype)
    _ours_to_mit(client, acceptor, seal)
    _mit_to_ours(acceptor, client, seal)


@pytest.mark.parametrize("seal", [True, False], ids=["sealed", "integrity"])
@pytest.mark.parametrize("enctype", [*AES, RC4])
def test_mit_initiator_and_our_acceptor(mit_realm: MitRealm, config: Krb5Config,
                                        gss_krb5: GssKrb5Factory, enctype: int,
                                        seal: bool) -> None:
    initiator, server = _mit_initiator_and_our_acceptor(mit_realm, config, gss_krb5, enctype)
    _ours_to_mit(server, initiator, seal)
    _mit_to_ours(initiator, server, seal)


@pytest.mark.parametrize("enctype", [18, 20])
def test_dce_style_sign_only_with_mit(mit_realm: MitRealm, config: Krb5Config,
                                      gss_krb5: GssKrb5Factory, enctype: int) -> None:
    """DCE RPC's use: EC 16, rotation RRC + EC, the PDU header and trailer signed only."""
    client, acceptor = _our_client_and_mit_acceptor(mit_realm, config, gss_krb5, enctype,
                                                    dce=True)
    sealed = client.context.encrypt(_parts(), 0, None)
    assert sealed.token[4:6] == b"\x00\x10"  # EC = 16 (MS-KILE 3.4.5.4.1)
    layout = [("header", sealed.token), ("data", sealed.parts[0]), ("sign_only", SIGNED),
              ("data", sealed.parts[3]), ("padding", sealed.padding)]
    out, _ = acceptor.unwrap_iov_buffers(layout)
    assert [value for kind, value in out if kind == "data"] == [FIRST, SECOND]
    _ours_to_mit(client, acceptor, True)
    _mit_to_ours(acceptor, client, True)


def test_rc4_mit_initiator_and_our_acceptor_agree_on_the_key(
    mit_realm: MitRealm, config: Krb5Config, gss_krb5: GssKrb5Factory
) -> None:
    """RFC 1964-style (rc4) contexts keep the initiator's subkey: MIT's initiator ignores an
    acceptor subkey of the same enctype, so our acceptor sends none (as MIT's acceptor does)."""
    initiator, server = _mit_initiator_and_our_acceptor(mit_realm, config, gss_krb5, RC4)
    assert initiator.info()["session_key"] == server.session_key
    for i in range(2):
        assert initiator.unwrap(server.wrap(b"to mit %d" % i)) == b"to mit %d" % i
        assert server.unwrap(initiator.wrap(b"from mit %d" % i, True)) == b"from mit %d" % i
    initiator.verify_mic(b"signed", server.sign(b"signed"))
    server.verify(b"signed back", initiator.get_mic(b"signed back"))
