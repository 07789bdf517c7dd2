"""Gateway storage clean-up: delete the integration's own uploads `keep_uploads_days` after last use.

Only pictures the integration itself uploaded for a send are listed here (the *ledger*, file id →
last use). Files given by `file_id` and files handed to the user by `serwersms.upload_file` are the
user's: they are taken out of it and never re-enter; a picture of a send scheduled for later counts
as used at the scheduled time, so it outlives the send by `keep_uploads_days`.

At most one run a day (the day of the last run is stored), started in the background; a run that
fails part way stops and the rest waits for the next day. Choosing what is due runs in the executor.
The ledger is bounded by what `keep_uploads_days` keeps; above `MAX_LEDGER` entries (only reachable
with a very long keep or a very busy account) the least recently used are deleted early.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
import contextlib
from datetime import datetime, timedelta
import logging
from typing import NotRequired, TypedDict

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.util import dt as dt_util

from . import storage
from .api import SerwerSmsClient, SerwerSmsError, SerwerSmsNotFoundError, is_outage
from .const import CONF_KEEP_UPLOADS_DAYS, DEFAULT_KEEP_UPLOADS_DAYS, DOMAIN
from .mms.uploads import FileIdCache
from .storage import AccountStore

_LOGGER = logging.getLogger(__name__)

STORAGE_VERSION = 1
SAVE_DELAY = 5.0
CHECK_INTERVAL = timedelta(hours=1)
# 50,000 ids are ~1.5 MB of JSON: a month of 10-picture MMS at well over the default daily limit.
MAX_LEDGER = 50_000
# The user's files are only ever added by the user's own calls; still, never let the list grow unbounded.
MAX_KEPT = 10_000
_DAY = 86_400.0


class _Stored(TypedDict):
    last_run: str | None
    uploads: dict[str, float]
    kept: NotRequired[list[str]]


def keep_uploads_days(entry: ConfigEntry) -> int:
    """Days an own upload is kept after its last use (0: forever); read at every run."""
    return int(entry.options.get(CONF_KEEP_UPLOADS_DAYS, DEFAULT_KEEP_UPLOADS_DAYS))


def due_for_deletion(uploads: dict[str, float], now: float, keep_days: int) -> list[str]:
    """The ids to delete now: last used more than `keep_days` ago, and the overflow over MAX_LEDGER.

    `keep_days` 0 keeps every upload forever: nothing is ever due then.
    """
    if not keep_days:
        return []
    by_age = sorted(uploads, key=uploads.__getitem__)
    overflow = set(by_age[: max(0, len(by_age) - MAX_LEDGER)])
    horizon = now - keep_days * _DAY
    return [file_id for file_id in by_age if uploads[file_id] <= horizon or file_id in overflow]


class GatewayHousekeeping:
    """Remembers the account's own uploads and deletes them from the gateway when they are due."""

    def __init__(
        self, hass: HomeAssistant, entry: ConfigEntry, client: SerwerSmsClient, files: FileIdCache
    ) -> None:
        """Bind to one account."""
        self._hass = hass
        self._entry = entry
        self._client = client
        self._files = files
        self._store: AccountStore[_Stored] = AccountStore(
            hass, entry.entry_id, "uploads", version=STORAGE_VERSION, large=True
        )
        self._uploads: dict[str, float] = {}
        self._kept: dict[str, None] = {}  # the user's files, oldest first
        self._last_run: str | None = None
        self._running = False
        self._timer: CALLBACK_TYPE | None = None
        self._task: asyncio.Task[None] | None = None
        files.add_upload_listener(lambda file_id: self.note_used([file_id]))

    async def async_load(self) -> None:
        """Read the ledger."""
        stored = await self._store.async_load_or_empty()
        if stored is not None:
            self._uploads = dict(stored["uploads"])
            self._kept = dict.fromkeys(stored.get("kept", []))
            self._last_run = stored["last_run"]

    @callback
    def async_start(self) -> None:
        """Run now if today's run is still to do, then look again every hour."""
        self._timer = async_track_time_interval(self._hass, self._check, CHECK_INTERVAL)
        self._check(dt_util.utcnow())

    async def async_stop(self) -> None:
        """No more runs (the account unloads); a run under way stops; the ledger is written now."""
        if self._timer is not None:
            self._timer()
            self._timer = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._store.async_save(self._data())

    @staticmethod
    async def async_remove_store(hass: HomeAssistant, entry_id: str) -> None:
        """Delete an account's ledger (the entry is being removed)."""
        await storage.async_remove(hass, entry_id, "uploads")

    def __len__(self) -> int:
        """How many own uploads are remembered."""
        return len(self._uploads)

    def note_used(self, file_ids: Collection[str], until: datetime | None = None) -> None:
        """Own uploads just used by a send; a scheduled send uses them until its time."""
        when = dt_util.utcnow().timestamp()
        if until is not None:
            when = max(when, until.timestamp())
        for file_id in file_ids:
            if file_id in self._kept:
                continue
            # Re-inserted, so the ledger runs from least to most recently used.
            self._uploads[file_id] = max(when, self._uploads.pop(file_id, 0.0))
        if not keep_uploads_days(self._entry):
            # Kept forever: nothing will be deleted, so the oldest are only forgotten, never deleted.
            while len(self._uploads) > MAX_LEDGER:
                del self._uploads[next(iter(self._uploads))]
        self._store.async_delay_save(self._data, SAVE_DELAY)

    def exempt(self, file_ids: Collection[str]) -> None:
        """Files that are the user's (`upload_file`, `file_id`): never delete them."""
        for file_id in file_ids:
            self._uploads.pop(file_id, None)
            self._kept.pop(file_id, None)
            self._kept[file_id] = None
        while len(self._kept) > MAX_KEPT:
            del self._kept[next(iter(self._kept))]
        self._store.async_delay_save(self._data, SAVE_DELAY)

    @callback
    def _check(self, _now: datetime) -> None:
        today = dt_util.now().date().isoformat()
        if self._running or self._last_run == today:
            return
        self._running = True
        self._last_run = today
        self._store.async_delay_save(self._data, SAVE_DELAY)
        self._task = self._entry.async_create_background_task(
            self._hass, self._run(), f"{DOMAIN} storage clean-up"
        )

    async def _run(self) -> None:
        try:
            snapshot = dict(self._uploads)
            due = await self._hass.async_add_executor_job(
                due_for_deletion,
                snapshot,
                dt_util.utcnow().timestamp(),
                keep_uploads_days(self._entry),
            )
            deleted: set[str] = set()
            for file_id in due:
                if self._uploads.get(file_id) != snapshot[file_id]:
                    continue  # used again (or handed to the user) since the list was made
                # Forgotten before the request: while it is out, a send or `upload_file` with the same
                # picture uploads it anew rather than reusing an id the gateway is deleting.
                self._files.forget({file_id})
                try:
                    await self._client.delete_file(file_id)
                except SerwerSmsNotFoundError:
                    pass  # already gone (deleted in the panel): forget it all the same
                except SerwerSmsError as err:
                    # An unreachable gateway is logged once per outage by the account, not here daily.
                    _LOGGER.log(
                        logging.DEBUG if is_outage(err) else logging.WARNING,
                        "Storage clean-up stopped after %d of %d files (%s); the rest waits for tomorrow",
                        len(deleted),
                        len(due),
                        err.gateway_message,
                    )
                    break
                deleted.add(file_id)
            if deleted:
                for file_id in deleted:
                    self._uploads.pop(file_id, None)
                self._files.forget(deleted)
                self._store.async_delay_save(self._data, SAVE_DELAY)
                _LOGGER.debug("Storage clean-up deleted %d old uploads from the gateway", len(deleted))
        finally:
            self._running = False
            self._task = None

    def _data(self) -> _Stored:
        return {"last_run": self._last_run, "uploads": dict(self._uploads), "kept": list(self._kept)}
