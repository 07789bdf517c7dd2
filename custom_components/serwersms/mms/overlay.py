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
BOX_COLOR = (0, 0, 0)
TEXT_COLOR = (255, 255, 255)

type Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@cache
def _font(size: int) -> Font:
    return ImageFont.load_default(size=size)


def _text_mask(text: str, cap_height: int) -> Image.Image:
    """The text as an 'L' mask whose capitals are `cap_height` pixels tall (ink box only)."""
    font = _font(max(1, math.ceil(cap_height / _cap_ratio())))
    if not isinstance(font, ImageFont.FreeTypeFont):
        # Pillow built without FreeType gives one fixed-size bitmap font: draw it and scale it up.
        small = _draw(text, font)
        ink = _draw("0", font).getbbox() or (0, 0, 1, 1)
        ratio = cap_height / max(1, ink[3] - ink[1])
        size = (max(1, round(small.width * ratio)), max(1, round(small.height * ratio)))
        return small.resize(size, Image.Resampling.BICUBIC)
    return _draw(text, font)


def _draw(text: str, font: Font) -> Image.Image:
    left, top, right, bottom = font.getbbox(text)
    mask = Image.new("L", (max(1, int(right - left)), max(1, int(bottom - top))), 0)
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


def _fitting_mask(name: str, when: str, height: int, room: int) -> Image.Image:
    """The label's mask at the aimed size, shortening the name, then the size, until it fits `room`."""
    aim = max(_MIN_TEXT_PX, math.ceil(height * TEXT_SHARE))
    floor = max(_MIN_TEXT_PX, math.ceil(height * MIN_TEXT_SHARE))
    for cap in (aim, floor):
        shortened = name
        while True:
            text = f"{shortened}  {when}" if shortened else when
            mask = _text_mask(text, cap)
            if mask.width <= room or not shortened:
                break
            # Drop a character per step: names are short, and this runs once per picture.
            shortened = shortened[:-2].rstrip() + _ELLIPSIS if len(shortened) > 1 else ""
        if mask.width <= room:
            return mask
    return mask  # even the time alone is wider than the picture: it is cut at the edge


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
