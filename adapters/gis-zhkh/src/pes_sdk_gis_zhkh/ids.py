"""Stable identifiers: the 32-character OrderID and the TransportGUIDs of each item.

An OrderID (идентификатор распоряжения) must be unique per payment and the same every time
the same payment is reported, so that a resend is recognised by ГИС ЖКХ as the same order
and never counted twice. It is derived, not stored: the first 32 hex digits of SHA-256 over
the payment's id and the line's account and service, joined by a unit separator (a
character that cannot occur in either, so ``("1", "23")`` and ``("12", "3")`` differ).
"""

from __future__ import annotations

import hashlib
import uuid

__all__ = ["ORDER_ID_LENGTH", "order_id", "stable_guid"]

ORDER_ID_LENGTH = 32
_SEP = "\x1f"
# The namespace of every TransportGUID and MessageGUID this adapter derives (uuid5).
_NAMESPACE = uuid.UUID("6f1d4f0e-6d0b-5b59-9a36-2c9f6a1f0c11")


def order_id(payment_id: str, account: str, service: str = "") -> str:
    """The OrderID of one paid line: 32 lower-case hex digits, stable across runs.

    ``payment_id`` is our payment's id (a registry record's ``operation_id``, or
    ``str(Payment.payment_id)``); ``account`` and ``service`` tell the lines of one basket
    payment apart. Use the same values for the payment and its later cancellation.
    """
    if not payment_id:
        raise ValueError("a payment id is needed to derive an OrderID")
    text = _SEP.join((payment_id, account, service))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:ORDER_ID_LENGTH]


def stable_guid(*parts: str) -> str:
    """A GUID derived from ``parts`` (uuid5), used as TransportGUID of an item."""
    return str(uuid.uuid5(_NAMESPACE, _SEP.join(parts)))
