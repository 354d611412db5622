"""The demonstration (the README's main command) runs every scenario and shows what matters."""

from __future__ import annotations

from opensspi import demo


def test_demo_transcript() -> None:
    lines: list[str] = []
    for scenario in demo.scenarios():
        demo.run(scenario, lines.append)
    text = "\n".join(lines)
    assert text.count("=== ") == len(demo.scenarios()) >= 4
    assert "Kerberos AP-REQ (GSS-framed)" in text and "Kerberos AP-REP (GSS-framed)" in text
    assert "Names(user_name='alice@EXAMPLE.TEST')" in text
    assert "MiniKdc answered 3 UDP" in text
    assert "NTLMSSP AUTHENTICATE" in text
    assert "server DecryptMessage -> SEC_E_OK: b'Hello from opensspi'" in text
    assert "tampered message -> SEC_E_MESSAGE_ALTERED" in text
    assert "attrs MUTUAL_AUTH|USED_HTTP_STYLE" in text  # rspauth checked in HTTP mode
    assert "b'a1 LOGIN over the SASL layer'" in text
    assert "same frame again -> SEC_E_OUT_OF_SEQUENCE" in text
    assert "unexpected" not in text
    # Negotiate: Kerberos first, then the NTLM fallback with mechListMICs both ways.
    assert "SPNEGO NegTokenInit (mechTypes [MS-KRB5, KRB5, NTLM])" in text
    assert "negState accept-completed; supportedMech MS-KRB5" in text
    assert "SPNEGO NegTokenInit (mechTypes [NTLM])" in text
    assert "negState accept-completed; mechListMIC 16 bytes" in text
    assert "client QueryContextAttributes(NEGOTIATION_INFO) -> Kerberos, COMPLETE" in text
    assert "client QueryContextAttributes(NEGOTIATION_INFO) -> NTLM, COMPLETE" in text


def test_demo_main_filters_by_package(capsys: object) -> None:
    assert demo.main(["--package", "ntlm"]) == 0
    assert demo.main(["--package", "nope"]) == 2


def test_demo_tls() -> None:
    lines: list[str] = []
    demo.tls_demo(lines.append)
    text = "\n".join(lines)
    assert "server AcceptSecurityContext     -> SEC_E_OK" in text
    assert "SEC_E_INCOMPLETE_MESSAGE (SECBUFFER_MISSING says" in text
    assert "server DecryptMessage -> SEC_E_OK: b'Hello over TLS from opensspi'" in text
    assert "HTTP/1.1 200 OK; body b'<h1>served over TLS to opensspi</h1>\\n'" in text
