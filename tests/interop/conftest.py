"""Fixtures for the real-peer tests: each test starts its own peer, on files in its tmp_path.

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
    GssNtlmFactory,
    NtlmUser,
    find_gssntlmssp_so,
    have_gssapi_module,
)

PYSPNEGO_HINT = "pip install pyspnego  (or: pip install -e '.[test]')"


def in_ci() -> bool:
    """Whether we run under CI, where a missing peer is a failure, not a skip."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def require_peer(condition: bool, what: str, how_to_install: str) -> None:
    """Fail (under CI) or skip (elsewhere) the current test unless ``condition`` holds."""
    if condition:
        return
    if in_ci():
        pytest.fail(
            f"real peer missing under CI=true: {what}. Install with: {how_to_install}",
            pytrace=False,
        )
    pytest.skip(f"{what} not available (CI unset, so skipping); install with: {how_to_install}")


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
