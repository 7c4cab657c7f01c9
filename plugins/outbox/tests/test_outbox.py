"""The outbox channel: one JSON line per message, the kit's file mode, typed errors."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from pes_sdk_outbox import KINDS, OutboxChannel, OutboxFactory, read_outbox

from pes_sdk.errors import ConfigError, FormatError
from pes_sdk.notifications import (
    Button,
    ChannelUnavailable,
    Notification,
    NotificationChannel,
    SendResult,
    WrongKind,
)

PHONE = "+79161234567"
CODE_TEXT = "Код для входа в личный кабинет: 482913. Никому его не сообщайте — «ЖКХ-Оплата»"


@pytest.fixture(autouse=True)
def _default_file_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PES_FILE_MODE", raising=False)


@pytest.fixture
def umask_077() -> Iterator[None]:
    """A strict umask, as on a hardened host: the file mode must not depend on it."""
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


def sms(text: str = CODE_TEXT, to: str = PHONE) -> Notification:
    return Notification(kind="sms", to=to, text=text)


def channel(tmp_path: Path) -> OutboxChannel:
    return OutboxFactory().create({"path": str(tmp_path / "data" / "outbox" / "sms.jsonl")})


def test_each_send_appends_one_line_with_its_fields(tmp_path: Path) -> None:
    ch = channel(tmp_path)
    assert isinstance(ch, NotificationChannel)
    before = dt.datetime.now(dt.UTC)
    first = ch.send(sms())
    second = ch.send(Notification(kind="email", to="ivanova@example.ru", text="Чек №17"))
    after = dt.datetime.now(dt.UTC)

    raw = ch.path.read_bytes()
    assert raw.endswith(b"\n") and raw.count(b"\n") == 2
    assert CODE_TEXT.encode("utf-8") in raw  # Cyrillic as is, not \u escapes
    lines = [json.loads(line) for line in raw.decode("utf-8").splitlines()]
    assert lines[0]["to"] == PHONE and lines[0]["text"] == CODE_TEXT
    assert lines[0]["kind"] == "sms" and lines[0]["id"] == first.message_id
    assert lines[1]["to"] == "ivanova@example.ru" and lines[1]["kind"] == "email"
    assert lines[1]["id"] == second.message_id != first.message_id
    for line, result in zip(lines, (first, second), strict=True):
        assert {"to", "text", "at"} <= set(line)
        at = dt.datetime.fromisoformat(line["at"])
        assert at.utcoffset() == dt.timedelta(0)
        assert before <= at <= after
        assert isinstance(result, SendResult) and result.accepted_at == at
        assert result.accepted_at.tzinfo is dt.UTC

    assert list(read_outbox(ch.path)) == lines


def test_a_new_file_gets_the_kit_file_mode_whatever_the_umask(
    tmp_path: Path, umask_077: None
) -> None:
    ch = channel(tmp_path)
    assert not ch.path.parent.exists()  # building the channel creates nothing
    ch.send(sms())
    assert stat.S_IMODE(ch.path.stat().st_mode) == 0o640


def test_pes_file_mode_sets_another_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PES_FILE_MODE", "0600")
    ch = channel(tmp_path)
    ch.send(sms())
    assert stat.S_IMODE(ch.path.stat().st_mode) == 0o600


def test_an_existing_file_keeps_its_mode_and_its_lines(tmp_path: Path) -> None:
    path = tmp_path / "sms.jsonl"
    path.write_text('{"to": "+70000000000", "text": "old", "at": "x"}\n', encoding="utf-8")
    path.chmod(0o600)
    OutboxChannel(path).send(sms())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [m["text"] for m in read_outbox(path)] == ["old", CODE_TEXT]


def test_a_kind_the_channel_does_not_carry_is_wrong_kind(tmp_path: Path) -> None:
    ch = channel(tmp_path)
    assert ch.kinds == KINDS == ("sms", "email", "push")
    # a kind no channel knows is refused where the notification is made
    with pytest.raises(ValueError, match="'telegram'"):
        Notification(kind="telegram", to="@someone", text="hi")

    sms_only = OutboxChannel(tmp_path / "x.jsonl", kinds=("sms",))
    with pytest.raises(WrongKind, match=r"carries sms") as caught:
        sms_only.send(Notification(kind="push", to="token", text="hi"))
    assert caught.value.channel == "outbox" and caught.value.kind == "push"
    assert not sms_only.path.exists()


@pytest.mark.parametrize("settings", [{}, {"path": ""}, {"path": "  "}, {"other": "x"}])
def test_a_missing_path_setting_is_a_clear_config_error(settings: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="needs the setting 'path'"):
        OutboxFactory().create(settings)


def test_a_folder_as_path_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a folder"):
        OutboxFactory().create({"path": str(tmp_path)})


def test_an_unwritable_outbox_is_unavailable_and_names_no_phone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    ch = OutboxChannel(blocker / "sms.jsonl")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ChannelUnavailable) as caught:
        ch.send(sms())
    assert caught.value.channel == "outbox"
    assert PHONE not in str(caught.value) and PHONE not in repr(caught.value)
    assert PHONE not in caplog.text


def test_sending_logs_nothing_about_the_recipient(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ch = channel(tmp_path)
    ch.send(sms())
    assert PHONE not in caplog.text
    assert PHONE not in repr(ch) and PHONE not in repr(sms())


def test_read_outbox_of_a_missing_file_is_empty_and_a_broken_line_is_named(
    tmp_path: Path,
) -> None:
    assert list(read_outbox(tmp_path / "none.jsonl")) == []
    path = tmp_path / "sms.jsonl"
    path.write_text('{"to": "+7", "text": "a", "at": "b"}\n\n{"to": \n[1]\n', encoding="utf-8")
    with pytest.raises(FormatError, match="not JSON") as caught:
        list(read_outbox(path))
    assert caught.value.line == 3
    path.write_text("[1]\n", encoding="utf-8")
    with pytest.raises(FormatError, match="not a JSON object"):
        list(read_outbox(path))


def test_push_fields_are_written_and_one_key_is_one_line(tmp_path: Path) -> None:
    ch = channel(tmp_path)
    push = Notification(
        kind="push",
        to="fcm-token-1",
        text="Начислено 1 234,56 руб. за ноябрь",
        title="Начисление",
        image="https://cdn.example.ru/42.png",
        buttons=[Button("Оплатить", "https://pay.example.ru/1")],
        data={"campaign": "42"},
        key="campaign:42/client:7/device:1",
        collapse="charges",
    )
    first = ch.send(push)
    assert ch.send(push) == first  # the same key again: the first answer, no second line
    (line,) = read_outbox(ch.path)
    assert line["key"] == "campaign:42/client:7/device:1" and line["id"] == first.message_id
    assert (line["title"], line["image"], line["collapse"]) == (
        "Начисление",
        "https://cdn.example.ru/42.png",
        "charges",
    )
    assert line["buttons"] == [{"label": "Оплатить", "url": "https://pay.example.ru/1"}]
    assert line["data"] == {"campaign": "42"}
    ch.send(sms())  # a login code: no title, no image; a key of its own
    assert set(list(read_outbox(ch.path))[1]) == {"to", "text", "at", "kind", "id", "key"}


def test_one_key_is_one_line_across_processes_and_a_rotated_file_starts_afresh(
    tmp_path: Path,
) -> None:
    # Two channel objects on one file stand for two processes of a fleet (each object keeps
    # its own memory; only the file and its lock are shared): a runner re-sends a push with
    # its key after a SIGKILL, possibly from another worker.
    first, second = channel(tmp_path), channel(tmp_path)
    push = Notification(kind="push", to="fcm-token-1", text="Начислено", key="trigger:1/c:7/d:1")
    sent = first.send(push)
    second.send(sms())  # the other process writes meanwhile: it is read past, not lost
    again = second.send(push)
    assert again.message_id == sent.message_id  # the first answer, nothing written
    lines = list(read_outbox(first.path))
    assert [line["key"] for line in lines] == [push.key, lines[1]["key"]]
    assert first.send(sms(text="новый код")) != again  # the first object reads on too
    assert len(list(read_outbox(first.path))) == 3
    # A file rotated away (an operator's logrotate): the next one is read from its start,
    # not from where the old one was read up to.
    first.path.rename(first.path.with_suffix(".old"))
    later = sms(text="после ротации")
    second.send(later)
    third = channel(tmp_path)  # a process started after the rotation
    assert third.send(push).message_id != sent.message_id  # not in the new file: written
    assert second.send(push).message_id == sent.message_id  # this object answered it before
    assert [line["key"] for line in read_outbox(first.path)] == [later.key, push.key]
