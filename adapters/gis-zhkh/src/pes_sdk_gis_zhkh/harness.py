"""The ГИС ЖКХ channel wired to the simulator: the conformance suite's billing harness.

ГИС ЖКХ is a delivery channel only, so :attr:`GisHarness.source` is None and the billing
family skips its source checks (paging, debt registries), saying so. The family's words
map onto ГИС ЖКХ operations: ``payments`` is ``importNotificationsOfOrderExecution``,
``readings`` is ``importMeteringDeviceValues``; ``getState`` is reachable through
:attr:`GisHarness.sim` for checks of the asynchronous protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from pes_sdk.billing.models import DeliveryReceipt
from pes_sdk.models.debts import DebtRecord
from pes_sdk.models.payments import PaymentRegistry
from pes_sdk.period import Period
from pes_sdk_gis_zhkh.channel import GisDeliveryChannel
from pes_sdk_gis_zhkh.client import GisClient
from pes_sdk_gis_zhkh.config import GisConfig, MunicipalResource
from pes_sdk_gis_zhkh.ids import order_id
from pes_sdk_gis_zhkh.models import Recipient, from_kopecks
from pes_sdk_gis_zhkh.signing import HmacTestSigner
from pes_sdk_gis_zhkh.simulator import GisSimulator

__all__ = ["GisHarness"]

_OPERATIONS = {
    "debts": "exportForPaymentAggregator",
    "payments": "importNotificationsOfOrderExecution",
    "readings": "importMeteringDeviceValues",
}
#: a fault ГИС ЖКХ does not recover from by retrying (access denied)
FINAL_FAULT = ("AUT011003", "Доступ запрещён")
TEST_KEY = b"pes-sdk-test-key-not-gost-0123456789"
#: meters the family's readings name, as ГИС ЖКХ knows them
DEVICES = {
    "Э-1": "11111111-2222-4333-8444-555555555555",
    "ХВ-2": "66666666-7777-4888-8999-000000000000",
}
COLD_WATER = MunicipalResource("1", "a0bd7a43-79a1-4bc0-9a0b-6b6b8e5e9d10")


class _Observed(GisDeliveryChannel):
    """Notes which OrderIDs each registry number carried (what ГИС ЖКХ cannot tell)."""

    harness_log: dict[int, list[str]]

    def deliver_payments(self, registry: PaymentRegistry) -> DeliveryReceipt:
        self.harness_log[registry.number] = [
            order_id(r.operation_id, r.account, r.service) for r in registry.records
        ]
        return super().deliver_payments(registry)


class GisHarness:
    """A simulator on loopback and a channel for it with quick, bounded retries.

    ``operation_timeout`` is short (0.5 s) and the simulator's slow answers wait 6 times
    that, so a timeout is certain without any test measuring time. ``config`` overrides
    fields of :class:`GisConfig`; ``client_kwargs`` go to the client (``sleep`` and
    ``clock``: a test's fake time for poll deadlines); ``channel_class`` replaces the
    channel (a deliberately broken one, to show the family catches it).
    """

    def __init__(
        self,
        format_package: Path | str | None = None,
        *,
        partner_inn: str = "7707083893",
        attempts: int = 3,
        operation_timeout: float = 0.5,
        client_kwargs: dict[str, Any] | None = None,
        channel_class: type[GisDeliveryChannel] = GisDeliveryChannel,
        **config: Any,
    ) -> None:
        self.partner_inn = partner_inn
        self.signer = HmacTestSigner(TEST_KEY)
        self.sim = GisSimulator(format_package, verifier=self.signer)
        self._attempts = attempts
        self._operation_timeout = operation_timeout
        self._config = config
        self._client_kwargs = client_kwargs or {}
        self._channel_class = channel_class
        self._channel: GisDeliveryChannel | None = None
        self._numbers: dict[int, list[str]] = {}
        self.recipient = Recipient(
            inn=partner_inn,
            kpp="773601001",
            name="ООО «УК Дом»",
            bank_name="ПАО Сбербанк",
            bik="044525225",
            account="40702810938000000001",
            corr_account="30101810400000000225",
        )

    def __enter__(self) -> GisHarness:
        self.sim.start()
        settings: dict[str, Any] = {
            "payment_endpoint": self.sim.payment_url,
            "metering_endpoint": self.sim.metering_url,
            "format_package": self.sim.format_package,
            "org_ppa_guid": "5c1a7e4e-0a3f-4d43-9d1b-0e0f4f0f2a11",
            "timeout": 5.0,
            "operation_timeout": self._operation_timeout,
            "retry_attempts": self._attempts,
            "retry_initial": 0.01,
            "retry_max": 0.05,
            "poll_initial": 0.005,
            "poll_max": 0.02,
            "poll_deadline": 30.0,
            "resources": {"COLD_WATER": COLD_WATER},
            "devices": DEVICES,
        }
        settings.update(self._config)
        self.config = GisConfig(**settings)
        client = GisClient(self.config, signer=self.signer, **self._client_kwargs)
        observed = type(
            f"Observed{self._channel_class.__name__}", (_Observed, self._channel_class), {}
        )
        channel = observed(client, recipients={self.partner_inn: self.recipient})
        channel.harness_log = self._numbers
        self._channel = channel
        return self

    def __exit__(self, *exc: object) -> None:
        if self._channel is not None:
            self._channel.close()
        self.sim.stop()

    # -- what the billing family asks -----------------------------------------------------

    @property
    def source(self) -> None:
        """None: ГИС ЖКХ is a delivery channel only."""
        return None

    @property
    def channel(self) -> GisDeliveryChannel:
        if self._channel is None:
            raise RuntimeError("enter the harness first (with GisHarness(...) as h: …)")
        return self._channel

    @property
    def page_size(self) -> int:
        return 0  # no source, no pages

    @property
    def max_attempts(self) -> int:
        return self._attempts

    def publish_debts(self, period: Period, records: Sequence[DebtRecord]) -> None:
        raise NotImplementedError("ГИС ЖКХ publishes no debt registries to the channel")

    def calls(self, operation: str) -> int:
        return self.sim.calls[_OPERATIONS[operation]]

    def fail_next(self, operation: str, fault: str, times: int = 1) -> bool:
        op = _OPERATIONS[operation]
        if fault == "unavailable":
            self.sim.fail_next(op, count=times, status=503)
        elif fault == "transient-fault":
            code = sorted(self.config.transient_fault_codes)[0]
            self.sim.fault_next(op, code=code, count=times, message="Сервис недоступен")
        elif fault == "lost-answer":
            self.sim.lose_next(op, count=times)
        elif fault == "timeout":
            self.sim.slow_next(op, seconds=self._operation_timeout * 6, count=times)
        elif fault == "final-fault":
            self.sim.fault_next(op, code=FINAL_FAULT[0], count=times, message=FINAL_FAULT[1])
        else:
            return False
        return True

    def fail_always(self, operation: str, fault: str) -> bool:
        # "always" within any bound a client may have: far more than its attempts
        return self.fail_next(operation, fault, times=1000)

    def heal(self) -> None:
        self.sim.heal()

    def acceptances(self) -> int:
        """Notification messages that reported at least one payment for the first time."""
        return sum(1 for n in self.sim.accepted_per_message if n)

    def accepted_amount(self, number: int) -> Decimal | None:
        """What ГИС ЖКХ holds of the registry ``number``: the sum of its accepted notices."""
        ids = self._numbers.get(number)
        if ids is None:
            return None
        held = [self.sim.order_amounts[i] for i in ids if self.sim.accepted_order_ids[i]]
        if ids and not held:
            return None
        return from_kopecks(sum(held))
