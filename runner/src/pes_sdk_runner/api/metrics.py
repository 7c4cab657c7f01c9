"""Prometheus metrics of the runner, kept and written out by ``prometheus_client``.

Each app has a registry of its own (:class:`prometheus_client.CollectorRegistry`), not the
library's process-wide default: two apps in one process (every test) count apart and never
clash over a metric's name. The counters and gauges are declared here with their labels,
once; :class:`Metrics` keeps the small interface the API, the use cases and the scheduler
count through (``inc``, ``set``).

Several processes (``serve`` and ``worker`` on one PostgreSQL store): each process is a
scrape target of its own, its ``/metrics`` counting what it did (a process that serves no
API can expose its registry with :func:`serve_metrics`); Prometheus sums over targets. Not
the library's multiprocess mode: that one shares a folder of memory-mapped files, so it
serves only processes of one host, must be set up before the library is imported, and
counts in files per metric name, which two apps of one process would share. The facts
read from the store (processes alive, queue depths: :class:`StoreCollector`) are the
fleet's, the same from every target: aggregate them with ``max``, not ``sum``
(docs/runner-api.md, "Metrics").
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, start_http_server
from prometheus_client.registry import Collector

from pes_sdk_runner.logs import event

__all__ = ["CONTENT_TYPE", "Fact", "Metrics", "StoreCollector", "serve_metrics"]

log = logging.getLogger("pes_sdk_runner.api")

#: What ``/metrics`` answers in: the text format 0.0.4, which every Prometheus reads.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4

#: Counters: name (with its ``_total``), help, label names.
_COUNTERS: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "pes_http_requests_total": (
        "HTTP requests by route template, method and status.",
        ("method", "route", "status"),
    ),
    "pes_payments_created_total": ("Basket payments created (new orders only, not retries).", ()),
    "pes_payments_confirmed_total": ("Payments that reached a paid state and were credited.", ()),
    "pes_webhooks_total": (
        "Gateway webhooks by result (accepted, or the rejection reason).",
        ("result",),
    ),
    "pes_refunds_total": ("Refunds made by operators through the API.", ()),
    "pes_daemon_passes_total": ("Passes of the runner's scheduler (pes runner serve).", ()),
    "pes_daemon_registries_ingested_total": (
        "Debt registries the scheduler ingested, by outcome.",
        ("outcome",),
    ),
    "pes_daemon_days_closed_total": (
        "Partner-days closed with a new payment registry, by partner.",
        ("partner",),
    ),
    "pes_daemon_deliveries_total": (
        "Delivery runs of the scheduler, by the delivery's new status.",
        ("status",),
    ),
    "pes_daemon_errors_total": (
        "Scheduler errors by stage (scan, poll, close, deliver, pass).",
        ("stage",),
    ),
    "pes_daemon_payments_checked_total": (
        "Waiting payments the scheduler asked the acquirer about, by result "
        "(credited: its webhook never came).",
        ("result",),
    ),
}

#: Gauges: values set, not counted (the scheduler's state).
_GAUGES: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "pes_daemon_last_pass_timestamp_seconds": (
        "When the scheduler's last pass ran (Unix time).",
        (),
    ),
    "pes_daemon_last_ok_pass_timestamp_seconds": ("When the last pass without errors ran.", ()),
    "pes_daemon_deliveries_open": (
        "Deliveries pending or failed in the store, by status.",
        ("status",),
    ),
}


def _key(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


class Metrics:
    """The runner's counters and gauges in a registry of their own; thread-safe.

    ``registry``: where they are registered (a new one by default); more collectors may be
    added to it (:meth:`add`). Counting a name that is not declared here raises
    ``KeyError``; labels other than the declared ones raise ``ValueError``.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        # The library names a counter without its "_total" and writes the suffix itself.
        self._counters = {
            name: Counter(name.removesuffix("_total"), doc, labels, registry=self.registry)
            for name, (doc, labels) in _COUNTERS.items()
        }
        self._gauges = {
            name: Gauge(name, doc, labels, registry=self.registry)
            for name, (doc, labels) in _GAUGES.items()
        }
        self._children: dict[tuple[object, ...], Counter] = {}
        # The gauges' values as set, read back by gauge() without a scrape (which would
        # query the store: /healthz asks for one); an unlabelled gauge never set is None
        # here, where the library says 0.
        self._lock = threading.Lock()
        self._set: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}

    def inc(self, name: str, **labels: str) -> None:
        """Add one to counter ``name`` with these labels."""
        if not labels:
            self._counters[name].inc()
            return
        # Each request counts here: a labelled child found once, then by a dict look-up
        # (the library's labels() checks and locks at every call: twice the time).
        key = (name, *labels.items())
        child = self._children.get(key)
        if child is None:
            child = self._counters[name].labels(**labels)
            self._children[key] = child
        child.inc()

    def set(self, name: str, value: float, **labels: str) -> None:
        """Set gauge ``name`` with these labels to ``value``."""
        gauge = self._gauges[name]
        with self._lock:  # the library's value and ours change together
            (gauge.labels(**labels) if labels else gauge).set(value)
            self._set[(name, _key(labels))] = value

    def gauge(self, name: str, **labels: str) -> float | None:
        """The current value of one labelled gauge (None if never set)."""
        if name not in self._gauges:
            raise KeyError(name)
        with self._lock:
            return self._set.get((name, _key(labels)))

    def value(self, name: str, **labels: str) -> int:
        """The current value of one labelled counter (0 if never counted)."""
        # This counter's samples only: the whole registry would read the store's facts.
        for family in self._counters[name].collect():
            for sample in family.samples:
                if sample.name == name and sample.labels == labels:
                    return int(sample.value)
        return 0

    def add(self, collector: Collector) -> None:
        """Register one more collector (read at each scrape) in this registry."""
        self.registry.register(collector)

    def render(self) -> str:
        """Every metric of the registry in the Prometheus text format 0.0.4."""
        return generate_latest(self.registry).decode("utf-8")


#: A fleet fact read from the store: metric name, help, label name (or None), and the
#: values by label value (the empty label value when unlabelled).
Fact = tuple[str, str, str | None, Mapping[str, float]]


class StoreCollector(Collector):
    """Gauges read from the store at each scrape: the fleet's processes and queues.

    ``read`` returns the facts (:data:`Fact`); it runs on the scraping thread, so it must
    be quick (a few counts on indexed columns) and bounded in time by the store. When it
    fails, the scrape still answers: ``pes_fleet_up`` is 0 and the facts are left
    out, not reported as zeros.
    """

    def __init__(self, read: Callable[[], Iterable[Fact]]) -> None:
        self._read = read

    def describe(self) -> Iterable[Metric]:
        return []  # read at scrape time only: registering must not query the store

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "pes_fleet_up", "1 if the store answered this scrape's questions, else 0."
        )
        try:
            facts = list(self._read())
        except Exception as exc:  # the store is away: say so, do not fail the whole scrape
            event(log, "metrics.fleet_failed", logging.WARNING, error=type(exc).__name__)
            up.add_metric([], 0.0)
            yield up
            return
        up.add_metric([], 1.0)
        yield up
        for name, doc, label, values in facts:
            family = GaugeMetricFamily(name, doc, labels=[label] if label else [])
            for value_label, value in sorted(values.items()):
                family.add_metric([value_label] if label else [], value)
            yield family


@contextlib.contextmanager
def serve_metrics(metrics: Metrics, host: str, port: int) -> Iterator[int]:
    """Serve ``metrics`` at ``http://host:port/metrics`` while the block runs (a process
    with no API of its own, such as ``pes runner worker``); yields the port bound (``port``
    0 takes a free one). The server runs in a daemon thread and is shut down on leaving."""
    server, thread = start_http_server(port, addr=host, registry=metrics.registry)
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
