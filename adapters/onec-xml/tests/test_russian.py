"""Every message a bad 1C registry XML gives a person is said in Russian (issue 13).

Each bad input (the conformance suite's malformed corpus, the hand-made bad files of
test_bad_input.py and test_hostile.py, the records the writer refuses) is read under
``using_language("ru")``; every message shown (the refusal, each issue, the rejects file)
must come from a catalog with a Russian translation. A message left as an f-string, or one
without its translation, fails here.
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from click.testing import CliRunner
from pes_sdk_1c_xml import OneCXmlDebts, OneCXmlPayments, OneCXmlReadings
from pes_sdk_conformance.corpus import MalformedSample

from pes_sdk.cli.main import cli
from pes_sdk.errors import FormatError, PesError, RegistryRefused
from pes_sdk.formats.base import Policy, RegistryFormat
from pes_sdk.i18n import collect_untranslated, translate, using_language
from pes_sdk.models import DebtRecord, PaymentRecord, RegistryHeader, RegistryKind
from pes_sdk.period import Period
from pes_sdk.plugins import PluginHost

HERE = Path(__file__).parent
NS = "urn:pes-sdk:registry:1"
HOUSE = "6961b2bd-e4ab-3ef2-30b1-877a121939cd"
CYRILLIC = re.compile("[а-яА-ЯёЁ]")


def _sibling(name: str) -> ModuleType:
    # The tests run in importlib mode: a sibling test module is loaded by its path.
    spec = importlib.util.spec_from_file_location(f"_onec_xml_{name}", HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BAD = _sibling("test_bad_input")
CONFORMANCE = _sibling("test_conformance")


def shown(exc: PesError) -> list[str]:
    """What a person reads of a refusal: the error, and each of its issues."""
    out = [str(exc)]
    if isinstance(exc, RegistryRefused):
        out += [translate(i.message) for i in exc.issues]
    return out


def read_all(fmt: RegistryFormat, path: Path) -> list[str]:
    """Read ``path`` under quarantine, then strict: every message either read shows."""
    texts: list[str] = []
    rejects = path.with_name(path.name + ".rejects.csv")
    for policy in (Policy.QUARANTINE, Policy.STRICT):
        try:
            with fmt.open(path, policy=policy, rejects_path=rejects) as reader:
                list(reader)
            texts += [translate(i.message) for i in reader.report.issues]
            if reader.report.refused:
                texts.append(translate(reader.report.refused))
        except PesError as exc:
            texts += shown(exc)
        if rejects.exists():
            with rejects.open(encoding="utf-8-sig", newline="") as f:
                rows = list(csv.reader(f, delimiter=";"))
            texts += [row[0] for row in rows[:1]] + [row[2] for row in rows[1:]]
            rejects.unlink()
    return texts


def payments(tmp_path: Path, name: str, lines: list[str], totals: str | None = None) -> Path:
    folder = tmp_path / name
    folder.mkdir(parents=True)
    return BAD.payments_file(folder, lines, totals)  # type: ignore[no-any-return]


def write_text(tmp_path: Path, name: str, text: str | bytes) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / f"{name}.xml"
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return path


def bad_files(tmp_path: Path) -> Iterator[tuple[str, RegistryFormat, Path]]:
    """The hand-made bad files of this adapter's tests, each with the format that reads it."""
    pay = BAD.pay
    fmt = OneCXmlPayments()
    for i, (line, _, _) in enumerate(BAD.BAD_RECORDS):
        yield f"record {i}", fmt, payments(tmp_path, f"rec{i}", [pay(), line, pay()])
    totals = [
        "",
        '<Totals count="x" amount="0.00" transfer="0.00" fee="0.00"/>',
        '<Totals count="1" amount="10" transfer="9.86" fee="0.14"/>',
        '<Totals count="1" amount="10.00" transfer="9.86" fee="0.14" x="1"/>',
        '<Totals count="1" amount="10.00" transfer="9.86" fee="0.14"><x/></Totals>',
        '<Totals count="2" amount="10.00" transfer="9.86" fee="0.14"/>',
        '<Totals count="1" amount="11.00" transfer="9.86" fee="0.14"/>',
    ]
    for i, t in enumerate(totals):
        yield f"totals {i}", fmt, payments(tmp_path, f"tot{i}", [pay()], t)
    t2 = '<Totals count="2" amount="20.00" transfer="19.72" fee="0.28"/>'
    yield "record after Totals", fmt, payments(tmp_path, "after", [pay(), t2, pay()], "")
    yield "foreign element", fmt, payments(tmp_path, "foreign", [pay(), "<Debt/>", pay()])
    many = [pay()] * 300 + ["<x:Junk xmlns:x='urn:junk'/>"] + [pay()] * 300
    yield "foreign among many", fmt, payments(tmp_path, "many", many)
    nested = pay().replace("/>", f">{pay()}</Payment>")
    yield "nested record", fmt, payments(tmp_path, "nested", [nested])
    children = [
        pay().replace("/>", "><Other/></Payment>"),
        pay().replace("/>", '><Tag key="a:b">x</Tag></Payment>'),
        pay().replace("/>", f'><Tag key="K">{"x" * 1001}</Tag></Payment>'),
    ]
    yield "children", fmt, payments(tmp_path, "children", children)
    yield "long text", fmt, payments(tmp_path, "long", [pay(operationId="x" * 2000)])
    junk = [pay()] * 5 + ["<Junk>"] + [pay()] * 600 + ["</Junk>"]
    yield "records in a foreign element", fmt, payments(tmp_path, "junk", junk)
    roots = [
        f'<DebtRegistry xmlns="{NS}" partnerInn="7707083893" number="1" period="2026-11">',
        '<PaymentRegistry xmlns="urn:pes-sdk:registry:2" partnerInn="7707083893" number="1" '
        'date="2026-11-27">',
        '<PaymentRegistry partnerInn="7707083893" number="1" date="2026-11-27">',
        f'<PaymentRegistry xmlns="{NS}" partnerInn="7707083894" number="1" date="2026-11-27">',
        f'<PaymentRegistry xmlns="{NS}" partnerInn="7707083893" number="0" date="2026-11-27">',
        f'<PaymentRegistry xmlns="{NS}" partnerInn="7707083893" number="1">',
        f'<PaymentRegistry xmlns="{NS}" partnerInn="7707083893" number="1" date="2026-11-27" '
        'x="1">',
        f'<PaymentRegistry xmlns="{NS}" partnerInn="7707083893" number="1" date="27.11.2026" '
        'partnerAccount="1" createdAt="now">',
        f'<PaymentRegistry xmlns="{NS}" partnerInn="7707083893" number="1" date="2026-11-27" '
        'partnerAccount="1">',
        f'<PaymentRegistry xmlns="{NS}" partnerInn="7707083893" number="1" date="2026-11-27" '
        'createdAt="now">',
        f'<PaymentRegistry xmlns="{NS}" partnerInn="7707083893" number="1" date="27.11.2026">',
    ]
    for i, root in enumerate(roots):
        text = f"{root}\n</{root.split()[0][1:]}>"
        yield f"root {i}", fmt, write_text(tmp_path, f"root{i}", text)
    cp1251 = '<?xml version="1.0" encoding="windows-1251"?>\n<a/>'.encode("cp1251")
    yield "windows-1251", fmt, write_text(tmp_path, "cp1251", cp1251)
    yield "missing file", fmt, tmp_path / "nope.xml"
    whole = payments(tmp_path, "cut", [pay(), pay()]).read_bytes()
    yield "cut short", fmt, write_text(tmp_path, "cut", whole[: len(whole) - 40])
    yield "DOCTYPE", fmt, write_text(tmp_path, "doctype", '<!DOCTYPE r [<!ENTITY a "b">]>\n<r/>')
    yield "empty", fmt, write_text(tmp_path, "empty", "")
    yield "no root", fmt, write_text(tmp_path, "noroot", '<?xml version="1.0"?>\n<!-- x -->\n')
    yield "undefined entity", fmt, write_text(tmp_path, "entity", "<r>&x;</r>")
    debts = "".join(
        f'<Debt account="1" houseId="{HOUSE}" amount="1.00" service="ХВС"/>\n' for _ in range(2)
    )
    yield (
        "duplicate debt",
        OneCXmlDebts(),
        write_text(
            tmp_path,
            "dupes",
            f'<DebtRegistry xmlns="{NS}" partnerInn="7707083893" number="1" period="2026-11">\n'
            f'{debts}<Totals count="2" amount="2.00"/>\n</DebtRegistry>\n',
        ),
    )
    readings = [
        '<Reading account="1" meterNumber="M" meterType="14" takenOn="2026-11-01" t1="1"/>',
        '<Reading account="1" meterNumber="M" meterType="2" takenOn="2026-11-01" t1="-1"/>',
        '<Reading account="1" meterNumber="M" meterType="2" takenOn="2026-11-01" t1="1" t3="2"/>',
        '<Reading account="1" meterNumber="M" meterType="2" takenOn="2026-11-01" t1="1" '
        'photoMediaType="image/png"/>',
        '<Reading account="1" meterNumber="M" meterType="2" takenOn="01.11.2026" t1="1"/>',
    ]
    yield (
        "readings",
        OneCXmlReadings(),
        write_text(
            tmp_path,
            "readings",
            f'<ReadingRegistry xmlns="{NS}" partnerInn="7707083893" number="1">\n'
            + "\n".join(readings)
            + '\n<Totals count="5"/>\n</ReadingRegistry>\n',
        ),
    )


def corpus(tmp_path: Path) -> Iterator[tuple[str, RegistryFormat, Path]]:
    """The conformance suite's malformed corpus, built for each of the three formats."""
    suites: list[tuple[type[Any], RegistryFormat]] = [
        (CONFORMANCE.TestOneCXmlDebts, OneCXmlDebts()),
        (CONFORMANCE.TestOneCXmlPayments, OneCXmlPayments()),
        (CONFORMANCE.TestOneCXmlReadings, OneCXmlReadings()),
    ]
    for suite, fmt in suites:
        folder = tmp_path / fmt.name
        samples = suite().malformed_samples(fmt, folder / "valid")
        valid_name = next((folder / "valid").iterdir()).name
        for name, sample in samples.items():
            if not isinstance(sample, MalformedSample):
                continue
            bad = folder / name
            bad.mkdir()
            (bad / valid_name).write_bytes(sample.data)
            yield f"{fmt.name} {name}", fmt, bad / valid_name


def writer_refusals(tmp_path: Path) -> Iterator[tuple[str, Callable[[], object]]]:
    header = RegistryHeader(
        RegistryKind.PAYMENTS, partner_inn="7707083893", number=1, date=dt.date(2026, 11, 27)
    )
    base: dict[str, Any] = {
        "paid_at": dt.datetime(2026, 11, 27, 10, tzinfo=dt.timezone(dt.timedelta(hours=3))),
        "operation_id": "op",
        "account": "1",
        "amount": Decimal("10.00"),
        "transfer": Decimal("9.86"),
        "fee": Decimal("0.14"),
    }
    odd_zone = dt.timezone(dt.timedelta(seconds=30))
    records: list[tuple[str, object]] = [
        ("long service", PaymentRecord(**{**base, "service": "я" * 1001})),
        (
            "16 digits",
            PaymentRecord(
                **{
                    **base,
                    "amount": Decimal("1" * 16 + ".00"),
                    "transfer": Decimal("1" * 16 + ".00"),
                    "fee": Decimal("0.00"),
                }
            ),
        ),
        (
            "odd zone",
            PaymentRecord(**{**base, "paid_at": dt.datetime(2026, 1, 1, tzinfo=odd_zone)}),
        ),
        ("a debt", DebtRecord("1", HOUSE, "1", Decimal("1.00"))),
        ("long tag", PaymentRecord(**{**base, "tags": (("K", "я" * 1001),)})),
    ]
    for name, rec in records:
        yield (
            f"writer: {name}",
            lambda rec=rec, name=name: OneCXmlPayments().write(
                tmp_path / f"{name}.xml", header, [rec]
            ),
        )
    debts = OneCXmlDebts()
    no_house = DebtRecord("1", None, "кв. 1", Decimal("1.00"), address="г. Тула, ул. Мира, 1")
    debt_header = RegistryHeader(
        RegistryKind.DEBTS, partner_inn="7707083893", number=1, period=Period(2026, 11)
    )
    yield "writer: no house", lambda: debts.write(tmp_path / "d.xml", debt_header, [no_house])
    yield (
        "writer: no period",
        lambda: debts.write(
            tmp_path / "d2.xml",
            RegistryHeader(RegistryKind.DEBTS, partner_inn="7707083893", number=1),
            [],
        ),
    )


def assert_russian(name: str, texts: list[str]) -> None:
    assert texts, f"{name}: no message at all"
    for text in texts:
        assert CYRILLIC.search(text), f"{name}: not in Russian: {text!r}"


def test_every_bad_input_is_refused_in_russian(tmp_path: Path) -> None:
    cases = [*bad_files(tmp_path / "files"), *corpus(tmp_path / "corpus")]
    assert len(cases) > 40
    with using_language("ru"), collect_untranslated() as missed:
        for name, fmt, path in cases:
            assert_russian(name, read_all(fmt, path))
    assert missed == []


def test_every_writer_refusal_is_in_russian(tmp_path: Path) -> None:
    with using_language("ru"), collect_untranslated() as missed:
        for name, write in writer_refusals(tmp_path):
            with pytest.raises(FormatError) as info:
                write()
            assert_russian(name, [str(info.value)])
    assert missed == []


def test_english_stays_the_default(tmp_path: Path) -> None:
    path = payments(tmp_path, "en", [BAD.pay(), BAD.pay(amount="10,00")])
    texts = read_all(OneCXmlPayments(), path)
    assert "not an amount with two decimals after a dot: '10,00'" in texts
    assert not any(CYRILLIC.search(t) for t in texts)


# -- the command line ----------------------------------------------------------------------


def bad_debts(tmp_path: Path) -> Path:
    path = tmp_path / "debts.xml"
    path.write_text(
        f'<DebtRegistry xmlns="{NS}" partnerInn="7707083893" number="1" period="2026-11">\n'
        f'<Debt account="1" houseId="{HOUSE}" amount="1.00"><Other/></Debt>\n'
        f'<Debt account="2" houseId="{HOUSE}" amount="2.00" extra="x"/>\n'
        '<Totals count="2" amount="3.00"/>\n</DebtRegistry>\n',
        encoding="utf-8",
    )
    return path


def validate(args: list[str], env: dict[str, str] | None = None) -> str:
    result = CliRunner().invoke(cli, args, obj=PluginHost(disabled=()), env=env)
    assert result.exit_code == 1, result.output
    return result.output


@pytest.mark.parametrize(
    ("where", "env"),
    [("before", None), ("after", None), ("env", {"LANG": "ru_RU.UTF-8", "LC_ALL": ""})],
)
def test_cli_validate_speaks_russian(
    tmp_path: Path, where: str, env: dict[str, str] | None
) -> None:
    path = bad_debts(tmp_path)
    args = ["validate", str(path), "--format", "1c-xml-debts", "--policy", "quarantine"]
    if where == "before":
        args = ["--lang", "ru", *args]
    elif where == "after":
        args += ["--lang", "ru"]
    out = validate(args, env)
    assert "Other: неожиданный элемент" in out
    assert "extra: неизвестный атрибут" in out
    rejects = path.with_name(path.name + ".rejects.csv").read_text(encoding="utf-8-sig")
    assert "строка;поле" in rejects and "неизвестный атрибут" in rejects


def test_cli_refusal_speaks_russian(tmp_path: Path) -> None:
    path = tmp_path / "debts.xml"
    path.write_text(
        f'<DebtRegistry xmlns="{NS}" partnerInn="7707083893" number="1" period="2026-11">\n'
        "</DebtRegistry>\n",
        encoding="utf-8",
    )
    args = ["--lang", "ru", "validate", str(path), "--format", "1c-xml-debts"]
    out = validate(args)
    assert "нет элемента Totals: файл неполный" in out


def test_cli_without_lang_is_english(tmp_path: Path) -> None:
    path = bad_debts(tmp_path)
    env = {"LANG": "C", "LC_ALL": "", "LANGUAGE": "", "LC_MESSAGES": ""}
    out = validate(["validate", str(path), "--format", "1c-xml-debts"], env)
    assert "extra: unknown attribute" in out
    assert "неизвестный" not in out
