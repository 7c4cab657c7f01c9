"""Finding, loading and calling plugins, with types and without letting one break the host.

Plugins are found through the entry-point group ``pes_sdk`` and loaded one at a time: a
plugin that fails to import, or whose hook raises, is reported in :attr:`PluginHost.failures`
and left out, and everything else goes on. ``PES_DISABLE_PLUGINS=a,b`` keeps named plugins
from loading; ``PES_TRACE_HOOKS=1`` writes every hook call and its outcome to stderr.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import attrs
import click
import pluggy

from pes_sdk.billing.contract import BillingSourceFactory, DeliveryChannelFactory
from pes_sdk.errors import UnknownFormat
from pes_sdk.fees import FeePlan
from pes_sdk.formats.base import ReadReport, RegistryFormat
from pes_sdk.gateways.contract import GatewayFactory
from pes_sdk.models.delivery import Delivery
from pes_sdk.models.payments import Payment
from pes_sdk.plugins import builtin, hookspecs

__all__ = ["PluginFailure", "PluginHost", "PluginInfo", "get_host"]

ENTRY_POINT_GROUP = hookspecs.PROJECT_NAME
BUILTIN_NAME = "pes-sdk"

T = TypeVar("T")


@attrs.frozen
class PluginInfo:
    """A loaded plugin: its name, where it comes from, and which hooks it implements."""

    name: str
    distribution: str
    version: str
    hooks: tuple[str, ...]


@attrs.frozen
class PluginFailure:
    """A plugin that was left out, and why."""

    name: str
    distribution: str
    error: str


def _disabled_from_env() -> frozenset[str]:
    raw = os.environ.get("PES_DISABLE_PLUGINS", "")
    return frozenset(n.strip() for n in raw.split(",") if n.strip())


class PluginHost:
    """The typed face of the pluggy manager: what the SDK and its CLI talk to."""

    def __init__(
        self,
        *,
        entry_points: bool = True,
        disabled: Iterable[str] | None = None,
        trace: bool | None = None,
    ) -> None:
        self._pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self._pm.add_hookspecs(hookspecs)
        self.disabled = frozenset(disabled) if disabled is not None else _disabled_from_env()
        self.failures: list[PluginFailure] = []
        self._dists: dict[str, tuple[str, str]] = {}
        # hook name -> item key -> the plugin that provided it, filled while collecting so
        # that listings need not call every plugin's hook a second time.
        self._providers: dict[str, dict[str, str]] = {}
        self._trace = os.environ.get("PES_TRACE_HOOKS") == "1" if trace is None else trace
        self.register(builtin, name=BUILTIN_NAME, distribution=("pes-sdk", _version("pes-sdk")))
        if entry_points:
            self.load_entry_points()
        self._formats: dict[str, RegistryFormat] | None = None
        self._plans: dict[str, FeePlan] | None = None
        self._gateways: dict[str, GatewayFactory] | None = None
        self._sources: dict[str, BillingSourceFactory] | None = None
        self._channels: dict[str, DeliveryChannelFactory] | None = None
        self._commands: dict[str, click.Command] | None = None

    # -- loading -------------------------------------------------------------------------

    def register(
        self, plugin: object, *, name: str, distribution: tuple[str, str] = ("", "")
    ) -> bool:
        """Register one plugin object; a broken one is recorded as a failure, not raised."""
        if name in self.disabled:
            return False
        try:
            self._pm.register(plugin, name=name)
            self._pm.check_pending()
        except Exception as exc:
            if self._pm.is_registered(plugin):
                self._pm.unregister(plugin)
            self.failures.append(PluginFailure(name, distribution[0], _describe(exc)))
            return False
        self._dists[name] = distribution
        self._formats = self._plans = None
        self._gateways = None
        self._sources = self._channels = None
        self._commands = None
        self._providers = {}
        return True

    def load_entry_points(self) -> None:
        """Load every plugin of the ``pes_sdk`` entry-point group, one at a time."""
        for ep in md.entry_points(group=ENTRY_POINT_GROUP):
            if ep.name in self.disabled:
                continue
            dist = (ep.dist.name, ep.dist.version) if ep.dist is not None else ("", "")
            try:
                plugin = ep.load()
            except Exception as exc:  # a plugin's import error must not stop the host
                self.failures.append(PluginFailure(ep.name, dist[0], _describe(exc)))
                continue
            self.register(plugin, name=ep.name, distribution=dist)

    def plugins(self) -> list[PluginInfo]:
        """Every loaded plugin with its distribution, version and hooks."""
        out = []
        for name, plugin in self._pm.list_name_plugin():
            if name is None:
                continue
            hooks = tuple(sorted(h.name for h in self._pm.get_hookcallers(plugin) or ()))
            dist, version = self._dists.get(name, ("", ""))
            out.append(PluginInfo(name, dist, version, hooks))
        return sorted(out, key=lambda p: p.name)

    # -- calling -------------------------------------------------------------------------

    def _call_each(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call every implementation on its own, so one plugin's error stays its own."""
        caller = getattr(self._pm.hook, hook_name)
        results = []
        # get_hookimpls() is already in registration order (pluggy itself calls them in
        # reverse): the core's plans come first, and of two equal names the later is refused.
        for impl in caller.get_hookimpls():
            args = {k: kwargs[k] for k in impl.argnames}
            if self._trace:
                print(f"pes: hook {hook_name} -> {impl.plugin_name}", file=sys.stderr)
            try:
                result = impl.function(**args)
            except Exception as exc:
                self._fail(impl.plugin_name, f"hook {hook_name} raised {_describe(exc)}")
                continue
            if self._trace:
                print(f"pes: hook {hook_name} <- {impl.plugin_name}: {result!r}", file=sys.stderr)
            results.append((impl.plugin_name, result))
        return results

    def _fail(self, name: str, error: str) -> None:
        self.failures.append(PluginFailure(name, self._dists.get(name, ("", ""))[0], error))

    def _provided(
        self, hook_name: str, expected: type[T] | Any, what: Callable[[Any], str]
    ) -> dict[str, T]:
        found: dict[str, T] = {}
        providers: dict[str, str] = {}
        self._providers[hook_name] = providers
        for plugin_name, items in self._call_each(hook_name):
            if items is None:
                continue
            for item in items:
                if not isinstance(item, expected):
                    self._fail(
                        plugin_name, f"{hook_name} returned {item!r}, not {expected.__name__}"
                    )
                    continue
                key = what(item)
                if key in found:
                    self._fail(plugin_name, f"{hook_name}: {key!r} is already provided")
                    continue
                found[key] = item
                providers[key] = plugin_name
        return found

    def formats(self) -> dict[str, RegistryFormat]:
        """Every registry format by name."""
        if self._formats is None:
            self._formats = self._provided("pes_registry_formats", RegistryFormat, lambda f: f.name)
        return self._formats

    def format(self, name: str) -> RegistryFormat:
        """The format called ``name``; :class:`UnknownFormat` lists the known ones."""
        formats = self.formats()
        try:
            return formats[name]
        except KeyError:
            known = ", ".join(sorted(formats)) or "none"
            raise UnknownFormat(f"no format named {name!r}; known: {known}") from None

    def fee_plans(self) -> dict[str, FeePlan]:
        """Every fee plan by name, the built-in ones first."""
        if self._plans is None:
            self._plans = self._provided("pes_fee_plans", FeePlan, lambda p: p.name)
        return self._plans

    def gateways(self) -> dict[str, GatewayFactory]:
        """Every payment gateway factory by name (``sandbox`` once pes-sdk-sandbox is in)."""
        if self._gateways is None:
            self._gateways = self._provided(
                "pes_payment_gateways", GatewayFactory, lambda g: g.name
            )
        return self._gateways

    def billing_sources(self) -> dict[str, BillingSourceFactory]:
        """Every billing source factory by name (``soap-billing`` once its adapter is in)."""
        if self._sources is None:
            self._sources = self._provided(
                "pes_billing_sources", BillingSourceFactory, lambda s: s.name
            )
        return self._sources

    def delivery_channels(self) -> dict[str, DeliveryChannelFactory]:
        """Every delivery channel factory by name."""
        if self._channels is None:
            self._channels = self._provided(
                "pes_delivery_channels", DeliveryChannelFactory, lambda c: c.name
            )
        return self._channels

    def cli_commands(self) -> dict[str, click.Command]:
        """Every command plugins add to ``pes``, by name."""
        if self._commands is None:
            self._commands = self._provided(
                "pes_cli_commands", click.Command, lambda c: c.name or ""
            )
        return self._commands

    def provider_of(self, hook_name: str, key: str) -> str:
        """Which plugin provided the item ``key`` through ``hook_name`` (for listings).

        For formats and fee plans the answer is the one recorded when they were collected
        (the plugin whose item was kept), so no hook is called twice.
        """
        collect: dict[str, Callable[[], object]] = {
            "pes_registry_formats": self.formats,
            "pes_fee_plans": self.fee_plans,
            "pes_payment_gateways": self.gateways,
            "pes_billing_sources": self.billing_sources,
            "pes_delivery_channels": self.delivery_channels,
            "pes_cli_commands": self.cli_commands,
        }
        if hook_name in collect:
            collect[hook_name]()
            return self._providers.get(hook_name, {}).get(key, "")
        for plugin_name, items in self._call_each(hook_name):
            for item in items or ():
                if getattr(item, "name", None) == key:
                    return plugin_name
        return ""

    def registry_loaded(self, report: ReadReport) -> None:
        self._call_each("pes_registry_loaded", report=report)

    def payment_confirmed(self, payment: Payment) -> None:
        self._call_each("pes_payment_confirmed", payment=payment)

    def registry_delivered(self, delivery: Delivery) -> None:
        self._call_each("pes_registry_delivered", delivery=delivery)

    @property
    def hook_names(self) -> Sequence[str]:
        return sorted(n for n in dir(hookspecs) if n.startswith("pes_"))


def _version(dist: str) -> str:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return ""


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


_HOST: PluginHost | None = None


def get_host() -> PluginHost:
    """The process-wide host, loaded on first use."""
    global _HOST
    if _HOST is None:
        _HOST = PluginHost()
    return _HOST
