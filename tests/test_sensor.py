"""The account's sensors: MMS credits (polled hourly, counted down by sends), Messages sent today, outbox."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_UNAVAILABLE, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    snapshot_platform,
)
from syrupy.assertion import SnapshotAssertion

from serwersms_simulator import Fault, SerwerSmsSimulator
from tests import one_platform

CREDITS = "sensor.serwersms_mms_credits"


async def _send(hass: HomeAssistant) -> None:
    await hass.services.async_call(
        "notify", "send_message", {"entity_id": "notify.mom_mms", "message": "Ruch"}, blocking=True
    )


async def _advance(hass: HomeAssistant, freezer: FrozenDateTimeFactory, minutes: int) -> None:
    freezer.tick(timedelta(minutes=minutes))
    async_fire_time_changed(hass)
    # The coordinator polls in a background task.
    await hass.async_block_till_done(wait_background_tasks=True)


@pytest.fixture
def sensors_only() -> Iterator[None]:
    with one_platform.only(Platform.SENSOR):
        yield


async def test_sensors(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    simulator: SerwerSmsSimulator,
    sensors_only: None,
) -> None:
    entry = one_platform.account(simulator)
    await one_platform.set_up(hass, entry)
    await snapshot_platform(hass, entity_registry, snapshot, entry.entry_id)


async def test_frequent_sends_do_not_postpone_the_hourly_poll(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    assert len(simulator.requests_to("account/limits")) == 1  # at setup
    # An account sending every 20 minutes for three hours.
    for _ in range(9):
        await _advance(hass, freezer, 20)
        await _send(hass)
    assert len(simulator.requests_to("account/limits")) == 1 + 3
    # Counted down locally after each send, corrected by the next poll: a top-up is seen within the hour.
    assert hass.states.get(CREDITS).state == str(simulator.credits)
    simulator.credits = 5000
    await _send(hass)
    assert hass.states.get(CREDITS).state != "5000"
    await _advance(hass, freezer, 61)
    assert hass.states.get(CREDITS).state == str(simulator.credits)


async def test_a_send_does_not_hide_a_failed_poll(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    assert hass.states.get(CREDITS).state == "1000"
    simulator.fail_next("account/limits", Fault("error", code=1005), times=1)
    await _advance(hass, freezer, 61)
    assert hass.states.get(CREDITS).state == STATE_UNAVAILABLE
    await _send(hass)
    assert hass.states.get(CREDITS).state == STATE_UNAVAILABLE
    # The next hourly poll succeeds and the sensor comes back with the gateway's figure.
    await _advance(hass, freezer, 61)
    assert hass.states.get(CREDITS).state == str(simulator.credits) == "999"


async def test_credits_sensor_without_a_number(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, config_entry: MockConfigEntry
) -> None:
    simulator.mms_limit_override = "no_limit"
    config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    state = hass.states.get("sensor.serwersms_mms_credits")
    assert state is not None
    assert state.state == "unknown"
    assert state.attributes["limit"] == "no_limit"
    simulator.fail_next("account/limits", Fault("error", code=1001))
    await config_entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()
    assert [f["context"]["source"] for f in hass.config_entries.flow.async_progress()] == ["reauth"]
