"""The MMS credits sensor of an account."""

from __future__ import annotations

from typing import Any

from homeassistant.components.sensor import SensorEntity, SensorStateClass
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .coordinator import CreditsCoordinator, SerwerSmsConfigEntry
from .entity import SerwerSmsEntity

# Read-only: the coordinator does all the polling.
PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SerwerSmsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the credits sensor."""
    async_add_entities([MmsCreditsSensor(entry)])


class MmsCreditsSensor(SerwerSmsEntity, CoordinatorEntity[CreditsCoordinator], SensorEntity):
    """MMS credits left; unknown when the account has no limit or no MMS at all."""

    _attr_translation_key = "mms_credits"
    _attr_state_class = SensorStateClass.MEASUREMENT
    _attr_native_unit_of_measurement = "MMS"

    def __init__(self, entry: SerwerSmsConfigEntry) -> None:
        """Bind to the account's coordinator."""
        CoordinatorEntity.__init__(self, entry.runtime_data.coordinator)
        SerwerSmsEntity.__init__(self, entry, "mms_credits")

    @property
    def native_value(self) -> int | None:
        """Credits left, or None for `no_limit` / `not_available`."""
        limit = self.coordinator.data
        return None if limit is None else limit.value

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """The gateway's raw value, so `no_limit` and `not_available` are visible."""
        limit = self.coordinator.data
        return {"limit": "not_available" if limit is None else limit.raw_value}
