"""The cabinet's pages (личный кабинет), server-rendered: login by phone, the linked
accounts, the payment page of the current account and a payment's result.

Every page works without JavaScript: the payment form is recomputed by the server when it
is sent; the one script only keeps its totals right while the client ticks and types (it
asks :meth:`Pages.quote`, which prices with the same use case). What a client does goes
through :class:`~pes_sdk_runner.usecases.ClientUseCases` and the cabinet's objects
(:class:`~pes_sdk_runner.cabinet.Cabinets`), never the store, except to read which of the
client's accounts is where and for the session's own notification settings (preferences,
contact, browser devices: no use case covers them; the API's ``/v1/devices`` does the
same). Texts shown to people are Russian (the cabinet speaks Russian only);
partner-supplied text goes through Jinja2's autoescape like any other.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.parser
import email.policy
import functools
import hashlib
import json
import logging
import re
import secrets
import urllib.parse
import uuid
from collections.abc import Callable, Mapping, Sequence
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from typing import Any, NamedTuple, ParamSpec, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs
import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from pes_sdk.gateways.models import ConfirmationKind, PaymentState
from pes_sdk.gateways.processor import PaymentEntry
from pes_sdk.models.payments import PaymentLine
from pes_sdk.models.readings import MeterReading, MeterType
from pes_sdk.models.receipts import check_customer_email
from pes_sdk.money import ZERO
from pes_sdk.notifications import MAX_BUTTONS
from pes_sdk.period import Period
from pes_sdk_runner import usecases as uc
from pes_sdk_runner.cabinet import Cabinets
from pes_sdk_runner.cabinet.accounts import Scope
from pes_sdk_runner.cabinet.errors import (
    CodeRefused,
    InvalidPhone,
    LinkRefused,
    SmsUnavailable,
    TooManyRequests,
)
from pes_sdk_runner.cabinet.sessions import ActiveSession
from pes_sdk_runner.cabinet.web import security as sec
from pes_sdk_runner.cabinet.web.download import pdf_download
from pes_sdk_runner.cabinet.web.money import AmountError, parse_rub, rub, rub_input
from pes_sdk_runner.config.models import OUTBOX, logo_media_type
from pes_sdk_runner.logs import event
from pes_sdk_runner.qr_limits import QrLimiter, cabinet_asker
from pes_sdk_runner.store.autopay import Charge, ChargeState, Consent, ConsentRule
from pes_sdk_runner.store.base import DecreaseReason, ServiceBalance, StoredReading
from pes_sdk_runner.store.errors import StoreUnavailable
from pes_sdk_runner.store.notify import MessageEvent
from pes_sdk_runner.store.receipts import FiscalReceipt, ReceiptStatus

__all__ = ["CURRENT_COOKIE", "NOTIFICATION_KINDS", "RETURN_LINK_TTL", "Pages", "cabinet_app"]

#: Which linked account the payment page shows (``<ИНН>:<account>``; not a secret).
CURRENT_COOKIE = "pes_cabinet_account"
#: How long the code page remembers its login attempt (the code's own life).
_ATTEMPT_SECONDS = 300
#: How long after a payment is made its return address shows it without a session: far
#: longer than any acquirer's page lives, yet not for ever in a browser's history.
RETURN_LINK_TTL = dt.timedelta(days=1)
#: The most fields a cabinet form has (a payment form: two per service at an address).
_MAX_FIELDS = 1000
_DESCRIPTION = "Оплата жилищно-коммунальных услуг"
_STATES = {
    PaymentState.CREATED: "создан",
    PaymentState.PENDING: "ожидает подтверждения",
    PaymentState.SUCCEEDED: "оплачен",
    PaymentState.FAILED: "не прошёл",
    PaymentState.CANCELLED: "отменён",
    PaymentState.PARTIALLY_REFUNDED: "оплачен, часть возвращена",
    PaymentState.REFUNDED: "возвращён",
}

_MONTHS = (
    "январь", "февраль", "март", "апрель", "май", "июнь",
    "июль", "август", "сентябрь", "октябрь", "ноябрь", "декабрь",
)  # fmt: skip
_METER_TYPES = {
    MeterType.GAS: "Газ",
    MeterType.ELECTRICITY: "Электроэнергия",
    MeterType.ELECTRICITY_DAY: "Электроэнергия, день",
    MeterType.ELECTRICITY_NIGHT: "Электроэнергия, ночь",
    MeterType.ELECTRICITY_PEAK: "Электроэнергия, пик",
    MeterType.ELECTRICITY_HALF_PEAK: "Электроэнергия, полупик",
    MeterType.ELECTRICITY_NIGHT_ZONE: "Электроэнергия, ночная зона",
    MeterType.HOT_WATER: "Горячая вода",
    MeterType.COLD_WATER: "Холодная вода",
    MeterType.HEATING: "Отопление",
    MeterType.DRAINAGE: "Водоотведение",
    MeterType.IRRIGATION: "Полив",
    MeterType.GARBAGE: "Вывоз мусора",
}
_DECREASES = {
    DecreaseReason.ROLLOVER: "счётчик прошёл через ноль",
    DecreaseReason.REPLACED: "счётчик заменён",
}
#: The largest multipart form taken (the readings form: a photo and a few fields).
_MAX_MULTIPART = uc.MAX_PHOTO_BYTES + 64 * 1024
_VALUE = re.compile(r"\d{1,12}([.,]\d{1,6})?")
#: The kinds of message a client switches off on «Уведомления» (``kind`` of
#: :func:`pes_sdk_runner.notify.enqueue_messages`, ``notification_preferences.kind``): the
#: triggers' and campaigns' kinds, with their Russian names and what each brings. Not
#: ``autopay``: the notice before an autopay charge is what allows the charge
#: (docs/autopay.md), so it cannot be switched off here; cancelling the autopay on the
#: Автоплатёж page stops it.
NOTIFICATION_KINDS: tuple[tuple[str, str, str], ...] = (
    ("charges", "Начисления", "Новые начисления за месяц по вашим лицевым счетам."),
    ("reminders", "Напоминания об оплате", "Напоминания о сроке оплаты и о задолженности."),
    ("readings", "Показания счётчиков", "Когда пора передать показания."),
    ("payments", "Платежи", "Подтверждения платежей."),
    ("news", "Новости", "Новости поставщиков услуг: отключения, работы, собрания."),
    ("promo", "Акции", "Предложения и акции поставщиков услуг."),
)
#: An autopay charge's state as the client reads it (Автоплатёж).
_CHARGE_STATES = {
    ChargeState.NOTICED: "Уведомили",
    ChargeState.CHARGING: "Списывается",
    ChargeState.PAID: "Списано",
    ChargeState.FAILED: "Не прошло",
    ChargeState.CANCELLED: "Отменено",
    ChargeState.OVER_LIMIT: "Превышен лимит",
    ChargeState.NOTHING_DUE: "Оплачено иначе",
}
#: The days an autopay may charge on: every month has them.
_AUTOPAY_DAYS = tuple(range(1, 29))
#: The monthly limit first offered: what is due and half again, rounded up to 500 roubles
#: (a registry grows in winter), at least this much.
_AUTOPAY_MIN_SUGGESTED = Decimal("1000")
#: The largest JSON body a script sends (a PushSubscription is well under 1 KiB).
_MAX_JSON = 8 * 1024
#: Where the service worker's text is (served at the cabinet's root, not under /static).
_SW = Path(__file__).parent / "static" / "sw.js"

log = logging.getLogger("pes_sdk_runner.cabinet")
T = TypeVar("T")
P = ParamSpec("P")


@attrs.frozen
class Row:
    """One service on the payment page; ``key`` names its fields (no partner text in it)."""

    key: str
    service: ServiceBalance
    partner_name: str
    accepted: bool
    #: accepted by a tick of its own, which unticking withdraws (:meth:`Pages.accept_ticked`)
    withdrawable: bool = False


class Rows(NamedTuple):
    """The payment page's rows (:meth:`Pages.rows`) and the view they were read from."""

    ticked: list[Row]
    found: list[Row]
    view: uc.BasketView


@attrs.frozen
class Basket:
    """What the payment form asks for, read and checked."""

    ticked: frozenset[str]
    #: the rows the page showed ticked whose tick unticking withdraws (``accepted`` fields)
    shown_accepted: frozenset[str]
    amounts: Mapping[str, str]  #: as typed, by row key
    lines: tuple[tuple[Row, Decimal], ...]  #: the ticked rows with a good amount
    errors: Mapping[str, str]  #: by row key, or "email", "autopay_…", "" for the whole form
    email: str
    #: "Подключить автоплатёж" ticked, and its fields as typed
    autopay: bool = False
    autopay_rule: str = ConsentRule.ON_REGISTRY.value
    autopay_day: str = ""
    autopay_limit: str = ""
    #: the terms read, ticked or not (the account is the page's: :meth:`Pages.pay` names it)
    terms: uc.AutopayTerms | None = None
    #: the digest of the consent text the page showed (:func:`_text_digest`)
    consent_digest: str = ""


def _row_key(s: ServiceBalance) -> str:
    digest = hashlib.sha256("\x1f".join((s.partner_inn, s.account, s.service)).encode())
    return digest.hexdigest()[:16]


def _fee_text(line: PaymentLine | None) -> str:
    if line is None:
        return "—"
    return "отсутствует" if line.client_fee == ZERO else rub(line.client_fee)


class Pages:
    """The cabinet's endpoints over the client use cases and the cabinets."""

    def __init__(
        self, clients: uc.ClientUseCases, cabinets: Cabinets, origins: sec.AcquirerOrigins
    ) -> None:
        self.clients = clients
        self.cabinets = cabinets
        self.origins = origins
        self.secret = cabinets.config.secret
        self.env = jinja2.Environment(
            loader=jinja2.PackageLoader("pes_sdk_runner.cabinet.web", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            # The templates are package data: nothing changes them while the runner runs,
            # and checking their files on every render costs each page a stat call.
            auto_reload=False,
        )
        self.env.filters["rub"] = rub
        self.env.filters["period"] = _period_text
        zone = clients.config.service.time_zone  # the service's clock, as its registries

        def day(value: dt.date | dt.datetime) -> str:
            return _day_text(value, zone)

        self.env.filters["day"] = day
        config = cabinets.config
        self.brand = config.service_name
        # The colours as a stylesheet of their own (the CSP allows no inline style); its
        # address changes with them, so a browser's cached copy is never stale.
        self.theme = (
            ":root {\n"
            f"  --brand: {config.primary_color};\n"
            f"  --brand-dark: {config.accent_color};\n"
            "}\n"
        )
        self.theme_version = hashlib.sha256(self.theme.encode()).hexdigest()[:12]
        self.logo: tuple[bytes, str] | None = None
        self._vapid: str | None = None  # read at first need (vapid_key)
        # The worker's title when a message has none: the service's name, as a JS string.
        self.sw = _SW.read_text("utf-8").replace('"__BRAND__"', json.dumps(self.brand)).encode()
        if config.logo is not None:  # checked when the configuration was loaded
            data = config.logo.read_bytes()
            self.logo = (data, logo_media_type(data) or "application/octet-stream")

    # -- plumbing ---------------------------------------------------------------------------

    def render(
        self,
        request: Request,
        template: str,
        status: int = 200,
        *,
        session: ActiveSession | None = None,
        csrf: str = "",
        **context: Any,
    ) -> HTMLResponse:
        base = _base(request)
        context.setdefault("active", "")
        html = self.env.get_template(template).render(
            base=base,
            static=f"{base}/static",
            csrf=csrf,
            logged_in=session is not None,
            brand=self.brand,
            theme=f"{base}/theme.css?v={self.theme_version}",
            logo=f"{base}/logo" if self.logo is not None else "",
            **context,
        )
        response = HTMLResponse(html, status_code=status)
        response.headers["Cache-Control"] = "no-store"
        return response

    async def session(self, request: Request) -> tuple[ActiveSession, str] | None:
        token = request.cookies.get(sec.SESSION_COOKIE, "")
        if not token:
            return None
        found = await run_in_threadpool(self.cabinets.sessions.active, token)
        return (found, token) if found is not None else None

    def to_login(self, request: Request) -> Response:
        response = RedirectResponse(f"{_base(request)}/login", status_code=303)
        if request.cookies.get(sec.SESSION_COOKIE):
            sec.delete_cookie(request, response, sec.SESSION_COOKIE)
        return response

    def session_csrf(self, token: str) -> str:
        return sec.csrf_token(self.secret, session=token)

    async def form(self, request: Request) -> dict[str, list[str]]:
        """The urlencoded body of a form (the cabinet sends no files yet)."""
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/x-www-form-urlencoded":
            raise HTTPException(415, "Форма отправлена в неизвестном виде")
        raw = await request.body()
        try:
            text = raw.decode("utf-8")
            pairs = urllib.parse.parse_qsl(
                text, keep_blank_values=True, strict_parsing=False, max_num_fields=_MAX_FIELDS
            )
        except (UnicodeDecodeError, ValueError):
            raise HTTPException(400, "Форма не прочитана") from None
        out: dict[str, list[str]] = {}
        for name, value in pairs:
            out.setdefault(name, []).append(value.replace("\x00", ""))
        return out

    async def multipart(self, request: Request) -> tuple[dict[str, list[str]], dict[str, bytes]]:
        """A ``multipart/form-data`` body (the readings form, with a photo): its text fields
        and its files' bytes by field name; at most :data:`_MAX_MULTIPART` bytes are read."""
        kind = request.headers.get("content-type", "")
        if kind.split(";")[0].strip().lower() != "multipart/form-data":
            raise HTTPException(415, "Форма отправлена в неизвестном виде")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > _MAX_MULTIPART:
                raise HTTPException(413, "Файл слишком большой: фото — не больше 5 МБ")
            chunks.append(chunk)
        # The standard library's MIME parser reads form-data too (RFC 7578 is MIME).
        head = f"Content-Type: {kind}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            head + b"".join(chunks)
        )
        if not message.is_multipart():
            raise HTTPException(400, "Форма не прочитана")
        fields: dict[str, list[str]] = {}
        files: dict[str, bytes] = {}
        for n, part in enumerate(message.iter_parts()):
            if n >= _MAX_FIELDS:
                raise HTTPException(400, "Форма не прочитана")
            name = part.get_param("name", header="content-disposition")
            if not isinstance(name, str):
                continue
            payload = part.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else b""
            if part.get_filename() is not None:
                if data:  # an empty file input sends a part without bytes
                    files[name] = data
                continue
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                raise HTTPException(400, "Форма не прочитана") from None
            fields.setdefault(name, []).append(text.replace("\x00", ""))
        return fields, files

    async def signed_in(
        self, request: Request, *, post: bool = False
    ) -> tuple[ActiveSession, str, dict[str, list[str]]] | Response:
        """The session and (for a POST) the form, its CSRF token checked; or where to go."""
        found = await self.session(request)
        if found is None:
            return self.to_login(request)
        session, token = found
        form: dict[str, list[str]] = {}
        if post:
            form = await self.form(request)
            if not sec.csrf_matches(_one(form, "csrf"), self.session_csrf(token)):
                return self.stale_form(request, session, token)
        return session, token, form

    async def signed_in_with_files(
        self, request: Request
    ) -> tuple[ActiveSession, str, dict[str, list[str]], dict[str, bytes]] | Response:
        """As :meth:`signed_in` for a multipart POST: the CSRF token is a field of the
        multipart form, checked like any other form's."""
        found = await self.session(request)
        if found is None:
            return self.to_login(request)
        session, token = found
        form, files = await self.multipart(request)
        if not sec.csrf_matches(_one(form, "csrf"), self.session_csrf(token)):
            return self.stale_form(request, session, token)
        return session, token, form, files

    def stale_form(self, request: Request, session: ActiveSession | None, token: str) -> Response:
        return self.render(
            request,
            "message.html",
            403,
            session=session,
            csrf=self.session_csrf(token) if token else "",
            title="Форма устарела",
            text="Страница была открыта слишком давно. Вернитесь и отправьте форму ещё раз.",
        )

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await run_in_threadpool(fn, *args, **kwargs)

    async def listing(
        self, request: Request, page: str, read: Callable[[ActiveSession], Any], name: str
    ) -> Response:
        """A menu page that only lists what ``read`` finds for the session (``<page>.html``,
        its menu item ``page``), given to the template as ``name``."""
        found = await self.signed_in(request)
        if isinstance(found, Response):
            return found
        session, token, _form = found
        listed: dict[str, Any] = {name: await self.run(read, session)}
        return self.render(
            request,
            f"{page}.html",
            session=session,
            csrf=self.session_csrf(token),
            active=page,
            **listed,
        )

    # -- login -------------------------------------------------------------------------------

    def pre(self, request: Request) -> tuple[str, bool]:
        """The pre-session value of the login forms, and whether it is new."""
        found = request.cookies.get(sec.PRE_COOKIE, "")
        return (found, False) if found else (sec.new_pre_session(), True)

    def login_page(
        self, request: Request, template: str, status: int = 200, **context: Any
    ) -> Response:
        pre, new = self.pre(request)
        response = self.render(
            request, template, status, csrf=sec.csrf_token(self.secret, pre=pre), **context
        )
        if new:
            sec.set_cookie(request, response, sec.PRE_COOKIE, pre, None)
        return response

    async def login_form_checked(self, request: Request) -> dict[str, list[str]] | None:
        form = await self.form(request)
        pre = request.cookies.get(sec.PRE_COOKIE, "")
        expected = sec.csrf_token(self.secret, pre=pre)
        if not pre or not sec.csrf_matches(_one(form, "csrf"), expected):
            return None
        return form

    async def login(self, request: Request) -> Response:
        if request.method == "GET":
            if await self.session(request) is not None:
                return RedirectResponse(f"{_base(request)}/", status_code=303)
            return self.login_page(request, "login.html", phone="", error="")
        form = await self.login_form_checked(request)
        if form is None:
            return self.login_page(request, "login.html", 403, phone="", error=_STALE)
        phone = _one(form, "phone").strip()[:40]
        try:
            sent = await self.run(self.cabinets.login.request_code, phone, _client_ip(request))
        except InvalidPhone:
            error = "Введите мобильный номер России: +7 и 10 цифр, например +7 916 123-45-67."
            return self.login_page(request, "login.html", 422, phone=phone, error=error)
        except TooManyRequests as exc:
            error = f"Слишком много запросов кода. Попробуйте {_after(exc)}."
            page = self.login_page(request, "login.html", 429, phone=phone, error=error)
            page.headers["Retry-After"] = str(exc.retry_after_seconds)
            return page
        except SmsUnavailable:
            error = "Не удалось отправить код. Попробуйте ещё раз через минуту."
            return self.login_page(request, "login.html", 503, phone=phone, error=error)
        response = RedirectResponse(f"{_base(request)}/login/code", status_code=303)
        sec.set_cookie(request, response, sec.ATTEMPT_COOKIE, sent.attempt, _ATTEMPT_SECONDS)
        return response

    async def code(self, request: Request) -> Response:
        attempt = request.cookies.get(sec.ATTEMPT_COOKIE, "")
        if not attempt:
            return RedirectResponse(f"{_base(request)}/login", status_code=303)
        if request.method == "GET":
            return self.login_page(request, "code.html", error="")
        form = await self.login_form_checked(request)
        if form is None:
            return self.login_page(request, "code.html", 403, error=_STALE)
        code = re.sub(r"\s", "", _one(form, "code"))[:12]
        try:
            issued = await self.run(self.cabinets.login.confirm, attempt, code, _client_ip(request))
        except CodeRefused:
            error = "Код неверный или устарел. Проверьте код из СМС или запросите новый."
            return self.login_page(request, "code.html", 422, error=error)
        response = RedirectResponse(f"{_base(request)}/", status_code=303)
        max_age = int(self.cabinets.config.absolute_timeout)
        sec.set_cookie(request, response, sec.SESSION_COOKIE, issued.token, max_age)
        sec.delete_cookie(request, response, sec.ATTEMPT_COOKIE)
        sec.delete_cookie(request, response, sec.PRE_COOKIE)
        return response

    async def logout(self, request: Request) -> Response:
        found = await self.signed_in(request, post=True)
        if isinstance(found, Response):
            return found
        _session, token, _form = found
        await self.run(self.cabinets.sessions.logout, token)
        response = RedirectResponse(f"{_base(request)}/login", status_code=303)
        sec.delete_cookie(request, response, sec.SESSION_COOKIE)
        return response

    # -- the accounts (Мои лицевые счета) ------------------------------------------------------

    def linked(self, cabinet_id: int) -> list[tuple[str, str]]:
        return [(a.partner_inn, a.account) for a in self.cabinets.accounts.linked(cabinet_id)]

    def current(self, request: Request, linked: Sequence[tuple[str, str]]) -> tuple[str, str]:
        chosen = request.cookies.get(CURRENT_COOKIE, "")
        inn, _, account = chosen.partition(":")
        if (inn, account) in linked:
            return inn, account
        return linked[0]

    async def with_accounts(
        self, request: Request
    ) -> tuple[ActiveSession, str, list[tuple[str, str]]] | Response:
        """The session and its linked accounts; or where to go (login, or Мои лицевые
        счета to link the first account)."""
        found = await self.signed_in(request)
        if isinstance(found, Response):
            return found
        session, token, _form = found
        linked = await self.run(self.linked, session.cabinet_id)
        if not linked:
            return RedirectResponse(f"{_base(request)}/accounts", status_code=303)
        return session, token, linked

    async def index(self, request: Request) -> Response:
        found = await self.with_accounts(request)
        if isinstance(found, Response):
            return found
        _session, _token, linked = found
        inn, account = self.current(request, linked)
        return RedirectResponse(_pay_url(request, inn, account), status_code=303)

    def accounts_view(self, cabinet_id: int) -> dict[str, Any]:
        partners = self.clients.partners()
        rows = []
        for a in self.cabinets.accounts.linked(cabinet_id):
            services = self.clients.services_on(a.partner_inn, a.account)
            partner = partners.get(a.partner_inn)
            rows.append(
                {
                    "inn": a.partner_inn,
                    "account": a.account,
                    "partner": partner.name if partner else a.partner_inn,
                    "premises": services[0].premises if services else "",
                    "due": sum((s.due for s in services), ZERO),
                }
            )
        choices = sorted(((p.name, inn) for inn, p in partners.items()), key=lambda c: c[0])
        return {"accounts": rows, "partners": choices}

    async def accounts(self, request: Request) -> Response:
        found = await self.signed_in(request)
        if isinstance(found, Response):
            return found
        session, token, _form = found
        q = request.query_params
        notice = (
            "Лицевой счёт привязан."
            if "linked" in q
            else "Лицевой счёт отвязан."
            if "unlinked" in q
            else ""
        )
        # "Привязать лицевой счёт" of a QR code's account fills in what the code told
        values = {k: q.get(k, "").strip()[:64] for k in ("partner", "account")}
        return await self.accounts_page(request, session, token, notice=notice, values=values)

    async def accounts_page(
        self,
        request: Request,
        session: ActiveSession,
        token: str,
        status: int = 200,
        *,
        error: str = "",
        link_error: str = "",
        notice: str = "",
        values: Mapping[str, str] | None = None,
    ) -> Response:
        view = await self.run(self.accounts_view, session.cabinet_id)
        linked = [(a["inn"], a["account"]) for a in view["accounts"]]
        current = self.current(request, linked) if linked else ("", "")
        return self.render(
            request,
            "accounts.html",
            status,
            session=session,
            csrf=self.session_csrf(token),
            active="accounts",
            current=current,
            error=error,
            link_error=link_error,
            notice=notice,
            values={
                **dict.fromkeys(("partner", "account", "premises", "due"), ""),
                **(values or {}),
            },
            **view,
        )

    async def link(self, request: Request) -> Response:
        found = await self.signed_in(request, post=True)
        if isinstance(found, Response):
            return found
        session, token, form = found
        values = {k: _one(form, k).strip()[:64] for k in ("partner", "account", "premises", "due")}
        try:
            due = parse_rub(values["due"])
        except AmountError:
            error = "Сумма к оплате по последней квитанции: цифрами, например 1500,50."
            return await self.accounts_page(
                request, session, token, 422, link_error=error, values=values
            )
        inn, account = values["partner"], values["account"]
        if not inn or not account or not values["premises"]:
            error = "Выберите поставщика и заполните номер счёта и номер помещения."
            return await self.accounts_page(
                request, session, token, 422, link_error=error, values=values
            )
        try:
            await self.run(
                self.cabinets.accounts.link,
                session.cabinet_id,
                inn,
                account,
                values["premises"],
                due,
            )
        except LinkRefused:
            error = (
                "Лицевой счёт не найден или данные не совпадают с последней квитанцией. "
                "Проверьте номер счёта, номер помещения и сумму к оплате."
            )
            return await self.accounts_page(
                request, session, token, 422, link_error=error, values=values
            )
        except TooManyRequests as exc:
            error = f"Слишком много неудачных попыток. Попробуйте {_after(exc)}."
            page = await self.accounts_page(
                request, session, token, 429, link_error=error, values=values
            )
            page.headers["Retry-After"] = str(exc.retry_after_seconds)
            return page
        except uc.UseCaseError:
            error = "Лицевой счёт не удалось привязать. Попробуйте ещё раз."
            return await self.accounts_page(
                request, session, token, 422, link_error=error, values=values
            )
        response = RedirectResponse(f"{_base(request)}/accounts?linked=1", status_code=303)
        if not request.cookies.get(CURRENT_COOKIE):
            sec.set_cookie(request, response, CURRENT_COOKIE, f"{inn}:{account}", None)
        return response

    async def unlink(self, request: Request) -> Response:
        found = await self.signed_in(request, post=True)
        if isinstance(found, Response):
            return found
        session, token, form = found
        inn, account = _one(form, "partner"), _one(form, "account")
        try:
            await self.run(self.cabinets.accounts.unlink, session.cabinet_id, inn, account)
        except uc.NotFound:
            return await self.accounts_page(
                request, session, token, 404, error="Такой лицевой счёт не привязан."
            )
        return RedirectResponse(f"{_base(request)}/accounts?unlinked=1", status_code=303)

    async def choose(self, request: Request) -> Response:
        found = await self.signed_in(request, post=True)
        if isinstance(found, Response):
            return found
        session, token, form = found
        inn, account = _one(form, "partner"), _one(form, "account")
        if (inn, account) not in await self.run(self.linked, session.cabinet_id):
            return await self.accounts_page(
                request, session, token, 404, error="Такой лицевой счёт не привязан."
            )
        response = RedirectResponse(_pay_url(request, inn, account), status_code=303)
        sec.set_cookie(request, response, CURRENT_COOKIE, f"{inn}:{account}", None)
        return response

    # -- the payment page (Пополнение лицевого счёта) ----------------------------------------

    def rows(self, session: ActiveSession, inn: str, account: str, qr: bool = False) -> Rows:
        """The services of the page: ticked ones (the account's, and the others the client
        accepted at its address), and the others found at the address; with what they were
        read from. 404 unless the account is one of the cabinet's, or ``qr``: the account a
        bill's QR code named (:meth:`qr_allows`), whose services count as found (a tick
        accepts them) until the client accepted them."""
        # Each thing read once: the links, then the use case's view (services of the
        # linked accounts and at the address, acceptances, partners), not once per row.
        with self.clients.store.reads_together():  # the links too, in the same turn
            linked = self.linked(session.cabinet_id)
            own_linked = (inn, account) in linked
            if not own_linked and not qr:
                raise HTTPException(404, "Такого лицевого счёта нет среди ваших")
            view = self.clients.basket_view(session.client, linked, (inn, account))
        own = view.services[(inn, account)]
        scope = Scope.of({a: view.services[a] for a in linked})
        seen = {(s.partner_inn, s.account, s.service) for s in own}
        others: list[ServiceBalance] = []
        for s in scope.sees(view.nearby):
            if (s.partner_inn, s.account, s.service) not in seen:
                seen.add((s.partner_inn, s.account, s.service))
                others.append(s)

        def row(s: ServiceBalance) -> Row:
            partner = view.partners.get(s.partner_inn)
            accepted = view.accepts(s.partner_inn, s.account, s.service)
            name = partner.name if partner else s.partner_inn
            alone = accepted and view.ticked_alone(s.partner_inn, s.account, s.service)
            return Row(_row_key(s), s, name, accepted, alone)

        other_rows = [row(s) for s in others]
        own_rows = [row(s) for s in own]
        if not own_linked:  # a QR code's account: its services are ticked once accepted
            other_rows = own_rows + other_rows
            own_rows = []
        ticked = own_rows + [r for r in other_rows if r.accepted]
        found = [r for r in other_rows if not r.accepted]
        return Rows(ticked, found, view)

    def read_basket(self, form: Mapping[str, list[str]], rows: Sequence[Row]) -> Basket:
        ticked = frozenset(form.get("tick", ()))
        amounts = {r.key: _one(form, f"amount-{r.key}").strip()[:32] for r in rows}
        errors: dict[str, str] = {}
        lines = []
        for r in rows:
            if r.key not in ticked:
                continue
            try:
                lines.append((r, parse_rub(amounts[r.key])))
            except AmountError as exc:
                errors[r.key] = str(exc)
        email = _one(form, "email").strip()[:254]
        if _one(form, "receipt") and not email:
            errors["email"] = "Укажите адрес почты, например name@example.ru"
        elif email:
            try:
                self.clients.check_receipt_email(email)
            except uc.UseCaseError:
                errors["email"] = "Проверьте адрес почты, например name@example.ru"
        shown = frozenset(form.get("accepted", ()))
        autopay = bool(_one(form, "autopay")) and self.clients.autopay_available
        rule_text = _one(form, "autopay_rule")
        rule = ConsentRule.DAY_OF_MONTH if rule_text == "day_of_month" else ConsentRule.ON_REGISTRY
        day_text = _one(form, "autopay_day").strip()[:4]
        limit_text = _one(form, "autopay_limit").strip()[:32]
        terms = None
        if self.clients.autopay_available:
            # read unticked too: the page shows the consent text the terms make before the
            # client ticks the box; their faults count only when it is ticked
            faults: dict[str, str] = {}
            terms = self.read_terms(rule, day_text, limit_text, faults)
            if autopay:
                errors.update(faults)
        return Basket(
            ticked,
            shown,
            amounts,
            tuple(lines),
            errors,
            email,
            autopay,
            rule.value,
            day_text,
            limit_text,
            terms,
            _one(form, "consent_digest")[:64],
        )

    def read_terms(
        self, rule: ConsentRule, day_text: str, limit_text: str, errors: dict[str, str]
    ) -> uc.AutopayTerms | None:
        """The autopay terms of the form (its account blank: the page's), or None with
        the faults in ``errors`` beside their fields."""
        day: int | None = None
        if rule is ConsentRule.DAY_OF_MONTH:
            if day_text.isdigit() and 1 <= int(day_text) <= 28:
                day = int(day_text)
            else:
                errors["autopay_day"] = "Выберите число месяца от 1 до 28"
        limit: Decimal | None = None
        largest = self.clients.config.http.max_basket_amount
        if not limit_text:
            errors["autopay_limit"] = "Укажите лимит списаний в месяц, например 5000"
        else:
            try:
                limit = parse_rub(limit_text)
            except AmountError as exc:
                errors["autopay_limit"] = str(exc)
            else:
                if limit > largest:
                    errors["autopay_limit"] = f"Лимит — не больше {rub(largest)} в месяц"
                    limit = None
        if limit is None or "autopay_day" in errors:
            return None
        return uc.AutopayTerms(rule, limit, day)

    def accept_ticked(self, session: ActiveSession, rows: Rows, basket: Basket) -> bool:
        """Ticking a service found at the address records the client's acceptance of it;
        unticking one so accepted (the page showed it ticked) withdraws it for the future,
        the store keeping it as history (a tick is a record of consent, and taking it back
        is one too). A linked account's services are ticked by the link: unticking one
        only leaves it out of this payment. Whether any tick changed (then the page's rows
        are read again)."""
        changed = False
        for r in rows.found:
            if r.key in basket.ticked:
                s = r.service
                self.clients.accept(session.client, s.partner_inn, s.account, s.service)
                changed = True
        for r in rows.ticked:
            if r.withdrawable and r.key in basket.shown_accepted and r.key not in basket.ticked:
                s = r.service
                changed |= self.clients.withdraw(
                    session.client, s.partner_inn, s.account, s.service
                )
        return changed

    def price(
        self, session: ActiveSession, basket: Basket, view: uc.BasketView | None = None
    ) -> tuple[dict[str, PaymentLine], str]:
        """The ticked lines priced by the use case (fees by the partners' plans), by row
        key; and the refusal, in Russian, when the basket is refused."""
        if not basket.lines:
            return {}, ""
        wanted = [
            uc.BasketLine(r.service.partner_inn, r.service.account, value, r.service.service)
            for r, value in basket.lines
        ]
        try:
            priced = self.clients.price(session.client, wanted, view)
        except uc.UseCaseError as exc:
            return {}, _refusal(exc)
        return {r.key: p for (r, _), p in zip(basket.lines, priced, strict=True)}, ""

    def pay_view(
        self,
        request: Request,
        session: ActiveSession,
        token: str,
        inn: str,
        account: str,
        form: Mapping[str, list[str]] | None,
        rows: Rows | None = None,
        qr: str = "",
    ) -> dict[str, Any]:
        """The payment page's context; ``rows`` when just read (and nothing accepted since);
        ``qr`` the token of an unlinked account a bill's QR code named (:meth:`qr_allows`)."""
        ticked_rows, found_rows, read = rows or self.rows(session, inn, account, bool(qr))
        if form is None:  # first look: every ticked service, for what is due on it
            defaults: dict[str, list[str]] = {
                "tick": [r.key for r in ticked_rows if r.service.due > 0],
            }
            for r in (*ticked_rows, *found_rows):
                due = r.service.due
                defaults[f"amount-{r.key}"] = [rub_input(due) if due > 0 else ""]
            own_due = sum(
                (
                    r.service.due
                    for r in (*ticked_rows, *found_rows)
                    if (r.service.partner_inn, r.service.account) == (inn, account)
                    and r.service.due > 0
                ),
                ZERO,
            )
            defaults["autopay_limit"] = [rub_input(_suggested_limit(own_due))]
            defaults["autopay_day"] = ["10"]
            form = defaults
        basket = self.read_basket(form, (*ticked_rows, *found_rows))
        # The good lines are priced even beside a bad one: the total shows what they make.
        priced, refusal = self.price(session, basket, read)
        partner = read.partners.get(inn)
        fee = sum((p.client_fee for p in priced.values()), ZERO)
        total = sum((p.amount + p.client_fee for p in priced.values()), ZERO)
        mine = [
            r
            for r in (*ticked_rows, *found_rows)
            if (r.service.partner_inn, r.service.account) == (inn, account)
        ]
        due = sum((r.service.due for r in mine), ZERO)
        own_found = [r for r in found_rows if r in mine]
        premises = mine[0].service.premises if mine else ""
        # The address as text only when the operator loaded the house directory.
        address = read.address
        if qr:  # a QR code's text is easily made up: its account's place is not told
            address, premises = None, ""

        def view(r: Row) -> dict[str, Any]:
            s = r.service
            return {
                "key": r.key,
                "service": s.service or "Услуга",
                "partner": r.partner_name,
                "account": s.account,
                "due": s.due,
                "ticked": r.key in basket.ticked,
                "withdrawable": r.withdrawable and r.key in basket.ticked,
                "amount": basket.amounts.get(r.key, ""),
                "fee": _fee_text(priced.get(r.key)),
                "error": basket.errors.get(r.key, ""),
            }

        autopay = self.autopay_view(session, inn, account, basket)
        if qr:  # autopay is for an account proved the client's: linked, not only read
            autopay["autopay_offer"] = False
        return {
            "inn": inn,
            "account": account,
            "partner": partner.name if partner else inn,
            "due": due,
            **autopay,
            "address": address or "",
            "premises": premises,
            # a QR code's account's services are the page's own, ticked or not yet
            "ticked_rows": [view(r) for r in (*ticked_rows, *own_found)],
            "found_rows": [view(r) for r in found_rows if r not in own_found],
            "total": total,
            "fee": fee,
            "email": basket.email,
            "receipt": bool(form.get("receipt")),
            "email_error": basket.errors.get("email", ""),
            "refusal": refusal,
            "key": secrets.token_urlsafe(18),
            "acq": self.origins.count,
            "csrf": self.session_csrf(token),
            "basket": basket,
            "priced": priced,
            "qr": qr,
            "qr_notice": "",
        }

    def autopay_view(
        self, session: ActiveSession, inn: str, account: str, basket: Basket
    ) -> dict[str, Any]:
        """The payment page's autopay: its state on the account, and the choice to connect
        it (when the gateway can) with the consent text the terms make."""
        consents = [
            c
            for c in self.clients.autopay_of(session.client)
            if c.active and (c.partner_inn, c.account) == (inn, account)
        ]
        state = None
        if consents:
            c = consents[-1]
            last = next(
                (
                    ch
                    for ch in self.clients.autopay_charges(session.client)
                    if ch.consent_id == c.consent_id
                ),
                None,
            )
            state = {
                "text": _consent_summary(c),
                "last": _charge_view(last) if last is not None else None,
            }
        offer = self.clients.autopay_available and state is None
        text = ""
        if offer and basket.terms is not None:
            text = self.terms_text(inn, account, basket.terms)
        return {
            "autopay_state": state,
            "autopay_offer": offer,
            "autopay": basket.autopay,
            "autopay_rule": basket.autopay_rule,
            "autopay_day": basket.autopay_day,
            "autopay_days": _AUTOPAY_DAYS,
            "autopay_limit": basket.autopay_limit,
            "autopay_limit_error": basket.errors.get("autopay_limit", ""),
            "autopay_day_error": basket.errors.get("autopay_day", ""),
            "consent_text": text,
            "consent_digest": _text_digest(text) if text else "",
        }

    def terms_text(self, inn: str, account: str, terms: uc.AutopayTerms) -> str:
        return self.clients.consent_text(inn, account, terms.rule, terms.day, terms.limit)

    def qr_allows(self, request: Request, token: str, inn: str, account: str) -> str:
        """The ``qr`` token of the page's address when it is the session's for the account
        (:func:`~.security.qr_token`), else ``""``."""
        given = request.query_params.get("qr", "")[:128]
        if given and sec.csrf_matches(given, sec.qr_token(self.secret, token, inn, account)):
            return given
        return ""

    async def pay_page(self, request: Request) -> Response:
        inn, account = request.path_params["inn"], request.path_params["account"]
        post = request.method == "POST"
        if not post:
            # One hop to the thread pool for the whole page: the session's check, the
            # reads and the render (which would otherwise hold the event loop while every
            # other connection waits). Each hop is a hand-over between threads.
            return await self.run(self.pay_get, request, inn, account)
        found = await self.signed_in(request, post=post)
        if isinstance(found, Response):
            return found
        session, token, form = found
        qr = self.qr_allows(request, token, inn, account)
        if post and _one(form, "action") == "pay":
            return await self.pay(request, session, token, inn, account, form, qr)
        # One hop to the thread pool: the reads, and the render too, which would otherwise
        # hold the event loop while every other connection waits.
        return await self.run(
            self.pay_answer, request, session, token, inn, account, form, post, qr
        )

    def pay_get(self, request: Request, inn: str, account: str) -> Response:
        """The payment page as first shown (:meth:`pay_answer`), the session checked here."""
        token = request.cookies.get(sec.SESSION_COOKIE, "")
        session = self.cabinets.sessions.active(token) if token else None
        if session is None:
            return self.to_login(request)
        qr = self.qr_allows(request, token, inn, account)
        return self.pay_answer(request, session, token, inn, account, {}, False, qr)

    def pay_answer(
        self,
        request: Request,
        session: ActiveSession,
        token: str,
        inn: str,
        account: str,
        form: Mapping[str, list[str]],
        post: bool,
        qr: str = "",
    ) -> Response:
        rows = None
        if post:
            rows = self.ticked_from(session, inn, account, form, qr)
        view = self.pay_view(
            request, session, token, inn, account, form if post else None, rows, qr
        )
        status = 422 if post and (view["basket"].errors or view["refusal"]) else 200
        return self.render_pay(request, session, view, status)

    def ticked_from(
        self,
        session: ActiveSession,
        inn: str,
        account: str,
        form: Mapping[str, list[str]],
        qr: str = "",
    ) -> Rows | None:
        """Record the acceptances the form ticks; the rows read, unless that changed them."""
        rows = self.rows(session, inn, account, bool(qr))
        basket = self.read_basket(form, rows.found)
        return None if self.accept_ticked(session, rows, basket) else rows

    def render_pay(
        self, request: Request, session: ActiveSession, view: dict[str, Any], status: int
    ) -> Response:
        response = self.render(
            request,
            "pay.html",
            status,
            session=session,
            active="pay",
            pay_url=_pay_url(request, view["inn"], view["account"]),
            pay_query=f"?{urllib.parse.urlencode({'qr': view['qr']})}" if view["qr"] else "",
            **view,
        )
        return response

    async def pay(
        self,
        request: Request,
        session: ActiveSession,
        token: str,
        inn: str,
        account: str,
        form: Mapping[str, list[str]],
        qr: str = "",
    ) -> Response:
        read = await self.run(self.rows, session, inn, account, bool(qr))
        basket = await self.run(self.read_basket, form, (*read.ticked, *read.found))
        # Rows read before an acceptance are stale: the view reads them again.
        rows = None if await self.run(self.accept_ticked, session, read, basket) else read
        key = _one(form, "key")[:128]
        refusal = ""
        if not basket.lines and not basket.errors:
            refusal = "Отметьте хотя бы одну услугу и укажите сумму."
        if basket.errors or refusal or not key:
            view = await self.run(
                self.pay_view, request, session, token, inn, account, form, rows, qr
            )
            view["refusal"] = view["refusal"] or refusal or _STALE
            return self.render_pay(request, session, view, 422)
        owner = session.client
        order_id = uc.order_id_of(owner, key)
        # The way back names the payment and carries its token: the session may time out
        # while the client is at the acquirer, and the result page must still show them
        # the payment's state.
        back = urllib.parse.urlencode({"r": sec.return_token(self.secret, order_id)})
        return_url = str(
            request.url.replace(path=f"{_base(request)}/payments/{order_id}", query=back)
        )
        lines = [
            uc.BasketLine(r.service.partner_inn, r.service.account, value, r.service.service)
            for r, value in basket.lines
        ]
        terms = None
        # the consent is to the page's account, and only to a linked one (not a QR code's)
        if basket.autopay and basket.terms is not None and not qr:
            terms = attrs.evolve(basket.terms, partner_inn=inn, account=account)
            # The client agrees to the text the page showed: terms changed since (typed
            # without a recount, or while the script was asking) show the new text first.
            text = await self.run(self.terms_text, inn, account, terms)
            if basket.consent_digest != _text_digest(text):
                view = await self.run(
                    self.pay_view, request, session, token, inn, account, form, rows, qr
                )
                view["refusal"] = (
                    "Условия автоплатежа изменились. Прочитайте текст согласия ниже"
                    " и нажмите «Оплатить» ещё раз."
                )
                return self.render_pay(request, session, view, 422)
        try:
            entry = await self.run(
                self.clients.pay,
                session.client,
                lines,
                owner=owner,
                key=key,
                return_url=return_url,
                description=_DESCRIPTION,
                # the 54-ФЗ receipt's contact (tag 1008): the acquirer e-mails the receipt
                receipt_email=basket.email or None,
                autopay=terms,
            )
        except uc.UseCaseError as exc:
            view = await self.run(
                self.pay_view, request, session, token, inn, account, form, None, qr
            )
            view["refusal"] = _refusal(exc)
            return self.render_pay(request, session, view, 422)
        confirmation = entry.confirmation
        if (
            confirmation is None
            or confirmation.kind is not ConfirmationKind.REDIRECT
            or not confirmation.url
        ):
            return RedirectResponse(f"{_base(request)}/payments/{order_id}", status_code=303)
        target = confirmation.url
        origin = sec.origin_of(target)
        if origin is None:
            return RedirectResponse(f"{_base(request)}/payments/{order_id}", status_code=303)
        try:
            allowed = int(_one(form, "acq") or "0")
        except ValueError:
            allowed = 0
        if self.origins.allowed_by(origin, allowed):
            return RedirectResponse(target, status_code=303)
        # The form's policy did not name this acquirer: the browser would block a redirect
        # there, so a page of ours sends the client on (and later pages name it).
        self.origins.learn(origin)
        event(log, "cabinet.acquirer-origin-learnt", origin=origin)
        return self.render(
            request, "go.html", session=session, csrf=self.session_csrf(token), target=target
        )

    async def quote(self, request: Request) -> Response:
        """The totals of the payment form as it stands (the script asks on each change):
        the same reading, acceptance and pricing as sending the form."""
        inn, account = request.path_params["inn"], request.path_params["account"]
        found = await self.signed_in(request, post=True)
        if isinstance(found, Response):
            return JSONResponse({"error": "session"}, status_code=403)
        session, token, form = found
        qr = self.qr_allows(request, token, inn, account)
        read = await self.run(self.ticked_from, session, inn, account, form, qr)
        view = await self.run(self.pay_view, request, session, token, inn, account, form, read, qr)
        rows = [*view["ticked_rows"], *view["found_rows"]]
        return JSONResponse(
            {
                "lines": {r["key"]: {"fee": r["fee"], "error": r["error"]} for r in rows},
                "total": rub(view["total"]),
                "fee": rub(view["fee"]),
                "refusal": view["refusal"],
                "autopay": {
                    "text": view["consent_text"],
                    "limit_error": view["autopay_limit_error"],
                    "day_error": view["autopay_day_error"],
                    "digest": view["consent_digest"],
                },
            },
            headers={"Cache-Control": "no-store"},
        )

    # -- Оплатить по QR: paying from a paper bill ---------------------------------------------

    async def qr(self, request: Request) -> Response:
        """«Оплатить по QR»: a photo of a bill's QR code (or its text) read, its service
        shown on the payment page (:meth:`qr_pay`); what cannot be paid is said plainly."""
        if request.method == "GET":
            got = await self.signed_in(request)
            if isinstance(got, Response):
                return got
            session, token, _form = got
            return self.render_qr(request, session, token)
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        files: dict[str, bytes] = {}
        if kind == "multipart/form-data":
            with_files = await self.signed_in_with_files(request)
            if isinstance(with_files, Response):
                return with_files
            session, token, form, files = with_files
        else:
            found = await self.signed_in(request, post=True)
            if isinstance(found, Response):
                return found
            session, token, form = found
        text = _one(form, "text").strip()
        photo = files.get("photo")
        asker = cabinet_asker(session.cabinet_id)  # its API calls share the count
        try:
            if photo is not None:
                uc.photo_type(photo)  # a JPEG or PNG, by its bytes, not by its name
                await self.run(self.qr_limits.take, asker)  # before the photo is decoded
                bill = await self.run(self.clients.read_qr_image, photo)
            elif text:
                await self.run(self.qr_limits.take, asker)
                bill = await self.run(self.clients.resolve_qr, text)
            else:
                error = "Загрузите фото QR-кода с квитанции или вставьте текст QR-кода."
                return self.render_qr(request, session, token, 422, error=error, text=text)
        except uc.UseCaseError as exc:
            page = self.render_qr(
                request, session, token, _qr_status(exc), error=_qr_error(exc), text=text[:4096]
            )
            if isinstance(exc, TooManyRequests):
                page.headers["Retry-After"] = str(exc.retry_after_seconds)
            return page
        return await self.run(self.qr_pay, request, session, token, bill)

    @functools.cached_property
    def qr_limits(self) -> QrLimiter:
        """The QR limits (:mod:`pes_sdk_runner.qr_limits`), on the cabinets' store and clock:
        the same counts as the API's, in every process on the store."""
        login = self.cabinets.login
        return QrLimiter(self.cabinets.store, self.clients.config.http, clock=login.clock)

    def render_qr(
        self,
        request: Request,
        session: ActiveSession,
        token: str,
        status: int = 200,
        *,
        error: str = "",
        text: str = "",
    ) -> Response:
        return self.render(
            request,
            "qr.html",
            status,
            session=session,
            csrf=self.session_csrf(token),
            active="qr",
            error=error,
            text=text,
        )

    def qr_pay(
        self, request: Request, session: ActiveSession, token: str, bill: uc.QrBill
    ) -> Response:
        """The payment page of the bill's account: its services with the bill's amounts.
        A linked account's are ticked as always; an unlinked one's wait for the client's
        tick, which accepts them, and the page offers to link the account."""
        inn, account = bill.partner.inn, bill.account
        linked = (inn, account) in self.linked(session.cabinet_id)
        qr = "" if linked else sec.qr_token(self.secret, token, inn, account)
        rows = self.rows(session, inn, account, not linked)
        offered = {
            (s.partner_inn, s.account, s.service): a
            for s, a in zip(bill.services, bill.amounts, strict=True)
        }
        form: dict[str, list[str]] = {"tick": []}
        for r in (*rows.ticked, *rows.found):
            s = r.service
            amount = offered.get((s.partner_inn, s.account, s.service))
            if amount is None:  # another service at the address: as the page offers it
                form[f"amount-{r.key}"] = [rub_input(s.due) if s.due > 0 else ""]
                continue
            form[f"amount-{r.key}"] = [rub_input(amount) if amount > 0 else ""]
            if amount > 0 and r in rows.ticked:
                form["tick"].append(r.key)
        form["autopay_limit"] = [rub_input(_suggested_limit(bill.total))]
        form["autopay_day"] = ["10"]
        view = self.pay_view(request, session, token, inn, account, form, rows, qr)
        notice = f"Квитанция {bill.partner.name}, лицевой счёт {account}"
        # rub() ends with "руб.", whose point ends the sentence
        view["qr_notice"] = (
            f"{notice}: к оплате по QR-коду {rub(bill.amount)}"
            if bill.amount is not None
            else f"{notice}."
        )
        return self.render_pay(request, session, view, 200)

    # -- a payment's result -------------------------------------------------------------------

    async def payment(self, request: Request) -> Response:
        """A payment's result page: the cabinet's own payment for its session; for the
        client coming back from the acquirer, whose session may have ended meanwhile, the
        payment its return address names (:func:`~.security.return_token`), without the
        menu and the accounts' numbers."""
        try:
            order_id = uuid.UUID(request.path_params["order_id"])
        except ValueError:
            raise HTTPException(404, "Такого платежа нет среди ваших") from None
        found = await self.session(request)
        link = request.query_params.get("r", "")
        if found is not None:
            session, token = found
            try:
                entry = await self.run(self.clients.payment, order_id, session.client)
            except uc.NotFound:
                entry = None
            if entry is not None:
                return self.render_payment(request, entry, session, token)
        returned = await self.run(self.returned, order_id, link) if link else None
        if returned is not None:
            return self.render_payment(request, returned, None, "")
        if found is None:
            return self.to_login(request)
        raise HTTPException(404, "Такого платежа нет среди ваших")

    def returned(self, order_id: uuid.UUID, link: str) -> PaymentEntry | None:
        """The cabinet's payment a return address names, while it is good: its token
        matches and the payment is at most :data:`RETURN_LINK_TTL` old."""
        if not sec.csrf_matches(link, sec.return_token(self.secret, order_id)):
            return None
        owner = self.clients.owner_of(order_id)
        if owner is None or not owner.startswith("cabinet:"):
            return None
        try:
            entry = self.clients.payment(order_id, owner)
        except uc.NotFound:
            return None
        if self.cabinets.sessions.clock() >= entry.payment.created_at + RETURN_LINK_TTL:
            return None
        return entry

    def render_payment(
        self, request: Request, entry: PaymentEntry, session: ActiveSession | None, token: str
    ) -> Response:
        partners = self.clients.partners()
        lines = [
            {
                "service": ln.service or "Услуга",
                "partner": partners[ln.partner_inn].name
                if ln.partner_inn in partners
                else ln.partner_inn,
                # by the return address alone, the account's number is not told
                "account": ln.account if session is not None else "",
                "amount": ln.amount,
                "fee": ln.client_fee,
            }
            for ln in entry.payment.lines
        ]
        state = entry.state
        return self.render(
            request,
            "payment.html",
            session=session,
            csrf=self.session_csrf(token) if token else "",
            active="pay",
            order_id=str(entry.order_id),
            state=state.value,
            state_text=_STATES.get(state, state.value),
            paid=state.is_paid,
            final=state.is_final,
            lines=lines,
            total=entry.payment.total,
            fee=sum((ln.client_fee for ln in entry.payment.lines), ZERO),
        )

    # -- Начисления и платежи -----------------------------------------------------------------

    def charges_view(self, session: ActiveSession) -> list[dict[str, Any]]:
        """Per linked account: what each registry period charged, and the cabinet's own
        payments with their lines on it."""
        partners = self.clients.partners()
        payments = self.clients.payments_of(session.client)

        def name(inn: str) -> str:
            partner = partners.get(inn)
            return partner.name if partner else inn

        out = []
        for inn, account in self.linked(session.cabinet_id):
            charges = [
                {
                    "period": c.period or c.registry_period,
                    "service": c.service or "Услуга",
                    "partner": name(c.partner_inn),
                    "amount": c.debt,
                }
                for c in self.clients.charges(inn, account)
            ]
            paid = []
            for entry in payments:
                lines = [
                    ln
                    for ln in entry.payment.lines
                    if (ln.partner_inn, ln.account) == (inn, account)
                ]
                if not lines:
                    continue
                paid.append(
                    {
                        "order_id": str(entry.order_id),
                        "at": entry.payment.created_at,
                        "state": entry.state.value,
                        "state_text": _STATES.get(entry.state, entry.state.value),
                        "lines": [
                            {
                                "service": ln.service or "Услуга",
                                "partner": name(ln.partner_inn),
                                "amount": ln.amount,
                                "fee": ln.client_fee,
                            }
                            for ln in lines
                        ],
                        "total": sum((ln.amount for ln in lines), ZERO),
                    }
                )
            out.append(
                {
                    "inn": inn,
                    "account": account,
                    "partner": name(inn),
                    "charges": charges,
                    "payments": paid,
                }
            )
        return out

    async def charges(self, request: Request) -> Response:
        return await self.listing(request, "charges", self.charges_view, "accounts")

    # -- Показания ---------------------------------------------------------------------------

    def readings_view(self, session: ActiveSession, inn: str, account: str) -> dict[str, Any]:
        history = self.clients.readings(session.client, inn, account)
        meters: dict[tuple[str, int, str], StoredReading] = {}
        for r in history:  # newest first: the first of each meter is its latest
            if not r.superseded:
                key = (r.reading.meter_number, int(r.reading.meter_type), r.reading.service)
                meters.setdefault(key, r)
        return {
            "meters": [
                {
                    "key": _meter_key(*key),
                    "number": key[0],
                    "type": _METER_TYPES.get(MeterType(key[1]), str(key[1])),
                    "shown": [_value_text(v) for v in r.reading.values],
                    "taken_on": r.reading.taken_on,
                }
                for key, r in meters.items()
            ],
            "history": [
                {
                    "taken_on": r.reading.taken_on,
                    "number": r.reading.meter_number,
                    "type": _METER_TYPES.get(r.reading.meter_type, str(r.reading.meter_type)),
                    "shown": [_value_text(v) for v in r.reading.values],
                    "received": r.received_at,
                    "photo": r.reading.photo is not None,
                    "note": "исправлено"
                    if r.superseded
                    else (_DECREASES[r.decrease] if r.decrease else ""),
                }
                for r in history
            ],
            "meter_keys": {_meter_key(*key): key for key in meters},
        }

    def chosen(
        self, request: Request, linked: Sequence[tuple[str, str]], value: str
    ) -> tuple[str, str]:
        """The account a page names (``<ИНН>:<account>``), else the current one."""
        inn, _, account = value.partition(":")
        if (inn, account) in linked:
            return inn, account
        return self.current(request, linked)

    async def readings(self, request: Request) -> Response:
        found = await self.with_accounts(request)
        if isinstance(found, Response):
            return found
        session, token, linked = found
        inn, account = self.chosen(request, linked, request.query_params.get("account", ""))
        notice = "Показания приняты." if "sent" in request.query_params else ""
        return await self.readings_page(request, session, token, linked, inn, account, notice)

    async def readings_page(
        self,
        request: Request,
        session: ActiveSession,
        token: str,
        linked: Sequence[tuple[str, str]],
        inn: str,
        account: str,
        notice: str = "",
        status: int = 200,
        errors: Mapping[str, str] | None = None,
        values: Mapping[str, str] | None = None,
    ) -> Response:
        view = await self.run(self.readings_view, session, inn, account)
        partners = self.clients.partners()
        today = dt.datetime.now(dt.UTC).date()
        chosen_meter = (values or {}).get("meter") or next(
            (m["key"] for m in view["meters"]), "new"
        )
        return self.render(
            request,
            "readings.html",
            status,
            session=session,
            csrf=self.session_csrf(token),
            active="readings",
            accounts=[
                {
                    "value": f"{i}:{a}",
                    "text": f"{a}, {partners[i].name if i in partners else i}",
                    "chosen": (i, a) == (inn, account),
                }
                for i, a in linked
            ],
            account_value=f"{inn}:{account}",
            account=account,
            partner=partners[inn].name if inn in partners else inn,
            notice=notice,
            errors=errors or {},
            values={"taken_on": today.isoformat(), **(values or {}), "meter": chosen_meter},
            types=[(int(t), text) for t, text in _METER_TYPES.items()],
            decreases=list(_DECREASES.items()),
            earliest=(today - dt.timedelta(days=uc.MAX_READING_AGE_DAYS)).isoformat(),
            latest=(today + dt.timedelta(days=1)).isoformat(),
            max_photo_mb=uc.MAX_PHOTO_BYTES // (1024 * 1024),
            **{k: v for k, v in view.items() if k != "meter_keys"},
        )

    async def send_reading(self, request: Request) -> Response:
        found = await self.signed_in_with_files(request)
        if isinstance(found, Response):
            return found
        session, token, form, files = found
        linked = await self.run(self.linked, session.cabinet_id)
        inn, _, account = _one(form, "account").partition(":")
        if (inn, account) not in linked:
            raise HTTPException(404, "Такого лицевого счёта нет среди ваших")
        names = ("meter", "number", "type", "taken_on", "value1", "value2", "value3", "decrease")
        values = {k: _one(form, k).strip()[:64] for k in names}
        errors: dict[str, str] = {}
        view = await self.run(self.readings_view, session, inn, account)
        meter = view["meter_keys"].get(values["meter"])
        if meter is not None:
            number, kind, service = meter[0], MeterType(meter[1]), meter[2]
        else:
            number, service = values["number"], ""
            kind = None
            if not number:
                errors["number"] = "Укажите номер счётчика, как на его корпусе."
            try:
                kind = MeterType(int(values["type"]))
            except ValueError:
                errors["type"] = "Выберите, что измеряет счётчик."
        readings: list[Decimal] = []
        for i in (1, 2, 3):
            text = values[f"value{i}"].replace(" ", "")
            if not text:
                if i == 1:
                    errors["value1"] = "Введите показание, например 123,456."
                continue
            if not _VALUE.fullmatch(text):
                errors[f"value{i}"] = "Введите показание цифрами, например 123,456."
                continue
            readings.append(Decimal(text.replace(",", ".")))
        if values["value3"] and not values["value2"]:
            errors["value2"] = "Заполните тарифы по порядку: Т1, затем Т2, затем Т3."
        try:
            taken_on = dt.date.fromisoformat(values["taken_on"])
        except ValueError:
            errors["taken_on"] = "Укажите дату снятия показаний, например 25.11.2026."
            taken_on = None
        decrease = None
        if values["decrease"]:
            try:
                decrease = DecreaseReason(values["decrease"])
            except ValueError:
                errors["decrease"] = "Выберите причину из списка."
        photo = files.get("photo")
        if photo is not None:
            try:
                uc.photo_type(photo)
            except uc.UseCaseError as exc:
                errors["photo"] = _photo_error(exc)
        if not errors and kind is not None and taken_on is not None:
            try:
                reading = MeterReading(account, number, kind, tuple(readings), taken_on)
                reading = attrs.evolve(reading, service=service)
                await self.run(
                    self.clients.record_reading,
                    session.client,
                    inn,
                    reading,
                    photo=photo,
                    decrease=decrease,
                )
            except uc.UseCaseError as exc:
                field, text = _reading_error(exc)
                errors[field] = text
            except (ValueError, TypeError):
                errors["value1"] = "Показание не принято: проверьте значения."
        if errors:
            return await self.readings_page(
                request, session, token, linked, inn, account, "", 422, errors, values
            )
        query = urllib.parse.urlencode({"account": f"{inn}:{account}", "sent": "1"})
        return RedirectResponse(f"{_base(request)}/readings?{query}", status_code=303)

    # -- Архив квитанций -----------------------------------------------------------------------

    def receipts_view(self, session: ActiveSession) -> list[dict[str, Any]]:
        # The runner keeps no receipt data yet: each paid payment's receipt is shown as the
        # kit builds it for the acquirer (Receipt.for_payment, from the configuration; see
        # ClientUseCases.receipts_of). The client's e-mail is never stored, so it is not
        # shown. The page's monthly bills are bills_view's.
        out = []
        fiscal = self.clients.fiscal_receipts_of(session.client)
        for entry, receipt in self.clients.receipts_of(session.client):
            positions: list[dict[str, Any]] = [
                {
                    "name": p.name,
                    "supplier": p.supplier.name if p.supplier else "",
                    "inn": p.supplier.inn if p.supplier else "",
                    "amount": p.amount * p.quantity,
                    "agent": p.supplier is not None,
                    "vat": _vat_text(p.vat.value),
                }
                for p in receipt.positions
            ]
            out.append(
                {
                    "order_id": str(entry.order_id),
                    "at": entry.paid_at or entry.payment.created_at,
                    "positions": positions,
                    "fee": sum(
                        (p.amount * p.quantity for p in receipt.positions if p.supplier is None),
                        ZERO,
                    ),
                    "total": receipt.total,
                    "state_text": _STATES.get(entry.state, entry.state.value),
                    "fiscal": _fiscal_view(fiscal.get(entry.order_id)),
                }
            )
        return out

    def bills_view(self, session: ActiveSession) -> list[dict[str, Any]]:
        """Each linked account with its monthly bills (квитанции), newest period first: a
        bill made links to its download, the current period's not made yet says so."""
        linked = self.linked(session.cabinet_id)
        partners = self.clients.partners()
        bills = self.clients.bills_of(linked)
        out = []
        for inn, account in linked:
            partner = partners.get(inn)
            out.append(
                {
                    "account": account,
                    "partner": partner.name if partner is not None else inn,
                    "bills": [
                        {
                            "period": b.period,
                            "ready": b.ready,
                            "path": _bill_path(inn, account, b.period),
                        }
                        for b in bills
                        if (b.partner_inn, b.account) == (inn, account)
                    ],
                }
            )
        return out

    def archive_view(self, session: ActiveSession) -> dict[str, Any]:
        return {"bills": self.bills_view(session), "receipts": self.receipts_view(session)}

    async def receipts(self, request: Request) -> Response:
        found = await self.signed_in(request)
        if isinstance(found, Response):
            return found
        session, token, _form = found
        view = await self.run(self.archive_view, session)
        return self.render(
            request,
            "receipts.html",
            session=session,
            csrf=self.session_csrf(token),
            active="receipts",
            **view,
        )

    def bill_file(
        self, session: ActiveSession, inn: str, account: str, period: str
    ) -> tuple[uc.BillEntry, Path]:
        # Only the cabinet's linked accounts: a bill names the account's debts and its
        # premises, which a service merely ticked at an address does not prove the client's.
        return self.clients.bill_file(self.linked(session.cabinet_id), inn, account, period)

    async def bill(self, request: Request) -> Response:
        """A bill's PDF (:func:`~.download.pdf_download`), for a linked account only:
        anything else is 404, as an account that does not exist."""
        found = await self.signed_in(request)
        if isinstance(found, Response):
            return found
        session, _token, _form = found
        params = request.path_params
        try:
            entry, path = await self.run(
                self.bill_file, session, params["inn"], params["account"], params["period"]
            )
            return await pdf_download(entry, path)
        except uc.NotFound:
            raise HTTPException(404, "Квитанция не найдена.") from None

    # -- Автоплатёж ----------------------------------------------------------------------------

    def autopay_page_view(self, session: ActiveSession) -> dict[str, Any]:
        """The client's consents (each with its versions, the text as agreed) and the
        history of its autopay charges."""
        partners = self.clients.partners()

        def name(inn: str) -> str:
            partner = partners.get(inn)
            return partner.name if partner else inn

        consents = []
        mine = self.clients.autopay_of(session.client)
        for c in reversed(mine):  # the latest changed first
            versions = self.clients.autopay_history(session.client, c.consent_id)
            consents.append(
                {
                    "id": str(c.consent_id),
                    "partner": name(c.partner_inn),
                    "account": c.account,
                    "card": _card_text(c),
                    "rule": _rule_text(c),
                    "limit": c.monthly_limit,
                    "since": versions[0].agreed_at,
                    "active": c.active,
                    "ended": None if c.active else c.agreed_at,
                    "versions": [
                        {
                            "version": v.version,
                            "at": v.agreed_at,
                            "text": v.text,
                            "text_version": v.text_version,
                            "cancelled": not v.active,
                        }
                        for v in versions
                    ],
                }
            )
        charges = []
        for ch in self.clients.autopay_charges(session.client):
            row = _charge_view(ch)
            row["partner"] = name(ch.partner_inn)
            row["account"] = ch.account
            charges.append(row)
        return {"consents": consents, "charges": charges}

    async def autopay(self, request: Request) -> Response:
        found = await self.signed_in(request)
        if isinstance(found, Response):
            return found
        session, token, _form = found
        view = await self.run(self.autopay_page_view, session)
        q = request.query_params
        off = q.get("off", "")
        notice = ""
        if off and any(c["id"] == off and not c["active"] for c in view["consents"]):
            c = next(c for c in view["consents"] if c["id"] == off)
            account = c["account"]
            notice = f"Автоплатёж по лицевому счёту {account} отключён. Новых списаний не будет."
            if q.get("busy") == "1":
                notice += (
                    " Одно списание банк начал до отключения: его результат появится"
                    " в истории ниже, отменить его уже нельзя."
                )
            elif q.get("stopped") == "1":
                notice += " Списание, о котором мы уведомили, отменено."
        return self.render(
            request,
            "autopay.html",
            session=session,
            csrf=self.session_csrf(token),
            active="autopay",
            notice=notice,
            **view,
        )

    async def cancel_autopay(self, request: Request) -> Response:
        """The "Отключить" button: a confirmation page first, then (with ``confirm``) the
        cancellation, which takes effect at once."""
        found = await self.signed_in(request, post=True)
        if isinstance(found, Response):
            return found
        session, token, form = found
        try:
            consent_id = uuid.UUID(_one(form, "consent")[:64])
        except ValueError:
            raise HTTPException(404, "Такого автоплатежа нет среди ваших") from None
        if _one(form, "confirm") != "yes":
            view = await self.run(self.autopay_page_view, session)
            chosen = next((c for c in view["consents"] if c["id"] == str(consent_id)), None)
            if chosen is None:
                raise HTTPException(404, "Такого автоплатежа нет среди ваших")
            return self.render(
                request,
                "autopay_cancel.html",
                session=session,
                csrf=self.session_csrf(token),
                active="autopay",
                consent=chosen,
            )
        try:
            done = await self.run(self.clients.cancel_autopay, session.client, consent_id)
        except uc.NotFound:
            raise HTTPException(404, "Такого автоплатежа нет среди ваших") from None
        query = {"off": str(consent_id)}
        if done.in_progress:
            query["busy"] = "1"
        elif done.stopped:
            query["stopped"] = "1"
        target = f"{_base(request)}/autopay?{urllib.parse.urlencode(query)}"
        return RedirectResponse(target, status_code=303)

    # -- Удалить кабинет -----------------------------------------------------------------------

    async def delete(self, request: Request) -> Response:
        """The confirmation page (GET) and the deletion (POST, with ``confirm``)."""
        post = request.method == "POST"
        found = await self.signed_in(request, post=post)
        if isinstance(found, Response):
            return found
        session, token, form = found
        if not post or _one(form, "confirm") != "yes":
            return self.render(
                request,
                "delete.html",
                session=session,
                csrf=self.session_csrf(token),
                active="accounts",
            )
        # Deleted by another of its sessions meanwhile: the same outcome.
        with contextlib.suppress(uc.NotFound):
            await self.run(self.cabinets.delete, session.cabinet_id)
        response = self.render(
            request,
            "message.html",
            title="Кабинет удалён",
            text="Ваш номер телефона, привязки лицевых счетов и сеансы удалены. "
            "Чтобы снова пользоваться кабинетом, войдите по номеру телефона.",
        )
        sec.delete_cookie(request, response, sec.SESSION_COOKIE)
        sec.delete_cookie(request, response, CURRENT_COOKIE)
        return response

    # -- Уведомления ----------------------------------------------------------------------------

    def vapid_key(self) -> str:
        """The Web Push channel's public key (``applicationServerKey``), or "" when push to
        browsers is not configured (``[notifications] via.webpush`` names no channel with a
        ``vapid_public_key``: the sandbox outbox has none). Read once: building the channel
        loads its key file and touches no network."""
        if self._vapid is None:
            self._vapid = ""
            notifications = self.clients.config.notifications
            spec = notifications.channel(notifications.via.get("webpush", ""))
            if spec is not None and spec.plugin != OUTBOX:
                try:
                    factory = self.clients.host.notification_channel(spec.plugin)
                    channel = factory.create(spec.adapter.merged())
                    key = getattr(channel, "vapid_public_key", "")
                    self._vapid = key if isinstance(key, str) else ""
                    channel.close()
                except Exception as exc:  # the page works on without the button
                    event(
                        log, "cabinet.vapid-unavailable", logging.WARNING, error=type(exc).__name__
                    )
        return self._vapid

    def notifications_view(self, session: ActiveSession) -> dict[str, Any]:
        client = session.client
        store = self.clients.store
        kinds = [
            {"kind": kind, "label": label, "hint": hint, "on": not store.opted_out(client, kind)}
            for kind, label, hint in NOTIFICATION_KINDS
        ]
        contact = store.contacts_of([client]).get(client)
        browsers = [
            {"id": d.id, "since": d.created_at}
            for d in store.devices_of([client]).get(client, [])
            if d.provider == "webpush"
        ]
        return {
            "kinds": kinds,
            "email": (contact.email or "") if contact is not None else "",
            "browsers": browsers,
        }

    def save_notifications(self, session: ActiveSession, on: frozenset[str], email: str) -> None:
        client = session.client
        store = self.clients.store
        for kind, _label, _hint in NOTIFICATION_KINDS:
            store.set_opt_out(client, kind, kind not in on)
        # "" clears the address (set_contact keeps a value given as None); the core sends no
        # e-mail to an empty address.
        store.set_contact(client, email=email)

    async def notifications(self, request: Request) -> Response:
        """Уведомления: a switch per kind of message, the e-mail address (a plain form
        POST, no script needed) and push to this browser (``static/push.js``)."""
        post = request.method == "POST"
        found = await self.signed_in(request, post=post)
        if isinstance(found, Response):
            return found
        session, token, form = found
        status, notice, error, typed = 200, "", "", None
        if post:
            on = frozenset(form.get("on", []))
            typed = _one(form, "email").strip()[:300]
            try:
                if typed:
                    check_customer_email(typed)
            except ValueError:
                status, error = 422, "Проверьте адрес почты, например name@example.ru"
            else:
                await self.run(self.save_notifications, session, on, typed)
                return RedirectResponse(f"{_base(request)}/notifications?saved=1", status_code=303)
        elif "saved" in request.query_params:
            notice = "Настройки уведомлений сохранены."
        view = await self.run(self.notifications_view, session)
        if typed is not None:  # a refused form shows what was typed and ticked
            view["email"] = typed
            for k in view["kinds"]:
                k["on"] = k["kind"] in form.get("on", [])
        return self.render(
            request,
            "notifications.html",
            status,
            session=session,
            csrf=self.session_csrf(token),
            active="notifications",
            notice=notice,
            email_error=error,
            vapid_key=await self.run(self.vapid_key),
            **view,
        )

    async def json_signed_in(self, request: Request) -> tuple[ActiveSession, Any] | Response:
        """The session and the JSON body of a script's request, its CSRF token (the page's,
        in ``X-CSRF-Token``) checked; or a JSON refusal. A page of another site can send
        neither the header nor a JSON body without our CORS consent, which is never given."""
        found = await self.session(request)
        if found is None:
            return JSONResponse({"error": "login"}, status_code=401)
        session, token = found
        given = request.headers.get("x-csrf-token", "")
        if not sec.csrf_matches(given, self.session_csrf(token)):
            return JSONResponse({"error": "csrf"}, status_code=403)
        body = await _json_body(request)
        if body is None:
            return JSONResponse({"error": "body"}, status_code=400)
        return session, body

    async def push_subscribe(self, request: Request) -> Response:
        """Keep a browser's PushSubscription as the client's ``webpush`` device."""
        found = await self.json_signed_in(request)
        if isinstance(found, Response):
            return found
        session, body = found
        subscription = _subscription(body.get("subscription") if isinstance(body, dict) else None)
        if subscription is None:
            return JSONResponse({"error": "subscription"}, status_code=422)
        zone = body.get("time_zone")
        if not isinstance(zone, str) or not _zone_ok(zone):
            zone = None  # the client's zone is a nicety for quiet hours, not a requirement
        device = await self.run(
            self.clients.store.register_device,
            session.client,
            "webpush",
            subscription,
            "cabinet",
            time_zone=zone,
        )
        event(log, "cabinet.push-subscribed", cabinet=session.cabinet_id, device=device.id)
        return JSONResponse({"device": device.id}, status_code=201)

    def forget_browsers(self, session: ActiveSession, endpoint: str, device_id: int) -> int:
        """Delete the client's ``webpush`` devices of ``endpoint`` (a script's unsubscribe)
        or of ``device_id`` (the page's form); how many."""
        client = session.client
        gone = 0
        for d in self.clients.store.devices_of([client]).get(client, []):
            if d.provider != "webpush":
                continue
            if d.id == device_id or (endpoint and _endpoint_of(d.token) == endpoint):
                gone += self.clients.store.delete_device(d.id, client)
        return gone

    async def push_unsubscribe(self, request: Request) -> Response:
        """Forget a browser: JSON ``{"endpoint": …}`` from the script, or the page's form
        (``device``) without a script."""
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "application/json":
            found = await self.json_signed_in(request)
            if isinstance(found, Response):
                return found
            session, body = found
            endpoint = body.get("endpoint") if isinstance(body, dict) else None
            if not isinstance(endpoint, str) or not endpoint:
                return JSONResponse({"error": "endpoint"}, status_code=422)
            gone = await self.run(self.forget_browsers, session, endpoint, -1)
            return JSONResponse({"deleted": gone})
        signed = await self.signed_in(request, post=True)
        if isinstance(signed, Response):
            return signed
        session, _token, form = signed
        raw = _one(form, "device")
        if raw.isdigit() and len(raw) <= 18:
            await self.run(self.forget_browsers, session, "", int(raw))
        return RedirectResponse(f"{_base(request)}/notifications?saved=1", status_code=303)

    async def service_worker(self, request: Request) -> Response:
        """The service worker (``static/sw.js``) at the cabinet's root, so that its scope
        can be the whole cabinet (a worker's scope is at most its own folder unless
        ``Service-Worker-Allowed`` says more; the header states it anyway)."""
        return Response(
            self.sw,
            media_type="text/javascript",
            headers={
                "Service-Worker-Allowed": f"{_base(request)}/",
                # A browser checks for a new worker at most daily anyway; no-cache makes it
                # see a new runner's worker at the next visit.
                "Cache-Control": "no-cache",
            },
        )

    def record_event(self, message_id: int, body: Mapping[str, Any]) -> bool:
        """Record a service worker's report if it proves it holds the subscription the
        message went to (its ``auth`` secret, which only the browser and the service know:
        the push service never sees it); False otherwise."""
        store = self.clients.store
        message = store.message(message_id)
        if message is None or message.device_id is None:
            return False
        device = store.device(message.device_id)
        if device is None or device.provider != "webpush" or device.client_id != message.client_id:
            return False
        held = _subscription_parts(device.token)
        if held is None:
            return False
        endpoint, auth = body.get("endpoint"), body.get("auth")
        if not isinstance(endpoint, str) or not isinstance(auth, str):
            return False
        if not (
            secrets.compare_digest(endpoint.encode(), held[0].encode())
            and secrets.compare_digest(auth.encode(), held[2].encode())
        ):
            return False
        try:
            kind = MessageEvent(str(body.get("event")))
        except ValueError:
            return False
        button = body.get("button")
        if kind is not MessageEvent.CLICKED or not isinstance(button, int):
            button = None
        elif not 0 <= button < MAX_BUTTONS:
            return False
        at = dt.datetime.now(dt.UTC)
        return store.record_message_event(
            message_id, kind, at, client_id=message.client_id, button=button
        )

    async def message_event(self, request: Request) -> Response:
        """``POST /cabinet/messages/{id}/events`` from the service worker: a notification
        shown (delivered), opened or clicked. Authenticated by the subscription itself, not
        the session cookie: a notification is mostly opened long after the session ended."""
        raw = request.path_params["message_id"]
        body = await _json_body(request)
        if not raw.isdigit() or len(raw) > 18 or not isinstance(body, dict):
            return Response(status_code=404)
        found = await self.run(self.record_event, int(raw), body)
        return Response(status_code=204 if found else 404)

    # -- branding ------------------------------------------------------------------------------

    async def theme_css(self, request: Request) -> Response:
        return Response(
            self.theme,
            media_type="text/css",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    async def logo_file(self, request: Request) -> Response:
        if self.logo is None:
            raise HTTPException(404, "Логотип не настроен")
        data, media_type = self.logo
        return Response(
            data, media_type=media_type, headers={"Cache-Control": "public, max-age=3600"}
        )

    async def not_found(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        found = await self.session(request)
        session, token = found if found is not None else (None, "")
        titles = {404: "Страница не найдена", 405: "Так нельзя", 415: "Форма не прочитана"}
        return self.render(
            request,
            "message.html",
            exc.status_code,
            session=session,
            csrf=self.session_csrf(token) if token else "",
            title=titles.get(exc.status_code, "Запрос не выполнен"),
            text=str(exc.detail) if exc.status_code in (404, 400, 413, 415) else "",
        )

    async def unavailable(self, request: Request, exc: Exception) -> Response:
        """The store's database is away (a restart, a failover): a 503 page to try again,
        not a 500 with a trace. No session is looked up: that needs the store."""
        event(
            log,
            "store.unavailable",
            logging.WARNING,
            error=type(exc.__cause__ or exc).__name__,
            path=request.url.path,
        )
        response = self.render(
            request,
            "message.html",
            503,
            title="Сервис временно недоступен",
            text="Попробуйте ещё раз через минуту.",
        )
        response.headers["Retry-After"] = "5"
        return response


_LINK_FIELDS = ("partner", "account", "premises", "due")
_STALE = "Страница устарела. Отправьте форму ещё раз."


def _fiscal_view(found: FiscalReceipt | None) -> dict[str, Any] | None:
    """A payment's receipt as this runner's cloud register has it (docs/receipts.md):
    ``status`` wait, done or failed, and when done its fiscal attributes."""
    if found is None:
        return None
    attributes = found.attributes
    if found.status is ReceiptStatus.DONE and attributes is not None:
        return {
            "status": "done",
            "at": attributes.registered_at,
            "total": attributes.total,
            "fn": attributes.fn,
            "fd": attributes.fd,
            "fp": attributes.fp,
            "check_url": attributes.check_url or "",
        }
    if found.status is ReceiptStatus.FAILED:
        return {"status": "failed"}
    return {"status": "wait"}


def _text_digest(text: str) -> str:
    """What the payment form carries of the consent text it shows: the client pays
    agreeing to that text only (:meth:`Pages.pay`)."""
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _suggested_limit(due: Decimal) -> Decimal:
    step = Decimal("500")
    wanted = (due * Decimal("1.5") / step).to_integral_value(rounding=ROUND_CEILING) * step
    return max(wanted, _AUTOPAY_MIN_SUGGESTED)


def _rule_text(consent: Consent) -> str:
    if consent.rule is ConsentRule.DAY_OF_MONTH:
        return f"{consent.day}-го числа каждого месяца"
    return "при поступлении начислений"


_MASKED = re.compile(r"\*\d{4}")


def _card_text(consent: Consent) -> str:
    """``карта *4242``: the masked card the acquirer titled the method with ("Card *4242",
    "Bank card *4242"), else its title as it is."""
    title = consent.method.title
    masked = _MASKED.findall(title)
    if masked:
        return f"карта {masked[-1]}"
    return f"карта {title}" if title else "сохранённая карта"


def _consent_summary(consent: Consent) -> str:
    """``карта *4242, при поступлении начислений, до 5 000,00 руб. в месяц``."""
    return f"{_card_text(consent)}, {_rule_text(consent)}, до {rub(consent.monthly_limit)} в месяц"


def _charge_view(charge: Charge) -> dict[str, Any]:
    return {
        "id": str(charge.charge_id),
        "at": charge.due_at,
        "amount": charge.amount,
        "state": charge.state.value,
        "state_text": _CHARGE_STATES[charge.state],
        "attempts": charge.attempts,
    }


def _period_text(period: Period) -> str:
    return f"{_MONTHS[period.month - 1]} {period.year}"


def _day_text(day: dt.date | dt.datetime, zone: dt.tzinfo) -> str:
    if isinstance(day, dt.datetime):
        moment = day if day.tzinfo is not None else day.replace(tzinfo=dt.UTC)
        return moment.astimezone(zone).strftime("%d.%m.%Y %H:%M")
    return day.strftime("%d.%m.%Y")


def _value_text(value: Decimal) -> str:
    return f"{value:f}".replace(".", ",")


def _meter_key(number: str, kind: int, service: str) -> str:
    """A meter's form value: a digest, so no meter number or service text is in a name."""
    return hashlib.sha256(f"{number}\x1f{kind}\x1f{service}".encode()).hexdigest()[:16]


def _vat_text(code: str) -> str:
    return "без НДС" if code == "none" else f"НДС {code.removeprefix('vat')}%"


def _photo_error(exc: uc.UseCaseError) -> str:
    if exc.code == "too-large":
        return f"Фото больше {uc.MAX_PHOTO_BYTES // (1024 * 1024)} МБ: уменьшите его."
    return "Фото — файл JPEG или PNG."


def _reading_error(exc: uc.UseCaseError) -> tuple[str, str]:
    """The readings form's field a use case's refusal belongs beside, and its Russian."""
    field = exc.field or ""
    if exc.code == "value-decreased":
        return "value1", (
            "Показание меньше предыдущего. Если счётчик прошёл через ноль или его заменили, "
            "выберите причину ниже."
        )
    if exc.code == "value-above-later":
        return "value1", "Показание больше того, что уже передано на более позднюю дату."
    if exc.code == "tariffs-changed":
        return "value1", "Число тарифов не совпадает с прежними показаниями этого счётчика."
    if field == "reading.taken_on":
        return "taken_on", (
            "Дата не может быть позже завтрашнего дня или раньше, чем три года назад."
        )
    if field.startswith("reading.values["):
        i = int(field[len("reading.values[")]) + 1
        return f"value{i}", "Не больше 12 цифр до запятой и 6 после."
    if field == "photo":
        return "photo", _photo_error(exc)
    if isinstance(exc, uc.NotAccepted):
        return "value1", "Этот лицевой счёт не привязан к кабинету."
    return "value1", "Показание не принято: проверьте значения."


async def _json_body(request: Request) -> Any:
    """A script's JSON body (``application/json``, at most :data:`_MAX_JSON` bytes), or
    None when it is not one."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        return None
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > _MAX_JSON:
            return None
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None


def _subscription_parts(value: object) -> tuple[str, str, str] | None:
    """A PushSubscription's endpoint, ``p256dh`` and ``auth`` (from its JSON object or
    text), or None when it is not one. The channel checks the endpoint and keys before any
    send (plugins/webpush); this only keeps junk out of the store."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if not isinstance(value, dict):
        return None
    endpoint, keys = value.get("endpoint"), value.get("keys")
    if not isinstance(endpoint, str) or not isinstance(keys, dict):
        return None
    p256dh, auth = keys.get("p256dh"), keys.get("auth")
    parts = urllib.parse.urlsplit(endpoint)
    if (
        parts.scheme not in ("https", "http")
        or not parts.hostname
        or not isinstance(p256dh, str)
        or not isinstance(auth, str)
        or not _B64URL.fullmatch(p256dh)
        or not _B64URL.fullmatch(auth)
    ):
        return None
    return endpoint, p256dh, auth


def _subscription(value: object) -> str | None:
    """The subscription as the device's token: the channel's recipient JSON, its keys in
    one order, so the same subscription sent again finds its row (one row per token)."""
    parts = _subscription_parts(value)
    if parts is None:
        return None
    endpoint, p256dh, auth = parts
    expires = value.get("expirationTime") if isinstance(value, dict) else None
    token = json.dumps(
        {
            "endpoint": endpoint,
            "expirationTime": expires if isinstance(expires, int | float) else None,
            "keys": {"p256dh": p256dh, "auth": auth},
        },
        separators=(",", ":"),
    )
    return token if len(token) <= _MAX_TOKEN else None


def _endpoint_of(token: str) -> str:
    parts = _subscription_parts(token)
    return parts[0] if parts is not None else ""


def _zone_ok(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


_B64URL = re.compile(r"[A-Za-z0-9_-]{16,200}={0,2}")
#: As the API's limit on a device's token (api.notify_models.MAX_TOKEN_LENGTH).
_MAX_TOKEN = 4096


def _one(form: Mapping[str, list[str]], name: str) -> str:
    values = form.get(name)
    return values[0] if values else ""


def _base(request: Request) -> str:
    return str(request.scope.get("root_path") or "")


def _bill_path(inn: str, account: str, period: Period) -> str:
    """A bill's download address under the cabinet's (the account quoted whole: its ``/``
    is matched by the route's ``path`` part, never taken as a folder)."""
    quoted = urllib.parse.quote(account, safe="")
    return f"/receipts/bills/{urllib.parse.quote(inn, safe='')}/{quoted}/{period}"


def _pay_url(request: Request, inn: str, account: str) -> str:
    quoted = urllib.parse.quote(account, safe="")
    return f"{_base(request)}/pay/{urllib.parse.quote(inn, safe='')}/{quoted}"


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _after(exc: TooManyRequests) -> str:
    minutes = -(-exc.retry_after_seconds // 60)
    if minutes <= 1:
        return "через минуту"
    if minutes < 60:
        return f"через {minutes} мин."
    return f"через {-(-minutes // 60)} ч."


#: A payment string's fields as a client reads their names (ГОСТ Р 56042-2014).
_QR_FIELDS = {
    "Name": "наименование получателя",
    "PersonalAcc": "расчётный счёт получателя",
    "BankName": "банк получателя",
    "BIC": "БИК",
    "CorrespAcc": "корреспондентский счёт",
    "PayeeINN": "ИНН получателя",
    "KPP": "КПП получателя",
    "PersAcc": "лицевой счёт",
    "Sum": "сумма",
}


def _qr_status(exc: uc.UseCaseError) -> int:
    if isinstance(exc, TooManyRequests):
        return 429
    if isinstance(exc, uc.NotFound):
        return 404
    return 413 if exc.code == "too-large" else 422


def _qr_error(exc: uc.UseCaseError) -> str:
    """Why a bill's QR code cannot be paid here, as the client reads it: what is wrong,
    never the decoder's own words (and not the deviations a tolerant read forgave)."""
    if isinstance(exc, TooManyRequests):
        return f"Слишком много QR-кодов проверено подряд. Попробуйте ещё раз {_after(exc)}."
    if isinstance(exc, uc.PayeeNotServed):
        return (
            "Получатель платежа из этого QR-кода не обслуживается нашим сервисом, поэтому "
            "оплатить квитанцию здесь нельзя. Оплатите её в банке или у получателя."
        )
    if isinstance(exc, uc.QrAccountNotFound):
        return (
            "Лицевой счёт из QR-кода не найден у поставщика услуг. Возможно, квитанция ещё не "
            "поступила к нам или счёт закрыт. Попробуйте позже или обратитесь к поставщику."
        )
    if not isinstance(exc, uc.QrUnreadable):  # the photo's own checks (uc.photo_type)
        if exc.code == "too-large":
            return "Файл слишком большой: фото — не больше 5 МБ."
        return "Загрузите фото в формате JPEG или PNG."
    field = _QR_FIELDS.get(exc.field or "", exc.field or "")
    texts = {
        "no-code": "На фото не найден QR-код. Сфотографируйте QR-код квитанции крупно, "
        "ровно и при хорошем освещении.",
        "several-codes": "На фото несколько QR-кодов. Сфотографируйте только QR-код для оплаты.",
        "not-image": "Файл не удалось открыть как изображение. Загрузите фото в JPEG или PNG.",
        "too-large": "Изображение слишком большое. Уменьшите фото и загрузите его снова.",
        "unavailable": "Распознавание фото сейчас недоступно. Вставьте текст QR-кода.",
        "header": "Это не платёжный QR-код: в нём нет реквизитов для оплаты "
        "(текст платёжного QR-кода начинается с ST0001).",
        "charset": "Текст QR-кода не удалось прочитать: неизвестная кодировка.",
        "pair": "QR-код повреждён: один из реквизитов записан без знака «=».",
        "required": f"В QR-коде нет обязательного реквизита: {field}.",
        "check-digits": f"В QR-коде неверный реквизит «{field}»: не сходятся контрольные цифры.",
        "max-length": f"В QR-коде неверный реквизит «{field}»: он слишком длинный.",
        "form": f"В QR-коде неверно записан реквизит «{field}»."
        if field
        else "QR-код слишком длинный для платёжного.",
    }
    return texts.get(
        exc.rule, "QR-код не удалось прочитать: он записан не по стандарту платёжных QR-кодов."
    )


def _refusal(exc: uc.UseCaseError) -> str:
    """A use case's refusal of a basket, as the client reads it."""
    if isinstance(exc, uc.AmountTooLarge):
        return "Сумма слишком велика для одного платежа. Уменьшите суммы или оплатите частями."
    if isinstance(exc, uc.NotAccepted):
        return "Отметьте услугу галочкой, чтобы оплатить её."
    if isinstance(exc, uc.Conflict):
        return "Форма изменилась после отправки. Проверьте суммы и нажмите «Оплатить» ещё раз."
    if isinstance(exc, uc.AcquirerUnavailable):
        return "Платёжный сервис не отвечает. Попробуйте ещё раз через минуту."
    if isinstance(exc, uc.AcquirerFailed):
        return "Платёжный сервис отклонил платёж. Попробуйте ещё раз или другой способ оплаты."
    if exc.field == "autopay.account":
        return "Автоплатёж подключается при оплате этого лицевого счёта: отметьте его услугу."
    if exc.field is not None and exc.field.startswith("autopay"):
        return "Автоплатёж сейчас подключить нельзя. Оплатите без него или попробуйте позже."
    return "Платёж не принят: проверьте суммы и отмеченные услуги."


def cabinet_app(
    clients: uc.ClientUseCases, cabinets: Cabinets, gateway: object = None
) -> Starlette:
    """The cabinet's pages as an ASGI app, to be mounted in the runner's (at ``/cabinet``).

    ``gateway`` is the payment gateway the payments go through: the origins of its
    confirmation pages are allowed as the payment form's targets
    (:class:`~.security.AcquirerOrigins`)."""
    origins = sec.AcquirerOrigins.of_gateway(gateway)
    pages = Pages(clients, cabinets, origins)
    get, both, post = ["GET"], ["GET", "POST"], ["POST"]
    routes = [
        Route("/", pages.index, methods=get, name="index"),
        Route("/login", pages.login, methods=both, name="login"),
        Route("/login/code", pages.code, methods=both, name="login-code"),
        Route("/logout", pages.logout, methods=post, name="logout"),
        Route("/accounts", pages.accounts, methods=get, name="accounts"),
        Route("/accounts/link", pages.link, methods=post, name="link"),
        Route("/accounts/unlink", pages.unlink, methods=post, name="unlink"),
        Route("/accounts/current", pages.choose, methods=post, name="choose"),
        Route("/accounts/delete", pages.delete, methods=both, name="delete"),
        Route("/pay/{inn}/{account}", pages.pay_page, methods=both, name="pay"),
        Route("/pay/{inn}/{account}/quote", pages.quote, methods=post, name="quote"),
        Route("/payments/{order_id}", pages.payment, methods=get, name="payment"),
        Route("/charges", pages.charges, methods=get, name="charges"),
        Route("/readings", pages.readings, methods=get, name="readings"),
        Route("/readings", pages.send_reading, methods=post, name="send-reading"),
        Route("/receipts", pages.receipts, methods=get, name="receipts"),
        # {account:path}: an account may hold a "/" (sent as %2F, decoded before routing)
        Route(
            "/receipts/bills/{inn}/{account:path}/{period}", pages.bill, methods=get, name="bill"
        ),
        Route("/qr", pages.qr, methods=both, name="qr"),
        Route("/autopay", pages.autopay, methods=get, name="autopay"),
        Route("/autopay/cancel", pages.cancel_autopay, methods=post, name="cancel-autopay"),
        Route("/notifications", pages.notifications, methods=both, name="notifications"),
        Route("/notifications/push", pages.push_subscribe, methods=post, name="push-subscribe"),
        Route(
            "/notifications/push/delete",
            pages.push_unsubscribe,
            methods=post,
            name="push-unsubscribe",
        ),
        Route("/messages/{message_id}/events", pages.message_event, methods=post, name="event"),
        Route("/sw.js", pages.service_worker, methods=get, name="service-worker"),
        Route("/theme.css", pages.theme_css, methods=get, name="theme"),
        Route("/logo", pages.logo_file, methods=get, name="logo"),
        Mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static"),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: pages.not_found, StoreUnavailable: pages.unavailable},
    )
    app.add_middleware(sec.Headers, origins=origins)
    return app
