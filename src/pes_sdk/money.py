"""Money: exact amounts in roubles with two places, and the one rounding rule of the kit.

Every amount in pes-sdk is a :class:`decimal.Decimal` with exactly two places. A float is
never an amount: it cannot hold 0.10 exactly, so :func:`amount` raises :class:`TypeError`
for one. Rounding happens only where money is *computed* (a percentage, a VAT share), always
half-up to the kopeck (:data:`ROUNDING`), the rule of Russian tax and 1C practice; values that
are *given* (read from a file, passed by a caller) are never rounded silently: a third
decimal place is an error.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from pes_sdk.i18n import tr

__all__ = [
    "CENT",
    "ROUNDING",
    "ZERO",
    "allocate",
    "amount",
    "from_kopecks",
    "parse_amount",
    "round_money",
    "to_kopecks",
]

#: The kopeck: every amount is quantized to this exponent.
CENT = Decimal("0.01")
#: The only rounding mode used for money in pes-sdk (never banker's rounding).
ROUNDING = ROUND_HALF_UP
#: Zero roubles, with two places.
ZERO = Decimal("0.00")

# A written amount: optional minus, up to 15 integer digits, up to two decimals after a dot
# or comma. No exponent, no thousands separators, no spaces: files that need more use a
# dialect that says so.
# re.ASCII: \d alone also matches other scripts' digits ("١٢"), which are no amount.
_AMOUNT_TEXT = re.compile(r"-?\d{1,15}(?:[.,]\d{1,2})?", re.ASCII)
_AMOUNT_TEXT_DOT = re.compile(r"-?\d{1,15}(?:\.\d{1,2})?", re.ASCII)


def amount(value: Decimal | int | str) -> Decimal:
    """Return ``value`` as an amount: a ``Decimal`` with exactly two places.

    Accepts a ``Decimal`` or an ``int`` (roubles), or a string with a decimal *dot*
    (``"1272.26"``). Raises :class:`TypeError` for a float (or a bool), and
    :class:`ValueError` for a value that is not finite or has more than two decimal places:
    use :func:`round_money` to round a computed value on purpose.
    """
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, bool | float):
        raise TypeError(
            f"an amount cannot be a {type(value).__name__} ({value!r}); "
            "use Decimal or a string such as '10.50'"
        )
    elif isinstance(value, int):
        # Through the checks below: a huge int must be a ValueError, not InvalidOperation.
        d = Decimal(value)
    elif isinstance(value, str):
        if not _AMOUNT_TEXT_DOT.fullmatch(value):
            raise ValueError(
                tr(
                    "not an amount: {value!r} (expected digits with up to two decimals)",
                    value=value,
                )
            )
        return Decimal(value).quantize(CENT)
    else:
        raise TypeError(f"an amount cannot be a {type(value).__name__}")
    if not d.is_finite():
        raise ValueError(tr("an amount must be finite, not {d}", d=d))
    try:
        q = d.quantize(CENT)
    except InvalidOperation as exc:
        raise ValueError(tr("amount out of range: {d}", d=d)) from exc
    if q != d:
        raise ValueError(tr("an amount has at most two decimal places, not {d}", d=d))
    return q


def parse_amount(text: str, *, decimal_comma: bool = True) -> Decimal:
    """Parse an amount written in a file: ``"1272,26"`` or ``"1272.26"`` or ``"-5"``.

    A decimal comma is accepted only here, where files are read. Raises
    :class:`ValueError` naming the text when it is not an amount.
    """
    pattern = _AMOUNT_TEXT if decimal_comma else _AMOUNT_TEXT_DOT
    if not pattern.fullmatch(text):
        raise ValueError(tr("not an amount: {text!r}", text=text))
    return Decimal(text.replace(",", ".")).quantize(CENT)


def round_money(value: Decimal) -> Decimal:
    """Round a computed value half-up to the kopeck."""
    if not isinstance(value, Decimal):
        raise TypeError(f"round_money takes a Decimal, not {type(value).__name__}")
    return value.quantize(CENT, rounding=ROUNDING)


def to_kopecks(value: Decimal) -> int:
    """An amount as an integer number of kopecks (formats such as ГИС ЖКХ and QR use them)."""
    return int(amount(value) * 100)


def from_kopecks(kopecks: int) -> Decimal:
    """An integer number of kopecks as an amount."""
    if isinstance(kopecks, bool) or not isinstance(kopecks, int):
        raise TypeError(f"kopecks are an int, not {type(kopecks).__name__}")
    return (Decimal(kopecks) / 100).quantize(CENT)


def allocate(total: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """Split ``total`` over ``weights`` in proportion, exact to the kopeck.

    Largest-remainder method: every share is first rounded down to the kopeck, then the
    kopecks left over go one each to the shares with the largest remainders (the earlier
    share wins a tie, so the result is deterministic). The shares always sum to ``total``.
    Weights must be non-negative amounts; a zero weight gets a zero share.
    """
    total_k = to_kopecks(total)
    weight_k = [to_kopecks(w) for w in weights]
    if any(w < 0 for w in weight_k):
        raise ValueError("weights must not be negative")
    whole = sum(weight_k)
    if not weight_k:
        if total_k:
            raise ValueError("cannot allocate a non-zero total over no weights")
        return []
    if whole == 0:
        if total_k:
            raise ValueError("cannot allocate a non-zero total over zero weights")
        return [ZERO for _ in weight_k]
    sign = -1 if total_k < 0 else 1
    magnitude = abs(total_k)
    shares = []
    remainders = []
    for i, w in enumerate(weight_k):
        q, r = divmod(magnitude * w, whole)
        shares.append(q)
        remainders.append((-r, i))
    left = magnitude - sum(shares)
    for _, i in sorted(remainders)[:left]:
        shares[i] += 1
    return [from_kopecks(sign * s) for s in shares]
