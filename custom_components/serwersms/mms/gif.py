"""Animated GIFs that fit an MMS budget, with Pillow only. Pure, blocking functions: run them off the loop.

Two uses: the frames of one camera's burst become one looping GIF, and an animated GIF given as an
attachment keeps its animation when it is too big to send as is. Best picture per byte:
- one palette shared by every frame (built from all of them), no dithering (noise defeats compression);
- each later frame only carries what changed: pixels that stay within a small tolerance of what is
  already on screen are transparent, and the encoder crops each frame to the changed area;
- the size is searched so that the result uses most of its budget without passing it.
Nothing but pictures, timing and the loop flag is written (no comments, no XMP).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
import hashlib
import io
import itertools
import math
from pathlib import PurePath

from PIL import Image, ImageChops, ImageFilter, ImageOps, ImageSequence

from .images import MAX_PIXELS, FittedImage, ImageTooLargeError, NotAnImageError, encode
from .overlay import draw_label

# Decoded frames of one animation held at once (3 bytes each); beyond this a GIF goes as a still picture.
MAX_ANIMATION_PIXELS = MAX_PIXELS
MIN_SIDE = 96  # smaller than this an animation is not worth sending
_MAX_SIDE = 1600
_COLORS = 255  # the 256th palette entry is the transparent "unchanged" colour
# How far (0-255, in any channel) a pixel may drift from what is shown before it is redrawn: above
# camera noise after scaling, below a visible change.
_STILL_TOLERANCE = 14
_FILL = 0.82  # a result using less than this share of its budget is tried again larger
_ATTEMPTS = 5
# Bytes grow about as the pixels do (camera noise keeps bigger pictures as busy per pixel).
_AREA_EXPONENT = 1.0
_PALETTE_SAMPLE = 40_000  # pixels of all frames together that the palette is built from (~160 a colour)


_KEEP_LUT = [255 if value <= _STILL_TOLERANCE // 2 else 0 for value in range(256)]


@dataclass(frozen=True, slots=True)
class Label:
    """What to stamp on a frame: the camera's name and when the frame was taken (local time)."""

    name: str
    taken_at: datetime


@dataclass(slots=True)
class _Source:
    """Decoded frames (RGB, all one size), their durations in ms, and the loop count (None: play once)."""

    frames: list[Image.Image]
    durations: list[int]
    loop: int | None
    labels: list[Label | None]


def _working_size(width: int, height: int) -> tuple[int, int]:
    ratio = min(1.0, _MAX_SIDE / max(width, height))
    return max(1, round(width * ratio)), max(1, round(height * ratio))


def _open_frame(data: bytes, area: float = math.inf) -> Image.Image:
    """One frame decoded to RGB, no larger than any GIF we would send (frames are held together).

    A JPEG is decoded at a reduced size (a half, a quarter, an eighth) when that still has `area`
    pixels: much faster than a full decode (ten cameras of ten frames are a hundred decodes).
    """
    try:
        opened = Image.open(io.BytesIO(data))
        if opened.width * opened.height > MAX_PIXELS:
            raise ImageTooLargeError(f"{opened.width}x{opened.height}")
        if opened.format == "JPEG":
            wanted = min(_working_size(*opened.size), _size_for(opened.width, opened.height, area))
            opened.draft("RGB", wanted)
        opened.load()
        ImageOps.exif_transpose(opened, in_place=True)
        image = _flatten(opened)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise ImageTooLargeError(str(err)) from err
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise NotAnImageError(str(err)) from err
    size = _working_size(*image.size)
    return image if size == image.size else image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)


def _flatten(image: Image.Image) -> Image.Image:
    """RGB, with anything transparent shown on white (as a phone would on a light background)."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image if image.mode == "RGB" else image.convert("RGB")


def _palette(frames: list[Image.Image]) -> Image.Image:
    """One palette for every frame, built from a sample of all of them stacked together."""
    width, height = frames[0].size
    shrink = max(1.0, math.sqrt(width * height * len(frames) / _PALETTE_SAMPLE))
    thumb = (max(1, round(width / shrink)), max(1, round(height / shrink)))
    sheet = Image.new("RGB", (thumb[0], thumb[1] * len(frames)))
    for index, frame in enumerate(frames):
        sheet.paste(frame.resize(thumb, Image.Resampling.BOX), (0, index * thumb[1]))
    return sheet.quantize(_COLORS, method=Image.Quantize.MEDIANCUT)


def _unchanged(frame: Image.Image, shown: Image.Image) -> Image.Image:
    """Mask (L, 255) of the pixels of `frame` close enough to `shown` to be left as they are."""
    red, green, blue = ImageChops.difference(frame, shown).split()
    drift = ImageChops.lighter(ImageChops.lighter(red, green), blue)
    # Averaged over a few pixels, a stray noisy pixel fades below the tolerance while a moving edge
    # spreads a little, so that it is redrawn whole rather than leaving a fringe behind.
    drift = drift.filter(ImageFilter.BoxBlur(2))
    return drift.point(_KEEP_LUT)


def _encode(source: _Source, size: tuple[int, int], palette: Image.Image | None) -> tuple[bytes, Image.Image]:
    """The GIF of `source` at `size` (and the palette used, to reuse on the next attempt)."""
    frames: list[Image.Image] = []
    for frame, label in zip(source.frames, source.labels, strict=True):
        scaled = (
            frame if frame.size == size else frame.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
        )
        frames.append(draw_label(scaled, label.name, label.taken_at) if label else scaled)
    if palette is None:
        palette = _palette(frames)
    transparent = len(palette.getpalette() or []) // 3
    encoded: list[Image.Image] = []
    shown = frames[0]
    for index, frame in enumerate(frames):
        indexed = frame.quantize(palette=palette, dither=Image.Dither.NONE)
        # Pillow carries a source's info (EXIF, comment, XMP) along and the GIF writer would keep
        # some of it: nothing but pixels goes out.
        indexed.info = {}
        if index:
            keep = _unchanged(frame, shown)
            indexed.paste(transparent, mask=keep)
            shown = Image.composite(shown, frame, keep)
        encoded.append(indexed)
    options: dict[str, object] = {
        "duration": source.durations,
        "disposal": 1,
        "optimize": False,
        "transparency": transparent,
    }
    if source.loop is not None:
        options["loop"] = source.loop
    return encode(encoded[0], "GIF", save_all=True, append_images=encoded[1:], **options), palette


def _size_for(width: int, height: int, area: float) -> tuple[int, int]:
    ratio = min(1.0, math.sqrt(area / (width * height)), _MAX_SIDE / max(width, height))
    return max(1, round(width * ratio)), max(1, round(height * ratio))


def _aimed_area(budget: int, frames: int) -> float:
    """The first size tried for `frames` frames within `budget`, in pixels.

    About half a byte per pixel for the first frame, a third of that for each later one.
    """
    return budget / (0.5 * (1 + (frames - 1) / 3))


def _fit(source: _Source, budget: int) -> tuple[bytes, int, int]:
    """The largest GIF of `source` within `budget`: a few sized attempts, each aimed from the last."""
    width, height = source.frames[0].size
    # Never smaller than this (unless the frames are): a thumbnail GIF shows no one.
    floor = _size_for(width, height, width * height * (MIN_SIDE / min(width, height)) ** 2)
    size = max(_size_for(width, height, _aimed_area(budget, len(source.frames))), floor)
    palette: Image.Image | None = None
    best: tuple[bytes, tuple[int, int]] | None = None
    tried: set[tuple[int, int]] = set()
    for _ in range(_ATTEMPTS):
        tried.add(size)
        content, palette = _encode(source, size, palette)
        if len(content) <= budget and (best is None or size[0] > best[1][0]):
            best = (content, size)
        at_full_size = size == _size_for(width, height, width * height)
        if len(content) <= budget and (len(content) >= budget * _FILL or at_full_size):
            break
        aim = (budget * 0.95 / len(content)) ** (1 / _AREA_EXPONENT)
        next_size = max(_size_for(width, height, size[0] * size[1] * min(4.0, aim)), floor)
        if next_size in tried:
            break  # no size left to try: what fits (if anything) is the answer
        size = next_size
    if best is None:
        raise ImageTooLargeError("the animation cannot be made small enough")
    content, (fit_width, fit_height) = best
    return content, fit_width, fit_height


def fit_burst(
    frames: Sequence[bytes],
    filename: str,
    budget: int,
    frame_ms: int,
    labels: Sequence[Label | None] | None = None,
) -> FittedImage:
    """One looping GIF of a camera's `frames` (each shown `frame_ms`), within `budget` bytes.

    `labels` (one per frame) stamps each frame with the camera's name and its time, drawn at the size
    the GIF is sent at. When every frame cannot fit, even small, the GIF carries fewer of them (see
    `_fewer_frames`; its `frames` says how many). Raises ImageTooLargeError when not even two fit.
    """
    # No GIF of two frames or more is aimed larger than this (see `_fit`); four times it leaves the
    # size search room to grow while a small budget still spares the decoding of full frames.
    area = 4 * _aimed_area(budget, 2)
    first = _open_frame(frames[0], area)
    want = first.size
    if want[0] * want[1] * len(frames) > MAX_ANIMATION_PIXELS:
        raise ImageTooLargeError(f"{len(frames)} frames of {want[0]}x{want[1]}")
    decoded = [first] + [_open_frame(data, area) for data in frames[1:]]
    # Cameras may change resolution mid-burst (day/night switch): bring every frame to the first's.
    decoded = [f if f.size == want else f.resize(want, Image.Resampling.BICUBIC) for f in decoded]
    stamps = list(labels or [None] * len(decoded))
    try:
        content, width, height = _fit(_Source(decoded, [frame_ms] * len(decoded), 0, stamps), budget)
        kept = len(decoded)
    except ImageTooLargeError:
        content, width, height, kept = _fewer_frames(decoded, stamps, frame_ms, budget)
    name = (PurePath(filename).stem or "camera") + ".gif"
    return _fitted(content, name, width, height, kept)


def _spread(count: int, kept: int) -> list[int]:
    """`kept` of `count` frame indexes, evenly apart, the first and the last among them."""
    return sorted({round(index * (count - 1) / (kept - 1)) for index in range(kept)})


def _fewer_frames(
    frames: list[Image.Image], labels: list[Label | None], frame_ms: int, budget: int
) -> tuple[bytes, int, int, int]:
    """The GIF of as many of `frames` as fit `budget` (at least two), and how many it shows.

    An alarm's camera is better sent moving less smoothly than not at all: the frames kept are
    spread over the whole burst (its first and its last among them), each shown until the next
    one's moment, so the GIF still plays in real time. The count is found by halving (each try at
    sizes of a few hundred pixels, the budget being small). Raises ImageTooLargeError when not even
    two frames fit; the caller then sends a still picture.
    """
    best: tuple[bytes, int, int, int] | None = None
    low, high = 2, len(frames) - 1
    while low <= high:
        count = (low + high) // 2
        chosen = _spread(len(frames), count)
        gaps = [later - index for index, later in itertools.pairwise([*chosen, len(frames) - 1])]
        durations = [frame_ms * max(1, gap) for gap in gaps]
        source = _Source([frames[i] for i in chosen], durations, 0, [labels[i] for i in chosen])
        try:
            content, width, height = _fit(source, budget)
        except ImageTooLargeError:
            high = count - 1
            continue
        best = (content, width, height, len(chosen))
        low = count + 1
    if best is None:
        raise ImageTooLargeError("not even two frames of the animation fit")
    return best


def is_animated_gif(image: Image.Image) -> bool:
    """Whether `image` (opened, not decoded) is a GIF with more than one frame."""
    return image.format == "GIF" and bool(getattr(image, "is_animated", False))


def fit_animated_gif(image: Image.Image, filename: str, budget: int) -> FittedImage:
    """`image` (an opened animated GIF) re-encoded to fit `budget`, keeping its timing and loop.

    Raises ImageTooLargeError when it cannot be fitted as an animation (too many frames to decode
    safely, or too big even when small); the caller then sends a still picture instead.
    """
    width, height = image.size
    count = getattr(image, "n_frames", 1)
    if width * height * count > MAX_ANIMATION_PIXELS:
        raise ImageTooLargeError(f"{count} frames of {width}x{height}")
    loop = image.info.get("loop")
    frames: list[Image.Image] = []
    durations: list[int] = []
    try:
        for frame in ImageSequence.Iterator(image):
            durations.append(int(frame.info.get("duration", 100)))
            # The iterator reuses one image for every frame: keep a copy of each.
            frames.append(_flatten(frame.copy()))
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise NotAnImageError(str(err)) from err
    source = _Source(frames, durations, None if loop is None else int(loop), [None] * len(frames))
    content, fit_width, fit_height = _fit(source, budget)
    name = (PurePath(filename).stem or "image") + ".gif"
    return _fitted(content, name, fit_width, fit_height, len(frames))


def _fitted(content: bytes, filename: str, width: int, height: int, frames: int = 1) -> FittedImage:
    return FittedImage(
        content=content,
        content_type="image/gif",
        filename=filename,
        width=width,
        height=height,
        changed=True,
        digest=hashlib.sha256(content).hexdigest(),
        frames=frames,
    )
