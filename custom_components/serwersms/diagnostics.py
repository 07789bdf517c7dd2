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
    """What helps debugging: auth method, gateway URL, options, recipients' sizes, credits, counts.

    Counts only: which numbers were sent to, or wait, is nobody's business in a bug report.
    """
    runtime = entry.runtime_data
    limit = runtime.coordinator.mms
    return {
        "entry": async_redact_data(entry.as_dict(), TO_REDACT),
        "recipients": [{"numbers": len(sub.data.get(CONF_PHONE, []))} for sub in entry.subentries.values()],
        "mms_limit": None if limit is None else {"value": limit.value, "raw_value": limit.raw_value},
        "limits": {service: limit.raw_value for service, limit in (runtime.coordinator.data or {}).items()},
        "cached_file_ids": len(runtime.files),
        "last_update_success": runtime.coordinator.last_update_success,
        "delivery_pending": runtime.delivery.pending,
        "outbox_waiting": len(runtime.outbox),
        "mms_sent_today": runtime.guard.sent_today,
        "own_uploads_tracked": len(runtime.housekeeping),
        "heartbeat": runtime.heartbeat.diagnostics(),
    }
