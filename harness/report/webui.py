"""An "omniload stages" tab in Locust's web UI: the live per-stage table.

Uses the modern UI's extension points (as in Locust's examples/extend_web_ui.py): a tab
and a table declared in the template arguments, and rows added to every
/stats/requests answer under `extended_stats`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from harness.report.columns import STAGE_COLUMNS, WEB, columns_for
from harness.results import StageSummary

if TYPE_CHECKING:
    from locust.web import WebUI

TAB_KEY = "omniload-stages"


def stage_rows(stages: list[StageSummary]) -> list[dict[str, Any]]:
    """The table's rows: numbers rounded for reading, "-" where there is no value yet."""
    rows = []
    for number, stage in enumerate(stages, start=1):
        row: dict[str, Any] = {"name": f"stage {number}"}
        for column in columns_for(WEB, stages):
            value = column.value(stage)
            row[column.web_key] = (
                "-" if value is None else round(value * column.scale, 2) if isinstance(value, float) else value
            )
        rows.append(row)
    return rows


def add_stages_tab(web_ui: WebUI, live_summaries: Callable[[], list[StageSummary]], with_goodput: bool) -> None:
    """Declare the tab and add its rows to /stats/requests: `live_summaries()` gives the stages so far
    (the running one included); `with_goodput` shows the goodput column (--goodput was given)."""
    from flask import request

    web_ui.template_args["extendedTabs"] = [{"title": "omniload stages", "key": TAB_KEY}]
    web_ui.template_args["extendedTables"] = [
        {
            "key": TAB_KEY,
            "structure": [{"key": "name", "title": "Stage"}]
            + [
                {"key": column.web_key, "title": column.title}
                for column in STAGE_COLUMNS
                if WEB in column.views and (not column.optional or with_goodput)
            ],
        }
    ]

    app = web_ui.app
    assert app is not None  # Locust's WebUI always makes its Flask app

    @app.after_request
    def _add_stage_rows(response: Any) -> Any:
        if request.path != "/stats/requests" or not response.is_json:
            return response
        data = response.get_json()
        data["extended_stats"] = [{"key": TAB_KEY, "data": stage_rows(live_summaries())}]
        response.set_data(json.dumps(data))
        return response


def form_changes(form: Any, current: dict[str, Any], flags: set[str]) -> list[str]:
    """The omniload flags whose value in the start form differs from the one the run was checked with.

    A form value is text (a list: several values, or one with commas; a bool: "true" or
    "false"), compared with the current value written the same way.
    """
    changed = []
    for key in flags & set(form.keys()):
        values = form.getlist(key)
        if len(values) == 1 and "," in values[0]:
            values = values[0].split(",")
        value = current.get(key)
        if isinstance(value, bool):
            same = values == ["true" if value else "false"]
        elif isinstance(value, list):
            same = [text.strip() for text in values] == [str(item) for item in value]
        elif isinstance(value, float):
            try:
                same = len(values) == 1 and float(values[0]) == value
            except ValueError:
                same = False
        else:
            same = values == ["" if value is None else str(value)]
        if not same:
            changed.append(key)
    return sorted(changed)


def guard_start_form(web_ui: WebUI, omniload_flags: set[str], secret_flags: tuple[str, ...]) -> None:
    """What the start form sets is what the run uses, and no secret leaves with it.

    The run's flags were validated and checked against the server before the UI came up,
    and a single process built its payloads from them: a form that changes one of them
    (or the host, which would carry the command line's key to another server) is refused
    with one line. Secret flags' values are blanked in the page (Locust writes every custom
    option's value into it, where `is_secret` only masks the input box), and a blank
    secret field sent back is dropped, so the value from the command line stays.
    """
    from flask import jsonify, request
    from werkzeug.datastructures import ImmutableMultiDict

    update_template_args = web_ui.update_template_args
    environment = web_ui.environment

    def update_without_secrets() -> None:
        update_template_args()
        for name, option in web_ui.template_args.get("extra_options", {}).items():
            if name in secret_flags:
                option["default_value"] = ""

    web_ui.update_template_args = update_without_secrets  # type: ignore[method-assign]

    app = web_ui.app
    assert app is not None

    @app.before_request
    def _check_the_form() -> Any:
        if request.method != "POST" or request.path != "/swarm":
            return None
        kept = [
            (key, value) for key, value in request.form.items(multi=True) if not (key in secret_flags and value == "")
        ]
        request.form = ImmutableMultiDict(kept)
        refused = []
        if "host" in request.form and request.form["host"].rstrip("/") != (environment.host or "").rstrip("/"):
            refused.append("host")
        current = vars(environment.parsed_options) if environment.parsed_options else {}
        refused += form_changes(request.form, current, omniload_flags)
        if not refused:
            return None
        flags = ", ".join("--" + name.replace("_", "-") for name in refused)
        return jsonify(
            {
                "success": False,
                "host": environment.host,
                "message": f"omniload: {flags} cannot change from the web UI (the run was checked "
                "with the command line's values); restart with the new flags",
            }
        )
