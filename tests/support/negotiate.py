"""Negotiate test helpers: an in-memory KDC (requests routed to it without sockets, through the
sans-I/O KdcRequest), credentials for both sides, and a handshake pump."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from opensspi import registry
from opensspi.constants import AscReq, CredentialUse, IscReq
from opensspi.packages.kerberos import KerberosAuthData
from opensspi.packages.kerberos.config import Krb5Config
from opensspi.packages.kerberos.tickets import TicketCache
from opensspi.packages.negotiate import NegotiateAuthData
from opensspi.provider import AuthIdentity, SecurityContext, Step, StepInput
from opensspi.testing.kdc import MiniKdc

REALM = "EXAMPLE.TEST"
PASSWORD = "Passw0rd!"
SPN = "HTTP/web.example.test"
USERS = {f"{REALM}\\alice": PASSWORD}
CLIENT_REQ = (IscReq.MUTUAL_AUTH | IscReq.INTEGRITY | IscReq.CONFIDENTIALITY
              | IscReq.REPLAY_DETECT | IscReq.SEQUENCE_DETECT)
SERVER_REQ = (AscReq.INTEGRITY | AscReq.CONFIDENTIALITY | AscReq.REPLAY_DETECT
              | AscReq.SEQUENCE_DETECT)


@dataclass
class Realm:
    kdc: MiniKdc
    keytab: Path
    config: Krb5Config

    def drive(self, ctx: SecurityContext, token: bytes | None) -> Step:
        """Step ``ctx`` and answer each KDC request it makes from the in-memory KDC."""
        step = ctx.step(StepInput(token=token))
        while step.kdc_request is not None:
            step = ctx.step(StepInput(kdc_reply=self.kdc.handle(step.kdc_request.data)))
        return step

    def client_auth(self, *, password: str = PASSWORD, package_list: str | None = None,
                    kerberos: bool = True) -> NegotiateAuthData:
        identity = AuthIdentity("alice", REALM, password, package_list=package_list)
        krb = KerberosAuthData(identity=identity, config=self.config) if kerberos else \
            KerberosAuthData(ccache="FILE:/nonexistent/opensspi-no-ccache", config=self.config)
        return NegotiateAuthData(identity=identity, kerberos=krb)

    def server_auth(self, *, keytab: bool = True, users: bool = True) -> NegotiateAuthData:
        krb = KerberosAuthData(
            acceptor_keytab=str(self.keytab) if keytab else "FILE:/nonexistent/none.keytab",
            config=self.config)
        return NegotiateAuthData(
            kerberos=krb, ntlm=dict(USERS) if users else "/nonexistent/opensspi-ntlm-users")

    def client(self, target: str = SPN, req: IscReq = CLIENT_REQ,
               **kw: object) -> SecurityContext:
        pkg = registry.get("Negotiate")
        cred = pkg.acquire_credentials(None, CredentialUse.OUTBOUND, self.client_auth(**kw))  # type: ignore[arg-type]
        return pkg.client_context(cred, target, req)

    def server(self, req: AscReq = SERVER_REQ, **kw: bool) -> SecurityContext:
        pkg = registry.get("Negotiate")
        cred = pkg.acquire_credentials(None, CredentialUse.INBOUND, self.server_auth(**kw))
        return pkg.server_context(cred, req)

    def handshake(self, client: SecurityContext, server: SecurityContext) -> list[bytes]:
        """Pump tokens until both sides complete; return every token sent, in order."""
        tokens: list[bytes] = []
        token = self.drive(client, None).token
        while token:
            tokens.append(token)
            token = server.step(StepInput(token=token)).token
            if not token:
                break
            tokens.append(token)
            token = self.drive(client, token).token
        assert client.complete and server.complete
        return tokens


def make_realm(directory: Path) -> Realm:
    """A MiniKdc with ``alice`` and the :data:`SPN` service, its keytab in ``directory``."""
    TicketCache.forget_all()
    kdc = MiniKdc(REALM)
    kdc.add_user("alice", PASSWORD)
    service = kdc.add_service(SPN)
    keytab = kdc.write_keytab(directory / "web.keytab", service)
    # Requests never reach this address: Realm.drive hands them to kdc.handle().
    return Realm(kdc, keytab, kdc.krb5_config(kdc="127.0.0.1:9"))
