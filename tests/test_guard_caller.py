"""The spending guard from the caller's side: calls that fail, calls cancelled, days without a midnight."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.camera import Camera
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
    setup_test_component_platform,
)

from serwersms_simulator import SerwerSmsSimulator
from serwersms_simulator.server import RecordedRequest
from tests.conftest import SnapshotCamera, make_jpeg
from tests.helpers import MOM, call_send_mms, no_stray_errors

FAMILY = "notify.family_mms"
MOM_PHONE = "+48500600700"
SENT_TODAY = "sensor.serwersms_mms_sent_today"
SEND = "messages/send_mms"
SUPPRESSED = {"suppressed": True, "queued": 0, "unsent": 0, "recipients": [], "files": []}


class GatedCamera(Camera):
    """camera.gate: its snapshot waits for the test to open the gate, then fails (`fail`) or gives a JPEG."""

    _attr_has_entity_name = False

    def __init__(self) -> None:
        super().__init__()
        self._attr_name = "Gate"
        self._attr_unique_id = "gate"
        self.entered = asyncio.Event()
        self.gate = asyncio.Event()
        self.fail = True

    async def async_camera_image(self, width: int | None = None, height: int | None = None) -> bytes | None:
        self.entered.set()
        await self.gate.wait()
        if self.fail:
            raise TimeoutError("the camera did not answer")
        return make_jpeg(320, 240)


@pytest.fixture
async def gate(hass: HomeAssistant) -> GatedCamera:
    camera = GatedCamera()
    setup_test_component_platform(hass, "camera", [camera])
    assert await async_setup_component(hass, "camera", {"camera": {"platform": "test"}})
    await hass.async_block_till_done()
    return camera


async def set_options(hass: HomeAssistant, entry: MockConfigEntry, **options: Any) -> None:
    hass.config_entries.async_update_entry(entry, options={**entry.options, **options})
    await hass.async_block_till_done()


def limit_issue(hass: HomeAssistant, entry: MockConfigEntry) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue("serwersms", f"daily_limit_reached_{entry.entry_id}")


async def until_waiting(task: asyncio.Task[Any]) -> None:
    """Let `task` run as far as it goes without time passing (it ends, or waits on something)."""
    for _ in range(50):
        if task.done():
            return
        await asyncio.sleep(0)


# --- #3: a mark whose send then fails suppresses nothing ------------------------------------------


async def test_a_call_that_fails_after_marking_does_not_silence_the_next_alarm(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry, gate: GatedCamera
) -> None:
    """The first alarm's camera times out; the second, with the same tag meanwhile, must still go."""
    first = hass.async_create_task(call_send_mms(hass, camera="camera.gate", title="Motion", cooldown=120))
    await gate.entered.wait()  # the first call marked the cooldown; its snapshot is under way
    second = hass.async_create_task(call_send_mms(hass, message="motion", title="Motion", cooldown=120))
    await until_waiting(second)
    assert not second.done()  # it waits to learn whether the first goes out

    gate.gate.set()
    with pytest.raises(HomeAssistantError) as err:
        await first
    assert err.value.translation_key == "snapshot_failed"
    assert (await second)[MOM]["queued"] == 1
    assert [m.text for m in simulator.messages] == ["motion"]
    # And it started the cooldown in its turn.
    assert (await call_send_mms(hass, message="motion", title="Motion", cooldown=120))[MOM] == SUPPRESSED


async def test_a_call_that_waited_on_a_send_that_went_out_is_suppressed(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry, gate: GatedCamera
) -> None:
    gate.fail = False
    first = hass.async_create_task(call_send_mms(hass, camera="camera.gate", title="Motion", cooldown=120))
    await gate.entered.wait()
    second = hass.async_create_task(
        call_send_mms(hass, [MOM, FAMILY], message="motion", title="Motion", cooldown=120)
    )
    await until_waiting(second)
    gate.gate.set()
    assert (await first)[MOM]["queued"] == 1
    responses = await second
    assert responses[MOM] == SUPPRESSED
    assert responses[FAMILY]["queued"] == 2  # no mark of Family's was pending: it goes
    assert len(simulator.messages) == 3


# --- #7: a caller cancelled while the send request is out -----------------------------------------


async def test_a_restarted_automation_cannot_bypass_the_cooldown_or_the_daily_limit(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry, caplog: Any
) -> None:
    """`mode: restart` cancels the run while the gateway has the request: the MMS goes, and counts."""
    await set_options(hass, loaded_entry, daily_limit=1)
    sent_events = async_capture_events(hass, "serwersms_mms_sent")
    run = hass.async_create_task(call_send_mms(hass, message="alarm", title="Motion", cooldown=600))

    def restart_the_automation(request: RecordedRequest) -> None:
        if request.endpoint == SEND:
            run.cancel()  # the gateway is holding the request (it has not answered yet)

    simulator.on_request = restart_the_automation
    with pytest.raises(asyncio.CancelledError):
        await run
    simulator.on_request = None
    await hass.async_block_till_done()

    assert [m.text for m in simulator.messages] == ["alarm"]
    assert hass.states.get(SENT_TODAY).state == "1"
    assert [event.data["queued"] for event in sent_events] == [1]
    # The restarted run sends again: the cooldown holds, and so does the daily limit.
    assert (await call_send_mms(hass, message="alarm", title="Motion", cooldown=600))[MOM] == SUPPRESSED
    with pytest.raises(ServiceValidationError) as err:
        await call_send_mms(hass, message="alarm", title="Other")
    assert err.value.translation_key == "daily_limit_reached"
    assert [m.text for m in simulator.messages] == ["alarm"]
    no_stray_errors(caplog)


async def test_a_caller_cancelled_before_anything_left_gives_back_its_hold_and_mark(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry, gate: GatedCamera
) -> None:
    await set_options(hass, loaded_entry, daily_limit=1)
    run = hass.async_create_task(call_send_mms(hass, camera="camera.gate", title="Motion", cooldown=600))
    await gate.entered.wait()  # still taking the snapshot: nothing has left
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    await hass.async_block_till_done()
    assert simulator.requests_to(SEND) == []
    assert hass.states.get(SENT_TODAY).state == "0"
    assert (await call_send_mms(hass, message="alarm", title="Motion", cooldown=600))[MOM]["queued"] == 1


# --- #12: a day without a midnight ---------------------------------------------------------------


async def test_a_day_whose_midnight_is_skipped_still_starts_a_new_count(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    config_entry: MockConfigEntry,
) -> None:
    """In Santiago, 5 September 2026 23:59:59 is followed by 6 September 01:00:00 (summer time)."""
    await hass.config.async_set_time_zone("America/Santiago")
    santiago = dt_util.get_default_time_zone()
    freezer.move_to(datetime(2026, 9, 5, 20, 0, tzinfo=santiago))
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    await set_options(hass, config_entry, daily_limit=1)
    assert (await call_send_mms(hass, message="evening"))[MOM]["queued"] == 1
    with pytest.raises(ServiceValidationError):
        await call_send_mms(hass, message="evening again")
    assert limit_issue(hass, config_entry) is not None

    freezer.move_to(datetime(2026, 9, 6, 1, 0, 30, tzinfo=santiago))  # 04:00:30 UTC, 30 s into the day
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert hass.states.get(SENT_TODAY).state == "0"
    assert limit_issue(hass, config_entry) is None
    assert (await call_send_mms(hass, message="morning"))[MOM]["queued"] == 1

    # The next night has its midnight again: the count starts anew at 00:00.
    freezer.move_to(datetime(2026, 9, 7, 0, 0, 1, tzinfo=santiago))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert hass.states.get(SENT_TODAY).state == "0"
    assert (await call_send_mms(hass, message="next day"))[MOM]["queued"] == 1
    assert await hass.config_entries.async_unload(config_entry.entry_id)


# --- #13: the count is on disk when the call returns ---------------------------------------------


async def test_the_count_is_stored_before_the_call_returns(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
) -> None:
    """A crash right after the call must not forget the MMS: no time passes between the two."""
    key = f"serwersms.{loaded_entry.entry_id}.guard"
    assert (await call_send_mms(hass, message="alarm", cooldown=60))[MOM]["queued"] == 1
    stored = hass_storage[key]["data"]
    assert stored["sent"] == {MOM_PHONE: 1}
    assert len(stored["last_sent"]) == 1  # Mom's cooldown with it

    await simulator.go_offline()  # the snapshot's upload cannot reach the gateway: the MMS waits
    assert (await call_send_mms(hass, FAMILY, camera="camera.front_door"))[FAMILY]["deferred"] == 2
    assert hass_storage[key]["data"]["sent"] == {MOM_PHONE: 1, "+48500600701": 1, "+48500600702": 1}


# --- seam 6: reading is pure; events carry the caller's context ----------------------------------


async def test_reading_the_count_after_midnight_changes_nothing(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    """Only the day's timer starts a new count; a sensor or diagnostics read in between just reads."""
    await set_options(hass, loaded_entry, daily_limit=1)
    await call_send_mms(hass, message="one")
    with pytest.raises(ServiceValidationError):
        await call_send_mms(hass, message="two")
    guard = loaded_entry.runtime_data.guard
    told: list[None] = []
    guard.async_add_listener(lambda: told.append(None))

    freezer.move_to(dt_util.start_of_local_day() + timedelta(days=1, seconds=1))  # the timer has not run
    assert guard.sent_today == 0
    assert told == []
    assert limit_issue(hass, loaded_entry) is not None

    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert told == [None]
    assert limit_issue(hass, loaded_entry) is None


async def test_the_sent_event_carries_the_callers_context(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry
) -> None:
    sent_events = async_capture_events(hass, "serwersms_mms_sent")
    action, notify, legacy = Context(), Context(), Context()
    await hass.services.async_call(
        "serwersms", "send_mms", {"entity_id": MOM, "message": "a"}, blocking=True, context=action
    )
    await hass.services.async_call(
        "notify", "send_message", {"entity_id": MOM, "message": "b"}, blocking=True, context=notify
    )
    await hass.services.async_call(
        "notify", "serwersms", {"message": "c", "target": [MOM_PHONE]}, blocking=True, context=legacy
    )
    assert [event.context.id for event in sent_events] == [action.id, notify.id, legacy.id]
