"""QR code images of payment strings: drawn with segno, read with zxing-cpp (an extra).

Drawing needs only segno, a core dependency. Reading an image needs the ``qr-image`` extra
(``pip install 'pes-sdk[qr-image]'``: zxing-cpp and Pillow); without it
:func:`read_image` raises :class:`~pes_sdk.errors.ConfigError` saying so.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

import segno

from pes_sdk.errors import ConfigError
from pes_sdk.i18n import tr
from pes_sdk.qr.codec import Decoded, decode, encode_bytes
from pes_sdk.qr.errors import QrFormatError, Rule
from pes_sdk.qr.model import Charset, PaymentDetails

__all__ = ["ERROR_CORRECTION", "make_qr", "read_image", "read_image_bytes", "save_png", "save_svg"]

#: The error-correction level of the codes drawn by default: M (about 15% of the code can
#: be lost), the level payment codes are drawn at (docs/qr.md, "Images": unverified against
#: the standard's text, hence the ``level`` argument).
ERROR_CORRECTION = "M"
_LEVELS = ("L", "M", "Q", "H")


def make_qr(
    payload: PaymentDetails | bytes,
    *,
    charset: Charset = Charset.UTF8,
    level: str = ERROR_CORRECTION,
) -> segno.QRCode:
    """The QR code of ``payload``: details (encoded in ``charset``) or a string's bytes.

    Always byte mode, without an ECI header (the charset digit says how to read the
    bytes), at error-correction ``level`` exactly: segno is not let raise it. Raises
    :class:`QrFormatError` when the string does not fit in a QR code.
    """
    if level not in _LEVELS:
        raise ValueError(f"an error-correction level is one of {_LEVELS}, not {level!r}")
    data = payload if isinstance(payload, bytes) else encode_bytes(payload, charset=charset)
    try:
        return segno.make_qr(data, error=level, mode="byte", boost_error=False)
    except segno.DataOverflowError:
        raise QrFormatError(
            tr(
                "{size} bytes do not fit in a QR code at level {level}",
                size=len(data),
                level=level,
            ),
            rule=Rule.MAX_LENGTH,
        ) from None


def _target(out: Path | str | IO[bytes]) -> str | IO[bytes]:
    return str(out) if isinstance(out, Path) else out


def save_png(
    payload: PaymentDetails | bytes,
    out: Path | str | IO[bytes],
    *,
    charset: Charset = Charset.UTF8,
    scale: int = 4,
    border: int = 4,
    level: str = ERROR_CORRECTION,
) -> None:
    """Write the code as PNG: ``scale`` pixels a module, a quiet zone of ``border`` modules
    (4, what the QR standard asks)."""
    make_qr(payload, charset=charset, level=level).save(
        _target(out), kind="png", scale=scale, border=border
    )


def save_svg(
    payload: PaymentDetails | bytes,
    out: Path | str | IO[bytes],
    *,
    charset: Charset = Charset.UTF8,
    scale: int = 4,
    border: int = 4,
    level: str = ERROR_CORRECTION,
) -> None:
    """Write the code as SVG (``scale`` user units a module, ``border`` modules around)."""
    make_qr(payload, charset=charset, level=level).save(
        _target(out), kind="svg", scale=scale, border=border
    )


_NO_EXTRA = tr("reading QR images needs the qr-image extra: pip install 'pes-sdk[qr-image]'")


def _zxing() -> Any:
    try:
        # the extra: absent where pes-sdk is installed without it (mypy there too)
        import zxingcpp  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise ConfigError(_NO_EXTRA) from None
    return zxingcpp


def read_image_bytes(source: Path | str | IO[bytes]) -> list[bytes]:
    """The bytes of every QR code in an image file (PNG, JPEG… what Pillow opens).

    Raises :class:`~pes_sdk.errors.ConfigError` without the ``qr-image`` extra and
    :class:`QrFormatError` when the file is not an image.
    """
    zxingcpp = _zxing()
    try:
        from PIL import (  # type: ignore[import-not-found,unused-ignore]
            Image,
            UnidentifiedImageError,
        )
    except ImportError:
        raise ConfigError(_NO_EXTRA) from None

    try:
        with Image.open(source) as image:
            image.load()
            results = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    except (UnidentifiedImageError, OSError) as exc:
        name = source if isinstance(source, Path | str) else None
        raise QrFormatError(
            tr("not an image that can be read: {error}", error=str(exc) if name is None else name),
            rule=Rule.FORM,
        ) from None
    return [bytes(result.bytes) for result in results if result.valid]


def read_image(source: Path | str | IO[bytes], *, tolerant: bool = False) -> Decoded:
    """Decode the payment string of the one QR code in an image (:func:`decode` on its bytes).

    Raises :class:`QrFormatError` when the image has no QR code, or more than one.
    """
    found = read_image_bytes(source)
    if len(found) != 1:
        raise QrFormatError(
            tr("QR codes in the image: {n}, and one is needed", n=len(found)), rule=Rule.FORM
        )
    return decode(found[0], tolerant=tolerant)
