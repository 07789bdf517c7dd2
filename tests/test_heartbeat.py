"""Heartbeat: one SMS kept scheduled at the gateway, re-scheduled new-first, replaced after a restart."""

from __future__ import annotations

from datetime import timedelta
import logging
import time
from typing import Any
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigSubentryData
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from serwersms_simulator import Fault, SerwerSmsSimulator
from tests.conftest import entry_data
from tests.helpers import client_without_pauses, later

MOM = "+48500600700"
DAD = "+48500600703"
WARSAW = ZoneInfo("Europe/Warsaw")
SEND = "messages/send_sms"
DELETE = "messages/delete"


@pytest.fixture(autouse=True)
def _no_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    client_without_pauses(monkeypatch)


def make_entry(
    sim: SerwerSmsSimulator, *, minutes: int = 60, mom: bool = True, **options: Any
) -> MockConfigEntry:
    """Mom (heartbeat as given) and Family (never): an account with `heartbeat_minutes`."""
    return MockConfigEntry(
        domain="serwersms",
        title="SerwerSMS",
        unique_id="test-account",
        version=1,
        minor_version=2,
        data=entry_data(sim),
        options={"heartbeat_minutes": minutes, **options},
        subentries_data=[
            ConfigSubentryData(
                subentry_type="recipient",
                title="Mom",
                data={"name": "Mom", "phone": [MOM], "heartbeat": mom},
                unique_id=None,
            ),
            ConfigSubentryData(
                subentry_type="recipient",
                title="Family",
                data={"name": "Family", "phone": ["+48500600701"], "heartbeat": False},
                unique_id=None,
            ),
        ],
    )


async def load(hass: HomeAssistant, entry: MockConfigEntry) -> MockConfigEntry:
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    return entry


def scheduled(sim: SerwerSmsSimulator) -> list[Any]:
    return [m for m in sim.scheduled if m in sim.sms]


def calls(sim: SerwerSmsSimulator) -> list[tuple[str, Any]]:
    """The heartbeat's requests in order: ("send", its date) and ("delete", the id)."""
    return [
        ("send", r.fields.get("date")) if r.endpoint == SEND else ("delete", r.fields["id"])
        for r in sim.requests
        if r.endpoint in (SEND, DELETE)
    ]


def stored(hass_storage: dict[str, Any], entry: MockConfigEntry) -> dict[str, Any]:
    data: dict[str, Any] = hass_storage[f"serwersms.{entry.entry_id}.heartbeat"]["data"]
    return data


def warsaw(minutes_ahead: float) -> str:
    return (
        (dt_util.utcnow() + timedelta(minutes=minutes_ahead)).astimezone(WARSAW).strftime("%Y-%m-%d %H:%M:%S")
    )


def issue(hass: HomeAssistant, entry: MockConfigEntry) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue("serwersms", f"heartbeat_without_recipient_{entry.entry_id}")


async def test_scheduled_at_start_to_the_heartbeat_recipients_only(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,  # the expected date is computed before the send: no second may pass
) -> None:
    expected = warsaw(60)
    entry = await load(hass, make_entry(simulator))
    [sms] = scheduled(simulator)
    assert sms.phone == MOM  # not Family: only recipients with the heartbeat
    assert sms.scheduled == expected
    request = simulator.requests_to(SEND)[0]
    assert request.fields["date"] == expected
    assert "sender" not in request.fields  # ECO
    assert request.fields["text"].startswith("Home Assistant has not been heard from since ")
    assert dt_util.now().strftime("%Y-%m-%d %H:%M") in request.fields["text"]
    assert stored(hass_storage, entry)["ids"] == [sms.id]
    diagnostics = entry.runtime_data.heartbeat.diagnostics()
    assert diagnostics["scheduled_ids"] == 1
    assert MOM not in str(diagnostics)


async def test_polish_text_and_sender_name(hass: HomeAssistant, simulator: SerwerSmsSimulator) -> None:
    hass.config.language = "pl"
    await load(hass, make_entry(simulator, sms_sender="Dom"))
    request = simulator.requests_to(SEND)[0]
    assert request.fields["text"].startswith("Home Assistant nie odzywa się od ")
    assert request.fields["sender"] == "Dom"


async def test_renewed_before_due_new_first_then_old_deleted(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
) -> None:
    entry = await load(hass, make_entry(simulator))
    [first] = scheduled(simulator)
    await later(hass, freezer, 39 * 60)
    assert len(calls(simulator)) == 1  # not yet: due in more than a third of the period
    stored_when_deleted: list[list[str]] = []
    simulator.on_request = lambda request: (
        stored_when_deleted.append(list(stored(hass_storage, entry)["ids"]))
        if request.endpoint == DELETE
        else None
    )
    expected = warsaw(61)
    await later(hass, freezer, 60)  # 40 minutes: due in 20, a third of the period
    [second] = scheduled(simulator)
    assert second.id != first.id
    assert second.scheduled == expected
    assert calls(simulator)[1:] == [("send", expected), ("delete", first.id)]
    assert simulator.deleted == [first]
    # The new id was stored before the old one was deleted: a crash in between loses nothing.
    assert stored_when_deleted == [[second.id]]
    assert stored(hass_storage, entry)["old"] == []


async def test_a_day_within_budget_never_more_than_one_scheduled_none_sent(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, freezer: FrozenDateTimeFactory
) -> None:
    await load(hass, make_entry(simulator))
    started = len(calls(simulator))
    for _ in range(24 * 12):
        await later(hass, freezer, 5 * 60)
        assert len(scheduled(simulator)) == 1
    steady = calls(simulator)[started:]
    assert len(steady) <= 3 * 1440 // 60
    assert len(steady) >= 70  # it did keep renewing (36 renewals, each a send and a delete)
    # Every heartbeat was deleted before its time, or is the one still scheduled: none went out.
    assert simulator.sms == scheduled(simulator)
    assert len(simulator.deleted) == len(steady) // 2


async def test_restart_replaces_the_one_left_behind(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
) -> None:
    entry = await load(hass, make_entry(simulator))
    [left] = scheduled(simulator)
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert scheduled(simulator) == [left]  # stopping leaves it: that is what it is for
    await later(hass, freezer, 10 * 60)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    [new] = scheduled(simulator)
    assert new.id != left.id
    assert calls(simulator)[-2:] == [("send", new.scheduled), ("delete", left.id)]
    assert stored(hass_storage, entry) == {
        "ids": [new.id],
        "due": stored(hass_storage, entry)["due"],
        "old": [],
    }


async def test_a_stored_id_the_gateway_no_longer_has_is_forgotten(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
) -> None:
    entry = make_entry(simulator)
    hass_storage[f"serwersms.{entry.entry_id}.heartbeat"] = {
        "version": 1,
        "minor_version": 1,
        "key": f"serwersms.{entry.entry_id}.heartbeat",
        "data": {"ids": ["0123456789"], "due": None, "old": ["abcdefabcd"]},
    }
    await load(hass, entry)
    assert [c for c in calls(simulator) if c[0] == "delete"] == [
        ("delete", "abcdefabcd"),
        ("delete", "0123456789"),
    ]
    await later(hass, freezer, 2)
    assert stored(hass_storage, entry)["old"] == []
    await later(hass, freezer, 5 * 60)
    assert len(calls(simulator)) == 3  # not tried again


async def test_gateway_down_at_a_tick_retried_soon_old_kept_then_settled(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    entry = await load(hass, make_entry(simulator))
    [first] = scheduled(simulator)
    await later(hass, freezer, 39 * 60)
    await simulator.go_offline()
    caplog.set_level(logging.DEBUG, logger="custom_components.serwersms.heartbeat")
    await later(hass, freezer, 60)
    await later(hass, freezer, 60)
    assert scheduled(simulator) == [first]  # still armed
    assert stored(hass_storage, entry)["ids"] == [first.id]
    said = [r for r in caplog.records if "cannot be reached: the scheduled heartbeat" in r.getMessage()]
    assert [r.levelno for r in said] == [logging.INFO, logging.DEBUG]  # once, then only at debug
    await simulator.go_online()
    await later(hass, freezer, 60)  # a minute, not a whole period
    [second] = scheduled(simulator)
    assert second.id != first.id
    assert simulator.deleted == [first]
    assert stored(hass_storage, entry) == {
        "ids": [second.id],
        "due": stored(hass_storage, entry)["due"],
        "old": [],
    }


async def test_a_failed_delete_keeps_the_id_and_is_retried(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
) -> None:
    entry = await load(hass, make_entry(simulator))
    [first] = scheduled(simulator)
    simulator.fail_next(DELETE, Fault("status", status=503))
    simulator.fail_next(DELETE, Fault("status", status=503))
    simulator.fail_next(DELETE, Fault("status", status=503))
    await later(hass, freezer, 40 * 60)
    assert len(scheduled(simulator)) == 2
    assert stored(hass_storage, entry)["old"] == [first.id]
    await later(hass, freezer, 60)
    assert len(scheduled(simulator)) == 1
    assert simulator.deleted == [first]
    await later(hass, freezer, 2)
    assert stored(hass_storage, entry)["old"] == []


async def test_a_send_of_unknown_outcome_is_sent_again_soon(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await load(hass, make_entry(simulator))
    [first] = scheduled(simulator)
    simulator.fail_next(SEND, Fault("malformed"))  # carried out, the answer unreadable
    await later(hass, freezer, 40 * 60)
    assert "may be scheduled all the same" in caplog.text
    assert first in scheduled(simulator)  # the old one is kept: nothing known is armed
    await later(hass, freezer, 60)
    # Armed again with a known id, the old one deleted; the unknown one stays until its time.
    assert first in simulator.deleted
    assert len(scheduled(simulator)) == 2


async def test_turning_it_off_deletes_it_and_leaves_no_timer(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
) -> None:
    entry = await load(hass, make_entry(simulator))
    runtime = entry.runtime_data
    [first] = scheduled(simulator)
    hass.config_entries.async_update_entry(entry, options={"heartbeat_minutes": 0})
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.runtime_data is runtime  # not reloaded
    assert simulator.deleted == [first]
    assert scheduled(simulator) == []
    count = len(calls(simulator))
    for _ in range(6):
        await later(hass, freezer, 4 * 3600)
    assert len(calls(simulator)) == count
    assert stored(hass_storage, entry)["ids"] == []


async def test_turning_it_on_and_changing_the_period_take_effect_without_reload(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, freezer: FrozenDateTimeFactory
) -> None:
    entry = await load(hass, make_entry(simulator, minutes=0))
    runtime = entry.runtime_data
    assert calls(simulator) == []
    hass.config_entries.async_update_entry(entry, options={"heartbeat_minutes": 60})
    await hass.async_block_till_done(wait_background_tasks=True)
    [first] = scheduled(simulator)
    expected = warsaw(15)
    hass.config_entries.async_update_entry(entry, options={"heartbeat_minutes": 15})
    await hass.async_block_till_done(wait_background_tasks=True)
    [second] = scheduled(simulator)
    assert second.scheduled == expected
    assert simulator.deleted == [first]
    assert entry.runtime_data is runtime
    await later(hass, freezer, 10 * 60)  # two thirds of 15 minutes
    [third] = scheduled(simulator)
    assert third.id != second.id


async def test_no_heartbeat_recipient_is_a_repair_issue_and_no_request(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, freezer: FrozenDateTimeFactory
) -> None:
    entry = await load(hass, make_entry(simulator, mom=False))
    assert issue(hass, entry) is not None
    await later(hass, freezer, 3600)
    assert calls(simulator) == []
    # Fixed by giving Mom the heartbeat (the account reloads with its recipients).
    mom = next(sub for sub in entry.subentries.values() if sub.title == "Mom")
    hass.config_entries.async_update_subentry(entry, mom, data={**mom.data, "heartbeat": True})
    await hass.async_block_till_done(wait_background_tasks=True)
    assert issue(hass, entry) is None
    assert len(scheduled(simulator)) == 1
    # Taking it away again deletes it and brings the issue back; turning the option off clears it.
    mom = entry.subentries[mom.subentry_id]
    hass.config_entries.async_update_subentry(entry, mom, data={**mom.data, "heartbeat": False})
    await hass.async_block_till_done(wait_background_tasks=True)
    assert scheduled(simulator) == []
    assert issue(hass, entry) is not None
    hass.config_entries.async_update_entry(entry, options={"heartbeat_minutes": 0})
    await hass.async_block_till_done(wait_background_tasks=True)
    assert issue(hass, entry) is None


async def test_removing_the_account_deletes_it(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, hass_storage: dict[str, Any]
) -> None:
    entry = await load(hass, make_entry(simulator))
    [first] = scheduled(simulator)
    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert simulator.deleted == [first]
    assert f"serwersms.{entry.entry_id}.heartbeat" not in hass_storage


async def test_recipient_form_has_the_heartbeat_switch(
    hass: HomeAssistant, simulator: SerwerSmsSimulator
) -> None:
    from homeassistant import config_entries  # noqa: PLC0415

    entry = await load(hass, make_entry(simulator, minutes=0))
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "recipient"), context={"source": config_entries.SOURCE_USER}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"name": "Dad", "phone": DAD, "heartbeat": True}
    )
    await hass.async_block_till_done()
    dad = next(sub for sub in entry.subentries.values() if sub.title == "Dad")
    assert dad.data == {"name": "Dad", "phone": [DAD], "heartbeat": True}
    result = await entry.start_subentry_reconfigure_flow(hass, dad.subentry_id)
    suggested = {
        str(key): key.description["suggested_value"]
        for key in result["data_schema"].schema
        if key.description and "suggested_value" in key.description
    }
    assert suggested["heartbeat"] is True


async def test_options_refuse_a_period_below_fifteen_minutes(
    hass: HomeAssistant, simulator: SerwerSmsSimulator
) -> None:
    entry = await load(hass, make_entry(simulator, minutes=0))
    result = await hass.config_entries.options.async_init(entry.entry_id)
    form = {
        "default_title": "Home Assistant",
        "max_image_kb": 300,
        "outbox_minutes": 15,
        "daily_limit": 100,
        "keep_uploads_days": 30,
        "heartbeat_minutes": 5,
    }
    result = await hass.config_entries.options.async_configure(result["flow_id"], form)
    assert result["errors"] == {"heartbeat_minutes": "heartbeat_range"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**form, "heartbeat_minutes": 15}
    )
    assert entry.options["heartbeat_minutes"] == 15


async def test_scheduled_by_the_gateways_clock_when_home_assistants_is_hours_behind(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A board that started Home Assistant before syncing its clock: by that clock the heartbeat's date
    would lie in the gateway's past, and the gateway would send it at once."""
    behind = timedelta(hours=3)
    simulator.clock = lambda: time.time() + behind.total_seconds()  # the gateway keeps the right time
    await load(hass, make_entry(simulator))
    [sms] = scheduled(simulator)  # waiting at the gateway, not sent
    assert sms.phone == MOM
    assert sms.scheduled == warsaw(60 + 180)
    assert (
        simulator.requests_to(SEND)[0]
        .fields["text"]
        .endswith((dt_util.now() + behind).strftime("%Y-%m-%d %H:%M") + ".")
    )  # "not heard from since" the gateway's now, not the board's
    assert caplog.text.count("Home Assistant's clock is 180 minutes behind the SerwerSMS gateway's") == 1
    await later(hass, freezer, 40 * 60)  # re-scheduled by the same clock; the warning is not repeated
    [renewed] = scheduled(simulator)
    assert renewed.scheduled == warsaw(60 + 180)
    assert caplog.text.count("minutes behind the SerwerSMS gateway's") == 1
    # The gateway's time is that of its last answer, so each change shows one re-schedule later.
    simulator.clock = time.time  # the board's clock is synced: the clocks agree, nothing to say
    for _ in range(2):
        await later(hass, freezer, 40 * 60)
    assert caplog.text.count("minutes behind the SerwerSMS gateway's") == 1
    simulator.clock = lambda: time.time() + behind.total_seconds()  # apart again: said again
    for _ in range(2):
        await later(hass, freezer, 40 * 60)
    assert caplog.text.count("minutes behind the SerwerSMS gateway's") == 2
