"""pes-sdk-soap-billing: the kit's partner billing exchange over SOAP.

* ``wsdl/billing.wsdl`` and ``wsdl/billing.xsd``: the contract a partner implements
  (namespace ``urn:pes-sdk:billing:1``), see docs/soap-billing.md;
* :class:`SoapBillingClient`: the zeep adapter, a billing source and a delivery channel;
* :class:`ReferenceServer` / :func:`make_app`: the reference implementation (WSGI), for
  tests on loopback and for partners to copy.
"""

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
