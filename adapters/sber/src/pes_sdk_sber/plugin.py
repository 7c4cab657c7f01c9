"""Entry point of the Sber gateway: the ``sber`` factory for ``pes_payment_gateways``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from pes_sdk.errors import ConfigError
from pes_sdk.gateways.contract import GatewayFactory
from pes_sdk.models.receipts import ReceiptVat
from pes_sdk.plugins import hookimpl

if TYPE_CHECKING:
    from pes_sdk_sber.client import SberGateway

# The client is imported when a gateway is built, not when the plugin loads: every `pes`
# command loads every plugin.

__all__ = ["SberFactory", "pes_payment_gateways"]

KNOWN = {
    "url",
    "user_name",
    "password",
    "token",
    "callback_secret",
    "timeout",
    "form_url_template",
    "refund_guard",
    "qr_size",
    "recurring_frequency",
    "recurring_expiry",
}


@attrs.frozen
class SberFactory:
    """Builds Sber gateways from settings.

    Required: ``url`` (up to ``/payment/rest``), ``callback_secret``, and ``user_name`` +
    ``password`` or ``token``. Optional: ``timeout`` (seconds, default 10),
    ``form_url_template``, ``refund_guard`` (``true``/``false``), ``qr_size``,
    ``recurring_frequency`` (days, 1..28) and ``recurring_expiry`` (``YYYY-MM-DD``) for the
    first payment of autopay, and ``tax_type.<vat>`` (e.g. ``tax_type.vat22 = 10``) for VAT
    codes not built in.
    An unknown setting is a :class:`~pes_sdk.errors.ConfigError` naming it.
    """

    name: str = "sber"
    description: str = "Sber acquiring (Сбербанк интернет-эквайринг, REST register.do)"

    def create(self, settings: Mapping[str, str]) -> SberGateway:
        from pes_sdk_sber.client import SberGateway

        tax_types: dict[ReceiptVat, int] = {}
        for key, value in settings.items():
            if key.startswith("tax_type."):
                try:
                    tax_types[ReceiptVat(key.removeprefix("tax_type."))] = int(value)
                except ValueError:
                    raise ConfigError(f"sber: bad setting {key} = {value!r}") from None
            elif key not in KNOWN:
                raise ConfigError(f"sber: unknown setting {key!r}")
        for required in ("url", "callback_secret"):
            if not settings.get(required):
                raise ConfigError(f"sber: setting {required!r} is required")
        try:
            timeout = float(settings.get("timeout", "10"))
            qr_size = int(settings.get("qr_size", "300"))
        except ValueError:
            raise ConfigError("sber: timeout and qr_size are numbers") from None
        recurring: dict[str, Any] = {}
        try:
            if "recurring_frequency" in settings:
                recurring["recurring_frequency"] = int(settings["recurring_frequency"])
            if "recurring_expiry" in settings:
                recurring["recurring_expiry"] = dt.date.fromisoformat(settings["recurring_expiry"])
        except ValueError:
            raise ConfigError(
                "sber: recurring_frequency is a number of days, recurring_expiry a YYYY-MM-DD date"
            ) from None
        guard = settings.get("refund_guard", "true").lower()
        if guard not in ("true", "false"):
            raise ConfigError("sber: refund_guard is true or false")
        return SberGateway(
            settings["url"],
            user_name=settings.get("user_name"),
            password=settings.get("password"),
            token=settings.get("token"),
            callback_secret=settings["callback_secret"].encode("utf-8"),
            timeout=timeout,
            form_url_template=settings.get("form_url_template"),
            tax_types=tax_types,
            refund_guard=guard == "true",
            qr_size=qr_size,
            **recurring,
        )


@hookimpl
def pes_payment_gateways() -> Sequence[GatewayFactory]:
    """The Sber acquiring gateway."""
    return [SberFactory()]
