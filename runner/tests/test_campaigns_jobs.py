"""A campaign in real worker processes: the tick starts it once across two workers, and a
SIGKILL in the middle of its audience resumes it with everyone getting exactly one copy.

``pes runner worker`` processes on a scratch PostgreSQL schema (``pg_url``), the sandbox
outbox as the channel (every message handed over is a line of its file, so a second copy
or a missing one is seen there). ``[notifications] batch_size = 25``: the campaign's
audience of 400 is four pages of 100 (a page is four batches), so the kill at the second
page's end leaves half of it unwritten.
"""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

from pes_sdk_runner.campaigns import create_campaign
from pes_sdk_runner.notify import close_queue_clients, message_key
from pes_sdk_runner.store import open_store
from pes_sdk_runner.store.campaigns import CampaignState
from runner_proc import (
    config_of,
    outbox_lines,
    wait_started,
    worker,
    write_config,
)

#: How long the test waits for the workers to get somewhere before it gives up.
PATIENCE = 180.0

PARTNER = "5003012349"
CLIENTS = 400
NOTIFICATIONS = (
    "# [notifications]                          # messages to clients (without it: all to"
    " outbox/notifications.jsonl)"
)


def test_the_tick_starts_a_campaign_once_and_a_sigkill_mid_audience_resumes_it(
    tmp_path: Path, pg_url: str
) -> None:
    path = write_config(
        tmp_path,
        pg_url,
        {"tick = 10 ": "tick = 1 ", NOTIFICATIONS: "[notifications]\nbatch_size = 25\n"},
    )
    config = config_of(path)
    store = open_store(config.store.url)
    try:
        store.upsert_partners(p.partner for p in config.partners)
        with store._tx() as cur:  # one statement: the audience, not the subject here
            cur.executemany(
                store.dialect.sql(
                    "INSERT INTO acceptances (client_id, partner_inn, account, service,"
                    " house_id, premises, accepted_at) VALUES (?, ?, ?, '', NULL, 'кв. 1', ?)"
                ),
                [
                    (
                        f"app:c{n:04d}",
                        PARTNER,
                        f"{n:05d}",
                        store.dialect.ts_in(dt.datetime.now(dt.UTC)),
                    )
                    for n in range(CLIENTS)
                ],
            )
        for n in range(CLIENTS):
            store.register_device(f"app:c{n:04d}", "fcm", f"token-{n:04d}", "ru.example.pay")

        def scheduled(title: str) -> int:
            c = create_campaign(
                store, config, partner_inn=PARTNER, kind="news", title=title,
                text="Плановое отключение горячей воды 10 декабря",
                starts_at=dt.datetime.now(dt.UTC),
            )  # fmt: skip
            assert c.state is CampaignState.SCHEDULED
            return c.id

        deadline = time.monotonic() + PATIENCE

        def wait_done(campaign_id: int, *procs: subprocess.Popen[str]) -> None:
            while True:
                c = store.campaign(campaign_id)
                assert c is not None
                messages = store.messages(c.source)
                pending = [m for m in messages if m.status in ("queued", "sending")]
                if c.state is CampaignState.DONE and not pending:
                    return
                for p in procs:
                    assert p.poll() is None, f"a worker ended ({p.returncode})"
                assert time.monotonic() < deadline, (c.state, len(messages), len(pending))
                time.sleep(0.3)

        first = scheduled("Новости УК")
        # w1's tick starts campaign:<id>; w1 dies of SIGKILL at the end of its second page
        with worker(path, tmp_path, "w1", crash_at="campaign.page-written@2") as w1:
            w1.wait(timeout=PATIENCE)
            assert w1.returncode == -signal.SIGKILL
        written = len(store.messages(f"campaign:{first}"))
        assert 0 < written < CLIENTS  # killed in the middle of the audience
        with (
            worker(path, tmp_path, "w1") as w1,  # takes campaign:<id> back from its last page
            worker(path, tmp_path, "w2") as w2,
        ):
            wait_started(tmp_path, "w1", w1, PATIENCE)
            wait_started(tmp_path, "w2", w2, PATIENCE)
            wait_done(first, w1, w2)
            # a second campaign while both workers tick: started once between them
            second = scheduled("Акция недели")
            wait_done(second, w1, w2)
        lines = outbox_lines(config)
        for campaign_id in (first, second):
            done = store.campaign(campaign_id)
            assert done is not None and done.targeted == CLIENTS
            messages = store.messages(done.source)
            assert len(messages) == CLIENTS
            assert Counter(m.status for m in messages) == {"sent": CLIENTS}
            expected = {message_key(m.source, m.client_id, m.target) for m in messages}
            keys = Counter(str(line["key"]) for line in lines if str(line["key"]) in expected)
            assert set(keys) == expected  # nobody left out
            assert set(keys.values()) == {1}  # nobody twice
        logs = "".join((tmp_path / f"{w}.log").read_text(encoding="utf-8") for w in ("w1", "w2"))
        assert logs.count('"campaign.done"') == 2  # each started and done once in the fleet
    finally:
        close_queue_clients()
        store.close()
