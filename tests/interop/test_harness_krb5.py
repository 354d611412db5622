"""The Kerberos harness proves itself, with no opensspi code: MIT and Heimdal KDCs, MIT kinit and
MIT's GSSAPI (python-gssapi) on both ends.

If these fail, an opensspi Kerberos interop failure says nothing about opensspi. The facts they
pin (token framing, sizes, enctypes, flags) are the ones opensspi's tests compare against.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from interop.peers.gss import (
    KRB5_OID,
    MSKRB5_OID,
    GssKrb5Factory,
    GssPeer,
    GssPeerError,
    handshake,
)
from interop.peers.heimdal_kdc import HeimdalRealm
from interop.peers.mit_kdc import ENCTYPE_SERVICES, KinitError, MitRealm

pytestmark = pytest.mark.interop

KRB5_OID_DER = bytes.fromhex("06092a864886f712010202")
SPNEGO_OID_DER = bytes.fromhex("06062b0601050502")
GSS_S_BAD_SIG = 0x60000
GSS_S_FAILURE = 0xD0000
KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN = 2529638919  # ERROR_TABLE_BASE_krb5 + 7
DCE_STYLE = 0x1000
DELEG = 0x1
MUTUAL = 0x2
#: enctype -> (session key length, sealed Wrap overhead = the SSPI TOKEN buffer with wrap_iov)
ENCTYPE_FACTS = {17: (16, 60), 18: (32, 60), 19: (16, 64), 20: (32, 72), 23: (16, 45)}


def _pair(
    gss: GssKrb5Factory, mech: str = "krb5", **initiator: object
) -> tuple[GssPeer, GssPeer, list[bytes]]:
    acceptor = gss("accept", mech)
    init = gss("initiate", mech, **initiator)  # type: ignore[arg-type]
    tokens = handshake(init.step, acceptor.step)
    assert init.complete and acceptor.complete
    return init, acceptor, tokens


def _framed_tok_id(token: bytes, oid_der: bytes = KRB5_OID_DER) -> bytes:
    """The 2-byte TOK_ID after the RFC 2743 framing (0x60 len OID)."""
    assert token[0] == 0x60
    offset = 2 + (token[1] & 0x7F if token[1] & 0x80 else 0)
    assert token[offset : offset + len(oid_der)] == oid_der
    return token[offset + len(oid_der) : offset + len(oid_der) + 2]


def _exchange_messages(init: GssPeer, acceptor: GssPeer) -> None:
    """Wrap (sealed and integrity-only), MIC and IOV wrap, both ways."""
    for sender, receiver in ((init, acceptor), (acceptor, init)):
        assert receiver.unwrap_ex(sender.wrap(b"sealed message")) == (b"sealed message", True)
        assert receiver.unwrap_ex(sender.wrap(b"signed only", encrypt=False)) == (
            b"signed only",
            False,
        )
        receiver.verify_mic(b"mic data", sender.get_mic(b"mic data"))
        header, data, padding = sender.wrap_iov(b"iov data 123")
        assert data != b"iov data 123"
        assert receiver.unwrap_iov(header, data, padding) == (b"iov data 123", True)


# ------------------------------------------------------------------ MIT KDC + kinit


def test_mit_realm_started_quickly(mit_realm: MitRealm) -> None:
    assert mit_realm.running and mit_realm.kdc_port > 0
    # Measured ~0.5 s to create (string-to-key dominates) and ~0.02 s to start; generous bounds.
    assert mit_realm.timings["start"] < 5.0
    assert mit_realm.timings["create"] < 10.0


def test_kinit_needs_preauth(mit_realm: MitRealm) -> None:
    ccache = mit_realm.kinit("alice")
    out = subprocess.run(
        ["klist", "-c", f"FILE:{ccache}"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **mit_realm.env(ccache=ccache)},
    ).stdout
    assert "alice@TEST.LOCAL" in out and "krbtgt/TEST.LOCAL@TEST.LOCAL" in out
    log = mit_realm.log_text()
    assert "NEEDED_PREAUTH: alice@TEST.LOCAL for krbtgt/TEST.LOCAL@TEST.LOCAL" in log
    assert "ISSUE: authtime" in log
    mit_realm.kinit("nopreauth")
    assert "NEEDED_PREAUTH: nopreauth@" not in mit_realm.log_text()


@pytest.mark.parametrize("user", ["bob", "j\u00fcrgen"])
def test_kinit_non_ascii(mit_realm: MitRealm, user: str) -> None:
    assert not mit_realm.passwords[user].isascii()
    assert mit_realm.kinit(user).stat().st_size > 0


def test_kinit_over_tcp(mit_realm: MitRealm, tmp_path: Path) -> None:
    conf = mit_realm.write_krb5_conf(tmp_path / "krb5-tcp.conf", udp_preference_limit=1)
    mit_realm.kinit("alice", ccache=tmp_path / "cc", krb5_conf=conf)


@pytest.mark.parametrize(
    ("user", "password", "message", "log_line"),
    [
        ("alice", "wrong-Passw0rd", "Password incorrect", "PREAUTH_FAILED: alice@"),
        ("nosuch", "x", "not found in Kerberos database", "CLIENT_NOT_FOUND: nosuch@"),
        ("disabled", None, "revoked", "CLIENT LOCKED OUT: disabled@"),
        # kinit then asks for a new password; stdin is at EOF.
        ("expired", None, "Cannot read password", "CLIENT KEY EXPIRED: expired@"),
    ],
)
def test_kinit_refused(
    mit_realm: MitRealm, user: str, password: str | None, message: str, log_line: str
) -> None:
    with pytest.raises(KinitError, match=message):
        mit_realm.kinit(user, password)
    assert log_line in mit_realm.log_text()


def test_add_principal_and_keytab(mit_realm: MitRealm, tmp_path: Path) -> None:
    principal = mit_realm.add_principal("harness-carol", "C4rol-Passw0rd")
    assert principal == "harness-carol@TEST.LOCAL"
    mit_realm.kinit("harness-carol")
    keytab = mit_realm.keytab_for("harness-carol", path=tmp_path / "carol.keytab")
    assert keytab.read_bytes()[:2] == b"\x05\x02"
    assert mit_realm.kvno("harness-carol") == 1
    ccache = tmp_path / "cc-keytab"
    subprocess.run(
        ["kinit", "-k", "-t", str(keytab), "-c", f"FILE:{ccache}", "harness-carol"],
        check=True,
        capture_output=True,
        env={**os.environ, **mit_realm.env(ccache=ccache)},
    )


# ------------------------------------------------------------------ GSS krb5, MIT realm


@pytest.mark.parametrize("enctype", sorted(ENCTYPE_SERVICES))
def test_gss_krb5_per_enctype(gss_krb5: GssKrb5Factory, mit_realm: MitRealm, enctype: int) -> None:
    host = ENCTYPE_SERVICES[enctype].split("/")[1]
    init, acceptor, tokens = _pair(
        gss_krb5,
        target=f"HTTP@{host}",
        krb5_conf=mit_realm.krb5_conf_for_enctype(enctype),
    )
    assert len(tokens) == 2  # AP-REQ, AP-REP (mutual)
    assert _framed_tok_id(tokens[0]) == b"\x01\x00"
    assert _framed_tok_id(tokens[1]) == b"\x02\x00"
    i_info, a_info = init.info(), acceptor.info()
    key_len, overhead = ENCTYPE_FACTS[enctype]
    assert i_info["session_key_enctype"] == a_info["session_key_enctype"] == enctype
    assert i_info["session_key"] == a_info["session_key"]
    assert len(i_info["session_key"]) == key_len
    assert i_info["mech"] == a_info["mech"] == KRB5_OID
    assert a_info["initiator_name"] == i_info["initiator_name"] == "alice@TEST.LOCAL"
    assert i_info["target_name"] == a_info["target_name"] == f"HTTP/{host}@TEST.LOCAL"
    assert i_info["flags"] & MUTUAL and a_info["flags"] & MUTUAL
    _exchange_messages(init, acceptor)

    header, data, padding = init.wrap_iov(b"0123456789a")
    if enctype == 23:  # RFC 4757: framed token, TOK_ID 02 01, one byte of padding here
        assert _framed_tok_id(header) == b"\x02\x01"
        assert (len(header), len(padding)) == (overhead, 1)
    else:  # RFC 4121: 05 04, flags (sealed | acceptor subkey), EC 0, RRC = overhead - 32
        assert header[:3] == b"\x05\x04\x06"
        assert int.from_bytes(header[4:6], "big") == 0
        assert int.from_bytes(header[6:8], "big") == overhead - 32
        assert (len(header), len(padding)) == (overhead, 0)
    assert acceptor.unwrap_iov(header, data, padding) == (b"0123456789a", True)


def test_acceptor_subkey_upgrades_enctype(gss_krb5: GssKrb5Factory) -> None:
    """RFC 4537: MIT's initiator lists its enctypes in the authenticator; MIT's acceptor picks
    the strongest for its subkey, so an aes128 ticket still yields an aes256 context key."""
    init, acceptor, _ = _pair(gss_krb5, target="HTTP@e17.test.local")
    assert init.info()["session_key_enctype"] == acceptor.info()["session_key_enctype"] == 18


def test_without_mutual_one_leg(gss_krb5: GssKrb5Factory) -> None:
    init, acceptor, tokens = _pair(gss_krb5, flags=("integ", "conf"))
    assert len(tokens) == 1
    assert not init.info()["flags"] & MUTUAL
    _exchange_messages(init, acceptor)


def test_delegation(gss_krb5: GssKrb5Factory) -> None:
    _, acceptor, tokens = _pair(gss_krb5, flags=("mutual", "deleg", "integ", "conf"))
    info = acceptor.info()
    assert info["delegated"] is True and info["flags"] & DELEG
    assert info["delegated_name"] == "alice@TEST.LOCAL"
    used = acceptor.use_delegated("HTTP@server.test.local")
    assert used["issued"] is True, used
    assert used["accepted"] is True and used["accepted_initiator"] == "alice@TEST.LOCAL"
    assert len(tokens[0]) > 1000  # the AP-REQ carries the forwarded TGT (KRB-CRED)


def test_no_delegation_without_flag(gss_krb5: GssKrb5Factory) -> None:
    _, acceptor, _ = _pair(gss_krb5)
    assert acceptor.info()["delegated"] is False
    assert acceptor.use_delegated("HTTP@server.test.local")["issued"] is False


def test_dce_style_three_legs(gss_krb5: GssKrb5Factory) -> None:
    init, acceptor, tokens = _pair(gss_krb5, flags=("mutual", "dce", "integ", "conf"))
    # Raw AP-REQ (no 0x60 framing), AP-REP, then the initiator's own AP-REP (MS-KILE 3.4.5.1).
    assert [t[0] for t in tokens] == [0x6E, 0x6F, 0x6F]
    assert init.info()["flags"] & DCE_STYLE and acceptor.info()["flags"] & DCE_STYLE
    _exchange_messages(init, acceptor)


def test_spnego_krb5(gss_krb5: GssKrb5Factory) -> None:
    init, acceptor, tokens = _pair(gss_krb5, "spnego")
    assert len(tokens) == 2
    assert tokens[0][0] == 0x60 and SPNEGO_OID_DER in tokens[0][:12]
    assert tokens[1][0] == 0xA1  # NegTokenResp
    assert init.info()["mech"] == acceptor.info()["mech"] == KRB5_OID
    _exchange_messages(init, acceptor)


def test_spnego_acceptor_and_raw_krb5_token(gss_krb5: GssKrb5Factory) -> None:
    """An acceptor credential for SPNEGO alone refuses a raw krb5 token; with krb5 in the
    credential (or no credential) the mechglue routes it to krb5."""
    acceptor = gss_krb5("accept", "spnego")
    init = gss_krb5("initiate", "krb5")
    with pytest.raises(GssPeerError):
        handshake(init.step, acceptor.step)
    for mechs in (["spnego", "krb5"], "default"):
        acceptor = gss_krb5("accept", "spnego", acceptor_mechs=mechs)
        init = gss_krb5("initiate", "krb5")
        handshake(init.step, acceptor.step)
        assert acceptor.complete and acceptor.info()["mech"] == KRB5_OID


def test_ms_krb5_oid(gss_krb5: GssKrb5Factory) -> None:
    """The initiator frames its token with 1.2.840.48018.1.2.2; MIT's acceptor takes it only
    with a credential for that OID (not with krb5's, nor with no credential)."""
    init, acceptor, tokens = _pair(gss_krb5, "mskrb5")
    assert _framed_tok_id(tokens[0], bytes.fromhex("06092a864882f712010202")) == b"\x01\x00"
    assert acceptor.info()["mech"] == MSKRB5_OID
    _exchange_messages(init, acceptor)


def test_password_credential_non_ascii(gss_krb5: GssKrb5Factory, mit_realm: MitRealm) -> None:
    init, acceptor, _ = _pair(gss_krb5, user="bob", password=mit_realm.passwords["bob"])
    assert acceptor.info()["initiator_name"] == "bob@TEST.LOCAL"
    _exchange_messages(init, acceptor)


def test_unknown_service_and_tampering(gss_krb5: GssKrb5Factory) -> None:
    with pytest.raises(GssPeerError) as err:
        gss_krb5("initiate", target="HTTP@nosuch.test.local").step(None)
    assert err.value.major == GSS_S_FAILURE
    assert err.value.minor == KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN

    init, acceptor, _ = _pair(gss_krb5)
    token = bytearray(init.wrap(b"x" * 40))
    token[-1] ^= 1
    with pytest.raises(GssPeerError) as err:
        acceptor.unwrap(bytes(token))
    assert err.value.major == GSS_S_BAD_SIG


@pytest.mark.usefixtures("mit_realm")  # for its skip/fail when MIT is missing
def test_kdc_dies_with_its_parent(tmp_path: Path) -> None:
    """PR_SET_PDEATHSIG: a KDC whose test process is killed does not outlive it."""
    script = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(Path(__file__).parents[1])!r})
        from pathlib import Path
        from interop.peers.mit_kdc import MitRealm
        realm = MitRealm(Path({str(tmp_path / "orphan")!r})).start()
        print(realm.proc.pid, flush=True)
        time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        kdc_pid = int(proc.stdout.readline())
        os.kill(kdc_pid, 0)  # alive
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    deadline = time.monotonic() + 5
    while _alive(kdc_pid):
        if time.monotonic() > deadline:
            pytest.fail(f"krb5kdc {kdc_pid} outlived its killed parent")
        time.sleep(0.02)


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for init to reap it counts as dead)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


# ------------------------------------------------------------------ Heimdal KDC


def test_heimdal_kinit(heimdal_realm: HeimdalRealm) -> None:
    assert heimdal_realm.timings["start"] < 5.0
    heimdal_realm.kinit("alice")
    heimdal_realm.kinit("bob")  # non-ASCII password
    assert "ENC-TS pre-authentication succeeded -- alice@HEIMDAL.LOCAL" in heimdal_realm.log_text()
    with pytest.raises(KinitError, match="Password incorrect"):
        heimdal_realm.kinit("alice", "wrong-Passw0rd")


def test_heimdal_ticket_gss(gss_krb5_heimdal: GssKrb5Factory) -> None:
    init, acceptor, tokens = _pair(
        gss_krb5_heimdal,
        target="HTTP@server.heimdal.local",
        flags=("mutual", "deleg", "integ", "conf"),
    )
    assert len(tokens) == 2
    info = acceptor.info()
    assert info["initiator_name"] == "alice@HEIMDAL.LOCAL"
    assert info["target_name"] == "HTTP/server.heimdal.local@HEIMDAL.LOCAL"
    assert info["delegated_name"] == "alice@HEIMDAL.LOCAL"
    _exchange_messages(init, acceptor)
    used = acceptor.use_delegated("host@server.heimdal.local")
    assert used["issued"] is True and used["accepted"] is True, used


def test_heimdal_spnego_password(
    gss_krb5_heimdal: GssKrb5Factory, heimdal_realm: HeimdalRealm
) -> None:
    init, acceptor, _ = _pair(
        gss_krb5_heimdal,
        "spnego",
        user="bob",
        password=heimdal_realm.passwords["bob"],
        target="HTTP@server.heimdal.local",
    )
    assert acceptor.info()["initiator_name"] == "bob@HEIMDAL.LOCAL"
    _exchange_messages(init, acceptor)
