"""TLS records (RFC 8446 §5.1, RFC 5246 §6.2): content type, version, length; handshake
messages by type; a ClientHello's and ServerHello's cipher suites and extensions (SNI of
RFC 6066 §3, ALPN of RFC 7301, supported_versions of RFC 8446 §4.2.1).

Only the plaintext framing is read: encrypted records are reported by length.
"""

from __future__ import annotations

import struct
from enum import IntEnum

from ..errors import DecodeError
from .model import Hex, Named, Report, named


class ContentType(IntEnum):
    """TLS ContentType, RFC 8446 §5.1."""

    change_cipher_spec = 20
    alert = 21
    handshake = 22
    application_data = 23
    heartbeat = 24


class HandshakeType(IntEnum):
    """TLS HandshakeType, RFC 8446 §4 (and RFC 5246 §7.4)."""

    hello_request = 0
    client_hello = 1
    server_hello = 2
    new_session_ticket = 4
    end_of_early_data = 5
    encrypted_extensions = 8
    certificate = 11
    server_key_exchange = 12
    certificate_request = 13
    server_hello_done = 14
    certificate_verify = 15
    client_key_exchange = 16
    finished = 20
    key_update = 24
    message_hash = 254


class ExtensionType(IntEnum):
    """TLS ExtensionType values (IANA registry; the common ones)."""

    server_name = 0
    max_fragment_length = 1
    status_request = 5
    supported_groups = 10
    ec_point_formats = 11
    signature_algorithms = 13
    use_srtp = 14
    heartbeat = 15
    application_layer_protocol_negotiation = 16
    signed_certificate_timestamp = 18
    padding = 21
    encrypt_then_mac = 22
    extended_master_secret = 23
    compress_certificate = 27
    record_size_limit = 28
    session_ticket = 35
    pre_shared_key = 41
    early_data = 42
    supported_versions = 43
    cookie = 44
    psk_key_exchange_modes = 45
    certificate_authorities = 47
    post_handshake_auth = 49
    signature_algorithms_cert = 50
    key_share = 51
    renegotiation_info = 0xFF01


_VERSIONS = {0x0300: "SSL 3.0", 0x0301: "TLS 1.0", 0x0302: "TLS 1.1", 0x0303: "TLS 1.2",
             0x0304: "TLS 1.3"}
_SUITES = {
    0x1301: "TLS_AES_128_GCM_SHA256", 0x1302: "TLS_AES_256_GCM_SHA384",
    0x1303: "TLS_CHACHA20_POLY1305_SHA256",
    0xC02B: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    0xC02C: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    0xC02F: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    0xC030: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    0xCCA8: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    0xCCA9: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    0xC013: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", 0xC014: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    0xC009: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    0xC00A: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    0x009C: "TLS_RSA_WITH_AES_128_GCM_SHA256", 0x009D: "TLS_RSA_WITH_AES_256_GCM_SHA384",
    0x009E: "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", 0x009F: "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
    0x002F: "TLS_RSA_WITH_AES_128_CBC_SHA", 0x0035: "TLS_RSA_WITH_AES_256_CBC_SHA",
    0x003C: "TLS_RSA_WITH_AES_128_CBC_SHA256", 0x003D: "TLS_RSA_WITH_AES_256_CBC_SHA256",
    0x000A: "TLS_RSA_WITH_3DES_EDE_CBC_SHA", 0x00FF: "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
    0x5600: "TLS_FALLBACK_SCSV",
}


def is_tls_record(data: bytes) -> bool:
    """A plausible record header: a known content type, then major version 3."""
    return len(data) >= 5 and data[0] in (20, 21, 22, 23, 24) and data[1] == 3


def _version(value: int) -> Named:
    return Named(value, _VERSIONS.get(value))


class _Reader:
    def __init__(self, data: bytes, what: str) -> None:
        self.data, self.pos, self.what = data, 0, what

    def take(self, n: int, field: str) -> bytes:
        if self.pos + n > len(self.data):
            raise DecodeError(f"{self.what}: {field} is truncated at offset {self.pos}.")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def uint(self, size: int, field: str) -> int:
        return int.from_bytes(self.take(size, field), "big")

    def vector(self, size: int, field: str) -> bytes:
        return self.take(self.uint(size, field), field)


def inspect_tls(data: bytes) -> Report:
    """Every record in ``data``. Raises DecodeError on a truncated record."""
    records: list[Report] = []
    pos = 0
    while pos < len(data):
        if len(data) - pos < 5:
            raise DecodeError(f"TLS record header truncated at offset {pos}.")
        ctype, version, length = struct.unpack_from(">BHH", data, pos)
        body = data[pos + 5 : pos + 5 + length]
        if len(body) != length:
            raise DecodeError(f"TLS record at offset {pos} claims {length} bytes; "
                              f"{len(body)} follow.")
        record: Report = {"content_type": named(ctype, ContentType), "version": _version(version),
                          "length": length}
        if ctype == ContentType.handshake:
            record["messages"] = _handshakes(body)
        elif ctype == ContentType.alert and length == 2:
            record["alert"] = {"level": body[0], "description": body[1]}
        records.append(record)
        pos += 5 + length
    return {"type": "TLS records (RFC 8446 5.1)", "length": len(data), "records": records}


def _handshakes(body: bytes) -> list[Report]:
    out: list[Report] = []
    reader = _Reader(body, "TLS handshake")
    while reader.pos < len(body):
        kind = reader.uint(1, "msg_type")
        length = reader.uint(3, "length")
        if reader.pos + length > len(body):
            out.append({"msg_type": named(kind, HandshakeType), "length": length,
                        "note": "continues in a later record (or encrypted)"})
            break
        payload = reader.take(length, "body")
        msg: Report = {"msg_type": named(kind, HandshakeType), "length": length}
        if kind == HandshakeType.client_hello:
            msg.update(_hello(payload, client=True))
        elif kind == HandshakeType.server_hello:
            msg.update(_hello(payload, client=False))
        out.append(msg)
    return out


def _hello(payload: bytes, *, client: bool) -> Report:
    what = "ClientHello" if client else "ServerHello"
    r = _Reader(payload, what)
    report: Report = {"legacy_version": _version(r.uint(2, "legacy_version")),
                      "random": Hex(r.take(32, "random")),
                      "session_id": Hex(r.vector(1, "legacy_session_id"))}
    if client:
        suites = r.vector(2, "cipher_suites")
        report["cipher_suites"] = [
            Named(v, _SUITES.get(v)) for (v,) in struct.iter_unpack(">H", suites[: len(suites)
                                                                                 // 2 * 2])]
        report["compression_methods"] = list(r.vector(1, "legacy_compression_methods"))
    else:
        suite = r.uint(2, "cipher_suite")
        report["cipher_suite"] = Named(suite, _SUITES.get(suite))
        report["compression_method"] = r.uint(1, "legacy_compression_method")
    if r.pos < len(payload):
        report["extensions"] = _extensions(r.vector(2, "extensions"), client)
    return report


def _extensions(data: bytes, client: bool) -> list[Report]:
    out: list[Report] = []
    r = _Reader(data, "extensions")
    while r.pos < len(data):
        kind = r.uint(2, "extension_type")
        body = r.vector(2, "extension_data")
        ext: Report = {"type": named(kind, ExtensionType), "length": len(body)}
        try:
            if kind == ExtensionType.server_name and body:
                names = _Reader(body, "server_name")
                listing = _Reader(names.vector(2, "server_name_list"), "server_name_list")
                hosts = []
                while listing.pos < len(listing.data):
                    listing.uint(1, "name_type")
                    hosts.append(listing.vector(2, "host_name").decode("ascii", "replace"))
                ext["server_names"] = hosts
            elif kind == ExtensionType.application_layer_protocol_negotiation:
                alpn = _Reader(_Reader(body, "alpn").vector(2, "protocol_name_list"), "alpn")
                protocols = []
                while alpn.pos < len(alpn.data):
                    protocols.append(alpn.vector(1, "protocol").decode("ascii", "replace"))
                ext["protocols"] = protocols
            elif kind == ExtensionType.supported_versions:
                raw = body[1:] if client else body
                ext["versions"] = [_version(v) for (v,) in
                                   struct.iter_unpack(">H", raw[: len(raw) // 2 * 2])]
        except DecodeError as exc:
            ext["decode_error"] = str(exc)
        out.append(ext)
    return out
