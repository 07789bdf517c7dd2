"""Recipient `MMS delivery` event entities: one per recipient, on the recipient's own device.

What they show after a send (delivered, undelivered, unconfirmed, not sent) is in test_delivery.py.
"""

from __future__ import annotations

from collections.abc import Iterator

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from syrupy.assertion import SnapshotAssertion

from serwersms_simulator import SerwerSmsSimulator
from tests import one_platform

MOM_DELIVERY, FAMILY_DELIVERY = "event.mom_mms_delivery", "event.family_mms_delivery"


@pytest.fixture
def events_only() -> Iterator[None]:
    with one_platform.only(Platform.EVENT):
        yield


async def test_event_entities(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    simulator: SerwerSmsSimulator,
    events_only: None,
) -> None:
    entry = one_platform.account(simulator)
    await one_platform.set_up(hass, entry)
    await snapshot_platform(hass, entity_registry, snapshot, entry.entry_id)


async def test_each_recipient_has_an_mms_delivery_event_entity_on_its_device(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    registry = er.async_get(hass)
    subentries = {sub.title: sub.subentry_id for sub in loaded_entry.subentries.values()}
    for name, entity_id in (("Mom", MOM_DELIVERY), ("Family", FAMILY_DELIVERY)):
        entity = registry.async_get(entity_id)
        assert entity is not None, entity_id
        assert entity.config_subentry_id == subentries[name]
        assert entity.translation_key == "mms_delivery"
        notify = registry.async_get(entity_id.replace("event.", "notify.").removesuffix("_delivery"))
        assert notify is not None
        assert entity.device_id == notify.device_id
        device = dr.async_get(hass).async_get(entity.device_id or "")
        assert device is not None
        assert device.name == name
        state = hass.states.get(entity_id)
        assert state is not None
        assert state.attributes["event_types"] == ["delivered", "undelivered", "unconfirmed", "not_sent"]
        assert state.attributes["friendly_name"] == f"{name} MMS delivery"
