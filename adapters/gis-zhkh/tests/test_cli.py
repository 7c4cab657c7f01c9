"""``pes gis notify`` and ``pes gis lookup`` end to end against the simulator."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from click.testing import CliRunner
from pes_sdk_gis_zhkh import order_id
from pes_sdk_gis_zhkh.simulator import SimDocument

from pes_sdk.cli.main import cli
from pes_sdk.models.registry import RegistryHeader, RegistryKind
from pes_sdk.operations import resolve_format
from pes_sdk.plugins import PluginHost

HOUSE = "5b1e3c4d-2a6f-4e8b-9c0d-1e2f3a4b5c6d"


def _run(*args):
    return CliRunner().invoke(cli, list(args), obj=PluginHost(disabled=()))


def _registry(tmp_path, records):
    fmt = resolve_format("pes-payments", PluginHost(disabled=()))
    header = RegistryHeader(
        kind=RegistryKind.PAYMENTS, partner_inn="5003012349", date=dt.date(2026, 11, 2), number=1
    )
    path = tmp_path / "payments.csv"
    fmt.write(path, header, records)
    return path


def test_notify_end_to_end_and_again(tmp_path, sim, env, make_records):
    records = make_records(5)
    reg = _registry(tmp_path, records)
    first = _run(
        "gis",
        "notify",
        str(reg),
        "--format",
        "pes-payments",
        "--config",
        str(env),
        "--partner",
        "5003012349",
    )
    assert first.exit_code == 0, first.output
    assert "accepted 5" in first.output
    assert sim.batch_sizes == [2, 2, 1]
    ids = {order_id(r.operation_id, r.account, r.service) for r in records}
    assert set(sim.accepted_order_ids) == ids
    assert (
        sim.order_amounts[order_id(records[0].operation_id, records[0].account, records[0].service)]
        == 127226
    )

    again = _run(
        "gis",
        "notify",
        str(reg),
        "--format",
        "pes-payments",
        "--config",
        str(env),
        "--partner",
        "5003012349",
        "--json",
    )
    assert again.exit_code == 0, again.output
    data = json.loads(again.output)
    assert data["counts"]["already_reported"] == 5
    assert set(sim.accepted_order_ids.values()) == {1}


def test_notify_reports_refusals_with_exit_1(tmp_path, sim, env, make_records):
    records = make_records(2)
    bad = order_id(records[0].operation_id, records[0].account, records[0].service)
    sim.item_errors[bad] = ("SRV008010", "Получатель не найден")
    reg = _registry(tmp_path, records)
    result = _run(
        "gis",
        "notify",
        str(reg),
        "--format",
        "pes-payments",
        "--config",
        str(env),
        "--partner",
        "5003012349",
    )
    assert result.exit_code == 1
    assert f"{bad}: refused: SRV008010: Получатель не найден" in result.output


def test_notify_exchange_failure_exit_3(tmp_path, sim, env, make_records):
    sim.fail_next("importNotificationsOfOrderExecution", count=10)
    reg = _registry(tmp_path, make_records(1))
    result = _run(
        "gis",
        "notify",
        str(reg),
        "--format",
        "pes-payments",
        "--config",
        str(env),
        "--partner",
        "5003012349",
    )
    assert result.exit_code == 3
    assert "HTTP 503" in result.output
    assert "Traceback" not in result.output


def test_lookup_table_and_json(sim, env):
    sim.add_document(
        SimDocument(
            house_guid=HOUSE,
            premises="12",
            account="0012345",
            els="12АБ123456",
            payment_document_id="12АБ123456-01-6101",
            executor_inn="5003012349",
            executor_kpp="500301001",
            executor_name="ООО «УК Дом»",
            bik="044525974",
            bank_account="40702810200000005678",
            bank_name="АО «ТБанк»",
            amount_due=Decimal("1272.26"),
        )
    )
    table = _run(
        "gis",
        "lookup",
        "--house",
        HOUSE,
        "--premises",
        "кв. 12",
        "--account",
        "0012345",
        "--config",
        str(env),
    )
    assert table.exit_code == 0, table.output
    assert "ООО «УК Дом»" in table.output and "1272.26" in table.output
    assert "total due: 1272.26" in table.output

    raw = _run("gis", "lookup", "--els", "12АБ123456", "--config", str(env), "--json")
    assert raw.exit_code == 0, raw.output
    data = json.loads(raw.output)
    assert data["total_due"] == "1272.26"
    assert data["documents"][0]["payees"][0]["bik"] == "044525974"

    none = _run("gis", "lookup", "--ipd", "99ЯЯ000000-01-0000", "--config", str(env))
    assert none.exit_code == 0 and "nothing found" in none.output


def test_lookup_usage_errors(sim, env):
    both = _run("gis", "lookup", "--house", HOUSE, "--els", "12АБ123456", "--config", str(env))
    assert both.exit_code == 2 and "exactly one" in both.output
    no_account = _run("gis", "lookup", "--house", HOUSE, "--premises", "12", "--config", str(env))
    assert no_account.exit_code == 2 and "account" in no_account.output
    missing = _run("gis", "lookup", "--els", "12АБ123456", "--config", "/nonexistent/GIS.toml")
    assert missing.exit_code == 2 and "cannot read" in missing.output


def test_without_the_plugin_there_is_no_gis_command(tmp_path):
    """`pes gis` comes from this adapter's plugin: the core knows nothing of ГИС ЖКХ."""
    from click.testing import CliRunner

    from pes_sdk.cli.main import cli
    from pes_sdk.plugins import PluginHost

    host = PluginHost(disabled={"gis-zhkh"})
    result = CliRunner().invoke(cli, ["gis", "--help"], obj=host)
    assert result.exit_code == 2 and "No such command 'gis'" in result.output
    listed = CliRunner().invoke(cli, ["--help"], obj=PluginHost())
    assert "gis" in listed.output
