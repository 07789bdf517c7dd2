"""Alarms that end only when a person answers (`serwersms.raise_alarm`, `serwersms.acknowledge`).

Against the simulator over loopback, time moved with the freezer: what reached the simulator (MMS,
SMS, calls, reply listings), the `serwersms_alarm` events and the `Alarm` event entity.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
import logging
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigSubentryData
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.serwersms.storage import storage_key
from serwersms_simulator import SerwerSmsSimulator
from tests.conftest import SnapshotCamera, entry_data
from tests.helpers import later, until

MOM, FAMILY = "notify.mom_mms", "notify.family_mms"
MOM_PHONE, FAMILY_PHONES = "+48500600700", ["+48500600701", "+48500600702"]
STRANGER = "+48600111222"
LADDER: list[dict[str, Any]] = [
    {"recipients": [MOM], "channel": "mms", "wait": 120},
    {"recipients": [FAMILY], "channel": "call", "wait": 300},
]
SENDS = ("messages/send_mms", "messages/send_sms", "messages/send_voice")


def alarm_events(hass: HomeAssistant) -> list[dict[str, Any]]:
    """Every `serwersms_alarm` from now on, as data."""
    seen: list[dict[str, Any]] = []

    @callback
    def fired(event: Event) -> None:
        seen.append(dict(event.data))

    hass.bus.async_listen("serwersms_alarm", fired)
    return seen


async def raise_alarm(hass: HomeAssistant, **data: Any) -> str:
    response = await hass.services.async_call(
        "serwersms", "raise_alarm", data, blocking=True, return_response=True
    )
    assert response is not None
    return str(response["alarm_id"])


async def acknowledge(hass: HomeAssistant, **data: Any) -> list[str]:
    response = await hass.services.async_call(
        "serwersms", "acknowledge", data, blocking=True, return_response=True
    )
    assert response is not None
    return list(response["acknowledged"])  # type: ignore[arg-type]


def sent(simulator: SerwerSmsSimulator) -> tuple[int, int, int]:
    """MMS, SMS and calls the simulator took (one per number)."""
    return len(simulator.messages), len(simulator.sms), len(simulator.calls)


def sends(simulator: SerwerSmsSimulator) -> int:
    return sum(len(simulator.requests_to(endpoint)) for endpoint in SENDS)


def listings(simulator: SerwerSmsSimulator) -> int:
    return len(simulator.requests_to("messages/recived"))


async def tick_by(hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: int, step: int = 10) -> None:
    for _ in range(seconds // step):
        await later(hass, freezer, step)


async def test_a_ladder_escalates_until_a_recipient_replies_then_nothing_more_goes_out(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    freezer: FrozenDateTimeFactory,
) -> None:
    events = alarm_events(hass)
    alarm_id = await raise_alarm(
        hass, title="Burglary", message="The panel was triggered", camera="camera.front_door", steps=LADDER
    )
    await until(hass, lambda: sent(simulator) == (1, 1, 0), "step 1: the MMS and the instruction SMS")
    assert simulator.messages[0].phone == MOM_PHONE
    assert simulator.messages[0].file_ids  # the snapshot
    assert simulator.sms[0].phone == MOM_PHONE
    assert simulator.sms[0].text == "Alarm: Burglary. Reply to this SMS to acknowledge."
    assert simulator.sms[0].type == "eco"
    assert [(e["type"], e["step"], e["alarm_id"]) for e in events] == [("raised", 1, alarm_id)]
    await tick_by(hass, freezer, 110)
    assert sent(simulator) == (1, 1, 0)  # nobody acknowledged, but the wait is not over
    await tick_by(hass, freezer, 20)
    await until(hass, lambda: sent(simulator) == (1, 3, 2), "step 2: calls and instruction SMS to Family")
    assert sorted(call.phone for call in simulator.calls) == FAMILY_PHONES
    assert simulator.calls[0].text == "Burglary: The panel was triggered"
    assert [(e["type"], e["step"]) for e in events] == [("raised", 1), ("escalated", 2)]
    simulator.inject_reply(FAMILY_PHONES[1], "I'm on my way")
    await later(hass, freezer, 10)
    await until(hass, lambda: len(events) == 3, "the acknowledgement")
    assert events[2] == {
        "entry_id": loaded_entry.entry_id,
        "alarm_id": alarm_id,
        "type": "acknowledged",
        "title": "Burglary",
        "step": 2,
        "round": 1,
        "by": "Family",
        "via": "reply",
        "text": "I'm on my way",
    }
    state = hass.states.get("event.serwersms_alarm")
    assert state is not None
    assert state.attributes["event_type"] == "acknowledged"
    assert state.attributes["by"] == "Family"
    before = (sent(simulator), sends(simulator), listings(simulator))
    await tick_by(hass, freezer, 900, step=30)
    assert (sent(simulator), sends(simulator), listings(simulator)) == before  # not a send, not a listing
    assert [e["type"] for e in events] == ["raised", "escalated", "acknowledged"]


async def test_the_acknowledge_action_stops_the_ladder(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    events = alarm_events(hass)
    alarm_id = await raise_alarm(hass, title="Smoke", message="Kitchen", steps=LADDER)
    await until(hass, lambda: sent(simulator) == (1, 1, 0), "step 1")
    assert await acknowledge(hass, alarm_id=alarm_id) == [alarm_id]
    assert events[-1]["type"] == "acknowledged"
    assert events[-1]["via"] == "action"
    assert events[-1]["by"] is None
    await tick_by(hass, freezer, 600, step=60)
    assert sent(simulator) == (1, 1, 0)
    assert listings(simulator) == 0  # acknowledged before the first poll: never asked
    with pytest.raises(ServiceValidationError) as err:
        await acknowledge(hass, alarm_id=alarm_id)
    assert err.value.translation_key == "alarm_not_open"
    with pytest.raises(ServiceValidationError) as err:
        await acknowledge(hass, alarm_id="nonexistent")
    assert err.value.translation_key == "alarm_not_open"
    assert await acknowledge(hass) == []  # disarmed with nothing open: fine


async def test_acknowledge_without_an_id_ends_every_open_alarm_of_the_account(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    first = await raise_alarm(hass, title="One", message="a", steps=LADDER)
    second = await raise_alarm(hass, title="Two", message="b", steps=LADDER)
    assert sorted(await acknowledge(hass, config_entry_id=loaded_entry.entry_id)) == sorted([first, second])
    await tick_by(hass, freezer, 600, step=60)
    assert len(simulator.calls) == 0


async def test_a_reply_from_a_stranger_changes_nothing_and_is_logged_masked(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "custom_components.serwersms")
    events = alarm_events(hass)
    await raise_alarm(hass, title="Flood", message="Basement", steps=LADDER)
    await until(hass, lambda: sent(simulator) == (1, 1, 0), "step 1")
    simulator.inject_reply(STRANGER, "who is this?", message_id=simulator.sms[0].id)
    await later(hass, freezer, 10)
    await until(hass, lambda: listings(simulator) == 1, "a poll")
    assert [e["type"] for e in events] == ["raised"]
    await later(hass, freezer, 10)
    await later(hass, freezer, 10)
    await until(hass, lambda: listings(simulator) == 3, "two more polls")
    assert caplog.text.count("+48*****1222") == 1  # a reply is handled once, not at every poll
    assert STRANGER not in caplog.text
    simulator.inject_reply(MOM_PHONE, "ok")
    await later(hass, freezer, 10)
    await until(hass, lambda: len(events) == 2, "Mom's acknowledgement")
    assert events[1]["by"] == "Mom"
    assert events[1]["text"] == "ok"


async def test_no_requests_at_all_when_no_alarm_is_open(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    def ours() -> int:
        return len([r for r in simulator.requests if r.endpoint != "account/limits"])

    before = ours()
    await tick_by(hass, freezer, 3600, step=60)
    assert ours() == before
    assert listings(simulator) == 0
    # Once the only alarm is acknowledged, the listing stops too.
    await raise_alarm(hass, title="Door", message="open", steps=LADDER)
    await later(hass, freezer, 10)
    await until(hass, lambda: listings(simulator) == 1, "a poll while open")
    await acknowledge(hass)
    settled = listings(simulator), sends(simulator)
    await tick_by(hass, freezer, 3600, step=60)
    assert (listings(simulator), sends(simulator)) == settled  # (the step's delivery reports go on)


async def test_replies_are_polled_every_10_seconds_while_an_alarm_is_open(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    await raise_alarm(
        hass, title="Door", message="open", steps=[{"recipients": [MOM], "channel": "sms", "wait": 3600}]
    )
    await until(hass, lambda: len(simulator.sms) == 1, "step 1")
    assert listings(simulator) == 0
    for polls in range(1, 7):
        await later(hass, freezer, 5)
        assert listings(simulator) == polls - 1  # not before its 10 s
        await later(hass, freezer, 5)
        await until(hass, lambda polls=polls: listings(simulator) == polls, f"poll {polls}")  # type: ignore[misc]
    request = simulator.requests_to("messages/recived")[0]
    assert request.fields["type"] == "eco"
    assert request.fields["date_from"]


async def test_a_reload_mid_ladder_resumes_it_and_sends_nothing_twice(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    freezer: FrozenDateTimeFactory,
) -> None:
    events = alarm_events(hass)
    alarm_id = await raise_alarm(
        hass, title="Burglary", message="x", camera="camera.front_door", steps=LADDER
    )
    await until(hass, lambda: sent(simulator) == (1, 1, 0), "step 1")
    await later(hass, freezer, 60)
    assert await hass.config_entries.async_reload(loaded_entry.entry_id)
    await hass.async_block_till_done(
        wait_background_tasks=True
    )  # the start's own requests end before time moves
    await later(hass, freezer, 30)
    assert sent(simulator) == (1, 1, 0)  # step 1 not sent again
    await tick_by(hass, freezer, 40)
    await until(hass, lambda: sent(simulator) == (1, 3, 2), "step 2 at its original deadline")
    await tick_by(hass, freezer, 300, step=30)
    await until(hass, lambda: events[-1]["type"] == "expired", "expired")
    assert [e["type"] for e in events] == ["raised", "escalated", "expired"]
    assert events[-1]["alarm_id"] == alarm_id
    assert sent(simulator) == (1, 3, 2)


async def test_a_deadline_that_passed_while_home_assistant_was_down_escalates_at_start(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    events = alarm_events(hass)
    await raise_alarm(hass, title="Smoke", message="Hall", steps=LADDER)
    await until(hass, lambda: sent(simulator) == (1, 1, 0), "step 1")
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    freezer.tick(timedelta(seconds=500))
    assert await hass.config_entries.async_setup(loaded_entry.entry_id)
    await until(hass, lambda: sent(simulator) == (1, 3, 2), "step 2 at start")
    assert [e["type"] for e in events] == ["raised", "escalated"]


async def test_a_step_left_half_sent_by_a_crash_is_not_sent_again(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    simulator: SerwerSmsSimulator,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    config_entry.add_to_hass(hass)
    mom = next(sub.subentry_id for sub in config_entry.subentries.values() if sub.title == "Mom")
    now = dt_util.utcnow()
    hass_storage[storage_key(config_entry.entry_id, "alarms")] = {
        "version": 1,
        "minor_version": 1,
        "key": storage_key(config_entry.entry_id, "alarms"),
        "data": {
            "alarms": {
                "abc": {
                    "title": "Crash",
                    "message": "m",
                    "pictures": {},
                    "steps": [{"recipients": [mom], "channel": "sms", "wait": 60}],
                    "repeat": 1,
                    "language": "en",
                    "started": now.isoformat(),
                    "position": 0,
                    "deadline": "2099-01-01T00:00:00+00:00",
                    "finished": False,
                    "sms_ids": [],
                    "texts": [],
                }
            },
            "seen": [],
        },
    }
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done(
        wait_background_tasks=True
    )  # the start's own requests end before time moves
    assert "is not sent again" in caplog.text
    await later(hass, freezer, 30)
    assert sends(simulator) == 0


async def test_repeat_runs_the_ladder_again_then_it_expires(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    events = alarm_events(hass)
    await raise_alarm(
        hass,
        title="Water",
        message="Leak",
        steps=[{"recipients": [MOM], "channel": "sms", "wait": 10}],
        repeat=2,
    )
    await until(hass, lambda: len(simulator.sms) == 1, "round 1")
    # An SMS step is one SMS: its text carries the instruction.
    assert simulator.sms[0].text == "Alarm: Water. Reply to this SMS to acknowledge.\nLeak"
    await later(hass, freezer, 10)
    await until(hass, lambda: len(simulator.sms) == 2, "round 2")
    await later(hass, freezer, 10)
    await until(hass, lambda: len(simulator.sms) == 3, "round 3")
    await later(hass, freezer, 10)
    await until(hass, lambda: events[-1]["type"] == "expired", "expired")
    assert [(e["type"], e["round"]) for e in events] == [
        ("raised", 1),
        ("escalated", 2),
        ("escalated", 3),
        ("expired", 3),
    ]
    state = hass.states.get("event.serwersms_alarm")
    assert state is not None
    assert state.attributes["event_type"] == "expired"
    await tick_by(hass, freezer, 120)
    assert len(simulator.sms) == 3


async def test_the_instruction_is_in_polish_when_home_assistant_speaks_polish(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry
) -> None:
    hass.config.language = "pl"
    await raise_alarm(hass, title="Pożar", message="Kuchnia", steps=LADDER)
    await until(hass, lambda: len(simulator.sms) == 1, "step 1")
    assert simulator.sms[0].text == "Alarm: Pożar. Odpowiedz na tego SMS-a, aby potwierdzić."


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"steps": []}, "alarm_no_steps"),
        ({}, "alarm_no_steps"),
        ({"steps": ["notify.mom_mms"]}, "alarm_step_invalid"),
        ({"steps": [{"recipients": [], "channel": "sms"}]}, "alarm_step_no_recipients"),
        ({"steps": [{"recipients": ["notify.nobody"], "channel": "sms"}]}, "alarm_recipient_invalid"),
        ({"steps": [{"recipients": ["event.mom_mms_delivery"]}]}, "alarm_recipient_invalid"),
        ({"steps": [{"recipients": [MOM], "channel": "fax"}]}, "alarm_channel_invalid"),
        ({"steps": [{"recipients": [MOM], "wait": 9}]}, "alarm_wait_out_of_range"),
        ({"steps": [{"recipients": [MOM], "wait": 3601}]}, "alarm_wait_out_of_range"),
        ({"steps": [{"recipients": [MOM], "wait": "soon"}]}, "alarm_wait_out_of_range"),
        ({"steps": [{"recipients": [MOM]}], "repeat": 6}, "alarm_repeat_out_of_range"),
        ({"steps": [{"recipients": [MOM]}], "repeat": -1}, "alarm_repeat_out_of_range"),
        ({"steps": [{"recipients": [MOM]}], "repeat": 1.5}, "alarm_repeat_out_of_range"),
        ({"steps": [{"recipients": [MOM]}], "title": "x" * 41}, "title_too_long"),
        ({"steps": [{"recipients": [MOM], "channel": "mms"}], "message": ""}, "empty_message"),
        ({"steps": [{"recipients": [MOM], "channel": "call"}], "message": "x" * 600}, "call_text_too_long"),
        ({"steps": [{"recipients": [MOM]}], "camera": "camera.nope"}, "camera_not_found"),
    ],
)
async def test_bad_input_is_refused_before_any_request(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    data: dict[str, Any],
    key: str,
) -> None:
    before = len(simulator.requests)
    data = {"message": "m", **data}
    with pytest.raises(ServiceValidationError) as err:
        await raise_alarm(hass, **data)
    assert err.value.translation_key == key
    assert err.value.translation_domain == "serwersms"
    await hass.async_block_till_done()
    assert len(simulator.requests) == before
    assert hass.states.get("event.serwersms_alarm").state == "unknown"  # type: ignore[union-attr]


async def test_a_recipient_of_another_account_is_refused(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry
) -> None:
    other = MockConfigEntry(
        domain="serwersms",
        title="Other",
        unique_id="other-account",
        version=1,
        minor_version=2,
        data=entry_data(simulator, legacy_service="serwersms_other"),
        subentries_data=[
            ConfigSubentryData(
                subentry_type="recipient",
                title="Dad",
                data={"name": "Dad", "phone": ["+48500600799"]},
                unique_id=None,
            )
        ],
    )
    other.add_to_hass(hass)
    assert await hass.config_entries.async_setup(other.entry_id)
    await hass.async_block_till_done()
    before = len(simulator.requests)
    with pytest.raises(ServiceValidationError) as err:
        await raise_alarm(
            hass,
            config_entry_id=loaded_entry.entry_id,
            message="m",
            steps=[{"recipients": [MOM]}, {"recipients": ["notify.dad_mms"], "channel": "sms"}],
        )
    assert err.value.translation_key == "alarm_recipient_invalid"
    assert len(simulator.requests) == before


async def test_thousands_of_replies_on_the_account_are_paged_and_older_ones_never_asked(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    for i in range(3000):
        simulator.inject_reply(f"+48601{i:06d}", f"old {i}", message_id="0000000000")
    freezer.tick(timedelta(hours=2))
    events = alarm_events(hass)
    await raise_alarm(hass, title="Gas", message="Garage", steps=LADDER)
    await until(hass, lambda: sent(simulator) == (1, 1, 0), "step 1")
    for i in range(250):
        simulator.inject_reply(f"+48602{i:06d}", f"new {i}", message_id="1111111111")
    simulator.inject_reply(MOM_PHONE, "seen it")  # the 251st newer reply: on page 3
    await later(hass, freezer, 10)
    await until(hass, lambda: len(events) == 2, "the acknowledgement on page 3")
    assert events[1]["by"] == "Mom"
    assert [r.fields["page"] for r in simulator.requests_to("messages/recived")] == [1, 2, 3]


async def test_an_acknowledgement_while_a_step_is_being_marked_started_stops_that_step(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    events = alarm_events(hass)
    await raise_alarm(hass, title="Race", message="m", steps=LADDER)
    await until(hass, lambda: sent(simulator) == (1, 1, 0), "step 1")
    await tick_by(hass, freezer, 110)
    # A slow disk: the store's writes wait until the test lets them through.
    store = loaded_entry.runtime_data.alarms._store
    written = store.async_save
    disk = asyncio.Event()

    async def slow_save(data: Any) -> None:
        await disk.wait()
        await written(data)

    monkeypatch.setattr(store, "async_save", slow_save)
    freezer.tick(timedelta(seconds=10))
    async_fire_time_changed(hass)  # step 2 is due: its started mark is being written …
    await acknowledge(hass)  # … when the acknowledgement comes
    disk.set()
    await hass.async_block_till_done(wait_background_tasks=True)
    await tick_by(hass, freezer, 600, step=60)
    assert sent(simulator) == (1, 1, 0)
    assert [e["type"] for e in events] == ["raised", "acknowledged"]


async def test_a_reply_to_an_instruction_sms_that_waited_in_the_outbox_acknowledges_the_alarm(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The gateway is down when the alarm is raised: its SMS goes when the gateway is back, and a reply
    to that SMS (whose id the alarm only learns then) ends the alarm before the next step."""
    events = alarm_events(hass)
    await simulator.go_offline()
    alarm_id = await raise_alarm(
        hass,
        title="Flood",
        message="Water in the cellar",
        steps=[
            {"recipients": [MOM], "channel": "sms", "wait": 120},
            {"recipients": [FAMILY], "channel": "call", "wait": 120},
        ],
    )
    outbox = loaded_entry.runtime_data.outbox
    await until(hass, lambda: len(outbox) == 1, "the step's SMS waiting in the outbox")
    assert sent(simulator) == (0, 0, 0)
    await simulator.go_online()
    await later(hass, freezer, 5)  # the outbox's probe finds the gateway
    await until(hass, lambda: sent(simulator) == (0, 1, 0), "the SMS from the outbox")
    simulator.inject_reply(MOM_PHONE, "ok, going home")  # to that SMS (its id is the reply's message_id)
    await later(hass, freezer, 10)
    await until(hass, lambda: events[-1]["type"] == "acknowledged", "the acknowledgement")
    assert events[-1]["alarm_id"] == alarm_id
    assert (events[-1]["by"], events[-1]["via"]) == ("Mom", "reply")
    await tick_by(hass, freezer, 300, step=30)
    assert sent(simulator) == (0, 1, 0)  # step 2 never called Family
