"""Single sign-on from KCM and KEYRING caches that MIT's tools fill, against real peers.

MIT ``kinit`` puts alice's TGT in a KCM cache served by Heimdal's ``kcm`` or SSSD's ``sssd_kcm``
(started here on a private socket, see :mod:`interop.peers.kcm_servers`) or in the session
keyring; opensspi then
authenticates with no password to MIT's acceptor (python-gssapi). With ``write_ccache`` the
service ticket opensspi fetched must show in MIT's ``klist`` of that same cache. Collections:
with two caches and ``kswitch``, opensspi takes the primary, and the cache holding a principal
when one is asked for.

The same tests run on a DIR: collection, the collection type that needs no server.

KEYRING tests use the session keyring the test process inherits (as a login session does) with
a collection name of their own, and unlink it afterwards.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import opensspi
from interop.peers.gss import GssKrb5Factory
from interop.peers.kcm_servers import INSTALL_HINT as KCM_HINT
from interop.peers.kcm_servers import (
    SSSD_HINT,
    HeimdalKcm,
    KcmDaemon,
    SssdKcm,
    kcm_usable,
    sssd_kcm_usable,
)
from interop.peers.mit_kdc import MitRealm, run_tool
from opensspi import IscReq
from opensspi.errors import UnsupportedFunction
from opensspi.packages.kerberos import KerberosAuthData, keyring
from opensspi.packages.kerberos.config import Krb5Config
from opensspi.packages.kerberos.credentials import CredentialSource, KerberosCredential
from opensspi.packages.kerberos.tickets import TicketCache
from support.require import require_peer

pytestmark = pytest.mark.interop

FLAGS = IscReq.MUTUAL_AUTH | IscReq.CONFIDENTIALITY | IscReq.INTEGRITY
SERVICE = "HTTP/server.test.local@TEST.LOCAL"


@pytest.fixture(autouse=True)
def _fresh_ticket_caches() -> Iterator[None]:
    TicketCache.forget_all()
    yield
    TicketCache.forget_all()


@contextlib.contextmanager
def _kcm_daemon(kind: str) -> Iterator[KcmDaemon]:
    """Heimdal's kcm or SSSD's sssd_kcm on a private socket."""
    daemon: type[KcmDaemon]
    if kind == "heimdal-kcm":
        usable, why = kcm_usable()
        require_peer(usable, why, KCM_HINT)
        daemon = HeimdalKcm
    else:
        usable, why = sssd_kcm_usable()
        require_peer(usable, why, SSSD_HINT)
        daemon = SssdKcm
    directory = Path(tempfile.mkdtemp(prefix="kcm", dir="/tmp"))  # AF_UNIX paths are short
    try:
        with daemon(directory) as server:
            yield server
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _kernel_keyrings() -> tuple[bool, str]:
    try:
        keyring.Keyctl().keyring_id(keyring.KEY_SPEC_SESSION_KEYRING, False)
    except (UnsupportedFunction, OSError) as exc:
        return False, str(exc)
    return True, ""


@contextlib.contextmanager
def _keyring_collection() -> Iterator[str]:
    """A fresh ``KEYRING:session:<name>`` collection name; unlinked afterwards."""
    usable, why = _kernel_keyrings()
    require_peer(usable, f"Linux session keyring (keyctl: {why})",
                 "a Linux kernel with CONFIG_KEYS and a sandbox that allows keyctl/add_key")
    name = f"opensspi-{uuid.uuid4().hex[:12]}"
    try:
        yield f"KEYRING:session:{name}"
    finally:
        keys = keyring.Keyctl()
        for anchor in (keyring.KEY_SPEC_USER_SESSION_KEYRING, keyring.KEY_SPEC_SESSION_KEYRING):
            with contextlib.suppress(OSError):
                found = keys.search(anchor, "keyring", f"_krb_{name}")
                if found is not None:
                    keys.unlink(found, anchor)


class Mit:
    """MIT's command-line tools pointed at the realm, a krb5.conf (with ``kcm_socket`` for KCM),
    and one ``KRB5CCNAME``."""

    def __init__(self, realm: MitRealm, conf: Path, ccache: str) -> None:
        self.realm = realm
        self.env = {**realm.env(ccache=ccache), "KRB5_CONFIG": str(conf)}
        self.config = Krb5Config.load([str(conf)])

    def kinit(self, user: str, ccache: str | None = None) -> None:
        args = ["kinit", *(["-c", ccache] if ccache else []), user]
        run_tool(args, self.env, stdin=self.realm.passwords[user].encode() + b"\n")

    def klist(self, ccache: str | None = None) -> str:
        proc = run_tool(["klist", *([ccache] if ccache else [])], self.env)
        return proc.stdout.decode("utf-8", errors="replace")

    def tool(self, *argv: str) -> None:
        run_tool(list(argv), self.env)


@contextlib.contextmanager
def _mit_with(kind: str, realm: MitRealm, tmp_path: Path) -> Iterator[tuple[Mit, object]]:
    if kind == "dir":
        directory = tmp_path / "ccdir"
        directory.mkdir(mode=0o700)
        conf = realm.write_krb5_conf(tmp_path / "krb5-dir.conf")
        yield Mit(realm, conf, f"DIR:{directory}"), None
        return
    if kind == "keyring":
        with _keyring_collection() as name:
            yield Mit(realm, realm.write_krb5_conf(tmp_path / "krb5-keyring.conf"), name), name
        return
    with _kcm_daemon(kind) as server:
        conf = realm.write_krb5_conf(tmp_path / "krb5-kcm.conf",
                                     kcm_socket=str(server.socket_path))
        yield Mit(realm, conf, "KCM:"), server


@pytest.fixture(params=["heimdal-kcm", "sssd-kcm", "keyring", "dir"])
def mit(request: pytest.FixtureRequest, mit_realm: MitRealm, tmp_path: Path) -> Iterator[Mit]:
    """MIT's tools on a KCM cache (Heimdal's kcm, SSSD's sssd_kcm), a session keyring, or (the
    collection type that needs no server, for comparison) a DIR: collection."""
    with _mit_with(request.param, mit_realm, tmp_path) as (tools, _server):
        yield tools


def _authenticate(
    mit: Mit, gss_krb5: GssKrb5Factory, principal: str | None = None, **auth: Any
) -> KerberosCredential:
    """Our client, with no password unless ``auth`` gives one, against MIT's acceptor; returns
    the credential it used."""
    data = KerberosAuthData(config=mit.config, environ=mit.env, **auth)
    credential = opensspi.credentials("Kerberos", user=principal, auth_data=data)
    assert isinstance(credential, KerberosCredential)
    acceptor = gss_krb5("accept")
    client = opensspi.client("Kerberos", target="HTTP/server.test.local", flags=FLAGS,
                             credential=credential)
    token = client.step()
    while token is not None:
        reply = acceptor.step(token)
        token = client.step(reply) if reply is not None else None
    info = acceptor.info()
    assert client.complete and info["complete"]
    assert info["session_key"] == client.session_key
    assert info["initiator_name"] == credential.principal_name
    assert acceptor.unwrap(client.wrap(b"single sign-on")) == b"single sign-on"
    return credential


def test_kinit_then_no_password_authentication(mit: Mit, gss_krb5: GssKrb5Factory) -> None:
    mit.kinit("alice")
    assert "alice@TEST.LOCAL" in mit.klist()
    credential = _authenticate(mit, gss_krb5)  # KRB5CCNAME from the environment given
    assert credential.principal_name == "alice@TEST.LOCAL"
    assert credential.source is CredentialSource.CCACHE
    # nothing was written: MIT's cache holds only what kinit put there
    assert SERVICE not in mit.klist()


def test_write_ccache_shows_in_mit_klist(mit: Mit, gss_krb5: GssKrb5Factory) -> None:
    mit.kinit("alice")
    name = mit.env["KRB5CCNAME"]
    _authenticate(mit, gss_krb5, ccache=name, write_ccache=name)
    listing = mit.klist()
    assert "Default principal: alice@TEST.LOCAL" in listing
    assert "krbtgt/TEST.LOCAL@TEST.LOCAL" in listing
    assert SERVICE in listing, listing
    # MIT's own library uses the ticket we stored, without asking the KDC
    mit.tool("kvno", "--cached-only", SERVICE)


def test_collection_primary_and_principal(mit: Mit, gss_krb5: GssKrb5Factory) -> None:
    base = mit.env["KRB5CCNAME"]
    if base == "KCM:":
        alice, bob = "KCM:0:alice", "KCM:0:bob"
    elif base.startswith("DIR:"):
        alice, bob = f"DIR::{base[4:]}/tktalice", f"DIR::{base[4:]}/tktbob"
    else:
        alice, bob = f"{base}:alice", f"{base}:bob"
    mit.kinit("alice", alice)
    mit.kinit("bob", bob)
    mit.tool("kswitch", "-c", bob)
    assert "bob@TEST.LOCAL" in mit.klist()  # MIT agrees that bob's cache is the primary
    primary = _authenticate(mit, gss_krb5)
    assert primary.principal_name == "bob@TEST.LOCAL"
    TicketCache.forget_all()
    chosen = _authenticate(mit, gss_krb5, principal="alice@TEST.LOCAL")
    assert chosen.principal_name == "alice@TEST.LOCAL"
    assert chosen.ccache_name == alice


@pytest.mark.parametrize("kind", ["heimdal-kcm", "sssd-kcm"])
def test_kcm_refuses_politely_once_the_server_is_gone(
    kind: str, mit_realm: MitRealm, tmp_path: Path
) -> None:
    with _mit_with(kind, mit_realm, tmp_path) as (tools, server):
        tools.kinit("alice")
        assert isinstance(server, KcmDaemon)
        server.close()
        with pytest.raises(opensspi.SspiError) as info:
            opensspi.credentials("Kerberos", auth_data=KerberosAuthData(
                config=tools.config, environ=tools.env))
    assert info.value.status == 0x8009030E
    assert "there is no KCM server for KCM:" in info.value.message


def test_mit_klist_reads_a_cache_opensspi_wrote(mit: Mit, gss_krb5: GssKrb5Factory,
                                               mit_realm: MitRealm) -> None:
    """The other direction: a cache we write from a password credential is one MIT can use."""
    identity = opensspi.AuthIdentity("alice", "TEST.LOCAL", mit_realm.passwords["alice"])
    name = mit.env["KRB5CCNAME"]
    assert _authenticate(mit, gss_krb5, identity=identity, write_ccache=name).source is (
        CredentialSource.PASSWORD
    )
    listing = mit.klist()
    assert "Default principal: alice@TEST.LOCAL" in listing and SERVICE in listing, listing
    mit.tool("kvno", "--cached-only", SERVICE)
