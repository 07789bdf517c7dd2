"""Service-call fields shared by the send action and the legacy notify service."""

from __future__ import annotations

from typing import Any

from homeassistant.helpers import config_validation as cv
import probatio as vol

from .const import (
    ATTR_CAMERA,
    ATTR_DATE,
    ATTR_FILE,
    ATTR_FILE_ID,
    ATTR_FRAME_INTERVAL,
    ATTR_FRAMES,
    ATTR_FRAMES_AS,
    ATTR_LOOKBACK,
    ATTR_MEDIA,
    ATTR_OVERLAY,
    ATTR_TEST,
    ATTR_URL,
    ATTR_VERIFY_SSL,
)
from .mms.attachments import AttachmentSources, media_content_id
from .mms.frames import motion_settings
from .mms.sender import MmsRequest

_LIST_OF_TEXT = vol.All(cv.ensure_list, [cv.string])

# Limits (title length, attachment count, …) are checked in code so that callers get translated errors.
ATTACHMENT_FIELDS: dict[vol.Marker, Any] = {
    vol.Optional(ATTR_CAMERA): _LIST_OF_TEXT,
    vol.Optional(ATTR_MEDIA): vol.All(cv.ensure_list, [vol.Any(cv.string, dict)]),
    vol.Optional(ATTR_FILE): _LIST_OF_TEXT,
    vol.Optional(ATTR_URL): _LIST_OF_TEXT,
    vol.Optional(ATTR_VERIFY_SSL, default=True): cv.boolean,
    vol.Optional(ATTR_FILE_ID): _LIST_OF_TEXT,
    vol.Optional(ATTR_DATE): cv.datetime,
    vol.Optional(ATTR_TEST, default=False): cv.boolean,
    # Numbers and a word here; their ranges and values are checked in code (mms/motion.py).
    vol.Optional(ATTR_FRAMES): vol.Coerce(float),
    vol.Optional(ATTR_FRAME_INTERVAL): vol.Coerce(float),
    vol.Optional(ATTR_FRAMES_AS): cv.string,
    vol.Optional(ATTR_OVERLAY, default=False): cv.boolean,
    vol.Optional(ATTR_LOOKBACK): vol.Coerce(float),  # seconds; range checked in mms/lookback.py
}


def build_request(
    phones: list[str], message: str | None, title: str | None, data: dict[str, Any]
) -> MmsRequest:
    """An MmsRequest from validated service data."""
    return MmsRequest(
        phones=phones,
        message=message or None,
        title=title or None,
        sources=AttachmentSources(
            cameras=list(data.get(ATTR_CAMERA, [])),
            media=[media_content_id(value) for value in data.get(ATTR_MEDIA, [])],
            files=list(data.get(ATTR_FILE, [])),
            urls=list(data.get(ATTR_URL, [])),
            verify_ssl=bool(data.get(ATTR_VERIFY_SSL, True)),
            motion=motion_settings(
                data.get(ATTR_FRAMES),
                data.get(ATTR_FRAME_INTERVAL),
                data.get(ATTR_FRAMES_AS),
                bool(data.get(ATTR_OVERLAY, False)),
                data.get(ATTR_LOOKBACK),
            ),
        ),
        file_ids=list(data.get(ATTR_FILE_ID, [])),
        date=data.get(ATTR_DATE),
        test=bool(data.get(ATTR_TEST, False)),
    )
