"""An "omniload stages" tab in Locust's web UI: the live per-stage table.

Uses the modern UI's extension points (as in Locust's examples/extend_web_ui.py): a tab
and a table declared in the template arguments, and rows added to every
/stats/requests answer under `extended_stats`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from harness.master.stats import StageSummary
from harness.report.columns import WEB, columns_for

if TYPE_CHECKING:
    from locust.web import WebUI

    from harness.master.master import Master

TAB_KEY = "omniload-stages"


def stage_rows(stages: list[StageSummary]) -> list[dict[str, Any]]:
    """The table's rows: numbers rounded for reading, "-" where there is no value yet."""
    rows = []
    for number, stage in enumerate(stages, start=1):
        row: dict[str, Any] = {"name": f"stage {number}"}
        for column in columns_for(WEB):
            value = column.value(stage)
            row[column.web_key] = "-" if value is None else round(value * column.scale, 2) if isinstance(value, float) else value
        rows.append(row)
    return rows


def add_stages_tab(web_ui: WebUI, master: Master) -> None:
    """Declare the tab and add its rows (the master's live stage summaries) to /stats/requests."""
    from flask import request

    web_ui.template_args["extendedTabs"] = [{"title": "omniload stages", "key": TAB_KEY}]
    web_ui.template_args["extendedTables"] = [{
        "key": TAB_KEY,
        "structure": [{"key": "name", "title": "Stage"}] + [{"key": column.web_key, "title": column.title} for column in columns_for(WEB)],
    }]  # fmt: skip

    @web_ui.app.after_request
    def _add_stage_rows(response: Any) -> Any:
        if request.path != "/stats/requests" or not response.is_json:
            return response
        data = response.get_json()
        data["extended_stats"] = [{"key": TAB_KEY, "data": stage_rows(master.live_summaries())}]
        response.set_data(json.dumps(data))
        return response
