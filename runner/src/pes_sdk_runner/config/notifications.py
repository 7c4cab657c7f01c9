"""``[notifications]`` of the runner's file: channels, their order, quiet hours, throttle.

Read by :func:`~pes_sdk_runner.config.loader.parse_runner_config` like every other
section: each problem noted with its key path, nothing built until the whole file is
right. Without the section every message goes to the sandbox ``outbox`` channel, a JSON
Lines file under the data folder (``outbox/notifications.jsonl``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from pes_sdk.errors import ConfigError
from pes_sdk_runner.config.models import (
    NOTIFICATIONS_OUTBOX,
    OUTBOX,
    NotificationsConfig,
    NotifyChannel,
    QuietHours,
)
from pes_sdk_runner.i18n import tr

if TYPE_CHECKING:
    from pes_sdk_runner.config.loader import _Loader

__all__ = ["PUSH_PROVIDERS", "TRANSPORTS", "load_notifications"]

#: How a message travels (a notification's kind).
TRANSPORTS = ("push", "sms", "email")
#: The push providers a device registers with.
PUSH_PROVIDERS = ("fcm", "apns", "rustore", "webpush")
_KEYS = (
    "channels",
    "via",
    "order",
    "quiet_hours",
    "per_client_per_day",
    "attempts",
    "max_wait",
    "batch_size",
)
_CHANNEL_KEYS = ("plugin", "settings", "secrets_env", "dedup_by_key")
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}\Z")
_HOURS = re.compile(r"(\d{2}):(\d{2})\s*-\s*(\d{2}):(\d{2})\Z")
_WHERE = "notifications"


def _transport_of(via: str) -> str:
    return "push" if via in PUSH_PROVIDERS else via


def _quiet_hours(value: Any) -> QuietHours:
    from pes_sdk_runner.config.loader import _text

    text = _text(value)
    m = _HOURS.fullmatch(text)
    bad = m is None or int(m[1]) > 23 or int(m[3]) > 23 or int(m[2]) > 59 or int(m[4]) > 59
    if m is None or bad:
        raise ValueError(
            tr('is local times "HH:MM-HH:MM" such as "21:00-09:00", not {text!r}', text=text)
        )
    start, end = dt.time(int(m[1]), int(m[2])), dt.time(int(m[3]), int(m[4]))
    if start == end:
        raise ValueError(
            tr('is local times "HH:MM-HH:MM" such as "21:00-09:00", not {text!r}', text=text)
        )
    return QuietHours(start, end)


def _order(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise ValueError(tr("is a list of transports (push, sms, email)"))
    out: list[str] = []
    for item in value:
        if item not in TRANSPORTS or item in out:
            raise ValueError(tr("is a list of transports (push, sms, email)"))
        out.append(item)
    return tuple(out)


def load_notifications(
    loader: _Loader, data: Mapping[str, Any], data_folder: Path | None
) -> NotificationsConfig | None:
    """The ``[notifications]`` table (the defaults when there is none); None on a problem."""
    from pes_sdk_runner.config.loader import _seconds, _whole

    r = loader.r
    table = r.table(data, "notifications", "")
    if table is None:
        return None
    r.unknown(table, _KEYS, _WHERE)
    problems = len(r.problems)
    channels = _channels(loader, table, data_folder)
    values: dict[str, Any] = {}
    if channels is not None:
        values["channels"] = channels
        via = _via(loader, table, channels)
        if via is not None:
            values["via"] = via
    order = r.table(table, "order", _WHERE)
    if order:
        kinds: dict[str, tuple[str, ...]] = {}
        for kind in order:
            if not _NAME.match(kind):
                r.note(f"{_WHERE}.order.{kind}", tr("is not a kind of message: a-z, 0-9, _ and -"))
                continue
            got = r.get(order, kind, f"{_WHERE}.order", _order)
            if got is not None:
                kinds[kind] = got
        values["order"] = {"default": ("push", "sms"), **kinds}
    readers = {
        "quiet_hours": _quiet_hours,
        "per_client_per_day": _whole(1, 1000, tr("messages")),
        "attempts": _whole(1, 20, tr("attempts")),
        "max_wait": _seconds(0, 3600),
        "batch_size": _whole(1, 10_000, tr("messages")),
    }
    for key, convert in readers.items():
        if key in table:
            value = r.get(table, key, _WHERE, convert)
            values["per_day" if key == "per_client_per_day" else key] = value
    if len(r.problems) > problems:
        return None
    return NotificationsConfig(**values)


def _channels(
    loader: _Loader, table: Mapping[str, Any], data_folder: Path | None
) -> tuple[NotifyChannel, ...] | None:
    from pes_sdk_runner.config.loader import _bool, _resolve, _text

    r = loader.r
    if "channels" not in table:
        # The default, the sandbox outbox, only when it is installed: a runner without it
        # (a bare core) sends no notifications rather than refusing its file.
        installed = loader.host.notification_channels()
        channels = tuple(c for c in NotificationsConfig().channels if c.plugin in installed)
    else:
        given = r.table(table, "channels", _WHERE)
        if given is None:
            return None
        found: list[NotifyChannel] = []
        for name in given:
            where = f"{_WHERE}.channels.{name}"
            if not _NAME.match(name):
                r.note(where, tr("a channel's name is a-z, 0-9, _ and -"))
                continue
            sub = r.table(given, name, f"{_WHERE}.channels")
            if sub is None:
                continue
            r.unknown(sub, _CHANNEL_KEYS, where)
            plugin = r.get(sub, "plugin", where, _text, default=name)
            if plugin is not None:
                try:
                    loader.host.notification_channel(plugin)
                except ConfigError as exc:
                    r.note(f"{where}.plugin", str(exc))
                    plugin = None
            adapter = loader.adapter(sub, where)
            dedup = r.get(sub, "dedup_by_key", where, _bool, default=False)
            if plugin is None or adapter is None or dedup is None:
                continue
            found.append(NotifyChannel(name, plugin, adapter, dedup))
        if not found and not given:
            r.note(f"{_WHERE}.channels", tr("names no channel"))
            return None
        channels = tuple(found)
    out: list[NotifyChannel] = []
    for channel in channels:
        if channel.plugin == OUTBOX and data_folder is not None:
            # The sandbox channel's file: under the data folder unless absolute.
            raw = channel.adapter.settings.get("path", str(NOTIFICATIONS_OUTBOX))
            try:
                path = _resolve(data_folder, raw)
            except ValueError as exc:
                r.note(f"{_WHERE}.channels.{channel.name}.settings.path", str(exc))
                continue
            adapter = attrs.evolve(
                channel.adapter, settings={**channel.adapter.settings, "path": str(path)}
            )
            channel = attrs.evolve(channel, adapter=adapter)
        out.append(channel)
    return tuple(out)


def _via(
    loader: _Loader, table: Mapping[str, Any], channels: tuple[NotifyChannel, ...]
) -> dict[str, str] | None:
    """The channel of each transport and push provider: as given, else found by name."""
    from pes_sdk_runner.config.loader import _text

    r = loader.r
    given = r.table(table, "via", _WHERE)
    if given is None:
        return None
    r.unknown(given, ("sms", "email", *PUSH_PROVIDERS), f"{_WHERE}.via")
    kinds = {c.name: tuple(loader.host.notification_channel(c.plugin).kinds) for c in channels}
    out: dict[str, str] = {}
    ok = True
    for via in ("sms", "email", *PUSH_PROVIDERS):
        transport = _transport_of(via)
        if via in given:
            name = r.get(given, via, f"{_WHERE}.via", _text)
            if name is None:
                ok = False
            elif name not in kinds:
                r.note(f"{_WHERE}.via.{via}", tr("names no channel of notifications.channels"))
                ok = False
            elif transport not in kinds[name]:
                r.note(
                    f"{_WHERE}.via.{via}",
                    tr(
                        "the channel {name!r} does not carry {transport}",
                        name=name,
                        transport=transport,
                    ),
                )
                ok = False
            else:
                out[via] = name
            continue
        found = _default_via(via, transport, channels, kinds)
        if found is not None:
            out[via] = found
    return out if ok else None


def _default_via(
    via: str,
    transport: str,
    channels: tuple[NotifyChannel, ...],
    kinds: Mapping[str, tuple[str, ...]],
) -> str | None:
    # A push token is only good at its own provider: an FCM token goes to a channel named
    # or built as fcm, or to the sandbox outbox; never to another provider's channel.
    for c in channels:
        if c.name == via and transport in kinds[c.name]:
            return c.name
    for c in channels:
        if transport != "push" and transport in kinds[c.name]:
            return c.name
        if transport == "push" and c.plugin == via:
            return c.name
    for c in channels:
        if c.plugin == OUTBOX and transport in kinds[c.name]:
            return c.name
    return None
