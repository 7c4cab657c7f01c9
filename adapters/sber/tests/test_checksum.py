"""The callback checksum, against values computed by hand (openssl), not by the code."""

from __future__ import annotations

import pytest
from pes_sdk_sber.checksums import checksum, signed_text, verify_checksum

from pes_sdk.gateways import WebhookRejected

PARAMS = {
    "status": "1",
    "operation": "deposited",
    "orderNumber": "10747",
    "mdOrder": "3ff6962a-7dcc-4283-ab50-a6d7dd3386fe",
}
# computed outside Python, then upper-cased:
#   printf '%s' 'mdOrder;3ff6962a-7dcc-4283-ab50-a6d7dd3386fe;operation;deposited;'\
#               'orderNumber;10747;status;1;' | openssl dgst -sha256 -hmac 'yoursecretkey'
KNOWN = "AA55B6BB3D792D5C1255F73AC6F9F22CB8B8A82146E84F74C8B71A7A0E80C87D"


def test_signed_text_is_sorted_key_value_pairs() -> None:
    assert signed_text(PARAMS) == (
        "mdOrder;3ff6962a-7dcc-4283-ab50-a6d7dd3386fe;operation;deposited;"
        "orderNumber;10747;status;1;"
    )


def test_checksum_and_sign_alias_are_not_signed() -> None:
    extra = {**PARAMS, "checksum": "X", "sign_alias": "SHA-256"}
    assert signed_text(extra) == signed_text(PARAMS)


def test_known_answer() -> None:
    assert checksum(b"yoursecretkey", PARAMS) == KNOWN


def test_known_answer_cyrillic_is_utf8() -> None:
    params = {
        "mdOrder": "0b0c2c2c-1111-4a4a-9999-000000000001",
        "operation": "refunded",
        "orderNumber": "Заказ-7",
        "status": "1",
    }
    expected = "B6C619EBF0196D378251A9B87A981A197658ADC4E91EBF7043D39A317CEAAC3D"
    assert checksum("секрет".encode(), params) == expected


def test_verify_accepts_either_hex_case() -> None:
    verify_checksum(b"yoursecretkey", {**PARAMS, "checksum": KNOWN})
    verify_checksum(b"yoursecretkey", {**PARAMS, "checksum": KNOWN.lower()})


@pytest.mark.parametrize(
    "params",
    [
        {**PARAMS, "checksum": KNOWN, "status": "0"},
        {**PARAMS, "checksum": KNOWN, "amount": "100"},  # an added parameter is signed too
        {**PARAMS, "checksum": KNOWN[:-1] + "E"},
        {**PARAMS, "checksum": ""},
        dict(PARAMS),
    ],
)
def test_verify_refuses(params: dict[str, str]) -> None:
    with pytest.raises(WebhookRejected) as caught:
        verify_checksum(b"yoursecretkey", params)
    assert caught.value.reason == "signature"


def test_wrong_secret_is_refused() -> None:
    with pytest.raises(WebhookRejected):
        verify_checksum(b"another", {**PARAMS, "checksum": KNOWN})


def test_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError):
        checksum(b"", PARAMS)
