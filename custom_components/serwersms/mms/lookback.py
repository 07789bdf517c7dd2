"""The lookback buffer: the last seconds of a camera's frames, scaled down, each with its capture time.

Pure code: the ring buffer, the scaling of a frame (blocking Pillow, run it through the picture
queue), the back-off of a failing camera and the check of the caller's `lookback` field. The Home
Assistant side (the one-a-second timer, the `lookback_while` listener) is `..lookback`.

The bound: a frame is at most `MAX_FRAME_BYTES` (a JPEG whose longest side is at most `FRAME_SIDE`
pixels; re-encoded smaller, or dropped, when it is larger), a camera keeps at most
`MAX_LOOKBACK_SECONDS` frames (one a second), an account at most `MAX_LOOKBACK_CAMERAS` cameras:
under 1 MB a camera and 8 MB an account, whatever the cameras' resolution.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
import io
import math
from typing import Protocol

from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import invalid
from .images import MAX_PIXELS, NotAnImageError, encode

MAX_LOOKBACK_SECONDS = 10
MAX_LOOKBACK_CAMERAS = 8
FRAME_SIDE = 640  # about what a fitted GIF frame needs; a lookback frame is never sent larger
MAX_FRAME_BYTES = 96 * 1024
# Tried in turn until the frame fits MAX_FRAME_BYTES (a noisy night picture needs the later ones).
_ATTEMPTS = ((FRAME_SIDE, 80), (FRAME_SIDE, 55), (480, 50), (320, 45))
# Frames are one a second, so a call that falls on a beat finds the frame `lookback` seconds old a hair
# too old, and the newest still being taken: half a beat of slack keeps the window `lookback` frames wide.
WINDOW_SLACK = timedelta(seconds=0.5)
# A failing camera is asked again after 2, 4, 8, … seconds, never more than this apart.
MAX_BACKOFF_SECONDS = 60.0


def lookback_seconds(value: float | None) -> float:
    """The caller's `lookback` field, checked: a translated error for anything out of range."""
    seconds = 0.0 if value is None else value
    if not math.isfinite(seconds) or not 0 <= seconds <= MAX_LOOKBACK_SECONDS:
        raise invalid("lookback_out_of_range", lookback=f"{seconds:g}", max=str(MAX_LOOKBACK_SECONDS))
    return seconds


def lookback_frames(seconds: float) -> int:
    """The most frames `seconds` of lookback may give (one a second)."""
    return math.ceil(seconds)


@dataclass(frozen=True, slots=True)
class LookbackFrame:
    """One buffered frame: a small JPEG, and when it was asked for (local time)."""

    content: bytes
    taken_at: datetime


class LookbackFrames(Protocol):
    """Where a send finds a camera's buffered frames (an account's lookback recorder)."""

    def recent(self, entity_id: str, now: datetime, seconds: float, limit: int) -> tuple[LookbackFrame, ...]:
        """The frames of `entity_id` taken in the `seconds` before `now`, at most `limit`, oldest first."""


class LookbackBuffer:
    """The newest frames of one camera, at most `size`; readers get a copy, never the live deque."""

    def __init__(self, size: int) -> None:
        """An empty buffer of `size` frames."""
        self._frames: deque[LookbackFrame] = deque(maxlen=max(0, size))

    @property
    def size(self) -> int:
        """How many frames it keeps at most."""
        return self._frames.maxlen or 0

    def __len__(self) -> int:
        """How many frames it holds."""
        return len(self._frames)

    @property
    def nbytes(self) -> int:
        """The bytes of its frames."""
        return sum(len(frame.content) for frame in self._frames)

    def add(self, frame: LookbackFrame) -> None:
        """Keep `frame`; the oldest goes when the buffer is full."""
        self._frames.append(frame)

    def resize(self, size: int) -> None:
        """Keep at most `size` frames from now on; the oldest beyond it go at once."""
        if size != self.size:
            self._frames = deque(self._frames, maxlen=max(0, size))

    def clear(self) -> None:
        """Forget every frame."""
        self._frames.clear()

    def recent(self, now: datetime, seconds: float, limit: int) -> tuple[LookbackFrame, ...]:
        """The frames of the `seconds` (and half a beat) before `now`, the newest `limit`, oldest first."""
        if seconds <= 0 or limit <= 0:
            return ()
        since = now - timedelta(seconds=seconds) - WINDOW_SLACK
        chosen = [frame for frame in tuple(self._frames) if since < frame.taken_at <= now]
        return tuple(chosen[-limit:])


def shrink_frame(data: bytes) -> bytes:
    """A camera picture as a lookback frame: a JPEG of at most FRAME_SIDE px and MAX_FRAME_BYTES.

    Blocking (Pillow): run it through the picture queue. Raises NotAnImageError for bytes that are
    no picture, and for a picture that stays over MAX_FRAME_BYTES even at the smallest size tried.
    """
    try:
        opened = Image.open(io.BytesIO(data))
        if opened.width * opened.height > MAX_PIXELS:
            raise NotAnImageError(f"{opened.width}x{opened.height}")
        if opened.format == "JPEG":
            # libjpeg decodes at a half, a quarter, an eighth: much less work than a full decode.
            opened.draft("RGB", (FRAME_SIDE, FRAME_SIDE))
        image = ImageOps.exif_transpose(opened).convert("RGB")
        for side, quality in _ATTEMPTS:
            small = image.copy()
            small.thumbnail((side, side), Image.Resampling.BILINEAR, reducing_gap=2.0)
            small.info = {}
            content = encode(small, "JPEG", quality=quality)
            if len(content) <= MAX_FRAME_BYTES:
                return content
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise NotAnImageError(str(err)) from err
    raise NotAnImageError("the frame does not fit a lookback buffer")


class Backoff:
    """When a failing camera may be asked again: 2, 4, 8, … seconds after its failures, at most 60."""

    def __init__(self) -> None:
        """No failure yet."""
        self.failures = 0
        self._next = -math.inf

    def ready(self, now: float) -> bool:
        """Whether the camera may be asked at `now` (monotonic seconds)."""
        return now >= self._next

    def failed(self, now: float) -> bool:
        """Note a failure at `now`; True when it is the first of a run (the one worth a log line)."""
        self.failures += 1
        self._next = now + min(MAX_BACKOFF_SECONDS, 2.0**self.failures)
        return self.failures == 1

    def succeeded(self) -> bool:
        """Note a success; True when it ends a run of failures."""
        recovered = self.failures > 0
        self.failures = 0
        self._next = -math.inf
        return recovered


def total_bytes(buffers: Iterable[LookbackBuffer]) -> int:
    """The bytes all `buffers` hold."""
    return sum(buffer.nbytes for buffer in buffers)
