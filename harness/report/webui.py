"""An "omniload stages" tab in Locust's web UI: the live per-stage table.

Uses the modern UI's extension points (as in Locust's examples/extend_web_ui.py): a tab
and a table declared in the template arguments, and rows added to every
/stats/requests answer under `extended_stats`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from harness.master.stats import StageSummary
from harness.report.columns import STAGE_COLUMNS, WEB, columns_for

if TYPE_CHECKING:
    from locust.web import WebUI

    from harness.master.master import Master

TAB_KEY = "omniload-stages"


def stage_rows(stages: list[StageSummary]) -> list[dict[str, Any]]:
    """The table's rows: numbers rounded for reading, "-" where there is no value yet."""
    rows = []
    for number, stage in enumerate(stages, start=1):
        row: dict[str, Any] = {"name": f"stage {number}"}
        for column in columns_for(WEB, stages):
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
        "structure": [{"key": "name", "title": "Stage"}] + [{"key": column.web_key, "title": column.title} for column in STAGE_COLUMNS
            if WEB in column.views and (not column.optional or master.options.goodput_slos)],
    }]  # fmt: skip

    @web_ui.app.after_request
    def _add_stage_rows(response: Any) -> Any:
        if request.path != "/stats/requests" or not response.is_json:
            return response
        data = response.get_json()
        data["extended_stats"] = [{"key": TAB_KEY, "data": stage_rows(master.live_summaries())}]
        response.set_data(json.dumps(data))
        return response


def hide_secret_options(web_ui: WebUI, secret_flags: tuple[str, ...]) -> None:
    """Keep secret flags' values out of the page, and keep them when the form leaves them blank.

    Locust writes every custom option's current value into the page (`extra_options`,
    `default_value`), where `is_secret` only masks the input box: the API key would be in
    the HTML. Here the values are blanked in the page, and a blank secret field sent back
    by the start form is dropped, so the value from the command line or environment stays.
    """
    from flask import request
    from werkzeug.datastructures import ImmutableMultiDict

    update_template_args = web_ui.update_template_args

    def update_without_secrets() -> None:
        update_template_args()
        for name, option in web_ui.template_args.get("extra_options", {}).items():
            if name in secret_flags:
                option["default_value"] = ""

    web_ui.update_template_args = update_without_secrets  # type: ignore[method-assign]

    @web_ui.app.before_request
    def _keep_secrets_given_elsewhere() -> None:
        if request.method == "POST" and request.path == "/swarm":
            kept = [(key, value) for key, value in request.form.items(multi=True)
                    if not (key in secret_flags and value == "")]  # fmt: skip
            request.form = ImmutableMultiDict(kept)  # type: ignore[misc]
