"""The escalation blueprint: alarm snapshot to one recipient, someone else when it is not delivered."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
import shutil
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.automation.config import AUTOMATION_BLUEPRINT_SCHEMA
from homeassistant.components.blueprint import BlueprintInputs, MissingInput
from homeassistant.components.blueprint.models import Blueprint
from homeassistant.core import HomeAssistant
from homeassistant.helpers import selector
from homeassistant.setup import async_setup_component
from homeassistant.util import yaml as yaml_util
import probatio as vol
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from serwersms_simulator import SerwerSmsSimulator
from tests.conftest import SnapshotCamera
from tests.waiting import bus_event

ROOT = Path(__file__).resolve().parents[1]
BLUEPRINT = ROOT / "blueprints/automation/serwersms/escalate_undelivered_alarm.yaml"
MOM_PHONE = "+48500600700"
INPUTS: dict[str, Any] = {
    "alarm_sensor": "binary_sensor.alarm",
    "camera": "camera.front_door",
    "recipient": "notify.mom_mms",
    "delivery_entity": "event.mom_mms_delivery",
    "title": "Alarm!",
    "wait_minutes": 5,
    "escalation": [
        {
            "action": "serwersms.send_mms",
            "target": {"entity_id": "notify.family_mms"},
            "data": {"title": "{{ mms_title }}", "message": "Mom did not get: {{ mms_message }}"},
        }
    ],
}


def load_blueprint() -> Blueprint:
    return Blueprint(
        yaml_util.load_yaml_dict(BLUEPRINT), expected_domain="automation", schema=AUTOMATION_BLUEPRINT_SCHEMA
    )


def test_the_blueprint_loads_and_its_inputs_validate() -> None:
    blueprint = load_blueprint()
    assert blueprint.validate() is None
    inputs = BlueprintInputs(blueprint, {"use_blueprint": {"path": "x.yaml", "input": INPUTS}})
    inputs.validate()
    for name, spec in blueprint.inputs.items():
        value = inputs.inputs_with_default[name]
        selector.selector(spec["selector"])(value)
    without = {key: value for key, value in INPUTS.items() if key != "delivery_entity"}
    with pytest.raises(MissingInput):
        BlueprintInputs(blueprint, {"use_blueprint": {"path": "x.yaml", "input": without}}).validate()
    with pytest.raises(vol.Invalid):
        selector.selector(blueprint.inputs["wait_minutes"]["selector"])(0)


async def _set_up(hass: HomeAssistant, **inputs: Any) -> None:
    target = Path(hass.config.path("blueprints/automation/serwersms"))
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(BLUEPRINT, target)
    hass.states.async_set("binary_sensor.alarm", "off")
    assert await async_setup_component(
        hass,
        "automation",
        {"automation": {"use_blueprint": {"path": f"serwersms/{BLUEPRINT.name}", "input": INPUTS | inputs}}},
    )
    await hass.async_block_till_done()


async def _advance(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, entry: MockConfigEntry, seconds: int
) -> None:
    """Let time pass second by second, finishing each delivery poll the tick starts.

    (Not `async_block_till_done`: the automation's run waits on the frozen clock, and it would wait
    for that run forever.)
    """
    for _ in range(seconds):
        freezer.tick(timedelta(seconds=1))
        async_fire_time_changed(hass)
        await asyncio.sleep(0)  # one loop turn (not a pause): what the tick made ready runs in its second
        polls = [task for task in entry._background_tasks if not task.done()]
        if polls:
            await asyncio.wait(polls)


async def _alarm(hass: HomeAssistant, simulator: SerwerSmsSimulator) -> None:
    """Trip the alarm and wait until the automation has its send's answer (its wait starts then)."""
    sent = bus_event(hass, "serwersms_mms_sent")
    hass.states.async_set("binary_sensor.alarm", "on")
    await sent
    assert [r.fields["phone"] for r in simulator.requests_to("messages/send_mms")] == [[MOM_PHONE]]


async def test_an_undelivered_alarm_goes_to_someone_else_after_the_wait(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    freezer: FrozenDateTimeFactory,
) -> None:
    simulator.undeliverable[MOM_PHONE] = "wrong_number"
    await _set_up(hass)
    await _alarm(hass, simulator)
    await _advance(hass, freezer, loaded_entry, 5 * 60 - 1)
    assert len(simulator.requests_to("messages/send_mms")) == 1
    state = hass.states.get("event.mom_mms_delivery")
    assert state is not None
    assert state.attributes["event_type"] == "undelivered"
    # The wait began a few loop turns after the send's answer: give the timeout a few seconds.
    escalated = bus_event(hass, "serwersms_mms_sent")
    await _advance(hass, freezer, loaded_entry, 10)
    await escalated
    sends = simulator.requests_to("messages/send_mms")
    assert [r.fields["phone"] for r in sends] == [[MOM_PHONE], ["+48500600701", "+48500600702"]]
    assert sends[1].fields["title"] == "Alarm!"
    assert sends[1].fields["text"].startswith("Mom did not get: Alarm at ")


async def test_a_delivered_alarm_needs_no_escalation(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    freezer: FrozenDateTimeFactory,
) -> None:
    await _set_up(hass)
    await _alarm(hass, simulator)
    await _advance(hass, freezer, loaded_entry, 30)
    state = hass.states.get("event.mom_mms_delivery")
    assert state is not None
    assert state.attributes["event_type"] == "delivered"
    await _advance(hass, freezer, loaded_entry, 10 * 60)
    assert len(simulator.requests_to("messages/send_mms")) == 1


async def test_the_fallback_input_texts_the_same_phone_once_when_its_mms_does_not_arrive(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    freezer: FrozenDateTimeFactory,
) -> None:
    simulator.undeliverable[MOM_PHONE] = "unsupported_number"
    await _set_up(hass, fallback="sms", message="Alarm in the hall")
    await _alarm(hass, simulator)
    fields = simulator.requests_to("messages/send_mms")[0].fields
    await _advance(hass, freezer, loaded_entry, 60)
    assert [(m.phone, m.text) for m in simulator.sms] == [(MOM_PHONE, "Alarm!: Alarm in the hall")]
    assert "fallback" not in fields  # the integration's own option, not the gateway's
    await _advance(hass, freezer, loaded_entry, 6 * 60)
    assert len(simulator.sms) == 1
