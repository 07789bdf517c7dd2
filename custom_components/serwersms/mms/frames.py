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

from homeassistant.exceptions import HomeAssistantError

_LOGGER = logging.getLogger(__name__)

MIN_FRAMES = 1
MAX_FRAMES = 10
MIN_FRAME_INTERVAL = 0.2
MAX_FRAME_INTERVAL = 10.0


@dataclass(frozen=True, slots=True)
class Frame:
    """One snapshot, and when it was asked for (local time)."""

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
            if delay > 0:
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
        frames.append(Frame(content, content_type, taken_at))
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
