"""Loading the plugins stays cheap: no plugin drags its network stack into every command.

Every `pes` command loads every installed plugin to learn what it provides. These tests run
a fresh interpreter, load the plugins as `pes validate` does, and check which heavy modules
came in: a regression shows as a module name here, not as a slower benchmark months later.
"""

from __future__ import annotations

import subprocess
import sys
import types

import pytest

from pes_sdk.plugins.lazy import lazy_exports

# Imported only when a client or a server is really built.
HEAVY = (
    "zeep",
    "requests",
    "http.server",
    "uvicorn",
    "starlette",
    "httpx",
    "pes_sdk_sandbox.client",
    "pes_sdk_soap_billing.client",
    "pes_sdk_yookassa.client",
    "pes_sdk_sber.client",
    "pes_sdk_tbank.client",
)


def test_loading_every_plugin_imports_no_network_stack() -> None:
    code = (
        "import sys\n"
        "from pes_sdk.plugins import get_host\n"
        "host = get_host()\n"
        "host.formats(); host.gateways(); host.billing_sources(); host.delivery_channels()\n"
        "host.notification_channels()\n"
        "assert not host.failures, host.failures\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "", f"loading the plugins imported {out}"


def test_lazy_names_still_resolve() -> None:
    import pes_sdk_sandbox
    import pes_sdk_soap_billing

    assert pes_sdk_sandbox.SandboxGateway.__name__ == "SandboxGateway"
    assert pes_sdk_soap_billing.SoapBillingClient.__name__ == "SoapBillingClient"


def test_lazy_exports_imports_on_first_use_and_caches() -> None:
    module = types.ModuleType("pes_lazy_probe")
    sys.modules[module.__name__] = module
    try:
        getter = lazy_exports(module.__name__, {"dumps": "json"})
        module.__getattr__ = getter  # type: ignore[attr-defined]
        import json

        assert module.dumps is json.dumps
        assert module.__dict__["dumps"] is json.dumps  # cached: the getter is not called again
        with pytest.raises(AttributeError, match="no attribute 'nope'"):
            getter("nope")
    finally:
        del sys.modules[module.__name__]
