"""Building frozen attrs models without re-running their converters, for the hot path.

A model's ``__init__`` validates and converts every field; the reader has already checked
each value as strictly as the model would (and a test proves the two agree), so running the
checks twice would cost the reader its speed target. :func:`slot_setters` gives direct
setters of a frozen slots class's fields, and refuses (returns ``None``) when the class does
not have exactly the fields the caller expects: if the core grows a field, the reader falls
back to the model's own constructor instead of building an incomplete object.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

__all__ = ["slot_setters"]

Setter = Callable[[Any, Any], None]


def slot_setters(cls: type, names: tuple[str, ...]) -> tuple[Setter, ...] | None:
    """The slot setters of ``cls``'s fields ``names`` in order, or ``None`` if they differ.

    The caller creates the instance with ``object.__new__(cls)`` and must call every
    setter: a slot left unset is an ``AttributeError`` on first use.
    """
    if not attrs.has(cls) or tuple(a.name for a in attrs.fields(cls)) != names:
        return None
    if getattr(cls, "__attrs_pre_init__", None) is not None:
        return None
    setters = []
    for name in names:
        descriptor = cls.__dict__.get(name)
        setter = getattr(descriptor, "__set__", None)
        if setter is None:  # not a slots class
            return None
        setters.append(setter)
    return tuple(setters)
