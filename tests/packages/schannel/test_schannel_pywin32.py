"""The pywin32 look-alike returns Schannel's STREAM_SIZES and CONNECTION_INFO as the dicts
pywin32's win32security_sspi.cpp builds."""

from __future__ import annotations

from opensspi.compat.pywin32 import _win32security as w
from opensspi.constants import (
    AscReq,
    CredentialUse,
    IscReq,
    SecBufferType,
    SecPkgAttr,
    SecStatus,
    SpProt,
)
from opensspi.packages.schannel import SCHANNEL_CRED, CertContext


def test_stream_sizes_and_connection_info(server_ctx: CertContext, root: CertContext) -> None:
    ccred, _ = w.AcquireCredentialsHandle(None, "Schannel", CredentialUse.OUTBOUND, None,
                                          SCHANNEL_CRED(hRootStore=[root]))
    scred, _ = w.AcquireCredentialsHandle(None, "Schannel", CredentialUse.INBOUND, None,
                                          SCHANNEL_CRED(paCred=[server_ctx]))
    client, server = w.PyCtxtHandleType(), w.PyCtxtHandleType()
    isc_req = IscReq.CONFIDENTIALITY | IscReq.STREAM | IscReq.ALLOCATE_MEMORY
    asc_req = AscReq.CONFIDENTIALITY | AscReq.STREAM | AscReq.ALLOCATE_MEMORY
    token: bytes | None = None
    client_rc = server_rc = None
    for _ in range(4):
        out = w.PySecBufferDescType()
        out.append(w.PySecBufferType(0, SecBufferType.TOKEN))
        inp = None
        if token is not None:
            inp = w.PySecBufferDescType()
            buf = w.PySecBufferType(len(token), SecBufferType.TOKEN)
            buf.Buffer = token
            inp.append(buf)
            inp.append(w.PySecBufferType(0, SecBufferType.EMPTY))
        client_rc, _, _ = w.InitializeSecurityContext(
            ccred, client if token is not None else None, "localhost", isc_req, 0, inp,
            client, out)
        token = out[0].Buffer
        if client_rc == SecStatus.SEC_E_OK:
            break
        sin = w.PySecBufferDescType()
        sbuf = w.PySecBufferType(len(token), SecBufferType.TOKEN)
        sbuf.Buffer = token
        sin.append(sbuf)
        sin.append(w.PySecBufferType(0, SecBufferType.EMPTY))
        sout = w.PySecBufferDescType()
        sout.append(w.PySecBufferType(0, SecBufferType.TOKEN))
        server_rc, _, _ = w.AcceptSecurityContext(
            scred, server if server_rc is not None else None, sin, asc_req, 0, server, sout)
        token = sout[0].Buffer
    assert client_rc == SecStatus.SEC_E_OK
    sizes = client.QueryContextAttributes(SecPkgAttr.STREAM_SIZES)
    assert sizes == {"Header": 5, "Trailer": 17, "MaximumMessage": 16384, "Buffers": 4,
                     "BlockSize": 1}
    info = client.QueryContextAttributes(SecPkgAttr.CONNECTION_INFO)
    assert set(info) == {"Protocol", "Cipher", "CipherStrength", "Hash", "HashStrength",
                         "Exch", "ExchStrength"}
    assert info["Protocol"] == SpProt.TLS1_3_CLIENT and info["CipherStrength"] == 256
