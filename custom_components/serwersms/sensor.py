"""The account's sensors: MMS credits, MMS sent today, and the outbox."""

from __future__ import annotations

from typing import Any

from homeassistant.components.sensor import SensorEntity, SensorStateClass
from homeassistant.const import EntityCategory
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
    """Add the account's sensors."""
    async_add_entities([MmsCreditsSensor(entry), MmsSentTodaySensor(entry), OutboxSensor(entry)])


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


class MmsSentTodaySensor(SerwerSmsEntity, SensorEntity):
    """MMS counted against today's daily limit (queued or deferred), from local midnight."""

    _attr_translation_key = "mms_sent_today"
    _attr_state_class = SensorStateClass.TOTAL_INCREASING
    _attr_native_unit_of_measurement = "MMS"

    def __init__(self, entry: SerwerSmsConfigEntry) -> None:
        """Follow the account's spending guard."""
        super().__init__(entry, "mms_sent_today")
        self._guard = entry.runtime_data.guard

    async def async_added_to_hass(self) -> None:
        """Update whenever the count changes."""
        self.async_on_remove(self._guard.async_add_listener(self.async_write_ha_state))

    @property
    def native_value(self) -> int:
        """MMS counted today."""
        return self._guard.sent_today


class OutboxSensor(SerwerSmsEntity, SensorEntity):
    """MMS waiting in the outbox for the gateway to answer again."""

    _attr_translation_key = "outbox"
    _attr_entity_category = EntityCategory.DIAGNOSTIC
    _attr_state_class = SensorStateClass.MEASUREMENT
    _attr_native_unit_of_measurement = "MMS"

    def __init__(self, entry: SerwerSmsConfigEntry) -> None:
        """Follow the account's outbox."""
        super().__init__(entry, "outbox")
        self._outbox = entry.runtime_data.outbox

    async def async_added_to_hass(self) -> None:
        """Update whenever an MMS enters or leaves the outbox."""
        self.async_on_remove(self._outbox.async_add_listener(self.async_write_ha_state))

    @property
    def native_value(self) -> int:
        """MMS waiting."""
        return len(self._outbox)
