"""The interface every security package implements, and the values that cross it.

A package is a sans-I/O state machine (DESIGN.md): :meth:`SecurityContext.step` takes the
peer's token plus the other input buffers and returns a frozen :class:`Step` — a status, the
token to send, and how many input bytes were not consumed. It never opens a socket, reads the
clock or draws random bytes itself: ``now`` and ``random`` come from :class:`Environment`.

The sspi layer (``opensspi.sspi``) maps Windows buffers to these calls; the Pythonic API
(``opensspi.client``/``server``) calls them directly. Negotiate uses other packages only
through this interface.
"""

from __future__ import annotations

import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import NamedTuple

from .buffers import ChannelBindings, SecBuffer
from .constants import (
    AscReq,
    AscRet,
    CredentialUse,
    IscReq,
    IscRet,
    NegotiationState,
    SecPkgFlag,
    SecStatus,
)
from .errors import UnsupportedFunction
from .message import (
    Layout,
    MessageOp,
    MessagePart,
    MessageResult,
    Part,
    Sealed,
    Sizes,
    StreamSizes,
    Unsealed,
    gss_protect,
)
from .transport import KdcAddress


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True, slots=True)
class Environment:
    """The outside world a package may consult: the clock and the random source.

    Tests replace these to make every token deterministic.
    """

    now: Callable[[], datetime] = _utcnow
    random: Callable[[int], bytes] = os.urandom

    def epoch(self) -> int:
        """Whole seconds since the Unix epoch by this environment's clock (the default clock
        answers from ``time.time()`` without building a datetime)."""
        if self.now is _utcnow:
            return int(time.time())
        return int(self.now().timestamp())


DEFAULT_ENVIRONMENT = Environment()


@dataclass(frozen=True, slots=True)
class PackageInfo:
    """``SecPkgInfo``: what QuerySecurityPackageInfo reports for a package."""

    name: str
    comment: str
    capabilities: SecPkgFlag
    version: int
    rpcid: int
    max_token: int


@dataclass(frozen=True, slots=True)
class AuthIdentity:
    """``SEC_WINNT_AUTH_IDENTITY``: explicit credentials. Secrets are hidden from ``repr``."""

    user: str | None = None
    domain: str | None = None
    password: str | None = field(default=None, repr=False)
    nt_hash: bytes | None = field(default=None, repr=False)
    #: ``SEC_WINNT_AUTH_IDENTITY_EX.PackageList``: which packages Negotiate may use, comma
    #: separated (``"kerberos"``, ``"ntlm"``, ``"!ntlm"`` to forbid NTLM fallback). The other
    #: packages ignore it, as Windows does.
    package_list: str | None = None

    def __post_init__(self) -> None:
        if self.nt_hash is not None and len(self.nt_hash) != 16:
            raise ValueError("An NT hash is 16 bytes (32 hex digits).")

    @classmethod
    def parse_user(cls, user: str, password: str | None = None, **kw: object) -> AuthIdentity:
        """Split ``DOMAIN\\user`` or ``user@domain`` into user and domain."""
        domain: str | None = None
        if "\\" in user:
            domain, user = user.split("\\", 1)
        elif "@" in user:
            user, domain = user.rsplit("@", 1)
        nt_hash = kw.get("nt_hash")
        packages = kw.get("package_list")
        return cls(user, domain, password, nt_hash if isinstance(nt_hash, bytes) else None,
                   packages if isinstance(packages, str) else None)


@dataclass(frozen=True, slots=True)
class Impersonation:
    """The client a thread impersonates, handed to a package as ``pAuthData``.

    The sspi layer keeps impersonation state (``opensspi.impersonation``); when a thread that
    impersonates acquires OUTBOUND credentials with no principal and no ``pAuthData``, the
    package receives this value instead of None and decides what acting as that client means:
    Kerberos uses ``delegated`` (the client's forwarded TGT), NTLM looks the client up in
    ``NTLM_USER_FILE``. A package never reads the thread state itself.

    Attributes:
        client_name: the authenticated client as the accepting context reported it
            (``DOMAIN\\user`` or ``user@REALM``).
        package: the name of the package that authenticated the client.
        delegated: the credential the client delegated, when it did (Kerberos ``ok-as-delegate``
            forwarding); None otherwise.
    """

    client_name: str
    package: str
    delegated: Credential | None = None


class StepInput(NamedTuple):
    """Everything a handshake leg may read: the peer's token and the auxiliary buffers."""

    token: bytes | None = None
    channel_bindings: ChannelBindings | None = None
    params: tuple[bytes, ...] = ()
    kdc_reply: bytes | None = None
    #: Any other typed input buffers, as ``(SECBUFFER type, bytes)`` pairs in order (TLS reads
    #: SECBUFFER_APPLICATION_PROTOCOLS here); packages ignore the types they do not know.
    buffers: tuple[tuple[int, bytes], ...] = ()
    #: This call's ``fContextReq`` when the sspi layer steps the context (None otherwise);
    #: Schannel honours a later call's ISC_REQ_USE_SUPPLIED_CREDS, as Windows does.
    request: int | None = None


@dataclass(frozen=True, slots=True)
class KdcRequest:
    """A request the caller must deliver before stepping again (sans-I/O, DESIGN.md).

    The package resolves where it goes (krb5.conf, DNS SRV) and with which limits; the sspi
    layer sends it with :func:`opensspi.transport.send_to_kdc` (or the asyncio variant) and
    steps again with the reply in ``StepInput.kdc_reply``.
    """

    realm: str
    data: bytes
    kdcs: tuple[KdcAddress, ...] = ()
    timeout: float = 3.0
    max_retries: int = 3
    udp_preference_limit: int = 1465


class Step(NamedTuple):
    """The result of one handshake leg.

    Attributes:
        status: ``SEC_E_OK``, ``SEC_I_CONTINUE_NEEDED``, ``SEC_I_COMPLETE_NEEDED``,
            ``SEC_I_COMPLETE_AND_CONTINUE``, ``SEC_I_INCOMPLETE_CREDENTIALS`` or
            ``SEC_E_INCOMPLETE_MESSAGE`` — the one status below zero that is returned, not raised
            (the caller reads ``missing`` more bytes and calls again with all of them). Other
            failures raise.
        token: the bytes to send to the peer (may be empty).
        extra: the trailing input bytes this leg did not consume (``SECBUFFER_EXTRA``): the
            caller passes them first in its next call (or to DecryptMessage).
        missing: how many more input bytes are needed (``SECBUFFER_MISSING``).
        kdc_request: when set, the caller must deliver this request and step again with the reply.
        outputs: further output buffers beside the token, as ``(SECBUFFER type, bytes)`` pairs
            (a TLS ALERT).
    """

    status: SecStatus
    token: bytes = b""
    extra: bytes = b""
    missing: int = 0
    kdc_request: KdcRequest | None = None
    outputs: tuple[tuple[int, bytes], ...] = ()


class Credential(ABC):
    """A package's credentials (the object behind a ``CredHandle``)."""

    use: CredentialUse

    @property
    @abstractmethod
    def principal_name(self) -> str:
        """The name QueryCredentialsAttributes(SECPKG_CRED_ATTR_NAMES) reports."""

    @property
    def expiry(self) -> datetime | None:
        """When the credentials stop working; None means they do not expire."""
        return None


class SecurityContext(ABC):
    """One side of one authentication: the object behind a ``CtxtHandle``.

    Message protection: the sspi layer hands :meth:`protect` the message as typed parts in one
    of the :attr:`layouts` the package declares. The default ``protect`` serves the GSS layouts
    from the four primitives :meth:`make_signature`, :meth:`verify_signature`, :meth:`encrypt`
    and :meth:`decrypt`; packages with other shapes override it.
    """

    info: PackageInfo
    is_client: bool
    #: The message layouts the package accepts (see :class:`opensspi.message.Layout`).
    layouts: frozenset[Layout] = frozenset((Layout.TOKEN_DATA, Layout.STREAM_DATA))
    #: What an InitializeSecurityContext call on a *complete* context without an input token
    #: means. False (the GSS packages): start a re-authentication with a new context. True (a
    #: stream package such as Schannel): the same context goes on — to answer a renegotiation
    #: or post-handshake message, or to produce the close_notify after ApplyControlToken.
    continues_after_complete: bool = False
    #: An optional fast path for a stream package's four-buffer messages (Schannel's
    #: [STREAM_HEADER, DATA, STREAM_TRAILER, EMPTY] and [DATA, EMPTY, EMPTY, EMPTY]): called
    #: with the operation and the caller's buffers, it does the whole call in place and returns
    #: the result, or returns None, having changed nothing, for the general path to take over.
    stream_message: Callable[[MessageOp, list[SecBuffer]], MessageResult | None] | None = None

    @abstractmethod
    def step(self, inp: StepInput) -> Step:
        """Consume the peer's token (None on a client's first call) and produce the next leg."""

    @property
    @abstractmethod
    def complete(self) -> bool:
        """True once the handshake finished and the message functions may be used."""

    @property
    @abstractmethod
    def flags(self) -> int:
        """``ISC_RET_*`` for a client or ``ASC_RET_*`` for a server: what the context provides."""

    @property
    def expiry(self) -> datetime | None:
        """When the context stops working (``ptsExpiry``); None means never."""
        return None

    @property
    def client_name(self) -> str | None:
        """The authenticated client (``SECPKG_ATTR_NAMES``)."""
        return None

    @property
    def server_name(self) -> str | None:
        """The server's name (second half of ``SECPKG_ATTR_NATIVE_NAMES``)."""
        return None

    @property
    def session_key(self) -> bytes | None:
        """The session key (``SECPKG_ATTR_SESSION_KEY``), once complete."""
        return None

    @property
    def delegated_credential(self) -> Credential | None:
        """An acceptor's credential forwarded by the client (Kerberos delegation), if any."""
        return None

    @property
    def negotiation_state(self) -> NegotiationState:
        return NegotiationState.COMPLETE if self.complete else NegotiationState.IN_PROGRESS

    def sizes(self) -> Sizes:
        """``SECPKG_ATTR_SIZES`` for this context."""
        return Sizes(self.info.max_token, 0, 0, 0)

    def stream_sizes(self) -> StreamSizes:
        """``SECPKG_ATTR_STREAM_SIZES``: only stream packages (Schannel) have them."""
        raise UnsupportedFunction(
            f"The {self.info.name} package is not a stream package; it has no "
            "SECPKG_ATTR_STREAM_SIZES (use SECPKG_ATTR_SIZES)."
        )

    @property
    def negotiated_info(self) -> PackageInfo:
        """The package that really runs this context, for SECPKG_ATTR_PACKAGE_INFO and
        SECPKG_ATTR_NEGOTIATION_INFO: the context's own, except for Negotiate."""
        return self.info

    def query_extra(self, attribute: int) -> object:
        """A package-specific attribute; the sspi layer answers the common ones itself."""
        raise UnsupportedFunction(
            f"The {self.info.name} package does not provide context attribute {attribute}."
        )

    def set_attribute(self, attribute: int, value: object) -> None:
        """SetContextAttributes: a package-specific attribute the caller provides."""
        raise UnsupportedFunction(
            f"The {self.info.name} package takes no context attribute {attribute}."
        )

    def complete_auth_token(self, params: Sequence[bytes]) -> None:
        """CompleteAuthToken; only packages that return ``SEC_I_COMPLETE_NEEDED`` need it."""
        raise UnsupportedFunction(f"The {self.info.name} package has no CompleteAuthToken step.")

    def credential_changed(self, credential: Credential) -> None:
        """A later Initialize/AcceptSecurityContext call passed a different credential handle.

        Windows ignores it for most packages (so does this default); Schannel takes it after
        ``SEC_I_INCOMPLETE_CREDENTIALS``, when the caller comes back with a client certificate.
        """
        del credential

    def apply_control_token(self, token: bytes) -> None:
        raise UnsupportedFunction(f"The {self.info.name} package accepts no control tokens.")

    def kdc_failed(self, error: Exception) -> Step:
        """The caller could not deliver the last :class:`KdcRequest` (no KDC answered).

        By default the handshake fails with that error. Negotiate overrides it: a Kerberos
        ticket it could not get is a reason to offer NTLM instead (MS-SPNG, B.7 of the notes).
        """
        raise error

    # -- Negotiate's hooks (MS-SPNG) -----------------------------------------------------------

    def mech_list_mic(self, mech_types: bytes) -> bytes:
        """The mechListMIC over the DER ``mechTypes`` as sent (RFC 4178 §5, MS-SPNG 3.1.5.1).

        Each package follows the peers' rules for what this does to its message state (NTLM:
        MS-SPNG's RC4 reset), so that Negotiate's later messages stay in step.
        """
        raise UnsupportedFunction(f"The {self.info.name} package cannot compute a mechListMIC.")

    def verify_mech_list_mic(self, mech_types: bytes, mic: bytes) -> None:
        """Check the peer's mechListMIC; raise ``MessageAltered`` when it does not verify."""
        raise UnsupportedFunction(f"The {self.info.name} package cannot verify a mechListMIC.")

    @property
    def requires_mech_list_mic(self) -> bool:
        """Whether the mechanism itself makes the SPNEGO mechListMIC mandatory.

        MS-SPNG 3.1.5.1: NTLM does when its AUTHENTICATE_MESSAGE carried a MIC (the handshake
        messages are then protected, and SPNEGO's mechanism list must be too).
        """
        return False

    # -- message protection ------------------------------------------------------------------

    def protect(
        self, op: MessageOp, layout: Layout, parts: list[Part], qop: int, seq: int | None
    ) -> MessageResult:
        """One message call on ``parts`` (already checked to form one of :attr:`layouts`)."""
        return gss_protect(self, op, layout, parts, qop, seq)

    def make_signature(self, parts: Sequence[MessagePart], qop: int, seq: int | None) -> bytes:
        raise UnsupportedFunction(f"The {self.info.name} package cannot sign messages.")

    def verify_signature(
        self, parts: Sequence[MessagePart], signature: bytes, seq: int | None
    ) -> int:
        """Check a signature and return the QOP; raise ``MessageAltered``/``OutOfSequence``."""
        raise UnsupportedFunction(f"The {self.info.name} package cannot verify signatures.")

    def encrypt(self, parts: Sequence[MessagePart], qop: int, seq: int | None) -> Sealed:
        raise UnsupportedFunction(f"The {self.info.name} package cannot encrypt messages.")

    def decrypt(
        self, token: bytes, parts: Sequence[MessagePart], seq: int | None
    ) -> Unsealed:
        raise UnsupportedFunction(f"The {self.info.name} package cannot decrypt messages.")

    def split_stream(self, stream: bytes) -> tuple[bytes, bytes]:
        """Split a ``SECBUFFER_STREAM`` (token then data) into its token and data."""
        raise UnsupportedFunction(
            f"The {self.info.name} package does not support SECBUFFER_STREAM messages."
        )

    # -- one DATA buffer: the fast path of EncryptMessage/DecryptMessage ---------------------

    def seal_one(self, data: bytes, qop: int) -> tuple[bytes, bytes, bytes]:
        """EncryptMessage of exactly one DATA buffer (TOKEN + DATA): ``(token, sealed data,
        padding)``, what :meth:`encrypt` gives. Packages may make it faster; a plain tuple,
        because the Windows functions call it for every message."""
        sealed = self.encrypt((MessagePart(data),), qop, None)
        return sealed.token, sealed.parts[0], sealed.padding

    def unseal_one(self, token: bytes, data: bytes) -> tuple[bytes, int]:
        """DecryptMessage of exactly one DATA buffer: ``(plaintext, QOP)``, what
        :meth:`decrypt` gives."""
        opened = self.decrypt(token, (MessagePart(data),), None)
        return opened.parts[0], opened.qop

    @property
    def message_context(self) -> SecurityContext:
        """The context whose message functions this one's are, asked once the handshake is
        complete: itself, or the one it hands every message to (Negotiate: the negotiated
        mechanism's). The Windows functions' fast path calls that one directly."""
        return self

    # -- the Pythonic fast path --------------------------------------------------------------

    def wrap(self, data: bytes, encrypt: bool = True) -> bytes:
        """Seal (or only sign) ``data`` and return token‖data, the STREAM layout."""
        if encrypt:
            sealed = self.encrypt((MessagePart(data),), 0, None)
            return sealed.token + sealed.parts[0] + sealed.padding
        return self.make_signature((MessagePart(data, sealed=False),), 0, None) + data

    def unwrap(self, message: bytes) -> bytes:
        """Reverse :meth:`wrap` on a message from the peer."""
        token, data = self.split_stream(message)
        return self.decrypt(token, (MessagePart(data),), None).parts[0]


PackageLookup = Callable[[str], "SecurityPackage"]
"""How a package reaches another installed package by name (the registry's ``get``)."""


class SecurityPackage(ABC):
    """A security package: its description, and factories for credentials and contexts."""

    info: PackageInfo
    #: The GSS-API mechanism OID Negotiate lists for this package, when it has one.
    mech_oid: str | None = None

    def attach(self, lookup: PackageLookup) -> None:
        """Called once by the registry: a package that composes others (Negotiate) keeps
        ``lookup`` to reach them through this same interface, never by importing them."""
        del lookup  # the simple packages compose nothing

    @abstractmethod
    def acquire_credentials(
        self, principal: str | None, use: CredentialUse, auth_data: object | None
    ) -> Credential:
        """AcquireCredentialsHandle for this package."""

    @abstractmethod
    def client_context(
        self, credential: Credential, target: str | None, req: IscReq,
        env: Environment = DEFAULT_ENVIRONMENT,
    ) -> SecurityContext:
        """A new initiator context (the first InitializeSecurityContext call)."""

    @abstractmethod
    def server_context(
        self, credential: Credential, req: AscReq, env: Environment = DEFAULT_ENVIRONMENT
    ) -> SecurityContext:
        """A new acceptor context (the first AcceptSecurityContext call)."""


__all__ = [
    "DEFAULT_ENVIRONMENT",
    "AscRet",
    "AuthIdentity",
    "Credential",
    "Environment",
    "Impersonation",
    "IscRet",
    "KdcRequest",
    "Layout",
    "MessageOp",
    "MessagePart",
    "MessageResult",
    "PackageInfo",
    "PackageLookup",
    "Part",
    "Sealed",
    "SecurityContext",
    "SecurityPackage",
    "Sizes",
    "Step",
    "StepInput",
    "StreamSizes",
    "Unsealed",
]
