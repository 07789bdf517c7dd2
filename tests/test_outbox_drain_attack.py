"""The overlapped drain under attack: what was read back and uploaded early must never change what is sent.

Each deferred MMS reaches `messages/send_mms` once, in the order deferred, with its own pictures;
refusals and outages of the early upload are told at the MMS's own turn; nothing is left for asyncio
to log. Real simulator over loopback; time moves with the freezer only (no real sleeps).
"""

from __future__ import annotations

from datetime import timedelta
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

from custom_components.serwersms.api import SerwerSmsClient
from serwersms_simulator import Fault, SerwerSmsSimulator

MOM = "notify.mom_mms"
FAMILY = "notify.family_mms"
MOM_PHONE = "+48500600700"
FAMILY_PHONES = ["+48500600701", "+48500600702"]
OUTBOX = "sensor.serwersms_outbox"
SEND = "messages/send_mms"
UPLOAD = "files/add"


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client's own quick retries without their real-time pauses (time moves with the freezer)."""
    defaults = dict(SerwerSmsClient.__init__.__kwdefaults__ or {})
    monkeypatch.setattr(SerwerSmsClient.__init__, "__kwdefaults__", defaults | {"backoff": 0.0})


def real_seconds() -> float:
    """Real time, which the freezer (it patches time.monotonic) leaves alone."""
    return time.clock_gettime(time.CLOCK_MONOTONIC)


async def send(hass: HomeAssistant, target: str = MOM, **data: Any) -> dict[str, Any]:
    response = await hass.services.async_call(
        "serwersms", "send_mms", {"entity_id": target, **data}, blocking=True, return_response=True
    )
    assert response is not None
    return response[target]  # type: ignore[return-value]


async def later(hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float) -> None:
    freezer.tick(timedelta(seconds=seconds))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


def texts(simulator: SerwerSmsSimulator) -> list[str | None]:
    """The texts of the messages the gateway took, one per number, in the order taken."""
    return [m.text for m in simulator.messages]


async def test_a_direct_send_after_the_only_deferred_mms_expired_leaves_the_outbox_working(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    """The gateway answers a direct send just after the only waiting MMS ran out of time (no timer yet).

    The drain that send starts finds nothing left: it must not stay marked as running, or nothing
    deferred afterwards would ever be sent again.
    """
    delivery = async_capture_events(hass, "serwersms_mms_delivery")
    freezer.tick(timedelta(seconds=5))  # off the 30-s ticks of the account
    await simulator.go_offline()
    hass.config_entries.async_update_entry(loaded_entry, options={"outbox_minutes": 1})
    await hass.async_block_till_done()
    await send(hass, message="short-lived", title="Short")  # waits until 65 s
    hass.config_entries.async_update_entry(loaded_entry, options={"outbox_minutes": 15})
    await hass.async_block_till_done()
    await simulator.go_online()
    await later(hass, freezer, 28)  # 33 s: the account's 30-s tick (the next is at 63 s)
    # The drain's try at 35 s is refused (429) after 10 s of gateway time: the next is due at 75 s.
    simulator.fail_next(SEND, Fault("status", status=429, retry_after=60))
    simulator.on_request = lambda request: freezer.tick(timedelta(seconds=10))
    await later(hass, freezer, 2)
    simulator.on_request = None
    assert len(simulator.requests_to(SEND)) == 1
    await later(hass, freezer, 18)  # 63 s: the account's tick; nothing has run out yet
    assert delivery == []
    freezer.tick(timedelta(seconds=3))  # 66 s: its minute is over, and no timer is due before 75 s
    assert (await send(hass, FAMILY, message="direct"))["queued"] == 2
    await hass.async_block_till_done(wait_background_tasks=True)
    assert [(e.data["status"], e.data["title"]) for e in delivery] == [("not_sent", "Short")]
    assert hass.states.get(OUTBOX).state == "0"

    await simulator.go_offline()
    assert (await send(hass, message="next alarm"))["deferred"] == 1
    await simulator.go_online()
    for _ in range(3):
        await later(hass, freezer, 30)
    assert texts(simulator) == ["direct", "direct", "next alarm"]
    assert hass.states.get(OUTBOX).state == "0"
