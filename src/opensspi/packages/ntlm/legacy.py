"""Legacy NTLM: LM, NTLMv1, NTLMv1 with extended session security, and NTLMv1 session keys.

MS-NLMP 3.3.1 "NTLM v1 Authentication", 3.4.5.1 "KXKEY" (NTLMv1 branches), 3.4.5.3 "SEALKEY"
(the branch without extended session security) and 3.4.4.1 "Without Extended Session Security"
(the CRC32 signature). https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-nlmp/

Rules of this module: everything here is weak (DES, 56-bit and 40-bit keys, CRC32 integrity)
and exists only for peers that cannot do better. Nothing in ``crypto.py`` imports it; the
machine reaches it only through an explicit, typed opt-in, never by default. The LM hash is
computed only when asked for: it is slow (two DES key schedules) and useless with NTLMv2.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher
from cryptography.hazmat.primitives.ciphers.modes import ECB

from ...crypto.md4 import md4
from ...errors import InvalidParameter, LogonDenied, UnsupportedFunction
from .crypto import ntowfv1
from .messages import OEM_ENCODING, NegotiateFlags

__all__ = [
    "NtlmV1Result",
    "compare_v1",
    "compute_ntlmv1_response",
    "des",
    "desl",
    "kxkey_v1",
    "lmowfv1",
    "mac_v1",
    "ntlmv1_client_response",
    "ntlmv1_server_check",
    "ntowfv1",
    "sealkey_v1",
]

_LM_MAGIC = b"KGS!@#$%"
_MAC_V1 = struct.Struct("<III")  # RandomPad, Checksum, SeqNum: the encrypted part of 2.2.2.9.1
_SIGNATURE_VERSION = b"\x01\x00\x00\x00"
_ESS = NegotiateFlags.NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY
_NTLMSSP_REVISION_W2K3 = 0x0F


def _expand_des_key(key7: bytes) -> bytes:
    # Spread 56 key bits over 8 bytes, 7 bits each in the high bits; DES ignores the low
    # (parity) bit, so it is left zero.
    n = int.from_bytes(key7, "big")
    return bytes(((n >> (49 - 7 * i)) & 0x7F) << 1 for i in range(8))


def des(key: bytes, data: bytes) -> bytes:
    """``DES(K, D)`` of MS-NLMP section 6: DES-ECB of 8 bytes under a 7-byte key.

    The 7-byte key is expanded to DES's 8 bytes as [MS-NLMP] section 6 and RFC 2433 describe.
    DES is ``cryptography``'s decrepit TripleDES keyed K1 = K2 = K3.

    Args:
        key: 7 bytes.
        data: 8 bytes.

    Returns:
        8 bytes of ciphertext.

    Raises:
        InvalidParameter: ``key`` is not 7 bytes or ``data`` not 8.
    """
    if len(key) != 7 or len(data) != 8:
        raise InvalidParameter(
            f"DES takes a 7-byte key and 8 bytes of data, not {len(key)} and {len(data)}."
        )
    encryptor = Cipher(TripleDES(_expand_des_key(key) * 3), ECB()).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def desl(key: bytes, data: bytes) -> bytes:
    """``DESL(K, D)`` of MS-NLMP section 6: three DES encryptions of ``data``.

    MS-NLMP section 6::

        ConcatenationOf( DES(K[0..6], D), DES(K[7..13], D),
        DES(ConcatenationOf(K[14..15], Z(5)), D));

    Args:
        key: 16 bytes.
        data: 8 bytes.

    Returns:
        24 bytes.

    Raises:
        InvalidParameter: ``key`` is not 16 bytes or ``data`` not 8.
    """
    if len(key) != 16:
        raise InvalidParameter(f"DESL takes a 16-byte key, not {len(key)} bytes.")
    return des(key[:7], data) + des(key[7:14], data) + des(key[14:] + bytes(5), data)


def lmowfv1(password: str) -> bytes:
    """Return the LM hash of ``password``.

    MS-NLMP 3.3.1 "NTLM v1 Authentication"::

        Define LMOWFv1(Passwd, User, UserDom) as
            ConcatenationOf( DES( UpperCase( Passwd)[0..6],"KGS!@#$%"),
                             DES( UpperCase( Passwd)[7..13],"KGS!@#$%"))
        EndDefine

    "If the password is longer than 14 characters, the LMOWF v1 cannot be computed. For
    LMOWF v1, if the password is shorter than 14 characters, it is padded by appending zeroes."

    Args:
        password: at most 14 characters of the OEM code page.

    Returns:
        The 16-byte LM hash.

    Raises:
        InvalidParameter: the password is longer than 14 bytes in the OEM code page, or cannot
            be encoded in it; the caller then sends no LM response (NoLMResponseNTLMv1).
    """
    try:
        oem = password.upper().encode(OEM_ENCODING)
    except UnicodeEncodeError as exc:
        raise InvalidParameter(
            f"The password has characters outside the OEM code page ({OEM_ENCODING}); the LM "
            "hash cannot be computed."
        ) from exc
    if len(oem) > 14:
        raise InvalidParameter(
            "The password is longer than 14 characters; the LM hash cannot be computed."
        )
    oem = oem.ljust(14, b"\x00")
    return des(oem[:7], _LM_MAGIC) + des(oem[7:], _LM_MAGIC)


def compute_ntlmv1_response(
    flags: int,
    response_key_nt: bytes,
    response_key_lm: bytes | None,
    server_challenge: bytes,
    client_challenge: bytes,
) -> tuple[bytes, bytes, bytes]:
    """Compute the NTLMv1 (or NTLMv1-ESS) responses and the session base key.

    MS-NLMP 3.3.1 "NTLM v1 Authentication" (the anonymous branch is the caller's)::

        If (NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY flag is set in NegFlg)
            Set NtChallengeResponse to DESL(ResponseKeyNT,
                MD5(ConcatenationOf(CHALLENGE_MESSAGE.ServerChallenge,
                ClientChallenge))[0..7])
            Set LmChallengeResponse to ConcatenationOf{ClientChallenge,
                Z(16)}
        Else
            Set NtChallengeResponse to DESL(ResponseKeyNT,
                CHALLENGE_MESSAGE.ServerChallenge)
            If (NoLMResponseNTLMv1 is TRUE)
                Set LmChallengeResponse to NtChallengeResponse
            Else
                Set LmChallengeResponse to DESL(ResponseKeyLM,
                    CHALLENGE_MESSAGE.ServerChallenge)
            EndIf
        EndIf

        Set SessionBaseKey to MD4(NTOWF)

    Args:
        flags: the negotiated NegotiateFlags (only ESS matters here).
        response_key_nt: NTOWFv1.
        response_key_lm: LMOWFv1, or None for NoLMResponseNTLMv1.
        server_challenge: the CHALLENGE_MESSAGE's 8-byte ServerChallenge.
        client_challenge: 8 random bytes (used only with ESS).

    Returns:
        ``(nt_challenge_response, lm_challenge_response, session_base_key)``.

    Raises:
        InvalidParameter: a challenge is not 8 bytes or a key not 16.
    """
    if len(server_challenge) != 8 or len(client_challenge) != 8:
        raise InvalidParameter("ServerChallenge and ClientChallenge are 8 bytes each.")
    if flags & _ESS:
        digest = hashlib.md5(server_challenge + client_challenge).digest()
        nt_response = desl(response_key_nt, digest[:8])
        lm_response = client_challenge + bytes(16)
    else:
        nt_response = desl(response_key_nt, server_challenge)
        if response_key_lm is None:
            lm_response = nt_response
        else:
            lm_response = desl(response_key_lm, server_challenge)
    return nt_response, lm_response, md4(response_key_nt)


def kxkey_v1(
    flags: int,
    session_base_key: bytes,
    lm_challenge_response: bytes,
    server_challenge: bytes,
    lmowf: bytes | None = None,
) -> bytes:
    """Return the NTLMv1 key exchange key.

    MS-NLMP 3.4.5.1 "KXKEY", without extended session security::

        Define KXKEY(SessionBaseKey, LmChallengeResponse, ServerChallenge) as
        If ( NTLMSSP_NEGOTIATE_LMKEY flag is set in NegFlg)
             Set KeyExchangeKey to ConcatenationOf(DES(LMOWF[0..6],
             LmChallengeResponse[0..7]),
             DES(ConcatenationOf(LMOWF[7], 0xBDBDBDBDBDBD),
             LmChallengeResponse[0..7]))
        Else
             If ( NTLMSSP_REQUEST_NON_NT_SESSION_KEY flag is set in NegFlg)
                Set KeyExchangeKey to ConcatenationOf(LMOWF[0..7], Z(8)),
             Else
                Set KeyExchangeKey to SessionBaseKey
             Endif
        Endif
        EndDefine

    and with extended session security::

        Define KXKEY(SessionBaseKey, LmChallengeResponse, ServerChallenge) as
             Set KeyExchangeKey to HMAC_MD5(SessionBaseKey, ConcatenationOf(ServerChallenge,
             LmChallengeResponse [0..7]))
        EndDefine

    Args:
        flags: the negotiated NegotiateFlags.
        session_base_key: from :func:`compute_ntlmv1_response`.
        lm_challenge_response: the LmChallengeResponse sent.
        server_challenge: the 8-byte ServerChallenge.
        lmowf: LMOWFv1; needed only for the LM_KEY and NON_NT_SESSION_KEY variants.

    Returns:
        The 16-byte KeyExchangeKey.

    Raises:
        InvalidParameter: a variant needs ``lmowf`` and it is missing.
    """
    if flags & _ESS:
        return hmac.digest(session_base_key, server_challenge + lm_challenge_response[:8], "md5")
    if flags & (
        NegotiateFlags.NTLMSSP_NEGOTIATE_LM_KEY | NegotiateFlags.NTLMSSP_REQUEST_NON_NT_SESSION_KEY
    ):
        if lmowf is None or len(lmowf) != 16:
            raise InvalidParameter(
                "The LM_KEY and NON_NT_SESSION_KEY key exchange keys need the 16-byte LMOWF."
            )
        if flags & NegotiateFlags.NTLMSSP_NEGOTIATE_LM_KEY:
            data = lm_challenge_response[:8]
            return des(lmowf[:7], data) + des(lmowf[7:8] + b"\xbd" * 6, data)
        return lmowf[:8] + bytes(8)
    return session_base_key


def sealkey_v1(flags: int, exported_session_key: bytes, revision: int = 0x0F) -> bytes:
    """Return the NTLMv1 RC4 key used for sealing and signing in both directions.

    MS-NLMP 3.4.5.3 "SEALKEY", the branches without extended session security::

        ElseIf ( (NTLMSSP_NEGOTIATE_LM_KEY is set in NegFlg) or
                 ( (NTLMSSP_NEGOTIATE_DATAGRAM is set in NegFlg)
                   and (NTLMRevisionCurrent >= NTLMSSP_REVISION_W2K3) ) )
            If (NTLMSSP_NEGOTIATE_56 flag is set in NegFlg)
                Set SealKey to ConcatenationOf(ExportedSessionKey[0..6], 0xA0)
            Else
                Set SealKey to ConcatenationOf(ExportedSessionKey[0..4], 0xE5,
                0x38, 0xB0)
            EndIf
        Else
            Set SealKey to ExportedSessionKey
        Endif

    Args:
        flags: the negotiated NegotiateFlags (without extended session security).
        exported_session_key: the 16-byte ExportedSessionKey.
        revision: the peer's NTLMRevisionCurrent (VERSION field), 0x0F by default.

    Returns:
        The SealKey: 8 bytes (56- or 40-bit strength) or the 16-byte session key.

    Raises:
        InvalidParameter: extended session security is negotiated (use ``crypto.sealkey``).
    """
    if flags & _ESS:
        raise InvalidParameter(
            "sealkey_v1 is for sessions without extended session security; use crypto.sealkey."
        )
    weakened = flags & NegotiateFlags.NTLMSSP_NEGOTIATE_LM_KEY or (
        flags & NegotiateFlags.NTLMSSP_NEGOTIATE_DATAGRAM and revision >= _NTLMSSP_REVISION_W2K3
    )
    if not weakened:
        return exported_session_key
    if flags & NegotiateFlags.NTLMSSP_NEGOTIATE_56:
        return exported_session_key[:7] + b"\xa0"
    return exported_session_key[:5] + b"\xe5\x38\xb0"


def mac_v1(rc4: Callable[[bytes], bytes], seq_num: int, checksum: int) -> bytes:
    """Return an NTLMSSP_MESSAGE_SIGNATURE without extended session security.

    MS-NLMP 3.4.4.1 "Without Extended Session Security" (``checksum`` is the CRC32 of the
    message, computed by the caller so that it can span several buffers)::

        Define MAC(Handle, SigningKey, SeqNum, Message) as
            Set NTLMSSP_MESSAGE_SIGNATURE.Version to 0x00000001
            Set NTLMSSP_MESSAGE_SIGNATURE.Checksum to CRC32(Message)
            Set NTLMSSP_MESSAGE_SIGNATURE.RandomPad RC4(Handle, RandomPad)
            Set NTLMSSP_MESSAGE_SIGNATURE.Checksum to RC4(Handle,
            NTLMSSP_MESSAGE_SIGNATURE.Checksum)
            Set NTLMSSP_MESSAGE_SIGNATURE.SeqNum to RC4(Handle, 0x00000000)
            If (connection oriented)
                Set NTLMSSP_MESSAGE_SIGNATURE.SeqNum to
                NTLMSSP_MESSAGE_SIGNATURE.SeqNum XOR SeqNum
                Set SeqNum to SeqNum + 1
            Else
                Set NTLMSSP_MESSAGE_SIGNATURE.SeqNum to
                NTLMSSP_MESSAGE_SIGNATURE.SeqNum XOR
                (application supplied SeqNum)
            EndIf
            Set NTLMSSP_MESSAGE_SIGNATURE.RandomPad to 0
        EndDefine

    Deviation: RandomPad is 0 and the signature carries RC4(Handle, RandomPad), as the
    MS-NLMP 4.2.2.4 example's "Assembled Signature" and Samba do, rather than the pad reset to
    zero of the last line. The receiver ignores these 4 bytes (:func:`compare_v1`).

    Args:
        rc4: the session's single RC4 stream (both directions share it in NTLMv1).
        seq_num: the sequence number, 0 to 2**32 - 1.
        checksum: CRC32 of the message.

    Returns:
        The 16-byte signature.
    """
    encrypted = rc4(_MAC_V1.pack(0, checksum, 0))
    seq = int.from_bytes(encrypted[8:], "little") ^ seq_num
    return _SIGNATURE_VERSION + encrypted[:8] + seq.to_bytes(4, "little")


def compare_v1(expected: bytes, received: bytes) -> bool:
    """Compare two NTLMv1 signatures in constant time, ignoring the RandomPad bytes (4..7).

    Peers send either the encrypted pad or zeros there (MS-NLMP 3.4.4.1 ends by zeroing it).
    """
    return len(received) == 16 and hmac.compare_digest(
        expected[:4] + expected[8:], received[:4] + received[8:]
    )


@dataclass(frozen=True, slots=True)
class NtlmV1Result:
    """What an NTLMv1 client sends and keeps: both responses and the keys derived from them."""

    nt_response: bytes = field(repr=False)
    lm_response: bytes = field(repr=False)
    session_base_key: bytes = field(repr=False)
    key_exchange_key: bytes = field(repr=False)


def _lmowf_or_none(password: str | None) -> bytes | None:
    if password is None:
        return None
    try:
        return lmowfv1(password)
    except InvalidParameter:
        return None  # longer than 14 characters or not OEM: no LM hash exists


def ntlmv1_client_response(
    *,
    flags: int,
    nt_hash: bytes,
    password: str | None,
    server_challenge: bytes,
    client_challenge: bytes,
    level: int,
) -> NtlmV1Result:
    """Compute an NTLMv1 client's responses and key exchange key (MS-NLMP 3.3.1, 3.4.5.1).

    ``level`` is Windows' LmCompatibilityLevel: 0 and 1 send an LM response when the LM hash
    can be computed (``password`` given, at most 14 OEM characters), 2 and above send the NT
    response in its place (NoLMResponseNTLMv1). Extended session security follows ``flags``.

    Args:
        flags: the negotiated NegotiateFlags.
        nt_hash: NTOWFv1 of the password.
        password: the password, needed only for the LM hash; None when not kept.
        server_challenge: the CHALLENGE_MESSAGE's ServerChallenge.
        client_challenge: 8 random bytes.
        level: LmCompatibilityLevel, 0 to 2 here.

    Returns:
        The responses, SessionBaseKey and KeyExchangeKey.

    Raises:
        UnsupportedFunction: the flags ask for an LM-derived key (NTLMSSP_NEGOTIATE_LM_KEY or
            NTLMSSP_REQUEST_NON_NT_SESSION_KEY, without ESS) and no LM hash is available.
        InvalidParameter: a challenge is not 8 bytes or the NT hash not 16.
    """
    lmowf = _lmowf_or_none(password) if level < 2 else None
    nt, lm, session_base_key = compute_ntlmv1_response(
        flags, nt_hash, lmowf, server_challenge, client_challenge
    )
    needs_lm = flags & (
        NegotiateFlags.NTLMSSP_NEGOTIATE_LM_KEY | NegotiateFlags.NTLMSSP_REQUEST_NON_NT_SESSION_KEY
    )
    if needs_lm and not flags & _ESS:
        if lmowf is None:
            lmowf = _lmowf_or_none(password)
        if lmowf is None:
            raise UnsupportedFunction(
                "The server negotiated an LM-derived session key (LM_KEY or NON_NT_SESSION_KEY) "
                "but no LM hash is available (password unknown or longer than 14 characters)."
            )
    key = kxkey_v1(flags, session_base_key, lm, server_challenge, lmowf)
    return NtlmV1Result(nt, lm, session_base_key, key)


def ntlmv1_server_check(
    *,
    flags: int,
    nt_hash: bytes,
    password: str | None,
    server_challenge: bytes,
    lm_response: bytes,
    nt_response: bytes,
) -> bytes:
    """Verify an NTLMv1, NTLMv1-ESS or LM response and return the key exchange key.

    The NT response is checked first (with ESS, the client challenge is LmChallengeResponse[0..7],
    MS-NLMP 3.3.1); without ESS an LM response alone is accepted when ``password`` is known and
    has an LM hash. Comparisons are constant-time.

    Args:
        flags: the negotiated NegotiateFlags.
        nt_hash: the account's NTOWFv1.
        password: the account's password, needed only to check LM responses.
        server_challenge: the ServerChallenge this server sent.
        lm_response: the AUTHENTICATE_MESSAGE's LmChallengeResponse.
        nt_response: the AUTHENTICATE_MESSAGE's NtChallengeResponse.

    Returns:
        The 16-byte KeyExchangeKey (MS-NLMP 3.4.5.1).

    Raises:
        LogonDenied: no response matches.
        UnsupportedFunction: an LM-derived key is negotiated and the LM hash is unknown.
    """
    lmowf = _lmowf_or_none(password)
    ess = bool(flags & _ESS)
    matched = False
    if len(nt_response) == 24:
        if ess:
            if len(lm_response) < 8:
                raise LogonDenied(
                    "An NTLMv1 response with extended session security needs the client "
                    "challenge in LmChallengeResponse; it is missing."
                )
            digest = hashlib.md5(server_challenge + lm_response[:8]).digest()
            expected = desl(nt_hash, digest[:8])
        else:
            expected = desl(nt_hash, server_challenge)
        matched = hmac.compare_digest(expected, nt_response)
    if not matched and not ess and lmowf is not None and len(lm_response) == 24:
        matched = hmac.compare_digest(desl(lmowf, server_challenge), lm_response)
    if not matched:
        raise LogonDenied("The NTLMv1 response does not match: wrong password or user.")
    needs_lm = flags & (
        NegotiateFlags.NTLMSSP_NEGOTIATE_LM_KEY | NegotiateFlags.NTLMSSP_REQUEST_NON_NT_SESSION_KEY
    )
    if needs_lm and not ess and lmowf is None:
        raise UnsupportedFunction(
            "An LM-derived session key was negotiated but this account's LM hash is unknown."
        )
    return kxkey_v1(flags, md4(nt_hash), lm_response, server_challenge, lmowf)
