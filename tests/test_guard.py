"""The spending guard: a daily limit per number, and a cooldown per recipient and tag."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import aiohttp
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from serwersms_simulator import Fault, SerwerSmsSimulator
from tests.conftest import SnapshotCamera
from tests.helpers import call_send_mms

MOM = "notify.mom_mms"
FAMILY = "notify.family_mms"
SENT_TODAY = "sensor.serwersms_mms_sent_today"


def limit_issue(hass: HomeAssistant, entry: MockConfigEntry) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue("serwersms", f"daily_limit_reached_{entry.entry_id}")


async def test_a_runaway_automation_sends_exactly_the_daily_limit(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    freezer: FrozenDateTimeFactory,
) -> None:
    freezer.move_to(dt_util.now().replace(hour=12, minute=0))
    hass.config_entries.async_update_entry(loaded_entry, options={"daily_limit": 100})
    await hass.async_block_till_done()
    refused: list[ServiceValidationError] = []
    for _ in range(10):  # 1,000 sends in a minute, 100 at a time
        results = await asyncio.gather(
            *(call_send_mms(hass, camera="camera.front_door", message="motion") for _ in range(100)),
            return_exceptions=True,
        )
        refused += [r for r in results if isinstance(r, ServiceValidationError)]
        assert all(isinstance(r, dict | ServiceValidationError) for r in results)
        freezer.tick(timedelta(seconds=6))
    assert len(simulator.messages) == 100
    assert len(refused) == 900
    assert front_door.snapshots == 100  # refused before any snapshot
    assert {e.translation_key for e in refused} == {"daily_limit_reached"}
    assert refused[-1].translation_placeholders == {"limit": "100", "sent_today": "100", "needed": "1"}
    assert "100" in str(refused[-1])
    assert hass.states.get(SENT_TODAY).state == "100"
    assert limit_issue(hass, loaded_entry) is not None

    # The count survives a restart.
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    assert await hass.config_entries.async_setup(loaded_entry.entry_id)
    await hass.async_block_till_done()
    with pytest.raises(ServiceValidationError):
        await call_send_mms(hass, message="again")

    freezer.move_to(dt_util.start_of_local_day() + timedelta(days=1, seconds=1))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert limit_issue(hass, loaded_entry) is None
    assert hass.states.get(SENT_TODAY).state == "0"
    assert (await call_send_mms(hass, message="a new day"))[MOM]["queued"] == 1
    assert len(simulator.messages) == 101


async def test_raising_the_limit_takes_the_repair_issue_away(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry
) -> None:
    hass.config_entries.async_update_entry(loaded_entry, options={"daily_limit": 1})
    await hass.async_block_till_done()
    await call_send_mms(hass, FAMILY, message="one")
    with pytest.raises(ServiceValidationError) as err:
        await call_send_mms(hass, [MOM, FAMILY], message="two")
    assert err.value.translation_placeholders == {"limit": "1", "sent_today": "1", "needed": "3"}
    assert hass.states.get(SENT_TODAY).state == "2"  # two numbers
    assert limit_issue(hass, loaded_entry) is not None
    hass.config_entries.async_update_entry(loaded_entry, options={"daily_limit": 5})
    await hass.async_block_till_done()
    assert limit_issue(hass, loaded_entry) is None
    assert (await call_send_mms(hass, MOM, message="three"))[MOM]["queued"] == 1


async def test_test_sends_do_not_count(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry
) -> None:
    hass.config_entries.async_update_entry(loaded_entry, options={"daily_limit": 1})
    await hass.async_block_till_done()
    for _ in range(3):
        await call_send_mms(hass, message="test", test=True)
    assert hass.states.get(SENT_TODAY).state == "0"
    assert (await call_send_mms(hass, message="real"))[MOM]["queued"] == 1


async def test_a_cooldown_suppresses_without_a_snapshot_or_a_request(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    freezer: FrozenDateTimeFactory,
) -> None:
    first = await call_send_mms(hass, MOM, camera="camera.front_door", title="Motion", cooldown=120)
    assert first[MOM]["queued"] == 1
    requests = len(simulator.requests)
    freezer.tick(timedelta(seconds=119))
    again = await call_send_mms(hass, [MOM, FAMILY], camera="camera.front_door", title="Motion", cooldown=120)
    assert again[MOM] == {"suppressed": True, "queued": 0, "unsent": 0, "recipients": [], "files": []}
    assert again[FAMILY]["queued"] == 2
    assert [m.phone for m in simulator.messages[1:]] == ["+48500600701", "+48500600702"]
    assert front_door.snapshots == 2
    # The picture was reused: Family's send is the only request (delivery reports aside).
    made = [r.endpoint for r in simulator.requests[requests:] if r.endpoint != "messages/reports"]
    assert made == ["messages/send_mms"]

    other_tag = await call_send_mms(hass, MOM, message="door", title="Motion", tag="door", cooldown=120)
    assert other_tag[MOM]["queued"] == 1
    freezer.tick(timedelta(seconds=2))
    assert (await call_send_mms(hass, MOM, message="later", title="Motion", cooldown=120))[MOM]["queued"] == 1


async def test_a_failed_send_starts_no_cooldown_and_a_bad_cooldown_is_refused(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await call_send_mms(hass, message="x", cooldown=86401)
    assert err.value.translation_key == "invalid_cooldown"
    with pytest.raises(ServiceValidationError):
        await call_send_mms(hass, message="x", title="T" * 41, cooldown=60)
    assert (await call_send_mms(hass, message="x", cooldown=60))[MOM]["queued"] == 1


async def test_a_send_that_may_have_gone_out_keeps_its_cooldown(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry
) -> None:
    loaded_entry.runtime_data.client._timeout = aiohttp.ClientTimeout(total=0.3)
    simulator.fail_next("messages/send_mms", Fault("hang_after", hold=2))
    with pytest.raises(HomeAssistantError) as unknown:
        await call_send_mms(hass, message="motion", title="Motion", cooldown=120)
    assert unknown.value.translation_key == "outcome_unknown"
    # It may be on the phone already: a second alarm inside the cooldown must not double it.
    again = await call_send_mms(hass, message="motion", title="Motion", cooldown=120)
    assert again[MOM] == {"suppressed": True, "queued": 0, "unsent": 0, "recipients": [], "files": []}
    assert len(simulator.requests_to("messages/send_mms")) == 1
