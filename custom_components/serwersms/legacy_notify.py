"""The legacy `notify.serwersms` service: one per account, targets are phone numbers."""

from __future__ import annotations

from typing import Any

from homeassistant.components.notify.const import (
    ATTR_DATA,
    ATTR_MESSAGE,
    ATTR_TARGET,
    ATTR_TITLE,
    DOMAIN as NOTIFY_DOMAIN,
)
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, ServiceCall, callback
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.service import async_set_service_schema
import probatio as vol

from .const import CONF_PHONE, DOMAIN, SUBENTRY_RECIPIENT
from .errors import gateway_errors_translated
from .mms.recipients import split_phones
from .schemas import ATTACHMENT_FIELDS, build_request

LEGACY_SCHEMA = vol.Schema(
    {
        vol.Optional(ATTR_MESSAGE, default=""): cv.string,
        vol.Optional(ATTR_TITLE): cv.string,
        vol.Optional(ATTR_TARGET): vol.All(cv.ensure_list, [cv.string]),
        vol.Optional(ATTR_DATA, default=dict): vol.Any(None, vol.Schema(ATTACHMENT_FIELDS)),
    }
)


def _names(hass: HomeAssistant) -> dict[str, str]:
    names: dict[str, str] = hass.data.setdefault(f"{DOMAIN}_legacy_services", {})
    return names


def account_phones(entry: ConfigEntry) -> list[str]:
    """Every number of the account's recipients."""
    return [
        phone
        for subentry in entry.subentries.values()
        if subentry.subentry_type == SUBENTRY_RECIPIENT
        for phone in split_phones(subentry.data.get(CONF_PHONE, []))
    ]


@callback
def async_register_legacy_service(hass: HomeAssistant, entry: ConfigEntry) -> str:
    """Register `notify.serwersms` (or `notify.serwersms_2`, … for further accounts)."""
    names = _names(hass)
    taken = set(names.values())
    name = next(
        candidate
        for candidate in (DOMAIN if n == 1 else f"{DOMAIN}_{n}" for n in range(1, len(taken) + 2))
        if candidate not in taken
    )
    names[entry.entry_id] = name

    async def handle(call: ServiceCall) -> None:
        data: dict[str, Any] = call.data.get(ATTR_DATA) or {}
        # No target means every recipient; an explicit empty list (say, a template that found nobody)
        # means nobody, and is refused rather than widened to everyone.
        target = call.data.get(ATTR_TARGET)
        phones = account_phones(entry) if target is None else list(target)
        request = build_request(phones, call.data.get(ATTR_MESSAGE), call.data.get(ATTR_TITLE), data)
        with gateway_errors_translated(hass, entry):
            await entry.runtime_data.sender.async_send(request)

    hass.services.async_register(NOTIFY_DOMAIN, name, handle, schema=LEGACY_SCHEMA)
    async_set_service_schema(
        hass,
        NOTIFY_DOMAIN,
        name,
        {
            "name": f"Send an MMS with {entry.title}",
            "description": "Sends an MMS through SerwerSMS to phone numbers (default: all recipients).",
            "fields": {
                ATTR_MESSAGE: {"description": "Body text.", "example": "Motion at the front door"},
                ATTR_TITLE: {"description": "MMS title (at most 40 characters).", "example": "Alarm"},
                ATTR_TARGET: {"description": "Phone numbers; default: all of the account's recipients."},
                ATTR_DATA: {"description": "Attachments and options, as in serwersms.send_mms."},
            },
        },
    )
    return name


@callback
def async_remove_legacy_service(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Remove the account's legacy notify service."""
    if (name := _names(hass).pop(entry.entry_id, None)) is not None:
        hass.services.async_remove(NOTIFY_DOMAIN, name)
