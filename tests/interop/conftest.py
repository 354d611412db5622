"""Fixtures for the real-peer tests: each test starts its own peer, on files in its tmp_path.
The KDCs are the exception: one MIT realm and one Heimdal realm serve the whole session.

Project rule: a real peer that cannot be found makes the test **fail** under ``CI=true`` and skip,
saying how to install it, anywhere else. Every such check goes through :func:`require_peer`.

Import helpers as ``interop.peers.gss`` (``tests`` is on ``pythonpath``, see pyproject.toml).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from interop.peers.digest_fixtures import *  # noqa: F403
from interop.peers.gss import (
    DEFAULT_USERS,
    INSTALL_HINT,
    GssKrb5Factory,
    GssNtlmFactory,
    NtlmUser,
    find_gssntlmssp_so,
    have_gssapi_module,
)
from interop.peers.heimdal_kdc import INSTALL_HINT as HEIMDAL_HINT
from interop.peers.heimdal_kdc import HeimdalRealm, find_heimdal, heimdal_usable
from interop.peers.mit_kdc import INSTALL_HINT as MIT_KDC_HINT
from interop.peers.mit_kdc import MitRealm, have_mit_kdc
from interop.peers.samba_dc import INSTALL_HINT as SAMBA_HINT
from interop.peers.samba_dc import SambaDc, SambaError, have_samba, ports_in_use
from support.require import require_peer

PYSPNEGO_HINT = "pip install pyspnego  (or: pip install -e '.[test]')"


# The rule lives in tests/support/require.py; re-exported for the peers' fixtures.
def write_ntlm_user_file(path: Path, users: tuple[NtlmUser, ...] = DEFAULT_USERS) -> Path:
    """Write an ``NTLM_USER_FILE`` (``DOMAIN:USER:PASSWORD`` per line, UTF-8)."""
    path.write_text("".join(u.line() + "\n" for u in users), encoding="utf-8")
    return path


@pytest.fixture
def gss_ntlm(tmp_path: Path) -> Iterator[GssNtlmFactory]:
    """A factory of gss-ntlmssp peers (subprocesses) sharing one private configuration."""
    so_path = find_gssntlmssp_so()
    require_peer(so_path is not None, "gss-ntlmssp (gssntlmssp.so)", INSTALL_HINT)
    require_peer(have_gssapi_module(), "python module 'gssapi'", INSTALL_HINT)
    assert so_path is not None
    factory = GssNtlmFactory(tmp_path / "gss-ntlmssp", so_path)
    try:
        yield factory
    finally:
        factory.close_all()


@pytest.fixture
def pyspnego() -> ModuleType:
    """The ``spnego`` module (pyspnego, pure Python; runs in-process)."""
    require_peer(importlib.util.find_spec("spnego") is not None, "pyspnego", PYSPNEGO_HINT)
    import spnego

    return spnego


@pytest.fixture
def ntlm_user_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user file with :data:`DEFAULT_USERS`, exported as ``NTLM_USER_FILE`` for in-process
    acceptors (pyspnego's NTLM, ours)."""
    path = write_ntlm_user_file(tmp_path / "ntlm-users")
    monkeypatch.setenv("NTLM_USER_FILE", str(path))
    return path


@pytest.fixture(scope="session")
def mit_realm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MitRealm]:
    """One MIT realm ``TEST.LOCAL`` with a running ``krb5kdc`` for the whole session (see
    :mod:`interop.peers.mit_kdc`). Tests may add principals; they must not change existing ones."""
    require_peer(
        have_mit_kdc(), "MIT krb5 KDC (krb5kdc, kdb5_util, kadmin.local, kinit)", MIT_KDC_HINT
    )
    realm = MitRealm(tmp_path_factory.mktemp("mit-realm"))
    try:
        realm.start()
        yield realm
    finally:
        realm.close()


@pytest.fixture(scope="session")
def heimdal_realm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HeimdalRealm]:
    """One Heimdal realm ``HEIMDAL.LOCAL`` (the KDC unpacked into ``.peers/heimdal`` by
    ``scripts/setup.sh --peers``) for the whole session; clients are MIT's."""
    install = find_heimdal()
    usable, why = heimdal_usable(install)
    require_peer(usable, why, HEIMDAL_HINT)
    require_peer(have_mit_kdc(), "MIT krb5 client tools (kinit)", MIT_KDC_HINT)
    assert install is not None
    realm = HeimdalRealm(install, tmp_path_factory.mktemp("heimdal-realm"))
    try:
        realm.start()
        yield realm
    finally:
        realm.close()


@pytest.fixture
def gss_krb5(mit_realm: MitRealm, tmp_path: Path) -> Iterator[GssKrb5Factory]:
    """A factory of MIT GSSAPI krb5/SPNEGO peers (subprocesses) against :func:`mit_realm`:
    ``gss_krb5("accept")``, ``gss_krb5("initiate", target="HTTP@e17.test.local")``."""
    require_peer(have_gssapi_module(), "python module 'gssapi'", INSTALL_HINT)
    factory = GssKrb5Factory(tmp_path / "gss-krb5", mit_realm)
    try:
        yield factory
    finally:
        factory.close_all()


@pytest.fixture
def gss_krb5_heimdal(heimdal_realm: HeimdalRealm, tmp_path: Path) -> Iterator[GssKrb5Factory]:
    """As :func:`gss_krb5`, against :func:`heimdal_realm` (target ``host@server.heimdal.local``
    or ``HTTP@server.heimdal.local``)."""
    require_peer(have_gssapi_module(), "python module 'gssapi'", INSTALL_HINT)
    factory = GssKrb5Factory(tmp_path / "gss-krb5-heimdal", heimdal_realm)
    try:
        yield factory
    finally:
        factory.close_all()


@pytest.fixture(scope="session")
def samba_dc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SambaDc]:
    """One Samba AD DC ``SAMDOM.TEST`` (``dc1.samdom.test`` on 127.0.0.1) for the whole
    session, provisioned once (see :mod:`interop.peers.samba_dc`); stopped by its process group
    at the end, and its /etc/hosts line removed. Tests must not change its accounts."""
    require_peer(have_samba(), "Samba AD DC (samba, samba-tool, ldbmodify)", SAMBA_HINT)
    require_peer(os.geteuid() == 0, "root (for ports 88/389/445 and /etc/hosts)", SAMBA_HINT)
    busy = ports_in_use()
    require_peer(
        not busy,
        f"free ports on 127.0.0.1 for the Samba DC (in use: {busy})",
        "stop the KDC, LDAP or SMB server listening there",
    )
    dc = SambaDc(tmp_path_factory.mktemp("samba-dc"))
    try:
        dc.provision()
        try:
            dc.start()
        except SambaError:
            # Something else (another test run's DC or KDC) took the well-known ports while we
            # provisioned: that is a busy machine, not a broken peer.
            taken = ports_in_use()
            require_peer(
                not taken,
                f"free ports on 127.0.0.1 for the Samba DC (taken while provisioning: {taken})",
                "run the Samba tests when no other DC or KDC listens there",
            )
            raise
        yield dc
    finally:
        dc.close()
