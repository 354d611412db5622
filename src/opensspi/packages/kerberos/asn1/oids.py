"""Kerberos mechanism OIDs and GSS token identifiers (RFC 4121 §4.1, RFC 2743 §3.1)."""

from __future__ import annotations

PVNO = 5
"""``pvno``: the protocol version number of every message, RFC 4120 §5.4.1."""

KRB5_OID = "1.2.840.113554.1.2.2"
"""The Kerberos V5 GSS-API mechanism, RFC 4121 §1 (RFC 1964 §1)."""

MS_KRB5_OID = "1.2.840.48018.1.2.2"
"""The Kerberos OID as Windows spells it in SPNEGO (MS-KILE 1.9; MS-SPNG 3.1.5.2)."""

TOK_ID_AP_REQ = b"\x01\x00"
TOK_ID_AP_REP = b"\x02\x00"
TOK_ID_KRB_ERROR = b"\x03\x00"
"""TOK_ID of the RFC 4121 §4.1 context-establishment tokens."""

U2U_OID = "1.2.840.113554.1.2.2.3"
"""The user-to-user Kerberos mechanism (draft-ietf-cat-user2user / draft-swift-win2k-krb-
user2user): Windows frames every token of a user-to-user exchange with it, the AP-REQ and
AP-REP included (MS-KILE; Microsoft's "Kerberos user-to-user" captures)."""

TOK_ID_TGT_REQ = b"\x04\x00"
TOK_ID_TGT_REP = b"\x04\x01"
"""TOK_ID of KERB-TGT-REQUEST and KERB-TGT-REPLY in the user-to-user mechanism (Windows'
``KG_TOK_CTX_TGT_REQ`` 0x0400 / ``KG_TOK_CTX_TGT_REP`` 0x0401)."""
