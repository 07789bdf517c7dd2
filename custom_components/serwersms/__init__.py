"""SerwerSMS: MMS with camera snapshots and images, through the SerwerSMS.pl HTTPS API v2."""

from __future__ import annotations

from homeassistant.const import CONF_PASSWORD, CONF_USERNAME, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.typing import ConfigType

from .api import DEFAULT_BASE_URL, SerwerSmsClient
from .const import AUTH_TOKEN, CONF_API_TOKEN, CONF_API_URL, CONF_AUTH_METHOD, DOMAIN
from .coordinator import CreditsCoordinator, SerwerSmsConfigEntry, SerwerSmsRuntimeData
from .entity import account_device_info
from .issue import clear_all_issues, clear_send_issues
from .legacy_notify import async_register_legacy_service, async_remove_legacy_service
from .mms.sender import MmsOutcome, MmsSender
from .mms.uploads import FileIdCache
from .services import async_setup_services

PLATFORMS: list[Platform] = [Platform.NOTIFY, Platform.SENSOR]
CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the integration's actions."""
    async_setup_services(hass)
    return True


def create_client(hass: HomeAssistant, data: dict[str, str] | ConfigType) -> SerwerSmsClient:
    """A client for the account described by config entry `data`, on Home Assistant's shared session."""
    session = async_get_clientsession(hass)
    base_url = data.get(CONF_API_URL) or DEFAULT_BASE_URL
    if data.get(CONF_AUTH_METHOD, AUTH_TOKEN) == AUTH_TOKEN:
        return SerwerSmsClient(session, token=data[CONF_API_TOKEN], base_url=base_url)
    return SerwerSmsClient(
        session, username=data[CONF_USERNAME], password=data[CONF_PASSWORD], base_url=base_url
    )


async def async_setup_entry(hass: HomeAssistant, entry: SerwerSmsConfigEntry) -> bool:
    """Set up one account: verify it (credits), then its entities and legacy notify service."""
    client = create_client(hass, dict(entry.data))
    coordinator = CreditsCoordinator(hass, entry, client)
    await coordinator.async_config_entry_first_refresh()
    files = FileIdCache(hass, entry.entry_id, client)
    await files.async_load()
    sender = MmsSender(hass, entry, client, files)
    entry.async_on_unload(sender.async_add_listener(lambda sent: _async_after_send(hass, entry, sent)))
    # Made here, before any platform: the recipients' devices are reached through it (via_device_id).
    account_device = dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id, **account_device_info(entry)
    )
    entry.runtime_data = SerwerSmsRuntimeData(client, account_device.id, coordinator, files, sender)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    async_register_legacy_service(hass, entry)
    entry.async_on_unload(lambda: async_remove_legacy_service(hass, entry))
    entry.async_on_unload(entry.add_update_listener(_async_reload))
    entry.async_on_unload(files.async_save)
    return True


def _async_after_send(hass: HomeAssistant, entry: SerwerSmsConfigEntry, sent: MmsOutcome) -> None:
    """Count the credits a send used and clear the repair issues it proved wrong."""
    clear_send_issues(hass, entry, sent.queued)
    if sent.queued and not sent.test:
        entry.runtime_data.coordinator.note_sent(sent.queued)


async def _async_reload(hass: HomeAssistant, entry: SerwerSmsConfigEntry) -> None:
    """Options or recipients changed: reload so entities follow without a restart."""
    hass.config_entries.async_schedule_reload(entry.entry_id)


async def async_unload_entry(hass: HomeAssistant, entry: SerwerSmsConfigEntry) -> bool:
    """Unload an account."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(hass: HomeAssistant, entry: SerwerSmsConfigEntry) -> None:
    """Forget the account's stored file ids and repair issues."""
    await FileIdCache.async_remove_store(hass, entry.entry_id)
    clear_all_issues(hass, entry)
