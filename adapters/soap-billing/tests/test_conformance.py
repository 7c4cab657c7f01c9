"""The SOAP billing adapter passes the billing family of the conformance suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pes_sdk_conformance.billing import BillingConformance
from pes_sdk_soap_billing.harness import SoapHarness


class TestSoapBilling(BillingConformance):
    @pytest.fixture
    def billing_harness(self) -> Iterator[SoapHarness]:
        # small pages keep the suite fast; the 1,000-record pages are test_exchange's
        with SoapHarness(page_size=40) as harness:
            yield harness
