"""The outbox: MMS that never reached the gateway wait on disk and go out once it answers again."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
)
from pytest_homeassistant_custom_component.components.diagnostics import get_diagnostics_for_config_entry

from serwersms_simulator import Fault, SerwerSmsSimulator
from tests.conftest import SnapshotCamera
from tests.helpers import client_without_pauses, later, outbox_files, send

MOM = "notify.mom_mms"
FAMILY = "notify.family_mms"
MOM_PHONE = "+48500600700"
OUTBOX = "sensor.serwersms_outbox"


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client's own quick retries without their pauses (time moves with the freezer)."""
    client_without_pauses(monkeypatch)


async def restart(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Stop the account and start it again, as a Home Assistant restart does."""
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_an_outage_with_a_restart_loses_and_duplicates_nothing(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    freezer: FrozenDateTimeFactory,
) -> None:
    sent = async_capture_events(hass, "serwersms_mms_sent")
    await simulator.go_offline()
    for i in range(50):  # one every 12 s: ten minutes of outage
        if i == 25:
            await restart(hass, loaded_entry)
            assert loaded_entry.state is ConfigEntryState.LOADED
        response = await send(hass, message=f"alarm {i}", camera="camera.front_door")
        assert response == {
            "queued": 0,
            "unsent": 0,
            "deferred": 1,
            "recipients": [{"phone": MOM_PHONE, "status": "deferred"}],
            "files": [],
        }
        await later(hass, freezer, 12)
    assert hass.states.get(OUTBOX).state == "50"
    assert len(outbox_files(hass, loaded_entry)) == 50
    assert not sent
    assert simulator.messages == []

    await simulator.go_online()
    await later(hass, freezer, 30)

    assert [m.text for m in simulator.messages] == [f"alarm {i}" for i in range(50)]
    assert {m.phone for m in simulator.messages} == {MOM_PHONE}
    assert all(len(m.file_ids) == 1 for m in simulator.messages)
    assert len(simulator.processed_sends) == 50
    assert [e.data["deferred"] for e in sent] == [True] * 50
    assert all(e.data["queued"] == 1 for e in sent)
    assert hass.states.get(OUTBOX).state == "0"
    assert outbox_files(hass, loaded_entry) == []
    # Later ticks find nothing to send; each drained MMS is followed until the phone reports it.
    delivery = async_capture_events(hass, "serwersms_mms_delivery")
    for _ in range(4):
        await later(hass, freezer, 30)
    assert len(simulator.processed_sends) == 50
    ids = [e.data["recipients"][0]["id"] for e in sent]
    assert sorted(e.data["message_id"] for e in delivery) == sorted(ids)
    assert {(e.data["status"], e.data["entity_id"]) for e in delivery} == {("delivered", MOM)}


async def test_a_second_outage_during_the_drain_loses_and_duplicates_nothing(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    await simulator.go_offline()
    for i in range(10):
        await send(hass, message=f"alarm {i}")
    # Back, and down again right after the fourth send of the drain.
    simulator.sends_until_outage = 4
    await simulator.go_online()
    await later(hass, freezer, 30)
    await simulator.go_offline()
    assert [m.text for m in simulator.messages] == [f"alarm {i}" for i in range(4)]
    assert hass.states.get(OUTBOX).state == "6"

    await later(hass, freezer, 30)  # still down
    await simulator.go_online()
    await later(hass, freezer, 30)
    assert [m.text for m in simulator.messages] == [f"alarm {i}" for i in range(10)]
    assert hass.states.get(OUTBOX).state == "0"


@pytest.mark.parametrize(("after_start", "down_for"), [(0, 0), (3, 7), (1, 61), (4, 600)])
async def test_the_gateway_s_return_is_noticed_within_10_s_and_nothing_is_tried_while_down(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,  # before the account: its timers then run on the frozen clock
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    after_start: int,
    down_for: int,
) -> None:
    """Contract *Outbox*: the return is noticed within 10 s; while down, no upload and no send is tried.

    Only the probe (a HEAD to the gateway's host, which asks the account nothing) runs while it waits.
    """

    async def seconds_pass(seconds: int) -> None:
        # A second at a time, so each timer runs when it is due, not late on a jump of the clock.
        for _ in range(seconds):
            await later(hass, freezer, 1)

    await seconds_pass(after_start)
    await simulator.go_offline()
    await send(hass, message="alarm")
    await seconds_pass(down_for)
    await simulator.go_online()
    tries_before = len(simulator.requests)

    waited = 0
    while not simulator.messages and waited < 10:
        await seconds_pass(1)
        waited += 1
    assert [m.text for m in simulator.messages] == ["alarm"]
    assert hass.states.get(OUTBOX).state == "0"
    # What reached the gateway after its return: the send itself and nothing before it.
    assert [r.endpoint for r in simulator.requests[tries_before:]] == ["messages/send_mms"]


async def test_no_probe_runs_when_nothing_waits(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Nothing waiting: no timer asks anything (and after the drain the probing stops)."""
    probes: list[float] = []
    client = loaded_entry.runtime_data.client
    real_reachable = client.reachable

    async def counted(wait: float) -> bool:
        probes.append(wait)
        return await real_reachable(wait)

    monkeypatch.setattr(client, "reachable", counted)
    for _ in range(60):
        await later(hass, freezer, 1)
    assert probes == []
    await simulator.go_offline()
    await send(hass, message="alarm")
    for _ in range(16):
        await later(hass, freezer, 1)
    assert len(probes) == 3  # every 5 s while it waits
    await simulator.go_online()
    for _ in range(5):
        await later(hass, freezer, 1)
    assert [m.text for m in simulator.messages] == ["alarm"]
    count = len(probes)
    for _ in range(60):
        await later(hass, freezer, 1)
    assert len(probes) == count


async def test_an_mms_still_waiting_after_outbox_minutes_is_reported_not_sent(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    delivery = async_capture_events(hass, "serwersms_mms_delivery")
    await simulator.go_offline()
    response = await send(hass, FAMILY, title="Alarm", message="smoke")
    assert response["deferred"] == 2
    for _ in range(29):  # 14.5 minutes: still waiting
        await later(hass, freezer, 30)
    assert hass.states.get(OUTBOX).state == "1"
    assert delivery == []
    await later(hass, freezer, 30)
    assert hass.states.get(OUTBOX).state == "0"
    assert [e.data for e in delivery] == [
        {
            "entry_id": loaded_entry.entry_id,
            "entity_id": FAMILY,
            "message_id": None,
            "phone": phone,
            "status": "not_sent",
            "reason": "gateway_unreachable",
            "title": "Alarm",
            "channel": "mms",
            "fallback": False,
        }
        for phone in ("+48500600701", "+48500600702")
    ]
    assert outbox_files(hass, loaded_entry) == []
    await simulator.go_online()
    await later(hass, freezer, 30)
    assert simulator.messages == []


async def test_unknown_outcomes_and_test_sends_are_never_deferred(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry
) -> None:
    loaded_entry.runtime_data.client._timeout = aiohttp.ClientTimeout(total=0.3)
    simulator.fail_next("messages/send_mms", Fault("hang_after", hold=2))
    with pytest.raises(HomeAssistantError) as unknown:
        await send(hass, message="maybe out")
    assert unknown.value.translation_key == "outcome_unknown"
    simulator.fail_next("messages/send_mms", Fault("status", status=503))
    with pytest.raises(HomeAssistantError) as server_error:
        await send(hass, message="maybe out too")
    assert server_error.value.translation_key == "outcome_unknown"
    await simulator.go_offline()
    with pytest.raises(HomeAssistantError) as test_send:
        await send(hass, message="just a test", test=True)
    assert test_send.value.translation_key == "cannot_connect"
    assert hass.states.get(OUTBOX).state == "0"
    assert outbox_files(hass, loaded_entry) == []
    # Each went to the gateway once and waits nowhere to be repeated.
    assert [r.fields["text"] for r in simulator.requests_to("messages/send_mms")] == [
        "maybe out",
        "maybe out too",
    ]


async def test_without_an_outbox_an_unreachable_gateway_fails_the_call(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry
) -> None:
    hass.config_entries.async_update_entry(loaded_entry, options={"outbox_minutes": 0})
    await hass.async_block_till_done()
    await simulator.go_offline()
    with pytest.raises(HomeAssistantError) as err:
        await send(hass, message="alarm")
    assert err.value.translation_key == "cannot_connect"
    assert hass.states.get(OUTBOX).state == "0"


async def test_an_account_loads_while_the_gateway_cannot_be_reached(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    await simulator.go_offline()
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.LOADED
    assert hass.states.get(MOM).state != STATE_UNAVAILABLE
    assert hass.states.get("sensor.serwersms_mms_credits").state == STATE_UNAVAILABLE
    assert (await send(hass, message="power is back"))["deferred"] == 1

    polls = len(simulator.requests_to("account/limits"))

    await simulator.go_online()
    await later(hass, freezer, 30)
    assert [m.text for m in simulator.messages] == ["power is back"]
    # The drain got through: the credits are asked for once then, not an hour later.
    assert len(simulator.requests_to("account/limits")) == polls + 1
    assert hass.states.get("sensor.serwersms_mms_credits").state == "999"
    await send(hass, message="all fine")
    await later(hass, freezer, 60)
    assert hass.states.get("sensor.serwersms_mms_credits").state == "998"  # counted, not asked
    assert len(simulator.requests_to("account/limits")) == polls + 1
    await later(hass, freezer, 3600)
    assert len(simulator.requests_to("account/limits")) == polls + 2  # then hourly again


async def test_after_an_outage_the_credits_are_asked_for_once_however_many_mms_drain(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    await simulator.go_offline()
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    for i in range(5):
        assert (await send(hass, message=f"alarm {i}"))["deferred"] == 1
    polls = len(simulator.requests_to("account/limits"))
    await simulator.go_online()
    await later(hass, freezer, 30)
    assert len(simulator.messages) == 5
    assert len(simulator.requests_to("account/limits")) == polls + 1
    assert hass.states.get("sensor.serwersms_mms_credits").state != STATE_UNAVAILABLE
    # Sends that come back together after another outage: still one poll for them all.
    await simulator.go_offline()
    await later(hass, freezer, 3600)
    assert hass.states.get("sensor.serwersms_mms_credits").state == STATE_UNAVAILABLE
    await simulator.go_online()
    await asyncio.gather(*(send(hass, target, message="together") for target in (MOM, FAMILY) * 3))
    await hass.async_block_till_done()
    assert len(simulator.requests_to("account/limits")) == polls + 2
    polls += 1
    # A poll the gateway answers with an error is not one it could not be reached for.
    simulator.fail_next("account/limits", Fault("error", code=1005))
    await later(hass, freezer, 3600)
    assert hass.states.get("sensor.serwersms_mms_credits").state == STATE_UNAVAILABLE
    await send(hass, message="after the refusal")
    await hass.async_block_till_done()
    assert len(simulator.requests_to("account/limits")) == polls + 2


async def test_a_send_cut_off_by_a_restart_is_reported_and_never_repeated(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    sent = async_capture_events(hass, "serwersms_mms_sent")
    await simulator.go_offline()
    await send(hass, message="alarm")
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    # Home Assistant died with the send request out: the file is left marked as being sent.
    (waiting,) = outbox_files(hass, loaded_entry)
    waiting.rename(waiting.with_suffix(".sending"))
    await simulator.go_online()
    assert await hass.config_entries.async_setup(loaded_entry.entry_id)
    await hass.async_block_till_done(
        wait_background_tasks=True
    )  # the start's own requests end before time moves
    await later(hass, freezer, 30)
    assert simulator.messages == []
    assert [(e.data["deferred"], e.data["recipients"][0]["status"]) for e in sent] == [(True, "unknown")]
    assert hass.states.get(OUTBOX).state == "0"
    assert outbox_files(hass, loaded_entry) == []


async def test_diagnostics_count_what_waits_without_naming_a_number(
    hass: HomeAssistant,
    hass_client: Any,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    assert (await send(hass, message="before"))["queued"] == 1
    await simulator.go_offline()
    await send(hass, message="one")
    await send(hass, FAMILY, message="two")
    assert await async_setup_component(hass, "diagnostics", {})
    await simulator.go_online()  # the diagnostics download is served by Home Assistant, not the gateway
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, loaded_entry)
    assert diagnostics["outbox_waiting"] == 2
    assert diagnostics["mms_sent_today"] == 4  # one queued, three numbers deferred
    assert diagnostics["delivery_pending"] == 1
    for number in (MOM_PHONE, "+48500600701", "+48500600702", "500600700"):
        assert number not in repr(diagnostics)


async def test_any_answer_from_the_gateway_starts_the_drain_at_once(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A credits poll that gets through ends the wait: the MMS goes without waiting for the next probe."""
    await simulator.go_offline()
    await send(hass, message="alarm")
    await simulator.go_online()
    monkeypatch.setattr(loaded_entry.runtime_data.client, "reachable", _never_answered)
    await loaded_entry.runtime_data.coordinator.async_refresh()  # the gateway answers this one
    await hass.async_block_till_done(wait_background_tasks=True)
    assert [m.text for m in simulator.messages] == ["alarm"]
    assert hass.states.get(OUTBOX).state == "0"


async def _never_answered(_wait: float) -> bool:
    return False
