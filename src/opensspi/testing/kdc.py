"""The in-process test KDC, under its historic name: it lives in the Kerberos package
(:mod:`opensspi.packages.kerberos.testing`), next to the types it serves."""

from __future__ import annotations

from ..packages.kerberos.testing import (
    KdcServer as KdcServer,
)
from ..packages.kerberos.testing import (
    MiniKdc as MiniKdc,
)
from ..packages.kerberos.testing import (
    PrincipalEntry as PrincipalEntry,
)
from ..packages.kerberos.testing import (
    ServerStats as ServerStats,
)

__all__ = ["KdcServer", "MiniKdc", "PrincipalEntry", "ServerStats"]
