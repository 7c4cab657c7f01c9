"""Cabinet sessions, server-side in the store: a token is good while its row is not ended
and neither timeout has passed (idle: since it was last used; absolute: since the login).

Ending a session (:meth:`Sessions.logout`) ends it for every device and tab that holds the
token: each request asks the store.
"""

from __future__ import annotations

import datetime as dt
import logging

import attrs

from pes_sdk_runner.cabinet.login import Clock, keyed_hash, utc_now
from pes_sdk_runner.config.models import CabinetConfig
from pes_sdk_runner.logs import event
from pes_sdk_runner.store.base import Store

__all__ = ["TOUCH_EVERY", "ActiveSession", "Sessions", "client_key"]

#: A session's last use is written at most this often (a read per request, not a write);
#: its idle timeout may so come up to this much early.
TOUCH_EVERY = dt.timedelta(seconds=60)


def client_key(cabinet_id: int) -> str:
    """The client key of a cabinet in the use cases and the store (acceptances, payments'
    owner, readings): ``cabinet:<id>``."""
    return f"cabinet:{cabinet_id}"


@attrs.frozen
class ActiveSession:
    """A session found good: its cabinet, and when it ends unless used again."""

    cabinet_id: int
    expires_at: dt.datetime

    @property
    def client(self) -> str:
        return client_key(self.cabinet_id)


class Sessions:
    """Sessions of cabinets, over one store and configuration."""

    def __init__(
        self,
        store: Store,
        config: CabinetConfig,
        *,
        clock: Clock = utc_now,
        log: logging.Logger | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        self.log = log or logging.getLogger("pes_sdk_runner.cabinet")
        self.idle = dt.timedelta(seconds=config.idle_timeout)
        self.absolute = dt.timedelta(seconds=config.absolute_timeout)
        self.touch_every = min(TOUCH_EVERY, self.idle / 10)

    def token_hash(self, token: str) -> str:
        return keyed_hash(self.config.secret, "session", token)

    def active(self, token: str) -> ActiveSession | None:
        """The session of ``token`` if it is good now (its use noted), else None."""
        if not token:
            return None
        digest = self.token_hash(token)
        found = self.store.session(digest)
        now = self.clock()
        if (
            found is None
            or found.ended_at is not None
            or now >= found.last_seen_at + self.idle
            or now >= found.created_at + self.absolute
        ):
            return None
        if now - found.last_seen_at >= self.touch_every:
            self.store.touch_session(digest, now)
        return ActiveSession(
            found.cabinet_id, min(now + self.idle, found.created_at + self.absolute)
        )

    def logout(self, token: str) -> bool:
        """End the session of ``token`` everywhere; False when it was not good anyway."""
        session = self.active(token)
        if session is None:
            return False
        self.store.end_session(self.token_hash(token), self.clock())
        event(self.log, "session.ended", cabinet=session.cabinet_id)
        return True
