"""A transition table driver shared by every package's handshake machine.

STYLE.md: the transitions are one table ``{(State, Input): (handler, next_state)}``; nothing
else assigns the state. A pair missing from the table raises and moves the machine to
``FAILED``; every later call raises too. The table also renders the documentation's diagram.

The machine is also the handshake's error boundary (DESIGN.md): whatever a classifier or a handler
raises — an ``SspiError``, a parser's ``DecodeError`` or a bug — moves it to ``FAILED`` and leaves
as an ``SspiError`` (see :func:`opensspi.errors.boundary_error`). Packages never assign the state.

Where a step can end in more than one state (a Kerberos client whose ticket is already cached
skips the KDC; DCE style adds a leg), the entry lists the legal targets as a tuple and the
handler returns a :class:`Choice` naming one of them; the machine checks it is listed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Generic, TypeVar

from .errors import ContextExpired, InternalError, InvalidToken, boundary_error

if TYPE_CHECKING:
    from .provider import StepInput

S = TypeVar("S", bound=Enum)
I = TypeVar("I", bound=Enum)  # noqa: E741 - the table's input alphabet
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Choice(Generic[S, R]):
    """A handler's result together with the next state it chose among the table's targets."""

    result: R
    state: S


class Machine(Generic[S, I, R]):
    """Drive a transition table. ``failed`` is the state entered on any error.

    ``what`` names the messages for error texts ("NTLM message", "Kerberos token").
    """

    __slots__ = ("_by_id", "_failed", "_table", "state", "what")

    def __init__(
        self,
        table: Mapping[tuple[S, I], tuple[Callable[..., object], S | tuple[S, ...]]],
        initial: S,
        failed: S,
        what: str = "token",
    ) -> None:
        self._table = table
        self._by_id: Mapping[tuple[int, int], tuple[Callable[..., object], S | tuple[S, ...]]] = (
            _by_identity(table)  # type: ignore[assignment]
        )
        self._failed = failed
        self.state = initial
        self.what = what

    @classmethod
    def maker(
        cls,
        table: Mapping[tuple[S, I], tuple[Callable[..., object], S | tuple[S, ...]]],
        failed: S,
        what: str = "token",
    ) -> Callable[[S], Machine[S, I, R]]:
        """A function ``make(initial)`` giving the machine ``cls(table, initial, failed, what)``.

        For packages that start a context per request (HTTP Digest): the table's identity map
        is looked up once here, not in every ``__init__``.
        """
        by_id = _by_identity(table)
        new = object.__new__

        def make(initial: S) -> Machine[S, I, R]:
            machine: Machine[S, I, R] = new(cls)
            machine._table = table
            machine._by_id = by_id  # type: ignore[assignment]
            machine._failed = failed
            machine.state = initial
            machine.what = what
            return machine

        return make

    def run(self, classify: Callable[..., tuple[I, tuple[object, ...]]], *args: object) -> R:
        """``classify(*args)``, then :meth:`fire` the event it names with the arguments it gives.

        Both halves sit behind the same boundary: a token that cannot even be classified (too
        big, not this package's) fails the context exactly like one a handler rejects.
        """
        if self.state is self._failed:
            raise self._dead()
        try:
            event, handler_args = classify(*args)
        except Exception as exc:
            raise self._fail(exc)  # noqa: B904 - boundary_error chains exc
        return self.fire(event, *handler_args)

    def leg(
        self, classify: Callable[[bytes | None], tuple[I, object]], context: object,
        inp: StepInput,
    ) -> R:
        """One handshake leg: ``classify(inp.token)`` names the event and its payload, then the
        handler runs as ``handler(context, payload, inp)``.

        :meth:`run` and :meth:`fire` in one frame for the common shape (no argument tuple to
        build and unpack); the same boundary: a token that cannot be classified fails the
        machine like one a handler rejects, and a pair missing from the table or a handler
        with several targets goes through :meth:`fire`.
        """
        if self.state is self._failed:
            raise self._dead()
        try:
            event, payload = classify(inp.token)
        except Exception as exc:
            raise self._fail(exc)  # noqa: B904 - boundary_error chains exc
        entry = self._by_id.get((id(self.state), id(event)))
        if entry is None or type(entry[1]) is tuple:
            return self.fire(event, context, payload, inp)
        handler, target = entry
        try:
            result = handler(context, payload, inp)
        except Exception as exc:
            raise self._fail(exc)  # noqa: B904 - boundary_error chains exc
        self.state = target  # type: ignore[assignment]
        return result  # type: ignore[return-value]

    def _fail(self, exc: Exception) -> Exception:
        """Enter ``FAILED`` and give what to raise for ``exc`` (itself when an SspiError)."""
        self.state = self._failed
        return boundary_error(exc, self.what)

    @staticmethod
    def _dead() -> ContextExpired:
        return ContextExpired(
            "This context failed earlier and cannot be used; delete it and start a new one."
        )

    def fire(self, event: I, *args: object) -> R:
        """Run the handler for (state, event); on success enter its next state.

        Raises:
            ContextExpired: the machine already failed.
            InvalidToken: the event is not legal in the current state.
            SspiError: whatever the handler raised, converted at the boundary; the machine is
                then ``FAILED``.
        """
        if self.state is self._failed:
            raise self._dead()
        entry = self._by_id.get((id(self.state), id(event)))
        if entry is None:
            current = self.state
            self.state = self._failed
            raise InvalidToken(
                f"{event.name} is not expected in state {current.name}; the context is now "
                "unusable."
            )
        handler, target = entry
        try:
            result = handler(*args)
        except Exception as exc:
            raise self._fail(exc)  # noqa: B904 - boundary_error chains exc
        if isinstance(target, tuple):
            if not isinstance(result, Choice) or result.state not in target:
                self.state = self._failed
                raise InternalError(
                    f"{getattr(handler, '__name__', handler)} chose a state outside "
                    f"{[t.name for t in target]}."
                )
            self.state = result.state
            chosen: R = result.result
            return chosen
        self.state = target
        return result  # type: ignore[return-value]


_Entry = tuple[Callable[..., object], object]
_BY_IDENTITY: dict[int, tuple[object, dict[tuple[int, int], _Entry]]] = {}


def _by_identity(
    table: Mapping[tuple[S, I], tuple[Callable[..., object], S | tuple[S, ...]]],
) -> dict[tuple[int, int], _Entry]:
    """``table`` keyed on the members' identities: an Enum member hashes through a Python-level
    ``__hash__``, twice per lookup, on every step of every handshake. Enum members are
    singletons, so identity is equality. Made once per table (tables are module constants; the
    memo starts over past 64)."""
    held = _BY_IDENTITY.get(id(table))
    if held is not None and held[0] is table:
        return held[1]
    fast: dict[tuple[int, int], _Entry] = {
        (id(state), id(event)): entry for (state, event), entry in table.items()
    }
    if len(_BY_IDENTITY) >= 64:
        _BY_IDENTITY.clear()
    _BY_IDENTITY[id(table)] = (table, fast)
    return fast


def mermaid(
    table: Mapping[tuple[S, I], tuple[Callable[..., object], S | tuple[S, ...]]],
) -> str:
    """The state diagram of ``table`` in Mermaid syntax, for the docs."""
    lines = ["stateDiagram-v2"]
    for (state, event), (handler, target) in table.items():
        name = getattr(handler, "__name__", str(handler))
        for nxt in target if isinstance(target, tuple) else (target,):
            lines.append(f"    {state.name} --> {nxt.name}: {event.name} / {name}")
    return "\n".join(lines)
