"""Мои лицевые счета: the accounts a cabinet links, and what a cabinet may see.

An account is linked with a proof that needs no personal data: the premises number at its
address and the amount due on its latest bill, as the partner's newest debt registry has
them (premises compared by :func:`pes_sdk.premises.matching_key`, so ``кв. 12А`` is
``12a``; the amount exactly). A wrong proof and a missing account get the same refusal,
and failed attempts are limited per cabinet.

A cabinet sees its linked accounts and every service found at their addresses (house and
premises): the services of other partners there are the ones it may tick and pay next.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from decimal import Decimal

import attrs

from pes_sdk.premises import matching_key
from pes_sdk_runner.cabinet.errors import LinkRefused, TooManyRequests
from pes_sdk_runner.cabinet.login import Clock, utc_now
from pes_sdk_runner.cabinet.sessions import client_key
from pes_sdk_runner.config.models import CabinetConfig
from pes_sdk_runner.logs import event, mask_account
from pes_sdk_runner.store.base import Acceptance, LinkedAccount, ServiceBalance, Store
from pes_sdk_runner.usecases import NotFound

__all__ = ["LINK_WINDOW", "Accounts", "Scope"]

#: The window of the limit on failed link attempts (``link_failures_per_hour``).
LINK_WINDOW = dt.timedelta(hours=1)


@attrs.frozen
class Scope:
    """What one cabinet may see: its linked accounts and their addresses."""

    accounts: frozenset[tuple[str, str]]  #: (partner ИНН, account)
    addresses: frozenset[tuple[str, str]]  #: (house GUID lower case, premises matching key)

    @classmethod
    def of(cls, services: Mapping[tuple[str, str], Iterable[ServiceBalance]]) -> Scope:
        """The scope of the linked accounts ``services`` holds (by (ИНН, account): their
        services in the newest registries, as :meth:`Store.find_by_accounts` gives)."""
        addresses = {
            (s.house_id.lower(), matching_key(s.premises))
            for found in services.values()
            for s in found
            if s.house_id is not None
        }
        return cls(frozenset(services), frozenset(addresses))

    def sees_address(self, house_id: str, premises: str) -> bool:
        return (house_id.lower(), matching_key(premises)) in self.addresses

    def sees(self, services: Iterable[ServiceBalance]) -> list[ServiceBalance]:
        """Those of ``services`` the cabinet may see."""
        return [
            s
            for s in services
            if (s.partner_inn, s.account) in self.accounts
            or (s.house_id is not None and self.sees_address(s.house_id, s.premises))
        ]


class Accounts:
    """Linking, unlinking and listing a cabinet's accounts, over one store."""

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

    def link(
        self, cabinet_id: int, partner_inn: str, account: str, premises: str, amount_due: Decimal
    ) -> LinkedAccount:
        """Link the partner's account to the cabinet, proved by ``premises`` and
        ``amount_due`` (the total of the account's debts in the partner's newest registry).
        :class:`LinkRefused` for a wrong proof or no such account alike;
        :class:`TooManyRequests` after ``link_failures_per_hour`` failures.

        Linking proves the account is the client's: its services are ticked (accepted) for
        the cabinet's client, whether it was linked through the pages or the JSON API."""
        now = self.clock()
        limit = self.config.link_failures_per_hour
        # The attempt counts as failed from here until proved: guesses sent at once are
        # each counted before any is judged.
        attempt = self.store.begin_link_attempt(cabinet_id, now, LINK_WINDOW, limit)
        if isinstance(attempt, dt.datetime):
            raise TooManyRequests(
                "too many failed attempts to link an account; try again later",
                attempt - now,
                "account",
            )
        services = self.store.find_by_account(partner_inn, account)
        proved = (
            bool(services)
            and any(matching_key(s.premises) == matching_key(premises) for s in services)
            and sum((s.debt for s in services), Decimal(0)) == amount_due
        )
        if proved:
            self.store.link_attempt_succeeded(attempt)
        else:
            event(self.log, "account.link-refused", cabinet=cabinet_id, partner=partner_inn)
            raise LinkRefused()
        linked = self.store.link_account(cabinet_id, partner_inn, account, now)
        # As ClientUseCases.accept records it: every service on the account, with the
        # address the registry gave (the services just read, not read again).
        self.store.record_acceptance(
            Acceptance(
                client_key(cabinet_id),
                partner_inn,
                account,
                "",
                house_id=services[0].house_id,
                premises=services[0].premises,
            )
        )
        event(
            self.log,
            "account.linked",
            cabinet=cabinet_id,
            partner=partner_inn,
            account=mask_account(account),
        )
        return linked

    def unlink(self, cabinet_id: int, partner_inn: str, account: str) -> None:
        """Unlink the account; :class:`~pes_sdk_runner.usecases.NotFound` if not linked.

        The tick that linking gave the account is withdrawn with it (kept as history, as
        the cabinet's unticking keeps it): "not mine" takes back the consent to pay it.
        Ticks of single services found at the address are the client's own, and stay."""
        if not self.store.unlink_account(cabinet_id, partner_inn, account):
            raise NotFound("no such linked account", "account")
        self.store.withdraw_acceptance(
            client_key(cabinet_id), partner_inn, account, "", self.clock()
        )
        event(
            self.log,
            "account.unlinked",
            cabinet=cabinet_id,
            partner=partner_inn,
            account=mask_account(account),
        )

    def linked(self, cabinet_id: int) -> list[LinkedAccount]:
        return self.store.linked_accounts(cabinet_id)

    def is_linked(self, cabinet_id: int, partner_inn: str, account: str) -> bool:
        """Whether the cabinet linked (proved its own) the partner's account."""
        return any(
            (a.partner_inn, a.account) == (partner_inn, account)
            for a in self.store.linked_accounts(cabinet_id)
        )

    def scope(self, cabinet_id: int) -> Scope:
        """What the cabinet may see now (the addresses from the newest registries)."""
        linked = self.store.linked_accounts(cabinet_id)
        return Scope.of(self.store.find_by_accounts((a.partner_inn, a.account) for a in linked))
