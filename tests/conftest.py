"""Shared fixtures: a real SerwerSMS simulator on loopback, and real images made with Pillow."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
import io
import time

import aiohttp
from homeassistant.components.camera import Camera
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from PIL import Image
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, setup_test_component_platform
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
import pytest_socket
from syrupy.assertion import SnapshotAssertion

# phcc quirk: the integration must be importable before the hass fixture resolves it.
import custom_components.serwersms  # noqa: F401
from custom_components.serwersms.api import client as client_module
from serwersms_simulator import SerwerSmsSimulator

TOKEN = "tok-3f9a1c7e55d2b8a0"
USERNAME = "apiuser-4471"
PASSWORD = "Secr3t-pa55word"


@pytest.fixture
def hass_config_dir(hass_tmp_config_dir: str) -> str:
    """Each test its own configuration directory: the outbox writes real files under `.storage`."""
    return hass_tmp_config_dir


@pytest.fixture
def loopback_sockets() -> Iterator[None]:
    """Allow real sockets, but only to loopback: the simulator is a real server, nothing leaves the host."""
    pytest_socket.enable_socket()
    pytest_socket.socket_allow_hosts(["127.0.0.1", "::1"], allow_unix_socket=True)
    yield
    pytest_socket.disable_socket(allow_unix_socket=True)


@pytest.fixture
async def simulator(loopback_sockets: None) -> AsyncIterator[SerwerSmsSimulator]:
    """A running simulator that accepts TOKEN and USERNAME/PASSWORD."""
    sim = SerwerSmsSimulator(token=TOKEN, username=USERNAME, password=PASSWORD, credits=1000)
    await sim.start()
    yield sim
    await sim.stop()


@pytest.fixture
async def http_session(loopback_sockets: None) -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session for client tests (Home Assistant's own is used in integration tests)."""
    async with aiohttp.ClientSession() as session:
        yield session


def make_jpeg(width: int = 640, height: int = 480, *, quality: int = 90, exif: bool = False) -> bytes:
    """A real JPEG with some detail (a gradient), optionally carrying EXIF with GPS."""
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    out = io.BytesIO()
    if exif:
        data = Image.Exif()
        data[0x010F] = "TestCam"
        data[0x0112] = 1
        gps = {1: "N", 2: (52.0, 13.0, 0.0), 3: "E", 4: (21.0, 0.0, 0.0)}
        data[0x8825] = gps
        image.save(out, "JPEG", quality=quality, exif=data)
    else:
        image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def make_png(width: int = 64, height: int = 48) -> bytes:
    """A small real PNG."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Snapshots as core keeps them: in tests/snapshots/, with registry ids and state times left out.

    (phcc's own fixture does the same, but syrupy's plain one wins over it.)
    """
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


@pytest.fixture(autouse=True)
def gateway_clock_on_the_frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The time since the gateway's last `Date` moves with the freezer, as every other clock here does.

    (The product counts it on CLOCK_BOOTTIME, which keeps counting through a suspend and which
    freezegun does not freeze.)
    """
    monkeypatch.setattr(client_module, "_since_boot", lambda: time.monotonic())


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load custom_components/serwersms in every test."""


def entry_data(
    sim: SerwerSmsSimulator, method: str = "token", *, legacy_service: str | None = "serwersms"
) -> dict[str, str]:
    """Config entry data for an account on the simulator, as the current version stores it."""
    if method == "token":
        data = {"auth_method": "token", "api_token": TOKEN, "api_url": sim.url}
    else:
        data = {"auth_method": "credentials", "username": USERNAME, "password": PASSWORD, "api_url": sim.url}
    if legacy_service is not None:
        data["legacy_service"] = legacy_service
    return data


@pytest.fixture
def recipients() -> list[tuple[str, list[str]]]:
    """The recipients of the default test account."""
    return [("Mom", ["+48500600700"]), ("Family", ["+48500600701", "+48500600702"])]


@pytest.fixture
def config_entry(simulator: SerwerSmsSimulator, recipients: list[tuple[str, list[str]]]) -> MockConfigEntry:
    """An account on the simulator with recipient subentries (not yet added to hass)."""
    from homeassistant.config_entries import ConfigSubentryData  # noqa: PLC0415

    return MockConfigEntry(
        domain="serwersms",
        title="SerwerSMS",
        unique_id="test-account",
        version=1,
        minor_version=2,
        data=entry_data(simulator),
        subentries_data=[
            ConfigSubentryData(
                subentry_type="recipient",
                title=name,
                data={"name": name, "phone": phones},
                unique_id=None,
            )
            for name, phones in recipients
        ],
    )


@pytest.fixture
async def loaded_entry(hass: HomeAssistant, config_entry: MockConfigEntry) -> MockConfigEntry:
    """The account, set up."""
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    return config_entry


class SnapshotCamera(Camera):
    """A camera whose snapshot is whatever bytes the test puts in `image`."""

    _attr_has_entity_name = False

    def __init__(self, name: str, image: bytes) -> None:
        super().__init__()
        self._attr_name = name
        self._attr_unique_id = name
        self.image = image
        self.snapshots = 0

    async def async_camera_image(self, width: int | None = None, height: int | None = None) -> bytes | None:
        self.snapshots += 1
        return self.image


@pytest.fixture
async def front_door(hass: HomeAssistant) -> SnapshotCamera:
    """camera.front_door, serving a 640x480 JPEG."""
    camera = SnapshotCamera("Front door", make_jpeg(640, 480))
    setup_test_component_platform(hass, "camera", [camera])
    assert await async_setup_component(hass, "camera", {"camera": {"platform": "test"}})
    await hass.async_block_till_done()
    return camera
