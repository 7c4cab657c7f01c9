"""Reading XML that comes from outside without letting it reach the network, the disk or RAM.

Every adapter that parses XML (1C registries, bank statements, SOAP) goes through here:

* :func:`check_prolog` reads the first bytes of a file *before* any parser sees it and
  refuses a DOCTYPE or any other ``<!…>`` declaration. Without a DTD there is no entity to
  expand (billion laughs, quadratic blow-up), no external entity to fetch (XXE over
  ``file:`` or ``http:``) and no external DTD to load.
* :data:`HARDENED_PARSER_OPTIONS` are the lxml parser options of every parse of untrusted
  input (``etree.XMLParser(**HARDENED_PARSER_OPTIONS)`` or ``etree.iterparse(...,
  **HARDENED_PARSER_OPTIONS)``): no entity resolution, no network, no DTD loading, and no
  ``huge_tree``, so libxml2's own limits (nesting depth, a 10 MB text node) refuse the
  other bombs. The core does not depend on lxml; the options are plain data.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path
from typing import Any

from pes_sdk.errors import FormatError
from pes_sdk.i18n import tr

__all__ = ["HARDENED_PARSER_OPTIONS", "PROLOG_LIMIT", "check_prolog", "check_prolog_bytes"]

#: The lxml parser options of every parse of untrusted input.
HARDENED_PARSER_OPTIONS: dict[str, Any] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "attribute_defaults": False,
    "huge_tree": False,
    "remove_comments": True,
    "remove_pis": True,
}

#: How many bytes before the root element the prolog check reads at most.
PROLOG_LIMIT = 64 * 1024

_ENCODING_DECL = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_NAME_START = re.compile(rb"[A-Za-z_:\x80-\xff]")


def _norm(encoding: str) -> str:
    return encoding.lower().replace("_", "-").replace("utf8", "utf-8")


def check_prolog(path: Path | str, *, encodings: Collection[str] | None = None) -> None:
    """Refuse a file whose prolog holds a DOCTYPE, or that is not XML at all.

    ``encodings``, when given, lists the encodings a format allows (``{"utf-8"}``): a file
    in UTF-16/32 or declaring another encoding is refused. Reads at most
    :data:`PROLOG_LIMIT` bytes. Raises :class:`~pes_sdk.errors.FormatError` naming the
    file and the line.
    """
    path = Path(path)
    with open(path, "rb") as fh:
        head = fh.read(PROLOG_LIMIT)
    try:
        check_prolog_bytes(head, encodings=encodings)
    except FormatError as exc:
        raise FormatError(exc.message, path=path, line=exc.line, field=exc.field) from None


# XML 1.0, appendix F: the first four bytes of a document without an encoding
# declaration tell its code unit; a byte-order mark says it outright.
_WIDE_SIGNATURES = (
    (b"\xff\xfe\x00\x00", "utf-32-le", 4),
    (b"\x00\x00\xfe\xff", "utf-32-be", 4),
    (b"\xff\xfe", "utf-16-le", 2),
    (b"\xfe\xff", "utf-16-be", 2),
    (b"\x00\x00\x00<", "utf-32-be", 0),
    (b"<\x00\x00\x00", "utf-32-le", 0),
    (b"\x00<", "utf-16-be", 0),
    (b"<\x00", "utf-16-le", 0),
)


def _as_utf8(data: bytes) -> bytes:
    """A wide-encoded head as UTF-8 bytes (undecodable code units replaced, never dropped)."""
    codec, skip = "utf-16-le", 0
    for signature, name, bom in _WIDE_SIGNATURES:
        if data.startswith(signature):
            codec, skip = name, bom
            break
    unit = 4 if codec.startswith("utf-32") else 2
    body = data[skip:]
    body = body[: len(body) - len(body) % unit]  # the head may end inside a code unit
    return body.decode(codec, errors="replace").encode("utf-8")


def check_prolog_bytes(data: bytes, *, encodings: Collection[str] | None = None) -> None:
    """:func:`check_prolog` for the first bytes of a document held in memory (a request body)."""
    allowed = {_norm(e) for e in encodings} if encodings is not None else None
    names = ", ".join(sorted(e.upper() for e in allowed)) if allowed is not None else ""
    wide = data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data[:4]
    if wide:
        if allowed is not None and not allowed & {"utf-16", "utf-32"}:
            raise FormatError(
                tr("the document is UTF-16 or UTF-32; the format allows {names}", names=names),
                line=1,
            )
        # Markup in a wide encoding: decode it, then look at it as UTF-8. Dropping the NUL
        # bytes instead let characters whose code units read as '?>' or '<A' hide a
        # DOCTYPE behind what looked like the end of a processing instruction.
        data = _as_utf8(data)
    pos = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    n = len(data)
    truncated = n >= PROLOG_LIMIT

    def line_at(at: int) -> int:
        return data.count(b"\n", 0, at) + 1

    def no_root() -> FormatError:
        return FormatError(tr("no root element in the first {limit} bytes", limit=PROLOG_LIMIT))

    while True:
        while pos < n and data[pos] in b" \t\r\n":
            pos += 1
        if pos >= n:
            raise no_root() if truncated else FormatError(tr("the document has no root element"))
        if data.startswith(b"<?", pos):
            end = data.find(b"?>", pos)
            if end < 0:
                raise (
                    no_root()
                    if truncated
                    else FormatError(tr("unterminated processing instruction"), line=line_at(pos))
                )
            if data.startswith(b"<?xml", pos) and data[pos + 5 : pos + 6] in b" \t\r\n?":
                m = _ENCODING_DECL.search(data, pos, end)
                if m and allowed is not None and _norm(m.group(1).decode("ascii")) not in allowed:
                    raise FormatError(
                        tr(
                            "encoding {declared!r} declared; the format allows {names}",
                            declared=m.group(1).decode("ascii"),
                            names=names,
                        ),
                        line=line_at(pos),
                    )
            pos = end + 2
        elif data.startswith(b"<!--", pos):
            end = data.find(b"-->", pos + 4)
            if end < 0:
                raise (
                    no_root()
                    if truncated
                    else FormatError(tr("unterminated comment"), line=line_at(pos))
                )
            pos = end + 3
        elif data.startswith(b"<!", pos):
            # <!DOCTYPE, <!ENTITY or anything like them: a DTD of any kind is refused.
            raise FormatError(
                tr("a DOCTYPE is not allowed, nor any other declaration (no DTD, no entities)"),
                line=line_at(pos),
            )
        elif data.startswith(b"<", pos) and _NAME_START.match(data, pos + 1):
            return
        else:
            raise FormatError(tr("not an XML document"), line=line_at(pos))
