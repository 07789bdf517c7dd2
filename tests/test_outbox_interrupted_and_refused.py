"""Deferred MMS interrupted or refused: concurrent, cancelled, cut off, refused, expired, restarted.

Every test runs against the real simulator over loopback; outages are the simulator's port closing
(`go_offline`, `sends_until_outage`, `cut_off`), time moves with the freezer only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
import threading
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.camera import Camera
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
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

from custom_components.serwersms import outbox_disk
from custom_components.serwersms.outbox import outbox_dir
from serwersms_simulator import Fault, SerwerSmsSimulator
from serwersms_simulator.server import RecordedRequest
from tests.conftest import SnapshotCamera, make_jpeg
from tests.helpers import client_without_pauses, later, outbox_files, send, until

MOM = "notify.mom_mms"
FAMILY = "notify.family_mms"
MOM_PHONE = "+48500600700"
FAMILY_PHONES = ["+48500600701", "+48500600702"]
OUTBOX = "sensor.serwersms_outbox"
SENT_TODAY = "sensor.serwersms_mms_sent_today"
SEND = "messages/send_mms"


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client's quick retries without their pauses, one batch at a time (a fixed order)."""
    client_without_pauses(monkeypatch, max_parallel_batches=1)


def on_send(simulator: SerwerSmsSimulator, action: Callable[[RecordedRequest], None]) -> None:
    """Run `action` when a send request arrives at the gateway (before it acts on it)."""
    simulator.on_request = lambda request: action(request) if request.endpoint == SEND else None


async def add_cameras(hass: HomeAssistant, cameras: list[Camera]) -> None:
    setup_test_component_platform(hass, "camera", cameras)
    assert await async_setup_component(hass, "camera", {"camera": {"platform": "test"}})
    await hass.async_block_till_done()


async def test_concurrent_snapshots_while_offline_are_drained_once_each_in_call_order(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    """Eight cameras, the first the biggest picture (slowest to fit), all sent at once offline."""
    cameras = [SnapshotCamera(f"Cam {i}", make_jpeg(1600 - 150 * i, 1200 - 110 * i)) for i in range(8)]
    await add_cameras(hass, cameras)
    await simulator.go_offline()
    responses = await asyncio.gather(
        *(send(hass, message=f"alarm {i}", camera=f"camera.cam_{i}") for i in range(8))
    )
    assert [r.get("deferred") for r in responses] == [1] * 8
    assert hass.states.get(OUTBOX).state == "8"

    await simulator.go_online()
    await later(hass, freezer, 30)
    assert [m.text for m in simulator.messages] == [f"alarm {i}" for i in range(8)]
    assert len(simulator.processed_sends) == 8
    # Each carried its own picture: eight different files.
    assert len({m.file_ids[0] for m in simulator.messages}) == 8
    assert hass.states.get(OUTBOX).state == "0"
    await later(hass, freezer, 60)
    assert len(simulator.processed_sends) == 8


async def test_a_caller_cancelled_while_its_mms_is_deferred_still_gets_it_sent_once(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An automation reloaded while its alarm MMS is being written to the outbox."""
    await simulator.go_offline()
    # The MMS is being written to disk (in the executor) when the caller is cancelled.
    writing = asyncio.Event()
    proceed = threading.Event()
    real_store = outbox_disk.store

    def slow_store(*args: Any) -> None:
        hass.loop.call_soon_threadsafe(writing.set)
        proceed.wait()
        real_store(*args)

    monkeypatch.setattr(outbox_disk, "store", slow_store)
    call = asyncio.ensure_future(send(hass, message="alarm", camera="camera.front_door"))
    await writing.wait()
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    proceed.set()
    await hass.async_block_till_done(wait_background_tasks=True)

    # It waits, and counts against today's limit like any deferred MMS.
    assert hass.states.get(SENT_TODAY).state == "1"
    assert hass.states.get(OUTBOX).state == "1"
    await simulator.go_online()
    await later(hass, freezer, 30)
    assert [m.text for m in simulator.messages] == ["alarm"]
    assert hass.states.get(OUTBOX).state == "0"
    assert outbox_files(hass, loaded_entry) == []


async def test_a_slow_failed_try_is_repeated_thirty_seconds_later_not_sixty(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    """The gateway is back but answers 429 to the drain's first try, slowly (10 s a request)."""
    await simulator.go_offline()
    await send(hass, message="alarm")
    await simulator.go_online()
    simulator.fail_next(SEND, Fault("status", status=429), times=3)  # the client's three tries
    simulator.on_request = lambda request: freezer.tick(timedelta(seconds=10))
    await later(hass, freezer, 30)  # the drain's try: 30 s of gateway time, then refused
    assert simulator.messages == []
    simulator.on_request = None

    # From the end of that try, the account tries again within 30 s.
    for _ in range(30):
        await later(hass, freezer, 1)
    assert [m.text for m in simulator.messages] == ["alarm"]


async def test_a_given_file_gone_by_the_drain_is_reported_unsent_not_retried(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
) -> None:
    """The user's own `file_id` is deleted in the panel while its MMS waits: 1004 at the drain."""
    given = await hass.services.async_call(
        "serwersms", "upload_file", {"camera": "camera.front_door"}, blocking=True, return_response=True
    )
    assert given is not None
    front_door.image = make_jpeg(320, 240)
    sent = async_capture_events(hass, "serwersms_mms_sent")
    await simulator.go_offline()
    response = await send(hass, message="alarm", camera="camera.front_door", file_id=[given["id"]])
    assert response["deferred"] == 1
    del simulator.files[given["id"]]
    await simulator.go_online()
    uploads_before = len(simulator.requests_to("files/add"))

    await later(hass, freezer, 30)
    assert simulator.messages == []
    (event,) = sent
    assert event.data["deferred"] is True
    assert event.data["recipients"] == [
        {"phone": MOM_PHONE, "status": "unsent", "id": None, "error_code": 1004}
    ]
    assert hass.states.get(OUTBOX).state == "0"
    # Given up at once: no try every 30 s, no picture uploaded again and again until it expires.
    for _ in range(30):
        await later(hass, freezer, 30)
    assert len(simulator.processed_sends) == 0
    assert len(simulator.requests_to(SEND)) == 1
    assert len(simulator.requests_to("files/add")) == uploads_before + 1
    assert len(sent) == 1


async def test_an_own_picture_gone_by_the_drain_is_uploaded_again_and_sent_once(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
) -> None:
    """The deferred picture was sent before (its id is reused), then deleted in the panel."""
    first = await send(hass, message="earlier", camera="camera.front_door")
    (old_file,) = first["files"]
    await simulator.go_offline()
    await send(hass, message="alarm", camera="camera.front_door")
    del simulator.files[old_file["id"]]
    await simulator.go_online()

    await later(hass, freezer, 30)
    await later(hass, freezer, 30)
    alarm = [m for m in simulator.messages if m.text == "alarm"]
    assert len(alarm) == 1
    assert alarm[0].file_ids[0] != old_file["id"]
    assert alarm[0].file_ids[0] in simulator.files
    assert hass.states.get(OUTBOX).state == "0"


async def legacy_notify(hass: HomeAssistant, **data: Any) -> None:
    await hass.services.async_call("notify", "serwersms", data, blocking=True)


async def test_only_the_batch_that_never_reached_the_gateway_is_deferred_and_sent_once(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    """150 numbers by the legacy service: the gateway goes down right after the first batch of 100."""
    phones = [f"+48501{i:06d}" for i in range(150)]
    sent = async_capture_events(hass, "serwersms_mms_sent")
    simulator.sends_until_outage = 1
    await legacy_notify(hass, message="fire", target=phones)

    assert [m.phone for m in simulator.messages] == phones[:100]
    assert hass.states.get(OUTBOX).state == "1"
    (first,) = sent
    assert (first.data["queued"], first.data["unsent"], first.data["deferred"]) == (100, 0, False)
    assert [r["status"] for r in first.data["recipients"]] == ["queued"] * 100 + ["deferred"] * 50

    await hass.async_block_till_done(wait_background_tasks=True)  # the outbox's own try, still down
    await simulator.go_online()
    await later(hass, freezer, 30)
    await until(hass, lambda: len(sent) == 2, "the outbox's send of the other 50 numbers to be announced")
    assert [m.phone for m in simulator.messages] == phones
    assert len(simulator.processed_sends) == 2
    assert [(e.data["queued"], e.data["deferred"]) for e in sent] == [(100, False), (50, True)]
    assert [r["phone"] for r in sent[1].data["recipients"]] == phones[100:]
    assert hass.states.get(OUTBOX).state == "0"
    await later(hass, freezer, 60)
    assert len(simulator.processed_sends) == 2


async def test_a_drain_cut_off_after_its_first_batch_keeps_only_the_rest(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    """A deferred MMS for 150 numbers; the drain's first batch goes through, then the gateway is down."""
    phones = [f"+48501{i:06d}" for i in range(150)]
    sent = async_capture_events(hass, "serwersms_mms_sent")
    await simulator.go_offline()
    await legacy_notify(hass, message="fire", target=phones)
    simulator.sends_until_outage = 1
    await simulator.go_online()
    await later(hass, freezer, 30)
    await until(hass, lambda: len(sent) == 1, "the drain's first batch to be announced")
    assert [m.phone for m in simulator.messages] == phones[:100]
    assert hass.states.get(OUTBOX).state == "1"

    # A restart while the rest waits: it is not taken for a send cut off midway.
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    assert await hass.config_entries.async_setup(loaded_entry.entry_id)
    # Its try at start finds the gateway still down before it comes back (not while it comes back:
    # the simulator then takes a request on the new port and drops it with the old one's connections).
    await hass.async_block_till_done(wait_background_tasks=True)
    await simulator.go_online()
    await later(hass, freezer, 30)
    await until(hass, lambda: len(sent) == 2, "the reloaded outbox's send of the other 50 to be announced")
    assert [m.phone for m in simulator.messages] == phones
    assert [(e.data["queued"], e.data["deferred"]) for e in sent] == [(100, True), (50, True)]
    assert hass.states.get(OUTBOX).state == "0"


async def test_an_mms_expiring_while_the_drain_sends_another_is_dropped_not_sent(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    """The first MMS waited 14:30; its send takes 100 s, long enough for both to pass 15 minutes."""
    loaded_entry.runtime_data.client._timeout = aiohttp.ClientTimeout(total=300)  # a slow gateway
    delivery = async_capture_events(hass, "serwersms_mms_delivery")
    await simulator.go_offline()
    await send(hass, message="first")
    await later(hass, freezer, 60)
    await send(hass, FAMILY, message="second", title="Second")
    freezer.tick(timedelta(minutes=13, seconds=30))  # the first: 14:30 old, the second 13:30
    await simulator.go_online()

    def slow_gateway(_request: RecordedRequest) -> None:
        freezer.tick(timedelta(seconds=100))
        async_fire_time_changed(hass)

    on_send(simulator, slow_gateway)
    await later(hass, freezer, 5)  # the next probe finds the gateway back
    simulator.on_request = None
    await hass.async_block_till_done(wait_background_tasks=True)

    # The one being sent went out; the other's time ran out meanwhile.
    assert [m.text for m in simulator.messages] == ["first"]
    assert [(e.data["phone"], e.data["status"], e.data["title"]) for e in delivery] == [
        (phone, "not_sent", "Second") for phone in FAMILY_PHONES
    ]
    assert hass.states.get(OUTBOX).state == "0"
    await later(hass, freezer, 60)
    assert [m.text for m in simulator.messages] == ["first"]
    assert outbox_files(hass, loaded_entry) == []


def issue_changes(hass: HomeAssistant, kind: str) -> list[str]:
    """Record how a repair issue of `kind` comes and goes ("create", "remove", ...)."""
    changes: list[str] = []

    def record(event: Any) -> None:
        if event.data["issue_id"].startswith(kind):
            changes.append(event.data["action"])

    hass.bus.async_listen(ir.EVENT_REPAIRS_ISSUE_REGISTRY_UPDATED, record)
    return changes


async def test_a_drain_refused_for_credits_reports_it_and_goes_on_with_the_next(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    """One credit left: the first deferred MMS (two numbers) is refused with 3004, the next goes."""
    sent = async_capture_events(hass, "serwersms_mms_sent")
    credits_issue = issue_changes(hass, "credits_exhausted")
    await simulator.go_offline()
    await send(hass, FAMILY, message="first")
    await send(hass, MOM, message="second")
    simulator.credits = 1
    await simulator.go_online()
    await later(hass, freezer, 30)

    assert [m.text for m in simulator.messages] == ["second"]
    refused, went = sent
    assert refused.data["deferred"] is True
    assert (refused.data["queued"], refused.data["unsent"]) == (0, 2)
    assert {r["error_code"] for r in refused.data["recipients"]} == {3004}
    assert (went.data["deferred"], went.data["queued"]) == (True, 1)
    # The repair issue came with the refusal, and went with the next MMS that got through.
    assert credits_issue == ["create", "remove"]
    assert hass.states.get(OUTBOX).state == "0"
    await later(hass, freezer, 60)
    assert [m.text for m in simulator.messages] == ["second"]


async def test_refused_credentials_during_the_drain_start_reauth_and_keep_the_mms(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
) -> None:
    await simulator.go_offline()
    await send(hass, message="alarm", camera="camera.front_door")
    token = simulator.token
    simulator.token = "revoked"
    await simulator.go_online()
    await later(hass, freezer, 30)

    assert simulator.messages == []
    flows = hass.config_entries.flow.async_progress_by_handler("serwersms")
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]
    assert hass.states.get(OUTBOX).state == "1"

    simulator.token = token  # the user fixed the token in the panel
    await later(hass, freezer, 30)
    assert [m.text for m in simulator.messages] == ["alarm"]
    assert hass.states.get(OUTBOX).state == "0"


async def test_a_drain_rate_limited_and_then_restarted_still_sends_once(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
) -> None:
    """429 on the drain's send request (after the picture was uploaded), then a restart."""
    sent = async_capture_events(hass, "serwersms_mms_sent")
    await simulator.go_offline()
    await send(hass, message="alarm", camera="camera.front_door")
    await simulator.go_online()
    simulator.fail_next(SEND, Fault("status", status=429, retry_after=60))
    await later(hass, freezer, 30)
    assert simulator.messages == []
    assert hass.states.get(OUTBOX).state == "1"

    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    assert await hass.config_entries.async_setup(loaded_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    await later(hass, freezer, 30)
    assert [m.text for m in simulator.messages] == ["alarm"]
    assert [(e.data["deferred"], e.data["queued"]) for e in sent] == [(True, 1)]
    assert hass.states.get(OUTBOX).state == "0"


async def test_a_restart_in_the_middle_of_a_drain_loses_and_duplicates_nothing(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    sent = async_capture_events(hass, "serwersms_mms_sent")
    await simulator.go_offline()
    for i in range(5):
        await send(hass, message=f"alarm {i}")
    await simulator.go_online()
    restarts: list[asyncio.Task[None]] = []

    async def restart() -> None:
        assert await hass.config_entries.async_unload(loaded_entry.entry_id)
        assert await hass.config_entries.async_setup(loaded_entry.entry_id)

    def restart_at_the_second_send(_request: RecordedRequest) -> None:
        if len(simulator.requests_to(SEND)) == 2:
            restarts.append(hass.async_create_task(restart()))

    on_send(simulator, restart_at_the_second_send)
    await later(hass, freezer, 30)
    assert len(restarts) == 1
    await restarts[0]
    assert loaded_entry.state is ConfigEntryState.LOADED
    await later(hass, freezer, 30)

    assert [m.text for m in simulator.messages] == [f"alarm {i}" for i in range(5)]
    assert len(simulator.processed_sends) == 5
    assert [e.data["recipients"][0]["status"] for e in sent] == ["queued"] * 5
    assert hass.states.get(OUTBOX).state == "0"
    assert outbox_files(hass, loaded_entry) == []


async def test_a_scheduled_time_passed_meanwhile_sends_at_once_a_future_one_keeps_its_date(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    soon = dt_util.now() + timedelta(minutes=5)
    evening = dt_util.now() + timedelta(hours=3)
    await simulator.go_offline()
    await send(hass, message="soon", date=soon.isoformat())
    await send(hass, message="evening", date=evening.isoformat())
    for _ in range(20):  # ten minutes down: `soon` has passed
        await later(hass, freezer, 30)
    await simulator.go_online()
    await later(hass, freezer, 30)

    by_text = {m.text: m for m in simulator.messages}
    assert by_text["soon"].scheduled is None
    assert by_text["evening"].scheduled == evening.astimezone(ZoneInfo("Europe/Warsaw")).strftime(
        "%Y-%m-%d %H:%M:%S"
    )
    requests = {r.fields["text"]: r.fields for r in simulator.requests_to(SEND)}
    assert "date" not in requests["soon"]
    assert len(simulator.processed_sends) == 2


async def test_lowering_outbox_minutes_applies_to_mms_deferred_afterwards(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    """An MMS keeps the deadline it was deferred with; the next one gets the new, shorter one."""
    delivery = async_capture_events(hass, "serwersms_mms_delivery")
    await simulator.go_offline()
    await send(hass, message="before", title="Before")
    hass.config_entries.async_update_entry(loaded_entry, options={"outbox_minutes": 2})
    await hass.async_block_till_done(
        wait_background_tasks=True
    )  # the start's own requests end before time moves
    await send(hass, message="after", title="After")
    for _ in range(6):  # three minutes
        await later(hass, freezer, 30)
    assert [e.data["title"] for e in delivery] == ["After"]
    assert hass.states.get(OUTBOX).state == "1"

    # Switched off: nothing new waits, but what waits is not thrown away.
    hass.config_entries.async_update_entry(loaded_entry, options={"outbox_minutes": 0})
    await hass.async_block_till_done()
    with pytest.raises(HomeAssistantError):
        await send(hass, message="off")
    await simulator.go_online()
    await later(hass, freezer, 30)
    assert [m.text for m in simulator.messages] == ["before"]
    assert hass.states.get(OUTBOX).state == "0"


async def test_legacy_numbers_deferred_and_expired_fire_delivery_with_no_entity(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    """`notify.serwersms` to a number no recipient has, and to Mom's: both expire unsent."""
    delivery = async_capture_events(hass, "serwersms_mms_delivery")
    await simulator.go_offline()
    await legacy_notify(hass, message="fire", title="Fire", target=["600 000 001", MOM_PHONE])
    assert hass.states.get(OUTBOX).state == "1"
    for _ in range(30):
        await later(hass, freezer, 30)
    assert hass.states.get(OUTBOX).state == "0"
    assert [e.data for e in delivery] == [
        {
            "entry_id": loaded_entry.entry_id,
            "entity_id": entity_id,
            "message_id": None,
            "phone": phone,
            "status": "not_sent",
            "reason": "gateway_unreachable",
            "title": "Fire",
            "channel": "mms",
            "fallback": False,
        }
        for entity_id, phone in ((None, "+48600000001"), (MOM, MOM_PHONE))
    ]
    await simulator.go_online()
    await later(hass, freezer, 30)
    assert simulator.messages == []


async def test_the_recipients_event_entity_shows_not_sent_on_expiry(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    await simulator.go_offline()
    await send(hass, MOM, message="smoke", title="Smoke")
    before = hass.states.get("event.mom_mms_delivery")
    family_before = hass.states.get("event.family_mms_delivery")
    for _ in range(30):
        await later(hass, freezer, 30)
    state = hass.states.get("event.mom_mms_delivery")
    assert state.state != before.state
    assert state.attributes["event_type"] == "not_sent"
    assert state.attributes["reason"] == "gateway_unreachable"
    assert state.attributes["phone"] == MOM_PHONE
    assert state.attributes["title"] == "Smoke"
    assert state.attributes["message_id"] is None
    # Family was not sent this MMS: its entity stays as it was.
    assert hass.states.get("event.family_mms_delivery").state == family_before.state


async def test_test_sends_with_pictures_or_given_files_are_never_deferred(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
) -> None:
    given = await hass.services.async_call(
        "serwersms", "upload_file", {"camera": "camera.front_door"}, blocking=True, return_response=True
    )
    assert given is not None
    await simulator.go_offline()
    for data in ({"camera": "camera.front_door"}, {"file_id": [given["id"]], "message": "x"}):
        with pytest.raises(HomeAssistantError) as err:
            await send(hass, test=True, **data)
        assert err.value.translation_key == "cannot_connect"
    assert hass.states.get(OUTBOX).state == "0"
    assert outbox_files(hass, loaded_entry) == []


async def test_a_test_send_cut_off_after_its_first_batch_is_not_deferred(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    phones = [f"+48501{i:06d}" for i in range(150)]
    sent = async_capture_events(hass, "serwersms_mms_sent")
    simulator.sends_until_outage = 1
    await legacy_notify(hass, message="drill", target=phones, data={"test": True})
    (event,) = sent
    assert event.data["test"] is True
    assert [r["status"] for r in event.data["recipients"]] == ["queued"] * 100 + ["unsent"] * 50
    assert hass.states.get(OUTBOX).state == "0"
    await simulator.go_online()
    await later(hass, freezer, 30)
    assert len(simulator.requests_to(SEND)) == 1  # the second batch never reached it, then or later


async def test_numbers_that_may_have_got_it_are_unknown_and_the_rest_wait(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    """The cable is pulled while the gateway works on the first batch; the second never gets there."""
    phones = [f"+48501{i:06d}" for i in range(150)]
    sent = async_capture_events(hass, "serwersms_mms_sent")
    on_send(simulator, lambda _request: simulator.cut_off())
    await legacy_notify(hass, message="fire", target=phones)  # no error: 50 numbers wait
    simulator.on_request = None
    (event,) = sent
    assert [r["status"] for r in event.data["recipients"]] == ["unknown"] * 100 + ["deferred"] * 50
    assert hass.states.get(OUTBOX).state == "1"

    await simulator.go_online()
    await later(hass, freezer, 30)
    # The first batch went out once (the gateway acted on it); only the second was sent again.
    assert sorted(m.phone for m in simulator.messages) == phones
    assert hass.states.get(OUTBOX).state == "0"


async def test_an_outbox_that_cannot_be_written_fails_the_call(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    """The outbox's folder cannot be made (a file is in the way): the send fails as unreachable."""
    in_the_way = outbox_dir(hass, loaded_entry.entry_id)
    in_the_way.parent.mkdir(parents=True, exist_ok=True)
    in_the_way.write_bytes(b"a file, not a folder")
    await simulator.go_offline()
    with pytest.raises(HomeAssistantError) as err:
        await send(hass, message="alarm")
    assert err.value.translation_key == "cannot_connect"
    assert hass.states.get(OUTBOX).state == "0"
    assert hass.states.get(SENT_TODAY).state == "0"


async def test_an_upload_refused_at_the_drain_is_reported_unsent(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
) -> None:
    """The account lost its MMS permission while the MMS waited (3005 on the upload)."""
    sent = async_capture_events(hass, "serwersms_mms_sent")
    permission_issue = issue_changes(hass, "mms_not_permitted")
    await simulator.go_offline()
    await send(hass, message="alarm", camera="camera.front_door")
    await send(hass, message="text only")
    await simulator.go_online()
    simulator.fail_next("files/add", Fault("error", code=3005))
    await later(hass, freezer, 30)

    refused, went = sent
    assert refused.data["deferred"] is True
    assert refused.data["recipients"] == [
        {"phone": MOM_PHONE, "status": "unsent", "id": None, "error_code": 3005}
    ]
    assert permission_issue[0] == "create"
    assert [m.text for m in simulator.messages] == ["text only"]
    assert went.data["queued"] == 1
    assert hass.states.get(OUTBOX).state == "0"


async def test_a_scheduled_mms_from_the_outbox_is_followed_from_its_time(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    simulator.clock = lambda: dt_util.utcnow().timestamp()
    delivery = async_capture_events(hass, "serwersms_mms_delivery")
    await simulator.go_offline()
    await send(hass, message="evening", date=(dt_util.now() + timedelta(hours=1)).isoformat())
    await simulator.go_online()
    await later(hass, freezer, 30)
    assert [m.text for m in simulator.messages] == ["evening"]
    for _ in range(20):  # ten minutes: nothing to ask before the scheduled time
        await later(hass, freezer, 30)
    assert simulator.requests_to("messages/reports") == []
    for _ in range(110):
        await later(hass, freezer, 30)
    assert [e.data["status"] for e in delivery] == ["delivered"]


async def test_a_kept_write_cut_short_or_a_broken_file_never_goes_out_nor_stops_the_account(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    await simulator.go_offline()
    await send(hass, message="cut short")
    await send(hass, message="broken")
    await send(hass, message="fine")
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    cut, broken, _fine = outbox_files(hass, loaded_entry)
    cut.rename(cut.with_suffix(".tmp"))  # the power went while it was being written
    broken.write_bytes(b'{"version": 1, "seq": ')
    await simulator.go_online()
    assert await hass.config_entries.async_setup(loaded_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert loaded_entry.state is ConfigEntryState.LOADED
    await later(hass, freezer, 30)
    assert [m.text for m in simulator.messages] == ["fine"]
    # The broken one is set aside for a person to look at, never tried again.
    assert [p.name for p in outbox_files(hass, loaded_entry)] == [broken.with_suffix(".broken").name]


async def test_an_mms_whose_pictures_cannot_be_read_back_does_not_block_the_next(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
) -> None:
    delivery = async_capture_events(hass, "serwersms_mms_delivery")
    await simulator.go_offline()
    await send(hass, message="first", camera="camera.front_door", title="First")
    await send(hass, message="second")
    first, _second = outbox_files(hass, loaded_entry)
    first.write_bytes(first.read_bytes()[:200])  # damaged on disk while it waited
    await simulator.go_online()
    await later(hass, freezer, 30)
    assert [m.text for m in simulator.messages] == ["second"]
    assert hass.states.get(OUTBOX).state == "0"
    # Never silence: the damaged one is reported not sent, with why.
    assert [(e.data["status"], e.data["reason"], e.data["title"]) for e in delivery[:1]] == [
        ("not_sent", "outbox_unreadable", "First")
    ]


async def test_a_direct_send_during_the_drain_does_not_start_a_second_drain(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    """A new alarm goes straight out while the outbox is sending its first MMS."""
    await simulator.go_offline()
    for i in range(3):
        await send(hass, message=f"waiting {i}")
    await simulator.go_online()
    direct: list[asyncio.Task[Any]] = []

    def new_alarm(_request: RecordedRequest) -> None:
        if not direct:
            direct.append(hass.async_create_task(send(hass, FAMILY, message="new")))

    on_send(simulator, new_alarm)
    await later(hass, freezer, 30)
    await direct[0]
    await hass.async_block_till_done(wait_background_tasks=True)
    waiting = [m.text for m in simulator.messages if m.text != "new"]
    assert waiting == [f"waiting {i}" for i in range(3)]
    assert len(simulator.processed_sends) == 4


async def test_a_power_cut_while_a_deferred_mms_is_at_the_gateway_never_sends_it_twice(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    """What is on disk at the moment the drain's send request is out is what a power cut leaves."""
    sent = async_capture_events(hass, "serwersms_mms_sent")
    await simulator.go_offline()
    await send(hass, message="alarm")
    await simulator.go_online()
    on_disk: dict[str, bytes] = {}

    def power_cut(_request: RecordedRequest) -> None:
        on_disk.update({path.name: path.read_bytes() for path in outbox_files(hass, loaded_entry)})

    on_send(simulator, power_cut)
    await later(hass, freezer, 30)
    simulator.on_request = None
    assert [m.text for m in simulator.messages] == ["alarm"]

    # Home Assistant starts again from what the power cut left.
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    folder = outbox_dir(hass, loaded_entry.entry_id)
    for name, data in on_disk.items():
        (folder / name).write_bytes(data)
    assert await hass.config_entries.async_setup(loaded_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    await later(hass, freezer, 30)
    assert [m.text for m in simulator.messages] == ["alarm"]
    assert [e.data["recipients"][0]["status"] for e in sent] == ["queued", "unknown"]
