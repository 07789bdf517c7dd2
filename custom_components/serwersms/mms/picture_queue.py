"""One bounded queue for all picture work of Home Assistant: hashing, decoding, fitting, encoding.

Pillow jobs hold the GIL for part of their run and need megabytes each. Started without a bound (one
per send), fifty alarms at once starve the event loop for seconds and take gigabytes. Here at most
`slots` jobs run at a time in the executor, whatever the number of accounts and sends; the rest wait
their turn on the loop, holding nothing but their input bytes.

The jobs run on the queue's own `slots` threads, not Home Assistant's shared executor. glibc gives
each thread that allocates its own malloc arena and keeps up to tens of MB of a large freed picture
buffer in it. Spread over the shared executor's dozens of threads, four 1080p lookback cameras grew
the process by 55 MB; on one thread (2 CPUs) the same work grew it by 28 MB (`scripts/bench`). The
recorder keeps its database work on threads of its own too. The threads end at Home Assistant's close.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import os
from typing import Any

from homeassistant.const import EVENT_HOMEASSISTANT_CLOSE
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.util.executor import InterruptibleThreadPoolExecutor
from homeassistant.util.hass_dict import HassKey

from ..const import DOMAIN

_QUEUE: HassKey[PictureQueue] = HassKey(f"{DOMAIN}_picture_queue")


def picture_slots(cpus: int | None = None) -> int:
    """How many picture jobs may run at once: every core but one for the event loop, at least one."""
    count = os.cpu_count() if cpus is None else cpus
    return max(1, (count or 1) - 1)


class PictureQueue:
    """Runs blocking picture jobs on `slots` threads of its own, first come first served."""

    def __init__(self, hass: HomeAssistant, slots: int) -> None:
        """A queue with `slots` jobs running at most; its threads start with the first job."""
        self._hass = hass
        self._slots = asyncio.Semaphore(slots)
        self.slots = slots
        self._executor = InterruptibleThreadPoolExecutor(
            max_workers=slots, thread_name_prefix="serwersms_pictures"
        )
        hass.bus.async_listen_once(EVENT_HOMEASSISTANT_CLOSE, self._async_close)

    async def _async_close(self, _event: Event) -> None:
        # Joined in the shared executor: waiting for a job to end must not block the event loop.
        await self._hass.async_add_executor_job(self._executor.shutdown)

    async def run[T](self, job: Callable[..., T], *args: object) -> T:
        """Run `job(*args)` when a slot is free and return its result.

        A cancelled caller stops waiting, but a job already started keeps its slot until it ends:
        the thread cannot be stopped, so the bound has to count it.
        """
        await self._slots.acquire()
        try:
            future = self._hass.loop.run_in_executor(self._executor, job, *args)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(self._finished)
        return await asyncio.shield(future)

    @callback
    def _finished(self, future: asyncio.Future[Any]) -> None:
        self._slots.release()
        if not future.cancelled():
            future.exception()  # its caller may be gone; the error is theirs, not the loop's


@callback
def async_get_picture_queue(hass: HomeAssistant) -> PictureQueue:
    """The process-wide picture queue, sized to the machine."""
    if (queue := hass.data.get(_QUEUE)) is None:
        queue = hass.data[_QUEUE] = PictureQueue(hass, picture_slots())
    return queue
