"""The outbox under attack: concurrent, cancelled, partial, refused and interrupted deferred MMS.

Every test runs against the real simulator over loopback; outages are the simulator's port closing
(`go_offline`, `sends_until_outage`, `cut_off`), time moves with the freezer only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
import threading
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.camera import Camera
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
    setup_test_component_platform,
)

from custom_components.serwersms import outbox as outbox_module
from custom_components.serwersms.api import SerwerSmsClient
from custom_components.serwersms.outbox import outbox_dir
from serwersms_simulator import Fault, SerwerSmsSimulator
from serwersms_simulator.server import RecordedRequest
from tests.conftest import SnapshotCamera, make_jpeg

MOM = "notify.mom_mms"
FAMILY = "notify.family_mms"
MOM_PHONE = "+48500600700"
FAMILY_PHONES = ["+48500600701", "+48500600702"]
OUTBOX = "sensor.serwersms_outbox"
SENT_TODAY = "sensor.serwersms_mms_sent_today"
SEND = "messages/send_mms"


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client's own quick retries without their pauses, one batch at a time (a fixed order)."""
    defaults = dict(SerwerSmsClient.__init__.__kwdefaults__ or {})
    monkeypatch.setattr(
        SerwerSmsClient.__init__, "__kwdefaults__", defaults | {"backoff": 0.0, "max_parallel_batches": 1}
    )


async def send(hass: HomeAssistant, target: str = MOM, **data: Any) -> dict[str, Any]:
    response = await hass.services.async_call(
        "serwersms", "send_mms", {"entity_id": target, **data}, blocking=True, return_response=True
    )
    assert response is not None
    return response[target]  # type: ignore[return-value]


async def later(hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float) -> None:
    """Let `seconds` of Home Assistant time pass."""
    freezer.tick(timedelta(seconds=seconds))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


def deferred_files(hass: HomeAssistant, entry: MockConfigEntry) -> list[Path]:
    folder = outbox_dir(hass, entry.entry_id)
    return sorted(folder.iterdir()) if folder.is_dir() else []


def on_send(simulator: SerwerSmsSimulator, action: Callable[[RecordedRequest], None]) -> None:
    """Run `action` when a send request arrives at the gateway (before it acts on it)."""
    simulator.on_request = lambda request: action(request) if request.endpoint == SEND else None


async def add_cameras(hass: HomeAssistant, cameras: list[Camera]) -> None:
    setup_test_component_platform(hass, "camera", cameras)
    assert await async_setup_component(hass, "camera", {"camera": {"platform": "test"}})
    await hass.async_block_till_done()


async def test_concurrent_snapshots_while_offline_are_drained_once_each_in_call_order(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Eight cameras, the first the biggest picture (slowest to fit), all sent at once offline."""
    cameras = [SnapshotCamera(f"Cam {i}", make_jpeg(1600 - 150 * i, 1200 - 110 * i)) for i in range(8)]
    await add_cameras(hass, cameras)
    await simulator.go_offline()
    responses = await asyncio.gather(
        *(send(hass, message=f"alarm {i}", camera=f"camera.cam_{i}") for i in range(8))
    )
    assert [r["deferred"] for r in responses] == [1] * 8
    assert hass.states.get(OUTBOX).state == "8"

    await simulator.go_online()
    await later(hass, freezer, 30)
    assert [m.text for m in simulator.messages] == [f"alarm {i}" for i in range(8)]
    assert len(simulator.processed_sends) == 8
    # Each carried its own picture: eight different files.
    assert len({m.file_ids[0] for m in simulator.messages}) == 8
    assert hass.states.get(OUTBOX).state == "0"
    await later(hass, freezer, 60)
    assert len(simulator.processed_sends) == 8


async def test_a_caller_cancelled_while_its_mms_is_deferred_still_gets_it_sent_once(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    freezer: FrozenDateTimeFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An automation reloaded while its alarm MMS is being written to the outbox."""
    await simulator.go_offline()
    # The MMS is being written to disk (in the executor) when the caller is cancelled.
    writing = asyncio.Event()
    proceed = threading.Event()
    real_store = outbox_module._store

    def slow_store(*args: Any) -> None:
        hass.loop.call_soon_threadsafe(writing.set)
        proceed.wait()
        real_store(*args)

    monkeypatch.setattr(outbox_module, "_store", slow_store)
    call = asyncio.ensure_future(send(hass, message="alarm", camera="camera.front_door"))
    await writing.wait()
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    proceed.set()
    await hass.async_block_till_done(wait_background_tasks=True)

    # It waits, and counts against today's limit like any deferred MMS.
    assert hass.states.get(SENT_TODAY).state == "1"
    assert hass.states.get(OUTBOX).state == "1"
    await simulator.go_online()
    await later(hass, freezer, 30)
    assert [m.text for m in simulator.messages] == ["alarm"]
    assert hass.states.get(OUTBOX).state == "0"
    assert deferred_files(hass, loaded_entry) == []


async def test_a_slow_failed_try_is_repeated_thirty_seconds_later_not_sixty(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The gateway is back but answers 429 to the drain's first try, slowly (10 s a request)."""
    await simulator.go_offline()
    await send(hass, message="alarm")
    await simulator.go_online()
    simulator.fail_next(SEND, Fault("status", status=429), times=3)  # the client's three tries
    simulator.on_request = lambda request: freezer.tick(timedelta(seconds=10))
    await later(hass, freezer, 30)  # the drain's try: 30 s of gateway time, then refused
    assert simulator.messages == []
    simulator.on_request = None

    # From the end of that try, the account tries again within 30 s.
    for _ in range(30):
        await later(hass, freezer, 1)
    assert [m.text for m in simulator.messages] == ["alarm"]


async def test_a_given_file_gone_by_the_drain_is_reported_unsent_not_retried(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The user's own `file_id` is deleted in the panel while its MMS waits: 1004 at the drain."""
    given = await hass.services.async_call(
        "serwersms", "upload_file", {"camera": "camera.front_door"}, blocking=True, return_response=True
    )
    assert given is not None
    front_door.image = make_jpeg(320, 240)
    sent = async_capture_events(hass, "serwersms_mms_sent")
    await simulator.go_offline()
    response = await send(hass, message="alarm", camera="camera.front_door", file_id=[given["id"]])
    assert response["deferred"] == 1
    del simulator.files[given["id"]]
    await simulator.go_online()
    uploads_before = len(simulator.requests_to("files/add"))

    await later(hass, freezer, 30)
    assert simulator.messages == []
    (event,) = sent
    assert event.data["deferred"] is True
    assert event.data["recipients"] == [
        {"phone": MOM_PHONE, "status": "unsent", "id": None, "error_code": 1004}
    ]
    assert hass.states.get(OUTBOX).state == "0"
    # Given up at once: no try every 30 s, no picture uploaded again and again until it expires.
    for _ in range(30):
        await later(hass, freezer, 30)
    assert len(simulator.processed_sends) == 0
    assert len(simulator.requests_to(SEND)) == 1
    assert len(simulator.requests_to("files/add")) == uploads_before + 1
    assert len(sent) == 1


async def test_an_own_picture_gone_by_the_drain_is_uploaded_again_and_sent_once(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The deferred picture was sent before (its id is reused), then deleted in the panel."""
    first = await send(hass, message="earlier", camera="camera.front_door")
    (old_file,) = first["files"]
    await simulator.go_offline()
    await send(hass, message="alarm", camera="camera.front_door")
    del simulator.files[old_file["id"]]
    await simulator.go_online()

    await later(hass, freezer, 30)
    await later(hass, freezer, 30)
    alarm = [m for m in simulator.messages if m.text == "alarm"]
    assert len(alarm) == 1
    assert alarm[0].file_ids[0] != old_file["id"]
    assert alarm[0].file_ids[0] in simulator.files
    assert hass.states.get(OUTBOX).state == "0"
