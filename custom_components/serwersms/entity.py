"""The base entity: everything of an account hangs on one service device."""

from __future__ import annotations

from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity import Entity

from .const import DOMAIN
from .coordinator import SerwerSmsConfigEntry

PANEL_URL = "https://panel.serwersms.pl/"


def device_info(entry: SerwerSmsConfigEntry) -> DeviceInfo:
    """The account's service device."""
    return DeviceInfo(
        identifiers={(DOMAIN, entry.entry_id)},
        name=entry.title,
        manufacturer="SerwerSMS.pl",
        model="HTTPS API v2",
        entry_type=DeviceEntryType.SERVICE,
        configuration_url=PANEL_URL,
    )


class SerwerSmsEntity(Entity):
    """An entity of one SerwerSMS account."""

    _attr_has_entity_name = True

    def __init__(self, entry: SerwerSmsConfigEntry, key: str) -> None:
        """Give the entity a stable unique id under its account."""
        self._attr_unique_id = f"{entry.entry_id}_{key}"
        self._attr_device_info = device_info(entry)
