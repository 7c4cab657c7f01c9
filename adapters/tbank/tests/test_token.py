"""The ``Token`` rule, checked against the documented example computed by hand."""

from __future__ import annotations

import hashlib

import pytest
from pes_sdk_tbank.token import make_token, token_pairs, verify_token

#: the example of developer.tbank.ru (eacq, "Токен"): Receipt and DATA are nested, left out
DOC_REQUEST = {
    "TerminalKey": "MerchantTerminalKey",
    "Amount": 19200,
    "OrderId": "00000",
    "Description": "Подарочная карта на 1000 рублей",
    "DATA": {"Phone": "+71234567890", "Email": "a@test.com"},
    "Receipt": {"Email": "a@test.ru", "Taxation": "osn", "Items": [{"Name": "Наименование"}]},
}
DOC_PASSWORD = "11111111111111"
#: step 4 of the documentation: the values sorted by key (Amount, Description, OrderId,
#: Password, TerminalKey), concatenated
DOC_CONCATENATED = "19200Подарочная карта на 1000 рублей0000011111111111111MerchantTerminalKey"
#: SHA-256 of DOC_CONCATENATED in UTF-8, computed independently of the adapter
#: (``printf %s "$DOC_CONCATENATED" | sha256sum``)
DOC_TOKEN = "72dd466f8ace0a37a1f740ce5fb78101712bc0665d91a8108c7c8a0ccd426db2"


def test_known_answer_of_the_documented_example() -> None:
    assert hashlib.sha256(DOC_CONCATENATED.encode("utf-8")).hexdigest() == DOC_TOKEN
    assert make_token(DOC_REQUEST, DOC_PASSWORD) == DOC_TOKEN
    assert [k for k, _ in token_pairs(DOC_REQUEST, DOC_PASSWORD)] == [
        "Amount",
        "Description",
        "OrderId",
        "Password",
        "TerminalKey",
    ]


def test_nested_objects_and_the_token_itself_are_not_signed() -> None:
    plain = {k: v for k, v in DOC_REQUEST.items() if k not in ("DATA", "Receipt")}
    assert make_token(plain, DOC_PASSWORD) == DOC_TOKEN
    assert make_token({**DOC_REQUEST, "Token": "anything"}, DOC_PASSWORD) == DOC_TOKEN


def test_every_root_scalar_counts() -> None:
    for key, value in (("Amount", 19201), ("OrderId", "00001"), ("TerminalKey", "X")):
        assert make_token({**DOC_REQUEST, key: value}, DOC_PASSWORD) != DOC_TOKEN
    assert make_token(DOC_REQUEST, DOC_PASSWORD + "1") != DOC_TOKEN


def test_notification_booleans_are_signed_as_json_words() -> None:
    note = {
        "TerminalKey": "T",
        "OrderId": "o",
        "Success": True,
        "Status": "CONFIRMED",
        "PaymentId": 13660,
        "ErrorCode": "0",
        "Amount": 100,
    }
    text = "100" + "0" + "o" + "pw" + "13660" + "CONFIRMED" + "true" + "T"
    assert make_token(note, "pw") == hashlib.sha256(text.encode()).hexdigest()
    assert make_token({**note, "Success": False}, "pw") != make_token(note, "pw")


def test_verify_token() -> None:
    signed = {**DOC_REQUEST, "Token": DOC_TOKEN}
    assert verify_token(signed, DOC_PASSWORD)
    assert verify_token({**signed, "Token": DOC_TOKEN.upper()}, DOC_PASSWORD)
    assert not verify_token({**signed, "Token": DOC_TOKEN[:-1] + "0"}, DOC_PASSWORD)
    assert not verify_token({**signed, "Amount": 1}, DOC_PASSWORD)
    assert not verify_token(DOC_REQUEST, DOC_PASSWORD)
    assert not verify_token({**signed, "Token": 5}, DOC_PASSWORD)


def test_floats_and_empty_passwords_are_refused() -> None:
    with pytest.raises(TypeError):
        make_token({"Amount": 192.0}, DOC_PASSWORD)
    with pytest.raises(ValueError):
        make_token(DOC_REQUEST, "")
