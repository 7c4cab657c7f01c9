"""Entry point of the YooKassa gateway: the ``yookassa`` factory for ``pes_payment_gateways``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import attrs

from pes_sdk.errors import ConfigError
from pes_sdk.gateways.contract import GatewayFactory
from pes_sdk.plugins import hookimpl

if TYPE_CHECKING:
    from pes_sdk_yookassa.client import YooKassaGateway

# The client (HTTP transport) is imported when a gateway is built, not when the plugin
# loads: every `pes` command loads every plugin.

__all__ = ["YooKassaFactory", "pes_payment_gateways"]


@attrs.frozen
class YooKassaFactory:
    """Builds YooKassa gateways.

    Settings: ``shop_id`` and ``secret_key`` (required); ``url`` (default
    ``https://api.yookassa.ru/v3``); ``timeout`` in seconds (default 10);
    ``webhook_networks``: comma-separated CIDRs notifications may come from (default: the
    list ЮKassa publishes); ``receipt_email`` or ``receipt_phone``: ``receipt.customer``;
    ``tax_system_code`` (1..6). Receipt builders are Python callables: construct
    :class:`~pes_sdk_yookassa.YooKassaGateway` directly to pass them.
    """

    name: str = "yookassa"
    description: str = "ЮKassa API v3 (card, SberPay, СБП); unsigned webhooks, checked by source"

    def create(self, settings: Mapping[str, str]) -> YooKassaGateway:
        from pes_sdk_yookassa.client import YooKassaGateway
        from pes_sdk_yookassa.protocol import API_URL, DEFAULT_WEBHOOK_NETWORKS

        missing = [k for k in ("shop_id", "secret_key") if not settings.get(k)]
        if missing:
            raise ConfigError(f"yookassa: missing setting(s) {', '.join(missing)}")
        networks = settings.get("webhook_networks")
        customer = {
            field: settings[key]
            for key, field in (("receipt_email", "email"), ("receipt_phone", "phone"))
            if settings.get(key)
        }
        try:
            return YooKassaGateway(
                settings["shop_id"],
                settings["secret_key"],
                base_url=settings.get("url", API_URL),
                timeout=float(settings.get("timeout", "10")),
                webhook_networks=(
                    [n for n in networks.split(",") if n.strip()]
                    if networks
                    else DEFAULT_WEBHOOK_NETWORKS
                ),
                receipt_customer=customer or None,
                tax_system_code=(
                    int(settings["tax_system_code"]) if settings.get("tax_system_code") else None
                ),
            )
        except ValueError as exc:
            raise ConfigError(f"yookassa: bad setting: {exc}") from None


@hookimpl
def pes_payment_gateways() -> Sequence[GatewayFactory]:
    """The YooKassa gateway."""
    return [YooKassaFactory()]
