"""Benchmark of the send path and of delivery tracking (run by scripts/bench, not by scripts/test).

Runs inside the Home Assistant test harness against the simulator with an injected per-request
latency (RTT) and prints medians of several runs, with the ratio to the ideal. Figures, not asserts.
Delivery tracking runs at the product's default schedule on a simulated clock (the freezer); so does
the outbox, on a clock that follows real time while the integration works (see `BenchClock`). The
gateway-storage case feeds 5,000 pictures straight to the account's file-id table.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import timedelta
import hashlib
import io
import itertools
import json
import os
from pathlib import Path
import statistics
import time
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
import homeassistant
from homeassistant.core import HomeAssistant
from homeassistant.helpers.json import prepare_save_json
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util
import numpy as np
from PIL import Image, ImageDraw
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
)

from custom_components.serwersms.const import CONF_DAILY_LIMIT
from custom_components.serwersms.mms.fitting import Animation, Picture, fit_all
from custom_components.serwersms.mms.gif import Label, fit_burst
from custom_components.serwersms.mms.images import fit_image
from custom_components.serwersms.mms.sender import MmsRequest
from serwersms_simulator import SerwerSmsSimulator
from tests.conftest import SnapshotCamera

RTT = float(os.environ.get("BENCH_RTT_MS", "50")) / 1000
RUNS = max(5, int(os.environ.get("BENCH_RUNS", "5")))
JSON_OUT = os.environ.get("BENCH_JSON")
BUDGET = 300 * 1024
DEMO = Path(homeassistant.__file__).parent / "components/demo/demo_0.jpg"


def photo(width: int, height: int, seed: int, fmt: str = "JPEG") -> bytes:
    """A photo-like picture: Home Assistant's demo photo scaled up, with sensor-like noise."""
    base = Image.open(DEMO).convert("RGB").resize((width, height), Image.Resampling.BICUBIC)
    noise = np.random.default_rng(seed).normal(0, 4, (height, width, 3))
    image = Image.fromarray(np.clip(np.asarray(base, dtype=np.float32) + noise, 0, 255).astype(np.uint8))
    out = io.BytesIO()
    if fmt == "GIF":
        image.convert("P", palette=Image.Palette.ADAPTIVE).save(out, "GIF")
    elif fmt == "PNG":
        image.save(out, "PNG")
    else:
        image.save(out, "JPEG", quality=92)
    return out.getvalue()


@pytest.fixture
def recipients() -> list[tuple[str, list[str]]]:
    """Three recipient entities, for the one-call-one-send case."""
    return [
        ("Mom", ["+48500600700"]),
        ("Family", ["+48500600701", "+48500600702"]),
        ("Neighbour", ["+48500600703"]),
    ]


def distinct_snapshots(count: int) -> list[bytes]:
    """`count` different 1920x1080 camera snapshots (the same scene, a different mark on each)."""
    base = Image.open(io.BytesIO(photo(1920, 1080, 7))).convert("RGB")
    snapshots = []
    for i in range(count):
        frame = base.copy()
        ImageDraw.Draw(frame).rectangle(
            (20 + 8 * (i % 200), 20, 60 + 8 * (i % 200), 60), fill=(i % 256, 90, 200)
        )
        out = io.BytesIO()
        frame.save(out, "JPEG", quality=92)
        snapshots.append(out.getvalue())
    return snapshots


def rss_mb() -> float:
    """Resident memory of this process now, in MB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def walking_frames(count: int, width: int, height: int, seed: int) -> list[bytes]:
    """Camera frames of one scene: the demo photo with sensor-like noise, a figure walking across."""
    base = Image.open(DEMO).convert("RGB").resize((width, height), Image.Resampling.BICUBIC)
    rng = np.random.default_rng(seed)
    frames = []
    for step in range(count):
        pixels = np.asarray(base, dtype=np.float32).copy()
        x = int(width * (0.1 + 0.12 * step))
        pixels[height // 3 : height * 9 // 10, x : x + width // 12] = (150, 40, 40)
        pixels += rng.normal(0, 4, pixels.shape)
        out = io.BytesIO()
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(out, "JPEG", quality=92)
        frames.append(out.getvalue())
    return frames


class BurstCamera(SnapshotCamera):
    """A camera that answers each snapshot with the next of its `frames`."""

    def __init__(self, name: str) -> None:
        super().__init__(name, b"")
        self.frames: list[bytes] = []

    async def async_camera_image(self, width: int | None = None, height: int | None = None) -> bytes | None:
        self.snapshots += 1
        return self.frames[(self.snapshots - 1) % len(self.frames)]


def gateway_requests(sim: SerwerSmsSimulator, since: int) -> int:
    return sum(1 for r in sim.requests[since:] if r.endpoint != "account/limits")


async def timed(call: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await call()
    return (time.perf_counter() - started) * 1000


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def no_daily_limit(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """The spending guard off (`daily_limit: 0`): the benchmark sends far more than 100 MMS a number."""
    hass.config_entries.async_update_entry(entry, options={**entry.options, CONF_DAILY_LIMIT: 0})


def table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    """Rows under a header, in columns."""
    width = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    lines = [" | ".join(h.ljust(w) for h, w in zip(header, width, strict=True))]
    lines.append("-+-".join("-" * w for w in width))
    lines += [" | ".join(c.ljust(w) for c, w in zip(row, width, strict=True)) for row in rows]
    return "\n".join(lines)


def write_figures(figures: dict[str, Any], what: str) -> None:
    """Add `figures` to the JSON file of `scripts/bench --json`, if one was asked for."""
    if JSON_OUT:
        path = Path(JSON_OUT)
        merged = json.loads(path.read_text()) if path.exists() else {}
        path.write_text(json.dumps(merged | figures, indent=2) + "\n")
        print(f"\n{what} figures written to {JSON_OUT}")


@pytest.fixture
def stores_written_as_home_assistant_writes_them(hass_storage: dict[str, Any]) -> Iterator[None]:
    """Storage writes cost the loop what they cost in Home Assistant, not what the harness's mock costs.

    The harness's `mock_storage` serializes every store in the event loop, walks it for mocks and parses
    it back (~20 ms for 5,000 pending delivery ids), which a stall figure would then blame on the
    integration. Here a store is written as Home Assistant 2026.10's `Store` writes it: serialized in
    the loop only when the store asks for it, the file written in the executor (to this test's config
    folder). Nothing in this benchmark reads a store back, so the mock's copy is not kept up to date.
    """

    def prepare(store: Store[Any], data: dict[str, Any]) -> tuple[str, str | bytes]:
        if "data_func" in data:
            data["data"] = data.pop("data_func")()
        return prepare_save_json(data, encoder=store._encoder)

    def prepare_and_write(store: Store[Any], data: dict[str, Any]) -> None:
        store._write_prepared_data(*prepare(store, data))

    async def write(store: Store[Any], data: dict[str, Any]) -> None:
        if store._serialize_in_event_loop:
            await store.hass.async_add_executor_job(store._write_prepared_data, *prepare(store, data))
        else:
            await store.hass.async_add_executor_job(prepare_and_write, store, data)

    # Patched inside the harness's storage mock and undone before it: a monkeypatch undone after the
    # mock's own patch would leave the mock on `Store` for every later test of the run.
    with patch.object(Store, "_async_write_data", write):
        yield


@pytest.mark.usefixtures("stores_written_as_home_assistant_writes_them")
async def test_benchmark(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
) -> None:
    loop = asyncio.get_running_loop()
    loop.set_debug(False)  # Home Assistant runs without asyncio debug mode; the harness turns it on
    simulator.credits = None
    no_daily_limit(hass, loaded_entry)
    rtt_ms = RTT * 1000
    figures: dict[str, float] = {"rtt_ms": rtt_ms, "runs": RUNS}
    rows: list[tuple[str, str, str, str]] = []

    async def measure(call: Callable[[], Awaitable[Any]]) -> tuple[float, int]:
        """Wall time of one call, and the gateway requests it made (credit checks aside)."""
        since = len(simulator.requests)
        wall = await timed(call)
        return wall, gateway_requests(simulator, since)

    async def action(target: str, **data: Any) -> None:
        await hass.services.async_call(
            "serwersms", "send_mms", {"entity_id": target, **data}, blocking=True, return_response=True
        )

    # 4. fitting alone (also the "fit time" in the ideal of 1)
    fit_inputs = {
        "fit_jpeg_4000x3000": photo(4000, 3000, 1),
        "fit_png_1920x1080": photo(1920, 1080, 2, "PNG"),
        "fit_gif_800x600": photo(800, 600, 3, "GIF"),
    }
    for key, data in fit_inputs.items():
        times, size = [], 0
        for _ in range(RUNS):
            started = time.perf_counter()
            size = len(fit_image(data, "x", BUDGET).content)
            times.append((time.perf_counter() - started) * 1000)
        figures[f"{key}_ms"] = median(times)
        figures[f"{key}_kb"] = round(size / 1024, 1)
        figures[f"{key}_input_kb"] = round(len(data) / 1024, 1)
    fit_ms = figures["fit_jpeg_4000x3000_ms"]

    simulator.latency = RTT
    # 1. a new 4000x3000 snapshot to one recipient
    snapshots = [photo(4000, 3000, 100 + i) for i in range(RUNS)]
    walls, requests = [], []
    for snapshot in snapshots:
        front_door.image = snapshot
        wall, count = await measure(lambda: action("notify.mom_mms", camera="camera.front_door"))
        walls.append(wall)
        requests.append(count)
    figures["new_snapshot_ms"], figures["new_snapshot_requests"] = median(walls), median(requests)
    ideal = 2 * rtt_ms + fit_ms
    rows.append(
        (
            "1 new 4000x3000 snapshot, 1 recipient",
            f"{median(requests):.0f} (ideal 2)",
            f"{median(walls):.0f} ms (ideal {ideal:.0f}; x{median(walls) / ideal:.2f})",
            f"<= {2 * rtt_ms + 150:.0f} ms",
        )
    )

    # 2. the same snapshot again
    walls, requests = [], []
    for _ in range(RUNS):
        wall, count = await measure(lambda: action("notify.mom_mms", camera="camera.front_door"))
        walls.append(wall)
        requests.append(count)
    figures["cached_ms"], figures["cached_requests"] = median(walls), median(requests)
    rows.append(
        (
            "2 same snapshot again",
            f"{median(requests):.0f} (ideal 1)",
            f"{median(walls):.0f} ms (ideal {rtt_ms:.0f}; x{median(walls) / rtt_ms:.2f})",
            f"<= {rtt_ms + 20:.0f} ms",
        )
    )

    # 3. one image to 1000 recipients
    numbers = [f"+4850{i:07d}" for i in range(1000)]
    walls, requests = [], []
    for i in range(RUNS):
        front_door.image = photo(1280, 960, 200 + i)
        wall, count = await measure(
            lambda: hass.services.async_call(
                "notify",
                "serwersms",
                {"message": "m", "target": numbers, "data": {"camera": "camera.front_door"}},
                blocking=True,
            )
        )
        walls.append(wall)
        requests.append(count)
    figures["recipients_1000_ms"], figures["recipients_1000_requests"] = median(walls), median(requests)
    rows.append(
        (
            "3 one image, 1000 recipients",
            f"{median(requests):.0f} (ideal 11)",
            f"{median(walls):.0f} ms (ideal {3 * rtt_ms:.0f}; x{median(walls) / (3 * rtt_ms):.2f})",
            f"<= {3 * rtt_ms + 100:.0f} ms",
        )
    )

    # 5. longest event-loop stall during a 10-attachment send
    folder = Path(hass.config.path("bench"))
    folder.mkdir(exist_ok=True)
    hass.config.allowlist_external_dirs = {str(folder.resolve())}  # .venv may be a symlink
    stalls_per_run = []
    for run in range(RUNS):
        paths = []
        for j in range(10):
            path = folder / f"a{run}_{j}.jpg"
            path.write_bytes(photo(1600, 1200, 1000 + run * 10 + j))
            paths.append(str(path))
        stalls: list[float] = []
        running = True

        async def probe() -> None:
            while running:
                started = loop.time()
                await asyncio.sleep(0.002)
                stalls.append(loop.time() - started - 0.002)

        prober = asyncio.create_task(probe())
        await action("notify.mom_mms", file=paths)
        running = False
        await prober
        stalls_per_run.append(max(stalls) * 1000)
    figures["max_loop_stall_ms"] = max(stalls_per_run)
    rows.append(
        (
            "5 longest loop stall, 10-attachment send",
            "",
            f"{max(stalls_per_run):.1f} ms (max of runs)",
            "<= 20 ms",
        )
    )

    # 6. naive baseline: one upload and one send per recipient, as most notify integrations do
    client = loaded_entry.runtime_data.client
    ten = numbers[:10]
    base_walls, base_requests, our_walls, our_requests = [], [], [], []
    for i in range(RUNS):
        image = photo(1280, 960, 300 + i)
        fitted = (await hass.async_add_executor_job(fit_all, [Picture(image, "snap.jpg")], BUDGET))[0]

        async def naive(fitted: Any = fitted) -> None:
            for phone in ten:
                file_id = await client.upload_file(
                    fitted.content, filename="snap.jpg", content_type="image/jpeg"
                )
                await client.send_mms([phone], title="Alarm", file_ids=[file_id])

        wall, count = await measure(naive)
        base_walls.append(wall)
        base_requests.append(count)
        front_door.image = photo(1280, 960, 400 + i)
        wall, count = await measure(
            lambda: hass.services.async_call(
                "notify",
                "serwersms",
                {"message": "m", "title": "Alarm", "target": ten, "data": {"camera": "camera.front_door"}},
                blocking=True,
            )
        )
        our_walls.append(wall)
        our_requests.append(count)
    figures["baseline_ms"], figures["baseline_requests"] = median(base_walls), median(base_requests)
    figures["ours_10_ms"], figures["ours_10_requests"] = median(our_walls), median(our_requests)
    figures["baseline_ratio_requests"] = figures["ours_10_requests"] / figures["baseline_requests"]
    figures["baseline_ratio_wall"] = figures["ours_10_ms"] / figures["baseline_ms"]
    rows.append(
        (
            "6 10 recipients: naive baseline",
            f"{figures['baseline_requests']:.0f}",
            f"{figures['baseline_ms']:.0f} ms",
            "",
        )
    )
    rows.append(
        (
            "6 10 recipients: this integration",
            f"{figures['ours_10_requests']:.0f} (x{figures['baseline_ratio_requests']:.2f})",
            f"{figures['ours_10_ms']:.0f} ms (x{figures['baseline_ratio_wall']:.2f})",
            "<= x0.20 both",
        )
    )

    # 7. one call to three recipient entities with a live camera: one snapshot, one upload, one send
    front_door.image = photo(1920, 1080, 500)
    snapshots_before, since = front_door.snapshots, len(simulator.requests)
    await hass.services.async_call(
        "serwersms",
        "send_mms",
        {
            "entity_id": ["notify.mom_mms", "notify.family_mms", "notify.neighbour_mms"],
            "camera": "camera.front_door",
        },
        blocking=True,
        return_response=True,
    )
    figures["multi_target_snapshots"] = front_door.snapshots - snapshots_before
    figures["multi_target_uploads"] = sum(1 for r in simulator.requests[since:] if r.endpoint == "files/add")
    figures["multi_target_sends"] = sum(
        1 for r in simulator.requests[since:] if r.endpoint == "messages/send_mms"
    )
    rows.append(
        (
            "7 one call: 3 recipient entities + 1 camera",
            f"{figures['multi_target_uploads']:.0f} upload + {figures['multi_target_sends']:.0f} send",
            f"{figures['multi_target_snapshots']:.0f} snapshot",
            "1 snapshot, 1 upload, 1 send",
        )
    )

    # 8. alarms at once: N sends, each of a different 1920x1080 snapshot
    async def concurrent(count: int) -> tuple[float, float, int]:
        """Longest loop stall (ms), peak memory growth (MB) and MMS queued for `count` sends at once."""
        pending = distinct_snapshots(count)

        async def next_snapshot(width: int | None = None, height: int | None = None) -> bytes:
            return pending.pop(0)

        front_door.async_camera_image = next_snapshot  # type: ignore[method-assign]
        stalls: list[float] = []
        memory: list[float] = []
        running = True

        async def probe() -> None:
            while running:
                started = loop.time()
                await asyncio.sleep(0.005)
                stalls.append(loop.time() - started - 0.005)
                memory.append(rss_mb())

        async def one(i: int) -> Any:
            await asyncio.sleep(0)  # each alarm starts in its own loop iteration, as automations do
            return await hass.services.async_call(
                "serwersms",
                "send_mms",
                {"entity_id": "notify.mom_mms", "camera": "camera.front_door", "title": f"Alarm {i}"},
                blocking=True,
                return_response=True,
            )

        before = rss_mb()
        prober = asyncio.create_task(probe())
        results = await asyncio.gather(*(one(i) for i in range(count)))
        running = False
        await prober
        del front_door.async_camera_image
        queued = sum(r["notify.mom_mms"]["queued"] for r in results)  # type: ignore[index]
        return max(stalls) * 1000, max(memory) - before, queued

    stall50, peak50, sent50 = await concurrent(50)
    figures["concurrent50_max_stall_ms"] = round(stall50, 1)
    figures["concurrent50_peak_mb"] = round(peak50, 1)
    figures["concurrent50_sent"] = sent50
    stall200, peak200, sent200 = await concurrent(200)
    figures["concurrent200_max_stall_ms"] = round(stall200, 1)
    figures["concurrent200_peak_mb"] = round(peak200, 1)
    figures["concurrent200_sent"] = sent200
    rows.append(
        (
            "8 50 sends at once, distinct 1920x1080 snapshots",
            f"{sent50} sent",
            f"stall {stall50:.0f} ms, memory +{peak50:.0f} MB",
            "<= 50 ms, <= 300 MB",
        )
    )
    rows.append(
        (
            "8 200 sends at once, distinct 1920x1080 snapshots",
            f"{sent200} sent",
            f"stall {stall200:.0f} ms, memory +{peak200:.0f} MB",
            "",
        )
    )

    # 9. motion: six 1280x960 frames into one GIF, and a two-camera burst against the event loop
    frames = walking_frames(6, 1280, 960, 500)
    times, size = [], 0
    for _ in range(RUNS):
        started = time.perf_counter()
        size = len(fit_burst(frames, "camera_front_door", BUDGET, 1000).content)
        times.append((time.perf_counter() - started) * 1000)
    figures["fit_gif_6x1280x960_ms"] = median(times)
    figures["fit_gif_6x1280x960_kb"] = round(size / 1024, 1)
    rows.append(
        (
            "9 fit 6 frames 1280x960 into one GIF",
            "",
            f"{median(times):.0f} ms -> {size / 1024:.0f} KB",
            "<= 400 ms, <= 300 KB",
        )
    )
    from homeassistant.components.camera import DATA_COMPONENT  # noqa: PLC0415

    burst_cameras = [BurstCamera("Porch"), BurstCamera("Garden")]
    await hass.data[DATA_COMPONENT].async_add_entities(burst_cameras)
    stalls_per_run = []
    for run in range(RUNS):
        for index, camera in enumerate(burst_cameras):
            camera.frames = walking_frames(6, 1280, 960, 600 + run * 2 + index)
        stalls = []
        running = True

        async def probe_stalls() -> None:
            while running:
                started = loop.time()
                await asyncio.sleep(0.002)
                stalls.append(loop.time() - started - 0.002)

        prober = asyncio.create_task(probe_stalls())
        await action(
            "notify.mom_mms",
            camera=["camera.porch", "camera.garden"],
            frames=6,
            frame_interval=0.2,
            overlay=True,
        )
        running = False
        await prober
        stalls_per_run.append(max(stalls) * 1000)
    figures["motion_2x6_max_stall_ms"] = max(stalls_per_run)
    rows.append(
        (
            "9 longest loop stall, 2 cameras x 6 frames",
            "",
            f"{max(stalls_per_run):.1f} ms (max of runs)",
            "<= 20 ms",
        )
    )

    for key in fit_inputs:
        rows.insert(
            3 + list(fit_inputs).index(key),
            (
                f"4 fit {key.removeprefix('fit_')} ({figures[key + '_input_kb']:.0f} KB in)",
                "",
                f"{figures[key + '_ms']:.0f} ms -> {figures[key + '_kb']:.0f} KB",
                "<= 150 ms" if "jpeg" in key else "",
            ),
        )

    width = [max(len(row[i]) for row in rows) for i in range(4)]
    header = ("case", "gateway requests", "wall (median)", "target")
    width = [max(w, len(h)) for w, h in zip(width, header, strict=True)]
    lines = [" | ".join(h.ljust(w) for h, w in zip(header, width, strict=True))]
    lines.append("-+-".join("-" * w for w in width))
    lines += [" | ".join(c.ljust(w) for c, w in zip(row, width, strict=True)) for row in rows]
    print(
        f"\nSerwerSMS send-path benchmark: RTT {rtt_ms:.0f} ms, median of {RUNS} runs, {os.cpu_count()} CPUs\n"
    )
    print("\n".join(lines))
    if JSON_OUT:
        Path(JSON_OUT).write_text(json.dumps(figures, indent=2) + "\n")
        print(f"\nfigures written to {JSON_OUT}")
    loop.set_debug(True)


async def test_delivery_benchmark(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Delivery tracking at the product's default schedule, on a simulated clock (the freezer)."""
    loop = asyncio.get_running_loop()
    loop.set_debug(False)  # each simulated minute would otherwise be logged as a slow callback
    freezer.move_to("2026-11-25 12:00:00+00:00")
    simulator.credits = None
    reports = "messages/reports"

    async def advance(seconds: int, step: int = 1) -> None:
        for _ in range(0, seconds, step):
            freezer.tick(timedelta(seconds=step))
            async_fire_time_changed(hass)
            await hass.async_block_till_done(wait_background_tasks=True)

    # How long after the gateway's report turned final Home Assistant fired the event, for MMS whose
    # report turns final 3 s … 5 min after the send (each MMS followed on its own).
    fired = async_capture_events(hass, "serwersms_mms_delivery")
    final_after = [3, 6, 10, 15, 20, 30, 45, 60, 120, 300]
    latencies = []
    for delay in final_after:
        simulator.delivery_delay = delay
        fired.clear()
        await hass.services.async_call(
            "notify", "send_message", {"entity_id": "notify.mom_mms", "message": "m"}, blocking=True
        )
        message = simulator.messages[-1]
        for _ in range(1800):
            if fired:
                break
            await advance(1)
        latencies.append(fired[0].time_fired.timestamp() - message.final_at)
    # 1,200 numbers pending: requests in one poll.
    simulator.delivery_delay = 3 * 3600
    numbers = [f"+4851{i:07d}" for i in range(1200)]
    await hass.services.async_call("notify", "serwersms", {"message": "m", "target": numbers}, blocking=True)
    since = len(simulator.requests_to(reports))
    await advance(30)
    per_poll_1200 = len(simulator.requests_to(reports)) - since
    # An account with nothing left to follow (everything final or given up on), for a whole day.
    await advance(24 * 3600 + 600, step=60)
    since = len(simulator.requests_to(reports))
    await advance(24 * 3600, step=60)
    idle_day = len(simulator.requests_to(reports)) - since

    figures = {
        "reports_requests_per_poll_1200": per_poll_1200,
        "reports_requests_idle_day": idle_day,
        "delivery_event_after_final_median_s": median(latencies),
        "delivery_event_after_final_max_s": max(latencies),
    }
    rows = [
        ("10 delivery: 1200 MMS pending, one poll", f"{per_poll_1200} (ideal 3)", "", "<= 3"),
        ("10 delivery: a day with nothing pending", f"{idle_day} (ideal 0)", "", "0"),
        (
            "10 delivery: report final -> HA event",
            "",
            f"{median(latencies):.1f} s (max {max(latencies):.0f} s; simulated clock)",
            "",
        ),
    ]
    header = ("case", "gateway requests", "latency (median)", "target")
    width = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    lines = [" | ".join(h.ljust(w) for h, w in zip(header, width, strict=True))]
    lines.append("-+-".join("-" * w for w in width))
    lines += [" | ".join(c.ljust(w) for c, w in zip(row, width, strict=True)) for row in rows]
    print(
        "\nSerwerSMS delivery benchmark: default schedule (first poll 30 s, doubling, at most 10 min), "
        f"simulated clock; {len(latencies)} MMS whose report turns final {final_after[0]}-{final_after[-1]} s "
        "after the send\n"
    )
    print("\n".join(lines))
    if JSON_OUT:
        path = Path(JSON_OUT)
        merged = json.loads(path.read_text()) if path.exists() else {}
        path.write_text(json.dumps(merged | figures, indent=2) + "\n")
        print(f"\ndelivery figures written to {JSON_OUT}")
    loop.set_debug(True)


def real_seconds() -> float:
    """Real (monotonic) seconds, also under the freezer, which patches time.monotonic and perf_counter."""
    return time.clock_gettime(time.CLOCK_MONOTONIC)


class BenchClock:
    """Home Assistant's clock for the outbox case: the freezer, moved by the benchmark.

    While the integration works (a send, a retry, the drain) the clock follows real time, so the
    client's real back-off between attempts and the simulator's RTT take their real length. While
    it only waits for its schedule (`idle()`: no drain running) the clock moves on 0.1 s at a time
    without waiting, so half a minute of retry schedule costs a fraction of a second.
    """

    IDLE_STEP = 0.1
    REAL_SLICE = 0.002

    def __init__(self, hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
        self._hass = hass
        self._freezer = freezer

    @staticmethod
    def now() -> float:
        """Home Assistant's time now (epoch seconds)."""
        return dt_util.utcnow().timestamp()

    async def run(
        self,
        done: Callable[[], bool],
        *,
        idle: Callable[[], bool] = lambda: False,
        idle_step: float = IDLE_STEP,
        limit: float = 900.0,
    ) -> None:
        """Let time pass until `done()`; more than `limit` seconds of Home Assistant time fails.

        While `idle()` the clock moves at least `idle_step` a turn (the precision of what is timed).
        """
        started = self.now()
        last = real_seconds()
        while not done():
            if self.now() - started > limit:
                raise TimeoutError(f"not done after {limit:.0f} s of Home Assistant time")
            # Real time passes off the loop; meanwhile the loop serves sockets and finished jobs.
            await self._hass.async_add_executor_job(time.sleep, self.REAL_SLICE)
            now = real_seconds()
            step = now - last
            last = now
            if idle():
                step = max(step, idle_step)
            self._freezer.tick(timedelta(seconds=step))  # due timers run on the loop's next turn


async def test_outbox_benchmark(
    freezer: FrozenDateTimeFactory,
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
) -> None:
    """Outbox: 50 MMS deferred in an outage, drained when the gateway returns (default schedule)."""
    loop = asyncio.get_running_loop()
    loop.set_debug(False)
    simulator.credits = None
    no_daily_limit(hass, loaded_entry)
    simulator.latency = RTT
    clock = BenchClock(hass, freezer)
    outbox = loaded_entry.runtime_data.outbox

    def draining() -> bool:
        # Whether the outbox is trying the gateway now (its probe, or a drain); it has no public handle.
        return outbox._drain_task is not None or outbox._probe_task is not None

    def waiting() -> bool:
        return not draining()

    async def defer(prefix: str, count: int) -> None:
        """`count` sends at once while the gateway is down, each a different 1920x1080 snapshot."""
        pending = distinct_snapshots(count)

        async def next_snapshot(width: int | None = None, height: int | None = None) -> bytes:
            return pending.pop(0)

        front_door.async_camera_image = next_snapshot  # type: ignore[method-assign]

        async def one(i: int) -> Any:
            return await hass.services.async_call(
                "serwersms",
                "send_mms",
                {"entity_id": "notify.mom_mms", "camera": "camera.front_door", "message": f"{prefix}{i:02d}"},
                blocking=True,
                return_response=True,
            )

        sends = asyncio.gather(*(one(i) for i in range(count)))
        await clock.run(sends.done)
        del front_door.async_camera_image
        deferred = sum(r["notify.mom_mms"]["deferred"] for r in sends.result())
        assert deferred == count, f"{deferred} of {count} sends deferred"

    tries: list[tuple[float, float]] = []  # (began, gave up) of each probe that found the gateway down
    client = loaded_entry.runtime_data.client
    real_reachable = client.reachable

    async def timed_probe(wait: float) -> bool:
        began = clock.now()
        answered = await real_reachable(wait)
        if not answered:
            tries.append((began, clock.now()))
        return answered

    client.reachable = timed_probe  # type: ignore[method-assign]

    async def until_a_try_fails(count: int = 1) -> None:
        """Let the outbox probe the gateway (and find it down) `count` more times."""
        seen = len(tries) + count
        await clock.run(lambda: len(tries) >= seen, idle=waiting)

    # A: 50 MMS deferred; the gateway comes back right after one of the outbox's tries failed, the
    # longest the schedule can make them wait.
    await simulator.go_offline()
    await defer("A", 50)
    await until_a_try_fails(3)
    retry_after_failure = median([b[0] - a[1] for a, b in itertools.pairwise(tries)])
    try_length = median([end - began for began, end in tries])
    order = [m.text for m in outbox.waiting]
    requests_before = len(simulator.requests)
    await simulator.go_online()
    returned = clock.now()
    drain_started_real = 0.0

    def fifty_accepted() -> bool:
        nonlocal drain_started_real
        if not drain_started_real and draining():
            drain_started_real = real_seconds()
        return len(simulator.messages) >= 50

    await clock.run(fifty_accepted, idle=waiting)
    drain_wall = real_seconds() - drain_started_real
    first_request = next(
        r.at for r in simulator.requests[requests_before:] if r.endpoint in ("files/add", "messages/send_mms")
    )
    last_accepted = simulator.messages[49].created
    drain_50 = last_accepted - returned
    in_order = [m.text for m in simulator.messages[:50]] == order

    # B: 50 more, and a second outage in the middle of their drain: the gateway goes down again right
    # after the 20th of them, stays down 60 s, comes back.
    await simulator.go_offline()
    await defer("B", 50)
    await until_a_try_fails()
    order += [m.text for m in outbox.waiting]
    simulator.sends_until_outage = 20
    await simulator.go_online()
    await clock.run(lambda: not simulator.online, idle=waiting)
    down = clock.now()
    accepted_before_second_outage = len(simulator.messages) - 50
    await clock.run(lambda: clock.now() >= down + 60, idle=waiting)
    await simulator.go_online()
    await clock.run(lambda: len(simulator.messages) >= 100, idle=waiting)
    # Then ten minutes more: anything sent twice would show up by now.
    settled = clock.now()
    await clock.run(lambda: clock.now() >= settled + 600, idle=waiting, idle_step=1.0)

    texts = Counter(m.text for m in simulator.messages)
    duplicates = sum(count - 1 for count in texts.values())
    lost = sum(1 for text in order if text not in texts)
    in_order = in_order and [m.text for m in simulator.messages] == order
    figures = {
        "outbox_drain_50_s": round(drain_50, 1),
        "outbox_first_try_after_return_s": round(first_request - returned, 1),
        "outbox_drain_50_wall_s": round(drain_wall, 1),
        "outbox_retry_after_failure_s": round(retry_after_failure, 1),
        "outbox_failed_try_s": round(try_length, 1),
        "outbox_duplicates": duplicates,
        "outbox_lost": lost,
        "outbox_in_order": int(in_order),
        "outbox_waiting_after": len(outbox),
        "outbox_second_outage_after": accepted_before_second_outage,
    }
    rows = [
        (
            "11 outbox: gateway back -> last of 50 deferred MMS accepted",
            f"{drain_50:.1f} s (first request at the gateway {first_request - returned:.1f} s after its return, "
            f"then the 50 uploads and sends {drain_wall:.1f} s real)",
            "<= 15 s",
        ),
        (
            "11 outbox: gateway down, next probe after a failed one",
            f"{retry_after_failure:.1f} s after it gave up (a probe takes {try_length:.1f} s)",
            "5 s",
        ),
        (
            f"11 outbox: 100 MMS, second outage after {accepted_before_second_outage}",
            f"{duplicates} duplicated, {lost} lost, {'in' if in_order else 'OUT OF'} order, "
            f"{len(outbox)} left waiting",
            "0, 0, in order, 0",
        ),
    ]
    print(
        f"\nSerwerSMS outbox benchmark: default schedule (a probe every 5 s while MMS wait), RTT {RTT * 1000:.0f} ms; "
        "Home Assistant's clock (simulated) follows real time while the integration works and skips "
        "ahead while it only waits\n"
    )
    print(table(("case", "figure", "target"), rows))
    write_figures(figures, "outbox")
    loop.set_debug(True)


async def test_outbox_text_benchmark(
    freezer: FrozenDateTimeFactory,
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    """Outage: 50 text-only alarms at once while the gateway refuses connections, until all are answered.

    Every call should come back `deferred` quickly: an alarm must not wait behind the others' retries.
    """
    loop = asyncio.get_running_loop()
    loop.set_debug(False)
    no_daily_limit(hass, loaded_entry)
    simulator.latency = RTT
    clock = BenchClock(hass, freezer)
    await simulator.go_offline()
    requests_before = len(simulator.requests)

    async def one(i: int) -> Any:
        return await hass.services.async_call(
            "serwersms",
            "send_mms",
            {"entity_id": "notify.mom_mms", "message": f"text alarm {i:02d}"},
            blocking=True,
            return_response=True,
        )

    started, started_real = clock.now(), real_seconds()
    sends = asyncio.gather(*(one(i) for i in range(50)))
    await clock.run(sends.done)
    answered, answered_real = clock.now() - started, real_seconds() - started_real
    deferred = sum(r["notify.mom_mms"]["deferred"] for r in sends.result())
    figures = {
        "outbox_50_text_answered_s": round(answered, 2),
        "outbox_50_text_deferred": deferred,
    }
    rows = [
        (
            "11 outbox: 50 text alarms at once, gateway down -> all answered",
            f"{answered:.2f} s ({answered_real:.2f} s real), {deferred} of 50 deferred, "
            f"{len(simulator.requests) - requests_before} requests reached the gateway",
            "<= 2 s, 50 deferred",
        ),
    ]
    print("\nSerwerSMS outage benchmark: 50 text-only send_mms calls at once while connections are refused\n")
    print(table(("case", "figure", "target"), rows))
    write_figures(figures, "outage")
    loop.set_debug(True)


def test_overlay_benchmark() -> None:
    """Picture work alone: ten cameras of ten stamped frames, each camera named with 200 characters."""
    started_at = dt_util.now()
    names = [(f"Camera {c} by the old apple tree behind the garden shed, " * 5)[:200] for c in range(10)]
    items = [
        Animation(
            tuple(walking_frames(10, 1280, 960, 800 + c)),
            f"camera_{c}",
            1000,
            tuple(Label(names[c], started_at + timedelta(seconds=k)) for k in range(10)),
        )
        for c in range(10)
    ]
    times, cpu, fitted = [], [], []
    for _ in range(RUNS):
        started, started_cpu = time.perf_counter(), time.thread_time()
        fitted = fit_all(items, BUDGET)
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.thread_time() - started_cpu) * 1000)
    size = sum(len(picture.content) for picture in fitted)
    figures = {
        "overlay_long_name_burst_ms": round(median(times)),
        "overlay_long_name_burst_cpu_ms": round(median(cpu)),
        "overlay_long_name_burst_kb": round(size / 1024, 1),
    }
    rows = [
        (
            "13 fit 10 cameras x 10 stamped 1280x960 frames, 200-character names",
            f"{median(times):.0f} ms ({median(cpu):.0f} ms of CPU) -> {len(fitted)} GIFs, {size / 1024:.0f} KB",
            "<= 1500 ms",
        )
    ]
    print(f"\nSerwerSMS picture benchmark: median of {RUNS} runs, one thread (the picture queue's job)\n")
    print(table(("case", "figure", "target"), rows))
    write_figures(figures, "picture")


async def test_heartbeat_benchmark(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, freezer: FrozenDateTimeFactory
) -> None:
    """Requests the heartbeat costs in a day at heartbeat_minutes=60, one number, on a simulated clock."""
    from homeassistant.config_entries import ConfigSubentryData  # noqa: PLC0415

    from tests.conftest import entry_data  # noqa: PLC0415

    loop = asyncio.get_running_loop()
    loop.set_debug(False)
    freezer.move_to("2026-11-25 12:00:00+00:00")
    entry = MockConfigEntry(
        domain="serwersms",
        title="SerwerSMS",
        unique_id="bench-heartbeat",
        version=1,
        minor_version=2,
        data=entry_data(simulator),
        options={"heartbeat_minutes": 60},
        subentries_data=[
            ConfigSubentryData(
                subentry_type="recipient",
                title="Mom",
                data={"name": "Mom", "phone": ["+48500600700"], "heartbeat": True},
                unique_id=None,
            )
        ],
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)

    def heartbeat_requests() -> int:
        return len(simulator.requests_to("messages/send_sms")) + len(simulator.requests_to("messages/delete"))

    at_start = heartbeat_requests()  # the start's own send (and the deletes of what a restart left)
    most_scheduled = 0
    for _ in range(24 * 60):  # a simulated day after the start, a minute at a time
        freezer.tick(timedelta(minutes=1))
        async_fire_time_changed(hass)
        await hass.async_block_till_done(wait_background_tasks=True)
        most_scheduled = max(most_scheduled, len(simulator.scheduled))
    per_day = heartbeat_requests() - at_start
    target = 3 * 1440 // 60
    figures = {"heartbeat_requests_per_day": per_day, "heartbeat_most_scheduled": most_scheduled}
    rows = [
        (
            "13 heartbeat: a day at 60 min, one number",
            f"{per_day} requests (send_sms + messages/delete), at most {most_scheduled} scheduled",
            f"<= {target}; 1 scheduled",
        ),
    ]
    print("\nSerwerSMS heartbeat benchmark: heartbeat_minutes=60, simulated clock, 24 h after the start\n")
    print(table(("case", "figure", "target"), rows))
    write_figures(figures, "heartbeat")
    assert await hass.config_entries.async_unload(entry.entry_id)
    loop.set_debug(True)


async def test_channels_benchmark(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """SMS and calls: requests per send; fallback: requests on an idle day and latency (simulated clock)."""
    loop = asyncio.get_running_loop()
    loop.set_debug(False)
    freezer.move_to("2026-11-25 12:00:00+00:00")
    simulator.credits = None
    simulator.type_credits.update({"eco": None, "voice": None})
    no_daily_limit(hass, loaded_entry)

    async def advance(seconds: int, step: int = 1) -> None:
        for _ in range(0, seconds, step):
            freezer.tick(timedelta(seconds=step))
            async_fire_time_changed(hass)
            await hass.async_block_till_done(wait_background_tasks=True)

    async def act(service: str, target: str | list[str], **data: Any) -> None:
        await hass.services.async_call(
            "serwersms", service, {"entity_id": target, **data}, blocking=True, return_response=True
        )

    # 1,000 numbers by SMS (legacy-notify style: one entity per number would be 1,000 entities).
    numbers = [f"+4851{i:07d}" for i in range(1000)]
    before = len(simulator.requests_to("messages/send_sms"))
    await loaded_entry.runtime_data.sender.async_send(
        MmsRequest(phones=numbers, message="Alarm", channel="sms")
    )
    sms_requests = len(simulator.requests_to("messages/send_sms")) - before
    before = len(simulator.requests_to("messages/send_voice"))
    await act("call", ["notify.mom_mms", "notify.family_mms"], message="Alarm")
    call_requests = len(simulator.requests_to("messages/send_voice")) - before
    await advance(24 * 3600 + 600, step=60)  # everything above followed to its end
    # A day with nothing pending: no request for reports or fallbacks (the hourly credits poll aside).
    since = len(simulator.requests)
    await advance(24 * 3600, step=60)
    idle_day = sum(1 for r in simulator.requests[since:] if r.endpoint != "account/limits")
    # Fallback latency: the MMS's `undelivered` report appears at the gateway → the SMS is sent.
    latencies = []
    for final_after in (3, 20, 45, 70, 100, 200, 290):
        simulator.delivery_delay = final_after
        simulator.undeliverable = {"+48500600700": "message_expired"}
        before_sms = len(simulator.sms)
        await act("send_mms", "notify.mom_mms", title="Alarm", message="m", fallback="sms")
        final_at = simulator.messages[-1].final_at
        for _ in range(600):
            if len(simulator.sms) > before_sms:
                break
            await advance(1)
        latencies.append(simulator.clock() - final_at)
        await advance(24 * 3600 + 600, step=60)
    figures = {
        "sms_1000_numbers_requests": sms_requests,
        "call_3_targets_requests": call_requests,
        "fallback_requests_idle_day": idle_day,
        "fallback_latency_s": max(latencies),
    }
    rows = [
        ("11 SMS to 1000 numbers", f"{sms_requests} (ideal 10)", "", "== 10"),
        ("11 a call to 3 numbers (2 entities)", f"{call_requests} (ideal 1)", "", "== 1"),
        ("11 a day with nothing pending", f"{idle_day} (ideal 0)", "", "== 0"),
        (
            "11 fallback: report undelivered -> SMS",
            "",
            f"max {max(latencies):.0f} s (median {median(latencies):.0f} s; simulated clock)",
            "<= 35 s",
        ),
    ]
    print("\nSerwerSMS channels benchmark: default schedule, simulated clock\n")
    print(table(("case", "gateway requests", "latency", "target"), rows))
    write_figures(figures, "channels")
    loop.set_debug(True)


async def test_store_benchmark(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    """The hash -> file-id table after 5,000 distinct snapshots (driven through the account's own table)."""
    loop = asyncio.get_running_loop()
    loop.set_debug(False)
    files = loaded_entry.runtime_data.files
    snapshot = io.BytesIO()
    Image.open(io.BytesIO(photo(320, 240, 9))).save(snapshot, "JPEG", quality=80)
    base = snapshot.getvalue()

    def distinct(i: int) -> bytes:
        """The same small JPEG with a different comment segment: different bytes, a valid picture."""
        comment = f"snapshot {i}".encode()
        return base[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + base[2:]

    count = 5000
    digests = []
    started = time.perf_counter()
    for i in range(count):
        content = distinct(i)
        digests.append(hashlib.sha256(content).hexdigest())
        await files.async_get_or_upload(content, "camera_front_door.jpg", "image/jpeg", digests[-1])
    wall = time.perf_counter() - started
    uploads = len(simulator.requests_to("files/add"))
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)  # writes the table now
    stored = hass_storage[f"serwersms.{loaded_entry.entry_id}.files"]
    _mode, written = prepare_save_json(stored)  # the bytes Home Assistant writes to .storage
    size = len(written.encode() if isinstance(written, str) else written)
    entries = len(stored["data"])
    newest_kept = list(stored["data"]) == digests[-entries:]
    figures = {
        "store_entries_after_5000": entries,
        "store_bytes_after_5000": size,
        "store_uploads_5000": uploads,
        "store_keeps_newest": int(newest_kept),
    }
    rows = [
        (
            "12 file-id table after 5000 distinct snapshots",
            f"{entries} entries, {size / 1024:.0f} KB on disk"
            f"{', the newest' if newest_kept else ', NOT the newest'} ({uploads} uploads, {wall:.0f} s)",
            "1000 entries (the bound)",
        ),
    ]
    print("\nSerwerSMS gateway storage benchmark: the account's file-id table, fed 5000 different pictures\n")
    print(table(("case", "figure", "target"), rows))
    write_figures(figures, "storage")
    print("\nend of benchmark")
    loop.set_debug(True)


async def test_lookback_benchmark(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry
) -> None:
    """Lookback of 4 cameras of 1920x1080 keeping 5 s, for 20 s of real time (CPU needs real time).

    The loop's longest stall, the process's CPU time over wall time (its idle baseline measured the
    same way with lookback off), RSS growth, the age of the first frame of a `lookback: 3` send, and
    the snapshots lookback off takes.
    """
    from homeassistant.setup import async_setup_component  # noqa: PLC0415
    from pytest_homeassistant_custom_component.common import setup_test_component_platform  # noqa: PLC0415

    from custom_components.serwersms.const import (  # noqa: PLC0415
        CONF_LOOKBACK_CAMERAS,
        CONF_LOOKBACK_SECONDS,
    )

    loop = asyncio.get_running_loop()
    loop.set_debug(False)
    cameras = []
    for n in range(4):
        camera = BurstCamera(f"Lookback {n}")
        camera.frames = walking_frames(5, 1920, 1080, 900 + n)
        cameras.append(camera)
    setup_test_component_platform(hass, "camera", cameras)
    assert await async_setup_component(hass, "camera", {"camera": {"platform": "test"}})
    await hass.async_block_till_done()
    names = [f"camera.lookback_{n}" for n in range(4)]

    def set_seconds(seconds: int) -> None:
        options = {CONF_LOOKBACK_CAMERAS: names, CONF_LOOKBACK_SECONDS: seconds}
        hass.config_entries.async_update_entry(loaded_entry, options={**loaded_entry.options, **options})

    async def watch(seconds: float) -> tuple[float, float, float]:
        """Longest loop stall (ms), CPU % of one core and the largest RSS (MB) over `seconds`."""
        stalls, memory = [0.0], [rss_mb()]
        cpu, wall = time.process_time(), time.perf_counter()
        end = wall + seconds
        next_sample = wall
        while time.perf_counter() < end:
            started = loop.time()
            await asyncio.sleep(0.005)
            stalls.append(loop.time() - started - 0.005)
            if time.perf_counter() >= next_sample:
                memory.append(rss_mb())
                next_sample += 0.5
        percent = (time.process_time() - cpu) / (time.perf_counter() - wall) * 100
        return max(stalls) * 1000, percent, max(memory)

    set_seconds(0)  # cameras chosen, lookback off
    await hass.async_block_till_done()
    asked = sum(camera.snapshots for camera in cameras)
    _, idle_cpu, _ = await watch(5)
    off_per_min = (sum(camera.snapshots for camera in cameras) - asked) * 60 / 5

    before = rss_mb()
    set_seconds(5)
    stall, cpu, peak = await watch(20)
    lookback = loaded_entry.runtime_data.lookback
    assert lookback is not None
    buffered_kb = lookback.memory_bytes / 1024
    pressed = dt_util.now()
    response = await hass.services.async_call(
        "serwersms",
        "send_mms",
        {"entity_id": "notify.mom_mms", "camera": names[0], "lookback": 3, "overlay": True},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    reply: Any = response["notify.mom_mms"]
    since = dt_util.parse_datetime(reply["lookback"][names[0]]["since"])
    assert since is not None
    age = (pressed - since).total_seconds()
    set_seconds(0)
    await hass.async_block_till_done()

    figures = {
        "lookback_4cams_loop_stall_ms": round(stall, 1),
        "lookback_4cams_cpu_percent": round(cpu, 1),
        "lookback_idle_cpu_percent": round(idle_cpu, 1),
        "lookback_4cams_mb": round(peak - before, 1),
        "lookback_4cams_buffer_kb": round(buffered_kb),
        "lookback_first_frame_age_s": round(age, 2),
        "lookback_first_frame_count": reply["lookback"][names[0]]["frames"],
        "lookback_off_snapshots_per_min": round(off_per_min),
    }
    rows = [
        (
            "14 lookback: 4 cameras 1920x1080, 5 s, 20 s real: longest loop stall",
            f"{stall:.1f} ms",
            "<= 20 ms",
        ),
        (
            "15 lookback: process CPU / wall time (idle baseline alongside)",
            f"{cpu:.1f} % ({idle_cpu:.1f} % with lookback off)",
            "<= 15 %",
        ),
        (
            "16 lookback: RSS growth (frames held)",
            f"+{peak - before:.1f} MB ({buffered_kb:.0f} KB buffered)",
            "<= 40 MB",
        ),
        (
            "17 lookback: 3 -> age of the first frame at the call",
            f"{age:.2f} s ({reply['lookback'][names[0]]['frames']} frames)",
            ">= 2.5 s",
        ),
        ("18 lookback off: snapshots a minute", f"{off_per_min:.0f}", "== 0"),
    ]
    print("\nSerwerSMS lookback benchmark: real time, one run\n")
    print(table(("case", "figure", "target"), rows))
    write_figures(figures, "lookback")


async def test_alarm_benchmark(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, freezer: FrozenDateTimeFactory
) -> None:
    """Alarms on a simulated clock: idle requests, reply polling, acknowledgement latency, the ack race."""
    import random  # noqa: PLC0415

    from homeassistant.config_entries import ConfigSubentryData  # noqa: PLC0415
    from homeassistant.core import Event, callback  # noqa: PLC0415

    from tests.conftest import entry_data  # noqa: PLC0415

    loop = asyncio.get_running_loop()
    loop.set_debug(False)
    freezer.move_to("2026-11-25 12:00:00+00:00")
    entry = MockConfigEntry(
        domain="serwersms",
        title="SerwerSMS",
        unique_id="bench-alarms",
        version=1,
        minor_version=2,
        data=entry_data(simulator),
        options={CONF_DAILY_LIMIT: 0},
        subentries_data=[
            ConfigSubentryData(
                subentry_type="recipient", title=name, data={"name": name, "phone": phones}, unique_id=None
            )
            for name, phones in (("Mom", ["+48500600700"]), ("Family", ["+48500600701", "+48500600702"]))
        ],
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    events: list[dict[str, Any]] = []

    @callback
    def fired(event: Event) -> None:
        events.append(dict(event.data))

    hass.bus.async_listen("serwersms_alarm", fired)
    sends = ("messages/send_mms", "messages/send_sms", "messages/send_voice")

    def sent() -> int:
        return sum(len(simulator.requests_to(endpoint)) for endpoint in sends)

    async def tick(seconds: float) -> None:
        freezer.tick(timedelta(seconds=seconds))
        async_fire_time_changed(hass)
        await hass.async_block_till_done(wait_background_tasks=True)

    async def raise_alarm(steps: list[dict[str, Any]]) -> str:
        response = await hass.services.async_call(
            "serwersms",
            "raise_alarm",
            {"title": "Bench", "message": "alarm", "steps": steps},
            blocking=True,
            return_response=True,
        )
        await hass.async_block_till_done(wait_background_tasks=True)
        assert response is not None
        return str(response["alarm_id"])

    # A simulated day with no alarm open: every request but the hourly credits poll.
    before = len(simulator.requests)
    for _ in range(24 * 60):
        await tick(60)
    idle = len([r for r in simulator.requests[before:] if r.endpoint != "account/limits"])

    # One alarm open for ten minutes: listings per minute.
    await raise_alarm([{"recipients": ["notify.mom_mms"], "channel": "sms", "wait": 3600}])
    listed = len(simulator.requests_to("messages/recived"))
    for _ in range(600):
        await tick(1)
    per_min = (len(simulator.requests_to("messages/recived")) - listed) / 10

    # Acknowledgement latency: a reply at a random moment of the poll cycle → `acknowledged`.
    rng = random.Random(22)  # noqa: S311 - reproducible timings, not secrets
    latencies: list[float] = []
    await hass.services.async_call("serwersms", "acknowledge", {}, blocking=True)
    for _ in range(RUNS):
        await raise_alarm([{"recipients": ["notify.mom_mms"], "channel": "sms", "wait": 3600}])
        await tick(rng.uniform(0, 10))
        simulator.inject_reply("+48500600700", "ok")
        waited = 0.0
        while events[-1]["type"] != "acknowledged":
            await tick(0.5)
            waited += 0.5
        latencies.append(waited)

    # 100 ladders whose reply races a step's deadline: messages that went out after the acknowledgement.
    after_ack = escalations = 0
    for _ in range(100):
        wait = rng.randint(10, 30)
        steps = [
            {"recipients": ["notify.mom_mms"], "channel": "sms", "wait": wait},
            {"recipients": ["notify.family_mms"], "channel": "call", "wait": wait},
            {"recipients": ["notify.mom_mms"], "channel": "sms", "wait": wait},
        ]
        seen = len(events)
        await raise_alarm(steps)
        reply_at = wait + rng.uniform(-10, 2)
        elapsed = 0.0
        replied = False
        settled: int | None = None
        while elapsed < 3 * wait + 15:
            if not replied and elapsed >= reply_at:
                simulator.inject_reply("+48500600700", "ok")
                replied = True
            await tick(1)
            elapsed += 1
            kinds = [e["type"] for e in events[seen:]]
            if settled is None and "acknowledged" in kinds:
                settled = sent()  # what had started before the acknowledgement has finished by now
                after_ack += len(kinds[kinds.index("acknowledged") + 1 :])
        assert settled is not None
        after_ack += sent() - settled
        escalations += [e["type"] for e in events[seen:]].count("escalated")

    figures = {
        "alarm_ack_latency_s": max(latencies),
        "alarm_ack_latency_median_s": statistics.median(latencies),
        "alarm_race_escalations": escalations,
        "alarm_requests_idle_day": idle,
        "alarm_poll_requests_per_min": per_min,
        "alarm_sent_after_ack": after_ack,
    }
    rows = [
        ("14 alarms: reply → acknowledged (worst of runs)", f"{max(latencies):.1f} s", "<= 12 s"),
        ("14 alarms: a day with none open", f"{idle} requests", "== 0"),
        ("14 alarms: one open, reply listings", f"{per_min:g} per minute", "<= 6"),
        (
            "14 alarms: 100 ladders, reply racing a deadline",
            f"{after_ack} sent after the ack ({escalations} escalated first)",
            "== 0",
        ),
    ]
    print("\nSerwerSMS alarm benchmark: simulated clock\n")
    print(table(("case", "figure", "target"), rows))
    write_figures(figures, "alarm")
    assert await hass.config_entries.async_unload(entry.entry_id)
    loop.set_debug(True)
