"""Streaming multimodal chat load for OpenAI-compatible servers (vLLM + Qwen3-Omni).

    omniload run --headless -u 10 -r 10 -t 20s \\
        --host http://127.0.0.1:8801 --model Qwen3-Omni-30B-A3B-Instruct --report-dir results/run1
    locust -f "$(omniload locustfile)" --headless --host ... --model ... \\
        --parallel 1 5 10 50 100 --number 2 10 20 100 200

Everything lives in the `harness` package; this file only names the user class and the
load shape (which runs a sweep, or plain -u/-r/-t without one). Importing
harness.hooks registers omniload's flags and Locust event hooks.
"""

import harness.hooks  # noqa: F401  (flags and event hooks)
from harness.load.user import OmniChatUser
from harness.master.shape import SweepShape

__all__ = ["OmniChatUser", "SweepShape"]
