"""The runner's configuration as typed, frozen attrs models.

Everything here is already checked: a model exists only after
:func:`~pes_sdk_runner.config.loader.load_runner_config` found no problem in the whole file.
Secrets (HTTP tokens, adapter passwords from environment variables, a password in a store
URL) never appear in ``repr()`` or ``str()`` of these objects.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import attrs

from pes_sdk.models.partners import Partner
from pes_sdk.models.receipts import ReceiptVat, Supplier
from pes_sdk.partners_file import PartnersFile, ServiceDetails
from pes_sdk_runner.config.autopay import AutopayConfig
from pes_sdk_runner.config.triggers import PartnerNotifications

__all__ = [
    "INBOX",
    "MAX_LOGO_BYTES",
    "NOTIFICATIONS_OUTBOX",
    "OUTBOX",
    "AdapterSettings",
    "CabinetConfig",
    "ChannelConfig",
    "DaemonConfig",
    "GatewayConfig",
    "HttpConfig",
    "NotificationsConfig",
    "NotifyChannel",
    "PartnerConfig",
    "QuietHours",
    "ReceiptsConfig",
    "RunnerConfig",
    "ServiceConfig",
    "SourceConfig",
    "StoreConfig",
    "StoreKind",
    "logo_media_type",
    "mask_url",
]

#: The built-in debt source: registry files dropped into a folder (папка входящих).
INBOX = "inbox"
#: The built-in delivery channel: payment registry files written to a folder (папка исходящих).
OUTBOX = "outbox"


#: The largest cabinet logo taken (bytes): it is sent with every page's first view.
MAX_LOGO_BYTES = 256 * 1024


def logo_media_type(data: bytes) -> str | None:
    """The media type of a cabinet logo by its content (PNG, JPEG or SVG), else None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<?xml", b"<svg", b"<!--")) and b"<svg" in data[:4096].lower():
        return "image/svg+xml"
    return None


def _hidden(value: object) -> str:
    # Shown instead of a secret, so that a repr says a value is there without showing it.
    return "'***'" if value else repr(value)


def _hidden_map(value: Mapping[str, str]) -> str:
    return "{" + ", ".join(f"{k!r}: '***'" for k in value) + "}"


def mask_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for logs and reprs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username or ''}:***@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


@attrs.frozen
class AdapterSettings:
    """Settings of a plugin adapter (gateway, billing source, delivery channel).

    ``settings`` are the text values written in the file; ``secrets`` were read from the
    environment variables the file names in ``secrets_env`` and are hidden from ``repr``.
    Pass :meth:`merged` to the plugin factory's ``create``.
    """

    settings: Mapping[str, str] = attrs.field(factory=dict)
    secrets: Mapping[str, str] = attrs.field(factory=dict, repr=_hidden_map)

    def merged(self) -> dict[str, str]:
        """The settings and the secrets together, as the factory takes them."""
        return {**self.settings, **self.secrets}


@attrs.frozen
class ServiceConfig:
    """The service (платёжный агент): its bank details, time zone and data folder."""

    details: ServiceDetails
    time_zone: ZoneInfo
    #: the folder the runner keeps its files in; relative folders of the file are under it
    data: Path


class StoreKind(enum.StrEnum):
    """Which database the store URL names."""

    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"


@attrs.frozen
class StoreConfig:
    """Where the store lives: ``sqlite:///…`` (the default) or ``postgresql://…``."""

    url: str = attrs.field(repr=lambda u: repr(mask_url(u)))
    kind: StoreKind = StoreKind.SQLITE
    #: SQLite: concurrent commits share fsyncs, each durable before it is answered
    group_commit: bool = True

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite database file (absolute), or None for PostgreSQL."""
        if self.kind is not StoreKind.SQLITE:
            return None
        return Path(self.url.removeprefix("sqlite:///"))

    @property
    def display_url(self) -> str:
        """The URL without its password, for logs."""
        return mask_url(self.url)


@attrs.frozen
class GatewayConfig:
    """The payment gateway (платёжный шлюз): a factory name and its settings."""

    name: str = "sandbox"
    adapter: AdapterSettings = attrs.field(factory=AdapterSettings)


@attrs.frozen
class HttpConfig:
    """The HTTP API: where it listens, who may call it, where webhooks arrive.

    The tokens come from environment variables (comma-separated lists); only the variables'
    names are in the file, and the tokens are hidden from ``repr``.
    """

    client_tokens: frozenset[str] = attrs.field(repr=_hidden)
    operator_tokens: frozenset[str] = attrs.field(repr=_hidden)
    client_tokens_env: str = "PES_CLIENT_TOKENS"
    operator_tokens_env: str = "PES_OPERATOR_TOKENS"
    host: str = "127.0.0.1"
    port: int = 8080
    webhook_path: str = "/webhooks/sandbox"
    #: The largest amount of one basket line, and of a whole basket (its lines' amounts,
    #: fees aside), that ``POST /v1/payments`` takes: above the debt is an advance (аванс),
    #: but not without bound.
    max_line_amount: Decimal = Decimal("1000000.00")
    max_basket_amount: Decimal = Decimal("3000000.00")
    #: The most payment QR codes one asker (a cabinet, an app's client) may resolve in a
    #: minute and in a day (``POST /v1/qr/resolve`` and the cabinet's «Оплатить по QR»
    #: together): a resolution tells whether an account exists and what it owes, so
    #: without a bound made-up codes would enumerate accounts (:mod:`pes_sdk_runner.qr_limits`).
    qr_per_minute: int = 10
    qr_per_day: int = 100


@attrs.frozen
class SourceConfig:
    """Where a partner's debt registries come from.

    ``kind`` is ``inbox`` (files in ``folder``, read with the partner's ``format``) or the
    name of a billing source plugin (``soap-billing``) configured by ``adapter``.
    """

    kind: str
    folder: Path | None = None
    adapter: AdapterSettings = attrs.field(factory=AdapterSettings)

    @property
    def is_inbox(self) -> bool:
        return self.kind == INBOX


@attrs.frozen
class ChannelConfig:
    """How a partner's payment registries reach it.

    ``kind`` is ``outbox`` (files written to ``folder`` in ``format``) or the name of a
    delivery channel plugin (``soap-billing``, ``gis-zhkh``) configured by ``adapter``.
    """

    kind: str
    folder: Path | None = None
    format: str | None = None
    adapter: AdapterSettings = attrs.field(factory=AdapterSettings)

    @property
    def is_outbox(self) -> bool:
        return self.kind == OUTBOX


@attrs.frozen
class PartnerConfig:
    """One partner (УК or РСО) as the runner serves it."""

    partner: Partner
    source: SourceConfig
    channel: ChannelConfig
    #: the daily cut-off (время закрытия дня), local time of the service's zone
    cutoff: dt.time
    #: the debt registry format of an inbox source (None for a billing source)
    format: str | None = None
    #: send an empty payment registry on days without payments
    empty_registry: bool = False
    #: the bank-file format of the day's transfer order (1c-clientbank, 1c-directbank)
    transfer_format: str | None = None
    #: the readings format (реестр показаний) of the day's meter readings sent to the
    #: partner, e.g. 1c-xml-readings; None: readings are kept, never forwarded
    readings_format: str | None = None
    #: the supplier's phone on 54-ФЗ receipts (tag 1171), E.164; None: the receipt has none
    receipt_phone: str | None = None
    #: the VAT rate of the partner's services on receipts (tag 1199)
    receipt_vat: ReceiptVat = ReceiptVat.NONE
    #: the partner's contract allows promotional campaigns (kind ``promo``: рекламные
    #: рассылки); news campaigns need no flag
    promotions: bool = False
    #: when the triggers remind its clients (``[partners.notifications]``)
    notifications: PartnerNotifications = attrs.field(factory=PartnerNotifications)

    @property
    def supplier(self) -> Supplier:
        """The partner as a receipt names it: the supplier of its services (tag 1224)."""
        phones = (self.receipt_phone,) if self.receipt_phone else ()
        return Supplier(self.inn, self.name, phones, self.receipt_vat)

    @property
    def inn(self) -> str:
        return self.partner.inn

    @property
    def kpp(self) -> str | None:
        return self.partner.kpp

    @property
    def name(self) -> str:
        return self.partner.name


@attrs.frozen
class DaemonConfig:
    """What ``pes runner serve`` does on its own beside the API (планировщик).

    Intervals and the grace are in seconds. See ``docs/runner-config.md`` and the
    "Running as a daemon" section of ``docs/quickstart/operator.md``.
    """

    #: run the scheduler in ``serve`` (``--no-daemon`` turns it off for one run)
    enabled: bool = True
    #: how often the inbox folders are scanned; also the longest pause between passes
    scan_interval: float = 60.0
    #: how often billing sources (``soap-billing``, …) are asked for the current registry
    poll_interval: float = 3600.0
    #: an inbox file modified less than this long ago is left for the next scan
    file_min_age: float = 10.0
    #: a day is closed this long after its cut-off: room for credits still being committed
    close_grace: float = 60.0
    #: how many days before the last ended one a pass closes after downtime
    catch_up_days: int = 7
    #: how often open deliveries are tried again (a new registry is tried at once)
    delivery_interval: float = 300.0
    #: attempts in all before a delivery is given up as ``failed``
    delivery_max_attempts: int = 10
    #: how often the acquirer is asked about payments still waiting (the webhook backstop)
    payment_check_interval: float = 120.0
    #: a waiting payment is asked about once it has not changed for this long
    payment_check_after: float = 300.0
    #: payments created longer ago than this are no longer asked about (expired)
    payment_check_window: float = 172_800.0
    #: how long the store's scheduler lease lasts unless renewed (every third of it): one
    #: scheduler per store; a killed one's successor takes over this long after its death
    lease_ttl: float = 60.0
    #: what runs the background work: ``"dbos"`` (the default), durable workflows on DBOS
    #: Transact (:mod:`pes_sdk_runner.jobs`) run by the one ``serve`` of a SQLite store, or
    #: by ``serve`` and any number of ``pes runner worker`` processes on a PostgreSQL store;
    #: ``"thread"`` (deprecated), the scheduler thread of one ``serve`` that ran it before
    engine: str = "dbos"
    #: ``dbos``: every this many seconds (a whole divisor of 60) the fleet's one tick sees
    #: what is due and queues it
    tick: int = 10
    #: ``dbos``: how many partner-days one process closes at once (other partners' days)
    close_concurrency: int = 4


@attrs.frozen
class CabinetConfig:
    """The client cabinet (личный кабинет): login by phone, sessions, linked accounts.

    ``secret`` (from the environment variable ``secret_env``, hidden from ``repr``) keys
    the HMAC of login codes and session tokens: changing it ends every session. Times are
    in seconds; the limits count login codes sent (by phone, by client IP) and failed
    attempts to link an account. See ``docs/runner-config.md``.
    """

    secret: str = attrs.field(repr=_hidden)
    secret_env: str = "PES_CABINET_SECRET"
    #: the notification channel login codes go out through, and its settings
    sms_channel: str = "outbox"
    sms: AdapterSettings = attrs.field(factory=AdapterSettings)
    #: a session unused this long ends
    idle_timeout: float = 1800.0
    #: a session ends this long after the login, used or not
    absolute_timeout: float = 43200.0
    codes_per_phone_10min: int = 3
    codes_per_phone_day: int = 10
    codes_per_ip_hour: int = 30
    link_failures_per_hour: int = 5
    #: the cabinet's branding: the service's name (header, page titles), its colours
    #: (``#rrggbb``) and logo (a PNG, SVG or JPEG file, checked when the file is loaded)
    service_name: str = "Личный кабинет"
    primary_color: str = "#0b6b4f"
    accent_color: str = "#08513c"
    logo: Path | None = None


@attrs.frozen
class ReceiptsConfig:
    """54-ФЗ receipts (``[receipts]``): whether a payment is started with its receipt.

    When ``enabled``, each payment goes to the acquirer with a receipt: one agent position
    per paid service, naming the partner (name, ИНН, its ``receipt_phone`` and
    ``receipt_vat``), and the client's fee at ``fee_vat``; the client's e-mail, when given, is
    where the receipt is sent (tag 1008). See ``docs/runner-config.md``.

    ``register`` names the cloud register (облачная касса, a ``pes_fiscal_registers``
    plugin: ``atol``) that registers the receipt of a paid payment when the gateway does
    not fiscalise (its ``capabilities.receipts`` is false), with its ``adapter`` settings
    (``settings`` and ``secrets_env``, as ``[gateway]``); None: no register. See
    ``docs/receipts.md``.
    """

    enabled: bool = False
    #: the VAT rate of the client's fee: the service's own (агентское вознаграждение)
    fee_vat: ReceiptVat = ReceiptVat.NONE
    register: str | None = None
    adapter: AdapterSettings = attrs.field(factory=AdapterSettings)


#: The sandbox notification channel's file (under the data folder) when nothing is set.
NOTIFICATIONS_OUTBOX = Path("outbox") / "notifications.jsonl"


@attrs.frozen
class NotifyChannel:
    """A notification channel of ``[notifications.channels.<name>]``: a plugin and settings.

    ``dedup_by_key``: the provider itself drops a repeat of a message's key (an SMS
    gateway's client message id, say), so a send a crash interrupted may be repeated
    (docs/runner-crash-safety.md).
    """

    name: str
    plugin: str
    adapter: AdapterSettings = attrs.field(factory=AdapterSettings)
    dedup_by_key: bool = False


@attrs.frozen
class QuietHours:
    """Hours of the client's day no message is sent in (тихие часы), e.g. 21:00–09:00."""

    start: dt.time
    end: dt.time

    def contains(self, local: dt.time) -> bool:
        """Whether a local time of day falls in the quiet hours (start in, end out)."""
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # across midnight

    def end_after(self, moment: dt.datetime) -> dt.datetime:
        """The end of the quiet hours ``moment`` (aware, in the client's zone) falls in."""
        end = moment.replace(
            hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0, fold=0
        )
        if end <= moment:
            end = (moment + dt.timedelta(days=1)).replace(
                hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0, fold=0
            )
        return end


def _default_channels() -> tuple[NotifyChannel, ...]:
    settings = {"path": str(NOTIFICATIONS_OUTBOX)}
    return (NotifyChannel(OUTBOX, OUTBOX, AdapterSettings(settings)),)


@attrs.frozen
class NotificationsConfig:
    """Notifications to clients (``[notifications]``): channels, order, respect, retries.

    ``via`` names the channel of each transport (``sms``, ``email``) and push provider
    (``fcm``, ``apns``, ``rustore``, ``webpush``); ``order`` the transports tried for each
    kind of message (``charges``, ``news``, …; ``default`` for the others), the next one
    when the one before could not reach the client. Quiet hours are in the client's zone
    (the service's unless the client has one). ``per_day``: at most that many messages
    (sources) to one client in a day; None: no limit. See ``docs/runner-config.md``.
    """

    channels: tuple[NotifyChannel, ...] = attrs.field(factory=_default_channels)
    via: Mapping[str, str] = attrs.field(
        factory=lambda: dict.fromkeys(("sms", "email", "fcm", "apns", "rustore", "webpush"), OUTBOX)
    )
    order: Mapping[str, tuple[str, ...]] = attrs.field(factory=lambda: {"default": ("push", "sms")})
    quiet_hours: QuietHours | None = None
    per_day: int | None = None
    #: sends of one message through one channel while it answers "later"
    attempts: int = 3
    #: the longest wait between two of them, in seconds
    max_wait: float = 30.0
    #: messages per ``notify`` workflow
    batch_size: int = 500

    def order_of(self, kind: str) -> tuple[str, ...]:
        """The transports tried for a kind of message, in order."""
        return self.order.get(kind) or self.order.get("default") or ("push", "sms")

    def channel(self, name: str) -> NotifyChannel | None:
        """The channel configured as ``name``, if any."""
        return next((c for c in self.channels if c.name == name), None)


@attrs.frozen
class RunnerConfig:
    """The whole runner configuration, loaded from one TOML file."""

    service: ServiceConfig
    store: StoreConfig
    gateway: GatewayConfig
    http: HttpConfig
    partners: tuple[PartnerConfig, ...] = ()
    path: Path | None = None
    daemon: DaemonConfig = attrs.field(factory=DaemonConfig)
    #: None: the runner has no client cabinet (its endpoints answer 404 cabinet-disabled)
    cabinet: CabinetConfig | None = None
    receipts: ReceiptsConfig = attrs.field(factory=ReceiptsConfig)
    notifications: NotificationsConfig = attrs.field(factory=NotificationsConfig)
    autopay: AutopayConfig = attrs.field(factory=AutopayConfig)

    def partner(self, inn: str, kpp: str | None = None) -> PartnerConfig | None:
        """The partner with this ИНН (and КПП, when given), or None if none or ambiguous."""
        found = [p for p in self.partners if p.inn == inn]
        if kpp is not None:
            found = [p for p in found if p.kpp == kpp]
        return found[0] if len(found) == 1 else None

    @property
    def partners_file(self) -> PartnersFile:
        """The service and partners in the shape ``PARTNERS.toml`` loads to (for settlement)."""
        return PartnersFile(
            self.service.details, tuple(p.partner for p in self.partners), self.path
        )
