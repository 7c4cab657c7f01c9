"""The errors of billing sources and delivery channels, under :class:`pes_sdk.errors.PesError`.

Which error a call raises tells the caller what it may do next:

* :class:`BillingUnavailable` (a 5xx answer, a refused or broken connection, or the
  partner's own "temporarily unavailable" fault) and :class:`BillingTimeout` (no answer in
  time): the request may or may not have been carried out. Only an **idempotent** call may
  be repeated: reading a debt registry, or delivering a payment registry (idempotent by
  partner + registry number). These two are :data:`RETRYABLE`.
* :class:`BillingFault`: the partner answered with a fault that is not transient (unknown
  partner, no registry for the period, a request its schema refuses). Retrying cannot help.
  :class:`RegistryConflict` is the fault for a registry number already accepted with other
  content.
* :class:`BillingProtocolError`: the partner's answer breaks the protocol: malformed XML, a
  record that is not valid, pages that repeat or lose records (:class:`PagingError`), or
  records that do not add up to the registry's control totals
  (:class:`ControlTotalsMismatch`). Nothing of such an answer is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Self

from pes_sdk.errors import Issue, PesError

if TYPE_CHECKING:
    from pes_sdk.billing.models import DeliveryReceipt

__all__ = [
    "RETRYABLE",
    "BillingError",
    "BillingFault",
    "BillingProtocolError",
    "BillingTimeout",
    "BillingUnavailable",
    "ControlTotalsMismatch",
    "PagingError",
    "RecordsRefused",
    "RegistryConflict",
]


class BillingError(PesError):
    """Something about a partner's billing endpoint went wrong.

    ``endpoint`` names the source or channel (its name, or the endpoint's address without
    credentials) when known.
    """

    def __init__(self, message: str, *, endpoint: str = "") -> None:
        self.message = message
        self.endpoint = endpoint
        #: the partner (ИНН) the failed call was for, once :meth:`naming_partner` set it
        self.partner = ""
        super().__init__(f"{endpoint}: {message}" if endpoint else message)

    def naming_partner(self, inn: str, operation: str = "") -> Self:
        """This error, its message naming the partner the call was for, and the operation
        when the message does not name it yet (once)."""
        if not self.partner:
            self.partner = inn
            if operation and not self.message.startswith(operation):
                self.message = f"{operation}: {self.message}"
            self.message = f"partner {inn}: {self.message}"
            self.args = (f"{self.endpoint}: {self.message}" if self.endpoint else self.message,)
        return self


class BillingUnavailable(BillingError):
    """5xx, a refused or broken connection, or a transient fault: an idempotent call may retry.

    ``status`` is the HTTP status when there was one.
    """

    def __init__(self, message: str, *, endpoint: str = "", status: int | None = None) -> None:
        self.status = status
        super().__init__(message, endpoint=endpoint)


class BillingTimeout(BillingError):
    """No answer within the timeout: the request may have been carried out."""


class BillingFault(BillingError):
    """The partner refused the request with a fault that retrying cannot cure.

    ``code`` is the fault's machine-readable code (e.g. ``UNKNOWN_PARTNER``,
    ``NO_REGISTRY``, ``INVALID_REQUEST``), ``""`` when the partner gave none.
    """

    def __init__(self, message: str, *, endpoint: str = "", code: str = "") -> None:
        self.code = code
        super().__init__(f"{code}: {message}" if code else message, endpoint=endpoint)


class RegistryConflict(BillingFault):
    """The partner already holds this registry number with other content: refused.

    The registry that was delivered first stands; send corrections under a new number.
    """


class RecordsRefused(BillingFault):
    """The partner took a payment registry record by record and refused some of them.

    ``receipt`` is what the delivery did: its ``records`` say, per record, what was accepted
    (now or before) and what was refused with the partner's code and reason
    (``receipt.refused``). The accepted records stand; delivering the same registry again
    reports none of them twice, and cannot cure the refused ones: correct those and send
    them in a new registry. ``code`` is ``RECORDS_REFUSED``.
    """

    def __init__(self, message: str, *, receipt: DeliveryReceipt, endpoint: str = "") -> None:
        self.receipt = receipt
        super().__init__(message, endpoint=endpoint, code="RECORDS_REFUSED")


class BillingProtocolError(BillingError):
    """The partner's answer breaks the protocol; ``issues`` say where, when known."""

    def __init__(self, message: str, *, endpoint: str = "", issues: Sequence[Issue] = ()) -> None:
        self.issues = tuple(issues)
        super().__init__(message, endpoint=endpoint)


class PagingError(BillingProtocolError):
    """Pages of one registry repeat or lose records, loop, or change registry midway."""


class ControlTotalsMismatch(BillingProtocolError):
    """The records fetched do not add up to the registry's declared control totals."""


#: The errors after which an idempotent call may be repeated.
RETRYABLE: tuple[type[BillingError], ...] = (BillingUnavailable, BillingTimeout)
