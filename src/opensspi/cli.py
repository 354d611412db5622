"""The ``opensspi`` command: list the security packages, run the demonstration, look inside a
token (``inspect``), or list a ticket cache (``klist``).

Exit codes: 0 success; 1 a check failed (``inspect`` with ``--password``/``--nt-hash``/
``--keytab``: NTProofStr, MIC or decryption), or ``klist`` found no cache; 2 the input could not
be decoded or the command line is wrong (one line on stderr, never a traceback).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from . import demo, sspi

if TYPE_CHECKING:
    from .inspector import TokenInput


def version() -> str:
    """The installed distribution's version; the package's ``__version__`` when not installed."""
    from importlib import metadata

    try:
        return metadata.version("opensspi")
    except metadata.PackageNotFoundError:
        from . import __version__

        return __version__


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="opensspi", description="opensspi: the Windows SSPI natively in Python.")
    parser.add_argument("--version", action="version", version=f"opensspi {version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("packages", help="EnumerateSecurityPackages, as a table")
    run = commands.add_parser("demo", help="every package against opensspi's own acceptor")
    run.add_argument("--package", help="only this package's scenarios")

    inspect = commands.add_parser(
        "inspect", help="decode a token and print every field by name",
        description="Decode an NTLM, SPNEGO, Kerberos, GSS, Digest or TLS token. TOKEN is "
        "base64, hex, a file name, - for stdin, or an HTTP header value such as "
        "'Negotiate YII...' or 'WWW-Authenticate: Digest realm=...'.")
    inspect.add_argument("token", help="the token, a file name, or - for stdin")
    inspect.add_argument("--json", action="store_true", help="print JSON instead of text")
    inspect.add_argument("--password", help="check an NTLM AUTHENTICATE with this password")
    inspect.add_argument("--nt-hash", help="check an NTLM AUTHENTICATE with this NT hash (hex)")
    inspect.add_argument("--user", help="the user name for the NTLM check (default: the "
                         "message's)")
    inspect.add_argument("--domain", help="the domain for the NTLM check (default: the "
                         "message's)")
    inspect.add_argument("--negotiate", metavar="TOKEN",
                         help="the NEGOTIATE of the same handshake (for the MIC check)")
    inspect.add_argument("--challenge", metavar="TOKEN",
                         help="the CHALLENGE of the same handshake (for NTProofStr and MIC)")
    inspect.add_argument("--keytab", metavar="PATH",
                         help="decrypt a Kerberos AP-REQ's ticket and authenticator")

    klist = commands.add_parser("klist", help="the tickets a credential cache holds")
    klist.add_argument("-c", dest="cache", metavar="CCACHE",
                       help="the cache (default: KRB5CCNAME, as MIT klist)")
    klist.add_argument("-f", dest="flags", action="store_true", help="show ticket flags")
    klist.add_argument("-e", dest="etypes", action="store_true", help="show enctypes")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "packages":
        print(f"{'Name':<10} {'RPCID':>5} {'MaxToken':>8}  {'Capabilities':<10}  Comment")
        for info in sspi.EnumerateSecurityPackages():
            print(f"{info.name:<10} {info.rpcid:>5} {info.max_token:>8}  "
                  f"{int(info.capabilities):#010x}  {info.comment}")
        return 0
    if args.command == "inspect":
        return _inspect(args)
    if args.command == "klist":
        return _klist(args)
    return demo.main(["--package", args.package] if args.package else [])


def _fail(command: str, message: str, code: int = 2) -> int:
    print(f"opensspi {command}: error: {' '.join(message.split())}", file=sys.stderr)
    return code


def _read(value: str) -> TokenInput:
    """A token argument as TokenInput: ``-`` reads stdin, an existing file its contents."""
    import os

    from .inspector import decode_bytes, decode_text

    if value == "-":
        return decode_bytes(sys.stdin.buffer.read())
    if os.path.isfile(value):
        with open(value, "rb") as f:
            return decode_bytes(f.read())
    return decode_text(value)


def _inspect(args: argparse.Namespace) -> int:
    from .inspector import (
        InspectError,
        KerberosSecrets,
        NtlmSecrets,
        Secrets,
        dumps,
        failed_checks,
        find_ntlm,
        inspect_input,
        render_text,
    )

    try:
        token = _read(args.token)
        secrets = Secrets()
        if args.password is not None or args.nt_hash is not None:
            extra: dict[str, bytes | None] = {"negotiate": None, "challenge": None}
            for name in extra:
                value = getattr(args, name)
                if value is not None:
                    try:
                        extra[name] = find_ntlm(_read(value).data)
                    except (InspectError, ValueError) as exc:
                        return _fail("inspect", f"--{name}: {exc}")
            nt_hash = None
            if args.nt_hash is not None:
                try:
                    nt_hash = bytes.fromhex(args.nt_hash)
                except ValueError:
                    nt_hash = b""
                if len(nt_hash) != 16:
                    return _fail("inspect", "--nt-hash is 16 bytes (32 hex digits).")
            secrets = Secrets(ntlm=NtlmSecrets(args.password, nt_hash, args.user, args.domain,
                                               extra["negotiate"], extra["challenge"]))
        if args.keytab is not None:
            from .packages.kerberos.keytab import Keytab

            secrets = Secrets(ntlm=secrets.ntlm,
                              kerberos=KerberosSecrets(Keytab.load(args.keytab)))
        report = inspect_input(token, secrets)
    except InspectError as exc:
        return _fail("inspect", str(exc))
    except OSError as exc:
        return _fail("inspect", f"{exc.strerror or exc}: {exc.filename or args.token}")
    except Exception as exc:  # the command's promise: one line, never a traceback
        return _fail("inspect", f"cannot decode the input: {exc}")
    print(dumps(report) if args.json else render_text(report))
    failures = failed_checks(report)
    for failure in failures:
        print(f"opensspi inspect: check failed: {failure}", file=sys.stderr)
    return 1 if failures else 0


def _klist(args: argparse.Namespace) -> int:
    from .errors import DecodeError, NoCredentials, SspiError
    from .inspector import klist

    try:
        klist.main(args.cache, show_flags=args.flags, show_etypes=args.etypes)
    except NoCredentials as exc:
        return _fail("klist", str(exc), 1)
    except (SspiError, DecodeError, OSError) as exc:
        return _fail("klist", str(exc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
