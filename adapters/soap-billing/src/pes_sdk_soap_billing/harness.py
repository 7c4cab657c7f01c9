"""The SOAP billing adapter wired to the reference server: the conformance suite's harness.

Also what a partner can use to try its own copy of the server: give :class:`SoapHarness`
a store, or point a :class:`~pes_sdk_soap_billing.client.SoapBillingClient` at its URL.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from pes_sdk.billing.retry import BillingRetry
from pes_sdk.models.debts import DebtRecord
from pes_sdk.period import Period
from pes_sdk_soap_billing.client import SoapBillingClient
from pes_sdk_soap_billing.server import ReferenceServer

__all__ = ["SoapHarness"]

_OPERATIONS = {
    "debts": "GetDebtRegistry",
    "payments": "SubmitPaymentRegistry",
    "readings": "SubmitMeterReadings",
}
_FAULTS = {
    "unavailable": "unavailable",
    "transient-fault": "temporary-fault",
    "lost-answer": "lost-answer",
    "timeout": "slow",
}


class SoapHarness:
    """A reference server on loopback and a client for it with quick, bounded retries.

    The client's ``operation_timeout`` is short (0.5 s) and the server's "slow" answers
    wait 3 s, so a timeout is certain without any test measuring time.
    """

    def __init__(
        self,
        *,
        partner_inn: str = "7707083893",
        page_size: int = 1000,
        attempts: int = 3,
        operation_timeout: float = 0.5,
        client_class: type[SoapBillingClient] = SoapBillingClient,
    ) -> None:
        self.partner_inn = partner_inn
        self.page_size = page_size
        self.server = ReferenceServer(slow_seconds=operation_timeout * 6)
        self.server.store.add_partner(partner_inn)
        self.retry = BillingRetry(attempts=attempts, initial_wait=0.01, max_wait=0.05)
        self._client: SoapBillingClient | None = None
        self._operation_timeout = operation_timeout
        self._client_class = client_class

    def __enter__(self) -> SoapHarness:
        self.server.start()
        self._client = self._client_class(
            self.server.url,
            timeout=5.0,
            operation_timeout=self._operation_timeout,
            page_size=self.page_size,
            retry=self.retry,
        )
        return self

    def __exit__(self, *exc: object) -> None:
        if self._client is not None:
            self._client.close()
        self.server.stop()

    @property
    def client(self) -> SoapBillingClient:
        if self._client is None:
            raise RuntimeError("enter the harness first (with SoapHarness() as h: …)")
        return self._client

    @property
    def source(self) -> SoapBillingClient:
        return self.client

    @property
    def channel(self) -> SoapBillingClient:
        return self.client

    @property
    def max_attempts(self) -> int:
        return self.retry.attempts

    def publish_debts(self, period: Period, records: Sequence[DebtRecord]) -> None:
        self.server.store.publish_debts(self.partner_inn, period, records)

    def calls(self, operation: str) -> int:
        return self.server.calls(_OPERATIONS[operation])

    def fail_next(self, operation: str, fault: str, times: int = 1) -> bool:
        self.server.faults.fail_next(_FAULTS[fault], times=times, operation=_OPERATIONS[operation])
        return True

    def fail_always(self, operation: str, fault: str) -> bool:
        self.server.faults.fail_always(_FAULTS[fault], operation=_OPERATIONS[operation])
        return True

    def heal(self) -> None:
        self.server.faults.heal()

    def acceptances(self) -> int:
        return sum(1 for inn, _ in self.server.store.acceptance_log if inn == self.partner_inn)

    def accepted_amount(self, number: int) -> Decimal | None:
        found = self.server.store.accepted(self.partner_inn).get(number)
        return None if found is None else found[1]
