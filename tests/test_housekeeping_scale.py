"""Gateway storage at scale: 1,500 snapshots over 40 simulated days, past both of its bounds.

Enough to cross the 30-day keep and the 1,000-entry file-id table; the 5,000-picture figures are
`scripts/bench`'s (README, row 12).
"""

from __future__ import annotations

from datetime import timedelta
import hashlib
import io
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from PIL import Image
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    setup_test_component_platform,
)

from custom_components.serwersms.mms.uploads import MAX_REMEMBERED_FILES
from serwersms_simulator import SerwerSmsSimulator
from tests.conftest import SnapshotCamera
from tests.helpers import send

MOM = "notify.mom_mms"
CAMERAS = 10  # an MMS carries at most 10 pictures: 150 MMS of ten snapshots each
DAYS = 40
SNAPSHOTS = 1500


def tiny_jpeg(seed: int) -> bytes:
    """A small picture unique to `seed` (so every snapshot is a different file)."""
    out = io.BytesIO()
    Image.frombytes("RGB", (16, 12), hashlib.shake_256(str(seed).encode()).digest(16 * 12 * 3)).save(
        out, "JPEG"
    )
    return out.getvalue()


async def test_fifteen_hundred_snapshots_over_forty_days_keep_thirty_days_and_a_bounded_table(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    """Sent through the `serwersms.send_mms` action, as an automation does, at the default options.

    Ten cameras, 150 MMS of ten snapshots each (3 or 4 MMS a day, under the default daily limit):
    the hash → file-id table stays at its bound of 1,000 (the last 30 days alone upload more), the
    gateway keeps only the own uploads of the last 30 days, and the user's own files and a send
    scheduled 45 days ahead keep theirs.
    """
    loaded_entry.runtime_data.client._backoff = 0.0
    cameras = [SnapshotCamera(f"Cam {i}", tiny_jpeg(0)) for i in range(CAMERAS)]
    setup_test_component_platform(hass, "camera", cameras)
    assert await async_setup_component(hass, "camera", {"camera": {"platform": "test"}})
    await hass.async_block_till_done()
    names = [f"camera.cam_{i}" for i in range(CAMERAS)]

    cameras[0].image = tiny_jpeg(70_000)
    kept = await hass.services.async_call(
        "serwersms", "upload_file", {"camera": names[0]}, blocking=True, return_response=True
    )
    assert kept is not None
    cameras[0].image = tiny_jpeg(70_001)
    scheduled = await send(
        hass, camera=[names[0]], file_id=[kept["id"]], date=(dt_util.now() + timedelta(days=45)).isoformat()
    )
    scheduled_file = scheduled["files"][0]["id"]

    seed = 0
    own_by_day: list[set[str]] = []
    for day in range(DAYS):
        today: set[str] = set()
        for _ in range(SNAPSHOTS // CAMERAS * (day + 1) // DAYS - SNAPSHOTS // CAMERAS * day // DAYS):
            for camera in cameras:
                camera.image = tiny_jpeg(seed)
                seed += 1
            response = await send(hass, camera=names)
            assert response["queued"] == 1
            assert all(f["uploaded"] for f in response["files"])  # every snapshot a new picture
            today |= {f["id"] for f in response["files"]}
        own_by_day.append(today)
        freezer.tick(timedelta(days=1))
        async_fire_time_changed(hass)
        await hass.async_block_till_done(wait_background_tasks=True)
    assert seed == SNAPSHOTS
    freezer.tick(timedelta(seconds=10))  # the table's delayed write
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)

    assert len(set().union(*own_by_day[DAYS - 29 :])) > MAX_REMEMBERED_FILES  # the bound was crossed
    table = hass_storage[f"serwersms.{loaded_entry.entry_id}.files"]["data"]
    assert len(table) == MAX_REMEMBERED_FILES
    on_gateway = set(simulator.files)
    last_thirty_days = set().union(*own_by_day[DAYS - 29 :])
    older = set().union(*own_by_day[: DAYS - 29])
    assert last_thirty_days <= on_gateway
    assert not older & on_gateway
    assert on_gateway == last_thirty_days | {kept["id"], scheduled_file}
    assert len(simulator.messages) == SNAPSHOTS // CAMERAS + 1
