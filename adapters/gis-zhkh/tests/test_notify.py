"""importNotificationsOfOrderExecution and its cancellation, against the simulator."""

from __future__ import annotations

import datetime as dt

import pytest
from pes_sdk_gis_zhkh import (
    CancellationNotice,
    GisClient,
    ItemStatus,
    NotificationForm,
    PaymentNotice,
    order_id,
)
from pes_sdk_gis_zhkh.simulator import DUPLICATE_ORDER, UNKNOWN_ORDER


def test_full_form_is_accepted_once_with_amounts_in_kopecks(client, sim, make_records, recipient):
    records = make_records(3)
    report = client.notify(PaymentNotice.from_record(r, recipient) for r in records)

    assert report.ok
    assert report.count(ItemStatus.ACCEPTED) == 3
    ids = [order_id(r.operation_id, r.account, r.service) for r in records]
    assert [i.key for i in report.items] == ids
    assert all(len(i) == 32 for i in ids)
    assert dict(sim.accepted_order_ids) == dict.fromkeys(ids, 1)
    # 1 272,26 ₽ is 127226 kopecks on the wire
    assert sim.order_amounts[ids[0]] == 127226
    assert sim.order_amounts[ids[2]] == 127426
    assert all(i.guid and i.unique_number for i in report.items)


def test_short_form_139_with_service_id(make_config, signer, sim, make_records):
    tags = (
        ("GIS_SERVICE_ID", "1234567890123"),
        ("GIS_SERVICE_GUID", "0f0e2b8e-3c3a-4f57-8d1e-5b7c6a2e9d01"),
    )
    records = make_records(2, tags=tags)
    with GisClient(make_config(form=NotificationForm.SHORT), signer=signer) as client:
        report = client.notify(PaymentNotice.from_record(r) for r in records)
    assert report.ok and report.count(ItemStatus.ACCEPTED) == 2
    assert sum(sim.accepted_order_ids.values()) == 2


def test_short_form_without_identifiers_is_not_sent(make_config, signer, sim, make_records):
    with GisClient(make_config(form="short"), signer=signer) as client:
        report = client.notify(PaymentNotice.from_record(r) for r in make_records(2))
    assert report.count(ItemStatus.NOT_SENT) == 2
    assert report.batches == ()
    assert sim.calls["importNotificationsOfOrderExecution"] == 0
    assert "ИЖКУ" in report.not_sent[0].errors[0].description


def test_batches_hold_at_most_500(client, sim, make_records, recipient):
    records = make_records(1201)
    report = client.notify(PaymentNotice.from_record(r, recipient) for r in records)
    assert report.ok
    assert sim.batch_sizes == [500, 500, 201]
    assert len(report.batches) == 3
    assert len(sim.accepted_order_ids) == 1201
    assert set(sim.accepted_order_ids.values()) == {1}


def test_smaller_batch_size_is_honoured(make_config, signer, sim, make_records, recipient):
    with GisClient(make_config(batch_size=2), signer=signer) as client:
        client.notify(PaymentNotice.from_record(r, recipient) for r in make_records(5))
    assert sim.batch_sizes == [2, 2, 1]


def test_a_resend_is_recognised_and_never_counted_twice(client, sim, make_records, recipient):
    records = make_records(4)
    first = client.notify(PaymentNotice.from_record(r, recipient) for r in records)
    again = client.notify(PaymentNotice.from_record(r, recipient) for r in records)

    assert first.count(ItemStatus.ACCEPTED) == 4
    assert again.count(ItemStatus.ALREADY_REPORTED) == 4
    assert again.ok
    assert set(sim.accepted_order_ids.values()) == {1}
    assert set(sim.received_order_ids.values()) == {2}
    assert again.items[0].errors[0].code == DUPLICATE_ORDER


def test_a_line_repeated_in_the_input_is_sent_once(client, sim, make_records, recipient):
    rec = make_records(1)[0]
    report = client.notify([PaymentNotice.from_record(rec, recipient)] * 2)
    assert report.count(ItemStatus.ACCEPTED) == 1
    assert report.count(ItemStatus.NOT_SENT) == 1
    assert sim.received_order_ids.total() == 1


def test_per_item_errors_are_typed(client, sim, make_records, recipient):
    records = make_records(3)
    bad = order_id(records[1].operation_id, records[1].account, records[1].service)
    sim.item_errors[bad] = ("SRV008010", "Получатель платежа не найден")
    report = client.notify(PaymentNotice.from_record(r, recipient) for r in records)

    assert not report.ok
    refused = [i for i in report.items if i.status is ItemStatus.REFUSED]
    assert [i.key for i in refused] == [bad]
    assert refused[0].errors[0].code == "SRV008010"
    assert "Получатель" in refused[0].errors[0].description
    assert report.count(ItemStatus.ACCEPTED) == 2


def test_full_form_without_recipient_is_not_sent(client, sim, make_records):
    report = client.notify([PaymentNotice.from_record(make_records(1)[0])])
    assert report.count(ItemStatus.NOT_SENT) == 1
    assert sim.calls["importNotificationsOfOrderExecution"] == 0


def test_legal_entity_without_kpp_is_not_sent(client, sim, make_records, recipient):
    import attrs

    no_kpp = attrs.evolve(recipient, kpp=None)
    report = client.notify([PaymentNotice.from_record(make_records(1)[0], no_kpp)])
    assert report.not_sent[0].errors[0].description.endswith("needs its КПП")


def test_cancellation_of_reported_and_unknown_orders(client, sim, make_records, recipient):
    records = make_records(2)
    client.notify(PaymentNotice.from_record(r, recipient) for r in records)
    day = dt.date(2026, 11, 3)
    unknown = CancellationNotice(order_id="f" * 32, cancelled_on=day, comment="Возврат")
    report = client.cancel(
        [CancellationNotice.from_record(records[0], day, "Возврат клиенту"), unknown]
    )

    statuses = {i.key: i.status for i in report.items}
    oid = order_id(records[0].operation_id, records[0].account, records[0].service)
    assert statuses[oid] is ItemStatus.ACCEPTED
    assert statuses["f" * 32] is ItemStatus.REFUSED
    assert report.items[1].errors[0].code == UNKNOWN_ORDER
    assert dict(sim.cancelled_order_ids) == {oid: 1}


def test_notice_refuses_a_short_order_id():
    with pytest.raises(ValueError, match="exactly 32"):
        PaymentNotice(order_id="abc", order_date=dt.date(2026, 1, 1), amount_kopecks=1)
