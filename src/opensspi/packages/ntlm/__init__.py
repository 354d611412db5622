"""The NTLM security package (MS-NLMP).

https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-nlmp/
"""

from .credentials import NtlmAuthData, NtlmSettings, UserDatabase
from .package import NtlmPackage

__all__ = ["NtlmAuthData", "NtlmPackage", "NtlmSettings", "UserDatabase"]
