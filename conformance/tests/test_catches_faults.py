"""Proof that the suite catches faults: each broken format fails the check meant for it.

The suite is run as an adapter author runs it (a conftest that activates the plugin, a
``FormatConformance`` subclass), in-process with pytest's ``pytester``, against one broken
format of ``support/broken_formats.py`` at a time. Each case asserts the named check fails
and that a check the fault has nothing to do with still passes, so a check that failed for
every format would not count as proof.
"""

from __future__ import annotations

import importlib.metadata as md
from pathlib import Path

import attrs
import broken_formats  # noqa: F401 - imported once here, so inner runs share the classes
import pes_sdk_conformance.formats  # noqa: F401
import pytest
import reference_format  # noqa: F401
import wrappers  # noqa: F401

SUPPORT = Path(__file__).parent / "support"


@attrs.frozen
class Run:
    outcomes: dict[str, str]  # test name (with parameters) -> passed / failed / skipped
    warnings: list[str]
    failures: dict[str, str]  # test name -> failure text

    def outcome(self, name: str) -> str:
        assert name in self.outcomes, f"{name} did not run; ran: {sorted(self.outcomes)}"
        return self.outcomes[name]


def run_suite(
    pytester: pytest.Pytester,
    format_class: str,
    select: str,
    *,
    kind: str = "DEBTS",
    args: tuple[str, ...] = (),
    class_body: str = "",
    activate: bool = True,
) -> Run:
    if activate:
        pytester.makeconftest('pytest_plugins = ["pes_sdk_conformance.plugin"]\n')
    # Wrappers take the installed format they wrap; the private formats take their kind.
    argument = "" if format_class.startswith("wrappers.") else f"RegistryKind.{kind}"
    pytester.makepyfile(
        test_adapter=f"""
import sys
sys.path.insert(0, {str(SUPPORT)!r})
import pytest
from broken_formats import *
from reference_format import ReferenceFormat
import wrappers
from pes_sdk.models.registry import RegistryKind
from pes_sdk_conformance.formats import FormatConformance

class TestAdapter(FormatConformance):
{class_body or "    pass"}

    @pytest.fixture
    def registry_format(self):
        return {format_class}({argument})
"""
    )
    rec = pytester.inline_run("-p", "no:cacheprovider", "-k", select, *args)
    outcomes: dict[str, str] = {}
    failures: dict[str, str] = {}
    for rep in rec.getreports("pytest_runtest_logreport"):
        name = rep.nodeid.split("::")[-1]
        if rep.when == "call" or not rep.passed:
            outcomes[name] = rep.outcome
            if rep.failed:
                failures[name] = rep.longreprtext
    warnings = [str(c.warning_message.message) for c in rec.getcalls("pytest_warning_recorded")]
    return Run(outcomes, warnings, failures)


# (broken format, the check that must fail, a check that must still pass, -k selection)
CASES = [
    (
        "DropsLastRecord",
        "test_round_trip_keeps_every_record",
        "test_round_trip_money_to_the_kopeck",
        "round_trip_keeps_every_record or round_trip_money",
    ),
    (
        "DropsServiceCode",
        "test_round_trip_identifiers_and_text",
        "test_round_trip_money_to_the_kopeck",
        "round_trip_identifiers or round_trip_money",
    ),
    (
        "RoundsHalfEven",
        "test_malformed_sample_gives_typed_error[amount_three_decimals]",
        "test_round_trip_money_to_the_kopeck",
        "round_trip_money or (gives_typed_error and amount_three_decimals)",
    ),
    (
        "LosesLeadingZeros",
        "test_round_trip_identifiers_and_text",
        "test_round_trip_money_to_the_kopeck",
        "round_trip_identifiers or round_trip_money",
    ),
    (
        "SwallowsErrors",
        "test_malformed_sample_gives_typed_error[bad_guid]",
        "test_round_trip_whole_records",
        "round_trip_whole or (gives_typed_error and bad_guid)",
    ),
    (
        "SwallowsErrors",
        "test_tampered_control_total_is_refused",
        "test_control_totals_are_written",
        "tampered or totals_are_written",
    ),
    (
        "RaisesRawErrors",
        "test_malformed_sample_gives_typed_error[bad_period]",
        "test_round_trip_whole_records",
        "round_trip_whole or (gives_typed_error and bad_period)",
    ),
    (
        "WritesPartialFile",
        "test_failed_write_leaves_no_partial_file",
        "test_round_trip_whole_records",
        "partial_file or round_trip_whole",
    ),
    (
        "NoFormulaEscaping",
        "test_formula_text_is_escaped",
        "test_round_trip_whole_records",
        "formula or round_trip_whole",
    ),
    (
        "IgnoresControlTotals",
        "test_tampered_control_total_is_refused",
        "test_control_totals_are_written",
        "tampered or totals_are_written",
    ),
    (
        "SlurpsFile",
        "test_streaming_read_in_bounded_memory",
        "test_streaming_write_in_bounded_memory",
        "streaming",
    ),
    (
        "BuffersRecords",
        "test_streaming_write_in_bounded_memory",
        "test_streaming_read_in_bounded_memory",
        "streaming",
    ),
]
# Tracing every allocation of a format that keeps everything is slow: a smaller file (still
# 6,000 rows, over twice the growth allowed, larger between the two runs) keeps these cases quick.
SMALL_STREAMING = """\
    streaming_rows = 8000
    streaming_memory_growth = 256 * 1024
"""


# The same faults injected into the real example plugin ``example-jsonl-debts`` through
# its public API (support/wrappers.py): the suite catches them in a format it did not
# grow up with, too.
CASES += [
    (
        "wrappers.DropsLastRecord",
        "test_round_trip_keeps_every_record",
        "test_round_trip_identifiers_and_text",
        "round_trip_keeps_every_record or round_trip_identifiers",
    ),
    (
        "wrappers.RoundsHalfEven",
        "test_round_trip_money_to_the_kopeck",
        "test_round_trip_identifiers_and_text",
        "round_trip_money or round_trip_identifiers",
    ),
    (
        "wrappers.LosesLeadingZeros",
        "test_round_trip_identifiers_and_text",
        "test_round_trip_money_to_the_kopeck",
        "round_trip_identifiers or round_trip_money",
    ),
    (
        "wrappers.SwallowsErrors",
        "test_malformed_sample_gives_typed_error[bad_amount]",
        "test_round_trip_whole_records",
        "round_trip_whole or (gives_typed_error and bad_amount)",
    ),
    (
        "wrappers.SwallowsErrors",
        "test_tampered_control_total_is_refused",
        "test_control_totals_are_written",
        "tampered or totals_are_written",
    ),
    (
        "wrappers.WritesPartialFile",
        "test_failed_write_leaves_no_partial_file",
        "test_round_trip_whole_records",
        "partial_file or round_trip_whole",
    ),
]


@pytest.mark.parametrize(
    ("broken", "must_fail", "must_pass", "select"),
    CASES,
    ids=[f"{c[0]}-{c[1].removeprefix('test_')}" for c in CASES],
)
def test_broken_format_fails_its_check(
    pytester: pytest.Pytester, broken: str, must_fail: str, must_pass: str, select: str
) -> None:
    body = SMALL_STREAMING if select == "streaming" else ""
    run = run_suite(pytester, broken, select, class_body=body)
    assert run.outcome(must_fail) == "failed", f"{broken} was not caught by {must_fail}"
    assert run.outcome(must_pass) == "passed", run.failures.get(must_pass)


# Meter readings: no money, count-only control totals, values that keep their precision.
READING_CASES = [
    (
        "NormalizesMeterValues",
        "test_round_trip_money_to_the_kopeck",
        "test_round_trip_whole_records",
        "round_trip_money or round_trip_whole",
    ),
    (
        "DropsLastRecord",
        "test_round_trip_keeps_every_record",
        "test_round_trip_identifiers_and_text",
        "round_trip_keeps_every_record or round_trip_identifiers",
    ),
    (
        "IgnoresControlTotals",
        "test_tampered_control_total_is_refused",
        "test_control_totals_are_written",
        "tampered or totals_are_written",
    ),
    (
        "SwallowsErrors",
        "test_malformed_sample_gives_typed_error[bad_value]",
        "test_round_trip_whole_records",
        "round_trip_whole or (gives_typed_error and bad_value)",
    ),
    (
        "RaisesRawErrors",
        "test_malformed_sample_gives_typed_error[bad_period]",
        "test_round_trip_whole_records",
        "round_trip_whole or (gives_typed_error and bad_period)",
    ),
    (
        "WritesPartialFile",
        "test_failed_write_leaves_no_partial_file",
        "test_round_trip_whole_records",
        "partial_file or round_trip_whole",
    ),
]


@pytest.mark.parametrize(
    ("broken", "must_fail", "must_pass", "select"),
    READING_CASES,
    ids=[f"{c[0]}-{c[1].removeprefix('test_')}" for c in READING_CASES],
)
def test_broken_readings_format_fails_its_check(
    pytester: pytest.Pytester, broken: str, must_fail: str, must_pass: str, select: str
) -> None:
    run = run_suite(pytester, broken, select, kind="READINGS")
    assert run.outcome(must_fail) == "failed", f"{broken} was not caught by {must_fail}"
    assert run.outcome(must_pass) == "passed", run.failures.get(must_pass)


def test_normalized_meter_values_are_named(pytester: pytest.Pytester) -> None:
    run = run_suite(pytester, "NormalizesMeterValues", "round_trip_money", kind="READINGS")
    text = run.failures["test_round_trip_money_to_the_kopeck"]
    assert "values: wrote (Decimal('12345.678'), Decimal('0.100'), Decimal('7'))" in text, text
    assert "Decimal('0.1')" in text


@pytest.mark.parametrize("correct", ["ReferenceFormat", "wrappers.Wrapped"])
def test_correct_formats_pass_the_same_selections(pytester: pytest.Pytester, correct: str) -> None:
    """The harness itself: the unbroken formats pass every check the cases rely on."""
    select = " or ".join(
        [
            "round_trip",
            "gives_typed_error",
            "tampered",
            "totals_are_written",
            "partial_file",
            "formula",
        ]
    )
    run = run_suite(
        pytester, correct, f"({select}) and not random", args=("--pes-conformance-level=latest",)
    )
    assert not run.failures, run.failures
    assert run.outcome("test_round_trip_keeps_every_record") == "passed"


def test_failure_messages_say_what_broke(pytester: pytest.Pytester) -> None:
    """A failure tells the author what is wrong in their terms, not just `assert False`."""
    run = run_suite(
        pytester,
        "RaisesRawErrors",
        "gives_typed_error and bad_guid or round_trip_keeps_every_record",
    )
    text = run.failures["test_malformed_sample_gives_typed_error[bad_guid]"]
    assert "raised ValueError" in text and "PesError" in text
    run = run_suite(pytester, "DropsLastRecord", "round_trip_keeps_every_record")
    assert "wrote 8 records, read back 7" in run.failures["test_round_trip_keeps_every_record"]


# -- strictness levels ----------------------------------------------------------------------

LEVEL2 = "test_malformed_sample_names_the_exact_line[bad_guid]"
LEVEL2_SELECT = "names_the_exact_line and bad_guid or (gives_typed_error and bad_guid)"


def test_new_check_only_warns_below_its_level(pytester: pytest.Pytester) -> None:
    run = run_suite(pytester, "CountsLinesFromZero", LEVEL2_SELECT)
    assert run.outcome(LEVEL2) == "passed"
    assert run.outcome("test_malformed_sample_gives_typed_error[bad_guid]") == "passed"
    assert any(
        "fails from conformance level 2 on" in w and "names_the_exact_line" in w
        for w in run.warnings
    ), run.warnings


@pytest.mark.parametrize(
    ("args", "class_body", "ini"),
    [
        (("--pes-conformance-level=2",), "", ""),
        (("--pes-conformance-level=latest",), "", ""),
        ((), "    conformance_level = 2", ""),
        ((), "", "[pytest]\npes_conformance_level = 2\n"),
    ],
    ids=["command-line", "latest", "class-attribute", "ini"],
)
def test_new_check_fails_at_its_level(
    pytester: pytest.Pytester, args: tuple[str, ...], class_body: str, ini: str
) -> None:
    if ini:
        pytester.makeini(ini)
    run = run_suite(
        pytester, "CountsLinesFromZero", LEVEL2_SELECT, args=args, class_body=class_body
    )
    assert run.outcome(LEVEL2) == "failed"
    assert "the broken line is 4" in run.failures[LEVEL2]
    assert run.outcome("test_malformed_sample_gives_typed_error[bad_guid]") == "passed"


def test_command_line_level_overrides_the_class(pytester: pytest.Pytester) -> None:
    run = run_suite(
        pytester,
        "CountsLinesFromZero",
        LEVEL2_SELECT,
        args=("--pes-conformance-level=1",),
        class_body="    conformance_level = 2",
    )
    assert run.outcome(LEVEL2) == "passed"


def test_warnings_as_errors_keep_the_failure(pytester: pytest.Pytester) -> None:
    run = run_suite(
        pytester,
        "CountsLinesFromZero",
        LEVEL2_SELECT,
        args=("-W", "error::pes_sdk_conformance.plugin.ConformanceWarning"),
    )
    assert run.outcome(LEVEL2) == "failed"


def test_leftover_temporary_file_is_a_level_2_failure(pytester: pytest.Pytester) -> None:
    select = "failed_write"
    run = run_suite(pytester, "LeavesTemporaryFile", select)
    assert run.outcome("test_failed_write_leaves_no_partial_file") == "passed"
    assert run.outcome("test_failed_write_leaves_no_temporary_files") == "passed"
    assert any("files left behind" in w for w in run.warnings), run.warnings
    run = run_suite(pytester, "LeavesTemporaryFile", select, args=("--pes-conformance-level=2",))
    assert run.outcome("test_failed_write_leaves_no_temporary_files") == "failed"


def test_bad_level_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeconftest('pytest_plugins = ["pes_sdk_conformance.plugin"]\n')
    pytester.makepyfile(test_x="def test_x(pes_conformance): pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "--pes-conformance-level=strictest")
    result.stderr.fnmatch_lines(["*a conformance level is a number or 'latest'*"])
    assert result.ret == pytest.ExitCode.USAGE_ERROR


# -- explicit activation ----------------------------------------------------------------------


def test_plugin_is_not_auto_loaded() -> None:
    """No pytest11 entry point: installing the suite changes no other test run."""
    for ep in md.entry_points(group="pytest11"):
        assert not ep.value.startswith("pes_sdk_conformance"), ep


def test_forgetting_to_activate_says_so(pytester: pytest.Pytester) -> None:
    run = run_suite(pytester, "ReferenceFormat", "round_trip_keeps_every_record", activate=False)
    assert run.outcome("test_round_trip_keeps_every_record") == "failed"
    assert (
        "fixture 'pes_conformance' not found" in run.failures["test_round_trip_keeps_every_record"]
    )
