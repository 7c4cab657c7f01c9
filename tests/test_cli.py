"""The ``pes`` command line: in process with CliRunner, and as the installed console script.

Registries here are in the example plugin's ``example-jsonl-debts`` format, so the tests do
not depend on the CSV adapter; the demo test and the encoding tests (a cp1251 dialect is
what they are about) need the adapter and say so when they skip.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pes_sdk.cli.main import cli
from pes_sdk.plugins import PluginHost, hookimpl

PES = Path(sys.executable).parent / "pes"
JSONL = "example-jsonl-debts"
HOUSE = "0c9a8b7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d"
PREMISES = ("12а", "12/1", "кв. 7", "12-1")
BAD_ROW: dict[str, object] = {
    "account": "99",
    "house_id": "not-a-guid",
    "premises": "1",
    "amount": "10.00",
}


def registry(path: Path, n: int = 5, bad: list[dict[str, object]] | None = None) -> Path:
    """Write a JSON Lines debt registry of ``n`` good rows and the ``bad`` ones."""
    rows: list[dict[str, object]] = [
        {
            "account": f"{i:06d}",
            "house_id": HOUSE,
            "premises": PREMISES[i % len(PREMISES)],
            "amount": "-350.00" if i == 1 else f"{100 + i}.25",
            "service": "Электроэнергия",
        }
        for i in range(n)
    ]
    rows += bad or []
    total = sum((Decimal(str(r["amount"])) for r in rows), Decimal("0.00"))
    lines = [{"partner_inn": "5001007329", "period": "2026-11", "number": 3}, *rows]
    lines.append({"count": len(rows), "amount": str(total)})
    path.write_text(
        "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8"
    )
    return path


def run(args: list[str], host: PluginHost | None = None) -> Result:
    return CliRunner().invoke(cli, args, obj=host or PluginHost(disabled=()))


def run_pes(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The installed console script, in a real process (stdout and stderr are pipes)."""
    full_env = dict(os.environ)
    full_env.pop("PES_DISABLE_PLUGINS", None)  # the caller's shell must not change the result
    full_env.update(env or {})
    return subprocess.run(
        [str(PES), *args], capture_output=True, text=True, env=full_env, timeout=60, check=False
    )


# -- help ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command", [[], ["formats"], ["plugins"], ["validate"], ["convert"], ["demo"]]
)
def test_help_everywhere(command: list[str]) -> None:
    result = run([*command, "--help"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Usage: ")


def test_usage_error_exits_2(tmp_path: Path) -> None:
    src = registry(tmp_path / "d.jsonl")
    result = run(["validate", str(src)])  # --format missing
    assert result.exit_code == 2
    assert "--format" in result.output
    assert run(["validate", str(src), "-f", JSONL, "--policy", "lenient"]).exit_code == 2


# -- formats and plugins ----------------------------------------------------------------


def test_formats_lists_the_example_plugin() -> None:
    result = run(["formats"])
    assert result.exit_code == 0, result.output
    line = next(ln for ln in result.stdout.splitlines() if ln.startswith(JSONL))
    assert line.split()[:4] == [JSONL, "debts", "read/write", "example-jsonl"]
    assert "JSON Lines" in line


def test_formats_json() -> None:
    result = run(["formats", "--json"])
    rows = json.loads(result.stdout)
    row = next(r for r in rows if r["name"] == JSONL)
    assert row == {
        "name": JSONL,
        "kind": "debts",
        "mode": "read/write",
        "plugin": "example-jsonl",
        "description": row["description"],
    }


class _MisnamedHook:
    @hookimpl
    def pes_registry_format(self) -> list[object]:  # a typo: the hook is ..._formats
        return []


class _RaisingHook:
    @hookimpl
    def pes_registry_formats(self) -> list[object]:
        raise RuntimeError("database is down")


def test_plugins_shows_loaded_and_broken() -> None:
    host = PluginHost(disabled=())
    host.register(_MisnamedHook(), name="typo-plugin", distribution=("typo-dist", "1.0"))
    host.register(_RaisingHook(), name="raising-plugin", distribution=("raise-dist", "2.0"))
    result = run(["plugins"], host)
    assert result.exit_code == 0, result.output
    out = result.stdout
    loaded, broken = out.split("Broken plugins")
    ex = next(ln for ln in loaded.splitlines() if "example-jsonl" in ln)
    assert ex.split()[:4] == ["example-jsonl", "pes-example-jsonl", "0.1.0", "pes_registry_formats"]
    assert "pes-sdk" in loaded and "pes_fee_plans" in loaded
    assert "typo-plugin [typo-dist]:" in broken and "pes_registry_format" in broken
    assert "raising-plugin [raise-dist]: hook pes_registry_formats raised RuntimeError" in broken
    # The broken plugins did not take the working formats down with them.
    assert JSONL in run(["formats"], host).stdout


def test_plugins_shows_disabled() -> None:
    result = run(["plugins"], PluginHost(disabled={"example-jsonl"}))
    assert "Disabled by PES_DISABLE_PLUGINS: example-jsonl" in result.stdout
    assert JSONL not in run(["formats"], PluginHost(disabled={"example-jsonl"})).stdout


def test_disabling_a_name_no_plugin_has_is_said_so() -> None:
    # "PES_DISABLE_PLUGINS=csvv" (a typo) was listed as "Disabled", and csv stayed loaded.
    host = PluginHost(disabled={"example-jsonl", "csvv"})
    assert host.unknown_disabled == {"csvv"}
    result = run(["plugins"], host)
    assert "Disabled by PES_DISABLE_PLUGINS: example-jsonl\n" in result.stdout
    assert "PES_DISABLE_PLUGINS names no installed plugin: csvv" in result.stdout
    warned = run(["formats"], PluginHost(disabled={"csvv"})).stderr
    assert "pes: warning: PES_DISABLE_PLUGINS names 'csvv', which no installed plugin has" in warned


# -- validate ------------------------------------------------------------------------------


def test_validate_valid(tmp_path: Path) -> None:
    src = registry(tmp_path / "d.jsonl", 5)
    result = run(["validate", str(src), "--format", JSONL])
    assert result.exit_code == 0, result.output
    assert "valid" in result.stdout and "NOT" not in result.stdout
    assert "5 good, 0 rejected" in result.stdout
    assert "total:    60.00" in result.stdout  # 100.25 - 350.00 + 102.25 + 103.25 + 104.25
    assert result.stderr == ""


def test_validate_invalid_lists_errors_by_line_and_field(tmp_path: Path) -> None:
    src = registry(tmp_path / "d.jsonl", 3, [BAD_ROW])
    lines = src.read_text(encoding="utf-8").splitlines()
    lines[-1] = json.dumps({"count": 4, "amount": "1.00"})
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run(["validate", str(src), "--format", JSONL])
    assert result.exit_code == 1
    assert "NOT VALID" in result.stdout
    assert "  line 5: house_id: not a GUID: 'not-a-guid'" in result.stdout.splitlines()
    assert any(ln.startswith("  file: control: ") for ln in result.stdout.splitlines())
    assert "Traceback" not in result.output


def test_validate_json_shape(tmp_path: Path) -> None:
    src = registry(tmp_path / "d.jsonl", 3, [BAD_ROW])
    result = run(["validate", str(src), "--format", JSONL, "--json"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)  # exactly one object: nothing else on stdout
    assert data == {
        "valid": False,
        "kind": "debts",
        "records": 3,
        "total": "-147.50",
        "errors": [{"line": 5, "field": "house_id", "message": "not a GUID: 'not-a-guid'"}],
    }


def test_validate_quarantine_says_where_rejects_went(tmp_path: Path) -> None:
    src = registry(tmp_path / "d.jsonl", 3, [BAD_ROW])
    rejects = tmp_path / "bad-rows.csv"
    result = run(
        ["validate", str(src), "-f", JSONL, "--policy", "quarantine", "--rejects", str(rejects)]
    )
    assert result.exit_code == 1  # rows were rejected: the file is not valid
    assert "3 good, 1 rejected" in result.stdout
    assert f"rejects:  {rejects}" in result.stdout
    assert "not-a-guid" in rejects.read_text(encoding="utf-8-sig")


def test_validate_unreadable_or_unknown_exits_2(tmp_path: Path) -> None:
    missing = run(["validate", str(tmp_path / "nope.jsonl"), "--format", JSONL])
    assert missing.exit_code == 2
    assert "no such file" in missing.stderr and "Traceback" not in missing.output
    src = registry(tmp_path / "d.jsonl")
    unknown = run(["validate", str(src), "--format", "no-such-format", "--json"])
    assert unknown.exit_code == 2
    assert "no format named 'no-such-format'" in unknown.stderr
    assert unknown.stdout == ""


def csv_host() -> PluginHost:
    """A host with the CSV adapter's formats (sber-debts: cp1251), or the test skips."""
    host = PluginHost(disabled=())
    if "sber-debts" not in host.formats():
        pytest.skip("format sber-debts not installed (CSV adapter pes-sdk-csv)")
    return host


#: A sber-debts registry (cp1251) as text: the lines of issue 11's mis-encoded file.
SBER_TEXT = (
    f"0100149;{HOUSE};12а;1047,86;112026;Содержание жилья\r\n"
    f"0100149;{HOUSE};12а;1371,79;112026;Взнос на капремонт\r\n"
    f"0100150;{HOUSE};кв. 7;-150,40;112026;Электроснабжение\r\n"
    "=3;2269,25\r\n"
)
SBER_NAME = "7707083893_40702810938000000001_001_1126.txt"


@pytest.mark.parametrize(("encoding", "named"), [("utf-8", "UTF-8"), ("cp866", "cp866")])
def test_validate_refuses_a_registry_in_another_encoding(
    tmp_path: Path, encoding: str, named: str
) -> None:
    # Issue 11: UTF-8 without a BOM, or cp866, passed as valid cp1251 and converted to
    # mojibake ("12Р°"). Refused whole, naming the likely encoding and the line.
    host = csv_host()
    src = tmp_path / SBER_NAME
    src.write_bytes(SBER_TEXT.encode(encoding))
    result = run(["validate", str(src), "--format", "sber-debts"], host)
    assert result.exit_code == 1, result.output
    assert "NOT VALID" in result.stdout
    refused = next(ln for ln in result.stdout.splitlines() if "refused:" in ln)
    assert f"the text is not cp1251: it is most likely {named}" in refused
    assert f"line 1 reads '12а' in {named}" in refused
    assert "  line 1: encoding: the text is not cp1251" in result.stdout
    src.write_bytes(SBER_TEXT.encode("cp1251"))  # the same registry, as declared
    assert run(["validate", str(src), "--format", "sber-debts"], host).exit_code == 0


def test_convert_refuses_a_registry_in_another_encoding_and_writes_nothing(
    tmp_path: Path,
) -> None:
    host = csv_host()
    src = tmp_path / SBER_NAME
    src.write_bytes(SBER_TEXT.encode("utf-8"))
    out = tmp_path / "out"
    out.mkdir()
    args = ["convert", str(src), str(out), "--from", "sber-debts", "--to", "pes-debts"]
    result = run(args, host)
    assert result.exit_code == 1, result.output
    assert "it is most likely UTF-8" in result.stderr and "Traceback" not in result.output
    assert list(out.iterdir()) == []  # no mojibake written, no temporary file


@pytest.mark.parametrize("fmt", ["sber-debts", JSONL])
def test_validate_refuses_an_empty_file_in_any_format(tmp_path: Path, fmt: str) -> None:
    # One rule with the runner's inbox: a 0-byte file is never a registry. sber-debts (no
    # header, optional footer) used to pass it as a valid registry of 0 records.
    host = csv_host() if fmt == "sber-debts" else PluginHost(disabled=())
    src = tmp_path / SBER_NAME
    src.write_bytes(b"")
    result = run(["validate", str(src), "--format", fmt, "--json"], host)
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert data["valid"] is False
    assert data["errors"] == [{"line": 0, "field": "", "message": "the file is empty"}]
    converted = run(["convert", str(src), str(tmp_path / "o.csv"), "--from", fmt, "--to", fmt])
    assert converted.exit_code == 1 and "the file is empty" in converted.stderr
    assert not (tmp_path / "o.csv").exists()


# -- convert ---------------------------------------------------------------------------------


def test_convert_prints_counts_and_total(tmp_path: Path) -> None:
    src = registry(tmp_path / "in.jsonl", 4)
    dst = tmp_path / "out.jsonl"
    result = run(["convert", str(src), str(dst), "--from", JSONL, "--to", JSONL])
    assert result.exit_code == 0, result.output
    assert "written:  4 records, total -44.25" in result.stdout
    wanted = [json.loads(x) for x in src.read_text(encoding="utf-8").splitlines()]
    got = [json.loads(x) for x in dst.read_text(encoding="utf-8").splitlines()]
    assert got[0] == wanted[0] and got[-1] == wanted[-1]
    assert [{k: g[k] for k in w} for g, w in zip(got[1:-1], wanted[1:-1], strict=True)] == wanted[
        1:-1
    ]


def test_convert_strict_refusal_leaves_no_output(tmp_path: Path) -> None:
    src = registry(tmp_path / "in.jsonl", 40, [BAD_ROW])
    out = tmp_path / "out"
    out.mkdir()
    result = run(["convert", str(src), str(out / "x.jsonl"), "--from", JSONL, "--to", JSONL])
    assert result.exit_code == 1
    assert "strict" in result.stderr and "line 42: house_id" in result.stderr
    assert "Traceback" not in result.output
    assert list(out.iterdir()) == []  # neither OUT nor a temporary file


def test_convert_quarantine(tmp_path: Path) -> None:
    src = registry(tmp_path / "in.jsonl", 4, [BAD_ROW])
    dst = tmp_path / "out.jsonl"
    args = ["convert", str(src), str(dst), "--from", JSONL, "--to", JSONL]
    result = run([*args, "--policy", "quarantine"])
    assert result.exit_code == 0, result.output
    assert "4 good, 1 rejected" in result.stdout
    assert "in.jsonl.rejects.csv" in result.stdout
    assert (tmp_path / "in.jsonl.rejects.csv").is_file()
    assert len(dst.read_text(encoding="utf-8").splitlines()) == 6  # header, 4 rows, footer


def test_convert_unknown_format_exits_2(tmp_path: Path) -> None:
    src = registry(tmp_path / "in.jsonl")
    result = run(["convert", str(src), str(tmp_path / "o"), "--from", JSONL, "--to", "nope"])
    assert result.exit_code == 2
    assert "no format named 'nope'" in result.stderr


# -- demo ----------------------------------------------------------------------------------


def test_demo_without_csv_formats_says_so() -> None:
    result = run(["demo"], PluginHost(disabled={"csv"}))
    assert result.exit_code == 1
    assert "pes-debts, sber-debts are not installed" in result.stderr


def test_demo_runs(tmp_path: Path) -> None:
    host = PluginHost(disabled=())
    missing = [n for n in ("pes-debts", "sber-debts") if n not in host.formats()]
    if missing:
        pytest.skip(f"format(s) {', '.join(missing)} not installed (CSV adapter pes-sdk-csv)")
    out = tmp_path / "demo"
    result = run(["demo", "--out", str(out)], host)
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "5001007329_40702810380000000002_001_1126.txt" in text
    assert "36 of 36 records identical" in text
    assert "transfer + commission + VAT = paid, line fees sum to the fee: True" in text
    assert "quarantine: 35 good record(s) kept, 1 rejected" in text
    assert (out / "5001007329_40702810380000000002_001_1126.txt").is_file()
    # Fixed data: a second run prints the same walk-through. Step 8, the runner's day, is
    # tested in runner/tests/test_demo.py: its dates follow the clock.
    again = run(["demo", "--out", str(tmp_path / "demo2")], PluginHost(disabled=()))
    walk = text.split("\n8. ")[0]
    assert again.stdout.replace("demo2", "demo").split("\n8. ")[0] == walk
    runner_installed = "runner" in host.cli_commands()
    if runner_installed:
        assert "every payment on the right account, none lost: yes" in text
        assert (out / "runner-day" / "pes.db").is_file()
    else:
        assert "the reference runner (pes-sdk-runner) is not installed" in text


# -- the installed console script, in real processes ------------------------------------------


def test_installed_pes_exit_codes_and_json(tmp_path: Path) -> None:
    assert PES.is_file(), f"console script not installed at {PES}"
    good = registry(tmp_path / "good.jsonl", 3)
    bad = registry(tmp_path / "bad.jsonl", 3, [BAD_ROW])

    ok = run_pes("validate", str(good), "--format", JSONL, "--json")
    assert ok.returncode == 0, ok.stderr
    data = json.loads(ok.stdout)
    assert set(data) == {"valid", "kind", "records", "total", "errors"}
    assert (data["valid"], data["kind"], data["records"], data["total"], data["errors"]) == (
        True,
        "debts",
        3,
        "-147.50",
        [],
    )

    invalid = run_pes("validate", str(bad), "--format", JSONL, "--json")
    assert invalid.returncode == 1
    assert json.loads(invalid.stdout)["errors"][0]["field"] == "house_id"

    assert run_pes("validate", str(good)).returncode == 2  # usage: no --format
    unreadable = run_pes("validate", str(tmp_path / "missing.jsonl"), "--format", JSONL)
    assert unreadable.returncode == 2
    assert "Traceback" not in unreadable.stderr

    refused = run_pes(
        "convert", str(bad), str(tmp_path / "o.jsonl"), "--from", JSONL, "--to", JSONL
    )
    assert refused.returncode == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jsonl", "good.jsonl"]
    # No terminal: no progress bar and nothing else on stderr for a valid file.
    assert ok.stderr == ""


def test_installed_pes_reports_a_broken_and_a_disabled_plugin(tmp_path: Path) -> None:
    # A distribution of its own on the path, whose plugin module fails to import.
    site = tmp_path / "site"
    dist = site / "pes_broken_example-0.3.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: pes-broken-example\nVersion: 0.3\n", encoding="utf-8"
    )
    (dist / "entry_points.txt").write_text(
        "[pes_sdk]\nbroken-example = pes_broken_example_plugin\n", encoding="utf-8"
    )
    (site / "pes_broken_example_plugin.py").write_text(
        "raise ImportError('needs libfoo 2')\n", encoding="utf-8"
    )
    env = {"PYTHONPATH": str(site), "PES_DISABLE_PLUGINS": "example-jsonl"}
    result = run_pes("plugins", env=env)
    assert result.returncode == 0, result.stderr
    assert "broken-example [pes-broken-example]: ImportError: needs libfoo 2" in result.stdout
    assert "Disabled by PES_DISABLE_PLUGINS: example-jsonl" in result.stdout
    formats = run_pes("formats", env=env)
    assert formats.returncode == 0
    assert JSONL not in formats.stdout
    assert "plugin problem" in formats.stderr


def test_installed_pes_draws_a_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    pty = pytest.importorskip("pty")
    big = registry(tmp_path / "big.jsonl", 8000)
    assert big.stat().st_size > 1 << 20
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            [str(PES), "validate", str(big), "--format", JSONL],
            stdout=subprocess.PIPE,
            stderr=follower,
            text=True,
            timeout=60,
            check=False,
        )
        os.close(follower)
        follower = -1
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        if follower != -1:
            os.close(follower)
        os.close(leader)
    assert proc.returncode == 0, proc.stdout
    assert "validating big.jsonl" in b"".join(chunks).decode("utf-8", "replace")
    assert "8000 good" in proc.stdout

    quiet = run_pes("validate", str(big), "--format", JSONL)
    assert quiet.returncode == 0 and quiet.stderr == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-27", "2026-11-27"),
        ("27.11.2026", "2026-11-27"),
        ("5.1.2026", "2026-01-05"),  # pes settle always took unpadded days and months
        ("31.02.2026", "31.02.2026 is not a date: February 2026 has 28 days"),
        ("2026-13-01", "2026-13-01 is not a date: month 13"),
        ("27/11/2026", "27/11/2026 is not a date: write it as YYYY-MM-DD or DD.MM.YYYY"),
    ],
)
def test_dates_on_the_command_line_are_refused_in_plain_words(text: str, expected: str) -> None:
    import click

    from pes_sdk.cli.common import DATE

    try:
        got = DATE.convert(text, None, None).isoformat()
    except click.BadParameter as exc:
        got = exc.message
    assert got.startswith(expected)
