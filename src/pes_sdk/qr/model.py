"""The typed content of a payment QR code: :class:`PaymentDetails`, charsets, tech codes."""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal

import attrs

from pes_sdk import identifiers
from pes_sdk.i18n import tr
from pes_sdk.money import amount
from pes_sdk.qr.errors import QrFormatError, Rule
from pes_sdk.qr.fields import FIELDS, FieldSpec, Kind, lookup

__all__ = ["Charset", "PaymentDetails", "TechCode"]

# The largest number of kopecks the standard's 18 digits hold.
_MAX_KOPECKS = 10**18 - 1
# A key the kit accepts for a field the standard does not list: Latin letters and digits,
# as the standard's own keys are, so that it cannot hold a separator or an "=".
_EXTRA_KEY = re.compile(r"[A-Za-z][A-Za-z0-9]*", re.ASCII)


class Charset(enum.IntEnum):
    """The charset digit of the service block and the codec it names."""

    WIN1251 = 1
    UTF8 = 2
    KOI8R = 3

    @property
    def codec(self) -> str:
        """The Python codec of this charset."""
        return _CODECS[self]

    @classmethod
    def parse(cls, text: str) -> Charset:
        """A charset from its digit (``1``), its name (``WIN1251``) or a codec name
        (``cp1251``, ``windows-1251``, ``utf-8``, ``koi8-r``), without case."""
        folded = text.strip().casefold().replace("-", "").replace("_", "")
        for charset in cls:
            names = {str(charset.value), charset.name.casefold(), *_ALIASES[charset]}
            if folded in names:
                return charset
        raise ValueError(
            tr("not a charset of the standard: {text!r} (1 WIN1251, 2 UTF8, 3 KOI8R)", text=text)
        )


_CODECS = {Charset.WIN1251: "cp1251", Charset.UTF8: "utf-8", Charset.KOI8R: "koi8-r"}
_ALIASES = {
    Charset.WIN1251: {"cp1251", "windows1251", "win1251"},
    Charset.UTF8: {"utf8"},
    Charset.KOI8R: {"koi8r"},
}


class TechCode(enum.Enum):
    """The technical code (``TechCode``): the kind of payee, for the bank's routing.

    The string carries the two-digit value; the names say what the standard's list means.
    """

    MOBILE_AND_LANDLINE = "01"
    HOUSING_AND_UTILITIES = "02"
    TRAFFIC_POLICE_TAXES_DUTIES_BUDGET = "03"
    SECURITY_SERVICES = "04"
    MIGRATION_SERVICE = "05"
    PENSION_FUND = "06"
    LOAN_REPAYMENT = "07"
    EDUCATION = "08"
    INTERNET_AND_TV = "09"
    ELECTRONIC_MONEY = "10"
    TRAVEL_AND_LEISURE = "11"
    INVESTMENT_AND_INSURANCE = "12"
    SPORT_AND_HEALTH = "13"
    CHARITY_AND_PUBLIC_ORGANISATIONS = "14"
    OTHER_SERVICES = "15"


def _fail(spec: FieldSpec, rule: Rule, message: str) -> QrFormatError:
    return QrFormatError(message, field=spec.key, rule=rule)


def _check_text(spec: FieldSpec, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{spec.attr} is a str, not {type(value).__name__}")
    if not value:
        raise _fail(spec, Rule.EMPTY, tr("the value is empty"))
    if spec.max_length is not None and len(value) > spec.max_length:
        raise _fail(
            spec,
            Rule.MAX_LENGTH,
            tr(
                "at most {limit} characters, not {length}",
                limit=spec.max_length,
                length=len(value),
            ),
        )
    return value


def _check_identifier(spec: FieldSpec, value: str) -> None:
    """ИНН, КПП, БИК and the accounts' form: the kit's validators, as a typed error."""
    checks = {
        Kind.INN: identifiers.check_inn,
        Kind.KPP: identifiers.check_kpp,
        Kind.BIC: identifiers.check_bik,
    }
    check = checks.get(spec.kind)
    if check is not None:
        try:
            check(value)
        except ValueError as exc:
            # Only an ИНН of the right form can fail for its check digits.
            well_formed = value.isascii() and value.isdigit() and len(value) in (10, 12)
            rule = Rule.CHECK_DIGITS if spec.kind is Kind.INN and well_formed else Rule.FORM
            raise _fail(spec, rule, str(exc)) from None
    elif spec.kind in (Kind.ACCOUNT, Kind.CORR_ACCOUNT) and not (
        len(value) == 20 and value.isascii() and value.isdigit()
    ):
        if spec.kind is Kind.CORR_ACCOUNT and value == "0":
            return
        expected = (
            tr("20 digits, not {value!r}", value=value)
            if spec.kind is Kind.ACCOUNT
            else tr("20 digits, or 0 when the bank has none, not {value!r}", value=value)
        )
        raise _fail(spec, Rule.FORM, expected)


def _optional_amount(value: Decimal | int | str | None) -> Decimal | None:
    return None if value is None else amount(value)


def _optional_tech_code(value: TechCode | str | None) -> TechCode | None:
    if value is None or isinstance(value, TechCode):
        return value
    try:
        return TechCode(value)
    except ValueError:
        raise QrFormatError(
            tr("a code of the list, 01 to 15, not {value!r}", value=value),
            field="TechCode",
            rule=Rule.FORM,
        ) from None


def _extra_converter(
    value: Iterable[tuple[str, str]] | Mapping[str, str],
) -> tuple[tuple[str, str], ...]:
    items = value.items() if isinstance(value, Mapping) else value
    pairs = tuple((str(k), str(v)) for k, v in items)
    seen: set[str] = set()
    for key, text in pairs:
        if not _EXTRA_KEY.fullmatch(key):
            raise QrFormatError(
                tr("a key is Latin letters and digits, not {key!r}", key=key),
                field=key,
                rule=Rule.PAIR,
            )
        if lookup(key) is not None:
            raise QrFormatError(
                tr("a field of the standard is not an extra field"),
                field=key,
                rule=Rule.PAIR,
            )
        if key.casefold() in seen:
            raise QrFormatError(tr("given twice"), field=key, rule=Rule.REPEATED)
        seen.add(key.casefold())
        if not text:
            raise QrFormatError(tr("the value is empty"), field=key, rule=Rule.EMPTY)
    return pairs


@attrs.frozen
class PaymentDetails:
    """What a ГОСТ Р 56042-2014 payment QR code says: who is paid, and for what.

    One attribute per field of the standard, named after its key in snake case
    (``PayeeINN`` is ``payee_inn``; :data:`~pes_sdk.qr.fields.FIELDS` maps them). The five
    required ones come first; every other one is ``None`` when the code does not carry it.
    Typed where the standard's text has a meaning: ``sum`` and ``add_amount`` are amounts
    in roubles (:mod:`pes_sdk.money`; the string holds kopecks), the dates are
    :class:`datetime.date`, ``tech_code`` a :class:`TechCode`.

    Checked when built, with the kit's validators: lengths, ИНН check digits, КПП, БИК,
    the settlement account's and the correspondent account's control keys against the
    БИК. A bad value raises :class:`~pes_sdk.qr.errors.QrFormatError` naming the field's
    key and the rule. ``extra`` holds fields the standard does not list, in order (only
    tolerant decoding keeps them; the encoder writes them last).
    """

    name: str
    personal_acc: str
    bank_name: str
    bic: str
    corresp_acc: str
    sum: Decimal | None = attrs.field(default=None, kw_only=True, converter=_optional_amount)
    purpose: str | None = attrs.field(default=None, kw_only=True)
    payee_inn: str | None = attrs.field(default=None, kw_only=True)
    payer_inn: str | None = attrs.field(default=None, kw_only=True)
    drawer_status: str | None = attrs.field(default=None, kw_only=True)
    kpp: str | None = attrs.field(default=None, kw_only=True)
    cbc: str | None = attrs.field(default=None, kw_only=True)
    oktmo: str | None = attrs.field(default=None, kw_only=True)
    payt_reason: str | None = attrs.field(default=None, kw_only=True)
    tax_period: str | None = attrs.field(default=None, kw_only=True)
    doc_no: str | None = attrs.field(default=None, kw_only=True)
    doc_date: dt.date | None = attrs.field(default=None, kw_only=True)
    tax_payt_kind: str | None = attrs.field(default=None, kw_only=True)
    last_name: str | None = attrs.field(default=None, kw_only=True)
    first_name: str | None = attrs.field(default=None, kw_only=True)
    middle_name: str | None = attrs.field(default=None, kw_only=True)
    payer_address: str | None = attrs.field(default=None, kw_only=True)
    personal_account: str | None = attrs.field(default=None, kw_only=True)
    doc_idx: str | None = attrs.field(default=None, kw_only=True)
    pens_acc: str | None = attrs.field(default=None, kw_only=True)
    contract: str | None = attrs.field(default=None, kw_only=True)
    pers_acc: str | None = attrs.field(default=None, kw_only=True)
    flat: str | None = attrs.field(default=None, kw_only=True)
    phone: str | None = attrs.field(default=None, kw_only=True)
    payer_id_type: str | None = attrs.field(default=None, kw_only=True)
    payer_id_num: str | None = attrs.field(default=None, kw_only=True)
    child_fio: str | None = attrs.field(default=None, kw_only=True)
    birth_date: dt.date | None = attrs.field(default=None, kw_only=True)
    paym_term: str | None = attrs.field(default=None, kw_only=True)
    paym_period: str | None = attrs.field(default=None, kw_only=True)
    category: str | None = attrs.field(default=None, kw_only=True)
    service_name: str | None = attrs.field(default=None, kw_only=True)
    counter_id: str | None = attrs.field(default=None, kw_only=True)
    counter_val: str | None = attrs.field(default=None, kw_only=True)
    quitt_id: str | None = attrs.field(default=None, kw_only=True)
    quitt_date: dt.date | None = attrs.field(default=None, kw_only=True)
    inst_num: str | None = attrs.field(default=None, kw_only=True)
    class_num: str | None = attrs.field(default=None, kw_only=True)
    spec_fio: str | None = attrs.field(default=None, kw_only=True)
    add_amount: Decimal | None = attrs.field(default=None, kw_only=True, converter=_optional_amount)
    rule_id: str | None = attrs.field(default=None, kw_only=True)
    exec_id: str | None = attrs.field(default=None, kw_only=True)
    reg_type: str | None = attrs.field(default=None, kw_only=True)
    uin: str | None = attrs.field(default=None, kw_only=True)
    tech_code: TechCode | None = attrs.field(
        default=None, kw_only=True, converter=_optional_tech_code
    )
    extra: tuple[tuple[str, str], ...] = attrs.field(
        default=(), kw_only=True, converter=_extra_converter
    )

    def __attrs_post_init__(self) -> None:
        for spec in FIELDS:
            value = getattr(self, spec.attr)
            if value is not None:
                _check_value(spec, value)
        self._check_keys()

    def _check_keys(self) -> None:
        bic = self.bic
        try:
            identifiers.check_bank_account(self.personal_acc, bic)
        except ValueError as exc:
            raise QrFormatError(str(exc), field="PersonalAcc", rule=Rule.CHECK_DIGITS) from None
        if self.corresp_acc != "0":
            try:
                identifiers.check_corr_account(self.corresp_acc, bic)
            except ValueError as exc:
                raise QrFormatError(str(exc), field="CorrespAcc", rule=Rule.CHECK_DIGITS) from None


def _check_value(spec: FieldSpec, value: object) -> None:
    if spec.kind is Kind.KOPECKS:
        assert isinstance(value, Decimal)  # the converter made it one
        if value < 0 or value * 100 > _MAX_KOPECKS:
            raise _fail(
                spec,
                Rule.FORM,
                tr("an amount from 0 to 18 digits of kopecks, not {value}", value=value),
            )
    elif spec.kind is Kind.DATE:
        if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
            raise TypeError(f"{spec.attr} is a datetime.date, not {type(value).__name__}")
        if value.year < 1000:
            # DD.MM.YYYY has four digits for the year.
            raise _fail(spec, Rule.FORM, tr("a year of four digits, not {year}", year=value.year))
    elif spec.kind is not Kind.TECH_CODE:
        text = _check_text(spec, value)
        _check_identifier(spec, text)
