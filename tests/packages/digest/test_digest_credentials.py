"""AcquireCredentialsHandle (Digest): identities, acceptor stores, htdigest files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from opensspi.constants import AscReq, CredentialUse, IscReq, SecStatus
from opensspi.errors import SspiError
from opensspi.packages.digest import DigestPackage
from opensspi.packages.digest.credentials import (
    Acceptor,
    DigestAcceptorConfig,
    DigestClientOptions,
    read_htdigest,
)
from opensspi.packages.digest.crypto import Algorithm, Qop, userhash
from opensspi.packages.digest.messages import HttpResponse
from opensspi.provider import AuthIdentity, Credential, StepInput

from .conftest import Digest

PKG = DigestPackage()
OUT, IN = CredentialUse.OUTBOUND, CredentialUse.INBOUND


def status_of(call: object) -> SecStatus:
    with pytest.raises(SspiError) as exc:
        call()  # type: ignore[operator]
    return exc.value.status


def test_client_identities() -> None:
    cred = PKG.acquire_credentials(None, OUT, AuthIdentity("u", "REALM", "p"))
    assert cred.principal_name == "REALM\\u"
    cred = PKG.acquire_credentials("fromprincipal", OUT, AuthIdentity(None, None, "p"))
    assert cred.principal_name == "fromprincipal"
    options = DigestClientOptions(AuthIdentity("u", None, "p"), authzid="z", maxbuf=1024)
    assert PKG.acquire_credentials(None, OUT, options).principal_name == "u"


@pytest.mark.parametrize(("principal", "use", "data", "status"), [
    (None, OUT, None, SecStatus.SEC_E_NO_CREDENTIALS),
    (None, OUT, AuthIdentity(None, None, "p"), SecStatus.SEC_E_NO_CREDENTIALS),
    (None, OUT, AuthIdentity("u", None, None, nt_hash=bytes(16)),
     SecStatus.SEC_E_UNKNOWN_CREDENTIALS),
    (None, OUT, AuthIdentity("u\r\n", None, "p"), SecStatus.SEC_E_INVALID_PARAMETER),
    (None, IN, AuthIdentity("u", None, "p"), SecStatus.SEC_E_NO_CREDENTIALS),
    (None, OUT, DigestAcceptorConfig("r", passwords={"u": "p"}), SecStatus.SEC_E_NO_CREDENTIALS),
    (None, IN, DigestAcceptorConfig("r"), SecStatus.SEC_E_NO_CREDENTIALS),
])
def test_acquire_refusals(principal: str | None, use: CredentialUse, data: object,
                          status: SecStatus) -> None:
    assert status_of(lambda: PKG.acquire_credentials(principal, use, data)) == status


def test_config_validation() -> None:
    assert status_of(lambda: DigestAcceptorConfig("r", maxbuf=8)) == (
        SecStatus.SEC_E_INVALID_PARAMETER
    )
    assert status_of(lambda: DigestAcceptorConfig("r\x01")) == SecStatus.SEC_E_INVALID_PARAMETER
    assert status_of(lambda: DigestAcceptorConfig("r", qops=())) == (
        SecStatus.SEC_E_INVALID_PARAMETER
    )
    assert status_of(lambda: DigestAcceptorConfig("r", htdigest_hash=Algorithm.MD5)) == (
        SecStatus.SEC_E_INVALID_PARAMETER
    )
    assert status_of(lambda: DigestClientOptions(AuthIdentity("u"), maxbuf=1 << 30)) == (
        SecStatus.SEC_E_INVALID_PARAMETER
    )


def test_contexts_need_the_right_side_and_package() -> None:
    client = PKG.acquire_credentials(None, OUT, AuthIdentity("u", None, "p"))
    server = PKG.acquire_credentials(None, IN, DigestAcceptorConfig("r", passwords={"u": "p"}))
    assert status_of(lambda: PKG.server_context(client, AscReq(0))) == (
        SecStatus.SEC_E_NO_CREDENTIALS
    )
    assert status_of(lambda: PKG.client_context(server, "imap/h", IscReq(0))) == (
        SecStatus.SEC_E_NO_CREDENTIALS
    )

    class Foreign(Credential):
        @property
        def principal_name(self) -> str:
            return "x"

    assert status_of(lambda: PKG.client_context(Foreign(), "imap/h", IscReq(0))) == (
        SecStatus.SEC_E_INVALID_HANDLE
    )


def _line(user: str, realm: str, password: str, alg: Algorithm, hashed: bool) -> str:
    ha1 = alg.hash(f"{user}:{realm}:{password}".encode())
    extra = f":{userhash(alg, user.encode(), realm.encode())}" if hashed else ""
    return f"{user}:{realm}:{ha1}{extra}"


def test_read_htdigest(tmp_path: Path) -> None:
    path = tmp_path / "htdigest"
    path.write_text(
        "# comment\n\n"
        + _line("a", "r", "pa", Algorithm.MD5, False) + "\n"
        + _line("b", "r", "pb", Algorithm.SHA_512_256, True) + "\n"
    )
    users = read_htdigest(path, Algorithm.SHA_512_256)
    assert users[("a", "r")].family is Algorithm.MD5
    assert users[("b", "r")].family is Algorithm.SHA_512_256
    assert users[("b", "r")].hashed_name is not None
    stored_hex = users[("a", "r")].ha1
    assert stored_hex is not None and stored_hex not in repr(users[("a", "r")])
    path.write_text("a:r:nothex\n")
    with pytest.raises(SspiError) as exc:
        read_htdigest(path, Algorithm.SHA_256)
    assert exc.value.status == SecStatus.SEC_E_UNKNOWN_CREDENTIALS
    assert "Line 1" in exc.value.message and "nothex" not in exc.value.message
    with pytest.raises(SspiError) as exc:
        read_htdigest(tmp_path / "missing", Algorithm.SHA_256)
    assert exc.value.status == SecStatus.SEC_E_NO_CREDENTIALS


def test_acceptor_algorithms_follow_the_store(tmp_path: Path) -> None:
    path = tmp_path / "h"
    path.write_text(_line("a", "r", "p", Algorithm.MD5, False) + "\n")
    assert Acceptor(DigestAcceptorConfig("r", htdigest=path)).http_algorithms() == (
        Algorithm.MD5,
    )
    assert Acceptor(DigestAcceptorConfig("r", passwords={"a": "p"})).http_algorithms() == (
        Algorithm.SHA_256, Algorithm.MD5,
    )


def test_replay_record_is_bounded() -> None:
    acceptor = Acceptor(DigestAcceptorConfig("r", passwords={"a": "p"}, max_nonces=2))
    assert acceptor.accept_count("n1", 1, 10, 10) and not acceptor.accept_count("n1", 1, 10, 10)
    assert acceptor.accept_count("n1", 5, 10, 10) and not acceptor.accept_count("n1", 4, 10, 10)
    acceptor.accept_count("n2", 1, 11, 11)
    acceptor.accept_count("n3", 1, 11, 11)
    # n1 was evicted while still fresh: it is refused (fails closed), never accepted again.
    assert not acceptor.accept_count("n1", 1, 10, 12) and acceptor.forgotten(10, 12)
    assert acceptor.accept_count("n4", 1, 12, 12)


@pytest.mark.parametrize("alg", [Algorithm.SHA_512_256, Algorithm.SHA_256_SESS])
def test_lighttpd_style_userhash_file(digest: Digest, tmp_path: Path, alg: Algorithm) -> None:
    user, realm, password = "J\u00e4s\u00f8n Doe", "api@example.org", "Secret, or not?"
    path = tmp_path / "htdigest.uh"
    path.write_text(_line(user, realm, password, alg.base, True) + "\n", encoding="utf-8")
    server = digest.http_server(
        realm=realm, passwords={}, htdigest=path, htdigest_hash=(
            alg.base if alg.base is not Algorithm.MD5 else Algorithm.SHA_256
        ),
        algorithms=(alg,), userhash=True, qops=(Qop.AUTH,),
    )
    client = digest.http_client(user=user, password=password, target="/uh/")
    header = digest.http_login(client, server, uri=b"/uh/")
    assert HttpResponse.parse(header).userhash
    assert server.client_name == user


def test_stored_md5_cannot_answer_sha256(digest: Digest, tmp_path: Path) -> None:
    path = tmp_path / "h"
    path.write_text(_line("Mufasa", "http-auth@example.org", "Circle of Life", Algorithm.MD5,
                          False) + "\n")
    server = digest.http_server(passwords={}, htdigest=path, algorithms=(Algorithm.SHA_256,))
    client = digest.http_client()
    token = client.step(StepInput(server.step(StepInput()).token, params=(b"GET",))).token
    assert status_of(lambda: server.step(StepInput(token, params=(b"GET",)))) == (
        SecStatus.SEC_E_LOGON_DENIED
    )
    assert hashlib.md5(b"x").hexdigest() not in repr(server)
