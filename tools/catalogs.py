"""Keep the gettext catalogs (pes_sdk.i18n) in step with the sources, with Babel.

    python tools/catalogs.py update    extract each domain's messages into its ru .po
                                       (new ones untranslated, gone ones dropped), compile .mo
    python tools/catalogs.py compile   compile each .po into its .mo
    python tools/catalogs.py check     exit 1 listing every message without a translation,
                                       every translation whose {fields} differ from the
                                       source's, and every .po or .mo behind its sources

Each distribution has its own domain, so each wheel carries its own catalog:
``<package>/locale/ru/LC_MESSAGES/<domain>.po`` (edited by people) and ``.mo`` (compiled,
committed: installing a wheel needs no Babel). ``make i18n`` runs ``update``; the test suite
runs ``check`` (tests/test_translations.py).
"""

from __future__ import annotations

import io
import string
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
LANGUAGES = ("ru",)

#: gettext domain -> its package folder (the domain is the package's import name).
DOMAINS = {
    "pes_sdk": "src/pes_sdk",
    "pes_sdk_csv": "adapters/csv/src/pes_sdk_csv",
    "pes_sdk_1c_xml": "adapters/onec-xml/src/pes_sdk_1c_xml",
    "pes_sdk_1c_bank": "adapters/onec-bank/src/pes_sdk_1c_bank",
    "pes_sdk_runner": "runner/src/pes_sdk_runner",
}

#: The functions that mark messages: Catalog.__call__ and Catalog.plural (pes_sdk.i18n).
KEYWORDS = {"tr": None, "tr_n": (1, 2)}


def po_path(domain: str, language: str) -> Path:
    return ROOT / DOMAINS[domain] / "locale" / language / "LC_MESSAGES" / f"{domain}.po"


def extract(domain: str) -> Catalog:
    """The domain's messages as they are in its sources today."""
    template = Catalog(project=domain, charset="utf-8")
    package = ROOT / DOMAINS[domain]
    for filename, lineno, message, comments, context in extract_from_dir(
        package,
        method_map=[("**.py", "python")],
        keywords=KEYWORDS,
        comment_tags=("Translators:",),
    ):
        template.add(
            message,
            None,
            [(f"{DOMAINS[domain]}/{filename}", lineno)],
            auto_comments=comments,
            context=context,
        )
    return template


def read(path: Path, language: str) -> Catalog | None:
    if not path.exists():
        return None
    with path.open("rb") as f:
        return read_po(f, locale=language)


def po_bytes(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_po(out, catalog, width=100, include_lineno=False, sort_by_file=False)
    return out.getvalue()


def mo_bytes(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


def updated(domain: str, language: str) -> Catalog:
    """The .po as ``update`` would write it: the sources' messages, translations kept."""
    template = extract(domain)
    existing = read(po_path(domain, language), language)
    if existing is None:
        existing = Catalog(
            locale=language,
            domain=domain,
            project="pes-sdk",
            version="",
            copyright_holder="the pes-sdk authors",
            msgid_bugs_address="",
            last_translator="the pes-sdk authors",
            language_team="Russian",
            charset="utf-8",
            fuzzy=False,
        )
    template.creation_date = existing.creation_date  # no churn in the header per run
    existing.update(template, no_fuzzy_matching=True, update_header_comment=False)
    existing.obsolete.clear()
    existing.revision_date = existing.creation_date
    return existing


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def problems(domain: str, language: str) -> list[str]:
    path = po_path(domain, language)
    rel = path.relative_to(ROOT)
    catalog = read(path, language)
    if catalog is None:
        return [f"{rel}: missing (run: python tools/catalogs.py update)"]
    found = []
    if po_bytes(updated(domain, language)) != path.read_bytes():
        found.append(f"{rel}: behind the sources (run: python tools/catalogs.py update)")
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(strings):
            found.append(f"{rel}: no translation: {ids[0]!r}")
            continue
        want = set().union(*(fields(i) for i in ids))
        for text in strings:
            try:
                got = fields(text)
            except ValueError as exc:
                found.append(f"{rel}: bad template {text!r}: {exc}")
                continue
            if not got <= want or not fields(ids[0]) - {"n"} <= got:
                found.append(f"{rel}: fields differ: {ids[0]!r} -> {text!r}")
    mo = path.with_suffix(".mo")
    if not mo.exists() or mo.read_bytes() != mo_bytes(catalog):
        found.append(
            f"{mo.relative_to(ROOT)}: behind its .po (run: python tools/catalogs.py compile)"
        )
    return found


def compile_all() -> None:
    for domain in DOMAINS:
        for language in LANGUAGES:
            path = po_path(domain, language)
            catalog = read(path, language)
            if catalog is not None:
                path.with_suffix(".mo").write_bytes(mo_bytes(catalog))


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "check"
    if command == "update":
        for domain in DOMAINS:
            for language in LANGUAGES:
                path = po_path(domain, language)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(po_bytes(updated(domain, language)))
        compile_all()
        return 0
    if command == "compile":
        compile_all()
        return 0
    if command == "check":
        found = [p for d in DOMAINS for lang in LANGUAGES for p in problems(d, lang)]
        for p in found:
            print(p)
        return 1 if found else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
