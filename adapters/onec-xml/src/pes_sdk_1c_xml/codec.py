"""Records to XML attributes and back, one description per registry kind.

Each kind is a :class:`Codec`: which attributes a record element has, how each attribute's
text becomes a model value (``parse``) and back (``format``), and how the values make a
model. The reader's slow path and the writer use these descriptions; the reader's fast
path (in :mod:`.reader`) is a hand-tuned copy for payments and debts that a test keeps equal
to them.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import attrs

from pes_sdk import identifiers
from pes_sdk.formats.base import Record
from pes_sdk.models.debts import DebtRecord
from pes_sdk.models.payments import PaymentRecord
from pes_sdk.models.readings import MeterReading, MeterType, Photo
from pes_sdk.models.registry import RegistryKind
from pes_sdk.period import Period
from pes_sdk.premises import MAX_PREMISES_LENGTH, Premises
from pes_sdk_1c_xml import schema
from pes_sdk_1c_xml.i18n import tr

__all__ = ["CODECS", "OMIT", "Codec", "Field"]

#: A :attr:`Field.default` meaning "leave the model's own default".
OMIT: Any = object()


# -- text → value (raise ValueError with a message a person can act on) -------------------


def parse_amount(text: str) -> Decimal:
    if not schema.AMOUNT.fullmatch(text):
        raise ValueError(tr("not an amount with two decimals after a dot: {text!r}", text=text))
    return Decimal(text)


def parse_meter_value(text: str) -> Decimal:
    if not schema.METER_VALUE.fullmatch(text):
        raise ValueError(
            tr("not a meter value (digits, a dot, up to 8 decimals): {text!r}", text=text)
        )
    return Decimal(text)


def parse_datetime(text: str) -> dt.datetime:
    if not schema.DATETIME.fullmatch(text):
        raise ValueError(
            tr("not a date-time YYYY-MM-DDThh:mm:ss[.ffffff][±hh:mm]: {text!r}", text=text)
        )
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(impossible_date(exc)) from None


def parse_date(text: str) -> dt.date:
    if not schema.DATE.fullmatch(text):
        raise ValueError(tr("not a date YYYY-MM-DD: {text!r}", text=text))
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(impossible_date(exc)) from None


def impossible_date(exc: ValueError) -> str:
    """Python's reason a date of the right form does not exist (month 13), said in Russian."""
    # The English stays Python's own words ("month must be in 1..12"); Russian adds why.
    # Translators: {detail} is Python's English reason, e.g. "month must be in 1..12".
    return tr("{detail}", detail=str(exc))


def parse_meter_type(text: str) -> MeterType:
    if not schema.METER_TYPE.fullmatch(text):
        raise ValueError(tr("not a meter type code 1..13: {text!r}", text=text))
    return MeterType(int(text))


def parse_premises(text: str) -> Premises:
    if len(text) > MAX_PREMISES_LENGTH:
        raise ValueError(
            tr("premises text is at most {limit} characters", limit=MAX_PREMISES_LENGTH)
        )
    return Premises(text)


def parse_text(text: str) -> str:
    if len(text) > schema.MAX_TEXT:
        raise ValueError(tr("longer than {limit} characters", limit=schema.MAX_TEXT))
    return text


def check_text(value: str, what: str) -> str:
    """A free-text value for writing: at most :data:`schema.MAX_TEXT` characters."""
    if len(value) > schema.MAX_TEXT:
        raise ValueError(
            tr("{what} is longer than {limit} characters", what=what, limit=schema.MAX_TEXT)
        )
    return value


# -- value → text ---------------------------------------------------------------------------


def format_amount(value: Decimal) -> str:
    text = str(value)
    if not schema.AMOUNT.fullmatch(text):
        raise ValueError(
            tr("amount {value} does not fit the format (15 digits, 2 decimals)", value=value)
        )
    return text


def format_meter_value(value: Decimal) -> str:
    text = format(value, "f")
    if not schema.METER_VALUE.fullmatch(text):
        raise ValueError(
            tr(
                "meter value {value} does not fit the format (15 digits, 8 decimals)",
                value=value,
            )
        )
    return text


def format_datetime(value: dt.datetime) -> str:
    text = value.isoformat()
    if not schema.DATETIME.fullmatch(text):
        raise ValueError(
            tr("date-time {text} does not fit xs:dateTime as the format writes it", text=text)
        )
    return text


def format_date(value: dt.date) -> str:
    return value.isoformat()


def format_str(value: object) -> str:
    return str(value)


@attrs.frozen
class Field:
    """One attribute of a record element and the model field it carries."""

    attr: str  #: the XML attribute name
    name: str  #: the model's field name (or a key ``assemble`` knows)
    parse: Callable[[str], Any]
    required: bool = True
    default: Any = OMIT  #: the value of an absent optional attribute


def _debt(values: Mapping[str, Any], tags: tuple[tuple[str, str], ...]) -> DebtRecord:
    return DebtRecord(**values, tags=tags)


def _payment(values: Mapping[str, Any], tags: tuple[tuple[str, str], ...]) -> PaymentRecord:
    return PaymentRecord(**values, tags=tags)


def _reading(values: Mapping[str, Any], tags: tuple[tuple[str, str], ...]) -> MeterReading:
    v = dict(values)
    tariffs = [v.pop(t, None) for t in ("t1", "t2", "t3")]
    if tariffs[2] is not None and tariffs[1] is None:
        raise ValueError(tr("t3 is given without t2"))
    sha = v.pop("photo_sha256", None)
    media = v.pop("photo_media_type", None)
    if media is not None and sha is None:
        raise ValueError(tr("photoMediaType is given without photoSha256"))
    photo = None if sha is None else Photo(sha, media if media is not None else "image/jpeg")
    return MeterReading(**v, values=tuple(t for t in tariffs if t is not None), photo=photo)


@attrs.frozen
class Codec:
    """How one registry kind's records are written as elements and read back."""

    kind: RegistryKind
    fields: tuple[Field, ...]
    assemble: Callable[[Mapping[str, Any], tuple[tuple[str, str], ...]], Record]
    model: type
    tags: bool  #: records carry ``Tag`` children (KEY:value fields)

    @property
    def record(self) -> str:
        return schema.RECORD_ELEMENT[self.kind]

    @property
    def attributes(self) -> frozenset[str]:
        return frozenset(f.attr for f in self.fields)

    def attribute_writer(
        self,
    ) -> tuple[Callable[[Record], dict[str, str]], Callable[[], dict[str, Decimal]]]:
        """A function giving a record's element attributes, and one giving the sums so far.

        Attributes come in the documented order; optional empty values are left out (an
        absent attribute reads back as ``None`` or ``""``). The sums are those of the
        ``Totals`` element, over every record given to the first function. Each call gives
        functions with caches and sums of their own: use one per file. The first raises
        TypeError for a record of another kind, ValueError for a value the format cannot
        hold.
        """
        return _TO_ATTRS[self.kind]()


# The writer's hot path: texts checked by length where the type already guarantees the
# form (a datetime's isoformat, a two-place Decimal's str); periods and date-times formatted
# once per distinct value (a day's payments share their seconds, a registry its period).
_DATETIME_LENGTHS = frozenset((19, 25, 26, 32))  # naive / +offset, each with or without µs
_AMOUNTS3 = re.compile("\x00".join([schema.AMOUNT.pattern] * 3), re.ASCII)
_CACHE_LIMIT = 65536


def _wrong_type(kind: str, model: type, r: Any) -> TypeError:
    return TypeError(
        tr(
            "a {kind} registry holds {model}, not {record!r}",
            kind=kind,
            model=model.__name__,
            record=r,
        )
    )


_AttributeWriter = tuple[Callable[[Any], dict[str, str]], Callable[[], dict[str, Decimal]]]


def _debt_attrs() -> _AttributeWriter:
    periods: dict[Period, str] = {}
    total = Decimal("0.00")

    def attributes(r: Any) -> dict[str, str]:
        nonlocal total
        if type(r) is not DebtRecord and not isinstance(r, DebtRecord):
            raise _wrong_type("debts", DebtRecord, r)
        amount = r.amount
        a = str(amount)
        if not schema.AMOUNT.fullmatch(a):
            format_amount(r.amount)  # raises with the reason
        house = r.house_id
        if house is None:
            # The schema's houseId is required: an address given as text is resolved to a
            # house (the runner's house directory) before it is written here.
            raise ValueError(tr("house_id: 1C registry XML needs the house GUID, not an address"))
        out = {"account": r.account, "houseId": house}
        premises = r.premises.text
        if premises:
            out["premises"] = premises
        out["amount"] = a
        period = r.period
        if period is not None:
            text = periods.get(period)
            if text is None:
                text = periods[period] = str(period)
            out["period"] = text
        if r.service_code:
            out["serviceCode"] = check_text(r.service_code, "service_code")
        if r.service:
            out["service"] = check_text(r.service, "service")
        total += amount
        return out

    def sums() -> dict[str, Decimal]:
        return {"amount": total}

    return attributes, sums


def _payment_attrs() -> _AttributeWriter:
    periods: dict[Period, str] = {}
    times: dict[dt.datetime, str] = {}
    amount_sum = transfer_sum = fee_sum = Decimal("0.00")

    def attributes(r: Any) -> dict[str, str]:
        nonlocal amount_sum, transfer_sum, fee_sum
        if type(r) is not PaymentRecord and not isinstance(r, PaymentRecord):
            raise _wrong_type("payments", PaymentRecord, r)
        amount = r.amount
        transfer = r.transfer
        fee = r.fee
        a = str(amount)
        t = str(transfer)
        f = str(fee)
        if not _AMOUNTS3.fullmatch(f"{a}\x00{t}\x00{f}"):
            for value in (r.amount, r.transfer, r.fee):
                format_amount(value)  # raises with the reason
        paid_at = r.paid_at
        paid = times.get(paid_at)
        if paid is None:
            paid = paid_at.isoformat()
            # Other lengths come from offsets with seconds (+03:00:30), not in xs:dateTime.
            if len(paid) not in _DATETIME_LENGTHS or paid_at.year < 1000:
                paid = format_datetime(paid_at)  # raises with the reason
            if len(times) >= _CACHE_LIMIT:
                times.clear()
            times[paid_at] = paid
        op = r.operation_id
        code = r.service_code
        service = r.service
        channel = r.channel
        if len(op) + len(code) + len(service) + len(channel) > schema.MAX_TEXT:
            check_text(op, "operation_id")
            check_text(code, "service_code")
            check_text(service, "service")
            check_text(channel, "channel")
        out = {
            "paidAt": paid,
            "operationId": op,
            "account": r.account,
            "amount": a,
            "transfer": t,
            "fee": f,
        }
        house = r.house_id
        if house is not None:
            out["houseId"] = house
        premises = r.premises.text
        if premises:
            out["premises"] = premises
        period = r.period
        if period is not None:
            text = periods.get(period)
            if text is None:
                text = periods[period] = str(period)
            out["period"] = text
        if code:
            out["serviceCode"] = code
        if service:
            out["service"] = service
        if channel:
            out["channel"] = channel
        amount_sum += amount
        transfer_sum += transfer
        fee_sum += fee
        return out

    def sums() -> dict[str, Decimal]:
        return {"amount": amount_sum, "transfer": transfer_sum, "fee": fee_sum}

    return attributes, sums


def _reading_attrs() -> _AttributeWriter:
    return _reading_attributes, dict


def _reading_attributes(r: Any) -> dict[str, str]:
    if type(r) is not MeterReading and not isinstance(r, MeterReading):
        raise _wrong_type("readings", MeterReading, r)
    out = {
        "account": r.account,
        "meterNumber": check_text(r.meter_number, "meter_number"),
        "meterType": str(int(r.meter_type)),
        "takenOn": format_date(r.taken_on),
    }
    for i, value in enumerate(r.values, start=1):
        out[f"t{i}"] = format_meter_value(value)
    if r.house_id is not None:
        out["houseId"] = r.house_id
    if r.service:
        out["service"] = check_text(r.service, "service")
    if r.photo is not None:
        out["photoSha256"] = r.photo.sha256
        out["photoMediaType"] = check_text(r.photo.media_type, tr("photo media type"))
    return out


_TO_ATTRS: dict[RegistryKind, Callable[[], _AttributeWriter]] = {
    RegistryKind.DEBTS: _debt_attrs,
    RegistryKind.PAYMENTS: _payment_attrs,
    RegistryKind.READINGS: _reading_attrs,
}

CODECS: dict[RegistryKind, Codec] = {
    RegistryKind.DEBTS: Codec(
        RegistryKind.DEBTS,
        (
            Field("account", "account", identifiers.check_personal_account),
            Field("houseId", "house_id", identifiers.check_guid),
            Field("premises", "premises", parse_premises, required=False, default=Premises("")),
            Field("amount", "amount", parse_amount),
            Field("period", "period", Period.parse, required=False),
            Field("serviceCode", "service_code", parse_text, required=False),
            Field("service", "service", parse_text, required=False),
        ),
        _debt,
        DebtRecord,
        tags=True,
    ),
    RegistryKind.PAYMENTS: Codec(
        RegistryKind.PAYMENTS,
        (
            Field("paidAt", "paid_at", parse_datetime),
            Field("operationId", "operation_id", parse_text),
            Field("account", "account", identifiers.check_personal_account),
            Field("amount", "amount", parse_amount),
            Field("transfer", "transfer", parse_amount),
            Field("fee", "fee", parse_amount),
            Field("houseId", "house_id", identifiers.check_guid, required=False),
            Field("premises", "premises", parse_premises, required=False),
            Field("period", "period", Period.parse, required=False),
            Field("serviceCode", "service_code", parse_text, required=False),
            Field("service", "service", parse_text, required=False),
            Field("channel", "channel", parse_text, required=False),
        ),
        _payment,
        PaymentRecord,
        tags=True,
    ),
    RegistryKind.READINGS: Codec(
        RegistryKind.READINGS,
        (
            Field("account", "account", identifiers.check_personal_account),
            Field("meterNumber", "meter_number", parse_text),
            Field("meterType", "meter_type", parse_meter_type),
            Field("takenOn", "taken_on", parse_date),
            Field("t1", "t1", parse_meter_value),
            Field("t2", "t2", parse_meter_value, required=False),
            Field("t3", "t3", parse_meter_value, required=False),
            Field("houseId", "house_id", identifiers.check_guid, required=False),
            Field("service", "service", parse_text, required=False),
            Field("photoSha256", "photo_sha256", parse_text, required=False),
            Field("photoMediaType", "photo_media_type", parse_text, required=False),
        ),
        _reading,
        MeterReading,
        tags=False,
    ),
}
