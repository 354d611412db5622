"""The Kerberos security context: the AP exchange, user-to-user, and per-message protection
(RFC 4120 §3.2 and §3.3.3, RFC 4121, MS-KILE 3.2-3.4).

Rules for this file:

- The transitions are the one table ``TRANSITIONS``; only the Machine assigns the state.
- KDC exchanges (AS, TGS, forwarded TGT) are generators from ``kdc``: while one runs, the context
  is in ``AWAIT_KDC`` and every step hands out the generator's next :class:`KdcRequest`. The
  context never opens a socket; the clock and random source come from the Environment.
- Parse errors are ``DecodeError``, turned into ``SEC_E_INVALID_TOKEN`` once, in ``step``.
- Checksums and header copies are compared in constant time (``crypto``/``gss`` do it).

Client: CLIENT_INITIAL -(no token)-> AWAIT_KDC -(replies)-> [AP-REQ sent] ->
EXPECT_AP_REP (mutual or DCE) -> COMPLETE. Server: EXPECT_AP_REQ -> COMPLETE, or with DCE style
EXPECT_AP_REQ -> EXPECT_DCE_AP_REP -> COMPLETE.

The acceptor verifies the PAC of every ticket that carries one (``pac``: server signature with the
key that opened the ticket, client name and logon time) before it reads the authenticator, and
reports it as :attr:`KerberosContext.pac` / SECPKG_ATTR_PAC_INFO.

User-to-user (ISC_REQ_USE_SESSION_KEY; the mechanism 1.2.840.113554.1.2.2.3 as Windows frames
it): the client starts with CLIENT_INITIAL -(no token)-> EXPECT_TGT_REP, sending KRB_TGT_REQ
(TOK_ID 04 00); the server answers from EXPECT_AP_REQ -(TGT_REQ)-> EXPECT_AP_REQ with KRB_TGT_REP
(04 01) holding its own TGT, via ACCEPTOR_AWAIT_KDC when it must get that TGT first (its
credential is a client one: password, ccache or client keytab). The client's TGS-REQ then has
ENC-TKT-IN-SKEY and the server's TGT in additional-tickets (``kdc.user_to_user``), its AP-REQ the
ap-option use-session-key, and the server opens the ticket with its TGT's session key. The
ISC_RET_/ASC_RET_USE_SESSION_KEY bits are set only when that AP-REQ was sent / accepted.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import Enum, auto

from ...buffers import ChannelBindings
from ...constants import (
    SECQOP_WRAP_NO_ENCRYPT,
    AscReq,
    AscRet,
    IscReq,
    IscRet,
    SecBufferAttr,
    SecStatus,
)
from ...errors import (
    BadBindings,
    DecodeError,
    InvalidToken,
    MutualAuthFailed,
    NoCredentials,
    SspiError,
    TimeSkew,
    UnsupportedFunction,
    WrongPrincipal,
)
from ...provider import (
    Credential,
    Environment,
    KdcRequest,
    MessagePart,
    PackageInfo,
    Sealed,
    SecurityContext,
    Sizes,
    Step,
    StepInput,
    Unsealed,
)
from ...statemachine import Choice, Machine
from . import gss, legacy
from .acceptor import OpenedTickets, ReplayCache, decrypt_ticket_keyed, decrypt_u2u_ticket
from .asn1 import (
    KRB5_OID,
    MS_KRB5_OID,
    TOK_ID_AP_REP,
    TOK_ID_AP_REQ,
    TOK_ID_KRB_ERROR,
    TOK_ID_TGT_REP,
    TOK_ID_TGT_REQ,
    U2U_OID,
    ApOptions,
    ApRep,
    ApReq,
    Authenticator,
    Checksum,
    EncApRepPart,
    EncKrbCredPart,
    EncryptedData,
    EncryptionKey,
    EncTicketPart,
    ErrorCode,
    KerbTgtReply,
    KerbTgtRequest,
    KrbCred,
    KrbCredInfo,
    KrbError,
    TicketFlags,
    gss_unwrap_token,
    gss_wrap_token,
)
from .credentials import KerberosCredential, delegated_credential
from .crypto import IovPart, Key, decrypt, encrypt, profile, random_key
from .gss import Direction, SequenceWindow
from .kdc import (
    KdcLogonDenied,
    cached_service_ticket,
    forwarded_tgt,
    get_tgt,
    krb_error_to_sspi,
    service_ticket,
    user_to_user,
)
from .names import Principal
from .pac import SECPKG_ATTR_PAC_INFO, PacInfo, PacRefused, verify_ticket_pac
from .policy import check_ticket_enctypes, peer_subkey
from .tickets import ServiceTicket

# RFC 4120 §7.5.1 key usages used here.
USAGE_AP_REQ_AUTH = 11
USAGE_AP_REP_PART = 12
USAGE_KRB_CRED_PART = 14
RC4 = 23
MAX_TOKEN = 48000  # Windows' Kerberos cbMaxToken


class State(Enum):
    """What the context expects next."""

    # Members are singletons compared by identity: the identity hash serves, and spares the
    # Python-level Enum.__hash__ on every transition-table lookup.
    __hash__ = object.__hash__

    CLIENT_INITIAL = auto()
    EXPECT_TGT_REP = auto()  # user-to-user: the TGT-REQ is out, the server's TGT comes next
    AWAIT_KDC = auto()
    EXPECT_AP_REP = auto()
    EXPECT_AP_REQ = auto()
    ACCEPTOR_AWAIT_KDC = auto()  # user-to-user: the acceptor gets its own TGT for a TGT-REP
    EXPECT_DCE_AP_REP = auto()
    COMPLETE = auto()
    FAILED = auto()


class Input(Enum):
    """What a step received."""

    __hash__ = object.__hash__  # as State's

    NO_TOKEN = auto()
    KDC_REPLY = auto()
    TGT_REQ = auto()
    TGT_REP = auto()
    AP_REQ = auto()
    AP_REP = auto()
    KRB_ERROR = auto()


@dataclass(frozen=True, slots=True)
class Token:
    """A classified handshake token: the DER body and whether it came GSS-framed."""

    kind: Input
    body: bytes
    framed: bool
    oid: str | None = None  # the mechanism OID of a framed token


_TOK_IDS = {TOK_ID_AP_REQ: Input.AP_REQ, TOK_ID_AP_REP: Input.AP_REP,
            TOK_ID_KRB_ERROR: Input.KRB_ERROR, TOK_ID_TGT_REQ: Input.TGT_REQ,
            TOK_ID_TGT_REP: Input.TGT_REP}
_RAW_TAGS = {0x6E: Input.AP_REQ, 0x6F: Input.AP_REP, 0x7E: Input.KRB_ERROR}


def classify(token: bytes) -> Token:
    """Tell AP-REQ, AP-REP, KRB-ERROR and the user-to-user TGT-REQ/TGT-REP apart, framed (RFC
    2743 §3.1, with the Kerberos, MS Kerberos or user-to-user OID) or raw (DCE style)."""
    if token[:1] == b"\x60":
        oid, tok_id, body = gss_unwrap_token(token)
        if oid not in (KRB5_OID, MS_KRB5_OID, U2U_OID):
            raise DecodeError(f"The token is for mechanism {oid}, not Kerberos.")
        kind = _TOK_IDS.get(tok_id)
        if kind is None:
            raise DecodeError(f"Unknown Kerberos GSS TOK_ID {tok_id.hex()}.")
        return Token(kind, body, True, oid)
    kind = _RAW_TAGS.get(token[0]) if token else None
    if kind is None:
        raise DecodeError("Not a Kerberos token: neither GSS-framed nor an AP-REQ/AP-REP.")
    return Token(kind, token, False)


def _now_parts(moment: datetime) -> tuple[datetime, int]:
    moment = moment.astimezone(timezone.utc)
    return moment.replace(microsecond=0), moment.microsecond


def _gss_flags_from_isc(req: int) -> int:
    """ISC_REQ_* to the RFC 4121 §4.1.1.1 Flags (Wine's flags_isc_req_to_gss, MS-KILE 3.2.5.2)."""
    flags = 0
    req = int(req)
    for isc, flag in _ISC_TO_GSS:
        if req & isc:
            flags |= flag
    return flags


# Plain ints: IntFlag arithmetic costs microseconds per operation on every handshake.
_ISC_TO_GSS = tuple((int(isc), flag) for isc, flag in (
    (IscReq.DELEGATE, gss.GSS_C_DELEG_FLAG), (IscReq.MUTUAL_AUTH, gss.GSS_C_MUTUAL_FLAG),
    (IscReq.REPLAY_DETECT, gss.GSS_C_REPLAY_FLAG),
    (IscReq.SEQUENCE_DETECT, gss.GSS_C_SEQUENCE_FLAG),
    (IscReq.CONFIDENTIALITY, gss.GSS_C_CONF_FLAG), (IscReq.INTEGRITY, gss.GSS_C_INTEG_FLAG),
    (IscReq.USE_DCE_STYLE, gss.GSS_C_DCE_STYLE), (IscReq.IDENTIFY, gss.GSS_C_IDENTIFY_FLAG),
    (IscReq.EXTENDED_ERROR, gss.GSS_C_EXTENDED_ERROR_FLAG),
))

# RFC 4121 §4.1.1.1 checksum flags the initiator asked for -> what the context provides.
_GSS_TO_RET = tuple((flag, int(isc), int(asc)) for flag, isc, asc in (
    (gss.GSS_C_CONF_FLAG, IscRet.CONFIDENTIALITY, AscRet.CONFIDENTIALITY),
    (gss.GSS_C_INTEG_FLAG, IscRet.INTEGRITY, AscRet.INTEGRITY),
    (gss.GSS_C_REPLAY_FLAG, IscRet.REPLAY_DETECT, AscRet.REPLAY_DETECT),
    (gss.GSS_C_SEQUENCE_FLAG, IscRet.SEQUENCE_DETECT, AscRet.SEQUENCE_DETECT),
    (gss.GSS_C_IDENTIFY_FLAG, IscRet.IDENTIFY, AscRet.IDENTIFY),
))
_GSS_TO_RET_BY_SIDE = tuple(tuple((flag, bits[side]) for flag, *bits in _GSS_TO_RET)
                            for side in (0, 1))
_RET_MUTUAL = (int(IscRet.MUTUAL_AUTH), int(AscRet.MUTUAL_AUTH))
_RET_DELEGATE = (int(IscRet.DELEGATE), int(AscRet.DELEGATE))
_RET_U2U = (int(IscRet.USE_SESSION_KEY), int(AscRet.USE_SESSION_KEY))
_RET_DCE = (int(IscRet.USED_DCE_STYLE), int(AscRet.USED_DCE_STYLE))
_REQ_CONNECTION = (int(IscReq.CONNECTION), int(AscReq.CONNECTION))
_ISC_DCE, _ASC_DCE = int(IscReq.USE_DCE_STYLE), int(AscReq.USE_DCE_STYLE)
_ISC_U2U, _ASC_U2U = int(IscReq.USE_SESSION_KEY), int(AscReq.USE_SESSION_KEY)
_ISC_DELEGATE = int(IscReq.DELEGATE)
_ISC_MUTUAL_OR_DCE = int(IscReq.MUTUAL_AUTH | IscReq.USE_DCE_STYLE)
_AP_MUTUAL_REQUIRED = int(ApOptions.MUTUAL_REQUIRED)
_AP_USE_SESSION_KEY = int(ApOptions.USE_SESSION_KEY)
_RET_CONNECTION = (int(IscRet.CONNECTION), int(AscRet.CONNECTION))


class KerberosContext(SecurityContext):
    """A Kerberos context, client or server; one instance per authentication.

    ``__slots__``: a server handling thousands of users holds thousands of these.
    """

    __slots__ = (
        "_acceptor_subkey", "_bindings", "_classified", "_client_name", "_cred", "_ctime",
        "_cusec", "_dce",
        "_dce_seq", "_delegated", "_delegated_credential", "_env", "_exchange", "_expiry",
        "_gss_flags", "_initiator_subkey", "_machine", "_mech_oid",
        "_mutual_done", "_pac", "_recv", "_request", "_ret", "_send_seq", "_server_name",
        "_server_principal", "_session_key", "_stream", "_target", "_ticket", "_u2u",
        "_u2u_done", "_u2u_tgt", "info", "is_client",
    )

    def __init__(
        self, info: PackageInfo, credential: object, is_client: bool, request: int,
        target: str | None, env: Environment,
    ) -> None:

        assert isinstance(credential, KerberosCredential)
        self.info = info
        self.is_client = is_client
        self._cred = credential
        self._request = request
        self._target = target
        self._env = env
        self._machine: Machine[State, Input, Step] = Machine(
            TRANSITIONS, State.CLIENT_INITIAL if is_client else State.EXPECT_AP_REQ, State.FAILED,
            "Kerberos message",
        )
        self._exchange: Generator[KdcRequest, bytes, object] | None = None
        self._bindings: ChannelBindings | None = None
        self._gss_flags = 0
        self._ret = 0
        request = int(request)
        self._dce = bool(request & (_ISC_DCE if is_client else _ASC_DCE))
        self._mutual_done = False
        self._delegated = False
        self._ticket: object | None = None  # ServiceTicket on the client
        self._session_key: Key | None = None
        self._initiator_subkey: Key | None = None
        self._acceptor_subkey: Key | None = None
        self._ctime: datetime | None = None
        self._cusec = 0
        self._send_seq = 0
        self._recv: SequenceWindow | None = None
        self._client_name: str | None = None
        self._server_name: str | None = None
        self._expiry: datetime | None = None
        self._delegated_credential: Credential | None = None
        self._mech_oid = KRB5_OID
        self._dce_seq = 0
        self._u2u = bool(request & (_ISC_U2U if is_client else _ASC_U2U))
        self._u2u_done = False  # an AP-REQ with ap-option use-session-key was sent / accepted
        self._server_principal: object | None = None  # the parsed target (client)
        self._u2u_tgt: object | None = None  # the acceptor's TGT it sent in KRB_TGT_REP
        self._stream: gss.SealedStream | None = None  # made by the first wrap/unwrap
        self._classified: tuple[bytes, Token] | None = None  # step's token, for the handler
        self._pac: PacInfo | None = None  # the verified PAC of the client's ticket (acceptor)

    # -- stepping --------------------------------------------------------------------------

    def step(self, inp: StepInput) -> Step:
        if inp.channel_bindings is not None:
            self._bindings = inp.channel_bindings
        return self._machine.run(self._classify, inp)

    def _classify(self, inp: StepInput) -> tuple[Input, tuple[object, ...]]:
        """The event a step is, with the handler's arguments (behind the machine's boundary)."""
        if inp.kdc_reply is not None:
            return Input.KDC_REPLY, (self, inp.kdc_reply)
        if not inp.token:
            return Input.NO_TOKEN, (self, b"")
        if len(inp.token) > MAX_TOKEN:
            raise InvalidToken(
                f"The Kerberos token is {len(inp.token)} bytes, over the {MAX_TOKEN}-byte limit."
            )
        try:
            token = classify(inp.token)
        except DecodeError as exc:
            raise InvalidToken(f"Not a Kerberos token: {exc}") from None
        self._classified = (inp.token, token)
        return token.kind, (self, inp.token)

    def _token(self, payload: bytes) -> Token:
        """The classification :meth:`_classify` made of ``payload`` (taken once), else anew:
        the AP-REQ/AP-REP handlers need the OID and body that step already parsed."""
        held, self._classified = self._classified, None
        if held is not None and held[0] is payload:
            return held[1]
        return classify(payload)

    @property
    def complete(self) -> bool:
        return self._machine.state is State.COMPLETE

    @property
    def state(self) -> State:
        return self._machine.state

    @property
    def flags(self) -> int:
        return self._ret

    @property
    def expiry(self) -> datetime | None:
        return self._expiry

    @property
    def client_name(self) -> str | None:
        return self._client_name

    @property
    def server_name(self) -> str | None:
        return self._server_name

    @property
    def session_key(self) -> bytes | None:
        key = self._context_key
        return key.contents if key is not None and self.complete else None

    @property
    def pac(self) -> PacInfo | None:
        """The client's verified PAC (MS-PAC) on a completed acceptor context, else None.

        The user SID, group SIDs, logon name, domain and UPN a Windows acceptor would put in the
        client's access token; also QueryContextAttributes(``SECPKG_ATTR_PAC_INFO``). None when
        the ticket carried no PAC (MIT and Heimdal KDCs may issue none) and on the client side.
        """
        return self._pac if self.complete else None

    def query_extra(self, attribute: int) -> object:
        """``SECPKG_ATTR_PAC_INFO`` (0x80000F50, ``opensspi.constants``): :attr:`pac`."""
        if attribute == SECPKG_ATTR_PAC_INFO:
            if self.is_client or not self.complete:
                raise UnsupportedFunction(
                    "SECPKG_ATTR_PAC_INFO is an acceptor attribute, available once "
                    "AcceptSecurityContext has completed."
                )
            if self._pac is None:
                raise UnsupportedFunction(
                    f"The ticket of {self._client_name} carried no PAC (a KDC other than AD "
                    "may issue none), so there is no PAC information."
                )
            return self._pac
        return super().query_extra(attribute)

    @property
    def delegated_credential(self) -> Credential | None:
        """The client's forwarded TGT as a credential (server side, when delegated)."""
        return self._delegated_credential

    @property
    def _context_key(self) -> Key | None:
        # RFC 4121 §2 / MIT GSS_C_INQ_SSPI_SESSION_KEY: acceptor subkey, else initiator
        # subkey, else the ticket session key.
        return self._acceptor_subkey or self._initiator_subkey or self._session_key

    def sizes(self) -> Sizes:
        key = self._context_key
        if key is None or key.enctype == RC4:
            return Sizes(MAX_TOKEN, 37, 1, 45 if key is not None else 60)
        prof = profile(key.enctype)
        mic = gss.HEADER_SIZE + prof.checksum_size
        trailer = gss.HEADER_SIZE + prof.confounder_size + gss.HEADER_SIZE + prof.checksum_size
        if self._dce:
            trailer += 16
        return Sizes(MAX_TOKEN, mic, 1, trailer)

    # -- client ----------------------------------------------------------------------------

    def _client_start(self, payload: bytes) -> Choice[State, Step]:

        if not self._target:
            raise WrongPrincipal(
                "Kerberos needs a target name (an SPN such as HTTP/host.example.com); "
                "pszTargetName was empty."
            )
        server = self._cred.target_principal(self._target)
        self._server_name = str(server)
        self._server_principal = server
        if self._u2u:
            # draft-ietf-cat-user2user §2 / MS-KILE: ask the server for its TGT first; the
            # service ticket is then encrypted in that TGT's session key (RFC 4120 §3.3.3).
            request = KerbTgtRequest(server_name=server.name, realm=server.realm)
            token = gss_wrap_token(U2U_OID, TOK_ID_TGT_REQ, request.build())
            return Choice(Step(SecStatus.SEC_I_CONTINUE_NEEDED, token), State.EXPECT_TGT_REP)
        cred = self._cred
        env = self._env
        want_delegation = bool(self._request & _ISC_DELEGATE)
        if not want_delegation:
            # service_ticket's answer when the ticket is cached, without running a generator.
            held = cached_service_ticket(cred, server, env)
            if held is not None:
                return self._send_ap_req(held, None)

        def tickets() -> Generator[KdcRequest, bytes, object]:
            ticket = yield from service_ticket(cred, server, env)
            forwarded = None
            if want_delegation and (
                ticket.flags & TicketFlags.OK_AS_DELEGATE or cred.delegate_always
            ):
                forwarded = yield from forwarded_tgt(cred, env)
            return ticket, forwarded

        self._exchange = tickets()
        return self._advance(None)

    def _client_tgt_rep(self, payload: bytes) -> Choice[State, Step]:
        """KRB_TGT_REP: the server's TGT; get a ticket encrypted in its session key."""

        reply = KerbTgtReply.parse(classify(payload).body)
        held = Principal(reply.ticket.sname, reply.ticket.realm)
        if not held.is_tgs:
            raise InvalidToken(
                f"The server's KRB_TGT_REP holds a ticket for {held}, not a TGT (krbtgt/REALM); "
                "user-to-user needs the server's ticket-granting ticket."
            )
        server = self._server_principal
        assert isinstance(server, Principal)
        cred = self._cred
        env = self._env
        want_delegation = bool(self._request & IscReq.DELEGATE)

        def tickets() -> Generator[KdcRequest, bytes, object]:
            # RFC 4120 §3.3.3: KDCOptions ENC-TKT-IN-SKEY, additional-tickets = the server's TGT.
            ticket = yield from user_to_user(cred, server, reply.ticket, env)
            forwarded = None
            if want_delegation and (
                ticket.flags & TicketFlags.OK_AS_DELEGATE or cred.delegate_always
            ):
                forwarded = yield from forwarded_tgt(cred, env)
            return ticket, forwarded

        self._exchange = tickets()
        return self._advance(None)

    def _client_kdc_reply(self, payload: bytes) -> Choice[State, Step]:
        return self._advance(payload)

    def _advance(self, reply: bytes | None) -> Choice[State, Step]:
        """Run the KDC exchange to its next request, or build the AP-REQ once it is done."""
        assert self._exchange is not None
        try:
            request = next(self._exchange) if reply is None else self._exchange.send(reply)
        except StopIteration as done:
            self._exchange = None
            ticket, forwarded = done.value
            return self._send_ap_req(ticket, forwarded)
        return Choice(Step(SecStatus.SEC_I_CONTINUE_NEEDED, kdc_request=request), State.AWAIT_KDC)

    def _send_ap_req(self, ticket: object, forwarded: object | None) -> Choice[State, Step]:

        assert isinstance(ticket, ServiceTicket)
        env = self._env
        self._ticket = ticket
        self._session_key = ticket.session_key
        self._client_name = str(ticket.client)
        self._expiry = ticket.endtime
        req = int(self._request)
        flags = _gss_flags_from_isc(req)
        krb_cred = None
        if forwarded is not None:
            assert isinstance(forwarded, ServiceTicket)
            krb_cred = self._krb_cred(forwarded, ticket.session_key)
            self._delegated = True
        else:
            flags &= ~gss.GSS_C_DELEG_FLAG
        self._gss_flags = flags
        checksum = gss.build_authenticator_checksum(flags, self._bindings, krb_cred)
        # kdc_timesync: the authenticator carries our clock corrected to the KDC's (MIT does).
        ctime, cusec = _now_parts(self._cred.now(env))
        self._ctime, self._cusec = ctime, cusec
        self._initiator_subkey = random_key(ticket.session_key.enctype, env.random)
        self._send_seq = int.from_bytes(env.random(4), "big") & 0x3FFFFFFF
        authenticator = Authenticator(
            crealm=ticket.client.realm,
            cname=ticket.client.name,
            cksum=Checksum(gss.GSS_CHECKSUM_TYPE, checksum),
            cusec=cusec,
            ctime=ctime,
            subkey=EncryptionKey(self._initiator_subkey.enctype, self._initiator_subkey.contents),
            seq_number=self._send_seq,
        )
        options = 0
        mutual = bool(req & _ISC_MUTUAL_OR_DCE)
        if mutual:
            options |= _AP_MUTUAL_REQUIRED
        if self._u2u:
            # RFC 4120 §3.2.3: the ticket is encrypted in the session key of the server's TGT.
            options |= _AP_USE_SESSION_KEY
            self._u2u_done = True
        ap_req = ApReq(
            ap_options=options,
            ticket=ticket.ticket,
            authenticator=EncryptedData(
                etype=ticket.session_key.enctype,
                cipher=encrypt(ticket.session_key, USAGE_AP_REQ_AUTH, authenticator.build()),
            ),
        )
        body = ap_req.build()
        oid = U2U_OID if self._u2u else KRB5_OID  # Windows frames u2u AP-REQs with the u2u OID
        token = body if self._dce else gss_wrap_token(oid, TOK_ID_AP_REQ, body)
        if mutual:
            self._ret = self._compute_ret(complete=False)
            return Choice(Step(SecStatus.SEC_I_CONTINUE_NEEDED, token), State.EXPECT_AP_REP)
        # RFC 4121 §4.2.1/§4.2.2: without mutual authentication there is no AP-REP; both
        # directions use the initiator subkey and start at the initiator's sequence number.
        self._recv = self._window(self._send_seq)
        self._ret = self._compute_ret(complete=True)
        return Choice(Step(SecStatus.SEC_E_OK, token), State.COMPLETE)

    def _krb_cred(self, tgt: object, key: Key) -> bytes:
        """KRB-CRED carrying the forwarded TGT, encrypted with the ticket session key, usage 14
        (RFC 4121 §4.1.1.1; MIT and Windows use the session key)."""

        assert isinstance(tgt, ServiceTicket)
        info = KrbCredInfo(
            key=EncryptionKey(tgt.session_key.enctype, tgt.session_key.contents),
            prealm=tgt.client.realm,
            pname=tgt.client.name,
            flags=tgt.flags,
            authtime=tgt.authtime,
            starttime=tgt.starttime,
            endtime=tgt.endtime,
            renew_till=tgt.renew_till,
            srealm=tgt.server.realm,
            sname=tgt.server.name,
        )
        part = EncKrbCredPart(ticket_info=(info,))
        cred = KrbCred(
            tickets=(tgt.ticket,),
            enc_part=EncryptedData(
                etype=key.enctype, cipher=encrypt(key, USAGE_KRB_CRED_PART, part.build())
            ),
        )
        return cred.build()

    def _client_ap_rep(self, payload: bytes) -> Step:

        token = self._token(payload)
        rep = ApRep.parse(token.body)
        key = self._session_key
        assert key is not None
        part = EncApRepPart.parse(decrypt(key, USAGE_AP_REP_PART, rep.enc_part.cipher))
        if part.ctime != self._ctime or part.cusec != self._cusec:
            raise MutualAuthFailed(
                f"The AP-REP from {self._server_name} does not echo our authenticator's time: "
                "the server could not prove it holds the service key."
            )
        if part.subkey is not None:
            subkey = peer_subkey(self._cred.allow_rc4, key, part.subkey, "AP-REP")
            if _keeps_acceptor_subkey(self._initiator_subkey or key, subkey.enctype, self._dce):
                self._acceptor_subkey = subkey
        peer_seq = part.seq_number if part.seq_number is not None else self._send_seq
        self._recv = self._window(peer_seq)
        self._mutual_done = True
        if self._dce:
            # MS-KILE 3.4.5.1: the initiator answers with its own AP-REP (session key, usage
            # 12). As MIT builds it (and checks it): the current time, no subkey, and the
            # acceptor's sequence number echoed, which is what proves the initiator read it.
            ctime, cusec = _now_parts(self._cred.now(self._env))
            reply = EncApRepPart(ctime=ctime, cusec=cusec, seq_number=peer_seq)
            out = ApRep(enc_part=EncryptedData(
                etype=key.enctype, cipher=encrypt(key, USAGE_AP_REP_PART, reply.build())))
            self._ret = self._compute_ret(complete=True)
            return Step(SecStatus.SEC_E_OK, out.build())
        self._ret = self._compute_ret(complete=True)
        return Step(SecStatus.SEC_E_OK)

    def _client_krb_error(self, payload: bytes) -> Step:

        error = KrbError.parse(classify(payload).body)
        raise krb_error_to_sspi(error, client=None, server=self._server_name, realm=None)

    # -- server ----------------------------------------------------------------------------

    def _server_tgt_req(self, payload: bytes) -> Choice[State, Step]:
        """KRB_TGT_REQ: answer with this acceptor's own TGT (getting one first if needed)."""

        KerbTgtRequest.parse(classify(payload).body)
        cred = self._cred
        if cred.client is None:
            raise NoCredentials(
                "The client asked for user-to-user authentication, which needs this acceptor's "
                "own TGT; acquire the server credential with SECPKG_CRED_BOTH (or OUTBOUND) "
                "and a password, ccache or client keytab."
            )
        env = self._env

        def tgt() -> Generator[KdcRequest, bytes, object]:
            ticket = yield from get_tgt(cred, env)
            return ticket

        self._exchange = tgt()
        return self._server_advance(None)

    def _server_kdc_reply(self, payload: bytes) -> Choice[State, Step]:
        return self._server_advance(payload)

    def _server_advance(self, reply: bytes | None) -> Choice[State, Step]:
        """Run the acceptor's AS exchange to its next request, or send the KRB_TGT_REP."""

        assert self._exchange is not None
        try:
            request = next(self._exchange) if reply is None else self._exchange.send(reply)
        except StopIteration as done:
            self._exchange = None
            tgt = done.value
            assert isinstance(tgt, ServiceTicket)
            self._u2u_tgt = tgt
            body = KerbTgtReply(ticket=tgt.ticket).build()
            token = gss_wrap_token(U2U_OID, TOK_ID_TGT_REP, body)
            return Choice(Step(SecStatus.SEC_I_CONTINUE_NEEDED, token), State.EXPECT_AP_REQ)
        step = Step(SecStatus.SEC_I_CONTINUE_NEEDED, kdc_request=request)
        return Choice(step, State.ACCEPTOR_AWAIT_KDC)

    def _u2u_session_key(self) -> Key:
        """The session key of the TGT this acceptor handed out (or holds, for a client that
        got it another way)."""

        tgt = self._u2u_tgt
        cred = self._cred
        if tgt is None and cred.cache is not None and cred.client is not None:
            realm = cred.tgt_realm or cred.client.realm
            tgt = cred.cache.tgt(realm, self._env.now())
        if not isinstance(tgt, ServiceTicket):
            raise KdcLogonDenied(
                "The AP-REQ asks for user-to-user (ap-option use-session-key) but this acceptor "
                "holds no TGT to open it with; the client must send KRB_TGT_REQ first "
                "(KRB_AP_ERR_NO_TGT).",
                krb_error=ErrorCode.KRB_AP_ERR_NO_TGT,
            )
        return tgt.session_key

    def _server_ap_req(self, payload: bytes) -> Choice[State, Step]:

        token = self._token(payload)
        if token.framed and token.oid is not None:
            self._mech_oid = token.oid
        elif not self._dce:
            # A raw AP-REQ is DCE style (MS-KILE 3.4.5.1); accept it as Windows does.
            self._dce = True
        cred = self._cred
        # Tickets this acceptor opened before, by their bytes: a client's every connection
        # carries the same one, and decoding it again would give the same value.
        known = cred.opened_tickets.known if cred.acceptor_keytab is not None else None
        ap_req = ApReq.parse(token.body, known)
        now = self._env.now()
        skew = timedelta(seconds=cred.config.clockskew)
        ap_options = int(ap_req.ap_options)
        opened: OpenedTickets | None = None
        if ap_options & _AP_USE_SESSION_KEY:
            # RFC 4120 §3.2.3: user-to-user; the ticket is in our TGT's session key.
            ticket_key = self._u2u_session_key()
            enc_ticket, session = decrypt_u2u_ticket(
                ticket_key, ap_req.ticket, now=now, skew=skew
            )
            self._u2u_done = True
        elif self._u2u:
            raise KdcLogonDenied(
                "This acceptor requires user-to-user authentication (ASC_REQ_USE_SESSION_KEY) "
                "but the AP-REQ is an ordinary one (KRB_AP_ERR_USER_TO_USER_REQUIRED); the "
                "client must ask with ISC_REQ_USE_SESSION_KEY.",
                krb_error=ErrorCode.KRB_AP_ERR_USER_TO_USER_REQUIRED,
            )
        else:
            opened = cred.opened_tickets
            enc_ticket, session, ticket_key = decrypt_ticket_keyed(
                cred.keytab, ap_req.ticket, allowed=cred.acceptor_principal, now=now, skew=skew,
                opened=opened,
            )
        if opened is None:
            self._pac = _verified_pac(enc_ticket, ticket_key)
        else:  # a ticket opened before had its PAC verified then (the same bytes, same key)
            self._pac = opened.verified_pac(
                enc_ticket, lambda: _verified_pac(enc_ticket, ticket_key))
        check_ticket_enctypes(cred.allow_rc4, ap_req.ticket.enc_part.etype, session.enctype)
        auth = Authenticator.parse(
            decrypt(session, USAGE_AP_REQ_AUTH, ap_req.authenticator.cipher)
        )
        if auth.crealm != enc_ticket.crealm or auth.cname != enc_ticket.cname:
            raise WrongPrincipal(
                "The authenticator names a different client than the ticket: the ticket may "
                "have been stolen."
            )
        when = auth.ctime + timedelta(microseconds=auth.cusec)
        if abs(now - when) > skew:
            raise TimeSkew(
                f"The client's clock ({when:%Y-%m-%d %H:%M:%S}Z) differs from this server's by "
                f"more than {skew}; synchronise the clocks."
            )
        # Keyed on what the sender cannot change (not the clear-text ticket sname): issue 12.
        ReplayCache.shared().check(
            enc_ticket.cname.to_text(enc_ticket.crealm), auth.ctime, auth.cusec,
            ap_req.authenticator.cipher, now, skew,
        )
        flags = 0
        if auth.cksum is not None and auth.cksum.cksumtype == gss.GSS_CHECKSUM_TYPE:
            checksum = gss.parse_authenticator_checksum(auth.cksum.checksum)
            flags = checksum.flags
            self._check_bindings(checksum.bnd)
            if checksum.krb_cred is not None:
                self._accept_delegation(checksum.krb_cred, session, enc_ticket)
        elif self._bindings is not None and not AscReq(self._request) & (
            AscReq.ALLOW_MISSING_BINDINGS
        ):
            raise BadBindings("The client sent no GSS checksum, so no channel bindings.")
        self._gss_flags = flags
        self._session_key = session
        if auth.subkey is not None:
            self._initiator_subkey = peer_subkey(
                cred.allow_rc4, session, auth.subkey, "authenticator"
            )
        self._client_name = f"{'/'.join(enc_ticket.cname.name_string)}@{enc_ticket.crealm}"
        self._server_name = (
            f"{'/'.join(ap_req.ticket.sname.name_string)}@{ap_req.ticket.realm}"
        )
        self._expiry = enc_ticket.endtime
        peer_seq = auth.seq_number or 0
        mutual = bool(ap_options & _AP_MUTUAL_REQUIRED) or self._dce
        if not mutual:
            self._recv = self._window(peer_seq)
            self._send_seq = peer_seq
            self._ret = self._compute_ret(complete=True)
            return Choice(Step(SecStatus.SEC_E_OK), State.COMPLETE)
        env = self._env
        subkey = None
        if _keeps_acceptor_subkey(self._initiator_subkey or session, session.enctype, self._dce):
            self._acceptor_subkey = random_key(session.enctype, env.random)
            subkey = EncryptionKey(self._acceptor_subkey.enctype, self._acceptor_subkey.contents)
        self._send_seq = int.from_bytes(env.random(4), "big") & 0x3FFFFFFF
        part = EncApRepPart(
            ctime=auth.ctime, cusec=auth.cusec, subkey=subkey, seq_number=self._send_seq,
        )
        rep = ApRep(enc_part=EncryptedData(
            etype=session.enctype, cipher=encrypt(session, USAGE_AP_REP_PART, part.build())))
        body = rep.build()
        self._recv = self._window(peer_seq)
        self._mutual_done = True
        self._dce_seq = self._send_seq
        if self._dce:
            self._ret = self._compute_ret(complete=False)
            return Choice(Step(SecStatus.SEC_I_CONTINUE_NEEDED, body), State.EXPECT_DCE_AP_REP)
        self._ret = self._compute_ret(complete=True)
        step = Step(SecStatus.SEC_E_OK, gss_wrap_token(self._mech_oid, TOK_ID_AP_REP, body))
        return Choice(step, State.COMPLETE)

    def _server_dce_ap_rep(self, payload: bytes) -> Step:
        rep = ApRep.parse(classify(payload).body)
        key = self._session_key
        assert key is not None
        part = EncApRepPart.parse(decrypt(key, USAGE_AP_REP_PART, rep.enc_part.cipher))
        if part.seq_number != self._dce_seq:
            raise MutualAuthFailed(
                "The client's DCE-style AP-REP does not echo our sequence number: it did not "
                "read our AP-REP."
            )
        self._ret = self._compute_ret(complete=True)
        return Step(SecStatus.SEC_E_OK)

    def _check_bindings(self, bnd: bytes) -> None:
        if self._bindings is None:
            return
        if bnd == bytes(16):
            if AscReq(self._request) & AscReq.ALLOW_MISSING_BINDINGS:
                return
            raise BadBindings(
                "The client sent no channel bindings but this server requires them."
            )
        if not _ct_equal(bnd, gss.bindings_hash(self._bindings)):
            raise BadBindings(
                "The client's channel bindings do not match this channel: the connection may "
                "be relayed through another TLS endpoint."
            )

    def _accept_delegation(self, data: bytes, session: Key, enc_ticket: object) -> None:

        cred = KrbCred.parse(data)
        try:
            plain = decrypt(session, USAGE_KRB_CRED_PART, cred.enc_part.cipher)
        except SspiError:
            # RFC 4121 4.1.1.1 allows an unencrypted KRB-CRED (etype 0); nothing else.
            if cred.enc_part.etype != 0:
                raise
            plain = cred.enc_part.cipher
        part = EncKrbCredPart.parse(plain)
        self._delegated_credential = delegated_credential(
            cred, part, self._env, config=self._cred.config
        )
        self._delegated = True

    # -- flags -----------------------------------------------------------------------------

    def _window(self, initial: int) -> SequenceWindow:
        flags = self._gss_flags
        return SequenceWindow(
            initial, bool(flags & gss.GSS_C_REPLAY_FLAG), bool(flags & gss.GSS_C_SEQUENCE_FLAG)
        )

    def _compute_ret(self, complete: bool) -> int:
        """ISC_RET_/ASC_RET_ from what this context really provides (the bit values of the
        two families differ, so each row names both)."""
        side = 0 if self.is_client else 1
        ret = 0
        if complete:
            gss_flags = self._gss_flags
            for flag, bit in _GSS_TO_RET_BY_SIDE[side]:
                if gss_flags & flag:
                    ret |= bit
            if self._mutual_done:
                ret |= _RET_MUTUAL[side]
            if self._delegated:
                ret |= _RET_DELEGATE[side]
            if self._u2u_done:
                ret |= _RET_U2U[side]
        if self._dce:
            ret |= _RET_DCE[side]
        if int(self._request) & _REQ_CONNECTION[side]:
            ret |= _RET_CONNECTION[side]
        return ret

    # -- message protection ----------------------------------------------------------------

    def _direction(self, sending: bool) -> Direction:
        acceptor = (not self.is_client) if sending else self.is_client
        return Direction(acceptor=acceptor, acceptor_subkey=self._acceptor_subkey is not None)

    def _key(self) -> Key:
        key = self._context_key
        if key is None or not self.complete:
            raise UnsupportedFunction("The Kerberos handshake has not completed.")
        return key

    def _next_send(self) -> int:
        seq = self._send_seq
        self._send_seq = (seq + 1) & 0xFFFFFFFFFFFFFFFF
        return seq

    def _accept_seq(self, seq: int) -> None:
        window = self._recv
        assert window is not None
        window.check(seq)
        window.accept(seq)

    def make_signature(self, parts: Sequence[MessagePart], qop: int, seq: int | None) -> bytes:
        key = self._key()
        data = b"".join(p.data for p in parts if _signed(p))
        if key.enctype == RC4:
            return legacy.rc4_gss_get_mic(key, self._next_send() & 0xFFFFFFFF, data,
                                          self.is_client)
        return gss.get_mic(key, self._direction(True), self._next_send(), data)

    def verify_signature(
        self, parts: Sequence[MessagePart], signature: bytes, seq: int | None
    ) -> int:
        key = self._key()
        data = b"".join(p.data for p in parts if _signed(p))
        if key.enctype == RC4:
            number = legacy.rc4_gss_verify_mic(key, signature, data, not self.is_client)
        else:
            number = gss.verify_mic(key, self._direction(False), signature, data)
        self._accept_seq(number)
        return 0

    def mech_list_mic(self, mech_types: bytes) -> bytes:
        """SPNEGO's mechListMIC (RFC 4178 §5): a plain GSS MIC over the DER mechTypes. As in
        MIT's SPNEGO (``gss_get_mic``), it uses and consumes the next sequence number."""
        return self.make_signature((MessagePart(mech_types, sealed=False),), 0, None)

    def verify_mech_list_mic(self, mech_types: bytes, mic: bytes) -> None:
        """Verify the peer's mechListMIC (``gss_verify_mic``: it consumes the peer's number)."""
        self.verify_signature((MessagePart(mech_types, sealed=False),), mic, None)

    def encrypt(self, parts: Sequence[MessagePart], qop: int, seq: int | None) -> Sealed:
        key = self._key()
        qop &= 0xFFFFFFFF
        if qop not in (0, SECQOP_WRAP_NO_ENCRYPT):
            raise UnsupportedFunction(f"Kerberos supports no quality of protection {qop:#x}.")
        seal = qop != SECQOP_WRAP_NO_ENCRYPT
        if seal and len(parts) == 1 and not parts[0].attrs and parts[0].sealed:
            # One DATA buffer, the EncryptMessage shape of pywin32's encrypt() and most callers.
            stream = self._sealed_stream()
            if stream is not None:
                token, data = stream.wrap_parts(
                    self._next_send(), parts[0].data, self._env.random(stream.confounder_size))
                return Sealed(token, (data,))
        iov = _iov(parts)
        if key.enctype == RC4:
            return self._rc4_encrypt(key, parts, iov, seal)
        result = gss.wrap_iov(
            key, self._direction(True), self._next_send(), iov, seal=seal,
            checksum_size=profile(key.enctype).checksum_size,
            confounder=self._env.random(profile(key.enctype).confounder_size),
            dce_style=self._dce,
        )
        return Sealed(result.token, _split_back(parts, result.data))

    def _rc4_encrypt(self, key: Key, parts: Sequence[MessagePart], iov: Sequence[IovPart],
                     seal: bool) -> Sealed:
        # RFC 4757 §7.3 as MIT's gss_wrap_iov lays it out: TOKEN = framed header and
        # confounder, DATA in place, PADDING = the one pad byte; sign-only buffers are checksummed.
        head, out, pad = legacy.rc4_gss_wrap_iov(key, self._next_send() & 0xFFFFFFFF, iov,
                                                 self.is_client, seal, self._env.random(8))
        data = b"".join(o for o, (_, sealed) in zip(out, iov, strict=True) if sealed)
        return Sealed(head, _split_back(parts, data), pad)

    def decrypt(self, token: bytes, parts: Sequence[MessagePart], seq: int | None) -> Unsealed:
        if len(parts) == 1 and not parts[0].attrs and parts[0].sealed and len(token) >= 16:
            stream = self._sealed_stream()
            if stream is not None:
                fast = stream.unwrap(token + parts[0].data)
                if fast is not None:
                    self._accept_seq(fast[1])
                    return Unsealed((fast[0],), 0)
        key = self._key()
        iov = _iov(parts)
        data = b"".join(p.data for p in parts if _is_data(p))
        if key.enctype == RC4:
            # The pad byte(s) end the last DATA buffer (MIT's kg_fixup_padding_iov), or the
            # whole token came in TOKEN (SECBUFFER_STREAM).
            message, number, sealed = legacy.rc4_gss_unwrap_iov(key, token, iov,
                                                                not self.is_client)
        else:
            opened = gss.unwrap_iov(key, self._direction(False), token, iov, dce_style=self._dce)
            message, number, sealed = opened.plaintext, opened.seq, opened.sealed
        self._accept_seq(number)
        if len(message) != len(data) and parts:
            message = message[: len(data)] if len(message) > len(data) else message
        return Unsealed(_split_back(parts, message), 0 if sealed else SECQOP_WRAP_NO_ENCRYPT)

    def split_stream(self, stream: bytes) -> tuple[bytes, bytes]:
        if len(stream) < gss.HEADER_SIZE:
            raise InvalidToken(
                f"The SECBUFFER_STREAM holds {len(stream)} bytes, less than a Kerberos token "
                "header."
            )
        if self._key().enctype == RC4:
            return stream, b""
        return stream[: gss.HEADER_SIZE], stream[gss.HEADER_SIZE :]

    def _sealed_stream(self) -> gss.SealedStream | None:
        """The precomputed sealed-token state for :meth:`wrap`/:meth:`unwrap` (AES, not DCE
        style), made on first use after the handshake; None when the general path applies."""
        stream = self._stream
        if stream is None:
            key = self._key()
            if key.enctype == RC4 or self._dce:
                return None
            stream = self._stream = gss.SealedStream(
                key, self._direction(True), self._direction(False))
        return stream

    def seal_one(self, data: bytes, qop: int) -> tuple[bytes, bytes, bytes]:
        """EncryptMessage of one DATA buffer: the sealed stream's :meth:`~gss.SealedStream.
        wrap_parts` when :meth:`wrap` would take it, else the general :meth:`encrypt`."""
        stream = self._sealed_stream() if not qop else None
        if stream is not None and self.complete:
            token, sealed = stream.wrap_parts(
                self._next_send(), data, self._env.random(stream.confounder_size))
            return token, sealed, b""
        return super().seal_one(data, qop)

    def unseal_one(self, token: bytes, data: bytes) -> tuple[bytes, int]:
        """DecryptMessage of TOKEN + DATA: TOKEN‖DATA is the whole rotated Wrap token (RFC 4121
        §4.2.5), which the sealed stream opens as :meth:`unwrap` does; anything it does not
        take (integrity-only tokens, RC4, DCE style) goes the general way."""
        stream = self._sealed_stream() if len(token) >= gss.HEADER_SIZE else None
        if stream is not None and self.complete:
            fast = stream.unwrap(token + data)
            if fast is not None:
                self._accept_seq(fast[1])
                return fast[0], 0
        return super().unseal_one(token, data)

    def wrap(self, data: bytes, encrypt: bool = True) -> bytes:
        stream = self._sealed_stream() if encrypt else None
        if stream is not None and self.complete:
            return stream.wrap(self._next_send(), data, self._env.random(stream.confounder_size))
        sealed = self.encrypt((MessagePart(data),), 0 if encrypt else SECQOP_WRAP_NO_ENCRYPT, None)
        return sealed.token + sealed.parts[0] + sealed.padding

    def unwrap(self, message: bytes) -> bytes:
        stream = self._sealed_stream() if len(message) >= gss.HEADER_SIZE else None
        if stream is not None and self.complete:
            fast = stream.unwrap(message)
            if fast is not None:
                self._accept_seq(fast[1])
                return fast[0]
        token, data = self.split_stream(message)
        key = self._key()
        if key.enctype == RC4:
            plain, number, _ = legacy.rc4_gss_unwrap(key, message, not self.is_client)
            self._accept_seq(number)
            return plain
        opened = gss.unwrap(key, self._direction(False), token, data, dce_style=self._dce)
        self._accept_seq(opened.seq)
        return opened.plaintext


def _verified_pac(part: EncTicketPart, key: Key) -> PacInfo | None:
    """The ticket's PAC, verified with the key that opened the ticket (``pac`` module): a
    malformed PAC is SEC_E_INVALID_TOKEN, an untrustworthy one SEC_E_LOGON_DENIED."""

    client = part.cname.to_text(part.crealm)
    try:
        return verify_ticket_pac(part, key)
    except DecodeError as exc:
        raise InvalidToken(f"The PAC in the ticket of {client} is malformed: {exc}") from None
    except PacRefused as exc:
        raise KdcLogonDenied(
            f"The PAC in the ticket of {client} is refused: {exc.message}",
            krb_error=exc.krb_error,
        ) from None


def _signed(part: MessagePart) -> bool:
    """Kerberos checksums DATA and READONLY_WITH_CHECKSUM buffers; plain READONLY is ignored."""
    if part.attrs & SecBufferAttr.READONLY_WITH_CHECKSUM:
        return True
    return not part.attrs & SecBufferAttr.READONLY


def _keeps_acceptor_subkey(initiator_key: Key, acceptor_enctype: int, dce: bool) -> bool:
    """Whether an acceptor subkey replaces the initiator's key for per-message tokens.

    RFC 4121 §4.2 contexts (AES) always switch to it. With rc4-hmac, whose tokens are the RFC
    1964 ones (RFC 4757 §7), MIT krb5's initiator keeps an acceptor subkey only with DCE style or
    when its enctype differs ("MS behavior", ``init_sec_context.c``), and MIT's acceptor sends
    none; both sides here follow that rule, so rc4 contexts agree with MIT and Windows peers.
    """
    return (initiator_key.enctype != RC4 or dce or acceptor_enctype != initiator_key.enctype)


def _iov(parts: Sequence[MessagePart]) -> list[IovPart]:
    """The buffers Wrap protects, in order (MS-KILE 3.4.5.4.1; MIT ``gss_wrap_iov``): DATA
    buffers sealed (True), READONLY_WITH_CHECKSUM ones signed only (False); plain READONLY
    buffers (and parts not meant to be sealed) are neither, so they are left out."""
    out: list[IovPart] = []
    for part in parts:
        if part.attrs & SecBufferAttr.READONLY_WITH_CHECKSUM:
            out.append((part.data, False))
        elif _is_data(part):
            out.append((part.data, True))
    return out


def _is_data(part: MessagePart) -> bool:
    """A DATA buffer Wrap encrypts (or, integrity-only, carries in the clear)."""
    readonly = SecBufferAttr.READONLY | SecBufferAttr.READONLY_WITH_CHECKSUM
    return part.sealed and not part.attrs & readonly


def _split_back(parts: Sequence[MessagePart], data: bytes) -> tuple[bytes, ...]:
    """Cut the processed bytes back into the DATA parts; the others pass unchanged."""
    out: list[bytes] = []
    offset = 0
    for part in parts:
        if _is_data(part):
            out.append(data[offset : offset + len(part.data)])
            offset += len(part.data)
        else:
            out.append(part.data)
    return tuple(out)


def _ct_equal(a: bytes, b: bytes) -> bool:
    import hmac

    return hmac.compare_digest(a, b)


Handler = Callable[[KerberosContext, bytes], "Step | Choice[State, Step]"]
_AFTER_TICKETS = (State.AWAIT_KDC, State.EXPECT_AP_REP, State.COMPLETE)

TRANSITIONS: dict[tuple[State, Input], tuple[Handler, State | tuple[State, ...]]] = {
    (State.CLIENT_INITIAL, Input.NO_TOKEN): (
        KerberosContext._client_start, (*_AFTER_TICKETS, State.EXPECT_TGT_REP)),
    (State.EXPECT_TGT_REP, Input.TGT_REP): (KerberosContext._client_tgt_rep, _AFTER_TICKETS),
    (State.EXPECT_TGT_REP, Input.KRB_ERROR): (KerberosContext._client_krb_error, State.FAILED),
    (State.AWAIT_KDC, Input.KDC_REPLY): (KerberosContext._client_kdc_reply, _AFTER_TICKETS),
    (State.EXPECT_AP_REP, Input.AP_REP): (KerberosContext._client_ap_rep, State.COMPLETE),
    (State.EXPECT_AP_REP, Input.KRB_ERROR): (KerberosContext._client_krb_error, State.FAILED),
    (State.EXPECT_AP_REQ, Input.TGT_REQ): (
        KerberosContext._server_tgt_req, (State.EXPECT_AP_REQ, State.ACCEPTOR_AWAIT_KDC)),
    (State.ACCEPTOR_AWAIT_KDC, Input.KDC_REPLY): (
        KerberosContext._server_kdc_reply, (State.ACCEPTOR_AWAIT_KDC, State.EXPECT_AP_REQ)),
    (State.EXPECT_AP_REQ, Input.AP_REQ): (
        KerberosContext._server_ap_req, (State.COMPLETE, State.EXPECT_DCE_AP_REP)),
    (State.EXPECT_DCE_AP_REP, Input.AP_REP): (
        KerberosContext._server_dce_ap_rep, State.COMPLETE),
}
