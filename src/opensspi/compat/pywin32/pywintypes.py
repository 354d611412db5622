"""pywin32's ``pywintypes``: the ``error`` class SSPI failures raise."""

from opensspi.compat.pywin32._win32security import error as error

__all__ = ["error"]
