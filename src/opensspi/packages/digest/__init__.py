"""The Digest security package (``WDigest``, alias ``Digest``): HTTP Digest and SASL DIGEST-MD5.

Microsoft Digest SSP semantics ("Microsoft Digest SSP" on learn.microsoft.com) over RFC 7616,
RFC 2617 and RFC 2831. SASL is the default mode; ``ISC_REQ_USE_HTTP_STYLE`` (or
``ISC_REQ_HTTP``) and ``ASC_REQ_HTTP`` select HTTP. Credentials: an ``AuthIdentity`` or
``credentials.DigestClientOptions`` for initiators, ``credentials.DigestAcceptorConfig`` for
acceptors.

Types at the edges: every entry point that takes a header value — the challenge or response in
``step()`` (and ``opensspi.Context.step``), ``next_authorization()``'s method, URI and body, the
PKG_PARAMS values — accepts ``str`` or bytes (``text.header_bytes``: ISO-8859-1 when it fits,
as HTTP clients decoded it, else UTF-8). Everything the package returns is bytes: step tokens,
``next_authorization()`` and the PADDING buffer of MakeSignature. The HTTP header value is
``b"Digest " + token`` for an Authorization, the token itself for Authentication-Info.
"""

from __future__ import annotations

from .package import DigestPackage

__all__ = ["DigestPackage"]
