"""Loading the runner's TOML configuration strictly, listing every problem at once.

The file is checked as a whole before the runner starts: unknown keys, missing or mistyped
values, bad bank details, names of gateways, sources, channels, formats and fee plans that
no installed plugin provides, folders that cannot be used and partners that clash. Every
problem is collected with its key path and all of them are raised together in one
:class:`RunnerConfigError`. The format is documented in ``docs/runner-config.md``.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import attrs

from pes_sdk import tomlfile
from pes_sdk.errors import ConfigError
from pes_sdk.formats import SERVICE_FIELDS
from pes_sdk.i18n import Message, join, verbatim
from pes_sdk.models.partners import Partner
from pes_sdk.models.receipts import ReceiptVat, check_customer_phone
from pes_sdk.models.registry import RegistryKind
from pes_sdk.money import amount as to_amount
from pes_sdk.partners_file import parse_partner_table, parse_service_table
from pes_sdk.plugins.manager import PluginHost, get_host
from pes_sdk_runner.config.autopay import load_autopay
from pes_sdk_runner.config.models import (
    INBOX,
    MAX_LOGO_BYTES,
    OUTBOX,
    AdapterSettings,
    CabinetConfig,
    ChannelConfig,
    DaemonConfig,
    GatewayConfig,
    HttpConfig,
    PartnerConfig,
    ReceiptsConfig,
    RunnerConfig,
    ServiceConfig,
    SourceConfig,
    StoreConfig,
    StoreKind,
    logo_media_type,
)
from pes_sdk_runner.config.notifications import load_notifications
from pes_sdk_runner.config.triggers import load_partner_notifications
from pes_sdk_runner.i18n import tr, tr_n

__all__ = [
    "CONFIG_VERSION",
    "DEFAULT_TIME_ZONE",
    "MIN_SECRET_LENGTH",
    "MIN_TOKEN_LENGTH",
    "RunnerConfigError",
    "example_config_path",
    "load_runner_config",
    "parse_runner_config",
]

#: The version of the configuration format this runner reads (top-level ``version``).
CONFIG_VERSION = 1
#: Perm's time zone, the default of ``service.time_zone``.
DEFAULT_TIME_ZONE = "Asia/Yekaterinburg"
#: A token shorter than this is refused: it could be guessed.
MIN_TOKEN_LENGTH = 16
#: The shortest cabinet secret taken (characters): it keys the HMAC of codes and sessions.
MIN_SECRET_LENGTH = 32

T = TypeVar("T")


class RunnerConfigError(ConfigError):
    """A runner configuration with problems; ``problems`` lists each as ``key.path: message``."""

    def __init__(self, path: Path | None, problems: Iterable[str]) -> None:
        self.path = path
        self.problems = tuple(problems)
        where = str(path) if path is not None else tr("runner configuration")
        head = problems_head(where, len(self.problems))
        super().__init__(join("\n  ", [head, *self.problems]))

    @property
    def keys(self) -> tuple[str, ...]:
        """The key path of each problem, in order (``partners[2].channel.kind``)."""
        return tuple(p.split(": ", 1)[0] for p in self.problems)


def problems_head(where: str, count: int) -> Message:
    """``where: N problems:``, the line above a list of problems."""
    return tr_n("{where}: {n} problem:", "{where}: {n} problems:", count, where=where)


def keyed(key: str, message: str) -> Message:
    """``key: message``, the key path as it is and the message in the reader's language."""
    return join(": ", [verbatim("{key}", key=key), message])


def example_config_path() -> Path:
    """The example configuration shipped with the runner (``config/example.toml``)."""
    return Path(str(resources.files("pes_sdk_runner.config").joinpath("example.toml")))


# -- reading typed values ---------------------------------------------------------------


class _Reader:
    """Reads typed values out of tables, noting every problem with its key path."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def note(self, key: str, message: str) -> None:
        self.problems.append(keyed(key, message))

    def unknown(self, data: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
        allowed = set(allowed)
        for key in data:
            if key not in allowed:
                self.note(
                    _join(where, key),
                    tr("unknown key; allowed here: {keys}", keys=", ".join(sorted(allowed))),
                )

    def table(
        self, data: Mapping[str, Any], key: str, where: str, *, required: bool = False
    ) -> Mapping[str, Any] | None:
        if key not in data:
            if required:
                self.note(_join(where, key), tr("missing (a table is required)"))
                return None
            return {}
        value = data[key]
        if not isinstance(value, dict):
            self.note(_join(where, key), tr("is a table, not {kind}", kind=_kind(value)))
            return None
        return value

    def get(
        self,
        data: Mapping[str, Any],
        key: str,
        where: str,
        convert: Callable[[Any], T],
        *,
        required: bool = False,
        default: T | None = None,
    ) -> T | None:
        if key not in data:
            if required:
                self.note(_join(where, key), tr("missing"))
            return default
        try:
            return convert(data[key])
        except (ValueError, TypeError) as exc:
            self.note(_join(where, key), str(exc) or type(exc).__name__)
            return None


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _kind(value: object) -> str:
    names = {
        str: tr("text"),
        int: tr("an integer"),
        bool: tr("a boolean"),
        dict: tr("a table"),
        list: tr("an array"),
        Decimal: tr("a number"),
        dt.time: tr("a time"),
        dt.date: tr("a date"),
        dt.datetime: tr("a date-time"),
    }
    return names.get(type(value)) or verbatim("{name}", name=type(value).__name__)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(tr("is text, not {kind}", kind=_kind(value)))
    if not value.strip():
        raise ValueError(tr("is empty"))
    return value.strip()


def _service_name(value: Any) -> str:
    name = _text(value)
    if len(name) > _MAX_SERVICE_NAME:
        raise ValueError(tr("is longer than {n} characters", n=_MAX_SERVICE_NAME))
    return name


def _color(value: Any) -> str:
    text = _text(value)
    if not _COLOR.match(text):
        raise ValueError(tr("is a colour written #rrggbb, not {text!r}", text=text))
    return text.lower()


def _logo(path: Path) -> Path:
    """A logo file the cabinet can serve: PNG, SVG or JPEG, at most MAX_LOGO_BYTES."""
    try:
        size = path.stat().st_size
        if size > MAX_LOGO_BYTES:
            raise ValueError(
                tr("{path} is larger than {n} bytes", path=str(path), n=MAX_LOGO_BYTES)
            )
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(
            tr("cannot read {path}: {error}", path=str(path), error=exc.strerror or str(exc))
        ) from None
    if logo_media_type(data) is None:
        raise ValueError(tr("{path} is not a PNG, SVG or JPEG image", path=str(path)))
    return path


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(tr("is true or false, not {kind}", kind=_kind(value)))
    return value


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _env_name(value: Any) -> str:
    name = _text(value)
    if not _ENV_NAME.match(name):
        raise ValueError(tr("{name!r} is not an environment variable name", name=name))
    return name


def _cutoff(value: Any) -> dt.time:
    # A TOML local time (cutoff = 18:00:00) is taken as well as the text "18:00".
    if isinstance(value, dt.time):
        if value.second or value.microsecond:
            raise ValueError(tr("a cut-off is whole minutes, HH:MM"))
        return value
    text = _text(value)
    match = re.fullmatch(r"(\d{2}):(\d{2})", text)
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(tr('is a local time HH:MM such as "18:00", not {text!r}', text=text))
    return dt.time(int(match[1]), int(match[2]))


def _version(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(tr("is an integer, not {kind}", kind=_kind(value)))
    return value


def _port(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(tr("is an integer, not {kind}", kind=_kind(value)))
    if not 0 <= value <= 65535:
        raise ValueError(tr("is a TCP port 0..65535 (0: any free port), not {value}", value=value))
    return value


def _seconds(low: float, high: float) -> Callable[[Any], float]:
    """Seconds from ``low`` to ``high``: a TOML integer or decimal number."""

    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            raise TypeError(tr("is a number of seconds, not {kind}", kind=_kind(value)))
        if not low <= value <= high:
            raise ValueError(
                tr(
                    "is a number of seconds from {low:g} to {high:g}, not {value}",
                    low=low,
                    high=high,
                    value=value,
                )
            )
        return float(value)

    return check


#: ``daemon.engine``: what runs the background work (:mod:`pes_sdk_runner.jobs`).
_ENGINES = ("thread", "dbos")


def _engine(value: Any) -> str:
    name = _text(value)
    if name not in _ENGINES:
        raise ValueError(tr('is "thread" or "dbos", not {name!r}', name=name))
    return name


def _tick(value: Any) -> int:
    # A cron schedule fires on whole seconds of each minute: the tick divides the minute.
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(tr("is a whole number of seconds, not {kind}", kind=_kind(value)))
    if value < 1 or 60 % value:
        raise ValueError(
            tr(
                "is a whole number of seconds that divides 60 (1, 2, 5, 10, 30, …), not {value}",
                value=value,
            )
        )
    return value


def _whole(low: int, high: int, what: str) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(
                tr("is a whole number of {what}, not {kind}", what=what, kind=_kind(value))
            )
        if not low <= value <= high:
            raise ValueError(
                tr(
                    "is a whole number of {what} from {low} to {high}, not {value}",
                    what=what,
                    low=low,
                    high=high,
                    value=value,
                )
            )
        return value

    return check


def _vat(value: Any) -> ReceiptVat:
    text = _text(value)
    try:
        return ReceiptVat(text)
    except ValueError:
        raise ValueError(
            tr(
                "is a VAT rate ({rates}), not {text!r}",
                rates=", ".join(v.value for v in ReceiptVat),
                text=text,
            )
        ) from None


def _phone(value: Any) -> str:
    return check_customer_phone(_text(value))


def _webhook_path(value: Any) -> str:
    text = _text(value)
    if not text.startswith("/") or any(c.isspace() or c in "?#" for c in text):
        raise ValueError(
            tr("is a URL path starting with '/', without a query, not {text!r}", text=text)
        )
    return text


#: The highest ``http.max_line_amount``/``max_basket_amount`` taken: a billion roubles,
#: far below what the store's sums hold (64-bit kopecks), however many such payments add up.
MAX_MONEY_LIMIT = Decimal("1000000000.00")


def _money_limit(value: Any) -> Decimal:
    # Money is text ("1000000.00"), as everywhere in pes-sdk; a TOML number is taken too.
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise TypeError(
            tr('is an amount as text such as "1000000.00", not {kind}', kind=_kind(value))
        )
    try:
        limit = to_amount(value)
    except ValueError as exc:
        raise ValueError(
            tr("is an amount with at most two decimals: {detail}", detail=str(exc))
        ) from None
    if not 0 < limit <= MAX_MONEY_LIMIT:
        raise ValueError(
            tr(
                "is an amount above 0 and at most {limit}, not {value}",
                limit=MAX_MONEY_LIMIT,
                value=limit,
            )
        )
    return limit


def _settings(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise TypeError(tr("is a table of text values, not {kind}", kind=_kind(value)))
    out: dict[str, str] = {}
    for k, v in value.items():
        # Numbers are taken as their text (timeout = 10): factories take text settings.
        if isinstance(v, bool) or not isinstance(v, str | int | Decimal):
            raise TypeError(
                keyed(str(k), tr("a setting is text or a number, not {kind}", kind=_kind(v)))
            )
        out[str(k)] = str(v)
    return out


def _env_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise TypeError(tr('is a table of setting = "ENV_VARIABLE", not {kind}', kind=_kind(value)))
    out: dict[str, str] = {}
    for k, v in value.items():
        try:
            out[str(k)] = _env_name(v)
        except (TypeError, ValueError) as exc:
            raise type(exc)(keyed(str(k), str(exc))) from None
    return out


# -- folders ------------------------------------------------------------------------------


def _folder_problem(folder: Path) -> str | None:
    """Why ``folder`` cannot be used (it must exist, or be creatable), or None.

    Nothing is created at load: the nearest existing ancestor must be a writable folder.
    """
    if folder.exists():
        if not folder.is_dir():
            return tr("{folder} exists and is not a folder", folder=folder)
        if not os.access(folder, os.W_OK | os.X_OK):
            return tr("{folder} is not writable", folder=folder)
        return None
    parent = folder.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return tr(
            "{folder} cannot be created: {parent} is not a folder", folder=folder, parent=parent
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        return tr(
            "{folder} cannot be created: {parent} is not writable", folder=folder, parent=parent
        )
    return None


def _resolve(base: Path, value: str) -> Path:
    try:
        path = Path(value).expanduser()
    except RuntimeError:  # "~name" of no user, or "~" with no home folder known
        raise ValueError(
            tr("{value!r} starts with a home folder that cannot be found", value=value)
        ) from None
    return Path(os.path.normpath(base / path))


def _url(value: Any) -> str:
    text = _text(value)
    try:
        urlsplit(text)
    except ValueError as exc:  # "//[": an IPv6 host that is never closed
        raise ValueError(
            tr("is not a URL ({detail}): {text!r}", detail=str(exc), text=text)
        ) from None
    return text


def _overlaps(a: Path, b: Path) -> bool:
    return a == b or a.is_relative_to(b) or b.is_relative_to(a)


# -- sections -----------------------------------------------------------------------------

_TOP_KEYS = (
    "version",
    "service",
    "store",
    "gateway",
    "http",
    "daemon",
    "cabinet",
    "receipts",
    "notifications",
    "autopay",
    "partners",
)
_SERVICE_EXTRA = ("data",)
_STORE_KEYS = ("url", "group_commit")
_GATEWAY_KEYS = ("name", "settings", "secrets_env")
_HTTP_KEYS = (
    "host",
    "port",
    "client_tokens_env",
    "operator_tokens_env",
    "webhook_path",
    "max_line_amount",
    "max_basket_amount",
    "qr_per_minute",
    "qr_per_day",
)
_DAY = 86_400
#: ``[http]``'s QR limits, each with how it is read (the defaults are ``HttpConfig``'s).
_HTTP_QR_LIMITS: Mapping[str, Callable[[Any], int]] = {
    "qr_per_minute": _whole(1, 10_000, tr("attempts")),
    "qr_per_day": _whole(1, 1_000_000, tr("attempts")),
}
#: ``[daemon]``: each key with how it is read (the defaults are ``DaemonConfig``'s).
_DAEMON_KEYS: Mapping[str, Callable[[Any], Any]] = {
    "enabled": _bool,
    "scan_interval": _seconds(0.1, _DAY),
    "poll_interval": _seconds(1, _DAY),
    "file_min_age": _seconds(0, 3600),
    # A grace under a quarter of a day keeps "the last ended day" within the last two.
    "close_grace": _seconds(0, 6 * 3600),
    "catch_up_days": _whole(0, 366, tr("days")),
    "delivery_interval": _seconds(1, _DAY),
    "delivery_max_attempts": _whole(1, 1000, tr("attempts")),
    "payment_check_interval": _seconds(1, _DAY),
    "payment_check_after": _seconds(0, _DAY),
    "payment_check_window": _seconds(3600, 30 * _DAY),
    "lease_ttl": _seconds(1, 3600),
    "engine": _engine,
    "tick": _tick,
    "close_concurrency": _whole(1, 64, tr("days")),
}
#: ``[cabinet]``: the numbers, each with how it is read (the defaults are CabinetConfig's).
_CABINET_NUMBERS: Mapping[str, Callable[[Any], Any]] = {
    "idle_timeout": _seconds(60, _DAY),
    "absolute_timeout": _seconds(300, 30 * _DAY),
    "codes_per_phone_10min": _whole(1, 100, tr("codes")),
    "codes_per_phone_day": _whole(1, 1000, tr("codes")),
    "codes_per_ip_hour": _whole(1, 1_000_000, tr("codes")),
    "link_failures_per_hour": _whole(1, 1000, tr("attempts")),
}
_CABINET_BRANDING = ("service_name", "primary_color", "accent_color", "logo")
_CABINET_KEYS = ("secret_env", "sms", *_CABINET_NUMBERS, *_CABINET_BRANDING)
_COLOR = re.compile(r"#[0-9a-fA-F]{6}\Z")
#: The longest service name taken: it fits a phone's header.
_MAX_SERVICE_NAME = 60
_SMS_KEYS = ("channel", "settings", "secrets_env")
#: The sandbox SMS channel's file, under the data folder.
SMS_OUTBOX = Path("outbox") / "sms.jsonl"
_PARTNER_EXTRA = (
    "source",
    "format",
    "channel",
    "cutoff",
    "empty_registry",
    "transfer_format",
    "readings_format",
    "receipt_phone",
    "receipt_vat",
    "promotions",
    "notifications",
)
_RECEIPTS_KEYS = ("enabled", "fee_vat", "register", "settings", "secrets_env")
#: Setting names that hold secrets: their values belong in the environment, not the file.
_SECRET_KEY = re.compile(r"password|secret|token|(^|_)key$", re.I)


def _secret_hint(where: str) -> Message:
    return tr(
        "secrets are not written in the file; name an environment variable in {where}",
        where=where,
    )


class _Loader:
    def __init__(self, r: _Reader, host: PluginHost, base: Path, env: Mapping[str, str]) -> None:
        self.r = r
        self.host = host
        self.base = base
        self.env = env

    def folder(self, value: Any, base: Path) -> Path:
        return _resolve(base, _text(value))

    def checked_folder(
        self, table: Mapping[str, Any], key: str, where: str, base: Path
    ) -> Path | None:
        folder = self.r.get(table, key, where, lambda v: self.folder(v, base), required=True)
        if folder is not None:
            problem = _folder_problem(folder)
            if problem is not None:
                self.r.note(_join(where, key), problem)
        return folder

    def secrets(self, table: Mapping[str, Any], where: str) -> dict[str, str] | None:
        no_names: dict[str, str] = {}
        names = self.r.get(table, "secrets_env", where, _env_map, default=no_names)
        if names is None:
            return None
        out: dict[str, str] = {}
        for setting, var in names.items():
            value = self.env.get(var, "")
            if not value:
                # Name the variable, never a value.
                self.r.note(
                    f"{where}.secrets_env.{setting}",
                    tr("environment variable {var} is not set", var=var),
                )
                continue
            out[setting] = value
        return out

    def adapter(self, table: Mapping[str, Any], where: str) -> AdapterSettings | None:
        no_settings: dict[str, str] = {}
        settings = self.r.get(table, "settings", where, _settings, default=no_settings)
        secrets = self.secrets(table, where)
        if settings is None or secrets is None:
            return None
        for key in settings:
            if _SECRET_KEY.search(key):
                self.r.note(f"{where}.settings.{key}", _secret_hint(f"{where}.secrets_env"))
        both = sorted(set(settings) & set(secrets))
        for key in both:
            self.r.note(f"{where}.settings.{key}", tr("is given in secrets_env too; keep one"))
        return AdapterSettings(settings, secrets)

    # -- [service]

    def service(self, data: Mapping[str, Any]) -> ServiceConfig | None:
        # service.time_zone is read with the rest of the service's details (PARTNERS.toml
        # has it too); only its default differs here.
        details = parse_service_table(
            data, self.r.problems, extra_keys=_SERVICE_EXTRA, default_time_zone=DEFAULT_TIME_ZONE
        )
        table = data.get("service")
        if not isinstance(table, dict):
            return None
        data_folder = self.r.get(
            table,
            "data",
            "service",
            lambda v: self.folder(v, self.base),
            default=self.base / "data",
        )
        if data_folder is not None:
            problem = _folder_problem(data_folder)
            if problem is not None:
                self.r.note("service.data", problem)
        if details is None or data_folder is None:
            return None
        return ServiceConfig(details, details.time_zone, data_folder)

    # -- [store]

    def store(self, data: Mapping[str, Any], data_folder: Path | None) -> StoreConfig | None:
        table = self.r.table(data, "store", "")
        if table is None:
            return None
        self.r.unknown(table, _STORE_KEYS, "store")
        group: bool | None = True
        if "group_commit" in table:
            group = self.r.get(table, "group_commit", "store", _bool)
        if group is None:
            return None
        found = self._store_url(table, data_folder)
        return attrs.evolve(found, group_commit=group) if found is not None else None

    def _store_url(self, table: Mapping[str, Any], data_folder: Path | None) -> StoreConfig | None:
        url = self.r.get(table, "url", "store", _url)
        if url is None:
            if "url" in table or data_folder is None:
                return None
            return StoreConfig(f"sqlite:///{data_folder / 'pes.db'}", StoreKind.SQLITE)
        scheme = urlsplit(url).scheme.lower()
        if scheme == "sqlite":
            rest = url.split(":", 1)[1]
            if not rest.startswith("///") or len(rest) == 3:
                self.r.note(
                    "store.url",
                    tr("a SQLite URL is sqlite:///FILE (a relative FILE is under service.data)"),
                )
                return None
            file = Path(rest[3:])
            if not file.is_absolute():
                if data_folder is None:
                    return None
                file = Path(os.path.normpath(data_folder / file))
            problem = _folder_problem(file.parent)
            if problem is not None:
                self.r.note("store.url", tr("the database's folder: {problem}", problem=problem))
            return StoreConfig(f"sqlite:///{file}", StoreKind.SQLITE)
        if scheme in ("postgresql", "postgres") or scheme.startswith("postgresql+"):
            if not urlsplit(url).hostname and not urlsplit(url).path.strip("/"):
                self.r.note("store.url", tr("a PostgreSQL URL names a host or a database"))
                return None
            return StoreConfig(url, StoreKind.POSTGRESQL)
        shown = scheme or url.split(":", 1)[0]
        self.r.note(
            "store.url",
            tr("unsupported store {scheme!r}; use sqlite:///FILE or postgresql://…", scheme=shown),
        )
        return None

    # -- [gateway]

    def gateway(self, data: Mapping[str, Any]) -> GatewayConfig | None:
        table = self.r.table(data, "gateway", "")
        if table is None:
            return None
        self.r.unknown(table, _GATEWAY_KEYS, "gateway")
        known = self.host.gateways()

        def name(value: Any) -> str:
            text = _text(value)
            if text not in known:
                raise ValueError(
                    tr(
                        "no payment gateway named {name!r} (installed: {installed})",
                        name=text,
                        installed=_list(known),
                    )
                )
            return text

        gname = self.r.get(table, "name", "gateway", name, default="sandbox")
        if "name" not in table and "sandbox" not in known:
            self.r.note(
                "gateway.name",
                tr(
                    "missing, and the default 'sandbox' is not installed (installed: {installed})",
                    installed=_list(known),
                ),
            )
            gname = None
        adapter = self.adapter(table, "gateway")
        if gname is None or adapter is None:
            return None
        return GatewayConfig(gname, adapter)

    # -- [http]

    def tokens(self, table: Mapping[str, Any], key: str) -> tuple[str, frozenset[str] | None]:
        where = f"http.{key}"
        plain = key.removesuffix("_env")
        if plain in table:
            self.r.note(f"http.{plain}", _secret_hint(where))
        default = "PES_CLIENT_TOKENS" if plain == "client_tokens" else "PES_OPERATOR_TOKENS"
        var = self.r.get(table, key, "http", _env_name, required=True)
        if var is None:
            return default, None
        raw = self.env.get(var, "")
        tokens = [t.strip() for t in raw.split(",") if t.strip()]
        if not tokens:
            self.r.note(
                where, tr("environment variable {var} is not set or holds no token", var=var)
            )
            return var, None
        short = sum(1 for t in tokens if len(t) < MIN_TOKEN_LENGTH)
        if short:
            self.r.note(
                where,
                tr_n(
                    "{n} token in {var} is shorter than {length} characters",
                    "{n} token(s) in {var} are shorter than {length} characters",
                    short,
                    var=var,
                    length=MIN_TOKEN_LENGTH,
                ),
            )
            return var, None
        return var, frozenset(tokens)

    def http(self, data: Mapping[str, Any], gateway: str | None) -> HttpConfig | None:
        table = self.r.table(data, "http", "", required=True)
        if table is None:
            return None
        self.r.unknown(table, (*_HTTP_KEYS, "client_tokens", "operator_tokens"), "http")
        host = self.r.get(table, "host", "http", _text, default="127.0.0.1")
        port = self.r.get(table, "port", "http", _port, default=8080)
        path = self.r.get(
            table,
            "webhook_path",
            "http",
            _webhook_path,
            default=f"/webhooks/{gateway or 'gateway'}",
        )
        limits = attrs.fields(HttpConfig)
        line_limit = self.r.get(
            table,
            "max_line_amount",
            "http",
            _money_limit,
            default=limits.max_line_amount.default,
        )
        basket_limit = self.r.get(
            table,
            "max_basket_amount",
            "http",
            _money_limit,
            default=limits.max_basket_amount.default,
        )
        qr_limits = {
            key: self.r.get(table, key, "http", read, default=getattr(limits, key).default)
            for key, read in _HTTP_QR_LIMITS.items()
        }
        client_var, client = self.tokens(table, "client_tokens_env")
        operator_var, operator = self.tokens(table, "operator_tokens_env")
        if client is not None and operator is not None and client & operator:
            # A client's app must never hold an operator's rights.
            self.r.note(
                "http.operator_tokens_env",
                tr(
                    "a token in {operator} is also a client token in {client}",
                    operator=operator_var,
                    client=client_var,
                ),
            )
            return None
        if None in (host, port, path, client, operator, line_limit, basket_limit):
            return None
        per_minute, per_day = qr_limits["qr_per_minute"], qr_limits["qr_per_day"]
        if per_minute is None or per_day is None:
            return None
        assert host is not None and port is not None and path is not None
        assert client is not None and operator is not None
        assert line_limit is not None and basket_limit is not None
        return HttpConfig(
            client,
            operator,
            client_var,
            operator_var,
            host,
            port,
            path,
            line_limit,
            basket_limit,
            qr_per_minute=per_minute,
            qr_per_day=per_day,
        )

    # -- [daemon]

    def daemon(self, data: Mapping[str, Any]) -> DaemonConfig | None:
        table = self.r.table(data, "daemon", "")
        if table is None:
            return None
        self.r.unknown(table, _DAEMON_KEYS, "daemon")
        values: dict[str, Any] = {}
        complete = True
        for key, convert in _DAEMON_KEYS.items():
            if key not in table:
                continue
            value = self.r.get(table, key, "daemon", convert)
            if value is None:
                complete = False
            values[key] = value
        return DaemonConfig(**values) if complete else None

    # -- [receipts]

    def receipts(self, data: Mapping[str, Any]) -> ReceiptsConfig | None:
        table = self.r.table(data, "receipts", "")
        if table is None:
            return None
        self.r.unknown(table, _RECEIPTS_KEYS, "receipts")
        enabled = self.r.get(table, "enabled", "receipts", _bool, default=False)
        # The fee's rate is the service's own tax position: a default could be wrong, so a
        # runner that sends receipts says it.
        fee_vat = self.r.get(table, "fee_vat", "receipts", _vat, required=bool(enabled))
        register = self.receipts_register(table)
        adapter = self.adapter(table, "receipts")
        if (
            enabled is None
            or (enabled and fee_vat is None)
            or ("fee_vat" in table and fee_vat is None)
            or ("register" in table and register is None)
            or adapter is None
        ):
            return None
        if register is not None and not enabled:
            self.r.note("receipts.register", tr("needs receipts.enabled = true"))
            return None
        if register is not None:
            self.check_register(register, adapter)
        return ReceiptsConfig(enabled, fee_vat or ReceiptVat.NONE, register, adapter)

    def receipts_register(self, table: Mapping[str, Any]) -> str | None:
        """``receipts.register``: an installed cloud register's name, or None."""
        known = self.host.fiscal_registers()

        def name(value: Any) -> str:
            text = _text(value)
            if text not in known:
                raise ValueError(
                    tr(
                        "no fiscal register named {name!r} (installed: {installed})",
                        name=text,
                        installed=_list(known),
                    )
                )
            return text

        return self.r.get(table, "register", "receipts", name)

    def check_register(self, register: str, adapter: AdapterSettings) -> None:
        """Build the register once, as the runner will (it touches no network), so that a
        missing or wrong setting is named now, at ``receipts.settings``."""
        try:
            built = self.host.fiscal_registers()[register].create(adapter.merged())
        except ConfigError as exc:
            self.r.note("receipts.settings", str(exc))
            return
        built.close()

    # -- [cabinet]

    def cabinet(self, data: Mapping[str, Any], data_folder: Path | None) -> CabinetConfig | None:
        """The cabinet; None when the file has none (or a problem was noted)."""
        if "cabinet" not in data:
            return None
        table = self.r.table(data, "cabinet", "")
        if table is None:
            return None
        self.r.unknown(table, (*_CABINET_KEYS, "secret"), "cabinet")
        if "secret" in table:
            self.r.note("cabinet.secret", _secret_hint("cabinet.secret_env"))
        complete = True
        var = self.r.get(table, "secret_env", "cabinet", _env_name, required=True)
        secret = None
        if var is not None:
            secret = self.env.get(var, "")
            if not secret:
                self.r.note(
                    "cabinet.secret_env", tr("environment variable {var} is not set", var=var)
                )
                secret = None
            elif len(secret) < MIN_SECRET_LENGTH:
                self.r.note(
                    "cabinet.secret_env",
                    tr(
                        "the secret in {var} is shorter than {length} characters",
                        var=var,
                        length=MIN_SECRET_LENGTH,
                    ),
                )
                secret = None
        values: dict[str, Any] = {}
        for key, convert in _CABINET_NUMBERS.items():
            if key not in table:
                continue
            value = self.r.get(table, key, "cabinet", convert)
            if value is None:
                complete = False
            values[key] = value
        idle, absolute = values.get("idle_timeout"), values.get("absolute_timeout")
        if idle is not None and absolute is not None and idle > absolute:
            self.r.note("cabinet.idle_timeout", tr("is longer than cabinet.absolute_timeout"))
            complete = False
        branding = self.branding(table)
        sms = self.sms(table, data_folder)
        if secret is None or var is None or sms is None or not complete or branding is None:
            return None
        channel, adapter = sms
        return CabinetConfig(secret, var, channel, adapter, **values, **branding)

    def branding(self, table: Mapping[str, Any]) -> dict[str, Any] | None:
        """The cabinet's name, colours and logo (the keys given); None if one is wrong."""
        values: dict[str, Any] = {}
        readers: dict[str, Callable[[Any], Any]] = {
            "service_name": _service_name,
            "primary_color": _color,
            "accent_color": _color,
            "logo": lambda v: _logo(_resolve(self.base, _text(v))),
        }
        complete = True
        for key, convert in readers.items():
            if key not in table:
                continue
            value = self.r.get(table, key, "cabinet", convert)
            if value is None:
                complete = False
            values[key] = value
        return values if complete else None

    def sms(
        self, cabinet: Mapping[str, Any], data_folder: Path | None
    ) -> tuple[str, AdapterSettings] | None:
        table = self.r.table(cabinet, "sms", "cabinet")
        if table is None:
            return None
        self.r.unknown(table, _SMS_KEYS, "cabinet.sms")
        name = self.r.get(table, "channel", "cabinet.sms", _text, default="outbox")
        if name is not None:
            try:
                factory = self.host.notification_channel(name)
            except ConfigError as exc:
                self.r.note("cabinet.sms.channel", str(exc))
                name = None
            else:
                if "sms" not in tuple(factory.kinds):
                    self.r.note(
                        "cabinet.sms.channel",
                        tr("the channel {name!r} does not send SMS", name=name),
                    )
                    name = None
        adapter = self.adapter(table, "cabinet.sms")
        if name is None or adapter is None:
            return None
        if name == OUTBOX and data_folder is not None:
            # The sandbox channel's file: under the data folder, by default outbox/sms.jsonl.
            try:
                path = _resolve(data_folder, adapter.settings.get("path", str(SMS_OUTBOX)))
            except ValueError as exc:
                self.r.note("cabinet.sms.settings.path", str(exc))
                return None
            adapter = attrs.evolve(adapter, settings={**adapter.settings, "path": str(path)})
        return name, adapter

    # -- [[partners]]

    def format_name(self, kind: RegistryKind, need: str) -> Callable[[Any], str]:
        formats = self.host.formats()

        def check(value: Any) -> str:
            name = _text(value)
            of_kind = {n for n, f in formats.items() if f.kind == kind}
            fmt = formats.get(name)
            if fmt is None:
                raise ValueError(
                    tr(
                        "no registry format named {name!r} (installed {kind} formats: {installed})",
                        name=name,
                        kind=kind,
                        installed=_list(of_kind),
                    )
                )
            if fmt.kind != kind:
                raise ValueError(
                    tr(
                        "format {name!r} holds {held}, not {kind}",
                        name=name,
                        held=fmt.kind,
                        kind=kind,
                    )
                )
            if not getattr(fmt.capabilities, need):
                if need == "read":
                    raise ValueError(tr("format {name!r} cannot read", name=name))
                raise ValueError(tr("format {name!r} cannot write", name=name))
            return name

        return check

    def source(self, item: Mapping[str, Any], where: str, data_folder: Path) -> SourceConfig | None:
        table = self.r.table(item, "source", where, required=True)
        if table is None:
            return None
        path = f"{where}.source"
        known = self.host.billing_sources()
        kind = self.r.get(table, "kind", path, _text, required=True)
        if kind is None:
            return None
        if kind == INBOX:
            self.r.unknown(table, ("kind", "folder"), path)
            folder = self.checked_folder(table, "folder", path, data_folder)
            return SourceConfig(INBOX, folder) if folder is not None else None
        if kind not in known:
            self.r.note(
                f"{path}.kind",
                tr(
                    "no billing source named {name!r} (installed: {installed})",
                    name=kind,
                    installed=_list({INBOX, *known}),
                ),
            )
            return None
        self.r.unknown(table, ("kind", "settings", "secrets_env"), path)
        adapter = self.adapter(table, path)
        return SourceConfig(kind, None, adapter) if adapter is not None else None

    def channel(
        self, item: Mapping[str, Any], where: str, data_folder: Path
    ) -> ChannelConfig | None:
        table = self.r.table(item, "channel", where, required=True)
        if table is None:
            return None
        path = f"{where}.channel"
        known = self.host.delivery_channels()
        kind = self.r.get(table, "kind", path, _text, required=True)
        if kind is None:
            return None
        if kind == OUTBOX:
            self.r.unknown(table, ("kind", "folder", "format"), path)
            folder = self.checked_folder(table, "folder", path, data_folder)
            fmt = self.r.get(
                table,
                "format",
                path,
                self.format_name(RegistryKind.PAYMENTS, "write"),
                required=True,
            )
            if folder is None or fmt is None:
                return None
            return ChannelConfig(OUTBOX, folder, fmt)
        if kind not in known:
            self.r.note(
                f"{path}.kind",
                tr(
                    "no delivery channel named {name!r} (installed: {installed})",
                    name=kind,
                    installed=_list({OUTBOX, *known}),
                ),
            )
            return None
        self.r.unknown(table, ("kind", "settings", "secrets_env"), path)
        adapter = self.adapter(table, path)
        return ChannelConfig(kind, None, None, adapter) if adapter is not None else None

    def partner(
        self, item: Mapping[str, Any], where: str, data_folder: Path | None
    ) -> PartnerConfig | None:
        partner = parse_partner_table(
            item, where, self.r.problems, plans=self.host.fee_plans(), extra_keys=_PARTNER_EXTRA
        )
        base = data_folder if data_folder is not None else self.base
        source = self.source(item, where, base)
        if source is not None and source.is_inbox:
            fmt = self.r.get(
                item, "format", where, self.format_name(RegistryKind.DEBTS, "read"), required=True
            )
        elif source is not None and "format" in item:
            fmt = None
            self.r.note(
                f"{where}.format",
                tr(
                    "only an inbox source reads registry files; the source {kind!r} needs none",
                    kind=source.kind,
                ),
            )
        else:
            fmt = None
        channel = self.channel(item, where, base)
        cutoff = self.r.get(item, "cutoff", where, _cutoff, required=True)
        empty = self.r.get(item, "empty_registry", where, _bool, default=False)
        transfer = self.r.get(
            item, "transfer_format", where, self.format_name(RegistryKind.TRANSFERS, "write")
        )
        readings = self.r.get(
            item, "readings_format", where, self.format_name(RegistryKind.READINGS, "write")
        )
        phone = self.r.get(item, "receipt_phone", where, _phone)
        vat = self.r.get(item, "receipt_vat", where, _vat, default=ReceiptVat.NONE)
        promotions = self.r.get(item, "promotions", where, _bool, default=False)
        notifications = load_partner_notifications(self.r, item, where)
        if (
            partner is None
            or source is None
            or channel is None
            or cutoff is None
            or empty is None
            or (source.is_inbox and fmt is None)
            or ("transfer_format" in item and transfer is None)
            or ("readings_format" in item and readings is None)
            or ("receipt_phone" in item and phone is None)
            or vat is None
            or promotions is None
            or notifications is None
        ):
            return None
        return PartnerConfig(
            partner,
            source,
            channel,
            cutoff,
            fmt,
            empty,
            transfer,
            readings,
            phone,
            vat,
            promotions,
            notifications,
        )

    def services_kept(self, config: PartnerConfig, where: str) -> None:
        """Note a payment format that would lose which service each payment paid.

        What a partner's debts can name comes from its debt format's declared
        ``service_fields`` (:class:`~pes_sdk.formats.FormatCapabilities`): a format with
        ``service`` may hold several services on one account (capital repair beside
        upkeep); one without it cannot (a repeated account is refused), so nothing needs
        telling apart. A billing source's layout is not declared: it may give both. The
        payment format must then keep every field the debts give. Adapter channels take
        the records whole (the service's own copy is in ``pes-payments``, which keeps both).
        """
        formats = self.host.formats()
        if config.source.is_inbox:
            debt_format = formats.get(config.format or "")
            if debt_format is None:
                return
            given = tuple(debt_format.capabilities.service_fields)
            source = tr("debt format {name!r}", name=config.format)
        else:
            given = SERVICE_FIELDS
            source = tr("billing source {name!r}", name=config.source.kind)
        name = config.channel.format
        if "service" not in given or not config.channel.is_outbox or name is None:
            return
        payment_format = formats.get(name)
        if payment_format is None:
            return
        lost = [f for f in given if f not in payment_format.capabilities.service_fields]
        if lost:
            keep = sorted(
                n
                for n, f in formats.items()
                if f.kind == RegistryKind.PAYMENTS
                and f.capabilities.write
                and set(given) <= set(f.capabilities.service_fields)
            )
            self.r.note(
                f"{where}.channel.format",
                tr(
                    "format {name!r} does not keep {lost}, and the partner's "
                    "{source} can name several services on one account: its payment registry "
                    "could not tell which service each payment paid; use a format that keeps "
                    "{given} (installed: {installed})",
                    name=name,
                    lost=_either(lost),
                    source=source,
                    given=_both(given),
                    installed=_list(keep),
                ),
            )

    def partners(
        self, data: Mapping[str, Any], data_folder: Path | None, service: ServiceConfig | None
    ) -> list[PartnerConfig] | None:
        raw = data.get("partners", [])
        if not isinstance(raw, list):
            self.r.note(
                "partners", tr("is an array of tables ([[partners]]), not {kind}", kind=_kind(raw))
            )
            return None
        out: list[PartnerConfig] = []
        complete = True
        seen: dict[tuple[str, str | None], int] = {}
        # (folder, where, role) of every inbox and outbox, to find clashes.
        folders: list[tuple[Path, str, str]] = []
        for i, item in enumerate(raw):
            where = f"partners[{i}]"
            if not isinstance(item, dict):
                self.r.note(where, tr("is a table, not {kind}", kind=_kind(item)))
                complete = False
                continue
            before = len(self.r.problems)
            config = self.partner(item, where, data_folder)
            inn, kpp = _inn_kpp(item)
            if inn is not None:
                if (inn, kpp) in seen:
                    first = seen[inn, kpp]
                    self.r.note(
                        f"{where}.inn",
                        tr(
                            "ИНН {inn} КПП {kpp} is already partners[{first}]",
                            inn=inn,
                            kpp=kpp,
                            first=first,
                        )
                        if kpp
                        else tr("ИНН {inn} is already partners[{first}]", inn=inn, first=first),
                    )
                else:
                    seen[inn, kpp] = i
            if config is None:
                complete = False
                if len(self.r.problems) == before:  # pragma: no cover - a bug if reached
                    self.r.note(where, tr("cannot be read"))
                continue
            if service is not None and _same_account(config.partner, service):
                self.r.note(f"{where}.bank.account", tr("is the service's own account"))
            self.services_kept(config, where)
            for role, folder in (
                ("source.folder", config.source.folder),
                ("channel.folder", config.channel.folder),
            ):
                if folder is None:
                    continue
                for other, other_where, other_role in folders:
                    if _overlaps(folder, other):
                        clash = f"{other_where}.{other_role}"
                        self.r.note(
                            f"{where}.{role}",
                            tr(
                                "{folder} clashes with {key} ({other}): "
                                "inbox and outbox folders must be separate, none inside another",
                                folder=folder,
                                key=clash,
                                other=other,
                            ),
                        )
                        break
                folders.append((folder, where, role))
            out.append(config)
        return out if complete else None


def _inn_kpp(item: Mapping[str, Any]) -> tuple[str | None, str | None]:
    inn, kpp = item.get("inn"), item.get("kpp")
    if not isinstance(inn, str):
        return None, None
    return inn.strip(), kpp.strip() if isinstance(kpp, str) else None


def _same_account(partner: Partner, service: ServiceConfig) -> bool:
    bank = service.details.bank
    return partner.bank.account == bank.account and partner.bank.bik == bank.bik


def _list(names: Iterable[str]) -> str:
    return ", ".join(sorted(names)) or tr("none")


def _either(names: Iterable[str]) -> str:
    """``a or b or c``, in the reader's language."""
    shown: str | None = None
    for name in names:
        shown = name if shown is None else tr("{first} or {second}", first=shown, second=name)
    return shown or ""


def _both(names: Iterable[str]) -> str:
    """``a and b and c``, in the reader's language."""
    shown: str | None = None
    for name in names:
        shown = name if shown is None else tr("{first} and {second}", first=shown, second=name)
    return shown or ""


# -- entry points -------------------------------------------------------------------------


def parse_runner_config(
    text: str,
    *,
    path: Path | None = None,
    host: PluginHost | None = None,
    base: Path | None = None,
    env: Mapping[str, str] | None = None,
    data: Path | None = None,
) -> RunnerConfig:
    """Parse the text of a runner configuration; see :func:`load_runner_config`.

    ``base`` is the folder relative paths of the file are under (default: the file's
    folder, or the current one); ``env`` the environment secrets are read from (default
    ``os.environ``); ``data`` replaces ``service.data`` (the demo runs in a fresh folder).
    """
    try:
        doc = tomlfile.loads(text, str(path) if path is not None else "runner.toml")
    except tomlfile.TomlError as exc:
        reason = (
            tr("line {line}: {reason}", line=exc.line, reason=exc.reason)
            if exc.line
            else exc.reason
        )
        raise RunnerConfigError(path, [reason]) from None
    if base is None:
        base = path.parent if path is not None else Path.cwd()
    base = Path(os.path.abspath(base))
    r = _Reader()
    loader = _Loader(
        r, host if host is not None else get_host(), base, env if env is not None else os.environ
    )
    r.unknown(doc, _TOP_KEYS, "")
    version = r.get(doc, "version", "", _version, default=CONFIG_VERSION)
    if version is not None and version != CONFIG_VERSION:
        r.note(
            "version",
            tr(
                "this runner reads version {version}, not {value!r}",
                version=CONFIG_VERSION,
                value=version,
            ),
        )
    if data is not None:
        service_table = doc.get("service")
        if isinstance(service_table, dict):
            doc = {**doc, "service": {**service_table, "data": str(Path(os.path.abspath(data)))}}
    service = loader.service(doc)
    data_folder = service.data if service is not None else _data_guess(doc, base)
    store = loader.store(doc, data_folder)
    gateway = loader.gateway(doc)
    http = loader.http(doc, gateway.name if gateway is not None else None)
    daemon = loader.daemon(doc)
    cabinet = loader.cabinet(doc, data_folder)
    receipts = loader.receipts(doc)
    notifications = load_notifications(loader, doc, data_folder)
    autopay = load_autopay(loader, doc)
    partners = loader.partners(doc, data_folder, service)
    if r.problems:
        raise RunnerConfigError(path, r.problems)
    assert service is not None and store is not None and gateway is not None
    assert http is not None and partners is not None and daemon is not None
    assert receipts is not None and notifications is not None and autopay is not None
    return RunnerConfig(
        service,
        store,
        gateway,
        http,
        tuple(partners),
        path,
        daemon,
        cabinet,
        receipts,
        notifications,
        autopay,
    )


def _data_guess(doc: Mapping[str, Any], base: Path) -> Path | None:
    # When [service] has other problems the data folder is still used to check the rest.
    table = doc.get("service")
    value = table.get("data", "data") if isinstance(table, dict) else "data"
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return _resolve(base, value)
    except ValueError:  # [service] reports it
        return None


def load_runner_config(
    path: Path | str,
    host: PluginHost | None = None,
    *,
    env: Mapping[str, str] | None = None,
    data: Path | None = None,
) -> RunnerConfig:
    """Load the runner configuration file (UTF-8 TOML) at ``path``, strictly.

    ``host`` is the plugin host that names the installed formats, fee plans, gateways,
    billing sources and delivery channels (default: the process-wide one). Relative folders
    are under the file's folder (``service.data``) or the data folder (inbox, outbox,
    SQLite file). Nothing is created. Raises :class:`RunnerConfigError` listing every
    problem.
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise RunnerConfigError(path, [tr("cannot be read: {reason}", reason=reason)]) from None
    except UnicodeDecodeError as exc:
        raise RunnerConfigError(
            path,
            [tr("is not UTF-8 text: {reason} at byte {start}", reason=exc.reason, start=exc.start)],
        ) from None
    return parse_runner_config(text, path=path, host=host, env=env, data=data)
