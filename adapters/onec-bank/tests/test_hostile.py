"""Hostile XML for the DirectBank reader: every attack is refused with the SDK's typed error.

A DOCTYPE of any kind is refused before lxml parses anything, so no entity is expanded and
nothing is fetched; what needs no DOCTYPE (deep nesting, a huge text node, a stray entity
reference) is refused by the hardened parser's limits. The tests check the typed error and
that nothing of a local file leaked into what was read.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pes_sdk_1c_bank import read_paydoc

from pes_sdk.errors import FormatError, RegistryRefused
from pes_sdk.plugins import get_host

NS = "http://directbank.1c.ru/XMLSchema"
BODY = (
    f'<Statement xmlns="{NS}" id="1" formatVersion="2.3.2" creationDate="2026-11-28T00:00:00">'
    '<Sender bic="044525225"/><Recipient id="x"/><Data><StatementType>0</StatementType>'
    "<DateTo>2026-11-28T00:00:00</DateTo><Account>40702810500000001234</Account>"
    "<Bank><BIC>044525225</BIC></Bank><ClosingBalance>0</ClosingBalance>"
    '<OperationInfo><PayDoc id="1" docKind="10"><PayDocRu><DocNo>1</DocNo>'
    "<DocDate>2026-11-28</DocDate><Sum>1</Sum><Payer><Name>{payload}</Name>"
    "<Bank><BIC>044525225</BIC></Bank></Payer><Payee><Name>x</Name><Bank><BIC>044525225</BIC>"
    "</Bank></Payee><Purpose>x</Purpose></PayDocRu></PayDoc><DC>1</DC><Date>2026-11-28</Date>"
    "</OperationInfo></Data></Statement>"
)


def doc(doctype: str, payload: str = "x") -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + doctype + "\n" + BODY.format(payload=payload)
    )


LAUGHS = "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
CORPUS: dict[str, Callable[[Path], str]] = {
    "xxe_file": lambda tmp: doc(
        f'<!DOCTYPE Statement [<!ENTITY x SYSTEM "file://{tmp / "secret.txt"}">]>', "&x;"
    ),
    "xxe_http": lambda tmp: doc(
        '<!DOCTYPE Statement [<!ENTITY x SYSTEM "http://127.0.0.1:9/secret">]>', "&x;"
    ),
    "billion_laughs": lambda tmp: doc(
        f'<!DOCTYPE Statement [<!ENTITY lol0 "lol">{LAUGHS}]>', "&lol9;"
    ),
    "quadratic_blowup": lambda tmp: doc(
        f'<!DOCTYPE Statement [<!ENTITY a "{"a" * 100_000}">]>', "&a;" * 10_000
    ),
    "external_dtd": lambda tmp: doc('<!DOCTYPE Statement SYSTEM "http://127.0.0.1:9/x.dtd">'),
    "external_dtd_file": lambda tmp: doc(f'<!DOCTYPE Statement SYSTEM "{tmp / "x.dtd"}">'),
    "parameter_entities": lambda tmp: doc(
        f'<!DOCTYPE Statement [<!ENTITY % p SYSTEM "file://{tmp / "secret.txt"}"> %p;]>'
    ),
    "plain_doctype": lambda tmp: doc("<!DOCTYPE Statement>"),
    "doctype_after_comment": lambda tmp: doc("<!-- " + "c" * 5000 + " --><!doctype Statement>"),
    "undeclared_entity": lambda tmp: doc("", "&x;"),
    "deep_nesting": lambda tmp: doc("", "<a>" * 10_000 + "</a>" * 10_000),
    "huge_text_node": lambda tmp: doc("", "a" * (50 * 1024 * 1024)),
}


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    (tmp_path / "x.dtd").write_text('<!ENTITY x "DTD-WAS-LOADED">', "utf-8")
    path = tmp_path / "secret.txt"
    path.write_text("TOP-SECRET-CONTENT", "utf-8")
    return path


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_statement_reader_refuses(name: str, tmp_path: Path, secret: Path) -> None:
    path = tmp_path / f"{name}.xml"
    path.write_text(CORPUS[name](tmp_path), "utf-8")
    seen = []
    with (
        pytest.raises(RegistryRefused) as err,
        get_host().format("1c-directbank").open(path) as reader,
    ):
        seen.extend(reader)
    assert not seen
    assert "TOP-SECRET" not in str(err.value) and "DTD-WAS-LOADED" not in str(err.value)
    assert err.value.issues, "the refusal says why"


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_paydoc_reader_refuses(name: str, tmp_path: Path, secret: Path) -> None:
    path = tmp_path / f"{name}.xml"
    path.write_text(CORPUS[name](tmp_path).replace("Statement", "PayDocRu"), "utf-8")
    with pytest.raises(FormatError) as err:
        read_paydoc(path)
    assert "TOP-SECRET" not in str(err.value)


def test_utf16_doctype_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "u16.xml"
    text = doc("<!DOCTYPE Statement>").replace("UTF-8", "UTF-16")
    path.write_bytes(text.encode("utf-16"))
    with (
        pytest.raises(RegistryRefused, match="DOCTYPE"),
        get_host().format("1c-directbank").open(path) as reader,
    ):
        list(reader)


def test_doctype_refusal_names_it(tmp_path: Path) -> None:
    path = tmp_path / "d.xml"
    path.write_text(doc("<!DOCTYPE Statement>"), "utf-8")
    with pytest.raises(RegistryRefused, match="DOCTYPE is not allowed"):
        get_host().format("1c-directbank").open(path)


def test_the_clean_body_is_read(tmp_path: Path) -> None:
    """The corpus' body without an attack is a readable statement: the refusals are real."""
    path = tmp_path / "clean.xml"
    path.write_text(doc(""), "utf-8")
    with get_host().format("1c-directbank").open(path) as reader:
        assert len(list(reader)) == 1
