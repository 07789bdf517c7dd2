"""The account's lookback recorder: one frame a second of its lookback cameras, while it matters.

Home Assistant's side of `mms/lookback.py`: the options (`lookback_cameras`, `lookback_seconds`,
`lookback_while`), the one-a-second timer, the `lookback_while` state listener. Nothing runs while
lookback is off or `lookback_while` says not now: no timer, no snapshot, no frame kept (the buffers are
emptied). Options take effect at once, without a reload. Memory only: a restart empties the buffers.

A camera is never asked twice at once: a snapshot still under way when the next second comes skips
that beat. A camera that fails is asked again after a growing pause (`Backoff`) and logged once per run
of failures; one that is unavailable or gone is simply not asked.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
import logging

from homeassistant.const import STATE_OFF, STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import CALLBACK_TYPE, Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.event import async_track_state_change_event, async_track_time_interval
from homeassistant.util import dt as dt_util

from .const import CONF_LOOKBACK_CAMERAS, CONF_LOOKBACK_SECONDS, CONF_LOOKBACK_WHILE
from .coordinator import SerwerSmsConfigEntry
from .mms.images import ImageError
from .mms.lookback import (
    MAX_LOOKBACK_CAMERAS,
    MAX_LOOKBACK_SECONDS,
    Backoff,
    LookbackBuffer,
    LookbackFrame,
    shrink_frame,
    total_bytes,
)
from .mms.motion import snapshot
from .mms.picture_queue import async_get_picture_queue

_LOGGER = logging.getLogger(__name__)

BEAT = timedelta(seconds=1)
# `lookback_while` states that mean "not now" (an alarm panel disarmed, a switch off, no state yet).
_NOT_NOW = frozenset({STATE_OFF, "disarmed", STATE_UNAVAILABLE, STATE_UNKNOWN})


class LookbackRecorder:
    """Keeps the last `lookback_seconds` of frames of the account's `lookback_cameras` in memory."""

    def __init__(self, hass: HomeAssistant, entry: SerwerSmsConfigEntry) -> None:
        """Nothing runs until `async_start`."""
        self._hass = hass
        self._entry = entry
        self._pictures = async_get_picture_queue(hass)
        self._buffers: dict[str, LookbackBuffer] = {}
        self._backoff: dict[str, Backoff] = {}
        self._in_flight: dict[str, asyncio.Task[None]] = {}
        self._unavailable: set[str] = set()
        self._cameras: tuple[str, ...] = ()
        self._seconds = 0
        self._while: str | None = None
        self._timer: CALLBACK_TYPE | None = None
        self._unsub_while: CALLBACK_TYPE | None = None
        self._started = False
        self.skipped_beats = 0  # beats a camera still busy with the last snapshot let pass

    async def async_load(self) -> None:
        """Nothing stored: the buffers live in memory only."""

    @callback
    def async_start(self) -> None:
        """Follow the options (and `lookback_while`) from now on."""
        self._started = True
        self.async_options_changed()

    async def async_stop(self) -> None:
        """Stop the timer and the listener, end the snapshots under way, forget every frame."""
        self._started = False
        self._apply_listener(None)
        await asyncio.gather(*self._deactivate(), return_exceptions=True)

    # --- what to do -----------------------------------------------------------------------------

    @property
    def active(self) -> bool:
        """Whether frames are being taken now."""
        return self._timer is not None

    @property
    def memory_bytes(self) -> int:
        """The bytes every buffered frame takes."""
        return total_bytes(self._buffers.values())

    def buffered(self, entity_id: str) -> int:
        """How many frames `entity_id`'s buffer holds now."""
        buffer = self._buffers.get(entity_id)
        return len(buffer) if buffer is not None else 0

    def recent(self, entity_id: str, now: datetime, seconds: float, limit: int) -> tuple[LookbackFrame, ...]:
        """The frames of `entity_id` taken in the `seconds` before `now` (a copy), oldest first."""
        buffer = self._buffers.get(entity_id)
        return buffer.recent(now, seconds, limit) if buffer is not None else ()

    @callback
    def async_options_changed(self) -> None:
        """Apply the options now: cameras dropped lose their frames, a lower `lookback_seconds` at once."""
        if not self._started:
            return
        options = self._entry.options
        cameras = tuple(dict.fromkeys(str(c) for c in options.get(CONF_LOOKBACK_CAMERAS) or ()))
        if len(cameras) > MAX_LOOKBACK_CAMERAS:
            _LOGGER.warning(
                "%s: lookback keeps at most %d cameras; %s are left out",
                self._entry.title,
                MAX_LOOKBACK_CAMERAS,
                ", ".join(cameras[MAX_LOOKBACK_CAMERAS:]),
            )
            cameras = cameras[:MAX_LOOKBACK_CAMERAS]
        seconds = max(0, min(MAX_LOOKBACK_SECONDS, int(options.get(CONF_LOOKBACK_SECONDS) or 0)))
        self._cameras, self._seconds = (cameras, seconds) if seconds and cameras else ((), 0)
        for entity_id in list(self._buffers):
            if entity_id not in self._cameras:
                del self._buffers[entity_id]
                self._backoff.pop(entity_id, None)
                if (task := self._in_flight.pop(entity_id, None)) is not None:
                    task.cancel()
        for buffer in self._buffers.values():
            buffer.resize(self._seconds)
        self._apply_listener(str(options.get(CONF_LOOKBACK_WHILE) or "") or None if self._seconds else None)
        self._async_update_activity()

    def _apply_listener(self, entity_id: str | None) -> None:
        if entity_id == self._while and (entity_id is None or self._unsub_while is not None):
            return
        if self._unsub_while is not None:
            self._unsub_while()
            self._unsub_while = None
        self._while = entity_id
        if entity_id is not None:
            self._unsub_while = async_track_state_change_event(
                self._hass, [entity_id], self._async_while_changed
            )

    @callback
    def _async_while_changed(self, event: Event[EventStateChangedData]) -> None:
        self._async_update_activity()

    def _wanted(self) -> bool:
        if not self._started or not self._cameras:  # no cameras also when lookback_seconds is 0
            return False
        if self._while is None:
            return True
        state = self._hass.states.get(self._while)
        return state is not None and state.state not in _NOT_NOW

    @callback
    def _async_update_activity(self) -> None:
        if self._wanted():
            if self._timer is None:
                _LOGGER.debug("%s: lookback on for %s", self._entry.title, ", ".join(self._cameras))
                self._timer = async_track_time_interval(
                    self._hass, self._async_beat, BEAT, name="serwersms lookback", cancel_on_shutdown=True
                )
                self._async_beat(dt_util.utcnow())  # the first frame at once
        elif self._timer is not None:
            self._deactivate()

    @callback
    def _deactivate(self) -> list[asyncio.Task[None]]:
        """No timer, no snapshot under way, no frame kept; the snapshots cancelled (to wait for)."""
        if self._timer is not None:
            self._timer()
            self._timer = None
            _LOGGER.debug("%s: lookback off", self._entry.title)
        tasks = list(self._in_flight.values())
        self._in_flight.clear()
        for task in tasks:
            task.cancel()
        self._buffers.clear()
        self._backoff.clear()
        self._unavailable.clear()
        return tasks

    # --- taking frames --------------------------------------------------------------------------

    @callback
    def _async_beat(self, _now: datetime) -> None:
        clock = self._hass.loop.time()
        for entity_id in self._cameras:
            if entity_id in self._in_flight:
                self.skipped_beats += 1  # the last one is still coming: never two at once
                continue
            if not self._backoff.setdefault(entity_id, Backoff()).ready(clock):
                continue
            state = self._hass.states.get(entity_id)
            if state is None or state.state == STATE_UNAVAILABLE:
                if entity_id not in self._unavailable:
                    self._unavailable.add(entity_id)
                    _LOGGER.info("Lookback: %s is not available; no frames until it is back", entity_id)
                continue
            self._unavailable.discard(entity_id)
            self._in_flight[entity_id] = self._entry.async_create_background_task(
                self._hass, self._async_take(entity_id), f"serwersms lookback {entity_id}"
            )

    async def _async_take(self, entity_id: str) -> None:
        taken_at = dt_util.now()
        try:
            content, _ = await snapshot(self._hass, entity_id)
            frame = await self._pictures.run(shrink_frame, content)
        except (HomeAssistantError, ImageError) as err:
            if self._backoff.setdefault(entity_id, Backoff()).failed(self._hass.loop.time()):
                _LOGGER.warning("Lookback: no frame from %s (%s); asking again less often", entity_id, err)
            return
        finally:
            if self._in_flight.get(entity_id) is asyncio.current_task():
                del self._in_flight[entity_id]
        if self._backoff.setdefault(entity_id, Backoff()).succeeded():
            _LOGGER.info("Lookback: %s gives frames again", entity_id)
        # (Turned off, or the camera dropped, meanwhile: this task was cancelled and never gets here.)
        buffer = self._buffers.get(entity_id)
        if buffer is None:
            buffer = self._buffers[entity_id] = LookbackBuffer(self._seconds)
        buffer.add(LookbackFrame(frame, taken_at))
