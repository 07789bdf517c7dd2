"""Upgrading from 0.2: the stores it wrote are read as they are, and nothing pending is lost.

The stores below are written exactly as version 0.2.0 wrote them (store version 1, its keys and fields);
the outbox's version-1 files are covered in `test_outbox_durability.py`. Real simulator over loopback.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.serwersms.api import SerwerSmsClient
from serwersms_simulator import SerwerSmsSimulator
from tests.conftest import TOKEN, make_png
from tests.helpers import later, send

MOM_PHONE = "+48500600700"
SENT_TODAY = "sensor.serwersms_mms_sent_today"


def stored(hass_storage: dict[str, Any], key: str, data: Any, *, version: int = 1) -> None:
    """A `.storage` file as Home Assistant's `Store` wrote it for 0.2.0."""
    hass_storage[key] = {"version": version, "minor_version": 1, "key": key, "data": data}


async def test_an_upgrade_from_0_2_keeps_todays_count_pending_reports_and_the_clean_up_list(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    config_entry: MockConfigEntry,
) -> None:
    config_entry.add_to_hass(hass)
    entry_id = config_entry.entry_id
    client = SerwerSmsClient(async_get_clientsession(hass), token=TOKEN, base_url=simulator.url)
    queued = await client.send_mms([MOM_PHONE], title="Before the upgrade", text="x")
    message_id = queued.recipients[0].id
    old_upload = await client.upload_file(make_png(), filename="old.png", content_type="image/png")
    now = dt_util.utcnow()
    mom = next(sub.subentry_id for sub in config_entry.subentries.values() if sub.title == "Mom")
    stored(
        hass_storage,
        f"serwersms.{entry_id}.guard",
        {"day": dt_util.now().date().isoformat(), "sent": {MOM_PHONE: 3}, "last_sent": {}},
    )
    stored(
        hass_storage,
        f"serwersms.{entry_id}.delivery",
        {
            "pending": {
                message_id: {
                    "phone": MOM_PHONE,
                    "title": "Before the upgrade",
                    "recipients": [mom],
                    "last": now.isoformat(),
                    "gap": 30.0,
                    "deadline": (now + timedelta(hours=20)).isoformat(),
                }
            }
        },
    )
    stored(
        hass_storage,
        f"serwersms.{entry_id}.uploads",
        {
            "last_run": (dt_util.now().date() - timedelta(days=1)).isoformat(),
            "uploads": {old_upload: (now - timedelta(days=40)).timestamp()},
            "kept": [],
        },
    )
    delivery = async_capture_events(hass, "serwersms_mms_delivery")
    hass.config_entries.async_update_entry(config_entry, options={"daily_limit": 4})
    assert await hass.config_entries.async_setup(entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)

    # Today's count: 3 before the upgrade, so one more MMS to Mom fits and then the limit holds.
    assert hass.states.get(SENT_TODAY).state == "3"
    assert (await send(hass, message="fourth"))["queued"] == 1
    assert hass.states.get(SENT_TODAY).state == "4"
    # The report the old version was waiting for still comes.
    await later(hass, freezer, 30)
    assert [(e.data["message_id"], e.data["status"]) for e in delivery][:1] == [(message_id, "delivered")]
    # The clean-up list is the old one: the 40-day-old upload was deleted from the gateway.
    assert old_upload not in simulator.files


async def test_a_store_written_by_a_newer_version_starts_empty_and_the_account_still_loads(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    simulator: SerwerSmsSimulator,
    config_entry: MockConfigEntry,
    caplog: Any,
) -> None:
    """A downgrade: the newer count is not guessed at; the account works and says so in the log."""
    config_entry.add_to_hass(hass)
    stored(
        hass_storage,
        f"serwersms.{config_entry.entry_id}.guard",
        {"today": "a newer shape"},
        version=2,
    )
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get(SENT_TODAY).state == "0"
    assert "written by a newer version" in caplog.text
    assert (await send(hass, message="still works"))["queued"] == 1


async def test_the_large_stores_are_serialized_off_the_event_loop(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry
) -> None:
    """The file-id table and the clean-up's list (up to ~1.5 MB) are turned into JSON in the executor."""
    data = loaded_entry.runtime_data
    assert data.files._store._serialize_in_event_loop is False
    assert data.housekeeping._store._serialize_in_event_loop is False
