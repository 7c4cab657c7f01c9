"""What the runner's HTTP benchmarks share: a server in a subprocess and a load driver.

Not a benchmark itself. ``python runner/benchmarks/_bench.py serve --store URL --data DIR``
is the server process the benchmarks start: the runner's app (the example configuration,
the embedded sandbox acquirer, the store at URL) served by uvicorn on a free loopback port,
as ``pes runner serve`` serves it; it prints ``PORT <n>`` once it listens and serves until
SIGTERM. The sandbox sends no webhooks of its own (no webhook URL): the payments
benchmark delivers the confirmations itself.

The load comes from other processes (:func:`drive`): each runs a few threads, one
keep-alive ``http.client`` connection each, all released together once every connection
is open. The rate is requests answered divided by the time from the first request sent to
the last answer.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing as mp
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CLIENT = "client-token-0123456789abcdef"
OPERATOR = "operator-token-0123456789abcdef"
ENV = {"PES_CLIENT_TOKENS": CLIENT, "PES_OPERATOR_TOKENS": OPERATOR}
AUTH = {"Authorization": f"Bearer {CLIENT}"}
#: The client cabinet's secret in the server of ``server(..., cabinet=True)``: whoever
#: knows it can open sessions in the store that the server takes (the cabinet benchmark).
CABINET_SECRET = "bench-cabinet-secret-0123456789abcdef"

#: One request: method, path, body (or None), headers.
Request = tuple[str, str, bytes | None, dict[str, str]]


def runner_config(data: Path, store_url: str, *, cabinet: bool = False) -> Any:
    """The example configuration with its data folder and store replaced; with
    ``cabinet``, the client cabinet on (:func:`cabinet_config`)."""
    import attrs
    from pes_sdk_runner.config import example_config_path, load_runner_config
    from pes_sdk_runner.config.models import StoreConfig, StoreKind

    config = load_runner_config(example_config_path(), env=ENV, data=data)
    kind = StoreKind.POSTGRESQL if store_url.startswith("postgres") else StoreKind.SQLITE
    config = attrs.evolve(config, store=StoreConfig(store_url, kind))
    if cabinet:
        config = attrs.evolve(config, cabinet=cabinet_config(data))
    return config


def cabinet_config(data: Path) -> Any:
    """``[cabinet]`` of the benchmarks: :data:`CABINET_SECRET`, codes to ``data``'s SMS
    outbox, and limits no benchmark reaches (every session comes from one address)."""
    from pes_sdk_runner.config import AdapterSettings, CabinetConfig

    sms = AdapterSettings({"path": str(data / "outbox" / "sms.jsonl")})
    return CabinetConfig(
        CABINET_SECRET,
        sms=sms,
        codes_per_phone_10min=1_000,
        codes_per_phone_day=1_000,
        codes_per_ip_hour=1_000_000,
    )


def unsynced_store(url: str, synchronous: str = "OFF") -> Any:
    """A SQLite store whose commits are not synced to disk: set-up and diagnostics only."""
    from pes_sdk_runner.store import SqlStore
    from pes_sdk_runner.store.dialect import SqliteDialect

    class Unsynced(SqliteDialect):
        def connect(self) -> Any:
            conn = super().connect()
            conn.execute(f"PRAGMA synchronous = {synchronous}")
            return conn

    return SqlStore(Unsynced(url))


# -- the server process -------------------------------------------------------------------


def _serve(
    store_url: str, data: Path, synchronous: str | None, group_commit: bool, cabinet: bool
) -> None:
    # group_commit=False: one fsync per commit (synchronous=FULL), the runner's store before
    # group commit became its default.
    import socket

    from pes_sdk_runner.api import create_app, make_server, processor_for
    from pes_sdk_runner.store import SqlStore, open_store

    from pes_sdk.plugins.manager import get_host

    host = get_host()
    config = runner_config(data, store_url, cabinet=cabinet)
    store: SqlStore
    if synchronous is not None:
        store = unsynced_store(store_url, synchronous)
    else:
        store = open_store(store_url, group_commit=group_commit)
    gateway = host.gateways()["sandbox"].create({})  # no webhook URL: it sends none
    processor = processor_for(gateway, store)  # as `pes runner serve` builds it
    app = create_app(store, config, host, processor)
    server = make_server(app, config, log_level="warning")
    # proto=IPPROTO_TCP, not the 0 of socket.create_server: asyncio sets TCP_NODELAY only
    # on accepted sockets whose proto says TCP, and without it uvicorn's two writes of an
    # answer (head, then body) wait out Nagle and the client's delayed ACK, ~40 ms each.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    signal.signal(signal.SIGTERM, lambda *_: setattr(server, "should_exit", True))
    threading.Thread(target=_announce, args=(server, sock.getsockname()[1]), daemon=True).start()
    try:
        server.run(sockets=[sock])
    finally:
        gateway.close()
        store.close()


def _announce(server: Any, port: int) -> None:
    while not server.started:
        time.sleep(0.01)
    print(f"PORT {port}", flush=True)


@contextmanager
def server(
    store_url: str,
    data: Path,
    *,
    synchronous: str | None = None,
    group_commit: bool = True,
    cabinet: bool = False,
) -> Iterator[str]:
    """The runner's API in a subprocess; yields its base URL and stops it afterwards.

    ``cabinet``: the client cabinet on, its pages at /cabinet (:func:`cabinet_config`).

    The store is opened as ``pes runner serve`` opens it (SQLite with group commit).
    Diagnostics: ``group_commit=False`` syncs every commit itself (``synchronous=FULL``);
    ``synchronous`` opens a store whose commits are not synced at all (not durable).
    """
    command = [sys.executable, __file__, "serve", "--store", store_url, "--data", str(data)]
    if synchronous is not None:
        command += ["--synchronous", synchronous]
    if not group_commit:
        command += ["--no-group-commit"]
    if cabinet:
        command += ["--cabinet"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"the server did not start (exit {proc.wait()})")
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- the load driver ------------------------------------------------------------------------


@dataclass
class Load:
    """What a load run measured."""

    answered: int = 0
    failed: int = 0
    started: float = float("inf")
    ended: float = 0.0
    latencies: list[float] = field(default_factory=list)
    #: (status, body) of every answer, when asked for
    bodies: list[tuple[int, bytes]] = field(default_factory=list)
    #: the first unexpected status and body, to say what went wrong
    first_failure: str = ""

    @property
    def seconds(self) -> float:
        return max(self.ended - self.started, 1e-9)

    @property
    def rate(self) -> float:
        return self.answered / self.seconds

    def percentile(self, p: float) -> float:
        """Latency in milliseconds at percentile ``p`` (0..100)."""
        if len(self.latencies) < 2:
            return self.latencies[0] * 1000 if self.latencies else 0.0
        cuts = statistics.quantiles(self.latencies, n=1000, method="inclusive")
        return cuts[min(int(p * 10) - 1, len(cuts) - 1)] * 1000

    def merge(self, other: Load) -> None:
        self.answered += other.answered
        self.failed += other.failed
        self.started = min(self.started, other.started)
        self.ended = max(self.ended, other.ended)
        self.latencies += other.latencies
        self.bodies += other.bodies
        self.first_failure = self.first_failure or other.first_failure


def _connection(
    base: str,
    requests: Sequence[Request],
    seconds: float | None,
    keep: bool,
    ready: threading.Barrier,
    out: Load,
) -> None:
    hostport = base.removeprefix("http://")
    conn = http.client.HTTPConnection(hostport, timeout=60)
    conn.connect()
    ready.wait()
    out.started = time.monotonic()
    deadline = out.started + seconds if seconds is not None else None
    i = 0
    while True:
        if deadline is not None:
            if time.monotonic() >= deadline:
                break
            method, path, body, headers = requests[i % len(requests)]
        elif i < len(requests):
            method, path, body, headers = requests[i]
        else:
            break
        i += 1
        t0 = time.perf_counter()
        try:
            conn.request(method, path, body=body, headers=headers)
            answer = conn.getresponse()
            data = answer.read()
        except (OSError, http.client.HTTPException) as exc:  # counted; a new connection
            out.failed += 1
            out.first_failure = out.first_failure or f"{type(exc).__name__}: {exc}"
            conn.close()
            conn = http.client.HTTPConnection(hostport, timeout=60)
            continue
        out.latencies.append(time.perf_counter() - t0)
        if 200 <= answer.status < 300:
            out.answered += 1
        else:
            out.failed += 1
            out.first_failure = out.first_failure or f"{answer.status} {data[:300]!r}"
        if keep:
            out.bodies.append((answer.status, data))
    out.ended = time.monotonic()
    conn.close()


def _worker(
    base: str,
    shares: list[list[Request]],
    seconds: float | None,
    keep: bool,
    go: Any,
    opened: Any,
    results: Any,
) -> None:
    outs = [Load() for _ in shares]
    # every connection of this process opens, then all wait for the parent's signal
    ready = threading.Barrier(len(shares) + 1)
    threads = [
        threading.Thread(target=_connection, args=(base, share, seconds, keep, ready, out))
        for share, out in zip(shares, outs, strict=True)
    ]
    for t in threads:
        t.start()
    opened.release()
    go.wait()
    ready.wait()
    for t in threads:
        t.join()
    total = Load()
    for out in outs:
        total.merge(out)
    results.put(total)


def drive(
    base: str,
    requests: Sequence[Request],
    *,
    processes: int = 2,
    connections: int = 8,
    seconds: float | None = None,
    keep_bodies: bool = False,
) -> Load:
    """Send ``requests`` over ``connections`` keep-alive connections in ``processes``.

    With ``seconds`` every connection cycles through its share until the time is up;
    without, each request is sent once (the list is dealt round-robin to the connections).
    """
    if seconds is None:
        connections = min(connections, len(requests))  # each request is sent once
    connections = max(1, connections)
    processes = max(1, min(processes, connections))
    per_conn: list[list[Request]] = [
        list(requests[i::connections]) or list(requests) for i in range(connections)
    ]
    groups = [per_conn[p::processes] for p in range(processes)]
    ctx = mp.get_context("fork")
    go, opened, results = ctx.Event(), ctx.Semaphore(0), ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(base, g, seconds, keep_bodies, go, opened, results))
        for g in groups
    ]
    for p in procs:
        p.start()
    for _ in procs:
        opened.acquire()
    go.set()
    total = Load()
    for _ in procs:
        total.merge(results.get())
    for p in procs:
        p.join()
    return total


def get(base: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """One GET, for set-up and checks."""
    conn = http.client.HTTPConnection(base.removeprefix("http://"), timeout=60)
    try:
        conn.request("GET", path, headers=headers or {})
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def machine() -> str:
    """A one-line description of where the figures come from."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{os.cpu_count()} logical CPUs, Python {sys.version.split()[0]}, load average {load}"


def main() -> None:
    parser = argparse.ArgumentParser(description="the benchmarks' server process")
    parser.add_argument("command", choices=["serve"])
    parser.add_argument("--store", required=True)
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--synchronous", choices=["OFF", "NORMAL"], default=None)
    parser.add_argument("--no-group-commit", dest="group_commit", action="store_false")
    parser.add_argument("--cabinet", action="store_true", help="the client cabinet on")
    args = parser.parse_args()
    with suppress(KeyboardInterrupt):
        _serve(args.store, args.data, args.synchronous, args.group_commit, args.cabinet)


if __name__ == "__main__":
    main()
