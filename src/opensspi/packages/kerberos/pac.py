"""The Privilege Attribute Certificate (MS-PAC): find it in a ticket, verify it, read it.

[MS-PAC] https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-pac/ :

- 2.3 PACTYPE (``cBuffers``, ``Version`` = 0, then ``PAC_INFO_BUFFER``s of ``ulType``,
  ``cbBufferSize`` and an 8-aligned 64-bit ``Offset``), carried in the ticket's
  authorization-data as AD-IF-RELEVANT { AD-WIN2K-PAC (128) } (2.4, RFC 4120 §5.2.6.1);
- 2.5 KERB_VALIDATION_INFO (NDR, [MS-RPCE] type serialization: see ``ndr``): the user's RID,
  the domain SID, the groups (GROUP_MEMBERSHIP RIDs), ExtraSids, resource groups, names;
- 2.7 PAC_CLIENT_INFO (``ClientId`` FILETIME, ``NameLength``, ``Name``);
- 2.8 PAC_SIGNATURE_DATA and 2.8.1 the **server signature**: a keyed checksum, key usage 17
  (KERB_NON_KERB_CKSUM_SALT), with the key the ticket is encrypted in, over the whole PAC with
  the ``Signature`` bytes of the server and KDC signature buffers set to zero. Its type is the
  one of that key: HMAC-SHA1-96-AES256/128 (16/15) for AES keys, HMAC-MD5 (-138) for rc4-hmac;
- 2.10 UPN_DNS_INFO (UPN, DNS domain name, and with the S flag the sAMAccountName and SID).

What the acceptor does with it (:func:`verify_ticket_pac`), as MIT's ``krb5_pac_verify`` and
Windows do: a ticket without a PAC is accepted with ``pac = None`` (MIT and Heimdal KDCs may
issue none); a PAC must carry a server signature that verifies with our key, a client info
whose name and time are those of the ticket, and it must parse. Then the acceptor reports
:class:`PacInfo`.

Statuses: a PAC that does not parse is ``SEC_E_INVALID_TOKEN`` (a malformed message, like the
rest of the package). A PAC whose server signature is missing, of the wrong type for the key,
or does not verify, and a client info that names another client or another logon time, are
``SEC_E_LOGON_DENIED`` (with ``krb_error`` KRB_AP_ERR_MODIFIED, 41): the ticket is ours, but
the authorization data describing the logon cannot be trusted, and Windows fails such a logon
(STATUS_LOGON_FAILURE) rather than build an access token from it. MIT returns
KRB5KRB_AP_ERR_MODIFIED (signature, time) and KRB5KRB_AP_WRONG_PRINC (name) here.

Deviation: the KDC (privsvr) signature cannot be checked without the krbtgt key and is not;
Windows asks a DC to check it only for some services (MS-APDS 3.1.5.3). The client-info name is
compared without regard to case (AD account names are case-insensitive; MIT compares exactly).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from ...constants import SECPKG_ATTR_PAC_INFO
from ...errors import AlgorithmMismatch, DecodeError, LogonDenied, MessageAltered
from .asn1 import (
    AdType,
    AuthorizationDataEntry,
    EncTicketPart,
    ErrorCode,
    decode_authorization_data,
)
from .crypto import Key, profile, verify_checksum
from .ndr import NdrReader, parse_sid, serialized_stream

__all__ = [
    "KERB_NON_KERB_CKSUM_SALT",
    "PAC_CLIENT_INFO",
    "PAC_LOGON_INFO",
    "PAC_PRIVSVR_CHECKSUM",
    "PAC_SERVER_CHECKSUM",
    "PAC_UPN_DNS_INFO",
    "SECPKG_ATTR_PAC_INFO",
    "ClientInfo",
    "LogonInfo",
    "Pac",
    "PacBuffer",
    "PacInfo",
    "PacRefused",
    "UpnDnsInfo",
    "find_pac",
    "parse_client_info",
    "parse_logon_info",
    "parse_pac",
    "parse_upn_dns_info",
    "verify_server_signature",
    "verify_ticket_pac",
]


# MS-PAC 2.4 ulType values.
PAC_LOGON_INFO = 0x1
PAC_SERVER_CHECKSUM = 0x6
PAC_PRIVSVR_CHECKSUM = 0x7
PAC_CLIENT_INFO = 0xA
PAC_UPN_DNS_INFO = 0xC
#: MS-PAC 2.8.1 / MIT ``KRB5_KEYUSAGE_APP_DATA_CKSUM``: the key usage of PAC signatures.
KERB_NON_KERB_CKSUM_SALT = 17

_UNIQUE_TYPES = (PAC_LOGON_INFO, PAC_SERVER_CHECKSUM, PAC_PRIVSVR_CHECKSUM, PAC_CLIENT_INFO,
                 PAC_UPN_DNS_INFO)
_MAX_BUFFERS = 256
_SIGNATURE_SIZES = {15: 12, 16: 12, 19: 16, 20: 24, -138: 16}
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=timezone.utc)
_NEVER = 0x7FFFFFFFFFFFFFFF
_UPN_DNS_S_FLAG = 0x2


@dataclass(frozen=True, slots=True)
class PacBuffer:
    """One PAC_INFO_BUFFER (MS-PAC 2.4) with its bytes."""

    type: int
    offset: int
    data: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Pac:
    """A parsed PACTYPE (MS-PAC 2.3): the raw bytes and its buffers, in order."""

    raw: bytes = field(repr=False)
    buffers: tuple[PacBuffer, ...]

    def get(self, pac_type: int) -> PacBuffer | None:
        """The buffer of ``pac_type``; :func:`parse_pac` made sure there is at most one."""
        for buffer in self.buffers:
            if buffer.type == pac_type:
                return buffer
        return None


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """PAC_CLIENT_INFO (MS-PAC 2.7)."""

    client_id: int
    name: str

    @property
    def auth_time(self) -> datetime:
        return _filetime(self.client_id) or _FILETIME_EPOCH


@dataclass(frozen=True, slots=True)
class UpnDnsInfo:
    """UPN_DNS_INFO (MS-PAC 2.10); ``sam_name`` and ``sid`` only with the S flag."""

    upn: str
    dns_domain: str
    flags: int
    sam_name: str | None = None
    sid: str | None = None


@dataclass(frozen=True, slots=True)
class LogonInfo:
    """The parts of KERB_VALIDATION_INFO (MS-PAC 2.5) an acceptor needs."""

    logon_time: datetime | None
    effective_name: str
    full_name: str
    logon_count: int
    user_id: int
    primary_group_id: int
    group_ids: tuple[tuple[int, int], ...]
    user_flags: int
    logon_server: str
    logon_domain_name: str
    logon_domain_id: str | None
    user_account_control: int
    extra_sids: tuple[tuple[str, int], ...]
    resource_group_domain_sid: str | None
    resource_group_ids: tuple[tuple[int, int], ...]

    @property
    def user_sid(self) -> str | None:
        if self.logon_domain_id is None:
            return None
        return f"{self.logon_domain_id}-{self.user_id}"

    def group_sids(self) -> tuple[str, ...]:
        """Every group SID, without repeats, in token order: the primary group, GroupIds
        (domain SID + RID), ExtraSids, then the resource groups (MS-PAC 2.5, MS-KILE 3.4.5.3)."""
        out: list[str] = []
        if self.logon_domain_id is not None:
            out.append(f"{self.logon_domain_id}-{self.primary_group_id}")
            out += [f"{self.logon_domain_id}-{rid}" for rid, _attrs in self.group_ids]
        out += [sid for sid, _attrs in self.extra_sids]
        if self.resource_group_domain_sid is not None:
            out += [f"{self.resource_group_domain_sid}-{rid}"
                    for rid, _attrs in self.resource_group_ids]
        return tuple(dict.fromkeys(out))


@dataclass(frozen=True, slots=True)
class PacInfo:
    """What the PAC says about the client: what Windows builds the access token from.

    Returned by ``KerberosContext.pac`` (``opensspi.server(...).context.pac``) and by
    QueryContextAttributes(:data:`SECPKG_ATTR_PAC_INFO`) on a completed acceptor context whose
    ticket carried a PAC. Only the server signature has been verified (see the module).

    Attributes:
        user_sid: the client's SID (logon domain SID + UserId; else UPN_DNS_INFO's SID).
        group_sids: the group SIDs: primary group, domain groups, ExtraSids, resource groups.
        logon_name: the account name (EffectiveName, else the client info name).
        domain: the NetBIOS logon domain name (LogonDomainName), or "".
        dns_domain: the DNS domain name (UPN_DNS_INFO), or None.
        upn: the user principal name (UPN_DNS_INFO), or None.
        domain_sid: the logon domain SID, or None.
        full_name: the display name, or "".
        client_name: PAC_CLIENT_INFO's name (checked against the ticket).
        auth_time: PAC_CLIENT_INFO's time (checked against the ticket's authtime).
        user_flags, user_account_control: as KERB_VALIDATION_INFO carries them.
        buffer_types: the ulType of every buffer, in order.
    """

    user_sid: str | None
    group_sids: tuple[str, ...]
    logon_name: str
    domain: str
    dns_domain: str | None
    upn: str | None
    domain_sid: str | None
    full_name: str
    client_name: str
    auth_time: datetime
    user_flags: int = 0
    user_account_control: int = 0
    buffer_types: tuple[int, ...] = ()
    logon_info: LogonInfo | None = field(default=None, repr=False)


def _filetime(value: int) -> datetime | None:
    """A FILETIME (100 ns since 1601) as UTC; None for 0 and "never" (0x7FFF...)."""
    if value in (0, _NEVER) or value > _NEVER:
        return None
    try:
        return _FILETIME_EPOCH + timedelta(microseconds=value // 10)
    except OverflowError:
        return None


def _to_filetime(moment: datetime) -> int:
    delta = moment - _FILETIME_EPOCH
    return (delta.days * 86400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------


def parse_pac(data: bytes) -> Pac:
    """PACTYPE (MS-PAC 2.3, 2.4)::

        cBuffers (4 bytes) | Version (4 bytes) = 0 | Buffers (cBuffers x 16 bytes):
            ulType (4) | cbBufferSize (4) | Offset (8, a multiple of 8)

    Raises:
        DecodeError: short, another version, a buffer outside the PAC or misaligned, too many
            buffers, or two buffers of a type that must be unique (MIT refuses those too).
    """
    data = bytes(data)
    if len(data) < 8:
        raise DecodeError(f"A PAC needs at least 8 bytes, not {len(data)}.")
    count, version = struct.unpack_from("<II", data, 0)
    if version != 0:
        raise DecodeError(f"PAC version {version} is not 0.")
    if count > _MAX_BUFFERS or 8 + 16 * count > len(data):
        raise DecodeError(f"A {len(data)}-byte PAC cannot hold {count} buffer descriptions.")
    buffers = []
    seen: set[int] = set()
    header_end = 8 + 16 * count
    for index in range(count):
        pac_type, size, offset = struct.unpack_from("<IIQ", data, 8 + 16 * index)
        if offset % 8 or offset < header_end or offset + size > len(data):
            raise DecodeError(
                f"PAC buffer {index} (type {pac_type}) at offset {offset}, {size} bytes, is not "
                f"an 8-aligned part of the {len(data)}-byte PAC after its header."
            )
        if pac_type in _UNIQUE_TYPES and pac_type in seen:
            raise DecodeError(f"The PAC has two buffers of type {pac_type}.")
        seen.add(pac_type)
        buffers.append(PacBuffer(pac_type, offset, data[offset : offset + size]))
    return Pac(data, tuple(buffers))


def _signature(buffer: PacBuffer) -> tuple[int, int]:
    """PAC_SIGNATURE_DATA (MS-PAC 2.8): ``SignatureType`` and the signature's length."""
    if len(buffer.data) < 4:
        raise DecodeError("A PAC signature buffer is shorter than its SignatureType.")
    (cksumtype,) = struct.unpack_from("<i", buffer.data, 0)
    size = _SIGNATURE_SIZES.get(cksumtype)
    if size is None:
        raise DecodeError(f"PAC signature type {cksumtype} is not one MS-PAC 2.8 defines here.")
    if len(buffer.data) < 4 + size:
        raise DecodeError(
            f"A PAC signature of type {cksumtype} needs {size} bytes; the buffer has "
            f"{len(buffer.data) - 4}."
        )
    return cksumtype, size


def parse_client_info(data: bytes) -> ClientInfo:
    """PAC_CLIENT_INFO (MS-PAC 2.7)::

        ClientId (8 bytes, FILETIME) | NameLength (2 bytes) | Name (NameLength bytes, UTF-16LE)
    """
    if len(data) < 10:
        raise DecodeError(f"PAC_CLIENT_INFO needs at least 10 bytes, not {len(data)}.")
    client_id, length = struct.unpack_from("<QH", data, 0)
    if length % 2 or 10 + length > len(data):
        raise DecodeError(f"PAC_CLIENT_INFO names {length} bytes; {len(data) - 10} follow.")
    return ClientInfo(client_id, _utf16(data[10 : 10 + length], "PAC_CLIENT_INFO.Name"))


def _utf16(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-16-le")
    except UnicodeDecodeError as exc:
        raise DecodeError(f"{what} is not valid UTF-16: {exc}") from None


def _piece(data: bytes, offset: int, length: int, what: str) -> bytes:
    if offset + length > len(data):
        raise DecodeError(f"{what} ({length} bytes at {offset}) lies outside UPN_DNS_INFO.")
    return data[offset : offset + length]


def parse_upn_dns_info(data: bytes) -> UpnDnsInfo:
    """UPN_DNS_INFO (MS-PAC 2.10), offsets from the start of the buffer::

        UpnLength (2) | UpnOffset (2) | DnsDomainNameLength (2) | DnsDomainNameOffset (2) |
        Flags (4) [ | SamNameLength (2) | SamNameOffset (2) | SidLength (2) | SidOffset (2) ]

    The second line is there when Flags has the S bit (0x2).
    """
    if len(data) < 12:
        raise DecodeError(f"UPN_DNS_INFO needs at least 12 bytes, not {len(data)}.")
    upn_len, upn_off, dns_len, dns_off, flags = struct.unpack_from("<HHHHI", data, 0)
    upn = _utf16(_piece(data, upn_off, upn_len, "UPN_DNS_INFO.Upn"), "UPN_DNS_INFO.Upn")
    dns = _utf16(_piece(data, dns_off, dns_len, "UPN_DNS_INFO.DnsDomainName"),
                 "UPN_DNS_INFO.DnsDomainName")
    if not flags & _UPN_DNS_S_FLAG:
        return UpnDnsInfo(upn, dns, flags)
    if len(data) < 20:
        raise DecodeError("UPN_DNS_INFO has the S flag but no SamName/Sid fields.")
    sam_len, sam_off, sid_len, sid_off = struct.unpack_from("<HHHH", data, 12)
    sam = _utf16(_piece(data, sam_off, sam_len, "UPN_DNS_INFO.SamName"), "UPN_DNS_INFO.SamName")
    sid = parse_sid(_piece(data, sid_off, sid_len, "UPN_DNS_INFO.Sid"), "UPN_DNS_INFO.Sid")
    return UpnDnsInfo(upn, dns, flags, sam, sid)


def parse_logon_info(data: bytes) -> LogonInfo:
    """KERB_VALIDATION_INFO (MS-PAC 2.5) from a PAC_LOGON_INFO buffer.

    The buffer is a type serialization ([MS-RPCE] 2.2.6) of a ``[unique]`` pointer to::

        FILETIME LogonTime, LogoffTime, KickOffTime, PasswordLastSet, PasswordCanChange,
                 PasswordMustChange;
        RPC_UNICODE_STRING EffectiveName, FullName, LogonScript, ProfilePath, HomeDirectory,
                 HomeDirectoryDrive;
        USHORT LogonCount, BadPasswordCount; ULONG UserId, PrimaryGroupId, GroupCount;
        [size_is(GroupCount)] PGROUP_MEMBERSHIP GroupIds; ULONG UserFlags;
        USER_SESSION_KEY UserSessionKey;  (16 bytes)
        RPC_UNICODE_STRING LogonServer, LogonDomainName; PISID LogonDomainId;
        ULONG Reserved1[2], UserAccountControl, SubAuthStatus;
        FILETIME LastSuccessfulILogon, LastFailedILogon; ULONG FailedILogonCount, Reserved3;
        ULONG SidCount; [size_is(SidCount)] PKERB_SID_AND_ATTRIBUTES ExtraSids;
        PISID ResourceGroupDomainSid; ULONG ResourceGroupCount;
        [size_is(ResourceGroupCount)] PGROUP_MEMBERSHIP ResourceGroupIds;

    then the pointees, in the order of their pointers. GROUP_MEMBERSHIP (2.2.2) is
    ``{RelativeId, Attributes}``; KERB_SID_AND_ATTRIBUTES (2.2.1) is ``{PISID Sid, Attributes}``
    with the SIDs after the array.
    """
    r = NdrReader(serialized_stream(data))
    if not r.pointer():
        raise DecodeError("PAC_LOGON_INFO holds a null KERB_VALIDATION_INFO pointer.")
    logon_time = r.filetime()
    for _ in range(5):
        r.filetime()
    effective = r.unicode_string()
    full = r.unicode_string()
    others = [r.unicode_string() for _ in range(4)]  # script, profile, home dir, home drive
    logon_count = r.u16()
    r.u16()  # BadPasswordCount
    user_id = r.u32()
    primary_group_id = r.u32()
    group_count = r.u32()
    has_groups = r.pointer()
    user_flags = r.u32()
    r.take(16)  # UserSessionKey
    logon_server = r.unicode_string()
    logon_domain = r.unicode_string()
    has_domain_id = r.pointer()
    r.u32()
    r.u32()  # Reserved1
    user_account_control = r.u32()
    r.u32()  # SubAuthStatus
    r.filetime()
    r.filetime()
    r.u32()  # FailedILogonCount
    r.u32()  # Reserved3
    sid_count = r.u32()
    has_extra = r.pointer()
    has_resource_domain = r.pointer()
    resource_count = r.u32()
    has_resources = r.pointer()

    effective_name = r.unicode_buffer(effective, "EffectiveName")
    full_name = r.unicode_buffer(full, "FullName")
    for index, header in enumerate(others):
        r.unicode_buffer(header, f"KERB_VALIDATION_INFO string {index + 3}")
    groups = _group_memberships(r, has_groups, group_count, "GroupIds")
    server = r.unicode_buffer(logon_server, "LogonServer")
    domain = r.unicode_buffer(logon_domain, "LogonDomainName")
    domain_id = r.sid("LogonDomainId") if has_domain_id else None
    extra: list[tuple[str, int]] = []
    if has_extra:
        count = r.count(8, "ExtraSids")
        if count != sid_count:
            raise DecodeError(f"ExtraSids has {count} elements, SidCount says {sid_count}.")
        entries = [(r.pointer(), r.u32()) for _ in range(count)]
        for index, (present, attrs) in enumerate(entries):
            if not present:
                raise DecodeError(f"ExtraSids[{index}] is a null SID.")
            extra.append((r.sid(f"ExtraSids[{index}]"), attrs))
    elif sid_count:
        raise DecodeError(f"SidCount is {sid_count} but ExtraSids is null.")
    resource_domain = r.sid("ResourceGroupDomainSid") if has_resource_domain else None
    resources = _group_memberships(r, has_resources, resource_count, "ResourceGroupIds")
    return LogonInfo(
        logon_time=_filetime(logon_time),
        effective_name=effective_name,
        full_name=full_name,
        logon_count=logon_count,
        user_id=user_id,
        primary_group_id=primary_group_id,
        group_ids=groups,
        user_flags=user_flags,
        logon_server=server,
        logon_domain_name=domain,
        logon_domain_id=domain_id,
        user_account_control=user_account_control,
        extra_sids=tuple(extra),
        resource_group_domain_sid=resource_domain,
        resource_group_ids=resources,
    )


def _group_memberships(
    r: NdrReader, present: bool, declared: int, what: str
) -> tuple[tuple[int, int], ...]:
    if not present:
        if declared:
            raise DecodeError(f"{what} is null but its count is {declared}.")
        return ()
    count = r.count(8, what)
    if count != declared:
        raise DecodeError(f"{what} has {count} elements, its count field says {declared}.")
    return tuple((r.u32(), r.u32()) for _ in range(count))


# ---------------------------------------------------------------------------------------------
# Verification
# ---------------------------------------------------------------------------------------------


def find_pac(authorization_data: tuple[AuthorizationDataEntry, ...] | None) -> bytes | None:
    """The PAC of a ticket: AD-WIN2K-PAC inside AD-IF-RELEVANT (MS-PAC 2.4), or None.

    Raises:
        DecodeError: an AD-IF-RELEVANT that does not parse, or more than one PAC.
    """
    found: list[bytes] = []
    for entry in authorization_data or ():
        if entry.ad_type == AdType.AD_IF_RELEVANT:
            for inner in decode_authorization_data(entry.ad_data):
                if inner.ad_type == AdType.AD_WIN2K_PAC:
                    found.append(inner.ad_data)
    if len(found) > 1:
        raise DecodeError(f"The ticket carries {len(found)} PACs; there must be at most one.")
    return found[0] if found else None


class PacRefused(LogonDenied):
    """The PAC is well-formed but not to be trusted: ``SEC_E_LOGON_DENIED``.

    Attributes:
        krb_error: how MIT would say it (KRB_AP_ERR_MODIFIED, KRB_AP_ERR_BADMATCH for another
            client's name, KRB_AP_ERR_INAPP_CKSUM for a checksum type the key does not make).
    """

    def __init__(self, message: str, krb_error: int = ErrorCode.KRB_AP_ERR_MODIFIED) -> None:
        super().__init__(message)
        self.krb_error = krb_error


def verify_server_signature(pac: Pac, key: Key) -> None:
    """Check the server signature (MS-PAC 2.8.1) with the key the ticket was encrypted in.

    ::

        server signature = checksum(key, usage 17, PAC with the Signature bytes of the
                                    server and KDC signature buffers zeroed)

    with the checksum type of ``key`` (HMAC-SHA1-96-AES for AES keys, HMAC-MD5 for rc4-hmac);
    any other type is refused, so a PAC cannot be downgraded to a weaker checksum.

    Raises:
        DecodeError: a signature buffer that does not parse.
        PacRefused: no server signature, a type that does not fit the key, or a mismatch.
    """
    server = pac.get(PAC_SERVER_CHECKSUM)
    if server is None:
        raise PacRefused("The PAC has no server signature (MS-PAC 2.8.1).")
    kdc = pac.get(PAC_PRIVSVR_CHECKSUM)
    if kdc is None:
        raise PacRefused("The PAC has no KDC signature (MS-PAC 2.8.2).")
    cksumtype, size = _signature(server)
    _kdc_type, kdc_size = _signature(kdc)
    expected = int(profile(key.enctype).checksum_type)
    if cksumtype != expected:
        raise PacRefused(
            f"The PAC server signature is of type {cksumtype}; a {profile(key.enctype).name} "
            f"service key signs with type {expected} (MS-PAC 2.8.1).",
            ErrorCode.KRB_AP_ERR_INAPP_CKSUM,
        )
    zeroed = bytearray(pac.raw)
    for buffer, length in ((server, size), (kdc, kdc_size)):
        start = buffer.offset + 4
        zeroed[start : start + length] = bytes(length)
    signature = server.data[4 : 4 + size]
    try:
        verify_checksum(key, KERB_NON_KERB_CKSUM_SALT, bytes(zeroed), signature, cksumtype)
    except (MessageAltered, AlgorithmMismatch):
        raise PacRefused(
            "The PAC server signature does not verify with the service key: the PAC was "
            "altered (or forged by someone holding another key)."
        ) from None


def _same_name(pac_name: str, cname: tuple[str, ...], crealm: str) -> bool:
    text = "/".join(cname)
    wanted = pac_name.casefold()
    return wanted in (text.casefold(), f"{text}@{crealm}".casefold())


def verify_ticket_pac(part: EncTicketPart, key: Key) -> PacInfo | None:
    """Find, verify and read the PAC of a decrypted ticket (see the module for the rules).

    Args:
        part: the decrypted EncTicketPart.
        key: the key that decrypted the ticket (the service key; for user-to-user the TGT's
            session key).

    Returns:
        The :class:`PacInfo`, or None when the ticket has no PAC.

    Raises:
        DecodeError: the PAC or one of its buffers does not parse.
        PacRefused: a bad server signature, or a client info for another client or logon time.
    """
    raw = find_pac(part.authorization_data)
    if raw is None:
        return None
    pac = parse_pac(raw)
    verify_server_signature(pac, key)
    client_buffer = pac.get(PAC_CLIENT_INFO)
    if client_buffer is None:
        raise PacRefused("The PAC has no client info (MS-PAC 2.7), which must name the client.")
    client = parse_client_info(client_buffer.data)
    if client.client_id != _to_filetime(part.authtime):
        raise PacRefused(
            f"The PAC was issued for a logon at {client.auth_time:%Y-%m-%d %H:%M:%S} UTC, the "
            f"ticket for one at {part.authtime:%Y-%m-%d %H:%M:%S} UTC: it was copied from "
            "another ticket."
        )
    if not _same_name(client.name, part.cname.name_string, part.crealm):
        raise PacRefused(
            f"The PAC names the client {client.name!r}, the ticket "
            f"{part.cname.to_text(part.crealm)!r}: it was copied from another ticket.",
            ErrorCode.KRB_AP_ERR_BADMATCH,
        )
    logon_buffer = pac.get(PAC_LOGON_INFO)
    logon = parse_logon_info(logon_buffer.data) if logon_buffer is not None else None
    upn_buffer = pac.get(PAC_UPN_DNS_INFO)
    upn = parse_upn_dns_info(upn_buffer.data) if upn_buffer is not None else None
    user_sid = logon.user_sid if logon is not None else None
    if user_sid is None and upn is not None:
        user_sid = upn.sid
    return PacInfo(
        user_sid=user_sid,
        group_sids=logon.group_sids() if logon is not None else (),
        logon_name=(logon.effective_name if logon is not None and logon.effective_name
                    else client.name),
        domain=logon.logon_domain_name if logon is not None else "",
        dns_domain=upn.dns_domain if upn is not None else None,
        upn=upn.upn if upn is not None else None,
        domain_sid=logon.logon_domain_id if logon is not None else None,
        full_name=logon.full_name if logon is not None else "",
        client_name=client.name,
        auth_time=client.auth_time,
        user_flags=logon.user_flags if logon is not None else 0,
        user_account_control=logon.user_account_control if logon is not None else 0,
        buffer_types=tuple(b.type for b in pac.buffers),
        logon_info=logon,
    )
