"""ГИС ЖКХ adapter of pes-sdk (format 16.3.0.0): payment notifications, look-up, readings.

::

    from pes_sdk_gis_zhkh import GisClient, PaymentNotice, load_config

    config = load_config("GIS.toml")
    with GisClient(config, signer=my_gost_signer) as gis:
        report = gis.notify(PaymentNotice.from_record(r, recipient) for r in records)
        owed = gis.lookup_address(house_guid, "кв. 12", account="0012345")

The official format package is configuration (``format_package`` in ``GIS.toml`` or
``PES_GIS_FORMAT_PACKAGE``), never a copy in the project. As a delivery channel of the
SDK (``pes_delivery_channels``) it is :class:`GisDeliveryChannel`. See ``docs/gis-zhkh.md``.
"""

from typing import TYPE_CHECKING

from pes_sdk.plugins.lazy import lazy_exports

if TYPE_CHECKING:
    from pes_sdk_gis_zhkh.channel import GisDeliveryChannel
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
        ONLINE_CHANNELS,
        SERVICE_TIME_ZONE,
        BatchResult,
        CancellationNotice,
        ChargeDocument,
        Executor,
        ItemError,
        ItemResult,
        ItemStatus,
        LookupResult,
        PaymentDetails,
        PaymentNotice,
        Recipient,
        SendReport,
        ServiceInfo,
        from_kopecks,
        is_online,
        order_date_of,
        to_kopecks,
    )
    from pes_sdk_gis_zhkh.signing import HmacTestSigner, Signer, make_signer

__all__ = [
    "FORMAT_PACKAGE_ENV",
    "ONLINE_CHANNELS",
    "ORDER_ID_LENGTH",
    "SERVICE_TIME_ZONE",
    "BatchResult",
    "CancellationNotice",
    "ChargeDocument",
    "Executor",
    "GisClient",
    "GisConfig",
    "GisConfigError",
    "GisDeliveryChannel",
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
    "ServiceInfo",
    "Signer",
    "SignerSettings",
    "check_format_package",
    "from_kopecks",
    "hardened_settings",
    "is_online",
    "load_config",
    "make_signer",
    "order_date_of",
    "order_id",
    "stable_guid",
    "to_kopecks",
]

# Imported on first use: zeep and requests would cost every `pes` command (the plugin host
# loads this package for each) ~80 ms otherwise.
__getattr__ = lazy_exports(
    __name__,
    {
        "FORMAT_PACKAGE_ENV": "pes_sdk_gis_zhkh.config",
        "ONLINE_CHANNELS": "pes_sdk_gis_zhkh.models",
        "ORDER_ID_LENGTH": "pes_sdk_gis_zhkh.ids",
        "SERVICE_TIME_ZONE": "pes_sdk_gis_zhkh.models",
        "BatchResult": "pes_sdk_gis_zhkh.models",
        "CancellationNotice": "pes_sdk_gis_zhkh.models",
        "ChargeDocument": "pes_sdk_gis_zhkh.models",
        "Executor": "pes_sdk_gis_zhkh.models",
        "GisClient": "pes_sdk_gis_zhkh.client",
        "GisConfig": "pes_sdk_gis_zhkh.config",
        "GisConfigError": "pes_sdk_gis_zhkh.errors",
        "GisDeliveryChannel": "pes_sdk_gis_zhkh.channel",
        "GisError": "pes_sdk_gis_zhkh.errors",
        "GisFault": "pes_sdk_gis_zhkh.errors",
        "GisMessageFailed": "pes_sdk_gis_zhkh.errors",
        "GisPollTimeout": "pes_sdk_gis_zhkh.errors",
        "GisTransportError": "pes_sdk_gis_zhkh.errors",
        "HmacTestSigner": "pes_sdk_gis_zhkh.signing",
        "ItemError": "pes_sdk_gis_zhkh.models",
        "ItemResult": "pes_sdk_gis_zhkh.models",
        "ItemStatus": "pes_sdk_gis_zhkh.models",
        "LookupResult": "pes_sdk_gis_zhkh.models",
        "MunicipalResource": "pes_sdk_gis_zhkh.config",
        "NotificationForm": "pes_sdk_gis_zhkh.config",
        "PaymentDetails": "pes_sdk_gis_zhkh.models",
        "PaymentNotice": "pes_sdk_gis_zhkh.models",
        "Recipient": "pes_sdk_gis_zhkh.models",
        "SendReport": "pes_sdk_gis_zhkh.models",
        "ServiceInfo": "pes_sdk_gis_zhkh.models",
        "Signer": "pes_sdk_gis_zhkh.signing",
        "SignerSettings": "pes_sdk_gis_zhkh.config",
        "check_format_package": "pes_sdk_gis_zhkh.config",
        "from_kopecks": "pes_sdk_gis_zhkh.models",
        "hardened_settings": "pes_sdk_gis_zhkh.client",
        "is_online": "pes_sdk_gis_zhkh.models",
        "load_config": "pes_sdk_gis_zhkh.config",
        "make_signer": "pes_sdk_gis_zhkh.signing",
        "order_date_of": "pes_sdk_gis_zhkh.models",
        "order_id": "pes_sdk_gis_zhkh.ids",
        "stable_guid": "pes_sdk_gis_zhkh.ids",
        "to_kopecks": "pes_sdk_gis_zhkh.models",
    },
)
