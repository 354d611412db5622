"""pywin32's ``sspi`` helper module; the code is in ``_sspi`` (see win32security.py for why)."""

from opensspi.compat.pywin32._sspi import *  # noqa: F403
from opensspi.compat.pywin32._sspi import __all__ as __all__
