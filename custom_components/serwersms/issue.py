"""Repair issues (not fixable here) for account problems only the user can fix in the SerwerSMS panel."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir

from .const import DOMAIN, ISSUE_CREDITS_EXHAUSTED, ISSUE_DAILY_LIMIT_REACHED, ISSUE_MMS_NOT_PERMITTED

PANEL_URL = "https://panel.serwersms.pl/"


def _issue_id(kind: str, entry: ConfigEntry) -> str:
    return f"{kind}_{entry.entry_id}"


def raise_issue(hass: HomeAssistant, entry: ConfigEntry, kind: str, **placeholders: str) -> None:
    """Show a repair issue of `kind` (credits exhausted, no MMS permission, …) for this account."""
    ir.async_create_issue(
        hass,
        DOMAIN,
        _issue_id(kind, entry),
        is_fixable=False,
        # The daily limit is the user's own setting doing its job: a warning, not a fault.
        severity=ir.IssueSeverity.WARNING if kind == ISSUE_DAILY_LIMIT_REACHED else ir.IssueSeverity.ERROR,
        translation_key=kind,
        translation_placeholders={"entry_title": entry.title, "panel_url": PANEL_URL, **placeholders},
        learn_more_url=PANEL_URL,
    )


def clear_issue(hass: HomeAssistant, entry: ConfigEntry, kind: str) -> None:
    """Remove the repair issue of `kind` for this account, if shown."""
    ir.async_delete_issue(hass, DOMAIN, _issue_id(kind, entry))


def clear_all_issues(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Remove every repair issue of this account."""
    for kind in (ISSUE_CREDITS_EXHAUSTED, ISSUE_MMS_NOT_PERMITTED, ISSUE_DAILY_LIMIT_REACHED):
        clear_issue(hass, entry, kind)


def clear_send_issues(hass: HomeAssistant, entry: ConfigEntry, queued: int) -> None:
    """A send went through (`queued` > 0): credits and MMS permission are fine again."""
    if queued:
        clear_issue(hass, entry, ISSUE_CREDITS_EXHAUSTED)
        clear_issue(hass, entry, ISSUE_MMS_NOT_PERMITTED)
