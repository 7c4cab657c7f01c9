"""1CClientBankExchange: the writer's golden bytes, round trips, and reading bank statements."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pes_sdk_1c_bank import ClientBankExchangeFormat, ClientBankReader, read_orders

from pes_sdk.errors import FormatError, RegistryRefused
from pes_sdk.formats import Policy
from pes_sdk.models import (
    BankDetails,
    Direction,
    Party,
    PaymentOrder,
    RegistryHeader,
    RegistryKind,
    StatementEntry,
)
from pes_sdk.money import from_kopecks
from pes_sdk.plugins import get_host

GOLDEN = Path(__file__).parent / "golden"
CREATED = dt.datetime(2026, 11, 28, 9, 30, 0)
OURS = "40702810500000001234"

Orders = Callable[..., PaymentOrder]


def header(**kw: object) -> RegistryHeader:
    kw.setdefault("created_at", CREATED)
    return RegistryHeader(
        kind=RegistryKind.TRANSFERS,
        extra=(("sender", "pes-sdk"), ("recipient", "Сбербанк Бизнес Онлайн")),
        **kw,  # type: ignore[arg-type]
    )


def two_orders(make_order: Orders, other: Party) -> list[PaymentOrder]:
    return [
        make_order(),
        make_order(
            number="513",
            amount="98.64",
            payee=other,
            date=dt.date(2026, 11, 29),
            purpose="Перечисление платежей за 28.11.2026 по реестру № 9 от 29.11.2026. "
            "Принято 98,64 руб. Вознаграждение не удержано. Без налога (НДС)",
        ),
    ]


def test_plugin_provides_the_format() -> None:
    fmt = get_host().format("1c-clientbank")
    assert isinstance(fmt, ClientBankExchangeFormat)
    assert fmt.kind is RegistryKind.TRANSFERS
    assert fmt.capabilities.encodings == ("cp1251", "cp866")


def test_golden_bytes(tmp_path: Path, make_order: Orders, other: Party) -> None:
    """The writer's output, byte for byte: cp1251, CRLF, 1.03 header, every document field."""
    out = tmp_path / "orders.txt"
    report = ClientBankExchangeFormat().write(out, header(), two_orders(make_order, other))
    assert report.records == 2
    assert report.total == Decimal("1448.13")
    assert out.read_bytes() == (GOLDEN / "orders-1.03-cp1251.txt").read_bytes()


def test_golden_is_what_1c_expects() -> None:
    """The golden file itself: cp1251 bytes, CRLF only, first and last lines, key header."""
    raw = (GOLDEN / "orders-1.03-cp1251.txt").read_bytes()
    assert raw.count(b"\r\n") == raw.count(b"\n")
    text = raw.decode("cp1251")
    lines = text.split("\r\n")
    assert lines[0] == "1CClientBankExchange"
    assert lines[-2:] == ["КонецФайла", ""]
    for line in (
        "ВерсияФормата=1.03",
        "Кодировка=Windows",
        "ДатаНачала=28.11.2026",
        "ДатаКонца=29.11.2026",
        f"РасчСчет={OURS}",
        "Документ=Платежное поручение",
        "СекцияДокумент=Платежное поручение",
        "Сумма=1349.49",
        "Очередность=5",
        "ВидОплаты=01",
    ):
        assert line in lines
    assert "в т.ч. НДС 22% 4,11 руб." in text
    assert "«УК Дом» (ёлки №5)".encode("cp1251") in raw


def test_round_trip_orders(tmp_path: Path, make_order: Orders, other: Party) -> None:
    orders = two_orders(make_order, other)
    out = tmp_path / "orders.txt"
    ClientBankExchangeFormat().write(out, header(), orders)
    assert read_orders(out) == orders


def test_reader_reads_the_writers_output(tmp_path: Path, make_order: Orders, other: Party) -> None:
    """Our orders, read back as statement entries: outgoing from our account, same sums."""
    orders = two_orders(make_order, other)
    out = tmp_path / "orders.txt"
    ClientBankExchangeFormat().write(out, header(), orders)
    with get_host().format("1c-clientbank").open(out) as reader:
        entries = list(reader)
        report = reader.report
    assert report.valid
    assert [e.direction for e in entries] == [Direction.OUT, Direction.OUT]
    assert all(isinstance(e, StatementEntry) and e.account == OURS for e in entries)
    assert sum(e.amount for e in entries) == sum(o.amount for o in orders) == report.total
    first = entries[0]
    assert isinstance(first, StatementEntry)
    assert (first.counterparty_inn, first.counterparty_account) == (
        "5003012349",
        "40702810200000005678",
    )
    assert first.counterparty_name == "ООО «УК Дом» (ёлки №5)"
    assert reader.header.created_at == CREATED


def test_dos_encoding_round_trip(tmp_path: Path, make_order: Orders) -> None:
    """Кодировка=DOS is cp866, which has no «»: plain quotes then."""
    plain = make_order()
    plain = attrs.evolve(
        plain,
        payer=attrs.evolve(plain.payer, name='ООО "Энергосбыт-Платежи"'),
        payee=attrs.evolve(
            plain.payee,
            name='ООО "УК Дом" (ёлки №5)',
            bank=attrs.evolve(plain.payee.bank, bank_name='АО "ТБанк"'),
        ),
    )
    out = tmp_path / "dos.txt"
    ClientBankExchangeFormat(encoding="DOS").write(out, header(), [plain])
    raw = out.read_bytes()
    assert "Кодировка=DOS".encode("cp866") in raw
    assert "Кодировка".encode("cp1251") not in raw
    assert read_orders(out) == [plain]
    with ClientBankExchangeFormat().open(out) as reader:
        assert reader.encoding == "DOS"
        assert [e.amount for e in reader] == [Decimal("1349.49")]
    with pytest.raises(FormatError, match="cp866"):
        ClientBankExchangeFormat(encoding="DOS").write(tmp_path / "x.txt", header(), [make_order()])


def test_empty_file_of_orders(tmp_path: Path) -> None:
    out = tmp_path / "none.txt"
    ClientBankExchangeFormat().write(out, header(date=dt.date(2026, 11, 28)), [])
    assert read_orders(out) == []
    assert "ДатаНачала=28.11.2026" in out.read_text("cp1251")


def test_writer_refuses_what_cp1251_cannot_hold(tmp_path: Path, make_order: Orders) -> None:
    order = make_order(purpose="Перечисление ✓ платежей, НДС не облагается")
    with pytest.raises(FormatError) as err:
        ClientBankExchangeFormat().write(tmp_path / "x.txt", header(), [order])
    assert err.value.field == "НазначениеПлатежа"
    assert err.value.line > 10
    assert list(tmp_path.iterdir()) == []  # neither the file nor a temporary one


def test_writer_refuses_other_records(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="payment orders"):
        ClientBankExchangeFormat().write(tmp_path / "x.txt", header(), ["nope"])  # type: ignore[list-item]


names = st.text(
    alphabet=st.sampled_from("АБВГДЕЁЖЗабвгдеёжз «»№-=.,()\"'0123456789ABCxyz"), min_size=1
).filter(lambda s: s == s.strip() and 0 < len(s) <= 160)


PAYER = Party(
    "ООО «Энергосбыт-Платежи»",
    "7701012342",
    BankDetails("044525225", OURS, "30101810400000000225", "ПАО Сбербанк", "г. Москва"),
    "770101001",
)
PAYEE_BANK = BankDetails(
    "044525974", "40702810200000005678", "30101810145250000974", "ТБанк", "г. Москва"
)


# Each example writes and fsyncs a file: capped, even under the CI profile.
@settings(max_examples=min(settings.default.max_examples, 100), deadline=None)
@given(
    kopecks=st.integers(1, 10**13),
    name=names,
    number=st.integers(1, 999999),
    purpose=names.map(lambda s: ("НДС не облагается. " + s)[:210].strip()),
)
def test_round_trip_property(kopecks: int, name: str, number: int, purpose: str) -> None:
    """Any order survives cp1251 and back: amounts to the kopeck, Cyrillic names, purposes."""
    payee = Party(name, "5003012349", PAYEE_BANK)
    order = PaymentOrder(
        str(number), dt.date(2026, 11, 28), from_kopecks(kopecks), PAYER, payee, purpose
    )
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "orders.txt"
        ClientBankExchangeFormat().write(out, header(), [order])
        assert read_orders(out) == [order]


def line_of(text: str, needle: str) -> int:
    return text.split("\r\n").index(needle) + 1


def statement_text(
    *,
    total_in: str = "5000.00",
    total_out: str = "1349.49",
    closing: str = "13650.51",
    out_sum: str = "1349.49",
    encoding_name: str = "Windows",
) -> str:
    lines = [
        "1CClientBankExchange",
        "ВерсияФормата=1.03",
        f"Кодировка={encoding_name}",
        "Отправитель=Сбербанк Бизнес Онлайн",
        "Получатель=Бухгалтерия предприятия",
        "ДатаСоздания=30.11.2026",
        "ВремяСоздания=08:00:00",
        "ДатаНачала=27.11.2026",
        "ДатаКонца=29.11.2026",
        f"РасчСчет={OURS}",
        "СекцияРасчСчет",
        "ДатаНачала=27.11.2026",
        "ДатаКонца=29.11.2026",
        f"РасчСчет={OURS}",
        "НачальныйОстаток=10000.00",
        f"ВсегоПоступило={total_in}",
        f"ВсегоСписано={total_out}",
        f"КонечныйОстаток={closing}",
        "КонецРасчСчет",
        "СекцияДокумент=Платежное поручение",
        "Номер=512",
        "Дата=28.11.2026",
        f"Сумма={out_sum}",
        f"ПлательщикСчет={OURS}",
        "ДатаСписано=28.11.2026",
        "Плательщик=ООО «Энергосбыт-Платежи»",
        "ПлательщикИНН=7701012342",
        "ПлательщикБИК=044525225",
        "ПолучательСчет=40702810200000005678",
        "ДатаПоступило=",
        "Получатель=ООО «УК Дом»",
        "ПолучательИНН=5003012349",
        "ПолучательКПП=500301001",
        "ПолучательБИК=044525974",
        "ПолучательБанк1=АО «ТБанк»",
        "НазначениеПлатежа=Перечисление платежей за 27.11.2026 по реестру № 5 от 28.11.2026",
        "КонецДокумента",
        "СекцияДокумент=Платежное поручение",
        "Номер=77",
        "Дата=29.11.2026",
        "Сумма=5000",
        "ПлательщикСчет=40702810300000009999",
        "Плательщик=ИНН 7720123457 АО «Водоканал»",
        "ПлательщикИНН=7720123457",
        "ПлательщикКПП=0",
        "ПлательщикБИК=044525225",
        f"ПолучательСчет={OURS}",
        "ДатаПоступило=29.11.2026",
        "ПолучательИНН=7701012342",
        "НазначениеПлатежа1=Возврат",
        "НазначениеПлатежа2=по договору 1, НДС не облагается",
        "КонецДокумента",
        "КонецФайла",
    ]
    return "\r\n".join(lines) + "\r\n"


def write_statement(path: Path, codec: str = "cp1251", **kw: str) -> Path:
    text = statement_text(**kw)
    if codec == "cp866":  # no «» in DOS
        text = text.replace("«", '"').replace("»", '"')
    path.write_bytes(text.encode(codec))
    return path


def test_reads_a_statement(tmp_path: Path) -> None:
    path = write_statement(tmp_path / "kl_to_1c.txt")
    with get_host().format("1c-clientbank").open(path) as reader:
        entries = [e for e in reader if isinstance(e, StatementEntry)]
        report = reader.report
    assert report.valid and report.records == 2
    out, inc = entries
    assert out.direction is Direction.OUT and out.amount == Decimal("1349.49")
    assert out.value_date == dt.date(2026, 11, 28)
    assert out.counterparty_inn == "5003012349" and out.counterparty_bik == "044525974"
    assert "реестру № 5" in out.purpose
    assert inc.direction is Direction.IN and inc.amount == Decimal("5000.00")
    assert inc.counterparty_name == "АО «Водоканал»"  # "ИНН … " prefix of old files dropped
    assert inc.counterparty_kpp is None  # 0 means none
    assert inc.purpose == "Возврат по договору 1, НДС не облагается"
    assert inc.value_date == dt.date(2026, 11, 29)
    (stmt,) = reader.statements
    assert stmt.account == OURS
    assert (stmt.opening_balance, stmt.closing_balance) == (
        Decimal("10000.00"),
        Decimal("13650.51"),
    )
    assert (stmt.date_from, stmt.date_to) == (dt.date(2026, 11, 27), dt.date(2026, 11, 29))
    assert dict(reader.header.extra)["total_out"] == "1349.49"


def test_reads_a_dos_statement(tmp_path: Path) -> None:
    path = write_statement(tmp_path / "dos.txt", "cp866", encoding_name="DOS")
    with get_host().format("1c-clientbank").open(path) as reader:
        entries = list(reader)
    assert len(entries) == 2
    assert isinstance(entries[0], StatementEntry)
    assert entries[0].counterparty_name == 'ООО "УК Дом"'


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"total_in": "5000.01", "closing": "13650.52"}, "ВсегоПоступило is 5000.01"),
        ({"total_out": "1349.48", "closing": "13650.52"}, "ВсегоСписано is 1349.48"),
        ({"closing": "13650.50"}, "not the closing balance 13650.50"),
    ],
)
def test_statement_totals_are_checked(tmp_path: Path, kw: dict[str, str], message: str) -> None:
    path = write_statement(tmp_path / "bad.txt", **kw)
    with (
        pytest.raises(RegistryRefused, match=message) as err,
        get_host().format("1c-clientbank").open(path) as reader,
    ):
        list(reader)
    assert any(i.field == "control" for i in err.value.issues)


def test_bad_document_strict_and_quarantine(tmp_path: Path) -> None:
    text = statement_text().replace("Сумма=5000\r\n", "Сумма=50,00,0\r\n")
    path = tmp_path / "bad.txt"
    path.write_bytes(text.encode("cp1251"))
    fmt = get_host().format("1c-clientbank")
    with pytest.raises(RegistryRefused) as err, fmt.open(path) as reader:
        list(reader)
    (issue,) = err.value.issues
    assert issue.field == "Сумма"
    assert issue.line == line_of(text, "Сумма=50,00,0")  # the field's own line
    rejects = tmp_path / "rejects.csv"
    with fmt.open(path, policy=Policy.QUARANTINE, rejects_path=rejects) as reader:
        kept = list(reader)
    assert len(kept) == 1 and reader.report.rejected == 1
    assert "Сумма" in rejects.read_text("utf-8-sig")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda t: t.replace("КонецФайла\r\n", ""), "without КонецФайла"),
        (lambda t: t.replace("1CClientBankExchange", "Hello", 1), "not a 1CClientBankExchange"),
        (lambda t: t.replace("КонецДокумента\r\nКонецФайла", "КонецФайла"), "inside an open"),
        (lambda t: t.replace("Кодировка=Windows", "Кодировка=KOI8"), "unknown Кодировка"),
        (lambda t: t.replace("Номер=77\r\n", "Номер 77\r\n"), "not a Key=Value line"),
        (lambda t: t.replace("Номер=77", "Номер=" + "7" * 5000), "longer than 4096 bytes"),
    ],
)
def test_broken_files_are_refused(
    tmp_path: Path, mutate: Callable[[str], str], message: str
) -> None:
    path = tmp_path / "broken.txt"
    path.write_bytes(mutate(statement_text()).encode("cp1251"))
    with (
        pytest.raises(RegistryRefused, match=message),
        get_host().format("1c-clientbank").open(path) as reader,
    ):
        list(reader)


def test_undecodable_bytes_are_refused_with_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bytes.txt"
    text = statement_text()
    needle = "Номер=77".encode("cp1251")
    path.write_bytes(text.encode("cp1251").replace(needle, needle + b"\x98"))
    with (
        pytest.raises(RegistryRefused) as err,
        get_host().format("1c-clientbank").open(path) as reader,
    ):
        list(reader)
    assert err.value.issues[0].line == line_of(text, "Номер=77")


def test_document_of_another_account_is_not_counted(tmp_path: Path) -> None:
    """A document of none of the file's accounts is set aside, not counted: the statement
    that counts it in ВсегоПоступило is then refused by its totals."""
    text = statement_text().replace(f"ПолучательСчет={OURS}", "ПолучательСчет=40702810300000009999")
    path = tmp_path / "alien.txt"
    path.write_bytes(text.encode("cp1251"))
    with (
        pytest.raises(RegistryRefused, match=r"ВсегоПоступило is 5000\.00, the documents sum to 0"),
        get_host().format("1c-clientbank").open(path) as reader,
    ):
        list(reader)
    assert "neither the payer's account" in reader.notes[0].message


# -- what a bank requires, checked by a parser nobody here wrote (issue 11) ----------------


def test_an_independent_parser_finds_every_field_a_bank_requires(
    tmp_path: Path, make_order: Orders, other: Party
) -> None:
    """client-bank-exchange-1c transcribes 1C's table of the fields 1.03 requires in a file
    sent to the bank; it refused every document while the banks' cities were missing."""
    from client_bank_exchange_1c import Document, Header

    out = tmp_path / "orders.txt"
    ClientBankExchangeFormat().write(out, header(), two_orders(make_order, other))
    text = out.read_text(encoding="cp1251")
    Header.from_text(text).to_text(validate=True)
    docs = Document.from_text(text)
    assert len(docs) == 2
    for doc in docs:
        for section in (doc, doc.payer, doc.receiver, doc.payment):
            section.to_text(validate=True)  # ValueError naming a missing required field
        assert doc.payer.bank_2_city == doc.receiver.bank_2_city == "г. Москва"
        assert doc.payer.bank_1_name == "ПАО Сбербанк"


@pytest.mark.parametrize(
    ("side", "change", "key"),
    [
        ("payee", {"city": ""}, "ПолучательБанк2"),
        ("payer", {"city": " "}, "ПлательщикБанк2"),
        ("payee", {"bank_name": ""}, "ПолучательБанк1"),
    ],
)
def test_an_order_without_its_bank_city_or_name_is_refused(
    tmp_path: Path, make_order: Orders, side: str, change: dict[str, str], key: str
) -> None:
    order = make_order(number="513")
    party = getattr(order, side)
    broken = attrs.evolve(
        order, **{side: attrs.evolve(party, bank=attrs.evolve(party.bank, **change))}
    )
    out = tmp_path / "orders.txt"
    with pytest.raises(FormatError) as err:
        ClientBankExchangeFormat().write(out, header(), [make_order(), broken])
    assert err.value.field == key
    assert "order № 513" in err.value.message and "PARTNERS.toml" in err.value.message
    assert list(tmp_path.iterdir()) == []  # nothing written, not even a temporary file


def _created(path: Path) -> dt.datetime:
    lines = dict(
        line.split("=", 1) for line in path.read_text(encoding="cp1251").splitlines() if "=" in line
    )
    return dt.datetime.strptime(
        f"{lines['ДатаСоздания']} {lines['ВремяСоздания']}", "%d.%m.%Y %H:%M:%S"
    )


@pytest.mark.timezone
@pytest.mark.parametrize("host", ["UTC", "America/New_York", "Asia/Yekaterinburg"])
def test_creation_time_is_the_service_zone_whatever_the_host(
    tmp_path: Path, make_order: Orders, host_zone: Callable[[str], None], host: str
) -> None:
    """ДатаСоздания/ВремяСоздания carry no zone: they are the service's wall time (Europe/Moscow
    by default), never the host's."""
    host_zone(host)
    moscow = ZoneInfo("Europe/Moscow")
    fmt = ClientBankExchangeFormat()
    out = tmp_path / "orders.txt"

    # 21:45 UTC on New Year's Eve is already 00:45 of 01.01.2026 in Moscow.
    aware = dt.datetime(2025, 12, 31, 21, 45, tzinfo=dt.UTC)
    fmt.write(out, header(created_at=aware), [make_order()])
    assert _created(out) == dt.datetime(2026, 1, 1, 0, 45)

    # A time without a zone is already the service's wall time: written as it is.
    fmt.write(out, header(created_at=dt.datetime(2025, 12, 31, 23, 45)), [make_order()])
    assert _created(out) == dt.datetime(2025, 12, 31, 23, 45)

    # No time given: now, in the service's zone.
    before = dt.datetime.now(moscow).replace(tzinfo=None, microsecond=0)
    fmt.write(out, header(created_at=None), [make_order()])
    after = dt.datetime.now(moscow).replace(tzinfo=None)
    assert before <= _created(out) <= after

    # Another service zone: Perm is two hours ahead of Moscow.
    perm = ClientBankExchangeFormat(time_zone="Asia/Yekaterinburg")
    perm.write(out, header(created_at=aware), [make_order()])
    assert _created(out) == dt.datetime(2026, 1, 1, 2, 45)


# -- statements as banks write them (issue 12) ---------------------------------------------
#
# The files in statements/ are ours, modelled on real layouts published in public parser
# repositories: a bank-client export (VTB24 "Банк Клиент Онлайн") that is UTF-8 while it
# says Кодировка=Windows, with bank orders (Банковский ордер, Квитанция… fields) and third
# parties' documents carrying 17-digit accounts and ИНН with wrong check digits; and an
# Oracle E-Business Suite (OEBS R12) export with Кодировка=windows in lower case, LF line
# ends, blank lines between documents and tax payments to the treasury.

STATEMENTS = Path(__file__).parent / "statements"


def read_entries(
    path: Path, policy: Policy = Policy.STRICT
) -> tuple[list[StatementEntry], ClientBankReader]:
    with get_host().format("1c-clientbank").open(path, policy=policy) as reader:
        assert isinstance(reader, ClientBankReader)
        entries = [e for e in reader if isinstance(e, StatementEntry)]
    return entries, reader


def test_a_third_partys_odd_document_is_set_aside_not_a_refusal(tmp_path: Path) -> None:
    """An incoming payment whose payer has an ИНН with wrong check digits and a 17-digit
    account is kept out of the entries and noted with the lines of both fields; the rest
    of the statement is read, and its totals (which count that payment) still hold."""
    text = (STATEMENTS / "online-utf8-labelled-windows.txt").read_text("utf-8")
    path = tmp_path / "kl_to_1c.txt"
    path.write_bytes(text.replace("\n", "\r\n").encode("cp1251"))
    entries, reader = read_entries(path)
    assert [(e.doc_number, e.direction) for e in entries] == [
        ("697162", Direction.OUT),
        ("512", Direction.OUT),
        ("901", Direction.IN),
    ]
    lines = text.split("\n")
    notes = {n.field: n for n in reader.notes}
    assert set(notes) == {"ПлательщикИНН", "ПлательщикСчет"}
    assert notes["ПлательщикИНН"].line == lines.index("ПлательщикИНН=590412345012") + 1
    assert notes["ПлательщикСчет"].line == lines.index("ПлательщикСчет=40702810099910004") + 1
    assert "wrong check digits" in notes["ПлательщикИНН"].message
    assert "№ 6" in notes["ПлательщикИНН"].message and "set aside" in notes["ПлательщикИНН"].message
    assert reader.report.valid


def test_our_own_bad_document_still_refuses_the_statement(tmp_path: Path) -> None:
    """What left our account is ours: a payee ИНН with wrong check digits refuses the
    statement, naming the line and the field."""
    text = statement_text().replace("ПолучательИНН=5003012349", "ПолучательИНН=5003012340")
    path = tmp_path / "ours.txt"
    path.write_bytes(text.encode("cp1251"))
    with pytest.raises(RegistryRefused) as err:
        read_entries(path)
    (issue,) = err.value.issues
    assert issue.field == "ПолучательИНН"
    assert issue.line == line_of(text, "ПолучательИНН=5003012340")
    assert err.value.path == path


def test_a_document_of_none_of_our_accounts_is_set_aside(tmp_path: Path) -> None:
    extra = [
        "СекцияДокумент=Платежное поручение",
        "Номер=78",
        "Дата=29.11.2026",
        "Сумма=10.00",
        "ПлательщикСчет=40702810900000008888",
        "ПолучательСчет=40702810600000007777",
        "КонецДокумента",
    ]
    text = statement_text().replace("КонецФайла", "\r\n".join([*extra, "КонецФайла"]))
    path = tmp_path / "alien.txt"
    path.write_bytes(text.encode("cp1251"))
    entries, reader = read_entries(path)
    assert len(entries) == 2
    (note,) = reader.notes
    assert note.line == line_of(text, "ПлательщикСчет=40702810900000008888")
    assert "neither the payer's account" in note.message


def test_a_third_partys_unreadable_amount_still_refuses(tmp_path: Path) -> None:
    """The amount is the bank's own figure the totals are checked against: unreadable, the
    statement cannot be proven complete, whoever paid."""
    text = statement_text().replace("Сумма=5000\r\n", "Сумма=50,00,0\r\n")
    path = tmp_path / "bad.txt"
    path.write_bytes(text.encode("cp1251"))
    with pytest.raises(RegistryRefused) as err:
        read_entries(path)
    assert [(i.line, i.field) for i in err.value.issues] == [
        (line_of(text, "Сумма=50,00,0"), "Сумма")
    ]


@pytest.mark.parametrize(
    ("label", "codec"), [("windows", "cp1251"), ("WINDOWS", "cp1251"), ("dos", "cp866")]
)
def test_the_encoding_label_is_read_without_case(tmp_path: Path, label: str, codec: str) -> None:
    path = write_statement(tmp_path / "kl_to_1c.txt", codec, encoding_name=label)
    entries, reader = read_entries(path)
    assert len(entries) == 2 and reader.notes == []
    assert reader.encoding == ("DOS" if codec == "cp866" else "Windows")


def test_an_oebs_export_with_a_lower_case_label(tmp_path: Path) -> None:
    """Oracle EBS writes Кодировка=windows, LF line ends and blank lines between documents."""
    entries, reader = read_entries(STATEMENTS / "erp-orders-lowercase-windows.txt")
    assert [(e.doc_number, e.amount, e.direction) for e in entries] == [
        ("2335", Decimal("1349.49"), Direction.OUT),
        ("2336", Decimal("1520.00"), Direction.OUT),
    ]
    assert entries[1].counterparty_account == "03100643000000017300"
    assert reader.notes == []


def test_read_orders_takes_a_lower_case_label(tmp_path: Path, make_order: Orders) -> None:
    out = tmp_path / "orders.txt"
    ClientBankExchangeFormat().write(out, header(), [make_order()])
    out.write_bytes(out.read_bytes().replace(b"=Windows", b"=windows"))
    assert read_orders(out) == [make_order()]


def test_a_utf8_file_labelled_windows_is_read_with_a_note() -> None:
    """The file says Windows and is UTF-8: said so (with the line that shows it, in both
    readings), and read as UTF-8, since the label is its only problem."""
    path = STATEMENTS / "online-utf8-labelled-windows.txt"
    entries, reader = read_entries(path)
    assert len(entries) == 3
    assert entries[1].counterparty_name == "ООО «УК Дом»"
    coding = [n for n in reader.notes if n.field == "Кодировка"]
    assert len(coding) == 1
    message = coding[0].message
    assert "says Кодировка=Windows but is UTF-8" in message and "read as UTF-8" in message
    # The line that shows it, in both readings.
    assert "line 2 reads 'ВерсияФормата=1.02' in UTF-8, 'Р’РµСЂСЃРёСЏР¤" in message
    lines = path.read_text("utf-8").split("\n")
    assert coding[0].line == next(i for i, s in enumerate(lines, 1) if not s.isascii())


def test_a_utf8_file_with_a_byte_order_mark_labelled_windows_is_read(tmp_path: Path) -> None:
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbf" + statement_text().encode("utf-8"))
    entries, reader = read_entries(path)
    assert len(entries) == 2
    (note,) = reader.notes
    assert "byte-order mark" in note.message and "read as UTF-8" in note.message


def test_a_file_in_another_one_byte_encoding_is_refused_with_the_reason(tmp_path: Path) -> None:
    """cp866 bytes labelled Windows: refused, naming the likely encoding, not as mojibake."""
    path = tmp_path / "dos.txt"
    path.write_bytes(statement_text().replace("«", '"').replace("»", '"').encode("cp866"))
    with pytest.raises(RegistryRefused, match="most likely cp866") as err:
        read_entries(path)
    assert err.value.issues[0].field == "Кодировка"


def test_read_orders_refuses_a_utf8_file_labelled_windows(
    tmp_path: Path, make_order: Orders
) -> None:
    """Orders for a bank stay strict: a bank would read the UTF-8 bytes as cp1251."""
    out = tmp_path / "orders.txt"
    ClientBankExchangeFormat().write(out, header(), [make_order()])
    out.write_bytes(out.read_bytes().decode("cp1251").encode("utf-8"))
    with pytest.raises(FormatError, match="is UTF-8") as err:
        read_orders(out)
    assert err.value.field == "Кодировка" and err.value.line > 0
