"""The send path against gateway faults, abusive input, secret leaks and fifty concurrent calls."""

from __future__ import annotations

import asyncio
import functools
import io
import logging
from typing import Any

import aiohttp
from homeassistant import config_entries
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import Event, HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.setup import async_setup_component
from PIL import Image
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events
from pytest_homeassistant_custom_component.components.diagnostics import get_diagnostics_for_config_entry

from serwersms_simulator import Fault, SerwerSmsSimulator
from tests.conftest import PASSWORD, USERNAME, SnapshotCamera, make_jpeg

MOM = "notify.mom_mms"


@pytest.fixture
def impatient_client(loaded_entry: MockConfigEntry) -> None:
    """Short timeouts and backoff, so faults play out in milliseconds."""
    client = loaded_entry.runtime_data.client
    client._timeout = aiohttp.ClientTimeout(total=0.4)
    client._backoff = 0.01


async def send(hass: HomeAssistant, **data: Any) -> dict[str, Any]:
    response = await hass.services.async_call(
        "serwersms", "send_mms", {"entity_id": MOM, **data}, blocking=True, return_response=True
    )
    return response[MOM]  # type: ignore[index,return-value]


FAULTS = {
    "timeout": Fault("hang_after", hold=3),
    "500": Fault("status", status=500),
    "502": Fault("status", status=502),
    "503": Fault("status", status=503),
    "429": Fault("status", status=429, retry_after=0.05),
    "reset": Fault("reset"),
    "malformed": Fault("malformed"),
    "html": Fault("html", status=502),
    "error": Fault("error", code=3100),
}
# What the caller sees: None = the send goes through (a safe retry), else the error's translation key.
UPLOAD_OUTCOME = dict.fromkeys(FAULTS) | {"error": "gateway_error", "malformed": None}
SEND_OUTCOME = dict.fromkeys(FAULTS, "outcome_unknown") | {"429": None, "error": "gateway_error"}


@pytest.mark.parametrize(
    ("endpoint", "fault_name", "outcome"),
    [("files/add", name, UPLOAD_OUTCOME[name]) for name in FAULTS]
    + [("messages/send_mms", name, SEND_OUTCOME[name]) for name in FAULTS],
)
async def test_fault_matrix(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    impatient_client: None,
    endpoint: str,
    fault_name: str,
    outcome: str | None,
) -> None:
    simulator.fail_next(endpoint, FAULTS[fault_name])
    if outcome is None:
        response = await send(hass, camera="camera.front_door", message="m")
        assert response["queued"] == 1
    else:
        with pytest.raises(HomeAssistantError) as err:
            await send(hass, camera="camera.front_door", message="m")
        assert err.value.translation_key == outcome
    # never the same MMS twice: at most one processed send request for this call
    assert len(simulator.processed_sends) <= 1
    assert len(simulator.messages) <= 1
    before = len(simulator.messages)
    assert loaded_entry.state is ConfigEntryState.LOADED
    assert (await send(hass, camera="camera.front_door", message="next"))["queued"] == 1
    assert len(simulator.messages) == before + 1


@functools.cache
def _bomb() -> bytes:
    """A PNG of 400 megapixels (48 KB on disk); drawing it takes most of a second, so only once."""
    out = io.BytesIO()
    Image.new("1", (20000, 20000)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def abuse_files(hass: HomeAssistant, tmp_path) -> dict[str, str]:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (tmp_path / "outside.jpg").write_bytes(make_jpeg(32, 32))
    (allowed / "link.jpg").symlink_to(tmp_path / "outside.jpg")
    (allowed / "fake.jpg").write_bytes(b"MZ\x90\x00 definitely not a jpeg")
    (allowed / "bomb.png").write_bytes(_bomb())
    hass.config.allowlist_external_dirs = {str(allowed)}
    hass.config.allowlist_external_urls = {"https://allowed.example/"}
    return {"allowed": str(allowed), "root": str(tmp_path)}


ABUSE: list[tuple[str, dict[str, Any], str]] = [
    ("traversal", {"file": "{allowed}/../outside.jpg"}, "file_not_allowed"),
    ("symlink out", {"file": "{allowed}/link.jpg"}, "file_not_allowed"),
    ("outside", {"file": "{root}/outside.jpg"}, "file_not_allowed"),
    ("system file", {"file": "/etc/shadow"}, "file_not_allowed"),
    ("relative", {"file": "allowed/x.jpg"}, "file_not_allowed"),
    ("missing", {"file": "{allowed}/missing.jpg"}, "file_not_found"),
    ("fake jpg", {"file": "{allowed}/fake.jpg"}, "not_an_image"),
    ("bomb", {"file": "{allowed}/bomb.png"}, "image_too_large"),
    ("url not allowlisted", {"url": "https://evil.example/a.jpg"}, "url_not_allowed"),
    ("url scheme", {"url": "ftp://allowed.example/a.jpg"}, "url_not_allowed"),
    ("url prefix trick", {"url": "https://allowed.example.evil.test/a.jpg"}, "url_not_allowed"),
    ("title 41", {"message": "m", "title": "x" * 41}, "title_too_long"),
    ("emoji title", {"message": "m", "title": "🚨" * 41}, "title_too_long"),
    ("11 attachments", {"file_id": [f"{i:010x}" for i in range(11)]}, "too_many_attachments"),
    ("empty", {}, "empty_message"),
    ("past date", {"message": "m", "date": "2001-09-11 08:46:00"}, "date_in_past"),
    ("unknown camera", {"camera": "camera.nowhere"}, "camera_not_found"),
    ("bad media id", {"media": "local/garden.jpg"}, "media_not_found"),
]


@pytest.mark.parametrize("entry_point", ["action", "legacy"])
@pytest.mark.parametrize(("case", "data", "key"), ABUSE, ids=[case for case, _, _ in ABUSE])
async def test_abuse_matrix(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    abuse_files: dict[str, str],
    entry_point: str,
    case: str,
    data: dict[str, Any],
    key: str,
) -> None:
    data = {k: v.format(**abuse_files) if isinstance(v, str) else v for k, v in data.items()}
    if entry_point == "action":
        call = send(hass, **data)
    else:
        legacy = {"message": data.pop("message", "")} | (
            {"title": data.pop("title")} if "title" in data else {}
        )
        call = hass.services.async_call("notify", "serwersms", {**legacy, "data": data}, blocking=True)
    with pytest.raises(ServiceValidationError) as err:
        await call
    assert err.value.translation_domain == "serwersms"
    assert err.value.translation_key == key
    assert [r.endpoint for r in simulator.requests if r.endpoint != "account/limits"] == []


@pytest.mark.parametrize(
    ("count", "key"), [(0, "no_recipients"), (1, "ok"), (1000, "ok"), (100_001, "too_many_recipients")]
)
async def test_recipient_counts(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    count: int,
    key: str | None,
) -> None:
    targets = [f"+4850{i:07d}" for i in range(count)]
    call = {"message": "m", "target": targets} if count else {"message": "m", "target": []}
    if key == "ok":
        await hass.services.async_call("notify", "serwersms", call, blocking=True)
        assert len(simulator.messages) == count
        assert max(len(r.fields["phone"]) for r in simulator.requests_to("messages/send_mms")) <= 100
        return
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call("notify", "serwersms", call, blocking=True)
    assert err.value.translation_key == key
    assert simulator.requests_to("messages/send_mms") == []


@pytest.mark.parametrize("number", ["12ab", "+48 500 600 70O", "0", "+", "500600700500600700"])
async def test_malformed_numbers_are_refused(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry, number: str
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            "notify", "serwersms", {"message": "m", "target": ["+48500600700", number]}, blocking=True
        )
    assert err.value.translation_key == "invalid_phone"
    assert simulator.requests_to("messages/send_mms") == []


async def test_no_secret_reaches_logs_diagnostics_exceptions_or_events(
    hass: HomeAssistant,
    hass_client: Any,
    simulator: SerwerSmsSimulator,
    front_door: SnapshotCamera,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    events: list[Event] = async_capture_events(hass, "serwersms_mms_sent")
    result = await hass.config_entries.flow.async_init(
        "serwersms", context={"source": config_entries.SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "credentials"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {"username": "wrong", "password": "wrong-pass", "advanced": {"api_url": simulator.url}},
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {"username": USERNAME, "password": PASSWORD, "advanced": {"api_url": simulator.url}},
    )
    entry = result["result"]
    await hass.async_block_till_done()
    hass.config_entries.async_add_subentry(
        entry,
        config_entries.ConfigSubentry(
            data={"name": "Mom", "phone": ["+48500600700"]},
            subentry_type="recipient",
            title="Mom",
            unique_id=None,
        ),
    )
    await hass.async_block_till_done()
    response = await send(hass, camera="camera.front_door", message="hello")
    simulator.password = "rotated"
    with pytest.raises(HomeAssistantError) as failure:
        await send(hass, message="after rotation")
    assert await async_setup_component(hass, "diagnostics", {})
    simulator.password = PASSWORD
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    exposed = "\n".join(
        [caplog.text, repr(diagnostics), repr([e.data for e in events]), repr(response), str(failure.value)]
    )
    exposed += repr(failure.value.__cause__) + str(failure.value.__cause__)
    assert "DEBUG" in caplog.text
    for secret in (USERNAME, PASSWORD, "wrong-pass"):
        assert secret not in exposed


async def test_fifty_concurrent_sends_of_one_camera_upload_once_and_decode_off_the_loop(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
) -> None:
    # How long the loop stalls is a figure for scripts/bench (row 8); here: where the heavy work runs.
    import threading  # noqa: PLC0415
    from unittest.mock import patch  # noqa: PLC0415

    from custom_components.serwersms.mms import fitting, images  # noqa: PLC0415

    front_door.image = make_jpeg(1920, 1080)
    threads: dict[str, set[int]] = {"decode": set(), "digest": set()}

    def on_thread(name: str, work: Any) -> Any:
        def run(*args: Any) -> Any:
            threads[name].add(threading.get_ident())
            return work(*args)

        return run

    async def one(i: int) -> dict[str, Any]:
        await asyncio.sleep(0)  # each call starts in its own loop iteration, as calls from automations would
        return await send(hass, camera="camera.front_door", title=f"#{i}")

    with (
        patch.object(images, "_open", on_thread("decode", images._open)),
        patch.object(fitting, "digest", on_thread("digest", fitting.digest)),
    ):
        results = await asyncio.gather(*(one(i) for i in range(50)))
    assert all(r["queued"] == 1 for r in results)
    assert len(simulator.requests_to("files/add")) == 1
    assert len(simulator.requests_to("messages/send_mms")) == 50
    assert sum(r["files"][0]["uploaded"] for r in results) == 1
    # Decoding the 1920x1080 snapshot and hashing it ran, and never on the event loop's thread.
    assert threads["decode"]
    assert threads["digest"]
    assert threading.get_ident() not in threads["decode"] | threads["digest"]
