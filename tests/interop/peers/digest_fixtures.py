"""pytest fixtures for the real Digest peers (Apache, lighttpd, Cyrus SASL DIGEST-MD5).

Register them either in ``tests/interop/conftest.py``::

    from interop.peers.digest_fixtures import *  # noqa: F403

or per test module with ``pytest_plugins = ["interop.peers.digest_fixtures"]``.

Peer discovery: a missing program makes the fixture **fail** under ``CI=true`` and
skip elsewhere; either way the message carries the ``apt-get`` command.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Iterator
from typing import NoReturn

import pytest

from .apache import APACHE_APT, APACHE_BIN, APACHE_MODULES, ApacheDigestPeer
from .cyrus_sasl import (
    CYRUS_APT,
    SASL_CLIENT_BIN,
    SASL_SERVER_BIN,
    SASLPASSWD_BIN,
    STDBUF_BIN,
    CyrusClient,
    CyrusSaslEnv,
    CyrusServer,
)
from .lighttpd import LIGHTTPD_APT, LIGHTTPD_BIN, LighttpdDigestPeer

__all__ = [
    "apache_digest",
    "cyrus_client",
    "cyrus_sasl_env",
    "cyrus_server",
    "lighttpd_digest",
    "missing_peer",
    "require_files",
]

APT_PREFIX = "apt-get update && DEBIAN_FRONTEND=noninteractive "


_CI_TRUE = {"true", "1", "yes"}  # as tests/interop/conftest.py:in_ci()


def missing_peer(msg: str) -> NoReturn:
    """A peer is missing: skip the test, or fail it under CI=true (project rule)."""
    ci = os.environ.get("CI", "").strip().lower()
    pytest.skip(msg) if ci not in _CI_TRUE else pytest.fail(f"CI={ci}: {msg}", pytrace=False)
    raise AssertionError("unreachable")  # pragma: no cover


def require_files(what: str, apt: str, *paths: str) -> None:
    """Each of ``paths`` (a file or a glob) must exist, else :func:`missing_peer`."""
    missing = [p for p in paths if not glob.glob(p)]
    if missing:
        missing_peer(
            f"{what} not installed (missing {', '.join(missing)}); install with: {APT_PREFIX}{apt}"
        )


def _require_apache() -> None:
    require_files(
        "Apache httpd with mod_auth_digest",
        APACHE_APT,
        APACHE_BIN,
        str(APACHE_MODULES / "mod_auth_digest.so"),
        str(APACHE_MODULES / "mod_mpm_event.so"),
    )


def _require_cyrus() -> None:
    require_files(
        "Cyrus SASL sample programs and DIGEST-MD5 plugin",
        CYRUS_APT,
        SASL_SERVER_BIN,
        SASL_CLIENT_BIN,
        SASLPASSWD_BIN,
        STDBUF_BIN,
        "/usr/lib/*/sasl2/libdigestmd5.so*",
        "/usr/lib/*/sasl2/libsasldb.so*",
    )


@pytest.fixture(scope="session")
def apache_digest() -> Iterator[ApacheDigestPeer]:
    """Apache mod_auth_digest on 127.0.0.1:<free port>, realm ``opensspi-test``."""
    _require_apache()
    peer = ApacheDigestPeer()
    try:
        peer.start()
        yield peer
    finally:
        peer.stop()


@pytest.fixture(scope="session")
def lighttpd_digest() -> Iterator[LighttpdDigestPeer]:
    """lighttpd mod_auth (MD5, SHA-256, SHA-512-256, userhash) on 127.0.0.1:<free port>."""
    require_files(
        "lighttpd",
        LIGHTTPD_APT,
        LIGHTTPD_BIN,
        "/usr/lib/lighttpd/mod_auth.so",
        "/usr/lib/lighttpd/mod_authn_file.so",
    )
    peer = LighttpdDigestPeer()
    try:
        peer.start()
        yield peer
    finally:
        peer.stop()


@pytest.fixture(scope="session")
def cyrus_sasl_env() -> Iterator[CyrusSaslEnv]:
    """A private Cyrus configuration (sample.conf + sasldb with the test users)."""
    _require_cyrus()
    env = CyrusSaslEnv()
    try:
        env.setup()
        yield env
    finally:
        env.close()


@pytest.fixture
def cyrus_server(cyrus_sasl_env: CyrusSaslEnv) -> Iterator[Callable[..., CyrusServer]]:
    """Factory ``(qop="auth", cipher=None, **kw) -> CyrusServer``; processes die at teardown."""
    started: list[CyrusServer] = []

    def start(*args: object, **kwargs: object) -> CyrusServer:
        srv = cyrus_sasl_env.server(*args, **kwargs)  # type: ignore[arg-type]
        started.append(srv)
        return srv

    try:
        yield start
    finally:
        for srv in started:
            srv.close()


@pytest.fixture
def cyrus_client(cyrus_sasl_env: CyrusSaslEnv) -> Iterator[Callable[..., CyrusClient]]:
    """Factory ``(user="alice", password=None, qop=None, cipher=None, **kw) -> CyrusClient``."""
    started: list[CyrusClient] = []

    def start(*args: object, **kwargs: object) -> CyrusClient:
        cli = cyrus_sasl_env.client(*args, **kwargs)  # type: ignore[arg-type]
        started.append(cli)
        return cli

    try:
        yield start
    finally:
        for cli in started:
            cli.close()
