"""``opensspi klist`` against MIT's ``klist``: the same cache, byte-identical output.

The cache is written by opensspi's Kerberos client (``write_ccache``) after AS and TGS exchanges
with opensspi's MiniKdc; MIT's klist (krb5-user) reads the same file, in the C locale.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

import opensspi
from opensspi import AuthIdentity, cli
from opensspi.packages.kerberos import KerberosAuthData
from opensspi.packages.kerberos.tickets import TicketCache
from opensspi.testing.kdc import MiniKdc
from support.require import require_peer

pytestmark = pytest.mark.interop


@pytest.mark.parametrize("options", [[], ["-f"], ["-e"], ["-f", "-e"]])
def test_klist_matches_mit(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                           options: list[str]) -> None:
    mit = shutil.which("klist")
    require_peer(mit is not None, "MIT klist", "apt-get install krb5-user")
    assert mit is not None
    TicketCache.forget_all()
    kdc = MiniKdc("EXAMPLE.TEST")
    kdc.add_user("alice", "Al1ce-pw")
    kdc.add_service("HTTP/web.example.test")
    cache = tmp_path / "ccache"
    with kdc.serve():
        client = opensspi.client("Kerberos", target="HTTP/web.example.test", auth_data=(
            KerberosAuthData(identity=AuthIdentity("alice", "EXAMPLE.TEST", "Al1ce-pw"),
                             config=kdc.krb5_config(), write_ccache=f"FILE:{cache}")))
        assert client.step() is not None
    TicketCache.forget_all()
    env = {**os.environ, "LC_ALL": "C"}
    expected = subprocess.run([mit, *options, "-c", f"FILE:{cache}"], env=env,
                              capture_output=True, text=True, check=True).stdout
    assert cli.main(["klist", *options, "-c", f"FILE:{cache}"]) == 0
    assert capsys.readouterr().out == expected
