"""The conformance suite's format family against the three XML formats, found by name.

Meter readings use the suite's own golden readings, random readings and count-only control
totals (readings carry no money), like debts and payments use theirs.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import attrs
import pytest
from lxml import etree
from pes_sdk_1c_xml import load_schema, schema, writer
from pes_sdk_conformance.corpus import MalformedSample, NotApplicable
from pes_sdk_conformance.formats import FormatConformance

from pes_sdk.errors import FormatError, RegistryRefused
from pes_sdk.formats.base import Policy, RegistryFormat
from pes_sdk.models.registry import RegistryHeader, RegistryKind
from pes_sdk.premises import MAX_PREMISES_LENGTH

# Errors name the XML attribute (docs/1c-xml.md), not the record field.
ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "house_id": ("houseId",),
    "taken_on": ("takenOn",),
    "values": ("t1", "t2", "t3"),
}

#: An attribute each kind's record requires, and one of its root element's facts that is a
#: date or period (docs/1c-xml.md).
REQUIRED = {
    RegistryKind.DEBTS: "houseId",
    RegistryKind.PAYMENTS: "operationId",
    RegistryKind.READINGS: "meterNumber",
}
DATED = {
    RegistryKind.DEBTS: ("period", "2026-13"),
    RegistryKind.PAYMENTS: ("date", "2026-02-30"),
    RegistryKind.READINGS: ("date", "2026-02-30"),
}
ROOTS = {
    RegistryKind.DEBTS: "DebtRegistry",
    RegistryKind.PAYMENTS: "PaymentRegistry",
    RegistryKind.READINGS: "ReadingRegistry",
}


class OneCXmlSamples(FormatConformance):
    """Samples broken in the XML's own syntax, which no generic sample breaks: the prolog,
    the root element and its facts, the Totals element, a record's attributes and
    children, a Tag. Each names the line and, where one attribute is to blame, the
    attribute the reader must name there."""

    def malformed_samples(
        self, fmt: RegistryFormat, folder: Path
    ) -> dict[str, MalformedSample | NotApplicable]:
        corpus = super().malformed_samples(fmt, folder)
        text = next(folder.iterdir()).read_text("utf-8")
        lines = text.splitlines(keepends=True)
        root = 1  # 0-based: the prolog is line 1, the root element line 2
        totals = next(i for i, ln in enumerate(lines) if ln.lstrip().startswith("<Totals"))
        target = self.sample_set(fmt).target
        row = next(i for i, ln in enumerate(lines) if f'account="{target}"' in ln)
        tagged = next((i for i, ln in enumerate(lines) if "<Tag " in ln), None)

        def edit(
            at: int, old: str, new: str, what: str, field: str | None, *also: str
        ) -> MalformedSample:
            assert old in lines[at], (old, lines[at])
            changed = [*lines[:at], lines[at].replace(old, new, 1), *lines[at + 1 :]]
            return MalformedSample("".join(changed).encode(), what, at + 1, field, also)

        def subst(
            at: int, pattern: str, new: str, what: str, field: str | None, *also: str
        ) -> MalformedSample:
            found = re.search(pattern, lines[at])
            assert found, (pattern, lines[at])
            return edit(at, found.group(0), new, what, field, *also)

        start = lines[row].strip()
        element = start[1 : start.index(" ")]
        inner = start[: start.index(">")].replace(f'account="{target}"', 'account="99"') + "/>"
        dated, bad_date = DATED[fmt.kind]
        required = REQUIRED[fmt.kind]
        corpus |= {
            "xml_prolog_encoding": edit(
                0, "utf-8", "windows-1251", "the prolog declares windows-1251", None
            ),
            "xml_doctype": MalformedSample(
                text.replace("\n", '\n<!DOCTYPE x [<!ENTITY e "e">]>\n', 1).encode(),
                "a DOCTYPE (an internal entity) between the prolog and the root",
                2,
            ),
            "xml_root_other_namespace": edit(
                root, "urn:pes-sdk:registry:1", "urn:example:other", "another namespace", None
            ),
            "xml_root_unknown_attribute": edit(
                root,
                ' number="',
                ' version="2" number="',
                "an unknown root attribute",
                "version",
            ),
            "xml_root_missing_number": subst(
                root, r' number="\d+"', "", "the root without its number", "number"
            ),
            "xml_root_number_zero": subst(
                root, r' number="\d+"', ' number="0"', "registry number 0", "number"
            ),
            "xml_root_bad_inn": edit(
                root,
                'partnerInn="7707083893"',
                'partnerInn="7707083894"',
                "a partner ИНН with a wrong check digit",
                "partnerInn",
            ),
            "xml_root_bad_account": subst(
                root,
                r'partnerAccount="\d+"',
                'partnerAccount="4070281093800000000"',
                "a bank account of 19 digits",
                "partnerAccount",
            ),
            "xml_root_bad_created_at": subst(
                root,
                r'createdAt="[^"]+"',
                'createdAt="2026-11-27 23:00"',
                "createdAt not an xs:dateTime",
                "createdAt",
            ),
            "xml_root_bad_date": subst(
                root, rf'{dated}="[^"]+"', f'{dated}="{bad_date}"', f"{dated} {bad_date}", dated
            ),
            "xml_totals_unknown_attribute": edit(
                totals, "<Totals ", '<Totals extra="1" ', "an unknown Totals attribute", None
            ),
            "xml_totals_bad_count": subst(
                totals, r'count="\d+"', 'count="9x"', "a Totals count of 9x", None
            ),
            "xml_totals_with_child": edit(
                totals, "></Totals>", "><Note/></Totals>", "a child element of Totals", None
            ),
            "xml_record_missing_required": subst(
                row, rf' {required}="[^"]*"', "", f"a record without {required}", required
            ),
            # A whole valid record (its own account) inside the target: only the nesting is
            # wrong. The inner record's line is blamed, one below the outer record's.
            "xml_record_nested": MalformedSample(
                "".join(
                    [
                        *lines[:row],
                        lines[row].replace(">", f">\n    {inner}\n  ", 1),
                        *lines[row + 1 :],
                    ]
                ).encode(),
                "a record element inside another",
                row + 2,
            ),
            "xml_two_problems": subst(
                row,
                r'houseId="[^"]+"',
                'houseId="not-a-guid" bogus="1"',
                "a record with two faults: a bad houseId and an unknown attribute",
                "houseId",
                "bogus",
            ),
        }
        # A text one character over the format's limit, in the service (not the account,
        # which long_line breaks): the fast path must not take what the slow one refuses.
        corpus["xml_long_service"] = subst(
            row, r' service="[^"]*"', f' service="{"ж" * (schema.MAX_TEXT + 1)}"',
            "a service one character longer than the format's limit", "service",
        )  # fmt: skip
        # Children of one record with a fault each, after one another: every one is named
        # (the reader goes on to the next child after each).
        long_tag = f'<Tag key="k">{"ж" * (schema.MAX_TEXT + 1)}</Tag>'
        corpus["xml_bad_children"] = edit(
            row, "></", f"><Note/>{long_tag}<Memo/></",
            "a record with three bad children: an unknown element, a Tag too long, another "
            "unknown element", "Note", "Tag", "Memo",
        )  # fmt: skip
        corpus["xml_bad_children_keyless"] = edit(
            row, "></", "><Note/><Tag>no key</Tag><Memo/></",
            "a record with three bad children: an unknown element, a Tag without its key, "
            "another unknown element", "Note", "Tag", "Memo",
        )  # fmt: skip
        # Values only the fast path of the reader sees first: each must reach the slow path
        # that names it.
        if 'premises="' in lines[row]:
            corpus["xml_long_premises"] = subst(
                row, r' premises="[^"]*"', f' premises="{"1" * (MAX_PREMISES_LENGTH + 1)}"',
                "premises one character longer than their limit", "premises",
            )  # fmt: skip
        if fmt.kind is RegistryKind.PAYMENTS:
            corpus["xml_bad_paid_at"] = subst(
                row, r'paidAt="[^"]*"', 'paidAt="2026-11-27T25:00:00+03:00"',
                "a payment at hour 25", "paidAt",
            )  # fmt: skip
            corpus["xml_paid_at_offset_seconds"] = subst(
                row, r'paidAt="[^"]*"', 'paidAt="2026-11-27T13:45:59+03:00:30"',
                "a payment time at an offset in seconds, which xs:dateTime cannot hold",
                "paidAt",
            )  # fmt: skip
            corpus["xml_parts_do_not_add_up"] = subst(
                row, r'fee="[^"]*"', 'fee="0.01"',
                "a payment whose transfer and fee do not add up to its amount", None,
            )  # fmt: skip
        # A root element of another kind in the right namespace: refused at its line.
        other = next(k for k in ROOTS if k != fmt.kind)
        own_root, other_root = ROOTS[fmt.kind], ROOTS[other]
        corpus["xml_root_other_kind"] = MalformedSample(
            text.replace(f"<{own_root} ", f"<{other_root} ", 1)
            .replace(f"</{own_root}>", f"</{other_root}>", 1)
            .encode(),
            f"the root element {other_root} in a {fmt.kind.value} registry",
            root + 1,
        )
        # Whole-file structure: something else among the records, a root that holds
        # nothing (no records, no Totals: blamed on the root's line).
        corpus["xml_foreign_element"] = MalformedSample(
            "".join([*lines[: row + 1], "  <Note/>\n", *lines[row + 1 :]]).encode(),
            "an element that is no record among the records",
            row + 2,
        )
        corpus["xml_empty_root"] = MalformedSample(
            "".join([lines[0], lines[root].replace(">", "/>", 1)]).encode(),
            "a root element with no records and no Totals",
            root + 1,
        )
        # Beyond the first 256 records the reader deletes the records it has read, checking
        # that nothing else stood among them: an element that is no record, at record 100
        # of 300, is found there (the golden file is too short to reach that check).
        many = folder.with_name(folder.name + "-many")
        path, _ = self.write_registry(fmt, many, self.large_records(fmt, 300))
        big = path.read_text("utf-8").splitlines(keepends=True)
        at = [i for i, ln in enumerate(big) if ln.startswith(f"  <{element} ")][99]
        # A record nested in the 256th: its end is the 256th record event, where the reader
        # purges, and finds the record's parent is not the root. Blamed on the inner line.
        nth = [i for i, ln in enumerate(big) if ln.startswith(f"  <{element} ")][255]
        start = big[nth].strip()
        nested = re.sub(r' account="[^"]*"', ' account="9"', start[: start.index(">")]) + "/>"
        corpus["xml_nested_at_purge"] = MalformedSample(
            "".join(
                [*big[:nth], big[nth].replace(">", f">\n    {nested}\n  ", 1), *big[nth + 1 :]]
            ).encode(),
            "a record nested in the 256th of 300 records, where the reader first purges",
            nth + 2,
        )
        corpus["xml_foreign_among_many"] = MalformedSample(
            "".join([*big[:at], "  <Note/>\n", *big[at:]]).encode(),
            "an element that is no record among 300 records",
            at + 1,
        )
        if tagged is not None:
            corpus["xml_tag_without_key"] = subst(
                tagged, r'<Tag key="[^"]*">', "<Tag>", "a Tag without its key", "Tag"
            )
            corpus["xml_tag_key_with_colon"] = subst(
                tagged, r'<Tag key="[^"]*">', '<Tag key="A:B">', "a Tag key with ':'", "Tag"
            )
            corpus["xml_tag_two_attributes"] = edit(
                tagged, "<Tag ", '<Tag lang="ru" ', "a Tag of two attributes", "Tag"
            )
        return corpus

    def test_header_refusal_names_the_fact(
        self, registry_format: RegistryFormat, tmp_path: Path
    ) -> None:
        """A header the root element cannot carry (a required fact unknown, a bad ИНН,
        number, bank account, or a creation time at an offset in seconds) is refused on
        writing with a FormatError naming that fact, and no file is left."""
        fmt = registry_format
        base = self.header_for(fmt, [])
        odd = dt.timezone(dt.timedelta(hours=3, seconds=30))
        cases: dict[str, RegistryHeader] = {
            "partner_inn": attrs.evolve(base, partner_inn=None),
            "number": attrs.evolve(base, number=None),
            "created_at": attrs.evolve(base, created_at=dt.datetime(2026, 11, 27, 23, tzinfo=odd)),
            "partner_account": attrs.evolve(base, partner_account="4070281093800000000"),
        }
        bad: dict[str, Any] = {"partner_inn": "123", "number": 0}
        if fmt.kind is RegistryKind.DEBTS:
            cases["period"] = attrs.evolve(base, period=None)
        if fmt.kind is RegistryKind.PAYMENTS:
            cases["date"] = attrs.evolve(base, date=None)
        for fact, header in [
            *cases.items(),
            *((f, attrs.evolve(base, **{f: v})) for f, v in bad.items()),
        ]:
            path = tmp_path / f"{fact}-{len(list(tmp_path.iterdir()))}" / "registry.xml"
            path.parent.mkdir()
            with pytest.raises(FormatError) as refused:
                fmt.write(path, header, [])
            assert refused.value.field == fact, f"{fact}: the refusal names {refused.value.field!r}"
            # Like the reader's errors: the file, the root element's line, and in the
            # message the element and its attribute (README, "Writer").
            assert refused.value.path == path, f"{fact}: the refusal names {refused.value.path}"
            assert refused.value.line == 2, f"{fact}: the refusal names line {refused.value.line}"
            attribute = f"{ROOTS[fmt.kind]}/@{writer.HEADER_ATTRIBUTES[fact]}"
            assert attribute in str(refused.value), f"{fact}: {refused.value} names no {attribute}"
            assert not path.exists(), f"{fact}: a refused header left a file"

    def test_abandoned_read_keeps_nothing(
        self, registry_format: RegistryFormat, tmp_path: Path
    ) -> None:
        """A read closed before its end (quarantine, a bad record already set aside) leaves
        no rejects file, finished or half-written, and has no report to give: the report
        is complete only once iteration has ended (README, "The report")."""
        fmt = registry_format
        folder = tmp_path / "abandoned"
        path, _ = self.write_registry(fmt, folder, self.large_records(fmt, 300))
        lines = path.read_text("utf-8").splitlines(keepends=True)
        # The second record (line 1 is the prolog, line 2 the root) gets an unknown
        # attribute: set aside, it starts the rejects file.
        second = [i for i, ln in enumerate(lines) if ln.lstrip().startswith("<")][3]
        lines[second] = re.sub(r"^(\s*<\w+) ", r'\1 bogus="1" ', lines[second], count=1)
        assert 'bogus="1"' in lines[second], lines[second]
        path.write_text("".join(lines), "utf-8")
        reader = fmt.open(path, policy=Policy.QUARANTINE, rejects_path=folder / "rejects.csv")
        got = [next(reader) for _ in range(10)]
        assert len(got) == 10
        begun = sorted(p.name for p in folder.iterdir())
        assert len(begun) > 1, f"the bad record was not set aside: only {begun}"
        reader.close()
        left = sorted(p.name for p in folder.iterdir())
        assert left == [path.name], f"an abandoned read left {left}"
        with pytest.raises(RuntimeError):
            reader.report  # noqa: B018 - the property is what is checked

    def test_report_after_a_refusal_tells_it(
        self, registry_format: RegistryFormat, tmp_path: Path
    ) -> None:
        """After RegistryRefused the reader's report tells that refusal and keeps nothing
        (README, "The report"): its ``refused`` is the error's message, its issues the
        error's, 0 records, total 0.00, no rejects file. Control totals that do not match
        are blamed on the Totals line (field ``control``), in the issues and the message;
        an element that is no record, on its own line."""
        fmt = registry_format
        gold = self.sample_set(fmt)
        path, _ = self.write_registry(fmt, tmp_path / "gold", gold.records)
        lines = path.read_text("utf-8").splitlines(keepends=True)
        totals = next(i for i, ln in enumerate(lines) if ln.lstrip().startswith("<Totals"))
        count = re.search(r'count="(\d+)"', lines[totals])
        assert count
        miscounted = [*lines]
        miscounted[totals] = lines[totals].replace(
            count.group(0), f'count="{int(count.group(1)) + 1}"', 1
        )
        row = next(i for i, ln in enumerate(lines) if f'account="{gold.target}"' in ln)
        foreign = [*lines[: row + 1], "  <Note/>\n", *lines[row + 1 :]]
        cases = {"miscounted": (miscounted, totals + 1), "foreign": (foreign, row + 2)}
        for (name, (text, line)), policy in itertools.product(
            cases.items(), (Policy.STRICT, Policy.QUARANTINE)
        ):
            bad = tmp_path / f"{name}-{policy.value}.xml"
            bad.write_text("".join(text), "utf-8")
            rejects = tmp_path / f"{name}-{policy.value}.rejects.csv"
            reader = fmt.open(bad, policy=policy, rejects_path=rejects)
            with reader, pytest.raises(RegistryRefused) as refused:
                list(reader)
            error, report = refused.value, reader.report
            where = f"{name} under {policy.value}"
            assert report.refused == error.message, where
            assert f"line {line}" in str(error), f"{where}: {error}"
            assert error.path == bad, f"{where}: the refusal names {error.path}"
            assert report.issues == error.issues and report.issues, where
            assert report.issue_count == error.issue_count, where
            assert report.issues[-1].line == line, f"{where}: {report.issues}"
            why = str(report.issues[-1].message)
            assert why and why in str(error), f"{where}: {error} does not say {why!r}"
            if name == "miscounted":
                assert report.issues[-1].field == "control", f"{where}: {report.issues}"
            assert (report.records, report.total, report.rejected) == (0, Decimal("0.00"), 0), where
            assert report.path == bad and report.rejects_path is None, where
            assert report.header.kind is fmt.kind and not report.valid, where
            assert not rejects.exists(), where

    def test_unreadable_amount_under_quarantine_is_refused(
        self, registry_format: RegistryFormat, tmp_path: Path
    ) -> None:
        """An amount that cannot be read (over the format's text limit, or written with a
        comma) cannot be summed: the control sum of amount cannot be checked, so even
        quarantine refuses the registry, though the stated Totals equal the sum of the
        other records' amounts."""
        fmt = registry_format
        if "amount" not in schema.TOTALS_SUMS[fmt.kind]:
            pytest.skip(f"{fmt.kind} registries carry no amounts")
        gold = self.sample_set(fmt)
        path, _ = self.write_registry(fmt, tmp_path, gold.records)
        lines = path.read_text("utf-8").splitlines(keepends=True)
        row = next(i for i, ln in enumerate(lines) if f'account="{gold.target}"' in ln)
        totals = next(i for i, ln in enumerate(lines) if ln.lstrip().startswith("<Totals"))
        amount = re.search(r' amount="([^"]*)"', lines[row])
        stated = re.search(r' amount="([^"]*)"', lines[totals])
        assert amount and stated
        rest = Decimal(stated.group(1)) - Decimal(amount.group(1))
        unreadable = {
            "over-long": "0" * schema.MAX_TEXT + amount.group(1),
            "with a comma": amount.group(1).replace(".", ","),
        }
        for what, text in unreadable.items():
            changed = [*lines]
            changed[row] = lines[row].replace(amount.group(0), f' amount="{text}"', 1)
            changed[totals] = lines[totals].replace(stated.group(0), f' amount="{rest}"', 1)
            bad = tmp_path / f"{what}.xml"
            bad.write_text("".join(changed), "utf-8")
            with pytest.raises(RegistryRefused, match="amount") as refused:
                self.read_registry(fmt, bad, Policy.QUARANTINE, rejects_path=tmp_path / "r.csv")
            issues = refused.value.issues
            assert any(i.field == "amount" and i.line == row + 1 for i in issues), (what, issues)

    def test_amounts_beyond_the_format_are_refused_on_writing(
        self, registry_format: RegistryFormat, tmp_path: Path
    ) -> None:
        """An amount of 16 digits (even when a negative debt brings the total back to a
        few roubles), or control totals that grow to 16 from records of 15, do not fit the
        format (15 digits, 2 decimals): refused with a FormatError naming the file, and no
        file left."""
        fmt = registry_format
        if "amount" not in schema.TOTALS_SUMS[fmt.kind]:
            pytest.skip(f"{fmt.kind} registries carry no amounts")
        base: Any = self.sample_set(fmt).records[0]  # a debt or a payment: evolved by name

        def of(amount: str) -> Any:
            value = Decimal(amount)
            if fmt.kind is RegistryKind.PAYMENTS:
                return attrs.evolve(base, amount=value, transfer=value, fee=Decimal("0.00"))
            return attrs.evolve(base, amount=value)

        biggest = "999999999999999.99"
        cases = {
            "one amount of 16 digits": [of("1000000000000000.00")],
            "two amounts of 15 digits, summing to 16": [
                of(biggest),
                attrs.evolve(of(biggest), account="99"),
            ],
        }
        if fmt.kind is RegistryKind.DEBTS:
            # An overpayment (a negative debt) brings the total back within the format: the
            # record's own amount must still be refused, not only the Totals.
            cases["an amount of 16 digits, the total of 1.00"] = [
                of("1000000000000000.00"),
                attrs.evolve(of("-999999999999999.00"), account="99"),
            ]
        for n, (what, records) in enumerate(cases.items()):
            folder = tmp_path / str(n)
            folder.mkdir()
            path = folder / "registry.xml"
            with pytest.raises(FormatError) as refused:
                fmt.write(path, self.header_for(fmt, []), records)
            assert refused.value.path == path, f"{what}: the refusal names no file"
            assert str(refused.value.message), f"{what}: the refusal says nothing"
            assert list(folder.iterdir()) == [], f"{what}: a refused write left a file"

    def test_written_file_is_valid_against_the_xsd(
        self, registry_format: RegistryFormat, tmp_path: Path
    ) -> None:
        """What the writer writes validates against the schema it ships (a partner's 1C
        checks it there): no stray text, no attribute or element the XSD lacks."""
        gold = self.sample_set(registry_format)
        path, _ = self.write_registry(registry_format, tmp_path, gold.records)
        xsd = load_schema()
        document = etree.parse(str(path))
        assert xsd.validate(document), f"{path.name}: {xsd.error_log.last_error}"  # type: ignore[attr-defined]


class TestOneCXmlDebts(OneCXmlSamples):
    format_name = "1c-xml-debts"
    streaming_bytes_per_row = 256  # one hash per (account, service): the duplicate check
    field_aliases: ClassVar[dict[str, tuple[str, ...]]] = ATTRIBUTES
    # DebtRegistry carries its period, not a date (docs/1c-xml.md, the root element).
    header_facts_not_carried = frozenset({"date"})


class TestOneCXmlPayments(OneCXmlSamples):
    format_name = "1c-xml-payments"
    field_aliases: ClassVar[dict[str, tuple[str, ...]]] = ATTRIBUTES
    # PaymentRegistry carries the day of its payments, not a period (docs/1c-xml.md).
    header_facts_not_carried = frozenset({"period"})


class TestOneCXmlReadings(OneCXmlSamples):
    format_name = "1c-xml-readings"
    field_aliases: ClassVar[dict[str, tuple[str, ...]]] = ATTRIBUTES
