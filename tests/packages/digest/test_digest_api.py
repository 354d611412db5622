"""The Pythonic API with Digest: PKG_PARAMS travel through Context.step."""

from __future__ import annotations


def test_pythonic_api_passes_pkg_params_for_http() -> None:
    """``Context.step(token, params=...)`` carries SECBUFFER_PKG_PARAMS (the HTTP method)."""
    import opensspi
    from opensspi.constants import IscReq, IscRet
    from opensspi.packages.digest.credentials import DigestAcceptorConfig

    server = opensspi.server("WDigest", flags=0x10000000,  # type: ignore[arg-type]
                             auth_data=DigestAcceptorConfig(realm="r", passwords={"bob": "pw"}))
    client = opensspi.client("WDigest", user="bob", password="pw", target="/x",
                             flags=IscReq.USE_HTTP_STYLE)
    challenge = server.step()
    assert challenge is not None
    authorization = client.step(challenge, params=[b"POST"])
    assert authorization is not None and b'uri="/x"' in authorization
    assert server.step(authorization, params=[b"POST", b"/x"]) is not None
    assert server.complete and client.flags & IscRet.USED_HTTP_STYLE
