"""--probe-rate: text probes beside the load, kept out of its figures and given per stage apart."""

from __future__ import annotations

import json
from pathlib import Path

from harness.devtools.locustproc import run_locust
from harness.devtools.simprocess import start_sim
from harness.load.probe import probe_spec
from harness.options import options_from_argv
from harness.records import read_records

from common import MODEL, headless


def test_a_probe_is_text_only_with_its_own_lengths() -> None:
    spec = options_from_argv(
        [
            "--model",
            "m",
            "--image-num",
            "2",
            "--audio-num",
            "1",
            "--probe-rate",
            "2",
            "--probe-prompt-length",
            "40",
            "--probe-max-tokens",
            "8",
        ],
        "http://127.0.0.1:9",
    ).payload
    probes = probe_spec(spec)
    assert (probes.image_num, probes.audio_num, probes.prefix_tokens) == (0, 0, 0)
    assert (probes.min_prompt_tokens, probes.max_prompt_tokens, probes.min_tokens, probes.max_tokens) == (40, 40, 8, 8)


def test_probes_stay_out_of_the_stage_figures_and_are_given_apart(tmp_path: Path) -> None:
    sim = start_sim(["--fixed", "20", "5", "--model", MODEL], ground_truth=str(tmp_path / "gt.jsonl"))
    try:
        result = run_locust(
            headless(
                sim.base_url,
                tmp_path / "r",
                "--parallel",
                "1",
                "4",
                "--number",
                "12",
                "24",
                "--max-tokens",
                "64",
                "--image-num",
                "0",
                "--min-prompt-length",
                "64",
                "--max-prompt-length",
                "64",
                "--probe-rate",
                "10",
                "--probe-prompt-length",
                "32",
                "--probe-max-tokens",
                "4",
            )
        )
        seen = {record["request_id"]: record for record in sim.ground_truth_records()}
    finally:
        sim.stop()
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    records = read_records(str(tmp_path / "r" / "requests.jsonl"))
    probes = [record for record in records if record.request_class == "probe"]
    load = [record for record in records if record.request_class == "load"]
    assert len(load) == 36 and [stage["sent"] for stage in summary["stages"]] == [12, 24]  # the load's alone
    assert probes and all(seen[p.request_id]["completion_tokens"] == 4 for p in probes if p.status == "ok")
    assert all(seen[p.request_id]["text_tokens"] == 32 and seen[p.request_id]["image_tokens"] == 0 for p in probes)
    for stage in summary["stages"]:
        assert stage["probe"]["sent"] >= 1 and stage["probe"]["ttft_s"]["p50"] is not None
    assert sum(stage["probe"]["sent"] for stage in summary["stages"]) <= len(probes)
    assert "probes during the stage:" in result.stdout
    assert "Probe TTFT (text requests beside the load)" in (tmp_path / "r" / "report.html").read_text()
