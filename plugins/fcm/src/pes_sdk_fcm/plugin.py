"""Entry point of the FCM channel: the ``fcm`` factory for ``pes_notification_channels``.

Nothing heavy is imported here (the plugin host loads this module for every ``pes``
command): the channel, httpx, PyJWT and cryptography come in when a channel is built.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from pes_sdk.notifications import NotificationChannelFactory
from pes_sdk.notifications.settings import ChannelSettings
from pes_sdk.plugins import hookimpl

if TYPE_CHECKING:
    from pes_sdk_fcm.channel import FcmChannel

__all__ = ["SETTINGS", "FcmFactory", "pes_notification_channels"]

#: Every setting the factory reads; another one is a mistake it names.
SETTINGS = ("service_account_file", "project_id", "endpoint", "timeout", "ca_file")


@attrs.frozen
class FcmFactory:
    """Builds FCM channels. Settings (strings, as a configuration file gives them):

    * ``service_account_file`` (required): the path of the service account's JSON key
      (Firebase console → Project settings → Service accounts → Generate new private key).
      The key stays in that file (readable by the service only), never in the settings;
    * ``project_id``: the Firebase project; default the key's ``project_id``;
    * ``endpoint``: FCM's base URL, default ``https://fcm.googleapis.com`` (a simulator's
      ``http://127.0.0.1:…`` in tests; plain http only to a loopback host);
    * ``timeout``: seconds for each HTTP call (the token exchange, the send), default 10;
    * ``ca_file``: PEM certificates to trust instead of the system's (a test CA, such as
      the simulator's over TLS).

    Building a channel reads and checks the key file; it touches no network.
    """

    name: str = "fcm"
    description: str = "push through Firebase Cloud Messaging (HTTP v1, OAuth2 service account)"
    kinds: tuple[str, ...] = ("push",)

    def create(self, settings: Mapping[str, str]) -> FcmChannel:
        from pes_sdk_fcm.auth import ServiceAccount
        from pes_sdk_fcm.channel import DEFAULT_ENDPOINT, FcmChannel, FcmSettings

        values = ChannelSettings(settings, channel="FCM", known=SETTINGS)
        path = values.required("service_account_file", "the path of the service account's JSON key")
        account = ServiceAccount.from_file(Path(path).expanduser())
        project_id = values.text("project_id", account.project_id)
        if not all(c.isalnum() or c in "-_." for c in project_id):
            raise values.error("project_id", f"not a project id: {project_id!r}")
        endpoint = values.endpoint(DEFAULT_ENDPOINT)
        timeout = values.timeout()
        ca_file = values.file("ca_file")
        try:
            return FcmChannel(
                FcmSettings(
                    account=account,
                    project_id=project_id,
                    endpoint=endpoint,
                    timeout=timeout,
                    ca_file=ca_file,
                )
            )
        except OSError as exc:  # ssl: a ca_file that is not PEM certificates
            raise values.error("ca_file", f"cannot load it ({exc})") from None


@hookimpl
def pes_notification_channels() -> Sequence[NotificationChannelFactory]:
    """Push through FCM HTTP v1."""
    return [FcmFactory()]
