"""The operator's path: ``pes runner init``, folders made at start, dates and help in words,
the scan's progress bar, and what ``status`` says of an inbox's links, FIFOs and folders.

Through the real ``pes`` group (click's runner) on real folders and a real SQLite store;
the progress bar through a real process on a real pseudo-terminal.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import time
from pathlib import Path

from click.testing import CliRunner, Result
from example_inputs import UK_DOM, debt, write_sber_debts
from pes_sdk_runner.config import example_config_path
from runner_proc import ENV, PES, TIMEOUT, config_of, write_config

from pes_sdk.cli.common import PROGRESS_MIN_BYTES
from pes_sdk.cli.main import cli
from pes_sdk.plugins.manager import PluginHost


def run(args: list[str]) -> Result:
    return CliRunner().invoke(cli, args, env=dict(ENV))


# -- init -------------------------------------------------------------------------------------


def test_init_writes_a_configuration_that_checks_and_its_folders(tmp_path: Path) -> None:
    target = tmp_path / "pes"

    result = run(["runner", "init", str(target)])

    assert result.exit_code == 0, result.output
    path = target / "runner.toml"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# pes-sdk runner configuration")
    assert "pes runner init" in text and "pes demo" not in text
    # The example's keys and their comments, whole.
    example = example_config_path().read_text(encoding="utf-8")
    assert text.endswith(example[example.index("\nversion = ") + 1 :])
    data = target / "data"
    for folder in (
        data / "inbox" / "uk-dom" / "processed",
        data / "inbox" / "uk-dom" / "rejected",
        data / "inbox" / "vodokanal" / "rejected",
        data / "outbox" / "teploset",
    ):
        assert folder.is_dir(), folder
    assert f"pes runner check --config {path}" in result.output

    check = run(["runner", "check", "--config", str(path)])
    assert check.exit_code == 0, check.output


def test_init_never_overwrites_a_configuration(tmp_path: Path) -> None:
    path = tmp_path / "runner.toml"
    path.write_text("# the operator's own\n", encoding="utf-8")

    result = run(["runner", "init", str(tmp_path)])

    assert result.exit_code == 2
    assert f"{path} exists: it is not overwritten" in result.stderr
    assert "Traceback" not in result.output
    assert path.read_text(encoding="utf-8") == "# the operator's own\n"


# -- folders at start -------------------------------------------------------------------------


def test_the_folders_are_made_when_the_runner_starts(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    config = config_of(path)
    assert not config.service.data.exists()

    result = run(["runner", "scan", "--config", str(path)])

    assert result.exit_code == 0, result.output
    for p in config.partners:
        assert p.source.folder is not None and p.channel.folder is not None
        assert (p.source.folder / "processed").is_dir()
        assert (p.source.folder / "rejected").is_dir()
        assert p.channel.folder.is_dir()


# -- dates and help ---------------------------------------------------------------------------


def test_a_bad_date_is_told_in_words(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    said = {}
    for day in ("2026-13-01", "2026-02-29", "2026-04-31", "20.10.2026", "2026-10-00"):
        result = run(["runner", "close-day", "--config", str(path), "--date", day])
        assert result.exit_code == 2, result.output
        assert "%" not in result.stderr and "Traceback" not in result.output
        said[day] = result.stderr.strip().splitlines()[-1]
    assert said["2026-13-01"].endswith("'--date': 2026-13-01 is not a date: month 13")
    assert said["2026-02-29"].endswith("2026-02-29 is not a date: February 2026 has 28 days")
    assert said["2026-04-31"].endswith("2026-04-31 is not a date: April 2026 has 30 days")
    assert said["20.10.2026"].endswith(
        "20.10.2026 is not a date: write it as YYYY-MM-DD, e.g. 2026-11-27"
    )
    assert said["2026-10-00"].endswith("2026-10-00 is not a date: day 0")


def test_help_shows_what_to_type_without_markup() -> None:
    close = run(["runner", "close-day", "--help"])
    assert "--date YYYY-MM-DD" in close.output
    assert "%Y" not in close.output
    for command in ("check", "status", "scan", "close-day", "run-once", "serve", "worker", "init"):
        result = run(["runner", command, "--help"])
        assert result.exit_code == 0, result.output
        assert "``" not in result.output, command


# -- status: what an inbox leaves alone -------------------------------------------------------


def test_status_lists_links_fifos_and_folders_left_in_an_inbox(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    inbox = tmp_path / "data" / "inbox" / "uk-dom"
    registry = write_sber_debts(tmp_path / "elsewhere", 1, [debt("1001", "10.00")])
    inbox.mkdir(parents=True)
    (inbox / registry.name).symlink_to(registry)
    os.mkfifo(inbox / "pipe")
    (inbox / "2026-10").mkdir()

    scan = run(["runner", "scan", "--config", str(path)])
    status = run(["runner", "status", "--config", str(path)])
    as_json = run(["runner", "status", "--config", str(path), "--json"])

    assert scan.exit_code == 0, scan.output
    assert f"{UK_DOM} pipe: left alone: FIFO, not a file" in scan.stderr
    assert status.exit_code == 0, status.output
    assert f"left alone in the inbox: {registry.name} (symbolic link" in status.output
    assert "left alone in the inbox: 2026-10 (folder" in status.output
    by_inn = {p["inn"]: p for p in json.loads(as_json.output)["partners"]}
    assert by_inn[UK_DOM]["left_alone"] == [
        {"file": "2026-10", "kind": "folder"},
        {"file": registry.name, "kind": "symbolic link"},
        {"file": "pipe", "kind": "FIFO"},
    ]
    assert (inbox / registry.name).is_symlink() and (inbox / "pipe").exists()


# -- the scan's progress bar ------------------------------------------------------------------


def test_scan_of_a_large_file_draws_a_progress_bar_in_a_terminal(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    inbox = tmp_path / "data" / "inbox" / "uk-dom"
    records = [debt(f"{n:06d}", "100.00") for n in range(20_000)]
    registry = write_sber_debts(inbox, 1, records)
    assert registry.stat().st_size >= PROGRESS_MIN_BYTES

    # stderr on a real pseudo-terminal, as an operator's shell has it.
    master, slave = pty.openpty()
    with subprocess.Popen(
        [str(PES), "runner", "scan", "--config", str(path)],
        env={**os.environ, **ENV},
        stdout=subprocess.PIPE,
        stderr=slave,
        text=True,
    ) as proc:
        os.close(slave)
        seen = b""
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # the terminal closed: the process ended
                    break
                if not chunk:
                    break
                seen += chunk
            elif proc.poll() is not None:
                break
        out = proc.stdout.read() if proc.stdout else ""
        assert proc.wait(TIMEOUT) == 0, (out, seen)
    os.close(master)
    assert f"ingesting {registry.name}".encode() in seen
    assert b"20000/" in seen or b"/20002" in seen, seen[-300:]
    assert "20000 records" in out  # the outcome still on stdout, free of the bar


def test_init_without_the_plugins_the_example_names_writes_the_file_and_says_so(
    tmp_path: Path,
) -> None:
    # Without the CSV formats the example's partners cannot load: the file is still the
    # operator's to edit, and the folders wait for the runner's start.
    host = PluginHost(disabled={"csv"})

    result = CliRunner().invoke(cli, ["runner", "init", str(tmp_path / "pes")], obj=host)

    assert result.exit_code == 0, result.output
    assert (tmp_path / "pes" / "runner.toml").is_file()
    assert not (tmp_path / "pes" / "data").exists()
    assert "folders: not created yet" in result.stderr
    assert "partners[0].format: " in result.stderr
