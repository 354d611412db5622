"""Our NTLM client against our NTLM server: every flag combination, credential kind and trap."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

import pytest

import opensspi
from opensspi import AscReq, AscRet, Environment, IscReq, IscRet, SecStatus
from opensspi.errors import (
    BadBindings,
    InvalidToken,
    LogonDenied,
    MessageAltered,
    NoCredentials,
    OutOfSequence,
    TimeSkew,
    UnsupportedFunction,
)
from opensspi.packages.ntlm import NtlmAuthData, NtlmSettings
from opensspi.packages.ntlm.crypto import ntowfv1
from opensspi.packages.ntlm.messages import (
    AuthenticateMessage,
    AvFlags,
    AvId,
    ChallengeMessage,
    NegotiateFlags,
    NtlmV2ClientChallenge,
)
from support.pair import ContextPair

USERS = {"CORP\\alice": "Passw0rd!", "CORP\\jürgen": "Pässwörd€1", "bob": "hunter2"}
OK, CONTINUE = SecStatus.SEC_E_OK, SecStatus.SEC_I_CONTINUE_NEEDED
REQS = [IscReq.INTEGRITY, IscReq.CONFIDENTIALITY, IscReq.REPLAY_DETECT, IscReq.SEQUENCE_DETECT,
        IscReq.IDENTIFY]


def pair(user: str = "CORP\\alice", password: str = "Passw0rd!", *,
         flags: IscReq = opensspi.api.DEFAULT_CLIENT_FLAGS, target: str | None = "HTTP/web",
         server_flags: AscReq = opensspi.api.DEFAULT_SERVER_FLAGS,
         client_bindings: bytes | None = None, server_bindings: bytes | None = None,
         client_env: Environment | None = None, server_env: Environment | None = None,
         ) -> ContextPair:
    kw = {"env": client_env} if client_env else {}
    client = opensspi.client("NTLM", user=user, password=password, target=target, flags=flags,
                             channel_bindings=client_bindings, **kw)  # type: ignore[arg-type]
    skw = {"env": server_env} if server_env else {}
    server = opensspi.server("NTLM", users=USERS, flags=server_flags,
                             channel_bindings=server_bindings, **skw)  # type: ignore[arg-type]
    return ContextPair(client, server)


@pytest.mark.parametrize(
    "flags",
    [IscReq(sum(c)) for n in range(len(REQS) + 1) for c in itertools.combinations(REQS, n)],
    ids=repr,
)
def test_every_flag_combination(flags: IscReq) -> None:
    p = pair(flags=flags).run()
    assert p.client_statuses == [CONTINUE, OK]
    assert p.server_statuses == [CONTINUE, OK]
    assert p.client.complete and p.server.complete
    assert p.client.session_key == p.server.session_key and len(p.client.session_key or b"") == 16
    cret, sret = IscRet(p.client.flags), AscRet(p.server.flags)
    wants_sign = bool(flags & (IscReq.INTEGRITY | IscReq.CONFIDENTIALITY | IscReq.REPLAY_DETECT
                               | IscReq.SEQUENCE_DETECT))
    assert bool(cret & IscRet.INTEGRITY) == wants_sign
    assert bool(sret & AscRet.INTEGRITY) == wants_sign
    assert bool(cret & IscRet.CONFIDENTIALITY) == bool(flags & IscReq.CONFIDENTIALITY)
    assert bool(sret & AscRet.CONFIDENTIALITY) == bool(flags & IscReq.CONFIDENTIALITY)
    assert bool(cret & IscRet.IDENTIFY) == bool(flags & IscReq.IDENTIFY)
    assert not cret & (IscRet.MUTUAL_AUTH | IscRet.DELEGATE)  # NTLM cannot provide them
    if flags & IscReq.CONFIDENTIALITY:
        assert p.server.unwrap(p.client.wrap(b"sealed")) == b"sealed"
        assert p.client.unwrap(p.server.wrap(b"back")) == b"back"
    elif wants_sign:
        p.server.verify(b"signed", p.client.sign(b"signed"))
        with pytest.raises(UnsupportedFunction):
            p.client.wrap(b"no sealing negotiated")
    else:
        with pytest.raises(UnsupportedFunction):
            p.client.sign(b"nothing negotiated")


def test_mutual_auth_request_is_not_reported() -> None:
    p = pair(flags=IscReq.MUTUAL_AUTH | IscReq.INTEGRITY).run()
    assert not p.client.flags & IscRet.MUTUAL_AUTH


@pytest.mark.parametrize("user,password", [("CORP\\jürgen", "Pässwörd€1"), ("bob", "hunter2")])
def test_non_ascii_and_domainless_users(user: str, password: str) -> None:
    p = pair(user, password).run()
    assert p.server.complete
    expected = user if "\\" in user else f"\\{user}"
    assert p.server.client_name == expected


def test_nt_hash_credential() -> None:
    client = opensspi.client("NTLM", user="alice", domain="CORP", nt_hash=ntowfv1("Passw0rd!"),
                             target="HTTP/web")
    server = opensspi.server("NTLM", users=USERS)
    assert ContextPair(client, server).run().server.client_name == "CORP\\alice"


def test_user_file(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "users"
    path.write_text("# comment\nCORP:alice:Passw0rd!\n:carol:s3cret\n", encoding="utf-8")
    monkeypatch.setenv("NTLM_USER_FILE", str(path))
    server = opensspi.server("NTLM")
    client = opensspi.client("NTLM", user="OTHER\\carol", password="s3cret", target="x/y")
    assert ContextPair(client, server).run().server.client_name == "OTHER\\carol"


def test_no_user_source_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NTLM_USER_FILE", raising=False)
    with pytest.raises(NoCredentials, match="NTLM_USER_FILE"):
        opensspi.server("NTLM")


@pytest.mark.parametrize(
    "user,password", [("CORP\\alice", "Wr0ng-Secret!"), ("CORP\\mallory", "Mall0ry-Pw")]
)
def test_wrong_password_and_unknown_user(user: str, password: str) -> None:
    p = pair(user, password)
    with pytest.raises(LogonDenied) as info:
        p.run()
    assert info.value.status == 0x8009030C
    assert password not in str(info.value)
    with pytest.raises(opensspi.SspiError):  # the context is dead afterwards
        p.server.step(b"NTLMSSP\0")


def test_anonymous_needs_the_server_to_allow_it() -> None:
    client = opensspi.client("NTLM", flags=IscReq.NULL_SESSION, credential=opensspi.credentials(
        "NTLM", auth_data=NtlmAuthData()))
    with pytest.raises(LogonDenied, match="ALLOW_NULL_SESSION"):
        ContextPair(client, opensspi.server("NTLM", users=USERS)).run()
    client = opensspi.client("NTLM", flags=IscReq.NULL_SESSION, credential=opensspi.credentials(
        "NTLM", auth_data=NtlmAuthData()))
    server = opensspi.server("NTLM", users=USERS,
                             flags=AscReq.ALLOW_NULL_SESSION | AscReq.INTEGRITY)
    p = ContextPair(client, server).run()
    assert p.server.flags & AscRet.NULL_SESSION and p.client.flags & IscRet.NULL_SESSION
    assert p.server.client_name == ""


def test_anonymous_without_null_session_request_is_refused() -> None:
    with pytest.raises(NoCredentials):
        opensspi.client("NTLM", credential=opensspi.credentials("NTLM", auth_data=NtlmAuthData()))


@pytest.mark.parametrize("flag", [IscReq.DATAGRAM, IscReq.USE_DCE_STYLE, IscReq.USE_SESSION_KEY,
                                  IscReq.USE_HTTP_STYLE])
def test_unsupported_request_flags(flag: IscReq) -> None:
    with pytest.raises(UnsupportedFunction) as info:
        pair(flags=IscReq.INTEGRITY | flag)
    assert info.value.status == 0x80090302


# -- AV pairs, MIC, bindings, timestamps --------------------------------------------------


def _client_blob(p: ContextPair) -> NtlmV2ClientChallenge:
    auth = AuthenticateMessage.parse(p.tokens[2])
    return NtlmV2ClientChallenge.parse(auth.nt_challenge_response[16:])


def test_target_name_mic_and_no_bindings_pair_by_default() -> None:
    p = pair(target="HTTP/web.corp.example").run()
    blob = _client_blob(p)
    assert blob.av_pairs.target_name == "HTTP/web.corp.example"
    assert blob.av_pairs.flags is not None and blob.av_pairs.flags & AvFlags.MIC_PROVIDED
    assert not blob.av_pairs.flags & AvFlags.UNTRUSTED_SPN_SOURCE
    assert AvId.MsvAvChannelBindings not in blob.av_pairs  # never an all-zero pair
    auth = AuthenticateMessage.parse(p.tokens[2])
    assert auth.mic is not None and auth.mic != bytes(16)
    assert auth.lm_challenge_response == bytes(24)  # MS-NLMP: Z(24) when a MIC is sent
    challenge = ChallengeMessage.parse(p.tokens[1])
    assert challenge.version is not None  # strict decoders need VERSION when flagged
    assert challenge.negotiate_flags & NegotiateFlags.NTLMSSP_NEGOTIATE_VERSION


def test_no_target_name_pair_without_target() -> None:
    assert _client_blob(pair(target=None).run()).av_pairs.target_name is None


def test_tampered_mic_is_rejected() -> None:
    p = pair()
    challenge = p.server.step(p.client.step())
    auth = bytearray(p.client.step(challenge) or b"")
    auth[72] ^= 0xFF  # the MIC field
    with pytest.raises(MessageAltered):
        p.server.step(bytes(auth))


def test_tampered_authenticate_fields_are_rejected() -> None:
    for offset in (12, 20, 28, 36):  # the Lm/Nt/Domain/User *Fields: lengths change meaning
        p = pair()
        challenge = p.server.step(p.client.step())
        auth = bytearray(p.client.step(challenge) or b"")
        auth[offset] ^= 0x01
        with pytest.raises(opensspi.SspiError) as info:
            p.server.step(bytes(auth))
        assert info.value.status in (0x80090308, 0x8009030C, 0x8009030F)


CB = b"tls-server-end-point:" + bytes(range(32))


def test_channel_bindings_match() -> None:
    p = pair(client_bindings=CB, server_bindings=CB).run()
    assert p.server.complete
    assert _client_blob(p).av_pairs.channel_bindings is not None


@pytest.mark.parametrize("client_cb", [None, b"tls-server-end-point:" + bytes(32)])
def test_channel_bindings_missing_or_wrong(client_cb: bytes | None) -> None:
    with pytest.raises(BadBindings) as info:
        pair(client_bindings=client_cb, server_bindings=CB).run()
    assert info.value.status == 0x80090346


def test_missing_bindings_allowed_when_asked() -> None:
    p = pair(server_bindings=CB,
             server_flags=AscReq.INTEGRITY | AscReq.ALLOW_MISSING_BINDINGS).run()
    assert p.server.complete


def test_client_bindings_ignored_by_a_server_without_them() -> None:
    assert pair(client_bindings=CB).run().server.complete


def _at(moment: datetime) -> Environment:
    return Environment(now=lambda: moment)


def test_stale_timestamp_is_time_skew() -> None:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    # The client normally echoes the server's timestamp; a server whose clock moved on by the
    # time the AUTHENTICATE arrives sees it as stale.
    times = iter([now, now + timedelta(minutes=10)])
    server_env = Environment(now=lambda: next(times))
    with pytest.raises(TimeSkew):
        pair(server_env=server_env, client_env=_at(now)).run()


def test_deterministic_tokens_with_fixed_environment() -> None:
    env = Environment(now=lambda: datetime(2026, 1, 1, tzinfo=timezone.utc),
                      random=lambda n: b"\x11" * n)
    a = pair(client_env=env, server_env=env).run().tokens
    b = pair(client_env=env, server_env=env).run().tokens
    assert a == b


# -- legacy levels --------------------------------------------------------------------------


def _legacy_pair(client_level: int, server_level: int) -> ContextPair:
    from opensspi.provider import AuthIdentity

    client = opensspi.client("NTLM", target="HTTP/web", auth_data=NtlmAuthData(
        identity=AuthIdentity("alice", "CORP", "Passw0rd!"),
        settings=NtlmSettings(lm_compatibility_level=client_level)))
    server = opensspi.server("NTLM", auth_data=NtlmAuthData(
        users=USERS, settings=NtlmSettings(lm_compatibility_level=server_level)))
    return ContextPair(client, server)


@pytest.mark.parametrize("level", [0, 1, 2])
def test_ntlmv1_refused_by_default_server(level: int) -> None:
    with pytest.raises(LogonDenied, match="NTLMv1"):
        _legacy_pair(level, 3).run()


@pytest.mark.parametrize("level", [0, 1, 2])
def test_ntlmv1_when_both_sides_allow_it(level: int) -> None:
    p = _legacy_pair(level, 2).run()
    assert p.server.complete and p.client.session_key == p.server.session_key
    assert p.server.unwrap(p.client.wrap(b"legacy")) == b"legacy"
    assert p.client.unwrap(p.server.wrap(b"reply")) == b"reply"


def test_default_client_never_sends_lm_or_ntlmv1() -> None:
    p = pair().run()
    auth = AuthenticateMessage.parse(p.tokens[2])
    assert len(auth.nt_challenge_response) > 24  # NTLMv2
    assert auth.lm_challenge_response == bytes(24)


# -- message protection -------------------------------------------------------------------


def test_replay_and_reorder_are_out_of_sequence_and_context_survives() -> None:
    p = pair().run()
    first, second = p.client.wrap(b"one"), p.client.wrap(b"two")
    with pytest.raises(OutOfSequence):
        p.server.unwrap(second)
    assert p.server.unwrap(first) == b"one"
    with pytest.raises(OutOfSequence):
        p.server.unwrap(first)
    assert p.server.unwrap(second) == b"two"


def test_tampered_message_is_altered_and_context_survives() -> None:
    p = pair().run()
    bad = bytearray(p.client.wrap(b"payload"))
    bad[-1] ^= 1
    with pytest.raises(MessageAltered) as info:
        p.server.unwrap(bytes(bad))
    assert info.value.status == 0x8009030F
    assert p.server.unwrap(p.client.wrap(b"next")) == b"next"


def test_short_message_is_invalid_token() -> None:
    p = pair().run()
    with pytest.raises(InvalidToken):
        p.server.unwrap(b"\x01\x00\x00\x00")
