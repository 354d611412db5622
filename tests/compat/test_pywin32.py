"""pywin32's documented usage, run against the look-alike modules in opensspi.compat.pywin32.

The programs below are written the way pywin32's own ``sspi.py`` demo and ``sspi_auth.py`` use
``win32security`` / ``sspi`` / ``sspicon``: the modules are imported by their pywin32 names from
the folder ``opensspi.compat.pywin32.PATH``, and the server's accounts come from an
``NTLM_USER_FILE``. Reference values are pywin32's ``win32/Lib/sspicon.py`` (signed 32-bit, as
h2py wrote them); the whole table is ``pywin32_sspicon.json`` beside this file.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

import opensspi.compat.pywin32.sspi as package_sspi
import opensspi.compat.pywin32.win32security as package_win32security
from opensspi.compat.pywin32 import PATH
from opensspi.constants import SecStatus

MODULES = ("win32security", "sspi", "sspicon", "pywintypes")
AUTH_INFO = ("alice", "CORP", "Passw0rd!")
TARGET = "HTTP/web.corp"


@pytest.fixture
def pw(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[SimpleNamespace]:
    """``import win32security, sspi, sspicon, pywintypes`` from the look-alike folder."""
    users = tmp_path / "ntlm_user_file"
    users.write_text("CORP:alice:Passw0rd!\n", encoding="utf-8")
    monkeypatch.setenv("NTLM_USER_FILE", str(users))
    saved = {name: sys.modules.pop(name) for name in MODULES if name in sys.modules}
    sys.path.insert(0, PATH)
    try:
        modules: dict[str, ModuleType] = {n: importlib.import_module(n) for n in MODULES}
        for module in modules.values():
            assert Path(module.__file__ or "").parent == Path(PATH)
        yield SimpleNamespace(**modules)
    finally:
        sys.path.remove(PATH)
        for name in MODULES:
            sys.modules.pop(name, None)
        sys.modules.update(saved)


def authenticate(client: Any, server: Any) -> tuple[list[int], list[int]]:
    """pywin32's demo loop, passing the PySecBufferDescType straight through."""
    client_errs: list[int] = []
    server_errs: list[int] = []
    sec_buffer = None
    for _ in range(10):
        err, sec_buffer = client.authorize(sec_buffer)
        client_errs.append(err)
        err, sec_buffer = server.authorize(sec_buffer)
        server_errs.append(err)
        if err == 0:
            break
    return client_errs, server_errs


@pytest.fixture
def auth(pw: SimpleNamespace) -> tuple[Any, Any]:
    client = pw.sspi.ClientAuth("NTLM", auth_info=AUTH_INFO, targetspn=TARGET)
    server = pw.sspi.ServerAuth("NTLM")
    authenticate(client, server)
    assert client.authenticated and server.authenticated
    return client, server


# -- the handshake --------------------------------------------------------------------------


def test_classic_authorize_loop(pw: SimpleNamespace) -> None:
    client = pw.sspi.ClientAuth("NTLM", auth_info=AUTH_INFO, targetspn=TARGET)
    server = pw.sspi.ServerAuth("NTLM")
    assert not client.authenticated and client.ctxt is None
    client_errs, server_errs = authenticate(client, server)
    assert client_errs == [pw.sspicon.SEC_I_CONTINUE_NEEDED, 0]
    assert server_errs == [pw.sspicon.SEC_I_CONTINUE_NEEDED, 0]
    assert client.authenticated and server.authenticated
    assert isinstance(client.ctxt, pw.win32security.PyCtxtHandleType)
    assert server.initiator_name == "CORP\\alice"
    assert client.ctxt_attr & pw.sspicon.ISC_RET_CONFIDENTIALITY
    assert client.ctxt_attr & pw.sspicon.ISC_RET_INTEGRITY
    assert server.ctxt_attr & pw.sspicon.ASC_RET_CONFIDENTIALITY
    assert server.ctxt_attr & pw.sspicon.ASC_RET_INTEGRITY
    assert isinstance(client.ctxt_expiry, datetime)
    assert isinstance(client.credentials_expiry, datetime)


def test_authorize_accepts_raw_token_bytes(pw: SimpleNamespace) -> None:
    client = pw.sspi.ClientAuth("NTLM", auth_info=AUTH_INFO, targetspn=TARGET)
    server = pw.sspi.ServerAuth("NTLM")
    err, out = client.authorize(None)
    assert err == pw.sspicon.SEC_I_CONTINUE_NEEDED
    assert out[0].Buffer[:8] == b"NTLMSSP\x00"
    err, out = server.authorize(out[0].Buffer)
    assert err == pw.sspicon.SEC_I_CONTINUE_NEEDED
    err, out = client.authorize(out[0].Buffer)
    assert err == 0
    err, out = server.authorize(out[0].Buffer)
    assert err == 0 and server.authenticated


def test_wrong_password_raises_logon_denied(pw: SimpleNamespace) -> None:
    client = pw.sspi.ClientAuth("NTLM", auth_info=("alice", "CORP", "nope"), targetspn=TARGET)
    server = pw.sspi.ServerAuth("NTLM")
    with pytest.raises(pw.win32security.error) as info:
        authenticate(client, server)
    assert info.value.winerror == pw.sspicon.SEC_E_LOGON_DENIED
    assert info.value.funcname == "AcceptSecurityContext"
    assert info.value.args[0] == info.value.winerror
    assert "nope" not in str(info.value)
    assert not server.authenticated


def test_unknown_package(pw: SimpleNamespace) -> None:
    with pytest.raises(pw.win32security.error) as info:
        pw.sspi.ClientAuth("NoSuchPackage", auth_info=AUTH_INFO)
    assert info.value.winerror == pw.sspicon.SEC_E_SECPKG_NOT_FOUND == -2146893051


def test_reset_then_a_new_handshake(pw: SimpleNamespace, auth: tuple[Any, Any]) -> None:
    client, server = auth
    server.verify(b"before", client.sign(b"before"))
    client.reset()
    server.reset()
    assert client.ctxt is None and not client.authenticated and client.next_seq_num == 0
    assert server.initiator_name is None
    client_errs, server_errs = authenticate(client, server)
    assert client_errs[-1] == server_errs[-1] == 0
    assert server.initiator_name == "CORP\\alice"
    server.verify(b"after", client.sign(b"after"))
    assert client.decrypt(*server.encrypt(b"and back")) == b"and back"


# -- messages -------------------------------------------------------------------------------


def test_sign_and_verify(pw: SimpleNamespace, auth: tuple[Any, Any]) -> None:
    client, server = auth
    for a, b in ((client, server), (server, client)):
        sig = a.sign(b"hello")
        assert len(sig) == 16
        b.verify(b"hello", sig)
    sig = client.sign(b"hello")
    with pytest.raises(pw.win32security.error) as info:
        server.verify(b"jello", sig)
    assert info.value.winerror == pw.sspicon.SEC_E_MESSAGE_ALTERED == -2146893041
    assert info.value.funcname == "VerifySignature"
    server.verify(b"next", client.sign(b"next"))  # still in step


def test_encrypt_and_decrypt(pw: SimpleNamespace, auth: tuple[Any, Any]) -> None:
    client, server = auth
    for a, b in ((client, server), (server, client)):
        data, trailer = a.encrypt(b"secret data")
        assert data != b"secret data" and len(data) == len(b"secret data")
        assert len(trailer) == 16
        assert b.decrypt(data, trailer) == b"secret data"


def test_tampered_message_is_message_altered(pw: SimpleNamespace, auth: tuple[Any, Any]) -> None:
    client, server = auth
    data, trailer = client.encrypt(b"secret data")
    with pytest.raises(pw.win32security.error) as info:
        server.decrypt(data[:-1] + bytes([data[-1] ^ 1]), trailer)
    assert info.value.winerror == pw.sspicon.SEC_E_MESSAGE_ALTERED
    assert server.decrypt(*client.encrypt(b"next")) == b"next"


def test_decrypting_out_of_order(pw: SimpleNamespace, auth: tuple[Any, Any]) -> None:
    client, server = auth
    first, second = client.encrypt(b"first"), client.encrypt(b"second")
    with pytest.raises(pw.win32security.error) as info:
        server.decrypt(*second)
    assert info.value.winerror == pw.sspicon.SEC_E_OUT_OF_SEQUENCE
    assert info.value.winerror == -2146893040 < 0
    assert info.value.funcname == "DecryptMessage"
    assert server.decrypt(*first) == b"first"
    assert server.decrypt(*second) == b"second"


def test_wrap_with_encryption_and_unwrap(auth: tuple[Any, Any]) -> None:
    client, server = auth
    for a, b in ((client, server), (server, client)):
        wrapped = a.wrap(b"wrapped data", encrypt=True)
        assert len(wrapped) == 16 + len(b"wrapped data")  # token, data, no padding
        assert wrapped[16:] != b"wrapped data"
        assert b.unwrap(wrapped) == (b"wrapped data", True)


def test_wrap_default_then_unwrap_like_pywin32s_demo(auth: tuple[Any, Any]) -> None:
    client, server = auth
    unwrapped, was_encrypted = server.unwrap(client.wrap(b"hello"))
    assert unwrapped == b"hello"
    assert was_encrypted


def test_next_seq_num_increments(auth: tuple[Any, Any]) -> None:
    client, server = auth
    assert client.next_seq_num == server.next_seq_num == 0
    sig = client.sign(b"a")
    server.verify(b"a", sig)
    data, trailer = client.encrypt(b"b")
    server.decrypt(data, trailer)
    client.wrap(b"c", encrypt=True)
    assert client.next_seq_num == 3
    assert server.next_seq_num == 2


# -- attributes -----------------------------------------------------------------------------


def test_query_context_attributes(pw: SimpleNamespace, auth: tuple[Any, Any]) -> None:
    client, server = auth
    sspicon = pw.sspicon
    for ctxt in (client.ctxt, server.ctxt):
        sizes = ctxt.QueryContextAttributes(sspicon.SECPKG_ATTR_SIZES)
        assert sizes == {"MaxToken": 2888, "MaxSignature": 16, "BlockSize": 0,
                         "SecurityTrailer": 16}
        names = ctxt.QueryContextAttributes(sspicon.SECPKG_ATTR_NATIVE_NAMES)
        assert isinstance(names, tuple) and len(names) == 2
        assert names[0] == "CORP\\alice"
        info = ctxt.QueryContextAttributes(sspicon.SECPKG_ATTR_PACKAGE_INFO)
        assert set(info) == {"Capabilities", "Version", "RPCID", "MaxToken", "Name", "Comment"}
        assert info["Name"] == "NTLM" and info["MaxToken"] == 2888
        state, nego_info = ctxt.QueryContextAttributes(sspicon.SECPKG_ATTR_NEGOTIATION_INFO)
        assert state == sspicon.SECPKG_NEGOTIATION_COMPLETE and nego_info == info
        start, expiry = ctxt.QueryContextAttributes(sspicon.SECPKG_ATTR_LIFESPAN)
        assert isinstance(start, datetime) and isinstance(expiry, datetime)
    assert server.ctxt.QueryContextAttributes(sspicon.SECPKG_ATTR_NAMES) == "CORP\\alice"
    assert client.ctxt.QueryContextAttributes(sspicon.SECPKG_ATTR_FLAGS) == client.ctxt_attr
    assert server.ctxt.QueryContextAttributes(sspicon.SECPKG_ATTR_FLAGS) == server.ctxt_attr
    key = client.ctxt.QueryContextAttributes(sspicon.SECPKG_ATTR_SESSION_KEY)
    assert isinstance(key, bytes) and len(key) == 16
    assert key == server.ctxt.QueryContextAttributes(sspicon.SECPKG_ATTR_SESSION_KEY)
    assert client.service_name == TARGET


def test_package_queries(pw: SimpleNamespace) -> None:
    assert pw.win32security.QuerySecurityPackageInfo("NTLM")["MaxToken"] == 2888
    assert pw.win32security.QuerySecurityPackageInfo("ntlm")["Name"] == "NTLM"
    packages = pw.win32security.EnumerateSecurityPackages()
    assert isinstance(packages, tuple)
    assert all(isinstance(p, dict) for p in packages)
    assert "NTLM" in [p["Name"] for p in packages]


def test_credential_names(pw: SimpleNamespace, auth: tuple[Any, Any]) -> None:
    client, _server = auth
    name = client.credentials.QueryCredentialsAttributes(pw.sspicon.SECPKG_CRED_ATTR_NAMES)
    assert name == "CORP\\alice"
    assert pw.win32security.QueryCredentialsAttributes(
        client.credentials, pw.sspicon.SECPKG_CRED_ATTR_NAMES) == "CORP\\alice"


def test_impersonation_needs_a_complete_server_context_and_revert_is_a_no_op(
    pw: SimpleNamespace, auth: tuple[Any, Any]
) -> None:
    client, server = auth
    with pytest.raises(pw.win32security.error) as info:
        client.ctxt.ImpersonateSecurityContext()
    assert info.value.winerror == pw.sspicon.SEC_E_NO_IMPERSONATION == -2146893045
    with pytest.raises(pw.win32security.error):
        pw.win32security.ImpersonateSecurityContext(client.ctxt)
    assert server.ctxt.RevertSecurityContext() is None
    assert pw.win32security.RevertSecurityContext(server.ctxt) is None
    assert pw.win32security.ImpersonateSecurityContext(server.ctxt) is None
    assert pw.win32security.RevertSecurityContext(server.ctxt) is None
    server.verify(b"still", client.sign(b"still"))


# -- win32security called directly ----------------------------------------------------------


def test_initialize_and_accept_security_context_directly(pw: SimpleNamespace) -> None:
    ws, con = pw.win32security, pw.sspicon
    client_cred, client_exp = ws.AcquireCredentialsHandle(
        None, "NTLM", con.SECPKG_CRED_OUTBOUND, None, AUTH_INFO)
    server_cred, _ = ws.AcquireCredentialsHandle(None, "NTLM", con.SECPKG_CRED_INBOUND, None, None)
    assert isinstance(client_cred, ws.PyCredHandleType)
    assert isinstance(client_exp, datetime)
    flags = con.ISC_REQ_INTEGRITY | con.ISC_REQ_CONFIDENTIALITY | con.ISC_REQ_SEQUENCE_DETECT
    sflags = con.ASC_REQ_INTEGRITY | con.ASC_REQ_CONFIDENTIALITY | con.ASC_REQ_SEQUENCE_DETECT

    def out() -> Any:
        desc = ws.PySecBufferDescType()
        desc.append(ws.PySecBufferType(2888, con.SECBUFFER_TOKEN))
        return desc

    cctx, sctx = ws.PyCtxtHandleType(), ws.PyCtxtHandleType()
    o1 = out()
    rc, attrs, expiry = ws.InitializeSecurityContext(
        client_cred, None, TARGET, flags, con.SECURITY_NETWORK_DREP, None, cctx, o1)
    assert rc == con.SEC_I_CONTINUE_NEEDED
    assert isinstance(attrs, int) and isinstance(expiry, datetime)
    assert o1[0].BufferType == con.SECBUFFER_TOKEN and o1[0].BufferSize == len(o1[0].Buffer)
    o2 = out()
    rc, _, expiry = ws.AcceptSecurityContext(
        server_cred, None, o1, sflags, con.SECURITY_NETWORK_DREP, sctx, o2)
    assert rc == con.SEC_I_CONTINUE_NEEDED and isinstance(expiry, datetime)
    o3 = out()
    rc, attrs, _ = ws.InitializeSecurityContext(
        client_cred, cctx, TARGET, flags, con.SECURITY_NETWORK_DREP, o2, cctx, o3)
    assert rc == 0 and attrs & con.ISC_RET_CONFIDENTIALITY
    rc, sattrs, _ = ws.AcceptSecurityContext(
        server_cred, sctx, o3, sflags, con.SECURITY_NETWORK_DREP, sctx, out())
    assert rc == 0 and sattrs & con.ASC_RET_CONFIDENTIALITY

    msg = ws.PySecBufferDescType()
    msg.append(ws.PySecBufferType(len(b"direct"), con.SECBUFFER_DATA))
    msg.append(ws.PySecBufferType(16, con.SECBUFFER_TOKEN))
    msg[0].Buffer = b"direct"
    cctx.EncryptMessage(0, msg, 0)
    assert msg[0].Buffer != b"direct"
    assert sctx.DecryptMessage(msg, 0) == 0
    assert msg[0].Buffer == b"direct"
    sctx.DeleteSecurityContext()
    with pytest.raises(ws.error) as info:
        sctx.DecryptMessage(msg, 0)
    assert info.value.winerror == con.SEC_E_INVALID_HANDLE


def test_readonly_buffer_type_reads_back_signed(pw: SimpleNamespace) -> None:
    buf = pw.win32security.PySecBufferType(4, pw.sspicon.SECBUFFER_DATA
                                           | pw.sspicon.SECBUFFER_READONLY)
    assert buf.BufferType == pw.sspicon.SECBUFFER_DATA | pw.sspicon.SECBUFFER_READONLY
    assert buf.BufferType < 0


# -- module identity ------------------------------------------------------------------------


def test_same_classes_from_the_folder_and_the_package(
    pw: SimpleNamespace, auth: tuple[Any, Any]
) -> None:
    client, _server = auth
    assert pw.pywintypes.error is pw.win32security.error
    assert pw.sspi.error is pw.win32security.error
    assert pw.win32security.error is package_win32security.error
    assert pw.win32security.PyCtxtHandleType is package_win32security.PyCtxtHandleType
    assert pw.sspi.ClientAuth is package_sspi.ClientAuth
    assert isinstance(client.ctxt, package_win32security.PyCtxtHandleType)
    assert isinstance(client.credentials, package_win32security.PyCredHandleType)
    with pytest.raises(package_win32security.error):
        pw.win32security.QuerySecurityPackageInfo("nope")
    with pytest.raises(pw.pywintypes.error):
        package_win32security.QuerySecurityPackageInfo("nope")


# -- sspicon --------------------------------------------------------------------------------

# A representative table typed from pywin32's win32/Lib/sspicon.py.
SSPICON = {
    "ISSP_LEVEL": 32, "ISSP_MODE": 1,
    "SECPKG_FLAG_INTEGRITY": 1, "SECPKG_FLAG_PRIVACY": 2, "SECPKG_FLAG_TOKEN_ONLY": 4,
    "SECPKG_FLAG_CONNECTION": 16, "SECPKG_FLAG_IMPERSONATION": 256,
    "SECPKG_FLAG_NEGOTIABLE": 2048, "SECPKG_FLAG_READONLY_WITH_CHECKSUM": 262144,
    "SECPKG_ID_NONE": 65535,
    "SECBUFFER_VERSION": 0, "SECBUFFER_EMPTY": 0, "SECBUFFER_DATA": 1, "SECBUFFER_TOKEN": 2,
    "SECBUFFER_PKG_PARAMS": 3, "SECBUFFER_MISSING": 4, "SECBUFFER_EXTRA": 5,
    "SECBUFFER_PADDING": 9, "SECBUFFER_STREAM": 10, "SECBUFFER_CHANNEL_BINDINGS": 14,
    "SECBUFFER_ATTRMASK": -268435456, "SECBUFFER_READONLY": -2147483648,
    "SECBUFFER_READONLY_WITH_CHECKSUM": 268435456, "SECBUFFER_RESERVED": 1610612736,
    "SECURITY_NATIVE_DREP": 16, "SECURITY_NETWORK_DREP": 0,
    "SECPKG_CRED_INBOUND": 1, "SECPKG_CRED_OUTBOUND": 2, "SECPKG_CRED_BOTH": 3,
    "SECPKG_CRED_DEFAULT": 4, "SECPKG_CRED_RESERVED": -268435456,
    "ISC_REQ_DELEGATE": 1, "ISC_REQ_MUTUAL_AUTH": 2, "ISC_REQ_CONFIDENTIALITY": 16,
    "ISC_REQ_USE_SESSION_KEY": 32, "ISC_REQ_ALLOCATE_MEMORY": 256, "ISC_REQ_CONNECTION": 2048,
    "ISC_REQ_INTEGRITY": 65536, "ISC_REQ_NULL_SESSION": 262144,
    "ISC_REQ_FRAGMENT_TO_FIT": 2097152, "ISC_REQ_HTTP": 0x10000000,
    "ISC_RET_USED_COLLECTED_CREDS": 64, "ISC_RET_ALLOCATED_MEMORY": 256,
    "ISC_RET_INTERMEDIATE_RETURN": 4096, "ISC_RET_CALL_LEVEL": 8192,
    "ISC_RET_FRAGMENT_ONLY": 2097152,
    "ASC_REQ_EXTENDED_ERROR": 32768, "ASC_REQ_STREAM": 65536, "ASC_REQ_INTEGRITY": 131072,
    "ASC_REQ_ALLOW_NULL_SESSION": 1048576, "ASC_REQ_NO_TOKEN": 16777216,
    "ASC_RET_THIRD_LEG_FAILED": 16384, "ASC_RET_NULL_SESSION": 1048576,
    "ASC_RET_FRAGMENT_ONLY": 8388608,
    "SECPKG_CRED_ATTR_NAMES": 1, "SECPKG_ATTR_SIZES": 0, "SECPKG_ATTR_NAMES": 1,
    "SECPKG_ATTR_LIFESPAN": 2, "SECPKG_ATTR_SESSION_KEY": 9, "SECPKG_ATTR_PACKAGE_INFO": 10,
    "SECPKG_ATTR_NEGOTIATION_INFO": 12, "SECPKG_ATTR_NATIVE_NAMES": 13, "SECPKG_ATTR_FLAGS": 14,
    "SECPKG_ATTR_ACCESS_TOKEN": 18, "SECPKG_ATTR_REMOTE_CERT_CONTEXT": 83,
    "SECPKG_ATTR_CONNECTION_INFO": 90, "SECPKG_ATTR_APP_DATA": 94,
    "SECPKG_NEGOTIATION_COMPLETE": 0, "SECPKG_NEGOTIATION_IN_PROGRESS": 2,
    "SECPKG_NEGOTIATION_TRY_MULTICRED": 4,
    "SECQOP_WRAP_NO_ENCRYPT": -2147483647,
    "SECURITY_ENTRYPOINT_ANSI": "INITSECURITYINTERFACEA",
    "SECURITY_ENTRYPOINT_ANSIW": "InitSecurityInterfaceW",
    "SEC_WINNT_AUTH_IDENTITY_UNICODE": 2, "SEC_WINNT_AUTH_IDENTITY_VERSION": 512,
    "SEC_E_OK": 0, "SEC_E_INSUFFICIENT_MEMORY": -2146893056, "SEC_E_INVALID_HANDLE": -2146893055,
    "SEC_E_UNSUPPORTED_FUNCTION": -2146893054, "SEC_E_SECPKG_NOT_FOUND": -2146893051,
    "SEC_E_INVALID_TOKEN": -2146893048, "SEC_E_NO_IMPERSONATION": -2146893045,
    "SEC_E_LOGON_DENIED": -2146893044, "SEC_E_NO_CREDENTIALS": -2146893042,
    "SEC_E_MESSAGE_ALTERED": -2146893041, "SEC_E_OUT_OF_SEQUENCE": -2146893040,
    "SEC_I_CONTINUE_NEEDED": 590610, "SEC_I_COMPLETE_NEEDED": 590611,
    "SEC_I_COMPLETE_AND_CONTINUE": 590612, "SEC_E_CONTEXT_EXPIRED": -2146893033,
    "SEC_I_CONTEXT_EXPIRED": 590615, "SEC_E_INCOMPLETE_MESSAGE": -2146893032,
    "SEC_E_BUFFER_TOO_SMALL": -2146893023, "SEC_I_RENEGOTIATE": 590625,
    "SEC_E_TIME_SKEW": -2146893020, "SEC_E_DECRYPT_FAILURE": -2146893008,
    "SEC_E_BAD_BINDINGS": -2146892986, "SEC_E_NO_KERB_KEY": -2146892984,
    "ERROR_IPSEC_QM_POLICY_EXISTS": 13000, "WARNING_IPSEC_QM_POLICY_PRUNED": 13025,
    "ERROR_IPSEC_IKE_NEG_STATUS_BEGIN": 13800, "ERROR_IPSEC_IKE_DH_FAIL": 13822,
    "ERROR_IPSEC_IKE_INVALID_CERT_KEYLEN": 13881, "ERROR_IPSEC_IKE_NEG_STATUS_END": 13884,
    "CRYPT_E_MSG_ERROR": -2146889727, "CRYPT_E_STREAM_INSUFFICIENT_DATA": -2146889711,
    "CRYPT_I_NEW_PROTECTION_REQUIRED": 593938, "CRYPT_E_BAD_LEN": -2146885631,
    "CRYPT_E_NOT_IN_REVOCATION_DATABASE": -2146885612,
    "CRYPT_E_INVALID_NUMERIC_STRING": -2146885600, "CRYPT_E_MISSING_PUBKEY_PARA": -2146885588,
    "CRYPT_E_OSS_ERROR": -2146881536,
    "KerbDebugRequestMessage": 0, "KerbRetrieveEncodedTicketMessage": 8,
    "KerbQuerySupplementalCredentialsMessage": 18, "MsV1_0Lm20ChallengeRequest": 0,
    "MsV1_0SubAuth": 9, "MsV1_0SetProcessOption": 12,
}


def test_representative_sspicon_values(pw: SimpleNamespace) -> None:
    assert len(SSPICON) >= 60
    wrong = {name: getattr(pw.sspicon, name, "<missing>") for name, value in SSPICON.items()
             if getattr(pw.sspicon, name, "<missing>") != value}
    assert wrong == {}


def test_every_pywin32_sspicon_assignment(pw: SimpleNamespace) -> None:
    fixture = json.loads((Path(__file__).parent / "pywin32_sspicon.json").read_text())
    assert "win32/Lib/sspicon.py" in fixture["source"]
    assert "858e19a76e08fc175a667ffc97409f2ef15bfc19" in fixture["source"]
    values: dict[str, int | str] = fixture["values"]
    assert len(values) > 400
    assert {k: v for k, v in SSPICON.items() if k in values} == {
        k: values[k] for k in SSPICON if k in values}  # the two tables agree
    mismatched = {}
    for name, value in values.items():
        ours = getattr(pw.sspicon, name, "<missing>")
        if ours != value or type(ours) is not type(value):
            mismatched[name] = (value, ours)
    assert mismatched == {}


def test_sspicon_statuses_agree_with_opensspi(pw: SimpleNamespace) -> None:
    for status in SecStatus:
        signed = getattr(pw.sspicon, status.name)
        assert signed & 0xFFFFFFFF == status.value
        assert (signed < 0) == status.is_error
    assert pw.sspicon.SEC_SUCCESS(pw.sspicon.SEC_I_CONTINUE_NEEDED)
    assert pw.sspicon.SEC_SUCCESS(pw.sspicon.SEC_E_OK)
    assert not pw.sspicon.SEC_SUCCESS(pw.sspicon.SEC_E_INVALID_TOKEN)
