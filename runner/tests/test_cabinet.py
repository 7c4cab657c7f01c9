"""The client cabinet with no HTTP: login by phone, sessions, linked accounts, deletion;
on a real SQLite file and a real PostgreSQL (``store`` of conftest.py). Time is a clock
the tests move: nothing sleeps."""

from __future__ import annotations

import datetime as dt
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest
from api_harness import ENV
from pes_sdk_runner.cabinet import (
    CODE_TTL,
    Cabinets,
    CodeRefused,
    InvalidPhone,
    LinkRefused,
    TooManyRequests,
    client_key,
    normalise_phone,
)
from pes_sdk_runner.config import CabinetConfig, example_config_path, load_runner_config
from pes_sdk_runner.logs import mask_phone
from pes_sdk_runner.store import SqlStore, open_store
from pes_sdk_runner.store.base import Acceptance

from pes_sdk.models.debts import DebtRecord
from pes_sdk.notifications import (
    ChannelUnavailable,
    Notification,
    NotificationChannel,
    RecipientRefused,
    SendResult,
)
from pes_sdk.period import Period
from pes_sdk.premises import Premises

PHONE = "+79161234567"
HOUSE = "0c5b2444-70a0-4932-980c-b4dc0d3f02b5"
ACCOUNT = "1234567890"
T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now

    def move(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


class Phone(NotificationChannel):
    """An SMS channel that keeps what it sends (or fails as told)."""

    name = "test"
    kinds = ("sms",)

    def __init__(self) -> None:
        self.sent: list[Notification] = []
        self.fail: Exception | None = None

    def send(self, notification: Notification) -> SendResult:
        if self.fail is not None:
            raise self.fail
        self.sent.append(notification)
        return SendResult(str(len(self.sent)), T0)

    def code(self) -> str:
        found = re.search(r"\b(\d{6})\b", self.sent[-1].text)
        assert found is not None
        return found.group(1)


def config(**changes: object) -> CabinetConfig:
    return CabinetConfig(secret="s" * 32, **changes)  # type: ignore[arg-type]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def phone() -> Phone:
    return Phone()


@pytest.fixture
def cabinets(store: SqlStore, clock: Clock, phone: Phone) -> Cabinets:
    return Cabinets(store, config(), phone, clock=clock)


def login(c: Cabinets, phone: Phone, number: str = PHONE, ip: str = "10.0.0.1") -> str:
    sent = c.login.request_code(number, ip)
    return c.login.confirm(sent.attempt, phone.code(), ip).token


# -- phone numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["8 (916) 123-45-67", "+7 916 123 45 67", "9161234567", "79161234567", "+7(916)123-45-67"],
)
def test_the_ways_people_write_a_phone_are_read_as_e164(text: str) -> None:
    assert normalise_phone(text) == PHONE


@pytest.mark.parametrize(
    "text",
    ["", "+375291234567", "+8 916 123 45 67", "8 495 123-45-67", "916123456", "9161234567x",
     "+7 916 123 45 678", "９１６１２３４５６７", "phone"],
)  # fmt: skip
def test_other_numbers_are_refused_with_a_typed_error(text: str) -> None:
    with pytest.raises(InvalidPhone) as caught:
        normalise_phone(text)
    assert caught.value.code == "invalid-phone" and caught.value.field == "phone"


def test_a_phone_is_masked_for_logs() -> None:
    assert mask_phone(PHONE) == "+7******4567"


# -- login -----------------------------------------------------------------------------------


def test_a_code_logs_in_once_and_creates_the_cabinet_at_the_first_login(
    cabinets: Cabinets, phone: Phone, store: SqlStore
) -> None:
    sent = cabinets.login.request_code("8 (916) 123-45-67", "10.0.0.1")
    assert sent.expires_at == T0 + CODE_TTL
    assert phone.sent[-1].to == PHONE and phone.sent[-1].kind == "sms"
    assert phone.sent[-1].text == f"Код для входа: {phone.code()}. Никому не сообщайте его."
    assert store.cabinet_by_phone(PHONE) is None
    issued = cabinets.login.confirm(sent.attempt, phone.code(), "10.0.0.2")
    cabinet = store.cabinet_by_phone(PHONE)
    assert cabinet is not None and issued.cabinet_id == cabinet.id
    assert len(issued.token) >= 43  # 32 random bytes, URL-safe
    # Neither the code nor the token is in the store: only their HMACs.
    conn = store.dialect.connect()
    try:
        dump = repr(conn.execute("SELECT * FROM login_attempts").fetchall())
        dump += repr(conn.execute("SELECT * FROM cabinet_sessions").fetchall())
    finally:
        conn.close()
    assert phone.code() not in dump and issued.token not in dump
    # Used: the right code again is refused.
    with pytest.raises(CodeRefused):
        cabinets.login.confirm(sent.attempt, phone.code(), "10.0.0.2")
    # A second login of the phone finds the same cabinet.
    again = cabinets.login.request_code(PHONE, "10.0.0.1")
    assert cabinets.login.confirm(again.attempt, phone.code(), "10.0.0.1").cabinet_id == cabinet.id


def test_a_code_expires_after_five_minutes(cabinets: Cabinets, phone: Phone, clock: Clock) -> None:
    sent = cabinets.login.request_code(PHONE, "10.0.0.1")
    clock.move(minutes=5)
    with pytest.raises(CodeRefused):
        cabinets.login.confirm(sent.attempt, phone.code(), "10.0.0.1")


def test_the_sixth_try_is_refused_even_with_the_right_code(
    cabinets: Cabinets, phone: Phone
) -> None:
    sent = cabinets.login.request_code(PHONE, "10.0.0.1")
    wrong = f"{(int(phone.code()) + 1) % 1_000_000:06d}"
    for _ in range(5):
        with pytest.raises(CodeRefused):
            cabinets.login.confirm(sent.attempt, wrong, "10.0.0.1")
    with pytest.raises(CodeRefused) as sixth:
        cabinets.login.confirm(sent.attempt, phone.code(), "10.0.0.1")
    # The same refusal as a wrong code: a guesser is not told the attempt is spent.
    assert sixth.value.code == "code-refused"


def test_a_code_is_bound_to_its_attempt(cabinets: Cabinets, phone: Phone) -> None:
    first = cabinets.login.request_code(PHONE, "10.0.0.1")
    first_code = phone.code()
    second = cabinets.login.request_code("+79160000000", "10.0.0.1")
    if first_code != phone.code():
        with pytest.raises(CodeRefused):
            cabinets.login.confirm(second.attempt, first_code, "10.0.0.1")
    with pytest.raises(CodeRefused):
        cabinets.login.confirm("no-such-attempt", first_code, "10.0.0.1")
    assert cabinets.login.confirm(first.attempt, first_code, "10.0.0.1").token


def test_codes_per_phone_are_limited_per_ten_minutes_and_per_day(
    cabinets: Cabinets, clock: Clock
) -> None:
    for _ in range(3):
        cabinets.login.request_code(PHONE, "10.0.0.1")
        clock.move(minutes=1)
    with pytest.raises(TooManyRequests) as caught:
        cabinets.login.request_code("8 916 123 45 67", "10.0.0.9")  # written otherwise, too
    # The first of the three leaves the window 10 minutes after it was sent (3 min ago).
    assert caught.value.retry_after == dt.timedelta(minutes=7)
    assert caught.value.retry_after_seconds == 420
    cabinets.login.request_code("+79160000000", "10.0.0.1")  # another phone is not held up
    sent = 3
    while sent < 10:
        clock.move(minutes=10)
        for _ in range(min(3, 10 - sent)):
            cabinets.login.request_code(PHONE, "10.0.0.1")
            sent += 1
    clock.move(minutes=10)
    with pytest.raises(TooManyRequests) as daily:
        cabinets.login.request_code(PHONE, "10.0.0.1")
    assert daily.value.retry_after == T0 + dt.timedelta(days=1) - clock.now
    clock.now = T0 + dt.timedelta(days=1, seconds=1)
    cabinets.login.request_code(PHONE, "10.0.0.1")


def test_codes_per_client_ip_are_limited(store: SqlStore, clock: Clock, phone: Phone) -> None:
    cabinets = Cabinets(store, config(codes_per_ip_hour=4), phone, clock=clock)
    for i in range(4):
        cabinets.login.request_code(f"+7916000000{i}", "10.0.0.1")
    with pytest.raises(TooManyRequests) as caught:
        cabinets.login.request_code("+79160000009", "10.0.0.1")
    assert caught.value.retry_after == dt.timedelta(hours=1)
    cabinets.login.request_code("+79160000009", "10.0.0.2")
    clock.move(hours=1)
    cabinets.login.request_code("+79160000008", "10.0.0.1")


def test_a_known_and_an_unknown_phone_get_the_same_answer(
    cabinets: Cabinets, phone: Phone, store: SqlStore
) -> None:
    login(cabinets, phone, PHONE)
    known = cabinets.login.request_code(PHONE, "10.0.0.1")
    unknown = cabinets.login.request_code("+79160000000", "10.0.0.1")
    assert type(known) is type(unknown)
    assert known.expires_at == unknown.expires_at
    assert len(known.attempt) == len(unknown.attempt)
    assert [n.to for n in phone.sent[-2:]] == [PHONE, "+79160000000"]
    # A number the provider refuses for good is answered as any other.
    phone.fail = RecipientRefused("no such subscriber")
    refused = cabinets.login.request_code("+79160000001", "10.0.0.1")
    assert refused.expires_at == known.expires_at
    assert store.cabinet_by_phone("+79160000000") is None


def test_a_channel_down_is_a_typed_refusal(cabinets: Cabinets, phone: Phone) -> None:
    phone.fail = ChannelUnavailable("down")
    with pytest.raises(Exception) as caught:
        cabinets.login.request_code(PHONE, "10.0.0.1")
    assert getattr(caught.value, "code", None) == "sms-unavailable"


def test_phone_numbers_are_never_logged(
    cabinets: Cabinets, phone: Phone, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    token = login(cabinets, phone)
    cabinets.sessions.logout(token)
    text = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "+7******4567" in text
    assert "9161234567" not in text and phone.code() not in text and token not in text


# -- sessions --------------------------------------------------------------------------------


def test_a_session_ends_when_idle(cabinets: Cabinets, phone: Phone, clock: Clock) -> None:
    token = login(cabinets, phone)
    for _ in range(4):  # used every 29 minutes: alive
        clock.move(minutes=29)
        assert cabinets.sessions.active(token) is not None
    clock.move(minutes=30)
    assert cabinets.sessions.active(token) is None
    clock.move(minutes=1)
    assert cabinets.sessions.active(token) is None  # and stays ended


def test_a_session_ends_after_the_absolute_timeout_however_used(
    cabinets: Cabinets, phone: Phone, clock: Clock
) -> None:
    token = login(cabinets, phone)
    active = cabinets.sessions.active(token)
    assert active is not None and active.expires_at == T0 + dt.timedelta(minutes=30)
    for _ in range(12 * 4 - 1):
        clock.move(minutes=15)
        assert cabinets.sessions.active(token) is not None
    clock.move(minutes=15)
    assert clock.now == T0 + dt.timedelta(hours=12)
    assert cabinets.sessions.active(token) is None


def test_logout_ends_the_session_everywhere(
    store: SqlStore, open_more: object, cabinets: Cabinets, phone: Phone, clock: Clock
) -> None:
    token = login(cabinets, phone)
    other = login(cabinets, phone)  # the same phone on another device
    elsewhere = Cabinets(open_more(), config(), phone, clock=clock)  # type: ignore[operator]
    assert elsewhere.sessions.active(token) is not None
    assert cabinets.sessions.logout(token)
    assert cabinets.sessions.active(token) is None
    assert elsewhere.sessions.active(token) is None  # another process on the store
    assert not cabinets.sessions.logout(token)
    assert cabinets.sessions.active(other) is not None
    assert cabinets.sessions.active("") is None
    assert cabinets.sessions.active("made-up") is None


def test_a_token_is_good_only_under_the_secret_that_made_it(
    store: SqlStore, cabinets: Cabinets, phone: Phone, clock: Clock
) -> None:
    token = login(cabinets, phone)
    rotated = Cabinets(store, CabinetConfig(secret="t" * 32), phone, clock=clock)
    assert rotated.sessions.active(token) is None


# -- linked accounts -------------------------------------------------------------------------


@pytest.fixture
def partners(store: SqlStore, tmp_path: Path) -> list[str]:
    """Three partners: the first two bill ACCOUNT at the house's кв. 12А, the third bills
    another account at the same premises."""
    runner = load_runner_config(example_config_path(), env=ENV, data=tmp_path)
    store.upsert_partners(p.partner for p in runner.partners)
    inns = [p.inn for p in runner.partners]
    assert len(inns) >= 3
    for i, inn in enumerate(inns[:3]):
        account = ACCOUNT if i < 2 else "5550001"
        flat = Premises("кв. 12А")
        records = [
            DebtRecord(account, HOUSE, flat, Decimal("1000.25"), service="Отопление"),
            DebtRecord(account, HOUSE, flat, Decimal("500.25"), service="Вода"),
        ]
        store.ingest_debt_registry(inn, Period(2026, 11), 1, records, sha256=f"s-{inn}")
    return inns


def _cabinet(cabinets: Cabinets, phone: Phone, number: str = PHONE) -> int:
    sent = cabinets.login.request_code(number, "10.0.0.1")
    return cabinets.login.confirm(sent.attempt, phone.code(), "10.0.0.1").cabinet_id


def test_an_account_is_linked_by_its_premises_and_amount_due(
    cabinets: Cabinets, phone: Phone, partners: list[str]
) -> None:
    me = _cabinet(cabinets, phone)
    linked = cabinets.accounts.link(me, partners[0], ACCOUNT, "12а", Decimal("1500.50"))
    assert (linked.partner_inn, linked.account, linked.linked_at) == (partners[0], ACCOUNT, T0)
    assert cabinets.accounts.linked(me) == [linked]
    scope = cabinets.accounts.scope(me)
    assert scope.sees_address(HOUSE.upper(), "Кв. 12а")
    assert not scope.sees_address(HOUSE, "13")
    (ticked,) = cabinets.store.acceptances(client_key(me))  # linking ticked the account
    cabinets.accounts.unlink(me, partners[0], ACCOUNT)
    assert cabinets.accounts.linked(me) == []
    # Unlinked, its tick is withdrawn (and kept, with when).
    assert cabinets.store.acceptances(client_key(me)) == []
    assert cabinets.store.withdrawn_acceptances(client_key(me)) == [(ticked, T0)]
    with pytest.raises(Exception) as caught:
        cabinets.accounts.unlink(me, partners[0], ACCOUNT)
    assert getattr(caught.value, "code", None) == "not-found"


@pytest.mark.parametrize(
    ("which", "account", "premises", "amount"),
    [
        ("wrong premises", ACCOUNT, "13", "1500.50"),
        ("wrong amount", ACCOUNT, "12А", "1500.49"),
        ("one service's amount", ACCOUNT, "12А", "1000.25"),
        ("no such account", "9999999", "12А", "1500.50"),
    ],
)
def test_a_wrong_proof_is_refused_as_a_missing_account_is(
    cabinets: Cabinets,
    phone: Phone,
    partners: list[str],
    which: str,
    account: str,
    premises: str,
    amount: str,
) -> None:
    me = _cabinet(cabinets, phone)
    with pytest.raises(LinkRefused) as caught:
        cabinets.accounts.link(me, partners[0], account, premises, Decimal(amount))
    assert (caught.value.code, caught.value.message, caught.value.field) == (
        LinkRefused().code,
        LinkRefused().message,
        LinkRefused().field,
    )
    assert cabinets.accounts.linked(me) == []


def test_failed_links_are_limited_per_cabinet(
    cabinets: Cabinets, phone: Phone, partners: list[str], clock: Clock
) -> None:
    me = _cabinet(cabinets, phone)
    other = _cabinet(cabinets, phone, "+79160000000")
    for _ in range(5):
        with pytest.raises(LinkRefused):
            cabinets.accounts.link(me, partners[0], ACCOUNT, "13", Decimal("1500.50"))
        clock.move(minutes=1)
    # Now even the right proof waits: guessing is not worth it.
    with pytest.raises(TooManyRequests) as caught:
        cabinets.accounts.link(me, partners[0], ACCOUNT, "12А", Decimal("1500.50"))
    assert caught.value.retry_after == dt.timedelta(minutes=55)
    cabinets.accounts.link(other, partners[0], ACCOUNT, "12А", Decimal("1500.50"))
    clock.move(minutes=55)
    cabinets.accounts.link(me, partners[0], ACCOUNT, "12А", Decimal("1500.50"))


def test_a_burst_of_guesses_at_once_cannot_pass_the_limit(
    cabinets: Cabinets, phone: Phone, partners: list[str]
) -> None:
    # Twenty wrong proofs sent at the same moment: each is counted before any is judged,
    # so exactly the limit's five are judged and the rest wait.
    me = _cabinet(cabinets, phone)
    start = threading.Barrier(20)
    outcomes: list[str] = []

    def guess(n: int) -> None:
        start.wait()
        try:
            cabinets.accounts.link(me, partners[0], ACCOUNT, str(100 + n), Decimal("1500.50"))
        except (LinkRefused, TooManyRequests) as exc:
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["LinkRefused"] * 5 + ["TooManyRequests"] * 15


def test_a_cabinet_sees_its_accounts_and_the_services_at_their_addresses(
    cabinets: Cabinets, phone: Phone, partners: list[str], store: SqlStore
) -> None:
    me = _cabinet(cabinets, phone)
    assert cabinets.accounts.scope(me).sees(store.find_services(HOUSE, "12А")) == []
    cabinets.accounts.link(me, partners[0], ACCOUNT, "12А", Decimal("1500.50"))
    seen = cabinets.accounts.scope(me).sees(store.find_services(HOUSE, "12А"))
    # Every partner's services at the premises, the third partner's other account too.
    assert {(s.partner_inn, s.account) for s in seen} == {
        (partners[0], ACCOUNT),
        (partners[1], ACCOUNT),
        (partners[2], "5550001"),
    }


# -- deleting a cabinet ----------------------------------------------------------------------


def test_deleting_a_cabinet_removes_its_phone_sessions_links_and_ticks(
    cabinets: Cabinets, phone: Phone, partners: list[str], store: SqlStore
) -> None:
    token = login(cabinets, phone)
    me = cabinets.sessions.active(token)
    assert me is not None
    cabinets.accounts.link(me.cabinet_id, partners[0], ACCOUNT, "12А", Decimal("1500.50"))
    with pytest.raises(LinkRefused):
        cabinets.accounts.link(me.cabinet_id, partners[0], ACCOUNT, "1", Decimal("1"))
    store.record_acceptance(Acceptance(client_key(me.cabinet_id), partners[0], ACCOUNT))
    other = _cabinet(cabinets, phone, "+79160000000")
    store.record_acceptance(Acceptance(client_key(other), partners[0], ACCOUNT))
    cabinets.delete(me.cabinet_id)
    assert store.cabinet(me.cabinet_id) is None and store.cabinet_by_phone(PHONE) is None
    assert cabinets.sessions.active(token) is None
    conn = store.dialect.connect()
    try:
        dump = ""
        for table in ("cabinets", "login_attempts", "cabinet_sessions", "cabinet_accounts",
                      "link_attempts", "acceptances"):  # fmt: skip
            dump += repr(conn.execute(f"SELECT * FROM {table}").fetchall())
    finally:
        conn.close()
    assert "9161234567" not in dump
    assert f"cabinet:{me.cabinet_id}'" not in dump
    assert f"cabinet:{other}'" in dump  # another cabinet keeps its own
    assert store.cabinet(other) is not None
    with pytest.raises(Exception) as caught:
        cabinets.delete(me.cabinet_id)
    assert getattr(caught.value, "code", None) == "not-found"


# -- the migration ---------------------------------------------------------------------------


def test_0007_is_applied_once_when_several_runners_start_together(store_url: str) -> None:
    def start(_: int) -> int:
        opened = open_store(store_url)  # each migrates on open
        try:
            return opened.schema_version()
        finally:
            opened.close()

    with ThreadPoolExecutor(4) as pool:
        versions = list(pool.map(start, range(4)))
    assert len(set(versions)) == 1 and versions[0] >= 7
    check = open_store(store_url)
    try:
        conn = check.dialect.connect()
        try:
            rows = conn.execute(
                "SELECT version, COUNT(*) FROM schema_migrations GROUP BY version"
            ).fetchall()
        finally:
            conn.close()
    finally:
        check.close()
    assert all(n == 1 for _, n in rows) and 7 in {v for v, _ in rows}
