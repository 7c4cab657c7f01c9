"""``[store] group_commit``: on by default, turned off by the file, a non-boolean refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from pes_sdk_runner.config import RunnerConfigError, example_config_path, load_runner_config

from pes_sdk.plugins.manager import get_host

ENV = {"PES_CLIENT_TOKENS": "c" * 16, "PES_OPERATOR_TOKENS": "o" * 16}
LINE = "group_commit = true"


def _config(tmp_path: Path, line: str) -> Path:
    text = example_config_path().read_text(encoding="utf-8")
    assert LINE in text
    path = tmp_path / "runner.toml"
    path.write_text(text.replace(LINE, line), encoding="utf-8")
    return path


def test_group_commit_is_on_unless_the_file_turns_it_off(tmp_path: Path) -> None:
    on = load_runner_config(_config(tmp_path, ""), get_host(), env=ENV, data=tmp_path)
    assert on.store.group_commit is True
    off = load_runner_config(
        _config(tmp_path, "group_commit = false"), get_host(), env=ENV, data=tmp_path
    )
    assert off.store.group_commit is False
    assert off.store.url == on.store.url


def test_a_group_commit_that_is_no_boolean_is_refused_by_its_key(tmp_path: Path) -> None:
    with pytest.raises(RunnerConfigError) as caught:
        load_runner_config(
            _config(tmp_path, 'group_commit = "yes"'), get_host(), env=ENV, data=tmp_path
        )
    assert caught.value.keys == ("store.group_commit",)
