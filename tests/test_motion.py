"""Motion through serwersms.send_mms: bursts as a GIF or as pictures, stamps, limits, failing cameras.

Against the simulator over real HTTP; the clock between frames moves only with the freezer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import datetime, timedelta
import io
import itertools
from pathlib import Path
import shutil
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.camera import Camera
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from PIL import Image, ImageChops
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed_exact,
    setup_test_component_platform,
)

from serwersms_simulator import SerwerSmsSimulator
from tests.pictures import frames_of, gif_blocks, jpeg, mean_difference, scene
from tests.waiting import bus_event

MOM = "notify.mom_mms"
KB = 1024
ROOT = Path(__file__).resolve().parents[1]


class BurstCamera(Camera):
    """A camera whose n-th snapshot is the n-th of `pictures` (cycling); listed snapshots fail."""

    _attr_has_entity_name = False

    def __init__(self, name: str, pictures: list[bytes], failing: set[int] | None = None) -> None:
        super().__init__()
        self._attr_name = name
        self._attr_unique_id = name
        self.pictures = pictures
        self.failing = failing or set()
        self.taken: list[datetime] = []
        self._shot = asyncio.Event()

    async def async_camera_image(self, width: int | None = None, height: int | None = None) -> bytes | None:
        self.taken.append(dt_util.now())
        self._shot.set()
        if len(self.taken) in self.failing:
            return None  # Home Assistant reports this as a camera that gave no image
        return self.pictures[(len(self.taken) - 1) % len(self.pictures)]

    async def snapshots_taken(self, count: int) -> None:
        """Return once `count` snapshots in all have been asked of this camera."""
        while len(self.taken) < count:
            self._shot.clear()
            await self._shot.wait()


def walking(width: int = 640, height: int = 480, count: int = 5, *, noise: int = 8) -> list[bytes]:
    return [jpeg(scene(width, height, step, noise=noise)) for step in range(count)]


@pytest.fixture
async def cameras(hass: HomeAssistant) -> dict[str, BurstCamera]:
    """camera.front_door and camera.garden, each a figure walking across the picture."""
    made = {
        "camera.front_door": BurstCamera("Front door", walking()),
        "camera.garden": BurstCamera("Garden", walking(480, 360)),
    }
    setup_test_component_platform(hass, "camera", list(made.values()))
    assert await async_setup_component(hass, "camera", {"camera": {"platform": "test"}})
    await hass.async_block_till_done()
    return made


async def frame_taken(task: asyncio.Task[Any], cameras: list[BurstCamera], frame: int) -> None:
    """Wait, without moving the clock, until each camera has taken `frame` snapshots or `task` ended.

    (Not `async_block_till_done`: a send waiting for its next frame never finishes while the clock
    stands still.)
    """
    taken = asyncio.ensure_future(asyncio.gather(*(camera.snapshots_taken(frame) for camera in cameras)))
    await asyncio.wait({task, taken}, return_when=asyncio.FIRST_COMPLETED)
    taken.cancel()


async def tick(hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float) -> None:
    freezer.tick(timedelta(seconds=seconds))
    # a millisecond of slack: the schedule adds up floats, the freezer whole microseconds
    async_fire_time_changed_exact(hass, dt_util.utcnow() + timedelta(milliseconds=1))
    # Loop turns, not a pause: a snapshot this tick let through (rightly or not) is asked for in them,
    # so the tests that expect none see one that comes too early.
    for _ in range(20):
        await asyncio.sleep(0)


async def at_once(task: asyncio.Task[Any]) -> Any:
    """The call's result, expected without the clock moving (a refusal, say)."""
    return await task


def start(hass: HomeAssistant, **data: Any) -> asyncio.Task[Any]:
    call: Coroutine[Any, Any, Any] = hass.services.async_call(
        "serwersms", "send_mms", {"entity_id": MOM, **data}, blocking=True, return_response=True
    )
    return asyncio.create_task(call)


async def burst_send(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    cameras: dict[str, BurstCamera],
    frames: int,
    interval: float = 1.0,
    **data: Any,
) -> dict[str, Any]:
    """Send, moving the clock one interval at a time once every camera has taken its frame."""
    names = data.setdefault("camera", list(cameras))
    names = [names] if isinstance(names, str) else names
    task = start(hass, frames=frames, frame_interval=interval, **data)
    for frame in range(1, frames + 1):
        await frame_taken(task, [cameras[n] for n in names], frame)
        if frame < frames:
            await tick(hass, freezer, interval)
    response = await task
    return response[MOM]  # type: ignore[no-any-return]


def stored(simulator: SerwerSmsSimulator, response: dict[str, Any]) -> list[bytes]:
    return [simulator.files[item["id"]].content for item in response["files"]]


async def test_a_burst_goes_as_one_looping_gif_per_camera_within_the_budget(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    cameras: dict[str, BurstCamera],
    freezer: FrozenDateTimeFactory,
) -> None:
    response = await burst_send(
        hass, freezer, cameras, 3, 1.5, camera="camera.front_door", message="Ruch przy drzwiach"
    )
    assert response["frames"] == {"camera.front_door": 3}
    assert [(f["name"], f["content_type"]) for f in response["files"]] == [
        ("camera_front_door.gif", "image/gif")
    ]
    (gif,) = stored(simulator, response)
    assert len(gif) + len(b"Ruch przy drzwiach") <= 300 * KB
    shown = frames_of(gif)
    assert [duration for _, duration in shown] == [1500] * 3
    assert Image.open(io.BytesIO(gif)).info["loop"] == 0
    assert set(gif_blocks(gif)) == {"image", "gce", "app:NETSCAPE2.0"}  # nothing but pictures
    # each frame is the camera's picture of that moment: the figure walks
    for step, (frame, _) in enumerate(shown):
        distances = [mean_difference(frame, scene(640, 480, s)) for s in range(3)]
        assert min(distances) == distances[step]
    taken = cameras["camera.front_door"].taken
    assert [moment - taken[0] for moment in taken] == [timedelta(seconds=s) for s in (0, 1.5, 3)]
    assert len(simulator.requests_to("messages/send_mms")) == 1


async def test_two_cameras_five_frames_each_at_the_same_moments(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    cameras: dict[str, BurstCamera],
    freezer: FrozenDateTimeFactory,
) -> None:
    response = await burst_send(hass, freezer, cameras, 5, 0.5)
    assert response["frames"] == {"camera.front_door": 5, "camera.garden": 5}
    assert cameras["camera.front_door"].taken == cameras["camera.garden"].taken  # side by side
    gifs = stored(simulator, response)
    assert [len(frames_of(gif)) for gif in gifs] == [5, 5]
    for gif in gifs:
        width, height = Image.open(io.BytesIO(gif)).size
        assert width * 3 == pytest.approx(height * 4, abs=4)  # scaled keeping the aspect
    assert sum(len(gif) for gif in gifs) <= 300 * KB
    assert [f["name"] for f in response["files"]] == ["camera_front_door.gif", "camera_garden.gif"]


async def test_a_camera_failing_on_frame_3_of_5_sends_the_other_four(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    cameras: dict[str, BurstCamera],
    freezer: FrozenDateTimeFactory,
) -> None:
    cameras["camera.garden"].failing = {3}
    response = await burst_send(hass, freezer, cameras, 5)
    assert response["frames"] == {"camera.front_door": 5, "camera.garden": 4}
    front, garden = stored(simulator, response)
    assert len(frames_of(front)) == 5
    shown = [frame for frame, _ in frames_of(garden)]
    assert len(shown) == 4
    # frames 1, 2, 4 and 5 of the walk: the failed third is left out, not repeated
    for frame, step in zip(shown, (0, 1, 3, 4), strict=True):
        distances = [mean_difference(frame, scene(480, 360, s)) for s in range(5)]
        assert min(distances) == distances[step]
    assert response["queued"] == 1


async def test_a_first_frame_that_fails_fails_the_send_and_nothing_goes_out(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    cameras: dict[str, BurstCamera],
    freezer: FrozenDateTimeFactory,
) -> None:
    cameras["camera.garden"].failing = {1}
    with pytest.raises(HomeAssistantError) as err:  # at once: the clock has not moved
        await at_once(start(hass, camera=list(cameras), frames=5))
    assert err.value.translation_key == "snapshot_failed"
    assert err.value.translation_placeholders == {"entity_id": "camera.garden"}
    for _ in range(5):
        await tick(hass, freezer, 1)
    assert len(cameras["camera.front_door"].taken) == 1  # the other camera stopped too
    assert simulator.requests_to("files/add") == []
    assert simulator.requests_to("messages/send_mms") == []


async def test_frames_as_images_sends_each_frame_and_counts_every_one(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    cameras: dict[str, BurstCamera],
    freezer: FrozenDateTimeFactory,
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await at_once(
            start(hass, camera=list(cameras), frames=5, frames_as="images", url="http://127.0.0.1/x.jpg"),
        )
    assert err.value.translation_key == "too_many_attachments"
    assert err.value.translation_placeholders == {"count": "11", "max": "10"}
    assert all(not camera.taken for camera in cameras.values())  # refused before any snapshot
    assert simulator.requests_to("files/add") == []

    response = await burst_send(hass, freezer, cameras, 5, frames_as="images")
    assert [f["name"] for f in response["files"]] == [
        *(f"camera_front_door_{n}.jpg" for n in range(1, 6)),
        *(f"camera_garden_{n}.jpg" for n in range(1, 6)),
    ]
    pictures = stored(simulator, response)
    assert sum(len(p) for p in pictures) <= 300 * KB
    assert all(Image.open(io.BytesIO(p)).format == "JPEG" for p in pictures)
    assert len(simulator.requests_to("messages/send_mms")[0].fields["file_id"]) == 10


async def test_ten_cameras_of_ten_frames_in_a_small_budget_send_fewer_frames_not_a_refusal(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """After ten seconds of snapshots the alarm goes out: each GIF with as many frames as its share holds."""
    hass.config_entries.async_update_entry(
        loaded_entry, options={**loaded_entry.options, "max_image_kb": 100}
    )
    made = {f"camera.yard_{n}": BurstCamera(f"Yard {n}", walking(1280, 960, 10, noise=12)) for n in range(10)}
    setup_test_component_platform(hass, "camera", list(made.values()))
    assert await async_setup_component(hass, "camera", {"camera": {"platform": "test"}})
    await hass.async_block_till_done()
    response = await burst_send(hass, freezer, made, 10, message="Alarm")
    assert response["queued"] == 1
    gifs = stored(simulator, response)
    assert sum(len(gif) for gif in gifs) + len(b"Alarm") <= 100 * KB
    assert [f["content_type"] for f in response["files"]] == ["image/gif"] * 10
    # what the response says went is what each GIF shows: fewer than ten, more than a still
    shown = {name: len(frames_of(gif)) for name, gif in zip(made, gifs, strict=True)}
    assert response["frames"] == shown
    assert all(2 <= count < 10 for count in shown.values())
    for gif in gifs:  # still playing in real time: the frames left cover the ten seconds
        assert sum(duration for _, duration in frames_of(gif)) == 10_000
        assert min(Image.open(io.BytesIO(gif)).size) >= 96
    assert len(simulator.requests_to("messages/send_mms")) == 1


@pytest.mark.parametrize(
    ("data", "key", "placeholders"),
    [
        ({"frames": 0}, "frames_out_of_range", {"frames": "0", "min": "1", "max": "10"}),
        ({"frames": 11}, "frames_out_of_range", {"frames": "11", "min": "1", "max": "10"}),
        ({"frames": 2.5}, "frames_out_of_range", {"frames": "2.5", "min": "1", "max": "10"}),
        ({"frames": "nan"}, "frames_out_of_range", {"frames": "nan", "min": "1", "max": "10"}),
        (
            {"frame_interval": 0.1},
            "frame_interval_out_of_range",
            {"frame_interval": "0.1", "min": "0.2", "max": "10"},
        ),
        (
            {"frame_interval": 10.5},
            "frame_interval_out_of_range",
            {"frame_interval": "10.5", "min": "0.2", "max": "10"},
        ),
        ({"frames_as": "video"}, "frames_as_invalid", {"frames_as": "video"}),
    ],
)
async def test_motion_limits_are_refused_with_a_translated_error_before_any_snapshot(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    cameras: dict[str, BurstCamera],
    data: dict[str, Any],
    key: str,
    placeholders: dict[str, str],
) -> None:
    legacy = {"message": "m", "data": {"camera": "camera.front_door", **data}}
    for call in (
        lambda: start(hass, camera="camera.front_door", **data),
        lambda: asyncio.create_task(hass.services.async_call("notify", "serwersms", legacy, blocking=True)),
    ):
        with pytest.raises(ServiceValidationError) as err:
            await at_once(call())
        assert err.value.translation_key == key
        assert err.value.translation_placeholders == placeholders
    assert cameras["camera.front_door"].taken == []
    assert simulator.requests_to("files/add") == []


async def test_the_limits_themselves_are_accepted(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    cameras: dict[str, BurstCamera],
    freezer: FrozenDateTimeFactory,
) -> None:
    response = await burst_send(hass, freezer, cameras, 10, 0.2, camera="camera.garden")
    assert response["frames"] == {"camera.garden": 10}
    one = await burst_send(hass, freezer, cameras, 1, 10, camera="camera.garden")
    assert "frames" not in one  # a single frame is a plain snapshot, as before
    assert one["files"][0]["content_type"] == "image/jpeg"


async def test_the_legacy_service_takes_motion_in_its_data(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    cameras: dict[str, BurstCamera],
    freezer: FrozenDateTimeFactory,
) -> None:
    call = hass.services.async_call(
        "notify",
        "serwersms",
        {"message": "m", "data": {"camera": "camera.garden", "frames": 2, "frame_interval": 2}},
        blocking=True,
    )
    task = asyncio.create_task(call)
    await frame_taken(task, [cameras["camera.garden"]], 1)
    await tick(hass, freezer, 1.9)
    assert len(cameras["camera.garden"].taken) == 1
    await tick(hass, freezer, 0.1)
    await task
    (gif,) = simulator.files.values()
    assert len(frames_of(gif.content)) == 2


def label_area(stamped: Image.Image, plain: Image.Image) -> tuple[int, int, int, int]:
    difference = ImageChops.difference(stamped, plain).convert("L")
    box = difference.point(lambda value: 255 if value > 64 else 0).getbbox()
    assert box is not None
    return box


async def test_overlay_stamps_the_camera_name_and_time_in_a_corner_only(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    cameras: dict[str, BurstCamera],
    freezer: FrozenDateTimeFactory,
) -> None:
    cameras["camera.garden"].pictures = [jpeg(scene(480, 360, 2))]
    plain = await burst_send(hass, freezer, cameras, 1, camera="camera.garden")
    stamped = await burst_send(hass, freezer, cameras, 1, camera="camera.garden", overlay=True)
    without = Image.open(io.BytesIO(stored(simulator, plain)[0])).convert("RGB")
    with_label = Image.open(io.BytesIO(stored(simulator, stamped)[0])).convert("RGB")
    assert with_label.size == without.size == (480, 360)
    left, top, right, bottom = label_area(with_label, without)
    # the bottom-left corner
    assert left <= 10
    assert bottom >= 350
    assert right < 480
    assert top > 300
    # elsewhere the same picture (only JPEG's own small differences)
    rest = ImageChops.difference(with_label, without)
    rest.paste((0, 0, 0), (left, top, right, bottom))
    assert max(rest.convert("L").getextrema()) < 40
    # white text, at least 3 % of the picture's height, in the box
    text = with_label.crop((left, top, right, bottom)).convert("L").point(lambda v: 255 if v > 160 else 0)
    text_box = text.getbbox()
    assert text_box is not None
    assert text_box[3] - text_box[1] >= 0.03 * 360


async def test_overlay_stamps_every_frame_of_a_gif_with_its_own_time(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    cameras: dict[str, BurstCamera],
    freezer: FrozenDateTimeFactory,
) -> None:
    cameras["camera.garden"].pictures = [jpeg(scene(480, 360, 1))]  # the camera shows the same scene
    response = await burst_send(hass, freezer, cameras, 3, 1, camera="camera.garden", overlay=True)
    shown = [frame for frame, _ in frames_of(stored(simulator, response)[0])]
    # only the clock changes between frames: the seconds, in the bottom-left label
    for before, after in itertools.pairwise(shown):
        change = ImageChops.difference(before, after).getbbox()
        assert change is not None
        assert change[1] > 300
        assert change[0] > 100  # the date and the name stay put; the seconds move


async def test_an_animated_gif_file_too_big_to_send_as_is_keeps_its_animation(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry, tmp_path: Path
) -> None:
    pictures = [scene(900, 700, step, noise=40).quantize(200) for step in range(4)]
    path = tmp_path / "dance.gif"
    pictures[0].save(
        path, "GIF", save_all=True, append_images=pictures[1:], duration=[100, 200, 300, 400], loop=0
    )
    assert path.stat().st_size > 300 * KB
    hass.config.allowlist_external_dirs = {str(tmp_path)}
    response = await hass.services.async_call(
        "serwersms", "send_mms", {"entity_id": MOM, "file": str(path)}, blocking=True, return_response=True
    )
    files = response[MOM]["files"]  # type: ignore[index]
    assert [(f["name"], f["content_type"]) for f in files] == [("dance.gif", "image/gif")]
    gif = simulator.files[files[0]["id"]].content
    assert len(gif) <= 300 * KB
    assert [duration for _, duration in frames_of(gif)] == [100, 200, 300, 400]


async def test_the_motion_blueprint_sends_a_stamped_gif(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    cameras: dict[str, BurstCamera],
    freezer: FrozenDateTimeFactory,
) -> None:
    target = Path(hass.config.path("blueprints/automation/serwersms"))
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "blueprints/automation/serwersms/snapshot_on_motion.yaml", target)
    hass.states.async_set("binary_sensor.garden_motion", "off")
    inputs = {
        "motion_sensor": "binary_sensor.garden_motion",
        "camera": "camera.garden",
        "recipients": [MOM],
        "frames": 3,
        "overlay": True,
    }
    automation = {"use_blueprint": {"path": "serwersms/snapshot_on_motion.yaml", "input": inputs}}
    assert await async_setup_component(hass, "automation", {"automation": automation})
    sent = bus_event(hass, "serwersms_mms_sent")
    hass.states.async_set("binary_sensor.garden_motion", "on")
    garden = cameras["camera.garden"]
    for frame in (1, 2, 3):
        await garden.snapshots_taken(frame)
        if frame < 3:
            await tick(hass, freezer, 1)  # the blueprint's frames are a second apart
    await sent
    await hass.services.async_call("automation", "turn_off", {"entity_id": "all"}, blocking=True)
    (gif,) = (stored.content for stored in simulator.files.values())
    shown = [frame for frame, _ in frames_of(gif)]
    assert len(shown) == 3
    for frame in shown:  # stamped: a black label box in the bottom-left corner, none elsewhere
        dark = frame.convert("L").point(lambda value: 255 if value < 30 else 0)
        box = dark.getbbox()
        assert box is not None
        assert box[0] < frame.width * 0.02
        assert box[3] > frame.height * 0.97
        assert box[1] > frame.height * 0.85
