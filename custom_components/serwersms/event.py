"""Recipient `MMS delivery` event entities: what happened to each MMS after the gateway queued it."""

from __future__ import annotations

from homeassistant.components.event import EventEntity
from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import SerwerSmsConfigEntry
from .delivery import DELIVERY_STATUSES, DeliveryOutcome, delivery_signal
from .entity import RecipientEntity, add_recipient_entities

# Events are pushed by the account's delivery tracker; nothing is polled per entity.
PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SerwerSmsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add one `MMS delivery` event entity per recipient, tied to the recipient's subentry."""
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
