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
from typing import Any

import attrs
import click
import pluggy

from pes_sdk.billing.contract import BillingSourceFactory, DeliveryChannelFactory
from pes_sdk.errors import UnknownFormat
from pes_sdk.fees import FeePlan
from pes_sdk.fiscal import FiscalRegisterFactory
from pes_sdk.formats.base import ReadReport, RegistryFormat
from pes_sdk.gateways.contract import GatewayFactory
from pes_sdk.i18n import tr
from pes_sdk.models.delivery import Delivery
from pes_sdk.models.payments import Payment
from pes_sdk.notifications.contract import NotificationChannelFactory
from pes_sdk.notifications.errors import UnknownChannel
from pes_sdk.plugins import builtin, hookspecs
from pes_sdk.plugins.problems import PluginProblem

__all__ = ["PluginFailure", "PluginHost", "PluginInfo", "PluginProblem", "get_host"]

ENTRY_POINT_GROUP = hookspecs.PROJECT_NAME
BUILTIN_NAME = "pes-sdk"


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


def _name(item: Any) -> str:
    return str(item.name or "")


#: Every provider hook: what its items must be, and the name that keys them.
_PROVIDERS: dict[str, tuple[Any, Callable[[Any], str]]] = {
    "pes_registry_formats": (RegistryFormat, _name),
    "pes_fee_plans": (FeePlan, _name),
    "pes_payment_gateways": (GatewayFactory, _name),
    "pes_billing_sources": (BillingSourceFactory, _name),
    "pes_delivery_channels": (DeliveryChannelFactory, _name),
    "pes_notification_channels": (NotificationChannelFactory, _name),
    "pes_fiscal_registers": (FiscalRegisterFactory, _name),
    "pes_cli_commands": (click.Command, _name),
}


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
        #: parts of plugins left out (:class:`PluginProblem`), the rest of each working
        self.warnings: list[PluginFailure] = []
        #: every plugin name seen: entry points (disabled ones too) and registered plugins
        self.known_names: set[str] = {BUILTIN_NAME}
        self._dists: dict[str, tuple[str, str]] = {}
        # hook name -> item key -> the plugin that provided it, filled while collecting so
        # that listings need not call every plugin's hook a second time.
        self._providers: dict[str, dict[str, str]] = {}
        self._trace = os.environ.get("PES_TRACE_HOOKS") == "1" if trace is None else trace
        self.register(builtin, name=BUILTIN_NAME, distribution=("pes-sdk", _version("pes-sdk")))
        if entry_points:
            self.load_entry_points()
        # provider hook -> item name -> item, collected once until a plugin is registered
        self._collected: dict[str, dict[str, Any]] = {}

    # -- loading -------------------------------------------------------------------------

    def register(
        self, plugin: object, *, name: str, distribution: tuple[str, str] = ("", "")
    ) -> bool:
        """Register one plugin object; a broken one is recorded as a failure, not raised."""
        self.known_names.add(name)
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
        self._collected = {}
        self._providers = {}
        return True

    def load_entry_points(self) -> None:
        """Load every plugin of the ``pes_sdk`` entry-point group, one at a time."""
        for ep in md.entry_points(group=ENTRY_POINT_GROUP):
            self.known_names.add(ep.name)
            if ep.name in self.disabled:
                continue
            dist = (ep.dist.name, ep.dist.version) if ep.dist is not None else ("", "")
            try:
                plugin = ep.load()
            except Exception as exc:  # a plugin's import error must not stop the host
                self.failures.append(PluginFailure(ep.name, dist[0], _describe(exc)))
                continue
            self.register(plugin, name=ep.name, distribution=dist)

    @property
    def unknown_disabled(self) -> frozenset[str]:
        """Names in ``PES_DISABLE_PLUGINS`` that no installed plugin has (a typo, often)."""
        return self.disabled - self.known_names

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

    def _provided(self, hook_name: str) -> dict[str, Any]:
        """The items of a provider hook by name, collected once (see :data:`_PROVIDERS`)."""
        if hook_name in self._collected:
            return self._collected[hook_name]
        expected, what = _PROVIDERS[hook_name]
        found: dict[str, Any] = {}
        providers: dict[str, str] = {}
        self._providers[hook_name] = providers
        for plugin_name, items in self._call_each(hook_name):
            if items is None:
                continue
            for item in items:
                if isinstance(item, PluginProblem):
                    dist = self._dists.get(plugin_name, ("", ""))[0]
                    warning = PluginFailure(plugin_name, dist, item.message)
                    if warning not in self.warnings:  # hooks are called again after a register
                        self.warnings.append(warning)
                    continue
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
        self._collected[hook_name] = found
        return found

    def formats(self) -> dict[str, RegistryFormat]:
        """Every registry format by name."""
        return self._provided("pes_registry_formats")

    def format(self, name: str) -> RegistryFormat:
        """The format called ``name``; :class:`UnknownFormat` lists the known ones."""
        formats = self.formats()
        try:
            return formats[name]
        except KeyError:
            if formats:
                message = tr(
                    "no format named {name!r}; known: {known}",
                    name=name,
                    known=", ".join(sorted(formats)),
                )
            else:
                message = tr("no format named {name!r}; known: none", name=name)
            raise UnknownFormat(message) from None

    def fee_plans(self) -> dict[str, FeePlan]:
        """Every fee plan by name, the built-in ones first."""
        return self._provided("pes_fee_plans")

    def gateways(self) -> dict[str, GatewayFactory]:
        """Every payment gateway factory by name (``sandbox`` once pes-sdk-sandbox is in)."""
        return self._provided("pes_payment_gateways")

    def billing_sources(self) -> dict[str, BillingSourceFactory]:
        """Every billing source factory by name (``soap-billing`` once its adapter is in)."""
        return self._provided("pes_billing_sources")

    def delivery_channels(self) -> dict[str, DeliveryChannelFactory]:
        """Every delivery channel factory by name."""
        return self._provided("pes_delivery_channels")

    def notification_channels(
        self, kind: str | None = None
    ) -> dict[str, NotificationChannelFactory]:
        """Every notification channel factory by name (``outbox`` once pes-sdk-outbox is in);
        with ``kind``, only those whose channels carry that kind (``"sms"``, …)."""
        channels: dict[str, NotificationChannelFactory] = self._provided(
            "pes_notification_channels"
        )
        if kind is None:
            return channels
        return {name: f for name, f in channels.items() if kind in tuple(f.kinds)}

    def notification_channel(self, name: str) -> NotificationChannelFactory:
        """The channel factory called ``name``; :class:`UnknownChannel` lists the installed."""
        channels = self.notification_channels()
        try:
            return channels[name]
        except KeyError:
            if channels:
                message = tr(
                    "no notification channel named {name!r}; installed: {installed}",
                    name=name,
                    installed=", ".join(sorted(channels)),
                )
            else:
                message = tr("no notification channel named {name!r}; none is installed", name=name)
            raise UnknownChannel(message) from None

    def fiscal_registers(self) -> dict[str, FiscalRegisterFactory]:
        """Every cloud fiscal register factory by name (``atol`` once pes-sdk-atol is in)."""
        return self._provided("pes_fiscal_registers")

    def cli_commands(self) -> dict[str, click.Command]:
        """Every command plugins add to ``pes``, by name."""
        return self._provided("pes_cli_commands")

    def provider_of(self, hook_name: str, key: str) -> str:
        """Which plugin provided the item ``key`` through the provider hook ``hook_name``.

        The answer is the one recorded when the items were collected (the plugin whose item
        was kept), so no hook is called twice; ``""`` when no plugin provides ``key``.
        """
        if hook_name not in _PROVIDERS:
            raise ValueError(f"{hook_name!r} is not a provider hook")
        self._provided(hook_name)
        return self._providers.get(hook_name, {}).get(key, "")

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
