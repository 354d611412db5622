"""The ``opensspi`` console command."""

from __future__ import annotations

import pytest

from opensspi import cli


def test_packages_lists_every_installed_package(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["packages"]) == 0
    out = capsys.readouterr().out
    for name in ("Kerberos", "NTLM", "WDigest"):
        assert name in out
    assert "NTLM Security Package" in out


def test_demo_for_one_package(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["demo", "--package", "NTLM"]) == 0
    assert "SEC_E_MESSAGE_ALTERED" in capsys.readouterr().out
