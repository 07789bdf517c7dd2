"""Collect attachment bytes from cameras, image entities, media sources, local files and URLs.

Every source is checked before anything is fetched (`check_sources`), so a caller's mistake is refused
before a single byte goes to the gateway. Blocking work (file checks and reads) runs in the executor.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
from homeassistant.components import media_source
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant, split_entity_id
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from yarl import URL

from ..const import DOMAIN
from ..errors import invalid
from .frames import Motion

MAX_SOURCE_BYTES = 20 * 1024 * 1024  # far above any MMS; stops endless or huge downloads
FETCH_TIMEOUT = aiohttp.ClientTimeout(total=20)
MAX_REDIRECTS = 5


@dataclass(frozen=True, slots=True)
class Attachment:
    """Raw attachment bytes as fetched, before fitting."""

    content: bytes
    filename: str
    content_type: str | None


@dataclass(slots=True)
class AttachmentSources:
    """Where a send's attachments come from."""

    cameras: list[str] = field(default_factory=list)
    media: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    verify_ssl: bool = True
    motion: Motion = field(default_factory=Motion)
    # Filled as the cameras are pictured: how many buffered frames each camera's pictures start with,
    # and when the oldest was taken (only when the call asked for `lookback`; see `motion.gather`).
    lookback_used: dict[str, tuple[int, datetime | None]] = field(default_factory=dict)

    def __len__(self) -> int:
        """How many attachments these sources give (with `frames_as: images`, every frame is one)."""
        cameras = len(self.cameras) * self.motion.pictures_per_camera
        return cameras + len(self.media) + len(self.files) + len(self.urls)


def media_content_id(value: Any) -> str:
    """A media-source id from a string or a media selector's value."""
    if isinstance(value, dict):
        return str(value.get("media_content_id", ""))
    return str(value)


def _check_entity(hass: HomeAssistant, entity_id: str) -> None:
    try:
        domain, _ = split_entity_id(entity_id)
    except ValueError:
        raise invalid("camera_not_found", entity_id=entity_id) from None
    if domain not in ("camera", "image"):
        raise invalid("camera_not_found", entity_id=entity_id)
    state = hass.states.get(entity_id)
    if state is None:
        raise invalid("camera_not_found", entity_id=entity_id)
    if state.state == STATE_UNAVAILABLE:
        raise invalid("camera_unavailable", entity_id=entity_id)


def _check_file(hass: HomeAssistant, path: str) -> str:
    """Resolve symlinks, then require the real file to be inside `allowlist_external_dirs`."""
    given = Path(path)
    real = given.resolve()
    if not given.is_absolute() or not hass.config.is_allowed_path(str(real)):
        raise invalid("file_not_allowed", path=path)
    if not real.is_file():
        raise invalid("file_not_found", path=path)
    if real.stat().st_size > MAX_SOURCE_BYTES:
        raise invalid("attachment_too_large", source=path)
    return str(real)


def _check_url(hass: HomeAssistant, url: str) -> None:
    parsed = URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise invalid("url_not_allowed", url=url)
    if not hass.config.is_allowed_external_url(url):
        raise invalid("url_not_allowed", url=url)


async def check_sources(hass: HomeAssistant, sources: AttachmentSources) -> None:
    """Refuse unknown entities, files outside the allowlist and URLs not allowlisted; fetch nothing."""
    for entity_id in sources.cameras:
        _check_entity(hass, entity_id)
    for value in sources.media:
        if not media_source.is_media_source_id(value):
            raise invalid("media_not_found", media_id=value)
    for url in sources.urls:
        _check_url(hass, url)
    for path in sources.files:
        await hass.async_add_executor_job(_check_file, hass, path)


async def _entity_image(hass: HomeAssistant, entity_id: str) -> Attachment:
    # Imported here: the camera component pulls in its own requirements, which are only
    # guaranteed to be installed once a camera integration is set up.
    from homeassistant.components import camera, image  # noqa: PLC0415

    domain, object_id = split_entity_id(entity_id)
    try:
        if domain == "camera":
            snapshot: camera.Image | image.Image = await camera.async_get_image(hass, entity_id)
        else:
            snapshot = await image.async_get_image(hass, entity_id)
    except Exception as err:
        # Camera platforms raise whatever their library raises (RuntimeError, OSError, …).
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="snapshot_failed",
            translation_placeholders={"entity_id": entity_id},
        ) from err
    return Attachment(snapshot.content, f"{domain}_{object_id}", snapshot.content_type)


def _read(path: str) -> bytes:
    with Path(path).open("rb") as handle:
        return handle.read(MAX_SOURCE_BYTES + 1)


async def _file(hass: HomeAssistant, path: str, *, trusted: bool = False) -> Attachment:
    """Read a local file; `trusted` paths come from a media source, which did its own checks."""
    real = path if trusted else await hass.async_add_executor_job(_check_file, hass, path)
    try:
        content = await hass.async_add_executor_job(_read, real)
    except OSError as err:
        raise invalid("file_not_found", path=path) from err
    if len(content) > MAX_SOURCE_BYTES:
        raise invalid("attachment_too_large", source=path)
    return Attachment(content, Path(path).name, None)


async def _media(hass: HomeAssistant, media_id: str) -> Attachment:
    if media_id.startswith(("media-source://camera/", "media-source://image/")):
        # The camera and image media sources name the entity by its full id.
        entity_id = media_id.removeprefix("media-source://").split("/", 1)[1]
        _check_entity(hass, entity_id)
        return await _entity_image(hass, entity_id)
    try:
        resolved = await media_source.async_resolve_media(hass, media_id, None)
    except (media_source.Unresolvable, HomeAssistantError) as err:
        raise invalid("media_not_found", media_id=media_id) from err
    if resolved.path is None:
        raise invalid("media_not_supported", media_id=media_id)
    return await _file(hass, str(resolved.path), trusted=True)


async def _url(hass: HomeAssistant, url: str, verify_ssl: bool) -> Attachment:
    session = async_get_clientsession(hass, verify_ssl=verify_ssl)
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        _check_url(hass, current)
        try:
            async with session.get(current, timeout=FETCH_TIMEOUT, allow_redirects=False) as response:
                if response.status in (301, 302, 303, 307, 308) and "Location" in response.headers:
                    current = str(URL(current).join(URL(response.headers["Location"])))
                    continue
                if response.status != 200:
                    raise HomeAssistantError(
                        translation_domain=DOMAIN,
                        translation_key="url_fetch_failed",
                        translation_placeholders={"url": url, "error": f"HTTP {response.status}"},
                    )
                if (response.content_length or 0) > MAX_SOURCE_BYTES:
                    raise invalid("attachment_too_large", source=url)
                body = bytearray()
                async for chunk in response.content.iter_chunked(64 * 1024):
                    body += chunk
                    if len(body) > MAX_SOURCE_BYTES:
                        raise invalid("attachment_too_large", source=url)
                name = URL(current).name or "image"
                return Attachment(bytes(body), name, response.content_type)
        except (aiohttp.ClientError, TimeoutError) as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="url_fetch_failed",
                translation_placeholders={"url": url, "error": type(err).__name__},
            ) from err
    raise HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key="url_fetch_failed",
        translation_placeholders={"url": url, "error": "too many redirects"},
    )


async def collect(hass: HomeAssistant, sources: AttachmentSources) -> list[Attachment]:
    """Fetch every attachment concurrently; the result keeps the order cameras, media, files, URLs."""
    return list(
        await asyncio.gather(
            *(_entity_image(hass, entity_id) for entity_id in sources.cameras),
            *(_media(hass, media_id) for media_id in sources.media),
            *(_file(hass, path) for path in sources.files),
            *(_url(hass, url, sources.verify_ssl) for url in sources.urls),
        )
    )
