"""Every message of every distribution has its Russian translation (tools/catalogs.py check).

A message added to the sources without a translation, a translation whose ``{fields}``
differ from its English, a .po behind its sources or a .mo behind its .po fails here: run
``python tools/catalogs.py update``, translate, then ``python tools/catalogs.py compile``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load_catalogs() -> ModuleType:
    pytest.importorskip("babel", reason="Babel (requirements-dev) checks the catalogs")
    spec = importlib.util.spec_from_file_location("pes_catalogs", ROOT / "tools" / "catalogs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("pes_catalogs", module)
    spec.loader.exec_module(module)
    return module


catalogs = _load_catalogs()


@pytest.mark.parametrize("domain", sorted(catalogs.DOMAINS))
def test_every_message_has_its_russian_translation(domain: str) -> None:
    assert catalogs.problems(domain, "ru") == []


PACKAGE = """\
from pes_sdk.i18n import Catalog

tr = Catalog("toy", "locale")


def message(x):
    return tr("a toy message {x}", x=x)


def other(x):
    return tr("another toy message {x}", x=x)
"""


@pytest.fixture
def toy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A one-file package ``toy`` with two messages, as the only domain, its .po made."""
    package = tmp_path / "toy"
    package.mkdir()
    (package / "messages.py").write_text(PACKAGE, encoding="utf-8")
    monkeypatch.setattr(catalogs, "ROOT", tmp_path)
    monkeypatch.setattr(catalogs, "DOMAINS", {"toy": "toy"})
    assert catalogs.main(["catalogs.py", "update"]) == 0
    po: Path = catalogs.po_path("toy", "ru")
    return po


def _translate(po: Path, translations: dict[str, str]) -> None:
    catalog = catalogs.read(po, "ru")
    for message in catalog:
        if message.id in translations:
            message.string = translations[message.id]
    po.write_bytes(catalogs.po_bytes(catalog))
    catalogs.compile_all()


def test_an_untranslated_message_is_named(toy: Path) -> None:
    _translate(toy, {"a toy message {x}": "игрушечное сообщение {x}"})
    found = catalogs.problems("toy", "ru")
    assert len(found) == 1
    assert "no translation: 'another toy message {x}'" in found[0]


def test_a_translation_whose_fields_differ_is_named(toy: Path) -> None:
    _translate(
        toy,
        {
            "a toy message {x}": "игрушечное сообщение {y}",
            "another toy message {x}": "другое игрушечное сообщение {x}",
        },
    )
    found = catalogs.problems("toy", "ru")
    assert len(found) == 1
    assert "fields differ: 'a toy message {x}' -> 'игрушечное сообщение {y}'" in found[0]


def test_a_fully_translated_catalog_has_no_problem(toy: Path) -> None:
    _translate(
        toy,
        {
            "a toy message {x}": "игрушечное сообщение {x}",
            "another toy message {x}": "другое игрушечное сообщение {x}",
        },
    )
    assert catalogs.problems("toy", "ru") == []


def test_a_new_message_in_the_sources_makes_the_po_behind(toy: Path) -> None:
    (toy.parents[3] / "messages.py").write_text(
        PACKAGE + '\n\ndef third():\n    return tr("a third message")\n', encoding="utf-8"
    )
    found = catalogs.problems("toy", "ru")
    assert any("behind the sources" in p for p in found)
