"""GIS.toml: the documented example loads; problems name the file and the key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pes_sdk_gis_zhkh import FORMAT_PACKAGE_ENV, GisConfigError, NotificationForm, load_config

DOC = Path(__file__).resolve().parents[3] / "docs" / "gis-zhkh.md"


def _doc_example() -> str:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(r"```toml\n(# GIS\.toml.*?)```", text, re.S)
    assert match, "docs/gis-zhkh.md has a ```toml block starting with '# GIS.toml'"
    return match.group(1)


def test_documented_example_loads(tmp_path, package, monkeypatch):
    monkeypatch.setenv(FORMAT_PACKAGE_ENV, str(package))
    path = tmp_path / "GIS.toml"
    # the example points at the package relative to the repository; point it here instead
    text = re.sub(r'format_package = "[^"]*".*\n', "", _doc_example())
    path.write_text(text, encoding="utf-8")
    config = load_config(path)
    assert config.format_package == package.resolve()
    assert config.batch_size == 500
    assert config.form is NotificationForm.FULL
    assert config.operation_timeout > 0 and config.timeout > 0
    assert config.partners_file == tmp_path / "PARTNERS.toml"
    assert "COLD_WATER" in config.resources


def _write(tmp_path, body):
    path = tmp_path / "GIS.toml"
    path.write_text(body, encoding="utf-8")
    return path


BASE = """
[gis]
payment_endpoint = "http://127.0.0.1:8443/ext-bus-payment-service/services/PaymentAsync"
org_ppa_guid = "5c1a7e4e-0a3f-4d43-9d1b-0e0f4f0f2a11"
"""


def test_relative_format_package_is_relative_to_the_file(tmp_path, package):
    path = _write(tmp_path, BASE + f'format_package = "{package}"\n')
    assert load_config(path).format_package == package.resolve()


def test_missing_package_is_a_config_error(tmp_path, monkeypatch):
    monkeypatch.delenv(FORMAT_PACKAGE_ENV, raising=False)
    with pytest.raises(GisConfigError, match="no ГИС ЖКХ format package"):
        load_config(_write(tmp_path, BASE))
    with pytest.raises(GisConfigError, match=r"hcs-payment-service-async\.wsdl is missing"):
        load_config(_write(tmp_path, BASE + 'format_package = "nowhere"\n'))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("batch_size = 501\n", "batch_size must be 1..500"),
        ("colour = 1\n", "unknown key"),
        ('form = "medium"\n', "medium"),
        ("[gis.timeouts]\noperation_timeout = 0\n", "operation_timeout must be a positive"),
        ('[gis.signer]\nkind = "gost-magic"\n', "unknown signer"),
        ('[gis.devices]\n"E-1" = "not-a-guid"\n', "not a GUID"),
        ('online_channels = "sbp"\n', "online_channels must be an array of text"),
    ],
)
def test_problems_name_file_and_key(tmp_path, package, extra, message):
    path = _write(tmp_path, BASE + f'format_package = "{package}"\n' + extra)
    with pytest.raises(GisConfigError, match=message) as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_not_toml(tmp_path):
    with pytest.raises(GisConfigError, match="not valid TOML"):
        load_config(_write(tmp_path, "[gis\n"))
