"""Entry point of the RuStore channel: the ``rustore`` factory for ``pes_notification_channels``.

Nothing heavy is imported here (the plugin host loads this module for every ``pes``
command): the channel and httpx come in when a channel is built.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import attrs

from pes_sdk.errors import ConfigError
from pes_sdk.notifications import NotificationChannelFactory
from pes_sdk.notifications.settings import ChannelSettings
from pes_sdk.plugins import hookimpl

if TYPE_CHECKING:
    from pes_sdk_rustore.channel import RuStoreChannel

__all__ = ["DEFAULT_TOKEN_ENV", "SETTINGS", "RuStoreFactory", "pes_notification_channels"]

#: Every setting the factory reads; another one is a mistake it names.
SETTINGS = ("project_id", "service_token_env", "endpoint", "timeout")
#: The environment variable the service token is read from unless ``service_token_env`` says.
DEFAULT_TOKEN_ENV = "PES_RUSTORE_SERVICE_TOKEN"


@attrs.frozen
class RuStoreFactory:
    """Builds RuStore Push channels. Settings (strings, as a configuration file gives them):

    * ``project_id`` (required): the push project's id (RuStore Console: the app → Push
      notifications → Projects);
    * ``service_token_env``: the name of the environment variable that holds the project's
      service token, default ``PES_RUSTORE_SERVICE_TOKEN``. The token itself never goes in a
      configuration file, a log, an error or a ``repr``;
    * ``endpoint``: default ``https://vkpns.rustore.ru`` (a simulator's ``http://127.0.0.1:…``
      in tests; plain http only to a loopback host);
    * ``timeout``: seconds for each call, default 10.

    Building a channel reads the environment variable; it touches no network.
    """

    name: str = "rustore"
    description: str = "push through RuStore Push (VK Push, vkpns), for phones without Google"
    kinds: tuple[str, ...] = ("push",)

    def create(self, settings: Mapping[str, str]) -> RuStoreChannel:
        from pes_sdk_rustore.channel import DEFAULT_ENDPOINT, RuStoreChannel, RuStoreSettings

        values = ChannelSettings(
            settings,
            channel="RuStore",
            known=SETTINGS,
            hints={"service_token": "put the token in an environment variable"},
        )
        project_id = values.required("project_id", "the push project's id")
        if not all(c.isalnum() or c in "-_." for c in project_id):
            raise values.error("project_id", f"not a project id: {project_id!r}")
        token = values.secret_env(
            "service_token_env", "service token", default=DEFAULT_TOKEN_ENV
        ).strip()
        if any(c.isspace() or ord(c) < 0x21 or ord(c) > 0x7E for c in token):
            raise ConfigError("the RuStore service token has characters a token cannot have")
        return RuStoreChannel(
            RuStoreSettings(
                project_id=project_id,
                service_token=token,
                endpoint=values.endpoint(DEFAULT_ENDPOINT),
                timeout=values.timeout(),
            )
        )


@hookimpl
def pes_notification_channels() -> Sequence[NotificationChannelFactory]:
    """Push through RuStore Push."""
    return [RuStoreFactory()]
