"""Conformance checks of the **notification channel** family: SMS, push and e-mail channels.

A channel author activates the plugin and subclasses :class:`ChannelConformance`, giving it
a ``channel_harness`` fixture: the channel configured against a simulator of its provider's
protocol on loopback, and a way to make that provider answer as the check needs (any object
with the members of :class:`ChannelHarness`)::

    # conftest.py
    pytest_plugins = ["pes_sdk_conformance.plugin"]

    # test_conformance.py
    from pes_sdk_conformance.notifications import ChannelConformance

    class TestMyChannel(ChannelConformance):
        @pytest.fixture
        def channel_harness(self):
            with MyHarness(timeout=1.0) as harness:   # the provider's simulator on loopback
                yield harness

What is checked (all at level 1):

* **answers**: accepted (a :class:`~pes_sdk.notifications.SendResult` in UTC, one message
  at the provider, also with a title, an image, buttons, data and a collapse id in
  Cyrillic); refused (:class:`~pes_sdk.notifications.RecipientRefused` and *not*
  :class:`~pes_sdk.notifications.DeadRecipient`); a dead token or mailbox
  (:class:`~pes_sdk.notifications.DeadRecipient`, never a temporary error); throttled and
  unavailable (:class:`~pes_sdk.notifications.ChannelUnavailable`, with the provider's
  ``retry_after`` when its protocol carries one);
* **retries bounded**: a channel sends once per call, never retrying on its own (a
  provider failing for good gets one request, in bounded time); through
  :func:`pes_sdk.notifications.send_with_retries`, a provider throttling with a
  Retry-After gets exactly ``attempts`` requests and the waits are its hint capped at
  ``max_wait``; a provider that recovers is retried through to one message;
* **idempotent sending**: the same ``key`` twice reaches the provider once (the second
  send answers the first result, or raises a :class:`~pes_sdk.notifications.ChannelError`),
  also from two threads at once; another key is another message; a key whose send failed
  is sent again;
* **no secret and no recipient** in the log (DEBUG), in the channel's ``repr`` or in any
  error raised (message, ``repr`` and every chained cause);
* **wrong kinds**: every kind the channel does not carry raises
  :class:`~pes_sdk.notifications.WrongKind` and reaches no provider;
* **timeouts**: a provider that never answers gives ``ChannelUnavailable`` after about the
  channel's timeout (at most ``3 × timeout + 5`` seconds), not a hang.

A harness that cannot make its provider answer some way returns False and the check is
skipped, saying so (SMTP has no Retry-After, for one). The log check reads every logger:
a harness keeps its simulator's own logging (which may well name the recipient) quiet.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, Protocol, TypeVar

import pytest

from pes_sdk.notifications import (
    KINDS,
    Button,
    ChannelError,
    ChannelUnavailable,
    DeadRecipient,
    Notification,
    NotificationChannel,
    RecipientRefused,
    SendResult,
    WrongKind,
    send_with_retries,
)

__all__ = ["ANSWERS", "ChannelConformance", "ChannelHarness", "call_bounded"]

#: How a harness can make its provider answer: ``refused`` (this recipient, for good, not
#: dead: an SMS number that cannot receive, FCM ``INVALID_ARGUMENT``, SMTP 553),
#: ``dead`` (the recipient is gone: FCM ``UNREGISTERED``, APNs 410, SMTP 550 5.1.1),
#: ``throttled`` (FCM ``QUOTA_EXCEEDED``/429, SMTP 451 4.7.1), ``unavailable`` (5xx, SMTP
#: 421), ``stall`` (the provider never answers until :meth:`ChannelHarness.heal`)
ANSWERS = ("refused", "dead", "throttled", "unavailable", "stall")

TEXT = "Начислено 1 234,56 руб. за ноябрь — ООО «Теплосеть». Оплатите до 25-го числа"
TITLE = "Начисление за ноябрь"

T = TypeVar("T")


class ChannelHarness(Protocol):
    """What the suite needs from the author: the channel and its provider's side."""

    @property
    def channel(self) -> NotificationChannel:
        """The channel under test, configured against the simulated provider."""
        ...

    @property
    def kind(self) -> str:
        """The kind of notification the checks send (one of ``channel.kinds``)."""
        ...

    @property
    def recipient(self) -> str:
        """A recipient the provider accepts (a phone, an address, a device token)."""
        ...

    @property
    def secrets(self) -> tuple[str, ...]:
        """The channel's credentials (passwords, keys, tokens) that must never show."""
        ...

    @property
    def timeout(self) -> float:
        """The channel's timeout on one call to the provider, in seconds."""
        ...

    def requests(self) -> int:
        """How many send attempts reached the provider, whatever it answered."""
        ...

    def received(self) -> int:
        """How many messages the provider accepted (a duplicate shows here)."""
        ...

    def fail_next(self, answer: str, *, times: int = 1, retry_after: int | None = None) -> bool:
        """Make the provider answer the next ``times`` attempts with ``answer`` (see
        :data:`ANSWERS`), with a Retry-After of ``retry_after`` seconds when given;
        False: the provider's protocol cannot answer so."""
        ...

    def fail_always(self, answer: str, *, retry_after: int | None = None) -> bool:
        """As :meth:`fail_next`, for every attempt until :meth:`heal`."""
        ...

    def heal(self) -> None:
        """Answer normally again, and end every stall now."""
        ...


def call_bounded(fn: Callable[[], T], seconds: float, on_overrun: Callable[[], None]) -> T:
    """``fn()`` in a thread; fails the check when it has not returned within ``seconds``.

    On an overrun ``on_overrun`` runs (a harness's ``heal``, so that the stuck call can end)
    and the check fails saying the call hung; the thread is a daemon, so a call that never
    ends cannot keep the test run alive.
    """
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # handed back to the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="pes-conformance-send", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        on_overrun()
        thread.join(seconds)
        pytest.fail(f"the call did not end within {seconds:.1f} s: it hangs or retries forever")
    if "error" in outcome:
        raise outcome["error"]
    value: T = outcome["value"]
    return value


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


class ChannelConformance:
    """The notification channel family's checks. Subclass it and provide ``channel_harness``."""

    @pytest.fixture
    def channel_harness(self) -> Any:
        """Override: yield a harness (see :class:`ChannelHarness`)."""
        pytest.fail("override the channel_harness fixture in your ChannelConformance subclass")

    # -- helpers -------------------------------------------------------------------------

    @staticmethod
    def notification(
        harness: ChannelHarness, *, key: str | None = None, **extra: Any
    ) -> Notification:
        """A notification of the harness's kind to its recipient, with a fresh key."""
        return Notification(
            kind=harness.kind,
            to=harness.recipient,
            text=TEXT,
            key=key or f"conformance:{uuid.uuid4().hex}",
            **extra,
        )

    @staticmethod
    def _inject(harness: ChannelHarness, answer: str, **options: Any) -> None:
        if not harness.fail_next(answer, **options):
            pytest.skip(f"the harness cannot make the provider answer {answer!r} {options}")

    @staticmethod
    def _bound(harness: ChannelHarness) -> float:
        return 3 * harness.timeout + 5

    def _send(self, harness: ChannelHarness, notification: Notification) -> SendResult:
        return call_bounded(
            lambda: harness.channel.send(notification), self._bound(harness), harness.heal
        )

    # -- answers -------------------------------------------------------------------------

    def test_accepted(self, channel_harness: ChannelHarness) -> None:
        before = dt.datetime.now(dt.UTC)
        result = self._send(channel_harness, self.notification(channel_harness))
        after = dt.datetime.now(dt.UTC)
        assert isinstance(result, SendResult)
        assert result.message_id, "an accepted message has an id"
        assert result.accepted_at.tzinfo is dt.UTC
        assert before - dt.timedelta(seconds=1) <= result.accepted_at <= after
        assert channel_harness.received() == 1
        assert channel_harness.requests() == 1

    def test_accepted_with_every_field(self, channel_harness: ChannelHarness) -> None:
        notification = self.notification(
            channel_harness,
            title=TITLE,
            image="https://cdn.example.ru/campaigns/42/banner.png",
            buttons=(
                Button("Оплатить", "https://pay.example.ru/pay?account=0000123"),
                Button("Подробнее", "https://example.ru/news/42"),
                Button("Передать показания", "https://example.ru/readings"),
            ),
            data={"campaign": "42", "screen": "оплата"},
            collapse="charges-2026-11",
        )
        result = self._send(channel_harness, notification)
        assert result.message_id
        assert channel_harness.received() == 1

    def test_refused_recipient(self, channel_harness: ChannelHarness) -> None:
        self._inject(channel_harness, "refused")
        with pytest.raises(RecipientRefused) as caught:
            self._send(channel_harness, self.notification(channel_harness))
        assert not isinstance(caught.value, DeadRecipient), (
            "a refusal that is not a dead recipient must not be reported as one: the runner "
            "would delete a token that still works"
        )
        assert caught.value.channel == channel_harness.channel.name
        assert channel_harness.received() == 0
        assert channel_harness.requests() == 1, "a refusal for good is never retried"

    def test_dead_recipient(self, channel_harness: ChannelHarness) -> None:
        self._inject(channel_harness, "dead")
        with pytest.raises(ChannelError) as caught:
            self._send(channel_harness, self.notification(channel_harness))
        assert isinstance(caught.value, DeadRecipient), (
            f"a dead token or mailbox must raise DeadRecipient (the runner deletes it), "
            f"not {type(caught.value).__name__}"
        )
        assert channel_harness.requests() == 1, "a dead recipient is never retried"

    def test_throttled_is_unavailable(self, channel_harness: ChannelHarness) -> None:
        self._inject(channel_harness, "throttled")
        with pytest.raises(ChannelError) as caught:
            self._send(channel_harness, self.notification(channel_harness))
        assert isinstance(caught.value, ChannelUnavailable), (
            f"throttling is temporary: ChannelUnavailable, not {type(caught.value).__name__}"
        )
        retry_after = caught.value.retry_after
        assert retry_after is None or retry_after >= 0
        assert channel_harness.requests() == 1, "a channel never retries on its own"

    def test_throttled_with_retry_after(self, channel_harness: ChannelHarness) -> None:
        self._inject(channel_harness, "throttled", retry_after=7)
        with pytest.raises(ChannelUnavailable) as caught:
            self._send(channel_harness, self.notification(channel_harness))
        assert caught.value.retry_after == 7, (
            f"the provider said Retry-After: 7; the error says {caught.value.retry_after}"
        )

    def test_unavailable(self, channel_harness: ChannelHarness) -> None:
        self._inject(channel_harness, "unavailable")
        with pytest.raises(ChannelUnavailable):
            self._send(channel_harness, self.notification(channel_harness))
        assert channel_harness.received() == 0
        assert channel_harness.requests() == 1, "a channel never retries on its own"

    # -- retries -------------------------------------------------------------------------

    def test_never_retries_on_its_own(self, channel_harness: ChannelHarness) -> None:
        if not channel_harness.fail_always("unavailable"):
            pytest.skip("the harness cannot make the provider fail for good")
        with pytest.raises(ChannelUnavailable):
            self._send(channel_harness, self.notification(channel_harness))
        assert channel_harness.requests() == 1, "a channel never retries on its own"

    def test_retries_bounded_honouring_retry_after(self, channel_harness: ChannelHarness) -> None:
        if not channel_harness.fail_always("throttled", retry_after=5):
            pytest.skip("the provider's protocol cannot throttle with a Retry-After")
        waits: list[float] = []
        with pytest.raises(ChannelUnavailable):
            call_bounded(
                lambda: send_with_retries(
                    channel_harness.channel,
                    self.notification(channel_harness),
                    attempts=3,
                    max_wait=2.0,
                    initial_wait=0.001,
                    sleep=waits.append,  # recorded, not slept: the waits are what is checked
                ),
                3 * self._bound(channel_harness),
                channel_harness.heal,
            )
        assert channel_harness.requests() == 3, "send_with_retries makes exactly `attempts`"
        assert waits == [2.0, 2.0], (
            f"the provider asked for 5 s (capped at max_wait 2 s); waited {waits}"
        )

    def test_retried_through_to_one_message(self, channel_harness: ChannelHarness) -> None:
        self._inject(channel_harness, "unavailable", times=2)
        result = call_bounded(
            lambda: send_with_retries(
                channel_harness.channel,
                self.notification(channel_harness),
                attempts=3,
                initial_wait=0.001,
                sleep=lambda _: None,  # no wait needed: the provider recovers on its own
            ),
            3 * self._bound(channel_harness),
            channel_harness.heal,
        )
        assert result.message_id
        assert channel_harness.requests() == 3
        assert channel_harness.received() == 1

    # -- idempotency ---------------------------------------------------------------------

    def _send_again(self, harness: ChannelHarness, notification: Notification) -> None:
        try:
            self._send(harness, notification)
        except ChannelError as exc:
            # refusing the duplicate is allowed; an error that invites a retry is not
            assert not isinstance(exc, ChannelUnavailable), "a duplicate is not 'try later'"

    def test_same_key_is_one_message(self, channel_harness: ChannelHarness) -> None:
        notification = self.notification(channel_harness, title=TITLE)
        first = self._send(channel_harness, notification)
        self._send_again(channel_harness, notification)
        # the same key, rebuilt (as after a restart of the campaign within this process)
        rebuilt = self.notification(channel_harness, key=notification.key, title=TITLE)
        self._send_again(channel_harness, rebuilt)
        assert channel_harness.received() == 1, "one key reached the provider more than once"
        assert first.message_id
        self._send(channel_harness, self.notification(channel_harness, title=TITLE))
        assert channel_harness.received() == 2, "another key is another message"

    def test_same_key_from_two_threads_is_one_message(
        self, channel_harness: ChannelHarness
    ) -> None:
        notification = self.notification(channel_harness)
        start = threading.Barrier(2)

        def send() -> None:
            start.wait()
            self._send_again(channel_harness, notification)

        threads = [threading.Thread(target=send) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(self._bound(channel_harness) * 2)
        assert channel_harness.received() == 1, "one key reached the provider twice"

    def test_key_sent_again_after_a_failure(self, channel_harness: ChannelHarness) -> None:
        self._inject(channel_harness, "unavailable")
        notification = self.notification(channel_harness)
        with pytest.raises(ChannelUnavailable):
            self._send(channel_harness, notification)
        result = self._send(channel_harness, notification)
        assert result.message_id
        assert channel_harness.received() == 1, "a key whose send failed must be sendable"

    # -- personal data and secrets -------------------------------------------------------

    def test_no_recipient_or_secret_shows(
        self, channel_harness: ChannelHarness, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        hidden = [channel_harness.recipient, *channel_harness.secrets]
        errors: list[BaseException] = []
        self._send(channel_harness, self.notification(channel_harness))
        for answer in ("refused", "dead", "throttled", "unavailable"):
            if not channel_harness.fail_next(answer):
                continue
            try:
                self._send(channel_harness, self.notification(channel_harness))
            except ChannelError as exc:
                errors.append(exc)
        shown = [caplog.text, repr(channel_harness.channel), str(channel_harness.channel)]
        for error in errors:
            for link in _chain(error):
                shown += [str(link), repr(link)]
        for value in hidden:
            if not value:
                continue
            for text in shown:
                assert value not in text, (
                    f"a recipient or a secret shows in the log, the channel or an error: "
                    f"{text[:300]!r}"
                )

    # -- kinds and timeouts --------------------------------------------------------------

    def test_wrong_kind(self, channel_harness: ChannelHarness) -> None:
        channel = channel_harness.channel
        others = [k for k in KINDS if k not in channel.kinds]
        if not others:
            pytest.skip("the channel carries every kind")
        for kind in others:
            with pytest.raises(WrongKind) as caught:
                channel.send(Notification(kind=kind, to=channel_harness.recipient, text=TEXT))
            assert caught.value.kind == kind
        assert channel_harness.requests() == 0, "a wrong kind reaches no provider"

    def test_stalled_provider_times_out(self, channel_harness: ChannelHarness) -> None:
        timeout = channel_harness.timeout
        assert 0 < timeout < float("inf"), "a channel declares a finite timeout"
        self._inject(channel_harness, "stall")
        began = time.monotonic()
        try:
            with pytest.raises(ChannelUnavailable):
                self._send(channel_harness, self.notification(channel_harness))
        finally:
            channel_harness.heal()
        waited = time.monotonic() - began
        assert waited <= self._bound(channel_harness), (
            f"gave up after {waited:.1f} s with a timeout of {timeout} s"
        )
