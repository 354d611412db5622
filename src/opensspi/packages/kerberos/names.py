"""Kerberos principals with their realm, and the SSPI target-name forms that name them.

RFC 4120 §6.2 "Principal Names" (https://www.rfc-editor.org/rfc/rfc4120#section-6.2) and the
text form of RFC 1964 §2.1.1 / MIT ``krb5_parse_name``; RFC 2743 §4.1 for the GSS host-based
service form ``service@host``; MS-KILE 3.3.5.1.1 and the Windows SPN syntax
``serviceclass/host[:port][/servicename]`` (https://learn.microsoft.com/en-us/windows/win32/ad/
name-formats-for-unique-spns) for what ``InitializeSecurityContext`` receives as ``pszTargetName``.

:func:`parse_target` accepts, in this order:

- ``service/host[:port][/svcname][@REALM]``: a Windows SPN. Each ``/`` separates a name
  component and ``:port`` stays inside the host component, exactly as Windows puts the SPN on the
  wire (``MSSQLSvc/db.example.com:1433`` is two components). Name type NT-SRV-INST (2), which is
  what Windows sends.
- ``service@host``: the GSS host-based form, which Windows SSPI does not understand; it becomes
  ``service/host`` with the host in lower case and name type NT-SRV-HST (3), as MIT's
  ``gss_import_name(GSS_C_NT_HOSTBASED_SERVICE)`` sends it (checked against the captured MIT
  TGS-REQs in ``tests/vectors/peers/mit/kdc.json``).
- ``user@REALM`` (the part after ``@`` is in upper case or is a configured realm) and a bare
  ``user``: a user principal (UPN target, as for user-to-user and loopback), NT-PRINCIPAL (1);
  ``user@upn.suffix@REALM`` written ``user\\@upn.suffix@REALM`` is NT-ENTERPRISE (10).

The realm, when the target does not name one, is the ``[domain_realm]`` realm of the host, else
``default_realm`` (:meth:`Krb5Config.realm_of_host`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import InvalidParameter, TargetUnknown
from .asn1 import NameType, PrincipalName, parse_principal
from .ccache import CcachePrincipal
from .config import Krb5Config

__all__ = ["TGS_NAME", "Principal", "parse_target"]

TGS_NAME = "krbtgt"
"""RFC 4120 §7.3: the first component of every ticket-granting service name."""


@dataclass(frozen=True, slots=True, eq=False)
class Principal:
    """A principal name and its realm: ``HTTP/host.example.com@EXAMPLE.COM``.

    Two principals are equal when their components and realm are, whatever their name types
    (MIT ``krb5_principal_compare`` does the same, and KDCs change the type freely).
    """

    name: PrincipalName
    realm: str

    def __post_init__(self) -> None:
        if not self.realm:
            raise InvalidParameter(f"The principal {self.name} has an empty realm.")
        if not self.name.name_string or self.name.name_string == ("",):
            raise InvalidParameter("A principal needs at least one non-empty name component.")

    def __str__(self) -> str:
        return self.name.to_text(self.realm)

    def __repr__(self) -> str:
        return f"Principal({str(self)!r}, name_type={self.name.name_type})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Principal):
            return NotImplemented
        return self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    @property
    def key(self) -> tuple[tuple[str, ...], str]:
        """What identifies the principal: its components and realm (not its name type)."""
        return self.name.name_string, self.realm

    @property
    def components(self) -> tuple[str, ...]:
        return self.name.name_string

    @property
    def is_tgs(self) -> bool:
        """True for a ticket-granting service ``krbtgt/REALM@ISSUER`` (RFC 4120 §7.3)."""
        return len(self.components) == 2 and self.components[0] == TGS_NAME

    @property
    def tgs_realm(self) -> str | None:
        """For ``krbtgt/OTHER@THIS``, the realm whose KDC accepts it (``OTHER``); else None."""
        return self.components[1] if self.is_tgs else None

    @property
    def default_salt(self) -> bytes:
        """RFC 4120 §4: the default salt, the realm then every component, concatenated."""
        return (self.realm + "".join(self.components)).encode("utf-8", "surrogateescape")

    @classmethod
    def tgs(cls, realm: str, issuer: str | None = None) -> Principal:
        """``krbtgt/realm@issuer`` (``issuer`` defaults to ``realm``: the local TGS)."""
        name = PrincipalName(int(NameType.NT_SRV_INST), (TGS_NAME, realm))
        return cls(name, issuer or realm)

    @classmethod
    def parse(
        cls, text: str, default_realm: str | None = None, name_type: int | None = None
    ) -> Principal:
        """Parse the MIT text form ``a/b@REALM`` (backslash escapes; see ``parse_principal``).

        Raises:
            InvalidParameter: malformed text, or no realm in it and no ``default_realm``.
        """
        name, realm = parse_principal(text, name_type)
        realm = realm or default_realm
        if not realm:
            raise InvalidParameter(
                f"The principal {text!r} names no realm and no default realm is configured; "
                "write it as name@REALM or set default_realm in krb5.conf."
            )
        return cls(name, realm)

    def with_realm(self, realm: str) -> Principal:
        """The same name in another realm."""
        return Principal(self.name, realm)

    def to_ccache(self) -> CcachePrincipal:
        """This principal in the ccache/keytab representation."""
        return CcachePrincipal(int(self.name.name_type), self.components, self.realm)

    @classmethod
    def from_ccache(cls, principal: CcachePrincipal) -> Principal:
        """The principal of a ccache or keytab entry."""
        return cls(PrincipalName(principal.name_type, principal.components), principal.realm)


def _host_of(component: str) -> str:
    """The host part of an SPN's second component (``host:1433`` -> ``host``)."""
    if component.startswith("["):  # an IPv6 literal, [::1]:port
        end = component.find("]")
        return component[1:end] if end > 0 else component
    return component.split(":", 1)[0]


def _looks_like_realm(text: str, config: Krb5Config) -> bool:
    if text == config.default_realm or text in config.realms:
        return True
    return any(c.isalpha() for c in text) and text == text.upper()


def _realm_for_host(host: str, config: Krb5Config, target: str) -> str:
    realm = config.realm_of_host(host)
    if not realm:
        raise TargetUnknown(
            f"Cannot tell the Kerberos realm of target {target!r}: host {host!r} matches no "
            "[domain_realm] entry in krb5.conf and no default_realm is set. Add one of them, "
            "or name the realm in the target (service/host@REALM)."
        )
    return realm


def parse_target(target: str, config: Krb5Config) -> Principal:
    """The service principal an SSPI target name denotes.

    Args:
        target: ``service/host[:port][/svcname][@REALM]``, ``service@host``, ``user@REALM`` or
            ``user`` (see the module docstring).
        config: krb5.conf, for ``[domain_realm]`` and ``default_realm``.

    Returns:
        The principal, with its realm resolved.

    Raises:
        TargetUnknown: an empty or malformed target, or no realm can be found for it.
    """
    text = target.strip()
    if not text:
        raise TargetUnknown("The target name is empty; pass an SPN such as HTTP/host.example.com.")
    try:
        name, realm = parse_principal(text)
    except InvalidParameter as exc:
        raise TargetUnknown(f"The target name {target!r} cannot be parsed: {exc.message}") from None
    parts = name.name_string
    if any(not part for part in parts):
        raise TargetUnknown(
            f"The target name {target!r} has an empty component; an SPN looks like "
            "HTTP/host.example.com or MSSQLSvc/host:1433."
        )
    if len(parts) >= 2:
        # Windows SPN syntax: serviceclass/host[:port][/servicename], NT-SRV-INST.
        spn = PrincipalName(int(NameType.NT_SRV_INST), parts)
        return Principal(spn, realm or _realm_for_host(_host_of(parts[1]), config, target))
    (single,) = parts
    if realm is None:
        return Principal(
            PrincipalName(int(NameType.NT_PRINCIPAL), (single,)),
            _default_realm(config, target),
        )
    if "@" in single:
        # user\@upn.suffix@REALM: an enterprise name (RFC 6806 §5).
        return Principal(PrincipalName(int(NameType.NT_ENTERPRISE), (single,)), realm)
    if _looks_like_realm(realm, config):
        return Principal(PrincipalName(int(NameType.NT_PRINCIPAL), (single,)), realm)
    # service@host: GSS host-based service (RFC 2743 §4.1), as MIT imports it.
    host = realm.rstrip(".").lower()
    hostbased = PrincipalName(int(NameType.NT_SRV_HST), (single, host))
    return Principal(hostbased, _realm_for_host(host, config, target))


def _default_realm(config: Krb5Config, target: str) -> str:
    if not config.default_realm:
        raise TargetUnknown(
            f"The target {target!r} names no realm and krb5.conf sets no default_realm; write it "
            "as name@REALM."
        )
    return config.default_realm
