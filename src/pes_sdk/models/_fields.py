"""Validators and converters shared by the model fields."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from pes_sdk import identifiers
from pes_sdk.i18n import tr


def _validate(check: Callable[[str], str]) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    def validator(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        check(value)

    return validator


valid_account = _validate(identifiers.check_personal_account)
valid_inn = _validate(identifiers.check_inn)


def optional_guid(value: str | None) -> str | None:
    """A GUID in lower case, or None."""
    return None if value is None else identifiers.check_guid(value)


def tags_converter(value: Any) -> tuple[tuple[str, str], ...]:
    """Tagged fields (``KEY:value``) as an ordered tuple of pairs; a dict is accepted too."""
    if isinstance(value, dict):
        value = value.items()
    pairs = tuple((str(k), str(v)) for k, v in value)
    for key, _ in pairs:
        if not key or ":" in key:
            raise ValueError(tr("a tag key is non-empty and has no ':', not {key!r}", key=key))
    return pairs
