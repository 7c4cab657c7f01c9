"""One scheduler per store: the scheduler's lease (аренда) in the store.

``pes runner serve`` runs its scheduler only while it holds the store's ``scheduler`` lease:
a row with an owner and an expiry (:meth:`~pes_sdk_runner.store.base.Store.take_lease`),
renewed every third of ``daemon.lease_ttl`` by a thread of its own on a connection of its
own (a long pass in one transaction does not hold it up). A second ``serve`` with the
scheduler on is refused while the lease is held (:class:`LeaseHeld` names the holder); a
holder that died without giving the lease up (SIGKILL, a power cut) leaves it to expire,
and the next scheduler to start after that takes it over; one on the same host as the dead
holder takes it over at once (the holder's pid no longer runs: a service manager restarting
a killed runner). A row in the store, not a pid file: processes on several hosts share one
PostgreSQL store.

A holder that finds its lease taken by another owner (it could not renew it in time: the
store was unreachable for longer than the lease lasts) calls ``on_lost``; ``serve`` then
stops its scheduler and goes on serving the API.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import socket
import threading
import uuid
from collections.abc import Callable

from pes_sdk.errors import PesError
from pes_sdk_runner.logs import event
from pes_sdk_runner.store import Lease, SqlStore, open_store

__all__ = ["SCHEDULER", "LeaseHeld", "SchedulerLease", "holder_alive", "lease_owner"]

log = logging.getLogger("pes_sdk_runner.daemon")

#: The name of the scheduler's lease.
SCHEDULER = "scheduler"


def lease_owner() -> str:
    """This process as a lease owner: host, pid and a random tag (pids are reused)."""
    return f"{socket.gethostname()} pid {os.getpid()} ({uuid.uuid4().hex[:8]})"


_OWNER = re.compile(r"(?P<host>.+) pid (?P<pid>\d+) \(\w+\)")


def _dead_here(owner: str) -> bool:
    """Whether ``owner`` names a process of this host that no longer runs."""
    m = _OWNER.fullmatch(owner)
    if m is None or m["host"] != socket.gethostname():
        return False
    try:
        os.kill(int(m["pid"]), 0)
    except ProcessLookupError:
        return True
    except OSError:  # it runs under another user: alive
        return False
    return False


def holder_alive(lease: Lease | None, now: dt.datetime) -> bool:
    """Whether ``lease`` is held by a process that may still run (unexpired, not dead here)."""
    return lease is not None and lease.expires_at > now and not _dead_here(lease.owner)


class LeaseHeld(PesError):
    """Another process holds the lease: its owner and expiry are in the message."""

    def __init__(self, lease: Lease) -> None:
        self.lease = lease
        until = lease.expires_at.isoformat(timespec="seconds")
        super().__init__(
            f"another scheduler runs on this store: {lease.owner} holds its lease until"
            f" {until} (renewed while it runs). Run this process with --no-daemon, or stop"
            " that one; a scheduler killed without stopping gives its lease up when it expires"
            " (daemon.lease_ttl)"
        )


class SchedulerLease:
    """The store's scheduler lease for this process.

    :meth:`acquire` takes it (or raises :class:`LeaseHeld`) and starts renewing it;
    :meth:`release` stops the renewals and gives it up. ``name`` takes another lease of the
    store the same way (the job engine's executor ids: ``jobs:<id>``).
    """

    def __init__(
        self,
        url: str,
        ttl: float,
        *,
        on_lost: Callable[[], object] = lambda: None,
        owner: str | None = None,
        group_commit: bool = True,
        name: str = SCHEDULER,
    ) -> None:
        self.name = name
        self.ttl = dt.timedelta(seconds=ttl)
        self.owner = owner or lease_owner()
        self._on_lost = on_lost
        # A connection of its own: the scheduler's store may be in a long transaction.
        self._store: SqlStore = open_store(url, migrate=False, group_commit=group_commit)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> Lease:
        """Take the lease and keep renewing it, or raise :class:`LeaseHeld` naming its holder."""
        lease = self._store.take_lease(self.name, self.owner, self.ttl)
        if lease.owner != self.owner and _dead_here(lease.owner):
            # Its holder was a process of this host that is gone (a service manager restarts
            # a killed runner at once): no need to wait for its lease to expire.
            lease = self._store.take_lease(self.name, self.owner, self.ttl, replacing=lease.owner)
        if lease.owner != self.owner:
            self._store.close()
            raise LeaseHeld(lease)
        self._thread = threading.Thread(target=self._renew, name="pes-runner-lease", daemon=True)
        self._thread.start()
        event(
            log,
            "daemon.lease_taken",
            lease=self.name,
            owner=self.owner,
            ttl=self.ttl.total_seconds(),
        )
        return lease

    def _renew(self) -> None:
        every = self.ttl.total_seconds() / 3
        while not self._stop.wait(every):
            try:
                lease = self._store.take_lease(self.name, self.owner, self.ttl)
            except Exception as exc:  # the store is away: try again, the lease may last
                event(log, "daemon.lease_renewal_failed", logging.WARNING, error=type(exc).__name__)
                continue
            if lease.owner != self.owner:
                event(log, "daemon.lease_lost", logging.ERROR, holder=lease.owner)
                self._on_lost()
                return

    def release(self) -> None:
        """Stop renewing and give the lease up (the next scheduler need not wait for it)."""
        self._stop.set()
        # From its own thread (an ``on_lost`` that stops its holder) it is not waited for.
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        try:
            self._store.release_lease(self.name, self.owner)
        finally:
            self._store.close()
