"""Every path of the account, options and recipient flows."""

from __future__ import annotations

from typing import Any
from unittest.mock import patch

from homeassistant import config_entries
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.test_util.aiohttp import AiohttpClientMocker

from custom_components.serwersms.config_flow import account_unique_id
from serwersms_simulator import Fault, SerwerSmsSimulator
from tests.conftest import PASSWORD, TOKEN, USERNAME, entry_data


async def _start(hass: HomeAssistant, method: str) -> dict[str, Any]:
    result = await hass.config_entries.flow.async_init(
        "serwersms", context={"source": config_entries.SOURCE_USER}
    )
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == ["token", "credentials"]
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": method})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == method
    return result


async def test_token_account_is_created_after_checking_it(
    hass: HomeAssistant, simulator: SerwerSmsSimulator
) -> None:
    result = await _start(hass, "token")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"api_token": TOKEN, "advanced": {"api_url": simulator.url}}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "SerwerSMS"
    assert result["data"] == {
        "auth_method": "token",
        "api_token": TOKEN,
        "api_url": simulator.url,
        "legacy_service": "serwersms",
    }
    entry = result["result"]
    assert TOKEN not in entry.unique_id
    assert simulator.requests_to("account/limits")
    # The flow goes straight on to the account's first recipient.
    flow_type, flow_id = result["next_flow"]
    assert flow_type == config_entries.FlowType.CONFIG_SUBENTRIES_FLOW
    result = await hass.config_entries.subentries.async_configure(
        flow_id, {"name": "Mom", "phone": "500 600 700"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert [sub.title for sub in entry.subentries.values()] == ["Mom"]
    assert hass.states.get("notify.mom_mms") is not None


async def test_credentials_account_is_created(hass: HomeAssistant, simulator: SerwerSmsSimulator) -> None:
    result = await _start(hass, "credentials")
    url = simulator.url.rstrip("/")  # a missing trailing slash is added
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"username": USERNAME, "password": PASSWORD, "advanced": {"api_url": url}}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {
        "auth_method": "credentials",
        "username": USERNAME,
        "password": PASSWORD,
        "api_url": simulator.url,
        "legacy_service": "serwersms",
    }
    assert USERNAME not in result["result"].unique_id
    assert PASSWORD not in result["result"].unique_id


@pytest.fixture
def no_entry_setup() -> Any:
    """Created entries are not set up (they would talk to a gateway that is not there)."""
    with patch("custom_components.serwersms.async_setup_entry", return_value=True) as setup:
        yield setup


async def test_the_default_gateway_is_the_real_one(
    hass: HomeAssistant, no_entry_setup: Any, aioclient_mock: AiohttpClientMocker
) -> None:
    # Nothing leaves the test machine: the production gateway's replies are canned at the HTTP boundary.
    limits = "https://api2.serwersms.pl/account/limits.json"
    aioclient_mock.post(limits, json={"error": {"code": 1001, "type": "InvalidUser", "message": "bad token"}})
    result = await _start(hass, "token")
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"api_token": "abc"})
    assert result["errors"] == {"base": "invalid_auth"}  # the gateway's answer reached the form
    aioclient_mock.clear_requests()
    aioclient_mock.post(limits, json={"items": [{"type": "mms", "chars_limit": "40/1", "value": "120"}]})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"api_token": "abc"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"]["api_url"] == "https://api2.serwersms.pl/"
    ((method, url, _body, headers),) = aioclient_mock.mock_calls
    assert (method, str(url)) == ("POST", limits)
    assert headers["Authorization"] == "Bearer abc"


@pytest.mark.parametrize(
    ("setup", "error"),
    [
        (lambda sim: setattr(sim, "token", "other"), "invalid_auth"),
        (lambda sim: setattr(sim, "api_access", False), "api_access_denied"),
        (lambda sim: setattr(sim, "ip_allowed", False), "ip_not_allowed"),
        (lambda sim: sim.fail_next("account/limits", Fault("malformed"), times=3), "cannot_connect"),
        (lambda sim: sim.fail_next("account/limits", Fault("error", code=1007)), "unknown"),
    ],
)
async def test_errors_are_shown_and_the_form_recovers(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, setup: Any, error: str
) -> None:
    setup(simulator)
    result = await _start(hass, "token")
    form = {"api_token": TOKEN, "advanced": {"api_url": simulator.url}}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], form)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": error}
    simulator.token, simulator.api_access, simulator.ip_allowed = TOKEN, True, True
    result = await hass.config_entries.flow.async_configure(result["flow_id"], form)
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_unreachable_gateway_is_cannot_connect(
    hass: HomeAssistant, simulator: SerwerSmsSimulator
) -> None:
    url = simulator.url
    await simulator.stop()
    result = await _start(hass, "token")
    with patch("custom_components.serwersms.api.client.SerwerSmsClient._delay", return_value=0):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"api_token": TOKEN, "advanced": {"api_url": url}}
        )
    assert result["errors"] == {"base": "cannot_connect"}


async def test_unexpected_exception_is_unknown(hass: HomeAssistant) -> None:
    result = await _start(hass, "token")
    with patch("custom_components.serwersms.config_flow.create_client", side_effect=RuntimeError("boom")):
        result = await hass.config_entries.flow.async_configure(result["flow_id"], {"api_token": TOKEN})
    assert result["errors"] == {"base": "unknown"}


@pytest.mark.parametrize(
    "url",
    [
        "http://api2.serwersms.pl/",
        "ftp://127.0.0.1/",
        "http://10.0.0.5:8124/",
        "not a url",
        "http://example.com",
    ],
)
async def test_plain_http_only_to_loopback(hass: HomeAssistant, loopback_sockets: None, url: str) -> None:
    result = await _start(hass, "token")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"api_token": TOKEN, "advanced": {"api_url": url}}
    )
    assert result["errors"] == {"base": "invalid_api_url"}


@pytest.mark.parametrize("host", ["127.0.0.1", "127.5.6.7", "[::1]", "localhost"])
async def test_loopback_http_is_accepted(hass: HomeAssistant, no_entry_setup: Any, host: str) -> None:
    result = await _start(hass, "token")
    with patch("custom_components.serwersms.config_flow._async_check", return_value=None):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"api_token": TOKEN, "advanced": {"api_url": f"http://{host}:8124"}}
        )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_same_account_cannot_be_added_twice(hass: HomeAssistant, simulator: SerwerSmsSimulator) -> None:
    data = entry_data(simulator)
    MockConfigEntry(domain="serwersms", data=data, unique_id=account_unique_id(data)).add_to_hass(hass)
    result = await _start(hass, "token")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"api_token": TOKEN, "advanced": {"api_url": simulator.url}}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_second_account_gets_its_own_title_and_service_name(
    hass: HomeAssistant, simulator: SerwerSmsSimulator
) -> None:
    MockConfigEntry(
        domain="serwersms", data={"legacy_service": "serwersms"}, unique_id="other", minor_version=2
    ).add_to_hass(hass)
    result = await _start(hass, "credentials")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {"username": USERNAME, "password": PASSWORD, "advanced": {"api_url": simulator.url}},
    )
    assert result["title"] == "SerwerSMS 2"
    assert result["data"]["legacy_service"] == "serwersms_2"
    await hass.async_block_till_done()
    assert hass.services.has_service("notify", "serwersms_2")


# --- reauth ------------------------------------------------------------------------------------


async def test_reauth_with_a_new_token(hass: HomeAssistant, simulator: SerwerSmsSimulator) -> None:
    data = entry_data(simulator)
    entry = MockConfigEntry(domain="serwersms", data=data, unique_id=account_unique_id(data))
    entry.add_to_hass(hass)
    simulator.token = "new-token-123"
    result = await entry.start_reauth_flow(hass)
    assert result["step_id"] == "reauth_confirm"
    assert list(result["data_schema"].schema) == ["api_token"]
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"api_token": "still-wrong"})
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"api_token": "new-token-123"})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert entry.data["api_token"] == "new-token-123"
    assert entry.data["auth_method"] == "token"
    assert entry.unique_id == account_unique_id(entry.data)
    await hass.async_block_till_done()


async def test_reauth_of_an_api_user_asks_only_the_password(
    hass: HomeAssistant, simulator: SerwerSmsSimulator
) -> None:
    data = entry_data(simulator, "credentials")
    entry = MockConfigEntry(domain="serwersms", data=data, unique_id=account_unique_id(data))
    entry.add_to_hass(hass)
    simulator.password = "changed-pw"
    result = await entry.start_reauth_flow(hass)
    assert list(result["data_schema"].schema) == ["password"]
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"password": "changed-pw"})
    assert result["reason"] == "reauth_successful"
    assert entry.data["password"] == "changed-pw"
    assert entry.data["username"] == USERNAME
    assert entry.unique_id == account_unique_id(data)
    await hass.async_block_till_done()


async def test_reauth_cannot_take_over_another_account(
    hass: HomeAssistant, simulator: SerwerSmsSimulator
) -> None:
    other = {**entry_data(simulator, legacy_service="serwersms_2"), "api_token": "other-token"}
    MockConfigEntry(domain="serwersms", data=other, unique_id=account_unique_id(other)).add_to_hass(hass)
    data = entry_data(simulator)
    entry = MockConfigEntry(domain="serwersms", data=data, unique_id=account_unique_id(data))
    entry.add_to_hass(hass)
    simulator.token = "other-token"
    result = await entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"api_token": "other-token"})
    assert result["reason"] == "already_configured"
    assert entry.data["api_token"] == TOKEN


# --- reconfigure -------------------------------------------------------------------------------


async def test_reconfigure_keeps_the_secret_when_left_empty(
    hass: HomeAssistant, simulator: SerwerSmsSimulator
) -> None:
    data = {**entry_data(simulator), "api_url": "https://api2.serwersms.pl/"}
    entry = MockConfigEntry(domain="serwersms", data=data, unique_id="old")
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"advanced": {"api_url": "http://192.168.1.2/"}}
    )
    assert result["errors"] == {"base": "invalid_api_url"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"api_token": "", "advanced": {"api_url": simulator.url}}
    )
    assert result["reason"] == "reconfigure_successful"
    assert entry.data == entry_data(simulator)
    assert entry.unique_id == account_unique_id(entry.data)
    await hass.async_block_till_done()


async def test_reconfigure_an_api_user(hass: HomeAssistant, simulator: SerwerSmsSimulator) -> None:
    data = entry_data(simulator, "credentials")
    entry = MockConfigEntry(domain="serwersms", data=data, unique_id=account_unique_id(data))
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"username": USERNAME, "password": "wrong", "advanced": {"api_url": simulator.url}}
    )
    assert result["errors"] == {"base": "invalid_auth"}
    simulator.username = "renamed"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"username": "renamed", "advanced": {"api_url": simulator.url}}
    )
    assert result["reason"] == "reconfigure_successful"
    assert entry.data["username"] == "renamed"
    assert entry.data["password"] == PASSWORD
    await hass.async_block_till_done()


async def test_reconfigure_cannot_collide_with_another_account(
    hass: HomeAssistant, simulator: SerwerSmsSimulator
) -> None:
    data = entry_data(simulator)
    MockConfigEntry(domain="serwersms", data=data, unique_id=account_unique_id(data)).add_to_hass(hass)
    entry = MockConfigEntry(domain="serwersms", data={**data, "api_token": "x"}, unique_id="second")
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"api_token": TOKEN, "advanced": {"api_url": simulator.url}}
    )
    assert result["reason"] == "already_configured"


# --- options -----------------------------------------------------------------------------------


async def test_options_form_shows_current_values_and_applies_without_reload(
    hass: HomeAssistant, simulator: SerwerSmsSimulator, loaded_entry: MockConfigEntry
) -> None:
    runtime = loaded_entry.runtime_data
    result = await hass.config_entries.options.async_init(loaded_entry.entry_id)
    assert result["step_id"] == "init"
    suggested = {
        str(key): key.description["suggested_value"]
        for key in result["data_schema"].schema
        if key.description and "suggested_value" in key.description
    }
    # Nothing stored yet: the form suggests the defaults of the contract.
    assert suggested == {
        "default_title": "Home Assistant",
        "max_image_kb": 300,
        "outbox_minutes": 15,
        "daily_limit": 100,
        "keep_uploads_days": 30,
        "sms_sender": "",
        "heartbeat_minutes": 0,
        "lookback_cameras": [],
        "lookback_seconds": 0,
    }
    form = {
        "default_title": "x" * 41,
        "max_image_kb": 300,
        "outbox_minutes": 15,
        "daily_limit": 100,
        "keep_uploads_days": 30,
        "heartbeat_minutes": 0,
    }
    result = await hass.config_entries.options.async_configure(result["flow_id"], form)
    assert result["errors"] == {"default_title": "title_too_long"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**form, "default_title": "  "}
    )
    assert result["errors"] == {"default_title": "title_empty"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**form, "default_title": "Alarm", "sms_sender": "Home Assistant 1"}
    )
    assert result["errors"] == {"sms_sender": "invalid_sender"}
    chosen = {
        "default_title": "Alarm domowy",
        "max_image_kb": 250,
        "outbox_minutes": 0,
        "daily_limit": 20,
        "keep_uploads_days": 7,
        "sms_sender": "DOM",
        "heartbeat_minutes": 0,
        "lookback_cameras": ["camera.porch"],
        "lookback_seconds": 3,
        "lookback_while": "alarm_control_panel.home",
    }
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**chosen, "lookback_cameras": [f"camera.c{n}" for n in range(9)]}
    )
    assert result["errors"] == {"lookback_cameras": "too_many_lookback_cameras"}
    result = await hass.config_entries.options.async_configure(result["flow_id"], chosen)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert loaded_entry.options == chosen
    # Not reloaded: the same runtime objects, and the next send already uses the new title.
    assert loaded_entry.runtime_data is runtime
    await hass.services.async_call("notify", "send_message", {"entity_id": "notify.mom_mms", "message": "Hi"})
    await hass.async_block_till_done()
    assert simulator.requests_to("messages/send_mms")[-1].fields["title"] == "Alarm domowy"
    # Opened again, the form shows what is stored.
    result = await hass.config_entries.options.async_init(loaded_entry.entry_id)
    suggested = {
        str(key): key.description["suggested_value"]
        for key in result["data_schema"].schema
        if key.description and "suggested_value" in key.description
    }
    assert suggested == chosen


async def test_every_option_has_a_translated_description() -> None:
    import json  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    from custom_components.serwersms.config_flow import OPTIONS_SCHEMA  # noqa: PLC0415

    options = {str(key) for key in OPTIONS_SCHEMA.schema}
    assert options == {
        "default_title",
        "max_image_kb",
        "outbox_minutes",
        "daily_limit",
        "keep_uploads_days",
        "sms_sender",
        "heartbeat_minutes",
        "lookback_cameras",
        "lookback_seconds",
        "lookback_while",
    }
    for language in ("en", "pl"):
        strings = json.loads(
            (Path("custom_components/serwersms/translations") / f"{language}.json").read_text()
        )["options"]["step"]["init"]
        assert set(strings["data"]) == options, language
        assert set(strings["data_description"]) == options, language
        assert all(len(text) > 20 for text in strings["data_description"].values()), language


# --- recipients --------------------------------------------------------------------------------


async def _add_recipient(hass: HomeAssistant, entry: MockConfigEntry, form: dict[str, Any]) -> dict[str, Any]:
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "recipient"), context={"source": config_entries.SOURCE_USER}
    )
    assert result["step_id"] == "user"
    return await hass.config_entries.subentries.async_configure(result["flow_id"], form)


async def test_adding_a_recipient_normalises_numbers_and_adds_an_entity(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    result = await _add_recipient(
        hass, loaded_entry, {"name": "Dad", "phone": "500 600 703, 0048 500-600-704"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    dad = next(sub for sub in loaded_entry.subentries.values() if sub.title == "Dad")
    assert dad.data == {"name": "Dad", "phone": ["+48500600703", "+48500600704"], "heartbeat": False}
    assert hass.states.get("notify.dad_mms") is not None


async def test_invalid_recipient_numbers_are_refused(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    result = await _add_recipient(hass, loaded_entry, {"name": "X", "phone": "500 600 700, 12ab"})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"phone": "invalid_phone"}
    assert result["description_placeholders"] == {"number": "12ab"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"name": "X", "phone": " , "}
    )
    assert result["errors"] == {"phone": "invalid_phone"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"name": " ", "phone": "500600700"}
    )
    assert result["errors"] == {"name": "name_required"}


async def test_editing_and_removing_a_recipient_updates_entities(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    mom = next(sub for sub in loaded_entry.subentries.values() if sub.title == "Mom")
    result = await loaded_entry.start_subentry_reconfigure_flow(hass, mom.subentry_id)
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"name": "Mama", "phone": "x"}
    )
    assert result["errors"] == {"phone": "invalid_phone"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"name": "Mama", "phone": "+48 500 600 799"}
    )
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert loaded_entry.subentries[mom.subentry_id].data["phone"] == ["+48500600799"]
    registry = er.async_get(hass)
    family = next(sub for sub in loaded_entry.subentries.values() if sub.title == "Family")
    assert hass.config_entries.async_remove_subentry(loaded_entry, family.subentry_id)
    await hass.async_block_till_done()
    notify_entities = [
        e.entity_id
        for e in er.async_entries_for_config_entry(registry, loaded_entry.entry_id)
        if e.domain == "notify"
    ]
    assert notify_entities == ["notify.mom_mms"]
    assert hass.states.get("notify.family_mms") is None
    devices = dr.async_entries_for_config_entry(dr.async_get(hass), loaded_entry.entry_id)
    assert sorted(d.name for d in devices) == ["Mama", "SerwerSMS"]


async def test_the_same_numbers_cannot_be_added_twice(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    # Family is +48500600701 and +48500600702: the same set in another order and spelling.
    result = await _add_recipient(
        hass, loaded_entry, {"name": "Again", "phone": "0048500600702; 500 600 701"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    # A different set (a subset) is a different recipient.
    result = await _add_recipient(hass, loaded_entry, {"name": "Only one", "phone": "500 600 701"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    # Editing Mom into Family's numbers is refused too; editing Mom's name alone is not.
    mom = next(sub for sub in loaded_entry.subentries.values() if sub.title == "Mom")
    result = await loaded_entry.start_subentry_reconfigure_flow(hass, mom.subentry_id)
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"name": "Mom", "phone": "+48500600701, +48500600702"}
    )
    assert result["reason"] == "already_configured"
    assert loaded_entry.subentries[mom.subentry_id].data["phone"] == ["+48500600700"]
    result = await loaded_entry.start_subentry_reconfigure_flow(hass, mom.subentry_id)
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"name": "Mama", "phone": "+48500600700"}
    )
    assert result["reason"] == "reconfigure_successful"
    # The rename reloads the account: let the reload finish before the test's Home Assistant stops
    # (on a loaded machine it was still running then, and its stores' delayed writes outlived the test).
    await hass.async_block_till_done()


@pytest.fixture
def recipients() -> list[tuple[str, list[str]]]:
    return [("Mom", ["+48500600700"]), ("Family", ["+48500600701", "+48500600702"])]


async def test_reconfigure_without_changes_keeps_the_unique_id(
    hass: HomeAssistant, simulator: SerwerSmsSimulator
) -> None:
    data = entry_data(simulator)
    entry = MockConfigEntry(domain="serwersms", data=data, unique_id=account_unique_id(data))
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"advanced": {"api_url": simulator.url}}
    )
    assert result["reason"] == "reconfigure_successful"
    assert entry.unique_id == account_unique_id(data)
    await hass.async_block_till_done()
