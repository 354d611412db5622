"""pywin32's ``win32security`` (SSPI part); the code is in ``_win32security`` so that importing
this folder from ``sys.path`` and as ``opensspi.compat.pywin32`` yields the same classes."""

from opensspi.compat.pywin32._win32security import *  # noqa: F403
from opensspi.compat.pywin32._win32security import __all__ as __all__
