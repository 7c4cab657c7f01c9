"""Proof that the notification channel family catches broken channels.

As in ``test_transfers_catches_faults.py``, the suite runs as a channel author runs it (a
conftest that activates the plugin, a ``ChannelConformance`` subclass), in-process with
``pytester``, against one channel of ``support/reference_channel.py`` at a time, each
talking to the same push provider on loopback. Each case asserts that the check meant for
the fault fails and that a check the fault has nothing to do with still passes; the
correct reference channel passes every check.
"""

from __future__ import annotations

from pathlib import Path

import attrs
import pes_sdk_conformance.notifications  # noqa: F401 - imported once here, shared by inner runs
import pytest
import reference_channel  # noqa: F401

SUPPORT = Path(__file__).parent / "support"


@attrs.frozen
class Run:
    outcomes: dict[str, str]
    failures: dict[str, str]

    def outcome(self, name: str) -> str:
        assert name in self.outcomes, f"{name} did not run; ran: {sorted(self.outcomes)}"
        return self.outcomes[name]


def run_suite(pytester: pytest.Pytester, channel_class: str, select: str | None = None) -> Run:
    pytester.makeconftest('pytest_plugins = ["pes_sdk_conformance.plugin"]\n')
    pytester.makepyfile(
        test_channel=f"""
import sys
sys.path.insert(0, {str(SUPPORT)!r})
import pytest
import reference_channel as rc
from pes_sdk_conformance.notifications import ChannelConformance

class TestChannel(ChannelConformance):
    @pytest.fixture
    def channel_harness(self):
        with rc.ReferenceHarness(rc.{channel_class}) as harness:
            yield harness
"""
    )
    args = ["-p", "no:cacheprovider"] + (["-k", select] if select else [])
    rec = pytester.inline_run(*args)
    outcomes: dict[str, str] = {}
    failures: dict[str, str] = {}
    for rep in rec.getreports("pytest_runtest_logreport"):
        name = rep.nodeid.split("::")[-1]
        if rep.when == "call" or not rep.passed:
            outcomes[name] = rep.outcome
            if rep.failed:
                failures[name] = rep.longreprtext
    return Run(outcomes, failures)


def test_the_reference_channel_passes_every_check(pytester: pytest.Pytester) -> None:
    run = run_suite(pytester, "ReferenceChannel")
    assert run.failures == {}
    assert set(run.outcomes.values()) == {"passed"}, run.outcomes
    assert len(run.outcomes) >= 15


# (broken channel, the check that must fail, a check that must still pass, words the failure
#  must show)
CASES = [
    ("LogsRecipient", "test_no_recipient_or_secret_shows", "test_accepted", "shows in the log"),
    ("EchoesProviderText", "test_no_recipient_or_secret_shows", "test_accepted", "an error"),
    ("RetriesForever", "test_never_retries_on_its_own", "test_accepted", "retries forever"),
    ("RetriesForever", "test_unavailable", "test_dead_recipient", "DID NOT RAISE"),
    ("IgnoresRetryAfter", "test_throttled_with_retry_after", "test_accepted", "Retry-After: 7"),
    ("IgnoresRetryAfter", "test_retries_bounded_honouring_retry_after", "test_unavailable", "5 s"),
    ("DeadAsTemporary", "test_dead_recipient", "test_refused_recipient", "DeadRecipient"),
    ("RefusedAsDead", "test_refused_recipient", "test_dead_recipient", "delete a token"),
    ("SendsDuplicates", "test_same_key_is_one_message", "test_accepted", "more than once"),
    ("SendsDuplicates", "test_same_key_from_two_threads_is_one_message", "test_unavailable", ""),
    ("NoTimeout", "test_stalled_provider_times_out", "test_accepted", "did not end within"),
]


@pytest.mark.parametrize(("channel", "fails", "passes", "words"), CASES)
def test_each_broken_channel_fails_its_check(
    pytester: pytest.Pytester, channel: str, fails: str, passes: str, words: str
) -> None:
    run = run_suite(pytester, channel, f"{fails} or {passes}")
    assert run.outcome(fails) == "failed", f"{channel} passed {fails}"
    assert words in run.failures[fails]
    assert run.outcome(passes) == "passed", run.failures.get(passes)
