"""The ``notify`` workflow in real worker processes: exactly once through two workers and a
SIGKILL in the middle of a campaign (docs/runner-crash-safety.md, "Notifications").

``pes runner worker`` processes on a scratch PostgreSQL schema (``pg_url``); this process
writes the campaign's rows and queues its batches through the engine's system database
(:func:`pes_sdk_runner.notify.queue_batch`), as the API or a trigger would. The channel is
the sandbox outbox: every message handed over is a line of its file, so a second copy or a
missing one is seen there.
"""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from dbos import DBOS
from pes_sdk_runner.config import RunnerConfig
from pes_sdk_runner.config.models import QuietHours
from pes_sdk_runner.jobs import launch
from pes_sdk_runner.notify import Template, close_queue_clients, enqueue_messages, message_key
from pes_sdk_runner.store import SqlStore, open_store
from pes_sdk_runner.store.notify import MessageStatus
from runner_proc import (
    config_of,
    outbox_lines,
    wait_started,
    worker,
    write_config,
)

from pes_sdk.plugins.manager import get_host

#: How long a test waits for the workers to get somewhere before it gives up.
PATIENCE = 120.0
CLIENTS = 240


@pytest.fixture(autouse=True)
def _clients() -> Iterator[None]:
    yield
    close_queue_clients()


def _config(tmp_path: Path, url: str | None) -> tuple[Path, RunnerConfig]:
    path = write_config(tmp_path, url, {"tick = 10 ": "tick = 1 "})
    return path, config_of(path)


def _wait_final(store: SqlStore, source: str, *procs: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + PATIENCE
    while True:
        left = [m for m in store.messages(source) if m.status in ("queued", "sending")]
        if not left:
            return
        for p in procs:
            assert p.poll() is None, f"a worker ended ({p.returncode}) with {len(left)} left"
        assert time.monotonic() < deadline, f"{len(left)} messages were not sent"
        time.sleep(0.3)


def _audience(store: SqlStore, *, push: bool) -> list[str]:
    clients = [f"app:c{n:04d}" for n in range(CLIENTS)]
    for n, client in enumerate(clients):
        if push and n % 3:
            store.register_device(client, "fcm", f"token-{n:04d}", "ru.example.pay")
        store.set_contact(client, phone=f"+7916{n:07d}")
    return clients


def test_two_workers_and_a_sigkill_mid_campaign_send_each_recipient_one_copy(
    tmp_path: Path, pg_url: str
) -> None:
    path, config = _config(tmp_path, pg_url)
    store = open_store(config.store.url)
    try:
        clients = _audience(store, push=True)
        # w1 dies of SIGKILL after its 20th recorded message, in the middle of a batch.
        with (
            worker(path, tmp_path, "w1", crash_at="notify.recorded@20") as w1,
            worker(path, tmp_path, "w2") as w2,
        ):
            wait_started(tmp_path, "w1", w1, PATIENCE)
            wait_started(tmp_path, "w2", w2, PATIENCE)
            done = enqueue_messages(
                store,
                config,
                source="campaign:1",
                kind="news",
                template=Template("Отключение горячей воды 10 декабря", title="Новости"),
                audience=iter(clients),
                batch_size=30,
            )
            assert (done.clients, done.batches) == (CLIENTS, 8)
            w1.wait(timeout=PATIENCE)
            assert w1.returncode == -signal.SIGKILL
            # its restart takes its batch back from its last step
            with worker(path, tmp_path, "w1") as again:
                _wait_final(store, "campaign:1", again, w2)
        messages = store.messages("campaign:1")
        assert len(messages) == CLIENTS
        assert Counter(m.status for m in messages) == {MessageStatus.SENT: CLIENTS}
        lines = outbox_lines(config)
        keys = Counter(str(line["key"]) for line in lines)
        expected = {message_key(m.source, m.client_id, m.target) for m in messages}
        assert set(keys) == expected  # nobody without one
        assert set(keys.values()) == {1}  # nobody with two
        assert {line["text"] for line in lines} == {"Отключение горячей воды 10 декабря"}
    finally:
        store.close()


def test_a_sigkill_between_an_sms_and_its_record_leaves_it_unsure_never_sent_twice(
    tmp_path: Path, pg_url: str
) -> None:
    path, config = _config(tmp_path, pg_url)
    store = open_store(config.store.url)
    try:
        clients = _audience(store, push=False)[:60]
        with worker(path, tmp_path, "w1", crash_at="notify.sent-not-recorded@7") as w1:
            wait_started(tmp_path, "w1", w1, PATIENCE)
            enqueue_messages(
                store,
                config,
                source="trigger:debts:1",
                kind="debts",
                template=Template("Напоминание о долге"),
                audience=clients,
            )
            w1.wait(timeout=PATIENCE)
            assert w1.returncode == -signal.SIGKILL
        with worker(path, tmp_path, "w1") as again:
            _wait_final(store, "trigger:debts:1", again)
        messages = store.messages("trigger:debts:1")
        statuses = Counter(m.status for m in messages)
        assert statuses == {MessageStatus.SENT: 59, MessageStatus.UNSURE: 1}
        (unsure,) = [m for m in messages if m.status is MessageStatus.UNSURE]
        assert unsure.reason == "interrupted"
        keys = Counter(str(line["key"]) for line in outbox_lines(config))
        # handed over before the kill, never again: everyone has exactly one
        assert set(keys.values()) == {1} and len(keys) == 60
        assert message_key(unsure.source, unsure.client_id, unsure.target) in keys
    finally:
        store.close()


def test_serve_on_sqlite_sends_on_its_own_engine_and_quiet_hours_wait_for_their_end(
    tmp_path: Path,
) -> None:
    # The embedded default: one process, a SQLite store, the engine in it. Quiet hours
    # from two hours ago to the next minute, in the service's zone (Perm, UTC+5): app:2
    # (no zone of its own) is in them; app:0 in Tokyo (Perm + 4 h) and app:1 in London
    # (Perm - 5 h) are not. The quiet message waits for a run of its own, queued with the
    # delay to their end.
    _, config = _config(tmp_path, None)
    assert config.store.sqlite_path is not None
    config.store.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    local = dt.datetime.now(config.service.time_zone)
    end = (local + dt.timedelta(minutes=1)).replace(second=0, microsecond=0)
    quiet = QuietHours((local - dt.timedelta(hours=2)).time().replace(second=0), end.time())
    config = attrs.evolve(
        config, notifications=attrs.evolve(config.notifications, quiet_hours=quiet)
    )
    store = open_store(config.store.url)
    engine = launch(config, get_host(), executor_id="notify-test")
    try:
        for n, zone in enumerate(("Asia/Tokyo", "Europe/London", None)):
            store.register_device(f"app:{n}", "fcm", f"token-{n}", "app", time_zone=zone)
        done = enqueue_messages(
            store,
            config,
            source="campaign:q",
            kind="news",
            template=Template("Тихий час кончился"),
            audience=["app:0", "app:1", "app:2"],
        )
        assert done.batches == 1
        deadline = time.monotonic() + PATIENCE
        while len([m for m in store.messages("campaign:q") if m.status == "sent"]) < 2:
            assert time.monotonic() < deadline, "the clients out of quiet hours got nothing"
            time.sleep(0.2)
        waiting = store.messages("campaign:q")[2]
        assert waiting.status == "queued" and waiting.not_before == end.astimezone(dt.UTC)
        while store.messages("campaign:q")[2].status != "sent":
            assert time.monotonic() < deadline, "the quiet message was not sent at their end"
            time.sleep(0.5)
        sent = store.messages("campaign:q")[2]
        assert sent.sent_at is not None and sent.sent_at >= end
        follow_ups = [
            w.workflow_id
            for w in DBOS.list_workflows(load_input=False)
            if w.workflow_id.startswith("notify:") and "+" in w.workflow_id
        ]
        assert len(follow_ups) == 1
        assert len(outbox_lines(config)) == 3
    finally:
        engine.shutdown()
        store.close()
