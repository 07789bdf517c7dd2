"""Fit everything one MMS carries into its budget: pictures, stamped pictures and animations.

Pure, blocking functions (run them through the picture queue). The budget is shared in proportion
to what each attachment needs: an animation of n frames counts as (n + 1) / 2 pictures. Small
pictures that fit as they are go first, animations last, and each takes its share of what the
ones before it left, so nothing left over is wasted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
import hashlib
import io

from PIL import Image, UnidentifiedImageError

from .gif import Label, fit_animated_gif, fit_burst, is_animated_gif
from .images import FittedImage, ImageTooLargeError, fit_image, strip_gif_metadata
from .overlay import draw_label

# The least a picture is given: below it a camera frame is a smudge (the sender refuses a send whose
# text and files leave less than this for each picture, before any snapshot is taken).
MIN_SHARE = 8 * 1024


@dataclass(frozen=True, slots=True)
class Picture:
    """One picture to send; `label` stamps it (a camera frame with `overlay`)."""

    content: bytes
    filename: str
    label: Label | None = None


@dataclass(frozen=True, slots=True)
class Animation:
    """A camera's frames, to send as one looping GIF showing each for `frame_ms`."""

    frames: tuple[bytes, ...]
    filename: str
    frame_ms: int
    labels: tuple[Label | None, ...] | None = None


type FitItem = Picture | Animation


def _weight(item: FitItem) -> float:
    return (len(item.frames) + 1) / 2 if isinstance(item, Animation) else 1.0


def _order(item: FitItem) -> tuple[int, int]:
    """Plain pictures (smallest first), then stamped ones, then animations."""
    if isinstance(item, Animation):
        return (2, 0)
    return (1 if item.label else 0, len(item.content))


def _stamp(label: Label) -> Callable[[Image.Image], Image.Image]:
    return partial(draw_label, name=label.name, taken_at=label.taken_at)


def _fit_picture(picture: Picture, budget: int) -> FittedImage:
    if picture.label is not None:
        return fit_image(picture.content, picture.filename, budget, decorate=_stamp(picture.label))
    if picture.content[:6] in (b"GIF87a", b"GIF89a"):
        stripped = strip_gif_metadata(picture.content)
        if stripped is None or len(stripped) > budget:
            try:
                image = Image.open(io.BytesIO(picture.content))
            except (UnidentifiedImageError, OSError, ValueError):
                image = None  # fit_image says what is wrong with it
            if image is not None and is_animated_gif(image):
                try:
                    return fit_animated_gif(image, picture.filename, budget)
                except ImageTooLargeError:
                    pass  # it cannot move within the budget: it goes as a still picture
    return fit_image(picture.content, picture.filename, budget)


def _fit_one(item: FitItem, budget: int) -> FittedImage:
    if isinstance(item, Animation):
        try:
            return fit_burst(item.frames, item.filename, budget, item.frame_ms, item.labels)
        except ImageTooLargeError:
            # Not even two frames fit its share: the camera goes as a still of its first frame
            # (the moment of the call), rather than the whole MMS being refused.
            label = item.labels[0] if item.labels else None
            return _fit_picture(Picture(item.frames[0], item.filename, label), budget)
    return _fit_picture(item, budget)


def fit_all(items: Sequence[FitItem], budget: int) -> list[FittedImage]:
    """Every item fitted, all together within `budget` bytes; the result keeps the items' order.

    What the snapshots were taken for is sent, even in a small budget: a camera's animation that
    cannot fit its share carries fewer frames, or becomes a still picture (`FittedImage.frames`
    says how many frames went). Each item gets at least `MIN_SHARE` when the budget holds that
    much for every item (the sender refuses a send that does not, before any snapshot), so a
    picture is never refused because a big animation came along.
    """
    results: dict[int, FittedImage] = {}
    remaining = budget
    weight_left = sum(_weight(item) for item in items)
    order = sorted(range(len(items)), key=lambda i: _order(items[i]))
    for position, index in enumerate(order):
        item = items[index]
        left = len(order) - position
        floor = min(MIN_SHARE, remaining // left)
        weighted = int(remaining * _weight(item) / weight_left)
        share = max(floor, min(weighted, remaining - (left - 1) * floor))
        results[index] = _fit_one(item, share)
        remaining -= len(results[index].content)
        weight_left -= _weight(item)
    return [results[index] for index in range(len(items))]


def digest(items: Sequence[FitItem]) -> str:
    """One hash over everything that decides the fitted result (bytes, names, timing, labels)."""
    total = hashlib.sha256()
    for item in items:
        if isinstance(item, Animation):
            total.update(f"animation:{item.filename}:{item.frame_ms}:{item.labels!r}".encode())
            for frame in item.frames:
                total.update(hashlib.sha256(frame).digest())
        else:
            total.update(f"picture:{item.filename}:{item.label!r}".encode())
            total.update(hashlib.sha256(item.content).digest())
    return total.hexdigest()
