"""Bills as PDF: one A4 page (more when the services do not fit), Russian text in an
embedded TrueType font, and the payment QR code as an image.

Why not a PDF library: fpdf2 parses the TrueType font for every document and subsets it
again when writing one (about 200 ms a bill with DejaVu Sans, 5 bills a second), far from
the 200 a second a registry of 100,000 accounts needs. Here the font is parsed and
subset **once** per :class:`BillRenderer` (fontTools) to a fixed set of characters
(Latin, Cyrillic, the punctuation of Russian bills), and every bill embeds those same
bytes: a bill is a few kilobytes of text and drawing operators around them. The output
is deterministic (no dates, no random ids): the same bill is the same bytes, which is what
lets the runner leave a file alone when its content hash has not changed.

The font is found in this order: the ``font`` argument, the ``PES_BILL_FONT``
environment variable, then DejaVu Sans where systems install it (Debian and Ubuntu's
``fonts-dejavu-core``, Fedora's, Alpine's, Homebrew's). None there:
:class:`BillFontError` names every path tried.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import io
import os
import sys
import tempfile
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import segno

from pes_sdk.bills.model import Bill, month_year, rubles
from pes_sdk.errors import ConfigError
from pes_sdk.files import atomic_path, file_mode, fsync_dir
from pes_sdk.i18n import tr
from pes_sdk.qr import ERROR_CORRECTION, Charset, encode_bytes

__all__ = [
    "FONT_CANDIDATES",
    "FONT_ENV",
    "BillFontError",
    "BillRenderer",
    "find_font",
    "settle",
    "write_atomic",
]

#: The environment variable naming the TrueType font bills are written in.
FONT_ENV = "PES_BILL_FONT"
#: Where DejaVu Sans is looked for when neither the argument nor ``PES_BILL_FONT`` names one.
FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),  # Debian, Ubuntu
    Path("/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf"),  # Fedora
    Path("/usr/share/fonts/dejavu/DejaVuSans.ttf"),  # Alpine, older Fedora
    Path("/usr/share/fonts/TTF/DejaVuSans.ttf"),  # Arch
    Path("/opt/homebrew/share/fonts/DejaVuSans.ttf"),
    Path("/usr/local/share/fonts/DejaVuSans.ttf"),
)

# The characters a bill can show: what partners' names, services and addresses are
# written in. Any other character is drawn as "?" (the font subset is fixed, see above).
_CHARSET = (
    "".join(chr(c) for c in range(0x20, 0x7F))
    + "".join(chr(c) for c in range(0xA0, 0x100))
    + "".join(chr(c) for c in range(0x400, 0x460))
    + "‐‑‒–—―‘’‚“”„•…‹›№₽"
)
_A4 = (595.28, 841.89)
_MARGIN = 42.0
_QR_SIZE = 136.0
_PRODUCER = "pes-sdk bills"


class BillFontError(ConfigError):
    """No TrueType font to write bills in; the message names the paths tried."""


def find_font(font: Path | str | None = None) -> Path:
    """The font file bills are written in: ``font``, ``$PES_BILL_FONT`` or a system DejaVu
    Sans. Raises :class:`BillFontError` naming each path tried when there is none."""
    asked = font if font is not None else os.environ.get(FONT_ENV) or None
    if asked is not None:
        path = Path(asked)
        if not path.is_file():
            raise BillFontError(
                tr(
                    "the bills' font {path} is not a file (set by {source})",
                    path=str(path),
                    source="font" if font is not None else FONT_ENV,
                )
            )
        return path
    for path in FONT_CANDIDATES:
        if path.is_file():
            return path
    raise BillFontError(
        tr(
            "no font to write bills in: none of {paths}; install DejaVu Sans "
            "(Debian: apt-get install fonts-dejavu-core) or name a TrueType font with "
            "Cyrillic letters in {env}",
            paths=", ".join(str(p) for p in FONT_CANDIDATES),
            env=FONT_ENV,
        )
    )


class _Font:
    """The font, subset once: the PDF objects every bill embeds, and each character's
    glyph code and width."""

    def __init__(self, path: Path) -> None:
        try:
            from fontTools import subset as ftsubset  # type: ignore[import-untyped]
            from fontTools.ttLib import TTFont, TTLibError  # type: ignore[import-untyped]
        except ImportError:  # pragma: no cover - fonttools is a dependency
            raise ConfigError(tr("writing bills needs fonttools: pip install fonttools")) from None
        try:
            font = TTFont(str(path), lazy=False)
            cmap = font.getBestCmap()
        except (TTLibError, OSError, KeyError) as exc:
            raise BillFontError(
                tr("{path} is not a TrueType font: {error}", path=str(path), error=str(exc))
            ) from None
        if cmap is None or not all(ord(c) in cmap for c in "АБВабвЁё"):
            raise BillFontError(
                tr("the font {path} has no Cyrillic letters: bills are in Russian", path=str(path))
            )
        chars = [c for c in _CHARSET if ord(c) in cmap]
        options = ftsubset.Options()
        options.hinting = False  # the hinting instructions are most of DejaVu's bytes
        options.notdef_outline = True
        options.desubroutinize = True
        options.layout_features = []
        options.name_IDs = [1, 2, 4, 6]
        options.drop_tables += ["GSUB", "GPOS", "GDEF", "kern", "FFTM", "hdmx", "VDMX", "LTSH"]
        subsetter = ftsubset.Subsetter(options)
        subsetter.populate(unicodes=[ord(c) for c in chars])
        subsetter.subset(font)
        # The font's own "modified" date would change every renderer's bytes, and so
        # every bill's content hash: the font file's date stays.
        font.recalcTimestamp = False
        buffer = io.BytesIO()
        font.save(buffer)
        data = buffer.getvalue()

        scale = 1000 / font["head"].unitsPerEm
        order = font.getGlyphOrder()
        gid = {name: i for i, name in enumerate(order)}
        hmtx = font["hmtx"]
        widths = [round(hmtx[name][0] * scale) for name in order]
        sub_cmap = font.getBestCmap()
        self.codes: dict[str, str] = {}
        self.widths: dict[str, float] = {}
        for char in chars:
            glyph = gid[sub_cmap[ord(char)]]
            self.codes[char] = f"{glyph:04X}"
            self.widths[char] = widths[glyph] / 1000
        head, hhea = font["head"], font["hhea"]
        os2 = font.get("OS/2")
        cap = getattr(os2, "sCapHeight", 0) or hhea.ascent
        bbox = [round(v * scale) for v in (head.xMin, head.yMin, head.xMax, head.yMax)]
        name = "PESAAA+" + "".join(
            c for c in (font["name"].getDebugName(6) or "Font") if c.isalnum() or c == "-"
        )
        tounicode = _to_unicode({int(self.codes[c], 16): c for c in chars})
        compressed = zlib.compress(data, 9)
        # objects 4..8 of every bill (see _document): fixed numbers, so fixed bytes
        self.objects = [
            f"<< /Type /Font /Subtype /Type0 /BaseFont /{name} /Encoding /Identity-H"
            f" /DescendantFonts [5 0 R] /ToUnicode 8 0 R >>".encode(),
            f"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /{name}"
            " /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >>"
            f" /FontDescriptor 6 0 R /CIDToGIDMap /Identity /DW 1000"
            f" /W [0 [{' '.join(map(str, widths))}]] >>".encode(),
            f"<< /Type /FontDescriptor /FontName /{name} /Flags 32"
            f" /FontBBox [{' '.join(map(str, bbox))}] /ItalicAngle 0"
            f" /Ascent {round(hhea.ascent * scale)} /Descent {round(hhea.descent * scale)}"
            f" /CapHeight {round(cap * scale)} /StemV 80 /FontFile2 7 0 R >>".encode(),
            _stream(compressed, f"/Filter /FlateDecode /Length1 {len(data)}"),
            _stream(zlib.compress(tounicode, 9), "/Filter /FlateDecode"),
        ]
        self._hex = _Fallback({ord(c): h for c, h in self.codes.items()}, self.codes["?"])
        self._width = _FallbackStr(self.widths, self.widths["?"])

    def hex(self, text: str) -> str:
        """The glyph codes of ``text`` as hex (``str.translate``: one C loop, not one
        Python step a character)."""
        return text.translate(self._hex)

    def width(self, text: str, size: float) -> float:
        return sum(map(self._width.__getitem__, text)) * size


class _Fallback(dict[int, Any]):
    """A ``str.translate`` table and width map whose missing characters are "?"'s."""

    def __init__(self, items: dict[int, Any], missing: Any) -> None:
        super().__init__(items)
        self.missing = missing

    def __missing__(self, key: int) -> Any:
        return self.missing


class _FallbackStr(dict[str, float]):
    def __init__(self, items: dict[str, float], missing: float) -> None:
        super().__init__(items)
        self.missing = missing

    def __missing__(self, key: str) -> float:
        return self.missing


def _to_unicode(mapping: dict[int, str]) -> bytes:
    lines = [
        "/CIDInit /ProcSet findresource begin 12 dict begin begincmap",
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
        "/CMapName /Adobe-Identity-UCS def /CMapType 2 def",
        "1 begincodespacerange <0000> <FFFF> endcodespacerange",
    ]
    items = sorted(mapping.items())
    for start in range(0, len(items), 100):
        chunk = items[start : start + 100]
        lines.append(f"{len(chunk)} beginbfchar")
        lines += [f"<{g:04X}> <{c.encode('utf-16-be').hex().upper()}>" for g, c in chunk]
        lines.append("endbfchar")
    lines += ["endcmap CMapName currentdict /CMap defineresource pop end end"]
    return "\n".join(lines).encode("ascii")


def _stream(data: bytes, extra: str = "") -> bytes:
    head = f"<< /Length {len(data)}{' ' + extra if extra else ''} >>\nstream\n".encode()
    return head + data + b"\nendstream"


def _utf16(text: str) -> str:
    return "<FEFF" + text.encode("utf-16-be").hex().upper() + ">"


class _Page:
    """The drawing operators of one page, in points from the bottom-left corner."""

    def __init__(self, font: _Font) -> None:
        self.font = font
        self.ops: list[str] = []

    def text(self, x: float, y: float, text: str, size: float = 10.0) -> None:
        if text:
            self.ops.append(f"BT /F1 {size:g} Tf {x:.2f} {y:.2f} Td <{self.font.hex(text)}> Tj ET")

    def right(self, x: float, y: float, text: str, size: float = 10.0) -> None:
        self.text(x - self.font.width(text, size), y, text, size)

    def line(self, x1: float, y1: float, x2: float, y2: float, width: float = 0.5) -> None:
        self.ops.append(f"{width:g} w {x1:.2f} {y1:.2f} m {x2:.2f} {y2:.2f} l S")

    def image(self, x: float, y: float, size: float) -> None:
        self.ops.append(f"q {size:.2f} 0 0 {size:.2f} {x:.2f} {y:.2f} cm /Im1 Do Q")

    def content(self) -> bytes:
        return "\n".join(self.ops).encode("ascii")


def _wrap(font: _Font, text: str, size: float, width: float) -> list[str]:
    """``text`` in lines no wider than ``width`` (at word breaks; a longer word is cut)."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if font.width(candidate, size) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        while font.width(word, size) > width:
            cut = len(word)
            while cut > 1 and font.width(word[:cut], size) > width:
                cut -= 1
            lines.append(word[:cut])
            word = word[cut:]
        current = word
    if current:
        lines.append(current)
    return lines or [""]


class BillRenderer:
    """Writes :class:`~pes_sdk.bills.model.Bill` s as PDF.

    Build one and reuse it: the font is read and subset when it is built (tens of
    milliseconds), each bill then takes a few. ``font`` is a TrueType font with Cyrillic
    letters (see :func:`find_font`). ``qr_encoder`` draws the QR code: ``"segno"``
    (always there), ``"zxing"`` (zxing-cpp's writer, the ``qr-image`` extra: a C++
    encoder, some five times faster) or ``"auto"``, zxing when it is installed. Both
    draw byte mode without ECI at error correction ``M``, the string in ``charset``.
    """

    def __init__(
        self,
        font: Path | str | None = None,
        *,
        qr_encoder: str = "auto",
        charset: Charset = Charset.UTF8,
    ) -> None:
        self.font_path = find_font(font)
        self._font = _Font(self.font_path)
        self.charset = charset
        if qr_encoder not in ("auto", "segno", "zxing"):
            raise ValueError(f"qr_encoder is auto, segno or zxing, not {qr_encoder!r}")
        self._zxing = _zxing() if qr_encoder != "segno" else None
        if qr_encoder == "zxing" and self._zxing is None:
            raise ConfigError(
                tr("qr_encoder zxing needs the qr-image extra: pip install 'pes-sdk[qr-image]'")
            )
        self.qr_encoder = "zxing" if self._zxing is not None else "segno"

    # -- the QR code ------------------------------------------------------------------------

    def qr_bytes(self, bill: Bill) -> bytes:
        """The payment string of the bill's QR code, in the renderer's charset."""
        return encode_bytes(bill.payment_details(), charset=self.charset)

    def qr_image(self, data: bytes) -> tuple[int, bytes]:
        """The code of ``data`` as a square 8-bit grey image with its quiet zone (4
        modules): its side in pixels (one a module) and its pixels, row by row."""
        if self._zxing is not None:
            code = self._zxing.create_barcode(
                data, self._zxing.BarcodeFormat.QRCode, ec_level=ERROR_CORRECTION
            )
            image = memoryview(code.to_image(scale=1, add_quiet_zones=True))
            side = len(image)  # square: as many rows as columns
            return side, image.tobytes()
        qr = segno.make_qr(data, error=ERROR_CORRECTION, mode="byte", boost_error=False)
        rows = [bytes(0 if dark else 255 for dark in row) for row in qr.matrix_iter(border=4)]
        return len(rows), b"".join(rows)

    # -- the document -----------------------------------------------------------------------

    def render(self, bill: Bill) -> bytes:
        """The bill as a PDF document (the same bill: the same bytes)."""
        side, pixels = self.qr_image(self.qr_bytes(bill))
        pages = self._pages(bill)
        return _document(self._font, pages, side, pixels, _title(bill))

    def write(self, bill: Bill, path: Path | str) -> str:
        """Render ``bill`` into ``path`` atomically (see :func:`write_atomic`); return the
        SHA-256 of the file's bytes."""
        data = self.render(bill)
        write_atomic(path, data)
        return hashlib.sha256(data).hexdigest()

    def _pages(self, bill: Bill) -> list[bytes]:
        font = self._font
        width, height = _A4
        left, right = _MARGIN, width - _MARGIN
        page = _Page(font)
        pages = [page]
        y = height - _MARGIN - 14
        page.text(left, y, _title(bill), 14)
        y -= 16
        if bill.registry_number is not None:
            page.text(left, y, f"По реестру начислений № {bill.registry_number}", 8)
        qr_top = y - 6
        page.image(right - _QR_SIZE, qr_top - _QR_SIZE, _QR_SIZE)
        caption = "Оплата по QR-коду" if bill.due > 0 else "Сумма вводится при оплате"
        page.right(right - 4, qr_top - _QR_SIZE - 10, caption, 8)

        column = right - _QR_SIZE - 16 - left
        y = qr_top - 12
        payee = bill.payee
        bank = payee.bank
        kpp = f"   КПП {payee.kpp}" if payee.kpp else ""
        blocks: list[tuple[str, float]] = [
            ("Получатель платежа", 8),
            (payee.name, 10),
            (f"ИНН {payee.inn}{kpp}", 10),
            (f"Р/с {bank.account}", 10),
            (f"Банк: {bank.bank_name}" if bank.bank_name else "", 10),
            (f"БИК {bank.bik}   К/с {bank.corr_account or 'нет'}", 10),
            ("", 6),
            ("Плательщик", 8),
            (f"Лицевой счёт: {bill.account}", 10),
            (f"Помещение: {bill.premises}" if bill.premises else "", 10),
            (f"Адрес: {bill.address}" if bill.address else "", 10),
            (f"Период: {month_year(bill.period)}", 10),
        ]
        for text, size in blocks:
            if not text:
                y -= size if size < 10 else 0
                continue
            for line in _wrap(font, text, size, column):
                page.text(left, y, line, size)
                y -= size + 3
        y = min(y, qr_top - _QR_SIZE - 22) - 8

        amount_x = right
        service_width = right - left - 110

        def header(p: _Page, at: float) -> float:
            p.text(left, at, "Услуга", 9)
            p.right(amount_x, at, "Начислено", 9)
            p.line(left, at - 4, right, at - 4)
            return at - 16

        y = header(page, y)
        for item in bill.lines:
            name = item.service or "Услуги"
            if item.period is not None:
                name = f"{name} (за {month_year(item.period)})"
            wrapped = _wrap(font, name, 10, service_width)
            if y - 13 * len(wrapped) < _MARGIN + 60:
                page = _Page(font)
                pages.append(page)
                y = header(page, height - _MARGIN - 10)
            for line in wrapped:
                page.text(left, y, line, 10)
                y -= 13
            # after the name, so that a text extractor reads "service amount"
            page.right(amount_x, y + 13, rubles(item.amount), 10)
        page.line(left, y + 8, right, y + 8)
        y -= 6
        total = bill.total
        if total < 0:
            page.text(left, y, "Итого: аванс (переплата)", 11)
            page.right(amount_x, y, rubles(-total), 11)
            y -= 16
        else:
            page.text(left, y, "Итого начислено", 11)
            page.right(amount_x, y, rubles(total), 11)
            y -= 16
        page.text(left, y, "Итого к оплате", 12)
        page.right(amount_x, y, rubles(bill.due), 12)
        y -= 20
        for line in _wrap(font, f"Назначение платежа: {bill.purpose}", 8, right - left):
            page.text(left, y, line, 8)
            y -= 11
        return [p.content() for p in pages]


def _title(bill: Bill) -> str:
    return f"Квитанция на оплату за {month_year(bill.period)}"


def _zxing() -> Any:
    try:
        import zxingcpp  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    return zxingcpp if hasattr(zxingcpp, "create_barcode") else None


def _document(font: _Font, pages: Sequence[bytes], side: int, pixels: bytes, title: str) -> bytes:
    """The PDF file: 1 catalog, 2 pages, 3 info, 4-8 the font, 9 the QR image, then each
    page and its content."""
    width, height = _A4
    n = len(pages)
    page_ids = [10 + 2 * i for i in range(n)]
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Count {n} /Kids [{' '.join(f'{i} 0 R' for i in page_ids)}] >>".encode(),
        f"<< /Producer ({_PRODUCER}) /Title {_utf16(title)} >>".encode(),
        *font.objects,
        _stream(
            zlib.compress(pixels, 1),
            f"/Type /XObject /Subtype /Image /Width {side} /Height {side}"
            " /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode",
        ),
    ]
    for i, content in enumerate(pages):
        resources = "/Font << /F1 4 0 R >>" + (" /XObject << /Im1 9 0 R >>" if i == 0 else "")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {width} {height}]"
            f" /Resources << {resources} >> /Contents {page_ids[i] + 1} 0 R >>".encode()
        )
        objects.append(_stream(zlib.compress(content, 1), "/Filter /FlateDecode"))
    return _assemble(objects)


def _assemble(objects: Iterable[bytes]) -> bytes:
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets: list[int] = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number
        out += body
        out += b"\nendobj\n"
    xref = len(out)
    count = len(offsets) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % count
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 3 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        count,
        xref,
    )
    return bytes(out)


def write_atomic(path: Path | str, data: bytes, *, durable: bool = True) -> None:
    """Write ``data`` to ``path`` through a temporary file renamed over it: a reader sees
    the old file or the new one, never part of one.

    ``durable`` (the default) fsyncs the file and its folder before returning
    (:func:`pes_sdk.files.atomic_path`). A caller writing thousands of files may pass
    ``False`` and make them durable together afterwards with :func:`settle` (one journal
    commit for many files, not two each): until then a crash of the *machine* (not of the
    process) can leave a file empty under its final name, so such a caller must be able
    to write it again (the runner's bills: a step that did not finish runs again)."""
    if durable:
        with atomic_path(path) as tmp:
            tmp.write_bytes(data)
        return
    final = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".part", dir=final.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            os.fchmod(fh.fileno(), file_mode())
        os.replace(tmp_name, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def settle(paths: Iterable[Path]) -> None:
    """Make files written with ``durable=False`` durable, with their folders' entries.

    On Linux one ``syncfs(2)`` per filesystem: one flush of a few hundred files costs tens
    of milliseconds where an ``fsync`` each costs milliseconds a file (docs/bills.md).
    Elsewhere, or when it fails, each file is fsynced and then each folder."""
    folders: dict[Path, list[Path]] = {}
    for path in paths:
        folders.setdefault(path.parent, []).append(path)
    for folder, files in folders.items():
        if _syncfs(folder):
            continue
        for path in files:
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(folder)


def _syncfs(folder: Path) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        call = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return False
    fd = os.open(folder, os.O_RDONLY)
    try:
        return bool(call(fd) == 0)
    finally:
        os.close(fd)
