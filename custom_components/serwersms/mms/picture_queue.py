"""One bounded queue for all picture work of Home Assistant: hashing, decoding, fitting, encoding.

Pillow jobs hold the GIL for part of their run and need megabytes each. Started without a bound (one
per send), fifty alarms at once starve the event loop for seconds and take gigabytes. Here at most
`slots` jobs run at a time in the executor, whatever the number of accounts and sends; the rest wait
their turn on the loop, holding nothing but their input bytes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import os
from typing import Any

from homeassistant.core import HomeAssistant, callback
from homeassistant.util.hass_dict import HassKey

from ..const import DOMAIN

_QUEUE: HassKey[PictureQueue] = HassKey(f"{DOMAIN}_picture_queue")


def picture_slots(cpus: int | None = None) -> int:
    """How many picture jobs may run at once: every core but one for the event loop, at least one."""
    count = os.cpu_count() if cpus is None else cpus
    return max(1, (count or 1) - 1)


class PictureQueue:
    """Runs blocking picture jobs in the executor, at most `slots` at a time, first come first served."""

    def __init__(self, hass: HomeAssistant, slots: int) -> None:
        """A queue with `slots` jobs running at most."""
        self._hass = hass
        self._slots = asyncio.Semaphore(slots)
        self.slots = slots

    async def run[T](self, job: Callable[..., T], *args: object) -> T:
        """Run `job(*args)` when a slot is free and return its result.

        A cancelled caller stops waiting, but a job already started keeps its slot until it ends:
        the thread cannot be stopped, so the bound has to count it.
        """
        await self._slots.acquire()
        try:
            future = self._hass.async_add_executor_job(job, *args)
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
