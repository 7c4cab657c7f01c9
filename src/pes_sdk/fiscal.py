"""Cloud fiscal registers (облачная касса, 54-ФЗ): the contract a receipt plugin fulfils.

A paid basket gets its receipt (:class:`~pes_sdk.models.receipts.Receipt`) registered on a
cash register (ККТ) with a fiscal drive (ФН). Acquirers that fiscalise take the receipt
with the payment (ЮKassa, T-Bank, Sber: see ``docs/gateways.md``); for one that does not, a
cloud register does it: a plugin of the ``pes_fiscal_registers`` hook (``pes-sdk-atol``:
АТОЛ Онлайн v5). The protocol is asynchronous everywhere: a receipt is *accepted* under the
caller's idempotency key (``external_id``) and answered with the register's id of the
document; the fiscal attributes come later, from a report asked by that id.

* :class:`FiscalRegister`: ``register(receipt, external_id) -> uuid`` (приход),
  ``refund(receipt, external_id) -> uuid`` (возврат прихода), ``report(uuid)`` →
  :class:`FiscalAttributes` once registered, None while waiting.
* :class:`FiscalRegisterFactory`: what the hook returns; builds a register from settings.
* :class:`FiscalAttributes`: ФН, ФД, ФП, shift and receipt numbers, the time, the total
  and the check URL: what is stored with the payment and printed on the client's receipt.
* Errors, under :class:`~pes_sdk.errors.PesError`: :class:`FiscalUnavailable` (try again
  later with the same ``external_id``), :class:`ReceiptRefused` (the register refuses the
  receipt as sent, naming the field: fix it), :class:`ReceiptFailed` (accepted, then not
  registered: the report says why).

**One receipt per key.** Sending the same ``external_id`` again never registers a second
receipt: the register answers the document it already has (the caller stores the uuid
and asks its report). That is what makes a retry after a lost answer safe.

Nothing here touches the network or imports an HTTP client: the plugin host loads this
module with every plugin.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

import attrs

from pes_sdk.errors import PesError
from pes_sdk.models.receipts import Receipt
from pes_sdk.money import amount as to_amount

__all__ = [
    "FiscalAttributes",
    "FiscalError",
    "FiscalRegister",
    "FiscalRegisterFactory",
    "FiscalUnavailable",
    "ReceiptFailed",
    "ReceiptRefused",
]


def _aware(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, dt.datetime) or value.utcoffset() is None:
        raise ValueError(f"{attribute.name} must be a datetime with a time zone")


def _digits(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or not value.isascii() or not value.isdigit():
        raise ValueError(f"{attribute.name} is a string of digits, not {value!r}")


def _positive(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{attribute.name} is a whole number from 0, not {value!r}")


def _check_url(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    parts = urllib.parse.urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{attribute.name} is an http(s) URL, not {value!r}")


@attrs.frozen
class FiscalAttributes:
    """The fiscal attributes (фискальные реквизиты) of one registered receipt.

    * ``fn``: the fiscal drive's number (номер ФН, tag 1041), 16 digits;
    * ``fd``: the fiscal document's number (номер ФД, tag 1040);
    * ``fp``: the fiscal sign (фискальный признак, ФП/ФПД, tag 1077), up to 10 digits;
    * ``shift``: the shift's number (номер смены, tag 1038);
    * ``receipt_number``: the receipt's number within the shift (номер чека за смену, tag
      1042);
    * ``registered_at``: when the register printed it (tag 1012), with its time zone;
    * ``total``: the receipt's total in roubles, to the kopeck;
    * ``kkt_registration_number``: the register's number at the tax service (регистрационный
      номер ККТ, tag 1037);
    * ``check_url``: the page at the fiscal data operator (ОФД) that shows the receipt,
      when the register gives one; ``fns_site``: the tax service's site printed on it.

    Together, ``fn``, ``fd`` and ``fp`` identify the receipt at the tax service: the
    buyer checks it with them (the QR code's ``fn``, ``i`` and ``fp``).
    """

    fn: str = attrs.field(validator=_digits)
    fd: int = attrs.field(validator=_positive)
    fp: int = attrs.field(validator=_positive)
    shift: int = attrs.field(validator=_positive)
    receipt_number: int = attrs.field(validator=_positive)
    registered_at: dt.datetime = attrs.field(validator=_aware)
    total: Decimal = attrs.field(converter=to_amount)
    kkt_registration_number: str = attrs.field(default="", kw_only=True)
    check_url: str | None = attrs.field(default=None, validator=_check_url, kw_only=True)
    fns_site: str = attrs.field(default="", kw_only=True)


class FiscalError(PesError):
    """Registering a receipt went wrong. ``register`` names the register (``atol``),
    ``code`` is the register's own code for the failure when it gave one (ATOL's error
    code: ``"33"``). Messages never carry the buyer's contact, a token or a password."""

    def __init__(self, message: str, *, register: str = "", code: str = "") -> None:
        self.message = message
        self.register = register
        self.code = code
        super().__init__(f"{register}: {message}" if register else message)


class FiscalUnavailable(FiscalError):
    """The register could not be reached, timed out, failed (5xx) or cannot say yet: the
    same call may be made again later, with the same ``external_id``. Whether a receipt
    sent without an answer was accepted is unknown until then; the second send with the
    same key answers the receipt it has, never a second one."""


class ReceiptRefused(FiscalError):
    """The register refuses the receipt as sent (a missing or wrong field, sums that do not
    agree, a refused login): nothing was registered. ``field`` names the field in the
    register's terms (``receipt.items[0].supplier_info.inn``) when it is known; resending
    the same receipt cannot help."""

    def __init__(
        self, message: str, *, register: str = "", code: str = "", field: str = ""
    ) -> None:
        self.field = field
        super().__init__(message, register=register, code=code)


class ReceiptFailed(FiscalError):
    """The register accepted the receipt, then could not register it (its report's status
    is a failure: a queue timeout, a register error). The receipt has no fiscal attributes;
    it is sent again under a **new** ``external_id`` once the cause is gone."""


@runtime_checkable
class FiscalRegister(Protocol):
    """One configured cloud register: a provider's protocol, its settings and credentials.

    Every call gives up after the register's timeout with :class:`FiscalUnavailable`;
    a call is repeated only where the protocol makes it harmless (a report, a token).
    """

    @property
    def name(self) -> str:
        """The register's name, as its factory is registered (``atol``)."""
        ...

    def register(self, receipt: Receipt, external_id: str) -> str:
        """Send ``receipt`` as a sale (приход) under the key ``external_id``; the register's
        id of the document (uuid). The same key again answers the same document: never a
        second receipt. :class:`ReceiptRefused`, :class:`FiscalUnavailable`."""
        ...

    def refund(self, receipt: Receipt, external_id: str) -> str:
        """Send ``receipt`` as a refund of a sale (возврат прихода), as :meth:`register`."""
        ...

    def report(self, uuid: str) -> FiscalAttributes | None:
        """The fiscal attributes of document ``uuid``; None while the register has not
        registered it yet. :class:`ReceiptFailed` when it could not,
        :class:`FiscalUnavailable` when it cannot say now."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


@runtime_checkable
class FiscalRegisterFactory(Protocol):
    """What the ``pes_fiscal_registers`` hook returns: builds registers from settings."""

    @property
    def name(self) -> str:
        """The register's name, unique across plugins."""
        ...

    @property
    def description(self) -> str:
        """One line for listings."""
        ...

    def create(self, settings: Mapping[str, str]) -> FiscalRegister:
        """A register configured by ``settings`` (strings, as a configuration file gives
        them); :class:`~pes_sdk.errors.ConfigError` naming a missing or wrong one. Touches
        no network."""
        ...
