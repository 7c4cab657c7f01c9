"""Validators of Russian identifiers: ИНН, КПП, БИК, bank accounts, ЕЛС, GUIDs, accounts.

Each ``check_*`` function returns the value in its canonical form or raises
:class:`ValueError` with a message that says what is wrong. They check form and check digits
only: whether an ИНН belongs to a real company is not something a checksum can tell.
"""

from __future__ import annotations

import re

from pes_sdk.i18n import tr

__all__ = [
    "check_bank_account",
    "check_bik",
    "check_corr_account",
    "check_els",
    "check_guid",
    "check_inn",
    "check_kpp",
    "check_personal_account",
]

_INN10_WEIGHTS = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12_WEIGHTS_11 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12_WEIGHTS_12 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_ACCOUNT_WEIGHTS = (7, 1, 3) * 8  # 23 digits used: 3 from the БИК + 20 of the account

# re.ASCII: without it \d accepts fullwidth or Arabic-Indic digits ("７７０７…").
_DIGITS = re.compile(r"\d+", re.ASCII)
_KPP = re.compile(r"\d{4}[0-9A-Z]{2}\d{3}", re.ASCII)
_ELS = re.compile(r"\d{2}[А-Я]{2}\d{6}", re.ASCII)
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# A personal account is partner-specific text; it must survive a `;`-separated file, a
# spreadsheet and an XML attribute unchanged, so separators and control characters are out.
_PERSONAL_ACCOUNT = re.compile(r"[^\x00-\x1f\x7f;|\"]{1,30}")


def _weighted(digits: str, weights: tuple[int, ...]) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights, strict=False))


def check_inn(value: str) -> str:
    """An ИНН: 10 digits (organisation) or 12 (person or sole trader), check digits right."""
    if not isinstance(value, str) or not _DIGITS.fullmatch(value) or len(value) not in (10, 12):
        raise ValueError(tr("an ИНН is 10 or 12 digits, not {value!r}", value=value))
    if len(value) == 10:
        ok = _weighted(value, _INN10_WEIGHTS) % 11 % 10 == int(value[9])
    else:
        ok = _weighted(value, _INN12_WEIGHTS_11) % 11 % 10 == int(value[10]) and _weighted(
            value, _INN12_WEIGHTS_12
        ) % 11 % 10 == int(value[11])
    if not ok:
        raise ValueError(tr("ИНН {value} has wrong check digits", value=value))
    return value


def check_kpp(value: str) -> str:
    """A КПП: 9 characters, 4 digits, 2 digits or capital Latin letters, 3 digits."""
    if not isinstance(value, str) or not _KPP.fullmatch(value):
        raise ValueError(tr("a КПП is 9 characters (NNNNPPNNN), not {value!r}", value=value))
    return value


def check_bik(value: str) -> str:
    """A БИК: 9 digits."""
    if not isinstance(value, str) or not _DIGITS.fullmatch(value) or len(value) != 9:
        raise ValueError(tr("a БИК is 9 digits, not {value!r}", value=value))
    return value


def _twenty_digits(value: str, what: str) -> str:
    if not isinstance(value, str) or not _DIGITS.fullmatch(value) or len(value) != 20:
        raise ValueError(tr("{what} is 20 digits, not {value!r}", what=what, value=value))
    return value


def _key_ok(prefix: str, account: str) -> bool:
    return _weighted(prefix + account, _ACCOUNT_WEIGHTS) % 10 == 0


def check_bank_account(account: str, bik: str) -> str:
    """A settlement account (р/с) whose control key agrees with the bank's БИК.

    The key covers the last three digits of the БИК and the 20 digits of the account; for an
    account kept at a Bank of Russia division (БИК ending in 000–002) it covers ``0`` and the
    5th–6th digits of the БИК instead. A treasury account (казначейский счёт, ``03…``) at a
    Treasury body (ТОФК, БИК ``01…``) is numbered by the Treasury, not by that key: budget
    and municipal bills pay into such accounts (the ЕНП's ``03100643000000018500``), so only
    its form is checked.
    """
    _twenty_digits(account, tr("a bank account (р/с)"))
    check_bik(bik)
    if account.startswith("03") and bik.startswith("01"):
        return account
    prefix = "0" + bik[4:6] if bik[6:] in ("000", "001", "002") else bik[6:]
    if not _key_ok(prefix, account):
        raise ValueError(
            tr(
                "bank account {account} fails its control key with БИК {bik}",
                account=account,
                bik=bik,
            )
        )
    return account


def check_corr_account(account: str, bik: str) -> str:
    """A correspondent account (к/с) whose control key agrees with the bank's БИК."""
    _twenty_digits(account, tr("a correspondent account (к/с)"))
    check_bik(bik)
    if not _key_ok("0" + bik[4:6], account):
        raise ValueError(
            tr(
                "correspondent account {account} fails its control key with БИК {bik}",
                account=account,
                bik=bik,
            )
        )
    return account


def check_els(value: str) -> str:
    """A unified personal account of ГИС ЖКХ (ЕЛС): ``NNББNNNNNN`` with Cyrillic capitals."""
    if not isinstance(value, str) or not _ELS.fullmatch(value):
        raise ValueError(tr("an ЕЛС is 10 characters like 12АБ345678, not {value!r}", value=value))
    return value


def check_guid(value: str) -> str:
    """A FIAS/GAR or ГИС ЖКХ GUID in the 8-4-4-4-12 form; returned in lower case."""
    if not isinstance(value, str) or not _GUID.fullmatch(value):
        raise ValueError(tr("not a GUID: {value!r}", value=value))
    return value.lower()


def check_personal_account(value: str) -> str:
    """A personal account (лицевой счёт): 1–30 characters, kept exactly (leading zeros too)."""
    if not isinstance(value, str) or not _PERSONAL_ACCOUNT.fullmatch(value):
        raise ValueError(
            tr(
                "a personal account is 1-30 characters without separators, not {value!r}",
                value=value,
            )
        )
    if value != value.strip():
        raise ValueError(
            tr("a personal account has no leading or trailing spaces: {value!r}", value=value)
        )
    return value
