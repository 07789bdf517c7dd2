"""The bundled blueprint works; translations are complete in English and Polish."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import timedelta
import json
from pathlib import Path
import re
import shutil
import threading
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    setup_test_component_platform,
)
import yaml

from custom_components.serwersms.const import EVENT_MMS_SENT
from serwersms_simulator import SerwerSmsSimulator
from tests.conftest import SnapshotCamera, make_jpeg

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "custom_components" / "serwersms"


async def test_snapshot_on_motion_blueprint_keeps_a_cooldown_per_camera_across_a_restart(
    hass: HomeAssistant,
    simulator: SerwerSmsSimulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Motion sends an MMS; more motion within the cooldown sends nothing, even after a restart.

    Two automations from the blueprint send to Family with the same (default) title: the hall's
    camera with a 600 s cooldown, the garage's with the blueprint's longest, 3600 s.
    """
    hall = SnapshotCamera("Front door", make_jpeg(640, 480))
    garage = SnapshotCamera("Garage", make_jpeg(320, 240))
    setup_test_component_platform(hass, "camera", [hall, garage])
    assert await async_setup_component(hass, "camera", {"camera": {"platform": "test"}})
    target = Path(hass.config.path("blueprints/automation/serwersms"))
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "blueprints/automation/serwersms/snapshot_on_motion.yaml", target)
    hass.states.async_set("binary_sensor.hall_motion", "off")
    hass.states.async_set("binary_sensor.garage_motion", "off")

    def from_blueprint(name: str, camera: str, cooldown: int) -> dict[str, Any]:
        return {
            "id": name,
            "alias": name,
            "use_blueprint": {
                "path": "serwersms/snapshot_on_motion.yaml",
                "input": {
                    "motion_sensor": f"binary_sensor.{name}_motion",
                    "camera": camera,
                    "recipients": ["notify.family_mms"],
                    "cooldown": cooldown,
                },
            },
        }

    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": [
                from_blueprint("hall", "camera.front_door", 600),
                from_blueprint("garage", "camera.garage", 3600),
            ]
        },
    )
    await hass.async_block_till_done()
    sent = async_capture_events(hass, EVENT_MMS_SENT)

    async def finished(work: Coroutine[Any, Any, None]) -> None:
        """Await `work`, but fail a run that never ends instead of hanging the suite.

        A safety net only (a run takes milliseconds): a run that waits, as the blueprint's old timer
        did, is cancelled after a real minute. The freezer stops the event loop's clock, so asyncio's
        own timeouts would never fire.
        """
        task = hass.loop.create_task(work)
        watchdog = threading.Timer(60, hass.loop.call_soon_threadsafe, (task.cancel,))
        watchdog.start()
        try:
            await task
        except asyncio.CancelledError:
            pytest.fail("the automation's run never ended")
        finally:
            watchdog.cancel()

    async def motion(name: str) -> None:
        """The sensor trips; its automation runs to the end (the send, or nothing)."""
        before = hass.states.get(f"automation.{name}").attributes["last_triggered"]  # type: ignore[union-attr]
        hass.states.async_set(f"binary_sensor.{name}_motion", "off")
        hass.states.async_set(f"binary_sensor.{name}_motion", "on")
        await finished(hass.async_block_till_done())
        state = hass.states.get(f"automation.{name}")
        assert state is not None
        assert state.attributes["last_triggered"] != before  # it ran: what it sent is its own doing
        assert state.attributes["current"] == 0

    def mms_sent() -> list[dict[str, Any]]:
        return [request.fields for request in simulator.requests_to("messages/send_mms")]

    await motion("hall")
    assert [(m["title"], m["phone"]) for m in mms_sent()] == [
        ("Motion detected", ["+48500600701", "+48500600702"])
    ]
    assert (hall.snapshots, len(sent)) == (1, 1)

    freezer.tick(timedelta(seconds=300))
    await motion("hall")  # inside the cooldown: no snapshot, no MMS
    assert (len(mms_sent()), hall.snapshots, len(sent)) == (1, 1, 1)
    await motion("garage")  # another camera, the same title: its own cooldown
    assert (len(mms_sent()), garage.snapshots, len(sent)) == (2, 1, 2)

    # The account unloads and loads again, as in a restart: the cooldowns come back from storage.
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    assert await hass.config_entries.async_setup(loaded_entry.entry_id)
    await hass.async_block_till_done()
    freezer.tick(timedelta(seconds=299))
    await motion("hall")  # 599 s after the hall's MMS
    await motion("garage")
    assert (len(mms_sent()), hall.snapshots, garage.snapshots) == (2, 1, 1)

    freezer.tick(timedelta(seconds=2))
    await motion("hall")  # 601 s: the cooldown is over
    await motion("garage")  # 301 s of its 3600
    assert (len(mms_sent()), hall.snapshots, garage.snapshots, len(sent)) == (3, 2, 1, 3)
    assert len(simulator.requests_to("files/add")) == 2  # one picture per camera, uploaded once


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
