"""The tokenizer without transformers: the same prompts as apply_chat_template, and no torch anywhere.

A fake `torch` distribution (found by importlib.metadata, as transformers looks for it)
whose import raises is put on the path of every process a sweep starts: the master, the
payload builder child, the simulator and the OmniBench pass. Any of them importing torch
would crash and fail the run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.devtools.locustproc import run_locust
from harness.devtools.simprocess import start_sim
from harness.omnibench.dataset import bundled_sample_path
from harness.tokenizer import Tokenizer, bundled_tokenizer_dir, load_tokenizer

from common import MODEL

CONVERSATIONS = [
    [{"role": "user", "content": "Hello world"}],
    [{"role": "user", "content": ""}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi <b>x</b> {{ y }} & \t\n  z"}],
    [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "<think>\nr\n</think>\n\nb"},
        {"role": "user", "content": "c"},
    ],
    [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}],
]


@pytest.mark.parametrize("messages", CONVERSATIONS)
@pytest.mark.parametrize("add_generation_prompt", [True, False])
def test_rendering_equals_transformers(messages: list[dict[str, str]], add_generation_prompt: bool) -> None:
    from transformers import AutoTokenizer  # this test environment has no torch; omniload never imports it

    reference = AutoTokenizer.from_pretrained(bundled_tokenizer_dir(), local_files_only=True)
    ours = load_tokenizer()
    rendered = ours.apply_chat_template(messages, add_generation_prompt=add_generation_prompt)
    assert rendered == reference.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=add_generation_prompt
    )
    assert ours.encode(rendered) == reference.encode(rendered, add_special_tokens=False)
    assert ours.decode(ours.encode(rendered)) == reference.decode(reference.encode(rendered, add_special_tokens=False))


def test_hello_world_and_the_vocabulary() -> None:
    tokenizer = load_tokenizer()
    assert tokenizer.encode("Hello world") == [9707, 1879]
    assert len(tokenizer.get_vocab()) == 151_669  # 151,643 BPE tokens + Qwen's specials


def test_a_folder_without_tokenizer_json_or_template_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OSError, match="no tokenizer.json"):
        Tokenizer.from_dir(str(tmp_path))
    (tmp_path / "tokenizer.json").write_bytes((Path(bundled_tokenizer_dir()) / "tokenizer.json").read_bytes())
    (tmp_path / "tokenizer_config.json").write_text("{}")
    with pytest.raises(OSError, match="no chat template"):
        Tokenizer.from_dir(str(tmp_path))
    (tmp_path / "chat_template.jinja").write_text("{{ messages[0].content }}!")
    assert Tokenizer.from_dir(str(tmp_path)).apply_chat_template([{"role": "user", "content": "hi"}]) == "hi!"


@pytest.fixture()
def torch_that_explodes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `torch` that looks installed (package and dist-info) and raises when imported, on every child's path."""
    site = tmp_path / "fake-site"
    (site / "torch").mkdir(parents=True)
    (site / "torch" / "__init__.py").write_text('raise RuntimeError("omniload imported torch")\n')
    (site / "torch-2.11.0.dist-info").mkdir()
    (site / "torch-2.11.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: torch\nVersion: 2.11.0\n")
    monkeypatch.setenv("PYTHONPATH", str(site))
    return site


def test_the_fake_torch_is_found_and_explodes(torch_that_explodes: Path) -> None:
    probe = "import importlib.metadata as m; print(m.version('torch')); import torch"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "2.11.0" and "omniload imported torch" in result.stderr  # the check can fail


def test_no_omniload_process_imports_torch(torch_that_explodes: Path, tmp_path: Path) -> None:
    """A timed stage (its payloads refilled by the builder child), then OmniBench, where torch 'is installed'."""
    sim = start_sim(["--fixed", "5", "1", "--model", MODEL, "--answer-key", bundled_sample_path()])
    try:
        result = run_locust(
            [
                "--headless",
                "--host",
                sim.base_url,
                "--model",
                MODEL,
                "--parallel",
                "2",
                "--duration",
                "3",
                "--pool-size",
                "8",
                "--max-tokens",
                "4",
                "--image-width",
                "32",
                "--image-height",
                "32",
                "--min-prompt-length",
                "32",
                "--max-prompt-length",
                "64",
                "--sleep-interval",
                "0",
                "--metrics-port",
                "0",
                "--report-dir",
                str(tmp_path / "r"),
                "--omnibench",
                "--omnibench-limit",
                "4",
            ]
        )
    finally:
        sim.stop()
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["stages"][0]["succeeded"] == summary["stages"][0]["sent"] > 8  # more than the first pool
    assert summary["omnibench"]["num"] == 4
    assert summary["payloads"]["built_during_load"] > 0  # the builder child ran
    assert "torch" not in result.stderr and "PyTorch" not in result.stderr + result.stdout
