"""Sending MMS through every entry point, against the simulator over real HTTP."""

from __future__ import annotations

from datetime import timedelta
import io
from typing import Any

from homeassistant.core import Event, HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
from PIL import Image
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from serwersms_simulator import Fault, SerwerSmsSimulator
from tests.conftest import PASSWORD, TOKEN, USERNAME, SnapshotCamera, make_jpeg, make_png
from tests.helpers import call_send_mms as send_mms

MOM = "notify.mom_mms"
FAMILY = "notify.family_mms"


def gateway_calls(sim: SerwerSmsSimulator) -> list[str]:
    """What reached the gateway besides the credit checks."""
    return [r.endpoint for r in sim.requests if r.endpoint != "account/limits"]


async def test_camera_snapshot_to_a_two_number_recipient(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
) -> None:
    response = await send_mms(
        hass, FAMILY, title="Ruch przy drzwiach", message="Front door", camera="camera.front_door"
    )
    assert gateway_calls(simulator) == ["files/add", "messages/send_mms"]
    file_id = simulator.requests_to("files/add")[0]
    stored = next(iter(simulator.files.values()))
    send = simulator.requests_to("messages/send_mms")[0].fields
    assert send["file_id"] == [stored.id]
    assert send["phone"] == ["+48500600701", "+48500600702"]
    assert send["title"] == "Ruch przy drzwiach"
    assert send["text"] == "Front door"
    assert file_id.files["file"] == stored.content
    body = response[FAMILY]
    assert body["queued"] == 2
    assert body["unsent"] == 0
    assert [r["phone"] for r in body["recipients"]] == ["+48500600701", "+48500600702"]
    assert all(r["status"] == "queued" and len(r["id"]) == 10 for r in body["recipients"])
    assert body["files"] == [
        {
            "id": stored.id,
            "name": "camera_front_door.jpg",
            "size": stored.size,
            "content_type": "image/jpeg",
            "uploaded": True,
        }
    ]


async def test_the_same_snapshot_again_is_not_uploaded_again(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
) -> None:
    first = await send_mms(hass, MOM, camera="camera.front_door")
    second = await send_mms(hass, MOM, camera="camera.front_door")
    assert gateway_calls(simulator) == ["files/add", "messages/send_mms", "messages/send_mms"]
    assert second[MOM]["files"][0] == {**first[MOM]["files"][0], "uploaded": False}
    assert front_door.snapshots == 2


async def test_250_numbers_go_in_three_batches(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry
) -> None:
    targets = [f"+48500{i:06d}" for i in range(250)]
    await hass.services.async_call(
        "notify", "serwersms", {"message": "Test", "title": "Batch", "target": targets}, blocking=True
    )
    sends = simulator.requests_to("messages/send_mms")
    assert sorted(len(r.fields["phone"]) for r in sends) == [50, 100, 100]
    assert sorted(m.phone for m in simulator.messages) == sorted(targets)


async def test_a_big_camera_photo_arrives_small_without_exif_and_still_4_3(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
) -> None:
    photo = _noisy_jpeg(4000, 3000)
    assert len(photo) > 3_000_000
    front_door.image = photo
    await send_mms(hass, MOM, camera="camera.front_door")
    stored = next(iter(simulator.files.values()))
    assert stored.size <= 300 * 1024
    image = Image.open(io.BytesIO(stored.content))
    assert image.format == "JPEG"
    assert not image.getexif()
    assert "exif" not in image.info
    assert image.width * 3 == image.height * 4


def _noisy_jpeg(width: int, height: int) -> bytes:
    """A photo-like JPEG over 3 MB with EXIF (GPS): noise does not compress."""
    import numpy as np  # noqa: PLC0415

    pixels = np.random.default_rng(7).integers(0, 255, (height, width, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x010F] = "Cam"
    exif[0x8825] = {1: "N", 2: (52.0, 13.0, 0.0)}
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=75, exif=exif)
    return out.getvalue()


async def test_notify_send_message_is_a_text_mms_with_the_default_title(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry
) -> None:
    await hass.services.async_call(
        "notify", "send_message", {"entity_id": MOM, "message": "Hello"}, blocking=True
    )
    send = simulator.requests_to("messages/send_mms")[0].fields
    assert (send["text"], send["title"], send["phone"]) == ("Hello", "Home Assistant", ["+48500600700"])
    assert "file_id" not in send
    assert hass.states.get(MOM).state != "unknown"  # the entity records when it last notified
    hass.config_entries.async_update_entry(
        loaded_entry, options={"default_title": "Dom", "max_image_kb": 300}
    )
    await hass.async_block_till_done()
    await hass.services.async_call(
        "notify", "send_message", {"entity_id": MOM, "message": "Hi", "title": "Brama"}, blocking=True
    )
    assert simulator.requests_to("messages/send_mms")[1].fields["title"] == "Brama"


async def test_legacy_service_defaults_to_all_recipients_and_takes_data(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
) -> None:
    await hass.services.async_call(
        "notify",
        "serwersms",
        {"message": "m", "data": {"camera": "camera.front_door", "test": True}},
        blocking=True,
    )
    send = simulator.requests_to("messages/send_mms")[0].fields
    assert send["phone"] == ["+48500600700", "+48500600701", "+48500600702"]
    assert send["test"] is True
    assert simulator.messages == []


async def test_local_file_and_file_id_attachments(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry, tmp_path
) -> None:
    picture = tmp_path / "porch.png"
    picture.write_bytes(make_png())
    hass.config.allowlist_external_dirs = {str(tmp_path)}
    first = await send_mms(hass, MOM, file=str(picture))
    file_id = first[MOM]["files"][0]["id"]
    assert simulator.files[file_id].content == picture.read_bytes()  # a small PNG is kept as it is
    assert first[MOM]["files"][0]["name"] == "porch.png"
    await send_mms(hass, MOM, file_id=[file_id], message="again")
    assert simulator.requests_to("messages/send_mms")[1].fields["file_id"] == [file_id]
    assert len(simulator.requests_to("files/add")) == 1


async def test_scheduled_send_uses_warsaw_time(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry
) -> None:
    await hass.config.async_set_time_zone("America/New_York")
    when = dt_util.now() + timedelta(days=2)
    await send_mms(hass, MOM, message="later", date=when.replace(tzinfo=None).isoformat())
    expected = when.astimezone(dt_util.get_time_zone("Europe/Warsaw")).strftime("%Y-%m-%d %H:%M:%S")
    assert simulator.requests_to("messages/send_mms")[0].fields["date"] == expected


async def test_recipients_the_gateway_refuses_are_reported_not_raised(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry
) -> None:
    events: list[Event] = async_capture_events(hass, "serwersms_mms_sent")
    await hass.services.async_call(
        "notify", "serwersms", {"message": "m", "target": ["+48500600700", "+12345678"]}, blocking=True
    )
    await hass.async_block_till_done()
    assert (events[0].data["queued"], events[0].data["unsent"]) == (1, 1)
    refused = events[0].data["recipients"][1]
    assert (refused["phone"], refused["status"], refused["error_code"]) == ("+12345678", "unsent", 3103)
    assert [m.phone for m in simulator.messages] == ["+48500600700"]


async def test_event_reports_every_send_without_secrets(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
) -> None:
    events: list[Event] = async_capture_events(hass, "serwersms_mms_sent")
    response = await send_mms(hass, FAMILY, camera="camera.front_door", title="T")
    await hass.async_block_till_done()
    assert len(events) == 1
    data = events[0].data
    assert data["entry_id"] == loaded_entry.entry_id
    assert (data["title"], data["queued"], data["unsent"], data["test"]) == ("T", 2, 0, False)
    assert data["file_ids"] == [response[FAMILY]["files"][0]["id"]]
    assert [r["phone"] for r in data["recipients"]] == ["+48500600701", "+48500600702"]
    text = repr(data)
    for secret in (TOKEN, USERNAME, PASSWORD):
        assert secret not in text


async def test_credits_sensor_follows_sends(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry
) -> None:
    await send_mms(hass, FAMILY, message="x")
    assert hass.states.get("sensor.serwersms_mms_credits").state == "998"
    await send_mms(hass, FAMILY, message="x", test=True)
    assert hass.states.get("sensor.serwersms_mms_credits").state == "998"


# --- caller mistakes: translated, and nothing leaves the house ----------------------------------

VALIDATION_CASES: list[tuple[dict[str, Any], str]] = [
    ({"message": "x", "title": "x" * 41}, "title_too_long"),
    ({"message": "x", "file_id": [f"{i:010x}" for i in range(11)]}, "too_many_attachments"),
    ({"camera": ["camera.front_door"] * 6, "file_id": ["a"] * 5}, "too_many_attachments"),
    ({}, "empty_message"),
    ({"message": ""}, "empty_message"),
    ({"camera": "camera.back_yard"}, "camera_not_found"),
    ({"camera": "light.kitchen"}, "camera_not_found"),
    ({"camera": "not an entity"}, "camera_not_found"),
    ({"file": "/etc/passwd"}, "file_not_allowed"),
    ({"file": "relative/path.jpg"}, "file_not_allowed"),
    ({"url": "https://example.com/a.jpg"}, "url_not_allowed"),
    ({"url": "file:///etc/passwd"}, "url_not_allowed"),
    ({"media": "not-a-media-id"}, "media_not_found"),
    ({"message": "x", "date": "2020-01-01 10:00:00"}, "date_in_past"),
]


@pytest.mark.parametrize(("data", "key"), VALIDATION_CASES)
async def test_caller_mistakes_are_refused_before_anything_is_sent(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
    data: dict[str, Any],
    key: str,
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await send_mms(hass, MOM, **data)
    assert err.value.translation_domain == "serwersms"
    assert err.value.translation_key == key
    assert gateway_calls(simulator) == []
    assert front_door.snapshots == 0


async def test_unavailable_camera_is_refused(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
) -> None:
    front_door._attr_available = False
    front_door.async_write_ha_state()
    with pytest.raises(ServiceValidationError) as err:
        await send_mms(hass, MOM, camera="camera.front_door")
    assert err.value.translation_key == "camera_unavailable"
    assert gateway_calls(simulator) == []


@pytest.mark.parametrize(
    ("content", "key"),
    [(b"this is not an image at all", "not_an_image"), (b"\xff\xd8\xff\xe0 broken jpeg", "not_an_image")],
)
async def test_non_images_are_refused(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry, tmp_path, content, key
) -> None:
    fake = tmp_path / "photo.jpg"
    fake.write_bytes(content)
    hass.config.allowlist_external_dirs = {str(tmp_path)}
    with pytest.raises(ServiceValidationError) as err:
        await send_mms(hass, MOM, file=str(fake))
    assert err.value.translation_key == key
    assert gateway_calls(simulator) == []


async def test_missing_file_and_symlink_out_of_the_allowlist(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry, tmp_path
) -> None:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(make_jpeg(32, 32))
    (allowed / "link.jpg").symlink_to(secret)
    hass.config.allowlist_external_dirs = {str(allowed)}
    with pytest.raises(ServiceValidationError) as missing:
        await send_mms(hass, MOM, file=str(allowed / "nope.jpg"))
    assert missing.value.translation_key == "file_not_found"
    with pytest.raises(ServiceValidationError) as link:
        await send_mms(hass, MOM, file=str(allowed / "link.jpg"))
    assert link.value.translation_key == "file_not_allowed"
    with pytest.raises(ServiceValidationError) as traversal:
        await send_mms(hass, MOM, file=f"{allowed}/../secret.jpg")
    assert traversal.value.translation_key == "file_not_allowed"
    assert gateway_calls(simulator) == []


@pytest.mark.parametrize(
    ("targets", "key"),
    [(["+48 500 600 700", "12ab"], "invalid_phone"), (["+48500600700"] * 0, "no_recipients")],
)
async def test_legacy_service_refuses_bad_numbers(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, config_entry: MockConfigEntry, targets, key
) -> None:
    config_entry.add_to_hass(hass)
    for subentry_id in list(config_entry.subentries):
        hass.config_entries.async_remove_subentry(config_entry, subentry_id)
    await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            "notify", "serwersms", {"message": "x", "target": targets}, blocking=True
        )
    assert err.value.translation_key == key
    assert gateway_calls(simulator) == []


async def test_more_than_100000_numbers_are_refused(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry
) -> None:
    targets = [f"+4850{i:07d}" for i in range(100_001)]
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            "notify", "serwersms", {"message": "x", "target": targets}, blocking=True
        )
    assert err.value.translation_key == "too_many_recipients"
    assert gateway_calls(simulator) == []


# --- gateway failures ----------------------------------------------------------------------------


async def test_timeout_after_the_send_is_not_retried(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry
) -> None:
    loaded_entry.runtime_data.client._timeout = __import__("aiohttp").ClientTimeout(total=0.3)
    simulator.fail_next("messages/send_mms", Fault("hang_after", hold=3))
    with pytest.raises(HomeAssistantError) as err:
        await send_mms(hass, MOM, message="x")
    assert err.value.translation_key == "outcome_unknown"
    assert len(simulator.requests_to("messages/send_mms")) == 1
    assert len(simulator.messages) == 1


async def test_credits_exhausted_raises_a_repair_cleared_by_a_later_send(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry
) -> None:
    simulator.credits = 0
    with pytest.raises(HomeAssistantError) as err:
        await send_mms(hass, MOM, message="x")
    assert err.value.translation_key == "credits_exhausted"
    issue_id = f"credits_exhausted_{loaded_entry.entry_id}"
    assert ir.async_get(hass).async_get_issue("serwersms", issue_id) is not None
    simulator.credits = 10
    await send_mms(hass, MOM, message="x")
    assert ir.async_get(hass).async_get_issue("serwersms", issue_id) is None


async def test_no_mms_permission_raises_a_repair_cleared_by_the_credit_check(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry
) -> None:
    simulator.mms_allowed = False
    with pytest.raises(HomeAssistantError) as err:
        await send_mms(hass, MOM, message="x")
    assert err.value.translation_key == "mms_not_permitted"
    issue_id = f"mms_not_permitted_{loaded_entry.entry_id}"
    assert ir.async_get(hass).async_get_issue("serwersms", issue_id) is not None
    simulator.mms_allowed = True
    await loaded_entry.runtime_data.coordinator.async_refresh()
    assert ir.async_get(hass).async_get_issue("serwersms", issue_id) is None


async def test_auth_failure_during_a_send_starts_reauth(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry
) -> None:
    simulator.token = "rotated"
    with pytest.raises(HomeAssistantError) as err:
        await send_mms(hass, MOM, message="x")
    assert err.value.translation_key == "auth_failed"
    await hass.async_block_till_done()
    assert [f["context"]["source"] for f in hass.config_entries.flow.async_progress()] == ["reauth"]


@pytest.mark.parametrize(
    ("fault", "key"),
    [
        (Fault("error", code=1002), "api_access_denied"),
        (Fault("error", code=1003), "ip_not_allowed"),
        (Fault("error", code=3100), "gateway_error"),
        (Fault("status", status=429, retry_after=60), "rate_limited"),
        (Fault("reset"), "outcome_unknown"),
    ],
)
async def test_gateway_refusals_are_translated(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry, fault: Fault, key: str
) -> None:
    simulator.fail_next("messages/send_mms", fault)
    with pytest.raises(HomeAssistantError) as err:
        await send_mms(hass, MOM, message="x")
    assert err.value.translation_key == key
    await send_mms(hass, MOM, message="and the next one works")
    assert len(simulator.messages) == 1


async def test_a_lost_file_is_uploaded_once_more(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
) -> None:
    await send_mms(hass, MOM, camera="camera.front_door")
    simulator.files.clear()  # deleted in the panel
    response = await send_mms(hass, MOM, camera="camera.front_door")
    assert response[MOM]["files"][0]["uploaded"] is True
    assert len(simulator.requests_to("files/add")) == 2
    assert len(simulator.messages) == 2
    assert front_door.snapshots == 2  # the picture already taken is uploaded again, not a new one


async def test_an_unknown_file_id_is_refused_before_anything_is_sent(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await send_mms(hass, MOM, file_id="0123456789")
    assert err.value.translation_key == "file_id_unknown"
    assert err.value.translation_placeholders == {"file_id": "0123456789"}
    assert gateway_calls(simulator) == ["files/index"]


async def test_upload_failure_is_translated_and_nothing_is_sent(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
) -> None:
    simulator.fail_next("files/add", Fault("error", code=1006))
    with pytest.raises(HomeAssistantError) as err:
        await send_mms(hass, MOM, camera="camera.front_door")
    assert err.value.translation_key == "gateway_error"
    assert simulator.requests_to("messages/send_mms") == []
