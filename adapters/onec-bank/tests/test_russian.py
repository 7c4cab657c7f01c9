"""Every message a bad bank file gives a person is said in Russian (issue 13).

Each bad input (the conformance suite's malformed statements, the hand-made bad files of
this adapter's tests, hostile XML, the orders the writers refuse) is read under
``using_language("ru")``; every message shown (the refusal, each issue, each note, the
rejects file) must come from a catalog with a Russian translation. A message left as an
f-string, or one without its translation, fails here.
"""

from __future__ import annotations

import csv
import importlib.util
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs
import pytest
from click.testing import CliRunner
from pes_sdk_1c_bank import (
    ClientBankExchangeFormat,
    DirectBankFormat,
    read_orders,
    read_paydoc,
    write_statement,
)
from pes_sdk_1c_bank.directbank import DirectBankSchemas
from pes_sdk_conformance.corpus import MalformedSample

from pes_sdk.cli.main import cli
from pes_sdk.errors import FormatError, PesError, RegistryRefused
from pes_sdk.formats.base import Policy, RegistryFormat
from pes_sdk.i18n import collect_untranslated, translate, using_language
from pes_sdk.models import PaymentOrder
from pes_sdk.plugins import PluginHost, get_host

HERE = Path(__file__).parent
CYRILLIC = re.compile("[а-яА-ЯёЁ]")


def _sibling(name: str) -> ModuleType:
    # The tests run in importlib mode: a sibling test module is loaded by its path.
    spec = importlib.util.spec_from_file_location(f"_onec_bank_{name}", HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CONFTEST = _sibling("conftest")
CLIENTBANK = _sibling("test_clientbank")
DIRECTBANK = _sibling("test_directbank")
HOSTILE = _sibling("test_hostile")
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
        reader: Any = None
        try:
            with fmt.open(path, policy=policy, rejects_path=rejects) as reader:
                list(reader)
            texts += [translate(i.message) for i in reader.report.issues]
            if reader.report.refused:
                texts.append(translate(reader.report.refused))
        except PesError as exc:
            texts += shown(exc)
        texts += [translate(n.message) for n in getattr(reader, "notes", [])]
        if rejects.exists():
            csv.field_size_limit(1 << 30)  # a hostile file's raw text is long
            with rejects.open(encoding="utf-8-sig", newline="") as f:
                rows = list(csv.reader(f, delimiter=";"))
            texts += [row[0] for row in rows[:1]] + [row[2] for row in rows[1:]]
            rejects.unlink()
    return texts


def clientbank_files(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """Bad and odd 1CClientBankExchange statements, as this adapter's tests make them."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    text = CLIENTBANK.statement_text()

    def file(name: str, data: str | bytes) -> tuple[str, Path]:
        path = tmp_path / f"{name}.txt"
        path.write_bytes(data if isinstance(data, bytes) else data.encode("cp1251"))
        return name, path

    totals = [
        {"total_in": "5000.01", "closing": "13650.52"},
        {"total_out": "1349.48", "closing": "13650.52"},
        {"closing": "13650.50"},
    ]
    for i, kw in enumerate(totals):
        yield file(f"totals {i}", CLIENTBANK.statement_text(**kw))
    yield file("bad amount", text.replace("Сумма=5000\r\n", "Сумма=50,00,0\r\n"))
    yield file("bad date", text.replace("Дата=28.11.2026", "Дата=28.13.2026"))
    yield file("no date", text.replace("Дата=28.11.2026", "Дата=вчера"))
    yield file("no amount", text.replace("Сумма=1349.49\r\n", ""))
    yield file("bad ИНН", text.replace("ПолучательИНН=5003012349", "ПолучательИНН=5003012340"))
    yield file("bad balance", text.replace("НачальныйОстаток=10000.00", "НачальныйОстаток=x"))
    mutations: list[Callable[[str], str]] = [
        lambda t: t.replace("КонецФайла\r\n", ""),
        lambda t: t.replace("1CClientBankExchange", "Hello", 1),
        lambda t: t.replace("КонецДокумента\r\nКонецФайла", "КонецФайла"),
        lambda t: t.replace("Кодировка=Windows", "Кодировка=KOI8"),
        lambda t: t.replace("Номер=77\r\n", "Номер 77\r\n"),
        lambda t: t.replace("Номер=77", "Номер=" + "7" * 5000),
        lambda t: t + "лишнее\r\n",
        lambda t: t.replace("КонецРасчСчет\r\n", ""),
        lambda t: t.replace("СекцияРасчСчет\r\n", ""),
        lambda t: t.replace("КонецДокумента\r\nСекцияДокумент", "СекцияДокумент", 1),
        lambda t: t.replace("СекцияДокумент=Платежное поручение\r\nНомер=512", "Номер=512"),
        lambda t: t.replace("КонецДокумента\r\nКонецФайла\r\n", ""),
    ]
    for i, mutate in enumerate(mutations):
        yield file(f"broken {i}", mutate(text))
    needle = "Номер=77".encode("cp1251")
    yield file("undecodable", text.encode("cp1251").replace(needle, needle + b"\x98"))
    alien = [
        "СекцияДокумент=Платежное поручение",
        "Номер=78",
        "Дата=29.11.2026",
        "Сумма=10.00",
        "ПлательщикСчет=40702810900000008888",
        "ПолучательСчет=40702810600000007777",
        "КонецДокумента",
    ]
    yield file("alien", text.replace("КонецФайла", "\r\n".join([*alien, "КонецФайла"])))
    odd = (CLIENTBANK.STATEMENTS / "online-utf8-labelled-windows.txt").read_text("utf-8")
    yield file("third party", odd.replace("\n", "\r\n").encode("cp1251"))
    yield file("utf-8 labelled Windows", odd.replace("\n", "\r\n").encode("utf-8"))
    plain = text.replace("«", '"').replace("»", '"')
    yield file("cp866 labelled Windows", plain.encode("cp866"))
    yield file("no label", plain.replace("Кодировка=Windows\r\n", "").encode("cp866"))
    yield file("empty", b"")


def directbank_files(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """Bad DirectBank statements: hand-made ones and the hostile XML corpus."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    service, partner, other = CONFTEST.SERVICE, CONFTEST.PARTNER, CONFTEST.OTHER
    entries = DIRECTBANK.statement_entries(partner, other)
    valid = write_statement(
        tmp_path / "valid.xml", DIRECTBANK.a_statement(), entries, owner=service
    ).read_text("utf-8")

    def file(name: str, text: str) -> tuple[str, Path]:
        path = tmp_path / f"{name}.xml"
        path.write_text(text, "utf-8")
        return name, path

    replacements = {
        "bad DC": ("<DC>2</DC>", "<DC>3</DC>"),
        "bad sum": ("<Sum>5000.00</Sum>", "<Sum>5000,00</Sum>"),
        "odd sum": ("<Sum>5000.00</Sum>", "<Sum>5000.001</Sum>"),
        "no sum": ("<Sum>5000.00</Sum>", ""),
        "bad date": ("<DocDate>2026-11-29</DocDate>", "<DocDate>29.11.2026</DocDate>"),
        "bad INN": (f"<INN>{other.inn}</INN>", f"<INN>{other.inn[:-1]}0</INN>"),
        "our bad INN": (f"<INN>{partner.inn}</INN>", f"<INN>{partner.inn[:-1]}0</INN>"),
        "no account": (f"<Account>{DIRECTBANK.OURS}</Account>", ""),
        "bad total": ("<TotalDebits>1349.49</TotalDebits>", "<TotalDebits>1349.00</TotalDebits>"),
        "bad opening": ("<OpeningBalance>", "<OpeningBalance>x"),
        "no PayDoc": ("<PayDoc ", "<NotPayDoc "),
        "prefix": ("<Data>", "<x:Data>"),
        "root": ("<Statement ", "<Other "),
    }
    for name, (old, new) in replacements.items():
        assert old in valid, name
        text = valid.replace(old, new, 1)
        if name == "prefix":
            text = text.replace("</Data>", "</x:Data>")
        if name == "root":
            text = text.replace("</Statement>", "</Other>")
        yield file(name, text)
    yield file("cut short", valid[: len(valid) // 2])
    yield file("empty", "")
    for name, make in HOSTILE.CORPUS.items():
        if name != "huge_text_node":  # 50 MB: test_hostile.py covers it
            yield file(f"hostile {name}", make(tmp_path))


def corpus(tmp_path: Path) -> Iterator[tuple[str, RegistryFormat, Path]]:
    """The conformance suite's malformed statements, built for both formats."""
    host = get_host()
    for suite in (CONFORMANCE.TestClientBankExchange, CONFORMANCE.TestDirectBank):
        fmt = host.format(suite.format_name)
        folder = tmp_path / fmt.name
        samples = suite().malformed_statements(fmt, folder / "valid")
        valid_name = next(p for p in (folder / "valid").iterdir() if p.is_file()).name
        for name, sample in samples.items():
            if not isinstance(sample, MalformedSample):
                continue
            bad = folder / name
            bad.mkdir()
            (bad / valid_name).write_bytes(sample.data)
            yield f"{fmt.name} {name}", fmt, bad / valid_name


def assert_russian(name: str, texts: list[str]) -> None:
    assert texts, f"{name}: no message at all"
    for text in texts:
        assert CYRILLIC.search(text), f"{name}: not in Russian: {text!r}"


def test_every_bad_statement_is_refused_in_russian(tmp_path: Path) -> None:
    host = get_host()
    cases = [
        *((n, host.format("1c-clientbank"), p) for n, p in clientbank_files(tmp_path / "cb")),
        *((n, host.format("1c-directbank"), p) for n, p in directbank_files(tmp_path / "db")),
        *corpus(tmp_path / "corpus"),
    ]
    assert len(cases) > 50
    with using_language("ru"), collect_untranslated() as missed:
        for name, fmt, path in cases:
            texts = read_all(fmt, path)
            if name in ("alien", "third party", "utf-8 labelled Windows"):
                assert texts, f"{name}: the notes say nothing"  # read, with notes
                assert_russian(name, texts)
            elif name != "hostile undeclared_entity" or texts:
                assert_russian(name, texts)
    assert missed == []


def refusals(tmp_path: Path) -> Iterator[tuple[str, Callable[[], object]]]:
    """What the writers and the order readers refuse."""
    order = PaymentOrder(
        "512",
        CLIENTBANK.CREATED.date(),
        Decimal("1349.49"),
        CONFTEST.SERVICE,
        CONFTEST.PARTNER,
        "Перечисление, НДС не облагается",
    )
    header = CLIENTBANK.header()
    clientbank = ClientBankExchangeFormat()
    directbank = DirectBankFormat(schemas=None)
    out = tmp_path / "out"
    out.mkdir()
    for side in ("payer", "payee"):
        party = getattr(order, side)
        for attribute in ("city", "bank_name"):
            bank = attrs.evolve(party.bank, **{attribute: ""})
            bad = attrs.evolve(order, **{side: attrs.evolve(party, bank=bank)})
            yield (
                f"clientbank {side} {attribute}",
                lambda bad=bad: clientbank.write(out / "o.txt", header, [bad]),
            )
            yield (
                f"directbank {side} {attribute}",
                lambda bad=bad: directbank.write(out / "o.xml", header, [bad]),
            )
    chinese = attrs.evolve(order, purpose="付款, НДС не облагается")
    yield "cp1251", lambda: clientbank.write(out / "o.txt", header, [chinese])
    yield "DOS", lambda: ClientBankExchangeFormat("DOS").write(out / "o.txt", header, [chinese])
    yield "clientbank other record", lambda: clientbank.write(out / "o.txt", header, ["x"])  # type: ignore[list-item]
    yield "directbank other record", lambda: directbank.write(out / "o.xml", header, ["x"])  # type: ignore[list-item]
    yield "directbank two orders", lambda: directbank.write(out / "o.xml", header, [order, order])
    yield "directbank none", lambda: directbank.write(out / "o.xml", header, [])
    schemas = DirectBankSchemas(tmp_path / "no-schemas")
    yield "schema missing", lambda: schemas.validate_paydoc(out / "o.xml")

    good = out / "good.txt"
    clientbank.write(good, header, [order])
    text = good.read_bytes().decode("cp1251")
    utf8 = out / "utf8.txt"
    utf8.write_bytes(text.encode("utf-8"))
    yield "orders in UTF-8", lambda: read_orders(utf8)
    for key in ("Сумма", "ПлательщикИНН", "ПолучательБИК", "Дата"):
        broken = out / f"no {key}.txt"
        broken.write_bytes(re.sub(f"\r\n{key}=[^\r]*", "", text).encode("cp1251"))
        yield f"order without {key}", lambda broken=broken: read_orders(broken)
    bad_date = out / "bad date.txt"
    bad_date.write_bytes(re.sub("\r\nДата=[^\r]*", "\r\nДата=31.02.2026", text).encode("cp1251"))
    yield "order of 31 February", lambda: read_orders(bad_date)
    bad_inn = out / "bad inn.txt"
    bad_inn.write_bytes(
        text.replace("ПолучательИНН=5003012349", "ПолучательИНН=1").encode("cp1251")
    )
    yield "order with a bad ИНН", lambda: read_orders(bad_inn)

    paydoc = out / "paydoc.xml"
    directbank.write(paydoc, header, [order])
    # A schema the document cannot satisfy: the validator's own (English) words are a value.
    strict = tmp_path / "strict-schemas"
    strict.mkdir()
    (strict / DirectBankSchemas.PAYDOC).write_text(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">'
        '<xs:element name="Other"/></xs:schema>',
        "utf-8",
    )
    yield "not valid", lambda: DirectBankSchemas(strict).validate_paydoc(paydoc)
    valid = paydoc.read_text("utf-8")
    statement = out / "statement.xml"
    write_statement(
        statement,
        DIRECTBANK.a_statement(),
        DIRECTBANK.statement_entries(CONFTEST.PARTNER, CONFTEST.OTHER),
        owner=CONFTEST.SERVICE,
    )
    yield "paydoc: a statement", lambda: read_paydoc(statement)
    variants = {
        "paydoc: no Data": ("<Data>", "<Other>", "</Data>", "</Other>"),
        "paydoc: bad date": ("<DocDate>", "<DocDate>x", "", ""),
        "paydoc: bad sum": ("<Sum>", "<Sum>x", "", ""),
        "paydoc: DOCTYPE": ("<?xml version='1.0' encoding='UTF-8'?>", "<!DOCTYPE x>", "", ""),
        "paydoc: cut": ("</PayDocRu>", "", "", ""),
    }
    for name, (old, new, old2, new2) in variants.items():
        path = out / f"{name}.xml".replace(":", "")
        text2 = valid.replace(old, new, 1)
        if old2:
            text2 = text2.replace(old2, new2, 1)
        if name == "paydoc: DOCTYPE" and old not in valid:
            text2 = "<!DOCTYPE x>\n" + valid.split("\n", 1)[1]
        path.write_text(text2, "utf-8")
        yield name, lambda path=path: read_paydoc(path)


def test_every_refusal_of_orders_is_in_russian(tmp_path: Path) -> None:
    with using_language("ru"), collect_untranslated() as missed:
        for name, act in refusals(tmp_path):
            try:
                act()
            except FormatError as exc:
                assert_russian(name, [str(exc)])
            except ValueError as exc:  # DirectBankFormat refuses nothing as ValueError
                pytest.fail(f"{name}: {exc!r}")
            else:
                pytest.fail(f"{name}: not refused")
    assert missed == []


def test_english_stays_the_default(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    text = CLIENTBANK.statement_text(total_in="5000.01", closing="13650.52")
    path.write_bytes(text.encode("cp1251"))
    texts = read_all(get_host().format("1c-clientbank"), path)
    joined = "\n".join(texts)
    assert "control totals do not match: account 40702810500000001234: ВсегоПоступило is" in joined
    assert "контрольные" not in joined


# -- the command line ----------------------------------------------------------------------


def bad_statement(tmp_path: Path) -> Path:
    path = tmp_path / "kl_to_1c.txt"
    text = CLIENTBANK.statement_text().replace("Сумма=5000\r\n", "Сумма=50,00,0\r\n")
    path.write_bytes(text.encode("cp1251"))
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
    path = bad_statement(tmp_path)
    args = ["validate", str(path), "--format", "1c-clientbank"]
    if where == "before":
        args = ["--lang", "ru", *args]
    elif where == "after":
        args += ["--lang", "ru"]
    out = validate(args, env)
    assert "Сумма:" in out
    assert "не сумма" in out or "сумм" in out.split("Сумма:", 1)[1].lower()


def test_cli_refusal_speaks_russian(tmp_path: Path) -> None:
    path = tmp_path / "kl_to_1c.txt"
    text = CLIENTBANK.statement_text(total_in="5000.01", closing="13650.52")
    path.write_bytes(text.encode("cp1251"))
    out = validate(["--lang", "ru", "validate", str(path), "--format", "1c-clientbank"])
    assert (
        "контрольные итоги не сходятся: счёт 40702810500000001234: ВсегоПоступило = 5000.01" in out
    )


def test_cli_without_lang_is_english(tmp_path: Path) -> None:
    path = tmp_path / "kl_to_1c.txt"
    text = CLIENTBANK.statement_text(total_in="5000.01", closing="13650.52")
    path.write_bytes(text.encode("cp1251"))
    env = {"LANG": "C", "LC_ALL": "", "LANGUAGE": "", "LC_MESSAGES": ""}
    out = validate(["validate", str(path), "--format", "1c-clientbank"], env)
    assert "control totals do not match: account 40702810500000001234" in out
    assert "контрольные" not in out
