"""The client cabinet (личный кабинет) with no HTTP in it: login by phone (:mod:`.login`),
server-side sessions (:mod:`.sessions`) and linked accounts (:mod:`.accounts`).

:class:`Cabinets` puts them together over one store, the ``[cabinet]`` configuration and
an SMS channel (:func:`sms_channel` builds the configured one). The JSON API and the
cabinet's pages call the same objects. A cabinet acts in the client use cases
(:class:`~pes_sdk_runner.usecases.ClientUseCases`) as the client ``cabinet:<id>``.
"""

from __future__ import annotations

import logging

from pes_sdk.notifications import NotificationChannel
from pes_sdk.plugins.manager import PluginHost
from pes_sdk_runner.cabinet.accounts import Accounts, Scope
from pes_sdk_runner.cabinet.errors import (
    CodeRefused,
    InvalidPhone,
    LinkRefused,
    SmsUnavailable,
    TooManyRequests,
)
from pes_sdk_runner.cabinet.login import (
    CODE_TTL,
    MAX_TRIES,
    Clock,
    CodeSent,
    Login,
    SessionIssued,
    normalise_phone,
    utc_now,
)
from pes_sdk_runner.cabinet.sessions import ActiveSession, Sessions, client_key
from pes_sdk_runner.config.models import CabinetConfig
from pes_sdk_runner.logs import event
from pes_sdk_runner.store.base import Store
from pes_sdk_runner.usecases import NotFound

__all__ = [
    "CODE_TTL",
    "MAX_TRIES",
    "Accounts",
    "ActiveSession",
    "Cabinets",
    "Clock",
    "CodeRefused",
    "CodeSent",
    "InvalidPhone",
    "LinkRefused",
    "Login",
    "Scope",
    "SessionIssued",
    "Sessions",
    "SmsUnavailable",
    "TooManyRequests",
    "client_key",
    "normalise_phone",
    "sms_channel",
    "utc_now",
]


def sms_channel(host: PluginHost, config: CabinetConfig) -> NotificationChannel:
    """The configured channel login codes go out through (``[cabinet] sms_channel``)."""
    return host.notification_channel(config.sms_channel).create(config.sms.merged())


class Cabinets:
    """Login, sessions and linked accounts of the cabinets in one store."""

    def __init__(
        self,
        store: Store,
        config: CabinetConfig,
        channel: NotificationChannel,
        *,
        clock: Clock = utc_now,
        log: logging.Logger | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.log = log or logging.getLogger("pes_sdk_runner.cabinet")
        self.login = Login(store, config, channel, clock=clock, log=self.log)
        self.sessions = Sessions(store, config, clock=clock, log=self.log)
        self.accounts = Accounts(store, config, clock=clock, log=self.log)

    def delete(self, cabinet_id: int) -> None:
        """Delete the cabinet and its personal data ("Удалить кабинет", 152-ФЗ): its phone,
        sessions, linked accounts, attempts and ticks. :class:`NotFound` if there is none."""
        if not self.store.delete_cabinet(cabinet_id):
            raise NotFound("no such cabinet", None)
        event(self.log, "cabinet.deleted", cabinet=cabinet_id)
