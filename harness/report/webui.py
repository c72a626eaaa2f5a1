"""An "omniload stages" tab in Locust's web UI: the live per-stage table.

Uses the modern UI's extension points (as in Locust's examples/extend_web_ui.py): a tab
and a table declared in the template arguments, and rows added to every
/stats/requests answer under `extended_stats`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from harness.report.columns import WEB, columns_for, stage_columns
from harness.results import StageSummary

if TYPE_CHECKING:
    from locust.web import WebUI

TAB_KEY = "omniload-stages"
SPEECH_FIELDS = frozenset({"ttfa_s", "audio_rtf", "speech"})  # --audio-output's columns


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


def add_stages_tab(
    web_ui: WebUI,
    live_summaries: Callable[[], list[StageSummary]],
    with_goodput: bool,
    percentiles: Sequence[float],
    with_speech: bool = False,
) -> None:
    """Declare the tab and add its rows to /stats/requests: `live_summaries()` gives the stages so far
    (the running one included); `with_goodput` shows the goodput column (--goodput was given);
    `percentiles`: the run's --percentiles set; `with_speech`: the spoken answers' columns (--audio-output)."""
    from flask import request

    web_ui.template_args["extendedTabs"] = [{"title": "omniload stages", "key": TAB_KEY}]
    web_ui.template_args["extendedTables"] = [
        {
            "key": TAB_KEY,
            "structure": [{"key": "name", "title": "Stage"}]
            + [
                {"key": column.web_key, "title": column.title}
                for column in stage_columns(percentiles)
                if WEB in column.views
                and (
                    not column.optional
                    or (with_goodput and column.field == "goodput_rps")
                    or (with_speech and column.field in SPEECH_FIELDS)
                )
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


def _as_items(value: Any) -> list[str]:
    """A value as the form's text items: a list item by item, a bool "true"/"false", nothing for None or ""."""
    if value is None:
        return []
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, list | tuple):
        return [item for element in value for item in _as_items(element)]
    text = str(value).strip()
    return [text] if text else []


def _same_item(shown: str, sent: str) -> bool:
    if shown == sent or {shown, sent} <= {"true", "on"}:
        return True
    try:
        return float(shown) == float(sent)  # 5.0 shown as "5" by the page
    except ValueError:
        return False


def form_changes(form: Any, shown: dict[str, Any], flags: set[str]) -> list[str]:
    """The omniload flags whose value in the start form differs from the value the page showed (the command
    line's, which the run was checked with). The page writes a list as "1,5" and numbers as JavaScript does
    ("5" for 5.0); the comparison reads them back the same way."""
    changed = []
    for key in flags & set(form.keys()):
        sent = [item for value in form.getlist(key) for item in _as_items(value.split(",") if "," in value else value)]
        expected = _as_items(shown.get(key))
        if len(sent) != len(expected) or not all(map(_same_item, expected, sent)):
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
    shown: dict[str, Any] = {}

    def shown_values() -> dict[str, Any]:
        """The values the page shows (the command line's, parsed once): the form sends them back unchanged."""
        if not shown:
            from locust.argument_parser import ui_extra_args_dict

            shown.update({name: option["default_value"] for name, option in ui_extra_args_dict().items()})
        return shown

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
        form = ImmutableMultiDict(
            [(key, value) for key, value in request.form.items(multi=True) if not (key in secret_flags and value == "")]
        )
        refused = []
        if "host" in form and form["host"].rstrip("/") != (environment.host or "").rstrip("/"):
            refused.append("host")
        refused += form_changes(form, shown_values(), omniload_flags)
        if not refused:
            # Unchanged: Locust need not copy them back (its copy turns "" into int() errors for list flags, and
            # would undo what the checks before load resolved, such as --server-profile auto).
            request.form = ImmutableMultiDict(
                [(key, value) for key, value in form.items(multi=True) if key not in omniload_flags]
            )
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
