"""Stamp a picture with the camera's name and the time of the frame. Pure, blocking Pillow code.

The label sits in the bottom-left corner, white on a black box (legible on any picture), drawn at
the size the picture is sent at so it stays sharp. Only what Pillow ships is used (its bundled
font), so it works offline.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
import math

from PIL import Image, ImageDraw, ImageFont

# Height of the digits and capitals, as a share of the picture's height: the aim, and the floor
# (a long label on a narrow picture may be set smaller, never below the floor: 3 % and a little more,
# for the soft edges of the glyphs).
TEXT_SHARE = 0.04
MIN_TEXT_SHARE = 0.033
_MIN_TEXT_PX = 8  # below this no font is legible, whatever the picture
_PADDING = 0.35  # box padding, relative to the text height
_MARGIN = 0.01  # gap between the box and the picture's edges, relative to the picture's height
_ELLIPSIS = "…"
_SHORT_NAME = 32  # characters: most camera names; their whole label is measured first
BOX_COLOR = (0, 0, 0)
TEXT_COLOR = (255, 255, 255)

type Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@cache
def _font(size: int) -> Font:
    return ImageFont.load_default(size=size)


def _scaled_font(cap_height: int) -> tuple[Font, float]:
    """The font whose capitals are `cap_height` pixels tall, and the scale its drawing needs.

    With FreeType the font is made at the right size (scale 1). Pillow built without it has one
    fixed-size bitmap font: that is drawn small and scaled up.
    """
    font = _font(max(1, math.ceil(cap_height / _cap_ratio())))
    if isinstance(font, ImageFont.FreeTypeFont):
        return font, 1.0
    ink = _draw("0", font).getbbox() or (0, 0, 1, 1)
    return font, cap_height / max(1, ink[3] - ink[1])


def _box(text: str, font: Font) -> tuple[int, int, int, int]:
    """Where `text`'s ink starts (left, top) and the size of its mask: measured, not drawn."""
    left, top, right, bottom = font.getbbox(text)
    return int(left), int(top), max(1, int(right - left)), max(1, int(bottom - top))


def _width(text: str, font: Font, scale: float) -> int:
    """How wide `text`'s mask is at `scale`: a measurement, nothing is drawn."""
    width = _box(text, font)[2]
    return width if scale == 1.0 else max(1, round(width * scale))


def _text_mask(text: str, font: Font, scale: float) -> Image.Image:
    """The text as an 'L' mask (ink box only), at the size `_scaled_font` chose."""
    mask = _draw(text, font)
    if scale == 1.0:
        return mask
    size = (max(1, round(mask.width * scale)), max(1, round(mask.height * scale)))
    return mask.resize(size, Image.Resampling.BICUBIC)


def _draw(text: str, font: Font) -> Image.Image:
    left, top, width, height = _box(text, font)
    mask = Image.new("L", (width, height), 0)
    ImageDraw.Draw(mask).text((-left, -top), text, fill=255, font=font)
    return mask


@cache
def _cap_ratio() -> float:
    """Height of a digit's ink relative to the font size (measured once; digits lead the label)."""
    font = _font(100)
    if not isinstance(font, ImageFont.FreeTypeFont):
        return 1.0
    _, top, _, bottom = font.getbbox("0")
    return (bottom - top) / 100


def _label(name: str, kept: int, when: str) -> str:
    """The label with the first `kept` characters of `name` (an ellipsis marks a cut; 0: the time alone)."""
    if kept >= len(name):
        shortened = name
    else:
        stem = name[:kept].rstrip()
        shortened = stem + _ELLIPSIS if stem else ""
    return f"{shortened}  {when}" if shortened else when


def _longest_fitting(name: str, when: str, font: Font, scale: float, room: int) -> str | None:
    """The label keeping the most of `name` that fits `room`, or None when even the time alone does not.

    Each step is a measurement; nothing is drawn. Measuring costs about as much as the text is long,
    so a long name is not measured whole: the search gallops from the short end (1, 2, 4, …
    characters kept), then halves the last gap - a few measurements, each of a label at most about
    twice as long as what fits (a 200-character name on a small GIF frame used to be drawn 200
    times). A usual name is tried whole first: it mostly fits.
    """

    def fits(kept: int) -> bool:
        return _width(_label(name, kept, when), font, scale) <= room

    whole = len(name)
    if whole <= _SHORT_NAME and fits(whole):
        return _label(name, whole, when)
    if not fits(0):
        return None
    low, probe = 0, 1  # `low` characters fit
    while low < whole and fits(probe):
        low, probe = probe, min(probe * 2, whole)
    high = low if low == whole else probe - 1  # `probe` characters do not fit
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return _label(name, low, when)


def _fitting_mask(name: str, when: str, height: int, room: int) -> Image.Image:
    """The label's mask at the aimed size, shortening the name, then the size, until it fits `room`."""
    aim = max(_MIN_TEXT_PX, math.ceil(height * TEXT_SHARE))
    floor = max(_MIN_TEXT_PX, math.ceil(height * MIN_TEXT_SHARE))
    for cap in (aim, floor):
        font, scale = _scaled_font(cap)
        text = _longest_fitting(name, when, font, scale, room)
        if text is not None:
            return _text_mask(text, font, scale)
    return _text_mask(when, font, scale)  # even the time alone is wider than the picture: cut at the edge


def draw_label(image: Image.Image, name: str, taken_at: datetime) -> Image.Image:
    """A copy of `image` (RGB) with `name` and the local time `taken_at` in its bottom-left corner."""
    stamped = image.convert("RGB") if image.mode != "RGB" else image.copy()
    width, height = stamped.size
    margin = round(height * _MARGIN)
    when = f"{taken_at:%Y-%m-%d %H:%M:%S}"
    probe = max(_MIN_TEXT_PX, math.ceil(height * TEXT_SHARE))
    pad = max(1, round(probe * _PADDING))
    mask = _fitting_mask(name, when, height, width - 2 * margin - 2 * pad)
    box_width, box_height = mask.width + 2 * pad, mask.height + 2 * pad
    left, top = margin, height - margin - box_height
    ImageDraw.Draw(stamped).rectangle((left, top, left + box_width - 1, top + box_height - 1), fill=BOX_COLOR)
    stamped.paste(TEXT_COLOR, (left + pad, top + pad), mask)
    return stamped
