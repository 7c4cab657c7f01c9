"""Benchmark (not a test): debt records with address text resolved through the house directory.

What is measured:

* **Set-up** (not timed in the figures): a region's house directory of 100,000 houses,
  generated deterministically: 40 localities (a city of a third of the houses, towns,
  villages), real Russian street names with their types (ул, пер, пр-кт, б-р, ш; in a
  locality some names are both an улица and a переулок, as ул. Ленина and пер. Ленина),
  numbers with letters (10а), корпуса (10к2); loaded with ``Store.upsert_houses``.
* **Registry rows**: 1,000,000 debt records of 5 partners (200,000 each), each partner
  serving 6,000 houses of the directory, a flat number in each row, and writing every
  address in its own style, as partners do: ``г. Пермь, ул. Ленина, д. 10, кв. 5``;
  ``Пермь,Ленина,10,5`` (Sberbank's minimal form: no type words); the upper case of 1C
  exports with the region first; ``614000, Пермский край, г.Пермь, ул.Ленина, д.10 кв.5``;
  and the street first, the locality last. 2 % of the rows name a house number the
  directory does not have (a typo).
* **Resolution** (the figure): the records streamed through
  ``AddressResolution.records`` (the ingest's step: parse, look up, evolve the record, or
  quarantine it), with the records' own generation timed apart and subtracted.
* **Ingest with resolution**: the same rows into ``Store.ingest_debt_registry`` through
  the resolution, as the inbox does; beside it, the same rows ingested with their GUIDs.
* The share matched, ambiguous and not found, in all and per style; every match is checked
  against the house the row was made from (a wrong match would be a guess: there must be
  none).

    .venv/bin/python runner/benchmarks/addresses.py [--rows 1000000] [--houses 100000]
    .venv/bin/python runner/benchmarks/addresses.py --postgres
    .venv/bin/python runner/benchmarks/addresses.py --quick
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import tempfile
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

from pes_sdk_runner.ingest.addresses import AddressResolution
from pes_sdk_runner.store import House, SqlStore, open_store

import pes_sdk.addresses as addresses_module
from pes_sdk.addresses import name_key, parse_address
from pes_sdk.models.debts import DebtRecord
from pes_sdk.models.partners import BankDetails, Partner
from pes_sdk.period import Period
from pes_sdk.premises import Premises

SEED = 20261206
PARTNERS = 5
HOUSES_PER_PARTNER = 6_000
TYPO_SHARE = 0.02

TOWNS = [
    "Березники", "Соликамск", "Чайковский", "Кунгур", "Лысьва", "Краснокамск", "Чусовой",
    "Добрянка", "Губаха", "Верещагино", "Нытва", "Оса", "Очёр", "Кизел", "Александровск",
    "Горнозаводск", "Красновишерск", "Чердынь", "Усолье", "Оханск",
]  # fmt: skip
VILLAGES = [
    ("д", "Кондратово"), ("с", "Лобаново"), ("п", "Юго-Камский"), ("с", "Фролы"),
    ("д", "Берёзовка"), ("с", "Култаево"), ("п", "Полазна"), ("с", "Усть-Качка"),
    ("д", "Песьянка"), ("с", "Сылва"), ("п", "Звёздный"), ("с", "Ильинский"),
    ("д", "Хмели"), ("с", "Троица"), ("п", "Ферма"), ("с", "Бершеть"),
    ("д", "Ванюки"), ("с", "Нижние Муллы"), ("п", "Новоильинский"),
]  # fmt: skip
STREETS = [
    "Ленина", "Мира", "Советская", "Комсомольская", "Пушкина", "Гагарина", "Кирова",
    "Молодёжная", "Школьная", "Садовая", "Лесная", "Набережная", "Новая", "Заводская",
    "Октябрьская", "Победы", "Строителей", "Первомайская", "Чапаева", "Карла Маркса",
    "Свердлова", "Луначарского", "Куйбышева", "Екатерининская", "Сибирская", "Пермская",
    "Революции", "Героев Хасана", "Мамина-Сибиряка", "Космонавтов", "Энтузиастов",
    "Маршала Жукова", "Льва Толстого", "Чернышевского", "Белинского", "Тургенева",
    "Хохрякова", "Уральская", "Вишерская", "Парковая", "Солнечная", "Полевая",
    "Дружбы", "Есенина", "Крупской", "Лермонтова", "Некрасова", "Островского",
    "Декабристов", "Транспортная", "Железнодорожная", "Матросова", "Чкалова",
    "Фрунзе", "Ломоносова", "Калинина", "Суворова", "Кутузова", "Нахимова", "Попова",
    "1-я Красноармейская", "2-я Красноармейская", "8 Марта", "1 Мая", "50 лет Октября",
]  # fmt: skip
TYPES = ["ул"] * 16 + ["пер", "пр-кт", "б-р", "ш"]
FULL = {"ул": "улица", "пер": "переулок", "пр-кт": "проспект", "б-р": "бульвар", "ш": "шоссе"}
SHORT = {"ул": "ул.", "пер": "пер.", "пр-кт": "пр-т", "б-р": "б-р", "ш": "ш."}
PLACE_FULL = {"г": "город", "д": "деревня", "с": "село", "п": "поселок"}

#: A house as generated: guid, place type, place, street type, street, number, letter, korpus
Gen = tuple[str, str, str, str, str, int, str, int]


def directory(n: int, rnd: random.Random) -> list[Gen]:
    """``n`` distinct houses of a region, a third of them in the regional centre."""
    places = [("г", "Пермь")] + [("г", t) for t in TOWNS] + VILLAGES
    weights = [n // 3] + [n // 2 // len(TOWNS)] * len(TOWNS)
    weights += [max(1, (n - sum(weights)) // len(VILLAGES))] * len(VILLAGES)
    weights[-1] += n - sum(weights)  # exactly n
    houses: list[Gen] = []
    for (ptype, place), count in zip(places, weights, strict=True):
        per_street = 20 if ptype == "г" else 12
        streets = max(1, count // per_street)
        chosen = rnd.sample(STREETS, min(streets, len(STREETS)))
        typed = [(rnd.choice(TYPES), s) for s in chosen]
        # some names are both a street and a lane in one locality (ул. Ленина, пер. Ленина)
        typed += [("пер", s) for t, s in typed[: max(1, len(typed) // 10)] if t == "ул"]
        made = 0
        while made < count:
            for stype, street in typed:
                number = made // len(typed) + 1
                letter = "а" if rnd.random() < 0.04 else ""
                korpus = rnd.randint(1, 3) if rnd.random() < 0.05 else 0
                guid = str(uuid.UUID(int=rnd.getrandbits(128), version=4))
                houses.append((guid, ptype, place, stype, street, number, letter, korpus))
                made += 1
                if made >= count:
                    break
    return houses[:n]


def canonical(h: Gen) -> str:
    _, ptype, place, stype, street, number, letter, korpus = h
    house = f"д. {number}{letter}" + (f", корп. {korpus}" if korpus else "")
    return f"Пермский край, {ptype}. {place}, {SHORT[stype]} {street}, {house}"


def spelling(style: int, h: Gen, flat: int, typo: bool) -> str:
    """The address of ``h`` with flat ``flat`` as partner ``style`` writes it."""
    _, ptype, place, stype, street, number, letter, korpus = h
    if typo:
        number += 10_000  # a house number the directory does not have
    if style == 0:
        k = f", корп. {korpus}" if korpus else ""
        return f"{ptype}. {place}, {SHORT[stype]} {street}, д. {number}{letter}{k}, кв. {flat}"
    if style == 1:
        k = f"к{korpus}" if korpus else ""
        return f"{place},{street},{number}{letter}{k},{flat}"
    if style == 2:
        k = f" КОРП {korpus}" if korpus else ""
        text = f"ПЕРМСКИЙ КРАЙ, {ptype} {place}, {FULL[stype]} {street}, ДОМ {number}{letter}{k}"
        return f"{text}, КВ {flat}".upper()
    if style == 3:
        k = f" к.{korpus}" if korpus else ""
        return (
            f"614000, Пермский край, {ptype}.{place}, {SHORT[stype].rstrip('.')}.{street},"
            f" д.{number}{letter}{k} кв.{flat}"
        )
    k = f", корпус {korpus}" if korpus else ""
    pfull = PLACE_FULL.get(ptype, ptype)
    return f"{street} {SHORT[stype]}, д.{number} {letter}{k}, кв.{flat}, {pfull} {place}"


def rows(houses: list[Gen], n: int) -> Iterator[tuple[int, int, DebtRecord]]:
    """(style, index of the house or -1 for a typo, record): ``n`` rows of 5 partners."""
    rnd = random.Random(SEED + 1)
    per = n // PARTNERS
    for style in range(PARTNERS):
        served = rnd.sample(range(len(houses)), min(HOUSES_PER_PARTNER, len(houses)))
        for i in range(per if style < PARTNERS - 1 else n - per * (PARTNERS - 1)):
            idx = served[i % len(served)]
            flat = i // len(served) + 1
            typo = rnd.random() < TYPO_SHARE
            text = spelling(style, houses[idx], flat, typo)
            record = DebtRecord.from_checked(
                f"{style}{i:09d}", None, Premises(""), Decimal("100.00"), address=text
            )
            yield style, -1 if typo else idx, record


def load(store: SqlStore, houses: list[Gen]) -> float:
    started = time.perf_counter()
    batch: list[House] = []
    for h in houses:
        batch.append(House.from_address(h[0], canonical(h), "gar"))
        if len(batch) == 5000:
            store.upsert_houses(batch)
            batch = []
    store.upsert_houses(batch)
    return time.perf_counter() - started


def cold() -> None:
    """Empty the normaliser's caches: a timed run starts as a fresh process would."""
    parse_address.cache_clear()
    name_key.cache_clear()
    addresses_module._house_number.cache_clear()


def partner() -> Partner:
    return Partner("7707083893", "ООО «УК»", BankDetails("044525225", "40702810938000000001"))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--houses", type=int, default=100_000)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--quick", action="store_true", help="20,000 rows, 5,000 houses")
    parser.add_argument("--dir", default=None, help="where the database files go")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.houses = 20_000, 5_000
    rnd = random.Random(SEED)
    houses = directory(args.houses, rnd)
    guid_of = [h[0] for h in houses]
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        url = f"sqlite:///{Path(tmp) / 'runner.db'}"
        schema = None
        if args.postgres:
            import psycopg

            base = os.environ.get("PES_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1/test")
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(base, autocommit=True) as conn:
                conn.execute(f"CREATE SCHEMA {schema}")
            url = f"{base}?options=-csearch_path%3D{schema}"
        store = open_store(url)
        try:
            loaded = load(store, houses)
            store.upsert_partners([partner()])

            started = time.perf_counter()
            for _ in rows(houses, args.rows):
                pass
            generation = time.perf_counter() - started

            spill = Path(tmp) / "unresolved.csv"
            resolution = AddressResolution(store, spill)
            expected: list[int] = []
            styles: list[int] = []

            def source() -> Iterator[DebtRecord]:
                for style, idx, record in rows(houses, args.rows):
                    expected.append(idx)
                    styles.append(style)
                    yield record

            per_style = [[0, 0, 0] for _ in range(PARTNERS)]  # rows, matched, wrong
            cold()  # every row's text is new to the parser, as in a file
            started = time.perf_counter()
            out = list(resolution.records(source()))
            resolving = time.perf_counter() - started - generation
            by_account = {r.account: r.house_id for r in out}
            wrong = 0
            for i, (style, idx) in enumerate(zip(styles, expected, strict=True)):
                account = f"{style}{i - style * (args.rows // PARTNERS):09d}"
                per_style[style][0] += 1
                got = by_account.get(account)
                if got is not None:
                    per_style[style][1] += 1
                    if idx < 0 or got != guid_of[idx]:
                        wrong += 1
                        per_style[style][2] += 1
            typos = sum(1 for i in expected if i < 0)
            reasons = {"ambiguous": 0, "none": 0}
            with open(spill, encoding="utf-8", newline="") as fh:
                for row in csv.reader(fh, delimiter=";"):
                    reasons["ambiguous" if "houses of the directory" in row[2] else "none"] += 1
            resolution.discard()
            del out, by_account

            res2 = AddressResolution(store, spill)
            cold()
            started = time.perf_counter()
            result = store.ingest_debt_registry(
                "7707083893",
                Period(2026, 11),
                1,
                res2.records(r for _, _, r in rows(houses, args.rows)),
                sha256="a" * 64,
            )
            ingest = time.perf_counter() - started - generation
            started = time.perf_counter()
            store.ingest_debt_registry(
                "7707083893",
                Period(2026, 12),
                1,
                (
                    DebtRecord.from_checked(
                        r.account, guid_of[i] if i >= 0 else guid_of[0], Premises("1"), r.amount
                    )
                    for _, i, r in rows(houses, args.rows)
                ),
                sha256="b" * 64,
            )
            plain = time.perf_counter() - started - generation
        finally:
            store.close()
            if schema is not None:
                import psycopg

                with psycopg.connect(base, autocommit=True) as conn:
                    conn.execute(f"DROP SCHEMA {schema} CASCADE")
    n = args.rows
    matched = sum(s[1] for s in per_style)
    kind = "PostgreSQL" if args.postgres else "SQLite"
    print(f"houses in the directory:   {len(houses):,} ({kind}; loaded in {loaded:.1f} s)")
    print(f"registry rows:             {n:,} ({PARTNERS} partners, {typos:,} with a typo)")
    print(f"rows generated in:         {generation:.2f} s (subtracted below)")
    print(f"resolution:                {resolving:.2f} s  ({n / resolving:,.0f} rows/s)")
    print(f"matched:                   {matched / n:.2%} ({matched:,})")
    print(f"ambiguous (quarantined):   {reasons['ambiguous'] / n:.2%} ({reasons['ambiguous']:,})")
    print(f"no house (quarantined):    {reasons['none'] / n:.2%} ({reasons['none']:,})")
    print(f"wrong matches:             {wrong}")
    for style, (total, ok, bad) in enumerate(per_style):
        example = spelling(style, houses[0], 5, False)
        print(f"style {style} matched:           {ok / total:.2%} ({bad} wrong)  e.g. {example!r}")
    print(f"ingest with resolution:    {ingest:.2f} s  ({n / ingest:,.0f} rows/s,"
          f" {result.registry.count:,} stored)")  # fmt: skip
    print(f"ingest with GUIDs:         {plain:.2f} s  ({n / plain:,.0f} rows/s)")
    if wrong:
        raise SystemExit("a row was matched to a house it was not made from: a guess")


if __name__ == "__main__":
    main()
