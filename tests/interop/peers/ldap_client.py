"""A minimal LDAPv3 client for SASL binds driven by an opensspi context, and sealed searches.

Just enough of RFC 4511 to authenticate against an AD DC (Samba here) with our own tokens and
prove the security layer works both ways:

- BindRequest (§4.2) with ``SaslCredentials { mechanism, credentials }``; the server answers
  ``saslBindInProgress`` (14) with ``serverSaslCreds`` [7] until ``success`` (0).
- ``GSSAPI`` (RFC 4752 §3.1): after the context is established the server sends a wrapped
  4-octet message (security layers bitmask, maximum buffer size); the client answers with a
  wrapped 4-octet choice (here: confidentiality, 0x04) and an empty authorization identity.
- ``GSS-SPNEGO`` (the Microsoft mechanism; MS-ADTS 5.1.1.1.2): the token exchange alone, after
  which AD protects every PDU with the negotiated mechanism's sign-and-seal — used with
  ``package="Negotiate"`` (SPNEGO), and with ``package="NTLM"`` (raw NTLMSSP tokens, which AD
  accepts under this mechanism name).
- After either bind every LDAP PDU travels as a SASL buffer (RFC 4422 §3.7): a 4-octet
  big-endian length, then the context's ``wrap`` output (for Kerberos the RFC 4121 Wrap token,
  for NTLM the MS-NLMP signature followed by the sealed bytes).
- SearchRequest (§4.5.1) with an equality filter; SearchResultEntry / SearchResultDone.

The BER here is the subset LDAP messages need (definite lengths, low tag numbers). This is test
code: our own, written for these tests; the package name is a parameter so the Negotiate tests
reuse it unchanged.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

SASL_BIND_IN_PROGRESS = 14
SUCCESS = 0
#: RFC 4752 §3.3 security layer bits.
LAYER_NONE, LAYER_INTEGRITY, LAYER_CONFIDENTIALITY = 1, 2, 4
MAX_PDU = 1 << 24
MAX_LEGS = 10


class SecurityContext(Protocol):
    """What the client needs of an opensspi ``Context`` (``opensspi.client(...)``)."""

    @property
    def complete(self) -> bool: ...

    def step(self, token: bytes | None = None) -> bytes | None: ...

    def wrap(self, data: bytes, encrypt: bool = True) -> bytes: ...

    def unwrap(self, message: bytes) -> bytes: ...


class LdapError(RuntimeError):
    """The server answered with an LDAP error (``result_code``) or broke the protocol."""

    def __init__(self, message: str, result_code: int | None = None) -> None:
        super().__init__(message)
        self.result_code = result_code


# -- BER -------------------------------------------------------------------------------------


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + _length(len(value)) + value


def integer(value: int, tag: int = 0x02) -> bytes:
    return tlv(tag, value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big", signed=True))


def octets(value: bytes | str, tag: int = 0x04) -> bytes:
    return tlv(tag, value.encode("utf-8") if isinstance(value, str) else value)


def read_tlv(data: bytes, pos: int = 0) -> tuple[int, bytes, int]:
    """``(tag, value, end)`` of the element at ``pos``; raises LdapError when it is cut."""
    if pos + 2 > len(data):
        raise LdapError("truncated BER element")
    tag, first = data[pos], data[pos + 1]
    pos += 2
    if first & 0x80:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise LdapError("bad BER length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    else:
        length = first
    if pos + length > len(data):
        raise LdapError("truncated BER element")
    return tag, data[pos : pos + length], pos + length


def elements(data: bytes) -> list[tuple[int, bytes]]:
    out = []
    pos = 0
    while pos < len(data):
        tag, value, pos = read_tlv(data, pos)
        out.append((tag, value))
    return out


def _complete_length(buffer: bytes) -> int | None:
    """The length of the first BER element in ``buffer``, or None when more bytes are needed."""
    if len(buffer) < 2:
        return None
    first = buffer[1]
    header = 2
    if first & 0x80:
        header += first & 0x7F
        if len(buffer) < header:
            return None
        length = int.from_bytes(buffer[2:header], "big")
    else:
        length = first
    return header + length


# -- messages --------------------------------------------------------------------------------


@dataclass
class BindResult:
    """How the bind went: LDAP legs, and the security layer chosen (GSSAPI)."""

    legs: int = 0
    layer: int | None = None
    server_max_size: int | None = None


@dataclass
class SearchEntry:
    dn: str
    attributes: dict[str, list[bytes]] = field(default_factory=dict)


class LdapClient:
    """One LDAP connection; :meth:`sasl_bind` with an opensspi context, then sealed searches."""

    def __init__(self, host: str, port: int = 389, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.message_id = 0
        self.context: SecurityContext | None = None
        self.sealed = False
        self._pending = b""

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> LdapClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- framing ----------------------------------------------------------------------------

    def _recv_exactly(self, count: int) -> bytes:
        chunks = []
        while count:
            chunk = self.sock.recv(min(count, 65536))
            if not chunk:
                raise LdapError("the server closed the connection")
            chunks.append(chunk)
            count -= len(chunk)
        return b"".join(chunks)

    def _send(self, pdu: bytes) -> None:
        if self.sealed:
            assert self.context is not None
            token = self.context.wrap(pdu, True)
            self.sock.sendall(struct.pack(">I", len(token)) + token)
        else:
            self.sock.sendall(pdu)

    def _receive(self) -> bytes:
        """The next LDAP PDU. One read (or one SASL buffer) may carry several PDUs, or part of
        one: the plaintext is kept in ``_pending`` until a whole PDU is there."""
        while True:
            need = _complete_length(self._pending)
            if need is not None and len(self._pending) >= need:
                pdu, self._pending = self._pending[:need], self._pending[need:]
                return pdu
            if self.sealed:
                assert self.context is not None
                (length,) = struct.unpack(">I", self._recv_exactly(4))
                if length > MAX_PDU:
                    raise LdapError(f"SASL buffer of {length} bytes")
                self._pending += self.context.unwrap(self._recv_exactly(length))
            else:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise LdapError("the server closed the connection")
                self._pending += chunk

    def _request(self, op: bytes) -> int:
        self.message_id += 1
        self._send(tlv(0x30, integer(self.message_id) + op))
        return self.message_id

    def _response(self) -> tuple[int, int, bytes]:
        """``(message id, protocolOp tag, protocolOp value)`` of the next PDU."""
        tag, message, _ = read_tlv(self._receive())
        if tag != 0x30:
            raise LdapError(f"an LDAPMessage starts with 0x30, not {tag:#x}")
        parts = elements(message)
        if len(parts) < 2 or parts[0][0] != 0x02:
            raise LdapError("malformed LDAPMessage")
        return int.from_bytes(parts[0][1], "big"), parts[1][0], parts[1][1]

    # -- bind -------------------------------------------------------------------------------

    def _bind_once(self, mechanism: str, token: bytes | None) -> tuple[int, str, bytes | None]:
        creds = octets(mechanism) + (octets(token) if token is not None else b"")
        self._request(tlv(0x60, integer(3) + octets(b"") + tlv(0xA3, creds)))
        _mid, tag, op = self._response()
        if tag != 0x61:
            raise LdapError(f"expected a BindResponse, got tag {tag:#x}")
        parts = elements(op)
        code = int.from_bytes(parts[0][1], "big")
        diagnostic = parts[2][1].decode("utf-8", "replace")
        server_creds = next((v for t, v in parts[3:] if t == 0x87), None)
        return code, diagnostic, server_creds

    def sasl_bind(
        self, context: SecurityContext, mechanism: str = "GSS-SPNEGO", *, seal: bool = True
    ) -> BindResult:
        """Bind with ``context`` (a fresh opensspi client context) and ``mechanism``.

        Args:
            context: ``opensspi.client(package, target="ldap/dc1.samdom.test", ...)``.
            mechanism: ``GSSAPI`` (Kerberos, RFC 4752) or ``GSS-SPNEGO`` (Negotiate, or raw
                NTLMSSP).
            seal: ask for (GSSAPI) / use (GSS-SPNEGO) the confidentiality layer afterwards.

        Raises:
            LdapError: the server refused the bind (``result_code``, diagnostic message).
        """
        result = BindResult()
        token = context.step(None)
        while True:
            if result.legs >= MAX_LEGS:
                raise LdapError(f"no bind result after {MAX_LEGS} legs")
            code, diagnostic, server_token = self._bind_once(mechanism, token)
            result.legs += 1
            if code not in (SUCCESS, SASL_BIND_IN_PROGRESS):
                raise LdapError(f"bind refused ({code}): {diagnostic}", code)
            if not context.complete:
                if server_token is None:
                    raise LdapError("the server sent no token but our context needs one")
                token = context.step(server_token)
                if code == SUCCESS:
                    if not context.complete:
                        raise LdapError("bind succeeded but our context is not complete")
                    break
                # Our next token, or (the context just completed) an empty response: RFC 4752
                # §3.1 asks for one before the layer offer, SPNEGO's last leg may need one.
                token = token or b""
                continue
            if code == SUCCESS:
                break
            if mechanism != "GSSAPI":
                raise LdapError(f"saslBindInProgress after the {mechanism} context completed")
            if server_token is None:
                token = b""
                continue
            offer = context.unwrap(server_token)
            if len(offer) != 4:
                raise LdapError(f"the security layer offer is {len(offer)} octets, not 4")
            result.server_max_size = int.from_bytes(offer[1:], "big")
            wanted = LAYER_CONFIDENTIALITY if seal else LAYER_NONE
            if not offer[0] & wanted:
                raise LdapError(f"the server offers layers {offer[0]:#x}, not {wanted:#x}")
            result.layer = wanted
            size = (1 << 16).to_bytes(3, "big") if wanted != LAYER_NONE else bytes(3)
            token = context.wrap(bytes([wanted]) + size, False)
        self.context = context
        if mechanism == "GSSAPI":
            self.sealed = result.layer in (LAYER_INTEGRITY, LAYER_CONFIDENTIALITY)
        else:
            self.sealed = seal
            result.layer = LAYER_CONFIDENTIALITY if seal else None
        return result

    # -- search -----------------------------------------------------------------------------

    def search(
        self,
        base: str,
        attribute: str,
        value: str,
        attributes: Sequence[str],
        *,
        scope: int = 2,
    ) -> list[SearchEntry]:
        """``(attribute=value)`` under ``base`` (scope 2: whole subtree); the entries found.

        Raises:
            LdapError: SearchResultDone carried an error.
        """
        query = (
            octets(base) + integer(scope, 0x0A) + integer(0, 0x0A) + integer(0) + integer(0)
            + tlv(0x01, b"\x00") + tlv(0xA3, octets(attribute) + octets(value))
            + tlv(0x30, b"".join(octets(a) for a in attributes))
        )
        mid = self._request(tlv(0x63, query))
        found: list[SearchEntry] = []
        while True:
            reply_id, tag, op = self._response()
            if reply_id != mid:
                raise LdapError(f"a reply to message {reply_id}, not {mid}")
            if tag == 0x64:  # SearchResultEntry
                parts = elements(op)
                entry = SearchEntry(parts[0][1].decode("utf-8"))
                for _t, attr in elements(parts[1][1]):
                    name, values = elements(attr)
                    entry.attributes[name[1].decode("utf-8")] = [v for _t2, v in
                                                                  elements(values[1])]
                found.append(entry)
            elif tag == 0x65:  # SearchResultDone
                parts = elements(op)
                code = int.from_bytes(parts[0][1], "big")
                if code != SUCCESS:
                    raise LdapError(
                        f"search failed ({code}): {parts[2][1].decode('utf-8', 'replace')}", code
                    )
                return found
            elif tag != 0x73:  # SearchResultReference: ignored
                raise LdapError(f"unexpected protocolOp {tag:#x} in a search")


def default_mechanism(package: str) -> str:
    """The SASL mechanism AD pairs with an SSPI package: ``GSSAPI`` for Kerberos (RFC 4752),
    ``GSS-SPNEGO`` for Negotiate and for raw NTLM (what Windows' LDAP client sends)."""
    return "GSSAPI" if package.lower() == "kerberos" else "GSS-SPNEGO"


def bind_and_search(
    host: str,
    package: str,
    *,
    base: str,
    attribute: str,
    value: str,
    attributes: Sequence[str],
    mechanism: str | None = None,
    seal: bool = True,
    **client_options: object,
) -> tuple[BindResult, list[SearchEntry]]:
    """One connection: ``opensspi.client(package, **client_options)``, a SASL bind with it,
    then a (sealed) search. ``client_options`` are ``opensspi.client``'s (``target``, ``flags``,
    ``user``/``password``, ``auth_data``, ``credential``, ``env``)."""
    import opensspi

    context = opensspi.client(package, **client_options)  # type: ignore[arg-type]
    with LdapClient(host) as ldap:
        result = ldap.sasl_bind(context, mechanism or default_mechanism(package), seal=seal)
        return result, ldap.search(base, attribute, value, attributes)
