"""``PARTNERS.toml``: the service's own bank details and every partner's, with fee terms.

The file is read strictly: an unknown key, a missing one, a wrong type, a bad ИНН or an
account that fails its control key is a problem, and every problem in the file is listed at
once in one :class:`PartnersFileError` (a :class:`~pes_sdk.errors.ConfigError`), each with
its key path::

    PARTNERS.toml: 2 problems:
      partners[1].bank.account: bank account 40702810000000000001 fails its control key …
      partners[2].fee.plan: unknown fee plan 'flat'; known: percent, subscription

Array indexes in key paths count from 0. TOML floats are read as exact decimals (never
binary floats), so ``rate = 0.0136`` means exactly 1.36%. The format is documented in
``docs/partners-toml.md``; the reference runner reads the same file.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from pes_sdk import identifiers, tomlfile
from pes_sdk.errors import ConfigError
from pes_sdk.i18n import join, tr, tr_n, verbatim
from pes_sdk.models.partners import BankDetails, FeeTerms, Partner
from pes_sdk.models.transfers import NAME_MAX, Party
from pes_sdk.money import amount as to_amount

__all__ = [
    "DEFAULT_TIME_ZONE",
    "FORMAT_VERSION",
    "PURPOSE_FIELDS",
    "PartnersFile",
    "PartnersFileError",
    "ServiceDetails",
    "load_partners",
    "parse_partner_table",
    "parse_partners",
    "parse_service_table",
]

#: The version of the file format this module reads (the top-level ``version`` key).
FORMAT_VERSION = 1

#: The service's time zone when ``service.time_zone`` is not given: a time without a zone
#: (in a registry, a bank file) is a wall time of the service's zone, never the host's.
DEFAULT_TIME_ZONE = "Europe/Moscow"

#: Placeholders a purpose template may use (see :mod:`pes_sdk.settlement_orders`).
PURPOSE_FIELDS = frozenset(
    {"registry_number", "registry_date", "day", "paid", "commission", "vat", "vat_rate", "fee"}
)

T = TypeVar("T")


class PartnersFileError(ConfigError):
    """A ``PARTNERS.toml`` with problems; ``problems`` lists each as ``key.path: message``."""

    def __init__(self, path: Path | None, problems: Iterable[str]) -> None:
        self.path = path
        self.problems = tuple(problems)
        where = str(path) if path is not None else "PARTNERS.toml"
        count = len(self.problems)
        head = tr_n("{where}: {n} problem:", "{where}: {n} problems:", count, where=where)
        super().__init__(join("\n  ", [head, *self.problems]))


@attrs.frozen
class ServiceDetails:
    """The service (платёжный агент) as the payer of every transfer.

    ``directbank_id`` is the customer id the bank gave the service for 1C DirectBank
    (the ``Sender/@id`` of a ``PayDocRu``); it defaults to the ИНН. ``purpose`` is an
    optional template of the purpose of payment (see ``docs/partners-toml.md``).
    ``time_zone`` is the zone of every time written or read without one
    (``service.time_zone``, default :data:`DEFAULT_TIME_ZONE`).
    """

    name: str
    inn: str
    bank: BankDetails
    kpp: str | None = None
    directbank_id: str = ""
    purpose: str | None = None
    time_zone: ZoneInfo = attrs.field(factory=lambda: ZoneInfo(DEFAULT_TIME_ZONE))

    @property
    def party(self) -> Party:
        """The service as the payer of a payment order."""
        return Party(self.name, self.inn, self.bank, self.kpp)


@attrs.frozen
class PartnersFile:
    """A loaded ``PARTNERS.toml``: the service and its partners, in file order."""

    service: ServiceDetails
    partners: tuple[Partner, ...]
    path: Path | None = None

    def find(self, inn: str, kpp: str | None = None) -> Partner | None:
        """The partner with this ИНН (and this КПП, when given), or None.

        Without a КПП the ИНН must be unambiguous: branches that share an ИНН are told
        apart by their КПП.
        """
        found = [p for p in self.partners if p.inn == inn]
        if kpp is not None:
            found = [p for p in found if p.kpp == kpp]
        return found[0] if len(found) == 1 else None

    def by_inn(self, inn: str) -> list[Partner]:
        """Every partner with this ИНН (branches share an ИНН and differ by КПП)."""
        return [p for p in self.partners if p.inn == inn]


class _Checker:
    """Reads typed values out of nested tables, noting every problem with its key path."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def note(self, key: str, message: str) -> None:
        self.problems.append(_keyed(key, message))

    def table(self, data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any] | None:
        value = data.get(key)
        path = f"{where}.{key}" if where else key
        if value is None:
            self.note(path, tr("missing (a table is required)"))
            return None
        if not isinstance(value, dict):
            self.note(path, tr("is a table, not {kind}", kind=_kind(value)))
            return None
        return value

    def unknown(self, data: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
        allowed = set(allowed)
        for key in data:
            if key not in allowed:
                path = f"{where}.{key}" if where else key
                self.note(
                    path,
                    tr("unknown key; allowed here: {allowed}", allowed=", ".join(sorted(allowed))),
                )

    def get(
        self,
        data: Mapping[str, Any],
        key: str,
        where: str,
        convert: Callable[[Any], T],
        *,
        required: bool = True,
        default: T | None = None,
    ) -> T | None:
        path = f"{where}.{key}" if where else key
        if key not in data:
            if required:
                self.note(path, tr("missing"))
            return default
        try:
            return convert(data[key])
        except (ValueError, TypeError, InvalidOperation) as exc:
            self.note(path, str(exc) or type(exc).__name__)
            return None


def _keyed(key: str, message: str) -> str:
    """``key: message``: the key path is data, the message is said in the language shown."""
    return verbatim("{key}: {message}", key=key, message=message)


def _kind(value: object) -> str:
    # Translators: a kind of TOML value, as in "is a table, not {kind}": Russian says
    # "должно быть таблицей, а не {kind}", so the instrumental case (целым числом).
    names = {
        str: tr("text"),
        int: tr("an integer"),
        bool: tr("a boolean"),
        dict: tr("a table"),
        list: tr("an array"),
    }
    return names.get(type(value), type(value).__name__)


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(tr("is text, not {kind}", kind=_kind(value)))
    return value


def _name(value: Any) -> str:
    text = _string(value).strip()
    if not text:
        raise ValueError(tr("is empty"))
    if len(text) > NAME_MAX:
        raise ValueError(_too_long(len(text), NAME_MAX))
    return text


def _digits_text(check: Callable[[str], str]) -> Callable[[Any], str]:
    # An ИНН written as a TOML integer would lose leading zeros (ИНН 0274…): text only.
    def convert(value: Any) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            raise TypeError(
                tr("is written as text in quotes, not as the number {value}", value=value)
            )
        return check(_string(value))

    return convert


def _rate(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise TypeError(tr('is a number such as 0.0136 or text such as "1.36%", not a boolean'))
    if isinstance(value, str):
        text = value.strip()
        try:
            rate = Decimal(text[:-1].strip()) / 100 if text.endswith("%") else Decimal(text)
        except ArithmeticError:  # "1e9999999%": an exponent no Decimal holds
            raise ValueError(
                tr("a rate is a fraction in [0, 1), not {value!r}", value=value)
            ) from None
    elif isinstance(value, int | Decimal):
        rate = Decimal(value)
    else:
        raise TypeError(
            tr(
                'is a number such as 0.0136 or text such as "1.36%", not {kind}',
                kind=_kind(value),
            )
        )
    if not rate.is_finite() or not Decimal(0) <= rate < Decimal(1):
        raise ValueError(tr("a rate is a fraction in [0, 1), not {value}", value=value))
    return rate


def _money(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise TypeError(tr("is an amount, not a boolean"))
    if isinstance(value, int | Decimal):
        return to_amount(Decimal(value))
    if isinstance(value, str):
        return to_amount(value)
    raise TypeError(tr("is an amount, not {kind}", kind=_kind(value)))


def _params(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise TypeError(tr("is a table of text values, not {kind}", kind=_kind(value)))
    out = {}
    for k, v in value.items():
        if isinstance(v, dict | list | bool):
            raise TypeError(
                tr("{key}: a parameter is text or a number, not {kind}", key=k, kind=_kind(v))
            )
        out[str(k)] = str(v)
    return out


def _purpose(value: Any) -> str:
    text = _string(value)
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
    except ValueError as exc:
        raise ValueError(tr("is not a valid template: {detail}", detail=str(exc))) from None
    unknown = fields - PURPOSE_FIELDS
    if unknown:
        raise ValueError(
            tr(
                "unknown placeholder(s) {unknown}; known: {known}",
                unknown=", ".join(sorted(unknown)),
                known=", ".join(sorted(PURPOSE_FIELDS)),
            )
        )
    if "НДС" not in text.upper():
        raise ValueError(tr("a purpose must state VAT (НДС)"))
    return text


def _too_long(length: int, limit: int) -> str:
    return tr("is {length} characters, at most {limit} allowed", length=length, limit=limit)


#: Longest bank city 1C DirectBank takes (``BankType/City``, maxLength 30).
CITY_MAX = 30


def _city(value: Any) -> str:
    text = _string(value).strip()
    if not text:
        raise ValueError(tr("is empty"))
    if len(text) > CITY_MAX:
        raise ValueError(_too_long(len(text), CITY_MAX))
    return text


_BANK_KEYS = ("bik", "account", "corr_account", "name", "city")


def _bank(c: _Checker, data: Mapping[str, Any], where: str) -> BankDetails | None:
    table = c.table(data, "bank", where)
    if table is None:
        return None
    path = f"{where}.bank" if where else "bank"
    c.unknown(table, _BANK_KEYS, path)
    bik = c.get(table, "bik", path, _digits_text(identifiers.check_bik))
    account = c.get(table, "account", path, _string)
    corr = c.get(table, "corr_account", path, _string, required=False, default="")
    # A bank file needs the bank's name and city (ПлательщикБанк1/Банк2, Bank/Name/City):
    # a missing one is a problem here, not a file the bank refuses later.
    bank_name = c.get(table, "name", path, _name)
    city = c.get(table, "city", path, _city)
    # Each account is checked on its own so that both problems are listed, not the first.
    if account is not None and bik is not None:
        c.get(
            {"account": account}, "account", path, lambda a: identifiers.check_bank_account(a, bik)
        )
    if corr and bik is not None:
        c.get(
            {"corr_account": corr},
            "corr_account",
            path,
            lambda a: identifiers.check_corr_account(a, bik),
        )
    if bik is None or account is None or corr is None or bank_name is None or city is None:
        return None
    try:
        return BankDetails(bik, account, corr, bank_name, city)
    except ValueError:
        return None  # already noted above


def _legal_kpp(c: _Checker, table: Mapping[str, Any], where: str, inn: str | None) -> None:
    """A legal entity (10-digit ИНН) needs its КПП: ГИС ЖКХ's full form and banks ask for it."""
    if inn is not None and len(inn) == 10 and "kpp" not in table:
        c.note(
            f"{where}.kpp",
            tr(
                "missing: a legal entity (10-digit ИНН) has a КПП, which ГИС ЖКХ notifications "
                "and payment orders need"
            ),
        )


def _zone(value: Any) -> ZoneInfo:
    name = _string(value).strip()
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            tr(
                "unknown time zone {name!r} (an IANA name such as {example})",
                name=name,
                example=DEFAULT_TIME_ZONE,
            )
        ) from None


_SERVICE_KEYS = ("name", "inn", "kpp", "bank", "directbank_id", "purpose", "time_zone")


def _service(
    c: _Checker,
    data: Mapping[str, Any],
    extra_keys: Iterable[str] = (),
    default_time_zone: str = DEFAULT_TIME_ZONE,
) -> ServiceDetails | None:
    table = c.table(data, "service", "")
    if table is None:
        return None
    c.unknown(table, (*_SERVICE_KEYS, *extra_keys), "service")
    name = c.get(table, "name", "service", _name)
    inn = c.get(table, "inn", "service", _digits_text(identifiers.check_inn))
    kpp = c.get(table, "kpp", "service", _digits_text(identifiers.check_kpp), required=False)
    _legal_kpp(c, table, "service", inn)
    directbank_id = c.get(table, "directbank_id", "service", _name, required=False)
    purpose = c.get(table, "purpose", "service", _purpose, required=False)
    zone = c.get(
        table, "time_zone", "service", _zone, required=False, default=ZoneInfo(default_time_zone)
    )
    bank = _bank(c, table, "service")
    if name is None or inn is None or bank is None or zone is None:
        return None
    return ServiceDetails(name, inn, bank, kpp, directbank_id or inn, purpose, zone)


_PARTNER_KEYS = ("inn", "kpp", "name", "bank", "fee")
_FEE_KEYS = ("plan", "rate", "monthly_fee", "params")


def _fee(
    c: _Checker, data: Mapping[str, Any], where: str, plans: frozenset[str] | None
) -> FeeTerms | None:
    if "fee" not in data:
        return FeeTerms()
    table = c.table(data, "fee", where)
    if table is None:
        return None
    path = f"{where}.fee"
    c.unknown(table, _FEE_KEYS, path)
    defaults = FeeTerms()

    def plan_name(value: Any) -> str:
        name = _string(value)
        if plans is not None and name not in plans:
            raise ValueError(
                tr(
                    "unknown fee plan {name!r}; known: {known}",
                    name=name,
                    known=", ".join(sorted(plans)),
                )
            )
        return name

    plan = c.get(table, "plan", path, plan_name, required=False, default=defaults.plan)
    rate = c.get(table, "rate", path, _rate, required=False, default=defaults.rate)
    monthly = c.get(
        table, "monthly_fee", path, _money, required=False, default=defaults.monthly_fee
    )
    no_params: dict[str, str] = {}
    params = c.get(table, "params", path, _params, required=False, default=no_params)
    if plan is None or rate is None or monthly is None or params is None:
        return None
    try:
        return FeeTerms(plan, rate, monthly, params)
    except (ValueError, TypeError) as exc:
        c.note(f"{path}.rate", str(exc))
        return None


def _partners(
    c: _Checker, data: Mapping[str, Any], plans: frozenset[str] | None
) -> list[tuple[int, Partner]]:
    raw = data.get("partners", [])
    if not isinstance(raw, list):
        c.note("partners", tr("is an array of tables ([[partners]]), not {kind}", kind=_kind(raw)))
        return []
    out: list[tuple[int, Partner]] = []
    seen: dict[tuple[str, str | None], int] = {}
    for i, item in enumerate(raw):
        where = f"partners[{i}]"
        if not isinstance(item, dict):
            c.note(where, tr("is a table, not {kind}", kind=_kind(item)))
            continue
        inn, kpp, partner = _partner(c, item, where, plans)
        if inn is not None:
            key = (inn, kpp)
            if key in seen:
                c.note(
                    f"{where}.inn",
                    tr(
                        "ИНН {inn} КПП {kpp} is already partners[{index}]",
                        inn=inn,
                        kpp=kpp,
                        index=seen[key],
                    )
                    if kpp
                    else tr("ИНН {inn} is already partners[{index}]", inn=inn, index=seen[key]),
                )
            else:
                seen[key] = i
        if partner is not None:
            out.append((i, partner))
    return out


def _partner(
    c: _Checker,
    item: Mapping[str, Any],
    where: str,
    plans: frozenset[str] | None,
    extra_keys: Iterable[str] = (),
) -> tuple[str | None, str | None, Partner | None]:
    """One partner table: its ИНН and КПП as read (for duplicate checks), and the partner."""
    c.unknown(item, (*_PARTNER_KEYS, *extra_keys), where)
    inn = c.get(item, "inn", where, _digits_text(identifiers.check_inn))
    kpp = c.get(item, "kpp", where, _digits_text(identifiers.check_kpp), required=False)
    _legal_kpp(c, item, where, inn)
    name = c.get(item, "name", where, _name)
    bank = _bank(c, item, where)
    fee = _fee(c, item, where, plans)
    if inn is None or name is None or bank is None or fee is None:
        return inn, kpp, None
    return inn, kpp, Partner(inn=inn, name=name, bank=bank, kpp=kpp, fee=fee)


def parse_service_table(
    data: Mapping[str, Any],
    problems: list[str],
    *,
    extra_keys: Iterable[str] = (),
    default_time_zone: str = DEFAULT_TIME_ZONE,
) -> ServiceDetails | None:
    """Read the ``service`` table of a parsed TOML document, as ``PARTNERS.toml`` has it.

    For files that embed the same section (the reference runner's configuration): every
    problem is appended to ``problems`` as ``service.key: message``, and None is returned
    when the section cannot be built. ``extra_keys`` are keys the caller reads itself from
    the same table, so they are not reported as unknown; ``default_time_zone`` is the zone
    when ``time_zone`` is not given.
    """
    c = _Checker()
    c.problems = problems
    return _service(c, data, extra_keys, default_time_zone)


def parse_partner_table(
    item: Mapping[str, Any],
    where: str,
    problems: list[str],
    *,
    plans: Iterable[str] | None = None,
    extra_keys: Iterable[str] = (),
) -> Partner | None:
    """Read one partner table (``inn``, ``kpp``, ``name``, ``bank``, ``fee``).

    ``where`` is its key path (``partners[2]``); problems are appended to ``problems``.
    ``plans`` and ``extra_keys`` as in :func:`parse_service_table` and
    :func:`parse_partners`. Duplicate ИНН/КПП across partners is the caller's check.
    """
    c = _Checker()
    c.problems = problems
    known = frozenset(plans) if plans is not None else None
    return _partner(c, item, where, known, extra_keys)[2]


def parse_partners(
    text: str, *, path: Path | None = None, plans: Iterable[str] | None = None
) -> PartnersFile:
    """Parse the text of a ``PARTNERS.toml``.

    ``plans`` names the fee plans that exist (e.g. ``get_host().fee_plans()``); when given,
    a partner whose plan is not among them is a problem. Raises :class:`PartnersFileError`
    listing every problem.
    """
    try:
        data = tomlfile.loads(text, str(path) if path is not None else "PARTNERS.toml")
    except tomlfile.TomlError as exc:
        reason = exc.reason
        if exc.line:
            reason = tr("line {line}: {message}", line=exc.line, message=reason)
        raise PartnersFileError(path, [reason]) from None
    c = _Checker()
    c.unknown(data, ("version", "service", "partners"), "")
    version = c.get(data, "version", "", lambda v: v, required=False, default=FORMAT_VERSION)
    if version is not None and version != FORMAT_VERSION:
        c.note(
            "version",
            tr(
                "this pes-sdk reads version {expected}, not {version!r}",
                expected=FORMAT_VERSION,
                version=version,
            ),
        )
    known = frozenset(plans) if plans is not None else None
    service = _service(c, data)
    partners = _partners(c, data, known)
    if service is not None:
        for i, p in partners:
            if p.bank.account == service.bank.account and p.bank.bik == service.bank.bik:
                c.note(f"partners[{i}].bank.account", tr("is the service's own account"))
    if c.problems or service is None:
        raise PartnersFileError(path, c.problems or [_keyed("service", tr("missing"))])
    return PartnersFile(service, tuple(p for _, p in partners), path)


def load_partners(path: Path | str, *, plans: Iterable[str] | None = None) -> PartnersFile:
    """Load a ``PARTNERS.toml`` file (UTF-8); see :func:`parse_partners`."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise PartnersFileError(
            path, [tr("cannot be read: {detail}", detail=str(exc.strerror or exc))]
        ) from None
    except UnicodeDecodeError as exc:
        raise PartnersFileError(
            path,
            [tr("is not UTF-8 text: {reason} at byte {start}", reason=exc.reason, start=exc.start)],
        ) from None
    return parse_partners(text, path=path, plans=plans)
