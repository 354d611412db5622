"""The Negotiate handshake (SPNEGO, RFC 4178, with MS-SPNG's rules) as one state machine.

Rules for this file:

- The transitions are the one table ``TRANSITIONS``; only :class:`~opensspi.statemachine.Machine`
  assigns the state. A token that is not legal in the current state fails the context.
- The inner mechanism (Kerberos or NTLM) is another package's :class:`SecurityContext`, reached
  only through the provider interface: Negotiate never parses its tokens, it only tells which
  package a raw token belongs to. Its KDC requests go up unchanged in ``Step.kdc_request`` and
  its replies come back in ``StepInput.kdc_reply`` (sans-I/O, DESIGN.md).
- SPNEGO tokens are built and parsed by ``asn1``; the mechListMIC always covers the DER
  ``mechTypes`` exactly as the initiator sent them (``mech_types_raw``), never a re-encoding.
- Fallback from Kerberos to NTLM happens only while the initiator is still getting its first
  Kerberos token (no TGT/password, no KDC, unknown SPN); once an AP-REQ left, Kerberos errors are
  final (standard Windows behaviour, B.7 of the notes).

Failure statuses (MS-SPNG says only that the negotiation fails; these follow what the
mechanisms and MIT's SPNEGO report):

- a mechListMIC that does not verify, which is also what a downgraded (altered) mechanism list
  gives: ``SEC_E_MESSAGE_ALTERED``, as VerifySignature reports a bad signature (MIT:
  GSS_S_BAD_MIC);
- a mechListMIC that is required and absent (stripped in transit): ``SEC_E_INVALID_TOKEN``
  (MIT: GSS_S_DEFECTIVE_TOKEN with negState reject);
- a supportedMech the initiator did not offer, a framing OID that is not SPNEGO, a token that
  does not parse or is not legal in the current state: ``SEC_E_INVALID_TOKEN``;
- an acceptor's negState reject: ``SEC_E_LOGON_DENIED`` (or the mechanism's own error when the
  reject carries one); an acceptor that shares no mechanism with the initiator:
  ``SEC_E_INVALID_TOKEN``. Every acceptor failure carries a NegTokenResp reject in
  ``SspiError.token`` for the peer.

Spec: https://www.rfc-editor.org/rfc/rfc4178,
https://learn.microsoft.com/openspecs/windows_protocols/ms-spng
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from datetime import datetime
from enum import Enum, auto

from ...buffers import ChannelBindings
from ...constants import AscReq, IscReq, NegotiationState, SecStatus, flag_memo
from ...der import decode_initial_context_token
from ...errors import (
    DecodeError,
    InvalidToken,
    LogonDenied,
    MessageAltered,
    NoAuthenticatingAuthority,
    NoCredentials,
    OutOfSequence,
    SspiError,
    TargetUnknown,
    UnsupportedFunction,
)
from ...logs import negotiate_fallback
from ...message import Layout, MessageOp, MessageResult, Part, StreamSizes
from ...provider import (
    Environment,
    MessagePart,
    PackageInfo,
    Sealed,
    SecurityContext,
    SecurityPackage,
    Sizes,
    Step,
    StepInput,
    Unsealed,
)
from ...statemachine import Choice, Machine
from .asn1 import (
    KRB5_OID,
    MS_KRB5_OID,
    NTLMSSP_OID,
    SPNEGO_OID,
    NegHints,
    NegState,
    NegTokenInit,
    NegTokenInit2,
    NegTokenResp,
    decode_token,
    init_token,
    known_init,
    remember_init,
)
from .credentials import KERBEROS, NTLM, NegotiateCredential

_NAMES = {KERBEROS: "Kerberos", NTLM: "NTLM"}

#: MS-SPNG 2.2.1: the hint name Windows puts in a NegTokenInit2; receivers ignore it.
HINT_NAME = "not_defined_in_RFC4178@please_ignore"
#: The largest SPNEGO token accepted (an AD Kerberos ticket with a large PAC fits).
MAX_TOKEN = 65536

_MECH_OF_OID = {MS_KRB5_OID: KERBEROS, KRB5_OID: KERBEROS, NTLMSSP_OID: NTLM}
#: The OIDs we list for each package: Windows lists the MS Kerberos OID first (B.7).
_OIDS_OF_MECH = {KERBEROS: (MS_KRB5_OID, KRB5_OID), NTLM: (NTLMSSP_OID,)}
_KERBEROS_FRAMING = (KRB5_OID, MS_KRB5_OID, "1.2.840.113554.1.2.2.3")  # + user-to-user
#: Why Kerberos may be left out before its first token (MS-SPNG; B.7): no TGT or password,
#: an SPN the KDC does not know, no KDC answering.
_FALLBACK_ERRORS = (NoCredentials, TargetUnknown, NoAuthenticatingAuthority)


class State(Enum):
    """What the context expects next."""

    CLIENT_INITIAL = auto()
    CLIENT_AWAIT_KDC = auto()  # the inner Kerberos context is getting its ticket
    EXPECT_RESP = auto()  # client: the acceptor's NegTokenResp
    EXPECT_INIT = auto()  # server: the initiator's NegTokenInit (or a raw mechanism token)
    EXPECT_NEG_RESP = auto()  # server: the initiator's next NegTokenResp
    EXPECT_RAW = auto()  # server: the next raw mechanism token (no SPNEGO framing)
    COMPLETE = auto()
    FAILED = auto()


class Input(Enum):
    """What a step received."""

    NO_TOKEN = auto()
    KDC_REPLY = auto()
    KDC_FAILED = auto()
    NEG_INIT = auto()  # NegTokenInit or MS-SPNG NegTokenInit2
    NEG_RESP = auto()
    RAW_TOKEN = auto()  # a bare Kerberos or NTLM token (Windows hands it to that package)


def target_is_ip(target: str | None) -> bool:
    """Whether the host in ``target`` (``HTTP/host:port@REALM``, ``host@h``, ``h``) is an IP
    literal: such a target has no usable SPN, so Negotiate uses NTLM (B.7; Windows without the
    opt-in ``TryIPSPN``)."""
    if not target:
        return False
    host = target
    if "/" in host:
        host = host.split("/", 1)[1]
    elif "@" in host:
        host = host.split("@", 1)[1]
    if host.startswith("["):
        host = host[1:].split("]", 1)[0]
    else:
        host = host.split("@", 1)[0]
        if host.count(":") == 1:
            host = host.split(":", 1)[0]
        host = host.split("/", 1)[0]
    if ":" not in host and not host.replace(".", "").isdigit():
        return False  # a name (no colon, not all digits and dots): spare ip_address's slow error
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def raw_mechanism(token: bytes) -> str | None:
    """The package a token without SPNEGO framing belongs to, or None."""
    if token.startswith(b"NTLMSSP\0"):
        return NTLM
    if token[:1] == b"\x6e":  # a raw (DCE style) AP-REQ
        return KERBEROS
    if token[:1] == b"\x60":
        try:
            oid, _inner = decode_initial_context_token(token)
        except DecodeError:
            return None
        if oid in _KERBEROS_FRAMING:
            return KERBEROS
    return None


# Members used on every leg, bound once: an Enum class attribute lookup goes through the
# metaclass and costs several times a global's.
_COMPLETE = State.COMPLETE
_EXPECT_RESP = State.EXPECT_RESP
_EXPECT_NEG_RESP = State.EXPECT_NEG_RESP
_EXPECT_RAW = State.EXPECT_RAW
_NO_TOKEN = Input.NO_TOKEN
_NEG_INIT = Input.NEG_INIT
_NEG_RESP = Input.NEG_RESP
_RAW_TOKEN = Input.RAW_TOKEN
_REJECT = NegState.REJECT
_REQUEST_MIC = NegState.REQUEST_MIC
_ACCEPT_COMPLETED = NegState.ACCEPT_COMPLETED
_ACCEPT_INCOMPLETE = NegState.ACCEPT_INCOMPLETE
_OK = SecStatus.SEC_E_OK
_CONTINUE = SecStatus.SEC_I_CONTINUE_NEEDED


_new_tuple = tuple.__new__  # a StepInput without NamedTuple's keyword-handling __new__
_isc_req = flag_memo(IscReq)
_asc_req = flag_memo(AscReq)


class NegotiateContext(SecurityContext):
    """A Negotiate context, client or server: SPNEGO around a Kerberos or NTLM context."""

    def __init__(
        self,
        info: PackageInfo,
        credential: NegotiateCredential,
        is_client: bool,
        request: int,
        target: str | None,
        env: Environment,
        packages: Callable[[str], SecurityPackage],
        max_token: int = MAX_TOKEN,
    ) -> None:
        self.info = info
        self.is_client = is_client
        self._cred = credential
        self._request = request
        self._target = target
        self._env = env
        self._packages = packages
        self._max_token = max_token
        self._machine: Machine[State, Input, Step] = Machine(
            TRANSITIONS, State.CLIENT_INITIAL if is_client else State.EXPECT_INIT,
            State.FAILED, "SPNEGO token",
        )
        self._inner: SecurityContext | None = None
        self._mech: str | None = None
        self._offers: list[str] = []
        self._sent_oids: tuple[str, ...] = ()
        self._mech_types_raw = b""
        self._bindings: ChannelBindings | None = None
        self._initial = True  # client: still building the NegTokenInit
        self._answered = False  # client: the acceptor's first NegTokenResp was processed
        self._mic_required = False
        self._mic_sent = False
        self._mic_received = False
        self._optimistic = False  # client: completed before the acceptor answered

    def __repr__(self) -> str:
        side = "client" if self.is_client else "server"
        return f"NegotiateContext({side}, {self._machine.state.name}, mech={self._mech})"

    # -- stepping --------------------------------------------------------------------------

    def step(self, inp: StepInput) -> Step:
        if inp.channel_bindings is not None:
            self._bindings = inp.channel_bindings
        try:
            return self._machine.run(self._classify, inp)
        except SspiError as exc:
            if not self.is_client and self._mech_types_raw and not exc.token:
                # RFC 4178 §4.2.2: the acceptor ends a failed negotiation with negState reject;
                # the mechanism's own error token (a KRB-ERROR) rides in responseToken.
                exc.token = NegTokenResp(neg_state=NegState.REJECT).build()
            raise

    def kdc_failed(self, error: Exception) -> Step:
        """No KDC answered the inner Kerberos context: offer NTLM instead, if still possible."""
        if self._machine.state is not State.CLIENT_AWAIT_KDC:
            raise error
        return self._machine.run(lambda: (Input.KDC_FAILED, (self, error)))

    def _classify(self, inp: StepInput) -> tuple[Input, tuple[object, ...]]:
        """The event a step is, with the handler's arguments (behind the machine's boundary)."""
        if inp.kdc_reply is not None:
            return Input.KDC_REPLY, (self, inp.kdc_reply)
        token = inp.token
        if not token:
            return _NO_TOKEN, (self, inp)
        if len(token) > self._max_token:
            raise InvalidToken(
                f"The Negotiate token is {len(token)} bytes, over the {self._max_token}-byte "
                "limit."
            )
        if self._machine.state is _EXPECT_RAW:
            return _RAW_TOKEN, (self, token)
        first = token[0]
        if first == 0x60:
            known = known_init(token)
            if known is not None:
                return _NEG_INIT, (self, known)
            oid, inner = decode_initial_context_token(token)
            if oid != SPNEGO_OID:
                if not self.is_client and raw_mechanism(token) is not None:
                    return _RAW_TOKEN, (self, token)
                raise InvalidToken(
                    f"The token is for mechanism {oid}, not SPNEGO ({SPNEGO_OID}) or a "
                    "mechanism Negotiate can hand it to."
                )
            if inner[:1] != b"\xa0":
                raise InvalidToken("The SPNEGO initial token does not hold a NegTokenInit.")
            token = inner  # unframed once; decode_token takes the bare [0] NegTokenInit
        elif first not in (0xA0, 0xA1):
            if not self.is_client and raw_mechanism(token) is not None:
                return _RAW_TOKEN, (self, token)
            raise InvalidToken(f"Not a SPNEGO token: it starts with 0x{first:02x}.")
        message = decode_token(token)
        if isinstance(message, NegTokenResp):
            return _NEG_RESP, (self, message)
        if first == 0x60:
            remember_init(inp.token, message)  # type: ignore[arg-type]
        return _NEG_INIT, (self, message)

    @property
    def complete(self) -> bool:
        return self._machine.state is _COMPLETE

    @property
    def state(self) -> State:
        return self._machine.state

    @property
    def mechanism(self) -> str | None:
        """``"kerberos"`` or ``"ntlm"`` once chosen (the package that runs the context)."""
        return self._mech

    @property
    def negotiation_state(self) -> NegotiationState:
        """``SECPKG_NEGOTIATION_OPTIMISTIC`` while a client that completed on its first token
        has not heard the acceptor's verdict."""
        if self.complete and self._optimistic:
            return NegotiationState.OPTIMISTIC
        return super().negotiation_state

    @property
    def mechanism_context(self) -> SecurityContext | None:
        """The negotiated package's own context (for inspection; Negotiate drives it)."""
        return self._inner

    # -- the inner context -----------------------------------------------------------------

    def _use(self, mech: str) -> SecurityContext:
        """Create the inner context for ``mech`` (``kerberos``/``ntlm``) and adopt it."""
        cred = self._cred.kerberos if mech == KERBEROS else self._cred.ntlm
        if cred is None:
            raise NoCredentials(
                f"Negotiate has no {mech} credentials "
                f"({self._cred.problems.get(mech, 'not acquired')})."
            )
        package = self._packages("Kerberos" if mech == KERBEROS else "NTLM")
        if self.is_client:
            req = self._request
            if mech == NTLM:
                # Windows' NTLM NEGOTIATE under Negotiate sets NTLMSSP_NEGOTIATE_SIGN even when
                # the caller asked for no integrity: the mechListMIC (MS-SPNG 3.1.5.1) is an
                # NTLM signature. ISC_RET_INTEGRITY then reports what the context provides.
                req |= int(IscReq.INTEGRITY)
            inner = package.client_context(cred, self._target, _isc_req(req), self._env)
        else:
            inner = package.server_context(cred, _asc_req(self._request), self._env)
        self._inner = inner
        self._mech = mech
        self.layouts = inner.layouts
        return inner

    def _ready(self) -> SecurityContext:
        inner = self._inner
        if inner is None or not self.complete:
            raise UnsupportedFunction("The Negotiate handshake has not completed.")
        return inner

    def _inner_step(self, token: bytes | None = None, kdc_reply: bytes | None = None) -> Step:
        assert self._inner is not None
        return self._inner.step(
            _new_tuple(StepInput, (token, self._bindings, (), kdc_reply, (), None))
        )

    def _verify_mic(self, mic: bytes) -> None:
        assert self._inner is not None
        try:
            self._inner.verify_mech_list_mic(self._mech_types_raw, mic)
        except (MessageAltered, OutOfSequence, InvalidToken) as exc:
            raise MessageAltered(
                "The peer's SPNEGO mechListMIC does not verify: the mechanism list was altered "
                f"in transit (a downgrade attempt?) or the MIC is forged ({exc.message})."
            ) from None
        self._mic_received = True

    def _make_mic(self) -> bytes:
        assert self._inner is not None
        self._mic_sent = True
        return self._inner.mech_list_mic(self._mech_types_raw)

    # -- client ----------------------------------------------------------------------------

    def _client_offers(self, server_oids: Sequence[str] | None) -> list[str]:
        """The packages to offer, in order: Kerberos when it may work, then NTLM."""
        cred = self._cred
        offers: list[str] = []
        reasons: list[str] = []
        for mech in (KERBEROS, NTLM):
            if mech == KERBEROS and KERBEROS in cred.packages and (
                    server_oids is None or set(_OIDS_OF_MECH[KERBEROS]) & set(server_oids)):
                # The target is looked at before the credential: a deferred Kerberos credential
                # (krb5.conf, the ticket cache) is not acquired for a context that cannot use it.
                if not self._target:
                    reasons.append("kerberos: no target name (SPN) was given")
                    continue
                if target_is_ip(self._target):
                    negotiate_fallback("NTLM", "Kerberos",
                                       f"the target {self._target} is an IP address (no SPN)")
                    reasons.append("kerberos: the target is an IP address")
                    continue
                if cred.kerberos_unresolvable(self._target) is not None:
                    # Known to fail before any KDC exchange: _client_begin falls back to NTLM
                    # (or, without NTLM, acquires Kerberos and fails with its own message),
                    # so the deferred credential is not acquired here.
                    offers.append(mech)
                    continue
            if (cred.kerberos if mech == KERBEROS else cred.ntlm) is None:
                reasons.append(f"{mech}: {cred.problems.get(mech, 'no credentials')}")
                continue
            if server_oids is not None and not set(_OIDS_OF_MECH[mech]) & set(server_oids):
                reasons.append(f"{mech}: the server does not list it")
                continue
            offers.append(mech)
        if not offers:
            raise NoCredentials(
                "Negotiate has no mechanism to offer: " + "; ".join(reasons) + "."
            )
        return offers

    def _client_start(self, inp: StepInput) -> Choice[State, Step]:
        self._offers = self._client_offers(None)
        return self._client_begin()

    def _client_hinted(self, init: NegTokenInit | NegTokenInit2) -> Choice[State, Step]:
        """An unsolicited NegTokenInit2 from the server (SMB, MS-SPNG 3.2.5.2): offer what both
        sides list; the hints (and any other field) are ignored."""
        self._offers = self._client_offers(init.mech_types)
        return self._client_begin()

    def _client_begin(self) -> Choice[State, Step]:
        if KERBEROS in self._offers:
            target = self._target
            why = self._cred.kerberos_unresolvable(target) if target else None
            if why is not None and NTLM in self._offers:
                # What _fallback does for the error this handle's Kerberos gave before.
                negotiate_fallback("NTLM", "Kerberos", why)
                self._offers = [NTLM]
                return self._client_ntlm_only()
            try:
                self._use(KERBEROS)
            except SspiError as exc:
                return self._fallback(exc)
            return self._client_kerberos(None)
        return self._client_ntlm_only()

    def _client_kerberos(self, kdc_reply: bytes | None) -> Choice[State, Step]:
        """Step the inner Kerberos context towards its AP-REQ (ticket acquisition included)."""
        try:
            step = self._inner_step(kdc_reply=kdc_reply)
        except _FALLBACK_ERRORS as exc:
            if kdc_reply is None and type(exc) is TargetUnknown and self._target:
                # Its first step, before any KDC exchange: the target's realm is unknown to
                # krb5.conf, which the next context of this handle would find again.
                self._cred.remember_unresolvable(
                    self._target, f"{exc.status.name}: {exc.message}")
            return self._fallback(exc)
        if step.kdc_request is not None:
            return Choice(
                Step(SecStatus.SEC_I_CONTINUE_NEEDED, kdc_request=step.kdc_request),
                State.CLIENT_AWAIT_KDC,
            )
        return self._client_send_init(step.token)

    def _fallback(self, exc: SspiError) -> Choice[State, Step]:
        """Kerberos cannot start: restart with NTLM only, when the credential allows it."""
        if NTLM not in self._offers:
            raise exc
        negotiate_fallback("NTLM", "Kerberos", f"{exc.status.name}: {exc.message}")
        self._offers = [NTLM]
        return self._client_ntlm_only()

    def _client_ntlm_only(self) -> Choice[State, Step]:
        self._use(NTLM)
        return self._client_send_init(self._inner_step().token)

    def _client_send_init(self, token: bytes) -> Choice[State, Step]:
        oids = tuple(oid for mech in self._offers for oid in _OIDS_OF_MECH[mech])
        framed, self._mech_types_raw = init_token(oids, token or None)
        self._sent_oids = oids
        self._initial = False
        assert self._inner is not None
        if self._inner.complete:
            # Kerberos without mutual authentication is done with its AP-REQ. Windows'
            # Negotiate then completes at once, optimistically (SECPKG_NEGOTIATION_OPTIMISTIC):
            # one leg, as pywin32's socket_server demo expects. A later accept-completed from
            # the acceptor is still taken (see _client_confirm).
            self._optimistic = True
            return Choice(Step(_OK, framed), _COMPLETE)
        return Choice(Step(_CONTINUE, framed), _EXPECT_RESP)

    def _client_confirm(self, resp: NegTokenResp) -> Step:
        """The acceptor's answer to a negotiation this initiator completed optimistically: an
        accept-completed for the mechanism it chose (its mechListMIC verified, if any)."""
        if not (self.is_client and self._optimistic):
            raise InvalidToken("A NegTokenResp arrived after the negotiation completed.")
        self._optimistic = False
        if resp.neg_state is NegState.REJECT:
            raise LogonDenied(
                "The server rejected the Negotiate authentication (SPNEGO negState reject) "
                "after this client completed optimistically."
            )
        selected = resp.supported_mech
        if selected is not None and _MECH_OF_OID.get(selected) != self._mech:
            raise InvalidToken(
                f"The acceptor selected mechanism {selected} after this client completed "
                f"with {self._mech}; start a new context (and ask for ISC_REQ_MUTUAL_AUTH)."
            )
        if resp.neg_state is not NegState.ACCEPT_COMPLETED or resp.response_token:
            raise InvalidToken(
                "The acceptor continues a negotiation this client already completed; ask for "
                "ISC_REQ_MUTUAL_AUTH so that the client waits for the acceptor's answer."
            )
        if resp.mech_list_mic is not None:
            self._verify_mic(resp.mech_list_mic)
        self._answered = True
        return Step(SecStatus.SEC_E_OK)

    def _client_kdc_reply(self, reply: bytes) -> Choice[State, Step]:
        if self._initial:
            return self._client_kerberos(reply)
        return self._client_continue(self._inner_step(kdc_reply=reply))

    def _client_kdc_failed(self, error: Exception) -> Choice[State, Step]:
        if self._initial and isinstance(error, _FALLBACK_ERRORS):
            return self._fallback(error)
        raise error

    def _client_continue(self, step: Step) -> Choice[State, Step]:
        """After a mechanism switch: the new mechanism's first token, or its KDC request."""
        if step.kdc_request is not None:
            return Choice(
                Step(SecStatus.SEC_I_CONTINUE_NEEDED, kdc_request=step.kdc_request),
                State.CLIENT_AWAIT_KDC,
            )
        out = NegTokenResp(response_token=step.token or None)
        return Choice(Step(SecStatus.SEC_I_CONTINUE_NEEDED, out.build()), State.EXPECT_RESP)

    def _client_resp(self, resp: NegTokenResp) -> Choice[State, Step]:
        inner = self._inner
        assert inner is not None
        if resp.neg_state is _REJECT:
            if resp.response_token and not inner.complete:
                # The mechanism's error (a KRB-ERROR) says best what went wrong.
                self._inner_step(resp.response_token)
            raise LogonDenied(
                "The server rejected the Negotiate authentication (SPNEGO negState reject)."
            )
        mic = resp.mech_list_mic
        if mic is not None and mic == resp.response_token:
            mic = None  # an old SPNEGO bug pyspnego also tolerates: the token copied as MIC
        if not self._answered:
            self._answered = True
            selected = resp.supported_mech
            if selected is None:
                raise InvalidToken(
                    "The acceptor's first NegTokenResp names no supportedMech (RFC 4178 "
                    "§4.2.2 requires it)."
                )
            chosen = _MECH_OF_OID.get(selected)
            if selected not in self._sent_oids or chosen is None:
                raise InvalidToken(
                    f"The acceptor selected mechanism {selected}, which this initiator did not "
                    f"offer ({', '.join(self._sent_oids)})."
                )
            if chosen != self._mech:
                return self._client_switch(chosen, resp)
        if resp.neg_state is _REQUEST_MIC:
            self._mic_required = True
        token_out = b""
        if resp.response_token:
            if inner.complete:
                raise InvalidToken(
                    f"The acceptor sent a {self._mech} token after that mechanism completed."
                )
            token_out = self._inner_step(resp.response_token).token
        if mic is not None:
            if not inner.complete:
                raise InvalidToken(
                    "The acceptor sent a mechListMIC before the mechanism completed."
                )
            self._verify_mic(mic)
            if resp.neg_state is not _ACCEPT_COMPLETED:
                self._mic_required = True  # the acceptor waits for ours
        needed = self._mic_required or inner.requires_mech_list_mic
        mic_out = self._make_mic() if inner.complete and needed and not self._mic_sent else None
        if resp.neg_state is _ACCEPT_COMPLETED:
            if not inner.complete:
                raise InvalidToken(
                    f"The acceptor reports the negotiation complete, but the {self._mech} "
                    "exchange is not (its final token is missing)."
                )
            if needed and not self._mic_received:
                raise InvalidToken(
                    "The acceptor completed without the mechListMIC that protects the "
                    "mechanism list (MS-SPNG 3.1.5.1): it was stripped in transit, or the "
                    "acceptor does not protect the negotiation."
                )
            final = NegTokenResp(mech_list_mic=mic_out).build() if mic_out else b""
            return Choice(Step(_OK, final), _COMPLETE)
        if inner.complete and self._mic_sent and self._mic_received:
            # Both MICs exchanged: the acceptor completes on ours without answering (MIT).
            out = NegTokenResp(response_token=token_out or None, mech_list_mic=mic_out)
            return Choice(Step(_OK, out.build()), _COMPLETE)
        if not token_out and mic_out is None:
            raise InvalidToken(
                "The acceptor's NegTokenResp neither completes the negotiation nor asks for "
                "anything this initiator can send."
            )
        out = NegTokenResp(response_token=token_out or None, mech_list_mic=mic_out)
        return Choice(Step(_CONTINUE, out.build()), _EXPECT_RESP)

    def _client_switch(self, chosen: str, resp: NegTokenResp) -> Choice[State, Step]:
        """The acceptor chose another of our mechanisms (RFC 4178 §3.2 (c)): drop the
        optimistic one and start the chosen one; the mechListMIC becomes mandatory."""
        if resp.neg_state is NegState.ACCEPT_COMPLETED or resp.response_token:
            raise InvalidToken(
                f"The acceptor selected {chosen} but answered as if it had its token; "
                "this initiator never started that mechanism."
            )
        negotiate_fallback(_NAMES[chosen], _NAMES.get(self._mech or "", "?"),
                           "the acceptor selected it")
        self._mic_required = True
        self._use(chosen)
        return self._client_continue(self._inner_step())

    # -- server ----------------------------------------------------------------------------

    def _accepts(self, oid: str) -> bool:
        mech = _MECH_OF_OID.get(oid)
        if mech == NTLM:
            return self._cred.ntlm is not None
        return mech == KERBEROS and self._cred.kerberos is not None

    def _acceptable(self) -> list[str]:
        return [m for m, c in ((KERBEROS, self._cred.kerberos), (NTLM, self._cred.ntlm)) if c]

    def _server_hints(self, inp: StepInput) -> Step:
        """AcceptSecurityContext with no input: the unsolicited NegTokenInit2 an SMB server
        sends first (MS-SPNG 3.2.5.2), listing what this acceptor can take."""
        oids = tuple(oid for mech in self._acceptable() for oid in _OIDS_OF_MECH[mech])
        hint = NegTokenInit2(mech_types=oids, neg_hints=NegHints(hint_name=HINT_NAME))
        return Step(SecStatus.SEC_I_CONTINUE_NEEDED, hint.to_token())

    def _server_init(self, init: NegTokenInit | NegTokenInit2) -> Choice[State, Step]:
        if isinstance(init, NegTokenInit2):
            raise InvalidToken("An initiator sent a NegTokenInit2, which only servers send.")
        self._mech_types_raw = init.mech_types_raw
        # Kerberos credentials (the keytab) are looked at only if the initiator offers it.
        selected = next((oid for oid in init.mech_types if self._accepts(oid)), None)
        if selected is None:
            acceptable = self._acceptable()
            raise InvalidToken(
                "The initiator offers no mechanism this acceptor has credentials for: it "
                f"offers {', '.join(init.mech_types) or 'nothing'}; this acceptor takes "
                f"{', '.join(acceptable)}."
            )
        mech = _MECH_OF_OID[selected]
        self._use(mech)
        token_out = b""
        if selected == init.mech_types[0]:
            if init.mech_token:
                token_out = self._inner_step(init.mech_token).token
        else:
            # RFC 4178 §5: not the initiator's first choice, so the MIC is required (and its
            # optimistic token, for another mechanism, is ignored).
            self._mic_required = True
        return self._server_leg(init.mech_list_mic, token_out, selected)

    def _server_resp(self, resp: NegTokenResp) -> Choice[State, Step]:
        inner = self._inner
        assert inner is not None
        token_out = b""
        if resp.response_token:
            if inner.complete:
                raise InvalidToken(
                    f"The initiator sent a {self._mech} token after that mechanism completed."
                )
            token_out = self._inner_step(resp.response_token).token
        elif resp.mech_list_mic is None:
            raise InvalidToken("The initiator's NegTokenResp carries neither a token nor a MIC.")
        return self._server_leg(resp.mech_list_mic, token_out, None)

    def _server_leg(
        self, mic: bytes | None, token_out: bytes, selected: str | None
    ) -> Choice[State, Step]:
        """Answer one leg: verify the initiator's MIC, add ours, decide whether we are done."""
        inner = self._inner
        assert inner is not None
        if mic is not None:
            if not inner.complete:
                raise InvalidToken(
                    "The initiator sent a mechListMIC before the mechanism completed."
                )
            self._verify_mic(mic)
        if inner.complete and inner.requires_mech_list_mic and not self._mic_received:
            # MS-SPNG 3.1.5.1: NTLM with a MIC in AUTHENTICATE makes the mechListMIC mandatory,
            # and the initiator sends it with that message.
            raise InvalidToken(
                f"The initiator's final {self._mech} token came without the mechListMIC that "
                "must protect the mechanism list (MS-SPNG 3.1.5.1): it was stripped in transit."
            )
        needed = self._mic_required or self._mic_received or inner.requires_mech_list_mic
        mic_out = self._make_mic() if inner.complete and needed and not self._mic_sent else None
        if inner.complete and (not needed or self._mic_received):
            if selected is None and not token_out and mic_out is None:
                # The initiator's MIC was the last word: it completed on sending it (MIT).
                return Choice(Step(_OK), _COMPLETE)
            out = NegTokenResp(
                neg_state=_ACCEPT_COMPLETED, supported_mech=selected,
                response_token=token_out or None, mech_list_mic=mic_out,
            )
            return Choice(Step(_OK, out.build()), _COMPLETE)
        out = NegTokenResp(
            neg_state=_ACCEPT_INCOMPLETE, supported_mech=selected,
            response_token=token_out or None, mech_list_mic=mic_out,
        )
        return Choice(Step(_CONTINUE, out.build()), _EXPECT_NEG_RESP)

    def _server_raw(self, token: bytes) -> Choice[State, Step]:
        """A bare Kerberos or NTLM token: hand it to that package, as Windows' Negotiate does
        (Wine and many raw-NTLM HTTP clients send no SPNEGO framing)."""
        mech = raw_mechanism(token)
        if mech is None:
            raise InvalidToken("The token is neither SPNEGO nor a Kerberos or NTLM token.")
        if mech not in self._acceptable():
            raise NoCredentials(
                f"The client sent a raw {mech} token, but this acceptor has no {mech} "
                f"credentials ({self._cred.problems.get(mech, 'not acquired')})."
            )
        self._use(mech)
        return self._raw_step(token)

    def _raw_step(self, token: bytes) -> Choice[State, Step]:
        inner = self._inner
        assert inner is not None
        step = self._inner_step(token)
        return Choice(step, State.COMPLETE if inner.complete else State.EXPECT_RAW)

    # -- what the negotiated mechanism provides ---------------------------------------------

    @property
    def flags(self) -> int:
        return self._inner.flags if self._inner is not None else 0

    @property
    def expiry(self) -> datetime | None:
        return self._inner.expiry if self._inner is not None else None

    @property
    def client_name(self) -> str | None:
        return self._inner.client_name if self._inner is not None else None

    @property
    def server_name(self) -> str | None:
        return self._inner.server_name if self._inner is not None else self._target

    @property
    def session_key(self) -> bytes | None:
        return self._inner.session_key if self._inner is not None and self.complete else None

    @property
    def negotiated_info(self) -> PackageInfo:
        """The package that runs the context (Kerberos or NTLM), Negotiate until one is chosen."""
        return self._inner.info if self._inner is not None else self.info

    def sizes(self) -> Sizes:
        if self._inner is None:
            return Sizes(self.info.max_token, 0, 0, 0)
        return self._inner.sizes()

    def stream_sizes(self) -> StreamSizes:
        return self._ready().stream_sizes()

    def query_extra(self, attribute: int) -> object:
        if self._inner is None:
            return super().query_extra(attribute)
        return self._inner.query_extra(attribute)

    def apply_control_token(self, token: bytes) -> None:
        self._ready().apply_control_token(token)

    # -- message protection: the negotiated mechanism's own -------------------------------------

    @property
    def message_context(self) -> SecurityContext:
        return self._ready().message_context

    def protect(
        self, op: MessageOp, layout: Layout, parts: list[Part], qop: int, seq: int | None
    ) -> MessageResult:
        return self._ready().protect(op, layout, parts, qop, seq)

    def make_signature(self, parts: Sequence[MessagePart], qop: int, seq: int | None) -> bytes:
        return self._ready().make_signature(parts, qop, seq)

    def verify_signature(
        self, parts: Sequence[MessagePart], signature: bytes, seq: int | None
    ) -> int:
        return self._ready().verify_signature(parts, signature, seq)

    def encrypt(self, parts: Sequence[MessagePart], qop: int, seq: int | None) -> Sealed:
        return self._ready().encrypt(parts, qop, seq)

    def decrypt(self, token: bytes, parts: Sequence[MessagePart], seq: int | None) -> Unsealed:
        return self._ready().decrypt(token, parts, seq)

    def split_stream(self, stream: bytes) -> tuple[bytes, bytes]:
        return self._ready().split_stream(stream)

    def wrap(self, data: bytes, encrypt: bool = True) -> bytes:
        return self._ready().wrap(data, encrypt)

    def unwrap(self, message: bytes) -> bytes:
        return self._ready().unwrap(message)


Handler = Callable[..., object]

TRANSITIONS: dict[tuple[State, Input], tuple[Handler, State | tuple[State, ...]]] = {
    # initiator
    (State.CLIENT_INITIAL, Input.NO_TOKEN): (
        NegotiateContext._client_start,
        (State.CLIENT_AWAIT_KDC, State.EXPECT_RESP, State.COMPLETE)),
    (State.CLIENT_INITIAL, Input.NEG_INIT): (
        NegotiateContext._client_hinted,
        (State.CLIENT_AWAIT_KDC, State.EXPECT_RESP, State.COMPLETE)),
    (State.CLIENT_AWAIT_KDC, Input.KDC_REPLY): (
        NegotiateContext._client_kdc_reply,
        (State.CLIENT_AWAIT_KDC, State.EXPECT_RESP, State.COMPLETE)),
    (State.CLIENT_AWAIT_KDC, Input.KDC_FAILED): (
        NegotiateContext._client_kdc_failed, (State.CLIENT_AWAIT_KDC, State.EXPECT_RESP)),
    (State.EXPECT_RESP, Input.NEG_RESP): (
        NegotiateContext._client_resp,
        (State.CLIENT_AWAIT_KDC, State.EXPECT_RESP, State.COMPLETE)),
    (State.COMPLETE, Input.NEG_RESP): (NegotiateContext._client_confirm, State.COMPLETE),
    # acceptor
    (State.EXPECT_INIT, Input.NO_TOKEN): (NegotiateContext._server_hints, State.EXPECT_INIT),
    (State.EXPECT_INIT, Input.NEG_INIT): (
        NegotiateContext._server_init, (State.EXPECT_NEG_RESP, State.COMPLETE)),
    (State.EXPECT_INIT, Input.RAW_TOKEN): (
        NegotiateContext._server_raw, (State.EXPECT_RAW, State.COMPLETE)),
    (State.EXPECT_NEG_RESP, Input.NEG_RESP): (
        NegotiateContext._server_resp, (State.EXPECT_NEG_RESP, State.COMPLETE)),
    (State.EXPECT_RAW, Input.RAW_TOKEN): (
        NegotiateContext._raw_step, (State.EXPECT_RAW, State.COMPLETE)),
}
