"""Bursts of snapshots on a schedule (the clock moves only with the freezer)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed_exact

from custom_components.serwersms.mms.frames import Burst, take_bursts


class Cameras:
    """Snapshots that record when they were asked for; some frames can be made to fail or hang."""

    def __init__(self) -> None:
        self.taken: list[tuple[str, datetime]] = []
        self.failing: set[tuple[str, int]] = set()  # (entity id, 1-based frame number)
        self.hold: asyncio.Event | None = None

    def count(self, entity_id: str) -> int:
        return sum(1 for taken, _ in self.taken if taken == entity_id)

    async def snapshot(self, entity_id: str) -> tuple[bytes, str | None]:
        self.taken.append((entity_id, dt_util.now()))
        number = self.count(entity_id)
        if self.hold is not None:
            await self.hold.wait()
        if (entity_id, number) in self.failing:
            raise HomeAssistantError(f"{entity_id} frame {number} failed")
        return f"{entity_id}#{number}".encode(), "image/jpeg"


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


async def advance(hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float) -> None:
    freezer.tick(timedelta(seconds=seconds))
    async_fire_time_changed_exact(hass)
    await settle()


def contents(burst: Burst) -> list[bytes]:
    return [frame.content for frame in burst.frames]


async def test_two_cameras_five_frames_each_on_schedule(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    cameras = Cameras()
    start = dt_util.now()
    task = asyncio.create_task(take_bursts(["camera.a", "camera.b"], 5, 1.0, cameras.snapshot, dt_util.now))
    await settle()
    # the first frame of every camera at once, not one camera after the other
    assert [entity for entity, _ in cameras.taken] == ["camera.a", "camera.b"]
    await advance(hass, freezer, 0.5)
    assert len(cameras.taken) == 2  # nothing before the interval is up
    for second in range(1, 5):
        await advance(hass, freezer, 0.5)
        assert (cameras.count("camera.a"), cameras.count("camera.b")) == (second + 1, second + 1)
        await advance(hass, freezer, 0.5)
    bursts = await task
    assert [burst.entity_id for burst in bursts] == ["camera.a", "camera.b"]
    assert contents(bursts[0]) == [f"camera.a#{n}".encode() for n in range(1, 6)]
    assert contents(bursts[1]) == [f"camera.b#{n}".encode() for n in range(1, 6)]
    assert [frame.taken_at for frame in bursts[1].frames] == [start + timedelta(seconds=k) for k in range(5)]


async def test_a_camera_failing_on_frame_3_of_5_gives_the_other_four(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    cameras = Cameras()
    cameras.failing.add(("camera.a", 3))
    start = dt_util.now()
    task = asyncio.create_task(take_bursts(["camera.a", "camera.b"], 5, 2.0, cameras.snapshot, dt_util.now))
    await settle()
    for _ in range(4):
        await advance(hass, freezer, 2.0)
    bursts = await task
    assert contents(bursts[0]) == [b"camera.a#1", b"camera.a#2", b"camera.a#4", b"camera.a#5"]
    assert [frame.taken_at - start for frame in bursts[0].frames] == [
        timedelta(seconds=s) for s in (0, 2, 6, 8)
    ]
    assert len(bursts[1].frames) == 5


async def test_a_failing_first_frame_fails_at_once_and_stops_the_other_cameras(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    cameras = Cameras()
    cameras.failing.add(("camera.b", 1))
    task = asyncio.create_task(take_bursts(["camera.a", "camera.b"], 5, 1.0, cameras.snapshot, dt_util.now))
    await settle()
    assert task.done()  # no waiting for camera.a's remaining frames
    with pytest.raises(HomeAssistantError, match=r"camera\.b frame 1"):
        await task
    for _ in range(5):
        await advance(hass, freezer, 1.0)
    assert cameras.count("camera.a") == 1


async def test_a_slow_camera_takes_its_next_frame_when_the_last_one_is_in(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    cameras = Cameras()
    cameras.hold = asyncio.Event()
    start = dt_util.now()
    task = asyncio.create_task(take_bursts(["camera.a"], 3, 1.0, cameras.snapshot, dt_util.now))
    await settle()
    await advance(hass, freezer, 2.5)  # the first frame takes 2.5 s: two intervals pass meanwhile
    assert cameras.count("camera.a") == 1  # frames of one camera never overlap
    cameras.hold.set()
    await settle()
    assert cameras.count("camera.a") == 2  # the late frame is taken as soon as the camera answers...
    await advance(hass, freezer, 0.9)
    assert cameras.count("camera.a") == 2  # ...and the next one an interval after it, not at once
    await advance(hass, freezer, 0.1)
    bursts = await task
    assert [frame.taken_at - start for frame in bursts[0].frames] == [
        timedelta(seconds=s) for s in (0, 2.5, 3.5)
    ]


async def test_a_cancelled_caller_stops_every_camera(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    cameras = Cameras()
    task = asyncio.create_task(take_bursts(["camera.a", "camera.b"], 5, 1.0, cameras.snapshot, dt_util.now))
    await settle()
    await advance(hass, freezer, 1.0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(5):
        await advance(hass, freezer, 1.0)
    assert (cameras.count("camera.a"), cameras.count("camera.b")) == (2, 2)
