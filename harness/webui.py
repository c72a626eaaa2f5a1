"""An "omniload stages" tab in Locust's web UI: the live per-stage table.

Uses the modern UI's extension points (as in Locust's examples/extend_web_ui.py): a tab
and a table declared in the template arguments, and rows added to every
/stats/requests answer under `extended_stats`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from harness.stats import StageSummary

if TYPE_CHECKING:
    from locust.web import WebUI

    from harness.coordinator import Coordinator

TAB_KEY = "omniload-stages"
# (row key, column title, stage field, distribution key or None, scale)
COLUMNS: tuple[tuple[str, str, str, str | None, float], ...] = (
    ("parallel", "Conc.", "parallel", None, 1),
    ("number", "Number", "number", None, 1),
    ("sent", "Sent", "sent", None, 1),
    ("failed", "Failed", "failed", None, 1),
    ("ttft_p50_ms", "TTFT p50 (ms)", "ttft_s", "p50", 1000),
    ("ttft_p90_ms", "TTFT p90 (ms)", "ttft_s", "p90", 1000),
    ("ttft_p99_ms", "TTFT p99 (ms)", "ttft_s", "p99", 1000),
    ("tpot_p50_ms", "TPOT p50 (ms)", "tpot_s", "p50", 1000),
    ("tpot_p99_ms", "TPOT p99 (ms)", "tpot_s", "p99", 1000),
    ("itl_p50_ms", "ITL p50 (ms)", "itl_s", "p50", 1000),
    ("itl_p99_ms", "ITL p99 (ms)", "itl_s", "p99", 1000),
    ("output_tokens_per_s", "Output tok/s", "output_tokens_per_s", None, 1),
    ("total_tokens_per_s", "Total tok/s", "total_tokens_per_s", None, 1),
)


def stage_rows(stages: list[StageSummary]) -> list[dict[str, Any]]:
    """The table's rows: numbers rounded for reading, "-" where there is no value yet."""
    rows = []
    for number, stage in enumerate(stages, start=1):
        row: dict[str, Any] = {"name": f"stage {number}"}
        for key, _, field, distribution_key, scale in COLUMNS:
            value: Any = stage[field]  # type: ignore[literal-required]
            if distribution_key is not None:
                value = value[distribution_key]
            row[key] = "-" if value is None else round(value * scale, 2) if isinstance(value, float) else value
        rows.append(row)
    return rows


def add_stages_tab(web_ui: WebUI, coordinator: Coordinator) -> None:
    from flask import request

    web_ui.template_args["extendedTabs"] = [{"title": "omniload stages", "key": TAB_KEY}]
    web_ui.template_args["extendedTables"] = [{
        "key": TAB_KEY,
        "structure": [{"key": "name", "title": "Stage"}] + [{"key": key, "title": title} for key, title, *_ in COLUMNS],
    }]  # fmt: skip

    @web_ui.app.after_request
    def _add_stage_rows(response: Any) -> Any:
        if request.path != "/stats/requests" or not response.is_json:
            return response
        data = response.get_json()
        data["extended_stats"] = [{"key": TAB_KEY, "data": stage_rows(coordinator.live_summaries())}]
        response.set_data(json.dumps(data))
        return response
