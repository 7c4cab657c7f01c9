"""1CClientBankExchange, version 1.03: payment orders written, bank statements read.

The format is line-based ``Key=Value`` text, CRLF, in Windows-1251 (``Кодировка=Windows``)
or CP866 (``Кодировка=DOS``)::

    1CClientBankExchange
    ВерсияФормата=1.03
    Кодировка=Windows
    ...header...
    СекцияРасчСчет              (statements only: one per account)
    ...ДатаНачала, РасчСчет, НачальныйОстаток, ВсегоПоступило, ВсегоСписано, КонечныйОстаток
    КонецРасчСчет
    СекцияДокумент=Платежное поручение
    ...Номер, Дата, Сумма, Плательщик..., Получатель..., НазначениеПлатежа
    КонецДокумента
    КонецФайла

The writer (:meth:`ClientBankExchangeFormat.write`) takes
:class:`~pes_sdk.models.PaymentOrder` records and writes the file a bank-client program or
1C loads. The reader (:meth:`ClientBankExchangeFormat.open`) yields
:class:`~pes_sdk.models.StatementEntry` records, one per document, each seen from *our*
account: a document whose payer account is one of the file's ``РасчСчет`` is outgoing,
one whose payee account is, incoming. Only outgoing documents are checked strictly; another
party's document that cannot be read is set aside with a note (see
:class:`ClientBankReader`). Reading the writer's own output therefore gives the orders back
as outgoing entries; :func:`read_orders` gives them back as payment orders.
"""

from __future__ import annotations

import codecs
import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import IO, Literal, TypeVar, cast

import attrs

from pes_sdk import __version__ as sdk_version
from pes_sdk.errors import FormatError, Issue, RegistryRefused
from pes_sdk.files import atomic_path
from pes_sdk.formats.base import (
    FormatCapabilities,
    Policy,
    ReadReport,
    Record,
    RegistryFormat,
    RegistryReader,
    WriteReport,
)
from pes_sdk.formats.quarantine import DEFAULT_ISSUE_LIMIT, RejectSink
from pes_sdk.formats.text import judge_encoding
from pes_sdk.i18n import join
from pes_sdk.models.partners import BankDetails
from pes_sdk.models.registry import RegistryHeader, RegistryKind
from pes_sdk.models.transfers import Direction, Party, PaymentOrder, Statement, StatementEntry
from pes_sdk.money import ZERO, parse_amount
from pes_sdk_1c_bank._checks import missing_bank_details
from pes_sdk_1c_bank._clock import wall_time, zone_of
from pes_sdk_1c_bank.i18n import tr

__all__ = ["ENCODINGS", "ClientBankExchangeFormat", "ClientBankReader", "read_orders"]

#: ``Кодировка`` values and the Python codecs they name.
ENCODINGS = {"Windows": "cp1251", "DOS": "cp866"}
# The label is read without case: Oracle E-Business Suite writes Кодировка=windows.
_LABELS = {name.casefold(): name for name in ENCODINGS}
# Where the label is looked for: in the encoding it names, and in UTF-8 (a file saved as
# UTF-8 that kept its label; its text then tells which it really is).
_LABEL_CODECS = ("cp1251", "cp866", "utf-8")
#: How much of a file's head the ``Кодировка`` label and the encoding rule look at.
HEAD_BYTES = 65536
FIRST_LINE = "1CClientBankExchange"
FORMAT_VERSION = "1.03"
ORDER_KIND = "Платежное поручение"
#: Longest line accepted when reading: far above any real field, far below a memory problem.
MAX_LINE = 4096

_DATE = re.compile(r"(\d{2})\.(\d{2})\.(\d{4})", re.ASCII)
_TIME = re.compile(r"(\d{2}):(\d{2}):(\d{2})", re.ASCII)
# Older 1C versions put "ИНН 7707083893 ООО Ромашка" into Плательщик; the name is the rest.
_INN_PREFIX = re.compile(r"^ИНН\s+\d{10,12}\s+")

_T = TypeVar("_T")


def _ru_date(day: dt.date) -> str:
    return day.strftime("%d.%m.%Y")


def _parse_date(text: str) -> dt.date:
    m = _DATE.fullmatch(text.strip())
    if not m:
        raise ValueError(tr("not a date dd.mm.yyyy: {text!r}", text=text))
    d, mo, y = (int(g) for g in m.groups())
    try:
        return dt.date(y, mo, d)
    except ValueError as exc:
        # The English stays Python's own words ("month must be in 1..12"); Russian adds why.
        # Translators: {detail} is Python's English reason, e.g. "month must be in 1..12".
        raise ValueError(tr("{detail}", detail=str(exc))) from None


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


# -- writing -------------------------------------------------------------------------------


def _party_lines(prefix: str, party: Party) -> list[tuple[str, str]]:
    bank = party.bank
    lines = [
        (f"{prefix}Счет", bank.account),
        (prefix, party.name),
        (f"{prefix}ИНН", party.inn),
        (f"{prefix}КПП", party.kpp or ""),
        (f"{prefix}1", party.name),
        (f"{prefix}РасчСчет", bank.account),
        (f"{prefix}Банк1", bank.bank_name),
        (f"{prefix}Банк2", bank.city),
        (f"{prefix}БИК", bank.bik),
        (f"{prefix}Корсчет", bank.corr_account),
    ]
    return lines


_BANK_KEYS = {
    ("payer", "name"): "ПлательщикБанк1",
    ("payer", "city"): "ПлательщикБанк2",
    ("payee", "name"): "ПолучательБанк1",
    ("payee", "city"): "ПолучательБанк2",
}


def order_lines(order: PaymentOrder) -> list[tuple[str, str]]:
    """The ``Key=Value`` pairs of one payment order's document section, in file order."""
    pairs = [
        ("СекцияДокумент", ORDER_KIND),
        ("Номер", order.number),
        ("Дата", _ru_date(order.date)),
        ("Сумма", _money(order.amount)),
        *_party_lines("Плательщик", order.payer),
        *_party_lines("Получатель", order.payee),
    ]
    if order.payment_kind:
        pairs.append(("ВидПлатежа", order.payment_kind))
    pairs += [
        ("ВидОплаты", order.kind),
        ("Код", order.code),
        ("Очередность", str(order.priority)),
        ("НазначениеПлатежа", order.purpose),
        ("КонецДокумента", ""),
    ]
    return pairs


def _line(key: str, value: str) -> str:
    if key in ("КонецДокумента", "КонецФайла", FIRST_LINE):
        return key
    return f"{key}={value}"


@attrs.frozen
class _Written:
    count: int
    total: Decimal


# -- reading -------------------------------------------------------------------------------


def _label(head: bytes) -> str | None:
    """The ``Кодировка`` a file's first bytes declare, as :data:`ENCODINGS` names it (the
    value's case does not matter); None when they declare none.

    Raises :class:`FormatError` (field ``Кодировка``) for a value that names neither.
    """
    for codec in _LABEL_CODECS:
        key = "Кодировка=".encode(codec)
        at = head.find(key)
        if at < 0:
            continue
        end = at + len(key)
        stop = min(
            (i for i in (head.find(b"\r", end), head.find(b"\n", end)) if i >= 0), default=-1
        )
        value = head[end : stop if stop >= 0 else None].decode(codec, "replace").strip()
        name = _LABELS.get(value.casefold())
        if name is None:
            raise FormatError(
                tr(
                    "unknown Кодировка={value!r}; known: {known} (in any case)",
                    value=value,
                    known=", ".join(ENCODINGS),
                ),
                line=head.count(b"\n", 0, at) + 1,
                field="Кодировка",
            )
        return name
    return None


@attrs.frozen
class _Encoding:
    """How a file is read: the ``Кодировка`` it declares (Windows when none) and the codec
    of its text. ``mismatch`` says why they differ (the codec is then UTF-8), and ``line``
    is the first line that shows it."""

    name: str
    codec: str
    mismatch: str = ""
    line: int = 0


def _encoding(head: bytes) -> _Encoding:
    """How to read the file whose first bytes are ``head``.

    The label is checked against the text with the kit's rule for declared encodings
    (:func:`pes_sdk.formats.text.judge_encoding`). A text that is UTF-8 whatever the label
    says is read as UTF-8, with the reason in ``mismatch``: the label is its only problem,
    and UTF-8 is proven by the bytes themselves. A text the rule finds to be in another
    one-byte encoding (or UTF-16) raises :class:`FormatError` naming it and the line
    that shows it, rather than being read as mojibake.
    """
    declared = _label(head)
    name = declared or "Windows"
    codec = ENCODINGS[name]
    wrong = judge_encoding(head, codec)
    if wrong is None:
        return _Encoding(name, codec)
    said = (
        tr("says Кодировка={declared}", declared=declared)
        if declared
        else tr("names no Кодировка ({name} assumed)", name=name)
    )
    if codecs.lookup(wrong.likely).name != "utf-8":
        raise FormatError(
            tr("the file {said}, but {detail}", said=said, detail=wrong.message),
            line=wrong.line,
            field="Кодировка",
        )
    evidence = wrong.reason or tr(
        "line {line} reads {utf8!r} in UTF-8, {declared!r} in {codec}",
        line=wrong.line,
        utf8=wrong.likely_text,
        declared=wrong.declared_text,
        codec=codec,
    )
    mismatch = tr("the file {said} but is UTF-8 ({evidence})", said=said, evidence=evidence)
    return _Encoding(name, "utf-8", mismatch, wrong.line)


@attrs.frozen
class _Document:
    line: int
    kind: str
    fields: dict[str, str]
    lines: dict[str, int] = attrs.field(factory=dict)  #: the line of each key

    def line_of(self, key: str) -> int:
        """The line of ``key``'s value, else the document's first line."""
        return self.lines.get(key, self.line)


@attrs.frozen
class _Section:
    line: int
    fields: dict[str, str]
    lines: dict[str, int] = attrs.field(factory=dict)

    def line_of(self, key: str) -> int:
        return self.lines.get(key, self.line)


class _Lines:
    """The decoded lines of a file with their numbers; bad bytes are a typed error."""

    def __init__(self, path: Path, fh: IO[bytes], codec: str) -> None:
        self.path = path
        self._fh = fh
        self._codec = codec
        self._decoder = codecs.getincrementaldecoder(codec)("strict")
        self.number = 0

    def __iter__(self) -> Iterator[tuple[int, str]]:
        # readline with a limit: a file with no line breaks is refused, not read whole.
        while raw := self._fh.readline(MAX_LINE + 1):
            self.number += 1
            if len(raw) > MAX_LINE:
                raise FormatError(
                    tr("line longer than {limit} bytes", limit=MAX_LINE),
                    path=self.path,
                    line=self.number,
                )
            try:
                text = self._decoder.decode(raw)
            except UnicodeDecodeError as exc:
                raise FormatError(
                    tr(
                        "bytes not in the file's encoding, {codec} ({reason} at column {column})",
                        codec=self._codec,
                        reason=exc.reason,
                        column=exc.start + 1,
                    ),
                    path=self.path,
                    line=self.number,
                ) from None
            if self.number == 1:
                text = text.lstrip("\ufeff")
            yield self.number, text.rstrip("\r\n")


def _events(path: Path, lines: Iterable[tuple[int, str]]) -> Iterator[object]:
    """Header pairs, account sections and documents, in file order; then ``None`` at the end.

    Structural errors (no first line, a section never closed, no ``КонецФайла``) raise
    :class:`FormatError`; they make the whole file unreadable.
    """
    it = iter(lines)
    first = next(it, None)
    if first is None or first[1].strip() != FIRST_LINE:
        raise FormatError(
            tr("not a 1CClientBankExchange file (first line is not {first!r})", first=FIRST_LINE),
            path=path,
            line=1,
        )
    current: _Document | _Section | None = None
    ended = False
    for number, text in it:
        if not text.strip():
            continue
        if ended:
            raise FormatError(tr("text after КонецФайла"), path=path, line=number)
        key, sep, value = text.partition("=")
        key = key.strip()
        if key == "КонецФайла":
            if current is not None:
                raise FormatError(tr("КонецФайла inside an open section"), path=path, line=number)
            ended = True
            continue
        if key == "СекцияДокумент":
            if current is not None:
                raise FormatError(
                    tr("a new СекцияДокумент before the last one ended"), path=path, line=number
                )
            current = _Document(number, value.strip(), {})
            continue
        if key == "СекцияРасчСчет":
            if current is not None:
                raise FormatError(
                    tr("a new СекцияРасчСчет inside another section"), path=path, line=number
                )
            current = _Section(number, {})
            continue
        if key == "КонецДокумента":
            if not isinstance(current, _Document):
                raise FormatError(
                    tr("КонецДокумента without СекцияДокумент"), path=path, line=number
                )
            yield current
            current = None
            continue
        if key == "КонецРасчСчет":
            if not isinstance(current, _Section):
                raise FormatError(
                    tr("КонецРасчСчет without СекцияРасчСчет"), path=path, line=number
                )
            yield current
            current = None
            continue
        if not sep:
            raise FormatError(
                tr("not a Key=Value line: {text!r}", text=text[:80]), path=path, line=number
            )
        if current is None:
            yield (key, value)
        elif key not in current.fields:
            current.fields[key] = value
            current.lines[key] = number
    if current is not None:
        raise FormatError(tr("the file ends inside a section"), path=path, line=current.line)
    if not ended:
        raise FormatError(tr("the file ends without КонецФайла (cut short?)"), path=path)


def _opt(fields: dict[str, str], *keys: str) -> str | None:
    for key in keys:
        value = fields.get(key, "").strip()
        if value:
            return value
    return None


def _id(value: str | None) -> str | None:
    # Banks write 0 for "no ИНН / no КПП" (an individual, a foreign payee).
    return None if value is None or value.strip("0") == "" else value


def _name(fields: dict[str, str], prefix: str) -> str:
    name = _opt(fields, f"{prefix}1", prefix) or ""
    return _INN_PREFIX.sub("", name)


def _purpose(fields: dict[str, str]) -> str:
    if "НазначениеПлатежа" in fields:
        return fields["НазначениеПлатежа"].strip()
    parts = [fields.get(f"НазначениеПлатежа{i}", "").strip() for i in range(1, 7)]
    return " ".join(p for p in parts if p)


class _FieldError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _get(fields: dict[str, str], key: str) -> str:
    value = fields.get(key, "").strip()
    if not value:
        raise _FieldError(key, tr("missing"))
    return value


def _conv(key: str, func: object, value: str) -> object:
    try:
        return func(value)  # type: ignore[operator]
    except ValueError as exc:
        raise _FieldError(key, str(exc)) from None


def _opt_key(fields: dict[str, str], *keys: str) -> tuple[str, str | None]:
    """The first of ``keys`` with a value, and the value; else the first key and None."""
    for key in keys:
        value = fields.get(key, "").strip()
        if value:
            return key, value
    return keys[0], None


def _checked(attribute: str, key: str, value: _T) -> _T:
    """``value`` through the converter of :class:`StatementEntry`'s field ``attribute``:
    the model's own rule, with a failure named by the file's ``key``."""
    convert = getattr(attrs.fields(StatementEntry), attribute).converter
    try:
        return cast(_T, convert(value))
    except (ValueError, TypeError) as exc:
        raise _FieldError(key, str(exc)) from None


def _amount(fields: dict[str, str]) -> Decimal:
    try:
        value = parse_amount(_get(fields, "Сумма"), decimal_comma=True)
    except ValueError as exc:
        raise _FieldError("Сумма", str(exc)) from None
    return _checked("amount", "Сумма", value)


def _date(fields: dict[str, str], key: str, required: bool = True) -> dt.date | None:
    text = _get(fields, key) if required else _opt(fields, key)
    if text is None:
        return None
    try:
        return _parse_date(text)
    except ValueError as exc:
        raise _FieldError(key, str(exc)) from None


def _attempt(problems: list[_FieldError], read: Callable[..., _T], *args: object) -> _T | None:
    """``read(*args)``; a :class:`_FieldError` is added to ``problems`` and gives None."""
    try:
        return read(*args)
    except _FieldError as exc:
        problems.append(exc)
        return None


# The counterparty's identifiers, each checked as StatementEntry checks it: (attribute,
# the keys that may hold it after the Плательщик/Получатель prefix, "0" means none).
_COUNTERPARTY = (
    ("counterparty_inn", ("ИНН",), True),
    ("counterparty_kpp", ("КПП",), True),
    ("counterparty_account", ("Счет", "РасчСчет"), False),
    ("counterparty_bik", ("БИК",), False),
)


@attrs.frozen
class _Read:
    """One document read against the file's accounts.

    ``sides`` are the ways it touches them, as (direction, our account); ``amount`` is
    None when unreadable. ``entries`` is empty when ``problems`` is not.
    """

    sides: list[tuple[Direction, str]]
    amount: Decimal | None
    entries: list[StatementEntry]
    problems: list[_FieldError]

    @property
    def ours(self) -> bool:
        """Paid from one of the file's accounts: the account holder's own document."""
        return any(d is Direction.OUT for d, _ in self.sides)


def _read_document(doc: _Document, ours: set[str]) -> _Read:
    """The entries of a document, or every problem that keeps it from giving them."""
    f = doc.fields
    problems: list[_FieldError] = []
    payer_key, payer_acc = _opt_key(f, "ПлательщикСчет", "ПлательщикРасчСчет")
    _, payee_acc = _opt_key(f, "ПолучательСчет", "ПолучательРасчСчет")
    sides: list[tuple[Direction, str, str]] = []
    if payer_acc is not None and payer_acc in ours:
        sides.append((Direction.OUT, payer_acc, "Получатель"))
    if payee_acc is not None and payee_acc in ours:
        sides.append((Direction.IN, payee_acc, "Плательщик"))
    amount = _attempt(problems, _amount, f)
    doc_date = _attempt(problems, _date, f, "Дата")
    if not sides:
        problems.append(
            _FieldError(
                payer_key,
                tr(
                    "neither the payer's account {payer} nor the payee's {payee} is one "
                    "of this file's accounts (РасчСчет: {ours})",
                    payer=payer_acc,
                    payee=payee_acc,
                    ours=", ".join(sorted(ours)) or tr("none"),
                ),
            )
        )
    found = []
    for direction, account, other in sides:
        value_key = "ДатаСписано" if direction is Direction.OUT else "ДатаПоступило"
        value_date = _attempt(problems, _date, f, value_key, False)
        party: dict[str, str | None] = {}
        for attribute, suffixes, zero_is_none in _COUNTERPARTY:
            key, value = _opt_key(f, *(other + s for s in suffixes))
            value = _id(value) if zero_is_none else value
            party[attribute] = _attempt(problems, _checked, attribute, key, value)
        found.append((direction, account, other, value_date, party))
    plain_sides = [(d, a) for d, a, _ in sides]
    if problems:
        return _Read(plain_sides, amount, [], problems)
    assert amount is not None  # else a problem says why
    try:
        entries = [
            StatementEntry(
                direction=direction,
                account=account,
                doc_number=f.get("Номер", "").strip(),
                doc_date=doc_date,
                amount=amount,
                counterparty_name=_name(f, other),
                counterparty_bank=_opt(f, f"{other}Банк1") or "",
                purpose=_purpose(f),
                value_date=value_date,
                doc_kind=doc.kind,
                **party,
            )
            for direction, account, other, value_date, party in found
        ]
    except (ValueError, TypeError) as exc:
        return _Read(plain_sides, amount, [], [_FieldError("СекцияДокумент", str(exc))])
    return _Read(plain_sides, amount, entries, [])


def _statement(section: _Section) -> Statement:
    f = section.fields

    def amount(key: str) -> Decimal | None:
        text = _opt(f, key)
        return None if text is None else _conv(key, parse_amount, text)  # type: ignore[return-value]

    def date(key: str) -> dt.date | None:
        text = _opt(f, key)
        return None if text is None else _conv(key, _parse_date, text)  # type: ignore[return-value]

    try:
        return Statement(
            account=_get(f, "РасчСчет"),
            date_from=date("ДатаНачала"),
            date_to=date("ДатаКонца"),
            opening_balance=amount("НачальныйОстаток"),
            total_in=amount("ВсегоПоступило"),
            total_out=amount("ВсегоСписано"),
            closing_balance=amount("КонечныйОстаток"),
        )
    except ValueError as exc:
        raise _FieldError("РасчСчет", str(exc)) from None


class ClientBankReader(RegistryReader):
    """Streams the documents of a 1CClientBankExchange file as statement entries.

    The file's accounts are those of its header (``РасчСчет=``, which may repeat) and of its
    ``СекцияРасчСчет`` sections; those sections come before the documents, as 1C writes
    them. After iteration, :attr:`statements` holds one :class:`Statement` per section, and
    the totals each states have been checked against the documents read: a statement whose
    ``ВсегоПоступило`` or ``ВсегоСписано`` differs from its documents, or whose balances do
    not add up, is refused.

    Only the account holder's own documents (paid from one of the file's accounts) are
    checked strictly: a problem in one is a bad row under the policy. A document someone
    else paid in, or one that touches none of the file's accounts, is *set aside* when it
    cannot be read as an entry (an ИНН with wrong check digits, an account that is not 20
    digits): it is not yielded, each of its problems goes to :attr:`notes` with the line
    of its field (the first 1,000 notes are kept), and its amount still counts towards the
    statement's totals. Its amount must be readable, though: the totals are checked
    against it.

    :attr:`encoding` is the ``Кодировка`` the file declares (``Windows`` when none) and
    :attr:`codec` what its text is read with: ``utf-8`` for a UTF-8 file whatever its
    label says, with a note saying so.
    """

    def __init__(self, path: Path, policy: Policy, rejects_path: Path | None) -> None:
        self.path = path
        self._sink = RejectSink(path, policy, rejects_path)
        self.notes: list[Issue] = []
        self._fh = open(path, "rb")  # noqa: SIM115 - closed by close()
        try:
            head = self._fh.read(HEAD_BYTES)
            self._fh.seek(0)
            enc = _encoding(head)
        except FormatError as exc:
            self._fh.close()
            raise self._sink.refuse(exc.message, line=exc.line, field=exc.field) from None
        self.encoding = enc.name
        self.codec = enc.codec
        if enc.mismatch:
            note = tr("{mismatch}; read as UTF-8", mismatch=enc.mismatch)
            self.notes.append(Issue(enc.line, "Кодировка", note))
        self._lines = _Lines(path, self._fh, enc.codec)
        self.header = RegistryHeader(kind=RegistryKind.STATEMENTS)
        self._head: dict[str, str] = {}
        self._ours: set[str] = set()
        self.statements: list[Statement] = []
        self._sums: dict[tuple[str, Direction], Decimal] = {}
        self._count = 0
        self._good = 0
        self._total = ZERO
        self._pending: list[StatementEntry] = []
        self._events = _events(path, self._lines)
        self._report: ReadReport | None = None
        self._done = False

    def _header_fact(self, key: str, value: str) -> None:
        self._head.setdefault(key, value)
        if key == "РасчСчет" and value.strip():
            self._ours.add(value.strip())

    def _refresh_header(self) -> None:
        h = self._head
        created = None
        try:
            if "ДатаСоздания" in h:
                day = _parse_date(h["ДатаСоздания"])
                m = _TIME.fullmatch(h.get("ВремяСоздания", "").strip())
                t = dt.time(int(m[1]), int(m[2]), int(m[3])) if m else dt.time()
                created = dt.datetime.combine(day, t)
        except ValueError:
            created = None
        extra: list[tuple[str, str]] = [
            (k, h[k]) for k in ("ВерсияФормата", "Кодировка", "Отправитель", "Получатель") if k in h
        ]
        if self.statements:
            s = self.statements[0]
            extra.append(("account", s.account))
            for name in ("date_from", "date_to"):
                value = getattr(s, name)
                if value is not None:
                    extra.append((name, value.isoformat()))
            for name in ("opening_balance", "total_in", "total_out", "closing_balance"):
                value = getattr(s, name)
                if value is not None:
                    extra.append((name, str(value)))
        date = None
        if self.statements and self.statements[0].date_to is not None:
            date = self.statements[0].date_to
        self.header = RegistryHeader(
            kind=RegistryKind.STATEMENTS,
            partner_account=next(iter(sorted(self._ours)), None) if len(self._ours) == 1 else None,
            date=date,
            created_at=created,
            extra=extra,
        )

    def __next__(self) -> StatementEntry:
        while not self._pending:
            if self._done:
                raise StopIteration
            try:
                event = next(self._events)
            except StopIteration:
                self._finish()
                raise
            except FormatError as exc:
                self._done = True
                raise self._sink.refuse(exc.message, line=exc.line) from None
            except OSError as exc:
                self._done = True
                raise self._sink.refuse(
                    tr("cannot read the file: {reason}", reason=str(exc))
                ) from None
            if isinstance(event, tuple):
                self._header_fact(*event)
            elif isinstance(event, _Section):
                try:
                    stmt = _statement(event)
                except _FieldError as exc:
                    self._done = True
                    line = event.line_of(exc.field)
                    raise self._sink.refuse(exc.message, line=line, field=exc.field) from None
                self.statements.append(stmt)
                self._ours.add(stmt.account)
                self._refresh_header()
            elif isinstance(event, _Document):
                self._document(event)
        return self._pending.pop(0)

    def _document(self, doc: _Document) -> None:
        if self._count == 0:
            self._refresh_header()
        self._count += 1
        got = _read_document(doc, self._ours)
        if got.problems:
            issues = [Issue(doc.line_of(p.field), p.field, p.message) for p in got.problems]
            issues.sort(key=lambda i: i.line)  # in file order, as a person reads them
            if got.ours or (got.sides and got.amount is None):
                raw = f"СекцияДокумент={doc.kind}; Номер={doc.fields.get('Номер', '')}"
                self._sink.reject(doc.line, raw, issues)
            else:
                self._set_aside(doc, got, issues)
            return
        for e in got.entries:
            key = (e.account, e.direction)
            self._sums[key] = self._sums.get(key, ZERO) + e.amount
            self._good += 1
            self._total += e.amount
        self._pending.extend(got.entries)

    def _set_aside(self, doc: _Document, got: _Read, issues: list[Issue]) -> None:
        """Keep a document that is not ours out of the entries, and say why in the notes."""
        for direction, account in got.sides:
            assert got.amount is not None  # one to our accounts without it is a bad row
            key = (account, direction)
            self._sums[key] = self._sums.get(key, ZERO) + got.amount
        number = doc.fields.get("Номер", "").strip() or "?"
        # The document's kind comes from the file, in the bank's Russian: it is a value.
        what: str = (
            f"{doc.kind} № {number}" if doc.kind else tr("document № {number}", number=number)
        )
        if date := doc.fields.get("Дата", "").strip():
            what = tr("{what} of {date}", what=what, date=date)
        if got.sides:
            what = tr("{what} ({amount} received)", what=what, amount=got.amount)
        for i in issues:
            if len(self.notes) < DEFAULT_ISSUE_LIMIT:  # bounded memory, like the rejects
                message = tr(
                    "{what} set aside, not paid from this file's accounts: {detail}",
                    what=what,
                    detail=i.message,
                )
                self.notes.append(Issue(i.line, i.field, message))

    def _finish(self) -> None:
        self._done = True
        if not self._count:
            self._refresh_header()
        problems: list[str] = []
        if self._sink.rejected == 0:
            for s in self.statements:
                got_in = self._sums.get((s.account, Direction.IN), ZERO)
                got_out = self._sums.get((s.account, Direction.OUT), ZERO)
                if s.total_in is not None and s.total_in != got_in:
                    problems.append(
                        tr(
                            "account {account}: ВсегоПоступило is {stated}, "
                            "the documents sum to {found}",
                            account=s.account,
                            stated=s.total_in,
                            found=got_in,
                        )
                    )
                if s.total_out is not None and s.total_out != got_out:
                    problems.append(
                        tr(
                            "account {account}: ВсегоСписано is {stated}, "
                            "the documents sum to {found}",
                            account=s.account,
                            stated=s.total_out,
                            found=got_out,
                        )
                    )
                if (why := s.balance_problem()) is not None:
                    problems.append(why)
        report, error = self._sink.finish(
            self.header, self._good + self._sink.rejected, {}, None, good_total=self._total
        )
        if problems:
            # Checked only when no document was rejected, so no rejects file exists here.
            message = tr("control totals do not match: {problems}", problems=join("; ", problems))
            issues = report.issues + tuple(Issue(0, "control", p) for p in problems)
            report = attrs.evolve(
                report,
                issues=issues,
                issue_count=report.issue_count + len(problems),
                refused=report.refused or message,
            )
            if error is None:
                error = RegistryRefused(
                    message, path=self.path, issues=issues, issue_count=report.issue_count
                )
        self._report = report
        self.close()
        if error is not None:
            raise error

    @property
    def report(self) -> ReadReport:
        if self._report is None:
            return ReadReport(self.path, self.header, self._good, self._total, self._sink.rejected)
        return self._report

    def close(self) -> None:
        self._fh.close()


class ClientBankExchangeFormat(RegistryFormat):
    """``1c-clientbank``: writes payment orders, reads bank statements (1CClientBankExchange 1.03).

    ``encoding`` is the ``Кодировка`` written: ``Windows`` (cp1251, the default) or ``DOS``
    (cp866); the reader takes either, whatever this says. The writer keeps the orders of
    one file in memory (it must know their first and last dates for the header before the
    first document): a file of payment orders holds one per partner-day, not millions.

    Header values the writer takes from ``RegistryHeader.extra`` when given: ``sender``
    (``Отправитель``, default ``pes-sdk <version>``) and ``recipient`` (``Получатель``).
    ``ДатаСоздания`` and ``ВремяСоздания`` are ``created_at`` as a wall time of
    ``time_zone`` (the service's; default Europe/Moscow): a ``created_at`` without a zone is
    already one, one with a zone is converted, and the default is now in ``time_zone``.

    Every order needs the name and city of both banks; an order without them is a
    :class:`FormatError` naming the key, and nothing is written.
    """

    name = "1c-clientbank"
    kind = RegistryKind.TRANSFERS
    description = (
        "1CClientBankExchange 1.03 (cp1251/cp866): payment orders written, bank statements read"
    )
    capabilities = FormatCapabilities(
        read=True, write=True, streaming=False, encodings=("cp1251", "cp866")
    )

    def __init__(
        self,
        encoding: Literal["Windows", "DOS"] = "Windows",
        *,
        time_zone: dt.tzinfo | str | None = None,
    ) -> None:
        if encoding not in ENCODINGS:
            raise ValueError(tr("Кодировка is Windows or DOS, not {encoding!r}", encoding=encoding))
        self.encoding = encoding
        self.time_zone = zone_of(time_zone)

    def open(
        self, path: Path, *, policy: Policy = Policy.STRICT, rejects_path: Path | None = None
    ) -> ClientBankReader:
        return ClientBankReader(Path(path), Policy(policy), rejects_path)

    def write(self, path: Path, header: RegistryHeader, records: Iterable[Record]) -> WriteReport:
        path = Path(path)
        orders: list[PaymentOrder] = []
        for i, record in enumerate(records, 1):
            if not isinstance(record, PaymentOrder):
                raise FormatError(
                    tr(
                        "1c-clientbank writes payment orders, not {kind}",
                        kind=type(record).__name__,
                    ),
                    path=path,
                    line=i,
                )
            if missing := missing_bank_details(record):
                side, field, message = missing[0]
                key = _BANK_KEYS[side, field]
                raise FormatError(message, path=path, field=key)
            orders.append(record)
        extra = dict(header.extra)
        created = wall_time(header.created_at, self.time_zone)
        dates = [o.date for o in orders] or [header.date or created.date()]
        accounts: list[str] = []
        for o in orders:
            if o.payer.account not in accounts:
                accounts.append(o.payer.account)
        pairs: list[tuple[str, str]] = [
            (FIRST_LINE, ""),
            ("ВерсияФормата", FORMAT_VERSION),
            ("Кодировка", self.encoding),
            ("Отправитель", extra.get("sender", f"pes-sdk {sdk_version}")),
            ("Получатель", extra.get("recipient", "")),
            ("ДатаСоздания", _ru_date(created.date())),
            ("ВремяСоздания", created.strftime("%H:%M:%S")),
            ("ДатаНачала", _ru_date(min(dates))),
            ("ДатаКонца", _ru_date(max(dates))),
            *(("РасчСчет", a) for a in accounts),
            ("Документ", ORDER_KIND),
        ]
        codec = ENCODINGS[self.encoding]
        total = ZERO
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            line_no = 0

            def emit(key: str, value: str) -> None:
                nonlocal line_no
                line_no += 1
                text = _line(key, value)
                if "\r" in text or "\n" in text:
                    raise FormatError(
                        tr("a value holds a line break"), path=path, line=line_no, field=key
                    )
                try:
                    fh.write(text.encode(codec) + b"\r\n")
                except UnicodeEncodeError as exc:
                    raise FormatError(
                        tr(
                            "{text!r} cannot be written in {codec}",
                            text=text[exc.start : exc.end],
                            codec=codec,
                        ),
                        path=path,
                        line=line_no,
                        field=key,
                    ) from None

            for key, value in pairs:
                emit(key, value)
            for order in orders:
                for key, value in order_lines(order):
                    emit(key, value)
                total += order.amount
            emit("КонецФайла", "")
        return WriteReport(path, len(orders), total)


def read_orders(path: Path | str) -> list[PaymentOrder]:
    """The payment orders of a 1CClientBankExchange file, as the writer wrote them.

    Every ``Платежное поручение`` document must be a complete, valid order; anything wrong
    raises :class:`FormatError` naming the line and field. The ``Кодировка`` label is read
    without case, but the text must be in the encoding it names: a UTF-8 file labelled
    Windows is refused (a bank would read its bytes as cp1251), unlike a statement.
    """
    path = Path(path)
    with open(path, "rb") as fh:
        try:
            enc = _encoding(fh.read(HEAD_BYTES))
        except FormatError as exc:
            raise FormatError(exc.message, path=path, line=exc.line, field=exc.field) from None
        if enc.mismatch:
            raise FormatError(
                tr(
                    "{mismatch}: a bank would read it as {codec}",
                    mismatch=enc.mismatch,
                    codec=ENCODINGS[enc.name],
                ),
                path=path,
                line=enc.line,
                field="Кодировка",
            )
        fh.seek(0)
        out = []
        for event in _events(path, _Lines(path, fh, enc.codec)):
            if not isinstance(event, _Document) or event.kind != ORDER_KIND:
                continue
            out.append(_order(path, event))
    return out


def _party(path: Path, doc: _Document, prefix: str) -> Party:
    f = doc.fields
    try:
        bank = BankDetails(
            bik=_get(f, f"{prefix}БИК"),
            account=_opt(f, f"{prefix}Счет", f"{prefix}РасчСчет") or "",
            corr_account=_opt(f, f"{prefix}Корсчет") or "",
            bank_name=_opt(f, f"{prefix}Банк1") or "",
            city=_opt(f, f"{prefix}Банк2") or "",
        )
        return Party(_name(f, prefix), _get(f, f"{prefix}ИНН"), bank, _id(_opt(f, f"{prefix}КПП")))
    except _FieldError as exc:
        raise FormatError(
            exc.message, path=path, line=doc.line_of(exc.field), field=exc.field
        ) from None
    except (ValueError, TypeError) as exc:
        raise FormatError(str(exc), path=path, line=doc.line, field=prefix) from None


def _order(path: Path, doc: _Document) -> PaymentOrder:
    f = doc.fields
    payer = _party(path, doc, "Плательщик")
    payee = _party(path, doc, "Получатель")
    try:
        return PaymentOrder(
            number=_get(f, "Номер"),
            date=_conv("Дата", _parse_date, _get(f, "Дата")),  # type: ignore[arg-type]
            amount=_conv("Сумма", lambda v: parse_amount(v, decimal_comma=False), _get(f, "Сумма")),  # type: ignore[arg-type]
            payer=payer,
            payee=payee,
            purpose=_purpose(f),
            priority=int(_get(f, "Очередность")),
            kind=_opt(f, "ВидОплаты") or "01",
            code=_opt(f, "Код") or "0",
            payment_kind=_opt(f, "ВидПлатежа") or "",
        )
    except _FieldError as exc:
        raise FormatError(
            exc.message, path=path, line=doc.line_of(exc.field), field=exc.field
        ) from None
    except (ValueError, TypeError) as exc:
        raise FormatError(str(exc), path=path, line=doc.line, field="СекцияДокумент") from None
