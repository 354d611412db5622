"""NTLMv2 and session-key functions of MS-NLMP 3.3 and 3.4.5, named as the spec names them.

Sections: 3.3.1 (NTOWFv1, the NT hash), 3.3.2 "NTLM v2 Authentication", 3.4.5 "KXKEY, SIGNKEY,
and SEALKEY", 3.1.5.1.2 (the MIC) and 2.2.2.1 (MsvAvChannelBindings).
https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-nlmp/

Rules of this module: pure functions of bytes and flags, no state, no clock, no randomness.
NTLMv1, LM, DES and the NTLMv1 key variants live in ``legacy.py``, which this module never
imports. MD5 comes from OpenSSL through :mod:`hashlib` (HMAC-MD5 is built from it); MD4 from
:mod:`opensspi.crypto.md4`.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from enum import Enum

from ...crypto.md4 import md4
from ...crypto.rc4 import rc4k
from ...errors import InvalidParameter, LogonDenied, UnsupportedFunction
from .messages import NegotiateFlags

__all__ = [
    "Mode",
    "channel_bindings_hash",
    "compute_ntlmv2_response",
    "kxkey",
    "lmowfv2",
    "mic",
    "ntowfv1",
    "ntowfv2",
    "rc4k",
    "sealkey",
    "signkey",
    "verify_ntlmv2_response",
]

_CLIENT_SIGN = b"session key to client-to-server signing key magic constant\x00"
_SERVER_SIGN = b"session key to server-to-client signing key magic constant\x00"
_CLIENT_SEAL = b"session key to client-to-server sealing key magic constant\x00"
_SERVER_SEAL = b"session key to server-to-client sealing key magic constant\x00"
_TEMP_HEADER = struct.Struct("<BB6sQ8s4s")
_CB_HEADER = struct.Struct("<II")
_ESS = int(NegotiateFlags.NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY)
_NEGOTIATE_128 = int(NegotiateFlags.NTLMSSP_NEGOTIATE_128)
_NEGOTIATE_56 = int(NegotiateFlags.NTLMSSP_NEGOTIATE_56)
_NT_HASH_SIZE = 16


class Mode(Enum):
    """Which side a SIGNKEY or SEALKEY is for: the spec's ``Mode`` "Client" or "Server"."""

    CLIENT = 1
    SERVER = 2


_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))
_md5 = hashlib.md5


def _hmac_md5(key: bytes, data: bytes) -> bytes:
    """HMAC-MD5 (RFC 2104) from two MD5s: the same bytes as ``hmac.digest(key, data, "md5")``
    at three quarters of its cost, since OpenSSL's one-shot HMAC looks the digest up by name on
    every call (an NTLM handshake makes eight of these, a pywin32 credential one more)."""
    if len(key) > 64:
        key = _md5(key).digest()
    block = key.ljust(64, b"\x00")
    return _md5(block.translate(_OPAD) + _md5(block.translate(_IPAD) + data).digest()).digest()


def ntowfv1(password: str) -> bytes:
    """Return the NT hash of ``password``: MD4 of its UTF-16LE encoding.

    MS-NLMP 3.3.1 "NTLM v1 Authentication"::

        Define NTOWFv1(Passwd, User, UserDom) as MD4(UNICODE(Passwd))
        EndDefine

    Args:
        password: the password, any length.

    Returns:
        The 16-byte NT hash (NTOWFv1, also the key inside NTOWFv2).
    """
    return md4(password.encode("utf-16-le", "surrogatepass"))


def ntowfv2(password: str | bytes, user: str, domain: str) -> bytes:
    """Return the NTLMv2 response key for ``user`` in ``domain``.

    MS-NLMP 3.3.2 "NTLM v2 Authentication"::

        Define NTOWFv2(Passwd, User, UserDom) as HMAC_MD5(
        MD4(UNICODE(Passwd)), UNICODE(ConcatenationOf( Uppercase(User),
        UserDom ) ) )
        EndDefine

    Args:
        password: the password, or its 16-byte NT hash (``MD4(UNICODE(Passwd))``) as bytes.
        user: the user name; upper-cased here, as the spec requires.
        domain: the user's domain, used as given (not upper-cased).

    Returns:
        The 16-byte ResponseKeyNT.

    Raises:
        InvalidParameter: ``password`` is bytes but not 16 bytes long.
    """
    if isinstance(password, bytes):
        if len(password) != _NT_HASH_SIZE:
            raise InvalidParameter(
                f"An NT hash is 16 bytes, not {len(password)}; pass the password as str."
            )
        nt_hash = password
    else:
        nt_hash = ntowfv1(password)
    identity = (user.upper() + domain).encode("utf-16-le", "surrogatepass")
    return _hmac_md5(nt_hash, identity)


def lmowfv2(password: str | bytes, user: str, domain: str) -> bytes:
    """Return the LMv2 response key; in NTLMv2 it equals NTOWFv2.

    MS-NLMP 3.3.2 "NTLM v2 Authentication"::

        Define LMOWFv2(Passwd, User, UserDom) as NTOWFv2(Passwd, User,
        UserDom)
        EndDefine

    Args:
        password: the password, or its 16-byte NT hash.
        user: the user name.
        domain: the user's domain.

    Returns:
        The 16-byte ResponseKeyLM.

    Raises:
        InvalidParameter: ``password`` is bytes but not 16 bytes long.
    """
    return ntowfv2(password, user, domain)


def compute_ntlmv2_response(
    response_key_nt: bytes,
    response_key_lm: bytes,
    server_challenge: bytes,
    client_challenge: bytes,
    time: int,
    server_name: bytes,
    *,
    lmv2: bool = True,
) -> tuple[bytes, bytes, bytes]:
    """Compute the NTLMv2 and LMv2 responses and the session base key.

    MS-NLMP 3.3.2 "NTLM v2 Authentication" (the anonymous branch is the caller's: it sends
    empty responses and no key)::

        Set temp to ConcatenationOf(Responserversion, HiResponserversion,
        Z(6), Time, ClientChallenge, Z(4), ServerName, Z(4))
        Set NTProofStr to HMAC_MD5(ResponseKeyNT,
        ConcatenationOf(CHALLENGE_MESSAGE.ServerChallenge,temp))
        Set NtChallengeResponse to ConcatenationOf(NTProofStr, temp)
        Set LmChallengeResponse to ConcatenationOf(HMAC_MD5(ResponseKeyLM,
        ConcatenationOf(CHALLENGE_MESSAGE.ServerChallenge, ClientChallenge)),
        ClientChallenge )

        Set SessionBaseKey to HMAC_MD5(ResponseKeyNT, NTProofStr)

    Args:
        response_key_nt: NTOWFv2.
        response_key_lm: LMOWFv2.
        server_challenge: the CHALLENGE_MESSAGE's 8-byte ServerChallenge.
        client_challenge: the client's 8 random bytes.
        time: the timestamp, a FILETIME (100 ns ticks since 1601-01-01 UTC).
        server_name: the client's AV_PAIR list, packed and ending with MsvAvEOL
            (``TargetInfo.build()``).
        lmv2: False when the caller sends Z(24) instead (see Returns): the LMv2 HMAC is then
            not computed and the LmChallengeResponse returned is Z(24).

    Returns:
        ``(nt_challenge_response, lm_challenge_response, session_base_key)``. When the
        CHALLENGE carries MsvAvTimestamp, MS-NLMP 3.1.5.1.2 says the client sends Z(24) instead
        of this LmChallengeResponse; that choice is the caller's.

    Raises:
        InvalidParameter: a challenge is not 8 bytes or ``time`` does not fit 64 bits.
    """
    _check_challenge(server_challenge, "ServerChallenge")
    _check_challenge(client_challenge, "ClientChallenge")
    try:
        header = _TEMP_HEADER.pack(1, 1, bytes(6), time, client_challenge, bytes(4))
    except struct.error as exc:
        raise InvalidParameter("The NTLMv2 timestamp must be an unsigned 64-bit FILETIME.") from exc
    temp = b"".join((header, server_name, bytes(4)))
    nt_proof_str = _hmac_md5(response_key_nt, server_challenge + temp)
    session_base_key = _hmac_md5(response_key_nt, nt_proof_str)
    if not lmv2:
        return nt_proof_str + temp, bytes(24), session_base_key
    lm_response = _hmac_md5(response_key_lm, server_challenge + client_challenge)
    return nt_proof_str + temp, lm_response + client_challenge, session_base_key


def verify_ntlmv2_response(
    response_key_nt: bytes, server_challenge: bytes, nt_challenge_response: bytes
) -> bytes:
    """Check a received NTLMv2 response and return the session base key (server side).

    MS-NLMP 3.3.2 "NTLM v2 Authentication", run by the server on the blob as received::

        Set NTProofStr to HMAC_MD5(ResponseKeyNT,
        ConcatenationOf(CHALLENGE_MESSAGE.ServerChallenge,temp))
        Set SessionBaseKey to HMAC_MD5(ResponseKeyNT, NTProofStr)

    ``temp`` is ``nt_challenge_response[16:]`` exactly as received: re-encoding it would reject
    clients that omit the trailing Z(4). NTProofStr is compared in constant time.

    Args:
        response_key_nt: NTOWFv2 of the claimed user.
        server_challenge: the ServerChallenge this server sent.
        nt_challenge_response: the AUTHENTICATE_MESSAGE's NtChallengeResponse.

    Returns:
        The 16-byte SessionBaseKey.

    Raises:
        LogonDenied: the response is too short or NTProofStr does not match.
    """
    if len(nt_challenge_response) <= 24:
        raise LogonDenied(
            "The NtChallengeResponse is not an NTLMv2 response (24 bytes or fewer); the client "
            "may be configured for NTLMv1."
        )
    proof, temp = nt_challenge_response[:16], nt_challenge_response[16:]
    expected = _hmac_md5(response_key_nt, server_challenge + temp)
    if not hmac.compare_digest(proof, expected):
        raise LogonDenied("The NTLMv2 response does not match: wrong password or user.")
    return _hmac_md5(response_key_nt, expected)


def kxkey(session_base_key: bytes) -> bytes:
    """Return the key exchange key of NTLMv2: the session base key itself.

    MS-NLMP 3.4.5.1 "KXKEY": "If NTLM v2 is used, KeyExchangeKey MUST be set to the given
    128-bit SessionBaseKey value." The NTLMv1 variants (LM key, non-NT session key, extended
    session security) are ``legacy.kxkey_v1``.

    Args:
        session_base_key: from :func:`compute_ntlmv2_response`.

    Returns:
        The 16-byte KeyExchangeKey.
    """
    return session_base_key


def signkey(flags: int, exported_session_key: bytes, mode: Mode) -> bytes | None:
    """Return the signing key for ``mode``'s outgoing messages, or None without ESS.

    MS-NLMP 3.4.5.2 "SIGNKEY"::

        Define SIGNKEY(NegFlg, ExportedSessionKey, Mode) as
        If (NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY flag is set in NegFlg)
            If (Mode equals "Client")
                Set SignKey to MD5(ConcatenationOf(ExportedSessionKey,
                "session key to client-to-server signing key magic
                constant"))
            Else
                Set SignKey to MD5(ConcatenationOf(ExportedSessionKey,
                "session key to server-to-client signing key magic
                constant"))
            Endif
        Else
            Set  SignKey to NIL
        Endif
        EndDefine

    The magic constants include their terminating NUL byte, as the MS-NLMP 4.2.4.4 keys show.

    Args:
        flags: the negotiated NegotiateFlags.
        exported_session_key: the 16-byte ExportedSessionKey.
        mode: :attr:`Mode.CLIENT` for client-to-server, :attr:`Mode.SERVER` for the reverse.

    Returns:
        The 16-byte SignKey, or None when extended session security is not negotiated.
    """
    if not flags & _ESS:
        return None
    constant = _CLIENT_SIGN if mode is Mode.CLIENT else _SERVER_SIGN
    return hashlib.md5(exported_session_key + constant).digest()


def sealkey(flags: int, exported_session_key: bytes, mode: Mode) -> bytes:
    """Return the RC4 sealing key for ``mode``'s outgoing messages (extended session security).

    MS-NLMP 3.4.5.3 "SEALKEY", the branch for NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY::

        If (NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY flag is set in NegFlg)
            If ( NTLMSSP_NEGOTIATE_128 is set in NegFlg)
                Set SealKey to ExportedSessionKey
            ElseIf ( NTLMSSP_NEGOTIATE_56 flag is set in NegFlg)
                Set SealKey to ExportedSessionKey[0..6]
            Else
                Set SealKey to ExportedSessionKey[0..4]
            Endif

            If (Mode equals "Client")
                Set SealKey to MD5(ConcatenationOf(SealKey, "session key to
                client-to-server sealing key magic constant"))
            Else
                Set SealKey to MD5(ConcatenationOf(SealKey, "session key to
                server-to-client sealing key magic constant"))
            Endif

    Without extended session security the seal key is NTLMv1's (possibly weakened to 40 or 56
    bits with NTLMSSP_NEGOTIATE_LM_KEY): that branch is ``legacy.sealkey_v1``. A caller that
    requires 128-bit keys checks NTLMSSP_NEGOTIATE_128 before calling this.

    Args:
        flags: the negotiated NegotiateFlags.
        exported_session_key: the 16-byte ExportedSessionKey.
        mode: :attr:`Mode.CLIENT` for client-to-server, :attr:`Mode.SERVER` for the reverse.

    Returns:
        The 16-byte SealKey.

    Raises:
        UnsupportedFunction: extended session security is not negotiated.
    """
    if not flags & _ESS:
        raise UnsupportedFunction(
            "SEALKEY without NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY is NTLMv1 session "
            "security; it is only available through legacy.sealkey_v1."
        )
    if flags & _NEGOTIATE_128:
        key = exported_session_key
    elif flags & _NEGOTIATE_56:
        key = exported_session_key[:7]
    else:
        key = exported_session_key[:5]
    constant = _CLIENT_SEAL if mode is Mode.CLIENT else _SERVER_SEAL
    return hashlib.md5(key + constant).digest()


def mic(
    exported_session_key: bytes,
    negotiate_message: bytes,
    challenge_message: bytes,
    authenticate_message: bytes,
) -> bytes:
    """Return the MIC over the three handshake messages.

    MS-NLMP 3.1.5.1.2 "Client Receives a CHALLENGE_MESSAGE from the Server" (and 3.2.5.1.2 on
    the server)::

        Set MIC to HMAC_MD5(ExportedSessionKey, ConcatenationOf(
        NEGOTIATE_MESSAGE, CHALLENGE_MESSAGE, AUTHENTICATE_MESSAGE))

    Args:
        exported_session_key: the 16-byte ExportedSessionKey.
        negotiate_message: the NEGOTIATE_MESSAGE bytes as sent.
        challenge_message: the CHALLENGE_MESSAGE bytes as sent.
        authenticate_message: the AUTHENTICATE_MESSAGE bytes with the MIC field zeroed
            (``AuthenticateMessage.zeroed_mic()`` on the server).

    Returns:
        The 16-byte MIC. Compare it with :func:`hmac.compare_digest`.
    """
    return _hmac_md5(
        exported_session_key, b"".join((negotiate_message, challenge_message,
                                        authenticate_message)))


def channel_bindings_hash(
    application_data: bytes,
    *,
    initiator_addrtype: int = 0,
    initiator_address: bytes = b"",
    acceptor_addrtype: int = 0,
    acceptor_address: bytes = b"",
) -> bytes:
    """Return the MsvAvChannelBindings value: MD5 of a gss_channel_bindings_struct.

    MS-NLMP 2.2.2.1, MsvAvChannelBindings: "A channel bindings hash ... The value is the MD5 hash
    of the gss_channel_bindings_struct ([RFC2744] section 3.11)." The struct is hashed in its
    flat form::

        initiator_addrtype (u32le) || length (u32le) || initiator_address ||
        acceptor_addrtype (u32le)  || length (u32le) || acceptor_address ||
        length (u32le) || application_data

    Send no MsvAvChannelBindings pair at all when the caller has no bindings: an all-zero value
    breaks servers with Extended Protection in "accept" mode.

    Args:
        application_data: e.g. ``b"tls-server-end-point:" + certificate_hash`` (RFC 5929).
        initiator_addrtype: the initiator address type, usually 0.
        initiator_address: the initiator address, usually empty.
        acceptor_addrtype: the acceptor address type, usually 0.
        acceptor_address: the acceptor address, usually empty.

    Returns:
        The 16-byte hash.

    Raises:
        InvalidParameter: an address type or a length does not fit 32 bits.
    """
    try:
        flat = b"".join(
            (
                _CB_HEADER.pack(initiator_addrtype, len(initiator_address)),
                initiator_address,
                _CB_HEADER.pack(acceptor_addrtype, len(acceptor_address)),
                acceptor_address,
                len(application_data).to_bytes(4, "little"),
                application_data,
            )
        )
    except (struct.error, OverflowError) as exc:
        raise InvalidParameter("Channel binding address types and lengths are 32-bit.") from exc
    return hashlib.md5(flat).digest()


def _check_challenge(value: bytes, name: str) -> None:
    if len(value) != 8:
        raise InvalidParameter(f"{name} is 8 bytes, not {len(value)}.")
