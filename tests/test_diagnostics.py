"""Diagnostics download: the account's shape and counts, never a secret, a name or a phone number."""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import get_diagnostics_for_config_entry
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from serwersms_simulator import SerwerSmsSimulator
from tests import one_platform
from tests.conftest import PASSWORD, TOKEN, USERNAME, SnapshotCamera
from tests.helpers import call_send_mms


async def test_diagnostics(
    hass: HomeAssistant,
    hass_client: Any,
    snapshot: SnapshotAssertion,
    simulator: SerwerSmsSimulator,
    front_door: SnapshotCamera,
) -> None:
    """After one MMS with a snapshot to Family: one upload, and its two numbers followed and counted."""
    entry = one_platform.account(simulator)
    await one_platform.set_up(hass, entry)
    await call_send_mms(hass, "notify.family_mms", message="Ruch", camera="camera.front_door")
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert diagnostics == snapshot(
        exclude=props("created_at", "modified_at"), matcher=one_platform.any_simulator_port
    )


async def test_diagnostics_redact_secrets_and_numbers(
    hass: HomeAssistant, hass_client: Any, simulator: SerwerSmsSimulator, config_entry: MockConfigEntry
) -> None:
    config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        config_entry, data={**config_entry.data, "username": USERNAME, "password": PASSWORD}
    )
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert await async_setup_component(hass, "diagnostics", {})
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, config_entry)
    text = repr(diagnostics)
    for secret in (TOKEN, USERNAME, PASSWORD, "+48500600700", "500600701", "Mom", "Family"):
        assert secret not in text
    assert diagnostics["mms_limit"] == {"value": 1000, "raw_value": "1000"}
    assert diagnostics["entry"]["data"]["auth_method"] == "token"
    assert [r["numbers"] for r in diagnostics["recipients"]] == [1, 2]
