"""The Signer interface and the HMAC test signer (NOT GOST)."""

from __future__ import annotations

import pytest
from lxml import etree
from pes_sdk_gis_zhkh import GisConfigError, HmacTestSigner, Signer, make_signer
from pes_sdk_gis_zhkh.schema import NS, validation_errors

PM, B = NS["pm"], NS["base"]


def _request() -> etree._Element:
    el = etree.Element(f"{{{PM}}}importNotificationsOfOrderExecutionCancellationRequest")
    el.set(f"{{{B}}}version", "10.0.1.1")
    c = etree.SubElement(el, f"{{{PM}}}NotificationOfOrderExecutionCancellation")
    etree.SubElement(c, f"{{{NS['pb']}}}OrderID").text = "a" * 32
    etree.SubElement(c, f"{{{NS['pb']}}}CancellationDate").text = "2026-11-03"
    etree.SubElement(c, f"{{{NS['pb']}}}Comment").text = "Возврат клиенту"
    etree.SubElement(c, f"{{{B}}}TransportGUID").text = "0b7c5d3e-1111-4222-8333-944455566677"
    return el


def test_signed_request_is_schema_valid_and_verifies(package, signer):
    el = _request()
    assert isinstance(signer, Signer)
    signer.sign(el)
    assert el.get("Id") == "signed-data-container"
    assert etree.QName(el[0]).localname == "Signature"
    assert validation_errors(package, el) == []
    assert signer.verify(el)
    # signing twice replaces the signature instead of stacking two
    signer.sign(el)
    assert len(el.findall(f"{{{NS['ds']}}}Signature")) == 1
    assert signer.verify(el)


def test_tampering_or_another_key_fails(signer):
    el = _request()
    signer.sign(el)
    again = etree.fromstring(etree.tostring(el))
    again.find(f".//{{{NS['pb']}}}Comment").text = "Подмена"
    assert not signer.verify(again)
    assert not HmacTestSigner(b"another key, 16+ bytes").verify(el)
    assert not signer.verify(_request())


def test_simulator_refuses_a_bad_signature(make_config, sim, make_records, recipient):
    from pes_sdk_gis_zhkh import GisClient, GisFault, PaymentNotice

    wrong = HmacTestSigner(b"not the simulator's key at all")
    client = GisClient(make_config(), signer=wrong)
    with client, pytest.raises(GisFault, match="signature"):
        client.notify([PaymentNotice.from_record(make_records(1)[0], recipient)])
    assert sim.signature_failures == ["importNotificationsOfOrderExecution"]
    sim.signature_failures.clear()  # seen; the fixture's final check is for surprises
    assert not sim.accepted_order_ids


def test_make_signer(monkeypatch):
    assert make_signer("none") is None
    monkeypatch.setenv("K", "k" * 20)
    assert isinstance(make_signer("test-hmac", key_env="K"), HmacTestSigner)
    monkeypatch.setenv("K", "short")
    with pytest.raises(GisConfigError, match="16"):
        make_signer("test-hmac", key_env="K")
    with pytest.raises(GisConfigError, match="failed"):
        make_signer("external", factory="no_such_module_here:make")
    with pytest.raises(GisConfigError, match="not return a Signer"):
        make_signer("external", factory="builtins:object")
