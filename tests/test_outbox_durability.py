"""The outbox's promises under disk, power and gateway trouble: what a user notices, case by case.

A disk that refuses a write, a power cut between two writes, a file written by another release, a
gateway that answers oddly: each MMS still goes out at most once, and every one is accounted for by an
event. Real simulator over loopback; time moves with the freezer only.
"""

from __future__ import annotations

import asyncio
import base64
import errno
import hashlib
import io
import json
import logging
from pathlib import Path
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
    async_capture_events,
    setup_test_component_platform,
)

from custom_components.serwersms import outbox_disk
from custom_components.serwersms.mms.deferred import DeferredMms, DeferredPicture
from custom_components.serwersms.outbox import outbox_dir
from serwersms_simulator import Fault, SerwerSmsSimulator
from tests.conftest import SnapshotCamera, make_jpeg
from tests.helpers import client_without_pauses, later, outbox_files, send

MOM = "notify.mom_mms"
FAMILY = "notify.family_mms"
MOM_PHONE = "+48500600700"
FAMILY_PHONES = ["+48500600701", "+48500600702"]
OUTBOX = "sensor.serwersms_outbox"
SEND = "messages/send_mms"
SENT = "serwersms_mms_sent"
DELIVERY = "serwersms_mms_delivery"


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client's quick retries without their pauses, one batch at a time (a fixed order)."""
    client_without_pauses(monkeypatch, max_parallel_batches=1)


async def legacy_notify(hass: HomeAssistant, **data: Any) -> None:
    await hass.services.async_call("notify", "serwersms", data, blocking=True)


def noisy_jpeg(width: int, height: int, seed: int) -> bytes:
    """A photo-like JPEG that does not compress well (about 0.65 bytes a pixel at these sizes)."""
    import numpy as np  # noqa: PLC0415

    pixels = np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=80)
    return out.getvalue()


def sent_bytes(simulator: SerwerSmsSimulator, request_index: int = -1) -> int:
    """Files and text of one send request, as the gateway holds them."""
    fields = simulator.requests_to(SEND)[request_index].fields
    files = sum(simulator.files[file_id].size for file_id in fields.get("file_id", []))
    return files + len(str(fields.get("text") or "").encode())


def picture(content: bytes, name: str = "snapshot.jpg") -> DeferredPicture:
    return DeferredPicture(content, name, "image/jpeg", hashlib.sha256(content).hexdigest())


def waiting_mms(seq: int, phones: list[str], text: str, budget_s: float = 900.0) -> DeferredMms:
    now = dt_util.utcnow().timestamp()
    return DeferredMms(
        seq=seq,
        created=now,
        expires=now + budget_s,
        phones=phones,
        title="Alarm",
        text=text,
        file_ids=[],
        date=None,
        budget_s=budget_s,
    )


def waiting(hass: HomeAssistant) -> str:
    """The Outbox sensor: how many MMS wait."""
    state = hass.states.get(OUTBOX)
    assert state is not None
    return state.state


async def set_up(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)


# --- 1. the `.sending` mark cannot be written ---------------------------------------------------


async def test_an_mms_that_cannot_be_marked_sending_is_not_sent_and_the_next_still_goes(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A read-only file system at the drain: sending without the mark could send it twice later."""
    delivery = async_capture_events(hass, DELIVERY)
    await simulator.go_offline()
    await send(hass, FAMILY, message="first", title="First")
    await send(hass, MOM, message="second", title="Second")
    real_mark = outbox_disk.mark_sending
    marks: list[int] = []

    def read_only_once(folder: Path, seq: int) -> None:
        marks.append(seq)
        if len(marks) == 1:
            raise OSError(errno.EROFS, "Read-only file system")
        real_mark(folder, seq)

    monkeypatch.setattr(outbox_disk, "mark_sending", read_only_once)
    await simulator.go_online()
    await later(hass, freezer, 30)

    # Not a single request for the first: only the second reached the gateway.
    assert [r.fields["text"] for r in simulator.requests_to(SEND)] == ["second"]
    assert [m.text for m in simulator.messages] == ["second"]
    assert [(e.data["phone"], e.data["status"], e.data["reason"], e.data["title"]) for e in delivery] == [
        (phone, "not_sent", "outbox_unwritable", "First") for phone in FAMILY_PHONES
    ]
    assert waiting(hass) == "0"
    await later(hass, freezer, 60)
    assert len(simulator.requests_to(SEND)) == 1


# --- 2. a full disk while the numbers left are written back -------------------------------------


async def test_numbers_left_on_a_full_disk_go_out_from_memory_once_and_the_drain_lives_on(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    phones = [f"+48501{i:06d}" for i in range(150)]
    sent = async_capture_events(hass, SENT)
    await simulator.go_offline()
    await legacy_notify(hass, message="fire", target=phones, data={"camera": ["camera.front_door"]})
    assert waiting(hass) == "1"

    def disk_full(*_args: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(outbox_disk, "keep_for_later", disk_full)
    simulator.sends_until_outage = 1
    await simulator.go_online()
    await later(hass, freezer, 30)
    assert [m.phone for m in simulator.messages] == phones[:100]
    assert waiting(hass) == "1"
    assert "could not be written back" in caplog.text

    await simulator.go_online()
    await later(hass, freezer, 30)
    assert [m.phone for m in simulator.messages] == phones  # each exactly once, in order
    assert len(simulator.processed_sends) == 2
    assert [(e.data["queued"], e.data["unsent"], e.data["deferred"]) for e in sent] == [
        (100, 0, True),
        (50, 0, True),
    ]
    # The picture went with the rest, too.
    assert simulator.messages[100].file_ids == simulator.messages[0].file_ids
    assert waiting(hass) == "0"

    # The drain did not die with the write: a later deferred MMS still goes out.
    await simulator.go_offline()
    await send(hass, message="later")
    await simulator.go_online()
    await later(hass, freezer, 30)
    assert [m.text for m in simulator.messages[150:]] == ["later"]
    await later(hass, freezer, 60)
    assert len(simulator.processed_sends) == 3
    assert outbox_files(hass, loaded_entry) == []


async def test_a_write_back_that_failed_after_its_file_was_written_never_sends_twice(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The numbers left were written, then the file system failed (read-only) before the mark went.

    The rest goes out from memory; a power cut while it is at the gateway must leave it `unknown`,
    not waiting to be sent again.
    """
    phones = [f"+48501{i:06d}" for i in range(150)]
    sent = async_capture_events(hass, SENT)
    await simulator.go_offline()
    await legacy_notify(hass, message="fire", target=phones)

    def read_only_after_the_write(folder: Path, mms: DeferredMms, pictures: list[DeferredPicture]) -> None:
        waiting = outbox_disk.path_of(folder, mms.seq, ".json")
        waiting.write_bytes(outbox_disk.encode(mms, pictures))
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(outbox_disk, "keep_for_later", read_only_after_the_write)
    simulator.sends_until_outage = 1
    await simulator.go_online()
    await later(hass, freezer, 30)
    assert [m.phone for m in simulator.messages] == phones[:100]

    on_disk: dict[str, bytes] = {}

    def power_cut(request: Any) -> None:
        if request.endpoint == SEND:
            on_disk.update({path.name: path.read_bytes() for path in outbox_files(hass, loaded_entry)})

    simulator.on_request = power_cut
    await simulator.go_online()
    await later(hass, freezer, 30)
    simulator.on_request = None
    assert [m.phone for m in simulator.messages] == phones

    # Home Assistant starts again from what the power cut left: the 50 are not sent again.
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    folder = outbox_dir(hass, loaded_entry.entry_id)
    for name, data in on_disk.items():
        (folder / name).write_bytes(data)
    assert await hass.config_entries.async_setup(loaded_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    await later(hass, freezer, 30)
    assert [m.phone for m in simulator.messages] == phones
    assert len(simulator.processed_sends) == 2
    assert [e.data["queued"] for e in sent[:2]] == [100, 50]
    assert all(r["status"] == "unknown" for e in sent[2:] for r in e.data["recipients"])
    assert waiting(hass) == "0"


# --- 3. a power cut after the write-back, before the mark went ---------------------------------


async def test_a_stale_sending_mark_beside_the_numbers_left_sends_only_those(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    config_entry: MockConfigEntry,
) -> None:
    """The first number was announced before the power went; only the second still waits."""
    folder = outbox_dir(hass, config_entry.entry_id)
    folder.mkdir(parents=True)
    everyone = waiting_mms(7, list(FAMILY_PHONES), "fire")
    left = waiting_mms(7, FAMILY_PHONES[1:], "fire")
    outbox_disk.path_of(folder, 7, ".sending").write_bytes(outbox_disk.encode(everyone, []))
    outbox_disk.path_of(folder, 7, ".json").write_bytes(outbox_disk.encode(left, []))
    sent = async_capture_events(hass, SENT)
    delivery = async_capture_events(hass, DELIVERY)

    await set_up(hass, config_entry)
    await later(hass, freezer, 30)

    assert [(m.phone, m.text) for m in simulator.messages] == [(FAMILY_PHONES[1], "fire")]
    assert [r["status"] for e in sent for r in e.data["recipients"]] == ["queued"]
    assert [e.data["recipients"][0]["phone"] for e in sent] == [FAMILY_PHONES[1]]
    assert all(e.data["status"] != "not_sent" for e in delivery)
    assert waiting(hass) == "0"
    assert outbox_files(hass, config_entry) == []
    await later(hass, freezer, 60)
    assert len(simulator.processed_sends) == 1


async def test_a_sending_mark_beside_a_damaged_file_is_reported_unknown_not_lost(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    config_entry: MockConfigEntry,
) -> None:
    """The `.json` written back cannot be read: the mark's numbers may have gone; never silence."""
    folder = outbox_dir(hass, config_entry.entry_id)
    folder.mkdir(parents=True)
    everyone = waiting_mms(7, list(FAMILY_PHONES), "fire")
    outbox_disk.path_of(folder, 7, ".sending").write_bytes(outbox_disk.encode(everyone, []))
    outbox_disk.path_of(folder, 7, ".json").write_bytes(b'{"version": 2, "seq": ')
    sent = async_capture_events(hass, SENT)

    await set_up(hass, config_entry)
    await later(hass, freezer, 30)

    assert simulator.messages == []
    assert [(r["phone"], r["status"]) for e in sent for r in e.data["recipients"]] == [
        (phone, "unknown") for phone in FAMILY_PHONES
    ]


# --- 4. a given file whose size was not counted at the call ------------------------------------


async def test_a_deferred_picture_is_fitted_again_around_a_given_file_counted_at_the_drain(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
) -> None:
    """The gateway was down at the call, so the picture took the whole 300 KB; the given file is 200."""
    client = loaded_entry.runtime_data.client
    given = await client.upload_file(noisy_jpeg(640, 480, 3), filename="plan.jpg", content_type="image/jpeg")
    assert 180 * 1024 < simulator.files[given].size < 220 * 1024
    front_door.image = noisy_jpeg(1280, 960, 4)
    await simulator.go_offline()
    response = await send(hass, message="look", camera="camera.front_door", file_id=[given])
    assert response["deferred"] == 1
    ((_mms, (kept,)),) = [outbox_disk.decode(p.read_bytes()) for p in outbox_files(hass, loaded_entry)]
    assert len(kept.content) > 250 * 1024  # fitted without the given file in the budget

    await simulator.go_online()
    await later(hass, freezer, 30)
    (request,) = simulator.requests_to(SEND)
    assert given in request.fields["file_id"]
    assert len(request.fields["file_id"]) == 2
    assert sent_bytes(simulator) <= 300 * 1024
    assert [m.text for m in simulator.messages] == ["look"]

    # The same straight to the gateway fits too.
    await send(hass, message="look", camera="camera.front_door", file_id=[given])
    assert len(simulator.requests_to(SEND)) == 2
    assert sent_bytes(simulator) <= 300 * 1024


async def test_given_files_and_text_found_over_the_budget_at_the_drain_are_not_sent(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    """No picture to shrink: two given files of ~180 KB each cannot go out within 300 KB."""
    client = loaded_entry.runtime_data.client
    given = [
        await client.upload_file(noisy_jpeg(600, 450, seed), filename="plan.jpg", content_type="image/jpeg")
        for seed in (5, 6)
    ]
    assert sum(simulator.files[file_id].size for file_id in given) > 300 * 1024
    sent = async_capture_events(hass, SENT)
    await simulator.go_offline()
    assert (await send(hass, message="plans", file_id=given))["deferred"] == 1

    await simulator.go_online()
    await later(hass, freezer, 30)
    assert simulator.requests_to(SEND) == []
    (event,) = sent
    assert event.data["deferred"] is True
    assert [(r["phone"], r["status"]) for r in event.data["recipients"]] == [(MOM_PHONE, "unsent")]
    assert waiting(hass) == "0"
    assert outbox_files(hass, loaded_entry) == []

    # Straight to the gateway the same is refused before anything is sent.
    with pytest.raises(ServiceValidationError) as err:
        await send(hass, message="plans", file_id=given)
    assert err.value.translation_key == "mms_too_large"
    assert simulator.requests_to(SEND) == []


# --- 6. uploads of cancelled sends are cleaned up -------------------------------------------------


async def test_the_upload_of_a_cancelled_send_is_deleted_keep_uploads_days_later(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An automation reloaded while its picture goes up: the file lands on the gateway all the same."""
    hass.config_entries.async_update_entry(loaded_entry, options={"keep_uploads_days": 1})
    await hass.async_block_till_done()
    arrived, release = asyncio.Event(), asyncio.Event()
    real_add = simulator._files_add

    async def held_add(*args: Any) -> Any:
        arrived.set()
        await release.wait()
        return await real_add(*args)

    monkeypatch.setattr(simulator, "_files_add", held_add)
    call = hass.async_create_task(send(hass, message="alarm", camera="camera.front_door"))
    await asyncio.wait_for(arrived.wait(), 30)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    release.set()
    await hass.async_block_till_done(wait_background_tasks=True)

    (file_id,) = simulator.files
    assert simulator.requests_to(SEND) == []
    housekeeping = loaded_entry.runtime_data.housekeeping
    assert len(housekeeping) == 1
    await later(hass, freezer, 10)  # the ledger is written a few seconds later
    assert list(hass_storage[f"serwersms.{loaded_entry.entry_id}.uploads"]["data"]["uploads"]) == [file_id]

    await later(hass, freezer, 86_400)
    assert [r.fields["id"] for r in simulator.requests_to("files/delete")] == [file_id]
    assert simulator.files == {}
    assert len(housekeeping) == 0


# --- 7. files of another release ------------------------------------------------------------------


async def test_a_file_of_an_unknown_version_is_set_aside_and_a_version_1_file_is_sent(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    config_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A downgrade left a version-99 file; the previous release left a version-1 file."""
    caplog.set_level(logging.ERROR)
    folder = outbox_dir(hass, config_entry.entry_id)
    folder.mkdir(parents=True)
    now = dt_util.utcnow().timestamp()
    snapshot = make_jpeg(320, 240)
    old = {  # as the previous release's `_encode` wrote it: no `budget_s`, no `given_counted`
        "version": 1,
        "seq": 3,
        "created": now - 60,
        "expires": now + 840,
        "phones": [MOM_PHONE],
        "title": "Old",
        "text": "from 1.x",
        "file_ids": [],
        "date": None,
        "recipient_ids": [],
        "pictures": [
            {
                "filename": "snapshot.jpg",
                "content_type": "image/jpeg",
                "digest": hashlib.sha256(snapshot).hexdigest(),
                "content": base64.b64encode(snapshot).decode(),
            }
        ],
    }
    newer = json.loads(outbox_disk.encode(waiting_mms(4, [MOM_PHONE], "from the future"), []))
    newer["version"] = 99
    outbox_disk.path_of(folder, 3, ".json").write_text(json.dumps(old))
    outbox_disk.path_of(folder, 4, ".json").write_text(json.dumps(newer))
    sent = async_capture_events(hass, SENT)
    await simulator.go_offline()

    await set_up(hass, config_entry)
    assert waiting(hass) == "1"
    assert "format version 99 is not known" in caplog.text
    await simulator.go_online()
    await later(hass, freezer, 10)  # the return is noticed within 10 s

    assert [(m.phone, m.title, m.text) for m in simulator.messages] == [(MOM_PHONE, "Old", "from 1.x")]
    (stored,) = simulator.files.values()
    assert stored.content == snapshot
    assert [e.data["recipients"][0]["status"] for e in sent] == ["queued"]
    assert [p.name for p in outbox_files(hass, config_entry)] == [f"{4:012d}.broken"]
    for _ in range(4):
        await later(hass, freezer, 30)
    assert len(simulator.requests_to(SEND)) == 1


# --- 8. renames are durable -----------------------------------------------------------------------


async def test_the_folder_is_synced_when_an_mms_is_kept_and_before_its_send_leaves(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = outbox_dir(hass, loaded_entry.entry_id)
    real_sync = outbox_disk._fsync_dir
    # Each sync of the outbox folder: what the folder held, and how many sends the gateway had seen.
    syncs: list[tuple[set[str], int]] = []

    def recording_sync(path: Path) -> None:
        real_sync(path)
        if path == folder:
            syncs.append(({p.name for p in path.iterdir()}, len(simulator.requests_to(SEND))))

    monkeypatch.setattr(outbox_disk, "_fsync_dir", recording_sync)
    await simulator.go_offline()
    await send(hass, message="alarm")
    kept, sending = f"{1:012d}.json", f"{1:012d}.sending"
    # Before the call returned, the folder was synced with the file in place.
    assert any(kept in names for names, _ in syncs)

    await simulator.go_online()
    await later(hass, freezer, 30)
    assert [m.text for m in simulator.messages] == ["alarm"]
    # The mark was made durable before the send request reached the gateway.
    assert any(names == {sending} and sends == 0 for names, sends in syncs)


# --- 9. many different snapshots at once ----------------------------------------------------------


async def test_twenty_concurrent_snapshots_go_out_in_call_order_each_with_its_own_picture(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    cameras: list[Camera] = [
        SnapshotCamera(f"Cam {i}", make_jpeg(1600 - 50 * i, 1200 - 36 * i)) for i in range(20)
    ]
    setup_test_component_platform(hass, "camera", cameras)
    assert await async_setup_component(hass, "camera", {"camera": {"platform": "test"}})
    await hass.async_block_till_done()
    await simulator.go_offline()
    responses = await asyncio.gather(
        *(send(hass, message=f"alarm {i}", camera=f"camera.cam_{i}") for i in range(20))
    )
    assert [r.get("deferred") for r in responses] == [1] * 20
    stored = {}
    for path in outbox_files(hass, loaded_entry):
        mms, (kept,) = outbox_disk.decode(path.read_bytes())
        stored[mms.text] = kept.content
    assert len(set(stored.values())) == 20

    await simulator.go_online()
    await later(hass, freezer, 30)
    assert [m.text for m in simulator.messages] == [f"alarm {i}" for i in range(20)]
    assert len(simulator.processed_sends) == 20
    for message in simulator.messages:
        (file_id,) = message.file_ids
        assert simulator.files[file_id].content == stored[message.text]
    assert waiting(hass) == "0"
    await later(hass, freezer, 60)
    assert len(simulator.processed_sends) == 20


# --- 10. odd replies during the drain -------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [Fault("reply", body={"success": True}), Fault("html", status=200)],
    ids=["success-without-items", "html-with-200"],
)
async def test_an_odd_reply_to_a_deferred_send_is_unknown_and_never_sent_again(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    fault: Fault,
) -> None:
    sent = async_capture_events(hass, SENT)
    await simulator.go_offline()
    await send(hass, message="alarm")
    await send(hass, FAMILY, message="next")
    await simulator.go_online()
    simulator.fail_next(SEND, fault)
    await later(hass, freezer, 30)

    first, second = sent
    assert first.data["deferred"] is True
    assert [(r["phone"], r["status"]) for r in first.data["recipients"]] == [(MOM_PHONE, "unknown")]
    assert (second.data["queued"], second.data["deferred"]) == (2, True)
    assert waiting(hass) == "0"
    assert outbox_files(hass, loaded_entry) == []
    for _ in range(4):
        await later(hass, freezer, 30)
    assert [r.fields["text"] for r in simulator.requests_to(SEND)] == ["alarm", "next"]
    assert len(sent) == 2


async def test_numbers_held_in_memory_are_written_down_at_a_normal_stop(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The disk was full at the write-back, then had room: a reload keeps the 50 waiting, not `unknown`."""
    phones = [f"+48501{i:06d}" for i in range(150)]
    sent = async_capture_events(hass, SENT)
    await simulator.go_offline()
    await legacy_notify(hass, message="fire", target=phones)
    real_keep = outbox_disk.keep_for_later
    full = [True]

    def disk_full_once(*args: Any) -> None:
        if full.pop(0) if full else False:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_keep(*args)

    monkeypatch.setattr(outbox_disk, "keep_for_later", disk_full_once)
    simulator.sends_until_outage = 1
    await simulator.go_online()
    await later(hass, freezer, 30)
    assert [m.phone for m in simulator.messages] == phones[:100]

    assert await hass.config_entries.async_reload(loaded_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert [r["status"] for e in sent for r in e.data["recipients"]].count("unknown") == 0
    await simulator.go_online()
    await later(hass, freezer, 30)
    assert [m.phone for m in simulator.messages] == phones
