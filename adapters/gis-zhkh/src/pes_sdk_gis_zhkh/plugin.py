"""Entry point of the ГИС ЖКХ adapter: a delivery channel for the ``pes_delivery_channels`` hook.

ГИС ЖКХ is a channel only: it receives payment notices and meter readings; what it can say
about debts (``exportForPaymentAggregator``) is a look-up by address or account, not a
partner's debt registry, so the adapter provides no billing source.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import attrs
import click

from pes_sdk.billing.contract import DeliveryChannelFactory
from pes_sdk.errors import ConfigError
from pes_sdk.plugins import hookimpl

if TYPE_CHECKING:
    from pes_sdk_gis_zhkh.channel import GisDeliveryChannel

# The client (zeep, requests) is imported when a channel is built, not when the plugin
# loads: every `pes` command loads every plugin, and most never talk to ГИС ЖКХ.

__all__ = ["GisChannelFactory", "pes_cli_commands", "pes_delivery_channels"]


@attrs.frozen
class GisChannelFactory:
    """Payment notices and meter readings to ГИС ЖКХ (format 16.3.0.0).

    Settings: ``config``, the path of ``GIS.toml`` (required; see docs/gis-zhkh.md), which
    names the endpoints, the format package, the signer, the partners file (the payees of
    the full form) and the meter devices. Building a channel reads those local files and
    touches no network.
    """

    name: str = "gis-zhkh"
    description: str = "ГИС ЖКХ: payment notices and meter readings (format 16.3.0.0)"

    def create(self, settings: Mapping[str, str]) -> GisDeliveryChannel:
        from pes_sdk_gis_zhkh.channel import GisDeliveryChannel
        from pes_sdk_gis_zhkh.client import GisClient
        from pes_sdk_gis_zhkh.config import load_config
        from pes_sdk_gis_zhkh.signing import make_signer

        unknown = set(settings) - {"config"}
        if unknown:
            raise ConfigError(f"gis-zhkh: unknown setting(s) {', '.join(sorted(unknown))}")
        path = settings.get("config")
        if not path:
            raise ConfigError("gis-zhkh needs the setting config (the path of GIS.toml)")
        config = load_config(path)
        s = config.signer
        signer = make_signer(s.kind, key_env=s.key_env, factory=s.factory)
        return GisDeliveryChannel(GisClient(config, signer=signer))


@hookimpl
def pes_delivery_channels() -> Sequence[DeliveryChannelFactory]:
    return [GisChannelFactory()]


@hookimpl
def pes_cli_commands() -> Sequence[click.Command]:
    """``pes gis notify`` and ``pes gis lookup``."""
    from pes_sdk_gis_zhkh.cli import gis

    return [gis]
