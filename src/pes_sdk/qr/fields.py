"""The fields of a ГОСТ Р 56042-2014 payment string, as one table.

Each :class:`FieldSpec` names a field the way the string spells it (``PayeeINN``), the
attribute of :class:`~pes_sdk.qr.model.PaymentDetails` that holds it (``payee_inn``), the
longest value the standard allows (``None`` where the standard sets no limit), what kind of
value it is, and in which group the standard lists it. ``docs/qr.md`` describes each one.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType

import attrs

__all__ = [
    "FIELDS",
    "FIELDS_BY_KEY",
    "ORDER",
    "REQUIRED",
    "FieldSpec",
    "Group",
    "Kind",
    "lookup",
]


class Group(enum.Enum):
    """Where the standard lists a field."""

    #: The five fields every string carries, first and in this order.
    REQUIRED = "required"
    #: The additional fields of a payment order: amount, purpose, tax and budget details.
    ADDITIONAL = "additional"
    #: The other additional fields: the payer, the service, the meter, the bill.
    OTHER = "other"


class Kind(enum.Enum):
    """What a field's value is, beyond text: decides how it is checked and converted."""

    TEXT = "text"
    #: 20 digits whose control key agrees with the BIC (the payee's settlement account).
    ACCOUNT = "account"
    #: ``0`` (the bank has no correspondent account) or 20 digits keyed with the BIC.
    CORR_ACCOUNT = "corr_account"
    BIC = "bic"
    INN = "inn"
    KPP = "kpp"
    #: Kopecks in the string, a :class:`~decimal.Decimal` amount of roubles in the model.
    KOPECKS = "kopecks"
    #: ``DD.MM.YYYY`` in the string, a :class:`datetime.date` in the model.
    DATE = "date"
    #: Two digits ``01``…``15`` in the string, a :class:`~pes_sdk.qr.model.TechCode`.
    TECH_CODE = "tech_code"


@attrs.frozen
class FieldSpec:
    """One field of the payment string."""

    key: str
    attr: str
    group: Group
    kind: Kind = Kind.TEXT
    #: The longest value in characters, ``None`` when the standard sets no limit.
    max_length: int | None = None


_R, _A, _O = Group.REQUIRED, Group.ADDITIONAL, Group.OTHER

#: Every field of the standard, in the order of its tables.
FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("Name", "name", _R, max_length=160),
    FieldSpec("PersonalAcc", "personal_acc", _R, Kind.ACCOUNT, 20),
    FieldSpec("BankName", "bank_name", _R, max_length=45),
    FieldSpec("BIC", "bic", _R, Kind.BIC, 9),
    FieldSpec("CorrespAcc", "corresp_acc", _R, Kind.CORR_ACCOUNT, 20),
    FieldSpec("Sum", "sum", _A, Kind.KOPECKS, 18),
    FieldSpec("Purpose", "purpose", _A, max_length=210),
    FieldSpec("PayeeINN", "payee_inn", _A, Kind.INN, 12),
    FieldSpec("PayerINN", "payer_inn", _A, Kind.INN, 12),
    FieldSpec("DrawerStatus", "drawer_status", _A, max_length=2),
    FieldSpec("KPP", "kpp", _A, Kind.KPP, 9),
    FieldSpec("CBC", "cbc", _A, max_length=20),
    FieldSpec("OKTMO", "oktmo", _A, max_length=11),
    FieldSpec("PaytReason", "payt_reason", _A, max_length=2),
    FieldSpec("TaxPeriod", "tax_period", _A, max_length=10),
    FieldSpec("DocNo", "doc_no", _A, max_length=15),
    FieldSpec("DocDate", "doc_date", _A, Kind.DATE, 10),
    FieldSpec("TaxPaytKind", "tax_payt_kind", _A, max_length=2),
    FieldSpec("LastName", "last_name", _O),
    FieldSpec("FirstName", "first_name", _O),
    FieldSpec("MiddleName", "middle_name", _O),
    FieldSpec("PayerAddress", "payer_address", _O),
    FieldSpec("PersonalAccount", "personal_account", _O),
    FieldSpec("DocIdx", "doc_idx", _O),
    FieldSpec("PensAcc", "pens_acc", _O),
    FieldSpec("Contract", "contract", _O),
    FieldSpec("PersAcc", "pers_acc", _O),
    FieldSpec("Flat", "flat", _O),
    FieldSpec("Phone", "phone", _O),
    FieldSpec("PayerIdType", "payer_id_type", _O),
    FieldSpec("PayerIdNum", "payer_id_num", _O),
    FieldSpec("ChildFio", "child_fio", _O),
    FieldSpec("BirthDate", "birth_date", _O, Kind.DATE, 10),
    FieldSpec("PaymTerm", "paym_term", _O),
    FieldSpec("PaymPeriod", "paym_period", _O),
    FieldSpec("Category", "category", _O),
    FieldSpec("ServiceName", "service_name", _O),
    FieldSpec("CounterId", "counter_id", _O),
    FieldSpec("CounterVal", "counter_val", _O),
    FieldSpec("QuittId", "quitt_id", _O),
    FieldSpec("QuittDate", "quitt_date", _O, Kind.DATE, 10),
    FieldSpec("InstNum", "inst_num", _O),
    FieldSpec("ClassNum", "class_num", _O),
    FieldSpec("SpecFio", "spec_fio", _O),
    FieldSpec("AddAmount", "add_amount", _O, Kind.KOPECKS, 18),
    FieldSpec("RuleId", "rule_id", _O),
    FieldSpec("ExecId", "exec_id", _O),
    FieldSpec("RegType", "reg_type", _O),
    FieldSpec("UIN", "uin", _O),
    FieldSpec("TechCode", "tech_code", _O, Kind.TECH_CODE, 2),
)

#: The five required fields, in the order the string must give them.
REQUIRED: tuple[FieldSpec, ...] = tuple(f for f in FIELDS if f.group is Group.REQUIRED)

FIELDS_BY_KEY: Mapping[str, FieldSpec] = MappingProxyType({f.key: f for f in FIELDS})
_BY_FOLDED_KEY = MappingProxyType({f.key.casefold(): f for f in FIELDS})

# Some bank apps read these only right after the required block (docs/qr.md, "Order"), so
# the encoder writes them there; the standard itself fixes the order of the required fields
# only, and the decoder takes the others in any order.
_EARLY = ("KPP", "PayeeINN", "Purpose", "Sum")

#: The order the encoder writes the fields in.
ORDER: tuple[FieldSpec, ...] = (
    *REQUIRED,
    *(FIELDS_BY_KEY[k] for k in _EARLY),
    *(f for f in FIELDS if f.group is not Group.REQUIRED and f.key not in _EARLY),
)


def lookup(key: str) -> FieldSpec | None:
    """The field a key names, compared without case (``payeeinn`` is ``PayeeINN``)."""
    return _BY_FOLDED_KEY.get(key.casefold())
