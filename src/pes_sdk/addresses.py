"""Russian address text (адрес) normalised into a key that finds a house.

Partners' registries write the house's address as text, each in its own way:
``"г. Пермь, ул. Ленина, д. 10, кв. 5"``, ``"Пермь,Ленина,10,5"``, ``"ПЕРМСКИЙ КРАЙ, Г ПЕРМЬ,
УЛИЦА ЛЕНИНА, ДОМ 10"``. :func:`parse_address` reads such text into an :class:`Address`
(locality, street, street type, house, premises) and :attr:`Address.key` is what two
spellings of one house share. The rules, in the order they apply:

* case is folded, ``ё`` becomes ``е``, quotes, brackets, ``№`` and the postal index go;
* the text is cut into parts at commas and again before each type word (``ул``, ``д``,
  ``корп``, …), so ``"г Пермь ул Ленина д 10"`` reads like the comma-separated form;
* each type word is recognised in all its usual spellings (full, abbreviated, with or
  without the dot, before or after the name — ``"Ленина ул."``, ``"Пермский край"``), the
  abbreviations being those of the Приказ Минфина № 171н list that ГАР (ФИАС) uses;
* the region and the district (область, край, республика, район, городской округ, …) and
  the country are dropped: the runner's house directory covers one region, so they add
  nothing but spelling differences;
* parts with no type word are placed by position: a part starting with a digit is the
  house, then (if the house is known) the premises; the names before the house are, from
  the end, the street and then the locality (``"Пермь,Ленина,10,5"``);
* ``д`` is a house (дом) before a number and a village (деревня) before a name; ``с`` is
  a building (строение) before a number and a village (село) before a name;
* the house is its number with the letter joined (``10 А``, ``10-а``, ``10a`` with a Latin
  ``a`` → ``10а``), then корпус, строение, сооружение, литера each tagged
  (``10к2с1``, ``"д. 10, корп. 2, стр. 1"`` → ``10к2с1``); leading zeros go;
* names: hyphens become spaces, ``им.`` goes, an ordinal's ending goes (``1-я`` → ``1``),
  and the words are sorted, so ``"ул. 1-я Красноармейская"`` and
  ``"Красноармейская 1-я ул."`` agree.

The street type is kept apart from the key (``"Пермь,Ленина,10"`` names no type), and a
directory uses it only to tell apart two streets of one name (ул. Ленина and пер. Ленина).

Premises (кв., пом., оф., ком.) are split off as text and normalised by
:mod:`pes_sdk.premises`. Parsing is pure: no I/O, no directory; resolving a key to a house
GUID is the runner's step.
"""

from __future__ import annotations

import re
from functools import lru_cache

import attrs

from pes_sdk.premises import matching_key as premises_key

__all__ = [
    "Address",
    "address_key",
    "canonical_type",
    "house_designation",
    "name_key",
    "parse_address",
]

# Kinds of a part of an address.
_REGION = "region"  # region, district, municipality: dropped
_PLACE = "place"  # город, село, деревня, посёлок…
_STREET = "street"  # улица, проспект, переулок…
_HOUSE = "house"  # дом, владение, здание…
_KORPUS = "к"  # корпус
_STROENIE = "с"  # строение
_SOORUZH = "соор"  # сооружение
_LITERA = "л"  # литера
_PREMISES = "premises"  # квартира, помещение, офис, комната
_HOUSE_OR_PLACE = "д?"  # "д": дом before a number, деревня before a name
_BUILDING_OR_PLACE = "с?"  # "с", "ст": строение before a number, село, станица before a name

# type word (folded, without the trailing dot) -> (kind, canonical short form)
_TYPES: dict[str, tuple[str, str]] = {}


def _types(kind: str, canonical: str, *spellings: str) -> None:
    for s in (canonical, *spellings):
        _TYPES[s] = (kind, canonical)


# Regions, districts, municipal formations (Приказ Минфина № 171н; ГАР levels 1-4).
_types(_REGION, "обл", "область")
_types(_REGION, "край")
_types(_REGION, "респ", "республика")
_types(_REGION, "ао", "автономный округ", "авт округ")
_types(_REGION, "аобл", "автономная область")
_types(_REGION, "р-н", "район", "р н", "рн", "р-он")
_types(_REGION, "м р-н", "муниципальный район", "мр")
_types(_REGION, "г о", "городской округ", "го", "г.о", "г/о")
_types(_REGION, "м о", "муниципальный округ", "мо")
_types(_REGION, "г п", "городское поселение", "гп", "г/п")
_types(_REGION, "с п", "сельское поселение", "сп", "с/п", "с/пос")
_types(_REGION, "с/с", "сельсовет")
_types(_REGION, "вн тер г", "внутригородская территория")
_types(_REGION, "россия", "рф", "российская федерация")
# Localities (ГАР levels 5-6).
_types(_PLACE, "г", "город", "гор")
_types(_PLACE, "пгт", "поселок городского типа")
_types(_PLACE, "рп", "рабочий поселок", "р п")
_types(_PLACE, "кп", "курортный поселок")
_types(_PLACE, "дп", "дачный поселок")
_types(_PLACE, "п", "поселок", "пос")
_types(_PLACE, "дер", "деревня")
_types(_PLACE, "село")
_types(_PLACE, "ст-ца", "станица")
_types(_PLACE, "х", "хутор")
_types(_PLACE, "аул")
_types(_PLACE, "сл", "слобода")
_types(_PLACE, "нп", "населенный пункт")
_types(_PLACE, "снт", "садовое некоммерческое товарищество")
# Streets and planning elements (ГАР levels 7-8).
_types(_STREET, "ул", "улица")
_types(_STREET, "пр-кт", "проспект", "пр-т", "просп", "пр", "пркт", "пр кт", "пр т")
_types(_STREET, "пер", "переулок")
_types(_STREET, "б-р", "бульвар", "бул", "б р")
_types(_STREET, "ш", "шоссе")
_types(_STREET, "наб", "набережная")
_types(_STREET, "пл", "площадь")
_types(_STREET, "проезд", "пр-д", "пр д")
_types(_STREET, "туп", "тупик")
_types(_STREET, "мкр", "микрорайон", "мкрн", "мкр-н")
_types(_STREET, "кв-л", "квартал")
_types(_STREET, "аллея", "ал")
_types(_STREET, "линия", "лн")
_types(_STREET, "тракт", "тр-т")
_types(_STREET, "спуск", "сп-к")
_types(_STREET, "тер", "территория")
_types(_STREET, "проулок")
_types(_STREET, "въезд")
_types(_STREET, "дор", "дорога")
# The house and its parts (ГАР house types and additional types).
_types(_HOUSE, "дом")
_types(_HOUSE, "влд", "владение", "вл")
_types(_HOUSE, "двлд", "домовладение")
_types(_HOUSE, "зд", "здание")
_types(_KORPUS, "к", "корп", "корпус", "кор")
_types(_STROENIE, "стр", "строение")
_types(_SOORUZH, "соор", "сооружение")
_types(_LITERA, "лит", "литера", "литер", "л")
_types(_PREMISES, "кв", "квартира")
_types(_PREMISES, "пом", "помещение")
_types(_PREMISES, "оф", "офис")
_types(_PREMISES, "ком", "комн", "комната")
_types(_HOUSE_OR_PLACE, "д")
_types(_BUILDING_OR_PLACE, "с", "ст")

# Type words that are also common names of streets ("ул. Набережная", "Набережная ул.").
_NAMEABLE = frozenset(
    {"набережная", "аллея", "линия", "тупик", "площадь", "проезд", "квартал", "слобода"}
)


def _bare(word: str) -> str:
    return word.rstrip(".")


# Planning-structure elements (ГАР level 7): a street named after one is the house's street.
_PLANNING = frozenset({"мкр", "кв-л", "тер"})

# Type words of two or more words, longest first, to be joined before the split.
_MULTIWORD = sorted((t for t in _TYPES if " " in t), key=len, reverse=True)
_MULTIWORD_RE = re.compile(
    r"(?<![а-я0-9])(" + "|".join(re.escape(t) for t in _MULTIWORD) + r")(?![а-я0-9])"
)
_JOINED = {t: t.replace(" ", "_") for t in _MULTIWORD}

# Latin letters that look Cyrillic (in house numbers and names typed on the wrong layout).
_LOOKALIKES = str.maketrans("aeopcxykmtbh", "аеорсхукмтвн")
# Quotes, brackets, №, control characters: anything that is not a letter, a digit or ., / -
_NOT_ADDRESS = re.compile(r"[^а-яa-z0-9,./\- ]+")
_POSTCODE = re.compile(r"(?<![0-9])[0-9]{6}(?![0-9])")
_WORD = re.compile(r"[^\s,]+")
_COMPACT_HOUSE = re.compile(
    r"(?P<num>[0-9]+(?:[а-я](?![0-9]))?(?:/[0-9]+[а-я]?)?)"
    r"(?:(?:к|корп)\.?(?P<korpus>[0-9]+[а-я]?))?"
    r"(?:(?:с|стр)\.?(?P<stroenie>[0-9]+[а-я]?))?"
    r"(?:(?:лит|л)\.?(?P<litera>[а-я0-9]+))?"
)
_NUMBER_PART = re.compile(r"[0-9]+")
_LATIN = re.compile(r"[a-z]")
_CYRILLIC_OR_DIGIT = re.compile(r"[а-я0-9]")
_NAME_SEPARATORS = re.compile(r"[\s.,]+")
_WORD_SEPARATORS = re.compile(r"[\s-]+")
_DASHED_LETTER = re.compile(r"(?<=[0-9])-(?=[а-я]$)")
_ORDINAL = re.compile(r"^([0-9]+)-?(?:ая|яя|ий|ый|ой|я|й|ое|ье)$")


def _fold(text: str) -> str:
    text = _NOT_ADDRESS.sub(" ", text.casefold().replace("ё", "е"))
    return _POSTCODE.sub(" ", text)


def _lookalikes(token: str) -> str:
    """Latin look-alikes to Cyrillic, in a token that already holds Cyrillic or digits."""
    if _LATIN.search(token) and _CYRILLIC_OR_DIGIT.search(token):
        return token.translate(_LOOKALIKES)
    return token


@lru_cache(maxsize=65536)
def name_key(name: str) -> str:
    """The normalised key of a locality's or a street's name (without its type word).

    Folded, ``ё``→``е``, hyphens and dots are spaces, ``им.`` and ordinal endings go
    (``1-я`` → ``1``), the words are sorted: ``"1-я Красноармейская"`` and
    ``"Красноармейская 1я"`` give ``"1 красноармейская"``.
    """
    text = _fold(name)
    words: list[str] = []
    for raw in _NAME_SEPARATORS.split(text):
        for w in (raw,) if _ORDINAL.match(raw) else raw.split("-"):
            w = _lookalikes(w.strip("-/"))
            if not w or w in ("им", "имени"):
                continue
            m = _ORDINAL.match(w)
            words.append(str(int(m.group(1))) if m else w)
    return " ".join(sorted(words))


def canonical_type(word: str) -> str:
    """The canonical short form of a type word (``"улица"``, ``"ул."`` → ``"ул"``), or ``""``.

    For a directory built from ГАР's ``TYPENAME``, so its street types compare with those
    :func:`parse_address` reads from text.
    """
    typ = _type_of(_fold(word).strip())
    return typ[1] if typ is not None else ""


@lru_cache(maxsize=65536)
def _house_number(value: str) -> str:
    """``"10 А"``, ``"10-а"``, ``"010a"`` → ``"10а"``; ``"10/2"`` stays ``"10/2"``."""
    v = _lookalikes("".join(value.split()))
    v = _DASHED_LETTER.sub("", v)
    return _NUMBER_PART.sub(lambda m: str(int(m.group())), v.strip(".-"))


def house_designation(
    number: str, korpus: str = "", stroenie: str = "", sooruzhenie: str = "", litera: str = ""
) -> str:
    """The normalised house of a key: number, then корпус, строение, сооружение, литера.

    ``house_designation("10А", korpus="2")`` → ``"10ак2"``. A directory built from ГАР
    (HOUSENUM, ADDNUM1/ADDTYPE1, ADDNUM2/ADDTYPE2) calls it with the parts it has, so its
    keys agree with :func:`parse_address` on any spelling of the same house.
    """
    out = _house_number(_fold(number))
    for tag, part in (
        (_KORPUS, korpus),
        (_STROENIE, stroenie),
        (_SOORUZH, sooruzhenie),
        (_LITERA, litera),
    ):
        p = _house_number(_fold(part))
        if p:
            out += tag + p
    return out


@attrs.frozen
class Address:
    """An address read from text: what the key is made of, plus the premises.

    ``place``, ``street`` and ``house`` are normalised (``"пермь"``, ``"ленина"``,
    ``"10к2"``); ``street_type`` is the canonical short type (``"ул"``, ``"пр-кт"``) or
    ``""`` when the text gives none; ``premises`` is the premises text as found after the
    house (``"кв. 5"`` → ``"5"``) or ``""``.
    """

    place: str = ""
    street: str = ""
    street_type: str = ""
    house: str = ""
    premises: str = ""

    @property
    def key(self) -> str:
        """What two spellings of one house share: ``"пермь|ленина|10к2"``."""
        return f"{self.place}|{self.street}|{self.house}"

    @property
    def street_key(self) -> str:
        """The key without the locality, for text that names no locality."""
        return f"{self.street}|{self.house}"

    @property
    def premises_key(self) -> str:
        """The premises' matching key (:func:`pes_sdk.premises.matching_key`)."""
        return premises_key(self.premises)

    @property
    def complete(self) -> bool:
        """Whether the text named a street (or locality) and a house: enough to look up."""
        return bool(self.house and (self.street or self.place))

    def text(self) -> str:
        """A canonical spelling that :func:`parse_address` reads back to this address.

        Names are written with hyphens for spaces (``"г петербург-санкт"``) so that no word
        of a name is read as a type word.
        """
        parts = []
        if self.place:
            parts.append(f"г {self.place.replace(' ', '-')}")
        if self.street:
            # a name that reads as a number needs its type word to stay a street
            name = self.street.replace(" ", "-")
            stype = self.street_type or ("ул" if _starts_with_digit(name) else "")
            parts.append(f"{stype} {name}".lstrip())
        if self.house:
            parts.append(f"д {self.house}")
        if self.premises:
            parts.append(f"кв {self.premises}" if self.premises[:1].isdigit() else self.premises)
        return ", ".join(parts)


def _split(text: str) -> list[tuple[str, str, str]]:
    """Cut folded text into (kind, canonical type, value) parts; kind "" when untyped."""
    text = _MULTIWORD_RE.sub(lambda m: _JOINED[m.group(1)], text)
    parts: list[tuple[str, str, str]] = []
    for chunk in text.split(","):
        _split_chunk([w.replace("_", " ") for w in _WORD.findall(chunk)], parts)
    return parts


def _split_chunk(words: list[str], parts: list[tuple[str, str, str]]) -> None:
    """Cut one comma-separated chunk at its type words, appending to ``parts``."""
    current: tuple[str, str] | None = None  # the type of the part being read
    current_word = ""  # the type word as written
    value: list[str] = []

    def close() -> None:
        nonlocal current, value
        if current is not None and not value and current[0] != _REGION:
            # a lone type word is a name: "Пермь, Набережная, 1"
            parts.append(("", "", current_word))
        elif current is not None or value:
            kind, canon = current if current is not None else ("", "")
            parts.append((kind, canon, " ".join(value)))
        current, value = None, []

    for word in words:
        typ = _type_of(word)
        if typ is None:
            # "д.10", "кв.5", "ул.Ленина": a type word glued to its value by a dot
            head, dot, tail = word.partition(".")
            glued = _type_of(head) if dot and tail else None
            if glued is not None:
                close()
                current, current_word, value = glued, head, [tail]
            else:
                value.append(word)
        elif current is not None and not value and current[0] in (_PLACE, _STREET):
            if _bare(current_word) in _NAMEABLE and _bare(word) not in _NAMEABLE:
                current, value = typ, [current_word]  # "Набережная ул."
                close()
            else:
                value.append(word)  # "ул. Набережная", "пер. Тупик": a type word as a name
        elif value and current is None and typ[0] in (_REGION, _PLACE, _STREET):
            current = typ  # a type after its name: "Ленина ул.", "Пермский край"
            close()
        elif value and current is not None and current[0] == _REGION and typ[0] == _REGION:
            current = typ  # "Пермский муниципальный район" after a dropped word
            close()
        else:
            close()
            current, current_word = typ, word
    close()


@lru_cache(maxsize=4096)
def _type_of(word: str) -> tuple[str, str] | None:
    return _TYPES.get(word.rstrip(".").replace(".", " ").strip()) or _TYPES.get(word.rstrip("."))


def _starts_with_digit(value: str) -> bool:
    """Whether a part is a number (a house, a premises), not a name like "1-я Линия", "8 Марта"."""
    if not value[:1].isdigit() or _ORDINAL.match(value.split()[0]):
        return False
    return not any(len(w) >= 3 and w.isalpha() for w in _WORD_SEPARATORS.split(value)[1:])


@lru_cache(maxsize=65536)
def parse_address(text: str) -> Address:
    """Read address text into an :class:`Address`; never fails (missing parts are ``""``).

    See the module's documentation for the rules. Text that names no house, or neither a
    street nor a locality, gives an address that is not :attr:`~Address.complete`.
    """
    place = street = street_type = number = ""
    premises_parts: list[str] = []
    extra: dict[str, str] = {}
    untyped_names: list[tuple[bool, str]] = []  # (after the house?, value)
    for kind, canon, value in _split(_fold(text)):
        value = value.strip(" .")
        if kind == _HOUSE_OR_PLACE:
            kind = _HOUSE if value[:1].isdigit() else _PLACE
        elif kind == _BUILDING_OR_PLACE:
            kind = _STROENIE if value[:1].isdigit() else _PLACE
        if not value:
            continue
        if kind == _REGION:
            continue
        if kind == _PLACE:
            place = place or name_key(value)
        elif kind == _STREET:
            head, _, tail = value.rpartition(" ")
            if head and _starts_with_digit(tail) and not number and not _ORDINAL.match(tail):
                value, number = head, tail  # "ул. Ленина 10а"
            if not street or street_type in _PLANNING:
                # a street inside a микрорайон or квартал is the house's street
                street, street_type = name_key(value), canon
        elif kind == _HOUSE:
            if not number:
                number = value
        elif kind in (_KORPUS, _STROENIE, _SOORUZH, _LITERA):
            extra.setdefault(kind, value)
        elif kind == _PREMISES:
            premises_parts.append(f"{canon} {value}")
        elif _starts_with_digit(value):
            if not number:
                # "Ленина 10": the house number may end an untyped part of a street name
                number = value
            elif not premises_parts:
                premises_parts.append(f"кв {value}")  # "Пермь,Ленина,10,5"
        else:
            head, _, tail = value.rpartition(" ")
            if head and _starts_with_digit(tail) and not number and not _ORDINAL.match(tail):
                untyped_names.append((False, head))
                number = tail
            else:
                untyped_names.append((bool(number), value))
    # Untyped names: before the house, from the end, street then locality; after it, locality.
    before = [v for after, v in untyped_names if not after]
    after = [v for after_, v in untyped_names if after_]
    for value in reversed(before):
        if not street:
            street = name_key(value)
        elif not place:
            place = name_key(value)
    for value in after:
        if not place:
            place = name_key(value)
    house = ""
    if number:
        compact = _COMPACT_HOUSE.fullmatch(_house_number(number))
        parts = dict(extra)
        if compact:
            number = compact.group("num")
            for tag, group in ((_KORPUS, "korpus"), (_STROENIE, "stroenie"), (_LITERA, "litera")):
                if compact.group(group) and tag not in parts:
                    parts[tag] = compact.group(group)
        house = house_designation(
            number,
            parts.get(_KORPUS, ""),
            parts.get(_STROENIE, ""),
            parts.get(_SOORUZH, ""),
            parts.get(_LITERA, ""),
        )
    return Address(place, street, street_type, house, ", ".join(premises_parts))


def address_key(text: str) -> str:
    """The key of the house that address text names (:attr:`Address.key`)."""
    return parse_address(text).key
