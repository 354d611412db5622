"""MS-NLMP 4.2 examples, checked byte for byte: 4.2.2 NTLMv1, 4.2.3 NTLMv1-ESS, 4.2.4 NTLMv2.

The published values live in ``tests/vectors/ms-nlmp/*.json``; each entry names its section.
Inputs come from 4.2.1 (common.json); every output is computed here from the spec functions.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import zlib
from pathlib import Path
from typing import Any

import pytest

from opensspi.crypto.rc4 import Rc4
from opensspi.errors import InvalidParameter, LogonDenied, UnsupportedFunction
from opensspi.packages.ntlm import legacy
from opensspi.packages.ntlm.crypto import (
    Mode,
    channel_bindings_hash,
    compute_ntlmv2_response,
    kxkey,
    lmowfv2,
    mic,
    ntowfv1,
    ntowfv2,
    rc4k,
    sealkey,
    signkey,
    verify_ntlmv2_response,
)
from opensspi.packages.ntlm.messages import (
    AuthenticateMessage,
    AvId,
    ChallengeMessage,
    NegotiateFlags,
    NtlmV2ClientChallenge,
    TargetInfo,
    Version,
)
from opensspi.packages.ntlm.security import SessionSecurity

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "ms-nlmp"
F = NegotiateFlags


def _load(name: str) -> dict[str, Any]:
    document = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    values: dict[str, Any] = {}
    for entry in document["entries"]:
        assert entry["source"].startswith("MS-NLMP 4.2"), entry
        values[entry["name"]] = bytes.fromhex(entry["hex"]) if "hex" in entry else entry["text"]
    return values


C = _load("common.json")
V1 = _load("ntlmv1.json")
ESS = _load("ntlmv1-ess.json")
V2 = _load("ntlmv2.json")

USER: str = C["User"]
DOMAIN: str = C["UserDom"]
PASSWORD: str = C["Passwd"]
WORKSTATION: str = C["Workstation Name"]
RANDOM_SESSION_KEY: bytes = C["RandomSessionKey"]
CLIENT_CHALLENGE: bytes = C["ClientChallenge"]
SERVER_CHALLENGE: bytes = C["ServerChallenge"]
TIME = int.from_bytes(C["Time"], "little")
PLAINTEXT: bytes = C["Plaintext"]
CLIENT_VERSION = Version(5, 1, 2600, 15)  # 05 01 28 0a 00 00 00 0f in the AUTHENTICATE messages
SERVER_VERSION = Version(6, 0, 6000, 15)  # 06 00 70 17 00 00 00 0f in the CHALLENGE messages


def _flags(value: bytes) -> NegotiateFlags:
    return NegotiateFlags(int.from_bytes(value, "little"))


def test_vector_files_name_their_sections() -> None:
    for path in VECTORS.glob("*.json"):
        document = json.loads(path.read_text(encoding="utf-8"))
        assert document["provenance"]
        assert all(entry["source"].startswith("MS-NLMP 4.2") for entry in document["entries"])


def test_common_plaintext_is_utf16() -> None:
    assert "Plaintext".encode("utf-16-le") == PLAINTEXT
    assert C["Server Name"].encode("utf-16-le") == V2["AV Pair 1 - NetBIOS Server name"]
    assert DOMAIN.encode("utf-16-le") == V2["AV Pair 2 - NetBIOS Domain name"]


# -- 4.2.2 NTLMv1 -------------------------------------------------------------------------------

V1_FLAGS = _flags(V1["NegotiateFlags"])


def test_v1_flags_are_the_listed_ones() -> None:
    assert V1_FLAGS == (
        F.NTLMSSP_NEGOTIATE_KEY_EXCH
        | F.NTLMSSP_NEGOTIATE_56
        | F.NTLMSSP_NEGOTIATE_128
        | F.NTLMSSP_NEGOTIATE_VERSION
        | F.NTLMSSP_TARGET_TYPE_SERVER
        | F.NTLMSSP_NEGOTIATE_ALWAYS_SIGN
        | F.NTLMSSP_NEGOTIATE_NTLM
        | F.NTLMSSP_NEGOTIATE_SEAL
        | F.NTLMSSP_NEGOTIATE_SIGN
        | F.NTLM_NEGOTIATE_OEM
        | F.NTLMSSP_NEGOTIATE_UNICODE
    )


def test_v1_owfs() -> None:
    assert legacy.lmowfv1(PASSWORD) == V1["LMOWFv1"]
    assert ntowfv1(PASSWORD) == V1["NTOWFv1"]
    assert legacy.ntowfv1(PASSWORD) == V1["NTOWFv1"]


def test_v1_responses_and_keys() -> None:
    nt, lm, base = legacy.compute_ntlmv1_response(
        V1_FLAGS, V1["NTOWFv1"], V1["LMOWFv1"], SERVER_CHALLENGE, CLIENT_CHALLENGE
    )
    assert nt == V1["NTLMv1 Response"]
    assert lm == V1["LMv1 Response"]
    assert base == V1["SessionBaseKey"]
    key = legacy.kxkey_v1(V1_FLAGS, base, lm, SERVER_CHALLENGE, V1["LMOWFv1"])
    assert key == V1["KeyExchangeKey"]
    assert rc4k(key, RANDOM_SESSION_KEY) == V1["EncryptedRandomSessionKey"]


def test_v1_no_lm_response_repeats_the_nt_response() -> None:
    nt, lm, _ = legacy.compute_ntlmv1_response(
        V1_FLAGS, V1["NTOWFv1"], None, SERVER_CHALLENGE, CLIENT_CHALLENGE
    )
    assert lm == nt == V1["NTLMv1 Response"]


def test_v1_lm_key_variant() -> None:
    flags = V1_FLAGS | F.NTLMSSP_NEGOTIATE_LM_KEY
    key = legacy.kxkey_v1(
        flags, V1["SessionBaseKey"], V1["LMv1 Response"], SERVER_CHALLENGE, V1["LMOWFv1"]
    )
    assert key == V1["KeyExchangeKey (NTLMSSP_NEGOTIATE_LM_KEY is set)"]
    assert (
        rc4k(key, RANDOM_SESSION_KEY)
        == V1["EncryptedRandomSessionKey (NTLMSSP_NEGOTIATE_LM_KEY is set)"]
    )


def test_v1_non_nt_session_key_variant() -> None:
    flags = V1_FLAGS | F.NTLMSSP_REQUEST_NON_NT_SESSION_KEY
    key = legacy.kxkey_v1(
        flags, V1["SessionBaseKey"], V1["LMv1 Response"], SERVER_CHALLENGE, V1["LMOWFv1"]
    )
    assert key == V1["LMOWFv1"][:8] + bytes(8)
    assert (
        rc4k(key, RANDOM_SESSION_KEY)
        == V1["EncryptedRandomSessionKey (NTLMSSP_REQUEST_NON_NT_SESSION_KEY is set)"]
    )


def test_v1_client_helper_and_server_check() -> None:
    result = legacy.ntlmv1_client_response(
        flags=V1_FLAGS,
        nt_hash=V1["NTOWFv1"],
        password=PASSWORD,
        server_challenge=SERVER_CHALLENGE,
        client_challenge=CLIENT_CHALLENGE,
        level=0,
    )
    assert result.nt_response == V1["NTLMv1 Response"]
    assert result.lm_response == V1["LMv1 Response"]
    assert result.key_exchange_key == V1["KeyExchangeKey"]
    key = legacy.ntlmv1_server_check(
        flags=V1_FLAGS,
        nt_hash=V1["NTOWFv1"],
        password=None,
        server_challenge=SERVER_CHALLENGE,
        lm_response=V1["LMv1 Response"],
        nt_response=V1["NTLMv1 Response"],
    )
    assert key == V1["KeyExchangeKey"]


def test_v1_challenge_message() -> None:
    data = V1["CHALLENGE_MESSAGE"]
    message = ChallengeMessage.parse(data)
    assert message == ChallengeMessage(V1_FLAGS, SERVER_CHALLENGE, "Server", None, SERVER_VERSION)
    assert message.build() == data


def test_v1_authenticate_message() -> None:
    flags = _flags(V1["AUTHENTICATE_MESSAGE"][60:64])
    built = AuthenticateMessage(
        flags,
        V1["LMv1 Response"],
        V1["NTLMv1 Response"],
        DOMAIN,
        USER,
        WORKSTATION,
        V1["EncryptedRandomSessionKey"],
        CLIENT_VERSION,
    )
    assert built.build() == V1["AUTHENTICATE_MESSAGE"]
    parsed = AuthenticateMessage.parse(V1["AUTHENTICATE_MESSAGE"])
    assert parsed == built
    assert parsed.mic is None
    assert parsed.raw == V1["AUTHENTICATE_MESSAGE"]


def test_v1_wrap_pieces() -> None:
    assert zlib.crc32(PLAINTEXT).to_bytes(4, "little") == V1["Checksum: CRC32(Message)"]
    handle = Rc4(legacy.sealkey_v1(V1_FLAGS, RANDOM_SESSION_KEY)).update
    assert handle(PLAINTEXT) == V1["Sealed Data"]
    assert handle(V1["RandomPad"]) == V1["RandomPad: RC4(Handle, RandomPad)"]
    assert handle(V1["Checksum: CRC32(Message)"]) == V1["Checksum: RC4(Handle, Checksum)"]
    assert handle(V1["SeqNum"]) == V1["SeqNum: RC4(Handle, 0x00000000) XOR SeqNum"]


def test_v1_wrap() -> None:
    # KEY_EXCH is negotiated, so the ExportedSessionKey is the RandomSessionKey.
    client = SessionSecurity(V1_FLAGS, RANDOM_SESSION_KEY, True, allow_legacy=True)
    sealed, signature = client.seal(0, PLAINTEXT)
    assert sealed == V1["Sealed Data"]
    assert signature == V1["Assembled Signature"]
    server = SessionSecurity(V1_FLAGS, RANDOM_SESSION_KEY, False, allow_legacy=True)
    assert server.unseal(0, sealed, signature) == PLAINTEXT


# -- 4.2.3 NTLMv1 with Client Challenge (extended session security) -----------------------------

ESS_FLAGS = _flags(ESS["NegotiateFlags"])


def test_ess_responses_and_keys() -> None:
    nt, lm, base = legacy.compute_ntlmv1_response(
        ESS_FLAGS, ESS["NTOWFv1"], None, SERVER_CHALLENGE, CLIENT_CHALLENGE
    )
    assert ntowfv1(PASSWORD) == ESS["NTOWFv1"]
    assert nt == ESS["NTLMv1 Response"]
    assert lm == ESS["LMv1 Response"]
    assert base == ESS["SessionBaseKey"]
    assert legacy.kxkey_v1(ESS_FLAGS, base, lm, SERVER_CHALLENGE) == ESS["KeyExchangeKey"]


def test_ess_server_check() -> None:
    key = legacy.ntlmv1_server_check(
        flags=ESS_FLAGS,
        nt_hash=ESS["NTOWFv1"],
        password=None,
        server_challenge=SERVER_CHALLENGE,
        lm_response=ESS["LMv1 Response"],
        nt_response=ESS["NTLMv1 Response"],
    )
    assert key == ESS["KeyExchangeKey"]


def test_ess_messages() -> None:
    challenge = ChallengeMessage.parse(ESS["CHALLENGE_MESSAGE"])
    assert challenge == ChallengeMessage(
        ESS_FLAGS, SERVER_CHALLENGE, "Server", None, SERVER_VERSION
    )
    assert challenge.build() == ESS["CHALLENGE_MESSAGE"]
    flags = _flags(ESS["AUTHENTICATE_MESSAGE"][60:64])
    built = AuthenticateMessage(
        flags,
        ESS["LMv1 Response"],
        ESS["NTLMv1 Response"],
        DOMAIN,
        USER,
        WORKSTATION,
        b"",
        CLIENT_VERSION,
    )
    assert built.build() == ESS["AUTHENTICATE_MESSAGE"]
    assert AuthenticateMessage.parse(ESS["AUTHENTICATE_MESSAGE"]) == built


def test_ess_wrap() -> None:
    # No KEY_EXCH: the ExportedSessionKey is the KeyExchangeKey. NEGOTIATE_56 without 128.
    flags = _flags(ESS["AUTHENTICATE_MESSAGE"][60:64])
    exported = ESS["KeyExchangeKey"]
    assert sealkey(flags, exported, Mode.CLIENT) == ESS["SealKey"]
    assert signkey(flags, exported, Mode.CLIENT) == ESS["SignKey"]
    client = SessionSecurity(flags, exported, True)
    sealed, signature = client.seal(0, PLAINTEXT)
    assert sealed == ESS["Sealed Data"]
    assert signature == ESS["Signature"]
    server = SessionSecurity(flags, exported, False)
    assert server.unseal(0, sealed, signature) == PLAINTEXT


# -- 4.2.4 NTLMv2 --------------------------------------------------------------------------------

V2_FLAGS = _flags(V2["NegotiateFlags"])
V2_TARGET_INFO = TargetInfo(
    (
        (AvId.MsvAvNbDomainName, V2["AV Pair 2 - NetBIOS Domain name"]),
        (AvId.MsvAvNbComputerName, V2["AV Pair 1 - NetBIOS Server name"]),
    )
)


def test_v2_flags_are_the_listed_ones() -> None:
    assert V2_FLAGS == (
        V1_FLAGS | F.NTLMSSP_NEGOTIATE_TARGET_INFO | F.NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY
    )


def test_v2_owfs() -> None:
    assert ntowfv2(PASSWORD, USER, DOMAIN) == V2["NTOWFv2"]
    assert lmowfv2(PASSWORD, USER, DOMAIN) == V2["LMOWFv2"]
    assert ntowfv2(ntowfv1(PASSWORD), USER, DOMAIN) == V2["NTOWFv2"]
    assert ntowfv2(PASSWORD, USER.lower(), DOMAIN) == V2["NTOWFv2"]  # the user is upper-cased


def test_v2_responses_and_keys() -> None:
    nt, lm, base = compute_ntlmv2_response(
        V2["NTOWFv2"],
        V2["LMOWFv2"],
        SERVER_CHALLENGE,
        CLIENT_CHALLENGE,
        TIME,
        V2_TARGET_INFO.build(),
    )
    assert nt[:16] == V2["NTProofStr"]
    assert nt[16:] == V2["temp"]
    assert lm == V2["LMv2 Response"]
    assert base == V2["SessionBaseKey"]
    assert kxkey(base) == V2["SessionBaseKey"]
    assert rc4k(kxkey(base), RANDOM_SESSION_KEY) == V2["EncryptedRandomSessionKey"]
    assert verify_ntlmv2_response(V2["NTOWFv2"], SERVER_CHALLENGE, nt) == base


def test_v2_temp_is_the_client_challenge_blob() -> None:
    blob = NtlmV2ClientChallenge(TIME, CLIENT_CHALLENGE, V2_TARGET_INFO)
    assert blob.build() == V2["temp"]
    assert NtlmV2ClientChallenge.parse(V2["temp"]) == blob


def test_v2_challenge_message() -> None:
    message = ChallengeMessage.parse(V2["CHALLENGE_MESSAGE"])
    assert message == ChallengeMessage(
        V2_FLAGS, SERVER_CHALLENGE, "Server", V2_TARGET_INFO, SERVER_VERSION
    )
    assert message.target_info is not None
    assert message.target_info.nb_domain_name == DOMAIN
    assert message.target_info.nb_computer_name == "Server"
    assert message.build() == V2["CHALLENGE_MESSAGE"]


def test_v2_authenticate_message() -> None:
    challenge = ChallengeMessage.parse(V2["CHALLENGE_MESSAGE"])
    assert challenge.target_info is not None
    nt, lm, _ = compute_ntlmv2_response(
        V2["NTOWFv2"],
        V2["LMOWFv2"],
        challenge.server_challenge,
        CLIENT_CHALLENGE,
        TIME,
        challenge.target_info.build(),
    )
    flags = _flags(V2["AUTHENTICATE_MESSAGE"][60:64])
    built = AuthenticateMessage(
        flags, lm, nt, DOMAIN, USER, WORKSTATION, V2["EncryptedRandomSessionKey"], CLIENT_VERSION
    )
    assert built.build() == V2["AUTHENTICATE_MESSAGE"]
    parsed = AuthenticateMessage.parse(V2["AUTHENTICATE_MESSAGE"])
    assert parsed == built
    assert parsed.mic is None  # the example's AV pairs carry no MsvAvFlags


def test_v2_wrap_pieces() -> None:
    assert sealkey(V2_FLAGS, RANDOM_SESSION_KEY, Mode.CLIENT) == V2["SealKey"]
    assert signkey(V2_FLAGS, RANDOM_SESSION_KEY, Mode.CLIENT) == V2["SignKey"]
    digest = hmac.digest(V2["SignKey"], V2["SeqNum"] + PLAINTEXT, "md5")
    checksum = V2["Checksum: HMAC_MD5(SigningKey, SeqNum || Message)[0..7]"]
    assert digest[:8] == checksum
    handle = Rc4(V2["SealKey"]).update
    assert handle(PLAINTEXT) == V2["Sealed Data"]
    assert handle(checksum) == V2["Checksum: RC4(Checksum)"]


@pytest.mark.parametrize("parts", [False, True])
def test_v2_wrap(parts: bool) -> None:
    client = SessionSecurity(V2_FLAGS, RANDOM_SESSION_KEY, True)
    if parts:
        outputs, signature = client.seal_parts(0, [(PLAINTEXT, True)])
        (sealed,) = outputs
    else:
        sealed, signature = client.seal(0, PLAINTEXT)
    assert sealed == V2["Sealed Data"]
    assert signature == V2["Signature"]
    server = SessionSecurity(V2_FLAGS, RANDOM_SESSION_KEY, False)
    assert server.unseal(0, sealed, signature) == PLAINTEXT


# -- the spec functions' edges (no published values) ---------------------------------------------


def test_server_keys_differ_from_client_keys() -> None:
    assert sealkey(V2_FLAGS, RANDOM_SESSION_KEY, Mode.SERVER) != V2["SealKey"]
    assert signkey(V2_FLAGS, RANDOM_SESSION_KEY, Mode.SERVER) != V2["SignKey"]


def test_keys_without_ess() -> None:
    assert signkey(V1_FLAGS, RANDOM_SESSION_KEY, Mode.CLIENT) is None
    with pytest.raises(UnsupportedFunction, match="legacy"):
        sealkey(V1_FLAGS, RANDOM_SESSION_KEY, Mode.CLIENT)
    with pytest.raises(InvalidParameter):
        legacy.sealkey_v1(V2_FLAGS, RANDOM_SESSION_KEY)
    lm_key = V1_FLAGS | F.NTLMSSP_NEGOTIATE_LM_KEY
    assert legacy.sealkey_v1(lm_key, RANDOM_SESSION_KEY) == RANDOM_SESSION_KEY[:7] + b"\xa0"
    weak = lm_key & ~F.NTLMSSP_NEGOTIATE_56
    assert legacy.sealkey_v1(weak, RANDOM_SESSION_KEY) == RANDOM_SESSION_KEY[:5] + b"\xe5\x38\xb0"
    datagram = V1_FLAGS | F.NTLMSSP_NEGOTIATE_DATAGRAM
    assert legacy.sealkey_v1(datagram, RANDOM_SESSION_KEY, revision=0x0A) == RANDOM_SESSION_KEY
    assert legacy.sealkey_v1(datagram, RANDOM_SESSION_KEY) == RANDOM_SESSION_KEY[:7] + b"\xa0"


def test_ess_seal_key_truncation() -> None:
    flags = ESS_FLAGS & ~F.NTLMSSP_NEGOTIATE_56
    key40 = sealkey(flags, RANDOM_SESSION_KEY, Mode.CLIENT)
    assert key40 == sealkey(flags, RANDOM_SESSION_KEY[:5] + bytes(11), Mode.CLIENT)
    key56 = sealkey(ESS_FLAGS, RANDOM_SESSION_KEY, Mode.CLIENT)
    assert key56 == sealkey(ESS_FLAGS, RANDOM_SESSION_KEY[:7] + bytes(9), Mode.CLIENT)
    assert len({key40, key56, V2["SealKey"]}) == 3


def test_ntlmv2_verification_failures() -> None:
    nt, _, _ = compute_ntlmv2_response(
        V2["NTOWFv2"], V2["LMOWFv2"], SERVER_CHALLENGE, CLIENT_CHALLENGE, TIME, b"\x00" * 4
    )
    with pytest.raises(LogonDenied):
        verify_ntlmv2_response(ntowfv2("wrong", USER, DOMAIN), SERVER_CHALLENGE, nt)
    with pytest.raises(LogonDenied):
        verify_ntlmv2_response(V2["NTOWFv2"], bytes(8), nt)
    with pytest.raises(LogonDenied, match="NTLMv1"):
        verify_ntlmv2_response(V2["NTOWFv2"], SERVER_CHALLENGE, nt[:24])
    # The blob is authenticated as received: a client without the trailing Z(4) still verifies.
    short = nt[:-4]
    proof = hmac.digest(V2["NTOWFv2"], SERVER_CHALLENGE + short[16:], "md5")
    assert verify_ntlmv2_response(V2["NTOWFv2"], SERVER_CHALLENGE, proof + short[16:])


def test_bad_arguments() -> None:
    with pytest.raises(InvalidParameter):
        ntowfv2(b"short", USER, DOMAIN)
    with pytest.raises(InvalidParameter):
        compute_ntlmv2_response(V2["NTOWFv2"], V2["LMOWFv2"], b"x", CLIENT_CHALLENGE, 0, b"")
    with pytest.raises(InvalidParameter):
        compute_ntlmv2_response(
            V2["NTOWFv2"], V2["LMOWFv2"], SERVER_CHALLENGE, CLIENT_CHALLENGE, -1, b""
        )
    with pytest.raises(InvalidParameter):
        legacy.lmowfv1("fifteen chars!!")
    with pytest.raises(InvalidParameter):
        legacy.lmowfv1("пароль")
    with pytest.raises(InvalidParameter):
        legacy.des(bytes(8), bytes(8))
    with pytest.raises(InvalidParameter):
        legacy.desl(bytes(15), bytes(8))
    with pytest.raises(InvalidParameter):
        legacy.kxkey_v1(V1_FLAGS | F.NTLMSSP_NEGOTIATE_LM_KEY, bytes(16), bytes(24), bytes(8))


def test_lm_hash_of_empty_and_14_character_passwords() -> None:
    # LMOWFv1 of the empty password: the famous aad3b435b51404ee twice.
    assert legacy.lmowfv1("").hex() == "aad3b435b51404eeaad3b435b51404ee"
    assert legacy.lmowfv1("password") == legacy.lmowfv1("PASSWORD") == V1["LMOWFv1"]
    assert len(legacy.lmowfv1("14 characters!")) == 16


def test_ntlmv1_server_check_failures_and_lm_only() -> None:
    with pytest.raises(LogonDenied):
        legacy.ntlmv1_server_check(
            flags=V1_FLAGS,
            nt_hash=ntowfv1("wrong"),
            password=None,
            server_challenge=SERVER_CHALLENGE,
            lm_response=V1["LMv1 Response"],
            nt_response=V1["NTLMv1 Response"],
        )
    # An LM-only client (no NT response) is accepted when the password, hence LM hash, is known.
    key = legacy.ntlmv1_server_check(
        flags=V1_FLAGS,
        nt_hash=V1["NTOWFv1"],
        password=PASSWORD,
        server_challenge=SERVER_CHALLENGE,
        lm_response=V1["LMv1 Response"],
        nt_response=b"",
    )
    assert key == V1["KeyExchangeKey"]
    with pytest.raises(UnsupportedFunction):
        legacy.ntlmv1_server_check(
            flags=V1_FLAGS | F.NTLMSSP_NEGOTIATE_LM_KEY,
            nt_hash=V1["NTOWFv1"],
            password=None,
            server_challenge=SERVER_CHALLENGE,
            lm_response=V1["LMv1 Response"],
            nt_response=V1["NTLMv1 Response"],
        )


def test_ntlmv1_client_levels() -> None:
    common = {
        "nt_hash": V1["NTOWFv1"],
        "password": PASSWORD,
        "server_challenge": SERVER_CHALLENGE,
        "client_challenge": CLIENT_CHALLENGE,
    }
    level2 = legacy.ntlmv1_client_response(flags=V1_FLAGS, level=2, **common)
    assert level2.lm_response == level2.nt_response == V1["NTLMv1 Response"]
    lm_key = legacy.ntlmv1_client_response(
        flags=V1_FLAGS | F.NTLMSSP_NEGOTIATE_LM_KEY, level=2, **common
    )
    assert lm_key.key_exchange_key == legacy.kxkey_v1(
        V1_FLAGS | F.NTLMSSP_NEGOTIATE_LM_KEY,
        V1["SessionBaseKey"],
        V1["NTLMv1 Response"],
        SERVER_CHALLENGE,
        V1["LMOWFv1"],
    )
    with pytest.raises(UnsupportedFunction):
        legacy.ntlmv1_client_response(
            flags=V1_FLAGS | F.NTLMSSP_NEGOTIATE_LM_KEY, level=1, **{**common, "password": None}
        )
    ess = legacy.ntlmv1_client_response(flags=ESS_FLAGS, level=1, **common)
    assert ess.nt_response == ESS["NTLMv1 Response"]
    assert ess.key_exchange_key == ESS["KeyExchangeKey"]


def test_mic_is_hmac_md5_over_the_three_messages() -> None:
    negotiate, challenge, authenticate = b"\x44" * 4, b"\x66" * 6, b"\x88" * 8
    expected = hmac.digest(RANDOM_SESSION_KEY, negotiate + challenge + authenticate, "md5")
    assert mic(RANDOM_SESSION_KEY, negotiate, challenge, authenticate) == expected


def test_channel_bindings_hash_layout() -> None:
    application = b"tls-server-end-point:" + bytes(range(32))
    flat = bytes(16) + len(application).to_bytes(4, "little") + application
    assert channel_bindings_hash(application) == hashlib.md5(flat).digest()
    addressed = channel_bindings_hash(
        application,
        initiator_addrtype=2,
        initiator_address=b"\x7f\x00\x00\x01",
        acceptor_addrtype=2,
        acceptor_address=b"\x0a\x00\x00\x01",
    )
    flat = (
        b"\x02\x00\x00\x00\x04\x00\x00\x00\x7f\x00\x00\x01"
        + b"\x02\x00\x00\x00\x04\x00\x00\x00\x0a\x00\x00\x01"
        + len(application).to_bytes(4, "little")
        + application
    )
    assert addressed == hashlib.md5(flat).digest()
    with pytest.raises(InvalidParameter):
        channel_bindings_hash(b"", initiator_addrtype=2**32)
