"""Can a peer tell an unknown user from a wrong password by the acceptor's answer time?

Times the failing AcceptSecurityContext call of the NTLM acceptor (NTLMv2 AUTHENTICATE) and of
the Digest acceptor (HTTP Authorization, SASL digest-response) for an unknown user name and for
a known user with a wrong password, interleaved (so drift hits both alike), and prints the
medians, their difference, and the spread (interquartile range) of each. Both sides must also
give the same status. Not a test: timing belongs in a measurement, not an assertion.

    PYTHONPATH=src .venv/bin/python tools/enumeration_timing.py [ROUNDS]
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

import opensspi
from opensspi.constants import AscReq, CredentialUse, IscReq
from opensspi.errors import SspiError
from opensspi.packages.digest import DigestPackage
from opensspi.packages.digest.credentials import DigestAcceptorConfig
from opensspi.packages.digest.machine import ASC_REQ_HTTP
from opensspi.provider import AuthIdentity, StepInput

USERS = {"CORP\\alice": "Passw0rd!"}


def ntlm_case(user: str, password: str) -> Callable[[], object]:
    """A fresh acceptor that got NEGOTIATE; the call sends AUTHENTICATE."""
    client = opensspi.client("NTLM", user=user, password=password, target="HTTP/web")
    server = opensspi.server("NTLM", users=USERS)
    challenge = server.step(client.step())
    authenticate = client.step(challenge)
    return lambda: server.step(authenticate)


def digest_case(http: bool, user: str, password: str) -> Callable[[], object]:
    package = DigestPackage()
    ccred = package.acquire_credentials(None, CredentialUse.OUTBOUND,
                                        AuthIdentity(user, None, password))
    scred = package.acquire_credentials(None, CredentialUse.INBOUND, DigestAcceptorConfig(
        realm="example.com", passwords={"alice": "Passw0rd!"}))
    env = opensspi.Environment()
    if http:
        client = package.client_context(ccred, "/", IscReq.USE_HTTP_STYLE, env)
        server = package.server_context(scred, AscReq(ASC_REQ_HTTP), env)
        auth = client.step(StepInput(server.step(StepInput()).token, params=(b"GET", b""))).token
        return lambda: server.step(StepInput(auth, params=(b"GET", b"/", b"")))
    client = package.client_context(ccred, "imap/h", IscReq(0), env)
    server = package.server_context(scred, AscReq(0), env)
    client.step(StepInput())
    response = client.step(StepInput(server.step(StepInput()).token)).token
    return lambda: server.step(StepInput(response))


def measure(make: Callable[[str, str], Callable[[], object]], known: str, unknown: str,
            rounds: int) -> tuple[list[float], list[float], set[str]]:
    times: dict[str, list[float]] = {"wrong password": [], "unknown user": []}
    statuses: set[str] = set()
    for _ in range(rounds):
        for label, user in (("wrong password", known), ("unknown user", unknown)):
            call = make(user, "not the password")
            start = time.perf_counter_ns()
            try:
                call()
                statuses.add(f"{label}: accepted?!")
            except SspiError as exc:
                statuses.add(exc.status.name)
            times[label].append((time.perf_counter_ns() - start) / 1000)
    return times["wrong password"], times["unknown user"], statuses


def report(name: str, wrong: list[float], unknown: list[float], statuses: set[str]) -> None:
    def iqr(xs: list[float]) -> float:
        q = statistics.quantiles(xs, n=4)
        return q[2] - q[0]

    mw, mu = statistics.median(wrong), statistics.median(unknown)
    print(f"{name:22} wrong password {mw:8.1f} us (IQR {iqr(wrong):6.1f})  "
          f"unknown user {mu:8.1f} us (IQR {iqr(unknown):6.1f})  "
          f"difference {mu - mw:+7.1f} us  statuses {sorted(statuses)}")


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    report("NTLM (NTLMv2)", *measure(ntlm_case, "CORP\\alice", "CORP\\nobody", rounds))
    report("Digest HTTP (SHA-256)", *measure(
        lambda u, p: digest_case(True, u, p), "alice", "nobody", rounds))
    report("Digest SASL (MD5)", *measure(
        lambda u, p: digest_case(False, u, p), "alice", "nobody", rounds))


if __name__ == "__main__":
    main()
