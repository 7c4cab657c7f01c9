"""lxml parsing of untrusted DirectBank documents, through the core's hardening.

The checks themselves live in :mod:`pes_sdk.safexml` (shared by every XML adapter): the
prolog is scanned for a DOCTYPE before lxml sees the file, and the parser loads no DTD,
expands no entity and opens no connection. This module only binds them to lxml.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lxml import etree

from pes_sdk.errors import FormatError
from pes_sdk.safexml import HARDENED_PARSER_OPTIONS, check_prolog
from pes_sdk_1c_bank.i18n import tr

__all__ = ["check_prolog", "iterparse_kwargs", "parse", "parser"]


def parser() -> etree.XMLParser:
    """An lxml parser that loads no DTD, expands no entity and opens no connection."""
    return etree.XMLParser(**HARDENED_PARSER_OPTIONS)


def iterparse_kwargs() -> dict[str, Any]:
    """The same hardening for ``etree.iterparse``."""
    return dict(HARDENED_PARSER_OPTIONS)


def parse(path: Path) -> etree._ElementTree:
    """Parse a whole (small) document with the checks above; refuse with :class:`FormatError`."""
    check_prolog(path)
    try:
        tree = etree.parse(str(path), parser())
    except etree.XMLSyntaxError as exc:
        raise FormatError(
            tr("not well-formed XML: {detail}", detail=exc.msg), path=path, line=exc.lineno or 0
        ) from None
    if tree.docinfo.doctype:  # type: ignore[union-attr]
        raise FormatError(tr("a DOCTYPE is not allowed (no DTD, no entities)"), path=path, line=1)
    return tree
