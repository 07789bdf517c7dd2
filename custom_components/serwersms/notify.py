"""Recipient notify entities: one per recipient subentry, on the recipient's own device."""

from __future__ import annotations

from homeassistant.components.notify import NotifyEntity
from homeassistant.components.notify.const import NotifyEntityFeature
from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import SerwerSmsConfigEntry
from .entity import RecipientEntity, add_recipient_entities
from .errors import gateway_errors_translated
from .mms.sender import MmsRequest

# Sends are independent requests; the gateway is happy with concurrent ones.
PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SerwerSmsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add one notify entity per recipient, tied to the recipient's subentry."""
    add_recipient_entities(entry, async_add_entities, RecipientNotifyEntity)


class RecipientNotifyEntity(RecipientEntity, NotifyEntity):
    """Sends MMS to one recipient (one or more phone numbers); `notify.<recipient>_mms`."""

    _attr_supported_features = NotifyEntityFeature.TITLE
    _attr_translation_key = "mms"

    def __init__(self, entry: SerwerSmsConfigEntry, subentry: ConfigSubentry) -> None:
        """The recipient's device carries the name; the entity is its `MMS`."""
        super().__init__(entry, subentry, None)
        self._entry = entry

    async def async_send_message(self, message: str, title: str | None = None) -> None:
        """notify.send_message: an MMS whose body is the message."""
        with gateway_errors_translated(self.hass, self._entry):
            await self._entry.runtime_data.sender.async_send(
                MmsRequest(
                    self.phones,
                    message=message,
                    title=title,
                    recipient_ids=(self.subentry.subentry_id,),
                    context=self._context,
                )
            )

    @callback
    def async_record_sent(self) -> None:
        """A send to this recipient by `serwersms.send_mms`: the entity's state (last sent) moves.

        `notify.send_message` records its own sends; the batched action, which sends for several
        entities at once, calls this for each of them.
        """
        self._async_record_notification()
