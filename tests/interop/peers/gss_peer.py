#!/usr/bin/env python3
"""A real GSSAPI peer (MIT mechglue: krb5, SPNEGO, gss-ntlmssp; python-gssapi) on stdin/stdout.

Run as a subprocess by :mod:`interop.peers.gss` so that the C library's global state (mech
configuration, environment, crashes) stays out of the pytest process. One context per process.

Protocol: one JSON object per line in, one per line out. Requests::

    {"op": "step", "token": "<base64>" | null}
    {"op": "wrap", "data": "<base64>", "encrypt": true}
    {"op": "unwrap", "token": "<base64>"}
    {"op": "get_mic", "data": "<base64>"}
    {"op": "verify_mic", "data": "<base64>", "mic": "<base64>"}
    {"op": "info"}
    {"op": "wrap_iov", "buffers": [["header", null], ["data", "<b64>"], ["padding", null]],
     "encrypt": true}
    {"op": "unwrap_iov", "buffers": [["header", "<b64>"], ["data", "<b64>"], ["padding", "<b64>"]]}
    {"op": "wrap_iov_length", "buffers": [["header", null], ["data", "<b64>"], ["padding", null]],
     "encrypt": true}
    {"op": "use_delegated", "target": "HTTP@server.test.local", "accept": true}
    {"op": "quit"}

Responses are ``{"ok": true, ...}`` or ``{"ok": false, "error": str, "major": int, "minor": int}``.
A failing request never ends the process; only ``quit`` or end of input does.

IOV buffers are ``[type, base64 | null]`` with type one of ``header``, ``data``, ``padding``,
``trailer``, ``sign_only``, ``stream``, ``empty``; a null value asks GSSAPI to allocate it. The
reply carries every buffer after the call (``wrap_iov_length``: zero bytes of the right size).

Environment (set by the fixture): ``GSS_MECH_CONFIG``, ``NTLM_USER_FILE``, ``KRB5_CONFIG``; for
Kerberos ``KRB5CCNAME`` (initiator ccache, from kinit) and ``KRB5_KTNAME`` (acceptor keytab).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import faulthandler
import json
import os
import sys
from collections.abc import Callable
from typing import Any

import gssapi
import gssapi.raw as graw
from gssapi.raw.misc import GSSError

MECHS = {
    "ntlmssp": gssapi.OID.from_int_seq("1.3.6.1.4.1.311.2.2.10"),
    "spnego": gssapi.OID.from_int_seq("1.3.6.1.5.5.2"),
    "krb5": gssapi.OID.from_int_seq("1.2.840.113554.1.2.2"),
    # The OID Windows sends first in SPNEGO. MIT answers to it; its acceptor needs a credential
    # for this very OID (not krb5's, nor GSS_C_NO_CREDENTIAL).
    "mskrb5": gssapi.OID.from_int_seq("1.2.840.48018.1.2.2"),
    # The user-to-user mechanism (draft-ietf-cat-user2user; Windows). MIT krb5 does not
    # implement it: kept so that a test can show what MIT answers to it.
    "u2u": gssapi.OID.from_int_seq("1.2.840.113554.1.2.2.3"),
}
NTLMSSP = MECHS["ntlmssp"]
SPNEGO = MECHS["spnego"]
KRB5 = MECHS["krb5"]
# The session key's enctype comes back as this OID with the enctype number as one more arc.
KRB5_ENCTYPE_OID_PREFIX = (1, 2, 840, 113554, 1, 2, 2, 4)
IOV_TYPES = {
    "empty": graw.IOVBufferType.empty,
    "data": graw.IOVBufferType.data,
    "header": graw.IOVBufferType.header,
    "trailer": graw.IOVBufferType.trailer,
    "padding": graw.IOVBufferType.padding,
    "stream": graw.IOVBufferType.stream,
    "sign_only": graw.IOVBufferType.sign_only,
}
IOV_NAMES = {int(v): k for k, v in IOV_TYPES.items()}
# GSS_C_INQ_SSPI_SESSION_KEY: the context's session key, as SSPI's SECPKG_ATTR_SESSION_KEY.
INQ_SSPI_SESSION_KEY = gssapi.OID.from_int_seq("1.2.840.113554.1.2.2.5.5")
RF = gssapi.RequirementFlag
FLAG_NAMES = {
    "integ": RF.integrity,
    "conf": RF.confidentiality,
    "replay": RF.replay_detection,
    "sequence": RF.out_of_sequence_detection,
    "mutual": RF.mutual_authentication,
    "deleg": RF.delegate_to_peer,
    "anon": RF.anonymity,
    "dce": RF.dce_style,
    "identify": RF.identify,
}

Response = dict[str, Any]


def b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text, validate=True)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--mech", choices=sorted(MECHS), required=True)
    p.add_argument("--role", choices=("accept", "initiate"), required=True)
    p.add_argument("--user")
    p.add_argument("--domain")
    p.add_argument("--password")
    p.add_argument(
        "--target",
        default="host@server.test.local",
        help="service@host (hostbased) or a Kerberos principal (has a '/', e.g. HTTP/h@REALM)",
    )
    p.add_argument(
        "--neg-mechs",
        help="SPNEGO initiator: comma list of mechs to offer (default with --user: ntlmssp)",
    )
    p.add_argument(
        "--acceptor-name", help="acceptor: the name its credential is for (default: any key)"
    )
    p.add_argument(
        "--acceptor-mechs",
        help="acceptor: comma list of credential mechs (default: --mech); 'default' = no "
        "credential (GSS_C_NO_CREDENTIAL, the mechglue routes by token)",
    )
    p.add_argument("--flags", default="", help="comma list of: " + ",".join(FLAG_NAMES))
    p.add_argument("--channel-bindings", help="hex of the application_data channel binding")
    return p.parse_args(argv)


def parse_name(text: str) -> gssapi.Name:
    """A hostbased service name (``service@host``), or a Kerberos principal if ``text`` has a
    ``/`` (``HTTP/host@REALM``)."""
    if "/" in text:
        return gssapi.Name(text, gssapi.NameType.kerberos_principal)
    return gssapi.Name(text, gssapi.NameType.hostbased_service)


def parse_mechs(text: str) -> list[gssapi.OID]:
    try:
        return [MECHS[w.strip()] for w in text.split(",") if w.strip()]
    except KeyError as exc:
        raise SystemExit(f"gss_peer: unknown mech {exc}; known: {', '.join(MECHS)}") from None


def parse_flags(text: str) -> int:
    flags = 0
    for word in filter(None, (w.strip() for w in text.split(","))):
        if word not in FLAG_NAMES:
            raise SystemExit(f"gss_peer: unknown flag {word!r}; known: {', '.join(FLAG_NAMES)}")
        flags |= int(FLAG_NAMES[word])
    return flags


class Peer:
    """One security context and the operations the line protocol exposes."""

    def __init__(self, args: argparse.Namespace) -> None:
        mech = MECHS[args.mech]
        cb = None
        if args.channel_bindings:
            cb = gssapi.raw.ChannelBindings(application_data=bytes.fromhex(args.channel_bindings))
        neg_mechs = parse_mechs(args.neg_mechs) if args.neg_mechs else None
        if args.role == "accept":
            creds = None
            if args.acceptor_mechs != "default":
                mechs = parse_mechs(args.acceptor_mechs) if args.acceptor_mechs else [mech]
                name = parse_name(args.acceptor_name) if args.acceptor_name else None
                creds = gssapi.Credentials(name=name, usage="accept", mechs=mechs)
            self.ctx = gssapi.SecurityContext(creds=creds, usage="accept", channel_bindings=cb)
        else:
            creds = None
            if args.user is not None:
                principal = f"{args.domain}\\{args.user}" if args.domain else args.user
                name = gssapi.Name(principal, gssapi.NameType.user)
                # Quirk: MIT's SPNEGO ignores a credential that has no SPNEGO element and
                # quietly acquires the default one (the first NTLM_USER_FILE entry). So acquire
                # for the mech in use, then restrict SPNEGO to NTLM.
                if args.password is not None:
                    raw = graw.acquire_cred_with_password(
                        name, args.password.encode("utf-8"), usage="initiate", mechs=[mech]
                    ).creds
                else:  # NTLM: password from NTLM_USER_FILE; krb5: a ticket in KRB5CCNAME
                    raw = graw.acquire_cred(name, usage="initiate", mechs=[mech]).creds
                if mech == SPNEGO:
                    graw.set_neg_mechs(raw, neg_mechs or [NTLMSSP])
                creds = gssapi.Credentials(raw)
            elif neg_mechs is not None and mech == SPNEGO:
                raw = graw.acquire_cred(None, usage="initiate", mechs=[SPNEGO]).creds
                graw.set_neg_mechs(raw, neg_mechs)
                creds = gssapi.Credentials(raw)
            target = parse_name(args.target)
            self.ctx = gssapi.SecurityContext(
                name=target,
                creds=creds,
                mech=mech,
                usage="initiate",
                flags=parse_flags(args.flags),
                channel_bindings=cb,
            )

    def step(self, req: dict[str, Any]) -> Response:
        out = self.ctx.step(unb64(req.get("token")))
        return {"token": b64(out), "complete": bool(self.ctx.complete)}

    def wrap(self, req: dict[str, Any]) -> Response:
        res = self.ctx.wrap(unb64(req["data"]) or b"", bool(req.get("encrypt", True)))
        return {"token": b64(res.message), "encrypted": bool(res.encrypted)}

    def unwrap(self, req: dict[str, Any]) -> Response:
        res = self.ctx.unwrap(unb64(req["token"]) or b"")
        return {"data": b64(res.message), "encrypted": bool(res.encrypted), "qop": int(res.qop)}

    def get_mic(self, req: dict[str, Any]) -> Response:
        return {"mic": b64(self.ctx.get_signature(unb64(req["data"]) or b""))}

    def verify_mic(self, req: dict[str, Any]) -> Response:
        self.ctx.verify_signature(unb64(req["data"]) or b"", unb64(req["mic"]) or b"")
        return {}

    def info(self, req: dict[str, Any]) -> Response:
        ctx = self.ctx
        complete = bool(ctx.complete)
        result: Response = {"complete": complete}
        if not complete:
            return result
        # Quirk: gss_inquire_context(target_name) on a gss-ntlmssp *acceptor* context crashes
        # (SIGSEGV in gss-ntlmssp 1.2 / MIT 1.20), so an NTLM acceptor never asks for it.
        first = graw.inquire_context(ctx, **_only("locally_init", "mech"))
        local = bool(first.locally_init)
        ask_target = local or first.mech != NTLMSSP
        res = graw.inquire_context(
            ctx,
            **_only("initiator_name", "mech", "flags", *(("target_name",) if ask_target else ())),
        )
        flags = int(res.flags or 0)
        result.update(
            initiator_name=_name(res.initiator_name),
            target_name=_name(res.target_name) if ask_target else None,
            mech=res.mech.dotted_form if res.mech is not None else None,
            flags=flags,
            flag_names=sorted(f.name for f in RF if f.name and flags & int(f)),
            locally_initiated=local,
            session_key=None,
            session_key_enctype=None,
            delegated=False,
            delegated_name=None,
        )
        try:
            data = graw.inquire_sec_context_by_oid(ctx, INQ_SSPI_SESSION_KEY)
            if data:
                result["session_key"] = b64(bytes(data[0]))
                if len(data) > 1:
                    result["session_key_enctype"] = _enctype_from_oid(bytes(data[1]))
        except (GSSError, NotImplementedError):
            pass
        if not local:
            delegated = ctx.delegated_creds
            if delegated is not None:
                result["delegated"] = True
                with contextlib.suppress(GSSError):
                    result["delegated_name"] = _name(delegated.name)
        return result

    def _iov(self, req: dict[str, Any]) -> graw.IOV:
        buffers: list[tuple[graw.IOVBufferType, bool, bytes | None]] = []
        for kind, value in req["buffers"]:
            data = unb64(value)
            # A null value: GSSAPI allocates it. Copies, because MIT works in place.
            buffers.append((IOV_TYPES[kind], data is None, None if data is None else bytes(data)))
        return graw.IOV(*buffers, std_layout=False)

    def wrap_iov(self, req: dict[str, Any]) -> Response:
        iov = self._iov(req)
        encrypted = graw.wrap_iov(self.ctx, iov, confidential=bool(req.get("encrypt", True)))
        return {"buffers": _iov_out(iov), "encrypted": bool(encrypted)}

    def unwrap_iov(self, req: dict[str, Any]) -> Response:
        iov = self._iov(req)
        res = graw.unwrap_iov(self.ctx, iov)
        return {"buffers": _iov_out(iov), "encrypted": bool(res.encrypted), "qop": int(res.qop)}

    def wrap_iov_length(self, req: dict[str, Any]) -> Response:
        iov = self._iov(req)
        res = graw.wrap_iov_length(self.ctx, iov, confidential=bool(req.get("encrypt", True)))
        # python-gssapi 1.8 documents a WrapResult but returns the conf_state bool.
        encrypted = res if isinstance(res, bool) else getattr(res, "encrypted", None)
        return {"buffers": _iov_out(iov), "encrypted": bool(encrypted)}

    def use_delegated(self, req: dict[str, Any]) -> Response:
        """Prove the delegated credential works: initiate (krb5) to ``target`` with it, so the
        KDC must issue a service ticket from the forwarded TGT; with ``accept`` (default) also
        accept that token here with the default keytab (``KRB5_KTNAME``)."""
        delegated = self.ctx.delegated_creds
        if delegated is None:
            return {"issued": False, "error": "no delegated credential"}
        result: Response = {"issued": False, "principal": _name(delegated.name)}
        try:
            ictx = gssapi.SecurityContext(
                name=parse_name(str(req["target"])),
                creds=delegated,
                mech=KRB5,
                usage="initiate",
                flags=int(RF.mutual_authentication),
            )
            token = ictx.step()
        except GSSError as exc:
            result.update(error=str(exc), major=int(exc.maj_code), minor=int(exc.min_code))
            return result
        result.update(issued=True, token_len=len(token or b""), accepted=None)
        if req.get("accept", True) and token:
            try:
                actx = gssapi.SecurityContext(usage="accept")
                reply = actx.step(token)
                if reply:
                    ictx.step(reply)
                result.update(
                    accepted=bool(actx.complete and ictx.complete),
                    accepted_initiator=_name(actx.initiator_name),
                )
            except GSSError as exc:
                result.update(accepted=False, accept_error=str(exc))
        return result


_INQUIRE_FIELDS = (
    "initiator_name",
    "target_name",
    "lifetime",
    "mech",
    "flags",
    "locally_init",
    "complete",
)


def _only(*fields: str) -> dict[str, bool]:
    """Keyword arguments for ``gss_inquire_context`` asking for just ``fields``."""
    return {f: f in fields for f in _INQUIRE_FIELDS}


def _iov_out(iov: graw.IOV) -> list[list[str | None]]:
    return [
        [IOV_NAMES.get(int(buf.type), str(int(buf.type))), b64(bytes(buf.value or b""))]
        for buf in iov
    ]


def _enctype_from_oid(der: bytes) -> int | None:
    """The enctype from MIT's session key OID (DER contents of 1.2.840.113554.1.2.2.4.<etype>)."""
    arcs: list[int] = []
    value = 0
    for byte in der:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    if not arcs:
        return None
    first = min(arcs[0] // 40, 2)
    arcs = [first, arcs[0] - 40 * first, *arcs[1:]]
    prefix = KRB5_ENCTYPE_OID_PREFIX
    if tuple(arcs[: len(prefix)]) == prefix and len(arcs) == len(prefix) + 1:
        return arcs[-1]
    return None


def _name(name: graw.Name | None) -> str | None:
    if name is None:
        return None
    try:
        # gss-ntlmssp counts the terminating NUL in the display name's length.
        return str(gssapi.Name(name)).rstrip("\x00")
    except (GSSError, UnicodeDecodeError):
        return None


def error_response(exc: BaseException) -> Response:
    if isinstance(exc, GSSError):
        return {
            "ok": False,
            "error": str(exc),
            "major": int(exc.maj_code),
            "minor": int(exc.min_code),
        }
    return {"ok": False, "error": f"{type(exc).__name__}: {exc}", "major": 0, "minor": 0}


def main(argv: list[str]) -> int:
    faulthandler.enable()
    args = parse_args(argv)
    # Keep the protocol channel private: anything else that writes to fd 1 (a C library, a stray
    # print) lands on stderr instead of corrupting a response line.
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def reply(resp: Response) -> None:
        out.write(json.dumps(resp) + "\n")
        out.flush()

    peer: Peer | None = None
    setup_error: Response | None = None
    try:
        peer = Peer(args)
    except Exception as exc:  # reported on every request, so the driver sees why
        setup_error = error_response(exc)

    handlers: dict[str, Callable[[dict[str, Any]], Response]] = {}
    if peer is not None:
        handlers = {
            "step": peer.step,
            "wrap": peer.wrap,
            "unwrap": peer.unwrap,
            "get_mic": peer.get_mic,
            "verify_mic": peer.verify_mic,
            "info": peer.info,
            "wrap_iov": peer.wrap_iov,
            "unwrap_iov": peer.unwrap_iov,
            "wrap_iov_length": peer.wrap_iov_length,
            "use_delegated": peer.use_delegated,
        }
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            op = req["op"]
        except (ValueError, KeyError, TypeError) as exc:
            reply({"ok": False, "error": f"bad request: {exc}", "major": 0, "minor": 0})
            continue
        if op == "quit":
            reply({"ok": True})
            return 0
        if setup_error is not None:
            reply(setup_error)
            continue
        handler = handlers.get(op)
        if handler is None:
            reply({"ok": False, "error": f"unknown op {op!r}", "major": 0, "minor": 0})
            continue
        try:
            resp = {"ok": True, **handler(req)}
        except Exception as exc:
            resp = error_response(exc)
        reply(resp)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
