"""Reading the kit's TOML configuration files: exact numbers, and typed errors only.

``PARTNERS.toml``, the runner's configuration and dialect files are written by people and
sometimes by tools, and read by daemons. :func:`loads` parses them with every TOML float
read as an exact :class:`~decimal.Decimal` (never a binary float), and turns each way the
standard library's parser can fail into one :class:`TomlError` that names the line:

- a syntax error (``tomllib.TOMLDecodeError``, whose message has the line and column);
- a number that is not finite (``nan``, ``inf``) or whose exponent no Decimal can hold
  (``1e9999999999999999999``), which would otherwise surface later as
  ``decimal.InvalidOperation`` when compared, or at once from the parser;
- arrays or tables nested so deep that the parser runs out of stack (``RecursionError``).
"""

from __future__ import annotations

import re
import tomllib
from decimal import Decimal
from typing import Any

from pes_sdk.errors import ConfigError
from pes_sdk.i18n import tr, verbatim

__all__ = ["MAX_NESTING", "TomlError", "loads"]

#: The deepest nesting of arrays and inline tables a configuration file may have; far more
#: than any real one needs, far less than what exhausts the parser's stack.
MAX_NESTING = 64


class TomlError(ConfigError):
    """A TOML document that cannot be read; ``line`` is 1-based (0 when unknown)."""

    def __init__(self, source: str, line: int, reason: str) -> None:
        self.source = source
        self.line = line
        self.reason = reason
        if line:
            message = tr("{source}: line {line}: {reason}", source=source, line=line, reason=reason)
        else:
            message = verbatim("{source}: {reason}", source=source, reason=reason)
        super().__init__(message)


class _BadNumber(ValueError):
    def __init__(self, text: str, reason: str) -> None:
        super().__init__(reason)
        self.text = text
        self.reason = reason


def _exact(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except ArithmeticError:
        raise _BadNumber(text, tr("the number {text} is out of range", text=text)) from None
    if not value.is_finite():
        raise _BadNumber(
            text, tr("{text} is not a number (nan and inf are not accepted)", text=text)
        )
    return value


def _line_of_number(doc: str, text: str) -> int:
    """The line where ``text`` stands as a value (after ``=``, ``[`` or ``,``), or 0."""
    pattern = re.compile(rf"(?:^|[=\[,{{])\s*{re.escape(text)}(?![\w.])")
    for number, line in enumerate(doc.splitlines(), start=1):
        if pattern.search(line.split("#", 1)[0] if "#" not in text else line):
            return number
    return 0


def _too_deep(doc: str) -> int:
    """The line where brackets first nest deeper than :data:`MAX_NESTING`, or 0.

    Brackets inside strings and comments are counted too: a cheap over-estimate that can
    only refuse a file with a hundred-odd brackets in one string, never accept a deep one.
    """
    depth = 0
    for number, line in enumerate(doc.splitlines(), start=1):
        for char in line:
            if char in "[{":
                depth += 1
                if depth > MAX_NESTING:
                    return number
            elif char in "]}":
                depth = max(0, depth - 1)
    return 0


def loads(doc: str, source: str) -> dict[str, Any]:
    """Parse the TOML document ``doc`` (from ``source``, named in errors).

    Floats become exact Decimals; see the module documentation for what is refused.
    """
    deep = _too_deep(doc)
    if deep:
        raise TomlError(
            source,
            deep,
            tr("arrays or tables nested more than {limit} deep", limit=MAX_NESTING),
        )
    try:
        return tomllib.loads(doc, parse_float=_exact)
    except tomllib.TOMLDecodeError as exc:
        raise TomlError(source, 0, tr("not valid TOML: {detail}", detail=str(exc))) from None
    except _BadNumber as exc:
        raise TomlError(source, _line_of_number(doc, exc.text), exc.reason) from None
    except RecursionError:  # a nesting _too_deep did not count (it counts generously)
        raise TomlError(source, 0, tr("arrays or tables nested too deep")) from None
