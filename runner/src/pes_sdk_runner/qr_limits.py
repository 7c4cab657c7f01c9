"""Limits on resolving payment QR codes (``POST /v1/qr/resolve``, the cabinet's «Оплатить по
QR»), kept in the store.

A resolution answers whether an account exists at a partner and what it owes, and reading
a photo costs the runner CPU: without a limit, anyone with a cabinet (a phone number is
enough) could enumerate accounts with made-up codes, or keep the thread pool decoding
images. So each asker may resolve at most ``http.qr_per_minute`` codes a minute and
``http.qr_per_day`` a day; the next is refused (:class:`TooManyRequests`: the API's 429
with ``Retry-After``, the cabinet's plain message) and not counted.

Who the asker is (:func:`cabinet_asker`, :func:`app_asker`): a cabinet, by its id, whether
it asks through its pages or the API with its session; an app's client, by the app and
the ``client_id`` the app names; an app that names no client, by the app and the address
the request came from. Every resolution asked for counts, found or not (a "not found" is
what an enumeration learns from), once the request is otherwise well formed; a photo
counts before it is decoded.

The counts are in the store (:mod:`pes_sdk_runner.store.qr_resolutions`), as the login
codes' are, so that the limits hold across every runner process on one database; only a
digest of the asker's key is stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging

from pes_sdk_runner.cabinet.errors import TooManyRequests
from pes_sdk_runner.cabinet.login import Clock, utc_now
from pes_sdk_runner.config.models import HttpConfig
from pes_sdk_runner.logs import event
from pes_sdk_runner.store.base import Store
from pes_sdk_runner.store.qr_resolutions import QrLimit, take_qr_resolution

__all__ = ["QrLimiter", "app_asker", "cabinet_asker"]

MINUTE = dt.timedelta(minutes=1)
DAY = dt.timedelta(days=1)


def cabinet_asker(cabinet_id: int) -> str:
    """A cabinet as a QR code's asker: the same through its pages and the API."""
    return f"cabinet:{cabinet_id}"


def app_asker(app_id: str, client_id: str, address: str) -> str:
    """An app's client (``client_id``) as a QR code's asker; an app that names no client is
    counted by the address the request came from, so that one caller does not use up the
    limit of all the app's users."""
    if client_id:
        return f"app:{app_id}:{client_id}"
    return f"app:{app_id}@{address}"


def _digest(asker: str) -> str:
    # The store keeps no client id or address: equal keys give equal digests, which is
    # all a count needs.
    return hashlib.sha256(asker.encode()).hexdigest()[:32]


class QrLimiter:
    """The QR limits of ``config`` (``[http]``) over one store, at ``clock``'s time."""

    def __init__(
        self,
        store: Store,
        config: HttpConfig,
        *,
        clock: Clock = utc_now,
        log: logging.Logger | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        self.log = log or logging.getLogger("pes_sdk_runner.qr")

    def limits(self) -> tuple[QrLimit, ...]:
        return (
            QrLimit(MINUTE, self.config.qr_per_minute),
            QrLimit(DAY, self.config.qr_per_day),
        )

    def take(self, asker: str) -> None:
        """Count one resolution by ``asker``, or refuse it with :class:`TooManyRequests`
        (its ``retry_after``: until the first limit reached lets one through again)."""
        from pes_sdk_runner.store.sql import SqlStore

        if not isinstance(self.store, SqlStore):  # every store the runner opens is one
            raise TypeError(f"QR limits need an SQL store, not {type(self.store).__name__}")
        now = self.clock()
        retry_at = take_qr_resolution(self.store, _digest(asker), now, self.limits())
        if retry_at is not None:
            # The asker's kind only: its key names a cabinet, a client or an address.
            event(self.log, "qr.limited", asker=asker.split(":")[0].split("@")[0])
            raise TooManyRequests(
                "too many QR codes resolved; try again later", max(retry_at - now, dt.timedelta())
            )
