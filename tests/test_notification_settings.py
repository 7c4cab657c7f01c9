"""pes_sdk.notifications.settings: the checks every channel factory makes of its settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from pes_sdk.errors import ConfigError
from pes_sdk.notifications.settings import ChannelSettings, is_loopback_url

KNOWN = ("host", "timeout", "ttl", "debug", "mode", "endpoint", "ca_file")


def read(**values: str) -> ChannelSettings:
    return ChannelSettings(values, channel="Demo", known=(*KNOWN, "key_file", "key_env"))


def test_an_unknown_setting_is_named_with_the_known_ones_and_a_hint() -> None:
    with pytest.raises(ConfigError, match=r"Demo settings: unknown 'hots'; known: host, ") as e:
        ChannelSettings({"hots": "x"}, channel="Demo", known=KNOWN)
    assert "(" not in str(e.value)
    with pytest.raises(ConfigError, match=r"unknown 'token' \(use an environment variable\)"):
        ChannelSettings(
            {"token": "s3cr3t"},
            channel="Demo",
            known=KNOWN,
            hints={"token": "use an environment variable"},
        )


def test_text_and_required() -> None:
    values = read(host="  smtp.example.ru ", mode=" ")
    assert values.text("host") == "smtp.example.ru"
    assert values.text("mode", "fast") == "fast" and not values.given("mode")
    assert values.required("host", "the server") == "smtp.example.ru"
    with pytest.raises(ConfigError, match="the Demo channel needs the setting 'mode': a mode"):
        values.required("mode", "a mode")


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("0", "more than 0 and at most 300 s, not 0"),
        ("301", "at most 300 s"),
        ("-1", "not -1"),
        ("nan", "not a number: 'nan'"),
        ("inf", "not a number: 'inf'"),
        ("ten", "not a number: 'ten'"),
    ],
)
def test_a_bad_timeout_is_refused(raw: str, says: str) -> None:
    with pytest.raises(ConfigError, match=f"Demo setting 'timeout': .*{says}"):
        read(timeout=raw).timeout()


def test_timeout_default_and_value() -> None:
    assert read().timeout() == 10.0
    assert read(timeout=" 2.5 ").timeout() == 2.5
    assert read().timeout(5.0, most=5.0) == 5.0


def test_integer_is_whole_and_in_range() -> None:
    assert read().integer("ttl", 60, low=0, high=100) == 60
    assert read(ttl="0").integer("ttl", 60, low=0, high=100) == 0
    assert read(ttl="100").integer("ttl", 60, low=0, high=100) == 100
    for raw in ("101", "-1", "1.5"):
        with pytest.raises(ConfigError, match=f"'ttl': 0 to 100, not '{raw}'"):
            read(ttl=raw).integer("ttl", 60, low=0, high=100)
    with pytest.raises(ConfigError, match="'ttl': whole seconds up to a day, not '1e9'"):
        read(ttl="1e9").integer("ttl", 60, low=0, high=86400, span="whole seconds up to a day")


def test_flag_and_choice() -> None:
    assert read().flag("debug") is False and read().flag("debug", default=True) is True
    assert read(debug="Yes").flag("debug") is True and read(debug="off").flag("debug") is False
    with pytest.raises(ConfigError, match="'debug': true or false, not 'maybe'"):
        read(debug="maybe").flag("debug")
    assert read(mode="TLS").choice("mode", ("starttls", "tls", "none"), "starttls") == "tls"
    assert read().choice("mode", ("starttls", "tls", "none"), "starttls") == "starttls"
    with pytest.raises(ConfigError, match="'mode': starttls, tls or none, not 'ssl'"):
        read(mode="ssl").choice("mode", ("starttls", "tls", "none"), "starttls")
    with pytest.raises(ConfigError, match="'mode': a or b, not 'c'"):
        read(mode="c").choice("mode", ("a", "b"), "a")


def test_endpoint_is_https_or_http_to_loopback() -> None:
    assert read().endpoint("https://api.example.ru") == "https://api.example.ru"
    assert read(endpoint="https://r.example.ru/").endpoint("x") == "https://r.example.ru"
    for url in ("http://127.0.0.1:8080", "http://localhost", "http://[::1]:1"):
        assert read(endpoint=url).endpoint("x") == url
    for url in ("http://api.example.ru", "ftp://127.0.0.1", "api.example.ru"):
        with pytest.raises(ConfigError, match=r"'endpoint': an https URL .*loopback"):
            read(endpoint=url).endpoint("https://api.example.ru")
    assert is_loopback_url("http://127.8.0.1/") and not is_loopback_url("http://10.0.0.1")


def test_file(tmp_path: Path) -> None:
    present = tmp_path / "ca.pem"
    present.write_text("x")
    assert read().file("ca_file") is None
    assert read(ca_file=str(present)).file("ca_file") == present
    with pytest.raises(ConfigError, match=r"'ca_file': '.*missing.pem' is not a file"):
        read(ca_file=str(tmp_path / "missing.pem")).file("ca_file")


def test_secret_env_reads_the_variable_the_setting_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PES_DEMO_TOKEN", "tok-1")
    monkeypatch.delenv("PES_DEMO_NOPE", raising=False)
    values = read(key_env="PES_DEMO_TOKEN")
    assert values.secret_env("key_env", "token") == "tok-1"
    assert read().secret_env("key_env", "token", default="PES_DEMO_TOKEN") == "tok-1"
    with pytest.raises(ConfigError, match=r"reads its token from the .* PES_DEMO_NOPE, which is"):
        read(key_env="PES_DEMO_NOPE").secret_env("key_env", "token")
    with pytest.raises(ConfigError, match="'key_env': the name of an environment variable"):
        read(key_env="NOT A NAME").secret_env("key_env", "token")
    with pytest.raises(ConfigError, match="needs the setting 'key_env'"):
        read().secret_env("key_env", "token")


def test_file_or_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pem = "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LW1hdGVyaWFs\n-----END PRIVATE KEY-----\n"
    key = tmp_path / "key.pem"
    key.write_text(pem)
    assert read(key_file=str(key)).file_or_env("key_file", "key_env", "the key") == pem.encode()
    # a PEM put on one line, as .env files hold it
    monkeypatch.setenv("PES_DEMO_KEY", pem.replace("\n", "\\n"))
    assert read(key_env="PES_DEMO_KEY").file_or_env("key_file", "key_env", "k") == pem.encode()
    for given in ({}, {"key_file": str(key), "key_env": "PES_DEMO_KEY"}):
        with pytest.raises(ConfigError, match=r"one of the settings 'key_file' .* or 'key_env'"):
            read(**given).file_or_env("key_file", "key_env", "the key")
    with pytest.raises(ConfigError, match=r"'key_file': cannot read .*nope.pem") as caught:
        read(key_file=str(tmp_path / "nope.pem")).file_or_env("key_file", "key_env", "k")
    monkeypatch.setenv("PES_DEMO_KEY", "")
    with pytest.raises(ConfigError, match="PES_DEMO_KEY, which is not set"):
        read(key_env="PES_DEMO_KEY").file_or_env("key_file", "key_env", "the key")
    assert "c2VjcmV0" not in str(caught.value)
