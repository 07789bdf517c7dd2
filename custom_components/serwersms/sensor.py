"""The account's sensors: credits per service, messages sent today, and the outbox."""

from __future__ import annotations

from typing import Any

from homeassistant.components.sensor import DOMAIN as SENSOR_DOMAIN, SensorEntity, SensorStateClass
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.update_coordinator import CoordinatorEntity
from homeassistant.util import slugify

from .api import Limit
from .const import CONF_SMS_SENDER
from .coordinator import CreditsCoordinator, SerwerSmsConfigEntry
from .entity import SerwerSmsEntity
from .mms.channels import REPORT_ECO, REPORT_FULL, REPORT_VOICE, SMS, report_type

# Read-only: the coordinator does all the polling.
PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SerwerSmsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the account's sensors; SMS and Call credits once the gateway says the account has them."""
    async_add_entities([MmsCreditsSensor(entry), MmsSentTodaySensor(entry), OutboxSensor(entry)])
    coordinator = entry.runtime_data.coordinator
    added: set[str] = set()

    @callback
    def _add_service_sensors() -> None:
        # An account that started offline learns its services at the first answered poll.
        new: list[SensorEntity] = []
        if "sms" not in added and _has_sms(coordinator):
            added.add("sms")
            new.append(SmsCreditsSensor(entry))
        if "call" not in added and _has(coordinator.limit(REPORT_VOICE)):
            added.add("call")
            new.append(CallCreditsSensor(entry))
        if new:
            async_add_entities(new)

    _add_service_sensors()
    entry.async_on_unload(coordinator.async_add_listener(_add_service_sensors))


def _has(limit: Limit | None) -> bool:
    return limit is not None and limit.available


def _has_sms(coordinator: CreditsCoordinator) -> bool:
    return _has(coordinator.limit(REPORT_ECO)) or _has(coordinator.limit(REPORT_FULL))


class MmsCreditsSensor(SerwerSmsEntity, CoordinatorEntity[CreditsCoordinator], SensorEntity):
    """MMS credits left; unknown when the account has no limit or no MMS at all."""

    _attr_translation_key = "mms_credits"
    _attr_state_class = SensorStateClass.MEASUREMENT
    _attr_native_unit_of_measurement = "MMS"
    _key = "mms_credits"  # its unique id's suffix: never changed, or the entity id would be lost

    def __init__(self, entry: SerwerSmsConfigEntry) -> None:
        """Bind to the account's coordinator."""
        CoordinatorEntity.__init__(self, entry.runtime_data.coordinator)
        SerwerSmsEntity.__init__(self, entry, self._key)
        self._entry = entry

    def _limit(self) -> Limit | None:
        return self.coordinator.mms

    @property
    def native_value(self) -> int | None:
        """Credits left, or None for `no_limit` / `not_available`."""
        limit = self._limit()
        return None if limit is None else limit.value

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """The gateway's raw value, so `no_limit` and `not_available` are visible."""
        limit = self._limit()
        return {"limit": "not_available" if limit is None else limit.raw_value}


class SmsCreditsSensor(MmsCreditsSensor):
    """SMS credits left, of the class the account's SMS go out in (ECO, or FULL with a sender name)."""

    _attr_translation_key = "sms_credits"
    _attr_native_unit_of_measurement = "SMS"
    _key = "sms_credits"

    def _limit(self) -> Limit | None:
        # The sender option is read each time: changing it switches the class without a reload.
        service = report_type(SMS, self._entry.options.get(CONF_SMS_SENDER) or None)
        return self.coordinator.limit(service)


class CallCreditsSensor(MmsCreditsSensor):
    """Voice-call credits left."""

    _attr_translation_key = "call_credits"
    _attr_native_unit_of_measurement = "calls"
    _key = "call_credits"

    def _limit(self) -> Limit | None:
        return self.coordinator.limit(REPORT_VOICE)


class MmsSentTodaySensor(SerwerSmsEntity, SensorEntity):
    """Messages (MMS, SMS, calls) counted against today's daily limit, from local midnight.

    Named "Messages sent today" since SMS and calls count too; its entity id stays the one it had as
    "MMS sent today" (`…_mms_sent_today`), on new installs as well, so automations keep working.
    """

    _attr_translation_key = "mms_sent_today"
    _attr_state_class = SensorStateClass.TOTAL_INCREASING
    _attr_native_unit_of_measurement = "messages"

    def __init__(self, entry: SerwerSmsConfigEntry) -> None:
        """Follow the account's spending guard."""
        super().__init__(entry, "mms_sent_today")
        self._guard = entry.runtime_data.guard
        self.entity_id = f"{SENSOR_DOMAIN}.{slugify(entry.title)}_mms_sent_today"

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
