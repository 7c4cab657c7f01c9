"""`pes runner houses import-csv / import-gar` and what `pes runner status` says of addresses."""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from click.testing import CliRunner, Result
from example_inputs import UK_DOM
from pes_sdk_runner.store import open_store
from runner_proc import ENV, config_of, write_config

from pes_sdk.cli.main import cli
from pes_sdk.models.debts import DebtRecord
from pes_sdk.period import Period
from pes_sdk.premises import Premises

GAR = Path(__file__).parent / "data" / "gar" / "59"
G_LENINA_10 = "a1b2c3d4-0000-4000-8000-000000000100"


def run(args: Sequence[str]) -> Result:
    return CliRunner().invoke(cli, list(args), env=dict(ENV))


def test_import_csv_then_gar_and_status_counts_the_houses(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    csv_file = tmp_path / "houses.csv"
    csv_file.write_text(
        "guid;address\n0c5b2444-70a0-4932-980c-b4dc0d3f02b5;г. Пермь, ул. Мира, д. 1\n",
        encoding="utf-8",
    )
    out = run(["runner", "houses", "import-csv", "--config", str(path), str(csv_file)])
    assert out.exit_code == 0, out.output
    assert "1 houses loaded; the directory holds 1" in out.output

    out = run(["runner", "houses", "import-gar", "--config", str(path), str(GAR)])
    assert out.exit_code == 0, out.output
    assert "10 houses read; 8 loaded, 2 with no street or locality left out" in out.output
    assert "the directory holds 9" in out.output

    state = json.loads(run(["runner", "status", "--config", str(path), "--json"]).output)
    assert state["houses"] == 9
    assert state["not_found_by_address"] == []
    config = config_of(path)
    store = open_store(config.store.url)
    try:
        assert store.house_address(G_LENINA_10) == "Пермский край, г Пермь, ул Ленина, д. 10"
    finally:
        store.close()


def test_bad_input_is_refused_with_its_place_and_no_traceback(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    bad = tmp_path / "houses.csv"
    bad.write_text("guid;address\nnot-a-guid;г. Пермь, ул. Мира, д. 1\n", encoding="utf-8")
    out = run(["runner", "houses", "import-csv", "--config", str(path), str(bad)])
    assert out.exit_code == 1
    assert f"pes: error: {bad}: line 2: guid: not a GUID" in out.stderr
    assert "Traceback" not in out.output

    out = run(["runner", "houses", "import-gar", "--config", str(path), str(tmp_path)])
    assert out.exit_code == 1
    assert "no AS_ADDR_OBJ" in out.stderr


def test_status_names_partners_whose_services_cannot_be_found_by_address(
    tmp_path: Path,
) -> None:
    path = write_config(tmp_path)
    config = config_of(path)
    assert config.store.sqlite_path is not None
    config.store.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    store = open_store(config.store.url)
    try:
        store.upsert_partners(p.partner for p in config.partners)
        # Sberbank's minimal ЛС;ФИО;сумма: no house GUID, no address
        store.ingest_debt_registry(
            UK_DOM,
            Period(2026, 10),
            1,
            [DebtRecord("1001", None, Premises(""), Decimal("10.00"))],
            sha256="a" * 64,
        )
    finally:
        store.close()

    state = json.loads(run(["runner", "status", "--config", str(path), "--json"]).output)
    assert state["not_found_by_address"] == [UK_DOM]
    by_inn = {p["inn"]: p for p in state["partners"]}
    assert by_inn[UK_DOM]["debts_without_address"] == 1

    text = run(["runner", "status", "--config", str(path)])
    assert text.exit_code == 0, text.output
    assert "found by account only: 1 debts have no address" in text.output
    assert "services that cannot be found by address (clients link the account):" in text.output
    name = by_inn[UK_DOM]["name"]
    assert f"  {UK_DOM} {name}" in text.output.splitlines()
