"""``pes qr``: payment QR codes of ГОСТ Р 56042-2014 (:mod:`pes_sdk.qr`).

``pes qr encode`` builds the payment string from options, ``--field KEY=VALUE`` pairs or a
JSON file, prints it and draws it as PNG or SVG; ``pes qr decode`` reads a string, a file
of its bytes or (with the ``qr-image`` extra) a photo of the code, and prints its fields.
A string that breaks the standard exits 1 with the field and the rule; bad options exit 2.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from pes_sdk.cli.common import EXIT_INVALID, EXIT_USAGE, LANG_OPTION, fail
from pes_sdk.errors import ConfigError
from pes_sdk.i18n import tr, translate
from pes_sdk.money import parse_amount, to_kopecks
from pes_sdk.qr import (
    Charset,
    Decoded,
    QrFormatError,
    decode,
    encode,
    from_fields,
    read_image,
    save_png,
    save_svg,
    to_fields,
)

__all__ = ["qr"]

# The options for the fields a housing bill carries; any other field goes in --field.
_FIELD_OPTIONS = (
    ("name", "Name", "the payee (Наименование получателя), up to 160 characters"),
    ("personal_acc", "PersonalAcc", "the payee's settlement account (р/с), 20 digits"),
    ("bank_name", "BankName", "the payee's bank, up to 45 characters"),
    ("bic", "BIC", "the bank's БИК, 9 digits"),
    ("corresp_acc", "CorrespAcc", "the bank's correspondent account (к/с), or 0"),
    ("purpose", "Purpose", "what the payment is for (назначение), up to 210 characters"),
    ("payee_inn", "PayeeINN", "the payee's ИНН"),
    ("kpp", "KPP", "the payee's КПП"),
    ("pers_acc", "PersAcc", "the payer's personal account at the payee (лицевой счёт)"),
    ("payer_address", "PayerAddress", "the payer's address"),
    ("paym_period", "PaymPeriod", "the period paid for"),
    ("tech_code", "TechCode", "the kind of payee, 01-15 (02: housing and utilities)"),
)


class _CharsetType(click.ParamType):  # type: ignore[type-arg]
    name = "charset"

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str:
        return "1|2|3|WIN1251|UTF8|KOI8R"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> Charset:
        if isinstance(value, Charset):
            return value
        try:
            return Charset.parse(str(value))
        except ValueError as exc:
            self.fail(translate(str(exc)), param, ctx)


def _field_options(command: Any) -> Any:
    for attr, key, help_text in reversed(_FIELD_OPTIONS):
        flag = "--" + attr.replace("_", "-")
        command = click.option(flag, attr, default=None, help=f"{key}: {help_text}.")(command)
    return command


def _read_json_fields(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        fail(
            tr("{path}: not a JSON file that can be read: {error}", path=path, error=exc),
            EXIT_USAGE,
        )
    if isinstance(data, dict) and isinstance(data.get("fields"), dict):
        data = data["fields"]  # what `pes qr decode --json` prints
    if not isinstance(data, dict) or not all(
        isinstance(v, str | int) and not isinstance(v, bool) for v in data.values()
    ):
        fail(
            tr(
                "{path}: a JSON object of fields, each a string (Sum in kopecks)",
                path=path,
            ),
            EXIT_USAGE,
        )
    return {str(k): str(v) for k, v in data.items()}


def _pairs(fields: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in fields:
        key, eq, value = item.partition("=")
        if not eq or not key:
            fail(tr("--field takes KEY=VALUE, not {item!r}", item=item), EXIT_USAGE)
        out[key] = value
    return out


@click.group("qr")
def qr() -> None:
    """Payment QR codes of ГОСТ Р 56042-2014 (the code on a bill, квитанция).

    \b
    Exit codes:
      0  done
      1  the details or the string break the standard (the field and the rule are named)
      2  usage error: bad options, an unreadable file, the qr-image extra missing
    """


@qr.command("encode")
@_field_options
@click.option("--sum", "sum_", default=None, help="Sum: the amount in roubles (1272.26).")
@click.option(
    "--field",
    "-f",
    "fields",
    multiple=True,
    metavar="KEY=VALUE",
    help="Any field as the string writes it (Sum=127226, QuittDate=31.01.2026); repeatable.",
)
@click.option(
    "--from-json",
    "json_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Fields from a JSON object (or from the output of `pes qr decode --json`).",
)
@click.option(
    "--charset",
    type=_CharsetType(),
    default="UTF8",
    show_default=True,
    help="The charset the string is written in.",
)
@click.option("--separator", default=None, help="The separator (default: | unless a value has it).")
@click.option(
    "--png", type=click.Path(dir_okay=False, path_type=Path), help="Draw the code as PNG."
)
@click.option(
    "--svg", type=click.Path(dir_okay=False, path_type=Path), help="Draw the code as SVG."
)
@click.option(
    "--scale", type=click.IntRange(1, 100), default=4, show_default=True, help="Pixels a module."
)
@LANG_OPTION
def encode_command(
    sum_: str | None,
    fields: tuple[str, ...],
    json_file: Path | None,
    charset: Charset,
    separator: str | None,
    png: Path | None,
    svg: Path | None,
    scale: int,
    **named: str | None,
) -> None:
    """Build a payment string from fields; print it, and draw it with --png or --svg.

    Fields come from --from-json, then --field, then the named options, a later one
    replacing an earlier one.
    """
    given: dict[str, str] = _read_json_fields(json_file) if json_file is not None else {}
    given.update(_pairs(fields))
    for attr, key, _ in _FIELD_OPTIONS:
        if named.get(attr) is not None:
            given[key] = str(named[attr])
    if sum_ is not None:
        try:
            given["Sum"] = str(to_kopecks(parse_amount(sum_.strip())))
        except ValueError as exc:
            fail(tr("--sum: {error}", error=exc), EXIT_USAGE)
    try:
        details = from_fields(given)
        text = encode(details, charset=charset, separator=separator)
        _draw(text.encode(charset.codec), png, svg, scale)
    except QrFormatError as exc:
        fail(str(exc), EXIT_INVALID)
    click.echo(text)


def _draw(data: bytes, png: Path | None, svg: Path | None, scale: int) -> None:
    # The string's own bytes, so that the drawing holds the separator it was given.
    for path, save in ((png, save_png), (svg, save_svg)):
        if path is None:
            continue
        try:
            save(data, path, scale=scale)
        except OSError as exc:
            fail(tr("{path}: cannot write: {error}", path=path, error=exc.strerror), EXIT_USAGE)


@qr.command("decode")
@click.argument("text", required=False)
@click.option(
    "--file",
    "raw_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the string's bytes from a file ('-' for standard input).",
)
@click.option(
    "--image",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the code from an image (PNG, JPEG; needs the qr-image extra).",
)
@click.option("--tolerant", is_flag=True, help="Forgive what real bills print, and list it.")
@click.option("--json", "as_json", is_flag=True, help="Print the fields as JSON.")
@LANG_OPTION
def decode_command(
    text: str | None, raw_file: Path | None, image: Path | None, tolerant: bool, as_json: bool
) -> None:
    """Read a payment string (TEXT, --file or --image) and print its fields."""
    if sum(x is not None for x in (text, raw_file, image)) != 1:
        fail(tr("give one of TEXT, --file or --image"), EXIT_USAGE)
    try:
        if image is not None:
            if not image.is_file():
                fail(tr("{path}: no such file", path=image), EXIT_USAGE)
            decoded = read_image(image, tolerant=tolerant)
        elif raw_file is not None:
            decoded = decode(_read_bytes(raw_file), tolerant=tolerant)
        else:
            assert text is not None
            decoded = decode(text, tolerant=tolerant)
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE)
    except QrFormatError as exc:
        fail(str(exc), EXIT_INVALID)
    _show(decoded, as_json)


def _read_bytes(path: Path) -> bytes:
    if str(path) == "-":
        return sys.stdin.buffer.read()
    try:
        return path.read_bytes()
    except OSError as exc:
        fail(tr("{path}: cannot read: {error}", path=path, error=exc.strerror), EXIT_USAGE)


def _show(decoded: Decoded, as_json: bool) -> None:
    fields = to_fields(decoded.details)
    amount = decoded.details.sum
    if as_json:
        document = {
            "charset": decoded.charset.name,
            "separator": decoded.separator,
            "fields": fields,
            "sum": None if amount is None else str(amount),
            "deviations": [
                {"field": d.field, "rule": d.rule.value, "message": translate(d.message)}
                for d in decoded.deviations
            ],
        }
        click.echo(json.dumps(document, ensure_ascii=False, indent=2))
        return
    width = max(len(key) for key in fields)
    for key, value in fields.items():
        click.echo(f"{key.ljust(width)}  {value}")
    if amount is not None:
        click.echo(translate(tr("(Sum is {amount} roubles)", amount=amount)))
    for deviation in decoded.deviations:
        click.echo(translate(tr("pes: forgiven: {deviation}", deviation=str(deviation))), err=True)
