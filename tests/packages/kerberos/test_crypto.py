"""Kerberos cryptosystems: published vectors, real MIT tokens, round trips and tampering.

Published values live in ``tests/vectors/kerberos/*.json`` (RFC 3961 A.1, RFC 3962 Appendix B,
RFC 8009 Appendix A), each entry naming its source. MIT krb5 tokens with their session keys live
in ``tests/vectors/peers/mit/gss-<etype>.json`` (regenerate with ``make_crypto_vectors.py``
there); every one must decrypt or verify here and rebuild byte for byte.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opensspi.errors import (
    AlgorithmMismatch,
    DecodeError,
    InvalidParameter,
    MessageAltered,
    SspiError,
)
from opensspi.packages.kerberos import crypto, legacy
from opensspi.packages.kerberos.crypto import (
    KC,
    KE,
    KI,
    SUPPORTED,
    Cksumtype,
    Enctype,
    Key,
    cts_decrypt,
    cts_encrypt,
    decrypt,
    derive_key,
    encrypt,
    enctype_from_name,
    enctype_name,
    make_checksum,
    nfold,
    parse_enctypes,
    prf,
    random_key,
    random_to_key,
    string_to_key,
    verify_checksum,
)

VECTORS = Path(__file__).resolve().parents[2] / "vectors"
MIT = VECTORS / "peers" / "mit"
ALL = (17, 18, 19, 20, 23)
AES = (17, 18, 19, 20)
H = bytes.fromhex


def _entries(name: str, source_prefix: str, kind: str | None = None) -> list[dict[str, Any]]:
    document = json.loads((VECTORS / "kerberos" / name).read_text(encoding="utf-8"))
    entries = document["entries"]
    for entry in entries:
        assert entry["source"].startswith(source_prefix), entry
    return [e for e in entries if kind is None or e.get("kind") == kind]


def _ids(entries: list[dict[str, Any]]) -> list[str]:
    return [str(e["name"]) for e in entries]


def _mit(etype: int) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((MIT / f"gss-{etype}.json").read_text(encoding="utf-8"))
    return document


def _key(etype: int, seed: int = 1) -> Key:
    size = crypto.profile(etype).key_size
    return Key(etype, bytes((seed + i) % 256 for i in range(size)))


# --- RFC 3961 A.1 --------------------------------------------------------------------------------

NFOLD = _entries("rfc3961-nfold.json", "RFC 3961 A.1")


@pytest.mark.parametrize("entry", NFOLD, ids=_ids(NFOLD))
def test_nfold_rfc3961(entry: dict[str, Any]) -> None:
    assert nfold(H(entry["input"]), entry["bits"]) == H(entry["output"])


def test_nfold_covers_all_eleven_vectors() -> None:
    assert len(NFOLD) == 11


def test_nfold_rejects_nonsense() -> None:
    with pytest.raises(InvalidParameter):
        nfold(b"", 64)
    with pytest.raises(InvalidParameter):
        nfold(b"x", 63)


# --- RFC 3962 Appendix B -------------------------------------------------------------------------

S2K_3962 = _entries("rfc3962.json", "RFC 3962 Appendix B", "string-to-key")
CTS_3962 = _entries("rfc3962.json", "RFC 3962 Appendix B", "cts")


@pytest.mark.parametrize("entry", S2K_3962, ids=_ids(S2K_3962))
@pytest.mark.parametrize("etype", [17, 18])
def test_string_to_key_rfc3962(entry: dict[str, Any], etype: int) -> None:
    params = entry["iterations"].to_bytes(4, "big")
    key = string_to_key(etype, H(entry["password"]), H(entry["salt"]), params)
    assert key == Key(etype, H(entry[f"key_{etype}"]))


def test_string_to_key_rfc3962_gclef_as_str() -> None:
    # The same vector with the password as text: UTF-8 is the encoding.
    entry = next(e for e in S2K_3962 if "g-clef" in e["name"])
    key = string_to_key(18, "\U0001d11e", H(entry["salt"]), (50).to_bytes(4, "big"))
    assert key.contents == H(entry["key_18"])


def test_rfc3962_vectors_cover_every_listed_case() -> None:
    assert len(S2K_3962) == 7
    assert sorted(len(H(e["input"])) for e in CTS_3962) == [17, 31, 32, 47, 48, 64]


@pytest.mark.parametrize("entry", CTS_3962, ids=_ids(CTS_3962))
def test_cts_rfc3962(entry: dict[str, Any]) -> None:
    key, plain, cipher = H(entry["key"]), H(entry["input"]), H(entry["output"])
    assert cts_encrypt(key, plain) == cipher
    assert cts_decrypt(key, cipher) == plain


@pytest.mark.parametrize("length", [16, *range(17, 70), 1000, 4096 + 5])
def test_cts_round_trip_every_tail_length(length: int) -> None:
    key = bytes(range(32))
    plain = os.urandom(length)
    cipher = cts_encrypt(key, plain)
    assert len(cipher) == length
    assert cts_decrypt(key, cipher) == plain


def test_cts_one_block_is_plain_cbc() -> None:
    entry = next(e for e in CTS_3962 if len(H(e["input"])) == 32)
    # The 32-byte vector's second output block is the CBC encryption of the first input block.
    assert cts_encrypt(H(entry["key"]), H(entry["input"])[:16]) == H(entry["output"])[16:]


def test_cts_needs_a_block() -> None:
    with pytest.raises(InvalidParameter):
        cts_encrypt(bytes(16), b"short")
    with pytest.raises(DecodeError):
        cts_decrypt(bytes(16), b"short")


def test_default_iterations() -> None:
    assert string_to_key(17, "pw", b"SALT") == string_to_key(17, "pw", b"SALT", H("00001000"))
    assert string_to_key(19, "pw", b"SALT") == string_to_key(19, "pw", b"SALT", H("00008000"))
    assert string_to_key(18, "pw", b"SALT", b"") == string_to_key(18, "pw", b"SALT")


@pytest.mark.parametrize("params", [b"\x00", b"\x00\x00\x10\x00\x00", H("00000000"), H("01000000")])
def test_bad_s2kparams(params: bytes) -> None:
    with pytest.raises(DecodeError):
        string_to_key(18, "pw", b"SALT", params)


# --- RFC 8009 Appendix A -------------------------------------------------------------------------

S2K_8009 = _entries("rfc8009.json", "RFC 8009 Appendix A", "string-to-key")
DERIVE_8009 = _entries("rfc8009.json", "RFC 8009 Appendix A", "derive")
ENCRYPT_8009 = _entries("rfc8009.json", "RFC 8009 Appendix A", "encrypt")
CHECKSUM_8009 = _entries("rfc8009.json", "RFC 8009 Appendix A", "checksum")
PRF_8009 = _entries("rfc8009.json", "RFC 8009 Appendix A", "prf")


@pytest.mark.parametrize("entry", S2K_8009, ids=_ids(S2K_8009))
def test_string_to_key_rfc8009(entry: dict[str, Any]) -> None:
    params = entry["iterations"].to_bytes(4, "big")
    key = string_to_key(entry["enctype"], H(entry["password"]), H(entry["salt"]), params)
    assert key.contents == H(entry["key"])
    # 32768 is the default iteration count of RFC 8009 section 4.
    assert string_to_key(entry["enctype"], "password", H(entry["salt"])) == key


@pytest.mark.parametrize("entry", DERIVE_8009, ids=_ids(DERIVE_8009))
def test_key_derivation_rfc8009(entry: dict[str, Any]) -> None:
    key = Key(entry["enctype"], H(entry["base_key"]))
    assert derive_key(key, entry["usage"], KC) == H(entry["kc"])
    assert derive_key(key, entry["usage"], KE) == H(entry["ke"])
    assert derive_key(key, entry["usage"], KI) == H(entry["ki"])


@pytest.mark.parametrize("entry", ENCRYPT_8009, ids=_ids(ENCRYPT_8009))
def test_encrypt_rfc8009(entry: dict[str, Any]) -> None:
    key = Key(entry["enctype"], H(entry["base_key"]))
    usage, plain, cipher = entry["usage"], H(entry["plaintext"]), H(entry["ciphertext"])
    assert derive_key(key, usage, KE) == H(entry["ke"])
    assert derive_key(key, usage, KI) == H(entry["ki"])
    assert encrypt(key, usage, plain, H(entry["confounder"])) == cipher
    assert decrypt(key, usage, cipher) == plain


@pytest.mark.parametrize("entry", CHECKSUM_8009, ids=_ids(CHECKSUM_8009))
def test_checksum_rfc8009(entry: dict[str, Any]) -> None:
    key = Key(entry["enctype"], H(entry["base_key"]))
    data, checksum = H(entry["data"]), H(entry["checksum"])
    assert derive_key(key, entry["usage"], KC) == H(entry["kc"])
    assert make_checksum(key, entry["usage"], data) == checksum
    verify_checksum(key, entry["usage"], data, checksum, entry["cksumtype"])
    assert crypto.profile(entry["enctype"]).checksum_type == entry["cksumtype"]


@pytest.mark.parametrize("entry", PRF_8009, ids=_ids(PRF_8009))
def test_prf_rfc8009(entry: dict[str, Any]) -> None:
    key = Key(entry["enctype"], H(entry["base_key"]))
    assert prf(key, H(entry["input"])) == H(entry["output"])


def test_rfc8009_vectors_cover_both_enctypes() -> None:
    for entries, count in ((S2K_8009, 2), (DERIVE_8009, 2), (CHECKSUM_8009, 2), (PRF_8009, 2)):
        assert sorted(e["enctype"] for e in entries) == [19, 20][:count]
    assert sorted(e["enctype"] for e in ENCRYPT_8009) == [19] * 4 + [20] * 4


# --- real MIT krb5 tokens ------------------------------------------------------------------------

# RFC 4121 section 2: key usages of the per-message tokens.
ACCEPTOR_SEAL, ACCEPTOR_SIGN, INITIATOR_SEAL, INITIATOR_SIGN = 22, 23, 24, 25


def _unrotate(body: bytes, rrc: int) -> bytes:
    # RFC 4121 section 4.2.5: the sender rotated right by RRC; rotate left to undo.
    rrc %= max(len(body), 1)
    return body[rrc:] + body[:rrc]


def _check_rfc4121_wrap(key: Key, token: bytes, plaintext: bytes, sender: str, conf: bool) -> int:
    """Open an RFC 4121 Wrap token with our crypto, rebuild it byte for byte, return SND_SEQ."""
    header = token[:16]
    assert header[:2] == b"\x05\x04" and header[3] == 0xFF
    flags = header[2]
    assert bool(flags & 0x01) == (sender == "acceptor")  # SentByAcceptor
    assert bool(flags & 0x02) == conf  # Sealed
    ec = int.from_bytes(header[4:6], "big")
    rrc = int.from_bytes(header[6:8], "big")
    body = _unrotate(token[16:], rrc)
    usage = ACCEPTOR_SEAL if sender == "acceptor" else INITIATOR_SEAL
    h = crypto.profile(key.enctype).checksum_size
    if conf:
        plain = decrypt(key, usage, body)
        # plaintext | EC filler bytes | a copy of the header with RRC = 0 (RFC 4121 4.2.4).
        assert plain[: len(plaintext)] == plaintext
        assert len(plain) == len(plaintext) + ec + 16
        assert plain[-16:] == header[:6] + b"\x00\x00" + header[8:]
        confounder = cts_decrypt(derive_key(key, usage, KE), body[:-h])[:16]
        assert encrypt(key, usage, plain, confounder) == body
    else:
        # Integrity only: plaintext | checksum over (plaintext | header with EC = RRC = 0),
        # with the SEAL usage (RFC 4121 4.2.4), and EC = the checksum length.
        assert ec == h
        assert body[:-ec] == plaintext
        covered = plaintext + header[:4] + bytes(4) + header[8:]
        verify_checksum(key, usage, covered, body[-ec:])
        assert make_checksum(key, usage, covered) == body[-ec:]
    return int.from_bytes(header[8:16], "big")


def _check_rfc4121_mic(key: Key, token: bytes, plaintext: bytes, sender: str) -> int:
    assert token[:2] == b"\x04\x04" and token[3:8] == b"\xff" * 5
    assert bool(token[2] & 0x01) == (sender == "acceptor")
    usage = ACCEPTOR_SIGN if sender == "acceptor" else INITIATOR_SIGN
    verify_checksum(key, usage, plaintext + token[:16], token[16:])
    assert make_checksum(key, usage, plaintext + token[:16]) == token[16:]
    return int.from_bytes(token[8:16], "big")


def _check_rc4_wrap(key: Key, token: bytes, plaintext: bytes, sender: str, conf: bool) -> int:
    initiator = sender == "initiator"
    message, seq, encrypted = legacy.rc4_gss_unwrap(key, token, initiator)
    assert message == plaintext and encrypted == conf
    # Recover the confounder (RFC 4757 7.3) and rebuild the token byte for byte.
    body = legacy.unframe_token(token)
    payload = body[24:]
    if conf:
        payload = legacy._rc4(legacy.rc4_gss_kcrypt(key, seq), payload)
    rebuilt = legacy.rc4_gss_wrap(key, seq, plaintext, initiator, conf, payload[:8])
    assert rebuilt == token
    return seq


def _check_rc4_mic(key: Key, token: bytes, plaintext: bytes, sender: str) -> int:
    initiator = sender == "initiator"
    seq = legacy.rc4_gss_verify_mic(key, token, plaintext, initiator)
    assert legacy.rc4_gss_get_mic(key, seq, plaintext, initiator) == token
    assert len(token) == 37
    return seq


@pytest.mark.parametrize("etype", ALL)
def test_mit_tokens(etype: int) -> None:
    document = _mit(etype)
    assert document["enctype"] == etype
    assert document["session_key_oid"].endswith(f"{etype:02x}")
    key = Key(etype, H(document["session_key"]))
    seqs: dict[str, list[int]] = {"initiator": [], "acceptor": []}
    counts = {"wrap": 0, "mic": 0, "wrap_iov": 0}
    for entry in document["entries"]:
        assert entry["source"].startswith("MIT krb5")
        plaintext, sender = H(entry["plaintext"]), entry["sender"]
        operation = entry["operation"]
        counts[operation] += 1
        if operation == "wrap_iov":
            token = H(entry["header"]) + H(entry["data"]) + H(entry["padding"])
            _check_rfc4121_wrap(key, token, plaintext, sender, entry["conf"])
            continue
        token = H(entry["token"])
        if etype == 23 and operation == "wrap":
            seq = _check_rc4_wrap(key, token, plaintext, sender, entry["conf"])
        elif etype == 23:
            seq = _check_rc4_mic(key, token, plaintext, sender)
        elif operation == "wrap":
            seq = _check_rfc4121_wrap(key, token, plaintext, sender, entry["conf"])
        else:
            seq = _check_rfc4121_mic(key, token, plaintext, sender)
        seqs[sender].append(seq)
    # Each side numbers its tokens consecutively from its initial sequence number.
    for numbers in seqs.values():
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    assert counts["wrap"] == 28 and counts["mic"] == 14
    assert counts["wrap_iov"] == (0 if etype == 23 else 2)


def test_mit_wrong_direction_is_rejected() -> None:
    document = _mit(23)
    key = Key(23, H(document["session_key"]))
    wrap = next(e for e in document["entries"] if e["operation"] == "wrap")
    mic = next(e for e in document["entries"] if e["operation"] == "mic")
    with pytest.raises(MessageAltered, match="direction"):
        legacy.rc4_gss_unwrap(key, H(wrap["token"]), initiator_sent=False)
    with pytest.raises(MessageAltered, match="direction"):
        legacy.rc4_gss_verify_mic(key, H(mic["token"]), H(mic["plaintext"]), False)


@pytest.mark.parametrize("etype", AES)
def test_mit_tampered_tokens_fail(etype: int) -> None:
    document = _mit(etype)
    key = Key(etype, H(document["session_key"]))
    entry = next(e for e in document["entries"] if e["operation"] == "wrap" and e["conf"])
    token = bytearray(H(entry["token"]))
    token[-1] ^= 1
    with pytest.raises(MessageAltered):
        _check_rfc4121_wrap(key, bytes(token), H(entry["plaintext"]), entry["sender"], True)


# --- rc4-hmac ------------------------------------------------------------------------------------


def test_rc4_string_to_key_is_the_nt_hash() -> None:
    # MD4(UTF-16LE("password")), the well-known NT hash.
    expected = H("8846f7eaee8fb117ad06bdd830b7586c")
    assert string_to_key(23, "password", b"ignored salt").contents == expected
    assert string_to_key(23, b"password", b"").contents == expected
    with pytest.raises(DecodeError):
        string_to_key(23, "password", b"", b"\x00\x00\x10\x00")
    with pytest.raises(InvalidParameter):
        string_to_key(23, b"\xff\xfe", b"")


def test_rc4_usage_translation() -> None:
    key = _key(23)
    for usage, translated in ((3, 8), (9, 9), (23, 13), (11, 11)):
        assert legacy.translate_usage(usage) == translated
        sealed = encrypt(key, usage, b"secret")
        assert decrypt(key, translated, sealed) == b"secret"
        assert make_checksum(key, usage, b"x") == make_checksum(key, translated, b"x")


def test_rc4_tgs_rep_under_a_subkey_uses_usage_9() -> None:
    # RFC 4757 section 4 encryption written out independently, keyed with T = 9 as Windows,
    # Samba and MIT (krb5int_arcfour_translate_usage) key a TGS-REP under the authenticator
    # subkey. The RFC's own table says 8, which no KDC does.
    import hashlib
    import hmac

    from cryptography.hazmat.decrepit.ciphers.algorithms import ARC4
    from cryptography.hazmat.primitives.ciphers import Cipher

    key = _key(23)
    confounder = bytes(range(8))
    plaintext = b"EncTGSRepPart"
    k1 = hmac.new(key.contents, (9).to_bytes(4, "little"), hashlib.md5).digest()
    checksum = hmac.new(k1, confounder + plaintext, hashlib.md5).digest()
    k3 = hmac.new(k1, checksum, hashlib.md5).digest()
    body = Cipher(ARC4(k3), mode=None).encryptor().update(confounder + plaintext)
    expected = checksum + body
    assert encrypt(key, 9, plaintext, confounder) == expected
    assert decrypt(key, 9, expected) == plaintext
    with pytest.raises(MessageAltered):
        decrypt(key, 8, expected)


def test_rc4_layout() -> None:
    key = _key(23)
    sealed = encrypt(key, 7, b"abc", b"12345678")
    assert len(sealed) == 16 + 8 + 3
    assert sealed == legacy.rc4_hmac_encrypt(key.contents, 7, b"abc", b"12345678")
    assert len(make_checksum(key, 7, b"abc")) == 16
    assert len(prf(key, b"x")) == 20


def test_rc4_gss_round_trip_and_errors() -> None:
    key = _key(23)
    for encrypt_flag in (True, False):
        token = legacy.rc4_gss_wrap(key, 5, b"hello", True, encrypt_flag)
        assert legacy.rc4_gss_unwrap(key, token, True) == (b"hello", 5, encrypt_flag)
        tampered = bytearray(token)
        tampered[-2] ^= 0x40
        with pytest.raises(MessageAltered):
            legacy.rc4_gss_unwrap(key, bytes(tampered), True)
    mic = legacy.rc4_gss_get_mic(key, 0xFFFFFFFF, b"m", False)
    assert legacy.rc4_gss_verify_mic(key, mic, b"m", False) == 0xFFFFFFFF
    with pytest.raises(MessageAltered):
        legacy.rc4_gss_verify_mic(key, mic, b"n", False)
    big = legacy.rc4_gss_wrap(key, 1, bytes(300), False, True)
    assert big[:4] == b"\x60\x82\x01\x58"  # DER long form: 11 (OID) + 32 + 301 = 344
    assert legacy.rc4_gss_unwrap(key, big, False)[0] == bytes(300)
    with pytest.raises(DecodeError):
        legacy.rc4_gss_unwrap(key, big + b"\x00", False)  # trailing byte
    with pytest.raises(DecodeError):
        legacy.rc4_gss_unwrap(key, mic, False)  # a MIC is not a Wrap token
    with pytest.raises(DecodeError):
        legacy.rc4_gss_verify_mic(key, b"\x60\x02\x06\x00", b"", True)
    with pytest.raises(InvalidParameter):
        legacy.rc4_gss_get_mic(key, -1, b"", True)
    with pytest.raises(InvalidParameter):
        legacy.rc4_gss_get_mic(_key(18), 0, b"", True)
    with pytest.raises(InvalidParameter):
        legacy.rc4_gss_wrap(key, 0, b"", True, True, b"short")


# --- round trips, tampering, truncation ----------------------------------------------------------


@pytest.mark.parametrize("etype", ALL)
def test_round_trip_lengths(etype: int) -> None:
    key = random_key(etype)
    prof = crypto.profile(etype)
    for length in range(101):
        plain = os.urandom(length)
        sealed = encrypt(key, 1024 + length % 3, plain)
        assert len(sealed) == prof.confounder_size + length + prof.checksum_size
        assert decrypt(key, 1024 + length % 3, sealed) == plain


@pytest.mark.parametrize("etype", ALL)
def test_round_trip_one_mebibyte(etype: int) -> None:
    key = random_key(etype)
    plain = os.urandom(1 << 20)
    assert decrypt(key, 24, encrypt(key, 24, plain)) == plain


@pytest.mark.parametrize("etype", ALL)
def test_every_flipped_byte_is_detected(etype: int) -> None:
    key = _key(etype)
    sealed = encrypt(key, 22, b"attack at dawn, bring snacks")
    for index in range(len(sealed)):
        tampered = bytearray(sealed)
        tampered[index] ^= 0x01
        with pytest.raises(MessageAltered):
            decrypt(key, 22, bytes(tampered))


@pytest.mark.parametrize("etype", ALL)
def test_wrong_usage_or_key_is_detected(etype: int) -> None:
    sealed = encrypt(_key(etype), 22, b"payload")
    with pytest.raises(MessageAltered, match="usage 24"):
        decrypt(_key(etype), 24, sealed)
    with pytest.raises(MessageAltered):
        decrypt(_key(etype, seed=7), 22, sealed)


@pytest.mark.parametrize("etype", ALL)
def test_truncated_ciphertext(etype: int) -> None:
    prof = crypto.profile(etype)
    key = _key(etype)
    sealed = encrypt(key, 3, b"some message here")
    minimum = prof.confounder_size + prof.checksum_size
    for length in range(minimum):
        with pytest.raises(DecodeError):
            decrypt(key, 3, sealed[:length])
    for length in range(minimum, len(sealed)):
        with pytest.raises(MessageAltered):
            decrypt(key, 3, sealed[:length])


@pytest.mark.parametrize("etype", ALL)
def test_checksums(etype: int) -> None:
    key = _key(etype)
    checksum = make_checksum(key, 17, b"data")
    assert len(checksum) == crypto.checksum_size(crypto.profile(etype).checksum_type)
    verify_checksum(key, 17, b"data", checksum)
    verify_checksum(key, 17, b"data", checksum, crypto.profile(etype).checksum_type)
    with pytest.raises(MessageAltered):
        verify_checksum(key, 17, b"date", checksum)
    with pytest.raises(MessageAltered):
        verify_checksum(key, 18, b"data", checksum)
    with pytest.raises(MessageAltered):
        verify_checksum(key, 17, b"data", checksum[:-1])
    with pytest.raises(AlgorithmMismatch, match="unkeyed"):
        verify_checksum(key, 17, b"data", legacy.rsa_md5(b"data"), Cksumtype.RSA_MD5)
    other = Cksumtype.HMAC_MD5 if etype != 23 else Cksumtype.HMAC_SHA1_96_AES256
    with pytest.raises(AlgorithmMismatch):
        verify_checksum(key, 17, b"data", checksum, other)
    with pytest.raises(AlgorithmMismatch):
        verify_checksum(key, 17, b"data", checksum, 0x8003)


def test_aes_sha1_checksum_is_truncated_hmac_under_kc() -> None:
    import hmac

    key = _key(18)
    kc = derive_key(key, 6, KC)
    assert kc == crypto.dk(key.contents, (6).to_bytes(4, "big") + b"\x99")
    assert make_checksum(key, 6, b"body") == hmac.digest(kc, b"body", "sha1")[:12]


def test_aes_sha1_prf() -> None:
    # RFC 3961 5.3: E(DK(key, "prf"), SHA-1(data)[:16]) with one AES block.
    import hashlib

    key = _key(17)
    expected = cts_encrypt(crypto.dk(key.contents, b"prf"), hashlib.sha1(b"abc").digest()[:16])
    assert prf(key, b"abc") == expected
    assert len(prf(_key(18), b"abc")) == 16


@settings(max_examples=150, deadline=None)
@given(
    etype=st.sampled_from(ALL),
    seed=st.binary(min_size=32, max_size=32),
    usage=st.integers(0, 2**32 - 1),
    plain=st.binary(max_size=300),
    confounder=st.binary(min_size=16, max_size=16),
)
def test_hypothesis_round_trip(
    etype: int, seed: bytes, usage: int, plain: bytes, confounder: bytes
) -> None:
    prof = crypto.profile(etype)
    key = random_to_key(etype, seed[: prof.key_size])
    sealed = encrypt(key, usage, plain, confounder[: prof.confounder_size])
    assert decrypt(key, usage, sealed) == plain
    # Deterministic given the confounder; distinct per usage.
    assert encrypt(key, usage, plain, confounder[: prof.confounder_size]) == sealed
    verify_checksum(key, usage, plain, make_checksum(key, usage, plain))


@settings(max_examples=200, deadline=None)
@given(etype=st.sampled_from(ALL), junk=st.binary(max_size=80), usage=st.integers(0, 100))
def test_hypothesis_decrypt_junk_raises_only_documented_errors(
    etype: int, junk: bytes, usage: int
) -> None:
    with pytest.raises((DecodeError, MessageAltered)):
        decrypt(_key(etype), usage, junk)


@settings(max_examples=200, deadline=None)
@given(junk=st.binary(max_size=80), initiator=st.booleans())
def test_hypothesis_rc4_gss_parsers(junk: bytes, initiator: bool) -> None:
    key = _key(23)
    for token in (junk, legacy.frame_token(junk)):
        with pytest.raises((DecodeError, MessageAltered)):
            legacy.rc4_gss_unwrap(key, token, initiator)
        with pytest.raises((DecodeError, MessageAltered)):
            legacy.rc4_gss_verify_mic(key, token, b"", initiator)


# --- keys, names, parameters ---------------------------------------------------------------------


def test_key_repr_hides_contents() -> None:
    key = Key(18, bytes.fromhex("ab" * 32))
    text = repr(key)
    assert "ab" * 4 not in text and "171" not in text
    assert "18" in text and "aes256-cts-hmac-sha1-96" in text
    assert "hidden" in text


def test_errors_never_name_the_key() -> None:
    key = Key(18, bytes.fromhex("cd" * 32))
    sealed = encrypt(key, 1, b"x")
    try:
        decrypt(key, 2, sealed)
    except SspiError as error:
        assert "cd" * 4 not in str(error)
    else:  # pragma: no cover
        pytest.fail("wrong usage decrypted")


def test_key_validation() -> None:
    with pytest.raises(InvalidParameter, match="32 bytes"):
        Key(18, bytes(16))
    with pytest.raises(InvalidParameter):
        Key(23, bytes(32))
    assert Key(18, bytearray(32)).contents == bytes(32)  # type: ignore[arg-type]
    des = Key(3, bytes(8))  # kept (a keytab may hold one) but not usable
    with pytest.raises(AlgorithmMismatch, match="des-cbc-md5"):
        encrypt(des, 1, b"x")
    assert Key(17, bytes(16)) == Key(Enctype.AES128_CTS_HMAC_SHA1_96, bytes(16))
    assert hash(Key(17, bytes(16))) == hash(Key(17, bytes(16)))


def test_invalid_parameters() -> None:
    key = _key(18)
    with pytest.raises(InvalidParameter):
        encrypt(key, 1, b"x", b"short")
    with pytest.raises(InvalidParameter):
        encrypt(key, -1, b"x")
    with pytest.raises(InvalidParameter):
        encrypt(key, 2**32, b"x")
    with pytest.raises(InvalidParameter):
        derive_key(key, 1, 0x42)
    with pytest.raises(AlgorithmMismatch):
        derive_key(_key(23), 1, KC)
    with pytest.raises(InvalidParameter):
        random_to_key(18, bytes(16))
    with pytest.raises(AlgorithmMismatch):
        random_key(16)
    with pytest.raises(InvalidParameter):
        string_to_key(18, "\ud800", b"salt")


def test_random_key_uses_the_random_source() -> None:
    calls: list[int] = []

    def source(n: int) -> bytes:
        calls.append(n)
        return bytes(n)

    for etype in ALL:
        assert random_key(etype, source).contents == bytes(crypto.profile(etype).key_size)
    assert calls == [16, 32, 16, 32, 16]


def test_derived_keys_are_cached_on_the_key() -> None:
    key = _key(20)
    encrypt(key, 24, b"x")
    derived = dict(key._derived.slots)  # Ke's schedule and Ki's keyed HMAC for usage 24
    assert derived
    encrypt(key, 24, b"y")
    assert key._derived.slots == derived
    assert all(key._derived.slots[slot] is value for slot, value in derived.items())
    # The cache is per key object, not shared through equality.
    assert not Key(20, key.contents)._derived.slots


def test_profiles() -> None:
    expected = {
        17: (16, 16, 12, Cksumtype.HMAC_SHA1_96_AES128),
        18: (32, 16, 12, Cksumtype.HMAC_SHA1_96_AES256),
        19: (16, 16, 16, Cksumtype.HMAC_SHA256_128_AES128),
        20: (32, 16, 24, Cksumtype.HMAC_SHA384_192_AES256),
        23: (16, 8, 16, Cksumtype.HMAC_MD5),
    }
    for etype, (key_size, confounder, checksum, cksumtype) in expected.items():
        prof = crypto.profile(etype)
        assert (prof.key_size, prof.confounder_size, prof.checksum_size) == (
            key_size,
            confounder,
            checksum,
        )
        assert prof.checksum_type == cksumtype
    assert SUPPORTED == (18, 17, 20, 19, 23)
    assert int(Cksumtype.HMAC_MD5) == -138 and crypto.CKSUMTYPE_GSSAPI == 0x8003


def test_names() -> None:
    assert enctype_name(18) == "aes256-cts-hmac-sha1-96"
    assert enctype_name(23) == "arcfour-hmac"
    assert enctype_name(99) == "enctype 99"
    for name, number in {
        "aes256-cts-hmac-sha1-96": 18,
        "AES256-CTS": 18,
        "aes256-sha1": 18,
        "aes128-cts": 17,
        "aes128-sha2": 19,
        "aes256-sha2": 20,
        "aes256-cts-hmac-sha384-192": 20,
        "rc4-hmac": 23,
        "arcfour-hmac": 23,
        "arcfour-hmac-md5": 23,
        "des3-cbc-sha1": 16,
        "17": 17,
    }.items():
        assert enctype_from_name(name) == number
    with pytest.raises(InvalidParameter, match="aes257"):
        enctype_from_name("aes257-cts")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("DEFAULT", SUPPORTED),
        ("default -rc4", (18, 17, 20, 19)),
        ("aes", (18, 17, 20, 19)),
        ("aes256-sha2 aes", (20, 18, 17, 19)),
        ("aes256-cts-hmac-sha1-96, aes128-cts-hmac-sha1-96", (18, 17)),
        ("+rc4-hmAC des3 +des", (23,)),
        ("aes -aes128-cts arcfour-hmac-md5", (18, 20, 19, 23)),
        ("des-cbc-crc camellia", ()),
        ("", ()),
    ],
)
def test_parse_enctypes(text: str, expected: tuple[int, ...]) -> None:
    assert parse_enctypes(text) == expected


def test_parse_enctypes_rejects_typos() -> None:
    with pytest.raises(InvalidParameter):
        parse_enctypes("aes256-cts-hmac-sha1-69")


@pytest.mark.parametrize("etype", ALL)
def test_bytes_like_input(etype: int) -> None:
    key = _key(etype)
    sealed = encrypt(key, 2, bytearray(b"abc"))  # type: ignore[arg-type]
    assert decrypt(key, 2, bytearray(sealed)) == b"abc"  # type: ignore[arg-type]
    assert decrypt(key, 2, memoryview(sealed)) == b"abc"  # type: ignore[arg-type]
    checksum = make_checksum(key, 2, b"abc")
    verify_checksum(key, 2, b"abc", bytearray(checksum))  # type: ignore[arg-type]


def test_rc4_gss_bytes_like_token() -> None:
    key = _key(23)
    token = legacy.rc4_gss_wrap(key, 9, b"hi", True, True)
    assert legacy.rc4_gss_unwrap(key, bytearray(token), True)[0] == b"hi"  # type: ignore[arg-type]


def test_keys_pickle_without_their_cache() -> None:
    import copy
    import pickle

    key = _key(18)
    encrypt(key, 24, b"x")
    for clone in (pickle.loads(pickle.dumps(key)), copy.deepcopy(key)):
        assert clone == key
        assert not clone._derived.slots
        assert decrypt(clone, 24, encrypt(key, 24, b"y")) == b"y"
