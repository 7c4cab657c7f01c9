"""Prometheus counters of the API, written by hand in the text exposition format.

Why not ``prometheus_client``: the API needs a few counter families and nothing else, and
that library keeps a process-wide default registry, which makes two apps in one process
(every test) share and clash over metric names. A counter here is a dict under a lock,
rendered in the text format 0.0.4 (``# HELP``, ``# TYPE``, ``name{label="v"} value``).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

__all__ = ["CONTENT_TYPE", "Metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_FAMILIES: Mapping[str, str] = {
    "pes_http_requests_total": "HTTP requests by route template, method and status.",
    "pes_payments_created_total": "Basket payments created (new orders only, not retries).",
    "pes_payments_confirmed_total": "Payments that reached a paid state and were credited.",
    "pes_webhooks_total": "Gateway webhooks by result (accepted, or the rejection reason).",
    "pes_refunds_total": "Refunds made by operators through the API.",
    "pes_daemon_passes_total": "Passes of the runner's scheduler (pes runner serve).",
    "pes_daemon_registries_ingested_total": "Debt registries the scheduler ingested, by outcome.",
    "pes_daemon_days_closed_total": "Partner-days closed with a new payment registry, by partner.",
    "pes_daemon_deliveries_total": "Delivery runs of the scheduler, by the delivery's new status.",
    "pes_daemon_errors_total": "Scheduler errors by stage (scan, poll, close, deliver, pass).",
    "pes_daemon_payments_checked_total": (
        "Waiting payments the scheduler asked the acquirer about, by result "
        "(credited: its webhook never came)."
    ),
}

#: Gauges: values set, not counted (the scheduler's state).
_GAUGES: Mapping[str, str] = {
    "pes_daemon_last_pass_timestamp_seconds": "When the scheduler's last pass ran (Unix time).",
    "pes_daemon_last_ok_pass_timestamp_seconds": "When the last pass without errors ran.",
    "pes_daemon_deliveries_open": "Deliveries pending or failed in the store, by status.",
}


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Metrics:
    """The API's counters; thread-safe (endpoints run in a thread pool)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, dict[tuple[tuple[str, str], ...], int]] = {
            name: {} for name in _FAMILIES
        }
        self._gauges: dict[str, dict[tuple[tuple[str, str], ...], float]] = {
            name: {} for name in _GAUGES
        }

    def inc(self, name: str, **labels: str) -> None:
        """Add one to counter ``name`` with these labels."""
        key = tuple(sorted(labels.items()))
        with self._lock:
            family = self._values[name]
            family[key] = family.get(key, 0) + 1

    def set(self, name: str, value: float, **labels: str) -> None:
        """Set gauge ``name`` with these labels to ``value``."""
        with self._lock:
            self._gauges[name][tuple(sorted(labels.items()))] = value

    def gauge(self, name: str, **labels: str) -> float | None:
        """The current value of one labelled gauge (None if never set)."""
        with self._lock:
            return self._gauges[name].get(tuple(sorted(labels.items())))

    def value(self, name: str, **labels: str) -> int:
        """The current value of one labelled counter (0 if never counted)."""
        with self._lock:
            return self._values[name].get(tuple(sorted(labels.items())), 0)

    def render(self) -> str:
        """Every counter and gauge in the Prometheus text format."""
        out: list[str] = []
        with self._lock:
            families: list[tuple[str, str, str, Mapping[tuple[tuple[str, str], ...], float]]]
            families = [(n, h, "counter", self._values[n]) for n, h in _FAMILIES.items()]
            families += [(n, h, "gauge", self._gauges[n]) for n, h in _GAUGES.items()]
            for name, help_text, kind, family in families:
                out.append(f"# HELP {name} {help_text}")
                out.append(f"# TYPE {name} {kind}")
                if not family:
                    out.append(f"{name} 0")
                for key in sorted(family):
                    labels = ",".join(f'{k}="{_escape(v)}"' for k, v in key)
                    out.append(
                        f"{name}{{{labels}}} {family[key]}" if labels else f"{name} {family[key]}"
                    )
        return "\n".join(out) + "\n"
