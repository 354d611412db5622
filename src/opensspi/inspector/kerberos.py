"""Kerberos messages (RFC 4120 §5) and RFC 4121 per-message tokens, every field by name.

AS-REQ/TGS-REQ (§5.4.1), AS-REP/TGS-REP (§5.4.2), AP-REQ/AP-REP (§5.5), KRB-ERROR (§5.9.1) and
KRB-CRED (§5.8), raw or inside the RFC 4121 §4.1 GSS framing; the MIC and Wrap tokens of RFC 4121
§4.2.6 and of RFC 1964/4757. Given a keytab, an AP-REQ's ticket (key usage 2) and then its
authenticator (usage 11, with the ticket's session key) are decrypted and printed. Keys are
reported by type and length only.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntFlag

from ..errors import DecodeError, SspiError
from ..packages.kerberos import asn1 as k
from ..packages.kerberos.crypto import Key, decrypt, enctype_name
from ..packages.kerberos.gss import parse_authenticator_checksum
from ..packages.kerberos.keytab import Keytab
from .model import Flags, Hex, Named, Report, flags, named, when

_TAG_NAMES = {
    0x6A: "AS-REQ", 0x6B: "AS-REP", 0x6C: "TGS-REQ", 0x6D: "TGS-REP", 0x6E: "AP-REQ",
    0x6F: "AP-REP", 0x76: "KRB-CRED", 0x7E: "KRB-ERROR",
}
KERBEROS_TAGS = frozenset(_TAG_NAMES)

TOK_IDS = {
    b"\x01\x00": "KRB_AP_REQ", b"\x02\x00": "KRB_AP_REP", b"\x03\x00": "KRB_ERROR",
    b"\x04\x00": "KERB-TGT-REQUEST", b"\x04\x01": "KERB-TGT-REPLY",
    b"\x01\x01": "MIC (RFC 1964/4757)", b"\x02\x01": "Wrap (RFC 1964/4757)",
}


class GssChecksumFlags(IntFlag):
    """The Flags field of the 0x8003 authenticator checksum, RFC 4121 §4.1.1.1, with the other
    RFC 2744 GSS_C_* bits and MS-KILE's 0x1000-0x4000."""

    GSS_C_DELEG_FLAG = 1
    GSS_C_MUTUAL_FLAG = 2
    GSS_C_REPLAY_FLAG = 4
    GSS_C_SEQUENCE_FLAG = 8
    GSS_C_CONF_FLAG = 16
    GSS_C_INTEG_FLAG = 32
    GSS_C_ANON_FLAG = 64
    GSS_C_PROT_READY_FLAG = 128
    GSS_C_TRANS_FLAG = 256  # RFC 2744 §5.19; MIT's initiator always sets it
    GSS_C_DCE_STYLE = 0x1000
    GSS_C_IDENTIFY_FLAG = 0x2000
    GSS_C_EXTENDED_ERROR_FLAG = 0x4000


class TokenFlags(IntFlag):
    """Flags of an RFC 4121 §4.2.2 MIC or Wrap token."""

    SentByAcceptor = 0x01
    Sealed = 0x02
    AcceptorSubkey = 0x04


_SGN_ALG = {0x0000: "DES MAC MD5", 0x0001: "MD2.5", 0x0002: "DES MAC",
            0x0004: "HMAC SHA1 DES3-KD", 0x0011: "HMAC MD5 (RC4)"}
_SEAL_ALG = {0x0000: "DES", 0x0002: "DES3-KD", 0x0010: "RC4", 0xFFFF: "none"}


@dataclass(frozen=True, slots=True)
class KerberosSecrets:
    """A keytab whose keys decrypt AP-REQ tickets."""

    keytab: Keytab | None = None


def etype(value: int) -> Named:
    """An enctype number with its MIT name."""
    name = enctype_name(value)
    return Named(value, None if name.startswith("enctype ") else name)


def principal(name: k.PrincipalName | None, realm: str | None = None) -> Report | None:
    if name is None:
        return None
    return {"name": name.to_text(realm), "name_type": named(name.name_type, k.NameType)}


def enc_data(value: k.EncryptedData) -> Report:
    return {"etype": etype(value.etype), "kvno": value.kvno, "cipher_length": len(value.cipher)}


def _key(value: k.EncryptionKey | None) -> Report | None:
    """A key by type and length: its bytes are never reported."""
    if value is None:
        return None
    return {"keytype": etype(value.keytype), "length": len(value.keyvalue)}


def _padata(entries: tuple[k.PAData, ...] | None, secrets: KerberosSecrets | None) -> list[Report]:
    out: list[Report] = []
    for pa in entries or ():
        item: Report = {"padata_type": named(pa.padata_type, k.PaDataType),
                        "length": len(pa.padata_value)}
        try:
            if pa.padata_type == k.PaDataType.PA_TGS_REQ:
                item["ap_req"] = ap_req(k.ApReq.from_der(pa.padata_value), None)
            elif pa.padata_type == k.PaDataType.PA_ENC_TIMESTAMP:
                item["enc_timestamp"] = enc_data(k.EncryptedData.from_der(pa.padata_value))
            elif pa.padata_type == k.PaDataType.PA_ETYPE_INFO2:
                item["etype_info2"] = [
                    {"etype": etype(e.etype),
                     "salt": None if e.salt is None else e.salt.decode("utf-8", "replace"),
                     "s2kparams": None if e.s2kparams is None else Hex(e.s2kparams)}
                    for e in k.decode_etype_info2(pa.padata_value)
                ]
            elif pa.padata_type == k.PaDataType.PA_PAC_REQUEST:
                item["include_pac"] = k.PaPacRequest.from_der(pa.padata_value).include_pac
        except DecodeError as exc:
            item["decode_error"] = str(exc)
        out.append(item)
    return out


def ticket(value: k.Ticket) -> Report:
    return {
        "tkt_vno": value.tkt_vno,
        "realm": value.realm,
        "sname": principal(value.sname),
        "enc_part": enc_data(value.enc_part),
    }


def ap_req(req: k.ApReq, secrets: KerberosSecrets | None) -> Report:
    report: Report = {
        "type": "Kerberos AP-REQ (RFC 4120 5.5.1)",
        "pvno": req.pvno,
        "msg_type": named(req.msg_type, k.MessageType),
        "ap_options": flags(req.ap_options, k.ApOptions),
        "ticket": ticket(req.ticket),
        "authenticator": enc_data(req.authenticator),
    }
    if secrets is not None and secrets.keytab is not None:
        report["decrypted"] = _decrypt_ap_req(req, secrets.keytab)
    return report


def _decrypt_ap_req(req: k.ApReq, keytab: Keytab) -> Report:
    enc = req.ticket.enc_part
    service = f"{req.ticket.sname.to_text()}@{req.ticket.realm}"
    candidates = [e for e in keytab.entries
                  if e.enctype == enc.etype and e.matches(service)
                  and (enc.kvno is None or e.kvno == enc.kvno)]
    if not candidates:
        return {"ticket": f"decryption failed: the keytab has no {enctype_name(enc.etype)} key "
                          f"for {service}" + (f" with kvno {enc.kvno}" if enc.kvno else "")}
    plain: bytes | None = None
    for entry in candidates:
        try:
            plain = decrypt(Key(entry.enctype, entry.key), 2, enc.cipher)
            break
        except SspiError:
            continue
    if plain is None:
        return {"ticket": f"decryption failed: no key of {service} in the keytab opens the "
                          "ticket (integrity check failed)"}
    part = k.EncTicketPart.from_der(plain)
    out: Report = {"ticket": {
        "flags": flags(part.flags, k.TicketFlags),
        "key": _key(part.key),
        "crealm": part.crealm,
        "cname": principal(part.cname, part.crealm),
        "transited": {"tr_type": part.transited.tr_type,
                      "contents": part.transited.contents.decode("utf-8", "replace")},
        "authtime": when(part.authtime),
        "starttime": when(part.starttime),
        "endtime": when(part.endtime),
        "renew_till": when(part.renew_till),
        "caddr": _addresses(part.caddr),
        "authorization_data": _authz(part.authorization_data),
    }}
    session = Key(part.key.keytype, part.key.keyvalue)
    try:
        auth = k.Authenticator.from_der(decrypt(session, 11, req.authenticator.cipher))
    except SspiError:
        out["authenticator"] = "decryption failed: the ticket's session key does not open it"
        return out
    out["authenticator"] = {
        "authenticator_vno": auth.authenticator_vno,
        "crealm": auth.crealm,
        "cname": principal(auth.cname, auth.crealm),
        "cksum": _checksum(auth.cksum),
        "cusec": auth.cusec,
        "ctime": when(auth.ctime),
        "subkey": _key(auth.subkey),
        "seq_number": auth.seq_number,
        "authorization_data": _authz(auth.authorization_data),
    }
    return out


def _checksum(value: k.Checksum | None) -> Report | None:
    if value is None:
        return None
    report: Report = {"cksumtype": named(value.cksumtype, k.ChecksumType),
                      "length": len(value.checksum)}
    if value.cksumtype == k.ChecksumType.GSSAPI:
        try:
            parsed = parse_authenticator_checksum(value.checksum)
        except DecodeError as exc:
            report["decode_error"] = str(exc)
            return report
        report["bindings_hash"] = Hex(parsed.bnd)
        report["flags"] = flags(parsed.flags, GssChecksumFlags)
        report["delegated_krb_cred_length"] = (
            None if parsed.krb_cred is None else len(parsed.krb_cred))
    return report


def _addresses(value: tuple[k.HostAddress, ...] | None) -> list[Report] | None:
    if value is None:
        return None
    return [{"addr_type": named(a.addr_type, k.AddressType), "address": Hex(a.address)}
            for a in value]


def _authz(value: tuple[k.AuthorizationDataEntry, ...] | None) -> list[Report] | None:
    if value is None:
        return None
    out: list[Report] = []
    for entry in value:
        item: Report = {"ad_type": named(entry.ad_type, k.AdType), "length": len(entry.ad_data)}
        if entry.ad_type == k.AdType.AD_IF_RELEVANT:
            try:
                item["elements"] = _authz(k.decode_authorization_data(entry.ad_data))
            except DecodeError as exc:
                item["decode_error"] = str(exc)
        out.append(item)
    return out


def inspect_kerberos(data: bytes, secrets: KerberosSecrets | None = None) -> Report:
    """Decode a raw Kerberos message (its first byte picks the type). Raises DecodeError."""
    tag = data[0] if data else 0
    if tag == 0x6E:
        return ap_req(k.ApReq.from_der(data), secrets)
    if tag == 0x6F:
        ap_rep = k.ApRep.from_der(data)
        return {"type": "Kerberos AP-REP (RFC 4120 5.5.2)", "pvno": ap_rep.pvno,
                "msg_type": named(ap_rep.msg_type, k.MessageType),
                "enc_part": enc_data(ap_rep.enc_part)}
    if tag in (0x6A, 0x6C):
        req = k.KdcReq.from_der(data)
        body = req.req_body
        return {
            "type": f"Kerberos {_TAG_NAMES[tag]} (RFC 4120 5.4.1)",
            "pvno": req.pvno,
            "msg_type": named(req.msg_type, k.MessageType),
            "padata": _padata(req.padata, secrets),
            "req_body": {
                "kdc_options": flags(body.kdc_options, k.KdcOptions),
                "cname": principal(body.cname),
                "realm": body.realm,
                "sname": principal(body.sname),
                "from": when(body.from_),
                "till": when(body.till),
                "rtime": when(body.rtime),
                "nonce": body.nonce,
                "etype": [etype(e) for e in body.etype],
                "addresses": _addresses(body.addresses),
                "enc_authorization_data": (None if body.enc_authorization_data is None
                                           else enc_data(body.enc_authorization_data)),
                "additional_tickets": [ticket(t) for t in body.additional_tickets or ()],
            },
        }
    if tag in (0x6B, 0x6D):
        rep = k.KdcRep.from_der(data)
        return {
            "type": f"Kerberos {_TAG_NAMES[tag]} (RFC 4120 5.4.2)",
            "pvno": rep.pvno,
            "msg_type": named(rep.msg_type, k.MessageType),
            "padata": _padata(rep.padata, secrets),
            "crealm": rep.crealm,
            "cname": principal(rep.cname, rep.crealm),
            "ticket": ticket(rep.ticket),
            "enc_part": enc_data(rep.enc_part),
        }
    if tag == 0x7E:
        return krb_error(k.KrbError.from_der(data))
    if tag == 0x76:
        cred = k.KrbCred.from_der(data)
        return {"type": "Kerberos KRB-CRED (RFC 4120 5.8)", "pvno": cred.pvno,
                "tickets": [ticket(t) for t in cred.tickets], "enc_part": enc_data(cred.enc_part)}
    raise DecodeError(f"Not a Kerberos message: first byte 0x{tag:02x}.")


def krb_error(err: k.KrbError) -> Report:
    report: Report = {
        "type": "Kerberos KRB-ERROR (RFC 4120 5.9.1)",
        "pvno": err.pvno,
        "msg_type": named(err.msg_type, k.MessageType),
        "error_code": named(err.error_code, k.ErrorCode),
        "ctime": when(err.ctime),
        "cusec": err.cusec,
        "stime": when(err.stime),
        "susec": err.susec,
        "crealm": err.crealm,
        "cname": principal(err.cname),
        "realm": err.realm,
        "sname": principal(err.sname),
        "e_text": err.e_text,
        "e_data_length": None if err.e_data is None else len(err.e_data),
    }
    method = err.method_data()
    if method is not None:
        report["e_data_method_data"] = _padata(method, None)
    status = err.ntstatus()
    if status is not None:
        report["ntstatus"] = f"0x{status & 0xFFFFFFFF:08x}"
    return report


_MIC = struct.Struct(">2sB5sQ")
_WRAP = struct.Struct(">2sBBHHQ")


def inspect_per_message(data: bytes) -> Report:
    """An RFC 4121 §4.2.6 MIC (``04 04``) or Wrap (``05 04``) token. Raises DecodeError."""
    if data[:2] == b"\x04\x04":
        if len(data) < _MIC.size:
            raise DecodeError(f"A MIC token has a 16-byte header; got {len(data)} bytes.")
        _tok, flag, filler, seq = _MIC.unpack_from(data)
        return {"type": "GSS MIC token (RFC 4121 4.2.6.1)", "length": len(data),
                "flags": _token_flags(flag), "filler": Hex(filler), "snd_seq": seq,
                "sgn_cksum": Hex(data[_MIC.size:])}
    if len(data) < _WRAP.size:
        raise DecodeError(f"A Wrap token has a 16-byte header; got {len(data)} bytes.")
    _tok, flag, filler, ec, rrc, seq = _WRAP.unpack_from(data)
    return {"type": "GSS Wrap token (RFC 4121 4.2.6.2)", "length": len(data),
            "flags": _token_flags(flag), "filler": f"0x{filler:02x}", "ec": ec, "rrc": rrc,
            "snd_seq": seq, "payload_length": len(data) - _WRAP.size}


def _token_flags(value: int) -> Flags:
    return flags(value, TokenFlags, width=2)


def inspect_legacy_per_message(tok_id: bytes, body: bytes) -> Report:
    """An RFC 1964 / RFC 4757 MIC (TOK_ID ``01 01``) or Wrap (``02 01``) token body."""
    if len(body) < 22:
        raise DecodeError(f"An RFC 1964 token body is at least 22 bytes; got {len(body)}.")
    sgn, seal = struct.unpack_from("<HH", body)
    return {
        "sgn_alg": Named(sgn, _SGN_ALG.get(sgn)),
        "seal_alg": Named(seal, _SEAL_ALG.get(seal)),
        "filler": Hex(body[4:6]),
        "snd_seq_encrypted": Hex(body[6:14]),
        "sgn_cksum": Hex(body[14:22]),
        "rest_length": len(body) - 22,
        "kind": "Wrap" if tok_id == b"\x02\x01" else "MIC",
    }
