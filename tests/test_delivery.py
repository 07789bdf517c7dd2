"""Delivery: every queued MMS is followed to the phone, and automations are told what happened."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
import re
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components import persistent_notification
from homeassistant.core import Event, HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
)
import yaml

from custom_components.serwersms.delivery import DeliveryTracker
from serwersms_simulator import Fault, SerwerSmsSimulator
from tests.conftest import PASSWORD, TOKEN, USERNAME
from tests.helpers import advance, call_send_mms as send_mms
from tests.waiting import request_arrives

MOM, FAMILY = "notify.mom_mms", "notify.family_mms"
MOM_DELIVERY, FAMILY_DELIVERY = "event.mom_mms_delivery", "event.family_mms_delivery"
MOM_PHONE, FAMILY_PHONES = "+48500600700", ["+48500600701", "+48500600702"]
REPORTS = "messages/reports"


@pytest.fixture(autouse=True)
def whole_second(freezer: FrozenDateTimeFactory) -> None:
    """Start every test on a whole second, so that schedules read as plain numbers."""
    freezer.move_to("2026-11-25 12:00:00+00:00")


def delivery_events(events: list[Event]) -> list[dict[str, Any]]:
    return [dict(event.data) for event in events]


def entity_events(hass: HomeAssistant, changes: list[Event], entity_id: str) -> list[dict[str, Any]]:
    """Every event an event entity showed (its state changes), as event type plus attributes."""
    shown = []
    for change in changes:
        if change.data["entity_id"] != entity_id or change.data["new_state"] is None:
            continue
        if change.data["new_state"].state in ("unknown", "unavailable"):
            continue
        attributes = change.data["new_state"].attributes
        shown.append(
            {key: attributes.get(key) for key in ("event_type", "message_id", "phone", "title", "reason")}
        )
    return shown


def report_times(sim: SerwerSmsSimulator, since: float) -> list[float]:
    """When each `messages/reports` request came, in seconds after `since`."""
    return [round(r.at - since, 3) for r in sim.requests_to(REPORTS)]


async def test_a_delivered_mms_fires_the_recipient_event_and_the_bus_event(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    events = async_capture_events(hass, "serwersms_mms_delivery")
    changes = async_capture_events(hass, "state_changed")
    simulator.delivery_delay = 10
    response = await send_mms(hass, MOM, title="Alarm", message="Front door")
    message_id = response[MOM]["recipients"][0]["id"]
    sent = simulator.clock()
    await advance(hass, freezer, 29)
    assert simulator.requests_to(REPORTS) == []
    await advance(hass, freezer, 1)
    assert report_times(simulator, sent) == [30]
    assert simulator.requests_to(REPORTS)[0].fields["id"] == [message_id]
    expected = {"message_id": message_id, "phone": MOM_PHONE, "title": "Alarm", "reason": None}
    assert entity_events(hass, changes, MOM_DELIVERY) == [{"event_type": "delivered", **expected}]
    assert hass.states.get(MOM_DELIVERY).attributes["channel"] == "mms"
    expected |= {"channel": "mms", "fallback": False}
    assert entity_events(hass, changes, FAMILY_DELIVERY) == []
    assert delivery_events(events) == [
        {"entry_id": loaded_entry.entry_id, "entity_id": MOM, "status": "delivered", **expected}
    ]
    for secret in (TOKEN, USERNAME, PASSWORD):
        assert secret not in str(events[0].data)
    # Nothing left to follow: the account goes quiet.
    await advance(hass, freezer, 3600, step=60)
    assert len(simulator.requests_to(REPORTS)) == 1


async def test_polls_come_within_30_s_then_at_most_doubling_up_to_10_minutes(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    simulator.delivery_delay = 3 * 3600  # the phone is off: no final report for hours
    await send_mms(hass, MOM, message="m")
    sent = simulator.clock()
    await advance(hass, freezer, 3600)
    times = report_times(simulator, sent)
    gaps = [b - a for a, b in zip([0.0, *times], times, strict=False)]
    assert gaps[:7] == [30, 60, 120, 240, 480, 600, 600]
    assert all(gap == 600 for gap in gaps[5:])
    assert all(len(r.fields["id"]) == 1 for r in simulator.requests_to(REPORTS))


async def test_sends_a_few_seconds_apart_share_their_polls(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    simulator.delivery_delay = 3 * 3600
    await send_mms(hass, MOM, message="first")
    sent = simulator.clock()
    await advance(hass, freezer, 5)
    await send_mms(hass, FAMILY, message="second")
    await advance(hass, freezer, 1200)
    requests = simulator.requests_to(REPORTS)
    assert [len(r.fields["id"]) for r in requests] == [3] * len(requests)
    # The later send was asked 25 s after it went out, so its own intervals start from 25 s.
    assert report_times(simulator, sent)[:4] == [30, 80, 180, 380]


async def test_no_final_report_within_24_hours_is_unconfirmed(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    events = async_capture_events(hass, "serwersms_mms_delivery")
    simulator.delivery_delay = 48 * 3600
    response = await send_mms(hass, MOM, title="Alarm", message="m")
    sent = simulator.clock()
    await advance(hass, freezer, 24 * 3600 - 60, step=60)
    assert events == []
    await advance(hass, freezer, 60, step=60)
    assert delivery_events(events) == [
        {
            "entry_id": loaded_entry.entry_id,
            "entity_id": MOM,
            "message_id": response[MOM]["recipients"][0]["id"],
            "phone": MOM_PHONE,
            "status": "unconfirmed",
            "reason": None,
            "title": "Alarm",
            "channel": "mms",
            "fallback": False,
        }
    ]
    state = hass.states.get(MOM_DELIVERY)
    assert state is not None
    assert state.attributes["event_type"] == "unconfirmed"
    assert report_times(simulator, sent)[-1] == 24 * 3600
    asked = len(simulator.requests_to(REPORTS))
    assert asked < 24 * 6 + 10  # every 10 minutes at most, once the intervals have grown
    await advance(hass, freezer, 24 * 3600, step=600)
    assert len(simulator.requests_to(REPORTS)) == asked
    assert len(events) == 1


async def test_an_idle_account_asks_for_no_reports_all_day(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    await send_mms(hass, MOM, message="a test only", test=True)
    await advance(hass, freezer, 24 * 3600, step=600)  # any timer at all would fire in a step
    assert simulator.requests_to(REPORTS) == []
    assert len(simulator.requests_to("messages/send_mms")) == 1


async def test_a_test_mode_send_is_not_followed(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    events = async_capture_events(hass, "serwersms_mms_delivery")
    response = await send_mms(hass, FAMILY, message="m", test=True)
    assert response[FAMILY]["queued"] == 2
    await advance(hass, freezer, 3600, step=10)
    assert simulator.requests_to(REPORTS) == []
    assert events == []
    assert loaded_entry.runtime_data.delivery.pending == 0


async def test_1200_pending_ids_take_three_requests_a_poll(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    simulator.credits = None
    simulator.delivery_delay = 3 * 3600
    numbers = [f"+4851{i:07d}" for i in range(1200)]
    await hass.services.async_call("notify", "serwersms", {"message": "m", "target": numbers}, blocking=True)
    await advance(hass, freezer, 30)
    first = simulator.requests_to(REPORTS)
    assert [len(r.fields["id"]) for r in first] == [500, 500, 200]
    queued = {m.id for m in simulator.messages}
    assert {i for r in first for i in r.fields["id"]} == queued
    await advance(hass, freezer, 60)
    assert [len(r.fields["id"]) for r in simulator.requests_to(REPORTS)] == [500, 500, 200] * 2


async def test_every_number_of_a_recipient_reports_on_its_own(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    events = async_capture_events(hass, "serwersms_mms_delivery")
    changes = async_capture_events(hass, "state_changed")
    simulator.undeliverable[FAMILY_PHONES[1]] = "message_expired"
    response = await send_mms(hass, FAMILY, title="Ruch", message="m")
    ids = {r["phone"]: r["id"] for r in response[FAMILY]["recipients"]}
    await advance(hass, freezer, 30)
    shown = entity_events(hass, changes, FAMILY_DELIVERY)
    assert sorted(shown, key=lambda e: e["phone"]) == [
        {
            "event_type": "delivered",
            "message_id": ids[FAMILY_PHONES[0]],
            "phone": FAMILY_PHONES[0],
            "title": "Ruch",
            "reason": None,
        },
        {
            "event_type": "undelivered",
            "message_id": ids[FAMILY_PHONES[1]],
            "phone": FAMILY_PHONES[1],
            "title": "Ruch",
            "reason": "message_expired",
        },
    ]
    assert sorted(
        (e["phone"], e["status"], e["reason"], e["entity_id"]) for e in delivery_events(events)
    ) == [
        (FAMILY_PHONES[0], "delivered", None, FAMILY),
        (FAMILY_PHONES[1], "undelivered", "message_expired", FAMILY),
    ]
    assert entity_events(hass, changes, MOM_DELIVERY) == []


async def test_a_report_repeated_within_a_reply_or_later_fires_once(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    events = async_capture_events(hass, "serwersms_mms_delivery")
    simulator.repeat_reports = True
    await send_mms(hass, MOM, message="first")
    await advance(hass, freezer, 30)
    assert [e["phone"] for e in delivery_events(events)] == [MOM_PHONE]
    await send_mms(hass, FAMILY, message="second")
    await advance(hass, freezer, 30)
    # The gateway listed Mom's report again, unasked, next to Family's.
    late = simulator.requests_to(REPORTS)[-1]
    assert len(late.fields["id"]) == 2
    assert sorted(e["phone"] for e in delivery_events(events)) == sorted([MOM_PHONE, *FAMILY_PHONES])
    await advance(hass, freezer, 3600, step=60)
    assert len(events) == 3


async def test_pending_ids_survive_a_restart(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    events = async_capture_events(hass, "serwersms_mms_delivery")
    response = await send_mms(hass, MOM, message="m")
    message_id = response[MOM]["recipients"][0]["id"]
    await advance(hass, freezer, 10)
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    stored = hass_storage[DeliveryTracker.storage_key(loaded_entry.entry_id)]["data"]["pending"]
    assert list(stored) == [message_id]
    await advance(hass, freezer, 60)
    assert simulator.requests_to(REPORTS) == []
    assert await hass.config_entries.async_setup(loaded_entry.entry_id)
    await hass.async_block_till_done()
    await advance(hass, freezer, 1)
    assert [e["message_id"] for e in delivery_events(events)] == [message_id]
    assert hass_storage[DeliveryTracker.storage_key(loaded_entry.entry_id)]["data"]["pending"] == {}
    state = hass.states.get(MOM_DELIVERY)
    assert state is not None
    assert state.attributes["event_type"] == "delivered"


async def test_a_scheduled_send_is_followed_from_its_time(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    events = async_capture_events(hass, "serwersms_mms_delivery")
    at = dt_util.utcnow() + timedelta(hours=2)
    await send_mms(hass, MOM, message="later", date=at.isoformat())
    await advance(hass, freezer, 2 * 3600, step=60)
    assert simulator.requests_to(REPORTS) == []  # `saved` until its time: not asked at all
    await advance(hass, freezer, 30)
    assert report_times(simulator, at.timestamp()) == [30]
    assert [e["status"] for e in delivery_events(events)] == ["delivered"]


async def test_a_legacy_notify_number_of_no_recipient_gets_the_bus_event_only(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    events = async_capture_events(hass, "serwersms_mms_delivery")
    changes = async_capture_events(hass, "state_changed")
    stranger = "+48600700800"
    simulator.undeliverable[stranger] = "wrong_number"
    await hass.services.async_call(
        "notify",
        "serwersms",
        {"message": "m", "title": "Hej", "target": [stranger, "500 600 700"]},
        blocking=True,
    )
    await advance(hass, freezer, 30)
    assert sorted(
        (e["phone"], e["entity_id"], e["status"], e["reason"]) for e in delivery_events(events)
    ) == [
        (MOM_PHONE, MOM, "delivered", None),
        (stranger, None, "undelivered", "wrong_number"),
    ]
    assert [e["phone"] for e in entity_events(hass, changes, MOM_DELIVERY)] == [MOM_PHONE]
    assert entity_events(hass, changes, FAMILY_DELIVERY) == []


async def test_a_failed_poll_is_asked_again_at_the_next_interval(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    events = async_capture_events(hass, "serwersms_mms_delivery")
    # The client's quick retries back off on the frozen clock: let them retry at once.
    loaded_entry.runtime_data.client._backoff = 0.0
    await send_mms(hass, MOM, message="m")
    sent = simulator.clock()
    simulator.fail_next(REPORTS, Fault("status", status=503), times=10)
    await advance(hass, freezer, 30)
    assert events == []
    simulator.clear_faults()
    simulator.fail_next(REPORTS, Fault("malformed"), times=10)
    await advance(hass, freezer, 60)
    assert events == []
    simulator.clear_faults()
    simulator.fail_next(REPORTS, Fault("error", code=1000))
    await advance(hass, freezer, 120)
    assert events == []
    simulator.clear_faults()
    await advance(hass, freezer, 240)
    assert [e["status"] for e in delivery_events(events)] == ["delivered"]
    assert sorted({round(t) for t in report_times(simulator, sent)}) == [30, 90, 210, 450]
    assert len(simulator.requests_to(REPORTS)) == 3 + 3 + 1 + 1


async def test_reports_without_a_final_status_keep_the_mms_pending(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    events = async_capture_events(hass, "serwersms_mms_delivery")
    simulator.delivery_delay = 100
    await send_mms(hass, MOM, message="m")
    await advance(hass, freezer, 90)  # `in_progress`, then `sent`: nothing to tell yet
    assert len(simulator.requests_to(REPORTS)) == 2
    assert events == []
    await advance(hass, freezer, 120)
    assert [e["status"] for e in delivery_events(events)] == ["delivered"]


async def test_not_sent_is_reported_through_the_tracker(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    events = async_capture_events(hass, "serwersms_mms_delivery")
    changes = async_capture_events(hass, "state_changed")
    tracker = loaded_entry.runtime_data.delivery
    tracker.async_report_not_sent(MOM_PHONE, "Alarm", "gateway_unreachable")
    tracker.async_report_not_sent("+48600700800", "Alarm", "gateway_unreachable")
    await hass.async_block_till_done()
    assert entity_events(hass, changes, MOM_DELIVERY) == [
        {
            "event_type": "not_sent",
            "message_id": None,
            "phone": MOM_PHONE,
            "title": "Alarm",
            "reason": "gateway_unreachable",
        }
    ]
    assert [(e["entity_id"], e["status"], e["message_id"]) for e in delivery_events(events)] == [
        (MOM, "not_sent", None),
        (None, "not_sent", None),
    ]


async def test_a_recipient_removed_meanwhile_still_gets_the_bus_event(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    events = async_capture_events(hass, "serwersms_mms_delivery")
    await send_mms(hass, MOM, message="m")
    mom = next(sub for sub in loaded_entry.subentries.values() if sub.title == "Mom")
    assert hass.config_entries.async_remove_subentry(loaded_entry, mom.subentry_id)
    await hass.async_block_till_done()
    assert er.async_get(hass).async_get(MOM_DELIVERY) is None
    await advance(hass, freezer, 30)
    assert [(e["entity_id"], e["phone"], e["status"]) for e in delivery_events(events)] == [
        (None, MOM_PHONE, "delivered")
    ]


async def test_unloading_in_the_middle_of_a_poll_keeps_the_mms_pending(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    events = async_capture_events(hass, "serwersms_mms_delivery")
    response = await send_mms(hass, MOM, message="m")
    simulator.fail_next(REPORTS, Fault("hang_after"))
    asked = request_arrives(simulator, REPORTS)
    freezer.tick(timedelta(seconds=30))
    async_fire_time_changed(hass)
    await asked.wait()
    assert len(simulator.requests_to(REPORTS)) == 1  # asked; the gateway holds its answer
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    assert events == []
    stored = hass_storage[DeliveryTracker.storage_key(loaded_entry.entry_id)]["data"]["pending"]
    assert list(stored) == [response[MOM]["recipients"][0]["id"]]
    await advance(hass, freezer, 3600, step=60)
    assert len(simulator.requests_to(REPORTS)) == 1  # an unloaded account asks nothing more
    assert events == []


async def test_an_mms_sent_just_before_a_reload_is_still_followed(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    events = async_capture_events(hass, "serwersms_mms_delivery")
    response = await send_mms(hass, MOM, message="m")
    assert await hass.config_entries.async_reload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    stored = hass_storage[DeliveryTracker.storage_key(loaded_entry.entry_id)]["data"]["pending"]
    assert list(stored) == [response[MOM]["recipients"][0]["id"]]
    await advance(hass, freezer, 30)
    assert [(e["entity_id"], e["status"]) for e in delivery_events(events)] == [(MOM, "delivered")]


async def test_a_previous_runs_overdue_mms_is_reported_right_after_start(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    simulator: SerwerSmsSimulator,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Home Assistant was off while the report came in; one stored item is damaged and skipped."""
    config_entry.add_to_hass(hass)
    client_result = await _send_directly(hass, simulator, MOM_PHONE)
    now = dt_util.utcnow()
    mom = next(sub.subentry_id for sub in config_entry.subentries.values() if sub.title == "Mom")
    hass_storage[DeliveryTracker.storage_key(config_entry.entry_id)] = {
        "version": 1,
        "minor_version": 1,
        "key": DeliveryTracker.storage_key(config_entry.entry_id),
        "data": {
            "pending": {
                client_result: {
                    "phone": MOM_PHONE,
                    "title": "Before the power cut",
                    "recipients": [mom],
                    "last": (now - timedelta(hours=3)).isoformat(),
                    "gap": 600.0,
                    "deadline": (now + timedelta(hours=20)).isoformat(),
                },
                "damaged": {"phone": MOM_PHONE, "last": "yesterday"},
            }
        },
    }
    freezer.tick(timedelta(seconds=5))
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    state = hass.states.get(MOM_DELIVERY)
    assert state is not None
    assert state.attributes["event_type"] == "delivered"
    assert state.attributes["title"] == "Before the power cut"
    assert [r.fields["id"] for r in simulator.requests_to(REPORTS)] == [[client_result]]


async def _send_directly(hass: HomeAssistant, simulator: SerwerSmsSimulator, phone: str) -> str:
    """Queue an MMS on the gateway the way an earlier run of Home Assistant did; its message id."""
    from homeassistant.helpers.aiohttp_client import async_get_clientsession  # noqa: PLC0415

    from custom_components.serwersms.api import SerwerSmsClient  # noqa: PLC0415

    client = SerwerSmsClient(async_get_clientsession(hass), token=TOKEN, base_url=simulator.url)
    result = await client.send_mms([phone], title="t", text="x")
    message_id = result.recipients[0].id
    assert message_id is not None
    return message_id


async def test_removing_the_account_forgets_its_pending_ids(
    hass: HomeAssistant, hass_storage: dict[str, Any], loaded_entry: MockConfigEntry
) -> None:
    await send_mms(hass, MOM, message="m")
    assert await hass.config_entries.async_remove(loaded_entry.entry_id)
    await hass.async_block_till_done()
    assert DeliveryTracker.storage_key(loaded_entry.entry_id) not in hass_storage


async def test_the_first_poll_is_the_contracts_whatever_the_environment(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The product reads no environment: the variable an older demo set changes nothing."""
    monkeypatch.setenv("SERWERSMS_FIRST_REPORT_POLL", "3")
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    await send_mms(hass, MOM, message="m")
    sent = simulator.clock()
    await advance(hass, freezer, 30)
    assert report_times(simulator, sent) == [30]


@pytest.mark.parametrize(
    "recipients", [[("Mom", ["+48500600700"]), ("Family", ["+48500600700", "+48500600702"])]]
)
async def test_a_number_shared_by_two_recipients_reports_to_the_one_that_was_sent_to(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    events = async_capture_events(hass, "serwersms_mms_delivery")
    changes = async_capture_events(hass, "state_changed")
    await send_mms(hass, MOM, message="only Mom")
    await advance(hass, freezer, 30)
    assert [(e["entity_id"], e["phone"]) for e in delivery_events(events)] == [(MOM, MOM_PHONE)]
    assert len(entity_events(hass, changes, MOM_DELIVERY)) == 1
    assert entity_events(hass, changes, FAMILY_DELIVERY) == []
    events.clear()
    await send_mms(hass, [MOM, FAMILY], message="both")
    assert simulator.requests_to("messages/send_mms")[-1].fields["phone"] == [MOM_PHONE, "+48500600702"]
    await advance(hass, freezer, 30)
    assert sorted((e["entity_id"], e["phone"]) for e in delivery_events(events)) == [
        (FAMILY, MOM_PHONE),
        (FAMILY, "+48500600702"),
        (MOM, MOM_PHONE),
    ]
    assert [e["phone"] for e in entity_events(hass, changes, MOM_DELIVERY)] == [MOM_PHONE, MOM_PHONE]
    assert sorted(e["phone"] for e in entity_events(hass, changes, FAMILY_DELIVERY)) == [
        MOM_PHONE,
        "+48500600702",
    ]


async def test_notify_send_message_is_followed_too(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    changes = async_capture_events(hass, "state_changed")
    await hass.services.async_call(
        "notify", "send_message", {"entity_id": FAMILY, "message": "m", "title": "Hej"}, blocking=True
    )
    await advance(hass, freezer, 30)
    shown = entity_events(hass, changes, FAMILY_DELIVERY)
    assert sorted((e["phone"], e["event_type"], e["title"]) for e in shown) == [
        (FAMILY_PHONES[0], "delivered", "Hej"),
        (FAMILY_PHONES[1], "delivered", "Hej"),
    ]


async def test_numbers_the_gateway_did_not_queue_are_not_followed(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    simulator.credits = None
    simulator.delivery_delay = 3600
    numbers = [f"+4851{i:07d}" for i in range(150)]
    # One of the two batches (100 and 50 numbers) is refused: its numbers got nothing to follow.
    simulator.fail_next("messages/send_mms", Fault("error", code=3100))
    await hass.services.async_call("notify", "serwersms", {"message": "m", "target": numbers}, blocking=True)
    sent = {m.id for m in simulator.messages}
    await advance(hass, freezer, 30)
    asked = [i for r in simulator.requests_to(REPORTS) for i in r.fields["id"]]
    assert len(sent) in (50, 100)
    assert sorted(asked) == sorted(sent)


def _readme_automation(alias: str) -> dict[str, Any]:
    """The automation the README shows under `alias`, exactly as printed there."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for block in re.findall(r"```yaml\n(.*?)```", readme, flags=re.S):
        if f"alias: {alias}" in block:
            loaded = yaml.safe_load(block)
            return dict(loaded["automation"][0])
    raise AssertionError(f"no automation {alias!r} in the README")


async def test_the_readme_automation_tells_when_mom_did_not_get_it(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    assert await async_setup_component(hass, "persistent_notification", {})
    assert await async_setup_component(
        hass, "automation", {"automation": [_readme_automation("MMS to Mom not delivered")]}
    )
    await hass.async_block_till_done()
    shown = persistent_notification._async_get_or_create_notifications(hass)
    await send_mms(hass, MOM, title="Alarm", message="delivered: no notification")
    await advance(hass, freezer, 30)
    assert shown == {}
    simulator.undeliverable[MOM_PHONE] = "message_expired"
    await send_mms(hass, MOM, title="Alarm", message="m")
    await advance(hass, freezer, 30)
    [notification] = shown.values()
    assert notification["title"] == "MMS to Mom: undelivered"
    assert notification["message"] == f'"Alarm" to {MOM_PHONE}: message_expired'


async def test_one_poll_at_a_time_even_when_the_gateway_is_slow(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    events = async_capture_events(hass, "serwersms_mms_delivery")
    simulator.fail_next(REPORTS, Fault("hang_after", hold=25))  # the first poll's answer takes 25 s
    await send_mms(hass, MOM, message="first")
    await advance(hass, freezer, 10)
    await send_mms(hass, FAMILY, message="second")  # due at 40 s, too late to join the poll at 30 s
    asked = request_arrives(simulator, REPORTS)
    freezer.tick(timedelta(seconds=20))
    async_fire_time_changed(hass)
    await asked.wait()
    await send_mms(hass, MOM, message="third")  # while the first poll waits for its answer
    for _ in range(25):
        freezer.tick(timedelta(seconds=1))
        async_fire_time_changed(hass)
        await hass.async_block_till_done()
    await advance(hass, freezer, 40)
    assert simulator.most_in_flight[REPORTS] == 1
    assert sorted(e["phone"] for e in delivery_events(events)) == sorted(
        [MOM_PHONE, MOM_PHONE, *FAMILY_PHONES]
    )


async def test_a_number_the_gateway_refused_is_not_followed(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    events = async_capture_events(hass, "serwersms_mms_delivery")
    await hass.services.async_call(
        "notify", "serwersms", {"message": "m", "target": ["+12345678", MOM_PHONE]}, blocking=True
    )
    # The gateway refused the short number (3103) but gave it a message id, as it does.
    refused = [m for m in simulator.messages if m.phone == "+12345678"]
    assert refused == []
    await advance(hass, freezer, 30)
    [asked] = simulator.requests_to(REPORTS)
    assert asked.fields["id"] == [m.id for m in simulator.messages if m.phone == MOM_PHONE]
    assert [e["phone"] for e in delivery_events(events)] == [MOM_PHONE]


async def test_one_failed_request_of_a_poll_does_not_lose_the_others(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    events = async_capture_events(hass, "serwersms_mms_delivery")
    simulator.credits = None
    numbers = [f"+4851{i:07d}" for i in range(1200)]
    await hass.services.async_call("notify", "serwersms", {"message": "m", "target": numbers}, blocking=True)
    simulator.fail_next(REPORTS, Fault("error", code=1000))
    await advance(hass, freezer, 30)
    assert len(simulator.requests_to(REPORTS)) == 3
    assert len(events) == 700  # the 500 of the refused request wait for the next poll
    await advance(hass, freezer, 60)
    assert len(simulator.requests_to(REPORTS)) == 4
    assert sorted(e["phone"] for e in delivery_events(events)) == numbers


async def test_a_poll_that_finds_nothing_final_is_what_a_restart_resumes_from(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The stored schedule moves with each poll: after the 30-s poll the next gap (60 s) is what is kept."""
    simulator.delivery_delay = 3600.0  # still on its way for an hour
    simulator.sent_delay = 3600.0
    sent_at = dt_util.utcnow()
    response = await send_mms(hass, MOM, message="m")
    message_id = response[MOM]["recipients"][0]["id"]
    await advance(hass, freezer, 5)  # stored once, before any poll
    assert hass_storage[DeliveryTracker.storage_key(loaded_entry.entry_id)]["data"]["pending"][message_id]
    await advance(hass, freezer, 30)
    assert len(simulator.requests_to(REPORTS)) == 1
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    stored = hass_storage[DeliveryTracker.storage_key(loaded_entry.entry_id)]["data"]["pending"][message_id]
    assert stored["gap"] == 60.0
    assert datetime.fromisoformat(stored["last"]) > sent_at + timedelta(seconds=20)  # the poll, not the send
