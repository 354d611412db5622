"""The Digest security package (``WDigest``, alias ``Digest``): HTTP Digest and SASL DIGEST-MD5.

Microsoft Digest SSP semantics ("Microsoft Digest SSP" on learn.microsoft.com) over RFC 7616,
RFC 2617 and RFC 2831. SASL is the default mode; ``ISC_REQ_USE_HTTP_STYLE`` (or
``ISC_REQ_HTTP``) and ``ASC_REQ_HTTP`` select HTTP. Credentials: an ``AuthIdentity`` or
``credentials.DigestClientOptions`` for initiators, ``credentials.DigestAcceptorConfig`` for
acceptors.
"""

from __future__ import annotations

from .package import DigestPackage

__all__ = ["DigestPackage"]
