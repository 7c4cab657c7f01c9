"""Payments put in a runner's book as the API and the acquirer's webhook would put them:
booked by an app (and its client), then answered through the processor. For the tests of
what follows a payment (receipts, the cabinet's archive), which need paid payments but not
the acquirer's page."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from decimal import Decimal

from pes_sdk_runner.store import SqlStore
from pes_sdk_runner.store.triggers import record_payment_client

from pes_sdk.gateways.models import GatewayPayment, PaymentState
from pes_sdk.gateways.processor import PaymentEntry, PaymentProcessor
from pes_sdk.models.payments import Payment, PaymentLine, PaymentMethod


def booked(
    store: SqlStore,
    lines: Sequence[PaymentLine],
    *,
    at: dt.datetime,
    client: str = "app:ivanova",
    owner: str = "app-1",
) -> uuid.UUID:
    """A card payment of ``lines`` started five minutes before ``at`` by ``owner`` (an app,
    or a cabinet's client key) for ``client``, waiting for the acquirer's answer."""
    payment = Payment(uuid.uuid4(), at - dt.timedelta(minutes=5), PaymentMethod.CARD, lines)
    store.record_payment_app(payment.payment_id, owner)
    if client != owner:
        record_payment_client(store, payment.payment_id, client)
    store.add(
        PaymentEntry(
            payment,
            uuid.uuid4().hex,
            state=PaymentState.PENDING,
            gateway_payment_id=f"gw-{payment.payment_id.hex}",
            line_refunded=tuple(Decimal(0) for _ in lines),
        )
    )
    return payment.payment_id


def settle(store: SqlStore, order_id: uuid.UUID, state: PaymentState, *, at: dt.datetime) -> None:
    """The acquirer's answer (paid at ``at``) applied through the processor, as a webhook's
    would be."""
    entry = store.get(order_id)
    assert entry is not None
    # The processor is used only to apply an answer: it never calls its gateway here.
    processor = PaymentProcessor(object(), store=store)  # type: ignore[arg-type]
    snapshot = GatewayPayment(
        "sandbox",
        f"gw-{order_id.hex}",
        order_id,
        state,
        entry.payment.total,
        paid_at=at if state.is_paid else None,
    )
    processor.apply(snapshot)


def paid(
    store: SqlStore,
    lines: Sequence[PaymentLine],
    *,
    at: dt.datetime,
    client: str = "app:ivanova",
    owner: str = "app-1",
) -> uuid.UUID:
    """:func:`booked`, then answered paid at ``at`` (:func:`settle`)."""
    order_id = booked(store, lines, at=at, client=client, owner=owner)
    settle(store, order_id, PaymentState.SUCCEEDED, at=at)
    return order_id
