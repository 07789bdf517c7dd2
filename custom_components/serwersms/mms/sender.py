"""The send pipeline: validate → collect attachments → fit → upload (or reuse) → send → one outcome.

One run of the pipeline is one MMS send, whatever the number of recipient entities a call targeted.
It raises the client's own errors (`SerwerSmsError`) for gateway failures: the Home Assistant glue
that calls it translates them (see `errors.py`). Whoever needs to know about sends (credits, repair
issues, delivery tracking) registers a listener; the `serwersms_mms_sent` event is fired here only.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
import logging
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.util import dt as dt_util

from ..api import (
    QUEUED,
    UNKNOWN,
    UNSENT,
    BatchOutcome,
    RecipientResult,
    SerwerSmsApiError,
    SerwerSmsAuthError,
    SerwerSmsClient,
    SerwerSmsConnectionError,
    SerwerSmsError,
    SerwerSmsNotFoundError,
    SerwerSmsNotReachedError,
    SerwerSmsOutcomeUnknownError,
    SerwerSmsRateLimitError,
    SerwerSmsResponseError,
    SerwerSmsServerError,
    is_refusal,
    merge_batches,
)
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
from . import attachments, fitting, motion
from .attachments import AttachmentSources
from .deferred import (
    DEFERRED,
    DailyLimit,
    DeferredMms,
    DeferredPicture,
    Deferrer,
    Reservation,
    RetryLaterError,
    UploadLedger,
)
from .fitting import FitItem, fit_all
from .images import FittedImage, ImageTooLargeError, NotAnImageError
from .picture_queue import async_get_picture_queue
from .recipients import InvalidPhoneNumberError, normalize_phones
from .uploads import FileIdCache, UploadedFile

_LOGGER = logging.getLogger(__name__)

# The gateway turns `text` into a text attachment; its bytes and this much packaging count.
_TEXT_OVERHEAD = 512
# Below this a picture is a smudge: a send whose text and files leave less per picture is refused.
_MIN_IMAGE_BUDGET = fitting.MIN_SHARE
_FIT_CACHE_SIZE = 8  # recent fitting results; each at most the MMS budget in size
# Numbers that count against the daily limit: accepted, waiting in the outbox, or maybe sent.
_COUNTED = frozenset({QUEUED, UNKNOWN, DEFERRED})
# An upload of a deferred MMS that ended so was not carried out (or may simply be done again).
_UPLOAD_RETRYABLE = (
    SerwerSmsConnectionError,
    SerwerSmsServerError,
    SerwerSmsRateLimitError,
    SerwerSmsResponseError,
    SerwerSmsAuthError,
)
# A send request that ended so provably carried nothing out.
_SEND_RETRYABLE = (SerwerSmsNotReachedError, SerwerSmsRateLimitError, SerwerSmsAuthError)


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
    # The recipients (subentry ids) whose numbers these are; empty for bare numbers (legacy notify).
    recipient_ids: tuple[str, ...] = ()


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
    recipient_ids: tuple[str, ...] = ()
    frames: tuple[tuple[str, int], ...] = ()  # frames each camera gave, when more than one was asked

    @property
    def queued(self) -> int:
        """How many numbers the gateway accepted."""
        return sum(1 for item in self.recipients if item.status == QUEUED)

    @property
    def unsent(self) -> int:
        """How many numbers were not accepted (refused, or with an unknown outcome)."""
        return sum(1 for item in self.recipients if item.status not in (QUEUED, DEFERRED))

    @property
    def waiting(self) -> int:
        """How many numbers wait in the outbox (the gateway could not be reached)."""
        return sum(1 for item in self.recipients if item.status == DEFERRED)

    def response(self, phones: Sequence[str] | None = None) -> dict[str, Any]:
        """The contract's response object for the normalised `phones`, in their order (default: all)."""
        if phones is None:
            chosen = list(self.recipients)
        else:
            by_phone = {r.phone: r for r in self.recipients}
            chosen = [by_phone[phone] for phone in dict.fromkeys(phones) if phone in by_phone]
        queued = sum(1 for r in chosen if r.status == QUEUED)
        deferred = sum(1 for r in chosen if r.status == DEFERRED)
        response: dict[str, Any] = {
            "queued": queued,
            "unsent": len(chosen) - queued - deferred,
            "recipients": [_recipient_response(r) for r in chosen],
            "files": [f.as_dict() for f in self.files],
        }
        if deferred:
            response["deferred"] = deferred
        if self.frames:
            response["frames"] = dict(self.frames)
        return response

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
    if item.status == DEFERRED:
        return {"phone": item.phone, "status": item.status}
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
        self._pictures = async_get_picture_queue(hass)
        self._listeners: list[SendListener] = []
        self._fitted: OrderedDict[tuple[str, int], asyncio.Task[list[FittedImage]]] = OrderedDict()
        self._limit: DailyLimit | None = None
        self._outbox: Deferrer | None = None
        self._ledger: UploadLedger | None = None

    def attach(self, *, limit: DailyLimit, outbox: Deferrer, ledger: UploadLedger) -> None:
        """The account's daily limit, outbox and storage clean-up, consulted on every send."""
        self._limit = limit
        self._outbox = outbox
        self._ledger = ledger

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

    async def _fit(self, items: list[FitItem], budget: int) -> list[FittedImage]:
        """Fit through the picture queue; identical inputs (a burst of one snapshot) are fitted once."""
        key = (await self._pictures.run(fitting.digest, items), budget)
        job = self._fitted.get(key)
        if job is None:
            job = self._hass.async_create_task(self._pictures.run(fit_all, items, budget))
            job.add_done_callback(_retrieve)
            self._fitted[key] = job
            while len(self._fitted) > _FIT_CACHE_SIZE:
                self._fitted.popitem(last=False)
        else:
            self._fitted.move_to_end(key)
        try:
            # Shielded: a caller that gives up never cancels a fit others wait on.
            return await asyncio.shield(job)
        except NotAnImageError as err:
            self._fitted.pop(key, None)
            raise invalid("not_an_image") from err
        except ImageTooLargeError as err:
            self._fitted.pop(key, None)
            raise invalid("image_too_large") from err

    async def _upload(
        self,
        fitted: Sequence[FittedImage | DeferredPicture],
        *,
        keep: bool = False,
        until: datetime | None = None,
    ) -> list[UploadedFile]:
        """Upload (or reuse) `fitted`; `keep`: handed to the user, else the clean-up may delete them.

        A send scheduled for `until` uses its pictures until then.
        """
        uploaded = list(
            await asyncio.gather(
                *(
                    self._files.async_get_or_upload(f.content, f.filename, f.content_type, f.digest)
                    for f in fitted
                )
            )
        )
        if self._ledger is not None:
            if keep:
                self._ledger.exempt([f.id for f in uploaded])
            else:
                self._ledger.note_used([f.id for f in uploaded], until=until)
        return uploaded

    async def _collect_and_fit(
        self, sources: AttachmentSources, budget: int
    ) -> tuple[list[FittedImage], dict[str, int]]:
        """The fitted pictures, and how many frames each camera gave (bursts only)."""
        await attachments.check_sources(self._hass, sources)
        # The raw pictures (megabytes each) live only until they are fitted.
        gathered = await motion.gather(self._hass, sources)
        fitted = await self._fit(gathered.items, budget)
        return fitted, gathered.frames_sent(fitted)

    async def async_prepare(self, sources: AttachmentSources) -> list[UploadedFile]:
        """Check, fetch, fit and upload (or reuse) the attachments of `sources` for the user to keep."""
        fitted, _ = await self._collect_and_fit(sources, self._budget)
        return await self._upload(fitted, keep=True)

    async def _given_files(self, file_ids: list[str]) -> int:
        """Check that the gateway has every `file_id` the caller gave; their total size in bytes."""
        if not file_ids:
            return 0
        listed = {info.id: info.size for info in await self._client.list_files()}
        for file_id in file_ids:
            if file_id not in listed:
                raise invalid("file_id_unknown", file_id=file_id)
        return sum(listed[file_id] for file_id in file_ids)

    def _picture_budget(self, request: MmsRequest, given_bytes: int) -> int:
        """What the pictures may take once the text and the given files are counted.

        What cannot fit at all is refused here, before anything is fetched or uploaded.
        """
        budget = self._budget
        text_bytes = len(request.message.encode()) + _TEXT_OVERHEAD if request.message else 0
        pictures = len(request.sources)
        needed = text_bytes + given_bytes + pictures * _MIN_IMAGE_BUDGET
        if needed > budget:
            raise invalid("mms_too_large", size=str(-(-needed // 1024)), max=str(budget // 1024))
        return budget - text_bytes - given_bytes

    # --- sending -------------------------------------------------------------------------------

    async def async_send(self, request: MmsRequest) -> MmsOutcome:
        """Send one MMS to every number of `request` (each once); tell the listeners what happened.

        Numbers the gateway provably could not be reached for wait in the outbox (status
        `deferred`) when it is on. Raises the client's error when the gateway refused every batch,
        and `SerwerSmsOutcomeUnknownError` (after announcing the outcome) when no number is known to
        be queued or deferred but some may have been sent.
        """
        title = self._title(request.title)
        attachment_count = len(request.sources) + len(request.file_ids)
        if attachment_count > MAX_ATTACHMENTS:
            raise invalid("too_many_attachments", count=str(attachment_count), max=str(MAX_ATTACHMENTS))
        if not request.message and attachment_count == 0:
            raise invalid("empty_message")
        phones = self._phones(request.phones)
        date = self._date(request.date)
        self._picture_budget(request, 0)  # the text alone may already be too much: ask nobody
        # Before any snapshot or upload: a runaway automation spends nothing past the daily limit.
        reservation = self._reserve([] if request.test else phones)
        # Taken now, so MMS of concurrent calls that end up deferred go out in the order of the calls.
        place = self._outbox.take_place() if self._outbox is not None else 0
        try:
            return await self._send_reserved(request, title, phones, date, reservation, place)
        finally:
            reservation.release()  # whatever was not committed: nothing went out for it

    def _reserve(self, phones: list[str]) -> Reservation:
        if self._limit is None or not phones:
            return _NO_RESERVATION
        return self._limit.reserve(phones)

    def _may_defer(self, request: MmsRequest) -> bool:
        """Whether an MMS that could not reach the gateway waits in the outbox (never a test send)."""
        return not request.test and self._outbox is not None and self._outbox.enabled

    async def _send_reserved(
        self,
        request: MmsRequest,
        title: str,
        phones: list[str],
        date: datetime | None,
        reservation: Reservation,
        place: int,
    ) -> MmsOutcome:
        if request.file_ids and self._ledger is not None:
            self._ledger.exempt(request.file_ids)  # the caller's files: never cleaned up
        reachable = True
        try:
            given_bytes = await self._given_files(request.file_ids)
        except SerwerSmsNotReachedError:
            if not self._may_defer(request):
                raise
            # The gateway checks the given files when the MMS goes out of the outbox.
            given_bytes, reachable = 0, False
        picture_budget = self._picture_budget(request, given_bytes)
        fitted, frames = await self._collect_and_fit(request.sources, picture_budget)
        uploaded: list[UploadedFile] = []
        if reachable:
            try:
                uploaded = await self._upload(fitted, until=date)
            except SerwerSmsNotReachedError:
                if not self._may_defer(request):
                    raise
                reachable = False
        if not reachable:
            try:
                await self._defer(place, phones, title, request, date, fitted)
            except asyncio.CancelledError:
                reservation.commit(phones)  # the caller gave up, but the MMS waits all the same
                raise
            outcome = self._outcome(
                request, title, date, [RecipientResult(phone, DEFERRED) for phone in phones], (), frames
            )
            reservation.commit(phones)
            return outcome
        file_ids = [f.id for f in uploaded] + list(request.file_ids)
        outcomes = await self._send(phones, title, file_ids, request, date)
        if any(isinstance(o.error, SerwerSmsNotFoundError) for o in outcomes):
            outcomes, uploaded, file_ids = await self._resend_lost_files(
                outcomes, fitted, uploaded, title, request, date
            )
        not_reached = [o for o in outcomes if isinstance(o.error, SerwerSmsNotReachedError)]
        if not_reached and self._may_defer(request):
            waiting = [phone for o in not_reached for phone in o.phones]
            await self._defer(place, waiting, title, request, date, fitted)
            outcomes = [o for o in outcomes if o not in not_reached]
        else:
            waiting = []
        by_phone = {r.phone: r for r in merge_batches(outcomes).recipients}
        by_phone.update((phone, RecipientResult(phone, DEFERRED)) for phone in waiting)
        outcome = self._outcome(
            request, title, date, [by_phone[phone] for phone in phones], uploaded, frames, file_ids
        )
        errors = [o.error for o in outcomes if o.error is not None]
        if not waiting and len(errors) == len(outcomes) and all(is_refusal(err) for err in errors):
            raise errors[0]  # refused as a whole: nothing was sent, nothing to announce
        reservation.commit([r.phone for r in outcome.recipients if r.status in _COUNTED])
        if outcome.waiting < len(outcome.recipients):
            self._async_completed(outcome)  # all deferred: announced when it leaves the outbox
        if not outcome.queued and not waiting and any(r.status == UNKNOWN for r in outcome.recipients):
            raise SerwerSmsOutcomeUnknownError("no clear answer to the send; the MMS may have been sent")
        return outcome

    def _outcome(
        self,
        request: MmsRequest,
        title: str,
        date: datetime | None,
        recipients: list[RecipientResult],
        uploaded: Sequence[UploadedFile],
        frames: dict[str, int],
        file_ids: Sequence[str] | None = None,
    ) -> MmsOutcome:
        return MmsOutcome(
            entry_id=self._entry.entry_id,
            title=title,
            test=request.test,
            date=date,
            recipients=tuple(recipients),
            files=tuple(uploaded),
            file_ids=tuple(request.file_ids if file_ids is None else file_ids),
            recipient_ids=request.recipient_ids,
            frames=tuple(frames.items()),
        )

    async def _defer(
        self,
        place: int,
        phones: list[str],
        title: str,
        request: MmsRequest,
        date: datetime | None,
        fitted: list[FittedImage],
    ) -> None:
        """Keep the MMS for `phones` in the outbox; when even that fails, the gateway error stands."""
        assert self._outbox is not None  # noqa: S101 - checked by _may_defer
        try:
            await self._outbox.async_defer(
                place=place,
                phones=phones,
                title=title,
                text=request.message or None,
                pictures=[DeferredPicture(f.content, f.filename, f.content_type, f.digest) for f in fitted],
                file_ids=list(request.file_ids),
                date=date,
                recipient_ids=request.recipient_ids,
            )
        except OSError as err:
            _LOGGER.exception("The outbox could not keep an MMS; it is not sent")
            raise SerwerSmsNotReachedError("cannot connect to the gateway, and the outbox failed") from err
        _LOGGER.info(
            "The gateway cannot be reached; an MMS for %d number(s) waits in the outbox", len(phones)
        )

    async def _send(
        self, phones: list[str], title: str, file_ids: list[str], request: MmsRequest, date: datetime | None
    ) -> list[BatchOutcome]:
        return await self._client.send_mms_batches(
            phones,
            title=title,
            file_ids=file_ids,
            text=request.message or None,
            date=date,
            test=request.test,
        )

    async def _resend_lost_files(
        self,
        outcomes: list[BatchOutcome],
        fitted: list[FittedImage],
        uploaded: list[UploadedFile],
        title: str,
        request: MmsRequest,
        date: datetime | None,
    ) -> tuple[list[BatchOutcome], list[UploadedFile], list[str]]:
        """Send again, once, the batches refused because a file we reused is gone (1004).

        The file (deleted in the panel?) is uploaded again first. Batches that went through, or whose
        outcome is unknown, are never sent again; nor is anything when the lost file is not ours.
        """
        file_ids = [f.id for f in uploaded] + list(request.file_ids)
        reused = {f.id for f in uploaded if not f.uploaded}
        if not reused:
            return outcomes, uploaded, file_ids
        try:
            listed = {info.id for info in await self._client.list_files()}
        except SerwerSmsError:
            return outcomes, uploaded, file_ids  # cannot tell which file is gone: send nothing again
        lost = reused - listed
        if not lost or any(file_id not in listed for file_id in request.file_ids):
            return outcomes, uploaded, file_ids
        _LOGGER.info("The gateway no longer has %d reused file(s); uploading them again", len(lost))
        self._files.forget(lost)
        uploaded = await self._upload(fitted)
        file_ids = [f.id for f in uploaded] + list(request.file_ids)
        refused = [o for o in outcomes if isinstance(o.error, SerwerSmsNotFoundError)]
        again = await self._send([p for o in refused for p in o.phones], title, file_ids, request, date)
        return [o for o in outcomes if o not in refused] + again, uploaded, file_ids

    # --- the outbox's side ---------------------------------------------------------------------

    async def async_upload_deferred(
        self, mms: DeferredMms, pictures: list[DeferredPicture]
    ) -> list[UploadedFile]:
        """Upload (or reuse) a deferred MMS's pictures; the client's errors as they are.

        Nothing is announced here: the outbox may upload an MMS's pictures before its turn (while the
        one before it is being sent), and what became of it is told at its turn, in order.
        """
        return await self._upload(pictures, until=_still_ahead(mms.date))

    async def async_send_deferred(
        self,
        mms: DeferredMms,
        uploads: Awaitable[list[UploadedFile]],
        before_send: Callable[[], Awaitable[None]],
    ) -> tuple[list[str], SerwerSmsError | None]:
        """Send a deferred MMS once `uploads` (its `async_upload_deferred`) is done.

        `before_send()` is awaited right before the send request. Returns the numbers still to send
        later (batches that provably did not reach the gateway) and the gateway's refusal, if any,
        for the repair issues. Raises `RetryLaterError` when nothing was carried out. Whatever went
        out, or was refused, or may have gone out, is announced like any send, with
        `deferred: true`; the spending guard counted it when deferred.
        """
        scheduled = _still_ahead(mms.date)
        try:
            uploaded = await uploads
        except _UPLOAD_RETRYABLE as err:
            raise RetryLaterError(err.gateway_message) from err
        except SerwerSmsError as err:
            self._report_all(mms, UNSENT, err)
            return [], err
        file_ids = [f.id for f in uploaded] + mms.file_ids
        await before_send()
        outcomes = await self._client.send_mms_batches(
            mms.phones, title=mms.title, file_ids=file_ids, text=mms.text, date=scheduled
        )
        # A reused picture may be the file gone from the gateway: upload it anew next time. When
        # nothing was reused, the gone file is the caller's `file_id`: a refusal like any other.
        reused = {f.id for f in uploaded if not f.uploaded}
        lost = [o for o in outcomes if isinstance(o.error, SerwerSmsNotFoundError)] if reused else []
        if lost:
            self._files.forget(reused)
        later = [o for o in outcomes if isinstance(o.error, _SEND_RETRYABLE) or o in lost]
        done = [o for o in outcomes if o not in later]
        if not done:
            first = later[0].error
            assert first is not None  # noqa: S101 - a batch in `later` ended with an error
            raise RetryLaterError(first.gateway_message) from first
        by_phone = {r.phone: r for r in merge_batches(done).recipients}
        recipients = tuple(by_phone[phone] for phone in mms.phones if phone in by_phone)
        self._async_completed(self._deferred_outcome(mms, recipients, uploaded, file_ids))
        errors = [o.error for o in done if o.error is not None]
        refusal = next((err for err in errors if is_refusal(err)), None)
        return [phone for o in later for phone in o.phones], refusal

    @callback
    def report_interrupted(self, mms: DeferredMms) -> None:
        """Home Assistant stopped while `mms`'s send request was out: it may be out; never repeat it."""
        self._report_all(mms, UNKNOWN, None)

    def _report_all(self, mms: DeferredMms, status: str, err: SerwerSmsError | None) -> None:
        code = err.code if isinstance(err, SerwerSmsApiError) else None
        message = err.gateway_message if err is not None else "interrupted by a restart"
        recipients = tuple(RecipientResult(phone, status, None, code, message) for phone in mms.phones)
        self._async_completed(self._deferred_outcome(mms, recipients, [], mms.file_ids))

    def _deferred_outcome(
        self,
        mms: DeferredMms,
        recipients: tuple[RecipientResult, ...],
        uploaded: Sequence[UploadedFile],
        file_ids: Sequence[str],
    ) -> MmsOutcome:
        return MmsOutcome(
            entry_id=self._entry.entry_id,
            title=mms.title,
            test=False,
            date=_still_ahead(mms.date),
            recipients=recipients,
            files=tuple(uploaded),
            file_ids=tuple(file_ids),
            deferred=True,
            recipient_ids=mms.recipient_ids,
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


def _still_ahead(timestamp: float | None) -> datetime | None:
    """A deferred MMS's scheduled time, unless it passed meanwhile (then it goes out at once)."""
    if timestamp is None or timestamp <= dt_util.utcnow().timestamp():
        return None
    return dt_util.utc_from_timestamp(timestamp)


class _NoReservation:
    """What a send holds when nothing counts (a test send, or no guard)."""

    def commit(self, counted: Sequence[str]) -> None:
        """Nothing to count."""

    def release(self) -> None:
        """Nothing to give back."""


_NO_RESERVATION = _NoReservation()


def _retrieve(job: asyncio.Future[Any]) -> None:
    """Mark a shared job's error as seen: every caller may have given up on it."""
    if not job.cancelled():
        job.exception()
