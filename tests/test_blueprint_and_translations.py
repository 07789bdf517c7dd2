"""The bundled blueprint works; translations are complete in English and Polish."""

from __future__ import annotations

import asyncio
from datetime import timedelta
import json
from pathlib import Path
import re
import shutil
from typing import Any

from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from homeassistant.util.async_ import get_scheduled_timer_handles
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
import yaml

from custom_components.serwersms.const import EVENT_MMS_SENT
from serwersms_simulator import SerwerSmsSimulator
from tests.conftest import SnapshotCamera

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "custom_components" / "serwersms"


async def test_snapshot_on_motion_blueprint_sends_once_per_cooldown_then_again(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    front_door: SnapshotCamera,
) -> None:
    target = Path(hass.config.path("blueprints/automation/serwersms"))
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "blueprints/automation/serwersms/snapshot_on_motion.yaml", target)
    hass.states.async_set("binary_sensor.hall_motion", "off")
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "use_blueprint": {
                    "path": "serwersms/snapshot_on_motion.yaml",
                    "input": {
                        "motion_sensor": "binary_sensor.hall_motion",
                        "camera": "camera.front_door",
                        "recipients": ["notify.family_mms"],
                        "title": "Ruch w holu",
                        "cooldown": 600,
                    },
                }
            }
        },
    )
    await hass.async_block_till_done()
    (automation,) = hass.states.async_entity_ids("automation")
    sent: asyncio.Queue[Event] = asyncio.Queue()
    hass.bus.async_listen(EVENT_MMS_SENT, callback(lambda event: sent.put_nowait(event)))

    async def cooldown_starts() -> None:
        """Let the run reach its cooldown delay: a timer due in 600 s (the cooldown input)."""
        for _ in range(1000):
            now = hass.loop.time()
            handles = get_scheduled_timer_handles(hass.loop)
            if any(595 < handle.when() - now <= 600 for handle in handles if not handle.cancelled()):
                return
            await asyncio.sleep(0)
        pytest.fail("the run never started its cooldown")

    async def cooldown_passes() -> None:
        """Move time on (not the wall clock) until the run's cooldown delay is over."""
        for _ in range(1000):
            if hass.states.get(automation).attributes["current"] == 0:  # type: ignore[union-attr]
                await hass.async_block_till_done()
                return
            async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=601))
            await asyncio.sleep(0)
        pytest.fail("the automation never finished its run")

    hass.states.async_set("binary_sensor.hall_motion", "on")
    await asyncio.wait_for(sent.get(), 30)  # a safety net only: the send takes milliseconds
    await cooldown_starts()
    hass.states.async_set("binary_sensor.hall_motion", "off")
    hass.states.async_set("binary_sensor.hall_motion", "on")  # inside the cooldown: ignored
    await cooldown_passes()
    assert len(simulator.requests_to("messages/send_mms")) == 1
    hass.states.async_set("binary_sensor.hall_motion", "off")
    hass.states.async_set("binary_sensor.hall_motion", "on")  # after the cooldown: sends again
    await asyncio.wait_for(sent.get(), 30)
    await cooldown_starts()
    await cooldown_passes()
    assert len(simulator.requests_to("messages/send_mms")) == 2
    for request in simulator.requests_to("messages/send_mms"):
        assert request.fields["title"] == "Ruch w holu"
        assert request.fields["phone"] == ["+48500600701", "+48500600702"]
    assert len(simulator.requests_to("files/add")) == 1  # the same snapshot: uploaded once


def _keys(tree: dict[str, Any], prefix: str = "") -> set[str]:
    found: set[str] = set()
    for key, value in tree.items():
        found.add(prefix + key)
        if isinstance(value, dict):
            found |= _keys(value, f"{prefix}{key}.")
    return found


def _placeholders(tree: dict[str, Any], prefix: str = "") -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            found |= _placeholders(value, f"{prefix}{key}.")
        else:
            found[prefix + key] = set(re.findall(r"{(\w+)}", value))
    return found


def test_english_and_polish_have_the_same_keys_and_placeholders() -> None:
    en = json.loads((PACKAGE / "translations/en.json").read_text())
    pl = json.loads((PACKAGE / "translations/pl.json").read_text())
    assert _keys(en) == _keys(pl)
    assert _placeholders(en) == _placeholders(pl)


def test_every_translation_key_raised_in_code_is_translated() -> None:
    en = json.loads((PACKAGE / "translations/en.json").read_text())
    source = "\n".join(path.read_text() for path in PACKAGE.rglob("*.py"))
    used = set(re.findall(r'translation_key="(\w+)"', source))
    used |= set(re.findall(r'(?:invalid|_invalid)\(\s*"(\w+)"', source))
    used |= set(re.findall(r'\(Serwer\w+Error, "(\w+)"\)', source))
    used.add("gateway_error")
    assert used - set(en["exceptions"]) == set()
    assert len(used) >= 25


def test_every_action_field_is_translated_in_both_languages() -> None:
    services = yaml.safe_load((PACKAGE / "services.yaml").read_text())
    for language in ("en", "pl"):
        strings = json.loads((PACKAGE / f"translations/{language}.json").read_text())["services"]
        # legacy_notify describes the per-account notify.serwersms service (not in services.yaml).
        assert set(strings) == {*services, "legacy_notify"}
        for name, spec in services.items():
            assert set(strings[name]["fields"]) == set(spec.get("fields", {})), (language, name)
    icons = json.loads((PACKAGE / "icons.json").read_text())
    assert set(icons["services"]) == set(services)


# hassfest rejects a custom integration's manifest with any other key (CUSTOM_INTEGRATION_MANIFEST_SCHEMA,
# script/hassfest/manifest.py).
HASSFEST_MANIFEST_KEYS = {
    "domain", "name", "integration_type", "config_flow", "mqtt", "zeroconf", "ssdp", "bluetooth", "homekit",
    "dhcp", "usb", "documentation", "issue_tracker", "quality_scale", "requirements", "dependencies",
    "after_dependencies", "codeowners", "loggers", "disabled", "iot_class", "single_config_entry", "version",
    "import_executor",
}  # fmt: skip
# Integrations hassfest lets any integration import without declaring them (ALLOWED_USED_COMPONENTS,
# script/hassfest/dependencies.py), besides the entity platforms.
HASSFEST_UNDECLARED_IMPORTS = {
    "alert", "automation", "conversation", "default_config", "device_automation", "frontend", "group",
    "homeassistant", "input_boolean", "input_button", "input_datetime", "input_number", "input_select",
    "input_text", "media_source", "onboarding", "panel_custom", "persistent_notification", "person", "script",
    "shopping_list", "sun", "system_health", "system_log", "timer", "webhook", "websocket_api", "zone",
    "mjpeg", "stream",
}  # fmt: skip
# HACS rejects hacs.json with any other key (HACS_MANIFEST_JSON_SCHEMA, PREVENT_EXTRA).
HACS_JSON_KEYS = {
    "name", "content_in_root", "zip_release", "filename", "hide_default_branch", "country", "homeassistant",
    "hacs", "persistent_directory", "render_readme",
}  # fmt: skip


def test_manifest_passes_hassfest() -> None:
    from awesomeversion import AwesomeVersion, AwesomeVersionStrategy  # noqa: PLC0415

    manifest = json.loads((PACKAGE / "manifest.json").read_text())
    keys = list(manifest)
    assert set(keys) <= HASSFEST_MANIFEST_KEYS, set(keys) - HASSFEST_MANIFEST_KEYS
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])
    assert {"documentation", "codeowners", "iot_class", "version", "issue_tracker"} <= set(keys)
    assert manifest["domain"] == PACKAGE.name == "serwersms"
    assert AwesomeVersion(manifest["version"]).strategy is not AwesomeVersionStrategy.UNKNOWN
    assert manifest["config_flow"] is True
    assert manifest["integration_type"] == "service"
    # Sending is a push, but what the entities show (credits, delivery reports) is polled.
    assert manifest["iot_class"] == "cloud_polling"
    assert manifest["documentation"].startswith("https://")
    assert manifest["requirements"] == []
    from PIL import Image  # noqa: PLC0415

    assert Image.open(PACKAGE / "brand/icon.png").size == (256, 256)
    assert Image.open(PACKAGE / "brand/icon@2x.png").size == (512, 512)


def test_every_imported_integration_is_declared_as_hassfest_requires() -> None:
    import ast  # noqa: PLC0415

    from homeassistant.const import Platform  # noqa: PLC0415

    manifest = json.loads((PACKAGE / "manifest.json").read_text())
    allowed = (
        HASSFEST_UNDECLARED_IMPORTS
        | {platform.value for platform in Platform}
        | set(manifest.get("dependencies", []))
        | set(manifest.get("after_dependencies", []))
        | {path.stem for path in PACKAGE.glob("*.py")}  # importing the integration a platform file serves
    )
    used: dict[str, str] = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module == "homeassistant.components":
                    used |= {alias.name: path.name for alias in node.names}
                elif node.module.startswith("homeassistant.components."):
                    used[node.module.split(".")[2]] = path.name
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("homeassistant.components."):
                        used[alias.name.split(".")[2]] = path.name
    assert used, "the scan found no imports of Home Assistant integrations"
    assert {domain: where for domain, where in used.items() if domain not in allowed} == {}


def test_hacs_installs_the_zip_the_release_workflow_attaches() -> None:
    hacs = json.loads((ROOT / "hacs.json").read_text())
    assert set(hacs) <= HACS_JSON_KEYS, set(hacs) - HACS_JSON_KEYS
    assert hacs["name"]
    assert hacs["homeassistant"]
    assert hacs["zip_release"] is True
    assert hacs["filename"] == "serwersms.zip"
    workflow = yaml.safe_load((ROOT / ".github/workflows/release.yml").read_text())
    assert workflow[True]["release"]["types"] == ["published"]  # YAML 1.1 reads the key `on` as True
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    scripts = "\n".join(step.get("run", "") for step in steps)
    assert "cd custom_components/serwersms" in scripts
    assert f'zip -r -X "$RUNNER_TEMP/{hacs["filename"]}" .' in scripts
    assert f'gh release upload "$TAG" "$RUNNER_TEMP/{hacs["filename"]}"' in scripts
