"""The ``atol`` factory: found through its entry point, built from settings, checked."""

from __future__ import annotations

import pytest
from pes_sdk_atol import DEFAULT_PASSWORD_ENV, AtolFactory
from pes_sdk_atol.client import AtolRegister
from pes_sdk_atol.samples import basket
from pes_sdk_atol.simulator import GROUP_CODE, LOGIN, PASSWORD, AtolSimulator

from pes_sdk.errors import ConfigError
from pes_sdk.fiscal import FiscalRegister, FiscalRegisterFactory
from pes_sdk.plugins import PluginHost


def config(simulator: AtolSimulator | None = None, /, **changes: str) -> dict[str, str]:
    values = {
        "login": LOGIN,
        "password_env": "TEST_ATOL_PASSWORD",
        "group_code": GROUP_CODE,
        "inn": "7707083893",
        "sno": "osn",
        "company_email": "receipts@pes.example",
        "payment_address": "https://pay.pes.example",
        "agent_operation": "Оплата ЖКУ",
        "agent_phones": "+74950000001, +74950000002",
        "operator_phones": "+74950000003",
        "endpoint": simulator.endpoint if simulator else "https://testonline.atol.ru",
        "timeout": "5",
    }
    values.update(changes)
    return {k: v for k, v in values.items() if v != "-"}


@pytest.fixture(autouse=True)
def password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_ATOL_PASSWORD", PASSWORD)


def test_the_entry_point_provides_the_atol_register() -> None:
    host = PluginHost()
    factory = host.fiscal_registers()["atol"]
    assert isinstance(factory, AtolFactory) and isinstance(factory, FiscalRegisterFactory)
    assert host.provider_of("pes_fiscal_registers", "atol") == "atol"
    assert not [f for f in host.failures if f.name == "atol"]


def test_a_register_built_from_settings_registers_a_receipt(simulator: AtolSimulator) -> None:
    register = AtolFactory().create(config(simulator))
    assert isinstance(register, FiscalRegister) and isinstance(register, AtolRegister)
    assert register.settings.agent.phones == ("+74950000001", "+74950000002")
    uuid = register.register(basket(), "pay-2001-1")
    body = simulator.documents["pay-2001-1"].body["receipt"]
    assert body["company"]["inn"] == "7707083893"
    assert body["items"][0]["agent_info"]["receive_payments_operator"] == {
        "phones": ["+74950000003"]
    }
    assert register.report(uuid) is None
    register.close()


def test_building_touches_no_network() -> None:
    # the endpoint is ATOL's test service: building must not call it
    register = AtolFactory().create(config())
    assert register.tokens_issued == 0
    assert PASSWORD not in repr(register) and PASSWORD not in repr(register.settings)
    register.close()


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"pass": "x"}, "'password' or 'password_env'"),
        ({"inn": "7707083890"}, "'inn'"),
        ({"sno": "envd"}, "'sno'"),
        ({"sno": "-"}, "'sno'"),
        ({"company_email": "касса@пример.рф"}, "'company_email'"),
        ({"group_code": "-"}, "'group_code'"),
        ({"group_code": "a/b"}, "'group_code'"),
        ({"endpoint": "http://online.atol.ru"}, "'endpoint'"),
        ({"timeout": "0"}, "'timeout'"),
        ({"attempts": "9"}, "'attempts'"),
        ({"agent_phones": "8 495 000-00-01"}, "'agent_phones'"),
        ({"agent_operation": "Приём платежей за жилищно-коммунальные услуги"}, "'agent_operation'"),
        ({"time_zone": "Mars/Olympus"}, "'time_zone'"),
    ],
)
def test_a_wrong_setting_is_refused_by_name(changes: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        AtolFactory().create(config(**changes))


def test_the_password_comes_from_the_environment_and_is_never_quoted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TEST_ATOL_PASSWORD")
    with pytest.raises(ConfigError, match="TEST_ATOL_PASSWORD") as missing:
        AtolFactory().create(config())
    assert PASSWORD not in str(missing.value)
    monkeypatch.setenv(DEFAULT_PASSWORD_ENV, PASSWORD)
    register = AtolFactory().create(config(password_env="-"))
    assert register.settings.password == PASSWORD
    with pytest.raises(ConfigError, match="not both"):
        AtolFactory().create(config(password="given-Value-1"))
    register.close()
