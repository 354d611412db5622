"""The NTLM handshake as a state machine, and the NTLM security context (MS-NLMP 3.1, 3.2).

Rules for this file:

- The transitions are the one table ``TRANSITIONS``; only :class:`~opensspi.statemachine.Machine`
  assigns the state. A token that is not legal in the current state fails the context.
- Handlers build and check messages with ``messages``/``crypto`` and never do I/O; the clock and
  the random source come from the :class:`~opensspi.provider.Environment`.
- Every parse error is a ``DecodeError``, turned into ``SEC_E_INVALID_TOKEN`` once, in ``step``.
- MACs, NTProofStr and MIC are compared in constant time (``hmac.compare_digest``).
- Legacy NTLMv1/LM code is reached only through ``legacy`` when the credential's
  ``lm_compatibility_level`` asks for it.

Spec: https://learn.microsoft.com/openspecs/windows_protocols/ms-nlmp
"""

from __future__ import annotations

import hmac
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum, auto

from ...buffers import ChannelBindings
from ...constants import (
    SECQOP_WRAP_NO_ENCRYPT,
    AscReq,
    AscRet,
    IscReq,
    IscRet,
    SecStatus,
)
from ...crypto.rc4 import rc4k
from ...errors import (
    BadBindings,
    DecodeError,
    InvalidToken,
    LogonDenied,
    MessageAltered,
    OutOfSequence,
    TimeSkew,
    UnsupportedFunction,
)
from ...provider import (
    Environment,
    MessagePart,
    PackageInfo,
    Sealed,
    SecurityContext,
    Sizes,
    Step,
    StepInput,
    Unsealed,
)
from ...statemachine import Machine
from . import legacy
from .credentials import NtlmCredential, NtlmSettings
from .crypto import (
    channel_bindings_hash,
    compute_ntlmv2_response,
    kxkey,
    mic,
    ntowfv2,
    verify_ntlmv2_response,
)
from .messages import (
    AuthenticateMessage,
    AvFlags,
    AvId,
    ChallengeMessage,
    MessageType,
    NegotiateFlags,
    NegotiateMessage,
    TargetInfo,
    Version,
    client_blob,
    message_type,
    negotiate_flags,
    parse_negotiate,
)
from .security import SessionSecurity

F = NegotiateFlags
SIGNATURE_SIZE = 16
# Our VERSION: Windows Server 2022's numbers; MS-NLMP 2.2.2.10 says it is for debugging only.
VERSION = Version(10, 0, 20348)
_EPOCH_DIFF = 11644473600  # seconds between 1601-01-01 and 1970-01-01
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")

# NegotiateFlags as plain ints: IntFlag arithmetic builds an enum per operation, which showed
# up as a third of the handshake time.
_ANONYMOUS = int(F.NTLMSSP_ANONYMOUS)
_128 = int(F.NTLMSSP_NEGOTIATE_128)
_56 = int(F.NTLMSSP_NEGOTIATE_56)
_ALWAYS_SIGN = int(F.NTLMSSP_NEGOTIATE_ALWAYS_SIGN)
_EXTENDED_SESSIONSECURITY = int(F.NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY)
_IDENTIFY = int(F.NTLMSSP_NEGOTIATE_IDENTIFY)
_KEY_EXCH = int(F.NTLMSSP_NEGOTIATE_KEY_EXCH)
_LM_KEY = int(F.NTLMSSP_NEGOTIATE_LM_KEY)
_NTLM = int(F.NTLMSSP_NEGOTIATE_NTLM)
_SEAL = int(F.NTLMSSP_NEGOTIATE_SEAL)
_SIGN = int(F.NTLMSSP_NEGOTIATE_SIGN)
_TARGET_INFO = int(F.NTLMSSP_NEGOTIATE_TARGET_INFO)
_UNICODE = int(F.NTLMSSP_NEGOTIATE_UNICODE)
_VERSION = int(F.NTLMSSP_NEGOTIATE_VERSION)
_REQUEST_TARGET = int(F.NTLMSSP_REQUEST_TARGET)
_TARGET_TYPE_DOMAIN = int(F.NTLMSSP_TARGET_TYPE_DOMAIN)
_OEM = int(F.NTLM_NEGOTIATE_OEM)

# Request flags NTLM cannot honour: asking for them fails at once (SEC_E_UNSUPPORTED_FUNCTION)
# instead of silently returning a context without them.
_ISC_UNSUPPORTED = int(
    IscReq.DATAGRAM | IscReq.USE_DCE_STYLE | IscReq.USE_SESSION_KEY | IscReq.USE_HTTP_STYLE
    | IscReq.PROMPT_FOR_CREDS
)
_ASC_UNSUPPORTED = int(AscReq.DATAGRAM | AscReq.USE_DCE_STYLE | AscReq.USE_SESSION_KEY)
_MIC_PROVIDED = int(AvFlags.MIC_PROVIDED)
_ISC_NULL_SESSION = int(IscReq.NULL_SESSION)
_ASC_ALLOW_NULL_SESSION = int(AscReq.ALLOW_NULL_SESSION)
_ASC_ALLOW_MISSING_BINDINGS = int(AscReq.ALLOW_MISSING_BINDINGS)
_DECOY_NT_HASH = bytes(16)  # checked against for unknown users; no password hashes to it


def filetime(moment: datetime) -> int:
    """A datetime as a FILETIME: 100-nanosecond ticks since 1601-01-01 UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (int(moment.timestamp() * 10_000_000)) + _EPOCH_DIFF * 10_000_000


_WANTS_SIGN = int(IscReq.INTEGRITY | IscReq.REPLAY_DETECT | IscReq.SEQUENCE_DETECT
                  | IscReq.CONFIDENTIALITY)
_WANTS_SEAL = int(IscReq.CONFIDENTIALITY)
_WANTS_IDENTIFY = int(IscReq.IDENTIFY)


@dataclass(frozen=True, slots=True)
class _RetBits:
    """One side's ISC_RET_/ASC_RET_ values as ints (the two families differ)."""

    connection: int
    integrity: int
    confidentiality: int
    null_session: int
    identify: int


_CLIENT_RET = _RetBits(
    int(IscRet.CONNECTION),
    int(IscRet.INTEGRITY | IscRet.REPLAY_DETECT | IscRet.SEQUENCE_DETECT),
    int(IscRet.CONFIDENTIALITY), int(IscRet.NULL_SESSION), int(IscRet.IDENTIFY),
)
_SERVER_RET = _RetBits(
    int(AscRet.CONNECTION),
    int(AscRet.INTEGRITY | AscRet.REPLAY_DETECT | AscRet.SEQUENCE_DETECT),
    int(AscRet.CONFIDENTIALITY), int(AscRet.NULL_SESSION), int(AscRet.IDENTIFY),
)


class State(Enum):
    """What the context expects next."""

    CLIENT_INITIAL = auto()
    EXPECT_CHALLENGE = auto()
    EXPECT_NEGOTIATE = auto()
    EXPECT_AUTHENTICATE = auto()
    COMPLETE = auto()
    FAILED = auto()


class Input(Enum):
    """The token a step received."""

    NO_TOKEN = auto()
    NEGOTIATE = auto()
    CHALLENGE = auto()
    AUTHENTICATE = auto()


# Members used on every step, bound once: an Enum class attribute lookup goes through the
# metaclass and costs several times a global's.
_COMPLETE = State.COMPLETE
_NO_TOKEN = Input.NO_TOKEN
_AV_TIMESTAMP = int(AvId.MsvAvTimestamp)
_AV_FLAGS = int(AvId.MsvAvFlags)
_OK = SecStatus.SEC_E_OK
_CONTINUE = SecStatus.SEC_I_CONTINUE_NEEDED

_INPUT_OF = {
    MessageType.NtLmNegotiate: Input.NEGOTIATE,
    MessageType.NtLmChallenge: Input.CHALLENGE,
    MessageType.NtLmAuthenticate: Input.AUTHENTICATE,
}


_GRANTED_IF_ASKED = (
    _REQUEST_TARGET | _ALWAYS_SIGN | _EXTENDED_SESSIONSECURITY | _128 | _56 | _KEY_EXCH | _SIGN
    | _SEAL | _IDENTIFY
)
"""The NEGOTIATE flags an acceptor grants whenever the client asks for them."""

_NEGOTIATE_TOKENS: dict[int, bytes] = {}
"""The NEGOTIATE_MESSAGE this client sends, by its flags (at most 32 kept)."""


class NtlmContext(SecurityContext):
    """An NTLM context, client or server; one instance per authentication."""

    def __init__(
        self, info: PackageInfo, credential: NtlmCredential, is_client: bool,
        request: int, target: str | None, env: Environment,
    ) -> None:
        self.info = info
        self.is_client = is_client
        self._cred = credential
        self._settings: NtlmSettings = credential.settings
        self._request = request
        self._target = target
        self._env = env
        self._machine: Machine[State, Input, Step] = Machine(
            TRANSITIONS, State.CLIENT_INITIAL if is_client else State.EXPECT_NEGOTIATE,
            State.FAILED, "NTLM message",
        )
        self._negotiate_bytes = b""
        self._challenge_bytes = b""
        self._challenge: ChallengeMessage | None = None
        self._flags = 0
        self._ret_flags = 0
        self._ess = False
        self._anonymous = False
        self._client_name: str | None = None
        self._session_key: bytes | None = None
        self._security_: SessionSecurity | None = None
        self._send_seq = 0
        self._recv_seq = 0
        self._auth_had_mic = False

    # -- the handshake ----------------------------------------------------------------------

    def step(self, inp: StepInput) -> Step:
        if self._machine.state is _COMPLETE:
            # A stray token after the handshake (a replayed AUTHENTICATE, a retransmission) is
            # refused without touching the context: it stays complete and its session keys and
            # sequence numbers keep working (issue 12). A table entry cannot express this, as
            # the machine fails a context whose handler raises.
            raise InvalidToken(
                "The NTLM context is already complete; the extra token (a replayed or stray "
                "handshake message) was refused and the context remains usable."
            )
        bindings = inp.channel_bindings
        return self._machine.run(self._classify, inp.token, bindings)

    def _classify(
        self, token: bytes | None, bindings: ChannelBindings | None
    ) -> tuple[Input, tuple[object, ...]]:
        """The event a token is, with the handler's arguments (behind the machine's boundary)."""
        if not token:
            return _NO_TOKEN, (self, b"", bindings)
        if len(token) > self._settings.max_token:
            raise InvalidToken(
                f"The NTLM token is {len(token)} bytes, more than the "
                f"{self._settings.max_token}-byte limit; it is not an NTLM message."
            )
        try:
            event = _INPUT_OF[message_type(token)]
        except DecodeError as exc:
            raise InvalidToken(f"Not an NTLM message: {exc}") from None
        return event, (self, token, bindings)

    @property
    def complete(self) -> bool:
        return self._machine.state is _COMPLETE

    @property
    def state(self) -> State:
        return self._machine.state

    @property
    def negotiated_flags(self) -> NegotiateFlags:
        """The NTLM NegotiateFlags both sides agreed on (after the handshake)."""
        return negotiate_flags(self._flags)

    @property
    def flags(self) -> int:
        if not self.complete:
            return _CLIENT_RET.connection if self.is_client else _SERVER_RET.connection
        return self._ret_flags

    def _compute_ret_flags(self) -> int:
        """ISC_RET_*/ASC_RET_* from what was negotiated (never from what was requested)."""
        f = self._flags
        bits = _CLIENT_RET if self.is_client else _SERVER_RET
        ret = bits.connection
        if f & _SIGN:
            ret |= bits.integrity
        if f & _SEAL:
            ret |= bits.confidentiality
        if self._anonymous:
            ret |= bits.null_session
        if f & _IDENTIFY:
            ret |= bits.identify
        if self.is_client and self._cred.user:
            ret |= int(IscRet.USED_SUPPLIED_CREDS)
        return ret

    @property
    def client_name(self) -> str | None:
        return self._client_name

    @property
    def server_name(self) -> str | None:
        if self.is_client:
            return self._target
        return self._settings.nb_computer

    @property
    def session_key(self) -> bytes | None:
        return self._session_key

    def sizes(self) -> Sizes:
        return Sizes(self._settings.max_token, SIGNATURE_SIZE, 0, SIGNATURE_SIZE)

    # -- client handlers --------------------------------------------------------------------

    def _offered_flags(self) -> int:
        req = self._request
        flags = (
            _UNICODE | _OEM | _REQUEST_TARGET
            | _NTLM | _ALWAYS_SIGN
            | _EXTENDED_SESSIONSECURITY | _VERSION
            | _128 | _56 | _KEY_EXCH
        )
        if req & _WANTS_SIGN:
            flags |= _SIGN
        if req & _WANTS_SEAL:
            flags |= _SEAL
        if req & _WANTS_IDENTIFY:
            flags |= _IDENTIFY
        if self._settings.lm_compatibility_level < 2:
            flags |= _LM_KEY
        return flags

    def _client_negotiate(self, token: bytes, bindings: ChannelBindings | None) -> Step:
        flags = self._flags = self._offered_flags()
        message = _NEGOTIATE_TOKENS.get(flags)
        if message is None:
            # A pure function of the flags (this client names no domain or workstation in it):
            # every context of a process sends one of a few such messages.
            message = NegotiateMessage(negotiate_flags(flags), version=VERSION).build()
            if len(_NEGOTIATE_TOKENS) >= 32:
                _NEGOTIATE_TOKENS.clear()
            _NEGOTIATE_TOKENS[flags] = message
        self._negotiate_bytes = message
        return Step(_CONTINUE, message)

    def _client_authenticate(self, token: bytes, bindings: ChannelBindings | None) -> Step:
        challenge = ChallengeMessage.parse(token, max_size=self._settings.max_token)
        self._challenge_bytes = token
        offered = self._flags
        granted = int(challenge.negotiate_flags)
        if offered & _SEAL and not granted & _128:
            # MS-NLMP 3.1.5.1.2: "If ... ClientRequire128bitEncryption == TRUE, then if
            # NTLMSSP_NEGOTIATE_128 is not negotiated, the client MUST return
            # SEC_E_UNSUPPORTED_FUNCTION".
            raise UnsupportedFunction(
                "The server refused 128-bit session security (NTLMSSP_NEGOTIATE_128); opensspi "
                "requires it for sealing."
            )
        flags = (granted & offered) | _VERSION
        if not flags & (_UNICODE | _OEM):
            raise InvalidToken("The CHALLENGE selects neither Unicode nor OEM strings.")
        if flags & _UNICODE:
            flags &= ~_OEM
        anonymous = bool(self._request & _ISC_NULL_SESSION) or self._cred.anonymous
        level = self._settings.lm_compatibility_level
        if anonymous:
            flags |= _ANONYMOUS
            auth, exported = self._anonymous_response(flags)
        elif level >= 3:
            auth, exported = self._ntlmv2_response(flags, challenge, bindings)
        else:
            auth, exported = self._legacy_response(flags, challenge)
        if flags & (_SIGN | _SEAL) and not (
            flags & _EXTENDED_SESSIONSECURITY or level < 3
        ):
            raise UnsupportedFunction(
                "The server offered only NTLMv1 session security (no EXTENDED_SESSIONSECURITY); "
                "set lm_compatibility_level <= 2 to allow it."
            )
        self._flags = flags
        self._ess = bool(flags & _EXTENDED_SESSIONSECURITY)
        self._anonymous = anonymous
        self._ret_flags = self._compute_ret_flags()
        self._session_key = exported
        self._client_name = self._cred.principal_name
        self._forget_handshake()
        return Step(_OK, auth)

    def _anonymous_response(self, flags: int) -> tuple[bytes, bytes]:
        # MS-NLMP 3.3.1/3.3.2: anonymous -> NtChallengeResponse empty, LmChallengeResponse Z(1),
        # SessionBaseKey Z(16).
        exported = bytes(16)
        encrypted = b""
        if flags & _KEY_EXCH:
            exported = self._env.random(16)
            encrypted = rc4k(bytes(16), exported)
        message = AuthenticateMessage(
            negotiate_flags(flags), b"\0", b"", "", "", self._settings.workstation, encrypted,
            VERSION,
        ).build()
        return message, exported

    def _ntlmv2_response(
        self, flags: int, challenge: ChallengeMessage,
        bindings: ChannelBindings | None,
    ) -> tuple[bytes, bytes]:
        cred = self._cred
        server_pairs = challenge.target_info.pairs if challenge.target_info is not None else ()
        server_time: int | None = None
        av_flags = 0
        for av_id, value in server_pairs:  # the parsed list: each pair once, sizes checked
            if av_id == _AV_TIMESTAMP:
                server_time = _U64.unpack(value)[0]
            elif av_id == _AV_FLAGS:
                av_flags = _U32.unpack(value)[0]
        time = server_time if server_time is not None else filetime(self._env.now())
        # The client's AV pairs: the server's, with these set or added (built once, validated
        # once by TargetInfo).
        updates: dict[int, bytes] = {}
        if server_time is not None:
            # MS-NLMP 3.1.5.1.2: with MsvAvTimestamp in the CHALLENGE the client "MUST provide
            # a MIC" and sets the MIC bit in MsvAvFlags.
            av_flags |= _MIC_PROVIDED
        if av_flags:
            updates[AvId.MsvAvFlags] = _U32.pack(av_flags)
        if self._target:
            # MsvAvTargetName is the SPN the caller named, never a made-up default.
            updates[AvId.MsvAvTargetName] = self._target.encode("utf-16-le")
        if bindings is not None:
            updates[AvId.MsvAvChannelBindings] = channel_bindings_hash(
                    bindings.application_data,
                    initiator_addrtype=bindings.initiator_addrtype,
                    initiator_address=bindings.initiator_address,
                    acceptor_addrtype=bindings.acceptor_addrtype,
                    acceptor_address=bindings.acceptor_address,
                )
        pairs = [(k, updates.pop(k, v)) for k, v in server_pairs]
        target_name = updates.get(AvId.MsvAvTargetName)
        if target_name is not None and len(target_name) > 0xFFFF:
            info = TargetInfo((*pairs, *updates.items()))  # raises: the SPN does not fit
        else:
            # The server's pairs were checked when parsed; the ones set here have their fixed
            # sizes (MsvAvFlags 4, MsvAvChannelBindings 16) or are UTF-16 text that fits.
            info = TargetInfo.checked((*pairs, *updates.items()))
        key_nt = cred.response_key_nt()
        client_challenge = self._env.random(8)
        # MS-NLMP 3.1.5.1.2: "If NTLM v2 authentication is used and the CHALLENGE_MESSAGE
        # TargetInfo field has an MsvAvTimestamp present, the client SHOULD NOT send the
        # LmChallengeResponse and SHOULD send Z(24) instead" (so it is not computed).
        nt_response, lm_response, base_key = compute_ntlmv2_response(
            key_nt, key_nt, challenge.server_challenge, client_challenge, time, info.build(),
            lmv2=server_time is None,
        )
        key_exchange_key = kxkey(base_key)
        exported, encrypted = self._exchange_key(flags, key_exchange_key)
        auth = AuthenticateMessage(
            negotiate_flags(flags), lm_response, nt_response, cred.domain, cred.user,
            self._settings.workstation, encrypted, VERSION,
            bytes(16) if server_time is not None else None,
        )
        packed = auth.build()
        if server_time is not None:
            code = mic(exported, self._negotiate_bytes, self._challenge_bytes, packed)
            offset = auth.mic_offset
            assert offset is not None
            packed = packed[:offset] + code + packed[offset + 16:]
            self._auth_had_mic = True
        return packed, exported

    def _exchange_key(self, flags: int, key_exchange_key: bytes) -> tuple[bytes, bytes]:
        if flags & _KEY_EXCH:
            exported = self._env.random(16)
            return exported, rc4k(key_exchange_key, exported)
        return key_exchange_key, b""

    def _legacy_response(
        self, flags: int, challenge: ChallengeMessage
    ) -> tuple[bytes, bytes]:
        cred = self._cred
        result = legacy.ntlmv1_client_response(
            flags=flags,
            nt_hash=cred.nt_hash,
            password=cred.password,
            server_challenge=challenge.server_challenge,
            client_challenge=self._env.random(8),
            level=self._settings.lm_compatibility_level,
        )
        exported, encrypted = self._exchange_key(flags, result.key_exchange_key)
        message = AuthenticateMessage(
            negotiate_flags(flags), result.lm_response, result.nt_response, cred.domain,
            cred.user,
            self._settings.workstation, encrypted, VERSION,
        ).build()
        return message, exported

    # -- server handlers --------------------------------------------------------------------

    def _server_challenge(self, token: bytes, bindings: ChannelBindings | None) -> Step:
        negotiate = parse_negotiate(token, self._settings.max_token)
        asked = int(negotiate.negotiate_flags)
        flags = (
            _NTLM | _TARGET_INFO
            | _TARGET_TYPE_DOMAIN | _VERSION
        )
        flags |= _UNICODE if asked & _UNICODE \
            else _OEM
        flags |= asked & _GRANTED_IF_ASKED
        settings = self._settings
        info = TargetInfo.from_names(
            nb_domain_name=settings.nb_domain,
            nb_computer_name=settings.nb_computer,
            dns_domain_name=settings.dns_domain,
            dns_computer_name=settings.dns_computer,
            timestamp=filetime(self._env.now()),
        )
        challenge = ChallengeMessage(
            negotiate_flags(flags), self._env.random(8), settings.nb_domain, info, VERSION
        )
        packed = challenge.build()
        self._negotiate_bytes = token
        self._challenge_bytes = packed
        self._challenge = challenge
        self._flags = flags
        return Step(_CONTINUE, packed)

    def _server_verify(self, token: bytes, bindings: ChannelBindings | None) -> Step:
        auth = AuthenticateMessage.parse(token, max_size=self._settings.max_token)
        challenge = self._challenge
        assert challenge is not None
        flags = int(auth.negotiate_flags) & (self._flags | _ANONYMOUS)
        request = self._request
        nt = auth.nt_challenge_response
        if not auth.user_name and not nt and auth.lm_challenge_response in (b"", b"\0"):
            if not request & _ASC_ALLOW_NULL_SESSION:
                raise LogonDenied(
                    "The client logged on anonymously, which this server does not allow; "
                    "request ASC_REQ_ALLOW_NULL_SESSION to accept anonymous clients."
                )
            self._anonymous = True
            exported = bytes(16)
            if flags & _KEY_EXCH and auth.encrypted_random_session_key:
                exported = rc4k(bytes(16), self._key16(auth))
            self._finish(flags, exported, "")
            return Step(_OK)
        users = self._cred.users
        assert users is not None
        entry = users.lookup(auth.domain_name, auth.user_name)
        if entry is None:
            # Do the work a wrong password costs, so the answer's timing does not tell an
            # unknown user from a known one (issue 12); the status is the same either way.
            # The decoy never verifies, so this raises the very LogonDenied a wrong password
            # gets (same words, same path).
            if len(nt) > 24:
                self._check_ntlmv2(auth, _DECOY_NT_HASH, challenge, bindings, request)
            raise LogonDenied(
                f"Logon failure for {auth.domain_name}\\{auth.user_name}: unknown user name "
                "or bad password."
            )
        if len(nt) > 24:
            base_key = self._check_ntlmv2(auth, entry.nt_hash, challenge, bindings, request)
        else:
            if self._settings.lm_compatibility_level > 2:
                raise LogonDenied(
                    f"{auth.domain_name}\\{auth.user_name} sent an NTLMv1/LM response, which this "
                    "server refuses; configure the client for NTLMv2 (or lower the acceptor's "
                    "lm_compatibility_level to 2 to allow NTLMv1)."
                )
            base_key = legacy.ntlmv1_server_check(
                flags=flags, nt_hash=entry.nt_hash, password=entry.password,
                server_challenge=challenge.server_challenge,
                lm_response=auth.lm_challenge_response, nt_response=nt,
            )
        if flags & _SEAL and not flags & _128 and self._settings.lm_compatibility_level >= 3:
            # MS-NLMP 3.2.5.1.2 (ServerRequire128bitEncryption): refuse 40/56-bit sealing keys.
            raise UnsupportedFunction(
                "The client negotiated sealing without NTLMSSP_NEGOTIATE_128; this server "
                "requires 128-bit session keys."
            )
        exported = base_key
        if flags & _KEY_EXCH:
            exported = rc4k(base_key, self._key16(auth))
        if auth.mic is not None:
            expected = mic(exported, self._negotiate_bytes, self._challenge_bytes,
                           auth.zeroed_mic())
            if not hmac.compare_digest(expected, auth.mic):
                raise MessageAltered(
                    "The AUTHENTICATE message's MIC does not match: the handshake messages "
                    "were altered in transit."
                )
            self._auth_had_mic = True
        self._finish(flags, exported, f"{auth.domain_name}\\{auth.user_name}")
        return Step(_OK)

    @staticmethod
    def _key16(auth: AuthenticateMessage) -> bytes:
        key = auth.encrypted_random_session_key
        if len(key) != 16:
            raise InvalidToken(
                f"EncryptedRandomSessionKey is {len(key)} bytes; KEY_EXCH requires 16."
            )
        return key

    def _check_ntlmv2(
        self, auth: AuthenticateMessage, nt_hash: bytes, challenge: ChallengeMessage,
        bindings: ChannelBindings | None, request: int,
    ) -> bytes:
        nt = auth.nt_challenge_response
        key_nt = ntowfv2(nt_hash, auth.user_name, auth.domain_name)
        try:
            base_key = verify_ntlmv2_response(key_nt, challenge.server_challenge, nt)
        except LogonDenied:
            # The same words as for an unknown user: the message must not tell them apart.
            raise LogonDenied(
                f"Logon failure for {auth.domain_name}\\{auth.user_name}: unknown user name "
                "or bad password."
            ) from None
        blob = client_blob(nt)
        now = filetime(self._env.now())
        skew = int(self._settings.max_clock_skew.total_seconds() * 10_000_000)
        if abs(now - blob.timestamp) > skew:
            raise TimeSkew(
                f"The NTLMv2 response of {auth.domain_name}\\{auth.user_name} is timestamped "
                f"more than {self._settings.max_clock_skew} from this server's clock."
            )
        if bindings is not None:
            expected = channel_bindings_hash(
                bindings.application_data,
                initiator_addrtype=bindings.initiator_addrtype,
                initiator_address=bindings.initiator_address,
                acceptor_addrtype=bindings.acceptor_addrtype,
                acceptor_address=bindings.acceptor_address,
            )
            sent = blob.av_pairs.channel_bindings
            if sent is None or sent == bytes(16):
                if not request & _ASC_ALLOW_MISSING_BINDINGS:
                    raise BadBindings(
                        "The client sent no channel bindings but this server requires them; "
                        "the client may not support Extended Protection."
                    )
            elif not hmac.compare_digest(sent, expected):
                raise BadBindings(
                    "The client's channel bindings do not match this channel: the connection "
                    "may be relayed through another TLS endpoint."
                )
        # LMv2 is not checked for NTLMv2 clients: it is Z(24) whenever a MIC is sent.
        return base_key

    def _finish(self, flags: int, exported: bytes, client: str) -> None:
        self._flags = flags
        self._ess = bool(flags & _EXTENDED_SESSIONSECURITY)
        self._ret_flags = self._compute_ret_flags()
        self._session_key = exported
        self._client_name = client
        self._forget_handshake()

    def _forget_handshake(self) -> None:
        """Drop the handshake messages once the MIC no longer needs them: an established
        context (a server may hold thousands) keeps only its keys and sequence numbers."""
        self._negotiate_bytes = self._challenge_bytes = b""
        self._challenge = None

    # -- message protection -----------------------------------------------------------------

    def _sec(self, need_seal: bool) -> SessionSecurity:
        security = self._security_
        if security is None:
            # Built on first use: contexts that only authenticate (HTTP) never pay for the keys.
            if not self.complete or self._session_key is None:
                raise UnsupportedFunction("The NTLM handshake has not completed.")
            security = self._security_ = SessionSecurity(
                self._flags, self._session_key, self.is_client,
                allow_legacy=self._settings.lm_compatibility_level < 3,
            )
        if not self._flags & (_SEAL if need_seal else _SIGN | _SEAL):
            what = "confidentiality (sealing)" if need_seal else "integrity (signing)"
            raise UnsupportedFunction(
                f"This NTLM context did not negotiate {what}; request "
                f"{'ISC_REQ_CONFIDENTIALITY' if need_seal else 'ISC_REQ_INTEGRITY'} when "
                "creating it."
            )
        return security

    def _check_seq(self, signature: bytes) -> None:
        if len(signature) != SIGNATURE_SIZE:
            raise InvalidToken(
                f"An NTLM signature is {SIGNATURE_SIZE} bytes; got {len(signature)}."
            )
        if self._ess:
            # The SeqNum field is in clear with ESS: a replayed or reordered message is told
            # apart from a forged one before any RC4 state is consumed.
            (seq,) = _U32.unpack_from(signature, 12)
            if seq != self._recv_seq:
                raise OutOfSequence(
                    f"Message sequence number {seq} arrived where {self._recv_seq} was expected: "
                    "the message was replayed, lost or reordered."
                )

    def make_signature(self, parts: Sequence[MessagePart], qop: int, seq: int | None) -> bytes:
        sec = self._sec(False)
        signature = sec.sign(self._send_seq, b"".join(p.data for p in parts if p.signed))
        self._send_seq += 1
        return signature

    def verify_signature(
        self, parts: Sequence[MessagePart], signature: bytes, seq: int | None
    ) -> int:
        sec = self._sec(False)
        self._check_seq(signature)
        try:
            sec.verify(self._recv_seq, b"".join(p.data for p in parts if p.signed), signature)
        finally:
            self._recv_seq += 1
        return 0

    def encrypt(self, parts: Sequence[MessagePart], qop: int, seq: int | None) -> Sealed:
        """EncryptMessage. Deviation from the letter of the SSPI docs, as Windows' NTLM does:
        ``SECQOP_WRAP_NO_ENCRYPT`` is ignored when sealing was negotiated (the message is sealed;
        pywin32's sspi demo notes "NTLM always encrypts", gss-ntlmssp issue 77 saw the same from
        Exchange), and gives a signed-only message on an integrity-only context."""
        qop &= 0xFFFFFFFF
        if qop not in (0, SECQOP_WRAP_NO_ENCRYPT):
            raise UnsupportedFunction(f"NTLM supports no quality of protection {qop:#x}.")
        if qop and not self._flags & _SEAL:
            return Sealed(self.make_signature(parts, qop, seq), tuple(p.data for p in parts))
        sec = self._sec(True)
        if len(parts) == 1 and parts[0].sealed:  # one DATA buffer: the wrap fast path
            sealed, signature = sec.seal(self._send_seq, parts[0].data)
            self._send_seq += 1
            return Sealed(signature, (sealed,))
        outputs, signature = sec.seal_parts(
            self._send_seq, [(p.data, p.sealed) for p in parts]
        )
        self._send_seq += 1
        return Sealed(signature, tuple(outputs))

    def decrypt(self, token: bytes, parts: Sequence[MessagePart], seq: int | None) -> Unsealed:
        """DecryptMessage; on an integrity-only context it verifies the signature and reports
        ``SECQOP_WRAP_NO_ENCRYPT``, as Windows does."""
        if not self._flags & _SEAL:
            self.verify_signature(parts, token, seq)
            return Unsealed(tuple(p.data for p in parts), SECQOP_WRAP_NO_ENCRYPT)
        sec = self._sec(True)
        self._check_seq(token)
        try:
            if len(parts) == 1 and parts[0].sealed:  # one DATA buffer: the unwrap fast path
                return Unsealed((sec.unseal(self._recv_seq, parts[0].data, token),))
            outputs = sec.unseal_parts(self._recv_seq, [(p.data, p.sealed) for p in parts], token)
        finally:
            self._recv_seq += 1
        return Unsealed(tuple(outputs))

    def seal_one(self, data: bytes, qop: int) -> tuple[bytes, bytes, bytes]:
        if qop or not self._flags & _SEAL:
            return super().seal_one(data, qop)
        sealed, signature = self._sec(True).seal(self._send_seq, data)
        self._send_seq += 1
        return signature, sealed, b""

    def unseal_one(self, token: bytes, data: bytes) -> tuple[bytes, int]:
        if not self._flags & _SEAL:
            return super().unseal_one(token, data)
        sec = self._sec(True)
        self._check_seq(token)
        try:
            return sec.unseal(self._recv_seq, data, token), 0
        finally:
            self._recv_seq += 1

    # -- SPNEGO's mechListMIC (MS-SPNG 3.1.5.1) -----------------------------------------

    @property
    def requires_mech_list_mic(self) -> bool:
        """MS-SPNG 3.1.5.1: the mechListMIC is mandatory when the AUTHENTICATE_MESSAGE carried
        a MIC (sent by this client, or received by this server)."""
        return self._auth_had_mic

    def mech_list_mic(self, mech_types: bytes) -> bytes:
        """The mechListMIC: an NTLM signature over the DER mechTypes with the next outgoing
        sequence number, after which the outgoing RC4 stream is re-keyed (MS-SPNG 3.1.5.1).

        This is what pyspnego (``sign`` then ``_reset_ntlm_crypto_state``) and MIT's SPNEGO
        over gss-ntlmssp (``gss_get_mic`` then the NTLMSSP reset-crypto option) do: the
        sequence number stays consumed, only the RC4 key stream starts over, so the first
        application message is sealed with a fresh RC4 state and sequence number 1.
        """
        # make_signature for one signed part, without building the part list.
        sec = self._sec(False)
        signature = sec.sign(self._send_seq, mech_types)
        self._send_seq += 1
        sec.reset_rc4(outgoing=True)
        return signature

    def verify_mech_list_mic(self, mech_types: bytes, mic: bytes) -> None:
        """Verify the peer's mechListMIC (consuming its sequence number), then re-key the
        incoming RC4 stream, the mirror of :meth:`mech_list_mic`. Raises ``MessageAltered``."""
        # verify_signature for one signed part, without building the part list.
        sec = self._sec(False)
        try:
            self._check_seq(mic)
        except OutOfSequence as exc:
            # The MIC's sequence number is fixed by the handshake: a wrong one is a forgery.
            raise MessageAltered(f"The SPNEGO mechListMIC does not verify: {exc.message}") from None
        try:
            sec.verify(self._recv_seq, mech_types, mic)
        finally:
            self._recv_seq += 1
        sec.reset_rc4(outgoing=False)

    def split_stream(self, stream: bytes) -> tuple[bytes, bytes]:
        if len(stream) < SIGNATURE_SIZE:
            raise InvalidToken(
                f"The message holds {len(stream)} bytes, less than the {SIGNATURE_SIZE}-byte "
                "NTLM signature that must start it; pass the signature in a SECBUFFER_TOKEN "
                "buffer, or the whole message in a SECBUFFER_STREAM."
            )
        return stream[:SIGNATURE_SIZE], stream[SIGNATURE_SIZE:]

    def wrap(self, data: bytes, encrypt: bool = True) -> bytes:
        if not self._flags & _SEAL:
            if encrypt:
                self._sec(True)  # raises: confidentiality was not negotiated
            return self.make_signature((MessagePart(data, sealed=False),), 0, None) + data
        sec = self._sec(True)
        sealed, signature = sec.seal(self._send_seq, data)
        self._send_seq += 1
        return signature + sealed

    def unwrap(self, message: bytes) -> bytes:
        if not self._flags & _SEAL:
            signature, data = self.split_stream(message)
            self.verify_signature((MessagePart(data, sealed=False),), signature, None)
            return data
        sec = self._sec(True)
        signature = message[:SIGNATURE_SIZE]
        self._check_seq(signature)
        try:
            # A memoryview: RC4 and MD5 read the sealed bytes in place, without a 1 MiB copy.
            sealed = memoryview(message)[SIGNATURE_SIZE:]
            return sec.unseal(self._recv_seq, sealed, signature)
        finally:
            self._recv_seq += 1


Handler = Callable[[NtlmContext, bytes, "ChannelBindings | None"], Step]

TRANSITIONS: dict[tuple[State, Input], tuple[Handler, State]] = {
    (State.CLIENT_INITIAL, Input.NO_TOKEN): (NtlmContext._client_negotiate, State.EXPECT_CHALLENGE),
    (State.EXPECT_CHALLENGE, Input.CHALLENGE): (NtlmContext._client_authenticate, State.COMPLETE),
    (State.EXPECT_NEGOTIATE, Input.NEGOTIATE): (
        NtlmContext._server_challenge, State.EXPECT_AUTHENTICATE),
    (State.EXPECT_AUTHENTICATE, Input.AUTHENTICATE): (NtlmContext._server_verify, State.COMPLETE),
}


def check_request(is_client: bool, request: int) -> None:
    """Refuse request flags NTLM cannot honour (SEC_E_UNSUPPORTED_FUNCTION)."""
    bad = request & (_ISC_UNSUPPORTED if is_client else _ASC_UNSUPPORTED)
    if bad:
        names = IscReq(bad) if is_client else AscReq(bad)
        raise UnsupportedFunction(
            f"NTLM cannot provide {names!r}; remove it from fContextReq or use another package "
            "(Kerberos for USE_SESSION_KEY/DCE style)."
        )
