"""Parsing XML that comes from outside without letting it reach the network, the disk or RAM.

Every document is refused if it has a DOCTYPE of any kind: 1C DirectBank documents never
carry one, and without a DTD there is no entity to expand (billion laughs, quadratic
blow-up), no external entity to fetch (XXE over ``file:`` or ``http:``) and no external DTD.
The prolog is scanned *before* lxml sees the file; the parser is then configured with
``resolve_entities=False, no_network=True, load_dtd=False`` and without ``huge_tree``, so
libxml2's own limits (nesting depth 256, a text node of 10 MB) refuse the other bombs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from lxml import etree

from pes_sdk.errors import FormatError

__all__ = ["PROLOG_LIMIT", "check_prolog", "iterparse_kwargs", "parser"]

#: Bytes read to find the root element; a prolog longer than this is refused.
PROLOG_LIMIT = 65536

_DOCTYPE = re.compile(r"<!DOCTYPE", re.IGNORECASE)
_ENTITY = re.compile(r"<!ENTITY", re.IGNORECASE)
# What may come before the root element: the XML declaration, PIs, comments, white space.
_PROLOG_ITEM = re.compile(r"\s+|<\?.*?\?>|<!--.*?-->", re.DOTALL)


def _decode_head(head: bytes) -> str:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return head.decode("utf-16", "replace")
    if head[:2] in (b"<\x00", b"\x00<"):
        return head.decode("utf-16-le" if head[0:1] == b"<" else "utf-16-be", "replace")
    # Every other encoding XML allows here is ASCII-compatible in its markup.
    return head.decode("latin-1")


def check_prolog(path: Path) -> None:
    """Refuse a file whose prolog holds a DOCTYPE (or anything but a declaration and comments).

    Raises :class:`FormatError` naming the file; reads at most :data:`PROLOG_LIMIT` bytes.
    """
    with open(path, "rb") as fh:
        head = fh.read(PROLOG_LIMIT)
    text = _decode_head(head).lstrip("\ufeff")
    pos = 0
    while pos < len(text):
        m = _PROLOG_ITEM.match(text, pos)
        if m is None:
            break
        pos = m.end()
    rest = text[pos:]
    if _DOCTYPE.match(rest) or _ENTITY.match(rest):
        raise FormatError("a DOCTYPE is not allowed (no DTD, no entities)", path=path, line=1)
    if not rest:
        if len(head) == PROLOG_LIMIT:
            raise FormatError(f"no root element in the first {PROLOG_LIMIT} bytes", path=path)
        raise FormatError("the file holds no XML element", path=path)
    if not rest.startswith("<") or rest.startswith("<!"):
        raise FormatError("the file does not start with an XML element", path=path, line=1)


def parser() -> etree.XMLParser:
    """An lxml parser that loads no DTD, expands no entity and opens no connection."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def iterparse_kwargs() -> dict[str, Any]:
    """The same hardening for ``etree.iterparse``."""
    return {
        "resolve_entities": False,
        "no_network": True,
        "load_dtd": False,
        "dtd_validation": False,
        "huge_tree": False,
        "remove_comments": True,
        "remove_pis": True,
    }


def parse(path: Path) -> etree._ElementTree:
    """Parse a whole (small) document with the checks above; refuse with :class:`FormatError`."""
    check_prolog(path)
    try:
        tree = etree.parse(str(path), parser())
    except etree.XMLSyntaxError as exc:
        raise FormatError(
            f"not well-formed XML: {exc.msg}", path=path, line=exc.lineno or 0
        ) from None
    if tree.docinfo.doctype:  # type: ignore[union-attr]
        raise FormatError("a DOCTYPE is not allowed (no DTD, no entities)", path=path, line=1)
    return tree
