"""Alarms that end only when a person answers: a ladder of steps, stopped by the first acknowledgement.

`serwersms.raise_alarm` hands the account's `AlarmLadder` an alarm: steps of recipients, a channel
(`mms`, `sms`, `call`) and a `wait`. Step 1 goes out at once; each later step only when nobody
acknowledged within the previous step's wait; `repeat` runs the ladder again from the top; after the
last step's wait the alarm `expired`.

Each step is one send through the account's sender (`MmsSender.async_send`: the daily limit, the outbox
and delivery tracking apply as to any send) for all its recipients, plus one ECO SMS telling them how
to acknowledge ("Alarm: <title>. Reply to this SMS to acknowledge."). An `sms` step sends one SMS only:
its own text carries the instruction. The gateway's message id of every SMS of the alarm is kept.

Acknowledged by (a) a reply from a number of any of the alarm's recipients to one of the alarm's SMS,
read from `messages/recived` (type `eco`, every page, matched by `message_id` and by the last nine
digits of the number), or (b) `serwersms.acknowledge`. Replies from other numbers change nothing
(logged at info with the number masked). Reply ids already handled are remembered.

Atomicity: the check that the alarm is still open and the start of a step's sends happen in one stretch
of the event loop (the sends are started eagerly), so once an acknowledgement is handled no step starts;
a step whose sends had started may finish.

Restarts: open alarms, their step and their deadline (a wall-clock time) are kept in
`serwersms.<entry_id>.alarms`. An alarm and each step's "started" mark are written, awaited, before the
step's first request; a step marked started but not finished at load is **not** sent again (it may have
gone out; a duplicate alarm call costs more than a missing one, and the next step still follows). A
deadline that passed while Home Assistant was down escalates at start.

Polling: replies are read only while an alarm is open, every `POLL_EVERY`; no timer and no request when
none is open. A poll that fails (the gateway cannot be reached) is logged at debug and tried again at the
next interval; the ladder's clock runs on regardless, and its steps go to the outbox like any send.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
import contextlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
import logging
import secrets
from typing import Any, Final, TypedDict

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.util import dt as dt_util
from homeassistant.util.async_ import create_eager_task

from . import storage
from .api import Received, SerwerSmsClient, SerwerSmsError
from .const import CONF_PHONE, DOMAIN
from .mms.channels import CALL, MMS, SMS, fallback_text
from .mms.outcome import MmsOutcome
from .mms.recipients import InvalidPhoneNumberError, normalize_phone, split_phones
from .mms.sender import MmsRequest, MmsSender
from .schemas import build_request
from .storage import AccountStore

_LOGGER = logging.getLogger(__name__)

EVENT_ALARM: Final = "serwersms_alarm"
RAISED: Final = "raised"
ESCALATED: Final = "escalated"
ACKNOWLEDGED: Final = "acknowledged"
EXPIRED: Final = "expired"
ALARM_EVENT_TYPES: Final = (RAISED, ESCALATED, ACKNOWLEDGED, EXPIRED)
VIA_REPLY: Final = "reply"
VIA_ACTION: Final = "action"

MIN_WAIT: Final = 10
MAX_WAIT: Final = 3600
DEFAULT_WAIT: Final = 120
MAX_REPEAT: Final = 5
POLL_EVERY: Final = timedelta(seconds=10)
# `date_from` of the reply listing: the alarm's start less this, for a gateway whose clock is behind
# ours (a reply matches only by the id of one of the alarm's SMS, so an older listing does no harm).
CLOCK_MARGIN: Final = timedelta(minutes=10)
PAGE_SIZE: Final = 100
SEEN_KEPT: Final = 5000  # reply ids remembered (the newest)

STORAGE_VERSION = 1

_INSTRUCTION = {
    "en": "Alarm: {title}. Reply to this SMS to acknowledge.",
    "pl": "Alarm: {title}. Odpowiedz na tego SMS-a, aby potwierdzić.",
}


def alarm_signal(entry_id: str) -> str:
    """The dispatcher signal the account's `Alarm` event entity listens to."""
    return f"{DOMAIN}_{entry_id}_alarm"


def instruction_text(title: str, language: str) -> str:
    """The SMS that tells a recipient how to acknowledge (Polish when Home Assistant speaks Polish)."""
    return _INSTRUCTION["pl" if language.startswith("pl") else "en"].format(title=title)


def sms_step_text(title: str, message: str | None, language: str) -> str:
    """An `sms` step's one SMS: the instruction, then the alarm's message."""
    instruction = instruction_text(title, language)
    return f"{instruction}\n{message}" if message else instruction


def call_step_text(title: str, message: str | None) -> str:
    """What a `call` step reads out."""
    return fallback_text(title, message)


def number_key(phone: str) -> str:
    """The subscriber part of a number (its last nine digits): `+48500600700` and `500600700` match."""
    digits = "".join(c for c in phone if c.isdigit())
    return digits[-9:]


def mask(phone: str) -> str:
    """A number for the log: `+48500600700` → `+48*****0700`."""
    if len(phone) <= 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


@dataclass(frozen=True, slots=True)
class AlarmStep:
    """One rung: who (recipient subentry ids), how, and how long to wait for an answer after it."""

    recipients: tuple[str, ...]
    channel: str
    wait: float


@dataclass(frozen=True, slots=True)
class AlarmSpec:
    """A validated `raise_alarm` call."""

    title: str
    message: str | None
    pictures: Mapping[str, Any]  # the picture fields of the call, as given (JSON-able)
    steps: tuple[AlarmStep, ...]
    repeat: int


class _StoredStep(TypedDict):
    recipients: list[str]
    channel: str
    wait: float


class _StoredAlarm(TypedDict):
    title: str
    message: str | None
    pictures: dict[str, Any]
    steps: list[_StoredStep]
    repeat: int
    language: str
    started: str
    position: int
    deadline: str
    finished: bool
    sms_ids: list[str]
    texts: list[str]


class _Stored(TypedDict):
    alarms: dict[str, _StoredAlarm]
    seen: list[str]


@dataclass(slots=True)
class Alarm:
    """One open alarm. `position` counts the steps that went out over every round, from 0."""

    id: str
    title: str
    message: str | None
    pictures: dict[str, Any]
    steps: tuple[AlarmStep, ...]
    repeat: int
    language: str
    started: datetime
    position: int
    deadline: datetime  # when the current step's wait runs out
    finished: bool = False  # the current step's sends are over
    sms_ids: set[str] = field(default_factory=set)
    texts: set[str] = field(default_factory=set)  # the SMS texts (to recognise one sent from the outbox)
    open: bool = True
    unsub: CALLBACK_TYPE | None = None

    @property
    def total(self) -> int:
        """How many steps the whole ladder has, repeats included."""
        return len(self.steps) * (self.repeat + 1)

    @property
    def step(self) -> AlarmStep:
        """The current step."""
        return self.steps[self.position % len(self.steps)]

    @property
    def step_number(self) -> int:
        """The current step, 1-based, within its round."""
        return self.position % len(self.steps) + 1

    @property
    def round(self) -> int:
        """The current round, 1-based (`repeat` adds rounds)."""
        return self.position // len(self.steps) + 1

    def recipients(self) -> tuple[str, ...]:
        """Every recipient of every step, each once."""
        return tuple(dict.fromkeys(sub for step in self.steps for sub in step.recipients))

    def stored(self) -> _StoredAlarm:
        """As kept in the store."""
        return {
            "title": self.title,
            "message": self.message,
            "pictures": self.pictures,
            "steps": [
                {"recipients": list(s.recipients), "channel": s.channel, "wait": s.wait} for s in self.steps
            ],
            "repeat": self.repeat,
            "language": self.language,
            "started": self.started.isoformat(),
            "position": self.position,
            "deadline": self.deadline.isoformat(),
            "finished": self.finished,
            "sms_ids": sorted(self.sms_ids),
            "texts": sorted(self.texts),
        }

    @classmethod
    def from_stored(cls, alarm_id: str, data: _StoredAlarm) -> Alarm:
        """Read one stored alarm (raises KeyError, TypeError or ValueError when it is not one)."""
        started = dt_util.parse_datetime(data["started"])
        deadline = dt_util.parse_datetime(data["deadline"])
        if started is None or deadline is None:
            raise ValueError("bad time")
        steps = tuple(
            AlarmStep(tuple(s["recipients"]), str(s["channel"]), float(s["wait"])) for s in data["steps"]
        )
        if not steps:
            raise ValueError("no steps")
        return cls(
            id=alarm_id,
            title=str(data["title"]),
            message=data["message"],
            pictures=dict(data["pictures"]),
            steps=steps,
            repeat=int(data["repeat"]),
            language=str(data["language"]),
            started=started,
            position=int(data["position"]),
            deadline=deadline,
            finished=bool(data["finished"]),
            sms_ids=set(data["sms_ids"]),
            texts=set(data["texts"]),
        )


class AlarmLadder:
    """One account's open alarms: their steps, deadlines, acknowledgements and the reply polling."""

    def __init__(
        self, hass: HomeAssistant, entry: ConfigEntry, client: SerwerSmsClient, sender: MmsSender
    ) -> None:
        """Bind the ladder to one account and its sender."""
        self._hass = hass
        self._entry = entry
        self._client = client
        self._sender = sender
        self._store: AccountStore[_Stored] = AccountStore(
            hass, entry.entry_id, "alarms", version=STORAGE_VERSION
        )
        self._alarms: dict[str, Alarm] = {}
        self._seen: dict[str, None] = {}  # reply ids handled, oldest first
        self._poll_unsub: CALLBACK_TYPE | None = None
        self._poll_task: asyncio.Task[None] | None = None
        self._steps: set[asyncio.Task[Any]] = set()
        self._stopped = False

    @classmethod
    async def async_remove_store(cls, hass: HomeAssistant, entry_id: str) -> None:
        """Forget a removed account's alarms."""
        await storage.async_remove(hass, entry_id, "alarms")

    @property
    def open_alarms(self) -> list[str]:
        """The ids of the open alarms, oldest first."""
        return [alarm.id for alarm in self._alarms.values() if alarm.open]

    # --- lifecycle -------------------------------------------------------------------------------

    async def async_load(self) -> None:
        """Read the open alarms a previous run left; a step it left half-sent is not sent again."""
        stored: Mapping[str, Any] = await self._store.async_load_or_empty() or {}
        for alarm_id, data in dict(stored.get("alarms", {})).items():
            try:
                alarm = Alarm.from_stored(alarm_id, data)
            except (KeyError, TypeError, ValueError):
                _LOGGER.warning("A stored alarm could not be read; it is dropped")
                continue
            if not alarm.finished:
                _LOGGER.warning(
                    "Step %d of alarm %s was being sent when Home Assistant stopped; it may have gone out "
                    "and is not sent again",
                    alarm.step_number,
                    alarm.id,
                )
                alarm.finished = True
            self._alarms[alarm_id] = alarm
        self._seen = dict.fromkeys(str(reply_id) for reply_id in stored.get("seen", []))

    @callback
    def async_start(self) -> None:
        """Resume each open alarm's clock (a deadline passed meanwhile escalates now) and the polling."""
        for alarm in list(self._alarms.values()):
            self._arm_deadline(alarm)
        self._arm_poll()

    async def async_stop(self) -> None:
        """No step starts any more; a poll under way is cancelled; steps under way finish; all written."""
        self._stopped = True
        for alarm in self._alarms.values():
            if alarm.unsub is not None:
                alarm.unsub()
                alarm.unsub = None
        if self._poll_unsub is not None:
            self._poll_unsub()
            self._poll_unsub = None
        if (task := self._poll_task) is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._steps:
            await asyncio.gather(*self._steps, return_exceptions=True)
        await self._save()

    # --- raising and acknowledging ---------------------------------------------------------------

    async def async_raise(self, spec: AlarmSpec) -> str:
        """Open an alarm and start its first step; returns its id once the first step has started."""
        if self._stopped:
            raise HomeAssistantError(translation_domain=DOMAIN, translation_key="account_unloading")
        now = dt_util.utcnow()
        alarm = Alarm(
            id=secrets.token_hex(6),
            title=spec.title,
            message=spec.message,
            pictures=dict(spec.pictures),
            steps=spec.steps,
            repeat=spec.repeat,
            language=self._hass.config.language,
            started=now,
            position=0,
            deadline=now + timedelta(seconds=spec.steps[0].wait),
        )
        self._alarms[alarm.id] = alarm
        if not await self._start_step(alarm, None) and alarm.open:
            del self._alarms[alarm.id]  # unloaded meanwhile: never raised (the final write omits it)
            raise HomeAssistantError(translation_domain=DOMAIN, translation_key="account_unloading")
        return alarm.id

    @callback
    def async_acknowledge(self, alarm_id: str | None = None) -> list[str]:
        """Acknowledge `alarm_id` (None: every open alarm) by the action; the ids acknowledged."""
        chosen = [a for a in self._alarms.values() if a.open and (alarm_id is None or a.id == alarm_id)]
        for alarm in chosen:
            self._close(alarm, ACKNOWLEDGED, via=VIA_ACTION)
        return [alarm.id for alarm in chosen]

    def has_open(self, alarm_id: str) -> bool:
        """Whether `alarm_id` is one of this account's open alarms."""
        alarm = self._alarms.get(alarm_id)
        return alarm is not None and alarm.open

    # --- the ladder ------------------------------------------------------------------------------

    @callback
    def _arm_deadline(self, alarm: Alarm) -> None:
        if alarm.unsub is not None:
            alarm.unsub()
            alarm.unsub = None
        if self._stopped or not alarm.open:
            return
        if alarm.deadline <= dt_util.utcnow():
            self._advance(alarm)  # it ran out while Home Assistant was down
            return
        alarm.unsub = async_track_point_in_utc_time(
            self._hass, partial(self._deadline_passed, alarm), alarm.deadline
        )

    @callback
    def _deadline_passed(self, alarm: Alarm, _now: datetime) -> None:
        self._advance(alarm)

    @callback
    def _advance(self, alarm: Alarm) -> None:
        """The current step's wait ran out with no acknowledgement: the next step, or `expired`."""
        alarm.unsub = None
        if self._stopped or not alarm.open:
            return
        if alarm.position + 1 >= alarm.total:
            self._close(alarm, EXPIRED)
            return
        passed = alarm.deadline
        alarm.position += 1
        alarm.finished = False
        alarm.deadline = dt_util.utcnow() + timedelta(seconds=alarm.step.wait)
        self._track(
            self._entry.async_create_task(self._hass, self._start_step(alarm, passed), f"{DOMAIN} alarm step")
        )

    async def _start_step(self, alarm: Alarm, passed: datetime | None) -> bool:
        """Write the step's started mark, then — if the alarm is still open — start its sends.

        `passed`: the deadline that ran out (None for step 1), put back when the account unloads
        during the write, so the step goes at the next start instead of being lost.
        """
        # Written (awaited) before anything of the step goes out: a restart never sends it again.
        await self._save()
        # From here to the sends' start nothing waits: an acknowledgement handled before this point
        # stops the step; one handled after it finds the step's requests already under way.
        if not alarm.open:
            return False
        if self._stopped:
            if passed is not None:  # not started after all; `async_stop` writes this down
                alarm.position -= 1
                alarm.finished = True
                alarm.deadline = passed
            return False
        self._arm_deadline(alarm)
        self._arm_poll()
        self._fire(alarm, RAISED if alarm.position == 0 else ESCALATED)
        self._track(
            create_eager_task(self._send_step(alarm), name=f"{DOMAIN} alarm sends", loop=self._hass.loop)
        )
        return True

    def _track(self, task: asyncio.Task[Any]) -> None:
        self._steps.add(task)
        task.add_done_callback(self._steps.discard)

    def _phones(self, recipients: Iterable[str]) -> tuple[list[str], dict[str, str]]:
        """The recipients' numbers (normalised, each once) and number key → recipient name."""
        phones: dict[str, None] = {}
        names: dict[str, str] = {}
        for subentry_id in recipients:
            subentry = self._entry.subentries.get(subentry_id)
            if subentry is None:
                continue  # removed since the alarm was raised
            for raw in split_phones(subentry.data.get(CONF_PHONE, [])):
                try:
                    phone = normalize_phone(raw)
                except InvalidPhoneNumberError:
                    continue
                phones.setdefault(phone, None)
                names.setdefault(number_key(phone), subentry.title)
        return list(phones), names

    async def _send_step(self, alarm: Alarm) -> None:
        """The step's sends, started together at once (both eagerly, in the caller's stretch)."""
        step = alarm.step
        phones, _ = self._phones(step.recipients)
        if not phones:
            _LOGGER.warning(
                "Step %d of alarm %s has no recipient left; nothing sent", alarm.step_number, alarm.id
            )
            alarm.finished = True
            await self._save()
            return
        requests: list[MmsRequest] = []
        if step.channel == SMS:
            text = sms_step_text(alarm.title, alarm.message, alarm.language)
            requests.append(self._sms(phones, text, alarm, step))
        else:
            if step.channel == MMS:
                main = build_request(list(phones), alarm.message, alarm.title, alarm.pictures)
            else:
                main = MmsRequest(
                    phones=list(phones), message=call_step_text(alarm.title, alarm.message), channel=CALL
                )
            main.title = alarm.title
            main.recipient_ids = step.recipients
            requests.append(main)
            requests.append(self._sms(phones, instruction_text(alarm.title, alarm.language), alarm, step))
        sends = [
            create_eager_task(self._send(alarm, request), name=f"{DOMAIN} alarm send", loop=self._hass.loop)
            for request in requests
        ]
        await asyncio.gather(*sends)
        alarm.finished = True
        if alarm.id in self._alarms:
            await self._save()

    @staticmethod
    def _sms(phones: list[str], text: str, alarm: Alarm, step: AlarmStep) -> MmsRequest:
        alarm.texts.add(text)
        return MmsRequest(
            phones=list(phones), message=text, title=alarm.title, channel=SMS, recipient_ids=step.recipients
        )

    async def _send(self, alarm: Alarm, request: MmsRequest) -> None:
        try:
            outcome = await self._sender.async_send(request)
        except (HomeAssistantError, SerwerSmsError) as err:
            # Refused (the daily limit, credits, a camera gone) or unknown: the ladder goes on.
            _LOGGER.warning(
                "The %s of step %d of alarm %s was not sent: %s",
                request.channel,
                alarm.step_number,
                alarm.id,
                err,
            )
            return
        if request.channel == SMS:
            alarm.sms_ids.update(r.id for r in outcome.recipients if r.id is not None)

    @callback
    def async_sent(self, outcome: MmsOutcome) -> None:
        """Send listener: an alarm's SMS that waited in the outbox went out — remember its ids."""
        if outcome.channel != SMS or not outcome.deferred:
            return
        for alarm in self._alarms.values():
            if alarm.open and outcome.message in alarm.texts:
                alarm.sms_ids.update(r.id for r in outcome.recipients if r.id is not None)
                self._store.async_delay_save(self._data, 1.0)

    @callback
    def _close(
        self,
        alarm: Alarm,
        kind: str,
        *,
        by: str | None = None,
        via: str | None = None,
        text: str | None = None,
    ) -> None:
        """The alarm ends (acknowledged or expired): nothing of it starts any more."""
        alarm.open = False
        if alarm.unsub is not None:
            alarm.unsub()
            alarm.unsub = None
        self._alarms.pop(alarm.id, None)
        self._fire(alarm, kind, by=by, via=via, text=text)
        # Written at once: an acknowledged alarm must not come back after a restart.
        self._hass.async_create_task(self._save(), f"{DOMAIN} alarm closed", eager_start=True)
        if not self.open_alarms and self._poll_unsub is not None:
            self._poll_unsub()
            self._poll_unsub = None

    # --- replies ---------------------------------------------------------------------------------

    @callback
    def _arm_poll(self) -> None:
        """Read replies `POLL_EVERY` from now while an alarm is open; none open, no timer."""
        if self._stopped or self._poll_unsub is not None or self._poll_task is not None:
            return
        if not self.open_alarms:
            return
        self._poll_unsub = async_track_point_in_utc_time(
            self._hass, self._wake, dt_util.utcnow() + POLL_EVERY
        )

    @callback
    def _wake(self, _now: datetime) -> None:
        self._poll_unsub = None
        if not self.open_alarms:
            return
        self._poll_task = self._entry.async_create_background_task(
            self._hass, self._poll(), f"{DOMAIN} alarm replies", eager_start=False
        )

    async def _poll(self) -> None:
        try:
            await self._read_replies()
        except SerwerSmsError as err:
            _LOGGER.debug("Could not read the replies to the open alarms: %s", err)
        finally:
            self._poll_task = None
            self._arm_poll()

    async def _read_replies(self) -> None:
        """Every page of ECO replies since the oldest open alarm began; each reply handled once."""
        opened = [alarm.started for alarm in self._alarms.values() if alarm.open]
        if not opened:
            return
        date_from = min(opened) - CLOCK_MARGIN
        page = 1
        seen_before = len(self._seen)
        while True:
            listed = await self._client.received(type="eco", date_from=date_from, page=page, limit=PAGE_SIZE)
            for reply in listed.items:
                self._consider(reply)
            if page >= listed.pages or not self.open_alarms:
                break
            page += 1
        if len(self._seen) != seen_before:
            while len(self._seen) > SEEN_KEPT:
                del self._seen[next(iter(self._seen))]
            self._store.async_delay_save(self._data, 1.0)

    @callback
    def _consider(self, reply: Received) -> None:
        if reply.id in self._seen:
            return
        self._seen[reply.id] = None
        alarm = next(
            (a for a in self._alarms.values() if a.open and reply.message_id in a.sms_ids),
            None,
        )
        if alarm is None:
            _LOGGER.debug("A reply not to an open alarm's SMS is left alone")
            return
        _, names = self._phones(alarm.recipients())
        by = names.get(number_key(reply.phone))
        if by is None:
            _LOGGER.info(
                "A reply to alarm %s from %s, not one of its recipients, changes nothing",
                alarm.id,
                mask(reply.phone),
            )
            return
        self._close(alarm, ACKNOWLEDGED, by=by, via=VIA_REPLY, text=reply.text)

    # --- telling automations, storage -----------------------------------------------------------

    @callback
    def _fire(
        self,
        alarm: Alarm,
        kind: str,
        *,
        by: str | None = None,
        via: str | None = None,
        text: str | None = None,
    ) -> None:
        data: dict[str, Any] = {
            "alarm_id": alarm.id,
            "type": kind,
            "title": alarm.title,
            "step": alarm.step_number,
            "round": alarm.round,
        }
        if kind == ACKNOWLEDGED:
            data |= {"by": by, "via": via, "text": text}
        async_dispatcher_send(self._hass, alarm_signal(self._entry.entry_id), kind, data)
        self._hass.bus.async_fire(EVENT_ALARM, {"entry_id": self._entry.entry_id, **data})

    def _data(self) -> _Stored:
        return {
            "alarms": {alarm.id: alarm.stored() for alarm in self._alarms.values() if alarm.open},
            "seen": list(self._seen),
        }

    async def _save(self) -> None:
        await self._store.async_save(self._data())
