"""The alarm actions: raise_alarm (an escalation ladder, checked in full before step 1) and acknowledge."""

from __future__ import annotations

from typing import Any

from homeassistant.components.notify.const import DOMAIN as NOTIFY_DOMAIN
from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse, callback
from homeassistant.helpers import config_validation as cv, entity_registry as er
import probatio as vol

from .alarms import (
    DEFAULT_WAIT,
    MAX_REPEAT,
    MAX_WAIT,
    MIN_WAIT,
    AlarmSpec,
    AlarmStep,
    call_step_text,
    instruction_text,
    sms_step_text,
)
from .api import MAX_CALL_TEXT, MAX_SMS_TEXT
from .const import (
    ATTR_CONFIG_ENTRY_ID,
    ATTR_DATE,
    ATTR_MESSAGE_KEY,
    ATTR_TEST,
    ATTR_TITLE_KEY,
    CONF_DEFAULT_TITLE,
    DEFAULT_TITLE,
    DOMAIN,
    MAX_ATTACHMENTS,
    MAX_TITLE_LENGTH,
    SUBENTRY_RECIPIENT,
)
from .coordinator import SerwerSmsConfigEntry
from .errors import invalid
from .mms import attachments
from .mms.channels import CALL, CHANNELS, MMS, SMS
from .schemas import ATTACHMENT_FIELDS, build_request
from .services import account_of, check_service

SERVICE_RAISE_ALARM = "raise_alarm"
SERVICE_ACKNOWLEDGE = "acknowledge"
ATTR_STEPS = "steps"
ATTR_REPEAT = "repeat"
ATTR_ALARM_ID = "alarm_id"
# An alarm's pictures are those of send_mms, without a schedule or test mode (an alarm is now, and real).
ALARM_PICTURE_FIELDS: dict[vol.Marker, Any] = {
    marker: value for marker, value in ATTACHMENT_FIELDS.items() if str(marker) not in (ATTR_DATE, ATTR_TEST)
}
RAISE_ALARM_SCHEMA = vol.Schema(
    {
        vol.Optional(ATTR_CONFIG_ENTRY_ID): cv.string,
        vol.Optional(ATTR_TITLE_KEY): cv.string,
        vol.Optional(ATTR_MESSAGE_KEY): cv.string,
        # The steps' shape, channels, waits and recipients, and `repeat`, are checked in code (translated).
        vol.Optional(ATTR_STEPS): cv.ensure_list,
        vol.Optional(ATTR_REPEAT): vol.Any(int, float, str),
        **ALARM_PICTURE_FIELDS,
    }
)
ACKNOWLEDGE_SCHEMA = vol.Schema(
    {vol.Optional(ATTR_CONFIG_ENTRY_ID): cv.string, vol.Optional(ATTR_ALARM_ID): cv.string}
)


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _alarm_recipients(
    hass: HomeAssistant, entry: SerwerSmsConfigEntry, number: int, raw: Any
) -> tuple[str, ...]:
    """A step's recipient notify entities → their subentry ids; each must be a recipient of `entry`."""
    entity_ids = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
    if not entity_ids:
        raise invalid("alarm_step_no_recipients", step=str(number))
    registry = er.async_get(hass)
    chosen: list[str] = []
    for entity_id in entity_ids:
        found = registry.async_get(str(entity_id)) if isinstance(entity_id, str) else None
        subentry_id = found.config_subentry_id if found is not None else None
        if (
            found is None
            or found.config_entry_id != entry.entry_id
            or found.domain != NOTIFY_DOMAIN
            or subentry_id is None
            or subentry_id not in entry.subentries
            or entry.subentries[subentry_id].subentry_type != SUBENTRY_RECIPIENT
        ):
            raise invalid("alarm_recipient_invalid", entity_id=str(entity_id), step=str(number))
        if subentry_id not in chosen:
            chosen.append(subentry_id)
    return tuple(chosen)


def _alarm_steps(hass: HomeAssistant, entry: SerwerSmsConfigEntry, raw: Any) -> tuple[AlarmStep, ...]:
    if not raw:
        raise invalid("alarm_no_steps")
    steps: list[AlarmStep] = []
    for number, given in enumerate(raw, start=1):
        if not isinstance(given, dict):
            raise invalid("alarm_step_invalid", step=str(number))
        channel = given.get("channel", MMS)
        if channel not in CHANNELS:
            raise invalid("alarm_channel_invalid", step=str(number), value=str(channel))
        wait = _number(given.get("wait", DEFAULT_WAIT))
        if wait is None or not MIN_WAIT <= wait <= MAX_WAIT:
            raise invalid(
                "alarm_wait_out_of_range",
                step=str(number),
                value=str(given.get("wait")),
                min=str(MIN_WAIT),
                max=str(MAX_WAIT),
            )
        recipients = _alarm_recipients(hass, entry, number, given.get("recipients"))
        steps.append(AlarmStep(recipients, str(channel), wait))
    return tuple(steps)


async def _alarm_spec(hass: HomeAssistant, entry: SerwerSmsConfigEntry, data: dict[str, Any]) -> AlarmSpec:
    """A `raise_alarm` call checked in full, before anything is sent: each refusal translated."""
    steps = _alarm_steps(hass, entry, data.get(ATTR_STEPS))
    repeat = _number(data.get(ATTR_REPEAT, 0))
    if repeat is None or repeat != int(repeat) or not 0 <= repeat <= MAX_REPEAT:
        raise invalid("alarm_repeat_out_of_range", value=str(data.get(ATTR_REPEAT)), max=str(MAX_REPEAT))
    title = str(data.get(ATTR_TITLE_KEY) or entry.options.get(CONF_DEFAULT_TITLE, DEFAULT_TITLE))
    if len(title) > MAX_TITLE_LENGTH:
        raise invalid("title_too_long", length=str(len(title)), max=str(MAX_TITLE_LENGTH))
    message = (data.get(ATTR_MESSAGE_KEY) or "").strip() or None
    pictures = {str(marker): data[str(marker)] for marker in ALARM_PICTURE_FIELDS if str(marker) in data}
    request = build_request([], message, title, pictures)  # checks frames, interval, frames_as
    count = len(request.sources) + len(request.file_ids)
    if count > MAX_ATTACHMENTS:
        raise invalid("too_many_attachments", count=str(count), max=str(MAX_ATTACHMENTS))
    await attachments.check_sources(hass, request.sources)
    language = hass.config.language
    channels = {step.channel for step in steps}
    if MMS in channels and not message and not count:
        raise invalid("empty_message")
    texts = [instruction_text(title, language)]
    if SMS in channels:
        texts.append(sms_step_text(title, message, language))
    for text in texts:
        if len(text) > MAX_SMS_TEXT:
            raise invalid("sms_too_long", length=str(len(text)), max=str(MAX_SMS_TEXT))
    if CALL in channels and len(spoken := call_step_text(title, message)) > MAX_CALL_TEXT:
        raise invalid("call_text_too_long", length=str(len(spoken)), max=str(MAX_CALL_TEXT))
    for channel in channels | {SMS}:
        check_service(entry, channel)
    return AlarmSpec(title, message, pictures, steps, int(repeat))


async def _raise_alarm(call: ServiceCall) -> ServiceResponse:
    """serwersms.raise_alarm: checked in full, then step 1 starts; the response carries the alarm's id."""
    entry = account_of(call)
    spec = await _alarm_spec(call.hass, entry, dict(call.data))
    alarm_id = await entry.runtime_data.alarms.async_raise(spec)
    return {"alarm_id": alarm_id}


async def _acknowledge(call: ServiceCall) -> ServiceResponse:
    """serwersms.acknowledge: one alarm by id, or every open alarm of the account (of every account)."""
    alarm_id = call.data.get(ATTR_ALARM_ID)
    if call.data.get(ATTR_CONFIG_ENTRY_ID):
        entries: list[SerwerSmsConfigEntry] = [account_of(call)]
    else:
        entries = list(call.hass.config_entries.async_loaded_entries(DOMAIN))
    if alarm_id:
        for entry in entries:
            if entry.runtime_data.alarms.has_open(alarm_id):
                done: list[Any] = list(entry.runtime_data.alarms.async_acknowledge(alarm_id))
                return {"acknowledged": done}
        raise invalid("alarm_not_open", alarm_id=str(alarm_id))
    acknowledged: list[Any] = [i for entry in entries for i in entry.runtime_data.alarms.async_acknowledge()]
    return {"acknowledged": acknowledged}


@callback
def async_setup_alarm_services(hass: HomeAssistant) -> None:
    """Register raise_alarm and acknowledge once, whatever the number of accounts."""
    hass.services.async_register(
        DOMAIN,
        SERVICE_RAISE_ALARM,
        _raise_alarm,
        schema=RAISE_ALARM_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_ACKNOWLEDGE,
        _acknowledge,
        schema=ACKNOWLEDGE_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
