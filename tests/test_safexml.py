"""The core's XML prolog check: a DOCTYPE of any kind never reaches a parser."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pes_sdk.errors import FormatError
from pes_sdk.safexml import PROLOG_LIMIT, check_prolog, check_prolog_bytes

GOOD = [
    b"<a/>",
    b'<?xml version="1.0" encoding="UTF-8"?>\n<a/>',
    b"\xef\xbb\xbf<a/>",
    b"<!-- a comment -->\n<?pi x?>\n<a/>",
    '<?xml version="1.0" encoding="UTF-16"?><a/>'.encode("utf-16"),
]


@pytest.mark.parametrize("doc", GOOD)
def test_plain_documents_pass(doc: bytes) -> None:
    check_prolog_bytes(doc)


@pytest.mark.parametrize(
    ("doc", "line"),
    [
        (b"<!DOCTYPE a>\n<a/>", 1),
        (b'<?xml version="1.0"?>\n<!DOCTYPE a [<!ENTITY x "y">]>\n<a>&x;</a>', 2),
        (b"<!-- c -->\n\n<!ENTITY x SYSTEM 'file:///etc/passwd'>\n<a/>", 3),
        (b'<!doctype a SYSTEM "http://127.0.0.1:9/x.dtd"><a/>', 1),
        ('<?xml version="1.0" encoding="UTF-16"?>\n<!DOCTYPE a><a/>'.encode("utf-16"), 2),
        # Found by fuzzing (issue 13): U+3E3F and U+413C are, in UTF-16LE, the bytes of
        # "?>" and "<A". With the NUL bytes dropped they ended the PI and opened a root
        # element, so the DOCTYPE behind them was never seen by this check.
        ("<?pi \u3e3f\u413c?>\n<!DOCTYPE a><a/>".encode("utf-16"), 2),
        ("<?pi \u3f00\u3e00?>\n<!DOCTYPE a><a/>".encode("utf-16-be"), 2),
        ("<?pi \u3e3f?>\n<!DOCTYPE a><a/>".encode("utf-32"), 2),
    ],
)
def test_any_declaration_is_refused_with_its_line(doc: bytes, line: int) -> None:
    with pytest.raises(FormatError, match="DOCTYPE is not allowed") as err:
        check_prolog_bytes(doc)
    assert err.value.line == line


def test_encodings_restrict_the_declared_and_the_actual_encoding() -> None:
    check_prolog_bytes(b'<?xml version="1.0" encoding="utf8"?><a/>', encodings=["UTF-8"])
    with pytest.raises(FormatError, match="'windows-1251' declared; the format allows UTF-8"):
        check_prolog_bytes(
            b'<?xml version="1.0" encoding="windows-1251"?><a/>', encodings=["utf-8"]
        )
    with pytest.raises(FormatError, match="UTF-16 or UTF-32"):
        check_prolog_bytes("<a/>".encode("utf-16"), encodings=["utf-8"])


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (b"", "no root element"),
        (b"   \n", "no root element"),
        (b"hello", "not an XML document"),
        (b"<!-- never closed", "unterminated comment"),
        (b"<?xml never closed", "unterminated processing instruction"),
    ],
)
def test_what_is_not_xml_is_refused(doc: bytes, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        check_prolog_bytes(doc)


def test_a_prolog_longer_than_the_limit_is_refused() -> None:
    doc = b"<!--" + b"x" * PROLOG_LIMIT + b"-->" + b"<a/>"
    with pytest.raises(FormatError, match="no root element in the first"):
        check_prolog_bytes(doc[:PROLOG_LIMIT])


def test_the_file_form_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.xml"
    path.write_bytes(b"<?xml version='1.0'?>\n<!DOCTYPE a>\n<a/>")
    with pytest.raises(FormatError) as err:
        check_prolog(path)
    assert err.value.path == path and err.value.line == 2
    assert str(path) in str(err.value)


@given(
    text=st.text(
        alphabet=st.characters(exclude_characters="?>", exclude_categories=("Cs",)), max_size=40
    ),
    codec=st.sampled_from(["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le"]),
)
def test_a_doctype_after_any_wide_text_is_refused(text: str, codec: str) -> None:
    doc = f"<?pi {text}?>\n<!DOCTYPE a><a/>".encode(codec)
    with pytest.raises(FormatError, match="DOCTYPE is not allowed"):
        check_prolog_bytes(doc)
