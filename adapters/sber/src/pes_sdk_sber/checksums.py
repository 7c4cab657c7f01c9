"""The checksum of Sber callback notifications (callback-уведомления с контрольной суммой).

As the acquirer documents it: take every parameter of the notification except ``checksum``
and ``sign_alias``, sort them by name, join them as ``name;value;`` (each pair followed by
a semicolon, nothing in between), and compute HMAC-SHA256 of that UTF-8 text under the
merchant's shared secret (the "symmetric key" issued in the merchant's cabinet). The
checksum is the digest in **upper-case** hex. The asymmetric (certificate) variant is not
implemented.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from pes_sdk.gateways.errors import WebhookRejected

__all__ = ["EXCLUDED", "checksum", "signed_text", "verify_checksum"]

#: parameters that are not part of the signed text
EXCLUDED = frozenset({"checksum", "sign_alias"})


def signed_text(params: Mapping[str, str]) -> str:
    """``name;value;`` for every parameter but ``checksum`` and ``sign_alias``, by name."""
    return "".join(f"{k};{params[k]};" for k in sorted(params) if k not in EXCLUDED)


def checksum(secret: bytes, params: Mapping[str, str]) -> str:
    """The upper-case hex HMAC-SHA256 of :func:`signed_text` under ``secret``."""
    if not secret:
        raise ValueError("a callback secret must not be empty")
    digest = hmac.new(secret, signed_text(params).encode("utf-8"), hashlib.sha256)
    return digest.hexdigest().upper()


def verify_checksum(secret: bytes, params: Mapping[str, str], *, gateway: str = "sber") -> None:
    """Raise :class:`WebhookRejected` unless ``params["checksum"]`` matches, in constant time."""
    given = params.get("checksum")
    if not given:
        raise WebhookRejected("signature", "the notification has no checksum", gateway=gateway)
    expected = checksum(secret, params).encode("ascii")
    # hex case is not significant; compare_digest does not stop at the first difference
    if not hmac.compare_digest(expected, given.strip().upper().encode("ascii", "replace")):
        raise WebhookRejected("signature", "checksum does not match", gateway=gateway)
