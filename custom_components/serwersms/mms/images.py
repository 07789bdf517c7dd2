"""Fit images into an MMS budget with Pillow. Pure, blocking functions: call them in the executor."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
import hashlib
import io
import os
from pathlib import PurePath
import tempfile
from typing import Any, BinaryIO
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

# Camera snapshots are at most a few tens of megapixels; anything far larger is a decompression bomb.
MAX_PIXELS = 50_000_000
# A first guess at a size that a ~300 KB budget can carry at a decent quality; refined by searching.
_START_MAX_SIDE = 1600
_MIN_SIDE = 160
_QUALITY_HIGH = 85
_QUALITY_LOW = 40
_SCALE_STEP = 0.7

_MAX_METADATA = 256 * 1024
_KEEP_AS_IS = {"GIF": "image/gif", "PNG": "image/png"}
_EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif"}


class ImageError(Exception):
    """An attachment that cannot be sent as a picture."""


class NotAnImageError(ImageError):
    """The bytes are not an image Pillow can read (or the image data is broken)."""


class ImageTooLargeError(ImageError):
    """The image has too many pixels to process safely, or cannot fit the budget at all."""


@dataclass(frozen=True, slots=True)
class FittedImage:
    """An image ready for upload."""

    content: bytes
    content_type: str
    filename: str
    width: int
    height: int
    changed: bool
    digest: str  # SHA-256 of `content`, computed with the fitting, off the event loop
    frames: int = 1  # pictures shown: a camera's GIF may carry fewer frames than were taken


def _rename(filename: str, content_type: str) -> str:
    stem = PurePath(filename).stem or "image"
    return stem + _EXTENSIONS[content_type]


def _open(data: bytes) -> Image.Image:
    """Open lazily (JPEG is decoded later, maybe at a reduced size); refuse bombs before decoding."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise ImageTooLargeError(str(err)) from err
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise NotAnImageError(str(err)) from err
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ImageTooLargeError(f"{width}x{height}")
    return image


def _orientation(image: Image.Image) -> int:
    value = image.getexif().get(0x0112, 1)
    return value if isinstance(value, int) else 1


# JPEG segments: APP0 (JFIF), APP2 (ICC profile only) and APP14 (Adobe colour transform) are needed to
# show the picture right; every other APPn (EXIF, XMP, IPTC, MPF with its extra pictures, maker
# notes, …) and every comment (COM) is dropped, and so is anything after the end of the image.
_SOI, _EOI, _SOS, _COM = 0xD8, 0xD9, 0xDA, 0xFE
_APP0, _APP2, _APP14 = 0xE0, 0xE2, 0xEE
_JFIF_HEADER = 14  # "JFIF\0", version, units, densities, thumbnail size: no thumbnail after it


def _jpeg_segment_kept(marker: int, payload: bytes) -> bytes | None:
    """The segment's payload as it may leave the house, or None when it must be dropped."""
    if marker == _COM or (0xE0 <= marker <= 0xEF and marker not in (_APP0, _APP2, _APP14)):
        return None
    if marker == _APP0:
        if not payload.startswith(b"JFIF\0") or len(payload) < _JFIF_HEADER:
            return None  # JFXX carries a thumbnail; anything else is not JFIF
        return payload[: _JFIF_HEADER - 2] + b"\0\0"  # no embedded thumbnail
    if marker == _APP2 and not payload.startswith(b"ICC_PROFILE\0"):
        return None
    return payload


def _entropy_end(data: bytes, pos: int) -> int | None:
    """Where the entropy-coded data starting at `pos` ends (the next real marker), or None."""
    while (pos := data.find(b"\xff", pos)) != -1 and pos + 1 < len(data):
        following = data[pos + 1]
        if following == 0xFF:
            pos += 1  # fill byte before a marker
        elif following == 0x00 or 0xD0 <= following <= 0xD7:
            pos += 2  # stuffed 0xFF or a restart marker: still image data
        else:
            return pos
    return None


def strip_jpeg_metadata(data: bytes) -> bytes | None:
    """`data` without metadata segments, not re-encoded; None when it is not a complete JPEG."""
    if not data.startswith(b"\xff\xd8"):
        return None
    out = bytearray(b"\xff\xd8")
    pos = 2
    while pos + 2 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker == _EOI:
            return bytes(out + b"\xff\xd9")
        if marker == _SOI or 0xD0 <= marker <= 0xD7 or marker == 0x01:
            return None  # not where these can stand
        if pos + 4 > len(data):
            return None
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if length < 2 or pos + 2 + length > len(data):
            return None
        payload = data[pos + 4 : pos + 2 + length]
        pos += 2 + length
        kept = _jpeg_segment_kept(marker, payload)
        if kept is not None:
            out += bytes((0xFF, marker)) + (len(kept) + 2).to_bytes(2, "big") + kept
        if marker == _SOS:
            end = _entropy_end(data, pos)
            if end is None:
                return None
            out += data[pos:end]
            pos = end
    return None


# PNG chunks needed to show the picture (and APNG's animation); text, EXIF, time and private chunks go.
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_KEPT = {
    b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT",
    b"pHYs", b"bKGD", b"acTL", b"fcTL", b"fdAT",
}  # fmt: skip


def strip_png_metadata(data: bytes) -> bytes | None:
    """`data` with only the chunks rendering needs; None when it is not a complete PNG."""
    if not data.startswith(_PNG_SIGNATURE):
        return None
    out = bytearray(_PNG_SIGNATURE)
    pos = len(_PNG_SIGNATURE)
    while pos + 12 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > len(data):
            return None
        if kind in _PNG_KEPT:
            out += data[pos:end]
        if kind == b"IEND":
            return bytes(out)
        pos = end
    return None


# GIF extensions: graphic control (timing, transparency), plain text, and the application blocks for
# looping and colour (NETSCAPE2.0, ANIMEXTS1.0, ICCRGBG1) stay; comments, XMP and the rest go.
_GIF_KEPT_APPLICATIONS = (b"NETSCAPE2.0", b"ANIMEXTS1.0", b"ICCRGBG1012")


def _gif_sub_blocks_end(data: bytes, pos: int) -> int | None:
    """Where the chain of sub-blocks starting at `pos` ends (after its empty block), or None."""
    while pos < len(data):
        size = data[pos]
        pos += 1 + size
        if size == 0:
            return pos
    return None


def _color_table(flags: int) -> int:
    return 3 * 2 ** ((flags & 0x07) + 1) if flags & 0x80 else 0


def strip_gif_metadata(data: bytes) -> bytes | None:
    """`data` without comment and foreign application extensions; None when it is not a complete GIF."""
    if data[:6] not in (b"GIF87a", b"GIF89a") or len(data) < 13:
        return None
    pos = 13 + _color_table(data[10])
    out = bytearray(data[:pos])
    while pos < len(data):
        block = data[pos]
        if block == 0x3B:
            return bytes(out + b"\x3b")
        if block == 0x2C and pos + 10 <= len(data):
            # image descriptor, local colour table, LZW code size, then the image data
            end = _gif_sub_blocks_end(data, pos + 10 + _color_table(data[pos + 9]) + 1)
            if end is None:
                return None
            out += data[pos:end]
        elif block == 0x21 and pos + 2 < len(data):
            label = data[pos + 1]
            end = _gif_sub_blocks_end(data, pos + 2)
            if end is None:
                return None
            application = data[pos + 3 : pos + 3 + data[pos + 2]] if label == 0xFF else b""
            if label in (0xF9, 0x01) or application in _GIF_KEPT_APPLICATIONS:
                out += data[pos:end]
        else:
            return None
        pos = end
    return None


_STRIPPERS = {"JPEG": strip_jpeg_metadata, "PNG": strip_png_metadata, "GIF": strip_gif_metadata}


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB") if image.mode != "RGB" else image


def _memory_file() -> BinaryIO:
    """A file in memory that has a descriptor (on Linux; elsewhere an unnamed temporary file)."""
    if hasattr(os, "memfd_create"):
        try:
            return os.fdopen(os.memfd_create("serwersms-picture", os.MFD_CLOEXEC), "w+b")
        except OSError:
            pass  # a kernel or sandbox without it (ENOSYS, EPERM): a temporary file does as well
    return tempfile.TemporaryFile()


def encode(image: Image.Image, fmt: str, **options: Any) -> bytes:
    """`image` saved as `fmt` with `options`, through a file descriptor.

    Pillow encodes into a BytesIO holding the GIL from start to end (a 1600x1200 JPEG: about
    20 ms in which the event loop cannot run, however idle its CPU), but into a file with a
    descriptor without it: the picture queue's jobs then leave the loop alone.
    """
    with _memory_file() as handle:
        image.save(handle, fmt, **options)
        handle.seek(0)
        return handle.read()


def _encode_jpeg(image: Image.Image, quality: int, icc_profile: bytes | None) -> bytes:
    # Only the colour profile goes along: Pillow would otherwise copy the source's comment.
    image.info = {}
    return encode(image, "JPEG", quality=quality, optimize=False, progressive=False, icc_profile=icc_profile)


def _search_quality(image: Image.Image, budget: int, icc_profile: bytes | None) -> bytes | None:
    """The best quality JPEG of `image` within `budget`, or None when even the lowest is too big."""
    best = _encode_jpeg(image, _QUALITY_HIGH, icc_profile)
    if len(best) <= budget:
        return best
    # Too big even at the lowest quality: a smaller size is needed, no use searching the qualities
    # (most sizes tried for a small share of the budget end here, after two encodes, not seven).
    if len(_encode_jpeg(image, _QUALITY_LOW, icc_profile)) > budget:
        return None
    low, high, found = _QUALITY_LOW, _QUALITY_HIGH - 1, None
    while low <= high:
        quality = (low + high) // 2
        candidate = _encode_jpeg(image, quality, icc_profile)
        if len(candidate) <= budget:
            found, low = candidate, quality + 1
        else:
            high = quality - 1
    return found


type Decorate = Callable[[Image.Image], Image.Image]


def _reencode(image: Image.Image, budget: int, decorate: Decorate | None) -> tuple[bytes, int, int]:
    icc_profile = image.info.get("icc_profile") or None
    width, height = image.size
    scale = min(1.0, _START_MAX_SIDE / max(width, height))
    if image.format == "JPEG" and scale < 1.0:
        # Let libjpeg decode at a reduced size: much faster than a full decode followed by a resize.
        image.draft("RGB", (max(1, int(width * scale)), max(1, int(height * scale))))
    image = ImageOps.exif_transpose(image)
    image = _to_rgb(image)
    width, height = image.size
    target = min(_START_MAX_SIDE, max(width, height))
    while True:
        ratio = min(1.0, target / max(width, height))
        size = (max(1, round(width * ratio)), max(1, round(height * ratio)))
        resized = (
            image if size == image.size else image.resize(size, Image.Resampling.BICUBIC, reducing_gap=2.0)
        )
        if decorate is not None:
            resized = decorate(resized)  # drawn at the size sent, so that it stays sharp
        encoded = _search_quality(resized, budget, icc_profile)
        if encoded is not None:
            return encoded, size[0], size[1]
        if min(size) <= _MIN_SIDE:
            raise ImageTooLargeError("the image cannot be made small enough")
        target = round(max(size) * _SCALE_STEP)


def fit_image(data: bytes, filename: str, budget: int, *, decorate: Decorate | None = None) -> FittedImage:
    """Return `data` fitted into `budget` bytes: orientation applied, metadata stripped.

    GIF, PNG and JPEG that fit once their metadata is gone are sent without re-encoding; everything
    else is scaled down and re-encoded as JPEG with the highest quality that fits. The same input
    always gives the same output. `decorate` (say, a time stamp) is applied to the picture at the
    size it is sent at, which always re-encodes it.
    """
    image = _open(data)
    try:
        content, content_type, width, height = _fit_opened(image, data, budget, decorate)
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        # Broken or truncated image data only shows when the pixels are decoded.
        raise NotAnImageError(str(err)) from err
    return FittedImage(
        content=content,
        content_type=content_type,
        filename=_rename(filename, content_type),
        width=width,
        height=height,
        changed=content != data,
        digest=hashlib.sha256(content).hexdigest(),
    )


def _fit_opened(
    image: Image.Image, data: bytes, budget: int, decorate: Decorate | None
) -> tuple[bytes, str, int, int]:
    fmt = image.format or ""
    width, height = image.size
    strip = _STRIPPERS.get(fmt)
    # Metadata is rarely more than a thumbnail or two: far bigger pictures need re-encoding anyway.
    if (
        strip is not None
        and decorate is None
        and len(data) <= budget + _MAX_METADATA
        and _orientation(image) == 1
    ):
        stripped = strip(data)
        if stripped is not None and len(stripped) <= budget:
            # Sent without re-encoding, so what is sent must decode.
            Image.open(io.BytesIO(stripped)).load()
            return stripped, _KEEP_AS_IS.get(fmt, "image/jpeg"), width, height
    content, width, height = _reencode(image, budget, decorate)
    return content, "image/jpeg", width, height
