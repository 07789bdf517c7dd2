"""Fit images into an MMS budget with Pillow. Pure, blocking functions: call them in the executor."""

from __future__ import annotations

from dataclasses import dataclass
import io
from pathlib import PurePath
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


def _has_metadata(image: Image.Image) -> bool:
    return bool(image.info.get("exif") or image.info.get("xmp") or image.getexif())


def _strip_jpeg_metadata(data: bytes) -> bytes | None:
    """Drop APP1 (EXIF, XMP) and APP13 (IPTC) segments without re-encoding; None if unparseable."""
    if not data.startswith(b"\xff\xd8"):
        return None
    out = bytearray(b"\xff\xd8")
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xDA:  # start of scan: the rest is image data
            out += data[pos:]
            return bytes(out)
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if length < 2:
            return None
        if marker not in (0xE1, 0xED):
            out += data[pos : pos + 2 + length]
        pos += 2 + length
    return None


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB") if image.mode != "RGB" else image


def _encode_jpeg(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, optimize=False, progressive=False)
    return out.getvalue()


def _search_quality(image: Image.Image, budget: int) -> bytes | None:
    """The best quality JPEG of `image` within `budget`, or None when even the lowest is too big."""
    best = _encode_jpeg(image, _QUALITY_HIGH)
    if len(best) <= budget:
        return best
    low, high, found = _QUALITY_LOW, _QUALITY_HIGH - 1, None
    while low <= high:
        quality = (low + high) // 2
        candidate = _encode_jpeg(image, quality)
        if len(candidate) <= budget:
            found, low = candidate, quality + 1
        else:
            high = quality - 1
    return found


def _reencode(image: Image.Image, budget: int) -> tuple[bytes, int, int]:
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
        encoded = _search_quality(resized, budget)
        if encoded is not None:
            return encoded, size[0], size[1]
        if min(size) <= _MIN_SIDE:
            raise ImageTooLargeError("the image cannot be made small enough")
        target = round(max(size) * _SCALE_STEP)


def fit_image(data: bytes, filename: str, budget: int) -> FittedImage:
    """Return `data` fitted into `budget` bytes: orientation applied, metadata stripped.

    GIF and PNG that already fit are kept byte for byte (unless they carry EXIF); a JPEG that fits
    only loses its metadata segments; everything else is scaled down and re-encoded as JPEG with the
    highest quality that fits. The same input always gives the same output.
    """
    image = _open(data)
    try:
        return _fit_opened(image, data, filename, budget)
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        # Broken or truncated image data only shows when the pixels are decoded.
        raise NotAnImageError(str(err)) from err


def _fit_opened(image: Image.Image, data: bytes, filename: str, budget: int) -> FittedImage:
    fmt = image.format or ""
    width, height = image.size
    if fmt in _KEEP_AS_IS and len(data) <= budget and not _has_metadata(image):
        image.load()  # sent byte for byte, so it must decode
        content_type = _KEEP_AS_IS[fmt]
        return FittedImage(data, content_type, _rename(filename, content_type), width, height, changed=False)
    if fmt == "JPEG" and len(data) <= budget:
        orientation = image.getexif().get(0x0112, 1)
        stripped = _strip_jpeg_metadata(data) if orientation == 1 else None
        if stripped is not None:
            image.load()  # sent without re-encoding, so it must decode
            return FittedImage(
                stripped, "image/jpeg", _rename(filename, "image/jpeg"), width, height, stripped != data
            )
    content, width, height = _reencode(image, budget)
    return FittedImage(content, "image/jpeg", _rename(filename, "image/jpeg"), width, height, changed=True)


def fit_images(images: list[tuple[bytes, str]], budget: int) -> list[FittedImage]:
    """Fit several `(data, filename)` images into one shared `budget` of bytes.

    Images that already fit their equal share are kept; what they leave unused is shared by the rest.
    """
    if not images:
        return []
    results: dict[int, FittedImage] = {}
    pending = list(range(len(images)))
    remaining = budget
    while pending:
        share = remaining // len(pending)
        small = [i for i in pending if len(images[i][0]) <= share]
        if not small:
            break
        for i in small:
            results[i] = fit_image(images[i][0], images[i][1], share)
            remaining -= len(results[i].content)
            pending.remove(i)
    if pending:
        share = remaining // len(pending)
        for i in pending:
            results[i] = fit_image(images[i][0], images[i][1], share)
    return [results[i] for i in range(len(images))]
