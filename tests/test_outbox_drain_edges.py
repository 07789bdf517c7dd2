"""The outbox's drain at its edges: each deferred MMS goes once, in the order deferred, with its own pictures.

The drain takes one MMS at a time, oldest first: its pictures go up (or an earlier upload's id is
reused), then its send request leaves. These tests hold it to that when a reused file is gone from the
gateway, an upload fails for now or is refused, a direct send of the same picture comes along, the
outbox is switched off, the clean-up runs, a picture cannot be read back, the gateway goes away again,
or Home Assistant stops in the middle; and nothing is left for asyncio to log. Real simulator over
loopback; time moves with the freezer only (no real sleeps).
"""

from __future__ import annotations

import asyncio
import base64
from datetime import timedelta
import json
import logging
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
)

from custom_components.serwersms.outbox import outbox_dir
from serwersms_simulator import Fault, SerwerSmsSimulator
from serwersms_simulator.server import RecordedRequest
from tests.conftest import SnapshotCamera, make_jpeg
from tests.helpers import client_without_pauses, defer_snapshots, later, no_stray_errors, send

MOM = "notify.mom_mms"
FAMILY = "notify.family_mms"
MOM_PHONE = "+48500600700"
FAMILY_PHONES = ["+48500600701", "+48500600702"]
OUTBOX = "sensor.serwersms_outbox"
SEND = "messages/send_mms"
UPLOAD = "files/add"


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client's own quick retries without their pauses (time moves with the freezer)."""
    client_without_pauses(monkeypatch)


def texts(simulator: SerwerSmsSimulator) -> list[str | None]:
    """The texts of the messages the gateway took, one per number, in the order taken."""
    return [m.text for m in simulator.messages]


def pictures_on_disk(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, list[bytes]]:
    """Each waiting MMS's fitted pictures, by its text, as the outbox keeps them."""
    kept: dict[str, list[bytes]] = {}
    for path in sorted(outbox_dir(hass, entry.entry_id).iterdir()):
        data = json.loads(path.read_bytes())
        kept[data["text"]] = [base64.b64decode(p["content"]) for p in data["pictures"]]
    return kept


def sent_pictures(simulator: SerwerSmsSimulator, text: str) -> list[bytes]:
    """The bytes of the files the one message with `text` (to its first number) carried."""
    (message,) = [m for m in simulator.messages if m.text == text][:1]
    return [simulator.files[file_id].content for file_id in message.file_ids]


async def test_a_stop_during_an_upload_sends_that_mms_and_starts_no_other(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Home Assistant stops while the first MMS's picture goes up: it is sent, nothing else starts."""
    await simulator.go_offline()
    await defer_snapshots(hass, front_door, 2)
    unloading: list[asyncio.Task[bool]] = []

    def stop_at_the_first_upload(request: RecordedRequest) -> None:
        if request.endpoint == UPLOAD and not unloading:
            unloading.append(hass.async_create_task(hass.config_entries.async_unload(loaded_entry.entry_id)))

    simulator.on_request = stop_at_the_first_upload
    await simulator.go_online()
    await later(hass, freezer, 30)
    assert await unloading[0]
    simulator.on_request = None
    await hass.async_block_till_done()
    assert texts(simulator) == ["alarm 0"]
    assert len(simulator.requests_to(UPLOAD)) == 1  # the second's picture waits for the start

    assert await hass.config_entries.async_setup(loaded_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    await later(hass, freezer, 30)
    assert texts(simulator) == ["alarm 0", "alarm 1"]
    assert len(simulator.requests_to(UPLOAD)) == 2
    assert len(simulator.processed_sends) == 2
    no_stray_errors(caplog)


async def test_mms_sharing_a_picture_whose_file_was_deleted_upload_it_once_more_and_go_once(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Three alarms with the same picture, whose id (known from an earlier send) is gone (1004).

    The first is refused for it and tried again; none of them goes out with the gone id, and the
    picture is uploaded once again, for all three.
    """
    earlier = await send(hass, message="earlier", camera="camera.front_door")
    (old_file,) = earlier["files"]
    await simulator.go_offline()
    for i in range(3):
        await send(hass, message=f"alarm {i}", camera="camera.front_door")
    del simulator.files[old_file["id"]]
    await simulator.go_online()
    await later(hass, freezer, 30)
    await later(hass, freezer, 30)

    assert texts(simulator) == ["earlier", "alarm 0", "alarm 1", "alarm 2"]
    ids = {tuple(m.file_ids) for m in simulator.messages[1:]}
    assert len(ids) == 1
    (new_id,) = ids.pop()
    assert new_id != old_file["id"]
    assert new_id in simulator.files
    assert len(simulator.requests_to(UPLOAD)) == 2
    assert len(simulator.processed_sends) == 4
    assert hass.states.get(OUTBOX).state == "0"
    no_stray_errors(caplog)


async def test_a_scheduled_mms_from_the_outbox_keeps_its_picture_past_the_clean_up(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
) -> None:
    """The second MMS is for three hours from now; the drain hands it to the gateway with the first.

    With uploads kept one day, the next day's clean-up deletes the first picture, not the
    scheduled one's: that counts as used at its scheduled time.
    """
    hass.config_entries.async_update_entry(loaded_entry, options={"keep_uploads_days": 1})
    await hass.async_block_till_done()
    evening = dt_util.now() + timedelta(hours=3)
    await simulator.go_offline()
    await defer_snapshots(hass, front_door, 1)
    front_door.image = make_jpeg(320, 240)
    await send(hass, message="evening", camera="camera.front_door", date=evening.isoformat())
    await simulator.go_online()
    await later(hass, freezer, 30)
    assert texts(simulator) == ["alarm 0", "evening"]
    first, scheduled = (m.file_ids[0] for m in simulator.messages)
    assert simulator.messages[1].scheduled is not None

    await later(hass, freezer, 25 * 3600)
    assert first not in simulator.files
    assert scheduled in simulator.files
    await later(hass, freezer, 24 * 3600)
    assert scheduled not in simulator.files


TRANSIENT = {
    "401": Fault("status", status=401),
    "429": Fault("status", status=429, retry_after=60),
    "503": Fault("status", status=503),
    "reset": Fault("reset"),
}


@pytest.mark.parametrize("fault", list(TRANSIENT))
async def test_an_upload_that_fails_for_now_delays_its_mms_but_sends_it_once_in_order(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    caplog: pytest.LogCaptureFixture,
    fault: str,
) -> None:
    """The second MMS's picture fails to go up (every try of the client) once the first is sent."""
    sent = async_capture_events(hass, "serwersms_mms_sent")
    await simulator.go_offline()
    await send(hass, message="first")
    await defer_snapshots(hass, front_door, 2, first=1)
    on_disk = pictures_on_disk(hass, loaded_entry)
    await simulator.go_online()
    # Every try of the client: one for what it does not repeat (401, 429 for a minute), else three.
    simulator.fail_next(UPLOAD, TRANSIENT[fault], times=1 if fault in ("401", "429") else 3)
    await later(hass, freezer, 30)
    assert texts(simulator) == ["first"]
    assert hass.states.get(OUTBOX).state == "2"

    await later(hass, freezer, 30)
    assert texts(simulator) == ["first", "alarm 1", "alarm 2"]
    assert sent_pictures(simulator, "alarm 1") == on_disk["alarm 1"]
    assert sent_pictures(simulator, "alarm 2") == on_disk["alarm 2"]
    assert [(e.data["queued"], e.data["deferred"]) for e in sent] == [(1, True)] * 3
    assert len(simulator.processed_sends) == 3
    assert hass.states.get(OUTBOX).state == "0"
    await later(hass, freezer, 60)
    assert len(simulator.requests_to(SEND)) == 3
    no_stray_errors(caplog)


@pytest.mark.parametrize("code", [1004, 3004, 3005])
async def test_an_upload_refused_reports_that_mms_unsent_and_the_next_goes(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    caplog: pytest.LogCaptureFixture,
    code: int,
) -> None:
    sent = async_capture_events(hass, "serwersms_mms_sent")
    await simulator.go_offline()
    await send(hass, message="first")
    await defer_snapshots(hass, front_door, 2, first=1)
    on_disk = pictures_on_disk(hass, loaded_entry)
    await simulator.go_online()
    simulator.fail_next(UPLOAD, Fault("error", code=code))
    await later(hass, freezer, 30)

    assert texts(simulator) == ["first", "alarm 2"]
    assert sent_pictures(simulator, "alarm 2") == on_disk["alarm 2"]
    assert [(e.data["queued"], e.data["unsent"]) for e in sent] == [(1, 0), (0, 1), (1, 0)]
    assert sent[1].data["recipients"][0]["error_code"] == code
    assert hass.states.get(OUTBOX).state == "0"
    await later(hass, freezer, 60)
    assert len(simulator.requests_to(SEND)) == 2
    no_stray_errors(caplog)


async def test_a_direct_send_of_the_same_picture_during_the_drain_shares_its_upload(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A new alarm with the very snapshot the next deferred MMS carries, while the first is sent."""
    await simulator.go_offline()
    await send(hass, message="a")
    await send(hass, message="b", camera="camera.front_door")
    await simulator.go_online()
    direct: list[asyncio.Task[dict[str, Any]]] = []

    def new_alarm(request: RecordedRequest) -> None:
        if request.endpoint == SEND and not direct:
            direct.append(hass.async_create_task(send(hass, FAMILY, message="d", camera="camera.front_door")))

    simulator.on_request = new_alarm
    await later(hass, freezer, 30)
    response = await direct[0]
    simulator.on_request = None
    await hass.async_block_till_done(wait_background_tasks=True)

    assert response["queued"] == 2
    assert [t for t in texts(simulator) if t != "d"] == ["a", "b"]
    assert texts(simulator).count("d") == 2
    by_text = {m.text: m for m in simulator.messages}
    assert by_text["b"].file_ids == by_text["d"].file_ids
    assert len(simulator.requests_to(UPLOAD)) == 1  # one picture, uploaded once for both
    assert len(simulator.processed_sends) == 3
    assert hass.states.get(OUTBOX).state == "0"
    no_stray_errors(caplog)


async def test_the_outbox_switched_off_mid_drain_still_sends_what_waits_once(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
) -> None:
    await simulator.go_offline()
    await defer_snapshots(hass, front_door, 3)
    await simulator.go_online()

    def switch_off(request: RecordedRequest) -> None:
        if request.endpoint == SEND and loaded_entry.options.get("outbox_minutes") != 0:
            hass.config_entries.async_update_entry(loaded_entry, options={"outbox_minutes": 0})

    simulator.on_request = switch_off
    await later(hass, freezer, 30)
    simulator.on_request = None
    assert texts(simulator) == ["alarm 0", "alarm 1", "alarm 2"]
    assert len(simulator.processed_sends) == 3
    assert hass.states.get(OUTBOX).state == "0"


async def test_two_dozen_mms_for_both_recipients_go_once_each_in_order_with_their_own_pictures(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """24 MMS: Mom and the family in turn, some text only, some repeating the snapshot before."""
    sent = async_capture_events(hass, "serwersms_mms_sent")
    await simulator.go_offline()
    expected: list[str] = []
    for i in range(24):
        target = MOM if i % 2 == 0 else FAMILY
        if i % 3 == 2:
            await send(hass, target, message=f"mms {i}")
        else:
            if i % 4 != 1:  # every fourth from the second repeats the snapshot before it
                front_door.image = make_jpeg(640 - 8 * i, 480)
            await send(hass, target, message=f"mms {i}", camera="camera.front_door")
        expected += [f"mms {i}"] * (1 if target == MOM else 2)
    on_disk = pictures_on_disk(hass, loaded_entry)
    assert hass.states.get(OUTBOX).state == "24"
    await simulator.go_online()
    await later(hass, freezer, 30)

    assert texts(simulator) == expected
    for i in range(24):
        assert sent_pictures(simulator, f"mms {i}") == on_disk[f"mms {i}"]
    assert len(simulator.processed_sends) == 24
    assert [e.data["queued"] for e in sent] == [1 if i % 2 == 0 else 2 for i in range(24)]
    assert all(e.data["deferred"] for e in sent)
    distinct = {p for pictures in on_disk.values() for p in pictures}
    assert len(simulator.requests_to(UPLOAD)) == len(distinct)
    assert hass.states.get(OUTBOX).state == "0"
    assert list(outbox_dir(hass, loaded_entry.entry_id).iterdir()) == []
    await later(hass, freezer, 60)
    assert len(simulator.requests_to(SEND)) == 24
    no_stray_errors(caplog)


async def test_a_clean_up_during_the_drain_never_leaves_an_mms_without_its_picture(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The day's clean-up runs as the drain starts, and deletes the picture the next MMS reuses.

    It is the oldest of three due files (deleted one by one, the ids forgotten at the end): the
    second MMS may reuse its id in between. Whatever comes first, the MMS goes out once, with a file
    the gateway still has.
    """
    static = front_door.image
    for i in range(3):
        front_door.image = static if i == 0 else make_jpeg(300 + 10 * i, 200)
        await send(hass, message=f"earlier {i}", camera="camera.front_door")
    old_content = simulator.files[simulator.messages[0].file_ids[0]].content
    await later(hass, freezer, 2 * 86400)  # kept 30 days: nothing is deleted yet
    assert len(simulator.files) == 3
    await simulator.go_offline()
    front_door.image = make_jpeg(320, 240)
    await send(hass, message="first", camera="camera.front_door")
    front_door.image = static
    await send(hass, message="second", camera="camera.front_door")  # the picture sent two days ago
    hass.config_entries.async_update_entry(loaded_entry, options={"keep_uploads_days": 1})
    await hass.async_block_till_done(
        wait_background_tasks=True
    )  # the start's own requests end before time moves
    await simulator.go_online()
    cleanup = hass.async_create_task(loaded_entry.runtime_data.housekeeping._run())
    await later(hass, freezer, 30)
    await cleanup
    await later(hass, freezer, 30)

    assert texts(simulator) == ["earlier 0", "earlier 1", "earlier 2", "first", "second"]
    second = next(m for m in simulator.messages if m.text == "second")
    assert [simulator.files[f].content for f in second.file_ids] == [old_content]
    assert len(simulator.processed_sends) == 5
    # The two pictures no MMS needs are gone; the one the second reused is not, or was uploaded anew.
    for message in simulator.messages[1:3]:
        assert message.file_ids[0] not in simulator.files
    assert hass.states.get(OUTBOX).state == "0"
    no_stray_errors(caplog)


async def test_a_restart_while_a_picture_goes_up_leaves_no_file_the_clean_up_never_deletes(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Home Assistant stops while the first MMS's picture is at the gateway (answered once the outbox stops).

    The MMS still goes before the account stops, the next one after the start, each picture uploaded
    once and on the clean-up's list: with uploads kept one day, nothing the integration uploaded is
    left on the gateway days later.
    """
    hass.config_entries.async_update_entry(loaded_entry, options={"keep_uploads_days": 1})
    await hass.async_block_till_done()
    await simulator.go_offline()
    await defer_snapshots(hass, front_door, 2)
    outbox = loaded_entry.runtime_data.outbox
    outbox_stopping = asyncio.Event()
    stop_outbox = outbox.async_stop

    async def outbox_stops() -> None:
        outbox_stopping.set()
        await stop_outbox()

    unloading: list[asyncio.Task[bool]] = []
    answer_upload = simulator._files_add

    async def first_upload_answered_once_the_outbox_stops(*args: Any) -> dict[str, Any]:
        if not unloading:
            unloading.append(hass.async_create_task(hass.config_entries.async_unload(loaded_entry.entry_id)))
            await outbox_stopping.wait()
        return await answer_upload(*args)

    monkeypatch.setattr(outbox, "async_stop", outbox_stops)
    monkeypatch.setattr(simulator, "_files_add", first_upload_answered_once_the_outbox_stops)
    await simulator.go_online()
    await later(hass, freezer, 30)
    assert await unloading[0]
    await hass.async_block_till_done()
    assert texts(simulator) == ["alarm 0"]

    assert await hass.config_entries.async_setup(loaded_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    await later(hass, freezer, 30)
    assert texts(simulator) == ["alarm 0", "alarm 1"]
    assert len(simulator.requests_to(UPLOAD)) == 2  # each picture went up once
    for _ in range(3):
        await later(hass, freezer, 86400)
    assert simulator.files == {}


# --- the gateway gone again, a restart, a picture that cannot be read back --------------------------


async def test_the_gateway_gone_again_after_a_send_keeps_the_rest_waiting_and_sends_each_once(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The port closes right after the first send's reply, before the second's picture goes up."""
    await simulator.go_offline()
    await defer_snapshots(hass, front_door, 3)
    await simulator.go_online()
    simulator.sends_until_outage = 1
    await later(hass, freezer, 30)
    assert texts(simulator) == ["alarm 0"]
    assert hass.states.get(OUTBOX).state == "2"

    await simulator.go_online()
    await later(hass, freezer, 30)
    assert texts(simulator) == ["alarm 0", "alarm 1", "alarm 2"]
    assert len(simulator.processed_sends) == 3
    assert hass.states.get(OUTBOX).state == "0"
    no_stray_errors(caplog)


async def test_a_restart_while_the_drain_sends_finishes_that_mms_and_sends_the_next_after_the_start(
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
    unloading: list[asyncio.Task[bool]] = []

    def stop_during_first_send(request: RecordedRequest) -> None:
        if request.endpoint == SEND and not unloading:
            unloading.append(hass.async_create_task(hass.config_entries.async_unload(loaded_entry.entry_id)))

    simulator.on_request = stop_during_first_send
    await simulator.go_online()
    await later(hass, freezer, 30)
    simulator.on_request = None
    assert await unloading[0]
    assert texts(simulator) == ["alarm 0"]

    assert await hass.config_entries.async_setup(loaded_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    await later(hass, freezer, 30)
    assert texts(simulator) == ["alarm 0", "alarm 1"]
    assert [e.data["recipients"][0]["status"] for e in sent] == ["queued", "queued"]
    assert len(simulator.messages[1].file_ids) == 1
    no_stray_errors(caplog)


async def test_an_mms_whose_pictures_cannot_be_read_back_is_logged_and_the_next_goes(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """It is given up with a line in the log, nothing of it is uploaded, and no error is left unretrieved."""
    await simulator.go_offline()
    await defer_snapshots(hass, front_door, 2)
    first, _second = sorted(outbox_dir(hass, loaded_entry.entry_id).iterdir())
    first.write_bytes(first.read_bytes()[:200])  # damaged on disk while it waited
    await simulator.go_online()
    await later(hass, freezer, 30)
    assert texts(simulator) == ["alarm 1"]
    assert len(simulator.requests_to(UPLOAD)) == 1
    assert "could not be read back" in caplog.text
    no_stray_errors(caplog)
