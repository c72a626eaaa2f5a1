"""Write the Grafana dashboard (harness/data/dashboards/omniload.json): omniload's metrics beside vLLM's.

Built with Grafana Labs' typed builders (grafana-foundation-sdk), so the JSON matches
Grafana's own schema; the generated file is committed and ships in the package.

Rows: load, latency (client beside server), throughput, server, clients. Variables: the
Prometheus datasource and the model. Stage boundaries come as annotations from
omniload_stage_index. tests/test_live_metrics.py runs every query here against a real
Prometheus.

    .venv/bin/python scripts/make_dashboard.py
"""

from __future__ import annotations

import itertools
import json
import os
from typing import Any

from grafana_foundation_sdk.builders import common, dashboard, prometheus, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import LegendDisplayMode, LegendPlacement, SortOrder, TooltipDisplayMode
from grafana_foundation_sdk.models.dashboard import DataSourceRef, VariableRefresh

from harness.resources import dashboard_path

OUT = dashboard_path()
DS = DataSourceRef(type_val="prometheus", uid="${datasource}")
PANELS_PER_ROW_WIDTH = 24  # Grafana's grid is 24 units wide
PANEL_HEIGHT = 8
C = 'model="$model",class!="probe"'  # omniload's labels: the load's requests (--probe-rate's probes apart)
M = 'model="$model"'  # every class, probes included
S = 'model_name="$model"'  # vLLM's label


def quantiles(metric: str, selector: str, who: str) -> list[tuple[str, str]]:
    return [
        (
            f"histogram_quantile({q}, sum by (le) (rate({metric}_bucket{{{selector}}}[$__rate_interval])))",
            f"{who} p{int(q * 100)}",
        )
        for q in (0.5, 0.9, 0.99)
    ]


ROWS: list[tuple[str, list[tuple[str, str, list[tuple[str, str]]]]]] = [
    (
        "Load",
        [
            (
                "Users and requests in flight",
                "short",
                [(f"sum(omniload_users{{{C}}})", "users"), (f"sum(omniload_in_flight_requests{{{C}}})", "in flight")],
            ),
            (
                "Stage (parallel / number)",
                "short",
                [(f"max by (parallel, number) (omniload_stage{{{C}}})", "parallel {{parallel}} number {{number}}")],
            ),
            (
                "Requests per second",
                "reqps",
                [(f'sum(rate(omniload_requests_total{{{C},outcome="ok"}}[$__rate_interval]))', "ok")],
            ),
            (
                "Failures by reason",
                "reqps",
                [
                    (
                        f'sum by (reason) (rate(omniload_requests_total{{{C},outcome="error"}}[$__rate_interval]))',
                        "{{reason}}",
                    )
                ],
            ),
        ],
    ),
    (
        "Latency: client (omniload) beside server (vLLM)",
        [
            (
                "TTFT",
                "s",
                quantiles("omniload_ttft_seconds", C, "client")
                + quantiles("vllm:time_to_first_token_seconds", S, "server"),
            ),
            (
                "TPOT",
                "s",
                quantiles("omniload_tpot_seconds", C, "client")
                + quantiles("vllm:request_time_per_output_token_seconds", S, "server"),
            ),
            (
                "ITL",
                "s",
                quantiles("omniload_itl_seconds", C, "client")
                + quantiles("vllm:inter_token_latency_seconds", S, "server"),
            ),
            (
                "End-to-end latency",
                "s",
                quantiles("omniload_e2e_latency_seconds", C, "client")
                + quantiles("vllm:e2e_request_latency_seconds", S, "server"),
            ),
        ],
    ),
    (
        "Throughput",
        [
            (
                "Output tokens/s",
                "short",
                [
                    (f"sum(rate(omniload_completion_tokens_total{{{C}}}[$__rate_interval]))", "client"),
                    (f"sum(rate(vllm:generation_tokens_total{{{S}}}[$__rate_interval]))", "server"),
                ],
            ),
            (
                "Total tokens/s (prompt + output)",
                "short",
                [
                    (
                        f"sum(rate(omniload_prompt_tokens_total{{{C}}}[$__rate_interval])) + "
                        f"sum(rate(omniload_completion_tokens_total{{{C}}}[$__rate_interval]))",
                        "client",
                    ),
                    (
                        f"sum(rate(vllm:prompt_tokens_total{{{S}}}[$__rate_interval])) + "
                        f"sum(rate(vllm:generation_tokens_total{{{S}}}[$__rate_interval]))",
                        "server",
                    ),
                ],
            ),
        ],
    ),
    (
        "Spoken answers (--audio-output)",
        [
            ("Time to first audio", "s", quantiles("omniload_ttfa_seconds", C, "client")),
            ("Real-time factor (below 1: faster than heard)", "short", quantiles("omniload_audio_rtf", C, "client")),
            (
                "Speech received (seconds per second)",
                "short",
                [(f"sum(rate(omniload_audio_seconds_total{{{C}}}[$__rate_interval]))", "speech")],
            ),
            (
                "Underruns (players run dry)",
                "short",
                [
                    (f"sum(rate(omniload_audio_underruns_total{{{C}}}[$__rate_interval]))", "underruns/s"),
                    (f"sum(rate(omniload_audio_underrun_seconds_total{{{C}}}[$__rate_interval]))", "dry s/s"),
                ],
            ),
        ],
    ),
    (
        "By request class (--mix classes; --probe-rate's text probes as class probe)",
        [
            (
                "TTFT p90 by class",
                "s",
                [
                    (
                        "histogram_quantile(0.9, sum by (le, class) "
                        f"(rate(omniload_ttft_seconds_bucket{{{M}}}[$__rate_interval])))",
                        "{{class}}",
                    )
                ],
            ),
            (
                "Requests/s by class",
                "short",
                [
                    (
                        f'sum by (class) (rate(omniload_requests_total{{{M},outcome="ok"}}[$__rate_interval]))',
                        "{{class}}",
                    )
                ],
            ),
        ],
    ),
    (
        "Server (vLLM)",
        [
            (
                "Requests running and waiting",
                "short",
                [
                    (f"sum(vllm:num_requests_running{{{S}}})", "running"),
                    (f"sum(vllm:num_requests_waiting{{{S}}})", "waiting"),
                ],
            ),
            ("KV-cache usage", "percentunit", [(f"max(vllm:kv_cache_usage_perc{{{S}}})", "KV cache")]),
            ("Queue time", "s", quantiles("vllm:request_queue_time_seconds", S, "queue")),
        ],
    ),
    (
        "Clients (load generators)",
        [
            ("Workers", "short", [(f"max(omniload_workers{{{C}}})", "workers")]),
            (
                "Load generator CPU (cores)",
                "short",
                [
                    (
                        f"sum by (worker) (deriv(omniload_worker_cpu_seconds{{{C}}}[$__rate_interval]))",
                        "worker {{worker}}",
                    )
                ],
            ),
        ],
    ),
]


def build_dashboard() -> dict[str, Any]:
    """The dashboard as Grafana's JSON model, assembled with Grafana Labs' typed builders."""
    builder = (
        dashboard.Dashboard("omniload")
        .uid("omniload")
        .tags(["omniload", "vllm"])
        .editable()
        .time("now-30m", "now")
        .refresh("5s")
        .with_variable(dashboard.DatasourceVariable("datasource").label("Prometheus").type("prometheus"))
        .with_variable(
            dashboard.QueryVariable("model")
            .label("Model")
            .datasource(DS)
            .query({"query": "label_values(omniload_users, model)", "refId": "model"})
            .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        )
        .annotation(
            dashboard.AnnotationQuery()
            .name("Stage changes")
            .datasource(DS)
            .enable(True)
            .icon_color("orange")
            .expr(f"changes(omniload_stage_index{{{C}}}[1m]) > 0")
        )
    )
    panel_ids = itertools.count(1)
    for title, row_panels in ROWS:
        builder = builder.with_row(dashboard.Row(title).id(next(panel_ids)))
        width = PANELS_PER_ROW_WIDTH // len(row_panels)
        for panel_title, unit, queries in row_panels:
            panel = (
                timeseries.Panel()
                .id(next(panel_ids))
                .title(panel_title)
                .datasource(DS)
                .unit(unit)
                .height(PANEL_HEIGHT)
                .span(width)
                # every series in the tooltip: client and server side by side
                .tooltip(common.VizTooltipOptions().mode(TooltipDisplayMode.MULTI).sort(SortOrder.NONE))
                .legend(
                    common.VizLegendOptions()
                    .show_legend(True)
                    .display_mode(LegendDisplayMode.LIST)
                    .placement(LegendPlacement.BOTTOM)
                )
            )
            for index, (expr, legend) in enumerate(queries):
                panel = panel.with_target(
                    prometheus.Dataquery().ref_id(chr(ord("A") + index)).datasource(DS).expr(expr).legend_format(legend)
                )
            builder = builder.with_panel(panel)
    return json.loads(json.dumps(builder.build(), cls=JSONEncoder))


def main() -> None:
    model = build_dashboard()
    with open(OUT, "w", encoding="utf-8") as file:
        json.dump(model, file, indent=2)
        file.write("\n")
    queries = sum(len(panel.get("targets", [])) for panel in model["panels"])
    print(f"wrote {os.path.normpath(OUT)} ({queries} queries)")


if __name__ == "__main__":
    main()
