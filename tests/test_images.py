"""Fitting images into the MMS budget (pure functions, no Home Assistant)."""

from __future__ import annotations

from functools import cache
import io
import os
from typing import Any

from PIL import Image, ImageFile
import pytest

from custom_components.serwersms.mms.fitting import Picture, fit_all
from custom_components.serwersms.mms.gif import fit_burst
from custom_components.serwersms.mms.images import (
    ImageTooLargeError,
    NotAnImageError,
    fit_image,
    strip_gif_metadata,
    strip_jpeg_metadata,
    strip_png_metadata,
)
from tests.conftest import make_jpeg, make_png

KB = 1024


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def noise(width: int, height: int, mode: str = "RGB") -> Image.Image:
    return Image.effect_noise((width, height), 90).convert(mode)


def test_small_png_and_gif_are_kept_byte_for_byte() -> None:
    png = make_png()
    gif = encode(Image.new("P", (40, 30), 3), "GIF")
    assert fit_image(png, "a.png", 300 * KB).content == png
    kept = fit_image(gif, "anim.gif", 300 * KB)
    assert (kept.content, kept.content_type, kept.filename, kept.changed) == (
        gif,
        "image/gif",
        "anim.gif",
        False,
    )


def test_a_jpeg_that_fits_only_loses_its_metadata() -> None:
    jpeg = make_jpeg(320, 240, exif=True)
    fitted = fit_image(jpeg, "cam", 300 * KB)
    assert fitted.changed
    assert len(fitted.content) < len(jpeg)
    image = Image.open(io.BytesIO(fitted.content))
    assert not image.getexif()
    assert (image.width, image.height) == (320, 240)
    # the pixels are untouched: only metadata segments were dropped
    assert fitted.content.endswith(jpeg[-1000:])
    assert fitted.filename == "cam.jpg"


def test_a_clean_jpeg_that_fits_is_unchanged() -> None:
    jpeg = make_jpeg(100, 100)
    assert fit_image(jpeg, "x.jpg", 300 * KB).changed is False


def test_orientation_is_applied() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    jpeg = encode(Image.linear_gradient("L").resize((400, 200)).convert("RGB"), "JPEG", exif=exif)
    fitted = fit_image(jpeg, "x.jpg", 300 * KB)
    image = Image.open(io.BytesIO(fitted.content))
    assert (image.width, image.height) == (200, 400)
    assert not image.getexif().get(0x0112)


def test_big_photos_are_scaled_and_reencoded_to_fit_keeping_the_aspect() -> None:
    big = encode(noise(2400, 1800), "JPEG", quality=95)
    fitted = fit_image(big, "x.jpg", 100 * KB)
    assert len(fitted.content) <= 100 * KB
    assert fitted.width * 3 == fitted.height * 4
    assert fitted.content == fit_image(big, "x.jpg", 100 * KB).content  # deterministic


@pytest.mark.parametrize(("fmt", "mode"), [("WEBP", "RGB"), ("BMP", "RGB"), ("TIFF", "RGB")])
def test_formats_the_gateway_refuses_become_jpeg(fmt: str, mode: str) -> None:
    data = encode(Image.new(mode, (50, 40), (10, 200, 30)), fmt)
    fitted = fit_image(data, "pic." + fmt.lower(), 300 * KB)
    assert fitted.content_type == "image/jpeg"
    assert fitted.filename == "pic.jpg"
    assert Image.open(io.BytesIO(fitted.content)).format == "JPEG"


def test_transparent_png_too_big_becomes_jpeg_on_white() -> None:
    image = noise(600, 600, "RGBA")
    image.putalpha(0)
    fitted = fit_image(encode(image, "PNG"), "overlay.png", 20 * KB)
    result = Image.open(io.BytesIO(fitted.content)).convert("RGB")
    assert fitted.content_type == "image/jpeg"
    assert result.getpixel((10, 10)) >= (250, 250, 250)


def test_grayscale_and_palette_images_are_handled() -> None:
    for mode in ("L", "P", "CMYK"):
        data = encode(noise(500, 400, mode), "TIFF")
        assert fit_image(data, "x.tif", 300 * KB).content_type == "image/jpeg"


def test_non_images_are_refused() -> None:
    with pytest.raises(NotAnImageError):
        fit_image(b"<html>not an image</html>", "x.jpg", 300 * KB)
    with pytest.raises(NotAnImageError):
        fit_image(make_jpeg(64, 64)[:200], "x.jpg", 10)


def test_decompression_bombs_are_refused() -> None:
    bomb = encode(Image.new("1", (20000, 20000)), "PNG")
    assert len(bomb) < 100 * KB
    with pytest.raises(ImageTooLargeError):
        fit_image(bomb, "bomb.png", 300 * KB)


def test_an_impossible_budget_is_refused() -> None:
    with pytest.raises(ImageTooLargeError):
        fit_image(encode(noise(800, 600), "JPEG", quality=95), "x.jpg", 300)


def test_several_images_share_the_budget() -> None:
    small = make_png()
    big1 = encode(noise(1600, 1200), "JPEG", quality=90)
    big2 = encode(noise(1600, 1200), "JPEG", quality=90)
    fitted = fit_all([Picture(big1, "a.jpg"), Picture(small, "b.png"), Picture(big2, "c.jpg")], 200 * KB)
    assert sum(len(f.content) for f in fitted) <= 200 * KB
    assert fitted[1].content == small
    assert [f.filename for f in fitted] == ["a.jpg", "b.png", "c.jpg"]
    assert fit_all([], 100) == []


@pytest.mark.parametrize(("size", "budget"), [((200, 150), 300 * KB), ((2400, 1800), 100 * KB)])
def test_truncated_jpegs_are_refused_not_sent(size: tuple[int, int], budget: int) -> None:
    whole = encode(noise(*size), "JPEG", quality=90)
    with pytest.raises(NotAnImageError):
        fit_image(whole[: len(whole) // 2], "cut.jpg", budget)


def test_truncated_png_that_fits_is_refused() -> None:
    whole = encode(noise(300, 200), "PNG")
    with pytest.raises(NotAnImageError):
        fit_image(whole[: len(whole) // 2], "cut.png", 300 * KB)


# --- nothing personal leaves in a picture ---------------------------------------------------------

SECRET = b"Jan Kowalski, Lipowa 5"


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + (len(payload) + 2).to_bytes(2, "big") + payload


def _jpeg_markers(data: bytes) -> list[tuple[int, bytes]]:
    """The (marker, first payload bytes) of every segment before the image data."""
    found, pos = [], 2
    while data[pos + 1] != 0xDA:
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        found.append((data[pos + 1], data[pos + 4 : pos + 16]))
        pos += 2 + length
    return found


@cache  # a new profile carries the time it was made
def _icc_profile() -> bytes:
    from PIL import ImageCms  # noqa: PLC0415

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@pytest.mark.filterwarnings("ignore:Image appears to be a malformed MPO file")
def test_a_jpeg_keeps_only_what_rendering_needs() -> None:
    clean = encode(
        Image.linear_gradient("L").resize((320, 240)).convert("RGB"), "JPEG", icc_profile=_icc_profile()
    )
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (52.0, 13.0, 0.0)}
    dirty = (
        clean[:2]
        + _segment(0xE0, b"JFXX\0\x10" + SECRET)  # JFIF extension: a thumbnail
        + _segment(0xE1, b"Exif\0\0" + exif.tobytes()[6:] + SECRET)
        + _segment(0xE1, b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta>" + SECRET)
        + _segment(0xED, b"Photoshop 3.0\0" + SECRET)  # IPTC
        + _segment(0xE2, b"MPF\0" + SECRET)  # multi-picture index
        + _segment(0xE5, b"maker notes " + SECRET)
        + _segment(0xFE, b"comment " + SECRET)
        + clean[2:]
        + b"second picture after the end "
        + SECRET
    )
    fitted = fit_image(dirty, "cam.jpg", 300 * KB)
    assert SECRET not in fitted.content
    assert [
        marker for marker, _ in _jpeg_markers(fitted.content) if 0xE0 <= marker <= 0xEF or marker == 0xFE
    ] == [
        0xE0,  # JFIF
        0xE2,  # ICC profile
    ]
    assert fitted.content.endswith(b"\xff\xd9")
    shown = Image.open(io.BytesIO(fitted.content))
    assert shown.info["icc_profile"] == _icc_profile()
    assert shown.tobytes() == Image.open(io.BytesIO(clean)).tobytes()  # not re-encoded


def test_a_jfif_thumbnail_is_dropped() -> None:
    clean = make_jpeg(64, 48)
    assert clean[2:4] == b"\xff\xe0"
    length = int.from_bytes(clean[4:6], "big")
    thumbnail = bytes(3 * 2 * 2)
    jfif = clean[6 : 6 + 12] + b"\x02\x02" + thumbnail  # a 2x2 RGB thumbnail after the header
    with_thumbnail = clean[:2] + _segment(0xE0, jfif) + clean[4 + length :]
    fitted = fit_image(with_thumbnail, "a.jpg", 300 * KB)
    assert fitted.content == clean


def test_a_reencoded_jpeg_keeps_its_colour_profile_but_not_its_comment() -> None:
    big = encode(noise(2400, 1800), "JPEG", quality=95, comment=SECRET, icc_profile=_icc_profile())
    fitted = fit_image(big, "big.jpg", 100 * KB)
    assert SECRET not in fitted.content
    assert len(fitted.content) <= 100 * KB
    shown = Image.open(io.BytesIO(fitted.content))
    assert "comment" not in shown.info
    assert shown.info["icc_profile"] == _icc_profile()


def _png_chunks(data: bytes) -> list[bytes]:
    kinds, pos = [], 8
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kinds.append(data[pos + 4 : pos + 8])
        pos += 12 + length
    return kinds


def test_a_png_loses_its_text_and_exif_chunks() -> None:
    from PIL import PngImagePlugin  # noqa: PLC0415

    text = PngImagePlugin.PngInfo()
    text.add_text("Author", SECRET.decode())
    text.add_text("Comment", SECRET.decode(), zip=True)
    text.add_itxt("Location", SECRET.decode())
    exif = Image.Exif()
    exif[0x010F] = SECRET.decode()
    picture = Image.new("RGBA", (64, 48), (200, 30, 30, 128))
    dirty = encode(picture, "PNG", pnginfo=text, exif=exif, icc_profile=_icc_profile())
    assert {b"tEXt", b"zTXt", b"iTXt", b"eXIf"} <= set(_png_chunks(dirty))
    fitted = fit_image(dirty, "a.png", 300 * KB)
    assert SECRET not in fitted.content
    assert fitted.content_type == "image/png"
    assert _png_chunks(fitted.content) == [b"IHDR", b"iCCP", b"IDAT", b"IEND"]
    assert Image.open(io.BytesIO(fitted.content)).tobytes() == picture.tobytes()


def test_an_animated_gif_keeps_its_animation_but_not_its_comments() -> None:
    frames = [Image.new("RGB", (40, 30), colour) for colour in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    gif = encode(
        frames[0], "GIF", save_all=True, append_images=frames[1:], loop=0, duration=200, comment=SECRET
    )
    header_end = 13 + 3 * 2 ** ((gif[10] & 0x07) + 1)
    xmp = b"\x21\xff\x0bXMP DataXMP" + bytes([len(SECRET)]) + SECRET + b"\x00"
    dirty = gif[:header_end] + xmp + gif[header_end:]
    assert SECRET in dirty
    fitted = fit_image(dirty, "motion.gif", 300 * KB)
    assert SECRET not in fitted.content
    assert fitted.content_type == "image/gif"
    shown = Image.open(io.BytesIO(fitted.content))
    assert shown.n_frames == 3
    assert shown.info["loop"] == 0
    assert shown.info["duration"] == 200


@pytest.mark.parametrize(
    "broken",
    [
        make_png()[:-12],  # no IEND
        encode(Image.new("P", (40, 30), 3), "GIF")[:-1],  # no trailer
        make_jpeg(64, 48)[:-2],  # no end of image
    ],
    ids=["png", "gif", "jpeg"],
)
def test_pictures_cut_short_are_never_sent_as_they_are(broken: bytes) -> None:
    try:
        fitted = fit_image(broken, "x", 300 * KB)
    except NotAnImageError:
        return
    assert fitted.content != broken
    assert fitted.content_type == "image/jpeg"  # decoded and re-encoded whole


def test_a_jpeg_over_the_budget_only_by_its_metadata_is_stripped_not_reencoded() -> None:
    clean = encode(noise(400, 300), "JPEG", quality=90)
    dirty = clean[:2] + _segment(0xE1, b"http://ns.adobe.com/xap/1.0/\0" + SECRET * 2000) + clean[2:]
    budget = len(clean) + 100
    assert len(dirty) > budget
    fitted = fit_image(dirty, "cam.jpg", budget)
    assert Image.open(io.BytesIO(fitted.content)).tobytes() == Image.open(io.BytesIO(clean)).tobytes()
    assert SECRET not in fitted.content


@pytest.mark.parametrize(
    ("strip", "data"),
    [
        (strip_jpeg_metadata, b"GIF89a"),
        (strip_jpeg_metadata, b"\xff\xd8\x00\x00"),  # no marker where one must be
        (strip_jpeg_metadata, b"\xff\xd8\xff\xe1\x00"),  # a length cut short
        (strip_jpeg_metadata, b"\xff\xd8\xff\xe1\x00\x01"),  # a length below its own size
        (strip_jpeg_metadata, b"\xff\xd8\xff\xe1\x00\x10abc"),  # a segment longer than the data
        (strip_jpeg_metadata, b"\xff\xd8\xff\xd8"),  # a second start of image
        (strip_jpeg_metadata, b"\xff\xd8\xff\xda\x00\x02\x12\x34"),  # image data that never ends
        (strip_jpeg_metadata, b"\xff\xd8\xff\xff\xe0\x00\x02"),  # fill bytes, then nothing
        (strip_png_metadata, b"\x89PNG\r\n\x1a\n\x00\x00\x00\x10IHDR"),
        (strip_png_metadata, b"GIF89a"),
        (strip_gif_metadata, b"\x89PNG"),
        (strip_gif_metadata, b"GIF89a" + bytes(7) + b"\x00"),  # an unknown block
        (strip_gif_metadata, b"GIF89a" + bytes(7) + b",\x00"),  # an image descriptor cut short
        (strip_gif_metadata, b"GIF89a" + bytes(7) + b"!\xfe\x05ab"),  # an extension cut short
        (strip_gif_metadata, b"GIF89a" + bytes(7) + b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02"),
        (strip_gif_metadata, b"GIF89a" + bytes(7) + b"!\xf9\x04\x00\x00\x00\x00\x00"),  # no trailer
    ],
)
def test_metadata_strippers_refuse_what_they_cannot_walk(strip: Any, data: bytes) -> None:
    assert strip(data) is None


def test_pictures_are_encoded_through_a_file_descriptor(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pillow holds the GIL while it encodes into a BytesIO (Home Assistant's event loop waits the
    whole encode: ~20 ms for a 1600x1200 JPEG), not into a file with a descriptor."""
    written: list[tuple[str, bool]] = []
    save = ImageFile._save

    def spy(image: Image.Image, fp: Any, tile: Any, bufsize: int = 0) -> None:
        try:
            fp.fileno()
        except (AttributeError, OSError):
            written.append((image.mode, False))
        else:
            written.append((image.mode, True))
        save(image, fp, tile, bufsize)

    photo = encode(noise(1600, 1200), "JPEG", quality=95)
    frames = [encode(noise(320, 240), "JPEG", quality=90) for _ in range(3)]
    monkeypatch.setattr(ImageFile, "_save", spy)
    assert fit_image(photo, "x.jpg", 100 * KB).content_type == "image/jpeg"
    assert fit_burst(frames, "cam", 100 * KB, 1000).content_type == "image/gif"
    assert {mode for mode, _ in written} >= {"RGB", "P"}  # the JPEGs and the GIF's frames
    assert all(through_descriptor for _, through_descriptor in written)


def test_pictures_are_encoded_without_memfd_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """A sandbox that refuses memfd_create (seccomp) still gets its pictures fitted."""

    def refused(name: str, flags: int = 0) -> int:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "memfd_create", refused)
    photo = encode(noise(1600, 1200), "JPEG", quality=95)
    fitted = fit_image(photo, "x.jpg", 100 * KB)
    assert fitted.content_type == "image/jpeg"
    assert len(fitted.content) <= 100 * KB
    assert Image.open(io.BytesIO(fitted.content)).size == (fitted.width, fitted.height)
