"""``opensspi klist``: the tickets a credential cache holds, printed as MIT's ``klist`` does.

MIT krb5 ``src/clients/klist/klist.c`` (``show_ccache``/``show_credential``): the cache name,
the default principal, then one line per ticket with its start and end times and the service
principal; ``-f`` adds the flags letters and ``-e`` the session-key and ticket enctypes.
Configuration entries (``X-CACHECONF:``) are not shown, as MIT does not show them.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ..errors import DecodeError
from ..packages.kerberos.asn1 import Ticket
from ..packages.kerberos.ccache import (
    Ccache,
    CcacheCredential,
    TicketFlags,
    load_ccache,
    resolve_ccache_name,
)
from ..packages.kerberos.crypto import enctype_name

# MIT klist.c flag letters, in its order.
_LETTERS = (
    (TicketFlags.FORWARDABLE, "F"), (TicketFlags.FORWARDED, "f"), (TicketFlags.PROXIABLE, "P"),
    (TicketFlags.PROXY, "p"), (TicketFlags.MAY_POSTDATE, "D"), (TicketFlags.POSTDATED, "d"),
    (TicketFlags.RENEWABLE, "R"), (TicketFlags.INITIAL, "I"), (TicketFlags.INVALID, "i"),
    (TicketFlags.PRE_AUTHENT, "A"), (TicketFlags.HW_AUTHENT, "H"),
    (TicketFlags.TRANSITED_POLICY_CHECKED, "T"), (TicketFlags.OK_AS_DELEGATE, "O"),
    (TicketFlags.ANONYMOUS, "a"),
)


def flag_letters(value: int) -> str:
    """MIT's letters for a ticket's flags (``FRIA`` for a typical TGT)."""
    return "".join(letter for bit, letter in _LETTERS if value & bit)


def _time(stamp: int) -> str:
    # MIT formats with the first of its formats that fits 19 characters; in the C locale that is
    # "%x %X" (12/05/26 11:57:39), as here.
    return time.strftime("%x %X", time.localtime(stamp))


def _ticket_etype(cred: CcacheCredential) -> str:
    try:
        return enctype_name(Ticket.from_der(cred.ticket).enc_part.etype)
    except DecodeError:
        return "(ticket not decodable)"


def render(ccache: Ccache, name: str, *, show_flags: bool = False,
           show_etypes: bool = False) -> str:
    """The text MIT's ``klist [-f] [-e]`` prints for ``ccache`` (named ``name``)."""
    width = len(_time(int(time.time()))) + 2
    lines = [f"Ticket cache: {name}", f"Default principal: {ccache.default_principal}", "",
             f"{'Valid starting':<{width}}{'Expires':<{width}}Service principal"]
    for cred in ccache.credentials:
        lines.append(f"{_time(cred.effective_starttime):<{width}}{_time(cred.endtime):<{width}}"
                     f"{cred.server}")
        extra: list[str] = []
        if cred.renew_till:
            extra.append(f"renew until {_time(cred.renew_till)}")
        letters = flag_letters(cred.ticket_flags)
        if show_flags and letters:
            extra.append(f"Flags: {letters}")
        if show_etypes:
            # MIT writes a space after the ticket's enctype.
            extra.append(f"Etype (skey, tkt): {enctype_name(cred.enctype)}, "
                         f"{_ticket_etype(cred)} ")
        if extra:
            lines.append("\t" + ", ".join(extra))
    return "\n".join(lines)


def main(cache: str | None, *, show_flags: bool, show_etypes: bool,
         out: Callable[[str], None] = print) -> None:
    """Load the cache (default: ``KRB5CCNAME`` and friends) and print it.

    Raises:
        NoCredentials: the cache does not exist. DecodeError: it is not a ccache.
    """
    name = resolve_ccache_name(cache)
    out(render(load_ccache(name), str(name), show_flags=show_flags, show_etypes=show_etypes))
