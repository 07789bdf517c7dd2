"""The outbox: MMS that provably never reached the gateway, kept on disk until it answers again.

Each deferred MMS is one JSON file (its fitted pictures inside, base64) in
`<config>/.storage/serwersms.<entry_id>.outbox/`, written to a temporary name, flushed and renamed, so
a power cut leaves either the whole MMS or nothing. The file name is the MMS's sequence number, so
the outbox drains oldest first. Right before its send request an MMS's file is renamed to `.sending`;
a `.sending` file found at start-up means Home Assistant stopped while that request was out, so the
MMS may have been sent: it is reported and dropped, never sent again. Each MMS therefore goes out at
most once; it goes out exactly once unless Home Assistant dies in the middle of its send request.

All file work runs in the executor; the drain sends one MMS at a time as a background task. While
an MMS's send request is out, the next MMS's pictures are read back and uploaded, so a drain takes
about one round trip per MMS, not two; an upload is never a send, so doing it early repeats nothing.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
import json
import logging
import os
from pathlib import Path
from typing import Any, Protocol

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_call_later, async_track_time_interval
from homeassistant.util import dt as dt_util

from .api import SerwerSmsAuthError, SerwerSmsError
from .const import CONF_OUTBOX_MINUTES, DEFAULT_OUTBOX_MINUTES, DOMAIN
from .errors import gateway_error
from .mms.deferred import DeferredMms, DeferredPicture, RetryLaterError
from .mms.uploads import UploadedFile

_LOGGER = logging.getLogger(__name__)

# How often the account tries the gateway again while MMS wait (the contract: at most every 30 s).
RETRY_INTERVAL = timedelta(seconds=30)
REASON_UNREACHABLE = "gateway_unreachable"
_FORMAT_VERSION = 1
_WAITING = ".json"
_SENDING = ".sending"
_PARTIAL = ".tmp"


def outbox_minutes(entry: ConfigEntry) -> int:
    """How long an MMS may wait in the outbox (0: no outbox); read at every send, no reload needed."""
    return int(entry.options.get(CONF_OUTBOX_MINUTES, DEFAULT_OUTBOX_MINUTES))


def outbox_dir(hass: HomeAssistant, entry_id: str) -> Path:
    """Where an account's deferred MMS are kept."""
    return Path(hass.config.path(".storage", f"{DOMAIN}.{entry_id}.outbox"))


class DeferredSender(Protocol):
    """What the outbox needs from the send pipeline."""

    async def async_upload_deferred(
        self, mms: DeferredMms, pictures: list[DeferredPicture]
    ) -> list[UploadedFile]:
        """Upload (or reuse) `mms`'s pictures, announcing nothing; the client's errors as they are."""

    async def async_send_deferred(
        self,
        mms: DeferredMms,
        uploads: Awaitable[list[UploadedFile]],
        before_send: Callable[[], Awaitable[None]],
    ) -> tuple[list[str], SerwerSmsError | None]:
        """Send `mms` once `uploads` is done; the numbers left for later, and the refusal if any."""

    def report_interrupted(self, mms: DeferredMms) -> None:
        """Home Assistant stopped while `mms`'s send request was out: it may have been sent."""


# Told about an MMS given up: (the MMS, the reason).
type GiveUpListener = Callable[[DeferredMms, str], None]


# --- files (executor only) -----------------------------------------------------------------------


def _write_atomic(path: Path, data: bytes) -> None:
    partial = path.with_suffix(_PARTIAL)
    with partial.open("wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    partial.replace(path)


def _encode(mms: DeferredMms, pictures: Sequence[DeferredPicture]) -> bytes:
    return json.dumps(
        {
            "version": _FORMAT_VERSION,
            "seq": mms.seq,
            "created": mms.created,
            "expires": mms.expires,
            "phones": mms.phones,
            "title": mms.title,
            "text": mms.text,
            "file_ids": mms.file_ids,
            "date": mms.date,
            "recipient_ids": list(mms.recipient_ids),
            "pictures": [
                {
                    "filename": p.filename,
                    "content_type": p.content_type,
                    "digest": p.digest,
                    "content": base64.b64encode(p.content).decode(),
                }
                for p in pictures
            ],
        }
    ).encode()


def _decode(raw: bytes) -> tuple[DeferredMms, list[DeferredPicture]]:
    data: dict[str, Any] = json.loads(raw)
    pictures = [
        DeferredPicture(
            base64.b64decode(p["content"]), str(p["filename"]), str(p["content_type"]), str(p["digest"])
        )
        for p in data["pictures"]
    ]
    mms = DeferredMms(
        seq=int(data["seq"]),
        created=float(data["created"]),
        expires=float(data["expires"]),
        phones=[str(p) for p in data["phones"]],
        title=str(data["title"]),
        text=None if data["text"] is None else str(data["text"]),
        file_ids=[str(f) for f in data["file_ids"]],
        date=None if data["date"] is None else float(data["date"]),
        recipient_ids=tuple(str(r) for r in data.get("recipient_ids", ())),
    )
    return mms, pictures


def _path(folder: Path, seq: int, suffix: str) -> Path:
    return folder / f"{seq:012d}{suffix}"


def _store(folder: Path, mms: DeferredMms, pictures: Sequence[DeferredPicture]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    _write_atomic(_path(folder, mms.seq, _WAITING), _encode(mms, pictures))


def _read_pictures(folder: Path, mms: DeferredMms) -> list[DeferredPicture]:
    return _decode(_path(folder, mms.seq, _WAITING).read_bytes())[1]


def _mark_sending(folder: Path, seq: int) -> None:
    _path(folder, seq, _WAITING).replace(_path(folder, seq, _SENDING))


def _keep_for_later(folder: Path, mms: DeferredMms, pictures: Sequence[DeferredPicture]) -> None:
    """The numbers left (`mms.phones`) wait again; the `.sending` mark goes once they are on disk."""
    _write_atomic(_path(folder, mms.seq, _WAITING), _encode(mms, pictures))
    _path(folder, mms.seq, _SENDING).unlink(missing_ok=True)


def _delete(folder: Path, seq: int) -> None:
    for suffix in (_WAITING, _SENDING):
        _path(folder, seq, suffix).unlink(missing_ok=True)


def _load(folder: Path) -> tuple[list[DeferredMms], list[DeferredMms]]:
    """The waiting MMS and those whose send was interrupted; removes broken and interrupted files."""
    waiting: list[DeferredMms] = []
    interrupted: list[DeferredMms] = []
    if not folder.is_dir():
        return waiting, interrupted
    for path in sorted(folder.iterdir()):
        if path.suffix not in (_WAITING, _SENDING):
            path.unlink(missing_ok=True)  # a write cut short: it was never accepted
            continue
        try:
            mms = _decode(path.read_bytes())[0]
        except (OSError, ValueError, KeyError, TypeError) as err:
            _LOGGER.warning("Dropping an unreadable deferred MMS %s: %s", path.name, err)
            path.unlink(missing_ok=True)
            continue
        if path.suffix == _SENDING:
            interrupted.append(mms)
            path.unlink(missing_ok=True)
        else:
            waiting.append(mms)
    return waiting, interrupted


def _remove_all(folder: Path) -> None:
    if folder.is_dir():
        for path in folder.iterdir():
            path.unlink(missing_ok=True)
        folder.rmdir()


# --- the outbox ----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Loading:
    """A deferred MMS's pictures being read back from disk and uploaded, possibly before its turn."""

    seq: int
    pictures: asyncio.Future[list[DeferredPicture]]
    uploads: asyncio.Task[list[UploadedFile]]

    def cancel(self) -> None:
        """Not needed after all (the drain stopped, the MMS expired or cannot be read back).

        Also what keeps a failed one that nobody awaits from being logged as "Task exception was
        never retrieved": cancelling a finished task marks its exception as seen.
        """
        self.pictures.cancel()
        self.uploads.cancel()


class Outbox:
    """Deferred MMS of one account, drained oldest first, each at most once, across restarts."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry, on_give_up: GiveUpListener) -> None:
        """Bind the outbox to one account's folder; `bind()` the sender before `async_start()`.

        `on_give_up(mms, reason)` is told about every MMS dropped unsent (expired).
        """
        self._hass = hass
        self._entry = entry
        self._on_give_up = on_give_up
        self._folder = outbox_dir(hass, entry.entry_id)
        self._items: dict[int, DeferredMms] = {}
        self._next_seq = 1
        self._sender: DeferredSender | None = None
        self._listeners: list[CALLBACK_TYPE] = []
        self._next_attempt = 0.0
        self._retry_timer: CALLBACK_TYPE | None = None
        self._drain_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._current: int | None = None
        self._next_loading: _Loading | None = None
        self._interrupted: list[DeferredMms] = []

    def bind(self, sender: DeferredSender) -> None:
        """The pipeline that sends deferred MMS."""
        self._sender = sender

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

    async def async_load(self) -> None:
        """Read what waits from disk (after a restart)."""
        waiting, self._interrupted = await self._hass.async_add_executor_job(_load, self._folder)
        self._items = {mms.seq: mms for mms in waiting}
        seqs = [mms.seq for mms in waiting + self._interrupted]
        self._next_seq = max(seqs, default=0) + 1

    @callback
    def async_start(self) -> None:
        """Report interrupted sends, then try the gateway now and every 30 s while MMS wait."""
        assert self._sender is not None  # noqa: S101 - bound in async_setup_entry
        for mms in self._interrupted:
            _LOGGER.warning(
                "Home Assistant stopped while a deferred MMS was being sent; it may have been sent, "
                "so it is not sent again"
            )
            self._sender.report_interrupted(mms)
        self._interrupted = []
        self._entry.async_on_unload(async_track_time_interval(self._hass, self._tick, RETRY_INTERVAL))
        self._expire()
        self.async_kick()

    async def async_stop(self) -> None:
        """Stop draining; an MMS being sent is finished first, so no send is cut off midway."""
        self._stopping = True
        self._cancel_retry()
        if self._drain_task is not None:
            await asyncio.shield(self._drain_task)

    @staticmethod
    async def async_remove(hass: HomeAssistant, entry_id: str) -> None:
        """Delete an account's outbox (the entry is being removed)."""
        await hass.async_add_executor_job(_remove_all, outbox_dir(hass, entry_id))

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
        date: datetime | None,
        recipient_ids: tuple[str, ...],
    ) -> None:
        """Keep an MMS, with its fitted pictures, on disk for later (written before this returns).

        `place` comes from `take_place()`. Once begun, the MMS is kept even if the caller is cancelled
        (an automation reloaded mid-alarm): it waits and goes out like any other.
        """
        now = dt_util.utcnow().timestamp()
        mms = DeferredMms(
            seq=place,
            created=now,
            expires=now + outbox_minutes(self._entry) * 60,
            phones=list(phones),
            title=title,
            text=text,
            file_ids=list(file_ids),
            date=None if date is None else date.timestamp(),
            recipient_ids=recipient_ids,
        )
        await asyncio.shield(self._hass.async_create_task(self._keep(mms, list(pictures))))

    async def _keep(self, mms: DeferredMms, pictures: list[DeferredPicture]) -> None:
        await self._hass.async_add_executor_job(_store, self._folder, mms, pictures)
        self._items[mms.seq] = mms
        # The gateway was just found unreachable: the next try is one retry interval away.
        self._retry_later()
        self._changed()

    @callback
    def async_kick(self) -> None:
        """The gateway answered (or may answer): drain now unless a drain is already running."""
        if self._items and self._drain_task is None and not self._stopping:
            task = self._entry.async_create_background_task(
                self._hass, self._drain(), f"{DOMAIN} outbox drain"
            )
            # The task starts eagerly: a drain that found everything expired has already ended (and
            # cleared `_drain_task`); kept, it would block every later drain.
            if not task.done():
                self._drain_task = task

    @callback
    def _tick(self, _now: datetime) -> None:
        self._expire()
        if dt_util.utcnow().timestamp() >= self._next_attempt:
            self.async_kick()

    @callback
    def _retry_later(self) -> None:
        """Try the gateway again one retry interval from now (it was just found unreachable).

        Its own timer, not only the 30-s ticks: they keep their own clock, so a failure just after one
        would otherwise wait for the tick after next, up to 60 s.
        """
        self._next_attempt = dt_util.utcnow().timestamp() + RETRY_INTERVAL.total_seconds()
        self._cancel_retry()
        self._retry_timer = async_call_later(self._hass, RETRY_INTERVAL, self._retry_due)

    @callback
    def _retry_due(self, _now: datetime) -> None:
        self._retry_timer = None
        self._expire()
        self.async_kick()

    @callback
    def _cancel_retry(self) -> None:
        if self._retry_timer is not None:
            self._retry_timer()
            self._retry_timer = None

    async def _drain(self) -> None:
        try:
            while not self._stopping:
                self._expire()
                if not self._items:
                    return
                mms = self._items[min(self._items)]
                self._current = mms.seq
                loading = self._next_loading
                self._next_loading = None
                if loading is None or loading.seq != mms.seq:
                    if loading is not None:
                        loading.cancel()  # its MMS expired, or an older one was deferred meanwhile
                    loading = self._start_loading(mms)
                if not await self._send_one(mms, loading):
                    self._retry_later()
                    return
        finally:
            self._current = None
            loading, self._next_loading = self._next_loading, None
            try:
                if loading is not None:
                    # An upload under way is let finish, not cut off: it would finish all the same, but
                    # unlisted, so the clean-up would never delete its file (nor would a restart know
                    # its id). Done, it is on the list and in the file-id table before any unload.
                    await asyncio.wait((loading.uploads,))
            finally:
                if loading is not None:
                    loading.cancel()  # a failure nobody awaits is marked as seen
                self._drain_task = None

    def _start_loading(self, mms: DeferredMms) -> _Loading:
        """Read `mms`'s pictures back from disk and upload them, as tasks of their own."""
        assert self._sender is not None  # noqa: S101 - bound before start
        sender = self._sender
        pictures = self._hass.async_add_executor_job(_read_pictures, self._folder, mms)

        async def upload() -> list[UploadedFile]:
            return await sender.async_upload_deferred(mms, await pictures)

        uploads = self._hass.async_create_task(upload())
        return _Loading(mms.seq, pictures, uploads)

    @callback
    def _load_next_after(self, seq: int) -> None:
        """Start on the MMS after `seq` while `seq`'s send request is out."""
        following = min((s for s in self._items if s > seq), default=None)
        if following is not None and not self._stopping:
            self._next_loading = self._start_loading(self._items[following])

    async def _send_one(self, mms: DeferredMms, loading: _Loading) -> bool:
        """Send the oldest MMS; False when the gateway still cannot take it (try again later)."""
        assert self._sender is not None  # noqa: S101 - bound before start
        folder = self._folder
        try:
            pictures = await loading.pictures
        except (OSError, ValueError, KeyError, TypeError) as err:
            # The file is damaged (a disk error, an edit by hand): what is wrong with it is enough,
            # a traceback would only show where it was read.
            _LOGGER.error("A deferred MMS could not be read back (%s); it is dropped", repr(err))  # noqa: TRY400
            loading.cancel()  # its upload failed with the same error, and is never awaited
            await self._drop(mms)
            return True

        async def before_send() -> None:
            # The gateway just took this MMS's uploads: the next one's go up while this one is sent.
            self._load_next_after(mms.seq)
            # From here on the MMS may be out: a restart must not send it again.
            await self._hass.async_add_executor_job(_mark_sending, folder, mms.seq)
            mms.sending = True

        try:
            later, refusal = await self._sender.async_send_deferred(mms, loading.uploads, before_send)
        except RetryLaterError as err:
            if isinstance(err.__cause__, SerwerSmsAuthError):
                gateway_error(self._hass, self._entry, err.__cause__)  # starts reauth
            if mms.sending:
                await self._hass.async_add_executor_job(_keep_for_later, folder, mms, pictures)
                mms.sending = False
            return False
        except Exception:
            # Whatever went wrong, the MMS may be out: never risk sending it twice.
            _LOGGER.exception("A deferred MMS failed in an unexpected way; it is dropped")
            await self._drop(mms)
            return True
        if refusal is not None:
            gateway_error(self._hass, self._entry, refusal)  # the repair issue it calls for
        if later:
            # Some batches provably did not reach the gateway: they, and only they, wait again.
            mms.phones = later
            await self._hass.async_add_executor_job(_keep_for_later, folder, mms, pictures)
            mms.sending = False
            return False
        await self._drop(mms)
        return True

    async def _drop(self, mms: DeferredMms) -> None:
        self._items.pop(mms.seq, None)
        self._changed()
        await self._hass.async_add_executor_job(_delete, self._folder, mms.seq)

    @callback
    def _expire(self) -> None:
        now = dt_util.utcnow().timestamp()
        expired = [mms for mms in self._items.values() if mms.expires <= now and mms.seq != self._current]
        for mms in expired:
            self._items.pop(mms.seq)
            _LOGGER.warning("A deferred MMS expired: the gateway could not be reached in time")
            self._on_give_up(mms, REASON_UNREACHABLE)
            self._hass.async_add_executor_job(_delete, self._folder, mms.seq)
        if expired:
            self._changed()

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()
