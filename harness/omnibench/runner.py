"""Run OmniBench against an OpenAI-compatible endpoint and write its results.

One non-streamed request per sample (`--concurrency` at a time), retried a bounded
number of times on transient errors; samples that still fail are counted apart from
wrong answers. Every result is appended to omnibench/samples.jsonl as it arrives, and a
rerun into the same report directory resumes: answered samples are not asked again.
"""

from __future__ import annotations

import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from typing import Any

import urllib3

from harness import safejson
from harness.completions import error_message, usage_counts
from harness.endpoint import Endpoint
from harness.fetch import Bounds, FetchError, fetch
from harness.mediafiles import image_mime_type
from harness.omnibench.config import OmniBenchConfig
from harness.omnibench.dataset import DatasetError, OmniSample, bundled_sample_path, load_samples
from harness.omnibench.prompt import audio_format, build_messages, target_letter
from harness.omnibench.scoring import extract_letter, score
from harness.progress import ProgressLine
from harness.results import OMNIBENCH_DIR, OMNIBENCH_SAMPLES_FILE, SUMMARY_FILE
from harness.visible import visible

DATASET_NAME = "omni_bench"
MAX_ATTEMPTS = 3
RETRY_BACKOFF_S = 1.0  # times the attempt number
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
REQUEST_TIMEOUT_S = 600.0
REQUEST_BOUNDS = Bounds(connect_s=30.0, read_s=REQUEST_TIMEOUT_S, total_s=REQUEST_TIMEOUT_S)


def check_media(samples: list[OmniSample], use_image: bool, use_audio: bool) -> None:
    """Read every sample's image and audio header before any request (DatasetError naming the sample)."""
    for sample in samples:
        try:
            if use_image:
                image_mime_type(sample.image_bytes)
            if use_audio:
                audio_format(sample)
        except Exception as exc:  # Pillow and soundfile raise several kinds for bytes they cannot read
            raise DatasetError(f"sample {sample.index}: its media cannot be read ({type(exc).__name__})") from None


def _ends_with_newline(path: str) -> bool:
    with open(path, "rb") as file:
        file.seek(-1, os.SEEK_END)
        return file.read(1) == b"\n"


def run_after_load(endpoint: Endpoint, report_dir: str, config: OmniBenchConfig) -> dict[str, Any]:
    """The pass after a load run (`--omnibench`): the run's endpoint (model, key) and report directory.

    Returns its summary, or {"error": ...} when the dataset cannot be read.
    """
    print("\nomniload: OmniBench accuracy pass", flush=True)
    try:
        return run_omnibench(endpoint, report_dir, config)
    except DatasetError as exc:
        print(f"omniload: OmniBench skipped: --omnibench-dataset: {exc}", flush=True)
        return {"error": str(exc)}
    except PassRefused as exc:
        print(f"omniload: OmniBench stopped: {exc}", flush=True)
        return {"error": str(exc)}


class PassRefused(Exception):
    """The server refused a request for a reason retrying cannot fix (a 4xx other than 408/429)."""


def run_omnibench(endpoint: Endpoint, report_dir: str, config: OmniBenchConfig) -> dict[str, Any]:
    """Ask every sample not yet answered, score all of them, write and print the results.

    Raises DatasetError before any request when the dataset or a sample's media cannot be
    read, and PassRefused when the server refuses a request (the pass stops at once).
    """
    samples = load_samples(config.dataset, config.limit)
    check_media(samples, config.use_image, config.use_audio)
    out_dir = os.path.join(report_dir, OMNIBENCH_DIR)
    os.makedirs(out_dir, exist_ok=True)
    samples_path = os.path.join(out_dir, OMNIBENCH_SAMPLES_FILE)
    if not config.resume and os.path.exists(samples_path):
        os.replace(samples_path, samples_path + ".previous")  # kept aside, not mixed in
    done = _answered(samples_path)
    todo = [sample for sample in samples if sample.index not in done]
    resumed = len(samples) - len(todo)
    if resumed:
        print(
            f"OmniBench: resumed {resumed} of {len(samples)} samples already answered in {samples_path}; asking "
            f"{len(todo)} (--no-resume asks them all again)",
            flush=True,
        )
    lock = threading.Lock()
    headers = {"Content-Type": "application/json", **endpoint.auth_headers()}
    refused: list[str] = []
    progress = ProgressLine()
    with (
        urllib3.PoolManager(maxsize=config.concurrency, retries=False) as http,
        open(samples_path, "a", encoding="utf-8") as out,
    ):
        if out.tell() and not _ends_with_newline(samples_path):
            out.write("\n")  # a line cut short by a crash stays alone (and is skipped when read)

        def ask_and_keep(sample: OmniSample) -> None:
            if refused:
                return
            try:
                result = _ask(http, headers, endpoint, config, sample)
            except PassRefused as exc:
                refused.append(str(exc))
                return
            with lock:
                out.write(json.dumps(result) + "\n")
                out.flush()
                done[sample.index] = result
                progress.show(f"OmniBench: {len(done)}/{len(samples)} answered", force=len(done) == len(samples))

        with ThreadPoolExecutor(max_workers=config.concurrency) as pool:
            list(pool.map(ask_and_keep, todo))
    progress.end()
    if refused:
        raise PassRefused(refused[0])
    results = [done[sample.index] for sample in samples if sample.index in done]
    summary = {
        "model": endpoint.model,
        "dataset": DATASET_NAME,
        "source": dataset_source(config.dataset, len(samples)),
        "config": asdict(config),
        "resumed": resumed,
        **score(results),
    }
    with open(os.path.join(out_dir, SUMMARY_FILE), "w", encoding="utf-8") as file:
        json.dump(summary, file, indent=2)
    print(format_table(summary))
    return summary


def dataset_source(dataset: str | None, samples: int) -> str:
    """Where the samples came from, in words: the bundled set is named, not left as null."""
    if dataset is None:
        return f"the bundled OmniBench sample ({samples} samples of m-a-p/OmniBench: {bundled_sample_path()})"
    return f"{dataset} ({samples} samples)"


def _answered(path: str) -> dict[int, dict[str, Any]]:
    """Results already in samples.jsonl that need no new request (answered ones; the last line per index)."""
    if not os.path.exists(path):
        return {}
    results: dict[int, dict[str, Any]] = {}
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            try:
                result = json.loads(line)
                results[result["index"]] = result
            except (ValueError, TypeError, KeyError):
                continue  # blank, or cut short by a crash: that sample is asked again
    return {index: result for index, result in results.items() if result["status"] == "ok"}


def _ask(
    http: urllib3.PoolManager, headers: dict[str, str], endpoint: Endpoint, config: OmniBenchConfig, sample: OmniSample
) -> dict[str, Any]:
    body = json.dumps(
        {
            "model": endpoint.model,
            "messages": build_messages(sample, config.use_image, config.use_audio),
            "max_tokens": config.max_tokens,
            "temperature": config.temperature,
            "stream": False,
        }
    )
    result: dict[str, Any] = {
        "index": sample.index,
        "task_type": sample.task_type,
        "audio_type": sample.audio_type,
        "question": sample.question,
        "options": list(sample.options),
        "target": target_letter(sample),
        "output": None,
        "extracted": None,
        "correct": False,
        "latency_s": None,
        "usage": None,
        "status": "error",
        "error": None,
        "attempts": 0,
    }
    for attempt in range(1, MAX_ATTEMPTS + 1):
        result["attempts"] = attempt
        started_s = time.perf_counter()
        try:
            response = fetch("POST", endpoint.chat_url, REQUEST_BOUNDS, headers, body.encode(), http)
        except FetchError as exc:
            result["error"] = visible(str(exc))
        else:
            result["latency_s"] = time.perf_counter() - started_s
            if response.status == 200:
                try:
                    output, usage = read_answer(response.body)
                except (ValueError, KeyError, IndexError, TypeError) as exc:
                    result["error"] = visible(f"not a chat completion: {exc}")[:300]
                    return result
                extracted = extract_letter(output, len(sample.options))
                result.update(
                    output=output,
                    extracted=extracted,
                    correct=extracted == result["target"],
                    usage=usage,
                    status="ok",
                    error=None,
                )
                return result
            try:
                result["error"] = f"HTTP {response.status}: {error_message(safejson.loads(response.body))}"
            except ValueError:
                result["error"] = f"HTTP {response.status}"
            if response.status not in RETRY_STATUSES:
                if 400 <= response.status < 500:
                    raise PassRefused(
                        f"{endpoint.chat_url} answered {result['error']}; the pass stopped "
                        "(a 4xx does not go away when retried)"
                    )
                return result
        if attempt < MAX_ATTEMPTS:
            time.sleep(RETRY_BACKOFF_S * attempt)
    return result


def read_answer(body: bytes) -> tuple[str, dict[str, int | None]]:
    """A completion's answer text and usage counts, checked: content is text (or absent), usage counts are
    integers (or absent). Anything else raises (ValueError, KeyError, IndexError or TypeError)."""
    completion = safejson.loads(body)
    content = completion["choices"][0]["message"].get("content")
    if content is not None and not isinstance(content, str):
        raise TypeError(f"content is a {type(content).__name__}, not text")
    prompt_tokens, completion_tokens = usage_counts(completion.get("usage"))
    return content or "", {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}


def format_table(summary: dict[str, Any]) -> str:
    """EvalScope's result table (Model, Dataset, Metric, Subset, Num, Score) plus the breakdowns."""
    rows = [("Model", "Dataset", "Metric", "Subset", "Num", "Score")]
    rows.append(
        (summary["model"], summary["dataset"], "mean_acc", "OVERALL", str(summary["num"]), f"{summary['mean_acc']:.4f}")
    )
    for kind, prefix in (("by_task_type", "task: "), ("by_audio_type", "audio: ")):  # the two breakdowns apart
        for subset, values in summary[kind].items():
            rows.append(
                (
                    summary["model"],
                    summary["dataset"],
                    "mean_acc",
                    prefix + subset,
                    str(values["num"]),
                    f"{values['mean_acc']:.4f}",
                )
            )
    widths = [max(len(row[column]) for row in rows) for column in range(6)]
    lines = [
        "| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + " |" for row in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    if summary["failed"]:
        lines.append(
            f"{summary['failed']} samples failed (not counted as wrong; busy or broken answers were asked "
            f"up to {MAX_ATTEMPTS} times); see samples.jsonl"
        )
    return "\n".join(lines)
