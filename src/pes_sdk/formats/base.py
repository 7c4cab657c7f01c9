"""The contract of a registry format: a named reader and writer of one kind of registry.

A format plugin returns :class:`RegistryFormat` objects from the ``pes_registry_formats``
hook. Reading streams: :meth:`RegistryFormat.open` returns a :class:`RegistryReader`, an
iterator of records that never holds the whole file. The records it yields are provisional
until the iteration ends without :class:`~pes_sdk.errors.RegistryRefused`: only then have the
control totals and the policy been checked.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import TypeAlias

import attrs

from pes_sdk.errors import Issue
from pes_sdk.models.debts import DebtRecord
from pes_sdk.models.payments import PaymentRecord
from pes_sdk.models.readings import MeterReading
from pes_sdk.models.registry import RegistryHeader, RegistryKind
from pes_sdk.models.transfers import PaymentOrder, StatementEntry

__all__ = [
    "PROGRESS_EVERY",
    "SERVICE_FIELDS",
    "FormatCapabilities",
    "Policy",
    "ReadReport",
    "Record",
    "RegistryFormat",
    "RegistryReader",
    "WriteReport",
]

#: How often (in records) a reader's progress callback is called; once more at the end.
PROGRESS_EVERY = 1000

#: The record fields that name a service (:attr:`FormatCapabilities.service_fields`): the
#: partner's code of it (код услуги) and its name (наименование услуги).
SERVICE_FIELDS = ("service_code", "service")

#: What a registry holds, one per line or element (payment orders and bank statement lines
#: are the records of the ``transfers`` and ``statements`` kinds).
Record: TypeAlias = DebtRecord | PaymentRecord | MeterReading | PaymentOrder | StatementEntry


class Policy(enum.StrEnum):
    """What a reader does with bad rows."""

    STRICT = "strict"  #: any bad row refuses the whole registry
    QUARANTINE = "quarantine"  #: good rows are kept; bad rows go to a rejects file


@attrs.frozen
class FormatCapabilities:
    """What a format can do, declared by its author.

    The same object drives the SDK (the CLI refuses to write with a read-only format) and
    the conformance suite (each check a format cannot take is skipped with this reason).
    """

    read: bool = True
    write: bool = True
    streaming: bool = True  #: reads and writes in bounded memory
    control_totals: bool = False  #: writes a count and sums, and refuses a file they fail
    escapes_formulas: bool = False  #: text that a spreadsheet would run is escaped
    encodings: tuple[str, ...] = ("utf-8",)
    max_line_length: int | None = None  #: longest line accepted, in characters
    tagged_fields: bool = False  #: keeps ``KEY:value`` fields through a round trip
    #: Which of the records' service fields (``service_code``, ``service``) the format keeps
    #: through a round trip. A debt format that keeps ``service`` may hold several services
    #: on one account; a payment format must then keep what its partner's debt format
    #: keeps, or the partner cannot tell which service a payment paid: the runner refuses
    #: such a pairing when it loads its configuration (:data:`SERVICE_FIELDS`).
    service_fields: tuple[str, ...] = ()
    #: The format's files carry personal data (ФИО, phones) that its reader drops at once:
    #: the records hold none of it, and a caller keeps no copy of the file itself (the
    #: runner deletes such a file once it is ingested and keeps its sha256).
    personal_data: bool = False


@attrs.frozen
class ReadReport:
    """The outcome of reading a registry: what was kept, what was refused, and why.

    ``issues`` holds the first problems (up to the reader's limit), ``issue_count`` all.
    ``total`` sums the ``amount`` of the good records.
    """

    path: Path | None
    header: RegistryHeader
    records: int
    total: Decimal
    rejected: int = 0
    issues: tuple[Issue, ...] = ()
    issue_count: int = 0
    refused: str | None = None  #: why the registry was refused whole, or None
    rejects_path: Path | None = None

    @property
    def valid(self) -> bool:
        return self.issue_count == 0 and self.refused is None


@attrs.frozen
class WriteReport:
    """What a writer wrote: where, how many records, and the sum of their amounts."""

    path: Path
    records: int
    total: Decimal


class RegistryReader(abc.ABC, Iterator[Record]):
    """An open registry: iterate it for records; then :attr:`report` tells the outcome."""

    #: Facts known about the registry once it is open (from its name, header or footer).
    header: RegistryHeader
    #: What the reader noticed and read past, never a reason to refuse the registry (nor
    #: counted in :attr:`report`): a label naming the wrong encoding of a text it could
    #: still read, a bank statement's document that is not the account holder's and was
    #: set aside. Grows while reading; complete once iteration has ended.
    notes: Sequence[Issue] = ()

    @abc.abstractmethod
    def __next__(self) -> Record: ...

    @property
    @abc.abstractmethod
    def report(self) -> ReadReport:
        """The outcome; complete once iteration has ended."""

    def drain(self, progress: Callable[[int], None] | None = None) -> ReadReport:
        """Read to the end without handing out records; return :attr:`report`.

        What :func:`pes_sdk.operations.validate` calls. The default iterates and drops
        each record; a format may override it with a faster path that checks exactly what
        building the records would check (the same issues, lines, fields, totals and
        outcome), without building them. ``progress``, if given, is called now and then
        with how far the read has come (records, or lines of the file: either only grows)
        and once at the end. Raises what iterating raises
        (:class:`~pes_sdk.errors.RegistryRefused`).
        """
        count = 0
        for _ in self:
            count += 1
            if progress is not None and count % PROGRESS_EVERY == 0:
                progress(count)
        if progress is not None:
            progress(count)
        return self.report

    def close(self) -> None:
        """Release the file. Idempotent."""

    def __enter__(self) -> RegistryReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class RegistryFormat(abc.ABC):
    """A registry format. Subclass it, fill in the class attributes, implement the methods."""

    name: str  #: unique across plugins: ``sber-debts``, ``1c-xml-payments``, …
    kind: RegistryKind
    description: str = ""
    capabilities: FormatCapabilities = FormatCapabilities()

    @abc.abstractmethod
    def open(
        self,
        path: Path,
        *,
        policy: Policy = Policy.STRICT,
        rejects_path: Path | None = None,
    ) -> RegistryReader:
        """Open ``path`` for streaming.

        Raises :class:`~pes_sdk.errors.RegistryRefused` when the file cannot be read at all;
        bad rows are reported through the reader per ``policy``. Under
        :attr:`Policy.QUARANTINE` rejected rows are written with their reasons to
        ``rejects_path`` (default: beside the file, ``NAME.rejects.csv``).
        """

    def write(self, path: Path, header: RegistryHeader, records: Iterable[Record]) -> WriteReport:
        """Write ``records`` to ``path`` atomically, streaming; return what was written."""
        raise NotImplementedError(f"format {self.name!r} cannot write")

    def filename(self, header: RegistryHeader) -> str | None:
        """The file name this format's convention gives a registry, if it has one."""
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} ({self.kind})>"
