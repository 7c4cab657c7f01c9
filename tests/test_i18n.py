"""Messages in English or Russian (:mod:`pes_sdk.i18n`), and the core's messages in Russian.

Three parts: the machinery (Message, plural forms, fallbacks, choosing the language); the
``pes`` command with ``--lang ru`` or a Russian locale; and every bad input the core itself
judges (values, identifiers, periods, encodings, empty files, control totals, PARTNERS.toml,
TOML, XML prologs, unreadable inputs), shown in Russian with nothing left in English.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import pickle
import threading
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from pes_sdk import identifiers, tomlfile
from pes_sdk.cli.common import DATE
from pes_sdk.cli.main import cli
from pes_sdk.errors import FormatError, Issue, PesError, RegistryRefused
from pes_sdk.formats.base import Policy
from pes_sdk.formats.text import judge_encoding, refuse_empty, text_file_issue
from pes_sdk.i18n import (
    Catalog,
    Message,
    collect_untranslated,
    current_language,
    join,
    language_from_environment,
    set_language,
    tr,
    tr_n,
    translate,
    using_language,
)
from pes_sdk.models.debts import DebtRecord, DebtRegistry
from pes_sdk.models.payments import PaymentRecord
from pes_sdk.models.registry import ControlTotals
from pes_sdk.models.transfers import StatementEntry
from pes_sdk.money import amount, parse_amount
from pes_sdk.operations import convert, validate
from pes_sdk.partners_file import parse_partners
from pes_sdk.period import Period
from pes_sdk.plugins import PluginHost
from pes_sdk.safexml import check_prolog_bytes

HOUSE = "0c9a8b7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d"


def cyrillic(text: str) -> bool:
    return any("а" <= c.lower() <= "я" or c in "ёЁ" for c in text)


@pytest.fixture(autouse=True)
def _english_after() -> object:
    # set_language is per process: a test that sets it must not leak Russian into others.
    yield
    set_language("en")


# -- the machinery ---------------------------------------------------------------------------


def test_message_is_its_english_text_and_survives_str_of_an_exception() -> None:
    m = tr("not an amount: {text!r}", text="12,3,4")
    assert m == "not an amount: '12,3,4'" and isinstance(m, str)
    assert m.template == "not an amount: {text!r}"
    exc = ValueError(m)
    assert str(exc) is m or isinstance(str(exc), Message)
    with using_language("ru"):
        assert translate(str(exc)) == "не сумма: '12,3,4'"
    assert translate(str(exc)) == "not an amount: '12,3,4'"  # English by default


def test_english_is_the_text_unchanged() -> None:
    m = tr("ИНН {value} has wrong check digits", value="7707083890")
    assert translate(m, "en") == m == "ИНН 7707083890 has wrong check digits"


@pytest.mark.parametrize(
    ("n", "russian"),
    [
        (1, "1 ошибка"),
        (2, "2 ошибки"),
        (5, "5 ошибок"),
        (11, "11 ошибок"),
        (21, "21 ошибка"),
        (22, "22 ошибки"),
    ],
)
def test_russian_plural_forms(n: int, russian: str) -> None:
    m = tr_n("{where}: {n} problem:", "{where}: {n} problems:", n, where="P.toml")
    assert m == f"P.toml: {n} problem{'s' if n != 1 else ''}:"
    assert translate(m, "ru") == f"P.toml: {russian}:"


def test_a_missing_translation_falls_back_to_english_and_is_collected() -> None:
    m = tr("a message no catalog has: {x}", x=1)
    plain = "a plain English text"
    with using_language("ru"), collect_untranslated() as missed:
        assert translate(m) == "a message no catalog has: 1"
        assert translate(plain) == plain
        assert translate("12 345,00") == "12 345,00"  # no words: nothing to translate
    assert missed == ["a message no catalog has: {x}", plain]


def test_a_catalog_that_does_not_exist_falls_back_to_english(tmp_path: Path) -> None:
    m = Catalog("no_such_domain", tmp_path)("hello {who}", who="world")
    with collect_untranslated() as missed:
        assert translate(m, "ru") == "hello world"
    assert missed == ["hello {who}"]


def test_join_translates_each_part() -> None:
    joined = join("; ", [tr("no such file"), tr("permission denied")])
    assert joined == "no such file; permission denied"
    assert translate(joined, "ru") == "нет такого файла; нет прав доступа"


def test_values_that_are_messages_are_translated_too() -> None:
    inner = tr("a bank account (р/с)")
    outer = tr("{what} is 20 digits, not {value!r}", what=inner, value="123")
    assert outer == "a bank account (р/с) is 20 digits, not '123'"
    assert translate(outer, "ru") == "расчётный счёт (р/с): должно быть 20 цифр, а не '123'"


@pytest.mark.parametrize(
    ("environ", "language"),
    [
        ({}, "en"),
        ({"LANG": "ru_RU.UTF-8"}, "ru"),
        ({"LANG": "ru"}, "ru"),
        ({"LANG": "C"}, "en"),
        ({"LANG": "POSIX"}, "en"),
        ({"LANG": "de_DE.UTF-8"}, "en"),
        ({"LANG": "ru_RU.UTF-8", "LC_ALL": "C"}, "en"),  # LC_ALL before LANG
        ({"LANG": "C", "LC_MESSAGES": "ru_RU.UTF-8"}, "ru"),  # LC_MESSAGES before LANG
        ({"LC_ALL": "C", "LC_MESSAGES": "ru_RU.UTF-8"}, "en"),  # LC_ALL before LC_MESSAGES
        ({"LANGUAGE": "ru", "LC_ALL": "C"}, "ru"),  # LANGUAGE first of all
        ({"LANGUAGE": "de:ru", "LANG": "C"}, "ru"),  # the first of its list the kit has
        ({"LANGUAGE": "de:fr", "LANG": "ru_RU.UTF-8"}, "ru"),  # none: the locale decides
        ({"LANGUAGE": "", "LANG": "ru_RU.KOI8-R"}, "ru"),
        ({"LANG": "ru_RU@euro"}, "ru"),
    ],
)
def test_language_from_environment(environ: dict[str, str], language: str) -> None:
    assert language_from_environment(environ) == language


def test_an_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="no catalog"):
        set_language("de")
    with pytest.raises(ValueError, match="no catalog"), using_language("xx"):
        pass


def test_a_pickled_message_is_its_plain_english_text() -> None:
    m = tr("not a GUID: {value!r}", value="x")
    back = pickle.loads(pickle.dumps(m))
    assert back == "not a GUID: 'x'" and type(back) is str
    exc = pickle.loads(pickle.dumps(ValueError(m)))
    assert str(exc) == "not a GUID: 'x'"


def test_using_language_is_per_thread_and_set_language_per_process() -> None:
    seen: dict[str, str] = {}

    def other() -> None:
        seen["other"] = current_language()

    with using_language("ru"):
        assert current_language() == "ru"
        t = threading.Thread(target=other)
        t.start()
        t.join()
    assert seen["other"] == "en"  # the block's language stayed in its own thread
    assert current_language() == "en"

    set_language("ru")
    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert seen["other"] == "ru"  # the process's language reaches every thread
    with using_language("en"):
        assert current_language() == "en"  # a block overrides the process
    assert current_language() == "ru"


# -- the command line ------------------------------------------------------------------------


def debts_file(path: Path) -> Path:
    """An example-jsonl-debts registry with a bad GUID and control totals that do not match."""
    import json

    rows = [
        {"account": "000001", "house_id": HOUSE, "premises": "1", "amount": "10.00"},
        {"account": "000002", "house_id": "not-a-guid", "premises": "1", "amount": "20.00"},
    ]
    lines = [{"partner_inn": "5001007329", "period": "2026-11", "number": 3}, *rows]
    lines.append({"count": 2, "amount": "30.00"})
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    return path


def run(args: list[str], env: dict[str, str] | None = None) -> click.testing.Result:
    base = {"LANGUAGE": "", "LC_ALL": "", "LC_MESSAGES": "", "LANG": "C"}
    return CliRunner().invoke(cli, args, obj=PluginHost(disabled=()), env={**base, **(env or {})})


@pytest.mark.parametrize(
    ("before", "after", "env"),
    [
        (["--lang", "ru"], [], None),
        ([], ["--lang", "ru"], None),
        ([], [], {"LANG": "ru_RU.UTF-8"}),
        ([], [], {"LANGUAGE": "ru"}),
    ],
)
def test_pes_validate_speaks_russian_when_asked(
    tmp_path: Path, before: list[str], after: list[str], env: dict[str, str] | None
) -> None:
    src = debts_file(tmp_path / "d.jsonl")
    result = run([*before, "validate", str(src), "-f", "example-jsonl-debts", *after], env)
    assert result.exit_code == 1, result.output
    assert "НЕ" in result.stdout or cyrillic(result.stdout)
    assert "  строка 3: house_id: не GUID: 'not-a-guid'" in result.stdout.splitlines()
    assert "NOT VALID" not in result.stdout


def test_pes_validate_speaks_english_by_default(tmp_path: Path) -> None:
    src = debts_file(tmp_path / "d.jsonl")
    result = run(["validate", str(src), "-f", "example-jsonl-debts"])
    assert result.exit_code == 1
    assert "NOT VALID" in result.stdout
    assert "  line 3: house_id: not a GUID: 'not-a-guid'" in result.stdout.splitlines()
    assert not cyrillic(result.stdout)


def test_pes_errors_are_russian_too(tmp_path: Path) -> None:
    missing = run(["--lang", "ru", "validate", str(tmp_path / "nope"), "-f", "example-jsonl-debts"])
    assert missing.exit_code == 2
    assert "нет такого файла" in missing.stderr
    unknown = run(["--lang", "ru", "validate", str(debts_file(tmp_path / "d")), "-f", "nope"])
    assert unknown.exit_code == 2
    assert "нет формата с именем 'nope'" in unknown.stderr


def test_rejects_file_header_and_reasons_in_russian(tmp_path: Path) -> None:
    src = debts_file(tmp_path / "d.jsonl")
    rejects = tmp_path / "rejects.csv"
    args = ["validate", str(src), "-f", "example-jsonl-debts", "--policy", "quarantine"]
    result = run(["--lang", "ru", *args, "--rejects", str(rejects)])
    assert result.exit_code == 1, result.output
    rows = list(csv.reader(io.StringIO(rejects.read_text(encoding="utf-8-sig")), delimiter=";"))
    assert rows[0] == ["строка", "поле", "сообщение", "исходные данные"] or all(
        cyrillic(cell) for cell in rows[0]
    )
    assert any("не GUID: 'not-a-guid'" in cell for row in rows[1:] for cell in row)
    english = tmp_path / "rejects-en.csv"
    run([*args, "--rejects", str(english)])
    assert not cyrillic(english.read_text(encoding="utf-8-sig").splitlines()[0])


@pytest.mark.parametrize(
    ("text", "russian"),
    [
        ("31.02.2026", "31.02.2026 — не дата: в феврале 2026 года 28 дней"),
        ("31.01.2027", None),
        ("2026-13-01", "2026-13-01 — не дата: месяц 13"),
        ("27/11/2026", "27/11/2026 — не дата: пишите в виде YYYY-MM-DD или DD.MM.YYYY"),
    ],
)
def test_dates_are_refused_in_russian(text: str, russian: str | None) -> None:
    with using_language("ru"):
        try:
            DATE.convert(text, None, None)
        except click.BadParameter as exc:
            assert russian is not None and exc.message.startswith(russian)
        else:
            assert russian is None


# -- the core's bad inputs, in Russian -------------------------------------------------------


def _raises(call: Callable[[], object]) -> Exception:
    try:
        call()
    except (ValueError, PesError) as exc:
        return exc
    raise AssertionError(f"{call} did not raise")


#: What the tests below show: a message, or an issue or error rendered when shown.
Shown = str | Issue | Exception


def show(x: Shown) -> str:
    """``x`` as a person sees it in the current language."""
    if isinstance(x, Issue | FormatError | RegistryRefused):
        return str(x)  # these render themselves, in the language shown
    return translate(str(x))


def _record(**changes: object) -> Callable[[], object]:
    fields: dict[str, object] = {
        "account": "0012345",
        "house_id": HOUSE,
        "premises": "кв. 7",
        "amount": Decimal("10.00"),
        "period": Period(2026, 11),
        "service": "Электроснабжение",
    }
    fields.update(changes)
    return lambda: DebtRecord(**fields)  # type: ignore[arg-type]


PARTNERS_OK = """
version = 1
[service]
name = "ООО Сервис"
inn = "7707083893"
kpp = "773601001"
[service.bank]
bik = "044525225"
account = "40702810938000000001"
corr_account = "30101810400000000225"
name = "ПАО Сбербанк"
city = "Москва"
"""


def bad_value_messages() -> list[Shown]:
    """The text of every refusal a core parser or validator gives, one per kind."""
    t = dt.datetime(2026, 11, 5, 12, tzinfo=dt.UTC)
    return [
        _raises(lambda: parse_amount("12,3,4")),
        _raises(lambda: amount("1.234")),
        _raises(lambda: amount("abc")),
        _raises(lambda: amount(Decimal("NaN"))),
        _raises(lambda: amount(Decimal("1.234"))),
        _raises(lambda: amount(Decimal("1E+40"))),
        _raises(lambda: identifiers.check_inn("12")),
        _raises(lambda: identifiers.check_inn("7707083890")),
        _raises(lambda: identifiers.check_kpp("77")),
        _raises(lambda: identifiers.check_bik("04")),
        _raises(lambda: identifiers.check_bank_account("123", "044525225")),
        _raises(lambda: identifiers.check_bank_account("40702810938000000002", "044525225")),
        _raises(lambda: identifiers.check_corr_account("30101810400000000226", "044525225")),
        _raises(lambda: identifiers.check_els("12")),
        _raises(lambda: identifiers.check_guid("x")),
        _raises(lambda: identifiers.check_personal_account("a;b")),
        _raises(lambda: identifiers.check_personal_account(" 12")),
        _raises(lambda: Period.parse("2026/11")),
        _raises(lambda: Period.parse("2026-13")),
        _raises(lambda: Period.parse("0026-01")),
        _raises(lambda: Period.parse_mmyy("1x26")),
        _raises(lambda: Period.parse_mmyyyy("11-26")),
        _raises(_record(account="")),
        _raises(_record(house_id="not-a-guid")),
        _raises(_record(premises="x" * 500)),
        _raises(_record(tags={"a:b": "c"})),
        _raises(
            lambda: PaymentRecord(
                t, "op", "0012345", Decimal("10.00"), Decimal("9.00"), Decimal("0.50")
            )
        ),
        _raises(lambda: StatementEntry("in", "4070281093800000000", "1", None, Decimal("1.00"))),
        _raises(
            lambda: StatementEntry("in", "40702810938000000001", "1\n", None, Decimal("-1.00"))
        ),
        *ControlTotals(3, {"amount": Decimal("10.00")}).mismatches(2, {"amount": Decimal("9.00")}),
        *(
            i.message
            for i in DebtRegistry(
                "7707083893",
                Period(2026, 11),
                1,
                None,
                (_record()(), _record()()),  # type: ignore[arg-type]
                ControlTotals(5, {"amount": Decimal("1.00")}),
            ).problems()
        ),
    ]


def config_messages() -> list[Shown]:
    """PARTNERS.toml, TOML and XML prolog refusals."""
    bad_partners = PARTNERS_OK.replace('inn = "7707083893"', "inn = 7707083893").replace(
        'city = "Москва"', 'city = ""\nextra = 1'
    ) + (
        '[[partners]]\ninn = "7707083890"\nname = ""\n[partners.bank]\nbik = "04"\n'
        'account = "1"\nname = "Банк"\ncity = "Город"\n[partners.fee]\nplan = "flat"\n'
        'rate = "150%"\nmonthly_fee = true\nparams = 3\n'
        '[[partners]]\ninn = "7707083893"\nname = "x"\nbank = 1\n[partners.fee]\n'
        'rate = true\nmonthly_fee = "1.234"\nparams = {a = [1]}\n'
    )
    return [
        _raises(lambda: parse_partners(bad_partners, plans=["percent"])),
        _raises(lambda: parse_partners("version = 2\n" + PARTNERS_OK.replace("version = 1", ""))),
        _raises(lambda: parse_partners("")),
        _raises(lambda: parse_partners("a = [")),
        _raises(lambda: parse_partners("a = nan")),
        _raises(lambda: parse_partners("[service]\ntime_zone = 'Mars/Base'\npurpose = '{x}'\n")),
        _raises(lambda: tomlfile.loads("a = 1e9999999999999999999", "x.toml")),
        _raises(lambda: tomlfile.loads("a = " + "[" * 70 + "]" * 70, "x.toml")),
        _raises(lambda: check_prolog_bytes(b"<!DOCTYPE x><x/>")),
        _raises(lambda: check_prolog_bytes(b"hello")),
        _raises(lambda: check_prolog_bytes(b"  ")),
        _raises(lambda: check_prolog_bytes(b"<?xml version='1.0'")),
        _raises(lambda: check_prolog_bytes(b"<!-- x")),
        _raises(
            lambda: check_prolog_bytes(
                b"<?xml version='1.0' encoding='windows-1251'?><x/>", encodings=["utf-8"]
            )
        ),
        _raises(lambda: check_prolog_bytes("<x/>".encode("utf-16"), encodings=["utf-8"])),
    ]


def file_messages(tmp_path: Path) -> list[Shown]:
    """Empty files, wrong encodings, unreadable inputs and formats that cannot do the job."""
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    text = "0100149;12а;1047,86;Содержание жилья\r\n0100150;кв. 7;-150,40;Электроснабжение\r\n"
    utf8 = tmp_path / "utf8.txt"
    utf8.write_bytes(text.encode("utf-8"))
    good = debts_file(tmp_path / "good.jsonl")
    host = PluginHost(disabled=())
    wrong = judge_encoding(text.encode("utf-8"), "cp1251")
    bom = judge_encoding(b"\xef\xbb\xbf" + text.encode("utf-8"), "cp1251")
    assert wrong is not None and bom is not None
    empty_issue = text_file_issue(empty, "cp1251")
    encoding_issue = text_file_issue(utf8, "cp1251")
    assert empty_issue is not None and encoding_issue is not None
    return [
        wrong.message,
        bom.message,
        empty_issue,
        encoding_issue,
        _raises(lambda: refuse_empty(empty)),
        _raises(lambda: validate(tmp_path / "nope", "example-jsonl-debts", host=host)),
        _raises(lambda: validate(tmp_path, "example-jsonl-debts", host=host)),
        _raises(lambda: validate(utf8, "no-such-format", host=host)),
        _raises(lambda: convert(good, good, "example-jsonl-debts", "example-jsonl-debts")),
        validate(empty, "example-jsonl-debts", host=host).refused or "",
    ]


def test_every_core_message_is_russian(tmp_path: Path) -> None:
    shown = [*bad_value_messages(), *config_messages(), *file_messages(tmp_path)]
    english = [show(x) for x in shown]
    with using_language("ru"), collect_untranslated() as missed:
        russian = [show(x) for x in shown]
    assert missed == []
    for en, ru in zip(english, russian, strict=True):
        assert cyrillic(ru) and ru != en, (en, ru)


def test_an_issue_and_errors_show_in_the_language_chosen() -> None:
    issue = Issue(7, "amount", str(_raises(lambda: parse_amount("x"))))
    error = FormatError(tr("not an amount: {text!r}", text="x"), line=7, field="amount")
    refused = RegistryRefused(tr("the file is empty"), path="a.csv")
    config = _raises(lambda: parse_partners(""))
    with using_language("ru"):
        assert str(issue) == "строка 7: amount: не сумма: 'x'"
        assert str(error) == "строка 7: amount: не сумма: 'x'"
        assert str(refused) == "a.csv: файл пуст"
        assert translate(str(config)).startswith("PARTNERS.toml: 1 ошибка:\n  service: ")
    assert str(issue) == "line 7: amount: not an amount: 'x'"


def csv_host() -> PluginHost:
    host = PluginHost(disabled=())
    if "pes-debts" not in host.formats():
        pytest.skip("format pes-debts not installed (CSV adapter pes-sdk-csv)")
    return host


PES_DEBTS_HEADER = "account;house_id;premises;amount;period;service"
PES_PAYMENTS_HEADER = (
    "paid_at;operation_id;account;house_id;premises;period;service_code;service;channel;"
    "amount;transfer;fee"
)


@pytest.mark.parametrize(
    ("name", "fmt", "data"),
    [
        (
            "bad-values.csv",
            "pes-debts",
            (
                f"{PES_DEBTS_HEADER}\n"
                f"0012345;{HOUSE};кв. 7;12,345;2026-11;Газ\n"
                f"0012346;not-a-guid;кв. 7;1.234;2026-13;Газ\n"
                f";{HOUSE};кв. 7;abc;11.2026;Газ\n"
                "=3;10.00\n"
            ).encode(),
        ),
        (
            "totals.csv",
            "pes-debts",
            f"{PES_DEBTS_HEADER}\n0012345;{HOUSE};кв. 7;10.00;2026-11;Газ\n=2;99.00\n".encode(),
        ),
        (
            "cp1251.csv",
            "pes-debts",
            f"{PES_DEBTS_HEADER}\n0012345;{HOUSE};кв. 7;10.00;2026-11;Содержание жилья\n"
            "=1;10.00\n".encode("cp1251"),
        ),
        ("empty.csv", "pes-debts", b""),
        (
            "payments.csv",
            "pes-payments",
            (
                f"{PES_PAYMENTS_HEADER}\n"
                f"2026-11-05T10:00:00+03:00;op1;0012345;{HOUSE};кв. 7;2026-11;1;Газ;app;"
                "10.00;9.00;0.50\n"
                f"2026-11-05T10:00:00+03:00;op2;0012345;{HOUSE};кв. 7;2026-11;1;Газ;app;"
                "1,5;x;0.50\n"
                "=2;11.50;9.00;1.00\n"
            ).encode(),
        ),
    ],
)
def test_the_csv_readers_bad_files_in_russian(
    tmp_path: Path, name: str, fmt: str, data: bytes
) -> None:
    host = csv_host()
    src = tmp_path / name
    src.write_bytes(data)
    for policy in (Policy.STRICT, Policy.QUARANTINE):
        with using_language("ru"), collect_untranslated() as missed:
            # The rejects file is written in the language of the read.
            report = validate(src, fmt, policy, host=host)
            russian = [str(i) for i in report.issues]
            if report.refused:
                russian.append(translate(report.refused))
            if report.rejects_path is not None:
                russian.append(report.rejects_path.read_text(encoding="utf-8-sig"))
        assert not report.valid
        assert missed == [], missed
        assert russian and all(cyrillic(t) for t in russian), russian
