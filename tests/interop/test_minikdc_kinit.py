"""MIT's tools accept opensspi's test KDC (:class:`opensspi.testing.kdc.MiniKdc`).

``kinit`` gets a TGT from it over UDP and over TCP (pre-authentication with ETYPE-INFO2 and
PA-ENC-TIMESTAMP), ``klist`` shows it with the flags asked for, ``kvno`` gets a service ticket
with it (a TGS exchange with MIT's req-body checksum), opensspi's client uses that MIT ccache
to reach opensspi's acceptor, and a wrong password is refused the way MIT expects. Nothing
under /etc is read: the tools get ``KRB5_CONFIG`` pointing at the KDC's own krb5.conf.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

import opensspi
from interop.conftest import require_peer
from opensspi import IscReq
from opensspi.packages.kerberos import KerberosAuthData
from opensspi.packages.kerberos.acceptor import ReplayCache
from opensspi.packages.kerberos.tickets import TicketCache
from opensspi.testing.kdc import MiniKdc

pytestmark = pytest.mark.interop

REALM = "EXAMPLE.TEST"
PASSWORD = "Al1ce-Passw0rd!"
SERVICE = "HTTP/web.example.test"
HINT = "apt-get install krb5-user  (MIT kinit, klist, kvno)"


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    TicketCache.forget_all()
    ReplayCache.shared().clear()
    yield
    TicketCache.forget_all()


def run(
    argv: list[str], env: Mapping[str, str], stdin: bytes = b""
) -> subprocess.CompletedProcess[str]:
    tool = shutil.which(argv[0])
    assert tool is not None
    return subprocess.run(
        [tool, *argv[1:]], input=stdin.decode(), capture_output=True, text=True,
        env={**os.environ, **env}, timeout=60, check=False,
    )


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_mit_kinit_klist_and_kvno_accept_minikdc(tmp_path: Path, transport: str) -> None:
    require_peer(bool(shutil.which("kinit") and shutil.which("klist")), "MIT kinit and klist",
                 HINT)
    kdc = MiniKdc(REALM)
    kdc.add_user("alice", PASSWORD)
    kdc.add_service(SERVICE)
    libdefaults = {"udp_preference_limit": 1} if transport == "tcp" else None
    with kdc.serve() as server:
        conf = tmp_path / "krb5.conf"
        conf.write_text(kdc.krb5_conf_text(libdefaults=libdefaults))
        ccache = tmp_path / "ccache"
        env = {"KRB5_CONFIG": str(conf), "KRB5CCNAME": f"FILE:{ccache}",
               "KRB5_TRACE": str(tmp_path / "trace.log")}

        kinit = run(["kinit", "-f", f"alice@{REALM}"], env, PASSWORD.encode() + b"\n")
        trace = (tmp_path / "trace.log").read_text(errors="replace")
        assert kinit.returncode == 0, kinit.stderr + trace
        assert "Additional pre-authentication required" in trace  # KDC_ERR_PREAUTH_REQUIRED
        assert f'salt "{REALM}alice"' in trace  # from our ETYPE-INFO2

        klist = run(["klist", "-f"], env)
        assert klist.returncode == 0, klist.stderr
        assert f"Default principal: alice@{REALM}" in klist.stdout
        assert f"krbtgt/{REALM}@{REALM}" in klist.stdout
        flags = klist.stdout.split("Flags: ", 1)[1].split()[0].rstrip(",")
        assert {"F", "I", "A"} <= set(flags)  # forwardable, initial, pre-authenticated

        if shutil.which("kvno"):
            kvno = run(["kvno", SERVICE], env)
            assert kvno.returncode == 0, kvno.stderr
            assert f"{SERVICE}@{REALM}: kvno = 1" in kvno.stdout

        # opensspi's client starts from MIT's ccache; opensspi's acceptor checks the ticket.
        config = kdc.krb5_config(libdefaults=libdefaults)
        keytab = kdc.write_keytab(tmp_path / "web.keytab", SERVICE)
        client = opensspi.client(
            "Kerberos", target=SERVICE, flags=IscReq.MUTUAL_AUTH | IscReq.CONFIDENTIALITY,
            auth_data=KerberosAuthData(ccache=f"FILE:{ccache}", config=config),
        )
        acceptor = opensspi.server(
            "Kerberos", auth_data=KerberosAuthData(acceptor_keytab=str(keytab), config=config)
        )
        assert client.step(acceptor.step(client.step())) is None
        assert acceptor.client_name == f"alice@{REALM}"

        wrong = run(["kinit", f"alice@{REALM}"], {**env, "KRB5CCNAME": f"FILE:{tmp_path}/x"},
                    b"not-the-password\n")
        assert wrong.returncode != 0 and "Password incorrect" in wrong.stderr

        stats = server.stats
        assert (stats.tcp if transport == "tcp" else stats.udp) >= 5
        assert stats.errors == 0
