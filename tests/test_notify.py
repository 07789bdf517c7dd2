"""Recipient notify entities: one `notify.<recipient>_mms` per recipient, on the recipient's device."""

from __future__ import annotations

from collections.abc import Iterator

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import snapshot_platform
from syrupy.assertion import SnapshotAssertion

from serwersms_simulator import SerwerSmsSimulator
from tests import one_platform


@pytest.fixture
def notify_only() -> Iterator[None]:
    with one_platform.only(Platform.NOTIFY):
        yield


async def test_notify_entities(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    simulator: SerwerSmsSimulator,
    notify_only: None,
) -> None:
    entry = one_platform.account(simulator)
    await one_platform.set_up(hass, entry)
    await snapshot_platform(hass, entity_registry, snapshot, entry.entry_id)
