"""``pes runner status``: the processes on the store (by their heartbeats), what waits in it,
and how far each partner's registries are behind its ended days.

A real ``pes runner serve`` on each store (a SQLite file, a fresh PostgreSQL schema) beside
the row of a worker that was killed an hour ago; times are shown in the service's zone
(the example's: Asia/Yekaterinburg), never the host's.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from example_inputs import UK_DOM
from pes_sdk_runner.daemon import Daemon, utc_now
from pes_sdk_runner.heartbeat import ALIVE_FOR
from pes_sdk_runner.store import ProcessBeat, open_store
from runner_proc import ENV, config_of, serving, write_config

from pes_sdk.cli.main import cli
from pes_sdk.plugins.manager import get_host


def run(args: Sequence[str]) -> Result:
    return CliRunner().invoke(cli, list(args), env=dict(ENV), catch_exceptions=False)


pytestmark = pytest.mark.timezone


def test_status_shows_the_live_and_the_dead_processes_and_what_waits(
    store_url: str, tmp_path: Path
) -> None:
    path = write_config(tmp_path, store_url, daemon="enabled = false")
    config = config_of(path)
    if config.store.sqlite_path is not None:
        config.store.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    zone = config.service.time_zone
    store = open_store(config.store.url)
    try:
        store.upsert_partners(p.partner for p in config.partners)
        hour_ago = (utc_now() - dt.timedelta(hours=1)).replace(microsecond=0)
        killed = ProcessBeat("w1", "worker", "host-b", 4242, "0.1.0", hour_ago, hour_ago)
        store.beat(killed)
        # УК Дом's last registry is two days before its last ended day.
        partner = next(p for p in config.partners if p.inn == UK_DOM)
        ended = Daemon(store, config, get_host()).last_ended_day(partner, utc_now())
        money = Decimal("0.00")
        store.record_payment_registry(
            UK_DOM, ended - dt.timedelta(days=2), count=0, amount=money, fee=money, transfer=money
        )
        with serving(path, tmp_path / "a.log") as a:
            as_json = run(["runner", "status", "--config", str(path), "--json"])
            text = run(["runner", "status", "--config", str(path)])
    finally:
        store.close()
    assert as_json.exit_code == 0, as_json.output
    fleet = json.loads(as_json.output)["fleet"]
    alive, dead = fleet["processes"]  # the living first
    assert (alive["role"], alive["pid"], alive["alive"]) == ("serve", a.proc.pid, True)
    assert alive["silent_seconds"] <= ALIVE_FOR.total_seconds()
    assert (dead["id"], dead["role"], dead["host"], dead["alive"]) == (
        "w1",
        "worker",
        "host-b",
        False,
    )
    assert dead["silent_seconds"] >= 3600
    assert dead["last_beat"] == hour_ago.astimezone(zone).isoformat()
    assert dead["last_beat"].endswith("+05:00")  # Yekaterinburg, whatever TZ the test runs in
    assert fleet["waiting"] == {
        "payments": 0,
        "oldest_payment_created_at": None,
        "deliveries": {"pending": 0, "failed": 0},
    }
    # The job engine (the default) keeps its queues beside the store; daemon.enabled =
    # false, so it never ran here: nothing waits, runs or failed.
    assert fleet["queues"] == {
        "depths": {},
        "running": {},
        "oldest_waiting_seconds": None,
        "failed": 0,
    }
    uk = {p["inn"]: p for p in json.loads(as_json.output)["partners"]}[UK_DOM]
    assert (uk["last_ended_day"], uk["days_after_last_registry"]) == (ended.isoformat(), 2)

    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    assert lines[0].startswith("processes: 1 alive, 1 stopped beating (at ")
    assert lines[1].startswith(f"  serve on {alive['host']}, pid {a.proc.pid}, version ")
    assert lines[2].startswith(f"  worker on host-b, pid 4242: dead, last beat {dead['last_beat']}")
    assert "waiting: 0 payments not settled by the acquirer" in lines
    assert "deliveries not done: 0 pending, 0 failed" in lines
    assert f"  2 ended days after the last registry (the last ended: {ended})" in lines


def test_status_of_a_store_where_nothing_runs_says_so(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    text = run(["runner", "status", "--config", str(path)])
    assert text.exit_code == 0, text.output
    assert "processes: 0 alive, 0 stopped beating" in text.output
    assert "  none: no `pes runner serve` or `worker` runs on this store" in text.output
    assert "task queues: waiting 0; running 0; failed tasks: 0" in text.output


def test_status_with_the_scheduler_thread_has_no_queues_and_says_so(tmp_path: Path) -> None:
    path = write_config(tmp_path, daemon='engine = "thread"')
    text = run(["runner", "status", "--config", str(path)])
    assert text.exit_code == 0, text.output
    assert "task queues: none (the scheduler runs in `serve`)" in text.output


def test_status_shows_the_job_engines_queues_where_it_runs_them(tmp_path: Path) -> None:
    path = write_config(tmp_path, daemon='engine = "dbos"')
    as_json = run(["runner", "status", "--config", str(path), "--json"])
    text = run(["runner", "status", "--config", str(path)])
    assert as_json.exit_code == 0, as_json.output
    fleet = json.loads(as_json.output)["fleet"]
    # The engine never ran on this store: nothing waits, runs or failed.
    assert fleet["queues"] == {
        "depths": {},
        "running": {},
        "oldest_waiting_seconds": None,
        "failed": 0,
    }
    assert fleet["queues_error"] is None
    assert "task queues: waiting 0; running 0; failed tasks: 0" in text.output


def test_status_speaks_russian_with_lang_ru(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    text = run(["runner", "status", "--config", str(path), "--lang", "ru"])
    assert text.exit_code == 0, text.output
    assert "процессы: 0 работают, 0 перестали отвечать (на " in text.output
    assert "ожидают: 0 платежей, не завершённых эквайером" in text.output
    assert "незавершённые доставки: 0 ожидают, 0 не удались" in text.output
    assert "очереди задач: ждут 0; выполняются 0; задач с ошибкой: 0" in text.output


def test_a_job_engine_database_that_does_not_answer_is_said_and_the_rest_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pes_sdk_runner import fleet
    from pes_sdk_runner.jobs import JobsError

    def away(config: object, now: object) -> None:
        raise JobsError("job engine's database: OperationalError")

    monkeypatch.setattr(fleet, "queue_facts", away)
    path = write_config(tmp_path, daemon='engine = "dbos"')
    as_json = json.loads(run(["runner", "status", "--config", str(path), "--json"]).output)
    assert (as_json["fleet"]["queues"], as_json["fleet"]["queues_error"]) == (None, "JobsError")
    assert as_json["fleet"]["waiting"]["payments"] == 0  # the store's facts are still there
    text = run(["runner", "status", "--config", str(path)]).output
    assert "task queues: the job engine's database did not answer (JobsError)" in text
