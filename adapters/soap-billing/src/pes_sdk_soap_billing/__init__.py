"""pes-sdk-soap-billing: the kit's partner billing exchange over SOAP.

* ``wsdl/billing.wsdl`` and ``wsdl/billing.xsd``: the contract a partner implements
  (namespace ``urn:pes-sdk:billing:1``), see docs/soap-billing.md;
* :class:`SoapBillingClient`: the zeep adapter, a billing source and a delivery channel;
* :class:`ReferenceServer` / :func:`make_app`: the reference implementation (WSGI), for
  tests on loopback and for partners to copy.
"""

from typing import TYPE_CHECKING

from pes_sdk.plugins.lazy import lazy_exports

if TYPE_CHECKING:
    from pes_sdk_soap_billing.client import SoapBillingClient, hardened_settings, wsdl_path
    from pes_sdk_soap_billing.server import (
        FaultPlan,
        MemoryBillingStore,
        ReferenceServer,
        make_app,
        schema,
    )

__all__ = [
    "FaultPlan",
    "MemoryBillingStore",
    "ReferenceServer",
    "SoapBillingClient",
    "hardened_settings",
    "make_app",
    "schema",
    "wsdl_path",
]

# Imported on first use: zeep and requests cost every `pes` command ~90 ms otherwise, and
# the plugin host loads this package for every command.
__getattr__ = lazy_exports(
    __name__,
    {
        "FaultPlan": "pes_sdk_soap_billing.server",
        "MemoryBillingStore": "pes_sdk_soap_billing.server",
        "ReferenceServer": "pes_sdk_soap_billing.server",
        "SoapBillingClient": "pes_sdk_soap_billing.client",
        "hardened_settings": "pes_sdk_soap_billing.client",
        "make_app": "pes_sdk_soap_billing.server",
        "schema": "pes_sdk_soap_billing.server",
        "wsdl_path": "pes_sdk_soap_billing.client",
    },
)
