"""The runner's ``[receipts]`` on АТОЛ Онлайн v5's loopback simulator, for the receipt tests.

The simulator itself is the ``atol_simulator`` fixture (conftest.py); this writes the
example configuration with a ``[receipts]`` table pointed at it, loads it with the
register's password in the environment, and opens the real ``atol`` register it names.
Used by test_receipts_fiscal.py and test_cabinet_receipts_fiscal.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pes_sdk_atol.simulator import GROUP_CODE, LOGIN, PASSWORD
from pes_sdk_runner.config.loader import load_runner_config
from pes_sdk_runner.config.models import RunnerConfig
from pes_sdk_runner.receipts import open_register
from runner_proc import ENV, write_config

from pes_sdk.fiscal import FiscalRegister
from pes_sdk.plugins.manager import get_host

__all__ = [
    "PASSWORD_ENV",
    "load_receipts_config",
    "opened_register",
    "receipts_config",
    "receipts_table",
    "write_receipts_config",
]

#: the variable the ``[receipts]`` table reads the register's password from
PASSWORD_ENV = "PES_TEST_ATOL_PASSWORD"


def receipts_table(endpoint: str, *, register: str = "atol", extra: str = "") -> str:
    """A ``[receipts]`` table: the ``register`` (ATOL's settings) at ``endpoint``, one quick
    attempt per call; ``extra`` lines follow it."""
    settings = {
        "login": LOGIN,
        "group_code": GROUP_CODE,
        "inn": "7707083893",
        "sno": "osn",
        "company_email": "receipts@pes.example",
        "payment_address": "https://pay.pes.example",
        "agent_operation": "Оплата ЖКУ",
        "endpoint": endpoint,
        "timeout": "1",
        "attempts": "1",
    }
    inline = ", ".join(f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in settings.items())
    return (
        '[receipts]\nenabled = true\nfee_vat = "vat22"\n'
        f"register = {json.dumps(register)}\n"
        f"settings = {{ {inline} }}\n"
        f'secrets_env = {{ password = "{PASSWORD_ENV}" }}\n{extra}\n'
    )


def write_receipts_config(folder: Path, store_url: str | None, table: str) -> Path:
    """The example configuration in ``folder`` with ``table`` as its ``[receipts]``."""
    path: Path = write_config(
        folder,
        store_url,
        {
            "# [receipts]                               # 54-ФЗ receipts with each payment"
            " (off without this table)": table,
            # Водоканал's receipts name its phone and VAT (ATOL refuses a payment agent's
            # supplier without a phone); УК Дом has no phone configured: its are refused.
            'cutoff = "18:00"': 'cutoff = "18:00"\nreceipt_phone = "+74957654321"\n'
            'receipt_vat = "vat20"',
        },
    )
    return path


def load_receipts_config(path: Path) -> RunnerConfig:
    """The configuration at ``path``, the register's password in its environment."""
    return load_runner_config(path, env={**ENV, PASSWORD_ENV: PASSWORD})


def receipts_config(folder: Path, store_url: str, endpoint: str) -> RunnerConfig:
    """The example configuration with ``[receipts]`` on the ATOL simulator at ``endpoint``."""
    return load_receipts_config(write_receipts_config(folder, store_url, receipts_table(endpoint)))


@contextmanager
def opened_register(config: RunnerConfig) -> Iterator[FiscalRegister]:
    """The register ``config`` names, closed at the end."""
    register = open_register(config, get_host())
    try:
        yield register
    finally:
        register.close()
