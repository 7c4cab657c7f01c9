"""The conformance suite's transfers family against both bank formats, found by name.

The suite settles its payment sample into payment orders; these classes tell it how each
format makes a bank statement of them (``statement_for``) and, for DirectBank, how its
``PayDocRu`` orders are read back (its reader reads only ``Statement`` documents).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from pes_sdk_1c_bank import read_orders, read_paydoc, write_statement
from pes_sdk_conformance.transfers import TransferFormatConformance

from pes_sdk.formats.base import RegistryFormat
from pes_sdk.models import Direction, Party, PaymentOrder, Statement, StatementEntry


def _ru(day: dt.date | None) -> str:
    return "" if day is None else day.strftime("%d.%m.%Y")


def _money(value: Decimal | None) -> str:
    return "" if value is None else f"{value:.2f}"


def clientbank_statement(
    path: Path, owner: Party, statement: Statement, entries: Sequence[StatementEntry]
) -> Path:
    """A 1CClientBankExchange statement as a bank-client program exports it (cp1251, CRLF)."""
    ours = statement.account
    lines = [
        "1CClientBankExchange",
        "ВерсияФормата=1.03",
        "Кодировка=Windows",
        "Отправитель=Сбербанк Бизнес Онлайн",
        "Получатель=Бухгалтерия предприятия",
        "ДатаСоздания=30.11.2026",
        "ВремяСоздания=08:00:00",
        f"ДатаНачала={_ru(statement.date_from)}",
        f"ДатаКонца={_ru(statement.date_to)}",
        f"РасчСчет={ours}",
        "СекцияРасчСчет",
        f"ДатаНачала={_ru(statement.date_from)}",
        f"ДатаКонца={_ru(statement.date_to)}",
        f"РасчСчет={ours}",
        f"НачальныйОстаток={_money(statement.opening_balance)}",
        f"ВсегоПоступило={_money(statement.total_in)}",
        f"ВсегоСписано={_money(statement.total_out)}",
        f"КонечныйОстаток={_money(statement.closing_balance)}",
        "КонецРасчСчет",
    ]
    for e in entries:
        we_pay = e.direction is Direction.OUT
        them = [
            ("Счет", e.counterparty_account or ""),
            ("1", e.counterparty_name),
            ("ИНН", e.counterparty_inn or ""),
            ("КПП", e.counterparty_kpp or ""),
            ("БИК", e.counterparty_bik or ""),
            ("Банк1", e.counterparty_bank),
        ]
        us = [
            ("Счет", ours),
            ("1", owner.name),
            ("ИНН", owner.inn),
            ("КПП", owner.kpp or ""),
            ("БИК", owner.bank.bik),
            ("Банк1", owner.bank.bank_name),
        ]
        payer, payee = (us, them) if we_pay else (them, us)
        lines += [
            f"СекцияДокумент={e.doc_kind or 'Платежное поручение'}",
            f"Номер={e.doc_number}",
            f"Дата={_ru(e.doc_date)}",
            f"Сумма={_money(e.amount)}",
            *(f"Плательщик{k}={v}" for k, v in payer),
            *(f"Получатель{k}={v}" for k, v in payee),
            f"{'ДатаСписано' if we_pay else 'ДатаПоступило'}={_ru(e.value_date)}",
            f"НазначениеПлатежа={e.purpose}",
            "КонецДокумента",
        ]
    lines.append("КонецФайла")
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1251"))
    return path


class TestClientBankExchange(TransferFormatConformance):
    format_name = "1c-clientbank"
    # A bad value is reported on its own line (that of its key), else on the line its
    # document starts on (СекцияДокумент=…).
    document_start = r"СекцияДокумент="

    def statement_for(
        self,
        fmt: RegistryFormat,
        folder: Path,
        owner: Party,
        statement: Statement,
        entries: Sequence[StatementEntry],
    ) -> Path:
        return clientbank_statement(folder / "kl_to_1c.txt", owner, statement, entries)

    def read_back(self, fmt: RegistryFormat, paths: Sequence[Path]) -> list[PaymentOrder]:
        # The reader gives our own orders back as outgoing entries (the default would do);
        # read_orders gives the whole PaymentOrder, corr. accounts and all.
        return [o for p in paths for o in read_orders(p)]


class TestDirectBank(TransferFormatConformance):
    format_name = "1c-directbank"
    # A bad value is reported on the line of its operation's element.
    document_start = r"\s*<OperationInfo\b"

    def statement_for(
        self,
        fmt: RegistryFormat,
        folder: Path,
        owner: Party,
        statement: Statement,
        entries: Sequence[StatementEntry],
    ) -> Path:
        return write_statement(
            folder / "Statement.xml", statement, entries, owner=owner, bank_name="ПАО Сбербанк"
        )

    def read_back(self, fmt: RegistryFormat, paths: Sequence[Path]) -> list[PaymentOrder]:
        return [read_paydoc(p) for p in paths]
