"""Payment QR codes of ГОСТ Р 56042-2014, the ones on every Russian housing bill.

Encode :class:`PaymentDetails` as the standard's string (:func:`encode`, :func:`encode_bytes`)
and draw it (:func:`save_png`, :func:`save_svg`); decode a string, its bytes or, with the
``qr-image`` extra, a photo of the code (:func:`decode`, :func:`read_image`), strictly or
tolerantly. ``docs/qr.md`` describes the format field by field::

    from decimal import Decimal
    from pes_sdk.qr import PaymentDetails, decode, encode

    details = PaymentDetails(
        "ООО «УК Дом»", "40702810900000000001", "ПАО БАНК", "044525225",
        "30101810400000000225", sum=Decimal("1272.26"), pers_acc="000123",
    )
    text = encode(details)                   # 'ST00012|Name=ООО «УК Дом»|…|Sum=127226|…'
    assert decode(text).details == details
"""

from __future__ import annotations

from pes_sdk.qr.codec import (
    FORMAT_ID,
    REQUIRED_BLOCK_LIMIT,
    SEPARATORS,
    Decoded,
    decode,
    encode,
    encode_bytes,
    from_fields,
    to_fields,
)
from pes_sdk.qr.errors import Deviation, QrFormatError, Rule
from pes_sdk.qr.fields import FIELDS, FieldSpec, Group, Kind
from pes_sdk.qr.image import (
    ERROR_CORRECTION,
    make_qr,
    read_image,
    read_image_bytes,
    save_png,
    save_svg,
)
from pes_sdk.qr.model import Charset, PaymentDetails, TechCode

__all__ = [
    "ERROR_CORRECTION",
    "FIELDS",
    "FORMAT_ID",
    "REQUIRED_BLOCK_LIMIT",
    "SEPARATORS",
    "Charset",
    "Decoded",
    "Deviation",
    "FieldSpec",
    "Group",
    "Kind",
    "PaymentDetails",
    "QrFormatError",
    "Rule",
    "TechCode",
    "decode",
    "encode",
    "encode_bytes",
    "from_fields",
    "make_qr",
    "read_image",
    "read_image_bytes",
    "save_png",
    "save_svg",
    "to_fields",
]
