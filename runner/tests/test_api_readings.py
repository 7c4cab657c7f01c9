"""Meter readings (показания приборов учёта) over real HTTP on both stores.

A client who accepted a partner account submits readings with an optional photo, reads
the account's history newest first, and is refused (422, naming the field) a malformed
reading or one whose value goes backwards without a reason.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import http.client
import json
import os
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_harness import ACCOUNT, CLIENT, HOUSE, OTHER_APP, Running, accept, serve
from pes_sdk_runner.api import mask_account
from pes_sdk_runner.api.app import MAX_PHOTO_BYTES

PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(200)
JPEG = b"\xff\xd8\xff\xe0" + os.urandom(200)


@pytest.fixture
def running(store_url: str, tmp_path: Path) -> Iterator[Running]:
    with serve(store_url, tmp_path) as r:
        yield r


def _body(
    r: Running, values: list[str], taken_on: str, *, photo: bytes | None = None, **extra: Any
) -> dict[str, Any]:
    reading: dict[str, Any] = {
        "account": ACCOUNT,
        "meter_number": "Э-0042",
        "meter_type": 2,
        "values": values,
        "taken_on": taken_on,
        "service": "Электроэнергия",
    }
    body: dict[str, Any] = {"client_id": "user-1", "partner_inn": r.inns[0], "reading": reading}
    if photo is not None:
        body["photo"] = base64.b64encode(photo).decode()
    body.update(extra)
    return body


def _post(r: Running, body: dict[str, Any], token: str | None = None) -> Any:
    if token is None:
        return r.call("POST", "/v1/readings", body)
    return r.call("POST", "/v1/readings", body, token=token)


def _history(r: Running, client: str = "user-1", token: str | None = None) -> Any:
    path = f"/v1/readings?client_id={client}&partner={r.inns[0]}&account={ACCOUNT}"
    return r.call("GET", path) if token is None else r.call("GET", path, token=token)


def test_readings_are_recorded_checked_and_listed_newest_first(running: Running) -> None:
    r = running
    october = _body(r, ["12345.678", "6789.1"], "2026-10-25", photo=PNG)
    refused = _post(r, october)
    assert refused.status == 422 and refused.json["error"] == "not-accepted"
    assert refused.json["field"] == "reading.account"
    assert accept(r, r.inns[0], "Электроэнергия").status == 200

    first = _post(r, october)
    assert first.status == 200, first.body
    assert first.json["new"] is True
    view = first.json["reading"]
    assert view["reading"]["values"] == ["12345.678", "6789.1"]  # the meter's precision kept
    assert view["reading"]["house_id"] == HOUSE  # from the accepted account
    digest = hashlib.sha256(PNG).hexdigest()
    assert view["reading"]["photo"] == {"sha256": digest, "media_type": "image/png"}
    assert r.store.reading_photo(digest) == ("image/png", PNG)
    assert "client_id" not in view  # who sent it is not shown

    repeat = _post(r, october)  # a retry: the same reading, not a second one
    assert repeat.status == 200 and repeat.json["new"] is False
    assert repeat.json["reading"]["id"] == view["id"]

    november = _body(r, ["12400.000", "6800.0"], "2026-11-25", photo=JPEG)
    assert _post(r, november).json["reading"]["reading"]["photo"]["media_type"] == "image/jpeg"

    # Below the previous date's value: refused, naming the tariff at fault.
    lower = _post(r, _body(r, ["12500", "6700.5"], "2026-11-26"))
    assert lower.status == 422 and lower.json["error"] == "value-decreased"
    assert lower.json["field"] == "reading.values[1]"
    # A back-dated reading above a later one is refused the other way round.
    above = _post(r, _body(r, ["12350", "6900"], "2026-11-01"))
    assert (above.json["error"], above.json["field"]) == ("value-above-later", "reading.values[1]")
    changed = _post(r, _body(r, ["12500"], "2026-11-26"))
    assert (changed.json["error"], changed.json["field"]) == ("tariffs-changed", "reading.values")

    # A correction of the same date is a new reading, compared with the dates around it.
    corrected = _post(r, _body(r, ["12399.5", "6799.9"], "2026-11-25"))
    assert corrected.status == 200 and corrected.json["new"] is True
    # The meter rolled over: accepted once the client says so.
    rolled = _post(r, _body(r, ["3.2", "1.0"], "2026-11-27", decrease="rollover"))
    assert rolled.status == 200 and rolled.json["reading"]["decrease"] == "rollover"

    history = _history(r)
    assert history.status == 200
    rows = history.json["readings"]
    assert [(x["reading"]["taken_on"], x["reading"]["values"], x["superseded"]) for x in rows] == [
        ("2026-11-27", ["3.2", "1.0"], False),
        ("2026-11-25", ["12399.5", "6799.9"], False),
        ("2026-11-25", ["12400.000", "6800.0"], True),
        ("2026-10-25", ["12345.678", "6789.1"], False),
    ]
    # Another client of the app, or the same client id in another app, has not accepted it.
    assert _history(r, client="user-2").json["error"] == "not-accepted"
    assert _history(r, token=OTHER_APP).status == 422
    assert _post(r, october, token=OTHER_APP).json["error"] == "not-accepted"


def test_readings_are_append_only_in_the_database(running: Running) -> None:
    r = running
    accept(r, r.inns[0], "Электроэнергия")
    assert _post(r, _body(r, ["1"], "2026-11-01")).status == 200
    conn = r.store.dialect.connect()
    try:
        for statement in (
            "UPDATE meter_readings SET meter_values = '[\"0\"]'",
            "DELETE FROM meter_readings",
        ):
            with pytest.raises(Exception, match="append-only"):
                conn.execute(statement)
    finally:
        conn.close()
    assert len(r.store.readings(r.inns[0], ACCOUNT)) == 1


def test_bad_readings_are_422_naming_the_field(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    r = running
    caplog.set_level("INFO", logger="pes_sdk_runner.api")
    accept(r, r.inns[0], "Электроэнергия")
    ok = _body(r, ["1.5"], "2026-11-01")

    def reading(**change: Any) -> dict[str, Any]:
        return {**ok, "reading": {**ok["reading"], **change}}

    tomorrow2 = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=2)).isoformat()
    cases: list[tuple[dict[str, Any], str]] = [
        (reading(values=["1", "2", "3", "4"]), "reading.values"),
        (reading(values=[]), "reading.values"),
        (reading(values=["1", "-2"]), "reading.values[1]"),
        (reading(values=[1.5]), "reading.values[0]"),
        (reading(values=["1.1234567"]), "reading.values[0]"),
        (reading(values=["1234567890123"]), "reading.values[0]"),
        (reading(account="a;b"), "reading.account"),
        (reading(meter_number=""), "reading.meter_number"),
        (reading(meter_type=99), "reading.meter_type"),
        (reading(house_id="not-a-guid"), "reading.house_id"),
        (reading(taken_on="2026-13-01"), "reading.taken_on"),
        (reading(taken_on=tomorrow2), "reading.taken_on"),
        (reading(photo={"sha256": "0" * 64, "media_type": "image/png"}), "reading.photo"),
        ({**ok, "photo": "not base64!"}, "photo"),
        ({**ok, "photo": base64.b64encode(b"GIF89a" + b"x" * 10).decode()}, "photo"),
        ({**ok, "partner_inn": "12"}, "partner_inn"),
        ({**ok, "decrease": "because"}, "decrease"),
        ({**ok, "name": "Иванов"}, "name"),
        ({**ok, "client_id": " "}, "client_id"),
    ]
    for body, field in cases:
        answer = _post(r, body)
        assert (answer.status, answer.json["field"]) == (422, field), (field, answer.body)
        assert set(answer.json) == {"error", "message", "field"}

    # The photo's size is bounded: exactly the limit is taken, a byte more is not.
    big = b"\xff\xd8\xff" + bytes(MAX_PHOTO_BYTES - 3)
    taken = _post(r, _body(r, ["2"], "2026-11-02", photo=big))
    assert taken.status == 200, taken.body[:200]
    too_big = _post(r, _body(r, ["3"], "2026-11-03", photo=big + b"\0"))
    assert (too_big.status, too_big.json["field"]) == (422, "photo")
    # A body beyond the limit is refused on its declared length, before it is read.
    parts = urllib.parse.urlsplit(r.base)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        conn.putrequest("POST", "/v1/readings")
        conn.putheader("Authorization", f"Bearer {CLIENT}")
        conn.putheader("Content-Length", str(MAX_PHOTO_BYTES * 2))
        conn.endheaders()
        huge = conn.getresponse()
        assert huge.status == 413 and json.loads(huge.read())["error"] == "too-large"
    finally:
        conn.close()

    listing = r.call("GET", f"/v1/readings?partner={r.inns[0]}&account={ACCOUNT}")
    assert (listing.status, listing.json["field"]) == (422, "client_id")
    listing = r.call("GET", f"/v1/readings?client_id=u&partner={r.inns[0]}&account=a%3Bb")
    assert listing.json["field"] == "account"
    listing = r.call("GET", f"/v1/readings?client_id=u&partner=1&account={ACCOUNT}")
    assert listing.json["field"] == "partner"

    # Photos, values and accounts stay out of the log; the account only masked.
    _post(r, _body(r, ["4"], "2026-11-04", photo=PNG))
    text = "\n".join(rec.getMessage() for rec in caplog.records)
    assert mask_account(ACCOUNT) in text and ACCOUNT not in text
    assert base64.b64encode(PNG).decode()[:40] not in text
    assert "Иванов" not in text
    assert all(json.loads(rec.getMessage())["event"] for rec in caplog.records)
