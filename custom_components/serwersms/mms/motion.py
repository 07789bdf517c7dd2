"""Gather what one send carries as things to fit: camera bursts (with their stamps) and other pictures.

Cameras are pictured by `frames.take_bursts` (every camera at once, on the schedule of the call's
`Motion`); media, files and URLs are fetched meanwhile. A camera's frames become one animation, or
one picture each, or - with a single frame - one picture.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util

from . import attachments
from .attachments import AttachmentSources
from .fitting import Animation, FitItem, Picture
from .frames import FRAMES_AS_IMAGES, Burst, Frame, Motion, take_bursts
from .gif import Label
from .images import FittedImage
from .lookback import LookbackFrames


@dataclass(frozen=True, slots=True)
class Gathered:
    """Everything to fit, in the order cameras, media, files, URLs; and the camera of each item.

    `cameras` names, for each item, the camera whose burst it pictures (None for other attachments,
    and for every item when a single frame per camera was asked: no frames to report then).
    """

    items: list[FitItem]
    cameras: list[str | None]

    def frames_sent(self, fitted: Sequence[FittedImage]) -> dict[str, int]:
        """How many frames of each camera's burst the fitted pictures (`fitted[i]` of `items[i]`) show.

        Fewer than were taken when a frame failed, or when the budget could not carry them all.
        """
        frames: dict[str, int] = {}
        for camera, picture in zip(self.cameras, fitted, strict=True):
            if camera is not None:
                frames[camera] = frames.get(camera, 0) + picture.frames
        return frames


async def snapshot(hass: HomeAssistant, entity_id: str) -> tuple[bytes, str | None]:
    """One picture of a camera or image entity (HomeAssistantError `snapshot_failed` when it fails)."""
    (picture,) = await attachments.collect(hass, AttachmentSources(cameras=[entity_id]))
    return picture.content, picture.content_type


def _camera_items(hass: HomeAssistant, burst: Burst, motion: Motion) -> list[FitItem]:
    state = hass.states.get(burst.entity_id)
    name = state.name if state is not None else burst.entity_id
    labels = [Label(name, frame.taken_at) if motion.overlay else None for frame in burst.frames]
    stem = burst.entity_id.replace(".", "_")
    if len(burst.frames) == 1:
        return [Picture(burst.frames[0].content, stem, labels[0])]
    if motion.frames_as == FRAMES_AS_IMAGES:
        # Numbered as taken: a frame left out leaves its number out, so the gap shows.
        return [
            Picture(frame.content, f"{stem}_{frame.number}", label)
            for frame, label in zip(burst.frames, labels, strict=True)
        ]
    return [
        Animation(
            frames=tuple(frame.content for frame in burst.frames),
            filename=stem,
            frame_ms=round(motion.interval * 1000),
            labels=tuple(labels) if motion.overlay else None,
        )
    ]


def lookback_of(entry: Any) -> LookbackFrames | None:
    """The lookback recorder of a loaded account (None before it is loaded, or for no account)."""
    recorder: LookbackFrames | None = getattr(getattr(entry, "runtime_data", None), "lookback", None)
    return recorder


def _with_lookback(burst: Burst, older: tuple[Frame, ...]) -> Burst:
    """The camera's buffered frames, then its live ones, numbered as they come (gaps kept)."""
    if not older:
        return burst
    live = [Frame(len(older) + f.number, f.content, f.content_type, f.taken_at) for f in burst.frames]
    return Burst(burst.entity_id, [*older, *live])


def _buffered(
    lookback: LookbackFrames | None, entity_ids: Sequence[str], motion: Motion, now: datetime
) -> dict[str, tuple[Frame, ...]]:
    """Each camera's buffered frames of the `motion.lookback` seconds before `now` (copies, read once)."""
    if lookback is None or motion.lookback <= 0:
        return {}
    found: dict[str, tuple[Frame, ...]] = {}
    for entity_id in entity_ids:
        frames = lookback.recent(entity_id, now, motion.lookback, motion.lookback_limit)
        found[entity_id] = tuple(
            Frame(number, frame.content, "image/jpeg", frame.taken_at)
            for number, frame in enumerate(frames, start=1)
        )
    return found


async def gather(
    hass: HomeAssistant, sources: AttachmentSources, lookback: LookbackFrames | None = None
) -> Gathered:
    """Take the cameras' frames and fetch every other attachment, all at once.

    With `lookback` asked, each camera's pictures start with the frames its buffer took in the
    seconds before this call (read now, before the live frames: the buffer moves on meanwhile).
    """
    motion = sources.motion
    older = _buffered(lookback, sources.cameras, motion, dt_util.now())
    if motion.lookback > 0:
        for entity_id in sources.cameras:
            buffered = older.get(entity_id, ())
            sources.lookback_used[entity_id] = (len(buffered), buffered[0].taken_at if buffered else None)
    others = AttachmentSources(
        media=sources.media, files=sources.files, urls=sources.urls, verify_ssl=sources.verify_ssl
    )
    bursts, fetched = await asyncio.gather(
        take_bursts(
            sources.cameras,
            motion.frames,
            motion.interval,
            lambda entity_id: snapshot(hass, entity_id),
            dt_util.now,
        ),
        attachments.collect(hass, others),
    )
    items: list[FitItem] = []
    cameras: list[str | None] = []
    for taken in bursts:
        burst = _with_lookback(taken, older.get(taken.entity_id, ()))
        pictured = _camera_items(hass, burst, motion)
        items += pictured
        reported = motion.frames > 1 or motion.lookback > 0
        cameras += [burst.entity_id if reported else None] * len(pictured)
    items += [Picture(found.content, found.filename) for found in fetched]
    cameras += [None] * len(fetched)
    return Gathered(items, cameras)
