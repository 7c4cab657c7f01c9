"""PARTNERS.toml: the documented example loads; a bad file lists every problem at once."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pes_sdk.errors import ConfigError
from pes_sdk.partners_file import PartnersFileError, load_partners, parse_partners

DOC = Path(__file__).resolve().parents[1] / "docs" / "partners-toml.md"
PLANS = ("percent", "subscription")

GOOD = """
[service]
name = "ООО «Энергосбыт-Платежи»"
inn = "7701012342"
kpp = "770101001"

[service.bank]
bik = "044525225"
account = "40702810500000001234"
corr_account = "30101810400000000225"
name = "ПАО Сбербанк"
city = "г. Москва"

[[partners]]
inn = "5003012349"
kpp = "500301001"
name = "ООО «УК Дом»"
bank = {bik="044525974", account="40702810200000005678", name="АО «ТБанк»", city="г. Москва"}
"""


def doc_example() -> str:
    text = DOC.read_text("utf-8")
    m = re.search(r"## A full example\s+```toml\n(.*?)```", text, re.DOTALL)
    assert m, "docs/partners-toml.md has its full example in a toml block"
    return m.group(1)


def test_documented_example_loads(tmp_path: Path) -> None:
    path = tmp_path / "PARTNERS.toml"
    path.write_text(doc_example(), "utf-8")
    pf = load_partners(path, plans=PLANS)
    assert pf.path == path
    assert pf.service.inn == "7701012342" and pf.service.directbank_id == "client-42"
    assert pf.service.party.account == "40702810500000001234"
    uk, water = pf.partners
    assert (uk.inn, uk.kpp, uk.name) == ("5003012349", "500301001", "ООО «УК Дом»")
    assert uk.bank.bik == "044525974" and uk.bank.bank_name == "АО «ТБанк»"
    assert uk.fee.plan == "percent" and uk.fee.rate == Decimal("0.0136")
    assert water.kpp == "772001001"
    assert uk.bank.city == water.bank.city == pf.service.bank.city == "г. Москва"
    assert water.fee.plan == "subscription"
    assert water.fee.rate == Decimal("0.01")  # "1%"
    assert water.fee.monthly_fee == Decimal("100.00")
    assert water.fee.params == {"contract": "АД-17/2026"}
    assert pf.find("5003012349") is uk and pf.find("7707083893") is None


def test_defaults() -> None:
    pf = parse_partners(GOOD)
    (p,) = pf.partners
    assert p.fee.plan == "percent" and p.fee.rate == Decimal("0.0136")
    assert pf.service.directbank_id == "7701012342"
    assert pf.service.purpose is None


def test_floats_are_exact_decimals() -> None:
    pf = parse_partners(GOOD + "fee = { rate = 0.1, monthly_fee = 100.10 }\n")
    fee = pf.partners[0].fee
    assert fee.rate == Decimal("0.1") and isinstance(fee.rate, Decimal)
    assert fee.monthly_fee == Decimal("100.10")


BAD = """
version = 2
colour = "blue"

[service]
name = ""
inn = 7701012342
bank = {bik="044525225", account="40702810500000001235", corr_account="30101810400000000226"}

[[partners]]
inn = "5003012348"
name = "ООО «УК Дом»"
bank = { bik = "04452597", account = "40702810200000005678" }
fee = { plan = "flat", rate = 1.5 }

[[partners]]
nmae = "typo"
inn = "7720123457"
name = "АО «Водоканал»"
bank = { bik = "044525225", account = "40702810500000001234" }
fee = { rate = 0.015, monthly_fee = "10.001", params = { a = [1] } }

[[partners]]
inn = "7720123457"
name = "АО «Водоканал», дубль"
kpp = "77AB01001x"
fee = "percent"
"""


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    path = tmp_path / "PARTNERS.toml"
    path.write_text(BAD, "utf-8")
    with pytest.raises(PartnersFileError) as err:
        load_partners(path, plans=PLANS)
    exc = err.value
    assert isinstance(exc, ConfigError)
    assert exc.path == path
    problems = "\n".join(exc.problems)
    expected = [
        "version: this pes-sdk reads version 1, not 2",
        "colour: unknown key",
        "service.name: is empty",
        "service.inn: is written as text in quotes, not as the number 7701012342",
        "service.bank.account: bank account 40702810500000001235 fails its control key "
        "with БИК 044525225",
        "service.bank.corr_account: correspondent account 30101810400000000226 fails its "
        "control key",
        "partners[0].inn: ИНН 5003012348 has wrong check digits",
        "partners[0].bank.bik: a БИК is 9 digits, not '04452597'",
        "partners[0].fee.plan: unknown fee plan 'flat'; known: percent, subscription",
        "partners[0].fee.rate: a rate is a fraction in [0, 1), not 1.5",
        "partners[1].nmae: unknown key; allowed here: bank, fee, inn, kpp, name",
        "partners[1].fee.monthly_fee: not an amount: '10.001'",
        "partners[1].fee.params: a: a parameter is text or a number, not an array",
        "partners[2].inn: ИНН 7720123457 is already partners[1]",
        "partners[2].kpp: a КПП is 9 characters",
        "partners[2].bank: missing",
        "partners[2].fee: is a table, not text",
    ]
    for text in expected:
        assert text in problems, f"{text!r} not among:\n{problems}"
    assert str(exc).startswith(f"{path}: {len(exc.problems)} problems:")
    assert len(exc.problems) == len(set(exc.problems))


def test_rate_out_of_range_and_service_account() -> None:
    text = (
        GOOD.replace(
            'account = "40702810200000005678", corr_account = "30101810145250000974"',
            'account = "40702810200000005678"',
        )
        + "fee = { rate = 1.5 }\n"
    )
    with pytest.raises(PartnersFileError) as err:
        parse_partners(text)
    assert err.value.problems == ("partners[0].fee.rate: a rate is a fraction in [0, 1), not 1.5",)
    same = GOOD.replace(
        'bik="044525974", account="40702810200000005678"',
        'bik="044525225", account="40702810500000001234"',
    )
    with pytest.raises(
        PartnersFileError, match=r"partners\[0\].bank.account: is the service's own"
    ):
        parse_partners(same)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[service\n", "not valid TOML"),
        ("", "service: missing"),
        ("partners = 3\n" + GOOD.split("[[partners]]")[0], "partners: is an array of tables"),
        (
            GOOD.replace('name = "ООО «Энергосбыт-Платежи»"', "name = 'x'\npurpose = 'за {day}'"),
            "must state VAT",
        ),
        (
            GOOD.replace('name = "ООО «Энергосбыт-Платежи»"', "name = 'x'\npurpose = 'НДС {nope}'"),
            "unknown placeholder(s) nope",
        ),
    ],
)
def test_single_problems(text: str, problem: str) -> None:
    with pytest.raises(PartnersFileError, match=re.escape(problem)):
        parse_partners(text)


def test_unreadable_and_not_utf8(tmp_path: Path) -> None:
    with pytest.raises(PartnersFileError, match="cannot be read"):
        load_partners(tmp_path / "missing.toml")
    path = tmp_path / "cp1251.toml"
    path.write_bytes(GOOD.encode("cp1251"))
    with pytest.raises(PartnersFileError, match="not UTF-8"):
        load_partners(path)


def test_branches_share_an_inn() -> None:
    branch = """
[[partners]]
inn = "5003012349"
kpp = "500302001"
name = "ООО «УК Дом», филиал"
bank = { bik = "044525974", account = "40702810200000005678", name = "ТБанк", city = "Москва" }
"""
    text = GOOD + branch
    pf = parse_partners(text)
    assert len(pf.by_inn("5003012349")) == 2
    assert pf.find("5003012349") is None  # ambiguous without a КПП
    found = pf.find("5003012349", "500302001")
    assert found is not None and found.kpp == "500302001"
    with pytest.raises(PartnersFileError, match=r"partners\[1\].inn: ИНН 5003012349 КПП 500301001"):
        parse_partners(text.replace('kpp = "500302001"', 'kpp = "500301001"'))


def test_bank_name_and_city_are_required() -> None:
    """A bank file needs each bank's name and city (ПлательщикБанк1/Банк2, Bank/City):
    a PARTNERS.toml without them is refused, naming the key path."""
    text = GOOD.replace('city = "г. Москва"\n', "").replace(', name="АО «ТБанк»"', "")
    with pytest.raises(PartnersFileError) as err:
        parse_partners(text)
    assert err.value.problems == (
        "service.bank.city: missing",
        "partners[0].bank.name: missing",
    )
    too_long = GOOD.replace('city = "г. Москва"', f'city = "{"г. " + "Я" * 28}"')
    with pytest.raises(PartnersFileError, match=r"service\.bank\.city: is 31 characters"):
        parse_partners(too_long)


def test_a_legal_entity_needs_its_kpp() -> None:
    """A 10-digit ИНН is a legal entity: without a КПП it cannot be reported to ГИС ЖКХ in
    full form, so the service's and each partner's КПП is required; a 12-digit ИНН (an
    individual entrepreneur) has none."""
    text = GOOD.replace('kpp = "770101001"\n', "").replace('kpp = "500301001"\n', "")
    with pytest.raises(PartnersFileError) as err:
        parse_partners(text)
    assert [p.split(": ", 1)[0] for p in err.value.problems] == ["service.kpp", "partners[0].kpp"]
    assert "legal entity (10-digit ИНН)" in err.value.problems[0]
    person = GOOD.replace('inn = "5003012349"\nkpp = "500301001"\n', 'inn = "771234560099"\n')
    assert parse_partners(person).partners[0].kpp is None


def test_service_time_zone() -> None:
    assert parse_partners(GOOD).service.time_zone == ZoneInfo("Europe/Moscow")
    perm = GOOD.replace(
        'kpp = "770101001"\n', 'kpp = "770101001"\ntime_zone = "Asia/Yekaterinburg"\n'
    )
    assert parse_partners(perm).service.time_zone == ZoneInfo("Asia/Yekaterinburg")
    with pytest.raises(PartnersFileError, match=r"service\.time_zone: unknown time zone 'Mars'"):
        parse_partners(
            GOOD.replace('kpp = "770101001"\n', 'kpp = "770101001"\ntime_zone = "Mars"\n')
        )
