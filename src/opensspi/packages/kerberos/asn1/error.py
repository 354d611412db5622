"""KRB-ERROR: RFC 4120 §5.9.1, MS-KILE 2.2.1-2.2.2."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime

from ....der import (
    SEQUENCE,
    encode_fields,
    encode_integer,
    encode_kerberos_string,
    encode_kerberos_time,
    encode_tlv,
    get_integer,
    get_kerberos_string,
    get_kerberos_time,
    read_fields,
)
from ....errors import DecodeError, InvalidParameter
from .basic import PAData, PrincipalName, _opt_principal, _principal, decode_method_data
from .codec import (
    _bytes,
    _check_int,
    _int,
    _no_field0,
    _octets,
    _opt_int,
    _opt_octets,
    _opt_str,
    _opt_time,
    _str,
    _time,
    _top,
)
from .numbers import KerbErrorDataType, MessageType, PaDataType
from .oids import PVNO
from .padata import EtypeInfo2Entry, decode_etype_info2

_KRB_ERROR = 0x7E
_EXT_ERROR = struct.Struct("<III")


@dataclass(frozen=True, slots=True)
class KerbExtError:
    """KERB-EXT-ERROR, MS-KILE 2.2.1: 12 bytes, little-endian ``status`` (an NTSTATUS),
    ``reserved``, ``flags`` (0x00000001 when the status is valid)."""

    status: int
    reserved: int = 0
    flags: int = 1

    def build(self) -> bytes:
        """The 12 bytes."""
        try:
            return _EXT_ERROR.pack(self.status, self.reserved, self.flags)
        except struct.error as exc:
            raise InvalidParameter("KERB-EXT-ERROR fields must be 32-bit unsigned.") from exc

    @classmethod
    def parse(cls, data: bytes) -> KerbExtError:
        """Parse the 12 bytes. Raises DecodeError on another size."""
        if len(data) != _EXT_ERROR.size:
            raise DecodeError(f"KERB-EXT-ERROR is 12 bytes, not {len(data)}.")
        return cls(*_EXT_ERROR.unpack(data))


@dataclass(frozen=True, slots=True)
class KerbErrorData:
    """KERB-ERROR-DATA, MS-KILE 2.2.2: ``{data-type [1] INTEGER, data-value [2] OCTET STRING
    OPTIONAL}``, sent in KRB-ERROR e-data."""

    data_type: int
    data_value: bytes | None = None

    def build(self) -> bytes:
        """DER encoding (a SEQUENCE)."""
        return encode_fields(((1, encode_integer(self.data_type)), (2, _octets(self.data_value))))

    @classmethod
    def parse(cls, data: bytes) -> KerbErrorData:
        """Decode a KERB-ERROR-DATA. Raises DecodeError."""
        data = _bytes(data)
        w = "KERB-ERROR-DATA"
        f = read_fields(data, *_top(data, SEQUENCE, w), 3, w)
        _no_field0(f, w)
        return KerbErrorData(
            get_integer(data, f[1], "KERB-ERROR-DATA.data-type"),
            _opt_octets(data, f[2], "KERB-ERROR-DATA.data-value"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class KrbError:
    """KRB-ERROR, RFC 4120 §5.9.1 ``[APPLICATION 30]``.

    ``e_data`` stays bytes; :meth:`method_data`, :meth:`etype_info2`, :meth:`error_data` and
    :meth:`ntstatus` read the forms KDCs put there.
    """

    pvno: int = PVNO
    msg_type: int = MessageType.KRB_ERROR
    ctime: datetime | None = None
    cusec: int | None = None
    stime: datetime
    susec: int
    error_code: int
    crealm: str | None = None
    cname: PrincipalName | None = None
    realm: str
    sname: PrincipalName
    e_text: str | None = None
    e_data: bytes | None = None

    def build(self) -> bytes:
        """DER encoding (``[APPLICATION 30]``)."""
        return encode_tlv(
            _KRB_ERROR,
            encode_fields(
                (
                    (0, encode_integer(self.pvno)),
                    (1, encode_integer(self.msg_type)),
                    (2, _time(self.ctime)),
                    (3, _int(self.cusec)),
                    (4, encode_kerberos_time(self.stime)),
                    (5, encode_integer(self.susec)),
                    (6, encode_integer(self.error_code)),
                    (7, _str(self.crealm)),
                    (8, None if self.cname is None else self.cname.build()),
                    (9, encode_kerberos_string(self.realm)),
                    (10, self.sname.build()),
                    (11, _str(self.e_text)),
                    (12, _octets(self.e_data)),
                )
            ),
        )

    @classmethod
    def parse(cls, data: bytes) -> KrbError:
        """Decode a KRB-ERROR (unframed). Raises DecodeError."""
        data = _bytes(data)
        f = read_fields(data, *_top(data, _KRB_ERROR, "KRB-ERROR"), 13, "KRB-ERROR")
        pvno = get_integer(data, f[0], "KRB-ERROR.pvno")
        _check_int(pvno, PVNO, "KRB-ERROR.pvno")
        msg_type = get_integer(data, f[1], "KRB-ERROR.msg-type")
        _check_int(msg_type, MessageType.KRB_ERROR, "KRB-ERROR.msg-type")
        return KrbError(
            pvno=pvno,
            msg_type=msg_type,
            ctime=_opt_time(data, f[2], "KRB-ERROR.ctime"),
            cusec=_opt_int(data, f[3], "KRB-ERROR.cusec"),
            stime=get_kerberos_time(data, f[4], "KRB-ERROR.stime"),
            susec=get_integer(data, f[5], "KRB-ERROR.susec"),
            error_code=get_integer(data, f[6], "KRB-ERROR.error-code"),
            crealm=_opt_str(data, f[7], "KRB-ERROR.crealm"),
            cname=_opt_principal(data, f[8], "KRB-ERROR.cname"),
            realm=get_kerberos_string(data, f[9], "KRB-ERROR.realm"),
            sname=_principal(data, f[10], "KRB-ERROR.sname"),
            e_text=_opt_str(data, f[11], "KRB-ERROR.e-text"),
            e_data=_opt_octets(data, f[12], "KRB-ERROR.e-data"),
        )

    def method_data(self) -> tuple[PAData, ...] | None:
        """e-data as METHOD-DATA (RFC 4120 §5.9.1; sent with KDC_ERR_PREAUTH_REQUIRED and
        friends), or ``None`` when there is no e-data or it is not a METHOD-DATA."""
        if self.e_data is None:
            return None
        try:
            return decode_method_data(self.e_data)
        except DecodeError:
            return None

    def etype_info2(self) -> tuple[EtypeInfo2Entry, ...] | None:
        """The ETYPE-INFO2 (PA type 19) in the METHOD-DATA e-data, if there is one.

        Raises:
            DecodeError: a PA-ETYPE-INFO2 is present but malformed.
        """
        for padata in self.method_data() or ():
            if padata.padata_type == PaDataType.PA_ETYPE_INFO2:
                return decode_etype_info2(padata.padata_value)
        return None

    def error_data(self) -> KerbErrorData | None:
        """e-data as MS-KILE 2.2.2 KERB-ERROR-DATA, or ``None`` when it is not one."""
        if self.e_data is None:
            return None
        try:
            return KerbErrorData.parse(self.e_data)
        except DecodeError:
            return None

    def ntstatus(self) -> int | None:
        """The NTSTATUS of an MS-KILE 2.2.1 KERB-EXT-ERROR in e-data, if any.

        Looked for in KERB-ERROR-DATA with ``KERB_ERR_TYPE_EXTENDED`` (MS-KILE 2.2.2), and in a
        12-byte PA-PW-SALT (type 3) of a METHOD-DATA e-data, where Windows KDCs put it for AS
        errors. Only a structure whose ``flags`` has bit 0x1 set ("status is valid") counts.
        """
        candidates: list[bytes] = []
        error_data = self.error_data()
        if (
            error_data is not None
            and error_data.data_type == KerbErrorDataType.KERB_ERR_TYPE_EXTENDED
            and error_data.data_value is not None
        ):
            candidates.append(error_data.data_value)
        for padata in self.method_data() or ():
            if padata.padata_type == PaDataType.PA_PW_SALT:
                candidates.append(padata.padata_value)
        for raw in candidates:
            if len(raw) == _EXT_ERROR.size:
                ext = KerbExtError.parse(raw)
                if ext.flags & 1:
                    return ext.status
        return None
