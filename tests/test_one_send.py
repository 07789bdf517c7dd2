"""One call, one MMS send: several recipient entities, one snapshot, one upload, one send request."""

from __future__ import annotations

from homeassistant.config_entries import ConfigSubentryData
from homeassistant.core import Event, HomeAssistant
from homeassistant.exceptions import HomeAssistantError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from serwersms_simulator import Fault, SerwerSmsSimulator
from tests.conftest import SnapshotCamera, entry_data
from tests.helpers import call_send_mms as send_mms

MOM = "notify.mom_mms"
FAMILY = "notify.family_mms"
NEIGHBOUR = "notify.neighbour_mms"


@pytest.fixture
def recipients() -> list[tuple[str, list[str]]]:
    """Three recipients; +48500600702 is in two of them."""
    return [
        ("Mom", ["+48500600700"]),
        ("Family", ["+48500600701", "+48500600702"]),
        ("Neighbour", ["500 600 702", "+48500600703"]),
    ]


async def test_three_recipients_and_a_camera_are_one_snapshot_one_upload_one_send(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
) -> None:
    events: list[Event] = async_capture_events(hass, "serwersms_mms_sent")
    response = await send_mms(hass, [MOM, FAMILY, NEIGHBOUR], camera="camera.front_door", title="Alarm")
    await hass.async_block_till_done()
    assert front_door.snapshots == 1
    assert len(simulator.requests_to("files/add")) == 1
    sends = simulator.requests_to("messages/send_mms")
    assert len(sends) == 1
    # every number once
    assert sorted(sends[0].fields["phone"]) == [
        "+48500600700",
        "+48500600701",
        "+48500600702",
        "+48500600703",
    ]
    assert sorted(m.phone for m in simulator.messages) == [
        "+48500600700",
        "+48500600701",
        "+48500600702",
        "+48500600703",
    ]
    # each entity sees its own numbers, all of them the same picture
    assert {entity: [r["phone"] for r in body["recipients"]] for entity, body in response.items()} == {
        MOM: ["+48500600700"],
        FAMILY: ["+48500600701", "+48500600702"],
        NEIGHBOUR: ["+48500600702", "+48500600703"],
    }
    assert [response[e]["queued"] for e in (MOM, FAMILY, NEIGHBOUR)] == [1, 2, 2]
    assert len({body["files"][0]["id"] for body in response.values()}) == 1
    shared = next(m.id for m in simulator.messages if m.phone == "+48500600702")
    assert response[FAMILY]["recipients"][1]["id"] == shared
    assert response[NEIGHBOUR]["recipients"][0]["id"] == shared
    # one send, one event, listing every number once
    assert len(events) == 1
    assert [r["phone"] for r in events[0].data["recipients"]] == sends[0].fields["phone"]
    assert events[0].data["queued"] == 4
    for entity_id in (MOM, FAMILY, NEIGHBOUR):
        assert hass.states.get(entity_id).state != "unknown"  # each records that it notified
    assert hass.states.get("sensor.serwersms_mms_credits").state == "996"


async def test_a_number_in_two_targeted_recipients_gets_one_mms(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry
) -> None:
    response = await send_mms(hass, [FAMILY, NEIGHBOUR], message="Water leak")
    assert [m.phone for m in simulator.messages].count("+48500600702") == 1
    assert response[FAMILY]["recipients"][1]["status"] == "queued"
    assert response[NEIGHBOUR]["recipients"][0] == response[FAMILY]["recipients"][1]


async def test_legacy_service_sends_a_repeated_number_once(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry
) -> None:
    await hass.services.async_call("notify", "serwersms", {"message": "all"}, blocking=True)
    await hass.services.async_call(
        "notify", "serwersms", {"message": "m", "target": ["500600700", "+48 500 600 700"]}, blocking=True
    )
    sends = simulator.requests_to("messages/send_mms")
    assert sorted(sends[0].fields["phone"]) == [
        "+48500600700",
        "+48500600701",
        "+48500600702",
        "+48500600703",
    ]
    assert sends[1].fields["phone"] == ["+48500600700"]


async def test_recipients_of_two_accounts_are_one_send_per_account(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
) -> None:
    second = MockConfigEntry(
        domain="serwersms",
        title="Office",
        unique_id="office",
        data=entry_data(simulator),
        subentries_data=[
            ConfigSubentryData(
                subentry_type="recipient",
                title="Guard",
                data={"name": "Guard", "phone": ["+48500600799"]},
                unique_id=None,
            )
        ],
    )
    second.add_to_hass(hass)
    assert await hass.config_entries.async_setup(second.entry_id)
    await hass.async_block_till_done()
    events: list[Event] = async_capture_events(hass, "serwersms_mms_sent")
    response = await send_mms(hass, [MOM, FAMILY, "notify.guard_mms"], message="Fire")
    await hass.async_block_till_done()
    sends = sorted(sorted(r.fields["phone"]) for r in simulator.requests_to("messages/send_mms"))
    assert sends == [["+48500600700", "+48500600701", "+48500600702"], ["+48500600799"]]
    assert {e.data["entry_id"] for e in events} == {loaded_entry.entry_id, second.entry_id}
    assert response["notify.guard_mms"]["recipients"][0]["phone"] == "+48500600799"


async def test_a_failing_account_fails_the_call_after_the_others_are_done(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    simulator.fail_next("messages/send_mms", Fault("error", code=3005))
    with pytest.raises(HomeAssistantError) as err:
        await send_mms(hass, [MOM, FAMILY], message="x")
    assert err.value.translation_key == "mms_not_permitted"
    assert len(simulator.requests_to("messages/send_mms")) == 1


async def test_a_failing_send_listener_never_fails_a_send_that_went_out(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(_sent: object) -> None:
        raise RuntimeError("listener bug")

    heard: list[object] = []
    stop = loaded_entry.runtime_data.announcer.async_add_listener(broken)
    loaded_entry.runtime_data.announcer.async_add_listener(heard.append)
    events: list[Event] = async_capture_events(hass, "serwersms_mms_sent")
    response = await send_mms(hass, MOM, message="x")
    await hass.async_block_till_done()
    assert response[MOM]["queued"] == 1
    assert len(heard) == 1
    assert heard[0].response() == response[MOM]  # type: ignore[attr-defined]
    assert len(events) == 1
    assert events[0].data["deferred"] is False
    assert "A send listener failed" in caplog.text
    stop()
    caplog.clear()
    await send_mms(hass, MOM, message="y")
    assert len(heard) == 2
    assert "A send listener failed" not in caplog.text
