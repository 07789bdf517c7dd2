"""Setting up and unloading an account."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from serwersms_simulator import Fault, SerwerSmsSimulator


async def test_entry_loads_and_unloads(hass: HomeAssistant, loaded_entry: MockConfigEntry) -> None:
    assert loaded_entry.state is ConfigEntryState.LOADED
    assert hass.services.has_service("notify", "serwersms")
    assert hass.services.has_service("serwersms", "send_mms")
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    assert loaded_entry.state is ConfigEntryState.NOT_LOADED
    assert not hass.services.has_service("notify", "serwersms")


async def test_one_service_device_with_recipients_and_credits(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    devices = dr.async_entries_for_config_entry(dr.async_get(hass), loaded_entry.entry_id)
    assert len(devices) == 1
    assert devices[0].entry_type is dr.DeviceEntryType.SERVICE
    entities = er.async_entries_for_config_entry(er.async_get(hass), loaded_entry.entry_id)
    assert sorted(e.entity_id for e in entities) == [
        "notify.serwersms_family",
        "notify.serwersms_mom",
        "sensor.serwersms_mms_credits",
    ]
    assert {e.device_id for e in entities} == {devices[0].id}
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


async def test_network_trouble_retries_setup(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, config_entry: MockConfigEntry
) -> None:
    simulator.fail_next("account/limits", Fault("status", status=503), times=3)
    config_entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(config_entry.entry_id)
    assert config_entry.state is ConfigEntryState.SETUP_RETRY
