"""ГИС ЖКХ adapter of pes-sdk (format 16.3.0.0): payment notifications, look-up, readings.

::

    from pes_sdk_gis_zhkh import GisClient, PaymentNotice, load_config

    config = load_config("GIS.toml")
    with GisClient(config, signer=my_gost_signer) as gis:
        report = gis.notify(PaymentNotice.from_record(r, recipient) for r in records)
        owed = gis.lookup_address(house_guid, "кв. 12", account="0012345")

The official format package is configuration (``format_package`` in ``GIS.toml`` or
``PES_GIS_FORMAT_PACKAGE``), never a copy in the project. See ``docs/gis-zhkh.md``.
"""

from __future__ import annotations

from pes_sdk_gis_zhkh.client import GisClient, hardened_settings
from pes_sdk_gis_zhkh.config import (
    FORMAT_PACKAGE_ENV,
    GisConfig,
    MunicipalResource,
    NotificationForm,
    SignerSettings,
    check_format_package,
    load_config,
)
from pes_sdk_gis_zhkh.errors import (
    GisConfigError,
    GisError,
    GisFault,
    GisMessageFailed,
    GisPollTimeout,
    GisTransportError,
)
from pes_sdk_gis_zhkh.ids import ORDER_ID_LENGTH, order_id, stable_guid
from pes_sdk_gis_zhkh.models import (
    BatchResult,
    CancellationNotice,
    ChargeDocument,
    ItemError,
    ItemResult,
    ItemStatus,
    LookupResult,
    PaymentDetails,
    PaymentNotice,
    Recipient,
    SendReport,
    from_kopecks,
    to_kopecks,
)
from pes_sdk_gis_zhkh.signing import HmacTestSigner, Signer, make_signer

__all__ = [
    "FORMAT_PACKAGE_ENV",
    "ORDER_ID_LENGTH",
    "BatchResult",
    "CancellationNotice",
    "ChargeDocument",
    "GisClient",
    "GisConfig",
    "GisConfigError",
    "GisError",
    "GisFault",
    "GisMessageFailed",
    "GisPollTimeout",
    "GisTransportError",
    "HmacTestSigner",
    "ItemError",
    "ItemResult",
    "ItemStatus",
    "LookupResult",
    "MunicipalResource",
    "NotificationForm",
    "PaymentDetails",
    "PaymentNotice",
    "Recipient",
    "SendReport",
    "Signer",
    "SignerSettings",
    "check_format_package",
    "from_kopecks",
    "hardened_settings",
    "load_config",
    "make_signer",
    "order_id",
    "stable_guid",
    "to_kopecks",
]
