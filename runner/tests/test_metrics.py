"""``/metrics`` through prometheus_client: names, types and labels as documented, a registry
per app, the fleet's facts read from the store, and two real processes as two targets.

The exposition is read back with prometheus_client's own parser, as Prometheus would read
it, not searched for substrings.
"""

from __future__ import annotations

import datetime as dt
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_harness import Running, serve
from pes_sdk_runner.api.metrics import Fact, Metrics, StoreCollector, serve_metrics
from pes_sdk_runner.fleet import FleetStatus, QueueFacts, metric_facts
from pes_sdk_runner.heartbeat import Heartbeat
from pes_sdk_runner.store import open_store
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from runner_proc import config_of, serving, write_config

#: Every metric the runner had before prometheus_client, with its type and label names:
#: dashboards and alerts are written against these (docs/runner-api.md, "Metrics").
DOCUMENTED = {
    "pes_http_requests": ("counter", {"method", "route", "status"}),
    "pes_payments_created": ("counter", set()),
    "pes_payments_confirmed": ("counter", set()),
    "pes_webhooks": ("counter", {"result"}),
    "pes_refunds": ("counter", set()),
    "pes_daemon_passes": ("counter", set()),
    "pes_daemon_registries_ingested": ("counter", {"outcome"}),
    "pes_daemon_days_closed": ("counter", {"partner"}),
    "pes_daemon_deliveries": ("counter", {"status"}),
    "pes_daemon_errors": ("counter", {"stage"}),
    "pes_daemon_payments_checked": ("counter", {"result"}),
    "pes_daemon_last_pass_timestamp_seconds": ("gauge", set()),
    "pes_daemon_last_ok_pass_timestamp_seconds": ("gauge", set()),
    "pes_daemon_deliveries_open": ("gauge", {"status"}),
}

#: A label value for each documented label: counting with it must be accepted.
LABELS = {
    "method": "GET",
    "route": "/healthz",
    "status": "200",
    "result": "accepted",
    "outcome": "active",
    "partner": "7701234567",
    "stage": "close",
}


def _families(text: str) -> dict[str, tuple[str, list[Sample]]]:
    return {f.name: (f.type, f.samples) for f in text_string_to_metric_families(text)}


def _value(text: str, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return float(s.value)
    return None


def _get(url: str) -> tuple[str, str]:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.headers["Content-Type"], answer.read().decode("utf-8")


def test_every_documented_metric_keeps_its_name_type_and_labels() -> None:
    metrics = Metrics()
    for name, (kind, labels) in DOCUMENTED.items():
        values = {k: LABELS[k] for k in labels}
        if kind == "counter":
            metrics.inc(f"{name}_total", **values)
        else:
            metrics.set(name, 1_795_000_000.0, **values)
    families = _families(metrics.render())
    for name, (kind, labels) in DOCUMENTED.items():
        assert name in families, name
        got_kind, samples = families[name]
        assert got_kind == kind, name
        main = [s for s in samples if s.name in (name, f"{name}_total")]
        assert [set(s.labels) for s in main] == [labels], name
        assert main[0].value == (1 if kind == "counter" else 1_795_000_000.0), name
    # The parser also reads each counter's own _total sample (not a family of its own).
    assert _value(metrics.render(), "pes_refunds_total") == 1


def test_every_metric_served_is_in_the_documented_list() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "runner-api.md").read_text("utf-8")
    section = doc.split("### Metrics", 1)[1].split("\n## ", 1)[0]
    now = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)
    fleet = FleetStatus(
        now,
        (),
        1,
        now,
        {"pending": 0},
        QueueFacts({"close": 2}, dt.timedelta(seconds=5), 1, {"close": 1}),
    )
    metrics = Metrics()
    metrics.add(StoreCollector(lambda: metric_facts(fleet)))
    names = {f.name for f in text_string_to_metric_families(metrics.render())}
    # the library's own gauge beside each counter (pes_payments_created is a counter)
    names = {n for n in names if not (n.endswith("_created") and n[:-8] in names)}
    assert len(names) == len(DOCUMENTED) + 10
    for name in names:
        shown = f"{name}_total" if DOCUMENTED.get(name, ("",))[0] == "counter" else name
        assert f"`{shown}`" in section, name


def test_a_name_or_label_not_declared_is_refused() -> None:
    metrics = Metrics()
    with pytest.raises(KeyError):
        metrics.inc("pes_no_such_total")
    with pytest.raises(ValueError):
        metrics.inc("pes_webhooks_total", reason="x")  # the label is "result"


def test_two_apps_in_one_process_count_apart() -> None:
    a, b = Metrics(), Metrics()
    a.inc("pes_refunds_total")
    a.inc("pes_webhooks_total", result="accepted")
    assert (a.value("pes_refunds_total"), b.value("pes_refunds_total")) == (1, 0)
    assert b.value("pes_webhooks_total", result="accepted") == 0
    assert _value(b.render(), "pes_refunds_total") == 0


def test_a_gauge_never_set_reads_none_and_once_set_its_value() -> None:
    metrics = Metrics()
    assert metrics.gauge("pes_daemon_last_ok_pass_timestamp_seconds") is None
    metrics.set("pes_daemon_last_ok_pass_timestamp_seconds", 12.5)
    assert metrics.gauge("pes_daemon_last_ok_pass_timestamp_seconds") == 12.5
    assert metrics.gauge("pes_daemon_deliveries_open", status="failed") is None


def test_reading_one_value_does_not_read_the_store() -> None:
    # /healthz reads the scheduler's last pass on every call: it must not query the fleet.
    reads = 0

    def read() -> list[Fact]:
        nonlocal reads
        reads += 1
        return []

    metrics = Metrics()
    metrics.add(StoreCollector(read))
    metrics.set("pes_daemon_last_pass_timestamp_seconds", 5.0)
    metrics.inc("pes_webhooks_total", result="accepted")
    assert metrics.gauge("pes_daemon_last_pass_timestamp_seconds") == 5.0
    assert metrics.value("pes_webhooks_total", result="accepted") == 1
    assert metrics.value("pes_webhooks_total", result="source") == 0
    assert reads == 0
    metrics.render()
    assert reads == 1


def test_a_store_that_does_not_answer_leaves_the_fleet_out_not_the_scrape() -> None:
    metrics = Metrics()

    def broken() -> list[object]:
        raise OSError("the store is away")

    metrics.add(StoreCollector(broken))  # type: ignore[arg-type]
    metrics.inc("pes_refunds_total")
    text = metrics.render()
    assert _value(text, "pes_fleet_up") == 0
    assert _value(text, "pes_refunds_total") == 1
    assert "pes_fleet_processes" not in text


@pytest.fixture
def running(store_url: str, tmp_path: Path) -> Iterator[Running]:
    with serve(store_url, tmp_path, {0: ["Отопление"]}) as r:
        yield r


def test_metrics_show_the_fleet_from_the_store(running: Running) -> None:
    r = running
    content_type, text = _get(r.base + "/metrics")
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    assert _value(text, "pes_fleet_up") == 1
    assert _value(text, "pes_fleet_processes", role="serve") == 0
    assert _value(text, "pes_fleet_payments_waiting") == 0
    assert _value(text, "pes_fleet_payments_waiting_oldest_seconds") is None
    with Heartbeat(r.store, "serve", every=3600), Heartbeat(r.store, "worker", every=3600):
        _, text = _get(r.base + "/metrics")
    assert _value(text, "pes_fleet_processes", role="serve") == 1
    assert _value(text, "pes_fleet_processes", role="worker") == 1
    assert _value(text, "pes_fleet_processes_dead", role="worker") == 0
    assert _value(text, "pes_fleet_deliveries_open", status="pending") == 0
    # A basket paid for and not yet settled waits at the acquirer.
    inn = r.inns[0]
    accepted = r.call(
        "POST",
        "/v1/acceptances",
        {"client_id": "u1", "partner_inn": inn, "account": "1234567890", "service": ""},
    )
    assert accepted.status == 200, accepted.json
    body = {
        "client_id": "u1",
        "return_url": "https://app.example/back",
        "lines": [
            {"partner_inn": inn, "account": "1234567890", "service": "Отопление", "amount": "1.00"}
        ],
    }
    paid = r.call("POST", "/v1/payments", body, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert paid.status == 200, paid.json
    _, text = _get(r.base + "/metrics")
    assert _value(text, "pes_fleet_payments_waiting") == 1
    oldest = _value(text, "pes_fleet_payments_waiting_oldest_seconds")
    assert oldest is not None and oldest >= 0


def test_serve_metrics_serves_a_registry_of_its_own_for_a_process_without_an_api() -> None:
    metrics = Metrics()
    metrics.inc("pes_daemon_passes_total")
    with serve_metrics(metrics, "127.0.0.1", 0) as port:
        _, text = _get(f"http://127.0.0.1:{port}/metrics")
    assert _value(text, "pes_daemon_passes_total") == 1
    assert "pes_http_requests" not in {  # another app's registry is not served
        f.name for f in text_string_to_metric_families(text) if f.samples
    }


# -- two real processes: two scrape targets ----------------------------------------------------


def test_two_processes_are_two_targets_whose_counts_add_up_and_whose_fleet_agrees(
    store_url: str, tmp_path: Path
) -> None:
    path = write_config(tmp_path, store_url, daemon="enabled = false")
    config = config_of(path)
    if config.store.sqlite_path is not None:
        config.store.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    open_store(config.store.url).close()  # migrated once, before both start
    with serving(path, tmp_path / "a.log") as a, serving(path, tmp_path / "b.log") as b:
        asked = {a.base: 3, b.base: 5}
        for base, times in asked.items():
            for _ in range(times):
                _get(base + "/healthz")
        texts = {base: _get(base + "/metrics")[1] for base in asked}
    for base, text in texts.items():
        # Each target counts its own requests: the test's, and the one serving() made to
        # see it up.
        own = _value(text, "pes_http_requests_total", method="GET", route="/healthz", status="200")
        assert own == asked[base] + 1, text
        # The fleet is the store's: both targets see both processes.
        assert _value(text, "pes_fleet_processes", role="serve") == 2
