"""An outage is logged once when it starts and once when it ends, not at every failed poll or try."""

from __future__ import annotations

import logging

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.serwersms.const import CONF_KEEP_UPLOADS_DAYS, CONF_OUTBOX_MINUTES
from serwersms_simulator import Fault, SerwerSmsSimulator
from tests.conftest import SnapshotCamera, make_jpeg
from tests.helpers import client_without_pauses, later, send

INTEGRATION = "custom_components.serwersms"
GONE = "the SerwerSMS gateway cannot be reached"
BACK = "the SerwerSMS gateway answers again"


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client's quick retries without their real-time pauses."""
    client_without_pauses(monkeypatch)


def logged(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    """What the integration logged at `level` exactly."""
    return [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith(INTEGRATION) and record.levelno == level
    ]


async def load(hass: HomeAssistant, entry: MockConfigEntry, **options: int) -> None:
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, options={**entry.options, **options})
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


async def test_a_long_outage_is_one_warning_and_its_end_one_info(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    config_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger=INTEGRATION)
    await load(hass, config_entry, **{CONF_OUTBOX_MINUTES: 1440})
    assert (await send(hass, message="before"))["queued"] == 1  # its delivery report is polled for
    await simulator.go_offline()
    caplog.clear()
    assert (await send(hass, message="during"))["deferred"] == 1  # the outbox probes every 5 s
    # 20 hours down: credits polled hourly, delivery reports every 10 min, the outbox probed every 5 s.
    for _ in range(240):
        await later(hass, freezer, 300)
    assert any("delivery reports" in message for message in logged(caplog, logging.DEBUG))
    warnings = logged(caplog, logging.WARNING)
    assert len(warnings) == 1
    assert GONE in warnings[0]
    # Home Assistant's own coordinator says once that the credits could not be fetched.
    assert [message.split(":")[0] for message in logged(caplog, logging.ERROR)] == [
        "Error fetching serwersms data"
    ]
    caplog.clear()
    await simulator.go_online()
    for _ in range(12):
        await later(hass, freezer, 300)
    assert [message.split(":")[1].strip() for message in logged(caplog, logging.INFO) if BACK in message] == [
        BACK
    ]
    assert [m.text for m in simulator.messages] == ["before", "during"]  # the outbox got through
    assert logged(caplog, logging.WARNING) == []
    assert logged(caplog, logging.ERROR) == []


async def test_the_storage_clean_up_stopped_by_an_outage_says_nothing_of_its_own(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    config_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger=INTEGRATION)
    await load(hass, config_entry, **{CONF_KEEP_UPLOADS_DAYS: 1})
    await send(hass, camera="camera.front_door")
    await simulator.go_offline()
    caplog.clear()
    for _ in range(72):  # three days: at least one clean-up run finds the picture due
        await later(hass, freezer, 3600)
    assert any("Storage clean-up stopped" in message for message in logged(caplog, logging.DEBUG))
    warnings = logged(caplog, logging.WARNING)
    assert len(warnings) == 1
    assert GONE in warnings[0]


async def test_refused_delivery_polls_are_logged_once_until_they_succeed(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    config_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger=INTEGRATION)
    await load(hass, config_entry)
    front_door.image = make_jpeg(320, 240)
    assert (await send(hass, message="alarm"))["queued"] == 1
    # The API access withdrawn for a while: every poll is refused (an answer, not an outage).
    simulator.fail_next("messages/reports", Fault("error", code=1002), times=20)
    for _ in range(6):
        await later(hass, freezer, 600)
    warnings = [message for message in logged(caplog, logging.WARNING) if "delivery reports" in message]
    assert len(warnings) == 1
    assert GONE not in caplog.text  # the gateway answered all along
    simulator.clear_faults()
    await later(hass, freezer, 600)
    assert "Delivery reports can be read again" in logged(caplog, logging.INFO)
