"""The Kerberos security package: RFC 4120, the GSS-API mechanism of RFC 4121, and MS-KILE.

https://www.rfc-editor.org/rfc/rfc4120, https://www.rfc-editor.org/rfc/rfc4121,
https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-kile/
"""

from .credentials import KerberosAuthData
from .package import KerberosPackage

__all__ = ["KerberosAuthData", "KerberosPackage"]
