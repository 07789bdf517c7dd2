"""The send pipeline: validate → collect attachments → fit → upload (or reuse) → send → one outcome.

One run of the pipeline is one MMS send, whatever the number of recipient entities a call targeted.
It raises the client's own errors (`SerwerSmsError`) for gateway failures: the Home Assistant glue
that calls it translates them (see `errors.py`). Whoever needs to know about sends (credits, repair
issues, delivery tracking) registers a listener; the `serwersms_mms_sent` event is fired here only.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
import hashlib
import logging
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.util import dt as dt_util

from ..api import QUEUED, RecipientResult, SendResult, SerwerSmsClient, SerwerSmsNotFoundError
from ..const import (
    CONF_DEFAULT_TITLE,
    CONF_MAX_IMAGE_KB,
    DEFAULT_MAX_IMAGE_KB,
    DEFAULT_TITLE,
    DOMAIN,
    EVENT_MMS_SENT,
    MAX_ATTACHMENTS,
    MAX_RECIPIENTS,
    MAX_TITLE_LENGTH,
)
from . import attachments
from .attachments import Attachment, AttachmentSources
from .images import FittedImage, ImageTooLargeError, NotAnImageError, fit_images
from .recipients import InvalidPhoneNumberError, normalize_phones
from .uploads import FileIdCache, UploadedFile

_LOGGER = logging.getLogger(__name__)

# The gateway turns `text` into a text attachment; keep room for it inside the MMS budget.
_TEXT_OVERHEAD = 512
_MIN_IMAGE_BUDGET = 8 * 1024
_FIT_CACHE_SIZE = 8  # recent fitting results; each at most the MMS budget in size


def _digest(contents: list[bytes]) -> str:
    """One hash over several attachments' bytes, in order."""
    return hashlib.sha256(b"".join(hashlib.sha256(content).digest() for content in contents)).hexdigest()


@dataclass(slots=True)
class MmsRequest:
    """One send, as the caller asked for it."""

    phones: list[str]
    message: str | None = None
    title: str | None = None
    sources: AttachmentSources = field(default_factory=AttachmentSources)
    file_ids: list[str] = field(default_factory=list)
    date: datetime | None = None
    test: bool = False


@dataclass(frozen=True, slots=True)
class MmsOutcome:
    """What one run of the pipeline did: every number's outcome and the files the MMS carried.

    `recipients` are in the order the numbers were given (normalised, each number once); a queued
    number carries the gateway's message id. `files` are the pictures this send uploaded or reused,
    `file_ids` every file the MMS carried (those plus the caller's `file_id`s).
    """

    entry_id: str
    title: str
    test: bool
    date: datetime | None
    recipients: tuple[RecipientResult, ...]
    files: tuple[UploadedFile, ...]
    file_ids: tuple[str, ...]
    deferred: bool = False

    @property
    def queued(self) -> int:
        """How many numbers the gateway accepted."""
        return sum(1 for item in self.recipients if item.status == QUEUED)

    @property
    def unsent(self) -> int:
        """How many numbers were not accepted (refused, or with an unknown outcome)."""
        return len(self.recipients) - self.queued

    def response(self, phones: Sequence[str] | None = None) -> dict[str, Any]:
        """The contract's response object for the normalised `phones`, in their order (default: all)."""
        if phones is None:
            chosen = list(self.recipients)
        else:
            by_phone = {r.phone: r for r in self.recipients}
            chosen = [by_phone[phone] for phone in dict.fromkeys(phones) if phone in by_phone]
        queued = sum(1 for r in chosen if r.status == QUEUED)
        return {
            "queued": queued,
            "unsent": len(chosen) - queued,
            "recipients": [_recipient_response(r) for r in chosen],
            "files": [f.as_dict() for f in self.files],
        }

    def event_data(self) -> dict[str, Any]:
        """The `serwersms_mms_sent` event's data (no secrets: numbers, ids and counts only)."""
        return {
            "entry_id": self.entry_id,
            "title": self.title,
            "queued": self.queued,
            "unsent": self.unsent,
            "test": self.test,
            "deferred": self.deferred,
            "file_ids": list(self.file_ids),
            "recipients": [
                {"phone": r.phone, "status": r.status, "id": r.id, "error_code": r.error_code}
                for r in self.recipients
            ],
        }


def _recipient_response(item: RecipientResult) -> dict[str, Any]:
    if item.status == QUEUED:
        return {"phone": item.phone, "status": item.status, "id": item.id}
    return {
        "phone": item.phone,
        "status": item.status,
        "error_code": item.error_code,
        "error": item.error_message,
    }


type SendListener = Callable[[MmsOutcome], None]


def invalid(key: str, **placeholders: str) -> ServiceValidationError:
    """A translated caller mistake."""
    return ServiceValidationError(
        translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders or None
    )


class MmsSender:
    """Sends MMS for one account."""

    def __init__(
        self, hass: HomeAssistant, entry: ConfigEntry, client: SerwerSmsClient, files: FileIdCache
    ) -> None:
        """Bind the pipeline to one account."""
        self._hass = hass
        self._entry = entry
        self._client = client
        self._files = files
        self._listeners: list[SendListener] = []
        self._fitted: OrderedDict[tuple[str, int], asyncio.Future[list[FittedImage]]] = OrderedDict()

    @callback
    def async_add_listener(self, listener: SendListener) -> Callable[[], None]:
        """Call `listener(outcome)` after every completed send; returns a function that stops it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    # --- validation ----------------------------------------------------------------------------

    def _title(self, title: str | None) -> str:
        chosen = title if title else self._entry.options.get(CONF_DEFAULT_TITLE, DEFAULT_TITLE)
        if len(chosen) > MAX_TITLE_LENGTH:
            raise invalid("title_too_long", length=str(len(chosen)), max=str(MAX_TITLE_LENGTH))
        return str(chosen)

    @staticmethod
    def _phones(raw: list[str]) -> list[str]:
        try:
            phones = normalize_phones(raw)
        except InvalidPhoneNumberError as err:
            raise invalid("invalid_phone", number=err.number) from err
        if not phones:
            raise invalid("no_recipients")
        if len(phones) > MAX_RECIPIENTS:
            raise invalid("too_many_recipients", count=str(len(phones)), max=str(MAX_RECIPIENTS))
        return phones

    @staticmethod
    def _date(value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt_util.get_default_time_zone())
        if value <= dt_util.now():
            raise invalid("date_in_past", date=value.isoformat())
        return value

    # --- attachments ---------------------------------------------------------------------------

    @property
    def _budget(self) -> int:
        return int(self._entry.options.get(CONF_MAX_IMAGE_KB, DEFAULT_MAX_IMAGE_KB)) * 1024

    async def _fit(self, found: list[Attachment], budget: int) -> list[FittedImage]:
        """Fit in the executor; identical inputs (a burst of sends of one snapshot) are fitted once."""
        # Hashing megabytes of snapshots would stall the loop: do it in the executor too.
        key = (await self._hass.async_add_executor_job(_digest, [i.content for i in found]), budget)
        job = self._fitted.get(key)
        if job is None:
            job = self._hass.async_add_executor_job(
                fit_images, [(i.content, i.filename) for i in found], budget
            )
            self._fitted[key] = job
            while len(self._fitted) > _FIT_CACHE_SIZE:
                self._fitted.popitem(last=False)
        else:
            self._fitted.move_to_end(key)
        try:
            return await asyncio.shield(job)
        except NotAnImageError as err:
            self._fitted.pop(key, None)
            raise invalid("not_an_image") from err
        except ImageTooLargeError as err:
            self._fitted.pop(key, None)
            raise invalid("image_too_large") from err

    async def _upload(self, fitted: list[FittedImage]) -> list[UploadedFile]:
        return list(
            await asyncio.gather(
                *(self._files.async_get_or_upload(f.content, f.filename, f.content_type) for f in fitted)
            )
        )

    async def _collect_and_fit(self, sources: AttachmentSources, budget: int) -> list[FittedImage]:
        await attachments.check_sources(self._hass, sources)
        found = await attachments.collect(self._hass, sources)
        return await self._fit(found, max(budget, _MIN_IMAGE_BUDGET))

    async def async_prepare(self, sources: AttachmentSources) -> list[UploadedFile]:
        """Check, fetch, fit and upload (or reuse) the attachments of `sources`."""
        return await self._upload(await self._collect_and_fit(sources, self._budget))

    # --- sending -------------------------------------------------------------------------------

    async def async_send(self, request: MmsRequest) -> MmsOutcome:
        """Send one MMS to every number of `request` (each once); tell the listeners what happened."""
        title = self._title(request.title)
        attachment_count = len(request.sources) + len(request.file_ids)
        if attachment_count > MAX_ATTACHMENTS:
            raise invalid("too_many_attachments", count=str(attachment_count), max=str(MAX_ATTACHMENTS))
        if not request.message and attachment_count == 0:
            raise invalid("empty_message")
        phones = self._phones(request.phones)
        date = self._date(request.date)
        text_bytes = len(request.message.encode()) + _TEXT_OVERHEAD if request.message else 0
        fitted = await self._collect_and_fit(request.sources, self._budget - text_bytes)
        uploaded = await self._upload(fitted)
        file_ids = [f.id for f in uploaded] + list(request.file_ids)
        reused = {f.id for f in uploaded if not f.uploaded}
        try:
            result = await self._send(phones, title, file_ids, request, date)
        except SerwerSmsNotFoundError:
            if not reused:
                raise
            # The gateway lost a file we reused (deleted in the panel?): the send was refused as a
            # whole, so upload those files again, once, and send again.
            _LOGGER.info("The gateway no longer has %d reused file(s); uploading them again", len(reused))
            self._files.forget(reused)
            uploaded = await self._upload(fitted)
            file_ids = [f.id for f in uploaded] + list(request.file_ids)
            result = await self._send(phones, title, file_ids, request, date)
        outcome = MmsOutcome(
            entry_id=self._entry.entry_id,
            title=title,
            test=request.test,
            date=date,
            recipients=result.recipients,
            files=tuple(uploaded),
            file_ids=tuple(file_ids),
        )
        self._async_completed(outcome)
        return outcome

    async def _send(
        self, phones: list[str], title: str, file_ids: list[str], request: MmsRequest, date: datetime | None
    ) -> SendResult:
        return await self._client.send_mms(
            phones,
            title=title,
            file_ids=file_ids,
            text=request.message or None,
            date=date,
            test=request.test,
        )

    @callback
    def _async_completed(self, outcome: MmsOutcome) -> None:
        """Tell the listeners, then the bus: the one place a completed send is announced."""
        for listener in list(self._listeners):
            try:
                listener(outcome)
            except Exception:
                _LOGGER.exception("A send listener failed")
        self._hass.bus.async_fire(EVENT_MMS_SENT, outcome.event_data())
