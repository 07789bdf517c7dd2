"""SerwerSMS: MMS with camera snapshots and images, through the SerwerSMS.pl HTTPS API v2."""

from __future__ import annotations

import logging
from typing import Any

from homeassistant.const import CONF_PASSWORD, CONF_USERNAME, Platform
from homeassistant.core import HassJob, HomeAssistant
from homeassistant.exceptions import ConfigEntryNotReady, HomeAssistantError
from homeassistant.helpers import config_validation as cv, device_registry as dr, entity_registry as er
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.typing import ConfigType

from .alarm_services import async_setup_alarm_services
from .alarms import AlarmLadder
from .api import DEFAULT_BASE_URL, SerwerSmsClient, SerwerSmsError, SerwerSmsOutcomeUnknownError
from .const import (
    AUTH_TOKEN,
    CONF_API_TOKEN,
    CONF_API_URL,
    CONF_AUTH_METHOD,
    CONF_LEGACY_SERVICE,
    DOMAIN,
    SUBENTRY_RECIPIENT,
)
from .coordinator import CreditsCoordinator, SerwerSmsConfigEntry, SerwerSmsRuntimeData
from .delivery import DeliveryTracker, FallbackOrder, recipients_with_phone
from .entity import account_device_info, recipient_device_info
from .guard import SpendingGuard
from .heartbeat import Heartbeat
from .housekeeping import GatewayHousekeeping
from .issue import clear_all_issues, clear_send_issues
from .legacy_notify import (
    assign_legacy_service_names,
    async_register_legacy_service,
    async_remove_legacy_service,
)
from .lookback import LookbackRecorder
from .mms.channels import MMS
from .mms.deferred import DeferredMms
from .mms.outcome import MmsOutcome, SendAnnouncer
from .mms.sender import MmsRequest, MmsSender
from .mms.uploads import FileIdCache
from .outbox import Outbox, outbox_minutes
from .services import async_setup_services

_LOGGER = logging.getLogger(__name__)

PLATFORMS: list[Platform] = [Platform.EVENT, Platform.NOTIFY, Platform.SENSOR]
CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the integration's actions."""
    async_setup_services(hass)
    async_setup_alarm_services(hass)
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
    """Set up one account: verify it (credits), then its parts, entities and legacy notify service.

    Refused credentials stop it (reauth). A gateway that cannot be reached does not while the outbox
    is on: after a power cut Home Assistant often starts before the router has a connection, and an
    alarm's MMS must then wait in the outbox rather than fail because the account never loaded.

    The account's parts share one lifecycle: built with what they need, `async_load` (storage),
    `async_start` (timers, once the entities exist), `async_stop` (timers off, a request under way
    finished, storage written) — stopped in `async_unload_entry` in the reverse order of the data flow.
    """
    client = create_client(hass, dict(entry.data))
    coordinator = CreditsCoordinator(hass, entry, client)
    try:
        await coordinator.async_config_entry_first_refresh()
    except ConfigEntryNotReady:
        if not outbox_minutes(entry):
            raise
        # The outage itself is logged once by the coordinator; this only says what it means for MMS.
        _LOGGER.info("%s: the gateway cannot be reached; MMS wait in the outbox until it can", entry.title)
    files = FileIdCache(hass, entry.entry_id, client)
    delivery = DeliveryTracker(
        hass, entry, client, on_fallback=lambda order: _async_fallback(hass, entry, order)
    )
    guard = SpendingGuard(hass, entry)
    housekeeping = GatewayHousekeeping(hass, entry, client, files)
    announcer = SendAnnouncer(hass)
    outbox = Outbox(
        hass,
        entry,
        client,
        files,
        announcer=announcer,
        ledger=housekeeping,
        on_give_up=lambda mms, reason: _async_given_up(entry, delivery, mms, reason),
    )
    sender = MmsSender(
        hass, entry, client, files, announcer=announcer, limit=guard, outbox=outbox, ledger=housekeeping
    )
    heartbeat = Heartbeat(hass, entry, client)
    lookback = LookbackRecorder(hass, entry)
    alarms = AlarmLadder(hass, entry, client, sender)
    for part in (files, delivery, guard, housekeeping, outbox, heartbeat, lookback, alarms):
        await part.async_load()
    announcer.async_add_listener(lambda sent: _async_after_send(hass, entry, sent))
    announcer.async_add_listener(delivery.async_follow)
    announcer.async_add_listener(alarms.async_sent)
    # Made here, before any platform: the recipients' devices are reached through it (via_device_id).
    account_device = dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id, **account_device_info(entry)
    )
    entry.runtime_data = SerwerSmsRuntimeData(
        client=client,
        account_device_id=account_device.id,
        coordinator=coordinator,
        files=files,
        sender=sender,
        delivery=delivery,
        guard=guard,
        outbox=outbox,
        housekeeping=housekeeping,
        announcer=announcer,
        heartbeat=heartbeat,
        lookback=lookback,
        alarms=alarms,
    )
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    delivery.async_start()
    guard.async_start()
    housekeeping.async_start()
    outbox.async_start()
    heartbeat.async_start()
    lookback.async_start()
    alarms.async_start()
    # Home Assistant cancels background tasks *before* EVENT_HOMEASSISTANT_STOP: only a shutdown job
    # runs early enough to let the MMS the outbox is sending finish and be recorded as sent.
    entry.async_on_unload(hass.async_add_shutdown_job(HassJob(outbox.async_stop, "serwersms outbox stop")))
    await async_register_legacy_service(hass, entry)
    entry.async_on_unload(lambda: async_remove_legacy_service(hass, entry))
    loaded_shape = _shape(entry)

    async def _async_entry_updated(hass: HomeAssistant, entry: SerwerSmsConfigEntry) -> None:
        # Options are read afresh by every send: only new credentials or recipients need a reload.
        if _shape(entry) != loaded_shape:
            hass.config_entries.async_schedule_reload(entry.entry_id)
        else:
            guard.async_limit_changed()  # a raised limit takes its repair issue away
            heartbeat.async_kick()  # turned on, off or to another period: re-armed at once
            lookback.async_options_changed()  # buffering starts, stops or shrinks at once

    entry.async_on_unload(entry.add_update_listener(_async_entry_updated))
    return True


def _async_after_send(hass: HomeAssistant, entry: SerwerSmsConfigEntry, sent: MmsOutcome) -> None:
    """Count the credits a send used and clear the repair issues it proved wrong."""
    if sent.channel == MMS:
        clear_send_issues(hass, entry, sent.queued)  # MMS credits and permission: not an SMS's business
    if sent.queued and not sent.test:
        entry.runtime_data.coordinator.note_sent(sent.queued, sent.report_type)
    if sent.queued:
        entry.runtime_data.coordinator.async_gateway_answered()
    if sent.queued and not sent.deferred:
        # The gateway answers again: whatever waits in the outbox can go now.
        entry.runtime_data.outbox.async_kick()


def _async_fallback(hass: HomeAssistant, entry: SerwerSmsConfigEntry, order: FallbackOrder) -> None:
    """An MMS did not reach `order.phones`: its fallback goes, through the same send path."""
    entry.async_create_background_task(hass, _async_send_fallback(entry, order), f"{DOMAIN} fallback")


async def _async_send_fallback(entry: SerwerSmsConfigEntry, order: FallbackOrder) -> None:
    request = MmsRequest(
        phones=list(order.phones),
        message=order.plan.text,
        title=order.title,
        channel=order.plan.channel,
        recipient_ids=order.recipients,
        is_fallback=True,
    )
    try:
        await entry.runtime_data.sender.async_send(request)
    except SerwerSmsOutcomeUnknownError:
        # It may have gone out: announced as `unknown` (serwersms_mms_sent), never reported not sent.
        _LOGGER.warning("The %s fallback got no clear answer; it may have been sent", order.plan.channel)
    except (HomeAssistantError, SerwerSmsError) as err:
        # Refused (the daily limit, credits, the gateway) or the account unloading: never silence —
        # each number's delivery event says the fallback was not sent, and why.
        reason = getattr(err, "translation_key", None) or type(err).__name__
        _LOGGER.warning(
            "The %s fallback for %d number(s) was not sent: %s", order.plan.channel, len(order.phones), err
        )
        delivery = entry.runtime_data.delivery
        for phone in order.phones:
            owners = [sub for sub in recipients_with_phone(entry, phone) if sub in order.recipients]
            delivery.async_report_not_sent(
                phone,
                order.title,
                str(reason),
                recipients=owners,
                channel=order.plan.channel,
                is_fallback=True,
            )


def _async_given_up(
    entry: SerwerSmsConfigEntry, delivery: DeliveryTracker, mms: DeferredMms, reason: str
) -> None:
    """An MMS left the outbox unsent: `not_sent` for each number, to the recipients it was sent for."""
    for phone in mms.phones:
        owners = None
        if mms.recipient_ids:
            owners = [sub for sub in recipients_with_phone(entry, phone) if sub in mms.recipient_ids]
        delivery.async_report_not_sent(
            phone, mms.title, reason, recipients=owners, channel=mms.channel, is_fallback=mms.is_fallback
        )


def _shape(entry: SerwerSmsConfigEntry) -> tuple[dict[str, Any], dict[str, tuple[str, dict[str, Any]]]]:
    """What the loaded account was built from: its data, and its recipients' titles and data."""
    return dict(entry.data), {sub_id: (sub.title, dict(sub.data)) for sub_id, sub in entry.subentries.items()}


async def async_migrate_entry(hass: HomeAssistant, entry: SerwerSmsConfigEntry) -> bool:
    """Bring an account stored by an older version up to date, keeping every entity id."""
    if entry.version > 1:
        return False  # stored by a newer version: do not touch it
    if entry.minor_version < 2:
        _migrate_to_recipient_devices(hass, entry)
        names = assign_legacy_service_names(hass.config_entries.async_entries(DOMAIN, include_ignore=False))
        data = {**entry.data}
        if entry.entry_id in names:
            data[CONF_LEGACY_SERVICE] = names[entry.entry_id]
        hass.config_entries.async_update_entry(entry, data=data, minor_version=2)
        _LOGGER.debug("Migrated SerwerSMS account %s to 1.2", entry.entry_id)
    return True


def _migrate_to_recipient_devices(hass: HomeAssistant, entry: SerwerSmsConfigEntry) -> None:
    """1.1 → 1.2: move each recipient's entities from the account's device onto the recipient's own.

    Up to 1.1 every entity sat on the account's one service device, not tied to its subentry. Now
    each recipient has a device linked to its subentry (as core telegram_bot did in its 1.3).
    """
    device_registry = dr.async_get(hass)
    entity_registry = er.async_get(hass)
    account = device_registry.async_get_or_create(
        config_entry_id=entry.entry_id, **account_device_info(entry)
    )
    registered = er.async_entries_for_config_entry(entity_registry, entry.entry_id)
    for subentry_id, subentry in entry.subentries.items():
        if subentry.subentry_type != SUBENTRY_RECIPIENT:
            continue
        device = device_registry.async_get_or_create(
            config_entry_id=entry.entry_id,
            config_subentry_id=subentry_id,
            **recipient_device_info(entry, subentry, account.id),
        )
        for registry_entry in registered:
            if registry_entry.unique_id.startswith(f"{entry.entry_id}_{subentry_id}"):
                entity_registry.async_update_entity(
                    registry_entry.entity_id, config_subentry_id=subentry_id, device_id=device.id
                )


async def async_unload_entry(hass: HomeAssistant, entry: SerwerSmsConfigEntry) -> bool:
    """Unload an account, losing and repeating nothing.

    Sends under way finish first (announced, counted, followed, or written to the outbox), then the
    MMS the outbox is sending; what waits stays on disk. Then each part stops, downstream last, and
    writes its storage: nothing is written after this, so a removed account's files stay removed.
    """
    data = entry.runtime_data
    # No alarm step starts any more; the steps under way finish with the sends below.
    await data.alarms.async_stop()
    if data.lookback is not None:
        await data.lookback.async_stop()  # no more snapshots while the sends under way finish
    await data.sender.async_stop()
    await data.outbox.async_stop()
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    # The heartbeat stops first and stays scheduled at the gateway: Home Assistant stopping is what
    # it is for; the next start replaces it.
    await data.heartbeat.async_stop()
    for part in (data.housekeeping, data.guard, data.delivery, data.files):
        await part.async_stop()
    return unloaded


async def async_remove_entry(hass: HomeAssistant, entry: SerwerSmsConfigEntry) -> None:
    """Forget the account's stored file ids, reports, counts, outbox and repair issues.

    Its scheduled heartbeat is deleted at the gateway first (best effort): nobody would replace it.
    """
    await Heartbeat.async_remove(hass, entry, create_client(hass, dict(entry.data)))
    await FileIdCache.async_remove_store(hass, entry.entry_id)
    await DeliveryTracker.async_remove_store(hass, entry.entry_id)
    await SpendingGuard.async_remove_store(hass, entry.entry_id)
    await GatewayHousekeeping.async_remove_store(hass, entry.entry_id)
    await Outbox.async_remove(hass, entry.entry_id)
    await AlarmLadder.async_remove_store(hass, entry.entry_id)
    clear_all_issues(hass, entry)
