"""Recipient notify entities: one per recipient subentry, on the account's service device."""

from __future__ import annotations

from typing import Any

from homeassistant.components.notify import NotifyEntity
from homeassistant.components.notify.const import DOMAIN as NOTIFY_DOMAIN, NotifyEntityFeature
from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import ATTR_MESSAGE_KEY, ATTR_TITLE_KEY, CONF_PHONE, SUBENTRY_RECIPIENT
from .coordinator import SerwerSmsConfigEntry
from .entity import SerwerSmsEntity
from .mms.recipients import split_phones
from .mms.sender import MmsRequest
from .schemas import build_request

# Sends are independent requests; the gateway is happy with concurrent ones.
PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SerwerSmsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add one notify entity per recipient; forget the entities of recipients that were removed.

    The entities are not tied to their subentries: they all live on the account's one service
    device, and Home Assistant wants a device to belong to a single subentry. So removed
    recipients' entities are cleaned up here instead.
    """
    entities = [
        RecipientNotifyEntity(entry, subentry)
        for subentry in entry.subentries.values()
        if subentry.subentry_type == SUBENTRY_RECIPIENT
    ]
    current = {entity.unique_id for entity in entities}
    registry = er.async_get(hass)
    for registered in er.async_entries_for_config_entry(registry, entry.entry_id):
        if registered.domain == NOTIFY_DOMAIN and registered.unique_id not in current:
            registry.async_remove(registered.entity_id)
    async_add_entities(entities)


class RecipientNotifyEntity(SerwerSmsEntity, NotifyEntity):
    """Sends MMS to one recipient (one or more phone numbers)."""

    _attr_supported_features = NotifyEntityFeature.TITLE

    def __init__(self, entry: SerwerSmsConfigEntry, subentry: ConfigSubentry) -> None:
        """Name the entity after the recipient."""
        super().__init__(entry, subentry.subentry_id)
        self._entry = entry
        self._attr_name = subentry.title
        self.phones = split_phones(subentry.data.get(CONF_PHONE, []))

    async def async_send_message(self, message: str, title: str | None = None) -> None:
        """notify.send_message: an MMS whose body is the message."""
        await self._entry.runtime_data.sender.async_send(
            MmsRequest(self.phones, message=message, title=title)
        )

    async def async_send_mms(self, **kwargs: Any) -> dict[str, Any]:
        """serwersms.send_mms on this recipient; returns the per-recipient outcome."""
        request = build_request(self.phones, kwargs.get(ATTR_MESSAGE_KEY), kwargs.get(ATTR_TITLE_KEY), kwargs)
        response = await self._entry.runtime_data.sender.async_send(request)
        self._async_record_notification()
        return response
