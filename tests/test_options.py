"""Flag validation: each bad input names its flag (the CLI turns it into one line, exit 2)."""

from __future__ import annotations

import pytest

from harness.argparsing import BadOption
from harness.endpoint import endpoint_from_url

from loadopts import options_from


@pytest.mark.parametrize(
    ("argv", "host", "flag"),
    [
        (["--model", "m"], None, "--host"),
        (["--model", "m"], "ftp://x", "--host"),
        ([], "http://127.0.0.1:9", "--model"),
        (["--model", "m", "--min-prompt-length", "0"], "http://127.0.0.1:9", "--min-prompt-length"),
        (
            ["--model", "m", "--min-prompt-length", "100", "--max-prompt-length", "50"],
            "http://127.0.0.1:9",
            "--max-prompt-length",
        ),
        (["--model", "m", "--min-tokens", "20", "--max-tokens", "10"], "http://127.0.0.1:9", "--min-tokens"),
        (["--model", "m", "--image-width", "0"], "http://127.0.0.1:9", "--image-width"),
        (
            ["--model", "m", "--image-format", "RGBA", "--image-encoding", "jpeg"],
            "http://127.0.0.1:9",
            "--image-format",
        ),
        (["--model", "m", "--image-format", "XYZ"], "http://127.0.0.1:9", "--image-format"),
        (["--model", "m", "--extra-args", "{oops"], "http://127.0.0.1:9", "--extra-args"),
        (["--model", "m", "--extra-args", "[1]"], "http://127.0.0.1:9", "--extra-args"),
        (["--model", "m", "--read-timeout", "0"], "http://127.0.0.1:9", "--read-timeout"),
        (["--model", "m", "--api-path", "v1/chat"], "http://127.0.0.1:9", "--api-path"),
        (["--model", "m", "--percentiles", "50", "100"], "http://127.0.0.1:9", "--percentiles"),
        (["--model", "m", "--voice", "Chelsie"], "http://127.0.0.1:9", "--voice"),
        (["--model", "m", "--audio-output", "--no-stream"], "http://127.0.0.1:9", "--audio-output"),
        (["--model", "m", "--audio-output", "--voice", "a b"], "http://127.0.0.1:9", "--voice"),
        (["--model", "m", "--extra-args", '{"modalities": ["text"]}'], "http://127.0.0.1:9", "--extra-args"),
        (["--model", "m", "--percentiles", "0"], "http://127.0.0.1:9", "--percentiles"),
        (["--model", "m", "--percentiles", *map(str, range(1, 10))], "http://127.0.0.1:9", "--percentiles"),
    ],
)
def test_bad_input_names_the_flag(argv: list[str], host: str | None, flag: str) -> None:
    with pytest.raises(BadOption) as caught:
        options_from(argv, host)
    assert caught.value.flag == flag
    assert str(caught.value).startswith(flag + ": ")


@pytest.mark.parametrize(
    "host", ["http://user:pw@127.0.0.1:8801", "http://:pw@127.0.0.1:8801", "http://127.0.0.1:port"]
)
def test_a_host_with_credentials_or_a_bad_port_is_refused_without_echoing_it(host: str) -> None:
    with pytest.raises(BadOption) as caught:
        options_from(["--model", "m"], host)
    assert caught.value.flag == "--host" and "pw" not in str(caught.value)


def test_defaults_ask_for_exact_lengths() -> None:
    options = options_from(["--model", "m"]).payload
    assert (options.min_prompt_tokens, options.max_prompt_tokens) == (1024, 1024)
    assert options.min_tokens == options.max_tokens == 1024
    assert options.ignore_eos  # on because a minimum is asked for
    assert (options.image_width_px, options.image_height_px, options.image_mode, options.image_num) == (
        512,
        512,
        "RGB",
        1,
    )
    assert options.stream and options.unique_images


def test_no_minimum_means_no_ignore_eos_and_explicit_flags_win() -> None:
    assert not options_from(["--model", "m", "--min-tokens", "0"]).payload.ignore_eos
    assert not options_from(["--model", "m", "--no-ignore-eos"]).payload.ignore_eos


def test_api_key_stays_out_of_the_public_config(monkeypatch: pytest.MonkeyPatch) -> None:
    options = options_from(["--model", "m", "--api-key", "sk-secret-123", "--grafana-url", "http://u:pw-456@g:3000"])
    assert options.endpoint.api_key == "sk-secret-123"
    assert options.metrics.grafana_url == "http://u:pw-456@g:3000"
    for shown in (repr(options), str(options.public_config())):
        assert "sk-secret-123" not in shown and "pw-456" not in shown
    assert "api_key" not in options.public_config() and "grafana_url" not in options.public_config()


@pytest.mark.parametrize(
    ("host", "api_path", "chat_url"),
    [
        ("http://h:8000", "/v1/chat/completions", "http://h:8000/v1/chat/completions"),
        ("http://h:8000/", "/v1/chat/completions", "http://h:8000/v1/chat/completions"),
        ("http://h:8000/v1", "/v1/chat/completions", "http://h:8000/v1/chat/completions"),
        ("http://h:8000/v1/", "/v1/chat/completions", "http://h:8000/v1/chat/completions"),
        ("http://h:8000/openai", "/v1/chat/completions", "http://h:8000/openai/v1/chat/completions"),
        ("http://h:8000/v1", "/chat", "http://h:8000/v1/chat"),
    ],
)
def test_host_with_or_without_v1_never_doubles_it(host: str, api_path: str, chat_url: str) -> None:
    assert options_from(["--model", "m", "--api-path", api_path], host).endpoint.chat_url == chat_url


@pytest.mark.parametrize(
    ("url", "chat_url"),
    [
        ("http://h:8000", "http://h:8000/v1/chat/completions"),
        ("http://h:8000/v1", "http://h:8000/v1/chat/completions"),
        ("http://h:8000/v1/", "http://h:8000/v1/chat/completions"),
        ("http://h:8000/v1/chat/completions", "http://h:8000/v1/chat/completions"),
    ],
)
def test_omnibench_api_url_with_or_without_v1(url: str, chat_url: str) -> None:
    assert endpoint_from_url(url, "m", "", "--api-url").chat_url == chat_url


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["--seed", "-1"], "--seed"),
        (["--temperature", "inf"], "--temperature"),
        (["--temperature", "nan"], "--temperature"),
        (["--omnibench", "--omnibench-limit", "-1"], "--omnibench-limit"),
        (["--omnibench", "--omnibench-concurrency", "0"], "--omnibench-concurrency"),
        (["--omnibench", "--omnibench-temperature", "inf"], "--omnibench-temperature"),
        (["--grafana-url", "grafana:3000"], "--grafana-url"),
        (["--audio-num", "-1"], "--audio-num"),
        (["--audio-num", "17"], "--audio-num"),
        (["--audio-num", "1", "--audio-seconds", "0"], "--audio-seconds"),
        (["--audio-num", "1", "--audio-seconds", "5", "2"], "--audio-seconds"),
        (["--audio-num", "1", "--audio-seconds", "1", "2", "3"], "--audio-seconds"),
        (["--rate", "0", "--parallel", "2", "--number", "4"], "--rate"),
        (["--rate", "1", "2", "3", "--parallel", "2", "4", "--number", "4", "8"], "--rate"),
        (["--open-loop", "--number", "4"], "--rate"),
        (["--open-loop", "--rate", "5", "--number", "4", "--parallel", "2"], "--parallel"),
        (["--open-loop", "--rate", "5", "6", "--number", "4"], "--number"),
        (["--open-loop", "--rate", "5", "--number", "4", "--max-concurrency", "0"], "--max-concurrency"),
        (["--rate", "5", "--parallel", "2", "--number", "4", "--burstiness", "0.5"], "--burstiness"),
        (
            ["--rate", "5", "--parallel", "2", "--number", "4", "--arrival", "gamma", "--burstiness", "0"],
            "--burstiness",
        ),
        # the security probe's inputs that hung or broke a run
        (
            ["--sla-auto-tune", "--sla-params", '[{"p99_latency": "<=2"}]', "--sla-lower-bound", "0.5"],
            "--sla-lower-bound",
        ),
        (["--parallel", "1", "--number", "2", "--rate", "1e-300"], "--rate"),
        (["--parallel", "1", "--number", "2", "--rate", "1e308"], "--rate"),
        (["--open-loop", "--number", "2", "--rate", "1e308"], "--rate"),
        (
            ["--parallel", "1", "--number", "2", "--rate", "1", "--arrival", "gamma", "--burstiness", "1e-300"],
            "--burstiness",
        ),
        (["--extra-args", "[" * 5000 + "]" * 5000], "--extra-args"),
        (["--extra-args", '{"top_p": NaN}'], "--extra-args"),
        (["--sla-auto-tune", "--sla-params", "[" * 5000 + "]" * 5000], "--sla-params"),
        (["--sla-params", '[{"p99_latency": "<=2"}]'], "--sla-params"),
        (["--sla-lower-bound", "2"], "--sla-lower-bound"),
        (["--parallel", "1", "--number", "2", "--arrival", "gamma", "--burstiness", "2"], "--arrival"),
        (["--max-concurrency", "8"], "--max-concurrency"),
        (["--parallel", "1000000", "--number", "2"], "--parallel"),
        (["--extra-args", '{"pad": "' + "x" * 200_000 + '"}', "--parallel", "1", "--number", "100000"], "--extra-args"),
    ],
)
def test_more_bad_input_names_the_flag(argv: list[str], flag: str) -> None:
    with pytest.raises(BadOption) as caught:
        options_from(["--model", "m", *argv])
    assert caught.value.flag == flag


def test_omnibench_settings_are_one_config_for_both_entry_points() -> None:
    from harness.omnibench.cli import build_parser
    from harness.omnibench.config import STANDALONE_PREFIX, OmniBenchConfig, omnibench_config

    after_load = options_from(["--model", "m", "--omnibench", "--omnibench-limit", "5", "--no-omnibench-use-audio"])
    standalone = omnibench_config(
        build_parser().parse_args(["--api-url", "http://h", "--model", "m", "--limit", "5", "--no-use-audio"]),
        STANDALONE_PREFIX,
    )
    assert after_load.omnibench == standalone == OmniBenchConfig(limit=5, use_audio=False)
    defaults = omnibench_config(build_parser().parse_args(["--api-url", "http://h", "--model", "m"]), STANDALONE_PREFIX)
    assert defaults == options_from(["--model", "m", "--omnibench"]).omnibench == OmniBenchConfig()
    with pytest.raises(BadOption, match="^--limit: "):
        omnibench_config(
            build_parser().parse_args(["--api-url", "http://h", "--model", "m", "--limit", "-1"]), STANDALONE_PREFIX
        )


def test_duration_per_stage_or_for_all_instead_of_number() -> None:
    from harness.options import Stage

    assert options_from(["--model", "m", "--parallel", "1", "2", "--duration", "30"]).sweep.stages == (
        Stage(1, None, 30.0),
        Stage(2, None, 30.0),
    )
    both = options_from(["--model", "m", "--parallel", "1", "2", "--number", "5", "6", "--duration", "10", "20"])
    assert both.sweep.stages == (Stage(1, 5, 10.0), Stage(2, 6, 20.0)) and both.sweep.requests_budget == 11
    assert options_from(["--model", "m", "--parallel", "4", "--duration", "9"]).sweep.requests_budget is None
    for argv, flag in (
        (["--parallel", "1", "2", "--duration", "1", "2", "3"], "--duration"),
        (["--parallel", "1", "--duration", "0"], "--duration"),
        (["--parallel", "1"], "--number"),
        (["--duration", "5"], "--parallel"),
    ):
        with pytest.raises(BadOption) as caught:
            options_from(["--model", "m", *argv])
        assert caught.value.flag == flag


def test_run_help_lists_every_omniload_flag_in_a_named_group() -> None:
    import subprocess
    import sys

    from harness.options import flag_dests

    result = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    ours = result.stdout[result.stdout.index("\nomniload: the server:") :]
    assert "--headless" in result.stdout[: result.stdout.index("\nomniload: the server:")]  # Locust's flags first
    for dest in flag_dests():
        flag = "--" + dest.replace("_", "-")
        assert f"  {flag} " in ours or f"  {flag}\n" in ours or f"  {flag}, " in ours or f"{flag} [" in ours, flag


def test_percentiles_are_sorted_without_repeats() -> None:
    assert options_from(["--model", "m", "--percentiles", "99.9", "50", "50"]).percentiles == (50.0, 99.9)
    assert options_from(["--model", "m"]).percentiles == (50.0, 90.0, 99.0)


def test_a_spoken_answer_is_asked_as_each_server_profile_takes_it() -> None:
    vllm = options_from(["--model", "m", "--audio-output"]).payload.body_fields()
    openai = options_from(["--model", "m", "--audio-output", "--server-profile", "openai"]).payload.body_fields()
    assert vllm["modalities"] == openai["modalities"] == ["text", "audio"] and "audio" not in vllm
    assert openai["audio"] == {"voice": "Ethan", "format": "pcm16"}
    assert "modalities" not in options_from(["--model", "m"]).payload.body_fields()
