"""Escaping text cells that a spreadsheet would run as a formula (CSV injection).

People open registries in Excel. A text cell starting with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return is a formula there, so writers prefix it with ``'``. A cell that
already starts with ``'`` gets one more, which keeps the escape reversible: readers strip
exactly one. Numeric columns are never passed through here.
"""

from __future__ import annotations

__all__ = ["escape_formula", "unescape_formula"]

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_ESCAPED = (*_TRIGGERS, "'")


def escape_formula(text: str) -> str:
    """``"=SUM(A1)"`` → ``"'=SUM(A1)"``; other text unchanged."""
    return "'" + text if text.startswith(_ESCAPED) else text


def unescape_formula(text: str) -> str:
    """The inverse of :func:`escape_formula`."""
    if text.startswith("'") and text[1:].startswith(_ESCAPED):
        return text[1:]
    return text
