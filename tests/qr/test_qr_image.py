"""Codes drawn with segno and read back with zxing-cpp, an independent decoder, in every
charset: the bytes it finds are exactly the string's, at the standard's level M."""

from __future__ import annotations

import io
import sys
import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from qr_support import zxing_or_skip

from pes_sdk.errors import ConfigError
from pes_sdk.qr import (
    Charset,
    PaymentDetails,
    QrFormatError,
    Rule,
    decode,
    encode,
    encode_bytes,
    make_qr,
    read_image,
    read_image_bytes,
    save_png,
    save_svg,
)

DETAILS = PaymentDetails(
    "ООО УК Заречье",  # no « »: KOI8-R cannot write them, and every charset is tried
    "40702810938000012345",
    "ПАО Сбербанк",
    "044525225",
    "30101810400000000225",
    sum=Decimal("5273.84"),
    purpose="Оплата ЖКУ | январь 2026",
    payee_inn="7702123454",
    pers_acc="000123",
    paym_period="012026",
)


def _zxing_read(png: bytes) -> list[Any]:
    """zxing-cpp straight on the PNG's pixels (Pillow opens it), not through pes_sdk."""
    zxingcpp: Any = zxing_or_skip()
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        return list(zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode))


@pytest.mark.parametrize("charset", list(Charset), ids=lambda c: c.name)
def test_zxing_reads_back_the_exact_bytes_in_every_charset(charset: Charset) -> None:
    out = io.BytesIO()
    save_png(DETAILS, out, charset=charset)
    (found,) = _zxing_read(out.getvalue())
    assert bytes(found.bytes) == encode_bytes(DETAILS, charset=charset)
    assert str(found.ec_level) == "M"
    assert decode(bytes(found.bytes)).details == DETAILS


@pytest.mark.parametrize("charset", list(Charset), ids=lambda c: c.name)
def test_read_image_decodes_a_png_file(tmp_path: Path, charset: Charset) -> None:
    zxing_or_skip()
    path = tmp_path / "bill.png"
    save_png(DETAILS, path, charset=charset, scale=3)
    decoded = read_image(path)
    assert decoded.details == DETAILS
    assert decoded.charset is charset
    assert decoded.separator == "#"  # the purpose holds a "|"


def test_a_small_photo_like_image_still_reads(tmp_path: Path) -> None:
    """Scaled down and blurred a little, as a phone's photo of a printed bill is."""
    zxing_or_skip()
    from PIL import Image, ImageFilter

    big = io.BytesIO()
    save_png(DETAILS, big, scale=8)
    with Image.open(io.BytesIO(big.getvalue())) as image:
        photo = image.convert("L").resize((image.width // 2, image.height // 2))
        photo = photo.filter(ImageFilter.GaussianBlur(0.8))
        path = tmp_path / "photo.jpg"
        photo.save(path, quality=70)
    assert read_image(path).details == DETAILS


def test_svg_is_the_same_code(tmp_path: Path) -> None:
    path = tmp_path / "bill.svg"
    save_svg(DETAILS, path)
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    qr = make_qr(DETAILS)
    border = 4
    size = (qr.symbol_size(scale=4, border=border))[0]
    assert root.get("width") == str(size)
    assert qr.error == "M" and qr.mode == "byte"


def test_the_code_is_byte_mode_at_level_m_without_eci() -> None:
    qr = make_qr(encode_bytes(DETAILS, charset=Charset.WIN1251))
    assert (qr.error, qr.mode) == ("M", "byte")
    assert not qr.is_micro


@pytest.mark.parametrize("level", ["L", "Q", "H"])
def test_another_level_when_asked(level: str) -> None:
    out = io.BytesIO()
    save_png(DETAILS, out, level=level)
    (found,) = _zxing_read(out.getvalue())
    assert str(found.ec_level) == level
    assert bytes(found.bytes) == encode_bytes(DETAILS)
    with pytest.raises(ValueError, match="error-correction level"):
        make_qr(DETAILS, level="X")


def test_a_string_too_long_for_any_code_is_a_typed_error() -> None:
    with pytest.raises(QrFormatError) as caught:
        make_qr(b"ST00012|Name=" + b"x" * 3000)
    assert caught.value.rule is Rule.MAX_LENGTH


def test_an_image_without_a_code_or_not_an_image(tmp_path: Path) -> None:
    zxing_or_skip()
    from PIL import Image

    blank = tmp_path / "blank.png"
    Image.new("L", (200, 200), 255).save(blank)
    with pytest.raises(QrFormatError, match="QR codes in the image: 0"):
        read_image(blank)
    text = tmp_path / "bill.png"
    text.write_text(encode(DETAILS), encoding="utf-8")
    with pytest.raises(QrFormatError, match="not an image"):
        read_image_bytes(text)


def test_without_the_extra_reading_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes the import fail, as when zxing-cpp is not installed.
    monkeypatch.setitem(sys.modules, "zxingcpp", None)
    with pytest.raises(ConfigError, match=r"pes-sdk\[qr-image\]"):
        read_image_bytes(io.BytesIO(b""))
    monkeypatch.undo()
    zxing_or_skip()
    monkeypatch.setitem(sys.modules, "PIL", None)  # zxing-cpp alone, without Pillow
    with pytest.raises(ConfigError, match=r"pes-sdk\[qr-image\]"):
        read_image_bytes(io.BytesIO(b""))
