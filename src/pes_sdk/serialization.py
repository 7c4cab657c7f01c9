"""JSON-ready (un)structuring of every model, through one cattrs converter factory.

Use :func:`make_converter` rather than a global converter, so that a caller can register its
own hooks without touching anyone else's. Decimals travel as strings (``"1272.26"``), never
as JSON numbers, because a JSON number becomes a float in most readers; a float arriving
where a Decimal is expected is refused with :class:`TypeError`.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import uuid
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import cattrs
from cattrs.gen import make_dict_structure_fn
from cattrs.v import format_exception

from pes_sdk.errors import FormatError
from pes_sdk.period import Period
from pes_sdk.premises import Premises

__all__ = ["dumps", "loads", "make_converter", "structure"]

T = TypeVar("T")


def _structure_decimal(value: Any, _: type) -> Decimal:
    if isinstance(value, float | bool):
        raise TypeError(f"a decimal value must be a string or an integer, not {value!r}")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        try:
            d = Decimal(value)
        except InvalidOperation:
            raise ValueError(f"not a decimal number: {value!r}") from None
        if not d.is_finite():
            raise ValueError(f"not a finite number: {value!r}")
        return d
    raise TypeError(f"a decimal value must be a string, not {type(value).__name__}")


def _structure_str(value: Any, _: type) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, not {type(value).__name__}")
    return value


def make_converter(*, forbid_extra_keys: bool = True) -> cattrs.Converter:
    """A converter for every pes-sdk model.

    ``forbid_extra_keys`` (on by default) refuses unknown keys, so that a typo in a request
    or a file is an error instead of a silently ignored field.
    """
    conv = cattrs.Converter(forbid_extra_keys=forbid_extra_keys)
    conv.register_structure_hook(Decimal, _structure_decimal)
    conv.register_unstructure_hook(Decimal, str)
    conv.register_structure_hook(str, _structure_str)
    # A StrEnum is a str: without its own hook the str hook above would take it and hand
    # back a plain string ("sbp" instead of PaymentMethod.SBP, and any text accepted).
    conv.register_structure_hook(enum.StrEnum, lambda v, t: t(_structure_str(v, str)))
    conv.register_structure_hook(uuid.UUID, lambda v, _: uuid.UUID(_structure_str(v, str)))
    conv.register_unstructure_hook(uuid.UUID, str)
    conv.register_structure_hook(
        dt.date, lambda v, _: dt.date.fromisoformat(_structure_str(v, str))
    )
    conv.register_unstructure_hook(dt.date, dt.date.isoformat)
    conv.register_structure_hook(
        dt.datetime, lambda v, _: dt.datetime.fromisoformat(_structure_str(v, str))
    )
    conv.register_unstructure_hook(dt.datetime, dt.datetime.isoformat)
    conv.register_structure_hook(Period, lambda v, _: Period.parse(_structure_str(v, str)))
    conv.register_unstructure_hook(Period, str)
    conv.register_structure_hook(Premises, lambda v, _: Premises(_structure_str(v, str)))
    conv.register_unstructure_hook(Premises, lambda p: p.text)
    # attrs classes are structured with generated functions that honour forbid_extra_keys.
    conv.register_structure_hook_factory(
        lambda t: hasattr(t, "__attrs_attrs__"),
        lambda t: _object_only(
            make_dict_structure_fn(t, conv, _cattrs_forbid_extra_keys=forbid_extra_keys)
        ),
    )
    return conv


def _object_only(fn: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    # The generated function assumes a mapping; anything else would escape as an
    # AttributeError instead of a FormatError.
    def structure_object(value: Any, cl: Any) -> Any:
        if not isinstance(value, Mapping):
            raise TypeError(f"expected an object for {cl.__name__}, not {type(value).__name__}")
        return fn(value, cl)

    return structure_object


def _format_exception(exc: BaseException, type_: type | None) -> str:
    # cattrs' default says only "invalid value"; keep the validator's reason, which tells
    # the person what to fix ("has at most two decimal places").
    base = format_exception(exc, type_)
    if isinstance(exc, ValueError | TypeError) and str(exc) and str(exc) not in base:
        return f"{base}: {exc}"
    return base


_DEFAULT = make_converter()


def structure(data: Any, cls: type[T], *, converter: cattrs.Converter | None = None) -> T:
    """Structure ``data`` into ``cls``; errors become one :class:`FormatError` naming paths."""
    conv = converter or _DEFAULT
    try:
        return conv.structure(data, cls)
    except (cattrs.BaseValidationError, ValueError, TypeError) as exc:
        if isinstance(exc, cattrs.BaseValidationError):
            message = "; ".join(
                cattrs.transform_error(exc, path=cls.__name__, format_exception=_format_exception)
            )
        else:
            message = f"{cls.__name__}: {exc}"
        raise FormatError(message) from exc


def dumps(obj: Any, *, converter: cattrs.Converter | None = None) -> str:
    """A model as JSON text (UTF-8 safe: Cyrillic is kept, not escaped)."""
    return json.dumps((converter or _DEFAULT).unstructure(obj), ensure_ascii=False)


def loads(text: str, cls: type[T], *, converter: cattrs.Converter | None = None) -> T:
    """A model from JSON text; JSON numbers with a fraction are refused for Decimal fields."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(f"not JSON: {exc.msg}", line=exc.lineno) from exc
    return structure(data, cls, converter=converter)
