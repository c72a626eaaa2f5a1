"""`make demo`: everything omniload does so far, against the built-in simulated vLLM server.

1. starts the simulator (continuous-batching timing, ground-truth file on);
2. runs a sweep through real Locust, headless (`--parallel 1 4 8 --number 4 8 16`) with
   the default payload (1024-token prompts, one 512x512 evalscope-style image each, exactly M output
   tokens), printing a table per stage, the best configuration and recommendations,
   then the OmniBench pass on the bundled samples (the simulator answers them from an
   answer key, right for 75 % of them);
3. checks the run against the simulator's ground truth: requests and peak concurrency
   per stage as the server saw them, TTFT as the client measured it vs. as the server
   did it, and the prompt, image and output tokens the server counted;
4. asks the Prometheus server that scraped the run (the master's live metrics and the
   simulator's vLLM metrics, every second) what the Grafana dashboard would show;
5. the other load models: an open-loop Poisson rate sweep with audio in every request
   (arrivals against their schedule, as the server stamped them; audio tokens expected vs.
   counted), a request mix (text, images, image and audio, video with its sound track) with
   text probes beside it (figures per class; video tokens expected vs. counted; what the mix
   costs a text user), conversations of three turns over a pool of shared prefixes (later turns
   carry the server's answers; first against later TTFT; the prompt tokens the server found
   cached), spoken answers (time to first audio, real-time factor and underruns as load grows,
   against the talker's record; the report plays them), then an SLA search for the most users
   whose p99 TTFT stays under a bound;
6. opens the report in headless Chromium and leaves screenshots.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from harness.buckets import CLIENT_TTFT_BUCKETS_S
from harness.devtools.browser import PageLog, audio_seconds, browser_page
from harness.devtools.promserver import Prometheus, free_port, start_prometheus
from harness.devtools.simprocess import SimProcess, start_sim
from harness.devtools.verify import request_errors, stages_seen
from harness.jsonl import read_jsonl
from harness.master.stats import percentile
from harness.omnibench.dataset import bundled_sample_path
from harness.records import read_records
from harness.resources import example_mix_path, locustfile_path
from harness.results import REPORT_FILE, REQUESTS_FILE, STAGES_CSV, SUMMARY_FILE
from harness.sim.config import DEFAULT_MODEL

DEMO_PARALLEL = ("1", "4", "8")
DEMO_NUMBER = ("4", "8", "16")
DEMO_OUTPUT_TOKENS = 64
DEMO_SLEEP_INTERVAL_S = "1"
DEMO_ANSWER_ACCURACY = "0.75"
METRICS_LINGER_S = "3"
LOCUST_DEADLINE_S = 300.0
SCREENSHOTS = ("report.png", "app.png", "speech.png")
# step 5: the other load models, each into its own directory under the report's
RATES_ARGS = (
    "--open-loop",
    "--rate",
    "2",
    "4",
    "--number",
    "6",
    "12",
    "--audio-num",
    "1",
    "--audio-seconds",
    "2",
    "4",
    "--max-tokens",
    "32",
    "--sleep-interval",
    "1",
)
MIX_ARGS = (
    "--parallel",
    "2",
    "6",
    "--number",
    "12",
    "36",
    "--mix",
    example_mix_path(),
    "--probe-rate",
    "2",
    "--sleep-interval",
    "1",
)
CONVERSATION_ARGS = (
    "--parallel",
    "4",
    "--number",
    "24",
    "--multi-turn",
    "--min-turns",
    "3",
    "--max-turns",
    "3",
    "--turn-prompt-length",
    "64",
    "--prefix-length",
    "512",
    "--prefix-groups",
    "4",
    "--max-tokens",
    "32",
    "--sleep-interval",
    "1",
)
SPEECH_ARGS = (
    "--parallel",
    "4",
    "32",
    "--number",
    "8",
    "48",
    "--audio-output",
    "--max-tokens",
    "16",
    "--sleep-interval",
    "1",
)
SLA_ARGS = (
    "--sla-auto-tune",
    "--sla-params",
    '[{"p99_ttft": "<=1"}]',
    "--sla-num-runs",
    "1",
    "--sla-upper-bound",
    "8",
    "--sla-number-multiplier",
    "1",
    "--max-tokens",
    "32",
    "--sleep-interval",
    "0.5",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8801, help="simulator port (0: any free one)")
    parser.add_argument("--report-dir", default="results/demo")
    args = parser.parse_args(argv)
    report_dir = Path(args.report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    for stale in (SUMMARY_FILE, REQUESTS_FILE, STAGES_CSV, "sim_ground_truth.jsonl", REPORT_FILE, *SCREENSHOTS):
        (report_dir / stale).unlink(missing_ok=True)
    shutil.rmtree(report_dir / "omnibench", ignore_errors=True)  # else the pass resumes and asks nothing
    ground_truth = str(report_dir / "sim_ground_truth.jsonl")

    print("[demo] 1/6 starting the simulated vLLM server (Qwen3-Omni timing estimates, continuous batching)")
    sim = start_sim(
        [
            "--model",
            DEFAULT_MODEL,
            "--answer-key",
            bundled_sample_path(),
            "--answer-accuracy",
            DEMO_ANSWER_ACCURACY,
            "--enable-prompt-tokens-details",
            "--talker",
        ],
        ground_truth=ground_truth,
        port=args.port,
    )
    print(f"[demo]     {sim.base_url} (pid {sim.process.pid}), ground truth -> {ground_truth}")
    metrics_port = free_port()
    prometheus = start_prometheus(
        report_dir / "prometheus",
        {"omniload": f"127.0.0.1:{metrics_port}", "vllm": sim.base_url.removeprefix("http://")},
    )
    print(f"[demo]     Prometheus {prometheus.url} scrapes the master (:{metrics_port}) and the simulator every second")
    try:
        command = [
            sys.executable,
            "-m",
            "locust",
            "-f",
            locustfile_path(),
            "--headless",
            "--host",
            sim.base_url,
            "--model",
            DEFAULT_MODEL,
            "--parallel",
            *DEMO_PARALLEL,
            "--number",
            *DEMO_NUMBER,
            "--max-tokens",
            str(DEMO_OUTPUT_TOKENS),
            "--sleep-interval",
            DEMO_SLEEP_INTERVAL_S,
            "--report-dir",
            str(report_dir),
            "--omnibench",
            "--omnibench-concurrency",
            "4",
            "--metrics-port",
            str(metrics_port),
            "--metrics-linger",
            METRICS_LINGER_S,
        ]
        print("[demo] 2/6 load through real Locust:\n       " + shlex.join(["locust", *command[3:]]))
        locust_exit = subprocess.run(command, timeout=LOCUST_DEADLINE_S).returncode
        scraped_at = time.time() - float(METRICS_LINGER_S) / 2
        print(f"[demo]     locust exit code {locust_exit}")
        print("[demo] 3/6 the same requests as the server saw them (joined on X-Request-Id):")
        check_against_ground_truth(report_dir, ground_truth)
        print("[demo] 4/6 what Prometheus scraped during the run (the Grafana dashboard shows these live):")
        show_prometheus(prometheus, scraped_at, report_dir)
        print("[demo] 5/6 the other load models (each in its own report directory):")
        show_load_models(sim, report_dir)
    finally:
        prometheus.stop()
        sim.stop()
    print("[demo] 6/6 the report, opened in headless Chromium with every network request blocked:")
    show_report(report_dir)
    print("[demo] not shown here: Grafana (no server on this machine; see README)")
    return locust_exit


def show_load_models(sim: SimProcess, report_dir: Path) -> None:
    """An open-loop rate sweep with audio, a request mix with video and probes, then an SLA search, against the
    same simulator."""
    for name, extra in (
        ("rates", RATES_ARGS),
        ("mix", MIX_ARGS),
        ("conversations", CONVERSATION_ARGS),
        ("speech", SPEECH_ARGS),
        ("sla", SLA_ARGS),
    ):
        directory = report_dir / name
        shutil.rmtree(directory, ignore_errors=True)
        command = [
            sys.executable,
            "-m",
            "locust",
            "-f",
            locustfile_path(),
            "--headless",
            "--host",
            sim.base_url,
            "--model",
            DEFAULT_MODEL,
            "--report-dir",
            str(directory),
            "--metrics-port",
            "0",
            *extra,
        ]
        print("[demo]     " + shlex.join(["locust", *command[3:]]))
        exit_code = subprocess.run(command, timeout=LOCUST_DEADLINE_S, capture_output=True, text=True).returncode
        summary = json.loads((directory / SUMMARY_FILE).read_text())
        if name == "rates":
            truth = {request["request_id"]: request for request in sim.ground_truth_records()}
            records = [r for r in read_records(str(directory / REQUESTS_FILE)) if r.request_id in truth]
            late_ms = sorted((truth[r.request_id]["received_at"] - r.due_s) * 1000 for r in records if r.due_s)
            for stage in summary["stages"]:
                print(
                    f"[demo]     open loop at {stage['rate_rps']:g} req/s: {stage['sent']} sent, p99 lateness "
                    f"{stage['lateness_s']['p99'] * 1000:.1f} ms, errors {stage['errors'] or 'none'}"
                )
            print(
                f"[demo]     server's kernel arrival stamp - due time: median {late_ms[len(late_ms) // 2]:.2f} ms, "
                f"max {late_ms[-1]:.2f} ms over {len(late_ms)} requests"
            )
            media = {
                (r.expected_media_tokens, truth[r.request_id]["image_tokens"] + truth[r.request_id]["audio_tokens"])
                for r in records
            }
            print(
                f"[demo]     image+audio tokens expected vs counted by the server: "
                f"{'all equal' if all(a == b for a, b in media) else sorted(media)} ({len(records)} requests)"
            )
        elif name == "mix":
            show_mix(summary, sim, directory)
        elif name == "conversations":
            show_conversations(summary, sim, directory)
        elif name == "speech":
            show_speech(summary, sim, directory)
        else:
            for result in summary.get("sla", []):
                best = "-" if result["max_satisfied"] is None else format(result["max_satisfied"], "g")
                print(
                    f"[demo]     SLA search, {result['criteria']}: most {result['variable']} satisfied {best} "
                    f"({result['note']}; tried {' '.join(format(v, 'g') for v in result['tried'])})"
                )
        print(f"[demo]     exit code {exit_code}; report {directory / REPORT_FILE}")


def show_mix(summary: dict[str, Any], sim: SimProcess, directory: Path) -> None:
    """A mix's stages per class, its probes, and its videos' tokens against the server's count."""
    for stage in summary["stages"]:
        classes = ", ".join(
            f"{name} {figures['sent']} (p50 TTFT {(figures['ttft_s']['p50'] or 0) * 1000:.0f} ms)"
            for name, figures in stage.get("classes", {}).items()
        )
        probe = stage.get("probe", {})
        probe_p50_s = (probe.get("ttft_s") or {}).get("p50")
        print(
            f"[demo]     mix at concurrency {stage['parallel']}: {stage['sent']} sent: {classes}; "
            f"{stage.get('media', {}).get('video_s_per_s', 0):.1f} s of video per s; text probes beside it: "
            + (f"p50 TTFT {probe_p50_s * 1000:.0f} ms" if probe_p50_s is not None else "none")
        )
    truth = {request["request_id"]: request for request in sim.ground_truth_records()}
    videos = [
        (r.expected_video_tokens, truth[r.request_id]["video_tokens"])
        for r in read_records(str(directory / REQUESTS_FILE))
        if r.request_id in truth and r.expected_video_tokens
    ]
    print(
        f"[demo]     video tokens (frames and their sound track) expected vs counted by the server: "
        f"{'all equal' if all(a == b for a, b in videos) else sorted(set(videos))} ({len(videos)} requests with video)"
    )


def show_conversations(summary: dict[str, Any], sim: SimProcess, directory: Path) -> None:
    """Later turns against the server's answers; first against later TTFT; what the server found cached."""
    truth = {request["request_id"]: request for request in sim.ground_truth_records()}
    records = [r for r in read_records(str(directory / REQUESTS_FILE)) if r.request_id in truth]
    by_conversation: dict[str | None, list[Any]] = {}
    for record in records:
        by_conversation.setdefault(record.conversation, []).append(record)
    carried = checked = 0
    for turns in by_conversation.values():
        turns.sort(key=lambda record: record.turn)
        for earlier, later in zip(turns, turns[1:], strict=False):
            before, after = truth[earlier.request_id], truth[later.request_id]
            checked += 1
            carried += after["messages"][len(before["messages"])] == ["assistant", before["answer_digest"]]
    stage = summary["stages"][0]
    turns = stage.get("turns", {})
    p50 = {name: (figures["ttft_s"]["p50"] or 0) * 1000 for name, figures in turns.items()}
    cache = stage.get("cache", {})
    print(
        f"[demo]     {len(by_conversation)} conversations: {carried} of {checked} later turns carried the server's "
        f"previous answer exactly; p50 TTFT first turns {p50.get('first', 0):.0f} ms, later turns "
        f"{p50.get('later', 0):.0f} ms; the server found {cache.get('cached_share', 0) * 100:.0f} % of prompt tokens "
        "cached (usage.prompt_tokens_details)"
    )


def show_speech(summary: dict[str, Any], sim: SimProcess, directory: Path) -> None:
    """Spoken answers per stage, and every record's time to first audio, audio and underruns against the talker's."""
    for stage in summary["stages"]:
        speech = stage.get("speech", {})
        print(
            f"[demo]     spoken answers at concurrency {stage['parallel']}: {speech.get('answers', 0)}, p50 TTFA "
            f"{(stage.get('ttfa_s', {}).get('p50') or 0) * 1000:.0f} ms, p50 real-time factor "
            f"{stage.get('audio_rtf', {}).get('p50') or 0:.2f}, {speech.get('underrun_share', 0) * 100:.0f} % ran dry "
            f"({speech.get('underrun_s', 0):.1f} s in all)"
        )
    truth = {request["request_id"]: request for request in sim.ground_truth_records()}
    records = [r for r in read_records(str(directory / REQUESTS_FILE)) if r.request_id in truth and r.ttfa_s]
    ttfa_ms = sorted(abs((r.ttfa_s or 0) - truth[r.request_id]["ttfa_s"]) * 1000 for r in records) or [0.0]
    same = sum(
        r.audio_out_s == truth[r.request_id]["audio_s"] and r.underruns == truth[r.request_id]["underruns"]
        for r in records
    )
    print(
        f"[demo]     against the talker's own record: TTFA median {ttfa_ms[len(ttfa_ms) // 2]:.3f} ms, "
        f"max {ttfa_ms[-1]:.2f} ms, audio seconds and "
        f"underruns equal for {same} of {len(records)} answers; the report plays the first ones "
        f"({directory / REPORT_FILE}#speech)"
    )


def show_report(report_dir: Path) -> None:
    """Screenshots of report.html and of `omniload app` into the report directory."""
    report = report_dir / REPORT_FILE
    with browser_page() as (page, log):
        page.goto("file://" + str(report.resolve()))
        page.screenshot(path=str(report_dir / SCREENSHOTS[0]), full_page=True)
        marks = page.locator("figure.chart .mark").count()
    print(f"[demo]     {report} ({report.stat().st_size / 1024:.0f} KB): {page_summary(marks, log)}")
    spoken = report_dir / "speech" / REPORT_FILE
    with browser_page() as (page, log):
        page.goto("file://" + str(spoken.resolve()))
        page.locator("#speech").screenshot(path=str(report_dir / SCREENSHOTS[2]))
        seconds = audio_seconds(page, "#speech audio")
        marks = page.locator("#speech .mark").count()
    print(
        f"[demo]     {spoken}#speech: a spoken answer plays in the page ({seconds:.1f} s decoded by Chromium), "
        f"{page_summary(marks, log)}; screenshot {report_dir / SCREENSHOTS[2]}"
    )
    app = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "app", str(report_dir.parent), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert app.stdout is not None
        base = app.stdout.readline().split("serving on ")[1].split()[0].rstrip("/")
        with browser_page(allowed_prefix=base) as (page, log):
            page.goto(f"{base}/")  # the app's list of runs (report.png shows a report)
            page.screenshot(path=str(report_dir / SCREENSHOTS[1]), full_page=True)
            runs_listed = page.locator("#runs tbody tr").count()
    finally:
        app.terminate()
        app.wait(10)
    print(
        f"[demo]     screenshots: {report_dir / SCREENSHOTS[0]}, {report_dir / SCREENSHOTS[1]} (the app's list: "
        f"{runs_listed} runs)"
    )
    print(f"[demo]     open it: a browser on {report}, or `omniload app {report_dir.parent}` (http://127.0.0.1:8650)")


def page_summary(marks: int, log: PageLog) -> str:
    return (
        f"{marks} chart marks drawn, {len(log.console_errors)} console errors, "
        f"{len(log.blocked_requests)} network requests attempted"
    )


def show_prometheus(prometheus: Prometheus, at_s: float, report_dir: Path) -> None:
    def value(expr: str) -> float | None:
        result = prometheus.query(expr, at_s)
        return float(result[0]["value"][1]) if result else None

    ttfts_s = sorted(
        r.ttft_s
        for r in read_records(str(report_dir / REQUESTS_FILE))
        if r.status == "ok" and not r.warmup and r.ttft_s is not None
    )
    if ttfts_s:
        exact_s = percentile(ttfts_s, 90)
        upper = next(bound for bound in (*CLIENT_TTFT_BUCKETS_S, float("inf")) if exact_s <= bound)
        lower = max((bound for bound in CLIENT_TTFT_BUCKETS_S if bound < exact_s), default=0.0)
        print(
            f"[demo]     TTFT p90 over the run, exact from its {len(ttfts_s)} records: {exact_s * 1000:.0f} ms "
            f"(largest {ttfts_s[-1] * 1000:.0f} ms). Prometheus's histogram_quantile below interpolates linearly "
            f"inside the bucket holding it ({lower * 1000:g}–{upper * 1000:g} ms): anywhere in that bucket, even "
            "above the largest value"
        )
    for who, metric in (("client", "omniload_ttft_seconds"), ("server", "vllm:time_to_first_token_seconds")):
        p90_s = value(f"histogram_quantile(0.9, sum by (le) (max_over_time({metric}_bucket[10m])))")
        print(
            f"[demo]     TTFT p90 over the run, {who} side ({metric}): "
            + (f"{p90_s * 1000:.0f} ms" if p90_s is not None else "no data")
        )
    for who, metric in (("client", "omniload_completion_tokens_total"), ("server", "vllm:generation_tokens_total")):
        total = value(f"sum(max_over_time({metric}[10m]))")
        print(f"[demo]     output tokens, {who} side ({metric}): {total:.0f}" if total is not None else "no data")
    print("[demo]     (the server's count can also hold OmniBench's answers when they were scraped in time)")


def check_against_ground_truth(report_dir: Path, ground_truth: str) -> None:
    records = read_records(str(report_dir / REQUESTS_FILE))
    load_ids = {record.request_id for record in records}
    truth = [g for g in read_jsonl(ground_truth) if g["request_id"] in load_ids]  # not OmniBench's requests
    for stage, seen in sorted(stages_seen(records, truth).items()):
        print(
            f"[demo]     stage {stage + 1}: the server got {seen.requests} requests, at most "
            f"{seen.peak_in_flight} at a time"
        )
    errors_ms = sorted(error.ttft_s * 1000 for error in request_errors(records, truth))
    if errors_ms:
        print(
            f"[demo]     |client TTFT - server TTFT| over {len(errors_ms)} requests: median "
            f"{errors_ms[len(errors_ms) // 2]:.2f} ms, max {errors_ms[-1]:.2f} ms"
        )
    ok_ids = {record.request_id for record in records if record.status == "ok"}
    counted = {
        (g["text_tokens"], g["image_tokens"], g["completion_tokens"]) for g in truth if g["request_id"] in ok_ids
    }
    print(f"[demo]     server-side (text, image, output) tokens per request: {sorted(counted)}")
    files = ", ".join(
        str(report_dir / name)
        for name in (SUMMARY_FILE, STAGES_CSV, REQUESTS_FILE, "omnibench/summary.json", "omnibench/samples.jsonl")
    )
    print(f"[demo]     files: {files} ({len(records)} records)")


if __name__ == "__main__":
    sys.exit(main())
