"""The send pipeline: validate → collect attachments → fit → upload (or reuse) → send → one outcome.

One run of the pipeline is one MMS send, whatever the number of recipient entities a call targeted.
It raises the client's own errors (`SerwerSmsError`) for gateway failures: the Home Assistant glue
that calls it translates them (see `errors.py`). Whoever needs to know about sends (credits, repair
issues, delivery tracking) registers a listener; the `serwersms_mms_sent` event is fired here only.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
import logging
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import Context, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.util import dt as dt_util

from ..api import (
    MAX_CALL_TEXT,
    MAX_SMS_TEXT,
    QUEUED,
    UNKNOWN,
    BatchOutcome,
    RecipientResult,
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
    CONF_SMS_SENDER,
    DEFAULT_MAX_IMAGE_KB,
    DEFAULT_TITLE,
    DOMAIN,
    MAX_ATTACHMENTS,
    MAX_RECIPIENTS,
    MAX_TITLE_LENGTH,
)
from ..errors import invalid
from . import attachments, fitting, motion
from .attachments import AttachmentSources
from .channels import CALL, MMS, SMS, FallbackPlan, TextOptions, fallback_text, report_type, text_title
from .deferred import (
    DEFERRED,
    DailyLimit,
    DeferredPicture,
    Deferrer,
    Reservation,
    UploadLedger,
)
from .fitting import FitItem, fit_all
from .images import FittedImage, ImageTooLargeError, NotAnImageError
from .outcome import MmsOutcome, SendAnnouncer
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
    # The caller's context, carried by the `serwersms_mms_sent` event (who or what sent it).
    context: Context | None = None
    # Told once, when the send is over, which numbers count (queued, deferred or maybe sent; none
    # when nothing went out) — even when the caller was cancelled while the send request was out.
    on_settled: Callable[[Collection[str]], None] | None = None
    # MMS, SMS or a phone call (`channels.py`); an SMS's options (its sender is the account's option).
    channel: str = MMS
    text_options: TextOptions = field(default_factory=TextOptions)
    # An MMS's fallback for numbers it does not reach; `is_fallback`: this send is such a fallback.
    fallback: FallbackPlan | None = None
    is_fallback: bool = False


def message_bytes(message: str | None) -> int:
    """What an MMS's text takes of its budget (the gateway sends it as a text attachment)."""
    return len(message.encode()) + _TEXT_OVERHEAD if message else 0


class MmsSender:
    """Sends MMS for one account."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        client: SerwerSmsClient,
        files: FileIdCache,
        *,
        announcer: SendAnnouncer,
        limit: DailyLimit | None = None,
        outbox: Deferrer | None = None,
        ledger: UploadLedger | None = None,
    ) -> None:
        """Bind the pipeline to one account and what it consults on every send.

        `limit`: the spending guard; `outbox`: where MMS wait when the gateway cannot be reached;
        `ledger`: the storage clean-up's list of the account's own uploads.
        """
        self._hass = hass
        self._entry = entry
        self._client = client
        self._files = files
        self._announcer = announcer
        self._limit = limit
        self._outbox = outbox
        self._ledger = ledger
        self._pictures = async_get_picture_queue(hass)
        self._fitted: OrderedDict[tuple[str, int], asyncio.Task[list[FittedImage]]] = OrderedDict()
        self._running = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopped = False

    async def async_stop(self) -> None:
        """Take no more sends, and wait for those under way to finish (the account unloads).

        A send under way ends with its outcome announced and its MMS counted, followed for
        delivery or written to the outbox, by this account's parts, before they stop: a reload in the
        middle of an alarm loses nothing and hands out no outbox place twice.
        """
        self._stopped = True
        await self._idle.wait()

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
        gathered = await motion.gather(self._hass, sources, motion.lookback_of(self._entry))
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
        text_bytes = message_bytes(request.message)
        pictures = len(request.sources)
        needed = text_bytes + given_bytes + pictures * _MIN_IMAGE_BUDGET
        if needed > budget:
            raise invalid("mms_too_large", size=str(-(-needed // 1024)), max=str(budget // 1024))
        return budget - text_bytes - given_bytes

    # --- sending -------------------------------------------------------------------------------

    async def async_send(self, request: MmsRequest) -> MmsOutcome:
        """Send one MMS (see `_async_send`), as one of the sends an unload waits for."""
        if self._stopped:
            raise HomeAssistantError(translation_domain=DOMAIN, translation_key="account_unloading")
        self._began()
        try:
            return await self._async_send(request)
        finally:
            self._ended()

    def _began(self) -> None:
        self._running += 1
        self._idle.clear()

    def _ended(self) -> None:
        self._running -= 1
        if not self._running:
            self._idle.set()

    async def _async_send(self, request: MmsRequest) -> MmsOutcome:
        """Send one MMS to every number of `request` (each once); tell the listeners what happened.

        Numbers the gateway provably could not be reached for wait in the outbox (status
        `deferred`) when it is on. Raises the client's error when the gateway refused every batch,
        and `SerwerSmsOutcomeUnknownError` (after announcing the outcome) when no number is known to
        be queued or deferred but some may have been sent.
        """
        settlement = _Settlement(request.on_settled)
        try:
            return await self._validate_and_send(request, settlement)
        finally:
            settlement.release()  # whatever was not committed (nothing when the tail holds it)

    async def _validate_and_send(self, request: MmsRequest, settlement: _Settlement) -> MmsOutcome:
        if request.channel != MMS:
            return await self._validate_and_send_text(request, settlement)
        title = self._title(request.title)
        request.fallback = self._fallback(request, title)
        attachment_count = len(request.sources) + len(request.file_ids)
        if attachment_count > MAX_ATTACHMENTS:
            raise invalid("too_many_attachments", count=str(attachment_count), max=str(MAX_ATTACHMENTS))
        if not request.message and attachment_count == 0:
            raise invalid("empty_message")
        phones = self._phones(request.phones)
        date = self._date(request.date)
        self._picture_budget(request, 0)  # the text alone may already be too much: ask nobody
        # Before any snapshot or upload: a runaway automation spends nothing past the daily limit.
        settlement.reservation = self._reserve([] if request.test else phones)
        # Taken now, so MMS of concurrent calls that end up deferred go out in the order of the calls.
        place = self._outbox.take_place() if self._outbox is not None else 0
        return await self._send_reserved(request, title, phones, date, settlement, place)

    @staticmethod
    def _fallback(request: MmsRequest, title: str) -> FallbackPlan | None:
        """The MMS's fallback with its text: its title and message (checked for test sends too)."""
        if request.fallback is None:
            return None
        text = fallback_text(title, request.message)
        limit = MAX_CALL_TEXT if request.fallback.channel == CALL else MAX_SMS_TEXT
        if len(text) > limit:
            raise invalid("fallback_text_too_long", length=str(len(text)), max=str(limit))
        return replace(request.fallback, text=text)

    async def _validate_and_send_text(self, request: MmsRequest, settlement: _Settlement) -> MmsOutcome:
        """An SMS or a call: the same guarantees as an MMS, without pictures."""
        message = (request.message or "").strip()
        if not message:
            raise invalid("empty_message")
        if request.sources or request.file_ids:
            raise invalid("attachments_mms_only")
        if request.channel == CALL and len(message) > MAX_CALL_TEXT:
            raise invalid("call_text_too_long", length=str(len(message)), max=str(MAX_CALL_TEXT))
        if request.channel == SMS:
            if len(message) > MAX_SMS_TEXT:
                raise invalid("sms_too_long", length=str(len(message)), max=str(MAX_SMS_TEXT))
            options = request.text_options
            if options.flash and options.priority:
                raise invalid("flash_with_priority")
            # The option is read at each send: a changed sender name applies without a reload.
            sender = str(self._entry.options.get(CONF_SMS_SENDER) or "").strip() or None
            if options.priority and sender is None:
                raise invalid("priority_needs_sender")
            request.text_options = TextOptions(options.flash, options.priority, sender)
        request.message = message
        title = request.title or text_title(message, MAX_TITLE_LENGTH)
        phones = self._phones(request.phones)
        date = self._date(request.date)
        settlement.reservation = self._reserve([] if request.test else phones)
        place = self._outbox.take_place() if self._outbox is not None else 0
        return await self._send_reserved(request, title, phones, date, settlement, place)

    async def _save_count(self) -> None:
        if self._limit is not None:
            await self._limit.async_save()

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
        reservation: _Settlement,
        place: int,
    ) -> MmsOutcome:
        if request.file_ids and self._ledger is not None:
            self._ledger.exempt(request.file_ids)  # the caller's files: never cleaned up
        reachable = given_counted = True
        fitted: list[FittedImage] = []
        frames: dict[str, int] = {}
        if request.channel == MMS:
            try:
                given_bytes = await self._given_files(request.file_ids)
            except SerwerSmsNotReachedError:
                if not self._may_defer(request):
                    raise
                # Their sizes are counted, and the pictures fitted again if need be, before it goes out.
                given_bytes, reachable, given_counted = 0, False, not request.file_ids
            picture_budget = self._picture_budget(request, given_bytes)
            fitted, frames = await self._collect_and_fit(request.sources, picture_budget)
        uploaded: list[UploadedFile] = []
        if reachable and fitted:
            try:
                uploaded = await self._upload(fitted, until=date)
            except SerwerSmsNotReachedError:
                if not self._may_defer(request):
                    raise
                reachable = False
        if not reachable:
            try:
                await self._defer(place, phones, title, request, date, fitted, given_counted=given_counted)
            except asyncio.CancelledError:
                reservation.commit(phones)  # the caller gave up, but the MMS waits all the same
                raise
            outcome = self._outcome(
                request, title, date, [RecipientResult(phone, DEFERRED) for phone in phones], (), frames
            )
            reservation.commit(phones)
            await self._save_count()
            return outcome
        # From here the request leaves: it runs to the end and is counted (and its cooldown kept)
        # even when the caller is cancelled, say by a `mode: restart` automation; else the MMS goes
        # out uncounted and the next run sends it again.
        reservation.handed_over = True
        self._began()  # an unload waits for the request even when its caller stopped waiting
        tail = self._entry.async_create_task(
            self._hass,
            self._send_and_record(request, title, phones, date, reservation, place, fitted, uploaded, frames),
            "serwersms send request",
        )
        tail.add_done_callback(_retrieve)
        return await asyncio.shield(tail)

    async def _send_and_record(
        self,
        request: MmsRequest,
        title: str,
        phones: list[str],
        date: datetime | None,
        reservation: _Settlement,
        place: int,
        fitted: list[FittedImage],
        uploaded: list[UploadedFile],
        frames: dict[str, int],
    ) -> MmsOutcome:
        """Send, then count, announce and store what went out (the tail no caller can cut off)."""
        try:
            return await self._request_and_record(
                request, title, phones, date, reservation, place, fitted, uploaded, frames
            )
        finally:
            reservation.release(tail=True)
            self._ended()

    async def _request_and_record(
        self,
        request: MmsRequest,
        title: str,
        phones: list[str],
        date: datetime | None,
        reservation: _Settlement,
        place: int,
        fitted: list[FittedImage],
        uploaded: list[UploadedFile],
        frames: dict[str, int],
    ) -> MmsOutcome:
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
            # Announced now, unless all of it waits in the outbox: then when it leaves.
            self._async_completed(outcome, request.context)
        await self._save_count()  # on disk before the call returns: a crash then must not forget it
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
            channel=request.channel,
            report_type=report_type(request.channel, request.text_options.sender),
            fallback=request.fallback,
            is_fallback=request.is_fallback,
            message=request.message,
            lookback=tuple(request.sources.lookback_used.items()),
        )

    async def _defer(
        self,
        place: int,
        phones: list[str],
        title: str,
        request: MmsRequest,
        date: datetime | None,
        fitted: list[FittedImage],
        *,
        given_counted: bool = True,
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
                given_counted=given_counted,
                date=date,
                recipient_ids=request.recipient_ids,
                channel=request.channel,
                text_options=request.text_options,
                fallback=request.fallback,
                is_fallback=request.is_fallback,
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
        if request.channel != MMS:
            return await send_text_batches(
                self._client,
                request.channel,
                phones,
                request.message or "",
                request.text_options,
                date,
                test=request.test,
            )
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

    @callback
    def _async_completed(self, outcome: MmsOutcome, context: Context | None = None) -> None:
        """Announce a finished send with the caller's `context` (listeners first, then the bus)."""
        self._announcer.announce(outcome, context)


class _NoReservation:
    """What a send holds when nothing counts (a test send, or no guard)."""

    def commit(self, counted: Sequence[str]) -> None:
        """Nothing to count."""

    def release(self) -> None:
        """Nothing to give back."""


_NO_RESERVATION = _NoReservation()


class _Settlement:
    """One send's hold on the daily limit and the caller's `on_settled`, settled once.

    The caller's task settles it, unless the send request has left: then the task that carries the
    request (`handed_over`) does, so a cancelled caller neither frees nor loses what went out.
    """

    def __init__(self, on_settled: Callable[[Collection[str]], None] | None) -> None:
        """Nothing reserved yet (the send may be refused before it reserves)."""
        self.reservation: Reservation = _NO_RESERVATION
        self.handed_over = False
        self._on_settled = on_settled

    def commit(self, counted: Sequence[str]) -> None:
        """The send is over: the numbers in `counted` count."""
        self.reservation.commit(counted)
        if self._on_settled is not None:
            on_settled, self._on_settled = self._on_settled, None
            try:
                on_settled(frozenset(counted))
            except Exception:
                _LOGGER.exception("A send's settlement listener failed")

    def release(self, *, tail: bool = False) -> None:
        """Nothing (more) went out; the caller's release is left to the tail once it holds the send."""
        if tail or not self.handed_over:
            self.commit([])


async def send_text_batches(
    client: SerwerSmsClient,
    channel: str,
    phones: list[str],
    text: str,
    options: TextOptions,
    date: datetime | None,
    *,
    test: bool = False,
) -> list[BatchOutcome]:
    """Send an SMS or a call to `phones` in batches (the pipeline's and the outbox's one way to)."""
    if channel == SMS:
        return await client.send_sms_batches(
            phones,
            text=text,
            sender=options.sender,
            flash=options.flash,
            speed=options.priority,
            date=date,
            test=test,
        )
    return await client.send_voice_batches(phones, text=text, date=date, test=test)


def _retrieve(job: asyncio.Future[Any]) -> None:
    """Mark a shared job's error as seen: every caller may have given up on it."""
    if not job.cancelled():
        job.exception()
