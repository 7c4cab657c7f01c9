"""Retries of idempotent billing calls: bounded, jittered, and only after transient errors."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import attrs
import tenacity

from pes_sdk.billing.errors import RETRYABLE

__all__ = ["BillingRetry"]

T = TypeVar("T")


def _sleep(seconds: float) -> None:
    threading.Event().wait(seconds)


@attrs.frozen
class BillingRetry:
    """How an idempotent call is retried: at most ``attempts`` tries, and never forever.

    Waits grow exponentially from ``initial_wait`` up to ``max_wait`` with random jitter (so
    that many clients cut off at once do not come back at once). Only
    :data:`~pes_sdk.billing.errors.RETRYABLE` errors are retried; any other error, and the
    last transient one once the attempts (or ``deadline`` seconds, when given) are spent,
    reaches the caller as it was raised. A call that is not idempotent must not go through
    this at all: use :meth:`once`.
    """

    attempts: int = attrs.field(default=4, validator=attrs.validators.ge(1))
    initial_wait: float = attrs.field(default=0.2, validator=attrs.validators.ge(0))
    max_wait: float = attrs.field(default=5.0, validator=attrs.validators.ge(0))
    #: seconds after the first attempt when no new attempt starts; None: attempts only
    deadline: float | None = None
    #: the sleep function (tests may pass one that does not wait)
    sleep: Callable[[float], None] = attrs.field(factory=lambda: _sleep, eq=False)

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn``, retrying it after transient errors within the bounds."""
        stop: tenacity.stop.stop_base = tenacity.stop_after_attempt(self.attempts)
        if self.deadline is not None:
            stop = stop | tenacity.stop_after_delay(self.deadline)
        retrying = tenacity.Retrying(
            stop=stop,
            # exponential from initial_wait, capped at max_wait, plus up to initial_wait of
            # jitter (spelled this way for every tenacity from 8.2 on)
            wait=tenacity.wait_exponential(multiplier=self.initial_wait, max=self.max_wait)
            + tenacity.wait_random(0, self.initial_wait),
            retry=tenacity.retry_if_exception_type(RETRYABLE),
            sleep=self.sleep,
            reraise=True,
        )
        return retrying(fn)

    @staticmethod
    def once(fn: Callable[[], T]) -> T:
        """Run a call that is not idempotent: exactly one attempt, errors as raised."""
        return fn()
