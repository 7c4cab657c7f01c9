"""The plugin host: built-in plans, broken plugins reported and skipped, env switches."""

from __future__ import annotations

import datetime as dt
import importlib
import sys
import textwrap
import uuid
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path

import attrs
import pytest

from pes_sdk.errors import UnknownFormat
from pes_sdk.fees import FeePlan, PercentPlan, SubscriptionPlan
from pes_sdk.formats import Policy, RegistryFormat, RegistryReader
from pes_sdk.models import Delivery, RegistryKind
from pes_sdk.plugins import PluginHost, hookimpl
from pes_sdk.plugins import hookspecs as specs

UTC = dt.UTC


class StubFormat(RegistryFormat):
    """A format that is only a name: the host never opens it here."""

    kind = RegistryKind.DEBTS

    def __init__(self, name: str) -> None:
        self.name = name

    def open(
        self, path: Path, *, policy: Policy = Policy.STRICT, rejects_path: Path | None = None
    ) -> RegistryReader:
        raise NotImplementedError


@attrs.frozen
class FlatPlan(PercentPlan):
    name: str = "flat"


def delivery() -> Delivery:
    return Delivery(
        "7707083893", RegistryKind.PAYMENTS, 1, "sftp", "/out", dt.datetime(2026, 3, 16, tzinfo=UTC)
    )


def host(**kw: object) -> PluginHost:
    """A host with only the core's own plugin, whatever else is installed."""
    return PluginHost(entry_points=False, **kw)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PES_DISABLE_PLUGINS", raising=False)
    monkeypatch.delenv("PES_TRACE_HOOKS", raising=False)


# -- a real throwaway distribution -----------------------------------------------------


@attrs.frozen
class TmpDist:
    name: str
    good: str  #: entry-point name of a plugin that works
    broken: str  #: entry-point name of a plugin whose module fails to import
    plan: str  #: the fee plan the good plugin adds


@pytest.fixture
def tmp_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TmpDist]:
    """A distribution installed for real on sys.path: a .dist-info with entry points.

    importlib.metadata finds it exactly as it finds a pip-installed plugin, so no part of
    the discovery is mocked. Names carry a random suffix: modules and entry points of one
    test never meet another's.
    """
    suffix = uuid.uuid4().hex[:8]
    site = tmp_path / "site"
    site.mkdir()
    dist = TmpDist(
        f"pes-tmp-{suffix}", f"tmpgood_{suffix}", f"tmpbroken_{suffix}", f"plan_{suffix}"
    )
    good_mod, broken_mod = f"pes_tmp_good_{suffix}", f"pes_tmp_broken_{suffix}"
    (site / f"{good_mod}.py").write_text(
        textwrap.dedent(
            f"""
            import attrs
            from pes_sdk.fees import PercentPlan
            from pes_sdk.plugins import hookimpl

            @attrs.frozen
            class Plan(PercentPlan):
                name: str = "{dist.plan}"

            @hookimpl
            def pes_fee_plans():
                return [Plan()]
            """
        ),
        encoding="utf-8",
    )
    (site / f"{broken_mod}.py").write_text(
        "import pes_sdk_no_such_module  # a missing dependency\n", encoding="utf-8"
    )
    info = site / f"pes_tmp_{suffix}-9.9.9.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {dist.name}\nVersion: 9.9.9\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        f"[pes_sdk]\n{dist.good} = {good_mod}\n{dist.broken} = {broken_mod}\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    yield dist
    for mod in (good_mod, broken_mod):
        sys.modules.pop(mod, None)


# -- built-ins -------------------------------------------------------------------------


def test_builtin_fee_plans() -> None:
    h = host()
    plans = h.fee_plans()
    assert list(plans)[:2] == ["percent", "subscription"]
    assert isinstance(plans["percent"], PercentPlan)
    assert isinstance(plans["subscription"], SubscriptionPlan)
    assert all(isinstance(p, FeePlan) for p in plans.values())
    (core,) = [p for p in h.plugins() if p.name == "pes-sdk"]
    assert core.distribution == "pes-sdk"
    assert core.version == "0.1.0"
    assert core.hooks == ("pes_fee_plans",)
    assert h.failures == []
    assert h.provider_of("pes_fee_plans", "percent") == "pes-sdk"


def test_hook_names_are_the_specs() -> None:
    spec_names = sorted(n for n in dir(specs) if hasattr(getattr(specs, n), "pes_sdk_spec"))
    assert list(host().hook_names) == spec_names
    assert "pes_registry_formats" in spec_names


def test_unknown_format_lists_known_ones() -> None:
    h = host()

    class Plugin:
        @hookimpl
        def pes_registry_formats(self) -> Sequence[RegistryFormat]:
            return [StubFormat("b-format"), StubFormat("a-format")]

    assert h.register(Plugin(), name="fmt")
    with pytest.raises(UnknownFormat, match="'nope'; known: a-format, b-format"):
        h.format("nope")
    assert h.format("a-format").name == "a-format"


def test_no_formats_at_all() -> None:
    with pytest.raises(UnknownFormat, match="known: none"):
        host().format("sber-debts")


# -- broken plugins --------------------------------------------------------------------


def test_a_raising_provider_hook_is_reported_and_skipped() -> None:
    h = host()

    class Broken:
        @hookimpl
        def pes_fee_plans(self) -> Sequence[FeePlan]:
            raise RuntimeError("boom")

    class Good:
        @hookimpl
        def pes_fee_plans(self) -> Sequence[FeePlan]:
            return [FlatPlan()]

    assert h.register(Broken(), name="broken", distribution=("broken-dist", "1.0"))
    assert h.register(Good(), name="good")
    plans = h.fee_plans()
    assert set(plans) == {"percent", "subscription", "flat"}
    assert len(h.failures) == 1
    failure = h.failures[0]
    assert (failure.name, failure.distribution) == ("broken", "broken-dist")
    assert failure.error == "hook pes_fee_plans raised RuntimeError: boom"


def test_a_raising_event_hook_does_not_stop_the_others() -> None:
    h = host()
    seen: list[Delivery] = []

    class Broken:
        @hookimpl
        def pes_registry_delivered(self, delivery: Delivery) -> None:
            raise ValueError("channel down")

    class Recorder:
        @hookimpl
        def pes_registry_delivered(self, delivery: Delivery) -> None:
            seen.append(delivery)

    h.register(Broken(), name="broken")
    h.register(Recorder(), name="recorder")
    d = delivery()
    h.registry_delivered(d)
    assert seen == [d]
    assert [(f.name, f.error) for f in h.failures] == [
        ("broken", "hook pes_registry_delivered raised ValueError: channel down")
    ]


def test_an_implementation_may_take_fewer_arguments() -> None:
    h = host()
    calls: list[str] = []

    class Plugin:
        @hookimpl
        def pes_registry_delivered(self) -> None:
            calls.append("delivered")

    assert h.register(Plugin(), name="lean")
    h.registry_delivered(delivery())
    assert calls == ["delivered"]


def test_a_misspelled_hook_is_refused_and_reported() -> None:
    h = host()

    class Typo:
        @hookimpl
        def pes_registry_format(self) -> Sequence[RegistryFormat]:  # missing "s"
            return [StubFormat("typo")]

    assert h.register(Typo(), name="typo", distribution=("typo-dist", "0.1")) is False
    assert [(f.name, f.distribution) for f in h.failures] == [("typo", "typo-dist")]
    assert "pes_registry_format" in h.failures[0].error
    assert "typo" not in [p.name for p in h.plugins()]
    assert "typo" not in h.formats()
    assert "percent" in h.fee_plans()  # the host goes on


def test_a_hook_with_an_unknown_argument_is_refused() -> None:
    h = host()

    class Wrong:
        @hookimpl
        def pes_registry_delivered(self, delivery: Delivery, extra: int) -> None: ...

    assert h.register(Wrong(), name="wrong") is False
    assert "extra" in h.failures[0].error


def test_a_second_plugin_with_the_same_name_is_refused() -> None:
    h = host()

    class A:
        @hookimpl
        def pes_fee_plans(self) -> Sequence[FeePlan]:
            return [FlatPlan()]

    assert h.register(A(), name="twin")
    assert h.register(A(), name="twin") is False
    assert [f.name for f in h.failures] == ["twin"]
    assert list(h.fee_plans()) == ["percent", "subscription", "flat"]


def test_duplicate_format_names_the_second_is_reported() -> None:
    h = host()
    first, second = StubFormat("dup-format"), StubFormat("dup-format")

    class One:
        @hookimpl
        def pes_registry_formats(self) -> Sequence[RegistryFormat]:
            return [first]

    class Two:
        @hookimpl
        def pes_registry_formats(self) -> Sequence[RegistryFormat]:
            return [second, StubFormat("other-format")]

    h.register(One(), name="one")
    h.register(Two(), name="two")
    formats = h.formats()
    assert formats["dup-format"] is first
    assert "other-format" in formats  # the rest of the second plugin's answer stands
    assert [(f.name, f.error) for f in h.failures] == [
        ("two", "pes_registry_formats: 'dup-format' is already provided")
    ]


def test_a_duplicate_plan_name_is_reported() -> None:
    h = host()

    class Again:
        @hookimpl
        def pes_fee_plans(self) -> Sequence[FeePlan]:
            return [PercentPlan()]

    h.register(Again(), name="again")
    assert isinstance(h.fee_plans()["percent"], PercentPlan)
    assert [f.name for f in h.failures] == ["again"]
    assert "'percent' is already provided" in h.failures[0].error


def test_a_provider_returning_the_wrong_type_is_reported() -> None:
    h = host()

    class Wrong:
        @hookimpl
        def pes_registry_formats(self) -> object:
            return ["sber-debts", StubFormat("ok-format")]

    h.register(Wrong(), name="wrong")
    assert list(h.formats()) == ["ok-format"]
    assert "not RegistryFormat" in h.failures[0].error


# -- entry points ----------------------------------------------------------------------


def test_entry_points_load_and_a_failing_import_is_reported(tmp_dist: TmpDist) -> None:
    h = PluginHost()
    loaded = {p.name: p for p in h.plugins()}
    assert tmp_dist.good in loaded
    good = loaded[tmp_dist.good]
    assert (good.distribution, good.version, good.hooks) == (
        tmp_dist.name,
        "9.9.9",
        ("pes_fee_plans",),
    )
    assert tmp_dist.plan in h.fee_plans()
    (failure,) = [f for f in h.failures if f.name == tmp_dist.broken]
    assert failure.distribution == tmp_dist.name
    assert failure.error == "ModuleNotFoundError: No module named 'pes_sdk_no_such_module'"
    assert tmp_dist.broken not in loaded


def test_disable_plugins_by_name(tmp_dist: TmpDist, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PES_DISABLE_PLUGINS", f" {tmp_dist.good} ,{tmp_dist.broken}")
    h = PluginHost()
    names = [p.name for p in h.plugins()]
    assert tmp_dist.good not in names
    assert tmp_dist.plan not in h.fee_plans()
    # a disabled plugin is not even imported, so its import error is not reported either
    assert [f for f in h.failures if f.name in (tmp_dist.good, tmp_dist.broken)] == []
    assert h.disabled == {tmp_dist.good, tmp_dist.broken}


def test_disable_the_core_plans(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PES_DISABLE_PLUGINS", "pes-sdk")
    assert host().fee_plans() == {}


def test_disabled_argument_overrides_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PES_DISABLE_PLUGINS", "pes-sdk")
    assert "percent" in host(disabled=()).fee_plans()


# -- tracing ---------------------------------------------------------------------------


def test_trace_hooks_writes_calls_to_stderr(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PES_TRACE_HOOKS", "1")
    h = host()
    h.fee_plans()
    h.registry_delivered(delivery())
    out, err = capsys.readouterr()
    assert out == ""
    assert "pes: hook pes_fee_plans -> pes-sdk" in err
    assert "pes: hook pes_fee_plans <- pes-sdk: [PercentPlan(name='percent')" in err


def test_no_trace_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    host().fee_plans()
    assert capsys.readouterr().err == ""


def test_trace_only_for_exactly_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PES_TRACE_HOOKS", "0")
    host().fee_plans()
    assert capsys.readouterr().err == ""


def test_registry_loaded_and_payment_confirmed_reach_plugins() -> None:
    from pes_sdk.formats import ReadReport
    from pes_sdk.models import Payment, PaymentLine, PaymentMethod, RegistryHeader

    h = host()
    got: list[object] = []

    class Listener:
        @hookimpl
        def pes_registry_loaded(self, report: ReadReport) -> None:
            got.append(report)

        @hookimpl
        def pes_payment_confirmed(self, payment: Payment) -> None:
            got.append(payment)

    h.register(Listener(), name="listener")
    report = ReadReport(None, RegistryHeader(RegistryKind.DEBTS), 0, Decimal("0.00"))
    payment = Payment(
        uuid.uuid4(),
        dt.datetime(2026, 3, 15, tzinfo=UTC),
        PaymentMethod.CARD,
        [PaymentLine("7707083893", "1", Decimal("1.00"))],
    )
    h.registry_loaded(report)
    h.payment_confirmed(payment)
    assert got == [report, payment]
    assert sorted(next(p for p in h.plugins() if p.name == "listener").hooks) == [
        "pes_payment_confirmed",
        "pes_registry_loaded",
    ]


def test_provider_of_answers_only_for_provider_hooks() -> None:
    """Asking about an event hook must not call (that is, fire) it to find an answer."""
    h = PluginHost(entry_points=False)
    assert h.provider_of("pes_fee_plans", "percent") == "pes-sdk"
    assert h.provider_of("pes_fee_plans", "no-such-plan") == ""
    with pytest.raises(ValueError, match="not a provider hook"):
        h.provider_of("pes_registry_loaded", "x")
