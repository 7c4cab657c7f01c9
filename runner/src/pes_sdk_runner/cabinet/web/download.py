"""A monthly bill's PDF as an HTTP download, for the cabinet's archive and the JSON API.

The file is opened before the answer starts and sent from that open file: the job engine
replaces a bill by renaming a new file over it (:func:`pes_sdk.bills.write_atomic`), and
an open file keeps the old one whole, so a download never mixes two versions nor ends in
a 500 when the bill is rewritten or pruned meanwhile.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from pes_sdk_runner.usecases import BillEntry, NotFound

__all__ = ["bill_filename", "content_disposition", "pdf_download"]

_CHUNK = 64 * 1024
#: What an ASCII ``filename`` keeps of an account; the rest becomes ``_``.
_ASCII_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
#: What the UTF-8 ``filename*`` replaces by ``_``: separators and quotes a browser or
#: the client's file system would take for something else, and control characters.
_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\"%;:*?<>|]')


def bill_filename(entry: BillEntry) -> tuple[str, str]:
    """The download's file names: ASCII (``kvitanciya-<account>-<YYYY-MM>.pdf``, the
    account's other characters as ``_``) and Unicode (``квитанция-…``)."""
    ascii_name = f"kvitanciya-{_ASCII_UNSAFE.sub('_', entry.account)}-{entry.period}.pdf"
    unicode_name = f"квитанция-{_UNSAFE.sub('_', entry.account)}-{entry.period}.pdf"
    return ascii_name, unicode_name


def content_disposition(entry: BillEntry) -> str:
    """``attachment`` with both names (RFC 6266, RFC 8187's ``filename*``): a browser
    that reads ``filename*`` saves the Russian name, an old one the ASCII name."""
    ascii_name, unicode_name = bill_filename(entry)
    quoted = urllib.parse.quote(unicode_name, safe="")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quoted}"


def _chunks(fh: BinaryIO) -> Iterator[bytes]:
    try:
        while chunk := fh.read(_CHUNK):
            yield chunk
    finally:
        fh.close()


def _open(path: Path) -> tuple[BinaryIO, int]:
    # O_NOFOLLOW: a bill is a regular file the runner wrote; a symbolic link in its
    # place (put there by someone else) is not followed out of the data folder.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    fh = os.fdopen(fd, "rb")
    return fh, os.fstat(fd).st_size


async def pdf_download(entry: BillEntry, path: Path) -> Response:
    """The bill's PDF as an attachment, never cached by a shared cache nor kept by the
    browser (it names the client's account and what is owed); :class:`NotFound` when the
    file is gone (pruned between the listing and the download)."""
    try:
        fh, size = await run_in_threadpool(_open, path)
    except OSError:
        raise NotFound("no bill of this period", "period") from None
    return StreamingResponse(
        _chunks(fh),
        media_type="application/pdf",
        headers={
            "Content-Disposition": content_disposition(entry),
            "Content-Length": str(size),
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
