"""Group commit of the SQLite store: shared fsyncs, and nothing acknowledged lost.

Real SQLite files, real threads, a real subprocess killed mid-run. The fsync is the real
``os.fsync``, wrapped where a test must hold it back to make writers pile up behind it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from pes_sdk_runner.store import LedgerEntry, LedgerKind
from pes_sdk_runner.store.group_commit import GroupCommit
from pes_sdk_runner.store.sqlite import SqliteStore

INN = "7707083893"


def credit(ref: str) -> LedgerEntry:
    return LedgerEntry(LedgerKind.CREDIT, INN, Decimal("1.00"), account="1", ref=ref)


def refs(path: Path) -> set[str]:
    with SqliteStore.at(path) as store:
        return {e.ref for e in store.ledger_entries() if e.ref}


def held_fsync(
    group_of: Callable[[], GroupCommit], release_when: int, starts: list[int]
) -> Callable[[int], None]:
    """os.fsync that holds its first call until ``release_when`` commits have returned.

    ``starts`` gets the number of commits returned when each fsync began.
    """
    first = threading.Event()

    def fsync(fd: int) -> None:
        starts.append(group_of().issued)
        if not first.is_set():
            first.set()
            group = group_of()
            for _ in range(2000):
                if group.issued >= release_when:
                    break
                threading.Event().wait(0.005)
        os.fsync(fd)

    return fsync


def test_a_write_returns_only_once_its_commit_is_synced(tmp_path: Path) -> None:
    store = SqliteStore.at(tmp_path / "g.db")
    assert store.group_commit is None  # off unless asked for
    store.close()
    with SqliteStore(f"sqlite:///{tmp_path / 'g.db'}", group_commit=True) as store:
        group = store.group_commit
        assert group is not None
        before = group.syncs
        assert store.ledger_append([credit("a")]) == 1
        assert group.durable >= group.last_ticket() == group.issued
        assert group.syncs == before + 1
        # a failed write commits nothing and takes no ticket
        with pytest.raises(ValueError):
            store.ledger_append([credit("b"), LedgerEntry(LedgerKind.CREDIT, INN, Decimal(0))])
        assert group.last_ticket() == group.issued
    assert refs(tmp_path / "g.db") == {"a"}


def test_concurrent_writers_share_fsyncs_and_each_is_synced_when_acknowledged(
    tmp_path: Path,
) -> None:
    threads, rounds = 12, 15
    store = SqliteStore(f"sqlite:///{tmp_path / 'g.db'}", group_commit=True)
    group = store.group_commit
    assert group is not None
    start, synced_before = group.issued, group.syncs
    # the first fsync waits until every thread has committed once: they must then share
    starts: list[int] = []
    group._fsync = held_fsync(lambda: group, start + threads, starts)
    lock = threading.Lock()  # a caller's own lock around its commits, as the processor's
    acknowledged: list[str] = []
    unsynced_acks: list[str] = []
    errors: list[BaseException] = []

    def writer(t: int) -> None:
        try:
            for r in range(rounds):
                ref = f"t{t}-r{r}"
                with store.deferred_durability(), lock:
                    store.ledger_append([credit(ref)])
                    mine = group.last_ticket()
                # acknowledged: from here on, the commit must be on disk
                if group.durable < mine:
                    unsynced_acks.append(ref)
                with lock:
                    acknowledged.append(ref)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    workers = [threading.Thread(target=writer, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    commits = group.issued - start
    syncs, durable = group.syncs - synced_before, group.durable
    store.close()
    assert errors == []
    assert unsynced_acks == []
    assert len(acknowledged) == commits == threads * rounds
    assert refs(tmp_path / "g.db") == set(acknowledged)
    assert syncs < commits  # fsyncs were shared (the held first one guarantees a batch)
    # an fsync vouches only for commits returned before it began
    assert durable <= max(starts) and len(starts) == syncs


def test_a_waiter_whose_fsync_fails_is_told_and_the_next_one_syncs(tmp_path: Path) -> None:
    with SqliteStore(f"sqlite:///{tmp_path / 'g.db'}", group_commit=True) as store:
        group = store.group_commit
        assert group is not None
        failing = [True]

        def fsync(fd: int) -> None:
            if failing.pop() if failing else False:
                raise OSError("disk gone")
            os.fsync(fd)

        group._fsync = fsync
        with pytest.raises(OSError, match="disk gone"):
            store.ledger_append([credit("x")])
        assert group.durable < group.last_ticket()  # not acknowledged as durable
        store.ledger_append([credit("y")])
        assert group.durable == group.issued


_CHILD = textwrap.dedent(
    """
    import sys, threading
    from decimal import Decimal
    from pes_sdk_runner.store import LedgerEntry, LedgerKind
    from pes_sdk_runner.store.sqlite import SqliteStore

    store = SqliteStore(sys.argv[1], group_commit=True)
    lock = threading.Lock()
    out = threading.Lock()

    def writer(t):
        for r in range(100000):
            ref = f"t{t}-r{r}"
            entry = LedgerEntry(LedgerKind.CREDIT, "7707083893", Decimal("1.00"), ref=ref)
            with store.deferred_durability():
                with lock:
                    store.ledger_append([entry])
            with out:
                print("ACK", ref, flush=True)

    for t in range(6):
        threading.Thread(target=writer, args=(t,), daemon=True).start()
    threading.Event().wait()
    """
)


def test_nothing_acknowledged_is_lost_when_the_process_is_killed(tmp_path: Path) -> None:
    db = tmp_path / "g.db"
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, f"sqlite:///{db}"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    acked: set[str] = set()
    try:
        for line in child.stdout:
            acked.add(line.split()[1])
            if len(acked) >= 300:
                break
    finally:
        child.send_signal(signal.SIGKILL)  # mid-commit, mid-fsync: no clean shutdown
        child.wait(30)
    assert len(acked) >= 300
    assert acked <= refs(db)
