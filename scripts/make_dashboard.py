"""Write dashboards/omniload.json: the Grafana dashboard, omniload's metrics beside vLLM's.

Rows: load, latency (client beside server), throughput, server, clients. Variables: the
Prometheus datasource and the model. Stage boundaries come as annotations from
omniload_stage_index. tests/test_live_metrics.py runs every query here against a real
Prometheus.

    .venv/bin/python scripts/make_dashboard.py
"""

from __future__ import annotations

import json
import os

OUT = os.path.join(os.path.dirname(__file__), "..", "dashboards", "omniload.json")
DS = {"type": "prometheus", "uid": "${datasource}"}
C = 'model="$model"'  # omniload's label
S = 'model_name="$model"'  # vLLM's label


def quantiles(metric: str, selector: str, who: str) -> list[tuple[str, str]]:
    return [(f"histogram_quantile({q}, sum by (le) (rate({metric}_bucket{{{selector}}}[$__rate_interval])))",
             f"{who} p{int(q * 100)}") for q in (0.5, 0.9, 0.99)]  # fmt: skip


ROWS: list[tuple[str, list[tuple[str, str, list[tuple[str, str]]]]]] = [
    ("Load", [
        ("Users and requests in flight", "short", [(f"sum(omniload_users{{{C}}})", "users"),
                                                  (f"sum(omniload_in_flight_requests{{{C}}})", "in flight")]),
        ("Stage (parallel / number)", "short", [(f"max by (parallel, number) (omniload_stage{{{C}}})",
                                                 "parallel {{parallel}} number {{number}}")]),
        ("Requests per second", "reqps", [(f'sum(rate(omniload_requests_total{{{C},outcome="ok"}}[$__rate_interval]))',
                                           "ok")]),
        ("Failures by reason", "reqps", [(f'sum by (reason) (rate(omniload_requests_total{{{C},outcome="error"}}'
                                          "[$__rate_interval]))", "{{reason}}")]),
    ]),
    ("Latency: client (omniload) beside server (vLLM)", [
        ("TTFT", "s", quantiles("omniload_ttft_seconds", C, "client")
         + quantiles("vllm:time_to_first_token_seconds", S, "server")),
        ("TPOT", "s", quantiles("omniload_tpot_seconds", C, "client")
         + quantiles("vllm:request_time_per_output_token_seconds", S, "server")),
        ("ITL", "s", quantiles("omniload_itl_seconds", C, "client")
         + quantiles("vllm:inter_token_latency_seconds", S, "server")),
        ("End-to-end latency", "s", quantiles("omniload_e2e_latency_seconds", C, "client")
         + quantiles("vllm:e2e_request_latency_seconds", S, "server")),
    ]),
    ("Throughput", [
        ("Output tokens/s", "short", [(f"sum(rate(omniload_completion_tokens_total{{{C}}}[$__rate_interval]))", "client"),
                                      (f"sum(rate(vllm:generation_tokens_total{{{S}}}[$__rate_interval]))", "server")]),
        ("Total tokens/s (prompt + output)", "short", [
            (f"sum(rate(omniload_prompt_tokens_total{{{C}}}[$__rate_interval])) + "
             f"sum(rate(omniload_completion_tokens_total{{{C}}}[$__rate_interval]))", "client"),
            (f"sum(rate(vllm:prompt_tokens_total{{{S}}}[$__rate_interval])) + "
             f"sum(rate(vllm:generation_tokens_total{{{S}}}[$__rate_interval]))", "server")]),
    ]),
    ("Server (vLLM)", [
        ("Requests running and waiting", "short", [(f"sum(vllm:num_requests_running{{{S}}})", "running"),
                                                   (f"sum(vllm:num_requests_waiting{{{S}}})", "waiting")]),
        ("KV-cache usage", "percentunit", [(f"max(vllm:kv_cache_usage_perc{{{S}}})", "KV cache")]),
        ("Queue time", "s", quantiles("vllm:request_queue_time_seconds", S, "queue")),
    ]),
    ("Clients (load generators)", [
        ("Workers", "short", [(f"max(omniload_workers{{{C}}})", "workers")]),
        ("Load generator CPU (cores)", "short", [(f"sum by (worker) (deriv(omniload_worker_cpu_seconds{{{C}}}"
                                                  "[$__rate_interval]))", "worker {{worker}}")]),
    ]),
]  # fmt: skip


def main() -> None:
    panels, y = [], 0
    panel_id = 1
    for title, row_panels in ROWS:
        panels.append({"type": "row", "title": title, "id": panel_id, "collapsed": False,
                       "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}})  # fmt: skip
        panel_id += 1
        y += 1
        width = 24 // len(row_panels)
        for column, (panel_title, unit, queries) in enumerate(row_panels):
            panels.append({
                "type": "timeseries", "title": panel_title, "id": panel_id, "datasource": DS,
                "gridPos": {"x": column * width, "y": y, "w": width, "h": 8},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "targets": [{"refId": chr(ord("A") + i), "datasource": DS, "expr": expr, "legendFormat": legend}
                            for i, (expr, legend) in enumerate(queries)],
            })  # fmt: skip
            panel_id += 1
        y += 8
    dashboard = {
        "title": "omniload", "uid": "omniload", "schemaVersion": 39, "version": 1, "editable": True,
        "time": {"from": "now-30m", "to": "now"}, "refresh": "5s", "tags": ["omniload", "vllm"],
        "templating": {"list": [
            {"name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus"},
            {"name": "model", "label": "Model", "type": "query", "datasource": DS, "refresh": 2,
             "query": {"query": "label_values(omniload_users, model)", "refId": "model"},
             "definition": "label_values(omniload_users, model)"},
        ]},
        "annotations": {"list": [
            {"name": "Stage changes", "datasource": DS, "enable": True, "iconColor": "orange",
             "expr": f"changes(omniload_stage_index{{{C}}}[1m]) > 0", "step": "5s",
             "titleFormat": "stage", "textFormat": "stage {{model}}"},
        ]},
        "panels": panels,
    }  # fmt: skip
    with open(OUT, "w", encoding="utf-8") as file:
        json.dump(dashboard, file, indent=2)
        file.write("\n")
    print(f"wrote {os.path.normpath(OUT)} ({sum(len(p.get('targets', [])) for p in panels)} queries)")


if __name__ == "__main__":
    main()
