"""Autopay (автоплатёж): what is charged, when, and what the client is told.

Money taken with nobody pressing a button, so every step is written to hold under
crashes, retries and several processes (docs/autopay.md):

* **consent**: a client agrees while paying with "Подключить автоплатёж" ticked
  (:func:`request_consent`); the consent comes into force in the transaction that records
  that payment paid with the method the acquirer saved
  (:class:`~pes_sdk_runner.store.autopay.AutopayRequest`). Consents are append-only.
* **plan**: a new period's registry (rule ``on_registry``) or the day before the notice
  period of a monthly day (rule ``day_of_month``) plans one charge per consent and period
  (``UNIQUE``), with the amount due then, and queues its notice: "10 декабря автоплатёж
  спишет …". The charge is due ``notice_days`` after the notice went out, never earlier.
* **charge** (:meth:`Autopay.prepare` then :meth:`Autopay.attempt`): when due, the notice
  must have been sent (else the charge waits, or ends without charging when it cannot be
  sent); the consent must be in force (the claim takes the consent's lock, as a
  cancellation does); the amount is what is due now, never more than the notice said nor
  over the monthly limit (weighed by the claim in its transaction: a charge is claimed only
  within it). Each attempt has an order id and an idempotency key derived from
  the charge and the attempt's number, so however often a step runs again the acquirer
  sees one charge per attempt; a declined attempt is followed by another after a growing
  pause, at most ``attempts`` in all, each again only while the consent is in force.
* **tell**: paid, not paid, over the limit; whoever finds a charge ended tells again (a run
  may die between ending it and queueing the notice), once per charge by the notice's key.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import logging
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

import attrs

from pes_sdk.gateways.contract import PaymentGateway
from pes_sdk.gateways.errors import GatewayError, GatewayRefused
from pes_sdk.gateways.models import Decline, PaymentState
from pes_sdk.gateways.processor import PaymentEntry, PaymentProcessor
from pes_sdk.models.payments import Payment, PaymentLine, PaymentMethod
from pes_sdk.money import ZERO
from pes_sdk.period import Period
from pes_sdk_runner.logs import event
from pes_sdk_runner.receipts import build_receipt
from pes_sdk_runner.store.autopay import (
    AutopayRequest,
    Charge,
    ChargeState,
    Consent,
    ConsentRule,
)
from pes_sdk_runner.store.notify import MessageStatus
from pes_sdk_runner.triggers import Triggers, autopay_source, rubles

if TYPE_CHECKING:
    from pes_sdk_runner.config.models import RunnerConfig
    from pes_sdk_runner.store.sql import SqlStore

__all__ = [
    "Autopay",
    "Next",
    "Step",
    "attempt_of",
    "charge_id_of",
    "customer_key_of",
    "forget_if_unused",
    "render_consent_text",
    "request_consent",
]

log = logging.getLogger("pes_sdk_runner.autopay")


def charge_id_of(consent_id: uuid.UUID, period: str) -> uuid.UUID:
    """The one charge of a consent for a period."""
    return uuid.uuid5(consent_id, f"autopay:{period}")


def attempt_of(charge_id: uuid.UUID, attempt: int) -> tuple[uuid.UUID, str]:
    """The order id and idempotency key of a charge's attempt ``attempt`` (1, 2, …)."""
    order = uuid.uuid5(charge_id, f"attempt:{attempt}")
    return order, f"autopay-{order.hex}"


def customer_key_of(client_id: str) -> str:
    """The client's id at the acquirer (Т-Банк ``CustomerKey``, Сбербанк ``clientId``):
    stable, opaque, 36 characters at most (Т-Банк's limit), never the client's data."""
    return "pes-" + hashlib.sha256(client_id.encode()).hexdigest()[:32]


def _rule_text(rule: ConsentRule, day: int | None) -> str:
    if rule is ConsentRule.DAY_OF_MONTH:
        return f"{day}-го числа каждого месяца"
    return "при поступлении новых начислений"


def render_consent_text(
    config: RunnerConfig,
    *,
    partner_name: str,
    account: str,
    rule: ConsentRule,
    day: int | None,
    limit: Decimal,
) -> str:
    """The consent text as the client reads and agrees to it (``[autopay] consent_text``
    filled in): what the consent keeps, word for word."""
    return config.autopay.consent_text.format(
        account=account,
        partner=partner_name,
        rule=_rule_text(rule, day),
        limit=rubles(limit),
        notice_days=config.autopay.notice_days,
    )


def request_consent(
    store: SqlStore,
    config: RunnerConfig,
    *,
    order_id: uuid.UUID,
    client_id: str,
    partner_inn: str,
    account: str,
    rule: ConsentRule,
    day: int | None,
    limit: Decimal,
    now: dt.datetime,
) -> AutopayRequest:
    """Keep what the client agrees to on payment ``order_id`` (started with
    :func:`customer_key_of` so that the acquirer saves the method): the consent comes into
    force when that payment is recorded paid with the saved method."""
    partner = config.partner(partner_inn)
    if partner is None:
        raise KeyError(f"no partner {partner_inn} is configured")
    text = render_consent_text(
        config, partner_name=partner.name, account=account, rule=rule, day=day, limit=limit
    )
    request = AutopayRequest(
        order_id,
        client_id,
        partner_inn,
        account,
        rule,
        day,
        limit,
        text,
        config.autopay.consent_text_version,
        now,
    )
    store.request_autopay(request)
    return request


def forget_if_unused(store: SqlStore, gateway: PaymentGateway | None, consent: Consent) -> bool:
    """Ask the acquirer to forget a cancelled consent's card, where its protocol can and no
    consent in force still uses the card. A courtesy after the fact: the consent is ended
    whatever the acquirer answers (a failure is logged, never raised). True: forgotten."""
    method = consent.method
    if (
        gateway is None
        or not gateway.capabilities.unbind
        or gateway.name != method.gateway
        or any(
            c.method.method_id == method.method_id
            for c in store.consents_of(consent.client_id)
            if c.active
        )
    ):
        return False
    try:
        return gateway.forget_method(method)
    except GatewayError as exc:
        event(
            log, "autopay.unbind-failed", consent=str(consent.consent_id), error=type(exc).__name__
        )
        return False


class Next(enum.StrEnum):
    """What the charge's workflow does after a step."""

    WAIT = "wait"  #: wait until :attr:`Step.at`, then prepare again
    ATTEMPT = "attempt"  #: send (or resume, or ask about) attempt :attr:`Step.attempt`
    POLL = "poll"  #: the attempt is with the acquirer: ask again at :attr:`Step.at`
    RETRY = "retry"  #: declined: attempt :attr:`Step.attempt` at :attr:`Step.at`
    DONE = "done"  #: the charge has ended (:attr:`Step.state`)


@attrs.frozen
class Step:
    """One step's outcome, as plain data (the job engine records it)."""

    next: Next
    at: dt.datetime | None = None
    attempt: int = 0
    state: ChargeState | None = None


#: How long after an attempt is sent the acquirer is asked again, while it is pending.
POLL_EVERY = dt.timedelta(minutes=1)
#: How long a notice still queued (quiet hours, a slow channel) holds the charge back
#: before its state is read again.
NOTICE_WAIT = dt.timedelta(hours=1)


class Autopay:
    """Autopay over one store, configuration and notifier (``triggers``)."""

    def __init__(self, store: SqlStore, config: RunnerConfig, triggers: Triggers) -> None:
        self.store = store
        self.config = config
        self.triggers = triggers

    # -- planning --------------------------------------------------------------------------

    def _due(self, partner_inn: str, account: str) -> Decimal:
        """What the account owes the partner now: its services' amounts due."""
        return sum(
            (b.due for b in self.store.find_by_account(partner_inn, account) if b.due > 0), ZERO
        )

    def _plan(self, consent: Consent, period: str, now: dt.datetime) -> Charge | None:
        """Plan the consent's charge for ``period`` and queue its notice (a repeat of the
        same consent and period plans nothing new and notices nobody twice)."""
        amount = self._due(consent.partner_inn, consent.account)
        if amount <= 0:
            return None
        charge = Charge(
            charge_id_of(consent.consent_id, period),
            consent.consent_id,
            consent.version,
            consent.client_id,
            consent.partner_inn,
            consent.account,
            period,
            amount,
            now,
            now + dt.timedelta(days=self.config.autopay.notice_days),
        )
        stored, _ = self.store.plan_charge(charge)
        if stored.state is ChargeState.NOTICED:
            # Idempotent by the notice's source (trigger:autopay:upcoming:<charge>): a
            # re-run after a crash between the plan and this writes no second message.
            self.triggers.autopay_upcoming(
                stored.client_id,
                str(stored.charge_id),
                stored.partner_inn,
                stored.amount,
                stored.due_at.astimezone(self.config.service.time_zone).date(),
            )
        event(log, "autopay.planned", charge=str(stored.charge_id), period=period)
        return stored

    def plan_registry(self, partner_inn: str, period: Period, now: dt.datetime) -> list[Charge]:
        """The charges of a partner's new period (rule ``on_registry``)."""
        if not self.config.autopay.enabled:
            return []
        out = []
        for consent in self.store.active_consents(
            partner_inn=partner_inn, rule=ConsentRule.ON_REGISTRY
        ):
            charge = self._plan(consent, str(period), now)
            if charge is not None:
                out.append(charge)
        return out

    def plan_days(self, now: dt.datetime) -> list[Charge]:
        """The charges of monthly days whose notice is due today (rule ``day_of_month``):
        a consent for the 10th is planned on the 7th with a 3-day notice."""
        if not self.config.autopay.enabled:
            return []
        zone = self.config.service.time_zone
        today = now.astimezone(zone).date()
        charge_day = today + dt.timedelta(days=self.config.autopay.notice_days)
        out = []
        for consent in self.store.active_consents(
            rule=ConsentRule.DAY_OF_MONTH, day=charge_day.day
        ):
            charge = self._plan(consent, f"{charge_day:%Y-%m}", now)
            if charge is not None:
                out.append(charge)
        return out

    # -- cancelling ------------------------------------------------------------------------

    def cancel(
        self, consent_id: uuid.UUID, gateway: PaymentGateway | None, now: dt.datetime
    ) -> tuple[Consent, list[Charge]]:
        """End a consent at once (:meth:`AutopaySql.cancel_consent`), then ask the acquirer
        to forget its card where the protocol can and no consent in force still uses it.
        The unbinding is a courtesy after the fact: the consent is ended whatever the
        acquirer answers (a failure is logged, never raised)."""
        consent, stopped = self.store.cancel_consent(consent_id, now)
        forget_if_unused(self.store, gateway, consent)
        event(log, "autopay.cancelled", consent=str(consent_id), stopped=len(stopped))
        return consent, stopped

    # -- charging --------------------------------------------------------------------------

    def _notice_sent(self, charge: Charge) -> tuple[MessageStatus | None, dt.datetime | None]:
        """The notice's best state across its messages, and when it was sent."""
        source = autopay_source("upcoming", str(charge.charge_id))
        messages = self.store.messages_of_client(source, charge.client_id)
        sent = [m.sent_at for m in messages if m.status is MessageStatus.SENT and m.sent_at]
        if sent:
            return MessageStatus.SENT, min(sent)
        waiting = [m for m in messages if m.status in (MessageStatus.QUEUED, MessageStatus.SENDING)]
        if waiting:
            return MessageStatus.QUEUED, None
        return (messages[0].status if messages else None), None

    def prepare(self, charge_id: uuid.UUID, now: dt.datetime) -> Step:
        """Before the first attempt: the notice out ``notice_days`` ago, then the consent in
        force and the amount within the monthly limit, both checked by the claim (one
        transaction under the consent's lock: a ``charging`` charge has passed them), and
        the amount within the notice."""
        charge = self.store.charge(charge_id)
        if charge is None:
            return Step(Next.DONE)
        if charge.state is ChargeState.CHARGING:
            if charge.next_attempt > charge.attempts:
                return Step(Next.ATTEMPT, attempt=charge.next_attempt)  # after a pause
            return Step(Next.ATTEMPT, attempt=max(charge.attempts, 1))  # resumed, or polled
        if charge.state.is_final:
            self._tell_ended(charge)
            return Step(Next.DONE, state=charge.state)
        status, sent_at = self._notice_sent(charge)
        if status is MessageStatus.QUEUED:
            return Step(Next.WAIT, at=max(charge.due_at, now + NOTICE_WAIT))
        if status is not MessageStatus.SENT or sent_at is None:
            # No charge without its notice: nobody could be told, so nothing is taken.
            ended = self.store.end_charge(charge_id, ChargeState.FAILED, "notice not sent", now)
            return Step(Next.DONE, state=ended.state if ended else None)
        due_at = max(charge.due_at, sent_at + dt.timedelta(days=self.config.autopay.notice_days))
        if due_at > now:
            return Step(Next.WAIT, at=due_at)
        # The amount is read before the claim, which checks it against the month's limit in
        # its own transaction: a limit checked after the claim left a window where a run
        # killed in between resumed the charge as claimed and sent it unchecked.
        amount = self._amount(charge)
        claimed = self.store.claim_charge(
            charge_id, now, amount=amount, zone=self.config.service.time_zone
        )
        if claimed is None:
            current = self.store.charge(charge_id)
            return Step(Next.DONE, state=current.state if current else None)
        if claimed.state is ChargeState.OVER_LIMIT:
            self._tell_over_limit(claimed, amount)
            return Step(Next.DONE, state=ChargeState.OVER_LIMIT)
        if amount <= 0:
            self.store.end_charge(charge_id, ChargeState.NOTHING_DUE, "paid otherwise", now)
            return Step(Next.DONE, state=ChargeState.NOTHING_DUE)
        return Step(Next.ATTEMPT, attempt=1)

    def _tell_over_limit(self, charge: Charge, amount: Decimal) -> None:
        self.triggers.autopay_failed(
            charge.client_id, str(charge.charge_id), charge.partner_inn, amount
        )

    def _tell_ended(self, charge: Charge) -> None:
        """Tell the client again how a charge found ended went: a run may have died between
        ending it and queueing the notice (they are not one transaction: the messages are
        the notification core's), and the charge's workflow, found final, would say nothing
        more. Sent once however often this runs: each notice is keyed by its source
        (``trigger:autopay:<done|failed>:<charge>``) and the client."""
        if charge.state is ChargeState.OVER_LIMIT:
            self._tell_over_limit(charge, self._amount(charge))
            return
        if charge.state not in (ChargeState.PAID, ChargeState.FAILED) or charge.order_id is None:
            return  # ended before any attempt (no notice out, cancelled, paid otherwise)
        entry = self.store.get(charge.order_id)  # the last attempt, as :meth:`read` saw it
        if entry is None:  # pragma: no cover - an attempt is booked before it is sent
            return
        tell = (
            self.triggers.autopay_done
            if charge.state is ChargeState.PAID
            else self.triggers.autopay_failed
        )
        tell(charge.client_id, str(charge.charge_id), charge.partner_inn, entry.payment.total)

    def _amount(self, charge: Charge) -> Decimal:
        return min(self._due(charge.partner_inn, charge.account), charge.amount)

    def basket(self, charge: Charge, order_id: uuid.UUID, now: dt.datetime) -> Payment | None:
        """The payment of one attempt: the account's services due now, in the registry's
        order, taking at most what the notice said (to the kopeck); None: nothing due."""
        left = charge.amount
        lines: list[PaymentLine] = []
        for b in self.store.find_by_account(charge.partner_inn, charge.account):
            if left <= 0 or b.due <= 0:
                continue
            take = min(b.due, left)
            left -= take
            lines.append(
                PaymentLine(
                    b.partner_inn,
                    b.account,
                    take,
                    service=b.service,
                    house_id=b.house_id,
                    premises=b.premises,
                    period=b.period,
                    service_code=b.service_code,
                )
            )
        if not lines:
            return None
        return Payment(order_id, now, PaymentMethod.CARD, lines)

    def attempt(
        self, charge_id: uuid.UUID, attempt: int, processor: PaymentProcessor, now: dt.datetime
    ) -> Step:
        """Send attempt ``attempt`` (or resume it: the same order id and key), then read
        what the acquirer said."""
        charge = self.store.charge(charge_id)
        if charge is None:
            return Step(Next.DONE)
        if charge.state is not ChargeState.CHARGING:
            if charge.state.is_final:
                # this step run again after its run ended the charge (and maybe died
                # before telling): tell now, once
                self._tell_ended(charge)
            return Step(Next.DONE, state=charge.state)
        consent = self.store.consent(charge.consent_id)
        order_id, key = attempt_of(charge_id, attempt)
        entry = processor.store.get(order_id)
        if (
            entry is not None
            and entry.gateway_payment_id is None
            and entry.state is PaymentState.CREATED
            and consent is not None
        ):
            # Booked, then the run died before the acquirer answered: the same payment, key
            # and method again (the processor asks the acquirer first).
            entry = self._send(processor, entry.payment, consent, key, charge)
        if entry is not None and entry.gateway_payment_id is not None and not entry.state.is_final:
            # with the acquirer, not yet decided: ask (its webhook may also have come)
            entry = processor.refresh(order_id).entry
        if entry is None:
            if not self.store.begin_attempt(charge_id, attempt, order_id, now):
                # cancelled between two attempts: nothing more is sent
                current = self.store.charge(charge_id)
                return Step(Next.DONE, state=current.state if current else None)
            payment = self.basket(charge, order_id, now)
            if payment is None or consent is None:
                self.store.end_charge(charge_id, ChargeState.NOTHING_DUE, "paid otherwise", now)
                return Step(Next.DONE, state=ChargeState.NOTHING_DUE)
            entry = self._send(processor, payment, consent, key, charge)
        return self.read(charge_id, attempt, entry, now)

    def _send(
        self,
        processor: PaymentProcessor,
        payment: Payment,
        consent: Consent,
        key: str,
        charge: Charge,
    ) -> PaymentEntry:
        receipt = None
        if self.config.receipts.enabled and processor.gateway.capabilities.receipts:
            # a charge is a paid basket like any other: its 54-ФЗ receipt goes with it, to
            # the client's own contact (a runner that registers receipts itself does so
            # after the payment, as for any payment)
            contact = self.store.contacts_of([charge.client_id]).get(charge.client_id)
            receipt = build_receipt(
                self.config,
                self.store.partners(),
                payment,
                email=contact.email if contact is not None else None,
                phone=contact.phone if contact is not None else None,
            )
        try:
            return processor.charge_saved(
                payment,
                consent.method,
                idempotency_key=key,
                description=f"Автоплатёж по лицевому счёту {charge.account}",
                receipt=receipt,
            )
        except GatewayRefused:
            entry = processor.store.get(payment.payment_id)
            if entry is None:  # pragma: no cover - the processor books before asking
                raise
            return entry

    def read(
        self, charge_id: uuid.UUID, attempt: int, entry: PaymentEntry, now: dt.datetime
    ) -> Step:
        """What an attempt's payment says: paid, declined (retry or stop), or waiting."""
        charge = self.store.charge(charge_id)
        assert charge is not None
        if entry.state.is_paid:
            self.store.end_charge(charge_id, ChargeState.PAID, None, now)
            self.triggers.autopay_done(
                charge.client_id, str(charge_id), charge.partner_inn, entry.payment.total
            )
            return Step(Next.DONE, state=ChargeState.PAID)
        if entry.state in (PaymentState.CREATED, PaymentState.PENDING):
            return Step(Next.POLL, at=now + POLL_EVERY, attempt=attempt)
        # failed or cancelled: declined
        gone = entry.decline is Decline.METHOD_GONE or entry.gateway_payment_id is None
        pauses = self.config.autopay.retry_hours
        if gone or attempt > len(pauses):
            reason = "method gone" if gone else f"declined {attempt} times"
            self.store.end_charge(charge_id, ChargeState.FAILED, reason, now)
            self.triggers.autopay_failed(
                charge.client_id, str(charge_id), charge.partner_inn, entry.payment.total
            )
            return Step(Next.DONE, state=ChargeState.FAILED)
        return Step(
            Next.RETRY, at=now + dt.timedelta(hours=pauses[attempt - 1]), attempt=attempt + 1
        )

    # -- rounds --------------------------------------------------------------------------

    def round(
        self,
        charge_id: uuid.UUID,
        processor: PaymentProcessor,
        clock: Callable[[], dt.datetime],
    ) -> Step:
        """One round of a charge: its steps until it ends or must wait; a wait ends the
        round with the charge deferred (``next_at``), so no process sleeps on it (the
        tick's sweep queues the next round when the wait is over: ``ready_charges``)."""
        charge = self.store.charge(charge_id)
        if charge is None:
            return Step(Next.DONE)
        number = charge.round
        step = self.prepare(charge_id, clock())
        while step.next is Next.ATTEMPT:
            step = self.attempt(charge_id, step.attempt, processor, clock())
        if step.next is not Next.DONE:
            assert step.at is not None
            after = step.attempt if step.next is Next.RETRY else 0
            self.store.defer_charge(charge_id, number, step.at, after)
        return step

    def run(
        self,
        charge_id: uuid.UUID,
        processor: PaymentProcessor,
        clock: Callable[[], dt.datetime],
        sleep: Callable[[dt.datetime], None],
    ) -> Step:
        """Drive one charge to its end in this thread, round after round, with ``sleep``
        (which moves ``clock`` on) where the engine's tick would queue the next round."""
        while True:
            step = self.round(charge_id, processor, clock)
            if step.next is Next.DONE:
                return step
            assert step.at is not None
            sleep(step.at)
