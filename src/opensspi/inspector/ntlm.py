"""NTLM messages (MS-NLMP 2.2.1): every field by name; NTProofStr and MIC checks.

NEGOTIATE_MESSAGE (2.2.1.1), CHALLENGE_MESSAGE (2.2.1.2) and AUTHENTICATE_MESSAGE (2.2.1.3),
parsed by :mod:`opensspi.packages.ntlm.messages`. Given the password or NT hash, the
AUTHENTICATE's NTProofStr is recomputed as MS-NLMP 3.3.2 says (which needs the CHALLENGE's
ServerChallenge), and with the NEGOTIATE and CHALLENGE too, the MIC (3.1.5.1.2). The keys these
checks compute are never part of the report.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from ..crypto.rc4 import rc4k
from ..packages.ntlm import crypto as ntlm_crypto
from ..packages.ntlm.messages import (
    AuthenticateMessage,
    AvFlags,
    AvId,
    ChallengeMessage,
    MessageType,
    NegotiateFlags,
    NegotiateMessage,
    NtlmV2ClientChallenge,
    TargetInfo,
    Version,
    message_type,
)
from .model import Hex, Report, flags, named, when

_EPOCH = datetime(1601, 1, 1, tzinfo=timezone.utc)
_TEXT_AVIDS = {
    AvId.MsvAvNbComputerName, AvId.MsvAvNbDomainName, AvId.MsvAvDnsComputerName,
    AvId.MsvAvDnsDomainName, AvId.MsvAvDnsTreeName, AvId.MsvAvTargetName,
}


@dataclass(frozen=True, slots=True)
class NtlmSecrets:
    """What the NTLM checks need: a password or NT hash, optional user/domain overrides, and the
    NEGOTIATE and CHALLENGE messages of the same handshake (raw NTLM bytes)."""

    password: str | None = None
    nt_hash: bytes | None = None
    user: str | None = None
    domain: str | None = None
    negotiate: bytes | None = None
    challenge: bytes | None = None


def filetime(value: int) -> str:
    """A FILETIME (100 ns ticks since 1601) as ISO 8601 UTC."""
    try:
        return when(_EPOCH + timedelta(microseconds=value // 10)) or ""
    except OverflowError:
        return f"FILETIME {value} (out of range)"


def _version(version: Version | None) -> Report | None:
    if version is None:
        return None
    return {"product": f"{version.major}.{version.minor}.{version.build}",
            "ntlm_revision": version.revision}


def av_pairs(info: TargetInfo) -> list[Report]:
    """The AV_PAIR list (MS-NLMP 2.2.2.1), each pair by AvId name."""
    out: list[Report] = []
    for av_id, value in info.pairs:
        item: Report = {"av_id": named(av_id, AvId)}
        if av_id in _TEXT_AVIDS:
            item["value"] = value.decode("utf-16-le", "replace")
        elif av_id == AvId.MsvAvFlags:
            item["value"] = flags(int.from_bytes(value, "little"), AvFlags)
        elif av_id == AvId.MsvAvTimestamp:
            item["value"] = filetime(int.from_bytes(value, "little"))
        else:
            item["value"] = Hex(value)
        out.append(item)
    return out


def inspect_ntlm(data: bytes, secrets: NtlmSecrets | None = None) -> Report:
    """Decode one NTLM message. Raises DecodeError when it is malformed."""
    kind = message_type(data)
    if kind == MessageType.NtLmNegotiate:
        neg = NegotiateMessage.unpack(data)
        return {
            "type": "NTLM NEGOTIATE_MESSAGE (MS-NLMP 2.2.1.1)",
            "length": len(data),
            "negotiate_flags": flags(neg.negotiate_flags, NegotiateFlags),
            "domain_name": neg.domain_name,
            "workstation": neg.workstation,
            "version": _version(neg.version),
        }
    if kind == MessageType.NtLmChallenge:
        chal = ChallengeMessage.unpack(data)
        return {
            "type": "NTLM CHALLENGE_MESSAGE (MS-NLMP 2.2.1.2)",
            "length": len(data),
            "negotiate_flags": flags(chal.negotiate_flags, NegotiateFlags),
            "target_name": chal.target_name,
            "server_challenge": Hex(chal.server_challenge),
            "target_info": None if chal.target_info is None else av_pairs(chal.target_info),
            "version": _version(chal.version),
        }
    auth = AuthenticateMessage.unpack(data)
    report: Report = {
        "type": "NTLM AUTHENTICATE_MESSAGE (MS-NLMP 2.2.1.3)",
        "length": len(data),
        "negotiate_flags": flags(auth.negotiate_flags, NegotiateFlags),
        "domain_name": auth.domain_name,
        "user_name": auth.user_name,
        "workstation": auth.workstation,
        "lm_challenge_response": Hex(auth.lm_challenge_response),
        "nt_challenge_response": _nt_response(auth.nt_challenge_response),
        "encrypted_random_session_key": Hex(auth.encrypted_random_session_key),
        "version": _version(auth.version),
        "mic": None if auth.mic is None else Hex(auth.mic),
    }
    if secrets is not None and (secrets.password is not None or secrets.nt_hash is not None):
        report["checks"] = _checks(auth, secrets)
    return report


def _nt_response(value: bytes) -> Report:
    if not value:
        return {"kind": "empty (anonymous)"}
    if len(value) <= 24:
        return {"kind": "NTLMv1", "length": len(value), "response": Hex(value)}
    blob = NtlmV2ClientChallenge.unpack(value[16:])
    return {
        "kind": "NTLMv2 (MS-NLMP 2.2.2.8)",
        "length": len(value),
        "nt_proof_str": Hex(value[:16]),
        "resp_type": blob.resp_type,
        "hi_resp_type": blob.hi_resp_type,
        "timestamp": filetime(blob.timestamp),
        "challenge_from_client": Hex(blob.challenge_from_client),
        "av_pairs": av_pairs(blob.av_pairs),
    }


def _checks(auth: AuthenticateMessage, secrets: NtlmSecrets) -> Report:
    """Recompute NTProofStr and the MIC; report "valid", "INVALID" or why not checked."""
    out: Report = {}
    response = auth.nt_challenge_response
    if len(response) <= 24:
        out["nt_proof_str"] = "not checked: not an NTLMv2 response"
        return out
    if secrets.challenge is None:
        out["nt_proof_str"] = "not checked: pass the CHALLENGE message (--challenge)"
        return out
    server_challenge = ChallengeMessage.unpack(secrets.challenge).server_challenge
    user = secrets.user if secrets.user is not None else auth.user_name
    domain = secrets.domain if secrets.domain is not None else auth.domain_name
    secret: str | bytes = secrets.nt_hash if secrets.nt_hash is not None else (
        secrets.password or "")
    key = ntlm_crypto.ntowfv2(secret, user, domain)
    proof = hmac.digest(key, server_challenge + response[16:], "md5")
    if not hmac.compare_digest(proof, response[:16]):
        out["nt_proof_str"] = (f"INVALID for user {user!r} in domain {domain!r}: wrong password, "
                               "user or domain (or not this CHALLENGE)")
        return out
    out["nt_proof_str"] = f"valid for user {user!r} in domain {domain!r}"
    if auth.mic is None:
        out["mic"] = "absent"
        return out
    if secrets.negotiate is None:
        out["mic"] = "not checked: pass the NEGOTIATE message (--negotiate)"
        return out
    base = hmac.digest(key, proof, "md5")
    exported = base
    if auth.negotiate_flags & NegotiateFlags.NTLMSSP_NEGOTIATE_KEY_EXCH and (
        auth.encrypted_random_session_key
    ):
        exported = rc4k(base, auth.encrypted_random_session_key)
    expected = ntlm_crypto.mic(exported, secrets.negotiate, secrets.challenge, auth.zeroed_mic())
    out["mic"] = "valid" if hmac.compare_digest(expected, auth.mic) else "INVALID"
    return out
