"""Entry point of the АТОЛ Онлайн register: the ``atol`` factory for ``pes_fiscal_registers``.

Nothing heavy is imported here (the plugin host loads this module for every ``pes``
command): the register, httpx and tenacity come in when a register is built.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from pes_sdk.errors import ConfigError
from pes_sdk.fiscal import FiscalRegisterFactory
from pes_sdk.identifiers import check_inn
from pes_sdk.models.receipts import check_customer_email, check_customer_phone
from pes_sdk.notifications.settings import ChannelSettings
from pes_sdk.plugins import hookimpl

if TYPE_CHECKING:
    from pes_sdk_atol.client import AtolRegister

__all__ = ["DEFAULT_PASSWORD_ENV", "SETTINGS", "AtolFactory", "pes_fiscal_registers"]

#: Every setting the factory reads; another one is a mistake it names.
SETTINGS = (
    "login",
    "password",
    "password_env",
    "group_code",
    "inn",
    "sno",
    "company_email",
    "payment_address",
    "agent_operation",
    "agent_phones",
    "operator_phones",
    "endpoint",
    "timeout",
    "attempts",
    "time_zone",
)
#: Where the password is read from when no ``password`` or ``password_env`` is given.
DEFAULT_PASSWORD_ENV = "PES_ATOL_PASSWORD"
_SNO = ("osn", "usn_income", "usn_income_outcome", "esn", "patent")


def _password(values: ChannelSettings) -> str:
    given = values.values.get("password", "")
    if given and values.given("password_env"):
        raise ConfigError("ATOL settings: give 'password' or 'password_env', not both")
    if not given:
        given = values.secret_env("password_env", "password", default=DEFAULT_PASSWORD_ENV)
    if any(c.isspace() or ord(c) < 0x20 for c in given):
        raise ConfigError("the ATOL password has characters it cannot have")
    return given


def _phones(values: ChannelSettings, name: str) -> tuple[str, ...]:
    phones = tuple(p.strip() for p in values.text(name).split(",") if p.strip())
    for phone in phones:
        try:
            check_customer_phone(phone)
        except ValueError:
            raise values.error(name, "phones in E.164 (+79161234567), comma-separated") from None
    return phones


@attrs.frozen
class AtolFactory:
    """Builds АТОЛ Онлайн v5 registers. Settings (strings, as a configuration file gives them):

    * ``login``, ``group_code``: from ATOL's cabinet (the group of registers, e.g.
      ``v5-online-atol-ru_4179``); the password as ``password`` (the value: what the
      runner's ``secrets_env`` hands over) or ``password_env`` (the name of the variable
      holding it, default ``PES_ATOL_PASSWORD``). Never in a log, an error or a ``repr``;
    * the seller on every receipt: ``inn`` (its ИНН), ``sno`` (``osn``, ``usn_income``,
      ``usn_income_outcome``, ``esn`` or ``patent``), ``company_email`` (the address
      receipts come from) and ``payment_address`` (the site the payments are made on);
    * as a payment agent, optionally: ``agent_operation`` (tag 1044, at most 24
      characters), ``agent_phones`` (tag 1073) and ``operator_phones`` (tag 1074), phones
      comma-separated;
    * ``endpoint``: default ``https://online.atol.ru`` (``https://testonline.atol.ru`` is
      ATOL's test service; a simulator's ``http://127.0.0.1:…``: plain http only to
      loopback); ``timeout``: seconds for each call, default 10; ``attempts``: tries of a
      token or a report, 1 to 5, default 3; ``time_zone``: ATOL's times, default
      ``Europe/Moscow``.

    Building a register reads the environment; it touches no network.
    """

    name: str = "atol"
    description: str = "АТОЛ Онлайн API v5 (ФФД 1.2): sell, sell_refund, report by uuid"

    def create(self, settings: Mapping[str, str]) -> AtolRegister:
        from pes_sdk_atol.client import DEFAULT_ENDPOINT, AtolRegister, AtolSettings
        from pes_sdk_atol.wire import Company, PayingAgent

        values = ChannelSettings(
            settings,
            channel="ATOL",
            known=SETTINGS,
            hints={"pass": "the password is 'password' or 'password_env'"},
        )
        login = values.required("login", "the login of ATOL's API")
        password = _password(values)
        group_code = values.required("group_code", "the code of the group of registers")
        if not group_code.replace("-", "").replace("_", "").isalnum() or not group_code.isascii():
            raise values.error("group_code", f"letters, digits, - and _, not {group_code!r}")
        inn = values.required("inn", "the seller's ИНН")
        try:
            check_inn(inn)
        except ValueError as exc:
            raise values.error("inn", str(exc)) from None
        sno = values.choice("sno", _SNO, "")
        email = values.required("company_email", "the e-mail address receipts come from")
        try:
            check_customer_email(email)
        except ValueError as exc:
            raise values.error("company_email", str(exc)) from None
        address = values.required("payment_address", "the site the payments are made on")
        operation = values.text("agent_operation")
        if len(operation) > 24:
            raise values.error("agent_operation", "at most 24 characters (tag 1044)")
        zone = values.text("time_zone", "Europe/Moscow")
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise values.error("time_zone", f"not a time zone: {zone!r}") from None
        return AtolRegister(
            AtolSettings(
                login=login,
                password=password,
                group_code=group_code,
                company=Company(inn=inn, sno=sno, email=email, payment_address=address),
                agent=PayingAgent(
                    operation=operation,
                    phones=_phones(values, "agent_phones"),
                    operator_phones=_phones(values, "operator_phones"),
                ),
                endpoint=values.endpoint(DEFAULT_ENDPOINT),
                timeout=values.timeout(),
                attempts=values.integer("attempts", 3, low=1, high=5),
                time_zone=zone,
            )
        )


@hookimpl
def pes_fiscal_registers() -> Sequence[FiscalRegisterFactory]:
    """The АТОЛ Онлайн cloud register."""
    return [AtolFactory()]
