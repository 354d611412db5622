"""A hostile KDC on 127.0.0.1 (tests/support/mutating_kdc.py) against the KDC transport and the
AS/TGS exchanges that consume its replies: RFC 4120 §7.2.1 (UDP), §7.2.2 (TCP), §3.1.5.

Every case runs a Kerberos initiator (password credential, so the first call talks to the KDC)
whose krb5.conf says ``kdc_timeout = 1`` and ``max_retries = 1``. The bound of one KDC request is
then ``kdc_timeout * max_retries * addresses`` = 2 s with ``kdc = 127.0.0.1:port`` (UDP and TCP)
and 1 s with ``kdc = tcp/127.0.0.1:port``; a step sends at most three requests (AS-REQ,
AS-REQ with PA-ENC-TIMESTAMP, TGS-REQ), so no step may take longer than 6 s. The test fails
if the step has not returned 10 s after it started: a hang guard derived from that bound (with
slack for a loaded machine), not a performance assertion. Measured on the development machine:
the "at once" cases return in under 0.1 s, the silent and late ones in 2.0 s (UDP and TCP
addresses) or 1.0 s (TCP only).

What the client must make of each misbehaviour:

======================  ============  ==========================================  =========
mode                    transport     status                                      bound
======================  ============  ==========================================  =========
honest (control)        UDP, TCP      SEC_I_CONTINUE_NEEDED / SEC_E_OK            -
duplicate datagrams     UDP           SEC_E_OK (the first one is used)            -
truncated reply         UDP, TCP      SEC_E_INVALID_TOKEN                         at once
oversized               UDP           SEC_E_INVALID_TOKEN (60000 trailing bytes)  at once
oversized (2 MiB pfx)   TCP           SEC_E_NO_AUTHENTICATING_AUTHORITY           at once
length prefix high bit  UDP→TCP       SEC_E_NO_AUTHENTICATING_AUTHORITY           at once
prefix too long         UDP→TCP, TCP  SEC_E_NO_AUTHENTICATING_AUTHORITY           at once
prefix too short        UDP→TCP, TCP  SEC_E_INVALID_TOKEN (a cut reply)           at once
accepts, never answers  UDP, TCP      SEC_E_NO_AUTHENTICATING_AUTHORITY           1-2 s
late replies (1.5 s)    UDP(+TCP)     SEC_E_NO_AUTHENTICATING_AUTHORITY           2 s
endless TOO_BIG         UDP→TCP, TCP  SEC_E_NO_AUTHENTICATING_AUTHORITY           at once
reply to another nonce  UDP, TCP      SEC_E_INVALID_TOKEN ("nonce mismatch")      at once
another realm (crealm)  UDP, TCP      SEC_E_WRONG_PRINCIPAL                       at once
another client (cname)  UDP, TCP      SEC_E_WRONG_PRINCIPAL                       at once
another service (TGS)   UDP, TCP      SEC_E_WRONG_PRINCIPAL (ticket sname)        at once
======================  ============  ==========================================  =========

"UDP→TCP": the UDP reply is KRB_ERR_RESPONSE_TOO_BIG, so the client retries over TCP (§7.2.1)
and meets the broken frame there. KRB_ERR_RESPONSE_TOO_BIG over TCP is treated as a broken
frame (the KDC fails over; see ``transport._tcp_reply``): before issue 12 an endless one ended
as SEC_E_INTERNAL_ERROR.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

import opensspi
from opensspi.constants import SecStatus
from opensspi.errors import SspiError
from opensspi.packages.kerberos import KerberosAuthData
from opensspi.packages.kerberos.config import Krb5Config
from opensspi.packages.kerberos.tickets import TicketCache
from opensspi.provider import AuthIdentity
from opensspi.testing.kdc import MiniKdc
from support.mutating_kdc import Mode, MutatingKdc

WEB = "HTTP/web.example.test"
S = SecStatus
NO_KDC = S.SEC_E_NO_AUTHENTICATING_AUTHORITY
STEP_BOUND = 6.0  # three KDC requests, 2 s each (see above)
HANG_GUARD = STEP_BOUND + 4.0

# (mode, transport) -> expected status
CASES: dict[tuple[Mode, str], SecStatus] = {
    (Mode.HONEST, "udp"): S.SEC_E_OK,
    (Mode.HONEST, "tcp"): S.SEC_E_OK,
    (Mode.DUPLICATE, "udp"): S.SEC_E_OK,
    (Mode.TRUNCATED, "udp"): S.SEC_E_INVALID_TOKEN,
    (Mode.TRUNCATED, "tcp"): S.SEC_E_INVALID_TOKEN,
    (Mode.OVERSIZED, "udp"): S.SEC_E_INVALID_TOKEN,
    (Mode.OVERSIZED, "tcp"): NO_KDC,
    (Mode.HIGH_BIT, "udp"): NO_KDC,
    (Mode.HIGH_BIT, "tcp"): NO_KDC,
    (Mode.PREFIX_TOO_LONG, "udp"): NO_KDC,
    (Mode.PREFIX_TOO_LONG, "tcp"): NO_KDC,
    (Mode.PREFIX_TOO_SHORT, "udp"): S.SEC_E_INVALID_TOKEN,
    (Mode.PREFIX_TOO_SHORT, "tcp"): S.SEC_E_INVALID_TOKEN,
    (Mode.SILENT, "udp"): NO_KDC,
    (Mode.SILENT, "tcp"): NO_KDC,
    (Mode.LATE, "udp"): NO_KDC,
    (Mode.TOO_BIG, "udp"): NO_KDC,
    (Mode.TOO_BIG, "tcp"): NO_KDC,
    (Mode.OTHER_NONCE, "udp"): S.SEC_E_INVALID_TOKEN,
    (Mode.OTHER_NONCE, "tcp"): S.SEC_E_INVALID_TOKEN,
    (Mode.OTHER_REALM, "udp"): S.SEC_E_WRONG_PRINCIPAL,
    (Mode.OTHER_REALM, "tcp"): S.SEC_E_WRONG_PRINCIPAL,
    (Mode.OTHER_CLIENT, "udp"): S.SEC_E_WRONG_PRINCIPAL,
    (Mode.OTHER_CLIENT, "tcp"): S.SEC_E_WRONG_PRINCIPAL,
    (Mode.OTHER_SERVICE, "udp"): S.SEC_E_WRONG_PRINCIPAL,
    (Mode.OTHER_SERVICE, "tcp"): S.SEC_E_WRONG_PRINCIPAL,
}


@pytest.fixture(autouse=True)
def _fresh_tickets() -> Iterator[None]:
    TicketCache.forget_all()
    yield
    TicketCache.forget_all()


def _step(mode: Mode, transport: str) -> tuple[SecStatus, MutatingKdc, str]:
    kdc = MiniKdc("EXAMPLE.TEST")
    kdc.add_user("alice", "Al1ce-Passw0rd!")
    kdc.add_service(WEB)
    outcome: list[object] = []
    with MutatingKdc(kdc, mode, delay=1.5) as hostile:
        where = hostile.address if transport == "udp" else f"tcp/{hostile.address}"
        config = Krb5Config.from_string(kdc.krb5_conf_text(
            kdc=where, libdefaults={"kdc_timeout": 1, "max_retries": 1}))
        client = opensspi.client("Kerberos", target=WEB, auth_data=KerberosAuthData(
            identity=AuthIdentity("alice", "EXAMPLE.TEST", "Al1ce-Passw0rd!"), config=config))

        def run() -> None:
            try:
                client.step()
                outcome.append(client.status)
            except SspiError as exc:
                outcome.append(exc)
            except BaseException as exc:  # reported below: the contract is SspiError only
                outcome.append(exc)

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        worker.join(HANG_GUARD)
        assert not worker.is_alive(), f"{mode.value}/{transport}: no answer after {HANG_GUARD} s"
    result = outcome[0]
    if isinstance(result, SspiError):
        return result.status, hostile, result.message
    if isinstance(result, SecStatus):
        return (S.SEC_E_OK if result in (S.SEC_E_OK, S.SEC_I_CONTINUE_NEEDED) else result,
                hostile, "")
    raise AssertionError(f"{mode.value}/{transport}: {type(result).__name__}: {result}")


@pytest.mark.parametrize(("mode", "transport"), list(CASES),
                         ids=[f"{m.value}-{t}" for m, t in CASES])
def test_hostile_kdc_gives_the_documented_status(mode: Mode, transport: str) -> None:
    status, hostile, message = _step(mode, transport)
    assert status == CASES[(mode, transport)], message
    if transport == "tcp":
        assert hostile.udp_requests == 0  # the tcp/ prefix kept the client off UDP
    if mode in (Mode.HIGH_BIT, Mode.PREFIX_TOO_LONG, Mode.TOO_BIG) and transport == "udp":
        assert hostile.tcp_requests >= 1  # RESPONSE_TOO_BIG sent it to TCP (§7.2.1)


ASYNC_CASES = [(Mode.SILENT, "udp"), (Mode.TOO_BIG, "udp"), (Mode.TOO_BIG, "tcp"),
               (Mode.PREFIX_TOO_LONG, "tcp"), (Mode.OVERSIZED, "tcp"), (Mode.TRUNCATED, "udp"),
               (Mode.HONEST, "tcp")]


@pytest.mark.parametrize(("mode", "transport"), ASYNC_CASES,
                         ids=[f"{m.value}-{t}" for m, t in ASYNC_CASES])
def test_hostile_kdc_through_the_asyncio_transport(mode: Mode, transport: str) -> None:
    """The same statuses through ``step_async`` (``send_to_kdc_async``), bounded by
    ``asyncio.wait_for`` as the hang guard."""
    import asyncio

    kdc = MiniKdc("EXAMPLE.TEST")
    kdc.add_user("alice", "Al1ce-Passw0rd!")
    kdc.add_service(WEB)
    with MutatingKdc(kdc, mode, delay=1.5) as hostile:
        where = hostile.address if transport == "udp" else f"tcp/{hostile.address}"
        config = Krb5Config.from_string(kdc.krb5_conf_text(
            kdc=where, libdefaults={"kdc_timeout": 1, "max_retries": 1}))
        client = opensspi.client("Kerberos", target=WEB, auth_data=KerberosAuthData(
            identity=AuthIdentity("alice", "EXAMPLE.TEST", "Al1ce-Passw0rd!"), config=config))

        async def run() -> SecStatus:
            try:
                await asyncio.wait_for(client.step_async(), HANG_GUARD)
            except SspiError as exc:
                return exc.status
            assert client.status is not None
            return S.SEC_E_OK if client.status in (S.SEC_E_OK, S.SEC_I_CONTINUE_NEEDED) else (
                client.status)

        assert asyncio.run(run()) == CASES[(mode, transport)]
