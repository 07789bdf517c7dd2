"""Gateway storage clean-up: what it must never delete, and its bounded ledger, kept list and file table."""

from __future__ import annotations

import asyncio
from datetime import timedelta
import hashlib
import io
from typing import Any

import aiohttp
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
from PIL import Image
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.serwersms import housekeeping
from custom_components.serwersms.mms import uploads
from serwersms_simulator import Fault, SerwerSmsSimulator
from tests.conftest import SnapshotCamera
from tests.helpers import client_without_pauses, send

MOM = "notify.mom_mms"
DELETE = "files/delete"


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client's own quick retries without their pauses (time moves with the freezer)."""
    client_without_pauses(monkeypatch)


def picture(seed: int) -> bytes:
    """A small JPEG unique to `seed`."""
    out = io.BytesIO()
    Image.frombytes("RGB", (16, 12), hashlib.shake_256(str(seed).encode()).digest(16 * 12 * 3)).save(
        out, "JPEG"
    )
    return out.getvalue()


async def send_picture(hass: HomeAssistant, camera: SnapshotCamera, seed: int, **data: Any) -> dict[str, Any]:
    """Send `picture(seed)` from camera.front_door; the response's file."""
    camera.image = picture(seed)
    response = await send(hass, camera="camera.front_door", **data)
    file: dict[str, Any] = response["files"][0]
    return file


async def upload_file(hass: HomeAssistant) -> str:
    response = await hass.services.async_call(
        "serwersms", "upload_file", {"camera": "camera.front_door"}, blocking=True, return_response=True
    )
    assert response is not None
    return str(response["id"])


async def days_later(hass: HomeAssistant, freezer: FrozenDateTimeFactory, days: float) -> None:
    freezer.tick(timedelta(days=days))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


async def set_options(hass: HomeAssistant, entry: MockConfigEntry, **options: Any) -> None:
    hass.config_entries.async_update_entry(entry, options={**entry.options, **options})
    await hass.async_block_till_done()


async def test_keep_uploads_days_zero_keeps_everything(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
) -> None:
    await set_options(hass, loaded_entry, keep_uploads_days=0)
    file = await send_picture(hass, front_door, 1)
    await days_later(hass, freezer, 400)
    assert file["id"] in simulator.files
    assert simulator.requests_to(DELETE) == []


async def test_the_users_upload_is_kept_even_when_a_send_reuses_its_bytes(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
) -> None:
    front_door.image = picture(1)
    given = await upload_file(hass)
    reused = await send(hass, camera="camera.front_door")
    assert reused["files"][0] == reused["files"][0] | {"id": given, "uploaded": False}
    await days_later(hass, freezer, 31)
    await days_later(hass, freezer, 1)
    assert given in simulator.files


async def test_an_own_upload_the_user_sends_by_file_id_is_kept(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
) -> None:
    """The response's file id, copied into an automation's `file_id`, becomes the user's."""
    file = await send_picture(hass, front_door, 1)
    assert (await send(hass, file_id=[file["id"]]))["queued"] == 1
    await days_later(hass, freezer, 31)
    await days_later(hass, freezer, 1)
    assert file["id"] in simulator.files


async def test_a_scheduled_pictures_use_is_not_shortened_by_a_later_send(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
) -> None:
    """Scheduled 45 days ahead, the same picture also sent today: kept until 30 days after day 45."""
    when = (dt_util.now() + timedelta(days=45)).isoformat()
    file = await send_picture(hass, front_door, 1, date=when)
    again = await send_picture(hass, front_door, 1)
    assert again["id"] == file["id"]
    await days_later(hass, freezer, 40)
    await days_later(hass, freezer, 1)
    assert file["id"] in simulator.files  # day 41: the scheduled send still needs it
    for _ in range(40):
        await days_later(hass, freezer, 1)
    assert file["id"] not in simulator.files  # day 81: 36 days after its last use


async def test_a_file_already_gone_is_forgotten_and_the_clean_up_goes_on(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
) -> None:
    await set_options(hass, loaded_entry, keep_uploads_days=1)
    first = await send_picture(hass, front_door, 1)
    second = await send_picture(hass, front_door, 2)
    del simulator.files[first["id"]]  # deleted by hand in the panel
    await days_later(hass, freezer, 2)
    assert second["id"] not in simulator.files
    # Forgotten: the first picture, sent again, is uploaded anew rather than sent by a dead id.
    again = await send_picture(hass, front_door, 1)
    assert again["uploaded"] is True


async def test_a_failing_clean_up_stops_for_the_day(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
) -> None:
    """The gateway fails the first deletion: the rest waits for tomorrow rather than failing too."""
    freezer.move_to(dt_util.start_of_local_day() + timedelta(hours=12))
    await set_options(hass, loaded_entry, keep_uploads_days=1)
    files = [await send_picture(hass, front_door, seed) for seed in range(3)]
    simulator.fail_next(DELETE, Fault("error", code=3100))
    await days_later(hass, freezer, 2)
    assert len(simulator.requests_to(DELETE)) == 1
    assert all(f["id"] in simulator.files for f in files)
    await days_later(hass, freezer, 1 / 24)  # the next hourly check: not again today
    assert len(simulator.requests_to(DELETE)) == 1
    await days_later(hass, freezer, 1)
    assert not any(f["id"] in simulator.files for f in files)


async def test_a_picture_used_again_while_the_clean_up_runs_is_not_deleted(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
) -> None:
    await set_options(hass, loaded_entry, keep_uploads_days=1)
    old = await send_picture(hass, front_door, 1)
    reused = await send_picture(hass, front_door, 2)
    deleting = asyncio.Event()
    simulator.on_request = lambda request: deleting.set() if request.endpoint == DELETE else None
    simulator.fail_next(DELETE, Fault("hang_after", hold=20))  # the first deletion takes 20 s
    freezer.tick(timedelta(days=2))
    async_fire_time_changed(hass)
    await deleting.wait()
    # Meanwhile an automation sends the second picture again.
    assert (await send_picture(hass, front_door, 2))["id"] == reused["id"]
    freezer.tick(timedelta(seconds=21))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert old["id"] not in simulator.files
    assert reused["id"] in simulator.files
    assert [r.fields["id"] for r in simulator.requests_to(DELETE)] == [old["id"]]


async def test_a_clean_up_still_running_at_midnight_is_not_started_twice(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
) -> None:
    await set_options(hass, loaded_entry, keep_uploads_days=1)
    files = [await send_picture(hass, front_door, seed) for seed in range(2)]
    # A very slow gateway: the first deletion is answered after two hours (and the client waits).
    loaded_entry.runtime_data.client._timeout = aiohttp.ClientTimeout(total=3 * 3600)
    simulator.fail_next(DELETE, Fault("hang_after", hold=7200))
    deleting = asyncio.Event()
    simulator.on_request = lambda request: deleting.set() if request.endpoint == DELETE else None
    freezer.move_to(dt_util.start_of_local_day() + timedelta(days=2, hours=23, minutes=59))
    async_fire_time_changed(hass)  # the day's run starts a minute before midnight
    await deleting.wait()
    # The first hourly check of the next day comes while it still runs; an hour later it is answered.
    freezer.tick(timedelta(hours=1))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    freezer.tick(timedelta(hours=1))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    deleted = [r.fields["id"] for r in simulator.requests_to(DELETE)]
    assert sorted(deleted) == sorted(f["id"] for f in files)  # each asked once
    assert not any(f["id"] in simulator.files for f in files)


async def test_above_the_ledger_bound_the_least_recently_used_go_early(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(housekeeping, "MAX_LEDGER", 5)
    files = []
    for seed in range(8):
        files.append(await send_picture(hass, front_door, seed))
        freezer.tick(timedelta(minutes=1))
    await days_later(hass, freezer, 1)
    assert [f["id"] in simulator.files for f in files] == [False] * 3 + [True] * 5


async def test_the_users_kept_list_is_bounded_too(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(housekeeping, "MAX_KEPT", 3)
    given = []
    for seed in range(5):
        front_door.image = picture(seed)
        given.append(await upload_file(hass))
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    stored = hass_storage[f"serwersms.{loaded_entry.entry_id}.uploads"]["data"]
    assert stored["kept"] == given[2:]


# --- the file-id table ---------------------------------------------------------------------------


async def test_a_picture_sent_often_stays_in_the_table(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A static logo sent between snapshots is never uploaded twice, though the table holds three."""
    monkeypatch.setattr(uploads, "MAX_REMEMBERED_FILES", 3)
    logo = await send_picture(hass, front_door, 1000)
    for seed in range(6):
        assert (await send_picture(hass, front_door, seed))["uploaded"] is True
        assert await send_picture(hass, front_door, 1000) == logo | {"uploaded": False}
    assert len(simulator.requests_to("files/add")) == 7


async def test_a_table_stored_too_big_is_cut_to_its_bound_keeping_the_most_recent(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    simulator: SerwerSmsSimulator,
    config_entry: MockConfigEntry,
) -> None:
    """A table written before the bound existed (1,200 entries, oldest first)."""
    key = f"serwersms.{config_entry.entry_id}.files"
    entries = {
        f"{n:064x}": {"id": f"{n:010x}", "name": "snapshot.jpg", "size": 1000, "content_type": "image/jpeg"}
        for n in range(1200)
    }
    hass_storage[key] = {"version": 1, "minor_version": 1, "key": key, "data": entries}
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert await hass.config_entries.async_unload(config_entry.entry_id)
    assert list(hass_storage[key]["data"]) == list(entries)[200:]
