"""``[autopay]`` of the runner's file: the defaults, a full table, errors by key."""

from __future__ import annotations

from pathlib import Path

import pytest
from pes_sdk_runner.config import RunnerConfigError, example_config_path, load_runner_config
from pes_sdk_runner.config.autopay import DEFAULT_CONSENT_TEXT, AutopayConfig
from pes_sdk_runner.config.models import RunnerConfig

from pes_sdk.plugins.manager import get_host

ENV = {"PES_CLIENT_TOKENS": "c" * 16, "PES_OPERATOR_TOKENS": "o" * 16}


def _load(tmp_path: Path, table: str) -> RunnerConfig:
    text = example_config_path().read_text(encoding="utf-8") + "\n" + table
    path = tmp_path / "runner.toml"
    path.write_text(text, encoding="utf-8")
    return load_runner_config(path, get_host(), env=ENV, data=tmp_path)


def _keys(tmp_path: Path, table: str) -> tuple[str, ...]:
    with pytest.raises(RunnerConfigError) as caught:
        _load(tmp_path, table)
    return caught.value.keys


def test_without_the_table_a_notice_three_days_ahead_and_five_attempts(tmp_path: Path) -> None:
    a = _load(tmp_path, "").autopay
    assert (a.enabled, a.notice_days, a.attempts, a.retry_hours) == (True, 3, 5, (24, 48, 72, 96))
    assert a.consent_text == DEFAULT_CONSENT_TEXT


def test_a_full_table_is_read(tmp_path: Path) -> None:
    a = _load(
        tmp_path,
        """[autopay]
enabled = false
notice_days = 5
consent_text = "Согласен: {partner}, {account}, {rule}, до {limit}, за {notice_days} дн."
consent_text_version = "2027-01-15"
retry_hours = [12, 36]
""",
    ).autopay
    assert (a.enabled, a.notice_days, a.consent_text_version, a.attempts) == (
        False,
        5,
        "2027-01-15",
        3,
    )


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ("[autopay]\nnotice_days = 0", "autopay.notice_days"),
        ("[autopay]\nretry_hours = [24, 12]", "autopay"),
        ("[autopay]\nretry_hours = [1, 2, 3, 4, 5]", "autopay"),
        ("[autopay]\nretry_hours = 24", "autopay.retry_hours"),
        ('[autopay]\nconsent_text = "Согласен на всё"', "autopay"),
        ('[autopay]\nconsent_text = "{limit} {notice_days} {card_number}"', "autopay"),
        ("[autopay]\nsurprise = 1", "autopay.surprise"),
    ],
)
def test_a_bad_table_is_refused_naming_its_key(tmp_path: Path, table: str, key: str) -> None:
    assert key in _keys(tmp_path, table)


def test_the_law_can_move_without_code() -> None:
    # a longer notice and another text are configuration: the consent keeps what it was
    a = AutopayConfig(notice_days=10, consent_text="{limit} / {notice_days}")
    assert a.notice_days == 10
