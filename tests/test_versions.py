"""The integration's version is one: the manifest Home Assistant and HACS read, and the project's."""

from __future__ import annotations

import json
from pathlib import Path
import tomllib

import yaml

ROOT = Path(__file__).parent.parent
PACKAGE = ROOT / "custom_components" / "serwersms"
STATUSES = {"done", "todo", "exempt"}


def test_manifest_and_pyproject_give_the_same_version() -> None:
    manifest = json.loads((PACKAGE / "manifest.json").read_text())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert manifest["version"] == project["version"]


def test_every_quality_scale_rule_not_done_says_why() -> None:
    rules = yaml.safe_load((PACKAGE / "quality_scale.yaml").read_text())["rules"]
    for name, rule in rules.items():
        status = rule if isinstance(rule, str) else rule["status"]
        assert status in STATUSES, name
        if status != "done":
            assert isinstance(rule, dict), f"{name}: {status} without a reason"
            assert rule.get("comment"), f"{name}: {status} without a reason"
