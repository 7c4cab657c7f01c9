"""A base for faithful loopback simulators of acquirers, and for the harnesses that drive them.

The kit's acquirer adapters (sandbox, ЮKassa, T-Bank, Sber) each ship a simulator: a real
HTTP server on ``127.0.0.1`` speaking the acquirer's protocol, with switches for bad days,
and a harness that drives the acquirer's side for the conformance suite. What they share
lives here, so that each keeps only its protocol (routes, request and answer shapes,
signing, statuses); an integrator writing a new gateway adapter builds on the same pieces:

* :class:`LoopbackServer` — a ``ThreadingHTTPServer`` on ``127.0.0.1`` (a free port unless
  one is given) served from a daemon thread: :meth:`~LoopbackServer.start`,
  :meth:`~LoopbackServer.stop`, a context manager, :attr:`~LoopbackServer.root_url`;
* :class:`SimulatorHandler` — the request handler's plumbing (HTTP/1.1 keep-alive, no Nagle
  stalls, no request logs, ``_send`` and ``_body``); a simulator subclasses it and writes
  ``_dispatch``;
* :class:`LoopbackSimulator` — the server plus the failure switches (an error rate, lost
  answers, slow answers and the ``fail_next`` / ``lose_next`` / ``stall_next`` counters, see
  :class:`FailureSwitches`) and an outbox of webhooks: at least once, with switches that
  duplicate, reorder, drop or delay them, a few retries, and :meth:`~LoopbackSimulator.flush`;
  idempotence keys (:meth:`~LoopbackSimulator._once`) and the confirmation page's buttons
  (:meth:`~LoopbackSimulator._press_button`, :func:`confirmation_page`);
* :class:`LoopbackReceiver` — an endpoint that hands each webhook, raw, to a callable as a
  :class:`~pes_sdk.gateways.models.WebhookRequest`;
* :class:`SimulatorHarness` — the conformance harness's plumbing: a recording receiver,
  pressing the confirmation page's buttons as a browser would, losing, timing out or
  stalling the next answer and waiting for a stalled call to finish its work, refusing the
  next refund, a second gateway sharing no memory with the first;
* :class:`AcquirerReceipt` — a receipt as the acquirer holds it, translated back by a
  harness from its protocol into neutral terms, for the suite to compare with the one sent.

Why :mod:`http.server` rather than an ASGI app: simulators must run wherever the core runs
with nothing else installed and start in milliseconds inside a test. This module is not
imported by :mod:`pes_sdk.gateways` itself: loading plugins must not load an HTTP server.
"""

from __future__ import annotations

import hashlib
import html
import queue
import random
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from decimal import Decimal
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Generic, Literal, Protocol, Self, TypeVar

import attrs

from pes_sdk.gateways.errors import GatewayError
from pes_sdk.gateways.http import HttpTransport
from pes_sdk.gateways.models import GatewayPayment, WebhookRequest
from pes_sdk.models.receipts import AgentType, ReceiptVat
from pes_sdk.money import amount as to_amount

__all__ = [
    "AcquirerPosition",
    "AcquirerReceipt",
    "FailureSwitches",
    "LoopbackReceiver",
    "LoopbackServer",
    "LoopbackSimulator",
    "NoRedirect",
    "SimulatorHandler",
    "SimulatorHarness",
    "confirmation_page",
    "e164",
    "press_page",
]

#: what the outbox makes of one delivery attempt: delivered, try again, or give up
Outcome = Literal["sent", "retry", "refused"]
#: what a receiver's handler answers: a status (empty body) or a status and a text body
Answer = int | tuple[int, bytes]


class _Server(ThreadingHTTPServer):
    """A ``ThreadingHTTPServer`` that counts the requests its handlers are working on."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self.in_flight = 0
        self.idle = threading.Condition()


class _Busy:
    """Counts one request as in flight on its server (a :class:`_Server`) while it runs."""

    def __init__(self, server: object) -> None:
        self._server = server if isinstance(server, _Server) else None

    def __enter__(self) -> None:
        if self._server is not None:
            with self._server.idle:
                self._server.in_flight += 1

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            with self._server.idle:
                self._server.in_flight -= 1
                self._server.idle.notify_all()


class LoopbackServer:
    """A ``ThreadingHTTPServer`` on ``127.0.0.1`` served from a daemon thread.

    :param handler: the request handler class (it reaches its owner through a closure).
    :param port: 0 for a free port.
    :param name: the serving thread's name.
    """

    def __init__(
        self, handler: type[BaseHTTPRequestHandler], *, port: int = 0, name: str = "loopback"
    ) -> None:
        self._server = _Server(("127.0.0.1", port), handler)
        self._thread: threading.Thread | None = None
        self._thread_name = name

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:<port>``, with no path."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        """Serve from a daemon thread (again a no-op once started)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=self._thread_name,
                daemon=True,
            )
            self._thread.start()
            self._started()
        return self

    def _started(self) -> None:
        """Called once the server thread runs: start what else the server needs."""

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until no request of a :class:`SimulatorHandler` is being worked on.

        False if one still is after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._server.idle:
            while self._server.in_flight > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._server.idle.wait(left)
        return True

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class SimulatorHandler(BaseHTTPRequestHandler):
    """The plumbing of a simulator's request handler; subclasses write :meth:`_dispatch`."""

    # headers and body are written separately: without this, Nagle and delayed ACKs
    # add ~40 ms to every kept-alive exchange
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"  # keep-alive, as a real acquirer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # no request logs: paths carry payment ids, bodies amounts and credentials

    def _send(self, status: int, body: bytes, content_type: str, **extra: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            # the client gave up waiting (its timeout): nobody is left to answer
            self.close_connection = True

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _dispatch(self, method: str) -> None:
        raise NotImplementedError

    # Each request counts as in flight while it is worked on, so that a harness can wait
    # for a stalled call to finish its work after the client gave up on it.
    def do_GET(self) -> None:
        with _Busy(self.server):
            self._dispatch("GET")

    def do_POST(self) -> None:
        with _Busy(self.server):
            self._dispatch("POST")


class FailureSwitches(Protocol):
    """The switches every simulator has; rates are probabilities in 0..1."""

    #: answer an error without doing anything
    api_error_rate: float
    #: do the work, then answer an error (the answer is "lost")
    lost_answer_rate: float
    #: answer only after ``api_delay`` seconds
    slow_rate: float
    api_delay: float
    #: the next N calls fail, lose their answer, or stall
    fail_next: int
    lose_next: int
    stall_next: int


SwitchesT = TypeVar("SwitchesT", bound=FailureSwitches)
ItemT = TypeVar("ItemT")


class LoopbackSimulator(LoopbackServer, Generic[SwitchesT, ItemT]):
    """A simulated acquirer: a loopback server, failure switches and a webhook outbox.

    A subclass answers the protocol and puts webhooks (``ItemT``: whatever its deliveries
    need, e.g. a body, or a URL and a body) in the outbox with :meth:`_enqueue`; it says where
    each goes (:meth:`_target`) and how one attempt is made (:meth:`_send_once`).

    The outbox's switches are read from ``switches`` by the names in the class variables
    below (``None``: the simulator has no such switch).
    """

    duplicate_switch: ClassVar[str] = "webhook_duplicate_rate"
    reorder_switch: ClassVar[str] = "webhook_reorder_rate"
    drop_switch: ClassVar[str] = "webhook_drop_rate"
    delay_switch: ClassVar[str | None] = "webhook_delay"
    #: send the webhooks held back by a reorder right after the next one (else when idle)
    send_held_with_next: ClassVar[bool] = True
    #: the ``gateway`` name of the outbox's HTTP transports
    transport_name: ClassVar[str] = "simulator-webhooks"

    def __init__(
        self,
        handler: type[BaseHTTPRequestHandler],
        *,
        switches: SwitchesT,
        port: int = 0,
        seed: int | None = None,
        webhook_workers: int = 1,
        name: str = "simulator",
        worker_name: str = "simulator-webhooks",
    ) -> None:
        super().__init__(handler, port=port, name=name)
        self.switches = switches
        self._rng = random.Random(seed)
        self._lock = threading.RLock()
        self._queue: queue.Queue[ItemT | None] = queue.Queue()
        self._held: list[ItemT] = []
        self._outstanding = 0
        self._idle = threading.Condition(self._lock)
        self._workers: list[threading.Thread] = []
        self._n_workers = webhook_workers
        self._worker_name = worker_name
        #: Idempotence-Key → (fingerprint of the request, status, answer), see :meth:`_once`
        self._keys: dict[str, tuple[str, int, bytes]] = {}
        self.webhooks_sent = 0
        self.webhooks_dropped = 0
        self.webhooks_duplicated = 0
        self.webhooks_reordered = 0
        # a stall waits on this, so it can be ended early (end_stalls, stop) instead of
        # keeping a test, or the server's shutdown, waiting for the whole api_delay
        self._stalls = threading.Condition()
        self._stall_round = 0

    # -- life ----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """Where clients point; the root unless the protocol has a path prefix."""
        return self.root_url

    def _started(self) -> None:
        for i in range(self._n_workers):
            name = self._worker_name if self._n_workers == 1 else f"{self._worker_name}-{i}"
            worker = threading.Thread(target=self._send_loop, name=name, daemon=True)
            worker.start()
            self._workers.append(worker)

    def stop(self) -> None:
        """Stop serving, then let the outbox's workers finish what they are sending."""
        self._release_stalls()
        super().stop()
        for _ in self._workers:
            self._queue.put(None)
        for worker in self._workers:
            worker.join()
        self._workers.clear()

    # -- failure switches ----------------------------------------------------------------

    def _chance(self, rate: float) -> bool:
        with self._lock:
            return rate > 0 and self._rng.random() < rate

    def _take_next(self, *, counted: bool = True, blocked: bool = False) -> tuple[bool, bool, bool]:
        """Take one of each ``*_next`` counter that acts on this call: (fail, lose, stall).

        ``counted`` False: the call does not count (the counters wait for another one);
        ``blocked``: the call already fails otherwise (fail and lose wait, a stall does not).
        """
        sw = self.switches
        with self._lock:
            fail = counted and not blocked and sw.fail_next > 0
            lose = counted and not blocked and not fail and sw.lose_next > 0
            stall = counted and sw.stall_next > 0
            sw.fail_next -= fail
            sw.lose_next -= lose
            sw.stall_next -= stall
        return fail, lose, stall

    def _stall(self, stall: bool) -> None:
        """Wait ``api_delay`` if this call stalls (by counter or by ``slow_rate``).

        :meth:`end_stalls` ends the wait early; the call then goes on to do its work.
        """
        if stall or self._chance(self.switches.slow_rate):
            deadline = time.monotonic() + self.switches.api_delay
            with self._stalls:
                round_ = self._stall_round
                while self._stall_round == round_:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._stalls.wait(left)

    def end_stalls(self, timeout: float = 10.0) -> bool:
        """End every stall now; return once each stalled call has done its work.

        The client of a stalled call has usually given up (its timeout): the call still
        does what it was asked, as an acquirer does, and its answer goes nowhere. False if
        a call is still being worked on after ``timeout`` seconds.
        """
        self._release_stalls()
        return self.wait_idle(timeout)

    def _release_stalls(self) -> None:
        with self._stalls:
            self._stall_round += 1
            self._stalls.notify_all()

    def _fails(self, fail: bool) -> bool:
        """Whether this call fails before any work (by counter or by ``api_error_rate``)."""
        return fail or self._chance(self.switches.api_error_rate)

    def _loses(self, lose: bool) -> bool:
        """Whether the answer of work done is lost (by counter or by ``lost_answer_rate``)."""
        return lose or self._chance(self.switches.lost_answer_rate)

    # -- idempotence and the confirmation page ------------------------------------------

    def _once(
        self,
        key: str,
        request: bytes,
        work: Callable[[], tuple[int, bytes]],
        conflict: Callable[[], tuple[int, bytes]],
    ) -> tuple[int, bytes]:
        """Do ``work`` once per idempotence ``key``; a repeat gets the first answer.

        ``request`` identifies what was asked (method, path and body): the same key with
        another request gets ``conflict()``. A 5xx is not kept, so a retry does the work.
        """
        fingerprint = hashlib.sha256(request).hexdigest()
        with self._lock:  # the check and the work are one step: no twin can slip in
            seen = self._keys.get(key)
            if seen is not None:
                return (seen[1], seen[2]) if seen[0] == fingerprint else conflict()
            status, answer = work()
            if status < 500:
                self._keys[key] = (fingerprint, status, answer)
            return status, answer

    def approve(self, payment_id: str) -> None:
        """The client paid (the page's "pay" button)."""
        raise NotImplementedError

    def decline(self, payment_id: str) -> None:
        """The issuer declined (the page's "decline" button)."""
        raise NotImplementedError

    def _press_button(self, payment_id: str, action: str, unknown: Exception) -> None:
        """Apply a button of the confirmation page; ``unknown`` is raised for another one."""
        if action == "pay":
            self.approve(payment_id)
        elif action == "decline":
            self.decline(payment_id)
        else:
            raise unknown

    # -- the outbox ----------------------------------------------------------------------

    def _rate(self, name: str | None) -> float:
        return float(getattr(self.switches, name, 0.0)) if name else 0.0

    def _enqueue(self, item: ItemT) -> None:
        """Put one webhook in the outbox (twice, if the duplicate switch says so)."""
        copies = 2 if self._chance(self._rate(self.duplicate_switch)) else 1
        with self._lock:
            self._outstanding += copies
            self.webhooks_duplicated += copies - 1
        for _ in range(copies):
            self._queue.put(item)

    def _target(self, item: ItemT) -> str | None:
        """The URL ``item`` goes to; None: nowhere (it counts as dropped)."""
        raise NotImplementedError

    def _send_once(self, transport: HttpTransport, item: ItemT) -> Outcome:
        """One delivery attempt; a :class:`GatewayError` is retried."""
        raise NotImplementedError

    def _take_held(self) -> ItemT | None:
        with self._lock:
            return self._held.pop(0) if self._held else None

    def _send_loop(self) -> None:
        transports: dict[str, HttpTransport] = {}
        while True:
            try:
                item = self._queue.get(timeout=0.05)
            except queue.Empty:
                item = self._take_held()
                if item is None:
                    continue
            if item is None:
                return
            if self._chance(self._rate(self.reorder_switch)):
                with self._lock:
                    self._held.append(item)  # sent after a later one, or when idle
                    self.webhooks_reordered += 1
                continue
            batch = [item]
            while self.send_held_with_next and (held := self._take_held()) is not None:
                batch.append(held)
            for one in batch:
                url = self._target(one)
                transport = None
                if url:
                    transport = transports.get(url)
                    if transport is None:
                        transport = HttpTransport(url, timeout=5.0, gateway=self.transport_name)
                        transports[url] = transport
                self._deliver(transport, one)
                with self._lock:
                    self._outstanding -= 1
                    self._idle.notify_all()

    def _deliver(self, transport: HttpTransport | None, item: ItemT) -> None:
        delay = self._rate(self.delay_switch)
        if delay:
            time.sleep(delay)
        if transport is None or self._chance(self._rate(self.drop_switch)):
            with self._lock:
                self.webhooks_dropped += 1
            return
        for attempt in range(3):
            try:
                outcome = self._send_once(transport, item)
            except GatewayError:
                outcome = "retry"
            if outcome == "sent":
                with self._lock:
                    self.webhooks_sent += 1
                return
            if outcome == "refused":
                break
            time.sleep(0.01 * (attempt + 1))
        with self._lock:
            self.webhooks_dropped += 1

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every webhook emitted so far is sent, dropped or given up on."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._outstanding > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True


def confirmation_page(
    *, title: str, heading: str, method: str, total: str, status: str, receipt_to: str = ""
) -> str:
    """A bilingual confirmation page: pay / decline buttons while ``pending``, else the status.

    No card data is asked for: the client's choice is the only input. ``receipt_to``: where
    the acquirer sends the receipt (shown when given).
    """
    esc = html.escape
    buttons = (
        '<form method="post"><button name="action" value="pay">Оплатить / Pay</button> '
        '<button name="action" value="decline">Отклонить / Decline</button></form>'
        if status == "pending"
        else f"<p>Статус / status: <b>{esc(status)}</b></p>"
    )
    return (
        '<!doctype html><html lang="ru"><head><meta charset="utf-8">'
        f"<title>{title}</title></head><body>"
        f"<h1>{heading}</h1><p>{esc(method)}: "
        f"{esc(total)} ₽</p><p>No card data is asked for or kept here.</p>"
        + (f"<p>Чек на / receipt to: <b>{esc(receipt_to)}</b></p>" if receipt_to else "")
        + f"{buttons}</body></html>"
    )


class LoopbackReceiver(LoopbackServer):
    """Listens on ``127.0.0.1`` and calls ``handler`` for each request to ``path``.

    The handler gets the **raw** body and headers, the query and the peer address as a
    :class:`WebhookRequest` and returns the status to answer (an empty body), or a status
    and a ``text/plain`` body. Other paths are answered 404; :attr:`url` is where to send.

    :param methods: the HTTP methods webhooks come by (others are answered 501).
    """

    def __init__(
        self,
        handler: Callable[[WebhookRequest], Answer],
        *,
        path: str,
        methods: tuple[str, ...] = ("POST",),
        name: str = "webhook-receiver",
    ) -> None:
        self.handler = handler
        self.path = path
        self.methods = methods
        super().__init__(_receiver_handler(self), name=name)

    @property
    def url(self) -> str:
        return f"{self.root_url}{self.path}"


def _receiver_handler(receiver: LoopbackReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        disable_nagle_algorithm = True  # see SimulatorHandler
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _handle(self, method: str) -> None:
            if method not in receiver.methods:
                self.send_error(HTTPStatus.NOT_IMPLEMENTED, f"Unsupported method ({method!r})")
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path, _, query = self.path.partition("?")
            answer: Answer = 404
            if path == receiver.path:
                answer = receiver.handler(
                    WebhookRequest(
                        body=body,
                        headers=list(self.headers.items()),
                        query=query,
                        remote_addr=self.client_address[0],
                    )
                )
            if isinstance(answer, int):
                self.send_response(answer)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status, text = answer
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

    return Handler


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """Leaves a redirect unfollowed (it surfaces as an ``HTTPError``)."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def press_page(url: str, action: str, *, timeout: float) -> None:
    """POST ``action=<action>`` to a confirmation page, as a client's browser would.

    The page answers 303 to the merchant's return URL, which is not followed.
    """
    data = urllib.parse.urlencode({"action": action}).encode()
    request = urllib.request.Request(url, data=data, method="POST")
    opener = urllib.request.build_opener(NoRedirect())
    try:
        opener.open(request, timeout=timeout).close()
    except urllib.error.HTTPError as exc:  # the 303 to the return URL
        if exc.code != 303:
            raise


def _tuple(value: Any) -> tuple[Any, ...]:
    return tuple(value)


@attrs.frozen
class AcquirerPosition:
    """One receipt position as the acquirer holds it, in neutral terms.

    ``amount`` is the position's sum (price × quantity) in roubles; ``vat`` and ``agent``
    are the names the acquirer's codes stand for (None: no rate, no agent sign, or a code
    the harness does not know); the supplier's fields are None where the acquirer holds
    none, and ``supplier_phones`` are in E.164 with the plus.
    """

    name: str
    amount: Decimal = attrs.field(converter=to_amount)
    vat: ReceiptVat | None = None
    agent: AgentType | None = None
    supplier_inn: str | None = None
    supplier_name: str | None = None
    supplier_phones: tuple[str, ...] = attrs.field(default=(), converter=_tuple)


@attrs.frozen
class AcquirerReceipt:
    """A payment's or a refund's 54-ФЗ receipt as the acquirer holds it: what a harness's
    ``receipt_at_acquirer`` translates its simulator's stored receipt back into. The
    buyer's contact (tag 1008) is as the receipt names it, the phone in E.164 with the plus.
    """

    positions: tuple[AcquirerPosition, ...] = attrs.field(converter=_tuple)
    customer_email: str | None = None
    customer_phone: str | None = None


def e164(digits: str | None) -> str | None:
    """A phone an acquirer writes without its plus (``79161234567``) in E.164, or None."""
    if not digits:
        return None
    return digits if digits.startswith("+") else "+" + digits


class _Simulator(Protocol):
    @property
    def switches(self) -> Any: ...

    def stop(self) -> None: ...

    def flush(self, timeout: float = ...) -> bool: ...

    def end_stalls(self, timeout: float = ...) -> bool: ...


class _Gateway(Protocol):
    @property
    def timeout(self) -> float: ...

    def close(self) -> None: ...


SimT = TypeVar("SimT", bound=_Simulator)
GatewayT = TypeVar("GatewayT", bound=_Gateway)


class SimulatorHarness(Generic[SimT, GatewayT]):
    """The plumbing of a conformance harness: a simulator, a recording receiver, a gateway.

    A subclass makes ``self.simulator`` and ``self.receiver`` (through :meth:`_record`),
    starts them and sets ``self._gateway`` in ``start``, and says where the confirmation
    page of a payment is (:meth:`_page_url`). :attr:`record_answer` is what the recording
    receiver answers. A subclass that can build a second gateway (:meth:`_new_gateway`)
    gets :meth:`fresh_gateway`; one whose simulator has a ``refuse_refunds_next`` switch
    gets :meth:`refuse_next_refund`, and ``pend_refunds_next`` (with the simulator's
    ``finish_pending_refunds()``) :meth:`pend_next_refund`.
    """

    simulator: SimT
    receiver: LoopbackReceiver
    record_answer: ClassVar[Answer] = 200

    def __init__(self, *, timeout: float = 2.0) -> None:
        self._lock = threading.Lock()
        self._captured: list[WebhookRequest] = []
        self._gateway: GatewayT | None = None
        self._fresh: list[GatewayT] = []
        self._timeout = timeout

    def _record(self, request: WebhookRequest) -> Any:
        with self._lock:
            self._captured.append(request)
        return self.record_answer

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        for gateway in self._fresh:
            gateway.close()
        if self._gateway is not None:
            self._gateway.close()
        self.simulator.stop()
        self.receiver.stop()

    def _new_gateway(self) -> GatewayT | None:
        """A new gateway configured as :attr:`gateway` is; None: this harness cannot."""
        return None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the GatewayHarness methods ------------------------------------------------------

    @property
    def gateway(self) -> GatewayT:
        assert self._gateway is not None, "start the harness first"
        return self._gateway

    def _page_url(self, payment: GatewayPayment) -> str:
        raise NotImplementedError

    def approve(self, payment: GatewayPayment) -> None:
        press_page(self._page_url(payment), "pay", timeout=self._timeout)

    def decline(self, payment: GatewayPayment) -> None:
        press_page(self._page_url(payment), "decline", timeout=self._timeout)

    def webhooks(self) -> list[WebhookRequest]:
        with self._lock:
            return list(self._captured)

    def settle(self) -> None:
        self.simulator.flush()

    def lose_next_answer(self) -> bool:
        self.simulator.switches.lose_next += 1
        return True

    def time_out_next_answer(self) -> bool:
        self.simulator.switches.stall_next += 1
        self.simulator.switches.api_delay = self.gateway.timeout + 0.3
        return True

    def stall_next_answer(self, seconds: float) -> bool:
        """The next API call waits ``seconds`` before its work (and its answer)."""
        self.simulator.switches.stall_next += 1
        self.simulator.switches.api_delay = seconds
        return True

    def finish_stalled_calls(self) -> None:
        """End every stall now and return once each stalled call has done its work."""
        if not self.simulator.end_stalls():
            raise TimeoutError("a stalled call is still being worked on")

    def refuse_next_refund(self) -> bool:
        """The acquirer refuses the next refund (nothing given back); False: can't."""
        switches = self.simulator.switches
        if not hasattr(switches, "refuse_refunds_next"):
            return False
        switches.refuse_refunds_next += 1
        return True

    def pend_next_refund(self) -> bool:
        """The acquirer answers the next refund as still in progress and keeps it so until
        :meth:`finish_pending_refunds`; False: can't (no ``pend_refunds_next`` switch)."""
        switches = self.simulator.switches
        if not hasattr(switches, "pend_refunds_next"):
            return False
        switches.pend_refunds_next += 1
        return True

    def finish_pending_refunds(self) -> None:
        """Every refund the acquirer holds in progress is made now."""
        self.simulator.finish_pending_refunds()  # type: ignore[attr-defined]

    def fresh_gateway(self) -> GatewayT | None:
        """A second gateway like :attr:`gateway`, sharing no memory with it (as after a
        restart); closed with the harness. None: this harness cannot make one."""
        gateway = self._new_gateway()
        if gateway is not None:
            self._fresh.append(gateway)
        return gateway
