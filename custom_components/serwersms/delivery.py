"""Delivery: follow every queued MMS to the phone through `messages/reports`, and tell automations.

The sender tells the tracker what the gateway queued (`DeliveryTracker.async_follow` is one of its
send listeners); the tracker never reaches back into the sender. When a report is final, or 24 hours
passed without one, it fires the recipient's `MMS delivery` event entity (a dispatcher signal per
recipient) and the bus event `serwersms_mms_delivery` — for every number, a number that belongs to no
recipient included.

Schedule, per message: the first poll within 30 s of the send (of the scheduled time for a scheduled
send), each later interval double the one before and never longer than 10 minutes, until the report is
final or 24 hours have passed (`unconfirmed`). Messages whose polls fall due close together are asked
together — at most 500 ids a request, so one request per poll for up to 500 pending ids. Nothing pending:
no timer runs and nothing is asked. Pending ids are kept in `.storage` and survive a restart.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
import contextlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
import logging
from typing import Any, Final, Required, TypedDict

from homeassistant.components.notify.const import DOMAIN as NOTIFY_DOMAIN
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.util import dt as dt_util

from . import storage
from .api import (
    DELIVERED,
    MAX_REPORT_IDS,
    UNDELIVERED,
    Report,
    SerwerSmsClient,
    SerwerSmsError,
    chunked,
    is_outage,
)
from .const import CONF_PHONE, DOMAIN, EVENT_MMS_DELIVERY
from .mms.channels import MMS, REPORT_MMS, FallbackPlan
from .mms.outcome import MmsOutcome
from .storage import AccountStore

_LOGGER = logging.getLogger(__name__)

# `delivered` and `undelivered` are the client's reading of a final report (`Report.outcome`).
UNCONFIRMED: Final = "unconfirmed"
NOT_SENT: Final = "not_sent"
DELIVERY_STATUSES: Final = (DELIVERED, UNDELIVERED, UNCONFIRMED, NOT_SENT)

FIRST_POLL: Final = timedelta(seconds=30)
# While a fallback waits on a message, it is asked at least this often: an `undelivered` report is
# acted on within about half a minute of the gateway having it.
FALLBACK_POLL: Final = timedelta(seconds=30)
MAX_INTERVAL: Final = timedelta(minutes=10)
FOLLOW_FOR: Final = timedelta(hours=24)

STORAGE_VERSION = 1
# 2: `channel`, `kind`, `is_fallback`, `fallback` per message (absent: an MMS without a fallback).
STORAGE_MINOR_VERSION = 2
SAVE_DELAY = 1.0


def delivery_signal(entry_id: str, subentry_id: str) -> str:
    """The dispatcher signal one recipient's event entity listens to."""
    return f"{DOMAIN}_{entry_id}_{subentry_id}_mms_delivery"


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """What happened to one MMS for one number, as the event entity shows it."""

    message_id: str | None
    phone: str
    status: str
    reason: str | None
    title: str
    channel: str = MMS
    fallback: bool = False  # the message was an MMS's fallback

    def attributes(self) -> dict[str, Any]:
        """The event entity's attributes."""
        return {
            "message_id": self.message_id,
            "phone": self.phone,
            "title": self.title,
            "reason": self.reason,
            "channel": self.channel,
            "fallback": self.fallback,
        }


@dataclass(frozen=True, slots=True)
class FallbackOrder:
    """Numbers whose MMS did not reach them: `plan` goes to them now, once."""

    phones: tuple[str, ...]
    plan: FallbackPlan
    title: str
    recipients: tuple[str, ...]


type FallbackHandler = Callable[[FallbackOrder], None]


class _StoredFallback(TypedDict):
    channel: str
    after_s: float
    text: str
    at: str


class _StoredMessage(TypedDict, total=False):
    phone: Required[str]
    title: Required[str]
    recipients: Required[list[str]]
    last: Required[str]
    gap: Required[float]
    deadline: Required[str]
    channel: str
    kind: str
    is_fallback: bool
    fallback: _StoredFallback


@dataclass(slots=True)
class _Pending:
    """One queued MMS for one number, still waiting for its final report."""

    phone: str
    title: str
    recipients: tuple[str, ...]  # subentry ids of the recipients it was sent for
    last: datetime  # the send (its scheduled time), then each poll that asked for it
    gap: timedelta  # how long after `last` it is asked next
    deadline: datetime  # 24 h after the send (its scheduled time): then `unconfirmed`
    channel: str = MMS
    kind: str = REPORT_MMS  # the type `messages/reports` files it under
    is_fallback: bool = False
    # An MMS's fallback still to go if it is not delivered by `fallback_at`; None once it went (or
    # never will: delivered). Cleared, and written down, before the fallback is sent: never twice.
    fallback: FallbackPlan | None = None
    fallback_at: datetime | None = None
    # What `stored()` returned, until the next poll changes it: the store's data is built on the event
    # loop, and formatting thousands of dates at every save stalled it (24 ms for 5,000 pending ids).
    _stored: _StoredMessage | None = field(default=None, compare=False, repr=False)

    @property
    def due(self) -> datetime:
        due = min(self.last + self.gap, self.deadline)
        if self.fallback is not None and self.fallback_at is not None:
            due = min(due, self.fallback_at)
        return due

    def fallback_due(self, now: datetime) -> bool:
        """Whether its fallback must go now (it was not delivered in time)."""
        return self.fallback is not None and self.fallback_at is not None and now >= self.fallback_at

    def askable(self, now: datetime) -> bool:
        """Whether a poll at `now` asks for it: due, or due within a quarter of its interval.

        Asking a little early lets messages of sends made a few seconds apart share their requests; the
        next interval then doubles the shorter one actually waited, so the schedule's rule holds.
        """
        return self.due - now <= self.gap / 4

    def asked(self, now: datetime) -> None:
        """Move on to the next interval after a poll at `now`."""
        waited = min(now - self.last, self.gap)
        self.gap = min(2 * waited, MAX_INTERVAL)
        if self.fallback is not None:
            self.gap = min(self.gap, FALLBACK_POLL)
        self.last = now
        self._stored = None

    def take_fallback(self) -> FallbackPlan | None:
        """Its fallback, taken (it will not be taken again)."""
        plan, self.fallback, self.fallback_at = self.fallback, None, None
        self._stored = None
        return plan

    def stored(self) -> _StoredMessage:
        if self._stored is None:
            self._stored = self._as_stored()
        return self._stored

    def _as_stored(self) -> _StoredMessage:
        stored: _StoredMessage = {
            "phone": self.phone,
            "title": self.title,
            "recipients": list(self.recipients),
            "last": self.last.isoformat(),
            "gap": self.gap.total_seconds(),
            "deadline": self.deadline.isoformat(),
            "channel": self.channel,
            "kind": self.kind,
            "is_fallback": self.is_fallback,
        }
        if self.fallback is not None and self.fallback_at is not None:
            stored["fallback"] = {
                "channel": self.fallback.channel,
                "after_s": self.fallback.after_s,
                "text": self.fallback.text,
                "at": self.fallback_at.isoformat(),
            }
        return stored

    @classmethod
    def from_stored(cls, data: _StoredMessage) -> _Pending:
        fallback = data.get("fallback")
        return cls(
            phone=data["phone"],
            title=data["title"],
            recipients=tuple(data["recipients"]),
            last=datetime.fromisoformat(data["last"]),
            gap=timedelta(seconds=data["gap"]),
            deadline=datetime.fromisoformat(data["deadline"]),
            channel=str(data.get("channel", MMS)),
            kind=str(data.get("kind", REPORT_MMS)),
            is_fallback=bool(data.get("is_fallback", False)),
            fallback=None
            if fallback is None
            else FallbackPlan(str(fallback["channel"]), float(fallback["after_s"]), str(fallback["text"])),
            fallback_at=None if fallback is None else datetime.fromisoformat(fallback["at"]),
        )


def recipients_with_phone(entry: ConfigEntry, phone: str) -> tuple[str, ...]:
    """The subentry ids of the recipients that have `phone` among their (stored normalised) numbers."""
    return tuple(
        subentry.subentry_id
        for subentry in entry.subentries.values()
        if phone in subentry.data.get(CONF_PHONE, ())
    )


class DeliveryTracker:
    """Follows one account's queued MMS to a final report and fires the delivery events."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        client: SerwerSmsClient,
        on_fallback: FallbackHandler | None = None,
    ) -> None:
        """Bind the tracker to one account; `on_fallback` sends what an undelivered MMS calls for."""
        self._hass = hass
        self._entry = entry
        self._client = client
        self._on_fallback = on_fallback
        self._store: AccountStore[dict[str, dict[str, _StoredMessage]]] = AccountStore(
            hass, entry.entry_id, "delivery", version=STORAGE_VERSION, minor_version=STORAGE_MINOR_VERSION
        )
        self._pending: dict[str, _Pending] = {}
        self._unsub_timer: CALLBACK_TYPE | None = None
        self._poll_task: asyncio.Task[None] | None = None
        self._stopped = False
        self._failing = False  # the gateway refused the last poll (logged once until one succeeds)

    @staticmethod
    def storage_key(entry_id: str) -> str:
        """The `.storage` file of one account's pending message ids."""
        return storage.storage_key(entry_id, "delivery")

    @classmethod
    async def async_remove_store(cls, hass: HomeAssistant, entry_id: str) -> None:
        """Forget a removed account's pending message ids."""
        await storage.async_remove(hass, entry_id, "delivery")

    @property
    def pending(self) -> int:
        """How many MMS still wait for a final report."""
        return len(self._pending)

    async def async_load(self) -> None:
        """Read the pending ids a previous run left (`async_start` resumes their schedule)."""
        stored = await self._store.async_load_or_empty() or {}
        for message_id, data in stored.get("pending", {}).items():
            with contextlib.suppress(KeyError, TypeError, ValueError):
                self._pending[message_id] = _Pending.from_stored(data)

    @callback
    def async_start(self) -> None:
        """Start polling; called once the event entities are there to be told."""
        self._arm()

    async def async_stop(self) -> None:
        """Stop polling (the account unloads) and write the pending ids down."""
        self._stopped = True
        self._disarm()
        if (task := self._poll_task) is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._store.async_save(self._data())

    @callback
    def async_track(
        self,
        message_ids: Mapping[str, str],
        title: str,
        *,
        recipients: Mapping[str, Iterable[str]] | None = None,
        scheduled: datetime | None = None,
        channel: str = MMS,
        kind: str = REPORT_MMS,
        is_fallback: bool = False,
        fallback: FallbackPlan | None = None,
    ) -> None:
        """Follow MMS the gateway queued (see `async_follow` for what a send tells the tracker).

        `message_ids` maps each number to its gateway message id. `recipients` maps a number to the
        recipient subentries it was sent for; a number missing there (a legacy-notify target) belongs
        to every recipient of the account that has it, or to none. A send scheduled for `scheduled`
        is followed from that time. An MMS with a `fallback` sends it to each number that does not
        have the MMS delivered within the plan's `after_s` (or reported undelivered before).
        """
        now = dt_util.utcnow()
        start = now if scheduled is None else max(now, dt_util.as_utc(scheduled))
        given = recipients or {}
        for phone, message_id in message_ids.items():
            owners = tuple(given[phone]) if phone in given else recipients_with_phone(self._entry, phone)
            self._pending[message_id] = _Pending(
                phone,
                title,
                owners,
                last=start,
                gap=FIRST_POLL,
                deadline=start + FOLLOW_FOR,
                channel=channel,
                kind=kind,
                is_fallback=is_fallback,
                fallback=fallback,
                fallback_at=None if fallback is None else start + timedelta(seconds=fallback.after_s),
            )
        self._store.async_delay_save(self._data, SAVE_DELAY)
        self._arm()

    @callback
    def async_follow(self, sent: MmsOutcome) -> None:
        """Send listener: follow every number the gateway queued for real (a test send is not followed)."""
        if sent.test:
            return
        # Only numbers the gateway queued carry a message id.
        queued = {r.phone: r.id for r in sent.recipients if r.id is not None}
        recipients = None
        if sent.recipient_ids:
            # Only the targeted recipients: another recipient sharing a number did not get this MMS.
            recipients = {
                phone: [sub for sub in recipients_with_phone(self._entry, phone) if sub in sent.recipient_ids]
                for phone in queued
            }
        self.async_track(
            queued,
            sent.title,
            recipients=recipients,
            scheduled=sent.date,
            channel=sent.channel,
            kind=sent.report_type,
            is_fallback=sent.is_fallback,
            fallback=sent.fallback,
        )

    @callback
    def async_report_not_sent(
        self,
        phone: str,
        title: str,
        reason: str,
        *,
        recipients: Iterable[str] | None = None,
        channel: str = MMS,
        is_fallback: bool = False,
    ) -> None:
        """Tell automations that an MMS for `phone` was never sent (e.g. the outbox gave up).

        Fires the recipient's event entity with event type `not_sent` and `serwersms_mms_delivery`
        with status `not_sent`, `reason` as given (e.g. `gateway_unreachable`) and `message_id` null.
        `recipients` are the subentry ids it was meant for; by default, every recipient with `phone`.
        """
        owners = tuple(recipients) if recipients is not None else recipients_with_phone(self._entry, phone)
        self._fire(DeliveryOutcome(None, phone, NOT_SENT, reason, title, channel, is_fallback), owners)

    # --- schedule --------------------------------------------------------------------------------

    def _data(self) -> dict[str, dict[str, _StoredMessage]]:
        return {"pending": {message_id: message.stored() for message_id, message in self._pending.items()}}

    def _disarm(self) -> None:
        if self._unsub_timer is not None:
            self._unsub_timer()
            self._unsub_timer = None

    @callback
    def _arm(self) -> None:
        """Wake up when the next message falls due; nothing to follow, no timer."""
        self._disarm()
        if self._stopped or self._poll_task is not None or not self._pending:
            return
        when = min(message.due for message in self._pending.values())
        self._unsub_timer = async_track_point_in_utc_time(self._hass, self._wake, when)

    @callback
    def _wake(self, _now: datetime) -> None:
        self._unsub_timer = None
        self._poll_task = self._entry.async_create_background_task(
            self._hass, self._poll(), f"{DOMAIN} delivery reports", eager_start=False
        )

    async def _poll(self) -> None:
        try:
            await self._ask_and_report()
        finally:
            self._poll_task = None
            self._arm()

    async def _ask_and_report(self) -> None:
        """One poll: ask for every message due, fire what became final or ran out of time."""
        now = dt_util.utcnow()
        asked = sorted(
            (message_id for message_id, message in self._pending.items() if message.askable(now)),
            key=lambda message_id: self._pending[message_id].due,
        )
        final: dict[str, Report] = {}
        by_kind: dict[str, list[str]] = {}
        for message_id in asked:
            by_kind.setdefault(self._pending[message_id].kind, []).append(message_id)
        # One request per report type and 500 ids, each on its own: a failed one does not lose the
        # others' reports.
        for kind, ids in by_kind.items():
            for chunk in chunked(ids, MAX_REPORT_IDS):
                try:
                    reports = await self._client.reports(chunk, type=kind)
                except SerwerSmsError as err:
                    # Asked again at the next interval; the 24 h limit still applies.
                    self._poll_failed(err, len(chunk))
                    continue
                if self._failing:
                    self._failing = False
                    _LOGGER.info("Delivery reports can be read again")
                for report in reports:
                    if report.outcome is not None and report.id in chunk:
                        final.setdefault(report.id, report)
        # From here on nothing waits until the pending ids are written down: a poll cancelled by an
        # unload leaves every message pending, to be asked again after the next start.
        finished: list[tuple[DeliveryOutcome, tuple[str, ...]]] = []
        fallbacks: list[tuple[_Pending, FallbackPlan]] = []
        for message_id, report in final.items():
            # A report repeated in a later reply, for a message already reported: fire once.
            message = self._pending.pop(message_id, None)
            if message is None:
                continue
            if (plan := message.take_fallback()) is not None and report.outcome == UNDELIVERED:
                fallbacks.append((message, plan))  # delivered: its fallback never goes
            finished.append(
                (self._outcome(message_id, message, str(report.outcome), report.reason), message.recipients)
            )
        for message_id in asked:
            if (message := self._pending.get(message_id)) is None:
                continue
            if message.fallback_due(now) and (plan := message.take_fallback()) is not None:
                fallbacks.append((message, plan))  # not delivered in time; still followed
            if now >= message.deadline:
                del self._pending[message_id]
                finished.append((self._outcome(message_id, message, UNCONFIRMED, None), message.recipients))
            else:
                message.asked(now)
        try:
            # Written down before a fallback goes: a restart must not send it again.
            await self._store.async_save(self._data())
        finally:
            for outcome, owners in finished:
                self._fire(outcome, owners)
        self._send_fallbacks(fallbacks)

    @staticmethod
    def _outcome(message_id: str, message: _Pending, status: str, reason: str | None) -> DeliveryOutcome:
        return DeliveryOutcome(
            message_id, message.phone, status, reason, message.title, message.channel, message.is_fallback
        )

    def _send_fallbacks(self, fallbacks: list[tuple[_Pending, FallbackPlan]]) -> None:
        """Hand the fallbacks due to the sender: one send per plan, however many numbers it has."""
        if self._on_fallback is None or not fallbacks:
            return
        orders: dict[tuple[FallbackPlan, str], tuple[list[str], list[str]]] = {}
        for message, plan in fallbacks:
            phones, owners = orders.setdefault((plan, message.title), ([], []))
            if message.phone not in phones:
                phones.append(message.phone)
            owners.extend(owner for owner in message.recipients if owner not in owners)
        for (plan, title), (phones, owners) in orders.items():
            self._on_fallback(FallbackOrder(tuple(phones), plan, title, tuple(owners)))

    def _poll_failed(self, err: SerwerSmsError, count: int) -> None:
        """Log a failed poll once, not at every poll of the next 24 hours.

        An unreachable gateway is logged by the account once per outage (its client's reachability
        listener); a refusal (say, the API access was withdrawn) once until a poll succeeds again.
        """
        if is_outage(err) or self._failing:
            _LOGGER.debug("Could not read the delivery reports of %d MMS: %s", count, err)
            return
        self._failing = True
        _LOGGER.warning(
            "Could not read the delivery reports of %d MMS: %s; asked again at the next interval, "
            "logged again only once they can be read",
            count,
            err,
        )

    # --- telling automations ---------------------------------------------------------------------

    @callback
    def _fire(self, outcome: DeliveryOutcome, owners: tuple[str, ...]) -> None:
        """Fire each owning recipient's event entity, and the bus event once per recipient (or once)."""
        registry = er.async_get(self._hass)
        entry_id = self._entry.entry_id
        # A recipient removed meanwhile has no entity left to look up: its entity_id is then null.
        for subentry_id in owners or (None,):
            entity_id = None
            if subentry_id is not None:
                async_dispatcher_send(self._hass, delivery_signal(entry_id, subentry_id), outcome)
                entity_id = registry.async_get_entity_id(NOTIFY_DOMAIN, DOMAIN, f"{entry_id}_{subentry_id}")
            self._hass.bus.async_fire(
                EVENT_MMS_DELIVERY,
                {
                    "entry_id": entry_id,
                    "entity_id": entity_id,
                    "message_id": outcome.message_id,
                    "phone": outcome.phone,
                    "status": outcome.status,
                    "reason": outcome.reason,
                    "title": outcome.title,
                    "channel": outcome.channel,
                    "fallback": outcome.fallback,
                },
            )
