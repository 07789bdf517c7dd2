"""The outbox's drain overlaps its requests: the next MMS's pictures go up while one is being sent.

An upload is never a send, so doing it early can repeat nothing; these tests hold the drain to that
when what was uploaded early is not needed after all (its MMS expired, the gateway went away again,
Home Assistant stopped). Real simulator over loopback; time moves with the freezer.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
import gc
import logging
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
)

from custom_components.serwersms.outbox import outbox_dir
from serwersms_simulator import Fault, SerwerSmsSimulator
from serwersms_simulator.server import RecordedRequest
from tests.conftest import SnapshotCamera, make_jpeg
from tests.helpers import client_without_pauses, defer_snapshots, later, no_stray_errors, real_seconds, send

MOM = "notify.mom_mms"
OUTBOX = "sensor.serwersms_outbox"
SEND = "messages/send_mms"
UPLOAD = "files/add"


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client's own quick retries without their pauses (time moves with the freezer)."""
    client_without_pauses(monkeypatch)


async def test_the_next_mms_goes_up_while_the_one_before_is_being_sent(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A drain takes about one round trip per MMS, not two (50 MMS at 50 ms: 2.5 s, not 5 s).

    The gateway holds each send request until the next MMS's upload has arrived (or a real second
    has passed): only a drain that uploads the next picture while a send is out gets one in.
    """
    await simulator.go_offline()
    await defer_snapshots(hass, front_door, 5)
    answer_send = simulator._send_mms
    upload_during_send: list[bool] = []

    async def send_held_for_an_upload(*args: Any) -> dict[str, Any]:
        this_mms = len(upload_during_send) + 1  # one picture each: this many uploads are its own
        give_up = real_seconds() + 1.0
        # The freezer stops the loop's clock: only a bare yield moves on (no event to wait for: the
        # upload arrives at the gateway's own handler).
        while len(simulator.requests_to(UPLOAD)) == this_mms and real_seconds() < give_up:  # noqa: ASYNC110
            await asyncio.sleep(0)
        upload_during_send.append(len(simulator.requests_to(UPLOAD)) > this_mms)
        return await answer_send(*args)

    monkeypatch.setattr(simulator, "_send_mms", send_held_for_an_upload)
    await simulator.go_online()
    await later(hass, freezer, 30)

    assert [m.text for m in simulator.messages] == [f"alarm {i}" for i in range(5)]
    assert len({m.file_ids[0] for m in simulator.messages}) == 5
    # Each send but the last had the next MMS's upload arrive while it was out.
    assert upload_during_send == [True, True, True, True, False]
    assert hass.states.get(OUTBOX).state == "0"


async def test_an_mms_uploaded_early_that_expires_before_its_turn_is_not_sent(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The second MMS's picture goes up during the first one's send, and then its minute runs out.

    The third then goes out with its own picture, not the one uploaded early for the second.
    """
    delivery = async_capture_events(hass, "serwersms_mms_delivery")
    await simulator.go_offline()
    await defer_snapshots(hass, front_door, 1)
    hass.config_entries.async_update_entry(loaded_entry, options={"outbox_minutes": 1})
    await hass.async_block_till_done()
    front_door.image = make_jpeg(320, 240)
    await send(hass, message="short-lived", title="Short", camera="camera.front_door")
    hass.config_entries.async_update_entry(loaded_entry, options={"outbox_minutes": 15})
    await hass.async_block_till_done()
    front_door.image = make_jpeg(400, 300)
    await send(hass, message="alarm 2", camera="camera.front_door")
    await simulator.go_online()

    def slow_first_send(request: RecordedRequest) -> None:
        if request.endpoint == SEND and not simulator.messages:
            freezer.tick(timedelta(seconds=90))  # the gateway takes its time over the first one
            async_fire_time_changed(hass)

    simulator.on_request = slow_first_send
    simulator.fail_next(UPLOAD, Fault("reply", body=lambda reply: reply))  # the first's: as it is
    simulator.fail_next(UPLOAD, Fault("error", code=3005))  # the second's: refused, and never used
    await later(hass, freezer, 30)
    simulator.on_request = None

    # The second's picture went up (and was refused) during the first's send: nothing else for it.
    assert [r.fault for r in simulator.requests_to(UPLOAD)] == ["reply", "error", None]
    assert len(simulator.requests_to(SEND)) == 2
    first, third = simulator.files  # stored in this order
    assert [(m.text, m.file_ids) for m in simulator.messages] == [("alarm 0", [first]), ("alarm 2", [third])]
    assert [(e.data["status"], e.data["title"]) for e in delivery] == [("not_sent", "Short")]
    assert hass.states.get(OUTBOX).state == "0"
    for _ in range(4):
        await later(hass, freezer, 30)
    assert len(simulator.messages) == 2
    # The early upload's refusal concerns nobody now: no "Task exception was never retrieved". (Not
    # `no_stray_errors`: the 90 s jump mid-request makes asyncio log a reset connection's traceback.)
    gc.collect()
    await hass.async_block_till_done()
    assert "never retrieved" not in caplog.text


async def test_the_gateway_gone_again_after_a_send_leaves_the_early_upload_unsent(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The port closes right after the first send's reply, while the second's upload is under way."""
    await simulator.go_offline()
    await defer_snapshots(hass, front_door, 3)
    await simulator.go_online()
    simulator.sends_until_outage = 1
    await later(hass, freezer, 30)
    assert [m.text for m in simulator.messages] == ["alarm 0"]
    assert hass.states.get(OUTBOX).state == "2"

    await simulator.go_online()
    await later(hass, freezer, 30)
    assert [m.text for m in simulator.messages] == ["alarm 0", "alarm 1", "alarm 2"]
    assert len(simulator.processed_sends) == 3
    assert hass.states.get(OUTBOX).state == "0"
    no_stray_errors(caplog)


async def test_a_restart_while_the_next_picture_goes_up_sends_each_mms_once(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Home Assistant stops while the first is being sent: it finishes, the second waits for the start."""
    caplog.set_level(logging.WARNING)
    sent = async_capture_events(hass, "serwersms_mms_sent")
    await simulator.go_offline()
    await defer_snapshots(hass, front_door, 2)
    unloading: list[Any] = []

    def stop_during_first_send(request: RecordedRequest) -> None:
        if request.endpoint == SEND and not unloading:
            unloading.append(hass.async_create_task(hass.config_entries.async_unload(loaded_entry.entry_id)))

    simulator.on_request = stop_during_first_send
    await simulator.go_online()
    await later(hass, freezer, 30)
    simulator.on_request = None
    assert await unloading[0]
    assert [m.text for m in simulator.messages] == ["alarm 0"]

    assert await hass.config_entries.async_setup(loaded_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    await later(hass, freezer, 30)
    assert [m.text for m in simulator.messages] == ["alarm 0", "alarm 1"]
    assert [e.data["recipients"][0]["status"] for e in sent] == ["queued", "queued"]
    assert len(simulator.messages[1].file_ids) == 1
    no_stray_errors(caplog)


async def test_an_mms_whose_pictures_cannot_be_read_back_is_dropped_quietly(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Its upload, which could not start, is not left to be logged as an error no one retrieved."""
    await simulator.go_offline()
    await defer_snapshots(hass, front_door, 2)
    first, _second = sorted(outbox_dir(hass, loaded_entry.entry_id).iterdir())
    first.write_bytes(first.read_bytes()[:200])  # damaged on disk while it waited
    await simulator.go_online()
    await later(hass, freezer, 30)
    assert [m.text for m in simulator.messages] == ["alarm 1"]
    assert "could not be read back" in caplog.text
    no_stray_errors(caplog)
