"""The house directory (справочник домов): loading it, and finding a house by its address.

Partners' registries often write the house's address as text instead of its GUID. The
runner keeps the houses of the service's region (GUID → address, with the keys of
:func:`pes_sdk.addresses.parse_address`) and resolves such text at ingest:

* :func:`import_csv` loads an operator's ``guid;address`` file (UTF-8, a BOM and a
  ``guid;address`` header line allowed);
* :func:`import_gar` loads the region's folder of the ФНС ГАР (ФИАС) XML export:
  ``AS_ADDR_OBJ_*`` (streets, localities), ``AS_HOUSES_*`` (houses) and
  ``AS_MUN_HIERARCHY_*`` (or ``AS_ADM_HIERARCHY_*``: which object is in which, as the
  ``PATH`` of object ids from the region down);
* :class:`HouseResolver` finds the one house an address names, or says why it cannot.

Both imports are idempotent (houses are upserted by GUID) and commit in batches, so a
restart after a crash re-runs the import and ends in the same directory. The GAR import's
memory is bounded by the region's streets and localities, not its houses: the houses are
staged in a temporary SQLite file and joined to the hierarchy in batches.
"""

from __future__ import annotations

import codecs
import contextlib
import re
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import attrs
from lxml import etree

from pes_sdk.addresses import Address, canonical_type, house_designation, name_key, parse_address
from pes_sdk.errors import FormatError
from pes_sdk.identifiers import check_guid
from pes_sdk.safexml import HARDENED_PARSER_OPTIONS, check_prolog
from pes_sdk_runner.i18n import tr, tr_n
from pes_sdk_runner.store.base import House, Store

__all__ = [
    "GarImport",
    "HouseResolver",
    "Resolution",
    "gar_files",
    "import_csv",
    "import_gar",
    "read_houses_csv",
]

#: Houses upserted per transaction.
BATCH = 5000

# ГАР's AS_HOUSE_TYPES (HOUSETYPE) and AS_ADDHOUSE_TYPES (ADDTYPE1/2): what the number is.
# (unverified against a live export: from the published type lists; docs/house-directory.md)
_HOUSE_TYPES = {
    "1": ("влд.", ""),  # владение
    "2": ("д.", ""),  # дом
    "3": ("двлд.", ""),  # домовладение
    "5": ("зд.", ""),  # здание
    "7": ("стр.", "stroenie"),  # строение
    "8": ("соор.", "sooruzhenie"),  # сооружение
    "9": ("литера", "litera"),  # литера
    "10": ("к.", "korpus"),  # корпус
}
_ADD_TYPES = {
    "1": ("к.", "korpus"),
    "2": ("стр.", "stroenie"),
    "3": ("соор.", "sooruzhenie"),
    "4": ("литера", "litera"),
}
_PLACE_LEVELS = ("6", "5")  # населённый пункт, город: the nearest one is the locality
_STREET_LEVELS = ("8", "7")  # улица, элемент планировочной структуры (микрорайон)


# -- CSV ----------------------------------------------------------------------------------


def read_houses_csv(path: Path | str) -> Iterator[House]:
    """The houses of a ``guid;address`` file, one per line, in order.

    UTF-8 (a BOM is skipped); a first line ``guid;address`` is a header; blank lines are
    skipped. Raises :class:`~pes_sdk.errors.FormatError` naming the file, line and field
    at the first bad line (not UTF-8, no ``;``, not a GUID, no address).
    """
    path = Path(path)
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    with open(path, "rb") as fh:
        for n, raw in enumerate(fh, start=1):
            try:
                line = decoder.decode(raw).rstrip("\r\n")
            except UnicodeDecodeError:
                raise FormatError(tr("not UTF-8 text"), path=path, line=n) from None
            if not line.strip():
                continue
            guid, sep, address = line.partition(";")
            if n == 1 and guid.strip().lower() == "guid":
                continue
            if not sep:
                raise FormatError(tr("expected guid;address"), path=path, line=n)
            try:
                guid = check_guid(guid.strip())
            except ValueError as exc:
                raise FormatError(str(exc), path=path, line=n, field="guid") from None
            address = address.strip()
            if not address:
                raise FormatError(tr("no address"), path=path, line=n, field="address")
            yield House.from_address(guid, address, "csv")


def _batches(items: Iterable[House], size: int) -> Iterator[list[House]]:
    batch: list[House] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def import_csv(store: Store, path: Path | str, *, batch_size: int = BATCH) -> int:
    """Load a ``guid;address`` file into the directory; return how many houses it gave.

    The file is checked whole first (:func:`read_houses_csv`), so a bad line changes
    nothing; then upserted in batches. Repeating it is harmless.
    """
    for _ in read_houses_csv(path):
        pass
    count = 0
    for batch in _batches(read_houses_csv(path), batch_size):
        count += store.upsert_houses(batch)
    return count


# -- ГАР (ФИАС) XML -------------------------------------------------------------------------


@attrs.frozen
class GarImport:
    """What :func:`import_gar` read and loaded."""

    objects: int  #: actual address objects (streets, localities, …) read
    houses: int  #: actual houses read
    loaded: int  #: houses placed in the hierarchy and upserted into the directory
    unplaced: int  #: actual houses with no street or locality above them (left out)


def gar_files(folder: Path | str) -> dict[str, Path]:
    """The region folder's files :func:`import_gar` reads: ``addr_obj``, ``houses``,
    ``hierarchy`` (the municipal one if present, else the administrative one).

    Raises :class:`~pes_sdk.errors.FormatError` naming what is missing or repeated.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FormatError(tr("not a folder"), path=folder)
    found: dict[str, list[Path]] = {}
    patterns = {
        "addr_obj": re.compile(r"AS_ADDR_OBJ_\d{8}_[\w-]+\.xml", re.I),
        "houses": re.compile(r"AS_HOUSES_\d{8}_[\w-]+\.xml", re.I),
        "mun": re.compile(r"AS_MUN_HIERARCHY_\d{8}_[\w-]+\.xml", re.I),
        "adm": re.compile(r"AS_ADM_HIERARCHY_\d{8}_[\w-]+\.xml", re.I),
    }
    for entry in sorted(folder.iterdir()):
        for kind, pattern in patterns.items():
            if pattern.fullmatch(entry.name):
                found.setdefault(kind, []).append(entry)
    out: dict[str, Path] = {}
    for kind in ("addr_obj", "houses"):
        if kind not in found:
            raise FormatError(
                tr("no AS_{kind}_*.XML file of ГАР here", kind=kind.upper()), path=folder
            )
    hierarchy = found.get("mun") or found.get("adm")
    if not hierarchy:
        raise FormatError(
            tr("no AS_MUN_HIERARCHY_*.XML nor AS_ADM_HIERARCHY_*.XML here"), path=folder
        )
    for kind, files in (("addr_obj", found["addr_obj"]), ("houses", found["houses"])):
        if len(files) > 1:
            names = [f.name for f in files]
            raise FormatError(
                tr("more than one {kind} file: {names}", kind=kind, names=names), path=folder
            )
        out[kind] = files[0]
    if len(hierarchy) > 1:
        raise FormatError(
            tr("more than one hierarchy file: {names}", names=[f.name for f in hierarchy]),
            path=folder,
        )
    out["hierarchy"] = hierarchy[0]
    return out


def _elements(path: Path, tag: str) -> Iterator[dict[str, str]]:
    """The attributes of each ``tag`` element of a ГАР file, streamed in bounded memory.

    No DTD, no entities, no network (:mod:`pes_sdk.safexml`); each element is dropped once
    read, so memory stays flat whatever the file's size.
    """
    check_prolog(path)
    try:
        with open(path, "rb") as fh:
            events = etree.iterparse(fh, events=("end",), tag=tag, **HARDENED_PARSER_OPTIONS)
            for _, el in events:
                yield dict(el.attrib)
                el.clear()
                parent = el.getparent()
                if parent is not None:
                    while el.getprevious() is not None:
                        del parent[0]
    except etree.XMLSyntaxError as exc:
        raise FormatError(
            tr("not well-formed XML: {detail}", detail=exc.msg), path=path, line=exc.lineno or 0
        ) from None


def _actual(attrs_: dict[str, str]) -> bool:
    return attrs_.get("ISACTUAL", "1") == "1" and attrs_.get("ISACTIVE", "1") == "1"


def _house_parts(h: dict[str, str]) -> tuple[str, str]:
    """(display text, normalised designation) of a ГАР HOUSE element."""
    short, role = _HOUSE_TYPES.get(h.get("HOUSETYPE", "2"), ("д.", ""))
    parts: dict[str, str] = {
        "number": "",
        "korpus": "",
        "stroenie": "",
        "sooruzhenie": "",
        "litera": "",
    }
    shown = []
    num = h.get("HOUSENUM", "")
    if num:
        parts[role or "number"] = num
        shown.append(f"{short} {num}")
    for n in ("1", "2"):
        add = h.get(f"ADDNUM{n}", "")
        if add:
            short2, role2 = _ADD_TYPES.get(h.get(f"ADDTYPE{n}", "1"), ("к.", "korpus"))
            parts[role2] = parts[role2] or add
            shown.append(f"{short2} {add}")
    return ", ".join(shown), house_designation(**parts)


def _stage_houses(path: Path, db: sqlite3.Connection) -> int:
    db.execute(
        "CREATE TABLE houses"
        " (objectid INTEGER PRIMARY KEY, guid TEXT, shown TEXT, designation TEXT)"
    )
    count = 0
    batch: list[tuple[int, str, str, str]] = []
    for h in _elements(path, "HOUSE"):
        if not _actual(h) or not h.get("OBJECTID") or not h.get("OBJECTGUID"):
            continue
        shown, designation = _house_parts(h)
        try:
            guid = check_guid(h["OBJECTGUID"])
        except ValueError:
            continue  # not a house anyone can name by GUID
        if not designation:
            continue
        batch.append((int(h["OBJECTID"]), guid, shown, designation))
        count += 1
        if len(batch) >= BATCH:
            db.executemany("INSERT OR REPLACE INTO houses VALUES (?, ?, ?, ?)", batch)
            batch = []
    db.executemany("INSERT OR REPLACE INTO houses VALUES (?, ?, ?, ?)", batch)
    db.commit()
    return count


def _house_of(
    path_ids: list[str], staged: tuple[str, str, str], objects: dict[str, tuple[str, str, str]]
) -> House | None:
    guid, shown, designation = staged
    ancestors = [objects[i] for i in path_ids[:-1] if i in objects]
    place = next((o for lv in _PLACE_LEVELS for o in reversed(ancestors) if o[2] == lv), None)
    if place is None:
        # a city that is a region (Москва, Санкт-Петербург, Севастополь): the region is it
        place = next((o for o in ancestors if o[2] == "1" and o[1].strip(".") == "г"), None)
    street = next((o for lv in _STREET_LEVELS for o in reversed(ancestors) if o[2] == lv), None)
    if street is None and place is None:
        return None
    region = next((o for o in ancestors if o[2] == "1"), None)
    shown_parts = []
    if region is not None and region is not place:
        shown_parts.append(f"{region[0]} {region[1]}")
    if place is not None:
        shown_parts.append(f"{place[1]} {place[0]}")
    if street is not None:
        shown_parts.append(f"{street[1]} {street[0]}")
    shown_parts.append(shown)
    place_key = name_key(place[0]) if place is not None else ""
    street_key = name_key(street[0]) if street is not None else ""
    return House(
        guid,
        ", ".join(shown_parts),
        f"{place_key}|{street_key}|{designation}",
        f"{street_key}|{designation}",
        canonical_type(street[1]) if street is not None else "",
        "gar",
    )


def import_gar(store: Store, folder: Path | str, *, batch_size: int = BATCH) -> GarImport:
    """Load a region's ГАР export (its folder, e.g. ``gar/59``) into the directory.

    Reads only actual records (``ISACTUAL="1"``, ``ISACTIVE="1"``). A house's locality is
    the nearest object of level 6 (населённый пункт) or 5 (город) above it, its street the
    nearest of level 8 (улица) or 7 (микрорайон, квартал); the keys are those of
    :mod:`pes_sdk.addresses`, so any spelling of the address finds the house. Idempotent;
    a restart runs it again. Raises :class:`~pes_sdk.errors.FormatError` for a missing
    file or XML that is not well-formed (houses loaded before it stay: re-run it).
    """
    files = gar_files(folder)
    objects: dict[str, tuple[str, str, str]] = {}
    for o in _elements(files["addr_obj"], "OBJECT"):
        if _actual(o) and o.get("OBJECTID"):
            objects[o["OBJECTID"]] = (o.get("NAME", ""), o.get("TYPENAME", ""), o.get("LEVEL", ""))
    loaded = unplaced = 0
    with tempfile.TemporaryDirectory(prefix="pes-gar-") as tmp:
        db = sqlite3.connect(Path(tmp) / "houses.db")
        with contextlib.closing(db):
            db.execute("PRAGMA journal_mode = OFF")
            db.execute("PRAGMA synchronous = OFF")
            houses = _stage_houses(files["houses"], db)
            placed: set[int] = set()  # bounded by one batch
            pending: list[tuple[int, list[str]]] = []

            def flush() -> None:
                nonlocal loaded
                if not pending:
                    return
                ids = [oid for oid, _ in pending]
                marks = ",".join("?" * len(ids))
                rows = db.execute(
                    f"SELECT objectid, guid, shown, designation FROM houses"
                    f" WHERE objectid IN ({marks})",
                    ids,
                ).fetchall()
                staged = {int(r[0]): (str(r[1]), str(r[2]), str(r[3])) for r in rows}
                out = []
                for oid, path_ids in pending:
                    if oid in staged:
                        house = _house_of(path_ids, staged[oid], objects)
                        if house is not None:
                            out.append(house)
                            placed.add(oid)
                for batch in _batches(out, batch_size):
                    loaded += store.upsert_houses(batch)
                if placed:
                    db.executemany("DELETE FROM houses WHERE objectid = ?", [(i,) for i in placed])
                    placed.clear()
                pending.clear()

            for item in _elements(files["hierarchy"], "ITEM"):
                if item.get("ISACTIVE", "1") != "1" or not item.get("OBJECTID"):
                    continue
                path_ids = item.get("PATH", "").split(".")
                if not path_ids or path_ids[-1] != item["OBJECTID"]:
                    continue  # a hierarchy row without a usable PATH
                pending.append((int(item["OBJECTID"]), path_ids))
                if len(pending) >= batch_size:
                    flush()
            flush()
            row = db.execute("SELECT COUNT(*) FROM houses").fetchone()
            unplaced = int(row[0])
    return GarImport(len(objects), houses, loaded, unplaced)


# -- resolving ------------------------------------------------------------------------------


@attrs.frozen
class Resolution:
    """What an address text resolved to: one house, or why none."""

    house: House | None
    address: Address
    #: why no house: "" when found; else a sentence for the rejects file
    reason: str = ""
    candidates: tuple[House, ...] = ()

    @property
    def found(self) -> bool:
        return self.house is not None


class HouseResolver:
    """Finds the one house of the directory an address names; never guesses.

    By :attr:`~pes_sdk.addresses.Address.key` (locality, street, house); text that names
    no locality is looked up by street and house across the region. Several candidates
    are narrowed by the street type when the text gives one (ул. Ленина against
    пер. Ленина); if still not one, the address is ambiguous. Answers are cached per key
    (``cache_size`` keys), since a registry names each house once per premises.
    """

    def __init__(self, store: Store, *, cache_size: int = 100_000) -> None:
        self.store = store
        self.cache_size = cache_size
        self._cache: dict[str, tuple[House, ...]] = {}

    def _candidates(self, address: Address) -> tuple[House, ...]:
        key = address.key if address.place else "*" + address.street_key
        hit = self._cache.get(key)
        if hit is None:
            if address.place:
                hit = tuple(self.store.houses_by_key(address.key))
            else:
                hit = tuple(self.store.houses_by_street_key(address.street_key))
            if len(self._cache) >= self.cache_size:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = hit
        return hit

    def resolve(self, text: str) -> Resolution:
        """The house ``text`` names, or a :class:`Resolution` saying why there is none."""
        address = parse_address(text)
        if not address.complete:
            return Resolution(None, address, tr("the address names no street or no house number"))
        candidates = self._candidates(address)
        if len(candidates) > 1 and address.street_type:
            typed = tuple(c for c in candidates if c.street_type == address.street_type)
            candidates = typed or candidates
        if len(candidates) == 1:
            return Resolution(candidates[0], address)
        if not candidates:
            return Resolution(None, address, tr("no house of the directory has this address"))
        return Resolution(
            None,
            address,
            tr_n(
                "{n} house of the directory has this address",
                "{n} houses of the directory have this address",
                len(candidates),
            ),
            candidates,
        )
