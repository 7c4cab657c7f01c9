"""The OpenAPI 3.1 document of the API, generated from the attrs models it (un)structures.

Schemas come from the models' type hints (the same classes the converter uses), so a
field added to a model is in the document without anyone remembering to write it down.
The operations are listed here once, next to the routes' paths; a test checks the two
agree. Decimals are JSON strings (``"1272.26"``), as :mod:`pes_sdk.serialization` writes
them.
"""

from __future__ import annotations

import datetime as dt
import enum
import types
import typing
import uuid
from decimal import Decimal
from typing import Any

import attrs

from pes_sdk.models.readings import MeterReading, Photo
from pes_sdk.period import Period
from pes_sdk.premises import Premises
from pes_sdk_runner.api import autopay_models as am
from pes_sdk_runner.api import campaign_models as cm
from pes_sdk_runner.api import models as m
from pes_sdk_runner.api import notify_models as nm
from pes_sdk_runner.store.base import DeliveryStatus

__all__ = ["OPERATIONS", "Operation", "openapi_document"]

_DECIMAL = {"type": "string", "pattern": r"^-?\d+(\.\d{1,2})?$", "examples": ["1272.26"]}
_SIMPLE: dict[object, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    bool: {"type": "boolean"},
    Decimal: _DECIMAL,
    uuid.UUID: {"type": "string", "format": "uuid"},
    dt.datetime: {"type": "string", "format": "date-time"},
    dt.date: {"type": "string", "format": "date"},
    Period: {"type": "string", "pattern": r"^\d{4}-\d{2}$", "examples": ["2026-11"]},
    Premises: {"type": "string"},
}


_INN = {"type": "string", "pattern": r"^\d{10}(\d{2})?$"}
_PARAMETERS: dict[str, dict[str, Any]] = {
    "order_id": {"type": "string", "format": "uuid"},
    "house": {"type": "string", "format": "uuid"},
    "partner": _INN,
    "partner_inn": _INN,
    "status": {"type": "string", "enum": [s.value for s in DeliveryStatus]},
    "refresh": {"type": "string", "enum": ["true", "false"]},
    "Idempotency-Key": {"type": "string", "minLength": 1, "maxLength": 128},
    "client_id": {"type": "string", "minLength": 1, "maxLength": 128},
    "device_id": {"type": "integer", "minimum": 1},
    "message_id": {"type": "integer", "minimum": 1},
    "campaign_id": {"type": "integer", "minimum": 1},
    "consent_id": {"type": "string", "format": "uuid"},
    "period": {"type": "string", "pattern": r"^\d{4}-\d{2}$", "examples": ["2026-11"]},
}

# Fields whose schema the type alone does not tell: meter values keep their own precision
# (not money's two places), a photo is base64 and its hash hex.
_METER_VALUE = {"type": "string", "pattern": r"^\d{1,12}(\.\d{1,6})?$", "examples": ["12345.678"]}
_FIELDS: dict[tuple[type, str], dict[str, Any]] = {
    (MeterReading, "values"): {
        "type": "array",
        "items": _METER_VALUE,
        "minItems": 1,
        "maxItems": 3,
        "description": "one value per tariff zone (T1..T3)",
    },
    (Photo, "sha256"): {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    (m.PaymentRequest, "return_url"): {
        "type": "string",
        "format": "uri",
        "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://",
        "maxLength": 2048,
    },
    (m.PaymentRequest, "description"): {"type": "string", "maxLength": 128},
    (m.PaymentRequest, "receipt_email"): {
        "anyOf": [{"type": "string", "format": "email", "maxLength": 254}, {"type": "null"}],
        "description": (
            "where the acquirer sends the client's 54-ФЗ receipt (tag 1008): an ASCII "
            "address, the domain in punycode; blank or null: none"
        ),
    },
    (m.AutopayTerms, "day"): {
        "anyOf": [{"type": "integer", "minimum": 1, "maximum": 28}, {"type": "null"}],
        "description": "the day of the month to charge on, with rule day_of_month only",
    },
    (m.AutopayTerms, "limit"): {
        **_DECIMAL,
        "pattern": r"^\d+(\.\d{1,2})?$",
        "description": "the most autopay takes in a month, positive",
    },
    (m.AutopayTerms, "partner_inn"): {
        "type": "string",
        "description": "the account's partner; blank: the basket's one account",
    },
    (m.ReadingRequest, "photo"): {
        "anyOf": [
            {"type": "string", "contentEncoding": "base64", "contentMediaType": "image/*"},
            {"type": "null"},
        ],
        "description": "a JPEG or PNG photo of the meter, base64, at most 5 MB",
    },
    (m.RefundBody, "lines"): {
        "anyOf": [
            {
                "type": "object",
                "propertyNames": {"pattern": r"^\d+$"},
                "additionalProperties": _DECIMAL,
                "minProperties": 1,
            },
            {"type": "null"},
        ],
        "description": "basket line index -> amount to give back; null: the whole payment",
    },
}


class _Schemas:
    """Collects component schemas while walking the models."""

    def __init__(self) -> None:
        self.components: dict[str, dict[str, Any]] = {}

    def of(self, tp: Any) -> dict[str, Any]:
        if tp in _SIMPLE:
            return dict(_SIMPLE[tp])
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if origin in (typing.Union, types.UnionType):
            parts = [self.of(a) for a in args if a is not type(None)]
            schema = parts[0] if len(parts) == 1 else {"anyOf": parts}
            if type(None) in args:
                return {"anyOf": [schema, {"type": "null"}]}
            return schema
        if origin in (tuple, list, frozenset, set):
            return {"type": "array", "items": self.of(args[0])}
        if isinstance(tp, type) and issubclass(tp, enum.IntEnum):
            return {"type": "integer", "enum": [e.value for e in tp]}
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            return {"type": "string", "enum": [e.value for e in tp]}
        if isinstance(tp, type) and attrs.has(tp):
            name = tp.__name__
            if name not in self.components:
                self.components[name] = {}  # placeholder: breaks recursion
                self.components[name] = self._object(tp)
            return {"$ref": f"#/components/schemas/{name}"}
        raise TypeError(f"no schema for {tp!r}")

    def _object(self, cls: type) -> dict[str, Any]:
        hints = typing.get_type_hints(cls)
        props: dict[str, Any] = {}
        required: list[str] = []
        for field in attrs.fields(cls):
            override = _FIELDS.get((cls, field.name))
            props[field.name] = dict(override) if override else self.of(hints[field.name])
            if field.default is attrs.NOTHING:
                required.append(field.name)
        schema: dict[str, Any] = {
            "type": "object",
            "properties": props,
            "additionalProperties": False,
        }
        if required:
            schema["required"] = required
        return schema


@attrs.frozen
class Operation:
    """One endpoint as the document describes it."""

    method: str
    path: str
    summary: str
    auth: str | None  #: "client" (an app or a cabinet), "session", "operator" or None
    response: type | None  #: the model of the 200 answer (None: text)
    request: type | None = None
    parameters: tuple[tuple[str, str, bool], ...] = ()  #: (name, in, required)
    statuses: tuple[int, ...] = ()
    media_type: str = "application/json"
    ok: int = 200  #: the status of success (204: no body)


_CLIENT_ERRORS = (401, 403, 422)

#: Every operation of the API; ``{webhook}`` stands for ``config.http.webhook_path``.
OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "get",
        "/v1/services",
        "Partner services at an address (house + premises) or on an account (partner + account)",
        "client",
        m.ServicesView,
        parameters=(
            ("house", "query", False),
            ("premises", "query", False),
            ("partner", "query", False),
            ("account", "query", False),
        ),
        statuses=_CLIENT_ERRORS,
    ),
    Operation(
        "post",
        "/v1/acceptances",
        "Record the client's tick (галочка-акцепт) on a partner service; idempotent",
        "client",
        m.AcceptanceView,
        request=m.AcceptanceRequest,
        statuses=(*_CLIENT_ERRORS, 404, 413),
    ),
    Operation(
        "post",
        "/v1/payments",
        "Create a basket payment; the same Idempotency-Key returns the same payment",
        "client",
        m.PaymentView,
        request=m.PaymentRequest,
        parameters=(("Idempotency-Key", "header", True),),
        statuses=(*_CLIENT_ERRORS, 409, 413, 502, 503),
    ),
    Operation(
        "get",
        "/v1/payments/{order_id}",
        "A payment's state and confirmation (refresh=true asks the acquirer first)",
        "client",
        m.PaymentView,
        parameters=(("order_id", "path", True), ("refresh", "query", False)),
        statuses=(401, 403, 404, 422, 502, 503),
    ),
    Operation(
        "post",
        "/v1/qr/resolve",
        "The partner's account, services and amount a bill's payment QR code"
        " (ГОСТ Р 56042-2014) pays",
        "client",
        m.QrBillView,
        request=m.QrResolveRequest,
        statuses=(*_CLIENT_ERRORS, 404, 413, 429),
    ),
    Operation(
        "post",
        "/v1/readings",
        "Submit a meter reading (показание прибора учёта) on an accepted account;"
        " append-only, a repeat returns the recorded one",
        "client",
        m.ReadingRecorded,
        request=m.ReadingRequest,
        statuses=(*_CLIENT_ERRORS, 413),
    ),
    Operation(
        "get",
        "/v1/readings",
        "Every meter reading on an accepted account, newest first",
        "client",
        m.ReadingsView,
        parameters=(
            ("client_id", "query", False),
            ("partner", "query", True),
            ("account", "query", True),
        ),
        statuses=_CLIENT_ERRORS,
    ),
    Operation(
        "get",
        "/v1/bills",
        "The monthly bills (квитанции) of the client's accounts (a cabinet's linked ones,"
        " an app's client's accepted ones), newest period first",
        "client",
        m.BillsView,
        parameters=(("client_id", "query", False),),
        statuses=_CLIENT_ERRORS,
    ),
    Operation(
        "get",
        "/v1/bills/{partner_inn}/{account}/{period}",
        "One bill's PDF, for an account the client may see (any other is 404)",
        "client",
        None,
        parameters=(
            ("partner_inn", "path", True),
            ("account", "path", True),
            ("period", "path", True),
            ("client_id", "query", False),
        ),
        statuses=(*_CLIENT_ERRORS, 404),
        media_type="application/pdf",
    ),
    Operation(
        "post",
        "/v1/login",
        "Send a login code to a phone (SMS); the same answer whether or not it has a cabinet",
        None,
        m.LoginStarted,
        request=m.LoginRequest,
        statuses=(404, 413, 422, 429, 503),
        ok=202,
    ),
    Operation(
        "post",
        "/v1/login/confirm",
        "Confirm a login code: a session token of the phone's cabinet (made at first login)",
        None,
        m.SessionView,
        request=m.ConfirmRequest,
        statuses=(404, 413, 422),
    ),
    Operation(
        "post",
        "/v1/logout",
        "End the session everywhere it is used",
        "session",
        None,
        statuses=(401, 403, 404),
        ok=204,
    ),
    Operation(
        "get",
        "/v1/me/accounts",
        "The cabinet's linked accounts (Мои лицевые счета)",
        "session",
        m.LinkedAccountsView,
        statuses=(401, 403, 404, 422),
    ),
    Operation(
        "post",
        "/v1/me/accounts",
        "Link an account, proved by its premises and the amount due on its latest bill",
        "session",
        m.LinkedAccountView,
        request=m.LinkRequest,
        statuses=(401, 403, 404, 413, 422, 429),
        ok=201,
    ),
    Operation(
        "delete",
        "/v1/me/accounts/{partner_inn}/{account}",
        "Unlink an account",
        "session",
        None,
        parameters=(("partner_inn", "path", True), ("account", "path", True)),
        statuses=(401, 403, 404),
        ok=204,
    ),
    Operation(
        "delete",
        "/v1/me",
        "Delete the cabinet with its phone, sessions and links (152-ФЗ)",
        "session",
        None,
        statuses=(401, 403, 404),
        ok=204,
    ),
    Operation(
        "post",
        "{webhook}",
        "A notification of the payment gateway (authenticated by the gateway adapter)",
        None,
        None,
        statuses=(400, 403, 404, 413),
        media_type="text/plain",
    ),
    Operation(
        "get",
        "/v1/operator/registries",
        "Debt registries and payment registries with their delivery status",
        "operator",
        m.RegistriesView,
        parameters=(("partner", "query", False),),
        statuses=(401, 403, 422),
    ),
    Operation(
        "get",
        "/v1/operator/deliveries",
        "Deliveries of payment registries, optionally by status",
        "operator",
        m.DeliveriesView,
        parameters=(("status", "query", False),),
        statuses=(401, 403, 422),
    ),
    Operation(
        "post",
        "/v1/operator/payments/{order_id}/refunds",
        "Refund (возврат) a paid payment, whole or by lines; the same Idempotency-Key"
        " returns the same refund",
        "operator",
        m.RefundView,
        request=m.RefundBody,
        parameters=(("order_id", "path", True), ("Idempotency-Key", "header", True)),
        statuses=(401, 403, 404, 409, 413, 422, 502, 503),
    ),
    Operation(
        "post",
        "/v1/devices",
        "Register a client app's push token (FCM, APNs, RuStore, Web Push); the same"
        " token again moves it to this client and renews it",
        "client",
        nm.DeviceView,
        request=nm.DeviceRequest,
        statuses=(*_CLIENT_ERRORS, 413),
        ok=201,
    ),
    Operation(
        "delete",
        "/v1/devices/{device_id}",
        "Forget one of the client's devices: no more pushes to it",
        "client",
        None,
        parameters=(("device_id", "path", True), ("client_id", "query", False)),
        statuses=(*_CLIENT_ERRORS, 404),
        ok=204,
    ),
    Operation(
        "post",
        "/v1/messages/{message_id}/events",
        "Report that one of the client's messages was delivered, opened or clicked",
        "client",
        None,
        request=nm.MessageEventRequest,
        parameters=(("message_id", "path", True),),
        statuses=(*_CLIENT_ERRORS, 404, 413),
        ok=204,
    ),
    Operation(
        "post",
        "/v1/campaigns",
        "Create a partner's campaign (news or promo): a draft, or scheduled with starts_at",
        "operator",
        cm.CampaignView,
        request=cm.CampaignRequest,
        statuses=(401, 403, 409, 413, 422),
        ok=201,
    ),
    Operation(
        "get",
        "/v1/campaigns",
        "Campaigns, newest first, optionally of one partner",
        "operator",
        cm.CampaignsView,
        parameters=(("partner", "query", False),),
        statuses=(401, 403, 422),
    ),
    Operation(
        "get",
        "/v1/campaigns/{campaign_id}",
        "One campaign",
        "operator",
        cm.CampaignView,
        parameters=(("campaign_id", "path", True),),
        statuses=(401, 403, 404, 422),
    ),
    Operation(
        "post",
        "/v1/campaigns/{campaign_id}/schedule",
        "Set a draft's or a scheduled campaign's start (no offset: the service's zone)",
        "operator",
        cm.CampaignView,
        request=cm.ScheduleRequest,
        parameters=(("campaign_id", "path", True),),
        statuses=(401, 403, 404, 409, 413, 422),
    ),
    Operation(
        "post",
        "/v1/campaigns/{campaign_id}/cancel",
        "Cancel a campaign not done (a sending one stops before its next page)",
        "operator",
        cm.CampaignView,
        parameters=(("campaign_id", "path", True),),
        statuses=(401, 403, 404, 409, 422),
    ),
    Operation(
        "get",
        "/v1/campaigns/{campaign_id}/stats",
        "What a campaign achieved: targeted, sent, failed by reason, delivered, opened,"
        " clicked per button, paid within 72 hours; by channel and by day",
        "operator",
        cm.CampaignStatsView,
        parameters=(("campaign_id", "path", True),),
        statuses=(401, 403, 404, 422),
    ),
    Operation(
        "get",
        "/v1/autopay",
        "The client's autopay consents (автоплатёж), cancelled ones too, each with the"
        " text agreed to in every version",
        "client",
        am.ConsentsView,
        parameters=(("client_id", "query", False),),
        statuses=_CLIENT_ERRORS,
    ),
    Operation(
        "get",
        "/v1/autopay/charges",
        "The client's autopay charges, the latest first",
        "client",
        am.AutopayChargesView,
        parameters=(("client_id", "query", False),),
        statuses=_CLIENT_ERRORS,
    ),
    Operation(
        "post",
        "/v1/autopay/{consent_id}/cancel",
        "Cancel one of the client's autopay consents at once (a noticed charge too);"
        " a repeat answers the same",
        "client",
        am.AutopayCancelView,
        parameters=(("consent_id", "path", True), ("client_id", "query", False)),
        statuses=(*_CLIENT_ERRORS, 404),
    ),
    Operation("get", "/healthz", "The store is reachable", None, m.HealthView, statuses=(503,)),
    Operation(
        "get",
        "/metrics",
        "Prometheus metrics (text format)",
        None,
        None,
        media_type="text/plain",
    ),
    Operation("get", "/openapi.json", "This document", None, None),
)


def openapi_document(webhook_path: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document, with the webhook at ``webhook_path``."""
    schemas = _Schemas()
    error_ref = schemas.of(m.ErrorView)
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        path = op.path.replace("{webhook}", webhook_path)
        ok: dict[str, Any] = {"description": "OK"}
        if op.ok == 204:
            pass  # no body
        elif op.response is not None:
            ok["content"] = {"application/json": {"schema": schemas.of(op.response)}}
        elif op.path == "/openapi.json":
            ok["content"] = {"application/json": {"schema": {"type": "object"}}}
        else:
            ok["content"] = {op.media_type: {"schema": {"type": "string"}}}
        responses: dict[str, Any] = {str(op.ok): ok}
        for status in op.statuses:
            responses[str(status)] = {
                "description": "error",
                "content": {"application/json": {"schema": error_ref}},
            }
        operation: dict[str, Any] = {
            "summary": op.summary,
            "operationId": f"{op.method}_{path.strip('/').replace('/', '_') or 'root'}",
            "responses": responses,
        }
        if op.auth == "client":  # an app's token, or a cabinet's session token
            operation["security"] = [{"client": []}, {"session": []}]
        elif op.auth is not None:
            operation["security"] = [{op.auth: []}]
        if op.parameters:
            operation["parameters"] = [
                {
                    "name": name,
                    "in": where,
                    "required": required,
                    "schema": _PARAMETERS.get(name, {"type": "string"}),
                }
                for name, where, required in op.parameters
            ]
        if op.request is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": schemas.of(op.request)}},
            }
        elif op.path == "{webhook}":
            operation["requestBody"] = {
                "required": True,
                "content": {"application/octet-stream": {"schema": {"type": "string"}}},
            }
        paths.setdefault(path, {})[op.method] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "pes-sdk runner API", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.components.items())),
            "securitySchemes": {
                "client": {"type": "http", "scheme": "bearer", "description": "a client app"},
                "operator": {"type": "http", "scheme": "bearer", "description": "an operator"},
                "session": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "a client cabinet's session (POST /v1/login/confirm)",
                },
            },
        },
    }
