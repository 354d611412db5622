"""A transition table driver shared by every package's handshake machine.

STYLE.md: the transitions are one table ``{(State, Input): (handler, next_state)}``; nothing
else assigns the state. A pair missing from the table raises and moves the machine to
``FAILED``; every later call raises too. The table also renders the documentation's diagram.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import Enum
from typing import Generic, TypeVar

from .errors import ContextExpired, InvalidToken, SspiError

S = TypeVar("S", bound=Enum)
I = TypeVar("I", bound=Enum)  # noqa: E741 - the table's input alphabet
R = TypeVar("R")


class Machine(Generic[S, I, R]):
    """Drive a transition table. ``failed`` is the state entered on any error."""

    __slots__ = ("_failed", "_table", "state")

    def __init__(
        self,
        table: Mapping[tuple[S, I], tuple[Callable[..., R], S]],
        initial: S,
        failed: S,
    ) -> None:
        self._table = table
        self._failed = failed
        self.state = initial

    def fire(self, event: I, *args: object) -> R:
        """Run the handler for (state, event); on success enter its next state.

        Raises:
            ContextExpired: the machine already failed.
            InvalidToken: the event is not legal in the current state.
            SspiError: whatever the handler raised; the machine is then ``FAILED``.
        """
        if self.state is self._failed:
            raise ContextExpired(
                "This context failed earlier and cannot be used; delete it and start a new one."
            )
        entry = self._table.get((self.state, event))
        if entry is None:
            current = self.state
            self.state = self._failed
            raise InvalidToken(
                f"{event.name} is not expected in state {current.name}; the context is now "
                "unusable."
            )
        handler, next_state = entry
        try:
            result = handler(*args)
        except SspiError:
            self.state = self._failed
            raise
        self.state = next_state
        return result


def mermaid(table: Mapping[tuple[S, I], tuple[Callable[..., object], S]]) -> str:
    """The state diagram of ``table`` in Mermaid syntax, for the docs."""
    lines = ["stateDiagram-v2"]
    for (state, event), (handler, nxt) in table.items():
        lines.append(f"    {state.name} --> {nxt.name}: {event.name} / {handler.__name__}")
    return "\n".join(lines)
