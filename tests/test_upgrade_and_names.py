"""Upgrading a stored 1.1 account, and legacy service names that belong to the account."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigEntryDisabler, ConfigEntryState, ConfigSubentryData
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from serwersms_simulator import SerwerSmsSimulator
from tests.conftest import entry_data


def _v11_entry(sim: SerwerSmsSimulator, unique_id: str, title: str = "SerwerSMS") -> MockConfigEntry:
    """An account as version 1.1 stored it: no service name, recipients without devices."""
    return MockConfigEntry(
        domain="serwersms",
        title=title,
        unique_id=unique_id,
        version=1,
        minor_version=1,
        data=entry_data(sim, legacy_service=None),
        subentries_data=[
            ConfigSubentryData(
                subentry_type="recipient", title=name, data={"name": name, "phone": phones}, unique_id=None
            )
            for name, phones in (("Mom", ["+48500600700"]), ("Family", ["+48500600701", "+48500600702"]))
        ],
    )


def _register_like_v11(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, str]:
    """What 1.1 left in the registries: one service device holding every entity, none tied to a subentry."""
    device_registry = dr.async_get(hass)
    entity_registry = er.async_get(hass)
    device = device_registry.async_get_or_create(
        config_entry_id=entry.entry_id,
        identifiers={("serwersms", entry.entry_id)},
        name=entry.title,
        entry_type=dr.DeviceEntryType.SERVICE,
    )
    entity_ids: dict[str, str] = {}
    for sub in entry.subentries.values():
        registered = entity_registry.async_get_or_create(
            "notify",
            "serwersms",
            f"{entry.entry_id}_{sub.subentry_id}",
            config_entry=entry,
            device_id=device.id,
            suggested_object_id=f"serwersms_{sub.title.lower()}",
        )
        entity_ids[sub.subentry_id] = registered.entity_id
    entity_registry.async_get_or_create(
        "sensor",
        "serwersms",
        f"{entry.entry_id}_mms_credits",
        config_entry=entry,
        device_id=device.id,
        suggested_object_id="serwersms_mms_credits",
    )
    return entity_ids


async def test_upgrade_moves_entities_onto_recipient_devices_keeping_their_ids(
    hass: HomeAssistant, simulator: SerwerSmsSimulator
) -> None:
    entry = _v11_entry(simulator, "acc-1")
    entry.add_to_hass(hass)
    old_ids = _register_like_v11(hass, entry)
    assert sorted(old_ids.values()) == ["notify.serwersms_family", "notify.serwersms_mom"]
    # An automation written against 1.1 keeps working after the upgrade.
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "trigger": {"platform": "event", "event_type": "doorbell"},
                "action": {
                    "action": "notify.send_message",
                    "target": {"entity_id": "notify.serwersms_mom"},
                    "data": {"message": "Ding dong"},
                },
            }
        },
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert (entry.version, entry.minor_version) == (1, 2)
    assert entry.data["legacy_service"] == "serwersms"

    device_registry = dr.async_get(hass)
    entity_registry = er.async_get(hass)
    account = device_registry.async_get_device_by_identifier(("serwersms", entry.entry_id), entry.entry_id)
    assert account is not None
    for sub_id, entity_id in old_ids.items():
        registered = entity_registry.async_get(entity_id)
        assert registered is not None, entity_id  # the same entity id, not a new one
        assert registered.config_subentry_id == sub_id
        device = device_registry.async_get(registered.device_id or "")
        assert device is not None
        assert device.name == entry.subentries[sub_id].title
        assert device.config_subentry_id == sub_id
        assert device.via_device_id == account.id
        assert hass.states.get(entity_id) is not None
    # No duplicate entities were made next to the migrated ones.
    notify_ids = sorted(
        e.entity_id
        for e in er.async_entries_for_config_entry(entity_registry, entry.entry_id)
        if e.domain == "notify"
    )
    assert notify_ids == ["notify.serwersms_family", "notify.serwersms_mom"]
    assert entity_registry.async_get("sensor.serwersms_mms_credits").device_id == account.id

    hass.bus.async_fire("doorbell")
    await hass.async_block_till_done()
    sends = simulator.requests_to("messages/send_mms")
    assert [s.fields["phone"] for s in sends] == [["+48500600700"]]

    # Removing a migrated recipient removes its device and entity through Home Assistant.
    family = next(sub for sub in entry.subentries.values() if sub.title == "Family")
    assert hass.config_entries.async_remove_subentry(entry, family.subentry_id)
    await hass.async_block_till_done()
    assert entity_registry.async_get(old_ids[family.subentry_id]) is None
    assert sorted(d.name for d in dr.async_entries_for_config_entry(device_registry, entry.entry_id)) == [
        "Mom",
        "SerwerSMS",
    ]


async def test_an_account_stored_by_a_newer_version_is_left_alone(
    hass: HomeAssistant, simulator: SerwerSmsSimulator
) -> None:
    entry = MockConfigEntry(domain="serwersms", data=entry_data(simulator), version=2, minor_version=1)
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.MIGRATION_ERROR


async def _names(hass: HomeAssistant, entries: list[MockConfigEntry]) -> dict[str, str]:
    return {entry.title: entry.data["legacy_service"] for entry in entries}


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
async def test_legacy_names_belong_to_the_accounts_whatever_order_they_load(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, order: tuple[int, int]
) -> None:
    first = MockConfigEntry(
        domain="serwersms", title="Dom", unique_id="a", minor_version=2, data=entry_data(simulator)
    )
    second = MockConfigEntry(
        domain="serwersms",
        title="Biuro",
        unique_id="b",
        minor_version=2,
        data=entry_data(simulator, legacy_service="serwersms_2"),
    )
    entries = [first, second]
    # Home Assistant sets up an integration's accounts concurrently, in the order they were stored.
    for i in order:
        entries[i].add_to_hass(hass)
    assert await async_setup_component(hass, "serwersms", {})
    await hass.async_block_till_done()
    assert all(entry.state is ConfigEntryState.LOADED for entry in entries)
    await _assert_registered_for(hass, simulator, {"serwersms": "Dom", "serwersms_2": "Biuro"})
    # A restart (unload both, load in the other order): the names stay with their accounts.
    for entry in entries:
        assert await hass.config_entries.async_unload(entry.entry_id)
    assert not hass.services.has_service("notify", "serwersms")
    for i in reversed(order):
        assert await hass.config_entries.async_setup(entries[i].entry_id)
    await hass.async_block_till_done()
    await _assert_registered_for(hass, simulator, {"serwersms": "Dom", "serwersms_2": "Biuro"})


async def _assert_registered_for(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, expected: dict[str, str]
) -> None:
    """Each legacy service sends with its own account: the title of the MMS names the account."""
    for name, account in expected.items():
        entry = next(e for e in hass.config_entries.async_entries("serwersms") if e.title == account)
        hass.config_entries.async_update_entry(entry, options={"default_title": account})
        before = len(simulator.requests_to("messages/send_mms"))
        await hass.services.async_call("notify", name, {"message": "x", "target": "500600700"}, blocking=True)
        sends = simulator.requests_to("messages/send_mms")[before:]
        assert [s.fields["title"] for s in sends] == [account], name


async def test_upgrade_of_two_accounts_names_them_in_the_order_they_were_added(
    hass: HomeAssistant, simulator: SerwerSmsSimulator
) -> None:
    older = _v11_entry(simulator, "older", "Dom")
    newer = _v11_entry(simulator, "newer", "Biuro")
    older.add_to_hass(hass)
    newer.add_to_hass(hass)
    # Both are migrated concurrently at start-up; the names follow the order they were added.
    assert await async_setup_component(hass, "serwersms", {})
    await hass.async_block_till_done()
    assert older.data["legacy_service"] == "serwersms"
    assert newer.data["legacy_service"] == "serwersms_2"


async def test_upgrade_keeps_notify_serwersms_on_the_enabled_account_when_an_older_one_is_disabled(
    hass: HomeAssistant, simulator: SerwerSmsSimulator
) -> None:
    # Up to 1.1 a disabled account registered nothing, so the enabled one was notify.serwersms.
    older = _v11_entry(simulator, "older", "Dom")
    older.disabled_by = ConfigEntryDisabler.USER
    newer = _v11_entry(simulator, "newer", "Biuro")
    older.add_to_hass(hass)
    newer.add_to_hass(hass)
    assert await async_setup_component(hass, "serwersms", {})
    await hass.async_block_till_done()
    assert newer.state is ConfigEntryState.LOADED
    assert newer.data["legacy_service"] == "serwersms"
    await _assert_registered_for(hass, simulator, {"serwersms": "Biuro"})
    assert not hass.services.has_service("notify", "serwersms_2")
    # Enabled again later, the older account takes the next free name, as 1.1 gave it then.
    assert await hass.config_entries.async_set_disabled_by(older.entry_id, None)
    await hass.async_block_till_done()
    assert older.state is ConfigEntryState.LOADED
    assert older.data["legacy_service"] == "serwersms_2"
    await _assert_registered_for(hass, simulator, {"serwersms": "Biuro", "serwersms_2": "Dom"})


async def test_legacy_service_is_described_in_home_assistants_language(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    from homeassistant.helpers.service import SERVICE_DESCRIPTION_CACHE  # noqa: PLC0415

    english: dict[str, Any] = hass.data[SERVICE_DESCRIPTION_CACHE][("notify", "serwersms")]
    assert english["name"] == "Send an MMS with SerwerSMS"
    assert set(english["fields"]) == {"message", "title", "target", "data"}
    assert all(field["description"] for field in english["fields"].values())
    await hass.config_entries.async_unload(loaded_entry.entry_id)
    await hass.config.async_update(language="pl")
    assert await hass.config_entries.async_setup(loaded_entry.entry_id)
    await hass.async_block_till_done()
    polish = hass.data[SERVICE_DESCRIPTION_CACHE][("notify", "serwersms")]
    assert polish["name"] == "Wyślij MMS przez SerwerSMS"
    assert polish["fields"]["target"]["name"] == "Numery telefonów"
