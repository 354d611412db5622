"""Enctype policy for the AP exchange: which ticket, session key and subkey enctypes a context
takes from its peer.

RFC 4120 §3.2.3 leaves the choice to the server ("the server MAY reject [...] if the encryption
type is not acceptable"); RFC 8429 §4 deprecates rc4-hmac ("RC4-HMAC ... SHOULD NOT be used").
Windows refuses it where ``msDS-SupportedEncryptionTypes`` / "Network security: Configure
encryption types allowed for Kerberos" says so; MIT krb5 (1.18+) unless ``allow_rc4`` (and
``permitted_enctypes``) admits it.

Decisions (issue 12):

- The switch is the credential's ``allow_rc4``: ``KerberosAuthData(allow_rc4=...)`` when given,
  else krb5.conf's ``[libdefaults] allow_rc4`` (default false, as MIT). So an acceptor refuses
  rc4-hmac tickets by default and ``KerberosAuthData(allow_rc4=False)`` forbids them whatever
  krb5.conf says; ``allow_rc4=True`` accepts them (Windows peers whose accounts lack AES keys).
- The ticket's enctype and its session key's enctype are both checked: an AES ticket may carry
  an rc4 session key (a KDC with a weak ``supported_enctypes`` does that).
- A subkey (the authenticator's, or the acceptor's in the AP-REP) must be of an implemented
  enctype, and never rc4-hmac unless rc4 is allowed *and* the ticket session key is rc4 itself:
  a peer may not trade the AES key negotiated with the KDC for rc4, which would put every
  per-message token under RFC 4757 (a downgrade the KDC never agreed to).

Refusals raise :class:`~opensspi.errors.AlgorithmMismatch` (``SEC_E_ALGORITHM_MISMATCH``); a
subkey of an unknown enctype is a malformed token (``SEC_E_INVALID_TOKEN``).
"""

from __future__ import annotations

from ...errors import AlgorithmMismatch, InvalidParameter, InvalidToken
from .asn1 import EncryptionKey
from .crypto import SUPPORTED, Key, enctype_name

__all__ = ["RC4_HMAC", "check_ticket_enctypes", "peer_subkey"]

RC4_HMAC = 23


def check_ticket_enctypes(allow_rc4: bool, ticket_etype: int, session_etype: int) -> None:
    """Refuse a ticket encrypted with, or carrying a session key of, rc4-hmac unless allowed.

    Raises:
        AlgorithmMismatch: rc4-hmac is not allowed for this credential.
    """
    if allow_rc4:
        return
    for what, etype in (("ticket", ticket_etype), ("session key", session_etype)):
        if etype == RC4_HMAC:
            raise AlgorithmMismatch(
                f"The service {what} is rc4-hmac (23), which this acceptor does not allow; give "
                "the service account AES keys (msDS-SupportedEncryptionTypes), or set "
                "KerberosAuthData(allow_rc4=True) / allow_rc4 = true to accept it."
            )


def peer_subkey(allow_rc4: bool, session: Key, subkey: EncryptionKey, where: str) -> Key:
    """The subkey a peer sent (``where``: "authenticator" or "AP-REP"), once checked.

    Raises:
        InvalidToken: an enctype this library does not implement, or a key of the wrong size.
        AlgorithmMismatch: rc4-hmac when rc4 is not allowed or the session key is not rc4.
    """
    if subkey.keytype not in SUPPORTED:
        raise InvalidToken(
            f"The {where} subkey has enctype {subkey.keytype}, which is not implemented."
        )
    if subkey.keytype == RC4_HMAC and (not allow_rc4 or session.enctype != RC4_HMAC):
        raise AlgorithmMismatch(
            f"The {where} subkey is rc4-hmac but the ticket session key is "
            f"{enctype_name(session.enctype)}"
            + ("" if allow_rc4 else " and rc4 is not allowed")
            + ": the peer tried to weaken the per-message protection; refused."
        )
    try:
        return Key(subkey.keytype, subkey.keyvalue)
    except InvalidParameter as exc:
        raise InvalidToken(f"The {where} subkey is unusable: {exc.message}") from None
