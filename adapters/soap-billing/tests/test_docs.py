"""docs/soap-billing.md keeps up with the contract: every operation, fault code and setting."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from lxml import etree
from pes_sdk_soap_billing import plugin
from pes_sdk_soap_billing.client import wsdl_path
from pes_sdk_soap_billing.server import OPERATIONS

DOC = Path(__file__).resolve().parents[3] / "docs" / "soap-billing.md"
XS = "{http://www.w3.org/2001/XMLSchema}"


def _enumeration(name: str) -> list[str]:
    xsd = etree.parse(str(wsdl_path().parent / "billing.xsd"))
    node = xsd.find(f"{XS}simpleType[@name='{name}']")
    assert node is not None
    return [e.get("value", "") for e in node.iter(f"{XS}enumeration")]


def test_every_operation_and_fault_code_is_documented() -> None:
    doc = DOC.read_text(encoding="utf-8")
    for name in (*OPERATIONS, *_enumeration("FaultCode"), *_enumeration("SubmitStatus")):
        assert f"`{name}`" in doc, f"docs/soap-billing.md does not mention `{name}`"


def test_every_setting_is_documented() -> None:
    doc = DOC.read_text(encoding="utf-8")
    source = inspect.getsource(plugin.client_from_settings)
    keys = set(re.findall(r"settings(?:\.get\(|\[)\"(\w+)\"", source))
    keys |= set(re.findall(r"_number\(settings, \"(\w+)\"", source))
    assert {"url", "timeout", "operation_timeout", "page_size", "attempts"} <= keys
    for key in keys:
        assert f"`{key}`" in doc, f"the setting {key!r} is not in docs/soap-billing.md"
