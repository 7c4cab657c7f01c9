"""A schema-driven test of the API: schemathesis generates requests from /openapi.json.

Every operation of the document is called over real HTTP (uvicorn on loopback) with
generated data, and each answer is checked against the document: no server error, a
documented status code and content type, a body matching its schema. The number of
examples is bounded so that the run takes seconds.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from pes_sdk_runner.api import create_app, make_server, openapi_document
from pes_sdk_runner.config import example_config_path, load_runner_config
from pes_sdk_runner.store import open_store

from pes_sdk.gateways import PaymentProcessor
from pes_sdk.gateways.processor import PaymentEntry
from pes_sdk.models.debts import DebtRecord
from pes_sdk.period import Period
from pes_sdk.plugins.manager import get_host
from pes_sdk.premises import Premises

schemathesis = pytest.importorskip("schemathesis")
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import positive_data_acceptance  # noqa: E402

CLIENT = "client-token-0123456789abcdef"
ENV = {"PES_CLIENT_TOKENS": CLIENT, "PES_OPERATOR_TOKENS": "operator-token-0123456789abcdef"}


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp: Path = tmp_path_factory.mktemp("api-schema")
    host = get_host()
    config = load_runner_config(example_config_path(), env=ENV, data=tmp)
    store = open_store(f"sqlite:///{tmp / 'api.db'}")
    store.upsert_partners(p.partner for p in config.partners)
    inn = config.partners[0].inn
    record = DebtRecord(
        "1234567890", "0c5b2444-70a0-4932-980c-b4dc0d3f02b5", Premises("1"), Decimal("10.00")
    )
    store.ingest_debt_registry(inn, Period(2026, 11), 1, [record], sha256="sha")
    gateway = host.gateways()["sandbox"].create({})

    def credit(entry: PaymentEntry) -> None:
        store.credit_payment(entry)

    processor = PaymentProcessor(gateway, store=store, on_credit=credit)
    app = create_app(store, config, host, processor)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = make_server(app, config, log_level="warning")
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        gateway.close()
        store.close()


# The document as the app serves it (the example configuration's webhook path); a test in
# test_api.py checks that the served routes and the document agree.
DOCUMENT = openapi_document("/webhooks/sandbox")
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)
OPERATIONS = {op.label: op for op in (r.ok() for r in SCHEMA.get_all_operations())}
# Invalid data can only be made for an operation that takes some input.
TAKES_INPUT = {
    f"{method.upper()} {path}"
    for path, ops in DOCUMENT["paths"].items()
    for method, op in ops.items()
    if "parameters" in op or "requestBody" in op
}
CASES = [(label, "positive") for label in sorted(OPERATIONS)] + [
    (label, "negative") for label in sorted(TAKES_INPUT)
]


@pytest.mark.parametrize(("label", "mode"), CASES)
def test_every_operation_keeps_to_its_document(label: str, mode: str, base_url: str) -> None:
    """Valid data gets a documented answer; invalid data (mode negative) a 4xx, never a 5xx."""
    operation = OPERATIONS[label]

    # derandomize: CI replays the same examples on every run, so a red build is always
    # reproducible; run with a new seed by hand to explore further (it found a bug once).
    @settings(
        max_examples=30,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
    )
    @given(case=operation.as_strategy(generation_mode=GenerationMode(mode)))
    def check(case: Any) -> None:
        case.call_and_validate(
            base_url=base_url,
            headers={"Authorization": f"Bearer {CLIENT}"},
            # A schema-valid request may still be refused on business grounds (a service not
            # ticked, an account not in any registry): that is a documented 4xx, not a bug.
            excluded_checks=[positive_data_acceptance],
        )

    check()
