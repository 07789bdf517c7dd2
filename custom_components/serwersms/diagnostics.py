"""Diagnostics download: the account's shape, never its secrets or anyone's phone number."""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_NAME, CONF_PASSWORD, CONF_USERNAME
from homeassistant.core import HomeAssistant

from .const import CONF_API_TOKEN, CONF_PHONE
from .coordinator import SerwerSmsConfigEntry

TO_REDACT = {CONF_API_TOKEN, CONF_PASSWORD, CONF_USERNAME, CONF_PHONE, CONF_NAME, "title", "unique_id"}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: SerwerSmsConfigEntry
) -> dict[str, Any]:
    """What helps debugging: auth method, gateway URL, options, recipients' sizes, credits, cache size."""
    limit = entry.runtime_data.coordinator.data
    return {
        "entry": async_redact_data(entry.as_dict(), TO_REDACT),
        "recipients": [{"numbers": len(sub.data.get(CONF_PHONE, []))} for sub in entry.subentries.values()],
        "mms_limit": None if limit is None else {"value": limit.value, "raw_value": limit.raw_value},
        "cached_file_ids": len(entry.runtime_data.files),
        "last_update_success": entry.runtime_data.coordinator.last_update_success,
    }
