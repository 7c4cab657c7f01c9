"""The runner's configuration: strict loading into typed models, every problem at once."""

from __future__ import annotations

import copy
import datetime as dt
import os
import re
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pes_sdk_runner.config import (
    CabinetConfig,
    DaemonConfig,
    RunnerConfig,
    RunnerConfigError,
    StoreKind,
    example_config_path,
    load_runner_config,
    parse_runner_config,
)
from pes_sdk_runner.config.loader import keyed
from pes_sdk_runner.config.models import MAX_LOGO_BYTES, logo_media_type
from pes_sdk_runner.i18n import tr

from pes_sdk.errors import ConfigError
from pes_sdk.formats.base import FormatCapabilities, RegistryFormat, RegistryReader
from pes_sdk.i18n import collect_untranslated, translate, using_language
from pes_sdk.models.registry import RegistryKind
from pes_sdk.plugins import hookimpl
from pes_sdk.plugins.manager import PluginHost, get_host

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "runner-config.md"

CLIENT = "client-token-0123456789abcdef"
OPERATOR = "operator-token-0123456789abcdef"
ENV = {"PES_CLIENT_TOKENS": CLIENT, "PES_OPERATOR_TOKENS": OPERATOR}

SERVICE_BANK = {
    "bik": "044525225",
    "account": "40702810500000001234",
    "corr_account": "30101810400000000225",
    "name": "ПАО Сбербанк",
    "city": "г. Москва",
}
TBANK = {
    "bik": "044525974",
    "account": "40702810200000005678",
    "corr_account": "30101810145250000974",
    "name": "АО «ТБанк»",
    "city": "г. Москва",
}
SBER = {
    "bik": "044525225",
    "account": "40702810300000009999",
    "name": "ПАО Сбербанк",
    "city": "г. Москва",
}


def base_config() -> dict[str, Any]:
    """A valid configuration as TOML data, to be changed by each test."""
    return {
        "version": 1,
        "service": {
            "name": "ООО «Энергосбыт-Платежи»",
            "inn": "7701012342",
            "kpp": "770101001",
            "data": "data",
            "bank": dict(SERVICE_BANK),
        },
        "gateway": {"name": "sandbox"},
        "http": {
            "client_tokens_env": "PES_CLIENT_TOKENS",
            "operator_tokens_env": "PES_OPERATOR_TOKENS",
        },
        "partners": [
            {
                "inn": "5003012349",
                "kpp": "500301001",
                "name": "ООО «УК Дом»",
                "bank": dict(TBANK),
                "fee": {"plan": "percent", "rate": Decimal("0.0136")},
                "source": {"kind": "inbox", "folder": "inbox/uk-dom"},
                "format": "sber-debts",
                "channel": {"kind": "outbox", "folder": "outbox/uk-dom", "format": "sber-payments"},
                "cutoff": "20:00",
            },
            {
                "inn": "7720123457",
                "kpp": "772001001",
                "name": "АО «Водоканал»",
                "bank": dict(SBER),
                "fee": {"plan": "subscription", "rate": "1%", "monthly_fee": Decimal("150.00")},
                "source": {
                    "kind": "soap-billing",
                    "settings": {"url": "https://billing.vodokanal.example/soap", "timeout": 10},
                    "secrets_env": {"password": "PES_VODOKANAL_PASSWORD"},
                },
                "channel": {
                    "kind": "soap-billing",
                    "settings": {"url": "https://billing.vodokanal.example/soap"},
                },
                "cutoff": "18:30",
                "empty_registry": True,
                "transfer_format": "1c-directbank",
            },
        ],
    }


# -- a small TOML writer (the stdlib reads TOML but does not write it) ------------------


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | Decimal):
        return str(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, dt.time):
        return v.isoformat()
    if isinstance(v, dict):
        return "{ " + ", ".join(f'"{k}" = {_value(x)}' for k, x in v.items()) + " }"
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    raise TypeError(v)


def to_toml(data: dict[str, Any]) -> str:
    lines = [f'"{k}" = {_value(v)}' for k, v in data.items() if not _is_section(v)]
    for key, value in data.items():
        if isinstance(value, dict):
            lines.append(f"\n[{key}]")
            lines += [f'"{k}" = {_value(v)}' for k, v in value.items()]
        elif _is_section(value):
            for item in value:
                lines.append(f"\n[[{key}]]")
                lines += [f'"{k}" = {_value(v)}' for k, v in item.items()]
    return "\n".join(lines) + "\n"


def _is_section(v: Any) -> bool:
    return isinstance(v, dict) or (
        isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)
    )


def write(tmp_path: Path, data: dict[str, Any], name: str = "runner.toml") -> Path:
    path = tmp_path / name
    path.write_text(to_toml(data), encoding="utf-8")
    return path


def full_env(**more: str) -> dict[str, str]:
    return {**ENV, "PES_VODOKANAL_PASSWORD": "s3cret-soap-password", **more}


def problems_of(
    tmp_path: Path,
    data: dict[str, Any],
    env: dict[str, str] | None = None,
    host: PluginHost | None = None,
) -> RunnerConfigError:
    path = write(tmp_path, data)
    with pytest.raises(RunnerConfigError) as info:
        load_runner_config(path, host, env=full_env() if env is None else env)
    return info.value


# -- a valid file -------------------------------------------------------------------------


def test_valid_config_loads_to_the_models(tmp_path: Path) -> None:
    path = write(tmp_path, base_config())
    config = load_runner_config(path, env=full_env())
    assert isinstance(config, RunnerConfig)
    assert config.path == path
    service = config.service
    assert service.details.inn == "7701012342"
    assert service.details.bank.account == SERVICE_BANK["account"]
    assert service.time_zone == ZoneInfo("Asia/Yekaterinburg")  # the default: Perm
    assert service.data == tmp_path / "data"
    assert config.store.kind is StoreKind.SQLITE
    assert config.store.sqlite_path == tmp_path / "data" / "pes.db"
    assert config.gateway.name == "sandbox"
    assert config.http.host == "127.0.0.1"
    assert config.http.port == 8080
    assert config.http.webhook_path == "/webhooks/sandbox"
    assert (config.http.max_line_amount, config.http.max_basket_amount) == (
        Decimal("1000000.00"),
        Decimal("3000000.00"),
    )
    assert config.http.client_tokens == {CLIENT}
    assert config.http.operator_tokens == {OPERATOR}

    dom, water = config.partners
    assert (dom.inn, dom.kpp, dom.name) == ("5003012349", "500301001", "ООО «УК Дом»")
    assert dom.partner.fee.rate == Decimal("0.0136")
    assert dom.source.is_inbox and dom.source.folder == tmp_path / "data" / "inbox" / "uk-dom"
    assert dom.format == "sber-debts"
    assert dom.channel.is_outbox
    assert dom.channel.folder == tmp_path / "data" / "outbox" / "uk-dom"
    assert dom.channel.format == "sber-payments"
    assert dom.cutoff == dt.time(20, 0)
    assert dom.empty_registry is False
    assert dom.transfer_format is None

    assert water.partner.fee.plan == "subscription"
    assert water.partner.fee.rate == Decimal("0.01")
    assert water.partner.fee.monthly_fee == Decimal("150.00")
    assert water.source.kind == "soap-billing" and water.format is None
    assert water.source.adapter.merged() == {
        "url": "https://billing.vodokanal.example/soap",
        "timeout": "10",
        "password": "s3cret-soap-password",
    }
    assert water.channel.kind == "soap-billing"
    assert water.cutoff == dt.time(18, 30)
    assert water.empty_registry is True
    assert water.transfer_format == "1c-directbank"

    assert config.partner("7720123457") is water
    assert config.partner("5003012349", "500301001") is dom
    assert config.partner("0000000000") is None
    assert config.partners_file.partners == (dom.partner, water.partner)
    # Loading checks folders but creates nothing.
    assert list(tmp_path.iterdir()) == [path]


def test_explicit_values_and_postgresql(tmp_path: Path) -> None:
    data = base_config()
    data["service"]["time_zone"] = "Europe/Moscow"
    data["service"]["data"] = str(tmp_path / "elsewhere")
    data["store"] = {"url": "postgresql://pes:pg-secret-pw@db.example:5432/pes"}
    data["gateway"]["settings"] = {"timeout": "3"}
    data["http"].update({"host": "0.0.0.0", "port": 0, "webhook_path": "/hooks/acq"})
    data["http"].update({"max_line_amount": "50000.00", "max_basket_amount": 70000})
    data["partners"][0]["cutoff"] = dt.time(23, 59)
    env = full_env(PES_CLIENT_TOKENS=f" {CLIENT}, {CLIENT}x ,")
    config = load_runner_config(write(tmp_path, data), env=env)
    assert config.service.time_zone == ZoneInfo("Europe/Moscow")
    assert config.service.data == tmp_path / "elsewhere"
    assert config.store.kind is StoreKind.POSTGRESQL
    assert config.store.sqlite_path is None
    assert config.store.url == "postgresql://pes:pg-secret-pw@db.example:5432/pes"
    assert config.store.display_url == "postgresql://pes:***@db.example:5432/pes"
    assert config.gateway.adapter.settings == {"timeout": "3"}
    assert (config.http.host, config.http.port) == ("0.0.0.0", 0)
    assert config.http.webhook_path == "/hooks/acq"
    assert config.http.max_line_amount == Decimal("50000.00")
    assert config.http.max_basket_amount == Decimal("70000.00")
    assert config.http.client_tokens == {CLIENT, CLIENT + "x"}
    assert config.partners[0].cutoff == dt.time(23, 59)


def test_relative_sqlite_file_is_under_the_data_folder(tmp_path: Path) -> None:
    data = base_config()
    data["store"] = {"url": "sqlite:///db/runner.sqlite"}
    config = load_runner_config(write(tmp_path, data), env=full_env())
    assert config.store.sqlite_path == tmp_path / "data" / "db" / "runner.sqlite"
    data["store"] = {"url": f"sqlite:///{tmp_path / 'abs.db'}"}
    config = load_runner_config(write(tmp_path, data), env=full_env())
    assert config.store.sqlite_path == tmp_path / "abs.db"


def test_secrets_come_from_env_and_never_show(tmp_path: Path) -> None:
    data = base_config()
    data["store"] = {"url": "postgresql://pes:pg-secret-pw@db.example/pes"}
    data["gateway"]["secrets_env"] = {"api_key": "PES_GATEWAY_KEY"}
    env = full_env(PES_GATEWAY_KEY="gateway-api-key-42")
    config = load_runner_config(write(tmp_path, data), env=env)
    assert config.gateway.adapter.merged()["api_key"] == "gateway-api-key-42"
    shown = repr(config) + str(config) + repr(config.http) + str(config.partners[1])
    for secret in (CLIENT, OPERATOR, "s3cret-soap-password", "gateway-api-key-42", "pg-secret-pw"):
        assert secret not in shown
    assert "PES_CLIENT_TOKENS" in shown  # the variable's name is not a secret
    assert "postgresql://pes:***@db.example/pes" in shown


def test_secrets_written_in_the_file_are_refused(tmp_path: Path) -> None:
    data = base_config()
    data["http"]["client_tokens"] = [CLIENT]
    error = problems_of(tmp_path, data)
    assert error.keys == ("http.client_tokens",)
    assert "name an environment variable in http.client_tokens_env" in error.problems[0]
    assert CLIENT not in str(error)


def test_data_folder_can_be_replaced(tmp_path: Path) -> None:
    path = write(tmp_path, base_config())
    config = load_runner_config(path, env=full_env(), data=tmp_path / "run")
    assert config.service.data == tmp_path / "run"
    assert config.partners[0].source.folder == tmp_path / "run" / "inbox" / "uk-dom"
    assert config.store.sqlite_path == tmp_path / "run" / "pes.db"


def test_minimal_config_takes_the_defaults(tmp_path: Path) -> None:
    data = base_config()
    del data["gateway"], data["version"], data["service"]["data"]
    data["partners"] = []
    config = load_runner_config(write(tmp_path, data), env=ENV)
    assert config.gateway.name == "sandbox"
    assert config.service.data == tmp_path / "data"
    assert config.store.url == f"sqlite:///{tmp_path / 'data' / 'pes.db'}"
    assert config.partners == ()
    assert config.daemon == DaemonConfig()


def test_daemon_defaults() -> None:
    d = DaemonConfig()
    assert d.enabled is True
    assert (d.scan_interval, d.poll_interval, d.file_min_age) == (60, 3600, 10)
    assert (d.close_grace, d.catch_up_days) == (60, 7)
    assert (d.delivery_interval, d.delivery_max_attempts) == (300, 10)


def test_daemon_table_is_read(tmp_path: Path) -> None:
    data = base_config()
    data["daemon"] = {
        "enabled": False,
        "scan_interval": Decimal("0.5"),
        "poll_interval": 900,
        "file_min_age": 0,
        "close_grace": 300,
        "catch_up_days": 0,
        "delivery_interval": 60,
        "delivery_max_attempts": 3,
    }
    config = load_runner_config(write(tmp_path, data), env=full_env())
    assert config.daemon == DaemonConfig(
        enabled=False,
        scan_interval=0.5,
        poll_interval=900.0,
        file_min_age=0.0,
        close_grace=300.0,
        catch_up_days=0,
        delivery_interval=60.0,
        delivery_max_attempts=3,
    )
    # A partial table keeps the defaults of the keys it leaves out.
    data["daemon"] = {"close_grace": 0}
    partial = load_runner_config(write(tmp_path, data), env=full_env())
    assert partial.daemon == DaemonConfig(close_grace=0.0)


def test_every_daemon_problem_is_listed_with_the_others(tmp_path: Path) -> None:
    data = base_config()
    data["daemon"] = {
        "scan_interval": 0,
        "close_grace": "60",
        "catch_up_days": Decimal("1.5"),
        "delivery_max_attempts": 0,
        "enabled": "yes",
        "scan_intervall": 5,
    }
    data["http"]["port"] = 70000
    error = problems_of(tmp_path, data)
    assert set(error.keys) == {
        "daemon.scan_interval",
        "daemon.close_grace",
        "daemon.catch_up_days",
        "daemon.delivery_max_attempts",
        "daemon.enabled",
        "daemon.scan_intervall",
        "http.port",
    }
    assert len(error.problems) == len(error.keys)


# -- the example and the documentation ---------------------------------------------------


def test_shipped_example_loads(tmp_path: Path) -> None:
    config = load_runner_config(example_config_path(), env=ENV, data=tmp_path)
    assert config.gateway.name == "sandbox"
    assert config.store.sqlite_path == tmp_path / "pes.db"
    assert len(config.partners) == 3
    assert {p.partner.fee.plan for p in config.partners} == {"percent", "subscription"}
    assert {p.format for p in config.partners} == {"sber-debts", "pes-debts"}
    assert {p.channel.format for p in config.partners} == {"sber-payments", "pes-payments"}
    for p in config.partners:
        assert p.source.is_inbox and p.channel.is_outbox
        assert p.source.folder is not None and p.source.folder.is_relative_to(tmp_path)
        assert p.channel.folder is not None and p.channel.folder.is_relative_to(tmp_path)
    assert list(tmp_path.iterdir()) == []


def _doc_example() -> str:
    blocks = re.findall(r"```toml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    return str(blocks[0])


def test_documented_example_is_the_shipped_one_and_loads(tmp_path: Path) -> None:
    text = _doc_example()
    assert text == example_config_path().read_text(encoding="utf-8")
    config = parse_runner_config(text, base=tmp_path, env=ENV)
    assert config.service.data == tmp_path / "data"


def test_documentation_names_every_key() -> None:
    doc = DOC.read_text(encoding="utf-8")
    keys = [
        "version", "service.name", "service.inn", "service.kpp", "service.bank",
        "service.directbank_id", "service.purpose", "service.time_zone", "service.data",
        "store.url", "gateway.name", "gateway.settings", "gateway.secrets_env", "http.host",
        "http.port", "http.client_tokens_env", "http.operator_tokens_env", "http.webhook_path",
        "http.max_line_amount", "http.max_basket_amount", "http.qr_per_minute", "http.qr_per_day",
        "cabinet.secret_env", "cabinet.idle_timeout", "cabinet.absolute_timeout",
        "cabinet.codes_per_phone_10min", "cabinet.codes_per_phone_day",
        "cabinet.codes_per_ip_hour", "cabinet.link_failures_per_hour", "cabinet.sms.channel",
        "cabinet.sms.settings", "cabinet.sms.secrets_env", "cabinet.service_name",
        "cabinet.primary_color", "cabinet.accent_color", "cabinet.logo",
        "partners[i].inn", "partners[i].kpp", "partners[i].name", "partners[i].bank",
        "partners[i].fee", "partners[i].source.kind", "partners[i].source.folder",
        "partners[i].source.settings", "partners[i].source.secrets_env", "partners[i].format",
        "partners[i].channel.kind", "partners[i].channel.folder", "partners[i].channel.format",
        "partners[i].channel.settings", "partners[i].channel.secrets_env",
        "partners[i].cutoff", "partners[i].empty_registry", "partners[i].transfer_format",
        "partners[i].readings_format", "partners[i].receipt_phone", "partners[i].receipt_vat",
        "receipts.enabled", "receipts.fee_vat",
        "daemon.enabled", "daemon.scan_interval", "daemon.poll_interval", "daemon.file_min_age",
        "daemon.close_grace", "daemon.catch_up_days", "daemon.delivery_interval",
        "daemon.delivery_max_attempts", "daemon.payment_check_interval",
        "daemon.payment_check_after", "daemon.payment_check_window", "daemon.lease_ttl",
        "store.group_commit",
    ]  # fmt: skip
    missing = [k for k in keys if f"`{k}`" not in doc]
    assert missing == []


# -- every problem at once ---------------------------------------------------------------


def test_many_problems_are_listed_together(tmp_path: Path) -> None:
    data = base_config()
    data["colour"] = "blue"
    data["service"]["inn"] = "7701012343"
    data["service"]["time_zone"] = "Asia/Perm"
    data["store"] = {"url": "mysql://db/pes"}
    data["gateway"]["name"] = "paypal"
    data["http"]["port"] = 70000
    dom, water = data["partners"]
    dom["bank"]["account"] = "40702810200000005679"
    dom["fee"]["plan"] = "flat"
    dom["format"] = "sber-payments"
    dom["channel"] = {"kind": "sftp", "host": "partner.example"}
    dom["cutoff"] = "25:00"
    water["source"]["secrets_env"] = {"password": "PES_NOT_SET"}
    water["format"] = "pes-debts"
    water["empty_registry"] = "yes"
    water["transfer_format"] = "sber-payments"
    data["partners"].append({**copy.deepcopy(water), "source": {"kind": "ftp"}})
    error = problems_of(tmp_path, data, env={})
    assert set(error.keys) == {
        "colour",
        "service.inn",
        "service.time_zone",
        "store.url",
        "gateway.name",
        "http.port",
        "http.client_tokens_env",
        "http.operator_tokens_env",
        "partners[0].bank.account",
        "partners[0].fee.plan",
        "partners[0].format",
        "partners[0].channel.kind",
        "partners[0].cutoff",
        "partners[1].source.secrets_env.password",
        "partners[1].format",
        "partners[1].empty_registry",
        "partners[1].transfer_format",
        "partners[2].source.kind",
        "partners[2].inn",
        "partners[2].empty_registry",
        "partners[2].transfer_format",
    }
    assert len(error.problems) == len(error.keys)
    assert isinstance(error, ConfigError)
    text = str(error)
    assert text.startswith(f"{tmp_path / 'runner.toml'}: {len(error.problems)} problems:")
    assert (
        "partners[0].channel.kind: no delivery channel named 'sftp' "
        "(installed: gis-zhkh, outbox, soap-billing)" in error.problems
    )


# -- each kind of problem ----------------------------------------------------------------

Change = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Change:
    def change(data: dict[str, Any]) -> None:
        *head, last = re.findall(r"[^.\[\]]+", path)
        node: Any = data
        for part in head:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value

    return change


def _del(path: str) -> Change:
    def change(data: dict[str, Any]) -> None:
        *head, last = re.findall(r"[^.\[\]]+", path)
        node: Any = data
        for part in head:
            node = node[int(part)] if part.isdigit() else node[part]
        del node[last]

    return change


CASES: list[tuple[str, Change, str, str]] = [
    ("unknown key", _set("service.colour", "x"), "service.colour", "unknown key"),
    ("version", _set("version", 2), "version", "reads version 1"),
    ("version type", _set("version", True), "version", "is an integer"),
    (
        "secret in settings",
        _set("partners[1].source.settings", {"url": "u", "password": "p"}),
        "partners[1].source.settings.password",
        "name an environment variable in partners[1].source.secrets_env",
    ),
    (
        "key in settings",
        _set("gateway.settings", {"api_key": "k"}),
        "gateway.settings.api_key",
        "secrets are not written in the file",
    ),
    ("missing service", _del("service"), "service", "missing"),
    ("missing http", _del("http"), "http", "missing"),
    ("bad ИНН", _set("partners[0].inn", "5003012340"), "partners[0].inn", "check digits"),
    ("ИНН as a number", _set("partners[0].inn", 5003012349), "partners[0].inn", "as text"),
    ("missing name", _del("service.name"), "service.name", "missing"),
    (
        "account control key",
        _set("service.bank.account", "40702810500000001235"),
        "service.bank.account",
        "control key",
    ),
    ("bad КПП", _set("service.kpp", "7701"), "service.kpp", "КПП"),
    # A legal entity (10-digit ИНН) without КПП cannot be reported to ГИС ЖКХ in full form.
    ("service КПП", _del("service.kpp"), "service.kpp", "legal entity (10-digit ИНН)"),
    ("partner КПП", _del("partners[1].kpp"), "partners[1].kpp", "legal entity (10-digit ИНН)"),
    # A bank file shows each bank by name and city (ПлательщикБанк1/Банк2, Bank/City).
    ("bank city", _del("service.bank.city"), "service.bank.city", "missing"),
    ("partner bank city", _del("partners[0].bank.city"), "partners[0].bank.city", "missing"),
    ("bank name", _del("partners[1].bank.name"), "partners[1].bank.name", "missing"),
    ("long city", _set("service.bank.city", "г. " + "Я" * 28), "service.bank.city", "at most 30"),
    ("time zone", _set("service.time_zone", "Mars/Olympus"), "service.time_zone", "time zone"),
    ("data not text", _set("service.data", 5), "service.data", "is text"),
    ("store scheme", _set("store", {"url": "redis://x"}), "store.url", "unsupported store 'redis'"),
    ("store key", _set("store", {"path": "x"}), "store.path", "unknown key"),
    ("gateway", _set("gateway.name", "paypal"), "gateway.name", "installed: sandbox"),
    ("gateway setting", _set("gateway.settings", {"x": [1]}), "gateway.settings", "text or"),
    ("port", _set("http.port", "80"), "http.port", "is an integer"),
    ("host", _set("http.host", ""), "http.host", "is empty"),
    ("webhook path", _set("http.webhook_path", "hooks"), "http.webhook_path", "starting with"),
    ("line limit bool", _set("http.max_line_amount", True), "http.max_line_amount", "as text"),
    ("line limit cents", _set("http.max_line_amount", "1.001"), "http.max_line_amount", "two"),
    ("line limit zero", _set("http.max_line_amount", "0"), "http.max_line_amount", "above 0"),
    (
        "basket limit huge",
        _set("http.max_basket_amount", "1000000000000.00"),
        "http.max_basket_amount",
        "at most 1000000000.00",
    ),
    ("basket limit nan", _set("http.max_basket_amount", "nan"), "http.max_basket_amount", "two"),
    ("env name", _set("http.client_tokens_env", "A-B"), "http.client_tokens_env", "not an env"),
    ("no token env", _del("http.operator_tokens_env"), "http.operator_tokens_env", "missing"),
    ("fee plan", _set("partners[0].fee.plan", "flat"), "partners[0].fee.plan", "unknown fee"),
    ("fee rate", _set("partners[0].fee.rate", "150%"), "partners[0].fee.rate", "[0, 1)"),
    (
        "service's account",
        _set("partners[0].bank", dict(SERVICE_BANK)),
        "partners[0].bank.account",
        "service's own account",
    ),
    ("source not a table", _set("partners[0].source", 1), "partners[0].source", "is a table"),
    (
        "unknown source",
        _set("partners[0].source", {"kind": "ftp"}),
        "partners[0].source.kind",
        "no billing source named 'ftp' (installed: inbox, soap-billing)",
    ),
    (
        "inbox key",
        _set("partners[0].source", {"kind": "inbox", "folder": "in", "settings": {}}),
        "partners[0].source.settings",
        "unknown key",
    ),
    (
        "inbox without folder",
        _set("partners[0].source", {"kind": "inbox"}),
        "partners[0].source.folder",
        "missing",
    ),
    ("empty format", _set("partners[0].format", ""), "partners[0].format", "is empty"),
    (
        "unknown format",
        _set("partners[0].format", "csv-debts"),
        "partners[0].format",
        "no registry format named 'csv-debts'",
    ),
    (
        "format of another kind",
        _set("partners[0].format", "pes-payments"),
        "partners[0].format",
        "holds payments, not debts",
    ),
    (
        "format for a billing source",
        _set("partners[1].format", "pes-debts"),
        "partners[1].format",
        "only an inbox source",
    ),
    (
        "unknown channel",
        _set("partners[0].channel.kind", "sftp"),
        "partners[0].channel.kind",
        "no delivery channel named 'sftp' (installed: gis-zhkh, outbox, soap-billing)",
    ),
    (
        "outbox format kind",
        _set("partners[0].channel.format", "sber-debts"),
        "partners[0].channel.format",
        "holds debts, not payments",
    ),
    (
        "channel setting",
        _set("partners[1].channel.settings", {"retry": True}),
        "partners[1].channel.settings",
        "not a boolean",
    ),
    (
        "secret env not set",
        _set("partners[1].channel.secrets_env", {"password": "PES_NOPE"}),
        "partners[1].channel.secrets_env.password",
        "PES_NOPE is not set",
    ),
    (
        "setting and secret",
        _set(
            "partners[1].source",
            {
                "kind": "soap-billing",
                "settings": {"url": "u", "login": "p"},
                "secrets_env": {"login": "PES_VODOKANAL_PASSWORD"},
            },
        ),
        "partners[1].source.settings.login",
        "secrets_env too",
    ),
    ("cutoff", _set("partners[0].cutoff", "8:00"), "partners[0].cutoff", "HH:MM"),
    ("cutoff seconds", _set("partners[0].cutoff", dt.time(8, 0, 1)), "partners[0].cutoff", "whole"),
    ("cutoff as a number", _set("partners[0].cutoff", 1800), "partners[0].cutoff", "is text"),
    ("empty_registry", _set("partners[0].empty_registry", 1), "partners[0].empty_registry", "true"),
    (
        "transfer format",
        _set("partners[0].transfer_format", "pes-payments"),
        "partners[0].transfer_format",
        "holds payments, not transfers",
    ),
    ("partner not a table", _set("partners[1]", "x"), "partners[1]", "is a table"),
    ("daemon not a table", _set("daemon", 60), "daemon", "is a table"),
    ("daemon unknown key", _set("daemon", {"grace": 60}), "daemon.grace", "allowed here: catch_up"),
    (
        "daemon interval zero",
        _set("daemon", {"scan_interval": 0}),
        "daemon.scan_interval",
        "from 0.1 to 86400, not 0",
    ),
    (
        "daemon interval text",
        _set("daemon", {"delivery_interval": "5m"}),
        "daemon.delivery_interval",
        "is a number of seconds, not text",
    ),
    (
        "daemon grace too long",
        _set("daemon", {"close_grace": 86400}),
        "daemon.close_grace",
        "from 0 to 21600",
    ),
    (
        "daemon negative age",
        _set("daemon", {"file_min_age": -1}),
        "daemon.file_min_age",
        "from 0 to 3600",
    ),
    (
        "catch-up days fraction",
        _set("daemon", {"catch_up_days": Decimal("2.5")}),
        "daemon.catch_up_days",
        "whole number of days, not a number",
    ),
    (
        "catch-up days too many",
        _set("daemon", {"catch_up_days": 400}),
        "daemon.catch_up_days",
        "from 0 to 366",
    ),
    (
        "attempts zero",
        _set("daemon", {"delivery_max_attempts": 0}),
        "daemon.delivery_max_attempts",
        "from 1 to 1000",
    ),
    ("daemon enabled", _set("daemon", {"enabled": 1}), "daemon.enabled", "true or false"),
    ("partners not an array", _set("partners", "x"), "partners", "array of tables"),
]


@pytest.mark.parametrize(
    ("change", "key", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_each_problem_is_named_by_its_key(
    tmp_path: Path, change: Change, key: str, message: str
) -> None:
    data = base_config()
    change(data)
    error = problems_of(tmp_path, data)
    assert key in error.keys, error.problems
    found = [p for p in error.problems if p.startswith(f"{key}: ")]
    assert any(message in p for p in found), found


def test_missing_required_keys(tmp_path: Path) -> None:
    data = base_config()
    dom = data["partners"][0]
    del dom["source"], dom["channel"], dom["cutoff"], dom["format"]
    error = problems_of(tmp_path, data)
    assert set(error.keys) == {
        "partners[0].source",
        "partners[0].channel",
        "partners[0].cutoff",
    }
    dom["source"] = {"kind": "inbox", "folder": "in"}
    error = problems_of(tmp_path, data)
    assert "partners[0].format: missing" in error.problems


def test_duplicate_inn_and_kpp(tmp_path: Path) -> None:
    data = base_config()
    twin = copy.deepcopy(data["partners"][0])
    twin["source"]["folder"] = "inbox/twin"
    twin["channel"]["folder"] = "outbox/twin"
    data["partners"].append(twin)
    error = problems_of(tmp_path, data)
    assert error.problems == (
        "partners[2].inn: ИНН 5003012349 КПП 500301001 is already partners[0]",
    )
    twin["kpp"] = "500302001"  # a branch with its own КПП is another partner
    assert len(load_runner_config(write(tmp_path, data), env=full_env()).partners) == 3


def test_colliding_folders(tmp_path: Path) -> None:
    data = base_config()
    data["partners"][1]["source"] = {"kind": "inbox", "folder": "outbox/uk-dom"}
    data["partners"][1]["format"] = "pes-debts"
    data["partners"][1]["channel"] = {
        "kind": "outbox",
        "folder": "inbox/uk-dom/water",
        "format": "pes-payments",
    }
    error = problems_of(tmp_path, data)
    assert error.keys == ("partners[1].source.folder", "partners[1].channel.folder")
    assert "clashes with partners[0].channel.folder" in error.problems[0]
    assert "clashes with partners[0].source.folder" in error.problems[1]


def test_inbox_and_outbox_of_one_partner_collide(tmp_path: Path) -> None:
    data = base_config()
    data["partners"][0]["channel"]["folder"] = "inbox/uk-dom"
    error = problems_of(tmp_path, data)
    assert error.keys == ("partners[0].channel.folder",)


def test_folders_that_cannot_be_made(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    data = base_config()
    data["service"]["data"] = "a-file"
    data["partners"][0]["source"]["folder"] = str(tmp_path / "a-file" / "in")
    data["partners"][0]["channel"]["folder"] = str(tmp_path / "out")
    error = problems_of(tmp_path, data)
    # One cause, one problem: the default SQLite file under service.data is not reported.
    assert set(error.keys) == {"service.data", "partners[0].source.folder"}
    assert "exists and is not a folder" in error.problems[0]


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_folders_that_are_not_writable(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        data = base_config()
        data["partners"][0]["channel"]["folder"] = str(locked / "out")
        error = problems_of(tmp_path, data)
        assert error.keys == ("partners[0].channel.folder",)
        assert "is not writable" in error.problems[0]
    finally:
        locked.chmod(0o700)


def test_tokens_must_be_set_long_and_separate(tmp_path: Path) -> None:
    data = base_config()
    error = problems_of(tmp_path, data, env=full_env(PES_CLIENT_TOKENS=" , "))
    assert error.problems == (
        "http.client_tokens_env: environment variable PES_CLIENT_TOKENS is not set "
        "or holds no token",
    )
    error = problems_of(tmp_path, data, env=full_env(PES_OPERATOR_TOKENS="short"))
    assert error.keys == ("http.operator_tokens_env",)
    assert "shorter than 16" in error.problems[0] and "short," not in str(error)
    error = problems_of(tmp_path, data, env=full_env(PES_OPERATOR_TOKENS=f"{OPERATOR},{CLIENT}"))
    assert error.keys == ("http.operator_tokens_env",)
    assert CLIENT not in str(error)


class _WriteOnlyDebts(RegistryFormat):
    name = "write-only-debts"
    kind = RegistryKind.DEBTS
    capabilities = FormatCapabilities(read=False)

    def open(self, path: Path, **kwargs: Any) -> RegistryReader:
        raise NotImplementedError


class _WriteOnlyPlugin:
    @hookimpl
    def pes_registry_formats(self) -> Sequence[RegistryFormat]:
        return [_WriteOnlyDebts()]


def test_format_that_cannot_read(tmp_path: Path) -> None:
    host = PluginHost()
    host.register(_WriteOnlyPlugin(), name="write-only")
    data = base_config()
    data["partners"][0]["format"] = "write-only-debts"
    error = problems_of(tmp_path, data, host=host)
    assert error.problems == ("partners[0].format: format 'write-only-debts' cannot read",)


def test_default_gateway_must_be_installed(tmp_path: Path) -> None:
    host = PluginHost(entry_points=False)  # the core alone: no gateway, no formats
    data = base_config()
    del data["gateway"]
    data["partners"] = []
    error = problems_of(tmp_path, data, host=host)
    assert error.problems == (
        "gateway.name: missing, and the default 'sandbox' is not installed (installed: none)",
    )


def test_unreadable_files(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(RunnerConfigError, match="cannot be read"):
        load_runner_config(missing)
    bad = tmp_path / "bad.toml"
    bad.write_bytes("name = 'Водоканал'".encode("cp1251"))
    with pytest.raises(RunnerConfigError, match="not UTF-8"):
        load_runner_config(bad)
    bad.write_text("[service\n", encoding="utf-8")
    with pytest.raises(RunnerConfigError, match="not valid TOML") as info:
        load_runner_config(bad)
    assert info.value.path == bad


def test_default_host_is_the_process_host(tmp_path: Path) -> None:
    # No host given: the process-wide one names what is installed.
    assert "soap-billing" in get_host().billing_sources()
    config = load_runner_config(write(tmp_path, base_config()), env=full_env())
    assert config.partners[1].source.kind == "soap-billing"


# Found by fuzzing the configuration (issue 13): each was a traceback from
# `pes runner check` (InvalidOperation on comparing NaN, ValueError from urlsplit,
# RuntimeError from expanduser, decimal errors and RecursionError from the parser).
@pytest.mark.parametrize(
    ("find", "put", "problem"),
    [
        (
            re.compile(r"(?m)^scan_interval = \S+"),
            "scan_interval = nan",
            "nan is not a number (nan and inf are not accepted)",
        ),
        (
            re.compile(r"(?m)^scan_interval = \S+"),
            "scan_interval = 1e9999999999999999999",
            "the number 1e9999999999999999999 is out of range",
        ),
        (re.compile(r'(?m)^url = "[^"]*"'), 'url = "//["', "store.url: is not a URL"),
        (
            re.compile(r'(?m)^data = "[^"]*"'),
            'data = "~nobody-has-this-name"',
            "service.data: '~nobody-has-this-name' starts with a home folder",
        ),
        (re.compile(r"(?m)^version = 1$"), "version = " + "[" * 500 + "]" * 500, "nested more"),
    ],
    ids=["nan-seconds", "huge-exponent", "bad-url", "unknown-home", "deep-arrays"],
)
def test_hostile_values_are_problems_not_tracebacks(
    tmp_path: Path, find: re.Pattern[str], put: str, problem: str
) -> None:
    text = example_config_path().read_text(encoding="utf-8")
    changed = find.sub(put, text, count=1)
    assert changed != text
    with pytest.raises(RunnerConfigError) as caught:
        parse_runner_config(changed, base=tmp_path, env=ENV)
    assert any(problem in p for p in caught.value.problems), caught.value.problems


# -- in Russian (issue 13) ---------------------------------------------------------------

_CYRILLIC = re.compile("[А-Яа-яЁё]")


class _PaymentsWithoutServices(RegistryFormat):
    name = "payments-without-services"
    kind = RegistryKind.PAYMENTS
    capabilities = FormatCapabilities()

    def open(self, path: Path, **kwargs: Any) -> RegistryReader:
        raise NotImplementedError


class _ReadOnlyPayments(RegistryFormat):
    name = "read-only-payments"
    kind = RegistryKind.PAYMENTS
    capabilities = FormatCapabilities(write=False)

    def open(self, path: Path, **kwargs: Any) -> RegistryReader:
        raise NotImplementedError


class _OddFormatsPlugin:
    @hookimpl
    def pes_registry_formats(self) -> Sequence[RegistryFormat]:
        return [_WriteOnlyDebts(), _PaymentsWithoutServices(), _ReadOnlyPayments()]


def _twin(data: dict[str, Any]) -> None:
    twin = copy.deepcopy(data["partners"][0])
    twin["source"]["folder"] = "inbox/twin"
    twin["channel"]["folder"] = "outbox/twin"
    data["partners"].append(twin)


def _clash(data: dict[str, Any]) -> None:
    data["partners"][1]["source"] = {"kind": "inbox", "folder": "outbox/uk-dom"}
    data["partners"][1]["format"] = "pes-debts"


def _lost_services(debts: str) -> Change:
    def change(data: dict[str, Any]) -> None:
        data["partners"][0]["format"] = debts
        data["partners"][0]["channel"]["format"] = "payments-without-services"

    return change


#: Problems the cases of test_each_problem_is_named_by_its_key leave out, one per kind.
MORE_CASES: list[tuple[str, Change, dict[str, str] | None]] = [
    ("twin partner", _twin, None),
    ("clashing folders", _clash, None),
    ("no tokens", lambda d: None, full_env(PES_CLIENT_TOKENS=" , ")),
    ("short token", lambda d: None, full_env(PES_OPERATOR_TOKENS="short")),
    ("operator is client", lambda d: None, full_env(PES_OPERATOR_TOKENS=f"{OPERATOR},{CLIENT}")),
    ("token in the file", _set("http.client_tokens", "x" * 20), None),
    ("format cannot read", _set("partners[0].format", "write-only-debts"), None),
    ("format cannot write", _set("partners[0].channel.format", "read-only-payments"), None),
    ("one service lost", _lost_services("sber-debts"), None),
    ("two services lost", _lost_services("1c-xml-debts"), None),
    ("sqlite url", _set("store", {"url": "sqlite://"}), None),
    ("postgresql url", _set("store", {"url": "postgresql://"}), None),
    ("store group commit", _set("store", {"group_commit": "yes"}), None),
    ("port range", _set("http.port", 70000), None),
    ("port type", _set("http.port", Decimal("80.5")), None),
    ("env map", _set("gateway.secrets_env", {"api_key": 5}), None),
    ("env map type", _set("gateway.secrets_env", ["x"]), None),
    ("settings type", _set("gateway.settings", "x"), None),
    ("http missing", _set("http", "x"), None),
    ("attempts type", _set("daemon", {"delivery_max_attempts": "ten"}), None),
    ("limit as a list", _set("http.max_line_amount", [1]), None),
    ("limit as a time", _set("http.max_line_amount", dt.time(1, 2)), None),
    ("bad url", _set("store", {"url": "//["}), None),
]


def _in_russian(error: RunnerConfigError) -> list[str]:
    """Every problem of ``error`` and its whole text are said in Russian, none left English."""
    with using_language("ru"), collect_untranslated() as missed:
        shown = [translate(p) for p in error.problems]
        whole = translate(str(error))
    assert missed == [], missed
    for english, russian in zip(error.problems, shown, strict=True):
        assert russian != english and _CYRILLIC.search(russian), russian
    assert "проблем" in whole.splitlines()[0], whole
    assert str(error) == "\n  ".join([str(error).splitlines()[0], *error.problems])
    return shown


@pytest.mark.parametrize(
    ("change", "env"),
    [(c[1], None) for c in CASES] + [(c[1], c[2]) for c in MORE_CASES],
    ids=[c[0] for c in CASES] + [c[0] for c in MORE_CASES],
)
def test_each_problem_reads_in_russian(
    tmp_path: Path, change: Change, env: dict[str, str] | None
) -> None:
    host = PluginHost()
    host.register(_OddFormatsPlugin(), name="odd-formats")
    data = base_config()
    change(data)
    error = problems_of(tmp_path, data, env=env, host=host)
    shown = _in_russian(error)
    # the key paths stay as they are, in front
    assert tuple(p.split(": ", 1)[0] for p in shown) == error.keys


def test_folder_problems_read_in_russian(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    data = base_config()
    data["service"]["data"] = "a-file"
    data["partners"][0]["source"]["folder"] = str(tmp_path / "a-file" / "in")
    data["store"] = {"url": f"sqlite:///{tmp_path / 'a-file' / 'db' / 'pes.db'}"}
    _in_russian(problems_of(tmp_path, data))
    data = base_config()
    data["service"]["data"] = "~nobody-has-this-name"
    _in_russian(problems_of(tmp_path, data))


def test_file_problems_read_in_russian(tmp_path: Path) -> None:
    with pytest.raises(RunnerConfigError) as info:
        load_runner_config(tmp_path / "nope.toml")
    _in_russian(info.value)
    bad = tmp_path / "bad.toml"
    bad.write_bytes("name = 'Водоканал'".encode("cp1251"))
    with pytest.raises(RunnerConfigError) as info:
        load_runner_config(bad)
    _in_russian(info.value)
    bad.write_text("[service\n", encoding="utf-8")
    with pytest.raises(RunnerConfigError) as info:
        load_runner_config(bad)
    _in_russian(info.value)
    with pytest.raises(RunnerConfigError) as info:
        parse_runner_config("version = 2\n", env=ENV, host=PluginHost(entry_points=False))
    _in_russian(info.value)
    assert translate(str(info.value), "ru").startswith("конфигурация исполнителя: ")


def test_the_problem_count_agrees_in_russian(tmp_path: Path) -> None:
    heads = {}
    for count in (1, 2, 5, 21):
        error = RunnerConfigError(None, [keyed("version", tr("missing"))] * count)
        heads[count] = translate(str(error), "ru").splitlines()[0]
    assert heads == {
        1: "конфигурация исполнителя: 1 проблема:",
        2: "конфигурация исполнителя: 2 проблемы:",
        5: "конфигурация исполнителя: 5 проблем:",
        21: "конфигурация исполнителя: 21 проблема:",
    }
    assert str(RunnerConfigError(None, ["a: b"] * 2)).startswith(
        "runner configuration: 2 problems:"
    )


# -- [cabinet] ----------------------------------------------------------------------------

CABINET_SECRET = "k" * 32
_S = {"S": CABINET_SECRET}


def test_without_a_cabinet_section_the_runner_has_none(tmp_path: Path) -> None:
    config = load_runner_config(write(tmp_path, base_config()), env=full_env())
    assert config.cabinet is None


def test_the_cabinet_section_with_its_defaults(tmp_path: Path) -> None:
    data = base_config()
    data["cabinet"] = {"secret_env": "PES_CABINET_SECRET"}
    config = load_runner_config(
        write(tmp_path, data), env=full_env(PES_CABINET_SECRET=CABINET_SECRET)
    )
    cabinet = config.cabinet
    assert cabinet is not None
    assert cabinet.secret == CABINET_SECRET and CABINET_SECRET not in repr(config)
    assert (cabinet.sms_channel, cabinet.idle_timeout, cabinet.absolute_timeout) == (
        "outbox",
        1800.0,
        43200.0,
    )
    assert cabinet.sms.settings == {
        "path": str(config.service.data / "outbox" / "sms.jsonl"),
    }
    defaults = CabinetConfig(CABINET_SECRET)
    assert (cabinet.codes_per_phone_10min, cabinet.codes_per_phone_day) == (3, 10)
    assert cabinet.codes_per_ip_hour == defaults.codes_per_ip_hour
    assert cabinet.link_failures_per_hour == 5


def test_the_cabinet_section_read_in_full(tmp_path: Path) -> None:
    data = base_config()
    data["cabinet"] = {
        "secret_env": "MY_CABINET_SECRET",
        "idle_timeout": 600,
        "absolute_timeout": 3600,
        "codes_per_phone_10min": 2,
        "codes_per_phone_day": 5,
        "codes_per_ip_hour": 100,
        "link_failures_per_hour": 3,
        "sms": {"channel": "outbox", "settings": {"path": "sms/codes.jsonl"}},
    }
    config = load_runner_config(
        write(tmp_path, data), env=full_env(MY_CABINET_SECRET=CABINET_SECRET)
    )
    assert config.cabinet == CabinetConfig(
        CABINET_SECRET,
        "MY_CABINET_SECRET",
        "outbox",
        config.cabinet.sms if config.cabinet else None,  # type: ignore[arg-type]
        600.0,
        3600.0,
        2,
        5,
        100,
        3,
    )
    assert config.cabinet is not None
    assert config.cabinet.sms.settings["path"] == str(config.service.data / "sms" / "codes.jsonl")


def test_the_cabinets_branding_is_read_and_the_logo_found_beside_the_file(
    tmp_path: Path,
) -> None:
    (tmp_path / "brand").mkdir()
    (tmp_path / "brand" / "logo.svg").write_text('<?xml version="1.0"?>\n<svg xmlns="x"/>')
    data = base_config()
    data["cabinet"] = {
        "secret_env": "S",
        "service_name": "ЕРЦ Пермь",
        "primary_color": "#7A1F5C",
        "accent_color": "#4d123a",
        "logo": "brand/logo.svg",
    }
    config = load_runner_config(write(tmp_path, data), env=full_env(**_S))
    cabinet = config.cabinet
    assert cabinet is not None
    assert (cabinet.service_name, cabinet.primary_color, cabinet.accent_color) == (
        "ЕРЦ Пермь",
        "#7a1f5c",
        "#4d123a",
    )
    assert cabinet.logo == tmp_path / "brand" / "logo.svg"
    defaults = CabinetConfig(CABINET_SECRET)
    assert (defaults.service_name, defaults.primary_color, defaults.logo) == (
        "Личный кабинет",
        "#0b6b4f",
        None,
    )


def test_logo_types_are_told_by_their_bytes() -> None:
    assert logo_media_type(b"\x89PNG\r\n\x1a\nrest") == "image/png"
    assert logo_media_type(b"\xff\xd8\xff\xe0rest") == "image/jpeg"
    assert logo_media_type(b'\xef\xbb\xbf  <svg xmlns="x"/>') == "image/svg+xml"
    assert logo_media_type(b"<html><body>no</body></html>") is None
    assert logo_media_type(b"GIF89a") is None


@pytest.mark.parametrize(
    ("cabinet", "env", "key", "says"),
    [
        ({}, {}, "cabinet.secret_env", "missing"),
        ({"secret_env": "NOPE"}, {}, "cabinet.secret_env", "NOPE is not set"),
        ({"secret_env": "S"}, {"S": "short"}, "cabinet.secret_env", "shorter than 32"),
        ({"secret_env": "S", "secret": "x" * 40}, _S, "cabinet.secret", "environment"),
        ({"secret_env": "S", "idle_timeout": 10}, _S, "cabinet.idle_timeout", "60"),
        (
            {"secret_env": "S", "idle_timeout": 7200, "absolute_timeout": 3600},
            _S,
            "cabinet.idle_timeout",
            "absolute_timeout",
        ),
        ({"secret_env": "S", "codes_per_phone_day": 0}, _S, "cabinet.codes_per_phone_day", "1"),
        ({"secret_env": "S", "sms": {"channel": "pigeon"}}, _S, "cabinet.sms.channel", "pigeon"),
        ({"secret_env": "S", "colour": "red"}, _S, "cabinet.colour", "unknown key"),
        ({"secret_env": "S", "primary_color": "red"}, _S, "cabinet.primary_color", "#rrggbb"),
        ({"secret_env": "S", "accent_color": "#12345"}, _S, "cabinet.accent_color", "#rrggbb"),
        ({"secret_env": "S", "service_name": "x" * 61}, _S, "cabinet.service_name", "60"),
        ({"secret_env": "S", "logo": "nope.png"}, _S, "cabinet.logo", "cannot read"),
        ({"secret_env": "S", "logo": "logo.gif"}, _S, "cabinet.logo", "PNG, SVG or JPEG"),
        ({"secret_env": "S", "logo": "big.png"}, _S, "cabinet.logo", "larger than 262144"),
    ],
)
def test_cabinet_problems_are_reported_by_key(
    tmp_path: Path, cabinet: dict[str, Any], env: dict[str, str], key: str, says: str
) -> None:
    data = base_config()
    data["cabinet"] = cabinet
    (tmp_path / "logo.gif").write_bytes(b"GIF89a" + b"\x00" * 32)
    (tmp_path / "big.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * MAX_LOGO_BYTES)
    error = problems_of(tmp_path, data, env=full_env(**env))
    found = [p for p in error.problems if p.startswith(key)]
    assert found, error.problems
    assert says in found[0]
