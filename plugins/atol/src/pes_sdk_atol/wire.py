"""АТОЛ Онлайн API v5 on the wire: the receipt body from the kit's model, the answers back.

Only data here, no HTTP: :func:`receipt_document` builds the body of
``POST /possystem/v5/{group_code}/sell`` (and ``sell_refund``) from a
:class:`~pes_sdk.models.receipts.Receipt`, :func:`encode` writes it as UTF-8 JSON with every
amount an exact number with two decimals, and :func:`fiscal_attributes` reads a report's
``payload``. The v5 protocol (ФФД 1.2) as ATOL's "API АТОЛ Онлайн v5" describes it::

    {"external_id": "<the caller's key>", "timestamp": "07.12.2026 10:15:00",
     "receipt": {
       "client": {"email": "…"} or {"phone": "+7…"},                          tag 1008
       "company": {"email": …, "sno": "osn", "inn": …, "payment_address": …},
       "items": [{"name": …, "price": 1234.50, "quantity": 1, "sum": 1234.50,
                  "measure": 0,                      (tag 2108: штуки, единицы)
                  "payment_method": "full_payment",  (tag 1214, a name in v5)
                  "payment_object": 4,               (tag 1212, a number in v5: услуга)
                  "vat": {"type": "vat20"},          (tag 1199)
                  "agent_info": {"type": "paying_agent", …},         tag 1222 (value 4)
                  "supplier_info": {"phones": […], "name": …, "inn": …}}],  1224
       "payments": [{"type": 1, "sum": 1234.50}],    (1: безналичный)
       "total": 1234.50}}

**The agent sign.** Tag 1222 is a bit field where a payment agent (платёжный агент) is the
value 4 (:data:`~pes_sdk.models.receipts.TAG_1222_PAYMENT_AGENT`); ATOL's
``agent_info.type`` takes the sign by name, and the payment agent's name is
``paying_agent`` (``bank_paying_agent`` would be the bank payment agent, 1).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs

from pes_sdk.fiscal import FiscalAttributes
from pes_sdk.models.receipts import AgentType, Receipt, ReceiptVat
from pes_sdk.money import amount as to_amount

__all__ = [
    "AGENT_TYPES",
    "PAYMENT_ELECTRONIC",
    "PAYMENT_OBJECTS",
    "SNO",
    "TIMESTAMP_FORMAT",
    "VAT_TYPES",
    "Company",
    "Money",
    "PayingAgent",
    "encode",
    "fiscal_attributes",
    "format_timestamp",
    "parse_json",
    "parse_timestamp",
    "receipt_document",
]

_CENT = Decimal("0.01")
#: ``dd.mm.yyyy HH:MM:SS``: the ``timestamp`` of a request and ``receipt_datetime``.
TIMESTAMP_FORMAT = "%d.%m.%Y %H:%M:%S"
#: ``payments[].type`` of a card, SberPay or СБП payment: 1, безналичный (электронными).
PAYMENT_ELECTRONIC = 1
#: ``measure`` (tag 2108) of a service paid once: 0, штуки или единицы.
MEASURE_PIECES = 0
#: The taxation systems (``company.sno``, tag 1055) ATOL v5 takes.
SNO = ("osn", "usn_income", "usn_income_outcome", "esn", "patent")
#: ReceiptVat → ``items[].vat.type``; the rates of 22% (2026) are ``vat22`` / ``vat122``.
VAT_TYPES: dict[ReceiptVat, str] = {
    ReceiptVat.NONE: "none",
    ReceiptVat.VAT0: "vat0",
    ReceiptVat.VAT5: "vat5",
    ReceiptVat.VAT7: "vat7",
    ReceiptVat.VAT10: "vat10",
    ReceiptVat.VAT20: "vat20",
    ReceiptVat.VAT22: "vat22",
    ReceiptVat.VAT5_105: "vat105",
    ReceiptVat.VAT7_107: "vat107",
    ReceiptVat.VAT10_110: "vat110",
    ReceiptVat.VAT20_120: "vat120",
    ReceiptVat.VAT22_122: "vat122",
}
#: The agent sign by name → ``agent_info.type`` (tag 1222 is 4 for a payment agent).
AGENT_TYPES: dict[AgentType, str] = {AgentType.PAYMENT_AGENT: "paying_agent"}
#: ReceiptPosition.subject (tag 1212 by name) → v5's number of it in ``payment_object``.
PAYMENT_OBJECTS: dict[str, int] = {
    "commodity": 1,  # товар
    "excise": 2,  # подакцизный товар
    "job": 3,  # работа
    "service": 4,  # услуга
    "payment": 10,  # платёж
    "agent_commission": 11,  # агентское вознаграждение
    "another": 13,  # иной предмет расчёта
}
#: ReceiptPosition.mode (tag 1214) names v5 takes as they are in ``payment_method``.
PAYMENT_METHODS = (
    "full_prepayment",
    "prepayment",
    "advance",
    "full_payment",
    "partial_payment",
    "credit",
    "credit_payment",
)


class Money(Decimal):
    """An amount that :func:`encode` writes as a JSON number with two decimals."""

    __slots__ = ()


@attrs.frozen
class Company:
    """The seller as every receipt names it (``receipt.company``): its ИНН (tag 1018), its
    taxation system (tag 1055), the e-mail receipts come from (tag 1117) and the place of
    settlement (tag 1187: for a payment on a site, the site's address)."""

    inn: str
    sno: str
    email: str
    payment_address: str


@attrs.frozen
class PayingAgent:
    """What the kit as a payment agent says of itself on an agent position (optional):
    the operation (tag 1044, at most 24 characters), its phones (tag 1073) and those of
    the operator accepting the payments (tag 1074). Empty: left out."""

    operation: str = ""
    phones: tuple[str, ...] = ()
    operator_phones: tuple[str, ...] = ()


def format_timestamp(moment: dt.datetime, zone: dt.tzinfo) -> str:
    """``moment`` (aware) as ATOL writes times: ``dd.mm.yyyy HH:MM:SS`` in ``zone``."""
    if moment.utcoffset() is None:
        raise ValueError("a timestamp needs a time zone")
    return moment.astimezone(zone).strftime(TIMESTAMP_FORMAT)


def parse_timestamp(text: str, zone: dt.tzinfo) -> dt.datetime:
    """ATOL's ``dd.mm.yyyy HH:MM:SS`` as an aware time: the wall time of ``zone`` (ATOL
    writes no zone; its registers keep Moscow time). ValueError for another shape."""
    return dt.datetime.strptime(text, TIMESTAMP_FORMAT).replace(tzinfo=zone)


def _position_item(index: int, position: Any, agent: PayingAgent) -> dict[str, Any]:
    where = f"receipt.items[{index}]"
    payment_object = PAYMENT_OBJECTS.get(position.subject)
    if payment_object is None:
        raise ValueError(f"{where}.payment_object: no v5 number for {position.subject!r}")
    if position.mode not in PAYMENT_METHODS:
        raise ValueError(f"{where}.payment_method: not a v5 method: {position.mode!r}")
    item: dict[str, Any] = {
        "name": position.name,
        "price": Money(position.amount),
        "quantity": position.quantity,
        "sum": Money(to_amount(position.amount * position.quantity)),
        "measure": MEASURE_PIECES,
        "payment_method": position.mode,
        "payment_object": payment_object,
        "vat": {"type": VAT_TYPES[position.vat]},
    }
    if position.agent is not None:
        info: dict[str, Any] = {"type": AGENT_TYPES[position.agent]}
        if agent.operation or agent.phones:
            paying: dict[str, Any] = {}
            if agent.operation:
                paying["operation"] = agent.operation
            if agent.phones:
                paying["phones"] = list(agent.phones)
            info["paying_agent"] = paying
        if agent.operator_phones:
            info["receive_payments_operator"] = {"phones": list(agent.operator_phones)}
        item["agent_info"] = info
        supplier = position.supplier
        supplier_info: dict[str, Any] = {}
        if supplier.phones:
            supplier_info["phones"] = list(supplier.phones)
        supplier_info["name"] = supplier.name
        supplier_info["inn"] = supplier.inn
        item["supplier_info"] = supplier_info
    return item


def receipt_document(
    receipt: Receipt,
    *,
    external_id: str,
    company: Company,
    timestamp: str,
    agent: PayingAgent | None = None,
) -> dict[str, Any]:
    """The body of a ``sell`` / ``sell_refund`` request for ``receipt``.

    One item per position (price per unit, ``sum`` = price × quantity), one electronic
    payment of the whole total; the buyer's e-mail if given, else the phone. ValueError
    naming the field for a position v5 has no code for.
    """
    agent = agent or PayingAgent()
    items = [_position_item(i, p, agent) for i, p in enumerate(receipt.positions)]
    total = Money(to_amount(receipt.total))
    client: dict[str, str] = {}
    if receipt.customer_email:
        client["email"] = receipt.customer_email
    elif receipt.customer_phone:
        client["phone"] = receipt.customer_phone
    return {
        "external_id": external_id,
        "timestamp": timestamp,
        "receipt": {
            "client": client,
            "company": {
                "email": company.email,
                "sno": company.sno,
                "inn": company.inn,
                "payment_address": company.payment_address,
            },
            "items": items,
            "payments": [{"type": PAYMENT_ELECTRONIC, "sum": total}],
            "total": total,
        },
    }


def _write(value: Any, out: list[str]) -> None:
    if isinstance(value, Money):
        if value != value.quantize(_CENT):
            raise ValueError(f"an amount has two decimals at most, not {value}")
        out.append(f"{value:.2f}")
    elif isinstance(value, Mapping):
        out.append("{")
        for n, (key, item) in enumerate(value.items()):
            if n:
                out.append(",")
            out.append(json.dumps(str(key), ensure_ascii=False))
            out.append(":")
            _write(item, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for n, item in enumerate(value):
            if n:
                out.append(",")
            _write(item, out)
        out.append("]")
    elif isinstance(value, Decimal | float):
        # a bare Decimal or float on the wire would be a bug: amounts are Money
        raise TypeError(f"an amount on the wire must be Money, not {type(value).__name__}")
    else:
        out.append(json.dumps(value, ensure_ascii=False))


def encode(document: Mapping[str, Any]) -> bytes:
    """``document`` as UTF-8 JSON (Cyrillic as is), each :class:`Money` a number with
    exactly two decimals (``1234.50``): exact, where a float could not be."""
    out: list[str] = []
    _write(document, out)
    return "".join(out).encode("utf-8")


def parse_json(body: bytes) -> Any:
    """An answer's JSON with every fraction a :class:`~decimal.Decimal`, never a float."""
    return json.loads(body.decode("utf-8"), parse_float=Decimal)


def _text(payload: Mapping[str, Any], key: str) -> str:
    value = payload.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value:
        raise ValueError(f"payload.{key} is missing")
    return value


def _number(payload: Mapping[str, Any], key: str) -> int:
    value = payload.get(key)
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"payload.{key} is not a whole number: {value!r}")
    return value


def fiscal_attributes(payload: Mapping[str, Any], zone: dt.tzinfo) -> FiscalAttributes:
    """A ``done`` report's ``payload`` as :class:`~pes_sdk.fiscal.FiscalAttributes`;
    ``receipt_datetime`` is read in ``zone``. ValueError naming the field otherwise."""
    total = payload.get("total")
    if isinstance(total, bool) or not isinstance(total, int | Decimal):
        raise ValueError(f"payload.total is not an amount: {total!r}")
    try:
        registered_at = parse_timestamp(_text(payload, "receipt_datetime"), zone)
    except ValueError as exc:
        raise ValueError(f"payload.receipt_datetime: {exc}") from None
    url = payload.get("ofd_receipt_url")
    # not every ОФД gives a page: anything but an http(s) address is no check URL
    if not (isinstance(url, str) and url.startswith(("https://", "http://"))):
        url = None
    return FiscalAttributes(
        fn=_text(payload, "fn_number"),
        fd=_number(payload, "fiscal_document_number"),
        fp=_number(payload, "fiscal_document_attribute"),
        shift=_number(payload, "shift_number"),
        receipt_number=_number(payload, "fiscal_receipt_number"),
        registered_at=registered_at,
        total=to_amount(total),
        kkt_registration_number=str(payload.get("ecr_registration_number") or ""),
        check_url=url,
        fns_site=str(payload.get("fns_site") or ""),
    )
