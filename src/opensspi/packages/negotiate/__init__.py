"""The Negotiate security package: SPNEGO (RFC 4178) with the Microsoft extensions of MS-SPNG.

https://www.rfc-editor.org/rfc/rfc4178,
https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-spng/
"""

from .credentials import NegotiateAuthData
from .package import NegotiatePackage

__all__ = ["NegotiateAuthData", "NegotiatePackage"]
