"""Fallback: an MMS that does not reach a phone is followed, once, by an SMS or a call.

Real Home Assistant, the real simulator over loopback (its number that refuses MMS); time moves with
the freezer at the delivery tracker's own schedule.
"""

from __future__ import annotations

from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
)

from serwersms_simulator import Fault, SerwerSmsSimulator
from serwersms_simulator.server import NO_MMS_NUMBER
from tests.helpers import advance, call_send_mms, client_without_pauses

MOM, OLD_PHONE = "notify.mom_mms", "notify.grandpa_mms"
MOM_PHONE = "+48500600700"


@pytest.fixture
def recipients() -> list[tuple[str, list[str]]]:
    """Mom, and Grandpa whose old phone takes no MMS."""
    return [("Mom", [MOM_PHONE]), ("Grandpa", [NO_MMS_NUMBER])]


@pytest.fixture(autouse=True)
def whole_second(freezer: FrozenDateTimeFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Start on a whole second; the client's quick retries without pauses (the loop's clock is frozen)."""
    freezer.move_to("2026-11-25 12:00:00+00:00")
    client_without_pauses(monkeypatch)


async def alarm(hass: HomeAssistant, target: str | list[str], **data: Any) -> dict[str, Any]:
    return await call_send_mms(hass, target, title="Alarm", message="Ruch przy drzwiach", **data)


async def test_an_mms_the_phone_cannot_take_is_followed_by_one_sms_within_35_s(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    delivery = async_capture_events(hass, "serwersms_mms_delivery")
    simulator.delivery_delay = 40  # the gateway has the `undelivered` report 40 s after the send
    await alarm(hass, [MOM, OLD_PHONE], fallback="sms")
    seconds = 0
    while not simulator.sms and seconds < 120:
        await advance(hass, freezer, 1)
        seconds += 1
    assert 40 <= seconds <= 40 + 35
    assert [(m.phone, m.text) for m in simulator.sms] == [(NO_MMS_NUMBER, "Alarm: Ruch przy drzwiach")]
    # Later polls, restarts of the schedule and Mom's delivered MMS send nothing more.
    await advance(hass, freezer, 3600, step=30)
    assert len(simulator.sms) == 1
    by_channel = {(e.data["phone"], e.data["channel"]): e.data for e in delivery}
    assert by_channel[(NO_MMS_NUMBER, "mms")]["status"] == "undelivered"
    assert by_channel[(NO_MMS_NUMBER, "mms")]["reason"] == "unsupported_number"
    assert by_channel[(NO_MMS_NUMBER, "mms")]["fallback"] is False
    assert by_channel[(NO_MMS_NUMBER, "sms")]["status"] == "delivered"
    assert by_channel[(NO_MMS_NUMBER, "sms")]["fallback"] is True
    assert by_channel[(NO_MMS_NUMBER, "sms")]["entity_id"] == OLD_PHONE
    assert (MOM_PHONE, "sms") not in by_channel  # delivered MMS: never a fallback
    assert hass.states.get("event.grandpa_mms_delivery").attributes["fallback"] is True


async def test_an_mms_not_delivered_in_time_gets_its_call_once_and_is_still_followed(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    delivery = async_capture_events(hass, "serwersms_mms_delivery")
    simulator.delivery_delay = 900  # the phone is off: no report for a quarter of an hour
    await alarm(hass, MOM, fallback="call", fallback_after=100)
    await advance(hass, freezer, 99)
    assert simulator.calls == []
    await advance(hass, freezer, 2)  # at its time, not at the next 30-s poll
    assert [(c.phone, c.text) for c in simulator.calls] == [(MOM_PHONE, "Alarm: Ruch przy drzwiach")]
    await advance(hass, freezer, 1800, step=30)
    assert len(simulator.calls) == 1
    mms = [e.data for e in delivery if e.data["channel"] == "mms"]
    assert [(d["phone"], d["status"]) for d in mms] == [(MOM_PHONE, "delivered")]  # late, but followed


async def test_a_delivered_mms_never_falls_back(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    simulator.delivery_delay = 59
    await alarm(hass, MOM, fallback="sms", fallback_after=60)
    await advance(hass, freezer, 3600, step=10)
    assert simulator.sms == []
    assert simulator.calls == []


async def test_a_fallback_due_during_a_restart_goes_once_after_it(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    """The watch is stored with the pending report: a reload neither loses nor repeats it."""
    simulator.delivery_delay = 30
    await alarm(hass, OLD_PHONE, fallback="sms")
    await advance(hass, freezer, 10)
    assert await hass.config_entries.async_reload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    await advance(hass, freezer, 120)
    assert [m.phone for m in simulator.sms] == [NO_MMS_NUMBER]
    assert await hass.config_entries.async_reload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    await advance(hass, freezer, 3600, step=30)
    assert len(simulator.sms) == 1


async def test_test_sends_never_fall_back(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    await alarm(hass, OLD_PHONE, fallback="sms", test=True)
    await advance(hass, freezer, 600, step=10)
    assert simulator.sms == []


async def test_a_refused_fallback_says_so_in_its_delivery_event(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    """Never silence: the daily limit stops the SMS, and the event says it was not sent."""
    delivery = async_capture_events(hass, "serwersms_mms_delivery")
    hass.config_entries.async_update_entry(loaded_entry, options={"daily_limit": 1})
    await hass.async_block_till_done()
    simulator.delivery_delay = 5
    await alarm(hass, OLD_PHONE, fallback="sms")
    await advance(hass, freezer, 60)
    assert simulator.sms == []
    sms = [e.data for e in delivery if e.data["channel"] == "sms"]
    assert [(d["status"], d["reason"], d["fallback"]) for d in sms] == [
        ("not_sent", "daily_limit_reached", True)
    ]


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"fallback": "fax"}, "invalid_fallback"),
        ({"fallback": "sms", "fallback_after": 59}, "invalid_fallback_after"),
        ({"fallback": "sms", "fallback_after": 3601}, "invalid_fallback_after"),
        ({"fallback": "call", "message": "x" * 500}, "fallback_text_too_long"),
    ],
)
async def test_bad_fallbacks_are_refused_before_any_request(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    data: dict[str, Any],
    key: str,
) -> None:
    before = len(simulator.requests)
    with pytest.raises(ServiceValidationError) as err:
        await call_send_mms(hass, MOM, **{"title": "Alarm", "message": "m", **data})
    assert err.value.translation_key == key
    assert len(simulator.requests) == before


async def test_the_longest_fallback_bounds_are_accepted(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry
) -> None:
    await call_send_mms(hass, MOM, title="A", message="m", fallback="sms", fallback_after=60)
    await call_send_mms(hass, MOM, title="B", message="m", fallback="call", fallback_after=3600)
    assert len(simulator.messages) == 2


async def test_an_mms_with_a_fallback_waits_in_the_outbox_across_a_restart_and_keeps_it(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    """The fallback is written down with the deferred MMS: after a restart and the outage it still goes."""
    simulator.delivery_delay = 5
    await simulator.go_offline()
    response = await alarm(hass, OLD_PHONE, fallback="sms")
    assert response[OLD_PHONE]["deferred"] == 1
    assert await hass.config_entries.async_reload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    await simulator.go_online()
    await advance(hass, freezer, 5)
    assert [m.phone for m in simulator.messages] == [NO_MMS_NUMBER]
    await advance(hass, freezer, 60)
    assert [(m.phone, m.text) for m in simulator.sms] == [(NO_MMS_NUMBER, "Alarm: Ruch przy drzwiach")]


async def test_a_fallback_that_may_have_gone_out_is_never_reported_not_sent(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    """A 5xx on the fallback's send: it may have been sent, so it is `unknown`, not `not_sent`."""
    delivery = async_capture_events(hass, "serwersms_mms_delivery")
    sent = async_capture_events(hass, "serwersms_mms_sent")
    simulator.delivery_delay = 5
    simulator.fail_next("messages/send_sms", Fault("status", status=502))
    await alarm(hass, OLD_PHONE, fallback="sms")
    await advance(hass, freezer, 60)
    assert [e.data["status"] for e in delivery if e.data["channel"] == "sms"] == []
    fallback = [e.data for e in sent if e.data["channel"] == "sms"]
    assert [(d["fallback"], [r["status"] for r in d["recipients"]]) for d in fallback] == [
        (True, ["unknown"])
    ]
