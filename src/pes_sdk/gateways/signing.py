"""Webhook signatures: HMAC-SHA256 over a timestamp and the raw body, checked in constant time.

The signed text is ``"<unix seconds>." + raw body`` (the Stripe scheme), so the timestamp is
authenticated too and a replay window means something. Header values have the form
``v1=<hex>``; several comma-separated values are accepted so a secret can be rotated.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

from pes_sdk.gateways.errors import WebhookRejected

__all__ = ["check_window", "sign", "signature_header", "verify"]


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``b"<timestamp>." + body`` under ``secret``."""
    if not secret:
        raise ValueError("a webhook secret must not be empty")
    signed = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret, signed, hashlib.sha256).hexdigest()


def signature_header(secret: bytes, timestamp: int, body: bytes) -> str:
    """The signature header value ``v1=<hex>``."""
    return f"v1={sign(secret, timestamp, body)}"


def verify(secret: bytes, timestamp_header: str | None, signature: str | None, body: bytes) -> int:
    """Check a signature; return the signed timestamp. Raise :class:`WebhookRejected`.

    Every candidate is compared with :func:`hmac.compare_digest`, so the time taken does not
    tell an attacker how many leading characters were right.
    """
    if not timestamp_header or not signature:
        raise WebhookRejected("signature", "signature or timestamp header missing")
    try:
        timestamp = int(timestamp_header)
    except ValueError:
        raise WebhookRejected("malformed", "timestamp is not a number") from None
    expected = sign(secret, timestamp, body).encode("ascii")
    ok = False
    for part in signature.split(","):
        scheme, _, value = part.strip().partition("=")
        if scheme == "v1":
            # no short-circuit: every candidate is compared
            ok |= hmac.compare_digest(expected, value.strip().encode("ascii", "replace"))
    if not ok:
        raise WebhookRejected("signature", "signature does not match")
    return timestamp


def check_window(signed_at: dt.datetime, received_at: dt.datetime, window: dt.timedelta) -> None:
    """Refuse a notification signed more than ``window`` before (or after) it was received."""
    if abs(received_at - signed_at) > window:
        raise WebhookRejected(
            "stale", f"signed at {signed_at.isoformat()}, outside the {window} replay window"
        )
