"""Money as the cabinet's pages show and read it: ``1 500,50 руб.``; typed with a comma or a
point (``1500,5``, ``1 500.50``), read exactly as a Decimal, never a float."""

from __future__ import annotations

import re
from decimal import Decimal

from pes_sdk.money import CENT

__all__ = ["AmountError", "parse_rub", "rub", "rub_input"]

# Up to 12 digits before the separator (the basket limits are far below) and two after.
_TYPED = re.compile(r"([0-9]{1,12})(?:[.,]([0-9]{1,2}))?")
# Spaces people and browsers put between thousands: space, no-break space, narrow no-break.
_SPACES = re.compile(r"[ \u00a0\u202f]")
_NBSP = "\u00a0"


class AmountError(ValueError):
    """A typed amount the cabinet does not take; its message is shown to the client."""


def parse_rub(text: str) -> Decimal:
    """The amount a client typed: digits, and a comma or a point before at most two
    decimals; spaces between thousands are ignored. :class:`AmountError` (in Russian)
    otherwise, or for zero."""
    bare = _SPACES.sub("", text.strip())
    match = _TYPED.fullmatch(bare)
    if match is None:
        raise AmountError("Введите сумму цифрами, например 1500,50")
    whole, cents = match.group(1), match.group(2) or "0"
    value = Decimal(f"{whole}.{cents}").quantize(CENT)
    if value <= 0:
        raise AmountError("Сумма должна быть больше нуля")
    return value


def _grouped(value: Decimal) -> str:
    sign = "-" if value < 0 else ""
    whole, _, cents = f"{abs(value.quantize(CENT)):f}".partition(".")
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    return f"{sign}{_NBSP.join(groups)},{cents}"


def rub(value: Decimal) -> str:
    """``1 500,50 руб.`` (no-break spaces: the amount never wraps apart)."""
    return f"{_grouped(value)}{_NBSP}руб."


def rub_input(value: Decimal) -> str:
    """The amount as an input field's value: ``1500,50`` (no spaces: easy to edit)."""
    return f"{value.quantize(CENT):f}".replace(".", ",")
