"""Fixtures: the official format package, a running simulator, clients pointed at it.

The format package is found at ``$PES_CONTRACTS_DIR/gis-zhkh`` or, by default,
``../shared/contracts/gis-zhkh`` beside the repository. Without it the tests skip with that
reason, except in CI (``CI`` set), where a missing package is an error.

The conformance suite's plugin is active: ``test_conformance.py`` runs its billing family.
"""

from __future__ import annotations

import os
import time
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
        assert s.date_failures == []


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


# -- the command line ---------------------------------------------------------------------

#: PARTNERS.toml of the CLI tests: the service and one partner (the payee of the full form).
PARTNERS = """
version = 1
[service]
name = "ООО «Энергосбыт-Платежи»"
inn = "7701012342"
kpp = "770101001"
{time_zone}
[service.bank]
bik = "044525225"
account = "40702810500000001234"
corr_account = "30101810400000000225"
name = "ПАО Сбербанк"
city = "г. Москва"

[[partners]]
inn = "5003012349"
kpp = "500301001"
name = "ООО «УК Дом»"
[partners.bank]
bik = "044525974"
account = "40702810200000005678"
corr_account = "30101810145250000974"
name = "АО «ТБанк»"
city = "г. Москва"
"""
#: A second partner, for files that name nobody
SECOND_PARTNER = """
[[partners]]
inn = "7720123457"
kpp = "772001001"
name = "АО «Водоканал»"
[partners.bank]
bik = "044525225"
account = "40702810300000009999"
corr_account = "30101810400000000225"
name = "ПАО Сбербанк"
city = "г. Москва"
"""
KEY_ENV = "PES_GIS_TEST_SIGNER_KEY"


@pytest.fixture
def make_env(
    tmp_path: Path, sim: GisSimulator, package: Path, monkeypatch: pytest.MonkeyPatch, signer: Any
) -> Callable[..., Path]:
    """``make_env(batch_size=…, time_zone=…, partners=…, extra=…)``: a GIS.toml for the CLI.

    ``time_zone`` goes to PARTNERS.toml's ``service.time_zone``; ``partners=False`` leaves
    ``partners_file`` out, ``partners=2`` adds a second partner; ``extra`` is appended to
    the ``[gis]`` table.
    """
    monkeypatch.setenv(KEY_ENV, signer._key.decode())

    def make(
        *,
        batch_size: int = 2,
        time_zone: str | None = None,
        partners: int = 1,
        extra: str = "",
    ) -> Path:
        files = ""
        if partners:
            zone = f'time_zone = "{time_zone}"' if time_zone else ""
            text = PARTNERS.replace("{time_zone}", zone) + SECOND_PARTNER * (partners - 1)
            (tmp_path / "PARTNERS.toml").write_text(text, encoding="utf-8")
            files = 'partners_file = "PARTNERS.toml"'
        path = tmp_path / "GIS.toml"
        path.write_text(
            f"""
[gis]
payment_endpoint = "{sim.payment_url}"
metering_endpoint = "{sim.metering_url}"
format_package = "{package}"
org_ppa_guid = "5c1a7e4e-0a3f-4d43-9d1b-0e0f4f0f2a11"
batch_size = {batch_size}
{files}
{extra}
[gis.retry]
initial = 0.01
max_interval = 0.02
[gis.poll]
initial = 0.005
max_interval = 0.01
[gis.signer]
kind = "test-hmac"
key_env = "{KEY_ENV}"
""",
            encoding="utf-8",
        )
        return path

    return make


@pytest.fixture
def env(make_env: Callable[..., Path]) -> Path:
    """GIS.toml with the partners file and two notices a message."""
    return make_env()


@pytest.fixture
def run() -> Callable[..., Any]:
    """``run(*args)``: ``pes …`` in-process, with every plugin; returns click's result."""
    from click.testing import CliRunner

    from pes_sdk.cli.main import cli
    from pes_sdk.plugins import PluginHost

    def invoke(*args: str) -> Any:
        return CliRunner().invoke(cli, list(args), obj=PluginHost(disabled=()))

    return invoke


@pytest.fixture
def host_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """``host_zone("UTC")``: the process's local zone (``TZ``) for the rest of the test."""

    def switch(name: str) -> None:
        monkeypatch.setenv("TZ", name)
        time.tzset()

    yield switch
    monkeypatch.undo()
    time.tzset()
