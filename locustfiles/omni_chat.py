"""Streaming multimodal chat load for OpenAI-compatible servers (vLLM + Qwen3-Omni).

    locust -f locustfiles/omni_chat.py --headless -u 10 -r 10 -t 20s \\
        --host http://127.0.0.1:8801 --model Qwen3-Omni-30B-A3B-Instruct --report-dir results/run1

Everything lives in the `harness` package; this file only names the user class.
"""

from harness.user import OmniChatUser

__all__ = ["OmniChatUser"]
