"""The outbox: MMS that provably never reached the gateway, kept on disk and sent when it answers again.

This is the one home of deferred sending: the pipeline (`mms/sender.py`) hands an MMS over with
`async_defer`; from then on the outbox writes it down (`outbox_disk.py`), notices the gateway's
return, uploads its pictures, sends it, announces the outcome and follows nothing else.

- **Noticing the return.** While something waits and the last try could not reach the gateway, a probe
  (`SerwerSmsClient.reachable`: one HTTP request to the gateway's host, no account call, a short
  timeout) runs every `PROBE_INTERVAL`; the first answer starts the drain, so the return is noticed
  within 10 s. Nothing waits: no timer at all. A try refused for another reason (429, a 5xx upload,
  refused credentials) is tried again after `RETRY_INTERVAL`, not every few seconds.
- **Oldest first, each at most once.** One MMS at a time; `.sending` is durable before its request
  leaves, so a restart reports an interrupted MMS `unknown` instead of sending it again.
- **Every MMS ends with an event**: `serwersms_mms_sent` (queued / unsent / unknown, `deferred: true`)
  or `not_sent` (expired, or its file could not be read or marked), through `on_give_up`.
- **Expiry measures how long an MMS really waited** (the monotonic clock): a clock set forward after
  boot (a Raspberry Pi without a real-time clock syncing its time) does not expire a waiting alarm. After
  a restart the wall clock is all there is: an MMS gets what its stored expiry leaves, never more than
  its whole budget.
- **A stop or an unload** lets the MMS being sent finish (and be recorded) and waits for MMS still being
  written; it is run as a shutdown job, before Home Assistant cancels background tasks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
import contextlib
from datetime import datetime, timedelta
import logging
from pathlib import Path
import time

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_call_later
from homeassistant.util import dt as dt_util

from . import outbox_disk as disk
from .api import (
    UNKNOWN,
    UNSENT,
    RecipientResult,
    SerwerSmsApiError,
    SerwerSmsAuthError,
    SerwerSmsClient,
    SerwerSmsConnectionError,
    SerwerSmsError,
    SerwerSmsNotFoundError,
    SerwerSmsNotReachedError,
    SerwerSmsRateLimitError,
    SerwerSmsResponseError,
    SerwerSmsServerError,
    is_refusal,
    merge_batches,
)
from .const import (
    CONF_MAX_IMAGE_KB,
    CONF_OUTBOX_MINUTES,
    DEFAULT_MAX_IMAGE_KB,
    DEFAULT_OUTBOX_MINUTES,
    DOMAIN,
)
from .errors import gateway_error
from .mms.channels import MMS, FallbackPlan, TextOptions, report_type
from .mms.deferred import DeferredMms, DeferredPicture, UploadLedger
from .mms.fitting import Picture, fit_all
from .mms.images import FittedImage, ImageTooLargeError, NotAnImageError
from .mms.outcome import MmsOutcome, SendAnnouncer
from .mms.picture_queue import async_get_picture_queue
from .mms.sender import message_bytes, send_text_batches
from .mms.uploads import FileIdCache, UploadedFile

_LOGGER = logging.getLogger(__name__)

# While the gateway cannot be reached: how often its host is asked whether it answers again. With the
# probe's own timeout this notices a return within 10 s (the contract).
PROBE_INTERVAL = timedelta(seconds=5)
PROBE_TIMEOUT = 4.0
# After a try the gateway answered but refused for now (429, a 5xx upload, refused credentials).
RETRY_INTERVAL = timedelta(seconds=30)
REASON_UNREACHABLE = "gateway_unreachable"
REASON_UNREADABLE = "outbox_unreadable"  # its pictures could not be read back from disk
REASON_UNWRITABLE = "outbox_unwritable"  # it could not be marked as being sent: sending risked a repeat
# An upload that ended so carried nothing out that matters: try again later.
_UPLOAD_RETRYABLE = (
    SerwerSmsConnectionError,
    SerwerSmsServerError,
    SerwerSmsRateLimitError,
    SerwerSmsResponseError,
    SerwerSmsAuthError,
)
# A send request that ended so provably carried nothing out.
_SEND_RETRYABLE = (SerwerSmsNotReachedError, SerwerSmsRateLimitError, SerwerSmsAuthError)


def _monotonic() -> float:
    """How long MMS wait is measured on this clock (a seam for tests: wall clocks jump)."""
    return time.monotonic()


def outbox_minutes(entry: ConfigEntry) -> int:
    """How long an MMS may wait in the outbox (0: no outbox); read at every send, no reload needed."""
    return int(entry.options.get(CONF_OUTBOX_MINUTES, DEFAULT_OUTBOX_MINUTES))


def outbox_dir(hass: HomeAssistant, entry_id: str) -> Path:
    """Where an account's deferred MMS are kept."""
    return Path(hass.config.path(".storage", f"{DOMAIN}.{entry_id}.outbox"))


# Told about an MMS given up: (the MMS, the reason).
type GiveUpListener = Callable[[DeferredMms, str], None]


class _TryLater(Exception):  # noqa: N818 - a signal, not an error
    """Nothing was carried out; `reached`: the gateway answered (refused for now) or could not be reached."""

    def __init__(self, reached: bool) -> None:
        super().__init__()
        self.reached = reached


def _still_ahead(timestamp: float | None) -> datetime | None:
    """A deferred MMS's scheduled time, unless it passed meanwhile (then it goes out at once)."""
    if timestamp is None or timestamp <= dt_util.utcnow().timestamp():
        return None
    return dt_util.utc_from_timestamp(timestamp)


class Outbox:
    """Deferred MMS of one account, sent oldest first, each at most once, across restarts."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        client: SerwerSmsClient,
        files: FileIdCache,
        *,
        announcer: SendAnnouncer,
        ledger: UploadLedger,
        on_give_up: GiveUpListener,
    ) -> None:
        """Bind the outbox to one account's folder and the parts that send and record a deferred MMS.

        `on_give_up(mms, reason)` is told about every MMS dropped unsent.
        """
        self._hass = hass
        self._entry = entry
        self._client = client
        self._files = files
        self._announcer = announcer
        self._ledger = ledger
        self._on_give_up = on_give_up
        self._folder = outbox_dir(hass, entry.entry_id)
        self._items: dict[int, DeferredMms] = {}
        # Pictures of an MMS whose numbers could not be written back (a full disk): sent from memory.
        self._held: dict[int, list[DeferredPicture]] = {}
        self._next_seq = 1
        self._listeners: list[CALLBACK_TYPE] = []
        self._timer: CALLBACK_TYPE | None = None
        self._expiry_timer: CALLBACK_TYPE | None = None
        self._drain_task: asyncio.Task[None] | None = None
        self._probe_task: asyncio.Task[None] | None = None
        self._keeping: set[asyncio.Task[None]] = set()  # disk writes and deletes a stop waits for
        self._interrupted: list[DeferredMms] = []
        self._current: int | None = None  # the MMS whose turn it is (never expired in the middle)
        self._unreachable = False  # the last try could not reach the gateway: probe, cheaply
        self._started = False
        self._stopping = False
        self._stop_listening: Callable[[], None] | None = None

    # --- what others see -----------------------------------------------------------------------

    @property
    def enabled(self) -> bool:
        """Whether MMS are deferred now (`outbox_minutes` above 0)."""
        return outbox_minutes(self._entry) > 0

    def __len__(self) -> int:
        """How many MMS wait."""
        return len(self._items)

    @property
    def waiting(self) -> list[DeferredMms]:
        """The waiting MMS, oldest first."""
        return [self._items[seq] for seq in sorted(self._items)]

    @callback
    def async_add_listener(self, listener: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call `listener` whenever the number of waiting MMS changes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    # --- lifecycle -----------------------------------------------------------------------------

    async def async_load(self) -> None:
        """Read what waits from disk (after a restart)."""
        waiting, self._interrupted, highest = await self._hass.async_add_executor_job(disk.load, self._folder)
        now_wall, now = dt_util.utcnow().timestamp(), _monotonic()
        for mms in waiting:
            # The wall clock is all a restart has to go by; never more than the MMS's whole budget.
            mms.deadline = now + min(max(mms.expires - now_wall, 0.0), mms.budget_s)
        self._items = {mms.seq: mms for mms in waiting}
        self._next_seq = highest + 1

    @callback
    def async_start(self) -> None:
        """Report interrupted sends, then try the gateway now while MMS wait."""
        self._started = True
        for mms in self._interrupted:
            _LOGGER.warning(
                "Home Assistant stopped while a deferred MMS was being sent; it may have been sent, "
                "so it is not sent again"
            )
            self._report_all(mms, UNKNOWN, None)
        if self._interrupted:
            seqs = [mms.seq for mms in self._interrupted]
            self._entry.async_create_background_task(
                self._hass, self._forget_interrupted(seqs), f"{DOMAIN} outbox clean-up"
            )
        self._interrupted = []
        # Any answer from the gateway (a credits or delivery poll, a direct send) ends the wait at once.
        self._stop_listening = self._client.add_reachability_listener(
            lambda reachable, _detail: self.async_kick() if reachable else None
        )
        self._expire()
        self.async_kick()

    async def _forget_interrupted(self, seqs: list[int]) -> None:
        try:
            await self._hass.async_add_executor_job(disk.forget_interrupted, self._folder, seqs)
        except OSError as err:
            _LOGGER.error("Interrupted sends could not be removed from the outbox: %s", err)  # noqa: TRY400

    async def async_stop(self) -> None:
        """Stop: an MMS being sent is finished and recorded, MMS being written are written; no timer."""
        self._stopping = True
        if self._stop_listening is not None:
            self._stop_listening()
            self._stop_listening = None
        self._cancel_timer()
        if self._expiry_timer is not None:
            self._expiry_timer()
            self._expiry_timer = None
        if self._probe_task is not None:
            self._probe_task.cancel()
        # A drain finishing now starts the deletion of what it sent: wait until no disk work is left, so
        # that the next start does not find a `.sending` mark and report a sent MMS `unknown`.
        while pending := [task for task in (self._drain_task, *self._keeping) if task is not None]:
            await asyncio.wait(pending)
        # Numbers left that only memory held (the disk was full at their write-back): one more try, so
        # that a normal stop leaves them waiting on disk rather than reported `unknown` at the start.
        for seq, pictures in list(self._held.items()):
            if (mms := self._items.get(seq)) is not None:
                await self._write_back(mms, pictures)

    @staticmethod
    async def async_remove(hass: HomeAssistant, entry_id: str) -> None:
        """Delete an account's outbox (the entry is being removed)."""
        await hass.async_add_executor_job(disk.remove_all, outbox_dir(hass, entry_id))

    # --- taking MMS in ---------------------------------------------------------------------------

    def take_place(self) -> int:
        """A place in the drain order, taken when a send starts.

        Sends that start together finish fitting and failing in any order: their places keep the
        outbox's order the order of the calls.
        """
        place = self._next_seq
        self._next_seq += 1
        return place

    async def async_defer(
        self,
        *,
        place: int,
        phones: list[str],
        title: str,
        text: str | None,
        pictures: Sequence[DeferredPicture],
        file_ids: list[str],
        given_counted: bool,
        date: datetime | None,
        recipient_ids: tuple[str, ...],
        channel: str = MMS,
        text_options: TextOptions | None = None,
        fallback: FallbackPlan | None = None,
        is_fallback: bool = False,
    ) -> None:
        """Keep an MMS (SMS, call), with its fitted pictures, on disk for later (durable before this returns).

        `place` comes from `take_place()`. Once begun, the MMS is kept even if the caller is cancelled
        (an automation reloaded mid-alarm): it waits and goes out like any other.
        """
        budget_s = outbox_minutes(self._entry) * 60.0
        now = dt_util.utcnow().timestamp()
        mms = DeferredMms(
            seq=place,
            created=now,
            expires=now + budget_s,
            phones=list(phones),
            title=title,
            text=text,
            file_ids=list(file_ids),
            date=None if date is None else date.timestamp(),
            recipient_ids=recipient_ids,
            budget_s=budget_s,
            given_counted=given_counted,
            channel=channel,
            text_options=text_options or TextOptions(),
            fallback=fallback,
            is_fallback=is_fallback,
            deadline=_monotonic() + budget_s,
        )
        task = self._entry.async_create_task(self._hass, self._keep(mms, list(pictures)), eager_start=False)
        self._keeping.add(task)
        task.add_done_callback(self._keeping.discard)
        await asyncio.shield(task)

    async def _keep(self, mms: DeferredMms, pictures: list[DeferredPicture]) -> None:
        await self._hass.async_add_executor_job(disk.store, self._folder, mms, pictures)
        self._items[mms.seq] = mms
        self._changed()
        self._expire()  # its deadline may be the next one due
        # The gateway was just found unreachable: probe it, unless a drain or a probe is under way.
        self._unreachable = True
        if self._drain_task is None and self._probe_task is None and self._timer is None:
            self._arm(PROBE_INTERVAL, self._probe_due)

    # --- when to try ---------------------------------------------------------------------------

    @callback
    def async_kick(self) -> None:
        """The gateway answered (or may answer): drain now unless a drain is already running."""
        if not self._items or self._drain_task is not None or self._stopping or not self._started:
            return
        self._cancel_timer()
        task = self._entry.async_create_background_task(self._hass, self._drain(), f"{DOMAIN} outbox drain")
        # The task starts eagerly: a drain that found everything expired has already ended; kept, the
        # finished task would block every later drain.
        if not task.done():
            self._drain_task = task

    @callback
    def _arm(self, delay: timedelta, action: Callable[[datetime], None]) -> None:
        self._cancel_timer()
        if not self._stopping and self._items:
            self._timer = async_call_later(self._hass, delay, action)

    @callback
    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer()
            self._timer = None

    @callback
    def _retry_due(self, _now: datetime) -> None:
        self._timer = None
        self.async_kick()

    @callback
    def _probe_due(self, _now: datetime) -> None:
        self._timer = None
        if self._stopping or not self._items or self._drain_task is not None or self._probe_task is not None:
            return
        self._probe_task = self._entry.async_create_background_task(
            self._hass, self._probe(), f"{DOMAIN} outbox probe"
        )

    async def _probe(self) -> None:
        try:
            answered = await self._client.reachable(PROBE_TIMEOUT)
        finally:
            self._probe_task = None
        if answered:
            self.async_kick()
        else:
            self._arm(PROBE_INTERVAL, self._probe_due)

    # --- expiry ---------------------------------------------------------------------------------

    @callback
    def _expire(self) -> None:
        """Give up MMS that waited their whole time; wake again when the next one is due."""
        now = _monotonic()
        expired = [mms for mms in self._items.values() if mms.deadline <= now and mms.seq != self._current]
        for mms in expired:
            _LOGGER.warning("A deferred MMS expired: the gateway could not be reached in time")
            self._give_up(mms, REASON_UNREACHABLE)
        if self._expiry_timer is not None:
            self._expiry_timer()
            self._expiry_timer = None
        # The MMS being tried is never expired in the middle: its turn ends the try (the drain calls
        # this again then), so it is not timed here — a timer 1 ms ahead would fire all through the try.
        deadlines = [mms.deadline for mms in self._items.values() if mms.seq != self._current]
        if deadlines and not self._stopping:
            due = min(deadlines)
            self._expiry_timer = async_call_later(self._hass, max(due - now, 0.0) + 0.001, self._expiry_due)

    @callback
    def _expiry_due(self, _now: datetime) -> None:
        self._expiry_timer = None
        self._expire()

    @callback
    def _give_up(self, mms: DeferredMms, reason: str) -> None:
        self._items.pop(mms.seq, None)
        self._held.pop(mms.seq, None)
        self._on_give_up(mms, reason)
        self._changed()
        self._delete_later(mms.seq)

    @callback
    def _delete_later(self, seq: int) -> None:
        """Delete `seq`'s files in the background; a stop waits for it."""
        task = self._entry.async_create_background_task(
            self._hass, self._delete(seq), f"{DOMAIN} outbox delete"
        )
        self._keeping.add(task)
        task.add_done_callback(self._keeping.discard)

    async def _delete(self, seq: int) -> None:
        try:
            await self._hass.async_add_executor_job(disk.delete, self._folder, seq)
        except OSError as err:
            # Left on disk it is reported `unknown` after a restart (it may have gone out): never sent again.
            _LOGGER.error("A finished deferred MMS could not be removed from the outbox: %s", err)  # noqa: TRY400

    # --- the drain ------------------------------------------------------------------------------

    async def _drain(self) -> None:
        try:
            while not self._stopping:
                self._expire()
                if not self._items:
                    return
                mms = self._items[min(self._items)]
                self._current = mms.seq
                try:
                    await self._send_one(mms)
                except _TryLater as later:
                    self._unreachable = not later.reached
                    if later.reached:
                        self._arm(RETRY_INTERVAL, self._retry_due)
                    else:
                        self._arm(PROBE_INTERVAL, self._probe_due)
                    return
                self._unreachable = False
        finally:
            self._current = None
            self._drain_task = None
            if not self._stopping:
                self._expire()  # the MMS just tried may have run out of time during its try

    async def _pictures_of(self, mms: DeferredMms) -> list[DeferredPicture] | None:
        """`mms`'s pictures, or None (reported `not_sent`) when they cannot be read back."""
        if (held := self._held.get(mms.seq)) is not None:
            return held
        try:
            return await self._hass.async_add_executor_job(disk.read_pictures, self._folder, mms)
        except (OSError, disk.UnreadableMmsError) as err:
            # What is wrong is enough; a traceback would only show where it was read.
            _LOGGER.error("A deferred MMS could not be read back (%s); it is reported not sent", err)  # noqa: TRY400
            self._give_up(mms, REASON_UNREADABLE)
            return None

    async def _send_one(self, mms: DeferredMms) -> None:
        """Send the oldest MMS and record what became of it; `_TryLater` when nothing was carried out."""
        pictures = await self._pictures_of(mms)
        if pictures is None:
            return
        if not mms.given_counted:
            pictures = await self._fit_with_given_files(mms, pictures)
            if pictures is None:
                return
        scheduled = _still_ahead(mms.date)
        try:
            uploaded = list(
                await asyncio.gather(
                    *(
                        self._files.async_get_or_upload(p.content, p.filename, p.content_type, p.digest)
                        for p in pictures
                    )
                )
            )
        except _UPLOAD_RETRYABLE as err:
            if isinstance(err, SerwerSmsAuthError):
                gateway_error(self._hass, self._entry, err)  # starts reauth
            raise _TryLater(reached=not isinstance(err, SerwerSmsNotReachedError)) from err
        except SerwerSmsError as err:
            self._report_all(mms, UNSENT, err)
            gateway_error(self._hass, self._entry, err)  # the repair issue it calls for
            self._finish(mms)
            return
        self._ledger.note_used([f.id for f in uploaded], until=scheduled)
        file_ids = [f.id for f in uploaded] + mms.file_ids
        if not mms.sending:
            try:
                await self._hass.async_add_executor_job(disk.mark_sending, self._folder, mms.seq)
            except OSError as err:
                _LOGGER.error(  # noqa: TRY400 - the reason is enough
                    "A deferred MMS could not be marked as being sent (%s); it is not sent, so that a "
                    "restart can never send it twice",
                    err,
                )
                self._give_up(mms, REASON_UNWRITABLE)
                return
            mms.sending = True
        if mms.channel == MMS:
            outcomes = await self._client.send_mms_batches(
                mms.phones, title=mms.title, file_ids=file_ids, text=mms.text, date=scheduled
            )
        else:
            outcomes = await send_text_batches(
                self._client, mms.channel, mms.phones, mms.text or "", mms.text_options, scheduled
            )
        # A reused picture may be the file gone from the gateway: upload it anew next time. When
        # nothing was reused, the gone file is the caller's `file_id`: a refusal like any other.
        reused = {f.id for f in uploaded if not f.uploaded}
        lost = [o for o in outcomes if isinstance(o.error, SerwerSmsNotFoundError)] if reused else []
        if lost:
            self._files.forget(reused)
        later = [o for o in outcomes if isinstance(o.error, _SEND_RETRYABLE) or o in lost]
        done = [o for o in outcomes if o not in later]
        if done:
            by_phone = {r.phone: r for r in merge_batches(done).recipients}
            recipients = tuple(by_phone[phone] for phone in mms.phones if phone in by_phone)
            self._announcer.announce(self._outcome(mms, recipients, uploaded, file_ids))
            errors = [o.error for o in done if o.error is not None]
            if (refusal := next((err for err in errors if is_refusal(err)), None)) is not None:
                gateway_error(self._hass, self._entry, refusal)  # the repair issue it calls for
        if not later:
            self._finish(mms)
            return
        # Some batches provably did not reach the gateway: they, and only they, wait again.
        first = later[0].error
        if isinstance(first, SerwerSmsAuthError):
            gateway_error(self._hass, self._entry, first)  # starts reauth
        mms.phones = [phone for o in later for phone in o.phones]
        await self._write_back(mms, pictures)
        raise _TryLater(reached=not all(isinstance(o.error, SerwerSmsNotReachedError) for o in later))

    async def _write_back(self, mms: DeferredMms, pictures: list[DeferredPicture]) -> None:
        """The numbers left wait again, on disk; on a full disk in memory (a restart reports them unknown)."""
        try:
            await self._hass.async_add_executor_job(disk.keep_for_later, self._folder, mms, pictures)
        except OSError as err:
            _LOGGER.error(  # noqa: TRY400 - the reason is enough
                "The numbers still to send of a deferred MMS could not be written back (%s); they wait in "
                "memory, and a restart before they go reports them unknown",
                err,
            )
            self._held[mms.seq] = pictures
            # The write may have got as far as the `.json` before it failed: beside the old mark it
            # would be taken for numbers still waiting after a power cut, and sent again. Marked
            # anew before the next try, it replaces the old mark (or, never written, leaves it).
            mms.sending = False
            return
        mms.sending = False
        self._held.pop(mms.seq, None)

    @callback
    def _finish(self, mms: DeferredMms) -> None:
        """Every number of `mms` was announced: it leaves the outbox."""
        self._items.pop(mms.seq, None)
        self._held.pop(mms.seq, None)
        self._changed()
        self._delete_later(mms.seq)

    async def _fit_with_given_files(
        self, mms: DeferredMms, pictures: list[DeferredPicture]
    ) -> list[DeferredPicture] | None:
        """Deferred while the gateway could not list the caller's files: count their sizes now.

        When the MMS no longer fits `max_image_kb` with them, its pictures are fitted again into
        what is left (the same rule as a direct send); nothing is sent over the budget. None (the MMS
        reported unsent) when even that cannot be done.
        """
        try:
            listed = {info.id: info.size for info in await self._client.list_files()}
        except SerwerSmsNotReachedError as err:
            raise _TryLater(reached=False) from err
        except SerwerSmsError as err:
            raise _TryLater(reached=True) from err
        budget = int(self._entry.options.get(CONF_MAX_IMAGE_KB, DEFAULT_MAX_IMAGE_KB)) * 1024
        left = budget - message_bytes(mms.text) - sum(listed.get(f, 0) for f in mms.file_ids)
        if sum(len(p.content) for p in pictures) > left:
            # With no picture to shrink (or no room for one) it cannot fit: the text and the given
            # files alone are over the budget, which a direct send refuses (`mms_too_large`).
            fitted: list[FittedImage] = []
            if pictures and left > 0:
                items = [Picture(p.content, p.filename) for p in pictures]
                with contextlib.suppress(ImageTooLargeError, NotAnImageError):
                    fitted = await async_get_picture_queue(self._hass).run(fit_all, items, left)
            if not fitted:
                _LOGGER.warning(
                    "A deferred MMS does not fit max_image_kb with its given files; it is not sent"
                )
                self._report_all(mms, UNSENT, SerwerSmsApiError("the MMS is too large with its given files"))
                self._finish(mms)
                return None
            pictures = [DeferredPicture(f.content, f.filename, f.content_type, f.digest) for f in fitted]
        mms.given_counted = True
        return pictures

    # --- announcing -----------------------------------------------------------------------------

    def _report_all(self, mms: DeferredMms, status: str, err: SerwerSmsError | None) -> None:
        code = err.code if isinstance(err, SerwerSmsApiError) else None
        message = err.gateway_message if err is not None else "interrupted by a restart"
        recipients = tuple(RecipientResult(phone, status, None, code, message) for phone in mms.phones)
        self._announcer.announce(self._outcome(mms, recipients, [], mms.file_ids))

    def _outcome(
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
            channel=mms.channel,
            report_type=report_type(mms.channel, mms.text_options.sender),
            fallback=mms.fallback,
            is_fallback=mms.is_fallback,
            message=mms.text,
        )

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()
