"""The installed security packages, by name (case-insensitive, as Windows matches them)."""

from __future__ import annotations

from collections.abc import Callable

from .errors import PackageNotFound
from .provider import SecurityPackage

_FACTORIES: dict[str, Callable[[], SecurityPackage]] = {}
_INSTANCES: dict[str, SecurityPackage] = {}
_ORDER: list[str] = []


def register(name: str, factory: Callable[[], SecurityPackage], *aliases: str) -> None:
    """Make a package available under ``name`` (and aliases)."""
    _ORDER.append(name)
    for key in (name, *aliases):
        _FACTORIES[key.lower()] = factory


def unregister(name: str) -> None:
    """Remove a package and its aliases (for packages registered by a test or a plug-in)."""
    factory = _FACTORIES.get(name.lower())
    if factory is None:
        raise PackageNotFound(f"No security package is called {name!r}.")
    for key in [k for k, f in _FACTORIES.items() if f is factory]:
        del _FACTORIES[key]
        _INSTANCES.pop(key, None)
    _ORDER[:] = [n for n in _ORDER if n.lower() in _FACTORIES]


def get(name: str) -> SecurityPackage:
    """The package called ``name``.

    Raises:
        PackageNotFound: no such package.
    """
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
    return pkg


def names() -> list[str]:
    """The packages' primary names in registration order."""
    return list(_ORDER)


def _load_builtin() -> None:
    from .packages import builtin

    builtin.register_all(register)


_load_builtin()
