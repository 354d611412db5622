"""ContextPair: pump an opensspi client into an opensspi server and record every leg."""

from __future__ import annotations

from dataclasses import dataclass, field

import opensspi
from opensspi.constants import SecStatus


@dataclass
class ContextPair:
    """A client and a server context of one package, stepped to completion by :meth:`run`."""

    client: opensspi.Context
    server: opensspi.Context
    client_statuses: list[SecStatus] = field(default_factory=list)
    server_statuses: list[SecStatus] = field(default_factory=list)
    tokens: list[bytes] = field(default_factory=list)

    def run(self, max_legs: int = 10) -> ContextPair:
        """Step both sides until neither has a token to send; return self."""
        token = self.client.step()
        assert self.client.status is not None
        self.client_statuses.append(self.client.status)
        for _ in range(max_legs):
            if token is None:
                break
            self.tokens.append(token)
            reply = self.server.step(token)
            assert self.server.status is not None
            self.server_statuses.append(self.server.status)
            if reply is None:
                break
            self.tokens.append(reply)
            token = self.client.step(reply)
            assert self.client.status is not None
            self.client_statuses.append(self.client.status)
        else:
            raise AssertionError(f"no completion after {max_legs} legs")
        return self
