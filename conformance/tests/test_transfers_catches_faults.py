"""Proof that the transfers family catches faults: each broken format fails its check.

As in ``test_catches_faults.py``, the suite runs as an adapter author runs it (a conftest
that activates the plugin, a ``TransferFormatConformance`` subclass), in-process with
``pytester``, against one broken format of ``support/reference_transfers.py`` at a time.
Each case asserts that the check meant for the fault fails and that a check the fault has
nothing to do with still passes; the correct reference format passes every check.
"""

from __future__ import annotations

from pathlib import Path

import attrs
import pes_sdk_conformance.transfers  # noqa: F401 - imported once here, shared by inner runs
import pytest
import reference_transfers  # noqa: F401

SUPPORT = Path(__file__).parent / "support"


@attrs.frozen
class Run:
    outcomes: dict[str, str]
    failures: dict[str, str]

    def outcome(self, name: str) -> str:
        assert name in self.outcomes, f"{name} did not run; ran: {sorted(self.outcomes)}"
        return self.outcomes[name]


def run_suite(pytester: pytest.Pytester, format_class: str, select: str, *args: str) -> Run:
    pytester.makeconftest('pytest_plugins = ["pes_sdk_conformance.plugin"]\n')
    pytester.makepyfile(
        test_adapter=f"""
import sys
sys.path.insert(0, {str(SUPPORT)!r})
import pytest
import reference_transfers as rt

class TestAdapter(rt.ReferenceTransferConformance):
    @pytest.fixture
    def transfer_format(self):
        return rt.{format_class}()
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
    return Run(outcomes, failures)


# (broken format, the check that must fail, a check that must still pass, -k selection,
#  words the failure must show)
CASES = [
    (
        "RoundsOrderAmount",
        "test_sum_of_orders_equals_sum_of_transfers",
        "test_cyrillic_purpose_survives",
        "sum_of_orders or cyrillic",
        "the transfers settled sum to 97128070.65",
    ),
    (
        "RoundsOrderAmount",
        "test_amounts_exact_to_the_kopeck",
        "test_payee_details_pass_key_checks",
        "test_amounts_exact or payee_details",
        "wrote 1272.26, read Decimal('1272.30')",
    ),
    (
        "DropsLastOrder",
        "test_sum_of_orders_equals_sum_of_transfers",
        "test_statement_settles_every_order",
        "sum_of_orders or statement_settles",
        "the writer reports 2 orders for 3 partner-days",
    ),
    (
        "WritesPartialFile",
        "test_failed_write_leaves_no_partial_file",
        "test_sum_of_orders_equals_sum_of_transfers",
        "partial_file or sum_of_orders",
        "partial file under the final name",
    ),
    (
        "SwapsAccountDigits",
        "test_payee_details_pass_key_checks",
        "test_amounts_exact_to_the_kopeck",
        "payee_details or test_amounts_exact",
        "fails",
    ),
    (
        "ManglesCyrillic",
        "test_cyrillic_purpose_survives",
        "test_sum_of_orders_equals_sum_of_transfers",
        "cyrillic or sum_of_orders",
        "Ёлки-палки",
    ),
    (
        "IgnoresStatementTotals",
        "test_tampered_statement_is_refused[closing_balance]",
        "test_balanced_statement_is_accepted",
        "tampered or balanced",
        "closing_balance off by a kopeck was read",
    ),
    (
        "IgnoresStatementTotals",
        "test_tampered_statement_is_refused[total_out]",
        "test_statement_settles_every_order",
        "tampered or statement_settles",
        "total_out off by a kopeck was read",
    ),
    (
        "RaisesRawErrors",
        "test_malformed_statement_gives_typed_error[bad_amount]",
        "test_statement_settles_every_order",
        "(typed_error and bad_amount) or statement_settles",
        "raised _RawError",
    ),
    (
        "RoundsStatementAmounts",
        "test_malformed_statement_gives_typed_error[amount_three_decimals]",
        "test_statement_amounts_exact_to_the_kopeck",
        "(typed_error and three_decimals) or statement_amounts",
        "was read without error",
    ),
    (
        "AcceptsDataAfterEnd",
        "test_malformed_statement_gives_typed_error[data_after_end]",
        "test_malformed_statement_gives_typed_error[truncated_at_line_end]",
        "typed_error and (data_after_end or truncated_at_line_end)",
        "was read without error",
    ),
]


@pytest.mark.parametrize(
    ("broken", "must_fail", "must_pass", "select", "says"),
    CASES,
    ids=[f"{c[0]}-{c[1].removeprefix('test_')}" for c in CASES],
)
def test_broken_transfer_format_fails_its_check(
    pytester: pytest.Pytester, broken: str, must_fail: str, must_pass: str, select: str, says: str
) -> None:
    run = run_suite(pytester, broken, select)
    assert run.outcome(must_fail) == "failed", f"{broken} was not caught by {must_fail}"
    assert says in run.failures[must_fail], run.failures[must_fail]
    assert run.outcome(must_pass) == "passed", run.failures.get(must_pass)


def test_reference_transfers_pass_every_check(pytester: pytest.Pytester) -> None:
    """The harness itself: the correct format passes the whole family at every level."""
    run = run_suite(pytester, "ReferenceTransfers", "test_", "--pes-conformance-level=latest")
    assert not run.failures, run.failures
    passed = {n for n, o in run.outcomes.items() if o == "passed"}
    for check in (c[1] for c in CASES):
        assert check in passed, f"{check} did not pass for the reference format"
    skipped = {n for n, o in run.outcomes.items() if o == "skipped"}
    assert all("xml_statement" in n for n in skipped), skipped  # not XML: the only skips


def test_without_statement_for_the_statement_checks_skip(pytester: pytest.Pytester) -> None:
    """An author who has not written statement_for() yet sees the reason, not a failure."""
    pytester.makeconftest('pytest_plugins = ["pes_sdk_conformance.plugin"]\n')
    pytester.makepyfile(
        test_adapter=f"""
import sys
sys.path.insert(0, {str(SUPPORT)!r})
import pytest
import reference_transfers as rt
from pes_sdk_conformance.transfers import TransferFormatConformance

class TestAdapter(TransferFormatConformance):
    @pytest.fixture
    def transfer_format(self):
        return rt.ReferenceTransfers()
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-rs", "-k", "statement_settles")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*does not override statement_for()*"])
