"""Entry point of the RuStore channel: the ``rustore`` factory for ``pes_notification_channels``.

Nothing heavy is imported here (the plugin host loads this module for every ``pes``
command): the channel and httpx come in when a channel is built.
"""

from __future__ import annotations

import math
import os
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import attrs

from pes_sdk.errors import ConfigError
from pes_sdk.notifications import NotificationChannelFactory
from pes_sdk.plugins import hookimpl

if TYPE_CHECKING:
    from pes_sdk_rustore.channel import RuStoreChannel

__all__ = ["DEFAULT_TOKEN_ENV", "SETTINGS", "RuStoreFactory", "pes_notification_channels"]

#: Every setting the factory reads; another one is a mistake it names.
SETTINGS = ("project_id", "service_token_env", "endpoint", "timeout")
#: The environment variable the service token is read from unless ``service_token_env`` says.
DEFAULT_TOKEN_ENV = "PES_RUSTORE_SERVICE_TOKEN"
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


def _loopback(url: str) -> bool:
    host = (urllib.parse.urlsplit(url).hostname or "").lower()
    return host in ("localhost", "::1") or host.startswith("127.")


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

        unknown = sorted(set(settings) - set(SETTINGS))
        if unknown:
            hint = (
                " (put the token in an environment variable)" if "service_token" in unknown else ""
            )
            raise ConfigError(
                f"RuStore settings: unknown {', '.join(map(repr, unknown))}{hint}; "
                f"known: {', '.join(SETTINGS)}"
            )
        project_id = settings.get("project_id", "").strip()
        if not project_id:
            raise ConfigError(
                "the RuStore channel needs the setting 'project_id': the push project's id"
            )
        if not all(c.isalnum() or c in "-_." for c in project_id):
            raise ConfigError(f"RuStore setting 'project_id': not a project id: {project_id!r}")
        env = settings.get("service_token_env", "").strip() or DEFAULT_TOKEN_ENV
        if not _ENV_NAME.fullmatch(env):
            raise ConfigError(
                f"RuStore setting 'service_token_env': the name of an environment variable, "
                f"not {env!r}"
            )
        token = os.environ.get(env, "").strip()
        if not token:
            raise ConfigError(
                f"the RuStore channel reads its service token from the environment variable "
                f"{env}, which is not set"
            )
        if any(c.isspace() or ord(c) < 0x21 or ord(c) > 0x7E for c in token):
            raise ConfigError(f"the service token in {env} has characters a token cannot have")
        endpoint = settings.get("endpoint", "").strip().rstrip("/") or DEFAULT_ENDPOINT
        if not (
            endpoint.startswith("https://")
            or (endpoint.startswith("http://") and _loopback(endpoint))
        ):
            raise ConfigError(
                f"RuStore setting 'endpoint': an https URL (http only to a loopback host), "
                f"not {endpoint!r}"
            )
        raw = settings.get("timeout", "").strip() or "10"
        try:
            timeout = float(raw)
        except ValueError:
            raise ConfigError(f"RuStore setting 'timeout': not a number: {raw!r}") from None
        if not (math.isfinite(timeout) and 0 < timeout <= 300):
            raise ConfigError(
                f"RuStore setting 'timeout': more than 0 and at most 300 s, not {raw}"
            )
        return RuStoreChannel(
            RuStoreSettings(
                project_id=project_id, service_token=token, endpoint=endpoint, timeout=timeout
            )
        )


@hookimpl
def pes_notification_channels() -> Sequence[NotificationChannelFactory]:
    """Push through RuStore Push."""
    return [RuStoreFactory()]
