"""A demo camera for scripts/develop: a porch where a visitor walks up to the door, again and again.

Served next to the simulator as a still picture (`/_sim/camera.jpg`) and as an MJPEG stream
(`/_sim/camera.mjpg`), so that Home Assistant's MJPEG camera can show it and snapshots taken a second
apart differ: what a burst of frames is for. Pillow is only needed when this camera is switched on.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from pathlib import Path
import time
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from PIL import Image

WALK_SECONDS = 4.0  # from the left edge to the door
PAUSE_SECONDS = 2.0  # at the door, before the walk starts again
_STREAM_EVERY = 0.5
_BOUNDARY = "frame"


class PorchCamera:
    """Renders the porch at any moment: `picture` as the background, the visitor drawn on it."""

    def __init__(self, picture: Path) -> None:
        """Load the background once (any size; the visitor scales with it)."""
        from PIL import Image  # noqa: PLC0415 - only the demo needs Pillow

        with Image.open(picture) as opened:
            self._background: Image.Image = opened.convert("RGB")

    def render(self, moment: float) -> bytes:
        """The picture at `moment` (seconds since the epoch) as a JPEG."""
        from PIL import ImageDraw  # noqa: PLC0415

        image = self._background.copy()
        width, height = image.size
        phase = moment % (WALK_SECONDS + PAUSE_SECONDS)
        progress = min(1.0, phase / WALK_SECONDS)
        unit = height / 115  # the visitor is about as tall as the door
        x = width * (0.04 + 0.44 * progress)
        feet = height * 0.9
        draw = ImageDraw.Draw(image)
        stride = 0 if progress >= 1 else (1 if int(phase * 2) % 2 else -1) * 4 * unit
        for offset in (-stride, stride):  # legs
            draw.line((x, feet - 18 * unit, x + offset, feet), fill=(40, 40, 60), width=round(3 * unit))
        body = (x - 6 * unit, feet - 34 * unit, x + 6 * unit, feet - 16 * unit)
        draw.rounded_rectangle(body, radius=2 * unit, fill=(200, 60, 40))
        draw.ellipse((x - 4 * unit, feet - 43 * unit, x + 4 * unit, feet - 35 * unit), fill=(236, 190, 160))
        out = io.BytesIO()
        image.save(out, "JPEG", quality=85)
        return out.getvalue()


def add_demo_camera(app: web.Application, picture: Path) -> None:
    """Serve the porch camera from `app` (call before the simulator starts)."""
    camera = PorchCamera(picture)

    async def still(_request: web.Request) -> web.Response:
        body = await asyncio.get_running_loop().run_in_executor(None, camera.render, time.time())
        return web.Response(body=body, content_type="image/jpeg", headers={"Cache-Control": "no-store"})

    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": f"multipart/x-mixed-replace; boundary={_BOUNDARY}"}
        )
        await response.prepare(request)
        loop = asyncio.get_running_loop()
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            while True:
                body = await loop.run_in_executor(None, camera.render, time.time())
                head = f"--{_BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(body)}\r\n\r\n"
                await response.write(head.encode() + body + b"\r\n")
                await asyncio.sleep(_STREAM_EVERY)
        return response

    app.router.add_get("/_sim/camera.jpg", still)
    app.router.add_get("/_sim/camera.mjpg", stream)
