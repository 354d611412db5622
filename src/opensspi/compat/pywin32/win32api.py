"""pywin32's ``win32api`` (what the SSPI demos use); the code is in ``_win32api`` (see
win32security.py for why)."""

from opensspi.compat.pywin32._win32api import *  # noqa: F403
from opensspi.compat.pywin32._win32api import __all__ as __all__
