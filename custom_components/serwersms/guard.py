"""Spending guard: a daily MMS limit per recipient number and a per-recipient cooldown, persisted.

`daily_limit` is how many MMS one phone number may be sent in a local calendar day; a number counts
when the gateway queued its MMS, when it was deferred to the outbox, or when the outcome is unknown
(it may have been sent). A send that would take any of its numbers past the limit is refused whole.
A send is *reserved* before any snapshot is taken, so a burst of concurrent calls cannot all slip
under the limit while the first is still uploading; the reservation becomes the real count once the
gateway has answered. The "Messages sent today" sensor (entity id `…_mms_sent_today`) shows the
account's total over all numbers: MMS, SMS and calls alike.

A cooldown is marked when a send starts and stays *pending* until the send settles: kept when the MMS
went out, was deferred or may have gone, undone otherwise. Only a kept mark suppresses; a call that a
pending mark might suppress waits for it to settle.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import TypedDict

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.util import dt as dt_util

from . import storage
from .const import CONF_DAILY_LIMIT, DEFAULT_DAILY_LIMIT, ISSUE_DAILY_LIMIT_REACHED, MAX_COOLDOWN
from .errors import invalid
from .issue import clear_issue, raise_issue
from .storage import AccountStore

STORAGE_VERSION = 1
SAVE_DELAY = 1.0


class _Stored(TypedDict):
    day: str
    sent: dict[str, int]
    last_sent: dict[str, float]


def daily_limit(entry: ConfigEntry) -> int:
    """The account's daily MMS limit now (0 = none); read at every send, so a change needs no reload."""
    return int(entry.options.get(CONF_DAILY_LIMIT, DEFAULT_DAILY_LIMIT))


class Reservation:
    """MMS held against today's limit while one send is under way."""

    def __init__(self, guard: SpendingGuard, phones: Sequence[str], day: date) -> None:
        """Hold one MMS of `day` for each of `phones`."""
        self._guard = guard
        self.phones = phones
        self.day = day
        self._open = True

    def commit(self, counted: Sequence[str]) -> None:
        """The send is over: the numbers in `counted` (queued, deferred or maybe sent) count."""
        if self._open:
            self._open = False
            self._guard._settle(self, counted)  # noqa: SLF001 - the guard's own helper

    def release(self) -> None:
        """Nothing went out: give the reservation back."""
        self.commit([])


class CooldownMark:
    """A recipient's `tag` marked as being sent now: pending until its send settles.

    Kept when the MMS went out, waits in the outbox or may have gone out; undone otherwise. Calls
    that would be suppressed by it wait for it to settle first (see `SpendingGuard.async_begin`).
    """

    def __init__(self, guard: SpendingGuard, key: str, at: float) -> None:
        """A mark of `key` made at `at` (POSIX seconds)."""
        self._guard = guard
        self.key = key
        self.at = at
        self.settled: asyncio.Future[None] = guard.hass.loop.create_future()

    def keep(self) -> None:
        """The MMS went out, waits in the outbox, or may have gone out: the cooldown started."""
        if not self.settled.done():
            self._guard._settle_mark(self, kept=True)  # noqa: SLF001 - the guard's own helper

    def undo(self) -> None:
        """The MMS neither went out nor was deferred: the cooldown did not start."""
        if not self.settled.done():
            self._guard._settle_mark(self, kept=False)  # noqa: SLF001 - the guard's own helper


class SpendingGuard:
    """Counts today's MMS of one account, refuses sends over the limit, and keeps cooldowns."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry) -> None:
        """Bind the guard to one account's storage."""
        self.hass = hass
        self._entry = entry
        self._store: AccountStore[_Stored] = AccountStore(
            hass, entry.entry_id, "guard", version=STORAGE_VERSION
        )
        self._day = dt_util.now().date()
        self._sent: dict[str, int] = {}
        self._reserved: dict[str, int] = {}
        self._last_sent: dict[str, float] = {}  # cooldowns started by sends that settled
        self._pending: dict[str, list[CooldownMark]] = {}  # marks whose send is still under way
        self._listeners: list[CALLBACK_TYPE] = []
        self._midnight: CALLBACK_TYPE | None = None

    async def async_load(self) -> None:
        """Read today's count and the cooldowns; a count of another day starts from zero."""
        stored = await self._store.async_load_or_empty()
        if stored is not None:
            self._day = date.fromisoformat(stored["day"])
            self._sent = dict(stored["sent"])
            self._last_sent = dict(stored["last_sent"])
        self._roll_over()

    @callback
    def async_start(self) -> None:
        """Start a new count when each local day starts.

        Timed to the day's start rather than to 00:00:00, which a daylight saving change can skip
        (America/Santiago goes from 23:59:59 to 01:00): a clock-time trigger would then not fire
        that day, and yesterday's count would hold all day.
        """

        @callback
        def _arm() -> None:
            tomorrow = dt_util.start_of_local_day(dt_util.now().date() + timedelta(days=1))
            self._midnight = async_track_point_in_utc_time(self.hass, _new_day, dt_util.as_utc(tomorrow))

        @callback
        def _new_day(_now: datetime) -> None:
            self._roll_over()
            _arm()

        _arm()

    async def async_stop(self) -> None:
        """No more roll-overs (the account unloads); the count is written now."""
        if self._midnight is not None:
            self._midnight()
            self._midnight = None
        await self._store.async_save(self._data())

    @staticmethod
    async def async_remove_store(hass: HomeAssistant, entry_id: str) -> None:
        """Delete an account's persisted count (the entry is being removed)."""
        await storage.async_remove(hass, entry_id, "guard")

    async def async_save(self) -> None:
        """Write now, rather than after the save delay: after a send (before its call returns), on unload."""
        await self._store.async_save(self._data())

    # --- what the sensor shows -------------------------------------------------------------------

    @property
    def sent_today(self) -> int:
        """MMS counted today over all numbers (queued or deferred; test sends not).

        Only reads: the day's timer starts the new count (and takes the repair issue away).
        """
        return sum(self._sent.values()) if self._day == dt_util.now().date() else 0

    @callback
    def async_add_listener(self, listener: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call `listener` whenever the count changes; returns the function that stops it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    # --- the daily limit -------------------------------------------------------------------------

    def reserve(self, phones: Sequence[str]) -> Reservation:
        """Hold one MMS for each of `phones`, or refuse the whole send (`daily_limit_reached`)."""
        self._roll_over()
        limit = daily_limit(self._entry)
        if limit:
            used = max((self._sent.get(p, 0) + self._reserved.get(p, 0) for p in phones), default=0)
            if used + 1 > limit:
                raise_issue(
                    self.hass, self._entry, ISSUE_DAILY_LIMIT_REACHED, limit=str(limit), sent_today=str(used)
                )
                raise invalid(
                    ISSUE_DAILY_LIMIT_REACHED, limit=str(limit), sent_today=str(used), needed=str(len(phones))
                )
        for phone in phones:
            self._reserved[phone] = self._reserved.get(phone, 0) + 1
        return Reservation(self, phones, self._day)

    def _settle(self, reservation: Reservation, counted: Sequence[str]) -> None:
        self._roll_over()
        if reservation.day != self._day:
            return  # yesterday's send finished after midnight: today's count starts at zero
        for phone in reservation.phones:
            if (left := self._reserved.get(phone, 0) - 1) > 0:
                self._reserved[phone] = left
            else:
                self._reserved.pop(phone, None)
        for phone in counted:
            self._sent[phone] = self._sent.get(phone, 0) + 1
        if counted:
            self._changed()

    @callback
    def async_limit_changed(self) -> None:
        """Options changed: a raised (or removed) limit takes the repair issue away."""
        limit = daily_limit(self._entry)
        if not limit or max(self._sent.values(), default=0) < limit:
            clear_issue(self.hass, self._entry, ISSUE_DAILY_LIMIT_REACHED)

    def _roll_over(self) -> None:
        today = dt_util.now().date()
        if today == self._day:
            return
        self._day = today
        self._sent = {}
        self._reserved = {}
        # Cooldowns are seconds, not days: keep only those that can still suppress a send.
        horizon = dt_util.utcnow().timestamp() - MAX_COOLDOWN
        self._last_sent = {key: when for key, when in self._last_sent.items() if when > horizon}
        clear_issue(self.hass, self._entry, ISSUE_DAILY_LIMIT_REACHED)
        self._changed()

    # --- cooldown --------------------------------------------------------------------------------

    async def async_begin(
        self, recipients: Sequence[str], tag: str, cooldown: float
    ) -> dict[str, CooldownMark]:
        """Mark `tag` as being sent now to each of `recipients` but those it went to within `cooldown` s.

        Marked at the start of the send, so calls arriving while the first is still uploading are
        suppressed too; but such a call first waits for that send to settle, since a send that then
        fails sent nothing and must not silence the next alarm. It holds no mark while it waits (no
        two calls can wait on each other), and it waits for every recipient of the call, which go out
        in one MMS. Returns the marks of the recipients to send to.
        """
        keys = {recipient: f"{recipient}\x1f{tag}" for recipient in recipients}
        while cooldown and (
            waiting := [
                mark.settled
                for key in keys.values()
                for mark in self._pending.get(key, ())
                if self._within(mark.at, cooldown) and not self._suppressed(key, cooldown)
            ]
        ):
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        self._roll_over()
        now = dt_util.utcnow().timestamp()
        marks: dict[str, CooldownMark] = {}
        for recipient, key in keys.items():
            if not self._suppressed(key, cooldown):
                marks[recipient] = mark = CooldownMark(self, key, now)
                self._pending.setdefault(key, []).append(mark)
        if marks:
            # Stored as if sent: after a crash mid-send the MMS may well be on the phone.
            self._store.async_delay_save(self._data, SAVE_DELAY)
        return marks

    def _suppressed(self, key: str, cooldown: float) -> bool:
        previous = self._last_sent.get(key)
        return bool(cooldown) and previous is not None and self._within(previous, cooldown)

    @staticmethod
    def _within(at: float, cooldown: float) -> bool:
        return dt_util.utcnow().timestamp() - at < cooldown

    def _settle_mark(self, mark: CooldownMark, *, kept: bool) -> None:
        pending = self._pending.get(mark.key, [])
        if mark in pending:
            pending.remove(mark)
        if not pending:
            self._pending.pop(mark.key, None)
        if kept:
            self._last_sent[mark.key] = max(self._last_sent.get(mark.key, mark.at), mark.at)
        mark.settled.set_result(None)
        self._store.async_delay_save(self._data, SAVE_DELAY)

    # --- plumbing --------------------------------------------------------------------------------

    def _data(self) -> _Stored:
        last_sent = dict(self._last_sent)
        for key, marks in self._pending.items():
            last_sent[key] = max(last_sent.get(key, 0.0), *(mark.at for mark in marks))
        return {"day": self._day.isoformat(), "sent": dict(self._sent), "last_sent": last_sent}

    def _changed(self) -> None:
        self._store.async_delay_save(self._data, SAVE_DELAY)
        for listener in list(self._listeners):
            listener()
