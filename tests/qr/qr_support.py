"""What the QR tests share: identifiers with the right check digits, made independently of
:mod:`pes_sdk.identifiers` (so that a broken validator cannot agree with a broken helper)."""

from __future__ import annotations

import os

import pytest

_INN10 = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12_11 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12_12 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)


def _check_digit(digits: str, weights: tuple[int, ...]) -> str:
    return str(sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11 % 10)


def inn10(nine: str) -> str:
    """A 10-digit ИНН: nine digits and their check digit."""
    return nine + _check_digit(nine, _INN10)


def inn12(ten: str) -> str:
    """A 12-digit ИНН: ten digits and their two check digits."""
    eleven = ten + _check_digit(ten, _INN12_11)
    return eleven + _check_digit(eleven, _INN12_12)


def keyed(account: str, bic: str, *, corr: bool = False) -> str:
    """``account`` with the control key (its 9th digit) right for ``bic``.

    A settlement account is keyed with the БИК's last three digits, or with ``0`` and its
    5th-6th digits at a Bank of Russia division (БИК ending 000-002); a correspondent
    account always with the latter.
    """
    division = corr or bic[6:] in ("000", "001", "002")
    prefix = "0" + bic[4:6] if division else bic[6:]
    zeroed = account[:8] + "0" + account[9:]
    s = sum(int(d) * w for d, w in zip(prefix + zeroed, (7, 1, 3) * 8, strict=False))
    # the key is digit 12 of the 23, weight 3, and 3 × 7 ≡ 1 (mod 10)
    key = (-(s % 10) * 7) % 10
    return account[:8] + str(key) + account[9:]


def zxing_or_skip() -> object:
    """zxing-cpp (the qr-image extra), or a skip: but CI must have it, so there it fails."""
    if os.environ.get("CI"):
        import zxingcpp

        return zxingcpp
    return pytest.importorskip("zxingcpp", reason="the qr-image extra (zxing-cpp) reads codes")
