"""The cloud fiscal register contract: its values, its errors and the host's hook."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal

import attrs
import pytest

from pes_sdk.errors import PesError
from pes_sdk.fiscal import (
    FiscalAttributes,
    FiscalError,
    FiscalRegister,
    FiscalRegisterFactory,
    FiscalUnavailable,
    ReceiptFailed,
    ReceiptRefused,
)
from pes_sdk.models.receipts import Receipt
from pes_sdk.plugins import PluginHost, hookimpl

MSK = dt.timezone(dt.timedelta(hours=3))


def attributes(**changes: object) -> FiscalAttributes:
    values: dict[str, object] = {
        "fn": "9999078902004181",
        "fd": 133,
        "fp": 3449555941,
        "shift": 23,
        "receipt_number": 6,
        "registered_at": dt.datetime(2026, 12, 7, 10, 15, tzinfo=MSK),
        "total": "1598.10",
    }
    values.update(changes)
    return FiscalAttributes(**values)  # type: ignore[arg-type]


def test_fiscal_attributes_hold_exact_money_and_an_aware_time() -> None:
    made = attributes(check_url="https://ofd.example.ru/rec/1")
    assert made.total == Decimal("1598.10") and made.check_url == "https://ofd.example.ru/rec/1"
    with pytest.raises(ValueError, match="time zone"):
        attributes(registered_at=dt.datetime(2026, 12, 7, 10, 15))
    with pytest.raises(TypeError, match="float"):
        attributes(total=1598.1)
    with pytest.raises(ValueError, match="fn"):
        attributes(fn="9999-0789")
    with pytest.raises(ValueError, match="fd"):
        attributes(fd=-1)
    with pytest.raises(ValueError, match="check_url"):
        attributes(check_url="javascript:alert(1)")


def test_errors_say_what_the_caller_may_do() -> None:
    refused = ReceiptRefused("bad", register="atol", code="32", field="receipt.total")
    assert (str(refused), refused.field, refused.code) == ("atol: bad", "receipt.total", "32")
    for error in (FiscalUnavailable, ReceiptRefused, ReceiptFailed):
        assert issubclass(error, FiscalError) and issubclass(error, PesError)
    assert not issubclass(ReceiptFailed, ReceiptRefused)


class MemoryRegister:
    """A register in memory: the host's collecting is what is tested, not a protocol."""

    name = "memory"

    def register(self, receipt: Receipt, external_id: str) -> str:
        return external_id

    def refund(self, receipt: Receipt, external_id: str) -> str:
        return external_id

    def report(self, uuid: str) -> FiscalAttributes | None:
        return None

    def close(self) -> None:
        pass


@attrs.frozen
class MemoryFactory:
    name: str = "memory"
    description: str = "in memory"

    def create(self, settings: Mapping[str, str]) -> FiscalRegister:
        return MemoryRegister()


class Provider:
    def __init__(self, *items: object) -> None:
        self.items = items

    @hookimpl
    def pes_fiscal_registers(self) -> Sequence[object]:
        return list(self.items)


def test_the_host_collects_fiscal_registers_and_refuses_other_things() -> None:
    host = PluginHost(entry_points=False)
    assert host.register(Provider(MemoryFactory(), "not a factory"), name="mem")
    assert host.register(Provider(MemoryFactory()), name="second")
    factories = host.fiscal_registers()
    assert list(factories) == ["memory"]
    assert isinstance(factories["memory"], FiscalRegisterFactory)
    assert isinstance(factories["memory"].create({}), FiscalRegister)
    assert host.provider_of("pes_fiscal_registers", "memory") == "mem"
    errors = [f.error for f in host.failures]
    assert any("not FiscalRegisterFactory" in e for e in errors)
    assert any("'memory' is already provided" in e for e in errors)
    assert "pes_fiscal_registers" in host.hook_names
