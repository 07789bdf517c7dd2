"""Heartbeat: an SMS kept scheduled at the gateway that goes out only if Home Assistant falls silent.

While `heartbeat_minutes` is on and at least one recipient has `heartbeat: true`, one ECO SMS ("Home
Assistant has not been heard from since …") stays scheduled at the gateway `heartbeat_minutes` ahead,
to those recipients' numbers. When it is due in less than a third of the period (every two thirds of
it), a new one is scheduled *first*, its ids written to the store (awaited), and only then is the old
one deleted with `messages/delete`: a restart or a crash at any point leaves every scheduled heartbeat
known, and there is never a moment without one. If Home Assistant, its power or its internet dies,
nobody deletes the last one and the gateway sends it.

Cost per re-schedule: one send request and one delete request per number of the heartbeat's
recipients (the gateway gives each number its own message id, and deleting a list of ids in one
request is not documented). At the period `P` minutes that is 1.5 * 1440 / P re-schedules a day
(36 at 60 minutes), i.e. 3 * 1440 / P requests a day for one number.

Clocks. The timer between re-schedules runs on the event loop's monotonic clock (`async_call_later`):
a wall-clock jump (NTP correcting the clock of a board without a battery-backed clock) must neither
fire it early nor hold it back. The gateway's `date` is wall-clock by nature — it is a moment on the
gateway's calendar — so it is the gateway's own time + the period (the client sends it as Warsaw time).
The gateway's time is that of its last answer (`SerwerSmsClient.gateway_now`); Home Assistant's clock
only until the gateway has answered once. A board that starts Home Assistant before its clock is
synced may be hours behind: a `date` from that clock would lie in the gateway's past, and the
heartbeat ("not heard from since …", with a wrong time too) would go out at once, to every recipient.
A difference of more than `CLOCK_WARNING` between the two clocks is logged once.

Failures:
- the gateway cannot be reached (or answers 5xx) at a tick: the old heartbeat stays scheduled and
  stored; the tick is tried again after `RETRY` seconds, not a whole period; logged once per outage;
- a send whose outcome is unknown (the request went out, no answer): a heartbeat may now be scheduled
  whose id nobody knows. It is treated as *not* scheduled and tried again after `RETRY`: assuming it
  was scheduled could leave none armed (the old one fires within a third of the period, and then
  nothing watches), which defeats the heartbeat. The price is that a second, unknown heartbeat may
  exist until it fires — once, at the time logged in the warning — one stray SMS after a rare event;
- a delete the gateway refuses as gone (`SerwerSmsMessageGoneError`: sent, deleted in the panel or
  never known) is forgotten; any other failed delete keeps the id stored and is retried later, so at
  most one heartbeat is scheduled at the gateway once a re-schedule settles;
- a refused send (no SMS credits, …) is logged as a warning and tried again a third of a period later.

Heartbeats are not counted against `daily_limit` (they are normally deleted before they go out), are
never a cooldown, and have no test mode. Unloading the account (Home Assistant stopping) leaves the
scheduled heartbeat in place — that is what it is for; the next start replaces it at once. Turning the
option off, or removing the account, deletes it at the gateway (best effort).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
import logging
from typing import Any, Final, TypedDict

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HassJob, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_call_later
from homeassistant.util import dt as dt_util

from . import storage
from .api import (
    QUEUED,
    SerwerSmsClient,
    SerwerSmsError,
    SerwerSmsMessageGoneError,
    SerwerSmsOutcomeUnknownError,
    is_outage,
    is_refusal,
)
from .const import (
    CONF_HEARTBEAT,
    CONF_HEARTBEAT_MINUTES,
    CONF_PHONE,
    CONF_SMS_SENDER,
    DEFAULT_HEARTBEAT_MINUTES,
    DOMAIN,
    MAX_HEARTBEAT_MINUTES,
    MIN_HEARTBEAT_MINUTES,
    SUBENTRY_RECIPIENT,
)
from .issue import PANEL_URL, clear_issue
from .storage import AccountStore

_LOGGER = logging.getLogger(__name__)

ISSUE_HEARTBEAT_WITHOUT_RECIPIENT: Final = "heartbeat_without_recipient"

STORAGE_VERSION = 1
# A tick that could not reach the gateway (or whose send's outcome is unknown) is tried again this soon.
RETRY: Final = 60.0
# Re-scheduled when the scheduled one is due in less than this share of the period.
RENEW_MARGIN: Final = 1 / 3
# Clocks further apart than this are worth a warning (a board whose clock is not synced yet).
CLOCK_WARNING: Final = timedelta(minutes=5)

TEXT_EN: Final = "Home Assistant has not been heard from since {time}."
TEXT_PL: Final = "Home Assistant nie odzywa się od {time}."


class _Stored(TypedDict):
    ids: list[str]  # the newest heartbeat's ids at the gateway (one per number)
    due: str | None  # when it goes out (UTC, ISO 8601)
    old: list[str]  # earlier heartbeats' ids, still to delete


def heartbeat_minutes(entry: ConfigEntry) -> int:
    """The heartbeat's period in minutes now (0: off); read at every tick, so a change needs no reload."""
    minutes = int(entry.options.get(CONF_HEARTBEAT_MINUTES, DEFAULT_HEARTBEAT_MINUTES))
    if minutes <= 0:
        return 0
    return min(max(minutes, MIN_HEARTBEAT_MINUTES), MAX_HEARTBEAT_MINUTES)


def heartbeat_phones(entry: ConfigEntry) -> list[str]:
    """The numbers of every recipient with `heartbeat: true`, each once, sorted."""
    phones: set[str] = set()
    for sub in entry.subentries.values():
        if sub.subentry_type == SUBENTRY_RECIPIENT and sub.data.get(CONF_HEARTBEAT):
            phones.update(sub.data.get(CONF_PHONE, []))
    return sorted(phones)


def heartbeat_text(hass: HomeAssistant, since: datetime) -> str:
    """The SMS text, in Polish when Home Assistant speaks Polish; `since` in local time."""
    template = TEXT_PL if (hass.config.language or "").lower().startswith("pl") else TEXT_EN
    return template.format(time=dt_util.as_local(since).strftime("%Y-%m-%d %H:%M"))


class Heartbeat:
    """Keeps one heartbeat SMS scheduled at the gateway for one account."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry, client: SerwerSmsClient) -> None:
        """Bind to one account."""
        self._hass = hass
        self._entry = entry
        self._client = client
        self._store: AccountStore[_Stored] = AccountStore(
            hass, entry.entry_id, "heartbeat", version=STORAGE_VERSION
        )
        self._ids: list[str] = []
        self._due: datetime | None = None
        self._old: list[str] = []
        # What the current heartbeat was scheduled with in this run; None after a start, so that a
        # start always replaces what an earlier run left (its text would say the wrong time).
        self._armed_with: tuple[int, tuple[str, ...], str] | None = None
        self._renew_at: float | None = None  # loop (monotonic) time of the next re-schedule
        self._timer: CALLBACK_TYPE | None = None
        self._task: asyncio.Task[None] | None = None
        self._again = False
        self._stopped = True
        self._unreachable = False  # logged for this outage already
        self._refused: str | None = None  # the refusal last logged
        self._clock_warned = False  # the clocks' difference is logged (until they agree again)

    async def async_load(self) -> None:
        """Read the ids of what an earlier run left scheduled; all of it is old now."""
        stored = await self._store.async_load_or_empty()
        if stored is not None:
            # A start replaces the heartbeat an earlier run left: every stored id is to be deleted
            # once a new one is scheduled.
            self._old = [*stored.get("old", []), *stored.get("ids", [])]

    @callback
    def async_start(self) -> None:
        """Schedule a new heartbeat at once (if on), then delete what an earlier run left."""
        self._stopped = False
        self.async_kick()

    async def async_stop(self) -> None:
        """No more ticks; one under way finishes (its new id is stored); the scheduled heartbeat stays."""
        self._stopped = True
        self._cancel_timer()
        if self._task is not None and not self._task.done():
            # Not cancelled: a send the gateway accepted must have its id stored, or it goes out later
            # as a stray. Home Assistant's shutdown may still cancel it (a rare stray heartbeat).
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._task)
        await self._store.async_save(self._data())

    @staticmethod
    async def async_remove(hass: HomeAssistant, entry: ConfigEntry, client: SerwerSmsClient) -> None:
        """The account is removed: delete its heartbeats at the gateway (best effort), then its store."""
        stored = await AccountStore[_Stored](
            hass, entry.entry_id, "heartbeat", version=STORAGE_VERSION
        ).async_load_or_empty()
        ids = [] if stored is None else [*stored.get("old", []), *stored.get("ids", [])]
        for message_id in ids:
            try:
                await client.delete_message(message_id)
            except SerwerSmsMessageGoneError:
                pass
            except SerwerSmsError as err:
                _LOGGER.warning(
                    "Could not delete a scheduled heartbeat SMS of the removed account %s (%s); "
                    "it goes out at its time unless deleted in the SerwerSMS panel",
                    entry.title,
                    err.gateway_message,
                )
        clear_issue(hass, entry, ISSUE_HEARTBEAT_WITHOUT_RECIPIENT)
        await storage.async_remove(hass, entry.entry_id, "heartbeat")

    @property
    def scheduled(self) -> int:
        """How many heartbeat messages the gateway may hold now (the current one's and old ones' ids)."""
        return len(self._ids) + len(self._old)

    @property
    def next_reschedule(self) -> datetime | None:
        """When the next re-schedule is due (wall clock, for diagnostics), None when none is armed."""
        if self._renew_at is None:
            return None
        return dt_util.utcnow() + timedelta(seconds=max(0.0, self._renew_at - self._hass.loop.time()))

    @callback
    def async_kick(self) -> None:
        """Look now: the options or the time say something may have to change."""
        if self._stopped:
            return
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._cancel_timer()
        # Started eagerly: a tick with nothing to do is over before this assignment (hence `done()`).
        self._task = self._entry.async_create_background_task(self._hass, self._run(), f"{DOMAIN} heartbeat")

    @callback
    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer()
            self._timer = None

    async def _run(self) -> None:
        delay: float | None = None
        try:
            while True:
                self._again = False
                delay = await self._tick()
                if not self._again or self._stopped:
                    break
        finally:
            self._task = None
        if not self._stopped and delay is not None:
            self._timer = async_call_later(
                self._hass, delay, HassJob(self._on_timer, f"{DOMAIN} heartbeat", cancel_on_shutdown=True)
            )

    @callback
    def _on_timer(self, _now: datetime) -> None:
        self._timer = None
        self.async_kick()

    async def _tick(self) -> float | None:
        """Bring the gateway to what the options say; the seconds until the next tick (None: none)."""
        minutes = heartbeat_minutes(self._entry)
        phones = heartbeat_phones(self._entry)
        self._update_issue(minutes, phones)
        if not minutes or not phones:
            if self._ids:
                self._old.extend(self._ids)
                self._ids, self._due = [], None
                await self._store.async_save(self._data())
            self._armed_with = None
            self._renew_at = None
            return RETRY if await self._delete_old() is False else None
        sender = str(self._entry.options.get(CONF_SMS_SENDER) or "").strip()
        wanted = (minutes, tuple(phones), sender)
        period = minutes * 60.0
        if self._armed_with != wanted or self._renew_at is None or self._hass.loop.time() >= self._renew_at:
            retry = await self._schedule(wanted, period)
            if retry is not None:
                # The old heartbeat stays scheduled (and stored) until a new one is.
                return retry
        deleted = await self._delete_old()
        renew_at = self._renew_at if self._renew_at is not None else self._hass.loop.time()
        until_renew = max(0.0, renew_at - self._hass.loop.time())
        if deleted is None:
            return min(RETRY, until_renew)
        return until_renew

    def _gateway_now(self) -> datetime:
        """Now on the gateway's calendar: its own clock once it has answered, else Home Assistant's."""
        local = dt_util.utcnow()
        gateway = self._client.gateway_now()
        if gateway is None:
            return local
        ahead = (local - gateway).total_seconds()
        if abs(ahead) <= CLOCK_WARNING.total_seconds():
            self._clock_warned = False
        elif not self._clock_warned:
            self._clock_warned = True
            _LOGGER.warning(
                "Home Assistant's clock is %d minutes %s the SerwerSMS gateway's; the heartbeat SMS is "
                "scheduled by the gateway's clock",
                round(abs(ahead) / 60),
                "ahead of" if ahead > 0 else "behind",
            )
        return gateway

    async def _schedule(self, wanted: tuple[int, tuple[str, ...], str], period: float) -> float | None:
        """Schedule a new heartbeat and store its ids; None when done, else the seconds to retry in."""
        minutes, phones, sender = wanted
        now = self._gateway_now()
        due = now + timedelta(minutes=minutes)  # a moment on the gateway's calendar
        try:
            result = await self._client.send_sms(
                list(phones), text=heartbeat_text(self._hass, now), sender=sender or None, date=due
            )
        except SerwerSmsError as err:
            return self._send_failed(err, due, period)
        ids = [item.id for item in result.recipients if item.status == QUEUED and item.id]
        if len(ids) < len(phones):
            unsent = [item for item in result.recipients if item.status != QUEUED or not item.id]
            _LOGGER.warning(
                "The heartbeat SMS was not scheduled for %d of %d numbers (%s)",
                len(unsent),
                len(phones),
                "; ".join(sorted({item.error_message or item.status for item in unsent})),
            )
        if not ids:
            return self._send_failed(None, due, period)
        self._unreachable = False
        self._refused = None
        # Stored before anything is deleted: whatever happens next, every scheduled heartbeat is known.
        self._old.extend(self._ids)
        self._ids, self._due = ids, due
        self._armed_with = wanted
        self._renew_at = self._hass.loop.time() + period * (1 - RENEW_MARGIN)
        await self._store.async_save(self._data())
        _LOGGER.debug("Heartbeat scheduled for %s (%d numbers)", due.isoformat(), len(ids))
        return None

    def _send_failed(self, err: SerwerSmsError | None, due: datetime, period: float) -> float:
        """Log a failed send once; the seconds until it is tried again."""
        if err is not None and is_outage(err) and not isinstance(err, SerwerSmsOutcomeUnknownError):
            # The account logs the outage itself, once: only what it means for the heartbeat here.
            _LOGGER.log(
                logging.DEBUG if self._unreachable else logging.INFO,
                "The gateway cannot be reached: the scheduled heartbeat SMS stays and is renewed "
                "when it answers (%s)",
                err.gateway_message,
            )
            self._unreachable = True
            return RETRY
        if err is None or not is_refusal(err):
            # It may have been scheduled: see the module's docstring for why it is sent again.
            _LOGGER.warning(
                "No clear answer to the heartbeat SMS (%s): it may be scheduled all the same, and "
                "then goes out once at %s; scheduling another",
                "none of its numbers" if err is None else err.gateway_message,
                dt_util.as_local(due).strftime("%Y-%m-%d %H:%M"),
            )
            return RETRY
        if self._refused != err.gateway_message:
            _LOGGER.warning("SerwerSMS refused the heartbeat SMS: %s", err.gateway_message)
            self._refused = err.gateway_message
        return period * RENEW_MARGIN

    async def _delete_old(self) -> bool | None:
        """Delete the old heartbeats: True when none is left, None when some are kept for a retry."""
        deleted = False
        try:
            while self._old:
                try:
                    await self._client.delete_message(self._old[0])
                except SerwerSmsMessageGoneError:
                    pass  # sent already, deleted in the panel, or never known: nothing left to cancel
                except SerwerSmsError as err:
                    _LOGGER.log(
                        logging.DEBUG if is_outage(err) else logging.WARNING,
                        "An old heartbeat SMS could not be deleted yet (%s); trying again shortly",
                        err.gateway_message,
                    )
                    return None
                self._old.pop(0)
                deleted = True
            return True
        finally:
            if deleted:
                await self._store.async_save(self._data())

    @callback
    def _update_issue(self, minutes: int, phones: list[str]) -> None:
        if minutes and not phones:
            ir.async_create_issue(
                self._hass,
                DOMAIN,
                f"{ISSUE_HEARTBEAT_WITHOUT_RECIPIENT}_{self._entry.entry_id}",
                is_fixable=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key=ISSUE_HEARTBEAT_WITHOUT_RECIPIENT,
                translation_placeholders={"entry_title": self._entry.title, "panel_url": PANEL_URL},
            )
        else:
            clear_issue(self._hass, self._entry, ISSUE_HEARTBEAT_WITHOUT_RECIPIENT)

    def _data(self) -> _Stored:
        return {
            "ids": list(self._ids),
            "due": None if self._due is None else self._due.isoformat(),
            "old": list(self._old),
        }

    def diagnostics(self) -> dict[str, Any]:
        """Counts and times only: never a number."""
        renew = self.next_reschedule
        return {
            "on": bool(heartbeat_minutes(self._entry)),
            "scheduled_ids": self.scheduled,
            "due": None if self._due is None else self._due.isoformat(),
            "next_reschedule": None if renew is None else renew.isoformat(),
        }
