"""HTTP Negotiate (RFC 4559) end to end with the Negotiate package on both sides: opensspi's
requests and httpx adapters against opensspi's WSGI middleware, over real sockets.

A host name gives Kerberos (MiniKdc, one round trip, the AP-REP checked in the final
``WWW-Authenticate``); an IP address gives NTLM inside SPNEGO (two round trips on one pinned
connection, mechListMICs both ways), as Windows' Negotiate does.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import requests

from interop.peers.wsgi_server import hello_app, serve_wsgi
from opensspi import AuthIdentity
from opensspi.integrations import httpx as ox
from opensspi.integrations import requests as orq
from opensspi.integrations.wsgi import SspiMiddleware
from opensspi.packages.kerberos import KerberosAuthData
from opensspi.packages.kerberos.acceptor import ReplayCache
from opensspi.packages.kerberos.tickets import TicketCache
from opensspi.packages.negotiate import NegotiateAuthData
from opensspi.testing.kdc import MiniKdc

REALM = "EXAMPLE.TEST"
PASSWORD = "Al1ce-Passw0rd!"


@pytest.fixture
def realm(tmp_path: Path) -> Iterator[tuple[NegotiateAuthData, NegotiateAuthData]]:
    TicketCache.forget_all()
    ReplayCache.shared().clear()
    kdc = MiniKdc(REALM)
    kdc.add_user("alice", PASSWORD)
    service = kdc.add_service("HTTP/localhost")
    with kdc.serve():
        config = kdc.krb5_config()
        keytab = kdc.write_keytab(tmp_path / "http.keytab", service)
        identity = AuthIdentity("alice", REALM, PASSWORD)
        yield (
            NegotiateAuthData(identity=identity,
                              kerberos=KerberosAuthData(identity=identity, config=config)),
            NegotiateAuthData(
                kerberos=KerberosAuthData(acceptor_keytab=str(keytab), config=config),
                ntlm={f"{REALM}\\alice": PASSWORD}),
        )
    TicketCache.forget_all()
    ReplayCache.shared().clear()


def _app(acceptor: NegotiateAuthData) -> SspiMiddleware:
    return SspiMiddleware(hello_app, packages=["Negotiate"], auth_data={"Negotiate": acceptor})


def test_requests_negotiate_kerberos_by_name_ntlm_by_address(
    realm: tuple[NegotiateAuthData, NegotiateAuthData],
) -> None:
    client, acceptor = realm
    with serve_wsgi(_app(acceptor)) as url, requests.Session() as session:
        by_name = url.replace("127.0.0.1", "localhost")
        r = session.get(by_name + "/", auth=orq.SspiAuth(package="Negotiate", auth_data=client))
        assert (r.status_code, r.text) == (200, f"hello alice@{REALM} via Negotiate")
        assert [h.status_code for h in r.history] == [401]
        r = session.get(url + "/", auth=orq.SspiAuth(package="Negotiate", auth_data=client))
        assert (r.status_code, r.text) == (200, f"hello {REALM}\\alice via Negotiate")
        assert [h.status_code for h in r.history] == [401, 401]


def test_httpx_negotiate_ntlm_inside_spnego(
    realm: tuple[NegotiateAuthData, NegotiateAuthData],
) -> None:
    client, acceptor = realm
    with serve_wsgi(_app(acceptor)) as url, httpx.Client() as http:
        r = http.get(url + "/", auth=ox.SspiAuth(package="Negotiate", auth_data=client))
        assert (r.status_code, r.text) == (200, f"hello {REALM}\\alice via Negotiate")
