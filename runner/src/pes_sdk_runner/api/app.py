"""The runner's HTTP API as an ASGI application (Starlette), built by :func:`create_app`.

Why Starlette: a small, well-kept ASGI toolkit (routing, requests, responses, a thread
pool) with no model layer of its own, so the SDK's attrs models stay the only ones; the
store and the payment processor are synchronous, and Starlette runs them in its thread
pool (``run_in_threadpool``) without blocking the event loop. Serve it with uvicorn
(``uvicorn.Server``), as ``pes runner serve`` and the tests do.

Endpoints for clients (services, acceptances, payments, meter readings), the gateway's
webhook, operators (registries, deliveries, refunds) and the service (health, metrics,
this API's OpenAPI document); docs/runner-api.md describes each. What a client does is
:mod:`pes_sdk_runner.usecases`, shared with the client cabinet: the client endpoints here
only read and check the request, name the client, call the use case in the thread pool and
answer its refusals with their status (:func:`_answer`).

Every answer is JSON; an error is ``{"error": code, "message": ..., "field": ...}`` with
its status code, never a traceback. Logs are one JSON object per line on the
``pes_sdk_runner.api`` logger, with no personal data: accounts are masked to their last
four characters, and no name, address or client id is written.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import logging
import re
import time
import typing
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, ParamSpec, TypeVar

import attrs
import cattrs
import cattrs.v
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pes_sdk import identifiers
from pes_sdk.gateways.contract import PaymentGateway
from pes_sdk.gateways.errors import (
    GatewayError,
    GatewayRefused,
    GatewayTimeout,
    GatewayUnavailable,
    InvalidRefund,
    WebhookRejected,
)
from pes_sdk.gateways.models import PaymentState, WebhookRequest
from pes_sdk.gateways.processor import Applied, PaymentEntry, PaymentProcessor
from pes_sdk.models.readings import MeterReading
from pes_sdk.plugins.manager import PluginHost
from pes_sdk.serialization import make_converter
from pes_sdk_runner import cabinet as cab
from pes_sdk_runner import usecases as uc
from pes_sdk_runner.api import models as m
from pes_sdk_runner.api.metrics import CONTENT_TYPE, Metrics, StoreCollector
from pes_sdk_runner.api.openapi import openapi_document
from pes_sdk_runner.cabinet.web import cabinet_app
from pes_sdk_runner.cabinet.web.download import pdf_download
from pes_sdk_runner.config.models import RunnerConfig
from pes_sdk_runner.crashpoints import crashpoint
from pes_sdk_runner.logs import event, mask_account
from pes_sdk_runner.qr_limits import QrLimiter, app_asker, cabinet_asker
from pes_sdk_runner.store.base import DeliveryStatus, Store
from pes_sdk_runner.store.errors import StoreUnavailable

# The limits of a reading are the use cases'; the API's tests and docs read them from here.
from pes_sdk_runner.usecases import MAX_PHOTO_BYTES as MAX_PHOTO_BYTES
from pes_sdk_runner.usecases import MAX_READING_AGE_DAYS as MAX_READING_AGE_DAYS

__all__ = ["ApiError", "create_app", "mask_account", "processor_for"]

log = logging.getLogger("pes_sdk_runner.api")
T = TypeVar("T")
P = ParamSpec("P")

#: Seconds a client is told to wait before retrying while the store is unreachable (a
#: database restart or failover takes a few seconds to tens of seconds).
STORE_RETRY_AFTER = 5
#: The longest Idempotency-Key taken (the apps' keys are UUIDs or similar).
MAX_KEY_LENGTH = 128
# A reading's body: the photo in base64 (4/3 of its size) and room for the rest.
_MAX_READING_BODY = MAX_PHOTO_BYTES * 4 // 3 + 64 * 1024
#: The largest body of any other request (a basket of a hundred lines is about 20 KB).
MAX_BODY_BYTES = 64 * 1024
#: The largest webhook body: acquirers' notifications are a few kilobytes, and a webhook is
#: anonymous until its signature is checked, which takes the whole body.
MAX_WEBHOOK_BODY = 16 * 1024
#: The deepest nesting of a JSON body (the API's own bodies nest four levels).
MAX_JSON_DEPTH = 32
#: The longest text taken in a body field (or query parameter), by the field's name; any
#: other text is at most MAX_TEXT characters (a photo has its own limit, MAX_PHOTO_BYTES).
#: A description goes to the acquirer: ЮKassa takes 128 characters ("Описание транзакции
#: (не более 128 символов)"), so longer would be refused there, after the payment is booked.
TEXT_LIMITS: Mapping[str, int] = {
    "client_id": 128,
    "description": 128,
    "return_url": 2048,
    "receipt_email": 254,  # RFC 5321's longest address
    "photo": 0,
}
MAX_TEXT = 256
# Decimals travel as JSON strings of plain digits: no exponent, sign other than minus,
# space or other script's digits.
_DECIMAL_TEXT = re.compile(r"-?[0-9]{1,30}(?:\.[0-9]{1,30})?")


class ApiError(Exception):
    """An error answer: status code, stable code, message, and the field at fault."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = dict(headers or {})


def _answer(exc: uc.UseCaseError) -> ApiError:
    """The API's answer to a use case's refusal: its code, message and field, with the
    status of its kind. Every code is written here, so that this file names each code the
    API answers with (docs/runner-api.md documents them; a test reads them from here)."""
    if isinstance(exc, uc.PayeeNotServed):
        return ApiError(404, "payee-not-served", exc.message, exc.field)
    if isinstance(exc, uc.QrAccountNotFound):
        return ApiError(404, "account-not-found", exc.message, exc.field)
    if isinstance(exc, uc.QrUnreadable):
        return ApiError(422, "qr-invalid", exc.message, exc.field)
    if isinstance(exc, uc.NotFound):
        return ApiError(404, "not-found", exc.message, exc.field)
    if isinstance(exc, uc.NotAccepted):
        return ApiError(422, "not-accepted", exc.message, exc.field)
    if isinstance(exc, uc.AmountTooLarge):
        return ApiError(422, "amount-too-large", exc.message, exc.field)
    if isinstance(exc, uc.Conflict):
        return ApiError(409, "idempotency-key-reused", exc.message, exc.field)
    if isinstance(exc, uc.AcquirerUnavailable):
        return ApiError(503, "gateway-unavailable", exc.message, exc.field)
    if isinstance(exc, uc.AcquirerFailed):
        return ApiError(502, "gateway-error", exc.message, exc.field)
    if isinstance(exc, cab.TooManyRequests):
        retry = {"Retry-After": str(exc.retry_after_seconds)}
        return ApiError(429, "too-many-requests", exc.message, exc.field, retry)
    if isinstance(exc, cab.CodeRefused):
        return ApiError(422, "code-refused", exc.message, exc.field)
    if isinstance(exc, cab.LinkRefused):
        return ApiError(422, "link-refused", exc.message, exc.field)
    if isinstance(exc, cab.SmsUnavailable):
        return ApiError(503, "sms-unavailable", exc.message, exc.field)
    # Refused: "invalid", "invalid-phone", "too-large" (a photo) or the store's codes of a
    # reading that contradicts the meter's others ("value-decreased", …), all 422.
    return ApiError(422, exc.code, exc.message, exc.field)


async def _run(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """A use case in the thread pool (the store and processor are synchronous), its
    refusal turned into the API's answer."""
    try:
        return await run_in_threadpool(fn, *args, **kwargs)
    except uc.UseCaseError as exc:
        raise _answer(exc) from None


def _event(name: str, **fields: object) -> None:
    event(log, name, **fields)


def _matches(token: str, tokens: Iterable[str]) -> bool:
    # Every token is compared, in constant time each: no early exit tells which was close.
    found = False
    for candidate in tokens:
        found |= hmac.compare_digest(candidate.encode(), token.encode())
    return found


def _field_of(message: str) -> tuple[str, str | None]:
    # cattrs.transform_error writes "<reason> @ $.lines[0].amount".
    reason, sep, where = message.rpartition(" @ ")
    if not sep:
        return message, None
    # A mapping's key is named as the docs name it: lines.0, not lines['0'].
    field = re.sub(r"\['([^']*)'\]", r".\1", where.removeprefix("$")).lstrip(".")
    if reason.startswith("extra fields found (") and reason.endswith(")"):
        extra = reason[len("extra fields found (") : -1].split(", ")[0]
        field = f"{field}.{extra}" if field else extra
    return reason, field or None


def _format_error(exc: BaseException, cls: type | None) -> str:
    # A decimal's own message says what is wrong with it ("1e2" is not plain digits);
    # cattrs's default would only say "expected Decimal".
    if cls is Decimal and isinstance(exc, ValueError | TypeError):
        return str(exc)
    return cattrs.v.format_exception(exc, cls)


@attrs.frozen
class _Client:
    """Who calls a client endpoint: a trusted app (its token) or a cabinet (its session)."""

    token: str | None = attrs.field(repr=False)
    session: cab.ActiveSession | None = None


class _Api:
    """The endpoints, over one store, configuration, plugin host and processor."""

    def __init__(
        self,
        store: Store,
        config: RunnerConfig,
        host: PluginHost,
        processor: PaymentProcessor,
        *,
        clock: cab.Clock = cab.utc_now,
    ) -> None:
        self.store = store
        self.config = config
        self.host = host
        self.processor = processor
        self.conv = make_converter()
        self.conv.register_structure_hook(Decimal, _strict_decimal)
        self.metrics = Metrics()
        # The fleet (processes by their heartbeats, what waits in the store) is read at
        # each scrape: the same facts from every process of the store.
        from pes_sdk_runner.fleet import metric_facts, read_fleet

        self.metrics.add(StoreCollector(lambda: metric_facts(read_fleet(store, config, clock()))))
        self.clients = uc.ClientUseCases(
            store, config, host, processor, log=log, counters=self.metrics
        )
        # The QR limits, counted in the store (every process on it shares them).
        self.qr_limits = QrLimiter(store, config.http, clock=clock, log=log)
        self.cabinets: cab.Cabinets | None = None
        if config.cabinet is not None:
            channel = cab.sms_channel(host, config.cabinet)
            self.cabinets = cab.Cabinets(store, config.cabinet, channel, clock=clock, log=log)

    # -- plumbing ---------------------------------------------------------------------------

    def json(self, obj: object, status: int = 200) -> JSONResponse:
        return JSONResponse(self.conv.unstructure(obj), status_code=status)

    def structure(self, data: Any, cls: type[T]) -> T:
        try:
            return self.conv.structure(data, cls)
        except cattrs.BaseValidationError as exc:
            messages = cattrs.transform_error(exc, path="$", format_exception=_format_error)
            _reason, field = _field_of(messages[0])
            raise ApiError(422, "invalid", "; ".join(messages), field) from None
        except (ValueError, TypeError) as exc:
            raise ApiError(422, "invalid", str(exc)) from None

    async def body(self, request: Request, cls: type[T]) -> T:
        return self.structure(await self.json_body(request), cls)

    async def json_body(self, request: Request, limits: Mapping[str, int] = TEXT_LIMITS) -> Any:
        """The body as JSON, its texts checked (:func:`_check_json`; ``limits``: the texts'
        limits by field name, :data:`TEXT_LIMITS` unless an endpoint takes longer ones).

        Its size is bounded by the :class:`_Limits` middleware while it is read.
        """
        raw = await request.body()
        try:
            data = json.loads(raw.decode("utf-8"), parse_constant=_not_json)
        except (UnicodeDecodeError, ValueError) as exc:
            # ValueError beyond JSONDecodeError: an integer of more than 4300 digits
            # (sys.get_int_max_str_digits) and NaN or Infinity, which JSON does not have.
            raise ApiError(422, "invalid-json", f"the body is not UTF-8 JSON: {exc}") from None
        except RecursionError:
            raise ApiError(
                422, "invalid-json", f"the body nests deeper than {MAX_JSON_DEPTH} levels"
            ) from None
        _check_json(data, limits)
        return data

    @staticmethod
    def idempotency_key(request: Request) -> str:
        key = request.headers.get("idempotency-key", "").strip()
        if not key or len(key) > MAX_KEY_LENGTH:
            raise ApiError(
                422,
                "invalid",
                f"an Idempotency-Key header of 1..{MAX_KEY_LENGTH} characters is required",
                "Idempotency-Key",
            )
        return key

    def auth(self, request: Request, role: str) -> str:
        """The caller's token if it has ``role``; 401 without a known token, 403 for another."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, "unauthorized", "a Bearer token is required", headers=_CHALLENGE)
        is_client = _matches(token, self.config.http.client_tokens)
        is_operator = _matches(token, self.config.http.operator_tokens)
        if (role == "client" and is_client) or (role == "operator" and is_operator):
            return token
        if is_client or is_operator:
            raise ApiError(403, "forbidden", f"this token may not call {role} endpoints")
        raise ApiError(401, "unauthorized", "unknown token", headers=_CHALLENGE)

    @staticmethod
    def bearer(request: Request) -> str:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, "unauthorized", "a Bearer token is required", headers=_CHALLENGE)
        return token

    async def client(self, request: Request) -> _Client:
        """The caller of a client endpoint: an app's token, or a cabinet's session token
        (the third kind, beside the apps' and operators'); 401 for neither, 403 for an
        operator's token."""
        token = self.bearer(request)
        if _matches(token, self.config.http.client_tokens):
            return _Client(token)
        if _matches(token, self.config.http.operator_tokens):
            raise ApiError(403, "forbidden", "this token may not call client endpoints")
        session = await self.session_of(token)
        if session is None:
            raise ApiError(401, "unauthorized", "unknown token", headers=_CHALLENGE)
        return _Client(None, session)

    async def session_of(self, token: str) -> cab.ActiveSession | None:
        if self.cabinets is None:
            return None
        return await run_in_threadpool(self.cabinets.sessions.active, token)

    def cabinet_api(self) -> cab.Cabinets:
        if self.cabinets is None:
            raise ApiError(
                404,
                "cabinet-disabled",
                "this runner has no client cabinet (no [cabinet] in its configuration)",
            )
        return self.cabinets

    async def session(self, request: Request) -> tuple[cab.Cabinets, cab.ActiveSession, str]:
        """The cabinet's session of the caller (the /v1/me endpoints and logout): 403 for an
        app's or operator's token, 401 for an unknown or ended one."""
        cabinets = self.cabinet_api()
        token = self.bearer(request)
        tokens = self.config.http.client_tokens | self.config.http.operator_tokens
        if _matches(token, tokens):
            raise ApiError(403, "forbidden", "only a cabinet's session token may call this")
        session = await self.session_of(token)
        if session is None:
            raise ApiError(401, "unauthorized", "unknown or ended session", headers=_CHALLENGE)
        return cabinets, session, token

    def client_key(self, caller: _Client, client_id: str) -> str:
        """The client the use cases act for: the cabinet's own, or the app's client."""
        if caller.session is not None:
            return caller.session.client
        assert caller.token is not None
        return self.scoped(caller.token, client_id)

    def owner(self, caller: _Client) -> str:
        """Who owns the payments the caller makes: the app, or the cabinet."""
        if caller.session is not None:
            return caller.session.client
        assert caller.token is not None
        return self.app_id(caller.token)

    async def visible(self, caller: _Client, partner_inn: str, account: str, field: str) -> None:
        """404 unless the caller may see the account: an app sees every account; a cabinet
        its linked ones and those found at their addresses."""
        if caller.session is None:
            return
        assert self.cabinets is not None
        cabinet_id = caller.session.cabinet_id
        accounts = self.cabinets.accounts

        def sees() -> bool:
            found = self.store.find_by_account(partner_inn, account)
            return bool(accounts.scope(cabinet_id).sees(found))

        if not await run_in_threadpool(sees):
            raise ApiError(404, "not-found", "no such account among the cabinet's", field)

    async def linked_only(
        self, caller: _Client, partner_inn: str, account: str, field: str
    ) -> None:
        """404 unless a cabinet's account is linked to it. Readings are the account's
        history (every client's, none named) and a refused one quotes the previous value,
        so a cabinet must have proved the account its own (:meth:`Accounts.link`): a
        service it only ticked at its address is not enough. An app's clients are the
        app's business: it is trusted with every account they accepted."""
        if caller.session is None:
            return
        assert self.cabinets is not None
        linked = await run_in_threadpool(
            self.cabinets.accounts.is_linked, caller.session.cabinet_id, partner_inn, account
        )
        if not linked:
            raise ApiError(404, "not-found", "no such account among the cabinet's", field)

    @staticmethod
    def app_id(token: str) -> str:
        """A short, stable id of a client app (a digest of its token, never the token)."""
        return hashlib.sha256(token.encode()).hexdigest()[:12]

    def scoped(self, token: str, client_id: str) -> str:
        if not client_id.strip():
            raise ApiError(422, "invalid", "client_id is empty", "client_id")
        return f"{self.app_id(token)}:{client_id}"

    def count_credits(self, applied: Iterable[Applied]) -> None:
        self.clients.count_credits(applied)

    # -- client endpoints ----------------------------------------------------------------------
    # The use cases are :class:`pes_sdk_runner.usecases.ClientUseCases`; these only read the
    # request, name the client (``scoped``) and answer.

    async def services(self, request: Request) -> Response:
        caller = await self.client(request)
        q = request.query_params
        allowed = {"house", "premises", "partner", "account"}
        for key in q:
            if key not in allowed:
                raise ApiError(422, "invalid", f"unknown parameter {key!r}", key)
        if "house" in q or "premises" in q:
            if "partner" in q or "account" in q:
                raise ApiError(422, "invalid", "ask by address or by account, not both", "partner")
            house = q.get("house", "")
            try:
                uuid.UUID(house)
            except ValueError:
                raise ApiError(422, "invalid", "house is a ФИАС/ГАР GUID", "house") from None
            premises = q.get("premises", "")
            if caller.session is not None:
                assert self.cabinets is not None
                scope = await run_in_threadpool(
                    self.cabinets.accounts.scope, caller.session.cabinet_id
                )
                if not scope.sees_address(house, premises):
                    raise ApiError(404, "not-found", "no such address among the cabinet's", "house")
            found = await _run(self.clients.services_at, house, premises)
        elif "partner" in q or "account" in q:
            partner, account = q.get("partner", ""), q.get("account", "")
            if not partner:
                raise ApiError(422, "invalid", "partner (ИНН) is required", "partner")
            if not account:
                raise ApiError(422, "invalid", "account is required", "account")
            _check(identifiers.check_inn, partner, "partner")
            _check(identifiers.check_personal_account, account, "account")
            await self.visible(caller, partner, account, "account")
            found = await _run(self.clients.services_on, partner, account)
        else:
            raise ApiError(
                422, "invalid", "give house and premises, or partner and account", "house"
            )
        return self.json(m.ServicesView(tuple(m.ServiceView.of(s) for s in found)))

    async def accept(self, request: Request) -> Response:
        caller = await self.client(request)
        req = await self.body(request, m.AcceptanceRequest)
        client = self.client_key(caller, req.client_id)
        await self.visible(caller, req.partner_inn, req.account, "account")
        acceptance = await _run(
            self.clients.accept, client, req.partner_inn, req.account, req.service
        )
        # The app's id is the runner's business, not the app's: it gets its own id back.
        return self.json(m.AcceptanceView(attrs.evolve(acceptance, client_id=req.client_id)))

    async def pay(self, request: Request) -> Response:
        caller = await self.client(request)
        key = self.idempotency_key(request)
        req = await self.body(request, m.PaymentRequest)
        _return_url(req.return_url)
        client = self.client_key(caller, req.client_id)
        for i, line in enumerate(req.lines):
            await self.visible(caller, line.partner_inn, line.account, f"lines[{i}].account")
        # The app (or cabinet) owns the payment: its keys are its own, and only it may
        # read the payment.
        entry = await _run(
            self.clients.pay,
            client,
            req.lines,
            owner=self.owner(caller),
            key=key,
            return_url=req.return_url,
            method=req.method,
            description=req.description,
            receipt_email=req.receipt_email,
            autopay=req.autopay,
        )
        return self.json(_view(entry))

    async def qr_resolve(self, request: Request) -> Response:
        """The bill a payment QR code's text pays (:meth:`ClientUseCases.resolve_qr`). A
        cabinet is told an account's place (house, premises) only when it sees the account
        (:meth:`visible`): a code's text is easily made up, and not a proof like a link."""
        caller = await self.client(request)
        data = await self.json_body(request, {**TEXT_LIMITS, "text": uc.MAX_QR_TEXT})
        req = self.structure(data, m.QrResolveRequest)
        # Counted before the code is read: a code not found tells as much as one found.
        await _run(self.qr_limits.take, self.qr_asker(request, caller, req.client_id))
        bill = await _run(self.clients.resolve_qr, req.text)
        services = [m.ServiceView.of(s) for s in bill.services]
        if caller.session is not None:
            try:
                await self.visible(caller, bill.partner.inn, bill.account, "PersAcc")
            except ApiError:
                services = [attrs.evolve(v, house_id=None, premises="") for v in services]
        lines = tuple(
            uc.BasketLine(s.partner_inn, s.account, a, s.service)
            for s, a in zip(bill.services, bill.amounts, strict=True)
            if a > 0
        )
        view = m.QrBillView(
            bill.partner.inn,
            bill.partner.name,
            bill.account,
            tuple(services),
            lines,
            bill.total,
            bill.amount,
        )
        return self.json(view)

    def qr_asker(self, request: Request, caller: _Client, client_id: str) -> str:
        """Whom the QR limits count (:mod:`pes_sdk_runner.qr_limits`): the cabinet of a
        session, else the app's client, or the app's caller's address without a client."""
        if caller.session is not None:
            return cabinet_asker(caller.session.cabinet_id)
        assert caller.token is not None
        return app_asker(self.app_id(caller.token), client_id.strip(), _client_ip(request))

    async def payment(self, request: Request) -> Response:
        caller = await self.client(request)
        order_id = _order_id(request)
        refresh = request.query_params.get("refresh", "").lower() in ("1", "true", "yes")
        entry = await _run(self.clients.payment, order_id, self.owner(caller), refresh=refresh)
        return self.json(_view(entry))

    # -- meter readings (показания приборов учёта) ----------------------------------------------

    async def record_reading(self, request: Request) -> Response:
        caller = await self.client(request)
        data = await self.json_body(request)
        try:
            req = self.structure(data, m.ReadingRequest)
        except ApiError as exc:
            if exc.field == "reading" and isinstance(data, dict):
                raise self._reading_error(data.get("reading")) or exc from None
            raise
        client = self.client_key(caller, req.client_id)
        _check(identifiers.check_inn, req.partner_inn, "partner_inn")
        await self.linked_only(caller, req.partner_inn, req.reading.account, "reading.account")
        # The use case checks these too; here they come before the photo is decoded, so a
        # request with several faults is told the same one as ever.
        try:
            uc.check_reading(req.reading)
        except uc.UseCaseError as exc:
            raise _answer(exc) from None
        photo = _photo(req.photo) if req.photo is not None else None
        stored = await _run(
            self.clients.record_reading,
            client,
            req.partner_inn,
            req.reading,
            photo=photo,
            decrease=req.decrease,
        )
        return self.json(m.ReadingRecorded(m.ReadingView.of(stored), stored.new))

    def _reading_error(self, raw: object) -> ApiError | None:
        """Which field of a reading the core's model refused (cattrs names only the object)."""
        if not isinstance(raw, dict):
            return None
        base = MeterReading("1", "1", 2, (Decimal(0),), dt.date(2000, 1, 1))
        hints = typing.get_type_hints(MeterReading)
        for name in ("account", "meter_number", "meter_type", "values", "taken_on", "house_id"):
            if name not in raw:
                continue
            try:
                value = self.conv.structure(raw[name], hints[name])
                if name == "values":
                    for i, v in enumerate(value):
                        try:
                            attrs.evolve(base, values=(v,))
                        except (ValueError, TypeError) as exc:
                            return ApiError(422, "invalid", str(exc), f"reading.values[{i}]")
                attrs.evolve(base, **{name: value})
            except (ValueError, TypeError, cattrs.BaseValidationError) as exc:
                return ApiError(422, "invalid", str(exc), f"reading.{name}")
        return None

    async def readings(self, request: Request) -> Response:
        caller = await self.client(request)
        q = request.query_params
        _only(request, "client_id", "partner", "account")
        client = self.client_key(caller, q.get("client_id", ""))
        partner, account = q.get("partner", ""), q.get("account", "")
        _check(identifiers.check_inn, partner, "partner")
        _check(identifiers.check_personal_account, account, "account")
        await self.linked_only(caller, partner, account, "account")
        found = await _run(self.clients.readings, client, partner, account)
        return self.json(m.ReadingsView(tuple(m.ReadingView.of(r) for r in found)))

    # -- monthly bills (квитанции, docs/bills.md) ------------------------------------------------

    async def bill_accounts(self, caller: _Client, client_id: str) -> list[tuple[str, str]]:
        """The accounts whose bills the caller may read: a cabinet's linked ones (a bill
        shows the account's debts and premises, as readings do: see :meth:`linked_only`),
        an app's client's accepted ones."""
        if caller.session is not None:
            assert self.cabinets is not None
            found = await run_in_threadpool(
                self.cabinets.accounts.linked, caller.session.cabinet_id
            )
            return [(a.partner_inn, a.account) for a in found]
        client = self.client_key(caller, client_id)
        return await _run(self.clients.bill_accounts, client)

    async def bills(self, request: Request) -> Response:
        caller = await self.client(request)
        _only(request, "client_id")
        client_id = request.query_params.get("client_id", "")
        accounts = await self.bill_accounts(caller, client_id)
        found = await _run(self.clients.bills_of, accounts)
        query = (
            ""
            if caller.session is not None
            else "?" + urllib.parse.urlencode({"client_id": client_id})
        )
        views = tuple(
            m.BillView(
                b.partner_inn,
                b.account,
                b.period,
                b.ready,
                _bill_url(b.partner_inn, b.account, b.period) + query if b.ready else None,
            )
            for b in found
        )
        return self.json(m.BillsView(views))

    async def bill(self, request: Request) -> Response:
        """A bill's PDF, for an account the caller may see (:meth:`bill_accounts`); any
        other account, a bad period and a bill not made yet are all 404."""
        caller = await self.client(request)
        _only(request, "client_id")
        accounts = await self.bill_accounts(caller, request.query_params.get("client_id", ""))
        params = request.path_params
        entry, path = await _run(
            self.clients.bill_file,
            accounts,
            params["partner_inn"],
            params["account"],
            params["period"],
        )
        try:
            return await pdf_download(entry, path)
        except uc.UseCaseError as exc:
            raise _answer(exc) from None

    # -- the client cabinet: login by phone, sessions, linked accounts --------------------------
    # The cabinet's objects (:mod:`pes_sdk_runner.cabinet`) do the work; these read the
    # request and answer. Without [cabinet] in the configuration they answer 404
    # cabinet-disabled.

    async def login(self, request: Request) -> Response:
        cabinets = self.cabinet_api()
        req = await self.body(request, m.LoginRequest)
        sent = await _run(cabinets.login.request_code, req.phone, _client_ip(request))
        return self.json(m.LoginStarted(sent.attempt, sent.expires_at), status=202)

    async def confirm(self, request: Request) -> Response:
        cabinets = self.cabinet_api()
        req = await self.body(request, m.ConfirmRequest)
        issued = await _run(cabinets.login.confirm, req.attempt, req.code, _client_ip(request))
        return self.json(m.SessionView(issued.token, issued.expires_at))

    async def logout(self, request: Request) -> Response:
        cabinets, _session, token = await self.session(request)
        await run_in_threadpool(cabinets.sessions.logout, token)
        return Response(status_code=204)

    async def my_accounts(self, request: Request) -> Response:
        cabinets, session, _ = await self.session(request)
        _only(request)
        found = await run_in_threadpool(cabinets.accounts.linked, session.cabinet_id)
        return self.json(m.LinkedAccountsView(tuple(_linked(a) for a in found)))

    async def link_account(self, request: Request) -> Response:
        cabinets, session, _ = await self.session(request)
        req = await self.body(request, m.LinkRequest)
        _check(identifiers.check_inn, req.partner_inn, "partner_inn")
        _check(identifiers.check_personal_account, req.account, "account")
        linked = await _run(
            cabinets.accounts.link,
            session.cabinet_id,
            req.partner_inn,
            req.account,
            req.premises,
            req.amount_due,
        )
        return self.json(_linked(linked), status=201)

    async def unlink_account(self, request: Request) -> Response:
        cabinets, session, _ = await self.session(request)
        partner, account = request.path_params["partner_inn"], request.path_params["account"]
        await _run(cabinets.accounts.unlink, session.cabinet_id, partner, account)
        return Response(status_code=204)

    async def delete_me(self, request: Request) -> Response:
        cabinets, session, _ = await self.session(request)
        await _run(cabinets.delete, session.cabinet_id)
        return Response(status_code=204)

    # -- the gateway's webhooks --------------------------------------------------------------

    async def webhook(self, request: Request) -> Response:
        body = await request.body()
        hook = WebhookRequest(
            body,
            headers=tuple(request.headers.items()),
            query=request.url.query,
            remote_addr=request.client.host if request.client else None,
        )
        try:
            applied = await run_in_threadpool(self._handle_webhook, hook)
        except WebhookRejected as exc:
            self.metrics.inc("pes_webhooks_total", result=exc.reason)
            _event("webhook.rejected", reason=exc.reason)
            status = {"source": 403, "unknown-payment": 404}.get(exc.reason, 400)
            raise ApiError(status, f"webhook-{exc.reason}", exc.message) from None
        except GatewayError as exc:
            self.metrics.inc("pes_webhooks_total", result="error")
            _event("webhook.rejected", reason="error")
            raise ApiError(400, "webhook-error", exc.message) from None
        crashpoint("payment.webhook-applied")
        self.metrics.inc("pes_webhooks_total", result="accepted")
        self.count_credits(applied)
        return PlainTextResponse("OK")

    def _handle_webhook(self, hook: WebhookRequest) -> list[Applied]:
        # The wait for the commit to be on disk comes after the processor's lock is let go,
        # so that webhooks arriving together share one fsync (SQLite group commit); the
        # acquirer is answered only after it. Not so for creates: there the entry must be
        # on disk before the acquirer is called, and it is (each write waits).
        with self.store.deferred_durability():
            return self.processor.handle_webhook(hook)

    # -- operators ------------------------------------------------------------------------------

    async def registries(self, request: Request) -> Response:
        self.auth(request, "operator")
        _only(request, "partner")
        partner = request.query_params.get("partner")
        if partner is not None:
            _check(identifiers.check_inn, partner, "partner")
        return self.json(await run_in_threadpool(self._registries, partner))

    def _registries(self, partner: str | None) -> m.RegistriesView:
        inns = [p.inn for p in self.store.partners() if partner in (None, p.inn)]
        by_registry: dict[int, list[Any]] = {}
        for d in self.store.deliveries():
            by_registry.setdefault(d.registry_id, []).append(d)
        debts = [r for inn in inns for r in self.store.debt_registries(inn)]
        payments = [
            m.PaymentRegistryView(r, tuple(by_registry.get(r.id, ())))
            for inn in inns
            for r in self.store.payment_registries(inn)
        ]
        return m.RegistriesView(tuple(debts), tuple(payments))

    async def deliveries(self, request: Request) -> Response:
        self.auth(request, "operator")
        _only(request, "status")
        raw = request.query_params.get("status")
        status = None
        if raw is not None:
            try:
                status = DeliveryStatus(raw)
            except ValueError:
                allowed = ", ".join(s.value for s in DeliveryStatus)
                raise ApiError(422, "invalid", f"status is one of {allowed}", "status") from None
        found = await run_in_threadpool(self.store.deliveries, status)
        return self.json(m.DeliveriesView(tuple(found)))

    async def refund(self, request: Request) -> Response:
        self.auth(request, "operator")
        order_id = _order_id(request)
        key = self.idempotency_key(request)
        body = await self.body(request, m.RefundBody)
        lines = _refund_lines(body)
        canonical = json.dumps(
            None if lines is None else {str(i): str(v) for i, v in sorted(lines.items())}
        )
        view = await run_in_threadpool(self._refund, order_id, key, lines, canonical)
        return self.json(view)

    def _refund(
        self,
        order_id: uuid.UUID,
        key: str,
        lines: dict[int, Decimal] | None,
        canonical: str,
    ) -> m.RefundView:
        # Refunds of one payment take turns, in this process (the lock) and across the
        # processes on the store (its lock, held until the acquirer has answered), so the
        # refund number read here is the one the processor uses, and a twin of a request
        # sent to another process at once finds its refund done and answers the same.
        with (
            self.clients.order_lock(order_id),
            self.store.exclusive(f"refund:{order_id}"),
        ):
            entry = self.store.get(order_id)
            if entry is None:
                raise ApiError(404, "not-found", "no such payment", "order_id")
            claim = self.store.refund_claim(order_id, key)
            if claim is None:
                _check_refund(entry, lines)
                claim = self.store.claim_refund(order_id, key, canonical, entry.refund_count + 1)
            if claim.request != canonical:
                raise ApiError(
                    409,
                    "idempotency-key-reused",
                    "this Idempotency-Key was used for another refund",
                    "Idempotency-Key",
                )
            if entry.refund_count >= claim.refund_no:
                return _refund_view(entry, claim.refund_no)  # done: a retry changes nothing
            try:
                applied = self.processor.refund(order_id, lines)
            except InvalidRefund as exc:
                # Refused before the acquirer saw it: the key may be used again.
                self.store.release_refund_claim(order_id, key)
                raise ApiError(409, "not-refundable", exc.message, "order_id") from None
            except (GatewayTimeout, GatewayUnavailable) as exc:
                raise ApiError(
                    503, "gateway-unavailable", f"{exc.message}; retry with the same key"
                ) from None
            except GatewayRefused as exc:
                # The acquirer said no and gave nothing back: the key is free again, and its
                # refund number goes to the next refund that is made.
                self.store.release_refund_claim(order_id, key)
                raise ApiError(409, "refund-refused", exc.message, "order_id") from None
            except GatewayError as exc:
                raise ApiError(502, "gateway-error", exc.message) from None
        self.metrics.inc("pes_refunds_total")
        _event(
            "payment.refunded",
            order_id=order_id,
            refund_no=claim.refund_no,
            refunded=applied.entry.refunded,
        )
        return _refund_view(applied.entry, claim.refund_no)

    # -- service endpoints ------------------------------------------------------------------------

    async def healthz(self, request: Request) -> Response:
        try:
            version = await run_in_threadpool(self.store.schema_version)
        except Exception as exc:  # any failure of the store is "unhealthy", never a trace
            _event("healthz.failed", error=type(exc).__name__)
            raise ApiError(503, "store-unreachable", "the store does not answer") from None
        last = self.metrics.gauge("pes_daemon_last_pass_timestamp_seconds")
        at = dt.datetime.fromtimestamp(last, dt.UTC) if last is not None else None
        return self.json(m.HealthView("ok", version, at))

    async def metrics_text(self, request: Request) -> Response:
        # In the thread pool: the store's facts (processes, queues) are read at each scrape.
        text = await run_in_threadpool(self.metrics.render)
        return PlainTextResponse(text, media_type=CONTENT_TYPE)

    async def openapi(self, request: Request) -> Response:
        return JSONResponse(openapi_document(self.config.http.webhook_path))


_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="pes-runner"'}


def _client_ip(request: Request) -> str:
    """The client's address as the server sees it (behind a proxy, uvicorn's
    ``--forwarded-allow-ips`` makes it the client's, not the proxy's)."""
    return request.client.host if request.client else "unknown"


def _linked(a: Any) -> m.LinkedAccountView:
    return m.LinkedAccountView(a.partner_inn, a.account, a.linked_at)


def _bill_url(partner_inn: str, account: str, period: object) -> str:
    quoted = urllib.parse.quote(account, safe="")
    return f"/v1/bills/{urllib.parse.quote(partner_inn, safe='')}/{quoted}/{period}"


def _only(request: Request, *allowed: str) -> None:
    """An unknown query parameter is a 422: a typo must not widen a listing silently."""
    for key in request.query_params:
        if key not in allowed:
            raise ApiError(422, "invalid", f"unknown parameter {key!r}", key)


def _order_id(request: Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.path_params["order_id"])
    except ValueError:
        raise ApiError(422, "invalid", "order_id is a UUID", "order_id") from None


def _refund_lines(body: m.RefundBody) -> dict[int, Decimal] | None:
    """The refund's ``{line index: amount}``, each amount positive with two places."""
    if body.lines is None:
        return None
    if not body.lines:
        raise ApiError(422, "invalid", "name at least one line, or null for all", "lines")
    out: dict[int, Decimal] = {}
    for raw, value in body.lines.items():
        field = f"lines.{raw}"
        if not raw.isascii() or not raw.isdigit():
            raise ApiError(422, "invalid", "a line is its index in the basket (0, 1, …)", field)
        amount = _money(value, field)
        if int(raw) in out:
            raise ApiError(422, "invalid", "a line is named once", field)
        out[int(raw)] = amount
    return out


def _money(value: Decimal, field: str) -> Decimal:
    """A positive amount with at most two decimals written (:func:`usecases.money`)."""
    try:
        return uc.money(value, field)
    except uc.UseCaseError as exc:
        raise _answer(exc) from None


def _check_refund(entry: PaymentEntry, lines: dict[int, Decimal] | None) -> None:
    """409 for a payment with nothing to give back; 422 naming a line asked too much of."""
    if not entry.state.is_paid or entry.state is PaymentState.REFUNDED:
        raise ApiError(
            409, "not-refundable", f"the payment is {entry.state}: nothing to refund", "order_id"
        )
    payment_lines = entry.payment.lines
    left = [
        ln.amount + ln.client_fee - (entry.line_refunded[i] if i < len(entry.line_refunded) else 0)
        for i, ln in enumerate(payment_lines)
    ]
    if lines is None:
        if not any(v > 0 for v in left):
            raise ApiError(409, "not-refundable", "nothing is left to refund", "order_id")
        return
    for index, amount in lines.items():
        field = f"lines.{index}"
        if index >= len(payment_lines):
            raise ApiError(422, "invalid", f"the payment has {len(payment_lines)} lines", field)
        if amount > left[index]:
            raise ApiError(
                422,
                "refund-exceeds",
                f"{amount} asked, {left[index]} left to refund on this line",
                field,
            )


def _refund_view(entry: PaymentEntry, refund_no: int) -> m.RefundView:
    return m.RefundView(
        entry.order_id,
        entry.state,
        entry.payment.total,
        entry.refunded,
        tuple(entry.line_refunded),
        refund_no,
    )


def _photo(text: str) -> bytes:
    """A meter photo from base64: its bytes, a JPEG or PNG (:func:`usecases.photo_type`)."""
    if len(text) > (MAX_PHOTO_BYTES + 2) // 3 * 4:
        raise ApiError(422, "too-large", f"a photo is at most {MAX_PHOTO_BYTES} bytes", "photo")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(422, "invalid", "photo is not base64", "photo") from None
    if len(data) > MAX_PHOTO_BYTES:  # base64 rounds up to 3 bytes: the text said too little
        raise ApiError(422, "too-large", f"a photo is at most {MAX_PHOTO_BYTES} bytes", "photo")
    try:
        uc.photo_type(data)
    except uc.UseCaseError as exc:
        raise _answer(exc) from None
    return data


def _check_json(data: Any, limits: Mapping[str, int] = TEXT_LIMITS) -> None:
    """Refuse, wherever it is in a body, what no field takes: nesting deeper than
    MAX_JSON_DEPTH, a text longer than its field's limit (TEXT_LIMITS, MAX_TEXT), a NUL
    (PostgreSQL's text cannot hold one) or a lone surrogate (it has no UTF-8: no store can
    write it). Iterative: a deep body must not exhaust the stack here either."""
    stack: list[tuple[Any, str, str, int]] = [(data, "", "", 0)]  # value, path, name, depth
    while stack:
        value, path, name, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise ApiError(
                422, "invalid-json", f"the body nests deeper than {MAX_JSON_DEPTH} levels"
            )
        if isinstance(value, dict):
            for key, item in value.items():
                where = f"{path}.{key}" if path else key
                _check_text(key, where, "", limits)
                stack.append((item, where, key, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{i}]", name, depth + 1) for i, item in enumerate(value))
        elif isinstance(value, str):
            _check_text(value, path, name, limits)


def _check_text(text: str, field: str, name: str, limits: Mapping[str, int] = TEXT_LIMITS) -> None:
    limit = limits.get(name, MAX_TEXT)
    if limit and len(text) > limit:
        raise ApiError(422, "too-long", f"a text here is at most {limit} characters", field or None)
    if "\x00" in text:
        raise ApiError(422, "invalid", "a text may not hold a NUL character", field or None)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ApiError(
                422,
                "invalid",
                "a text may not hold a lone surrogate (\\ud800-\\udfff)",
                field or None,
            ) from None


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _strict_decimal(value: Any, _: type) -> Decimal:
    """A decimal of a request: a JSON string of plain digits (``"1272.26"``, ``"-2"``).

    Stricter than the SDK's converter, which also takes JSON integers and whatever
    ``Decimal()`` reads (``"1e2"``, ``" 1.00"``): the API's documented syntax is exact.
    """
    if not isinstance(value, str):
        raise TypeError(f'a decimal is a JSON string such as "10.50", not {type(value).__name__}')
    if not _DECIMAL_TEXT.fullmatch(value):
        raise ValueError(f"not a decimal written with digits and a dot: {value!r}")
    return Decimal(value)


def _return_url(url: str) -> None:
    """The page the acquirer sends the client back to: an absolute http(s) URL, never a
    ``javascript:`` or ``data:`` one the acquirer's page would follow."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ApiError(422, "invalid", "return_url is an absolute http(s) URL", "return_url")


def _check_query(raw: bytes) -> ApiError | None:
    """The error of a query whose values a body's texts could not hold (:func:`_check_text`:
    too long, a NUL PostgreSQL cannot compare), or None. Decoded as Starlette decodes it."""
    for name, value in urllib.parse.parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        try:
            _check_text(value, name, name)
        except ApiError as exc:
            return exc
    return None


class _Limits:
    """ASGI middleware: a request body larger than its endpoint's limit is a 413, decided
    while it streams in, with or without Content-Length (a declared length above the limit
    is refused before a byte of the body is read). No endpoint ever holds more than its
    limit: the webhook's is small, since anyone may send one before its signature is
    checked. The answer closes the connection, so the rest of the body is not read.

    A query parameter is held to a body text's limits too (422), before any endpoint runs."""

    def __init__(self, app: ASGIApp, webhook_path: str) -> None:
        self.app = app
        self.webhook_path = webhook_path

    def limit(self, path: str) -> int:
        if path == self.webhook_path:
            return MAX_WEBHOOK_BODY
        # a meter photo, or a photo of a bill's QR code
        if path in ("/v1/readings", "/cabinet/readings", "/cabinet/qr"):
            return _MAX_READING_BODY
        return MAX_BODY_BYTES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Every request passes here (an acquirer's webhook a confirmation): the answers
        # are made only when needed, and a request without a query has none to check.
        query = scope.get("query_string", b"")
        bad_query = _check_query(query) if query else None
        if bad_query is not None:
            await _error(bad_query)(scope, receive, send)
            return
        limit = self.limit(scope["path"])
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await _error(_too_large(limit))(scope, receive, send)
                return
        received = 0

        async def bounded() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # the endpoint reading the body answers it (_api_error)
                    raise _too_large(limit)
            return message

        await self.app(scope, bounded, send)


def _too_large(limit: int) -> ApiError:
    """The 413 of a body over ``limit`` bytes; it closes the connection, so that the rest
    of the body is not read."""
    return ApiError(
        413,
        "too-large",
        f"the body is larger than {limit} bytes",
        headers={"Connection": "close"},
    )


def _view(entry: PaymentEntry) -> m.PaymentView:
    p = entry.payment
    return m.PaymentView(
        p.payment_id, entry.state, p.total, p.created_at, p.method, p.lines, entry.confirmation
    )


def _error(exc: ApiError) -> JSONResponse:
    body = m.ErrorView(exc.code, exc.message, exc.field)
    return JSONResponse(attrs.asdict(body), status_code=exc.status, headers=exc.headers)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return _error(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
    return _error(ApiError(exc.status_code, code, str(exc.detail)))


async def _store_unavailable(request: Request, exc: Exception) -> Response:
    # The database is away (a restart, a failover): nothing is wrong with the request or
    # the code, so no trace and no 500. The call failed (or its commit's outcome is not
    # known); a retry with the same Idempotency-Key (a webhook's redelivery) is safe and
    # finds out, once the store is back.
    event(
        log,
        "store.unavailable",
        logging.WARNING,
        error=type(exc.__cause__ or exc).__name__,
        path=request.url.path,
    )
    retry = {"Retry-After": str(STORE_RETRY_AFTER)}
    return _error(ApiError(503, "store-unreachable", "the store does not answer", None, retry))


async def _internal_error(request: Request, exc: Exception) -> Response:
    event(log, "internal-error", logging.ERROR, error=type(exc).__name__, path=request.url.path)
    return _error(ApiError(500, "internal", "an internal error; it has been logged"))


def _template(routes: Sequence[BaseRoute], scope: Scope, prefix: str = "") -> str | None:
    """The route template a request goes to (a mounted app's routes with the mount's path
    before them: ``/cabinet/pay/{inn}/{account}``), or None; a wrong method still names it."""
    partial = None
    for route in routes:
        match, child = route.matches(scope)
        if match is Match.NONE:
            continue
        if isinstance(route, Mount):
            inner = _template(route.routes, {**scope, **child}, prefix + route.path)
            return inner or prefix + route.path  # a mounted app without routes (static files)
        path = getattr(route, "path", "")
        if match is Match.FULL:
            return prefix + path
        partial = partial or prefix + path
    return partial


class _Observe:
    """ASGI middleware: counts and logs every request by route template and status."""

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute], metrics: Metrics) -> None:
        self.app = app
        self.routes = routes
        self.metrics = metrics
        # The top-level routes by identity (a Route compares by value and has no hash).
        self._top = {id(r): r for r in routes if isinstance(r, Route)}

    def _route(self, scope: Scope, routed: object) -> str:
        # Starlette's router names the route it chose in the scope (``route``; the innermost
        # one under a mount). One of the top-level routes is its own template, with no
        # second matching of the path against every route (each request, each webhook).
        if routed is not None and self._top.get(id(routed)) is routed:
            return typing.cast(Route, routed).path
        # Otherwise the template is found on a copy of the request's scope as it came:
        # routing changes the scope (a mount's root_path), and the cabinet's pages are
        # mounted.
        found = _template(self.routes, scope)
        return found or "unmatched"  # a fixed label: unknown paths must not grow the metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()
        counted = False
        asked = {k: scope[k] for k in ("type", "path", "root_path", "method") if k in scope}

        def count() -> None:
            nonlocal counted
            counted = True
            route = self._route(asked, scope.get("route"))
            method = scope["method"]
            self.metrics.inc(
                "pes_http_requests_total", route=route, method=method, status=str(status)
            )
            _event(
                "http",
                method=method,
                route=route,
                status=status,
                ms=round((time.perf_counter() - started) * 1000, 1),
            )

        async def keep_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                # Counted before the last byte leaves: a client that has its answer finds
                # it in /metrics (a file response returns only after closing its file).
                count()
            await send(message)

        try:
            await self.app(scope, receive, keep_status)
        finally:
            if not counted:
                count()


def create_app(
    store: Store,
    config: RunnerConfig,
    host: PluginHost,
    processor: PaymentProcessor,
    *,
    clock: cab.Clock = cab.utc_now,
) -> Starlette:
    """The runner's ASGI application.

    ``clock`` is where the client cabinet reads the time (aware UTC; tests move it).

    ``processor`` must keep its book in ``store`` and book credits and refunds there
    (:func:`processor_for` makes one) so that payments, their status and the ledger agree.
    """
    api = _Api(store, config, host, processor, clock=clock)
    endpoints: list[tuple[str, Callable[[Request], Awaitable[Response]], str]] = [
        ("/v1/services", api.services, "GET"),
        ("/v1/acceptances", api.accept, "POST"),
        ("/v1/payments", api.pay, "POST"),
        ("/v1/payments/{order_id}", api.payment, "GET"),
        ("/v1/qr/resolve", api.qr_resolve, "POST"),
        ("/v1/readings", api.record_reading, "POST"),
        ("/v1/readings", api.readings, "GET"),
        ("/v1/bills", api.bills, "GET"),
        # {account:path}: an account may hold a "/" (sent as %2F, decoded before routing)
        ("/v1/bills/{partner_inn}/{account:path}/{period}", api.bill, "GET"),
        ("/v1/login", api.login, "POST"),
        ("/v1/login/confirm", api.confirm, "POST"),
        ("/v1/logout", api.logout, "POST"),
        ("/v1/me/accounts", api.my_accounts, "GET"),
        ("/v1/me/accounts", api.link_account, "POST"),
        ("/v1/me/accounts/{partner_inn}/{account}", api.unlink_account, "DELETE"),
        ("/v1/me", api.delete_me, "DELETE"),
        (config.http.webhook_path, api.webhook, "POST"),
        ("/v1/operator/registries", api.registries, "GET"),
        ("/v1/operator/deliveries", api.deliveries, "GET"),
        ("/v1/operator/payments/{order_id}/refunds", api.refund, "POST"),
        ("/healthz", api.healthz, "GET"),
        ("/metrics", api.metrics_text, "GET"),
        ("/openapi.json", api.openapi, "GET"),
    ]
    from pes_sdk_runner.api import devices  # it builds on this module's _Api

    endpoints += devices.endpoints(api)  # /v1/devices, /v1/messages/{id}/events
    from pes_sdk_runner.api import campaigns  # the same

    endpoints += campaigns.endpoints(api)  # /v1/campaigns…, and /metrics' notifications
    from pes_sdk_runner.api import autopay  # the same

    endpoints += autopay.endpoints(api)  # /v1/autopay…
    routes = [Route(path, fn, methods=[method]) for path, fn, method in endpoints]
    pages: list[Mount] = []
    if api.cabinets is not None:  # the client cabinet's pages (личный кабинет)
        pages.append(Mount("/cabinet", cabinet_app(api.clients, api.cabinets, processor.gateway)))
    app = Starlette(
        routes=[*routes, *pages],
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            StoreUnavailable: _store_unavailable,
            Exception: _internal_error,
        },
    )
    app.add_middleware(_Limits, webhook_path=config.http.webhook_path)
    # outermost: sees 413s
    app.add_middleware(_Observe, routes=[*routes, *pages], metrics=api.metrics)
    app.state.api = api
    return app


def _check(check: Callable[[str], str], value: str, field: str) -> None:
    """A query value the core's validator refuses is a 422 naming the parameter."""
    try:
        check(value)
    except ValueError as exc:
        raise ApiError(422, "invalid", str(exc), field) from None


def processor_for(gateway: PaymentGateway, store: Store, **options: Any) -> PaymentProcessor:
    """The payment processor the API needs: its book in ``store``. ``options`` go to
    :class:`~pes_sdk.gateways.processor.PaymentProcessor` (``retry``, ``replay_window``).

    No ``on_credit`` or ``on_refund``: ``Store.put`` books a payment's credits and refunds
    in the ledger in the transaction that records them, so a crash cannot part the two
    (and a second transaction per confirmation would only cost time)."""
    return PaymentProcessor(gateway, store=store, **options)
