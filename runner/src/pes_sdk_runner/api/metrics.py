"""Prometheus counters of the API, written by hand in the text exposition format.

Why not ``prometheus_client``: the API needs four counter families and nothing else, and
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

    def inc(self, name: str, **labels: str) -> None:
        """Add one to counter ``name`` with these labels."""
        key = tuple(sorted(labels.items()))
        with self._lock:
            family = self._values[name]
            family[key] = family.get(key, 0) + 1

    def value(self, name: str, **labels: str) -> int:
        """The current value of one labelled counter (0 if never counted)."""
        with self._lock:
            return self._values[name].get(tuple(sorted(labels.items())), 0)

    def render(self) -> str:
        """Every counter in the Prometheus text format."""
        out: list[str] = []
        with self._lock:
            for name, help_text in _FAMILIES.items():
                out.append(f"# HELP {name} {help_text}")
                out.append(f"# TYPE {name} counter")
                family = self._values[name]
                if not family:
                    out.append(f"{name} 0")
                for key in sorted(family):
                    labels = ",".join(f'{k}="{_escape(v)}"' for k, v in key)
                    out.append(
                        f"{name}{{{labels}}} {family[key]}" if labels else f"{name} {family[key]}"
                    )
        return "\n".join(out) + "\n"
