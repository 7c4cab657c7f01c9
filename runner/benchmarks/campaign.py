"""A campaign to N clients with one FCM device each, against the loopback FCM simulator.

``python runner/benchmarks/campaign.py --clients 20000 [--store URL] [--senders 4]
[--concurrency 32] [--http 2|1.1]``

What runs: the FCM simulator (:mod:`pes_sdk_fcm.simulator`) in a process of its own, over
TLS with HTTP/2 as FCM itself (``--http 1.1``: plain HTTP/1.1 on loopback), counting the
messages it accepts rather than keeping them; in this process the store (a SQLite file by
default), N acceptances of one partner and N devices written in bulk, one ``news``
campaign, and its pages written by :func:`pes_sdk_runner.campaigns.send_page` exactly as
the ``campaign:<id>`` workflow writes them, each ``notify`` batch handed to ``--senders``
threads calling :meth:`pes_sdk_runner.notify.Sender.send_batch` (what the ``notify``
workflows do in worker processes; the job engine's own cost is measured in
docs/performance.md, "Job engine"), with ``--concurrency`` sends in flight. Printed as JSON:

* ``baseline_1``: the simulator's bare rate from one plain client: the FCM channel's
  ``send`` in a loop, one thread, no store;
* ``baseline_k``: the same from ``--concurrency`` threads at once through the one channel
  (the ceiling this machine gives the simulator and the channel together);
* ``campaign``: messages sent per second from the campaign's start (its first page read)
  to the last message recorded ``sent``, the process's peak RSS, its resident memory
  along the way (``rss_mb``: at each tenth of the audience) and the CPU seconds of this
  process and of the simulator's over the campaign (``cpu_ms_per_message``: this
  process's per message sent, the figure other processes' load moves least);
* ``stats``: ``source_stats`` at the end (sent must equal N, and the simulator must have
  accepted exactly N).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import resource
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _bench import runner_config

PARTNER = "5003012349"


def _simulator(conn: Any, key: str, tls_folder: str | None) -> None:
    from pes_sdk_fcm.simulator import FcmSimulator

    sim = FcmSimulator(keep=False, tls_folder=Path(tls_folder) if tls_folder else None).start()
    sim.write_service_account(Path(key))
    conn.send((sim.endpoint, str(sim.ca_file) if sim.ca_file else None))
    while True:  # until told to stop
        order = conn.recv()
        if order == "stop":
            break
        conn.send((time.process_time(), sim.accepted))
    conn.send({"requests": sim.requests, "accepted": sim.accepted, **sim.http_versions})
    sim.stop()


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_now_mb() -> float:
    """The resident memory now (Linux), not the peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def run(
    clients: int,
    store_url: str | None,
    senders: int,
    baseline: int,
    folder: Path,
    *,
    concurrency: int = 32,
    http: str = "2",
) -> dict[str, Any]:
    import attrs
    from pes_sdk_fcm.simulator import device_token
    from pes_sdk_runner.campaigns import create_campaign, send_page, source_stats
    from pes_sdk_runner.config.models import AdapterSettings, NotifyChannel
    from pes_sdk_runner.notify import Sender
    from pes_sdk_runner.store import open_store

    from pes_sdk.notifications import Notification
    from pes_sdk.plugins.manager import get_host

    url = store_url or f"sqlite:///{folder / 'bench.db'}"
    key = str(folder / "fcm.json")
    parent, child = mp.get_context("spawn").Pipe()
    tls = str(folder) if http == "2" else None
    sim = mp.get_context("spawn").Process(target=_simulator, args=(child, key, tls), daemon=True)
    sim.start()
    endpoint, ca_file = parent.recv()
    config = runner_config(folder, url)
    values = {"service_account_file": key, "endpoint": endpoint, "timeout": "5"}
    if ca_file:
        values["ca_file"] = ca_file
    settings = AdapterSettings(values)
    config = attrs.evolve(
        config,
        notifications=attrs.evolve(
            config.notifications,
            channels=(NotifyChannel("fcm", "fcm", settings),),
            via={"fcm": "fcm"},
            order={"default": ("push",)},
            quiet_hours=None,
            per_day=None,
        ),
    )
    host = get_host()
    out: dict[str, Any] = {
        "clients": clients,
        "senders": senders,
        "concurrency": concurrency,
        "http": http,
        "store": url.split(":")[0],
    }

    # -- the baselines: the channel alone -------------------------------------------------
    sender = Sender(config, host, concurrency=concurrency)
    channel = sender.channel("fcm")

    def bare(n: int, offset: int) -> None:
        for i in range(n):
            channel.send(
                Notification("push", device_token(offset + i), "Тест", key=f"b-{offset + i}")
            )

    bare(50, 90_000_000)  # the access token and the connection, before the clock
    start = time.perf_counter()
    bare(baseline, 0)
    out["baseline_1"] = round(baseline / (time.perf_counter() - start))
    threads = [
        threading.Thread(target=bare, args=(baseline // concurrency, 1_000_000 * (t + 1)))
        for t in range(concurrency)
    ]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out["baseline_k"] = round(baseline // concurrency * concurrency / (time.perf_counter() - start))

    # -- the audience, written in bulk (not what is measured) ----------------------------
    store = open_store(url)
    store.upsert_partners(p.partner for p in config.partners)
    now = store.dialect.ts_in(dt.datetime.now(dt.UTC))
    for first in range(0, clients, 10_000):
        rows = range(first, min(first + 10_000, clients))
        with store._tx() as cur:
            cur.executemany(
                store.dialect.sql(
                    "INSERT INTO acceptances (client_id, partner_inn, account, service,"
                    " house_id, premises, accepted_at) VALUES (?, ?, ?, '', NULL, 'кв. 1', ?)"
                ),
                [(f"bench:c{i:07d}", PARTNER, f"{i:07d}", now) for i in rows],
            )
            cur.executemany(
                store.dialect.sql(
                    "INSERT INTO devices (client_id, provider, token, app, created_at,"
                    " last_seen_at) VALUES (?, 'fcm', ?, 'ru.bench', ?, ?)"
                ),
                [(f"bench:c{i:07d}", device_token(i), now, now) for i in rows],
            )
    campaign = create_campaign(store, config, partner_inn=PARTNER, kind="news", title="Т", text="Т")
    store.start_campaign(campaign.id, dt.datetime.now(dt.UTC))

    # -- the campaign ----------------------------------------------------------------------
    pool = ThreadPoolExecutor(senders)
    window = threading.BoundedSemaphore(senders * 2)  # batches in flight: memory bounded
    futures: list[Future[Any]] = []

    def enqueue(workflow_id: str, ids: list[int]) -> None:
        window.acquire()
        future = pool.submit(sender.send_batch, store, ids, workflow_id)
        future.add_done_callback(lambda _: window.release())
        futures.append(future)
        if len(futures) > senders * 4:  # keep only the recent ones: done ones are checked
            for f in futures[: -senders * 2]:
                f.result()
            del futures[: -senders * 2]

    parent.send("cpu")
    sim_cpu, accepted_before = parent.recv()
    cpu = time.process_time()
    rss: list[float] = [_rss_now_mb()]
    written = 0
    start = time.perf_counter()
    after: str | None = None
    while True:
        fresh = store.campaign(campaign.id)
        assert fresh is not None
        after, done = send_page(store, config, fresh, after, enqueue=enqueue)
        written += done.clients
        if written * 10 // clients > len(rss) - 1:
            rss.append(_rss_now_mb())
        if after is None:
            break
    for f in futures:
        f.result()
    pool.shutdown()
    elapsed = time.perf_counter() - start
    parent.send("cpu")
    sim_cpu_end, accepted = parent.recv()
    cpu = time.process_time() - cpu
    rss.append(_rss_now_mb())
    stats = source_stats(store, campaign.source, config.service.time_zone)
    out["campaign"] = {
        "seconds": round(elapsed, 1),
        "messages_per_second": round(stats.sent / elapsed),
        "peak_rss_mb": round(_rss_mb(), 1),
        "rss_mb": rss,
        "cpu_seconds": round(cpu, 1),
        # the figure the load of other processes moves least: what one message costs here
        "cpu_ms_per_message": round(cpu * 1000 / max(stats.sent, 1), 3),
        "simulator_cpu_seconds": round(sim_cpu_end - sim_cpu, 1),
    }
    out["stats"] = {
        "targeted": stats.targeted,
        "sent": stats.sent,
        "failed": dict(stats.failed),
        "queued": stats.queued,
        "accepted_by_simulator": accepted - accepted_before,
    }
    sender.close()
    store.close()
    parent.send("stop")
    out["simulator"] = parent.recv()
    sim.join(timeout=10)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20_000)
    parser.add_argument("--store", default=None, help="a store URL (default: a SQLite file)")
    parser.add_argument("--senders", type=int, default=4, help="batches sent at once")
    parser.add_argument("--concurrency", type=int, default=32, help="sends in flight at once")
    parser.add_argument(
        "--http", choices=("2", "1.1"), default="2", help="2: TLS and HTTP/2, as FCM"
    )
    parser.add_argument("--baseline", type=int, default=2_000)
    parser.add_argument("--quick", action="store_true", help="smoke size: 500 clients")
    parser.add_argument("--dir", type=Path, default=None, help="where the temporary files go")
    args = parser.parse_args()
    clients, baseline = (500, 200) if args.quick else (args.clients, args.baseline)
    folder = Path(tempfile.mkdtemp(prefix="pes-campaign-bench-", dir=args.dir))
    try:
        report = run(
            clients,
            args.store,
            args.senders,
            baseline,
            folder,
            concurrency=args.concurrency,
            http=args.http,
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps(report, indent=2))
    stats = report["stats"]
    if stats["sent"] != clients or stats["accepted_by_simulator"] != clients:
        sys.exit("not every client got exactly one message")


if __name__ == "__main__":
    main()
