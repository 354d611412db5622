"""Finding a realm's KDCs: krb5.conf first, then DNS SRV records.

RFC 4120 section 7.2.3, "KDC Discovery on IP Networks", and 7.2.3.2, "Specifying KDC Location
Information with DNS SRV Records" (https://www.rfc-editor.org/rfc/rfc4120#section-7.2.3.2):
``_kerberos._udp.REALM`` and ``_kerberos._tcp.REALM``, ordered as RFC 2782 says
(https://www.rfc-editor.org/rfc/rfc2782, "Usage rules"): lowest priority first, and within one
priority a weighted random order.

As MIT does (krb5.conf(5), ``dns_lookup_kdc``), DNS is asked only when the realm has no ``kdc``
relations in krb5.conf. A ``kdc`` value is ``host``, ``host:port`` or ``[v6addr]:port``; the
Heimdal prefixes ``udp/`` and ``tcp/`` restrict it to one transport, and MS-KKDCP URLs
(``https://...``) are skipped because no HTTPS KDC proxy transport exists here yet.

The state machine never calls this module: the driver (sspi layer or asyncio front end) does,
before handing a :class:`~opensspi.provider.KdcRequest` to :mod:`opensspi.transport`. The DNS
query itself is :func:`opensspi.transport.srv_lookup`, injected so tests can replace it.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Sequence

from ...errors import NoAuthenticatingAuthority
from ...transport import KDC_PORT, KdcAddress, SrvRecord, srv_lookup, srv_lookup_async
from .config import ConfigError, Krb5Config, split_host_port

__all__ = [
    "kdcs_from_config",
    "kdcs_from_srv",
    "locate_kdcs",
    "locate_kdcs_async",
    "order_srv",
    "srv_names",
]

SrvLookup = Callable[[str], Sequence[SrvRecord]]
SrvLookupAsync = Callable[[str], Awaitable[Sequence[SrvRecord]]]
RandInt = Callable[[int, int], int]

_rng = random.SystemRandom()


def srv_names(realm: str) -> tuple[str, str]:
    """The SRV owner names for ``realm`` (RFC 4120 7.2.3.2): UDP first, then TCP."""
    return f"_kerberos._udp.{realm}", f"_kerberos._tcp.{realm}"


def kdcs_from_config(realm: str, config: Krb5Config) -> list[KdcAddress]:
    """The ``[realms] REALM = { kdc = ... }`` entries as addresses, both transports each.

    Raises:
        ConfigError: a ``kdc`` value that is not ``host[:port]``, naming its file and line.
    """
    out: list[KdcAddress] = []
    for entry in config.profile.values("realms", realm, "kdc"):
        spec = entry.value.strip()
        lowered = spec.lower()
        if lowered.startswith(("http://", "https://")):
            continue
        transports: tuple[str, ...] = ("udp", "tcp")
        for prefix in ("udp/", "tcp/"):
            if lowered.startswith(prefix):
                transports = (prefix[:3],)
                spec = spec[4:]
        try:
            host, port = split_host_port(spec, KDC_PORT)
        except ValueError as exc:
            raise ConfigError(f"kdc for {realm}: {exc}", entry.filename, entry.line) from None
        assert port is not None
        for transport in transports:
            out.append(KdcAddress(host, port, "udp" if transport == "udp" else "tcp"))
    return out


def order_srv(records: Sequence[SrvRecord], randint: RandInt | None = None) -> list[SrvRecord]:
    """Order SRV records for use, RFC 2782 "Usage rules".

    RFC 2782, "Weight" field::

        To select a target to be contacted next, arrange all SRV RRs
        (that have not been ordered yet) in any order, except that all
        those with weight 0 are placed at the beginning of the list.

        Compute the sum of the weights of those RRs, and with each RR
        associate the running sum in the selected order. Then choose a
        uniform random number between 0 and the sum computed
        (inclusive), and select the RR whose running sum value is the
        first in the selected order which is greater than or equal to
        the random number selected.

    Records whose target is ``.`` ("the service is decidedly not available") are dropped.

    Args:
        randint: ``randint(a, b)`` returning an integer in ``[a, b]``; default a system RNG.
    """
    pick = randint or _rng.randint
    usable = [r for r in records if r.target not in (".", "")]
    out: list[SrvRecord] = []
    for priority in sorted({r.priority for r in usable}):
        group = [r for r in usable if r.priority == priority]
        group.sort(key=lambda r: r.weight != 0)  # weight-0 records first (stable)
        while group:
            total = sum(r.weight for r in group)
            chosen = min(max(pick(0, total), 0), total)
            running = 0
            index = len(group) - 1
            for i, record in enumerate(group):
                running += record.weight
                if running >= chosen:
                    index = i
                    break
            out.append(group.pop(index))
    return out


def kdcs_from_srv(
    udp: Sequence[SrvRecord], tcp: Sequence[SrvRecord], randint: RandInt | None = None
) -> list[KdcAddress]:
    """Addresses from the ``_udp`` and ``_tcp`` SRV answers, each set in RFC 2782 order."""
    out = [KdcAddress(r.target, r.port, "udp") for r in order_srv(udp, randint)]
    out += [KdcAddress(r.target, r.port, "tcp") for r in order_srv(tcp, randint)]
    return out


def _from_config_or_none(realm: str, config: Krb5Config) -> list[KdcAddress] | None:
    configured = kdcs_from_config(realm, config)
    if configured:
        return configured
    if config.profile.get_values("realms", realm, "kdc"):
        raise NoAuthenticatingAuthority(
            f"The kdc entries for realm {realm} in krb5.conf are all HTTPS (MS-KKDCP) proxies, "
            "which opensspi cannot use yet; add a kdc = host entry."
        )
    if not config.dns_lookup_kdc:
        raise NoAuthenticatingAuthority(
            f"No KDC is known for realm {realm}: krb5.conf has no [realms] {realm} = "
            "{ kdc = ... } entry and dns_lookup_kdc is false."
        )
    return None


def _from_answers(
    realm: str, udp: Sequence[SrvRecord], tcp: Sequence[SrvRecord], randint: RandInt | None
) -> list[KdcAddress]:
    found = kdcs_from_srv(udp, tcp, randint)
    if not found:
        names = " and ".join(srv_names(realm))
        raise NoAuthenticatingAuthority(
            f"No KDC is known for realm {realm}: krb5.conf lists none and DNS has no SRV records "
            f"{names}. Add [realms] {realm} = {{ kdc = host }} to krb5.conf."
        )
    return found


def locate_kdcs(
    realm: str,
    config: Krb5Config,
    *,
    lookup: SrvLookup | None = None,
    randint: RandInt | None = None,
) -> list[KdcAddress]:
    """The KDCs of ``realm``, in the order to try them.

    Args:
        lookup: the SRV query; default :func:`opensspi.transport.srv_lookup` (dnspython).
        randint: the RNG for RFC 2782's weighted order (tests pass a fixed one).

    Raises:
        NoAuthenticatingAuthority: nothing found; the message says where we looked.
        DnsUnavailable: DNS had to be asked but dnspython is not installed.
        ConfigError: a malformed ``kdc`` value.
    """
    configured = _from_config_or_none(realm, config)
    if configured is not None:
        return configured
    query = lookup or srv_lookup
    udp_name, tcp_name = srv_names(realm)
    return _from_answers(realm, query(udp_name), query(tcp_name), randint)


async def locate_kdcs_async(
    realm: str,
    config: Krb5Config,
    *,
    lookup: SrvLookupAsync | None = None,
    randint: RandInt | None = None,
) -> list[KdcAddress]:
    """:func:`locate_kdcs` with an asynchronous SRV query (default dnspython's asyncresolver)."""
    configured = _from_config_or_none(realm, config)
    if configured is not None:
        return configured
    query = lookup or srv_lookup_async
    udp_name, tcp_name = srv_names(realm)
    return _from_answers(realm, await query(udp_name), await query(tcp_name), randint)
