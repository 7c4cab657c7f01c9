"""The hooks of pes-sdk: the whole plugin interface, one typed function per hook.

A plugin is a module or object with functions marked ``@hookimpl`` whose names are those
below, registered under the entry-point group ``pes_sdk``. An implementation may take fewer
arguments than the spec (pluggy passes only the ones it names), which is how a hook grows
without breaking plugins. Hook arguments are the SDK's small frozen models, never internals.

**Provider hooks** return things the host uses; every plugin's answer is collected.
**Event hooks** tell plugins what happened; their return value is ignored, and a plugin that
raises is reported and skipped without stopping the host.

Notification channels (SMS, push, e-mail) come through the provider hook
``pes_notification_channels``; cloud fiscal registers through ``pes_fiscal_registers``.
"""

from __future__ import annotations

from collections.abc import Sequence

import click
import pluggy

from pes_sdk.billing.contract import BillingSourceFactory, DeliveryChannelFactory
from pes_sdk.fees import FeePlan
from pes_sdk.fiscal import FiscalRegisterFactory
from pes_sdk.formats.base import ReadReport, RegistryFormat
from pes_sdk.gateways.contract import GatewayFactory
from pes_sdk.models.delivery import Delivery
from pes_sdk.models.payments import Payment
from pes_sdk.notifications.contract import NotificationChannelFactory
from pes_sdk.plugins.problems import PluginProblem

PROJECT_NAME = "pes_sdk"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


# -- provider hooks ----------------------------------------------------------------------


@hookspec
def pes_registry_formats() -> Sequence[RegistryFormat | PluginProblem]:
    """Return the registry formats this plugin provides (readers and writers).

    Each format's ``name`` must be unique across all plugins; a second format with a taken
    name is refused and reported against the plugin that brought it.

    Like every provider hook, it may also return
    :class:`~pes_sdk.plugins.PluginProblem` items for parts it left out (a broken file of
    its own, say): the host lists them in :attr:`PluginHost.warnings` and keeps the rest.

    .. versionadded:: 0.1
    .. versionchanged:: 0.2 may return :class:`~pes_sdk.plugins.PluginProblem` items.
    """
    raise NotImplementedError


@hookspec
def pes_fee_plans() -> Sequence[FeePlan]:
    """Return fee plans this plugin adds, each with a unique ``name``.

    The built-in ``percent`` and ``subscription`` plans come from the core itself through
    this same hook. A partner's ``FeeTerms.plan`` selects a plan by name.

    .. versionadded:: 0.1
    """
    raise NotImplementedError


@hookspec
def pes_payment_gateways() -> Sequence[GatewayFactory]:
    """Return payment gateway factories this plugin provides, each with a unique ``name``.

    A factory builds a configured :class:`~pes_sdk.gateways.PaymentGateway` from settings
    (``factory.create(settings)``); building one must not touch the network. The
    ``sandbox`` gateway (distribution ``pes-sdk-sandbox``) is the kit's default.

    .. versionadded:: 0.1
    """
    raise NotImplementedError


@hookspec
def pes_billing_sources() -> Sequence[BillingSourceFactory]:
    """Return billing source factories this plugin provides, each with a unique ``name``.

    A factory builds a configured :class:`~pes_sdk.billing.BillingSource` from settings
    (``factory.create(settings)``): a partner's billing that the service fetches debt
    registries from, every page, checked against the registry's control totals. Building
    one must not touch the network.

    .. versionadded:: 0.1
    """
    raise NotImplementedError


@hookspec
def pes_delivery_channels() -> Sequence[DeliveryChannelFactory]:
    """Return delivery channel factories this plugin provides, each with a unique ``name``.

    A factory builds a configured :class:`~pes_sdk.billing.DeliveryChannel` from settings:
    the way payment registries (idempotently by partner + registry number) and, when the
    channel can, meter readings reach a partner. Building one must not touch the network.

    .. versionadded:: 0.1
    """
    raise NotImplementedError


@hookspec
def pes_notification_channels() -> Sequence[NotificationChannelFactory]:
    """Return notification channel factories this plugin provides, each with a unique ``name``.

    A factory builds a configured :class:`~pes_sdk.notifications.NotificationChannel` from
    settings (``factory.create(settings)``): the way a message (a login code by SMS, a push,
    an e-mail) reaches a person. ``factory.kinds`` says which kinds of
    :class:`~pes_sdk.notifications.Notification` its channels carry (``"sms"``, ``"push"``,
    ``"email"``); a notification has a title, an image, buttons, data, a collapse id and
    an idempotency ``key`` besides its text, and a channel hands the provider at most one
    message per key. Building one must not touch the network. The ``outbox`` channel
    (distribution ``pes-sdk-outbox``), which appends each message as a JSON line to a file,
    is the kit's default; ``email`` (``pes-sdk-email``) sends over SMTP.

    .. versionadded:: 0.2
    """
    raise NotImplementedError


@hookspec
def pes_fiscal_registers() -> Sequence[FiscalRegisterFactory]:
    """Return cloud fiscal register factories this plugin provides, each with a unique ``name``.

    A factory builds a configured :class:`~pes_sdk.fiscal.FiscalRegister` from settings
    (``factory.create(settings)``): an online cash register service (облачная касса) that
    registers a paid basket's 54-ФЗ receipt for an acquirer that does not fiscalise, and
    reports its fiscal attributes (ФН, ФД, ФП, the check URL). One receipt per
    ``external_id``, however often it is sent. Building one must not touch the network.
    ``atol`` (distribution ``pes-sdk-atol``, АТОЛ Онлайн API v5) is the first.

    .. versionadded:: 0.2
    """
    raise NotImplementedError


@hookspec
def pes_cli_commands() -> Sequence[click.Command]:
    """Return click commands (or groups) this plugin adds to the ``pes`` command line.

    Each command's ``name`` must be unique; the built-in commands (``formats``,
    ``validate``, …) cannot be replaced, and a taken name is refused and reported against
    the plugin that brought it. This is how an adapter that speaks to one remote system
    (``pes gis``) brings its commands without the core importing it.

    .. versionadded:: 0.1
    """
    raise NotImplementedError


# -- event hooks -------------------------------------------------------------------------


@hookspec
def pes_registry_loaded(report: ReadReport) -> None:
    """Called when a registry has been read to its end, valid or not.

    :param report: counts, total, issues and, when refused, why. ``report.valid`` tells
        whether the registry stands.

    .. versionadded:: 0.1
    """


@hookspec
def pes_payment_confirmed(payment: Payment) -> None:
    """Called once per payment, when the gateway has confirmed it and it is stored.

    :param payment: the basket payment with all its lines.

    .. versionadded:: 0.1
    """


@hookspec
def pes_registry_delivered(delivery: Delivery) -> None:
    """Called when a registry has been acknowledged by its partner's channel.

    :param delivery: which registry, to whom, through which channel.

    .. versionadded:: 0.1
    """
