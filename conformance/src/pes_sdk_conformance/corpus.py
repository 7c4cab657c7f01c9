"""The malformed-input corpus: broken files built by mutating a valid file the format wrote.

Formats differ in layout, so the corpus is not a fixed set of files: each sample is made
from a valid registry written by the format under test, by breaking one thing in the line
that holds the *target* record (see :class:`~pes_sdk_conformance.records.SampleSet`). This
works for any format that writes one record per line (CSV, fixed width, JSON Lines). A
format with another layout (XML, several lines per record) overrides
``FormatConformance.malformed_samples`` and builds its own, with the same names. Two
samples break the lines around the records instead: ``header_cut`` the line before the
first record, ``negative_count`` the count the footer or trailer states.

A builder that cannot apply to a format (no byte is invalid in cp866; the format does not
write a period) returns a :class:`NotApplicable` with the reason, and the check is skipped
with that reason.

The corpus fits the kind of record. Meter readings carry no amount and no period: for them
``bad_value`` (a meter value written ``12,3,4``) and ``negative_value`` take the place of
the two amount samples, and ``bad_period`` breaks the reading's date (month 13); the
amount samples are not applicable. For debts and payments the two value samples are not.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

import attrs

from pes_sdk.formats.base import Record
from pes_sdk.models.readings import MeterReading
from pes_sdk.money import to_kopecks
from pes_sdk_conformance.records import account_of

__all__ = [
    "STANDARD_SAMPLES",
    "MalformedSample",
    "NotApplicable",
    "TextFile",
    "build_standard_samples",
    "invalid_bytes",
]


@attrs.frozen
class MalformedSample:
    """A broken file, what is broken in it, and the 1-based line a reader should blame.

    ``line`` is ``None`` when the problem has no line of its own. ``field`` is the record
    field the reader should blame at that line (``FormatError.field`` or an issue's
    ``field``), ``None`` when the fault is in no one field (a NUL byte, a cut file).
    ``also``: further fields broken at the same line, each of which the reader must blame
    too (a row with several faults reports every one, so the partner mends it at once).
    """

    data: bytes
    description: str
    line: int | None
    field: str | None = None
    also: tuple[str, ...] = ()


@attrs.frozen
class NotApplicable:
    """Why a standard sample cannot be built for this format (the check skips with it)."""

    reason: str


#: The malformed samples every format is checked with, by name, and what each breaks.
STANDARD_SAMPLES: dict[str, str] = {
    "truncated": "the file cut off in the middle of its last record line",
    "truncated_at_line_end": "the file cut off exactly at the end of its last record line "
    "(what followed it, a footer or trailer, is lost)",
    "data_after_footer": "a record line after the footer or trailer that ends the file",
    "nul_byte": "a NUL byte inside a value",
    "invalid_encoding": "bytes that are invalid in the declared encoding",
    "long_line": "a line of more than 1 MB (the account is a million digits long)",
    "wrong_column_count": "a record line with extra fields (JSON: a key, XML: an attribute)",
    "bad_amount": "an amount written `12,3,4`",
    "amount_three_decimals": "an amount with a third decimal place (never rounded silently)",
    "blank_amount": "an amount left blank, spaces in its place (never read as 0.00)",
    "bad_guid": "a house GUID written `not-a-guid`",
    "bad_period": "a period with month 13 (readings: the reading's date)",
    "bad_value": "a meter value written `12,3,4` (meter readings)",
    "negative_value": "a negative meter value (meter readings)",
    "header_cut": "the header line, before the first record, cut off in its middle (the "
    "records and what follows them intact)",
    "negative_count": "the record count the footer or trailer states, made negative",
    "missing_field": "a record line without its account (JSON: the key, XML: the attribute)",
}


def invalid_bytes(encoding: str) -> bytes | None:
    """A byte sequence that cannot be decoded in ``encoding``, or None if every byte can."""
    for candidate in (b"\xff\xfe\xc3", *(bytes([b]) for b in range(128, 256))):
        try:
            candidate.decode(encoding)
        except UnicodeDecodeError:
            return candidate
    return None


@attrs.define
class TextFile:
    """A valid file split into lines, with the lines of the target and last records."""

    data: bytes
    encoding: str
    lines: list[str]  # decoded, with their line ends
    target_line: int  # 0-based
    last_line: int  # 0-based

    @classmethod
    def parse(
        cls, data: bytes, encoding: str, target_account: str, last_account: str
    ) -> TextFile | NotApplicable:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as exc:
            return NotApplicable(f"the valid file does not decode as {encoding}: {exc}")
        lines = text.splitlines(keepends=True)
        target = _line_of(lines, target_account)
        last = _line_of(lines, last_account)
        if target is None or last is None:
            return NotApplicable(
                "the target record is not on a line of its own (one record per line is "
                "assumed by the default corpus); override malformed_samples()"
            )
        return cls(data, encoding, lines, target, last)

    def with_line(self, index: int, new: str) -> bytes:
        """The file with line ``index`` replaced by ``new`` (text, encoded as declared)."""
        out = [*self.lines]
        out[index] = new
        return "".join(out).encode(self.encoding)

    def bytes_with_line(self, index: int, new: bytes) -> bytes:
        """The file with line ``index`` replaced by raw bytes ``new``."""
        enc = self.encoding
        before = "".join(self.lines[:index]).encode(enc)
        after = "".join(self.lines[index + 1 :]).encode(enc)
        return before + new + after


def _line_of(lines: list[str], account: str) -> int | None:
    # The account as a whole value: not preceded or followed by another account character.
    pattern = re.compile(r"(?<![\w-])" + re.escape(account) + r"(?![\w-])")
    hits = [i for i, line in enumerate(lines) if pattern.search(line)]
    return hits[0] if len(hits) == 1 else None


def _replace_value(
    line: str, forms: list[str], new: Callable[[str], str]
) -> tuple[str, str] | None:
    """Replace the first written form of a value found in ``line``; None if none is."""
    for form in forms:
        m = re.search(r"(?<![\w.,-])" + re.escape(form) + r"(?![\w.,])", line)
        if m:
            return line[: m.start()] + new(form) + line[m.end() :], form
    return None


def _amount_forms(value: Decimal) -> list[str]:
    dot = f"{value:.2f}"
    return [dot, dot.replace(".", ","), str(to_kopecks(value))]


def _split_eol(line: str) -> tuple[str, str]:
    body = line.rstrip("\r\n")
    return body, line[len(body) :]


def build_standard_samples(
    valid: bytes,
    encoding: str,
    target: Record,
    last: Record,
    *,
    first: Record | None = None,
    count: int | None = None,
) -> dict[str, MalformedSample | NotApplicable]:
    """Every :data:`STANDARD_SAMPLES` entry, built from ``valid`` (a file the format wrote).

    ``target`` is the record to break and ``last`` the last record of the file; their
    accounts must each appear on exactly one line. ``first`` (the first record) and
    ``count`` (how many records the file holds) let the samples that break the header and
    the footer find them; without them those samples are not applicable.
    """
    parsed = TextFile.parse(valid, encoding, account_of(target), account_of(last))
    if isinstance(parsed, NotApplicable):
        return dict.fromkeys(STANDARD_SAMPLES, parsed)
    f = parsed
    t = f.target_line
    line = f.lines[t]
    body, eol = _split_eol(line)
    out: dict[str, MalformedSample | NotApplicable] = {}

    def sample(name: str, data: bytes, line_index: int | None, field: str | None = None) -> None:
        out[name] = MalformedSample(
            data, STANDARD_SAMPLES[name], None if line_index is None else line_index + 1, field
        )

    # truncated: everything up to the middle of the last record's line.
    last_line = f.lines[f.last_line]
    cut = "".join(f.lines[: f.last_line]) + last_line[: max(1, len(last_line.rstrip("\r\n")) // 2)]
    sample("truncated", cut.encode(encoding), f.last_line)

    # Cut at a line end, and data after the end: both need something after the last record
    # (a footer, a trailer, a closing tag); without it such a file is simply a valid one.
    tail = "".join(f.lines[f.last_line + 1 :])
    if not tail.strip():
        nothing = NotApplicable("nothing follows the last record line (no footer or trailer)")
        out["truncated_at_line_end"] = out["data_after_footer"] = nothing
    else:
        whole = "".join(f.lines[: f.last_line + 1])
        # No line of its own: a reader may blame the last line it has or the missing next.
        sample("truncated_at_line_end", whole.encode(encoding), None)
        ending = "" if f.lines[-1].endswith(("\n", "\r")) else _split_eol(f.lines[f.last_line])[1]
        extra = "".join(f.lines) + ending + f.lines[f.target_line].rstrip("\r\n") + (eol or "\n")
        sample("data_after_footer", extra.encode(encoding), len(f.lines))

    _header_sample(out, f, first, sample)
    _count_sample(out, f, count, sample)

    acc = account_of(target)
    at = body.find(acc)
    mid = at + max(1, len(acc) // 2)
    sample("nul_byte", f.with_line(t, body[:mid] + "\x00" + body[mid:] + eol), t)

    bad = invalid_bytes(encoding)
    if bad is None:
        out["invalid_encoding"] = NotApplicable(f"every byte is valid in {encoding}")
    else:
        raw = (body[:mid].encode(encoding) + bad + body[mid:].encode(encoding)) + eol.encode(
            encoding
        )
        sample("invalid_encoding", f.bytes_with_line(t, raw), t)

    sample(
        "long_line",
        f.with_line(t, body[:at] + acc + "9" * (1 << 20) + body[at + len(acc) :] + eol),
        t,
    )

    stripped = body.strip()
    element = re.match(r"\s*<[\w:.-]+", body)
    if stripped.startswith("{") and stripped.endswith("}"):  # JSON: an unknown key
        extra = body.replace("{", '{"unexpected_field": "лишнее", ', 1)
        sample("wrong_column_count", f.with_line(t, extra + eol), t)
    elif element:  # XML: an unknown attribute
        extra = body[: element.end()] + ' unexpected="лишнее"' + body[element.end() :]
        sample("wrong_column_count", f.with_line(t, extra + eol), t)
    else:
        counts = {d: body.count(d) for d in (";", "\t", "|", ",")}
        delim = max(counts, key=lambda d: counts[d])
        if counts[delim] == 0:
            out["wrong_column_count"] = NotApplicable("no delimiter found in the record line")
        else:
            sample("wrong_column_count", f.with_line(t, body + f"{delim}лишнее{delim}x" + eol), t)

    # The account left out: JSON drops its key, XML its attribute; the reader blames the
    # account there. A delimited line cannot leave out a value without shifting the rest
    # (that is wrong_column_count).
    value = re.escape(acc)
    if stripped.startswith("{") and stripped.endswith("}"):
        missing = re.sub(rf'"[^"]+"\s*:\s*"{value}"\s*,\s*', "", body, count=1)
    elif element:
        missing = re.sub(rf'\s[\w:.-]+\s*=\s*"{value}"', "", body, count=1)
    else:
        missing = body
    if missing == body:
        out["missing_field"] = NotApplicable("no JSON key or XML attribute holds the account")
    else:
        sample("missing_field", f.with_line(t, missing + eol), t, "account")

    if isinstance(target, MeterReading):
        _reading_samples(out, f, target, sample)
        return out
    no_values = NotApplicable("only meter readings carry meter values")
    out["bad_value"] = out["negative_value"] = no_values

    amount: Decimal = getattr(target, "amount", Decimal(0))
    replaced = _replace_value(body, _amount_forms(amount), lambda form: "12,3,4")
    if replaced is None:
        out["bad_amount"] = NotApplicable(f"amount {amount} not found in the record line")
        out["amount_three_decimals"] = NotApplicable(
            f"amount {amount} not found in the record line"
        )
        out["blank_amount"] = NotApplicable(f"amount {amount} not found in the record line")
    else:
        sample("bad_amount", f.with_line(t, replaced[0] + eol), t, "amount")
        # Spaces as wide as the amount: a fixed-width layout keeps its columns.
        blank = _replace_value(body, [replaced[1]], lambda s: " " * len(s))
        assert blank is not None
        sample("blank_amount", f.with_line(t, blank[0] + eol), t, "amount")
        form = replaced[1]
        if "." in form or "," in form:
            three = _replace_value(body, [form], lambda s: s + "5")
            assert three is not None
            sample("amount_three_decimals", f.with_line(t, three[0] + eol), t, "amount")
        else:
            out["amount_three_decimals"] = NotApplicable("amounts are written in kopecks")

    _guid_sample(out, f, target, sample)

    period = getattr(target, "period", None)
    if period is None:
        out["bad_period"] = NotApplicable("the target record has no period")
    else:
        y, m = f"{period.year:04d}", f"{period.month:02d}"
        forms = {
            f"{y}-{m}": f"{y}-13",
            f"{m}{y}": f"13{y}",
            f"{m}.{y}": f"13.{y}",
            f"{m}/{y}": f"13/{y}",
            f"{y}{m}": f"{y}13",
        }
        replaced = _replace_value(body, list(forms), lambda form: forms[form])
        if replaced is None:
            out["bad_period"] = NotApplicable(f"period {period} not found in the record line")
        else:
            sample("bad_period", f.with_line(t, replaced[0] + eol), t, "period")
    return out


_Sample = Callable[[str, bytes, int | None, str | None], None]


def _header_sample(
    out: dict[str, MalformedSample | NotApplicable],
    f: TextFile,
    first: Record | None,
    sample: _Sample,
) -> None:
    """The first line cut in its middle, when it is a header: a line before the first
    record's. Whatever the syntax, half a header is not one: the reader refuses the file
    and blames line 1 (never the records after it, never a crash)."""
    start = None
    if first is not None:
        # The first line that holds the first record's account (it may hold more than one).
        pattern = re.compile(r"(?<![\w-])" + re.escape(account_of(first)) + r"(?![\w-])")
        start = next((i for i, line in enumerate(f.lines) if pattern.search(line)), None)
    head, eol = _split_eol(f.lines[0])
    if not start or len(head.strip()) < 2:
        out["header_cut"] = NotApplicable("no header line before the first record")
        return
    sample("header_cut", f.with_line(0, head[: len(head) // 2] + eol), 0, None)


def _count_sample(
    out: dict[str, MalformedSample | NotApplicable],
    f: TextFile,
    count: int | None,
    sample: _Sample,
) -> None:
    """The count a footer or trailer states (the one number equal to the record count in
    the lines after the last record), with a minus sign: no registry holds -4 records, so
    the reader refuses the footer at its line, rather than crash or trust it."""
    if count is None:
        out["negative_count"] = NotApplicable("the record count is not known")
        return
    # A whole number: not part of a longer number, a decimal (4,50 4.50) or a word.
    number = re.compile(rf"(?<![\w.,-]){count}(?![\w.]|,\d)")
    hits = [
        (i, m) for i in range(f.last_line + 1, len(f.lines)) for m in number.finditer(f.lines[i])
    ]
    if len(hits) != 1:
        reason = "no" if not hits else "more than one"
        out["negative_count"] = NotApplicable(
            f"{reason} number {count} (the record count) after the last record line"
        )
        return
    i, m = hits[0]
    line = f.lines[i]
    sample("negative_count", f.with_line(i, line[: m.start()] + "-" + line[m.start() :]), i, None)


def _guid_sample(
    out: dict[str, MalformedSample | NotApplicable], f: TextFile, target: Record, sample: _Sample
) -> None:
    t = f.target_line
    body, eol = _split_eol(f.lines[t])
    house = getattr(target, "house_id", None)
    if house is None:
        out["bad_guid"] = NotApplicable("the target record has no house GUID")
        return
    replaced = _replace_value(body, [house, house.upper()], lambda form: "not-a-guid")
    if replaced is None:
        out["bad_guid"] = NotApplicable(f"house GUID {house} not found in the record line")
    else:
        sample("bad_guid", f.with_line(t, replaced[0] + eol), t, "house_id")


def _value_forms(value: Decimal) -> list[str]:
    text = f"{value:f}"
    return [text, text.replace(".", ",")]


def _reading_samples(
    out: dict[str, MalformedSample | NotApplicable],
    f: TextFile,
    target: MeterReading,
    sample: _Sample,
) -> None:
    """The samples that fit meter readings: bad and negative values, a bad date."""
    t = f.target_line
    body, eol = _split_eol(f.lines[t])
    no_amount = NotApplicable("meter readings carry no amount (see bad_value, negative_value)")
    out["bad_amount"] = out["amount_three_decimals"] = out["blank_amount"] = no_amount

    value = target.values[0]
    replaced = _replace_value(body, _value_forms(value), lambda form: "12,3,4")
    if replaced is None:
        missing = NotApplicable(f"meter value {value} not found in the record line")
        out["bad_value"] = out["negative_value"] = missing
    else:
        sample("bad_value", f.with_line(t, replaced[0] + eol), t, "values")
        negative = _replace_value(body, [replaced[1]], lambda form: "-" + form)
        assert negative is not None
        sample("negative_value", f.with_line(t, negative[0] + eol), t, "values")

    _guid_sample(out, f, target, sample)

    day = target.taken_on
    y, m, d = f"{day.year:04d}", f"{day.month:02d}", f"{day.day:02d}"
    forms = {
        f"{y}-{m}-{d}": f"{y}-13-{d}",
        f"{d}.{m}.{y}": f"{d}.13.{y}",
        f"{y}{m}{d}": f"{y}13{d}",
    }
    replaced = _replace_value(body, list(forms), lambda form: forms[form])
    if replaced is None:
        out["bad_period"] = NotApplicable(f"reading date {day} not found in the record line")
    else:
        sample("bad_period", f.with_line(t, replaced[0] + eol), t, "taken_on")
