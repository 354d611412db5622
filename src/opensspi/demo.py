"""The demonstration: every package authenticates against opensspi's own acceptor.

Each scenario drives the Windows-shaped functions exactly as a Windows program would —
AcquireCredentialsHandle, then InitializeSecurityContext / AcceptSecurityContext in a loop,
then MakeSignature / VerifySignature and EncryptMessage / DecryptMessage — and prints a
transcript: each token summarised, each status code and the context attributes by name.

Run: ``python -m opensspi.demo`` (``--package NTLM`` for one package).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from . import sspi
from .buffers import SecBuffer, SecBufferDesc
from .constants import (
    AscReq,
    AscRet,
    CredentialUse,
    IscReq,
    IscRet,
    SecBufferType,
    SecPkgAttr,
    SecStatus,
)
from .errors import SspiError
from .provider import Sizes


@dataclass
class Scenario:
    """One package's demonstration: how to get credentials and what to ask for."""

    package: str
    title: str
    client_auth: object
    server_auth: object
    target: str
    isc_req: IscReq
    asc_req: AscReq
    client_params: Callable[[int], list[SecBuffer]] = field(default=lambda leg: [])


def _summary(token: bytes) -> str:
    if not token:
        return "(no token)"
    if token.startswith(b"NTLMSSP\0") and len(token) > 8:
        kind = {1: "NEGOTIATE", 2: "CHALLENGE", 3: "AUTHENTICATE"}.get(token[8], "?")
        return f"NTLMSSP {kind}, {len(token)} bytes: {token[:24].hex()}..."
    printable = token[:72].decode("latin-1")
    if printable.isprintable():
        return f"{len(token)} bytes: {printable}{'...' if len(token) > 72 else ''}"
    return f"{len(token)} bytes: {token[:24].hex()}..."


def _flags(value: int, enum: type[IscRet] | type[AscRet]) -> str:
    names = [m.name for m in enum if m.value & value and m.name]
    return "|".join(names) or "0"


def scenarios() -> list[Scenario]:
    """The scenarios for every package that exists (a package added later adds one here)."""
    from .provider import AuthIdentity

    result = [
        Scenario(
            package="NTLM",
            title="NTLM (MS-NLMP): NTLMv2, extended session security, 128-bit, key exchange, MIC",
            client_auth=AuthIdentity("alice", "CORP", "Passw0rd!"),
            server_auth={"CORP\\alice": "Passw0rd!"},
            target="HTTP/web.corp.example",
            isc_req=IscReq.INTEGRITY | IscReq.CONFIDENTIALITY | IscReq.REPLAY_DETECT
            | IscReq.SEQUENCE_DETECT,
            asc_req=AscReq.INTEGRITY | AscReq.CONFIDENTIALITY | AscReq.REPLAY_DETECT
            | AscReq.SEQUENCE_DETECT,
        )
    ]
    from . import registry

    installed = {name.lower() for name in registry.names()}
    return [s for s in result if s.package.lower() in installed]


def run(scenario: Scenario, out: Callable[[str], None] = print) -> None:
    """Authenticate, sign and seal with ``scenario`` and print what happened."""
    out(f"\n=== {scenario.title}")
    info = sspi.QuerySecurityPackageInfo(scenario.package)
    out(f"QuerySecurityPackageInfo -> {info.name}: {info.comment}, cbMaxToken={info.max_token}")
    _, client_cred, _ = sspi.AcquireCredentialsHandle(
        None, scenario.package, CredentialUse.OUTBOUND, None, scenario.client_auth)
    _, server_cred, _ = sspi.AcquireCredentialsHandle(
        None, scenario.package, CredentialUse.INBOUND, None, scenario.server_auth)
    out("AcquireCredentialsHandle -> client (OUTBOUND) and server (INBOUND) handles")
    client, server = sspi.CtxtHandle(), sspi.CtxtHandle()
    token: bytes | None = None
    client_status = server_status = SecStatus.SEC_I_CONTINUE_NEEDED
    leg = 0
    while True:
        leg += 1
        inp = None
        if token is not None or scenario.client_params(leg):
            inp = SecBufferDesc(
                ([SecBuffer(SecBufferType.TOKEN, token)] if token is not None else [])
                + scenario.client_params(leg)
            )
        output = SecBufferDesc([SecBuffer(SecBufferType.TOKEN, info.max_token)])
        isc = sspi.InitializeSecurityContext(
            client_cred, client if client.is_valid else None, scenario.target,
            scenario.isc_req, 0, 0, inp, 0, client, output)
        client_status = isc.status
        token = output[0].buffer
        out(f"  client InitializeSecurityContext -> {client_status.name}")
        out(f"         attrs {_flags(isc.context_attr, IscRet)}")
        if token:
            out(f"         sends {_summary(token)}")
        if not token:
            break
        output = SecBufferDesc([SecBuffer(SecBufferType.TOKEN, info.max_token)])
        asc = sspi.AcceptSecurityContext(
            server_cred, server if server.is_valid else None,
            SecBufferDesc([SecBuffer(SecBufferType.TOKEN, token)]), scenario.asc_req, 0,
            server, output)
        server_status = asc.status
        token = output[0].buffer or None
        out(f"  server AcceptSecurityContext     -> {server_status.name}")
        out(f"         attrs {_flags(asc.context_attr, AscRet)}")
        if token:
            out(f"         sends {_summary(token)}")
        if token is None and client_status == SecStatus.SEC_E_OK:
            break
    names = sspi.QueryContextAttributes(server, SecPkgAttr.NAMES)
    sizes = sspi.QueryContextAttributes(client, SecPkgAttr.SIZES)
    assert isinstance(sizes, Sizes)
    out(f"server QueryContextAttributes(NAMES) -> {names}")
    out(f"client QueryContextAttributes(SIZES) -> {sizes}")

    message = b"Hello from opensspi"
    signed = SecBufferDesc([SecBuffer(SecBufferType.DATA, message),
                            SecBuffer(SecBufferType.TOKEN, sizes.max_signature)])
    sspi.MakeSignature(client, 0, signed, 0)
    out(f"client MakeSignature -> signature {signed[1].buffer.hex()}")
    result = sspi.VerifySignature(server, signed, 0)
    out(f"server VerifySignature -> {result.status.name}")

    sealed = SecBufferDesc([SecBuffer(SecBufferType.TOKEN, sizes.security_trailer),
                            SecBuffer(SecBufferType.DATA, message),
                            SecBuffer(SecBufferType.PADDING, sizes.block_size)])
    sspi.EncryptMessage(client, 0, sealed, 1)
    out(f"client EncryptMessage -> ciphertext {sealed[1].buffer.hex()}")
    decrypted = sspi.DecryptMessage(server, sealed, 1)
    out(f"server DecryptMessage -> {decrypted.status.name}: {sealed[1].buffer!r}")
    sealed2 = SecBufferDesc([SecBuffer(SecBufferType.TOKEN, sizes.security_trailer),
                             SecBuffer(SecBufferType.DATA, b"second message")])
    sspi.EncryptMessage(client, 0, sealed2, 2)
    tampered = bytearray(sealed2[1].buffer)
    tampered[0] ^= 1
    sealed2[1].buffer = bytes(tampered)
    try:
        sspi.DecryptMessage(server, sealed2, 2)
        out("server DecryptMessage of a tampered message -> accepted (unexpected!)")
    except SspiError as exc:
        out(f"server DecryptMessage of a tampered message -> {exc.status.name}")
    sspi.DeleteSecurityContext(client)
    sspi.DeleteSecurityContext(server)
    sspi.FreeCredentialsHandle(client_cred)
    sspi.FreeCredentialsHandle(server_cred)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="opensspi demonstration")
    parser.add_argument("--package", help="run only this package's scenario")
    args = parser.parse_args(argv)
    print("opensspi demonstration: each package against opensspi's own acceptor")
    print("EnumerateSecurityPackages -> "
          + ", ".join(p.name for p in sspi.EnumerateSecurityPackages()))
    chosen = [s for s in scenarios()
              if args.package is None or s.package.lower() == args.package.lower()]
    if not chosen:
        print(f"no scenario for package {args.package!r}", file=sys.stderr)
        return 2
    for scenario in chosen:
        run(scenario)
    print("\nall scenarios completed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
