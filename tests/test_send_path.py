"""The send path under load and odd replies: bounded picture work, per-caller cancellation, no duplicates."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from datetime import timedelta
import io
import threading
from typing import Any, Literal

from homeassistant.core import Event, HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.util import dt as dt_util
from PIL import Image
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
)

from custom_components.serwersms.api import SerwerSmsApiError
from custom_components.serwersms.mms import fitting, sender as sender_module
from custom_components.serwersms.mms.picture_queue import (
    PictureQueue,
    async_get_picture_queue,
    picture_slots,
)
from custom_components.serwersms.mms.uploads import FileIdCache
from serwersms_simulator import Fault, SerwerSmsSimulator, server as server_module
from tests.conftest import SnapshotCamera, make_jpeg
from tests.helpers import call_send_mms as send_mms
from tests.waiting import request_arrives

MOM = "notify.mom_mms"
FAMILY = "notify.family_mms"


def gateway_calls(sim: SerwerSmsSimulator) -> list[str]:
    return [r.endpoint for r in sim.requests if r.endpoint != "account/limits"]


async def first_of(*events: asyncio.Event) -> None:
    """Wait until any of `events` is set."""
    waits = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()


class WatchedSlots(asyncio.Semaphore):
    """The picture queue's slots, telling the test when a job has to wait for one and when one is taken."""

    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.waited = asyncio.Event()
        self.taken = asyncio.Event()

    async def acquire(self) -> Literal[True]:
        if self.locked():
            self.waited.set()
        await super().acquire()
        self.taken.set()
        return True


class WatchedFits(OrderedDict[Any, Any]):
    """The sender's fits under way, telling the test when a caller finds one it can wait on.

    The sender looks a fit up and, finding it, waits on it with no step between: once `shared` is
    set, that caller is waiting on the other's fit.
    """

    def __init__(self) -> None:
        super().__init__()
        self.shared = asyncio.Event()

    def get(self, key: Any, default: Any = None) -> Any:
        found = super().get(key, default)
        if found is not None:
            self.shared.set()
        return found


def callers_at_the_upload(monkeypatch: pytest.MonkeyPatch, files: FileIdCache, count: int) -> asyncio.Event:
    """Set once `count` callers have asked `files` for an upload.

    The cache joins a caller to an upload under way (or starts one) with no step before it waits: once
    this is set, each of them waits on the upload.
    """
    arrived = asyncio.Event()
    callers = 0
    real_get_or_upload = files.async_get_or_upload

    async def counted(*args: Any) -> Any:
        nonlocal callers
        callers += 1
        if callers == count:
            arrived.set()
        return await real_get_or_upload(*args)

    monkeypatch.setattr(files, "async_get_or_upload", counted)
    return arrived


def held_uploads(monkeypatch: pytest.MonkeyPatch, simulator: SerwerSmsSimulator) -> asyncio.Event:
    """Hold the gateway's answer to every upload (the file is taken only then) until the event is set."""
    release = asyncio.Event()
    answer_upload = simulator._files_add

    async def held_upload(*args: Any) -> Any:
        await release.wait()
        return await answer_upload(*args)

    monkeypatch.setattr(simulator, "_files_add", held_upload)
    return release


def noisy_jpeg(width: int, height: int, seed: int) -> bytes:
    """A photo-like JPEG that does not compress well, different for every seed."""
    import numpy as np  # noqa: PLC0415

    pixels = np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=80)
    return out.getvalue()


class PictureJobSpy:
    """Wraps a real picture job: records where and how many at once it ran; `gate` can hold it."""

    def __init__(self, job: Callable[..., Any]) -> None:
        self.job = job
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.calls = 0
        self.threads: set[int] = set()
        self.thread_names: set[str] = set()
        self.started = threading.Event()
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, *args: Any) -> Any:
        with self.lock:
            self.running += 1
            self.calls += 1
            self.most = max(self.most, self.running)
            self.threads.add(threading.get_ident())
            self.thread_names.add(threading.current_thread().name)
        self.started.set()
        try:
            self.gate.wait(10)
            return self.job(*args)
        finally:
            with self.lock:
                self.running -= 1


@pytest.fixture
def fit_spy(monkeypatch: pytest.MonkeyPatch) -> PictureJobSpy:
    spy = PictureJobSpy(fitting.fit_all)
    monkeypatch.setattr(sender_module, "fit_all", spy)
    return spy


@pytest.fixture
def hash_spy(monkeypatch: pytest.MonkeyPatch) -> PictureJobSpy:
    spy = PictureJobSpy(fitting.digest)
    monkeypatch.setattr(fitting, "digest", spy)
    return spy


# --- bounded picture work ------------------------------------------------------------------------


def test_the_picture_queue_leaves_a_core_for_the_event_loop() -> None:
    assert [picture_slots(n) for n in (1, 2, 4, 16)] == [1, 1, 3, 15]


async def test_a_picture_job_that_cannot_start_gives_its_slot_back(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = PictureQueue(hass, 1)

    def shut_down(*_: Any) -> None:
        raise RuntimeError("cannot schedule new futures after shutdown")

    with monkeypatch.context() as patched:
        patched.setattr(queue._executor, "submit", shut_down)
        with pytest.raises(RuntimeError):
            await queue.run(len, b"x")
    assert await asyncio.wait_for(queue.run(len, b"abc"), timeout=10) == 3


async def test_concurrent_sends_of_different_snapshots_fit_one_at_a_time_off_the_loop(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    fit_spy: PictureJobSpy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert async_get_picture_queue(hass).slots == picture_slots()
    snapshots = [noisy_jpeg(640, 360, seed) for seed in range(10)]  # more than the fit cache keeps

    pending = list(snapshots)

    async def next_snapshot(width: int | None = None, height: int | None = None) -> bytes:
        return pending.pop(0)  # every alarm a different picture

    monkeypatch.setattr(front_door, "async_camera_image", next_snapshot)
    results = await asyncio.gather(*(send_mms(hass, MOM, camera="camera.front_door") for _ in snapshots))
    assert [r[MOM]["queued"] for r in results] == [1] * 10
    assert len(simulator.requests_to("files/add")) == 10  # ten different pictures
    assert fit_spy.calls == 10
    assert fit_spy.most <= async_get_picture_queue(hass).slots
    assert threading.get_ident() not in fit_spy.threads  # never on the event loop
    # On the queue's own threads, never more than its slots: glibc keeps memory per thread that
    # allocated it, so Pillow's buffers spread over Home Assistant's shared executor grow the process.
    assert len(fit_spy.threads) <= async_get_picture_queue(hass).slots
    assert all(name.startswith("serwersms_pictures") for name in fit_spy.thread_names), fit_spy.thread_names


async def test_a_cancelled_caller_keeps_its_picture_slot_until_its_job_ends(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    hash_spy: PictureJobSpy,
) -> None:
    slots = WatchedSlots(1)  # one slot, whatever the machine
    async_get_picture_queue(hass)._slots = slots
    hash_spy.gate.clear()
    front_door.image = noisy_jpeg(640, 480, 1)
    first = hass.async_create_task(send_mms(hass, MOM, camera="camera.front_door"))
    await hass.async_add_executor_job(hash_spy.started.wait, 10)
    first.cancel()  # while its snapshot is being hashed: the thread runs on regardless
    with pytest.raises(asyncio.CancelledError):
        await first
    slots.taken.clear()
    front_door.image = noisy_jpeg(640, 480, 2)
    second = hass.async_create_task(send_mms(hass, MOM, camera="camera.front_door"))
    await first_of(slots.waited, slots.taken)
    assert slots.waited.is_set()  # its hash waits for the slot the first one's job still holds
    assert not slots.taken.is_set()
    hash_spy.gate.set()
    assert (await second)[MOM]["queued"] == 1
    assert hash_spy.most == 1
    assert hash_spy.calls == 2
    assert len(simulator.requests_to("messages/send_mms")) == 1


async def test_a_caller_cancelled_mid_fit_does_not_cancel_the_fit_others_wait_on(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    fit_spy: PictureJobSpy,
) -> None:
    # Two slots, whatever the machine: the second call's hash runs while the first one's fit is held.
    loaded_entry.runtime_data.sender._pictures = PictureQueue(hass, 2)
    fits = loaded_entry.runtime_data.sender._fitted = WatchedFits()
    fit_spy.gate.clear()
    front_door.image = noisy_jpeg(640, 480, 3)
    first = hass.async_create_task(send_mms(hass, MOM, camera="camera.front_door"))
    await hass.async_add_executor_job(fit_spy.started.wait, 10)
    second = hass.async_create_task(send_mms(hass, FAMILY, camera="camera.front_door"))
    await fits.shared.wait()  # the second call waits on the first one's fit
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    fit_spy.gate.set()
    response = await second
    assert response[FAMILY]["queued"] == 2
    assert fit_spy.calls == 1  # the same picture was fitted once, for both


# --- uploads: per-caller cancellation, failures reach every waiter ------------------------------


async def test_cancelling_one_caller_does_not_cancel_the_upload_another_waits_on(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    release = held_uploads(monkeypatch, simulator)
    both_waiting = callers_at_the_upload(monkeypatch, loaded_entry.runtime_data.files, 2)
    uploading = request_arrives(simulator, "files/add")
    first = hass.async_create_task(send_mms(hass, MOM, camera="camera.front_door"))
    second = hass.async_create_task(send_mms(hass, FAMILY, camera="camera.front_door"))
    await uploading.wait()
    await both_waiting.wait()
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    release.set()
    response = await second
    assert response[FAMILY]["queued"] == 2
    assert len(simulator.requests_to("files/add")) == 1
    assert [m.phone for m in simulator.messages] == ["+48500600701", "+48500600702"]


async def test_a_failed_shared_upload_fails_every_caller_waiting_on_it(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The gateway refuses the upload (1006) only once both callers wait on it (on a busy machine the
    # second could otherwise still be fitting its picture when the first one's upload had already
    # failed). The refusal comes from the held handler: a `fail_next` fault would be answered before it.
    release = asyncio.Event()

    async def refused_upload(*_args: Any) -> Any:
        await release.wait()
        raise server_module._Reject(1006)

    monkeypatch.setattr(simulator, "_files_add", refused_upload)
    both_waiting = callers_at_the_upload(monkeypatch, loaded_entry.runtime_data.files, 2)
    calls = asyncio.gather(
        send_mms(hass, MOM, camera="camera.front_door"),
        send_mms(hass, FAMILY, camera="camera.front_door"),
        return_exceptions=True,
    )
    await both_waiting.wait()
    release.set()
    outcomes = await calls
    assert [type(o) for o in outcomes] == [HomeAssistantError, HomeAssistantError]
    assert [o.translation_key for o in outcomes] == ["gateway_error", "gateway_error"]  # type: ignore[union-attr]
    assert len(simulator.requests_to("files/add")) == 1
    assert simulator.requests_to("messages/send_mms") == []


async def test_a_caller_cancelled_before_the_shared_upload_fails_leaves_no_stray_error(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The caller that stayed is told of the refusal; the one that left makes no error in the log."""
    refuse = asyncio.Event()
    uploading = asyncio.Event()

    async def upload_refused_later(*_args: Any, **_kwargs: Any) -> str:
        uploading.set()
        await refuse.wait()
        raise SerwerSmsApiError("[3005] no MMS permission", code=3005)

    monkeypatch.setattr(loaded_entry.runtime_data.client, "upload_file", upload_refused_later)
    both_waiting = callers_at_the_upload(monkeypatch, loaded_entry.runtime_data.files, 2)
    first = hass.async_create_task(send_mms(hass, MOM, camera="camera.front_door"))
    second = hass.async_create_task(send_mms(hass, FAMILY, camera="camera.front_door"))
    await uploading.wait()
    await both_waiting.wait()
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    refuse.set()
    with pytest.raises(HomeAssistantError):
        await second
    await hass.async_block_till_done()
    assert "shielded future" not in caplog.text
    assert simulator.requests_to("messages/send_mms") == []


@pytest.mark.parametrize("caller", ["waits", "gave up"])
async def test_removing_the_account_during_an_upload_leaves_no_stored_ids(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    monkeypatch: pytest.MonkeyPatch,
    caller: str,
) -> None:
    """A caller that waits holds the removal until its send ends; one that gave up holds nothing.

    Then the gateway takes the file only after the account is gone, and its id must not be written back.
    """
    key = f"serwersms.{loaded_entry.entry_id}.files"
    release = held_uploads(monkeypatch, simulator)
    uploading = request_arrives(simulator, "files/add")
    call = hass.async_create_task(send_mms(hass, MOM, camera="camera.front_door"))
    await uploading.wait()
    if caller == "gave up":
        call.cancel()  # its automation was removed too: the upload runs on, nobody waits on it
        with pytest.raises(asyncio.CancelledError):
            await call
        assert await hass.config_entries.async_remove(loaded_entry.entry_id)
        release.set()
    else:
        removing = hass.async_create_task(hass.config_entries.async_remove(loaded_entry.entry_id))
        release.set()
        assert await removing
        await asyncio.gather(call, return_exceptions=True)
    await hass.async_block_till_done()
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=30))  # past any delayed save
    await hass.async_block_till_done()
    assert key not in hass_storage


# --- never a duplicate, never a lie ---------------------------------------------------------------


@pytest.fixture
def many_numbers() -> list[str]:
    return [f"+48501{i:06d}" for i in range(150)]


async def legacy(hass: HomeAssistant, targets: list[str], **data: Any) -> None:
    await hass.services.async_call(
        "notify", "serwersms", {"message": "m", "target": targets, "data": data}, blocking=True
    )


async def test_a_lost_file_is_not_uploaded_again_when_the_gateway_cannot_list_its_files(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
) -> None:
    await send_mms(hass, MOM, camera="camera.front_door")
    simulator.files.clear()
    simulator.fail_next("files/index", Fault("error", code=1000))
    with pytest.raises(HomeAssistantError) as err:
        await send_mms(hass, MOM, camera="camera.front_door")
    assert err.value.translation_key == "file_not_on_gateway"
    assert len(simulator.requests_to("files/add")) == 1  # which file is gone is unknown: nothing resent
    assert len(simulator.requests_to("messages/send_mms")) == 2


async def test_a_batch_with_an_unknown_outcome_is_never_sent_again_after_a_lost_file(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    many_numbers: list[str],
) -> None:
    loaded_entry.runtime_data.client._parallel = asyncio.Semaphore(1)  # batches in order
    await send_mms(hass, MOM, camera="camera.front_door")  # the snapshot's id is now remembered
    events: list[Event] = async_capture_events(hass, "serwersms_mms_sent")
    # Batch 1 is refused: the file is gone (deleted in the panel); batch 2 went through, its answer lost.
    simulator.fail_next("messages/send_mms", Fault("error", code=1004))
    simulator.fail_next("messages/send_mms", Fault("malformed"))
    simulator.on_request = lambda r: simulator.files.clear() if r.endpoint == "files/index" else None
    await legacy(hass, many_numbers, camera="camera.front_door")
    await hass.async_block_till_done()
    sends = simulator.requests_to("messages/send_mms")[1:]
    assert [len(r.fields["phone"]) for r in sends] == [100, 50, 100]
    assert sends[2].fields["phone"] == many_numbers[:100]  # only the refused batch, with a new upload
    assert sends[2].fields["file_id"] != sends[0].fields["file_id"]
    received = [m.phone for m in simulator.messages]
    assert all(received.count(phone) == 1 for phone in many_numbers)
    statuses = [r["status"] for r in events[0].data["recipients"]]
    assert statuses == ["queued"] * 100 + ["unknown"] * 50


async def test_a_refusal_for_a_file_that_is_not_lost_sends_nothing_again(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    many_numbers: list[str],
) -> None:
    loaded_entry.runtime_data.client._parallel = asyncio.Semaphore(1)  # batches in order
    await send_mms(hass, MOM, camera="camera.front_door")
    simulator.fail_next("messages/send_mms", Fault("error", code=1004))
    simulator.fail_next("messages/send_mms", Fault("malformed"))
    events: list[Event] = async_capture_events(hass, "serwersms_mms_sent")
    with pytest.raises(HomeAssistantError) as err:
        await legacy(hass, many_numbers, camera="camera.front_door")
    assert err.value.translation_key == "outcome_unknown"  # nothing queued, and 50 may have it
    await hass.async_block_till_done()
    assert len(simulator.requests_to("messages/send_mms")) == 3
    assert len(simulator.requests_to("files/add")) == 1
    statuses = [(r["status"], r["error_code"]) for r in events[0].data["recipients"]]
    assert statuses == [("unsent", 1004)] * 100 + [("unknown", None)] * 50


async def test_a_bad_file_id_next_to_a_remembered_snapshot_forgets_nothing(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
) -> None:
    first = await send_mms(hass, MOM, camera="camera.front_door")
    with pytest.raises(ServiceValidationError) as err:
        await send_mms(hass, MOM, camera="camera.front_door", file_id="ffffffffff")
    assert err.value.translation_key == "file_id_unknown"
    again = await send_mms(hass, MOM, camera="camera.front_door")
    assert again[MOM]["files"] == [{**first[MOM]["files"][0], "uploaded": False}]
    assert len(simulator.requests_to("files/add")) == 1
    assert len(simulator.requests_to("messages/send_mms")) == 2


def _first_item_only(reply: dict[str, Any]) -> dict[str, Any]:
    return {**reply, "items": reply["items"][:1]}


def _status_null_in_second(reply: dict[str, Any]) -> dict[str, Any]:
    return {**reply, "items": [reply["items"][0], {**reply["items"][1], "status": None}]}


def _reordered(reply: dict[str, Any]) -> dict[str, Any]:
    return {**reply, "items": list(reversed(reply["items"]))}


@pytest.mark.parametrize(
    ("body", "statuses"),
    [
        (_first_item_only, ["queued", "unknown"]),
        (_status_null_in_second, ["queued", "unknown"]),
        (_reordered, ["queued", "queued"]),
    ],
    ids=["items shorter than the phones", "status null", "items reordered"],
)
async def test_an_accepted_send_with_an_odd_reply_reports_what_it_can(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    body: Callable[[dict[str, Any]], Any],
    statuses: list[str],
) -> None:
    events: list[Event] = async_capture_events(hass, "serwersms_mms_sent")
    simulator.fail_next("messages/send_mms", Fault("reply", body=body))
    response = await send_mms(hass, FAMILY, message="x")
    await hass.async_block_till_done()
    got = response[FAMILY]["recipients"]
    assert [r["phone"] for r in got] == ["+48500600701", "+48500600702"]
    assert [r["status"] for r in got] == statuses
    ids = {m.phone: m.id for m in simulator.messages}
    assert got[0]["id"] == ids["+48500600701"]
    assert len(events) == 1
    assert hass.states.get("sensor.serwersms_mms_credits").state == str(1000 - statuses.count("queued"))
    assert len(simulator.requests_to("messages/send_mms")) == 1


@pytest.mark.parametrize(
    "body",
    [{"success": True}, {"success": True, "queued": True}, {"success": True, "items": [{"status": None}]}],
    ids=["bare success", "queued true", "unreadable item"],
)
async def test_an_accepted_send_whose_reply_cannot_be_read_may_have_been_sent(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry, body: Any
) -> None:
    events: list[Event] = async_capture_events(hass, "serwersms_mms_sent")
    simulator.fail_next("messages/send_mms", Fault("reply", body=body))
    with pytest.raises(HomeAssistantError) as err:
        await send_mms(hass, MOM, message="x")
    assert err.value.translation_key == "outcome_unknown"
    await hass.async_block_till_done()
    assert [r["status"] for r in events[0].data["recipients"]] == ["unknown"]
    assert len(simulator.requests_to("messages/send_mms")) == 1
    assert len(simulator.messages) == 1  # it was sent, and only once


async def test_at_most_five_batches_are_in_flight(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry
) -> None:
    simulator.latency = 0.02
    await legacy(hass, [f"+4850{i:07d}" for i in range(1500)])
    assert len(simulator.requests_to("messages/send_mms")) == 15
    assert simulator.most_in_flight["messages/send_mms"] == 5


# --- the whole MMS fits the budget ----------------------------------------------------------------


def _sent_bytes(sim: SerwerSmsSimulator) -> int:
    """Pictures, gateway files and text of the last MMS sent, as the gateway holds them."""
    fields = sim.requests_to("messages/send_mms")[-1].fields
    files = sum(sim.files[file_id].size for file_id in fields.get("file_id", []))
    return files + len(str(fields.get("text") or "").encode())


async def test_a_camera_with_a_gateway_file_and_text_fits_the_budget_together(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    tmp_path,
) -> None:
    stored = tmp_path / "plan.jpg"
    stored.write_bytes(noisy_jpeg(700, 450, 11))
    hass.config.allowlist_external_dirs = {str(tmp_path)}
    uploaded = await hass.services.async_call(
        "serwersms", "upload_file", {"file": str(stored)}, blocking=True, return_response=True
    )
    assert uploaded is not None
    assert uploaded["size"] > 150 * 1024
    front_door.image = noisy_jpeg(1920, 1080, 12)
    await send_mms(hass, MOM, camera="camera.front_door", file_id=uploaded["id"], message="x" * 20_000)
    assert _sent_bytes(simulator) <= 300 * 1024


async def test_message_bytes_are_taken_from_the_picture_budget(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
) -> None:
    front_door.image = noisy_jpeg(1920, 1080, 21)
    await send_mms(hass, MOM, camera="camera.front_door")
    alone = _sent_bytes(simulator)
    # the same snapshot again, now with 150 KB of text: the picture must shrink, not be reused
    await send_mms(hass, MOM, camera="camera.front_door", message="ą" * 75_000)
    assert alone > 200 * 1024
    assert _sent_bytes(simulator) <= 300 * 1024
    assert len(simulator.requests_to("files/add")) == 2


@pytest.mark.parametrize(
    ("data", "entry_point"),
    [
        ({"message": "x" * 1_000_000}, "action"),
        ({"message": "x" * 1_000_000}, "legacy"),
        ({"message": "x" * 300_000, "camera": "camera.front_door"}, "action"),
    ],
)
async def test_an_mms_that_cannot_fit_is_refused_before_anything_happens(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    data: dict[str, Any],
    entry_point: str,
) -> None:
    call = (
        send_mms(hass, MOM, **data)
        if entry_point == "action"
        else hass.services.async_call("notify", "serwersms", data, blocking=True)
    )
    with pytest.raises(ServiceValidationError) as err:
        await call
    assert err.value.translation_key == "mms_too_large"
    assert err.value.translation_placeholders["max"] == "300"
    assert gateway_calls(simulator) == []
    assert front_door.snapshots == 0


async def test_gateway_files_too_big_for_the_budget_are_refused_before_the_snapshot(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
) -> None:
    client = loaded_entry.runtime_data.client
    big = [
        await client.upload_file(noisy_jpeg(800, 600, seed), filename="b.jpg", content_type="image/jpeg")
        for seed in (31, 32)
    ]
    assert sum(simulator.files[i].size for i in big) > 300 * 1024 - 8 * 1024
    with pytest.raises(ServiceValidationError) as err:
        await send_mms(hass, MOM, camera="camera.front_door", file_id=big)
    assert err.value.translation_key == "mms_too_large"
    assert front_door.snapshots == 0
    assert simulator.requests_to("messages/send_mms") == []


# --- odd inputs -----------------------------------------------------------------------------------


@pytest.mark.parametrize("error", [RuntimeError("driver crashed"), OSError("device busy")])
async def test_any_camera_failure_is_a_snapshot_error(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    monkeypatch: pytest.MonkeyPatch,
    error: Exception,
) -> None:
    async def broken(width: int | None = None, height: int | None = None) -> bytes:
        raise error

    monkeypatch.setattr(front_door, "async_camera_image", broken)
    with pytest.raises(HomeAssistantError) as err:
        await send_mms(hass, MOM, camera="camera.front_door")
    assert err.value.translation_key == "snapshot_failed"
    assert gateway_calls(simulator) == []


def _digits_of(zero: int, text: str) -> str:
    """`text` with its ASCII digits written in the script whose zero is code point `zero`."""
    return text.translate({ord("0") + d: chr(zero + d) for d in range(10)})


@pytest.mark.parametrize(
    "number",
    [
        _digits_of(0xFF10, "500600700"),  # full-width
        _digits_of(0x0660, "500600700"),  # Arabic-Indic
        "+" + _digits_of(0xFF10, "48500600700"),
        "500" + _digits_of(0x0966, "6") + "00700",  # one Devanagari digit among ASCII ones
    ],
)
async def test_only_ascii_digits_make_a_phone_number(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry, number: str
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await legacy(hass, [number])
    assert err.value.translation_key == "invalid_phone"
    assert gateway_calls(simulator) == []


async def test_a_snapshot_with_comments_leaves_without_them(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
) -> None:
    out = io.BytesIO()
    Image.open(io.BytesIO(make_jpeg(640, 480))).save(out, "JPEG", comment=b"Kowalski, Lipowa 5, Warszawa")
    front_door.image = out.getvalue()
    await send_mms(hass, MOM, camera="camera.front_door")
    stored = next(iter(simulator.files.values())).content
    assert b"Kowalski" not in stored
    assert Image.open(io.BytesIO(stored)).size == (640, 480)
