"""The pytest plugin of the conformance suite: strictness levels and the suite's fixtures.

Activate it explicitly in the adapter's ``conftest.py``::

    pytest_plugins = ["pes_sdk_conformance.plugin"]

It is deliberately not registered under the ``pytest11`` entry point: installing
``pes-sdk-conformance`` must not change unrelated test runs.

**Strictness levels.** Every check belongs to a level: the checks of the first release are
level 1; a check added later enters at a higher level (``@since_level(2)``). Below its level
a failing check is reported as a :class:`ConformanceWarning` and the test passes
(``pytest -W error::pes_sdk_conformance.plugin.ConformanceWarning`` makes it fail); at or
above it the check fails. The level is chosen, most specific first, by:

1. ``--pes-conformance-level=N`` on the command line (``latest`` for every check);
2. ``conformance_level = N`` on the author's test class;
3. ``pes_conformance_level = N`` in the ``[pytest]`` ini section (or ``pyproject.toml``);
4. the default, :data:`DEFAULT_LEVEL`.

An adapter's CI usually pins the level it passes and raises it when it is ready.

**Order.** Checks marked :func:`~pes_sdk_conformance.levels.runs_last` (the streaming
checks, the random round trip, thousands of repeats) run after every other test of the run,
so that ``pytest -x`` stops on a quick check first.

**Streaming size.** ``--pes-streaming-rows=N`` writes and reads N rows (and N/4) in the
streaming checks instead of the test class's ``streaming_rows``. It is meant for repeated
runs such as mutation testing (``conformance/mutation/run.py`` passes 4000): the memory
bounds stay the same, and the checks still fail when N rows make a file too small to tell
streaming from keeping (``raise streaming_rows``), so a too small N cannot pass silently.
"""

from __future__ import annotations

from collections.abc import Generator

import pytest

from pes_sdk_conformance.levels import (
    DEFAULT_LEVEL,
    LATEST_LEVEL,
    RUNS_LAST_ATTRIBUTE,
    SINCE_LEVEL_ATTRIBUTE,
    ConformanceSettings,
    ConformanceWarning,
)

__all__ = [
    "DEFAULT_LEVEL",
    "LATEST_LEVEL",
    "ConformanceSettings",
    "ConformanceWarning",
    "level_for",
]


def _parse_level(raw: object, source: str) -> int:
    text = str(raw).strip().lower()
    if text in ("latest", "max", "all"):
        return LATEST_LEVEL
    try:
        level = int(text)
    except ValueError:
        raise pytest.UsageError(
            f"{source}: a conformance level is a number or 'latest', not {raw!r}"
        ) from None
    if level < 1:
        raise pytest.UsageError(f"{source}: a conformance level is at least 1, not {level}")
    return level


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pes-conformance", "pes-sdk conformance suite")
    group.addoption(
        "--pes-conformance-level",
        action="store",
        default=None,
        metavar="N",
        help="strictness level: checks introduced above N only warn (default: ini, then 1); "
        "'latest' fails on every check",
    )
    group.addoption(
        "--pes-streaming-rows",
        action="store",
        type=int,
        default=None,
        metavar="N",
        help="rows of the larger file of the streaming checks (default: the test class's "
        "streaming_rows, 12000); the memory bounds stay, so a too small N fails the check",
    )
    parser.addini(
        "pes_conformance_level",
        "strictness level of the pes-sdk conformance suite (see --pes-conformance-level)",
        default=str(DEFAULT_LEVEL),
    )


def pytest_configure(config: pytest.Config) -> None:
    # A mistyped level is a usage error at start-up, not an error in every test.
    cli = config.getoption("--pes-conformance-level", default=None)
    if cli is not None:
        _parse_level(cli, "--pes-conformance-level")
    _parse_level(config.getini("pes_conformance_level"), "pes_conformance_level")
    rows = config.getoption("--pes-streaming-rows", default=None)
    if rows is not None and rows < 4:
        raise pytest.UsageError(f"--pes-streaming-rows: at least 4 rows, not {rows}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Stable: the quick checks keep their order, then the slow ones keep theirs.
    items.sort(
        key=lambda item: getattr(getattr(item, "function", None), RUNS_LAST_ATTRIBUTE, False)
    )


def level_for(config: pytest.Config, cls: type | None) -> int:
    """The strictness level that applies to tests of ``cls`` in this run."""
    # default=None: when a test module activates the plugin, its option is added too late
    # for the command line to know it.
    cli = config.getoption("--pes-conformance-level", default=None)
    if cli is not None:
        return _parse_level(cli, "--pes-conformance-level")
    pinned = getattr(cls, "conformance_level", None) if cls is not None else None
    if pinned is not None:
        return _parse_level(pinned, f"{cls.__name__}.conformance_level")  # type: ignore[union-attr]
    return _parse_level(config.getini("pes_conformance_level"), "pes_conformance_level")


@pytest.fixture
def pes_conformance(request: pytest.FixtureRequest) -> ConformanceSettings:
    """The settings of this run; requesting it also proves the plugin is active."""
    return ConformanceSettings(
        level=level_for(request.config, request.cls),
        streaming_rows=request.config.getoption("--pes-streaming-rows", default=None),
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    since = getattr(getattr(item, "function", None), SINCE_LEVEL_ATTRIBUTE, None)
    if since is None or report.when != "call" or not report.failed:
        return report
    level = level_for(item.config, getattr(item, "cls", None))
    if level >= since:
        return report
    lines = [ln for ln in report.longreprtext.splitlines() if ln.startswith("E ")]
    reason = " ".join(ln[1:].strip() for ln in lines[:3]) or "failed"
    warning = ConformanceWarning(
        f"{item.name}: this check fails from conformance level {since} on "
        f"(this run: level {level}): {reason}"
    )
    try:
        item.warn(warning)
    except ConformanceWarning:  # -W error::…ConformanceWarning: the failure stands
        return report
    report.outcome = "passed"
    report.longrepr = None
    report.user_properties.append(("pes_conformance_warning", f"since level {since}: {reason}"))
    return report
