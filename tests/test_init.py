"""Setting up and unloading an account."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr, entity_registry as er, issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from serwersms_simulator import Fault, SerwerSmsSimulator
from tests.conftest import SnapshotCamera


async def test_entry_loads_and_unloads(hass: HomeAssistant, loaded_entry: MockConfigEntry) -> None:
    assert loaded_entry.state is ConfigEntryState.LOADED
    assert hass.services.has_service("notify", "serwersms")
    assert hass.services.has_service("serwersms", "send_mms")
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    assert loaded_entry.state is ConfigEntryState.NOT_LOADED
    assert not hass.services.has_service("notify", "serwersms")


async def test_each_recipient_owns_a_device_under_the_account_device(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    device_registry = dr.async_get(hass)
    entity_registry = er.async_get(hass)
    devices = dr.async_entries_for_config_entry(device_registry, loaded_entry.entry_id)
    account = next(d for d in devices if d.config_subentry_id is None)
    assert account.entry_type is dr.DeviceEntryType.SERVICE
    assert account.name == "SerwerSMS"
    credits_sensor = entity_registry.async_get("sensor.serwersms_mms_credits")
    assert credits_sensor is not None
    assert credits_sensor.device_id == account.id
    assert credits_sensor.config_subentry_id is None
    subentries = {sub.title: sub.subentry_id for sub in loaded_entry.subentries.values()}
    for name, entity_id in (("Mom", "notify.mom_mms"), ("Family", "notify.family_mms")):
        entity = entity_registry.async_get(entity_id)
        assert entity is not None, entity_id
        assert entity.config_subentry_id == subentries[name]
        device = device_registry.async_get(entity.device_id or "")
        assert device is not None
        assert device.name == name
        assert device.via_device_id == account.id
        assert device.config_subentry_id == subentries[name]
    assert len(devices) == 3
    state = hass.states.get("sensor.serwersms_mms_credits")
    assert state is not None
    assert state.state == "1000"


async def test_wrong_token_starts_reauth(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, config_entry: MockConfigEntry
) -> None:
    simulator.token = "rotated"
    config_entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(config_entry.entry_id)
    assert config_entry.state is ConfigEntryState.SETUP_ERROR
    flows = hass.config_entries.flow.async_progress()
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]


async def test_without_an_outbox_network_trouble_retries_setup(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, config_entry: MockConfigEntry
) -> None:
    simulator.fail_next("account/limits", Fault("status", status=503), times=3)
    config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(config_entry, options={"outbox_minutes": 0})
    assert not await hass.config_entries.async_setup(config_entry.entry_id)
    assert config_entry.state is ConfigEntryState.SETUP_RETRY


async def test_with_the_outbox_network_trouble_at_start_up_still_loads_the_account(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, config_entry: MockConfigEntry
) -> None:
    simulator.fail_next("account/limits", Fault("status", status=503), times=3)
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    assert config_entry.state is ConfigEntryState.LOADED
    assert hass.states.get("sensor.serwersms_mms_credits").state == "unavailable"
    assert hass.states.get("notify.mom_mms").state != "unavailable"


async def test_file_ids_survive_a_restart_and_go_with_the_account(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
) -> None:
    call = {"entity_id": "notify.mom_mms", "camera": "camera.front_door"}
    await hass.services.async_call("serwersms", "send_mms", call, blocking=True)
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    key = f"serwersms.{loaded_entry.entry_id}.files"
    assert len(hass_storage[key]["data"]) == 1
    assert await hass.config_entries.async_setup(loaded_entry.entry_id)
    await hass.async_block_till_done()
    await hass.services.async_call("serwersms", "send_mms", call, blocking=True)
    assert len(simulator.requests_to("files/add")) == 1
    assert len(simulator.requests_to("messages/send_mms")) == 2
    simulator.credits = 0
    with pytest.raises(HomeAssistantError):
        await hass.services.async_call("serwersms", "send_mms", call, blocking=True)
    assert ir.async_get(hass).async_get_issue("serwersms", f"credits_exhausted_{loaded_entry.entry_id}")
    assert await hass.config_entries.async_remove(loaded_entry.entry_id)
    await hass.async_block_till_done()
    assert key not in hass_storage
    assert not ir.async_get(hass).async_get_issue("serwersms", f"credits_exhausted_{loaded_entry.entry_id}")


async def test_second_account_gets_its_own_legacy_service(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry
) -> None:
    # Stored by 1.1 (no service name yet): the upgrade gives it the first name not taken.
    data = {key: value for key, value in loaded_entry.data.items() if key != "legacy_service"}
    second = MockConfigEntry(domain="serwersms", data=data, unique_id="second")
    second.add_to_hass(hass)
    assert await hass.config_entries.async_setup(second.entry_id)
    await hass.async_block_till_done()
    assert hass.services.has_service("notify", "serwersms_2")
    await hass.config_entries.async_unload(second.entry_id)
    assert not hass.services.has_service("notify", "serwersms_2")
    assert hass.services.has_service("notify", "serwersms")
