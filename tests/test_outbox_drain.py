"""The outbox's drain overlaps its requests: the next MMS's pictures go up while one is being sent.

An upload is never a send, so doing it early can repeat nothing; these tests hold the drain to that
when what was uploaded early is not needed after all (its MMS expired, the gateway went away again,
Home Assistant stopped). Real simulator over loopback; time moves with the freezer.
"""

from __future__ import annotations

import logging
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
)

from custom_components.serwersms.outbox import outbox_dir
from serwersms_simulator import SerwerSmsSimulator
from serwersms_simulator.server import RecordedRequest
from tests.conftest import SnapshotCamera
from tests.helpers import client_without_pauses, defer_snapshots, later, no_stray_errors

MOM = "notify.mom_mms"
OUTBOX = "sensor.serwersms_outbox"
SEND = "messages/send_mms"
UPLOAD = "files/add"


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client's own quick retries without their pauses (time moves with the freezer)."""
    client_without_pauses(monkeypatch)


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
