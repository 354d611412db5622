"""The ``opensspi`` command: list the security packages, or run the demonstration."""

from __future__ import annotations

import argparse
import sys

from . import demo, sspi


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="opensspi", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("packages", help="EnumerateSecurityPackages, as a table")
    run = commands.add_parser("demo", help="every package against opensspi's own acceptor")
    run.add_argument("--package", help="only this package's scenarios")
    args = parser.parse_args(argv)
    if args.command == "packages":
        print(f"{'Name':<10} {'RPCID':>5} {'MaxToken':>8}  {'Capabilities':<10}  Comment")
        for info in sspi.EnumerateSecurityPackages():
            print(f"{info.name:<10} {info.rpcid:>5} {info.max_token:>8}  "
                  f"{int(info.capabilities):#010x}  {info.comment}")
        return 0
    return demo.main(["--package", args.package] if args.package else [])


if __name__ == "__main__":
    sys.exit(main())
