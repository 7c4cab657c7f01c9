"""The e-mail channel against a real SMTP server on loopback: the message as received,
TLS verified, AUTH, SMTP answers mapped to errors, settings refused with their name."""

from __future__ import annotations

import email.utils
from collections.abc import Iterator
from pathlib import Path

import pytest
from pes_sdk_email import EmailFactory, message_id
from smtp_simulator import PASSWORD, RECIPIENT, USERNAME, SmtpSimulator

from pes_sdk.errors import ConfigError
from pes_sdk.notifications import (
    Button,
    ChannelError,
    ChannelUnavailable,
    DeadRecipient,
    Notification,
    RecipientRefused,
)

SUBJECT = "Начислено за ноябрь: 1 234,56 ₽ — ООО «Теплосеть»"
BODY = "Здравствуйте, Мария Ивановна!\nНачислено 1 234,56 руб. за ноябрь.\nОплатите до 25-го."


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpSimulator]:
    with SmtpSimulator(tmp_path) as sim:
        yield sim


def letter(**extra: object) -> Notification:
    values: dict[str, object] = {"title": SUBJECT, "key": "trigger:charges/client:1017"}
    values.update(extra)
    return Notification("email", RECIPIENT, BODY, **values)  # type: ignore[arg-type]


def test_cyrillic_subject_sender_and_body_round_trip(smtp: SmtpSimulator) -> None:
    result = smtp.channel.send(letter())
    (mail_from, rcpt_tos, raw) = smtp.messages[0]
    assert (mail_from, rcpt_tos) == ("noreply@zhkh-oplata.ru", [RECIPIENT])
    assert raw.isascii(), "headers RFC 2047-encoded, the body in a transfer encoding"
    msg = smtp.parsed()
    assert msg["Subject"] == SUBJECT
    assert msg["From"].addresses[0].display_name == "ЖКХ-Оплата «Поставщик»"
    assert msg["From"].addresses[0].addr_spec == "noreply@zhkh-oplata.ru"
    assert msg["To"].addresses[0].addr_spec == RECIPIENT
    assert msg["Reply-To"].addresses[0].addr_spec == "support@zhkh-oplata.ru"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content_charset() == "utf-8"
    assert msg.get_content().replace("\r\n", "\n") == BODY + "\n"  # CRLF on the wire
    assert msg["Message-ID"] == f"<{result.message_id}>"
    assert email.utils.parsedate_to_datetime(msg["Date"]).utcoffset() is not None
    assert smtp.logins == [(USERNAME, PASSWORD)], "AUTH PLAIN with a Cyrillic password"


def test_image_and_buttons_make_an_html_alternative(smtp: SmtpSimulator) -> None:
    smtp.channel.send(
        letter(
            image="https://cdn.example.ru/c/42.png?a=1&b=2",
            buttons=[Button("Оплатить", "https://pay.example.ru/?acc=1&s=<x>")],
        )
    )
    msg = smtp.parsed()
    assert msg.get_content_type() == "multipart/alternative"
    plain = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert plain is not None and html is not None
    assert "Оплатить: https://pay.example.ru/?acc=1&s=<x>" in plain.get_content()
    page = html.get_content()
    assert '<img src="https://cdn.example.ru/c/42.png?a=1&amp;b=2"' in page
    assert '<a href="https://pay.example.ru/?acc=1&amp;s=&lt;x&gt;">Оплатить</a>' in page
    assert "<p>Начислено 1 234,56 руб. за ноябрь.</p>" in page


def test_message_id_follows_the_key(smtp: SmtpSimulator, tmp_path: Path) -> None:
    first = smtp.channel.send(letter(key="campaign:42/client:7/device:1"))
    # another channel object (as after a restart) sends the same key with the same id
    (tmp_path / "b").mkdir()
    with SmtpSimulator(tmp_path / "b") as other:
        again = other.channel.send(letter(key="campaign:42/client:7/device:1"))
    assert first.message_id == again.message_id
    assert first.message_id == message_id("campaign:42/client:7/device:1", "noreply@zhkh-oplata.ru")
    assert smtp.channel.send(letter(key="campaign:42/client:8/device:1")).message_id != (
        first.message_id
    )
    assert first.message_id.endswith("@zhkh-oplata.ru")


def test_a_title_less_notification_takes_its_first_line(smtp: SmtpSimulator) -> None:
    smtp.channel.send(letter(title=""))
    assert smtp.parsed()["Subject"] == "Здравствуйте, Мария Ивановна!"


def test_a_wrong_password_is_a_channel_error_naming_no_secret(tmp_path: Path) -> None:
    with (
        SmtpSimulator(tmp_path, settings={"password": "wrong-Пароль"}) as sim,
        pytest.raises(ChannelError) as caught,
    ):
        sim.channel.send(letter())
    assert type(caught.value) is ChannelError, "neither temporary nor the recipient's fault"
    assert caught.value.code.startswith("535")
    assert "wrong" not in str(caught.value) and "wrong" not in repr(sim.channel)
    assert sim.received() == 0


def test_an_untrusted_certificate_is_refused(tmp_path: Path) -> None:
    with SmtpSimulator(tmp_path) as sim:
        settings = {k: v for k, v in sim.settings.items() if k != "ca_file"}
        channel = EmailFactory().create(settings)  # the system's CAs know no throwaway CA
        with pytest.raises(ChannelError, match="not trusted") as caught:
            channel.send(letter())
    assert caught.value.code == "tls"
    assert sim.logins == [] and sim.received() == 0, "nothing is said before TLS is verified"


def test_starttls_missing_is_refused_not_skipped(tmp_path: Path) -> None:
    # a server (or a man in the middle) that offers no STARTTLS gets no password
    with SmtpSimulator(tmp_path, security="none", auth=True) as sim:
        settings = dict(sim.settings, security="starttls")
        with pytest.raises(ChannelError, match="does not offer STARTTLS"):
            EmailFactory().create(settings).send(letter())
    assert sim.logins == [] and sim.received() == 0


def test_plain_smtp_on_loopback_without_auth(tmp_path: Path) -> None:
    with SmtpSimulator(tmp_path, security="none", auth=False) as sim:
        sim.channel.send(letter())
    assert sim.received() == 1


@pytest.mark.parametrize(
    ("answer", "error", "code"),
    [
        ("dead", DeadRecipient, "550 5.1.1"),
        ("refused", RecipientRefused, "553 5.1.3"),
        ("throttled", ChannelUnavailable, "451 4.7.1"),
        ("unavailable", ChannelUnavailable, "421 4.3.2"),
        ("dead-without-enhanced-code", DeadRecipient, "550"),
        ("policy", RecipientRefused, "550 5.7.1"),
        ("not-local", RecipientRefused, "551 5.1.6"),
    ],
)
def test_smtp_answers_map_to_errors_with_their_code(
    smtp: SmtpSimulator, answer: str, error: type[ChannelError], code: str
) -> None:
    smtp.fail_next(answer)
    with pytest.raises(error) as caught:
        smtp.channel.send(letter())
    assert type(caught.value) is error
    assert caught.value.code == code
    assert RECIPIENT not in str(caught.value), "the server's text quotes the address"


def test_a_server_that_is_not_there_is_unavailable(tmp_path: Path) -> None:
    with SmtpSimulator(tmp_path) as sim:
        settings = sim.settings
    with pytest.raises(ChannelUnavailable) as caught:  # the server has stopped
        EmailFactory().create(settings).send(letter())
    assert caught.value.code == "connection"


def test_an_address_that_cannot_be_one_is_refused_for_good(smtp: SmtpSimulator) -> None:
    for bad in ("not-an-address", "a@b\r\nBcc: x@y.ru", "Мария@пример.рф"):
        with pytest.raises(RecipientRefused):
            smtp.channel.send(Notification("email", bad, "x"))
    assert smtp.requests() == 0


def test_a_cyrillic_domain_is_sent_as_idna(smtp: SmtpSimulator) -> None:
    smtp.channel.send(Notification("email", "info@пример.рф", "x"))
    assert smtp.messages[0][1] == ["info@xn--e1afmkfd.xn--p1ai"]


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({}, "needs the setting 'host'"),
        ({"host": "smtp.example.ru"}, "needs the setting 'from_address'"),
        ({"host": "smtp.example.ru", "from_address": "x"}, "'from_address'"),
        ({"host": "smtp.example.ru", "from_address": "a@b.ru", "security": "ssl"}, "starttls"),
        ({"host": "smtp.example.ru", "from_address": "a@b.ru", "security": "none"}, "loopback"),
        ({"host": "smtp.example.ru", "from_address": "a@b.ru", "port": "70000"}, "'port'"),
        ({"host": "smtp.example.ru", "from_address": "a@b.ru", "timeout": "0"}, "'timeout'"),
        ({"host": "smtp.example.ru", "from_address": "a@b.ru", "timeout": "inf"}, "'timeout'"),
        ({"host": "smtp.example.ru", "from_address": "a@b.ru", "password": "p"}, "'username'"),
        ({"host": "smtp.example.ru", "from_address": "a@b.ru", "ca_file": "/nope"}, "'ca_file'"),
        ({"host": "smtp.example.ru", "from_address": "a@b.ru", "passwd": "p"}, "'passwd'"),
    ],
)
def test_wrong_settings_are_config_errors_naming_the_setting(
    settings: dict[str, str], words: str
) -> None:
    with pytest.raises(ConfigError, match=words):
        EmailFactory().create(settings)


def test_defaults_and_the_repr_hides_the_password() -> None:
    channel = EmailFactory().create(
        {"host": "smtp.example.ru", "from_address": "a@b.ru", "username": "u", "password": "pw1"}
    )
    assert (channel.settings.port, channel.settings.security, channel.timeout) == (
        587,
        "starttls",
        10.0,
    )
    assert "pw1" not in repr(channel) and "pw1" not in repr(channel.settings)
    assert (
        EmailFactory()
        .create({"host": "smtp.example.ru", "from_address": "a@b.ru", "security": "tls"})
        .settings.port
        == 465
    )
