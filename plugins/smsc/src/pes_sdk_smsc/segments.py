"""How many SMS a text takes (сегменты): GSM 7-bit or UCS-2, single or concatenated.

An SMS carries 140 bytes of user data. SMSC.ru (as every gateway) sends a text in the GSM
03.38 7-bit alphabet when every character is in it, and in UCS-2 otherwise; Cyrillic is
not in the 7-bit alphabet, so a Russian text is UCS-2:

* **UCS-2**: 70 characters in one SMS; a longer text is split into parts of at most 67
  (each part spends 6 bytes on the concatenation header). A character outside the Basic
  Multilingual Plane (an emoji) takes two UTF-16 units, and a part never splits the pair;
* **GSM 7-bit**: 160 characters in one SMS, 153 per part; the characters of the extension
  table (``{}[]^~\\|€`` and the form feed) take two septets (an escape and the character),
  never split across parts either.

SMSC.ru's page on sending ("Отправка SMS") gives the same figures (70/67 for non-Latin,
160/153 for Latin, ``{}[]^~\\|€`` counted twice, ``№`` and `````  not Latin). The
arithmetic is done by packing the text into parts, so the count is exact at the edges.
"""

from __future__ import annotations

from typing import Literal

import attrs

__all__ = [
    "GSM7_BASIC",
    "GSM7_EXTENSION",
    "Encoding",
    "Segments",
    "count",
    "encoding",
    "fit",
]

#: The GSM 03.38 basic character set (one septet each).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: The extension table: an escape septet and the character, two septets each.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

Encoding = Literal["gsm7", "ucs2"]

#: (units in a single SMS, units per part of a concatenated one)
_LIMITS: dict[Encoding, tuple[int, int]] = {"gsm7": (160, 153), "ucs2": (70, 67)}


def encoding(text: str) -> Encoding:
    """``gsm7`` when every character of ``text`` is in the GSM 7-bit alphabet, else ``ucs2``."""
    if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text):
        return "gsm7"
    return "ucs2"


def _units(char: str, how: Encoding) -> int:
    if how == "gsm7":
        return 2 if char in GSM7_EXTENSION else 1
    return 2 if ord(char) > 0xFFFF else 1  # a surrogate pair in UTF-16


@attrs.frozen
class Segments:
    """The SMS a text takes: ``parts`` (0 for an empty text), its ``encoding`` and its length
    in ``units`` (septets for GSM 7-bit, UTF-16 code units for UCS-2)."""

    parts: int
    encoding: Encoding
    units: int


def _pack(text: str, how: Encoding, per_part: int) -> list[int]:
    """The character index where each part after the first begins."""
    starts: list[int] = []
    used = 0
    for i, char in enumerate(text):
        size = _units(char, how)
        if used + size > per_part:
            starts.append(i)
            used = 0
        used += size
    return starts


def count(text: str) -> Segments:
    """How many SMS ``text`` takes, and in which encoding."""
    how = encoding(text)
    units = sum(_units(c, how) for c in text)
    single, per_part = _LIMITS[how]
    if units == 0:
        return Segments(0, how, 0)
    if units <= single:
        return Segments(1, how, units)
    return Segments(len(_pack(text, how, per_part)) + 1, how, units)


def fit(text: str, parts: int) -> str:
    """The longest beginning of ``text`` that fits in ``parts`` SMS (what a gateway sends when
    told ``maxsms``); ``text`` itself when it fits."""
    if parts < 1:
        raise ValueError(f"at least one part, not {parts}")
    if count(text).parts <= parts:
        return text
    how = encoding(text)
    single, per_part = _LIMITS[how]
    # one SMS holds more than one part of a concatenated one (no header)
    starts = _pack(text, how, single if parts == 1 else per_part)
    return text[: starts[parts - 1]]
