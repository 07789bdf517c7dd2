"""Fitting images into the MMS budget (pure functions, no Home Assistant)."""

from __future__ import annotations

import io

from PIL import Image
import pytest

from custom_components.serwersms.mms.images import (
    ImageTooLargeError,
    NotAnImageError,
    fit_image,
    fit_images,
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
    fitted = fit_images([(big1, "a.jpg"), (small, "b.png"), (big2, "c.jpg")], 200 * KB)
    assert sum(len(f.content) for f in fitted) <= 200 * KB
    assert fitted[1].content == small
    assert [f.filename for f in fitted] == ["a.jpg", "b.png", "c.jpg"]
    assert fit_images([], 100) == []


@pytest.mark.parametrize(("size", "budget"), [((200, 150), 300 * KB), ((2400, 1800), 100 * KB)])
def test_truncated_jpegs_are_refused_not_sent(size: tuple[int, int], budget: int) -> None:
    whole = encode(noise(*size), "JPEG", quality=90)
    with pytest.raises(NotAnImageError):
        fit_image(whole[: len(whole) // 2], "cut.jpg", budget)


def test_truncated_png_that_fits_is_refused() -> None:
    whole = encode(noise(300, 200), "PNG")
    with pytest.raises(NotAnImageError):
        fit_image(whole[: len(whole) // 2], "cut.png", 300 * KB)
