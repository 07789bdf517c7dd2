"""The integration's actions: send_mms, send_sms, call (batched entity actions), upload_file, list_files."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from functools import partial
from typing import Any

from homeassistant.components.notify.const import DOMAIN as NOTIFY_DOMAIN
from homeassistant.core import (
    EntityServiceResponse,
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.helpers import config_validation as cv, service
from homeassistant.helpers.entity import Entity
import probatio as vol

from .api import SerwerSmsError
from .const import (
    ATTR_CAMERA,
    ATTR_CONFIG_ENTRY_ID,
    ATTR_COOLDOWN,
    ATTR_DATE,
    ATTR_FALLBACK,
    ATTR_FALLBACK_AFTER,
    ATTR_FILE,
    ATTR_FLASH,
    ATTR_MEDIA,
    ATTR_MESSAGE_KEY,
    ATTR_PRIORITY,
    ATTR_TAG,
    ATTR_TEST,
    ATTR_TITLE_KEY,
    ATTR_URL,
    ATTR_VERIFY_SSL,
    CONF_DEFAULT_TITLE,
    CONF_SMS_SENDER,
    DEFAULT_TITLE,
    DOMAIN,
    MAX_COOLDOWN,
)
from .coordinator import SerwerSmsConfigEntry
from .errors import gateway_error, gateway_errors_translated, invalid
from .guard import CooldownMark
from .mms.attachments import AttachmentSources, media_content_id
from .mms.channels import (
    CALL,
    DEFAULT_FALLBACK_AFTER,
    FALLBACK_CHANNELS,
    MAX_FALLBACK_AFTER,
    MIN_FALLBACK_AFTER,
    MMS,
    SMS,
    FallbackPlan,
    TextOptions,
    report_type,
)
from .mms.recipients import InvalidPhoneNumberError, normalize_phone
from .mms.sender import MmsRequest
from .notify import RecipientNotifyEntity
from .schemas import ATTACHMENT_FIELDS, build_request

SERVICE_SEND_MMS = "send_mms"
SERVICE_SEND_SMS = "send_sms"
SERVICE_CALL = "call"
# The response of a recipient whose cooldown suppressed the send (an SMS's or a call's has no files).
SUPPRESSED: dict[str, Any] = {"suppressed": True, "queued": 0, "unsent": 0, "recipients": [], "files": []}
SUPPRESSED_TEXT: dict[str, Any] = {"suppressed": True, "queued": 0, "unsent": 0, "recipients": []}
# What the gateway calls the services, for `service_not_available`.
_SERVICE_NAMES = {"eco": "ECO SMS", "full": "FULL SMS", "voice": "voice calls"}
SERVICE_UPLOAD_FILE = "upload_file"
SERVICE_LIST_FILES = "list_files"

SEND_MMS_SCHEMA = cv.make_entity_service_schema(
    {
        vol.Optional(ATTR_MESSAGE_KEY): cv.string,
        vol.Optional(ATTR_TITLE_KEY): cv.string,
        # A number here, its range checked in code: a `vol.Range` here would refuse 86401 with
        # voluptuous's English text ("value must be at most …"), which Home Assistant passes on
        # untranslated; the contract wants every refusal in the user's language (`invalid_cooldown`).
        vol.Optional(ATTR_COOLDOWN): vol.Coerce(float),
        vol.Optional(ATTR_TAG): cv.string,
        # Checked in code too, for a translated refusal (see `_fallback_plan`).
        vol.Optional(ATTR_FALLBACK): cv.string,
        vol.Optional(ATTR_FALLBACK_AFTER): vol.Coerce(float),
        **ATTACHMENT_FIELDS,
    }
)
_TEXT_FIELDS: dict[vol.Marker, Any] = {
    # `message` is required in the action's form; checked in code, so a missing one is refused in the
    # user's language (`empty_message`) rather than by the schema.
    vol.Optional(ATTR_MESSAGE_KEY): cv.string,
    vol.Optional(ATTR_DATE): cv.datetime,
    vol.Optional(ATTR_TEST, default=False): cv.boolean,
    vol.Optional(ATTR_COOLDOWN): vol.Coerce(float),
    vol.Optional(ATTR_TAG): cv.string,
}
SEND_SMS_SCHEMA = cv.make_entity_service_schema(
    {
        **_TEXT_FIELDS,
        vol.Optional(ATTR_FLASH, default=False): cv.boolean,
        vol.Optional(ATTR_PRIORITY, default=False): cv.boolean,
    }
)
CALL_SCHEMA = cv.make_entity_service_schema(_TEXT_FIELDS)
UPLOAD_FILE_SCHEMA = vol.Schema(
    {
        vol.Optional(ATTR_CONFIG_ENTRY_ID): cv.string,
        vol.Optional(ATTR_CAMERA): cv.string,
        vol.Optional(ATTR_MEDIA): vol.Any(cv.string, dict),
        vol.Optional(ATTR_FILE): cv.string,
        vol.Optional(ATTR_URL): cv.string,
        vol.Optional(ATTR_VERIFY_SSL, default=True): cv.boolean,
    }
)
LIST_FILES_SCHEMA = vol.Schema({vol.Optional(ATTR_CONFIG_ENTRY_ID): cv.string})


def account_of(call: ServiceCall) -> SerwerSmsConfigEntry:
    """The account a call names (`config_entry_id`), or the only one; a translated error otherwise."""
    entry: SerwerSmsConfigEntry = service.async_get_config_entry(
        call.hass, DOMAIN, call.data.get(ATTR_CONFIG_ENTRY_ID)
    )
    return entry


def _own_numbers(entity: RecipientNotifyEntity) -> list[str]:
    """The recipient's numbers as the pipeline reports them (normalised)."""
    numbers = []
    for phone in entity.phones:
        try:
            numbers.append(normalize_phone(phone))
        except InvalidPhoneNumberError:
            continue  # refused by the send itself before anything left; nothing to report
    return numbers


def _mms_request(entry: SerwerSmsConfigEntry, call: ServiceCall) -> MmsRequest:
    request = build_request([], call.data.get(ATTR_MESSAGE_KEY), call.data.get(ATTR_TITLE_KEY), call.data)
    request.fallback = _fallback_plan(entry, call.data)
    return request


def _fallback_plan(entry: SerwerSmsConfigEntry, data: dict[str, Any]) -> FallbackPlan | None:
    """The MMS's fallback as the caller asked (its text is the MMS's title and message, set by the sender)."""
    channel = data.get(ATTR_FALLBACK)
    after = float(data.get(ATTR_FALLBACK_AFTER, DEFAULT_FALLBACK_AFTER))
    if not MIN_FALLBACK_AFTER <= after <= MAX_FALLBACK_AFTER:
        raise invalid(
            "invalid_fallback_after",
            value=f"{after:g}",
            min=str(MIN_FALLBACK_AFTER),
            max=str(MAX_FALLBACK_AFTER),
        )
    if not channel:
        return None
    if channel not in FALLBACK_CHANNELS:
        raise invalid("invalid_fallback", value=str(channel))
    check_service(entry, channel)
    return FallbackPlan(channel, after, "")


def check_service(entry: SerwerSmsConfigEntry, channel: str) -> None:
    """Refuse, before any request, a channel the account's limits say it does not have."""
    service = report_type(channel, entry.options.get(CONF_SMS_SENDER) or None)
    limit = entry.runtime_data.coordinator.limit(service)
    # Unknown (no poll answered yet): the gateway decides, and its refusal is translated as usual.
    if limit is not None and not limit.available:
        raise invalid("service_not_available", service=_SERVICE_NAMES.get(service, service))


def _text_request(channel: str, entry: SerwerSmsConfigEntry, call: ServiceCall) -> MmsRequest:
    check_service(entry, channel)
    return MmsRequest(
        phones=[],
        message=call.data.get(ATTR_MESSAGE_KEY) or None,
        date=call.data.get(ATTR_DATE),
        test=bool(call.data.get(ATTR_TEST, False)),
        channel=channel,
        text_options=TextOptions(
            flash=bool(call.data.get(ATTR_FLASH, False)), priority=bool(call.data.get(ATTR_PRIORITY, False))
        ),
    )


async def _send_to_account(
    recipients: list[RecipientNotifyEntity],
    call: ServiceCall,
    build: Callable[[SerwerSmsConfigEntry, ServiceCall], MmsRequest] = _mms_request,
) -> EntityServiceResponse:
    """One send for every targeted recipient of one account; each entity sees its own numbers."""
    entry: SerwerSmsConfigEntry = recipients[0].entry
    responses: EntityServiceResponse = {}
    cooldown = float(call.data.get(ATTR_COOLDOWN, 0))
    if not 0 <= cooldown <= MAX_COOLDOWN:
        raise invalid("invalid_cooldown", cooldown=f"{cooldown:g}", max=str(MAX_COOLDOWN))
    request = build(entry, call)
    request.context = call.context
    suppressed = SUPPRESSED if request.channel == MMS else SUPPRESSED_TEXT
    # Cooldown first: a suppressed recipient costs no snapshot, no upload and no request.
    sending = list(recipients)
    if not request.test:
        # Every real send is marked, so a later call's cooldown also counts sends made without one.
        if request.channel == MMS:
            tag = str(
                call.data.get(ATTR_TAG)
                or request.title
                or entry.options.get(CONF_DEFAULT_TITLE, DEFAULT_TITLE)
            )
        else:
            # An SMS or a call has no title: by default its tag is its channel and text.
            tag = str(call.data.get(ATTR_TAG) or f"{request.channel}:{request.message or ''}")
        marks = await entry.runtime_data.guard.async_begin(
            [entity.subentry.subentry_id for entity in recipients], tag, cooldown
        )
        sending = [entity for entity in recipients if entity.subentry.subentry_id in marks]
        responses.update(
            (entity.entity_id, dict(suppressed)) for entity in recipients if entity not in sending
        )
        if not sending:
            return responses
        request.on_settled = partial(_settle_marks, sending, marks)
    request.phones = [phone for entity in sending for phone in entity.phones]
    request.recipient_ids = tuple(entity.subentry.subentry_id for entity in sending)
    with gateway_errors_translated(call.hass, entry):
        sent = await entry.runtime_data.sender.async_send(request)
    for entity in sending:
        entity.async_record_sent()
        responses[entity.entity_id] = sent.response(_own_numbers(entity))
    return responses


def _settle_marks(
    sending: list[RecipientNotifyEntity], marks: dict[str, CooldownMark], counted: Collection[str]
) -> None:
    """A recipient's cooldown starts when one of its numbers counts (went out, waits, may have gone).

    Told by the pipeline once the send is over, even when this call was cancelled meanwhile.
    """
    for entity in sending:
        mark = marks[entity.subentry.subentry_id]
        if any(phone in counted for phone in _own_numbers(entity)):
            mark.keep()
        else:
            mark.undo()  # refused, or nothing went out: the cooldown did not start


async def _send_mms(entities: list[Entity], call: ServiceCall) -> EntityServiceResponse:
    """serwersms.send_mms: one pipeline run per account, however many recipient entities it targets."""
    return await _send_by_account(entities, call, _mms_request)


async def _send_sms(entities: list[Entity], call: ServiceCall) -> EntityServiceResponse:
    """serwersms.send_sms: one SMS send per account, however many recipient entities it targets."""
    return await _send_by_account(entities, call, partial(_text_request, SMS))


async def _call(entities: list[Entity], call: ServiceCall) -> EntityServiceResponse:
    """serwersms.call: one call send per account (the gateway reads the message out)."""
    return await _send_by_account(entities, call, partial(_text_request, CALL))


async def _send_by_account(
    entities: list[Entity],
    call: ServiceCall,
    build: Callable[[SerwerSmsConfigEntry, ServiceCall], MmsRequest],
) -> EntityServiceResponse:
    by_account: dict[str, list[RecipientNotifyEntity]] = {}
    for entity in entities:
        if isinstance(entity, RecipientNotifyEntity):
            by_account.setdefault(entity.entry.entry_id, []).append(entity)
    outcomes = await asyncio.gather(
        *(_send_to_account(group, call, build) for group in by_account.values()), return_exceptions=True
    )
    responses: EntityServiceResponse = {}
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
        responses.update(outcome)
    return responses


async def _upload_file(call: ServiceCall) -> ServiceResponse:
    entry = account_of(call)
    given = [key for key in (ATTR_CAMERA, ATTR_MEDIA, ATTR_FILE, ATTR_URL) if call.data.get(key)]
    if len(given) != 1:
        raise invalid("exactly_one_source")
    value = call.data[given[0]]
    sources = AttachmentSources(verify_ssl=call.data[ATTR_VERIFY_SSL])
    match given[0]:
        case "camera":
            sources.cameras.append(value)
        case "media":
            sources.media.append(media_content_id(value))
        case "file":
            sources.files.append(value)
        case _:
            sources.urls.append(value)
    with gateway_errors_translated(call.hass, entry):
        uploaded = await entry.runtime_data.sender.async_prepare(sources)
    return uploaded[0].as_dict()


async def _list_files(call: ServiceCall) -> ServiceResponse:
    entry = account_of(call)
    try:
        files = await entry.runtime_data.client.list_files()
    except SerwerSmsError as err:
        raise gateway_error(call.hass, entry, err) from err
    listed: list[Any] = [
        {"id": f.id, "name": f.name, "size": f.size, "type": f.type, "date": f.date} for f in files
    ]
    return {"files": listed}


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the actions once, whatever the number of accounts."""
    service.async_register_batched_platform_entity_service(
        hass,
        DOMAIN,
        SERVICE_SEND_MMS,
        entity_domain=NOTIFY_DOMAIN,
        schema=SEND_MMS_SCHEMA,
        func=_send_mms,
        supports_response=SupportsResponse.OPTIONAL,
    )
    for name, schema, func in (
        (SERVICE_SEND_SMS, SEND_SMS_SCHEMA, _send_sms),
        (SERVICE_CALL, CALL_SCHEMA, _call),
    ):
        service.async_register_batched_platform_entity_service(
            hass,
            DOMAIN,
            name,
            entity_domain=NOTIFY_DOMAIN,
            schema=schema,
            func=func,
            supports_response=SupportsResponse.OPTIONAL,
        )
    hass.services.async_register(
        DOMAIN,
        SERVICE_UPLOAD_FILE,
        _upload_file,
        schema=UPLOAD_FILE_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_LIST_FILES,
        _list_files,
        schema=LIST_FILES_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )
