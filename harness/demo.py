"""`make demo`: start the simulated server and show what it serves.

The load issue will grow this into sweep → metrics → OmniBench → report; for now it
starts the simulator, streams one multimodal request (a 512×512 image and a 1 s tone),
prints the stream's shape, usage and the server's vLLM metrics, and stops the server.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import subprocess
import sys
import time
import urllib.request

import numpy as np
import soundfile
from PIL import Image

from harness.sim.config import DEFAULT_MODEL

STARTUP_DEADLINE_S = 60.0
SHOWN_METRICS = (
    "vllm:time_to_first_token_seconds_count",
    "vllm:time_to_first_token_seconds_sum",
    "vllm:generation_tokens_total",
    "vllm:prompt_tokens_total",
    "vllm:request_success_total",
)


def _start_sim(port: int, ground_truth: str) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "harness.sim", "--host", "127.0.0.1", "--port", str(port),
               "--ground-truth", ground_truth]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})  # fmt: skip
    assert process.stdout is not None
    deadline = time.monotonic() + STARTUP_DEADLINE_S
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        if line.startswith("serving on "):
            print(f"[demo] simulator (pid {process.pid}): {line.strip()}")
            return process, line.split()[2]
    process.kill()
    raise SystemExit("[demo] the simulator did not start")


def _media_parts() -> list[dict[str, object]]:
    image = io.BytesIO()
    Image.effect_noise((512, 512), 64).convert("RGB").save(image, format="PNG")
    audio = io.BytesIO()
    samples = np.sin(np.linspace(0, 2 * np.pi * 440, 16_000)).astype(np.float32)
    soundfile.write(audio, samples, 16_000, format="WAV")
    return [
        {"type": "text", "text": "Describe the picture and the sound."},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(image.getvalue()).decode()}},
        {"type": "input_audio", "input_audio": {"data": base64.b64encode(audio.getvalue()).decode(), "format": "wav"}},
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8801)
    parser.add_argument("--report-dir", default="results/demo")
    args = parser.parse_args(argv)
    os.makedirs(args.report_dir, exist_ok=True)
    ground_truth = os.path.join(args.report_dir, "sim_ground_truth.jsonl")
    process, base_url = _start_sim(args.port, ground_truth)
    try:
        with urllib.request.urlopen(base_url + "/v1/models", timeout=10) as response:
            print("[demo] GET /v1/models ->", [m["id"] for m in json.load(response)["data"]])
        body = {"model": DEFAULT_MODEL, "messages": [{"role": "user", "content": _media_parts()}],
                "max_tokens": 64, "min_tokens": 64, "ignore_eos": True, "stream": True,
                "stream_options": {"include_usage": True}}  # fmt: skip
        request = urllib.request.Request(base_url + "/v1/chat/completions", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json", "X-Request-Id": "demo-1"})  # fmt: skip
        t_send = time.perf_counter()
        events, first_content_s, usage = 0, None, None
        with urllib.request.urlopen(request, timeout=60) as response:
            for raw_line in response:
                line = raw_line.decode().strip()
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                chunk = json.loads(line[6:])
                events += 1
                if chunk["choices"] and chunk["choices"][0]["delta"].get("content") and first_content_s is None:
                    first_content_s = time.perf_counter() - t_send
                usage = chunk.get("usage") or usage
        latency_s = time.perf_counter() - t_send
        print(f"[demo] streamed {events} events; TTFT {1000 * (first_content_s or 0):.1f} ms, "
              f"E2E {1000 * latency_s:.1f} ms; usage {usage}")  # fmt: skip
        with urllib.request.urlopen(base_url + "/metrics", timeout=10) as response:
            for line in response.read().decode().splitlines():
                if line.startswith(SHOWN_METRICS):
                    print("[demo] /metrics", line)
        with open(ground_truth, encoding="utf-8") as lines:
            record = json.loads(lines.readlines()[-1])
        print(f"[demo] ground truth {ground_truth}: text {record['text_tokens']} + image {record['image_tokens']} "
              f"+ audio {record['audio_tokens']} = {record['prompt_tokens']} prompt tokens, "
              f"{record['completion_tokens']} completion tokens")  # fmt: skip
        print("[demo] next: load sweeps through Locust, live Prometheus metrics, OmniBench and reports (open issues)")
    finally:
        process.terminate()
        process.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
