"""The installed security packages, by name (case-insensitive, as Windows matches them)."""

from __future__ import annotations

from collections.abc import Callable

from .errors import PackageNotFound
from .provider import SecurityPackage

_FACTORIES: dict[str, Callable[[], SecurityPackage]] = {}
_INSTANCES: dict[str, SecurityPackage] = {}
_ORDER: list[str] = []
_BY_NAME: dict[str, SecurityPackage] = {}
""":func:`get`'s answers by the name exactly as asked ("Kerberos", "NTLM"): the handshake and
credential functions look packages up on every call. Emptied by every (un)registration."""


def register(name: str, factory: Callable[[], SecurityPackage], *aliases: str) -> None:
    """Make a package available under ``name`` (and aliases)."""
    _ORDER.append(name)
    _BY_NAME.clear()
    for key in (name, *aliases):
        _FACTORIES[key.lower()] = factory


def unregister(name: str) -> None:
    """Remove a package and its aliases (for packages registered by a test or a plug-in)."""
    factory = _FACTORIES.get(name.lower())
    if factory is None:
        raise PackageNotFound(f"No security package is called {name!r}.")
    _BY_NAME.clear()
    for key in [k for k, f in _FACTORIES.items() if f is factory]:
        del _FACTORIES[key]
        _INSTANCES.pop(key, None)
    _ORDER[:] = [n for n in _ORDER if n.lower() in _FACTORIES]


def get(name: str) -> SecurityPackage:
    """The package called ``name``.

    Raises:
        PackageNotFound: no such package.
    """
    pkg = _BY_NAME.get(name)
    if pkg is not None:
        return pkg
    key = name.lower()
    pkg = _INSTANCES.get(key)
    if pkg is None:
        factory = _FACTORIES.get(key)
        if factory is None:
            raise PackageNotFound(
                f"No security package is called {name!r}; installed: {', '.join(_ORDER)}."
            )
        pkg = factory()
        pkg.attach(get)
        _INSTANCES[key] = pkg
    if type(name) is str and len(_BY_NAME) < 64:
        _BY_NAME[name] = pkg
    return pkg


def names() -> list[str]:
    """The packages' primary names in registration order."""
    return list(_ORDER)


def _load_builtin() -> None:
    from .packages import builtin

    builtin.register_all(register)


_load_builtin()
