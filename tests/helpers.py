"""What the tests that call the integration share.

Calling `serwersms.send_mms`, letting Home Assistant time pass with the freezer, the client without
its real-time pauses and the outbox's files on disk.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
import gc
from pathlib import Path
import time
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.serwersms.api import SerwerSmsClient
from custom_components.serwersms.outbox import outbox_dir
from tests.conftest import SnapshotCamera, make_jpeg

MOM = "notify.mom_mms"


def client_without_pauses(monkeypatch: pytest.MonkeyPatch, **defaults: Any) -> None:
    """The client's own quick retries without their real-time pauses (time moves with the freezer).

    `defaults` overrides other keyword defaults of the client (e.g. `max_parallel_batches=1`).
    """
    current = dict(SerwerSmsClient.__init__.__kwdefaults__ or {})
    monkeypatch.setattr(SerwerSmsClient.__init__, "__kwdefaults__", current | {"backoff": 0.0} | defaults)


async def call_send_mms(hass: HomeAssistant, target: str | list[str] = MOM, **data: Any) -> dict[str, Any]:
    """`serwersms.send_mms` to `target`: the whole response, keyed by entity."""
    response = await hass.services.async_call(
        "serwersms", "send_mms", {"entity_id": target, **data}, blocking=True, return_response=True
    )
    assert response is not None
    return response  # type: ignore[return-value]


async def send(hass: HomeAssistant, target: str = MOM, **data: Any) -> dict[str, Any]:
    """`serwersms.send_mms` to one recipient entity: its part of the response."""
    response: dict[str, Any] = (await call_send_mms(hass, target, **data))[target]
    return response


async def later(hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float) -> None:
    """Let `seconds` of Home Assistant time pass."""
    freezer.tick(timedelta(seconds=seconds))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


# How long `until` waits in real time: only a hang gets there, never a busy machine.
CEILING_S = 30.0
# How long `until` lets Home Assistant's tasks run before it asks again, in real time.
SLICE_S = 0.02


def _real_seconds() -> float:
    """The real monotonic clock (the freezer holds `time.monotonic` and the event loop's clock)."""
    return time.clock_gettime(time.CLOCK_MONOTONIC)


async def until(
    hass: HomeAssistant, holds: Callable[[], bool], what: str, *, ceiling: float = CEILING_S
) -> None:
    """Return once `holds()` is true, without moving Home Assistant's clock.

    Work that crosses real loopback I/O or a worker thread ends when the machine gets to it: this lets
    Home Assistant's tasks run (a reply the kernel has not handed over yet is read on a later turn),
    again and again. A task waiting on the frozen clock (a retry's back-off, say) would keep
    `async_block_till_done` waiting for ever, so each wait for the tasks is cut short after a slice of
    real time and `holds()` asked again. `ceiling` seconds of real time end it with a failure naming
    `what`: only a hang gets there.
    """
    loop = asyncio.get_running_loop()
    deadline = _real_seconds() + ceiling
    while not holds():
        if _real_seconds() > deadline:
            pytest.fail(f"still waiting after {ceiling:g} s of real time for {what}")
        settled = asyncio.ensure_future(hass.async_block_till_done(wait_background_tasks=True))
        # A real-time slice (a worker thread's sleep): the event loop's own timers stand with the clock.
        real_slice = loop.run_in_executor(None, time.sleep, SLICE_S)
        await asyncio.wait({settled, real_slice}, return_when=asyncio.FIRST_COMPLETED)
        if not settled.done():
            settled.cancel()
        await asyncio.gather(settled, real_slice, return_exceptions=True)
        await asyncio.sleep(0)


async def advance(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float, step: float = 1
) -> None:
    """Let `seconds` pass in steps, firing due timers and finishing each poll before going on."""
    passed = 0.0
    while passed < seconds:
        tick = min(step, seconds - passed)
        freezer.tick(timedelta(seconds=tick))
        passed += tick
        async_fire_time_changed(hass)
        await hass.async_block_till_done(wait_background_tasks=True)


def outbox_files(hass: HomeAssistant, entry: MockConfigEntry) -> list[Path]:
    """The account's outbox folder, one file per waiting MMS, oldest first."""
    folder = outbox_dir(hass, entry.entry_id)
    return sorted(folder.iterdir()) if folder.is_dir() else []


async def defer_snapshots(hass: HomeAssistant, camera: SnapshotCamera, count: int, first: int = 0) -> None:
    """`count` MMS to Mom ("alarm <first>", ...), each its own snapshot, sent while the gateway is down."""
    for i in range(first, first + count):
        camera.image = make_jpeg(640 - 16 * i, 480)
        assert (await send(hass, message=f"alarm {i}", camera="camera.front_door"))["deferred"] == 1


def no_stray_errors(caplog: pytest.LogCaptureFixture) -> None:
    """No task left with an error nobody retrieved, no "exception in shielded future", no traceback."""
    gc.collect()  # an abandoned task logs its unretrieved error when it is collected
    assert "never retrieved" not in caplog.text
    assert "shielded future" not in caplog.text
    assert "Traceback" not in caplog.text
