"""Fixtures: the official format package, a running simulator, clients pointed at it.

The format package is found at ``$PES_CONTRACTS_DIR/gis-zhkh`` or, by default,
``../shared/contracts/gis-zhkh`` beside the repository. Without it the tests skip with that
reason, except in CI (``CI`` set), where a missing package is an error.

The conformance suite's plugin is active: ``test_conformance.py`` runs its billing family.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pes_sdk_gis_zhkh import GisClient, GisConfig, HmacTestSigner, MunicipalResource
from pes_sdk_gis_zhkh.simulator import GisSimulator

pytest_plugins = ["pes_sdk_conformance.plugin"]

REPO = Path(__file__).resolve().parents[3]
TEST_KEY = "pes-sdk-test-key-not-gost-0123456789"
COLD_WATER = MunicipalResource("1", "a0bd7a43-79a1-4bc0-9a0b-6b6b8e5e9d10")


def _package() -> Path:
    base = os.environ.get("PES_CONTRACTS_DIR")
    root = Path(base) if base else REPO.parent / "shared" / "contracts"
    return root / "gis-zhkh"


@pytest.fixture(scope="session")
def package() -> Path:
    path = _package()
    if not (path / "payment" / "hcs-payment-service-async.wsdl").is_file():
        if os.environ.get("CI"):
            pytest.fail(f"the ГИС ЖКХ format package is missing in CI: {path}")
        pytest.skip(f"the ГИС ЖКХ format package is not at {path} (set PES_CONTRACTS_DIR)")
    return path


@pytest.fixture
def signer() -> HmacTestSigner:
    return HmacTestSigner(TEST_KEY.encode())


@pytest.fixture
def sim(package: Path, signer: HmacTestSigner) -> Iterator[GisSimulator]:
    with GisSimulator(package, verifier=signer) as s:
        yield s
        # Every request any test sent was valid per the official XSDs, and so was every answer.
        assert s.validation_failures == []
        assert s.signature_failures == []


@pytest.fixture
def make_config(package: Path, sim: GisSimulator) -> Callable[..., GisConfig]:
    def make(**kw: Any) -> GisConfig:
        base: dict[str, Any] = {
            "payment_endpoint": sim.payment_url,
            "metering_endpoint": sim.metering_url,
            "format_package": package,
            "org_ppa_guid": "5c1a7e4e-0a3f-4d43-9d1b-0e0f4f0f2a11",
            "timeout": 5.0,
            "operation_timeout": 5.0,
            "retry_attempts": 4,
            "retry_initial": 0.01,
            "retry_max": 0.02,
            "poll_initial": 0.005,
            "poll_max": 0.02,
            "poll_deadline": 30.0,
            "resources": {"COLD_WATER": COLD_WATER},
        }
        base.update(kw)
        return GisConfig(**base)

    return make


@pytest.fixture
def client(make_config: Callable[..., GisConfig], signer: HmacTestSigner) -> Iterator[GisClient]:
    with GisClient(make_config(), signer=signer) as c:
        yield c


def new_guid() -> str:
    return str(uuid.uuid4())


PAID_AT = "2026-11-02T10:15:00+03:00"


@pytest.fixture
def recipient() -> Any:
    from pes_sdk_gis_zhkh import Recipient

    return Recipient(
        inn="5003012349",
        kpp="500301001",
        name="ООО «УК Дом»",
        bank_name="АО «ТБанк»",
        bik="044525974",
        account="40702810200000005678",
        corr_account="30101810145250000974",
    )


@pytest.fixture
def make_records() -> Callable[..., list[Any]]:
    """``make_records(n)``: n paid lines of 1 272,26 ₽ … with distinct operation ids."""
    import datetime as dt
    from decimal import Decimal

    from pes_sdk.models.payments import PaymentRecord
    from pes_sdk.period import Period

    def make(n: int, *, prefix: str = "op", tags: tuple[tuple[str, str], ...] = ()) -> list[Any]:
        paid = dt.datetime.fromisoformat(PAID_AT)
        return [
            PaymentRecord(
                paid_at=paid,
                operation_id=f"{prefix}-{i:05d}",
                account=f"00{i:06d}",
                amount=Decimal("1272.26") + i,
                transfer=Decimal("1255.00") + i,
                fee=Decimal("17.26"),
                period=Period(2026, 10),
                service="Содержание жилого помещения",
                tags=tags,
            )
            for i in range(n)
        ]

    return make
