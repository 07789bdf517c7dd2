"""Recipient `MMS delivery` event entities: what happened to each MMS after the gateway queued it."""

from __future__ import annotations

from typing import Any

from homeassistant.components.event import EventEntity
from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .alarms import ALARM_EVENT_TYPES, alarm_signal
from .coordinator import SerwerSmsConfigEntry
from .delivery import DELIVERY_STATUSES, DeliveryOutcome, delivery_signal
from .entity import RecipientEntity, SerwerSmsEntity, add_recipient_entities

# Events are pushed by the account's delivery tracker; nothing is polled per entity.
PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SerwerSmsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """The account's `Alarm` event entity; one `MMS delivery` event entity per recipient (its subentry's)."""
    async_add_entities([AlarmEventEntity(entry)])
    add_recipient_entities(entry, async_add_entities, MmsDeliveryEventEntity)


class MmsDeliveryEventEntity(RecipientEntity, EventEntity):
    """`event.<recipient>_mms_delivery`: delivered, undelivered, unconfirmed or not_sent, per number."""

    _attr_translation_key = "mms_delivery"

    def __init__(self, entry: SerwerSmsConfigEntry, subentry: ConfigSubentry) -> None:
        """The recipient's device carries the name; the entity is its `MMS delivery`."""
        super().__init__(entry, subentry, "mms_delivery")
        self._attr_event_types = list(DELIVERY_STATUSES)

    async def async_added_to_hass(self) -> None:
        """Listen to the account's delivery tracker for this recipient."""
        await super().async_added_to_hass()
        self.async_on_remove(
            async_dispatcher_connect(
                self.hass,
                delivery_signal(self.entry.entry_id, self.subentry.subentry_id),
                self._async_handle_outcome,
            )
        )

    @callback
    def _async_handle_outcome(self, outcome: DeliveryOutcome) -> None:
        self._trigger_event(outcome.status, outcome.attributes())
        self.async_write_ha_state()


class AlarmEventEntity(SerwerSmsEntity, EventEntity):
    """`event.serwersms_alarm` on the account's device: raised, escalated, acknowledged, expired."""

    _attr_translation_key = "alarm"

    def __init__(self, entry: SerwerSmsConfigEntry) -> None:
        """One per account."""
        super().__init__(entry, "alarm")
        self._attr_event_types = list(ALARM_EVENT_TYPES)
        self._entry_id = entry.entry_id

    async def async_added_to_hass(self) -> None:
        """Listen to the account's alarms."""
        await super().async_added_to_hass()
        self.async_on_remove(
            async_dispatcher_connect(self.hass, alarm_signal(self._entry_id), self._async_handle_alarm)
        )

    @callback
    def _async_handle_alarm(self, kind: str, data: dict[str, Any]) -> None:
        self._trigger_event(kind, {key: value for key, value in data.items() if key != "type"})
        self.async_write_ha_state()
