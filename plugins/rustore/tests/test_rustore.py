"""The RuStore channel against the RuStore simulator, over real loopback connections."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from pes_sdk_rustore import RuStoreFactory, build_message
from pes_sdk_rustore.simulator import SERVICE_TOKEN, RuStoreHarness

from pes_sdk.errors import ConfigError
from pes_sdk.http import HttpClient
from pes_sdk.notifications import (
    Button,
    ChannelError,
    ChannelUnavailable,
    DeadRecipient,
    Notification,
    RecipientRefused,
    key_uuid,
)

TEXT = "Начислено 1 234,56 руб. за ноябрь — ООО «Теплосеть»"
IMAGE = "https://cdn.example.ru/campaigns/42/banner.png"


@pytest.fixture
def harness() -> Iterator[RuStoreHarness]:
    with RuStoreHarness(timeout=1.0) as h:
        yield h


def push(to: str, **extra: object) -> Notification:
    return Notification("push", to, TEXT, **extra)  # type: ignore[arg-type]


def settings_error(harness: RuStoreHarness, **change: str) -> ChannelError:
    """What a push raises through a channel built with the harness's settings and
    ``change`` (the harness's own channel when no change): a plain :class:`ChannelError`,
    the settings' fault, neither a dead token nor a temporary failure."""
    channel = RuStoreFactory().create({**harness.settings, **change}) if change else harness.channel
    try:
        with pytest.raises(ChannelError) as caught:
            channel.send(push(harness.recipient))
    finally:
        if change:
            channel.close()
    assert type(caught.value) is ChannelError, "no token may be deleted for the settings' fault"
    return caught.value


def test_message_arrives_as_rustore_documents_it(harness: RuStoreHarness) -> None:
    notification = push(
        harness.recipient,
        title="Начисление за ноябрь",
        image=IMAGE,
        buttons=(
            Button("Оплатить", "https://pay.example.ru/pay?account=0000123"),
            Button("Передать показания", "https://example.ru/readings"),
            Button("Подробнее", "https://example.ru/news/42"),
        ),
        data={"campaign": "42", "screen": "оплата"},
        collapse="charges-2026-11",
        key="campaign:42/client:1017/device:89",
    )
    result = harness.channel.send(notification)
    assert harness.simulator.messages == [
        {
            "token": harness.recipient,
            "notification": {"title": "Начисление за ноябрь", "body": TEXT, "image": IMAGE},
            "data": {
                "campaign": "42",
                "screen": "оплата",
                "button_count": "3",
                "button_1_label": "Оплатить",
                "button_1_url": "https://pay.example.ru/pay?account=0000123",
                "button_2_label": "Передать показания",
                "button_2_url": "https://example.ru/readings",
                "button_3_label": "Подробнее",
                "button_3_url": "https://example.ru/news/42",
            },
            # no collapse key: RuStore documents none
            "android": {"notification": {"image": IMAGE}},
        }
    ]
    (raw,) = harness.simulator.raw
    assert TEXT.encode("utf-8") in raw  # Cyrillic as UTF-8, not \u escapes
    assert result.message_id == f"rustore-{key_uuid(notification.key)}"
    assert build_message(notification) == {"message": harness.simulator.messages[0]}


def test_text_only_message(harness: RuStoreHarness) -> None:
    harness.channel.send(push(harness.recipient))
    assert harness.simulator.messages == [
        {"token": harness.recipient, "notification": {"body": TEXT}}
    ]


def test_button_data_keys_are_reserved(harness: RuStoreHarness) -> None:
    with pytest.raises(ChannelError) as caught:
        harness.channel.send(push(harness.recipient, data={"button_1_url": "x"}))
    assert caught.value.code == "data"
    assert harness.simulator.requests == 0


def test_unknown_token_is_dead(harness: RuStoreHarness) -> None:
    harness.simulator.unregister(harness.recipient)
    with pytest.raises(DeadRecipient) as caught:
        harness.channel.send(push(harness.recipient))
    assert caught.value.code == "NOT_FOUND"
    assert harness.simulator.requests == 1


def test_bad_request_is_refused_not_dead(harness: RuStoreHarness) -> None:
    harness.simulator.fail_next("invalid-argument")
    with pytest.raises(RecipientRefused) as caught:
        harness.channel.send(push(harness.recipient))
    assert not isinstance(caught.value, DeadRecipient)
    assert caught.value.code == "INVALID_ARGUMENT"


@pytest.mark.parametrize(
    ("fault", "code", "retry_after"),
    [
        ("throttled", "RESOURCE_EXHAUSTED", 12),
        ("unavailable", "UNAVAILABLE", None),
        ("internal", "INTERNAL", 3),
    ],
)
def test_throttled_and_failing_rustore_is_unavailable(
    harness: RuStoreHarness, fault: str, code: str, retry_after: int | None
) -> None:
    harness.simulator.fail_next(fault, retry_after=retry_after)
    with pytest.raises(ChannelUnavailable) as caught:
        harness.channel.send(push(harness.recipient))
    assert (caught.value.code, caught.value.retry_after) == (code, retry_after)
    assert harness.simulator.requests == 1


def test_wrong_service_token_is_a_settings_error(
    harness: RuStoreHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PES_OTHER_TOKEN", "a-revoked-token")
    error = settings_error(harness, service_token_env="PES_OTHER_TOKEN")
    assert error.code == "UNAUTHENTICATED"
    assert harness.simulator.requests == 1, "a static token: no repeat"
    assert "a-revoked-token" not in str(error)


def test_wrong_project_is_a_settings_error_not_a_dead_token(harness: RuStoreHarness) -> None:
    error = settings_error(harness, project_id="someone-elses")
    assert error.code == "PERMISSION_DENIED"


def test_404_without_an_error_body_is_not_a_dead_token(harness: RuStoreHarness) -> None:
    # a wrong endpoint path: a plain 404 page, which must not delete anybody's token
    error = settings_error(harness, endpoint=harness.simulator.endpoint + "/wrong")
    assert error.code == "404"


def test_stalled_rustore_is_unavailable_within_the_timeout(harness: RuStoreHarness) -> None:
    harness.simulator.fail_next("stall")
    try:
        with pytest.raises(ChannelUnavailable) as caught:
            harness.channel.send(push(harness.recipient))
    finally:
        harness.heal()
    assert caught.value.code == "timeout"


def test_nothing_secret_in_the_debug_log(
    harness: RuStoreHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    harness.channel.send(push(harness.recipient))
    harness.simulator.unregister(harness.recipient)
    with pytest.raises(DeadRecipient) as caught:
        harness.channel.send(push(harness.recipient))
    assert "POST" in caplog.text
    shown = caplog.text + repr(harness.channel) + str(caught.value) + repr(caught.value)
    for secret in (harness.recipient, SERVICE_TOKEN):
        assert secret not in shown


@pytest.mark.parametrize(
    "message",
    [
        {"notification": {"body": "x", "subtitle": "y"}},
        {"android": {"collapse_key": "c"}},
        {"android": {"ttl": "3600"}},
        {"android": {"notification": {"color": "red"}}},
        {"android": {"notification": {"click_action_type": 2}}},
        {"data": {"n": 1}},
    ],
)
def test_simulator_refuses_what_rustore_does_not_document(
    harness: RuStoreHarness, message: dict[str, object]
) -> None:
    with HttpClient(harness.simulator.endpoint, timeout=2.0) as client:
        answer = client.send(
            "POST",
            f"/v1/projects/{harness.simulator.project_id}/messages:send",
            json={"message": {"token": harness.recipient, **message}},
            headers={"Authorization": f"Bearer {SERVICE_TOKEN}"},
        )
    assert answer.status == 400
    assert answer.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert harness.simulator.messages == []


def test_settings_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    factory = RuStoreFactory()
    monkeypatch.delenv("PES_RUSTORE_SERVICE_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="project_id"):
        factory.create({})
    with pytest.raises(ConfigError, match="PES_RUSTORE_SERVICE_TOKEN, which is not set"):
        factory.create({"project_id": "p-1"})
    with pytest.raises(ConfigError, match="environment variable"):
        factory.create({"project_id": "p-1", "service_token": "in-a-file"})
    monkeypatch.setenv("PES_RUSTORE_SERVICE_TOKEN", "tok")
    with pytest.raises(ConfigError, match="endpoint"):
        factory.create({"project_id": "p-1", "endpoint": "http://vkpns.rustore.ru"})
    with pytest.raises(ConfigError, match="service_token_env"):
        factory.create({"project_id": "p-1", "service_token_env": "NOT A NAME"})
    with pytest.raises(ConfigError, match="timeout"):
        factory.create({"project_id": "p-1", "timeout": "nan"})
    monkeypatch.setenv("PES_RUSTORE_SERVICE_TOKEN", "tok with space")
    with pytest.raises(ConfigError) as caught:
        factory.create({"project_id": "p-1"})
    assert "tok with space" not in str(caught.value)
