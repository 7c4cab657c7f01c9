"""Meter readings forwarded at the day's close (реестр показаний), on real stores and formats.

The example configuration's water supplier (Водоканал, cut-off 18:00 in Perm, UTC+5) has
``readings_format = "1c-xml-readings"``; the management company (УК Дом) has none. Readings
are recorded through the store with explicit receipt times around the window's bounds.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from example_inputs import HOUSE, UK_DOM, VODOKANAL, local, pay_basket, receive_debts
from pes_sdk_runner.close import (
    DayNotOver,
    close_day,
    close_readings,
    day_window,
    outbox_folder,
    readings_folder,
)
from pes_sdk_runner.config import (
    PartnerConfig,
    RunnerConfig,
    RunnerConfigError,
    example_config_path,
    load_runner_config,
    parse_runner_config,
)
from pes_sdk_runner.daemon import Daemon, Stage
from pes_sdk_runner.store import DeliveryStatus, SqlStore, open_store
from runner_proc import ENV, config_of, write_config

from pes_sdk.cli.main import cli
from pes_sdk.models.readings import MeterReading, MeterType, Photo
from pes_sdk.models.registry import RegistryHeader
from pes_sdk.plugins.manager import PluginHost

DAY = dt.date(2026, 10, 20)
LATER = dt.datetime(2026, 11, 5, tzinfo=dt.UTC)  # "now": every test day is over
FORMAT = "1c-xml-readings"
PHOTO = b"\x89PNG\r\n\x1a\n" + b"meter photo"


@pytest.fixture
def host() -> PluginHost:
    return PluginHost()


@pytest.fixture
def config(tmp_path: Path, host: PluginHost) -> RunnerConfig:
    return load_runner_config(example_config_path(), host, env=ENV, data=tmp_path / "data")


@pytest.fixture
def store(store_url: str, config: RunnerConfig) -> Iterator[SqlStore]:
    s = open_store(store_url)
    s.upsert_partners(p.partner for p in config.partners)
    yield s
    s.close()


def partner_of(config: RunnerConfig, inn: str) -> PartnerConfig:
    found = config.partner(inn)
    assert found is not None
    return found


def reading(
    meter: str,
    *values: str,
    kind: MeterType = MeterType.COLD_WATER,
    account: str = "1001",
    photo: Photo | None = None,
) -> MeterReading:
    return MeterReading(
        account,
        meter,
        kind,
        tuple(Decimal(v) for v in values),
        DAY,
        house_id=HOUSE,
        service="Холодное водоснабжение",
        photo=photo,
    )


def read_back(host: PluginHost, path: Path) -> tuple[list[object], RegistryHeader]:
    with host.format(FORMAT).open(path) as reader:
        return list(reader), reader.header


class Day:
    """The readings of a test day, recorded around Водоканал's window of DAY."""

    def __init__(self, store: SqlStore, config: RunnerConfig) -> None:
        def at(d: dt.date, hh: int, mm: int = 0, ss: int = 0) -> dt.datetime:
            return local(config, d, hh, mm, ss)

        before = DAY - dt.timedelta(days=1)
        after = DAY + dt.timedelta(days=1)
        photo = Photo(hashlib.sha256(PHOTO).hexdigest(), "image/png")

        def add(
            r: MeterReading, when: dt.datetime, inn: str = VODOKANAL, photo: bytes | None = None
        ) -> None:
            store.record_reading("client-1", inn, r, received_at=when, photo=photo)

        self.cold = reading("ХВ-001", "123.456", photo=photo)
        self.power = reading("Э-77", "1500.5", "700.25", kind=MeterType.ELECTRICITY_DAY)
        self.hot_first = reading("ГВ-002", "50.000", kind=MeterType.HOT_WATER)
        self.hot = reading("ГВ-002", "49.5", kind=MeterType.HOT_WATER)
        self.too_early = reading("ХВ-003", "10")
        self.at_end = reading("ХВ-004", "20")
        self.cold_later = reading("ХВ-001", "123.5", photo=photo)
        self.other_partner = reading("ХВ-900", "1", account="2002")
        add(self.too_early, at(before, 17, 59, 59))  # the day before's window
        add(self.cold, at(before, 18, 0), photo=PHOTO)  # the window's first instant
        add(self.power, at(DAY, 10, 0))
        add(self.hot_first, at(DAY, 11, 0))
        add(self.hot, at(DAY, 12, 0))  # a correction the same day: it replaces the first
        add(self.other_partner, at(DAY, 12, 30), inn=UK_DOM)
        add(self.at_end, at(DAY, 18, 0))  # the window's end: the next day
        add(self.cold_later, at(after, 9, 0))  # a correction the next day

    @property
    def expected(self) -> list[MeterReading]:
        """DAY's readings as sent: in the order received, the same-day correction only."""
        return [self.cold, self.power, self.hot]


def test_the_days_readings_are_written_once_and_read_back(
    store: SqlStore, config: RunnerConfig, host: PluginHost
) -> None:
    day = Day(store, config)
    water = partner_of(config, VODOKANAL)

    path = close_readings(store, config, host, water, DAY, now=LATER)

    assert path is not None
    assert path.parent == outbox_folder(config, water) / "readings"
    assert path.name == f"readings_{VODOKANAL}_2026-10-20_20261020.xml"
    assert sorted(readings_folder(config, water).iterdir()) == [path]
    records, header = read_back(host, path)
    assert records == day.expected  # values, dates, meter numbers, photos exact
    assert header.number == 20261020 and header.date == DAY
    assert header.partner_inn == VODOKANAL
    raw = path.read_bytes()
    for text in ("ХВ-001", "Э-77", "ГВ-002", "Холодное водоснабжение"):
        assert text.encode() in raw
    for text in ("ХВ-003", "ХВ-004", "ХВ-900"):  # outside the window, another partner's
        assert text.encode() not in raw

    # A re-run, after a correction of the next day was received: the same bytes.
    again = close_readings(store, config, host, water, DAY, now=LATER + dt.timedelta(days=3))
    assert again == path
    assert path.read_bytes() == raw
    assert sorted(readings_folder(config, water).iterdir()) == [path]


def test_the_next_day_carries_the_reading_at_the_end_and_the_later_correction(
    store: SqlStore, config: RunnerConfig, host: PluginHost
) -> None:
    day = Day(store, config)
    water = partner_of(config, VODOKANAL)
    next_day = DAY + dt.timedelta(days=1)

    path = close_readings(store, config, host, water, next_day, now=LATER)

    assert path is not None
    assert path.name == f"readings_{VODOKANAL}_2026-10-21_20261021.xml"
    records, _ = read_back(host, path)
    assert records == [day.at_end, day.cold_later]
    earlier = close_readings(store, config, host, water, DAY - dt.timedelta(days=1), now=LATER)
    assert earlier is not None
    assert read_back(host, earlier)[0] == [day.too_early]


def test_store_lists_the_readings_that_count_at_the_windows_end(
    store: SqlStore, config: RunnerConfig
) -> None:
    day = Day(store, config)
    start, end = day_window(DAY, dt.time(18, 0), config.service.time_zone)

    got = store.readings_received(VODOKANAL, start, end)

    assert [r.reading for r in got] == day.expected
    assert [r.id for r in got] == sorted(r.id for r in got)
    assert not any(r.superseded for r in got)
    # the first hot-water value was corrected within the window: it is not sent
    assert day.hot_first not in [r.reading for r in got]
    # the cold-water reading counts at the window's end, though corrected since
    assert day.cold in [r.reading for r in got]


def test_a_day_without_readings_writes_no_file(
    store: SqlStore, config: RunnerConfig, host: PluginHost
) -> None:
    Day(store, config)
    water = partner_of(config, VODOKANAL)

    quiet = DAY - dt.timedelta(days=5)
    assert close_readings(store, config, host, water, quiet, now=LATER) is None
    assert not readings_folder(config, water).exists()


def test_a_day_not_over_is_refused(store: SqlStore, config: RunnerConfig, host: PluginHost) -> None:
    Day(store, config)
    water = partner_of(config, VODOKANAL)
    _start, end = day_window(DAY, water.cutoff, config.service.time_zone)

    with pytest.raises(DayNotOver, match=r"20\.10\.2026"):
        close_readings(store, config, host, water, DAY, now=end - dt.timedelta(microseconds=1))
    assert not readings_folder(config, water).exists()

    assert close_readings(store, config, host, water, DAY, now=end) is not None


def test_a_partner_without_readings_format_gets_nothing(
    store: SqlStore, config: RunnerConfig, host: PluginHost
) -> None:
    Day(store, config)  # УК Дом has a reading in its window of DAY (cut-off 20:00)
    dom = partner_of(config, UK_DOM)
    assert dom.readings_format is None
    assert store.readings_received(UK_DOM, *day_window(DAY, dom.cutoff, config.service.time_zone))

    assert close_readings(store, config, host, dom, DAY, now=LATER) is None
    assert not readings_folder(config, dom).exists()


def test_the_payment_close_is_unchanged_beside_the_readings(
    store: SqlStore, config: RunnerConfig, host: PluginHost
) -> None:
    Day(store, config)
    water = partner_of(config, VODOKANAL)
    receive_debts(store, VODOKANAL, local(config, DAY, 9))  # served from DAY on

    closed = close_day(store, config, host, water, DAY, now=LATER)
    path = close_readings(store, config, host, water, DAY, now=LATER)

    # Водоканал sends empty payment registries: one beside the readings, not among them
    assert closed.registry_path is not None and path is not None
    assert closed.registry_path.parent == outbox_folder(config, water)
    assert path.parent == readings_folder(config, water)


# -- the scheduler, the CLI and the loader --------------------------------------------------


def test_the_scheduler_writes_the_readings_and_retries_them_without_undoing_the_registry(
    store: SqlStore, config: RunnerConfig, host: PluginHost
) -> None:
    day = Day(store, config)
    pay_basket(store, VODOKANAL, local(config, DAY, 9), "40.00")
    water = partner_of(config, VODOKANAL)
    daemon = Daemon(store, config, host)
    # The readings folder cannot be made: a file stands where it should be.
    blocker = readings_folder(config, water)
    blocker.parent.mkdir(parents=True)
    blocker.write_text("not a folder")
    now = local(config, DAY, 23)

    first = daemon.run_once(now)

    assert [(e.stage, e.partner, e.subject) for e in first.errors] == [
        (Stage.CLOSE, VODOKANAL, DAY.isoformat())
    ]
    # The payment registry stands, and was delivered in the same pass.
    [closed] = [c for c in first.registries if c.partner_inn == VODOKANAL]
    assert closed.info is not None and closed.info.number == 1
    assert [d.status for d in store.deliveries()] == [DeliveryStatus.ACKNOWLEDGED]

    blocker.unlink()
    second = daemon.run_once(now + dt.timedelta(minutes=5))

    assert second.ok, second.errors
    [path] = sorted(readings_folder(config, water).iterdir())
    assert read_back(host, path)[0] == day.expected
    # The day was closed again, idempotently: the same registry, no second delivery.
    assert [(r.day, r.number) for r in store.payment_registries(VODOKANAL)] == [(DAY, 1)]
    assert len(store.deliveries()) == 1


def test_close_day_command_prints_the_readings_registry(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    config = config_of(path)
    assert config.store.sqlite_path is not None
    config.store.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    store = open_store(config.store.url)
    try:
        store.upsert_partners(p.partner for p in config.partners)
        day = Day(store, config)
    finally:
        store.close()

    args = ["runner", "close-day", "--config", str(path), "--date", f"{DAY}"]
    result = CliRunner().invoke(cli, [*args, "--partner", VODOKANAL], env=dict(ENV))

    assert result.exit_code == 0, result.output
    written = readings_folder(config, partner_of(config, VODOKANAL))
    files = sorted(written.iterdir())
    assert len(files) == 1
    assert f"  readings registry: {files[0]}" in result.output.splitlines()
    assert read_back(PluginHost(), files[0])[0] == day.expected


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("pes-payments", "holds payments, not readings"),
        ("no-such-format", "no registry format named 'no-such-format'"),
    ],
)
def test_the_loader_refuses_a_readings_format_that_is_not_one(
    tmp_path: Path, name: str, message: str
) -> None:
    text = example_config_path().read_text(encoding="utf-8")
    old = f'readings_format = "{FORMAT}"'
    assert old in text
    text = text.replace(old, f'readings_format = "{name}"')

    with pytest.raises(RunnerConfigError) as caught:
        parse_runner_config(text, base=tmp_path, env=ENV)

    assert caught.value.keys == ("partners[1].readings_format",)
    assert message in caught.value.problems[0]


def test_the_example_forwards_the_water_suppliers_readings(config: RunnerConfig) -> None:
    assert partner_of(config, VODOKANAL).readings_format == FORMAT
    assert [p.inn for p in config.partners if p.readings_format] == [VODOKANAL]
