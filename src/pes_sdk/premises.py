"""Premises (помещение): the typed string that, with the house GUID, locates a service.

Premises numbers are strings, never integers: ``12``, ``12а``, ``12/1``, ``12-1``. The
original text is kept as given; a normalised *matching key* is derived from it so that
``кв. 12А`` in one partner's registry and ``12a`` (Latin a) in another's find each other:
prefixes are stripped (кв., квартира, пом., оф., ком., комн.), case is folded, Latin
look-alikes become Cyrillic, spaces are dropped, and ``12, ком. 3`` is apartment 12, room 3.
"""

from __future__ import annotations

import enum
import re
from functools import lru_cache

import attrs

from pes_sdk.i18n import tr

__all__ = ["MAX_PREMISES_LENGTH", "Premises", "PremisesKind", "matching_key"]

MAX_PREMISES_LENGTH = 255


class PremisesKind(enum.StrEnum):
    """What kind of premises a number designates."""

    NONE = "none"  #: no premises: a private house is paid for as a whole
    APARTMENT = "apartment"  #: квартира
    ROOM = "room"  #: комната в квартире
    NON_RESIDENTIAL = "non_residential"  #: нежилое помещение, офис
    BLOCK = "block"  #: блок (жилой дом блокированной застройки)
    BLOCK_ROOM = "block_room"  #: комната в блоке
    OTHER = "other"  #: text that follows no known pattern; matched as written (folded)


# Upper-case Latin letters that look Cyrillic, after case folding.
_LOOKALIKES = str.maketrans("aeocpxykmtbh", "аеосрхукмтвн")

_PART = re.compile(
    r"(?P<prefix>квартира|кв\.?|нежилоепомещение|нежилое|помещение|пом\.?|н/п|нп|офис|оф\.?"
    r"|комната|комн\.?|ком\.?|блок|бл\.?)?№?(?P<number>[0-9][0-9а-я/\-]*)"
)
_KIND_OF_PREFIX = {
    None: PremisesKind.APARTMENT,
    "квартира": PremisesKind.APARTMENT,
    "кв": PremisesKind.APARTMENT,
    "кв.": PremisesKind.APARTMENT,
    "нежилоепомещение": PremisesKind.NON_RESIDENTIAL,
    "нежилое": PremisesKind.NON_RESIDENTIAL,
    "помещение": PremisesKind.NON_RESIDENTIAL,
    "пом": PremisesKind.NON_RESIDENTIAL,
    "пом.": PremisesKind.NON_RESIDENTIAL,
    "н/п": PremisesKind.NON_RESIDENTIAL,
    "нп": PremisesKind.NON_RESIDENTIAL,
    "офис": PremisesKind.NON_RESIDENTIAL,
    "оф": PremisesKind.NON_RESIDENTIAL,
    "оф.": PremisesKind.NON_RESIDENTIAL,
    "комната": PremisesKind.ROOM,
    "комн": PremisesKind.ROOM,
    "комн.": PremisesKind.ROOM,
    "ком": PremisesKind.ROOM,
    "ком.": PremisesKind.ROOM,
    "блок": PremisesKind.BLOCK,
    "бл": PremisesKind.BLOCK,
    "бл.": PremisesKind.BLOCK,
}
_KEY_PREFIX = {
    PremisesKind.APARTMENT: "",
    PremisesKind.NON_RESIDENTIAL: "н",
    PremisesKind.BLOCK: "б",
}


def _fold(text: str) -> str:
    return "".join(text.casefold().translate(_LOOKALIKES).replace("ё", "е").split())


@attrs.frozen
class _Parsed:
    kind: PremisesKind
    number: str
    room: str
    key: str


@lru_cache(maxsize=65536)
def _parse(text: str) -> _Parsed:
    folded = _fold(text)
    if not folded:
        return _Parsed(PremisesKind.NONE, "", "", "")
    parts = folded.split(",")
    matches = [_PART.fullmatch(p) for p in parts]
    if len(parts) > 2 or any(m is None for m in matches):
        return _Parsed(PremisesKind.OTHER, folded, "", "?" + folded)
    first = matches[0]
    assert first is not None
    kind = _KIND_OF_PREFIX[first.group("prefix")]
    number = first.group("number")
    if len(matches) == 1:
        if kind is PremisesKind.ROOM:  # "ком. 3" alone: a room with no flat number
            return _Parsed(kind, "", number, "к" + number)
        return _Parsed(kind, number, "", _KEY_PREFIX[kind] + number)
    second = matches[1]
    assert second is not None
    if _KIND_OF_PREFIX[second.group("prefix")] is not PremisesKind.ROOM or kind not in (
        PremisesKind.APARTMENT,
        PremisesKind.BLOCK,
    ):
        return _Parsed(PremisesKind.OTHER, folded, "", "?" + folded)
    room = second.group("number")
    if kind is PremisesKind.BLOCK:
        return _Parsed(PremisesKind.BLOCK_ROOM, number, room, f"б{number}к{room}")
    return _Parsed(PremisesKind.ROOM, number, room, f"{number}к{room}")


def matching_key(text: str) -> str:
    """The normalised matching key of a premises text (``"кв. 12А"`` → ``"12а"``)."""
    return _parse(text).key


def _check_text(instance: Premises, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str):
        raise TypeError(f"premises are text, not {type(value).__name__}")
    if len(value) > MAX_PREMISES_LENGTH:
        raise ValueError(
            tr("premises text is at most {limit} characters", limit=MAX_PREMISES_LENGTH)
        )


@attrs.frozen
class Premises:
    """A premises as written by its source, with its parsed kind and matching key."""

    text: str = attrs.field(validator=_check_text)

    @property
    def kind(self) -> PremisesKind:
        return _parse(self.text).kind

    @property
    def number(self) -> str:
        """The flat, office or block number (``""`` for a lone room or no premises)."""
        return _parse(self.text).number

    @property
    def room(self) -> str:
        """The room number in a flat or block, or ``""``."""
        return _parse(self.text).room

    @property
    def key(self) -> str:
        """The normalised key two sources use to find the same premises."""
        return _parse(self.text).key

    def matches(self, other: Premises) -> bool:
        return self.key == other.key

    def __str__(self) -> str:
        return self.text
