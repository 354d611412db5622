"""The Kerberos acceptor against AP-REQs recorded from MIT krb5, with no KDC needed.

The recorded realm's service keys (tests/vectors/peers/mit/realm.json) make a keytab; the clock
is set to the moment of capture through Environment, so the tickets are valid. The same tokens
are then mutated, replayed and sent in the wrong state.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import opensspi
from opensspi import AscRet, Environment, SecStatus, SspiError
from opensspi.errors import (
    ContextExpired,
    InvalidToken,
    LogonDenied,
    MutualAuthFailed,
    OutOfSequence,
    TimeSkew,
    WrongPrincipal,
)
from opensspi.packages.kerberos import KerberosAuthData
from opensspi.packages.kerberos.acceptor import ReplayCache
from opensspi.packages.kerberos.asn1 import Authenticator, gss_unwrap_token
from opensspi.packages.kerberos.ccache import CcachePrincipal
from opensspi.packages.kerberos.config import Krb5Config
from opensspi.packages.kerberos.keytab import Keytab, KeytabEntry
from opensspi.packages.kerberos.machine import TRANSITIONS, Input, State
from opensspi.statemachine import mermaid

MIT = Path(__file__).resolve().parents[2] / "vectors" / "peers" / "mit"
AP = {e["name"]: e for e in json.loads((MIT / "ap.json").read_text())["entries"]}
REALM = json.loads((MIT / "realm.json").read_text())
CONFIG = Krb5Config.from_string(
    "[libdefaults]\n default_realm = TEST.LOCAL\n dns_lookup_kdc = false\n")


def _token(name: str) -> bytes:
    return bytes.fromhex(AP[name]["hex"])


def _capture_time(name: str) -> datetime:
    """The authenticator's time: decrypt it with the session key the vectors recorded."""
    entry = AP[f"{name} AP-REQ Authenticator" if "AP-REQ" not in name else f"{name} Authenticator"]
    return Authenticator.parse(bytes.fromhex(entry["hex"])).ctime


def _keytab(tmp_path: Path, principal: str = "host/server.test.local",
            keys_of: str | None = None) -> str:
    entries = [
        KeytabEntry(CcachePrincipal(1, tuple(principal.split("/")), "TEST.LOCAL"), 0,
                    key["kvno"], key["etype"], bytes.fromhex(key["hex"]))
        for key in REALM["keys"][keys_of or principal]
    ]
    keytab = Keytab(tuple(entries))
    path = tmp_path / f"{principal.replace('/', '_')}.keytab"
    keytab.save(path)
    return str(path)


@pytest.fixture(autouse=True)
def _clean_replay_cache() -> Iterator[None]:
    ReplayCache.shared().clear()
    yield
    ReplayCache.shared().clear()


def _server(tmp_path: Path, at: datetime, principal: str = "host/server.test.local",
            flags: int = 0, keys_of: str | None = None) -> opensspi.Context:
    keytab = _keytab(tmp_path, principal, keys_of)
    return opensspi.server("Kerberos", flags=flags,  # type: ignore[arg-type]
                           auth_data=KerberosAuthData(acceptor_keytab=keytab, config=CONFIG),
                           env=Environment(now=lambda: at + timedelta(seconds=1)))


def test_recorded_mutual_ap_req_is_accepted(tmp_path: Path) -> None:
    at = _capture_time("gss krb5 initiator #0")
    server = _server(tmp_path, at)
    reply = server.step(_token("gss krb5 initiator #0"))
    assert server.status == SecStatus.SEC_E_OK and server.complete
    assert reply is not None
    oid, tok_id, _ = gss_unwrap_token(reply)
    assert tok_id == b"\x02\x00" and oid == "1.2.840.113554.1.2.2"
    assert server.client_name == "alice@TEST.LOCAL"
    assert server.flags & AscRet.MUTUAL_AUTH and not server.flags & AscRet.DELEGATE


def test_recorded_delegation_yields_a_credential(tmp_path: Path) -> None:
    server = _server(tmp_path, _capture_time("gss delegate initiator #0"))
    server.step(_token("gss delegate initiator #0"))
    assert server.flags & AscRet.DELEGATE
    delegated = server.context.delegated_credential  # type: ignore[attr-defined]
    assert delegated is not None and "alice@TEST.LOCAL" in delegated.principal_name


def test_recorded_dce_ap_req_and_a_foreign_third_leg(tmp_path: Path) -> None:
    server = _server(tmp_path, _capture_time("gss dce initiator #0 AP-REQ"))
    reply = server.step(_token("gss dce initiator #0 AP-REQ"))
    assert reply is not None and reply[0] == 0x6F  # raw AP-REP, DCE style
    assert server.status == SecStatus.SEC_I_CONTINUE_NEEDED and not server.complete
    # MIT's third leg echoed MIT's acceptor sequence number, not ours: refused.
    with pytest.raises(MutualAuthFailed):
        server.step(bytes.fromhex(AP["gss dce initiator #2 AP-REP"]["hex"]))


def test_replayed_authenticator_is_refused(tmp_path: Path) -> None:
    at = _capture_time("gss krb5 initiator #0")
    _server(tmp_path, at).step(_token("gss krb5 initiator #0"))
    with pytest.raises(OutOfSequence):
        _server(tmp_path, at).step(_token("gss krb5 initiator #0"))


def test_clock_skew_and_wrong_key(tmp_path: Path) -> None:
    at = _capture_time("gss krb5 initiator #0")
    with pytest.raises(TimeSkew):
        _server(tmp_path, at + timedelta(minutes=10)).step(_token("gss krb5 initiator #0"))
    with pytest.raises(WrongPrincipal):  # KRB_AP_ERR_NOT_US: not this service's ticket
        _server(tmp_path, at, principal="HTTP/server.test.local").step(
            _token("gss krb5 initiator #0"))
    with pytest.raises(LogonDenied):  # right name, wrong key: the ticket does not decrypt
        _server(tmp_path, at, keys_of="HTTP/server.test.local").step(
            _token("gss krb5 initiator #0"))


@pytest.mark.parametrize("event", ["gss krb5 acceptor #1", "gss dce initiator #2 AP-REP"])
def test_wrong_token_for_the_state_fails_the_context(tmp_path: Path, event: str) -> None:
    server = _server(tmp_path, _capture_time("gss krb5 initiator #0"))
    with pytest.raises(InvalidToken):
        server.step(bytes.fromhex(AP[event]["hex"]))
    with pytest.raises(ContextExpired):
        server.step(_token("gss krb5 initiator #0"))


def test_every_state_has_a_diagram_edge() -> None:
    diagram = mermaid(TRANSITIONS)
    for state in State:
        if state is not State.FAILED:
            assert state.name in diagram
    assert (State.EXPECT_AP_REQ, Input.AP_REP) not in TRANSITIONS


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(st.data())
def test_mutated_ap_req_only_raises_sspi_errors(tmp_path: Path, data: st.DataObject) -> None:
    ReplayCache.shared().clear()
    token = bytearray(_token("gss krb5 initiator #0"))
    for _ in range(data.draw(st.integers(1, 3))):
        token[data.draw(st.integers(0, len(token) - 1))] = data.draw(st.integers(0, 255))
    token = token[: data.draw(st.integers(1, len(token)))]
    server = _server(tmp_path, _capture_time("gss krb5 initiator #0"))
    try:
        server.step(bytes(token))
    except SspiError as exc:
        assert exc.status & 0x80000000
