"""Gather what one send carries as things to fit: camera bursts (with their stamps) and other pictures.

Cameras are pictured by `frames.take_bursts` (every camera at once, on the schedule of the call's
`Motion`); media, files and URLs are fetched meanwhile. A camera's frames become one animation, or
one picture each, or - with a single frame - one picture.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util

from . import attachments
from .attachments import AttachmentSources
from .fitting import Animation, FitItem, Picture
from .frames import FRAMES_AS_IMAGES, Burst, Motion, take_bursts
from .gif import Label
from .images import FittedImage


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


async def _snapshot(hass: HomeAssistant, entity_id: str) -> tuple[bytes, str | None]:
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


async def gather(hass: HomeAssistant, sources: AttachmentSources) -> Gathered:
    """Take the cameras' frames and fetch every other attachment, all at once."""
    motion = sources.motion
    others = AttachmentSources(
        media=sources.media, files=sources.files, urls=sources.urls, verify_ssl=sources.verify_ssl
    )
    bursts, fetched = await asyncio.gather(
        take_bursts(
            sources.cameras,
            motion.frames,
            motion.interval,
            lambda entity_id: _snapshot(hass, entity_id),
            dt_util.now,
        ),
        attachments.collect(hass, others),
    )
    items: list[FitItem] = []
    cameras: list[str | None] = []
    for burst in bursts:
        pictured = _camera_items(hass, burst, motion)
        items += pictured
        cameras += [burst.entity_id if motion.frames > 1 else None] * len(pictured)
    items += [Picture(found.content, found.filename) for found in fetched]
    cameras += [None] * len(fetched)
    return Gathered(items, cameras)
