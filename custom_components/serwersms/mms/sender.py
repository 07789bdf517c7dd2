"""The send pipeline: validate → collect attachments → fit → upload (or reuse) → send → respond."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
import hashlib
import logging
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.util import dt as dt_util

from ..api import QUEUED, SendResult, SerwerSmsClient, SerwerSmsError, SerwerSmsNotFoundError
from ..const import (
    CONF_DEFAULT_TITLE,
    CONF_MAX_IMAGE_KB,
    DEFAULT_MAX_IMAGE_KB,
    DEFAULT_TITLE,
    DOMAIN,
    EVENT_MMS_SENT,
    ISSUE_CREDITS_EXHAUSTED,
    ISSUE_MMS_NOT_PERMITTED,
    MAX_ATTACHMENTS,
    MAX_RECIPIENTS,
    MAX_TITLE_LENGTH,
)
from ..errors import gateway_error
from ..issue import clear_issue
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


def invalid(key: str, **placeholders: str) -> ServiceValidationError:
    """A translated caller mistake."""
    return ServiceValidationError(
        translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders or None
    )


class MmsSender:
    """Sends MMS for one account."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        client: SerwerSmsClient,
        files: FileIdCache,
        on_sent: Callable[[int], None],
    ) -> None:
        """Bind the pipeline to one account; `on_sent(queued)` is told how many MMS went out."""
        self._hass = hass
        self._entry = entry
        self._client = client
        self._files = files
        self._on_sent = on_sent
        self._fitted: OrderedDict[tuple[str, int], asyncio.Future[list[FittedImage]]] = OrderedDict()

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
        try:
            return list(
                await asyncio.gather(
                    *(self._files.async_get_or_upload(f.content, f.filename, f.content_type) for f in fitted)
                )
            )
        except SerwerSmsError as err:
            raise gateway_error(self._hass, self._entry, err) from err

    async def _collect_and_fit(self, sources: AttachmentSources, budget: int) -> list[FittedImage]:
        await attachments.check_sources(self._hass, sources)
        found = await attachments.collect(self._hass, sources)
        return await self._fit(found, max(budget, _MIN_IMAGE_BUDGET))

    async def async_prepare(self, sources: AttachmentSources) -> list[UploadedFile]:
        """Check, fetch, fit and upload (or reuse) the attachments of `sources`."""
        return await self._upload(await self._collect_and_fit(sources, self._budget))

    # --- sending -------------------------------------------------------------------------------

    async def async_send(self, request: MmsRequest) -> dict[str, Any]:
        """Send one MMS to every phone of `request`; returns the contract's response object."""
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
            result = await self._send(
                phones, title, file_ids, request, date, lost_files_expected=bool(reused)
            )
        except SerwerSmsNotFoundError:
            # The gateway lost a file we reused (deleted in the panel?): the send was refused as a
            # whole, so upload those files again, once, and send again.
            _LOGGER.info("The gateway no longer has %d reused file(s); uploading them again", len(reused))
            self._files.forget(reused)
            uploaded = await self._upload(fitted)
            file_ids = [f.id for f in uploaded] + list(request.file_ids)
            result = await self._send(phones, title, file_ids, request, date, lost_files_expected=False)
        return self._finish(result, title, uploaded, file_ids, request.test)

    async def _send(
        self,
        phones: list[str],
        title: str,
        file_ids: list[str],
        request: MmsRequest,
        date: datetime | None,
        *,
        lost_files_expected: bool,
    ) -> SendResult:
        try:
            return await self._client.send_mms(
                phones,
                title=title,
                file_ids=file_ids,
                text=request.message or None,
                date=date,
                test=request.test,
            )
        except SerwerSmsNotFoundError as err:
            if lost_files_expected:
                raise
            raise gateway_error(self._hass, self._entry, err) from err
        except SerwerSmsError as err:
            raise gateway_error(self._hass, self._entry, err) from err

    def _finish(
        self, result: SendResult, title: str, uploaded: list[UploadedFile], file_ids: list[str], test: bool
    ) -> dict[str, Any]:
        recipients: list[dict[str, Any]] = []
        for item in result.recipients:
            if item.status == QUEUED:
                recipients.append({"phone": item.phone, "status": item.status, "id": item.id})
            else:
                recipients.append(
                    {
                        "phone": item.phone,
                        "status": item.status,
                        "error_code": item.error_code,
                        "error": item.error_message,
                    }
                )
        if result.queued:
            clear_issue(self._hass, self._entry, ISSUE_CREDITS_EXHAUSTED)
            clear_issue(self._hass, self._entry, ISSUE_MMS_NOT_PERMITTED)
            if not test:
                self._on_sent(result.queued)
        self._hass.bus.async_fire(
            EVENT_MMS_SENT,
            {
                "entry_id": self._entry.entry_id,
                "title": title,
                "queued": result.queued,
                "unsent": result.unsent,
                "test": test,
                "file_ids": file_ids,
                "recipients": [
                    {"phone": r.phone, "status": r.status, "id": r.id, "error_code": r.error_code}
                    for r in result.recipients
                ],
            },
        )
        return {
            "queued": result.queued,
            "unsent": result.unsent,
            "recipients": recipients,
            "files": [f.as_dict() for f in uploaded],
        }
