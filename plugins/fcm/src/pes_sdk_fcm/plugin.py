"""Entry point of the FCM channel: the ``fcm`` factory for ``pes_notification_channels``.

Nothing heavy is imported here (the plugin host loads this module for every ``pes``
command): the channel, httpx, PyJWT and cryptography come in when a channel is built.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from pes_sdk.errors import ConfigError
from pes_sdk.notifications import NotificationChannelFactory
from pes_sdk.plugins import hookimpl

if TYPE_CHECKING:
    from pes_sdk_fcm.channel import FcmChannel

__all__ = ["SETTINGS", "FcmFactory", "pes_notification_channels"]

#: Every setting the factory reads; another one is a mistake it names.
SETTINGS = ("service_account_file", "project_id", "endpoint", "timeout")


@attrs.frozen
class FcmFactory:
    """Builds FCM channels. Settings (strings, as a configuration file gives them):

    * ``service_account_file`` (required): the path of the service account's JSON key
      (Firebase console → Project settings → Service accounts → Generate new private key).
      The key stays in that file (readable by the service only), never in the settings;
    * ``project_id``: the Firebase project; default the key's ``project_id``;
    * ``endpoint``: FCM's base URL, default ``https://fcm.googleapis.com`` (a simulator's
      ``http://127.0.0.1:…`` in tests; plain http only to a loopback host);
    * ``timeout``: seconds for each HTTP call (the token exchange, the send), default 10.

    Building a channel reads and checks the key file; it touches no network.
    """

    name: str = "fcm"
    description: str = "push through Firebase Cloud Messaging (HTTP v1, OAuth2 service account)"
    kinds: tuple[str, ...] = ("push",)

    def create(self, settings: Mapping[str, str]) -> FcmChannel:
        from pes_sdk_fcm.auth import ServiceAccount, is_loopback_url
        from pes_sdk_fcm.channel import DEFAULT_ENDPOINT, FcmChannel, FcmSettings

        unknown = sorted(set(settings) - set(SETTINGS))
        if unknown:
            raise ConfigError(
                f"FCM settings: unknown {', '.join(map(repr, unknown))}; "
                f"known: {', '.join(SETTINGS)}"
            )
        path = settings.get("service_account_file", "").strip()
        if not path:
            raise ConfigError(
                "the FCM channel needs the setting 'service_account_file': the path of the "
                "service account's JSON key"
            )
        account = ServiceAccount.from_file(Path(path).expanduser())
        project_id = settings.get("project_id", "").strip() or account.project_id
        if not all(c.isalnum() or c in "-_." for c in project_id):
            raise ConfigError(f"FCM setting 'project_id': not a project id: {project_id!r}")
        endpoint = settings.get("endpoint", "").strip().rstrip("/") or DEFAULT_ENDPOINT
        if not (
            endpoint.startswith("https://")
            or (endpoint.startswith("http://") and is_loopback_url(endpoint))
        ):
            raise ConfigError(
                f"FCM setting 'endpoint': an https URL (http only to a loopback host), "
                f"not {endpoint!r}"
            )
        raw = settings.get("timeout", "").strip() or "10"
        try:
            timeout = float(raw)
        except ValueError:
            raise ConfigError(f"FCM setting 'timeout': not a number: {raw!r}") from None
        if not (math.isfinite(timeout) and 0 < timeout <= 300):
            raise ConfigError(f"FCM setting 'timeout': more than 0 and at most 300 s, not {raw}")
        return FcmChannel(
            FcmSettings(account=account, project_id=project_id, endpoint=endpoint, timeout=timeout)
        )


@hookimpl
def pes_notification_channels() -> Sequence[NotificationChannelFactory]:
    """Push through FCM HTTP v1."""
    return [FcmFactory()]
