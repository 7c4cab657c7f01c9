"""zeep is hardened, the WSDL is local, hostile answers are refused; the simulator checks itself."""

from __future__ import annotations

import pytest
from lxml import etree
from pes_sdk_gis_zhkh import GisTransportError, PaymentNotice, hardened_settings
from pes_sdk_gis_zhkh.schema import NS

BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>&lol2;</soap:Body></soap:Envelope>"""


def test_settings_are_hardened():
    s = hardened_settings()
    assert (s.strict, s.forbid_dtd, s.forbid_entities, s.forbid_external) == (True,) * 4


def test_transport_has_both_timeouts(client):
    service = client._service("payment")
    transport = client._raw_clients["payment"].transport
    assert transport.operation_timeout == client.config.operation_timeout
    assert transport.load_timeout == client.config.timeout
    assert service._binding_options["address"] == client.config.payment_endpoint


@pytest.mark.parametrize("operation", ["importNotificationsOfOrderExecution", "getState"])
def test_an_answer_with_a_dtd_is_refused(client, sim, make_records, recipient, operation):
    sim.respond_next(operation, BOMB)
    with pytest.raises(GisTransportError, match="unusable answer") as info:
        client.notify([PaymentNotice.from_record(make_records(1)[0], recipient)])
    assert info.value.attempts == 1  # never retried


def test_simulator_flags_its_own_invalid_answers(sim):
    bad = etree.Element(f"{{{NS['base']}}}AckRequest")  # Ack missing
    sim._envelope(bad)
    assert sim.validation_failures and sim.validation_failures[0].startswith("response:")
    sim.validation_failures.clear()


def test_simulator_refuses_an_invalid_request(client, sim):
    import requests

    envelope = (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
        f'xmlns:base="{NS["base"]}"><soap:Header><base:RequestHeader>'
        "<base:Date>2026-11-02T10:00:00</base:Date><base:MessageGUID>nope</base:MessageGUID>"
        "</base:RequestHeader></soap:Header><soap:Body><base:getStateRequest>"
        "<base:MessageGUID>nope</base:MessageGUID></base:getStateRequest></soap:Body>"
        "</soap:Envelope>"
    )
    answer = requests.post(sim.payment_url, data=envelope.encode(), timeout=5)
    assert answer.status_code == 500
    assert b"FMT001300" in answer.content
    assert any("MessageGUID" in f for f in sim.validation_failures)
    sim.validation_failures.clear()
