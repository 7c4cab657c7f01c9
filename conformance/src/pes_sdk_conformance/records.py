"""Sample records for the checks: golden sets, large generated sets, hypothesis strategies.

Everything here is public so that an adapter author can build the records a format needs
(``debt_samples(tz=…)``, ``generate(…)``) when overriding the fixture class hooks.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import Decimal
from importlib import resources
from typing import Any

import attrs
from hypothesis import strategies as st

from pes_sdk.formats.base import Record
from pes_sdk.models.debts import DebtRecord
from pes_sdk.models.payments import PaymentRecord
from pes_sdk.models.readings import MeterReading, MeterType, Photo
from pes_sdk.models.registry import ControlTotals, RegistryHeader, RegistryKind
from pes_sdk.money import ZERO, from_kopecks
from pes_sdk.period import Period
from pes_sdk.serialization import structure

__all__ = [
    "FORMULA_TEXTS",
    "METER_VALUE_FIELDS",
    "MONEY_FIELDS",
    "MSK",
    "SAMPLE_INN",
    "SAMPLE_PARTNER_ACCOUNT",
    "SampleSet",
    "control_totals",
    "debt_records",
    "default_header",
    "distinct_keys",
    "generate",
    "golden",
    "hostile_inputs",
    "money_fields",
    "payment_records",
    "reading_records",
    "strip_fields",
    "trim_text",
]

#: Moscow time, the zone of the default payment samples (``paid_at`` carries it).
MSK = dt.timezone(dt.timedelta(hours=3), "MSK")
#: A valid ИНН (check digits) and a 20-digit р/с for sample headers and file names.
SAMPLE_INN = "7707083893"
SAMPLE_PARTNER_ACCOUNT = "40702810938000000001"
#: Which fields hold money, per record type: checked to the kopeck, summed by control totals.
#: Meter readings carry no money: their control totals are a count only (a format whose
#: totals carry sums of its own says so by overriding ``FormatConformance.control_totals``).
MONEY_FIELDS: dict[RegistryKind, tuple[str, ...]] = {
    RegistryKind.DEBTS: ("amount",),
    RegistryKind.PAYMENTS: ("amount", "transfer", "fee"),
    RegistryKind.READINGS: (),
}
#: Fields holding exact decimals that keep their own precision (meter values: ``0.100`` is
#: not ``0.1``), per record type: checked digit for digit, exponent included.
METER_VALUE_FIELDS: dict[RegistryKind, tuple[str, ...]] = {RegistryKind.READINGS: ("values",)}
#: Text a spreadsheet would run as a formula (CSV injection); a writer must escape it.
FORMULA_TEXTS = ("=SUM(A1)", "+7 495", "-1", "@x")

_RECORD_TYPES: dict[RegistryKind, type[Any]] = {
    RegistryKind.DEBTS: DebtRecord,
    RegistryKind.PAYMENTS: PaymentRecord,
    RegistryKind.READINGS: MeterReading,
}


def account_of(record: Record) -> str:
    """The personal account a record belongs to ("" for kinds that have none, e.g. orders).

    The malformed corpus finds the target and the last golden record by account: each of
    those two accounts is unique in its set (other accounts have several services).
    """
    return str(getattr(record, "account", ""))


@attrs.frozen
class SampleSet:
    """A golden record set and the account of the record that malformed samples mutate."""

    kind: RegistryKind
    records: tuple[Record, ...]
    target: str  #: the ``account`` of the mutation target; unique in the set

    @property
    def target_index(self) -> int:
        return next(i for i, r in enumerate(self.records) if account_of(r) == self.target)


def golden(kind: RegistryKind) -> SampleSet:
    """The shipped golden set for ``kind`` (``debts``, ``payments`` or ``readings``).

    Raises :class:`LookupError` for a kind without shipped samples.
    """
    if kind not in _RECORD_TYPES:
        raise LookupError(f"no golden samples for registry kind {kind.value!r}")
    text = resources.files(__package__).joinpath(f"samples/{kind.value}.json").read_text("utf-8")
    data = json.loads(text)
    cls = _RECORD_TYPES[kind]
    records = tuple(structure(r, cls) for r in data["records"])
    return SampleSet(kind, records, data["target"])


def strip_fields(record: Record, fields: Iterable[str]) -> Record:
    """``record`` with ``fields`` set back to their defaults (fields a format does not carry)."""
    changes: dict[str, Any] = {}
    by_name = {a.name: a for a in attrs.fields(type(record))}
    for name in fields:
        a = by_name.get(name)
        if a is None:
            raise ValueError(f"{type(record).__name__} has no field {name!r}")
        if a.default is attrs.NOTHING:
            raise ValueError(f"field {name!r} is required; a format must carry it")
        default: Any = a.default
        changes[name] = default.factory() if hasattr(default, "factory") else default
    return attrs.evolve(record, **changes)


#: Text fields a format may trim (``FormatConformance.trims_text``).
TEXT_FIELDS = ("service", "service_code", "meter_number", "channel")


def trim_text(record: Record) -> Record:
    """``record`` with the outer spaces of its text fields removed (formats that trim)."""
    changes = {
        n: getattr(record, n).strip()
        for n in TEXT_FIELDS
        if isinstance(getattr(record, n, None), str)
        and getattr(record, n) != getattr(record, n).strip()
    }
    return attrs.evolve(record, **changes) if changes else record


def distinct_keys(kind: RegistryKind, records: Iterable[Record]) -> list[Record]:
    """``records`` without the debts that repeat an earlier (account, service): a debt
    registry refuses such a pair (two debts for one thing). Other kinds are kept whole."""
    out = list(records)
    if kind is not RegistryKind.DEBTS:
        return out
    seen: set[tuple[str, str]] = set()
    kept = []
    for r in out:
        key = (account_of(r), str(getattr(r, "service", "")))
        if key not in seen:
            seen.add(key)
            kept.append(r)
    return kept


def debt_records(*, not_carried: Iterable[str] = ()) -> list[Record]:
    """The golden debt records, without the fields a format does not carry."""
    return [strip_fields(r, not_carried) for r in golden(RegistryKind.DEBTS).records]


def payment_records(*, tz: dt.tzinfo | None = MSK, not_carried: Iterable[str] = ()) -> list[Record]:
    """The golden payment records; ``tz=None`` gives naive ``paid_at`` (formats without zones)."""
    out: list[Record] = []
    for r in golden(RegistryKind.PAYMENTS).records:
        assert isinstance(r, PaymentRecord)
        paid_at = r.paid_at.replace(tzinfo=None) if tz is None else r.paid_at.astimezone(tz)
        out.append(strip_fields(attrs.evolve(r, paid_at=paid_at), not_carried))
    return out


def reading_records(*, not_carried: Iterable[str] = ()) -> list[Record]:
    """The golden meter readings, without the fields a format does not carry."""
    return [strip_fields(r, not_carried) for r in golden(RegistryKind.READINGS).records]


def money_fields(kind: RegistryKind) -> tuple[str, ...]:
    """The money fields of records of ``kind`` (``amount`` for a kind the suite does not know)."""
    return MONEY_FIELDS.get(kind, ("amount",))


def control_totals(kind: RegistryKind, records: Iterable[Record]) -> ControlTotals:
    """The count and money sums of ``records``, as a file's control totals state them.

    A kind without money (meter readings) gives a count and no sums.
    """
    names = money_fields(kind)
    sums = dict.fromkeys(names, ZERO)
    count = 0
    for r in records:
        count += 1
        for n in names:
            sums[n] += getattr(r, n)
    return ControlTotals(count, sums)


def default_header(
    kind: RegistryKind, records: Iterable[Record], *, number: int = 1
) -> RegistryHeader:
    """A header with every fact known, and control totals computed from ``records``."""
    return RegistryHeader(
        kind=kind,
        partner_inn=SAMPLE_INN,
        partner_account=SAMPLE_PARTNER_ACCOUNT,
        period=Period(2026, 11),
        number=number,
        date=dt.date(2026, 11, 27),
        created_at=dt.datetime(2026, 11, 27, 23, 0, 0, tzinfo=MSK),
        control=control_totals(kind, records),
    )


def generate(templates: Sequence[Record], count: int) -> Iterator[Record]:
    """``count`` records cycling ``templates``, each with its own account (and operation id).

    Accounts are ``G`` + 12 digits with leading zeros, so no two lines repeat an (account,
    service) pair, which a debt registry refuses. Deterministic: two calls give equal records.
    """
    if not templates:
        raise ValueError("generate needs at least one template record")
    n = len(templates)
    for t in templates:  # what generate() copies must be a valid record in the first place
        attrs.validate(t)
    for i in range(count):
        t = templates[i % n]
        # A copy with a new account (and operation id): cheaper than attrs.evolve, which
        # would re-check every field of a record already checked, and the streaming checks
        # make hundreds of thousands of these. Both new values are valid by construction.
        r = copy.copy(t)
        object.__setattr__(r, "account", f"G{i:012d}")
        if isinstance(r, PaymentRecord):
            object.__setattr__(r, "operation_id", f"{i:012d}")
        elif isinstance(r, MeterReading):
            # Values that change from row to row, with the template's precision kept: a
            # reader that parses them through float or a fixed scale shows in the sums.
            step = Decimal(i).scaleb(r.values[0].as_tuple().exponent)  # type: ignore[arg-type]
            object.__setattr__(r, "values", (r.values[0] + step, *r.values[1:]))
        yield r


# -- hypothesis strategies -----------------------------------------------------------------

_CYRILLIC = "абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ"
# №«»— are what a one-byte Cyrillic encoding has besides letters: a writer that maps them
# to ASCII, or an encoder that does not know them, shows here.
_TEXT_ALPHABET = _CYRILLIC + "abcxyzABCXYZ0123456789 .,()/-№«»—"


def _text_of(max_size: int, outer_spaces: bool) -> st.SearchStrategy[str]:
    # Outer spaces are kept by a format that keeps text exactly (the default); a format
    # that states it trims (FormatConformance.trims_text) gets text without them.
    text = st.text(_TEXT_ALPHABET, max_size=max_size)
    return text if outer_spaces else text.map(str.strip)


# Some records share an account (several services on one account); the rest are random.
_ACCOUNTS = st.one_of(
    st.from_regex(r"(ЛС-)?[0-9]{1,20}", fullmatch=True), st.sampled_from(["007", "0000012345"])
)
_PREMISES = st.one_of(
    st.sampled_from(["", "12", "12а", "12/1", "12-1", "кв. 5", "12, ком. 3", "Пом. 1Н"]),
    st.from_regex(r"[1-9][0-9]{0,3}[абв]?(/[1-9])?", fullmatch=True),
)
_GUIDS = st.uuids().map(str)
_PERIODS = st.builds(Period, st.integers(2000, 2099), st.integers(1, 12))
_METER_NUMBERS = st.from_regex(r"[0-9A-ZА-ЯЁ][0-9A-ZА-ЯЁа-яё№/\-]{0,19}", fullmatch=True)
# Values with zero to eight decimal places, trailing zeros kept (0.100 stays 0.100).
_METER_VALUES = st.builds(
    lambda units, places: Decimal(units).scaleb(-places),
    st.integers(0, 10**12),
    st.integers(0, 8),
)


def _unique_keys(records: list[Record]) -> list[Record]:
    """Accounts may repeat; what identifies a line may not: a debt's (account, service), a
    payment's operation id, a reading's (account, meter)."""
    seen: set[tuple[str, ...]] = set()
    out = []
    for r in records:
        if isinstance(r, PaymentRecord):
            key: tuple[str, ...] = (r.operation_id,)
        elif isinstance(r, MeterReading):
            key = (r.account, r.meter_number)
        else:
            key = (account_of(r), str(getattr(r, "service", "")))
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def record_strategy(
    kind: RegistryKind,
    *,
    tz: dt.tzinfo | None = MSK,
    not_carried: Iterable[str] = (),
    outer_spaces: bool = True,
) -> st.SearchStrategy[list[Record]]:
    """Lists of random valid records of ``kind`` for round trips: accounts may repeat (with
    other services), line keys do not; text has outer spaces unless ``outer_spaces=False``."""
    strip = tuple(not_carried)

    def _text(max_size: int) -> st.SearchStrategy[str]:
        return _text_of(max_size, outer_spaces)

    one: st.SearchStrategy[Any]
    if kind is RegistryKind.DEBTS:
        one = st.builds(
            DebtRecord,
            account=_ACCOUNTS,
            house_id=_GUIDS,
            premises=_PREMISES,
            amount=st.integers(-(10**12), 10**14).map(from_kopecks),
            period=_PERIODS,
            service=_text(40),
            service_code=_text(12),
        )
    elif kind is RegistryKind.READINGS:
        one = st.builds(
            MeterReading,
            account=_ACCOUNTS,
            meter_number=_METER_NUMBERS,
            meter_type=st.sampled_from(list(MeterType)),
            values=st.lists(_METER_VALUES, min_size=1, max_size=3).map(tuple),
            taken_on=st.dates(dt.date(2000, 1, 1), dt.date(2099, 12, 31)),
            house_id=st.one_of(st.none(), _GUIDS),
            service=_text(40),
            photo=st.one_of(
                st.none(),
                st.builds(
                    Photo,
                    st.from_regex(r"[0-9a-f]{64}", fullmatch=True),
                    st.sampled_from(["image/jpeg", "image/png"]),
                ),
            ),
        )
    elif kind is RegistryKind.PAYMENTS:

        def payment(draw: Callable[[st.SearchStrategy[Any]], Any]) -> PaymentRecord:
            total = draw(st.integers(1, 10**12))
            fee = draw(st.integers(0, total))
            when = draw(st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2099, 12, 31))).replace(
                microsecond=0
            )
            return PaymentRecord(
                paid_at=when if tz is None else when.replace(tzinfo=tz),
                operation_id=draw(st.from_regex(r"[0-9]{1,20}", fullmatch=True)),
                account=draw(_ACCOUNTS),
                amount=from_kopecks(total),
                transfer=from_kopecks(total - fee),
                fee=from_kopecks(fee),
                house_id=draw(st.one_of(st.none(), _GUIDS)),
                premises=draw(_PREMISES),
                period=draw(_PERIODS),
                service=draw(_text(40)),
                channel=draw(st.sampled_from(["app", "cabinet", "terminal"])),
                service_code=draw(_text(12)),
            )

        one = st.composite(payment)()
    else:
        raise LookupError(f"no record strategy for registry kind {kind.value!r}")
    return (
        st.lists(one, max_size=8)
        .map(lambda rs: [strip_fields(r, strip) for r in rs])
        .map(_unique_keys)  # after stripping: a service not carried is "" in every record
    )


def hostile_inputs() -> dict[str, bytes]:
    """The shipped format-independent hostile inputs, by file name."""
    folder = resources.files(__package__).joinpath("samples/hostile")
    return {
        f.name: f.read_bytes()
        for f in sorted(folder.iterdir(), key=lambda f: f.name)
        if f.name.endswith(".bin")
    }


def money_of(record: Record, kind: RegistryKind) -> tuple[Decimal, ...]:
    """The money fields of ``record`` (see :data:`MONEY_FIELDS`)."""
    return tuple(getattr(record, n) for n in money_fields(kind))
