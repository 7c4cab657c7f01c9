"""atomic_path: a reader sees the old file or the new one, never a part."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from pes_sdk.errors import ConfigError
from pes_sdk.files import DEFAULT_FILE_MODE, FILE_MODE_ENV, atomic_path


def test_replaces_on_success(tmp_path: Path) -> None:
    final = tmp_path / "реестр.txt"
    final.write_text("old", encoding="utf-8")
    with atomic_path(final) as tmp:
        assert tmp.parent == final.parent  # same folder: the rename is atomic
        assert tmp != final
        tmp.write_text("новый", encoding="utf-8")
        assert final.read_text(encoding="utf-8") == "old"  # not yet
    assert final.read_text(encoding="utf-8") == "новый"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["реестр.txt"]


def test_creates_a_new_file(tmp_path: Path) -> None:
    final = tmp_path / "new.txt"
    with atomic_path(str(final)) as tmp:
        tmp.write_bytes(b"1")
    assert final.read_bytes() == b"1"
    assert [p.name for p in tmp_path.iterdir()] == ["new.txt"]


def test_failure_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path) -> None:
    final = tmp_path / "out.csv"
    final.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError, match="boom"), atomic_path(final) as tmp:
        tmp.write_text("half a fi", encoding="utf-8")
        raise RuntimeError("boom")
    assert final.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_failure_without_an_old_file_leaves_nothing(tmp_path: Path) -> None:
    final = tmp_path / "out.csv"
    with pytest.raises(KeyboardInterrupt), atomic_path(final) as tmp:
        tmp.write_text("x", encoding="utf-8")
        raise KeyboardInterrupt  # even an interrupt must not leave a part behind
    assert list(tmp_path.iterdir()) == []


def test_block_that_removes_its_temp_file(tmp_path: Path) -> None:
    # A writer that deletes its own output and then fails: no FileNotFoundError masks it.
    final = tmp_path / "out.csv"
    with pytest.raises(ValueError, match="bad row"), atomic_path(final) as tmp:
        tmp.unlink()
        raise ValueError("bad row")
    assert list(tmp_path.iterdir()) == []


def test_written_files_are_readable_by_the_group(tmp_path: Path) -> None:
    # Every written file was 0600 (mkstemp's), so a pickup over SFTP or Samba, or 1C under
    # another account, could not read a registry (issue 13).
    final = tmp_path / "registry.txt"
    with atomic_path(final) as tmp:
        tmp.write_text("x")
    assert stat.S_IMODE(final.stat().st_mode) == DEFAULT_FILE_MODE == 0o640


@pytest.mark.parametrize(("env", "mode"), [("0600", 0o600), ("644", 0o644)])
def test_pes_file_mode_sets_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: str, mode: int
) -> None:
    monkeypatch.setenv(FILE_MODE_ENV, env)
    final = tmp_path / "registry.txt"
    with atomic_path(final) as tmp:
        tmp.write_text("x")
    assert stat.S_IMODE(final.stat().st_mode) == mode


@pytest.mark.parametrize("env", ["rw-r-----", "0800", "01777"])
def test_a_bad_pes_file_mode_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: str
) -> None:
    monkeypatch.setenv(FILE_MODE_ENV, env)
    with pytest.raises(ConfigError, match="PES_FILE_MODE"), atomic_path(tmp_path / "x"):
        pass
    assert list(tmp_path.iterdir()) == []
