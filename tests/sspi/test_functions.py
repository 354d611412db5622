"""The Windows contract of the SSPI functions, as the Microsoft documentation states it, checked
through the real NTLM package: packages, credentials, the handshake calls, output buffers,
``pfContextAttr``, failures and their status codes, context attributes, and secrets.

References: learn.microsoft.com ``/windows/win32/api/sspi/`` — InitializeSecurityContextW,
AcceptSecurityContext, QueryContextAttributesW, FreeContextBuffer, QuerySecurityPackageInfoW.
"""

from __future__ import annotations

import struct
from datetime import datetime

import pytest

import opensspi
from opensspi import sspi
from opensspi.attributes import (
    CredentialNames,
    Flags,
    Lifespan,
    Names,
    NativeNames,
    NegotiationInfo,
    SessionKey,
)
from opensspi.buffers import SecBuffer, SecBufferDesc
from opensspi.constants import (
    AscReq,
    AscRet,
    CredentialUse,
    IscReq,
    IscRet,
    NegotiationState,
    SecBufferType,
    SecPkgAttr,
    SecPkgCredAttr,
    SecPkgFlag,
    SecStatus,
)
from opensspi.errors import (
    BufferTooSmall,
    InvalidHandle,
    InvalidToken,
    LogonDenied,
    NoCredentials,
    PackageNotFound,
    SspiError,
    UnsupportedFunction,
)
from opensspi.packages.ntlm.credentials import NtlmAuthData
from opensspi.packages.ntlm.crypto import ntowfv1
from opensspi.provider import AuthIdentity, PackageInfo, Sizes

SIGNATURE = b"NTLMSSP\x00"


def message_type(token: bytes) -> int:
    assert token[:8] == SIGNATURE
    return int(struct.unpack_from("<I", token, 8)[0])


def sign(ctx: sspi.CtxtHandle, data: bytes) -> bytes:
    desc = SecBufferDesc([SecBuffer(SecBufferType.TOKEN, 16), SecBuffer(SecBufferType.DATA, data)])
    assert sspi.MakeSignature(ctx, 0, desc, 0) == SecStatus.SEC_E_OK
    return desc[0].buffer


def verify(ctx: sspi.CtxtHandle, data: bytes, signature: bytes) -> None:
    desc = SecBufferDesc(
        [SecBuffer(SecBufferType.TOKEN, signature), SecBuffer(SecBufferType.DATA, data)]
    )
    assert sspi.VerifySignature(ctx, desc, 0).status == SecStatus.SEC_E_OK


def assert_round_trip(a: sspi.CtxtHandle, b: sspi.CtxtHandle, data: bytes = b"ping") -> None:
    verify(b, data, sign(a, data))
    verify(a, data + b"!", sign(b, data + b"!"))


# -- packages -------------------------------------------------------------------------------


def test_enumerate_security_packages_lists_ntlm() -> None:
    packages = sspi.EnumerateSecurityPackages()
    assert all(isinstance(p, PackageInfo) for p in packages)
    ntlm = [p for p in packages if p.name == "NTLM"]
    assert len(ntlm) == 1
    assert ntlm[0].max_token == 2888
    assert ntlm[0].capabilities & SecPkgFlag.INTEGRITY
    assert ntlm[0].capabilities & SecPkgFlag.PRIVACY
    assert ntlm[0].rpcid == 10  # RPC_C_AUTHN_WINNT


@pytest.mark.parametrize("name", ["ntlm", "NTLM", "Ntlm", "nTlM"])
def test_query_security_package_info_is_case_insensitive(name: str) -> None:
    info = sspi.QuerySecurityPackageInfo(name)
    assert info.name == "NTLM"
    assert info == sspi.QuerySecurityPackageInfo("NTLM")


def test_unknown_package_is_secpkg_not_found() -> None:
    with pytest.raises(PackageNotFound) as info:
        sspi.QuerySecurityPackageInfo("NoSuchPackage")
    assert info.value.status == 0x80090305
    assert info.value.status == SecStatus.SEC_E_SECPKG_NOT_FOUND
    assert "NoSuchPackage" in str(info.value)


def test_acquire_credentials_for_unknown_package_is_secpkg_not_found() -> None:
    with pytest.raises(SspiError) as info:
        sspi.AcquireCredentialsHandle(
            None, "Kerberos5000", CredentialUse.OUTBOUND, None, ("a", "b", "c")
        )
    assert info.value.status == 0x80090305
    assert "Kerberos5000" in str(info.value)


# -- the handshake --------------------------------------------------------------------------


def test_first_call_fills_phNewContext_and_statuses_follow_the_docs(ntlm) -> None:  # noqa: N802
    client_cred, server_cred = ntlm.client_cred(), ntlm.server_cred()
    client, server = sspi.CtxtHandle(), sspi.CtxtHandle()
    assert not client.is_valid

    out = ntlm.token_out()
    r1 = sspi.InitializeSecurityContext(
        client_cred, None, ntlm.target, ntlm.default_isc, 0, 0, None, 0, client, out
    )
    assert r1.status == SecStatus.SEC_I_CONTINUE_NEEDED
    assert client.is_valid
    negotiate = out[0].buffer
    assert message_type(negotiate) == 1
    assert out[0].cbBuffer == len(negotiate)

    out = ntlm.token_out()
    r2 = sspi.AcceptSecurityContext(
        server_cred, None, ntlm.token_in(negotiate), ntlm.default_asc, 0, server, out
    )
    assert r2.status == SecStatus.SEC_I_CONTINUE_NEEDED
    assert server.is_valid
    challenge = out[0].buffer
    assert message_type(challenge) == 2

    out = ntlm.token_out()
    r3 = sspi.InitializeSecurityContext(
        None, client, ntlm.target, ntlm.default_isc, 0, 0, ntlm.token_in(challenge), 0,
        client, out,
    )
    assert r3.status == SecStatus.SEC_E_OK
    authenticate = out[0].buffer
    assert message_type(authenticate) == 3

    out = ntlm.token_out()
    r4 = sspi.AcceptSecurityContext(
        None, server, ntlm.token_in(authenticate), ntlm.default_asc, 0, server, out
    )
    assert r4.status == SecStatus.SEC_E_OK
    assert out[0].buffer == b""  # NTLM's acceptor has nothing more to send
    assert_round_trip(client, server)


def test_call_on_completed_client_context_starts_reauthentication(ntlm, pair) -> None:
    old_key = sspi.QueryContextAttributes(pair.client, SecPkgAttr.SESSION_KEY).session_key

    out = ntlm.token_out()
    result = sspi.InitializeSecurityContext(
        None, pair.client, ntlm.target, ntlm.default_isc, 0, 0, None, 0, pair.client, out
    )
    assert result.status == SecStatus.SEC_I_CONTINUE_NEEDED
    assert message_type(out[0].buffer) == 1  # a new NEGOTIATE

    fresh = sspi.CtxtHandle()
    token = out[0].buffer
    out = ntlm.token_out()
    r = sspi.AcceptSecurityContext(
        pair.server_cred, None, ntlm.token_in(token), ntlm.default_asc, 0, fresh, out
    )
    assert r.status == SecStatus.SEC_I_CONTINUE_NEEDED
    challenge = out[0].buffer
    out = ntlm.token_out()
    r = sspi.InitializeSecurityContext(
        None, pair.client, ntlm.target, ntlm.default_isc, 0, 0, ntlm.token_in(challenge), 0,
        pair.client, out,
    )
    assert r.status == SecStatus.SEC_E_OK
    authenticate = out[0].buffer
    r = sspi.AcceptSecurityContext(
        None, fresh, ntlm.token_in(authenticate), ntlm.default_asc, 0, fresh, ntlm.token_out()
    )
    assert r.status == SecStatus.SEC_E_OK

    new_key = sspi.QueryContextAttributes(pair.client, SecPkgAttr.SESSION_KEY).session_key
    assert new_key == sspi.QueryContextAttributes(fresh, SecPkgAttr.SESSION_KEY).session_key
    assert new_key != old_key
    assert_round_trip(pair.client, fresh)


# -- output buffers -------------------------------------------------------------------------


def test_allocate_memory_fills_an_empty_buffer_and_free_context_buffer_empties_it(ntlm) -> None:
    hs_client, hs_server = sspi.CtxtHandle(), sspi.CtxtHandle()
    cred_c, cred_s = ntlm.client_cred(), ntlm.server_cred()
    isc = ntlm.default_isc | IscReq.ALLOCATE_MEMORY
    asc = ntlm.default_asc | AscReq.ALLOCATE_MEMORY

    out = ntlm.token_out(0)
    r = sspi.InitializeSecurityContext(cred_c, None, ntlm.target, isc, 0, 0, None, 0,
                                       hs_client, out)
    assert r.status == SecStatus.SEC_I_CONTINUE_NEEDED
    assert r.context_attr & IscRet.ALLOCATED_MEMORY
    assert message_type(out[0].buffer) == 1
    assert out[0].cbBuffer == len(out[0].buffer) > 0
    negotiate = out[0].buffer
    assert sspi.FreeContextBuffer(out) == SecStatus.SEC_E_OK
    assert out[0].buffer == b""
    assert out[0].cbBuffer == 0

    out = ntlm.token_out(0)
    r2 = sspi.AcceptSecurityContext(cred_s, None, ntlm.token_in(negotiate), asc, 0,
                                    hs_server, out)
    assert r2.context_attr & AscRet.ALLOCATED_MEMORY
    challenge = out[0].buffer
    assert message_type(challenge) == 2
    sspi.FreeContextBuffer(out[0])
    assert out[0].buffer == b""

    out = ntlm.token_out(0)
    r = sspi.InitializeSecurityContext(None, hs_client, ntlm.target, isc, 0, 0,
                                       ntlm.token_in(challenge), 0, hs_client, out)
    assert r.status == SecStatus.SEC_E_OK
    assert r.context_attr & IscRet.ALLOCATED_MEMORY
    r2 = sspi.AcceptSecurityContext(None, hs_server, ntlm.token_in(out[0].buffer), asc, 0,
                                    hs_server, ntlm.token_out(0))
    assert r2.status == SecStatus.SEC_E_OK
    assert_round_trip(hs_client, hs_server)


def test_without_allocate_memory_a_small_buffer_is_buffer_too_small(ntlm) -> None:
    negotiate = ntlm.legs()[0]
    handle = sspi.CtxtHandle()
    with pytest.raises(BufferTooSmall) as info:
        sspi.InitializeSecurityContext(
            ntlm.client_cred(), None, ntlm.target, ntlm.default_isc, 0, 0, None, 0, handle,
            ntlm.token_out(10),
        )
    assert info.value.status == 0x80090321
    assert f"{len(negotiate)} are needed" in str(info.value)
    assert "holds 10 bytes" in str(info.value)
    assert not handle.is_valid


def test_server_output_buffer_too_small_names_the_size(ntlm) -> None:
    negotiate, challenge, _ = ntlm.legs()
    with pytest.raises(BufferTooSmall) as info:
        sspi.AcceptSecurityContext(
            ntlm.server_cred(), None, ntlm.token_in(negotiate), ntlm.default_asc, 0,
            sspi.CtxtHandle(), ntlm.token_out(16),
        )
    assert info.value.status == SecStatus.SEC_E_BUFFER_TOO_SMALL
    assert f"{len(challenge)} are needed" in str(info.value)


def test_buffer_too_small_on_the_last_client_leg_leaves_no_usable_context(ntlm) -> None:
    """The AUTHENTICATE message was lost: the client must not pretend to be authenticated."""
    client_cred, server_cred = ntlm.client_cred(), ntlm.server_cred()
    client, server = sspi.CtxtHandle(), sspi.CtxtHandle()
    out = ntlm.token_out()
    sspi.InitializeSecurityContext(client_cred, None, ntlm.target, ntlm.default_isc, 0, 0, None,
                                   0, client, out)
    chal = ntlm.token_out()
    sspi.AcceptSecurityContext(server_cred, None, ntlm.token_in(out[0].buffer),
                               ntlm.default_asc, 0, server, chal)
    with pytest.raises(BufferTooSmall):
        sspi.InitializeSecurityContext(None, client, ntlm.target, ntlm.default_isc, 0, 0,
                                       ntlm.token_in(chal[0].buffer), 0, client,
                                       ntlm.token_out(20))
    desc = SecBufferDesc([SecBuffer(SecBufferType.TOKEN, 16), SecBuffer(SecBufferType.DATA, b"x")])
    with pytest.raises(SspiError):
        sspi.MakeSignature(client, 0, desc, 0)
    with pytest.raises(SspiError):
        sspi.InitializeSecurityContext(None, client, ntlm.target, ntlm.default_isc, 0, 0,
                                       ntlm.token_in(chal[0].buffer), 0, client,
                                       ntlm.token_out())
    assert sspi.DeleteSecurityContext(client) == SecStatus.SEC_E_OK


# -- pfContextAttr --------------------------------------------------------------------------


def test_integrity_only_gives_no_confidentiality(ntlm) -> None:
    isc = IscReq.INTEGRITY | IscReq.REPLAY_DETECT | IscReq.SEQUENCE_DETECT
    hs = ntlm.handshake(isc=isc)
    assert hs.client_attrs & IscRet.INTEGRITY
    assert not hs.client_attrs & IscRet.CONFIDENTIALITY
    assert hs.server_attrs & AscRet.INTEGRITY
    assert not hs.server_attrs & AscRet.CONFIDENTIALITY  # the server asked; the client did not
    assert_round_trip(hs.client, hs.server)
    for ctx in (hs.client, hs.server):
        desc = SecBufferDesc(
            [SecBuffer(SecBufferType.TOKEN, 16), SecBuffer(SecBufferType.DATA, b"secret")]
        )
        with pytest.raises(UnsupportedFunction) as info:
            sspi.EncryptMessage(ctx, 0, desc, 0)
        assert info.value.status == 0x80090302
        assert desc[1].buffer == b"secret"


def test_mutual_auth_is_requested_but_not_returned(ntlm) -> None:
    hs = ntlm.handshake(isc=ntlm.default_isc | IscReq.MUTUAL_AUTH,
                        asc=ntlm.default_asc | AscReq.MUTUAL_AUTH)
    assert hs.client_results[-1].status == SecStatus.SEC_E_OK
    assert not hs.client_attrs & IscRet.MUTUAL_AUTH
    assert not hs.server_attrs & AscRet.MUTUAL_AUTH


def test_confidentiality_requested_is_returned_with_ret_bits(ntlm, pair) -> None:
    assert pair.client_attrs & IscRet.CONFIDENTIALITY
    assert pair.client_attrs & IscRet.INTEGRITY  # 0x10000 on the client ...
    assert pair.server_attrs & AscRet.CONFIDENTIALITY
    assert pair.server_attrs & AscRet.INTEGRITY  # ... 0x20000 on the server
    assert not pair.server_attrs & AscRet.STREAM  # 0x10000 is STREAM for ASC
    assert pair.client_attrs & IscRet.CONNECTION
    assert pair.server_attrs & AscRet.CONNECTION


def test_request_bits_are_not_echoed(ntlm) -> None:
    """REQ and RET differ at 0x40, 0x1000 and 0x2000; nothing NTLM cannot give comes back."""
    isc = ntlm.default_isc | IscReq.CALL_LEVEL | IscReq.FRAGMENT_SUPPLIED | IscReq.DELEGATE
    hs = ntlm.handshake(isc=isc, asc=ntlm.default_asc | AscReq.DELEGATE)
    assert not hs.client_attrs & IscRet.INTERMEDIATE_RETURN  # 0x1000
    assert not hs.client_attrs & IscRet.CALL_LEVEL  # 0x2000
    assert not hs.client_attrs & IscRet.DELEGATE
    assert not hs.server_attrs & AscRet.DELEGATE
    assert isinstance(hs.client_attrs, IscRet)
    assert isinstance(hs.server_attrs, AscRet)


def test_intermediate_attrs_before_completion_claim_no_protection(ntlm) -> None:
    hs = ntlm.handshake()
    first = hs.client_results[0].context_attr
    assert hs.client_results[0].status == SecStatus.SEC_I_CONTINUE_NEEDED
    assert not first & (IscRet.CONFIDENTIALITY | IscRet.INTEGRITY)
    assert not hs.server_results[0].context_attr & (AscRet.CONFIDENTIALITY | AscRet.INTEGRITY)


# -- failures -------------------------------------------------------------------------------


def _run_until_authenticate(ntlm, client_password: str, user: str = "alice"):
    """Client with ``client_password`` against the standard acceptor; returns the server
    handle and the AUTHENTICATE token that the server has not yet seen."""
    client, server = sspi.CtxtHandle(), sspi.CtxtHandle()
    out = ntlm.token_out()
    sspi.InitializeSecurityContext(ntlm.client_cred(user=user, password=client_password), None,
                                   ntlm.target, ntlm.default_isc, 0, 0, None, 0, client, out)
    chal = ntlm.token_out()
    sspi.AcceptSecurityContext(ntlm.server_cred(), None, ntlm.token_in(out[0].buffer),
                               ntlm.default_asc, 0, server, chal)
    auth = ntlm.token_out()
    r = sspi.InitializeSecurityContext(None, client, ntlm.target, ntlm.default_isc, 0, 0,
                                       ntlm.token_in(chal[0].buffer), 0, client, auth)
    assert r.status == SecStatus.SEC_E_OK  # NTLM's client cannot know the password is wrong
    return server, auth[0].buffer


def _assert_dead(ntlm, server: sspi.CtxtHandle, token: bytes) -> None:
    with pytest.raises(SspiError) as info:
        sspi.AcceptSecurityContext(None, server, ntlm.token_in(token), ntlm.default_asc, 0,
                                   server, ntlm.token_out())
    assert info.value.status & 0x80000000
    desc = SecBufferDesc([SecBuffer(SecBufferType.TOKEN, 16), SecBuffer(SecBufferType.DATA, b"x")])
    with pytest.raises(SspiError):
        sspi.MakeSignature(server, 0, desc, 0)
    assert sspi.DeleteSecurityContext(server) == SecStatus.SEC_E_OK


def test_wrong_password_is_logon_denied_without_the_password(ntlm) -> None:
    server, auth = _run_until_authenticate(ntlm, "WrongPassw0rd")
    with pytest.raises(LogonDenied) as info:
        sspi.AcceptSecurityContext(None, server, ntlm.token_in(auth), ntlm.default_asc, 0,
                                   server, ntlm.token_out())
    assert info.value.status == 0x8009030C
    text = str(info.value) + repr(info.value)
    for secret in ("WrongPassw0rd", "Passw0rd!", ntowfv1("Passw0rd!").hex(),
                   ntowfv1("WrongPassw0rd").hex()):
        assert secret.lower() not in text.lower()
    _assert_dead(ntlm, server, auth)


def test_wrong_password_message_names_the_user(ntlm) -> None:
    server, auth = _run_until_authenticate(ntlm, "WrongPassw0rd")
    with pytest.raises(LogonDenied) as info:
        sspi.AcceptSecurityContext(None, server, ntlm.token_in(auth), ntlm.default_asc, 0,
                                   server, ntlm.token_out())
    assert "alice" in str(info.value)


def test_unknown_user_is_logon_denied_naming_the_user(ntlm) -> None:
    server, auth = _run_until_authenticate(ntlm, "Secret123!", user="mallory")
    with pytest.raises(LogonDenied) as info:
        sspi.AcceptSecurityContext(None, server, ntlm.token_in(auth), ntlm.default_asc, 0,
                                   server, ntlm.token_out())
    assert info.value.status == SecStatus.SEC_E_LOGON_DENIED
    assert "mallory" in str(info.value)
    assert "Secret123!" not in str(info.value) + repr(info.value)
    _assert_dead(ntlm, server, auth)


GARBAGE = b"this is certainly not an NTLM message"


def _bad_tokens(good: bytes, wrong_types: list[bytes]) -> list[bytes]:
    cuts = sorted({1, 7, 8, 11, 12, 16, 24, len(good) // 2, len(good) - 1})
    return [GARBAGE, b"\x00" * 64, *(good[:n] for n in cuts if n < len(good)), *wrong_types]


def test_invalid_tokens_at_the_servers_first_leg(ntlm) -> None:
    negotiate, challenge, authenticate = ntlm.legs()
    cred = ntlm.server_cred()
    for bad in _bad_tokens(negotiate, [challenge, authenticate]):
        handle = sspi.CtxtHandle()
        with pytest.raises(InvalidToken) as info:
            sspi.AcceptSecurityContext(cred, None, ntlm.token_in(bad), ntlm.default_asc, 0,
                                       handle, ntlm.token_out())
        assert info.value.status == 0x80090308, bad
        with pytest.raises(InvalidHandle):
            sspi.QueryContextAttributes(handle, SecPkgAttr.SIZES)


def test_invalid_tokens_at_the_clients_second_leg(ntlm) -> None:
    negotiate, challenge, authenticate = ntlm.legs()
    cred = ntlm.client_cred()
    for bad in _bad_tokens(challenge, [negotiate, authenticate]):
        client = sspi.CtxtHandle()
        sspi.InitializeSecurityContext(cred, None, ntlm.target, ntlm.default_isc, 0, 0, None, 0,
                                       client, ntlm.token_out())
        with pytest.raises(InvalidToken) as info:
            sspi.InitializeSecurityContext(None, client, ntlm.target, ntlm.default_isc, 0, 0,
                                           ntlm.token_in(bad), 0, client, ntlm.token_out())
        assert info.value.status == SecStatus.SEC_E_INVALID_TOKEN, bad
        # Dead: a genuine CHALLENGE no longer helps, and no other exception type leaks out.
        with pytest.raises(SspiError):
            sspi.InitializeSecurityContext(None, client, ntlm.target, ntlm.default_isc, 0, 0,
                                           ntlm.token_in(challenge), 0, client, ntlm.token_out())


def test_invalid_tokens_at_the_servers_last_leg(ntlm) -> None:
    negotiate, challenge, authenticate = ntlm.legs()
    for bad in _bad_tokens(authenticate, [negotiate, challenge]):
        client, server = sspi.CtxtHandle(), sspi.CtxtHandle()
        out = ntlm.token_out()
        sspi.InitializeSecurityContext(ntlm.client_cred(), None, ntlm.target, ntlm.default_isc,
                                       0, 0, None, 0, client, out)
        chal = ntlm.token_out()
        sspi.AcceptSecurityContext(ntlm.server_cred(), None, ntlm.token_in(out[0].buffer),
                                   ntlm.default_asc, 0, server, chal)
        auth = ntlm.token_out()
        sspi.InitializeSecurityContext(None, client, ntlm.target, ntlm.default_isc, 0, 0,
                                       ntlm.token_in(chal[0].buffer), 0, client, auth)
        with pytest.raises(InvalidToken) as info:
            sspi.AcceptSecurityContext(None, server, ntlm.token_in(bad), ntlm.default_asc, 0,
                                       server, ntlm.token_out())
        assert info.value.status == SecStatus.SEC_E_INVALID_TOKEN, bad
        _assert_dead(ntlm, server, auth[0].buffer)  # not even the genuine token helps now


def test_deleted_context_is_invalid_handle(pair) -> None:
    assert sspi.DeleteSecurityContext(pair.server) == SecStatus.SEC_E_OK
    desc = SecBufferDesc([SecBuffer(SecBufferType.TOKEN, 16), SecBuffer(SecBufferType.DATA, b"x")])
    for call in (
        lambda: sspi.MakeSignature(pair.server, 0, desc, 0),
        lambda: sspi.EncryptMessage(pair.server, 0, desc, 0),
        lambda: sspi.QueryContextAttributes(pair.server, SecPkgAttr.SIZES),
        lambda: sspi.DeleteSecurityContext(pair.server),
        lambda: sspi.AcceptSecurityContext(None, pair.server, None, 0, 0, pair.server,
                                           SecBufferDesc()),
    ):
        with pytest.raises(InvalidHandle) as info:
            call()
        assert info.value.status == 0x80090301
    sign(pair.client, b"the peer's context is unaffected")


def test_freed_credential_is_invalid_handle(ntlm) -> None:
    cred = ntlm.client_cred()
    assert sspi.FreeCredentialsHandle(cred) == SecStatus.SEC_E_OK
    with pytest.raises(InvalidHandle) as info:
        sspi.InitializeSecurityContext(cred, None, ntlm.target, ntlm.default_isc, 0, 0, None, 0,
                                       sspi.CtxtHandle(), ntlm.token_out())
    assert info.value.status == SecStatus.SEC_E_INVALID_HANDLE
    with pytest.raises(InvalidHandle):
        sspi.FreeCredentialsHandle(cred)
    with pytest.raises(InvalidHandle):
        sspi.QueryCredentialsAttributes(cred, SecPkgCredAttr.NAMES)


def test_never_filled_handles_are_invalid(ntlm) -> None:
    with pytest.raises(InvalidHandle):
        sspi.QueryContextAttributes(sspi.CtxtHandle(), SecPkgAttr.SIZES)
    with pytest.raises(InvalidHandle):
        sspi.InitializeSecurityContext(None, sspi.CtxtHandle(), ntlm.target, ntlm.default_isc,
                                       0, 0, None, 0, None, ntlm.token_out())
    with pytest.raises(InvalidHandle):
        sspi.AcceptSecurityContext(sspi.CredHandle(), None, ntlm.token_in(ntlm.legs()[0]),
                                   ntlm.default_asc, 0, None, ntlm.token_out())


def test_handles_of_the_wrong_kind_are_invalid(ntlm, pair) -> None:
    with pytest.raises(InvalidHandle) as info:
        sspi.QueryContextAttributes(pair.client_cred, SecPkgAttr.SIZES)  # type: ignore[arg-type]
    assert info.value.status == SecStatus.SEC_E_INVALID_HANDLE
    with pytest.raises(InvalidHandle):
        sspi.InitializeSecurityContext(None, pair.client_cred, ntlm.target,  # type: ignore[arg-type]
                                       ntlm.default_isc, 0, 0, None, 0, None, ntlm.token_out())
    with pytest.raises(InvalidHandle):
        sspi.InitializeSecurityContext(pair.client, None, ntlm.target,  # type: ignore[arg-type]
                                       ntlm.default_isc, 0, 0, None, 0, None, ntlm.token_out())
    with pytest.raises(InvalidHandle):
        sspi.FreeCredentialsHandle(pair.client)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "flag", [IscReq.DATAGRAM, IscReq.USE_DCE_STYLE, IscReq.USE_SESSION_KEY],
    ids=lambda f: f.name,
)
def test_unsupported_client_requests(ntlm, flag: IscReq) -> None:
    handle = sspi.CtxtHandle()
    with pytest.raises(UnsupportedFunction) as info:
        sspi.InitializeSecurityContext(ntlm.client_cred(), None, ntlm.target,
                                       ntlm.default_isc | flag, 0, 0, None, 0, handle,
                                       ntlm.token_out())
    assert info.value.status == 0x80090302
    assert flag.name in str(info.value)
    assert not handle.is_valid


@pytest.mark.parametrize(
    "flag", [AscReq.DATAGRAM, AscReq.USE_DCE_STYLE, AscReq.USE_SESSION_KEY],
    ids=lambda f: f.name,
)
def test_unsupported_server_requests(ntlm, flag: AscReq) -> None:
    with pytest.raises(UnsupportedFunction) as info:
        sspi.AcceptSecurityContext(ntlm.server_cred(), None, ntlm.token_in(ntlm.legs()[0]),
                                   ntlm.default_asc | flag, 0, sspi.CtxtHandle(),
                                   ntlm.token_out())
    assert info.value.status == SecStatus.SEC_E_UNSUPPORTED_FUNCTION


def test_inbound_credential_cannot_initiate(ntlm) -> None:
    cred = ntlm.server_cred()
    with pytest.raises(NoCredentials) as info:
        sspi.InitializeSecurityContext(cred, None, ntlm.target, ntlm.default_isc, 0, 0, None, 0,
                                       sspi.CtxtHandle(), ntlm.token_out())
    assert info.value.status == 0x8009030E
    assert "OUTBOUND" in str(info.value)


def test_outbound_credential_cannot_accept(ntlm) -> None:
    with pytest.raises(NoCredentials) as info:
        sspi.AcceptSecurityContext(ntlm.client_cred(), None, ntlm.token_in(ntlm.legs()[0]),
                                   ntlm.default_asc, 0, sspi.CtxtHandle(), ntlm.token_out())
    assert info.value.status == SecStatus.SEC_E_NO_CREDENTIALS


def test_both_credential_can_initiate_and_accept(ntlm) -> None:
    data = NtlmAuthData(AuthIdentity("alice", "CORP", "Passw0rd!"), {"CORP\\alice": "Passw0rd!"})
    both = sspi.AcquireCredentialsHandle(None, "NTLM", CredentialUse.BOTH, None, data).credential
    hs = ntlm.handshake(client_cred=both, server_cred=both)
    assert hs.server_results[-1].status == SecStatus.SEC_E_OK
    assert_round_trip(hs.client, hs.server)


# -- QueryContextAttributes -----------------------------------------------------------------


def test_sizes(pair) -> None:
    for ctx in (pair.client, pair.server):
        sizes = sspi.QueryContextAttributes(ctx, SecPkgAttr.SIZES)
        assert isinstance(sizes, Sizes)
        assert (sizes.max_signature, sizes.security_trailer) == (16, 16)
        assert sizes.block_size == 0
        assert sizes.max_token == 2888


def test_names_and_native_names(ntlm, pair) -> None:
    server_names = sspi.QueryContextAttributes(pair.server, SecPkgAttr.NAMES)
    assert server_names == Names("CORP\\alice")
    client_names = sspi.QueryContextAttributes(pair.client, SecPkgAttr.NAMES)
    assert client_names == Names("CORP\\alice")
    native = sspi.QueryContextAttributes(pair.server, SecPkgAttr.NATIVE_NAMES)
    assert isinstance(native, NativeNames)
    assert native.client_name == "CORP\\alice"
    client_native = sspi.QueryContextAttributes(pair.client, SecPkgAttr.NATIVE_NAMES)
    assert client_native == NativeNames("CORP\\alice", ntlm.target)


def test_session_key_is_the_same_16_bytes_on_both_sides(pair) -> None:
    client_key = sspi.QueryContextAttributes(pair.client, SecPkgAttr.SESSION_KEY)
    server_key = sspi.QueryContextAttributes(pair.server, SecPkgAttr.SESSION_KEY)
    assert isinstance(client_key, SessionKey)
    assert len(client_key.session_key) == 16
    assert client_key.session_key == server_key.session_key
    assert client_key.session_key != bytes(16)


def test_package_info_negotiation_info_flags_lifespan(pair) -> None:
    for ctx, results in ((pair.client, pair.client_results), (pair.server, pair.server_results)):
        info = sspi.QueryContextAttributes(ctx, SecPkgAttr.PACKAGE_INFO)
        assert info == sspi.QuerySecurityPackageInfo("NTLM")
        nego = sspi.QueryContextAttributes(ctx, SecPkgAttr.NEGOTIATION_INFO)
        assert nego == NegotiationInfo(info, NegotiationState.COMPLETE)
        flags = sspi.QueryContextAttributes(ctx, SecPkgAttr.FLAGS)
        assert flags == Flags(int(results[-1].context_attr))
        life = sspi.QueryContextAttributes(ctx, SecPkgAttr.LIFESPAN)
        assert isinstance(life, Lifespan)
        assert life.expiry == results[-1].expiry
        assert life.expiry is None or isinstance(life.expiry, datetime)


def test_attributes_before_completion(ntlm) -> None:
    client, server = sspi.CtxtHandle(), sspi.CtxtHandle()
    out = ntlm.token_out()
    sspi.InitializeSecurityContext(ntlm.client_cred(), None, ntlm.target, ntlm.default_isc, 0,
                                   0, None, 0, client, out)
    sspi.AcceptSecurityContext(ntlm.server_cred(), None, ntlm.token_in(out[0].buffer),
                               ntlm.default_asc, 0, server, ntlm.token_out())
    for ctx in (client, server):
        nego = sspi.QueryContextAttributes(ctx, SecPkgAttr.NEGOTIATION_INFO)
        assert nego.negotiation_state == NegotiationState.IN_PROGRESS
        for attribute in (SecPkgAttr.NAMES, SecPkgAttr.NATIVE_NAMES, SecPkgAttr.SESSION_KEY):
            with pytest.raises(SspiError) as info:
                sspi.QueryContextAttributes(ctx, attribute)
            assert info.value.status & 0x80000000
            assert attribute.name in str(info.value)


def test_query_credentials_attributes_names(ntlm) -> None:
    names = sspi.QueryCredentialsAttributes(ntlm.client_cred(), SecPkgCredAttr.NAMES)
    assert names == CredentialNames("CORP\\alice")
    with pytest.raises(UnsupportedFunction):
        sspi.QueryCredentialsAttributes(ntlm.client_cred(), SecPkgCredAttr.CERT)


# -- secrets --------------------------------------------------------------------------------


def _secret_strings(*keys: bytes) -> list[str]:
    out = ["Passw0rd!", ntowfv1("Passw0rd!").hex()]
    for key in keys:
        out += [key.hex(), key.hex().upper(), repr(key)[2:-1]]
    return out


def _assert_no_secret(obj: object, secrets: list[str]) -> None:
    for text in (repr(obj), str(obj)):
        for secret in secrets:
            assert secret not in text, (type(obj).__name__, text)


def test_no_secret_in_reprs(ntlm, pair) -> None:
    key = sspi.QueryContextAttributes(pair.client, SecPkgAttr.SESSION_KEY)
    secrets = _secret_strings(key.session_key)
    identity = AuthIdentity("alice", "CORP", "Passw0rd!", ntowfv1("Passw0rd!"))
    credential = opensspi.credentials("NTLM", user="alice", domain="CORP", password="Passw0rd!")
    client = opensspi.client("NTLM", user="CORP\\alice", password="Passw0rd!")
    for obj in (
        pair.client_cred, pair.server_cred, pair.client, pair.server, key, identity,
        credential, client.context, client,
        sspi.QueryContextAttributes(pair.server, SecPkgAttr.NAMES),
        *pair.client_results, *pair.server_results,
    ):
        _assert_no_secret(obj, secrets)


def test_no_secret_in_exceptions(ntlm, pair) -> None:
    key = sspi.QueryContextAttributes(pair.server, SecPkgAttr.SESSION_KEY).session_key
    secrets = _secret_strings(key)
    errors: list[SspiError] = []
    server, auth = _run_until_authenticate(ntlm, "Passw0rd!x")
    with pytest.raises(SspiError) as info:
        sspi.AcceptSecurityContext(None, server, ntlm.token_in(auth), ntlm.default_asc, 0,
                                   server, ntlm.token_out())
    errors.append(info.value)
    desc = SecBufferDesc([SecBuffer(SecBufferType.TOKEN, bytes(16)),
                          SecBuffer(SecBufferType.DATA, b"forged")])
    with pytest.raises(SspiError) as info:
        sspi.VerifySignature(pair.server, desc, 0)
    errors.append(info.value)
    for error in errors:
        _assert_no_secret(error, [*secrets, "Passw0rd!x"])
        _assert_no_secret(error.args, [*secrets, "Passw0rd!x"])
