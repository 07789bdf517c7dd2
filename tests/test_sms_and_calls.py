"""SMS and phone calls through the same account: the MMS path's guarantees, by another channel.

Real Home Assistant, the real simulator over loopback; time moves with the freezer.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
)

from serwersms_simulator import SerwerSmsSimulator
from serwersms_simulator.server import NO_ANSWER_NUMBER
from tests.helpers import client_without_pauses, later

MOM, FAMILY, NO_ANSWER = "notify.mom_mms", "notify.family_mms", "notify.sleeper_mms"
MOM_PHONE = "+48500600700"
SMS, VOICE = "messages/send_sms", "messages/send_voice"


@pytest.fixture
def recipients() -> list[tuple[str, list[str]]]:
    """Mom, the family, and someone who never picks up the phone."""
    return [
        ("Mom", [MOM_PHONE]),
        ("Family", ["+48500600701", "+48500600702"]),
        ("Sleeper", [NO_ANSWER_NUMBER]),
    ]


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client's own quick retries without their pauses (time moves with the freezer)."""
    client_without_pauses(monkeypatch)


async def act(hass: HomeAssistant, service: str, target: str | list[str], **data: Any) -> dict[str, Any]:
    response = await hass.services.async_call(
        "serwersms", service, {"entity_id": target, **data}, blocking=True, return_response=True
    )
    assert response is not None
    return dict(response)


async def refused(hass: HomeAssistant, service: str, **data: Any) -> str:
    """The translation key of the refusal of `service` to Mom."""
    with pytest.raises(ServiceValidationError) as err:
        await act(hass, service, MOM, **data)
    assert err.value.translation_domain == "serwersms"
    return str(err.value.translation_key)


async def test_an_sms_keeps_polish_letters_and_is_followed_to_the_phone(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    sent = async_capture_events(hass, "serwersms_mms_sent")
    delivery = async_capture_events(hass, "serwersms_mms_delivery")
    response = await act(hass, "send_sms", [MOM, FAMILY], message="Zażółć gęślą jaźń: alarm")

    assert len(simulator.requests_to(SMS)) == 1  # one send for both entities
    request = simulator.requests_to(SMS)[0].fields
    assert request["utf"] in (True, "1", "true", 1)
    assert "sender" not in request  # no sender name set: ECO
    assert [m.text for m in simulator.sms] == ["Zażółć gęślą jaźń: alarm"] * 3
    assert response[MOM]["queued"] == 1
    assert "files" not in response[MOM]
    assert [r["phone"] for r in response[FAMILY]["recipients"]] == ["+48500600701", "+48500600702"]
    assert [(e.data["channel"], e.data["queued"]) for e in sent] == [("sms", 3)]
    assert hass.states.get("sensor.serwersms_mms_sent_today").state == "3"  # every message counts

    await later(hass, freezer, 30)
    assert {e.data["channel"] for e in delivery} == {"sms"}
    assert sorted(e.data["phone"] for e in delivery) == [MOM_PHONE, "+48500600701", "+48500600702"]
    assert {e.data["status"] for e in delivery} == {"delivered"}
    assert {r.fields["type"] for r in simulator.requests_to("messages/reports")} == {"eco"}
    state = hass.states.get("event.mom_mms_delivery")
    assert state is not None
    assert state.attributes["channel"] == "sms"
    assert state.attributes["fallback"] is False


async def test_a_call_to_three_targets_is_one_request_and_a_missed_call_is_undelivered(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    delivery = async_capture_events(hass, "serwersms_mms_delivery")
    response = await act(hass, "call", [MOM, FAMILY, NO_ANSWER], message="Alarm w domu. Ruch przy drzwiach.")
    assert len(simulator.requests_to(VOICE)) == 1
    assert [c.text for c in simulator.calls] == ["Alarm w domu. Ruch przy drzwiach."] * 4
    assert response[NO_ANSWER]["queued"] == 1

    await later(hass, freezer, 30)
    by_phone = {e.data["phone"]: e.data for e in delivery}
    assert by_phone[NO_ANSWER_NUMBER]["status"] == "undelivered"
    assert by_phone[NO_ANSWER_NUMBER]["reason"] == "missed_call"
    assert by_phone[NO_ANSWER_NUMBER]["entity_id"] == NO_ANSWER
    assert by_phone[MOM_PHONE]["status"] == "delivered"
    assert {e.data["channel"] for e in delivery} == {"call"}
    assert {r.fields["type"] for r in simulator.requests_to("messages/reports")} == {"voice"}


async def test_a_sender_name_makes_the_sms_full_and_its_reports_are_asked_so(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    """The option takes effect on the next send, without a reload."""
    hass.config_entries.async_update_entry(loaded_entry, options={"sms_sender": "DOM"})
    await hass.async_block_till_done()
    await act(hass, "send_sms", MOM, message="x", priority=True)
    fields = simulator.requests_to(SMS)[0].fields
    assert fields["sender"] == "DOM"
    assert fields["speed"] in (True, "1", "true", 1)
    await later(hass, freezer, 30)
    assert [r.fields["type"] for r in simulator.requests_to("messages/reports")] == ["full"]


@pytest.mark.parametrize(
    ("service", "data", "key"),
    [
        ("send_sms", {}, "empty_message"),
        ("send_sms", {"message": "   "}, "empty_message"),
        ("call", {}, "empty_message"),
        ("send_sms", {"message": "x", "flash": True, "priority": True}, "flash_with_priority"),
        ("send_sms", {"message": "x", "priority": True}, "priority_needs_sender"),
        ("send_sms", {"message": "ą" * 403}, "sms_too_long"),
        ("call", {"message": "x" * 501}, "call_text_too_long"),
        ("send_sms", {"message": "x", "cooldown": 86401}, "invalid_cooldown"),
    ],
)
async def test_bad_input_is_refused_in_the_users_language_before_any_request(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    service: str,
    data: dict[str, Any],
    key: str,
) -> None:
    before = len(simulator.requests)
    assert await refused(hass, service, **data) == key
    assert len(simulator.requests) == before
    assert hass.states.get("sensor.serwersms_mms_sent_today").state == "0"


async def test_the_longest_texts_that_fit_are_sent(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry
) -> None:
    """The limits refuse only what is over them."""
    await act(hass, "send_sms", MOM, message="ą" * 402)
    await act(hass, "call", MOM, message="x" * 500)
    assert len(simulator.sms) == 1
    assert len(simulator.calls) == 1


@pytest.mark.parametrize(
    ("service", "kind", "name"), [("call", "voice", "voice calls"), ("send_sms", "eco", "ECO SMS")]
)
async def test_a_service_the_account_lacks_is_refused_before_any_request(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    service: str,
    kind: str,
    name: str,
) -> None:
    simulator.type_credits[kind] = "not_available"
    await loaded_entry.runtime_data.coordinator.async_refresh()
    before = len(simulator.requests)
    with pytest.raises(ServiceValidationError) as err:
        await act(hass, service, MOM, message="x")
    assert err.value.translation_key == "service_not_available"
    assert err.value.translation_placeholders == {"service": name}
    assert len(simulator.requests) == before


async def test_cooldown_and_daily_limit_apply_to_sms(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry
) -> None:
    first = await act(hass, "send_sms", MOM, message="Drzwi", cooldown=600)
    second = await act(hass, "send_sms", MOM, message="Drzwi", cooldown=600)
    assert first[MOM]["queued"] == 1
    assert second[MOM] == {"suppressed": True, "queued": 0, "unsent": 0, "recipients": []}
    # A different text is another tag: it goes.
    await act(hass, "send_sms", MOM, message="Okno", cooldown=600)
    assert len(simulator.sms) == 2

    hass.config_entries.async_update_entry(loaded_entry, options={"daily_limit": 3})
    await hass.async_block_till_done()
    await act(hass, "call", MOM, message="Alarm")  # the third message today
    with pytest.raises(ServiceValidationError) as err:
        await act(hass, "send_sms", MOM, message="Czwarta")
    assert err.value.translation_key == "daily_limit_reached"
    assert len(simulator.sms) == 2


async def test_an_sms_waits_in_the_outbox_and_goes_as_an_sms_once(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    sent = async_capture_events(hass, "serwersms_mms_sent")
    await simulator.go_offline()
    response = await act(hass, "send_sms", MOM, message="Brak prądu", flash=True)
    assert response[MOM]["deferred"] == 1
    assert hass.states.get("sensor.serwersms_outbox").state == "1"
    await simulator.go_online()
    freezer.tick(timedelta(seconds=5))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert [(m.text, m.flash) for m in simulator.sms] == [("Brak prądu", True)]
    assert simulator.messages == []  # not an MMS
    assert [(e.data["channel"], e.data["deferred"], e.data["queued"]) for e in sent] == [("sms", True, 1)]
    await later(hass, freezer, 60)
    assert len(simulator.sms) == 1


async def test_credits_sensors_per_service(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry
) -> None:
    simulator.type_credits["eco"] = 250
    await loaded_entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()
    assert hass.states.get("sensor.serwersms_sms_credits").state == "250"
    assert hass.states.get("sensor.serwersms_call_credits").state == "100"
    await act(hass, "send_sms", FAMILY, message="x")
    assert hass.states.get("sensor.serwersms_sms_credits").state == "248"  # counted down locally
    assert hass.states.get("sensor.serwersms_mms_credits").state == "1000"  # not the MMS credits


@pytest.mark.parametrize("recipients", [[("Mom", [MOM_PHONE])]])
async def test_no_sensor_for_a_service_the_account_lacks(
    hass: HomeAssistant, config_entry: MockConfigEntry, simulator: SerwerSmsSimulator
) -> None:
    simulator.type_credits["voice"] = "not_available"
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    registry = er.async_get(hass)
    assert registry.async_get("sensor.serwersms_sms_credits") is not None
    assert registry.async_get("sensor.serwersms_call_credits") is None


async def test_an_account_that_started_offline_adds_its_service_sensors_at_the_first_answer(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    config_entry: MockConfigEntry,
) -> None:
    await simulator.go_offline()
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get("sensor.serwersms_sms_credits") is None
    await simulator.go_online()
    await config_entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()
    assert hass.states.get("sensor.serwersms_sms_credits").state == "1000"


async def test_pictures_never_go_by_sms(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry
) -> None:
    """The pipeline refuses an SMS given pictures rather than dropping them silently."""
    from custom_components.serwersms.mms.sender import MmsRequest  # noqa: PLC0415

    with pytest.raises(ServiceValidationError) as err:
        await loaded_entry.runtime_data.sender.async_send(
            MmsRequest(phones=[MOM_PHONE], message="m", file_ids=["abc"], channel="sms")
        )
    assert err.value.translation_key == "attachments_mms_only"
    assert simulator.requests_to(SMS) == []
