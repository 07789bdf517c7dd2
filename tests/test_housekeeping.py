"""Gateway storage: own uploads deleted after keep_uploads_days, the hash table bounded."""

from __future__ import annotations

import asyncio
from datetime import timedelta
import io
from typing import Any

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
from tests.helpers import send

MOM = "notify.mom_mms"
BOUND = 40


def tiny_jpeg(seed: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 12), (seed % 256, (seed // 256) % 256, 7)).save(out, "JPEG")
    return out.getvalue()


async def next_day(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    freezer.tick(timedelta(days=1))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_sixty_days_of_snapshots_keep_thirty_days_on_the_gateway(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    freezer: FrozenDateTimeFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(uploads, "MAX_REMEMBERED_FILES", BOUND)
    hass.config_entries.async_update_entry(loaded_entry, options={"daily_limit": 0})
    await hass.async_block_till_done()
    loaded_entry.runtime_data.client._backoff = 0.0
    front_door.image = tiny_jpeg(100_000)
    kept = await hass.services.async_call(
        "serwersms", "upload_file", {"camera": "camera.front_door"}, blocking=True, return_response=True
    )
    front_door.image = tiny_jpeg(100_001)
    scheduled = await send(
        hass, camera="camera.front_door", date=(dt_util.now() + timedelta(days=45)).isoformat()
    )
    scheduled_id = scheduled["files"][0]["id"]
    own_by_day: dict[int, list[str]] = {}
    for day in range(60):
        for n in range(2):  # the last 29 days alone upload more than the table's bound
            front_door.image = tiny_jpeg(day * 10 + n)
            response = await send(hass, camera="camera.front_door", file_id=[kept["id"]])
            own_by_day.setdefault(day, []).append(response["files"][0]["id"])
        await next_day(hass, freezer)
    recent = {file_id for day in range(31, 60) for file_id in own_by_day[day]}  # used < 30 days ago
    old = {file_id for day in range(31) for file_id in own_by_day[day]}
    assert len(recent) > BOUND  # the table's bound was crossed by what the gateway still keeps
    table = hass_storage[f"serwersms.{loaded_entry.entry_id}.files"]["data"]
    assert len(table) == BOUND
    on_gateway = set(simulator.files)
    assert recent <= on_gateway
    assert not old & on_gateway
    assert kept["id"] in on_gateway
    assert scheduled_id in on_gateway
    # One clean-up run a day at most.
    deletes = len(simulator.requests_to("files/delete"))
    freezer.tick(timedelta(hours=5))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert len(simulator.requests_to("files/delete")) == deletes


async def test_a_failed_clean_up_is_retried_the_next_day(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    freezer: FrozenDateTimeFactory,
) -> None:
    hass.config_entries.async_update_entry(loaded_entry, options={"keep_uploads_days": 1})
    await hass.async_block_till_done()
    loaded_entry.runtime_data.client._backoff = 0.0
    file_id = (await send(hass, camera="camera.front_door"))["files"][0]["id"]
    simulator.fail_next("files/delete", Fault("error", code=3100), times=1)
    await next_day(hass, freezer)
    assert file_id in simulator.files
    await next_day(hass, freezer)
    assert file_id not in simulator.files
    # Forgotten: the same picture is uploaded again, not sent with a deleted id.
    again = await send(hass, camera="camera.front_door")
    assert again["files"][0]["uploaded"] is True
    assert again["queued"] == 1


async def test_keep_forever_deletes_nothing_even_past_the_ledger_bound(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    freezer: FrozenDateTimeFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(housekeeping, "MAX_LEDGER", 3)
    hass.config_entries.async_update_entry(loaded_entry, options={"keep_uploads_days": 0})
    await hass.async_block_till_done()
    uploaded = []
    for seed in range(6):
        front_door.image = tiny_jpeg(40 * seed + 3)
        uploaded.append((await send(hass, camera="camera.front_door"))["files"][0]["id"])
    assert len(set(uploaded)) == 6
    for _ in range(40):
        await next_day(hass, freezer)
    assert simulator.requests_to("files/delete") == []
    assert set(uploaded) <= set(simulator.files)
    # Only forgotten: the ledger stays at its bound while nothing leaves the gateway.
    assert len(loaded_entry.runtime_data.housekeeping) == 3


async def test_a_picture_sent_again_while_its_deletion_is_under_way_is_uploaded_anew(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    freezer: FrozenDateTimeFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The clean-up deletes yesterday's snapshot; the same picture is sent while that request is out."""
    hass.config_entries.async_update_entry(loaded_entry, options={"keep_uploads_days": 1})
    await hass.async_block_till_done()
    old_id = (await send(hass, camera="camera.front_door"))["files"][0]["id"]
    arrived, release = asyncio.Event(), asyncio.Event()
    real_delete = simulator._files_delete

    async def held_delete(*args: Any) -> Any:
        arrived.set()
        await release.wait()
        return await real_delete(*args)

    monkeypatch.setattr(simulator, "_files_delete", held_delete)
    freezer.tick(timedelta(days=1))
    async_fire_time_changed(hass)
    await asyncio.wait_for(arrived.wait(), 30)
    again = await send(hass, camera="camera.front_door")
    release.set()
    await hass.async_block_till_done(wait_background_tasks=True)

    (new_file,) = again["files"]
    assert new_file["uploaded"] is True
    assert new_file["id"] != old_id
    # The MMS at the gateway carries the new file, which is still there; the old one is gone.
    assert [r.fields["file_id"] for r in simulator.requests_to("messages/send_mms")] == [
        [old_id],
        [new_file["id"]],
    ]
    assert simulator.messages[-1].file_ids == [new_file["id"]]
    assert set(simulator.files) == {new_file["id"]}
