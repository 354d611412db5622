"""pywin32 look-alikes: ``win32security``, ``sspicon``, ``sspi``, ``win32api`` and ``pywintypes``.

Usage: one line, :func:`install`, then import them by their pywin32 names::

    import opensspi.compat.pywin32
    opensspi.compat.pywin32.install()
    import sspi, sspicon, win32security, win32api

(``sys.path.insert(0, opensspi.compat.pywin32.PATH)`` does the same by hand.) The modules can
also be imported directly as ``opensspi.compat.pywin32.win32security`` and so on.
"""

from __future__ import annotations

import sys
from pathlib import Path

PATH = str(Path(__file__).resolve().parent)
"""The folder holding the look-alike modules under their pywin32 names."""

__all__ = ["MODULES", "PATH", "install"]

MODULES = ("pywintypes", "sspicon", "win32security", "win32api", "sspi")
"""The pywin32 module names this folder provides."""


def install(*, force: bool = False) -> None:
    """Make ``import sspi`` (and the other :data:`MODULES`) load the look-alikes.

    Puts :data:`PATH` at the front of ``sys.path``. A real pywin32 already imported (on Windows)
    is left alone unless ``force`` is true, so calling this unconditionally is safe there too.
    Calling it twice is harmless.
    """
    if not force:
        for name in MODULES:
            module = sys.modules.get(name)
            if module is not None and Path(getattr(module, "__file__", "") or "").parent != Path(
                PATH
            ):
                return
    if PATH not in sys.path:
        sys.path.insert(0, PATH)
    if force:
        for name in MODULES:
            module = sys.modules.get(name)
            if module is not None and Path(getattr(module, "__file__", "") or "").parent != Path(
                PATH
            ):
                del sys.modules[name]
