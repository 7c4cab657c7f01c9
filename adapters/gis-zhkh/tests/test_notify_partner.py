"""``pes gis notify`` finds the payee as ``pes settle`` does (issue 11).

``--partner``, else the registry's header, else an ИНН in the file name, else the only
partner of PARTNERS.toml. The full form cannot go without a payee: that is said up front
(exit 2) and nothing is sent, instead of every notice coming back "not sent".
"""

from __future__ import annotations

import datetime as dt

from pes_sdk_gis_zhkh import order_id

from pes_sdk.models.registry import RegistryHeader, RegistryKind
from pes_sdk.operations import resolve_format
from pes_sdk.plugins import PluginHost

OPERATION = "importNotificationsOfOrderExecution"


def _registry(tmp_path, records, name):
    fmt = resolve_format("pes-payments", PluginHost(disabled=()))
    header = RegistryHeader(kind=RegistryKind.PAYMENTS, date=dt.date(2026, 11, 2), number=1)
    path = tmp_path / name
    fmt.write(path, header, records)
    return path


def _notify(run, registry, config, *more):
    return run(
        "gis", "notify", str(registry), "--format", "pes-payments", "--config", str(config), *more
    )


def _ids(records):
    return {order_id(r.operation_id, r.account, r.service) for r in records}


def test_the_inn_in_the_file_name_names_the_payee(tmp_path, sim, make_env, run, make_records):
    config = make_env(partners=2)
    records = make_records(3)
    # not the format's own name template: only the ИНН in it tells whose registry it is
    registry = _registry(tmp_path, records, "5003012349_payments_2026-11-02.csv")
    result = _notify(run, registry, config)

    assert result.exit_code == 0, result.output
    assert "accepted 3" in result.output
    assert set(sim.accepted_order_ids) == _ids(records)


def test_the_only_partner_is_the_payee(tmp_path, sim, env, run, make_records):
    records = make_records(2)
    result = _notify(run, _registry(tmp_path, records, "payments.csv"), env)
    assert result.exit_code == 0, result.output
    assert set(sim.accepted_order_ids) == _ids(records)


def test_partner_with_kpp(tmp_path, sim, env, run, make_records):
    registry = _registry(tmp_path, make_records(1), "payments.csv")
    result = _notify(run, registry, env, "--partner", "5003012349/500301001")
    assert result.exit_code == 0, result.output


def test_no_payee_is_a_usage_error_and_nothing_is_sent(tmp_path, sim, make_env, run, make_records):
    config = make_env(partners=2)
    result = _notify(run, _registry(tmp_path, make_records(2), "payments.csv"), config)
    assert result.exit_code == 2, result.output
    assert "cannot tell whose registry this is" in result.output
    assert "give --partner" in result.output
    assert sim.calls[OPERATION] == 0


def test_an_unknown_partner_is_named(tmp_path, sim, env, run, make_records):
    registry = _registry(tmp_path, make_records(1), "payments.csv")
    result = _notify(run, registry, env, "--partner", "7707083893")
    assert result.exit_code == 2
    assert "partner 7707083893 (from --partner)" in result.output
    assert sim.calls[OPERATION] == 0


def test_the_full_form_without_a_partners_file_says_so(tmp_path, sim, make_env, run, make_records):
    config = make_env(partners=0)
    result = _notify(run, _registry(tmp_path, make_records(1), "payments.csv"), config)
    assert result.exit_code == 2
    assert "set partners_file in GIS.toml" in result.output
    assert sim.calls[OPERATION] == 0


def test_the_short_form_needs_no_payee(tmp_path, sim, make_env, run, make_records):
    tags = (
        ("GIS_SERVICE_ID", "1234567890123"),
        ("GIS_SERVICE_GUID", "0f0e2b8e-3c3a-4f57-8d1e-5b7c6a2e9d01"),
    )
    config = make_env(partners=0, extra='form = "short"')
    records = make_records(2, tags=tags)
    result = _notify(run, _registry(tmp_path, records, "payments.csv"), config)
    assert result.exit_code == 0, result.output
    assert set(sim.accepted_order_ids) == _ids(records)
