"""Attachment sources: URLs, media sources, upload_file and list_files."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from homeassistant.components.image import ImageEntity
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, setup_test_component_platform

from custom_components.serwersms.mms import attachments
from serwersms_simulator import Fault, SerwerSmsSimulator
from tests.conftest import SnapshotCamera, make_jpeg, make_png

MOM = "notify.mom_mms"
PHOTO = make_jpeg(200, 150)


@pytest.fixture
async def image_server(loopback_sockets: None) -> AsyncIterator[str]:
    """A web server on loopback serving images, redirects, errors and an endless stream."""

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "image/jpeg"})
        await response.prepare(request)
        chunk = b"\xff" * 65536
        try:
            while True:
                await response.write(chunk)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        return response

    app = web.Application()
    app.router.add_get("/snap.jpg", lambda _: web.Response(body=PHOTO, content_type="image/jpeg"))
    app.router.add_get("/hop", lambda _: web.HTTPFound("/snap.jpg"))
    app.router.add_get("/away", lambda _: web.HTTPFound("http://127.0.0.2:9/evil.jpg"))
    app.router.add_get("/loop", lambda _: web.HTTPFound("/loop"))
    app.router.add_get("/missing", lambda _: web.Response(status=404))
    app.router.add_get("/page", lambda _: web.Response(text="<html></html>", content_type="text/html"))
    app.router.add_get(
        "/huge", lambda _: web.Response(body=b"x" * 10, headers={"Content-Length": "99999999"})
    )
    app.router.add_get("/endless", endless)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def send(hass: HomeAssistant, **data: Any) -> dict[str, Any]:
    response = await hass.services.async_call(
        "serwersms", "send_mms", {"entity_id": MOM, **data}, blocking=True, return_response=True
    )
    return response[MOM]  # type: ignore[index,return-value]


async def test_url_images_are_fetched_following_allowed_redirects(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry, image_server: str
) -> None:
    hass.config.allowlist_external_urls = {image_server}
    response = await send(hass, url=[f"{image_server}/snap.jpg"])
    assert simulator.files[response["files"][0]["id"]].content == PHOTO
    again = await send(hass, url=f"{image_server}/hop")
    assert again["files"][0]["uploaded"] is False


@pytest.mark.parametrize(
    ("path", "error", "key"),
    [
        ("/away", ServiceValidationError, "url_not_allowed"),
        ("/endless", ServiceValidationError, "attachment_too_large"),
        ("/huge", ServiceValidationError, "attachment_too_large"),
        ("/missing", HomeAssistantError, "url_fetch_failed"),
        ("/loop", HomeAssistantError, "url_fetch_failed"),
        ("/page", ServiceValidationError, "not_an_image"),
    ],
)
async def test_bad_urls_send_nothing(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    image_server: str,
    path: str,
    error: type[Exception],
    key: str,
) -> None:
    hass.config.allowlist_external_urls = {image_server}
    with pytest.raises(error) as err:
        await send(hass, url=f"{image_server}{path}")
    assert err.value.translation_key == key  # type: ignore[attr-defined]
    assert simulator.requests_to("files/add") == []
    assert simulator.requests_to("messages/send_mms") == []


async def test_unreachable_url_is_a_fetch_error(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry
) -> None:
    hass.config.allowlist_external_urls = {"http://127.0.0.1:9/"}
    with pytest.raises(HomeAssistantError) as err:
        await send(hass, url="http://127.0.0.1:9/x.jpg")
    assert err.value.translation_key == "url_fetch_failed"


async def test_media_source_files_and_camera_media(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    tmp_path,
) -> None:
    (tmp_path / "garden.jpg").write_bytes(PHOTO)
    hass.config.media_dirs = {"local": str(tmp_path)}
    assert await async_setup_component(hass, "media_source", {})
    response = await send(
        hass,
        media=[
            {
                "media_content_id": "media-source://media_source/local/garden.jpg",
                "media_content_type": "image/jpeg",
            },
            "media-source://camera/camera.front_door",
        ],
    )
    names = [f["name"] for f in response["files"]]
    assert names == ["garden.jpg", "camera_front_door.jpg"]
    assert front_door.snapshots == 1
    with pytest.raises(ServiceValidationError) as missing:
        await send(hass, media="media-source://media_source/local/nope.jpg")
    assert missing.value.translation_key in {"media_not_found", "file_not_found"}


async def test_failing_camera_is_a_snapshot_error(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
) -> None:
    front_door.image = None  # type: ignore[assignment]
    with pytest.raises(HomeAssistantError) as err:
        await send(hass, camera="camera.front_door")
    assert err.value.translation_key == "snapshot_failed"
    assert simulator.requests_to("files/add") == []


async def test_oversized_local_file_is_refused(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry, tmp_path
) -> None:
    big = tmp_path / "big.jpg"
    with big.open("wb") as handle:
        handle.truncate(attachments.MAX_SOURCE_BYTES + 1)
    hass.config.allowlist_external_dirs = {str(tmp_path)}
    with pytest.raises(ServiceValidationError) as err:
        await send(hass, file=str(big))
    assert err.value.translation_key == "attachment_too_large"


# --- upload_file / list_files ---------------------------------------------------------------------


async def test_upload_file_then_send_by_id(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
) -> None:
    uploaded = await hass.services.async_call(
        "serwersms", "upload_file", {"camera": "camera.front_door"}, blocking=True, return_response=True
    )
    assert uploaded is not None
    assert set(uploaded) == {"id", "name", "size", "content_type", "uploaded"}
    assert uploaded["uploaded"] is True
    assert simulator.files[uploaded["id"]].size == uploaded["size"]
    again = await hass.services.async_call(
        "serwersms",
        "upload_file",
        {"config_entry_id": loaded_entry.entry_id, "camera": "camera.front_door"},
        blocking=True,
        return_response=True,
    )
    assert again == {**uploaded, "uploaded": False}
    await send(hass, file_id=[uploaded["id"]], message="by id")
    assert simulator.requests_to("messages/send_mms")[0].fields["file_id"] == [uploaded["id"]]


@pytest.mark.parametrize("data", [{}, {"camera": "camera.front_door", "url": "https://x/y.jpg"}])
async def test_upload_file_needs_exactly_one_source(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, data: dict[str, Any]
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call("serwersms", "upload_file", data, blocking=True, return_response=True)
    assert err.value.translation_key == "exactly_one_source"


async def test_upload_file_from_each_source_kind(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    image_server: str,
    tmp_path,
) -> None:
    hass.config.allowlist_external_urls = {image_server}
    (tmp_path / "a.jpg").write_bytes(make_jpeg(90, 90))
    hass.config.allowlist_external_dirs = {str(tmp_path)}
    hass.config.media_dirs = {"local": str(tmp_path)}
    assert await async_setup_component(hass, "media_source", {})
    for data in (
        {"url": f"{image_server}/snap.jpg"},
        {"file": str(tmp_path / "a.jpg")},
        {"media": "media-source://media_source/local/a.jpg"},
    ):
        result = await hass.services.async_call(
            "serwersms", "upload_file", data, blocking=True, return_response=True
        )
        assert result is not None
        assert result["id"] in simulator.files
    assert len(simulator.requests_to("files/add")) == 2  # the file and the media are the same bytes


async def test_list_files(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry
) -> None:
    file_id = await loaded_entry.runtime_data.client.upload_file(
        PHOTO, filename="p.jpg", content_type="image/jpeg"
    )
    listed = await hass.services.async_call(
        "serwersms", "list_files", {}, blocking=True, return_response=True
    )
    assert listed == {
        "files": [
            {
                "id": file_id,
                "name": "p.jpg",
                "size": len(PHOTO),
                "type": "mms",
                "date": simulator.files[file_id].date,
            }
        ]
    }
    simulator.fail_next("files/index", Fault("error", code=1002))
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call("serwersms", "list_files", {}, blocking=True, return_response=True)
    assert err.value.translation_key == "api_access_denied"


async def test_actions_need_a_loaded_account(hass: HomeAssistant, loaded_entry: MockConfigEntry) -> None:
    await hass.config_entries.async_unload(loaded_entry.entry_id)
    with pytest.raises(ServiceValidationError):
        await hass.services.async_call("serwersms", "list_files", {}, blocking=True, return_response=True)


class StillImage(ImageEntity):
    """image.doorbell_still: a fixed picture."""

    _attr_content_type = "image/png"
    _attr_name = "Doorbell still"
    _attr_unique_id = "doorbell_still"

    def __init__(self, hass: HomeAssistant, content: bytes) -> None:
        super().__init__(hass)
        self._content = content
        self._attr_image_last_updated = dt_util.utcnow()

    async def async_image(self) -> bytes | None:
        return self._content


async def test_image_entities_are_attachments(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry
) -> None:
    picture = make_png()
    setup_test_component_platform(hass, "image", [StillImage(hass, picture)])
    assert await async_setup_component(hass, "image", {"image": {"platform": "test"}})
    await hass.async_block_till_done()
    response = await send(hass, camera="image.doorbell_still")
    file = response["files"][0]
    assert (file["name"], file["content_type"]) == ("image_doorbell_still.png", "image/png")
    assert simulator.files[file["id"]].content == picture
