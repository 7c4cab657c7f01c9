"""Handing closed registries over to partners, with bounded retries (доставка реестров).

:func:`deliver_pending` takes every delivery not yet acknowledged (``pending``, or
``delivered`` but not acknowledged because a run stopped in between) and:

* **outbox** channel: the file was written by the day close; if it is in place the
  delivery is acknowledged, if it is missing the attempt is recorded as failed (a re-close
  of the day writes it again, byte for byte);
* **adapter** channel (``soap-billing``, ``gis-zhkh``, …): the registry is rebuilt from the
  store exactly as the close built it and handed to
  ``host.delivery_channels()[kind].create(settings).deliver_payments(registry)``. Channels
  are idempotent by (partner, number): ``ALREADY_ACCEPTED`` is success, so a redelivery
  after a crash is harmless.

Every attempt and its error are recorded in the store. Transient errors
(:data:`pes_sdk.billing.errors.RETRYABLE`) are retried up to ``retry.attempts`` times per
run with backoff; after ``max_attempts`` attempts in all, or at once on an error that
retrying cannot fix (a registry conflict, a refusal), the delivery is marked ``failed``
for an operator.

The core event ``registry_delivered`` is fired once, right after the store records the
acknowledgement, and only by the run that made it: at most once (a crash between the two
loses the event, never doubles it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from pes_sdk.billing.contract import DeliveryChannel
from pes_sdk.billing.errors import RETRYABLE
from pes_sdk.billing.retry import BillingRetry
from pes_sdk.errors import PesError
from pes_sdk.models.delivery import Delivery
from pes_sdk.models.registry import RegistryKind
from pes_sdk.plugins.manager import PluginHost
from pes_sdk_runner.close.day import build_registry
from pes_sdk_runner.config.models import PartnerConfig, RunnerConfig
from pes_sdk_runner.crashpoints import crashpoint
from pes_sdk_runner.store.base import (
    DeliveryInfo,
    DeliveryStatus,
    PaymentRegistryInfo,
    Store,
)

__all__ = ["DEFAULT_MAX_ATTEMPTS", "deliver_pending"]

#: Attempts in all (across runs) before a delivery is given up as ``failed``.
DEFAULT_MAX_ATTEMPTS = 10


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


def _wait(retry: BillingRetry, attempt: int) -> float:
    return float(min(retry.initial_wait * 2**attempt, retry.max_wait))


def deliver_pending(
    store: Store,
    config: RunnerConfig,
    host: PluginHost,
    *,
    now: dt.datetime,
    retry: BillingRetry | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    channels: Callable[[PartnerConfig], DeliveryChannel] | None = None,
) -> list[DeliveryInfo]:
    """Deliver every open delivery once more; return their states after this run (a
    delivery that another run, in this process or another, finished meanwhile is left out:
    each is handed over by one run at a time, under the store's lock).

    ``retry`` bounds the attempts of one run (``retry.attempts``) and the waits between
    them (``retry.sleep``); ``max_attempts`` bounds them across runs. ``channels`` builds
    a partner's channel (default: the installed factory named by ``channel.kind``, created
    with the partner's adapter settings).
    """
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone")
    retry = retry or BillingRetry()
    registries: dict[int, tuple[PartnerConfig, PaymentRegistryInfo]] = {}
    for partner in config.partners:
        for info in store.payment_registries(partner.inn):
            registries[info.id] = (partner, info)
    open_ = [
        d
        for d in store.deliveries()
        if d.status in (DeliveryStatus.PENDING, DeliveryStatus.DELIVERED)
    ]
    results: list[DeliveryInfo] = []
    for delivery in open_:
        found = registries.get(delivery.registry_id)
        if found is None:
            # A registry of a partner no longer configured: nothing to deliver it through.
            results.append(
                store.fail_delivery(delivery.id, "the registry's partner is not configured")
            )
            continue
        partner, info = found
        # One run at a time hands a delivery over, across every process on the store (a
        # `close-day` and a worker at once): the next one reads what it recorded, so the
        # registry is not handed over twice, nor its attempts or its event counted twice.
        with store.exclusive(f"deliver:{delivery.id}"):
            current = _still_open(store, delivery.id)
            if current is None:
                continue  # another run finished it meanwhile
            try:
                results.append(
                    _deliver_one(
                        store,
                        config,
                        host,
                        partner,
                        info,
                        current,
                        now,
                        retry,
                        max_attempts,
                        channels,
                    )
                )
            except PesError as exc:
                # A registry that cannot be rebuilt (its fee plan or format no longer
                # installed) is this delivery's failure, counted against its attempts; the
                # other deliveries go on. A store that does not answer still stops the run.
                current = store.record_delivery_attempt(delivery.id, _describe(exc))
                if current.attempts >= max_attempts:
                    current = store.fail_delivery(delivery.id, current.last_error or _describe(exc))
                results.append(current)
    return results


def _still_open(store: Store, delivery_id: int) -> DeliveryInfo | None:
    """The delivery as the store has it now, if it is still to be handed over."""
    for status in (DeliveryStatus.PENDING, DeliveryStatus.DELIVERED):
        for d in store.deliveries(status):
            if d.id == delivery_id:
                return d
    return None


def _acknowledge(
    store: Store,
    host: PluginHost,
    info: PaymentRegistryInfo,
    delivery: DeliveryInfo,
    now: dt.datetime,
) -> DeliveryInfo:
    crashpoint("deliver.recorded")
    done = store.acknowledge_delivery(delivery.id, at=now)
    if delivery.status is not DeliveryStatus.ACKNOWLEDGED:
        host.registry_delivered(
            Delivery(
                partner_inn=info.partner_inn,
                kind=RegistryKind.PAYMENTS,
                number=info.number,
                channel=delivery.channel,
                target=delivery.target,
                delivered_at=done.acknowledged_at or now,
            )
        )
    return done


def _deliver_one(
    store: Store,
    config: RunnerConfig,
    host: PluginHost,
    partner: PartnerConfig,
    info: PaymentRegistryInfo,
    delivery: DeliveryInfo,
    now: dt.datetime,
    retry: BillingRetry,
    max_attempts: int,
    channels: Callable[[PartnerConfig], DeliveryChannel] | None,
) -> DeliveryInfo:
    if delivery.channel != partner.channel.kind:
        return store.fail_delivery(
            delivery.id,
            f"opened for channel {delivery.channel!r}, the partner now has "
            f"{partner.channel.kind!r}",
        )
    if partner.channel.is_outbox:
        if not Path(delivery.target).is_file():
            current = store.record_delivery_attempt(
                delivery.id, f"{delivery.target} is missing: close the day again"
            )
            if current.attempts >= max_attempts:
                return store.fail_delivery(delivery.id, current.last_error or "missing file")
            return current
        store.record_delivery_attempt(delivery.id)
        return _acknowledge(store, host, info, delivery, now)

    registry = build_registry(store, config, host, partner, info.day).registry(info.number)
    current = delivery
    for attempt in range(retry.attempts):
        if current.attempts >= max_attempts:
            return store.fail_delivery(
                delivery.id, current.last_error or f"{max_attempts} attempts"
            )
        try:
            if channels is not None:
                channel = channels(partner)
            else:
                factory = host.delivery_channels().get(partner.channel.kind)
                if factory is None:
                    raise LookupError(f"delivery channel {partner.channel.kind!r} is not installed")
                channel = factory.create(partner.channel.adapter.merged())
            # ACCEPTED and ALREADY_ACCEPTED are both success: the receipt is the ack.
            channel.deliver_payments(registry)
        except RETRYABLE as exc:
            current = store.record_delivery_attempt(delivery.id, _describe(exc))
            if attempt + 1 < retry.attempts and current.attempts < max_attempts:
                retry.sleep(_wait(retry, attempt))
            continue
        except Exception as exc:  # a refusal or conflict: retrying cannot fix it
            store.record_delivery_attempt(delivery.id, _describe(exc))
            return store.fail_delivery(delivery.id, _describe(exc))
        crashpoint("deliver.accepted")
        store.record_delivery_attempt(delivery.id)
        return _acknowledge(store, host, info, delivery, now)
    if current.attempts >= max_attempts:
        return store.fail_delivery(delivery.id, current.last_error or f"{max_attempts} attempts")
    return current
