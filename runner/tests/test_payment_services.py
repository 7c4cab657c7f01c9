"""Payment registries tell the partner which service each payment paid (issue 11).

A client pays "Содержание жилья" and "Взнос на капремонт" on one account in one basket: the
partner's accountant books each line to its service (капремонт is accounted apart by law),
so the registry sent back names the service of every line, by the name and code the
partner's debt registry gave. A payment format that cannot say it is refused when the
configuration is loaded, for a partner whose debts can name several services per account.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from api_harness import ACCOUNT, HOUSE, Running, accept, press_pay, serve
from example_inputs import UK_DOM, book, local, paid_entry, write_sber_debts
from pes_sdk_runner.close import close_day, day_of
from pes_sdk_runner.config import (
    RunnerConfig,
    RunnerConfigError,
    example_config_path,
    load_runner_config,
)
from pes_sdk_runner.ingest.inbox import ingest_file
from pes_sdk_runner.store import LedgerKind, SqlStore, open_store
from runner_proc import ENV

from pes_sdk.models.debts import DebtRecord
from pes_sdk.models.payments import PaymentLine
from pes_sdk.period import Period
from pes_sdk.plugins.manager import PluginHost
from pes_sdk.premises import Premises

ISSUE_ACCOUNT = "0100149"
UPKEEP, UPKEEP_PAID = "Содержание жилья", Decimal("1047.86")
REPAIR, REPAIR_PAID = "Взнос на капремонт", Decimal("1371.79")
PERIOD = Period(2026, 11)
DAY = dt.date(2026, 11, 26)
LATER = dt.datetime(2026, 12, 5, tzinfo=dt.UTC)


@pytest.fixture
def host() -> PluginHost:
    return PluginHost()


@pytest.fixture
def config(tmp_path: Path, host: PluginHost) -> RunnerConfig:
    return load_runner_config(example_config_path(), host, env=ENV, data=tmp_path / "data")


@pytest.fixture
def store(tmp_path: Path, config: RunnerConfig) -> Iterator[SqlStore]:
    s = open_store(f"sqlite:///{tmp_path / 'runner.db'}")
    s.upsert_partners(p.partner for p in config.partners)
    yield s
    s.close()


def test_the_issue_basket_names_its_services_in_the_sber_payments_registry(
    store: SqlStore, config: RunnerConfig, host: PluginHost
) -> None:
    # УК Дом sends sber-debts (names only, as most Sberbank-style registries) and gets
    # sber-payments back.
    uk = config.partner(UK_DOM)
    assert uk is not None and uk.source.folder is not None
    debts = [
        DebtRecord(ISSUE_ACCOUNT, HOUSE, Premises("кв. 12А"), Decimal("1047.86"), PERIOD, UPKEEP),
        DebtRecord(ISSUE_ACCOUNT, HOUSE, Premises("кв. 12А"), Decimal("2743.58"), PERIOD, REPAIR),
    ]
    path = write_sber_debts(uk.source.folder, 1, debts, period=PERIOD)
    received = local(config, DAY - dt.timedelta(days=3), 9)
    outcome = ingest_file(store, uk, path, host, received_at=received)
    assert outcome.outcome.value == "activated", outcome

    # The basket, built as the API builds it: each line takes the ticked service's details.
    ticked = {s.service: s for s in store.find_by_account(UK_DOM, ISSUE_ACCOUNT)}
    lines = [
        PaymentLine(
            UK_DOM,
            ISSUE_ACCOUNT,
            amount,
            service=name,
            house_id=ticked[name].house_id,
            premises=ticked[name].premises,
            period=ticked[name].period,
            service_code=ticked[name].service_code,
        )
        for name, amount in ((UPKEEP, UPKEEP_PAID), (REPAIR, REPAIR_PAID))
    ]
    book(store, paid_entry(local(config, DAY, 11, 5), lines))

    closed = close_day(store, config, host, uk, DAY, now=LATER)
    assert closed.registry_path is not None and closed.registry_path.suffix == ".txt"
    with host.format("sber-payments").open(closed.registry_path) as reader:
        records = list(reader)
    assert reader.report.valid
    assert [(r.account, r.service, r.amount) for r in records] == [
        (ISSUE_ACCOUNT, UPKEEP, UPKEEP_PAID),
        (ISSUE_ACCOUNT, REPAIR, REPAIR_PAID),
    ]
    # And in the file itself, where the partner's accountant reads it.
    text = closed.registry_path.read_bytes().decode("cp1251")
    assert f";{ISSUE_ACCOUNT};" in text and f";{UPKEEP};1047,86;" in text
    assert f";{REPAIR};1371,79;" in text


# -- codes: from the debt registry through the API to the payment registry -----------------


def _paid(r: Running, order_id: str) -> None:
    for _ in range(1000):  # the sandbox's webhook arrives on its own
        if r.call("GET", f"/v1/payments/{order_id}").json["state"] == "succeeded":
            return
        time.sleep(0.01)
    raise AssertionError("the payment was not confirmed")


def test_code_and_name_travel_from_the_debt_registry_through_the_api(
    store_url: str, tmp_path: Path
) -> None:
    with serve(store_url, tmp_path, services={}) as r:
        inn = r.inns[0]  # УК Дом: sber-payments
        debts = [
            DebtRecord(ACCOUNT, HOUSE, Premises("12а"), Decimal("2000.00"), PERIOD, UPKEEP,
                       service_code="ЖКУ-01"),
            DebtRecord(ACCOUNT, HOUSE, Premises("12а"), Decimal("2743.58"), PERIOD, REPAIR,
                       service_code="КР"),
        ]  # fmt: skip
        r.store.ingest_debt_registry(
            inn, PERIOD, 1, debts, sha256="sha-codes", received_at=LATER - dt.timedelta(days=400)
        )
        found = r.call("GET", f"/v1/services?partner={inn}&account={ACCOUNT}")
        assert found.status == 200, found.body
        assert {(s["service"], s["service_code"]) for s in found.json["services"]} == {
            (UPKEEP, "ЖКУ-01"),
            (REPAIR, "КР"),
        }
        assert accept(r, inn).status == 200  # the whole account
        body = {
            "client_id": "user-1",
            "return_url": "https://cabinet.example/paid",
            "lines": [
                {"partner_inn": inn, "account": ACCOUNT, "service": UPKEEP, "amount": "1047.86"},
                {"partner_inn": inn, "account": ACCOUNT, "service": REPAIR, "amount": "1371.79"},
            ],
        }
        paid = r.call("POST", "/v1/payments", body, headers={"Idempotency-Key": "k-codes"})
        assert paid.status == 200, paid.body
        assert [ln["service_code"] for ln in paid.json["lines"]] == ["ЖКУ-01", "КР"]
        press_pay(paid.json["confirmation"]["url"])
        _paid(r, paid.json["order_id"])

        # The book keeps the codes (a fresh read from the database, not the app's copy).
        again = open_store(store_url)
        try:
            entry = again.get(paid.json["order_id"])
            assert entry is not None
            assert [ln.service_code for ln in entry.payment.lines] == ["ЖКУ-01", "КР"]
        finally:
            again.close()

        credit = next(e for e in r.store.ledger_entries() if e.kind is LedgerKind.CREDIT)
        assert credit.at is not None
        partner = r.config.partners[0]
        day = day_of(credit.at, partner.cutoff, r.config.service.time_zone)
        host = PluginHost()
        closed = close_day(
            r.store, r.config, host, partner, day, now=credit.at + dt.timedelta(days=3)
        )
        assert closed.registry_path is not None
        with host.format("sber-payments").open(closed.registry_path) as reader:
            got = sorted((x.service_code, x.service, x.amount) for x in reader)
        assert got == [
            ("ЖКУ-01", UPKEEP, Decimal("1047.86")),
            ("КР", REPAIR, Decimal("1371.79")),
        ]


# -- the configuration refuses a payment format that would lose the service -----------------

# The sber-payments layout before issue 11: no service cells. A contract may still want it.
_NO_SERVICE_PAYMENTS = """
name = "uk-payments-v0"
kind = "payments"
encoding = "cp1251"
decimal_separator = ","
read_decimal_separators = [",", "."]
time_format = "%H-%M-%S"
period_format = "MMYYYY"
tagged_fields = true
columns = [
  { name = "date", field = "paid_at", type = "date" },
  { name = "time", field = "paid_at", type = "time" },
  { name = "operation_id", field = "operation_id", type = "text" },
  { name = "account", field = "account", type = "account" },
  { name = "period", field = "period", type = "period", required = false },
  { name = "amount", field = "amount", type = "amount" },
  { name = "transfer", field = "transfer", type = "amount" },
  { name = "fee", field = "fee", type = "amount" },
]
footer = { fields = ["count", "amount", "transfer", "fee"] }
"""
# Names the service, but has no place for its code.
_NAME_ONLY_PAYMENTS = _NO_SERVICE_PAYMENTS.replace(
    '"uk-payments-v0"', '"uk-payments-names"'
).replace(
    '  { name = "amount"',
    '  { name = "service", field = "service", type = "text", required = false },\n'
    '  { name = "amount"',
)
# A partner with one service per account: its registry has no service column at all.
_ONE_SERVICE_DEBTS = """
name = "rso-debts-one-service"
kind = "debts"
encoding = "cp1251"
decimal_separator = ","
period_format = "MMYYYY"
columns = [
  { name = "account", field = "account", type = "account" },
  { name = "house_id", field = "house_id", type = "guid" },
  { name = "amount", field = "amount", type = "amount" },
]
"""


@pytest.fixture
def dialect_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PluginHost:
    folder = tmp_path / "dialects"
    folder.mkdir()
    for name, text in (
        ("uk-payments-v0", _NO_SERVICE_PAYMENTS),
        ("uk-payments-names", _NAME_ONLY_PAYMENTS),
        ("rso-debts-one-service", _ONE_SERVICE_DEBTS),
    ):
        (folder / f"{name}.toml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("PES_DIALECT_PATH", str(folder))
    host = PluginHost()
    assert {"uk-payments-v0", "uk-payments-names"} <= set(host.formats())
    return host


def _config_text(debts: str, payments: str) -> str:
    text = example_config_path().read_text("utf-8")
    old = (
        'format = "sber-debts"\n'
        'channel = { kind = "outbox", folder = "outbox/uk-dom", format = "sber-payments" }'
    )
    assert old in text
    return text.replace(
        old,
        f'format = "{debts}"\n'
        f'channel = {{ kind = "outbox", folder = "outbox/uk-dom", format = "{payments}" }}',
    )


def _load(tmp_path: Path, host: PluginHost, text: str) -> RunnerConfig:
    path = tmp_path / "runner.toml"
    path.write_text(text, encoding="utf-8")
    return load_runner_config(path, host, env=ENV, data=tmp_path / "data")


def test_a_payment_format_without_the_service_is_refused_for_sber_debts(
    tmp_path: Path, dialect_host: PluginHost
) -> None:
    with pytest.raises(RunnerConfigError) as info:
        _load(tmp_path, dialect_host, _config_text("sber-debts", "uk-payments-v0"))
    assert info.value.keys == ("partners[0].channel.format",)
    [problem] = info.value.problems
    assert "'uk-payments-v0' does not keep service" in problem
    assert "debt format 'sber-debts' can name several services on one account" in problem
    assert "sber-payments" in problem  # what to use instead


def test_a_format_that_drops_the_code_is_refused_where_the_debts_give_one(
    tmp_path: Path, dialect_host: PluginHost
) -> None:
    # sber-debts gives names only: a names-only payment format loses nothing.
    _load(tmp_path, dialect_host, _config_text("sber-debts", "uk-payments-names"))
    # 1C XML debts may carry codes: the code must come back too.
    with pytest.raises(RunnerConfigError) as info:
        _load(tmp_path, dialect_host, _config_text("1c-xml-debts", "uk-payments-names"))
    assert info.value.keys == ("partners[0].channel.format",)
    assert "does not keep service_code" in info.value.problems[0]


def test_one_service_per_account_needs_no_service_in_the_payment_registry(
    tmp_path: Path, dialect_host: PluginHost
) -> None:
    config = _load(tmp_path, dialect_host, _config_text("rso-debts-one-service", "uk-payments-v0"))
    assert config.partners[0].channel.format == "uk-payments-v0"
