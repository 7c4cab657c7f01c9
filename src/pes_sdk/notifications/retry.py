"""Bounded retries of a notification: only when the provider said "later", never forever.

A channel sends once per call (see :class:`~pes_sdk.notifications.NotificationChannel`);
whoever wants a repeat uses :func:`send_with_retries`, which tries again only after
:class:`~pes_sdk.notifications.ChannelUnavailable`, at most ``attempts`` times, waiting
what the provider asked (``retry_after``, from an HTTP ``Retry-After``) but never more than
``max_wait``. A refused recipient and a wrong kind reach the caller at once.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable

import tenacity

from pes_sdk.notifications.contract import Notification, NotificationChannel, SendResult
from pes_sdk.notifications.errors import ChannelUnavailable

__all__ = ["send_with_retries"]

log = logging.getLogger(__name__)


def _sleep(seconds: float) -> None:
    threading.Event().wait(seconds)


def send_with_retries(
    channel: NotificationChannel,
    notification: Notification,
    *,
    attempts: int = 3,
    max_wait: float = 30.0,
    initial_wait: float = 1.0,
    sleep: Callable[[float], None] = _sleep,
) -> SendResult:
    """Send ``notification`` through ``channel``, trying again after ``ChannelUnavailable``.

    At most ``attempts`` sends. Between two, the provider's ``retry_after`` when it gave
    one, else ``initial_wait`` doubled at each attempt plus up to ``initial_wait`` of jitter
    (so that many senders cut off at once do not come back at once); either way at most
    ``max_wait`` seconds. The last ``ChannelUnavailable`` is raised as it was when the
    attempts are spent; any other error at once. The same notification (the same ``key``)
    is sent each time, so a channel that guards its keys never doubles a message.
    ``sleep`` is for tests that must not wait.
    """
    if attempts < 1:
        raise ValueError(f"send_with_retries makes at least one attempt, not {attempts}")
    if max_wait < 0 or initial_wait < 0:
        raise ValueError("send_with_retries waits are not negative")

    def wait(state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome is not None else None
        hint = getattr(error, "retry_after", None)
        if hint is not None and hint >= 0:
            seconds = float(hint)
        else:
            seconds = initial_wait * 2 ** (state.attempt_number - 1)
            seconds += random.uniform(0, initial_wait)  # jitter, not a secret
        return min(seconds, max_wait)

    def before_sleep(state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        # the error names the channel and the provider's code, never the recipient
        log.info(
            "%s: attempt %d of %d failed (%s), next in %.1f s",
            channel.name,
            state.attempt_number,
            attempts,
            getattr(error, "code", "") or type(error).__name__,
            state.upcoming_sleep,
        )

    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(attempts),
        wait=wait,
        retry=tenacity.retry_if_exception_type(ChannelUnavailable),
        before_sleep=before_sleep,
        sleep=sleep,
        reraise=True,
    )
    return retrying(channel.send, notification)
