"""The committed Grafana dashboard is exactly what scripts/make_dashboard.py builds with Grafana's builders."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

from harness.resources import dashboard_path

from common import REPO


def test_committed_dashboard_matches_its_generator() -> None:
    generator = runpy.run_path(str(REPO / "scripts" / "make_dashboard.py"))
    committed = json.loads(Path(dashboard_path()).read_text())
    assert generator["build_dashboard"]() == committed, "run scripts/make_dashboard.py and commit the result"


def test_every_query_uses_the_datasource_variable_and_ids_are_unique() -> None:
    model = json.loads(Path(dashboard_path()).read_text())
    panels = model["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    targets = [target for panel in panels for target in panel.get("targets", [])]
    assert len(targets) == 52
    assert all(target["datasource"] == {"type": "prometheus", "uid": "${datasource}"} for target in targets)
    assert [variable["name"] for variable in model["templating"]["list"]] == ["datasource", "model"]
