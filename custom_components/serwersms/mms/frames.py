"""Bursts of snapshots: several frames per camera, on a schedule, every camera at once.

The first frame of every camera is taken at once, the k-th at `k * interval` after the start. A camera
slow to answer is never asked twice at once, and its next frame comes an interval after the late one.
A later frame that fails is left out; a camera whose first frame fails fails the whole burst, at once,
without waiting for the other cameras' remaining frames.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
import logging
import math

from homeassistant.exceptions import HomeAssistantError

from ..errors import invalid
from .lookback import lookback_frames, lookback_seconds

_LOGGER = logging.getLogger(__name__)

MIN_FRAMES = 1
MAX_FRAMES = 10
MIN_FRAME_INTERVAL = 0.2
MAX_FRAME_INTERVAL = 10.0
# A frame due within this many seconds is taken at once: a shorter wait is below the loop's timing.
_DUE = 0.001
FRAMES_AS_GIF = "gif"
FRAMES_AS_IMAGES = "images"


@dataclass(frozen=True, slots=True)
class Motion:
    """How cameras are pictured in one send: how many frames, how far apart, sent how, stamped or not."""

    frames: int = 1
    interval: float = 1.0
    frames_as: str = FRAMES_AS_GIF
    overlay: bool = False
    lookback: float = 0.0  # seconds of buffered frames before the call, ahead of the live ones

    @property
    def lookback_limit(self) -> int:
        """The most buffered frames a camera adds: a camera's frames are at most MAX_FRAMES in all."""
        return min(lookback_frames(self.lookback), MAX_FRAMES - self.frames)

    @property
    def pictures_per_camera(self) -> int:
        """Attachments each camera may give: every frame with `images` (buffered ones too), else one.

        Counted as asked, before any snapshot: a camera whose buffer holds fewer frames gives fewer.
        """
        return self.frames + self.lookback_limit if self.frames_as == FRAMES_AS_IMAGES else 1


def motion_settings(
    frames: float | None,
    interval: float | None,
    frames_as: str | None,
    overlay: bool,
    lookback: float | None = None,
) -> Motion:
    """The caller's motion fields, checked: a translated error for anything out of range."""
    count = MIN_FRAMES if frames is None else frames
    if not math.isfinite(count) or count != int(count) or not MIN_FRAMES <= count <= MAX_FRAMES:
        raise invalid("frames_out_of_range", frames=f"{count:g}", min=str(MIN_FRAMES), max=str(MAX_FRAMES))
    seconds = 1.0 if interval is None else interval
    if not MIN_FRAME_INTERVAL <= seconds <= MAX_FRAME_INTERVAL:
        raise invalid(
            "frame_interval_out_of_range",
            frame_interval=f"{seconds:g}",
            min=f"{MIN_FRAME_INTERVAL:g}",
            max=f"{MAX_FRAME_INTERVAL:g}",
        )
    kind = FRAMES_AS_GIF if frames_as is None else frames_as
    if kind not in (FRAMES_AS_GIF, FRAMES_AS_IMAGES):
        raise invalid("frames_as_invalid", frames_as=kind)
    return Motion(int(count), seconds, kind, overlay, lookback_seconds(lookback))


@dataclass(frozen=True, slots=True)
class Frame:
    """One snapshot: its number in the burst (from 1), and when it was asked for (local time)."""

    number: int
    content: bytes
    content_type: str | None
    taken_at: datetime


@dataclass(frozen=True, slots=True)
class Burst:
    """The frames one camera gave, in order (at least one)."""

    entity_id: str
    frames: list[Frame]


type Snapshot = Callable[[str], Awaitable[tuple[bytes, str | None]]]


async def _camera_burst(
    entity_id: str,
    count: int,
    interval: float,
    start: float,
    snapshot: Snapshot,
    now: Callable[[], datetime],
) -> Burst:
    loop = asyncio.get_running_loop()
    frames: list[Frame] = []
    asked = start
    for index in range(count):
        if index:
            # On the schedule; after a slow answer, still never sooner than an interval after the
            # last frame was asked for (two frames at once would show nothing new).
            delay = max(start + index * interval, asked + interval) - loop.time()
            if delay > _DUE:
                await asyncio.sleep(delay)
        asked = loop.time()
        taken_at = now()
        try:
            content, content_type = await snapshot(entity_id)
        except HomeAssistantError:
            if not index:
                raise
            # A camera that stumbles mid-burst still gave something worth sending.
            _LOGGER.warning("Frame %d of %d from %s failed; sending the others", index + 1, count, entity_id)
            continue
        frames.append(Frame(index + 1, content, content_type, taken_at))
    return Burst(entity_id, frames)


async def take_bursts(
    entity_ids: Sequence[str],
    count: int,
    interval: float,
    snapshot: Snapshot,
    now: Callable[[], datetime],
) -> list[Burst]:
    """`count` frames of every camera in `entity_ids`, `interval` seconds apart, all cameras at once.

    `snapshot(entity_id)` takes one picture (raising HomeAssistantError when the camera fails); `now()`
    is the local time stamped on each frame. The result keeps the order of `entity_ids`.
    """
    start = asyncio.get_running_loop().time()
    tasks = [
        asyncio.create_task(_camera_burst(entity_id, count, interval, start, snapshot, now))
        for entity_id in entity_ids
    ]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        # A camera that failed its first frame (or a cancelled caller) ends the burst: stop the other
        # cameras' waiting and snapping, and let them finish before answering.
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
