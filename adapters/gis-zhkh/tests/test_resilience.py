"""Transient faults are retried within bounds, others are not; nothing is reported twice."""

from __future__ import annotations

import pytest
from pes_sdk_gis_zhkh import (
    GisClient,
    GisFault,
    GisPollTimeout,
    GisTransportError,
    ItemStatus,
    PaymentNotice,
)

IMPORT = "importNotificationsOfOrderExecution"


class FakeTime:
    """A clock that only moves when the client sleeps: deadlines without waiting."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _notices(make_records, recipient, n=3):
    return [PaymentNotice.from_record(r, recipient) for r in make_records(n)]


def test_5xx_is_retried_and_reports_once(client, sim, make_records, recipient):
    sim.fail_next(IMPORT, count=2, status=503)
    sim.fail_next("getState", count=1, status=502)
    report = client.notify(_notices(make_records, recipient))

    assert report.ok
    assert sim.calls[IMPORT] == 3
    assert set(sim.accepted_order_ids.values()) == {1}
    assert (IMPORT, 3) in client.attempts


def test_5xx_beyond_the_bound_raises_a_typed_error(
    make_config, signer, sim, make_records, recipient
):
    sim.fail_next(IMPORT, count=10)
    client = GisClient(make_config(retry_attempts=3), signer=signer)
    with client, pytest.raises(GisTransportError, match="HTTP 503") as info:
        client.notify(_notices(make_records, recipient))
    assert info.value.attempts == 3
    assert sim.calls[IMPORT] == 3
    assert not sim.accepted_order_ids


def test_timeout_after_processing_is_retried_without_a_second_report(
    make_config, signer, sim, make_records, recipient
):
    # The server takes the message, then answers too late: the client times out and sends
    # the same message (same MessageGUID) again; the server must not process it twice.
    sim.slow_next(IMPORT, seconds=1.5, count=1)
    with GisClient(make_config(operation_timeout=0.3), signer=signer) as client:
        report = client.notify(_notices(make_records, recipient))
    assert report.ok and report.count(ItemStatus.ACCEPTED) == 3
    assert sim.calls[IMPORT] == 2
    assert set(sim.received_order_ids.values()) == {1}
    assert set(sim.accepted_order_ids.values()) == {1}


def test_timeouts_beyond_the_bound_raise(make_config, signer, sim, make_records, recipient):
    sim.slow_next("getState", seconds=1.0, count=2)
    c = GisClient(make_config(operation_timeout=0.2, retry_attempts=2), signer=signer)
    with c, pytest.raises(GisTransportError, match="getState") as info:
        c.notify(_notices(make_records, recipient, 1))
    assert info.value.attempts == 2


def test_transient_soap_fault_is_retried(client, sim, make_records, recipient):
    sim.fault_next("getState", code="EXP001000", count=2)
    report = client.notify(_notices(make_records, recipient))
    assert report.ok
    assert sim.calls["getState"] == 3
    assert set(sim.accepted_order_ids.values()) == {1}


def test_permanent_soap_fault_is_not_retried(client, sim, make_records, recipient):
    sim.fault_next(IMPORT, code="AUT011003", message="Доступ запрещён")
    with pytest.raises(GisFault) as info:
        client.notify(_notices(make_records, recipient))
    assert info.value.code == "AUT011003"
    assert "Доступ запрещён" in info.value.message
    assert not info.value.transient
    assert sim.calls[IMPORT] == 1


def test_non_idempotent_calls_are_tried_once(client, sim):
    # exportPaymentDocumentDetails is not declared idempotent: a 5xx is not retried.
    sim.fail_next("exportPaymentDocumentDetails", count=1)
    with pytest.raises(GisTransportError) as info:
        client._call(
            "payment",
            "exportPaymentDocumentDetails",
            "0b7c5d3e-1111-4222-8333-944455566677",
            PaymentDocumentID="12АБ123456-01-6101",
            version="13.1.0.1",
        )
    assert info.value.attempts == 1
    assert sim.calls["exportPaymentDocumentDetails"] == 1


def test_slow_get_state_is_polled_with_backoff(make_config, signer, sim, make_records, recipient):
    fake = FakeTime()
    sim.pending_polls = 4
    config = make_config(poll_initial=1.0, poll_max=4.0, poll_deadline=60.0)
    with GisClient(config, signer=signer, sleep=fake.sleep, clock=fake.clock) as client:
        report = client.notify(_notices(make_records, recipient))
    assert report.ok
    assert sim.calls["getState"] == 5
    # jittered (50-100 %) doubling capped at poll_max: 1, 2, 4, 4
    for wait, cap in zip(fake.sleeps, [1.0, 2.0, 4.0, 4.0], strict=True):
        assert cap / 2 <= wait <= cap


def test_poll_deadline_keeps_the_message_for_later(
    make_config, signer, sim, make_records, recipient
):
    fake = FakeTime()
    sim.pending_polls = 1000
    config = make_config(poll_initial=1.0, poll_max=8.0, poll_deadline=30.0)
    notices = _notices(make_records, recipient)
    with GisClient(config, signer=signer, sleep=fake.sleep, clock=fake.clock) as client:
        with pytest.raises(GisPollTimeout) as info:
            client.notify(notices)
        assert fake.now <= 30.0
        guid = info.value.message_guid
        # Later: the result is fetched by the kept GUID; nothing is sent again.
        sim.release()
        state = client.poll(guid)
        assert state is not None
    assert sim.calls[IMPORT] == 1
    assert set(sim.accepted_order_ids.values()) == {1}
