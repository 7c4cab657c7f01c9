"""Bills read back as a client's PDF viewer and bank app would: the text with pypdf, the QR
code from the image embedded in the page with zxing-cpp, an independent decoder."""

from __future__ import annotations

import hashlib
import io
import os
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from pes_sdk.bills import (
    FONT_ENV,
    Bill,
    BillError,
    BillFontError,
    BillLine,
    BillRenderer,
    bills_from_records,
    find_font,
    rubles,
    write_atomic,
)
from pes_sdk.bills import pdf as bills_pdf
from pes_sdk.files import file_mode
from pes_sdk.models.debts import DebtRecord
from pes_sdk.models.partners import BankDetails, Partner
from pes_sdk.period import Period
from pes_sdk.qr import decode

pypdf = pytest.importorskip("pypdf")
zxingcpp = pytest.importorskip("zxingcpp")
Image = pytest.importorskip("PIL.Image")

PERIOD = Period(2026, 11)
PARTNER = Partner(
    "7707083893",
    "ООО «Управляющая компания «Дом»",
    BankDetails(
        "044525225", "40702810638000000000", "30101810400000000225", "ПАО СБЕРБАНК", "г. Москва"
    ),
    kpp="770701001",
)
HOUSE = "0c5b2444-70a0-4932-980c-b4dc0d3f02b5"


def _record(account: str, amount: str, service: str, period: Period | None = None) -> DebtRecord:
    return DebtRecord(account, HOUSE, "кв. 12А", Decimal(amount), service=service, period=period)


BILL = Bill.from_records(
    PARTNER,
    PERIOD,
    [
        _record("000123", "1234.56", "Холодное водоснабжение"),
        _record("000123", "2500.00", "Отопление"),
        _record("000123", "-100.10", "Вывоз ТКО", period=Period(2026, 10)),
    ],
    address="г. Пермь, ул. Ленина, д. 10",
    registry_number=3,
)


@pytest.fixture(scope="module")
def renderer() -> BillRenderer:
    return BillRenderer()


def _text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def _qr(data: bytes) -> bytes:
    """The bytes of the one QR code drawn in the PDF's first page, as zxing-cpp reads them
    from the image pypdf extracts (enlarged: the PDF holds one pixel a module)."""
    reader = pypdf.PdfReader(io.BytesIO(data))
    images = reader.pages[0].images
    assert len(images) == 1
    image = images[0].image
    big = image.resize((image.width * 6, image.height * 6), Image.Resampling.NEAREST)
    found = zxingcpp.read_barcodes(big, formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(found) == 1
    return bytes(found[0].bytes)


def test_rubles_are_written_as_russian_bills_write_them() -> None:
    assert rubles(Decimal("1234.56")) == "1 234,56 руб."
    assert rubles(Decimal("1234567.8")) == "1 234 567,80 руб."
    assert rubles(Decimal("0")) == "0,00 руб."
    assert rubles(Decimal("-100.1")) == "-100,10 руб."
    assert rubles(Decimal("999")) == "999,00 руб."


def test_the_text_is_there_in_russian(renderer: BillRenderer) -> None:
    text = _text(renderer.render(BILL))
    for expected in (
        "Квитанция на оплату за ноябрь 2026",
        "ООО «Управляющая компания «Дом»",
        "ИНН 7707083893",
        "КПП 770701001",
        "Р/с 40702810638000000000",
        "Банк: ПАО СБЕРБАНК",
        "БИК 044525225",
        "К/с 30101810400000000225",
        "Лицевой счёт: 000123",
        "Помещение: кв. 12А",
        "Адрес: г. Пермь, ул. Ленина, д. 10",
        "Холодное водоснабжение",
        "1 234,56 руб.",
        "2 500,00 руб.",
        "Вывоз ТКО (за октябрь 2026)",
        "-100,10 руб.",
        "3 634,46 руб.",
        "№ 3",
    ):
        assert expected in text, expected


@pytest.mark.parametrize("encoder", ["segno", "zxing"])
def test_the_qr_code_in_the_page_carries_the_bill(encoder: str) -> None:
    data = BillRenderer(qr_encoder=encoder).render(BILL)
    details = decode(_qr(data)).details
    assert details.name == PARTNER.name
    assert details.payee_inn == PARTNER.inn
    assert details.kpp == PARTNER.kpp
    assert details.personal_acc == PARTNER.bank.account
    assert details.bic == PARTNER.bank.bik
    assert details.corresp_acc == PARTNER.bank.corr_account
    assert details.bank_name == PARTNER.bank.bank_name
    assert details.pers_acc == "000123"
    assert details.paym_period == "112026"
    assert details.sum == Decimal("3634.46")


def test_golden_qr_string(renderer: BillRenderer) -> None:
    # Written out by hand from the standard's rules (docs/qr.md): the required block in its
    # order, then the fields some bank apps need early, then the rest; Sum in kopecks.
    assert renderer.qr_bytes(BILL).decode("utf-8") == (
        "ST00012|Name=ООО «Управляющая компания «Дом»|PersonalAcc=40702810638000000000"
        "|BankName=ПАО СБЕРБАНК|BIC=044525225|CorrespAcc=30101810400000000225"
        "|KPP=770701001|PayeeINN=7707083893|Purpose=Оплата ЖКУ за ноябрь 2026, л/с 000123"
        "|Sum=363446|PayerAddress=г. Пермь, ул. Ленина, д. 10, кв. 12А|PersAcc=000123"
        "|PaymPeriod=112026|TechCode=02"
    )


def test_an_advance_has_no_sum(renderer: BillRenderer) -> None:
    bill = Bill.from_records(
        PARTNER, PERIOD, [_record("000777", "-250.00", "Отопление")], registry_number=1
    )
    assert bill.total == Decimal("-250.00")
    assert bill.due == Decimal("0.00")
    data = renderer.render(bill)
    details = decode(_qr(data)).details
    assert details.sum is None
    assert details.pers_acc == "000777"
    text = _text(data)
    assert "аванс (переплата)" in text
    assert "250,00 руб." in text
    assert "Итого к оплате 0,00 руб." in text
    assert "Сумма вводится при оплате" in text


def test_a_bill_is_the_same_bytes_every_time(renderer: BillRenderer) -> None:
    # What lets the runner leave an unchanged bill's file alone.
    assert renderer.render(BILL) == renderer.render(BILL)
    other = BillRenderer()
    assert other.render(BILL) == renderer.render(BILL)


def test_many_services_go_on_to_more_pages(renderer: BillRenderer) -> None:
    records = [_record("42", f"{i}.01", f"Услуга номер {i:03d}") for i in range(1, 121)]
    bill = Bill.from_records(PARTNER, PERIOD, records)
    data = renderer.render(bill)
    reader = pypdf.PdfReader(io.BytesIO(data))
    assert len(reader.pages) > 1
    text = _text(data)
    for i in range(1, 121):
        assert f"Услуга номер {i:03d}" in text
        assert f"{i},01 руб." in text
    assert rubles(bill.total) in text


def test_a_character_the_font_lacks_is_a_question_mark(renderer: BillRenderer) -> None:
    bill = Bill(PARTNER, PERIOD, "1", "1", [BillLine("Вода 水", Decimal("1"))])
    assert "Вода ?" in _text(renderer.render(bill))


def test_long_names_wrap_inside_the_page(renderer: BillRenderer) -> None:
    service = "Содержание и ремонт общего имущества многоквартирного дома " * 4
    bill = Bill(PARTNER, PERIOD, "1", "1", [BillLine(service.strip(), Decimal("10"))])
    text = _text(renderer.render(bill))
    assert "Содержание и ремонт" in text
    assert "10,00 руб." in text


def test_a_partner_without_a_bank_name_is_refused_plainly(renderer: BillRenderer) -> None:
    partner = Partner(
        PARTNER.inn,
        PARTNER.name,
        BankDetails("044525225", "40702810638000000000", "30101810400000000225"),
    )
    bill = Bill(partner, PERIOD, "1", "1", [BillLine("Вода", Decimal("1"))])
    with pytest.raises(BillError, match=r"7707083893: bank.bank_name is empty"):
        renderer.render(bill)


def test_bills_from_records_one_per_account_in_order() -> None:
    records = [
        _record("1", "10", "Вода"),
        _record("1", "20", "Свет"),
        _record("2", "5", "Вода"),
    ]
    bills = list(bills_from_records(PARTNER, PERIOD, records, registry_number=2))
    assert [(b.account, b.total) for b in bills] == [
        ("1", Decimal("30.00")),
        ("2", Decimal("5.00")),
    ]
    with pytest.raises(BillError):
        Bill.from_records(PARTNER, PERIOD, [_record("1", "1", "a"), _record("2", "1", "b")])


def test_write_is_atomic(tmp_path: Path, renderer: BillRenderer) -> None:
    path = tmp_path / "000123.pdf"
    digest = renderer.write(BILL, path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    before = path.read_bytes()

    class Broken(Exception):
        pass

    original = Path.write_bytes

    def half_then_fail(self: Path, data: bytes) -> int:
        original(self, data[: len(data) // 2])
        raise Broken

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Path, "write_bytes", half_then_fail)
        with pytest.raises(Broken):
            write_atomic(path, b"%PDF-1.7 another bill" * 100)
        with pytest.raises(Broken):
            write_atomic(tmp_path / "new.pdf", b"%PDF-1.7 a new bill" * 100)
    assert path.read_bytes() == before  # the old file, whole
    assert not (tmp_path / "new.pdf").exists()  # no half of a new one under its name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["000123.pdf"]  # no temporary left


def test_a_write_left_to_settle_is_atomic_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "000123.pdf"
    write_atomic(path, b"old bill", durable=False)

    def no_rename(src: str, dst: object) -> None:
        raise OSError("the rename failed")

    monkeypatch.setattr(os, "replace", no_rename)
    with pytest.raises(OSError, match="rename failed"):
        write_atomic(path, b"new bill", durable=False)
    monkeypatch.undo()
    assert path.read_bytes() == b"old bill"
    assert [p.name for p in tmp_path.iterdir()] == ["000123.pdf"]  # the temporary removed
    write_atomic(path, b"new bill", durable=False)
    assert oct(path.stat().st_mode & 0o777) == oct(file_mode())


@pytest.mark.parametrize("syncfs", [True, False])
def test_settle_makes_files_durable_either_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, syncfs: bool
) -> None:
    # Durability itself cannot be observed without pulling the plug; what can: each way
    # runs on real files (syncfs(2) on Linux, or the fsync of each file and folder).
    synced: list[int] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    if not syncfs:
        monkeypatch.setattr(bills_pdf, "_syncfs", lambda folder: False)
    paths = []
    for n in range(3):
        paths.append(tmp_path / f"{n}.pdf")
        write_atomic(paths[-1], b"bill", durable=False)
    bills_pdf.settle(paths)
    if syncfs and sys.platform.startswith("linux"):
        assert synced == []
    else:
        assert len(synced) == 3 + 1  # each file, then the folder


def test_a_missing_font_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "NoSuch.ttf"
    with pytest.raises(BillFontError, match=r"NoSuch\.ttf"):
        BillRenderer(missing)
    monkeypatch.setenv(FONT_ENV, str(missing))
    with pytest.raises(BillFontError, match=rf"NoSuch\.ttf.*{FONT_ENV}"):
        find_font()
    monkeypatch.delenv(FONT_ENV)
    monkeypatch.setattr(bills_pdf, "FONT_CANDIDATES", (tmp_path / "a.ttf", tmp_path / "b.ttf"))
    with pytest.raises(BillFontError) as caught:
        find_font()
    assert str(tmp_path / "a.ttf") in str(caught.value)
    assert "fonts-dejavu-core" in str(caught.value)


def test_a_file_that_is_not_a_font_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "fake.ttf"
    fake.write_bytes(b"not a font at all")
    with pytest.raises(BillFontError, match=r"fake\.ttf"):
        BillRenderer(fake)


def test_a_font_from_the_environment_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    font = find_font()
    monkeypatch.setenv(FONT_ENV, str(font))
    assert BillRenderer().font_path == font
