"""The runner's HTTP API served for a test: uvicorn on a loopback port, any store URL.

Used by the API tests that must run on both databases (``store_url`` of conftest.py):
the example configuration, its partners in the store, one debt registry per partner on
one account, the sandbox acquirer (with its webhooks aimed at the app) and the processor
made by :func:`pes_sdk_runner.api.processor_for`.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
from http_client import Answer, request
from pes_sdk_runner.api import create_app, listen, processor_for, serve_in_thread
from pes_sdk_runner.config import RunnerConfig, example_config_path, load_runner_config
from pes_sdk_runner.store import SqlStore, open_store

from pes_sdk.gateways.contract import PaymentGateway
from pes_sdk.models.debts import DebtRecord
from pes_sdk.period import Period
from pes_sdk.plugins.manager import get_host
from pes_sdk.premises import Premises

__all__ = [
    "ACCOUNT",
    "CLIENT",
    "ENV",
    "HOUSE",
    "OPERATOR",
    "OTHER_APP",
    "Answer",
    "Running",
    "accept",
    "basket",
    "serve",
]

CLIENT = "client-token-0123456789abcdef"
OTHER_APP = "client-token-of-another-app-0123"
OPERATOR = "operator-token-0123456789abcdef"
ENV = {"PES_CLIENT_TOKENS": f"{CLIENT},{OTHER_APP}", "PES_OPERATOR_TOKENS": OPERATOR}
HOUSE = "0c5b2444-70a0-4932-980c-b4dc0d3f02b5"
ACCOUNT = "1234567890"
#: What :func:`serve` puts in the store unless told otherwise: every partner's debts for
#: these services on ACCOUNT.
SERVICES = ("Отопление", "Электроэнергия")


@attrs.frozen
class Running:
    base: str
    config: RunnerConfig
    store: SqlStore
    gateway: PaymentGateway
    app: Any

    def call(
        self,
        method: str,
        path: str,
        body: object = None,
        *,
        token: str | None = CLIENT,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> Answer:
        return request(self.base, method, path, body, token=token, headers=headers, raw=raw)

    @property
    def inns(self) -> list[str]:
        return [p.inn for p in self.config.partners]


@contextmanager
def serve(
    store_url: str,
    tmp_path: Path,
    services: Mapping[int, Sequence[str]] | None = None,
    *,
    change: Callable[[RunnerConfig], RunnerConfig] | None = None,
) -> Iterator[Running]:
    """The API on a fresh store at ``store_url``, stopped and closed on exit.

    ``services`` maps a partner (its index in the example configuration) to the services
    ACCOUNT owes it 1500.50 for, one debt registry per partner; by default every partner
    with SERVICES. ``change`` alters the example configuration before the API is made.
    """
    host = get_host()
    config = load_runner_config(example_config_path(), env=ENV, data=tmp_path)
    if change is not None:
        config = change(config)
    store = open_store(store_url)
    store.upsert_partners(p.partner for p in config.partners)
    if services is None:
        services = {i: SERVICES for i in range(len(config.partners))}
    for i, names in services.items():
        inn = config.partners[i].inn
        records = [
            DebtRecord(ACCOUNT, HOUSE, Premises("кв. 12А"), Decimal("1500.50"), service=s)
            for s in names
        ]
        store.ingest_debt_registry(inn, Period(2026, 11), 1, records, sha256=f"sha-{inn}")
    # Bound first: the sandbox's webhook_url must name the port before the app exists.
    sock = listen()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    gateway = host.gateways()["sandbox"].create({"webhook_url": base + config.http.webhook_path})
    app = create_app(store, config, host, processor_for(gateway, store))
    try:
        with serve_in_thread(app, config, sock) as url:
            yield Running(url, config, store, gateway, app)
    finally:
        gateway.close()
        store.close()


def accept(r: Running, inn: str, service: str = "", client: str = "user-1") -> Answer:
    """The client's tick on a partner's account (and service)."""
    body = {"client_id": client, "partner_inn": inn, "account": ACCOUNT, "service": service}
    return r.call("POST", "/v1/acceptances", body)


def basket(r: Running, *lines: tuple[int, str], client: str = "user-1") -> dict[str, Any]:
    """A basket body: one line per (partner index, amount), ACCOUNT's Отопление each."""
    return {
        "client_id": client,
        "return_url": "https://cabinet.example/paid",
        "lines": [
            {"partner_inn": r.inns[i], "account": ACCOUNT, "service": "Отопление", "amount": a}
            for i, a in lines
        ],
    }


def press_pay(url: str) -> None:
    """The client presses "pay" on the sandbox's confirmation page (no redirect followed)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    pressed = urllib.request.Request(
        url,
        data=b"action=pay",
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    try:
        urllib.request.build_opener(NoRedirect).open(pressed, timeout=10).close()
    except urllib.error.HTTPError as exc:
        assert exc.code in (302, 303), exc.code
