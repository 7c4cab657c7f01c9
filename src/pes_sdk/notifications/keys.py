"""Once per key: what a channel object remembers of the messages it has handed over.

Most push and SMS providers take every request as a new message (FCM, RuStore, SMS
gateways; SMTP servers too), so a repeat of one key (a campaign resumed after a crash, a
retry after a lost answer) would reach the person twice. :class:`SentKeys` is the channel's
own guard: a key it has handed over answers its first :class:`SendResult` again without a
second request, and two threads sending one key at once make one request. It is memory,
not a store: the runner's store is what keeps a key from being sent twice across processes
and restarts; this catches the repeats within one channel object.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from pes_sdk.notifications.contract import SendResult

__all__ = ["DEFAULT_CAPACITY", "SentKeys"]

#: How many keys a :class:`SentKeys` remembers by default (about 20 MB at most).
DEFAULT_CAPACITY = 100_000


class SentKeys:
    """The keys handed over (with the provider's answer), the oldest forgotten past
    ``capacity``. Thread-safe."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError(f"SentKeys keeps at least one key, not {capacity}")
        self.capacity = capacity
        self._lock = threading.Lock()
        self._done: OrderedDict[str, SendResult] = OrderedDict()
        self._pending: dict[str, threading.Event] = {}

    def __len__(self) -> int:
        with self._lock:
            return len(self._done)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._done

    def result(self, key: str) -> SendResult | None:
        """The answer of ``key``'s handing over, or None when it was not (or is forgotten)."""
        with self._lock:
            return self._done.get(key)

    def send_once(self, key: str, send: Callable[[], SendResult]) -> SendResult:
        """``send()`` unless ``key`` was handed over already: then its first answer.

        A ``send()`` that raises is not remembered (a later try of the key sends again); a
        caller of a key in flight in another thread waits for that one's outcome.
        """
        while True:
            with self._lock:
                done = self._done.get(key)
                if done is not None:
                    self._done.move_to_end(key)
                    return done
                in_flight = self._pending.get(key)
                if in_flight is None:
                    mine = threading.Event()
                    self._pending[key] = mine
                    break
            # the other thread's send has a timeout of its own, so this wait ends
            in_flight.wait()
        try:
            result = send()
        except BaseException:
            with self._lock:
                del self._pending[key]
            mine.set()
            raise
        with self._lock:
            self._done[key] = result
            del self._pending[key]
            while len(self._done) > self.capacity:
                self._done.popitem(last=False)
        mine.set()
        return result
