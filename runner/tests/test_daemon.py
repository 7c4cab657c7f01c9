"""The scheduler (``pes_sdk_runner.daemon``): passes driven by an injected clock.

Real SQLite files (and PostgreSQL where the store is parameterised), real inbox and outbox
folders, the real formats and day close; payments are put in the store the way the
processor records them. ``serve`` runs as a real process and is stopped by a signal.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner
from example_inputs import (
    DAY,
    PERIOD,
    TEPLOSET,
    UK_DOM,
    VODOKANAL,
    debt,
    local,
    write_sber_debts,
)
from example_inputs import (
    pay_basket as pay,
)
from http_client import request
from pes_sdk_runner.api.metrics import Metrics
from pes_sdk_runner.close import close_day
from pes_sdk_runner.config import RunnerConfig
from pes_sdk_runner.daemon import Daemon, Pass, Stage
from pes_sdk_runner.ingest import Outcome
from pes_sdk_runner.store import DeliveryStatus, SqlStore, open_store
from runner_proc import ENV, OPERATOR, config_of, serving, write_config

from pes_sdk.billing.contract import BillingSource
from pes_sdk.billing.errors import BillingUnavailable
from pes_sdk.billing.retry import BillingRetry
from pes_sdk.cli.main import cli
from pes_sdk.models.debts import DebtRegistry
from pes_sdk.models.payments import PaymentRegistry
from pes_sdk.models.registry import RegistryHeader, RegistryKind
from pes_sdk.period import Period
from pes_sdk.plugins import hookimpl
from pes_sdk.plugins.manager import PluginHost, get_host

TEPLOSET_CHANNEL = (
    'channel = { kind = "outbox", folder = "outbox/teploset", format = "pes-payments" }'
)
ONE = dt.timedelta(days=1)


@pytest.fixture
def sqlite(tmp_path: Path) -> Iterator[SqlStore]:
    """The example configuration's own SQLite file."""
    (tmp_path / "data").mkdir()
    store = open_store(f"sqlite:///{tmp_path / 'data' / 'pes.db'}")
    yield store
    store.close()


def daemon_for(
    store: SqlStore,
    config: RunnerConfig,
    *,
    host: PluginHost | None = None,
    metrics: Metrics | None = None,
    retry: BillingRetry | None = None,
    on_pass: Callable[[Pass], None] | None = None,
) -> Daemon:
    store.upsert_partners(p.partner for p in config.partners)
    return Daemon(store, config, host or get_host(), metrics=metrics, retry=retry, on_pass=on_pass)


def write_pes_debts(folder: Path, number: int) -> Path:
    """Теплосеть's registry under the format's own name (it carries the number)."""
    fmt = get_host().format("pes-debts")
    header = RegistryHeader(
        kind=RegistryKind.DEBTS, partner_inn=TEPLOSET, period=PERIOD, number=number
    )
    name = fmt.filename(header)
    assert name is not None
    folder.mkdir(parents=True, exist_ok=True)
    fmt.write(folder / name, header, [debt("3001", "77.70")])
    return folder / name


def registries(store: SqlStore, inn: str) -> list[tuple[dt.date, int, int]]:
    """The partner's payment registries as (day, number, count), by number."""
    found = sorted(store.payment_registries(inn), key=lambda r: r.number)
    return [(r.day, r.number, r.count) for r in found]


def made(done: Pass, inn: str) -> list[tuple[dt.date, int]]:
    """The (day, number) of each registry the pass closed for a partner, in order."""
    return [(c.day, c.info.number) for c in done.registries if c.partner_inn == inn and c.info]


# -- ingest --------------------------------------------------------------------------------


def test_a_registry_dropped_in_the_inbox_is_ingested_when_the_scan_is_due(
    tmp_path: Path, sqlite: SqlStore
) -> None:
    config = config_of(write_config(tmp_path, daemon="file_min_age = 0\nscan_interval = 60"))
    daemon = daemon_for(sqlite, config)
    inbox = tmp_path / "data" / "inbox" / "uk-dom"
    first = write_sber_debts(inbox, 7, [debt("1001", "1500.00"), debt("1002", "230.45")])
    now = local(config, DAY, 12)

    done = daemon.run_once(now)

    assert done.scanned and done.ok
    [out] = done.ingested
    assert (out.partner, out.outcome, out.registry_number, out.records) == (
        UK_DOM,
        Outcome.ACTIVATED,
        7,
        2,
    )
    assert (inbox / "processed" / first.name).is_file() and not first.exists()
    [registry] = sqlite.debt_registries(UK_DOM)
    assert registry.received_at == now  # the pass's time, not the wall clock's

    second = write_sber_debts(inbox, 8, [debt("1001", "99.00")])
    early = daemon.run_once(now + dt.timedelta(seconds=59))
    assert not early.scanned and early.ingested == ()
    assert second.exists()
    due = daemon.run_once(now + dt.timedelta(seconds=60))
    assert due.scanned
    assert [(o.registry_number, o.outcome) for o in due.ingested] == [(8, Outcome.ACTIVATED)]


def test_a_file_still_being_written_waits_for_file_min_age(
    tmp_path: Path, sqlite: SqlStore
) -> None:
    config = config_of(write_config(tmp_path, daemon="file_min_age = 30\nscan_interval = 1"))
    daemon = daemon_for(sqlite, config)
    file = write_sber_debts(tmp_path / "data" / "inbox" / "uk-dom", 7, [debt("1001", "1.00")])
    now = local(config, DAY, 12)

    assert daemon.run_once(now).ingested == ()
    assert file.exists()

    # Its last change now lies 60 s back (mtimes are the file system's own clock).
    old = time.time() - 60
    os.utime(file, (old, old))
    [out] = daemon.run_once(now + dt.timedelta(seconds=1)).ingested
    assert out.outcome is Outcome.ACTIVATED


@attrs.define
class _Billing(BillingSource):
    """Теплосеть's billing: registry № 5 of the asked month, or down when told to be."""

    asked: list[Period] = attrs.field(factory=list)
    down: bool = False
    name: str = "stub-billing"

    def fetch_debts(self, partner_inn: str, period: Period) -> DebtRegistry:
        self.asked.append(period)
        if self.down:
            raise BillingUnavailable("connection refused", endpoint="stub-billing")
        return DebtRegistry.build(partner_inn, period, 5, [debt("3001", "77.70")])


@attrs.frozen
class _BillingFactory:
    source: _Billing
    name: str = "stub-billing"
    description: str = "a billing source in memory"

    def create(self, settings: Mapping[str, str]) -> _Billing:
        return self.source


@attrs.frozen
class _BillingPlugin:
    source: _Billing

    @hookimpl
    def pes_billing_sources(self) -> Sequence[_BillingFactory]:
        return [_BillingFactory(self.source)]


def test_billing_sources_are_polled_when_their_interval_is_due(
    tmp_path: Path, sqlite: SqlStore
) -> None:
    billing = _Billing()
    host = PluginHost()
    host.register(_BillingPlugin(billing), name="test-billing")
    path = write_config(
        tmp_path,
        daemon="poll_interval = 3600",
        replace={
            'source = { kind = "inbox", folder = "inbox/teploset" }\nformat = "pes-debts"': (
                'source = { kind = "stub-billing" }'
            )
        },
    )
    config = config_of(path, host)
    daemon = daemon_for(sqlite, config, host=host)
    now = local(config, DAY, 12)

    first = daemon.run_once(now)
    assert first.polled and first.ok
    assert [(o.partner, o.outcome, o.registry_number) for o in first.ingested] == [
        (TEPLOSET, Outcome.ACTIVATED, 5)
    ]
    assert billing.asked == [PERIOD]  # the month it is in the service's zone

    assert not daemon.run_once(now + dt.timedelta(seconds=3599)).polled
    again = daemon.run_once(now + dt.timedelta(seconds=3600))
    assert [o.outcome for o in again.ingested] == [Outcome.DUPLICATE]

    billing.down = True
    down = daemon.run_once(now + dt.timedelta(seconds=7200))
    [failed] = down.ingested
    assert failed.outcome is Outcome.FAILED and "connection refused" in (failed.message or "")
    assert not down.ok and down.refused == (failed,)
    assert [r.number for r in sqlite.debt_registries(TEPLOSET)] == [5]


# -- closing days --------------------------------------------------------------------------


def test_a_day_is_closed_once_at_cut_off_plus_grace_and_not_before(
    tmp_path: Path, sqlite: SqlStore
) -> None:
    config = config_of(write_config(tmp_path, daemon="close_grace = 120"))
    daemon = daemon_for(sqlite, config)
    pay(sqlite, UK_DOM, local(config, DAY, 10), "1000.00", "234.56")
    end = local(config, DAY, 20)  # УК Дом's cut-off
    grace = dt.timedelta(seconds=120)

    before = daemon.run_once(end + grace - dt.timedelta(seconds=1))
    assert before.ok and before.registries == ()
    assert registries(sqlite, UK_DOM) == []
    # The next wake-up is exactly that moment: the scan is due only in 60 s.
    assert daemon.next_due(end + grace - dt.timedelta(seconds=1)) == end + grace

    at = daemon.run_once(end + grace)
    assert made(at, UK_DOM) == [(DAY, 1)]
    assert registries(sqlite, UK_DOM) == [(DAY, 1, 2)]
    # The new registry is delivered in the same pass: the outbox file is in place.
    [delivery] = at.deliveries
    assert delivery.status is DeliveryStatus.ACKNOWLEDGED
    assert Path(delivery.target).is_file()
    assert Path(delivery.target).parent == tmp_path / "data" / "outbox" / "uk-dom"

    later = daemon.run_once(end + dt.timedelta(hours=1))
    assert [c for c in later.closed if c.partner_inn == UK_DOM] == []
    # A restarted daemon finds the day closed in the store and does not touch it.
    restarted = daemon_for(sqlite, config).run_once(end + dt.timedelta(hours=2))
    assert [c for c in restarted.closed if c.partner_inn == UK_DOM] == []
    assert registries(sqlite, UK_DOM) == [(DAY, 1, 2)]
    # Водоканал wants empty registries, but was never served: none before its first day.
    assert registries(sqlite, VODOKANAL) == []


def test_catch_up_after_downtime_closes_the_missed_days_in_order(
    store: SqlStore, tmp_path: Path
) -> None:
    config = config_of(write_config(tmp_path))
    daemon = daemon_for(store, config)
    pay(store, UK_DOM, local(config, DAY, 9), "100.00")
    pay(store, UK_DOM, local(config, DAY + ONE, 9), "200.00", "50.00")
    pay(store, UK_DOM, local(config, DAY + 2 * ONE, 21), "300.00")  # after 20:00: the next day
    pay(store, VODOKANAL, local(config, DAY, 10), "40.00")
    assert daemon.run_once(local(config, DAY, 12)).registries == ()

    # Down for three days; back at 21:00 on the fourth.
    done = daemon.run_once(local(config, DAY + 3 * ONE, 21))

    assert done.ok, done.errors
    assert made(done, UK_DOM) == [(DAY, 1), (DAY + ONE, 2), (DAY + 3 * ONE, 3)]
    assert registries(store, UK_DOM) == [(DAY, 1, 1), (DAY + ONE, 2, 2), (DAY + 3 * ONE, 3, 1)]
    # Водоканал's empty registries begin on its first day of payments, one a day, gapless.
    assert registries(store, VODOKANAL) == [
        (DAY, 1, 1),
        (DAY + ONE, 2, 0),
        (DAY + 2 * ONE, 3, 0),
        (DAY + 3 * ONE, 4, 0),
    ]
    assert registries(store, TEPLOSET) == []  # no payments, no empty registries
    outbox = tmp_path / "data" / "outbox" / "uk-dom"
    assert len([p for p in outbox.iterdir() if p.is_file()]) == 3
    assert {d.status for d in store.deliveries()} == {DeliveryStatus.ACKNOWLEDGED}
    assert len(store.deliveries()) == 7


def test_payments_beyond_catch_up_days_hold_the_partner_until_closed_by_hand(
    tmp_path: Path, sqlite: SqlStore
) -> None:
    config = config_of(write_config(tmp_path, daemon="catch_up_days = 2"))
    daemon = daemon_for(sqlite, config)
    pay(sqlite, UK_DOM, local(config, DAY, 9), "100.00")
    pay(sqlite, UK_DOM, local(config, DAY + 4 * ONE, 9), "400.00")
    pay(sqlite, TEPLOSET, local(config, DAY + 4 * ONE, 12), "70.00")
    now = local(config, DAY + 5 * ONE, 23)

    held = daemon.run_once(now)

    [error] = held.errors
    assert (error.stage, error.partner) == (Stage.CLOSE, UK_DOM)
    assert "pes runner close-day" in error.message and "catch_up_days (2)" in error.message
    assert registries(sqlite, UK_DOM) == []
    assert made(held, TEPLOSET) == [(DAY + 4 * ONE, 1)]  # the others go on

    # The operator closes the old day; the next pass carries on from the catch-up range.
    close_day(sqlite, config, get_host(), config.partners[0], DAY, now=now)
    resumed = daemon.run_once(now + dt.timedelta(minutes=1))
    assert resumed.ok, resumed.errors
    assert made(resumed, UK_DOM) == [(DAY + 4 * ONE, 2)]


def test_a_failing_partner_or_file_does_not_stop_the_others(
    tmp_path: Path, sqlite: SqlStore
) -> None:
    config = config_of(write_config(tmp_path, daemon="file_min_age = 0"))
    metrics = Metrics()
    daemon = daemon_for(sqlite, config, metrics=metrics)
    data = tmp_path / "data"
    # Теплосеть's outbox cannot be made: a file stands where the folder should be.
    blocker = data / "outbox" / "teploset"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("not a folder")
    # УК Дом's registry cannot be moved out of its inbox: processed/ is a dangling link.
    dom_inbox = data / "inbox" / "uk-dom"
    dom_file = write_sber_debts(dom_inbox, 7, [debt("1001", "10.00")])
    (dom_inbox / "processed").symlink_to(tmp_path / "nowhere")
    heat_file = write_pes_debts(data / "inbox" / "teploset", 3)
    pay(sqlite, TEPLOSET, local(config, DAY, 12), "70.00")
    pay(sqlite, TEPLOSET, local(config, DAY + ONE, 12), "80.00")
    pay(sqlite, UK_DOM, local(config, DAY, 12), "500.00")
    now = local(config, DAY + ONE, 23)

    done = daemon.run_once(now)

    failures = {(e.stage, e.partner, e.subject) for e in done.errors}
    assert failures == {
        (Stage.SCAN, UK_DOM, dom_file.name),
        (Stage.CLOSE, TEPLOSET, DAY.isoformat()),  # and DAY+1 waits behind it
    }
    assert [(o.partner, o.outcome) for o in done.ingested] == [(TEPLOSET, Outcome.ACTIVATED)]
    assert not heat_file.exists() and dom_file.exists()
    assert made(done, UK_DOM) == [(DAY, 1)]
    # Теплосеть's day got its number before the file failed; it has no delivery yet.
    [(day, number, _count)] = registries(sqlite, TEPLOSET)
    assert (day, number) == (DAY, 1)
    assert [d.channel for d in sqlite.deliveries()] == ["outbox"]  # УК Дом's only
    assert not done.ok
    assert metrics.value("pes_daemon_errors_total", stage="close") == 1
    assert metrics.value("pes_daemon_errors_total", stage="scan") == 1
    assert metrics.value("pes_daemon_days_closed_total", partner=UK_DOM) == 1
    text = metrics.render()
    assert 'pes_daemon_errors_total{stage="close"} 1' in text
    assert "# TYPE pes_daemon_last_pass_timestamp_seconds gauge" in text
    assert metrics.gauge("pes_daemon_last_pass_timestamp_seconds") == now.timestamp()
    assert metrics.gauge("pes_daemon_last_ok_pass_timestamp_seconds") is None

    # The next pass tries the same file and the same day again, not the day after.
    again = daemon.run_once(now + dt.timedelta(seconds=60))
    assert {(e.stage, e.partner, e.subject) for e in again.errors} == failures
    assert [(d, n) for d, n, _ in registries(sqlite, TEPLOSET)] == [(DAY, 1)]

    # Fixed by the operator, and the runner restarted: the unfinished day is closed again
    # (same number), then the next one, and the file is placed.
    blocker.unlink()
    (dom_inbox / "processed").unlink()
    restarted = daemon_for(sqlite, config, metrics=metrics)
    fixed = restarted.run_once(now + dt.timedelta(seconds=120))
    assert fixed.ok, fixed.errors
    assert [(o.partner, o.outcome) for o in fixed.ingested] == [(UK_DOM, Outcome.DUPLICATE)]
    assert (dom_inbox / "processed" / dom_file.name).is_file()
    assert made(fixed, TEPLOSET) == [(DAY, 1), (DAY + ONE, 2)]
    assert len([p for p in (data / "outbox" / "teploset").iterdir() if p.is_file()]) == 2
    assert metrics.value("pes_daemon_errors_total", stage="close") == 2
    ok_at = metrics.gauge("pes_daemon_last_ok_pass_timestamp_seconds")
    assert ok_at == (now + dt.timedelta(seconds=120)).timestamp()


# -- deliveries ----------------------------------------------------------------------------


@attrs.define
class _Flaky:
    """A partner whose billing never answers: every delivery is a transient error."""

    calls: list[int] = attrs.field(factory=list)

    def deliver_payments(self, registry: PaymentRegistry) -> None:
        self.calls.append(registry.number)
        raise BillingUnavailable("503 Service Unavailable", endpoint="flaky")


@attrs.frozen
class _FlakyFactory:
    channel: _Flaky
    name: str = "flaky"
    description: str = "a channel whose partner is always down"

    def create(self, settings: Mapping[str, str]) -> _Flaky:
        return self.channel


@attrs.frozen
class _FlakyPlugin:
    channel: _Flaky

    @hookimpl
    def pes_delivery_channels(self) -> Sequence[_FlakyFactory]:
        return [_FlakyFactory(self.channel)]


def test_deliveries_are_retried_on_later_passes_and_end_failed(
    tmp_path: Path, sqlite: SqlStore
) -> None:
    flaky = _Flaky()
    host = PluginHost()
    host.register(_FlakyPlugin(flaky), name="test-flaky")
    path = write_config(
        tmp_path,
        daemon="delivery_interval = 300\ndelivery_max_attempts = 3",
        replace={TEPLOSET_CHANNEL: 'channel = { kind = "flaky" }'},
    )
    config = config_of(path, host)
    # One attempt per pass: the passes, not the waits inside one, make the retries here.
    daemon = daemon_for(sqlite, config, host=host, retry=BillingRetry(attempts=1))
    pay(sqlite, TEPLOSET, local(config, DAY, 12), "500.00")
    pay(sqlite, UK_DOM, local(config, DAY, 12), "100.00")
    start = local(config, DAY, 21, 31)

    first = daemon.run_once(start)
    assert made(first, TEPLOSET) == [(DAY, 1)] and made(first, UK_DOM) == [(DAY, 1)]
    by_channel = {d.channel: d for d in first.deliveries}
    assert by_channel["outbox"].status is DeliveryStatus.ACKNOWLEDGED
    assert by_channel["flaky"].status is DeliveryStatus.PENDING
    assert by_channel["flaky"].attempts == 1
    assert first.ok  # to be retried: not yet a failure

    assert not daemon.run_once(start + dt.timedelta(seconds=299)).delivered
    assert flaky.calls == [1]

    second = daemon.run_once(start + dt.timedelta(seconds=300))
    assert [(d.status, d.attempts) for d in second.deliveries] == [(DeliveryStatus.PENDING, 2)]
    third = daemon.run_once(start + dt.timedelta(seconds=600))
    [gone] = third.deliveries
    assert (gone.status, gone.attempts) == (DeliveryStatus.FAILED, 3)
    assert "503" in (gone.last_error or "")
    assert third.failed_deliveries == (gone,) and not third.ok
    assert flaky.calls == [1, 1, 1]

    # Failed is final: an operator looks; later passes do not try again.
    fourth = daemon.run_once(start + dt.timedelta(seconds=900))
    assert fourth.delivered and fourth.deliveries == ()
    assert flaky.calls == [1, 1, 1]


# -- the loop ------------------------------------------------------------------------------


def test_run_forever_passes_then_stops_promptly_on_the_stop_event(
    tmp_path: Path, sqlite: SqlStore
) -> None:
    # Long intervals: without the stop event the loop would sleep for a minute.
    config = config_of(write_config(tmp_path, daemon="scan_interval = 3600\nfile_min_age = 0"))
    passes: list[Pass] = []
    passed = threading.Event()

    def seen(done: Pass) -> None:
        passes.append(done)
        passed.set()

    daemon = daemon_for(sqlite, config, on_pass=seen)
    write_sber_debts(tmp_path / "data" / "inbox" / "uk-dom", 7, [debt("1001", "10.00")])
    moment = local(config, DAY, 12)
    stop = threading.Event()
    thread = threading.Thread(
        target=daemon.run_forever, args=(stop,), kwargs={"clock": lambda: moment}
    )
    thread.start()
    try:
        assert passed.wait(20), "no pass was made"
        stop.set()
        thread.join(10)
        assert not thread.is_alive(), "the loop did not stop"
    finally:
        stop.set()
        thread.join()
    assert passes[0].at == moment
    assert [o.outcome for o in passes[0].ingested] == [Outcome.ACTIVATED]
    assert len(passes) == 1


def test_run_once_command_exits_1_when_something_was_refused(tmp_path: Path) -> None:
    path = write_config(tmp_path, daemon="file_min_age = 0")
    good = write_sber_debts(tmp_path / "data" / "inbox" / "uk-dom", 7, [debt("1001", "10.00")])
    empty = tmp_path / "data" / "inbox" / "vodokanal" / "debts_1.csv"
    empty.parent.mkdir(parents=True)
    empty.write_bytes(b"")

    result = CliRunner().invoke(cli, ["runner", "run-once", "--config", str(path)], env=ENV)

    assert result.exit_code == 1, result.output
    assert f"{UK_DOM} {good.name}: activated; № 7" in result.stdout
    assert f"{VODOKANAL} debts_1.csv: refused" in result.stderr
    again = CliRunner().invoke(cli, ["runner", "run-once", "--config", str(path)], env=ENV)
    assert again.exit_code == 0, again.output
    assert again.stdout == "nothing to do\n"


# -- serve ---------------------------------------------------------------------------------


def test_serve_runs_the_scheduler_thread_and_stops_on_sigterm(tmp_path: Path) -> None:
    path = write_config(tmp_path, daemon='scan_interval = 0.2\nfile_min_age = 0\nengine = "thread"')
    config = config_of(path)
    with serving(path, tmp_path / "serve.log") as served:
        inbox = tmp_path / "data" / "inbox" / "uk-dom"
        dropped = write_sber_debts(inbox, 7, [debt("1001", "1500.00"), debt("1002", "230.45")])
        found: list[object] = []
        deadline = time.monotonic() + 20
        while not found and time.monotonic() < deadline:
            assert served.proc.poll() is None, "the server ended early"
            time.sleep(0.1)
            store = open_store(config.store.url, migrate=False)
            try:
                found = list(store.debt_registries(UK_DOM))
            finally:
                store.close()
        assert found, "the scheduler did not ingest the file"
        out, err = served.stop()
    assert served.proc.returncode == 0, err
    assert "pes runner: scheduler on: inboxes every 0.2 s" in out
    assert f"{UK_DOM} {dropped.name}: activated; № 7; 2026-10; 2 records, total 1730.45" in out
    assert out.rstrip().endswith("pes runner: scheduler stopped\npes runner: stopped")
    assert (inbox / "processed" / dropped.name).is_file()
    assert "Traceback" not in err
    events = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert {"daemon.started", "daemon.ingested", "daemon.stopped"} <= {e["event"] for e in events}
    assert "1001" not in err  # no account reaches the log


def test_serve_runs_the_stages_on_the_job_engine_by_default_and_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    path = write_config(
        tmp_path, None, {"tick = 10 ": "tick = 1 "}, daemon="scan_interval = 1\nfile_min_age = 0"
    )
    config = config_of(path)
    assert config.daemon.engine == "dbos"  # the embedded default: SQLite, the same engine
    with serving(path, tmp_path / "serve.log") as served:
        inbox = tmp_path / "data" / "inbox" / "uk-dom"
        dropped = write_sber_debts(inbox, 7, [debt("1001", "1500.00"), debt("1002", "230.45")])
        found: list[object] = []
        deadline = time.monotonic() + 30
        while not found and time.monotonic() < deadline:
            assert served.proc.poll() is None, "the server ended early"
            time.sleep(0.2)
            store = open_store(config.store.url, migrate=False)
            try:
                found = list(store.debt_registries(UK_DOM))
            finally:
                store.close()
        assert found, "the engine did not ingest the file"
        # The stages count on the engine as they did on the scheduler thread.
        scraped = request(served.base, "GET", "/metrics", token=OPERATOR).body.decode()
        assert 'pes_daemon_registries_ingested_total{outcome="activated"} 1.0' in scraped
        # The engine's ticks stand for the passes an operator's alert watches.
        assert served.health()["scheduler_last_pass"] is not None
        out, err = served.stop()
    assert served.proc.returncode == 0, err
    assert "pes runner: background work on the job engine as " in out
    assert out.rstrip().endswith("pes runner: background work stopped\npes runner: stopped")
    assert (inbox / "processed" / dropped.name).is_file()
    assert "Traceback" not in err
    events = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert {"jobs.started", "daemon.ingested", "jobs.stopped"} <= {e["event"] for e in events}
    assert "1001" not in err  # no account reaches the log
    # Every line on stderr is the runner's JSON, the engine's own included.
    assert all(line.startswith("{") for line in err.splitlines() if line.strip()), err


def test_serve_no_daemon_serves_the_api_only(tmp_path: Path) -> None:
    path = write_config(tmp_path, daemon="scan_interval = 0.2\nfile_min_age = 0")
    dropped = write_sber_debts(tmp_path / "data" / "inbox" / "uk-dom", 7, [debt("1001", "1.00")])
    with serving(path, tmp_path / "serve.log", "--no-daemon") as served:
        assert served.health()["status"] == "ok"
        out, err = served.stop()
    assert served.proc.returncode == 0, err
    assert "scheduler" not in out
    assert dropped.exists()
