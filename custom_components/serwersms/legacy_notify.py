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
from homeassistant.helpers import config_validation as cv, translation
from homeassistant.helpers.service import async_set_service_schema
import probatio as vol

from .const import CONF_LEGACY_SERVICE, CONF_PHONE, DOMAIN, SUBENTRY_RECIPIENT
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


LEGACY_TRANSLATION_KEY = "legacy_notify"


def _registered(hass: HomeAssistant) -> dict[str, str]:
    """Entry id → the legacy service name registered for it now."""
    names: dict[str, str] = hass.data.setdefault(f"{DOMAIN}_legacy_services", {})
    return names


def legacy_service_names(hass: HomeAssistant) -> set[str]:
    """The legacy service names already given to this integration's accounts."""
    return {
        str(entry.data[CONF_LEGACY_SERVICE])
        for entry in hass.config_entries.async_entries(DOMAIN, include_ignore=False)
        if entry.data.get(CONF_LEGACY_SERVICE)
    }


def next_legacy_service_name(taken: set[str]) -> str:
    """`serwersms` for the first account, then `serwersms_2`, `serwersms_3`, …: the first one free."""
    return next(
        candidate
        for candidate in (DOMAIN if n == 1 else f"{DOMAIN}_{n}" for n in range(1, len(taken) + 2))
        if candidate not in taken
    )


def assign_legacy_service_names(entries: list[ConfigEntry]) -> dict[str, str]:
    """Names for accounts that have none yet (stored before 1.2), in the order the accounts were added.

    Deterministic, so migrating the accounts one by one in any order gives each the same name.
    Disabled accounts come after the enabled ones: up to 1.1 a disabled account registered no
    service, so the enabled accounts held the first names, and their automations call those.
    """
    taken = {str(e.data[CONF_LEGACY_SERVICE]) for e in entries if e.data.get(CONF_LEGACY_SERVICE)}
    assigned: dict[str, str] = {}
    for entry in sorted(entries, key=lambda e: e.disabled_by is not None):
        if not entry.data.get(CONF_LEGACY_SERVICE):
            assigned[entry.entry_id] = name = next_legacy_service_name(taken)
            taken.add(name)
    return assigned


def account_phones(entry: ConfigEntry) -> list[str]:
    """Every number of the account's recipients."""
    return [
        phone
        for subentry in entry.subentries.values()
        if subentry.subentry_type == SUBENTRY_RECIPIENT
        for phone in split_phones(subentry.data.get(CONF_PHONE, []))
    ]


async def async_register_legacy_service(hass: HomeAssistant, entry: ConfigEntry) -> str:
    """Register the account's `notify.<name>`, the name stored with the account when it was added."""
    name = str(entry.data[CONF_LEGACY_SERVICE])
    _registered(hass)[entry.entry_id] = name

    async def handle(call: ServiceCall) -> None:
        data: dict[str, Any] = call.data.get(ATTR_DATA) or {}
        # No target means every recipient; an explicit empty list (say, a template that found nobody)
        # means nobody, and is refused rather than widened to everyone.
        target = call.data.get(ATTR_TARGET)
        phones = account_phones(entry) if target is None else list(target)
        request = build_request(phones, call.data.get(ATTR_MESSAGE), call.data.get(ATTR_TITLE), data)
        request.context = call.context
        with gateway_errors_translated(hass, entry):
            await entry.runtime_data.sender.async_send(request)

    hass.services.async_register(NOTIFY_DOMAIN, name, handle, schema=LEGACY_SCHEMA)
    async_set_service_schema(hass, NOTIFY_DOMAIN, name, await _async_description(hass, entry))
    return name


async def _async_description(hass: HomeAssistant, entry: ConfigEntry) -> dict[str, Any]:
    """The service's name, description and fields in Home Assistant's language (English as fallback)."""
    strings = await translation.async_get_translations(hass, hass.config.language, "services", [DOMAIN])
    prefix = f"component.{DOMAIN}.services.{LEGACY_TRANSLATION_KEY}"

    def text(key: str) -> str:
        return strings.get(f"{prefix}.{key}", "").replace("{account}", entry.title)

    return {
        "name": text("name"),
        "description": text("description"),
        "fields": {
            field: {"name": text(f"fields.{field}.name"), "description": text(f"fields.{field}.description")}
            for field in (ATTR_MESSAGE, ATTR_TITLE, ATTR_TARGET, ATTR_DATA)
        },
    }


@callback
def async_remove_legacy_service(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Remove the account's legacy notify service."""
    if (name := _registered(hass).pop(entry.entry_id, None)) is not None:
        hass.services.async_remove(NOTIFY_DOMAIN, name)
