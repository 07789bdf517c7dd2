"""The spending guard at its limits and edges: bursts at the limit, midnight, deferred sends, cooldowns."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from serwersms_simulator import Fault, SerwerSmsSimulator
from serwersms_simulator.server import RecordedRequest
from tests.conftest import SnapshotCamera
from tests.helpers import call_send_mms, client_without_pauses

MOM = "notify.mom_mms"
FAMILY = "notify.family_mms"
MOM_PHONE = "+48500600700"
SENT_TODAY = "sensor.serwersms_mms_sent_today"
SEND = "messages/send_mms"
SUPPRESSED = {"suppressed": True, "queued": 0, "unsent": 0, "recipients": [], "files": []}


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client's own quick retries without their pauses (time moves with the freezer)."""
    client_without_pauses(monkeypatch)


async def set_options(hass: HomeAssistant, entry: MockConfigEntry, **options: Any) -> None:
    hass.config_entries.async_update_entry(entry, options={**entry.options, **options})
    await hass.async_block_till_done()


def limit_issue(hass: HomeAssistant, entry: MockConfigEntry) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue("serwersms", f"daily_limit_reached_{entry.entry_id}")


async def test_twenty_concurrent_sends_at_a_limit_of_five_send_exactly_five(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
) -> None:
    await set_options(hass, loaded_entry, daily_limit=5)
    results = await asyncio.gather(
        *(call_send_mms(hass, camera="camera.front_door", message=f"motion {i}") for i in range(20)),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, ServiceValidationError)]
    assert len(refused) == 15
    assert {e.translation_key for e in refused} == {"daily_limit_reached"}
    assert len(simulator.messages) == 5
    assert front_door.snapshots == 5
    assert hass.states.get(SENT_TODAY).state == "5"


async def test_each_number_has_its_own_limit_and_finished_sends_free_their_hold(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry
) -> None:
    await set_options(hass, loaded_entry, daily_limit=3)
    for i in range(3):  # one after the other: each finished send holds nothing more
        assert (await call_send_mms(hass, message=f"mom {i}"))[MOM]["queued"] == 1
    assert (await call_send_mms(hass, FAMILY, message="family"))[FAMILY]["queued"] == 2
    with pytest.raises(ServiceValidationError) as err:
        await call_send_mms(hass, [MOM, FAMILY], message="both")
    assert err.value.translation_placeholders == {"limit": "3", "sent_today": "3", "needed": "3"}
    assert hass.states.get(SENT_TODAY).state == "5"
    assert len(simulator.messages) == 5


async def test_deferred_numbers_count_once_against_the_limit(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    await set_options(hass, loaded_entry, daily_limit=2)
    await simulator.go_offline()
    for i in range(2):
        assert (await call_send_mms(hass, message=f"alarm {i}"))[MOM]["deferred"] == 1
    with pytest.raises(ServiceValidationError) as err:
        await call_send_mms(hass, message="alarm 2")
    assert err.value.translation_key == "daily_limit_reached"
    assert hass.states.get(SENT_TODAY).state == "2"

    await simulator.go_online()
    freezer.tick(timedelta(seconds=30))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert [m.text for m in simulator.messages] == ["alarm 0", "alarm 1"]
    assert hass.states.get(SENT_TODAY).state == "2"  # leaving the outbox does not count them again


async def test_a_send_in_flight_at_midnight_leaves_the_new_day_its_whole_limit(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    """Limit 1. Yesterday's last MMS is at the gateway as midnight strikes; today's first starts then."""
    freezer.move_to(dt_util.start_of_local_day() + timedelta(days=1, seconds=-10))
    await set_options(hass, loaded_entry, daily_limit=1)
    todays: list[asyncio.Task[Any]] = []

    def midnight_strikes(request: RecordedRequest) -> None:
        if request.endpoint == SEND and not todays:
            freezer.tick(timedelta(seconds=20))
            async_fire_time_changed(hass)
            todays.append(hass.async_create_task(call_send_mms(hass, message="today")))

    simulator.on_request = midnight_strikes
    assert (await call_send_mms(hass, message="yesterday"))[MOM]["queued"] == 1
    assert (await todays[0])[MOM]["queued"] == 1
    simulator.on_request = None

    assert hass.states.get(SENT_TODAY).state == "1"
    with pytest.raises(ServiceValidationError) as err:
        await call_send_mms(hass, message="today again")
    assert err.value.translation_placeholders == {"limit": "1", "sent_today": "1", "needed": "1"}
    assert [m.text for m in simulator.messages] == ["yesterday", "today"]


async def test_a_limit_of_zero_takes_the_repair_issue_away(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry
) -> None:
    await set_options(hass, loaded_entry, daily_limit=1)
    await call_send_mms(hass, message="one")
    with pytest.raises(ServiceValidationError):
        await call_send_mms(hass, message="two")
    assert limit_issue(hass, loaded_entry) is not None
    await set_options(hass, loaded_entry, daily_limit=0)
    assert limit_issue(hass, loaded_entry) is None
    assert (await call_send_mms(hass, message="three"))[MOM]["queued"] == 1


async def test_lowering_the_limit_below_todays_count_keeps_the_repair_issue(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry
) -> None:
    await set_options(hass, loaded_entry, daily_limit=2)
    await call_send_mms(hass, message="one")
    await call_send_mms(hass, message="two")
    with pytest.raises(ServiceValidationError):
        await call_send_mms(hass, message="three")
    await set_options(hass, loaded_entry, daily_limit=2, default_title="Alarm")
    assert limit_issue(hass, loaded_entry) is not None  # still at the limit: the issue stays


# --- cooldown ------------------------------------------------------------------------------------


async def test_a_cooldown_survives_a_restart_and_spans_midnight(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    freezer.move_to(dt_util.start_of_local_day() + timedelta(days=1, minutes=-2))
    assert (await call_send_mms(hass, MOM, message="motion", cooldown=600))[MOM]["queued"] == 1
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    assert await hass.config_entries.async_setup(loaded_entry.entry_id)
    await hass.async_block_till_done()
    freezer.tick(timedelta(minutes=4))  # 00:02 the next day
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert (await call_send_mms(hass, MOM, message="motion", cooldown=600))[MOM] == SUPPRESSED
    freezer.tick(timedelta(minutes=7))
    assert (await call_send_mms(hass, MOM, message="motion", cooldown=600))[MOM]["queued"] == 1
    assert len(simulator.messages) == 2


async def test_only_suppressed_targets_make_no_request_and_raise_nothing(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
) -> None:
    await call_send_mms(hass, [MOM, FAMILY], camera="camera.front_door", cooldown=60)
    requests = len(simulator.requests)
    again = await call_send_mms(hass, [MOM, FAMILY], camera="camera.front_door", cooldown=60)
    assert again == {MOM: SUPPRESSED, FAMILY: SUPPRESSED}
    assert len(simulator.requests) == requests
    assert front_door.snapshots == 1


async def test_a_negative_cooldown_is_refused(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await call_send_mms(hass, message="x", cooldown=-1)
    assert err.value.translation_key == "invalid_cooldown"
    assert simulator.messages == []


async def test_test_sends_are_never_suppressed_and_start_no_cooldown(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry
) -> None:
    for _ in range(2):
        response = await call_send_mms(hass, message="try", test=True, cooldown=600)
        assert response[MOM]["queued"] == 1
    assert (await call_send_mms(hass, message="real", cooldown=600))[MOM]["queued"] == 1
    assert [m.text for m in simulator.messages] == ["real"]


async def test_the_default_tag_is_the_title(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry
) -> None:
    assert (await call_send_mms(hass, title="Door", message="a", cooldown=600))[MOM]["queued"] == 1
    assert (await call_send_mms(hass, title="Window", message="b", cooldown=600))[MOM]["queued"] == 1
    assert (await call_send_mms(hass, title="Door", message="c", cooldown=600))[MOM] == SUPPRESSED
    # With no title the account's default title is the tag.
    assert (await call_send_mms(hass, message="d", cooldown=600))[MOM]["queued"] == 1
    assert (await call_send_mms(hass, message="e", cooldown=600))[MOM] == SUPPRESSED


async def test_a_deferred_send_starts_the_cooldown_a_refused_number_does_not(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry
) -> None:
    # The gateway refuses Mom's number but takes Family's.
    def refuse_mom(reply: dict[str, Any]) -> dict[str, Any]:
        for item in reply["items"]:
            if item["phone"] == MOM_PHONE:
                item.update(status="unsent", error_code=3103, error_message="Błędny numer odbiorcy")
        return reply

    simulator.fail_next(SEND, Fault("reply", body=refuse_mom))
    first = await call_send_mms(hass, [MOM, FAMILY], message="motion", cooldown=600)
    assert (first[MOM]["unsent"], first[FAMILY]["queued"]) == (1, 2)
    second = await call_send_mms(hass, [MOM, FAMILY], message="motion", cooldown=600)
    assert second[MOM]["queued"] == 1
    assert second[FAMILY] == SUPPRESSED

    await simulator.go_offline()
    third = await call_send_mms(hass, FAMILY, message="smoke", title="Smoke", cooldown=600)
    assert third[FAMILY]["deferred"] == 2
    assert (await call_send_mms(hass, FAMILY, message="smoke", title="Smoke", cooldown=600))[
        FAMILY
    ] == SUPPRESSED


async def test_a_restart_the_next_day_starts_a_new_count(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    """Home Assistant was off over midnight: yesterday's count is not today's."""
    await set_options(hass, loaded_entry, daily_limit=1)
    await call_send_mms(hass, message="yesterday")
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    freezer.move_to(dt_util.start_of_local_day() + timedelta(days=1, hours=7))
    assert await hass.config_entries.async_setup(loaded_entry.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get(SENT_TODAY).state == "0"
    assert (await call_send_mms(hass, message="today"))[MOM]["queued"] == 1


async def test_a_cooldown_ends_exactly_after_its_seconds(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    assert (await call_send_mms(hass, message="motion", cooldown=60))[MOM]["queued"] == 1
    freezer.tick(timedelta(seconds=59.9))
    assert (await call_send_mms(hass, message="motion", cooldown=60))[MOM] == SUPPRESSED
    freezer.tick(timedelta(seconds=0.1))  # 60 s since the first: no longer "less than 60 s ago"
    assert (await call_send_mms(hass, message="motion", cooldown=60))[MOM]["queued"] == 1
