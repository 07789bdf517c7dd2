"""Base entities: the account's service device, and one device per recipient hanging off it."""

from __future__ import annotations

from collections.abc import Callable

from homeassistant.config_entries import ConfigEntry, ConfigSubentry
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import CONF_PHONE, DOMAIN, SUBENTRY_RECIPIENT
from .coordinator import SerwerSmsConfigEntry
from .mms.recipients import split_phones

PANEL_URL = "https://panel.serwersms.pl/"
MANUFACTURER = "SerwerSMS.pl"


def account_device_info(entry: ConfigEntry) -> DeviceInfo:
    """The account's service device (credits, outbox, sent today)."""
    return DeviceInfo(
        identifiers={(DOMAIN, entry.entry_id)},
        name=entry.title,
        manufacturer=MANUFACTURER,
        model="HTTPS API v2",
        entry_type=DeviceEntryType.SERVICE,
        configuration_url=PANEL_URL,
    )


def recipient_device_identifier(entry: ConfigEntry, subentry_id: str) -> tuple[str, str]:
    """The device registry identifier of a recipient's own device."""
    return (DOMAIN, f"{entry.entry_id}_{subentry_id}")


def recipient_device_info(entry: ConfigEntry, subentry: ConfigSubentry, account_device_id: str) -> DeviceInfo:
    """A recipient's own device, named after the recipient, reached through the account's device."""
    return DeviceInfo(
        identifiers={recipient_device_identifier(entry, subentry.subentry_id)},
        name=subentry.title,
        manufacturer=MANUFACTURER,
        model="Recipient",
        entry_type=DeviceEntryType.SERVICE,
        via_device_id=account_device_id,
    )


class SerwerSmsEntity(Entity):
    """An entity of one SerwerSMS account, on the account's service device."""

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(self, entry: SerwerSmsConfigEntry, key: str) -> None:
        """Give the entity a stable unique id under its account."""
        self._attr_unique_id = f"{entry.entry_id}_{key}"
        self._attr_device_info = account_device_info(entry)


class RecipientEntity(Entity):
    """An entity of one recipient (a `recipient` subentry), on the recipient's own device.

    Platforms add these with `config_subentry_id=subentry.subentry_id`, so removing the recipient
    removes its device and entities through Home Assistant itself.
    """

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(self, entry: SerwerSmsConfigEntry, subentry: ConfigSubentry, key: str | None) -> None:
        """`key` None is the recipient's notify entity (its unique id predates per-recipient devices)."""
        suffix = "" if key is None else f"_{key}"
        self._attr_unique_id = f"{entry.entry_id}_{subentry.subentry_id}{suffix}"
        self._attr_device_info = recipient_device_info(entry, subentry, entry.runtime_data.account_device_id)
        self.entry = entry
        self.subentry = subentry
        self.phones = split_phones(subentry.data.get(CONF_PHONE, []))


def add_recipient_entities(
    entry: SerwerSmsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    make: Callable[[SerwerSmsConfigEntry, ConfigSubentry], RecipientEntity],
) -> None:
    """Add one entity per recipient, tied to the recipient's subentry (so removal takes it along)."""
    for subentry in entry.subentries.values():
        if subentry.subentry_type == SUBENTRY_RECIPIENT:
            async_add_entities([make(entry, subentry)], config_subentry_id=subentry.subentry_id)
