"""A base for loopback simulators of notification providers, and for their harnesses.

The kit's push and SMS channels (FCM, RuStore, Web Push, SMSC.ru) each ship a simulator: a
real HTTP server on ``127.0.0.1`` speaking the provider's protocol, and a harness that puts
a channel in front of it for the conformance suite's notification channel family
(:class:`pes_sdk_conformance.notifications.ChannelHarness`). What they share lives here, so
that each keeps only its protocol (routes, request and answer shapes, error codes):

* :class:`ProviderSimulator`: a :class:`~pes_sdk.gateways.simulation.LoopbackServer` with
  faults on demand (:meth:`~ProviderSimulator.fail_next`, :meth:`~ProviderSimulator.fail_always`
  with an optional ``Retry-After``, :data:`STALL`: never answer until
  :meth:`~ProviderSimulator.heal`), faults for one recipient
  (:meth:`~ProviderSimulator.fail_for`: a token unregistered, a number invalid) and a record
  of the requests and of what was accepted (:attr:`~ProviderSimulator.requests`,
  :attr:`~ProviderSimulator.messages`, :attr:`~ProviderSimulator.raw`);
* :class:`ProviderHarness`: the harness's plumbing around one simulator and one channel.

Like :mod:`pes_sdk.gateways.simulation`, nothing here is imported when plugins are loaded.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Generic, Self, TypeVar

from pes_sdk.gateways.simulation import LoopbackServer, SimulatorHandler
from pes_sdk.notifications.contract import NotificationChannel

__all__ = ["STALL", "ProviderHarness", "ProviderSimulator"]

#: The fault every simulator has: the request is never answered (until ``heal``).
STALL = "stall"

MessageT = TypeVar("MessageT")
SimulatorT = TypeVar("SimulatorT", bound="ProviderSimulator[Any]")
ChannelT = TypeVar("ChannelT", bound=NotificationChannel)


class ProviderSimulator(LoopbackServer, Generic[MessageT]):
    """A notification provider on ``127.0.0.1``: faults on demand and a record of messages.

    :param handler: the request handler class; it is subclassed with ``sim`` set to this
        simulator, so that the handler reaches it as ``self.sim``.
    :param faults: the names of the faults this provider can answer (its documented error
        answers); :data:`STALL` is always known.
    :param port: 0 for a free port.
    :param name: the serving thread's name.

    The handler counts each request to the send endpoint (:meth:`count_request`), asks
    :meth:`next_fault` what to answer, and records an accepted message (:meth:`record`).
    Every method is thread-safe.
    """

    def __init__(
        self,
        handler: type[SimulatorHandler],
        *,
        faults: Iterable[str],
        port: int = 0,
        name: str = "provider-simulator",
    ) -> None:
        bound = type(handler.__name__, (handler,), {"sim": self})
        super().__init__(bound, port=port, name=name)
        self.known_faults: tuple[str, ...] = (*faults, STALL)
        self._state = threading.Lock()
        self._healed = threading.Condition(self._state)
        self._heal_round = 0
        self._next: list[tuple[str, int | None]] = []
        self._always: tuple[str, int | None] | None = None
        self._recipients: dict[str, str] = {}
        #: accepted messages, in order
        self.messages: list[MessageT] = []
        #: the raw bodies of the accepted requests, when the simulator keeps them
        self.raw: list[bytes] = []
        #: requests to the send endpoint, whatever the answer
        self.requests = 0

    @property
    def endpoint(self) -> str:
        """The channel's ``endpoint`` setting: ``http://127.0.0.1:<port>``."""
        return self.root_url

    # -- faults ----------------------------------------------------------------------------

    def fail_next(self, fault: str, *, times: int = 1, retry_after: int | None = None) -> None:
        """The next ``times`` sends answer ``fault`` (one of :attr:`known_faults`), with a
        ``Retry-After`` of ``retry_after`` seconds where the protocol carries one."""
        self._check(fault)
        with self._state:
            self._next.extend([(fault, retry_after)] * times)

    def fail_always(self, fault: str, *, retry_after: int | None = None) -> None:
        """Every send answers ``fault`` until :meth:`heal`."""
        self._check(fault)
        with self._state:
            self._always = (fault, retry_after)

    def heal(self) -> None:
        """Answer normally again; every stalled request ends (unanswered)."""
        with self._state:
            self._next.clear()
            self._always = None
            self._heal_round += 1
            self._healed.notify_all()

    def fail_for(self, recipient: str, fault: str) -> None:
        """From now on, every send to ``recipient`` answers ``fault`` (a token unregistered,
        a number invalid); see :meth:`fault_for`."""
        self._check(fault)
        with self._state:
            self._recipients[recipient] = fault

    def fault_for(self, recipient: str) -> str | None:
        """The fault :meth:`fail_for` set for ``recipient``, or None."""
        with self._state:
            return self._recipients.get(recipient)

    def next_fault(self) -> tuple[str | None, int | None]:
        """The fault this send answers and its Retry-After: a :meth:`fail_next` one first,
        else :meth:`fail_always`'s; ``(None, None)``: answer normally.

        For :data:`STALL` this waits until :meth:`heal` (or :meth:`wait_for_heal`'s limit)
        before it returns: the handler then closes the connection without an answer.
        """
        with self._state:
            taken = self._next.pop(0) if self._next else self._always
        if taken is None:
            return None, None
        if taken[0] == STALL:
            self.wait_for_heal()
        return taken

    def wait_for_heal(self, limit: float = 60.0) -> None:
        """Wait until :meth:`heal` (or :meth:`stop`), at most ``limit`` seconds."""
        deadline = time.monotonic() + limit
        with self._state:
            round_ = self._heal_round
            while self._heal_round == round_:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._healed.wait(left)

    def _check(self, fault: str) -> None:
        if fault not in self.known_faults:
            raise ValueError(f"unknown fault {fault!r}; known: {', '.join(self.known_faults)}")

    # -- the record ------------------------------------------------------------------------

    def count_request(self) -> None:
        """Count one request to the send endpoint (:attr:`requests`)."""
        with self._state:
            self.requests += 1

    def record(self, message: MessageT, raw: bytes | None = None) -> None:
        """Record an accepted ``message`` (and the request's ``raw`` body, when given)."""
        with self._state:
            self.messages.append(message)
            if raw is not None:
                self.raw.append(raw)

    def stop(self) -> None:
        """End every stall, then stop serving."""
        self.heal()
        super().stop()


class ProviderHarness(Generic[SimulatorT, ChannelT]):
    """The plumbing of a conformance harness around a :class:`ProviderSimulator`.

    A subclass sets :attr:`answers`, :attr:`kind` and, in its ``__init__`` (after this
    one's), ``simulator`` (started), ``channel``, ``recipient``, ``timeout`` and
    ``settings``; it says its ``secrets``. Environment variables it sets with
    :meth:`set_env` (a token, as an operator would) are restored by :meth:`close`.
    """

    #: the conformance family's answers (``refused``, ``dead``, ``throttled``,
    #: ``unavailable``, ``stall``) → the simulator's faults
    answers: ClassVar[Mapping[str, str]]
    #: the kind of notification the checks send
    kind: ClassVar[str] = "push"
    #: whether the provider's answers can carry a Retry-After (False: the checks that
    #: need one are skipped)
    retry_after: ClassVar[bool] = True

    simulator: SimulatorT
    channel: ChannelT
    recipient: str
    timeout: float
    settings: dict[str, str]

    def __init__(self) -> None:
        self._saved_env: dict[str, str | None] = {}

    def set_env(self, name: str, value: str) -> None:
        """Set the environment variable ``name`` while the harness lives."""
        self._saved_env.setdefault(name, os.environ.get(name))
        os.environ[name] = value

    def requests(self) -> int:
        return self.simulator.requests

    def received(self) -> int:
        return len(self.simulator.messages)

    def fail_next(self, answer: str, *, times: int = 1, retry_after: int | None = None) -> bool:
        if retry_after is not None and not self.retry_after:
            return False
        self.simulator.fail_next(self.answers[answer], times=times, retry_after=retry_after)
        return True

    def fail_always(self, answer: str, *, retry_after: int | None = None) -> bool:
        if retry_after is not None and not self.retry_after:
            return False
        self.simulator.fail_always(self.answers[answer], retry_after=retry_after)
        return True

    def heal(self) -> None:
        self.simulator.heal()

    def close(self) -> None:
        """Close the channel, stop the simulator, restore the environment."""
        self.channel.close()
        self.simulator.stop()
        while self._saved_env:
            name, previous = self._saved_env.popitem()
            if previous is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = previous

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
