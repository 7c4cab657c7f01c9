"""A registry handed over to its partner: the value object of the delivery event."""

from __future__ import annotations

import datetime as dt

import attrs

from pes_sdk.models.registry import RegistryKind

__all__ = ["Delivery"]


@attrs.frozen
class Delivery:
    """``kind`` registry number ``number`` reached ``partner_inn`` through ``channel``.

    ``target`` says where (a file path, an endpoint name), never a secret.
    """

    partner_inn: str
    kind: RegistryKind
    number: int
    channel: str
    target: str
    delivered_at: dt.datetime
