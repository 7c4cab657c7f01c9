"""A correct notification channel over a small HTTP push protocol, its provider on
loopback, and broken channels, each one small override of the correct one.

The protocol is shaped like FCM HTTP v1, without its OAuth: ``POST /v1/messages:send``
with a bearer token and a JSON message; ``200 {"name": id}``; ``400 INVALID_ARGUMENT`` (a
token that is not one), ``404 UNREGISTERED`` (a dead token), ``429 QUOTA_EXCEEDED`` with
``Retry-After``, ``503 UNAVAILABLE``. The provider, like FCM, takes every request as a new
message: idempotency is the channel's job. Its error details quote the token, as real
providers' do, so a channel that echoes them leaks it.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import logging
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pes_sdk.notifications import (
    ChannelUnavailable,
    DeadRecipient,
    Notification,
    NotificationChannel,
    RecipientRefused,
    SendResult,
    SentKeys,
)

log = logging.getLogger("reference_channel")

TOKEN = "dGhpcyBpcyBhIGRldmljZSB0b2tlbg:APA91bHPRgkF3JUikC4ENAHEeMrd41Zxv3hVZjC9KtT8OvPVGJ"
SECRET = "service-account-secret-3f9a"

FAULTS = {
    "refused": (400, "INVALID_ARGUMENT"),
    "dead": (404, "UNREGISTERED"),
    "throttled": (429, "QUOTA_EXCEEDED"),
    "unavailable": (503, "UNAVAILABLE"),
}


class Provider:
    """The push provider on 127.0.0.1: counts requests, keeps accepted messages."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.messages: list[dict[str, Any]] = []
        self.faults: list[tuple[str, int | None]] = []
        self.always: tuple[str, int | None] | None = None
        self.healed = threading.Event()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet: it would name tokens
                pass

            def do_POST(self) -> None:  # http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with provider.lock:
                    provider.requests += 1
                    fault = provider.faults.pop(0) if provider.faults else provider.always
                if self.headers.get("Authorization") != f"Bearer {SECRET}":
                    return self._answer(401, {"error": {"status": "UNAUTHENTICATED"}})
                message = json.loads(body)["message"]
                if fault is not None and fault[0] == "stall":
                    provider.healed.wait()
                    return self._answer(503, {"error": {"status": "UNAVAILABLE"}})
                if fault is not None:
                    status, code = FAULTS[fault[0]]
                    detail = f"token {message['token']} {code.lower()}"
                    headers = {"Retry-After": str(fault[1])} if fault[1] is not None else {}
                    return self._answer(
                        status, {"error": {"status": code, "message": detail}}, headers
                    )
                name = f"projects/demo/messages/{uuid.uuid4().hex}"
                with provider.lock:
                    provider.messages.append(message)
                return self._answer(200, {"name": name})

            def _answer(
                self, status: int, doc: dict[str, Any], headers: dict[str, str] | None = None
            ) -> None:
                data = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.healed.set()
        self.server.shutdown()
        self.server.server_close()


class ReferenceChannel(NotificationChannel):
    """The correct channel: one request per call, keys guarded, errors mapped, quiet."""

    name = "reference-push"
    kinds = ("push",)

    def __init__(self, port: int, *, timeout: float = 1.0) -> None:
        self.port = port
        self.timeout = timeout
        self.sent = SentKeys()

    def __repr__(self) -> str:
        return f"ReferenceChannel(127.0.0.1:{self.port})"

    def send(self, notification: Notification) -> SendResult:
        self.check_kind(notification)
        return self.sent.send_once(notification.key, lambda: self.post(notification))

    def post(self, notification: Notification) -> SendResult:
        body = json.dumps(
            {
                "message": {
                    "token": notification.to,
                    "notification": {"title": notification.title, "body": notification.text},
                    "data": dict(notification.data),
                }
            }
        )
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            connection.request(
                "POST",
                "/v1/messages:send",
                body=body.encode(),
                headers={"Authorization": f"Bearer {SECRET}", "Content-Type": "application/json"},
            )
            response = connection.getresponse()
            status, retry_after, doc = (
                response.status,
                response.getheader("Retry-After"),
                response.read(),
            )
        except OSError as exc:
            raise ChannelUnavailable(f"provider: {type(exc).__name__}", channel=self.name) from None
        finally:
            connection.close()
        return self.answer(status, retry_after, json.loads(doc))

    def answer(self, status: int, retry_after: str | None, doc: dict[str, Any]) -> SendResult:
        if status == 200:
            log.debug("accepted as %s", doc["name"])
            return SendResult(doc["name"], dt.datetime.now(dt.UTC))
        code = doc.get("error", {}).get("status", "")
        if code == "UNREGISTERED":
            raise DeadRecipient("the token is unregistered", channel=self.name, code=code)
        if status in (429, 503) or status >= 500:
            wait = float(retry_after) if retry_after else None
            raise ChannelUnavailable(
                f"provider answered {status}", channel=self.name, code=code, retry_after=wait
            )
        raise RecipientRefused(f"provider answered {status}", channel=self.name, code=code)


# -- broken channels ---------------------------------------------------------------------


class LogsRecipient(ReferenceChannel):
    """Logs whom it sends to, at DEBUG (a token is personal data)."""

    def post(self, notification: Notification) -> SendResult:
        log.debug("sending a push to %s", notification.to)
        return super().post(notification)


class EchoesProviderText(ReferenceChannel):
    """Puts the provider's error text in its errors: the text quotes the token."""

    def answer(self, status: int, retry_after: str | None, doc: dict[str, Any]) -> SendResult:
        try:
            return super().answer(status, retry_after, doc)
        except RecipientRefused as exc:
            raise type(exc)(doc["error"]["message"], channel=self.name) from None


class RetriesForever(ReferenceChannel):
    """Retries a provider that is unavailable, again and again, on its own."""

    def post(self, notification: Notification) -> SendResult:
        while True:
            try:
                return super().post(notification)
            except ChannelUnavailable:
                time.sleep(0.01)


class IgnoresRetryAfter(ReferenceChannel):
    """Drops the provider's Retry-After: callers retry at their own pace."""

    def answer(self, status: int, retry_after: str | None, doc: dict[str, Any]) -> SendResult:
        return super().answer(status, None, doc)


class DeadAsTemporary(ReferenceChannel):
    """Reports a dead token as a temporary failure: it is retried, never deleted."""

    def answer(self, status: int, retry_after: str | None, doc: dict[str, Any]) -> SendResult:
        try:
            return super().answer(status, retry_after, doc)
        except DeadRecipient as exc:
            raise ChannelUnavailable(str(exc.message), channel=self.name) from None


class RefusedAsDead(ReferenceChannel):
    """Reports every refusal as a dead token: the runner would delete working tokens."""

    def answer(self, status: int, retry_after: str | None, doc: dict[str, Any]) -> SendResult:
        try:
            return super().answer(status, retry_after, doc)
        except RecipientRefused as exc:
            raise DeadRecipient(exc.message, channel=self.name) from None


class SendsDuplicates(ReferenceChannel):
    """Forgets the keys it sent: the same key twice is two messages."""

    def send(self, notification: Notification) -> SendResult:
        self.check_kind(notification)
        return self.post(notification)


class NoTimeout(ReferenceChannel):
    """Declares a timeout, but waits for the provider forever."""

    def post(self, notification: Notification) -> SendResult:
        self.timeout, declared = None, self.timeout  # type: ignore[assignment]
        try:
            return super().post(notification)
        finally:
            self.timeout = declared


class ReferenceHarness:
    """The :class:`~pes_sdk_conformance.notifications.ChannelHarness` of these channels."""

    kind = "push"
    recipient = TOKEN
    secrets = (SECRET,)

    def __init__(self, channel_class: type[ReferenceChannel] = ReferenceChannel) -> None:
        self.provider = Provider()
        self.channel = channel_class(self.provider.port, timeout=0.5)
        self.timeout = 0.5

    def __enter__(self) -> ReferenceHarness:
        self.provider.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.provider.stop()

    def requests(self) -> int:
        with self.provider.lock:
            return self.provider.requests

    def received(self) -> int:
        with self.provider.lock:
            return len(self.provider.messages)

    def fail_next(self, answer: str, *, times: int = 1, retry_after: int | None = None) -> bool:
        with self.provider.lock:
            self.provider.faults.extend([(answer, retry_after)] * times)
        self.provider.healed.clear()
        return True

    def fail_always(self, answer: str, *, retry_after: int | None = None) -> bool:
        with self.provider.lock:
            self.provider.always = (answer, retry_after)
        return True

    def heal(self) -> None:
        with self.provider.lock:
            self.provider.faults.clear()
            self.provider.always = None
        self.provider.healed.set()
