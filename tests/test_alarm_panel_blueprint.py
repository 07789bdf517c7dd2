"""The alarm panel ladder blueprint: triggered → raise_alarm; disarmed → acknowledge."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
import shutil
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.automation.config import AUTOMATION_BLUEPRINT_SCHEMA
from homeassistant.components.blueprint import BlueprintInputs
from homeassistant.components.blueprint.models import Blueprint
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import selector
from homeassistant.setup import async_setup_component
from homeassistant.util import yaml as yaml_util
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from serwersms_simulator import SerwerSmsSimulator
from tests.conftest import SnapshotCamera
from tests.helpers import until

ROOT = Path(__file__).resolve().parents[1]
BLUEPRINT = ROOT / "blueprints/automation/serwersms/alarm_panel_ladder.yaml"
INPUTS: dict[str, Any] = {
    "alarm_panel": "alarm_control_panel.home",
    "camera": "camera.front_door",
    "frames": 3,
    "first_recipients": ["notify.mom_mms"],
    "wait": 60,
    "second_recipients": ["notify.family_mms"],
    "title": "Burglary",
}


def test_the_blueprint_loads_and_its_inputs_validate() -> None:
    blueprint = Blueprint(
        yaml_util.load_yaml_dict(BLUEPRINT), expected_domain="automation", schema=AUTOMATION_BLUEPRINT_SCHEMA
    )
    assert blueprint.validate() is None
    inputs = BlueprintInputs(blueprint, {"use_blueprint": {"path": "x.yaml", "input": INPUTS}})
    inputs.validate()
    for name, spec in blueprint.inputs.items():
        selector.selector(spec["selector"])(inputs.inputs_with_default[name])


async def _set_up(hass: HomeAssistant) -> list[dict[str, Any]]:
    target = Path(hass.config.path("blueprints/automation/serwersms"))
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(BLUEPRINT, target)
    hass.states.async_set("alarm_control_panel.home", "armed_away")
    assert await async_setup_component(
        hass,
        "automation",
        {"automation": {"use_blueprint": {"path": f"serwersms/{BLUEPRINT.name}", "input": INPUTS}}},
    )
    await hass.async_block_till_done()
    seen: list[dict[str, Any]] = []

    @callback
    def fired(event: Event) -> None:
        seen.append(dict(event.data))

    hass.bus.async_listen("serwersms_alarm", fired)
    return seen


async def _advance(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, entry: MockConfigEntry, seconds: int
) -> None:
    """Second by second, finishing what each tick starts (a burst's next frame waits on the clock)."""
    for _ in range(seconds):
        freezer.tick(timedelta(seconds=1))
        async_fire_time_changed(hass)
        await asyncio.sleep(0)
        running = [task for task in entry._background_tasks if not task.done()]
        if running:
            await asyncio.wait(running)


async def _triggered(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, freezer: FrozenDateTimeFactory, entry: MockConfigEntry
) -> None:
    hass.states.async_set("alarm_control_panel.home", "triggered")
    for _ in range(10):
        if simulator.messages:
            break
        await _advance(hass, freezer, entry, 1)
        await until(hass, lambda: True, "a turn")
    await until(hass, lambda: len(simulator.messages) == 1 and len(simulator.sms) == 1, "the MMS and the SMS")
    mms = simulator.messages[0]
    assert mms.phone == "+48500600700"
    assert mms.title == "Burglary"
    assert len(mms.file_ids) == 1
    assert simulator.files[mms.file_ids[0]].content.startswith(b"GIF8")  # the frames as one GIF


async def test_disarming_acknowledges_the_alarm(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    freezer: FrozenDateTimeFactory,
) -> None:
    events = await _set_up(hass)
    await _triggered(hass, simulator, freezer, loaded_entry)
    hass.states.async_set("alarm_control_panel.home", "disarmed")
    await until(hass, lambda: len(events) == 2, "the acknowledgement")
    assert [(e["type"], e.get("via")) for e in events] == [("raised", None), ("acknowledged", "action")]
    await _advance(hass, freezer, loaded_entry, 180)
    assert simulator.calls == []


async def test_nobody_answers_so_the_second_recipients_are_called(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    freezer: FrozenDateTimeFactory,
) -> None:
    events = await _set_up(hass)
    await _triggered(hass, simulator, freezer, loaded_entry)
    await _advance(hass, freezer, loaded_entry, 65)
    await until(hass, lambda: len(simulator.calls) == 2, "the calls")
    assert sorted(call.phone for call in simulator.calls) == ["+48500600701", "+48500600702"]
    assert [e["type"] for e in events] == ["raised", "escalated"]
