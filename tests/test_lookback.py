"""Lookback: the frames before the trigger, kept in memory while it matters, bounded.

Against the simulator over real HTTP; the one-a-second timer moves only with the freezer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import datetime, timedelta
import io
import logging
import random
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.camera import Camera
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from PIL import Image
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed_exact,
    setup_test_component_platform,
)

from custom_components.serwersms.lookback import LookbackRecorder
from custom_components.serwersms.mms import gif as gif_module
from custom_components.serwersms.mms.lookback import (
    FRAME_SIDE,
    MAX_FRAME_BYTES,
    MAX_LOOKBACK_CAMERAS,
    LookbackBuffer,
    LookbackFrame,
    shrink_frame,
)
from serwersms_simulator import SerwerSmsSimulator
from tests.helpers import MOM, send
from tests.pictures import frames_of, jpeg, mean_difference, scene

PORCH = "camera.porch"
GARDEN = "camera.garden"
ALARM = "alarm_control_panel.home"


class WalkCamera(Camera):
    """A camera whose n-th snapshot shows the figure at step n - 1 (cycling over `steps`).

    `fail` makes it give no image; `hold` makes each snapshot wait until the test releases it.
    """

    _attr_has_entity_name = False

    def __init__(
        self, name: str, width: int = 640, height: int = 480, steps: int = 8, noise: int = 0
    ) -> None:
        super().__init__()
        self._attr_name = name
        self._attr_unique_id = name
        self.pictures = [jpeg(scene(width, height, step, noise=noise)) for step in range(steps)]
        self.taken: list[datetime] = []
        self.fail = False
        self.hold: asyncio.Event | None = None
        self.running = 0
        self.most_running = 0

    async def async_camera_image(self, width: int | None = None, height: int | None = None) -> bytes | None:
        self.taken.append(dt_util.now())
        index = len(self.taken) - 1
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        try:
            if self.hold is not None:
                await self.hold.wait()
        finally:
            self.running -= 1
        if self.fail:
            return None
        return self.pictures[index % len(self.pictures)]


@pytest.fixture
async def porch(hass: HomeAssistant) -> dict[str, WalkCamera]:
    """camera.porch and camera.garden: a figure walking across each."""
    made = {PORCH: WalkCamera("Porch"), GARDEN: WalkCamera("Garden", 480, 360)}
    setup_test_component_platform(hass, "camera", list(made.values()))
    assert await async_setup_component(hass, "camera", {"camera": {"platform": "test"}})
    await hass.async_block_till_done()
    return made


async def set_options(hass: HomeAssistant, entry: MockConfigEntry, **options: Any) -> None:
    hass.config_entries.async_update_entry(entry, options={**entry.options, **options})
    await hass.async_block_till_done(wait_background_tasks=True)


def recorder(entry: MockConfigEntry) -> LookbackRecorder:
    found = entry.runtime_data.lookback
    assert found is not None
    return found  # type: ignore[no-any-return]


def fire(hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float) -> None:
    freezer.tick(timedelta(seconds=seconds))
    # exact (plus a millisecond of slack), not the helper that fires half a second early
    async_fire_time_changed_exact(hass, dt_util.utcnow() + timedelta(milliseconds=1))


async def later(hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float) -> None:
    """`seconds` pass; the snapshots they started are done."""
    fire(hass, freezer, seconds)
    await hass.async_block_till_done(wait_background_tasks=True)


async def seconds_pass(hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: int) -> None:
    for _ in range(seconds):
        await later(hass, freezer, 1)


async def turns(hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float) -> None:
    """`seconds` pass, without waiting for snapshots under way (a held camera never finishes)."""
    fire(hass, freezer, seconds)
    for _ in range(20):
        await asyncio.sleep(0)


def closest_step(frame: Image.Image, width: int = 640, height: int = 480, steps: int = 8) -> int:
    distances = [mean_difference(frame, scene(width, height, s)) for s in range(steps)]
    return distances.index(min(distances))


def used(response: dict[str, Any]) -> dict[str, int]:
    """How many buffered frames each camera's pictures started with."""
    return {camera: item["frames"] for camera, item in response["lookback"].items()}


def stored(simulator: SerwerSmsSimulator, response: dict[str, Any]) -> list[bytes]:
    return [simulator.files[item["id"]].content for item in response["files"]]


# --- what a user sees -----------------------------------------------------------------------------


async def test_the_gif_starts_with_the_seconds_before_the_call_each_frame_stamped_with_its_own_time(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    porch: dict[str, WalkCamera],
    freezer: FrozenDateTimeFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stamps: list[tuple[str, datetime]] = []
    real = gif_module.draw_label

    def spy(image: Image.Image, name: str, taken_at: datetime) -> Image.Image:
        stamps.append((name, taken_at))
        return real(image, name, taken_at)

    monkeypatch.setattr(gif_module, "draw_label", spy)
    await set_options(hass, loaded_entry, lookback_cameras=[PORCH], lookback_seconds=5)
    await seconds_pass(hass, freezer, 4)
    await later(hass, freezer, 0.5)
    pressed = dt_util.now()
    camera = porch[PORCH]
    assert len(camera.taken) == 5  # one at once, then one a second

    response = await send(hass, camera=PORCH, lookback=3, overlay=True)

    assert used(response) == {PORCH: 3}
    assert response["frames"] == {PORCH: 4}
    assert response["queued"] == 1
    (gif,) = stored(simulator, response)
    shown = [closest_step(frame) for frame, _ in frames_of(gif)]
    # the figure at 2.5, 1.5 and 0.5 s before the press, then the live frame at the press
    assert shown == [2, 3, 4, 5]
    times = list(dict.fromkeys(taken_at for _, taken_at in stamps))  # each size the GIF tried draws them
    assert times == [*camera.taken[2:5], camera.taken[5]]
    assert [round((pressed - t).total_seconds(), 1) for t in times] == [2.5, 1.5, 0.5, 0.0]
    assert response["lookback"][PORCH]["since"] == camera.taken[2].isoformat()
    assert {name for name, _ in stamps} == {"Porch"}


async def test_lookback_as_images_sends_each_buffered_frame_and_counts_them_before_any_snapshot(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    porch: dict[str, WalkCamera],
    freezer: FrozenDateTimeFactory,
) -> None:
    await set_options(hass, loaded_entry, lookback_cameras=[PORCH, GARDEN], lookback_seconds=10)
    await seconds_pass(hass, freezer, 3)
    await later(hass, freezer, 0.5)
    taken = {name: len(camera.taken) for name, camera in porch.items()}
    # Two cameras, each up to 1 live + 9 buffered pictures: 20 > 10, refused before any snapshot.
    with pytest.raises(ServiceValidationError) as err:
        await send(hass, camera=[PORCH, GARDEN], lookback=10, frames_as="images")
    assert err.value.translation_key == "too_many_attachments"
    assert err.value.translation_placeholders == {"count": "20", "max": "10"}
    assert {name: len(camera.taken) for name, camera in porch.items()} == taken

    response = await send(hass, camera=PORCH, lookback=3, frames_as="images")
    assert used(response) == {PORCH: 3}
    assert [f["name"] for f in response["files"]] == [f"camera_porch_{n}.jpg" for n in range(1, 5)]
    pictures = stored(simulator, response)
    assert [closest_step(Image.open(io.BytesIO(p)).convert("RGB")) for p in pictures] == [1, 2, 3, 4]


async def test_a_camera_without_a_buffer_sends_its_live_frames_and_says_none_came_from_the_buffer(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    porch: dict[str, WalkCamera],
    freezer: FrozenDateTimeFactory,
) -> None:
    await set_options(hass, loaded_entry, lookback_cameras=[PORCH], lookback_seconds=5)
    await seconds_pass(hass, freezer, 3)
    assert porch[GARDEN].taken == []  # not a lookback camera: never asked
    response = await send(hass, camera=[PORCH, GARDEN], lookback=2)
    assert used(response) == {PORCH: 2, GARDEN: 0}
    assert response["lookback"][GARDEN] == {"frames": 0, "since": None}
    assert response["frames"] == {PORCH: 3, GARDEN: 1}
    assert [f["name"] for f in response["files"]] == ["camera_porch.gif", "camera_garden.jpg"]
    # without `lookback`, the response is as before
    plain = await send(hass, camera=PORCH)
    assert "lookback" not in plain
    assert "frames" not in plain


async def test_asking_more_than_the_buffer_holds_sends_what_there_is_and_says_so(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    porch: dict[str, WalkCamera],
    freezer: FrozenDateTimeFactory,
) -> None:
    await set_options(hass, loaded_entry, lookback_cameras=[PORCH], lookback_seconds=2)
    await seconds_pass(hass, freezer, 6)
    await later(hass, freezer, 0.5)
    response = await send(hass, camera=PORCH, lookback=10)
    assert used(response) == {PORCH: 2}  # asked 10 s, the buffer keeps 2
    (gif,) = stored(simulator, response)
    assert [closest_step(frame) for frame, _ in frames_of(gif)] == [5, 6, 7]


@pytest.mark.parametrize("lookback", [-1, 10.5, 11, "nan", "inf"])
async def test_lookback_out_of_range_is_refused_with_a_translated_error_before_any_snapshot(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    porch: dict[str, WalkCamera],
    lookback: Any,
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await send(hass, camera=PORCH, lookback=lookback)
    assert err.value.translation_domain == "serwersms"
    assert err.value.translation_key == "lookback_out_of_range"
    assert err.value.translation_placeholders["max"] == "10"
    assert porch[PORCH].taken == []
    assert simulator.requests_to("files/add") == []


# --- when it runs, and when not -------------------------------------------------------------------


async def test_nothing_runs_when_lookback_is_off_or_not_wanted_now(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    porch: dict[str, WalkCamera],
    freezer: FrozenDateTimeFactory,
) -> None:
    # cameras chosen, 0 seconds: off
    await set_options(hass, loaded_entry, lookback_cameras=[PORCH], lookback_seconds=0)
    await seconds_pass(hass, freezer, 60)
    assert porch[PORCH].taken == []
    assert not recorder(loaded_entry).active  # no timer either
    # seconds, no cameras: off
    await set_options(hass, loaded_entry, lookback_cameras=[], lookback_seconds=5)
    await seconds_pass(hass, freezer, 10)
    assert porch[PORCH].taken == []
    # the alarm is disarmed: not now
    hass.states.async_set(ALARM, "disarmed")
    await set_options(hass, loaded_entry, lookback_cameras=[PORCH], lookback_seconds=5, lookback_while=ALARM)
    await seconds_pass(hass, freezer, 60)
    assert porch[PORCH].taken == []
    assert not recorder(loaded_entry).active


async def test_buffering_follows_the_alarm_and_a_disarmed_alarm_empties_the_buffer(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    porch: dict[str, WalkCamera],
    freezer: FrozenDateTimeFactory,
) -> None:
    hass.states.async_set(ALARM, "disarmed")
    await set_options(hass, loaded_entry, lookback_cameras=[PORCH], lookback_seconds=5, lookback_while=ALARM)
    await seconds_pass(hass, freezer, 5)
    assert porch[PORCH].taken == []
    hass.states.async_set(ALARM, "armed_away")
    await hass.async_block_till_done(wait_background_tasks=True)
    await seconds_pass(hass, freezer, 3)
    assert len(porch[PORCH].taken) == 4
    await later(hass, freezer, 0.5)
    assert used(await send(hass, camera=PORCH, lookback=3)) == {PORCH: 3}
    for state in ("disarmed", "unavailable", "unknown", "off"):
        hass.states.async_set(ALARM, state)
        await hass.async_block_till_done(wait_background_tasks=True)
        asked = len(porch[PORCH].taken)
        await seconds_pass(hass, freezer, 5)
        assert len(porch[PORCH].taken) == asked, state
        assert recorder(loaded_entry).memory_bytes == 0, state
        assert used(await send(hass, camera=PORCH, lookback=3)) == {PORCH: 0}, state
        hass.states.async_set(ALARM, "triggered")
        await hass.async_block_till_done(wait_background_tasks=True)
        await seconds_pass(hass, freezer, 1)
        assert recorder(loaded_entry).buffered(PORCH) == 2, state


async def test_options_apply_at_once_without_a_reload_and_a_lower_lookback_shrinks_the_buffer(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    porch: dict[str, WalkCamera],
    freezer: FrozenDateTimeFactory,
) -> None:
    runtime = loaded_entry.runtime_data
    await set_options(hass, loaded_entry, lookback_cameras=[PORCH, GARDEN], lookback_seconds=10)
    await seconds_pass(hass, freezer, 12)
    assert recorder(loaded_entry).buffered(PORCH) == 10
    await set_options(hass, loaded_entry, lookback_seconds=3)
    assert loaded_entry.runtime_data is runtime  # not reloaded
    assert recorder(loaded_entry).buffered(PORCH) == 3  # at once, not as new frames come
    await later(hass, freezer, 0.5)
    response = await send(hass, camera=PORCH, lookback=10, frames=1)
    assert used(response) == {PORCH: 3}
    # a camera dropped from the options loses its frames and is asked no more
    await set_options(hass, loaded_entry, lookback_cameras=[PORCH])
    assert recorder(loaded_entry).buffered(GARDEN) == 0
    asked = len(porch[GARDEN].taken)
    await seconds_pass(hass, freezer, 5)
    assert len(porch[GARDEN].taken) == asked
    # off: the timer stops and the frames go
    await set_options(hass, loaded_entry, lookback_seconds=0)
    asked = len(porch[PORCH].taken)
    await seconds_pass(hass, freezer, 5)
    assert len(porch[PORCH].taken) == asked
    assert recorder(loaded_entry).memory_bytes == 0


# --- cameras that misbehave -----------------------------------------------------------------------


async def test_a_slow_camera_skips_beats_and_is_never_asked_twice_at_once(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    porch: dict[str, WalkCamera],
    freezer: FrozenDateTimeFactory,
) -> None:
    camera = porch[PORCH]
    camera.hold = asyncio.Event()
    options = {**loaded_entry.options, "lookback_cameras": [PORCH], "lookback_seconds": 5}
    hass.config_entries.async_update_entry(loaded_entry, options=options)
    await turns(hass, freezer, 0)
    for _ in range(4):  # the snapshot takes 4 s
        await turns(hass, freezer, 1)
    assert len(camera.taken) == 1
    assert camera.most_running == 1
    camera.hold.set()
    camera.hold = None
    await hass.async_block_till_done(wait_background_tasks=True)
    await seconds_pass(hass, freezer, 2)
    assert len(camera.taken) == 3  # back to one a second once it answered
    assert camera.most_running == 1
    assert recorder(loaded_entry).buffered(PORCH) == 3


async def test_a_failing_camera_is_asked_less_often_and_logged_once(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    porch: dict[str, WalkCamera],
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "custom_components.serwersms")
    porch[PORCH].fail = True
    await set_options(hass, loaded_entry, lookback_cameras=[PORCH, GARDEN], lookback_seconds=5)
    await seconds_pass(hass, freezer, 60)
    # asked at 0, 2, 6, 14, 30 s (the pauses double): 5 times in a minute, not 61
    assert len(porch[PORCH].taken) == 5
    assert caplog.text.count("no frame from camera.porch") == 1
    assert len(porch[GARDEN].taken) == 61  # the other camera goes on, one a second
    assert recorder(loaded_entry).buffered(GARDEN) == 5
    porch[PORCH].fail = False
    await seconds_pass(hass, freezer, 40)  # the next try is at most 60 s after the last
    assert recorder(loaded_entry).buffered(PORCH) == 5
    assert caplog.text.count("camera.porch gives frames again") == 1


async def test_a_lookback_camera_unavailable_or_removed_is_not_asked_and_sends_are_refused_as_before(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    porch: dict[str, WalkCamera],
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "custom_components.serwersms")
    await set_options(hass, loaded_entry, lookback_cameras=[PORCH, "camera.gone", GARDEN], lookback_seconds=5)
    await seconds_pass(hass, freezer, 3)
    assert recorder(loaded_entry).buffered(GARDEN) == 4
    assert caplog.text.count("camera.gone is not available") == 1
    porch[PORCH]._attr_available = False
    porch[PORCH].async_write_ha_state()
    asked = len(porch[PORCH].taken)
    await seconds_pass(hass, freezer, 10)
    assert len(porch[PORCH].taken) == asked
    assert caplog.text.count("camera.porch is not available") == 1
    with pytest.raises(ServiceValidationError) as err:
        await send(hass, camera=PORCH, lookback=3)
    assert err.value.translation_key == "camera_unavailable"
    with pytest.raises(ServiceValidationError) as err:
        await send(hass, camera="camera.gone", lookback=3)
    assert err.value.translation_key == "camera_not_found"
    porch[PORCH]._attr_available = True
    porch[PORCH].async_write_ha_state()
    await seconds_pass(hass, freezer, 3)
    assert len(porch[PORCH].taken) == asked + 3
    assert used(await send(hass, camera=PORCH, lookback=3)) == {PORCH: 3}


# --- several sends, one buffer ---------------------------------------------------------------------


async def snapshots_taken(camera: WalkCamera, count: int) -> None:
    """Return once `count` snapshots in all were asked of `camera` (the loop turns; the clock stands)."""
    for _ in range(10_000):
        if len(camera.taken) >= count:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"{len(camera.taken)} snapshots, not {count}")


def start(hass: HomeAssistant, **data: Any) -> asyncio.Task[Any]:
    call: Coroutine[Any, Any, Any] = hass.services.async_call(
        "serwersms", "send_mms", {"entity_id": MOM, **data}, blocking=True, return_response=True
    )
    return asyncio.create_task(call)


async def test_sends_at_once_each_read_the_buffer_as_it_was_when_called(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    porch: dict[str, WalkCamera],
    freezer: FrozenDateTimeFactory,
) -> None:
    await set_options(hass, loaded_entry, lookback_cameras=[PORCH], lookback_seconds=3)
    await seconds_pass(hass, freezer, 3)
    await later(hass, freezer, 0.5)
    before = [frame.taken_at for frame in recorder(loaded_entry).recent(PORCH, dt_util.now(), 3, 3)]
    # Two sends of three live frames each: while they run, the buffer moves on (and drops what they
    # started with); each still starts with the three frames before its call.
    camera = porch[PORCH]
    asked = len(camera.taken)
    first = start(hass, camera=PORCH, lookback=3, frames=3, overlay=True)
    second = start(hass, camera=PORCH, lookback=3, frames=3, overlay=True)
    for frame in range(3):
        # both sends took this frame (and, after the first, the buffer its beat's), then time moves
        await snapshots_taken(camera, asked + 2 * (frame + 1) + frame)
        await turns(hass, freezer, 1)
        # the buffer's own frame of this second is in (the sends wait for their next frame meanwhile)
        await hass.async_block_till_done(wait_background_tasks=True)
    responses = [(await task)[MOM] for task in (first, second)]
    assert [used(r) for r in responses] == [{PORCH: 3}, {PORCH: 3}]
    assert [r["frames"] for r in responses] == [{PORCH: 6}, {PORCH: 6}]
    for response in responses:
        (gif,) = stored(simulator, response)
        assert [closest_step(frame) for frame, _ in frames_of(gif)][:3] == [1, 2, 3]
    assert [frame.taken_at for frame in recorder(loaded_entry).recent(PORCH, dt_util.now(), 3, 3)] != before


# --- the bound ------------------------------------------------------------------------------------


async def test_memory_is_bounded_per_camera_and_per_account_whatever_the_cameras_resolution(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    big = [WalkCamera(f"Big {n}", 1920, 1080, steps=2, noise=40) for n in range(MAX_LOOKBACK_CAMERAS + 2)]
    setup_test_component_platform(hass, "camera", big)
    assert await async_setup_component(hass, "camera", {"camera": {"platform": "test"}})
    await hass.async_block_till_done()
    names = [f"camera.big_{n}" for n in range(len(big))]
    await set_options(hass, loaded_entry, lookback_cameras=names, lookback_seconds=10)
    await seconds_pass(hass, freezer, 12)
    lookback = recorder(loaded_entry)
    assert "at most 8 cameras" in caplog.text
    assert [lookback.buffered(name) for name in names] == [10] * 8 + [0, 0]
    assert big[-1].taken == []  # past the cap: never asked
    assert lookback.memory_bytes <= MAX_LOOKBACK_CAMERAS * 10 * MAX_FRAME_BYTES  # < 8 MB
    for name in names[:8]:
        frames = lookback.recent(name, dt_util.now(), 10, 10)
        assert sum(len(f.content) for f in frames) <= 1024 * 1024
        for frame in frames:
            image = Image.open(io.BytesIO(frame.content))
            assert image.format == "JPEG"
            assert max(image.size) <= FRAME_SIDE


def test_the_buffer_keeps_the_newest_and_readers_get_a_copy() -> None:
    buffer = LookbackBuffer(3)
    start_at = dt_util.now()
    for n in range(5):
        buffer.add(LookbackFrame(bytes([n]), start_at + timedelta(seconds=n)))
    now = start_at + timedelta(seconds=4.5)
    read = buffer.recent(now, 10, 10)
    assert [f.content for f in read] == [b"\x02", b"\x03", b"\x04"]
    buffer.add(LookbackFrame(b"\x05", start_at + timedelta(seconds=5)))
    assert [f.content for f in read] == [b"\x02", b"\x03", b"\x04"]  # what was read stays
    assert [f.content for f in buffer.recent(now, 2, 10)] == [b"\x03", b"\x04"]
    assert [f.content for f in buffer.recent(now, 1, 10)] == [b"\x04"]  # only the last second
    assert [f.content for f in buffer.recent(now, 10, 1)] == [b"\x04"]
    buffer.resize(1)
    assert len(buffer) == 1


def test_a_call_on_the_beat_still_gets_as_many_frames_as_seconds_asked() -> None:
    """Called exactly 3 s after a frame (the next one still being taken): that frame counts."""
    buffer = LookbackBuffer(3)
    start_at = dt_util.now()
    for n in range(3):
        buffer.add(LookbackFrame(bytes([n]), start_at + timedelta(seconds=n)))
    called = start_at + timedelta(seconds=3, microseconds=1000)
    assert [f.content for f in buffer.recent(called, 3, 3)] == [b"\x00", b"\x01", b"\x02"]
    assert [f.content for f in buffer.recent(called + timedelta(seconds=0.6), 3, 3)] == [b"\x01", b"\x02"]


def test_a_frame_is_held_to_its_bound_even_when_the_picture_is_pure_noise() -> None:
    """Random pixels: a JPEG of them at 640 px is about 270 KB; the frame is made smaller, not kept so."""
    pixels = random.Random(7).randbytes(640 * 640 * 3)  # noqa: S311 - test pixels, not a secret
    noise = Image.frombytes("RGB", (640, 640), pixels)
    out = io.BytesIO()
    noise.save(out, "PNG")
    frame = shrink_frame(out.getvalue())
    assert len(frame) <= MAX_FRAME_BYTES
    assert max(Image.open(io.BytesIO(frame)).size) <= FRAME_SIDE


async def test_frames_older_than_the_lookback_are_not_sent_when_the_camera_stopped_giving_new_ones(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    porch: dict[str, WalkCamera],
    freezer: FrozenDateTimeFactory,
) -> None:
    await set_options(hass, loaded_entry, lookback_cameras=[PORCH], lookback_seconds=10)
    await seconds_pass(hass, freezer, 4)
    porch[PORCH].fail = True  # the buffer gets nothing new; what it holds grows old
    await seconds_pass(hass, freezer, 5)
    assert recorder(loaded_entry).buffered(PORCH) == 5
    porch[PORCH].fail = False
    response = await send(hass, camera=PORCH, lookback=3)
    assert used(response) == {PORCH: 0}  # the newest is 5 s old: not the 3 s before the call
    assert used(await send(hass, camera=PORCH, lookback=6)) == {PORCH: 2}  # 5 and 6 s old


async def test_a_snapshot_under_way_when_the_alarm_is_disarmed_keeps_nothing(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    porch: dict[str, WalkCamera],
    freezer: FrozenDateTimeFactory,
) -> None:
    hass.states.async_set(ALARM, "armed_away")
    await set_options(
        hass, loaded_entry, lookback_cameras=[PORCH, GARDEN], lookback_seconds=5, lookback_while=ALARM
    )
    await seconds_pass(hass, freezer, 2)
    camera = porch[PORCH]
    camera.hold = asyncio.Event()
    await turns(hass, freezer, 1)  # a snapshot of each camera is under way…
    hass.states.async_set(ALARM, "disarmed")  # …when the alarm is disarmed
    await turns(hass, freezer, 0)
    camera.hold.set()
    camera.hold = None
    await hass.async_block_till_done(wait_background_tasks=True)
    assert recorder(loaded_entry).memory_bytes == 0
    assert recorder(loaded_entry).buffered(PORCH) == 0


async def test_a_snapshot_under_way_when_its_camera_is_dropped_from_the_options_keeps_nothing(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    porch: dict[str, WalkCamera],
    freezer: FrozenDateTimeFactory,
) -> None:
    await set_options(hass, loaded_entry, lookback_cameras=[PORCH, GARDEN], lookback_seconds=5)
    await seconds_pass(hass, freezer, 2)
    camera = porch[PORCH]
    camera.hold = asyncio.Event()
    await turns(hass, freezer, 1)
    hass.config_entries.async_update_entry(
        loaded_entry, options={**loaded_entry.options, "lookback_cameras": [GARDEN]}
    )
    await turns(hass, freezer, 0)
    camera.hold.set()
    camera.hold = None
    await hass.async_block_till_done(wait_background_tasks=True)
    assert recorder(loaded_entry).buffered(PORCH) == 0
    assert recorder(loaded_entry).buffered(GARDEN) == 4
