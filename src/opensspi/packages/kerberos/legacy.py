"""Legacy Kerberos crypto: rc4-hmac (RFC 4757) and its RFC 1964-style GSS-API tokens.

RFC 4757 "The RC4-HMAC Kerberos Encryption Types Used by Microsoft Windows", sections 3
(key usage translation), 4 (basic operations: string-to-key, encryption, the HMAC-MD5
checksum) and 7 (GSS-API per-message tokens, whose layout is RFC 1964 section 1.2 with the
algorithm numbers of RFC 4757 section 7.1), read with the RFC 4757 errata: the sequence number
that keys ``Kcrypt`` is big-endian, and the Wrap checksum also covers the confounder.
https://www.rfc-editor.org/rfc/rfc4757, https://www.rfc-editor.org/rfc/rfc1964

Rules of this module: everything here is weak (RC4, MD4, MD5, unsalted keys, 64-bit token
checksums) and exists only for peers that cannot do better; RFC 8429 deprecates it. ``crypto.py``
dispatches enctype 23 here; the Kerberos package reaches it only through an explicit, typed
``allow_rc4``-style option, never by default. Functions take raw key bytes, except the GSS token
functions, which take a :class:`~opensspi.packages.kerberos.crypto.Key` of enctype 23. Nothing
here keeps state, reads a clock or draws randomness except a default confounder.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from cryptography.hazmat.decrepit.ciphers.algorithms import ARC4
from cryptography.hazmat.primitives import constant_time, hashes
from cryptography.hazmat.primitives.ciphers import Cipher
from cryptography.hazmat.primitives.hmac import HMAC

from ...crypto.md4 import md4
from ...errors import DecodeError, InvalidParameter, MessageAltered

if TYPE_CHECKING:
    from .crypto import Key

__all__ = [
    "CHECKSUM_SIZE",
    "CONFOUNDER_SIZE",
    "KEY_SIZE",
    "KRB5_OID_DER",
    "PRF_SIZE",
    "SEAL_ALG_NONE",
    "SEAL_ALG_RC4",
    "SGN_ALG_HMAC_MD5",
    "TOK_ID_MIC",
    "TOK_ID_WRAP",
    "frame_token",
    "hmac_md5_checksum",
    "rc4_gss_get_mic",
    "rc4_gss_kcrypt",
    "rc4_gss_kseq",
    "rc4_gss_ksign",
    "rc4_gss_unwrap",
    "rc4_gss_unwrap_iov",
    "rc4_gss_verify_mic",
    "rc4_gss_wrap",
    "rc4_gss_wrap_iov",
    "rc4_hmac_decrypt",
    "rc4_hmac_encrypt",
    "rc4_hmac_prf",
    "rc4_hmac_string_to_key",
    "rsa_md5",
    "translate_usage",
    "unframe_token",
]

KEY_SIZE = 16
CONFOUNDER_SIZE = 8  # RFC 4757 section 4: "add_8_random_bytes"
CHECKSUM_SIZE = 16  # HMAC-MD5, cksumtype -138
PRF_SIZE = 20  # HMAC-SHA1, as MIT krb5's krb5int_arcfour_prf computes it

#: RFC 2743 section 3.1 / RFC 1964 section 1.1: the krb5 mechanism OID 1.2.840.113554.1.2.2 as a
#: complete DER TLV, which follows the 0x60 application tag of every rc4 GSS token.
KRB5_OID_DER = bytes.fromhex("06092a864886f712010202")
#: RFC 1964 section 1.2.1 / 1.2.2 token identifiers, as they appear on the wire.
TOK_ID_MIC = b"\x01\x01"
TOK_ID_WRAP = b"\x02\x01"
#: RFC 4757 section 7.1: SGN_ALG 0x0011 (HMAC-MD5) and SEAL_ALG 0x0010 (RC4), little-endian as
#: RFC 1964 writes its algorithm fields; 0xFFFF means "not sealed".
SGN_ALG_HMAC_MD5 = b"\x11\x00"
SEAL_ALG_RC4 = b"\x10\x00"
SEAL_ALG_NONE = b"\xff\xff"

_SIGNATURE_KEY = b"signaturekey\x00"  # RFC 4757 section 4: "includes zero octet at end"
_MIC_HEADER = TOK_ID_MIC + SGN_ALG_HMAC_MD5 + b"\xff\xff\xff\xff"
_WRAP_HEADER_SEALED = TOK_ID_WRAP + SGN_ALG_HMAC_MD5 + SEAL_ALG_RC4 + b"\xff\xff"
_WRAP_HEADER_PLAIN = TOK_ID_WRAP + SGN_ALG_HMAC_MD5 + SEAL_ALG_NONE + b"\xff\xff"
_MIC_BODY_SIZE = 24  # header(8) | SND_SEQ(8) | SGN_CKSUM(8)
_WRAP_FIXED_SIZE = 32  # header(8) | SND_SEQ(8) | SGN_CKSUM(8) | Confounder(8)
_GSS_CKSUM_SIZE = 8
_MIC_USAGE = (15).to_bytes(4, "little")  # RFC 4757 section 7.2: "(int32)15"
_WRAP_USAGE = (13).to_bytes(4, "little")  # RFC 4757 section 7.3: "(int32)13"
_ZERO_LE32 = bytes(4)
_DIRECTION_INITIATOR = b"\x00\x00\x00\x00"
_DIRECTION_ACCEPTOR = b"\xff\xff\xff\xff"
_MAX_PAD = 8
_MD5 = hashes.MD5()
_SHA1 = hashes.SHA1()

# RFC 4757 section 3: the message types Windows uses in place of the RFC 4120 key usages that
# differ; every other usage is used as it is. Usage 9 stays 9 (see translate_usage).
_USAGE_TRANSLATION = {3: 8, 23: 13}


def _hmac_md5(key: bytes, data: bytes) -> bytes:
    mac = HMAC(key, _MD5)
    mac.update(data)
    return mac.finalize()


def _md5(*parts: bytes) -> bytes:
    digest = hashes.Hash(_MD5)
    for part in parts:
        digest.update(part)
    return digest.finalize()


def _rc4(key: bytes, data: bytes) -> bytes:
    return Cipher(ARC4(key), mode=None).encryptor().update(data)


def _check_key(key: bytes) -> None:
    if len(key) != KEY_SIZE:
        raise InvalidParameter(f"An rc4-hmac key is {KEY_SIZE} bytes, not {len(key)}.")


def _usage_le32(usage: int) -> bytes:
    if not 0 <= usage <= 0xFFFFFFFF:
        raise InvalidParameter(f"A key usage is an unsigned 32-bit number, not {usage}.")
    return translate_usage(usage).to_bytes(4, "little")


def translate_usage(usage: int) -> int:
    """Map an RFC 4120 key usage to the message type rc4-hmac keys with.

    RFC 4757 section 3 "Key Usage Values"::

        3.  AS-REP encrypted part (includes TGS session key or
            application session key), encrypted with the client key
            (T = 8)
        9.  TGS-REP encrypted part (includes application session
            key), encrypted with the TGS authenticator subkey (T = 8)
        23. ... (T = 13)

    (9 is not translated; see the Deviation below.)

    Args:
        usage: the RFC 4120 / RFC 4121 key usage number.

    Deviation: the RFC's table maps usage 9 (TGS-REP encrypted part under the TGS
    authenticator subkey) to 8 as well, but no implementation does: Windows KDCs and clients,
    Samba's (Heimdal) KDC and MIT krb5 (``krb5int_arcfour_translate_usage``: ``case 9: return
    9; /* tgs-rep encrypted with subkey */``) all key that reply with 9. Mapping it to 8 made
    every TGS-REP under an rc4-hmac TGT with a subkey undecryptable against AD.

    Returns:
        ``T``: 8 for usage 3, 13 for usage 23, otherwise ``usage`` itself (9 included).
    """
    return _USAGE_TRANSLATION.get(usage, usage)


def rc4_hmac_string_to_key(password: str | bytes) -> bytes:
    """Derive the rc4-hmac key of a password: the NT hash.

    RFC 4757 section 4 "Basic Operations"::

        String2Key(password)
        K = MD4(UNICODE(password))

    Args:
        password: the password; ``bytes`` are taken as UTF-8, as MIT krb5 does.

    Returns:
        The 16-byte key. The salt and string-to-key parameters play no part.

    Raises:
        InvalidParameter: ``password`` is bytes but not valid UTF-8.
    """
    if isinstance(password, bytes):
        try:
            password = password.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidParameter(
                "An rc4-hmac password given as bytes must be UTF-8; pass it as str."
            ) from None
    return md4(password.encode("utf-16-le", "surrogatepass"))


def rc4_hmac_encrypt(key: bytes, usage: int, plaintext: bytes, confounder: bytes) -> bytes:
    """Encrypt with rc4-hmac (enctype 23): checksum, then RC4 under a checksum-derived key.

    RFC 4757 section 4 "Basic Operations" (the non-export branch)::

        ENCRYPT (K, fRC4_EXP, T, data, data_len, edata, edata_len)
        {
            HMAC (K, &T, 4, K1);
            memcpy (K2, K1, 16);
            add_8_random_bytes(data, data_len, conf_plus_data);
            HMAC (K2, conf_plus_data, 8 + data_len, checksum);
            HMAC (K1, checksum, 16, K3);
            RC4(K3, conf_plus_data, 8 + data_len, edata + 16);
            memcpy (edata, checksum, 16);
            edata_len = 16 + 8 + data_len;
        }

    Args:
        key: the 16-byte key.
        usage: the RFC 4120 key usage; translated with :func:`translate_usage`.
        plaintext: the message.
        confounder: the 8 random bytes.

    Returns:
        ``checksum(16) | RC4(conf | plaintext)``.

    Raises:
        InvalidParameter: a key, usage or confounder of the wrong size.
    """
    _check_key(key)
    if len(confounder) != CONFOUNDER_SIZE:
        raise InvalidParameter(
            f"An rc4-hmac confounder is {CONFOUNDER_SIZE} bytes, not {len(confounder)}."
        )
    k1 = _hmac_md5(key, _usage_le32(usage))
    conf_plus_data = confounder + plaintext
    checksum = _hmac_md5(k1, conf_plus_data)
    k3 = _hmac_md5(k1, checksum)
    return checksum + _rc4(k3, conf_plus_data)


def rc4_hmac_decrypt(key: bytes, usage: int, ciphertext: bytes) -> bytes:
    """Decrypt and check an rc4-hmac ciphertext.

    RFC 4757 section 4 "Basic Operations" (the non-export branch)::

        DECRYPT (K, fRC4_EXP, T, edata, edata_len, data, data_len)
        {
            HMAC (K, &T, 4, K1);
            memcpy (K2, K1, 16);
            HMAC (K1, edata, 16, K3); // checksum is at edata
            RC4(K3, edata + 16, edata_len - 16, edata + 16);
            data_len = edata_len - 16 - 8;
            memcpy (data, edata + 16 + 8, data_len);

            // verify generated and received checksums
            HMAC (K2, edata + 16, edata_len - 16, checksum);
            if (memcmp(edata, checksum, 16) != 0)
                printf("CHECKSUM ERROR  !!!!!!\\n");
        }

    Args:
        key: the 16-byte key.
        usage: the RFC 4120 key usage; translated with :func:`translate_usage`.
        ciphertext: ``checksum | RC4(conf | plaintext)``.

    Returns:
        The plaintext, without the confounder.

    Raises:
        DecodeError: the ciphertext is shorter than checksum and confounder (24 bytes).
        MessageAltered: the checksum does not match (wrong key, usage or a changed message).
    """
    _check_key(key)
    ciphertext = bytes(ciphertext)
    if len(ciphertext) < CHECKSUM_SIZE + CONFOUNDER_SIZE:
        raise DecodeError(
            f"An rc4-hmac ciphertext is at least {CHECKSUM_SIZE + CONFOUNDER_SIZE} bytes; "
            f"this one has {len(ciphertext)}."
        )
    k1 = _hmac_md5(key, _usage_le32(usage))
    checksum = ciphertext[:CHECKSUM_SIZE]
    k3 = _hmac_md5(k1, checksum)
    conf_plus_data = _rc4(k3, ciphertext[CHECKSUM_SIZE:])
    if not constant_time.bytes_eq(_hmac_md5(k1, conf_plus_data), checksum):
        raise MessageAltered(
            f"The rc4-hmac checksum does not match (key usage {usage}): the message was "
            "changed, or the key or usage is wrong."
        )
    return conf_plus_data[CONFOUNDER_SIZE:]


def hmac_md5_checksum(key: bytes, usage: int, data: bytes) -> bytes:
    """Compute the HMAC-MD5 checksum (cksumtype -138) that rc4-hmac keys make.

    RFC 4757 section 4 "Basic Operations"::

        Ksign = HMAC(Key, "signaturekey");  //includes zero octet at end
        tmp = MD5(concat(T, data));
        CHKSUM = HMAC(Ksign, tmp);

    Args:
        key: the 16-byte key (any key length works; 16 is the only one used).
        usage: the RFC 4120 key usage; ``T`` is its translation, little-endian.
        data: the message.

    Returns:
        The 16-byte checksum.

    Raises:
        InvalidParameter: a usage outside 0..2**32-1.
    """
    ksign = _hmac_md5(key, _SIGNATURE_KEY)
    return _hmac_md5(ksign, _md5(_usage_le32(usage), data))


def rsa_md5(data: bytes) -> bytes:
    """Compute the unkeyed RSA-MD5 checksum (cksumtype 7) of RFC 3961 section 6.1.3.

    It proves nothing about who sent ``data``: it exists to read old messages, never to
    authenticate them.

    Args:
        data: the message.

    Returns:
        ``MD5(data)``, 16 bytes.
    """
    return _md5(data)


def rc4_hmac_prf(key: bytes, data: bytes) -> bytes:
    """The rc4-hmac pseudo-random function: HMAC-SHA1 under the key.

    RFC 4757 defines no PRF (its IESG note says the enctype lacks some RFC 3961 operations);
    this is the one MIT krb5 (``krb5int_arcfour_prf``) and Heimdal compute::

        PRF = HMAC-SHA1(K, octet-string)

    Args:
        key: the 16-byte key.
        data: the PRF input.

    Returns:
        20 bytes.
    """
    mac = HMAC(key, _SHA1)
    mac.update(data)
    return mac.finalize()


# --- RFC 4757 section 7: GSS-API per-message tokens ---------------------------------------------


def _gss_key(key: Key) -> bytes:
    if key.enctype != 23:
        raise InvalidParameter(
            f"RFC 4757 GSS tokens need an rc4-hmac (23) key, not enctype {int(key.enctype)}."
        )
    _check_key(key.contents)
    return key.contents


def _check_seq(seq: int) -> bytes:
    if not 0 <= seq <= 0xFFFFFFFF:
        raise InvalidParameter(
            f"An RFC 4757 sequence number is an unsigned 32-bit number, not {seq}."
        )
    return seq.to_bytes(4, "big")


def frame_token(inner: bytes) -> bytes:
    """Wrap a token body in the RFC 2743 section 3.1 framing with the krb5 OID.

    RFC 2743 section 3.1 "Mechanism-Independent Token Format"::

        InitialContextToken ::=
        [APPLICATION 0] IMPLICIT SEQUENCE {
                thisMech MechType,
                innerContextToken ANY DEFINED BY thisMech
        }

    RFC 1964 (and so RFC 4757 section 7) frames every token this way, per-message ones
    included.

    Args:
        inner: TOK_ID and the rest of the token body.

    Returns:
        ``0x60 | DER length | 06 09 2a864886f712010202 | inner``.
    """
    content = KRB5_OID_DER + inner
    n = len(content)
    if n < 0x80:
        length = bytes((n,))
    else:
        size = (n.bit_length() + 7) // 8
        length = bytes((0x80 | size,)) + n.to_bytes(size, "big")
    return b"\x60" + length + content


def unframe_token(token: bytes) -> bytes:
    """Strip the RFC 2743 section 3.1 framing and check that the OID is krb5.

    Args:
        token: a framed token, exactly (no trailing bytes).

    Returns:
        The inner token: TOK_ID and the rest of the body.

    Raises:
        DecodeError: not 0x60-framed, a bad or non-minimal DER length, a length that does not
            match the token, or a mechanism other than 1.2.840.113554.1.2.2.
    """
    token = bytes(token)
    if len(token) < 2 or token[0] != 0x60:
        raise DecodeError("An RFC 1964 token starts with 0x60 (RFC 2743 section 3.1).")
    first = token[1]
    if first < 0x80:
        length, offset = first, 2
    else:
        size = first & 0x7F
        if not 1 <= size <= 4 or len(token) < 2 + size:
            raise DecodeError("The token's DER length field is malformed.")
        length = int.from_bytes(token[2 : 2 + size], "big")
        offset = 2 + size
        if length < 0x80 or token[2] == 0:
            raise DecodeError("The token's DER length is not in its minimal form.")
    if length != len(token) - offset:
        raise DecodeError(
            f"The token's DER length says {length} bytes but {len(token) - offset} follow."
        )
    if token[offset : offset + len(KRB5_OID_DER)] != KRB5_OID_DER:
        raise DecodeError("The token is not for the Kerberos mechanism 1.2.840.113554.1.2.2.")
    return token[offset + len(KRB5_OID_DER) :]


def rc4_gss_ksign(key: Key) -> bytes:
    """``Ksign``, the key of every RFC 4757 token checksum.

    RFC 4757 section 7.2 "GSS-API MIC Semantics"::

        Ksign = HMAC(Kss, "signaturekey");

    Args:
        key: the context key (session key or subkey), enctype 23.

    Returns:
        16 bytes.
    """
    return _hmac_md5(_gss_key(key), _SIGNATURE_KEY)


def rc4_gss_kseq(key: Key, sgn_cksum: bytes) -> bytes:
    """``Kseq``, the RC4 key that encrypts a token's SND_SEQ.

    RFC 4757 section 7.2 "GSS-API MIC Semantics"::

        Kseq = HMAC(Kss, (int32)0);
        Kseq = HMAC(Kseq, Token.SGN_CKSUM);
        RC4(Kseq, Token.SND_SEQ);

    Args:
        key: the context key, enctype 23.
        sgn_cksum: the token's 8-byte SGN_CKSUM.

    Returns:
        16 bytes.
    """
    return _hmac_md5(_hmac_md5(_gss_key(key), _ZERO_LE32), sgn_cksum)


def rc4_gss_kcrypt(key: Key, seq: int) -> bytes:
    """``Kcrypt``, the RC4 key that seals a Wrap token's confounder and data.

    RFC 4757 section 7.3 "GSS-API WRAP Semantics"::

        for (i = 0; i < 16; i++) Klocal[i] = Kss[i] ^ 0xF0;
        Kcrypt = HMAC(Klocal, (int32)0);
        Kcrypt = HMAC(Kcrypt, (int32)seq);

    Deviation: ``(int32)seq`` is big-endian (RFC 4757 errata; MIT krb5 builds it as
    ``bigend_seqnum``, and Windows and impacket agree), unlike ``(int32)0`` and the usage
    numbers, which are little-endian.

    Args:
        key: the context key, enctype 23.
        seq: the token's sequence number.

    Returns:
        16 bytes.
    """
    klocal = bytes(b ^ 0xF0 for b in _gss_key(key))
    return _hmac_md5(_hmac_md5(klocal, _ZERO_LE32), _check_seq(seq))


def _sgn_cksum(ksign: bytes, usage: bytes, *parts: bytes) -> bytes:
    return _hmac_md5(ksign, _md5(usage, *parts))[:_GSS_CKSUM_SIZE]


def _direction(initiator: bool) -> bytes:
    return _DIRECTION_INITIATOR if initiator else _DIRECTION_ACCEPTOR


def _open_seq(key: Key, snd_seq: bytes, sgn_cksum: bytes, initiator_sent: bool) -> int:
    plain = _rc4(rc4_gss_kseq(key, sgn_cksum), snd_seq)
    if not constant_time.bytes_eq(plain[4:], _direction(initiator_sent)):
        # RFC 1964 section 1.2.1.2: the direction bytes stop a token from being reflected
        # back to its sender.
        raise MessageAltered(
            "The token's direction bytes do not match its sender: it was reflected, or the "
            "roles (initiator/acceptor) are swapped."
        )
    return int.from_bytes(plain[:4], "big")


def rc4_gss_get_mic(key: Key, seq: int, message: bytes, initiator: bool) -> bytes:
    """Build an RFC 4757 MIC token (TOK_ID 01 01, SGN_ALG 0x0011), framed as MIT sends it.

    RFC 4757 section 7.2 "GSS-API MIC Semantics" (the header is RFC 1964 section 1.2.1:
    TOK_ID, SGN_ALG, Filler = FF FF FF FF, SND_SEQ, SGN_CKSUM)::

        Ksign = HMAC(Kss, "signaturekey");
        Sgn_Cksum = MD5((int32)15, Token.Header, data);
        Sgn_Cksum = HMAC(Ksign, Sgn_Cksum);
        memcpy(Token.SGN_CKSUM, Sgn_Cksum, 8);

        Kseq = HMAC(Kss, (int32)0);
        Kseq = HMAC(Kseq, Token.SGN_CKSUM);
        RC4(Kseq, Token.SND_SEQ);

    SND_SEQ before encryption is the sequence number big-endian, then four direction bytes:
    00 00 00 00 from the initiator, FF FF FF FF from the acceptor (RFC 1964 section 1.2.1.2).

    Args:
        key: the context key, enctype 23.
        seq: the sender's sequence number (0..2**32-1).
        message: the data the MIC covers.
        initiator: whether the context initiator sends this token.

    Returns:
        The 37-byte framed token.

    Raises:
        InvalidParameter: a key that is not rc4-hmac, or a sequence number out of range.
    """
    seq_bytes = _check_seq(seq)
    cksum = _sgn_cksum(rc4_gss_ksign(key), _MIC_USAGE, _MIC_HEADER, message)
    snd_seq = _rc4(rc4_gss_kseq(key, cksum), seq_bytes + _direction(initiator))
    return frame_token(_MIC_HEADER + snd_seq + cksum)


def rc4_gss_verify_mic(key: Key, token: bytes, message: bytes, initiator_sent: bool) -> int:
    """Check an RFC 4757 MIC token against ``message`` and return its sequence number.

    RFC 4757 section 7.2 "GSS-API MIC Semantics"::

        Ksign = HMAC(Kss, "signaturekey");
        Sgn_Cksum = MD5((int32)15, Token.Header, data);
        Sgn_Cksum = HMAC(Ksign, Sgn_Cksum);
        memcpy(Token.SGN_CKSUM, Sgn_Cksum, 8);

    The receiver recomputes SGN_CKSUM, then decrypts SND_SEQ with ``Kseq`` and checks the
    direction bytes. Replay and ordering checks are the caller's.

    Args:
        key: the context key, enctype 23.
        token: the framed MIC token.
        message: the data it should cover.
        initiator_sent: whether the context initiator sent the token.

    Returns:
        The token's sequence number.

    Raises:
        DecodeError: not an RFC 4757 MIC token (framing, TOK_ID, SGN_ALG, filler or size).
        MessageAltered: the checksum or the direction bytes do not match.
    """
    body = unframe_token(token)
    if len(body) != _MIC_BODY_SIZE:
        raise DecodeError(f"An RFC 4757 MIC token body is 24 bytes, not {len(body)}.")
    if body[:8] != _MIC_HEADER:
        raise DecodeError(
            "Not an RFC 4757 MIC token: expected TOK_ID 01 01, SGN_ALG 11 00 (HMAC-MD5) and "
            "filler FF FF FF FF."
        )
    snd_seq, cksum = body[8:16], body[16:24]
    expected = _sgn_cksum(rc4_gss_ksign(key), _MIC_USAGE, _MIC_HEADER, message)
    if not constant_time.bytes_eq(expected, cksum):
        raise MessageAltered(
            "The MIC does not match the message: the message was changed or the key is wrong."
        )
    return _open_seq(key, snd_seq, cksum, initiator_sent)


def rc4_gss_wrap(
    key: Key,
    seq: int,
    message: bytes,
    initiator: bool,
    encrypt: bool,
    confounder: bytes | None = None,
) -> bytes:
    """Build an RFC 4757 Wrap token (TOK_ID 02 01), framed and padded as MIT krb5 emits it.

    RFC 4757 section 7.3 "GSS-API WRAP Semantics" (errata applied: the checksum covers the
    confounder, and ``(int32)seq`` is big-endian)::

        Ksign = HMAC(Kss, "signaturekey");
        Sgn_Cksum = MD5((int32)13, Token.Header, Token.Confounder, data);
        Sgn_Cksum = HMAC(Ksign, Sgn_Cksum);
        memcpy(Token.SGN_CKSUM, Sgn_Cksum, 8);

        for (i = 0; i < 16; i++) Klocal[i] = Kss[i] ^ 0xF0;
        Kcrypt = HMAC(Klocal, (int32)0);
        Kcrypt = HMAC(Kcrypt, (int32)seq);
        RC4(Kcrypt, Token.Confounder);
        RC4(Kcrypt, data);

        Kseq = HMAC(Kss, (int32)0);
        Kseq = HMAC(Kseq, Token.SGN_CKSUM);
        RC4(Kseq, Token.SND_SEQ);

    The header is TOK_ID, SGN_ALG 11 00, SEAL_ALG (10 00 sealed, FF FF integrity only) and
    filler FF FF; then SND_SEQ, SGN_CKSUM, the 8-byte confounder and the padded data. RC4
    runs as one stream over confounder and data.

    Deviation: ``data`` is the message plus one pad byte 0x01, the RFC 1964 section 1.2.2.3
    padding with RC4's block size of 1, as MIT krb5 pads (``SEAL_ALG_MICROSOFT_RC4``: ``pad =
    1``). An integrity-only token still carries the (clear) confounder, as MIT sends it.

    Args:
        key: the context key, enctype 23.
        seq: the sender's sequence number (0..2**32-1).
        message: the data to protect.
        initiator: whether the context initiator sends this token.
        encrypt: seal (SEAL_ALG 0x0010) or integrity only (0xFFFF).
        confounder: 8 bytes; random when ``None``.

    Returns:
        The framed token: 0x60 header, krb5 OID, the 32-byte token header and the data.

    Raises:
        InvalidParameter: a key that is not rc4-hmac, a sequence number out of range or a
            confounder that is not 8 bytes.
    """
    head, parts, pad = rc4_gss_wrap_iov(key, seq, ((message, True),), initiator, encrypt,
                                        confounder)
    return head + parts[0] + pad


def rc4_gss_wrap_iov(
    key: Key,
    seq: int,
    parts: Sequence[tuple[bytes, bool]],
    initiator: bool,
    encrypt: bool,
    confounder: bytes | None = None,
) -> tuple[bytes, list[bytes], bytes]:
    """:func:`rc4_gss_wrap` over DATA and SIGN_ONLY buffers, as MIT krb5's
    ``gss_wrap_iov(HEADER, DATA..., SIGN_ONLY..., PADDING)`` makes an RFC 4757 token.

    RFC 4757 section 7.3 has no sign-only data; MIT's ``make_seal_token_v1_iov`` extends it
    the natural way, and so does this function (checked against MIT krb5 1.20)::

        Sgn_Cksum = MD5((int32)13, Token.Header, Token.Confounder,
                        every buffer in order (DATA and SIGN_ONLY), padding);
        RC4(Kcrypt, Token.Confounder | the DATA buffers | padding);   SIGN_ONLY stays clear

    The framing length (RFC 2743 section 3.1) counts the token header, the DATA buffers and the
    padding, not the sign-only buffers, which are not part of the token.

    Args:
        parts: ``(bytes, encrypted)`` per buffer in order: True for DATA, False for SIGN_ONLY.

    Returns:
        ``(header, parts, padding)``: the framed token up to the confounder (the TOKEN buffer),
        each buffer (DATA encrypted when ``encrypt``, SIGN_ONLY unchanged) and the one pad byte.

    Raises:
        InvalidParameter: as :func:`rc4_gss_wrap`.
    """
    seq_bytes = _check_seq(seq)
    if confounder is None:
        confounder = os.urandom(CONFOUNDER_SIZE)
    elif len(confounder) != CONFOUNDER_SIZE:
        raise InvalidParameter(
            f"An RFC 4757 Wrap confounder is {CONFOUNDER_SIZE} bytes, not {len(confounder)}."
        )
    header = _WRAP_HEADER_SEALED if encrypt else _WRAP_HEADER_PLAIN
    pad = b"\x01"
    cksum = _sgn_cksum(rc4_gss_ksign(key), _WRAP_USAGE, header, confounder,
                       *(data for data, _ in parts), pad)
    snd_seq = _rc4(rc4_gss_kseq(key, cksum), seq_bytes + _direction(initiator))
    data = b"".join(d for d, encrypted in parts if encrypted)
    payload = confounder + data + pad
    if encrypt:
        payload = _rc4(rc4_gss_kcrypt(key, seq), payload)
    token = frame_token(b"".join((header, snd_seq, cksum, payload)))
    body = len(data) + len(pad)
    head, stream = token[:-body], token[-body:]
    out: list[bytes] = []
    pos = 0
    for value, encrypted in parts:
        if encrypted:
            out.append(stream[pos : pos + len(value)])
            pos += len(value)
        else:
            out.append(value)
    return head, out, stream[pos:]


def rc4_gss_unwrap(key: Key, token: bytes, initiator_sent: bool) -> tuple[bytes, int, bool]:
    """Open an RFC 4757 Wrap token: decrypt if sealed, check it, strip the padding.

    RFC 4757 section 7.3 "GSS-API WRAP Semantics"::

        Kseq = HMAC(Kss, (int32)0);
        Kseq = HMAC(Kseq, Token.SGN_CKSUM);
        RC4(Kseq, Token.SND_SEQ);

        for (i = 0; i < 16; i++) Klocal[i] = Kss[i] ^ 0xF0;
        Kcrypt = HMAC(Klocal, (int32)0);
        Kcrypt = HMAC(Kcrypt, (int32)seq);
        RC4(Kcrypt, Token.Confounder);
        RC4(Kcrypt, data);

        Sgn_Cksum = MD5((int32)13, Token.Header, Token.Confounder, data);
        Sgn_Cksum = HMAC(Ksign, Sgn_Cksum);

    The sequence number comes first: ``Kcrypt`` depends on it. The checksum is then compared
    with SGN_CKSUM, the direction bytes with the sender's role, and the padding removed.

    Deviation: any pad length 1..8 is accepted (RFC 1964 section 1.2.2.3 pads to 8-byte
    blocks, MIT pads with one byte); the pad bytes' values are covered by the checksum and
    not checked again, as MIT krb5's unseal does not check them.

    Args:
        key: the context key, enctype 23.
        token: the framed Wrap token.
        initiator_sent: whether the context initiator sent the token.

    Returns:
        ``(message, seq, encrypted)``.

    Raises:
        DecodeError: not an RFC 4757 Wrap token (framing, TOK_ID, SGN_ALG, SEAL_ALG, filler,
            size) or a bad pad length.
        MessageAltered: the checksum or the direction bytes do not match.
    """
    body = unframe_token(token)
    if len(body) < _WRAP_FIXED_SIZE + 1:
        raise DecodeError(
            f"An RFC 4757 Wrap token body is at least {_WRAP_FIXED_SIZE + 1} bytes; this one "
            f"has {len(body)}."
        )
    header = body[:8]
    if header == _WRAP_HEADER_SEALED:
        encrypted = True
    elif header == _WRAP_HEADER_PLAIN:
        encrypted = False
    else:
        raise DecodeError(
            "Not an RFC 4757 Wrap token: expected TOK_ID 02 01, SGN_ALG 11 00 (HMAC-MD5), "
            "SEAL_ALG 10 00 (RC4) or FF FF (none) and filler FF FF."
        )
    snd_seq, cksum, payload = body[8:16], body[16:24], body[24:]
    seq_plain = _rc4(rc4_gss_kseq(key, cksum), snd_seq)
    seq = int.from_bytes(seq_plain[:4], "big")
    if encrypted:
        payload = _rc4(rc4_gss_kcrypt(key, seq), payload)
    confounder, data = payload[:CONFOUNDER_SIZE], payload[CONFOUNDER_SIZE:]
    expected = _sgn_cksum(rc4_gss_ksign(key), _WRAP_USAGE, header, confounder, data)
    if not constant_time.bytes_eq(expected, cksum):
        raise MessageAltered(
            "The Wrap token's checksum does not match: the token was changed or the key is wrong."
        )
    if not constant_time.bytes_eq(seq_plain[4:], _direction(initiator_sent)):
        raise MessageAltered(
            "The token's direction bytes do not match its sender: it was reflected, or the "
            "roles (initiator/acceptor) are swapped."
        )
    pad = data[-1]
    if not 1 <= pad <= min(_MAX_PAD, len(data)):
        raise DecodeError(f"The Wrap token's pad length {pad} is not between 1 and 8.")
    return data[:-pad], seq, encrypted


def rc4_gss_unwrap_iov(
    key: Key, token: bytes, parts: Sequence[tuple[bytes, bool]], initiator_sent: bool
) -> tuple[bytes, int, bool]:
    """Open an RFC 4757 Wrap token made by :func:`rc4_gss_wrap_iov` (or MIT's
    ``gss_wrap_iov``) with SIGN_ONLY buffers.

    ``token`` is the TOKEN buffer (the framed header and confounder); ``parts`` are the message
    buffers in order, ``(bytes, True)`` for DATA and ``(bytes, False)`` for SIGN_ONLY. The pad
    byte(s) come at the end of the last DATA buffer, as MIT's ``kg_fixup_padding_iov`` takes
    them: the framing length covers the header, the DATA buffers and the padding.

    Returns:
        ``(message, seq, encrypted)``: the DATA buffers' plaintext without the padding.

    Raises:
        DecodeError: as :func:`rc4_gss_unwrap`.
        MessageAltered: the checksum (over every DATA and SIGN_ONLY buffer in order, then the
            padding) or the direction bytes do not match.
    """
    data_parts = [value for value, encrypted in parts if encrypted]
    body = unframe_token(bytes(token) + b"".join(data_parts))
    if len(body) < _WRAP_FIXED_SIZE + 1:
        raise DecodeError(
            f"An RFC 4757 Wrap token body is at least {_WRAP_FIXED_SIZE + 1} bytes; this one "
            f"has {len(body)}."
        )
    header = body[:8]
    if header not in (_WRAP_HEADER_SEALED, _WRAP_HEADER_PLAIN):
        raise DecodeError(
            "Not an RFC 4757 Wrap token: expected TOK_ID 02 01, SGN_ALG 11 00 (HMAC-MD5), "
            "SEAL_ALG 10 00 (RC4) or FF FF (none) and filler FF FF."
        )
    encrypted = header == _WRAP_HEADER_SEALED
    snd_seq, cksum, payload = body[8:16], body[16:24], body[24:]
    seq_plain = _rc4(rc4_gss_kseq(key, cksum), snd_seq)
    seq = int.from_bytes(seq_plain[:4], "big")
    if encrypted:
        payload = _rc4(rc4_gss_kcrypt(key, seq), payload)
    confounder, data = payload[:CONFOUNDER_SIZE], payload[CONFOUNDER_SIZE:]
    pad = data[-1]
    if not 1 <= pad <= min(_MAX_PAD, len(data)):
        raise DecodeError(f"The Wrap token's pad length {pad} is not between 1 and 8.")
    message = data[:-pad]
    signed: list[bytes] = []
    if all(enc for _, enc in parts):
        signed.append(message)
    else:
        if sum(len(v) for v in data_parts) != len(data):
            raise DecodeError(
                "With sign-only buffers the TOKEN buffer must end at the confounder and the "
                "DATA buffers hold the data (the last one ending with the padding)."
            )
        pos = 0
        for value, enc in parts:
            if enc:
                end = min(pos + len(value), len(message))
                signed.append(message[pos:end] if pos < end else b"")
                pos += len(value)
            else:
                signed.append(value)
    expected = _sgn_cksum(rc4_gss_ksign(key), _WRAP_USAGE, header, confounder, *signed,
                          data[len(message) :])
    if not constant_time.bytes_eq(expected, cksum):
        raise MessageAltered(
            "The Wrap token's checksum does not match: a DATA or sign-only buffer was changed, "
            "or the key is wrong."
        )
    if not constant_time.bytes_eq(seq_plain[4:], _direction(initiator_sent)):
        raise MessageAltered(
            "The token's direction bytes do not match its sender: it was reflected, or the "
            "roles (initiator/acceptor) are swapped."
        )
    return message, seq, encrypted
