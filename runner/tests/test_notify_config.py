"""``[notifications]`` of the runner's file: the defaults, a full table, errors by key."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pes_sdk_runner.config import RunnerConfigError, example_config_path, load_runner_config
from pes_sdk_runner.config.models import OUTBOX, QuietHours

from pes_sdk.plugins.manager import get_host

ENV = {"PES_CLIENT_TOKENS": "c" * 16, "PES_OPERATOR_TOKENS": "o" * 16}


def _load(tmp_path: Path, table: str, env: dict[str, str] | None = None) -> object:
    text = example_config_path().read_text(encoding="utf-8") + "\n" + table
    path = tmp_path / "runner.toml"
    path.write_text(text, encoding="utf-8")
    return load_runner_config(path, get_host(), env={**ENV, **(env or {})}, data=tmp_path)


def _keys(tmp_path: Path, table: str, env: dict[str, str] | None = None) -> tuple[str, ...]:
    with pytest.raises(RunnerConfigError) as caught:
        _load(tmp_path, table, env)
    return caught.value.keys


def test_without_the_table_every_message_goes_to_the_outbox_under_the_data_folder(
    tmp_path: Path,
) -> None:
    config = _load(tmp_path, "")
    n = config.notifications  # type: ignore[attr-defined]
    (channel,) = n.channels
    assert (channel.name, channel.plugin) == (OUTBOX, OUTBOX)
    assert channel.adapter.settings["path"] == str(tmp_path / "outbox" / "notifications.jsonl")
    assert set(n.via.values()) == {OUTBOX}
    assert n.order_of("charges") == ("push", "sms")
    assert (n.quiet_hours, n.per_day, n.attempts, n.max_wait) == (None, None, 3, 30.0)


def test_a_full_table_is_read_with_secrets_from_the_environment(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        """[notifications]
quiet_hours = "21:00-09:00"
per_client_per_day = 3
attempts = 5
max_wait = 10
batch_size = 200
order = { charges = ["push", "sms"], news = ["push"], receipts = ["email"] }
via = { sms = "sms" }

[notifications.channels.sms]
plugin = "outbox"
settings = { path = "outbox/sms.jsonl" }
dedup_by_key = true

[notifications.channels.fcm]
settings = { service_account_file = "/etc/pes/fcm.json" }
secrets_env = { project_id = "PES_FCM_PROJECT" }
""",
        {"PES_FCM_PROJECT": "pes-test"},
    )
    n = config.notifications  # type: ignore[attr-defined]
    assert n.quiet_hours == QuietHours(dt.time(21), dt.time(9))
    assert (n.per_day, n.attempts, n.max_wait, n.batch_size) == (3, 5, 10.0, 200)
    assert n.order_of("news") == ("push",) and n.order_of("debts") == ("push", "sms")
    fcm = n.channel("fcm")
    assert fcm.plugin == "fcm" and fcm.adapter.merged()["project_id"] == "pes-test"
    assert "pes-test" not in repr(fcm)
    assert n.channel("sms").dedup_by_key is True
    # FCM tokens go to the fcm channel; the other providers' and e-mail to the only sandbox
    sandbox = {"email": "sms", "apns": "sms", "rustore": "sms", "webpush": "sms"}
    assert n.via == {"sms": "sms", "fcm": "fcm", **sandbox}


def test_quiet_hours_across_midnight_end_in_the_clients_morning() -> None:
    quiet = QuietHours(dt.time(21), dt.time(9))
    assert (
        quiet.contains(dt.time(23, 59))
        and quiet.contains(dt.time(0))
        and quiet.contains(dt.time(8, 59))
    )
    assert not quiet.contains(dt.time(9)) and not quiet.contains(dt.time(20, 59))
    from zoneinfo import ZoneInfo

    perm = ZoneInfo("Asia/Yekaterinburg")
    late = dt.datetime(2026, 12, 7, 22, 30, tzinfo=perm)
    assert quiet.end_after(late) == dt.datetime(2026, 12, 8, 9, 0, tzinfo=perm)
    early = dt.datetime(2026, 12, 8, 3, 0, tzinfo=perm)
    assert quiet.end_after(early) == dt.datetime(2026, 12, 8, 9, 0, tzinfo=perm)
    day = QuietHours(dt.time(13), dt.time(14))
    assert day.contains(dt.time(13, 30)) and not day.contains(dt.time(14))


@pytest.mark.parametrize(
    ("table", "env", "keys"),
    [
        ('[notifications]\nquiet_hours = "21-9"', {}, ("notifications.quiet_hours",)),
        ('[notifications]\nquiet_hours = "09:00-09:00"', {}, ("notifications.quiet_hours",)),
        ("[notifications]\nper_client_per_day = 0", {}, ("notifications.per_client_per_day",)),
        ("[notifications]\nattempts = 100", {}, ("notifications.attempts",)),
        ('[notifications]\norder = { news = ["pigeon"] }', {}, ("notifications.order.news",)),
        ("[notifications]\norder = { news = [] }", {}, ("notifications.order.news",)),
        ('[notifications]\nvia = { sms = "nowhere" }', {}, ("notifications.via.sms",)),
        ('[notifications]\nvia = { telegram = "outbox" }', {}, ("notifications.via.telegram",)),
        ("[notifications]\nloud = true", {}, ("notifications.loud",)),
        (
            '[notifications.channels.x]\nplugin = "carrier-pigeon"',
            {},
            ("notifications.channels.x.plugin",),
        ),
        (
            '[notifications.channels.fcm]\nsecrets_env = { project_id = "PES_NOT_SET" }',
            {},
            ("notifications.channels.fcm.secrets_env.project_id",),
        ),
        (
            '[notifications.channels.fcm]\nsettings = { api_key = "in the file" }',
            {},
            ("notifications.channels.fcm.settings.api_key",),
        ),
        (
            '[notifications.channels.mail]\nplugin = "email"\n'
            '[notifications]\nvia = { sms = "mail" }',
            {},
            ("notifications.via.sms",),
        ),
    ],
)
def test_a_wrong_setting_is_named_by_its_key(
    tmp_path: Path, table: str, env: dict[str, str], keys: tuple[str, ...]
) -> None:
    assert _keys(tmp_path, table, env) == keys
