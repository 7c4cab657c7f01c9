"""Settings of the adapter, in code (:class:`GisConfig`) or in ``GIS.toml``.

The official format package (ГИС ЖКХ "форматы", version 16.3.0.0) is never copied into the
project: its folder is configuration (``format_package`` in ``GIS.toml``, or the
environment variable ``PES_GIS_FORMAT_PACKAGE``). Relative paths in ``GIS.toml`` are
relative to the file itself. The format of the file is documented in ``docs/gis-zhkh.md``.
"""

from __future__ import annotations

import enum
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from pes_sdk_gis_zhkh.errors import GisConfigError
from pes_sdk_gis_zhkh.models import ONLINE_CHANNELS

__all__ = [
    "FORMAT_PACKAGE_ENV",
    "GisConfig",
    "MunicipalResource",
    "NotificationForm",
    "SignerSettings",
    "check_format_package",
    "load_config",
]

FORMAT_PACKAGE_ENV = "PES_GIS_FORMAT_PACKAGE"
#: Files of the format package the adapter reads, relative to its folder.
PAYMENT_WSDL = "payment/hcs-payment-service-async.wsdl"
METERING_WSDL = "device-metering/hcs-device-metering-service-async.wsdl"
PAYMENT_XSD = "payment/hcs-payment-types.xsd"
METERING_XSD = "device-metering/hcs-device-metering-types.xsd"
BASE_XSD = "lib/hcs-base.xsd"
_REQUIRED = (PAYMENT_WSDL, METERING_WSDL, PAYMENT_XSD, METERING_XSD, BASE_XSD)

_GUID = re.compile(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")

#: Request limits of format 16.3.0.0 (``maxOccurs`` in the schemas).
MAX_NOTIFICATIONS = 500
MAX_READINGS = 1000


class NotificationForm(enum.StrEnum):
    """Which form of ``importNotificationsOfOrderExecution`` to send."""

    FULL = "full"  #: NotificationOfOrderExecutionType: recipient, bank details, account
    SHORT = "short"  #: NotificationOfOrderExecution139Type (п. 139): ИЖКУ or ИПД with GUID


def check_format_package(path: Path | str | None) -> Path:
    """The format package folder: ``path``, else ``$PES_GIS_FORMAT_PACKAGE``; checked.

    Raises :class:`GisConfigError` naming the missing file when it is not a 16.3 package.
    """
    if path is None or str(path) == "":
        env = os.environ.get(FORMAT_PACKAGE_ENV, "")
        if not env:
            raise GisConfigError(
                f"no ГИС ЖКХ format package: set format_package in GIS.toml or {FORMAT_PACKAGE_ENV}"
            )
        path = env
    folder = Path(path).expanduser().resolve()
    for rel in _REQUIRED:
        if not (folder / rel).is_file():
            raise GisConfigError(f"{folder}: not a ГИС ЖКХ format package: {rel} is missing")
    return folder


def _guid(value: str) -> str:
    if not _GUID.fullmatch(value):
        raise GisConfigError(f"not a GUID: {value!r}")
    return value.lower()


def _positive(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if isinstance(value, bool) or not value > 0:
        raise GisConfigError(f"{attribute.name} must be a positive number, not {value!r}")


@attrs.frozen
class MunicipalResource:
    """A reference to НСИ-2 (вид коммунального ресурса): code and GUID, as ГИС ЖКХ lists them.

    The GUIDs are published in ГИС ЖКХ's НСИ and differ between the test and production
    stands, so they are configuration *(unverified defaults: none are shipped)*.
    """

    code: str
    guid: str = attrs.field(converter=_guid)


@attrs.frozen
class SignerSettings:
    """Which :class:`~pes_sdk_gis_zhkh.signing.Signer` to use.

    ``kind`` is ``"none"`` (unsigned: test stands only), ``"test-hmac"`` (the NOT-GOST test
    signer, key read from the environment variable ``key_env``) or ``"external"``
    (``factory = "package.module:callable"`` returning a Signer, e.g. a CryptoPro bridge).
    """

    kind: str = "none"
    key_env: str = "PES_GIS_TEST_SIGNER_KEY"
    factory: str = ""

    def __attrs_post_init__(self) -> None:
        if self.kind not in {"none", "test-hmac", "external"}:
            raise GisConfigError(f"signer.kind: unknown signer {self.kind!r}")
        if self.kind == "external" and ":" not in self.factory:
            raise GisConfigError("signer.factory must be 'module:callable' for kind = external")


@attrs.frozen(kw_only=True)
class GisConfig:
    """Everything the client needs; build it in code or with :func:`load_config`.

    Timeouts are seconds. ``timeout`` bounds loading a document over HTTP (never used for the
    local WSDL, kept because zeep's transport needs it), ``operation_timeout`` bounds each
    SOAP call: both are always set. Retries happen only on transient faults (connection
    errors, timeouts, HTTP 5xx, SOAP faults whose code is in ``transient_fault_codes``),
    ``retry_attempts`` times at most, with jittered exponential backoff from
    ``retry_initial`` up to ``retry_max``.
    """

    payment_endpoint: str
    metering_endpoint: str = ""
    format_package: Path = attrs.field(converter=check_format_package)
    #: orgPPAGUID of the payment agent in ГИС ЖКХ (the RequestHeader's sender)
    org_ppa_guid: str = attrs.field(converter=_guid)
    form: NotificationForm = attrs.field(default=NotificationForm.FULL, converter=NotificationForm)
    batch_size: int = MAX_NOTIFICATIONS
    readings_batch_size: int = MAX_READINGS
    timeout: float = attrs.field(default=10.0, validator=_positive)
    operation_timeout: float = attrs.field(default=30.0, validator=_positive)
    retry_attempts: int = 5
    retry_initial: float = attrs.field(default=0.5, validator=_positive)
    retry_max: float = attrs.field(default=8.0, validator=_positive)
    poll_initial: float = attrs.field(default=1.0, validator=_positive)
    poll_max: float = attrs.field(default=30.0, validator=_positive)
    poll_deadline: float = attrs.field(default=600.0, validator=_positive)
    #: SOAP fault codes worth retrying (ГИС ЖКХ "temporarily unavailable" codes) *(unverified)*
    transient_fault_codes: frozenset[str] = attrs.field(
        default=frozenset({"EXP001000"}), converter=frozenset
    )
    #: per-item error codes meaning "this OrderID is already known" *(unverified)*
    duplicate_order_codes: frozenset[str] = attrs.field(
        default=frozenset({"SRV008007"}), converter=frozenset
    )
    signer: SignerSettings = attrs.field(factory=SignerSettings)
    #: PARTNERS.toml with the recipients' bank details (the full form needs them)
    partners_file: Path | None = None
    #: meter type name (``MeterType`` member, e.g. ``COLD_WATER``) → НСИ-2 reference
    resources: Mapping[str, MunicipalResource] = attrs.field(factory=dict, hash=False)
    #: meter number → MeteringDeviceRootGUID in ГИС ЖКХ
    devices: Mapping[str, str] = attrs.field(factory=dict, hash=False)
    #: payment channels (``PaymentRecord.channel``, any case) reported as online payments
    online_channels: frozenset[str] = attrs.field(default=ONLINE_CHANNELS, converter=frozenset)

    def __attrs_post_init__(self) -> None:
        if not 1 <= self.batch_size <= MAX_NOTIFICATIONS:
            raise GisConfigError(
                f"batch_size must be 1..{MAX_NOTIFICATIONS}, not {self.batch_size}"
            )
        if not 1 <= self.readings_batch_size <= MAX_READINGS:
            raise GisConfigError(f"readings_batch_size must be 1..{MAX_READINGS}")
        if self.retry_attempts < 1:
            raise GisConfigError("retry.attempts must be at least 1")
        for name, url in (("payment_endpoint", self.payment_endpoint),):
            if not url.startswith(("http://", "https://")):
                raise GisConfigError(f"{name} must be an http(s) URL, not {url!r}")


_TOP = {
    "online_channels",
    "payment_endpoint",
    "metering_endpoint",
    "format_package",
    "org_ppa_guid",
    "form",
    "batch_size",
    "readings_batch_size",
    "partners_file",
    "timeouts",
    "retry",
    "poll",
    "faults",
    "signer",
    "resources",
    "devices",
}


def _table(data: Mapping[str, Any], key: str, allowed: set[str]) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise GisConfigError(f"gis.{key} must be a table")
    unknown = set(value) - allowed
    if unknown:
        raise GisConfigError(f"gis.{key}: unknown key(s) {', '.join(sorted(unknown))}")
    return value


def _path(base: Path, value: Any, key: str) -> Path:
    if not isinstance(value, str) or not value:
        raise GisConfigError(f"gis.{key} must be a path (text)")
    p = Path(value).expanduser()
    return p if p.is_absolute() else (base / p)


def load_config(path: Path | str, **overrides: Any) -> GisConfig:
    """Read ``GIS.toml`` (table ``[gis]``); ``overrides`` replace top-level fields.

    ``format_package`` may be left out of the file when ``PES_GIS_FORMAT_PACKAGE`` is set.
    Raises :class:`GisConfigError` naming the file and the key on any problem.
    """
    src = Path(path)
    try:
        data = tomllib.loads(src.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GisConfigError(f"{src}: cannot read: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise GisConfigError(f"{src}: not valid TOML: {exc}") from exc
    try:
        return _build(src, data, overrides)
    except GisConfigError as exc:
        if str(exc).startswith(str(src)):
            raise
        raise GisConfigError(f"{src}: {exc}") from exc
    except (TypeError, ValueError) as exc:
        raise GisConfigError(f"{src}: {exc}") from exc


def _build(src: Path, data: Mapping[str, Any], overrides: Mapping[str, Any]) -> GisConfig:
    gis = data.get("gis")
    if not isinstance(gis, dict):
        raise GisConfigError("a [gis] table is required")
    unknown = set(gis) - _TOP
    if unknown:
        raise GisConfigError(f"gis: unknown key(s) {', '.join(sorted(unknown))}")
    base = src.resolve().parent
    kw: dict[str, Any] = {}
    for key in ("payment_endpoint", "metering_endpoint", "org_ppa_guid", "form"):
        if key in gis:
            if not isinstance(gis[key], str):
                raise GisConfigError(f"gis.{key} must be text")
            kw[key] = gis[key]
    for key in ("batch_size", "readings_batch_size"):
        if key in gis:
            if not isinstance(gis[key], int) or isinstance(gis[key], bool):
                raise GisConfigError(f"gis.{key} must be an integer")
            kw[key] = gis[key]
    if "online_channels" in gis:
        channels = gis["online_channels"]
        if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
            raise GisConfigError("gis.online_channels must be an array of text")
        kw["online_channels"] = channels
    if "format_package" in gis:
        kw["format_package"] = _path(base, gis["format_package"], "format_package")
    else:
        kw["format_package"] = None
    if "partners_file" in gis:
        kw["partners_file"] = _path(base, gis["partners_file"], "partners_file")
    t = _table(gis, "timeouts", {"timeout", "operation_timeout"})
    r = _table(gis, "retry", {"attempts", "initial", "max_interval"})
    p = _table(gis, "poll", {"initial", "max_interval", "deadline"})
    f = _table(gis, "faults", {"transient", "duplicate_order"})
    names = {
        "timeout": t.get("timeout"),
        "operation_timeout": t.get("operation_timeout"),
        "retry_attempts": r.get("attempts"),
        "retry_initial": r.get("initial"),
        "retry_max": r.get("max_interval"),
        "poll_initial": p.get("initial"),
        "poll_max": p.get("max_interval"),
        "poll_deadline": p.get("deadline"),
        "transient_fault_codes": f.get("transient"),
        "duplicate_order_codes": f.get("duplicate_order"),
    }
    kw.update({k: v for k, v in names.items() if v is not None})
    s = _table(gis, "signer", {"kind", "key_env", "factory"})
    kw["signer"] = SignerSettings(**s)
    res = _table(gis, "resources", set(_meter_type_names()))
    kw["resources"] = {
        name: MunicipalResource(code=str(v["code"]), guid=str(v["guid"])) for name, v in res.items()
    }
    dev = gis.get("devices", {})
    if not isinstance(dev, dict):
        raise GisConfigError("gis.devices must be a table: meter number = device GUID")
    kw["devices"] = {str(k): _guid(str(v)) for k, v in dev.items()}
    kw.update(overrides)
    try:
        return GisConfig(**kw)
    except TypeError as exc:
        raise GisConfigError(f"gis: {exc}") from exc


def _meter_type_names() -> list[str]:
    from pes_sdk.models.readings import MeterType

    return [m.name for m in MeterType]
