"""The closes' plan on the job engine (:mod:`pes_sdk_runner.jobs.closes`): which day of each
partner is queued next, read from a real SQLite store (no engine launched: the days a plan
may queue come from the store alone, :func:`~pes_sdk_runner.jobs.closes._candidates`).

A partner without empty registries gets no run for a day that would write nothing: its
first start (or a worker down for days) queues the day of its payments at once, not a chain
of empty closes one queue poll apart (the "two waves" of docs/performance.md).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from example_inputs import TEPLOSET, UK_DOM, VODOKANAL, local, pay_basket
from pes_sdk_runner.close import close_day
from pes_sdk_runner.config import RunnerConfig
from pes_sdk_runner.daemon import PassError
from pes_sdk_runner.jobs.closes import _candidates
from pes_sdk_runner.jobs.engine import Runtime
from pes_sdk_runner.store import SqlStore, open_store
from runner_proc import config_of, write_config

from pes_sdk.plugins.manager import get_host


def _setup(tmp_path: Path) -> tuple[RunnerConfig, SqlStore, Runtime, dt.datetime, dt.date]:
    """The example's partners on a fresh store; ``now`` today's noon in the service's zone,
    so that yesterday is every partner's last ended day (cut-offs 18:00 to 21:30)."""
    path = write_config(tmp_path, None, daemon="close_grace = 0")
    config = config_of(path)
    assert config.store.sqlite_path is not None
    config.store.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    store = open_store(config.store.url)
    store.upsert_partners(p.partner for p in config.partners)
    today = dt.datetime.now(config.service.time_zone).date()
    now = local(config, today, 12)
    rt = Runtime(config, get_host(), open_store=lambda: open_store(config.store.url))
    return config, store, rt, now, today - dt.timedelta(days=1)


def _days(rt: Runtime, inn: str, now: dt.datetime) -> list[dt.date]:
    partner = next(p for p in rt.config.partners if p.inn == inn)
    errors: list[PassError] = []
    delivered = {d.registry_id for d in rt.store().deliveries()}
    days = _candidates(rt, partner, now, errors, lambda: delivered)
    assert not errors, errors
    return days


def test_a_first_plan_queues_the_day_of_the_payments_not_the_empty_days_before(
    tmp_path: Path,
) -> None:
    config, store, rt, now, yesterday = _setup(tmp_path)
    try:
        for p in (UK_DOM, TEPLOSET):
            assert not next(c for c in config.partners if c.inn == p).empty_registry
        assert _days(rt, UK_DOM, now) == []  # nothing paid, nothing to close
        pay_basket(store, UK_DOM, local(config, yesterday, 12), "100.00")
        three_ago = yesterday - dt.timedelta(days=2)
        pay_basket(store, TEPLOSET, local(config, three_ago, 13), "50.00", account="200")
        # Before: the catch-up range from daemon.catch_up_days back, each empty day a close
        # of its own, queued one after the other; now the day with payments, at once.
        assert _days(rt, UK_DOM, now) == [yesterday]
        assert _days(rt, TEPLOSET, now) == [three_ago + dt.timedelta(days=k) for k in range(3)]
        # A partner with empty registries still gets every day from its first one.
        pay_basket(store, VODOKANAL, local(config, three_ago, 10), "10.00", account="300")
        assert _days(rt, VODOKANAL, now) == [three_ago + dt.timedelta(days=k) for k in range(3)]
    finally:
        store.close()
        rt.close()


def test_after_a_close_the_next_day_is_the_next_with_payments_or_a_late_one(
    tmp_path: Path,
) -> None:
    config, store, rt, now, yesterday = _setup(tmp_path)
    try:
        partner = next(p for p in config.partners if p.inn == UK_DOM)
        first = yesterday - dt.timedelta(days=4)
        pay_basket(store, UK_DOM, local(config, first, 12), "100.00")
        pay_basket(store, UK_DOM, local(config, yesterday, 12), "70.00")
        assert _days(rt, UK_DOM, now)[0] == first
        close_day(store, config, get_host(), partner, first, now=now)
        # The empty days between are passed: the next run is the next day with payments.
        assert _days(rt, UK_DOM, now) == [yesterday]
        # A payment of an empty day passed, confirmed late (before the next close): its day
        # comes first, and the day order holds.
        late = first + dt.timedelta(days=2)
        pay_basket(store, UK_DOM, local(config, late, 9), "5.00")
        assert _days(rt, UK_DOM, now) == [late, late + dt.timedelta(days=1), yesterday]
        # One of the day already closed, confirmed late: the next day takes it.
        close_day(store, config, get_host(), partner, late, now=now)
        close_day(store, config, get_host(), partner, yesterday, now=now)
        pay_basket(store, UK_DOM, local(config, yesterday, 13), "1.00")
        assert _days(rt, UK_DOM, now) == []  # yesterday is the last ended day: none after it
        later = now + dt.timedelta(days=1)
        assert _days(rt, UK_DOM, later) == [yesterday + dt.timedelta(days=1)]
    finally:
        store.close()
        rt.close()
