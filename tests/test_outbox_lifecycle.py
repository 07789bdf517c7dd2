"""The outbox across a stop, a reload and a clock that jumps: nothing lost, nothing repeated, nothing late.

A real Home Assistant stop (`hass.async_stop()`), real reloads of the account, the real simulator over
loopback; time moves with the freezer. The wall clock is jumped on its own through the outbox's
monotonic-clock seam, as time sync does on a Raspberry Pi without a real-time clock.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
import threading
import time
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
)

from custom_components.serwersms import outbox as outbox_module, outbox_disk
from serwersms_simulator import Fault, SerwerSmsSimulator
from tests.conftest import SnapshotCamera, make_jpeg
from tests.helpers import client_without_pauses, later, outbox_files, send

MOM = "notify.mom_mms"
MOM_PHONE = "+48500600700"
OUTBOX = "sensor.serwersms_outbox"


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client's own quick retries without their pauses (time moves with the freezer)."""
    client_without_pauses(monkeypatch)


def hold_sends(
    simulator: SerwerSmsSimulator, monkeypatch: pytest.MonkeyPatch
) -> tuple[asyncio.Event, asyncio.Event]:
    """The gateway holds every send request until released: (a send arrived, release)."""
    arrived, release = asyncio.Event(), asyncio.Event()
    answer = simulator._send_mms

    async def held(*args: Any) -> Any:
        arrived.set()
        await release.wait()
        return await answer(*args)

    monkeypatch.setattr(simulator, "_send_mms", held)
    return arrived, release


async def test_a_normal_stop_lets_the_outbox_finish_the_mms_it_is_sending(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Home Assistant cancels background tasks before EVENT_HOMEASSISTANT_STOP: a shutdown job runs first.

    The MMS the drain is sending when Home Assistant stops is announced as sent and leaves no `.sending`
    mark, so the next start does not report it `unknown`.
    """
    sent = async_capture_events(hass, "serwersms_mms_sent")
    delete = outbox_disk.delete

    def slow_delete(*args: Any) -> None:
        # A busy SD card: the stop must wait for the sent MMS's files to go, not only for the send.
        time.sleep(0.3)
        delete(*args)

    monkeypatch.setattr(outbox_disk, "delete", slow_delete)
    await simulator.go_offline()
    await send(hass, message="alarm")
    arrived, release = hold_sends(simulator, monkeypatch)
    await simulator.go_online()
    freezer.tick(timedelta(seconds=5))
    async_fire_time_changed(hass)  # the probe finds the gateway; the drain's send request goes out
    await arrived.wait()
    assert [p.suffix for p in outbox_files(hass, loaded_entry)] == [".sending"]

    stopping = hass.async_create_task(hass.async_stop())
    for _ in range(20):
        await asyncio.sleep(0)
    release.set()
    await stopping

    assert [m.text for m in simulator.messages] == ["alarm"]
    assert [(e.data["queued"], e.data["deferred"]) for e in sent] == [(1, True)]
    assert outbox_files(hass, loaded_entry) == []


async def test_an_unload_removes_its_shutdown_job(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry
) -> None:
    """A reloaded account leaves no stop job of its old outbox behind (reloads do not pile them up)."""
    jobs = len(hass._shutdown_jobs)
    assert await hass.config_entries.async_reload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    assert len(hass._shutdown_jobs) == jobs
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    assert len(hass._shutdown_jobs) == jobs - 1


async def test_a_clock_set_forward_after_boot_does_not_expire_a_waiting_alarm(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """It waited 50 s of a one-minute outbox when time sync moved the wall clock two hours on: it goes."""
    monotonic = [10_000.0]
    monkeypatch.setattr(outbox_module, "_monotonic", lambda: monotonic[0])
    hass.config_entries.async_update_entry(loaded_entry, options={"outbox_minutes": 1})
    await hass.async_block_till_done()
    delivery = async_capture_events(hass, "serwersms_mms_delivery")
    await simulator.go_offline()
    await send(hass, message="alarm")
    monotonic[0] += 50
    freezer.tick(timedelta(hours=2))  # the wall clock jumps; the loop's timers all fall due
    await later(hass, freezer, 0)
    assert delivery == []
    assert hass.states.get(OUTBOX).state == "1"

    await simulator.go_online()
    monotonic[0] += 5
    await later(hass, freezer, 5)
    assert [m.text for m in simulator.messages] == ["alarm"]
    assert [e.data["status"] for e in delivery] == []


async def test_after_a_restart_with_a_clock_behind_an_mms_waits_no_longer_than_its_budget(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    """Home Assistant restarts with its clock a day behind (no real-time clock): the MMS still ends in time.

    Its stored expiry would be a day and 15 minutes away by that clock; it gets its 15 minutes at most.
    """
    delivery = async_capture_events(hass, "serwersms_mms_delivery")
    sent = async_capture_events(hass, "serwersms_mms_sent")
    await simulator.go_offline()
    await send(hass, message="alarm")
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    freezer.move_to(freezer.time_to_freeze - timedelta(days=1))
    assert await hass.config_entries.async_setup(loaded_entry.entry_id)
    # The start's own try (the drain: a background task) is refused before any time passes. Moved a
    # minute while its send request still connects, the clock would fire the client's 10-s connect
    # and 30-s total timeouts at once; aiohttp then raises the total one, a send with no clear answer
    # (`unknown`, never retried), not the refusal this test is about.
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get(OUTBOX).state == "1"
    assert sent == []
    for _ in range(14):
        await later(hass, freezer, 60)
    assert delivery == []
    await later(hass, freezer, 61)
    assert [(e.data["status"], e.data["reason"]) for e in delivery] == [("not_sent", "gateway_unreachable")]


async def test_a_reload_while_a_direct_send_is_out_waits_for_it_and_follows_its_delivery(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The MMS the gateway queued across a reload is followed for delivery by the reloaded account."""
    delivery = async_capture_events(hass, "serwersms_mms_delivery")
    arrived, release = hold_sends(simulator, monkeypatch)
    call = hass.async_create_task(send(hass, message="doorbell"))
    await arrived.wait()
    reload = hass.async_create_task(hass.config_entries.async_reload(loaded_entry.entry_id))
    for _ in range(20):
        await asyncio.sleep(0)
    assert not reload.done()  # it waits for the send under way
    release.set()
    assert (await call)["queued"] == 1
    assert await reload
    await later(hass, freezer, 30)
    assert [(e.data["status"], e.data["phone"]) for e in delivery] == [("delivered", MOM_PHONE)]


async def test_a_reload_while_an_mms_is_being_deferred_never_overwrites_another_waiting_mms(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The old pipeline writes its MMS before the reloaded outbox hands out places: both go, each its own."""
    await simulator.go_offline()
    writing, proceed = asyncio.Event(), threading.Event()
    real_store = outbox_disk.store

    def slow_store(*args: Any) -> None:
        hass.loop.call_soon_threadsafe(writing.set)
        proceed.wait(5)
        real_store(*args)

    monkeypatch.setattr(outbox_disk, "store", slow_store)
    front_door.image = make_jpeg(640, 480)
    first = hass.async_create_task(send(hass, message="first", camera="camera.front_door"))
    await writing.wait()
    first.cancel()  # its automation was reloaded too: the MMS is kept all the same
    reload = hass.async_create_task(hass.config_entries.async_reload(loaded_entry.entry_id))
    for _ in range(20):
        await asyncio.sleep(0)
    assert not reload.done()  # it waits for the MMS being written
    proceed.set()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await reload
    monkeypatch.setattr(outbox_disk, "store", real_store)
    front_door.image = make_jpeg(320, 240)
    assert (await send(hass, message="second", camera="camera.front_door"))["deferred"] == 1
    assert len(outbox_files(hass, loaded_entry)) == 2

    await simulator.go_online()
    await later(hass, freezer, 5)
    assert [m.text for m in simulator.messages] == ["first", "second"]
    sizes = [len(simulator.files[m.file_ids[0]].content) for m in simulator.messages]
    assert sizes[0] != sizes[1]  # each its own picture


async def test_an_mms_whose_time_ran_out_during_its_try_is_reported_as_the_try_ends(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Never expired in the middle of its try, and not left waiting after it either: `not_sent` at once."""
    monotonic = [10_000.0]
    monkeypatch.setattr(outbox_module, "_monotonic", lambda: monotonic[0])
    hass.config_entries.async_update_entry(loaded_entry, options={"outbox_minutes": 1})
    await hass.async_block_till_done()
    delivery = async_capture_events(hass, "serwersms_mms_delivery")
    await simulator.go_offline()
    await send(hass, message="alarm", camera="camera.front_door")
    upload = simulator._files_add

    async def slow_upload(*args: Any) -> Any:
        monotonic[0] += 120  # the try outlives the MMS's minute
        return await upload(*args)

    monkeypatch.setattr(simulator, "_files_add", slow_upload)
    simulator.fail_next("messages/send_mms", Fault("status", status=429), times=10)
    await simulator.go_online()
    await later(hass, freezer, 5)  # the probe finds the gateway; the try is refused (429, nothing sent)
    assert [(e.data["status"], e.data["reason"]) for e in delivery] == [("not_sent", "gateway_unreachable")]
    assert simulator.messages == []
    assert hass.states.get(OUTBOX).state == "0"
