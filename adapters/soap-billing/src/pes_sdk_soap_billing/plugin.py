"""Entry point of the SOAP billing exchange: one factory for each of the two provider hooks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import attrs

from pes_sdk.billing.contract import BillingSourceFactory, DeliveryChannelFactory
from pes_sdk.billing.retry import BillingRetry
from pes_sdk.errors import ConfigError
from pes_sdk.plugins import hookimpl

if TYPE_CHECKING:
    from pes_sdk_soap_billing.client import SoapBillingClient

# The client (zeep, requests) is imported when a client is built, not when the plugin
# loads: every `pes` command loads every plugin, and most never talk SOAP.

__all__ = [
    "SoapBillingChannelFactory",
    "SoapBillingSourceFactory",
    "client_from_settings",
    "pes_billing_sources",
    "pes_delivery_channels",
]


def _number(settings: Mapping[str, str], key: str, default: str) -> float:
    raw = settings.get(key, default)
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"soap-billing setting {key}: a number, not {raw!r}") from None


def client_from_settings(settings: Mapping[str, str]) -> SoapBillingClient:
    """A client from string settings; builds zeep from the local WSDL, touches no network.

    Settings: ``url`` (required); ``timeout`` (10) and ``operation_timeout`` (60) seconds;
    ``page_size`` (1000); ``attempts`` (4), ``initial_wait`` (0.2), ``max_wait`` (5) and
    ``deadline`` (none) of the retries; ``username`` and ``password`` for HTTP Basic.
    """
    from pes_sdk_soap_billing.client import DEFAULT_PAGE_SIZE, SoapBillingClient

    if "url" not in settings:
        raise ConfigError("soap-billing needs the setting url (the partner's endpoint)")
    deadline = settings.get("deadline")
    retry = BillingRetry(
        attempts=int(_number(settings, "attempts", "4")),
        initial_wait=_number(settings, "initial_wait", "0.2"),
        max_wait=_number(settings, "max_wait", "5"),
        deadline=_number(settings, "deadline", "0") if deadline else None,
    )
    return SoapBillingClient(
        settings["url"],
        timeout=_number(settings, "timeout", "10"),
        operation_timeout=_number(settings, "operation_timeout", "60"),
        page_size=int(_number(settings, "page_size", str(DEFAULT_PAGE_SIZE))),
        retry=retry,
        username=settings.get("username"),
        password=settings.get("password"),
    )


@attrs.frozen
class SoapBillingSourceFactory:
    """Debt registries from a partner's service implementing the kit's billing WSDL."""

    name: str = "soap-billing"
    description: str = "partner billing exchange over SOAP (urn:pes-sdk:billing:1)"

    def create(self, settings: Mapping[str, str]) -> SoapBillingClient:
        return client_from_settings(settings)


@attrs.frozen
class SoapBillingChannelFactory:
    """Payment registries and meter readings to a partner's billing SOAP service."""

    name: str = "soap-billing"
    description: str = "partner billing exchange over SOAP (urn:pes-sdk:billing:1)"

    def create(self, settings: Mapping[str, str]) -> SoapBillingClient:
        return client_from_settings(settings)


@hookimpl
def pes_billing_sources() -> Sequence[BillingSourceFactory]:
    return [SoapBillingSourceFactory()]


@hookimpl
def pes_delivery_channels() -> Sequence[DeliveryChannelFactory]:
    return [SoapBillingChannelFactory()]
