"""``pes qr encode`` and ``pes qr decode``: strings, images, JSON, and errors without a
traceback (exit 1 for a string that breaks the standard, 2 for bad usage)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from qr_support import zxing_or_skip

from pes_sdk.cli.main import cli
from pes_sdk.plugins import PluginHost

REQUIRED_OPTIONS = [
    "--name",
    "ООО «УК Заречье»",
    "--personal-acc",
    "40702810938000012345",
    "--bank-name",
    "ПАО Сбербанк",
    "--bic",
    "044525225",
    "--corresp-acc",
    "30101810400000000225",
]
STRING = (
    "ST00012|Name=ООО «УК Заречье»|PersonalAcc=40702810938000012345|BankName=ПАО Сбербанк"
    "|BIC=044525225|CorrespAcc=30101810400000000225|PayeeINN=7702123454|Sum=527384"
    "|PersAcc=000123|TechCode=02"
)


PES = Path(sys.executable).parent / "pes"


def run(*args: str, input: bytes | str | None = None) -> Result:
    return CliRunner().invoke(cli, ["qr", *args], obj=PluginHost(disabled=()), input=input)


def _no_traceback(result: Result) -> None:
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_encode_from_options() -> None:
    result = run(
        "encode",
        *REQUIRED_OPTIONS,
        "--payee-inn",
        "7702123454",
        "--sum",
        "5273,84",
        "--pers-acc",
        "000123",
        "--tech-code",
        "02",
    )
    assert result.exit_code == 0, result.output
    assert result.output == STRING + "\n"


def test_encode_from_fields_and_json_later_ones_win(tmp_path: Path) -> None:
    data = tmp_path / "bill.json"
    data.write_text(
        json.dumps({"Name": "Old name", "PayeeINN": "7702123454", "Sum": 527384}),
        encoding="utf-8",
    )
    result = run(
        "encode",
        "--from-json",
        str(data),
        *REQUIRED_OPTIONS,
        "-f",
        "PersAcc=000123",
        "--field",
        "TechCode=02",
    )
    assert result.exit_code == 0, result.output
    assert result.output == STRING + "\n"


def test_decode_json_then_encode_from_it(tmp_path: Path) -> None:
    result = run("decode", "--json", STRING)
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["charset"] == "UTF8"
    assert document["separator"] == "|"
    assert document["sum"] == "5273.84"
    assert document["fields"]["Sum"] == "527384"
    assert document["deviations"] == []
    saved = tmp_path / "decoded.json"
    saved.write_text(result.output, encoding="utf-8")
    again = run("encode", "--from-json", str(saved))
    assert again.output == STRING + "\n"


def test_decode_prints_the_fields() -> None:
    result = run("decode", STRING)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["Name", "ООО", "«УК", "Заречье»"]
    assert "Sum          527384" in lines
    assert "(Sum is 5273.84 roubles)" in lines


def test_encode_in_windows_1251_and_decode_its_bytes_from_standard_input() -> None:
    result = run("encode", *REQUIRED_OPTIONS, "--charset", "cp1251")
    assert result.output.startswith("ST00011|")
    data = result.output.rstrip("\n").encode("cp1251")
    decoded = run("decode", "--file", "-", "--json", input=data)
    assert decoded.exit_code == 0, decoded.output
    assert json.loads(decoded.output)["fields"]["Name"] == "ООО «УК Заречье»"


def test_png_and_svg_then_decode_the_image(tmp_path: Path) -> None:
    zxing_or_skip()
    png, svg = tmp_path / "bill.png", tmp_path / "bill.svg"
    result = run("encode", *REQUIRED_OPTIONS, "--sum", "10", "--png", str(png), "--svg", str(svg))
    assert result.exit_code == 0, result.output
    assert png.read_bytes().startswith(b"\x89PNG")
    assert b"<svg" in svg.read_bytes()
    decoded = run("decode", "--image", str(png), "--json")
    assert decoded.exit_code == 0, decoded.output
    assert json.loads(decoded.output)["fields"]["Sum"] == "1000"


def test_tolerant_decode_lists_what_it_forgave() -> None:
    printed = STRING.replace("ST00012|", "ST0001|").replace("PersAcc=", "persacc=") + "|"
    strict = run("decode", printed)
    assert strict.exit_code == 1
    assert strict.output.startswith("pes: error: ")
    _no_traceback(strict)
    result = run("decode", "--tolerant", printed)
    assert result.exit_code == 0, result.output
    assert "pes: forgiven: no charset digit after ST0001: read as UTF8" in result.output
    assert "pes: forgiven: persacc: the standard spells it PersAcc" in result.output
    as_json = json.loads(run("decode", "--tolerant", "--json", printed).output)
    assert [d["rule"] for d in as_json["deviations"]] == [
        "header",
        "trailing-separator",
        "key-case",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["decode", STRING.replace("7702123454", "7702123455")], "PayeeINN: ИНН 7702123455"),
        (["decode", "ST00012|Name=X"], "PersonalAcc: a required field is missing"),
        (["encode", *REQUIRED_OPTIONS, "--kpp", "12"], "KPP: a КПП is 9 characters"),
        (["encode", *REQUIRED_OPTIONS[:-2]], "CorrespAcc: a required field is missing"),
        (["encode", *REQUIRED_OPTIONS, "--charset", "koi8-r"], "Name: has characters KOI8R"),
        (["encode", *REQUIRED_OPTIONS, "-f", "Colour=red"], "Colour: not a field"),
    ],
)
def test_bad_details_exit_1_naming_the_field(args: list[str], message: str) -> None:
    result = run(*args)
    assert result.exit_code == 1, result.output
    assert message in result.output
    _no_traceback(result)


@pytest.mark.parametrize(
    "args",
    [
        ["decode"],
        ["decode", STRING, "--image", "x.png"],
        ["decode", "--image", "no-such.png"],
        ["decode", "--file", "no-such.txt"],
        ["encode", *REQUIRED_OPTIONS, "--sum", "12.345"],
        ["encode", *REQUIRED_OPTIONS, "--charset", "latin1"],
        ["encode", *REQUIRED_OPTIONS, "-f", "no-equals"],
        ["encode", "--from-json", "no-such.json"],
    ],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    result = run(*args)
    assert result.exit_code == 2, result.output
    _no_traceback(result)


def test_json_that_is_not_fields_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"Name": ["a list"]}', encoding="utf-8")
    result = run("encode", "--from-json", str(bad))
    assert result.exit_code == 2
    assert "a JSON object of fields" in result.output


def test_image_that_is_not_an_image_exits_1(tmp_path: Path) -> None:
    zxing_or_skip()
    fake = tmp_path / "bill.png"
    fake.write_text("not a picture", encoding="utf-8")
    result = run("decode", "--image", str(fake))
    assert result.exit_code == 1
    assert "not an image" in result.output
    _no_traceback(result)


@pytest.mark.parametrize("command", [[], ["encode"], ["decode"]])
def test_help(command: list[str]) -> None:
    result = run(*command, "--help")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Usage: ")


def test_the_installed_command_in_a_real_process() -> None:
    """Through the console script, with pipes: the string in, the fields out, and a bad
    one refused on stderr with exit 1 and no traceback."""
    ok = subprocess.run(
        [str(PES), "qr", "decode", "--json", STRING],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["fields"]["PersAcc"] == "000123"
    bad = subprocess.run(
        [str(PES), "qr", "decode", STRING + "|"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 1
    assert bad.stdout == ""
    assert bad.stderr == "pes: error: the string ends with a separator\n"


def test_messages_in_russian_with_lang_ru() -> None:
    result = run("decode", "--lang", "ru", "--tolerant", STRING.replace("ST00012", "ST0001"))
    assert result.exit_code == 0, result.output
    assert "pes: прощено: после ST0001 нет признака кодировки: прочитано как UTF8" in result.output
    bad = run("decode", "--lang", "ru", STRING + "|")
    assert bad.exit_code == 1
    assert "pes: error: строка заканчивается разделителем" in bad.output
