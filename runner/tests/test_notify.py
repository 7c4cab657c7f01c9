"""The notification core (:mod:`pes_sdk_runner.notify`) on real stores and channels.

SQLite and PostgreSQL stores (``store_url``); the sandbox ``outbox`` channel (a real file)
and FCM's loopback simulator (a real HTTP server, :mod:`pes_sdk_fcm.simulator`). The
batches are sent in this process by :class:`Sender` as the ``notify`` workflow's step does;
test_notify_jobs.py runs the workflow in real worker processes.
"""

from __future__ import annotations

import datetime as dt
import threading
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from pes_sdk_fcm.simulator import FcmSimulator, device_token
from pes_sdk_outbox import read_outbox
from pes_sdk_runner.config.models import (
    AdapterSettings,
    NotifyChannel,
    QuietHours,
    RunnerConfig,
)
from pes_sdk_runner.notify import Recipient, Sender, Template, enqueue_messages, message_key
from pes_sdk_runner.store import SqlStore, open_store
from pes_sdk_runner.store.notify import Claim, MessageEvent, MessageStatus, NewMessage
from runner_proc import config_of, write_config

from pes_sdk.notifications import Button
from pes_sdk.plugins.manager import get_host

# Quiet hours are in the client's zone, never the host's: make test runs this module again
# under other TZ values.
pytestmark = pytest.mark.timezone

NOW = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC)  # 15:00 in Perm, 12:00 in Moscow
CHARGES = Template(
    "Начислено $amount руб. за ноябрь — ООО «Теплосеть»",
    title="Новые начисления",
    buttons=(Button("Оплатить", "https://pay.example.ru/pay"),),
    data={"screen": "charges"},
)


def no_wait(seconds: float) -> None:
    """The retries' wait: these tests must not sleep through Retry-After."""


@pytest.fixture
def base(tmp_path: Path, store_url: str) -> RunnerConfig:
    """The example configuration on the test's store (notifications: the defaults)."""
    return config_of(write_config(tmp_path, store_url))


def with_notifications(config: RunnerConfig, **changes: Any) -> RunnerConfig:
    return attrs.evolve(config, notifications=attrs.evolve(config.notifications, **changes))


def outbox(config: RunnerConfig, name: str = "outbox") -> Path:
    channel = config.notifications.channel(name)
    assert channel is not None
    return Path(channel.adapter.settings["path"])


def lines(path: Path) -> list[dict[str, object]]:
    return list(read_outbox(path)) if path.exists() else []


class Queued:
    """Collects what enqueue_messages queues (the workflow is test_notify_jobs.py's)."""

    def __init__(self) -> None:
        self.batches: list[tuple[str, list[int]]] = []

    def __call__(self, workflow_id: str, ids: list[int]) -> None:
        self.batches.append((workflow_id, ids))

    @property
    def ids(self) -> list[int]:
        return [i for _, ids in self.batches for i in ids]


def send_all(
    store: SqlStore, config: RunnerConfig, ids: list[int], *, at: dt.datetime = NOW, who: str = "w"
) -> dict[str, int]:
    sender = Sender(config, get_host(), sleep=no_wait)
    try:
        return dict(sender.send_batch(store, ids, who, now=lambda: at).counts)
    finally:
        sender.close()


def test_each_recipient_gets_one_message_in_cyrillic_however_often_it_is_enqueued_and_sent(
    base: RunnerConfig, store: SqlStore
) -> None:
    for n in range(5):
        store.register_device(f"app:c{n}", "fcm", device_token(n), "ru.example.pay")
    queued = Queued()
    audience = (Recipient(f"app:c{n}", {"amount": f"{n}00,00"}) for n in range(5))
    first = enqueue_messages(
        store, base, source="trigger:charges:1", kind="charges", template=CHARGES,
        audience=audience, enqueue=queued, batch_size=2,
    )  # fmt: skip
    assert (first.clients, first.messages, first.batches) == (5, 5, 3)
    # A re-run of the trigger (a crash before it recorded its end): the same rows, the same
    # workflows (named by their rows), nothing new.
    again = Queued()
    enqueue_messages(
        store, base, source="trigger:charges:1", kind="charges", template=CHARGES,
        audience=[f"app:c{n}" for n in range(5)], enqueue=again, batch_size=2,
    )  # fmt: skip
    assert again.batches == queued.batches
    assert send_all(store, base, queued.ids) == {"sent": 5}
    assert send_all(store, base, queued.ids) == {}  # sent once: nothing to claim
    got = lines(outbox(base))
    assert len(got) == 5
    # pushes go several at a time: the outbox has them in any order
    by_to = {line["to"]: line for line in got}
    assert set(by_to) == {device_token(n) for n in range(5)}
    third = by_to[device_token(3)]
    assert third["text"] == "Начислено 300,00 руб. за ноябрь — ООО «Теплосеть»"
    assert third["title"] == "Новые начисления"
    assert third["buttons"] == [{"label": "Оплатить", "url": "https://pay.example.ru/pay"}]
    assert third["kind"] == "push" and third["collapse"]
    rows = store.messages("trigger:charges:1")
    assert {m.status for m in rows} == {MessageStatus.SENT}
    assert {m.channel for m in rows} == {"outbox"}
    assert {line["key"] for line in got} == {
        message_key("trigger:charges:1", m.client_id, m.target) for m in rows
    }


def test_a_source_template_is_checked_once_and_a_broken_one_fails_its_messages(
    base: RunnerConfig, store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The sender reads and checks a source's template once, not once a message (a
    # campaign's 800,000 messages share one); a stored body that is no template (written
    # by an older release, say) fails each of its messages as "invalid", nothing sent.
    for n in range(6):
        store.register_device(f"app:t{n}", "fcm", device_token(100 + n), "ru.example.pay")
    good, broken = Queued(), Queued()
    enqueue_messages(
        store, base, source="trigger:plain:1", kind="charges",
        template=Template("Начисления за ноябрь готовы", title="Без полей: $$ как есть"),
        audience=[f"app:t{n}" for n in range(3)], enqueue=good,
    )  # fmt: skip
    devices = store.devices_of([f"app:t{n}" for n in range(3, 6)])
    template_id = store.message_template("trigger:broken:1", "charges", {"text": ""})
    broken.batches.append(
        ("w", store.add_messages([
            NewMessage("trigger:broken:1", client, f"device:{d.id}", template_id, "charges",
                       "push", d.id)
            for client, (d,) in sorted(devices.items())
        ]))
    )  # fmt: skip
    parsed: list[object] = []
    original = Template.from_body.__func__  # type: ignore[attr-defined]

    def counting(cls: type[Template], body: Any) -> Template:
        parsed.append(body)  # counts the checks; the real method does the work
        return original(cls, body)  # type: ignore[no-any-return]

    monkeypatch.setattr(Template, "from_body", classmethod(counting))
    assert send_all(store, base, good.ids + broken.ids) == {"sent": 3, "failed": 3}
    assert len(parsed) == 2  # once a source, not once a message
    got = lines(outbox(base))
    assert {line["text"] for line in got} == {"Начисления за ноябрь готовы"}
    assert {line["title"] for line in got} == {"Без полей: $ как есть"}
    failed = store.messages("trigger:broken:1")
    assert {(m.status, m.reason) for m in failed} == {(MessageStatus.FAILED, "invalid")}


def test_two_senders_at_once_send_each_message_once(
    base: RunnerConfig, store: SqlStore, open_more: object
) -> None:
    clients = [f"app:c{n}" for n in range(40)]
    for n, client in enumerate(clients):
        store.set_contact(client, phone=f"+7916000{n:04d}")
    queued = Queued()
    enqueue_messages(
        store, base, source="campaign:1", kind="news", template=Template("Новости ЖКХ"),
        audience=clients, enqueue=queued,
    )  # fmt: skip
    errors: list[BaseException] = []

    def run(who: str) -> None:
        own = open_more()  # type: ignore[operator]
        try:
            send_all(own, base, queued.ids, who=who)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in ("w1", "w2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    got = lines(outbox(base))
    assert sorted(str(line["to"]) for line in got) == sorted(f"+7916000{n:04d}" for n in range(40))
    assert {m.status for m in store.messages("campaign:1")} == {MessageStatus.SENT}


def test_batch_claims_from_four_stores_at_once_give_each_message_to_exactly_one(
    base: RunnerConfig, store: SqlStore, open_more: Any
) -> None:
    # A batch's messages are claimed in one transaction, row by row: four claimers on
    # connections of their own, each over all the rows in its own order of chunks, must
    # split them with none claimed twice and none left out.
    clients = [f"app:c{n:03d}" for n in range(120)]
    for n, client in enumerate(clients):
        store.register_device(client, "fcm", device_token(n), "app")
    queued = Queued()
    enqueue_messages(
        store, base, source="campaign:9", kind="news", template=Template("Новость"),
        audience=clients, enqueue=queued,
    )  # fmt: skip
    ids = queued.ids
    won: dict[str, list[int]] = {}
    errors: list[BaseException] = []

    def claim(who: str, order: int) -> None:
        own = open_more()
        chunks = [ids[k : k + 25] for k in range(0, len(ids), 25)]
        mine: list[int] = []
        try:
            for chunk in chunks[order:] + chunks[:order]:
                got = own.claim_messages(chunk, who, NOW)
                assert set(got) == set(chunk)
                mine += [i for i, c in got.items() if c is Claim.CLAIMED]
                assert all(c in (Claim.CLAIMED, Claim.TAKEN) for c in got.values())
        except BaseException as exc:  # reported below
            errors.append(exc)
        won[who] = mine

    threads = [threading.Thread(target=claim, args=(f"wf-{w}", w)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    every = [i for mine in won.values() for i in mine]
    assert sorted(every) == sorted(ids)  # each once: none twice, none lost
    rows = {m.id: m for m in store.messages("campaign:9")}
    for who, mine in won.items():
        assert {rows[i].claimed_by for i in mine} <= {who}
    assert {(m.status, m.attempts) for m in rows.values()} == {(MessageStatus.SENDING, 1)}
    with pytest.raises(KeyError):
        store.claim_messages([*ids[:3], 10**9], "wf-x", NOW)


def test_pushes_claimed_as_a_batch_before_a_crash_are_each_sent_once_by_its_rerun(
    base: RunnerConfig, store: SqlStore
) -> None:
    # A SIGKILL after a batch's claim and before its ends were recorded leaves its rows
    # "sending" under the workflow: its re-run (the same claimer) sends them, once each;
    # another run does not touch them; a second re-run sends nothing.
    clients = [f"app:c{n:03d}" for n in range(70)]
    for n, client in enumerate(clients):
        store.register_device(client, "fcm", device_token(n), "app")
    queued = Queued()
    enqueue_messages(
        store, base, source="campaign:10", kind="news", template=Template("Новость"),
        audience=clients, enqueue=queued,
    )  # fmt: skip
    claimed = store.claim_messages(queued.ids[:50], "wf-1", NOW)
    assert set(claimed.values()) == {Claim.CLAIMED}
    assert send_all(store, base, queued.ids, who="wf-2") == {"sent": 20}  # the rest only
    assert send_all(store, base, queued.ids, who="wf-1") == {"sent": 50}
    assert send_all(store, base, queued.ids, who="wf-1") == {}
    got = lines(outbox(base))
    keys = [str(line["key"]) for line in got]
    rows = store.messages("campaign:10")
    assert sorted(keys) == sorted(message_key(m.source, m.client_id, m.target) for m in rows)
    assert {(m.status, m.attempts) for m in rows} == {(MessageStatus.SENT, 1)}


def test_two_senders_at_once_send_each_push_once_many_in_flight(
    base: RunnerConfig, store: SqlStore, open_more: Any
) -> None:
    # Pushes go several at a time (claimed and recorded a group per transaction): two
    # senders over the same ids, each on its own connection, still send each one once.
    clients = [f"app:c{n:03d}" for n in range(90)]
    for n, client in enumerate(clients):
        store.register_device(client, "fcm", device_token(n), "app")
    queued = Queued()
    enqueue_messages(
        store, base, source="campaign:11", kind="news", template=Template("Новость"),
        audience=clients, enqueue=queued,
    )  # fmt: skip
    errors: list[BaseException] = []
    counts: list[dict[str, int]] = []

    def run(who: str, ids: list[int]) -> None:
        sender = Sender(base, get_host(), sleep=no_wait, concurrency=8)
        try:
            counts.append(dict(sender.send_batch(open_more(), ids, who, now=lambda: NOW).counts))
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            sender.close()

    ids = queued.ids
    threads = [
        threading.Thread(target=run, args=("w1", ids)),
        threading.Thread(target=run, args=("w2", ids[::-1])),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum(c.get("sent", 0) for c in counts) == 90
    keys = [str(line["key"]) for line in lines(outbox(base))]
    assert len(keys) == len(set(keys)) == 90
    assert {m.status for m in store.messages("campaign:11")} == {MessageStatus.SENT}


def test_a_client_who_opted_out_of_a_kind_gets_none_of_it_and_the_rest_still_come(
    base: RunnerConfig, store: SqlStore
) -> None:
    for client in ("app:a", "app:b"):
        store.register_device(client, "rustore", f"tok-{client}", "ru.example.pay")
    store.set_opt_out("app:a", "news", True)
    queued = Queued()
    enqueue_messages(
        store, base, source="campaign:7", kind="news", template=Template("Акция"),
        audience=["app:a", "app:b"], enqueue=queued,
    )  # fmt: skip
    enqueue_messages(
        store, base, source="trigger:debts:1", kind="debts", template=Template("Долг"),
        audience=["app:a"], enqueue=queued,
    )  # fmt: skip
    assert send_all(store, base, queued.ids) == {"skipped": 1, "sent": 2}
    (a, b) = store.messages("campaign:7")
    assert (a.status, a.reason) == (MessageStatus.SKIPPED, "opt-out")
    assert b.status is MessageStatus.SENT
    assert sorted(str(line["text"]) for line in lines(outbox(base))) == ["Акция", "Долг"]
    store.set_opt_out("app:a", "news", False)
    assert not store.opted_out("app:a", "news")


def test_quiet_hours_are_the_clients_own_and_defer_the_message_to_their_end(
    base: RunnerConfig, store: SqlStore
) -> None:
    config = with_notifications(base, quiet_hours=QuietHours(dt.time(21), dt.time(9)))
    assert str(config.service.time_zone) == "Asia/Yekaterinburg"  # UTC+5
    # 16:30 UTC: 21:30 in Perm (quiet), 18:30 in Kaliningrad (not), 19:30 in Moscow (not)
    at = dt.datetime(2026, 12, 7, 16, 30, tzinfo=dt.UTC)
    store.register_device("app:perm", "fcm", device_token(1), "app")
    store.register_device("app:kgd", "fcm", device_token(2), "app")
    store.set_contact("app:kgd", time_zone="Europe/Kaliningrad")
    store.register_device("app:msk", "fcm", device_token(3), "app", time_zone="Europe/Moscow")
    queued = Queued()
    enqueue_messages(
        store, config, source="campaign:2", kind="news", template=Template("Вечерняя новость"),
        audience=["app:perm", "app:kgd", "app:msk"], enqueue=queued,
    )  # fmt: skip
    sender = Sender(config, get_host(), sleep=no_wait)
    done = sender.send_batch(store, queued.ids, "w", now=lambda: at)
    assert dict(done.counts) == {"sent": 2}
    # Perm's quiet hours end at 09:00 local, 04:00 UTC the next day: not dropped, waiting.
    end = dt.datetime(2026, 12, 8, 4, 0, tzinfo=dt.UTC)
    assert done.deferred_until == end
    perm = store.messages("campaign:2")[0]
    assert (perm.client_id, perm.status, perm.not_before) == ("app:perm", "queued", end)
    # Its follow-up run a minute early still waits; at the end it goes.
    early = sender.send_batch(
        store, done.deferred, "w+1", now=lambda: end - dt.timedelta(minutes=1)
    )
    assert early.counts == {} and early.deferred_until == end
    late = sender.send_batch(store, done.deferred, "w+2", now=lambda: end)
    assert dict(late.counts) == {"sent": 1}
    sender.close()
    assert len(lines(outbox(config))) == 3


def test_the_throttle_counts_messages_not_devices_and_skips_past_the_limit(
    base: RunnerConfig, store: SqlStore
) -> None:
    config = with_notifications(base, per_day=1)
    store.register_device("app:a", "fcm", device_token(1), "phone")
    store.register_device("app:a", "apns", "a" * 64, "tablet")
    queued = Queued()
    for n in (1, 2):
        enqueue_messages(
            store, config, source=f"campaign:{n}", kind="news", template=Template(f"Новость {n}"),
            audience=["app:a"], enqueue=queued,
        )  # fmt: skip
    assert send_all(store, config, queued.ids) == {"sent": 2, "skipped": 2}
    assert {m.status for m in store.messages("campaign:1")} == {MessageStatus.SENT}
    second = store.messages("campaign:2")
    assert {(m.status, m.reason) for m in second} == {(MessageStatus.SKIPPED, "throttle")}
    # a day later the limit is free again
    later = Queued()
    enqueue_messages(
        store, config, source="campaign:3", kind="news", template=Template("Новость 3"),
        audience=["app:a"], enqueue=later,
    )  # fmt: skip
    assert send_all(store, config, later.ids, at=NOW + dt.timedelta(days=1, minutes=1)) == {
        "sent": 2
    }


@pytest.fixture
def fcm(tmp_path: Path) -> Iterator[FcmSimulator]:
    sim = FcmSimulator().start()
    try:
        yield sim
    finally:
        sim.stop()


def fcm_and_sms(base: RunnerConfig, fcm: FcmSimulator, tmp_path: Path) -> RunnerConfig:
    """Push through FCM (the simulator), SMS through a sandbox outbox of its own."""
    key = fcm.write_service_account(tmp_path / "fcm.json")
    channels = (
        NotifyChannel(
            "fcm",
            "fcm",
            AdapterSettings(
                {"service_account_file": str(key), "endpoint": fcm.endpoint, "timeout": "2"}
            ),
        ),
        NotifyChannel("sms", "outbox", AdapterSettings({"path": str(tmp_path / "sms.jsonl")})),
    )
    via = {"fcm": "fcm", "sms": "sms"}
    return with_notifications(
        base, channels=channels, via=via, order={"default": ("push", "sms")}, attempts=2
    )


def test_pushes_in_flight_together_over_http2_keep_retries_waits_and_dead_tokens(
    base: RunnerConfig, store: SqlStore, tmp_path: Path
) -> None:
    # FCM as Google serves it (TLS, HTTP/2), the sender's 8 sends at once: FCM's
    # Retry-After is waited for (attempts = 2, bounded), a dead token is deleted and its
    # client reached by SMS, everyone else gets one push, none twice.
    with FcmSimulator(tls_folder=tmp_path) as sim:
        key = sim.write_service_account(tmp_path / "fcm.json")
        assert sim.ca_file is not None
        settings = {
            "service_account_file": str(key),
            "endpoint": sim.endpoint,
            "timeout": "5",
            "ca_file": str(sim.ca_file),
        }
        config = with_notifications(
            base,
            channels=(
                NotifyChannel("fcm", "fcm", AdapterSettings(settings)),
                NotifyChannel("sms", "outbox", AdapterSettings({"path": str(tmp_path / "s")})),
            ),
            via={"fcm": "fcm", "sms": "sms"},
            order={"default": ("push", "sms")},
            attempts=2,
        )
        devices = [
            store.register_device(f"app:c{n:02d}", "fcm", device_token(n), "app") for n in range(60)
        ]
        store.set_contact("app:c00", phone="+79161234567")
        sim.unregister(device_token(0))
        sim.fail_next("quota", times=3, retry_after=7)
        queued = Queued()
        enqueue_messages(
            store, config, source="campaign:12", kind="news", template=Template("Новость"),
            audience=[d.client_id for d in devices], enqueue=queued,
        )  # fmt: skip
        waits: list[float] = []
        sender = Sender(config, get_host(), sleep=waits.append, concurrency=8)
        try:
            counts = dict(sender.send_batch(store, queued.ids, "wf-1", now=lambda: NOW).counts)
        finally:
            sender.close()
        assert counts == {"sent": 60, "dead": 1}  # 59 pushes and the dead one's SMS
        assert waits == [7.0, 7.0, 7.0]
        tokens = [m["token"] for m in sim.messages]
        assert sorted(tokens) == sorted(device_token(n) for n in range(1, 60))
        assert sim.requests == 59 + 1 + 3  # each once, the dead one once, three retried
        assert set(sim.http_versions) == {"2"}
        assert store.device(devices[0].id) is None
        assert [line["to"] for line in lines(tmp_path / "s")] == ["+79161234567"]


def test_push_falls_back_to_sms_and_a_dead_token_is_deleted_at_once(
    base: RunnerConfig, store: SqlStore, fcm: FcmSimulator, tmp_path: Path
) -> None:
    config = fcm_and_sms(base, fcm, tmp_path)
    live = store.register_device("app:live", "fcm", device_token(1), "app")
    dead = store.register_device("app:dead", "fcm", device_token(2), "app")
    fcm.unregister(device_token(2))
    for client in ("app:live", "app:dead", "app:nodevice"):
        store.set_contact(client, phone="+79161234567")
    store.set_contact("app:nocontact", email="x@example.ru")  # no SMS, no device
    queued = Queued()
    enqueue_messages(
        store, config, source="trigger:charges:9", kind="charges", template=CHARGES,
        audience=(
            Recipient(c, {"amount": "1 234,56"})
            for c in ("app:live", "app:dead", "app:nodevice", "app:nocontact")
        ),
        enqueue=queued,
    )  # fmt: skip
    counts = send_all(store, config, queued.ids)
    assert counts == {"sent": 3, "dead": 1, "skipped": 1}
    by_client = {(m.client_id, m.transport): m for m in store.messages("trigger:charges:9")}
    assert by_client["app:live", "push"].status is MessageStatus.SENT
    assert str(by_client["app:live", "push"].provider_id).startswith("0:")  # FCM's id
    assert ("app:live", "sms") not in by_client  # reached by push: no SMS
    gone = by_client["app:dead", "push"]
    assert (gone.status, gone.reason) == (MessageStatus.DEAD, "UNREGISTERED")
    assert store.device(dead.id) is None and store.device(live.id) is not None
    assert by_client["app:dead", "sms"].status is MessageStatus.SENT
    assert by_client["app:nodevice", "sms"].status is MessageStatus.SENT  # SMS first there
    nocontact = by_client["app:nocontact", "push"]
    assert (nocontact.status, nocontact.reason) == (MessageStatus.SKIPPED, "no-contact")
    sms = lines(tmp_path / "sms.jsonl")
    assert [line["to"] for line in sms] == ["+79161234567", "+79161234567"]
    assert sms[0]["text"] == "Начислено 1 234,56 руб. за ноябрь — ООО «Теплосеть»"
    assert len(fcm.messages) == 1
    # sent again (a re-run): no second SMS, no second push
    assert send_all(store, config, queued.ids) == {}
    assert len(lines(tmp_path / "sms.jsonl")) == 2 and len(fcm.messages) == 1


def test_a_provider_unavailable_after_the_bounded_retries_falls_back_to_sms(
    base: RunnerConfig, store: SqlStore, fcm: FcmSimulator, tmp_path: Path
) -> None:
    config = fcm_and_sms(base, fcm, tmp_path)
    store.register_device("app:a", "fcm", device_token(1), "app")
    store.set_contact("app:a", phone="+79161234567")
    fcm.fail_always("unavailable")
    queued = Queued()
    enqueue_messages(
        store, config, source="trigger:charges:3", kind="charges", template=Template("Счёт"),
        audience=["app:a"], enqueue=queued,
    )  # fmt: skip
    assert send_all(store, config, queued.ids) == {"failed": 1, "sent": 1}
    push, sms = store.messages("trigger:charges:3")
    assert (push.status, push.reason, push.channel) == (MessageStatus.FAILED, "UNAVAILABLE", "fcm")
    assert (sms.status, sms.channel) == (MessageStatus.SENT, "sms")
    assert fcm.requests == 2  # two attempts (attempts = 2), no more


def test_a_send_cut_by_a_crash_is_repeated_only_where_a_repeat_shows_once(
    base: RunnerConfig, store: SqlStore
) -> None:
    # The row a dead process left "sending": its workflow's re-run (the same claimer) finds
    # it. A push is sent again with the same collapse id (the device shows one); an SMS
    # cannot be taken back, so it is left "unsure" for an operator, not sent twice.
    store.register_device("app:p", "fcm", device_token(1), "app")
    store.set_contact("app:s", phone="+79161234567")
    queued = Queued()
    enqueue_messages(
        store, base, source="campaign:5", kind="news", template=Template("Новость"),
        audience=["app:p", "app:s"], enqueue=queued,
    )  # fmt: skip
    push, sms = store.messages("campaign:5")
    assert store.claim_message(push.id, "wf-1", NOW) is Claim.CLAIMED
    assert store.claim_message(sms.id, "wf-1", NOW) is Claim.CLAIMED
    assert store.claim_message(push.id, "wf-2", NOW) is Claim.TAKEN
    assert send_all(store, base, queued.ids, who="wf-2") == {}  # another run: not its own
    assert send_all(store, base, queued.ids, who="wf-1") == {"sent": 1, "unsure": 1}
    push, sms = store.messages("campaign:5")
    assert (push.status, push.attempts) == (MessageStatus.SENT, 1)
    assert (sms.status, sms.reason) == (MessageStatus.UNSURE, "interrupted")
    assert [line["kind"] for line in lines(outbox(base))] == ["push"]
    # a channel whose provider drops a repeated key may be asked again
    dedup = with_notifications(
        base,
        channels=tuple(attrs.evolve(c, dedup_by_key=True) for c in base.notifications.channels),
    )
    store.set_contact("app:s2", phone="+79161234568")
    more = Queued()
    enqueue_messages(
        store, dedup, source="campaign:6", kind="news", template=Template("Новость"),
        audience=["app:s2"], enqueue=more,
    )  # fmt: skip
    assert store.claim_message(more.ids[0], "wf-3", NOW) is Claim.CLAIMED
    assert send_all(store, dedup, more.ids, who="wf-3") == {"sent": 1}


def test_devices_move_with_their_token_and_events_are_recorded_once(store: SqlStore) -> None:
    a = store.register_device("app:a", "fcm", "tok-1", "ru.example.pay", time_zone="Asia/Omsk")
    b = store.register_device("app:b", "fcm", "tok-1", "ru.example.pay")
    assert a.id == b.id and b.client_id == "app:b" and "tok-1" not in repr(b)
    assert store.devices_of(["app:a", "app:b"]) == {"app:b": [b]}
    assert not store.delete_device(b.id, "app:a")  # not its own
    assert store.delete_device(b.id, "app:b")
    with pytest.raises(ValueError, match="provider"):
        store.register_device("app:a", "sms", "tok", "app")
    tid = store.message_template("campaign:1", "news", Template("Новость").body())
    assert store.message_template("campaign:1", "news", Template("Другая").body()) == tid
    from pes_sdk_runner.store.notify import NewMessage

    (mid,) = store.add_messages([NewMessage("campaign:1", "app:a", "sms", tid, "news", "sms")])
    first = NOW + dt.timedelta(minutes=1)
    assert store.record_message_event(mid, MessageEvent.CLICKED, first, button=1)
    assert store.record_message_event(mid, MessageEvent.OPENED, NOW + dt.timedelta(minutes=2))
    assert store.record_message_event(
        mid, MessageEvent.CLICKED, NOW + dt.timedelta(hours=1), button=2
    )
    assert not store.record_message_event(mid, MessageEvent.OPENED, NOW, client_id="app:b")
    m = store.message(mid)
    assert m is not None
    assert (m.delivered_at, m.clicked_at, m.clicked_button) == (first, first, 1)
    assert m.opened_at == NOW + dt.timedelta(minutes=2)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_the_audience_is_streamed_memory_does_not_grow_with_its_size(
    base: RunnerConfig, store_url: str
) -> None:
    # No devices and no contacts: one row per client, the cheapest path, so that what is
    # measured is what enqueue_messages keeps of the audience.
    store = open_store(store_url)

    def peak(n: int, source: str) -> int:
        audience = (f"app:client-{i}" for i in range(n))
        count = [0]

        def enqueue(workflow_id: str, ids: list[int]) -> None:
            count[0] += len(ids)

        tracemalloc.start()
        try:
            enqueue_messages(
                store, base, source=source, kind="news", template=Template("Новость"),
                audience=audience, enqueue=enqueue, batch_size=500,
            )  # fmt: skip
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
            assert count[0] == n

    try:
        small = peak(10_000, "campaign:small")
        large = peak(100_000, "campaign:large")
    finally:
        store.close()
    # Ten times the audience, the same batches in memory: well under twice the peak (a
    # list of 200,000 ids alone would be several megabytes).
    assert large < small * 1.5 + 256 * 1024, (small, large)


def test_a_deleted_cabinet_takes_its_devices_contacts_and_opt_outs_with_it(
    store: SqlStore,
) -> None:
    from pes_sdk_runner.store.base import LoginAttempt

    attempt = LoginAttempt(
        "att-1", "+79161234567", "hash", "127.0.0.1", NOW, NOW + dt.timedelta(minutes=5)
    )
    assert store.add_login_attempt(attempt, []) is None
    cabinet = store.use_login_attempt("att-1", NOW, "session-hash")
    assert cabinet is not None
    client = f"cabinet:{cabinet.id}"
    store.register_device(client, "webpush", '{"endpoint": "https://push.example/1"}', "cabinet")
    store.set_contact(client, email="ivanov@example.ru", time_zone="Europe/Moscow")
    store.set_opt_out(client, "news", True)
    # a cabinet client is reached by SMS at its cabinet's phone
    assert store.contacts_of([client])[client].phone == "+79161234567"
    assert store.delete_cabinet(cabinet.id)
    assert store.devices_of([client]) == {} and store.contacts_of([client]) == {}
    assert not store.opted_out(client, "news")
