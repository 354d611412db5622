"""Fixtures for the Negotiate tests (helpers in ``support.negotiate``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from opensspi.packages.kerberos.tickets import TicketCache
from support.negotiate import Realm, make_realm


@pytest.fixture
def realm(tmp_path: Path) -> Iterator[Realm]:
    yield make_realm(tmp_path)
    TicketCache.forget_all()
