"""An account with fixed ids, set up with one platform only: what the per-platform snapshot tests look at.

Ids are fixed so that unique ids in the snapshots stay the same from run to run; the simulator's
port is not, so it is matched away wherever the gateway's URL shows.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
import re
from unittest.mock import patch

from homeassistant.config_entries import ConfigSubentryData
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from syrupy.types import PropertyPath, SerializableData

from serwersms_simulator import SerwerSmsSimulator
from tests.conftest import entry_data

ENTRY_ID = "01KSERWERSMSACCOUNT0000001"
RECIPIENTS = (
    ("Mom", "01KSERWERSMSRECIPIENTMOM01", ["+48500600700"]),
    ("Family", "01KSERWERSMSRECIPIENTFAM01", ["+48500600701", "+48500600702"]),
)
_SIMULATOR_URL = re.compile(r"http://127\.0\.0\.1:\d+/")


def account(simulator: SerwerSmsSimulator) -> MockConfigEntry:
    """The test account (token, Mom and Family) with fixed entry and subentry ids."""
    return MockConfigEntry(
        domain="serwersms",
        title="SerwerSMS",
        unique_id="test-account",
        entry_id=ENTRY_ID,
        version=1,
        minor_version=2,
        data=entry_data(simulator),
        subentries_data=[
            ConfigSubentryData(
                subentry_type="recipient",
                subentry_id=subentry_id,
                title=name,
                data={"name": name, "phone": phones},
                unique_id=None,
            )
            for name, subentry_id, phones in RECIPIENTS
        ],
    )


@contextmanager
def only(platform: Platform) -> Iterator[None]:
    """Set accounts up with `platform` alone (snapshot_platform looks at one platform at a time)."""
    with patch("custom_components.serwersms.PLATFORMS", [platform]):
        yield


async def set_up(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Add the account and set it up."""
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


def any_simulator_port(data: SerializableData, path: PropertyPath) -> SerializableData:
    """A syrupy matcher: the simulator's URL without its port, which changes from run to run."""
    if isinstance(data, str):
        return _SIMULATOR_URL.sub("http://127.0.0.1:<port>/", data)
    return data
