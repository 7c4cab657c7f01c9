"""The cabinet's pages (личный кабинет), server-rendered: login by phone, the linked
accounts, the payment page of the current account and a payment's result.

Every page works without JavaScript: the payment form is recomputed by the server when it
is sent; the one script only keeps its totals right while the client ticks and types (it
asks :meth:`Pages.quote`, which prices with the same use case). What a client does goes
through :class:`~pes_sdk_runner.usecases.ClientUseCases` and the cabinet's objects
(:class:`~pes_sdk_runner.cabinet.Cabinets`), never the store, except to read which of the
client's accounts is where. Texts shown to people are Russian (the cabinet speaks Russian
only); partner-supplied text goes through Jinja2's autoescape like any other.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

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
from pes_sdk.models.payments import PaymentLine
from pes_sdk.money import ZERO
from pes_sdk_runner import usecases as uc
from pes_sdk_runner.cabinet import Cabinets
from pes_sdk_runner.cabinet.errors import (
    CodeRefused,
    InvalidPhone,
    LinkRefused,
    SmsUnavailable,
    TooManyRequests,
)
from pes_sdk_runner.cabinet.sessions import ActiveSession
from pes_sdk_runner.cabinet.web import security as sec
from pes_sdk_runner.cabinet.web.money import AmountError, parse_rub, rub, rub_input
from pes_sdk_runner.logs import event
from pes_sdk_runner.store.base import ServiceBalance

__all__ = ["CURRENT_COOKIE", "Pages", "cabinet_app"]

#: Which linked account the payment page shows (``<ИНН>:<account>``; not a secret).
CURRENT_COOKIE = "pes_cabinet_account"
#: How long the code page remembers its login attempt (the code's own life).
_ATTEMPT_SECONDS = 300
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


@attrs.frozen
class Basket:
    """What the payment form asks for, read and checked."""

    ticked: frozenset[str]
    amounts: Mapping[str, str]  #: as typed, by row key
    lines: tuple[tuple[Row, Decimal], ...]  #: the ticked rows with a good amount
    errors: Mapping[str, str]  #: by row key, or "email", or "" for the whole form
    email: str


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
        )
        self.env.filters["rub"] = rub

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
            return self.login_page(request, "login.html", 429, phone=phone, error=error)
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

    async def index(self, request: Request) -> Response:
        found = await self.signed_in(request)
        if isinstance(found, Response):
            return found
        session, _token, _form = found
        linked = await self.run(self.linked, session.cabinet_id)
        if not linked:
            return RedirectResponse(f"{_base(request)}/accounts", status_code=303)
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
        return await self.accounts_page(request, session, token, notice=notice)

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
            # Linking proves the account is the client's: its services are ticked (accepted).
            await self.run(self.clients.accept, session.client, inn, account)
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
            return await self.accounts_page(
                request, session, token, 429, link_error=error, values=values
            )
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

    def rows(self, session: ActiveSession, inn: str, account: str) -> tuple[list[Row], list[Row]]:
        """The services of the page: ticked ones (the account's, and the others the client
        accepted at its address), and the others found at the address. 404 unless the
        account is one of the cabinet's."""
        if (inn, account) not in self.linked(session.cabinet_id):
            raise HTTPException(404, "Такого лицевого счёта нет среди ваших")
        partners = self.clients.partners()
        own = self.clients.services_on(inn, account)
        scope = self.cabinets.accounts.scope(session.cabinet_id)
        seen = {(s.partner_inn, s.account, s.service) for s in own}
        others: list[ServiceBalance] = []
        for place in {(s.house_id, s.premises) for s in own if s.house_id is not None}:
            house, premises = place
            assert house is not None
            for s in scope.sees(self.clients.services_at(house, premises)):
                if (s.partner_inn, s.account, s.service) not in seen:
                    seen.add((s.partner_inn, s.account, s.service))
                    others.append(s)

        def row(s: ServiceBalance) -> Row:
            partner = partners.get(s.partner_inn)
            accepted = (
                self.clients.accepted(session.client, s.partner_inn, s.account, s.service)
                is not None
            )
            name = partner.name if partner else s.partner_inn
            return Row(_row_key(s), s, name, accepted)

        ticked = [row(s) for s in own] + [r for r in map(row, others) if r.accepted]
        found = [r for r in map(row, others) if not r.accepted]
        return ticked, found

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
        return Basket(ticked, amounts, tuple(lines), errors, email)

    def accept_ticked(self, session: ActiveSession, found: Sequence[Row], basket: Basket) -> None:
        """Ticking a service found at the address records the client's acceptance of it."""
        for r in found:
            if r.key in basket.ticked:
                s = r.service
                self.clients.accept(session.client, s.partner_inn, s.account, s.service)

    def price(self, session: ActiveSession, basket: Basket) -> tuple[dict[str, PaymentLine], str]:
        """The ticked lines priced by the use case (fees by the partners' plans), by row
        key; and the refusal, in Russian, when the basket is refused."""
        if not basket.lines:
            return {}, ""
        wanted = [
            uc.BasketLine(r.service.partner_inn, r.service.account, value, r.service.service)
            for r, value in basket.lines
        ]
        try:
            priced = self.clients.price(session.client, wanted)
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
    ) -> dict[str, Any]:
        ticked_rows, found_rows = self.rows(session, inn, account)
        if form is None:  # first look: every ticked service, for what is due on it
            defaults: dict[str, list[str]] = {
                "tick": [r.key for r in ticked_rows if r.service.due > 0],
            }
            for r in (*ticked_rows, *found_rows):
                due = r.service.due
                defaults[f"amount-{r.key}"] = [rub_input(due) if due > 0 else ""]
            form = defaults
        basket = self.read_basket(form, (*ticked_rows, *found_rows))
        # The good lines are priced even beside a bad one: the total shows what they make.
        priced, refusal = self.price(session, basket)
        partners = self.clients.partners()
        partner = partners.get(inn)
        fee = sum((p.client_fee for p in priced.values()), ZERO)
        total = sum((p.amount + p.client_fee for p in priced.values()), ZERO)
        mine = [
            r for r in ticked_rows if (r.service.partner_inn, r.service.account) == (inn, account)
        ]
        due = sum((r.service.due for r in mine), ZERO)
        # The address as text only when the operator loaded the house directory.
        placed = next((r.service for r in mine if r.service.house_id is not None), None)
        premises = mine[0].service.premises if mine else ""
        address = None
        if placed is not None and placed.house_id is not None:
            address = self.clients.store.house_address(placed.house_id.lower())

        def view(r: Row) -> dict[str, Any]:
            s = r.service
            return {
                "key": r.key,
                "service": s.service or "Услуга",
                "partner": r.partner_name,
                "account": s.account,
                "due": s.due,
                "ticked": r.key in basket.ticked,
                "amount": basket.amounts.get(r.key, ""),
                "fee": _fee_text(priced.get(r.key)),
                "error": basket.errors.get(r.key, ""),
            }

        return {
            "inn": inn,
            "account": account,
            "partner": partner.name if partner else inn,
            "due": due,
            "address": address or "",
            "premises": premises,
            "ticked_rows": [view(r) for r in ticked_rows],
            "found_rows": [view(r) for r in found_rows],
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
        }

    async def pay_page(self, request: Request) -> Response:
        inn, account = request.path_params["inn"], request.path_params["account"]
        post = request.method == "POST"
        found = await self.signed_in(request, post=post)
        if isinstance(found, Response):
            return found
        session, token, form = found
        if post and _one(form, "action") == "pay":
            return await self.pay(request, session, token, inn, account, form)
        if post:
            _ticked, found_rows = await self.run(self.rows, session, inn, account)
            basket = await self.run(self.read_basket, form, found_rows)
            await self.run(self.accept_ticked, session, found_rows, basket)
        view = await self.run(
            self.pay_view, request, session, token, inn, account, form if post else None
        )
        status = 422 if post and (view["basket"].errors or view["refusal"]) else 200
        return self.render_pay(request, session, view, status)

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
    ) -> Response:
        ticked_rows, found_rows = await self.run(self.rows, session, inn, account)
        basket = await self.run(self.read_basket, form, (*ticked_rows, *found_rows))
        await self.run(self.accept_ticked, session, found_rows, basket)
        key = _one(form, "key")[:128]
        refusal = ""
        if not basket.lines and not basket.errors:
            refusal = "Отметьте хотя бы одну услугу и укажите сумму."
        if basket.errors or refusal or not key:
            view = await self.run(self.pay_view, request, session, token, inn, account, form)
            view["refusal"] = view["refusal"] or refusal or _STALE
            return self.render_pay(request, session, view, 422)
        owner = session.client
        order_id = uc.order_id_of(owner, key)
        return_url = str(
            request.url.replace(path=f"{_base(request)}/payments/{order_id}", query="")
        )
        lines = [
            uc.BasketLine(r.service.partner_inn, r.service.account, value, r.service.service)
            for r, value in basket.lines
        ]
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
            )
        except uc.UseCaseError as exc:
            view = await self.run(self.pay_view, request, session, token, inn, account, form)
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
        _ticked, found_rows = await self.run(self.rows, session, inn, account)
        basket = await self.run(self.read_basket, form, found_rows)
        await self.run(self.accept_ticked, session, found_rows, basket)
        view = await self.run(self.pay_view, request, session, token, inn, account, form)
        rows = [*view["ticked_rows"], *view["found_rows"]]
        return JSONResponse(
            {
                "lines": {r["key"]: {"fee": r["fee"], "error": r["error"]} for r in rows},
                "total": rub(view["total"]),
                "fee": rub(view["fee"]),
                "refusal": view["refusal"],
            },
            headers={"Cache-Control": "no-store"},
        )

    # -- a payment's result -------------------------------------------------------------------

    async def payment(self, request: Request) -> Response:
        found = await self.signed_in(request)
        if isinstance(found, Response):
            return found
        session, token, _form = found
        try:
            order_id = uuid.UUID(request.path_params["order_id"])
            entry = await self.run(self.clients.payment, order_id, session.client)
        except (ValueError, uc.NotFound):
            raise HTTPException(404, "Такого платежа нет среди ваших") from None
        partners = self.clients.partners()
        lines = [
            {
                "service": ln.service or "Услуга",
                "partner": partners[ln.partner_inn].name
                if ln.partner_inn in partners
                else ln.partner_inn,
                "account": ln.account,
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
            csrf=self.session_csrf(token),
            active="pay",
            order_id=str(order_id),
            state=state.value,
            state_text=_STATES.get(state, state.value),
            paid=state.is_paid,
            final=state.is_final,
            lines=lines,
            total=entry.payment.total,
            fee=sum((ln.client_fee for ln in entry.payment.lines), ZERO),
        )

    # -- later pages --------------------------------------------------------------------------

    def placeholder(self, title: str, active: str) -> Callable[[Request], Awaitable[Response]]:
        async def page(request: Request) -> Response:
            found = await self.signed_in(request)
            if isinstance(found, Response):
                return found
            session, token, _form = found
            return self.render(
                request,
                "message.html",
                session=session,
                csrf=self.session_csrf(token),
                active=active,
                title=title,
                text="Раздел скоро появится.",
            )

        return page

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
            text=str(exc.detail) if exc.status_code in (404, 400, 415) else "",
        )


_LINK_FIELDS = ("partner", "account", "premises", "due")
_STALE = "Страница устарела. Отправьте форму ещё раз."


def _one(form: Mapping[str, list[str]], name: str) -> str:
    values = form.get(name)
    return values[0] if values else ""


def _base(request: Request) -> str:
    return str(request.scope.get("root_path") or "")


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
    get, both = ["GET"], ["GET", "POST"]
    routes = [
        Route("/", pages.index, methods=get),
        Route("/login", pages.login, methods=both),
        Route("/login/code", pages.code, methods=both),
        Route("/logout", pages.logout, methods=["POST"]),
        Route("/accounts", pages.accounts, methods=get),
        Route("/accounts/link", pages.link, methods=["POST"]),
        Route("/accounts/unlink", pages.unlink, methods=["POST"]),
        Route("/accounts/current", pages.choose, methods=["POST"]),
        Route("/pay/{inn}/{account}", pages.pay_page, methods=both),
        Route("/pay/{inn}/{account}/quote", pages.quote, methods=["POST"]),
        Route("/payments/{order_id}", pages.payment, methods=get),
        Route("/charges", pages.placeholder("Начисления и платежи", "charges"), methods=get),
        Route("/readings", pages.placeholder("Показания", "readings"), methods=get),
        Route("/receipts", pages.placeholder("Архив квитанций", "receipts"), methods=get),
        Mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: pages.not_found})
    app.add_middleware(sec.Headers, origins=origins)
    return app
