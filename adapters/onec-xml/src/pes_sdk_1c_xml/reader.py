"""The streaming, hardened reader of the registry XML.

How it stays safe:

* Before any XML parser sees the file, :func:`check_prolog` reads its first bytes and
  refuses anything but UTF-8 and any ``<!DOCTYPE`` (or other ``<!`` declaration) before the
  root element. With no DTD there are no entities to expand, internal or external, so XXE,
  billion laughs, quadratic blow-up and parameter entities are refused before parsing.
* The parser itself is configured as if the check did not exist: ``resolve_entities=False``,
  ``no_network=True``, ``load_dtd=False``, ``huge_tree=False`` (libxml2's limits on depth
  and on the size of one text node stay on), and the first parse event checks the
  document's DOCTYPE again.

How it stays fast and small: ``iterparse`` with ``events=("end",)`` filtered to the record
element; each record is cleared once read, and every 256 records the cleared ones are
deleted from the root (checking on the way that nothing but records stood between them), so
memory holds at most 256 empty elements plus one record. Records that pass the fast checks
(:meth:`_Reader._fast_builder`) are built without re-running the model's converters; any
record that does not is rebuilt by the slow path, which names every problem.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Generator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import attrs
from lxml import etree

from pes_sdk import identifiers
from pes_sdk.errors import FormatError, Issue, RegistryRefused
from pes_sdk.formats.base import Policy, ReadReport, Record, RegistryReader
from pes_sdk.formats.quarantine import RejectSink
from pes_sdk.models.debts import DebtRecord
from pes_sdk.models.payments import PaymentRecord
from pes_sdk.models.registry import ControlTotals, RegistryHeader, RegistryKind
from pes_sdk.money import ZERO
from pes_sdk.period import Period
from pes_sdk.premises import MAX_PREMISES_LENGTH, Premises
from pes_sdk.safexml import HARDENED_PARSER_OPTIONS, check_prolog
from pes_sdk_1c_xml import schema
from pes_sdk_1c_xml._fast import slot_setters
from pes_sdk_1c_xml.codec import OMIT, Codec, impossible_date
from pes_sdk_1c_xml.i18n import tr

__all__ = ["XmlRegistryReader"]

#: Records between two deletions of the cleared ones: the bound of the reader's memory.
PURGE_EVERY = 256
#: How much of a rejected record's XML goes into the rejects file.
RAW_LIMIT = 4000
#: Distinct texts each value cache keeps before it starts over (house GUIDs, premises, …).
CACHE_LIMIT = 65536


def _local(tag: Any) -> str:
    if not isinstance(tag, str):
        return "?"
    return tag.rpartition("}")[2]


def _fmt_tag(tag: Any) -> str:
    if isinstance(tag, str) and tag.startswith("{" + schema.NAMESPACE + "}"):
        return tag.rpartition("}")[2]
    return str(tag)


class _Structure(Exception):
    """The file's structure is wrong: the registry is refused whole."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@attrs.define
class _Tally:
    """What the reader counts over every record element, good or bad."""

    records: int = 0
    sums: dict[str, Decimal] = attrs.Factory(dict)
    unverifiable: set[str] = attrs.Factory(set)
    rejected_amount: Decimal = ZERO


class XmlRegistryReader(RegistryReader):
    """An open registry XML file. Iterate it for records; then read :attr:`report`.

    Iterating it directly (``for rec in reader``) runs the records' generator without a
    method call per record (``__iter__`` hands out the generator itself).
    """

    def __init__(
        self,
        path: Path,
        codec: Codec,
        *,
        policy: Policy = Policy.STRICT,
        rejects_path: Path | None = None,
    ) -> None:
        self.path = Path(path)
        self._codec = codec
        self._sink = RejectSink(self.path, policy, rejects_path)
        self._report: ReadReport | None = None
        self._fh: IO[bytes] | None = None
        self._dupes: set[int] = set()
        self.header = self._open_header()
        self._gen = self._records()

    # -- opening -----------------------------------------------------------------------

    def _refuse(self, message: str, line: int = 0, field: str = "") -> RegistryRefused:
        text = tr("{field}: {message}", field=field, message=message) if field else message
        return self._refused(self._sink.refuse(text, line=line, field=field))

    def _refused(self, error: RegistryRefused) -> RegistryRefused:
        """Make :attr:`report` tell ``error``, the refusal of the whole registry.

        The report then keeps nothing: no records, a zero total, no rejects file (a refused
        registry has none of its records accepted, whatever was read before the refusal),
        and ``refused`` is the error's own message, which names the line and field; the
        issues end with the refusal's. Counts of a half-read file would read as a registry
        partly accepted.
        """
        header = getattr(self, "header", None)
        # While opening there is no header yet: the constructor raises, and no reader exists
        # whose report anyone could ask for.
        if header is not None:
            self._report = ReadReport(
                path=self.path,
                header=header,
                records=0,
                total=ZERO,
                issues=error.issues,
                issue_count=error.issue_count,
                refused=error.message,
            )
        return error

    def _at_totals(self, error: RegistryRefused, line: int) -> RegistryRefused:
        """``error`` with its control totals' problems blamed on the ``Totals`` line.

        The shared sink blames them on the file as a whole (line 0): in this format they
        stand on one element of one line, and the refusal names it.
        """
        issues = [
            attrs.evolve(i, line=line) if (i.line, i.field) == (0, "control") else i
            for i in error.issues
        ]
        if issues == list(error.issues):
            return error  # refused by the policy: its issues name their lines already
        return RegistryRefused(
            tr("line {line}: {message}", line=line, message=error.message),
            path=error.path,
            issues=issues,
            issue_count=error.issue_count,
        )

    def _open_header(self) -> RegistryHeader:
        try:
            check_prolog(self.path, encodings=("utf-8",))
        except OSError as exc:
            raise self._refuse(_unreadable(exc)) from None
        except FormatError as exc:
            raise self._refuse(exc.message, exc.line) from None
        try:
            with open(self.path, "rb") as fh:
                events = etree.iterparse(fh, events=("start",), **HARDENED_PARSER_OPTIONS)
                _, root = next(iter(events))
                if root.getroottree().docinfo.doctype:
                    raise self._refuse(tr("a DOCTYPE is not allowed"), root.sourceline or 0)
                attrib = dict(root.attrib)
                tag, line = root.tag, root.sourceline or 0
                del events
        except etree.XMLSyntaxError as exc:
            raise self._refuse(_not_well_formed(exc), exc.lineno or 0) from None
        except StopIteration:
            raise self._refuse(tr("the file has no root element")) from None
        except OSError as exc:
            raise self._refuse(_unreadable(exc)) from None
        return self._header(tag, attrib, line)

    def _header(self, tag: Any, attrib: dict[str, str], line: int) -> RegistryHeader:
        kind = self._codec.kind
        expected = schema.qname(schema.ROOT_ELEMENT[kind])
        if tag != expected:
            ns, _, local = str(tag).lstrip("{").rpartition("}")
            if ns != schema.NAMESPACE:
                why = tr("namespace {ns!r}", ns=ns) if ns else tr("no namespace")
                raise self._refuse(
                    tr(
                        "root element {local} has {why}; this reader reads {namespace!r}",
                        local=local,
                        why=why,
                        namespace=schema.NAMESPACE,
                    ),
                    line,
                )
            raise self._refuse(
                tr(
                    "root element is {local}, a {kind} registry is {root}",
                    local=local,
                    kind=kind,
                    root=schema.ROOT_ELEMENT[kind],
                ),
                line,
            )
        allowed = {"partnerInn", "partnerAccount", "number", "createdAt"}
        required = {"partnerInn", "number"}
        if kind is RegistryKind.DEBTS:
            allowed.add("period")
            required.add("period")
        elif kind is RegistryKind.PAYMENTS:
            allowed.add("date")
            required.add("date")
        else:
            allowed |= {"period", "date"}
        for name in attrib:
            if name not in allowed:
                raise self._refuse(tr("unknown attribute of the root element"), line, name)
        for name in sorted(required - attrib.keys()):
            raise self._refuse(tr("missing attribute of the root element"), line, name)
        values: dict[str, Any] = {}
        parsers: dict[str, tuple[str, Callable[[str], Any]]] = {
            "partnerInn": ("partner_inn", identifiers.check_inn),
            "partnerAccount": ("partner_account", _bank_account),
            "number": ("number", _positive),
            "createdAt": ("created_at", _datetime),
            "period": ("period", Period.parse),
            "date": ("date", _date),
        }
        for name, text in attrib.items():
            key, parse = parsers[name]
            try:
                values[key] = parse(text)
            except ValueError as exc:
                raise self._refuse(str(exc), line, name) from None
        return RegistryHeader(kind=kind, **values)

    # -- iterating -----------------------------------------------------------------------

    def __iter__(self) -> Iterator[Record]:
        return self._gen

    def __next__(self) -> Record:
        return next(self._gen)

    @property
    def report(self) -> ReadReport:
        """The outcome, once iteration has ended (``RuntimeError`` before).

        After :class:`~pes_sdk.errors.RegistryRefused` it tells that refusal plainly:
        ``refused`` is the error's message (with the line and field to blame), the issues
        are the error's, and nothing is kept (0 records, total 0.00, no rejects file).
        """
        if self._report is None:
            raise RuntimeError("the report is complete once iteration has ended")
        return self._report

    def close(self) -> None:
        self._gen.close()
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if self._report is None:
            self._sink.abort()

    def _records(self) -> Generator[Record, None, None]:
        codec = self._codec
        tally = _Tally(sums={name: ZERO for name in schema.TOTALS_SUMS[codec.kind]})
        build, fast_sums = self._fast_builder(tally)
        record_tag = schema.qname(codec.record)
        try:
            self._fh = open(self.path, "rb")  # noqa: SIM115 (closed in close() or below)
            events = etree.iterparse(
                self._fh, events=("end",), tag=record_tag, **HARDENED_PARSER_OPTIONS
            )
            count = 0
            since_purge = 0
            root = None
            for _, el in events:
                count += 1
                rec = build(el)
                if rec is not None:
                    yield rec
                el.clear()
                since_purge += 1
                if since_purge >= PURGE_EVERY:
                    # The cleared records before this one are deleted in one go; that they
                    # are exactly the records seen proves nothing else stood among them.
                    parent = el.getparent()
                    if root is None:
                        root = el.getroottree().getroot()
                    if (
                        parent is not root
                        or len(parent) < since_purge
                        or parent[since_purge - 1] is not el
                    ):
                        self._check_children(parent, el, record_tag)
                        since_purge = parent.index(el) + 1
                    del parent[: since_purge - 1]
                    since_purge = 1
            final_root = events.root
        except etree.XMLSyntaxError as exc:
            raise self._refuse(_not_well_formed(exc), exc.lineno or 0) from None
        except _Structure as exc:
            raise self._refuse(exc.message, exc.line) from None
        except OSError as exc:
            raise self._refuse(_unreadable(exc)) from None
        finally:
            if self._fh is not None:
                self._fh.close()
                self._fh = None
        tally.records = count
        for name, value in fast_sums().items():
            tally.sums[name] += value
        try:
            control, totals_line = self._totals(final_root, record_tag)
        except _Structure as exc:
            raise self._refuse(exc.message, exc.line) from None
        self.header = attrs.evolve(self.header, control=control)
        good_total = tally.sums.get("amount", ZERO) - tally.rejected_amount
        report, error = self._sink.finish(
            self.header,
            tally.records,
            tally.sums,
            control,
            good_total=good_total,
            unverifiable=sorted(tally.unverifiable),
        )
        if error is not None:
            raise self._refused(self._at_totals(error, totals_line))
        self._report = report

    def _check_children(self, parent: Any, upto: Any, record_tag: str) -> None:
        """Find what other than a record stands before ``upto`` (the slow, rare path)."""
        if parent is None or parent.getparent() is not None:
            line = upto.sourceline or 0
            raise _Structure(
                tr("a {element} element must be a child of the root", element=_local(record_tag)),
                line,
            )
        for child in parent:
            if child is upto:
                return
            if child.tag != record_tag:
                raise _Structure(_unexpected_among_records(child), child.sourceline or 0)

    def _totals(self, root: Any, record_tag: str) -> tuple[ControlTotals, int]:
        """Check what is left of the root: records, then exactly one ``Totals``, last.

        Returns the control totals and the line of their ``Totals`` element.
        """
        kind = self._codec.kind
        totals_tag = schema.qname(schema.TOTALS_ELEMENT)
        children = list(root)
        for child in children[:-1]:
            if child.tag == totals_tag:
                raise _Structure(tr("Totals must be the last element"), child.sourceline or 0)
            if child.tag != record_tag:
                raise _Structure(_unexpected_among_records(child), child.sourceline or 0)
        if not children or children[-1].tag != totals_tag:
            line = children[-1].sourceline or 0 if children else root.sourceline or 0
            raise _Structure(
                tr("no Totals element after the records: the file is incomplete"), line
            )
        el = children[-1]
        line = el.sourceline or 0
        if len(el):
            raise _Structure(tr("Totals has no child elements"), line)
        names = ("count", *schema.TOTALS_SUMS[kind])
        for name in el.attrib:
            if name not in names:
                raise _Structure(tr("unknown attribute {name} of Totals", name=name), line)
        sums: dict[str, Decimal] = {}
        text = el.get("count")
        if text is None or not schema.COUNT.fullmatch(text):
            raise _Structure(tr("Totals count is not a count: {text!r}", text=text), line)
        for name in names[1:]:
            value = el.get(name)
            if value is None or not schema.AMOUNT.fullmatch(value):
                raise _Structure(
                    tr("Totals {name} is not an amount: {value!r}", name=name, value=value), line
                )
            sums[name] = Decimal(value)
        return ControlTotals(int(text), sums), line

    # -- records -------------------------------------------------------------------------

    def _reject(self, el: Any, issues: list[Issue]) -> None:
        raw = etree.tostring(el, encoding="unicode", with_tail=False)
        if len(raw) > RAW_LIMIT:  # a hostile megabyte value stays out of the rejects file
            raw = raw[:RAW_LIMIT] + f"… [{len(raw) - RAW_LIMIT} more characters]"
        self._sink.reject(el.sourceline or 0, raw, issues)

    def _slow(self, el: Any, tally: _Tally) -> Record | None:
        """Read one record the careful way: every problem is named, with its line and field."""
        codec = self._codec
        line = el.sourceline or 0
        issues: list[Issue] = []
        attrib = dict(el.attrib)
        for name in attrib:
            if name not in codec.attributes:
                issues.append(Issue(line, name, tr("unknown attribute")))
        values: dict[str, Any] = {}
        amount: Decimal | None = None
        for f in codec.fields:
            text = attrib.get(f.attr)
            if text is None:
                if f.required:
                    issues.append(Issue(line, f.attr, tr("missing attribute")))
                    if f.attr in tally.sums:
                        tally.unverifiable.add(f.attr)
                elif f.default is not OMIT:
                    values[f.name] = f.default
                continue
            if len(text) > schema.MAX_TEXT:
                issues.append(Issue(line, f.attr, _too_long()))
                if f.attr in tally.sums:
                    tally.unverifiable.add(f.attr)
                continue
            try:
                values[f.name] = value = f.parse(text)
            except (ValueError, TypeError) as exc:
                issues.append(Issue(line, f.attr, str(exc)))
                if f.attr in tally.sums:
                    tally.unverifiable.add(f.attr)
                continue
            if f.attr in tally.sums:
                tally.sums[f.attr] += value
                if f.attr == "amount":
                    amount = value
        tags: list[tuple[str, str]] = []
        tag_tag = schema.qname(schema.TAG_ELEMENT)
        for child in el:
            cline = child.sourceline or line
            if child.tag == schema.qname(codec.record):
                raise _Structure(
                    tr("a {element} element cannot hold another", element=codec.record), cline
                )
            if child.tag != tag_tag or not codec.tags:
                issues.append(Issue(cline, _fmt_tag(child.tag), tr("unexpected element")))
                continue
            key = child.get("key")
            if key is None or not key or ":" in key or len(child.attrib) != 1 or len(child):
                issues.append(
                    Issue(cline, "Tag", tr("a Tag has one attribute key (no ':') and text"))
                )
                continue
            if len(key) > schema.MAX_TEXT or len(child.text or "") > schema.MAX_TEXT:
                issues.append(Issue(cline, "Tag", _too_long()))
                continue
            tags.append((key, child.text or ""))
        record: Record | None = None
        if not issues:
            try:
                record = codec.assemble(values, tuple(tags))
            except (ValueError, TypeError) as exc:
                issues.append(Issue(line, codec.record, str(exc)))
        if record is not None and codec.kind is RegistryKind.DEBTS:
            issue = self._duplicate(record, line)
            if issue is not None:
                issues.append(issue)
                record = None
        if issues:
            if amount is not None:
                tally.rejected_amount += amount
            self._reject(el, issues)
            return None
        return record

    def _duplicate(self, rec: Any, line: int) -> Issue | None:
        # Hashes, not the pairs: a million debts' (account, service) pairs would cost more
        # memory than the reader's bound. A 64-bit collision (≈1e-8 at a million records)
        # would report a false duplicate, never miss a true one.
        key = hash((rec.account, rec.service))
        if key in self._dupes:
            return Issue(
                line,
                "account",
                tr(
                    "account {account!r} and service {service!r} repeat an earlier record",
                    account=rec.account,
                    service=rec.service,
                ),
            )
        self._dupes.add(key)
        return None

    def _fast_builder(
        self, tally: _Tally
    ) -> tuple[Callable[[Any], Record | None], Callable[[], dict[str, Decimal]]]:
        """The per-record function of the hot loop, and a function giving its sums."""
        kind = self._codec.kind
        if kind is RegistryKind.PAYMENTS:
            return _payments_builder(self, tally)
        if kind is RegistryKind.DEBTS:
            return _debts_builder(self, tally)

        def slow(el: Any) -> Record | None:
            return self._slow(el, tally)

        return slow, dict


# -- fast paths ------------------------------------------------------------------------------
#
# Each fast path takes a record only when every value passes checks at least as strict as the
# model's own (tests/test_fast_path.py holds them equal); anything else goes to the slow path.
# Texts that repeat over a registry (house GUIDs, premises, periods) are checked once.

_PAYMENT_ATTRS = (
    "paidAt",
    "operationId",
    "account",
    "amount",
    "transfer",
    "fee",
    "houseId",
    "premises",
    "period",
    "serviceCode",
    "service",
    "channel",
)
_PAYMENT_FIELDS = (
    "paid_at",
    "operation_id",
    "account",
    "amount",
    "transfer",
    "fee",
    "house_id",
    "premises",
    "period",
    "service",
    "channel",
    "tags",
    "service_code",
)
_PAYMENT_REQUIRED = 6  # the first six attributes are required
# amount \0 transfer \0 fee, checked in one match
_PAYMENT_FAST = re.compile("\x00".join([schema.AMOUNT.pattern] * 3), re.ASCII)
_DEBT_ATTRS = ("account", "houseId", "premises", "amount", "period", "serviceCode", "service")
_DEBT_FIELDS = (
    "account",
    "house_id",
    "premises",
    "amount",
    "period",
    "service",
    "tags",
    "service_code",
    "address",
)
_DEBT_FAST = re.compile(schema.FAST_ACCOUNT.pattern + "\x00" + schema.AMOUNT.pattern, re.ASCII)


def _layout(keys: list[str], names: tuple[str, ...], required: int) -> tuple[int, ...] | None:
    """Positions of ``names`` among ``keys`` (-1 when absent), or None when the fast path
    cannot take this layout (an unknown or a missing required attribute)."""
    where = {k: i for i, k in enumerate(keys)}
    if len(where) != len(keys) or not where.keys() <= set(names):
        return None
    pos = tuple(where.get(n, -1) for n in names)
    if min(pos[:required], default=0) < 0:
        return None
    return pos


class _Caches:
    """Checked values of texts that repeat, each cache bounded."""

    def __init__(self) -> None:
        self.guids: dict[str, str] = {}
        self.premises: dict[str, Premises] = {}
        self.periods: dict[str, Period] = {}
        self.datetimes: dict[str, dt.datetime] = {}

    def datetime(self, text: str) -> dt.datetime | None:
        if not schema.DATETIME.fullmatch(text):
            return None
        try:
            value = dt.datetime.fromisoformat(text)
        except ValueError:  # month 13 and the like: the slow path names it
            return None
        if len(self.datetimes) >= CACHE_LIMIT:
            self.datetimes.clear()
        self.datetimes[text] = value
        return value

    def guid(self, text: str) -> str | None:
        """The GUID in lower case, or None when the text is not one (slow path)."""
        try:
            value = identifiers.check_guid(text)
        except ValueError:
            return None
        if len(self.guids) >= CACHE_LIMIT:
            self.guids.clear()
        self.guids[text] = value
        return value

    def premise(self, text: str) -> Premises | None:
        if len(text) > MAX_PREMISES_LENGTH:
            return None
        if len(self.premises) >= CACHE_LIMIT:
            self.premises.clear()
        value = self.premises[text] = Premises(text)
        return value

    def period(self, text: str) -> Period | None:
        try:
            value = Period.parse(text)
        except ValueError:
            return None
        if len(self.periods) >= CACHE_LIMIT:
            self.periods.clear()
        self.periods[text] = value
        return value


def _payments_builder(
    reader: XmlRegistryReader, tally: _Tally
) -> tuple[Callable[[Any], Record | None], Callable[[], dict[str, Decimal]]]:
    setters = slot_setters(PaymentRecord, _PAYMENT_FIELDS)
    if setters is None:  # the model changed: the slow path alone is right

        def slow_only(el: Any) -> Record | None:
            return reader._slow(el, tally)

        return slow_only, dict
    (
        s_paid,
        s_op,
        s_acc,
        s_amt,
        s_tr,
        s_fee,
        s_house,
        s_prem,
        s_per,
        s_svc,
        s_ch,
        s_tags,
        s_code,
    ) = setters
    caches = _Caches()
    guids, premises, periods = caches.guids, caches.premises, caches.periods
    datetimes = caches.datetimes
    fast_match = _PAYMENT_FAST.fullmatch
    fast_account = schema.FAST_ACCOUNT.fullmatch
    max_text = schema.MAX_TEXT
    new = object.__new__
    cls = PaymentRecord
    empty_premises = Premises("")
    dec = Decimal
    slow = reader._slow
    # The running sums of the fast path live in this closure (cells are cheaper than
    # attributes); ``sums`` hands them over at the end.
    transfer_sum = fee_sum = ZERO
    last_keys: list[str] | None = None
    pos: tuple[int, ...] | None = None
    keys_are_canonical = False  # all attributes, in the writer's order: unpack directly

    def build(el: Any) -> Record | None:
        nonlocal transfer_sum, fee_sum, last_keys, pos, keys_are_canonical
        keys = el.keys()
        if keys != last_keys:
            last_keys = keys
            pos = _layout(keys, _PAYMENT_ATTRS, _PAYMENT_REQUIRED)
            keys_are_canonical = tuple(keys) == _PAYMENT_ATTRS
        if pos is None or len(el):
            return slow(el, tally)
        vs = el.values()
        if keys_are_canonical:
            paid, op, account, a, t, f, house, text, period, code, service, channel = vs
        else:
            vs.append(None)  # position -1: an absent optional attribute reads None
            (
                p_paid,
                p_op,
                p_acc,
                p_amt,
                p_tr,
                p_fee,
                p_house,
                p_prem,
                p_per,
                p_code,
                p_svc,
                p_ch,
            ) = pos
            paid = vs[p_paid]
            op = vs[p_op]
            account = vs[p_acc]
            a = vs[p_amt]
            t = vs[p_tr]
            f = vs[p_fee]
            house = vs[p_house]
            text = vs[p_prem]
            period = vs[p_per]
            code = vs[p_code] or ""
            service = vs[p_svc] or ""
            channel = vs[p_ch] or ""
        if len(op) + len(code) + len(service) + len(channel) > max_text:
            return slow(el, tally)
        # Digits-only accounts (the common case) need no regex; others get the narrow one.
        digits_only = len(account) <= 30 and account.isascii() and account.isdigit()
        if not digits_only and not fast_account(account):
            return slow(el, tally)
        if not fast_match(f"{a}\x00{t}\x00{f}"):
            return slow(el, tally)
        # A day's payments share their seconds: each distinct time is checked once.
        paid_at = datetimes.get(paid)
        if paid_at is None and (paid_at := caches.datetime(paid)) is None:
            return slow(el, tally)
        a = dec(a)
        t = dec(t)
        f = dec(f)
        if t + f != a:
            return slow(el, tally)
        if house is not None:
            h = guids.get(house)
            if h is None and (h := caches.guid(house)) is None:
                return slow(el, tally)
            house = h
        prem: Premises | None
        if text is None:
            prem = empty_premises
        elif (prem := premises.get(text)) is None and (prem := caches.premise(text)) is None:
            return slow(el, tally)
        if period is not None:
            p = periods.get(period)
            if p is None and (p := caches.period(period)) is None:
                return slow(el, tally)
            period = p
        rec = new(cls)
        s_paid(rec, paid_at)
        s_op(rec, op)
        s_acc(rec, account)
        s_amt(rec, a)
        s_tr(rec, t)
        s_fee(rec, f)
        s_house(rec, house)
        s_prem(rec, prem)
        s_per(rec, period)
        s_svc(rec, service)
        s_ch(rec, channel)
        s_tags(rec, ())
        s_code(rec, code)
        # No amount sum: every record here has a == t + f, so the amounts sum to the
        # transfers plus the fees, exactly.
        transfer_sum += t
        fee_sum += f
        return rec

    def sums() -> dict[str, Decimal]:
        return {"amount": transfer_sum + fee_sum, "transfer": transfer_sum, "fee": fee_sum}

    return build, sums


def _debts_builder(
    reader: XmlRegistryReader, tally: _Tally
) -> tuple[Callable[[Any], Record | None], Callable[[], dict[str, Decimal]]]:
    setters = slot_setters(DebtRecord, _DEBT_FIELDS)
    if setters is None:

        def slow_only(el: Any) -> Record | None:
            return reader._slow(el, tally)

        return slow_only, dict
    s_acc, s_house, s_prem, s_amt, s_per, s_svc, s_tags, s_code, s_addr = setters
    caches = _Caches()
    guids, premises, periods = caches.guids, caches.premises, caches.periods
    fast_match = _DEBT_FAST.fullmatch
    new = object.__new__
    cls = DebtRecord
    empty_premises = Premises("")
    dec = Decimal
    slow = reader._slow
    dupes = reader._dupes
    amount_sum = ZERO
    last_keys: list[str] | None = None
    pos: tuple[int, ...] | None = None

    def build(el: Any) -> Record | None:
        nonlocal amount_sum, last_keys, pos
        keys = el.keys()
        if keys != last_keys:
            last_keys = keys
            p = _layout(keys, _DEBT_ATTRS, 0)
            # account, houseId and amount are required; the others are not.
            pos = p if p is not None and min(p[0], p[1], p[3]) >= 0 else None
        if pos is None or len(el):
            return slow(el, tally)
        vs = el.values()
        vs.append(None)
        p_acc, p_house, p_prem, p_amt, p_per, p_code, p_svc = pos
        account = vs[p_acc]
        a = vs[p_amt]
        if not fast_match(f"{account}\x00{a}"):
            return slow(el, tally)
        house = vs[p_house]
        h = guids.get(house)
        if h is None and (h := caches.guid(house)) is None:
            return slow(el, tally)
        text = vs[p_prem]
        prem: Premises | None
        if text is None:
            prem = empty_premises
        elif (prem := premises.get(text)) is None and (prem := caches.premise(text)) is None:
            return slow(el, tally)
        period = vs[p_per]
        if period is not None:
            per = periods.get(period)
            if per is None and (per := caches.period(period)) is None:
                return slow(el, tally)
            period = per
        service = vs[p_svc] or ""
        code = vs[p_code] or ""
        if len(service) > schema.MAX_TEXT or len(code) > schema.MAX_TEXT:
            return slow(el, tally)
        key = hash((account, service))
        if key in dupes:
            return slow(el, tally)  # the slow path reports the duplicate
        dupes.add(key)
        a = dec(a)
        rec = new(cls)
        s_acc(rec, account)
        s_house(rec, h)
        s_prem(rec, prem)
        s_amt(rec, a)
        s_per(rec, period)
        s_svc(rec, service)
        s_tags(rec, ())
        s_code(rec, code)
        s_addr(rec, "")  # the file names the house by its GUID, never as text
        amount_sum += a
        return rec

    def sums() -> dict[str, Decimal]:
        return {"amount": amount_sum}

    return build, sums


# -- header values -----------------------------------------------------------------------


def _bank_account(text: str) -> str:
    if not schema.BANK_ACCOUNT.fullmatch(text):
        raise ValueError(tr("a bank account (р/с) is 20 digits, not {text!r}", text=text))
    return text


def _positive(text: str) -> int:
    if not schema.POSITIVE.fullmatch(text):
        raise ValueError(tr("not a registry number (1 or more): {text!r}", text=text))
    return int(text)


def _datetime(text: str) -> dt.datetime:
    if not schema.DATETIME.fullmatch(text):
        raise ValueError(tr("not a date-time YYYY-MM-DDThh:mm:ss[±hh:mm]: {text!r}", text=text))
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(impossible_date(exc)) from None


def _date(text: str) -> dt.date:
    if not schema.DATE.fullmatch(text):
        raise ValueError(tr("not a date YYYY-MM-DD: {text!r}", text=text))
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(impossible_date(exc)) from None


# -- messages said in several places ----------------------------------------------------


def _unreadable(exc: OSError) -> str:
    # The system's reason (strerror) is its own text, shown as it is.
    return tr("cannot read the file: {reason}", reason=exc.strerror or str(exc))


def _not_well_formed(exc: etree.XMLSyntaxError) -> str:
    # libxml2's own words are data.
    return tr("not well-formed XML: {detail}", detail=exc.msg)


def _unexpected_among_records(child: Any) -> str:
    return tr("unexpected element {element} among the records", element=_fmt_tag(child.tag))


def _too_long() -> str:
    return tr("longer than {limit} characters", limit=schema.MAX_TEXT)
