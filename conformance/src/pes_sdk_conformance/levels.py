"""Strictness levels: how a check enters the suite as a warning before it becomes a failure.

Kept apart from :mod:`pes_sdk_conformance.plugin` so that importing the base classes does
not import the pytest plugin before pytest registers it (see the plugin for how a run
chooses its level).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import attrs

__all__ = [
    "DEFAULT_LEVEL",
    "LATEST_LEVEL",
    "RUNS_LAST_ATTRIBUTE",
    "SINCE_LEVEL_ATTRIBUTE",
    "ConformanceSettings",
    "ConformanceWarning",
    "runs_last",
    "since_level",
]

F = TypeVar("F", bound=Callable[..., Any])

#: The level a run uses when nothing says otherwise.
DEFAULT_LEVEL = 1
#: The highest level any check of this release has.
LATEST_LEVEL = 2
#: The attribute :func:`since_level` sets on a check function.
SINCE_LEVEL_ATTRIBUTE = "_pes_conformance_since_level"
#: The attribute :func:`runs_last` sets on a check function.
RUNS_LAST_ATTRIBUTE = "_pes_conformance_runs_last"


class ConformanceWarning(UserWarning):
    """A check above the configured strictness level failed: it will fail at that level."""


@attrs.frozen
class ConformanceSettings:
    """What the plugin knows about this run (the ``pes_conformance`` fixture)."""

    level: int
    #: Rows of the larger file of the streaming checks when ``--pes-streaming-rows`` is
    #: given (the smaller has a quarter); ``None``: the test class's ``streaming_rows``.
    streaming_rows: int | None = None


def since_level(level: int) -> Callable[[F], F]:
    """Mark a check as entering the suite at strictness ``level`` (a warning below it).

    A plain attribute rather than a pytest marker: the base classes are imported before
    the plugin is registered, and ``--strict-markers`` would refuse an unknown marker.
    """
    if level < 1:
        raise ValueError(f"a conformance level is at least 1, not {level}")

    def mark(check: F) -> F:
        setattr(check, SINCE_LEVEL_ATTRIBUTE, level)
        return check

    return mark


def runs_last(check: F) -> F:
    """Mark a check as slow (thousands of rows, many random examples): the plugin runs it
    after the quick checks of the same run.

    Run with ``-x`` (as mutation testing does), a broken adapter then fails on a quick
    check first; the order of checks changes nothing else, each check sets up its own files.
    """
    setattr(check, RUNS_LAST_ATTRIBUTE, True)
    return check
