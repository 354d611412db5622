"""pywin32 look-alikes: ``win32security``, ``sspicon``, ``sspi`` and ``pywintypes``.

Usage: ``sys.path.insert(0, opensspi.compat.pywin32.PATH)`` and then import them by their
pywin32 names, or import ``opensspi.compat.pywin32.win32security`` directly.
"""

from __future__ import annotations

from pathlib import Path

PATH = str(Path(__file__).resolve().parent)
