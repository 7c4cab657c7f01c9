"""The API's models of autopay (автоплатёж): a client's consents and charges as an app sees
them, and what a cancellation did.

A consent travels without the acquirer's handle of the saved card (``method_id``,
``customer_key``): an app shows the card by its title ("*4242") and never charges it
itself. The terms a client agrees to while paying are
:class:`~pes_sdk_runner.usecases.AutopayTerms`, sent as they are in ``POST /v1/payments``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import attrs

from pes_sdk_runner.store.autopay import Charge, ChargeState, Consent, ConsentRule, ConsentStatus

__all__ = [
    "AutopayCancelView",
    "AutopayChargeView",
    "AutopayChargesView",
    "ConsentVersionView",
    "ConsentView",
    "ConsentsView",
]


@attrs.frozen
class ConsentVersionView:
    """One version of a consent: what was agreed (or that it was cancelled), and when."""

    version: int
    status: ConsentStatus
    at: dt.datetime
    #: the exact text agreed to, and its version (``[autopay] consent_text_version``)
    text: str
    text_version: str

    @classmethod
    def of(cls, c: Consent) -> ConsentVersionView:
        return cls(c.version, c.status, c.agreed_at, c.text, c.text_version)


@attrs.frozen
class ConsentView:
    """A client's autopay consent as it stands (its latest version), with its history."""

    consent_id: uuid.UUID
    partner_inn: str
    account: str
    rule: ConsentRule
    day: int | None  #: the day of the month, with rule ``day_of_month``
    limit: Decimal  #: the most it takes in a month
    card: str  #: the saved card's title at the acquirer ("Card *4242")
    status: ConsentStatus
    since: dt.datetime  #: when the client agreed (version 1)
    updated_at: dt.datetime  #: the latest version's time (a cancellation's)
    versions: tuple[ConsentVersionView, ...]

    @classmethod
    def of(cls, versions: list[Consent]) -> ConsentView:
        c = versions[-1]
        return cls(
            c.consent_id,
            c.partner_inn,
            c.account,
            c.rule,
            c.day,
            c.monthly_limit,
            c.method.title,
            c.status,
            versions[0].agreed_at,
            c.agreed_at,
            tuple(ConsentVersionView.of(v) for v in versions),
        )


@attrs.frozen
class ConsentsView:
    consents: tuple[ConsentView, ...]


@attrs.frozen
class AutopayChargeView:
    """One consent's charge for one period."""

    charge_id: uuid.UUID
    consent_id: uuid.UUID
    partner_inn: str
    account: str
    period: str
    amount: Decimal
    state: ChargeState
    noticed_at: dt.datetime  #: when the client was told
    due_at: dt.datetime  #: not charged before this
    attempts: int

    @classmethod
    def of(cls, c: Charge) -> AutopayChargeView:
        return cls(
            c.charge_id,
            c.consent_id,
            c.partner_inn,
            c.account,
            c.period,
            c.amount,
            c.state,
            c.noticed_at,
            c.due_at,
            c.attempts,
        )


@attrs.frozen
class AutopayChargesView:
    charges: tuple[AutopayChargeView, ...]


@attrs.frozen
class AutopayCancelView:
    """A cancellation: the consent after it, the charges it stopped, and those already with
    the acquirer when it came (each ends as the acquirer says)."""

    consent: ConsentView
    stopped: tuple[AutopayChargeView, ...]
    in_progress: tuple[AutopayChargeView, ...]
