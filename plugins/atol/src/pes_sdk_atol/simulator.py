"""АТОЛ Онлайн API v5, simulated on loopback.

:class:`AtolSimulator` is a real HTTP server on ``127.0.0.1`` (on
:class:`~pes_sdk.gateways.simulation.LoopbackServer`) answering the three calls of ATOL's
"API АТОЛ Онлайн v5" as documented:

* ``POST /possystem/v5/getToken`` ``{"login", "pass"}``: a token for :attr:`~AtolSimulator.
  token_lifetime` seconds (24 hours); a wrong pair answers HTTP 401, error 12; a missing
  field HTTP 400, error 13;
* ``POST /possystem/v5/{group_code}/sell`` and ``sell_refund`` with the header ``Token``:
  no or an unknown token answers 401 error 10, an expired one 401 error 11, a group not the
  login's 401 error 20; a body other than ``application/json`` 415 error 41. The receipt is
  validated as the v5 document says (below); a wrong one answers 400 error 32, status
  ``fail``, "Ошибка валидации входного чека. Ошибочные поля : <field>". An ``external_id``
  the group has already answers 400 error 33, status ``wait``, with the uuid of the
  document it has, whatever the body says this time (ATOL keys by external_id alone; the
  repeat is kept in :attr:`AtolDocument.repeats`): nothing new is registered. Otherwise
  200 ``{"uuid", "status": "wait"}``;
* ``GET /possystem/v5/{group_code}/report/{uuid}``: ``wait`` for the first
  :attr:`~AtolSimulator.polls_before_done` polls, then ``done`` with the ``payload`` of
  fiscal attributes (ФН, ФД, ФП, shift, receipt number, ``receipt_datetime`` in Moscow
  time, total, the register's number, ``fns_site``, ``ofd_inn``, ``ofd_receipt_url``); or
  ``fail`` for a document :meth:`~AtolSimulator.fail_document` marked; an unknown uuid 400
  error 30.

**What a receipt must be** (the v5 document's required fields and its rules): an
``external_id`` (1 to 128 characters) and a ``timestamp`` ``dd.mm.yyyy HH:MM:SS``;
``receipt.client`` with an ``email`` or a ``phone``; ``receipt.company`` with ``inn`` (10 or
12 digits), ``payment_address``, ``email`` and, when given, a known ``sno``; 1 to 100
``items``, each with ``name`` (1 to 128 characters), ``price``, ``quantity``, ``sum``
(= price × quantity, to the kopeck), ``measure`` (a tag 2108 code), ``payment_method``,
``payment_object`` (a tag 1212 number, not a v4 name), ``vat.type``; an item with
``agent_info`` has a known ``agent_info.type`` and ``supplier_info`` with ``name``,
``inn`` and, for a payment agent, ``phones``; ``supplier_info`` comes only with
``agent_info``; ``payments`` (type 0 to 9) and ``total``: the items' sums = ``total`` = the
payments. Amounts have at most two decimals; a string or a float where a number is due is
refused.

Faults on demand (:meth:`~AtolSimulator.fail_next`): ``stall`` (no answer until
:meth:`~AtolSimulator.heal`), ``lost-answer`` (the receipt is taken, the answer never
comes), ``http-500`` (an HTML 500 of ATOL's front), ``error-50`` (HTTP 500 with ATOL's error
50).
:meth:`~AtolSimulator.expire_tokens` ages every token issued.

The simulator records every request (:attr:`~AtolSimulator.calls`) and keeps documents by
``external_id`` (:attr:`~AtolSimulator.documents`), with the raw body that made them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import threading
import time
import uuid as uuidlib
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from pes_sdk.gateways.simulation import LoopbackServer, SimulatorHandler
from pes_sdk_atol import wire

__all__ = [
    "FAULTS",
    "GROUP_CODE",
    "LOGIN",
    "PASSWORD",
    "AtolDocument",
    "AtolSimulator",
]

LOGIN = "v5-pes-demo"
#: test credentials the simulator expects (not real ATOL ones)
PASSWORD = "atol-sim-Zx8c7Vb6"
GROUP_CODE = "v5-pes-demo_4179"
FAULTS = ("stall", "lost-answer", "http-500", "error-50")
_MOSCOW = ZoneInfo("Europe/Moscow")
_TIMESTAMP = re.compile(r"\d{2}\.\d{2}\.\d{4} \d{2}:\d{2}:\d{2}")
_INN = re.compile(r"\d{10}|\d{12}")
_PHONE = re.compile(r"\+?\d{1,19}")
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")
_MEASURES = {0, 10, 11, 12, 20, 21, 22, 30, 31, 32, 40, 41, 42, 50, 51, 70, 71, 72, 73}
_MEASURES |= {80, 81, 82, 83, 255}
_METHODS = set(wire.PAYMENT_METHODS)
_VATS = set(wire.VAT_TYPES.values())
_AGENTS = {
    "bank_paying_agent",
    "bank_paying_subagent",
    "paying_agent",
    "paying_subagent",
    "attorney",
    "commission_agent",
    "another",
}
_PAYING_AGENTS = {"bank_paying_agent", "bank_paying_subagent", "paying_agent", "paying_subagent"}
FN_NUMBER = "9999078902004181"
ECR_REGISTRATION_NUMBER = "0000000001002292"
OFD_INN = "7704358518"


@attrs.define
class AtolDocument:
    """One document the simulator took: its ``uuid``, the ``operation`` (``sell`` or
    ``sell_refund``), the decoded ``body`` and the ``raw`` bytes it came in, how often its
    report was read, and once done its fiscal numbers."""

    uuid: str
    operation: str
    external_id: str
    body: dict[str, Any]
    raw: bytes
    polls: int = 0
    fail: bool = False
    payload: dict[str, Any] | None = None
    #: the raw bodies of every later send of its external_id (answered error 33, whatever
    #: they said: ATOL does not compare a repeat with the document)
    repeats: list[bytes] = attrs.field(factory=list)


class _Refused(Exception):
    def __init__(self, field: str) -> None:
        self.field = field
        super().__init__(field)


def _money(value: Any, field: str, *, places: int = 2, low: Decimal = Decimal(0)) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise _Refused(field)
    number = Decimal(value)
    exponent = number.as_tuple().exponent
    if not isinstance(exponent, int) or exponent < -places or number < low:
        raise _Refused(field)
    return number


def _string(value: Any, field: str, most: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > most:
        raise _Refused(field)
    return value


def _object(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Refused(field)
    return value


def _phones(value: Any, field: str) -> None:
    if not isinstance(value, list) or not value:
        raise _Refused(field)
    for phone in value:
        if not isinstance(phone, str) or not _PHONE.fullmatch(phone):
            raise _Refused(field)


def validate_sell(body: Any) -> None:
    """Raise ``_Refused(field)`` for the first thing in ``body`` ATOL v5 would refuse."""
    doc = _object(body, "body")
    _string(doc.get("external_id"), "external_id", 128)
    timestamp = doc.get("timestamp")
    if not isinstance(timestamp, str) or not _TIMESTAMP.fullmatch(timestamp):
        raise _Refused("timestamp")
    try:
        dt.datetime.strptime(timestamp, wire.TIMESTAMP_FORMAT)
    except ValueError:
        raise _Refused("timestamp") from None
    receipt = _object(doc.get("receipt"), "receipt")
    client = _object(receipt.get("client"), "receipt.client")
    email, phone = client.get("email"), client.get("phone")
    if email is None and phone is None:
        raise _Refused("receipt.client")
    if email is not None and (not isinstance(email, str) or not _EMAIL.fullmatch(email)):
        raise _Refused("receipt.client.email")
    if phone is not None and (not isinstance(phone, str) or not _PHONE.fullmatch(phone)):
        raise _Refused("receipt.client.phone")
    company = _object(receipt.get("company"), "receipt.company")
    inn = company.get("inn")
    if not isinstance(inn, str) or not _INN.fullmatch(inn):
        raise _Refused("receipt.company.inn")
    _string(company.get("payment_address"), "receipt.company.payment_address", 256)
    company_email = company.get("email")
    if not isinstance(company_email, str) or not _EMAIL.fullmatch(company_email):
        raise _Refused("receipt.company.email")
    if "sno" in company and company["sno"] not in wire.SNO:
        raise _Refused("receipt.company.sno")
    items = receipt.get("items")
    if not isinstance(items, list) or not 1 <= len(items) <= 100:
        raise _Refused("receipt.items")
    items_total = Decimal(0)
    for n, raw_item in enumerate(items):
        where = f"receipt.items[{n}]"
        item = _object(raw_item, where)
        _string(item.get("name"), f"{where}.name", 128)
        price = _money(item.get("price"), f"{where}.price")
        quantity = _money(item.get("quantity"), f"{where}.quantity", places=3)
        if quantity <= 0:
            raise _Refused(f"{where}.quantity")
        line_sum = _money(item.get("sum"), f"{where}.sum")
        if line_sum != (price * quantity).quantize(Decimal("0.01")):
            raise _Refused(f"{where}.sum")
        items_total += line_sum
        measure = item.get("measure")
        if isinstance(measure, bool) or measure not in _MEASURES:
            raise _Refused(f"{where}.measure")
        if item.get("payment_method") not in _METHODS:
            raise _Refused(f"{where}.payment_method")
        payment_object = item.get("payment_object")
        if (
            isinstance(payment_object, bool)
            or not isinstance(payment_object, int)
            or not 1 <= payment_object <= 33
        ):
            raise _Refused(f"{where}.payment_object")
        vat = _object(item.get("vat"), f"{where}.vat")
        if vat.get("type") not in _VATS:
            raise _Refused(f"{where}.vat.type")
        agent = item.get("agent_info")
        supplier = item.get("supplier_info")
        if agent is None:
            if supplier is not None:
                raise _Refused(f"{where}.agent_info")
            continue
        agent = _object(agent, f"{where}.agent_info")
        if agent.get("type") not in _AGENTS:
            raise _Refused(f"{where}.agent_info.type")
        if "paying_agent" in agent:
            paying = _object(agent["paying_agent"], f"{where}.agent_info.paying_agent")
            if "operation" in paying:
                _string(paying["operation"], f"{where}.agent_info.paying_agent.operation", 24)
            if "phones" in paying:
                _phones(paying["phones"], f"{where}.agent_info.paying_agent.phones")
        if "receive_payments_operator" in agent:
            operator = _object(
                agent["receive_payments_operator"], f"{where}.agent_info.receive_payments_operator"
            )
            _phones(operator.get("phones"), f"{where}.agent_info.receive_payments_operator.phones")
        supplier = _object(supplier, f"{where}.supplier_info")
        _string(supplier.get("name"), f"{where}.supplier_info.name", 256)
        supplier_inn = supplier.get("inn")
        if not isinstance(supplier_inn, str) or not _INN.fullmatch(supplier_inn):
            raise _Refused(f"{where}.supplier_info.inn")
        if agent["type"] in _PAYING_AGENTS or "phones" in supplier:
            _phones(supplier.get("phones"), f"{where}.supplier_info.phones")
    payments = receipt.get("payments")
    if not isinstance(payments, list) or not 1 <= len(payments) <= 10:
        raise _Refused("receipt.payments")
    paid = Decimal(0)
    for n, raw_payment in enumerate(payments):
        payment = _object(raw_payment, f"receipt.payments[{n}]")
        kind = payment.get("type")
        if isinstance(kind, bool) or not isinstance(kind, int) or not 0 <= kind <= 9:
            raise _Refused(f"receipt.payments[{n}].type")
        paid += _money(payment.get("sum"), f"receipt.payments[{n}].sum")
    total = _money(receipt.get("total"), "receipt.total")
    if total != items_total or total != paid:
        raise _Refused("receipt.total")


class _Handler(SimulatorHandler):
    sim: AtolSimulator

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        self._send(status, wire.encode(payload), "application/json; charset=utf-8")

    def _error(
        self, status: int, code: int, text: str, *, state: str | None = None, **extra: Any
    ) -> None:
        error = {
            "error_id": str(uuidlib.uuid4()),
            "code": code,
            "text": text,
            "type": "system",
        }
        self._json(
            status,
            {**extra, "error": error, "status": state, "timestamp": self.sim.timestamp()},
        )

    def _dispatch(self, method: str) -> None:
        path = self.path.split("?", 1)[0]
        body = self._body() if method == "POST" else b""
        fault = self.sim.take_fault(token=path.endswith("/getToken"))
        self.sim.record_call(method, path, self.headers.get("Token"))
        if fault == "stall":
            self.sim.wait_for_heal()
            self.close_connection = True
            return
        if fault == "http-500":
            self._send(500, b"<html><body>500 Internal Server Error</body></html>", "text/html")
            return
        if fault == "error-50":
            self._error(500, 50, "Ошибка сервера. Обратитесь к Администратору.")
            return
        parts = path.strip("/").split("/")
        if parts[:2] != ["possystem", "v5"] or len(parts) < 3:
            self._error(404, 40, "Некорректный запрос.")
            return
        rest = parts[2:]
        if method == "POST" and rest == ["getToken"]:
            self._token(body)
        elif method == "POST" and len(rest) == 2 and rest[1] in ("sell", "sell_refund"):
            self._sell(rest[0], rest[1], body, lost=fault == "lost-answer")
        elif method == "GET" and len(rest) == 3 and rest[1] == "report":
            self._report(rest[0], rest[2])
        else:
            self._error(400, 40, "Некорректный запрос.")

    def _content_type_ok(self) -> bool:
        content_type = (self.headers.get("Content-Type") or "").lower()
        return content_type.split(";")[0].strip() == "application/json"

    def _token(self, body: bytes) -> None:
        if not self._content_type_ok():
            self._error(415, 41, "Некорректный Content-Type.")
            return
        try:
            request = wire.parse_json(body)
        except (ValueError, UnicodeDecodeError):
            self._error(400, 40, "Некорректный запрос.")
            return
        if not isinstance(request, dict) or not request.get("login") or not request.get("pass"):
            self._error(400, 13, "Ошибка валидации входящего запроса. Ошибочные поля: login, pass.")
            return
        if request["login"] != self.sim.login or request["pass"] != self.sim.password:
            self._error(401, 12, "Неверный логин или пароль")
            return
        token = self.sim.issue_token()
        self._json(200, {"error": None, "token": token, "timestamp": self.sim.timestamp()})

    def _check_token(self, group: str) -> bool:
        state = self.sim.token_state(self.headers.get("Token"))
        if state == "unknown":
            self._error(401, 10, "Не распознан токен запроса")
            return False
        if state == "expired":
            self._error(401, 11, "Переданный токен не активен")
            return False
        if group != self.sim.group_code:
            self._error(401, 20, "Код группы, указанный в запросе, не соответствует токену.")
            return False
        return True

    def _sell(self, group: str, operation: str, body: bytes, *, lost: bool) -> None:
        if not self._check_token(group):
            return
        if not self._content_type_ok():
            self._error(415, 41, "Некорректный Content-Type.")
            return
        try:
            request = wire.parse_json(body)
        except (ValueError, UnicodeDecodeError):
            self._error(400, 40, "Некорректный запрос.")
            return
        try:
            validate_sell(request)
        except _Refused as refused:
            self._error(
                400,
                32,
                f"Ошибка валидации входного чека. Ошибочные поля : {refused.field}",
                state="fail",
            )
            return
        existing, document = self.sim.take_document(operation, request, body)
        if lost:
            self.sim.wait_for_heal()
            self.close_connection = True
            return
        if existing:
            self._error(
                400,
                33,
                f"В системе существует чек с external_id : {document.external_id} "
                f"и group_code: {group}",
                state="wait",
                uuid=document.uuid,
            )
            return
        self._json(
            200,
            {
                "uuid": document.uuid,
                "status": "wait",
                "error": None,
                "timestamp": self.sim.timestamp(),
            },
        )

    def _report(self, group: str, uuid: str) -> None:
        if not self._check_token(group):
            return
        document = self.sim.poll(uuid)
        if document is None:
            self._error(
                400,
                30,
                f'Передан некорректный UUID : "{uuid}". Необходимо повторить запрос с '
                "корректными данными",
                state="fail",
            )
            return
        answer: dict[str, Any] = {
            "uuid": document.uuid,
            "timestamp": self.sim.timestamp(),
            "group_code": self.sim.group_code,
            "daemon_code": "prod-agent-1",
            "device_code": "KKT-SIM-1",
            "external_id": document.external_id,
            "callback_url": "",
            "warnings": None,
        }
        if document.fail:
            answer["status"] = "fail"
            answer["payload"] = None
            answer["error"] = {
                "error_id": str(uuidlib.uuid4()),
                "code": 1,
                "text": "Превышено время ожидания чека в очереди.",
                "type": "timeout",
            }
        elif document.payload is None:
            answer["status"] = "wait"
            answer["payload"] = None
            answer["error"] = None
        else:
            answer["status"] = "done"
            answer["payload"] = document.payload
            answer["error"] = None
        self._json(200, answer)


class AtolSimulator(LoopbackServer):
    """ATOL's API v5 on ``127.0.0.1``. :attr:`endpoint` is the register's ``endpoint``."""

    def __init__(
        self,
        *,
        login: str = LOGIN,
        password: str = PASSWORD,
        group_code: str = GROUP_CODE,
        polls_before_done: int = 1,
        port: int = 0,
    ) -> None:
        handler = type("AtolHandler", (_Handler,), {"sim": self})
        super().__init__(handler, port=port, name="atol-simulator")
        self.login = login
        self.password = password
        self.group_code = group_code
        self.polls_before_done = polls_before_done
        #: seconds a token lives: 24 hours, as ATOL's
        self.token_lifetime = 24 * 3600.0
        self._lock = threading.Lock()
        self._tokens: dict[str, float] = {}
        self._faults: list[str] = []
        self._token_faults: list[str] = []
        self._heal = threading.Event()
        #: documents by external_id, in the order taken
        self.documents: dict[str, AtolDocument] = {}
        self._by_uuid: dict[str, AtolDocument] = {}
        #: every request: (method, path, whether a Token header came)
        self.calls: list[tuple[str, str, bool]] = []
        self._fd = 100
        self._receipt_number = 0

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:<port>``: the register's ``endpoint`` setting."""
        return self.root_url

    # -- faults ------------------------------------------------------------------------

    def fail_next(self, fault: str, *, times: int = 1, token: bool = False) -> None:
        """The next ``times`` calls of a receipt or a report (with ``token``: of
        ``getToken``) answer ``fault``, one of :data:`FAULTS`."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; known: {', '.join(FAULTS)}")
        with self._lock:
            (self._token_faults if token else self._faults).extend([fault] * times)

    def take_fault(self, *, token: bool = False) -> str | None:
        """The fault the next call answers (a ``getToken`` one with ``token``), or None."""
        with self._lock:
            faults = self._token_faults if token else self._faults
            return faults.pop(0) if faults else None

    def heal(self) -> None:
        """Every stalled request ends, unanswered; no fault is pending any more."""
        with self._lock:
            self._faults.clear()
            self._token_faults.clear()
            heal, self._heal = self._heal, threading.Event()
        heal.set()

    def wait_for_heal(self, limit: float = 30.0) -> None:
        with self._lock:
            event = self._heal
        event.wait(limit)

    def stop(self) -> None:
        self.heal()
        super().stop()

    # -- tokens ------------------------------------------------------------------------

    def issue_token(self) -> str:
        token = secrets.token_hex(16)
        with self._lock:
            self._tokens[token] = time.monotonic()
        return token

    def token_state(self, token: str | None) -> str:
        """``valid``, ``expired`` or ``unknown``."""
        with self._lock:
            issued = self._tokens.get(token or "")
        if issued is None:
            return "unknown"
        return "valid" if time.monotonic() - issued < self.token_lifetime else "expired"

    def expire_tokens(self) -> None:
        """Every token issued so far is past its 24 hours."""
        with self._lock:
            for token in self._tokens:
                self._tokens[token] -= self.token_lifetime + 1

    @property
    def tokens(self) -> list[str]:
        """Every token issued, in order (a test looks for them in logs)."""
        with self._lock:
            return list(self._tokens)

    # -- documents ---------------------------------------------------------------------

    def record_call(self, method: str, path: str, token: str | None) -> None:
        with self._lock:
            self.calls.append((method, path, token is not None))

    def take_document(
        self, operation: str, request: dict[str, Any], raw: bytes
    ) -> tuple[bool, AtolDocument]:
        """``(True, the one it has)`` for a known external_id, else ``(False, a new one)``."""
        external_id = request["external_id"]
        with self._lock:
            known = self.documents.get(external_id)
            if known is not None:
                known.repeats.append(raw)
                return True, known
            document = AtolDocument(str(uuidlib.uuid4()), operation, external_id, request, raw)
            self.documents[external_id] = document
            self._by_uuid[document.uuid] = document
            return False, document

    def fail_document(self, external_id: str) -> None:
        """The document of ``external_id`` ends in status ``fail`` (a queue timeout)."""
        with self._lock:
            self.documents[external_id].fail = True

    def poll(self, uuid: str) -> AtolDocument | None:
        with self._lock:
            document = self._by_uuid.get(uuid)
            if document is None:
                return None
            document.polls += 1
            if (
                document.payload is None
                and not document.fail
                and document.polls > self.polls_before_done
            ):
                document.payload = self._fiscalise(document)
            return document

    def _fiscalise(self, document: AtolDocument) -> dict[str, Any]:
        self._fd += 1
        self._receipt_number += 1
        total = wire.Money(document.body["receipt"]["total"]).quantize(Decimal("0.01"))
        sign = int.from_bytes(hashlib.sha256(document.raw).digest()[:4], "big")
        return {
            "fiscal_receipt_number": self._receipt_number,
            "shift_number": 12,
            "receipt_datetime": self.timestamp(),
            "total": wire.Money(total),
            "fn_number": FN_NUMBER,
            "ecr_registration_number": ECR_REGISTRATION_NUMBER,
            "fiscal_document_number": self._fd,
            "fiscal_document_attribute": sign,
            "fns_site": "www.nalog.gov.ru",
            "ofd_inn": OFD_INN,
            "ofd_receipt_url": (f"https://ofd.example.ru/rec/{FN_NUMBER}/{self._fd}/{sign}"),
        }

    def timestamp(self) -> str:
        """Now, as ATOL writes it: Moscow's wall time, ``dd.mm.yyyy HH:MM:SS``."""
        return dt.datetime.now(_MOSCOW).strftime(wire.TIMESTAMP_FORMAT)
