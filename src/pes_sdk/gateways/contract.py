"""The contract of a payment gateway adapter, and of the factory a plugin provides.

An adapter speaks one acquirer's protocol (the sandbox simulator, YooKassa, T-Bank, Sber)
and maps it onto these few calls. It keeps no payment state of its own: the
:class:`~pes_sdk.gateways.processor.PaymentProcessor` decides what a snapshot means. Every
call that goes over the network has a timeout (:attr:`PaymentGateway.timeout`); an adapter
never retries on its own (the processor does, with a stop, and only where it is safe).

How the protocols fit (see docs/gateways.md):

* **idempotency**: YooKassa takes the key as ``Idempotence-Key``; T-Bank and Sber dedupe by
  the merchant's order id (``OrderId`` / ``orderNumber``), for which the adapter sends
  :attr:`~pes_sdk.models.Payment.payment_id`;
* **lookup after a timeout**: :meth:`PaymentGateway.find_payment` by our order id (Sber
  ``getOrderStatusExtended.do`` by ``orderNumber``, T-Bank ``CheckOrder``; YooKassa repeats
  the create with the same ``Idempotence-Key``, which returns the existing payment);
* **webhooks**: :meth:`PaymentGateway.parse_webhook` checks authenticity the protocol's way
  (an HMAC, T-Bank's ``Token``, Sber's checksum, or YooKassa's source network plus a
  re-fetch of the payment) and returns the normalised snapshot;
* **saved methods** (автоплатёж, :attr:`GatewayCapabilities.recurring`): a payment created
  with :attr:`CreateOptions.save_method` reports the method the acquirer kept
  (:attr:`GatewayPayment.saved_method`); :meth:`PaymentGateway.charge_saved` charges it
  without the client, once per key; :meth:`PaymentGateway.forget_method` unbinds it where
  the protocol can.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Protocol, runtime_checkable
from uuid import UUID

from pes_sdk.gateways.errors import GatewayRefused
from pes_sdk.gateways.models import (
    ChargeOptions,
    CreateOptions,
    GatewayCapabilities,
    GatewayEvent,
    GatewayPayment,
    RefundRequest,
    RefundResult,
    SavedMethod,
    WebhookRequest,
)
from pes_sdk.models.payments import Payment

__all__ = ["GatewayFactory", "PaymentGateway"]


class PaymentGateway(abc.ABC):
    """One configured connection to one acquirer."""

    #: the gateway's name, as its factory is registered (``sandbox``, ``yookassa``, …)
    name: str
    capabilities: GatewayCapabilities

    @property
    @abc.abstractmethod
    def timeout(self) -> float:
        """Seconds every network call waits at most (connect and each read)."""

    @abc.abstractmethod
    def create_payment(self, payment: Payment, options: CreateOptions) -> GatewayPayment:
        """Create the payment of a whole basket for ``payment.total``; one attempt.

        Repeating the call with the same ``options.idempotency_key`` must return the same
        acquirer payment, never a second one. Returns the snapshot with its
        :class:`~pes_sdk.gateways.models.Confirmation`.
        """

    @abc.abstractmethod
    def get_payment(self, gateway_payment_id: str) -> GatewayPayment:
        """The acquirer's current snapshot; :class:`UnknownPayment` if it has none."""

    @abc.abstractmethod
    def find_payment(self, order_id: UUID, idempotency_key: str) -> GatewayPayment | None:
        """The payment created for our ``order_id``, or None if the acquirer has none.

        Called after a create timed out, before any new attempt, and after a restart: it
        asks the acquirer, never this object's memory of its own creates.
        """

    @abc.abstractmethod
    def cancel_payment(self, gateway_payment_id: str, idempotency_key: str) -> GatewayPayment:
        """Cancel a payment that is not yet paid; a repeat answers the cancelled payment.

        :class:`GatewayRefused` where the protocol cannot cancel an unpaid payment
        (:attr:`GatewayCapabilities.cancel_pending` False).
        """

    @abc.abstractmethod
    def refund(self, request: RefundRequest, idempotency_key: str) -> RefundResult:
        """Give back ``request.amount`` (per line, for the receipt); idempotent by key.

        A refund the acquirer refuses raises :class:`GatewayRefused`, never a result.
        """

    @abc.abstractmethod
    def parse_webhook(self, request: WebhookRequest) -> list[GatewayEvent]:
        """Check a notification's authenticity and normalise it; :class:`WebhookRejected`.

        The replay window and unknown payment ids are checked by the processor, from
        :attr:`GatewayEvent.signed_at` and the service's own book.
        """

    def charge_saved(
        self, payment: Payment, method: SavedMethod, options: ChargeOptions
    ) -> GatewayPayment:
        """Charge ``payment.total`` to a saved method without the client; one attempt.

        Repeating the call with the same ``options.idempotency_key`` and order id
        (``payment.payment_id``) must never charge twice: it returns the same acquirer
        payment. The snapshot is ``succeeded``, ``failed`` (declined: with
        :attr:`GatewayPayment.decline`) or ``pending`` (the acquirer decides later and
        tells by webhook or :meth:`get_payment`); never a confirmation for the client.
        :class:`GatewayRefused` when the acquirer refused the request itself (an unknown
        or foreign method) and nothing was charged. After a timeout the caller asks
        :meth:`find_payment` before any new attempt, as for :meth:`create_payment`.
        """
        raise GatewayRefused(f"the {self.name} gateway cannot charge a saved method")

    def forget_method(self, method: SavedMethod) -> bool:
        """Ask the acquirer to forget ``method`` (unbind the card); idempotent.

        True once the acquirer holds it no more (a repeat, or a method it never had, is
        True too); False where the protocol has no such call
        (:attr:`GatewayCapabilities.unbind` False): the service then only stops using it.
        """
        return False

    def close(self) -> None:  # noqa: B027 - optional hook, most adapters hold nothing
        """Release connections (and, for the sandbox, the embedded simulator)."""


@runtime_checkable
class GatewayFactory(Protocol):
    """What the ``pes_payment_gateways`` hook returns: builds gateways from settings."""

    @property
    def name(self) -> str:
        """The gateway's name, unique across plugins."""
        ...

    @property
    def description(self) -> str:
        """One line for listings."""
        ...

    def create(self, settings: Mapping[str, str]) -> PaymentGateway:
        """A gateway configured by ``settings`` (URLs, shop id, secrets from the caller)."""
        ...
