"""Monthly bills (квитанции) of an activated debt registry, as PDF files in the data folder.

When a registry becomes a partner's active one for its period, the job engine
(:mod:`pes_sdk_runner.jobs.bills`) makes one bill per account of it with
:class:`pes_sdk.bills.BillRenderer` and writes each to::

    <data>/bills/<partner ИНН>/<YYYY-MM>/<account>.pdf

(the account made safe for a file name by :func:`file_name`). Accounts are read from the
store a page at a time, ordered by account, and one bill is in memory at a time, so a
registry of a million rows takes no more memory than one of ten. Each file is written
atomically (a temporary file renamed over it) and only when its content changed: the
renderer's output is deterministic, so an unchanged bill (a re-run after a crash, the
same registry twice) leaves its file alone, and a corrected registry of the period
rewrites the bills it changed and removes those of accounts it no longer has
(:func:`prune_bills`). Bills of a registry that is no longer active are not made.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import attrs

from pes_sdk.bills import Bill, BillLine, BillRenderer
from pes_sdk.bills.pdf import settle, write_atomic
from pes_sdk.models.partners import Partner
from pes_sdk.period import Period
from pes_sdk_runner.store.base import DebtRegistryInfo
from pes_sdk_runner.store.bills import BillRow
from pes_sdk_runner.store.sql import SqlStore

__all__ = [
    "BILLS_FOLDER",
    "PAGE_ROWS",
    "BillsDone",
    "account_of",
    "active_registry",
    "bill_path",
    "file_name",
    "make_bills",
    "period_folder",
    "prune_bills",
    "renderer",
]

#: The bills' folder under the runner's data folder.
BILLS_FOLDER = "bills"
#: Debt rows read from the store at once.
PAGE_ROWS = 2000
#: Files looked up in the store at once when pruning.
_PRUNE_BATCH = 500
_SUFFIX = ".pdf"
#: Files written before they are made durable together (:func:`pes_sdk.bills.settle`).
_SETTLE_BATCH = 500

_renderers: dict[str | None, BillRenderer] = {}
_renderers_lock = threading.Lock()


def renderer(font: str | None = None) -> BillRenderer:
    """This process's renderer for ``font`` (None: ``$PES_BILL_FONT`` or DejaVu Sans): the
    font is subset once per process, not once per registry."""
    with _renderers_lock:
        found = _renderers.get(font)
        if found is None:
            found = _renderers[font] = BillRenderer(font)
        return found


def file_name(account: str) -> str:
    """The account as a file name: letters (Cyrillic too), digits, ``-`` and ``_`` as they
    are; anything else, and a leading dot, as ``%XX`` of its UTF-8 bytes (reversible:
    :func:`account_of`), so that no account can name a path outside its folder."""
    out = []
    for i, char in enumerate(account):
        if (char.isalnum() and char.isprintable()) or char in "-_" or (char == "." and i):
            out.append(char)
        else:
            out.extend(f"%{b:02X}" for b in char.encode("utf-8"))
    return "".join(out) + _SUFFIX


def account_of(name: str) -> str | None:
    """The account a bill's file name is of (:func:`file_name` undone); None: not a bill's."""
    if not name.endswith(_SUFFIX) or name.startswith("."):
        return None
    return unquote(name[: -len(_SUFFIX)], errors="strict")


def period_folder(data: Path, partner_inn: str, period: Period) -> Path:
    """Where the partner's bills of ``period`` are: ``<data>/bills/<ИНН>/<YYYY-MM>``."""
    return data / BILLS_FOLDER / partner_inn / str(period)


def bill_path(data: Path, partner_inn: str, period: Period, account: str) -> Path:
    """The file of one account's bill."""
    return period_folder(data, partner_inn, period) / file_name(account)


def active_registry(
    store: SqlStore, partner_inn: str, period: Period, number: int
) -> DebtRegistryInfo | None:
    """The registry ``number`` of the partner's period when it is the active one; else None
    (superseded by a newer one, whose own bills replace these)."""
    for info in store.debt_registries(partner_inn):
        if info.period == period and info.number == number:
            return info if info.active else None
    return None


@attrs.frozen
class BillsDone:
    """What one call of :func:`make_bills` did."""

    accounts: int  #: bills made (rendered)
    written: int  #: of which written (new or changed)
    #: the last account done; None when the registry had none after the cursor
    last: str | None
    #: no account is left after ``last``
    finished: bool


def _rows(
    store: SqlStore, registry: DebtRegistryInfo, after: str | None, page: int
) -> Iterator[BillRow]:
    cursor: tuple[str, str | None] | None = None if after is None else (after, None)
    while True:
        rows = store.registry_debts_page(registry.id, registry.partner_inn, cursor, page)
        yield from rows
        if len(rows) < page:
            return
        cursor = (rows[-1].account, rows[-1].service)


def _bill(partner: Partner, registry: DebtRegistryInfo, rows: list[BillRow]) -> Bill:
    first = rows[0]
    period = registry.period
    return Bill(
        payee=partner,
        period=period,
        account=first.account,
        premises=first.premises,
        lines=[
            BillLine(r.service, r.amount, r.service_code, r.period if r.period != period else None)
            for r in rows
        ],
        address=first.address,
        house_id=first.house_id,
        registry_number=registry.number,
    )


def _same(path: Path, digest: str) -> bool:
    try:
        with open(path, "rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest() == digest
    except FileNotFoundError:
        return False


def make_bills(
    store: SqlStore,
    partner: Partner,
    registry: DebtRegistryInfo,
    data: Path,
    *,
    after: str | None = None,
    max_accounts: int | None = None,
    render: BillRenderer | None = None,
    page_rows: int = PAGE_ROWS,
) -> BillsDone:
    """Make the bills of the registry's accounts after ``after`` (None: from the first), at
    most ``max_accounts`` of them (None: all), and write each whose file is missing or
    differs. Returns where it stopped, for the next call."""
    render = render or renderer()
    folder = period_folder(data, partner.inn, registry.period)
    folder.mkdir(parents=True, exist_ok=True)
    accounts = written = 0
    last = after
    unsettled: list[Path] = []
    groups = itertools.groupby(_rows(store, registry, after, page_rows), key=lambda r: r.account)
    for account, group in groups:
        if max_accounts is not None and accounts >= max_accounts:
            settle(unsettled)
            return BillsDone(accounts, written, last, finished=False)
        data_bytes = render.render(_bill(partner, registry, list(group)))
        path = folder / file_name(account)
        if not _same(path, hashlib.sha256(data_bytes).hexdigest()):
            # Durable in batches, not two fsyncs a file: the caller (a job step) is not
            # done, and so runs again after a crash, until settle() has returned.
            write_atomic(path, data_bytes, durable=False)
            unsettled.append(path)
            written += 1
            if len(unsettled) >= _SETTLE_BATCH:
                settle(unsettled)
                unsettled.clear()
        accounts += 1
        last = account
    settle(unsettled)
    return BillsDone(accounts, written, last, finished=True)


def prune_bills(store: SqlStore, registry: DebtRegistryInfo, data: Path) -> int:
    """Remove the bills of the period whose account the registry no longer has (a
    corrected registry dropped it) and temporary files a crash left; return how many.

    The folder is read as a stream and the store asked in batches: memory stays flat."""
    folder = period_folder(data, registry.partner_inn, registry.period)
    if not folder.is_dir():
        return 0
    removed = 0
    batch: dict[str, Path] = {}

    def flush() -> int:
        kept = store.registry_accounts_among(registry.id, registry.partner_inn, list(batch))
        gone = [path for account, path in batch.items() if account not in kept]
        for path in gone:
            path.unlink(missing_ok=True)
        batch.clear()
        return len(gone)

    with os.scandir(folder) as entries:
        for entry in entries:
            if not entry.is_file():
                continue
            if entry.name.startswith(".") and entry.name.endswith(".part"):
                # a temporary file of a write a crash cut short (pes_sdk.files.atomic_path)
                Path(entry.path).unlink(missing_ok=True)
                removed += 1
                continue
            try:
                account = account_of(entry.name)
            except UnicodeDecodeError:
                account = None
            if account is None:
                continue  # not a bill's file: not ours to remove
            batch[account] = Path(entry.path)
            if len(batch) >= _PRUNE_BATCH:
                removed += flush()
    if batch:
        removed += flush()
    return removed
